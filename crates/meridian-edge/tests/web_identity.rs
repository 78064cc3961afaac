//! `AssumeRoleWithWebIdentity` through the router: happy paths (RS256,
//! ES256) with tokens signed by an independent library (`jsonwebtoken`),
//! trust-policy condition keys, tags and source identity from claims, and
//! every row of the JWT negative corpus (RELIABILITY.md b.3) answered with
//! AWS's code and status — while a counting [`JwksSource`] proves that no
//! key fetch is ever asked for an issuer that is not registered, and that a
//! request asks for at most one refresh.

mod sts_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use axum::body::Body;
use base64::Engine as _;
use http::Request;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meridian_core::config::command::Command;
use meridian_core::oidc::jwk::{Jwks, b64url};
use meridian_core::oidc::outbound::parse_rsa_public_key;
use meridian_edge::federation::{Federation, JwksError, JwksSource, KeyLookup};
use meridian_edge::state::BoxFuture;
use serde_json::{Value, json};
use sts_support::*;

const ISSUER: &str = "https://idp.example.com";
const PROVIDER: &str = "idp.example.com";
const CLIENT: &str = "client-1";

struct Keys {
    rsa: EncodingKey,
    ec: EncodingKey,
    jwks: Arc<Jwks>,
    /// A second RSA key the provider does not publish.
    stranger: EncodingKey,
    /// The provider's RSA public key (RFC 8017 DER), the HMAC secret of
    /// the key-confusion attack.
    rsa_public: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
    .into_bytes()
}

fn rsa_key() -> (RsaKeyPair, EncodingKey) {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let der =
        AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap_or_else(|e| panic!("{e}"));
    let key = EncodingKey::from_rsa_pem(&pem("PRIVATE KEY", der.as_ref()))
        .unwrap_or_else(|e| panic!("{e}"));
    (pair, key)
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let (rsa_pair, rsa) = rsa_key();
    let (_, stranger) = rsa_key();
    let ec_pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .unwrap_or_else(|e| panic!("{e}"));
    let ec_der = ec_pair.to_pkcs8v1().unwrap_or_else(|e| panic!("{e}"));
    let ec = EncodingKey::from_ec_pem(&pem("PRIVATE KEY", ec_der.as_ref()))
        .unwrap_or_else(|e| panic!("{e}"));
    let (n, e) = parse_rsa_public_key(rsa_pair.public_key().as_ref())
        .unwrap_or_else(|| panic!("rsa public key"));
    let point = ec_pair.public_key().as_ref();
    let document = json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "n": b64url(n), "e": b64url(e)},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256",
         "x": b64url(&point[1..33]), "y": b64url(&point[33..65])},
    ]});
    let jwks =
        Arc::new(Jwks::parse(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")));
    Keys {
        rsa,
        ec,
        jwks,
        stranger,
        rsa_public: rsa_pair.public_key().as_ref().to_vec(),
    }
});

/// A key source that answers from memory and counts what it is asked.
#[derive(Default)]
struct CountingSource {
    cached: AtomicUsize,
    refreshes: AtomicUsize,
    asked: Mutex<Vec<String>>,
    down: AtomicBool,
}

impl JwksSource for CountingSource {
    fn keys<'a>(
        &'a self,
        issuer: &'a str,
        lookup: KeyLookup<'a>,
    ) -> BoxFuture<'a, Result<Arc<Jwks>, JwksError>> {
        match lookup {
            KeyLookup::Cached => self.cached.fetch_add(1, Ordering::SeqCst),
            KeyLookup::Refresh { .. } => self.refreshes.fetch_add(1, Ordering::SeqCst),
        };
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(issuer.to_owned());
        let answer = if self.down.load(Ordering::SeqCst) {
            Err(JwksError::Unreachable("connection refused".into()))
        } else if issuer == ISSUER {
            Ok(Arc::clone(&KEYS.jwks))
        } else {
            Err(JwksError::Refused(format!("{issuer} is not registered")))
        };
        Box::pin(std::future::ready(answer))
    }
}

impl CountingSource {
    fn fetches(&self) -> usize {
        self.cached.load(Ordering::SeqCst) + self.refreshes.load(Ordering::SeqCst)
    }
}

