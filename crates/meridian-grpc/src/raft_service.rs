//! The server side of the Raft transport, plus the two operations peers
//! forward to the leader (configuration writes and joins).
//!
//! Only cluster peers may call it. A node whose log is empty guards itself
//! with a [`Gate`], so that a wiped node can never answer a replication
//! request with an emptied log under an id the cluster knows (openraft's
//! leader treats that as a log reversion, and a reused id can lose committed
//! entries):
//!
//! * joining: every Raft RPC answers `UNAVAILABLE` until the leader has
//!   admitted the node as a learner under a fresh id;
//! * fresh bootstrap member: it accepts votes, and replication only from the
//!   very start of the log (`prev_log_id` absent); a leader that replicates
//!   to it from further on has seen it before, so it is a wiped member: the
//!   gate closes for good and the node reports it must join under a new id.
//!
//! A forwarded write or join that reaches a node that is not the leader
//! answers `FAILED_PRECONDITION` with the leader it knows in the
//! `x-meridian-leader-id`/`x-meridian-leader-addr` metadata; a leader without
//! its quorum answers `UNAVAILABLE`; a write with no answer before its
//! deadline answers `DEADLINE_EXCEEDED` (outcome unknown).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures::StreamExt;
use meridian_core::config::command::ConfigRequest;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_proto::pb;
use meridian_proto::pb::raft_service_server::RaftService;
use meridian_proto::pb_impl::impl_outcome::outcome_to_pb;
use meridian_store::codec;
use meridian_store::snapshot_data::{MAX_SNAPSHOT_BYTES, SnapshotData};
use meridian_store::state_machine::snapshot_meta_from_pb;
use meridian_store::type_config::{Raft, Snapshot};
use openraft::raft::TransferLeaderRequest;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use crate::cluster_ops::{self, Proposal};
use crate::errors::ClusterError;

/// Metadata key carrying the leader's node id on a `FAILED_PRECONDITION`.
pub const LEADER_ID_HEADER: &str = "x-meridian-leader-id";
/// Metadata key carrying the leader's Raft address on a `FAILED_PRECONDITION`.
pub const LEADER_ADDR_HEADER: &str = "x-meridian-leader-addr";

/// What a node accepts from its peers while its log may be empty.
#[derive(Debug)]
pub struct Gate(AtomicU8);

/// The states of a [`Gate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// Everything (a node with a log, or an admitted one).
    Open,
    /// Nothing yet: joining, not admitted.
    Joining,
    /// Votes, and replication from the start of the log only.
    FreshMember,
    /// Nothing ever: the cluster knows this id, but this node lost its log.
    Refused,
}

impl Gate {
    /// A gate in `state`.
    pub fn new(state: GateState) -> Gate {
        Gate(AtomicU8::new(state as u8))
    }

    /// The current state.
    pub fn state(&self) -> GateState {
        match self.0.load(Ordering::Acquire) {
            0 => GateState::Open,
            1 => GateState::Joining,
            2 => GateState::FreshMember,
            _ => GateState::Refused,
        }
    }

    /// Moves to `state`.
    pub fn set(&self, state: GateState) {
        self.0.store(state as u8, Ordering::Release);
    }

    fn refuse_wiped(&self, node: u64) -> Status {
        if self.state() != GateState::Refused {
            tracing::error!(
                node,
                "the cluster replicates to this node as a known member, but its log is empty: \
                 a node that lost its data must join under a fresh id; refusing all raft traffic"
            );
        }
        self.set(GateState::Refused);
        Status::failed_precondition("node lost its log; it must join under a fresh id")
    }
}

/// The Raft transport service of one node.
#[derive(Clone)]
pub struct RaftServiceImpl {
    raft: Raft,
    snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
    gate: Arc<Gate>,
    write_timeout: Duration,
}

impl std::fmt::Debug for RaftServiceImpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftServiceImpl")
            .field("gate", &self.gate.state())
            .finish_non_exhaustive()
    }
}

impl RaftServiceImpl {
    /// The service for `raft`, guarded by `gate`.
    pub fn new(
        raft: Raft,
        snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
        gate: Arc<Gate>,
        write_timeout: Duration,
    ) -> RaftServiceImpl {
        RaftServiceImpl {
            raft,
            snapshots,
            gate,
            write_timeout,
        }
    }

