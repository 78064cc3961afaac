//! AssumeRoleWithWebIdentity's token validation with a cached JWKS: parse,
//! claim checks against the registration, signature (RS256 and ES256), and
//! the fetcher's warm-cache lookup. Goal (issue 6): ≤ 50 µs median for RS256.
//!
//! `cargo bench -p meridian-federation --bench validation`; in test mode
//! (`cargo test --all-targets`) each benchmark runs once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::oidc::jwk::{Jwks, b64url};
use meridian_core::oidc::outbound::parse_rsa_public_key;
use meridian_core::oidc::token::{Expectations, UnverifiedToken};
use meridian_core::time::Timestamp;
use serde_json::json;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const NOW: i64 = 1_800_000_000;

struct Fixed(AtomicI64);
impl meridian_edge::state::Clock for Fixed {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::Relaxed))
    }
}

fn token(alg: &str, kid: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    // A GitHub Actions-sized claim set.
    let claims = json!({
        "iss": ISSUER, "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "aud": "sts.amazonaws.com", "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 300,
        "jti": "6a1f8d3c-9a0b-4e2f-8a51-2c8f4b7f0e11", "ref": "refs/heads/main",
        "repository": "octo-org/octo-repo", "repository_owner": "octo-org",
        "run_id": "1234567890", "run_number": "42", "workflow": "deploy",
        "event_name": "push", "ref_type": "branch", "job_workflow_ref":
            "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
    });
    let input = format!(
        "{}.{}",
        b64url(
            json!({"alg": alg, "kid": kid, "typ": "JWT"})
                .to_string()
                .as_bytes()
        ),
        b64url(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64url(&sig))
}

fn bench(c: &mut Criterion) {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .unwrap_or_else(|e| panic!("{e}"));
    let (n, e) = parse_rsa_public_key(rsa.public_key().as_ref()).unwrap_or_else(|| panic!("n, e"));
    let point = ec.public_key().as_ref();
    let jwks = Jwks::parse(
        json!({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "n": b64url(n), "e": b64url(e)},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256",
             "x": b64url(&point[1..33]), "y": b64url(&point[33..65])},
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rs256 = token("RS256", "rsa-1", |m| {
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            m,
            &mut sig,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        sig
    });
    let es256 = token("ES256", "ec-1", |m| {
        ec.sign(&SystemRandom::new(), m)
            .unwrap_or_else(|e| panic!("{e}"))
            .as_ref()
            .to_vec()
    });
    let clients = vec![String::from("sts.amazonaws.com")];
    let expected = Expectations {
        issuer: ISSUER,
        client_ids: &clients,
        leeway_seconds: 60,
    };
    let now = Timestamp::from_unix_seconds(NOW);
    let validate = |token: &str| {
        let parsed = UnverifiedToken::parse(token).unwrap_or_else(|e| panic!("{e}"));
        let claims = parsed
            .validate_claims(&expected, now)
            .unwrap_or_else(|e| panic!("{e}"));
        parsed
            .verify_signature(&jwks)
            .unwrap_or_else(|e| panic!("{e}"));
        claims
    };
    let mut group = c.benchmark_group("web_identity");
    group.bench_function("validate_rs256", |b| b.iter(|| validate(&rs256)));
    group.bench_function("validate_es256", |b| b.iter(|| validate(&es256)));
    group.bench_function("parse_and_claims_only", |b| {
        b.iter(|| {
            let parsed = UnverifiedToken::parse(&rs256).unwrap_or_else(|e| panic!("{e}"));
            parsed.validate_claims(&expected, now)
        })
    });

    // The fetcher's warm path: a cached set is answered without I/O.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(
        meridian_core::config::snapshot::ConfigSnapshot::default(),
    ));
    let fetcher = meridian_federation::JwksFetcher::new(
        meridian_federation::FetcherConfig::recommended(),
        rx,
        Arc::new(Fixed(AtomicI64::new(NOW * 1000))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fetcher.prime(ISSUER, jwks.clone(), std::time::Duration::from_secs(3600));
    group.bench_function("cached_lookup_and_validate_rs256", |b| {
        b.iter(|| {
            runtime.block_on(async {
                use meridian_edge::federation::{JwksSource, KeyLookup};
                let keys = fetcher
                    .keys(ISSUER, KeyLookup::Cached)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let parsed = UnverifiedToken::parse(&rs256).unwrap_or_else(|e| panic!("{e}"));
                let claims = parsed.validate_claims(&expected, now);
                parsed
                    .verify_signature(&keys)
                    .unwrap_or_else(|e| panic!("{e}"));
                claims
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
