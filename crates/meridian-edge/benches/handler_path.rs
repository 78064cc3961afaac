//! The whole STS handler path in process: HTTP request in, XML out.
//!
//! Goals (issue 5): `AssumeRole` ≤ 20 µs median and `GetCallerIdentity`
//! ≤ 10 µs median for parse → authenticate → authorize → mint → serialize.
//! Each iteration sends one pre-signed, botocore-shaped POST through
//! `router(state)` with `oneshot` on a current-thread runtime, so every tower
//! layer, the form parse, the model decode, SigV4 verification (signing key
//! cached, as in steady state), the policy evaluation, the mint and the XML
//! writer are inside the measurement; building the request (a clone of a
//! few headers and the body) is in the untimed setup.
//!
//! Parts are measured too, so a missed goal can be attributed: the
//! authenticator alone (long-term key: KEK open + SigV4; session: token open
//! + SigV4) and the AssumeRole handler alone (authorize + mint + XML).
//!
//! Run with `cargo bench -p meridian-edge --bench handler_path`.

#[path = "../tests/sts_support/mod.rs"]
mod sts_support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use axum::body::Body;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use meridian_core::ids::AccessKeyId;
use meridian_core::token;
use meridian_edge::model::Service;
use meridian_edge::query::{Params, QueryLimits};
use meridian_edge::rate_limit::RateLimit;
use meridian_edge::state::{AuthRequest, Clock, EdgeLimits, Freshness};
use sts_support::*;
use tower::ServiceExt;

const ROLE_DEV: &str = "arn:aws:iam::111111111111:role/dev";

struct Fixture {
    edge: Edge,
    alice: Creds,
    session: Creds,
    _snapshots: Snapshots,
}

fn fixture() -> Fixture {
    let mut world = World::new();
    world.create_role(
        ACCOUNT_A,
        "dev",
        &trust("arn:aws:iam::111111111111:root", &["sts:AssumeRole"]),
        Some(ALLOW_ALL),
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let clock = Arc::new(TestClock(AtomicI64::new(T0 * 1000)));
    let freshness = Freshness::new();
    freshness.confirm(clock.now());
    // One key sends every request: lift the per-key limit out of the way.
    let limits = EdgeLimits {
        per_key_rate: RateLimit {
            per_second: u32::MAX,
            burst: u32::MAX,
            max_keys: 1024,
        },
        ..EdgeLimits::RECOMMENDED
    };
    let edge = Edge::with_limits(&world, &snapshots, "eu-west-1", clock, freshness, limits);
    let alice = world.creds(ACCOUNT_A, "alice");
    let runtime = runtime();
    let session = runtime
        .block_on(edge.sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE_DEV),
                ("RoleSessionName", "bench"),
            ],
        ))
        .credentials();
    Fixture {
        edge,
        alice,
        session,
        _snapshots: snapshots,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A signed request, rebuilt from its parts for every iteration.
struct Template {
    parts: http::request::Parts,
    body: bytes::Bytes,
}

impl Template {
    fn new(request: Request<Body>) -> Template {
        let (parts, body) = request.into_parts();
        let body = futures::executor::block_on(http_body_util::BodyExt::collect(body))
            .unwrap_or_else(|e| panic!("{e}"))
            .to_bytes();
        Template { parts, body }
    }

    fn request(&self) -> Request<Body> {
        let mut builder = Request::builder()
            .method(self.parts.method.clone())
            .uri(self.parts.uri.clone());
        for (name, value) in &self.parts.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Body::from(self.body.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn bench_router(c: &mut Criterion) {
    let fixture = fixture();
    let runtime = runtime();
    let edge = &fixture.edge;
    let now = edge.now();
    let assume = Template::new(signed_request(
        &fixture.alice,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", ROLE_DEV),
            ("RoleSessionName", "bench-session"),
        ],
        now,
    ));
    let gci_user = Template::new(signed_request(
        &fixture.alice,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &[("Action", "GetCallerIdentity")],
        now,
    ));
    let gci_session = Template::new(signed_request(
        &fixture.session,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &[("Action", "GetCallerIdentity")],
        now,
    ));
    // Sanity: every template succeeds (a bench of error answers is worthless).
    for template in [&assume, &gci_user, &gci_session] {
        let reply = runtime.block_on(send(&edge.app, template.request()));
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    }

    let mut group = c.benchmark_group("edge_handler_path");
    for (name, template) in [
        ("assume_role", &assume),
        ("get_caller_identity_user", &gci_user),
        ("get_caller_identity_session", &gci_session),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || template.request(),
                |request| {
                    let response = runtime
                        .block_on(edge.app.clone().oneshot(request))
                        .unwrap_or_else(|e| match e {});
                    black_box(response)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// Authenticates a pre-signed request the way the router does.
fn authenticate(edge: &Edge, template: &Template) -> bool {
    let mut params = Params::new();
    if params
        .extend_from_form(&template.body, QueryLimits::RECOMMENDED)
        .is_err()
    {
        return false;
    }
    let auth = AuthRequest {
        method: &template.parts.method,
        path: template.parts.uri.path(),
        raw_query: template.parts.uri.query().unwrap_or(""),
        headers: &template.parts.headers,
        body: &template.body,
        params: &params,
        service: Service::Sts,
        peer: None,
    };
    let snapshot = edge.state.snapshot();
    edge.state
        .authenticator()
        .authenticate(&auth, &snapshot, edge.now())
        .is_ok()
}

fn bench_parts(c: &mut Criterion) {
    let fixture = fixture();
    let runtime = runtime();
    let edge = &fixture.edge;
    let now = edge.now();
    let gci = [("Action", "GetCallerIdentity")];
    let user = Template::new(signed_request(
        &fixture.alice,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &gci,
        now,
    ));
    let session = Template::new(signed_request(
        &fixture.session,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &gci,
        now,
    ));
    assert!(authenticate(edge, &user) && authenticate(edge, &session));
    let mut group = c.benchmark_group("edge_parts");
    group.bench_function("authenticate_user", |b| {
        b.iter(|| black_box(authenticate(edge, &user)));
    });
    group.bench_function("authenticate_session", |b| {
        b.iter(|| black_box(authenticate(edge, &session)));
    });
    let snapshot = edge.state.snapshot();
    group.bench_function("session_ring_lookup", |b| {
        b.iter(|| black_box(edge.state.keys().session_ring(&snapshot)));
    });
    let ring = edge.state.keys().session_ring(&snapshot);
    let key_id =
        AccessKeyId::parse(&fixture.session.access_key_id).unwrap_or_else(|e| panic!("{e}"));
    let token_text = fixture.session.token.clone().unwrap_or_default();
    group.bench_function("token_open", |b| {
        b.iter(|| {
            black_box(token::open(
                &token_text,
                &key_id,
                &ring,
                now,
                std::time::Duration::from_secs(30),
            ))
        });
    });
    let caller = edge
        .authenticate(&fixture.alice)
        .unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("assume_role_handler", |b| {
        b.iter(|| {
            runtime.block_on(edge.handle(
                caller.clone(),
                "AssumeRole",
                &[("RoleArn", ROLE_DEV), ("RoleSessionName", "bench-session")],
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_router, bench_parts);
criterion_main!(benches);
