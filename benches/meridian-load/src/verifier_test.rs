//! The Verifier requests the tool builds verify with Meridian's own SigV4
//! verifier under the policy the Verifier uses for a resource service (and
//! stop verifying when a signed part changes); answers and failures are
//! classified by decision and by the Verifier's error code.

use meridian_core::sigv4::error::SigV4Error;
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::verifier::Verifier;
use zeroize::Zeroizing;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLE+token/value==";

fn session() -> Credentials {
    Credentials {
        access_key_id: "ASIAQAAAAAAAAEXAMPLE".into(),
        secret_access_key: Zeroizing::new(SECRET.into()),
        session_token: Some(Zeroizing::new(TOKEN.into())),
    }
}

/// Verifies `signed` as the Verifier does for `widgets` in `region`.
fn verify(
    signed: &pb::SignedHttpRequest,
    region: &str,
    now: Timestamp,
    secret: &str,
) -> Result<(String, Option<String>), SigV4Error> {
    let headers: Vec<(&str, &[u8])> = signed
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_slice()))
        .collect();
    let body = match &signed.payload {
        Some(pb::signed_http_request::Payload::Body(body)) => body.as_slice(),
        _ => panic!("the body is sent inline"),
    };
    let request = SigRequest {
        method: &signed.method,
        path: &signed.path,
        query: &signed.query,
        headers: &headers,
        payload: Payload::Body(body),
    };
    let verifier = Verifier::new(VerifierPolicy::for_resource_service(SERVICE, &[region]));
    let parsed = verifier.parse(&request, SERVICE, now)?;
    let token = parsed
        .session_token()
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    let authenticated = verifier.verify(parsed, &request, secret.as_bytes())?;
    assert_eq!(authenticated.scope().service(), SERVICE);
    assert_eq!(authenticated.scope().region(), region);
    Ok((authenticated.access_key_id().to_owned(), token))
}

#[test]
fn widget_requests_verify_as_the_verifier_checks_them() {
    let now = Timestamp::from_unix_seconds(1_790_000_000);
    for (seq, region) in [
        (0, "us-east-1"),
        (1234, "eu-west-1"),
        (999, "ap-southeast-2"),
    ] {
        let request =
            authenticate_request(region, &session(), seq, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.service, "widgets");
        assert_eq!(request.region, region);
        let signed = request.request.unwrap_or_else(|| panic!("no request"));
        assert_eq!(signed.method, "GET");
        assert_eq!(signed.path, format!("/widgets/w-{}", seq % 1000));
        let names: Vec<&str> = signed.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "x-amz-date",
                "x-amz-security-token",
                "authorization"
            ]
        );
        assert_eq!(
            verify(&signed, region, now, SECRET),
            Ok(("ASIAQAAAAAAAAEXAMPLE".to_owned(), Some(TOKEN.to_owned())))
        );

        // The wrong secret, another region or service in the policy, or a
        // changed path, host or token: refused.
        assert!(matches!(
            verify(&signed, region, now, "not-the-secret"),
            Err(SigV4Error::SignatureDoesNotMatch { .. })
        ));
        assert!(verify(&signed, "us-west-2", now, SECRET).is_err());
        let mut path = signed.clone();
        path.path.push('x');
        assert!(verify(&path, region, now, SECRET).is_err());
        for name in ["host", "x-amz-security-token"] {
            let mut changed = signed.clone();
            for header in &mut changed.headers {
                if header.name == name {
                    header.value.push(b'A');
                }
            }
            assert!(verify(&changed, region, now, SECRET).is_err(), "{name}");
        }
    }
}

#[test]
fn long_term_keys_sign_without_a_token() {
    let now = Timestamp::from_unix_seconds(1_790_000_000);
    let user = Credentials {
        access_key_id: "AKIAQAAAAAAAAEXAMPLE".into(),
        secret_access_key: Zeroizing::new(SECRET.into()),
        session_token: None,
    };
    let signed =
        signed_widget_request("eu-west-1", &user, 7, now).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !signed
            .headers
            .iter()
            .any(|h| h.name == "x-amz-security-token")
    );
    assert_eq!(
        verify(&signed, "eu-west-1", now, SECRET),
        Ok(("AKIAQAAAAAAAAEXAMPLE".to_owned(), None))
    );
}

#[test]
fn authorize_requests_name_the_widget_of_the_node_s_region() {
    let now = Timestamp::from_unix_seconds(1_790_000_000);
    let request =
        authenticate_and_authorize_request("eu-west-1", "123456789012", &session(), 1042, now)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(request.action, "widgets:GetWidget");
    assert_eq!(
        request.resource,
        "arn:aws:widgets:eu-west-1:123456789012:widget/w-42"
    );
    assert!(request.context.is_empty());
    let inner = request
        .authenticate
        .unwrap_or_else(|| panic!("no authenticate"));
    assert_eq!(inner.region, "eu-west-1");
    assert_eq!(
        inner.request.map(|r| r.path),
        Some("/widgets/w-42".to_owned())
    );
}

#[test]
fn answers_are_classified_by_decision_and_error_code() {
    let context = pb::SessionContext {
        arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
        ..Default::default()
    };
    let authenticated = pb::AuthenticateResponse {
        context: Some(context),
        ..Default::default()
    };
    assert_eq!(classify_authenticate(&authenticated), Outcome::Ok);
    assert_eq!(
        classify_authenticate(&pb::AuthenticateResponse::default()),
        Outcome::error("unexpected-answer")
    );
    let decided = |decision: pb::Decision| pb::AuthenticateAndAuthorizeResponse {
        authentication: Some(authenticated.clone()),
        authorization: Some(pb::AuthorizeResponse {
            decision: decision as i32,
            ..Default::default()
        }),
    };
    assert_eq!(
        classify_authorize(&decided(pb::Decision::Allow)),
        Outcome::Ok
    );
    assert_eq!(
        classify_authorize(&decided(pb::Decision::Deny)),
        Outcome::error("Deny")
    );
    assert_eq!(
        classify_authorize(&decided(pb::Decision::Unspecified)),
        Outcome::error("unexpected-answer")
    );
    let mut unauthenticated = decided(pb::Decision::Allow);
    unauthenticated.authentication = None;
    assert_eq!(
        classify_authorize(&unauthenticated),
        Outcome::error("unexpected-answer")
    );

    let details = pb::VerifierError {
        code: "SignatureDoesNotMatch".into(),
        message: "The request signature we calculated does not match".into(),
        grpc_code: tonic::Code::Unauthenticated as i32,
    }
    .encode_to_vec();
    let status =
        tonic::Status::with_details(tonic::Code::Unauthenticated, "signature", details.into());
    assert_eq!(
        classify_status(&status),
        Outcome::error("SignatureDoesNotMatch")
    );
    assert_eq!(
        classify_status(&tonic::Status::unavailable("down")),
        Outcome::error("grpc-unavailable")
    );
}
