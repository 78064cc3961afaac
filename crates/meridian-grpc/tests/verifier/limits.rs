//! The Verifier's limits: messages over the cap are refused while decoding
//! and the node keeps serving; batches and inline bodies are bounded;
//! admission sheds requests over the in-flight limit at once with
//! `RESOURCE_EXHAUSTED` instead of queueing them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use meridian_grpc::verifier::VerifierLimits;
use meridian_grpc::verifier::service::Admission;
use meridian_proto::pb;
use tonic::Code;
use tonic::body::Body;
use tonic::codegen::{Service, http};

use crate::support::*;

#[tokio::test]
async fn oversized_messages_batches_and_bodies_are_refused() {
    bounded(async {
        let mut world = World::new();
        world.create_user(ACCOUNT_A, "alice", &[]);
        let alice = world.add_key(ACCOUNT_A, "alice");
        let limits = VerifierLimits {
            max_message_bytes: 64 * 1024,
            max_body_bytes: 4 * 1024,
            max_batch_calls: 4,
            ..VerifierLimits::RECOMMENDED
        };
        let mut served = Served::start_with(&world, at(10), limits).await;

        // A message over the cap: refused while decoding.
        let huge = Unsigned::get("/")
            .with_method("POST")
            .with_body(&vec![b'x'; 128 * 1024]);
        let signed = sign_request(&alice, &huge, at(0));
        let refused = served.client.authenticate(authenticate_input(signed)).await;
        let code = refused.as_ref().err().map(tonic::Status::code);
        assert!(
            matches!(code, Some(Code::OutOfRange | Code::ResourceExhausted)),
            "{code:?}"
        );

        // An inline body over its own limit (the message is under the cap).
        let big = Unsigned::get("/")
            .with_method("POST")
            .with_body(&vec![b'x'; 8 * 1024]);
        let refused = served
            .client
            .authenticate(authenticate_input(sign_request(&alice, &big, at(0))))
            .await;
        assert_eq!(error_code(&refused), "InvalidRequest");

        // Too many calls in a batch.
        let call = pb::VerifierCall {
            id: 1,
            call: Some(pb::verifier_call::Call::Authenticate(authenticate_input(
                sign_request(&alice, &Unsigned::get("/"), at(0)),
            ))),
        };
        let refused = served
            .client
            .batch(pb::VerifierBatchRequest {
                calls: vec![call.clone(); 5],
            })
            .await;
        assert_eq!(error_code(&refused), "InvalidRequest");
        let accepted = served
            .client
            .batch(pb::VerifierBatchRequest {
                calls: vec![call; 4],
            })
            .await;
        assert_eq!(error_code(&accepted), "");

        // Still serving small requests.
        let small = served
            .client
            .authenticate(authenticate_input(sign_request(
                &alice,
                &Unsigned::get("/"),
                at(0),
            )))
            .await;
        assert_eq!(error_code(&small), "");
        served.stop().await;
    })
    .await;
}

/// A service that holds each request for a while.
#[derive(Clone)]
struct Slow {
    inside: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Service<http::Request<Body>> for Slow {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        let inside = Arc::clone(&self.inside);
        let most = Arc::clone(&self.most);
        Box::pin(async move {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            inside.fetch_sub(1, Ordering::SeqCst);
            Ok(http::Response::new(Body::empty()))
        })
    }
}

/// With two requests admitted at once, the rest of a burst of eight is shed
/// at once (`grpc-status: 8`, RESOURCE_EXHAUSTED, with the Throttling
/// details) and never reaches the service.
#[tokio::test]
async fn admission_sheds_instead_of_queueing() {
    bounded(async {
        let slow = Slow {
            inside: Arc::new(AtomicUsize::new(0)),
            most: Arc::new(AtomicUsize::new(0)),
        };
        let admission = Admission::new(slow.clone(), 2);
        let calls = (0..8).map(|_| {
            let mut service = admission.clone();
            async move {
                let request = http::Request::new(Body::empty());
                let response = service.call(request).await.unwrap_or_else(|e| match e {});
                response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            }
        });
        let statuses = futures::future::join_all(calls).await;
        let shed = statuses
            .iter()
            .filter(|status| status.as_deref() == Some("8"))
            .count();
        let served = statuses.iter().filter(|status| status.is_none()).count();
        assert_eq!((served, shed), (2, 6), "{statuses:?}");
        assert_eq!(admission.shed_count(), 6);
        assert_eq!(slow.most.load(Ordering::SeqCst), 2);
        // Shed, not queued: the six others never reached the service (a
        // queued request would have been served once a permit came back).
        // Capacity comes back once the admitted requests finish.
        let mut service = admission.clone();
        let response = service
            .call(http::Request::new(Body::empty()))
            .await
            .unwrap_or_else(|e| match e {});
        assert!(response.headers().get("grpc-status").is_none());
    })
    .await;
}
