//! The JWT signing keys (outbound web-identity federation) follow the same
//! lifecycle as the session-token keys, across three regions:
//!
//! * `RotateKeys` for a JWT purpose is refused before any JWT key exists
//!   (they come from `EnableOutboundWebIdentityFederation`), and an unknown
//!   purpose is a validation error;
//! * a rotation stages a pending key that every node publishes in its JWKS
//!   before anything is signed with it, and nothing is signed with it while
//!   it is pending; asking again while it is pending returns the same key;
//! * the rotation task activates it once every member holds it; new tokens
//!   carry its `kid` in every region; the other algorithm's key is untouched;
//! * a token signed with the retired key still verifies against every
//!   node's JWKS (retention covers its lifetime), and once its retention has
//!   passed the key is destroyed and disappears from every node's JWKS.
//!
//! Tokens are verified with an independent library (`jsonwebtoken`).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use meridian_core::config::cluster::{KeyPurpose, KeyState};
use meridian_edge::state::{Clock, SystemClock};
use meridian_grpc::admin::signing::AdminCredentials;
use meridian_proto::pb;
use meridian_proto::pb::admin_client::AdminClient;
use serde_json::Value;
use tonic::transport::Channel;

use crate::support::{Cluster, admin_keys, element, get_with_head, query, signed};

