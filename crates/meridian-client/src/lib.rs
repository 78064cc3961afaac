//! A client for resource services: ask a Meridian cluster "who signed this
//! request, and may they do X on Y?".
//!
//! A resource service receives SigV4-signed requests from clients holding
//! Meridian credentials (signed for the resource service's own name, e.g.
//! `widgets`). It hands each request to [`VerifierClient`], which asks the
//! `meridian.v1.Verifier` of a node in its own region:
//!
//! ```no_run
//! # async fn handle(parts: http::request::Parts, body: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! use meridian_client::{ClientConfig, SignedRequest, VerifierClient};
//!
//! let client = VerifierClient::new(
//!     ClientConfig::new("widgets", "eu-west-1")
//!         .endpoint("eu-west-1", "http://meridian-0.eu-west-1.internal:7201")
//!         .endpoint("eu-west-1", "http://meridian-1.eu-west-1.internal:7201")
//!         .endpoint("us-east-1", "http://meridian-0.us-east-1.internal:7201"),
//! )?;
//! let request = SignedRequest::from_http(&parts, &body);
//! let (caller, decision) = client
//!     .authenticate_and_authorize(
//!         &request,
//!         "widgets:GetWidget",
//!         "arn:aws:widgets:eu-west-1:123456789012:widget/7",
//!         &[],
//!     )
//!     .await?;
//! if decision.allowed {
//!     println!("{} may read widget 7", caller.context.arn);
//! }
//! # Ok(()) }
//! ```
//!
//! What the client takes care of:
//!
//! * **Endpoint selection**: endpoints are listed per region; calls go to the
//!   local region first (spread round-robin over its nodes), and fail over to
//!   the other regions' nodes only when every local one failed. An endpoint
//!   that failed at the transport level is skipped for
//!   [`ClientConfig::eject_for`].
//! * **Retries with a budget**: a call that found no answer (transport error,
//!   `UNAVAILABLE`, `RESOURCE_EXHAUSTED` — the node shed load —, a deadline)
//!   is retried on the next endpoint, up to [`ClientConfig::max_attempts`],
//!   while the [`budget::RetryBudget`] allows (10 % of traffic plus a small
//!   floor by default), so a struggling cluster is not buried under retries.
//!   Final answers (bad signature, expired token, malformed call) are never
//!   retried.
//! * **Deadlines**: each attempt has its own timeout
//!   ([`ClientConfig::attempt_timeout`], also sent as `grpc-timeout`) and the
//!   whole call an overall deadline ([`ClientConfig::deadline`]).
//! * **High volume**: [`VerifierClient::batch`] sends many calls in one
//!   message, and [`StreamSession`] multiplexes calls from many tasks over one
//!   long-lived bidirectional stream (several times the throughput of unary
//!   calls; see `BENCHMARKS.md`, "Verifier").
//!
//! A policy Deny is an answer ([`Authorization::allowed`] is false, with
//! AWS's message and the encoded authorization message your service should
//! return in its `AccessDenied`), not an error. Errors are [`VerifyError`]:
//! `Rejected` (final: answer 403 with the code) or `Unavailable` (answer
//! 503).
//!
//! `examples/widgets.rs` is a complete resource service.

pub mod budget;
pub mod context;
pub mod error;
pub mod request;
pub mod stream;

mod endpoints;

use std::sync::Arc;
use std::time::Duration;

use meridian_proto::pb::verifier_client::VerifierClient as RawClient;
use tonic::Code;
use tonic::transport::Channel;

pub use crate::budget::{RetryBudget, RetryBudgetConfig};
pub use crate::error::{ConfigError, VerifyError};
pub use crate::request::SignedRequest;
pub use crate::stream::StreamSession;
/// The Verifier's protobuf messages (for batch and stream calls).
pub use meridian_proto::pb;
pub use meridian_proto::pb::{
    ContextEntry, DecidingStatement, DenyKind, PolicyType, PrincipalType, SessionContext,
};

