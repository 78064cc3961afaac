//! The SAML negative corpus of RELIABILITY.md b.3, row by row, plus the
//! happy paths it is measured against.
//!
//! Every response is built here and signed at test time with bergshamra's
//! signer and the committed test keys (`tests/fixtures/saml/`, regenerated
//! by `generate.sh`); attacks are applied to the signed text afterwards, the
//! way an attacker holding one legitimately signed response would. Each case
//! asserts the exact refusal and the AWS code it is answered with.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use meridian_core::saml::{
    AWS_SIGNIN_ENDPOINT, Expectations, IdpMetadata, MetadataError, SamlError, SamlErrorCode,
    VerifiedAssertion, verify_response,
};
use meridian_core::time::Timestamp;

const ENTITY_ID: &str = "https://idp.meridian.test/metadata";
const ASSERTION_ID: &str = "_assertion-7f3c";
const RESPONSE_ID: &str = "_response-81ab";
const NOW: i64 = 1_800_000_000;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/saml")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cert_base64(name: &str) -> String {
    let pem = String::from_utf8(fixture(name)).unwrap();
    pem.lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

fn metadata_with(certs: &[&str], usage: Option<&str>) -> String {
    let usage = usage.map_or(String::new(), |u| format!(" use=\"{u}\""));
    let keys: String = certs
        .iter()
        .map(|cert| {
            format!(
                "<md:KeyDescriptor{usage}><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
                 <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data>\
                 </ds:KeyInfo></md:KeyDescriptor>",
                cert_base64(cert)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{ENTITY_ID}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         {keys}\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"https://idp.meridian.test/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

fn idp() -> IdpMetadata {
    IdpMetadata::parse(&metadata_with(
        &["idp-rsa.crt", "idp-ec.crt"],
        Some("signing"),
    ))
    .unwrap()
}

fn iso(seconds: i64) -> String {
    Timestamp::from_unix_seconds(seconds).to_iso8601_seconds()
}

/// The parts of a response a case may change.
#[derive(Clone)]
struct Spec {
    issuer: String,
    name_id: String,
    audience: String,
    recipient: String,
    not_before: i64,
    not_on_or_after: i64,
    confirmation_not_on_or_after: i64,
    attributes: Vec<(String, Vec<String>)>,
    status: String,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            issuer: ENTITY_ID.into(),
            name_id: "alice@corp.example".into(),
            audience: AWS_SIGNIN_ENDPOINT.into(),
            recipient: AWS_SIGNIN_ENDPOINT.into(),
            not_before: NOW - 60,
            not_on_or_after: NOW + 300,
            confirmation_not_on_or_after: NOW + 300,
            attributes: vec![
                (
                    "https://aws.amazon.com/SAML/Attributes/Role".into(),
                    vec![
                        "arn:aws:iam::111122223333:role/saml,arn:aws:iam::111122223333:saml-provider/corp"
                            .into(),
                    ],
                ),
                (
                    "https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(),
                    vec!["alice".into()],
                ),
            ],
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
        }
    }
}

/// A `ds:Signature` template over `#{id}`.
fn signature_template(id: &str, method: &str, digest: &str, transforms: &[&str]) -> String {
    let transforms: String = transforms
        .iter()
        .map(|t| format!("<ds:Transform Algorithm=\"{t}\"/>"))
        .collect();
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"{method}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>{transforms}</ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue></ds:DigestValue></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    )
}

fn default_signature(id: &str, method: &str) -> String {
    signature_template(id, method, SHA256, &[ENVELOPED, EXC_C14N])
}

fn assertion(spec: &Spec, id: &str, signature: &str) -> String {
    let attributes: String = spec
        .attributes
        .iter()
        .map(|(name, values)| {
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                .collect();
            format!("<saml:Attribute Name=\"{name}\">{values}</saml:Attribute>")
        })
        .collect();
    format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{now}\">\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{conf_end}\" Recipient=\"{recipient}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{not_after}\">\
         <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>\
         </saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionNotOnOrAfter=\"{session_end}\">\
         <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext>\
         </saml:AuthnStatement>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
        now = iso(NOW),
        issuer = spec.issuer,
        name_id = spec.name_id,
        conf_end = iso(spec.confirmation_not_on_or_after),
        recipient = spec.recipient,
        not_before = iso(spec.not_before),
        not_after = iso(spec.not_on_or_after),
        audience = spec.audience,
        session_end = iso(NOW + 7200),
    )
}

fn response(spec: &Spec, response_signature: &str, assertion: &str) -> String {
    format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"{RESPONSE_ID}\" \
         Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{recipient}\">\
         <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">{issuer}</saml:Issuer>\
         {response_signature}\
         <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{assertion}</samlp:Response>",
        now = iso(NOW),
        recipient = spec.recipient,
        issuer = spec.issuer,
        status = spec.status,
    )
}

