//! Meridian's gRPC `Verifier` (`meridian.v1.Verifier`, on every node's gRPC
//! port): `Authenticate` and `AuthenticateAndAuthorize` for a made-up
//! resource service, `widgets`, as a resource service would call them.
//!
//! Request `seq` goes to node `seq mod nodes`: the tool signs (SigV4, core's
//! signer, headers, signed session token) a `GET /widgets/w-<k>` for the
//! signing name `widgets` in that node's region with caller `seq mod N` — a
//! role session, so every call opens a session token — and sends it in an
//! `AuthenticateRequest` (`AuthenticateAndAuthorize` adds the action
//! `widgets:GetWidget` on `arn:aws:widgets:<region>:<account>:widget/w-<k>`).
//! Each request is signed when it is sent, as the client of a resource
//! service would have done just before.
//!
//! Setup: the Meridian fixture of `GetCallerIdentity` (users, a role, one
//! session per caller), plus an inline policy on the role allowing
//! `widgets:GetWidget` on `widget/*`, waited for on every node (each node
//! must answer `ALLOW` before the run starts).
//!
//! Success: `Authenticate` answers a session context; `AuthenticateAndAuthorize`
//! answers decision `ALLOW`. A `DENY` is counted as the error `Deny`; a
//! failed call under the Verifier's error code (the `VerifierError` in the
//! status details: `SignatureDoesNotMatch`, `Throttling`, …), or
//! `grpc-<code>` without one.

use std::time::Duration;

use anyhow::Context as _;
use meridian_core::sigv4::request::{Payload, Request as SigRequest};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};
use meridian_core::time::Timestamp;
use meridian_proto::pb;
use meridian_proto::pb::verifier_client::VerifierClient;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint as GrpcEndpoint};

use crate::aws::Credentials;
use crate::clock;
use crate::engine::{CallFuture, Outcome, Target};
use crate::http::HttpClient;
use crate::meridian::{self, AwsWorkload, ClusterFile, SetupOptions};

/// The resource service's signing name.
pub const SERVICE: &str = "widgets";
/// The action authorized.
pub const ACTION: &str = "widgets:GetWidget";
/// Distinct widgets requested (paths and resources cycle over them).
const WIDGETS: u64 = 1000;

/// The Verifier workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierWorkload {
    /// `Authenticate`.
    Authenticate,
    /// `AuthenticateAndAuthorize` (`widgets:GetWidget`).
    AuthenticateAndAuthorize,
}

/// The `Host` a resource service in `region` is reached at (signed; the
/// Verifier checks the signature over it, not its value).
pub fn widgets_host(region: &str) -> String {
    format!("widgets.{region}.meridian.test")
}

/// The widget request `seq` asks for.
fn widget(seq: u64) -> String {
    format!("w-{}", seq % WIDGETS)
}

/// The ARN of widget `seq` in `region` of `account`.
pub fn widget_arn(region: &str, account: &str, seq: u64) -> String {
    format!("arn:aws:widgets:{region}:{account}:widget/{}", widget(seq))
}

/// `GET /widgets/w-<k>` signed for `widgets` in `region` by `credentials` at
/// `now`, as the resource service received it.
pub fn signed_widget_request(
    region: &str,
    credentials: &Credentials,
    seq: u64,
    now: Timestamp,
) -> anyhow::Result<pb::SignedHttpRequest> {
    let host = widgets_host(region);
    let path = format!("/widgets/{}", widget(seq));
    let headers: [(&str, &[u8]); 1] = [("host", host.as_bytes())];
    let to_sign = SigRequest {
        method: "GET",
        path: &path,
        query: "",
        headers: &headers,
        payload: Payload::Body(b""),
    };
    let params = SigningParams {
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret_access_key.as_bytes(),
        session_token: credentials.session_token.as_ref().map(|t| t.as_str()),
        region,
        service: SERVICE,
        time: now,
        options: SigningOptions::standard(),
    };
    let signature = sign_headers(&to_sign, &params)?;
    let mut sent = vec![pb::HttpHeader {
        name: String::from("host"),
        value: host.into_bytes(),
    }];
    sent.extend(
        signature
            .headers()
            .into_iter()
            .map(|(name, value)| pb::HttpHeader {
                name: name.to_ascii_lowercase(),
                value: value.into_bytes(),
            }),
    );
    Ok(pb::SignedHttpRequest {
        method: String::from("GET"),
        path,
        query: String::new(),
        headers: sent,
        payload: Some(pb::signed_http_request::Payload::Body(Vec::new())),
    })
}

