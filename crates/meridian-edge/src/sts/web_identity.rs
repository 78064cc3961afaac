//! `AssumeRoleWithWebIdentity`: a role session for the holder of an OpenID
//! Connect ID token from a provider registered in the role's account.
//!
//! The call is unsigned (no caller, the node's own region). Checks, in
//! order, each answered with AWS's code:
//!
//! 1. `RoleArn` well formed (`ValidationError`); `ProviderId` (OAuth 2.0
//!    access tokens of Amazon/Facebook) is not supported (`InvalidParameterValue`);
//! 2. issuance enabled in this region for the role's account, configuration
//!    fresh (`mod.rs`);
//! 3. the token parses (`InvalidIdentityToken`; `meridian_core::oidc::token`);
//! 4. its `iss` names an OIDC provider registered *in the role's account*
//!    (`InvalidIdentityToken` "No OpenIDConnect provider found in your
//!    account for …"); loopback HTTP issuers only where this node allows
//!    them. Nothing is fetched for an unregistered issuer;
//! 5. claims: `iss` byte-equal to the registered URL, `aud`/`azp` among its
//!    client ids, integer `exp`/`iat`, `nbf` (`InvalidIdentityToken`,
//!    `ExpiredTokenException`, `IDPRejectedClaim` for malformed AWS claims);
//! 6. the role exists (else `AccessDenied`, worded as a trust refusal) and
//!    `DurationSeconds` is within its `MaxSessionDuration`; session policies;
//! 7. the signature, with the provider's keys from the server's fetcher
//!    ([`crate::federation`]): cached keys first, one refresh when the token's
//!    key is unknown (`IDPCommunicationError` when the provider cannot be
//!    reached, `InvalidIdentityToken` when it has no such key);
//! 8. the trust policy: `Federated` = the provider's ARN, action
//!    `sts:AssumeRoleWithWebIdentity`, plus `sts:TagSession` when the token
//!    carries session tags and `sts:SetSourceIdentity` when it carries a
//!    source identity (`AccessDenied` "Not authorized to perform
//!    sts:AssumeRoleWithWebIdentity");
//! 9. mint a role session whose origin is the provider, carrying the claims
//!    that answer `{provider}:sub` and `{provider}:aud` in later policies.
//!
//! Condition keys in the trust context: `{provider}:aud` (the `azp` when
//! present, otherwise every `aud` value), `{provider}:oaud` (the `aud`
//! values when `azp` is present), `{provider}:sub`, `{provider}:amr`,
//! `{provider}:email`, `aws:FederatedProvider`, `sts:RoleSessionName`,
//! `sts:SourceIdentity`, `aws:RequestTag/…`, `aws:TagKeys`,
//! `sts:TransitiveTagKeys`, `aws:ResourceTag/…` (the role's tags) and
//! `aws:RequestedRegion`, where `{provider}` is the provider URL without
//! its scheme (`token.actions.githubusercontent.com`).

use std::sync::Arc;

use meridian_core::arn::Arn;
use meridian_core::config::model::OidcProvider;
use meridian_core::ids::UniqueId;
use meridian_core::oidc::issuer::loopback_http_resource;
use meridian_core::oidc::jwk::Jwks;
use meridian_core::oidc::token::{Expectations, IdentityClaims, UnverifiedToken};
use meridian_core::oidc::{AwsCode, OidcError};
use meridian_core::policy::context::Caller as PolicyCaller;
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::token::{
    MAX_SOURCE_IDENTITY_LEN, PROVIDER_CLAIMS_LIMIT, ProviderClaim, SessionSpec, SessionTag,
    provider_claims_size,
};

use super::federated_trust::FederatedTrust;
use super::{check_issuance, input, mint, requested_policy, write_credentials};
use crate::error::ApiError;
use crate::federation::{JwksError, KeyLookup};
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::xml::XmlResult;

const ACTION: &str = "sts:AssumeRoleWithWebIdentity";
const DEFAULT_DURATION: i64 = 3600;

/// AWS's text for `IDPCommunicationError` (the model's documentation).
const IDP_UNREACHABLE: &str = "The request could not be fulfilled because the identity provider \
     (IDP) that was asked to verify the incoming identity token could not be reached. This is \
     often a transient error caused by network conditions. Retry the request a limited number of \
     times and avoid retrying too quickly.";

