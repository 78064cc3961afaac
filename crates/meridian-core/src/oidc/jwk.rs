//! JSON Web Keys (RFC 7517) as verification keys: an identity provider's
//! JWKS parsed into keys prepared for AWS-LC, each with the one family of
//! algorithms its type allows.
//!
//! The algorithm allow-list is decided here, by the key: an RSA key of at
//! least 2,048 bits verifies `RS256`, `RS384` and `RS512`; a P-256 key only
//! `ES256`, a P-384 key only `ES384`, a P-521 key only `ES512`. Nothing else
//! is ever a verification key: symmetric (`oct`) keys, `OKP` keys, RSA keys
//! under 2,048 bits, keys whose `use` is not `sig` or whose `key_ops` lack
//! `verify` are skipped, so a token whose header says `HS256` or `none` finds
//! no key that accepts it (RFC 8725 §3.1; CVE-2015-9235). A key's own `alg`
//! member, when present, narrows it to that one algorithm.
//!
//! Parsing is tolerant of what it does not use (unknown members, unknown key
//! types are skipped rather than failing the whole set: providers publish
//! encryption keys and new key types beside their signing keys) and strict
//! about bounds: the document size, the number of keys and every member's
//! length are capped, and the JSON depth is serde_json's (128).
//!
//! Keys are parsed once per fetched document (`ParsedPublicKey`), so each
//! verification is one signature check.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{
    self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, VerificationAlgorithm,
};
use data_encoding::BASE64URL_NOPAD;
use serde::Deserialize;

use crate::oidc::OidcError;

/// The largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The most keys kept from one JWKS (the rest are ignored).
pub const MAX_JWKS_KEYS: usize = 100;
/// The longest `kid` kept.
pub const MAX_KID_LEN: usize = 256;
/// RSA moduli accepted, in bits.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// A JWS algorithm Meridian verifies (and, for `RS256`/`ES384`, signs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
    ];

    /// The JOSE name (`RS256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    /// The algorithm named `name` (case-sensitive, as JOSE is); `None` for
    /// everything else, `none` and `HS*` included.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }

    fn rsa_parameters(self) -> Option<&'static RsaParameters> {
        match self {
            Algorithm::Rs256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::Rs384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::Rs512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One verification key: its id and a prepared key per algorithm it allows.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    /// `(algorithm, prepared key)`; one entry for EC keys, up to three for RSA.
    prepared: Vec<(Algorithm, Arc<ParsedPublicKey>)>,
}

