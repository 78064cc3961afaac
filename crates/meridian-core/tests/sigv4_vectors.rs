//! Conformance vectors for SigV4.
//!
//! * Every vector of the AWS SigV4 signing test suite (`aws-signing-test-suite/v4`,
//!   40 cases, copied from the `aws-sigv4` crate with its Apache-2.0 notice):
//!   our signer must reproduce the canonical request, string to sign and
//!   signature of both the header and the presigned variant, and our verifier
//!   must accept both signed requests.
//! * Every fixture produced by botocore (`botocore_fixtures.json`, written by
//!   `generate_botocore.py` with a pinned botocore): STS/IAM form POSTs with and
//!   without session tokens, presigned `GetCallerIdentity` (signed by botocore
//!   as POST) and an EKS-style GET presign with `x-k8s-aws-id`. The verifier
//!   must accept each, and its canonical request and string to sign must equal
//!   botocore's.

mod sigv4_common;

use std::fs;

use meridian_core::sigv4::error::SigV4Error;
use meridian_core::sigv4::policy::{PresignedToken, ServiceRule, UriEncoding, VerifierPolicy};
use meridian_core::sigv4::signer::{
    self, PayloadSigning, SigningOptions, SigningParams, TokenPlacement,
};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use serde_json::Value;
use sigv4_common::{OwnedRequest, amz, data_path};

/// The suite's settings for one vector.
#[derive(Debug, Clone)]
struct Context {
    access_key_id: String,
    secret: String,
    token: Option<String>,
    region: String,
    service: String,
    time: Timestamp,
    expires: u32,
    normalize: bool,
    sign_body: bool,
    omit_session_token: bool,
}

fn read(vector: &str, file: &str) -> Option<String> {
    fs::read_to_string(data_path(&format!(
        "aws-signing-test-suite/v4/{vector}/{file}"
    )))
    .ok()
}