use crate::endpoints::Endpoints;

/// The largest message sent or received (the Verifier's limit).
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// How a client finds and calls the Verifier.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The signing name requests to this resource service are scoped to.
    pub service: String,
    /// The region this resource service runs in (the scope's region, and
    /// the endpoints tried first).
    pub region: String,
    /// Endpoints (`http://host:port` of nodes' gRPC ports) by region, in the
    /// order given.
    pub endpoints: Vec<(String, String)>,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Deadline of a whole call, retries included.
    pub deadline: Duration,
    /// Attempts per call (the first included).
    pub max_attempts: u32,
    /// How long an endpoint that failed at the transport level is skipped.
    pub eject_for: Duration,
    /// The retry budget.
    pub retry_budget: RetryBudgetConfig,
}

impl ClientConfig {
    /// A configuration for resource service `service` in `region`, with no
    /// endpoints yet and these defaults: 250 ms per attempt, 200 ms to
    /// connect, 1 s per call, 3 attempts, endpoints ejected for 2 s, a 10 %
    /// retry budget.
    pub fn new(service: &str, region: &str) -> ClientConfig {
        ClientConfig {
            service: service.to_owned(),
            region: region.to_owned(),
            endpoints: Vec::new(),
            attempt_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_millis(200),
            deadline: Duration::from_secs(1),
            max_attempts: 3,
            eject_for: Duration::from_secs(2),
            retry_budget: RetryBudgetConfig::RECOMMENDED,
        }
    }

    /// Adds a node's gRPC endpoint in `region`.
    pub fn endpoint(mut self, region: &str, url: &str) -> ClientConfig {
        self.endpoints.push((region.to_owned(), url.to_owned()));
        self
    }
}

/// Who signed a request, and a handle for later decisions about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    /// The principal and its session.
    pub context: SessionContext,
    /// Pass to [`VerifierClient::authorize`] for further decisions about the
    /// same caller (valid 15 minutes, never past the session).
    pub handle: Vec<u8>,
    /// When the handle expires, Unix milliseconds.
    pub handle_expires_at_ms: i64,
}

impl Authenticated {
    fn from_message(message: pb::AuthenticateResponse) -> Authenticated {
        Authenticated {
            context: message.context.unwrap_or_default(),
            handle: message.context_handle,
            handle_expires_at_ms: message.context_handle_expires_at_ms,
        }
    }
}

/// An authorization decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// Allowed.
    pub allowed: bool,
    /// How it was denied (`None` when allowed).
    pub deny_kind: Option<DenyKind>,
    /// The deciding statement: the allowing one, or the explicit Deny.
    pub statement: Option<DecidingStatement>,
    /// AWS's AccessDenied text (denied only).
    pub message: String,
    /// The encoded authorization message to append to your AccessDenied
    /// (`… Encoded authorization failure message: <this>`); the caller can
    /// decode it with `sts:DecodeAuthorizationMessage`.
    pub encoded_message: String,
}

impl Authorization {
    fn from_message(message: &pb::AuthorizeResponse) -> Authorization {
        let allowed = message.decision == pb::Decision::Allow as i32;
        Authorization {
            allowed,
            deny_kind: (!allowed)
                .then(|| DenyKind::try_from(message.deny_kind).unwrap_or(DenyKind::Unspecified)),
            statement: message.statement.clone(),
            message: message.message.clone(),
            encoded_message: message.encoded_message.clone(),
        }
    }
}

/// The Verifier client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct VerifierClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    endpoints: Endpoints,
    budget: RetryBudget,
}

/// Whether a failed attempt may succeed on another node.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
            | Code::Aborted
    )
}

