//! SigV4 caller authentication: who signed this request?
//!
//! [`SigV4Authenticator`] is the production [`Authenticator`]. It runs
//! `meridian_core::sigv4` in its two steps and resolves the secret in between
//! from what the request names, never from the network or the disk:
//!
//! ```text
//!  Verifier::parse (syntax, scope: own region for sts and iam, us-east-1 for iam,
//!                   ±15 min window, presigned expiry)
//!     │ access key id
//!     ├─ AKIA… ─► snapshot.access_key(id) ─ unknown / Inactive ─► InvalidClientTokenId
//!     │             └─ KEK opens the sealed secret
//!     └─ ASIA… ─► token::open(X-Amz-Security-Token, key ring of the snapshot)
//!                   expired ─► ExpiredToken; anything else wrong ─► InvalidClientTokenId
//!  Verifier::verify (canonical request, cached signing key, constant-time compare)
//!     └─ SignatureDoesNotMatch
//!  session checks: denied session id ─► InvalidClientTokenId;
//!                  GetSessionToken session without MFA calling IAM ─► InvalidClientTokenId
//! ```
//!
//! Answers follow `STS-API.md` §3: an unknown, disabled or deleted long-term
//! key, a token sent with an `AKIA…` key, a garbage or tampered token, a token
//! for another key id or sealed under a destroyed data key are all
//! `InvalidClientTokenId` ("The security token included in the request is
//! invalid."); only a session past its expiry is `ExpiredToken`.
//!
//! Revocation, decided here:
//!
//! * **Sessions of a role issued before T** (`RevokeRoleSessions`, AWS's
//!   `AWSRevokeOlderSessions`) authenticate normally and are refused by
//!   authorization as an *explicit deny in an identity-based policy*
//!   (`AccessDenied`), exactly as AWS's inline deny on `aws:TokenIssueTime`
//!   behaves — including that `GetCallerIdentity` still answers (it cannot be
//!   denied by policy). See `authz.rs`.
//! * **A denied session id** (`DenySession`, a Meridian extension with no AWS
//!   equivalent) is a hard revocation: the credentials stop existing, so the
//!   answer is `InvalidClientTokenId` on every call, `GetCallerIdentity`
//!   included — identity oracles (EKS, Vault-style logins) must not accept it.
//!
//! Cost: one header-vector allocation, the parse, one KEK open (AKIA) or one
//! AES-GCM open (ASIA), one HMAC with a cached signing key. No lock is held
//! across anything slow (the key-ring cache takes a read lock for a pointer
//! comparison), nothing awaits.

pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use meridian_core::config::model::AccessKeyStatus;
use meridian_core::config::snapshot::{AccessKeyEntry, ConfigSnapshot};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, UniqueId};
use meridian_core::principal::{Principal, UserPrincipal};
use meridian_core::sigv4::error::SigV4Error;
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use meridian_core::token::{self, SessionClaims, TokenError};

use crate::error::ApiError;
use crate::model::{ErrorCode, Service};
use crate::state::{AuthRequest, Authenticator, Caller, CallerSession};

pub use keys::KeyMaterial;

/// AWS's text for `InvalidClientTokenId` (STS-API.md §1.5: AWS omits the
/// trailing period moto adds).
pub const INVALID_TOKEN_MESSAGE: &str = "The security token included in the request is invalid";

/// AWS's text for `ExpiredToken`.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The security token included in the request is expired";

/// Clock skew between the node that minted a session and the node verifying
/// it that is tolerated at both ends of the session's life.
pub const DEFAULT_TOKEN_LEEWAY: Duration = Duration::from_secs(30);

/// `InvalidClientTokenId` with AWS's text.
pub fn invalid_token() -> ApiError {
    ApiError::new(ErrorCode::InvalidClientTokenId, INVALID_TOKEN_MESSAGE)
}

/// `ExpiredToken` with AWS's text.
pub fn expired_token() -> ApiError {
    ApiError::new(ErrorCode::ExpiredToken, EXPIRED_TOKEN_MESSAGE)
}

/// The production authenticator. One per node, shared by every request.
#[derive(Debug)]
pub struct SigV4Authenticator {
    verifier: Verifier,
    keys: Arc<KeyMaterial>,
    token_leeway: Duration,
}

impl SigV4Authenticator {
    /// An authenticator for a node in `region`: scopes `region/sts`,
    /// `region/iam` and `us-east-1/iam` (DESIGN.md "Signing regions").
    pub fn new(region: &str, keys: Arc<KeyMaterial>) -> SigV4Authenticator {
        SigV4Authenticator::with_policy(VerifierPolicy::for_node(region), keys)
    }

    /// An authenticator with an explicit verifier policy (clock window,
    /// presigned lifetime, accepted regions).
    pub fn with_policy(policy: VerifierPolicy, keys: Arc<KeyMaterial>) -> SigV4Authenticator {
        SigV4Authenticator {
            verifier: Verifier::new(policy),
            keys,
            token_leeway: DEFAULT_TOKEN_LEEWAY,
        }
    }

