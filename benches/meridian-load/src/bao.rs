//! OpenBao: batch-token create and token lookup, the closest work OpenBao
//! does to Meridian's AssumeRole and GetCallerIdentity.
//!
//! A batch token, like a Meridian session token, is an encrypted blob that
//! carries its own claims and is not written to storage; creating one is
//! OpenBao's cheapest credential issuance, and looking one up (decrypt,
//! check, render) its cheapest verification.
//!
//! Setup, with the root token (read from a file, never from the command
//! line): an ACL policy `meridian-load` that allows exactly these two
//! endpoints, and a service token holding it — the client, like Meridian's
//! callers, is an ordinary principal whose policy is checked on every
//! request, not the root token (which skips policy evaluation). For the
//! lookup workload it then creates N batch tokens to look up in rotation.
//!
//! Requests go to the addresses given in rotation; the comparison passes
//! the active node only (a standby forwards every request to the active
//! node, which would add a hop Meridian does not have).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use zeroize::Zeroizing;

use crate::engine::{Outcome, Target};
use crate::http::{self as client, HttpClient, HttpTarget, HttpWorkload};

/// The policy the load client holds.
pub const POLICY_NAME: &str = "meridian-load";

const POLICY: &str = r#"path "auth/token/create" { capabilities = ["create", "update"] }
path "auth/token/lookup" { capabilities = ["create", "update"] }
"#;

/// Body of a batch-token create.
pub const BATCH_CREATE_BODY: &str = r#"{"type":"batch","policies":["default"],"ttl":"1h"}"#;

/// The OpenBao workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaoWorkload {
    /// `POST /v1/auth/token/create` with `type=batch`.
    BatchTokenCreate,
    /// `POST /v1/auth/token/lookup` of a batch token.
    TokenLookup,
}

/// A run's target: addresses, the client token and the tokens to look up.
pub struct BaoTarget {
    workload: BaoWorkload,
    addresses: Vec<(String, String)>,
    client_token: Zeroizing<String>,
    lookup_bodies: Vec<Bytes>,
}

impl std::fmt::Debug for BaoTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaoTarget")
            .field("workload", &self.workload)
            .field("addresses", &self.addresses)
            .field("lookup_tokens", &self.lookup_bodies.len())
            .finish_non_exhaustive()
    }
}

/// `(base URL, Host header)` of `http://host:port`.
fn address(url: &str) -> anyhow::Result<(String, String)> {
    let base = url.trim_end_matches('/').to_owned();
    let uri: http::Uri = base.parse()?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "only http:// is supported: {url}"
    );
    let host = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("no host in {url}"))?
        .to_string();
    Ok((base, host))
}

fn bao_request(
    base: &str,
    host: &str,
    path: &str,
    token: &str,
    body: Bytes,
) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::post(format!("{base}{path}"))
        .header(http::header::HOST, host)
        .header("X-Vault-Token", token)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))?)
}

impl HttpWorkload for BaoTarget {
    fn request(&self, seq: u64) -> anyhow::Result<Request<Full<Bytes>>> {
        let (base, host) = &self.addresses[(seq % self.addresses.len() as u64) as usize];
        match self.workload {
            BaoWorkload::BatchTokenCreate => bao_request(
                base,
                host,
                "/v1/auth/token/create",
                &self.client_token,
                Bytes::from_static(BATCH_CREATE_BODY.as_bytes()),
            ),
            BaoWorkload::TokenLookup => {
                let body =
                    self.lookup_bodies[(seq % self.lookup_bodies.len() as u64) as usize].clone();
                bao_request(
                    base,
                    host,
                    "/v1/auth/token/lookup",
                    &self.client_token,
                    body,
                )
            }
        }
    }

    fn classify(&self, _seq: u64, status: StatusCode, body: &[u8]) -> Outcome {
        classify(self.workload, status, body)
    }
}

/// Classifies an OpenBao answer: 200 with the expected JSON member.
pub fn classify(workload: BaoWorkload, status: StatusCode, body: &[u8]) -> Outcome {
    if status != StatusCode::OK {
        return Outcome::error(format!("http-{}", status.as_u16()));
    }
    let marker: &[u8] = match workload {
        BaoWorkload::BatchTokenCreate => b"\"client_token\"",
        BaoWorkload::TokenLookup => b"\"expire_time\"",
    };
    if crate::aws::find(body, marker).is_some() {
        Outcome::Ok
    } else {
        Outcome::error("unexpected-answer")
    }
}