fn not_authorized() -> ApiError {
    ApiError::new(
        ErrorCode::AccessDenied,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
}

/// An [`OidcError`] as the client sees it.
pub(crate) fn oidc_error(error: &OidcError) -> ApiError {
    let code = match error.aws_code() {
        AwsCode::InvalidIdentityToken => ErrorCode::InvalidIdentityToken,
        AwsCode::ExpiredToken => ErrorCode::ExpiredTokenException,
        AwsCode::IdpRejectedClaim => ErrorCode::IDPRejectedClaim,
        AwsCode::IdpCommunicationError => ErrorCode::IDPCommunicationError,
    };
    ApiError::new(code, error.aws_message())
}

fn jwks_error(error: &JwksError) -> ApiError {
    match error {
        JwksError::Unreachable(detail) => {
            tracing::warn!(%detail, "identity provider unreachable");
            ApiError::new(ErrorCode::IDPCommunicationError, IDP_UNREACHABLE)
        }
        JwksError::Unusable(detail) | JwksError::Refused(detail) => {
            tracing::warn!(%detail, "identity provider keys unusable");
            oidc_error(&OidcError::UnknownKey)
        }
    }
}

fn rejected(claim: &'static str) -> ApiError {
    oidc_error(&OidcError::RejectedClaim(claim))
}

/// The registered provider `iss` names in the role's account.
fn find_provider<'s>(
    request: &'s OperationRequest,
    providers: impl Fn(&str) -> Option<&'s OidcProvider>,
    issuer: &str,
) -> Result<&'s OidcProvider, ApiError> {
    let federation = request.state.federation();
    let resource = if let Some(rest) = issuer.strip_prefix("https://") {
        Some(rest.trim_end_matches('/').to_owned())
    } else if federation.allow_loopback_http_issuers {
        loopback_http_resource(issuer)
    } else {
        None
    };
    let provider = resource.as_deref().and_then(providers).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidIdentityToken,
            format!(
                "No OpenIDConnect provider found in your account for {}",
                issuer.chars().take(256).collect::<String>()
            ),
        )
    })?;
    Ok(provider)
}

/// The keys that verify `token`: cached first, one refresh if the token's
/// key is not among them.
async fn verify_signature(
    request: &OperationRequest,
    issuer: &str,
    token: &UnverifiedToken,
) -> Result<(), ApiError> {
    let source = Arc::clone(&request.state.federation().jwks);
    let jwks: Arc<Jwks> = source
        .keys(issuer, KeyLookup::Cached)
        .await
        .map_err(|e| jwks_error(&e))?;
    match token.verify_signature(&jwks) {
        Err(OidcError::UnknownKey) => {}
        other => return other.map_err(|e| oidc_error(&e)),
    }
    let jwks = source
        .keys(issuer, KeyLookup::Refresh { kid: token.kid() })
        .await
        .map_err(|e| jwks_error(&e))?;
    token.verify_signature(&jwks).map_err(|e| oidc_error(&e))
}

/// Session tags from the token, checked as AWS checks requested tags.
fn claim_tags(claims: &IdentityClaims) -> Result<Vec<SessionTag>, ApiError> {
    let tags_claim = meridian_core::oidc::TAGS_CLAIM;
    let mut tags: Vec<SessionTag> = Vec::with_capacity(claims.principal_tags.len());
    for (key, value) in &claims.principal_tags {
        let key_ok = (1..=128).contains(&key.chars().count()) && key.chars().all(tag_char);
        let value_ok = value.chars().count() <= 256 && value.chars().all(tag_char);
        if !key_ok || !value_ok || tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
            return Err(rejected(tags_claim));
        }
        let transitive = claims
            .transitive_tag_keys
            .iter()
            .any(|t| t.eq_ignore_ascii_case(key));
        tags.push(SessionTag::new(key.as_str(), value.as_str(), transitive));
    }
    Ok(tags)
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, the model's tag pattern.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn check_source_identity(value: &str) -> Result<(), ApiError> {
    let ok = (2..=MAX_SOURCE_IDENTITY_LEN).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(rejected(meridian_core::oidc::SOURCE_IDENTITY_CLAIM))
    }
}

/// The provider claims a session carries for later policies, in priority
/// order, as many as fit the token's budget (`{p}:sub` first).
fn session_claims(prefix: &str, claims: &IdentityClaims) -> Vec<ProviderClaim> {
    let mut carried = Vec::new();
    let mut candidates = vec![(format!("{prefix}:sub"), claims.subject.clone())];
    candidates.push((format!("{prefix}:aud"), claims.audience.clone()));
    for amr in &claims.amr {
        candidates.push((format!("{prefix}:amr"), amr.clone()));
    }
    for (key, value) in candidates {
        if key.len() > meridian_core::token::MAX_PROVIDER_CLAIM_KEY_LEN || value.len() > 1024 {
            continue;
        }
        carried.push(ProviderClaim::new(key, value));
        if provider_claims_size(&carried) > PROVIDER_CLAIMS_LIMIT {
            carried.pop();
        }
    }
    carried
}