fn context(vector: &str) -> Context {
    match vector {
        // The two vectors smithy-rs added have no context file; their settings
        // are those of the aws-sigv4 tests that use them.
        "double-encode-path" => Context {
            access_key_id: String::from("ANOTREAL"),
            secret: String::from("notrealrnrELgWzOk3IfjzDKtFBhDby"),
            token: None,
            region: String::from("us-east-1"),
            service: String::from("service"),
            time: amz("20210511T154045Z"),
            expires: 3600,
            normalize: true,
            sign_body: false,
            omit_session_token: false,
        },
        "double-url-encode" => Context {
            access_key_id: String::from(sigv4_common::EXAMPLE_ACCESS_KEY_ID),
            secret: String::from(sigv4_common::EXAMPLE_SECRET),
            token: None,
            region: String::from("us-east-2"),
            service: String::from("lambda"),
            time: amz("20210511T154045Z"),
            expires: 3600,
            normalize: true,
            sign_body: false,
            omit_session_token: false,
        },
        _ => {
            let raw = read(vector, "context.json").expect("context.json");
            let json: Value = serde_json::from_str(&raw).expect("context json");
            let credentials = &json["credentials"];
            Context {
                access_key_id: credentials["access_key_id"].as_str().unwrap().to_owned(),
                secret: credentials["secret_access_key"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                token: credentials["token"].as_str().map(str::to_owned),
                region: json["region"].as_str().unwrap().to_owned(),
                service: json["service"].as_str().unwrap().to_owned(),
                time: Timestamp::parse_rfc3339(json["timestamp"].as_str().unwrap()).unwrap(),
                expires: u32::try_from(json["expiration_in_seconds"].as_u64().unwrap()).unwrap(),
                normalize: json["normalize"].as_bool().unwrap(),
                sign_body: json["sign_body"].as_bool().unwrap(),
                omit_session_token: json["omit_session_token"].as_bool().unwrap_or(false),
            }
        }
    }
}

/// `get-space-normalized` sends the already-encoded path `/example%20space/`
/// and expects it encoded once: it describes S3-style single encoding (the
/// aws-sigv4 crate skips it for this reason). Every other vector is the
/// non-S3 double encoding.
fn uri_encoding(vector: &str) -> UriEncoding {
    if vector == "get-space-normalized" {
        UriEncoding::Single
    } else {
        UriEncoding::Double
    }
}

fn options(vector: &str, context: &Context) -> SigningOptions {
    SigningOptions {
        uri_encoding: uri_encoding(vector),
        normalize_path: context.normalize,
        token: if context.omit_session_token {
            TokenPlacement::AddedAfterSigning
        } else {
            TokenPlacement::Signed
        },
        payload: if context.sign_body {
            PayloadSigning::HashWithHeader
        } else {
            PayloadSigning::Hash
        },
    }
}

fn policy(vector: &str, context: &Context, presigned_token: PresignedToken) -> VerifierPolicy {
    let mut rule = ServiceRule::new(&context.service, &[&context.region]);
    rule.uri_encoding = uri_encoding(vector);
    rule.normalize_path = context.normalize;
    rule.presigned_token = presigned_token;
    let mut policy = VerifierPolicy::new(vec![rule]);
    // The suite's presigned URLs live for an hour from a 2015 timestamp.
    policy.max_presigned_expires_seconds = context.expires;
    policy
}

fn suite_vectors() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(data_path("aws-signing-test-suite/v4"))
        .expect("suite directory")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Signs the vector's request with our signer; checks canonical request,
/// string to sign and signature against the suite's files.
fn check_header_signing(vector: &str, context: &Context) {
    let raw = read(vector, "request.txt").unwrap();
    let request = OwnedRequest::parse_http(raw.as_bytes());
    let params = SigningParams {
        access_key_id: &context.access_key_id,
        secret_access_key: context.secret.as_bytes(),
        session_token: context.token.as_deref(),
        region: &context.region,
        service: &context.service,
        time: context.time,
        options: options(vector, context),
    };
    let signed = request
        .with_view(|view| signer::sign_headers(view, &params))
        .unwrap_or_else(|error| panic!("{vector}: {error}"));
    let expected_canonical = read(vector, "header-canonical-request.txt").unwrap();
    assert_eq!(
        signed.canonical_request,
        expected_canonical.trim_end_matches('\n'),
        "{vector}: header canonical request"
    );
    if let Some(expected) = read(vector, "header-string-to-sign.txt") {
        assert_eq!(
            signed.string_to_sign,
            expected.trim_end_matches('\n'),
            "{vector}: header string to sign"
        );
    }
    if let Some(expected) = read(vector, "header-signature.txt") {
        assert_eq!(
            signed.signature,
            expected.trim(),
            "{vector}: header signature"
        );
    }
}

fn check_presigning(vector: &str, context: &Context) {
    let Some(expected_canonical) = read(vector, "query-canonical-request.txt") else {
        return;
    };
    let raw = read(vector, "request.txt").unwrap();
    let request = OwnedRequest::parse_http(raw.as_bytes());
    let params = SigningParams {
        access_key_id: &context.access_key_id,
        secret_access_key: context.secret.as_bytes(),
        session_token: context.token.as_deref(),
        region: &context.region,
        service: &context.service,
        time: context.time,
        options: options(vector, context),
    };
    let presigned = request
        .with_view(|view| signer::presign(view, &params, context.expires))
        .unwrap_or_else(|error| panic!("{vector}: {error}"));
    assert_eq!(
        presigned.canonical_request, expected_canonical,
        "{vector}: query canonical request"
    );
    assert_eq!(
        presigned.string_to_sign,
        read(vector, "query-string-to-sign.txt").unwrap(),
        "{vector}: query string to sign"
    );
    assert_eq!(
        presigned.signature,
        read(vector, "query-signature.txt").unwrap().trim(),
        "{vector}: query signature"
    );
}

/// Verifies the suite's signed request file with our verifier.
fn check_verification(vector: &str, context: &Context, file: &str, now: Timestamp) -> usize {
    let Some(raw) = read(vector, file) else {
        return 0;
    };
    let request = OwnedRequest::parse_http(raw.as_bytes());
    let presigned = file.starts_with("query");
    let token_mode = if presigned && context.omit_session_token {
        PresignedToken::Unsigned
    } else {
        PresignedToken::Signed
    };
    let verifier = Verifier::new(policy(vector, context, token_mode));
    request.with_view(|view| {
        let parsed = verifier
            .parse(view, &context.service, now)
            .unwrap_or_else(|error| panic!("{vector}/{file}: parse: {}", error.message()));
        assert_eq!(
            parsed.access_key_id(),
            context.access_key_id,
            "{vector}/{file}"
        );
        let authenticated = verifier
            .verify(parsed, view, context.secret.as_bytes())
            .unwrap_or_else(|error| panic!("{vector}/{file}: verify: {}", error.message()));
        assert_eq!(
            authenticated
                .session_token()
                .map(|token| token.as_bytes().to_vec()),
            context
                .token
                .as_ref()
                .map(|token| token.as_bytes().to_vec()),
            "{vector}/{file}: session token"
        );
        // The same request with a wrong secret must fail.
        let parsed = verifier.parse(view, &context.service, now).unwrap();
        let error = verifier
            .verify(parsed, view, b"not the secret")
            .unwrap_err();
        assert!(
            matches!(error, SigV4Error::SignatureDoesNotMatch { .. }),
            "{vector}/{file}: {error:?}"
        );
    });
    if presigned && context.omit_session_token && context.token.is_some() {
        // The token was appended after signing: a verifier that requires signed
        // presigned tokens (every STS client signs them) must reject it.
        let strict = Verifier::new(policy(vector, context, PresignedToken::Signed));
        request.with_view(|view| {
            let parsed = strict.parse(view, &context.service, now).unwrap();
            let error = strict
                .verify(parsed, view, context.secret.as_bytes())
                .unwrap_err();
            assert!(
                matches!(error, SigV4Error::SignatureDoesNotMatch { .. }),
                "{vector}: {error:?}"
            );
        });
    }
    1
}

#[test]
fn aws_signing_test_suite_v4() {
    let vectors = suite_vectors();
    assert_eq!(vectors.len(), 40, "the suite has 40 vectors: {vectors:?}");
    let mut verified = 0;
    for vector in &vectors {
        let context = context(vector);
        check_header_signing(vector, &context);
        check_presigning(vector, &context);
        // The two smithy-rs vectors were signed at another instant than the
        // one their canonical request shows; verify at the signed request's date.
        let header_now = match vector.as_str() {
            "double-encode-path" => amz("20150830T123600Z"),
            _ => context.time,
        };
        verified += check_verification(vector, &context, "header-signed-request.txt", header_now);
        verified += check_verification(vector, &context, "query-signed-request.txt", context.time);
    }
    // 40 header-signed requests and 38 presigned ones (the two smithy-rs vectors have none).
    assert_eq!(verified, 78);
}

#[test]
fn get_space_normalized_differs_under_double_encoding() {
    // The non-S3 rule encodes the received `%20` again, as botocore does.
    let context = context("get-space-normalized");
    let raw = read("get-space-normalized", "request.txt").unwrap();
    let request = OwnedRequest::parse_http(raw.as_bytes());
    let mut options = options("get-space-normalized", &context);
    options.uri_encoding = UriEncoding::Double;
    let params = SigningParams {
        access_key_id: &context.access_key_id,
        secret_access_key: context.secret.as_bytes(),
        session_token: None,
        region: &context.region,
        service: &context.service,
        time: context.time,
        options,
    };
    let signed = request
        .with_view(|view| signer::sign_headers(view, &params))
        .unwrap();
    assert!(
        signed
            .canonical_request
            .starts_with("GET\n/example%2520space/\n"),
        "{}",
        signed.canonical_request
    );
}

// ---------------------------------------------------------------------------
// botocore fixtures

fn fixtures() -> Vec<Value> {
    let raw = fs::read_to_string(data_path("botocore_fixtures.json")).expect("fixtures");
    let json: Value = serde_json::from_str(&raw).expect("fixture json");
    assert_eq!(json["botocore_version"], "1.44.8");
    json["fixtures"].as_array().expect("fixtures array").clone()
}

fn fixture_request(fixture: &Value) -> OwnedRequest {
    let mut request = OwnedRequest::new(
        fixture["method"].as_str().unwrap(),
        fixture["path"].as_str().unwrap(),
        fixture["query"].as_str().unwrap(),
    );
    for header in fixture["headers"].as_array().unwrap() {
        request.add_header(header[0].as_str().unwrap(), header[1].as_str().unwrap());
    }
    request.body = fixture["body"].as_str().unwrap().as_bytes().to_vec();
    request
}

/// botocore's canonical request with the session token redacted the way our
/// error message redacts it.
fn redact(canonical: &str, token: Option<&str>) -> String {
    let Some(token) = token else {
        return canonical.to_owned();
    };
    let encoded: String = percent_encode(token);
    canonical
        .replace(
            &format!("X-Amz-Security-Token={encoded}"),
            "X-Amz-Security-Token=<redacted>",
        )
        .replace(
            &format!("x-amz-security-token:{token}"),
            "x-amz-security-token:<redacted>",
        )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[test]
fn botocore_fixtures_verify_and_match_botocore_canonical_strings() {
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 9);
    for fixture in &fixtures {
        let name = fixture["name"].as_str().unwrap();
        let request = fixture_request(fixture);
        let region = fixture["region"].as_str().unwrap();
        let service = fixture["service"].as_str().unwrap();
        let secret = fixture["secret_access_key"].as_str().unwrap();
        let token = fixture["session_token"].as_str();
        let now = Timestamp::from_unix_seconds(fixture["now_unix"].as_i64().unwrap());
        // A node in the fixture's region (IAM fixtures signed with us-east-1
        // are accepted by any node).
        let verifier = Verifier::new(VerifierPolicy::for_node(if service == "iam" {
            "eu-west-1"
        } else {
            region
        }));
        request.with_view(|view| {
            let parsed = verifier
                .parse(view, service, now)
                .unwrap_or_else(|error| panic!("{name}: parse: {}", error.message()));
            assert_eq!(
                parsed.access_key_id(),
                fixture["access_key_id"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(parsed.scope().region(), region, "{name}");
            assert_eq!(
                parsed.session_token().and_then(|token| token.as_str()),
                token,
                "{name}: session token"
            );
            // A wrong secret exposes our canonical strings through the error.
            let error = verifier.verify(parsed, view, b"wrong secret").unwrap_err();
            let SigV4Error::SignatureDoesNotMatch {
                canonical_request,
                string_to_sign,
            } = &error
            else {
                panic!("{name}: {error:?}");
            };
            assert_eq!(
                *canonical_request,
                redact(fixture["canonical_request"].as_str().unwrap(), token),
                "{name}: canonical request"
            );
            assert_eq!(
                string_to_sign,
                fixture["string_to_sign"].as_str().unwrap(),
                "{name}: string to sign"
            );
            assert!(
                error.message().contains(string_to_sign.as_str()),
                "{name}: the message shows the string to sign"
            );
            if let Some(token) = token {
                assert!(
                    !error.message().contains(token),
                    "{name}: the message must not show the token"
                );
            }
            let parsed = verifier.parse(view, service, now).unwrap();
            let authenticated = verifier
                .verify(parsed, view, secret.as_bytes())
                .unwrap_or_else(|error| panic!("{name}: verify: {}", error.message()));
            assert_eq!(authenticated.scope().service(), service);
        });
    }
}

#[test]
fn botocore_presigned_post_url_fails_when_sent_as_get() {
    let fixture = fixtures()
        .into_iter()
        .find(|fixture| fixture["name"] == "sts-presigned-get-caller-identity-post")
        .unwrap();
    let mut request = fixture_request(&fixture);
    assert_eq!(request.method, "POST");
    request.method = String::from("GET");
    let now = Timestamp::from_unix_seconds(fixture["now_unix"].as_i64().unwrap());
    let verifier = Verifier::new(VerifierPolicy::for_node("eu-west-1"));
    request.with_view(|view| {
        let parsed = verifier.parse(view, "sts", now).unwrap();
        let error = verifier
            .verify(parsed, view, fixture["secret_access_key"].as_str().unwrap().as_bytes())
            .unwrap_err();
        assert_eq!(error.code(), "SignatureDoesNotMatch");
        assert!(
            error.message().contains("should have been\n'GET\n/\nAction=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
            "{}",
            error.message()
        );
    });
}

#[test]
fn eks_token_signs_the_cluster_id_header() {
    let fixture = fixtures()
        .into_iter()
        .find(|fixture| fixture["name"] == "sts-presigned-eks-get-token")
        .unwrap();
    let now = Timestamp::from_unix_seconds(fixture["now_unix"].as_i64().unwrap());
    let secret = fixture["secret_access_key"].as_str().unwrap().as_bytes();
    let verifier = Verifier::new(VerifierPolicy::for_node("us-west-2"));
    let mut request = fixture_request(&fixture);
    request.set_header("x-k8s-aws-id", "other-cluster");
    request.with_view(|view| {
        let parsed = verifier.parse(view, "sts", now).unwrap();
        assert!(verifier.verify(parsed, view, secret).is_err());
    });
    // EKS URLs last 60 s: at +61 s the URL has expired.
    let request = fixture_request(&fixture);
    request.with_view(|view| {
        let error = verifier
            .parse(view, "sts", now.plus_seconds(61))
            .unwrap_err();
        assert_eq!(error.code(), "RequestExpired");
        assert!(verifier.parse(view, "sts", now.plus_seconds(60)).is_ok());
    });
}
