//! Session token tests: round trips of random claims, rejection of every
//! single-byte mutation, truncation and extension, destroyed and unknown keys,
//! expiry with and without leeway, tokens presented with another access key
//! id, the packed-policy limit, the worst-case size bound, and redaction.

use std::time::Duration;

use meridian_core::arn::{Arn, Partition};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, AccountId, UniqueId};
use meridian_core::keyring::{DataKey, KeyId, KeyRing, KeySchedule};
use meridian_core::principal::{
    AssumedRolePrincipal, FederatedUserPrincipal, Principal, SessionOrigin, UserPrincipal,
};
use meridian_core::rand::DeterministicRandom;
use meridian_core::time::Timestamp;
use meridian_core::token::{
    self, MAX_SESSION_TOKEN_LEN, MintError, MintedCredentials, PACKED_POLICY_LIMIT,
    PROVIDER_CLAIMS_LIMIT, ProviderClaim, SessionPolicy, SessionSpec, SessionTag, TokenError,
};
use proptest::prelude::*;

const T0: i64 = 1_800_000_000_000;

fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0 + millis)
}

/// A ring whose key 1 is active from T0 on and never destroyed.
fn ring() -> KeyRing {
    let mut rng = DeterministicRandom::from_seed(99);
    let mut ring = KeyRing::new();
    let key = DataKey::generate(KeyId::new(1), &mut rng).unwrap();
    ring.insert(key, KeySchedule::new(at(-1000), at(0)))
        .unwrap();
    ring
}

fn account(n: u64) -> AccountId {
    AccountId::from_u64(n).unwrap()
}

fn role_session() -> Principal {
    let role_id = UniqueId::parse("AROAIDPPEZS35WEXAMPLE").unwrap();
    let role = AssumedRolePrincipal::new(
        account(123_456_789_012),
        "/team/",
        "demo",
        role_id,
        "John",
        SessionOrigin::AssumeRole,
    )
    .unwrap();
    Principal::AssumedRole(role)
}

fn spec(principal: Principal) -> SessionSpec {
    SessionSpec {
        principal,
        region: "eu-west-1".to_owned(),
        issued_at: at(0),
        expires_at: at(3_600_000),
        source_identity: Some("DevUser123".to_owned()),
        tags: vec![
            SessionTag::new("Project", "Unicorn", true),
            SessionTag::new("Team", "A B", false),
        ],
        policy: SessionPolicy::new(
            None,
            vec![Arn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap()],
        )
        .unwrap(),
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: Vec::new(),
    }
}

fn mint(spec: &SessionSpec, seed: u64) -> MintedCredentials {
    token::mint(spec, &ring(), &mut DeterministicRandom::from_seed(seed)).unwrap()
}

fn open_at(minted: &MintedCredentials, now: Timestamp) -> Result<token::SessionClaims, TokenError> {
    let credentials = &minted.credentials;
    token::open(
        credentials.session_token.as_str(),
        &credentials.access_key_id,
        &ring(),
        now,
        Duration::ZERO,
    )
}

fn decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---- strategies -------------------------------------------------------------

fn name(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9+=,.@_-]{{2,{max}}}")).unwrap()
}

fn path() -> impl Strategy<Value = String> {
    "(/[a-zA-Z0-9_]{1,12}){0,3}/"
}

fn unique_id(prefix: &'static str) -> impl Strategy<Value = UniqueId> {
    "[A-Z2-7]{17}".prop_map(move |tail| UniqueId::parse(&format!("{prefix}{tail}")).unwrap())
}

fn user(account: AccountId) -> impl Strategy<Value = UserPrincipal> {
    (path(), name(64), unique_id("AIDA"))
        .prop_map(move |(p, n, id)| UserPrincipal::new(account, &p, &n, id).unwrap())
}

