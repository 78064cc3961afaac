//! Router tests with in-memory state: `router(state)` driven by `oneshot`.
//!
//! Every response body is parsed back with quick-xml, so the tests check the
//! documents clients parse, not strings we happened to write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use meridian_core::config::command::ConfigRequest;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::ids::AccountId;
use meridian_core::keyring::Kek;
use meridian_core::principal::Principal;
use meridian_core::time::Timestamp;
use meridian_edge::decode::Value;
use meridian_edge::error::ApiError;
use meridian_edge::model::{ErrorCode, Service};
use meridian_edge::operation::HandlerTable;
use meridian_edge::rate_limit::RateLimit;
use meridian_edge::router::router;
use meridian_edge::state::{
    AuthRequest, Authenticator, BoxFuture, Caller, Clock, ConfigWriter, EdgeLimits, EdgeParts,
    EdgeState, Freshness, KeyMaterial, RandomSource, Readiness, WriteError, WriteOutcome,
};
use meridian_edge::xml::XmlResult;
use quick_xml::events::Event;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const FAULT_NS: &str = "http://webservices.amazon.com/AWSFault/2005-15-09";
const ROLE: &str = "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo";

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(1_795_669_708)
    }
}

/// Deterministic bytes: request ids differ per request, tests reproduce.
#[derive(Default)]
struct CountingRandom(AtomicU64);
impl RandomSource for CountingRandom {
    fn fill(&self, dest: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = (n.wrapping_mul(31).wrapping_add(i as u64) % 251) as u8;
        }
    }
}

struct NoWrites;
impl ConfigWriter for NoWrites {
    fn submit(&self, _: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>> {
        Box::pin(async { Err(WriteError::Unavailable("test".into())) })
    }
}

/// Accepts `Authorization: Test <key id>` as the account root of
/// 123456789012; anything else is `SignatureDoesNotMatch`. These tests are
/// about the protocol layer; SigV4 authentication end to end is in
/// `tests/sts*.rs`.
struct TestAuthenticator;
impl Authenticator for TestAuthenticator {
    fn authenticate(
        &self,
        request: &AuthRequest<'_>,
        _: &ConfigSnapshot,
        _: Timestamp,
    ) -> Result<Caller, ApiError> {
        let header = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match header.strip_prefix("Test ") {
            Some(key) => {
                Ok(Caller::long_term(
                    Principal::Root(AccountId::parse("123456789012").map_err(|_| {
                        ApiError::new(ErrorCode::InternalFailure, "bad test account")
                    })?),
                    key,
                ))
            }
            None => Err(ApiError::new(
                ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided.",
            )),
        }
    }
}

fn handlers() -> HandlerTable {
    let mut table = HandlerTable::new();
    // Echoes what the decoder produced, so tests see decoding end to end.
    table
        .register(Service::Sts, "AssumeRole", |request| async move {
            let input = request.input.ok_or_else(ApiError::unavailable)?;
            let tags: Vec<(String, String)> = input
                .list("Tags")
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_structure)
                .map(|t| {
                    (
                        t.str("Key").unwrap_or_default().to_owned(),
                        t.str("Value").unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let transitive = input.list("TransitiveTagKeys").map(|l| l.len());
            Ok(XmlResult::build(|w| {
                w.text("RoleArn", input.str("RoleArn").unwrap_or_default())
                    .text(
                        "RoleSessionName",
                        input.str("RoleSessionName").unwrap_or_default(),
                    )
                    .integer(
                        "DurationSeconds",
                        input.int("DurationSeconds").unwrap_or(3600),
                    )
                    .text_map("Tags", tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .text(
                        "Transitive",
                        &transitive.map_or("absent".to_owned(), |n| n.to_string()),
                    )
                    .text(
                        "PolicyArn",
                        input
                            .list("PolicyArns")
                            .and_then(|l| l.first())
                            .and_then(Value::as_structure)
                            .and_then(|p| p.str("arn"))
                            .unwrap_or("none"),
                    );
            }))
        })
        .and_then(|t| {
            t.register(Service::Sts, "GetCallerIdentity", |request| async move {
                let caller = request.caller.ok_or_else(ApiError::unavailable)?;
                let identity = caller
                    .principal
                    .caller_identity(request.snapshot.partition());
                Ok(XmlResult::build(|w| {
                    w.text("UserId", &identity.user_id)
                        .text("Account", identity.account.as_str())
                        .text("Arn", &identity.arn.to_string());
                }))
            })
        })
        .and_then(|t| {
            t.register(Service::Sts, "GetSessionToken", |_| async move {
                panic!("secret-detail-that-must-not-leak")
            })
        })
        .and_then(|t| {
            t.register(Service::Iam, "ListRoles", |_| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(XmlResult::empty())
            })
        })
        .map(|_| ())
        .unwrap_or_else(|e| panic!("{e}"));
    table
}

fn state_with(limits: EdgeLimits, table: HandlerTable) -> EdgeState {
    let (_tx, snapshots) = watch::channel(Arc::new(ConfigSnapshot::default()));
    let readiness = Readiness::new();
    EdgeState::new(EdgeParts {
        snapshots,
        region: "eu-west-1".to_owned(),
        clock: Arc::new(FixedClock),
        random: Arc::new(CountingRandom::default()),
        writer: Arc::new(NoWrites),
        authenticator: Arc::new(TestAuthenticator),
        keys: Arc::new(KeyMaterial::new(
            Kek::from_bytes(&[1u8; 32]).unwrap_or_else(|e| panic!("{e}")),
        )),
        freshness: Freshness::new(),
        handlers: table,
        readiness,
        limits,
    })
}

fn app() -> Router {
    router(state_with(EdgeLimits::RECOMMENDED, handlers()))
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    /// Text of the element at `path` (`A/B/C`, local names).
    fn at(&self, path: &str) -> Option<String> {
        parse(&self.body)
            .into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t)
    }

    fn namespace(&self) -> Option<String> {
        let mut reader = quick_xml::Reader::from_str(&self.body);
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    return e
                        .try_get_attribute("xmlns")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                }
                Ok(Event::Eof) | Err(_) => return None,
                _ => {}
            }
        }
    }

    fn error(&self) -> (u16, String, String, Option<String>) {
        (
            self.status.as_u16(),
            self.at("ErrorResponse/Error/Type").unwrap_or_default(),
            self.at("ErrorResponse/Error/Code").unwrap_or_default(),
            self.at("ErrorResponse/Error/Message"),
        )
    }
}

