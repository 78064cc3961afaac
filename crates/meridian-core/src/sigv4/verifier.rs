//! Step 2 and the entry point: [`Verifier`] holds the policy and the
//! signing-key cache; [`Verifier::parse`] is step 1 (see
//! [`crate::sigv4::parse`]) and [`Verifier::verify`] finishes with the secret.
//!
//! `verify` works out the payload hash (`X-Amz-Content-SHA256` when sent —
//! checked against the body so that a hash header cannot detach the signature
//! from the body — else the SHA-256 of the body), builds the canonical request
//! and the string to sign with [`crate::sigv4::canonical`], takes the signing
//! key from the cache, and compares signatures in constant time (`subtle`):
//! a wrong signature of any length and any mismatch position takes the same
//! path and yields the same error.
//!
//! The result, [`Authenticated`], can only be obtained from `verify`, so code
//! that holds one knows the signature was checked.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::sigv4::UNSIGNED_PAYLOAD;
use crate::sigv4::canonical::{self, CanonicalInput};
use crate::sigv4::error::SigV4Error;
use crate::sigv4::parse::{self, AuthForm, CredentialScope, ParsedAuth, SessionToken};
use crate::sigv4::policy::VerifierPolicy;
use crate::sigv4::request::{Payload, Request};
use crate::sigv4::signing_key::SigningKeyCache;
use crate::time::Timestamp;

/// A SigV4 verifier: a policy and a cache of derived signing keys. Share one
/// per process (it is `Sync`).
pub struct Verifier {
    policy: VerifierPolicy,
    cache: SigningKeyCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy)
            .field("cache", &self.cache)
            .finish()
    }
}

// Every request thread shares one verifier: fail the build if that stops
// being possible.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Verifier>();
    shareable::<ParsedAuth>();
};

/// A request whose signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    auth: ParsedAuth,
}

impl Authenticated {
    /// The access key id that signed the request.
    pub fn access_key_id(&self) -> &str {
        self.auth.access_key_id()
    }

    /// The credential scope the request was signed for.
    pub fn scope(&self) -> &CredentialScope {
        self.auth.scope()
    }

    /// The session token sent with the request.
    pub fn session_token(&self) -> Option<&SessionToken> {
        self.auth.session_token()
    }

    /// The request timestamp.
    pub fn request_time(&self) -> Timestamp {
        self.auth.request_time()
    }

    /// Header or presigned.
    pub fn form(&self) -> AuthForm {
        self.auth.form()
    }

    /// Everything parsed from the request.
    pub fn parsed(&self) -> &ParsedAuth {
        &self.auth
    }
}

fn is_lower_hex_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Verifier {
    /// A verifier enforcing `policy`.
    pub fn new(policy: VerifierPolicy) -> Verifier {
        let cache = SigningKeyCache::new(policy.signing_key_cache_capacity);
        Verifier { policy, cache }
    }

    /// The policy enforced.
    pub fn policy(&self) -> &VerifierPolicy {
        &self.policy
    }

    /// The signing-key cache.
    pub fn cache(&self) -> &SigningKeyCache {
        &self.cache
    }

    /// Step 1: parse and check everything that needs no secret, for a request
    /// addressed to `service` (for the STS/IAM endpoint, the service the
    /// `Action` belongs to), at `now`.
    pub fn parse(
        &self,
        request: &Request<'_>,
        service: &str,
        now: Timestamp,
    ) -> Result<ParsedAuth, SigV4Error> {
        parse::parse(&self.policy, request, service, now)
    }

    /// Step 2: check the signature with the secret the caller resolved for
    /// `parsed.access_key_id()`. `request` must be the request `parsed` came from.
    pub fn verify(
        &self,
        parsed: ParsedAuth,
        request: &Request<'_>,
        secret: &[u8],
    ) -> Result<Authenticated, SigV4Error> {
        let body_hash = match request.payload {
            Payload::Body(body) => canonical::sha256_hex(body),
            Payload::Sha256Hex(hash) => {
                let hash = hash.to_ascii_lowercase();
                if !is_lower_hex_sha256(&hash) {
                    return Err(SigV4Error::InvalidContentSha256);
                }
                hash
            }
        };
        let payload_hash = match &parsed.content_sha256 {
            Some(declared) if declared == UNSIGNED_PAYLOAD => declared.as_str(),
            Some(declared) => {
                if !bool::from(declared.as_bytes().ct_eq(body_hash.as_bytes())) {
                    return Err(SigV4Error::ContentSha256Mismatch);
                }
                declared.as_str()
            }
            None => body_hash.as_str(),
        };
        let canonical_request = canonical::canonical_request(&CanonicalInput {
            method: request.method,
            path: request.path,
            query: request.query,
            query_exclusions: parsed.query_exclusions,
            headers: request.headers,
            signed_headers: &parsed.signed_headers,
            payload_hash,
            uri_encoding: parsed.uri_encoding,
            normalize_path: parsed.normalize_path,
        })?;
        let scope = &parsed.scope;
        let string_to_sign = canonical::string_to_sign(
            &parsed.amz_date,
            scope.date(),
            scope.region(),
            scope.service(),
            &canonical_request,
        );
        let key = self.cache.get_or_derive(
            &parsed.access_key_id,
            scope.date(),
            scope.region(),
            scope.service(),
            secret,
        );
        let expected = key.signature_hex(string_to_sign.as_bytes());
        if bool::from(expected.as_bytes().ct_eq(parsed.signature.as_bytes())) {
            Ok(Authenticated { auth: parsed })
        } else {
            Err(SigV4Error::SignatureDoesNotMatch {
                canonical_request: canonical::redacted_for_display(&canonical_request),
                string_to_sign,
            })
        }
    }
}
