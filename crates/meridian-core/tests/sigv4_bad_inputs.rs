//! Bad inputs for SigV4 (RELIABILITY.md b.3, SigV4 rows): each row builds a
//! bad request from a valid one and checks the exact AWS error code, HTTP
//! status and message. Also: boundaries of the clock window and of presigned
//! expiry, duplicate and non-UTF-8 headers, oversized inputs (an error, never
//! a panic), payload-hash rules, session-token placement and the `Date`
//! header fallback.

mod sigv4_common;

use meridian_core::sigv4::canonical::{self, CanonicalInput, QueryExclusions};
use meridian_core::sigv4::error::{SIGNATURE_MISMATCH_MESSAGE, SigV4Error};
use meridian_core::sigv4::parse::TokenSource;
use meridian_core::sigv4::policy::{ServiceRule, UriEncoding, VerifierPolicy};
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{
    self, PayloadSigning, SigningOptions, SigningParams, TokenPlacement,
};
use meridian_core::sigv4::signing_key::SigningKey;
use meridian_core::sigv4::verifier::{Authenticated, Verifier};
use meridian_core::time::Timestamp;
use sigv4_common::OwnedRequest;

const ACCESS_KEY_ID: &str = "ASIAQNZGKIQY56JQ7WML";
const SECRET: &str = "nY+2yIVy4TMGm2C5jbQCLwAMW8mgl4gP2bLx1y2R";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token+value==";
/// 2026-11-26T02:14:57Z.
const SIGNED_AT: i64 = 1_795_659_297;
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn signed_at() -> Timestamp {
    Timestamp::from_unix_seconds(SIGNED_AT)
}

fn params<'a>(service: &'a str, region: &'a str, options: SigningOptions) -> SigningParams<'a> {
    SigningParams {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET.as_bytes(),
        session_token: Some(TOKEN),
        region,
        service,
        time: signed_at(),
        options,
    }
}

