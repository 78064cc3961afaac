//! `meridian health`: a container healthcheck without `wget` or `curl`.
//!
//! GETs a node's `/readyz` (default) or `/healthz` and exits 0 when it
//! answers 2xx, 1 otherwise (not ready yet, refused, timed out), printing
//! one line to stderr either way — what Docker `HEALTHCHECK`, compose
//! `healthcheck` and Kubernetes `exec` probes expect. The request goes
//! through the same bounded HTTP client as `meridian credentials`
//! (`meridian_federation::http`): a connect and read timeout, a small body
//! cap, plain HTTP only to loopback (a healthcheck runs beside its node; the
//! edge listens on `0.0.0.0:7101` in the container images, so
//! `http://127.0.0.1:7101/readyz` reaches it).

use std::time::Duration;

use anyhow::{Context, anyhow};
use meridian_core::oidc::issuer::FetchUrl;
use meridian_federation::http::{AddressPolicy, FetchError, HttpClient};

/// The default URL: the node's readiness on the images' HTTP port.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7101/readyz";

/// Checks `url` within `timeout`; `Ok` with a one-line report when it
/// answered 2xx.
pub async fn check(url: &str, timeout: Duration) -> anyhow::Result<String> {
    let parsed = FetchUrl::parse(url).map_err(|_| anyhow!("{url:?} is not an http(s) URL"))?;
    let client = HttpClient::new(
        AddressPolicy {
            allow_loopback: true,
            allow_private: true,
        },
        timeout,
        64 * 1024,
        &[],
    )
    .context("failed to set up the HTTP client")?;
    match tokio::time::timeout(timeout, client.get(&parsed)).await {
        Err(_) => Err(anyhow!(
            "{url}: no answer within {} ms",
            timeout.as_millis()
        )),
        Ok(Ok(_)) => Ok(format!("{url}: ok")),
        Ok(Err(FetchError::Unreachable(reason) | FetchError::Unusable(reason))) => {
            Err(anyhow!("{url}: {reason}"))
        }
        Ok(Err(FetchError::Refused(reason))) => Err(anyhow!("{url}: refused: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-shot HTTP server on loopback answering `status`.
    async fn answer(status: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            if let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                let body = "ready\n";
                let _ = stream
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        format!("http://{addr}/readyz")
    }

    #[tokio::test]
    async fn ready_is_ok_and_anything_else_fails() {
        let timeout = Duration::from_secs(5);
        let ok = check(&answer("200 OK").await, timeout).await;
        assert!(ok.is_ok(), "{ok:?}");
        for status in ["503 Service Unavailable", "404 Not Found"] {
            let url = answer(status).await;
            let failed = check(&url, timeout).await;
            assert!(failed.is_err(), "{status}: {failed:?}");
        }
        // Nothing listening: refused quickly, not hung.
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        };
        let refused = check(&format!("http://{closed}/readyz"), timeout).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(check("not a url", timeout).await.is_err());
    }
}
