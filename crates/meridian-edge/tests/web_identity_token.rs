//! `GetWebIdentityToken` and the issuer documents through the router: the
//! account switch, RS256 and ES384 tokens verified against the published
//! JWKS by an independent library (`jsonwebtoken`), the claims AWS
//! documents, the discovery document per account issuer, the session-length
//! bound, and the refusals.

mod sts_support;

use std::collections::HashMap;

use axum::body::Body;
use http::Request;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::command::Command;
use meridian_edge::federation::Federation;
use meridian_edge::outbound::generate_jwt_key;
use serde_json::Value;
use sts_support::*;

const ISSUER: &str = "https://sts.example.internal/oidc/0123456789abcdef";

fn enable(world: &mut World) {
    for purpose in [KeyPurpose::JwtSigning, KeyPurpose::JwtSigningEs384] {
        let key = generate_jwt_key(world.keys.kek(), purpose, 1, &world.random)
            .unwrap_or_else(|e| panic!("{e}"));
        world.ok(Command::StageKey {
            purpose,
            term: 1,
            key_id: key.key_id,
            algorithm: key.algorithm,
            sealed_key: key.sealed_key,
            public_key: key.public_key,
            activate_after: meridian_core::time::Timestamp::EPOCH,
            expected_latest_term: None,
        });
        world.ok(Command::ActivateKey {
            purpose,
            term: 1,
            expected_active_term: None,
            retired_verify_until: meridian_core::time::Timestamp::EPOCH,
        });
    }
    world.ok(Command::SetOutboundFederation {
        account_id: account(ACCOUNT_A),
        issuer_url: ISSUER.into(),
        enabled: true,
    });
}

async fn get(edge: &Edge, path: &str) -> Reply {
    let request = Request::builder()
        .method("GET")
        .uri(path)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    send(&edge.app, request).await
}

fn edge(world: &World, snapshots: &Snapshots) -> Edge {
    let edge = Edge::new(world, snapshots, "eu-west-1");
    let _ = edge.state.install_federation(Federation {
        issuer_base_url: Some("https://sts.example.internal".into()),
        ..Federation::default()
    });
    edge
}

/// Verifies `token` with the JWKS the node publishes, with jsonwebtoken.
async fn verify(edge: &Edge, token: &str, audience: &str) -> Value {
    let jwks: JwkSet = serde_json::from_str(&get(edge, "/.well-known/jwks.json").await.body)
        .unwrap_or_else(|e| panic!("{e}"));
    let header = jsonwebtoken::decode_header(token).unwrap_or_else(|e| panic!("{e}"));
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not published"));
    let key = DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{e}"));
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("{e}"))
        .claims
}

#[tokio::test]
async fn disabled_accounts_get_no_token() {
    let world = World::new();
    let snapshots = Snapshots::new(&world);
    let edge = edge(&world, &snapshots);
    let alice = world.creds(ACCOUNT_A, "alice");
    edge.sts(
        &alice,
        &[
            ("Action", "GetWebIdentityToken"),
            ("Audience.member.1", "https://api.example.com"),
            ("SigningAlgorithm", "RS256"),
        ],
    )
    .await
    .assert_error(403, "OutboundWebIdentityFederationDisabledException", "");
}

