//! The edge's audit and metrics seams: every issuance (allowed or refused)
//! reaches the audit sink before the answer, issuance fails closed with
//! `ServiceUnavailable` when the sink cannot make its record durable (and the
//! credentials never leave), verification and refusals are unaffected, and
//! `/metrics` serves what the server's renderer returns.

mod sts_support;

use std::sync::{Arc, Mutex};

use http::StatusCode;
use meridian_core::time::Timestamp;
use meridian_edge::audit::{AuditError, AuditEvent, AuditKind, AuditSink, Decision};
use meridian_edge::operation::HandlerTable;
use meridian_edge::router::router;
use meridian_edge::state::{
    BoxFuture, EdgeLimits, EdgeObservability, EdgeParts, EdgeState, Freshness, MetricsRenderer,
    Readiness,
};
use meridian_edge::sts;
use sts_support::*;
use tower::ServiceExt;

const ROLE: &str = "arn:aws:iam::111111111111:role/dev";

/// Keeps every event; fails every append when `fail` is set.
#[derive(Default)]
struct RecordingSink {
    events: Mutex<Vec<AuditEvent>>,
    fail: bool,
}

impl AuditSink for RecordingSink {
    fn append(&self, events: Vec<AuditEvent>) -> BoxFuture<'_, Result<(), AuditError>> {
        let result = if self.fail {
            Err(AuditError::Io(String::from("disk full")))
        } else {
            self.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(events);
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }
}

fn world() -> World {
    let mut world = World::new();
    world.create_role(
        ACCOUNT_A,
        "dev",
        &trust(
            "arn:aws:iam::111111111111:root",
            &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        ),
        Some(ALLOW_ALL),
        Default::default(),
    );
    world
}

fn edge(world: &World, snapshots: &Snapshots, observability: EdgeObservability) -> Edge {
    let clock = Arc::new(TestClock(std::sync::atomic::AtomicI64::new(T0 * 1000)));
    let freshness = Freshness::new();
    freshness.confirm(Timestamp::from_unix_seconds(T0));
    let mut handlers = HandlerTable::new();
    sts::register(&mut handlers).unwrap_or_else(|e| panic!("{e}"));
    let state = EdgeState::with_observability(
        EdgeParts {
            snapshots: snapshots.sender.subscribe(),
            region: String::from("eu-west-1"),
            clock: clock.clone(),
            random: Arc::new(SeededRandom::new(5)),
            writer: Arc::new(PanickingWriter),
            authenticator: Arc::new(meridian_edge::auth::SigV4Authenticator::new(
                "eu-west-1",
                world.keys.clone(),
            )),
            keys: world.keys.clone(),
            freshness,
            handlers,
            readiness: Readiness::new(),
            limits: EdgeLimits::RECOMMENDED,
        },
        observability,
    );
    Edge {
        app: router(state.clone()),
        state,
        clock,
        region: String::from("eu-west-1"),
    }
}

fn observe(sink: &Arc<RecordingSink>) -> EdgeObservability {
    EdgeObservability {
        audit: sink.clone(),
        metrics: None,
    }
}

