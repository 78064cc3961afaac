//! Leader-side operations shared by the node handle and the RPC service:
//! proposing a write and admitting a learner.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use meridian_core::config::cluster::NodeInfo;
use meridian_core::config::command::ConfigRequest;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_store::type_config::{ApplyOutcome, LogId, NodeId, Raft, TypeConfig};
use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, ForwardReason, RaftError};
use tokio::sync::watch;

use crate::errors::ClusterError;

/// What proposing a write on this node led to.
#[derive(Debug)]
pub(crate) enum Proposal {
    /// Committed and applied at this log id, with this outcome.
    Applied(LogId, ApplyOutcome),
    /// This node is not the leader; the leader it knows, if any.
    NotLeader(Option<(NodeId, NodeInfo)>),
    /// This node leads but has lost its quorum (lease expired).
    NoQuorum,
    /// Proposed, but no answer before the deadline: outcome unknown.
    TimedOut,
    /// The entry was proposed and then discarded by a leader change: its
    /// commit status is unknown.
    Discarded,
    /// Raft is shutting down or failed.
    Fatal(String),
}

/// Proposes `request` if this node leads, waiting at most `deadline`.
pub(crate) async fn propose(raft: &Raft, request: ConfigRequest, deadline: Duration) -> Proposal {
    match tokio::time::timeout(deadline, raft.client_write(request)).await {
        Err(_) => Proposal::TimedOut,
        Ok(Ok(response)) => Proposal::Applied(response.log_id, response.data),
        Ok(Err(RaftError::Fatal(fatal))) => Proposal::Fatal(fatal.to_string()),
        Ok(Err(RaftError::APIError(err))) => match err {
            ClientWriteError::ForwardToLeader(forward) => {
                if forward.reason == ForwardReason::LeaseExpired {
                    return Proposal::NoQuorum;
                }
                match (forward.leader_id, forward.leader_node) {
                    (Some(id), Some(node)) if id != *raft.node_id() => {
                        Proposal::NotLeader(Some((id, node)))
                    }
                    (Some(_), Some(_)) => Proposal::NoQuorum,
                    _ => Proposal::NotLeader(None),
                }
            }
            ClientWriteError::LogEntryDiscarded(_) => Proposal::Discarded,
            other => Proposal::Fatal(other.to_string()),
        },
    }
}

/// The leader this node currently knows of, with its address.
pub(crate) fn known_leader(raft: &Raft) -> Option<(NodeId, NodeInfo)> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow_watched();
    let leader = metrics.current_leader?;
    let info = metrics
        .membership_config
        .membership()
        .get_node(&leader)
        .cloned()?;
    Some((leader, info))
}

/// Adds `id` as a learner if this node leads and the id was never a member.
/// Does not wait for the learner to catch up.
pub(crate) async fn admit_learner(
    raft: &Raft,
    snapshots: &watch::Receiver<Arc<ConfigSnapshot>>,
    id: NodeId,
    info: NodeInfo,
) -> Result<(), ClusterError> {
    if !raft.is_leader() {
        return Err(not_leader(raft));
    }
    let in_membership = raft
        .voter_ids()
        .chain(raft.learner_ids())
        .any(|member| member == id);
    if in_membership || snapshots.borrow().nodes().is_known(id) {
        return Err(ClusterError::NodeIdKnown(id));
    }
    membership_result(raft, raft.add_learner(id, info, false).await)
}

/// The `NotLeader` error naming the leader this node knows.
pub(crate) fn not_leader(raft: &Raft) -> ClusterError {
    ClusterError::NotLeader {
        leader: known_leader(raft).map(|(id, info)| (id, info.raft_addr)),
    }
}

/// Maps the result of a membership call.
pub(crate) fn membership_result<T>(
    raft: &Raft,
    result: Result<T, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>,
) -> Result<(), ClusterError> {
    match result {
        Ok(_) => Ok(()),
        Err(RaftError::Fatal(_)) => Err(ClusterError::ShuttingDown),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Err(not_leader(raft)),
        Err(RaftError::APIError(other)) => Err(ClusterError::Refused(other.to_string())),
    }
}

/// Voter ids of the current membership config.
pub(crate) fn voters(raft: &Raft) -> BTreeSet<NodeId> {
    raft.voter_ids().collect()
}