const AUDIENCE: &str = "https://api.example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_signing_keys_rotate_retire_and_are_destroyed() {
    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        let cluster = Cluster::start(&["us-east-1", "eu-west-1", "ap-southeast-2"]).await;
        let admin = cluster.admin_credentials();
        let mut client = cluster.admin_client(2).await;

        tracing::info!("--- no JWT key yet: rotation refused; unknown purpose invalid");
        let refused = rotate(&mut client, &admin, "jwt-signing")
            .await
            .err()
            .unwrap_or_else(|| panic!("rotating a purpose without keys succeeded"));
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused}");
        let invalid = rotate(&mut client, &admin, "jwt")
            .await
            .err()
            .unwrap_or_else(|| panic!("an unknown purpose was accepted"));
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument, "{invalid}");

        tracing::info!("--- enable outbound federation: rs256-1 and es384-1 active");
        let issuer = enable_outbound_federation(&cluster).await;
        wait_for(&cluster, "rs256-1 active everywhere", |ring| {
            active_kid(ring, KeyPurpose::JwtSigning).as_deref() == Some("rs256-1")
        })
        .await;

        tracing::info!("--- watch when each node holds rs256-2 and sees it active");
        let mut watchers = Vec::new();
        for app in &cluster.apps {
            let mut snapshots = app.node().snapshot();
            watchers.push(tokio::spawn(async move {
                let (mut held, mut active) = (None, None);
                loop {
                    if let Some(key) = snapshots
                        .borrow_and_update()
                        .key_ring()
                        .get(KeyPurpose::JwtSigning, 2)
                    {
                        held.get_or_insert_with(Instant::now);
                        if key.state != KeyState::Pending {
                            active.get_or_insert_with(Instant::now);
                            return (held, active);
                        }
                    }
                    if snapshots.changed().await.is_err() {
                        return (held, active);
                    }
                }
            }));
        }

        tracing::info!("--- a token under rs256-1, then rotate the RS256 keys");
        let old = web_identity_token(&cluster, 1, "RS256").await;
        assert_eq!(kid(&old), "rs256-1");
        let rotated = rotate(&mut client, &admin, "jwt-signing")
            .await
            .unwrap_or_else(|e| panic!("rotate: {e}"))
            .into_inner();
        let staged = rotated.staged.unwrap_or_default();
        assert_eq!(
            (
                staged.purpose.as_str(),
                staged.key_id.as_str(),
                staged.algorithm.as_str(),
                staged.state.as_str(),
                rotated.already_pending
            ),
            ("jwt-signing", "rs256-2", "RS256", "pending", false)
        );
        // Tokens signed while rs256-2 is pending (if the activation has not
        // happened yet) must not carry its kid; check right away.
        let meanwhile = web_identity_token(&cluster, 0, "RS256").await;
        let meanwhile_ring = cluster.apps[0]
            .node()
            .snapshot()
            .borrow()
            .key_ring()
            .clone();
        if meanwhile_ring
            .get(KeyPurpose::JwtSigning, 2)
            .is_some_and(|key| key.state == KeyState::Pending)
        {
            assert_eq!(kid(&meanwhile), "rs256-1", "signed with a pending key");
            let again = rotate(&mut client, &admin, "jwt-signing")
                .await
                .unwrap_or_else(|e| panic!("rotate again: {e}"))
                .into_inner();
            assert!(again.already_pending);
            assert_eq!(again.staged.unwrap_or_default().key_id, "rs256-2");
        }

        tracing::info!("--- activated once every member holds it; new tokens use it");
        wait_for(&cluster, "rs256-2 active everywhere", |ring| {
            active_kid(ring, KeyPurpose::JwtSigning).as_deref() == Some("rs256-2")
        })
        .await;
        let mut sightings = Vec::new();
        for watcher in watchers {
            sightings.push(watcher.await.unwrap_or_else(|e| panic!("{e}")));
        }
        let last_held = sightings.iter().filter_map(|s| s.0).max();
        let first_active = sightings.iter().filter_map(|s| s.1).min();
        assert!(
            sightings.iter().all(|s| s.0.is_some()) && last_held <= first_active,
            "rs256-2 activated before every node held it: {sightings:?}"
        );
        for index in 0..3 {
            let jwks = jwks(&cluster, index).await;
            for kid in ["rs256-1", "rs256-2", "es384-1"] {
                assert!(
                    jwks.find(kid).is_some(),
                    "{kid} not published by node {index}"
                );
            }
            let fresh = web_identity_token(&cluster, index, "RS256").await;
            assert_eq!(kid(&fresh), "rs256-2", "node {index}");
            verify(&jwks, &fresh, &issuer);
            let es = web_identity_token(&cluster, index, "ES384").await;
            assert_eq!(kid(&es), "es384-1", "ES384 rotated with RS256");
            verify(&jwks, &es, &issuer);
            tracing::info!(index, "--- the retired key's token still verifies");
            verify(&jwks, &old, &issuer);
        }
        let ring = cluster.apps[0]
            .node()
            .snapshot()
            .borrow()
            .key_ring()
            .clone();
        let retired = ring
            .get(KeyPurpose::JwtSigning, 1)
            .cloned()
            .unwrap_or_else(|| panic!("rs256-1 gone"));
        assert_eq!(retired.state, KeyState::VerifyOnly);
        let claims = verify(&jwks(&cluster, 0).await, &old, &issuer);
        let expires_ms = claims["exp"].as_i64().unwrap_or_default() * 1_000;
        let until = retired
            .verify_until
            .unwrap_or_else(|| panic!("no retention end"));
        assert!(
            until.unix_millis() > expires_ms,
            "rs256-1 retained until {until}, its token expires at {expires_ms} ms"
        );

        tracing::info!("--- after its retention, rs256-1 is destroyed and unpublished");
        let leader = leader_index(&cluster);
        let report = cluster.apps[leader]
            .rotation()
            .tick_purpose(KeyPurpose::JwtSigning, until.plus_millis(1))
            .await
            .unwrap_or_else(|e| panic!("tick: {e}"));
        assert!(report.applied, "{report:?}");
        wait_for(&cluster, "rs256-1 destroyed everywhere", |ring| {
            ring.get(KeyPurpose::JwtSigning, 1)
                .is_some_and(|key| key.state == KeyState::Destroyed)
        })
        .await;
        for index in 0..3 {
            let jwks = jwks(&cluster, index).await;
            assert!(
                jwks.find("rs256-1").is_none(),
                "node {index} still publishes rs256-1"
            );
            assert!(jwks.find("rs256-2").is_some() && jwks.find("es384-1").is_some());
        }
        let ring = cluster.apps[0]
            .node()
            .snapshot()
            .borrow()
            .key_ring()
            .clone();
        assert_eq!(
            active_kid(&ring, KeyPurpose::JwtSigningEs384).as_deref(),
            Some("es384-1")
        );
        assert_eq!(ring.latest_term(KeyPurpose::JwtSigningEs384), Some(1));

        cluster.shutdown().await;
    })
    .await;
    assert!(outcome.is_ok(), "test timed out");
}

