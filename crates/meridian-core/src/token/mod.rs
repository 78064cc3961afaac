//! The session token: a self-contained, versioned, opaque credential.
//!
//! Minting a credential set ([`mint`]) draws a session id, a secret access key
//! and an `ASIA…` access key id that encodes the principal's account, then
//! seals everything a verifier needs — principal, region, times, session
//! policies and tags, MFA, role chaining, source identity and the secret
//! itself — under the key ring's active data key. Any node in any region
//! opens it ([`open`]) with nothing but its key ring: no lookup, no network.
//!
//! # Format
//!
//! The wire form is standard base64 (with padding, as AWS tokens) of
//!
//! ```text
//! version     1 byte   (1)          ┐
//! key id      4 bytes  big-endian   │ header: in the clear,
//! access key  10 bytes ASIA suffix  │ authenticated as
//! nonce       12 bytes random       ┘ additional data
//! body        sealed (see v1.rs)
//! tag         16 bytes
//! ```
//!
//! sealed with AES-256-GCM. The additional data is a domain label followed by
//! the header, so the version, key id and access key id are all
//! authenticated. The version byte stays outside the ciphertext so verifiers
//! of two versions can coexist during a rolling upgrade: a node routes on the
//! first byte and answers [`TokenError::UnsupportedVersion`] for versions it
//! does not know. The access key id sits in the header so that presenting a
//! token with another key is reported as [`TokenError::AccessKeyMismatch`]
//! before any decryption.
//!
//! Nonces are 96 random bits. Because each data key is active only between
//! two rotations, the number of tokens sealed under one key is bounded by the
//! rotation period; at the usual bound of 2³² random-nonce messages per key
//! (collision probability 2⁻³²), a daily rotation allows ~50 000 mints/s
//! across the whole cluster, sustained for the whole day.
//!
//! # Limits
//!
//! Every field is bounded (see `v1.rs` and `packed.rs`), and the worst case
//! of all maxima together — IAM's 512-character paths, 64-character names,
//! 128-character unique ids, a 2 KiB packed policy, 512 bytes of provider
//! claims — is a 5,428-character token. [`MAX_SESSION_TOKEN_LEN`] (6 KiB) is
//! checked against that worst case at compile time, so every token [`mint`]
//! produces opens, and [`open`] refuses longer input before decoding
//! anything. A typical assumed-role token without session policies is about
//! 240 characters.

mod packed;
mod v1;
mod wire;

use std::fmt;
use std::time::Duration;

use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::{Zeroize, Zeroizing};

use crate::ids::{AccessKeyId, AccessKeyKind, SecretAccessKey};
use crate::keyring::{KeyError, KeyId, KeyRing};
use crate::principal::Principal;
use crate::rand::{RandomError, RandomSource};
use crate::time::Timestamp;

pub use packed::{
    MAX_POLICY_ARNS, MAX_SESSION_POLICY_PLAINTEXT, MAX_SESSION_TAGS, MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS, PACKED_POLICY_LIMIT, SessionPolicy, SessionPolicyError, SessionTag,
    minify_json, packed_policy_percent, packed_size,
};

/// The token format this build mints.
pub const TOKEN_VERSION: u8 = 1;
/// The longest session token [`open`] accepts, in characters. Every token
/// [`mint`] can produce is shorter (checked at compile time).
pub const MAX_SESSION_TOKEN_LEN: usize = 6 * 1024;
/// The longest region name a session carries.
pub const MAX_REGION_LEN: usize = 32;
/// The longest `SourceIdentity` (AWS's limit).
pub const MAX_SOURCE_IDENTITY_LEN: usize = 64;
/// The encoded size budget of a session's provider claims (count byte plus,
/// per claim, a one-byte key length, the key, a two-byte value length and the
/// value). Subject and audience claims fit many times over.
pub const PROVIDER_CLAIMS_LIMIT: usize = 512;
/// The longest provider claim key (`token.actions.githubusercontent.com:sub`
/// is 39).
pub const MAX_PROVIDER_CLAIM_KEY_LEN: usize = 128;

