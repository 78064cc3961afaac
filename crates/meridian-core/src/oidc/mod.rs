//! OpenID Connect, both ways: validating identity providers' ID tokens for
//! `AssumeRoleWithWebIdentity`, and Meridian's own tokens for
//! `GetWebIdentityToken`.
//!
//! * [`jwk`]: JSON Web Keys → verification keys, with the algorithm
//!   allow-list decided by the key type;
//! * [`token`]: parsing and validating a compact JWS ID token (claims, then
//!   signature) with AWS's error semantics ([`OidcError::aws_code`]);
//! * [`issuer`]: which URLs may be issuers, the discovery document, the
//!   URLs the server's fetcher may request;
//! * [`outbound`]: the claims, JWKS and discovery document of the tokens
//!   Meridian issues (signing itself happens at the edge: AWS-LC's signers
//!   draw their own randomness, which this crate never does).
//!
//! Pure like the rest of the crate: no network (the JWKS comes from the
//! server's fetcher through the edge), no clock (`now` is an argument).

pub mod issuer;
pub mod jwk;
pub mod outbound;
pub mod token;

#[cfg(test)]
mod tests;

/// The claim that carries session tags (AWS's namespace).
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
/// The claim that carries the source identity.
pub const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";
/// The default tolerance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: i64 = 60;

/// The AWS error an [`OidcError`] is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwsCode {
    /// `InvalidIdentityToken` (400).
    InvalidIdentityToken,
    /// `ExpiredTokenException` (400).
    ExpiredToken,
    /// `IDPRejectedClaim` (403).
    IdpRejectedClaim,
    /// `IDPCommunicationError` (400, retried by the SDKs).
    IdpCommunicationError,
}

/// Why a token, key set or discovery document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The token is longer than [`token::MAX_TOKEN_LEN`] (checked before
    /// any decoding).
    #[error("the token is too long")]
    TooLong,
    /// The token is not a well-formed signed JWT.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm Meridian never accepts (`none`,
    /// `HS256`, `PS256`, …).
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A required claim is absent.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an out-of-range value (a string
    /// `exp`, a float `iat`, an empty `sub`).
    #[error("invalid claim {0}")]
    InvalidClaim(&'static str),
    /// `iss` is not byte-equal to the registered provider URL.
    #[error("the token's issuer is not the registered provider URL")]
    IssuerMismatch,
    /// Neither `azp` nor any `aud` value is a registered client id.
    #[error("incorrect token audience")]
    IncorrectAudience,
    /// `exp` (plus leeway) has passed.
    #[error("token expired at {expires_at}, now {now}")]
    Expired {
        /// Now, in seconds.
        now: i64,
        /// `exp`.
        expires_at: i64,
    },
    /// `nbf` (minus leeway) is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` (minus leeway) is in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// An AWS claim (`https://aws.amazon.com/tags`, `…/source_identity`) is
    /// malformed or breaks a session rule.
    #[error("rejected claim {0}")]
    RejectedClaim(&'static str),
    /// No key of the provider's set can check the token (unknown `kid`, or
    /// no key allowing the algorithm). Worth one refresh of the set.
    #[error("no verification key for the token")]
    UnknownKey,
    /// The signature does not verify with the key the token names.
    #[error("signature verification failed")]
    BadSignature,
    /// A JWK is unusable (skipped when parsing a set).
    #[error("unusable key")]
    UnusableKey,
    /// A JWKS document is not a bounded JSON key set.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(&'static str),
    /// A discovery document or URL is unusable.
    #[error("invalid discovery document: {0}")]
    InvalidDiscovery(&'static str),
}

impl OidcError {
    /// The AWS error code this refusal is answered with.
    pub fn aws_code(&self) -> AwsCode {
        match self {
            OidcError::Expired { .. } => AwsCode::ExpiredToken,
            OidcError::RejectedClaim(_) => AwsCode::IdpRejectedClaim,
            // A provider that answers with something unusable is a permanent
            // refusal; only failing to reach it is `IDPCommunicationError`,
            // which the fetcher reports, not this type.
            _ => AwsCode::InvalidIdentityToken,
        }
    }

    /// The message AWS sends for it (AWS's recorded texts where known).
    pub fn aws_message(&self) -> String {
        match self {
            OidcError::MissingClaim(claim) => format!("Missing a required claim: {claim}"),
            OidcError::IncorrectAudience => String::from("Incorrect token audience"),
            // AWS's text, including its missing space before the second time.
            OidcError::Expired { now, expires_at } => format!(
                "Token expired: current date/time {now} must be before the expiration \
                 date/time{expires_at}"
            ),
            OidcError::UnknownKey | OidcError::InvalidJwks(_) | OidcError::InvalidDiscovery(_) => {
                String::from(
                    "Couldn't retrieve verification key from your identity provider,  please \
                     reference AssumeRoleWithWebIdentity documentation for requirements",
                )
            }
            OidcError::InvalidClaim(claim) => format!("Invalid claim: {claim}"),
            OidcError::IssuerMismatch => String::from(
                "The issuer of the token does not match the URL of the OpenID Connect provider",
            ),
            OidcError::NotYetValid => String::from("Token is not yet valid (nbf)"),
            OidcError::IssuedInFuture => String::from("Token issue time (iat) is in the future"),
            OidcError::UnsupportedAlgorithm(_) => String::from(
                "Unsupported token signing algorithm; tokens must be signed with RS256, RS384, \
                 RS512, ES256, ES384 or ES512",
            ),
            OidcError::RejectedClaim(claim) => format!(
                "The identity provider's claim {claim} could not be used: it is malformed or \
                 breaks a session rule"
            ),
            OidcError::TooLong
            | OidcError::Malformed(_)
            | OidcError::BadSignature
            | OidcError::UnusableKey => String::from(
                "The web identity token that was passed could not be validated by AWS. Get a \
                 new identity token from the identity provider and then retry the request.",
            ),
        }
    }
}
