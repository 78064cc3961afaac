//! Encoding of openraft's types with the protobuf messages of
//! `meridian-proto`: log entries on disk and every Raft RPC on the wire.
//!
//! These are functions rather than `From` impls because both sides are
//! foreign to this crate (openraft's types, generated messages); this crate
//! owns the type config that ties them together.

use std::collections::{BTreeMap, BTreeSet};

use meridian_core::config::command::ConfigRequest;
use meridian_proto::error::DecodeError;
use meridian_proto::pb;
use openraft::EntryPayload;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::vote::RaftLeaderId;

use crate::type_config::{Entry, LeaderId, LogId, Membership, TypeConfig, Vote};

/// Encodes a log id.
pub fn log_id_to_pb(log_id: &LogId) -> pb::LogId {
    pb::LogId {
        term: log_id.leader_id.term,
        node_id: log_id.leader_id.node_id,
        index: log_id.index,
    }
}

/// Decodes a log id.
pub fn log_id_from_pb(log_id: &pb::LogId) -> LogId {
    LogId::new(LeaderId::new(log_id.term, log_id.node_id), log_id.index)
}

/// Encodes an optional log id.
pub fn opt_log_id_to_pb(log_id: Option<&LogId>) -> Option<pb::LogId> {
    log_id.map(log_id_to_pb)
}

/// Decodes an optional log id.
pub fn opt_log_id_from_pb(log_id: Option<&pb::LogId>) -> Option<LogId> {
    log_id.map(log_id_from_pb)
}

/// Encodes a vote.
pub fn vote_to_pb(vote: &Vote) -> pb::Vote {
    pb::Vote {
        term: vote.leader_id.term,
        node_id: vote.leader_id.node_id,
        committed: vote.committed,
    }
}

/// Decodes a vote.
pub fn vote_from_pb(vote: &pb::Vote) -> Vote {
    Vote {
        leader_id: LeaderId::new(vote.term, vote.node_id),
        committed: vote.committed,
    }
}

/// Decodes a required vote.
pub fn required_vote(field: &'static str, vote: Option<&pb::Vote>) -> Result<Vote, DecodeError> {
    vote.map(vote_from_pb).ok_or(DecodeError::Missing(field))
}

/// Encodes a membership config.
pub fn membership_to_pb(membership: &Membership) -> pb::Membership {
    pb::Membership {
        configs: membership
            .get_joint_config()
            .iter()
            .map(|voters| pb::NodeIdSet {
                node_ids: voters.iter().copied().collect(),
            })
            .collect(),
        nodes: membership
            .nodes()
            .map(|(id, info)| (*id, pb::NodeInfo::from(info)))
            .collect(),
    }
}

/// Decodes a membership config, refusing inconsistent ones (a voter without
/// a node entry).
pub fn membership_from_pb(membership: pb::Membership) -> Result<Membership, DecodeError> {
    let configs: Vec<BTreeSet<u64>> = membership
        .configs
        .into_iter()
        .map(|set| set.node_ids.into_iter().collect())
        .collect();
    let nodes: BTreeMap<u64, meridian_core::config::cluster::NodeInfo> = membership
        .nodes
        .into_iter()
        .map(|(id, info)| (id, info.into()))
        .collect();
    Membership::new(configs, nodes).map_err(|err| DecodeError::Invalid {
        field: "Membership",
        reason: err.to_string(),
    })
}

/// Encodes a log entry.
pub fn entry_to_pb(entry: &Entry) -> pb::Entry {
    let payload = match &entry.payload {
        EntryPayload::Blank => pb::entry::Payload::Blank(pb::entry::Blank {}),
        EntryPayload::Normal(request) => {
            pb::entry::Payload::Normal(pb::ConfigRequest::from(request))
        }
        EntryPayload::Membership(membership) => {
            pb::entry::Payload::Membership(membership_to_pb(membership))
        }
    };
    pb::Entry {
        log_id: Some(log_id_to_pb(&entry.log_id)),
        payload: Some(payload),
    }
}

/// Decodes a log entry.
pub fn entry_from_pb(entry: pb::Entry) -> Result<Entry, DecodeError> {
    let log_id = log_id_from_pb(
        entry
            .log_id
            .as_ref()
            .ok_or(DecodeError::Missing("Entry.log_id"))?,
    );
    let payload = match entry.payload.ok_or(DecodeError::Missing("Entry.payload"))? {
        pb::entry::Payload::Blank(_) => EntryPayload::Blank,
        pb::entry::Payload::Normal(request) => {
            EntryPayload::Normal(ConfigRequest::try_from(request)?)
        }
        pb::entry::Payload::Membership(membership) => {
            EntryPayload::Membership(membership_from_pb(membership)?)
        }
    };
    Ok(Entry { log_id, payload })
}

/// Encodes a vote request.
pub fn vote_request_to_pb(request: &VoteRequest<TypeConfig>) -> pb::VoteRequest {
    pb::VoteRequest {
        vote: Some(vote_to_pb(&request.vote)),
        last_log_id: opt_log_id_to_pb(request.last_log_id.as_ref()),
        leadership_transfer: request.leadership_transfer,
    }
}

