//! `widgets`: a tiny resource service that authorizes every request through
//! Meridian's Verifier.
//!
//! Clients sign their requests with SigV4 for the service name `widgets`
//! (any AWS SDK can, given Meridian credentials); the service hands each
//! request, body included, to [`VerifierClient::authenticate_and_authorize`]
//! with the action and resource the route stands for, and answers:
//!
//! | Verifier answer                          | HTTP                                       |
//! |------------------------------------------|--------------------------------------------|
//! | Allow                                    | the operation's answer (200/201/204/404)    |
//! | Deny                                     | 403 `AccessDeniedException` + encoded message |
//! | Rejected: bad signature, expired, …      | 403 with the Verifier's code               |
//! | Rejected: malformed request              | 400 with the Verifier's code               |
//! | Unavailable (no node answered in time)   | 503 `ServiceUnavailableException`          |
//!
//! Errors are AWS JSON-protocol documents (`x-amzn-ErrorType` header,
//! `{"__type": …, "message": …}` body). The service fails closed: nothing is
//! served without an Allow.
//!
//! Routes (account `WIDGETS_ACCOUNT` owns every widget):
//!
//! ```text
//! GET    /widgets        widgets:ListWidgets   arn:aws:widgets:<region>:<account>:widget/*
//! GET    /widgets/{id}   widgets:GetWidget     arn:aws:widgets:<region>:<account>:widget/{id}
//! PUT    /widgets/{id}   widgets:PutWidget     arn:aws:widgets:<region>:<account>:widget/{id}
//! DELETE /widgets/{id}   widgets:DeleteWidget  arn:aws:widgets:<region>:<account>:widget/{id}
//! ```
//!
//! Run against a `meridian dev` cluster (endpoints are nodes' gRPC ports):
//!
//! ```text
//! MERIDIAN_VERIFIER=eu-west-1=http://127.0.0.1:7201,us-east-1=http://127.0.0.1:7211 \
//! WIDGETS_REGION=eu-west-1 WIDGETS_ACCOUNT=123456789012 WIDGETS_LISTEN=127.0.0.1:8080 \
//!   cargo run -p meridian-client --example widgets
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use meridian_client::{ClientConfig, SignedRequest, VerifierClient, VerifyError};

/// The largest request body the service reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the service needs besides the Verifier client.
#[derive(Debug, Clone)]
pub struct WidgetsConfig {
    /// The region widgets live in (ARNs).
    pub region: String,
    /// The account that owns every widget (ARNs).
    pub account: String,
}

