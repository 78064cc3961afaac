//! SigV4 verification benchmarks (goal: a header-signed STS POST verified in
//! ≤ 5 µs median with the signing key cached).
//!
//! The request has botocore's shape: `Host`, `Content-Type`, `User-Agent`,
//! `X-Amz-Date`, `X-Amz-Security-Token` (signed) and `Authorization`, with a
//! ~200-byte `AssumeRole` form body. Measured:
//!
//! * `verify_cached` — parse + verify, signing key in the cache (the steady state);
//! * `verify_uncached` — the same with caching disabled (four extra HMACs);
//! * `parse` — step 1 alone;
//! * parts — canonical request, SHA-256 of the body, key derivation, signing —
//!   so a missed goal can be attributed without a profiler.
//!
//! Run with `cargo bench -p meridian-core --bench sigv4`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::sigv4::canonical::{self, CanonicalInput, QueryExclusions};
use meridian_core::sigv4::policy::{UriEncoding, VerifierPolicy};
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};
use meridian_core::sigv4::signing_key::SigningKey;
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;

const ACCESS_KEY_ID: &str = "ASIAQNZGKIQY56JQ7WML";
const SECRET: &str = "nY+2yIVy4TMGm2C5jbQCLwAMW8mgl4gP2bLx1y2R";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token+value/IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token+value/IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD==";
const BODY: &[u8] = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeploy&RoleSessionName=ci-build-4711&DurationSeconds=900&Tags.member.1.Key=Project&Tags.member.1.Value=Unicorn";

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_659_297)
}

/// The headers of a botocore-signed STS POST.
fn signed_headers() -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (
            String::from("Host"),
            b"sts.eu-west-1.amazonaws.com".to_vec(),
        ),
        (
            String::from("Content-Type"),
            b"application/x-www-form-urlencoded; charset=utf-8".to_vec(),
        ),
    ];
    let view: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        payload: Payload::Body(BODY),
    };
    let params = SigningParams {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET.as_bytes(),
        session_token: Some(TOKEN),
        region: "eu-west-1",
        service: "sts",
        time: now(),
        options: SigningOptions::standard(),
    };
    let signature = signer::sign_headers(&request, &params).expect("sign");
    headers.push((
        String::from("User-Agent"),
        b"Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7".to_vec(),
    ));
    for (name, value) in signature.headers() {
        headers.push((name.to_owned(), value.into_bytes()));
    }
    headers
}

fn bench_verify(c: &mut Criterion) {
    let owned = signed_headers();
    let headers: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(BODY),
    };

    let cached = Verifier::new(VerifierPolicy::for_node("eu-west-1"));
    let parsed = cached.parse(&request, "sts", now()).expect("parse");
    cached
        .verify(parsed, &request, SECRET.as_bytes())
        .expect("the request verifies");
    c.bench_function("sigv4/verify_cached", |b| {
        b.iter(|| {
            let parsed = cached
                .parse(black_box(&request), "sts", now())
                .expect("parse");
            cached
                .verify(parsed, black_box(&request), SECRET.as_bytes())
                .expect("verify")
        })
    });

    let mut policy = VerifierPolicy::for_node("eu-west-1");
    policy.signing_key_cache_capacity = 0;
    let uncached = Verifier::new(policy);
    c.bench_function("sigv4/verify_uncached", |b| {
        b.iter(|| {
            let parsed = uncached
                .parse(black_box(&request), "sts", now())
                .expect("parse");
            uncached
                .verify(parsed, black_box(&request), SECRET.as_bytes())
                .expect("verify")
        })
    });

    c.bench_function("sigv4/parse", |b| {
        b.iter(|| {
            cached
                .parse(black_box(&request), "sts", now())
                .expect("parse")
        })
    });

    let signed = "content-type;host;x-amz-date;x-amz-security-token";
    let body_hash = canonical::sha256_hex(BODY);
    c.bench_function("sigv4/parts/canonical_request", |b| {
        b.iter(|| {
            canonical::canonical_request(&CanonicalInput {
                method: "POST",
                path: "/",
                query: "",
                query_exclusions: QueryExclusions::None,
                headers: black_box(&headers),
                signed_headers: signed,
                payload_hash: &body_hash,
                uri_encoding: UriEncoding::Double,
                normalize_path: true,
            })
            .expect("canonical")
        })
    });
    c.bench_function("sigv4/parts/sha256_hex_body", |b| {
        b.iter(|| canonical::sha256_hex(black_box(BODY)))
    });
    c.bench_function("sigv4/parts/derive_signing_key", |b| {
        b.iter(|| SigningKey::derive(black_box(SECRET.as_bytes()), "20261126", "eu-west-1", "sts"))
    });
    let key = SigningKey::derive(SECRET.as_bytes(), "20261126", "eu-west-1", "sts");
    let string_to_sign = "AWS4-HMAC-SHA256\n20261126T021457Z\n20261126/eu-west-1/sts/aws4_request\n1b14d7bc47ab66df7bf7582f1072d9c965af7ccd181c6bf8b4ff2f12f197ef02";
    c.bench_function("sigv4/parts/signature_hmac", |b| {
        b.iter(|| key.signature_hex(black_box(string_to_sign.as_bytes())))
    });
    c.bench_function("sigv4/parts/cache_lookup", |b| {
        b.iter(|| {
            cached.cache().get_or_derive(
                ACCESS_KEY_ID,
                "20261126",
                "eu-west-1",
                "sts",
                black_box(SECRET.as_bytes()),
            )
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