fn sign(template: &str, key: &str) -> String {
    let mut keys = bergshamra::KeysManager::new();
    keys.add_key(bergshamra::keys::loader::load_pem_auto(&fixture(key), None).unwrap());
    let context = bergshamra::DsigContext::new(keys);
    bergshamra::sign(&context, template).unwrap()
}

/// A response whose assertion is signed with `key` and `method`.
fn signed_assertion(spec: &Spec, key: &str, method: &str) -> String {
    sign(
        &response(
            spec,
            "",
            &assertion(spec, ASSERTION_ID, &default_signature(ASSERTION_ID, method)),
        ),
        key,
    )
}

fn signed_response_only(spec: &Spec) -> String {
    sign(
        &response(
            spec,
            &default_signature(RESPONSE_ID, RSA_SHA256),
            &assertion(spec, ASSERTION_ID, ""),
        ),
        "idp-rsa.key",
    )
}

fn encode(xml: &str) -> String {
    BASE64.encode(xml)
}

fn check(xml: &str) -> Result<VerifiedAssertion, SamlError> {
    check_at(xml, NOW)
}

fn check_at(xml: &str, now: i64) -> Result<VerifiedAssertion, SamlError> {
    verify_response(
        &encode(xml),
        &idp(),
        &Expectations {
            now: Timestamp::from_unix_seconds(now),
            audiences: &[AWS_SIGNIN_ENDPOINT],
            recipient: AWS_SIGNIN_ENDPOINT,
        },
    )
}

fn good() -> String {
    signed_assertion(&Spec::default(), "idp-rsa.key", RSA_SHA256)
}

/// The signed assertion element, cut out of a signed response.
fn cut_assertion(xml: &str) -> &str {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &xml[start..end]
}

fn evil_spec() -> Spec {
    Spec {
        name_id: "admin@corp.example".into(),
        ..Spec::default()
    }
}

fn assert_refused(result: Result<VerifiedAssertion, SamlError>, expected: SamlError, case: &str) {
    match result {
        Ok(assertion) => panic!("{case}: accepted, NameID {}", assertion.name_id),
        Err(error) => {
            assert_eq!(error, expected, "{case}");
            let code = if expected == SamlError::Expired {
                SamlErrorCode::ExpiredToken
            } else {
                SamlErrorCode::InvalidIdentityToken
            };
            assert_eq!(error.code(), code, "{case}");
        }
    }
}

#[test]
fn happy_paths() {
    let spec = Spec::default();
    let cases = [
        ("RSA-SHA256 assertion", good()),
        (
            "ECDSA-SHA256 assertion",
            signed_assertion(&spec, "idp-ec.key", ECDSA_SHA256),
        ),
        ("signed response", signed_response_only(&spec)),
        ("response and assertion", {
            let inner = good();
            let with_template = inner.replacen(
                "</saml:Issuer>",
                &format!(
                    "</saml:Issuer>{}",
                    default_signature(RESPONSE_ID, RSA_SHA256)
                ),
                1,
            );
            sign(&with_template, "idp-rsa.key")
        }),
    ];
    for (case, xml) in cases {
        let assertion = check(&xml).unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(assertion.id, ASSERTION_ID, "{case}");
        assert_eq!(assertion.issuer, ENTITY_ID);
        assert_eq!(assertion.name_id, "alice@corp.example");
        assert_eq!(assertion.subject_type(), "persistent");
        assert_eq!(
            assertion.valid_until,
            Timestamp::from_unix_seconds(NOW + 300)
        );
        assert_eq!(
            assertion.session_not_on_or_after,
            Some(Timestamp::from_unix_seconds(NOW + 7200))
        );
        assert!(assertion.grants_role(
            "arn:aws:iam::111122223333:role/saml",
            "arn:aws:iam::111122223333:saml-provider/corp"
        ));
        assert_eq!(assertion.aws_claims().unwrap().session_name, "alice");
    }
}

