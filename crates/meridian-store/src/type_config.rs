//! The openraft type configuration of Meridian's state machine.
//!
//! Log entries carry a core [`ConfigRequest`] and answer an [`ApplyOutcome`];
//! node ids are `u64` and the membership's node value is core's
//! [`NodeInfo`] (region and addresses). Term, leader id (`leader_id_adv`: one
//! leader per term) and vote are openraft's defaults. openraft's `serde`
//! feature is off: what goes to disk or the wire is encoded with the
//! protobuf messages of `meridian-proto` (see [`crate::codec`]).

use meridian_core::config::cluster::NodeInfo;
use meridian_core::config::command::{ConfigRequest, Response};
use meridian_core::config::error::ConfigError;

/// What applying one request answers: the response or the typed refusal.
pub type ApplyOutcome = Result<Response, ConfigError>;

openraft::declare_raft_types!(
    /// Meridian's Raft type configuration.
    pub TypeConfig:
        D = ConfigRequest,
        R = ApplyOutcome,
        Node = NodeInfo,
);

/// A node id: never reused (see `meridian_core::config::cluster::NodeTable`).
pub type NodeId = u64;
/// A Raft log id.
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A Raft vote.
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// The leader id (term and node).
pub type LeaderId = openraft::type_config::alias::LeaderIdOf<TypeConfig>;
/// A Raft log entry.
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
/// A membership config.
pub type Membership = openraft::Membership<NodeId, NodeInfo>;
/// A membership config with the log id it was written at.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// A snapshot as openraft hands it around.
pub type Snapshot =
    openraft::type_config::alias::SnapshotOf<TypeConfig, crate::snapshot_data::SnapshotData>;
/// A Raft node of this type config.
pub type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachineStore>;
