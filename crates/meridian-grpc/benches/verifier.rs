//! The Verifier's handler in process: a decoded request message in, the
//! answer message out — everything a node does per call except HTTP/2
//! framing and protobuf decoding.
//!
//! Goal (issue 7): `Authenticate` and `AuthenticateAndAuthorize` ≤ 10 µs
//! median. Each iteration answers one pre-signed request (signed by the
//! `aws-sigv4` crate for the made-up service `widgets`) as in steady state:
//! the session-token ring, the signing key and the compiled policies are
//! cached by the first call. Included per call: the request checks, the
//! per-(service, region) SigV4 policy, parse, token open (sessions) or the
//! KEK open of the long-term secret (users), the HMAC chain with a cached
//! signing key, the constant-time comparison, the session context and the
//! MAC'd context handle; for `AuthenticateAndAuthorize` also the subject
//! resolution and the policy evaluation (and for a deny, the KEK-sealed
//! encoded message). `Authorize` by context handle is measured too.
//!
//! Goal (issue 7): the streaming form ≥ 2× the unary throughput. The
//! `verifier_grpc` group serves the Verifier over real gRPC on 127.0.0.1
//! (client and server in one process, sharing the machine's cores) and
//! answers [`CALLS`] `AuthenticateAndAuthorize` calls per iteration: unary
//! one at a time, unary with [`IN_FLIGHT`] calls in flight on one HTTP/2
//! connection, and over one long-lived `Stream` (opened once, [`CALLS`]
//! calls written by one task and their results read by another). Criterion
//! reports elements (calls) per second.
//!
//! Run with `cargo bench -p meridian-grpc --bench verifier`.

#[path = "../tests/verifier/support.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use meridian_grpc::verifier::handler::VerifierHandler;
use meridian_proto::pb;
use support::*;

struct Fixture {
    _unserved: Unserved,
    handler: std::sync::Arc<VerifierHandler>,
    session_request: pb::AuthenticateRequest,
    user_request: pb::AuthenticateRequest,
    handle: Vec<u8>,
}

const WIDGET_1: &str = "arn:aws:widgets:eu-west-1:111111111111:widget/1";