#[test]
fn unsigned_and_tampered() {
    let spec = Spec::default();
    let unsigned = response(&spec, "", &assertion(&spec, ASSERTION_ID, ""));
    assert_refused(check(&unsigned), SamlError::Unsigned, "unsigned");
    // The template's empty values are not a signature either.
    let template = response(
        &spec,
        "",
        &assertion(
            &spec,
            ASSERTION_ID,
            &default_signature(ASSERTION_ID, RSA_SHA256),
        ),
    );
    assert_refused(
        check(&template),
        SamlError::SignatureInvalid,
        "empty template",
    );
    let tampered = good().replace("alice@corp.example", "admin@corp.example");
    assert_refused(
        check(&tampered),
        SamlError::SignatureInvalid,
        "NameID edited",
    );
    let tampered = good().replace("role/saml,", "role/admin,");
    assert_refused(check(&tampered), SamlError::SignatureInvalid, "Role edited");
}

/// XSW1–XSW8 (Somorovsky et al. 2012) in the shapes they take against a
/// response with a signed assertion or a signed response.
#[test]
fn signature_wrapping() {
    let spec = Spec::default();
    let signed = good();
    let signed_assertion = cut_assertion(&signed).to_owned();
    let evil = assertion(&evil_spec(), "_evil", "");
    let evil_same_id = assertion(&evil_spec(), ASSERTION_ID, "");
    let response_signed = signed_response_only(&spec);

    let cases: Vec<(&str, String, SamlError)> = vec![
        // XSW3: an unsigned assertion before the signed one.
        (
            "evil assertion before the signed one",
            signed.replacen("<saml:Assertion", &format!("{evil}<saml:Assertion"), 1),
            SamlError::AssertionCount,
        ),
        // XSW4: the signed assertion inside the evil one.
        (
            "signed assertion wrapped in the evil one",
            response(
                &spec,
                "",
                &evil.replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer>{signed_assertion}"),
                    1,
                ),
            ),
            SamlError::AssertionCount,
        ),
        // XSW5/6: the evil assertion carries the signed one's ID.
        (
            "evil assertion with the signed one's ID",
            signed.replacen(
                "<saml:Assertion",
                &format!("{evil_same_id}<saml:Assertion"),
                1,
            ),
            SamlError::AssertionCount,
        ),
        // The signed assertion moved into Extensions, the evil one in its place.
        (
            "signed assertion in Extensions",
            response(
                &spec,
                &format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions>"),
                &evil,
            ),
            SamlError::AssertionCount,
        ),
        // XSW7/8: the signed assertion inside a ds:Object of a signature.
        (
            "signed assertion in a ds:Object",
            response(
                &spec,
                "",
                &evil.replacen(
                    "</saml:Issuer>",
                    &format!(
                        "</saml:Issuer><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
                         <ds:Object>{signed_assertion}</ds:Object></ds:Signature>"
                    ),
                    1,
                ),
            ),
            SamlError::AssertionCount,
        ),
        // XSW1/2: a signed Response wrapped by an attacker's Response.
        (
            "signed response wrapped in an evil response",
            response(
                &spec,
                &format!(
                    "<samlp:Extensions>{}</samlp:Extensions>",
                    response_signed.trim_start_matches("<?xml version=\"1.0\"?>")
                ),
                &evil,
            )
            .replacen(&format!("ID=\"{RESPONSE_ID}\""), "ID=\"_outer\"", 1),
            SamlError::AssertionCount,
        ),
        // A signed response with the evil assertion appended (the signature
        // covers the response, not the second assertion... which is then
        // also a second assertion).
        (
            "signed response plus an unsigned second assertion",
            response_signed.replacen("</samlp:Response>", &format!("{evil}</samlp:Response>"), 1),
            SamlError::AssertionCount,
        ),
        // The only assertion replaced by the evil one under the signed
        // response: the response digest no longer matches.
        (
            "evil assertion under a signed response",
            response_signed.replacen(cut_assertion(&response_signed), &evil_same_id, 1),
            SamlError::SignatureInvalid,
        ),
        // The assertion's signature moved up to the Response while still
        // referencing the assertion.
        (
            "signature moved to the response",
            {
                let sig_start = signed.find("<ds:Signature").unwrap();
                let sig_end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
                let signature = &signed[sig_start..sig_end];
                let without = signed.replacen(signature, "", 1);
                without.replacen(
                    "<samlp:Status>",
                    &format!("{signature}<samlp:Status>"),
                    1,
                )
            },
            SamlError::SignatureInvalid,
        ),
        // A signature hidden in Extensions (not where a signature may be).
        (
            "signature inside Extensions",
            signed.replacen(
                "<samlp:Status>",
                "<samlp:Extensions><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>\
                 </samlp:Extensions><samlp:Status>",
                1,
            ),
            SamlError::SignatureMisplaced,
        ),
        // Two elements with one ID (the Response claims the assertion's).
        (
            "duplicate ID",
            signed.replacen(
                &format!("ID=\"{RESPONSE_ID}\""),
                &format!("ID=\"{ASSERTION_ID}\""),
                1,
            ),
            SamlError::DuplicateId,
        ),
        (
            "encrypted assertion next to the signed one",
            signed.replacen(
                "</samlp:Response>",
                "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>\
                 </samlp:Response>",
                1,
            ),
            SamlError::EncryptedAssertion,
        ),
        (
            "no assertion",
            signed.replacen(&signed_assertion, "", 1),
            SamlError::AssertionCount,
        ),
    ];
    for (case, xml, expected) in cases {
        assert_refused(check(&xml), expected, case);
    }
}

