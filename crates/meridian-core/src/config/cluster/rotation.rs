//! The key-rotation planner: given the replicated ring, its schedule and
//! the instant, which compare-and-set command comes next.
//!
//! The leader's rotation task (in `meridian-server`) calls [`plan`] on every
//! tick and proposes what it answers; it never acts on "I believe I am the
//! leader". Every step is a command whose precondition is checked again at
//! apply time (`StageKey`: the latest term is still the one the planner saw;
//! `ActivateKey`: the active term is still the one it saw and the floor
//! `activate_after` has passed; `DestroyKey`: the key's tokens have all
//! expired), so a deposed leader's proposal, a duplicate from two racing
//! proposers or a step planned on a stale view is refused, not applied twice.
//!
//! ```text
//!   active N ──(rotate_after elapsed, or rotate now)──► Stage N+1 (pending:
//!        │       verifies everywhere it is applied, never signs)
//!        │
//!        └──(every member applied N+1, or propagation_grace elapsed;
//!            and activate_after passed)──► Activate N+1; N → verify-only
//!                                          until now + max_token_lifetime + leeway
//!   verify-only N ──(verify_until passed)──► Destroy N (material dropped)
//! ```
//!
//! Whether every member has applied the pending key is a fact only the
//! server can establish (it asks its peers for their applied index); the
//! planner takes it as an argument, and falls back on the grace period when
//! a member cannot confirm.

use crate::config::cluster::{KeyPurpose, KeyRing, KeyState};
use crate::config::command::Command;
use crate::config::model::SealedBytes;
use crate::time::Timestamp;

/// The next rotation step for one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    /// Nothing is due.
    Idle,
    /// Stage a new pending key.
    Stage {
        /// Its term (one past the latest).
        term: u64,
        /// The earliest instant it may activate.
        activate_after: Timestamp,
        /// The latest term the planner saw (compare-and-set).
        expected_latest_term: Option<u64>,
    },
    /// A pending key is staged but may not activate yet.
    WaitForPropagation {
        /// The pending key's term.
        term: u64,
        /// When the grace period ends (activation then proceeds even without
        /// every member's confirmation).
        grace_ends: Timestamp,
    },
    /// Activate the pending key.
    Activate {
        /// The pending key's term.
        term: u64,
        /// The active term the planner saw (compare-and-set).
        expected_active_term: Option<u64>,
        /// Until when the key it replaces keeps verifying.
        retired_verify_until: Timestamp,
    },
    /// Destroy a verify-only key whose tokens have all expired.
    Destroy {
        /// Its term.
        term: u64,
    },
}

impl RotationStep {
    /// The command for this step; `Stage` needs the new key's id, algorithm
    /// and material (generated and sealed by the caller). `None` for the
    /// steps that propose nothing.
    pub fn command(
        &self,
        purpose: KeyPurpose,
        staged: Option<(String, String, SealedBytes, Vec<u8>)>,
    ) -> Option<Command> {
        match *self {
            RotationStep::Idle | RotationStep::WaitForPropagation { .. } => None,
            RotationStep::Stage {
                term,
                activate_after,
                expected_latest_term,
            } => {
                let (key_id, algorithm, sealed_key, public_key) = staged?;
                Some(Command::StageKey {
                    purpose,
                    term,
                    key_id,
                    algorithm,
                    sealed_key,
                    public_key,
                    activate_after,
                    expected_latest_term,
                })
            }
            RotationStep::Activate {
                term,
                expected_active_term,
                retired_verify_until,
            } => Some(Command::ActivateKey {
                purpose,
                term,
                expected_active_term,
                retired_verify_until,
            }),
            RotationStep::Destroy { term } => Some(Command::DestroyKey { purpose, term }),
        }
    }
}

/// What the planner knows beyond the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanInput {
    /// Now (the leader's clock).
    pub now: Timestamp,
    /// Every current member has applied the pending key (if there is one).
    pub pending_confirmed: bool,
    /// Rotate now even if the schedule does not say so (an operator asked).
    pub rotate_now: bool,
}