#[tokio::test]
async fn rs256_and_es384_tokens_verify_with_the_published_keys() {
    let mut world = World::new();
    enable(&mut world);
    let snapshots = Snapshots::new(&world);
    let edge = edge(&world, &snapshots);
    let alice = world.creds(ACCOUNT_A, "alice");
    for (alg, expected) in [("RS256", Algorithm::RS256), ("ES384", Algorithm::ES384)] {
        let reply = edge
            .sts(
                &alice,
                &[
                    ("Action", "GetWebIdentityToken"),
                    ("Audience.member.1", "https://api.example.com"),
                    ("SigningAlgorithm", alg),
                    ("DurationSeconds", "600"),
                    ("Tags.member.1.Key", "team"),
                    ("Tags.member.1.Value", "blue"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let token = reply.must("WebIdentityToken");
        assert_eq!(
            jsonwebtoken::decode_header(&token).map(|h| h.alg).ok(),
            Some(expected)
        );
        let claims = verify(&edge, &token, "https://api.example.com").await;
        let alice_arn = format!("arn:aws:iam::{ACCOUNT_A}:user/alice");
        assert_eq!(claims["sub"], alice_arn.as_str());
        assert_eq!(claims["aud"], "https://api.example.com");
        assert_eq!(claims["exp"].as_i64(), Some(T0 + 600));
        assert_eq!(claims["iat"].as_i64(), Some(T0));
        assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
        let namespace = &claims["https://sts.amazonaws.com/"];
        assert_eq!(namespace["aws_account"], ACCOUNT_A);
        assert_eq!(namespace["source_region"], "eu-west-1");
        assert_eq!(namespace["principal_id"], alice_arn.as_str());
        assert_eq!(namespace["request_tags"]["team"], "blue");
        assert!(reply.field("Expiration").is_some());
    }
}

#[tokio::test]
async fn issuer_documents_are_served_per_account() {
    let mut world = World::new();
    enable(&mut world);
    let snapshots = Snapshots::new(&world);
    let edge = edge(&world, &snapshots);
    let discovery = get(
        &edge,
        "/oidc/0123456789abcdef/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    let document: Value = serde_json::from_str(&discovery.body).unwrap_or(Value::Null);
    assert_eq!(document["issuer"], ISSUER);
    assert_eq!(
        document["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json").as_str()
    );
    let jwks = get(&edge, "/oidc/0123456789abcdef/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let keys: Value = serde_json::from_str(&jwks.body).unwrap_or(Value::Null);
    let kids: HashMap<String, String> = keys["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    (
                        k["kid"].as_str().unwrap_or_default().to_owned(),
                        k["alg"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(kids.get("rs256-1").map(String::as_str), Some("RS256"));
    assert_eq!(kids.get("es384-1").map(String::as_str), Some("ES384"));
    assert_eq!(
        get(&edge, "/oidc/unknown/.well-known/openid-configuration")
            .await
            .status,
        404
    );
    // The same documents on a node of another region.
    let other = Edge::new(&world, &snapshots, "us-east-1");
    assert_eq!(get(&other, "/.well-known/jwks.json").await.body, jwks.body);
}

#[tokio::test]
async fn role_sessions_are_their_role_and_cannot_outlive_the_session() {
    let mut world = World::new();
    enable(&mut world);
    world.create_role(
        ACCOUNT_A,
        "worker",
        &trust(
            &format!("arn:aws:iam::{ACCOUNT_A}:root"),
            &["sts:AssumeRole"],
        ),
        Some(ALLOW_ALL),
        Default::default(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = edge(&world, &snapshots);
    let alice = world.creds(ACCOUNT_A, "alice");
    let role_arn = format!("arn:aws:iam::{ACCOUNT_A}:role/worker");
    let session = edge
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "worker-session"),
                ("DurationSeconds", "900"),
            ],
        )
        .await
        .credentials();
    let ok = edge
        .sts(
            &session,
            &[
                ("Action", "GetWebIdentityToken"),
                ("Audience.member.1", "a"),
                ("Audience.member.2", "b"),
                ("SigningAlgorithm", "ES384"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let claims = verify(&edge, &ok.must("WebIdentityToken"), "b").await;
    assert_eq!(claims["sub"], role_arn.as_str());
    assert_eq!(claims["aud"], serde_json::json!(["a", "b"]));
    edge.advance(800);
    edge.sts(
        &session,
        &[
            ("Action", "GetWebIdentityToken"),
            ("Audience.member.1", "a"),
            ("SigningAlgorithm", "RS256"),
            ("DurationSeconds", "300"),
        ],
    )
    .await
    .assert_error(403, "SessionDurationEscalationException", "");
    edge.sts(
        &alice,
        &[
            ("Action", "GetWebIdentityToken"),
            ("Audience.member.1", "a"),
            ("SigningAlgorithm", "HS256"),
        ],
    )
    .await
    .assert_error(400, "ValidationError", "");
    edge.sts(
        &alice,
        &[
            ("Action", "GetWebIdentityToken"),
            ("Audience.member.1", "a"),
            ("SigningAlgorithm", "RS256"),
            ("SubjectMode", "OriginIdentity"),
        ],
    )
    .await
    .assert_error(400, "ValidationError", "");
    // bob has no policy: denied.
    let bob = world.creds(ACCOUNT_A, "bob");
    edge.sts(
        &bob,
        &[
            ("Action", "GetWebIdentityToken"),
            ("Audience.member.1", "a"),
            ("SigningAlgorithm", "RS256"),
        ],
    )
    .await
    .assert_error(403, "AccessDenied", "");
}

#[tokio::test]
async fn a_jwt_key_older_than_max_key_age_stops_signing() {
    let mut world = World::new();
    enable(&mut world);
    let snapshots = Snapshots::new(&world);
    let edge = edge(&world, &snapshots);
    let alice = world.creds(ACCOUNT_A, "alice");
    let params = [
        ("Action", "GetWebIdentityToken"),
        ("Audience.member.1", "https://api.example.com"),
        ("SigningAlgorithm", "RS256"),
    ];
    let fresh = edge.sts(&alice, &params).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    // No rotation reached this node for max_key_age (7 days by default):
    // the key it holds may have been destroyed elsewhere; fail closed.
    let max_key_age = world.snapshot().key_ring().rotation.max_key_age_ms;
    let seconds = i64::try_from(max_key_age / 1_000).unwrap_or(i64::MAX);
    edge.advance(seconds);
    edge.state.freshness().confirm(edge.now());
    let aged = edge.sts(&alice, &params).await;
    assert_eq!(
        (aged.status.as_u16(), aged.field("Error/Code").as_deref()),
        (503, Some("ServiceUnavailable")),
        "{}",
        aged.body
    );
}
