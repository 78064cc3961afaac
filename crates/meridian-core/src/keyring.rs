//! The key ring that seals session tokens, and the node master key (KEK) that
//! keeps every secret encrypted at rest.
//!
//! # Data keys and their lifecycle
//!
//! A [`DataKey`] is 256 bits of AEAD key material with a numeric [`KeyId`]
//! (the rotation term). Its lifecycle is *pending → active → verify-only →
//! destroyed*, and it is driven by timestamps held in a [`KeySchedule`], so
//! the replicated store keeps plain data and every node computes the same
//! answer from `(ring, now)` alone:
//!
//! * **pending** while `now < activate_at`: the key verifies (a token sealed
//!   by a node whose clock is ahead still opens) but never signs. The
//!   propagation delay between `created_at` and `activate_at` is what lets
//!   every region hold a key before any token sealed under it reaches it;
//! * **active** when it is the signing key: among keys with
//!   `activate_at <= now` that are neither retired (`now >= retire_at`) nor
//!   destroyed, the one with the latest `activate_at` (ties: the highest id).
//!   Activating a new key therefore retires the previous one implicitly; no
//!   second write is needed at the switch-over instant;
//! * **verify-only** once superseded or past `retire_at`: it opens the tokens
//!   it sealed until they expire;
//! * **destroyed** from `destroy_at` on, or when the ring holds only a
//!   tombstone for it (material purged): it opens nothing, and callers get a
//!   distinct [`KeyError::KeyDestroyed`] rather than "unknown key".
//!
//! A rotation at `now` inserts key `n + 1` with `activate_at = now +
//! propagation delay` and sets the previous key's `destroy_at` to the new
//! key's `activate_at` plus the longest session lifetime plus the verifier's
//! clock leeway, so every token it sealed expires before its material goes
//! ([`KeyRing::plan_rotation`] computes exactly these writes).
//!
//! # The KEK envelope
//!
//! A [`Kek`] (32 bytes the server reads from a file or the environment)
//! encrypts secrets for storage with AES-256-GCM under a random 96-bit nonce.
//! The additional data binds a domain label, the secret's [`SecretPurpose`]
//! and its id (a data key's id, an access key id, an MFA serial, a JWT `kid`),
//! so a sealed blob moved to another record or purpose fails to open. The blob
//! also names the KEK's fingerprint, so "sealed under another master key" is
//! reported as such ([`KeyError::WrongKek`]). KEK operations are rare (a
//! rotation, a new access key), so random nonces are far from GCM's limits.
//!
//! Layout of a [`SealedSecret`]: `version (1) | kek fingerprint (8) | nonce
//! (12) | ciphertext | tag (16)`; a [`WrappedKey`] prefixes the data key's id
//! (4 bytes, big-endian) to a sealed secret of purpose
//! [`SecretPurpose::DataKey`].
//!
//! Secrets are zeroized on drop and `Debug` never prints key material.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ids::{AccessKeyId, SecretAccessKey};
use crate::rand::{RandomError, RandomSource};
use crate::time::Timestamp;

/// The AEAD that data keys are prepared for (the session token's cipher).
pub(crate) static DATA_KEY_AEAD: &aead::Algorithm = &aead::AES_256_GCM;

