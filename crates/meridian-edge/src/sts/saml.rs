//! `AssumeRoleWithSAML`: a role session for the bearer of a SAML 2.0
//! response signed by an IdP registered as a SAML provider in the role's
//! account.
//!
//! The call is unsigned (no caller; the node's own region). Checks, in
//! order, each answered with AWS's code:
//!
//! 1. `RoleArn` and `PrincipalArn` well formed (`ValidationError`);
//! 2. issuance enabled in this region for the role's account, configuration
//!    fresh (`mod.rs`);
//! 3. the provider exists in the role's account (`InvalidIdentityToken`);
//! 4. the response verifies with the provider's registered certificates and
//!    passes the content checks (`meridian_core::saml`: signature wrapping,
//!    comments, DTDs, algorithms, issuer, audience, recipient, validity
//!    window) — `InvalidIdentityToken`, or `ExpiredTokenException` once
//!    `NotOnOrAfter` has passed. Audience and recipient are this node's SAML
//!    service provider (`crate::sso`: AWS's sign-in endpoint unless the node
//!    is configured with its own);
//! 5. a `Role` attribute value pairs `RoleArn` with `PrincipalArn`, and the
//!    AWS attributes are valid (`RoleSessionName`, `SessionDuration`,
//!    `PrincipalTag:*`, `TransitiveTagKeys`, `SourceIdentity`) —
//!    `InvalidIdentityToken`;
//! 6. the role exists (else `AccessDenied`, worded as a trust refusal);
//!    `DurationSeconds` (or the `SessionDuration` attribute, the parameter
//!    winning) within the role's `MaxSessionDuration` (`ValidationError`);
//!    session policies (`MalformedPolicyDocument`, `PackedPolicyTooLarge`);
//! 7. the trust policy: `Federated` = the provider ARN, action
//!    `sts:AssumeRoleWithSAML`, plus `sts:TagSession` with tags and
//!    `sts:SetSourceIdentity` with a source identity (`AccessDenied` "Not
//!    authorized to perform sts:AssumeRoleWithSAML");
//! 8. replay: the assertion id must not have been redeemed on this node
//!    (kept until its `NotOnOrAfter`);
//! 9. mint: expiry = min(now + duration, `SessionNotOnOrAfter`); the session
//!    carries `saml:namequalifier`, `saml:sub` and `saml:sub_type` for later
//!    policies (the keys AWS keeps usable after the assume call).
//!
//! Trust context keys: `saml:aud` (the recipient), `saml:iss`, `saml:sub`,
//! `saml:sub_type`, `saml:namequalifier`, `saml:doc`, attribute keys
//! (`saml:edupersonaffiliation`, `saml:mail`, …), `aws:FederatedProvider`,
//! `sts:RoleSessionName`, `sts:SourceIdentity`, `aws:RequestTag/…`,
//! `aws:TagKeys`, `sts:TransitiveTagKeys`, `aws:ResourceTag/…` and
//! `aws:RequestedRegion`.

use meridian_core::arn::Arn;
use meridian_core::ids::UniqueId;
use meridian_core::policy::context::Caller as PolicyCaller;
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::saml::{Expectations, SamlError, SamlErrorCode, verify_response};
use meridian_core::token::{ProviderClaim, SessionSpec, SessionTag};

use super::federated_trust::FederatedTrust;
use super::{check_issuance, input, mint, requested_policy, write_credentials};
use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::xml::XmlResult;

const ACTION: &str = "sts:AssumeRoleWithSAML";
const DEFAULT_DURATION: i64 = 3600;

fn not_authorized() -> ApiError {
    ApiError::new(
        ErrorCode::AccessDenied,
        "Not authorized to perform sts:AssumeRoleWithSAML",
    )
}

/// A [`SamlError`] as the client sees it.
fn saml_error(error: SamlError) -> ApiError {
    let code = match error.code() {
        SamlErrorCode::InvalidIdentityToken => ErrorCode::InvalidIdentityToken,
        SamlErrorCode::ExpiredToken => ErrorCode::ExpiredTokenException,
    };
    ApiError::new(code, error.aws_message())
}

fn well_formed(text: &str) -> Result<Arn, ApiError> {
    Arn::parse(text)
        .ok()
        .filter(|arn| !arn.partition().is_empty() && !arn.account().is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::ValidationError, format!("{text} is invalid")))
}

