//! The JWT negative corpus of RELIABILITY.md b.3 at the validator level,
//! plus the happy paths it is mutated from. Every row asserts the AWS code
//! the edge answers with (the edge's router tests repeat the rows end to end
//! and count outbound fetches).
//!
//! Keys are generated with AWS-LC once per test binary; tokens are signed
//! here by hand (header, claims, signature) so each bad input is exactly the
//! bytes the row describes.

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use crate::oidc::jwk::{Algorithm, Jwks, b64url};
use crate::oidc::outbound::{self, OutboundClaims};
use crate::oidc::token::{Expectations, UnverifiedToken};
use crate::oidc::{AwsCode, OidcError};
use crate::time::Timestamp;

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "client-1";
const NOW: i64 = 1_800_000_000;

struct Idp {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    jwks: Jwks,
    jwks_json: String,
}

static IDP: LazyLock<Idp> = LazyLock::new(|| {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .unwrap_or_else(|e| panic!("{e}"));
    let (n, e) = outbound::parse_rsa_public_key(rsa.public_key().as_ref())
        .unwrap_or_else(|| panic!("rsa public key"));
    let point = ec.public_key().as_ref();
    let jwks_json = json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "n": b64url(n), "e": b64url(e)},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256",
         "x": b64url(&point[1..33]), "y": b64url(&point[33..65])},
        // Unusable entries are skipped, not fatal.
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64url(n), "e": b64url(e)},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
    ]})
    .to_string();
    let jwks = Jwks::parse(jwks_json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    Idp {
        rsa,
        ec,
        jwks,
        jwks_json,
    }
});

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-42", "aud": CLIENT,
        "iat": NOW - 10, "exp": NOW + 600, "amr": ["pwd", "mfa"],
    })
}

fn encode(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

fn sign_rs(input: &str, alg: Algorithm) -> Vec<u8> {
    let padding: &'static dyn signature::RsaEncoding = match alg {
        Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
        _ => &signature::RSA_PKCS1_SHA256,
    };
    let mut sig = vec![0; IDP.rsa.public_modulus_len()];
    IDP.rsa
        .sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
        .unwrap_or_else(|e| panic!("{e}"));
    sig
}

fn sign_es(input: &str) -> Vec<u8> {
    IDP.ec
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
        .as_ref()
        .to_vec()
}

fn rs256(claims: &Value) -> String {
    let input = encode(
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
        claims,
    );
    let sig = sign_rs(&input, Algorithm::Rs256);
    format!("{input}.{}", b64url(&sig))
}

fn expectations() -> Expectations<'static> {
    static CLIENTS: LazyLock<Vec<String>> =
        LazyLock::new(|| vec![String::from("other"), String::from(CLIENT)]);
    Expectations {
        issuer: ISSUER,
        client_ids: &CLIENTS,
        leeway_seconds: 60,
    }
}

/// Parse, validate claims, verify: the edge's order.
fn check(token: &str) -> Result<crate::oidc::token::IdentityClaims, OidcError> {
    let parsed = UnverifiedToken::parse(token)?;
    let claims = parsed.validate_claims(&expectations(), Timestamp::from_unix_seconds(NOW))?;
    parsed.verify_signature(&IDP.jwks)?;
    Ok(claims)
}

#[test]
fn jwks_keeps_only_signature_keys() {
    assert_eq!(IDP.jwks.keys().len(), 2, "{}", IDP.jwks_json);
    assert_eq!(IDP.jwks.skipped(), 3);
    let rsa = &IDP.jwks.keys()[0];
    assert_eq!(
        rsa.algorithms().collect::<Vec<_>>(),
        [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512]
    );
    assert_eq!(
        IDP.jwks.keys()[1].algorithms().collect::<Vec<_>>(),
        [Algorithm::Es256]
    );
    for bad in [&b"[]"[..], b"{}", b"{\"keys\": 3}", b"not json"] {
        assert!(Jwks::parse(bad).is_err());
    }
    assert!(Jwks::parse(&vec![b' '; 300 * 1024]).is_err());
}