    /// Votes are safe from any member that is not joining or refused.
    fn check_votes(&self) -> Result<(), Status> {
        match self.gate.state() {
            GateState::Open | GateState::FreshMember => Ok(()),
            GateState::Joining => Err(Status::unavailable("node not admitted to the cluster")),
            GateState::Refused => Err(Status::failed_precondition(
                "node lost its log; it must join under a fresh id",
            )),
        }
    }

    /// Snapshots and transfers need an open gate; a fresh member that is
    /// sent a snapshot is a wiped one.
    fn check_open(&self) -> Result<(), Status> {
        match self.gate.state() {
            GateState::Open => Ok(()),
            GateState::Joining => Err(Status::unavailable("node not admitted to the cluster")),
            GateState::FreshMember | GateState::Refused => {
                Err(self.gate.refuse_wiped(*self.raft.node_id()))
            }
        }
    }

    fn not_leader(&self) -> Status {
        let mut status = Status::failed_precondition("not the leader");
        if let Some((id, info)) = cluster_ops::known_leader(&self.raft) {
            let metadata = status.metadata_mut();
            if let Ok(value) = id.to_string().parse() {
                metadata.insert(LEADER_ID_HEADER, value);
            }
            if let Ok(value) = info.raft_addr.parse() {
                metadata.insert(LEADER_ADDR_HEADER, value);
            }
        }
        status
    }
}

fn fatal(err: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("raft stopped: {err}"))
}

fn bad_request(err: impl std::fmt::Display) -> Status {
    Status::invalid_argument(err.to_string())
}

/// The deadline a caller set with `grpc-timeout`, capped at `limit`.
fn deadline_of<T>(request: &Request<T>, limit: Duration) -> Duration {
    request
        .metadata()
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(limit, |requested| requested.min(limit))
}

fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[tonic::async_trait]
impl RaftService for RaftServiceImpl {
    async fn vote(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.check_votes()?;
        let vote = codec::vote_request_from_pb(request.get_ref()).map_err(bad_request)?;
        let response = self.raft.vote(vote).await.map_err(fatal)?;
        Ok(Response::new(codec::vote_response_to_pb(&response)))
    }

    async fn pre_vote(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.check_votes()?;
        let vote = codec::vote_request_from_pb(request.get_ref()).map_err(bad_request)?;
        let response = self.raft.pre_vote(vote).await.map_err(fatal)?;
        Ok(Response::new(codec::vote_response_to_pb(&response)))
    }