/// Comment injection (CVE-2017-11427 class): exclusive c14n without comments
/// ignores the comment, so the signature still verifies; the value must not
/// be read as its first text node.
#[test]
fn comment_injection() {
    let spec = Spec {
        name_id: "admin@corp.example.evil.example".into(),
        ..Spec::default()
    };
    let signed = signed_assertion(&spec, "idp-rsa.key", RSA_SHA256);
    let cases = [
        (
            "comment in NameID",
            signed.replacen(
                "admin@corp.example.evil.example",
                "admin@corp.example<!---->.evil.example",
                1,
            ),
        ),
        (
            "comment in an attribute value",
            signed.replacen(">alice<", ">al<!-- x -->ice<", 1),
        ),
    ];
    for (case, xml) in cases {
        assert_refused(check(&xml), SamlError::MixedContent, case);
    }
    // A processing instruction is part of the canonical form, so the
    // signature itself no longer verifies.
    let with_pi = signed.replacen(
        "admin@corp.example.evil.example",
        "admin@corp.example<?x y?>.evil.example",
        1,
    );
    assert_refused(check(&with_pi), SamlError::SignatureInvalid, "PI in NameID");
    // The uninjected response is fine and reads the full value.
    assert_eq!(
        check(&signed).unwrap().name_id,
        "admin@corp.example.evil.example"
    );
}

#[test]
fn doctype_and_entities() {
    let signed = good();
    let body = signed.trim_start_matches("<?xml version=\"1.0\"?>");
    let cases = [
        format!("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{body}"),
        format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
             <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>{body}"
        ),
        format!("<!DOCTYPE samlp:Response>{body}"),
    ];
    for xml in cases {
        assert_refused(check(&xml), SamlError::Doctype, &xml[..40]);
    }
}