#[test]
fn happy_paths_rs256_rs384_rs512_es256() {
    let claims_in = claims();
    let ok = check(&rs256(&claims_in)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.subject, "user-42");
    assert_eq!(ok.audience, CLIENT);
    assert_eq!(ok.amr, ["pwd", "mfa"]);
    for alg in [Algorithm::Rs384, Algorithm::Rs512] {
        let input = encode(&json!({"alg": alg.name(), "kid": "rsa-1"}), &claims_in);
        let token = format!("{input}.{}", b64url(&sign_rs(&input, alg)));
        assert!(check(&token).is_ok(), "{alg}");
    }
    let input = encode(&json!({"alg": "ES256", "kid": "ec-1"}), &claims_in);
    let token = format!("{input}.{}", b64url(&sign_es(&input)));
    assert!(check(&token).is_ok());
    // Without kid: every key allowing the algorithm is tried.
    let input = encode(&json!({"alg": "ES256"}), &claims_in);
    let token = format!("{input}.{}", b64url(&sign_es(&input)));
    assert!(check(&token).is_ok());
}

#[test]
fn tags_and_source_identity_claims() {
    let mut c = claims();
    c["https://aws.amazon.com/tags"] = json!({
        "principal_tags": {"Project": ["Unicorn"], "Team": ["A"]},
        "transitive_tag_keys": ["Project"],
    });
    c["https://aws.amazon.com/source_identity"] = json!("alice");
    let ok = check(&rs256(&c)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok.principal_tags,
        [
            ("Project".to_owned(), "Unicorn".to_owned()),
            ("Team".to_owned(), "A".to_owned())
        ]
    );
    assert_eq!(ok.transitive_tag_keys, ["Project"]);
    assert_eq!(ok.source_identity.as_deref(), Some("alice"));
    for bad in [
        json!("x"),
        json!({"principal_tags": {"K": ["a", "b"]}}),
        json!({"principal_tags": {"K": [1]}}),
        json!({"principal_tags": {"K": ["v"]}, "transitive_tag_keys": ["Other"]}),
    ] {
        let mut c = claims();
        c["https://aws.amazon.com/tags"] = bad;
        let err = check(&rs256(&c)).err();
        assert_eq!(err.map(|e| e.aws_code()), Some(AwsCode::IdpRejectedClaim));
    }
}

/// Asserts `token` is refused with `code`.
fn refused(token: &str, code: AwsCode) -> OidcError {
    match check(token) {
        Ok(claims) => panic!("accepted: {claims:?}"),
        Err(error) => {
            assert_eq!(error.aws_code(), code, "{error}");
            error
        }
    }
}

#[test]
fn corpus_alg_none_and_hmac_with_the_public_key() {
    // alg none, empty signature.
    let input = encode(&json!({"alg": "none"}), &claims());
    refused(&format!("{input}."), AwsCode::InvalidIdentityToken);
    refused(&format!("{input}.AAAA"), AwsCode::InvalidIdentityToken);
    for alg in [
        "None", "NONE", "", "HS256", "HS384", "HS512", "PS256", "EdDSA",
    ] {
        let input = encode(&json!({"alg": alg, "kid": "rsa-1"}), &claims());
        let err = refused(&format!("{input}.AAAA"), AwsCode::InvalidIdentityToken);
        assert!(
            matches!(err, OidcError::UnsupportedAlgorithm(_)),
            "{alg}: {err}"
        );
    }
    // HS256 "signed" with the IdP's RSA public key as the HMAC secret
    // (CVE-2015-9235): refused by algorithm, whatever the MAC.
    let secret = IDP.rsa.public_key().as_ref().to_vec();
    let input = encode(&json!({"alg": "HS256", "kid": "rsa-1"}), &claims());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let mac = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    refused(
        &format!("{input}.{}", b64url(mac.as_ref())),
        AwsCode::InvalidIdentityToken,
    );
    // The same MAC under an RS256 header fails the RSA check.
    let input = encode(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims());
    let mac = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let err = refused(
        &format!("{input}.{}", b64url(mac.as_ref())),
        AwsCode::InvalidIdentityToken,
    );
    assert_eq!(err, OidcError::BadSignature);
    // An ES256 header naming the RSA key: the key type decides.
    let input = encode(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims());
    let err = refused(
        &format!("{input}.{}", b64url(&sign_es(&input))),
        AwsCode::InvalidIdentityToken,
    );
    assert_eq!(err, OidcError::BadSignature);
}

