//! Errors of the node handle: starting, writing, cluster operations.

use meridian_core::config::error::ConfigError;

/// Why a configuration write did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Applied, and refused by the state machine: the outcome is final and a
    /// retry with the same request id answers the same.
    #[error("{0}")]
    Rejected(ConfigError),
    /// No leader with a quorum could be reached before the write deadline.
    /// Retryable with the same request id; when `outcome_unknown` the write
    /// may still be committed later (it reached a leader that lost its
    /// quorum), so a retry must reuse the request id to stay idempotent.
    #[error("no quorum; write not applied (retry with the same request id){}", if *.outcome_unknown { "; outcome unknown" } else { "" })]
    NoQuorum {
        /// Whether the write may still take effect.
        outcome_unknown: bool,
    },
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
    /// A peer answered something this node cannot decode, or Raft failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WriteError {
    /// Whether retrying (with the same request id) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WriteError::NoQuorum { .. })
    }
}

/// Why a membership operation or a status query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// This node is not the leader; call the leader (if known).
    #[error("not the leader; leader is {leader:?}")]
    NotLeader {
        /// The leader this node knows of, and its Raft address.
        leader: Option<(u64, String)>,
    },
    /// The node id has been a member before: ids are never reused.
    #[error(
        "node id {0} is already known to the cluster; a node with an empty log must join under a fresh id"
    )]
    NodeIdKnown(u64),
    /// The node is not a member.
    #[error("node {0} is not a member")]
    NoSuchNode(u64),
    /// openraft refused the change (another change in progress, learner
    /// lagging, …).
    #[error("membership change refused: {0}")]
    Refused(String),
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
}

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be opened or belongs to another node.
    #[error("failed to open the store: {0}")]
    Store(#[from] meridian_store::error::StoreError),
    /// The configuration is invalid.
    #[error("invalid raft configuration: {0}")]
    Config(String),
    /// The data directory is empty but the node was asked to restart: a node
    /// that lost its data must join again under a fresh id.
    #[error(
        "data directory of node {0} is empty; a node with an empty log must join under a fresh id (reserve one with ReserveNodeId), never restart under its old one"
    )]
    EmptyStore(u64),
    /// The cluster refused the join: this id was a member before.
    #[error(
        "the cluster refused node id {0}: it is already known; a node with an empty log must join under a fresh id"
    )]
    NodeIdKnown(u64),
    /// No seed accepted the join in time.
    #[error("could not join the cluster: {0}")]
    Join(String),
    /// Raft could not be started or initialized.
    #[error("raft failed to start: {0}")]
    Raft(String),
}