/// `AssumeRoleWithWebIdentity`.
pub(super) async fn assume_role_with_web_identity(
    request: OperationRequest,
) -> Result<XmlResult, ApiError> {
    let request = &request;
    let input = input(request)?;
    let role_arn = input.str("RoleArn").unwrap_or_default();
    let session_name = input.str("RoleSessionName").unwrap_or_default();
    let raw_token = input.str("WebIdentityToken").unwrap_or_default();
    let parsed_arn = Arn::parse(role_arn)
        .ok()
        .filter(|arn| !arn.partition().is_empty() && !arn.account().is_empty())
        .ok_or_else(|| {
            ApiError::new(ErrorCode::ValidationError, format!("{role_arn} is invalid"))
        })?;
    if input.str("ProviderId").is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidParameterValue,
            "ProviderId (OAuth 2.0 access tokens) is not supported by this server; use an \
             OpenID Connect provider registered with CreateOpenIDConnectProvider",
        ));
    }
    check_issuance(request, parsed_arn.account())?;

    // The token, and the provider its issuer names in the role's account.
    let token = UnverifiedToken::parse(raw_token).map_err(|e| oidc_error(&e))?;
    let issuer = token.issuer().map_err(|e| oidc_error(&e))?;
    let snapshot = &request.snapshot;
    let role_account = meridian_core::ids::AccountId::parse(parsed_arn.account())
        .ok()
        .and_then(|id| snapshot.account(&id));
    let provider = find_provider(
        request,
        |resource| {
            role_account
                .and_then(|account| account.oidc_providers.get(resource))
                .map(Arc::as_ref)
        },
        issuer,
    )?;
    let federation = request.state.federation();
    let leeway = i64::try_from(federation.leeway.as_secs()).unwrap_or(60);
    let claims = token
        .validate_claims(
            &Expectations {
                issuer: &provider.url,
                client_ids: &provider.client_ids,
                leeway_seconds: leeway,
            },
            request.now,
        )
        .map_err(|e| oidc_error(&e))?;

    // The role, the duration, the session policies.
    let Some((account, role)) = snapshot.role_by_arn(role_arn) else {
        return Err(not_authorized());
    };
    let duration = input.int("DurationSeconds").unwrap_or(DEFAULT_DURATION);
    if duration > i64::from(role.max_session_duration) {
        return Err(ApiError::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let policy = requested_policy(request, input)?;
    let tags = claim_tags(&claims)?;
    if let Some(source) = &claims.source_identity {
        check_source_identity(source)?;
    }

    // The signature: only now is anything fetched, and only for a
    // registered provider's exact URL.
    verify_signature(request, &provider.url, &token).await?;

    // Trust.
    let partition = snapshot.partition();
    let account_id = account.account.id;
    let provider_arn = provider.arn(partition, &account_id);
    let prefix = provider.resource();
    let mut claim_keys: Vec<(String, &str)> = vec![(format!("{prefix}:sub"), &claims.subject)];
    match &claims.azp {
        Some(azp) => {
            claim_keys.push((format!("{prefix}:aud"), azp));
            for aud in &claims.aud {
                claim_keys.push((format!("{prefix}:oaud"), aud));
            }
        }
        None => {
            for aud in &claims.aud {
                claim_keys.push((format!("{prefix}:aud"), aud));
            }
        }
    }
    for amr in &claims.amr {
        claim_keys.push((format!("{prefix}:amr"), amr));
    }
    if let Some(email) = &claims.email {
        claim_keys.push((format!("{prefix}:email"), email));
    }
    let canonical_arn = role.arn(partition, &account_id);
    let trust = FederatedTrust {
        role_arn: &canonical_arn,
        caller: PolicyCaller::WebIdentity {
            provider: &provider_arn,
        },
        federated_provider: prefix,
        session_name,
        region: request.state.region(),
        claim_keys: &claim_keys,
        tags: &tags,
        source_identity: claims.source_identity.as_deref(),
        role,
    };
    if let Some(action) = trust.refused_action(request, ACTION) {
        tracing::info!(action, role = %canonical_arn, "web identity trust refused");
        return Err(not_authorized());
    }

    // Mint.
    let provider_arn_parsed = Arn::parse(&provider_arn).map_err(|e| ApiError::internal(&e))?;
    let origin =
        SessionOrigin::web_identity(provider_arn_parsed).map_err(|e| ApiError::internal(&e))?;
    let role_id = UniqueId::parse(&role.role_id).map_err(|e| ApiError::internal(&e))?;
    let principal = AssumedRolePrincipal::new(
        account_id,
        &role.path,
        &role.name,
        role_id,
        session_name,
        origin,
    )
    .map_err(|e| ApiError::internal(&e))?;
    let (session_arn, assumed_role_id) = (
        principal.arn(partition).to_string(),
        principal.assumed_role_id(),
    );
    let packed_reported = policy.given || !tags.is_empty();
    let spec = SessionSpec {
        principal: Principal::AssumedRole(principal),
        region: request.state.region().to_owned(),
        issued_at: request.now,
        expires_at: request.now.plus_seconds(duration),
        source_identity: claims.source_identity.clone(),
        tags,
        policy: policy.policy,
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: session_claims(prefix, &claims),
    };
    let minted = mint(request, &spec)?;
    Ok(XmlResult::build(|w| {
        write_credentials(w, &minted.credentials);
        w.text("SubjectFromWebIdentityToken", &claims.subject);
        w.structure("AssumedRoleUser", |w| {
            w.text("AssumedRoleId", &assumed_role_id)
                .text("Arn", &session_arn);
        });
        if packed_reported {
            w.integer("PackedPolicySize", i64::from(minted.packed_policy_percent));
        }
        w.text("Provider", &provider_arn)
            .text("Audience", &claims.audience);
        w.opt_text("SourceIdentity", spec.source_identity.as_deref());
    }))
}
