//! The node's key material as request paths use it: the KEK that opens what
//! the replicated configuration keeps sealed, the session-token key ring
//! derived from the snapshot, and the keys that authenticate what a node
//! hands out for later (authorization messages, verifier context handles).
//!
//! The replicated configuration holds *records*: long-term secrets sealed
//! under the cluster's key-encryption key, and the session-token data keys as
//! [`WrappedKey`]s with a lifecycle state (`config::cluster::KeyRecord`).
//! Minting and opening tokens needs a prepared [`KeyRing`], which costs one
//! KEK unwrap per key to build — far too much per request — so it is built
//! once per distinct snapshot key ring and shared behind an `Arc`:
//!
//! * the cache keeps a clone of the snapshot it was built from (a handful of
//!   `Arc` clones), which pins that snapshot's key-ring allocation, so a
//!   pointer comparison against the request's snapshot is a sound hit test
//!   (the address cannot be reused while it is pinned);
//! * on a pointer miss the records are compared by value (a new snapshot after
//!   an unrelated IAM write shares an equal ring) before anything is rebuilt.
//!
//! Conventions this module fixes for every producer of sealed material (the
//! IAM `CreateAccessKey` handler, the server's key rotation, tests):
//!
//! * a long-term secret is the 40-character secret text, sealed with
//!   [`SecretPurpose::AccessKeySecret`] and the access key id as id
//!   ([`KeyMaterial::seal_access_key_secret`]);
//! * a session-token data key record has `purpose = SessionToken`, `term` =
//!   the data key's [`KeyId`], and `sealed_key` = [`Kek::wrap`] of the key
//!   ([`KeyMaterial::wrap_session_key`]); lifecycle states map to the ring's
//!   schedule as documented on [`ring_from_records`].
//!
//! Authorization messages (`DecodeAuthorizationMessage`) are sealed under the
//! KEK as well, bound to a fixed id that no access key can have. The
//! envelope has no dedicated purpose for them yet; binding the id keeps them
//! from ever opening as anything else.
//!
//! Verifier context handles (what `Authenticate` hands a resource service so
//! that `Authorize` can later trust the caller it names) are not secret — the
//! resource service receives the same facts in clear — so they are only
//! authenticated, with an HMAC key derived from the KEK
//! ([`Kek::derive_mac_key`]): every node of the cluster accepts a handle
//! another node made, and there is no nonce budget to exhaust at verifier
//! request rates.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::config::cluster::{KeyPurpose, KeyRecord, KeyRing as ReplicatedRing, KeyState};
use crate::config::model::SealedBytes;
use crate::config::snapshot::ConfigSnapshot;
use crate::ids::SecretAccessKey;
use crate::keyring::{
    DataKey, Kek, KeyError, KeyId, KeyRing, KeySchedule, SealedSecret, SecretPurpose, WrappedKey,
};
use crate::rand::RandomSource;
use crate::time::Timestamp;

/// The id authorization messages are sealed under (never an access key id:
/// those are 20 characters of `A–Z2–7`).
const MESSAGE_ID: &[u8] = b"meridian:authorization-message:v1";

/// The label of the verifier context-handle MAC key.
const CONTEXT_MAC_LABEL: &[u8] = b"meridian:verifier-context:v1";

/// Length of a context-handle tag (HMAC-SHA256).
pub const CONTEXT_TAG_LEN: usize = 32;

/// "Never" for a pending key's activation: far enough to be unreachable, far
/// from `i64::MAX` so no arithmetic on it can overflow.
const NEVER: Timestamp = Timestamp::from_unix_millis(i64::MAX / 4);

/// The session-token ring built for one snapshot key ring.
struct CachedRing {
    /// Pins the snapshot (and so its key-ring allocation) the ring was built from.
    built_from: ConfigSnapshot,
    ring: Arc<KeyRing>,
}

/// The KEK plus what is derived from it. Build one per node with
/// [`KeyMaterial::new`] and share it (`Arc`) between the edge, the verifier
/// and the server.
pub struct KeyMaterial {
    kek: Kek,
    context_mac: hmac::Key,
    ring: RwLock<Option<CachedRing>>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// Key material around the node's KEK.
    pub fn new(kek: Kek) -> KeyMaterial {
        let context_mac = kek.derive_mac_key(CONTEXT_MAC_LABEL);
        KeyMaterial {
            kek,
            context_mac,
            ring: RwLock::new(None),
        }
    }

