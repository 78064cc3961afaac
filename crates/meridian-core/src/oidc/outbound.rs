//! Meridian as an OIDC issuer (`GetWebIdentityToken`): the token's header
//! and claims, the JWKS that publishes the replicated signing keys, and the
//! discovery document.
//!
//! # Keys
//!
//! Signing keys live in the replicated key ring (`config::cluster`) with the
//! same lifecycle as session-token data keys (pending → active → verify-only
//! → destroyed), one purpose per algorithm ([`crate::config::cluster::KeyPurpose::JwtSigning`] (RS256),
//! [`crate::config::cluster::KeyPurpose::JwtSigningEs384`]) so each has exactly one
//! active key. A record's `key_id` is the JWT `kid`, its `sealed_key` the
//! PKCS#8 private key sealed under the KEK (purpose `JwtSigningKey`, id =
//! `kid`), and its `public_key`:
//!
//! * `RS256`: the RFC 8017 `RSAPublicKey` DER (`SEQUENCE { n, e }`);
//! * `ES384`: the SEC1 uncompressed point (`04 || x || y`, 97 bytes).
//!
//! The JWKS lists every key that still verifies (pending, active and
//! verify-only), so a verifier holding a cached set sees a new key before any
//! token is signed with it, and old tokens keep verifying until they expire.
//!
//! # Claims
//!
//! As AWS documents them: `iss`, `sub` (the calling principal's ARN; a role
//! session's *role* ARN), `aud` (a string for one audience, an array for
//! several), `iat`, `exp`, `jti`, and the namespace claim
//! `https://sts.amazonaws.com/` with `aws_account`, `source_region`,
//! `principal_id` (the caller's ARN; a role session's role ARN),
//! `principal_tags` and `request_tags` (objects of strings, present only when
//! non-empty). Organizations (`org_id`, `ou_path`) do not exist in Meridian.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::oidc::OidcError;
use crate::oidc::jwk::{Algorithm, VerifyingKey, b64url};

/// The namespace claim of AWS's outbound tokens.
pub const NAMESPACE_CLAIM: &str = "https://sts.amazonaws.com/";

/// The claims of one outbound token.
#[derive(Debug, Clone)]
pub struct OutboundClaims<'a> {
    /// The account's issuer URL.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `aud`: 1–10 audiences.
    pub audiences: &'a [String],
    /// `iat`, seconds.
    pub issued_at: i64,
    /// `exp`, seconds.
    pub expires_at: i64,
    /// `jti`: a unique token id.
    pub jti: &'a str,
    /// The caller's account.
    pub account: &'a str,
    /// The region that issued it.
    pub source_region: &'a str,
    /// The caller's ARN (a role session's role ARN).
    pub principal_id: &'a str,
    /// The caller's tags (entity tags overridden by session tags).
    pub principal_tags: &'a BTreeMap<String, String>,
    /// The request's `Tags`.
    pub request_tags: &'a BTreeMap<String, String>,
}

fn tags_object(tags: &BTreeMap<String, String>) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The claims as compact JSON.
pub fn claims_json(claims: &OutboundClaims<'_>) -> String {
    let mut namespace = Map::new();
    namespace.insert("aws_account".into(), json!(claims.account));
    namespace.insert("source_region".into(), json!(claims.source_region));
    namespace.insert("principal_id".into(), json!(claims.principal_id));
    if !claims.principal_tags.is_empty() {
        namespace.insert("principal_tags".into(), tags_object(claims.principal_tags));
    }
    if !claims.request_tags.is_empty() {
        namespace.insert("request_tags".into(), tags_object(claims.request_tags));
    }
    let aud = match claims.audiences {
        [one] => json!(one),
        many => json!(many),
    };
    let mut body = Map::new();
    body.insert("iss".into(), json!(claims.issuer));
    body.insert("sub".into(), json!(claims.subject));
    body.insert("aud".into(), aud);
    body.insert("iat".into(), json!(claims.issued_at));
    body.insert("exp".into(), json!(claims.expires_at));
    body.insert("jti".into(), json!(claims.jti));
    body.insert(NAMESPACE_CLAIM.into(), Value::Object(namespace));
    Value::Object(body).to_string()
}

/// `base64url(header) . base64url(claims)`: what the signature covers.
pub fn signing_input(alg: Algorithm, kid: &str, claims_json: &str) -> String {
    let header = json!({"alg": alg.name(), "kid": kid, "typ": "JWT"}).to_string();
    format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims_json.as_bytes())
    )
}

/// The finished token: the signing input, `.`, the base64url signature.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", b64url(signature))
}

/// A replicated public key as a JWK plus the verification key it is.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    /// The JWK JSON object.
    pub jwk: Value,
    /// The same key, prepared for verifying (tests, and self-checks).
    pub key: VerifyingKey,
}

/// The JWK of a replicated public key (`public_key` as documented above).
pub fn published_key(
    kid: &str,
    alg: Algorithm,
    public_key: &[u8],
) -> Result<PublishedKey, OidcError> {
    match alg {
        Algorithm::Rs256 => {
            let (n, e) = parse_rsa_public_key(public_key).ok_or(OidcError::UnusableKey)?;
            // DER INTEGERs carry a leading zero when the top bit is set; JWK
            // members must not (RFC 7518 §6.3.1).
            let (n, e) = (strip_zeros(n), strip_zeros(e));
            let key = VerifyingKey::rsa(Some(kid.to_owned()), n, e, Some(alg))?;
            let jwk = json!({
                "kty": "RSA", "use": "sig", "alg": alg.name(), "kid": kid,
                "n": b64url(n), "e": b64url(e),
            });
            Ok(PublishedKey { jwk, key })
        }
        Algorithm::Es384 => {
            if public_key.len() != 97 || public_key[0] != 0x04 {
                return Err(OidcError::UnusableKey);
            }
            let (x, y) = public_key[1..].split_at(48);
            let key = VerifyingKey::ec(Some(kid.to_owned()), "P-384", x, y, Some(alg))?;
            let jwk = json!({
                "kty": "EC", "use": "sig", "alg": alg.name(), "kid": kid, "crv": "P-384",
                "x": b64url(x), "y": b64url(y),
            });
            Ok(PublishedKey { jwk, key })
        }
        _ => Err(OidcError::UnusableKey),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The JWKS document of `keys`.
pub fn jwks_document(keys: &[PublishedKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

/// The discovery document of an issuer whose keys are at `jwks_uri`.
pub fn discovery_document(issuer: &str, jwks_uri: &str) -> String {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES384"],
        "claims_supported": ["aud", "exp", "iat", "iss", "jti", "sub", NAMESPACE_CLAIM],
    })
    .to_string()
}

/// Reads `SEQUENCE { INTEGER n, INTEGER e }` (RFC 8017 `RSAPublicKey`, DER).
pub fn parse_rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = der_item(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag_n, n, rest) = der_item(body)?;
    let (tag_e, e, rest) = der_item(rest)?;
    (tag_n == 0x02 && tag_e == 0x02 && rest.is_empty()).then_some((n, e))
}

/// One DER TLV: `(tag, value, rest)`.
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (len, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 2 || input.len() < count {
            return None;
        }
        let (bytes, input) = input.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, input)
    };
    if input.len() < len {
        return None;
    }
    let (value, rest) = input.split_at(len);
    Some((tag, value, rest))
}
