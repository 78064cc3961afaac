//! A deliberately small HTTP/1.1 GET client for issuer documents: one
//! connection per request, every step bounded, every destination checked.
//!
//! * **Where it may connect**: the URL's host is resolved here and every
//!   address is checked *before* connecting, and the connection goes to the
//!   checked address (no second resolution a DNS rebinding could change).
//!   Loopback, private (RFC 1918, ULA, CGNAT), link-local, unspecified,
//!   multicast, broadcast and documentation addresses are refused unless the
//!   policy allows them ([`AddressPolicy`]): loopback only for development
//!   clusters, private networks only when an operator opts in.
//! * **TLS**: rustls with the aws-lc provider, certificate chain verified
//!   against the Mozilla roots (`webpki-roots`) plus the operator's extra
//!   CAs, the URL's host as server name. Plain HTTP only to a loopback
//!   address of a loopback host, and only when allowed.
//! * **Bounds**: connect timeout per address, one overall deadline for the
//!   whole exchange (the caller's), response body capped (the `Content-Length`
//!   is checked first, the stream is cut at the cap either way), redirects
//!   followed only within the same origin, at most [`MAX_REDIRECTS`].
//! * **Counting**: every TCP connection attempt increments a counter, so
//!   tests can assert that nothing was sent for a refused URL.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use meridian_core::oidc::issuer::{FetchUrl, Scheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Same-origin redirects followed at most.
pub const MAX_REDIRECTS: usize = 3;

/// Which destination addresses are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback addresses (and plain HTTP to loopback hosts): development.
    pub allow_loopback: bool,
    /// RFC 1918 / ULA / CGNAT / link-local addresses: an IdP inside the
    /// operator's network.
    pub allow_private: bool,
}

/// Why a GET failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not sent at all: the URL or its addresses are not allowed.
    #[error("refused: {0}")]
    Refused(String),
    /// Sent (or tried), but no usable answer: network failure, timeout,
    /// TLS failure, 5xx/429. Retryable.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// An answer that is final and unusable: 4xx, too large, a redirect to
    /// another origin.
    #[error("unusable answer: {0}")]
    Unusable(String),
}

/// The client: TLS settings, address policy, limits, counters.
#[derive(Clone)]
pub struct HttpClient {
    tls: TlsConnector,
    policy: AddressPolicy,
    connect_timeout: Duration,
    max_body: usize,
    connections: Arc<AtomicU64>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// Whether `ip` is acceptable under `policy`.
pub fn address_allowed(ip: IpAddr, policy: AddressPolicy) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return policy.allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let never = v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240;
            let private = v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0);
            !never && (!private || policy.allow_private)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let never = v6.is_unspecified()
                || v6.is_multicast()
                || first == 0x2001 && v6.segments()[1] == 0x0db8;
            let private = (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80;
            !never && (!private || policy.allow_private)
        }
    }
}

impl HttpClient {
    /// A client trusting the Mozilla roots plus `extra_roots` (DER).
    pub fn new(
        policy: AddressPolicy,
        connect_timeout: Duration,
        max_body: usize,
        extra_roots: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Result<HttpClient, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots.add(cert.clone())?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(HttpClient {
            tls: TlsConnector::from(Arc::new(config)),
            policy,
            connect_timeout,
            max_body,
            connections: Arc::new(AtomicU64::new(0)),
        })
    }