    /// The KEK (for producers of sealed material that need more than the
    /// helpers here).
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// Seals a long-term secret for `CreateAccessKey`.
    pub fn seal_access_key_secret(
        &self,
        access_key_id: &str,
        secret: &SecretAccessKey,
        random: &mut dyn RandomSource,
    ) -> Result<SealedBytes, KeyError> {
        let sealed = self.kek.seal_secret(
            SecretPurpose::AccessKeySecret,
            access_key_id.as_bytes(),
            secret.expose_secret().as_bytes(),
            random,
        )?;
        Ok(SealedBytes(sealed.into_bytes()))
    }

    /// Opens the secret of the long-term key `access_key_id` (the bytes SigV4
    /// signs with). Errors mean the record was not sealed for this id under
    /// this KEK.
    pub fn access_key_secret(
        &self,
        access_key_id: &str,
        sealed: &SealedBytes,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let sealed = SealedSecret::from_bytes(sealed.0.clone())?;
        self.kek.open_secret(
            SecretPurpose::AccessKeySecret,
            access_key_id.as_bytes(),
            &sealed,
        )
    }

    /// Generates data key `term` and wraps it for a `StageKey` command.
    pub fn wrap_session_key(
        &self,
        term: u32,
        random: &mut dyn RandomSource,
    ) -> Result<SealedBytes, KeyError> {
        let key = DataKey::generate(KeyId::new(term), random)?;
        let wrapped = self.kek.wrap(&key, random)?;
        Ok(SealedBytes(wrapped.into_bytes()))
    }

    /// The session-token key ring of `snapshot`, built once per distinct
    /// replicated ring.
    pub fn session_ring(&self, snapshot: &ConfigSnapshot) -> Arc<KeyRing> {
        {
            let cached = self.ring.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cached.as_ref()
                && std::ptr::eq(cached.built_from.key_ring(), snapshot.key_ring())
            {
                return Arc::clone(&cached.ring);
            }
        }
        let mut cached = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = cached.as_mut()
            && entry.built_from.key_ring() == snapshot.key_ring()
        {
            // Equal records: keep the ring, re-pin the newer snapshot so the
            // next requests hit the pointer test.
            entry.built_from = snapshot.clone();
            return Arc::clone(&entry.ring);
        }
        let ring = Arc::new(ring_from_key_ring(&self.kek, snapshot.key_ring()));
        *cached = Some(CachedRing {
            built_from: snapshot.clone(),
            ring: Arc::clone(&ring),
        });
        ring
    }

