//! What the edge measures, through the `metrics` facade only.
//!
//! The edge records; it never installs a recorder or renders anything (the
//! server installs the Prometheus recorder and hands the edge a renderer for
//! `/metrics`, see [`crate::state::EdgeObservability`]). Without a recorder
//! every call here is a no-op, which is what tests and benches get.
//!
//! Names follow Prometheus conventions (`meridian_<component>_…`, base units,
//! `_total` for counters) and every label has a bounded set of values: the
//! service, the modeled action name, an AWS error code of the
//! [`ErrorCode`] enum, the node's own region, a principal kind. Access key
//! ids, ARNs, account ids and session names never become labels (they would
//! make one series per caller); they belong in the audit trail.

use std::time::Duration;

use meridian_core::principal::{Principal, SessionOrigin};

use crate::model::{ErrorCode, OperationModel, Service};

/// Requests answered, by `service`, `action` and `outcome` (`ok`, an AWS error
/// code, or `redirect` for a request without `Action`).
pub const REQUESTS_TOTAL: &str = "meridian_edge_requests_total";
/// Time from the start of routing to the answer, by `service` and `action`.
pub const REQUEST_DURATION_SECONDS: &str = "meridian_edge_request_duration_seconds";
/// Temporary credentials issued, by `region` (the issuing node's) and
/// `principal_kind` (`assumed-role`, `web-identity`, `saml`, `user`, `root`,
/// `federated-user`).
pub const ISSUED_TOTAL: &str = "meridian_edge_credentials_issued_total";
/// Signed requests whose signature or credentials did not verify, by
/// `reason` (the AWS error code answered: `SignatureDoesNotMatch`,
/// `InvalidClientTokenId`, `ExpiredToken`, `IncompleteSignature`, …). The
/// gRPC `Verifier` records its failures under the same name.
pub const VERIFICATION_FAILURES_TOTAL: &str = "meridian_verification_failures_total";
/// Describes every edge metric (HELP text and unit). Called by the server
/// once its recorder is installed.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "Requests answered by the HTTP edge, by service, action and outcome (ok or AWS error code)"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time the HTTP edge took to answer a routed request, by service and action"
    );
    metrics::describe_counter!(
        ISSUED_TOTAL,
        "Temporary credentials issued, by issuing region and principal kind"
    );
    metrics::describe_counter!(
        VERIFICATION_FAILURES_TOTAL,
        "Requests whose SigV4 signature or credentials failed verification, by AWS error code"
    );
}

/// Which kind of request the edge is serving, as far as calls to other
/// nodes go: the edge has no network client, its one way to another node is
/// the configuration writer, and the server's writer counts a call it
/// forwards to the leader under the class [`current_path`] reports
/// (`meridian_request_outbound_calls_total{path}`, counted in meridian-grpc
/// where the call leaves the node). Issuance and verification must show 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundPath {
    /// An issuing STS call (`AssumeRole*`, `GetSessionToken`,
    /// `GetFederationToken`).
    Issue,
    /// A call that only verifies its caller (`GetCallerIdentity`, …).
    Verify,
    /// An IAM call (reads and configuration writes).
    Config,
}

impl OutboundPath {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboundPath::Issue => "issue",
            OutboundPath::Verify => "verify",
            OutboundPath::Config => "config",
        }
    }

    /// The path `operation` belongs to.
    pub fn of(operation: &OperationModel) -> OutboundPath {
        match operation.service {
            Service::Iam => OutboundPath::Config,
            Service::Sts if is_issuing(operation) => OutboundPath::Issue,
            Service::Sts => OutboundPath::Verify,
        }
    }
}

/// Whether `operation` issues credentials.
pub fn is_issuing(operation: &OperationModel) -> bool {
    operation.service == Service::Sts
        && matches!(
            operation.name,
            "AssumeRole"
                | "AssumeRoleWithSAML"
                | "AssumeRoleWithWebIdentity"
                | "GetSessionToken"
                | "GetFederationToken"
                | "AssumeRoot"
        )
}

/// Records one answered request. `operation` is `None` when the request was
/// refused before an action was resolved (label `unknown`).
pub fn record_request(
    operation: Option<&OperationModel>,
    outcome: &'static str,
    elapsed: Duration,
) {
    let (service, action) = match operation {
        Some(op) => (op.service.signing_name(), op.name),
        None => ("unknown", "unknown"),
    };
    metrics::counter!(
        REQUESTS_TOTAL,
        "service" => service,
        "action" => action,
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "service" => service, "action" => action)
        .record(elapsed.as_secs_f64());
}

/// Records a verification failure answered with `code`.
pub fn record_verification_failure(code: ErrorCode) {
    metrics::counter!(VERIFICATION_FAILURES_TOTAL, "reason" => code.as_str()).increment(1);
}

/// Records credentials issued in `region` for `principal`.
pub fn record_issued(region: &str, principal: &Principal) {
    metrics::counter!(
        ISSUED_TOTAL,
        "region" => region.to_owned(),
        "principal_kind" => principal_kind(principal)
    )
    .increment(1);
}

/// The principal-kind label of an issued session.
pub fn principal_kind(principal: &Principal) -> &'static str {
    match principal {
        Principal::AssumedRole(role) => match role.origin() {
            SessionOrigin::AssumeRole => "assumed-role",
            SessionOrigin::WebIdentity { .. } => "web-identity",
            SessionOrigin::Saml { .. } => "saml",
        },
        other => other.kind().as_str(),
    }
}

tokio::task_local! {
    /// The path of the request whose handler is running (set by the router
    /// around the handler's future).
    static CURRENT_PATH: OutboundPath;
}

/// Runs `future` (a handler) as part of a request of `path`, so that a call
/// to another node it makes is counted under that path.
pub async fn in_path<F: std::future::Future>(path: OutboundPath, future: F) -> F::Output {
    CURRENT_PATH.scope(path, future).await
}

/// The class of the request whose handler is running (`Config` outside any
/// request, the class that legitimately writes). Read by the server's
/// configuration writer when a handler submits a write.
pub fn current_path() -> OutboundPath {
    CURRENT_PATH
        .try_with(|path| *path)
        .unwrap_or(OutboundPath::Config)
}
