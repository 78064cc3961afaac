//! Property tests for SigV4.
//!
//! * Differential: requests signed by the independent `aws-sigv4` crate (AWS's
//!   Rust SDK signer) for random methods, paths, queries, headers, bodies,
//!   services, regions, times and credentials, in both header and presigned
//!   form, verify with our verifier; our signer produces the same signature
//!   for the same header-signed request.
//! * Mutation: for a valid signed request, every single-bit flip of the method,
//!   path, query, each signed header value, the body, the date and the
//!   signature is rejected, and so is a random single-byte replacement;
//!   unsigned headers may change freely. Changes that SigV4 canonicalises away
//!   (swapping one whitespace byte for another inside a header value, the case
//!   of a hex digit in a `%` escape, `+` for a space in the query) are not
//!   changes to a signed component and are excluded — they are checked to be
//!   accepted, so the exclusion list cannot hide a real gap.
//! * Robustness: arbitrary bytes as `Authorization`, date, query and path
//!   never panic.

mod sigv4_common;

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use meridian_core::sigv4::policy::{ServiceRule, VerifierPolicy};
use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use proptest::prelude::*;
use sigv4_common::OwnedRequest;

const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "us-gov-west-1",
    "cn-north-1",
];

/// One random request and the credentials to sign it with.
#[derive(Debug, Clone)]
struct Case {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    service: String,
    region: String,
    unix_seconds: u64,
    access_key_id: String,
    secret: String,
    token: Option<String>,
}

/// Path segments: unreserved characters, sub-delimiters, `%XX` escapes, `.`
/// and `..` (normalised away), empty segments.
fn path_strategy() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[A-Za-z0-9._~-]{1,8}",
        "[A-Za-z0-9!$&'()*+,;=:@-]{1,8}",
        "%[0-9A-F][0-9A-F][a-z]{0,3}",
        Just(String::from(".")),
        Just(String::from("..")),
        Just(String::new()),
    ];
    (prop::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(segments, trailing)| {
        let mut path = String::from("/");
        path.push_str(&segments.join("/"));
        if trailing && !path.ends_with('/') {
            path.push('/');
        }
        path
    })
}

/// Raw query names and values: anything printable, encoded by the strategy
/// itself into valid URI characters, sometimes with a raw `+` (a space).
fn query_text() -> impl Strategy<Value = String> {
    "[ -~]{0,10}"
}

