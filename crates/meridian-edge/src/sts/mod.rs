//! The STS operations: `AssumeRole`, `GetSessionToken`,
//! `GetFederationToken`, `GetCallerIdentity`, `GetAccessKeyInfo` and
//! `DecodeAuthorizationMessage`.
//!
//! **Registration** — the server builds its [`HandlerTable`] with
//!
//! ```text
//! let mut handlers = HandlerTable::new();
//! meridian_edge::sts::register(&mut handlers)?;
//! ```
//!
//! Every handler is synchronous work on the snapshot the request was
//! authenticated against: nothing here awaits, writes, or talks to another
//! node — issuance reads the replicated key ring, the caller's policies and
//! the region's issuance flag from that snapshot and mints locally, so a
//! region cut off from the quorum keeps issuing (until its configuration is
//! older than `max_config_staleness`, then `ServiceUnavailable`). The
//! [`crate::state::ConfigWriter`] is never called on these paths; tests run
//! issuance with a writer that panics to show it.
//!
//! Issuing calls (`AssumeRole`, `GetSessionToken`, `GetFederationToken`)
//! first check, in this order: the node's region has issuance enabled
//! (`RegionDisabledException`, 403, AWS's text naming the caller's account);
//! the node's configuration is fresh enough (`ServiceUnavailable`, 503).
//! Verification (authentication of any call) is never affected by either.
//!
//! Layout: `assume_role.rs` (AssumeRole), `tokens.rs` (GetSessionToken,
//! GetFederationToken), this file (shared request pieces, the identity
//! operations and DecodeAuthorizationMessage).

mod assume_role;
mod federated_trust;
mod saml;
mod tokens;
mod web_identity;
mod web_identity_token;

use std::future::{Ready, ready};
use std::sync::Arc;

use meridian_core::arn::Arn;
use meridian_core::ids::AccessKeyId;
use meridian_core::policy::compile::Policy;
use meridian_core::policy::errors::{PolicyError, PolicyErrorCode};
use meridian_core::token::{
    self, MAX_POLICY_ARNS, MintError, MintedCredentials, SessionPolicy, SessionPolicyError,
    SessionSpec, TemporaryCredentials,
};

use crate::auth::keys::EdgeRandom;
use crate::authz::{self, ContextValue, Denial, MessageStyle, Subject};
use crate::decode::{Structure, Value};
use crate::error::ApiError;
use crate::model::{ErrorCode, Service};
use crate::operation::{HandlerTable, OperationRequest, UnknownOperation};
use crate::xml::{ResultWriter, XmlResult};

/// Registers every STS operation this module serves. Call it once when
/// building the node's [`HandlerTable`].
pub fn register(table: &mut HandlerTable) -> Result<(), UnknownOperation> {
    fn sync(
        handler: fn(&OperationRequest) -> Result<XmlResult, ApiError>,
    ) -> impl Fn(OperationRequest) -> Ready<Result<XmlResult, ApiError>> + Send + Sync + 'static
    {
        move |request| ready(handler(&request))
    }
    table
        .register(Service::Sts, "GetCallerIdentity", sync(get_caller_identity))?
        .register(Service::Sts, "GetAccessKeyInfo", sync(get_access_key_info))?
        .register(
            Service::Sts,
            "DecodeAuthorizationMessage",
            sync(decode_authorization_message),
        )?
        .register(Service::Sts, "AssumeRole", sync(assume_role::assume_role))?
        .register(
            Service::Sts,
            "GetSessionToken",
            sync(tokens::get_session_token),
        )?
        .register(
            Service::Sts,
            "GetFederationToken",
            sync(tokens::get_federation_token),
        )?
        .register(
            Service::Sts,
            "AssumeRoleWithWebIdentity",
            web_identity::assume_role_with_web_identity,
        )?
        .register(
            Service::Sts,
            "GetWebIdentityToken",
            sync(web_identity_token::get_web_identity_token),
        )?
        .register(
            Service::Sts,
            "AssumeRoleWithSAML",
            sync(saml::assume_role_with_saml),
        )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Shared pieces

/// The decoded input (every operation served here has an input shape except
/// GetCallerIdentity, whose handler does not ask).
fn input(request: &OperationRequest) -> Result<&Structure, ApiError> {
    request
        .input
        .as_ref()
        .ok_or_else(|| ApiError::internal(&"operation input missing"))
}

/// AWS's `RegionDisabledException` text.
fn region_disabled(account: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RegionDisabledException,
        format!(
            "STS is not activated in this region for account:{account}. Your account \
             administrator can activate STS in this region using the IAM Console."
        ),
    )
}

