//! Issuer URLs: which URLs may name an OIDC provider, the provider's ARN
//! resource, where its discovery document is, and what of that document is
//! trusted.
//!
//! A provider URL is `https://host[/path]` without port, query or fragment
//! (AWS's rule, checked by `config::limits::check_oidc_url`), or — for
//! development clusters only — `http://127.0.0.1[:port][/path]` or
//! `http://localhost[:port][/path]`. The replicated state accepts both forms
//! (apply must not depend on a node's configuration); whether a node
//! *registers or fetches* a loopback HTTP issuer is decided by that node's
//! configuration (`[federation] allow_loopback_http_issuers`), so a
//! production node never talks plain HTTP.
//!
//! The discovery document (`{issuer}/.well-known/openid-configuration`) is
//! trusted for one member only, `jwks_uri`, and only when its `issuer` equals
//! the registered URL (OpenID Connect Discovery §4.3). The JWKS URL must use
//! the issuer's scheme; it may be on another host (Google's is), which the
//! fetcher treats like the issuer's: resolved, refused if it is a private
//! or loopback address (unless the loopback exception applies), fetched
//! without following redirects to other hosts.

use serde::Deserialize;

use crate::oidc::OidcError;

/// The longest discovery document accepted, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// The path of the discovery document under the issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The scheme of an issuer or key URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// TLS, certificate chain verified.
    Https,
    /// Plain HTTP: loopback development issuers only.
    Http,
}

/// A URL the fetcher may request: scheme, host, port and path (with query).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FetchUrl {
    /// The scheme.
    pub scheme: Scheme,
    /// The host name or IP literal (lower-cased).
    pub host: String,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl FetchUrl {
    /// Parses an absolute `http`/`https` URL without user info or fragment.
    pub fn parse(url: &str) -> Result<FetchUrl, OidcError> {
        let bad = || OidcError::InvalidDiscovery("the URL is not an absolute http(s) URL");
        if url.len() > 2048 || !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(bad());
        }
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || path.contains('#') || authority.is_empty() {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| bad())?;
                (host, port)
            }
            _ => (
                authority,
                match scheme {
                    Scheme::Https => 443,
                    Scheme::Http => 80,
                },
            ),
        };
        let host_ok = !host.is_empty()
            && (host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                || (host.starts_with('[') && host.ends_with(']')));
        if !host_ok || port == 0 {
            return Err(bad());
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(FetchUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// Whether the host is a loopback name or literal (`localhost`,
    /// `127.0.0.0/8`, `[::1]`).
    pub fn is_loopback_host(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// `host[:port]` as the `Host` header writes it (the port only when not
    /// the scheme's default).
    pub fn authority(&self) -> String {
        let default = match self.scheme {
            Scheme::Https => 443,
            Scheme::Http => 80,
        };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether `other` is on the same scheme, host and port.
    pub fn same_origin(&self, other: &FetchUrl) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The ARN resource of a loopback development issuer
/// (`http://127.0.0.1:8080/realm` → `127.0.0.1:8080/realm`), or `None` when
/// `url` is not one. Hosts are `127.0.0.1` or `localhost` (an IPv6 literal
/// would put brackets into ARNs and condition keys).
pub fn loopback_http_resource(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = host == "127.0.0.1" || host == "localhost";
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0)
    });
    let rest_ok = url.len() <= 255
        && rest
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'?' && b != b'#' && b != b'@');
    (host_ok && port_ok && rest_ok).then(|| rest.trim_end_matches('/').to_owned())
}

/// Whether `url` is a loopback HTTP development issuer.
pub fn is_loopback_http_issuer(url: &str) -> bool {
    loopback_http_resource(url).is_some()
}

/// The discovery document URL of `issuer`.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'))
}

#[derive(Deserialize)]
struct RawDiscovery {
    issuer: String,
    jwks_uri: String,
}

/// Reads `jwks_uri` from a discovery document whose `issuer` must equal
/// `expected_issuer`; the JWKS URL must use the issuer's scheme.
pub fn jwks_uri_from_discovery(
    document: &[u8],
    expected_issuer: &str,
) -> Result<FetchUrl, OidcError> {
    if document.len() > MAX_DISCOVERY_BYTES {
        return Err(OidcError::InvalidDiscovery(
            "the discovery document is too large",
        ));
    }
    let raw: RawDiscovery = serde_json::from_slice(document).map_err(|_| {
        OidcError::InvalidDiscovery("the discovery document has no issuer and jwks_uri")
    })?;
    if raw.issuer != expected_issuer {
        return Err(OidcError::InvalidDiscovery(
            "the discovery document names another issuer",
        ));
    }
    let issuer = FetchUrl::parse(expected_issuer)?;
    let jwks = FetchUrl::parse(&raw.jwks_uri)?;
    if jwks.scheme != issuer.scheme {
        return Err(OidcError::InvalidDiscovery(
            "jwks_uri does not use the issuer's scheme",
        ));
    }
    Ok(jwks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resources() {
        for (url, resource) in [
            ("http://127.0.0.1:8080", Some("127.0.0.1:8080")),
            ("http://127.0.0.1:8080/realm/", Some("127.0.0.1:8080/realm")),
            ("http://localhost", Some("localhost")),
            ("http://127.0.0.2:80", None),
            ("http://example.com", None),
            ("https://127.0.0.1", None),
            ("http://127.0.0.1:0", None),
            ("http://127.0.0.1:99999", None),
            ("http://127.0.0.1:80?x", None),
            ("http://user@127.0.0.1", None),
        ] {
            assert_eq!(loopback_http_resource(url).as_deref(), resource, "{url}");
        }
    }

    #[test]
    fn fetch_urls_parse() {
        let url = FetchUrl::parse("https://Issuer.Example.com/a/b?c=d").unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(url.host, "issuer.example.com");
        assert_eq!((url.port, url.path.as_str()), (443, "/a/b?c=d"));
        assert_eq!(url.authority(), "issuer.example.com");
        let url = FetchUrl::parse("http://127.0.0.1:9000").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((url.port, url.path.as_str()), (9000, "/"));
        assert!(url.is_loopback_host());
        assert_eq!(url.authority(), "127.0.0.1:9000");
        for bad in [
            "ftp://x",
            "https://",
            "https://u:p@host/",
            "https://host/#frag",
            "https://host:0/",
            "https://host:abc/",
            "https://ho st/",
            "https://host_/",
        ] {
            assert!(FetchUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discovery_must_name_the_issuer() {
        let doc =
            br#"{"issuer":"https://idp.example.com","jwks_uri":"https://keys.example.com/jwks"}"#;
        let jwks = jwks_uri_from_discovery(doc, "https://idp.example.com")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jwks.host, "keys.example.com");
        assert!(jwks_uri_from_discovery(doc, "https://idp.example.com/").is_err());
        let downgrade =
            br#"{"issuer":"https://idp.example.com","jwks_uri":"http://keys.example.com/jwks"}"#;
        assert!(jwks_uri_from_discovery(downgrade, "https://idp.example.com").is_err());
        assert!(jwks_uri_from_discovery(b"[]", "https://idp.example.com").is_err());
    }
}