/// (path, text) for every element with text, parsed with quick-xml. Panics
/// on malformed XML, which is what a client would choke on.
fn parse(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    // (local name, whether a child element was seen)
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut out = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if let Some(parent) = stack.last_mut() {
                    parent.1 = true;
                }
                stack.push((
                    String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    false,
                ));
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.decode().unwrap_or_default();
                    let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                        .unwrap_or_else(|e| panic!("bad entity {name}: {e}"))
                        .into_owned();
                    text.push_str(&resolved);
                }
            }
            Ok(Event::End(_)) => {
                let leaf = stack.last().is_some_and(|(_, had_child)| !had_child);
                if leaf {
                    let path: Vec<&str> = stack.iter().map(|(n, _)| n.as_str()).collect();
                    out.push((path.join("/"), text.clone()));
                }
                text.clear();
                stack.pop();
            }
            Ok(Event::Eof) => break,
            Err(e) => panic!("malformed XML ({e}): {xml}"),
            _ => {}
        }
    }
    out
}

async fn send(app: Router, request: Request<Body>) -> Reply {
    let response = tokio::time::timeout(Duration::from_secs(10), app.oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("request did not complete"))
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn post(body: &str) -> Request<Body> {
    Request::post("/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("authorization", "Test AKIATESTKEY")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

fn get(query: &str) -> Request<Body> {
    Request::get(format!("/?{query}"))
        .header("authorization", "Test AKIATESTKEY")
        .body(Body::empty())
        .unwrap_or_default()
}

#[tokio::test]
async fn decodes_lists_structures_spaces_and_empty_lists() {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=s1\
         &Tags.member.1.Key=Project&Tags.member.1.Value=Unicorn\
         &Tags.member.2.Key=Team&Tags.member.2.Value=A+B\
         &TransitiveTagKeys=&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess\
         &DurationSeconds=0900&Unknown=ignored"
    );
    let reply = send(app(), post(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.namespace().as_deref(), Some(STS_NS));
    let r = "AssumeRoleResponse/AssumeRoleResult";
    assert_eq!(
        reply.at(&format!("{r}/RoleArn")).as_deref(),
        Some("arn:aws:iam::123456789012:role/demo")
    );
    assert_eq!(
        reply.at(&format!("{r}/DurationSeconds")).as_deref(),
        Some("900")
    );
    let entries: Vec<(String, String)> = parse(&reply.body)
        .into_iter()
        .filter(|(p, _)| p.starts_with(&format!("{r}/Tags/entry/")))
        .collect();
    assert_eq!(
        entries,
        vec![
            (format!("{r}/Tags/entry/key"), "Project".to_owned()),
            (format!("{r}/Tags/entry/value"), "Unicorn".to_owned()),
            (format!("{r}/Tags/entry/key"), "Team".to_owned()),
            (format!("{r}/Tags/entry/value"), "A B".to_owned()),
        ]
    );
    assert_eq!(
        reply.at(&format!("{r}/Transitive")).as_deref(),
        Some("0"),
        "`Name=` is an empty list"
    );
    assert_eq!(
        reply.at(&format!("{r}/PolicyArn")).as_deref(),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert!(
        reply
            .at("AssumeRoleResponse/ResponseMetadata/RequestId")
            .is_some()
    );
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/xml")
    );
}

#[tokio::test]
async fn get_and_post_are_equivalent() {
    let query = "Action=GetCallerIdentity&Version=2011-06-15";
    let by_post = send(app(), post(query)).await;
    let by_get = send(app(), get(query)).await;
    assert_eq!(by_post.status, StatusCode::OK, "{}", by_post.body);
    assert_eq!(by_get.status, StatusCode::OK, "{}", by_get.body);
    let strip = |r: &Reply| {
        parse(&r.body)
            .into_iter()
            .filter(|(p, _)| !p.ends_with("RequestId"))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&by_post), strip(&by_get));
    assert_eq!(
        by_get
            .at("GetCallerIdentityResponse/GetCallerIdentityResult/Arn")
            .as_deref(),
        Some("arn:aws:iam::123456789012:root")
    );
}

#[tokio::test]
async fn request_id_is_generated_and_echoed() {
    let reply = send(app(), post("Action=GetCallerIdentity&Version=2011-06-15")).await;
    let header = reply
        .headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = reply.at("GetCallerIdentityResponse/ResponseMetadata/RequestId");
    assert!(header.as_ref().is_some_and(|h| h.len() == 36), "{header:?}");
    assert_eq!(header, body);

    let mut forged = post("Action=Nope&Version=2011-06-15");
    forged
        .headers_mut()
        .insert("x-amzn-requestid", http::HeaderValue::from_static("forged"));
    let error = send(app(), forged).await;
    let header = error
        .headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_ne!(header.as_deref(), Some("forged"));
    assert_eq!(
        header,
        error.at("ErrorResponse/RequestId"),
        "RequestId is a sibling of Error"
    );
}

#[tokio::test]
async fn duplicate_parameters_are_refused_before_dispatch() {
    for body in [
        "Action=AssumeRole&Action=GetCallerIdentity&Version=2011-06-15",
        "Action=GetCallerIdentity&Version=2011-06-15&Version=2010-05-08",
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=a&X-Amz-Signature=b",
    ] {
        let reply = send(app(), post(body)).await;
        let (status, kind, code, message) = reply.error();
        assert_eq!(
            (status, kind.as_str(), code.as_str()),
            (400, "Sender", "MalformedQueryString"),
            "{body}"
        );
        assert!(message.is_some_and(|m| m.starts_with("Duplicate parameter: ")));
    }
    // The same name in the query string and the body is a duplicate too.
    let mut request = post("Action=GetCallerIdentity&Version=2011-06-15");
    *request.uri_mut() = "/?Action=GetCallerIdentity".parse().unwrap_or_default();
    assert_eq!(send(app(), request).await.error().2, "MalformedQueryString");
}

#[tokio::test]
async fn routing_answers_like_aws() {
    let cases = [
        (
            "Action=NoSuchAction&Version=2011-06-15",
            "Could not find operation NoSuchAction for version 2011-06-15",
        ),
        (
            "Action=GetCallerIdentity",
            "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
        ),
        (
            "Action=GetCallerIdentity&Version=",
            "Could not find operation GetCallerIdentity for version ",
        ),
        (
            "Action=GetCallerIdentity&Version=2000-01-01",
            "Could not find operation GetCallerIdentity for version 2000-01-01",
        ),
        (
            "Action=CreateRole&Version=2011-06-15",
            "Could not find operation CreateRole for version 2011-06-15",
        ),
        (
            "Action=AssumeRole&Version=2010-05-08",
            "Could not find operation AssumeRole for version 2010-05-08",
        ),
        (
            "Action=&Version=2011-06-15",
            "Could not find operation  for version 2011-06-15",
        ),
    ];
    for (body, message) in cases {
        let reply = send(app(), post(body)).await;
        assert_eq!(
            reply.error(),
            (
                400,
                "Sender".into(),
                "InvalidAction".into(),
                Some(message.into())
            ),
            "{body}"
        );
        assert_eq!(reply.namespace().as_deref(), Some(FAULT_NS));
    }
    // No Action: AWS redirects to the IAM page, with the query on GET.
    let reply = send(app(), get("Version=2011-06-15")).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("https://aws.amazon.com/iam?Version=2011-06-15")
    );
    // A POST body without a form content type is not read: no Action.
    let mut request = post("Action=GetCallerIdentity&Version=2011-06-15");
    request.headers_mut().remove("content-type");
    let reply = send(app(), request).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("https://aws.amazon.com/iam")
    );
}