#[test]
fn audience_recipient_issuer_status() {
    let cases = [
        (
            "wrong audience",
            Spec {
                audience: "https://evil.example/saml".into(),
                ..Spec::default()
            },
            SamlError::AudienceMismatch,
        ),
        (
            "wrong recipient",
            Spec {
                recipient: "https://evil.example/acs".into(),
                ..Spec::default()
            },
            SamlError::RecipientMismatch,
        ),
        (
            "issuer of another IdP",
            Spec {
                issuer: "https://other-idp.example/metadata".into(),
                ..Spec::default()
            },
            SamlError::IssuerMismatch,
        ),
        (
            "status not success",
            Spec {
                status: "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
                ..Spec::default()
            },
            SamlError::NotSuccess,
        ),
    ];
    for (case, spec, expected) in cases {
        let xml = signed_assertion(&spec, "idp-rsa.key", RSA_SHA256);
        assert_refused(check(&xml), expected, case);
    }
    // A node configured with its own service-provider id expects it.
    let own = Spec {
        audience: "urn:meridian:sp".into(),
        recipient: "https://sts.meridian.test/saml".into(),
        ..Spec::default()
    };
    let xml = signed_assertion(&own, "idp-rsa.key", RSA_SHA256);
    let result = verify_response(
        &encode(&xml),
        &idp(),
        &Expectations {
            now: Timestamp::from_unix_seconds(NOW),
            audiences: &["urn:meridian:sp"],
            recipient: "https://sts.meridian.test/saml",
        },
    );
    assert_eq!(result.map(|a| a.audience), Ok("urn:meridian:sp".to_owned()));
    assert_refused(check(&xml), SamlError::AudienceMismatch, "default audience");
}

#[test]
fn validity_window() {
    let xml = good();
    // Within the skew either side.
    assert!(check_at(&xml, NOW - 60 - 59).is_ok());
    assert!(check_at(&xml, NOW + 300 + 59).is_ok());
    assert_refused(
        check_at(&xml, NOW + 300 + 60),
        SamlError::Expired,
        "conditions expired",
    );
    assert_refused(
        check_at(&xml, NOW - 60 - 61),
        SamlError::NotYetValid,
        "not yet valid",
    );
    let confirmation_expired = signed_assertion(
        &Spec {
            confirmation_not_on_or_after: NOW - 120,
            ..Spec::default()
        },
        "idp-rsa.key",
        RSA_SHA256,
    );
    assert_refused(
        check(&confirmation_expired),
        SamlError::Expired,
        "confirmation expired",
    );
    let conditions_expired = signed_assertion(
        &Spec {
            not_on_or_after: NOW - 120,
            ..Spec::default()
        },
        "idp-rsa.key",
        RSA_SHA256,
    );
    assert_refused(
        check(&conditions_expired),
        SamlError::Expired,
        "conditions expired",
    );
}

#[test]
fn attacker_key_info_is_ignored() {
    // Signed with the attacker's key, carrying the attacker's certificate.
    let spec = evil_spec();
    let key_info = format!(
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        cert_base64("attacker-rsa.crt")
    );
    let signature = default_signature(ASSERTION_ID, RSA_SHA256).replacen(
        "</ds:Signature>",
        &format!("{key_info}</ds:Signature>"),
        1,
    );
    let xml = sign(
        &response(&spec, "", &assertion(&spec, ASSERTION_ID, &signature)),
        "attacker-rsa.key",
    );
    assert_refused(check(&xml), SamlError::SignatureInvalid, "attacker KeyInfo");
    // The same document verifies against metadata naming the attacker, so
    // the refusal above is the key's, not the document's.
    let attacker = IdpMetadata::parse(&metadata_with(&["attacker-rsa.crt"], None)).unwrap();
    let accepted = verify_response(
        &encode(&xml),
        &attacker,
        &Expectations {
            now: Timestamp::from_unix_seconds(NOW),
            audiences: &[AWS_SIGNIN_ENDPOINT],
            recipient: AWS_SIGNIN_ENDPOINT,
        },
    );
    assert_eq!(accepted.map(|a| a.name_id), Ok("admin@corp.example".into()));
}

