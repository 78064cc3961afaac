//! SAML verification benchmark (goal: a typical 8 KiB `SAMLResponse`
//! verified in ≤ 500 µs median, issue 6): base64 decode, the DOCTYPE scan,
//! one parse, the shape and algorithm checks, RSA-SHA256 verification of
//! the assertion's signature with the provider's prepared key (exclusive
//! c14n of the assertion and of `SignedInfo`), and reading the assertion.
//!
//! The response is built and signed once (bergshamra, the committed test
//! IdP key) with enough attributes to make it about 8 KiB of XML, as a
//! corporate IdP's with a few groups is.
//! Run with `cargo bench -p meridian-core --bench saml`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::saml::{AWS_SIGNIN_ENDPOINT, Expectations, IdpMetadata, verify_response};
use meridian_core::time::Timestamp;

const ENTITY_ID: &str = "https://idp.meridian.test/metadata";
const NOW: i64 = 1_800_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/saml")
        .join(name);
    std::fs::read(&path).expect("SAML fixture")
}

fn metadata() -> IdpMetadata {
    let pem = String::from_utf8(fixture("idp-rsa.crt")).expect("PEM");
    let cert: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    IdpMetadata::parse(&format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{ENTITY_ID}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\
         <ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"
    ))
    .expect("metadata")
}

fn iso(seconds: i64) -> String {
    Timestamp::from_unix_seconds(seconds).to_iso8601_seconds()
}

/// A signed response of about 8 KiB.
fn response() -> String {
    let mut attributes = String::from(
        "<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/Role\"><saml:AttributeValue>\
         arn:aws:iam::111122223333:role/admin,arn:aws:iam::111122223333:saml-provider/corp\
         </saml:AttributeValue></saml:Attribute>\
         <saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/RoleSessionName\">\
         <saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute>",
    );
    let mut group = 0;
    while attributes.len() < 5_800 {
        attributes.push_str(&format!(
            "<saml:Attribute Name=\"http://schemas.xmlsoap.org/claims/Group\">\
             <saml:AttributeValue>corp-engineering-team-{group:03}</saml:AttributeValue></saml:Attribute>"
        ));
        group += 1;
    }
    let id = "_8f2a7c6e4b1d4f0e9a3b2c1d0e9f8a7b";
    let template = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r1\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{AWS_SIGNIN_ENDPOINT}\">\
         <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">{ENTITY_ID}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
         <saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\"><saml:Issuer>{ENTITY_ID}</saml:Issuer>\
         <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue></ds:DigestValue>\
         </ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">alice@corp.example</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{end}\" Recipient=\"{AWS_SIGNIN_ENDPOINT}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{end}\"><saml:AudienceRestriction>\
         <saml:Audience>{AWS_SIGNIN_ENDPOINT}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionNotOnOrAfter=\"{end}\"/>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>",
        now = iso(NOW),
        end = iso(NOW + 300),
    );
    let mut keys = bergshamra::KeysManager::new();
    keys.add_key(
        bergshamra::keys::loader::load_pem_auto(&fixture("idp-rsa.key"), None).expect("key"),
    );
    bergshamra::sign(&bergshamra::DsigContext::new(keys), &template).expect("signed")
}

fn bench(c: &mut Criterion) {
    let idp = metadata();
    let xml = response();
    let encoded = BASE64.encode(&xml);
    let expect = Expectations {
        now: Timestamp::from_unix_seconds(NOW),
        audiences: &[AWS_SIGNIN_ENDPOINT],
        recipient: AWS_SIGNIN_ENDPOINT,
    };
    assert!((7_800..=8_800).contains(&xml.len()), "{} bytes", xml.len());
    assert!(verify_response(&encoded, &idp, &expect).is_ok());
    let mut group = c.benchmark_group("saml");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("verify_8k_response", |b| {
        b.iter(|| verify_response(black_box(&encoded), &idp, &expect).expect("valid"))
    });
    group.bench_function("parse_metadata", |b| b.iter(metadata));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