#[test]
fn corpus_zero_ecdsa_scalars() {
    let input = encode(&json!({"alg": "ES256", "kid": "ec-1"}), &claims());
    let err = refused(
        &format!("{input}.{}", b64url(&[0u8; 64])),
        AwsCode::InvalidIdentityToken,
    );
    assert_eq!(err, OidcError::BadSignature);
    // r = 0 with a valid s, and s = 0 with a valid r.
    let good = sign_es(&input);
    for zeroed in [0..32, 32..64] {
        let mut sig = good.clone();
        sig[zeroed].fill(0);
        assert_eq!(
            check(&format!("{input}.{}", b64url(&sig))).err(),
            Some(OidcError::BadSignature)
        );
    }
}

#[test]
fn corpus_hostile_kids_are_only_lookup_keys() {
    for kid in [
        "../../../../dev/null",
        "x' UNION SELECT 'k'--",
        "",
        "rsa-1 ",
    ] {
        let input = encode(&json!({"alg": "RS256", "kid": kid}), &claims());
        let token = format!("{input}.{}", b64url(&sign_rs(&input, Algorithm::Rs256)));
        let err = refused(&token, AwsCode::InvalidIdentityToken);
        assert_eq!(err, OidcError::UnknownKey, "{kid:?}");
    }
    let input = encode(&json!({"alg": "RS256", "kid": "k".repeat(300)}), &claims());
    refused(&format!("{input}.AAAA"), AwsCode::InvalidIdentityToken);
}

#[test]
fn corpus_embedded_key_headers_are_ignored() {
    // The attacker's own key, offered through jwk/jku/x5u, signs the token.
    let attacker = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .unwrap_or_else(|e| panic!("{e}"));
    let point = attacker.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..65])});
    for header in [
        json!({"alg": "ES256", "jwk": jwk}),
        json!({"alg": "ES256", "kid": "ec-1", "jwk": jwk}),
        json!({"alg": "ES256", "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "ES256", "kid": "ec-1", "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "ES256", "kid": "attacker", "jku": "https://attacker.example/jwks"}),
    ] {
        let input = encode(&header, &claims());
        let sig = attacker
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let err = refused(
            &format!("{input}.{}", b64url(sig.as_ref())),
            AwsCode::InvalidIdentityToken,
        );
        assert!(
            matches!(err, OidcError::BadSignature | OidcError::UnknownKey),
            "{header}: {err}"
        );
    }
}

#[test]
fn corpus_time_claims_must_be_integers() {
    let cases: [(&str, Value); 9] = [
        ("exp", Value::Null),
        ("exp", json!("never")),
        ("exp", json!(1.8e9)),
        ("exp", json!(true)),
        ("iat", Value::Null),
        ("iat", json!("1799999990")),
        ("nbf", json!("99999999999")),
        ("nbf", json!(1.0)),
        ("exp", json!(-5)),
    ];
    for (claim, value) in cases {
        let mut c = claims();
        if value.is_null() {
            c.as_object_mut().map(|o| o.remove(claim));
        } else {
            c[claim] = value.clone();
        }
        let err = refused(&rs256(&c), AwsCode::InvalidIdentityToken);
        assert!(
            matches!(err, OidcError::MissingClaim(_) | OidcError::InvalidClaim(_)),
            "{claim}={value}: {err}"
        );
    }
    let mut c = claims();
    c.as_object_mut().map(|o| o.remove("exp"));
    assert_eq!(
        refused(&rs256(&c), AwsCode::InvalidIdentityToken).aws_message(),
        "Missing a required claim: exp"
    );
}

