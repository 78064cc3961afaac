//! `VerifierClient` against a real node on 127.0.0.1: the typed API (unary,
//! batch, stream), final rejections, failover past dead endpoints in the
//! local region and to another region, and the retry budget capping retries.

mod support;

use std::time::Duration;

use meridian_client::{
    ClientConfig, DenyKind, RetryBudgetConfig, SignedRequest, VerifierClient, VerifyError, pb,
};
use tokio::net::TcpListener;

use support::*;

const HOST: &str = "widgets.eu-west-1.example.internal";

/// A `http://127.0.0.1:port` nothing listens on.
async fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    format!("http://{addr}")
}

fn request(keys: &Keys, method: &str, path: &str, body: &[u8]) -> SignedRequest {
    let uri = format!("https://{HOST}{path}");
    let (parts, body) = sign_headers(keys, method, &uri, HOST, &[], body).into_parts();
    SignedRequest::from_http(&parts, &body)
}

fn widget(account: &str, id: &str) -> String {
    format!("arn:aws:widgets:{REGION}:{account}:widget/{id}")
}

fn client(endpoints: &[(&str, &str)]) -> VerifierClient {
    let mut config = ClientConfig::new(SERVICE, REGION);
    for (region, url) in endpoints {
        config = config.endpoint(region, url);
    }
    VerifierClient::new(config).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_typed_api_answers_like_the_verifier() {
    bounded(async {
        let mut node = Node::start().await;
        let account = node.account();
        let reader = node
            .create_user(
                "reader",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Read","Effect":"Allow","Action":"widgets:GetWidget","Resource":"{}"}}]}}"#,
                    widget(&account, "*")
                ),
            )
            .await;
        let endpoint = node.endpoint();
        let client = client(&[(REGION, &endpoint)]);

        tracing::info!("--- authenticate, then authorize by handle");
        let caller = client
            .authenticate(&request(&reader, "GET", "/widgets/1?view=full", b""))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(caller.context.arn, format!("arn:aws:iam::{account}:user/reader"));
        assert_eq!(caller.context.access_key_id, reader.access_key_id);
        assert!(!caller.handle.is_empty());
        let allowed = client
            .authorize(&caller, "widgets:GetWidget", &widget(&account, "1"), &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(allowed.allowed, "{allowed:?}");
        assert_eq!(allowed.deny_kind, None);
        assert_eq!(allowed.statement.map(|s| s.sid), Some(String::from("Read")));
        let denied = client
            .authorize(&caller, "widgets:DeleteWidget", &widget(&account, "1"), &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!denied.allowed);
        assert_eq!(denied.deny_kind, Some(DenyKind::Implicit));
        assert!(!denied.encoded_message.is_empty());
        assert!(denied.message.contains("widgets:DeleteWidget"), "{}", denied.message);

        tracing::info!("--- both in one call, with a POST body");
        let (who, decision) = client
            .authenticate_and_authorize(
                &request(&reader, "POST", "/widgets/2", br#"{"x":1}"#),
                "widgets:GetWidget",
                &widget(&account, "2"),
                &[meridian_client::context::string("widgets:Color", "blue")],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(who.context.arn, caller.context.arn);
        assert!(decision.allowed);

        tracing::info!("--- final rejections are not retried");
        let (mut parts, _) = sign_headers(
            &reader,
            "GET",
            &format!("https://{HOST}/widgets/1"),
            HOST,
            &[],
            b"",
        )
        .into_parts();
        parts.uri = format!("https://{HOST}/widgets/2")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let tampered = SignedRequest::from_http(&parts, b"").with_source_ip([192, 0, 2, 1].into());
        let error = client
            .authenticate(&tampered)
            .await
            .err()
            .unwrap_or_else(|| panic!("a tampered request authenticated"));
        assert_eq!(error.code(), Some("SignatureDoesNotMatch"), "{error}");
        assert!(error.is_authentication_failure());

        tracing::info!("--- batch: each call its own answer, in order");
        let results = client
            .batch(vec![
                pb::VerifierCall {
                    id: 1,
                    call: Some(pb::verifier_call::Call::Authenticate(
                        request(&reader, "GET", "/", b"").to_message(SERVICE, REGION),
                    )),
                },
                pb::VerifierCall {
                    id: 2,
                    call: Some(pb::verifier_call::Call::Authenticate(
                        tampered.to_message(SERVICE, REGION),
                    )),
                },
            ])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(results.len(), 2);
        assert!(matches!(
            results[0].result,
            Some(pb::verifier_result::Result::Authenticate(_))
        ));
        assert!(matches!(
            &results[1].result,
            Some(pb::verifier_result::Result::Error(e)) if e.code == "SignatureDoesNotMatch"
        ));

        tracing::info!("--- a stream shared by many tasks");
        let session = std::sync::Arc::new(
            client
                .open_stream()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let mut tasks = Vec::new();
        for n in 0..32 {
            let session = std::sync::Arc::clone(&session);
            let signed = request(&reader, "GET", &format!("/widgets/{n}"), b"");
            let resource = widget(&account, &n.to_string());
            let action = if n % 4 == 0 { "widgets:DeleteWidget" } else { "widgets:GetWidget" };
            tasks.push(tokio::spawn(async move {
                session
                    .authenticate_and_authorize(&signed, action, &resource, &[])
                    .await
                    .map(|(_, decision)| (n, decision.allowed))
            }));
        }
        for task in tasks {
            let (n, allowed) = task
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(allowed, n % 4 != 0, "call {n}");
        }
        let rejected = session.authenticate(&tampered).await;
        assert_eq!(
            rejected.err().and_then(|e| e.code().map(str::to_owned)),
            Some(String::from("SignatureDoesNotMatch"))
        );
        assert!(!session.is_closed());
        drop(session);
        node.stop().await;
    })
    .await;
}

#[tokio::test]
async fn calls_fail_over_within_the_region_then_to_others_within_the_budget() {
    bounded(async {
        let node = Node::start().await;
        let admin = node.admin_keys();
        let live = node.endpoint();
        let dead_a = dead_endpoint().await;
        let dead_b = dead_endpoint().await;

        tracing::info!("--- a dead local endpoint next to a live one: every call answers");
        let local = client(&[(REGION, &dead_a), (REGION, &live)]);
        for n in 0..6 {
            let answer = local
                .authenticate(&request(&admin, "GET", &format!("/widgets/{n}"), b""))
                .await;
            assert!(answer.is_ok(), "call {n}: {answer:?}");
        }

        tracing::info!("--- every local endpoint dead: another region answers");
        let remote = client(&[(REGION, &dead_a), (REGION, &dead_b), ("us-east-1", &live)]);
        for n in 0..4 {
            let answer = remote
                .authenticate(&request(&admin, "GET", &format!("/widgets/{n}"), b""))
                .await;
            assert!(answer.is_ok(), "call {n}: {answer:?}");
        }

        tracing::info!("--- nothing answers: Unavailable after max_attempts");
        let down = client(&[(REGION, &dead_a), (REGION, &dead_b)]);
        match down.authenticate(&request(&admin, "GET", "/", b"")).await {
            Err(VerifyError::Unavailable { attempts, .. }) => assert_eq!(attempts, 3),
            other => panic!("expected Unavailable, got {other:?}"),
        }

        tracing::info!("--- an empty retry budget: one attempt, no retry");
        let mut config = ClientConfig::new(SERVICE, REGION)
            .endpoint(REGION, &dead_a)
            .endpoint(REGION, &live);
        config.retry_budget = RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 0,
            window: Duration::from_secs(10),
        };
        let stingy = VerifierClient::new(config).unwrap_or_else(|e| panic!("{e}"));
        let mut unavailable = 0;
        for _ in 0..4 {
            match stingy.authenticate(&request(&admin, "GET", "/", b"")).await {
                Ok(_) => {}
                Err(VerifyError::Unavailable { attempts, last }) => {
                    assert_eq!(attempts, 1, "{last}");
                    assert!(last.contains("retry budget exhausted"), "{last}");
                    unavailable += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
        // The dead endpoint was tried first at least once (round robin);
        // once ejected it goes last, so later calls reach the live node.
        assert!(unavailable >= 1, "the dead endpoint was never tried first");
        assert!(unavailable < 4, "the live endpoint was never reached");
        node.stop().await;
    })
    .await;
}
