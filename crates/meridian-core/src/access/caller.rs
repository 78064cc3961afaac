//! Who signed a request: resolving a parsed SigV4 request to an
//! authenticated [`Caller`], for every transport that receives signed
//! requests (the HTTP edge for STS and IAM, the gRPC verifier on behalf of
//! resource services).
//!
//! ```text
//!  Verifier::parse (done by the transport: which service and regions it accepts)
//!     │ access key id
//!     ├─ AKIA… ─► snapshot.access_key(id) ─ unknown / Inactive ─► InvalidClientTokenId
//!     │             └─ KEK opens the sealed secret
//!     └─ ASIA… ─► token::open(X-Amz-Security-Token, key ring of the snapshot)
//!                   expired ─► ExpiredToken; anything else wrong ─► InvalidClientTokenId
//!  Verifier::verify (canonical request, cached signing key, constant-time compare)
//!     └─ SignatureDoesNotMatch
//!  denied session id (DenySession) ─► InvalidClientTokenId
//! ```
//!
//! Answers follow `STS-API.md` §3: an unknown, disabled or deleted long-term
//! key, a token sent with an `AKIA…` key, a garbage or tampered token, a token
//! for another key id or sealed under a destroyed data key are all
//! `InvalidClientTokenId`; only a session past its expiry is `ExpiredToken`.
//! [`InvalidTokenReason`] keeps the precise reason for logs and metrics; it is
//! never sent.
//!
//! Revocation, decided here and in [`crate::access::authz`]:
//!
//! * **A denied session id** (`DenySession`) is a hard revocation: the
//!   credentials stop existing, so authentication refuses them.
//! * **Sessions of a role issued before T** (`RevokeRoleSessions`, AWS's
//!   `AWSRevokeOlderSessions`) authenticate normally and are refused by
//!   authorization as an explicit deny in an identity-based policy, exactly as
//!   AWS's inline deny on `aws:TokenIssueTime` behaves.
//!
//! Rules that depend on what is being called (a `GetSessionToken` session
//! without MFA may not call IAM) stay with the transport that knows it.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::access::keys::KeyMaterial;
use crate::config::model::AccessKeyStatus;
use crate::config::snapshot::{AccessKeyEntry, ConfigSnapshot};
use crate::ids::{AccessKeyId, AccessKeyKind, UniqueId};
use crate::keyring::KeyId;
use crate::principal::{Principal, UserPrincipal};
use crate::sigv4::error::SigV4Error;
use crate::sigv4::parse::ParsedAuth;
use crate::sigv4::request::Request;
use crate::sigv4::verifier::Verifier;
use crate::time::Timestamp;
use crate::token::{self, ProviderClaim, SessionClaims, SessionId, SessionPolicy, SessionTag};

/// AWS's text for `InvalidClientTokenId` (STS-API.md §1.5: AWS omits the
/// trailing period moto adds).
pub const INVALID_TOKEN_MESSAGE: &str = "The security token included in the request is invalid";

/// AWS's text for `ExpiredToken`.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The security token included in the request is expired";

/// Clock skew between the node that minted a session and the node verifying
/// it that is tolerated at both ends of the session's life.
pub const DEFAULT_TOKEN_LEEWAY: Duration = Duration::from_secs(30);

/// An authenticated caller.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who signed.
    pub principal: Principal,
    /// The access key id the request was signed with (the rate-limit key).
    pub access_key_id: String,
    /// Temporary (`ASIA…`) rather than long-term credentials.
    pub temporary: bool,
    /// What the session token asserted (temporary credentials only): issue
    /// time, tags, session policies, source identity, MFA, chaining.
    pub session: Option<Arc<CallerSession>>,
    /// The client's IP address, when known (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
}

impl Caller {
    /// A caller with long-term credentials (an IAM user's `AKIA…` key, or
    /// the account root), no session.
    pub fn long_term(principal: Principal, access_key_id: impl Into<String>) -> Caller {
        Caller {
            principal,
            access_key_id: access_key_id.into(),
            temporary: false,
            session: None,
            source_ip: None,
        }
    }

    /// A caller with temporary credentials described by `session`.
    pub fn temporary(
        principal: Principal,
        access_key_id: impl Into<String>,
        session: CallerSession,
    ) -> Caller {
        Caller {
            principal,
            access_key_id: access_key_id.into(),
            temporary: true,
            session: Some(Arc::new(session)),
            source_ip: None,
        }
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("principal", &self.principal)
            .field("access_key_id", &self.access_key_id)
            .field("temporary", &self.temporary)
            .field("session", &self.session)
            .field("source_ip", &self.source_ip)
            .finish()
    }
}

