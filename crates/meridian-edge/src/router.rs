//! `router(state)`: the query API on `/` plus `/healthz` and `/readyz`, and
//! the dispatch of one API request.
//!
//! ```text
//! body (bounded, timed) ─► params (strict, no duplicates) ─► Action/Version
//!   ─► operation model ─► SigV4 caller (signed ops) ─► per-key rate limit
//!      (unsigned ops: per source address)
//!   ─► decode + validate input ─► handler ─► {Op}Response XML
//! ```
//!
//! Unsigned operations (`AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`)
//! have no access key, so the rate limit keys them by the peer's address
//! (`ip:{addr}`; an IPv6 address by its /64, IPv4-mapped IPv6 folded to
//! IPv4) with the same per-key rate;
//! and they have no credential scope, so their region is **this node's
//! region**, as for every other call (DESIGN.md: "Unsigned federation calls
//! take the node's region"). The `Host` header (`sts.{region}.…`) is not
//! consulted: it is unauthenticated on these calls, and letting it pick the
//! region would let a client choose whose issuance flag
//! (`RegionDisabledException`) applies and which region its token records;
//! a node issues only for the region it serves, and DNS routes
//! `sts.{region}.…` to that region's nodes.
//!
//! Every answer is counted by action and outcome with its latency
//! ([`crate::telemetry`]); the audit events a handler produced are made
//! durable before the answer leaves, and issued credentials are discarded
//! for `ServiceUnavailable` when they cannot be ([`crate::audit`]).
//!
//! Routing follows AWS's recorded answers: no `Action` is a 302 to
//! `https://aws.amazon.com/iam` (the query string appended on GET); an action
//! the given `Version` lacks is `InvalidAction` "Could not find operation X
//! for version V" (`NO_VERSION_SPECIFIED` when absent) in the AWSFault
//! namespace; a POST body is read only with a form content type, exactly as
//! AWS ignores other bodies. Validation comes after authentication (a bad
//! signature wins over a bad parameter) and before any lookup.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::audit::{self, AuditScope};
use crate::decode::decode_input;
use crate::error::{ApiError, ErrorNamespace};
use crate::layers::{self, RequestId, failure};
use crate::model::{self, ErrorCode, Service};
use crate::operation::OperationRequest;
use crate::query::Params;
use crate::state::{AuthRequest, EdgeState};
use crate::telemetry::{self, OutboundPath};

/// Where AWS redirects a request without `Action`.
const MISSING_ACTION_LOCATION: &str = "https://aws.amazon.com/iam";

/// The edge's router, with every layer in place.
pub fn router(state: EdgeState) -> Router {
    let limits = *state.limits();
    let api = Router::new()
        .route("/", get(api).post(api))
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(layers::panic_response))
                .layer(HandleErrorLayer::new(layers::handle_layer_error))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(
                    limits.max_concurrent_requests,
                ))
                .timeout(limits.request_timeout)
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    layers::body_limit,
                )),
        )
        .with_state(state.clone());
    let health = Router::new()
        .route("/healthz", get(layers::healthz))
        .route("/metrics", get(metrics))
        .route("/readyz", get(layers::readyz))
        // Meridian's OIDC issuer documents (GetWebIdentityToken), identical
        // on every node: `crate::outbound`.
        .route("/.well-known/jwks.json", get(crate::outbound::jwks_route))
        .route(
            "/oidc/{id}/.well-known/openid-configuration",
            get(crate::outbound::discovery_route),
        )
        .route(
            "/oidc/{id}/.well-known/jwks.json",
            get(crate::outbound::issuer_jwks_route),
        )
        .with_state(state.clone());
    api.merge(health).layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(
                state,
                layers::request_context,
            ))
            .layer(TraceLayer::new_for_http().make_span_with(layers::make_span)),
    )
}

async fn api(State(state): State<EdgeState>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let limits = *state.limits();
    let body = match read_body(body, limits.body_read_timeout, limits.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => {
            let response = failure(error, ErrorNamespace::AwsFault);
            telemetry::record_request(None, outcome(&response), started.elapsed());
            return response;
        }
    };
    let mut routed = None;
    let response = match dispatch(state, &parts, &body, request_id, &mut routed).await {
        Ok(response) | Err(response) => response,
    };
    telemetry::record_request(routed, outcome(&response), started.elapsed());
    response
}

/// The `outcome` label of an answer: `ok`, the AWS error code, or
/// `redirect`.
fn outcome(response: &Response) -> &'static str {
    match response.extensions().get::<layers::EdgeFailure>() {
        Some(failure) => failure.error.code().as_str(),
        None if response.status().is_redirection() => "redirect",
        None => "ok",
    }
}

