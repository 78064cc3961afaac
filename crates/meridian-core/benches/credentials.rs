//! Credential engine benchmarks: minting a full credential set and opening a
//! session token (goals: ≤ 2 µs median each, `DESIGN.md` "Performance bar"),
//! plus the pieces they are made of — drawing randomness, the AEAD seal and
//! open, base64 — so a missed goal can be attributed without a profiler.
//!
//! The production random source ([`SystemRng`]) is used throughout: the
//! deterministic one would measure a SHA-256 stream nobody runs in production.
//! Run with `cargo bench -p meridian-core --bench credentials`.

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::arn::Arn;
use meridian_core::ids::{AccountId, UniqueId};
use meridian_core::keyring::{DataKey, KeyId, KeyRing, KeySchedule};
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::rand::{BufferedRandom, RandomSource, SystemRng};
use meridian_core::time::Timestamp;
use meridian_core::token::{self, SessionPolicy, SessionSpec, SessionTag};

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

fn ring() -> KeyRing {
    let mut ring = KeyRing::new();
    let key = DataKey::generate(KeyId::new(1), &mut SystemRng::new()).expect("random key");
    ring.insert(key, KeySchedule::new(now(), now()))
        .expect("valid schedule");
    ring
}

/// An AssumeRole session without session policies or tags: the common case.
fn assumed_role() -> SessionSpec {
    let account = AccountId::parse("123456789012").expect("account");
    let role_id = UniqueId::parse("AROAIDPPEZS35WEXAMPLE").expect("role id");
    let role = AssumedRolePrincipal::new(
        account,
        "/",
        "deploy",
        role_id,
        "ci-build-4711",
        SessionOrigin::AssumeRole,
    )
    .expect("principal");
    SessionSpec {
        principal: Principal::AssumedRole(role),
        region: "eu-west-1".to_owned(),
        issued_at: now(),
        expires_at: now().plus_seconds(3600),
        source_identity: None,
        tags: Vec::new(),
        policy: SessionPolicy::none(),
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: Vec::new(),
    }
}

/// The same session with two tags (one transitive), a source identity and a
/// managed session policy, as in `STS-API.md` §2.2's captured request.
fn assumed_role_with_tags() -> SessionSpec {
    let mut spec = assumed_role();
    spec.source_identity = Some("DevUser123".to_owned());
    spec.tags = vec![
        SessionTag::new("Project", "Unicorn", true),
        SessionTag::new("Team", "A B", false),
    ];
    let arn = Arn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").expect("arn");
    spec.policy = SessionPolicy::new(None, vec![arn]).expect("policy");
    spec
}

fn bench_credentials(c: &mut Criterion) {
    let ring = ring();
    for (name, spec) in [
        ("assumed_role", assumed_role()),
        ("assumed_role_tags_policy", assumed_role_with_tags()),
    ] {
        let mut rng = SystemRng::new();
        c.bench_function(&format!("credentials/mint/{name}"), |b| {
            b.iter(|| token::mint(black_box(&spec), &ring, &mut rng).expect("mint"))
        });
        // The same with the per-worker buffered source the server can keep.
        let mut buffered = BufferedRandom::new(SystemRng::new());
        c.bench_function(&format!("credentials/mint_buffered_rng/{name}"), |b| {
            b.iter(|| token::mint(black_box(&spec), &ring, &mut buffered).expect("mint"))
        });
        let minted = token::mint(&spec, &ring, &mut rng).expect("mint");
        let text = minted.credentials.session_token.as_str();
        let key = minted.credentials.access_key_id;
        c.bench_function(&format!("credentials/open/{name}"), |b| {
            b.iter(|| {
                token::open(black_box(text), &key, &ring, now(), Duration::from_secs(60))
                    .expect("open")
            })
        });
    }
}

/// The parts: what one mint or open spends outside the codec itself.
fn bench_parts(c: &mut Criterion) {
    let mut rng = SystemRng::new();
    let mut entropy = [0u8; 63];
    c.bench_function("parts/system_rng_63_bytes", |b| {
        b.iter(|| rng.fill(black_box(&mut entropy)).expect("random"))
    });
    let mut block = [0u8; 1024];
    c.bench_function("parts/system_rng_1024_bytes", |b| {
        b.iter(|| rng.fill(black_box(&mut block)).expect("random"))
    });
    let mut buffered = BufferedRandom::new(SystemRng::new());
    c.bench_function("parts/buffered_rng_63_bytes", |b| {
        b.iter(|| buffered.fill(black_box(&mut entropy)).expect("random"))
    });

    let mut key_bytes = [0u8; 32];
    rng.fill(&mut key_bytes).expect("random");
    let token_len = {
        let ring = ring();
        let minted = token::mint(&assumed_role(), &ring, &mut rng).expect("mint");
        minted.credentials.session_token.len()
    };
    // The sealed part of a typical token: its decoded length minus header and tag.
    let body_len = token_len / 4 * 3 - 27 - 16;
    for (name, algorithm) in [
        ("aes_256_gcm", &aead::AES_256_GCM),
        ("aes_256_gcm_siv", &aead::AES_256_GCM_SIV),
        ("chacha20_poly1305", &aead::CHACHA20_POLY1305),
    ] {
        let key = LessSafeKey::new(UnboundKey::new(algorithm, &key_bytes).expect("key"));
        let mut body = vec![7u8; body_len];
        c.bench_function(&format!("parts/seal_{name}_{body_len}_bytes"), |b| {
            b.iter(|| {
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([1; 12]),
                    Aad::from(black_box([0u8; 50])),
                    &mut body,
                )
                .expect("seal")
            })
        });
    }

    let raw = vec![0x5au8; token_len / 4 * 3];
    let text = BASE64.encode(&raw);
    c.bench_function(&format!("parts/base64_encode_{}_bytes", raw.len()), |b| {
        b.iter(|| BASE64.encode(black_box(&raw)))
    });
    let mut out = vec![0u8; raw.len() + 3];
    c.bench_function(&format!("parts/base64_decode_{}_chars", text.len()), |b| {
        b.iter(|| {
            BASE64
                .decode_slice(black_box(&text), &mut out)
                .expect("decode")
        })
    });
}

criterion_group!(benches, bench_credentials, bench_parts);
criterion_main!(benches);