const AAD_LABEL: &[u8] = b"meridian-session-token\0";
const HEADER_LEN: usize = 1 + 4 + 10 + NONCE_LEN;
const TAG_LEN: usize = 16;
/// The largest decoded token.
const RAW_MAX: usize = HEADER_LEN + v1::BODY_MAX + TAG_LEN;
/// Room for decoding [`MAX_SESSION_TOKEN_LEN`] characters of base64.
const DECODE_BUF: usize = MAX_SESSION_TOKEN_LEN / 4 * 3;
/// Random bytes per mint: session id, secret, access key id, nonce.
const ENTROPY_LEN: usize = SessionId::LEN + SecretAccessKey::RAW_LEN + 5 + NONCE_LEN;

const _: () = assert!(RAW_MAX.div_ceil(3) * 4 <= MAX_SESSION_TOKEN_LEN);
const _: () = assert!(RAW_MAX <= DECODE_BUF);

/// A session's unique id: 128 random bits, the handle for revoking one session.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Length in bytes.
    pub const LEN: usize = 16;

    /// The id made of `bytes`.
    pub const fn from_bytes(bytes: [u8; 16]) -> SessionId {
        SessionId(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the 32-character lower-case hex form.
    pub fn parse_hex(text: &str) -> Option<SessionId> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        // `hex` also accepts upper case; keep one canonical spelling.
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(SessionId(bytes))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// Everything a session token asserts, as the minting side states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// Who the session is.
    pub principal: Principal,
    /// The region that issued it (1–32 characters of `a-z0-9-`).
    pub region: String,
    /// When it was issued; the signing key is chosen at this instant, and
    /// `aws:TokenIssueTime` revocation compares against it.
    pub issued_at: Timestamp,
    /// When it stops being valid (after `issued_at`).
    pub expires_at: Timestamp,
    /// `SourceIdentity` (2–64 characters of `[\w+=,.@-]`), if any.
    pub source_identity: Option<String>,
    /// Session tags, with their transitive flags.
    pub tags: Vec<SessionTag>,
    /// Session policies.
    pub policy: SessionPolicy,
    /// When the caller authenticated with MFA; `Some` means
    /// `aws:MultiFactorAuthPresent` is true.
    pub mfa_authenticated_at: Option<Timestamp>,
    /// Whether the session was obtained with another role session's
    /// credentials (role chaining, capped at one hour).
    pub role_chained: bool,
    /// Claims of the identity provider that policies may use as condition
    /// keys and policy variables for the rest of the session (web identity:
    /// `{provider}:sub`, `{provider}:aud`, …; SAML: `saml:sub`, …). Empty for
    /// other sessions. Bounded by [`PROVIDER_CLAIMS_LIMIT`].
    pub provider_claims: Vec<ProviderClaim>,
}

/// One identity-provider claim carried by a federated session, named by the
/// condition key it answers (`accounts.google.com:sub`, `saml:namequalifier`).
/// A multi-valued claim is several entries with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderClaim {
    /// The condition key, 1–128 bytes without control characters.
    pub key: String,
    /// The claim's value.
    pub value: String,
}

impl ProviderClaim {
    /// A claim.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> ProviderClaim {
        ProviderClaim {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The encoded size of `claims` in a token (see [`PROVIDER_CLAIMS_LIMIT`]).
pub fn provider_claims_size(claims: &[ProviderClaim]) -> usize {
    1 + claims
        .iter()
        .map(|claim| 1 + claim.key.len() + 2 + claim.value.len())
        .sum::<usize>()
}

/// The session token string. `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// Wraps a token received from a client (not validated: [`open`] does that).
    pub fn new(text: String) -> SessionToken {
        SessionToken(text)
    }

    /// The token text, for the `SessionToken` response field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token text, by value.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Length in characters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken(<redacted>, {} chars)", self.0.len())
    }
}

/// The `Credentials` element of an STS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    /// `ASIA…`, encoding the principal's account.
    pub access_key_id: AccessKeyId,
    /// The secret the client signs with.
    pub secret_access_key: SecretAccessKey,
    /// The token the client sends as `X-Amz-Security-Token`.
    pub session_token: SessionToken,
    /// When the credentials expire.
    pub expiration: Timestamp,
}