/// The session facts a verified session token carries, minus the principal
/// (in [`Caller::principal`]) and the secret (dropped after the signature
/// check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerSession {
    /// The session's id (the handle for denying one session).
    pub session_id: SessionId,
    /// The region that issued it.
    pub region: String,
    /// When it was issued (`aws:TokenIssueTime`).
    pub issued_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// `SourceIdentity`, sticky across role chains.
    pub source_identity: Option<String>,
    /// Session tags with their transitive flags.
    pub tags: Vec<SessionTag>,
    /// Session policies (inline and managed ARNs).
    pub policy: SessionPolicy,
    /// When the caller authenticated with MFA, if it did.
    pub mfa_authenticated_at: Option<Timestamp>,
    /// Obtained with other temporary credentials (role chaining).
    pub role_chained: bool,
    /// Identity-provider claims of a web-identity or SAML session, named by
    /// the condition keys they answer (`{provider}:sub`, `saml:sub`, …).
    pub provider_claims: Vec<ProviderClaim>,
    /// The data key that sealed the session token.
    pub key_id: KeyId,
}

/// Why credentials were refused as `InvalidClientTokenId` (never sent: AWS
/// answers all of these with the same code and text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidTokenReason {
    /// The access key id is not a well-formed `AKIA…`/`ASIA…` id.
    MalformedKeyId,
    /// No such long-term key (never created, or deleted).
    UnknownKey,
    /// The long-term key is `Inactive`.
    InactiveKey,
    /// A session token came with a long-term key.
    TokenWithLongTermKey,
    /// A temporary key came without a session token.
    MissingToken,
    /// The session token did not open (malformed, forged, unknown or
    /// destroyed data key, another key id, not yet valid).
    BadToken,
    /// The session was denied by id (`DenySession`).
    SessionDenied,
}

/// Why a signed request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The SigV4 check failed (`SignatureDoesNotMatch`, `IncompleteSignature`,
    /// …): core's code and text.
    #[error("{}", .0.message())]
    SigV4(SigV4Error),
    /// `InvalidClientTokenId`, for the reason given.
    #[error("{INVALID_TOKEN_MESSAGE}")]
    InvalidToken(InvalidTokenReason),
    /// `ExpiredToken`: the session is past its expiry (plus leeway).
    #[error("{EXPIRED_TOKEN_MESSAGE}")]
    ExpiredToken,
    /// Stored material could not be used (a sealed secret that does not open
    /// under this node's KEK, a stored user id that does not parse). Logged by
    /// the transport; answered as an internal failure.
    #[error("stored credentials are unusable: {0}")]
    Internal(String),
}

impl AuthError {
    /// The AWS error code the caller is answered with.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::SigV4(error) => error.code(),
            AuthError::InvalidToken(_) => "InvalidClientTokenId",
            AuthError::ExpiredToken => "ExpiredToken",
            AuthError::Internal(_) => "InternalFailure",
        }
    }
}

/// Resolves and verifies the credentials a parsed request names, as of
/// `now`: step 2 of SigV4 verification plus everything between the steps.
/// `request` must be the request `parsed` came from, and `verifier` the one
/// whose cache should hold the derived signing key. The caller's IP is left
/// unset (the transport knows it).
pub fn authenticate(
    verifier: &Verifier,
    keys: &KeyMaterial,
    parsed: ParsedAuth,
    request: &Request<'_>,
    snapshot: &ConfigSnapshot,
    now: Timestamp,
    token_leeway: Duration,
) -> Result<Caller, AuthError> {
    let key_id = AccessKeyId::parse(parsed.access_key_id())
        .map_err(|_| AuthError::InvalidToken(InvalidTokenReason::MalformedKeyId))?;
    match key_id.kind() {
        AccessKeyKind::LongTerm => {
            if parsed.session_token().is_some() {
                // A token belongs to an ASIA key only (STS-API.md §3.3).
                return Err(AuthError::InvalidToken(
                    InvalidTokenReason::TokenWithLongTermKey,
                ));
            }
            let (principal, secret) = long_term(keys, &key_id, snapshot)?;
            verifier
                .verify(parsed, request, &secret)
                .map_err(AuthError::SigV4)?;
            Ok(Caller::long_term(principal, key_id.as_str()))
        }
        AccessKeyKind::Temporary => {
            let token = parsed
                .session_token()
                .and_then(|token| token.as_str())
                .ok_or(AuthError::InvalidToken(InvalidTokenReason::MissingToken))?;
            let ring = keys.session_ring(snapshot);
            let claims =
                token::open(token, &key_id, &ring, now, token_leeway).map_err(|e| match e {
                    token::TokenError::Expired { .. } => AuthError::ExpiredToken,
                    _ => AuthError::InvalidToken(InvalidTokenReason::BadToken),
                })?;
            verifier
                .verify(
                    parsed,
                    request,
                    claims.secret_access_key.expose_secret().as_bytes(),
                )
                .map_err(AuthError::SigV4)?;
            let (principal, session) = session_of(claims);
            if session_denied(snapshot, &session, now) {
                return Err(AuthError::InvalidToken(InvalidTokenReason::SessionDenied));
            }
            Ok(Caller::temporary(principal, key_id.as_str(), session))
        }
    }
}