/// `AssumeRoleWithSAML`.
pub(super) fn assume_role_with_saml(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let input = input(request)?;
    let role_arn = input.str("RoleArn").unwrap_or_default();
    let provider_arn = input.str("PrincipalArn").unwrap_or_default();
    let encoded = input.str("SAMLAssertion").unwrap_or_default();
    let parsed_role = well_formed(role_arn)?;
    well_formed(provider_arn)?;
    check_issuance(request, parsed_role.account())?;

    // The provider, in the role's account.
    let snapshot = &request.snapshot;
    let (account, provider) = snapshot
        .saml_provider_by_arn(provider_arn)
        .filter(|(account, _)| account.account.id.as_str() == parsed_role.account())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidIdentityToken,
                "Specified provider doesn't exist",
            )
        })?;
    let idp = provider
        .idp
        .as_ref()
        .ok_or_else(|| saml_error(SamlError::SignatureInvalid))?;

    // The response.
    let service_provider = request.state.sso().service_provider();
    let audiences: Vec<&str> = service_provider
        .audiences
        .iter()
        .map(String::as_str)
        .collect();
    let assertion = verify_response(
        encoded,
        idp,
        &Expectations {
            now: request.now,
            audiences: &audiences,
            recipient: &service_provider.recipient,
        },
    )
    .map_err(|error| {
        tracing::info!(%error, provider = provider_arn, "SAML response refused");
        saml_error(error)
    })?;
    if !assertion.grants_role(role_arn, provider_arn) {
        return Err(saml_error(SamlError::RoleNotGranted));
    }
    let claims = assertion.aws_claims().map_err(saml_error)?;

    // Role, duration, session policies.
    let Some((_, role)) = snapshot
        .role_by_arn(role_arn)
        .filter(|(owner, _)| owner.account.id == account.account.id)
    else {
        return Err(not_authorized());
    };
    let duration = input
        .int("DurationSeconds")
        .or(claims.session_duration)
        .unwrap_or(DEFAULT_DURATION);
    if duration > i64::from(role.max_session_duration) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let mut expires_at = request.now.plus_seconds(duration);
    if let Some(session_end) = assertion.session_not_on_or_after {
        if session_end <= request.now {
            return Err(saml_error(SamlError::Expired));
        }
        expires_at = expires_at.min(session_end);
    }
    let policy = requested_policy(request, input)?;
    let tags: Vec<SessionTag> = claims
        .tags
        .iter()
        .map(|(key, value)| {
            let transitive = claims
                .transitive_tag_keys
                .iter()
                .any(|t| t.eq_ignore_ascii_case(key));
            SessionTag::new(key.as_str(), value.as_str(), transitive)
        })
        .collect();

    // Trust.
    let partition = snapshot.partition();
    let account_id = account.account.id;
    let canonical_provider = provider.arn(partition, &account_id);
    let canonical_role = role.arn(partition, &account_id);
    let claim_keys = assertion.condition_keys(account_id.as_str(), &provider.name);
    let trust = FederatedTrust {
        role_arn: &canonical_role,
        caller: PolicyCaller::Saml {
            provider: &canonical_provider,
        },
        federated_provider: &canonical_provider,
        session_name: &claims.session_name,
        region: request.state.region(),
        claim_keys: &claim_keys,
        tags: &tags,
        source_identity: claims.source_identity.as_deref(),
        role,
    };
    if let Some(action) = trust.refused_action(request, ACTION) {
        tracing::info!(action, role = %canonical_role, "SAML trust refused");
        return Err(not_authorized());
    }

    // Replay, then mint.
    if !request.state.sso().redeem_assertion(
        &assertion.issuer,
        &assertion.id,
        assertion.valid_until,
        request.now,
    ) {
        return Err(saml_error(SamlError::Replayed));
    }
    let provider_parsed = Arn::parse(&canonical_provider).map_err(|e| ApiError::internal(&e))?;
    let origin = SessionOrigin::saml(provider_parsed).map_err(|e| ApiError::internal(&e))?;
    let role_id = UniqueId::parse(&role.role_id).map_err(|e| ApiError::internal(&e))?;
    let principal = AssumedRolePrincipal::new(
        account_id,
        &role.path,
        &role.name,
        role_id,
        &claims.session_name,
        origin,
    )
    .map_err(|e| ApiError::internal(&e))?;
    let (session_arn, assumed_role_id) = (
        principal.arn(partition).to_string(),
        principal.assumed_role_id(),
    );
    let name_qualifier = assertion.name_qualifier(account_id.as_str(), &provider.name);
    let packed_reported = policy.given || !tags.is_empty();
    let spec = SessionSpec {
        principal: Principal::AssumedRole(principal),
        region: request.state.region().to_owned(),
        issued_at: request.now,
        expires_at,
        source_identity: claims.source_identity.clone(),
        tags,
        policy: policy.policy,
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: vec![
            ProviderClaim::new("saml:namequalifier", name_qualifier.clone()),
            ProviderClaim::new("saml:sub", assertion.name_id.clone()),
            ProviderClaim::new("saml:sub_type", assertion.subject_type()),
        ],
    };
    let minted = mint(request, &spec)?;
    Ok(XmlResult::build(|w| {
        write_credentials(w, &minted.credentials);
        w.structure("AssumedRoleUser", |w| {
            w.text("AssumedRoleId", &assumed_role_id)
                .text("Arn", &session_arn);
        });
        if packed_reported {
            w.integer("PackedPolicySize", i64::from(minted.packed_policy_percent));
        }
        w.text("Subject", &assertion.name_id)
            .text("SubjectType", assertion.subject_type())
            .text("Issuer", &assertion.issuer)
            .text("Audience", &assertion.recipient)
            .text("NameQualifier", &name_qualifier);
        w.opt_text("SourceIdentity", spec.source_identity.as_deref());
    }))
}
