//! The derived signing key and a bounded, thread-safe cache of them.
//!
//! `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`
//! costs four HMACs; a busy key id signs many requests per day with the same
//! scope, so verifiers keep derived keys. A [`SigningKey`] holds aws-lc's
//! prepared HMAC key (inner and outer pads already hashed), which saves the
//! key setup on every signature; aws-lc zeroes it on drop
//! (`HMAC_CTX_cleanup` cleanses the context), and the raw derived bytes are
//! zeroized as soon as the prepared key exists.
//!
//! The cache is keyed by the credential (`AKID/date/region/service/aws4_request`)
//! and every entry also stores a fingerprint of the secret it was derived
//! from: `SHA-256("meridian sigv4 signing-key cache v1" || secret)`. A lookup
//! recomputes the fingerprint (one short hash) and compares it in constant
//! time, so a secret that changed for the same key id (rotation, a re-issued
//! key) never hits a stale key. Neither the fingerprint nor the key is
//! printed: `Debug` shows only sizes.
//!
//! Bounded: the cache is split in shards, each a `BTreeMap` (no hashing seed,
//! so no randomness of our own) with FIFO eviction at capacity. Shards are
//! chosen by an FNV-1a hash of the credential; a skewed distribution costs
//! only speed. Locks are held only to copy a key in or out; every hash runs
//! outside them. A poisoned lock is recovered, never propagated as a panic.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::sigv4::TERMINATOR;

const FINGERPRINT_LABEL: &[u8] = b"meridian sigv4 signing-key cache v1";
const SHARDS: usize = 8;

fn hmac_sha256(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, message);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(tag.as_ref());
    out
}

/// The raw `kSigning` bytes.
fn derive_bytes(secret: &[u8], date: &str, region: &str, service: &str) -> Zeroizing<[u8; 32]> {
    let mut prefixed = Zeroizing::new(Vec::with_capacity(secret.len() + 4));
    prefixed.extend_from_slice(b"AWS4");
    prefixed.extend_from_slice(secret);
    let k_date = hmac_sha256(&prefixed, date.as_bytes());
    let k_region = hmac_sha256(&*k_date, region.as_bytes());
    let k_service = hmac_sha256(&*k_region, service.as_bytes());
    hmac_sha256(&*k_service, TERMINATOR.as_bytes())
}