/// The result of [`mint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedCredentials {
    /// The credential set for the response.
    pub credentials: TemporaryCredentials,
    /// The new session's id (for the audit log and revocation).
    pub session_id: SessionId,
    /// The data key that sealed the token.
    pub key_id: KeyId,
    /// `PackedPolicySize`: percent of [`PACKED_POLICY_LIMIT`] used by the
    /// session policies and tags (AWS returns it when either was given).
    pub packed_policy_percent: u32,
}

/// What [`open`] recovers from a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The session as it was minted.
    pub spec: SessionSpec,
    /// The session's id.
    pub session_id: SessionId,
    /// The access key id the token belongs to.
    pub access_key_id: AccessKeyId,
    /// The secret to verify the request's signature with.
    pub secret_access_key: SecretAccessKey,
    /// The data key that sealed the token.
    pub key_id: KeyId,
    /// The token's format version.
    pub version: u8,
}

/// Why a credential set could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// Session policies and tags exceed [`PACKED_POLICY_LIMIT`]
    /// (AWS `PackedPolicyTooLarge`).
    #[error("packed session policies and tags use {percent}% of the allowed size")]
    PackedPolicyTooLarge {
        /// The packed size in percent (above 100).
        percent: u32,
    },
    /// More than [`MAX_SESSION_TAGS`] session tags.
    #[error("at most 50 session tags are allowed")]
    TooManyTags,
    /// Provider claims exceed [`PROVIDER_CLAIMS_LIMIT`] encoded bytes.
    #[error("identity provider claims exceed {PROVIDER_CLAIMS_LIMIT} bytes")]
    ProviderClaimsTooLarge,
    /// A field is empty, too long or has characters it may not have.
    #[error("invalid {field}")]
    InvalidField {
        /// Which field: `region`, `source identity`, `tag key`, `tag value`,
        /// `provider claim key`.
        field: &'static str,
    },
    /// `expires_at` is not after `issued_at`.
    #[error("session must expire after it is issued")]
    InvalidLifetime,
    /// The signing key is scheduled for destruction before the session
    /// expires, so the token could not be opened for its whole life; the key
    /// schedule must be fixed (or the duration shortened).
    #[error("data key {key_id} is destroyed before the session would expire")]
    KeyOutlivedBySession {
        /// The active key.
        key_id: KeyId,
    },
    /// No key can sign now (see [`KeyError::NoSigningKey`]).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Randomness could not be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// AWS-LC failed to seal (not expected).
    #[error("sealing the session token failed")]
    Crypto,
}

/// Why a session token was refused. Every variant is a refusal; the edge
/// maps them to AWS errors (`ExpiredToken` for [`TokenError::Expired`],
/// `InvalidClientTokenId` for the others).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than [`MAX_SESSION_TOKEN_LEN`]; refused before decoding.
    #[error("session token is longer than {MAX_SESSION_TOKEN_LEN} characters")]
    TooLong,
    /// Not base64, too short, or its sealed body does not decode.
    #[error("malformed session token")]
    Malformed,
    /// A format version this node does not understand.
    #[error("unsupported session token version {0}")]
    UnsupportedVersion(u8),
    /// Sealed under a key this node does not hold.
    #[error("session token sealed under unknown key {0}")]
    UnknownKey(KeyId),
    /// Sealed under a key that has been destroyed.
    #[error("session token sealed under destroyed key {0}")]
    KeyDestroyed(KeyId),
    /// The token was altered, or forged: authentication failed.
    #[error("session token failed authentication")]
    AuthenticationFailed,
    /// The token belongs to another access key id (or the key id presented is
    /// not a temporary `ASIA…` id).
    #[error("session token does not belong to this access key id")]
    AccessKeyMismatch,
    /// Past its expiry, beyond the clock-skew leeway.
    #[error("session token expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: Timestamp,
    },
    /// Issued further in the future than the clock-skew leeway allows.
    #[error("session token is not valid before {issued_at}")]
    NotYetValid {
        /// When it was issued.
        issued_at: Timestamp,
    },
}