/// Errors of the key ring and the KEK envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key with this id is in the ring (never added, or removed).
    #[error("unknown data key {0}")]
    UnknownKey(KeyId),
    /// The key existed but is destroyed: nothing it sealed can be opened.
    #[error("data key {0} is destroyed")]
    KeyDestroyed(KeyId),
    /// No key in the ring may sign at this instant (all pending, retired or
    /// destroyed, or the ring is empty).
    #[error("no active data key")]
    NoSigningKey,
    /// A key with this id is already in the ring.
    #[error("data key {0} is already in the ring")]
    DuplicateKeyId(KeyId),
    /// The schedule's instants are out of order (`created_at <= activate_at
    /// <= retire_at <= destroy_at` is required, for the instants present).
    #[error("key schedule instants are out of order")]
    InvalidSchedule,
    /// A KEK must be exactly 32 bytes.
    #[error("master key must be 32 bytes, got {len}")]
    InvalidKekLength {
        /// The length that was supplied.
        len: usize,
    },
    /// The sealed secret names another KEK's fingerprint.
    #[error("secret was sealed under another master key (fingerprint {found})")]
    WrongKek {
        /// The fingerprint recorded in the sealed secret.
        found: KekFingerprint,
    },
    /// The sealed secret failed authentication: it was altered, or it is
    /// presented for another purpose or id than it was sealed for.
    #[error("sealed secret failed authentication")]
    EnvelopeAuthentication,
    /// The bytes are too short, too long, or have the wrong size for their kind.
    #[error("malformed sealed secret")]
    MalformedEnvelope,
    /// The sealed secret has a format version this build does not know.
    #[error("unsupported sealed secret version {0}")]
    UnsupportedEnvelopeVersion(u8),
    /// Randomness for a key or nonce could not be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// AWS-LC refused an operation on well-formed input (not expected).
    #[error("cryptographic operation failed")]
    Crypto,
}

/// A data key's id: its rotation term, unique within a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u32);

impl KeyId {
    /// The id `value`.
    pub const fn new(value: u32) -> KeyId {
        KeyId(value)
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// 256 bits of data key material and its id. Zeroized on drop; `Debug`
/// prints the id only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey {
    #[zeroize(skip)]
    id: KeyId,
    material: [u8; DataKey::LEN],
}

impl DataKey {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// Fresh key material for `id`.
    pub fn generate<R: RandomSource + ?Sized>(id: KeyId, rng: &mut R) -> Result<DataKey, KeyError> {
        let mut key = DataKey {
            id,
            material: [0; DataKey::LEN],
        };
        rng.fill(&mut key.material)?;
        Ok(key)
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("material", &"<redacted>")
            .finish()
    }
}

/// The lifecycle instants of a data key (see the module docs). Plain data:
/// the store replicates it as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySchedule {
    /// When the key was created (informational; `<= activate_at`).
    pub created_at: Timestamp,
    /// From this instant on the key may sign.
    pub activate_at: Timestamp,
    /// From this instant on the key no longer signs even if no newer key is
    /// active (`None`: signs until a newer key activates).
    pub retire_at: Option<Timestamp>,
    /// From this instant on the key opens nothing (`None`: not yet scheduled).
    pub destroy_at: Option<Timestamp>,
}

impl KeySchedule {
    /// A key created at `created_at` that activates at `activate_at`, with no
    /// retirement or destruction scheduled yet.
    pub fn new(created_at: Timestamp, activate_at: Timestamp) -> KeySchedule {
        KeySchedule {
            created_at,
            activate_at,
            retire_at: None,
            destroy_at: None,
        }
    }

    /// Whether the instants are in order.
    pub fn is_valid(&self) -> bool {
        let retire_ok = self.retire_at.is_none_or(|r| r >= self.activate_at);
        let floor = self.retire_at.unwrap_or(self.activate_at);
        let destroy_ok = self.destroy_at.is_none_or(|d| d >= floor);
        self.created_at <= self.activate_at && retire_ok && destroy_ok
    }
}

/// Where a key stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Not yet allowed to sign; verifies.
    Pending,
    /// The signing key.
    Active,
    /// Superseded or retired; verifies.
    VerifyOnly,
    /// Opens nothing.
    Destroyed,
}

#[derive(Clone)]
struct Entry {
    id: KeyId,
    schedule: KeySchedule,
    /// `None`: a tombstone whose material has been purged.
    aead: Option<Arc<LessSafeKey>>,
}

