//! `AssumeRole`: a session of a role, for a caller the role trusts.
//!
//! Checks, in order (each answer is AWS's code, status and text):
//!
//! 1. issuance enabled in this region, configuration fresh (`mod.rs`);
//! 2. caller type: the account root is refused ("Roles may not be assumed by
//!    root accounts."), a federated-user session may not call it, a role
//!    session revoked by `RevokeRoleSessions` is denied as by an explicit
//!    deny; `SerialNumber`/`TokenCode` are checked against the calling
//!    user's enabled virtual MFA device (`crate::mfa`: AWS's
//!    "MultiFactorAuthentication failed …" texts, a code once per node), which
//!    sets `aws:MultiFactorAuthPresent`/`Age` in the trust context and the
//!    session; trusted context assertions are not supported;
//! 3. `RoleArn` well formed (`ValidationError` "… is invalid"); a role that
//!    does not exist is `AccessDenied`, worded as a trust refusal (AWS never
//!    reveals whether a role exists);
//! 4. `DurationSeconds` within the role's `MaxSessionDuration`, and at most
//!    one hour when the caller uses temporary credentials (role chaining);
//! 5. session policies (inline + up to 10 ARNs), tags (case-insensitive
//!    duplicates, `TransitiveTagKeys` ⊆ `Tags`, no override of a transitive
//!    tag inherited from the calling session), `SourceIdentity` (sticky: a
//!    calling session's value cannot be changed);
//! 6. authorization: the trust policy combined with the caller's own
//!    policies (`authorize_assume_role`: same-account grants naming the
//!    caller suffice, cross-account needs the caller's identity Allow too)
//!    for `sts:AssumeRole`, then `sts:TagSession` when tags are passed or
//!    inherited, then `sts:SetSourceIdentity` when a source identity is set
//!    or carried;
//! 7. mint: the session inherits the caller's transitive tags and source
//!    identity; a chained session never outlives its parent (ours, stricter
//!    than AWS, RELIABILITY.md b.3).
//!
//! The trust context carries `sts:ExternalId`, `sts:RoleSessionName`,
//! `sts:SourceIdentity`, `sts:TransitiveTagKeys`, `aws:RequestTag/…`,
//! `aws:TagKeys`, `aws:ResourceTag/…` (the role's tags, with incoming
//! transitive tags replacing theirs) and every caller key (`authz.rs`).

use meridian_core::arn::Arn;
use meridian_core::config::model::Role;
use meridian_core::ids::{AccountId, UniqueId};
use meridian_core::policy::context::{RequestContext, Value};
use meridian_core::policy::evaluate::{PolicySource, authorize_assume_role};
use meridian_core::policy::keys::KnownKey;
use meridian_core::policy::kind::PolicyKind;
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::time::Timestamp;
use meridian_core::token::{MAX_SOURCE_IDENTITY_LEN, SessionSpec, SessionTag};

use super::{
    access_denied, check_issuance, input, mint, requested_policy, requested_tags, sts_denied,
    subject, write_credentials,
};
use crate::authz::{CredentialKind, DenyKind, Subject};
use crate::decode::{Structure, Value as InputValue};
use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::xml::XmlResult;

/// Default session length.
const DEFAULT_DURATION: i64 = 3600;
/// The role-chaining cap.
const CHAINED_MAX: i64 = 3600;

/// What the trust evaluation needs from the request, borrowed from it.
struct TrustRequest<'r> {
    role_arn: &'r str,
    session_name: &'r str,
    external_id: Option<&'r str>,
    source_identity: Option<&'r str>,
    tags: &'r [(&'r str, &'r str)],
    transitive_keys: &'r [&'r str],
    inherited: &'r [SessionTag],
    role: &'r Role,
    /// MFA authenticated by this request (`SerialNumber`/`TokenCode`).
    mfa_now: bool,
}