fn valid_region(region: &str) -> bool {
    (1..=MAX_REGION_LEN).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_source_identity(text: &str) -> bool {
    (2..=MAX_SOURCE_IDENTITY_LEN).contains(&text.len())
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
        })
}

fn check_spec(spec: &SessionSpec) -> Result<u32, MintError> {
    if spec.expires_at <= spec.issued_at {
        return Err(MintError::InvalidLifetime);
    }
    if !valid_region(&spec.region) {
        return Err(MintError::InvalidField { field: "region" });
    }
    if spec
        .source_identity
        .as_deref()
        .is_some_and(|s| !valid_source_identity(s))
    {
        return Err(MintError::InvalidField {
            field: "source identity",
        });
    }
    if spec.tags.len() > MAX_SESSION_TAGS {
        return Err(MintError::TooManyTags);
    }
    for tag in &spec.tags {
        if tag.key.is_empty() || tag.key.chars().count() > MAX_TAG_KEY_CHARS {
            return Err(MintError::InvalidField { field: "tag key" });
        }
        if tag.value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(MintError::InvalidField { field: "tag value" });
        }
    }
    if provider_claims_size(&spec.provider_claims) > PROVIDER_CLAIMS_LIMIT {
        return Err(MintError::ProviderClaimsTooLarge);
    }
    for claim in &spec.provider_claims {
        let key_ok = (1..=MAX_PROVIDER_CLAIM_KEY_LEN).contains(&claim.key.len())
            && !claim.key.chars().any(char::is_control);
        if !key_ok {
            return Err(MintError::InvalidField {
                field: "provider claim key",
            });
        }
    }
    let percent = packed_policy_percent(packed_size(&spec.policy, &spec.tags));
    if percent > 100 {
        return Err(MintError::PackedPolicyTooLarge { percent });
    }
    Ok(percent)
}

/// Mints a credential set for `spec`, sealed under the key that is active in
/// `ring` at `spec.issued_at`.
pub fn mint<R: RandomSource + ?Sized>(
    spec: &SessionSpec,
    ring: &KeyRing,
    rng: &mut R,
) -> Result<MintedCredentials, MintError> {
    let packed_policy_percent = check_spec(spec)?;
    let key = ring.signing_key(spec.issued_at)?;
    if key
        .schedule()
        .destroy_at
        .is_some_and(|d| d < spec.expires_at)
    {
        return Err(MintError::KeyOutlivedBySession { key_id: key.id() });
    }

    // One draw for everything random.
    let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
    rng.fill(entropy.as_mut())?;
    let (session_bytes, rest) = entropy.split_at(SessionId::LEN);
    let (secret_raw, rest) = rest.split_at(SecretAccessKey::RAW_LEN);
    let (key_entropy, nonce) = rest.split_at(5);
    let mut session_id = [0u8; SessionId::LEN];
    session_id.copy_from_slice(session_bytes);
    let session_id = SessionId(session_id);
    let mut secret = Zeroizing::new([0u8; SecretAccessKey::RAW_LEN]);
    secret.copy_from_slice(secret_raw);
    let mut key_bits = [0u8; 5];
    key_bits.copy_from_slice(key_entropy);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let access_key_id =
        AccessKeyId::from_entropy(AccessKeyKind::Temporary, spec.principal.account(), key_bits);

    let mut buf = [0u8; RAW_MAX];
    let mut w = wire::Writer::new(&mut buf);
    let header = |w: &mut wire::Writer<'_>| -> Result<(), wire::TooLong> {
        w.u8("version", TOKEN_VERSION)?;
        w.bytes("key id", &key.id().get().to_be_bytes())?;
        w.bytes("access key id", &access_key_id.suffix_bytes())?;
        w.bytes("nonce", &nonce_bytes)
    };
    let encoded = header(&mut w).and_then(|()| v1::encode(&mut w, spec, &session_id, &secret));
    let body_end = w.position();
    if let Err(wire::TooLong(field)) = encoded {
        buf.zeroize();
        return Err(MintError::InvalidField { field });
    }
    let aad = token_aad(&buf[..HEADER_LEN]);
    let sealed = key.aead().seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(&aad[..]),
        &mut buf[HEADER_LEN..body_end],
    );
    let Ok(tag) = sealed else {
        buf.zeroize();
        return Err(MintError::Crypto);
    };
    let end = body_end + TAG_LEN;
    buf[body_end..end].copy_from_slice(tag.as_ref());
    let mut text = String::with_capacity(end.div_ceil(3) * 4);
    BASE64.encode_string(&buf[..end], &mut text);

    Ok(MintedCredentials {
        credentials: TemporaryCredentials {
            access_key_id,
            secret_access_key: SecretAccessKey::from_raw(&secret),
            session_token: SessionToken(text),
            expiration: spec.expires_at,
        },
        session_id,
        key_id: key.id(),
        packed_policy_percent,
    })
}

