//! Continuous key rotation under load across three regions.
//!
//! The rotation schedule is shortened through the Admin API (a new key every
//! 2 s, activation floor 300 ms, grace 5 s) while clients in every region
//! mint session credentials (`GetSessionToken`, 900 s) and web-identity JWTs
//! (`GetWebIdentityToken`, RS256 and ES384 in turn) at their own node and
//! use them at once at the other two (the JWT checked against those nodes'
//! JWKS). Every key purpose rotates on the same schedule. Checked:
//!
//! * zero "unknown key" rejections: every session verifies in every region
//!   (`InvalidClientTokenId` never appears; a call shed with a retryable
//!   `ServiceUnavailable` by a loaded node is counted, at most 5 %), and
//!   every JWT's `kid` is published by, and verifies with, every node;
//! * two-phase activation: every node held each new key (pending) before
//!   any node saw it active, for every purpose;
//! * zero tokens signed with a pending key: every token's and JWT's key was
//!   active, by the replicated records, no later than its issue time;
//! * the oldest token (sealed before the first rotation) still opens in
//!   every region's ring once its key is verify-only, up to its expiry, and
//!   is refused as expired after it (time injected: core takes it as an
//!   argument).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meridian_core::config::cluster::{KeyPurpose, KeyState};
use meridian_core::ids::AccessKeyId;
use meridian_core::time::Timestamp;
use meridian_core::token::{self, TokenError};
use meridian_edge::state::{Clock, SystemClock};
use meridian_proto::pb;

use crate::jwt_rotation::{enable_outbound_federation, jwks, kid, verify, web_identity_token};
use crate::support::{Cluster, Keys, admin_keys, element, query, signed};

const LOAD: Duration = Duration::from_secs(10);

struct Minted {
    keys: Keys,
    issuer: usize,
    issued_at: Timestamp,
}

/// Per node, purpose and term: when the node first saw the key, and first
/// saw it active.
type Sightings = Arc<Mutex<BTreeMap<(usize, KeyPurpose, u64), (Option<Instant>, Option<Instant>)>>>;

