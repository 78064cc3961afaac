//! Reading and validating an identity provider's ID token (a compact JWS,
//! RFC 7515/7519) for `AssumeRoleWithWebIdentity`.
//!
//! Three steps, each usable alone because the edge interleaves them with
//! lookups and an (outside) JWKS fetch:
//!
//! 1. [`UnverifiedToken::parse`]: length cap *before* any decoding, exactly
//!    three base64url parts (an encrypted five-part JWE is refused), a JSON
//!    object header naming a supported algorithm (`none` and `HS*` are
//!    refused here, whatever the keys), `crit` refused (we implement no
//!    extension), and the claims as a JSON object — serde_json bounds the
//!    depth (128). `jku`, `x5u`, `jwk` and `x5c` are never read: keys come
//!    only from the registered provider's JWKS.
//! 2. [`UnverifiedToken::validate_claims`] against the registered provider:
//!    `iss` byte-equal to the registered URL (a trailing `/` differs), `sub`,
//!    `aud` (string or array) and integer `exp` and `iat` present, `nbf`
//!    honoured when present; a claim of the wrong JSON type is an error, never
//!    "absent" (the CVE-2026-25537 class); then the audience: `azp` when
//!    present must be a client id, otherwise one of `aud` must be. Times
//!    allow a small leeway. Cheap checks come first so that a flood of junk
//!    never reaches a key fetch.
//! 3. [`UnverifiedToken::verify_signature`] with the provider's [`Jwks`]:
//!    the key is chosen by `kid` (or, without one, every key that allows the
//!    algorithm, at most [`MAX_KEYS_TRIED`]); the key's type decides which
//!    algorithms it verifies ([`crate::oidc::jwk`]), so an RSA key is never
//!    an HMAC secret and a header cannot pick a weaker algorithm. AWS-LC
//!    refuses ECDSA signatures with zero scalars (CVE-2022-21449 class).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::oidc::jwk::{Algorithm, Jwks, MAX_KID_LEN};
use crate::oidc::{OidcError, SOURCE_IDENTITY_CLAIM, TAGS_CLAIM};
use crate::time::Timestamp;

/// The longest token accepted, in characters (the model's `clientTokenType`
/// maximum).
pub const MAX_TOKEN_LEN: usize = 20_000;
/// Keys tried for a token without `kid`.
pub const MAX_KEYS_TRIED: usize = 8;
/// The longest claim value Meridian keeps (`sub`, each audience, `amr`).
pub const MAX_CLAIM_LEN: usize = 1024;
/// The most audiences or `amr` values read from a token.
pub const MAX_CLAIM_VALUES: usize = 32;

/// The protected header members Meridian reads.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A parsed, not yet trusted, ID token.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    alg: Algorithm,
    kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    signing_input: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

/// What a provider registration expects of its tokens.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The registered URL; `iss` must equal it byte for byte.
    pub issuer: &'a str,
    /// The registered client ids (audiences).
    pub client_ids: &'a [String],
    /// Tolerance for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: i64,
}

/// The claims of a token that passed [`UnverifiedToken::validate_claims`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaims {
    /// `sub`.
    pub subject: String,
    /// The audience AWS reports: `azp` when present, otherwise the `aud`
    /// value that is a registered client id.
    pub audience: String,
    /// Every `aud` value.
    pub aud: Vec<String>,
    /// `azp`, if present.
    pub azp: Option<String>,
    /// `amr` values, if present.
    pub amr: Vec<String>,
    /// `email`, if present and a string.
    pub email: Option<String>,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// Session tags from `https://aws.amazon.com/tags`: `(key, value)`.
    pub principal_tags: Vec<(String, String)>,
    /// Transitive keys from the same claim.
    pub transitive_tag_keys: Vec<String>,
    /// `https://aws.amazon.com/source_identity`, if present.
    pub source_identity: Option<String>,
}

fn split3(token: &str) -> Result<(&str, &str, &str), OidcError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        (Some(_), Some(_), Some(_), Some(_)) => Err(OidcError::Malformed(
            "encrypted (JWE) tokens are not supported",
        )),
        _ => Err(OidcError::Malformed("the token is not a signed JWT")),
    }
}

fn b64(part: &str) -> Result<Vec<u8>, OidcError> {
    data_encoding::BASE64URL_NOPAD
        .decode(part.as_bytes())
        .map_err(|_| OidcError::Malformed("the token is not base64url"))
}