fn token_aad(header: &[u8]) -> [u8; AAD_LABEL.len() + HEADER_LEN] {
    let mut aad = [0u8; AAD_LABEL.len() + HEADER_LEN];
    aad[..AAD_LABEL.len()].copy_from_slice(AAD_LABEL);
    aad[AAD_LABEL.len()..].copy_from_slice(header);
    aad
}

/// Opens `token` presented with `access_key_id` at `now`.
///
/// Checks, in order: length cap, base64, version, that the token belongs to
/// `access_key_id`, the key (unknown, destroyed), authentication, the body,
/// and the validity window `issued_at - leeway <= now < expires_at + leeway`
/// (`leeway` absorbs clock skew between the minting and the verifying node).
pub fn open(
    token: &str,
    access_key_id: &AccessKeyId,
    ring: &KeyRing,
    now: Timestamp,
    leeway: Duration,
) -> Result<SessionClaims, TokenError> {
    if token.len() > MAX_SESSION_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut buf = [0u8; DECODE_BUF];
    let len = BASE64
        .decode_slice(token.as_bytes(), &mut buf)
        .map_err(|_| TokenError::Malformed)?;
    let raw = &mut buf[..len];
    let version = *raw.first().ok_or(TokenError::Malformed)?;
    if version != TOKEN_VERSION {
        return Err(TokenError::UnsupportedVersion(version));
    }
    if raw.len() < HEADER_LEN + TAG_LEN {
        return Err(TokenError::Malformed);
    }
    let (header, sealed) = raw.split_at_mut(HEADER_LEN);
    let key_id = KeyId::new(u32::from_be_bytes([
        header[1], header[2], header[3], header[4],
    ]));
    if access_key_id.kind() != AccessKeyKind::Temporary
        || access_key_id.suffix_bytes()[..] != header[5..15]
    {
        return Err(TokenError::AccessKeyMismatch);
    }
    let key = ring.key(key_id, now).map_err(|error| match error {
        KeyError::KeyDestroyed(id) => TokenError::KeyDestroyed(id),
        _ => TokenError::UnknownKey(key_id),
    })?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&header[15..HEADER_LEN]);
    let aad = token_aad(header);
    let body = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad[..]),
            sealed,
        )
        .map_err(|_| TokenError::AuthenticationFailed)?;
    let decoded = v1::decode(body);
    // The plaintext holds the secret; clear it whatever the outcome.
    body.zeroize();
    let v1::Body {
        spec,
        session_id,
        secret,
    } = decoded.map_err(|_| TokenError::Malformed)?;

    if access_key_id.account().map(|a| a.as_u64()) != Some(spec.principal.account().as_u64()) {
        return Err(TokenError::Malformed);
    }
    let leeway_ms = i64::try_from(leeway.as_millis()).unwrap_or(i64::MAX);
    if now >= spec.expires_at.plus_millis(leeway_ms) {
        return Err(TokenError::Expired {
            expired_at: spec.expires_at,
        });
    }
    if now.plus_millis(leeway_ms) < spec.issued_at {
        return Err(TokenError::NotYetValid {
            issued_at: spec.issued_at,
        });
    }
    Ok(SessionClaims {
        spec,
        session_id,
        access_key_id: *access_key_id,
        secret_access_key: secret,
        key_id,
        version,
    })
}