#[derive(Debug)]
struct Shared {
    verifier: VerifierClient,
    config: WidgetsConfig,
    widgets: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// The service's router: every request goes through [`handle`].
pub fn router(verifier: VerifierClient, config: WidgetsConfig) -> Router {
    let shared = Arc::new(Shared {
        verifier,
        config,
        widgets: Mutex::new(BTreeMap::new()),
    });
    Router::new().fallback(handle).with_state(shared)
}

/// One operation: its action and the widget it names (`None`: all).
#[derive(Debug, PartialEq, Eq)]
struct Operation {
    action: &'static str,
    widget: Option<String>,
}

fn operation(method: &Method, path: &str) -> Option<Operation> {
    let rest = path.strip_prefix("/widgets")?;
    if rest.is_empty() || rest == "/" {
        return (method == Method::GET).then_some(Operation {
            action: "widgets:ListWidgets",
            widget: None,
        });
    }
    let id = rest.strip_prefix('/')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let action = match *method {
        Method::GET => "widgets:GetWidget",
        Method::PUT => "widgets:PutWidget",
        Method::DELETE => "widgets:DeleteWidget",
        _ => return None,
    };
    Some(Operation {
        action,
        widget: Some(id.to_owned()),
    })
}

/// An AWS JSON-protocol error document.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(value) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let Some(operation) = operation(&parts.method, parts.uri.path()) else {
        return error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "no such operation",
        );
    };
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ValidationException",
            "the request body is too large",
        );
    };
    let config = &shared.config;
    let resource = format!(
        "arn:aws:widgets:{}:{}:widget/{}",
        config.region,
        config.account,
        operation.widget.as_deref().unwrap_or("*")
    );
    let mut signed = SignedRequest::from_http(&parts, &body);
    if let Some(peer) = peer {
        signed = signed.with_source_ip(peer.ip());
    }
    let decision = shared
        .verifier
        .authenticate_and_authorize(&signed, operation.action, &resource, &[])
        .await;
    let (caller, authorization) = match decision {
        Ok(answer) => answer,
        Err(VerifyError::Unavailable { .. }) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                "the authorization service is unavailable; retry",
            );
        }
        Err(VerifyError::Rejected {
            code,
            message,
            grpc,
        }) => {
            // Bad signature, unknown or expired credentials: 403 as STS
            // would; a request the Verifier could not read: 400.
            let status = if grpc == tonic::Code::Unauthenticated {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, &code, &message);
        }
        Err(VerifyError::InvalidRequest(reason)) => {
            return error(StatusCode::BAD_REQUEST, "ValidationException", &reason);
        }
    };
    if !authorization.allowed {
        let message = format!(
            "{} Encoded authorization failure message: {}",
            authorization.message, authorization.encoded_message
        );
        return error(StatusCode::FORBIDDEN, "AccessDeniedException", &message);
    }
    tracing::info!(caller = %caller.context.arn, action = operation.action, "allowed");
    let mut widgets = shared
        .widgets
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match (operation.action, operation.widget) {
        ("widgets:ListWidgets", _) => json(
            StatusCode::OK,
            &serde_json::json!({ "Widgets": widgets.keys().collect::<Vec<_>>() }),
        ),
        ("widgets:GetWidget", Some(id)) => match widgets.get(&id) {
            Some(content) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "Id": id,
                    "Content": String::from_utf8_lossy(content),
                    "Caller": caller.context.arn,
                }),
            ),
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!("widget {id} does not exist"),
            ),
        },
        ("widgets:PutWidget", Some(id)) => {
            widgets.insert(id.clone(), body.to_vec());
            json(StatusCode::CREATED, &serde_json::json!({ "Id": id }))
        }
        ("widgets:DeleteWidget", Some(id)) => {
            widgets.remove(&id);
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "no such operation",
        ),
    }
}

/// The Verifier client from `MERIDIAN_VERIFIER` (`region=url,…`).
fn client_from_env(region: &str) -> anyhow::Result<VerifierClient> {
    let endpoints = std::env::var("MERIDIAN_VERIFIER")
        .map_err(|_| anyhow::anyhow!("set MERIDIAN_VERIFIER=region=http://host:port,…"))?;
    let mut config = ClientConfig::new("widgets", region);
    for entry in endpoints.split(',').filter(|e| !e.is_empty()) {
        let (endpoint_region, url) = entry.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("MERIDIAN_VERIFIER entry {entry:?} is not region=url")
        })?;
        config = config.endpoint(endpoint_region, url);
    }
    Ok(VerifierClient::new(config)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let region = std::env::var("WIDGETS_REGION").unwrap_or_else(|_| String::from("eu-west-1"));
    let account =
        std::env::var("WIDGETS_ACCOUNT").map_err(|_| anyhow::anyhow!("set WIDGETS_ACCOUNT"))?;
    let listen = std::env::var("WIDGETS_LISTEN").unwrap_or_else(|_| String::from("127.0.0.1:8080"));
    let verifier = client_from_env(&region)?;
    let app = router(verifier, WidgetsConfig { region, account });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(%listen, "widgets listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_actions_and_widgets() {
        assert_eq!(
            operation(&Method::GET, "/widgets"),
            Some(Operation {
                action: "widgets:ListWidgets",
                widget: None
            })
        );
        assert_eq!(
            operation(&Method::DELETE, "/widgets/w-7"),
            Some(Operation {
                action: "widgets:DeleteWidget",
                widget: Some(String::from("w-7"))
            })
        );
        assert_eq!(operation(&Method::POST, "/widgets/7"), None);
        assert_eq!(operation(&Method::GET, "/widgets/a/b"), None);
        assert_eq!(operation(&Method::GET, "/gadgets/1"), None);
    }
}
