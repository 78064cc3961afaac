//! Meridian as an OIDC issuer: the JWT signing keys of the replicated key
//! ring prepared for signing, their JWKS, the discovery documents, and the
//! generation of new keys for `StageKey`.
//!
//! * **Keys** are records of the replicated key ring with purposes
//!   `JwtSigning` (RS256, RSA-2048) and `JwtSigningEs384` (P-384), so they
//!   follow the data keys' lifecycle and rotate with the same commands and
//!   planner (`config::cluster::rotation`). [`generate_jwt_key`] makes the
//!   material of a new one: the PKCS#8 private key sealed under the KEK
//!   (purpose `JwtSigningKey`, bound to the `kid`) and the public key as
//!   `meridian_core::oidc::outbound` documents it. The first key of each
//!   algorithm is staged and activated by `EnableOutboundWebIdentityFederation`
//!   when the ring has none; rotation reuses [`generate_jwt_key`].
//! * **Signers** ([`JwtSigners`]) are built once per distinct replicated
//!   ring (one KEK unwrap per key), like the session-token ring, and shared.
//! * **Publication**: every node of every region serves the same documents
//!   from the same replicated state: `GET /.well-known/jwks.json` (all
//!   pending, active and verify-only JWT keys, so a verifier sees a key
//!   before anything is signed with it and old tokens verify until they
//!   expire; cacheable for at most the schedule's `min_propagation`, the
//!   least time a staged key waits before it signs — see
//!   [`jwks_max_age_seconds`]), and for each account's issuer `{base}/oidc/{id}`,
//!   `GET /oidc/{id}/.well-known/openid-configuration` and
//!   `GET /oidc/{id}/.well-known/jwks.json`.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use meridian_core::config::cluster::{KeyPurpose, KeyRecord, KeyState};
use meridian_core::config::model::SealedBytes;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::keyring::{Kek, KeyError, SealedSecret, SecretPurpose};
use meridian_core::oidc::jwk::Algorithm;
use meridian_core::oidc::outbound::{self, PublishedKey};
use meridian_core::time::Timestamp;

use crate::auth::keys::EdgeRandom;
use crate::state::{EdgeState, RandomSource};

/// The JWT purposes and their algorithms.
pub const JWT_PURPOSES: [(KeyPurpose, Algorithm); 2] = [
    (KeyPurpose::JwtSigning, Algorithm::Rs256),
    (KeyPurpose::JwtSigningEs384, Algorithm::Es384),
];

/// The purpose whose keys sign `alg`.
pub fn purpose_of(alg: Algorithm) -> Option<KeyPurpose> {
    JWT_PURPOSES
        .iter()
        .find(|(_, a)| *a == alg)
        .map(|(purpose, _)| *purpose)
}

/// The `kid` of JWT key `term` of `purpose` (`rs256-3`, `es384-1`): unique
/// across the ring, since terms are unique per purpose.
pub fn jwt_kid(purpose: KeyPurpose, term: u64) -> String {
    format!("{}-{term}", purpose.algorithm().to_ascii_lowercase())
}

/// The material of a new JWT key, for `Command::StageKey`.
#[derive(Clone)]
pub struct NewJwtKey {
    /// The `kid` (`key_id`).
    pub key_id: String,
    /// The JOSE algorithm (`algorithm`).
    pub algorithm: String,
    /// The PKCS#8 private key sealed under the KEK.
    pub sealed_key: SealedBytes,
    /// The public key (RFC 8017 DER for RSA, SEC1 point for EC).
    pub public_key: Vec<u8>,
}

