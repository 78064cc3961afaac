//! `/readyz` and issuance freshness, derived from the node's Raft state and
//! its key material.
//!
//! A node is ready (RELIABILITY.md F4) when all of these hold:
//!
//! * it is not shutting down (cleared first thing on shutdown, for good);
//! * its key material is unwrapped: the session-token ring built from the
//!   applied snapshot under this node's KEK has a key that may sign now (a
//!   node holding a different KEK never becomes ready);
//! * its state machine has applied everything it knows to be committed —
//!   the commit index it learned from the leader, or its own persisted one
//!   when no leader is known (a restarted node replays first). Once caught
//!   up, the ordinary gap between "committed" and "applied" that every write
//!   opens for a few milliseconds does not count; only a lag that lasts
//!   longer than [`LAG_TOLERANCE`] (an apply that is stuck) does, so
//!   readiness does not flap under writes.
//!
//! Readiness does not require a reachable quorum: a region cut off from the
//! others keeps serving issuance and verification from its applied state,
//! which is the product's promise. How long it may keep *issuing* is the
//! edge's business, through [`Freshness`]: confirmed here whenever this node
//! knows its state is current — it leads and a quorum acknowledged it within
//! an election timeout, or it follows a known leader and has applied all
//! that leader committed.

use std::time::Duration;

use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::time::Timestamp;
use meridian_edge::state::{Freshness, KeyMaterial, Readiness};
use meridian_grpc::node::{NodeStatus, Role};
use tokio::time::Instant;

/// How long a caught-up node may lag its known commit index before it is
/// reported not ready.
pub const LAG_TOLERANCE: Duration = Duration::from_secs(2);

/// Why a node is not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Shutdown has begun.
    #[error("shutting down")]
    ShuttingDown,
    /// Raft has stopped.
    #[error("raft has stopped")]
    RaftStopped,
    /// The cluster knows this node's id but its log is empty (a wiped
    /// member): it refuses Raft traffic and must be replaced under a fresh id.
    #[error(
        "this node's data was wiped but the cluster knows its id; replace it with a node under a fresh id"
    )]
    RefusedAsWiped,
    /// No applied session-token key may sign (none yet, or none this node's
    /// KEK unwraps).
    #[error("no usable signing key (none applied yet, or sealed under another KEK)")]
    NoSigningKey,
    /// The state machine lags what the node knows is committed.
    #[error("applied index {applied:?} is behind committed index {committed:?}")]
    Behind {
        /// Applied so far.
        applied: Option<u64>,
        /// Known committed.
        committed: Option<u64>,
    },
}

/// Whether the node has caught up since it started, and since when it lags.
#[derive(Debug, Default)]
pub struct CatchUp {
    caught_up: bool,
    behind_since: Option<Instant>,
}

impl CatchUp {
    /// Whether the lag in `status`, observed at `at`, makes the node not
    /// ready: any lag before the node first caught up, afterwards only a lag
    /// lasting longer than `tolerance`.
    pub fn lagging(&mut self, status: &NodeStatus, at: Instant, tolerance: Duration) -> bool {
        if status.applied_index >= status.committed_index {
            self.caught_up = true;
            self.behind_since = None;
            return false;
        }
        if !self.caught_up {
            return true;
        }
        let since = *self.behind_since.get_or_insert(at);
        at.duration_since(since) > tolerance
    }
}

/// Decides readiness from one observation (`lagging` from [`CatchUp`]).
pub fn check(
    status: &NodeStatus,
    lagging: bool,
    snapshot: &ConfigSnapshot,
    keys: &KeyMaterial,
    now: Timestamp,
    shutting_down: bool,
) -> Result<(), NotReady> {
    if shutting_down {
        return Err(NotReady::ShuttingDown);
    }
    if status.role == Role::Shutdown {
        return Err(NotReady::RaftStopped);
    }
    if status.refused_as_wiped {
        return Err(NotReady::RefusedAsWiped);
    }
    if lagging {
        return Err(NotReady::Behind {
            applied: status.applied_index,
            committed: status.committed_index,
        });
    }
    // Cheap when nothing changed: the ring is cached per replicated ring.
    if snapshot
        .key_ring()
        .active(KeyPurpose::SessionToken)
        .is_none()
        || keys.session_ring(snapshot).signing_key(now).is_err()
    {
        return Err(NotReady::NoSigningKey);
    }
    Ok(())
}

/// Whether this node knows its applied state is current (see module docs).
pub fn is_current(status: &NodeStatus, lease: Duration) -> bool {
    let caught_up = status.applied_index >= status.committed_index;
    match status.role {
        Role::Leader => {
            let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
            caught_up
                && status
                    .millis_since_quorum_ack
                    .is_some_and(|millis| millis <= lease_ms)
        }
        Role::Follower | Role::Learner => caught_up && status.leader.is_some(),
        Role::Candidate | Role::Shutdown => false,
    }
}