impl<'r> TrustRequest<'r> {
    /// The context for `action` (`sts:AssumeRole`, `sts:TagSession`,
    /// `sts:SetSourceIdentity`).
    fn context(
        &self,
        subject: &'r Subject<'_>,
        action: &'r str,
        now: Timestamp,
    ) -> RequestContext<'r> {
        let mut ctx = subject.context(action, self.role_arn, now);
        ctx.set_known(KnownKey::RoleSessionName, Value::String(self.session_name));
        if let Some(external_id) = self.external_id {
            ctx.set_known(KnownKey::ExternalId, Value::String(external_id));
        }
        if let Some(source) = self.source_identity {
            ctx.set_known(KnownKey::StsSourceIdentity, Value::String(source));
        }
        for (key, value) in self.tags {
            ctx.request_tag(key, value);
            ctx.insert_known(KnownKey::TagKeys, Value::String(key));
        }
        for key in self.transitive_keys {
            ctx.insert_known(KnownKey::TransitiveTagKeys, Value::String(key));
        }
        for (key, value) in &self.role.tags {
            ctx.resource_tag(key, value);
        }
        for tag in self.inherited {
            ctx.resource_tag(&tag.key, &tag.value);
        }
        if self.mfa_now {
            ctx.set_known(KnownKey::MultiFactorAuthPresent, Value::Bool(true));
            ctx.set_known(KnownKey::MultiFactorAuthAge, Value::Number(0.0));
        }
        ctx
    }
}

fn validation(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, message)
}

fn invalid_parameter(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameterValue, message)
}