/// The data keys a node holds, prepared for sealing and opening.
///
/// Cloning is cheap (prepared keys are shared), so a new configuration
/// snapshot can copy the ring and change one entry.
#[derive(Clone, Default)]
pub struct KeyRing {
    /// Sorted by id.
    entries: Vec<Entry>,
}

/// A usable data key borrowed from the ring.
#[derive(Clone, Copy)]
pub struct RingKey<'a> {
    id: KeyId,
    schedule: &'a KeySchedule,
    aead: &'a LessSafeKey,
}

impl<'a> RingKey<'a> {
    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's schedule.
    pub fn schedule(&self) -> &'a KeySchedule {
        self.schedule
    }

    /// The prepared AEAD key ([`DATA_KEY_AEAD`]).
    pub(crate) fn aead(&self) -> &'a LessSafeKey {
        self.aead
    }
}

impl fmt::Debug for RingKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("id", &self.id)
            .field("schedule", self.schedule)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds `key` with `schedule`. The material is copied into a prepared
    /// AEAD key and the [`DataKey`] is dropped (zeroized).
    pub fn insert(&mut self, key: DataKey, schedule: KeySchedule) -> Result<(), KeyError> {
        let unbound =
            UnboundKey::new(DATA_KEY_AEAD, &key.material).map_err(|_| KeyError::Crypto)?;
        self.insert_entry(Entry {
            id: key.id,
            schedule,
            aead: Some(Arc::new(LessSafeKey::new(unbound))),
        })
    }

    /// Adds a tombstone: a key whose material is gone. It reports
    /// [`KeyError::KeyDestroyed`] (rather than "unknown") at every instant.
    pub fn insert_destroyed(&mut self, id: KeyId, schedule: KeySchedule) -> Result<(), KeyError> {
        self.insert_entry(Entry {
            id,
            schedule,
            aead: None,
        })
    }

    fn insert_entry(&mut self, entry: Entry) -> Result<(), KeyError> {
        if !entry.schedule.is_valid() {
            return Err(KeyError::InvalidSchedule);
        }
        match self.entries.binary_search_by_key(&entry.id, |e| e.id) {
            Ok(_) => Err(KeyError::DuplicateKeyId(entry.id)),
            Err(at) => {
                self.entries.insert(at, entry);
                Ok(())
            }
        }
    }

    /// Replaces the schedule of key `id` (a rotation sets the previous key's
    /// `destroy_at`; an operator may retire a key early).
    pub fn set_schedule(&mut self, id: KeyId, schedule: KeySchedule) -> Result<(), KeyError> {
        if !schedule.is_valid() {
            return Err(KeyError::InvalidSchedule);
        }
        let entry = self.entry_mut(id)?;
        entry.schedule = schedule;
        Ok(())
    }

    /// Drops the material of every key destroyed at `now`, keeping tombstones;
    /// returns how many keys were purged.
    pub fn purge_destroyed(&mut self, now: Timestamp) -> usize {
        let mut purged = 0;
        for entry in &mut self.entries {
            if entry.aead.is_some() && entry.schedule.destroy_at.is_some_and(|d| now >= d) {
                entry.aead = None;
                purged += 1;
            }
        }
        purged
    }

    /// Forgets key `id` entirely (afterwards it is unknown, not destroyed).
    /// Returns whether it was present.
    pub fn remove(&mut self, id: KeyId) -> bool {
        match self.entries.binary_search_by_key(&id, |e| e.id) {
            Ok(at) => {
                self.entries.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The ids in the ring, ascending.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.entries.iter().map(|e| e.id)
    }

    /// The number of keys, tombstones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the ring holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The schedule of key `id`.
    pub fn schedule(&self, id: KeyId) -> Option<&KeySchedule> {
        self.entry(id).ok().map(|e| &e.schedule)
    }

    /// The next unused id (one past the highest), for a rotation.
    pub fn next_id(&self) -> KeyId {
        KeyId(self.entries.last().map_or(1, |e| e.id.0.saturating_add(1)))
    }

    /// The state of key `id` at `now`, or `None` if the ring does not hold it.
    pub fn state(&self, id: KeyId, now: Timestamp) -> Option<KeyState> {
        let entry = self.entry(id).ok()?;
        let state = if is_destroyed(entry, now) {
            KeyState::Destroyed
        } else if now < entry.schedule.activate_at {
            KeyState::Pending
        } else if self
            .signing_entry(now)
            .is_some_and(|active| active.id == id)
        {
            KeyState::Active
        } else {
            KeyState::VerifyOnly
        };
        Some(state)
    }

    /// The key to seal with at `now`: the active key. Never a pending,
    /// retired or destroyed one.
    pub fn signing_key(&self, now: Timestamp) -> Result<RingKey<'_>, KeyError> {
        let entry = self.signing_entry(now).ok_or(KeyError::NoSigningKey)?;
        ring_key(entry).ok_or(KeyError::NoSigningKey)
    }

    /// The key `id` for opening at `now`: pending, active and verify-only keys
    /// are returned; destroyed ones are refused with [`KeyError::KeyDestroyed`].
    pub fn key(&self, id: KeyId, now: Timestamp) -> Result<RingKey<'_>, KeyError> {
        let entry = self.entry(id)?;
        if is_destroyed(entry, now) {
            return Err(KeyError::KeyDestroyed(id));
        }
        ring_key(entry).ok_or(KeyError::KeyDestroyed(id))
    }

    /// What a rotation started at `now` writes (one replicated command):
    ///
    /// * a new key [`KeyRing::next_id`] created at `now` that activates at
    ///   `now + propagation_delay`, so every region holds it before anyone
    ///   signs with it;
    /// * for the key signing at `now` (if any): `destroy_at` = the new key's
    ///   activation + `max_session_lifetime` + `leeway`, the last instant a
    ///   token it sealed can still be presented. An earlier `destroy_at`
    ///   already scheduled is kept.
    ///
    /// `expected_active` is the compare-and-set precondition: apply the plan
    /// only if the signing key is still that one.
    pub fn plan_rotation(
        &self,
        now: Timestamp,
        propagation_delay: Duration,
        max_session_lifetime: Duration,
        leeway: Duration,
    ) -> RotationPlan {
        let activate_at = now.plus_millis(millis(propagation_delay));
        let previous = self.signing_entry(now).map(|entry| {
            let last_use = activate_at
                .plus_millis(millis(max_session_lifetime))
                .plus_millis(millis(leeway));
            let mut schedule = entry.schedule;
            schedule.destroy_at = Some(schedule.destroy_at.map_or(last_use, |d| d.min(last_use)));
            (entry.id, schedule)
        });
        RotationPlan {
            expected_active: previous.map(|(id, _)| id),
            new_id: self.next_id(),
            new_schedule: KeySchedule::new(now, activate_at),
            previous,
        }
    }

    fn signing_entry(&self, now: Timestamp) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| {
                !is_destroyed(e, now)
                    && e.schedule.activate_at <= now
                    && e.schedule.retire_at.is_none_or(|r| now < r)
            })
            .max_by_key(|e| (e.schedule.activate_at, e.id))
    }

    fn entry(&self, id: KeyId) -> Result<&Entry, KeyError> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .map(|at| &self.entries[at])
            .map_err(|_| KeyError::UnknownKey(id))
    }

    fn entry_mut(&mut self, id: KeyId) -> Result<&mut Entry, KeyError> {
        match self.entries.binary_search_by_key(&id, |e| e.id) {
            Ok(at) => Ok(&mut self.entries[at]),
            Err(_) => Err(KeyError::UnknownKey(id)),
        }
    }
}

