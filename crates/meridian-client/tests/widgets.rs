//! The example resource service (`examples/widgets.rs`) in front of a real
//! node: SigV4-signed requests (the `aws-sigv4` crate) over real HTTP on
//! 127.0.0.1 are served when the Verifier allows them, refused with 403
//! `AccessDeniedException` (and the encoded authorization message) when it
//! denies, 403 with the Verifier's code when the signature is bad, and 503
//! when no Verifier answers.

#[path = "../examples/widgets.rs"]
#[allow(dead_code, unreachable_pub)]
mod widgets;

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use meridian_client::{ClientConfig, VerifierClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use support::*;

/// The example service served on 127.0.0.1.
struct Service {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start(verifier: VerifierClient, account: &str) -> Service {
        let app = widgets::router(
            verifier,
            widgets::WidgetsConfig {
                region: REGION.to_owned(),
                account: account.to_owned(),
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        });
        Service { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// A response as received.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `request` over a new HTTP/1.1 connection to `addr`.
async fn send(addr: SocketAddr, request: &http::Request<Vec<u8>>) -> Answer {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut text = format!("{} {path} HTTP/1.1\r\n", request.method());
    for (name, value) in request.headers() {
        text.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_else(|e| panic!("{e}"))
        ));
    }
    text.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.body().len()
    ));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(request.body());
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(&bytes)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A signed request to the service at `addr`.
fn signed(
    keys: &Keys,
    method: &str,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
) -> http::Request<Vec<u8>> {
    let host = addr.to_string();
    let uri = format!("http://{host}{path}");
    sign_headers(keys, method, &uri, &host, &[], body)
}

#[tokio::test]
async fn the_example_service_authorizes_every_request_through_the_verifier() {
    bounded(async {
        let mut node = Node::start().await;
        let account = node.account();
        let reader = node
            .create_user(
                "reader",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[
                        {{"Sid":"Read","Effect":"Allow","Action":["widgets:Get*","widgets:List*"],"Resource":"arn:aws:widgets:{REGION}:{account}:widget/*"}},
                        {{"Sid":"NoSecret","Effect":"Deny","Action":"widgets:*","Resource":"arn:aws:widgets:*:*:widget/secret"}}]}}"#
                ),
            )
            .await;
        let admin = node.admin_keys();
        let verifier = VerifierClient::new(
            ClientConfig::new(SERVICE, REGION).endpoint(REGION, &node.endpoint()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let service = Service::start(verifier, &account).await;
        let addr = service.addr;

        tracing::info!("--- allowed: the administrator writes, the reader reads");
        let put = send(addr, &signed(&admin, "PUT", addr, "/widgets/w1", b"sprocket")).await;
        assert_eq!(put.status, 201, "{put:?}");
        let put = send(addr, &signed(&admin, "PUT", addr, "/widgets/secret", b"x")).await;
        assert_eq!(put.status, 201, "{put:?}");
        let get = send(addr, &signed(&reader, "GET", addr, "/widgets/w1", b"")).await;
        assert_eq!(get.status, 200, "{get:?}");
        let document = get.json();
        assert_eq!(document["Content"], "sprocket");
        assert_eq!(
            document["Caller"],
            format!("arn:aws:iam::{account}:user/reader")
        );
        let list = send(addr, &signed(&reader, "GET", addr, "/widgets", b"")).await;
        assert_eq!(list.status, 200, "{list:?}");
        assert_eq!(list.json()["Widgets"], serde_json::json!(["secret", "w1"]));

        tracing::info!("--- denied: implicitly (no Allow) and explicitly (a Deny)");
        for (method, path, action, why) in [
            ("DELETE", "/widgets/w1", "widgets:DeleteWidget", "because no identity-based policy allows"),
            ("PUT", "/widgets/w2", "widgets:PutWidget", "because no identity-based policy allows"),
            ("GET", "/widgets/secret", "widgets:GetWidget", "with an explicit deny in an identity-based policy"),
        ] {
            let denied = send(addr, &signed(&reader, method, addr, path, b"")).await;
            assert_eq!(denied.status, 403, "{method} {path}: {denied:?}");
            assert_eq!(denied.header("x-amzn-errortype"), Some("AccessDeniedException"));
            let document = denied.json();
            assert_eq!(document["__type"], "AccessDeniedException");
            let message = document["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(&format!(
                    "User: arn:aws:iam::{account}:user/reader is not authorized to perform: {action} on resource: arn:aws:widgets:{REGION}:{account}:widget/"
                )),
                "{message}"
            );
            assert!(message.contains(why), "{message}");
            let encoded = message
                .split("Encoded authorization failure message: ")
                .nth(1)
                .unwrap_or_default();
            assert!(encoded.len() > 20, "no encoded message: {message}");
        }
        // Nothing was deleted.
        let still = send(addr, &signed(&reader, "GET", addr, "/widgets/w1", b"")).await;
        assert_eq!(still.status, 200, "{still:?}");

        tracing::info!("--- bad signatures and unsigned requests");
        let mut tampered = signed(&reader, "GET", addr, "/widgets/w1", b"");
        *tampered.uri_mut() = format!("http://{addr}/widgets/w2")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = send(addr, &tampered).await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.json()["__type"], "SignatureDoesNotMatch");
        let mut body_changed = signed(&admin, "PUT", addr, "/widgets/w1", b"sprocket");
        *body_changed.body_mut() = b"sprockeT".to_vec();
        let refused = send(addr, &body_changed).await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.json()["__type"], "SignatureDoesNotMatch");
        let unsigned = http::Request::get(format!("http://{addr}/widgets/w1"))
            .header("host", addr.to_string())
            .body(Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = send(addr, &unsigned).await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert!(!refused.json()["__type"].as_str().unwrap_or_default().is_empty());
        let unknown = Keys {
            access_key_id: String::from("AKIAIOSFODNN7EXAMPLE"),
            secret_access_key: reader.secret_access_key.clone(),
        };
        let refused = send(addr, &signed(&unknown, "GET", addr, "/widgets/w1", b"")).await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.json()["__type"], "InvalidClientTokenId");
        service.stop().await;

        tracing::info!("--- no Verifier answers: 503, nothing served");
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        };
        let mut config = ClientConfig::new(SERVICE, REGION).endpoint(REGION, &format!("http://{closed}"));
        config.deadline = Duration::from_millis(500);
        let unreachable = VerifierClient::new(config).unwrap_or_else(|e| panic!("{e}"));
        let service = Service::start(unreachable, &account).await;
        let addr = service.addr;
        let down = send(addr, &signed(&admin, "GET", addr, "/widgets/w1", b"")).await;
        assert_eq!(down.status, 503, "{down:?}");
        assert_eq!(down.header("x-amzn-errortype"), Some("ServiceUnavailableException"));
        assert_eq!(down.json()["__type"], "ServiceUnavailableException");
        service.stop().await;
        node.stop().await;
    })
    .await;
}