/// The next step for `purpose` (see the module docs). Destruction comes
/// first (oldest term first), then activation of a pending key, then
/// staging. A ring with no key at all is left alone: the cluster bootstrap
/// stages and activates the first key.
pub fn plan(ring: &KeyRing, purpose: KeyPurpose, input: PlanInput) -> RotationStep {
    let settings = ring.rotation;
    let now = input.now;
    let keys = || {
        ring.keys
            .range((purpose, 0)..=(purpose, u64::MAX))
            .map(|(_, key)| key)
    };
    if let Some(expired) = keys().find(|key| {
        key.state == KeyState::VerifyOnly && key.verify_until.is_some_and(|until| now >= until)
    }) {
        return RotationStep::Destroy { term: expired.term };
    }
    let active = keys().find(|key| key.state == KeyState::Active);
    let pending = keys()
        .filter(|key| key.state == KeyState::Pending)
        .max_by_key(|key| key.term);
    if let Some(pending) = pending {
        if active.is_some_and(|active| active.term > pending.term) {
            // Superseded (only a hand-made ring gets here): abandon it.
            return RotationStep::Destroy { term: pending.term };
        }
        let grace_ends = pending
            .created_at
            .plus_millis(millis(settings.propagation_grace_ms));
        let floor_passed = now >= pending.activate_after;
        if floor_passed && (input.pending_confirmed || now >= grace_ends) {
            let retired_verify_until = now
                .plus_millis(millis(settings.max_token_lifetime_ms))
                .plus_millis(millis(settings.leeway_ms));
            return RotationStep::Activate {
                term: pending.term,
                expected_active_term: active.map(|key| key.term),
                retired_verify_until,
            };
        }
        return RotationStep::WaitForPropagation {
            term: pending.term,
            grace_ends,
        };
    }
    let latest = ring.latest_term(purpose);
    let due = match active {
        Some(active) => {
            let since = active.activated_at.unwrap_or(active.created_at);
            input.rotate_now
                || settings
                    .rotate_after_ms
                    .is_some_and(|every| now >= since.plus_millis(millis(every)))
        }
        // Keys exist but none signs (all retired or destroyed): recover.
        None => latest.is_some(),
    };
    if !due {
        return RotationStep::Idle;
    }
    RotationStep::Stage {
        term: latest.map_or(1, |term| term.saturating_add(1)),
        activate_after: now.plus_millis(millis(settings.min_propagation_ms)),
        expected_latest_term: latest,
    }
}

