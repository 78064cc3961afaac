//! The tower layers around the API route, each with its reason.
//!
//! Outermost first:
//!
//! 1. [`request_context`] — gives every request an id (always our own: a
//!    client-chosen id would let callers forge log correlation), echoes it in
//!    `x-amzn-RequestId`, and renders every failure produced further in as
//!    AWS error XML carrying that id. Inner layers only *mark* a response
//!    with an [`EdgeFailure`]; rendering happens once, here.
//! 2. `TraceLayer` — one span per request with the request id, method,
//!    matched path and (recorded by the router) the action. Never headers,
//!    bodies or parameters: they carry signatures, tokens and secrets.
//! 3. `CatchPanicLayer` — a panic in a handler becomes `InternalFailure`
//!    with no detail for the client; the detail is logged in the span.
//! 4. `HandleErrorLayer` + `LoadShedLayer` + `GlobalConcurrencyLimitLayer` —
//!    at most `max_concurrent_requests` in flight; beyond that requests are
//!    shed at once with `ServiceUnavailable` (503) rather than queued, so
//!    latency stays bounded under overload and SDKs back off and retry. We
//!    answer 503 rather than `Throttling` because overload is the node's
//!    state, not the caller's quota.
//! 5. `TimeoutLayer` — bounds a request's total time inside the edge
//!    (`ServiceUnavailable` when exceeded; SDKs retry).
//! 6. [`body_limit`] — refuses a body whose `Content-Length` is over the limit
//!    with 413 before reading a byte, and caps chunked bodies while they are
//!    read (the router answers 413 when the cap trips).
//!
//! Header read timeouts are a connection matter: see [`crate::server`].

use std::any::Any;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use tower::BoxError;

use crate::error::{ApiError, ErrorNamespace};
use crate::model::ErrorCode;
use crate::state::{EdgeState, RandomSource};

/// The request id, in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A failure to be rendered as AWS error XML by [`request_context`].
#[derive(Debug, Clone)]
pub struct EdgeFailure {
    /// The error.
    pub error: ApiError,
    /// The namespace of the document.
    pub namespace: ErrorNamespace,
}

/// A response carrying `error`, rendered by [`request_context`].
pub fn failure(error: ApiError, namespace: ErrorNamespace) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = error.status();
    response
        .extensions_mut()
        .insert(EdgeFailure { error, namespace });
    response
}

/// A request id in AWS's form (a random UUID, `c6104cbe-af31-41e0-8154-…`).
pub fn new_request_id(random: &dyn RandomSource) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Layer 1: request id, `x-amzn-RequestId`, error rendering.
pub async fn request_context(
    State(state): State<EdgeState>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = new_request_id(state.random());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Some(EdgeFailure { error, namespace }) =
        response.extensions_mut().remove::<EdgeFailure>()
    {
        if error.code() == ErrorCode::InternalFailure {
            tracing::error!(request_id = %id, code = error.code().as_str(), "request failed");
        } else {
            tracing::debug!(request_id = %id, code = error.code().as_str(), "request refused");
        }
        let body = error.to_xml(namespace, &id);
        let mut rendered = (
            error.status(),
            [(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml"),
            )],
            body,
        )
            .into_response();
        rendered
            .extensions_mut()
            .extend(response.extensions().clone());
        response = rendered;
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// Layer 2's span: request id, method, matched path, and an `action` field
/// the router fills in. Nothing from headers or the body.
pub fn make_span(request: &Request) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    tracing::info_span!(
        "edge_request",
        request_id = %request_id,
        method = %request.method(),
        path = %path,
        action = tracing::field::Empty,
    )
}

/// Layer 3: a panic's payload is logged, never returned.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    failure(
        ApiError::internal(&format_args!("handler panicked: {detail}")),
        ErrorNamespace::AwsFault,
    )
}

/// Layer 4/5: tower's overload and timeout errors as AWS answers.
pub async fn handle_layer_error(error: BoxError) -> Response {
    if error.is::<tower::load_shed::error::Overloaded>() {
        tracing::warn!("shedding load: concurrency limit reached");
        failure(ApiError::unavailable(), ErrorNamespace::AwsFault)
    } else if error.is::<tower::timeout::error::Elapsed>() {
        tracing::warn!("request timed out inside the edge");
        failure(ApiError::unavailable(), ErrorNamespace::AwsFault)
    } else {
        failure(ApiError::internal(&error), ErrorNamespace::AwsFault)
    }
}

/// Layer 6: 413 on an oversized `Content-Length` before reading the body;
/// otherwise the body is capped as it streams.
pub async fn body_limit(State(state): State<EdgeState>, request: Request, next: Next) -> Response {
    let limit = state.limits().max_body_bytes;
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return failure(too_large(limit), ErrorNamespace::AwsFault);
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}

/// The 413 answer.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::RequestEntityTooLarge,
        format!("Request body is larger than the limit of {limit} bytes"),
    )
}

/// The 408 answer for a body that did not arrive in time.
pub fn body_timeout(timeout: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "Request body was not received within {} seconds",
            timeout.as_secs()
        ),
    )
}

/// `/healthz`: the process is alive and serving HTTP.
pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `/readyz`: the node can serve (key material unwrapped, state applied);
/// false from the first moment of shutdown.
pub async fn readyz(State(state): State<EdgeState>) -> Response {
    if state.readiness().is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}