#[tokio::test]
async fn validation_errors_carry_aws_texts() {
    let session = |name: &str| {
        format!("Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName={name}")
    };
    let cases: Vec<(String, &str, Option<String>)> = vec![
        (
            session("Session1%3A2"),
            "ValidationError",
            Some(r"1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*".into()),
        ),
        (
            format!("Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}"),
            "ValidationError",
            Some("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into()),
        ),
        (
            format!("{}&DurationSeconds=43201", session("s1")),
            "ValidationError",
            Some("1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200".into()),
        ),
        (format!("{}&DurationSeconds=abc", session("s1")), "MalformedInput", None),
        (
            format!("{}&DurationSeconds=", session("s1")),
            "MalformedInput",
            Some("missing value for decimal type".into()),
        ),
        (
            format!("Action=GetFederationToken&Version=2011-06-15&Name=f&Policy={}", "x".repeat(2049)),
            "ValidationError",
            Some(format!(
                "2 validation errors detected: Value 'f' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '{}' at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
                "x".repeat(2049)
            )),
        ),
    ];
    for (body, code, message) in cases {
        let reply = send(app(), post(&body)).await;
        assert_eq!(
            reply.error(),
            (400, "Sender".into(), code.into(), message),
            "{body}"
        );
        assert_eq!(reply.namespace().as_deref(), Some(STS_NS));
    }
}

#[tokio::test]
async fn signed_operations_need_authentication_and_unsigned_ones_do_not() {
    let mut request = post("Action=GetCallerIdentity&Version=2011-06-15");
    request.headers_mut().remove("authorization");
    let reply = send(app(), request).await;
    assert_eq!(
        reply.error(),
        (
            403,
            "Sender".into(),
            "MissingAuthenticationToken".into(),
            Some("Request is missing Authentication Token".into())
        )
    );
    let mut request = post("Action=GetCallerIdentity&Version=2011-06-15");
    request
        .headers_mut()
        .insert("authorization", http::HeaderValue::from_static("Bogus"));
    assert_eq!(
        send(app(), request).await.error().2,
        "SignatureDoesNotMatch"
    );

    // AssumeRoleWithWebIdentity is routable without any authentication; it
    // reaches validation, then the (not yet registered) handler.
    let mut request = post(&format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=abc"
    ));
    request.headers_mut().remove("authorization");
    let reply = send(app(), request).await;
    assert_eq!(
        reply.error().3.as_deref(),
        Some(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        )
    );
    let mut request = post(&format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=abcd"
    ));
    request.headers_mut().remove("authorization");
    let reply = send(app(), request).await;
    assert_eq!(reply.error().0, 501);
    assert_eq!(reply.error().2, "NotImplemented");
}