/// A JWT minted during the load: where, under which `kid`, when.
struct MintedJwt {
    purpose: KeyPurpose,
    term: u64,
    /// Its `iat` claim: when the issuing node signed it (whole seconds).
    iat: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_rotation_under_load_across_three_regions() {
    let outcome = tokio::time::timeout(Duration::from_secs(240), async {
        let cluster = Cluster::start(&["us-east-1", "eu-west-1", "ap-southeast-2"]).await;
        let admin = cluster.admin_credentials();

        tracing::info!("--- watch every node's key ring");
        let sightings: Sightings = Arc::default();
        let mut watchers = Vec::new();
        for (index, app) in cluster.apps.iter().enumerate() {
            let mut snapshots = app.node().snapshot();
            let sightings = Arc::clone(&sightings);
            watchers.push(tokio::spawn(async move {
                loop {
                    {
                        let snapshot = snapshots.borrow_and_update().clone();
                        let now = Instant::now();
                        let mut seen = sightings.lock().unwrap_or_else(|e| e.into_inner());
                        for key in snapshot.key_ring().keys.values() {
                            let entry = seen.entry((index, key.purpose, key.term)).or_default();
                            entry.0.get_or_insert(now);
                            if key.state != KeyState::Pending {
                                entry.1.get_or_insert(now);
                            }
                        }
                    }
                    if snapshots.changed().await.is_err() {
                        break;
                    }
                }
            }));
        }

        tracing::info!("--- mint a first session before any rotation");
        let first = mint(&cluster, 0).await;

        tracing::info!("--- enable outbound federation: the first JWT keys");
        let issuer = enable_outbound_federation(&cluster).await;
        let enabled = tokio::time::timeout(Duration::from_secs(30), async {
            while !cluster.apps.iter().all(|app| {
                let ring = app.node().snapshot().borrow().key_ring().clone();
                ring.active(KeyPurpose::JwtSigning).is_some()
                    && ring.active(KeyPurpose::JwtSigningEs384).is_some()
            }) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(enabled.is_ok(), "JWT keys not active everywhere within 30 s");

        tracing::info!("--- shorten the schedule through the Admin API");
        let mut client = cluster.admin_client(0).await;
        let schedule = pb::AdminRotationSchedule {
            rotate_after_seconds: Some(2),
            min_propagation_millis: 300,
            propagation_grace_seconds: 5,
            max_token_lifetime_seconds: 36 * 3_600,
            leeway_seconds: 30,
            max_key_age_seconds: 3_600,
        };
        client
            .set_rotation_schedule(signed("SetRotationSchedule", schedule, &admin, "us-east-1"))
            .await
            .unwrap_or_else(|e| panic!("set schedule: {e}"));

        tracing::info!("--- load: mint in each region, use in the other two");
        let minted = Arc::new(Mutex::new(Vec::new()));
        let jwts = Arc::new(Mutex::new(Vec::new()));
        let issuer_url = Arc::new(issuer);
        let failures = Arc::new(Mutex::new(Vec::new()));
        let shed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let cluster = Arc::new(cluster);
        let deadline = Instant::now() + LOAD;
        let mut workers = Vec::new();
        for issuer in 0..3 {
            let cluster = Arc::clone(&cluster);
            let minted = Arc::clone(&minted);
            let jwts = Arc::clone(&jwts);
            let issuer_url = Arc::clone(&issuer_url);
            let failures = Arc::clone(&failures);
            let shed = Arc::clone(&shed);
            workers.push(tokio::spawn(async move {
                let mut calls = 0u64;
                let mut round = 0usize;
                while Instant::now() < deadline {
                    round += 1;
                    let (alg, purpose) = if round.is_multiple_of(2) {
                        ("RS256", KeyPurpose::JwtSigning)
                    } else {
                        ("ES384", KeyPurpose::JwtSigningEs384)
                    };
                    let jwt = web_identity_token(&cluster, issuer, alg).await;
                    let jwt_kid = kid(&jwt);
                    let mut iat = None;
                    for user in (0..3).filter(|user| *user != issuer) {
                        // Published and verifying in the other regions (a
                        // panic here is an unknown-kid rejection).
                        let claims = verify(&jwks(&cluster, user).await, &jwt, &issuer_url);
                        iat = claims["iat"].as_i64();
                    }
                    let iat = iat.unwrap_or_else(|| panic!("no iat in a JWT"));
                    let term = jwt_kid
                        .rsplit_once('-')
                        .and_then(|(_, term)| term.parse().ok())
                        .unwrap_or_else(|| panic!("kid {jwt_kid}"));
                    jwts.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(MintedJwt { purpose, term, iat });
                    let session = mint(&cluster, issuer).await;
                    for user in (0..3).filter(|user| *user != issuer) {
                        let (status, body) = query(
                            cluster.apps[user].http_addr(),
                            &cluster.regions[user],
                            "sts",
                            "Action=GetCallerIdentity&Version=2011-06-15",
                            &session.keys,
                            SystemClock.now(),
                        )
                        .await;
                        calls += 1;
                        if status == 503 {
                            // Shed, not refused: retryable, counted below.
                            shed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        } else if status != 200 {
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(format!(
                                    "minted in {} used in {}: {status} {body}",
                                    cluster.regions[issuer], cluster.regions[user]
                                ));
                        }
                    }
                    minted
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(session);
                }
                calls
            }));
        }
        let mut calls = 0;
        for worker in workers {
            calls += worker.await.unwrap_or_else(|e| panic!("{e}"));
        }
        let failures = failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let minted = std::mem::take(&mut *minted.lock().unwrap_or_else(|e| e.into_inner()));
        tracing::info!(calls, sessions = minted.len(), "--- load done");
        assert!(
            failures.is_empty(),
            "{} of {calls} cross-region calls failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(calls > 30, "too little load: {calls} calls");
        let shed = shed.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            shed * 20 <= calls,
            "{shed} of {calls} cross-region calls were shed"
        );

        tracing::info!(
            "--- at least three session-key and two JWT-key rotations, each activated after every node held the key"
        );
        let ring = cluster.apps[0]
            .node()
            .snapshot()
            .borrow()
            .key_ring()
            .clone();
        let seen = sightings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for purpose in KeyPurpose::ALL {
            // Session-token keys exist from the start (at least three
            // rotations); the JWT keys from the enable just before the
            // schedule was shortened (at least two).
            let floor = if purpose == KeyPurpose::SessionToken { 4 } else { 3 };
            let latest = ring.latest_term(purpose).unwrap_or(0);
            assert!(
                latest >= floor,
                "only {latest} {purpose:?} key terms after {LOAD:?}"
            );
            for term in 2..=latest {
                let held: Vec<Instant> = (0..3)
                    .filter_map(|node| seen.get(&(node, purpose, term)).and_then(|s| s.0))
                    .collect();
                let active: Vec<Instant> = (0..3)
                    .filter_map(|node| seen.get(&(node, purpose, term)).and_then(|s| s.1))
                    .collect();
                if active.is_empty() {
                    continue; // still pending at the end
                }
                assert_eq!(held.len(), 3, "{purpose:?} {term} not held by every node");
                let last_held = held.iter().max().copied();
                let first_active = active.iter().min().copied();
                assert!(
                    last_held <= first_active,
                    "{purpose:?} {term} activated before every node held it"
                );
            }
        }

        tracing::info!("--- no JWT signed with a pending key");
        let jwts = std::mem::take(&mut *jwts.lock().unwrap_or_else(|e| e.into_inner()));
        assert!(jwts.len() >= 6, "only {} JWTs minted", jwts.len());
        for jwt in &jwts {
            let record = ring
                .get(jwt.purpose, jwt.term)
                .unwrap_or_else(|| panic!("JWT signed under unknown {:?} {}", jwt.purpose, jwt.term));
            let activated = record.activated_at.unwrap_or_else(|| {
                panic!("JWT signed under never-activated key {}", record.key_id)
            });
            // `iat` has whole-second resolution.
            assert!(
                activated.unix_millis() / 1_000 <= jwt.iat,
                "JWT signed at {} s under {}, activated at {activated}",
                jwt.iat,
                record.key_id
            );
        }

        tracing::info!("--- no token signed with a pending key");
        let keys = cluster.keys();
        for session in &minted {
            let id =
                AccessKeyId::parse(&session.keys.access_key_id).unwrap_or_else(|e| panic!("{e}"));
            let snapshot = cluster.apps[session.issuer]
                .node()
                .snapshot()
                .borrow()
                .clone();
            let claims = token::open(
                session.keys.session_token.as_deref().unwrap_or_default(),
                &id,
                &keys.session_ring(&snapshot),
                session.issued_at,
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("a minted token does not open: {e}"));
            let record = ring
                .get(KeyPurpose::SessionToken, u64::from(claims.key_id.get()))
                .unwrap_or_else(|| panic!("token sealed under unknown key {}", claims.key_id));
            let activated = record.activated_at.unwrap_or_else(|| {
                panic!("token sealed under never-activated key {}", claims.key_id)
            });
            // Token times have whole-second resolution.
            assert!(
                activated.unix_millis() / 1_000 <= claims.spec.issued_at.unix_millis() / 1_000,
                "token issued at {} under key {} activated at {activated}",
                claims.spec.issued_at,
                claims.key_id
            );
        }

        tracing::info!("--- the oldest token: valid until it expires, refused after");
        let id = AccessKeyId::parse(&first.keys.access_key_id).unwrap_or_else(|e| panic!("{e}"));
        let token_text = first.keys.session_token.clone().unwrap_or_default();
        for app in &cluster.apps {
            let snapshot = app.node().snapshot().borrow().clone();
            let record = snapshot
                .key_ring()
                .get(KeyPurpose::SessionToken, 1)
                .cloned()
                .unwrap_or_else(|| panic!("key 1 gone"));
            assert_eq!(record.state, KeyState::VerifyOnly);
            let ring = keys.session_ring(&snapshot);
            let claims = token::open(
                &token_text,
                &id,
                &ring,
                SystemClock.now(),
                Duration::from_secs(30),
            )
            .unwrap_or_else(|e| panic!("the oldest token no longer opens: {e}"));
            let expires = claims.spec.expires_at;
            assert!(
                token::open(
                    &token_text,
                    &id,
                    &ring,
                    expires.plus_millis(-1_000),
                    Duration::from_secs(30)
                )
                .is_ok()
            );
            assert!(matches!(
                token::open(
                    &token_text,
                    &id,
                    &ring,
                    expires.plus_millis(31_000),
                    Duration::from_secs(30)
                ),
                Err(TokenError::Expired { .. })
            ));
            assert!(
                record.verify_until.is_some_and(|until| until > expires),
                "key 1 would be destroyed before its last token expires"
            );
        }

        for watcher in watchers {
            watcher.abort();
        }
        if let Ok(cluster) = Arc::try_unwrap(cluster) {
            cluster.shutdown().await;
        }
    })
    .await;
    assert!(outcome.is_ok(), "test timed out");
}

async fn mint(cluster: &Cluster, issuer: usize) -> Minted {
    let admin = admin_keys(cluster);
    // Issuance may shed load (ServiceUnavailable, retryable) on a busy
    // 2-core machine; that is not what this test is about, so it retries.
    let mut attempts = 0;
    let (issued_at, body) = loop {
        let issued_at = SystemClock.now();
        let (status, body) = query(
            cluster.apps[issuer].http_addr(),
            &cluster.regions[issuer],
            "sts",
            "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900",
            &admin,
            issued_at,
        )
        .await;
        attempts += 1;
        if status == 503 && attempts < 20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(
            status, 200,
            "GetSessionToken in {}: {body}",
            cluster.regions[issuer]
        );
        break (issued_at, body);
    };
    let field = |name| {
        element(&body, name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_owned()
    };
    Minted {
        keys: Keys {
            access_key_id: field("AccessKeyId"),
            secret_access_key: field("SecretAccessKey"),
            session_token: Some(field("SessionToken")),
        },
        issuer,
        issued_at,
    }
}
