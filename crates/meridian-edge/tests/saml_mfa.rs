//! `AssumeRoleWithSAML` and MFA (`SerialNumber`/`TokenCode` on
//! GetSessionToken and AssumeRole) through the router, end to end against an
//! in-memory replicated configuration: the happy paths with AWS's outputs,
//! trust policies on `saml:*` keys and session tags from attributes, the
//! per-node single-use rules (an assertion redeemed once, an MFA code used
//! once), and the refusals with AWS's codes. SAML responses are signed here
//! with bergshamra and the committed test keys; the full negative corpus is
//! `meridian-core/tests/saml_corpus.rs`.

mod sts_support;

use std::path::PathBuf;

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::Request;
use meridian_core::config::command::Command;
use meridian_core::config::model::{SealedBytes, Tags};
use meridian_core::keyring::SecretPurpose;
use meridian_core::rand::DeterministicRandom;
use meridian_core::time::Timestamp;
use meridian_core::totp::{TotpSeed, time_step};
use sts_support::*;

const PROVIDER: &str = "arn:aws:iam::111111111111:saml-provider/corp";
const ROLE: &str = "arn:aws:iam::111111111111:role/saml-admin";
const ENTITY_ID: &str = "https://idp.meridian.test/metadata";
const AWS_SAML: &str = "https://signin.aws.amazon.com/saml";
const SERIAL: &str = "arn:aws:iam::111111111111:mfa/alice-phone";
const MFA_SEED: &[u8] = b"meridian-test-seed!!";
const INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../meridian-core/tests/fixtures/saml")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn metadata() -> String {
    let pem = String::from_utf8(fixture("idp-rsa.crt")).unwrap_or_else(|e| panic!("{e}"));
    let cert: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    format!(
        "<?xml version=\"1.0\"?><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         entityID=\"{ENTITY_ID}\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
         <ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

fn iso(seconds: i64) -> String {
    Timestamp::from_unix_seconds(seconds).to_iso8601_seconds()
}

/// A response for `role`, signed with the IdP's key, with `attributes`
/// besides the Role pair and the session name.
fn response(id: &str, role: &str, name_id: &str, attributes: &[(&str, &str)]) -> String {
    let mut all = vec![
        (
            "https://aws.amazon.com/SAML/Attributes/Role".to_owned(),
            format!("{role},{PROVIDER}"),
        ),
        (
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName".to_owned(),
            "alice".to_owned(),
        ),
    ];
    all.extend(
        attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let attributes: String = all
        .iter()
        .map(|(name, value)| {
            format!(
                "<saml:Attribute Name=\"{name}\"><saml:AttributeValue>{value}</saml:AttributeValue></saml:Attribute>"
            )
        })
        .collect();
    let template = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"r{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\"><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>\
         </samlp:Status><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\"><saml:Issuer>{ENTITY_ID}</saml:Issuer>\
         <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
         </ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{end}\" Recipient=\"{AWS_SAML}\"/></saml:SubjectConfirmation>\
         </saml:Subject><saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{end}\"><saml:AudienceRestriction>\
         <saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionNotOnOrAfter=\"{session_end}\"/>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>",
        now = iso(T0),
        end = iso(T0 + 300),
        session_end = iso(T0 + 1800),
    );
    let mut keys = bergshamra::KeysManager::new();
    keys.add_key(
        bergshamra::keys::loader::load_pem_auto(&fixture("idp-rsa.key"), None)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let signed = bergshamra::sign(&bergshamra::DsigContext::new(keys), &template)
        .unwrap_or_else(|e| panic!("{e}"));
    BASE64.encode(signed)
}

fn federated_trust(condition: &str, actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":[{}]{condition}}}]}}"#,
        actions.join(",")
    )
}

fn saml_world(trust: &str) -> World {
    let mut world = World::new();
    world.ok(Command::CreateSamlProvider {
        account_id: account(ACCOUNT_A),
        name: "corp".into(),
        metadata: metadata(),
        tags: Tags::new(),
    });
    world.create_role(ACCOUNT_A, "saml-admin", trust, Some(ALLOW_ALL), Tags::new());
    world
}

async fn assume_with_saml(edge: &Edge, role: &str, provider: &str, assertion: &str) -> Reply {
    let body = form(&[
        ("Action", "AssumeRoleWithSAML"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("PrincipalArn", provider),
        ("SAMLAssertion", assertion),
    ]);
    let request = Request::post("/")
        .header("host", HOST)
        .header("content-type", CONTENT_TYPE)
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"));
    send(&edge.app, request).await
}

#[tokio::test]
async fn saml_happy_path_outputs_and_single_use() {
    let world = saml_world(&federated_trust(
        r#","Condition":{"StringEquals":{"saml:aud":"https://signin.aws.amazon.com/saml","saml:sub_type":"transient"}}"#,
        &["sts:AssumeRoleWithSAML"],
    ));
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let assertion = response("_a1", ROLE, "alice@corp.example", &[]);
    let reply = assume_with_saml(&edge, ROLE, PROVIDER, &assertion).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.must("AssumedRoleUser/Arn"),
        "arn:aws:sts::111111111111:assumed-role/saml-admin/alice"
    );
    assert_eq!(reply.must("Subject"), "alice@corp.example");
    assert_eq!(reply.must("SubjectType"), "transient");
    assert_eq!(reply.must("Issuer"), ENTITY_ID);
    assert_eq!(reply.must("Audience"), AWS_SAML);
    // base64(SHA1(issuer + "111111111111" + "/corp")), computed with
    // `printf %s … | openssl sha1 -binary | base64`.
    assert_eq!(reply.must("NameQualifier"), "6Lm4jmR+ARak9tObcuHKlzGG9xc=");
    // SessionNotOnOrAfter (T0 + 1800) caps the default hour.
    assert_eq!(reply.must("Credentials/Expiration"), iso(T0 + 1800));
    let session = reply.credentials();
    let me = edge.sts(&session, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(
        me.must("Arn"),
        "arn:aws:sts::111111111111:assumed-role/saml-admin/alice"
    );

    // The same assertion again, on this node: refused.
    let again = assume_with_saml(&edge, ROLE, PROVIDER, &assertion).await;
    again.assert_error(
        400,
        "InvalidIdentityToken",
        "SAML assertion has already been used",
    );
}

#[tokio::test]
async fn saml_trust_conditions_and_tags() {
    let world = saml_world(&federated_trust(
        r#","Condition":{"StringLike":{"saml:sub":"*@corp.example"},"StringEquals":{"aws:RequestTag/Project":"blue"}}"#,
        &["sts:AssumeRoleWithSAML", "sts:TagSession"],
    ));
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let tag = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:Project";
    let ok = assume_with_saml(
        &edge,
        ROLE,
        PROVIDER,
        &response("_t1", ROLE, "alice@corp.example", &[(tag, "blue")]),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.field("PackedPolicySize").is_some());
    let refusals = [
        ("_t2", "mallory@evil.example", "blue"),
        ("_t3", "alice@corp.example", "red"),
    ];
    for (id, name_id, project) in refusals {
        let reply = assume_with_saml(
            &edge,
            ROLE,
            PROVIDER,
            &response(id, ROLE, name_id, &[(tag, project)]),
        )
        .await;
        reply.assert_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithSAML",
        );
    }
}

#[tokio::test]
async fn saml_refusals() {
    let world = saml_world(&federated_trust("", &["sts:AssumeRoleWithSAML"]));
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let good = response("_r1", ROLE, "alice@corp.example", &[]);
    // A role the assertion does not name.
    let other_role = "arn:aws:iam::111111111111:role/other";
    assume_with_saml(&edge, other_role, PROVIDER, &good)
        .await
        .assert_error(
            400,
            "InvalidIdentityToken",
            "SAML Assertion doesn't contain",
        );
    // A provider that does not exist.
    assume_with_saml(
        &edge,
        ROLE,
        "arn:aws:iam::111111111111:saml-provider/missing",
        &good,
    )
    .await
    .assert_error(
        400,
        "InvalidIdentityToken",
        "Specified provider doesn't exist",
    );
    // Tampered after signing.
    let tampered = BASE64.encode(
        String::from_utf8(BASE64.decode(&good).unwrap_or_default())
            .unwrap_or_default()
            .replace("alice@corp.example", "admin@corp.example"),
    );
    assume_with_saml(&edge, ROLE, PROVIDER, &tampered)
        .await
        .assert_error(400, "InvalidIdentityToken", "Response signature invalid");
    // Malformed ARNs.
    assume_with_saml(&edge, "not-an-arn-at-all-really", PROVIDER, &good)
        .await
        .assert_error(
            400,
            "ValidationError",
            "not-an-arn-at-all-really is invalid",
        );
    // Expired: past NotOnOrAfter plus the skew.
    edge.advance(361);
    assume_with_saml(&edge, ROLE, PROVIDER, &good)
        .await
        .assert_error(
            400,
            "ExpiredTokenException",
            "Token must be redeemed within 5 minutes of issuance",
        );
}

/// A world where alice has the virtual MFA device `SERIAL` enabled.
fn mfa_world(trust: &str) -> World {
    let mut world = World::new();
    let mut rng = DeterministicRandom::from_seed(5);
    let sealed = world
        .keys
        .kek()
        .seal_secret(
            SecretPurpose::MfaSeed,
            SERIAL.as_bytes(),
            MFA_SEED,
            &mut rng,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    world.ok(Command::CreateVirtualMfaDevice {
        account_id: account(ACCOUNT_A),
        name: "alice-phone".into(),
        path: "/".into(),
        sealed_seed: SealedBytes(sealed.into_bytes()),
        tags: Tags::new(),
    });
    world.ok(Command::EnableMfaDevice {
        account_id: account(ACCOUNT_A),
        user_name: "alice".into(),
        serial_number: SERIAL.into(),
    });
    world.create_role(ACCOUNT_A, "needs-mfa", trust, Some(ALLOW_ALL), Tags::new());
    world
}

fn code(now: Timestamp, offset: i64) -> String {
    let seed = TotpSeed::new(MFA_SEED).unwrap_or_else(|e| panic!("{e}"));
    seed.code(time_step(now).wrapping_add_signed(offset))
        .to_string()
}

#[tokio::test]
async fn mfa_on_get_session_token_and_assume_role() {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
    let world = mfa_world(trust);
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let role = "arn:aws:iam::111111111111:role/needs-mfa";
    let gst = |serial: &'static str, code: String| {
        let alice = alice.clone();
        let edge = &edge;
        async move {
            edge.sts(
                &alice,
                &[
                    ("Action", "GetSessionToken"),
                    ("SerialNumber", serial),
                    ("TokenCode", &code),
                ],
            )
            .await
        }
    };

    // Without MFA the trust policy refuses.
    edge.sts(
        &alice,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", role),
            ("RoleSessionName", "plain"),
        ],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice",
    );

    // With a valid code it allows, and the code is then spent.
    let now = edge.now();
    let assume = |code: String| {
        let alice = alice.clone();
        let edge = &edge;
        async move {
            edge.sts(
                &alice,
                &[
                    ("Action", "AssumeRole"),
                    ("RoleArn", role),
                    ("RoleSessionName", "with-mfa"),
                    ("SerialNumber", SERIAL),
                    ("TokenCode", &code),
                ],
            )
            .await
        }
    };
    let assumed = assume(code(now, 0)).await;
    assert_eq!(assumed.status, 200, "{}", assumed.body);
    assume(code(now, 0))
        .await
        .assert_error(403, "AccessDenied", INVALID_CODE);

    // GetSessionToken with the next step's code (within ±1): a session that
    // carries MFA, may call IAM, and satisfies the trust policy itself.
    let session = gst(SERIAL, code(now, 1)).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let session = session.credentials();
    let iam = edge
        .call(
            &session,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        )
        .await;
    assert_eq!(iam.status, 200, "{}", iam.body);
    let chained = edge
        .sts(
            &session,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", role),
                ("RoleSessionName", "via-session"),
            ],
        )
        .await;
    assert_eq!(chained.status, 200, "{}", chained.body);

    // Reused, wrong, out of window, wrong serial, missing code.
    gst(SERIAL, code(now, 1))
        .await
        .assert_error(403, "AccessDenied", INVALID_CODE);
    gst(SERIAL, code(now, -3))
        .await
        .assert_error(403, "AccessDenied", INVALID_CODE);
    gst("arn:aws:iam::111111111111:mfa/someone-else", code(now, -1))
        .await
        .assert_error(
            403,
            "AccessDenied",
            "MultiFactorAuthentication failed, unable to validate",
        );
    edge.sts(
        &alice,
        &[("Action", "GetSessionToken"), ("SerialNumber", SERIAL)],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate",
    );
    // Bob has no device: alice's serial is not his.
    let bob = world.creds(ACCOUNT_A, "bob");
    edge.sts(
        &bob,
        &[
            ("Action", "GetSessionToken"),
            ("SerialNumber", SERIAL),
            ("TokenCode", &code(now, -1)),
        ],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate",
    );
    // Without MFA a GetSessionToken session may not call IAM.
    let plain = edge
        .sts(&alice, &[("Action", "GetSessionToken")])
        .await
        .credentials();
    let refused = edge
        .call(
            &plain,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}
