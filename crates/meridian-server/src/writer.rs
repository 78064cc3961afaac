//! The edge's [`ConfigWriter`] over the node handle: IAM writes go through
//! Raft (forwarded to the leader from any node) and are answered once applied
//! on this node, so the edge can promise read-your-writes.
//!
//! A write is spawned as its own task rather than awaited in the request's
//! future: if the client goes away or the edge's timeout fires, the request
//! future is dropped, but a proposal already on its way must run to its end
//! (STYLE.md 2.5: "spawn work that must finish, such as Raft proposals"), so
//! the node's view and its answer to a retry stay coherent.

use std::sync::Arc;

use meridian_core::config::command::ConfigRequest;
use meridian_edge::state::{BoxFuture, ConfigWriter, WriteError, WriteOutcome};
use meridian_edge::telemetry::OutboundPath;
use meridian_grpc::errors::WriteError as NodeWriteError;
use meridian_grpc::node::Node;
use meridian_grpc::outbound::{self, RequestPath};
use tokio_util::task::TaskTracker;

/// Writes through a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeWriter {
    node: Arc<Node>,
    tasks: TaskTracker,
}

impl NodeWriter {
    /// A writer over `node` whose write tasks run on `tasks` (the app's
    /// tracker, so shutdown waits for them).
    pub fn new(node: Arc<Node>, tasks: TaskTracker) -> NodeWriter {
        NodeWriter { node, tasks }
    }
}

impl ConfigWriter for NodeWriter {
    fn submit(&self, request: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>> {
        let node = Arc::clone(&self.node);
        let name = request.to_string();
        // The write runs in its own task but inside the request's trace:
        // forwarding to the leader carries it (W3C trace context).
        let span = tracing::info_span!("config_write", command = request.command.name());
        // The class of the edge request that writes, carried into the task:
        // a forward to the leader is counted under it (meridian-grpc
        // `outbound`).
        let path = request_path(meridian_edge::telemetry::current_path());
        let task = self.tasks.spawn(tracing::Instrument::instrument(
            outbound::in_path(path, async move { node.write(request).await }),
            span,
        ));
        Box::pin(async move {
            match task.await {
                Ok(result) => map(result),
                Err(join) => {
                    tracing::error!(request = %name, error = %join, "configuration write task failed");
                    Err(WriteError::Internal(String::from("write task failed")))
                }
            }
        })
    }
}

/// The node's request class of an edge request class.
fn request_path(path: OutboundPath) -> RequestPath {
    match path {
        OutboundPath::Issue => RequestPath::Issue,
        OutboundPath::Verify => RequestPath::Verify,
        OutboundPath::Config => RequestPath::Config,
    }
}

/// Maps the node's answer to the edge's: a refusal by the state machine is an
/// outcome (answered with its IAM code); no quorum and shutdown are
/// retryable unavailability (`ServiceUnavailable`, SDKs retry); anything
/// else is internal.
fn map(
    result: Result<meridian_core::config::command::Response, NodeWriteError>,
) -> Result<WriteOutcome, WriteError> {
    match result {
        Ok(response) => Ok(Ok(response)),
        Err(NodeWriteError::Rejected(refusal)) => Ok(Err(refusal)),
        Err(error @ NodeWriteError::NoQuorum { .. }) => {
            Err(WriteError::Unavailable(error.to_string()))
        }
        Err(NodeWriteError::ShuttingDown) => Err(WriteError::Unavailable(String::from(
            "this node is shutting down",
        ))),
        Err(NodeWriteError::Internal(reason)) => Err(WriteError::Internal(reason)),
    }
}

#[cfg(test)]
mod tests {
    use meridian_core::config::command::Response;
    use meridian_core::config::error::ConfigError;

    use super::*;

    #[test]
    fn edge_classes_map_to_the_same_labels() {
        for path in [
            OutboundPath::Issue,
            OutboundPath::Verify,
            OutboundPath::Config,
        ] {
            assert_eq!(request_path(path).as_str(), path.as_str());
        }
    }

    #[test]
    fn node_answers_map_to_edge_answers() {
        assert_eq!(map(Ok(Response::Done)), Ok(Ok(Response::Done)));
        let refusal = ConfigError::InvalidInput {
            reason: String::from("bad"),
        };
        assert_eq!(
            map(Err(NodeWriteError::Rejected(refusal.clone()))),
            Ok(Err(refusal))
        );
        assert!(matches!(
            map(Err(NodeWriteError::NoQuorum {
                outcome_unknown: true
            })),
            Err(WriteError::Unavailable(reason)) if reason.contains("outcome unknown")
        ));
        assert!(matches!(
            map(Err(NodeWriteError::ShuttingDown)),
            Err(WriteError::Unavailable(_))
        ));
        assert_eq!(
            map(Err(NodeWriteError::Internal(String::from("x")))),
            Err(WriteError::Internal(String::from("x")))
        );
    }
}
