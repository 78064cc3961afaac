//! SigV4 caller authentication: who signed this request?
//!
//! [`SigV4Authenticator`] is the production [`Authenticator`]. It parses the
//! request with the node's scopes (`sts` and `iam`) and hands the rest to
//! `meridian_core::access::caller::authenticate`, which the gRPC verifier
//! and the Admin API share; only the IAM rule for `GetSessionToken` sessions
//! without MFA is the edge's own:
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

use meridian_core::access::caller::{self, AuthError};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::principal::Principal;
use meridian_core::sigv4::error::SigV4Error;
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;

use crate::error::ApiError;
use crate::model::{ErrorCode, Service};
use crate::state::{AuthRequest, Authenticator, Caller};

pub use keys::KeyMaterial;
pub use meridian_core::access::caller::{
    DEFAULT_TOKEN_LEEWAY, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE,
};

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

/// A core authentication failure as the API answers it.
fn auth_error(error: &AuthError) -> ApiError {
    match error {
        AuthError::SigV4(error) => sigv4_error(error),
        AuthError::InvalidToken(_) => invalid_token(),
        AuthError::ExpiredToken => expired_token(),
        AuthError::Internal(detail) => ApiError::internal(detail),
    }
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
        let mut caller = caller::authenticate(
            &self.verifier,
            &self.keys,
            parsed,
            &core_request,
            snapshot,
            now,
            self.token_leeway,
        )
        .map_err(|e| auth_error(&e))?;
        if let Some(session) = caller.session.as_deref() {
            let session_token_session =
                matches!(caller.principal, Principal::User(_) | Principal::Root(_));
            if request.service == Service::Iam
                && session_token_session
                && session.mfa_authenticated_at.is_none()
            {
                // GetSessionToken credentials without MFA cannot call IAM;
                // AWS answers as for an unknown token (STS-API.md §3.3).
                return Err(invalid_token());
            }
        }
        caller.source_ip = request.peer;
        Ok(caller)
    }
}