/// Re-establishes a caller that was authenticated earlier (its signature
/// checked then), as of `now`: the long-term key must still exist and be
/// `Active`; a session token must still open (not expired, not sealed under
/// a destroyed key) and the session must not be denied. No signature is
/// checked and no secret is opened, so this costs one token open at most.
/// For callers that hand out a proof of an earlier authentication (the
/// verifier's context handles) and must apply revocations made since.
pub fn resume(
    keys: &KeyMaterial,
    snapshot: &ConfigSnapshot,
    access_key_id: &str,
    session_token: Option<&str>,
    now: Timestamp,
    token_leeway: Duration,
) -> Result<Caller, AuthError> {
    let key_id = AccessKeyId::parse(access_key_id)
        .map_err(|_| AuthError::InvalidToken(InvalidTokenReason::MalformedKeyId))?;
    match (key_id.kind(), session_token) {
        (AccessKeyKind::LongTerm, None) => {
            let entry = snapshot
                .access_key(key_id.as_str())
                .ok_or(AuthError::InvalidToken(InvalidTokenReason::UnknownKey))?;
            if entry.key.status != AccessKeyStatus::Active {
                return Err(AuthError::InvalidToken(InvalidTokenReason::InactiveKey));
            }
            Ok(Caller::long_term(user_principal(&entry)?, key_id.as_str()))
        }
        (AccessKeyKind::LongTerm, Some(_)) => Err(AuthError::InvalidToken(
            InvalidTokenReason::TokenWithLongTermKey,
        )),
        (AccessKeyKind::Temporary, None) => {
            Err(AuthError::InvalidToken(InvalidTokenReason::MissingToken))
        }
        (AccessKeyKind::Temporary, Some(token)) => {
            let ring = keys.session_ring(snapshot);
            let claims =
                token::open(token, &key_id, &ring, now, token_leeway).map_err(|e| match e {
                    token::TokenError::Expired { .. } => AuthError::ExpiredToken,
                    _ => AuthError::InvalidToken(InvalidTokenReason::BadToken),
                })?;
            let (principal, session) = session_of(claims);
            if session_denied(snapshot, &session, now) {
                return Err(AuthError::InvalidToken(InvalidTokenReason::SessionDenied));
            }
            Ok(Caller::temporary(principal, key_id.as_str(), session))
        }
    }
}

/// Whether `session` has been denied by id (`DenySession`) as of `now`.
pub fn session_denied(snapshot: &ConfigSnapshot, session: &CallerSession, now: Timestamp) -> bool {
    !snapshot.revocations().denied_sessions.is_empty()
        && snapshot.is_session_denied(&session.session_id.to_string(), now)
}

/// Whether the long-term key `access_key_id` is still usable (exists and is
/// `Active`) in `snapshot`: for callers re-checking credentials that were
/// authenticated earlier.
pub fn long_term_key_active(snapshot: &ConfigSnapshot, access_key_id: &str) -> bool {
    snapshot
        .access_key(access_key_id)
        .is_some_and(|entry| entry.key.status == AccessKeyStatus::Active)
}

fn long_term(
    keys: &KeyMaterial,
    key_id: &AccessKeyId,
    snapshot: &ConfigSnapshot,
) -> Result<(Principal, Zeroizing<Vec<u8>>), AuthError> {
    let entry = snapshot
        .access_key(key_id.as_str())
        .ok_or(AuthError::InvalidToken(InvalidTokenReason::UnknownKey))?;
    if entry.key.status != AccessKeyStatus::Active {
        return Err(AuthError::InvalidToken(InvalidTokenReason::InactiveKey));
    }
    let principal = user_principal(&entry)?;
    let secret = keys
        .access_key_secret(key_id.as_str(), &entry.key.sealed_secret)
        .map_err(|error| AuthError::Internal(error.to_string()))?;
    Ok((principal, secret))
}

/// The IAM user that owns a long-term key, as a principal.
fn user_principal(entry: &AccessKeyEntry<'_>) -> Result<Principal, AuthError> {
    let user_id = UniqueId::parse(&entry.user.user_id)
        .map_err(|error| AuthError::Internal(error.to_string()))?;
    UserPrincipal::new(
        entry.account.account.id,
        &entry.user.path,
        &entry.user.name,
        user_id,
    )
    .map(Principal::User)
    .map_err(|error| AuthError::Internal(error.to_string()))
}

fn session_of(claims: SessionClaims) -> (Principal, CallerSession) {
    let SessionClaims {
        spec,
        session_id,
        key_id,
        ..
    } = claims;
    let session = CallerSession {
        session_id,
        region: spec.region,
        issued_at: spec.issued_at,
        expires_at: spec.expires_at,
        source_identity: spec.source_identity,
        tags: spec.tags,
        policy: spec.policy,
        mfa_authenticated_at: spec.mfa_authenticated_at,
        role_chained: spec.role_chained,
        provider_claims: spec.provider_claims,
        key_id,
    };
    (spec.principal, session)
}