impl VerifyingKey {
    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key verifies `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.prepared.iter().any(|(allowed, _)| *allowed == alg)
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.prepared.iter().map(|(alg, _)| *alg)
    }

    /// Checks `signature` over `message` with `alg`. A key that does not
    /// allow `alg` fails, whatever the signature.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.prepared
            .iter()
            .find(|(allowed, _)| *allowed == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }

    /// An RSA verification key from its modulus and exponent (big-endian;
    /// leading zero octets are tolerated). `only` narrows it to one algorithm.
    pub fn rsa(
        kid: Option<String>,
        n: &[u8],
        e: &[u8],
        only: Option<Algorithm>,
    ) -> Result<VerifyingKey, OidcError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = n.len() * 8;
        if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) || e.is_empty() || e.len() > 8 {
            return Err(OidcError::UnusableKey);
        }
        let components = RsaPublicKeyComponents { n, e };
        let mut prepared = Vec::with_capacity(3);
        for alg in [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512] {
            if only.is_some_and(|only| only != alg) {
                continue;
            }
            let Some(params) = alg.rsa_parameters() else {
                continue;
            };
            let parsed = components
                .to_parsed_public_key(params)
                .map_err(|_| OidcError::UnusableKey)?;
            prepared.push((alg, Arc::new(parsed)));
        }
        if prepared.is_empty() {
            return Err(OidcError::UnusableKey);
        }
        Ok(VerifyingKey { kid, prepared })
    }

    /// An EC verification key from its curve and affine coordinates.
    pub fn ec(
        kid: Option<String>,
        curve: &str,
        x: &[u8],
        y: &[u8],
        only: Option<Algorithm>,
    ) -> Result<VerifyingKey, OidcError> {
        let (alg, len, verification): (Algorithm, usize, &'static dyn VerificationAlgorithm) =
            match curve {
                "P-256" => (Algorithm::Es256, 32, &signature::ECDSA_P256_SHA256_FIXED),
                "P-384" => (Algorithm::Es384, 48, &signature::ECDSA_P384_SHA384_FIXED),
                "P-521" => (Algorithm::Es512, 66, &signature::ECDSA_P521_SHA512_FIXED),
                _ => return Err(OidcError::UnusableKey),
            };
        if only.is_some_and(|only| only != alg) || x.len() != len || y.len() != len {
            return Err(OidcError::UnusableKey);
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let parsed =
            ParsedPublicKey::new(verification, point).map_err(|_| OidcError::UnusableKey)?;
        Ok(VerifyingKey {
            kid,
            prepared: vec![(alg, Arc::new(parsed))],
        })
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A provider's verification keys, as parsed from its JWKS document.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<VerifyingKey>,
    /// How many entries of the document were skipped as unusable.
    skipped: usize,
}

#[derive(Deserialize)]
struct RawSet<'a> {
    #[serde(borrow)]
    keys: Vec<RawKey<'a>>,
}

/// The members of a JWK this module reads; everything else is ignored
/// (`x5c`, `x5t`, `jku`-style members are never followed).
#[derive(Deserialize)]
struct RawKey<'a> {
    #[serde(borrow, default)]
    kty: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, rename = "use")]
    use_: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(borrow, default)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    n: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    e: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    crv: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    x: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    y: Option<std::borrow::Cow<'a, str>>,
}

impl Jwks {
    /// A set made of `keys` (tests, and Meridian's own published keys).
    pub fn from_keys(keys: Vec<VerifyingKey>) -> Jwks {
        Jwks { keys, skipped: 0 }
    }

    /// Parses a JWKS document. Fails only when the document itself is not a
    /// bounded JSON object with a `keys` array; unusable keys are skipped
    /// (see [`Jwks::skipped`]).
    pub fn parse(document: &[u8]) -> Result<Jwks, OidcError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(OidcError::InvalidJwks("the JWKS document is too large"));
        }
        let raw: RawSet<'_> = serde_json::from_slice(document)
            .map_err(|_| OidcError::InvalidJwks("the JWKS document is not a JSON key set"))?;
        let mut jwks = Jwks::default();
        for key in raw.keys.iter() {
            if jwks.keys.len() >= MAX_JWKS_KEYS {
                jwks.skipped += 1;
                continue;
            }
            match parse_key(key) {
                Ok(parsed) => jwks.keys.push(parsed),
                Err(_) => jwks.skipped += 1,
            }
        }
        Ok(jwks)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// How many keys of the document were skipped (unsupported type, too
    /// small, not for signatures, malformed, over the count limit).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether the set has a key with this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid() == Some(kid))
    }
}

fn decode(member: Option<&std::borrow::Cow<'_, str>>, max: usize) -> Result<Vec<u8>, OidcError> {
    let text = member.ok_or(OidcError::UnusableKey)?;
    if text.len() > max {
        return Err(OidcError::UnusableKey);
    }
    BASE64URL_NOPAD
        .decode(text.trim_end_matches('=').as_bytes())
        .map_err(|_| OidcError::UnusableKey)
}

fn parse_key(raw: &RawKey<'_>) -> Result<VerifyingKey, OidcError> {
    if raw.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return Err(OidcError::UnusableKey);
    }
    if raw
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err(OidcError::UnusableKey);
    }
    let kid = match raw.kid.as_deref() {
        Some(kid) if kid.len() > MAX_KID_LEN => return Err(OidcError::UnusableKey),
        kid => kid.map(str::to_owned),
    };
    // A key's declared `alg` must be one we verify; it then narrows the key.
    let only = match raw.alg.as_deref() {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).ok_or(OidcError::UnusableKey)?),
    };
    match raw.kty.as_deref() {
        Some("RSA") => {
            // 8192-bit modulus: 1,366 base64url characters.
            let n = decode(raw.n.as_ref(), 1400)?;
            let e = decode(raw.e.as_ref(), 16)?;
            VerifyingKey::rsa(kid, &n, &e, only)
        }
        Some("EC") => {
            let x = decode(raw.x.as_ref(), 96)?;
            let y = decode(raw.y.as_ref(), 96)?;
            VerifyingKey::ec(kid, raw.crv.as_deref().unwrap_or(""), &x, &y, only)
        }
        _ => Err(OidcError::UnusableKey),
    }
}

/// Base64url without padding of `bytes` (JWK members, JWS parts).
pub fn b64url(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}
