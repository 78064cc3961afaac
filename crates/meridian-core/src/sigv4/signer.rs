//! Signing: header-signed requests and presigned query strings, for tests,
//! the load generator and the Rust client crate.
//!
//! The signer builds its canonical request with the verifier's own functions
//! ([`crate::sigv4::canonical`]): it lays out the headers and query it will
//! send, then canonicalises exactly what the verifier will see. What it
//! chooses to sign follows botocore: every header the caller supplies except
//! botocore's blacklist (`user-agent`, `expect`, hop-by-hop headers, trace
//! headers), plus `host` (required), `x-amz-date`, `x-amz-security-token`
//! (unless it is to be added after signing) and `x-amz-content-sha256` when
//! asked for. Signed header names are lower-cased, sorted and deduplicated.
//! Tests cross-check it against the independent `aws-sigv4` crate.

use std::fmt;

use crate::sigv4::canonical::{self, CanonicalInput, QueryExclusions};
use crate::sigv4::encoding;
use crate::sigv4::error::SigV4Error;
use crate::sigv4::policy::UriEncoding;
use crate::sigv4::request::{Payload, Request};
use crate::sigv4::signing_key::SigningKey;
use crate::sigv4::{ALGORITHM, TERMINATOR, UNSIGNED_PAYLOAD};
use crate::time::Timestamp;

/// Headers botocore never signs (`SIGNED_HEADERS_BLACKLIST`), plus those the
/// signer itself sets.
const NEVER_SIGNED: &[&str] = &[
    "authorization",
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// Headers the signer sets; copies in the input are dropped.
const SET_BY_SIGNER: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Where the session token goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPlacement {
    /// Signed (header: listed in `SignedHeaders`; presigned: in the canonical query).
    Signed,
    /// Added after signing, outside the signature.
    AddedAfterSigning,
}

/// How the payload is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSigning {
    /// The body's SHA-256, without an `X-Amz-Content-SHA256` header (STS/IAM).
    Hash,
    /// The body's SHA-256, also sent (and signed) as `X-Amz-Content-SHA256`.
    HashWithHeader,
    /// `UNSIGNED-PAYLOAD`, sent as `X-Amz-Content-SHA256` (header signing only).
    Unsigned,
}

/// Signing options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningOptions {
    /// Path encoding.
    pub uri_encoding: UriEncoding,
    /// Whether to normalise the path.
    pub normalize_path: bool,
    /// Session-token placement.
    pub token: TokenPlacement,
    /// Payload coverage.
    pub payload: PayloadSigning,
}

impl SigningOptions {
    /// What botocore does for STS and IAM: double-encoded normalised path,
    /// signed token, body hash without a header.
    pub const fn standard() -> SigningOptions {
        SigningOptions {
            uri_encoding: UriEncoding::Double,
            normalize_path: true,
            token: TokenPlacement::Signed,
            payload: PayloadSigning::Hash,
        }
    }
}

/// Credentials and scope for one signature. `Debug` redacts the secret and token.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a [u8],
    /// The session token, for temporary credentials.
    pub session_token: Option<&'a str>,
    /// The region in the scope.
    pub region: &'a str,
    /// The service in the scope.
    pub service: &'a str,
    /// The signing instant (whole seconds are used).
    pub time: Timestamp,
    /// Options.
    pub options: SigningOptions,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("options", &self.options)
            .finish()
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The request has no `host` header (the verifier requires it signed).
    #[error("request has no host header")]
    MissingHost,
    /// The path or query cannot be canonicalised (malformed escapes, relative path).
    #[error("request cannot be canonicalised: {0}")]
    Malformed(#[from] SigV4Error),
}

/// The result of header signing: the headers to add, and the intermediate strings.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderSignature {
    /// `Authorization` header value.
    pub authorization: String,
    /// `X-Amz-Date` header value.
    pub x_amz_date: String,
    /// `X-Amz-Security-Token` header value, when signing with a session token.
    pub x_amz_security_token: Option<String>,
    /// `X-Amz-Content-SHA256` header value, when asked for.
    pub x_amz_content_sha256: Option<String>,
    /// The canonical request (lossy UTF-8 for non-UTF-8 header values).
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

impl HeaderSignature {
    /// The headers to add to the request, in this order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("X-Amz-Date", self.x_amz_date.clone())];
        if let Some(token) = &self.x_amz_security_token {
            headers.push(("X-Amz-Security-Token", token.clone()));
        }
        if let Some(hash) = &self.x_amz_content_sha256 {
            headers.push(("X-Amz-Content-SHA256", hash.clone()));
        }
        headers.push(("Authorization", self.authorization.clone()));
        headers
    }
}

impl fmt::Debug for HeaderSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderSignature")
            .field("authorization", &self.authorization)
            .field("x_amz_date", &self.x_amz_date)
            .field(
                "x_amz_security_token",
                &self.x_amz_security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("x_amz_content_sha256", &self.x_amz_content_sha256)
            .finish_non_exhaustive()
    }
}

/// The result of presigning: the query string to send, and the intermediate strings.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    /// The complete query string (the request's parameters, then the
    /// `X-Amz-*` parameters, `X-Amz-Signature` last).
    pub query: String,
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

impl fmt::Debug for PresignedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedQuery")
            .field("query_length", &self.query.len())
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

fn payload_hash(payload: Payload<'_>) -> String {
    match payload {
        Payload::Body(body) => canonical::sha256_hex(body),
        Payload::Sha256Hex(hash) => hash.to_ascii_lowercase(),
    }
}