impl fmt::Debug for NewJwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewJwtKey")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Generates JWT key `term` of `purpose` (AWS-LC draws the key's randomness;
/// `random` seals it). `Err` for `SessionToken`.
pub fn generate_jwt_key(
    kek: &Kek,
    purpose: KeyPurpose,
    term: u64,
    random: &dyn RandomSource,
) -> Result<NewJwtKey, KeyError> {
    let key_id = jwt_kid(purpose, term);
    let (pkcs8, public_key): (Vec<u8>, Vec<u8>) = match purpose {
        KeyPurpose::JwtSigning => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
            let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .map_err(|_| KeyError::Crypto)?;
            (der.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        KeyPurpose::JwtSigningEs384 => {
            let pair = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
                .map_err(|_| KeyError::Crypto)?;
            let der = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto)?;
            (der.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        _ => return Err(KeyError::Crypto),
    };
    let pkcs8 = zeroize::Zeroizing::new(pkcs8);
    let sealed = kek.seal_secret(
        SecretPurpose::JwtSigningKey,
        key_id.as_bytes(),
        &pkcs8,
        &mut EdgeRandom(random),
    )?;
    Ok(NewJwtKey {
        key_id,
        algorithm: purpose.algorithm().to_owned(),
        sealed_key: SealedBytes(sealed.into_bytes()),
        public_key,
    })
}

/// A prepared private key.
enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// One active signer.
pub struct Signer {
    kid: String,
    alg: Algorithm,
    key: SigningKey,
    /// When its key became active: it stops signing `max_key_age` later.
    active_since: Timestamp,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether the key may still sign at `now`: not once `max_key_age` has
    /// passed since its activation (RELIABILITY.md "Decisions": a region
    /// cut off from the quorum signs with its active key up to
    /// `max_key_age`, then fails closed, as for session tokens; a connected
    /// cluster rotates long before, and the rest of the cluster may already
    /// have destroyed the key).
    pub fn may_sign(&self, now: Timestamp, max_key_age_ms: u64) -> bool {
        let age = i64::try_from(max_key_age_ms).unwrap_or(i64::MAX);
        now < self.active_since.plus_millis(age)
    }

    /// Signs `message` (RS256: PKCS#1 v1.5 SHA-256; ES384: fixed-length r||s).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.key {
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Crypto)?;
                Ok(signature)
            }
            SigningKey::Ec(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
        }
    }
}

/// The signers and published keys of one replicated ring.
#[derive(Default)]
pub struct JwtKeySet {
    signers: Vec<Signer>,
    published: Vec<PublishedKey>,
    jwks: String,
}

impl fmt::Debug for JwtKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeySet")
            .field("signers", &self.signers)
            .field("published", &self.published.len())
            .finish()
    }
}

impl JwtKeySet {
    /// The active signer for `alg`.
    pub fn signer(&self, alg: Algorithm) -> Option<&Signer> {
        self.signers.iter().find(|signer| signer.alg == alg)
    }

    /// The published keys.
    pub fn published(&self) -> &[PublishedKey] {
        &self.published
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    fn build(kek: &Kek, records: impl Iterator<Item = KeyRecord>) -> JwtKeySet {
        let mut set = JwtKeySet::default();
        for record in records {
            let Some(alg) = JWT_PURPOSES
                .iter()
                .find(|(purpose, _)| *purpose == record.purpose)
                .map(|(_, alg)| *alg)
            else {
                continue;
            };
            if record.state == KeyState::Destroyed {
                continue;
            }
            match outbound::published_key(&record.key_id, alg, &record.public_key) {
                Ok(published) => set.published.push(published),
                Err(error) => {
                    tracing::error!(kid = %record.key_id, %error, "JWT public key unusable");
                    continue;
                }
            }
            if record.state == KeyState::Active {
                match open_signer(kek, &record, alg) {
                    Ok(signer) => set.signers.push(signer),
                    Err(error) => {
                        tracing::error!(kid = %record.key_id, %error, "JWT signing key left out");
                    }
                }
            }
        }
        set.jwks = outbound::jwks_document(&set.published);
        set
    }
}

fn open_signer(kek: &Kek, record: &KeyRecord, alg: Algorithm) -> Result<Signer, KeyError> {
    let sealed = SealedSecret::from_bytes(record.sealed_key.0.clone())?;
    let pkcs8 = kek.open_secret(
        SecretPurpose::JwtSigningKey,
        record.key_id.as_bytes(),
        &sealed,
    )?;
    let key = match alg {
        Algorithm::Rs256 => {
            SigningKey::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Crypto)?)
        }
        Algorithm::Es384 => SigningKey::Ec(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &pkcs8)
                .map_err(|_| KeyError::Crypto)?,
        ),
        _ => return Err(KeyError::Crypto),
    };
    Ok(Signer {
        kid: record.key_id.clone(),
        alg,
        key,
        active_since: record.activated_at.unwrap_or(record.created_at),
    })
}