/// `/metrics`: the Prometheus text format, when the server installed a
/// renderer.
async fn metrics(State(state): State<EdgeState>) -> Response {
    match state.metrics_renderer() {
        Some(render) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn read_body(body: Body, timeout: Duration, limit: usize) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, body.collect()).await {
        Err(_) => Err(layers::body_timeout(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(current) = source {
                if current.is::<http_body_util::LengthLimitError>() {
                    return Err(layers::too_large(limit));
                }
                source = current.source();
            }
            // The client went away or sent a broken chunked body.
            Err(ApiError::new(
                ErrorCode::MalformedQueryString,
                "The request body could not be read",
            ))
        }
    }
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn dispatch(
    state: EdgeState,
    parts: &http::request::Parts,
    body: &[u8],
    request_id: String,
    routed: &mut Option<&'static model::OperationModel>,
) -> Result<Response, Response> {
    let limits = *state.limits();
    let raw_query = parts.uri.query().unwrap_or("");
    let mut params = Params::new();
    params
        .extend_from_form(raw_query.as_bytes(), limits.query)
        .map_err(|e| failure(e, ErrorNamespace::AwsFault))?;
    if parts.method == Method::POST && is_form(&parts.headers) {
        params
            .extend_from_form(body, limits.query)
            .map_err(|e| failure(e, ErrorNamespace::AwsFault))?;
    }

    let Some(action) = params.get("Action") else {
        return Err(missing_action(&parts.method, raw_query));
    };
    let version = params.get("Version");
    let operation = version
        .and_then(Service::from_api_version)
        .and_then(|service| model::operation(service, action))
        .ok_or_else(|| {
            failure(
                ApiError::invalid_action(action, version),
                ErrorNamespace::AwsFault,
            )
        })?;
    tracing::Span::current().record("action", operation.name);
    *routed = Some(operation);
    let namespace = ErrorNamespace::Service(operation.service);
    let fail = |error: ApiError| failure(error, namespace);

    let snapshot = state.snapshot();
    let now = state.now();
    let peer = parts
        .extensions
        .get::<crate::server::PeerAddr>()
        .map(|peer| peer.0.ip().to_canonical());
    let caller = if operation.unsigned {
        // No access key to limit by: the source address is the caller.
        state
            .rate_limiter()
            .check(&unsigned_rate_key(peer))
            .map_err(fail)?;
        None
    } else {
        if !carries_authentication(&parts.headers, &params) {
            telemetry::record_verification_failure(ErrorCode::MissingAuthenticationToken);
            return Err(fail(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )));
        }
        let auth = AuthRequest {
            method: &parts.method,
            path: parts.uri.path(),
            raw_query,
            headers: &parts.headers,
            body,
            params: &params,
            service: operation.service,
            peer,
        };
        let caller = state
            .authenticator()
            .authenticate(&auth, &snapshot, now)
            .map_err(|error| {
                telemetry::record_verification_failure(error.code());
                fail(error)
            })?;
        state
            .rate_limiter()
            .check(&caller.access_key_id)
            .map_err(fail)?;
        Some(caller)
    };

    let input = operation
        .input
        .map(|shape| decode_input(shape, &params))
        .transpose()
        .map_err(fail)?;
    let Some(handler) = state.handlers().get(operation).cloned() else {
        return Err(fail(ApiError::new(
            ErrorCode::NotImplemented,
            format!("{} is not implemented by this server yet", operation.name),
        )));
    };
    let refused = telemetry::is_issuing(operation).then(|| {
        audit::RefusedIssuance::new(
            operation,
            input.as_ref(),
            caller.as_ref(),
            &snapshot,
            state.region(),
        )
    });
    let audit = Arc::new(AuditScope::new());
    let result = telemetry::in_path(
        OutboundPath::of(operation),
        handler(OperationRequest {
            state: state.clone(),
            request_id: request_id.clone(),
            operation,
            input,
            caller,
            snapshot,
            now,
            audit: Arc::clone(&audit),
        }),
    )
    .await;
    if let (Err(error), Some(refused)) = (&result, refused) {
        audit.push(refused.denied(error.code(), &request_id, now));
    }
    // Nothing leaves before its audit events are durable; issued
    // credentials are discarded when they cannot be (fail-closed).
    audit::flush(&state, &audit).await.map_err(fail)?;
    let result = result.map_err(fail)?;
    let document = result.into_document(operation, &request_id);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        document,
    )
        .into_response())
}

/// The rate-limit key of an unsigned call: its source address, in a key
/// space apart from access key ids (which never contain `:`). An IPv6 source
/// is keyed by its /64, the smallest network a client usually holds: one
/// host could otherwise draw from 2^64 buckets and crowd the limiter's
/// bounded table. Requests without a known peer (in-process callers) share
/// one bucket.
fn unsigned_rate_key(peer: Option<std::net::IpAddr>) -> String {
    match peer {
        Some(std::net::IpAddr::V4(ip)) => format!("ip:{ip}"),
        Some(std::net::IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("ip:{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => String::from("ip:unknown"),
    }
}

/// Whether the request carries any SigV4 material (header or presigned).
fn carries_authentication(headers: &http::HeaderMap, params: &Params) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || params.get("X-Amz-Algorithm").is_some()
        || params.get("X-Amz-Credential").is_some()
        || params.get("X-Amz-Signature").is_some()
}

/// AWS's answer to a request without `Action`: a redirect to the IAM page.
fn missing_action(method: &Method, raw_query: &str) -> Response {
    let location = if *method == Method::GET && !raw_query.is_empty() {
        format!("{MISSING_ACTION_LOCATION}?{raw_query}")
    } else {
        MISSING_ACTION_LOCATION.to_owned()
    };
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