fn active_kid(
    ring: &meridian_core::config::cluster::KeyRing,
    purpose: KeyPurpose,
) -> Option<String> {
    ring.active(purpose).map(|key| key.key_id.clone())
}

/// Waits (at most 30 s) until every node's applied ring satisfies `check`.
async fn wait_for(
    cluster: &Cluster,
    what: &str,
    check: impl Fn(&meridian_core::config::cluster::KeyRing) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cluster
        .apps
        .iter()
        .all(|app| check(app.node().snapshot().borrow().key_ring()))
    {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn leader_index(cluster: &Cluster) -> usize {
    let leader = cluster.apps[0].node().status().leader;
    cluster
        .apps
        .iter()
        .position(|app| Some(app.node().id()) == leader)
        .unwrap_or_else(|| panic!("no leader"))
}

/// `RotateKeys` for `purpose`, signed by the administrator.
async fn rotate(
    client: &mut AdminClient<Channel>,
    admin: &AdminCredentials,
    purpose: &str,
) -> Result<tonic::Response<pb::AdminRotateKeysResponse>, tonic::Status> {
    let request = pb::AdminRotateKeysRequest {
        purpose: purpose.to_owned(),
    };
    client
        .rotate_keys(signed("RotateKeys", request, admin, "ap-southeast-2"))
        .await
}

/// Enables outbound web-identity federation for the administrator's
/// account at node 0; returns the issuer URL.
pub(crate) async fn enable_outbound_federation(cluster: &Cluster) -> String {
    let (status, body) = query(
        cluster.apps[0].http_addr(),
        "us-east-1",
        "iam",
        "Action=EnableOutboundWebIdentityFederation&Version=2010-05-08",
        &admin_keys(cluster),
        SystemClock.now(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    element(&body, "IssuerIdentifier")
        .unwrap_or_else(|| panic!("no issuer in {body}"))
        .to_owned()
}

/// A `GetWebIdentityToken` JWT from node `index` (retried while shed).
pub(crate) async fn web_identity_token(cluster: &Cluster, index: usize, alg: &str) -> String {
    let body = format!(
        "Action=GetWebIdentityToken&Version=2011-06-15&Audience.member.1=https%3A%2F%2Fapi.example.com&SigningAlgorithm={alg}&DurationSeconds=3600"
    );
    let keys = admin_keys(cluster);
    for _ in 0..100 {
        let (status, reply) = query(
            cluster.apps[index].http_addr(),
            &cluster.regions[index],
            "sts",
            &body,
            &keys,
            SystemClock.now(),
        )
        .await;
        if status == 503 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(status, 200, "GetWebIdentityToken at node {index}: {reply}");
        return element(&reply, "WebIdentityToken")
            .unwrap_or_else(|| panic!("no token in {reply}"))
            .to_owned();
    }
    panic!("GetWebIdentityToken at node {index} shed 100 times (5 s)");
}

/// Node `index`'s published JWKS; checks that it may not be cached longer
/// than a staged key waits before it signs (the default `min_propagation`
/// of 1 s in these clusters, or less).
pub(crate) async fn jwks(cluster: &Cluster, index: usize) -> JwkSet {
    let (status, head, body) =
        get_with_head(cluster.apps[index].http_addr(), "/.well-known/jwks.json").await;
    assert_eq!(status, 200, "{body}");
    let cache = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("cache-control")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    assert!(
        cache == "public, max-age=1" || cache == "public, max-age=0",
        "JWKS cacheable longer than a staged key waits: {cache:?}"
    );
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("JWKS of node {index}: {e}"))
}

pub(crate) fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap_or_else(|e| panic!("{e}"))
        .kid
        .unwrap_or_default()
}

/// Verifies `token` with `jwks` (signature, issuer, audience, expiry).
pub(crate) fn verify(jwks: &JwkSet, token: &str, issuer: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap_or_else(|e| panic!("{e}"));
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not published"));
    let key = DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{e}"));
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("token under {kid} does not verify: {e}"))
        .claims
}