fn unsigned_post() -> OwnedRequest {
    let mut request = OwnedRequest::new("POST", "/", "");
    request.add_header("Host", "sts.eu-west-1.amazonaws.com");
    request.add_header(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    request.body = BODY.to_vec();
    request
}

fn sign(mut request: OwnedRequest, params: &SigningParams<'_>) -> OwnedRequest {
    let signature = request
        .with_view(|view| signer::sign_headers(view, params))
        .unwrap();
    for (name, value) in signature.headers() {
        request.add_header(name, value);
    }
    request
}

/// A valid botocore-shaped STS POST with a session token.
fn base() -> OwnedRequest {
    sign(
        unsigned_post(),
        &params("sts", "eu-west-1", SigningOptions::standard()),
    )
}

/// A valid presigned GetCallerIdentity GET, valid for `expires` seconds.
fn presigned(expires: u32) -> OwnedRequest {
    let mut request = OwnedRequest::new("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15");
    request.add_header("Host", "sts.eu-west-1.amazonaws.com");
    let presigned = request
        .with_view(|view| {
            signer::presign(
                view,
                &params("sts", "eu-west-1", SigningOptions::standard()),
                expires,
            )
        })
        .unwrap();
    request.query = presigned.query;
    request
}

fn node() -> Verifier {
    Verifier::new(VerifierPolicy::for_node("eu-west-1"))
}

fn run(
    verifier: &Verifier,
    request: &OwnedRequest,
    service: &str,
    now: Timestamp,
) -> Result<Authenticated, SigV4Error> {
    request.with_view(|view| {
        verifier
            .parse(view, service, now)
            .and_then(|parsed| verifier.verify(parsed, view, SECRET.as_bytes()))
    })
}

fn authorization(request: &OwnedRequest) -> String {
    request.header("authorization").unwrap()
}

fn with_authorization(request: &OwnedRequest, value: &str) -> OwnedRequest {
    let mut changed = request.clone();
    changed.set_header("Authorization", value);
    changed
}

/// What a row expects.
enum Expect {
    /// Accepted.
    Ok,
    /// Rejected with exactly this code, status and message.
    Exact(&'static str, u16, String),
    /// Rejected with this code and status, the message starting with this.
    Prefix(&'static str, u16, String),
}

fn check(name: &str, outcome: Result<Authenticated, SigV4Error>, expect: Expect) {
    match (outcome, expect) {
        (Ok(_), Expect::Ok) => {}
        (Err(error), Expect::Ok) => {
            panic!("{name}: rejected: {} {}", error.code(), error.message())
        }
        (Ok(_), _) => panic!("{name}: accepted"),
        (Err(error), Expect::Exact(code, status, message)) => {
            assert_eq!(
                (error.code(), error.http_status(), error.message()),
                (code, status, message),
                "{name}"
            );
        }
        (Err(error), Expect::Prefix(code, status, prefix)) => {
            assert_eq!(
                (error.code(), error.http_status()),
                (code, status),
                "{name}"
            );
            assert!(
                error.message().starts_with(&prefix),
                "{name}: {:?} does not start with {prefix:?}",
                error.message()
            );
        }
    }
}

fn exact(code: &'static str, status: u16, message: &str) -> Expect {
    Expect::Exact(code, status, message.to_owned())
}

fn mismatch() -> Expect {
    Expect::Prefix(
        "SignatureDoesNotMatch",
        403,
        format!(
            "{SIGNATURE_MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"
        ),
    )
}

#[test]
fn the_base_requests_verify() {
    let verifier = node();
    let authenticated = run(&verifier, &base(), "sts", signed_at()).unwrap();
    assert_eq!(authenticated.access_key_id(), ACCESS_KEY_ID);
    assert_eq!(
        authenticated.scope().to_string(),
        "20261126/eu-west-1/sts/aws4_request"
    );
    let token = authenticated.session_token().unwrap();
    assert_eq!(token.as_str(), Some(TOKEN));
    assert_eq!(token.source(), TokenSource::SignedHeader);
    let authenticated = run(&verifier, &presigned(900), "sts", signed_at()).unwrap();
    assert_eq!(
        authenticated.session_token().unwrap().source(),
        TokenSource::Query
    );
}

#[test]
fn signatures_of_the_wrong_length_or_value() {
    let verifier = node();
    let base = base();
    let auth = authorization(&base);
    let signature = auth.rsplit_once("Signature=").unwrap().1.to_owned();
    let rows = [
        ("63 hex digits", signature[..63].to_owned()),
        ("65 hex digits", format!("{signature}0")),
        ("empty", String::new()),
        ("upper case", signature.to_ascii_uppercase()),
        (
            "first byte",
            format!(
                "{}{}",
                if signature.starts_with('0') { "1" } else { "0" },
                &signature[1..]
            ),
        ),
        (
            "last byte",
            format!(
                "{}{}",
                &signature[..63],
                if signature.ends_with('0') { "1" } else { "0" }
            ),
        ),
    ];
    for (name, bad) in rows {
        let request = with_authorization(&base, &auth.replace(&signature, &bad));
        check(
            name,
            run(&verifier, &request, "sts", signed_at()),
            mismatch(),
        );
    }
}

#[test]
fn the_clock_window_and_its_exact_messages() {
    let verifier = node();
    let base = base();
    let rows = [
        ("at the instant", 0, Expect::Ok),
        ("15 min later", 900, Expect::Ok),
        ("15 min earlier", -900, Expect::Ok),
        (
            "16 min later",
            960,
            exact(
                "SignatureDoesNotMatch",
                403,
                "Signature expired: 20261126T021457Z is now earlier than 20261126T021557Z (20261126T023057Z - 15 min.)",
            ),
        ),
        (
            "15 min 1 s later",
            901,
            exact(
                "SignatureDoesNotMatch",
                403,
                "Signature expired: 20261126T021457Z is now earlier than 20261126T021458Z (20261126T022958Z - 15 min.)",
            ),
        ),
        (
            "16 min earlier",
            -960,
            exact(
                "SignatureDoesNotMatch",
                403,
                "Signature not yet current: 20261126T021457Z is still later than 20261126T021357Z (20261126T015857Z + 15 min.)",
            ),
        ),
    ];
    for (name, offset, expect) in rows {
        check(
            name,
            run(&verifier, &base, "sts", signed_at().plus_seconds(offset)),
            expect,
        );
    }
    // The window is configurable (RELIABILITY.md a.7 leaves 5 vs 15 open).
    let mut policy = VerifierPolicy::for_node("eu-west-1");
    policy.clock_window_minutes = 5;
    let five = Verifier::new(policy);
    check(
        "5-min window, 5 min later",
        run(&five, &base, "sts", signed_at().plus_seconds(300)),
        Expect::Ok,
    );
    check(
        "5-min window, 6 min later",
        run(&five, &base, "sts", signed_at().plus_seconds(360)),
        exact(
            "SignatureDoesNotMatch",
            403,
            "Signature expired: 20261126T021457Z is now earlier than 20261126T021557Z (20261126T022057Z - 5 min.)",
        ),
    );
}

#[test]
fn credential_scope_faults() {
    let verifier = node();
    let base = base();
    let auth = authorization(&base);
    let scope = "/20261126/eu-west-1/sts/aws4_request";
    let rows = [
        (
            "scope date differs from request date",
            "/20261125/eu-west-1/sts/aws4_request",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261125' != '20261126', from '20261126T021457Z'. ",
        ),
        (
            "region not served",
            "/20261126/us-west-1/sts/aws4_request",
            "Credential should be scoped to a valid region, not 'us-west-1'. ",
        ),
        (
            "sts in us-east-1 at an eu-west-1 node",
            "/20261126/us-east-1/sts/aws4_request",
            "Credential should be scoped to a valid region, not 'us-east-1'. ",
        ),
        (
            "wrong service",
            "/20261126/eu-west-1/iam/aws4_request",
            "Credential should be scoped to correct service: 'sts'. ",
        ),
        (
            "wrong terminator",
            "/20261126/eu-west-1/sts/aws5_request",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            "everything wrong",
            "/20261125/us-west-1/iam/aws5_request",
            "Credential should be scoped to a valid region, not 'us-west-1'. Credential should be scoped to correct service: 'sts'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261125' != '20261126', from '20261126T021457Z'. ",
        ),
    ];
    for (name, bad_scope, message) in rows {
        let request = with_authorization(&base, &auth.replace(scope, bad_scope));
        check(
            name,
            run(&verifier, &request, "sts", signed_at()),
            exact("SignatureDoesNotMatch", 403, message),
        );
    }
    let four = auth.replace(scope, "/20261126/eu-west-1/sts");
    check(
        "four credential elements",
        run(
            &verifier,
            &with_authorization(&base, &four),
            "sts",
            signed_at(),
        ),
        exact(
            "IncompleteSignature",
            400,
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'ASIAQNZGKIQY56JQ7WML/20261126/eu-west-1/sts'",
        ),
    );
}

#[test]
fn signing_regions_of_a_node_and_a_resource_service() {
    let verifier = node();
    // IAM: the node's region and us-east-1 (DESIGN.md "Signing regions").
    for region in ["eu-west-1", "us-east-1"] {
        let mut request = unsigned_post();
        request.body = b"Action=ListRoles&Version=2010-05-08".to_vec();
        let request = sign(request, &params("iam", region, SigningOptions::standard()));
        check(
            region,
            run(&verifier, &request, "iam", signed_at()),
            Expect::Ok,
        );
    }
    let mut request = unsigned_post();
    request.body = b"Action=ListRoles&Version=2010-05-08".to_vec();
    let request = sign(
        request,
        &params("iam", "ap-south-1", SigningOptions::standard()),
    );
    check(
        "iam elsewhere",
        run(&verifier, &request, "iam", signed_at()),
        exact(
            "SignatureDoesNotMatch",
            403,
            "Credential should be scoped to a valid region, not 'ap-south-1'. ",
        ),
    );
    // A resource service accepts its own name, never sts.
    let orders = Verifier::new(VerifierPolicy::for_resource_service(
        "orders",
        &["eu-west-1"],
    ));
    check(
        "sts request at a resource service",
        run(&orders, &base(), "orders", signed_at()),
        exact(
            "SignatureDoesNotMatch",
            403,
            "Credential should be scoped to correct service: 'orders'. ",
        ),
    );
    let request = sign(
        unsigned_post(),
        &params("orders", "eu-west-1", SigningOptions::standard()),
    );
    check(
        "orders request",
        run(&orders, &request, "orders", signed_at()),
        Expect::Ok,
    );
    check(
        "orders request asked as sts",
        run(&orders, &request, "sts", signed_at()),
        exact(
            "SignatureDoesNotMatch",
            403,
            "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct service: 'sts'. ",
        ),
    );
}

#[test]
fn signed_headers_must_include_host_and_the_date() {
    let verifier = node();
    let base = base();
    let auth = authorization(&base);
    let listed = "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token";
    assert!(auth.contains(listed), "{auth}");
    check(
        "host not signed",
        run(
            &verifier,
            &with_authorization(
                &base,
                &auth.replace(
                    listed,
                    "SignedHeaders=content-type;x-amz-date;x-amz-security-token",
                ),
            ),
            "sts",
            signed_at(),
        ),
        exact(
            "SignatureDoesNotMatch",
            403,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    );
    check(
        "x-amz-date not signed",
        run(
            &verifier,
            &with_authorization(
                &base,
                &auth.replace(
                    listed,
                    "SignedHeaders=content-type;host;x-amz-security-token",
                ),
            ),
            "sts",
            signed_at(),
        ),
        exact(
            "SignatureDoesNotMatch",
            403,
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    );
    // A signed header the request lacks canonicalises empty: the signature fails.
    check(
        "signed header absent",
        run(
            &verifier,
            &with_authorization(
                &base,
                &auth.replace(
                    listed,
                    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-absent",
                ),
            ),
            "sts",
            signed_at(),
        ),
        mismatch(),
    );
}

#[test]
fn malformed_authorization_headers() {
    let verifier = node();
    let base = base();
    let auth = authorization(&base);
    let (before_signature, _) = auth.split_once(", Signature=").unwrap();
    let credential = "ASIAQNZGKIQY56JQ7WML/20261126/eu-west-1/sts/aws4_request";
    let spaced = auth.replace("Credential=", "Credential= ");
    let rows: Vec<(&str, String, Expect)> = vec![
        (
            "algorithm only",
            String::from("AWS4-HMAC-SHA256"),
            exact(
                "IncompleteSignature",
                400,
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256",
            ),
        ),
        (
            "no signature",
            before_signature.to_owned(),
            Expect::Exact(
                "IncompleteSignature",
                400,
                format!(
                    "Authorization header requires 'Signature' parameter. Authorization={before_signature}"
                ),
            ),
        ),
        (
            "no signed headers",
            auth.replace(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, ",
                "",
            ),
            Expect::Prefix(
                "IncompleteSignature",
                400,
                String::from(
                    "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=",
                ),
            ),
        ),
        (
            "space after Credential=",
            spaced.clone(),
            Expect::Exact(
                "IncompleteSignature",
                400,
                format!(
                    "'{credential}' not a valid key=value pair (missing equal-sign) in Authorization header: '{spaced}'."
                ),
            ),
        ),
        (
            "unsupported algorithm",
            auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            exact(
                "IncompleteSignature",
                400,
                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
            ),
        ),
        (
            "sigv4a",
            auth.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
            exact(
                "IncompleteSignature",
                400,
                "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'.",
            ),
        ),
        (
            "basic auth",
            String::from("Basic dXNlcjpwYXNz"),
            exact(
                "IncompleteSignature",
                400,
                "Unsupported AWS 'algorithm': 'Basic'.",
            ),
        ),
        (
            "lower-case algorithm",
            auth.replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256"),
            exact(
                "IncompleteSignature",
                400,
                "Unsupported AWS 'algorithm': 'aws4-hmac-sha256'.",
            ),
        ),
        (
            "extra whitespace and no spaces after commas",
            auth.replace(", ", ",")
                .replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256   "),
            Expect::Ok,
        ),
        (
            "unknown element ignored",
            format!("{auth}, Foo=bar"),
            Expect::Ok,
        ),
        (
            "last Credential wins",
            auth.replace(
                "Credential=",
                "Credential=AKIDOTHER/20261126/eu-west-1/sts/aws4_request, Credential=",
            ),
            Expect::Ok,
        ),
    ];
    for (name, value, expect) in rows {
        check(
            name,
            run(
                &verifier,
                &with_authorization(&base, &value),
                "sts",
                signed_at(),
            ),
            expect,
        );
    }
    let mut no_date = base.clone();
    no_date.remove_header("x-amz-date");
    check(
        "no date header",
        run(&verifier, &no_date, "sts", signed_at()),
        Expect::Exact(
            "IncompleteSignature",
            400,
            format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth}"
            ),
        ),
    );
    let mut bad_date = base.clone();
    bad_date.set_header("X-Amz-Date", "2026-11-26 02:14:57");
    check(
        "date not iso 8601",
        run(&verifier, &bad_date, "sts", signed_at()),
        exact(
            "IncompleteSignature",
            400,
            "Date must be in ISO-8601 'basic format'. Got '2026-11-26 02:14:57'. See http://en.wikipedia.org/wiki/ISO_8601",
        ),
    );
}

#[test]
fn authentication_forms() {
    let verifier = node();
    let mut both = base();
    both.query = String::from("X-Amz-Algorithm=AWS4-HMAC-SHA256");
    check(
        "both forms",
        run(&verifier, &both, "sts", signed_at()),
        Expect::Prefix("SignatureDoesNotMatch", 403, String::new()),
    );
    let mut neither = base();
    neither.remove_header("authorization");
    check(
        "neither form",
        run(&verifier, &neither, "sts", signed_at()),
        exact(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
    );
    let mut other_algorithm = presigned(900);
    other_algorithm.query = other_algorithm.query.replace(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Algorithm=AWS4-HMAC-SHA512",
    );
    check(
        "presigned with another algorithm",
        run(&verifier, &other_algorithm, "sts", signed_at()),
        exact(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
    );
    let mut bare = OwnedRequest::new(
        "GET",
        "/",
        "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256",
    );
    bare.add_header("Host", "sts.eu-west-1.amazonaws.com");
    check(
        "presigned with nothing else",
        run(&verifier, &bare, "sts", signed_at()),
        exact(
            "IncompleteSignature",
            400,
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
        ),
    );
    let mut no_signature = presigned(900);
    let (without, _) = no_signature.query.split_once("&X-Amz-Signature=").unwrap();
    no_signature.query = without.to_owned();
    check(
        "presigned without a signature",
        run(&verifier, &no_signature, "sts", signed_at()),
        exact(
            "IncompleteSignature",
            400,
            "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters.",
        ),
    );
}

#[test]
fn presigned_expiry() {
    let verifier = node();
    let rows = [
        ("900 s, at +900 s", presigned(900), 900, Expect::Ok),
        (
            "900 s, at +901 s",
            presigned(900),
            901,
            exact("RequestExpired", 400, "Request has expired."),
        ),
        (
            "60 s, at +61 s",
            presigned(60),
            61,
            exact("RequestExpired", 400, "Request has expired."),
        ),
        (
            "7 days, at +7 days",
            presigned(604_800),
            604_800,
            Expect::Ok,
        ),
        (
            "7 days + 1 s",
            presigned(604_801),
            0,
            exact(
                "AuthorizationQueryParametersError",
                400,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            ),
        ),
        (
            "16 min before the date",
            presigned(900),
            -960,
            exact(
                "SignatureDoesNotMatch",
                403,
                "Signature not yet current: 20261126T021457Z is still later than 20261126T021357Z (20261126T015857Z + 15 min.)",
            ),
        ),
    ];
    for (name, request, offset, expect) in rows {
        check(
            name,
            run(&verifier, &request, "sts", signed_at().plus_seconds(offset)),
            expect,
        );
    }
    for bad in ["abc", "-1", "", "1.5", "99999999999999999999"] {
        let mut request = presigned(900);
        request.query = request
            .query
            .replace("X-Amz-Expires=900", &format!("X-Amz-Expires={bad}"));
        let expect = if bad == "99999999999999999999" {
            exact(
                "AuthorizationQueryParametersError",
                400,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
        } else {
            exact(
                "AuthorizationQueryParametersError",
                400,
                "X-Amz-Expires should be a number",
            )
        };
        check(bad, run(&verifier, &request, "sts", signed_at()), expect);
    }
    // Without X-Amz-Expires the clock window applies on both sides.
    let mut no_expires = presigned(900);
    no_expires.query = no_expires.query.replace("&X-Amz-Expires=900", "");
    check(
        "no expires, +15 min",
        run(&verifier, &no_expires, "sts", signed_at().plus_seconds(900)),
        mismatch_any(),
    );
    check(
        "no expires, +16 min",
        run(&verifier, &no_expires, "sts", signed_at().plus_seconds(960)),
        Expect::Prefix(
            "SignatureDoesNotMatch",
            403,
            String::from("Signature expired: "),
        ),
    );
    // A smaller configured maximum.
    let mut policy = VerifierPolicy::for_node("eu-west-1");
    policy.max_presigned_expires_seconds = 3600;
    let strict = Verifier::new(policy);
    check(
        "configured maximum",
        run(&strict, &presigned(3601), "sts", signed_at()),
        exact(
            "AuthorizationQueryParametersError",
            400,
            "X-Amz-Expires must be less than a week (in seconds) that is 3600",
        ),
    );
}

/// Removing `X-Amz-Expires` changes the canonical query, so the signature fails.
fn mismatch_any() -> Expect {
    Expect::Prefix(
        "SignatureDoesNotMatch",
        403,
        String::from(SIGNATURE_MISMATCH_MESSAGE),
    )
}

#[test]
fn malformed_escapes_in_query_and_path() {
    let verifier = node();
    let rows = [
        (
            "a=%zz",
            "/",
            exact(
                "MalformedQueryString",
                400,
                "Illegal hex character in escape % pattern: %zz",
            ),
        ),
        (
            "a=%",
            "/",
            exact(
                "MalformedQueryString",
                400,
                "Incomplete trailing escape % sequence",
            ),
        ),
        (
            "a=%4",
            "/",
            exact(
                "MalformedQueryString",
                400,
                "Incomplete trailing escape % sequence",
            ),
        ),
        (
            "",
            "/a%zz",
            exact(
                "InvalidURIPath",
                400,
                "Illegal hex character in escape % pattern: %zz",
            ),
        ),
        (
            "",
            "relative",
            exact("InvalidURIPath", 400, "Path is not absolute: relative"),
        ),
    ];
    for (query, path, expect) in rows {
        let mut request = base();
        request.query = query.to_owned();
        request.path = path.to_owned();
        check(
            &format!("{path}?{query}"),
            run(&verifier, &request, "sts", signed_at()),
            expect,
        );
        // The escape is reported before the missing authentication (AWS's order).
        request.remove_header("authorization");
        assert!(matches!(
            run(&verifier, &request, "sts", signed_at()),
            Err(SigV4Error::MalformedQueryString(_) | SigV4Error::InvalidUriPath(_))
        ));
    }
}

#[test]
fn duplicate_headers() {
    let verifier = node();
    for name in [
        "X-Amz-Date",
        "Authorization",
        "X-Amz-Security-Token",
        "Host",
    ] {
        let mut request = base();
        let value = request.header(name).unwrap();
        request.add_header(name, value);
        check(
            name,
            run(&verifier, &request, "sts", signed_at()),
            Expect::Exact(
                "IncompleteSignature",
                400,
                format!(
                    "Header '{}' must not be repeated.",
                    name.to_ascii_lowercase()
                ),
            ),
        );
    }
    let mut token_twice = presigned(900);
    token_twice.add_header("X-Amz-Security-Token", TOKEN);
    check(
        "token in query and header",
        run(&verifier, &token_twice, "sts", signed_at()),
        exact(
            "IncompleteSignature",
            400,
            "Header 'x-amz-security-token' must not be repeated.",
        ),
    );
    // A repeated ordinary header is signed as the comma-joined values.
    let mut repeated = unsigned_post();
    repeated.add_header("X-Custom", "one");
    repeated.add_header("x-custom", " two ");
    let repeated = sign(
        repeated,
        &params("sts", "eu-west-1", SigningOptions::standard()),
    );
    check(
        "repeated signed header",
        run(&verifier, &repeated, "sts", signed_at()),
        Expect::Ok,
    );
    let mut reordered = repeated.clone();
    let first = reordered
        .headers
        .iter()
        .position(|(name, _)| name == "X-Custom")
        .unwrap();
    let second = reordered
        .headers
        .iter()
        .position(|(name, _)| name == "x-custom")
        .unwrap();
    reordered.headers.swap(first, second);
    check(
        "repeated header reordered",
        run(&verifier, &reordered, "sts", signed_at()),
        mismatch(),
    );
}

#[test]
fn non_utf8_header_values() {
    let verifier = node();
    let mut request = unsigned_post();
    request.add_header("X-Binary", [0xff, 0xfe, b'a', 0x80]);
    let request = sign(
        request,
        &params("sts", "eu-west-1", SigningOptions::standard()),
    );
    check(
        "signed binary header",
        run(&verifier, &request, "sts", signed_at()),
        Expect::Ok,
    );
    let mut changed = request.clone();
    changed.set_header("X-Binary", [0xff, 0xfe, b'b', 0x80]);
    check(
        "changed binary header",
        run(&verifier, &changed, "sts", signed_at()),
        mismatch(),
    );

    let mut bad_date = base();
    bad_date.set_header("X-Amz-Date", [0xff; 16]);
    check(
        "binary date",
        run(&verifier, &bad_date, "sts", signed_at()),
        Expect::Prefix(
            "IncompleteSignature",
            400,
            String::from("Date must be in ISO-8601 'basic format'. Got '"),
        ),
    );
    let base = base();
    let mut bad_authorization = base.clone();
    let mut bytes = authorization(&base).into_bytes();
    let at = bytes.iter().position(|&b| b == b'/').unwrap() - 1;
    bytes[at] = 0xff;
    bad_authorization.set_header("Authorization", &bytes);
    // The access key id is not part of the string to sign, so only the
    // caller's key lookup rejects a mangled one: parsing hands it over intact
    // (lossily decoded), which no AKIA/ASIA id matches.
    bad_authorization.with_view(|view| {
        let parsed = verifier.parse(view, "sts", signed_at()).unwrap();
        assert_eq!(parsed.access_key_id(), "ASIAQNZGKIQY56JQ7WM\u{fffd}");
    });

    // A non-UTF-8 token is handed over as bytes.
    let mut binary_token = base.clone();
    binary_token.set_header("X-Amz-Security-Token", [b'T', 0xff]);
    binary_token.with_view(|view| {
        let parsed = verifier.parse(view, "sts", signed_at()).unwrap();
        let token = parsed.session_token().unwrap();
        assert_eq!(token.as_bytes(), &[b'T', 0xff]);
        assert_eq!(token.as_str(), None);
        assert!(
            verifier.verify(parsed, view, SECRET.as_bytes()).is_err(),
            "the token is signed"
        );
    });
}

#[test]
fn oversized_inputs_are_errors_not_panics() {
    let verifier = node();
    let too_large = || {
        exact(
            "RequestHeaderSectionTooLarge",
            400,
            "Your request header section exceeds the maximum allowed size.",
        )
    };
    let too_long = || exact("RequestURITooLong", 414, "The request URI is too long.");

    let mut many_headers = base();
    for index in 0..200 {
        many_headers.add_header(&format!("x-filler-{index}"), "v");
    }
    check(
        "200 headers",
        run(&verifier, &many_headers, "sts", signed_at()),
        too_large(),
    );

    let mut huge_value = base();
    huge_value.add_header("x-huge", vec![b'a'; 1 << 20]);
    check(
        "1 MiB header",
        run(&verifier, &huge_value, "sts", signed_at()),
        too_large(),
    );

    let mut section = base();
    for index in 0..10 {
        section.add_header(&format!("x-big-{index}"), vec![b'a'; 10_000]);
    }
    check(
        "100 KB of headers",
        run(&verifier, &section, "sts", signed_at()),
        too_large(),
    );

    let base = base();
    let auth = authorization(&base);
    let long_authorization = auth.replace(
        "SignedHeaders=",
        &format!("SignedHeaders={}", "x-a;".repeat(25_000)),
    );
    check(
        "100 KB Authorization",
        run(
            &verifier,
            &with_authorization(&base, &long_authorization),
            "sts",
            signed_at(),
        ),
        too_large(),
    );

    let many_signed = auth.replace(
        "SignedHeaders=",
        &format!("SignedHeaders={}", "x-a;".repeat(100)),
    );
    check(
        "100 signed headers",
        run(
            &verifier,
            &with_authorization(&base, &many_signed),
            "sts",
            signed_at(),
        ),
        too_large(),
    );

    let mut long_path = base.clone();
    long_path.path = format!("/{}", "a".repeat(1 << 20));
    check(
        "1 MiB path",
        run(&verifier, &long_path, "sts", signed_at()),
        too_long(),
    );

    let mut long_query = base.clone();
    long_query.query = "a=b&".repeat(50_000);
    check(
        "200 KB query",
        run(&verifier, &long_query, "sts", signed_at()),
        too_long(),
    );

    let mut many_params = base.clone();
    many_params.query = "a&".repeat(2_000);
    check(
        "2000 query parameters",
        run(&verifier, &many_params, "sts", signed_at()),
        too_long(),
    );

    // Just under the bounds still works.
    let mut big_but_fine = unsigned_post();
    big_but_fine.add_header("x-big", vec![b'a'; 16 * 1024]);
    let big_but_fine = sign(
        big_but_fine,
        &params("sts", "eu-west-1", SigningOptions::standard()),
    );
    check(
        "16 KiB header",
        run(&verifier, &big_but_fine, "sts", signed_at()),
        Expect::Ok,
    );
}

#[test]
fn payload_hash_rules() {
    let verifier = node();
    let with_header = SigningOptions {
        payload: PayloadSigning::HashWithHeader,
        ..SigningOptions::standard()
    };
    let request = sign(unsigned_post(), &params("sts", "eu-west-1", with_header));
    check(
        "x-amz-content-sha256 matches",
        run(&verifier, &request, "sts", signed_at()),
        Expect::Ok,
    );
    let mut other_body = request.clone();
    other_body.body = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    check(
        "body changed under a hash header",
        run(&verifier, &other_body, "sts", signed_at()),
        exact(
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
    );
    let mut bad_value = request.clone();
    bad_value.set_header("X-Amz-Content-SHA256", "xyz");
    check(
        "malformed hash header",
        run(&verifier, &bad_value, "sts", signed_at()),
        exact(
            "InvalidArgument",
            400,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
        ),
    );

    let unsigned = SigningOptions {
        payload: PayloadSigning::Unsigned,
        ..SigningOptions::standard()
    };
    let request = sign(unsigned_post(), &params("sts", "eu-west-1", unsigned));
    check(
        "unsigned payload at sts",
        run(&verifier, &request, "sts", signed_at()),
        exact(
            "InvalidArgument",
            400,
            "x-amz-content-sha256 must be a valid sha256 value.",
        ),
    );
    let mut rule = ServiceRule::new("orders", &["eu-west-1"]);
    rule.allow_unsigned_payload = true;
    let orders = Verifier::new(VerifierPolicy::new(vec![rule]));
    let mut request = sign(unsigned_post(), &params("orders", "eu-west-1", unsigned));
    check(
        "unsigned payload where allowed",
        run(&orders, &request, "orders", signed_at()),
        Expect::Ok,
    );
    request.body = b"anything at all".to_vec();
    check(
        "unsigned payload, body changed",
        run(&orders, &request, "orders", signed_at()),
        Expect::Ok,
    );

    // A resource service that forwards only the body's hash.
    let request = base();
    let hash = canonical::sha256_hex(BODY);
    let headers: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    for (hash, ok) in [
        (hash.clone(), true),
        (hash.to_ascii_uppercase(), true),
        (canonical::sha256_hex(b"other"), false),
    ] {
        let view = Request {
            method: &request.method,
            path: &request.path,
            query: &request.query,
            headers: &headers,
            payload: Payload::Sha256Hex(&hash),
        };
        let parsed = verifier.parse(&view, "sts", signed_at()).unwrap();
        assert_eq!(
            verifier.verify(parsed, &view, SECRET.as_bytes()).is_ok(),
            ok,
            "{hash}"
        );
    }
    let view = Request {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        payload: Payload::Sha256Hex("not a hash"),
    };
    let parsed = verifier.parse(&view, "sts", signed_at()).unwrap();
    assert_eq!(
        verifier
            .verify(parsed, &view, SECRET.as_bytes())
            .unwrap_err()
            .code(),
        "InvalidArgument"
    );
}

#[test]
fn session_token_placement() {
    let verifier = node();
    // Added after signing (STS-API.md §3.3: accepted, reported as unsigned).
    let after = SigningOptions {
        token: TokenPlacement::AddedAfterSigning,
        ..SigningOptions::standard()
    };
    let request = sign(unsigned_post(), &params("sts", "eu-west-1", after));
    assert!(!authorization(&request).contains("x-amz-security-token"));
    let authenticated = run(&verifier, &request, "sts", signed_at()).unwrap();
    assert_eq!(
        authenticated.session_token().unwrap().source(),
        TokenSource::UnsignedHeader
    );
    // Signed: any change is caught.
    let mut tampered = base();
    tampered.set_header("X-Amz-Security-Token", format!("{TOKEN}x"));
    check(
        "signed token changed",
        run(&verifier, &tampered, "sts", signed_at()),
        mismatch(),
    );
    // Presigned: the token is in the signed query.
    let mut presigned = presigned(900);
    presigned.query = presigned.query.replace("test%2Ftoken", "test%2Ftoken2");
    check(
        "presigned token changed",
        run(&verifier, &presigned, "sts", signed_at()),
        Expect::Prefix(
            "SignatureDoesNotMatch",
            403,
            String::from(SIGNATURE_MISMATCH_MESSAGE),
        ),
    );
}

#[test]
fn date_header_fallback() {
    // A client that signs `Date` instead of `X-Amz-Date` (allowed by AWS),
    // signed here from the public canonicalisation pieces.
    let verifier = node();
    let mut request = unsigned_post();
    request.add_header("Date", "20261126T021457Z");
    let signed_headers = "content-type;date;host";
    let hash = canonical::sha256_hex(BODY);
    let canonical_request = request.with_view(|view| {
        canonical::canonical_request(&CanonicalInput {
            method: view.method,
            path: view.path,
            query: view.query,
            query_exclusions: QueryExclusions::None,
            headers: view.headers,
            signed_headers,
            payload_hash: &hash,
            uri_encoding: UriEncoding::Double,
            normalize_path: true,
        })
        .unwrap()
    });
    let string_to_sign = canonical::string_to_sign(
        "20261126T021457Z",
        "20261126",
        "eu-west-1",
        "sts",
        &canonical_request,
    );
    let signature = SigningKey::derive(SECRET.as_bytes(), "20261126", "eu-west-1", "sts")
        .signature_hex(string_to_sign.as_bytes());
    request.add_header(
        "Authorization",
        format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20261126/eu-west-1/sts/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"),
    );
    check(
        "signed Date header",
        run(&verifier, &request, "sts", signed_at()),
        Expect::Ok,
    );
    let unsigned_date = with_authorization(
        &request,
        &authorization(&request).replace("content-type;date;host", "content-type;host"),
    );
    check(
        "Date not signed",
        run(&verifier, &unsigned_date, "sts", signed_at()),
        exact(
            "SignatureDoesNotMatch",
            403,
            "'Date' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    );
}

#[test]
fn signature_mismatch_message_layout() {
    let verifier = node();
    let mut request = base();
    request.body = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    let error = run(&verifier, &request, "sts", signed_at()).unwrap_err();
    let message = error.message();
    let hash = canonical::sha256_hex(&request.body);
    let expected_canonical = format!(
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:sts.eu-west-1.amazonaws.com\nx-amz-date:20261126T021457Z\nx-amz-security-token:<redacted>\n\ncontent-type;host;x-amz-date;x-amz-security-token\n{hash}"
    );
    let SigV4Error::SignatureDoesNotMatch {
        canonical_request,
        string_to_sign,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*canonical_request, expected_canonical);
    assert!(
        string_to_sign.starts_with(
            "AWS4-HMAC-SHA256\n20261126T021457Z\n20261126/eu-west-1/sts/aws4_request\n"
        )
    );
    assert_eq!(
        message,
        format!(
            "{SIGNATURE_MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n'{expected_canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
    );
    assert!(!message.contains(TOKEN));
    assert!(!format!("{error:?}").contains(TOKEN));
    assert!(!format!("{error}").contains(TOKEN));
}

#[test]
fn nothing_secret_in_debug_output() {
    let verifier = node();
    let request = base();
    let authenticated = run(&verifier, &request, "sts", signed_at()).unwrap();
    let shown = format!("{authenticated:?} {verifier:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    request.with_view(|view| assert!(!format!("{view:?}").contains(TOKEN)));
    let params = params("sts", "eu-west-1", SigningOptions::standard());
    assert!(!format!("{params:?}").contains(SECRET));
    assert!(!format!("{params:?}").contains(TOKEN));
}

#[test]
fn every_error_maps_to_an_aws_code_and_status() {
    use meridian_core::sigv4::error::{EscapeError, InvalidPath, LimitKind};
    let t = signed_at();
    let rows: Vec<(SigV4Error, &str, u16)> = vec![
        (
            SigV4Error::MissingAuthentication,
            "MissingAuthenticationToken",
            403,
        ),
        (
            SigV4Error::UnsupportedQueryAlgorithm,
            "MissingAuthenticationToken",
            403,
        ),
        (SigV4Error::BothAuthForms, "SignatureDoesNotMatch", 403),
        (
            SigV4Error::UnsupportedAlgorithm {
                algorithm: String::from("X"),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::MalformedAuthorizationElement {
                element: String::new(),
                header: String::new(),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::IncompleteAuthorization {
                missing: vec![],
                header: String::new(),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::IncompleteQueryAuthentication { missing: vec![] },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::MalformedQueryString(EscapeError::IncompleteTrailing),
            "MalformedQueryString",
            400,
        ),
        (
            SigV4Error::InvalidUriPath(InvalidPath::NotAbsolute(String::new())),
            "InvalidURIPath",
            400,
        ),
        (SigV4Error::HostNotSigned, "SignatureDoesNotMatch", 403),
        (
            SigV4Error::DateNotSigned {
                header: "X-Amz-Date",
            },
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::RepeatedHeader {
                name: String::new(),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::InvalidDate {
                value: String::new(),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::SignatureExpired {
                request_time: t,
                now: t,
                window_minutes: 15,
            },
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::SignatureNotYetCurrent {
                request_time: t,
                now: t,
                window_minutes: 15,
            },
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::MalformedCredential {
                credential: String::new(),
            },
            "IncompleteSignature",
            400,
        ),
        (
            SigV4Error::InvalidCredentialScope(Box::default()),
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::InvalidExpires {
                value: String::new(),
            },
            "AuthorizationQueryParametersError",
            400,
        ),
        (
            SigV4Error::ExpiresTooLarge { max_seconds: 1 },
            "AuthorizationQueryParametersError",
            400,
        ),
        (
            SigV4Error::PresignedRequestExpired {
                expired_at: t,
                now: t,
            },
            "RequestExpired",
            400,
        ),
        (
            SigV4Error::HeadersTooLarge(LimitKind::HeaderCount),
            "RequestHeaderSectionTooLarge",
            400,
        ),
        (SigV4Error::UriTooLong, "RequestURITooLong", 414),
        (SigV4Error::InvalidContentSha256, "InvalidArgument", 400),
        (
            SigV4Error::UnsignedPayloadNotAllowed,
            "InvalidArgument",
            400,
        ),
        (
            SigV4Error::ContentSha256Mismatch,
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (
            SigV4Error::SignatureDoesNotMatch {
                canonical_request: String::new(),
                string_to_sign: String::new(),
            },
            "SignatureDoesNotMatch",
            403,
        ),
    ];
    for (error, code, status) in rows {
        assert_eq!(
            (error.code(), error.http_status()),
            (code, status),
            "{error:?}"
        );
        assert_eq!(error.fault_type(), "Sender");
        let display = error.to_string();
        assert!(
            display
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && !display.ends_with('.'),
            "display is a lower-case log line: {display:?}"
        );
    }
}
