//! A signed HTTP request as the Verifier needs it, built from the `http`
//! types a resource service already holds.
//!
//! What SigV4 covers must reach the Verifier unchanged: the method received,
//! the path and query exactly as they arrived (still percent-encoded; `Uri`
//! keeps them so), every header with duplicates, and the body or its hash.
//! For HTTP/2 there is no `host` header: the `:authority` pseudo-header is
//! what clients sign, and `Uri::authority` carries it, so it is added as
//! `host`.
//!
//! Bodies up to [`INLINE_BODY_LIMIT`] travel inline (the Verifier hashes
//! them); larger ones are hashed here and only the SHA-256 is sent.

use std::net::IpAddr;

use aws_lc_rs::digest;
use meridian_proto::pb;

/// The largest body sent inline (the Verifier's limit is 64 KiB).
pub const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// A signed request ready to send.
#[derive(Clone, PartialEq)]
pub struct SignedRequest {
    pub(crate) message: pb::SignedHttpRequest,
    pub(crate) source_ip: Option<IpAddr>,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values carry the Authorization header and the session
        // token: names only.
        let names: Vec<&str> = self
            .message
            .headers
            .iter()
            .map(|header| header.name.as_str())
            .collect();
        f.debug_struct("SignedRequest")
            .field("method", &self.message.method)
            .field("path", &self.message.path)
            .field("headers", &names)
            .field("source_ip", &self.source_ip)
            .finish_non_exhaustive()
    }
}

impl SignedRequest {
    /// The request described by `parts` with `body`.
    pub fn from_http(parts: &http::request::Parts, body: &[u8]) -> SignedRequest {
        let mut headers: Vec<pb::HttpHeader> = parts
            .headers
            .iter()
            .map(|(name, value)| pb::HttpHeader {
                name: name.as_str().to_owned(),
                value: value.as_bytes().to_vec(),
            })
            .collect();
        if !parts.headers.contains_key(http::header::HOST)
            && let Some(authority) = parts.uri.authority()
        {
            headers.push(pb::HttpHeader {
                name: String::from("host"),
                value: authority.as_str().as_bytes().to_vec(),
            });
        }
        let payload = if body.len() <= INLINE_BODY_LIMIT {
            pb::signed_http_request::Payload::Body(body.to_vec())
        } else {
            pb::signed_http_request::Payload::BodySha256(sha256_hex(body))
        };
        SignedRequest {
            message: pb::SignedHttpRequest {
                method: parts.method.as_str().to_owned(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or("").to_owned(),
                headers,
                payload: Some(payload),
            },
            source_ip: None,
        }
    }

    /// The request with only the body's hash (lower-case hex SHA-256) — for
    /// services that stream bodies and hash them on the way.
    pub fn from_http_with_body_sha256(
        parts: &http::request::Parts,
        sha256_hex: &str,
    ) -> SignedRequest {
        let mut request = SignedRequest::from_http(parts, &[]);
        request.message.payload = Some(pb::signed_http_request::Payload::BodySha256(
            sha256_hex.to_ascii_lowercase(),
        ));
        request
    }

    /// The client's address (`aws:SourceIp` in policies).
    pub fn with_source_ip(mut self, ip: IpAddr) -> SignedRequest {
        self.source_ip = Some(ip);
        self
    }

    /// As the protobuf message, for `service` in `region`.
    pub fn to_message(&self, service: &str, region: &str) -> pb::AuthenticateRequest {
        pb::AuthenticateRequest {
            request: Some(self.message.clone()),
            service: service.to_owned(),
            region: region.to_owned(),
            source_ip: self.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        }
    }

    /// The `AuthenticateAndAuthorize` message for `action` on `resource`
    /// (unary and stream forms alike).
    pub(crate) fn to_decision_message(
        &self,
        service: &str,
        region: &str,
        action: &str,
        resource: &str,
        context: &[pb::ContextEntry],
    ) -> pb::AuthenticateAndAuthorizeRequest {
        pb::AuthenticateAndAuthorizeRequest {
            authenticate: Some(self.to_message(service, region)),
            action: action.to_owned(),
            resource: resource.to_owned(),
            context: context.to_vec(),
        }
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = digest::digest(&digest::SHA256, bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.as_ref() {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(request: http::Request<()>) -> http::request::Parts {
        request.into_parts().0
    }

    #[test]
    fn keeps_the_raw_path_query_and_duplicate_headers() {
        let request = http::Request::get("http://widgets.example:8080/a%20b/%3D?x=1&y=%2F")
            .header("host", "widgets.example:8080")
            .header("x-amz-meta", "one")
            .header("x-amz-meta", "two")
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let signed = SignedRequest::from_http(&parts(request), b"");
        assert_eq!(signed.message.path, "/a%20b/%3D");
        assert_eq!(signed.message.query, "x=1&y=%2F");
        let meta: Vec<&[u8]> = signed
            .message
            .headers
            .iter()
            .filter(|h| h.name == "x-amz-meta")
            .map(|h| h.value.as_slice())
            .collect();
        assert_eq!(meta, vec![b"one".as_slice(), b"two".as_slice()]);
        assert_eq!(
            signed
                .message
                .headers
                .iter()
                .filter(|h| h.name == "host")
                .count(),
            1
        );
    }

    #[test]
    fn http2_authority_becomes_host() {
        let request = http::Request::get("https://widgets.example/w/1")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let signed = SignedRequest::from_http(&parts(request), b"");
        let host = signed.message.headers.iter().find(|h| h.name == "host");
        assert_eq!(
            host.map(|h| h.value.as_slice()),
            Some(b"widgets.example".as_slice())
        );
    }

    #[test]
    fn large_bodies_travel_as_their_hash() {
        let request = http::Request::post("http://w/")
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let parts = parts(request);
        let small = SignedRequest::from_http(&parts, b"abc");
        assert_eq!(
            small.message.payload,
            Some(pb::signed_http_request::Payload::Body(b"abc".to_vec()))
        );
        let big = vec![7u8; INLINE_BODY_LIMIT + 1];
        let large = SignedRequest::from_http(&parts, &big);
        assert_eq!(
            large.message.payload,
            Some(pb::signed_http_request::Payload::BodySha256(sha256_hex(
                &big
            )))
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn debug_shows_no_header_values() {
        let request = http::Request::get("http://w/")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=secretstuff")
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let text = format!("{:?}", SignedRequest::from_http(&parts(request), b""));
        assert!(!text.contains("secretstuff"), "{text}");
    }
}