/// Sorted, deduplicated, lower-cased names of the headers to sign.
fn signed_header_list(headers: &[(&str, &[u8])]) -> Result<String, SignError> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !NEVER_SIGNED.contains(&name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|name| name == "host") {
        return Err(SignError::MissingHost);
    }
    Ok(names.join(";"))
}

fn kept_headers<'a>(request: &Request<'a>) -> Vec<(&'a str, &'a [u8])> {
    request
        .headers
        .iter()
        .filter(|(name, _)| {
            !SET_BY_SIGNER
                .iter()
                .any(|set| name.eq_ignore_ascii_case(set))
        })
        .copied()
        .collect()
}

fn scope(params: &SigningParams<'_>, date: &str) -> String {
    format!("{date}/{}/{}/{TERMINATOR}", params.region, params.service)
}

/// Signs `request` with an `Authorization` header.
pub fn sign_headers(
    request: &Request<'_>,
    params: &SigningParams<'_>,
) -> Result<HeaderSignature, SignError> {
    let amz_date = params.time.to_amz_date();
    let date = amz_date.get(..8).unwrap_or_default().to_owned();
    let body_hash = payload_hash(request.payload);
    let (payload_line, content_header) = match params.options.payload {
        PayloadSigning::Hash => (body_hash.clone(), None),
        PayloadSigning::HashWithHeader => (body_hash.clone(), Some(body_hash.clone())),
        PayloadSigning::Unsigned => (
            String::from(UNSIGNED_PAYLOAD),
            Some(String::from(UNSIGNED_PAYLOAD)),
        ),
    };
    let token_header = params.session_token.map(str::to_owned);

    let mut to_sign = kept_headers(request);
    to_sign.push(("x-amz-date", amz_date.as_bytes()));
    if let (Some(token), TokenPlacement::Signed) = (&token_header, params.options.token) {
        to_sign.push(("x-amz-security-token", token.as_bytes()));
    }
    if let Some(hash) = &content_header {
        to_sign.push(("x-amz-content-sha256", hash.as_bytes()));
    }
    let signed_headers = signed_header_list(&to_sign)?;
    let canonical_request = canonical::canonical_request(&CanonicalInput {
        method: request.method,
        path: request.path,
        query: request.query,
        query_exclusions: QueryExclusions::None,
        headers: &to_sign,
        signed_headers: &signed_headers,
        payload_hash: &payload_line,
        uri_encoding: params.options.uri_encoding,
        normalize_path: params.options.normalize_path,
    })?;
    let string_to_sign = canonical::string_to_sign(
        &amz_date,
        &date,
        params.region,
        params.service,
        &canonical_request,
    );
    let key = SigningKey::derive(
        params.secret_access_key,
        &date,
        params.region,
        params.service,
    );
    let signature = key.signature_hex(string_to_sign.as_bytes());
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        params.access_key_id,
        scope(params, &date)
    );
    Ok(HeaderSignature {
        authorization,
        x_amz_date: amz_date,
        x_amz_security_token: token_header,
        x_amz_content_sha256: content_header,
        canonical_request: String::from_utf8_lossy(&canonical_request).into_owned(),
        string_to_sign,
        signature,
    })
}

/// Presigns `request`: returns the query string that carries the signature.
/// Every header of `request` (but the blacklist) is signed and must be sent
/// unchanged; the payload is the body's hash, or `UNSIGNED-PAYLOAD` when
/// asked for.
pub fn presign(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    expires_in_seconds: u32,
) -> Result<PresignedQuery, SignError> {
    let amz_date = params.time.to_amz_date();
    let date = amz_date.get(..8).unwrap_or_default().to_owned();
    let headers = kept_headers(request);
    let signed_headers = signed_header_list(&headers)?;
    let credential = format!("{}/{}", params.access_key_id, scope(params, &date));

    let mut query = String::from(request.query);
    let mut append = |name: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encoding::encode(value.as_bytes()));
    };
    append("X-Amz-Algorithm", ALGORITHM);
    append("X-Amz-Credential", &credential);
    append("X-Amz-Date", &amz_date);
    append("X-Amz-Expires", &expires_in_seconds.to_string());
    append("X-Amz-SignedHeaders", &signed_headers);
    let token_after = match (params.session_token, params.options.token) {
        (Some(token), TokenPlacement::Signed) => {
            append("X-Amz-Security-Token", token);
            None
        }
        (Some(token), TokenPlacement::AddedAfterSigning) => Some(token),
        (None, _) => None,
    };

    let payload_line = match params.options.payload {
        PayloadSigning::Unsigned => String::from(UNSIGNED_PAYLOAD),
        PayloadSigning::Hash | PayloadSigning::HashWithHeader => payload_hash(request.payload),
    };
    let canonical_request = canonical::canonical_request(&CanonicalInput {
        method: request.method,
        path: request.path,
        query: &query,
        query_exclusions: QueryExclusions::None,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_line,
        uri_encoding: params.options.uri_encoding,
        normalize_path: params.options.normalize_path,
    })?;
    let string_to_sign = canonical::string_to_sign(
        &amz_date,
        &date,
        params.region,
        params.service,
        &canonical_request,
    );
    let key = SigningKey::derive(
        params.secret_access_key,
        &date,
        params.region,
        params.service,
    );
    let signature = key.signature_hex(string_to_sign.as_bytes());
    let mut append = |name: &str, value: &str| {
        query.push('&');
        query.push_str(name);
        query.push('=');
        query.push_str(&encoding::encode(value.as_bytes()));
    };
    if let Some(token) = token_after {
        append("X-Amz-Security-Token", token);
    }
    append("X-Amz-Signature", &signature);
    Ok(PresignedQuery {
        query,
        canonical_request: String::from_utf8_lossy(&canonical_request).into_owned(),
        string_to_sign,
        signature,
    })
}
