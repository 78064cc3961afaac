//! The account-level switch of outbound web-identity federation
//! (`GetWebIdentityToken`): `EnableOutboundWebIdentityFederation`,
//! `DisableOutboundWebIdentityFederation`, `GetOutboundWebIdentityFederationInfo`.
//!
//! Enabling records the account's issuer URL, `{issuer_base_url}/oidc/{id}`
//! with a random 32-hex-character id, the first time (re-enabling keeps it,
//! so verifiers configured for it keep working), and makes sure the cluster
//! has an active JWT signing key of each algorithm: when the replicated ring
//! has none, it stages and activates one (compare-and-set commands, so two
//! nodes enabling at once leave exactly one key per term; nothing can have
//! been signed yet, so no propagation delay is needed). Later keys come from
//! key rotation with the same commands.
//!
//! Errors as the model has them: enabling twice is `FeatureEnabled` (409),
//! disabling or reading a never-enabled account `FeatureDisabled` (404).

use meridian_core::config::cluster::KeyState;
use meridian_core::config::command::Command;

use crate::error::ApiError;
use crate::iam::{Call, IamHandler};
use crate::model::ErrorCode;
use crate::outbound::{JWT_PURPOSES, generate_jwt_key};
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("EnableOutboundWebIdentityFederation", |call| {
        Box::pin(enable(call))
    }),
    ("DisableOutboundWebIdentityFederation", |call| {
        Box::pin(disable(call))
    }),
    ("GetOutboundWebIdentityFederationInfo", |call| {
        Box::pin(info(call))
    }),
];

fn disabled() -> ApiError {
    ApiError::new(
        ErrorCode::FeatureDisabled,
        "Outbound web identity federation is not enabled for this account.",
    )
}

/// Stages and activates a JWT key of every algorithm that has no active one.
async fn ensure_signing_keys(call: &Call) -> Result<(), ApiError> {
    let ring = call.snapshot.key_ring().clone();
    for (purpose, _) in JWT_PURPOSES {
        if ring.active(purpose).is_some() {
            continue;
        }
        let latest = ring.latest_term(purpose);
        let pending = latest
            .and_then(|term| ring.get(purpose, term))
            .filter(|key| key.state == KeyState::Pending)
            .map(|key| key.term);
        let term = match pending {
            Some(term) => term,
            None => {
                let term = latest.map_or(1, |t| t + 1);
                let key = generate_jwt_key(
                    call.state().keys().kek(),
                    purpose,
                    term,
                    call.state().random(),
                )
                .map_err(|e| ApiError::internal(&e))?;
                call.write(Command::StageKey {
                    purpose,
                    term,
                    key_id: key.key_id,
                    algorithm: key.algorithm,
                    sealed_key: key.sealed_key,
                    public_key: key.public_key,
                    activate_after: call.now,
                    expected_latest_term: latest,
                })
                .await?;
                term
            }
        };
        let activated = call
            .write(Command::ActivateKey {
                purpose,
                term,
                expected_active_term: None,
                retired_verify_until: call.now,
            })
            .await;
        // The leader's rotation task may have activated the staged key
        // first (its compare-and-set then refuses ours): an active key is
        // all this call needs.
        if let Err(error) = activated
            && call.fresh().key_ring().active(purpose).is_none()
        {
            return Err(error);
        }
    }
    Ok(())
}

async fn enable(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    let existing = account.account.outbound_federation.clone();
    if existing.as_ref().is_some_and(|f| f.enabled) {
        return Err(ApiError::new(
            ErrorCode::FeatureEnabled,
            "Outbound web identity federation is already enabled for this account.",
        ));
    }
    let issuer_url = match &existing {
        Some(federation) => federation.issuer_url.clone(),
        None => {
            let Some(base) = call.state().federation().issuer_base_url.clone() else {
                tracing::error!("no issuer base URL configured for outbound federation");
                return Err(ApiError::unavailable());
            };
            let mut id = [0u8; 16];
            call.state().random().fill(&mut id);
            format!("{}/oidc/{}", base.trim_end_matches('/'), hex_lower(&id))
        }
    };
    ensure_signing_keys(&call).await?;
    call.write(Command::SetOutboundFederation {
        account_id: *call.account_id(),
        issuer_url: issuer_url.clone(),
        enabled: true,
    })
    .await?;
    // A concurrent enable may have recorded its URL first: answer what is
    // applied.
    let applied = call
        .fresh()
        .account(call.account_id())
        .and_then(|a| a.account.outbound_federation.clone())
        .map_or(issuer_url, |f| f.issuer_url);
    Ok(XmlResult::build(|w| {
        w.text("IssuerIdentifier", &applied);
    }))
}

async fn disable(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    match &account.account.outbound_federation {
        Some(federation) if federation.enabled => {
            call.write(Command::SetOutboundFederation {
                account_id: *call.account_id(),
                issuer_url: federation.issuer_url.clone(),
                enabled: false,
            })
            .await?;
            Ok(XmlResult::empty())
        }
        _ => Err(disabled()),
    }
}

async fn info(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    let federation = account
        .account
        .outbound_federation
        .clone()
        .ok_or_else(disabled)?;
    Ok(XmlResult::build(|w| {
        w.text("IssuerIdentifier", &federation.issuer_url)
            .boolean("JwtVendingEnabled", federation.enabled);
    }))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