/// `AssumeRole`.
pub(super) fn assume_role(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let input = input(request)?;
    let subject = subject(request)?;
    let caller = subject.caller();
    check_issuance(request, subject.account())?;
    if matches!(caller.principal, Principal::Root(_)) {
        return Err(access_denied("Roles may not be assumed by root accounts."));
    }
    let role_arn = input.str("RoleArn").unwrap_or_default();
    let action = "sts:AssumeRole";
    if subject.kind() == CredentialKind::FederatedSession {
        return Err(sts_denied(
            request,
            &subject.denial(action, role_arn, DenyKind::Restricted),
        ));
    }
    if subject.revoked() {
        return Err(sts_denied(
            request,
            &subject.denial(action, role_arn, DenyKind::Revoked),
        ));
    }
    let mfa_now = crate::mfa::authenticate(request, &caller.principal, input)?;
    if input.list("ProvidedContexts").is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidContextAssertion,
            "Trusted context assertions are not supported by this service.",
        ));
    }

    // AWS's answer for a RoleArn that is not an ARN at all.
    let well_formed = Arn::parse(role_arn)
        .is_ok_and(|arn| !arn.partition().is_empty() && !arn.account().is_empty());
    if !well_formed {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            format!("{role_arn} is invalid"),
        ));
    }
    let trust_denied = || {
        sts_denied(
            request,
            &subject.denial(action, role_arn, DenyKind::Implicit(PolicySource::Trust)),
        )
    };
    let Some((role_account, role)) = request.snapshot.role_by_arn(role_arn) else {
        return Err(trust_denied());
    };

    // Duration.
    let chained = caller.temporary;
    let duration = input.int("DurationSeconds").unwrap_or(DEFAULT_DURATION);
    if duration > i64::from(role.max_session_duration) {
        return Err(validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if chained && duration > CHAINED_MAX {
        return Err(validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
             role chaining.",
        ));
    }

    // Session policies, tags, source identity.
    let policy = requested_policy(request, input)?;
    let tags = requested_tags(input)?;
    let transitive_keys = transitive_keys(input, &tags)?;
    let inherited: Vec<SessionTag> = caller
        .session
        .as_deref()
        .map(|session| {
            session
                .tags
                .iter()
                .filter(|tag| tag.transitive)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if tags.iter().any(|(key, _)| {
        inherited
            .iter()
            .any(|tag| tag.key.eq_ignore_ascii_case(key))
    }) {
        return Err(invalid_parameter(
            "One of the specified transitive tag keys can't be set because it conflicts with a \
             transitive tag key from the calling session.",
        ));
    }
    let requested_source = input.str("SourceIdentity");
    if requested_source.is_some_and(|s| s.len() > MAX_SOURCE_IDENTITY_LEN) {
        return Err(ApiError::validation(&[format!(
            "Value at 'sourceIdentity' failed to satisfy constraint: Member must have length \
             less than or equal to {MAX_SOURCE_IDENTITY_LEN}"
        )]));
    }
    let carried_source = caller
        .session
        .as_deref()
        .and_then(|session| session.source_identity.as_deref());
    if let (Some(carried), Some(requested)) = (carried_source, requested_source)
        && carried != requested
    {
        return Err(access_denied(
            "The source identity of the calling session cannot be changed.",
        ));
    }
    let source_identity = carried_source.or(requested_source);
    let session_name = input.str("RoleSessionName").unwrap_or_default();

    // Authorization: trust ∧ caller's policies, per action needed.
    let Some(trust) = request
        .state
        .policies()
        .document(&role.trust_policy, PolicyKind::Trust)
    else {
        return Err(trust_denied());
    };
    let canonical_arn = role.arn(request.snapshot.partition(), &role_account.account.id);
    let trust_request = TrustRequest {
        role_arn: &canonical_arn,
        session_name,
        external_id: input.str("ExternalId"),
        source_identity: requested_source.or(carried_source),
        tags: &tags,
        transitive_keys: &transitive_keys,
        inherited: &inherited,
        role,
        mfa_now: mfa_now.is_some(),
    };
    let perms = subject.permission_set();
    let mut actions = vec![action];
    if !tags.is_empty() || !transitive_keys.is_empty() || !inherited.is_empty() {
        actions.push("sts:TagSession");
    }
    if source_identity.is_some() {
        actions.push("sts:SetSourceIdentity");
    }
    for needed in actions {
        let ctx = trust_request.context(&subject, needed, request.now);
        let decision = authorize_assume_role(&trust, Some(&perms), &ctx);
        if !decision.is_allowed() {
            return Err(sts_denied(
                request,
                &subject.denial(needed, role_arn, DenyKind::from_decision(&decision)),
            ));
        }
    }

    // Mint.
    let principal = assumed_role_principal(role_account.account.id, role, session_name)?;
    let mut expires_at = request.now.plus_seconds(duration);
    if let Some(parent) = caller.session.as_deref().filter(|_| chained) {
        expires_at = expires_at.min(parent.expires_at);
    }
    let mut session_tags: Vec<SessionTag> = tags
        .iter()
        .map(|(key, value)| {
            let transitive = transitive_keys.iter().any(|t| t.eq_ignore_ascii_case(key));
            SessionTag::new(*key, *value, transitive)
        })
        .collect();
    session_tags.extend(inherited);
    let packed_reported = policy.given || !session_tags.is_empty();
    let spec = SessionSpec {
        principal,
        region: request.state.region().to_owned(),
        issued_at: request.now,
        expires_at,
        source_identity: source_identity.map(str::to_owned),
        tags: session_tags,
        policy: policy.policy,
        mfa_authenticated_at: mfa_now.or_else(|| {
            caller
                .session
                .as_deref()
                .and_then(|session| session.mfa_authenticated_at)
        }),
        role_chained: chained,
        provider_claims: Vec::new(),
    };
    let minted = mint(request, &spec)?;
    let (arn, assumed_role_id) = match &spec.principal {
        Principal::AssumedRole(role) => (
            role.arn(request.snapshot.partition()).to_string(),
            role.assumed_role_id(),
        ),
        _ => return Err(ApiError::internal(&"assumed-role principal expected")),
    };
    Ok(XmlResult::build(|w| {
        write_credentials(w, &minted.credentials);
        w.structure("AssumedRoleUser", |w| {
            w.text("AssumedRoleId", &assumed_role_id).text("Arn", &arn);
        });
        if packed_reported {
            w.integer("PackedPolicySize", i64::from(minted.packed_policy_percent));
        }
        w.opt_text("SourceIdentity", spec.source_identity.as_deref());
    }))
}

/// `TransitiveTagKeys`, each of which must name a requested tag.
fn transitive_keys<'i>(
    input: &'i Structure,
    tags: &[(&str, &str)],
) -> Result<Vec<&'i str>, ApiError> {
    let keys: Vec<&str> = input
        .list("TransitiveTagKeys")
        .unwrap_or_default()
        .iter()
        .filter_map(InputValue::as_str)
        .collect();
    for key in &keys {
        if !tags.iter().any(|(tag, _)| tag.eq_ignore_ascii_case(key)) {
            return Err(invalid_parameter(
                "The specified transitive tag key must be included in the requested tags.",
            ));
        }
    }
    Ok(keys)
}

fn assumed_role_principal(
    account: AccountId,
    role: &Role,
    session_name: &str,
) -> Result<Principal, ApiError> {
    let role_id = UniqueId::parse(&role.role_id).map_err(|e| ApiError::internal(&e))?;
    AssumedRolePrincipal::new(
        account,
        &role.path,
        &role.name,
        role_id,
        session_name,
        SessionOrigin::AssumeRole,
    )
    .map(Principal::AssumedRole)
    .map_err(|e| ApiError::internal(&e))
}