/// The `AuthenticateRequest` of request `seq`.
pub fn authenticate_request(
    region: &str,
    credentials: &Credentials,
    seq: u64,
    now: Timestamp,
) -> anyhow::Result<pb::AuthenticateRequest> {
    Ok(pb::AuthenticateRequest {
        request: Some(signed_widget_request(region, credentials, seq, now)?),
        service: String::from(SERVICE),
        region: region.to_owned(),
        source_ip: String::from("127.0.0.1"),
    })
}

/// The `AuthenticateAndAuthorizeRequest` of request `seq`.
pub fn authenticate_and_authorize_request(
    region: &str,
    account: &str,
    credentials: &Credentials,
    seq: u64,
    now: Timestamp,
) -> anyhow::Result<pb::AuthenticateAndAuthorizeRequest> {
    Ok(pb::AuthenticateAndAuthorizeRequest {
        authenticate: Some(authenticate_request(region, credentials, seq, now)?),
        action: String::from(ACTION),
        resource: widget_arn(region, account, seq),
        context: Vec::new(),
    })
}

/// The outcome of a failed call: the Verifier's error code from the status
/// details, or `grpc-<code>`.
pub fn classify_status(status: &tonic::Status) -> Outcome {
    match pb::VerifierError::decode(status.details()) {
        Ok(error) if !error.code.is_empty() => Outcome::error(error.code),
        _ => Outcome::error(format!("grpc-{:?}", status.code()).to_ascii_lowercase()),
    }
}

/// The outcome of an `Authenticate` answer.
pub fn classify_authenticate(answer: &pb::AuthenticateResponse) -> Outcome {
    match &answer.context {
        Some(context) if !context.arn.is_empty() => Outcome::Ok,
        _ => Outcome::error("unexpected-answer"),
    }
}

/// The outcome of an `AuthenticateAndAuthorize` answer.
pub fn classify_authorize(answer: &pb::AuthenticateAndAuthorizeResponse) -> Outcome {
    let authenticated = answer
        .authentication
        .as_ref()
        .is_some_and(|a| a.context.is_some());
    match &answer.authorization {
        Some(_) if !authenticated => Outcome::error("unexpected-answer"),
        Some(decision) if decision.decision == pb::Decision::Allow as i32 => Outcome::Ok,
        Some(decision) if decision.decision == pb::Decision::Deny as i32 => Outcome::error("Deny"),
        _ => Outcome::error("unexpected-answer"),
    }
}

/// One node's Verifier.
#[derive(Debug, Clone)]
pub struct VerifierNode {
    /// `http://127.0.0.1:7201`.
    pub url: String,
    /// The node's region (the scope requests are signed for).
    pub region: String,
    client: VerifierClient<Channel>,
}

/// A Verifier workload over the nodes.
#[derive(Debug)]
pub struct VerifierTarget {
    workload: VerifierWorkload,
    nodes: Vec<VerifierNode>,
    callers: Vec<Credentials>,
    account: String,
}

impl VerifierTarget {
    /// A target (at least one node and one caller).
    pub fn new(
        workload: VerifierWorkload,
        nodes: Vec<VerifierNode>,
        callers: Vec<Credentials>,
        account: String,
    ) -> anyhow::Result<VerifierTarget> {
        anyhow::ensure!(!nodes.is_empty(), "no node");
        anyhow::ensure!(!callers.is_empty(), "no caller");
        Ok(VerifierTarget {
            workload,
            nodes,
            callers,
            account,
        })
    }

    /// The nodes' gRPC URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }

    /// Callers.
    pub fn callers(&self) -> usize {
        self.callers.len()
    }
}