#[tokio::test]
async fn issuance_and_refusals_are_audited_before_the_answer() {
    let world = world();
    let snapshots = Snapshots::new(&world);
    let sink = Arc::new(RecordingSink::default());
    let edge = edge(&world, &snapshots, observe(&sink));
    let alice = world.creds(ACCOUNT_A, "alice");

    let reply = edge
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "audited"),
                ("SourceIdentity", "alice-laptop"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "blue"),
            ],
        )
        .await;
    let creds = reply.credentials();
    let refused = edge
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::111111111111:role/missing"),
                ("RoleSessionName", "nope"),
            ],
        )
        .await;
    refused.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice",
    );
    let who = edge.sts(&creds, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(who.status, StatusCode::OK);

    let events = sink
        .events
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(events.len(), 2, "{events:#?}");
    let AuditKind::Issuance(allowed) = &events[0].kind else {
        panic!("issuance expected: {:?}", events[0]);
    };
    assert_eq!(allowed.action, "AssumeRole");
    assert_eq!(allowed.decision, Decision::Allow);
    assert_eq!(
        allowed.actor.arn.as_deref(),
        Some("arn:aws:iam::111111111111:user/alice")
    );
    assert_eq!(
        allowed.actor.access_key_id.as_deref(),
        Some(alice.access_key_id.as_str())
    );
    assert_eq!(allowed.role_arn.as_deref(), Some(ROLE));
    assert_eq!(allowed.session_name.as_deref(), Some("audited"));
    assert_eq!(allowed.source_identity.as_deref(), Some("alice-laptop"));
    assert_eq!(
        allowed.tags,
        vec![(String::from("team"), String::from("blue"), false)]
    );
    assert_eq!(allowed.region, "eu-west-1");
    assert!(allowed.key_id.is_some());
    assert_eq!(
        allowed.access_key_id.as_deref(),
        Some(creds.access_key_id.as_str())
    );
    assert_eq!(
        allowed.principal_arn.as_deref(),
        Some("arn:aws:sts::111111111111:assumed-role/dev/audited")
    );
    assert_eq!(
        events[0].request_id,
        reply.must("ResponseMetadata/RequestId")
    );

    let AuditKind::Issuance(denied) = &events[1].kind else {
        panic!("issuance expected: {:?}", events[1]);
    };
    assert_eq!(denied.decision, Decision::Deny("AccessDenied"));
    assert_eq!(
        denied.role_arn.as_deref(),
        Some("arn:aws:iam::111111111111:role/missing")
    );
    assert_eq!(denied.session_name.as_deref(), Some("nope"));
    assert_eq!(denied.access_key_id, None);

    // No event carries a secret.
    let text = format!("{events:?}");
    assert!(!text.contains(&creds.secret));
    assert!(!text.contains(creds.token.as_deref().unwrap_or("-")));
    assert!(!text.contains(&alice.secret));
}

#[tokio::test]
async fn issuance_fails_closed_when_the_audit_is_not_durable() {
    let world = world();
    let snapshots = Snapshots::new(&world);
    let sink = Arc::new(RecordingSink {
        fail: true,
        ..RecordingSink::default()
    });
    let edge = edge(&world, &snapshots, observe(&sink));
    let alice = world.creds(ACCOUNT_A, "alice");
    for params in [
        vec![
            ("Action", "AssumeRole"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "withheld"),
        ],
        vec![("Action", "GetSessionToken")],
        vec![("Action", "GetFederationToken"), ("Name", "fed-user")],
    ] {
        let reply = edge.sts(&alice, &params).await;
        reply.assert_error(503, "ServiceUnavailable", "");
        assert!(
            !reply.body.contains("SecretAccessKey") && !reply.body.contains("SessionToken"),
            "{}",
            reply.body
        );
    }
    // Verification does not depend on the audit trail.
    let who = edge.sts(&alice, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(who.status, StatusCode::OK);
    // A refusal is still answered as itself.
    let refused = edge
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::111111111111:role/missing"),
                ("RoleSessionName", "nope"),
            ],
        )
        .await;
    assert_eq!(refused.code(), "AccessDenied");
}

#[tokio::test]
async fn metrics_route_serves_the_renderer() {
    let world = world();
    let snapshots = Snapshots::new(&world);
    let without = edge(&world, &snapshots, EdgeObservability::default());
    let renderer: MetricsRenderer = Arc::new(|| String::from("meridian_test_total 7\n"));
    let with = edge(
        &world,
        &snapshots,
        EdgeObservability {
            metrics: Some(renderer),
            ..EdgeObservability::default()
        },
    );
    let get = |app: axum::Router| async move {
        let response = app
            .oneshot(
                http::Request::get("/metrics")
                    .body(axum::body::Body::empty())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(get(without.app.clone()).await.0, StatusCode::NOT_FOUND);
    let (status, body) = get(with.app.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "meridian_test_total 7\n");
}
