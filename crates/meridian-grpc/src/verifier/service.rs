//! The tonic `Verifier` service, with its limits.
//!
//! * **Message size**: [`VerifierLimits::max_message_bytes`] (512 KiB by
//!   default, an eighth of tonic's 4 MiB) both ways; a larger message is
//!   refused while decoding, before any of it is buffered beyond the cap.
//! * **Admission**: [`Admission`] wraps the whole HTTP service and admits at
//!   most [`VerifierLimits::max_in_flight`] requests at once — from the moment
//!   the request reaches the service until its response is produced,
//!   decoding included. A request over the limit is answered at once with
//!   `RESOURCE_EXHAUSTED` (`Throttling`), never queued, so an overload costs
//!   callers a retry elsewhere instead of everyone's latency, and memory is
//!   bounded by `max_in_flight × max_message_bytes`.
//! * **Streams**: a `Stream` call is admitted like any other; its messages are
//!   answered one after another as the client sends them (HTTP/2 flow control
//!   bounds what is buffered), so one stream uses at most one core and a
//!   client wanting more opens more streams. Connection-level HTTP/2 limits
//!   (streams per connection, header list size, reset floods) are the port's
//!   ([`crate::server_limits`]).
//!
//! The Raft transport on the same port has its own service and is never shed
//! by verifier load.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use meridian_proto::pb;
use meridian_proto::pb::verifier_server::{Verifier, VerifierServer};
use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use crate::verifier::VerifierParts;
use crate::verifier::convert::VerifierFailure;
use crate::verifier::handler::VerifierHandler;

/// The tonic service over a [`VerifierHandler`].
#[derive(Debug, Clone)]
pub struct VerifierService {
    handler: Arc<VerifierHandler>,
}

impl VerifierService {
    /// A service over `parts`.
    pub fn new(parts: VerifierParts) -> VerifierService {
        VerifierService {
            handler: Arc::new(VerifierHandler::new(parts)),
        }
    }

    /// Binds the node's applied configuration (`Node::snapshot`); calls
    /// answer `UNAVAILABLE` until then.
    pub fn bind(&self, snapshots: crate::verifier::Snapshots) {
        self.handler.bind(snapshots);
    }

    /// The handler (for in-process callers and benches).
    pub fn handler(&self) -> &Arc<VerifierHandler> {
        &self.handler
    }

    /// The service ready to mount on a node's gRPC port
    /// (`Node::start_with_services`): message-size caps and admission
    /// control applied.
    pub fn into_server(self) -> Admission<VerifierServer<VerifierService>> {
        let limits = *self.handler.limits();
        let server = VerifierServer::new(self)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        Admission::new(server, limits.max_in_flight)
    }
}

type ResultStream = Pin<Box<dyn Stream<Item = Result<pb::VerifierResult, Status>> + Send>>;

#[tonic::async_trait]
impl Verifier for VerifierService {
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        self.handler
            .authenticate(request.get_ref())
            .map(Response::new)
            .map_err(VerifierFailure::into_status)
    }

    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        self.handler
            .authorize(request.get_ref())
            .map(Response::new)
            .map_err(VerifierFailure::into_status)
    }

    async fn authenticate_and_authorize(
        &self,
        request: Request<pb::AuthenticateAndAuthorizeRequest>,
    ) -> Result<Response<pb::AuthenticateAndAuthorizeResponse>, Status> {
        self.handler
            .authenticate_and_authorize(request.get_ref())
            .map(Response::new)
            .map_err(VerifierFailure::into_status)
    }

    async fn batch(
        &self,
        request: Request<pb::VerifierBatchRequest>,
    ) -> Result<Response<pb::VerifierBatchResponse>, Status> {
        self.handler
            .batch(request.get_ref())
            .map(Response::new)
            .map_err(VerifierFailure::into_status)
    }

    type StreamStream = ResultStream;

    async fn stream(
        &self,
        request: Request<Streaming<pb::VerifierCall>>,
    ) -> Result<Response<ResultStream>, Status> {
        let handler = Arc::clone(&self.handler);
        let results = request
            .into_inner()
            .map(move |call| call.map(|call| handler.call(&call)));
        Ok(Response::new(Box::pin(results)))
    }
}

/// Admission control in front of a gRPC service: at most `limit` requests
/// inside at once; the rest are answered `RESOURCE_EXHAUSTED` at once.
#[derive(Debug, Clone)]
pub struct Admission<S> {
    inner: S,
    permits: Arc<Semaphore>,
    shed: Arc<AtomicU64>,
}

impl<S> Admission<S> {
    /// Wraps `inner`, admitting `limit` requests at once.
    pub fn new(inner: S, limit: usize) -> Admission<S> {
        Admission {
            inner,
            permits: Arc::new(Semaphore::new(limit)),
            shed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Requests shed so far.
    pub fn shed_count(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
}

impl<S: NamedService> NamedService for Admission<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tonic::codegen::Service<http::Request<Body>> for Admission<S>
where
    S: tonic::codegen::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let response = self.inner.call(request);
                Box::pin(async move {
                    let response = response.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => {
                let shed = self.shed.fetch_add(1, Ordering::Relaxed) + 1;
                if shed.is_power_of_two() {
                    tracing::warn!(shed, "verifier overloaded: requests shed");
                }
                let status = VerifierFailure::throttled().into_status();
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}