/// The writes of one key rotation (see [`KeyRing::plan_rotation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPlan {
    /// The key that must still be signing when the plan is applied (`None`:
    /// the ring must have no signing key, e.g. the first key of a cluster).
    pub expected_active: Option<KeyId>,
    /// The new key's id.
    pub new_id: KeyId,
    /// The new key's schedule.
    pub new_schedule: KeySchedule,
    /// The signing key's id and its updated schedule (with `destroy_at`).
    pub previous: Option<(KeyId, KeySchedule)>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn is_destroyed(entry: &Entry, now: Timestamp) -> bool {
    entry.aead.is_none() || entry.schedule.destroy_at.is_some_and(|d| now >= d)
}

fn ring_key(entry: &Entry) -> Option<RingKey<'_>> {
    entry.aead.as_deref().map(|aead| RingKey {
        id: entry.id,
        schedule: &entry.schedule,
        aead,
    })
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for entry in &self.entries {
            list.entry(&format_args!(
                "{{id: {}, schedule: {:?}, material: {}}}",
                entry.id,
                entry.schedule,
                if entry.aead.is_some() {
                    "<redacted>"
                } else {
                    "<purged>"
                }
            ));
        }
        list.finish()
    }
}

/// What a sealed secret is, bound into its additional data so a blob cannot be
/// reused for another purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretPurpose {
    /// A data key of the ring (id: the key id, 4 bytes big-endian).
    DataKey,
    /// A long-term access key's secret (id: the access key id).
    AccessKeySecret,
    /// A virtual MFA device's TOTP seed (id: the device serial).
    MfaSeed,
    /// A JWT signing key for GetWebIdentityToken (id: the `kid`).
    JwtSigningKey,
}