fn origin() -> impl Strategy<Value = SessionOrigin> {
    prop_oneof![
        Just(SessionOrigin::AssumeRole),
        "[a-z0-9.]{1,40}(/[a-z0-9]{1,10})?".prop_map(|host| {
            let arn =
                Arn::parse(&format!("arn:aws:iam::123456789012:oidc-provider/{host}")).unwrap();
            SessionOrigin::web_identity(arn).unwrap()
        }),
        "[A-Za-z0-9_.-]{1,64}".prop_map(|provider| {
            let arn = Arn::parse(&format!(
                "arn:aws:iam::123456789012:saml-provider/{provider}"
            ))
            .unwrap();
            SessionOrigin::saml(arn).unwrap()
        }),
    ]
}

fn principal() -> impl Strategy<Value = Principal> {
    (0u64..=999_999_999_999).prop_flat_map(|n| {
        let account = account(n);
        prop_oneof![
            Just(Principal::Root(account)),
            user(account).prop_map(Principal::User),
            (path(), name(64), unique_id("AROA"), name(64), origin()).prop_map(
                move |(p, role, id, session, origin)| {
                    Principal::AssumedRole(
                        AssumedRolePrincipal::new(account, &p, &role, id, &session, origin)
                            .unwrap(),
                    )
                }
            ),
            (name(32), proptest::option::of(user(account))).prop_map(move |(n, parent)| {
                Principal::FederatedUser(FederatedUserPrincipal::new(account, &n, parent).unwrap())
            }),
        ]
    })
}

fn tags() -> impl Strategy<Value = Vec<SessionTag>> {
    proptest::collection::vec(
        ("\\PC{1,16}", "\\PC{0,24}", any::<bool>())
            .prop_map(|(k, v, transitive)| SessionTag::new(k, v, transitive)),
        0..8,
    )
}

fn policy() -> impl Strategy<Value = SessionPolicy> {
    (
        proptest::option::of("[a-zA-Z0-9 :*]{0,60}"),
        proptest::collection::vec("[A-Za-z0-9]{1,30}", 0..4),
    )
        .prop_map(|(sid, arns)| {
            let inline = sid.map(|sid| {
                format!(
                    "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{{\"Sid\": \"{sid}\", \"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}]\n}}"
                )
            });
            let arns = arns
                .iter()
                .map(|name| Arn::parse(&format!("arn:aws:iam::aws:policy/{name}")).unwrap())
                .collect();
            SessionPolicy::new(inline.as_deref(), arns).unwrap()
        })
}

prop_compose! {
    fn session_spec()(
        principal in principal(),
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        issued in -1_000i64..10_000_000,
        lifetime in 1i64..=129_600_000,
        source_identity in proptest::option::of("[A-Za-z0-9+=,.@_-]{2,64}"),
        tags in tags(),
        policy in policy(),
        mfa in proptest::option::of(-100_000i64..0),
        role_chained in any::<bool>(),
        provider_claims in proptest::collection::vec(
            ("[a-z.]{1,20}:(sub|aud|amr)", "\\PC{0,40}").prop_map(|(k, v)| ProviderClaim::new(k, v)),
            0..4,
        ),
    ) -> SessionSpec {
        SessionSpec {
            principal,
            region,
            issued_at: at(issued.max(0)),
            expires_at: at(issued.max(0) + lifetime),
            source_identity,
            tags,
            policy,
            mfa_authenticated_at: mfa.map(at),
            role_chained,
            provider_claims,
        }
    }
}

// ---- properties -------------------------------------------------------------