/// Sends one setup call (retrying 5xx and connection failures, 5 attempts)
/// and parses the JSON answer of a 2xx.
async fn setup_call(
    http: &HttpClient,
    base: &str,
    host: &str,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let mut last = String::new();
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200) * attempt).await;
        }
        let request = bao_request(base, host, path, token, Bytes::from(body.to_string()))?;
        match client::send(http, request).await {
            Ok((status, answer)) if status.is_success() => {
                if answer.is_empty() {
                    return Ok(serde_json::Value::Null);
                }
                return Ok(serde_json::from_slice(&answer)?);
            }
            Ok((status, answer)) if status.is_server_error() => {
                last = format!("{status}: {}", String::from_utf8_lossy(&answer));
            }
            Ok((status, answer)) => {
                anyhow::bail!(
                    "OpenBao {path} answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                )
            }
            Err(error) => last = error.code().to_owned(),
        }
    }
    anyhow::bail!("OpenBao {path} failed: {last}")
}

fn client_token_of(answer: &serde_json::Value) -> anyhow::Result<Zeroizing<String>> {
    answer
        .pointer("/auth/client_token")
        .and_then(|t| t.as_str())
        .map(|t| Zeroizing::new(t.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("OpenBao answer has no auth.client_token"))
}

/// Creates the policy, the client token and (for lookups) `tokens` batch
/// tokens; returns the target.
pub async fn prepare(
    http: &HttpClient,
    urls: &[String],
    root_token: &str,
    workload: BaoWorkload,
    tokens: usize,
) -> anyhow::Result<Arc<dyn Target>> {
    let addresses = urls
        .iter()
        .map(|url| address(url))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (base, host) = addresses
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no OpenBao address"))?;
    setup_call(
        http,
        &base,
        &host,
        &format!("/v1/sys/policies/acl/{POLICY_NAME}"),
        root_token,
        serde_json::json!({ "policy": POLICY }),
    )
    .await?;
    let answer = setup_call(
        http,
        &base,
        &host,
        "/v1/auth/token/create",
        root_token,
        serde_json::json!({ "policies": [POLICY_NAME], "ttl": "4h", "type": "service" }),
    )
    .await?;
    let client_token = client_token_of(&answer)?;

    let mut lookup_bodies = Vec::new();
    if workload == BaoWorkload::TokenLookup {
        for _ in 0..tokens.max(1) {
            let answer = setup_call(
                http,
                &base,
                &host,
                "/v1/auth/token/create",
                &client_token,
                serde_json::from_str(BATCH_CREATE_BODY)?,
            )
            .await?;
            let token = client_token_of(&answer)?;
            lookup_bodies.push(Bytes::from(
                serde_json::json!({ "token": token.as_str() }).to_string(),
            ));
        }
    }
    Ok(Arc::new(HttpTarget::new(
        http.clone(),
        BaoTarget {
            workload,
            addresses,
            client_token,
            lookup_bodies,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let created = br#"{"auth":{"client_token":"hvb.AAAA","policies":["default"]}}"#;
        let looked_up = br#"{"data":{"expire_time":"2026-11-26T12:00:00Z","type":"batch"}}"#;
        let cases: [(BaoWorkload, u16, &[u8], Outcome); 5] = [
            (BaoWorkload::BatchTokenCreate, 200, created, Outcome::Ok),
            (BaoWorkload::TokenLookup, 200, looked_up, Outcome::Ok),
            (
                BaoWorkload::TokenLookup,
                200,
                created,
                Outcome::error("unexpected-answer"),
            ),
            (
                BaoWorkload::BatchTokenCreate,
                403,
                b"{\"errors\":[\"permission denied\"]}",
                Outcome::error("http-403"),
            ),
            (
                BaoWorkload::TokenLookup,
                503,
                b"",
                Outcome::error("http-503"),
            ),
        ];
        for (workload, status, body, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(classify(workload, status, body), expected);
        }
    }

    #[test]
    fn requests_carry_the_client_token_and_rotate_lookups() {
        let target = BaoTarget {
            workload: BaoWorkload::TokenLookup,
            addresses: vec![address("http://127.0.0.1:8200/").unwrap_or_else(|e| panic!("{e}"))],
            client_token: Zeroizing::new("hvs.client".into()),
            lookup_bodies: vec![
                Bytes::from_static(b"{\"token\":\"a\"}"),
                Bytes::from_static(b"{\"token\":\"b\"}"),
            ],
        };
        let request = target.request(1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:8200/v1/auth/token/lookup"
        );
        assert_eq!(
            request.headers().get("x-vault-token").map(|v| v.as_bytes()),
            Some(&b"hvs.client"[..])
        );
        assert_eq!(
            request.headers().get("host").map(|v| v.as_bytes()),
            Some(&b"127.0.0.1:8200"[..])
        );
        assert!(!format!("{target:?}").contains("hvs.client"));
        assert!(address("https://127.0.0.1:8200").is_err());
    }
}