impl UnverifiedToken {
    /// Parses `token` (see the module docs for what is refused).
    pub fn parse(token: &str) -> Result<UnverifiedToken, OidcError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(OidcError::TooLong);
        }
        let (header_b64, payload_b64, signature_b64) = split3(token)?;
        let header: Header = serde_json::from_slice(&b64(header_b64)?)
            .map_err(|_| OidcError::Malformed("the token header is not a JSON object"))?;
        if header.crit.is_some() {
            return Err(OidcError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        let alg = Algorithm::from_name(&header.alg)
            .ok_or_else(|| OidcError::UnsupportedAlgorithm(truncate(&header.alg, 16)))?;
        if header
            .kid
            .as_ref()
            .is_some_and(|kid| kid.len() > MAX_KID_LEN)
        {
            return Err(OidcError::Malformed("the token's key id is too long"));
        }
        let claims: Map<String, Value> = serde_json::from_slice(&b64(payload_b64)?)
            .map_err(|_| OidcError::Malformed("the token claims are not a JSON object"))?;
        let signature = b64(signature_b64)?;
        if signature.is_empty() {
            return Err(OidcError::BadSignature);
        }
        Ok(UnverifiedToken {
            alg,
            kid: header.kid,
            signing_input: token[..header_b64.len() + 1 + payload_b64.len()].to_owned(),
            signature,
            claims,
        })
    }

    /// The header's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `iss`, unverified: only for finding the registered provider.
    pub fn issuer(&self) -> Result<&str, OidcError> {
        match self.claims.get("iss") {
            None => Err(OidcError::MissingClaim("iss")),
            Some(Value::String(iss)) if iss.len() <= 1024 => Ok(iss),
            Some(_) => Err(OidcError::InvalidClaim("iss")),
        }
    }

    /// Checks the claims against the registration (module docs, step 2).
    pub fn validate_claims(
        &self,
        expected: &Expectations<'_>,
        now: Timestamp,
    ) -> Result<IdentityClaims, OidcError> {
        let claims = &self.claims;
        let issuer = self.issuer()?;
        if issuer != expected.issuer {
            return Err(OidcError::IssuerMismatch);
        }
        let subject = required_string(claims, "sub")?;
        let aud = string_or_array(claims, "aud")?.ok_or(OidcError::MissingClaim("aud"))?;
        let expires_at = required_int(claims, "exp")?;
        let issued_at = required_int(claims, "iat")?;
        let not_before = optional_int(claims, "nbf")?;
        let azp = optional_string(claims, "azp")?;
        let amr = string_or_array(claims, "amr")?.unwrap_or_default();

        let now_s = now.unix_seconds();
        let leeway = expected.leeway_seconds.max(0);
        if now_s >= expires_at.saturating_add(leeway) {
            return Err(OidcError::Expired {
                now: now_s,
                expires_at,
            });
        }
        if not_before.is_some_and(|nbf| now_s.saturating_add(leeway) < nbf) {
            return Err(OidcError::NotYetValid);
        }
        if issued_at > now_s.saturating_add(leeway) {
            return Err(OidcError::IssuedInFuture);
        }

        let audience = match &azp {
            Some(azp) => expected
                .client_ids
                .iter()
                .find(|id| *id == azp)
                .cloned()
                .ok_or(OidcError::IncorrectAudience)?,
            None => aud
                .iter()
                .find(|value| expected.client_ids.contains(value))
                .cloned()
                .ok_or(OidcError::IncorrectAudience)?,
        };

        let email = match claims.get("email") {
            Some(Value::String(email)) if email.len() <= MAX_CLAIM_LEN => Some(email.clone()),
            _ => None,
        };
        let (principal_tags, transitive_tag_keys) = session_tags(claims)?;
        let source_identity = match claims.get(SOURCE_IDENTITY_CLAIM) {
            None => None,
            Some(Value::String(value)) => Some(value.clone()),
            Some(_) => return Err(OidcError::RejectedClaim(SOURCE_IDENTITY_CLAIM)),
        };
        Ok(IdentityClaims {
            subject,
            audience,
            aud,
            azp,
            amr,
            email,
            expires_at,
            issued_at,
            principal_tags,
            transitive_tag_keys,
            source_identity,
        })
    }

    /// Checks the signature with `jwks` (module docs, step 3).
    /// [`OidcError::UnknownKey`] means no key of the set could be used (an
    /// unknown `kid`, or no key for the algorithm): the caller may refresh
    /// the set once and retry.
    pub fn verify_signature(&self, jwks: &Jwks) -> Result<(), OidcError> {
        let message = self.signing_input.as_bytes();
        match &self.kid {
            Some(kid) => {
                let key = jwks
                    .keys()
                    .iter()
                    .find(|key| key.kid() == Some(kid.as_str()))
                    .ok_or(OidcError::UnknownKey)?;
                if !key.allows(self.alg) {
                    // The key exists but its type does not allow what the
                    // header asks for (RS256 key, HS256/ES256 header …).
                    return Err(OidcError::BadSignature);
                }
                if key.verify(self.alg, message, &self.signature) {
                    Ok(())
                } else {
                    Err(OidcError::BadSignature)
                }
            }
            None => {
                let mut candidates = jwks
                    .keys()
                    .iter()
                    .filter(|key| key.allows(self.alg))
                    .take(MAX_KEYS_TRIED)
                    .peekable();
                if candidates.peek().is_none() {
                    return Err(OidcError::UnknownKey);
                }
                if candidates.any(|key| key.verify(self.alg, message, &self.signature)) {
                    Ok(())
                } else {
                    Err(OidcError::BadSignature)
                }
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn required_string(claims: &Map<String, Value>, name: &'static str) -> Result<String, OidcError> {
    optional_string(claims, name)?.ok_or(OidcError::MissingClaim(name))
}

fn optional_string(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() && value.len() <= MAX_CLAIM_LEN => {
            Ok(Some(value.clone()))
        }
        Some(_) => Err(OidcError::InvalidClaim(name)),
    }
}

fn string_or_array(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Vec<String>>, OidcError> {
    let valid = |value: &str| !value.is_empty() && value.len() <= MAX_CLAIM_LEN;
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if valid(value) => Ok(Some(vec![value.clone()])),
        Some(Value::Array(values)) if !values.is_empty() && values.len() <= MAX_CLAIM_VALUES => {
            values
                .iter()
                .map(|value| match value {
                    Value::String(text) if valid(text) => Ok(text.clone()),
                    _ => Err(OidcError::InvalidClaim(name)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(OidcError::InvalidClaim(name)),
    }
}

/// A NumericDate: a JSON integer. Strings (`"never"`), floats, booleans and
/// null are errors, never "absent".
fn optional_int(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .filter(|value| *value >= 0)
            .map(Some)
            .ok_or(OidcError::InvalidClaim(name)),
        Some(_) => Err(OidcError::InvalidClaim(name)),
    }
}

fn required_int(claims: &Map<String, Value>, name: &'static str) -> Result<i64, OidcError> {
    optional_int(claims, name)?.ok_or(OidcError::MissingClaim(name))
}

/// `https://aws.amazon.com/tags`: `{"principal_tags": {"Key": ["value"]},
/// "transitive_tag_keys": ["Key"]}`. Each tag has exactly one value (AWS does
/// not support multi-valued session tags); a malformed claim is rejected.
#[allow(clippy::type_complexity)]
fn session_tags(
    claims: &Map<String, Value>,
) -> Result<(Vec<(String, String)>, Vec<String>), OidcError> {
    let reject = || OidcError::RejectedClaim(TAGS_CLAIM);
    let Some(claim) = claims.get(TAGS_CLAIM) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let Value::Object(claim) = claim else {
        return Err(reject());
    };
    let mut tags = Vec::new();
    if let Some(principal_tags) = claim.get("principal_tags") {
        let Value::Object(principal_tags) = principal_tags else {
            return Err(reject());
        };
        // 50 is AWS's session tag limit; the token checks it again.
        if principal_tags.len() > 50 {
            return Err(reject());
        }
        for (key, values) in principal_tags {
            let value = match values {
                Value::Array(values) if values.len() == 1 => match &values[0] {
                    Value::String(value) => value.clone(),
                    _ => return Err(reject()),
                },
                Value::String(value) => value.clone(),
                _ => return Err(reject()),
            };
            tags.push((key.clone(), value));
        }
    }
    let mut transitive = Vec::new();
    if let Some(keys) = claim.get("transitive_tag_keys") {
        let Value::Array(keys) = keys else {
            return Err(reject());
        };
        if keys.len() > 50 {
            return Err(reject());
        }
        for key in keys {
            let Value::String(key) = key else {
                return Err(reject());
            };
            if !tags.iter().any(|(tag, _)| tag.eq_ignore_ascii_case(key)) {
                return Err(reject());
            }
            transitive.push(key.clone());
        }
    }
    Ok((tags, transitive))
}
