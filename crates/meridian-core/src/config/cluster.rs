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

use std::collections::{BTreeMap, BTreeSet};

use crate::config::model::SealedBytes;
use crate::time::Timestamp;

/// What a key of the ring is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// Seals and opens session tokens (a symmetric data key).
    SessionToken,
    /// Signs JWTs for `GetWebIdentityToken` (an asymmetric key pair).
    JwtSigning,
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

/// The replicated key ring: every key of every purpose, by (purpose, term).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    /// Keys by purpose and term.
    pub keys: BTreeMap<(KeyPurpose, u64), KeyRecord>,
}

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