impl SecretPurpose {
    /// The stable code written into the additional data.
    const fn code(self) -> u8 {
        match self {
            SecretPurpose::DataKey => 1,
            SecretPurpose::AccessKeySecret => 2,
            SecretPurpose::MfaSeed => 3,
            SecretPurpose::JwtSigningKey => 4,
        }
    }
}

/// The first 8 bytes of HMAC-SHA256(KEK, label): identifies a master key
/// without revealing it. Shown in status output and in [`KeyError::WrongKek`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KekFingerprint([u8; 8]);

impl KekFingerprint {
    /// The fingerprint's bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KekFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KekFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekFingerprint({self})")
    }
}

const ENVELOPE_VERSION: u8 = 1;
const ENVELOPE_LABEL: &[u8] = b"meridian-envelope-v1\0";
const FINGERPRINT_LABEL: &[u8] = b"meridian kek fingerprint v1";
const DERIVATION_LABEL: &[u8] = b"meridian kek derivation v1";
const NONCE_LEN: usize = aead::NONCE_LEN;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;
/// The largest secret the envelope seals (JWT signing keys are the largest
/// expected, a few KiB as PKCS#8).
pub const MAX_SECRET_LEN: usize = 64 * 1024;
/// The longest id bound into a sealed secret's additional data.
pub const MAX_SECRET_ID_LEN: usize = 1024;

/// A secret sealed under a [`Kek`]: opaque bytes the store persists.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Accepts stored bytes after checking their length and version (the
    /// content is checked when opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SealedSecret, KeyError> {
        if bytes.len() < HEADER_LEN + TAG_LEN || bytes.len() > HEADER_LEN + MAX_SECRET_LEN + TAG_LEN
        {
            return Err(KeyError::MalformedEnvelope);
        }
        if bytes[0] != ENVELOPE_VERSION {
            return Err(KeyError::UnsupportedEnvelopeVersion(bytes[0]));
        }
        Ok(SealedSecret(bytes))
    }

    /// The bytes to persist.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to persist, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The fingerprint of the KEK that sealed it.
    pub fn kek_fingerprint(&self) -> KekFingerprint {
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&self.0[1..9]);
        KekFingerprint(fingerprint)
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedSecret({} bytes, kek {})",
            self.0.len(),
            self.kek_fingerprint()
        )
    }
}