proptest! {
    /// Whatever is minted opens to the same claims, secret and session id,
    /// and the access key id encodes the principal's account.
    #[test]
    fn round_trip_of_random_claims(spec in session_spec(), seed in any::<u64>()) {
        let minted = mint(&spec, seed);
        let credentials = &minted.credentials;
        prop_assert!(credentials.session_token.len() <= MAX_SESSION_TOKEN_LEN);
        prop_assert_eq!(credentials.access_key_id.kind(), AccessKeyKind::Temporary);
        prop_assert_eq!(credentials.access_key_id.account(), Some(*spec.principal.account()));
        prop_assert_eq!(credentials.expiration, spec.expires_at);
        let claims = open_at(&minted, spec.issued_at).unwrap();
        prop_assert_eq!(&claims.spec, &spec);
        prop_assert_eq!(&claims.secret_access_key, &credentials.secret_access_key);
        prop_assert_eq!(claims.session_id, minted.session_id);
        prop_assert_eq!(claims.access_key_id, credentials.access_key_id);
        prop_assert_eq!(claims.key_id, KeyId::new(1));
        prop_assert_eq!(claims.version, token::TOKEN_VERSION);
    }

    /// An expired token is refused; inside the leeway it is accepted, and the
    /// boundary is exact to the millisecond.
    #[test]
    fn expiry_honours_the_leeway(spec in session_spec(), leeway_ms in 0u64..900_000) {
        let minted = mint(&spec, 1);
        let leeway = Duration::from_millis(leeway_ms);
        let last_valid = spec.expires_at.plus_millis(i64::try_from(leeway_ms).unwrap() - 1);
        let credentials = &minted.credentials;
        let open = |now| token::open(
            credentials.session_token.as_str(), &credentials.access_key_id, &ring(), now, leeway,
        );
        prop_assert!(open(last_valid).is_ok());
        prop_assert_eq!(
            open(last_valid.plus_millis(1)).unwrap_err(),
            TokenError::Expired { expired_at: spec.expires_at }
        );
        // Without leeway the token is expired at its expiry instant.
        prop_assert_eq!(
            open_at(&minted, spec.expires_at).unwrap_err(),
            TokenError::Expired { expired_at: spec.expires_at }
        );
    }

    /// A token presented with any other access key id is refused.
    #[test]
    fn another_access_key_id_is_refused(
        spec in session_spec(),
        entropy in any::<[u8; 5]>(),
        other_account in 0u64..=999_999_999_999,
    ) {
        let minted = mint(&spec, 2);
        let credentials = &minted.credentials;
        let own = credentials.access_key_id;
        let candidates = [
            AccessKeyId::from_entropy(AccessKeyKind::Temporary, spec.principal.account(), entropy),
            AccessKeyId::from_entropy(AccessKeyKind::Temporary, &account(other_account), entropy),
            // Same characters, long-term prefix.
            AccessKeyId::from_suffix_bytes(AccessKeyKind::LongTerm, &own.suffix_bytes()),
        ];
        for other in candidates.into_iter().filter(|other| *other != own) {
            prop_assert_eq!(
                token::open(credentials.session_token.as_str(), &other, &ring(), spec.issued_at, Duration::ZERO)
                    .unwrap_err(),
                TokenError::AccessKeyMismatch
            );
        }
    }

    /// A token whose key has been destroyed (by schedule, by purge) is refused
    /// as such; once the key is forgotten it is an unknown key.
    #[test]
    fn destroyed_keys_refuse_their_tokens(spec in session_spec()) {
        let minted = mint(&spec, 3);
        let credentials = &minted.credentials;
        let open_with = |ring: &KeyRing| token::open(
            credentials.session_token.as_str(), &credentials.access_key_id, ring, spec.issued_at, Duration::ZERO,
        );
        let mut ring = ring();
        let mut schedule = *ring.schedule(KeyId::new(1)).unwrap();
        schedule.destroy_at = Some(spec.issued_at);
        ring.set_schedule(KeyId::new(1), schedule).unwrap();
        prop_assert_eq!(open_with(&ring).unwrap_err(), TokenError::KeyDestroyed(KeyId::new(1)));
        ring.purge_destroyed(spec.issued_at);
        prop_assert_eq!(open_with(&ring).unwrap_err(), TokenError::KeyDestroyed(KeyId::new(1)));
        ring.remove(KeyId::new(1));
        prop_assert_eq!(open_with(&ring).unwrap_err(), TokenError::UnknownKey(KeyId::new(1)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every single-byte change of the decoded token, every truncation and a
    /// one-byte extension are all refused — and so is every single-character
    /// change of the text form.
    #[test]
    fn every_mutation_truncation_and_extension_is_refused(
        spec in session_spec(),
        flip in 1u8..=255,
        extra in any::<u8>(),
        replacement in "[A-Za-z0-9+/=.!]",
    ) {
        let minted = mint(&spec, 4);
        let credentials = &minted.credentials;
        let text = credentials.session_token.as_str();
        let open = |candidate: &str| token::open(
            candidate, &credentials.access_key_id, &ring(), spec.issued_at, Duration::ZERO,
        );
        prop_assert!(open(text).is_ok());
        let raw = decode(text);
        for index in 0..raw.len() {
            let mut mutated = raw.clone();
            mutated[index] ^= flip;
            prop_assert!(open(&encode(&mutated)).is_err(), "byte {} ^ {:#x} accepted", index, flip);
        }
        for len in 0..raw.len() {
            prop_assert!(open(&encode(&raw[..len])).is_err(), "truncated to {} bytes accepted", len);
        }
        let mut extended = raw.clone();
        extended.push(extra);
        prop_assert!(open(&encode(&extended)).is_err());

        let replacement = replacement.chars().next().unwrap();
        for (index, original) in text.char_indices() {
            if original == replacement {
                continue;
            }
            let mut mutated = String::with_capacity(text.len());
            mutated.push_str(&text[..index]);
            mutated.push(replacement);
            mutated.push_str(&text[index + 1..]);
            prop_assert!(open(&mutated).is_err(), "char {} -> {:?} accepted", index, replacement);
        }
        for len in 0..text.len() {
            prop_assert!(open(&text[..len]).is_err());
        }
        let extended_text = format!("{text}{replacement}");
        prop_assert!(open(&extended_text).is_err());
    }

    /// Arbitrary input never panics and is never accepted.
    #[test]
    fn arbitrary_input_is_refused(text in "\\PC{0,600}", raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        let key = AccessKeyId::parse("ASIAQAAAAAAAGMKEM7X5").unwrap();
        prop_assert!(token::open(&text, &key, &ring(), at(0), Duration::ZERO).is_err());
        prop_assert!(token::open(&encode(&raw), &key, &ring(), at(0), Duration::ZERO).is_err());
    }
}

// ---- fixed cases ------------------------------------------------------------

#[test]
fn the_header_routes_version_and_key_before_decryption() {
    let minted = mint(&spec(role_session()), 5);
    let raw = decode(minted.credentials.session_token.as_str());
    let open = |bytes: &[u8]| {
        token::open(
            &encode(bytes),
            &minted.credentials.access_key_id,
            &ring(),
            at(0),
            Duration::ZERO,
        )
    };
    let mut v2 = raw.clone();
    v2[0] = 2;
    assert_eq!(open(&v2).unwrap_err(), TokenError::UnsupportedVersion(2));
    let mut other_key = raw.clone();
    other_key[4] = 9;
    assert_eq!(
        open(&other_key).unwrap_err(),
        TokenError::UnknownKey(KeyId::new(9))
    );
    let mut tampered = raw.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        open(&tampered).unwrap_err(),
        TokenError::AuthenticationFailed
    );
    assert_eq!(open(&raw[..20]).unwrap_err(), TokenError::Malformed);
    assert_eq!(open(&[]).unwrap_err(), TokenError::Malformed);
    let key = minted.credentials.access_key_id;
    assert_eq!(
        token::open("not base64!", &key, &ring(), at(0), Duration::ZERO).unwrap_err(),
        TokenError::Malformed
    );
    let huge = "A".repeat(MAX_SESSION_TOKEN_LEN + 4);
    assert_eq!(
        token::open(&huge, &key, &ring(), at(0), Duration::ZERO).unwrap_err(),
        TokenError::TooLong
    );
}

#[test]
fn tokens_from_the_future_respect_the_leeway() {
    let mut s = spec(role_session());
    s.issued_at = at(60_000);
    s.expires_at = at(3_600_000);
    let minted = mint(&s, 6);
    let credentials = &minted.credentials;
    let open = |now, leeway| {
        token::open(
            credentials.session_token.as_str(),
            &credentials.access_key_id,
            &ring(),
            now,
            leeway,
        )
    };
    assert_eq!(
        open(at(0), Duration::from_secs(59)).unwrap_err(),
        TokenError::NotYetValid {
            issued_at: at(60_000)
        }
    );
    assert!(open(at(0), Duration::from_secs(60)).is_ok());
}

#[test]
fn a_typical_assumed_role_token_is_small_and_identifies_its_caller() {
    let mut s = spec(role_session());
    s.tags.clear();
    s.policy = SessionPolicy::none();
    let minted = mint(&s, 7);
    let len = minted.credentials.session_token.len();
    assert!(len < 400, "typical token is {len} characters");
    let claims = open_at(&minted, at(1)).unwrap();
    let identity = claims.spec.principal.caller_identity(&Partition::aws());
    assert_eq!(identity.user_id, "AROAIDPPEZS35WEXAMPLE:John");
    assert_eq!(
        identity.arn.to_string(),
        "arn:aws:sts::123456789012:assumed-role/demo/John"
    );
    assert_eq!(identity.account.as_str(), "123456789012");
    assert_eq!(
        minted.credentials.access_key_id.account().unwrap().as_str(),
        "123456789012"
    );
}

/// Adds tags until the packed section is exactly [`PACKED_POLICY_LIMIT`] bytes.
fn fill_packed_budget(s: &mut SessionSpec) {
    let mut left = PACKED_POLICY_LIMIT - token::packed_size(&s.policy, &s.tags);
    while left > 0 {
        // Each tag costs 5 bytes of framing plus its key and value; keep at
        // least 6 bytes for a last tag with a one-character key.
        let mut take = left.min(5 + 128 + 256);
        if left - take > 0 && left - take < 6 {
            take -= 6;
        }
        let key_len = (take - 5).clamp(1, 128);
        let value_len = take - 5 - key_len;
        s.tags.push(SessionTag::new(
            "k".repeat(key_len),
            "v".repeat(value_len),
            true,
        ));
        left -= take;
    }
}

#[test]
fn packed_policy_size_is_reported_and_enforced() {
    let mut s = spec(role_session());
    let minted = mint(&s, 8);
    let packed = token::packed_size(&s.policy, &s.tags);
    assert_eq!(
        minted.packed_policy_percent,
        token::packed_policy_percent(packed)
    );
    assert!(minted.packed_policy_percent >= 1 && minted.packed_policy_percent < 100);

    // 50 tags of 128-character keys and 256-character values are allowed one
    // by one, but not together.
    s.tags = (0..50)
        .map(|i| SessionTag::new(format!("{i:0>128}"), "v".repeat(256), false))
        .collect();
    let error = token::mint(&s, &ring(), &mut DeterministicRandom::from_seed(1)).unwrap_err();
    let percent = token::packed_policy_percent(token::packed_size(&s.policy, &s.tags));
    assert!(percent > 100);
    assert_eq!(error, MintError::PackedPolicyTooLarge { percent });

    // Exactly at the limit is accepted and reported as 100 %.
    s.policy = SessionPolicy::none();
    s.tags = vec![SessionTag::new("k", "", false)];
    fill_packed_budget(&mut s);
    assert_eq!(token::packed_size(&s.policy, &s.tags), PACKED_POLICY_LIMIT);
    let minted = mint(&s, 9);
    assert_eq!(minted.packed_policy_percent, 100);
    assert_eq!(open_at(&minted, at(0)).unwrap().spec.tags, s.tags);
    s.tags[0].value.push('x');
    assert_eq!(
        token::mint(&s, &ring(), &mut DeterministicRandom::from_seed(1)).unwrap_err(),
        MintError::PackedPolicyTooLarge { percent: 101 }
    );
}

#[test]
fn the_largest_possible_token_fits_the_cap() {
    let path = format!("/{}/", "p".repeat(510));
    let role_id = UniqueId::parse(&format!("AROA{}", "A".repeat(124))).unwrap();
    let provider = format!(
        "arn:aws:iam::123456789012:oidc-provider/{}",
        "h".repeat(512 - 48)
    );
    let origin = SessionOrigin::web_identity(Arn::parse(&provider).unwrap()).unwrap();
    let role = AssumedRolePrincipal::new(
        account(999_999_999_999),
        &path,
        &"r".repeat(64),
        role_id,
        &"s".repeat(64),
        origin,
    )
    .unwrap();
    let mut s = spec(Principal::AssumedRole(role));
    s.region = "r".repeat(32);
    s.source_identity = Some("i".repeat(64));
    s.mfa_authenticated_at = Some(at(-1));
    s.policy = SessionPolicy::none();
    s.tags.clear();
    fill_packed_budget(&mut s);
    // Provider claims filled to their budget as well.
    let claim_key = "k".repeat(128);
    let value_len = PROVIDER_CLAIMS_LIMIT - token::provider_claims_size(&[]) - (1 + 128 + 2);
    s.provider_claims = vec![ProviderClaim::new(claim_key, "v".repeat(value_len))];
    assert_eq!(
        token::provider_claims_size(&s.provider_claims),
        PROVIDER_CLAIMS_LIMIT
    );
    assert_eq!(token::packed_size(&s.policy, &s.tags), PACKED_POLICY_LIMIT);
    let minted = mint(&s, 10);
    let len = minted.credentials.session_token.len();
    assert!(len <= MAX_SESSION_TOKEN_LEN, "worst case {len}");
    // ... and it does need more than 5 KiB, which is why the cap is 6 KiB.
    assert!(len > 5 * 1024, "worst case {len}");
    assert_eq!(open_at(&minted, at(0)).unwrap().spec, s);
}

#[test]
fn mint_refuses_invalid_specs_and_unusable_keys() {
    let base = spec(role_session());
    type Change = fn(&mut SessionSpec);
    let cases: Vec<(Change, MintError)> = vec![
        (|s| s.expires_at = s.issued_at, MintError::InvalidLifetime),
        (
            |s| s.region = String::new(),
            MintError::InvalidField { field: "region" },
        ),
        (
            |s| s.region = "EU-WEST-1".into(),
            MintError::InvalidField { field: "region" },
        ),
        (
            |s| s.source_identity = Some("x".into()),
            MintError::InvalidField {
                field: "source identity",
            },
        ),
        (
            |s| s.source_identity = Some("a b".into()),
            MintError::InvalidField {
                field: "source identity",
            },
        ),
        (
            |s| s.tags = vec![SessionTag::new("", "v", false)],
            MintError::InvalidField { field: "tag key" },
        ),
        (
            |s| s.tags = vec![SessionTag::new("k".repeat(129), "v", false)],
            MintError::InvalidField { field: "tag key" },
        ),
        (
            |s| s.tags = vec![SessionTag::new("k", "v".repeat(257), false)],
            MintError::InvalidField { field: "tag value" },
        ),
        (
            |s| s.tags = vec![SessionTag::new("k", "v", false); 51],
            MintError::TooManyTags,
        ),
        (
            |s| s.provider_claims = vec![ProviderClaim::new("saml:sub", "x".repeat(501))],
            MintError::ProviderClaimsTooLarge,
        ),
        (
            |s| s.provider_claims = vec![ProviderClaim::new("", "x")],
            MintError::InvalidField {
                field: "provider claim key",
            },
        ),
        (
            |s| s.provider_claims = vec![ProviderClaim::new("saml:\nsub", "x")],
            MintError::InvalidField {
                field: "provider claim key",
            },
        ),
        (
            |s| s.issued_at = at(-1),
            MintError::Key(meridian_core::keyring::KeyError::NoSigningKey),
        ),
    ];
    for (change, expected) in cases {
        let mut s = base.clone();
        change(&mut s);
        assert_eq!(
            token::mint(&s, &ring(), &mut DeterministicRandom::from_seed(1)).unwrap_err(),
            expected
        );
    }

    // A key scheduled for destruction before the session ends is not used.
    let mut short_lived = ring();
    let mut schedule = *short_lived.schedule(KeyId::new(1)).unwrap();
    schedule.destroy_at = Some(base.expires_at.plus_millis(-1));
    short_lived.set_schedule(KeyId::new(1), schedule).unwrap();
    assert_eq!(
        token::mint(&base, &short_lived, &mut DeterministicRandom::from_seed(1)).unwrap_err(),
        MintError::KeyOutlivedBySession {
            key_id: KeyId::new(1)
        }
    );
}

#[test]
fn each_mint_is_fresh() {
    let s = spec(role_session());
    let mut rng = DeterministicRandom::from_seed(11);
    let first = token::mint(&s, &ring(), &mut rng).unwrap();
    let second = token::mint(&s, &ring(), &mut rng).unwrap();
    assert_ne!(first.session_id, second.session_id);
    assert_ne!(
        first.credentials.access_key_id,
        second.credentials.access_key_id
    );
    assert_ne!(
        first.credentials.secret_access_key,
        second.credentials.secret_access_key
    );
    assert_ne!(
        first.credentials.session_token,
        second.credentials.session_token
    );
}

#[test]
fn debug_output_never_shows_the_secret_or_the_token() {
    let minted = mint(&spec(role_session()), 12);
    let claims = open_at(&minted, at(0)).unwrap();
    let secret = minted
        .credentials
        .secret_access_key
        .expose_secret()
        .to_owned();
    let token_text = minted.credentials.session_token.as_str().to_owned();
    for output in [
        format!("{minted:?}"),
        format!("{:?}", minted.credentials),
        format!("{claims:?}"),
        format!("{:#?}", claims),
    ] {
        assert!(!output.contains(&secret), "{output}");
        assert!(!output.contains(&token_text[..32]), "{output}");
        assert!(output.contains("redacted"), "{output}");
    }
}

/// A version 1 token minted by this build from fixed inputs (key ring of
/// seed 99, random stream of seed 2026, the `spec(role_session())` claims at
/// T0). Nodes of the next version must still open it during a rolling
/// upgrade, so the format may only change under a new version byte: if this
/// test fails, the v1 encoding changed.
const FROZEN_V1_TOKEN: &str = concat!(
    "AQAAAAGOX0yNClR2Klbi/ssSJHy2RWahijQxslsxIMUQ6Mv4t4k1ujDPUytWwMF0QkT2b+C2BEyjO3aa",
    "PaD8hkB0h7Pr19UGSzAdkclN4yZ8loB4pR619Kg7Wu1rTbiOBLUpEWHmJKxGDK0mASDVOSphUVaDoXsZ",
    "xo1rXOcPz7LIBLDYXaiZT2TsXch+2qNUrCjO5XNMd/m14XDsgdCAEWQ9HglzIWj9jUN/Hg0D8EmS9lBh",
    "MFweUPessIRhLrN2xGI8jy+7DgEcsbYbi6UeVvcrZZdpekGLGBgGVVuTJv5y95S+h4wNBZCo6T2ACRd7",
    "i7bv0++5YnUHpFfHgg==",
);

#[test]
fn a_frozen_v1_token_still_opens_and_minting_reproduces_it() {
    let s = spec(role_session());
    let minted = mint(&s, 2026);
    assert_eq!(minted.credentials.session_token.as_str(), FROZEN_V1_TOKEN);
    let claims = token::open(
        FROZEN_V1_TOKEN,
        &minted.credentials.access_key_id,
        &ring(),
        at(0),
        Duration::ZERO,
    )
    .unwrap();
    assert_eq!(claims.spec, s);
    assert_eq!(claims.version, 1);
    assert_eq!(
        claims.secret_access_key,
        minted.credentials.secret_access_key
    );
}