    /// TCP connections attempted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// GETs `url`, following same-origin redirects; the body on 2xx.
    pub async fn get(&self, url: &FetchUrl) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            match self.get_once(&current).await? {
                Answer::Body(body) => return Ok(body),
                Answer::Redirect(location) => {
                    let next = resolve_location(&current, &location)?;
                    if !next.same_origin(&current) {
                        return Err(FetchError::Unusable(format!(
                            "redirect from {} to another origin refused",
                            current.authority()
                        )));
                    }
                    current = next;
                }
            }
        }
        Err(FetchError::Unusable(String::from("too many redirects")))
    }

    /// The addresses `url` may be fetched from, checked.
    async fn addresses(&self, url: &FetchUrl) -> Result<Vec<SocketAddr>, FetchError> {
        if url.scheme == Scheme::Http && !(self.policy.allow_loopback && url.is_loopback_host()) {
            return Err(FetchError::Refused(format!(
                "plain HTTP to {} is not allowed",
                url.authority()
            )));
        }
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        let resolved: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, url.port)],
            Err(_) => tokio::time::timeout(
                self.connect_timeout,
                tokio::net::lookup_host((host, url.port)),
            )
            .await
            .map_err(|_| FetchError::Unreachable(format!("resolving {host} timed out")))?
            .map_err(|e| FetchError::Unreachable(format!("resolving {host}: {e}")))?
            .collect(),
        };
        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|addr| address_allowed(addr.ip(), self.policy))
            .collect();
        if allowed.is_empty() {
            return Err(FetchError::Refused(format!(
                "{host} resolves to no allowed address ({} refused)",
                resolved.len()
            )));
        }
        // Plain HTTP only ever to loopback addresses.
        if url.scheme == Scheme::Http && !allowed.iter().all(|a| a.ip().is_loopback()) {
            return Err(FetchError::Refused(format!(
                "plain HTTP to {host} resolves beyond loopback"
            )));
        }
        Ok(allowed)
    }

    async fn connect(&self, addresses: &[SocketAddr]) -> Result<TcpStream, FetchError> {
        let mut last = String::from("no address");
        for addr in addresses {
            self.connections.fetch_add(1, Ordering::SeqCst);
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => last = format!("{addr}: connect timed out"),
            }
        }
        Err(FetchError::Unreachable(last))
    }

    /// POSTs `body` to `url` with `headers` (no redirects followed) and
    /// returns the status and the body, whatever the status (the `meridian
    /// credentials` STS client: the caller reads AWS's error document).
    pub async fn post(
        &self,
        url: &FetchUrl,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<(u16, Bytes), FetchError> {
        let addresses = self.addresses(url).await?;
        let tcp = self.connect(&addresses).await?;
        let mut request = Request::post(url.path.as_str()).header(header::HOST, url.authority());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(http_body_util::Full::new(body))
            .map_err(|e| FetchError::Refused(e.to_string()))?;
        let response = match url.scheme {
            Scheme::Https => {
                let host = url.host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| FetchError::Refused(format!("server name {host}: {e}")))?;
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| FetchError::Unreachable(format!("TLS with {host}: {e}")))?;
                exchange(TokioIo::new(tls), request).await?
            }
            Scheme::Http => exchange(TokioIo::new(tcp), request).await?,
        };
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| FetchError::Unreachable(format!("reading the body: {e}")))?
            .to_bytes();
        Ok((status, body))
    }

    async fn get_once(&self, url: &FetchUrl) -> Result<Answer, FetchError> {
        let addresses = self.addresses(url).await?;
        let tcp = self.connect(&addresses).await?;
        let request = Request::get(url.path.as_str())
            .header(header::HOST, url.authority())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "meridian-sts/oidc")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Refused(e.to_string()))?;
        let response = match url.scheme {
            Scheme::Https => {
                let host = url.host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| FetchError::Refused(format!("server name {host}: {e}")))?;
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| FetchError::Unreachable(format!("TLS with {host}: {e}")))?;
                exchange(TokioIo::new(tls), request).await?
            }
            Scheme::Http => exchange(TokioIo::new(tcp), request).await?,
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FetchError::Unusable(String::from("redirect without Location")))?
                .to_owned();
            return Ok(Answer::Redirect(location));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(FetchError::Unreachable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(FetchError::Unusable(format!("HTTP {status}")));
        }
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body as u64) {
            return Err(FetchError::Unusable(format!(
                "body of {} bytes exceeds {}",
                declared.unwrap_or_default(),
                self.max_body
            )));
        }
        let cache_control = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::Unusable(format!("body exceeds {} bytes", self.max_body))
                } else {
                    FetchError::Unreachable(format!("reading the body: {e}"))
                }
            })?
            .to_bytes();
        Ok(Answer::Body(Fetched {
            body,
            cache_control,
        }))
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body (at most the client's cap).
    pub body: Bytes,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
}

enum Answer {
    Body(Fetched),
    Redirect(String),
}

async fn exchange<T, B>(
    io: TokioIo<T>,
    request: Request<B>,
) -> Result<http::Response<hyper::body::Incoming>, FetchError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| FetchError::Unreachable(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "issuer connection ended with an error");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| FetchError::Unreachable(format!("request: {e}")))
}

/// The absolute URL a `Location` names (absolute, or a path on the same
/// origin).
fn resolve_location(base: &FetchUrl, location: &str) -> Result<FetchUrl, FetchError> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok(FetchUrl {
            path: location.to_owned(),
            ..base.clone()
        });
    }
    FetchUrl::parse(location)
        .map_err(|_| FetchError::Unusable(String::from("redirect to an unusable location")))
}

/// Reads every certificate of a PEM file (an operator's extra trust anchors).
pub fn load_pem_certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certificates = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certificates)
}
