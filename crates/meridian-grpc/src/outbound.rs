//! Calls to other nodes made while serving a request, counted where they
//! leave the node: `meridian_request_outbound_calls_total{path}`.
//!
//! A request served by a node can reach another node in exactly two places,
//! both here in meridian-grpc: [`crate::node::Node::write`] forwarding a
//! configuration write to the leader (`ForwardWrite`, one count per attempt
//! that dials the leader), and the Admin service forwarding a membership
//! call to the leader. Raft's own RPCs (votes, appends, snapshots) and the
//! key rotation's `Applied` poll are not made for a request and are not
//! counted; a write proposed on the leader itself is not a call either.
//! The `Verifier` service holds only the applied snapshot (no node handle,
//! no channel), so it cannot make one.
//!
//! The `path` label is the class of the request that caused the call:
//! `issue` (STS issuance), `verify` (authentication only: GetCallerIdentity
//! and the like, the Verifier), `config` (IAM and Admin writes, and work
//! done outside any request such as the bootstrap's steps). The caller sets
//! it with [`in_path`] around the future that may write (the server does so
//! around the edge's writes with the edge's class of the operation);
//! without it a write counts as `config`.

use std::future::Future;

/// The counter's name.
pub const OUTBOUND_CALLS_TOTAL: &str = "meridian_request_outbound_calls_total";

/// The class of request a call to another node was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPath {
    /// Issuing temporary credentials.
    Issue,
    /// Authenticating a caller (and authorizing it) without issuing.
    Verify,
    /// Configuration reads and writes (IAM, Admin) and work outside requests.
    Config,
}

impl RequestPath {
    /// Every class (each is registered at zero so it shows from the start).
    pub const ALL: [RequestPath; 3] =
        [RequestPath::Issue, RequestPath::Verify, RequestPath::Config];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestPath::Issue => "issue",
            RequestPath::Verify => "verify",
            RequestPath::Config => "config",
        }
    }
}

tokio::task_local! {
    static CURRENT: RequestPath;
}

/// Runs `future` as work for a request of class `path`: calls to other
/// nodes it makes (on this task) are counted under `path`.
pub async fn in_path<F: Future>(path: RequestPath, future: F) -> F::Output {
    CURRENT.scope(path, future).await
}

/// The class of the request the current task serves (`Config` outside any).
pub fn current() -> RequestPath {
    CURRENT
        .try_with(|path| *path)
        .unwrap_or(RequestPath::Config)
}

/// Describes the counter and registers every class at zero.
pub fn describe() {
    metrics::describe_counter!(
        OUTBOUND_CALLS_TOTAL,
        "Calls to other nodes made while serving a request, by request class \
         (issue, verify, config); Raft's own RPCs are not counted"
    );
    for path in RequestPath::ALL {
        metrics::counter!(OUTBOUND_CALLS_TOTAL, "path" => path.as_str()).absolute(0);
    }
}

/// Counts one call to another node for the current request class.
pub(crate) fn record_call() {
    record(current());
}

/// Counts one call to another node for `path`.
pub(crate) fn record(path: RequestPath) {
    metrics::counter!(OUTBOUND_CALLS_TOTAL, "path" => path.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_class_is_the_scope_s_and_config_outside_any() {
        assert_eq!(current(), RequestPath::Config);
        assert_eq!(
            in_path(RequestPath::Issue, async { current() }).await,
            RequestPath::Issue
        );
        let nested = in_path(RequestPath::Verify, async {
            let inner = in_path(RequestPath::Issue, async { current() }).await;
            (inner, current())
        })
        .await;
        assert_eq!(nested, (RequestPath::Issue, RequestPath::Verify));
        // A spawned task does not inherit the scope.
        let spawned = in_path(RequestPath::Verify, async {
            tokio::spawn(async { current() }).await.ok()
        })
        .await;
        assert_eq!(spawned, Some(RequestPath::Config));
    }

    #[test]
    fn labels_are_the_documented_ones() {
        let labels: Vec<_> = RequestPath::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(labels, ["issue", "verify", "config"]);
    }
}
