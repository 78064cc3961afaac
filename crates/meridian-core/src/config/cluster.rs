//! The cluster-wide parts of the replicated configuration: the key ring,
//! regions, revocations and nodes.
//!
//! The key ring holds *records* of keys: the key material itself is sealed
//! under the key-encryption key by the proposer ([`SealedBytes`]) and only
//! unsealed by a node's own key ring (`crate::keyring`). A key's lifecycle is
//! *pending → active → verify-only → destroyed*, one step per replicated
//! command, each with a compare-and-set precondition so that a deposed leader
//! can never install a second key for the same term (RELIABILITY.md, F1).
//! Destroyed keys stay as tombstones so that a term is never reused.
//! Whether the cluster is bootstrapped is a fact of the node table
//! ([`bootstrap::BootstrapRecord`]).

pub mod bootstrap;
pub mod rotation;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::model::SealedBytes;
use crate::time::Timestamp;

/// What a key of the ring is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// Seals and opens session tokens (a symmetric data key).
    SessionToken,
    /// Signs `RS256` JWTs for `GetWebIdentityToken` (an RSA-2048 key pair).
    JwtSigning,
    /// Signs `ES384` JWTs for `GetWebIdentityToken` (a P-384 key pair). One
    /// purpose per algorithm, so each has exactly one active key and rotates
    /// on its own with the same commands and planner as the others.
    JwtSigningEs384,
}

impl KeyPurpose {
    /// Every purpose: what the rotation task walks.
    pub const ALL: [KeyPurpose; 3] = [
        KeyPurpose::SessionToken,
        KeyPurpose::JwtSigning,
        KeyPurpose::JwtSigningEs384,
    ];

    /// The algorithm recorded for keys of this purpose (`KeyRecord::algorithm`;
    /// for JWT keys, the JOSE `alg`).
    pub fn algorithm(self) -> &'static str {
        match self {
            KeyPurpose::SessionToken => "AES-256-GCM",
            KeyPurpose::JwtSigning => "RS256",
            KeyPurpose::JwtSigningEs384 => "ES384",
        }
    }
}

/// Where a key is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    /// Replicated but not yet used to seal or sign; already accepted for
    /// verification, so that tokens sealed once it is active verify everywhere.
    Pending,
    /// Used to seal or sign new tokens (at most one per purpose).
    Active,
    /// No longer used to seal or sign; still verifies until `verify_until`.
    VerifyOnly,
    /// Gone: material dropped, kept as a tombstone so the term is never reused.
    Destroyed,
}

/// One key of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// What it is for.
    pub purpose: KeyPurpose,
    /// Its term: 1, 2, 3, … per purpose, never reused.
    pub term: u64,
    /// The id tokens carry (also the JWT `kid`), unique across the ring.
    pub key_id: String,
    /// The algorithm, e.g. `AES-256-GCM` or `ES256`.
    pub algorithm: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// The key (or private key) sealed under the key-encryption key; empty
    /// once destroyed.
    pub sealed_key: SealedBytes,
    /// The public key (DER) for asymmetric keys; empty for symmetric ones.
    pub public_key: Vec<u8>,
    /// When it was staged.
    pub created_at: Timestamp,
    /// The earliest instant it may become active (the propagation delay).
    pub activate_after: Timestamp,
    /// When it became active.
    pub activated_at: Option<Timestamp>,
    /// Until when it verifies once retired (set when it leaves `Active`).
    pub verify_until: Option<Timestamp>,
}

impl KeyRecord {
    /// Whether tokens sealed or signed with this key are accepted at `now`.
    pub fn verifies_at(&self, now: Timestamp) -> bool {
        match self.state {
            KeyState::Pending | KeyState::Active => true,
            KeyState::VerifyOnly => self.verify_until.is_some_and(|until| now < until),
            KeyState::Destroyed => false,
        }
    }
}

/// The replicated key ring: every key of every purpose, by (purpose, term),
/// and the rotation schedule the leader follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    /// Keys by purpose and term.
    pub keys: BTreeMap<(KeyPurpose, u64), KeyRecord>,
    /// When keys rotate and how long each phase lasts (`SetKeyRotation`).
    pub rotation: KeyRotationSettings,
}