#[tokio::test]
async fn oversized_bodies_get_413_without_being_read() {
    // A declared length over the limit: answered before the body is polled.
    // The body never ends, so reading it would hang the test.
    let stream = futures::stream::pending::<Result<Bytes, std::io::Error>>();
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", (100 * 1024 * 1024).to_string())
        .body(Body::from_stream(stream))
        .unwrap_or_default();
    let reply = send(app(), request).await;
    assert_eq!(reply.error().0, 413);
    assert_eq!(reply.error().2, "RequestEntityTooLarge");

    // A chunked body (no length) is cut off at the limit while streaming.
    let limits = EdgeLimits {
        max_body_bytes: 1024,
        ..EdgeLimits::RECOMMENDED
    };
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..64).map(|_| Ok(Bytes::from(vec![b'a'; 100]))).collect();
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_default();
    let reply = send(router(state_with(limits, handlers())), request).await;
    assert_eq!(reply.error().0, 413);
}

#[tokio::test]
async fn panics_become_internal_failure_without_detail() {
    let reply = send(app(), post("Action=GetSessionToken&Version=2011-06-15")).await;
    assert_eq!(
        reply.error(),
        (
            500,
            "Receiver".into(),
            "InternalFailure".into(),
            Some("The request processing has failed because of an unknown error, exception or failure.".into())
        )
    );
    assert!(!reply.body.contains("secret-detail"));
    assert!(reply.at("ErrorResponse/RequestId").is_some());
    // The node keeps serving.
    assert_eq!(
        send(app(), post("Action=GetCallerIdentity&Version=2011-06-15"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unregistered_operations_are_not_implemented() {
    let reply = send(
        app(),
        post("Action=GetAccessKeyInfo&Version=2011-06-15&AccessKeyId=AKIAIOSFODNN7EXAMPLE"),
    )
    .await;
    assert_eq!(
        reply.error(),
        (
            501,
            "Receiver".into(),
            "NotImplemented".into(),
            Some("GetAccessKeyInfo is not implemented by this server yet".into())
        )
    );
}

#[tokio::test]
async fn overload_is_shed_with_service_unavailable() {
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let mut table = HandlerTable::new();
    let (g, e) = (Arc::clone(&gate), Arc::clone(&entered));
    let registered = table.register(Service::Sts, "GetCallerIdentity", move |_| {
        let (g, e) = (Arc::clone(&g), Arc::clone(&e));
        async move {
            e.notify_one();
            g.notified().await;
            Ok(XmlResult::empty())
        }
    });
    assert!(registered.is_ok());
    let limits = EdgeLimits {
        max_concurrent_requests: 1,
        ..EdgeLimits::RECOMMENDED
    };
    let app = router(state_with(limits, table));
    let first = tokio::spawn(send(
        app.clone(),
        post("Action=GetCallerIdentity&Version=2011-06-15"),
    ));
    entered.notified().await;
    let shed = send(
        app.clone(),
        post("Action=GetCallerIdentity&Version=2011-06-15"),
    )
    .await;
    assert_eq!(shed.error().0, 503);
    assert_eq!(shed.error().2, "ServiceUnavailable");
    gate.notify_one();
    let first = first.await.map(|r| r.status);
    assert_eq!(first.ok(), Some(StatusCode::OK));
    // Health is not behind the concurrency limit.
    let health = send(
        app,
        Request::get("/healthz")
            .body(Body::empty())
            .unwrap_or_default(),
    )
    .await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn slow_handlers_time_out_as_service_unavailable() {
    let limits = EdgeLimits {
        request_timeout: Duration::from_millis(100),
        ..EdgeLimits::RECOMMENDED
    };
    let mut request = post("Action=ListRoles&Version=2010-05-08");
    request.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_static("Test AKIATESTKEY"),
    );
    let reply = send(router(state_with(limits, handlers())), request).await;
    assert_eq!(reply.error().0, 503);
    assert_eq!(reply.error().2, "ServiceUnavailable");
}

#[tokio::test]
async fn callers_over_their_rate_get_throttling() {
    let limits = EdgeLimits {
        per_key_rate: RateLimit {
            per_second: 1,
            burst: 2,
            max_keys: 100,
        },
        ..EdgeLimits::RECOMMENDED
    };
    let app = router(state_with(limits, handlers()));
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    assert_eq!(send(app.clone(), post(body)).await.status, StatusCode::OK);
    assert_eq!(send(app.clone(), post(body)).await.status, StatusCode::OK);
    let throttled = send(app.clone(), post(body)).await;
    assert_eq!(
        throttled.error(),
        (
            400,
            "Sender".into(),
            "Throttling".into(),
            Some("Rate exceeded".into())
        )
    );
    let mut other = post(body);
    other.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_static("Test AKIAOTHERKEY"),
    );
    assert_eq!(
        send(app, other).await.status,
        StatusCode::OK,
        "limits are per access key"
    );
}

/// Unsigned calls (no access key) are limited per source address (IPv6 per
/// /64); an IPv4-mapped IPv6 peer is the same source as its IPv4 form.
#[tokio::test]
async fn unsigned_callers_are_limited_per_source_address() {
    let limits = EdgeLimits {
        per_key_rate: RateLimit {
            per_second: 1,
            burst: 2,
            max_keys: 100,
        },
        ..EdgeLimits::RECOMMENDED
    };
    let app = router(state_with(limits, handlers()));
    let from = |peer: &str| {
        let mut request = Request::post("/")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::from(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
                 &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr\
                 &RoleSessionName=s1&WebIdentityToken=not-a-jwt",
            ))
            .unwrap_or_default();
        let address: std::net::SocketAddr = peer.parse().unwrap_or_else(|e| panic!("{e}"));
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(address));
        request
    };
    let code = |reply: &Reply| reply.error().2;
    for _ in 0..2 {
        let reply = send(app.clone(), from("192.0.2.7:40000")).await;
        assert_ne!(code(&reply), "Throttling", "{}", reply.body);
    }
    let throttled = send(app.clone(), from("[::ffff:192.0.2.7]:40001")).await;
    assert_eq!(
        throttled.error(),
        (
            400,
            "Sender".into(),
            "Throttling".into(),
            Some("Rate exceeded".into())
        )
    );
    let other = send(app.clone(), from("198.51.100.9:40000")).await;
    assert_ne!(code(&other), "Throttling", "limits are per source address");
    // IPv6 sources are limited per /64.
    for peer in ["[2001:db8:1:2::10]:1", "[2001:db8:1:2:ffff::1]:2"] {
        let reply = send(app.clone(), from(peer)).await;
        assert_ne!(code(&reply), "Throttling", "{}", reply.body);
    }
    let same_network = send(app.clone(), from("[2001:db8:1:2::99]:3")).await;
    assert_eq!(code(&same_network), "Throttling");
    let next_network = send(app.clone(), from("[2001:db8:1:3::10]:4")).await;
    assert_ne!(code(&next_network), "Throttling");
    // Signed calls keep their own per-key buckets.
    let signed = send(app, post("Action=GetCallerIdentity&Version=2011-06-15")).await;
    assert_eq!(signed.status, StatusCode::OK);
}

#[tokio::test]
async fn health_and_readiness() {
    let state = state_with(EdgeLimits::RECOMMENDED, handlers());
    let app = router(state.clone());
    let probe = |path: &str| Request::get(path).body(Body::empty()).unwrap_or_default();
    assert_eq!(
        send(app.clone(), probe("/healthz")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(app.clone(), probe("/readyz")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.readiness().set(true);
    assert_eq!(
        send(app.clone(), probe("/readyz")).await.status,
        StatusCode::OK
    );
    state.readiness().set(false);
    assert_eq!(
        send(app, probe("/readyz")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn malformed_escapes_are_refused() {
    let reply = send(
        app(),
        post("Action=GetCallerIdentity&Version=2011-06-15&X=%zz"),
    )
    .await;
    assert_eq!(
        reply.error(),
        (
            400,
            "Sender".into(),
            "MalformedQueryString".into(),
            Some("Illegal hex character in escape % pattern: %zz".into())
        )
    );
}