/// The checks every issuing call makes before anything else: the region's
/// issuance flag, then configuration freshness.
fn check_issuance(request: &OperationRequest, account: &str) -> Result<(), ApiError> {
    let state = &request.state;
    if request
        .snapshot
        .region(state.region())
        .is_some_and(|region| !region.issuance_enabled)
    {
        return Err(region_disabled(account));
    }
    if !state
        .freshness()
        .is_fresh(request.now, state.limits().max_config_staleness)
    {
        tracing::warn!("issuance refused: configuration older than max_config_staleness");
        return Err(ApiError::unavailable());
    }
    Ok(())
}

/// A denial as STS words it (no "because …" suffix), with the encoded message.
fn sts_denied(request: &OperationRequest, denial: &Denial) -> ApiError {
    authz::denied(&request.state, denial, MessageStyle::Plain)
}

/// The caller, resolved against the request's snapshot.
fn subject(request: &OperationRequest) -> Result<Subject<'_>, ApiError> {
    let caller = authz::caller(request)?;
    Ok(authz::resolve(request, caller))
}

/// Identity-based authorization with STS's message form.
fn sts_check(
    request: &OperationRequest,
    subject: &Subject<'_>,
    action: &str,
    resource: &str,
    keys: &[(&str, ContextValue<'_>)],
) -> Result<(), ApiError> {
    subject
        .check(action, resource, keys, request.now)
        .map_err(|denial| sts_denied(request, &denial))
}

/// `AccessDenied` with a fixed AWS text.
fn access_denied(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::AccessDenied, message)
}

/// `PackedPolicyTooLarge` with AWS's text.
fn packed_too_large(percent: u32) -> ApiError {
    ApiError::new(
        ErrorCode::PackedPolicyTooLarge,
        format!("Packed policy consumes {percent}% of allotted space, please use smaller policy."),
    )
}

/// A session policy document error, as STS answers it.
fn policy_error(error: &PolicyError) -> ApiError {
    let code = match error.code() {
        PolicyErrorCode::MalformedPolicyDocument => ErrorCode::MalformedPolicyDocument,
        PolicyErrorCode::LimitExceeded => ErrorCode::PackedPolicyTooLarge,
        PolicyErrorCode::ValidationError => ErrorCode::ValidationError,
    };
    ApiError::new(code, error.aws_message())
}

/// The session policies of a request (`Policy`, `PolicyArns`), validated.
struct RequestedPolicy {
    /// What the token carries.
    policy: SessionPolicy,
    /// Whether any was passed (decides whether `PackedPolicySize` is returned).
    given: bool,
}

fn requested_policy(
    request: &OperationRequest,
    input: &Structure,
) -> Result<RequestedPolicy, ApiError> {
    let inline = input.str("Policy");
    if let Some(text) = inline {
        // Validates the grammar now; the token carries the minified text,
        // which is compiled (and cached) again when the session is used.
        let _: Arc<Policy> = request
            .state
            .policies()
            .session(text)
            .map_err(|e| policy_error(&e))?;
    }
    let arns = input.list("PolicyArns").unwrap_or_default();
    if arns.len() > MAX_POLICY_ARNS {
        return Err(ApiError::validation(&[format!(
            "Value at 'policyArns' failed to satisfy constraint: Member must have length less \
             than or equal to {MAX_POLICY_ARNS}"
        )]));
    }
    let mut managed = Vec::with_capacity(arns.len());
    for item in arns {
        let text = item
            .as_structure()
            .and_then(|descriptor| descriptor.str("arn"))
            .unwrap_or_default();
        let arn = Arn::parse(text)
            .ok()
            .filter(|arn| arn.service() == "iam" && arn.resource_type() == "policy")
            .ok_or_else(|| {
                ApiError::new(ErrorCode::ValidationError, format!("{text} is invalid"))
            })?;
        managed.push(arn);
    }
    let given = inline.is_some() || !managed.is_empty();
    let policy = SessionPolicy::new(inline, managed).map_err(|error| match error {
        SessionPolicyError::TooManyPolicyArns => ApiError::validation(&[format!(
            "Value at 'policyArns' failed to satisfy constraint: Member must have length less \
             than or equal to {MAX_POLICY_ARNS}"
        )]),
        SessionPolicyError::PlaintextTooLong => packed_too_large(101),
        SessionPolicyError::EmptyPolicy => ApiError::new(
            ErrorCode::MalformedPolicyDocument,
            "Syntax errors in policy.",
        ),
    })?;
    Ok(RequestedPolicy { policy, given })
}

/// The `Tags` of a request as `(key, value)`, with AWS's duplicate check
/// (keys are case-insensitive).
fn requested_tags(input: &Structure) -> Result<Vec<(&str, &str)>, ApiError> {
    let items = input.list("Tags").unwrap_or_default();
    let mut tags: Vec<(&str, &str)> = Vec::with_capacity(items.len());
    for item in items.iter().filter_map(Value::as_structure) {
        let key = item.str("Key").unwrap_or_default();
        let value = item.str("Value").unwrap_or_default();
        if tags
            .iter()
            .any(|(known, _)| known.eq_ignore_ascii_case(key))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        tags.push((key, value));
    }
    Ok(tags)
}

/// Mints `spec` with the snapshot's key ring, and records the issuance for
/// the audit trail (made durable before the answer leaves, or the answer is
/// `ServiceUnavailable`: `crate::audit`) and the metrics.
fn mint(request: &OperationRequest, spec: &SessionSpec) -> Result<MintedCredentials, ApiError> {
    let minted = mint_unaudited(request, spec)?;
    request
        .audit
        .push(crate::audit::issued(request, spec, &minted));
    crate::telemetry::record_issued(&spec.region, &spec.principal);
    Ok(minted)
}

fn mint_unaudited(
    request: &OperationRequest,
    spec: &SessionSpec,
) -> Result<MintedCredentials, ApiError> {
    let ring = request.state.keys().session_ring(&request.snapshot);
    token::mint(spec, &ring, &mut EdgeRandom(request.state.random())).map_err(|error| match error {
        MintError::PackedPolicyTooLarge { percent } => packed_too_large(percent),
        MintError::TooManyTags => ApiError::new(
            ErrorCode::InvalidParameterValue,
            "The number of session tags, including tags inherited from the calling session, \
             cannot exceed 50.",
        ),
        MintError::InvalidField { field } => ApiError::new(
            ErrorCode::ValidationError,
            format!("The {field} of the session is invalid."),
        ),
        MintError::Key(error) => {
            // No active data key (a ring not yet bootstrapped, or one this
            // node cannot unwrap): retryable, and loud in the logs.
            tracing::error!(%error, "no session key can sign");
            ApiError::unavailable()
        }
        other => ApiError::internal(&other),
    })
}

/// Writes the `Credentials` element.
fn write_credentials(w: &mut ResultWriter, credentials: &TemporaryCredentials) {
    w.structure("Credentials", |w| {
        w.text("AccessKeyId", credentials.access_key_id.as_str())
            .text(
                "SecretAccessKey",
                credentials.secret_access_key.expose_secret(),
            )
            .text("SessionToken", credentials.session_token.as_str())
            .timestamp("Expiration", credentials.expiration);
    });
}

// ---------------------------------------------------------------------------
// Identity operations

/// `GetCallerIdentity`: every principal kind, never denied (STS-API.md §2.7).
fn get_caller_identity(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let caller = authz::caller(request)?;
    let identity = caller
        .principal
        .caller_identity(request.snapshot.partition());
    let arn = identity.arn.to_string();
    Ok(XmlResult::build(|w| {
        w.text("UserId", &identity.user_id)
            .text("Account", identity.account.as_str())
            .text("Arn", &arn);
    }))
}

/// `GetAccessKeyInfo`: the account that owns a key id, from the id alone
/// (the account is encoded in it), so it answers in every region without a
/// lookup. Ids that do not carry an account (not issued by Meridian) are
/// looked up among the long-term keys; failing that, `InvalidParameterValue`
/// (ours: AWS's answer for such ids is not recorded).
fn get_access_key_info(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let subject = subject(request)?;
    sts_check(request, &subject, "sts:GetAccessKeyInfo", "*", &[])?;
    let input = input(request)?;
    let key_id = input.str("AccessKeyId").unwrap_or_default();
    let account = AccessKeyId::parse(key_id)
        .ok()
        .and_then(|id| id.account())
        .or_else(|| {
            request
                .snapshot
                .access_key(key_id)
                .map(|entry| entry.account.account.id)
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                "The specified access key ID is not valid.",
            )
        })?;
    Ok(XmlResult::build(|w| {
        w.text("Account", account.as_str());
    }))
}

/// `DecodeAuthorizationMessage`: for callers allowed
/// `sts:DecodeAuthorizationMessage`, the decision details of one of this
/// cluster's `AccessDenied` answers. Only messages about a principal of the
/// caller's own account are decoded; anything else is
/// `InvalidAuthorizationMessageException`.
fn decode_authorization_message(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let subject = subject(request)?;
    sts_check(
        request,
        &subject,
        "sts:DecodeAuthorizationMessage",
        "*",
        &[],
    )?;
    let input = input(request)?;
    let encoded = input.str("EncodedMessage").unwrap_or_default();
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidAuthorizationMessageException,
            "The encoded authorization message is invalid.",
        )
    };
    let (json, account) = authz::decode_message(&request.state, encoded).ok_or_else(invalid)?;
    if account != subject.account() {
        return Err(invalid());
    }
    Ok(XmlResult::build(|w| {
        w.text("DecodedMessage", &json);
    }))
}