    /// Seals an authorization-failure message.
    pub fn seal_message(
        &self,
        message: &[u8],
        random: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, KeyError> {
        let sealed =
            self.kek
                .seal_secret(SecretPurpose::AccessKeySecret, MESSAGE_ID, message, random)?;
        Ok(sealed.into_bytes())
    }

    /// Opens a sealed authorization-failure message.
    pub fn open_message(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let sealed = SealedSecret::from_bytes(sealed.to_vec())?;
        self.kek
            .open_secret(SecretPurpose::AccessKeySecret, MESSAGE_ID, &sealed)
    }

    /// The tag that authenticates a verifier context handle's `body`.
    pub fn context_tag(&self, body: &[u8]) -> [u8; CONTEXT_TAG_LEN] {
        let tag = hmac::sign(&self.context_mac, body);
        let mut out = [0u8; CONTEXT_TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `tag` authenticates `body` (constant-time comparison).
    pub fn verify_context_tag(&self, body: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.context_mac, body, tag).is_ok()
    }
}

/// Builds the session-token ring of a replicated key ring: as
/// [`ring_from_records`], and the active key stops signing `max_key_age`
/// after its activation (RELIABILITY.md "Decisions": a region cut off from
/// the quorum keeps signing with its active key up to `max_key_age`, then
/// fails closed for issuance; a connected cluster rotates long before).
pub fn ring_from_key_ring(kek: &Kek, replicated: &ReplicatedRing) -> KeyRing {
    let max_age = i64::try_from(replicated.rotation.max_key_age_ms).unwrap_or(i64::MAX);
    let mut ring = ring_from_records(kek, replicated.keys.values());
    if let Some(active) = replicated.active(KeyPurpose::SessionToken)
        && let Ok(term) = u32::try_from(active.term)
        && let Some(schedule) = ring.schedule(KeyId::new(term)).copied()
    {
        let since = active.activated_at.unwrap_or(active.created_at);
        let retire_at = since.plus_millis(max_age).max(schedule.activate_at);
        let aged = KeySchedule {
            retire_at: Some(retire_at),
            ..schedule
        };
        if let Err(error) = ring.set_schedule(KeyId::new(term), aged) {
            tracing::error!(term, %error, "max key age not applied to the active key");
        }
    }
    ring
}

/// Builds the session-token ring from replicated key records.
///
/// The replicated lifecycle is explicit (one command per transition), while
/// the ring's is timestamp-driven, so each state maps to a schedule that
/// yields the same state at every instant:
///
/// | record      | schedule                                                     |
/// |-------------|--------------------------------------------------------------|
/// | Pending     | activates "never" (verifies, never signs)                    |
/// | Active      | active since creation, no retirement                         |
/// | VerifyOnly  | retired at creation, destroyed at `verify_until`             |
/// | Destroyed   | tombstone                                                    |
///
/// Records that fail to unwrap are left out (logged): tokens sealed under them
/// then fail as "unknown key", and if it was the active key minting answers
/// "no signing key" — never a token under a key this node cannot open.
pub fn ring_from_records<'a>(kek: &Kek, records: impl Iterator<Item = &'a KeyRecord>) -> KeyRing {
    let mut ring = KeyRing::new();
    for record in records.filter(|r| r.purpose == KeyPurpose::SessionToken) {
        let Ok(term) = u32::try_from(record.term) else {
            tracing::error!(term = record.term, "session key term does not fit a key id");
            continue;
        };
        let id = KeyId::new(term);
        let created = record.created_at;
        let added = match record.state {
            KeyState::Destroyed => ring.insert_destroyed(id, KeySchedule::new(created, created)),
            state => {
                let schedule = match state {
                    KeyState::Pending => KeySchedule::new(created, NEVER.max(created)),
                    KeyState::Active => KeySchedule::new(created, created),
                    _ => KeySchedule {
                        created_at: created,
                        activate_at: created,
                        retire_at: Some(created),
                        destroy_at: Some(record.verify_until.unwrap_or(created).max(created)),
                    },
                };
                unwrap_record(kek, record, id).and_then(|key| ring.insert(key, schedule))
            }
        };
        if let Err(error) = added {
            tracing::error!(term, %error, "session key left out of the ring");
        }
    }
    ring
}

fn unwrap_record(kek: &Kek, record: &KeyRecord, id: KeyId) -> Result<DataKey, KeyError> {
    let wrapped = WrappedKey::from_bytes(record.sealed_key.0.clone())?;
    if wrapped.key_id() != id {
        return Err(KeyError::MalformedEnvelope);
    }
    kek.unwrap(&wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::DeterministicRandom;

    fn record(keys: &KeyMaterial, term: u64, state: KeyState) -> KeyRecord {
        let mut random = DeterministicRandom::from_seed(term * 1000);
        KeyRecord {
            purpose: KeyPurpose::SessionToken,
            term,
            key_id: term.to_string(),
            algorithm: "AES-256-GCM".into(),
            state,
            sealed_key: keys
                .wrap_session_key(u32::try_from(term).unwrap_or(0), &mut random)
                .unwrap_or_default(),
            public_key: Vec::new(),
            created_at: Timestamp::from_unix_seconds(100),
            activate_after: Timestamp::from_unix_seconds(100),
            activated_at: None,
            verify_until: Some(Timestamp::from_unix_seconds(1_000)),
        }
    }

    fn material(byte: u8) -> KeyMaterial {
        KeyMaterial::new(Kek::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn lifecycle_states_map_to_the_ring() {
        let keys = material(7);
        let records = [
            record(&keys, 1, KeyState::Destroyed),
            record(&keys, 2, KeyState::VerifyOnly),
            record(&keys, 3, KeyState::Active),
            record(&keys, 4, KeyState::Pending),
        ];
        let ring = ring_from_records(keys.kek(), records.iter());
        let now = Timestamp::from_unix_seconds(500);
        assert_eq!(ring.signing_key(now).map(|k| k.id()), Ok(KeyId::new(3)));
        assert!(matches!(
            ring.key(KeyId::new(1), now),
            Err(KeyError::KeyDestroyed(_))
        ));
        assert!(ring.key(KeyId::new(2), now).is_ok());
        assert!(matches!(
            ring.key(KeyId::new(2), Timestamp::from_unix_seconds(1_000)),
            Err(KeyError::KeyDestroyed(_))
        ));
        assert!(ring.key(KeyId::new(4), now).is_ok());
    }

    #[test]
    fn the_active_key_stops_signing_at_max_key_age() {
        let keys = material(7);
        let mut active = record(&keys, 3, KeyState::Active);
        active.activated_at = Some(Timestamp::from_unix_seconds(200));
        let mut replicated = ReplicatedRing::default();
        replicated.rotation.max_key_age_ms = 100_000;
        replicated
            .keys
            .insert((KeyPurpose::SessionToken, 3), active);
        let ring = ring_from_key_ring(keys.kek(), &replicated);
        assert_eq!(
            ring.signing_key(Timestamp::from_unix_seconds(299))
                .map(|k| k.id()),
            Ok(KeyId::new(3))
        );
        assert_eq!(
            ring.signing_key(Timestamp::from_unix_seconds(300))
                .map(|k| k.id()),
            Err(KeyError::NoSigningKey),
            "too old to sign"
        );
        assert!(
            ring.key(KeyId::new(3), Timestamp::from_unix_seconds(400))
                .is_ok(),
            "an aged key still verifies"
        );
    }

    #[test]
    fn records_sealed_elsewhere_are_left_out() {
        let keys = material(7);
        let other = material(9);
        let foreign = record(&other, 5, KeyState::Active);
        let ring = ring_from_records(keys.kek(), std::iter::once(&foreign));
        assert!(ring.is_empty());
        assert_eq!(
            ring.signing_key(Timestamp::from_unix_seconds(500))
                .map(|k| k.id()),
            Err(KeyError::NoSigningKey)
        );
    }

    #[test]
    fn secrets_and_messages_round_trip_and_stay_apart() {
        let keys = material(7);
        let mut random = DeterministicRandom::from_seed(1);
        let secret = SecretAccessKey::parse("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            .unwrap_or_else(|e| panic!("{e}"));
        let sealed = keys
            .seal_access_key_secret("AKIAAAAAAAAAAAAAAAAA", &secret, &mut random)
            .unwrap_or_else(|e| panic!("{e}"));
        let opened = keys
            .access_key_secret("AKIAAAAAAAAAAAAAAAAA", &sealed)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.as_slice(), secret.expose_secret().as_bytes());
        assert!(
            keys.access_key_secret("AKIABBBBBBBBBBBBBBBB", &sealed)
                .is_err()
        );
        assert!(keys.open_message(&sealed.0).is_err());
        let message = keys
            .seal_message(b"{\"allowed\":false}", &mut random)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            keys.open_message(&message).map(|m| m.to_vec()),
            Ok(b"{\"allowed\":false}".to_vec())
        );
    }

    #[test]
    fn context_tags_verify_only_under_the_same_kek_and_body() {
        let keys = material(7);
        let same = material(7);
        let other = material(9);
        let tag = keys.context_tag(b"context");
        assert!(same.verify_context_tag(b"context", &tag));
        assert!(!other.verify_context_tag(b"context", &tag));
        assert!(!keys.verify_context_tag(b"contexT", &tag));
        assert!(!keys.verify_context_tag(b"context", &tag[..31]));
        let mut flipped = tag;
        flipped[31] ^= 1;
        assert!(!keys.verify_context_tag(b"context", &flipped));
    }
}