fn encode_query_text(text: &str, plus_for_space: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else if byte == b' ' && plus_for_space {
            out.push('+');
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Header values the aws-sigv4 crate and HTTP accept: visible ASCII and
/// spaces (aws-sigv4 only collapses spaces, botocore and we collapse tabs too,
/// so tabs are left out of the differential).
fn header_value() -> impl Strategy<Value = String> {
    "[ !-~]{0,20}"
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        path_strategy(),
        prop::collection::vec((query_text(), query_text()), 0..6),
        prop::collection::vec(("x-[a-z0-9-]{1,10}", header_value()), 0..5),
        prop::collection::vec(any::<u8>(), 0..300),
        "[a-z][a-z0-9-]{0,9}",
        prop::sample::select(REGIONS.to_vec()),
        1_000_000_000u64..4_000_000_000u64,
        "AKIA[A-Z2-7]{16}",
        "[A-Za-z0-9/+]{40}",
        prop::option::of("[A-Za-z0-9/+=]{20,80}"),
    )
        .prop_map(
            |(
                method,
                path,
                query,
                headers,
                body,
                service,
                region,
                unix_seconds,
                access_key_id,
                secret,
                token,
            )| Case {
                method: method.to_owned(),
                path,
                query,
                headers,
                body,
                service,
                region: region.to_owned(),
                unix_seconds,
                access_key_id,
                secret,
                token,
            },
        )
}

const HOST: &str = "service.example.test";

fn raw_query(case: &Case, plus_for_space: bool) -> String {
    case.query
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                encode_query_text(name, plus_for_space),
                encode_query_text(value, plus_for_space)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs `case` with aws-sigv4 and returns the request as received.
fn sign_with_aws_sigv4(
    case: &Case,
    location: SignatureLocation,
    plus_for_space: bool,
) -> OwnedRequest {
    let query = raw_query(case, plus_for_space);
    let uri = if query.is_empty() {
        format!("https://{HOST}{}", case.path)
    } else {
        format!("https://{HOST}{}?{query}", case.path)
    };
    let identity: Identity = Credentials::new(
        case.access_key_id.clone(),
        case.secret.clone(),
        case.token.clone(),
        None,
        "proptest",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    settings.session_token_mode = SessionTokenMode::Include;
    settings.expires_in = Some(Duration::from_secs(900));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.region)
        .name(&case.service)
        .time(UNIX_EPOCH + Duration::from_secs(case.unix_seconds))
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let mut headers: Vec<(&str, &str)> = vec![("host", HOST)];
    headers.extend(
        case.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let signable = SignableRequest::new(
        &case.method,
        uri.clone(),
        headers.iter().copied(),
        SignableBody::Bytes(&case.body),
    )
    .expect("signable request");
    let (instructions, _signature) = sign(signable, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    let mut builder = http::Request::builder()
        .method(case.method.as_str())
        .uri(&uri);
    for (name, value) in &headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(()).expect("http request");
    instructions.apply_to_request_http1x(&mut request);

    let path_and_query = request.uri().path_and_query().expect("path");
    let mut owned = OwnedRequest::new(
        request.method().as_str(),
        path_and_query.path(),
        path_and_query.query().unwrap_or(""),
    );
    for (name, value) in request.headers() {
        owned.add_header(name.as_str(), value.as_bytes());
    }
    owned.body = case.body.clone();
    owned
}

fn verifier_for(case: &Case) -> Verifier {
    Verifier::new(VerifierPolicy::new(vec![ServiceRule::new(
        &case.service,
        &[&case.region],
    )]))
}

fn now(case: &Case) -> Timestamp {
    Timestamp::from_unix_seconds(i64::try_from(case.unix_seconds).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn requests_signed_by_aws_sigv4_verify(
        case in case_strategy(),
        presigned in any::<bool>(),
        plus_for_space in any::<bool>(),
    ) {
        let location = if presigned { SignatureLocation::QueryParams } else { SignatureLocation::Headers };
        let request = sign_with_aws_sigv4(&case, location, plus_for_space);
        let verifier = verifier_for(&case);
        request.with_view(|view| {
            let parsed = verifier.parse(view, &case.service, now(&case))
                .map_err(|error| TestCaseError::fail(format!("parse: {} {}", error.code(), error.message())))?;
            prop_assert_eq!(parsed.access_key_id(), case.access_key_id.as_str());
            prop_assert_eq!(
                parsed.session_token().and_then(|token| token.as_str()),
                case.token.as_deref()
            );
            let result = verifier.verify(parsed, view, case.secret.as_bytes());
            prop_assert!(result.is_ok(), "verify: {}", result.err().map(|e| e.message()).unwrap_or_default());
            Ok(())
        })?;
    }

    #[test]
    fn our_signer_agrees_with_aws_sigv4(case in case_strategy()) {
        let reference = sign_with_aws_sigv4(&case, SignatureLocation::Headers, false);
        let theirs = reference.header("authorization").expect("authorization");
        let mut unsigned = reference.clone();
        unsigned.remove_header("authorization");
        unsigned.remove_header("x-amz-date");
        unsigned.remove_header("x-amz-security-token");
        let params = SigningParams {
            access_key_id: &case.access_key_id,
            secret_access_key: case.secret.as_bytes(),
            session_token: case.token.as_deref(),
            region: &case.region,
            service: &case.service,
            time: now(&case),
            options: SigningOptions::standard(),
        };
        let ours = unsigned.with_view(|view| signer::sign_headers(view, &params)).expect("we sign");
        prop_assert_eq!(ours.authorization, theirs);
    }
}

// ---------------------------------------------------------------------------
// Mutation

const ACCESS_KEY_ID: &str = "ASIAQNZGKIQY56JQ7WML";
const SECRET: &str = "nY+2yIVy4TMGm2C5jbQCLwAMW8mgl4gP2bLx1y2R";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token+value==";
const SIGNED_AT: i64 = 1_795_659_297; // 2026-11-26T02:14:57Z

/// A botocore-shaped STS POST (with a query string and an extra signed
/// header so that every component is exercised), signed by our signer.
fn signed_sts_post() -> OwnedRequest {
    let mut request = OwnedRequest::new("POST", "/sts/v1", "Version=2011-06-15&Tag=a%2Fb&Empty=");
    request.add_header("Host", "sts.eu-west-1.amazonaws.com");
    request.add_header(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    request.add_header("X-Meridian-Trace", "  spaced   value\t");
    request.body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=s1&DurationSeconds=900&ExternalId=ext-1&Tags.member.1.Key=Project&Tags.member.1.Value=Unicorn".to_vec();
    let params = SigningParams {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET.as_bytes(),
        session_token: Some(TOKEN),
        region: "eu-west-1",
        service: "sts",
        time: Timestamp::from_unix_seconds(SIGNED_AT),
        options: SigningOptions::standard(),
    };
    let signature = request
        .with_view(|view| signer::sign_headers(view, &params))
        .unwrap();
    for (name, value) in signature.headers() {
        request.add_header(name, value);
    }
    // Added after signing, like botocore's amz-sdk-* headers.
    request.add_header("User-Agent", "Botocore/1.44.8");
    request.add_header(
        "amz-sdk-invocation-id",
        "00000000-0000-4000-8000-000000000000",
    );
    request
}

fn sts_verifier() -> Verifier {
    Verifier::new(VerifierPolicy::for_node("eu-west-1"))
}

fn accepted(verifier: &Verifier, request: &OwnedRequest) -> bool {
    request.with_view(|view| {
        verifier
            .parse(view, "sts", Timestamp::from_unix_seconds(SIGNED_AT + 30))
            .and_then(|parsed| verifier.verify(parsed, view, SECRET.as_bytes()))
            .is_ok()
    })
}

/// The parts of the request a mutation can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Method,
    Path,
    Query,
    Body,
    /// The value of the header at this index.
    Header(usize),
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whether replacing `original[position]` by `new` leaves the canonical
/// request unchanged by SigV4's own rules.
fn canonically_equivalent(part: Part, original: &[u8], position: usize, new: u8) -> bool {
    let old = original[position];
    match part {
        Part::Header(_) => {
            let first = original
                .iter()
                .position(|&b| !is_space(b))
                .unwrap_or(original.len());
            let last = original.iter().rposition(|&b| !is_space(b)).unwrap_or(0);
            let outside = position < first || position > last;
            (is_space(old) && is_space(new))
                // A space at either end is trimmed whatever it is.
                || (outside && is_space(new))
        }
        Part::Query | Part::Path => {
            let in_escape = (position >= 1 && original[position - 1] == b'%')
                || (position >= 2 && original[position - 2] == b'%');
            let same_hex_digit = old.is_ascii_hexdigit()
                && new.is_ascii_hexdigit()
                && old.eq_ignore_ascii_case(&new)
                && in_escape;
            let plus_space =
                part == Part::Query && matches!((old, new), (b'+', b' ') | (b' ', b'+'));
            // `name=` followed by `&` or the end is the same parameter as `name`
            // followed by an empty piece, which is skipped.
            let empty_value_separator = part == Part::Query
                && old == b'='
                && new == b'&'
                && matches!(original.get(position + 1), None | Some(b'&'));
            same_hex_digit || plus_space || empty_value_separator
        }
        Part::Method | Part::Body => false,
    }
}

fn signed_header_indexes(request: &OwnedRequest) -> Vec<usize> {
    let authorization = request.header("authorization").unwrap();
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    request
        .headers
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| {
            signed
                .split(';')
                .any(|listed| listed.eq_ignore_ascii_case(name))
        })
        .map(|(index, _)| index)
        .collect()
}

/// Applies the mutation; `None` when the result is not representable (a
/// method, path or query that is no longer UTF-8 cannot reach the verifier).
fn mutate(request: &OwnedRequest, part: Part, position: usize, new: u8) -> Option<OwnedRequest> {
    let mut mutated = request.clone();
    let replace_in_string = |text: &mut String| -> Option<()> {
        let mut bytes = text.clone().into_bytes();
        bytes[position] = new;
        *text = String::from_utf8(bytes).ok()?;
        Some(())
    };
    match part {
        Part::Method => replace_in_string(&mut mutated.method)?,
        Part::Path => replace_in_string(&mut mutated.path)?,
        Part::Query => replace_in_string(&mut mutated.query)?,
        Part::Body => mutated.body[position] = new,
        Part::Header(index) => mutated.headers[index].1[position] = new,
    }
    Some(mutated)
}

fn part_bytes(request: &OwnedRequest, part: Part) -> Vec<u8> {
    match part {
        Part::Method => request.method.clone().into_bytes(),
        Part::Path => request.path.clone().into_bytes(),
        Part::Query => request.query.clone().into_bytes(),
        Part::Body => request.body.clone(),
        Part::Header(index) => request.headers[index].1.clone(),
    }
}

fn signed_parts(request: &OwnedRequest) -> Vec<Part> {
    let mut parts = vec![Part::Method, Part::Path, Part::Query, Part::Body];
    parts.extend(signed_header_indexes(request).into_iter().map(Part::Header));
    parts
}

/// Checks one mutation; returns whether it was a real change.
fn check_mutation(
    verifier: &Verifier,
    request: &OwnedRequest,
    part: Part,
    position: usize,
    new: u8,
) -> bool {
    let original = part_bytes(request, part);
    if original[position] == new {
        return false;
    }
    let Some(mutated) = mutate(request, part, position, new) else {
        return false;
    };
    let equivalent = canonically_equivalent(part, &original, position, new);
    let ok = accepted(verifier, &mutated);
    assert_eq!(
        ok,
        equivalent,
        "{part:?}[{position}] {:?} -> {:?}: accepted={ok}, canonically equivalent={equivalent}",
        char::from(original[position]),
        char::from(new)
    );
    !equivalent
}

#[test]
fn every_single_bit_flip_of_a_signed_component_is_rejected() {
    let verifier = sts_verifier();
    let request = signed_sts_post();
    assert!(
        accepted(&verifier, &request),
        "the unmutated request verifies"
    );
    let mut rejected = 0usize;
    for part in signed_parts(&request) {
        let bytes = part_bytes(&request, part);
        for (position, byte) in bytes.iter().enumerate() {
            for bit in 0..8 {
                if check_mutation(&verifier, &request, part, position, byte ^ (1 << bit)) {
                    rejected += 1;
                }
            }
        }
    }
    // 8 flips of each byte of the method, path, query, body and the signed
    // headers (host, content-type, x-meridian-trace, x-amz-date,
    // x-amz-security-token), less flips that leave UTF-8 or are whitespace swaps.
    assert!(rejected > 3_000, "{rejected} mutations checked");
}

#[test]
fn every_byte_value_of_the_signature_and_date_is_checked() {
    let verifier = sts_verifier();
    let request = signed_sts_post();
    for name in ["authorization", "x-amz-date"] {
        let index = request
            .headers
            .iter()
            .position(|(header, _)| header.eq_ignore_ascii_case(name))
            .unwrap();
        let bytes = part_bytes(&request, Part::Header(index));
        // The signature is the last 64 bytes of Authorization; the date is all 16 bytes.
        let start = bytes.len() - if name == "authorization" { 64 } else { 16 };
        for position in start..bytes.len() {
            for new in 0..=255u8 {
                check_mutation(&verifier, &request, Part::Header(index), position, new);
            }
        }
    }
}

#[test]
fn unsigned_headers_may_change_freely() {
    let verifier = sts_verifier();
    let mut request = signed_sts_post();
    request.set_header("User-Agent", "something else entirely");
    request.set_header("amz-sdk-invocation-id", [0xff, 0xfe, 0x00]);
    request.add_header("X-Forwarded-For", "203.0.113.7");
    assert!(accepted(&verifier, &request));
    // Removing a signed header is not free.
    let mut removed = signed_sts_post();
    removed.remove_header("x-meridian-trace");
    assert!(!accepted(&verifier, &removed));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_single_byte_replacement_is_rejected(selector in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), new in any::<u8>()) {
        let verifier = sts_verifier();
        let request = signed_sts_post();
        let parts = signed_parts(&request);
        let part = *selector.get(&parts);
        let bytes = part_bytes(&request, part);
        prop_assume!(!bytes.is_empty());
        check_mutation(&verifier, &request, part, position.index(bytes.len()), new);
    }

    #[test]
    fn arbitrary_auth_inputs_never_panic(
        authorization in prop::collection::vec(any::<u8>(), 0..400),
        date in prop::collection::vec(any::<u8>(), 0..40),
        query in "[ -~]{0,200}",
        path in "[ -~]{0,100}",
        presigned_prefix in any::<bool>(),
    ) {
        let verifier = sts_verifier();
        let mut request = OwnedRequest::new("POST", &path, &query);
        if presigned_prefix {
            request.query = format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&{query}");
        }
        request.add_header("host", "sts.eu-west-1.amazonaws.com");
        request.add_header("authorization", &authorization);
        request.add_header("x-amz-date", &date);
        let outcome = request.with_view(|view| {
            verifier
                .parse(view, "sts", Timestamp::from_unix_seconds(SIGNED_AT))
                .and_then(|parsed| verifier.verify(parsed, view, SECRET.as_bytes()))
        });
        // Random input never verifies; the error is a proper AWS error.
        let error = outcome.expect_err("random input must not verify");
        prop_assert!(!error.code().is_empty());
        prop_assert!(matches!(error.http_status(), 400 | 403 | 414));
    }
}