struct Cached {
    built_from: ConfigSnapshot,
    set: Arc<JwtKeySet>,
}

/// [`JwtKeySet`]s cached per distinct replicated ring.
#[derive(Default)]
pub struct JwtSigners {
    cached: RwLock<Option<Cached>>,
}

impl fmt::Debug for JwtSigners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSigners")
    }
}

impl JwtSigners {
    /// The key set of `snapshot`'s ring, built once per distinct ring.
    pub fn for_snapshot(&self, kek: &Kek, snapshot: &ConfigSnapshot) -> Arc<JwtKeySet> {
        {
            let cached = self.cached.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cached.as_ref()
                && std::ptr::eq(cached.built_from.key_ring(), snapshot.key_ring())
            {
                return Arc::clone(&cached.set);
            }
        }
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = cached.as_mut()
            && jwt_records(entry.built_from.key_ring()) == jwt_records(snapshot.key_ring())
        {
            entry.built_from = snapshot.clone();
            return Arc::clone(&entry.set);
        }
        let set = Arc::new(JwtKeySet::build(
            kek,
            jwt_records(snapshot.key_ring()).into_iter(),
        ));
        *cached = Some(Cached {
            built_from: snapshot.clone(),
            set: Arc::clone(&set),
        });
        set
    }
}

fn jwt_records(ring: &meridian_core::config::cluster::KeyRing) -> Vec<KeyRecord> {
    ring.keys
        .values()
        .filter(|record| JWT_PURPOSES.iter().any(|(p, _)| *p == record.purpose))
        .cloned()
        .collect()
}

/// The account whose issuer URL ends in `/oidc/{id}`.
fn issuer_for(snapshot: &ConfigSnapshot, id: &str) -> Option<String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let suffix = format!("/oidc/{id}");
    snapshot.accounts().find_map(|account| {
        account
            .account
            .outbound_federation
            .as_ref()
            .filter(|federation| federation.issuer_url.ends_with(&suffix))
            .map(|federation| federation.issuer_url.clone())
    })
}

/// The longest a published document may be cached, in seconds.
const MAX_CACHE_SECONDS: u64 = 300;

fn json(body: String, max_age_seconds: u64) -> Response {
    let cache = format!("public, max-age={}", max_age_seconds.min(MAX_CACHE_SECONDS));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_str(&cache)
                    .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
            ),
        ],
        body,
    )
        .into_response()
}

/// How long a JWKS may be cached: no longer than a staged key waits before
/// it may sign (the schedule's `min_propagation`), so a relying party that
/// honours `Cache-Control` has refetched, and holds the new key, before the
/// first token signed with it exists.
pub fn jwks_max_age_seconds(snapshot: &ConfigSnapshot) -> u64 {
    (snapshot.key_ring().rotation.min_propagation_ms / 1_000).min(MAX_CACHE_SECONDS)
}

/// `GET /.well-known/jwks.json` and `GET /oidc/{id}/.well-known/jwks.json`.
pub async fn jwks_route(State(state): State<EdgeState>) -> Response {
    let snapshot = state.snapshot();
    let set = state
        .federation()
        .signers
        .for_snapshot(state.keys().kek(), &snapshot);
    json(set.jwks().to_owned(), jwks_max_age_seconds(&snapshot))
}

/// `GET /oidc/{id}/.well-known/jwks.json`.
pub async fn issuer_jwks_route(State(state): State<EdgeState>, Path(id): Path<String>) -> Response {
    if issuer_for(&state.snapshot(), &id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    jwks_route(State(state)).await
}

/// `GET /oidc/{id}/.well-known/openid-configuration`.
pub async fn discovery_route(State(state): State<EdgeState>, Path(id): Path<String>) -> Response {
    match issuer_for(&state.snapshot(), &id) {
        Some(issuer) => {
            let jwks_uri = format!("{issuer}/.well-known/jwks.json");
            json(
                outbound::discovery_document(&issuer, &jwks_uri),
                MAX_CACHE_SECONDS,
            )
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
