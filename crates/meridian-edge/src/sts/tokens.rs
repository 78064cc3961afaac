//! `GetSessionToken` and `GetFederationToken`: sessions of the calling user
//! (or root) itself.
//!
//! Both take long-term credentials only ("Cannot call … with session
//! credentials", 403), default to 12 hours, allow up to 36, and cap the
//! account root at one hour (AWS clamps silently rather than refusing).
//!
//! * `GetSessionToken` is not policy-controlled (it authenticates). The
//!   session keeps the caller's identity and permissions; without MFA it may
//!   not call IAM (authentication refuses it) and on STS only `AssumeRole`
//!   and `GetCallerIdentity` (`authz.rs`). With `SerialNumber`/`TokenCode`
//!   (the caller's enabled virtual MFA device, `crate::mfa`) the session
//!   carries the MFA time (`aws:MultiFactorAuthPresent`/`Age`) and may call
//!   IAM.
//! * `GetFederationToken` needs `sts:GetFederationToken` on the
//!   federated-user ARN (and `sts:TagSession` with `Tags`); the session is
//!   `arn:…:sts::{account}:federated-user/{Name}` whose permissions are the
//!   user's ∩ the session policies — none at all without a session policy —
//!   and which may call no IAM action and only `GetCallerIdentity` on STS.
//!   Its tags are never transitive (the operation has no `TransitiveTagKeys`).

use meridian_core::policy::context::Value;
use meridian_core::principal::{FederatedUserPrincipal, Principal};
use meridian_core::time::Timestamp;
use meridian_core::token::{SessionPolicy, SessionSpec, SessionTag};

use super::{
    access_denied, check_issuance, input, mint, requested_policy, requested_tags, sts_check,
    subject, write_credentials,
};
use crate::error::ApiError;
use crate::operation::OperationRequest;
use crate::xml::XmlResult;

/// Default session length of both operations.
const DEFAULT_DURATION: i64 = 43_200;
/// The root user's cap.
const ROOT_MAX: i64 = 3_600;

/// The requested duration, with the root cap applied.
fn duration(requested: Option<i64>, principal: &Principal) -> i64 {
    let duration = requested.unwrap_or(DEFAULT_DURATION);
    if matches!(principal, Principal::Root(_)) {
        duration.min(ROOT_MAX)
    } else {
        duration
    }
}

fn expiry(now: Timestamp, seconds: i64) -> Timestamp {
    now.plus_seconds(seconds)
}

/// `GetSessionToken`.
pub(super) fn get_session_token(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let input = input(request)?;
    let subject = subject(request)?;
    let caller = subject.caller();
    if caller.temporary {
        return Err(access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    check_issuance(request, subject.account())?;
    let mfa_authenticated_at = crate::mfa::authenticate(request, &caller.principal, input)?;
    let seconds = duration(input.int("DurationSeconds"), &caller.principal);
    let spec = SessionSpec {
        principal: caller.principal.clone(),
        region: request.state.region().to_owned(),
        issued_at: request.now,
        expires_at: expiry(request.now, seconds),
        source_identity: None,
        tags: Vec::new(),
        policy: SessionPolicy::none(),
        mfa_authenticated_at,
        role_chained: false,
        provider_claims: Vec::new(),
    };
    let minted = mint(request, &spec)?;
    Ok(XmlResult::build(|w| {
        write_credentials(w, &minted.credentials);
    }))
}

/// `GetFederationToken`.
pub(super) fn get_federation_token(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let input = input(request)?;
    let subject = subject(request)?;
    let caller = subject.caller();
    if caller.temporary {
        return Err(access_denied(
            "Cannot call GetFederationToken with session credentials",
        ));
    }
    check_issuance(request, subject.account())?;
    let name = input.str("Name").unwrap_or_default();
    let account = *caller.principal.account();
    let parent = match &caller.principal {
        Principal::User(user) => Some(user.clone()),
        _ => None,
    };
    let federated =
        FederatedUserPrincipal::new(account, name, parent).map_err(|e| ApiError::internal(&e))?;
    let federated_arn = federated.arn(request.snapshot.partition()).to_string();

    let tags = requested_tags(input)?;
    let mut tag_keys: Vec<(&str, Value<'_>)> = Vec::with_capacity(tags.len() * 2);
    let request_tag_names: Vec<String> = tags
        .iter()
        .map(|(key, _)| format!("aws:RequestTag/{key}"))
        .collect();
    for ((key, value), tag_name) in tags.iter().zip(&request_tag_names) {
        tag_keys.push((tag_name, Value::String(value)));
        tag_keys.push(("aws:TagKeys", Value::String(key)));
    }
    sts_check(
        request,
        &subject,
        "sts:GetFederationToken",
        &federated_arn,
        &tag_keys,
    )?;
    if !tags.is_empty() {
        sts_check(
            request,
            &subject,
            "sts:TagSession",
            &federated_arn,
            &tag_keys,
        )?;
    }
    let policy = requested_policy(request, input)?;
    let seconds = duration(input.int("DurationSeconds"), &caller.principal);
    let federated_user_id = federated.federated_user_id();
    // AWS reports 0 when the session carries neither policy nor tags.
    let packed_reported = policy.given || !tags.is_empty();
    let spec = SessionSpec {
        principal: Principal::FederatedUser(federated),
        region: request.state.region().to_owned(),
        issued_at: request.now,
        expires_at: expiry(request.now, seconds),
        source_identity: None,
        tags: tags
            .iter()
            .map(|(key, value)| SessionTag::new(*key, *value, false))
            .collect(),
        policy: policy.policy,
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: Vec::new(),
    };
    let minted = mint(request, &spec)?;
    Ok(XmlResult::build(|w| {
        write_credentials(w, &minted.credentials);
        w.structure("FederatedUser", |w| {
            w.text("FederatedUserId", &federated_user_id)
                .text("Arn", &federated_arn);
        });
        let percent = if packed_reported {
            minted.packed_policy_percent
        } else {
            0
        };
        w.integer("PackedPolicySize", i64::from(percent));
    }))
}