#[test]
fn corpus_audience_issuer_and_azp() {
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        rs256(&c)
    };
    let rows: [(&str, String); 8] = [
        ("aud wrong", mutate(&|c| c["aud"] = json!("nope"))),
        (
            "aud array without us",
            mutate(&|c| c["aud"] = json!(["a", "b"])),
        ),
        ("aud empty array", mutate(&|c| c["aud"] = json!([]))),
        ("aud number", mutate(&|c| c["aud"] = json!(7))),
        (
            "aud missing",
            mutate(&|c| {
                c.as_object_mut().map(|o| o.remove("aud"));
            }),
        ),
        (
            "iss trailing slash",
            mutate(&|c| c["iss"] = json!("https://idp.example.com/")),
        ),
        (
            "iss other case",
            mutate(&|c| c["iss"] = json!("https://IDP.example.com")),
        ),
        (
            "azp mismatch",
            mutate(&|c| c["azp"] = json!("someone-else")),
        ),
    ];
    for (name, token) in rows {
        let err = refused(&token, AwsCode::InvalidIdentityToken);
        assert!(
            matches!(
                err,
                OidcError::IncorrectAudience
                    | OidcError::IssuerMismatch
                    | OidcError::InvalidClaim(_)
                    | OidcError::MissingClaim(_)
            ),
            "{name}: {err}"
        );
    }
    // aud array containing us, and azp naming us while aud names another.
    assert!(check(&mutate(&|c| c["aud"] = json!(["x", CLIENT]))).is_ok());
    let ok = check(&mutate(&|c| {
        c["aud"] = json!("backend");
        c["azp"] = json!(CLIENT);
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (ok.audience.as_str(), ok.aud.as_slice()),
        (CLIENT, &["backend".to_owned()][..])
    );
    assert_eq!(
        refused(
            &mutate(&|c| c["aud"] = json!("nope")),
            AwsCode::InvalidIdentityToken
        )
        .aws_message(),
        "Incorrect token audience"
    );
}

#[test]
fn corpus_expiry_and_not_before() {
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    let err = refused(&rs256(&c), AwsCode::ExpiredToken);
    assert!(
        err.aws_message()
            .starts_with("Token expired: current date/time")
    );
    // Within the leeway: accepted.
    c["exp"] = json!(NOW - 30);
    assert!(check(&rs256(&c)).is_ok());
    let mut c = claims();
    c["nbf"] = json!(NOW + 61);
    assert_eq!(
        refused(&rs256(&c), AwsCode::InvalidIdentityToken),
        OidcError::NotYetValid
    );
    c["nbf"] = json!(NOW + 30);
    assert!(check(&rs256(&c)).is_ok());
    let mut c = claims();
    c["iat"] = json!(NOW + 3600);
    assert_eq!(
        refused(&rs256(&c), AwsCode::InvalidIdentityToken),
        OidcError::IssuedInFuture
    );
}

#[test]
fn corpus_oversized_and_deeply_nested() {
    // 1 MB: refused on length before any decoding.
    let huge = "a".repeat(1024 * 1024);
    assert_eq!(
        UnverifiedToken::parse(&huge).err(),
        Some(OidcError::TooLong)
    );
    // 10,000 nested arrays do not fit the length cap either.
    let mut c = claims();
    c["deep"] = serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100)))
        .unwrap_or(Value::Null);
    let deep = format!(
        "{}.{}.AAAA",
        b64url(br#"{"alg":"RS256"}"#),
        b64url(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes())
    );
    assert_eq!(
        UnverifiedToken::parse(&deep).err(),
        Some(OidcError::TooLong)
    );
    // Depth within the length cap is bounded by the JSON parser.
    let nested = format!(
        "{}.{}.AAAA",
        b64url(br#"{"alg":"RS256"}"#),
        b64url(format!("{{\"a\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000)).as_bytes())
    );
    assert!(nested.len() <= crate::oidc::token::MAX_TOKEN_LEN);
    assert!(matches!(
        UnverifiedToken::parse(&nested).err(),
        Some(OidcError::Malformed(_))
    ));
    // Garbage shapes.
    for bad in [
        "",
        "a",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!.!!.!!",
        "e30.e30.",
        "e30.W10.AAAA",
    ] {
        assert!(UnverifiedToken::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn corpus_signature_tampering() {
    let token = rs256(&claims());
    let (input, sig) = token.rsplit_once('.').unwrap_or_default();
    // Claims changed after signing.
    let mut c = claims();
    c["sub"] = json!("admin");
    let forged = format!(
        "{}.{}",
        encode(&json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}), &c),
        sig
    );
    assert_eq!(check(&forged).err(), Some(OidcError::BadSignature));
    // One signature byte flipped.
    let mut raw = data_encoding::BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .unwrap_or_default();
    raw[10] ^= 1;
    assert_eq!(
        check(&format!("{input}.{}", b64url(&raw))).err(),
        Some(OidcError::BadSignature)
    );
    // Signature moved to another algorithm of the same key.
    let rs384 = input.replacen(
        &b64url(
            json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"})
                .to_string()
                .as_bytes(),
        ),
        &b64url(
            json!({"alg": "RS384", "kid": "rsa-1", "typ": "JWT"})
                .to_string()
                .as_bytes(),
        ),
        1,
    );
    assert_eq!(
        check(&format!("{rs384}.{sig}")).err(),
        Some(OidcError::BadSignature)
    );
}

#[test]
fn outbound_tokens_verify_with_the_published_keys() {
    let es384 = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)
        .unwrap_or_else(|e| panic!("{e}"));
    let rsa = outbound::published_key("rs-1", Algorithm::Rs256, IDP.rsa.public_key().as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    let ec = outbound::published_key("es-1", Algorithm::Es384, es384.public_key().as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    let n = rsa.jwk["n"].as_str().unwrap_or_default();
    let n = data_encoding::BASE64URL_NOPAD
        .decode(n.as_bytes())
        .unwrap_or_default();
    assert_eq!(n.len(), 256, "no DER leading zero in a JWK modulus");
    let document = outbound::jwks_document(&[rsa, ec]);
    let jwks = Jwks::parse(document.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(jwks.keys().len(), 2);
    let tags = std::collections::BTreeMap::from([("team".to_owned(), "a".to_owned())]);
    let audiences = [String::from(CLIENT)];
    let claims_json = outbound::claims_json(&OutboundClaims {
        issuer: ISSUER,
        subject: "arn:aws:iam::123456789012:role/r",
        audiences: &audiences,
        issued_at: NOW,
        expires_at: NOW + 300,
        jti: "j-1",
        account: "123456789012",
        source_region: "eu-west-1",
        principal_id: "arn:aws:iam::123456789012:role/r",
        principal_tags: &tags,
        request_tags: &std::collections::BTreeMap::new(),
    });
    let input = outbound::signing_input(Algorithm::Es384, "es-1", &claims_json);
    let sig = es384
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let token = outbound::compact(&input, sig.as_ref());
    let parsed = UnverifiedToken::parse(&token).unwrap_or_else(|e| panic!("{e}"));
    let claims = parsed
        .validate_claims(&expectations(), Timestamp::from_unix_seconds(NOW))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims.subject, "arn:aws:iam::123456789012:role/r");
    assert_eq!(parsed.verify_signature(&jwks), Ok(()));
    let value: Value = serde_json::from_str(&claims_json).unwrap_or(Value::Null);
    assert_eq!(
        value[outbound::NAMESPACE_CLAIM]["principal_tags"]["team"],
        "a"
    );
    assert!(
        value[outbound::NAMESPACE_CLAIM]
            .get("request_tags")
            .is_none()
    );
    assert!(outbound::parse_rsa_public_key(&[0x30, 0x03, 0x02, 0x01]).is_none());
}