/// Applies one observation to the flags, logging transitions.
pub(crate) fn update(
    readiness: &Readiness,
    freshness: &Freshness,
    verdict: Result<(), NotReady>,
    current: bool,
    now: Timestamp,
    last: &mut Option<Result<(), NotReady>>,
) {
    if current && verdict.is_ok() {
        freshness.confirm(now);
    }
    readiness.set(verdict.is_ok());
    if last.as_ref() != Some(&verdict) {
        match &verdict {
            Ok(()) => tracing::info!("node is ready"),
            Err(reason) => tracing::info!(%reason, "node is not ready"),
        }
        *last = Some(verdict);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn status(role: Role, applied: Option<u64>, committed: Option<u64>) -> NodeStatus {
        NodeStatus {
            id: 1,
            role,
            leader: matches!(role, Role::Leader | Role::Follower).then_some(1),
            term: 1,
            last_log_index: committed,
            committed_index: committed,
            applied_index: applied,
            voters: vec![1],
            learners: Vec::new(),
            replication: BTreeMap::new(),
            refused_as_wiped: false,
            millis_since_quorum_ack: (role == Role::Leader).then_some(10),
        }
    }

    fn keys() -> KeyMaterial {
        let kek =
            meridian_core::keyring::Kek::from_bytes(&[3u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        KeyMaterial::new(kek)
    }

    #[test]
    fn not_ready_without_key_behind_or_stopping() {
        let snapshot = ConfigSnapshot::default();
        let keys = keys();
        let now = Timestamp::from_unix_seconds(1_000);
        assert_eq!(
            check(
                &status(Role::Follower, Some(5), Some(5)),
                false,
                &snapshot,
                &keys,
                now,
                false
            ),
            Err(NotReady::NoSigningKey)
        );
        assert_eq!(
            check(
                &status(Role::Follower, Some(4), Some(5)),
                true,
                &snapshot,
                &keys,
                now,
                false
            ),
            Err(NotReady::Behind {
                applied: Some(4),
                committed: Some(5)
            })
        );
        assert_eq!(
            check(
                &status(Role::Follower, Some(5), Some(5)),
                false,
                &snapshot,
                &keys,
                now,
                true
            ),
            Err(NotReady::ShuttingDown)
        );
        assert_eq!(
            check(
                &status(Role::Shutdown, Some(5), Some(5)),
                false,
                &snapshot,
                &keys,
                now,
                false
            ),
            Err(NotReady::RaftStopped)
        );
        let mut wiped = status(Role::Learner, None, None);
        wiped.refused_as_wiped = true;
        assert_eq!(
            check(&wiped, false, &snapshot, &keys, now, false),
            Err(NotReady::RefusedAsWiped)
        );
    }

    #[test]
    fn lag_counts_before_catching_up_and_only_when_it_lasts_after() {
        let mut catch_up = CatchUp::default();
        let start = Instant::now();
        let tolerance = Duration::from_secs(2);
        // A restarted node replaying its log is not ready.
        assert!(catch_up.lagging(&status(Role::Follower, Some(1), Some(9)), start, tolerance));
        assert!(!catch_up.lagging(&status(Role::Follower, Some(9), Some(9)), start, tolerance));
        // Then a write's brief commit-to-apply gap does not count…
        let lag = status(Role::Follower, Some(9), Some(10));
        assert!(!catch_up.lagging(&lag, start, tolerance));
        assert!(!catch_up.lagging(&lag, start + Duration::from_secs(1), tolerance));
        // …but a stuck apply does.
        assert!(catch_up.lagging(&lag, start + Duration::from_secs(3), tolerance));
        // Catching up again resets the clock.
        assert!(!catch_up.lagging(
            &status(Role::Follower, Some(10), Some(10)),
            start + Duration::from_secs(4),
            tolerance
        ));
        assert!(!catch_up.lagging(&lag, start + Duration::from_secs(5), tolerance));
    }

    #[test]
    fn currency_needs_a_leader_or_a_quorum_ack() {
        let lease = Duration::from_secs(1);
        assert!(is_current(&status(Role::Leader, Some(3), Some(3)), lease));
        assert!(is_current(&status(Role::Follower, Some(3), Some(3)), lease));
        assert!(!is_current(
            &status(Role::Follower, Some(2), Some(3)),
            lease
        ));
        assert!(!is_current(
            &status(Role::Candidate, Some(3), Some(3)),
            lease
        ));
        let mut cut_off = status(Role::Leader, Some(3), Some(3));
        cut_off.millis_since_quorum_ack = Some(5_000);
        assert!(!is_current(&cut_off, lease));
        let mut orphan = status(Role::Follower, Some(3), Some(3));
        orphan.leader = None;
        assert!(!is_current(&orphan, lease));
    }

    #[test]
    fn update_sets_flags_and_confirms_only_when_current_and_ready() {
        let readiness = Readiness::new();
        let freshness = Freshness::new();
        let mut last = None;
        let now = Timestamp::from_unix_seconds(50);
        update(
            &readiness,
            &freshness,
            Err(NotReady::NoSigningKey),
            true,
            now,
            &mut last,
        );
        assert!(!readiness.is_ready());
        assert_eq!(freshness.confirmed_at(), None);
        update(&readiness, &freshness, Ok(()), false, now, &mut last);
        assert!(readiness.is_ready());
        assert_eq!(freshness.confirmed_at(), None);
        update(&readiness, &freshness, Ok(()), true, now, &mut last);
        assert_eq!(freshness.confirmed_at(), Some(now));
    }
}