/// The replicated key-rotation schedule (RELIABILITY.md, F1 and the
/// two-phase rotation decision). Durations are milliseconds of replicated
/// time. The leader's rotation task reads it; [`rotation::plan`] turns it and
/// the ring into the next compare-and-set command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRotationSettings {
    /// Stage a successor once the active key has been active this long;
    /// `None` turns automatic rotation off (rotation on demand still works).
    pub rotate_after_ms: Option<u64>,
    /// The apply-time floor between staging a key and activating it
    /// (`activate_after`): even when every member confirmed the staged key
    /// at once, nothing signs with it sooner. Also how long (at most 300 s)
    /// a relying party may cache the published JWKS, so that it holds a new
    /// JWT key before the first token signed with it exists: raise it to
    /// let JWKS caches live longer.
    pub min_propagation_ms: u64,
    /// Activate a pending key this long after it was staged even when some
    /// member never confirmed it: must exceed the worst replication lag the
    /// cluster tolerates (a member further behind may see tokens from a key
    /// it does not hold yet).
    pub propagation_grace_ms: u64,
    /// The longest lifetime of a token a key seals or signs; a retired key
    /// verifies this long plus the leeway after it stops signing, then is
    /// destroyed. At least [`LONGEST_TOKEN_MS`] (36 h: `GetSessionToken` and
    /// `GetFederationToken`), or a retired key could be destroyed while a
    /// token it sealed is still valid.
    pub max_token_lifetime_ms: u64,
    /// Clock skew between nodes tolerated on top of the token lifetime.
    pub leeway_ms: u64,
    /// A region cut off from the quorum signs with its active key for at
    /// most this long after the key's activation, then fails closed for
    /// issuance (`max_key_age`, RELIABILITY.md "Decisions").
    pub max_key_age_ms: u64,
}

/// The longest lifetime of any token Meridian issues: 36 h
/// (`GetSessionToken` and `GetFederationToken`; role sessions last at most
/// 12 h, web-identity JWTs 1 h). The floor of `max_token_lifetime`.
pub const LONGEST_TOKEN_MS: u64 = 36 * HOUR_MS;

impl KeyRotationSettings {
    /// The defaults: rotate daily, activate after every member confirmed
    /// (at least 1 s, at most 10 min after staging), keep retired keys 36 h
    /// plus 5 min, stop signing with a key older than 7 days.
    pub const RECOMMENDED: KeyRotationSettings = KeyRotationSettings {
        rotate_after_ms: Some(24 * HOUR_MS),
        min_propagation_ms: 1_000,
        propagation_grace_ms: 10 * 60 * 1_000,
        max_token_lifetime_ms: 36 * HOUR_MS,
        leeway_ms: 5 * 60 * 1_000,
        max_key_age_ms: 7 * 24 * HOUR_MS,
    };

    /// The bounds every field must respect, as a refusal message if not.
    pub fn check(&self) -> Result<(), String> {
        const DAY_MS: u64 = 24 * HOUR_MS;
        if self
            .rotate_after_ms
            .is_some_and(|every| !(1_000..=365 * DAY_MS).contains(&every))
        {
            return Err(String::from("rotate_after must be 1 s to 365 days"));
        }
        if self.min_propagation_ms > self.propagation_grace_ms {
            return Err(String::from(
                "min_propagation must not exceed propagation_grace",
            ));
        }
        if self.propagation_grace_ms > DAY_MS {
            return Err(String::from("propagation_grace must be at most 1 day"));
        }
        if !(1_000..=30 * DAY_MS).contains(&self.max_token_lifetime_ms) {
            return Err(String::from("max_token_lifetime must be 1 s to 30 days"));
        }
        if self.leeway_ms > DAY_MS {
            return Err(String::from("leeway must be at most 1 day"));
        }
        if !(1_000..=365 * DAY_MS).contains(&self.max_key_age_ms) {
            return Err(String::from("max_key_age must be 1 s to 365 days"));
        }
        if self.rotate_after_ms.is_some_and(|every| {
            every.saturating_add(self.propagation_grace_ms) >= self.max_key_age_ms
        }) {
            return Err(String::from(
                "max_key_age must exceed rotate_after plus propagation_grace, or keys age out before their successor activates",
            ));
        }
        Ok(())
    }
}

impl KeyRotationSettings {
    /// [`KeyRotationSettings::check`] plus the floors a schedule an
    /// operator sets now must respect: `max_token_lifetime` at least
    /// [`LONGEST_TOKEN_MS`]. Checked where the schedule is proposed (the
    /// Admin API), not at apply time, so a log written under the older
    /// bounds replays to the same state on every version.
    pub fn check_new(&self) -> Result<(), String> {
        self.check()?;
        if self.max_token_lifetime_ms < LONGEST_TOKEN_MS {
            return Err(String::from(
                "max_token_lifetime must be at least 36 h: a retired key verifies this long, and STS issues tokens of up to 36 h (GetSessionToken, GetFederationToken)",
            ));
        }
        Ok(())
    }
}

impl Default for KeyRotationSettings {
    fn default() -> KeyRotationSettings {
        KeyRotationSettings::RECOMMENDED
    }
}

const HOUR_MS: u64 = 3_600_000;

impl KeyRing {
    /// The active key of a purpose.
    pub fn active(&self, purpose: KeyPurpose) -> Option<&KeyRecord> {
        self.keys
            .range((purpose, 0)..=(purpose, u64::MAX))
            .map(|(_, key)| key)
            .find(|key| key.state == KeyState::Active)
    }

