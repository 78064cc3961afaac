//! Requests the tool signs verify with Meridian's own verifier (and stop
//! verifying when a byte changes); answers are classified by AWS's codes.

use http_body_util::BodyExt as _;
use meridian_core::sigv4::error::SigV4Error;
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::verifier::Verifier;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn session_credentials() -> Credentials {
    Credentials {
        access_key_id: "ASIAQAAAAAAAAEXAMPLE".into(),
        secret_access_key: Zeroizing::new(SECRET.into()),
        session_token: Some(Zeroizing::new("FQoGZXIvYXdzEXAMPLE+token/value==".into())),
    }
}

/// The request as the verifier sees it: every header as sent, the body.
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

async fn receive(request: Request<Full<Bytes>>) -> Received {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    Received {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body,
    }
}

fn verify(
    received: &Received,
    service: &str,
    region: &str,
    now: Timestamp,
    secret: &str,
) -> Result<String, SigV4Error> {
    let headers: Vec<(&str, &[u8])> = received
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let request = SigRequest {
        method: &received.method,
        path: &received.path,
        query: "",
        headers: &headers,
        payload: Payload::Body(&received.body),
    };
    let verifier = Verifier::new(VerifierPolicy::for_node(region));
    let parsed = verifier.parse(&request, service, now)?;
    let authenticated = verifier.verify(parsed, &request, secret.as_bytes())?;
    Ok(authenticated.access_key_id().to_owned())
}

#[tokio::test]
async fn signed_requests_verify_with_meridians_verifier() {
    let now = Timestamp::from_unix_seconds(1_790_000_000);
    let endpoint =
        Endpoint::new("http://127.0.0.1:7101/", "eu-west-1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(endpoint.host, "127.0.0.1:7101");
    let cases = [
        (
            "sts",
            form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
        ),
        (
            "sts",
            form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", "arn:aws:iam::123456789012:role/load role"),
                ("RoleSessionName", "s-1"),
            ]),
        ),
        (
            "iam",
            form(&[
                ("Action", "TagRole"),
                ("Version", "2010-05-08"),
                ("Tags.member.1.Key", "k&=+ é"),
            ]),
        ),
    ];
    for (service, body) in cases {
        let request = signed_request(&endpoint, service, &session_credentials(), body, now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.uri().to_string(), "http://127.0.0.1:7101/");
        let received = receive(request).await;
        assert_eq!(
            verify(&received, service, "eu-west-1", now, SECRET),
            Ok("ASIAQAAAAAAAAEXAMPLE".to_owned()),
            "{service}"
        );

        // Any change to a signed part, or the wrong secret, fails.
        let mut tampered = received;
        if let Some(last) = tampered.body.last_mut() {
            *last ^= 0x01;
        }
        assert!(matches!(
            verify(&tampered, service, "eu-west-1", now, SECRET),
            Err(SigV4Error::SignatureDoesNotMatch { .. })
        ));
        if let Some(last) = tampered.body.last_mut() {
            *last ^= 0x01;
        }
        assert!(verify(&tampered, service, "eu-west-1", now, "not-the-secret").is_err());
        for (name, value) in &mut tampered.headers {
            if name == "x-amz-security-token" {
                value.push(b'A');
            }
        }
        assert!(verify(&tampered, service, "eu-west-1", now, SECRET).is_err());
    }
}

#[tokio::test]
async fn long_term_credentials_sign_without_a_token_and_the_scope_names_the_region() {
    let now = Timestamp::from_unix_seconds(1_790_000_000);
    let endpoint =
        Endpoint::new("http://127.0.0.1:9000", "ap-southeast-2").unwrap_or_else(|e| panic!("{e}"));
    let credentials = Credentials {
        access_key_id: "AKIAQAAAAAAAAEXAMPLE".into(),
        secret_access_key: Zeroizing::new(SECRET.into()),
        session_token: None,
    };
    let body = form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let request =
        signed_request(&endpoint, "sts", &credentials, body, now).unwrap_or_else(|e| panic!("{e}"));
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAQAAAAAAAAEXAMPLE/20260921/ap-southeast-2/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
        ),
        "{authorization}"
    );
    assert!(request.headers().get("x-amz-security-token").is_none());
    let received = receive(request).await;
    assert!(verify(&received, "sts", "ap-southeast-2", now, SECRET).is_ok());
    // Another region's node refuses the scope.
    assert!(verify(&received, "sts", "us-east-1", now, SECRET).is_err());
    // Outside the 15-minute window the signature is refused.
    assert!(
        verify(
            &received,
            "sts",
            "ap-southeast-2",
            now.plus_seconds(16 * 60),
            SECRET
        )
        .is_err()
    );
}

#[test]
fn answers_are_classified_by_aws_error_code() {
    let ok = b"<AssumeRoleResponse><AssumeRoleResult><Credentials/></AssumeRoleResult></AssumeRoleResponse>";
    let throttled = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
    let cases: [(u16, &[u8], Outcome); 5] = [
        (200, ok, Outcome::Ok),
        (200, b"<Other/>", Outcome::error("unexpected-answer")),
        (400, throttled, Outcome::error("Throttling")),
        (503, b"", Outcome::error("http-503")),
        (400, b"<Code><script></Code>", Outcome::error("http-400")),
    ];
    for (status, body, expected) in cases {
        let status = http::StatusCode::from_u16(status).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(classify(status, body, b"<AssumeRoleResult>"), expected);
    }
}

#[test]
fn credentials_are_read_from_an_sts_answer_with_entities_resolved() {
    let body = br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <AssumeRoleResult><Credentials>
        <AccessKeyId>ASIAQAAAAAAAAEXAMPLE</AccessKeyId>
        <SecretAccessKey>abc&amp;def&#x2F;g</SecretAccessKey>
        <SessionToken>tok+en/==</SessionToken>
        <Expiration>2026-11-26T12:00:00Z</Expiration>
      </Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
    let credentials = credentials_in(body).unwrap_or_else(|| panic!("no credentials"));
    assert_eq!(credentials.access_key_id, "ASIAQAAAAAAAAEXAMPLE");
    assert_eq!(credentials.secret_access_key.as_str(), "abc&def/g");
    assert_eq!(
        credentials.session_token.as_ref().map(|t| t.as_str()),
        Some("tok+en/==")
    );
    assert!(!format!("{credentials:?}").contains("abc"));
    assert_eq!(xml_text(body, "Missing"), None);
}