    /// Changes the session-token clock leeway.
    pub fn with_token_leeway(mut self, leeway: Duration) -> SigV4Authenticator {
        self.token_leeway = leeway;
        self
    }

    fn long_term(
        &self,
        key_id: &AccessKeyId,
        snapshot: &ConfigSnapshot,
    ) -> Result<(Principal, zeroize::Zeroizing<Vec<u8>>), ApiError> {
        let entry = snapshot
            .access_key(key_id.as_str())
            .ok_or_else(invalid_token)?;
        if entry.key.status != AccessKeyStatus::Active {
            return Err(invalid_token());
        }
        let principal = user_principal(&entry)?;
        let secret = self
            .keys
            .access_key_secret(key_id.as_str(), &entry.key.sealed_secret)
            .map_err(|error| ApiError::internal(&error))?;
        Ok((principal, secret))
    }
}

/// The IAM user that owns a long-term key, as a principal.
fn user_principal(entry: &AccessKeyEntry<'_>) -> Result<Principal, ApiError> {
    let user_id =
        UniqueId::parse(&entry.user.user_id).map_err(|error| ApiError::internal(&error))?;
    UserPrincipal::new(
        entry.account.account.id,
        &entry.user.path,
        &entry.user.name,
        user_id,
    )
    .map(Principal::User)
    .map_err(|error| ApiError::internal(&error))
}

/// A core SigV4 error as the API answers it. Codes the catalogue lacks
/// (`InvalidURIPath`, `AuthorizationQueryParametersError`,
/// `RequestHeaderSectionTooLarge`, `RequestURITooLong`, `InvalidArgument`,
/// `XAmzContentSHA256Mismatch` — mostly unreachable behind the edge's own
/// limits) are answered as `IncompleteSignature` (400) with core's message.
pub fn sigv4_error(error: &SigV4Error) -> ApiError {
    let code = ErrorCode::from_code(error.code()).unwrap_or(ErrorCode::IncompleteSignature);
    ApiError::new(code, error.message())
}

fn token_error(error: &TokenError) -> ApiError {
    match error {
        TokenError::Expired { .. } => expired_token(),
        _ => invalid_token(),
    }
}

fn session_of(claims: SessionClaims) -> (Principal, CallerSession) {
    let SessionClaims {
        spec, session_id, ..
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
    };
    (spec.principal, session)
}

impl Authenticator for SigV4Authenticator {
    fn authenticate(
        &self,
        request: &AuthRequest<'_>,
        snapshot: &ConfigSnapshot,
        now: Timestamp,
    ) -> Result<Caller, ApiError> {
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(request.headers.len());
        for (name, value) in request.headers {
            headers.push((name.as_str(), value.as_bytes()));
        }
        let core_request = Request {
            method: request.method.as_str(),
            path: request.path,
            query: request.raw_query,
            headers: &headers,
            payload: Payload::Body(request.body),
        };
        let parsed = self
            .verifier
            .parse(&core_request, request.service.signing_name(), now)
            .map_err(|e| sigv4_error(&e))?;
        let key_id = AccessKeyId::parse(parsed.access_key_id()).map_err(|_| invalid_token())?;

        match key_id.kind() {
            AccessKeyKind::LongTerm => {
                if parsed.session_token().is_some() {
                    // A token belongs to an ASIA key only (STS-API.md §3.3).
                    return Err(invalid_token());
                }
                let (principal, secret) = self.long_term(&key_id, snapshot)?;
                self.verifier
                    .verify(parsed, &core_request, &secret)
                    .map_err(|e| sigv4_error(&e))?;
                Ok(Caller {
                    source_ip: request.peer,
                    ..Caller::long_term(principal, key_id.as_str())
                })
            }
            AccessKeyKind::Temporary => {
                let token = parsed
                    .session_token()
                    .and_then(|token| token.as_str())
                    .ok_or_else(invalid_token)?;
                let ring = self.keys.session_ring(snapshot);
                let claims = token::open(token, &key_id, &ring, now, self.token_leeway)
                    .map_err(|e| token_error(&e))?;
                self.verifier
                    .verify(
                        parsed,
                        &core_request,
                        claims.secret_access_key.expose_secret().as_bytes(),
                    )
                    .map_err(|e| sigv4_error(&e))?;
                let (principal, session) = session_of(claims);
                if !snapshot.revocations().denied_sessions.is_empty()
                    && snapshot.is_session_denied(&session.session_id.to_string(), now)
                {
                    return Err(invalid_token());
                }
                let session_token_session =
                    matches!(principal, Principal::User(_) | Principal::Root(_));
                if request.service == Service::Iam
                    && session_token_session
                    && session.mfa_authenticated_at.is_none()
                {
                    // GetSessionToken credentials without MFA cannot call IAM;
                    // AWS answers as for an unknown token (STS-API.md §3.3).
                    return Err(invalid_token());
                }
                Ok(Caller {
                    source_ip: request.peer,
                    ..Caller::temporary(principal, key_id.as_str(), session)
                })
            }
        }
    }
}