    async fn append_entries(
        &self,
        request: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        let fresh = match self.gate.state() {
            GateState::Open => false,
            GateState::FreshMember if request.get_ref().prev_log_id.is_none() => true,
            _ => {
                self.check_open()?;
                false
            }
        };
        let append = codec::append_request_from_pb(request.into_inner()).map_err(bad_request)?;
        let response = self.raft.append_entries(append).await.map_err(fatal)?;
        if fresh && response.is_success() {
            self.gate.set(GateState::Open);
        }
        Ok(Response::new(codec::append_response_to_pb(&response)))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        self.check_open()?;
        let mut stream = request.into_inner();
        let first = stream
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        let Some(pb::snapshot_chunk::Payload::Meta(meta)) = first.payload else {
            return Err(Status::invalid_argument(
                "a snapshot stream starts with its meta",
            ));
        };
        if meta.size > MAX_SNAPSHOT_BYTES {
            return Err(Status::resource_exhausted("snapshot too large"));
        }
        let vote =
            codec::required_vote("SnapshotMeta.vote", meta.vote.as_ref()).map_err(bad_request)?;
        let snapshot_meta = snapshot_meta_from_pb(&meta).map_err(bad_request)?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let Some(pb::snapshot_chunk::Payload::Data(data)) = chunk?.payload else {
                return Err(Status::invalid_argument("snapshot meta sent twice"));
            };
            if u64::try_from(bytes.len() + data.len()).unwrap_or(u64::MAX) > meta.size {
                return Err(Status::invalid_argument("snapshot longer than announced"));
            }
            bytes.extend_from_slice(&data);
        }
        let data = SnapshotData::with_digest(bytes, &meta.sha256).map_err(bad_request)?;
        // Refuse corrupt bytes here, before openraft sees them: installing
        // is where openraft trusts the snapshot completely.
        if let Err(err) = data.verify() {
            tracing::warn!(error = %err, "refusing a snapshot that fails its checksum");
            return Err(Status::data_loss(err.to_string()));
        }
        let snapshot = Snapshot {
            meta: snapshot_meta,
            snapshot: data,
        };
        let response = self
            .raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(fatal)?;
        Ok(Response::new(pb::SnapshotResponse {
            vote: Some(codec::vote_to_pb(&response.vote)),
        }))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.check_open()?;
        let message = request.into_inner();
        let from = codec::required_vote(
            "TransferLeaderRequest.from_leader",
            message.from_leader.as_ref(),
        )
        .map_err(bad_request)?;
        let transfer = TransferLeaderRequest::new(
            from,
            message.to_node_id,
            codec::opt_log_id_from_pb(message.last_log_id.as_ref()),
        );
        match self
            .raft
            .handle_transfer_leader(transfer)
            .await
            .map_err(fatal)?
        {
            Ok(()) => Ok(Response::new(pb::Empty {})),
            Err(refused) => Err(Status::failed_precondition(refused.to_string())),
        }
    }

    async fn forward_write(
        &self,
        request: Request<pb::ForwardWriteRequest>,
    ) -> Result<Response<pb::ForwardWriteResponse>, Status> {
        let deadline = deadline_of(&request, self.write_timeout);
        // A child of the forwarding node's request span (W3C trace context
        // in the metadata), so a trace follows the write to the leader.
        let span = tracing::info_span!("forward_write", node = *self.raft.node_id());
        crate::trace_context::continue_trace(&request, &span);
        let message = request
            .into_inner()
            .request
            .ok_or_else(|| Status::invalid_argument("missing request"))?;
        let config_request = ConfigRequest::try_from(message).map_err(bad_request)?;
        let proposal = tracing::Instrument::instrument(
            cluster_ops::propose(&self.raft, config_request, deadline),
            span,
        )
        .await;
        let outcome = match &proposal {
            Proposal::Applied(..) => "ok",
            Proposal::NotLeader(_) => "not_leader",
            Proposal::NoQuorum => "no_quorum",
            Proposal::TimedOut | Proposal::Discarded => "unknown",
            Proposal::Fatal(_) => "error",
        };
        metrics::counter!("meridian_raft_forwarded_writes_received_total", "outcome" => outcome)
            .increment(1);
        match proposal {
            Proposal::Applied(log_id, outcome) => Ok(Response::new(pb::ForwardWriteResponse {
                log_id: Some(codec::log_id_to_pb(&log_id)),
                outcome: Some(outcome_to_pb(&outcome)),
            })),
            Proposal::NotLeader(_) => Err(self.not_leader()),
            Proposal::NoQuorum => Err(Status::unavailable("no quorum; write not applied")),
            Proposal::TimedOut | Proposal::Discarded => Err(Status::deadline_exceeded(
                "no quorum before the deadline; outcome unknown",
            )),
            Proposal::Fatal(err) => Err(fatal(err)),
        }
    }

    async fn join(
        &self,
        request: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinResponse>, Status> {
        let message = request.into_inner();
        let info = message
            .info
            .ok_or_else(|| Status::invalid_argument("missing node info"))?
            .into();
        match cluster_ops::admit_learner(&self.raft, &self.snapshots, message.node_id, info).await {
            Ok(()) => Ok(Response::new(pb::JoinResponse {
                leader_id: *self.raft.node_id(),
            })),
            Err(ClusterError::NotLeader { .. }) => Err(self.not_leader()),
            Err(err @ ClusterError::NodeIdKnown(_)) => Err(Status::already_exists(err.to_string())),
            Err(ClusterError::ShuttingDown) => Err(Status::unavailable("node is shutting down")),
            Err(err) => Err(Status::failed_precondition(err.to_string())),
        }
    }

    async fn applied(
        &self,
        _request: Request<pb::AppliedRequest>,
    ) -> Result<Response<pb::AppliedResponse>, Status> {
        Ok(Response::new(pb::AppliedResponse {
            node_id: *self.raft.node_id(),
            applied_index: self.snapshots.borrow().applied_index(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }
}
