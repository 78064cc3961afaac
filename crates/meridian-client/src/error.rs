//! What can go wrong when asking the Verifier.
//!
//! Two kinds of failure, because a resource service must treat them
//! differently:
//!
//! * [`VerifyError::Rejected`]: a node answered, and the answer is final for
//!   this request — the signature does not match, the credentials are
//!   invalid or expired, the call was malformed. Answer your own client with
//!   the code (`SignatureDoesNotMatch`, `InvalidClientTokenId`,
//!   `ExpiredToken`, …) as STS would; retrying elsewhere gives the same.
//! * [`VerifyError::Unavailable`]: no node could answer in time (every
//!   attempt failed with a transport error, `UNAVAILABLE`, throttling or the
//!   deadline, or the retry budget is spent). Fail closed: answer 503 and let
//!   your client retry.
//!
//! A policy Deny is not an error: `authorize` returns an
//! [`crate::Authorization`] that says so.

use tonic::Code;

/// Why a Verifier call did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The Verifier refused the request; final.
    #[error("{code}: {message}")]
    Rejected {
        /// The AWS-style code (`SignatureDoesNotMatch`, `InvalidClientTokenId`,
        /// `ExpiredToken`, `IncompleteSignature`, `InvalidContextHandle`,
        /// `InvalidRequest`, …).
        code: String,
        /// The message STS would give.
        message: String,
        /// The gRPC status code it came with.
        grpc: Code,
    },
    /// No node answered in time; the last failure is kept.
    #[error("verifier unavailable after {attempts} attempt(s): {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure, as text.
        last: String,
    },
    /// The request could not be described to the Verifier (a header value
    /// that is not valid, …); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl VerifyError {
    /// The AWS-style code of a rejection.
    pub fn code(&self) -> Option<&str> {
        match self {
            VerifyError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the caller authenticated badly (answer 403 with the code),
    /// rather than the request being malformed or the service down.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            VerifyError::Rejected {
                grpc: Code::Unauthenticated,
                ..
            }
        )
    }
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No endpoint at all.
    #[error("no verifier endpoint configured")]
    NoEndpoints,
    /// An endpoint URI does not parse.
    #[error("invalid endpoint {endpoint}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
}
