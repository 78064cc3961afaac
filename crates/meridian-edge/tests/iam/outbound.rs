//! The outbound web-identity federation switch: enable (issuer recorded
//! once, one JWT key per algorithm staged and activated), read, disable,
//! re-enable (same issuer, no new keys), and the model's errors.

use meridian_core::config::cluster::{KeyPurpose, KeyState};
use meridian_edge::federation::Federation;

use crate::support::Harness;

fn harness() -> Harness {
    let h = Harness::new();
    let _ = h.state.install_federation(Federation {
        issuer_base_url: Some("https://sts.example.internal/".into()),
        ..Federation::default()
    });
    h
}

#[tokio::test]
async fn enable_read_disable_and_enable_again() {
    let h = harness();
    let info = h.admin("GetOutboundWebIdentityFederationInfo", &[]).await;
    assert_eq!(
        (info.status, info.get("Error/Code").as_str()),
        (404, "FeatureDisabled")
    );
    let reply = h.admin("DisableOutboundWebIdentityFederation", &[]).await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    let enabled = h.admin("EnableOutboundWebIdentityFederation", &[]).await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    let issuer = enabled.get("EnableOutboundWebIdentityFederationResult/IssuerIdentifier");
    let id = issuer
        .strip_prefix("https://sts.example.internal/oidc/")
        .unwrap_or_else(|| panic!("issuer {issuer}"));
    assert_eq!(id.len(), 32);
    let ring = h.writer.snapshot().key_ring().clone();
    for (purpose, kid) in [
        (KeyPurpose::JwtSigning, "rs256-1"),
        (KeyPurpose::JwtSigningEs384, "es384-1"),
    ] {
        let key = ring
            .active(purpose)
            .unwrap_or_else(|| panic!("{purpose:?} key"));
        assert_eq!((key.key_id.as_str(), key.state), (kid, KeyState::Active));
        assert!(!key.public_key.is_empty() && !key.sealed_key.0.is_empty());
    }

    let info = h.admin("GetOutboundWebIdentityFederationInfo", &[]).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(
        info.get("GetOutboundWebIdentityFederationInfoResult/IssuerIdentifier"),
        issuer
    );
    assert_eq!(
        info.get("GetOutboundWebIdentityFederationInfoResult/JwtVendingEnabled"),
        "true"
    );
    let again = h.admin("EnableOutboundWebIdentityFederation", &[]).await;
    assert_eq!(
        (again.status, again.get("Error/Code").as_str()),
        (409, "FeatureEnabled")
    );

    let disabled = h.admin("DisableOutboundWebIdentityFederation", &[]).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let info = h.admin("GetOutboundWebIdentityFederationInfo", &[]).await;
    assert_eq!(
        info.get("GetOutboundWebIdentityFederationInfoResult/JwtVendingEnabled"),
        "false"
    );

    let reenabled = h.admin("EnableOutboundWebIdentityFederation", &[]).await;
    assert_eq!(
        reenabled.get("EnableOutboundWebIdentityFederationResult/IssuerIdentifier"),
        issuer,
        "re-enabling keeps the issuer"
    );
    let after = h.writer.snapshot();
    assert_eq!(
        after.key_ring().latest_term(KeyPurpose::JwtSigning),
        Some(1)
    );
}

#[tokio::test]
async fn callers_need_the_permission() {
    let h = harness();
    let nobody = h.nobody.clone();
    let reply = h
        .call(&nobody, "EnableOutboundWebIdentityFederation", &[])
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        h.writer
            .snapshot()
            .key_ring()
            .active(KeyPurpose::JwtSigning)
            .is_none()
    );
}