/// A data key sealed under a [`Kek`]: its id in the clear (4 bytes,
/// big-endian) followed by a [`SealedSecret`] bound to that id.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// The exact length of a wrapped key.
    pub const LEN: usize = 4 + HEADER_LEN + DataKey::LEN + TAG_LEN;

    /// Accepts stored bytes after checking their length and version.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<WrappedKey, KeyError> {
        if bytes.len() != WrappedKey::LEN {
            return Err(KeyError::MalformedEnvelope);
        }
        if bytes[4] != ENVELOPE_VERSION {
            return Err(KeyError::UnsupportedEnvelopeVersion(bytes[4]));
        }
        Ok(WrappedKey(bytes))
    }

    /// The id of the key inside (authenticated when unwrapped).
    pub fn key_id(&self) -> KeyId {
        KeyId(u32::from_be_bytes([
            self.0[0], self.0[1], self.0[2], self.0[3],
        ]))
    }

    /// The bytes to persist.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to persist, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrappedKey(id {}, {} bytes)",
            self.key_id(),
            self.0.len()
        )
    }
}

/// The node master key. Construct it from the 32 bytes the server reads from
/// its key file or environment; `Debug` shows the fingerprint only.
pub struct Kek {
    aead: LessSafeKey,
    fingerprint: KekFingerprint,
    /// HMAC key that MAC keys for other purposes are derived from
    /// ([`Kek::derive_mac_key`]); never the KEK bytes themselves.
    derivation: hmac::Key,
}