struct Fixture {
    world: World,
    snapshots: Snapshots,
    edge: Edge,
    source: Arc<CountingSource>,
}

fn federated_trust(conditions: Value, actions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT_A}:oidc-provider/{PROVIDER}")},
        "Action": actions,
        "Condition": conditions,
    }]})
    .to_string()
}

fn fixture() -> Fixture {
    let mut world = World::new();
    world.ok(Command::CreateOidcProvider {
        account_id: account(ACCOUNT_A),
        url: ISSUER.into(),
        client_ids: vec!["other".into(), CLIENT.into()],
        thumbprints: Vec::new(),
        tags: Default::default(),
    });
    world.create_role(
        ACCOUNT_A,
        "web",
        &federated_trust(
            json!({"StringEquals": {format!("{PROVIDER}:aud"): CLIENT}}),
            &["sts:AssumeRoleWithWebIdentity"],
        ),
        Some(ALLOW_ALL),
        Default::default(),
    );
    world.create_role(
        ACCOUNT_A,
        "only-42",
        &federated_trust(
            json!({"StringEquals": {format!("{PROVIDER}:sub"): "user-42"},
                   "ForAnyValue:StringEquals": {format!("{PROVIDER}:amr"): "mfa"}}),
            &["sts:AssumeRoleWithWebIdentity"],
        ),
        None,
        Default::default(),
    );
    world.create_role(
        ACCOUNT_A,
        "tagged",
        &federated_trust(
            json!({"StringEquals": {"aws:RequestTag/Team": "A", "sts:SourceIdentity": "alice"}}),
            &[
                "sts:AssumeRoleWithWebIdentity",
                "sts:TagSession",
                "sts:SetSourceIdentity",
            ],
        ),
        None,
        Default::default(),
    );
    world.create_role(
        ACCOUNT_A,
        "no-tags",
        &federated_trust(json!({}), &["sts:AssumeRoleWithWebIdentity"]),
        None,
        Default::default(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let source = Arc::new(CountingSource::default());
    edge.state
        .install_federation(Federation {
            jwks: source.clone(),
            leeway: Duration::from_secs(60),
            ..Federation::default()
        })
        .unwrap_or_else(|_| panic!("installed twice"));
    Fixture {
        world,
        snapshots,
        edge,
        source,
    }
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-42", "aud": CLIENT,
        "iat": T0 - 10, "exp": T0 + 600, "amr": ["pwd", "mfa"],
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let key = match alg {
        Algorithm::ES256 => &KEYS.ec,
        _ => &KEYS.rsa,
    };
    jsonwebtoken::encode(&header, claims, key).unwrap_or_else(|e| panic!("{e}"))
}

fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, Some("rsa-1"), claims)
}

/// An unsigned AssumeRoleWithWebIdentity, as boto3 sends it.
async fn assume(f: &Fixture, role: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
    let role_arn = format!("arn:aws:iam::{ACCOUNT_A}:role/{role}");
    let mut params = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn.as_str()),
        ("RoleSessionName", "web-session"),
        ("WebIdentityToken", token),
    ];
    params.extend_from_slice(extra);
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", HOST)
        .header("content-type", CONTENT_TYPE)
        .body(Body::from(form(&params)))
        .unwrap_or_else(|e| panic!("{e}"));
    send(&f.edge.app, request).await
}