    /// The highest term of a purpose (destroyed keys included).
    pub fn latest_term(&self, purpose: KeyPurpose) -> Option<u64> {
        self.keys
            .range((purpose, 0)..=(purpose, u64::MAX))
            .next_back()
            .map(|((_, term), _)| *term)
    }

    /// A key by purpose and term.
    pub fn get(&self, purpose: KeyPurpose, term: u64) -> Option<&KeyRecord> {
        self.keys.get(&(purpose, term))
    }

    /// A key by its id.
    pub fn by_key_id(&self, key_id: &str) -> Option<&KeyRecord> {
        self.keys.values().find(|key| key.key_id == key_id)
    }
}

/// Whether a region is in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegionStatus {
    /// In service.
    Active,
    /// Being emptied: no new nodes, clients sent elsewhere.
    Draining,
}

/// A region of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Its name, e.g. `eu-west-1`.
    pub name: String,
    /// Active or draining.
    pub status: RegionStatus,
    /// Whether nodes of this region issue credentials; when false they answer
    /// `RegionDisabledException` and keep verifying.
    pub issuance_enabled: bool,
    /// When it was added.
    pub created_at: Timestamp,
}

/// Replicated revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Per role (account id, lower-case role name): sessions issued before
    /// this instant are refused (the `aws:TokenIssueTime` pattern).
    pub role_sessions_before: BTreeMap<(String, String), Timestamp>,
    /// Individually denied session ids, until the session's own expiry.
    pub denied_sessions: BTreeMap<String, Timestamp>,
}

/// Where a node listens and which region it belongs to: the node value kept
/// in the Raft membership.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeInfo {
    /// The node's region.
    pub region: String,
    /// The gRPC address peers use for Raft and forwarding (`http://host:port`).
    pub raft_addr: String,
    /// The HTTP edge address clients use (`http://host:port`), if any.
    pub api_addr: String,
}

/// A member of the cluster as the applied membership says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node id.
    pub id: u64,
    /// Where it is.
    pub info: NodeInfo,
    /// Voter (true) or learner (false).
    pub voter: bool,
}

/// The nodes the cluster has known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTable {
    /// Current members (voters and learners), from the last applied membership.
    pub members: BTreeMap<u64, NodeRecord>,
    /// Every id that has ever been a member: never admitted again.
    pub ever_members: BTreeSet<u64>,
    /// The next id `ReserveNodeId` hands out (above every id ever seen).
    pub next_node_id: u64,
    /// Set once, by the one `Bootstrap` entry the cluster ever applies
    /// ([`bootstrap`]); `None` on a cluster not bootstrapped yet (or
    /// bootstrapped before the record existed).
    pub bootstrap: Option<bootstrap::BootstrapRecord>,
}

impl NodeTable {
    /// Whether an id has ever been a member of the cluster (and so must not be
    /// used by a node that starts with an empty log).
    pub fn is_known(&self, id: u64) -> bool {
        self.ever_members.contains(&id) || self.members.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(purpose: KeyPurpose, term: u64, state: KeyState) -> KeyRecord {
        KeyRecord {
            purpose,
            term,
            key_id: format!("{purpose:?}-{term}"),
            algorithm: String::from("AES-256-GCM"),
            state,
            sealed_key: SealedBytes(vec![1]),
            public_key: Vec::new(),
            created_at: Timestamp::EPOCH,
            activate_after: Timestamp::EPOCH,
            activated_at: None,
            verify_until: Some(Timestamp::from_unix_seconds(100)),
        }
    }

    #[test]
    fn ring_lookups_are_per_purpose() {
        let mut ring = KeyRing::default();
        for (purpose, term, state) in [
            (KeyPurpose::SessionToken, 1, KeyState::VerifyOnly),
            (KeyPurpose::SessionToken, 2, KeyState::Active),
            (KeyPurpose::SessionToken, 3, KeyState::Pending),
            (KeyPurpose::JwtSigning, 7, KeyState::Active),
        ] {
            ring.keys.insert((purpose, term), key(purpose, term, state));
        }
        assert_eq!(
            ring.active(KeyPurpose::SessionToken).map(|k| k.term),
            Some(2)
        );
        assert_eq!(ring.active(KeyPurpose::JwtSigning).map(|k| k.term), Some(7));
        assert_eq!(ring.latest_term(KeyPurpose::SessionToken), Some(3));
        assert_eq!(ring.by_key_id("JwtSigning-7").map(|k| k.term), Some(7));
        let retired = ring.get(KeyPurpose::SessionToken, 1).unwrap();
        assert!(retired.verifies_at(Timestamp::from_unix_seconds(99)));
        assert!(!retired.verifies_at(Timestamp::from_unix_seconds(100)));
    }
}
