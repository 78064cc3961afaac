//! Authorization of API calls: may this caller perform `service:Action` on
//! this resource?
//!
//! Every STS and IAM handler calls [`authorize`] (or [`authorize_with`] when
//! the request carries condition keys of its own: `aws:RequestTag/…`,
//! `aws:TagKeys`, `iam:PermissionsBoundary`, …) before touching anything:
//!
//! ```text
//! authz::authorize(&request, "iam:CreateRole", &role_arn)?;
//! let account = authz::caller_account(&request)?;
//! ```
//!
//! The decision itself is `meridian_core::access::authz` — the caller's
//! identity, boundary and session policies as the request's snapshot has
//! them, revocations, the caller-type restrictions, the cross-account rule —
//! which the gRPC verifier and the Admin API share, so the same caller gets
//! the same answer everywhere. Its module documentation has the tables. What
//! is the edge's own is the answer: `AccessDenied` (403) with AWS's message
//! form (`User: arn:… is not authorized to perform: iam:CreateRole on
//! resource: arn:… because no identity-based policy allows the
//! iam:CreateRole action`), followed by ` Encoded authorization failure
//! message: …` — the decision details as JSON sealed under the cluster KEK
//! and base64-encoded, which `sts:DecodeAuthorizationMessage` decodes for
//! callers of the same account that are allowed to.
//!
//! A `GetSessionToken` session's IAM calls without MFA never get here:
//! authentication refuses them (STS-API.md §3.3).

use meridian_core::ids::AccountId;

pub use meridian_core::access::authz::{
    CredentialKind, DecidingStatement, Denial, DenyKind, MessageStyle, PolicyCache, Subject,
    Verdict, session_layer,
};
pub use meridian_core::policy::context::Value as ContextValue;

use crate::auth::keys::EdgeRandom;
use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::state::{Caller, EdgeState};

/// The action that is never denied.
const GET_CALLER_IDENTITY: &str = "sts:GetCallerIdentity";

/// What AWS prefixes the encoded message with (EC2's wording).
pub const ENCODED_MESSAGE_PREFIX: &str = " Encoded authorization failure message: ";

/// Authorizes `action` (`iam:CreateRole`) on `resource` (an ARN, or `*`) for
/// the request's caller. `Ok(())` when allowed; `AccessDenied` otherwise.
pub fn authorize(request: &OperationRequest, action: &str, resource: &str) -> Result<(), ApiError> {
    authorize_with(request, action, resource, &[])
}

/// [`authorize`] with extra condition keys from the request (a key given
/// several times is multi-valued: `aws:TagKeys`).
pub fn authorize_with(
    request: &OperationRequest,
    action: &str,
    resource: &str,
    keys: &[(&str, ContextValue<'_>)],
) -> Result<(), ApiError> {
    if action.eq_ignore_ascii_case(GET_CALLER_IDENTITY) {
        return Ok(());
    }
    let caller = caller(request)?;
    let subject = resolve(request, caller);
    match subject.check(action, resource, keys, request.now) {
        Ok(()) => Ok(()),
        Err(denial) => Err(denied(&request.state, &denial, MessageStyle::Reasoned)),
    }
}

/// `caller` resolved against the request's snapshot, in this node's region.
pub fn resolve<'r>(request: &'r OperationRequest, caller: &'r Caller) -> Subject<'r> {
    Subject::resolve(
        request.state.policies(),
        caller,
        &request.snapshot,
        request.state.region(),
    )
}

/// The authenticated caller; `AccessDenied` for unsigned operations (which
/// have none).
pub fn caller(request: &OperationRequest) -> Result<&Caller, ApiError> {
    request.caller.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::AccessDenied,
            "This operation requires a signed request",
        )
    })
}

/// The account the caller acts in (a role session's is the role's account).
pub fn caller_account(request: &OperationRequest) -> Result<AccountId, ApiError> {
    caller(request).map(|caller| *caller.principal.account())
}

/// `AccessDenied` with AWS's message, then the encoded details (sealed under
/// the KEK; left out, and logged, if sealing fails).
pub fn denied(state: &EdgeState, denial: &Denial, style: MessageStyle) -> ApiError {
    let mut message = denial.message(style);
    match denial.encoded_message(state.keys(), &mut EdgeRandom(state.random())) {
        Ok(encoded) => {
            message.push_str(ENCODED_MESSAGE_PREFIX);
            message.push_str(&encoded);
        }
        Err(error) => tracing::error!(%error, "authorization message could not be sealed"),
    }
    ApiError::new(ErrorCode::AccessDenied, message)
}

/// Decodes an encoded authorization message: the JSON details and the
/// account of the denied principal. `None` when it is not one of ours.
pub fn decode_message(state: &EdgeState, encoded: &str) -> Option<(String, String)> {
    meridian_core::access::authz::decode_message(state.keys(), encoded)
}