#[tokio::test]
async fn rs256_and_es256_tokens_become_role_sessions() {
    let f = fixture();
    for token in [
        rs256(&claims()),
        sign(Algorithm::ES256, Some("ec-1"), &claims()),
        sign(Algorithm::RS512, Some("rsa-1"), &claims()),
        sign(Algorithm::ES256, None, &claims()),
    ] {
        let reply = assume(&f, "web", &token, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.must("SubjectFromWebIdentityToken"), "user-42");
        assert_eq!(reply.must("Audience"), CLIENT);
        assert_eq!(
            reply.must("Provider"),
            format!("arn:aws:iam::{ACCOUNT_A}:oidc-provider/{PROVIDER}")
        );
        assert_eq!(
            reply.must("AssumedRoleUser/Arn"),
            format!("arn:aws:sts::{ACCOUNT_A}:assumed-role/web/web-session")
        );
        assert!(reply.field("PackedPolicySize").is_none());
        let creds = reply.credentials();
        let who = f.edge.sts(&creds, &[("Action", "GetCallerIdentity")]).await;
        assert_eq!(
            who.must("Arn"),
            format!("arn:aws:sts::{ACCOUNT_A}:assumed-role/web/web-session")
        );
    }
    // Warm keys: one cached lookup per call, no refresh.
    assert_eq!(f.source.cached.load(Ordering::SeqCst), 4);
    assert_eq!(f.source.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn trust_conditions_on_provider_keys() {
    let f = fixture();
    let reply = assume(&f, "only-42", &rs256(&claims()), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut other = claims();
    other["sub"] = json!("user-7");
    assume(&f, "only-42", &rs256(&other), &[])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
    let mut no_mfa = claims();
    no_mfa["amr"] = json!(["pwd"]);
    assume(&f, "only-42", &rs256(&no_mfa), &[])
        .await
        .assert_error(403, "AccessDenied", "Not authorized");
    // `{p}:aud` is the azp when present: a token for another audience whose
    // azp is ours passes the role whose trust checks aud = client-1.
    let mut azp = claims();
    azp["aud"] = json!("backend");
    azp["azp"] = json!(CLIENT);
    let reply = assume(&f, "web", &rs256(&azp), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The "other" client id is registered but the trust wants client-1.
    let mut other_client = claims();
    other_client["aud"] = json!("other");
    assume(&f, "web", &rs256(&other_client), &[])
        .await
        .assert_error(403, "AccessDenied", "Not authorized");
    // Unknown and foreign roles are refused alike.
    assume(&f, "missing", &rs256(&claims()), &[])
        .await
        .assert_error(403, "AccessDenied", "Not authorized");
}

#[tokio::test]
async fn tags_and_source_identity_come_from_claims() {
    let f = fixture();
    let mut tagged = claims();
    tagged["https://aws.amazon.com/tags"] = json!({
        "principal_tags": {"Team": ["A"], "Project": ["Unicorn"]},
        "transitive_tag_keys": ["Project"],
    });
    tagged["https://aws.amazon.com/source_identity"] = json!("alice");
    let reply = assume(&f, "tagged", &rs256(&tagged), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.must("SourceIdentity"), "alice");
    assert!(reply.field("PackedPolicySize").is_some());
    // A role whose trust does not allow sts:TagSession refuses tagged tokens.
    assume(&f, "no-tags", &rs256(&tagged), &[])
        .await
        .assert_error(403, "AccessDenied", "Not authorized");
    // The trust condition on the tag value.
    let mut wrong_team = tagged.clone();
    wrong_team["https://aws.amazon.com/tags"]["principal_tags"]["Team"] = json!(["B"]);
    assume(&f, "tagged", &rs256(&wrong_team), &[])
        .await
        .assert_error(403, "AccessDenied", "Not authorized");
    // Malformed AWS claims: IDPRejectedClaim.
    let mut bad = claims();
    bad["https://aws.amazon.com/tags"] = json!({"principal_tags": {"Team": ["A", "B"]}});
    assume(&f, "tagged", &rs256(&bad), &[])
        .await
        .assert_error(403, "IDPRejectedClaim", "");
    let mut bad = claims();
    bad["https://aws.amazon.com/source_identity"] = json!("has spaces !");
    assume(&f, "tagged", &rs256(&bad), &[])
        .await
        .assert_error(403, "IDPRejectedClaim", "");
}

#[tokio::test]
async fn duration_and_session_policies() {
    let f = fixture();
    let token = rs256(&claims());
    assume(&f, "web", &token, &[("DurationSeconds", "7201")])
        .await
        .assert_error(
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        );
    let reply = assume(&f, "web", &token, &[("DurationSeconds", "7200")]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = assume(
        &f,
        "web",
        &token,
        &[(
            "Policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        )],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.field("PackedPolicySize").is_some());
    assume(&f, "web", &token, &[("Policy", "{not json")])
        .await
        .assert_error(400, "MalformedPolicyDocument", "");
}

/// One corpus row: the token, the code and status AWS answers, and whether
/// a key lookup may happen for it at all.
struct Row {
    name: &'static str,
    token: String,
    status: u16,
    code: &'static str,
    may_fetch: bool,
}

fn mutated(f: impl Fn(&mut Value)) -> String {
    let mut c = claims();
    f(&mut c);
    rs256(&c)
}

fn raw(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(signature)
    )
}

fn corpus() -> Vec<Row> {
    let invalid = |name, token, may_fetch| Row {
        name,
        token,
        status: 400,
        code: "InvalidIdentityToken",
        may_fetch,
    };
    let hs256_with_public_key = {
        let header = json!({"alg": "HS256", "kid": "rsa-1"});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims().to_string().as_bytes())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEYS.rsa_public);
        let mac = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64url(mac.as_ref()))
    };
    let zero_ecdsa = raw(
        json!({"alg": "ES256", "kid": "ec-1"}),
        &claims(),
        &[0u8; 64],
    );
    let mut attacker_header = Header::new(Algorithm::RS256);
    attacker_header.jku = Some("https://attacker.example/jwks.json".into());
    attacker_header.x5u = Some("https://attacker.example/cert.pem".into());
    attacker_header.kid = Some("rsa-1".into());
    let attacker_jku = jsonwebtoken::encode(&attacker_header, &claims(), &KEYS.stranger)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut unregistered = claims();
    unregistered["iss"] = json!("https://attacker.example");
    let nested = format!(
        "{}.{}.AAAA",
        b64url(br#"{"alg":"RS256","kid":"rsa-1"}"#),
        b64url(format!("{{\"a\":{}{}}}", "[".repeat(5_000), "]".repeat(5_000)).as_bytes())
    );
    vec![
        invalid(
            "alg none",
            raw(json!({"alg": "none"}), &claims(), &[]),
            false,
        ),
        invalid(
            "HS256 with the RSA public key",
            hs256_with_public_key,
            false,
        ),
        invalid("ECDSA r = s = 0", zero_ecdsa, true),
        invalid(
            "kid path traversal",
            sign(Algorithm::RS256, Some("../../../../dev/null"), &claims()),
            true,
        ),
        invalid(
            "kid SQL",
            sign(Algorithm::RS256, Some("x' UNION SELECT 'k'--"), &claims()),
            true,
        ),
        invalid("jku/x5u to attacker keys", attacker_jku, true),
        invalid(
            "missing exp",
            mutated(|c| {
                c.as_object_mut().map(|o| o.remove("exp"));
            }),
            false,
        ),
        invalid(
            "exp as string",
            mutated(|c| c["exp"] = json!("never")),
            false,
        ),
        invalid(
            "nbf as string",
            mutated(|c| c["nbf"] = json!("99999999999")),
            false,
        ),
        invalid("aud wrong", mutated(|c| c["aud"] = json!("nope")), false),
        invalid(
            "aud array without us",
            mutated(|c| c["aud"] = json!(["a", "b"])),
            false,
        ),
        invalid(
            "iss with a trailing slash",
            mutated(|c| c["iss"] = json!("https://idp.example.com/")),
            false,
        ),
        invalid(
            "azp mismatch",
            mutated(|c| c["azp"] = json!("someone")),
            false,
        ),
        Row {
            name: "exp in the past",
            token: mutated(|c| c["exp"] = json!(T0 - 120)),
            status: 400,
            code: "ExpiredTokenException",
            may_fetch: false,
        },
        invalid(
            "nbf in the future",
            mutated(|c| c["nbf"] = json!(T0 + 3600)),
            false,
        ),
        invalid("deeply nested claims", nested, false),
        invalid("unregistered issuer", rs256(&unregistered), false),
        invalid(
            "signed by an unpublished key",
            jsonwebtoken::encode(
                &{
                    let mut h = Header::new(Algorithm::RS256);
                    h.kid = Some("rsa-1".into());
                    h
                },
                &claims(),
                &KEYS.stranger,
            )
            .unwrap_or_else(|e| panic!("{e}")),
            true,
        ),
    ]
}

#[tokio::test]
async fn jwt_negative_corpus_with_aws_codes_and_no_stray_fetches() {
    let f = fixture();
    for row in corpus() {
        let before = f.source.fetches();
        let reply = assume(&f, "web", &row.token, &[]).await;
        assert_eq!(reply.status, row.status, "{}: {}", row.name, reply.body);
        assert_eq!(reply.code(), row.code, "{}: {}", row.name, reply.body);
        let fetches = f.source.fetches() - before;
        if row.may_fetch {
            // At most the cached lookup and one refresh.
            assert!(fetches <= 2, "{}: {fetches} lookups", row.name);
        } else {
            assert_eq!(fetches, 0, "{}: looked up keys", row.name);
        }
    }
    // Keys were only ever asked for the registered issuer.
    let asked = f
        .source
        .asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|issuer| issuer == ISSUER), "{asked:?}");
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_decoding() {
    let f = fixture();
    // Over the model's 20,000 characters: a validation error (AWS's answer
    // for an over-long parameter); over the body limit: 413 before reading.
    let long = "a".repeat(20_001);
    let reply = assume(&f, "web", &long, &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let huge = "a".repeat(1024 * 1024);
    let reply = assume(&f, "web", &huge, &[]).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(f.source.fetches(), 0);
}

#[tokio::test]
async fn random_kids_ask_for_one_refresh_each_and_an_outage_is_retryable() {
    let f = fixture();
    for n in 0..20 {
        let token = sign(Algorithm::RS256, Some(&format!("random-{n}")), &claims());
        assume(&f, "web", &token, &[]).await.assert_error(
            400,
            "InvalidIdentityToken",
            "Couldn't retrieve verification key",
        );
    }
    assert_eq!(f.source.refreshes.load(Ordering::SeqCst), 20);
    f.source.down.store(true, Ordering::SeqCst);
    assume(&f, "web", &rs256(&claims()), &[])
        .await
        .assert_error(
            400,
            "IDPCommunicationError",
            "The request could not be fulfilled",
        );
}

#[tokio::test]
async fn issuance_rules_shared_with_assume_role() {
    let mut f = fixture();
    f.world.ok(Command::SetRegionIssuance {
        name: "eu-west-1".into(),
        enabled: false,
    });
    f.snapshots.publish(&f.world);
    assume(&f, "web", &rs256(&claims()), &[])
        .await
        .assert_error(
            403,
            "RegionDisabledException",
            "STS is not activated in this region for account:111111111111",
        );
    assert_eq!(f.source.fetches(), 0);
}

#[tokio::test]
async fn providers_are_per_account_and_loopback_http_needs_the_node_allowance() {
    let mut f = fixture();
    // The same issuer registered in account B does not make account A's
    // roles trust it, and account A's provider does not serve B's roles.
    f.world.create_role(
        ACCOUNT_B,
        "web-b",
        &federated_trust(json!({}), &["sts:AssumeRoleWithWebIdentity"]),
        None,
        BTreeMap::new(),
    );
    f.snapshots.publish(&f.world);
    let role_b = format!("arn:aws:iam::{ACCOUNT_B}:role/web-b");
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", CONTENT_TYPE)
        .body(Body::from(form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role_b.as_str()),
            ("RoleSessionName", "s-b"),
            ("WebIdentityToken", rs256(&claims()).as_str()),
        ])))
        .unwrap_or_else(|e| panic!("{e}"));
    send(&f.edge.app, request).await.assert_error(
        400,
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://idp.example.com",
    );
    // A loopback HTTP provider exists in the state, but this node does not
    // allow such issuers: unknown, and nothing is fetched.
    f.world.ok(Command::CreateOidcProvider {
        account_id: account(ACCOUNT_A),
        url: "http://127.0.0.1:9".into(),
        client_ids: vec![CLIENT.into()],
        thumbprints: Vec::new(),
        tags: Default::default(),
    });
    f.snapshots.publish(&f.world);
    let mut local = claims();
    local["iss"] = json!("http://127.0.0.1:9");
    assume(&f, "web", &rs256(&local), &[]).await.assert_error(
        400,
        "InvalidIdentityToken",
        "No OpenIDConnect provider found",
    );
    assert_eq!(f.source.fetches(), 0);
}
