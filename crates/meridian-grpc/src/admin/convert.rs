//! Admin messages built from the node's status and applied snapshot (and
//! the rotation schedule back from its message). Enumerations travel as
//! stable lower-case words, which `meridian admin` prints as they are.

use std::time::Duration;

use meridian_core::config::cluster::{
    KeyPurpose, KeyRecord, KeyRotationSettings, KeyState, RegionStatus,
};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::time::Timestamp;
use meridian_proto::pb;

use crate::node::{NodeStatus, Role};

/// `session-token`, `jwt-signing` (RS256) or `jwt-signing-es384`.
pub fn purpose(purpose: KeyPurpose) -> &'static str {
    match purpose {
        KeyPurpose::SessionToken => "session-token",
        KeyPurpose::JwtSigning => "jwt-signing",
        KeyPurpose::JwtSigningEs384 => "jwt-signing-es384",
    }
}

/// The purpose named by [`purpose`]'s word.
pub fn purpose_named(name: &str) -> Option<KeyPurpose> {
    KeyPurpose::ALL
        .into_iter()
        .find(|candidate| purpose(*candidate) == name)
}

/// `pending`, `active`, `verify-only` or `destroyed`.
pub fn key_state(state: KeyState) -> &'static str {
    match state {
        KeyState::Pending => "pending",
        KeyState::Active => "active",
        KeyState::VerifyOnly => "verify-only",
        KeyState::Destroyed => "destroyed",
    }
}

/// A key's public facts: never its material.
pub fn key(record: &KeyRecord) -> pb::AdminKey {
    pb::AdminKey {
        purpose: purpose(record.purpose).to_owned(),
        term: record.term,
        key_id: record.key_id.clone(),
        algorithm: record.algorithm.clone(),
        state: key_state(record.state).to_owned(),
        created_at_ms: record.created_at.unix_millis(),
        activate_after_ms: record.activate_after.unix_millis(),
        activated_at_ms: record.activated_at.map(Timestamp::unix_millis),
        verify_until_ms: record.verify_until.map(Timestamp::unix_millis),
    }
}

/// Every key of the ring.
pub fn keys(snapshot: &ConfigSnapshot) -> Vec<pb::AdminKey> {
    snapshot.key_ring().keys.values().map(key).collect()
}

/// Every region with its node count.
pub fn regions(snapshot: &ConfigSnapshot) -> Vec<pb::AdminRegion> {
    snapshot
        .regions()
        .values()
        .map(|region| pb::AdminRegion {
            name: region.name.clone(),
            status: match region.status {
                RegionStatus::Active => "active",
                RegionStatus::Draining => "draining",
            }
            .to_owned(),
            issuance_enabled: region.issuance_enabled,
            created_at_ms: region.created_at.unix_millis(),
            node_count: u32::try_from(
                snapshot
                    .nodes()
                    .members
                    .values()
                    .filter(|member| member.info.region == region.name)
                    .count(),
            )
            .unwrap_or(u32::MAX),
        })
        .collect()
}

/// The members of the applied membership.
pub fn members(snapshot: &ConfigSnapshot) -> Vec<pb::AdminMember> {
    snapshot
        .nodes()
        .members
        .values()
        .map(|member| pb::AdminMember {
            node_id: member.id,
            region: member.info.region.clone(),
            raft_addr: member.info.raft_addr.clone(),
            api_addr: member.info.api_addr.clone(),
            voter: member.voter,
        })
        .collect()
}

/// The schedule in whole seconds (milliseconds for the propagation floor).
pub fn schedule(settings: &KeyRotationSettings) -> pb::AdminRotationSchedule {
    pb::AdminRotationSchedule {
        rotate_after_seconds: settings.rotate_after_ms.map(|ms| ms / 1_000),
        min_propagation_millis: settings.min_propagation_ms,
        propagation_grace_seconds: settings.propagation_grace_ms / 1_000,
        max_token_lifetime_seconds: settings.max_token_lifetime_ms / 1_000,
        leeway_seconds: settings.leeway_ms / 1_000,
        max_key_age_seconds: settings.max_key_age_ms / 1_000,
    }
}

/// The schedule a `SetRotationSchedule` asks for (checked by the caller).
pub fn settings(schedule: &pb::AdminRotationSchedule) -> KeyRotationSettings {
    let ms = |seconds: u64| seconds.saturating_mul(1_000);
    KeyRotationSettings {
        rotate_after_ms: schedule.rotate_after_seconds.map(ms),
        min_propagation_ms: schedule.min_propagation_millis,
        propagation_grace_ms: ms(schedule.propagation_grace_seconds),
        max_token_lifetime_ms: ms(schedule.max_token_lifetime_seconds),
        leeway_ms: ms(schedule.leeway_seconds),
        max_key_age_ms: ms(schedule.max_key_age_seconds),
    }
}

/// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
pub fn role(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Learner => "learner",
        Role::Shutdown => "shutdown",
    }
}

/// The node's status message.
pub fn status(
    status: &NodeStatus,
    snapshot: &ConfigSnapshot,
    region: &str,
    now: Timestamp,
    confirmed_at: Option<Timestamp>,
    max_staleness: Duration,
) -> pb::AdminStatus {
    let leader_addr = status
        .leader
        .and_then(|id| snapshot.nodes().members.get(&id))
        .map(|member| member.info.raft_addr.clone())
        .unwrap_or_default();
    pb::AdminStatus {
        node_id: status.id,
        region: region.to_owned(),
        role: role(status.role).to_owned(),
        leader_id: status.leader,
        leader_addr,
        term: status.term,
        last_log_index: status.last_log_index,
        committed_index: status.committed_index,
        applied_index: status.applied_index,
        followers: status
            .replication
            .iter()
            .map(|(id, replication)| pb::AdminFollower {
                node_id: *id,
                matched_index: replication.matched_index,
                lag: replication.lag,
            })
            .collect(),
        millis_since_quorum_ack: status.millis_since_quorum_ack,
        config_confirmed_at_ms: confirmed_at.map(Timestamp::unix_millis),
        config_staleness_ms: confirmed_at
            .map(|at| u64::try_from(now.millis_since(at).max(0)).unwrap_or(0)),
        max_config_staleness_ms: u64::try_from(max_staleness.as_millis()).unwrap_or(u64::MAX),
        keys: keys(snapshot),
        regions: regions(snapshot),
        members: members(snapshot),
        now_ms: now.unix_millis(),
        partition: snapshot.partition().as_str().to_owned(),
        account_count: u32::try_from(snapshot.accounts().count()).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_round_trip_through_their_message() {
        let mut settings = KeyRotationSettings::RECOMMENDED;
        for rotate_after in [None, Some(3_600_000)] {
            settings.rotate_after_ms = rotate_after;
            assert_eq!(super::settings(&schedule(&settings)), settings);
        }
    }

    #[test]
    fn states_have_stable_names() {
        let names: Vec<&str> = [
            KeyState::Pending,
            KeyState::Active,
            KeyState::VerifyOnly,
            KeyState::Destroyed,
        ]
        .into_iter()
        .map(key_state)
        .collect();
        assert_eq!(names, ["pending", "active", "verify-only", "destroyed"]);
        let purposes: Vec<&str> = KeyPurpose::ALL.into_iter().map(purpose).collect();
        assert_eq!(
            purposes,
            ["session-token", "jwt-signing", "jwt-signing-es384"]
        );
        for each in KeyPurpose::ALL {
            assert_eq!(purpose_named(purpose(each)), Some(each));
        }
        assert_eq!(purpose_named("jwt"), None);
        assert_eq!(role(Role::Leader), "leader");
    }
}