impl VerifierClient {
    /// A client for `config` (connections are made lazily, on first use).
    pub fn new(config: ClientConfig) -> Result<VerifierClient, ConfigError> {
        if config.max_attempts == 0 {
            return Err(ConfigError::Invalid(String::from(
                "max_attempts must be at least 1",
            )));
        }
        let endpoints = Endpoints::new(&config)?;
        let budget = RetryBudget::new(config.retry_budget);
        Ok(VerifierClient {
            inner: Arc::new(Inner {
                config,
                endpoints,
                budget,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Who signed `request`?
    pub async fn authenticate(
        &self,
        request: &SignedRequest,
    ) -> Result<Authenticated, VerifyError> {
        let message = request.to_message(&self.inner.config.service, &self.inner.config.region);
        let response = self
            .call(move |mut client, timeout| {
                let request = timed(message.clone(), timeout);
                async move { client.authenticate(request).await }
            })
            .await?;
        Ok(Authenticated::from_message(response))
    }

    /// [`VerifierClient::authenticate`] for the parts of an `http` request
    /// and its body.
    pub async fn authenticate_http(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Authenticated, VerifyError> {
        self.authenticate(&SignedRequest::from_http(parts, body))
            .await
    }

    /// May the caller `authenticated` earlier perform `action` on `resource`,
    /// with the request's own condition keys `context`?
    pub async fn authorize(
        &self,
        authenticated: &Authenticated,
        action: &str,
        resource: &str,
        context: &[ContextEntry],
    ) -> Result<Authorization, VerifyError> {
        let message = pb::AuthorizeRequest {
            subject: Some(pb::authorize_request::Subject::ContextHandle(
                authenticated.handle.clone(),
            )),
            action: action.to_owned(),
            resource: resource.to_owned(),
            context: context.to_vec(),
        };
        let response = self
            .call(move |mut client, timeout| {
                let request = timed(message.clone(), timeout);
                async move { client.authorize(request).await }
            })
            .await?;
        Ok(Authorization::from_message(&response))
    }

    /// Both questions in one call.
    pub async fn authenticate_and_authorize(
        &self,
        request: &SignedRequest,
        action: &str,
        resource: &str,
        context: &[ContextEntry],
    ) -> Result<(Authenticated, Authorization), VerifyError> {
        let config = &self.inner.config;
        let message =
            request.to_decision_message(&config.service, &config.region, action, resource, context);
        let response = self
            .call(move |mut client, timeout| {
                let request = timed(message.clone(), timeout);
                async move { client.authenticate_and_authorize(request).await }
            })
            .await?;
        let authorization = response
            .authorization
            .as_ref()
            .map(Authorization::from_message)
            .ok_or_else(|| VerifyError::Unavailable {
                attempts: 1,
                last: String::from("the verifier answered without a decision"),
            })?;
        let authenticated = response
            .authentication
            .map(Authenticated::from_message)
            .ok_or_else(|| VerifyError::Unavailable {
                attempts: 1,
                last: String::from("the verifier answered without a caller"),
            })?;
        Ok((authenticated, authorization))
    }

    /// Many calls in one message (at most 128); each result is the call's
    /// own answer or error, in order.
    pub async fn batch(
        &self,
        calls: Vec<pb::VerifierCall>,
    ) -> Result<Vec<pb::VerifierResult>, VerifyError> {
        let message = pb::VerifierBatchRequest { calls };
        let response = self
            .call(move |mut client, timeout| {
                let request = timed(message.clone(), timeout);
                async move { client.batch(request).await }
            })
            .await?;
        Ok(response.results)
    }

    /// Opens a bidirectional stream to the first reachable node (local region
    /// first) for high-volume callers. Calls on it are not retried: when it
    /// breaks, its pending calls fail `Unavailable` and the caller opens
    /// another.
    pub async fn open_stream(&self) -> Result<StreamSession, VerifyError> {
        let inner = &self.inner;
        let mut last = String::from("no endpoint");
        let order = inner.endpoints.order();
        for (attempt, target) in order.iter().enumerate() {
            if attempt >= inner.config.max_attempts as usize {
                break;
            }
            match tokio::time::timeout(
                inner.config.deadline,
                StreamSession::open(target.client(), inner.config.clone()),
            )
            .await
            {
                Ok(Ok(session)) => {
                    target.succeeded();
                    return Ok(session);
                }
                Ok(Err(status)) if retryable(status.code()) => {
                    target.failed(inner.config.eject_for);
                    last = status.message().to_owned();
                }
                Ok(Err(status)) => return Err(rejection(&status)),
                Err(_) => {
                    target.failed(inner.config.eject_for);
                    last = String::from("deadline exceeded opening the stream");
                }
            }
        }
        Err(VerifyError::Unavailable {
            attempts: u32::try_from(order.len().min(inner.config.max_attempts as usize))
                .unwrap_or(u32::MAX),
            last,
        })
    }

    /// Runs `rpc` against endpoints in order until one answers, within the
    /// budget and the deadline.
    async fn call<T, F, Fut>(&self, rpc: F) -> Result<T, VerifyError>
    where
        F: Fn(RawClient<Channel>, Duration) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let inner = &self.inner;
        let config = &inner.config;
        let deadline = tokio::time::Instant::now() + config.deadline;
        let order = inner.endpoints.order();
        inner.budget.deposit();
        let mut last = String::from("no attempt made");
        let mut attempts = 0u32;
        for target in order.iter().cycle().take(config.max_attempts as usize) {
            if attempts > 0 && !inner.budget.withdraw() {
                last = format!("{last}; retry budget exhausted");
                break;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                last = format!("{last}; deadline exceeded");
                break;
            }
            let timeout = config.attempt_timeout.min(deadline - now);
            attempts += 1;
            match tokio::time::timeout(timeout, rpc(target.client(), timeout)).await {
                Ok(Ok(response)) => {
                    target.succeeded();
                    return Ok(response.into_inner());
                }
                Ok(Err(status)) if retryable(status.code()) => {
                    if matches!(status.code(), Code::Unavailable | Code::Unknown) {
                        target.failed(config.eject_for);
                    }
                    tracing::debug!(endpoint = %target.url(), code = ?status.code(), "verifier attempt failed");
                    last = format!("{}: {}", target.url(), status.message());
                }
                Ok(Err(status)) => return Err(rejection(&status)),
                Err(_) => {
                    target.failed(config.eject_for);
                    last = format!("{}: attempt timed out after {timeout:?}", target.url());
                }
            }
        }
        Err(VerifyError::Unavailable { attempts, last })
    }
}

/// `message` as a request carrying `timeout` as its `grpc-timeout`.
fn timed<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// A final answer as a [`VerifyError::Rejected`].
fn rejection(status: &tonic::Status) -> VerifyError {
    match crate::context::failure_of(status) {
        Some(detail) => VerifyError::Rejected {
            code: detail.code,
            message: detail.message,
            grpc: status.code(),
        },
        None => VerifyError::Rejected {
            code: format!("{:?}", status.code()),
            message: status.message().to_owned(),
            grpc: status.code(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_may_differ_elsewhere_are_retried() {
        for code in [
            Code::Unavailable,
            Code::ResourceExhausted,
            Code::DeadlineExceeded,
        ] {
            assert!(retryable(code), "{code:?}");
        }
        for code in [
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Internal,
            Code::Ok,
        ] {
            assert!(!retryable(code), "{code:?}");
        }
    }

    #[test]
    fn rejections_carry_the_verifier_error() {
        use prost::Message as _;
        let detail = pb::VerifierError {
            code: String::from("ExpiredToken"),
            message: String::from("The security token included in the request is expired"),
            grpc_code: Code::Unauthenticated as i32,
        };
        let status = tonic::Status::with_details(
            Code::Unauthenticated,
            detail.message.clone(),
            detail.encode_to_vec().into(),
        );
        let error = rejection(&status);
        assert_eq!(error.code(), Some("ExpiredToken"));
        assert!(error.is_authentication_failure());
    }
}
