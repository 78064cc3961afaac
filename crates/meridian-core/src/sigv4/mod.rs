//! AWS Signature Version 4: verification (the product) and signing (for tests,
//! the load generator and the Rust client), sharing one canonicaliser so the
//! two cannot drift.
//!
//! Verification is split in two steps because the secret is not known until
//! the access key id has been parsed, and because everything that can reject
//! a request cheaply should do so before any hashing:
//!
//! ```text
//!   request ──▶ Verifier::parse(request, service, now) ──▶ ParsedAuth
//!                │ limits, query/path escapes, auth form,
//!                │ Authorization / X-Amz-* syntax, SignedHeaders rules,
//!                │ date format, clock window / presigned expiry,
//!                │ credential scope (region, service, terminator, date)
//!                ▼
//!   caller: access key id ──▶ secret (store for AKIA, opened session token for ASIA;
//!           InvalidClientTokenId / ExpiredToken are the caller's errors)
//!                ▼
//!   Verifier::verify(parsed, request, secret) ──▶ Authenticated
//!                  payload hash, canonical request, string to sign,
//!                  signing key (cached), constant-time comparison
//! ```
//!
//! The order of the checks follows AWS's observed error ordering (the
//! scratchstack project's "AWS Auth Error Ordering" chart), so a request with
//! several faults gets the same error AWS would give. Every error carries
//! AWS's code, HTTP status and message text ([`error::SigV4Error`]).
//!
//! The request is described by [`request::Request`], which knows no HTTP
//! crate: method, raw path, raw query, headers as received and the payload (or
//! just its SHA-256, for resource services that forward only the hash).
//!
//! What callers must do, because the verifier cannot:
//!
//! * The access key id is not covered by the signature (SigV4 signs with the
//!   secret, not the id): validate its format, look it up, and for `ASIA…`
//!   keys check that the session token opens to that very key id.
//! * Pass `Host` exactly as received, port included (`:authority` for
//!   HTTP/2), and the method actually received: boto3 presigns STS URLs as
//!   POST, so the same URL sent as GET must fail.
//! * Reject repeated operation parameters (two `Action`s) before dispatch:
//!   the canonical query covers both, so only the dispatcher can be confused.

pub mod canonical;
pub mod error;
pub mod limits;
pub mod parse;
pub mod policy;
pub mod request;
pub mod signer;
pub mod signing_key;
pub mod verifier;

mod amz_date;
mod encoding;

/// The only algorithm accepted: `AWS4-HMAC-SHA256`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";

/// `X-Amz-Content-SHA256` value of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Presigned URLs may not be valid for longer than seven days.
pub const MAX_PRESIGNED_EXPIRES_SECONDS: u32 = 604_800;