/// Decodes a vote request.
pub fn vote_request_from_pb(
    request: &pb::VoteRequest,
) -> Result<VoteRequest<TypeConfig>, DecodeError> {
    let mut decoded = VoteRequest::new(
        required_vote("VoteRequest.vote", request.vote.as_ref())?,
        opt_log_id_from_pb(request.last_log_id.as_ref()),
    );
    decoded.leadership_transfer = request.leadership_transfer;
    Ok(decoded)
}

/// Encodes a vote response.
pub fn vote_response_to_pb(response: &VoteResponse<TypeConfig>) -> pb::VoteResponse {
    pb::VoteResponse {
        vote: Some(vote_to_pb(&response.vote)),
        vote_granted: response.vote_granted,
        last_log_id: opt_log_id_to_pb(response.last_log_id.as_ref()),
    }
}

/// Decodes a vote response.
pub fn vote_response_from_pb(
    response: &pb::VoteResponse,
) -> Result<VoteResponse<TypeConfig>, DecodeError> {
    Ok(VoteResponse::new(
        required_vote("VoteResponse.vote", response.vote.as_ref())?,
        opt_log_id_from_pb(response.last_log_id.as_ref()),
        response.vote_granted,
    ))
}

/// Encodes an append-entries request.
pub fn append_request_to_pb(
    request: &AppendEntriesRequest<TypeConfig>,
) -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        vote: Some(vote_to_pb(&request.vote)),
        prev_log_id: opt_log_id_to_pb(request.prev_log_id.as_ref()),
        entries: request.entries.iter().map(entry_to_pb).collect(),
        leader_commit: opt_log_id_to_pb(request.leader_commit.as_ref()),
    }
}

/// Decodes an append-entries request.
pub fn append_request_from_pb(
    request: pb::AppendEntriesRequest,
) -> Result<AppendEntriesRequest<TypeConfig>, DecodeError> {
    Ok(AppendEntriesRequest {
        vote: required_vote("AppendEntriesRequest.vote", request.vote.as_ref())?,
        prev_log_id: opt_log_id_from_pb(request.prev_log_id.as_ref()),
        entries: request
            .entries
            .into_iter()
            .map(entry_from_pb)
            .collect::<Result<Vec<_>, _>>()?,
        leader_commit: opt_log_id_from_pb(request.leader_commit.as_ref()),
    })
}

/// Encodes an append-entries response.
pub fn append_response_to_pb(
    response: &AppendEntriesResponse<TypeConfig>,
) -> pb::AppendEntriesResponse {
    use pb::append_entries_response::{Conflict, PartialSuccess, Result as R, Success};
    let result = match response {
        AppendEntriesResponse::Success => R::Success(Success {}),
        AppendEntriesResponse::PartialSuccess(matching) => R::PartialSuccess(PartialSuccess {
            matching: opt_log_id_to_pb(matching.as_ref()),
        }),
        AppendEntriesResponse::Conflict => R::Conflict(Conflict {}),
        AppendEntriesResponse::HigherVote(vote) => R::HigherVote(vote_to_pb(vote)),
    };
    pb::AppendEntriesResponse {
        result: Some(result),
    }
}

/// Decodes an append-entries response.
pub fn append_response_from_pb(
    response: &pb::AppendEntriesResponse,
) -> Result<AppendEntriesResponse<TypeConfig>, DecodeError> {
    use pb::append_entries_response::Result as R;
    Ok(
        match response
            .result
            .as_ref()
            .ok_or(DecodeError::Missing("AppendEntriesResponse.result"))?
        {
            R::Success(_) => AppendEntriesResponse::Success,
            R::PartialSuccess(partial) => {
                AppendEntriesResponse::PartialSuccess(opt_log_id_from_pb(partial.matching.as_ref()))
            }
            R::Conflict(_) => AppendEntriesResponse::Conflict,
            R::HigherVote(vote) => AppendEntriesResponse::HigherVote(vote_from_pb(vote)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::config::cluster::NodeInfo;
    use meridian_core::config::command::{Command, RequestId};
    use meridian_core::time::Timestamp;

    #[test]
    fn entries_round_trip() {
        let log_id = LogId::new(LeaderId::new(3, 2), 17);
        let node = |port: u16| NodeInfo {
            region: String::from("us-east-1"),
            raft_addr: format!("http://127.0.0.1:{port}"),
            api_addr: String::new(),
        };
        let membership = Membership::new(
            vec![BTreeSet::from([1, 2])],
            BTreeMap::from([(1, node(1)), (2, node(2)), (3, node(3))]),
        )
        .unwrap();
        let request = ConfigRequest {
            request_id: RequestId([7; 16]),
            issued_at: Timestamp::from_unix_millis(5),
            command: Command::ReserveNodeId,
        };
        for payload in [
            EntryPayload::Blank,
            EntryPayload::Normal(request),
            EntryPayload::Membership(membership),
        ] {
            let entry = Entry { log_id, payload };
            let decoded = entry_from_pb(entry_to_pb(&entry)).unwrap();
            assert_eq!(format!("{decoded:?}"), format!("{entry:?}"));
        }
        // A voter without an address is refused.
        let broken = pb::Membership {
            configs: vec![pb::NodeIdSet { node_ids: vec![9] }],
            nodes: BTreeMap::new(),
        };
        assert!(membership_from_pb(broken).is_err());
    }
}