impl Kek {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// The KEK made of `bytes` (exactly 32). The caller should zeroize its copy.
    pub fn from_bytes(bytes: &[u8]) -> Result<Kek, KeyError> {
        if bytes.len() != Kek::LEN {
            return Err(KeyError::InvalidKekLength { len: bytes.len() });
        }
        let unbound = UnboundKey::new(&aead::AES_256_GCM, bytes).map_err(|_| KeyError::Crypto)?;
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), FINGERPRINT_LABEL);
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&tag.as_ref()[..8]);
        let derivation = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), DERIVATION_LABEL);
        Ok(Kek {
            aead: LessSafeKey::new(unbound),
            fingerprint: KekFingerprint(fingerprint),
            derivation: hmac::Key::new(hmac::HMAC_SHA256, derivation.as_ref()),
        })
    }

    /// A fresh KEK (for `meridian dev`), with the bytes to persist.
    pub fn generate<R: RandomSource + ?Sized>(
        rng: &mut R,
    ) -> Result<(Kek, Zeroizing<[u8; Kek::LEN]>), KeyError> {
        let mut bytes = Zeroizing::new([0u8; Kek::LEN]);
        rng.fill(bytes.as_mut())?;
        let kek = Kek::from_bytes(bytes.as_ref())?;
        Ok((kek, bytes))
    }

    /// The KEK's fingerprint.
    pub fn fingerprint(&self) -> KekFingerprint {
        self.fingerprint
    }

    /// An HMAC-SHA256 key for `label`, derived from the KEK
    /// (`HMAC(HMAC(kek, "meridian kek derivation v1"), label)`): every node
    /// holding the same KEK derives the same key, and distinct labels give
    /// independent keys. For values that must be authenticated across the
    /// cluster at high volume without a nonce budget (AES-GCM with random
    /// nonces is limited to about 2^32 seals per key), such as the verifier's
    /// context handles.
    pub fn derive_mac_key(&self, label: &[u8]) -> hmac::Key {
        let derived = hmac::sign(&self.derivation, label);
        hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
    }

    /// Seals `secret` for `purpose` and `id`.
    pub fn seal_secret<R: RandomSource + ?Sized>(
        &self,
        purpose: SecretPurpose,
        id: &[u8],
        secret: &[u8],
        rng: &mut R,
    ) -> Result<SealedSecret, KeyError> {
        if secret.len() > MAX_SECRET_LEN || id.len() > MAX_SECRET_ID_LEN {
            return Err(KeyError::MalformedEnvelope);
        }
        let mut out = Vec::with_capacity(HEADER_LEN + secret.len() + TAG_LEN);
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&self.fingerprint.0);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(secret);
        let aad = envelope_aad(purpose, id, &out[..HEADER_LEN]);
        let tag = self
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut out[HEADER_LEN..],
            )
            .map_err(|_| KeyError::Crypto)?;
        out.extend_from_slice(tag.as_ref());
        Ok(SealedSecret(out))
    }

    /// Opens a secret sealed for `purpose` and `id`.
    pub fn open_secret(
        &self,
        purpose: SecretPurpose,
        id: &[u8],
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let bytes = &sealed.0;
        let found = sealed.kek_fingerprint();
        if found != self.fingerprint {
            return Err(KeyError::WrongKek { found });
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[9..HEADER_LEN]);
        let aad = envelope_aad(purpose, id, &bytes[..HEADER_LEN]);
        let mut buffer = Zeroizing::new(bytes[HEADER_LEN..].to_vec());
        let plain_len = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buffer,
            )
            .map_err(|_| KeyError::EnvelopeAuthentication)?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }

    /// Seals the secret of the long-term key `access_key_id` for storage,
    /// bound to that id.
    pub fn seal_access_key_secret<R: RandomSource + ?Sized>(
        &self,
        access_key_id: &AccessKeyId,
        secret: &SecretAccessKey,
        rng: &mut R,
    ) -> Result<SealedSecret, KeyError> {
        self.seal_secret(
            SecretPurpose::AccessKeySecret,
            access_key_id.as_str().as_bytes(),
            secret.expose_secret().as_bytes(),
            rng,
        )
    }

    /// Opens the stored secret of `access_key_id`.
    pub fn open_access_key_secret(
        &self,
        access_key_id: &AccessKeyId,
        sealed: &SealedSecret,
    ) -> Result<SecretAccessKey, KeyError> {
        let opened = self.open_secret(
            SecretPurpose::AccessKeySecret,
            access_key_id.as_str().as_bytes(),
            sealed,
        )?;
        std::str::from_utf8(&opened)
            .ok()
            .and_then(|text| SecretAccessKey::parse(text).ok())
            .ok_or(KeyError::MalformedEnvelope)
    }

    /// Seals a data key for storage.
    pub fn wrap<R: RandomSource + ?Sized>(
        &self,
        key: &DataKey,
        rng: &mut R,
    ) -> Result<WrappedKey, KeyError> {
        let id = key.id.0.to_be_bytes();
        let sealed = self.seal_secret(SecretPurpose::DataKey, &id, &key.material, rng)?;
        let mut out = Vec::with_capacity(WrappedKey::LEN);
        out.extend_from_slice(&id);
        out.extend_from_slice(&sealed.0);
        Ok(WrappedKey(out))
    }

    /// Recovers a data key from storage.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let id = wrapped.key_id();
        let sealed = SealedSecret::from_bytes(wrapped.0[4..].to_vec())?;
        let material = self.open_secret(SecretPurpose::DataKey, &id.0.to_be_bytes(), &sealed)?;
        let mut key = DataKey {
            id,
            material: [0; DataKey::LEN],
        };
        if material.len() != DataKey::LEN {
            return Err(KeyError::MalformedEnvelope);
        }
        key.material.copy_from_slice(&material);
        Ok(key)
    }
}

fn envelope_aad(purpose: SecretPurpose, id: &[u8], header: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(ENVELOPE_LABEL.len() + 3 + id.len() + header.len());
    aad.extend_from_slice(ENVELOPE_LABEL);
    aad.push(purpose.code());
    // `id.len() <= MAX_SECRET_ID_LEN` was checked when sealing; opening with
    // a longer id simply fails authentication.
    aad.extend_from_slice(&u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes());
    aad.extend_from_slice(id);
    aad.extend_from_slice(header);
    aad
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Kek(fingerprint {}, material <redacted>)",
            self.fingerprint
        )
    }
}
