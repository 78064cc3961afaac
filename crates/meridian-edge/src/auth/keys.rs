//! The node's key material as the edge uses it.
//!
//! The key material itself — the KEK, the session-token ring built once per
//! replicated ring, sealed authorization messages, verifier context-handle
//! MACs — lives in [`meridian_core::access::keys`], because the gRPC
//! verifier and the Admin API use the same material and must answer the
//! same way. This module wraps it for the edge: [`KeyMaterial`] derefs to
//! the shared core value (so `session_ring`, `access_key_secret`,
//! `open_message`, … are core's) and keeps the producer helpers taking the
//! edge's own [`RandomSource`]; [`KeyMaterial::shared`] hands the same
//! instance (one ring cache) to the other services of the node.
//!
//! Conventions for producers of sealed material are documented on
//! [`meridian_core::access::keys`].

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use meridian_core::access::keys::KeyMaterial as SharedKeys;
use meridian_core::config::model::SealedBytes;
use meridian_core::ids::SecretAccessKey;
use meridian_core::keyring::{Kek, KeyError};
use meridian_core::rand::{RandomError, RandomSource as CoreRandom};

pub use meridian_core::access::keys::{ring_from_key_ring, ring_from_records};

use crate::state::RandomSource;

/// The edge's [`RandomSource`] as core's (`&mut`, fallible) one.
pub struct EdgeRandom<'a>(pub &'a dyn RandomSource);

impl CoreRandom for EdgeRandom<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest);
        Ok(())
    }
}

impl fmt::Debug for EdgeRandom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EdgeRandom")
    }
}

/// The node's key material (see the module docs). Build one per node with
/// [`KeyMaterial::new`] and share it (`Arc`).
#[derive(Debug, Clone)]
pub struct KeyMaterial(Arc<SharedKeys>);

impl Deref for KeyMaterial {
    type Target = SharedKeys;

    fn deref(&self) -> &SharedKeys {
        &self.0
    }
}

impl KeyMaterial {
    /// Key material around the node's KEK.
    pub fn new(kek: Kek) -> KeyMaterial {
        KeyMaterial(Arc::new(SharedKeys::new(kek)))
    }

    /// The same material as core's type, for the node's other services (the
    /// verifier, the Admin API): one KEK, one ring cache.
    pub fn shared(&self) -> Arc<SharedKeys> {
        Arc::clone(&self.0)
    }

    /// Seals a long-term secret for `CreateAccessKey`.
    pub fn seal_access_key_secret(
        &self,
        access_key_id: &str,
        secret: &SecretAccessKey,
        random: &dyn RandomSource,
    ) -> Result<SealedBytes, KeyError> {
        self.0
            .seal_access_key_secret(access_key_id, secret, &mut EdgeRandom(random))
    }

    /// Generates data key `term` and wraps it for a `StageKey` command.
    pub fn wrap_session_key(
        &self,
        term: u32,
        random: &dyn RandomSource,
    ) -> Result<SealedBytes, KeyError> {
        self.0.wrap_session_key(term, &mut EdgeRandom(random))
    }

    /// Seals an authorization-failure message.
    pub fn seal_message(
        &self,
        message: &[u8],
        random: &dyn RandomSource,
    ) -> Result<Vec<u8>, KeyError> {
        self.0.seal_message(message, &mut EdgeRandom(random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Counter(AtomicU64);
    impl RandomSource for Counter {
        fn fill(&self, dest: &mut [u8]) {
            for byte in dest.iter_mut() {
                *byte = (self.0.fetch_add(1, Ordering::Relaxed) % 251) as u8;
            }
        }
    }

    #[test]
    fn edge_helpers_and_the_shared_material_agree() {
        let keys = KeyMaterial::new(Kek::from_bytes(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}")));
        let random = Counter(AtomicU64::new(1));
        let secret = SecretAccessKey::parse("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            .unwrap_or_else(|e| panic!("{e}"));
        let sealed = keys
            .seal_access_key_secret("AKIAAAAAAAAAAAAAAAAA", &secret, &random)
            .unwrap_or_else(|e| panic!("{e}"));
        let shared = keys.shared();
        let opened = shared
            .access_key_secret("AKIAAAAAAAAAAAAAAAAA", &sealed)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.as_slice(), secret.expose_secret().as_bytes());
        let message = keys
            .seal_message(b"{\"allowed\":false}", &random)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            shared.open_message(&message).map(|m| m.to_vec()),
            Ok(b"{\"allowed\":false}".to_vec())
        );
        assert!(Arc::ptr_eq(&shared, &keys.shared()));
    }
}