fn millis(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cluster::{KeyRecord, KeyRotationSettings};

    const S: i64 = 1_000;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(seconds * S)
    }

    fn record(term: u64, state: KeyState, created: i64) -> KeyRecord {
        KeyRecord {
            purpose: KeyPurpose::SessionToken,
            term,
            key_id: term.to_string(),
            algorithm: String::from("AES-256-GCM"),
            state,
            sealed_key: SealedBytes(vec![1]),
            public_key: Vec::new(),
            created_at: at(created),
            activate_after: at(created + 1),
            activated_at: (state != KeyState::Pending).then(|| at(created + 2)),
            verify_until: (state == KeyState::VerifyOnly).then(|| at(created + 50)),
        }
    }

    fn ring(keys: &[KeyRecord]) -> KeyRing {
        KeyRing {
            keys: keys
                .iter()
                .map(|key| ((key.purpose, key.term), key.clone()))
                .collect(),
            rotation: KeyRotationSettings {
                rotate_after_ms: Some(100 * 1_000),
                min_propagation_ms: 1_000,
                propagation_grace_ms: 10 * 1_000,
                max_token_lifetime_ms: 30 * 1_000,
                leeway_ms: 5 * 1_000,
                max_key_age_ms: 1_000 * 1_000,
            },
        }
    }

    fn input(now: i64, confirmed: bool, rotate_now: bool) -> PlanInput {
        PlanInput {
            now: at(now),
            pending_confirmed: confirmed,
            rotate_now,
        }
    }

    #[test]
    fn steps_follow_the_lifecycle() {
        let active = record(1, KeyState::Active, 0);
        let pending = record(2, KeyState::Pending, 200);
        let retired = record(1, KeyState::VerifyOnly, 0);
        let new_active = record(2, KeyState::Active, 200);
        let cases: Vec<(&str, Vec<KeyRecord>, PlanInput, RotationStep)> = vec![
            (
                "empty ring: bootstrap's job",
                vec![],
                input(10, false, true),
                RotationStep::Idle,
            ),
            (
                "young active key",
                vec![active.clone()],
                input(50, false, false),
                RotationStep::Idle,
            ),
            (
                "operator asks",
                vec![active.clone()],
                input(50, false, true),
                RotationStep::Stage {
                    term: 2,
                    activate_after: at(51),
                    expected_latest_term: Some(1),
                },
            ),
            (
                "schedule due (activated at 2 s, every 100 s)",
                vec![active.clone()],
                input(102, false, false),
                RotationStep::Stage {
                    term: 2,
                    activate_after: at(103),
                    expected_latest_term: Some(1),
                },
            ),
            (
                "pending, floor not passed even though confirmed",
                vec![active.clone(), pending.clone()],
                input(200, true, false),
                RotationStep::WaitForPropagation {
                    term: 2,
                    grace_ends: at(210),
                },
            ),
            (
                "pending, unconfirmed, inside grace",
                vec![active.clone(), pending.clone()],
                input(205, false, false),
                RotationStep::WaitForPropagation {
                    term: 2,
                    grace_ends: at(210),
                },
            ),
            (
                "pending, confirmed by every member",
                vec![active.clone(), pending.clone()],
                input(201, true, false),
                RotationStep::Activate {
                    term: 2,
                    expected_active_term: Some(1),
                    retired_verify_until: at(236),
                },
            ),
            (
                "pending, grace over without confirmation",
                vec![active.clone(), pending.clone()],
                input(210, false, false),
                RotationStep::Activate {
                    term: 2,
                    expected_active_term: Some(1),
                    retired_verify_until: at(245),
                },
            ),
            (
                "pending, rotate-now does not stage a second one",
                vec![active.clone(), pending.clone()],
                input(202, false, true),
                RotationStep::WaitForPropagation {
                    term: 2,
                    grace_ends: at(210),
                },
            ),
            (
                "retired key still verifying",
                vec![retired.clone(), new_active.clone()],
                input(49, false, false),
                RotationStep::Idle,
            ),
            (
                "retired key's tokens all expired",
                vec![retired.clone(), new_active.clone()],
                input(50, false, false),
                RotationStep::Destroy { term: 1 },
            ),
            (
                "no signing key left: recover",
                vec![record(1, KeyState::Destroyed, 0)],
                input(60, false, false),
                RotationStep::Stage {
                    term: 2,
                    activate_after: at(61),
                    expected_latest_term: Some(1),
                },
            ),
            (
                "first pending key, no active one",
                vec![pending.clone()],
                input(201, true, false),
                RotationStep::Activate {
                    term: 2,
                    expected_active_term: None,
                    retired_verify_until: at(236),
                },
            ),
        ];
        for (name, keys, input, expected) in cases {
            assert_eq!(
                plan(&ring(&keys), KeyPurpose::SessionToken, input),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn automatic_rotation_can_be_turned_off() {
        let mut ring = ring(&[record(1, KeyState::Active, 0)]);
        ring.rotation.rotate_after_ms = None;
        assert_eq!(
            plan(&ring, KeyPurpose::SessionToken, input(10_000, false, false)),
            RotationStep::Idle
        );
        assert!(matches!(
            plan(&ring, KeyPurpose::SessionToken, input(10_000, false, true)),
            RotationStep::Stage { term: 2, .. }
        ));
    }

    #[test]
    fn purposes_rotate_independently() {
        let mut jwt = record(7, KeyState::Active, 0);
        jwt.purpose = KeyPurpose::JwtSigning;
        let ring = ring(&[record(1, KeyState::Active, 500), jwt]);
        assert_eq!(
            plan(&ring, KeyPurpose::SessionToken, input(550, false, false)),
            RotationStep::Idle
        );
        assert!(matches!(
            plan(&ring, KeyPurpose::JwtSigning, input(550, false, false)),
            RotationStep::Stage { term: 8, .. }
        ));
    }

    #[test]
    fn steps_become_their_commands() {
        let step = RotationStep::Activate {
            term: 2,
            expected_active_term: Some(1),
            retired_verify_until: at(9),
        };
        assert!(matches!(
            step.command(KeyPurpose::SessionToken, None),
            Some(Command::ActivateKey {
                term: 2,
                expected_active_term: Some(1),
                ..
            })
        ));
        let stage = RotationStep::Stage {
            term: 3,
            activate_after: at(1),
            expected_latest_term: Some(2),
        };
        assert_eq!(stage.command(KeyPurpose::SessionToken, None), None);
        assert!(matches!(
            stage.command(
                KeyPurpose::SessionToken,
                Some((
                    String::from("3"),
                    String::from("AES-256-GCM"),
                    SealedBytes(vec![1]),
                    Vec::new()
                ))
            ),
            Some(Command::StageKey {
                term: 3,
                expected_latest_term: Some(2),
                ..
            })
        ));
        assert_eq!(
            RotationStep::Idle.command(KeyPurpose::SessionToken, None),
            None
        );
    }

    #[test]
    fn the_schedule_is_replicated_and_checked_at_apply_time() {
        use crate::config::command::{ConfigRequest, RequestId};
        use crate::config::state::ConfigState;
        let mut state = ConfigState::new();
        assert_eq!(
            state.view().key_ring().rotation,
            KeyRotationSettings::RECOMMENDED
        );
        let mut settings = KeyRotationSettings::RECOMMENDED;
        settings.rotate_after_ms = Some(60_000);
        settings.propagation_grace_ms = 2_000;
        let set = |id: u8, settings| ConfigRequest {
            request_id: RequestId([id; 16]),
            issued_at: at(1),
            command: Command::SetKeyRotation { settings },
        };
        assert!(state.apply(&set(1, settings)).is_ok());
        assert_eq!(state.view().key_ring().rotation, settings);
        let mut bad = settings;
        bad.min_propagation_ms = 5_000;
        assert!(state.apply(&set(2, bad)).is_err());
        assert_eq!(
            state.view().key_ring().rotation,
            settings,
            "a refusal changes nothing"
        );
    }

    #[test]
    fn settings_bounds() {
        assert_eq!(KeyRotationSettings::RECOMMENDED.check(), Ok(()));
        let mut bad = KeyRotationSettings::RECOMMENDED;
        bad.min_propagation_ms = bad.propagation_grace_ms + 1;
        assert!(bad.check().is_err());
        let mut bad = KeyRotationSettings::RECOMMENDED;
        bad.max_key_age_ms = 24 * 3_600_000;
        assert!(
            bad.check().is_err(),
            "keys would age out before their successor activates"
        );
        let mut bad = KeyRotationSettings::RECOMMENDED;
        bad.rotate_after_ms = Some(10);
        assert!(bad.check().is_err());
        let mut short = KeyRotationSettings::RECOMMENDED;
        short.max_token_lifetime_ms = super::super::LONGEST_TOKEN_MS - 1_000;
        assert!(
            short.check_new().is_err(),
            "a retired key would be destroyed before a 36 h token expires"
        );
        // Not refused at apply time: an older log replays the same.
        assert_eq!(short.check(), Ok(()));
        assert_eq!(KeyRotationSettings::RECOMMENDED.check_new(), Ok(()));
        let mut off = KeyRotationSettings::RECOMMENDED;
        off.rotate_after_ms = None;
        assert_eq!(off.check(), Ok(()));
    }
}