fn fingerprint(secret: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(FINGERPRINT_LABEL);
    context.update(secret);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// A derived SigV4 signing key, prepared for HMAC. Cleansed on drop by aws-lc;
/// `Debug` is redacted.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl SigningKey {
    /// Derives the key for a credential scope.
    pub fn derive(secret: &[u8], date: &str, region: &str, service: &str) -> SigningKey {
        let bytes = derive_bytes(secret, date, region, service);
        SigningKey(hmac::Key::new(hmac::HMAC_SHA256, &*bytes))
    }

    /// The lower-case hex signature of `string_to_sign`.
    pub fn signature_hex(&self, string_to_sign: &[u8]) -> String {
        super::canonical::lower_hex(hmac::sign(&self.0, string_to_sign).as_ref())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

struct Entry {
    fingerprint: Zeroizing<[u8; 32]>,
    key: SigningKey,
}

struct Shard {
    entries: BTreeMap<String, Entry>,
    order: VecDeque<String>,
}

/// A bounded cache of signing keys, usable from many threads through `&self`.
pub struct SigningKeyCache {
    shards: Vec<Mutex<Shard>>,
    capacity_per_shard: usize,
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

fn shard_index(credential: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in credential.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % SHARDS as u64) as usize
}

impl SigningKeyCache {
    /// A cache holding about `capacity` keys (rounded up to a multiple of the
    /// shard count; `0` disables caching).
    pub fn new(capacity: usize) -> SigningKeyCache {
        SigningKeyCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: BTreeMap::new(),
                        order: VecDeque::new(),
                    })
                })
                .collect(),
            capacity_per_shard: capacity.div_ceil(SHARDS),
        }
    }

    /// How many keys the cache holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity_per_shard * SHARDS
    }

    /// How many keys the cache holds now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| lock(shard).entries.len())
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The signing key for `access_key_id` and the scope, derived from
    /// `secret` unless a key derived from the same secret is cached.
    pub fn get_or_derive(
        &self,
        access_key_id: &str,
        date: &str,
        region: &str,
        service: &str,
        secret: &[u8],
    ) -> SigningKey {
        if self.capacity_per_shard == 0 {
            return SigningKey::derive(secret, date, region, service);
        }
        let credential = format!("{access_key_id}/{date}/{region}/{service}/{TERMINATOR}");
        let fingerprint = fingerprint(secret);
        let shard = &self.shards[shard_index(&credential)];
        {
            let guard = lock(shard);
            if let Some(entry) = guard.entries.get(&credential)
                && bool::from(entry.fingerprint.ct_eq(&*fingerprint))
            {
                return entry.key.clone();
            }
        }
        let key = SigningKey::derive(secret, date, region, service);
        let entry = Entry {
            fingerprint,
            key: key.clone(),
        };
        let mut guard = lock(shard);
        if let Some(existing) = guard.entries.get_mut(&credential) {
            // Same key id, different secret: replace in place, keep its age.
            *existing = entry;
        } else {
            while guard.entries.len() >= self.capacity_per_shard {
                match guard.order.pop_front() {
                    Some(oldest) => {
                        guard.entries.remove(&oldest);
                    }
                    None => break,
                }
            }
            guard.order.push_back(credential.clone());
            guard.entries.insert(credential, entry);
        }
        key
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// Signs a fixed message: keys are opaque, so they are compared by what they sign.
    fn sig(key: &SigningKey) -> String {
        key.signature_hex(b"probe")
    }

    #[test]
    fn derives_the_documented_key() {
        // AWS's documented example: secret above, 20150830/us-east-1/iam.
        let bytes = derive_bytes(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(*bytes),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let key = SigningKey::derive(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(sig(&key), hex::encode(hmac_sha256(&*bytes, b"probe")));
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn a_changed_secret_never_hits_a_stale_key() {
        let cache = SigningKeyCache::new(16);
        let first = cache.get_or_derive("AKID", "20150830", "us-east-1", "sts", SECRET);
        let again = cache.get_or_derive("AKID", "20150830", "us-east-1", "sts", SECRET);
        assert_eq!(sig(&first), sig(&again));
        assert_eq!(cache.len(), 1);
        let rotated =
            cache.get_or_derive("AKID", "20150830", "us-east-1", "sts", b"another secret");
        assert_ne!(sig(&first), sig(&rotated));
        assert_eq!(
            sig(&rotated),
            sig(&SigningKey::derive(
                b"another secret",
                "20150830",
                "us-east-1",
                "sts"
            ))
        );
        assert_eq!(cache.len(), 1);
        let shown = format!("{cache:?}");
        assert!(
            !shown.contains("fingerprint") && shown.contains("len: 1"),
            "{shown}"
        );
    }

    #[test]
    fn stays_within_capacity() {
        let cache = SigningKeyCache::new(16);
        let expected = sig(&SigningKey::derive(SECRET, "20150830", "us-east-1", "sts"));
        for index in 0..500 {
            let key_id = format!("AKID{index}");
            let key = cache.get_or_derive(&key_id, "20150830", "us-east-1", "sts", SECRET);
            assert_eq!(sig(&key), expected);
            assert!(
                cache.len() <= cache.capacity(),
                "len {} after {index}",
                cache.len()
            );
        }
        assert_eq!(cache.capacity(), 16);
        assert!(cache.len() > 8, "the cache keeps recent keys");
        let disabled = SigningKeyCache::new(0);
        disabled.get_or_derive("AKID", "20150830", "us-east-1", "sts", SECRET);
        assert!(disabled.is_empty());
    }

    #[test]
    fn many_threads_share_one_cache() {
        let cache = SigningKeyCache::new(64);
        let expected = sig(&SigningKey::derive(SECRET, "20150830", "us-east-1", "sts"));
        let rotated = sig(&SigningKey::derive(
            b"rotated",
            "20150830",
            "us-east-1",
            "sts",
        ));
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let cache = &cache;
                let (expected, rotated) = (&expected, &rotated);
                scope.spawn(move || {
                    for round in 0..300 {
                        let key_id = format!("AKID{}", round % 100);
                        // Odd threads use a different secret for the same key ids:
                        // every answer must match the secret asked with.
                        let (secret, want): (&[u8], &String) = if thread % 2 == 0 {
                            (SECRET, expected)
                        } else {
                            (b"rotated", rotated)
                        };
                        let key =
                            cache.get_or_derive(&key_id, "20150830", "us-east-1", "sts", secret);
                        assert_eq!(&sig(&key), want);
                    }
                });
            }
        });
        assert!(cache.len() <= cache.capacity());
    }
}