#[test]
fn algorithm_allow_list() {
    let spec = Spec::default();
    let with = |signature: String| -> String {
        response(&spec, "", &assertion(&spec, ASSERTION_ID, &signature))
    };
    let cases = [
        // aws-lc cannot produce RSA-SHA1 signatures, so this one carries the
        // SHA-256 signature value under an rsa-sha1 method: refused before
        // any cryptography, whatever the value.
        (
            "rsa-sha1",
            sign(&with(default_signature(ASSERTION_ID, RSA_SHA256)), "idp-rsa.key").replacen(
                RSA_SHA256, RSA_SHA1, 1,
            ),
        ),
        (
            "sha1 digest, validly signed",
            sign(
                &with(signature_template(
                    ASSERTION_ID,
                    RSA_SHA256,
                    SHA1,
                    &[ENVELOPED, EXC_C14N],
                )),
                "idp-rsa.key",
            ),
        ),
        (
            "hmac-sha1 truncated to 8 bits",
            with(
                default_signature(ASSERTION_ID, "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
                    .replacen(
                        "xmldsig#hmac-sha1\"/>",
                        "xmldsig#hmac-sha1\"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>",
                        1,
                    )
                    .replacen("<ds:SignatureValue></ds:SignatureValue>", "<ds:SignatureValue>AA==</ds:SignatureValue>", 1),
            ),
        ),
        (
            "XSLT transform",
            with(signature_template(
                ASSERTION_ID,
                RSA_SHA256,
                SHA256,
                &[ENVELOPED, "http://www.w3.org/TR/1999/REC-xslt-19991116"],
            )),
        ),
        (
            "XPath transform",
            with(signature_template(
                ASSERTION_ID,
                RSA_SHA256,
                SHA256,
                &[ENVELOPED, "http://www.w3.org/TR/1999/REC-xpath-19991116"],
            )),
        ),
        (
            "inclusive c14n with comments",
            sign(
                &with(signature_template(
                    ASSERTION_ID,
                    RSA_SHA256,
                    SHA256,
                    &[ENVELOPED, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"],
                )),
                "idp-rsa.key",
            ),
        ),
        (
            "exclusive c14n with comments for SignedInfo",
            sign(
                &with(default_signature(ASSERTION_ID, RSA_SHA256)),
                "idp-rsa.key",
            )
            .replacen(
                &format!("<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>"),
                &format!("<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}WithComments\"/>"),
                1,
            ),
        ),
    ];
    for (case, xml) in cases {
        assert_refused(check(&xml), SamlError::AlgorithmNotAllowed, case);
    }
}

#[test]
fn encoding_limits() {
    let expect = Expectations {
        now: Timestamp::from_unix_seconds(NOW),
        audiences: &[AWS_SIGNIN_ENDPOINT],
        recipient: AWS_SIGNIN_ENDPOINT,
    };
    let huge = "A".repeat(100_001);
    assert_eq!(
        verify_response(&huge, &idp(), &expect).err(),
        Some(SamlError::TooLarge)
    );
    assert_eq!(
        verify_response("not base64!", &idp(), &expect).err(),
        Some(SamlError::NotBase64)
    );
    assert_eq!(
        verify_response(&BASE64.encode("<r>"), &idp(), &expect).err(),
        Some(SamlError::Malformed)
    );
    assert_eq!(
        verify_response(&BASE64.encode("<r/>"), &idp(), &expect).err(),
        Some(SamlError::NotAResponse)
    );
    // Line-wrapped base64 (as some IdPs post it) is accepted.
    let wrapped: String = encode(&good())
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect();
    assert!(verify_response(&wrapped, &idp(), &expect).is_ok());
}

#[test]
fn metadata_checks() {
    let idp = idp();
    assert_eq!(idp.entity_id(), ENTITY_ID);
    assert_eq!(idp.certificates().len(), 2);
    let cases = [
        (
            "RSA-1024 only",
            metadata_with(&["weak-rsa.crt"], Some("signing")),
            MetadataError::NoSigningCertificate,
        ),
        (
            "encryption key only",
            metadata_with(&["idp-rsa.crt"], Some("encryption")),
            MetadataError::NoSigningCertificate,
        ),
        (
            "no key at all",
            metadata_with(&[], None),
            MetadataError::NoSigningCertificate,
        ),
        (
            "not metadata",
            "<html><body>hello</body></html>".to_owned(),
            MetadataError::NotEntityDescriptor,
        ),
        (
            "not XML",
            "{\"json\": true}".to_owned(),
            MetadataError::NotXml,
        ),
        (
            "DOCTYPE",
            format!("<!DOCTYPE x>{}", metadata_with(&["idp-rsa.crt"], None)),
            MetadataError::NotXml,
        ),
    ];
    for (case, metadata, expected) in cases {
        assert_eq!(
            IdpMetadata::parse(&metadata).err(),
            Some(expected),
            "{case}"
        );
    }
    // No `use` means signing and encryption.
    assert!(IdpMetadata::parse(&metadata_with(&["idp-rsa.crt"], None)).is_ok());
}
