//! `GetWebIdentityToken`: a JWT, signed by the cluster, that says who the
//! caller is, for external services that trust Meridian as an OIDC issuer.
//!
//! Checks, in order: issuance enabled here and configuration fresh; the
//! caller may call it (federated-user sessions may not; `GetSessionToken`
//! sessions may) and is allowed `sts:GetWebIdentityToken` (with
//! `sts:IdentityTokenAudience`, `sts:SigningAlgorithm`, `sts:DurationSeconds`,
//! `aws:RequestTag/…`, `aws:TagKeys` in the context); the caller's account
//! has outbound federation enabled (`OutboundWebIdentityFederationDisabledException`);
//! `SigningAlgorithm` is `RS256` or `ES384`; `SubjectMode=OriginIdentity` and
//! `Scope` need a trusted identity propagation context, which Meridian
//! sessions never carry (`ValidationError`); the token does not outlive the
//! caller's session (`SessionDurationEscalationException`); the claims fit
//! [`MAX_PAYLOAD_BYTES`] (`JWTPayloadSizeExceededException`).
//!
//! Claims and keys: `meridian_core::oidc::outbound` and [`crate::outbound`];
//! the issuer is the account's, recorded when it enabled outbound
//! federation, so every node of every region signs with the same `iss`.

use std::collections::BTreeMap;

use meridian_core::oidc::jwk::Algorithm;
use meridian_core::oidc::outbound::{self, OutboundClaims};
use meridian_core::principal::Principal;

use super::{check_issuance, input, requested_tags, sts_check, subject};
use crate::authz::{ContextValue, CredentialKind};
use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::xml::XmlResult;

/// The largest claim set signed, in bytes of JSON.
pub(super) const MAX_PAYLOAD_BYTES: usize = 8 * 1024;
const DEFAULT_DURATION: i64 = 300;

fn validation(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, message)
}

/// `GetWebIdentityToken`.
pub(super) fn get_web_identity_token(request: &OperationRequest) -> Result<XmlResult, ApiError> {
    let input = input(request)?;
    let subject = subject(request)?;
    let caller = subject.caller();
    check_issuance(request, subject.account())?;

    let alg = match input.str("SigningAlgorithm").unwrap_or_default() {
        "RS256" => Algorithm::Rs256,
        "ES384" => Algorithm::Es384,
        _ => {
            return Err(validation(
                "Value at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy \
                 enum value set: [RS256, ES384]",
            ));
        }
    };
    let audiences: Vec<String> = input
        .list("Audience")
        .unwrap_or_default()
        .iter()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    let duration = input.int("DurationSeconds").unwrap_or(DEFAULT_DURATION);
    let tags = requested_tags(input)?;

    // Authorization, with the request's condition keys.
    let duration_text = duration.to_string();
    let request_tag_names: Vec<String> = tags
        .iter()
        .map(|(key, _)| format!("aws:RequestTag/{key}"))
        .collect();
    let mut keys: Vec<(&str, ContextValue<'_>)> = vec![
        ("sts:SigningAlgorithm", ContextValue::String(alg.name())),
        ("sts:DurationSeconds", ContextValue::String(&duration_text)),
    ];
    for audience in &audiences {
        keys.push(("sts:IdentityTokenAudience", ContextValue::String(audience)));
    }
    for ((key, value), name) in tags.iter().zip(&request_tag_names) {
        keys.push((name, ContextValue::String(value)));
        keys.push(("aws:TagKeys", ContextValue::String(key)));
    }
    if subject.kind() == CredentialKind::FederatedSession {
        return Err(super::sts_denied(
            request,
            &subject.denial(
                "sts:GetWebIdentityToken",
                "*",
                crate::authz::DenyKind::Restricted,
            ),
        ));
    }
    sts_check(request, &subject, "sts:GetWebIdentityToken", "*", &keys)?;

    if input.str("SubjectMode") == Some("OriginIdentity") || input.str("Scope").is_some() {
        return Err(validation(
            "SubjectMode OriginIdentity and Scope need a trusted identity propagation context, \
             which the calling session does not have.",
        ));
    }
    let account_id = *caller.principal.account();
    let federation = request
        .snapshot
        .account(&account_id)
        .and_then(|account| account.account.outbound_federation.clone())
        .filter(|federation| federation.enabled)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::OutboundWebIdentityFederationDisabledException,
                "Outbound web identity federation is disabled for this account. Enable it with \
                 EnableOutboundWebIdentityFederation.",
            )
        })?;

    let expires_at = request.now.plus_seconds(duration);
    if let Some(session) = caller.session.as_deref()
        && expires_at > session.expires_at
    {
        return Err(ApiError::new(
            ErrorCode::SessionDurationEscalationException,
            "The requested token duration would extend the session beyond its expiration.",
        ));
    }

    // Who: a role session is its role; everyone else their own ARN.
    let partition = request.snapshot.partition();
    let principal_arn = match &caller.principal {
        Principal::AssumedRole(role) => role.role_arn(partition).to_string(),
        other => other.arn(partition).to_string(),
    };
    let mut principal_tags: BTreeMap<String, String> = BTreeMap::new();
    match &caller.principal {
        Principal::AssumedRole(role) => {
            if let Some(entity) = request.snapshot.role(role.account(), role.role_name()) {
                principal_tags.extend(entity.tags.clone());
            }
        }
        Principal::User(user) => {
            if let Some(entity) = request.snapshot.user(user.account(), user.name()) {
                principal_tags.extend(entity.tags.clone());
            }
        }
        _ => {}
    }
    if let Some(session) = caller.session.as_deref() {
        for tag in &session.tags {
            principal_tags.insert(tag.key.clone(), tag.value.clone());
        }
    }
    let request_tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut jti = [0u8; 16];
    request.state.random().fill(&mut jti);
    let jti: String = jti.iter().map(|b| format!("{b:02x}")).collect();
    let claims = outbound::claims_json(&OutboundClaims {
        issuer: &federation.issuer_url,
        subject: &principal_arn,
        audiences: &audiences,
        issued_at: request.now.unix_seconds(),
        expires_at: expires_at.unix_seconds(),
        jti: &jti,
        account: account_id.as_str(),
        source_region: request.state.region(),
        principal_id: &principal_arn,
        principal_tags: &principal_tags,
        request_tags: &request_tags,
    });
    if claims.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            ErrorCode::JWTPayloadSizeExceededException,
            format!(
                "The token's claims are {} bytes, more than the {MAX_PAYLOAD_BYTES} allowed; \
                 pass fewer or shorter tags or audiences.",
                claims.len()
            ),
        ));
    }

    let keys = request
        .state
        .federation()
        .signers
        .for_snapshot(request.state.keys().kek(), &request.snapshot);
    let Some(signer) = keys.signer(alg) else {
        tracing::error!(alg = alg.name(), "no active JWT signing key");
        return Err(ApiError::unavailable());
    };
    let max_key_age = request.snapshot.key_ring().rotation.max_key_age_ms;
    if !signer.may_sign(request.now, max_key_age) {
        tracing::error!(
            kid = signer.kid(),
            "the active JWT signing key is older than max_key_age (no rotation reached this region): refusing to sign"
        );
        return Err(ApiError::unavailable());
    }
    let input = outbound::signing_input(alg, signer.kid(), &claims);
    let signature = signer
        .sign(input.as_bytes())
        .map_err(|e| ApiError::internal(&e))?;
    let token = outbound::compact(&input, &signature);
    Ok(XmlResult::build(|w| {
        w.text("WebIdentityToken", &token)
            .timestamp("Expiration", expires_at);
    }))
}