impl Target for VerifierTarget {
    fn call(&self, seq: u64) -> CallFuture {
        // Lengths are non-zero (checked in `new`).
        let node = &self.nodes[(seq % self.nodes.len() as u64) as usize];
        let caller = &self.callers[(seq % self.callers.len() as u64) as usize];
        let mut client = node.client.clone();
        let now = clock::now();
        match self.workload {
            VerifierWorkload::Authenticate => {
                let request = authenticate_request(&node.region, caller, seq, now);
                Box::pin(async move {
                    let Ok(request) = request else {
                        return Outcome::error("cannot-build-request");
                    };
                    match client.authenticate(request).await {
                        Ok(answer) => classify_authenticate(answer.get_ref()),
                        Err(status) => classify_status(&status),
                    }
                })
            }
            VerifierWorkload::AuthenticateAndAuthorize => {
                let request = authenticate_and_authorize_request(
                    &node.region,
                    &self.account,
                    caller,
                    seq,
                    now,
                );
                Box::pin(async move {
                    let Ok(request) = request else {
                        return Outcome::error("cannot-build-request");
                    };
                    match client.authenticate_and_authorize(request).await {
                        Ok(answer) => classify_authorize(answer.get_ref()),
                        Err(status) => classify_status(&status),
                    }
                })
            }
        }
    }
}

/// Sets up the fixture on the cluster and connects to every node's gRPC port.
pub async fn prepare(
    http: &HttpClient,
    cluster: &ClusterFile,
    workload: VerifierWorkload,
    options: &SetupOptions,
    request_timeout: Duration,
) -> anyhow::Result<VerifierTarget> {
    let fixture = meridian::prepare(http, cluster, AwsWorkload::GetCallerIdentity, options).await?;
    let first = fixture
        .endpoints
        .first()
        .cloned()
        .context("cluster.json lists no node")?;
    let account = cluster.admin.account_id.clone();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ACTION,
            "Resource": format!("arn:aws:widgets:*:{account}:widget/*")
        }]
    })
    .to_string();
    meridian::setup_call(
        http,
        &first,
        "iam",
        &cluster.admin_credentials(),
        &[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", &fixture.role_name),
            ("PolicyName", SERVICE),
            ("PolicyDocument", &policy),
        ],
    )
    .await
    .map_err(|code| anyhow::anyhow!("setup: PutRolePolicy failed: {code}"))?;

    let mut nodes = Vec::new();
    let mut listed = cluster.nodes();
    if let Some(limit) = options.nodes {
        listed.truncate(limit.max(1));
    }
    for node in listed {
        anyhow::ensure!(
            node.grpc.starts_with("http://127.0.0.1:"),
            "only loopback gRPC endpoints are driven: {}",
            node.grpc
        );
        let channel = GrpcEndpoint::from_shared(node.grpc.clone())?
            .connect_timeout(Duration::from_secs(5))
            .timeout(request_timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        nodes.push(VerifierNode {
            url: node.grpc.clone(),
            region: node.region.clone(),
            client: VerifierClient::new(channel),
        });
    }
    let target = VerifierTarget::new(workload, nodes, fixture.callers, account)?;
    // The role's policy must be applied on every node before the run.
    for (index, node) in target.nodes.iter().enumerate() {
        wait_allowed(&target, node, index as u64).await?;
    }
    Ok(target)
}

/// Waits (at most 30 s) until `node` answers `ALLOW` for the first caller.
async fn wait_allowed(
    target: &VerifierTarget,
    node: &VerifierNode,
    seq: u64,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let caller = &target.callers[0];
    loop {
        let request = authenticate_and_authorize_request(
            &node.region,
            &target.account,
            caller,
            seq,
            clock::now(),
        )?;
        let outcome = match node
            .client
            .clone()
            .authenticate_and_authorize(request)
            .await
        {
            Ok(answer) => classify_authorize(answer.get_ref()),
            Err(status) => classify_status(&status),
        };
        match outcome {
            Outcome::Ok => return Ok(()),
            Outcome::Error(code) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!(
                    "setup: the Verifier on {} does not allow {ACTION} after 30 s ({code})",
                    node.url
                )
            }
            Outcome::Error(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
#[path = "verifier_test.rs"]
mod tests;