fn fixture() -> Fixture {
    let mut world = World::new();
    let read = world.create_policy(
        ACCOUNT_A,
        "ReadWidgets",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Deny9","Effect":"Deny","Action":"widgets:*","Resource":"arn:aws:widgets:*:*:widget/9"},{"Sid":"Read","Effect":"Allow","Action":["widgets:Get*","widgets:List*"],"Resource":"arn:aws:widgets:eu-west-1:111111111111:widget/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#,
    );
    let role = world.create_role(ACCOUNT_A, "reader", &[&read], None, &[]);
    let session = world.mint_role_session(
        &role,
        &SessionOptions {
            tags: vec![("team".into(), "blue".into())],
            lifetime: 43_200,
            ..SessionOptions::default()
        },
    );
    // Users carry no tags here: alice's policy has the same statements
    // without the tag condition.
    let read_user = world.create_policy(
        ACCOUNT_A,
        "ReadWidgetsUser",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Deny9","Effect":"Deny","Action":"widgets:*","Resource":"arn:aws:widgets:*:*:widget/9"},{"Sid":"Read","Effect":"Allow","Action":["widgets:Get*","widgets:List*"],"Resource":"arn:aws:widgets:eu-west-1:111111111111:widget/*"}]}"#,
    );
    world.create_user(ACCOUNT_A, "alice", &[&read_user]);
    let alice = world.add_key(ACCOUNT_A, "alice");
    let unserved = Unserved::new(
        &world,
        at(10),
        meridian_grpc::verifier::VerifierLimits::RECOMMENDED,
    );
    let handler = std::sync::Arc::clone(unserved.service.handler());
    let request = Unsigned::get("/widgets/1").with_query("view=full");
    let session_request = authenticate_input(sign_request(&session, &request, at(0)));
    let user_request = authenticate_input(sign_request(&alice, &request, at(0)));
    let handle = handler
        .authenticate(&session_request)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .context_handle;
    Fixture {
        _unserved: unserved,
        handler,
        session_request,
        user_request,
        handle,
    }
}

fn both(request: &pb::AuthenticateRequest, resource: &str) -> pb::AuthenticateAndAuthorizeRequest {
    pb::AuthenticateAndAuthorizeRequest {
        authenticate: Some(request.clone()),
        action: "widgets:GetWidget".into(),
        resource: resource.into(),
        context: Vec::new(),
    }
}

fn bench_handler(c: &mut Criterion) {
    let fixture = fixture();
    let handler = &fixture.handler;
    let allow = both(&fixture.session_request, WIDGET_1);
    let deny = both(
        &fixture.session_request,
        "arn:aws:widgets:eu-west-1:111111111111:widget/9",
    );
    let user_allow = both(&fixture.user_request, WIDGET_1);
    let by_handle = pb::AuthorizeRequest {
        subject: Some(pb::authorize_request::Subject::ContextHandle(
            fixture.handle.clone(),
        )),
        action: "widgets:GetWidget".into(),
        resource: WIDGET_1.into(),
        context: Vec::new(),
    };
    // Every path answers as expected before it is timed.
    let decision = |response: pb::AuthenticateAndAuthorizeResponse| {
        response.authorization.map_or(0, |a| a.decision)
    };
    assert!(handler.authenticate(&fixture.session_request).is_ok());
    assert!(handler.authenticate(&fixture.user_request).is_ok());
    assert_eq!(
        handler.authenticate_and_authorize(&allow).map(decision),
        Ok(pb::Decision::Allow as i32)
    );
    assert_eq!(
        handler.authenticate_and_authorize(&deny).map(decision),
        Ok(pb::Decision::Deny as i32)
    );
    assert_eq!(
        handler
            .authenticate_and_authorize(&user_allow)
            .map(decision),
        Ok(pb::Decision::Allow as i32)
    );
    assert_eq!(
        handler.authorize(&by_handle).map(|a| a.decision),
        Ok(pb::Decision::Allow as i32)
    );

    let mut group = c.benchmark_group("verifier_handler");
    group.bench_function("authenticate/role_session", |b| {
        b.iter(|| black_box(handler.authenticate(black_box(&fixture.session_request))));
    });
    group.bench_function("authenticate/user_key", |b| {
        b.iter(|| black_box(handler.authenticate(black_box(&fixture.user_request))));
    });
    group.bench_function("authenticate_and_authorize/role_session_allow", |b| {
        b.iter(|| black_box(handler.authenticate_and_authorize(black_box(&allow))));
    });
    group.bench_function("authenticate_and_authorize/role_session_deny", |b| {
        b.iter(|| black_box(handler.authenticate_and_authorize(black_box(&deny))));
    });
    group.bench_function("authenticate_and_authorize/user_key_allow", |b| {
        b.iter(|| black_box(handler.authenticate_and_authorize(black_box(&user_allow))));
    });
    group.bench_function("authorize/context_handle", |b| {
        b.iter(|| black_box(handler.authorize(black_box(&by_handle))));
    });
    group.finish();
}

/// Calls answered per iteration of the gRPC group.
const CALLS: usize = 512;
/// Unary calls in flight at once in the concurrent unary form.
const IN_FLIGHT: usize = 64;

fn bench_grpc(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut world = World::new();
    let read = world.create_policy(
        ACCOUNT_A,
        "ReadWidgets",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"widgets:Get*","Resource":"arn:aws:widgets:eu-west-1:111111111111:widget/*"}]}"#,
    );
    let role = world.create_role(ACCOUNT_A, "reader", &[&read], None, &[]);
    let session = world.mint_role_session(
        &role,
        &SessionOptions {
            lifetime: 43_200,
            ..SessionOptions::default()
        },
    );
    let served = runtime.block_on(Served::start(&world, at(10)));
    let request = both(
        &authenticate_input(sign_request(
            &session,
            &Unsigned::get("/widgets/1").with_query("view=full"),
            at(0),
        )),
        WIDGET_1,
    );
    let allowed = |response: &pb::AuthenticateAndAuthorizeResponse| {
        response
            .authorization
            .as_ref()
            .is_some_and(|a| a.decision == pb::Decision::Allow as i32)
    };

    // The long-lived stream: calls go in through `calls`, results come out
    // of `results`.
    let (calls, receiver) = tokio::sync::mpsc::channel::<pb::VerifierCall>(CALLS);
    let mut results = runtime.block_on(async {
        served
            .client
            .clone()
            .stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
            .unwrap_or_else(|status| panic!("open stream: {status:?}"))
            .into_inner()
    });
    let stream_round = |calls: &tokio::sync::mpsc::Sender<pb::VerifierCall>,
                        results: &mut tonic::Streaming<pb::VerifierResult>| {
        let sender = calls.clone();
        let call = request.clone();
        runtime.block_on(async move {
            let writer = tokio::spawn(async move {
                for id in 0..CALLS as u64 {
                    let message = pb::VerifierCall {
                        id,
                        call: Some(pb::verifier_call::Call::AuthenticateAndAuthorize(
                            call.clone(),
                        )),
                    };
                    if sender.send(message).await.is_err() {
                        break;
                    }
                }
            });
            let mut ok = 0;
            for _ in 0..CALLS {
                match results.message().await {
                    Ok(Some(pb::VerifierResult {
                        result: Some(pb::verifier_result::Result::AuthenticateAndAuthorize(r)),
                        ..
                    })) if allowed(&r) => ok += 1,
                    other => panic!("stream result: {other:?}"),
                }
            }
            let _ = writer.await;
            ok
        })
    };
    let unary_round = |in_flight: usize| {
        let client = served.client.clone();
        let call = request.clone();
        runtime.block_on(async move {
            futures::stream::iter(0..CALLS)
                .map(|_| {
                    let mut client = client.clone();
                    let call = call.clone();
                    async move { client.authenticate_and_authorize(call).await }
                })
                .buffer_unordered(in_flight)
                .filter(|answer| {
                    std::future::ready(answer.as_ref().is_ok_and(|r| allowed(r.get_ref())))
                })
                .count()
                .await
        })
    };
    // Every form answers every call with Allow before it is timed.
    assert_eq!(unary_round(1), CALLS);
    assert_eq!(unary_round(IN_FLIGHT), CALLS);
    assert_eq!(stream_round(&calls, &mut results), CALLS);

    let mut group = c.benchmark_group("verifier_grpc");
    group.throughput(Throughput::Elements(CALLS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("authenticate_and_authorize/unary_sequential", |b| {
        b.iter(|| black_box(unary_round(1)));
    });
    group.bench_function("authenticate_and_authorize/unary_64_in_flight", |b| {
        b.iter(|| black_box(unary_round(IN_FLIGHT)));
    });
    group.bench_function("authenticate_and_authorize/stream", |b| {
        b.iter(|| black_box(stream_round(&calls, &mut results)));
    });
    group.finish();
    drop(calls);
    drop(results);
    runtime.block_on(served.stop());
}

criterion_group!(benches, bench_handler, bench_grpc);
criterion_main!(benches);
