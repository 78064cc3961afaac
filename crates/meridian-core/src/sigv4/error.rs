//! Why a SigV4 request was rejected, rendered exactly as AWS renders it.
//!
//! botocore picks the exception class from `<Code>` and users read
//! `<Message>`, so [`SigV4Error::code`], [`SigV4Error::http_status`] and
//! [`SigV4Error::message`] reproduce AWS's strings byte for byte where AWS's
//! text is known (sources: STS-API.md §3, AWS responses quoted in public issue
//! trackers, and the scratchstack project's recorded AWS error ordering).
//! Texts marked "(ours)" in the variant docs are Meridian's where AWS's exact
//! wording is not known. `Display` is a short lower-case description for logs;
//! neither form ever contains a secret or a session token.

use std::fmt::Write as _;

use crate::time::Timestamp;

/// A part the `Authorization` header must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationPart {
    /// `Credential=…`.
    Credential,
    /// `Signature=…`.
    Signature,
    /// `SignedHeaders=…`.
    SignedHeaders,
    /// An `X-Amz-Date` or `Date` header.
    Date,
}

impl AuthorizationPart {
    fn aws_message(self) -> &'static str {
        match self {
            AuthorizationPart::Credential => {
                "Authorization header requires 'Credential' parameter."
            }
            AuthorizationPart::Signature => "Authorization header requires 'Signature' parameter.",
            AuthorizationPart::SignedHeaders => {
                "Authorization header requires 'SignedHeaders' parameter."
            }
            AuthorizationPart::Date => {
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            }
        }
    }
}

/// A query parameter presigned (query-string) authentication must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryAuthPart {
    /// `X-Amz-Credential`.
    Credential,
    /// `X-Amz-Signature`.
    Signature,
    /// `X-Amz-SignedHeaders`.
    SignedHeaders,
    /// `X-Amz-Date`.
    Date,
}

impl QueryAuthPart {
    fn aws_message(self) -> &'static str {
        match self {
            QueryAuthPart::Credential => {
                "AWS query-string parameters must include 'X-Amz-Credential'."
            }
            QueryAuthPart::Signature => {
                "AWS query-string parameters must include 'X-Amz-Signature'."
            }
            QueryAuthPart::SignedHeaders => {
                "AWS query-string parameters must include 'X-Amz-SignedHeaders'."
            }
            QueryAuthPart::Date => "AWS query-string parameters must include 'X-Amz-Date'.",
        }
    }
}

/// A malformed `%` escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeError {
    /// `%` followed by fewer than two characters.
    IncompleteTrailing,
    /// `%` followed by two characters that are not both hex digits (the two
    /// characters, as text).
    IllegalHex(String),
}

impl EscapeError {
    fn aws_message(&self) -> String {
        match self {
            EscapeError::IncompleteTrailing => {
                String::from("Incomplete trailing escape % sequence")
            }
            EscapeError::IllegalHex(chars) => {
                format!("Illegal hex character in escape % pattern: %{chars}")
            }
        }
    }
}

/// What exceeded a [`crate::sigv4::limits::Limits`] bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// More header fields than allowed.
    HeaderCount,
    /// One header name or value longer than allowed.
    HeaderLength,
    /// All header names and values together longer than allowed.
    HeaderSection,
    /// The `Authorization` header longer than allowed.
    Authorization,
    /// More names in `SignedHeaders` than allowed.
    SignedHeaderCount,
}

/// The scope faults found in one credential; AWS reports all of them at once,
/// in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeFaults {
    /// The region given, when it is not one this verifier accepts.
    pub region: Option<String>,
    /// The service expected, when the scope names another one.
    pub expected_service: Option<String>,
    /// The terminator given, when it is not `aws4_request`.
    pub terminator: Option<String>,
    /// The scope's date, the request's date and the request's timestamp, when
    /// the first two differ.
    pub date: Option<(String, String, String)>,
}

/// Why SigV4 authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The request has neither an `Authorization` header nor an
    /// `X-Amz-Algorithm` query parameter. `MissingAuthenticationToken` 403,
    /// "Request is missing Authentication Token".
    #[error("request carries no sigv4 authentication")]
    MissingAuthentication,

    /// `X-Amz-Algorithm` is present but is not `AWS4-HMAC-SHA256`; AWS then
    /// treats the request as unauthenticated. `MissingAuthenticationToken` 403.
    #[error("unsupported x-amz-algorithm query parameter")]
    UnsupportedQueryAlgorithm,

    /// Both an `Authorization` header and query-string authentication are
    /// present. `SignatureDoesNotMatch` 403 (AWS sends no message; the text is ours).
    #[error("request has both an authorization header and query-string authentication")]
    BothAuthForms,

    /// The `Authorization` header's algorithm is not `AWS4-HMAC-SHA256`.
    /// `IncompleteSignature` 400, "Unsupported AWS 'algorithm': '…'.".
    #[error("unsupported authorization algorithm")]
    UnsupportedAlgorithm {
        /// The algorithm token as received.
        algorithm: String,
    },

    /// An element of the `Authorization` header has no `=`.
    /// `IncompleteSignature` 400, "'…' not a valid key=value pair (missing
    /// equal-sign) in Authorization header: '…'.".
    #[error("authorization header element is not a key=value pair")]
    MalformedAuthorizationElement {
        /// The offending element.
        element: String,
        /// The whole header value.
        header: String,
    },

    /// The `Authorization` header lacks `Credential`, `Signature` or
    /// `SignedHeaders`, or the request lacks a date. `IncompleteSignature` 400,
    /// the AWS texts for each missing part joined, then " Authorization=" and
    /// the header value.
    #[error("authorization header is incomplete: missing {missing:?}")]
    IncompleteAuthorization {
        /// The missing parts, in AWS's order.
        missing: Vec<AuthorizationPart>,
        /// The whole header value.
        header: String,
    },

    /// Query-string authentication lacks one of its parameters.
    /// `IncompleteSignature` 400, the AWS texts for each missing parameter
    /// joined, then " Re-examine the query-string parameters.".
    #[error("query-string authentication is incomplete: missing {missing:?}")]
    IncompleteQueryAuthentication {
        /// The missing parameters, in AWS's order.
        missing: Vec<QueryAuthPart>,
    },

    /// A `%` escape in the query string is malformed. `MalformedQueryString`
    /// 400 (scratchstack's choice; an AWS page says 404), AWS's text.
    #[error("malformed escape in query string")]
    MalformedQueryString(EscapeError),

    /// A `%` escape in the path is malformed, or the path is not absolute.
    /// `InvalidURIPath` 400 (AWS answers 400 without a body; code and text
    /// follow scratchstack).
    #[error("invalid uri path")]
    InvalidUriPath(InvalidPath),

    /// `host` (or `:authority`) is not in the signed headers.
    /// `SignatureDoesNotMatch` 403, "'Host' or ':authority' must be a
    /// 'SignedHeader' in the AWS Authorization.".
    #[error("host header is not signed")]
    HostNotSigned,

    /// The header that carries the request date (`X-Amz-Date`, or `Date`) is
    /// not signed. `SignatureDoesNotMatch` 403, "'X-Amz-Date' must be a
    /// 'SignedHeader' in the AWS Authorization." (AWS's form for required
    /// headers).
    #[error("date header is not signed")]
    DateNotSigned {
        /// `X-Amz-Date` or `Date`.
        header: &'static str,
    },

    /// A header that must appear at most once appears more than once
    /// (`Authorization`, `X-Amz-Date`, `Date`, `X-Amz-Security-Token`,
    /// `X-Amz-Content-SHA256`, `Host`), or a session token is given both as a
    /// header and as a query parameter. `IncompleteSignature` 400 (ours:
    /// "Header 'x-amz-date' must not be repeated.").
    #[error("header must not be repeated")]
    RepeatedHeader {
        /// The header name, lower-case.
        name: String,
    },

    /// The request date is not ISO 8601 basic format. `IncompleteSignature`
    /// 400, `Date must be in ISO-8601 'basic format'. Got '…'. See
    /// http://en.wikipedia.org/wiki/ISO_8601`.
    #[error("request date is not iso 8601")]
    InvalidDate {
        /// The value received.
        value: String,
    },

    /// The request date is older than the clock window. `SignatureDoesNotMatch`
    /// 403, "Signature expired: {ts} is now earlier than {now-15} ({now} - 15 min.)".
    #[error("signature expired")]
    SignatureExpired {
        /// The request's timestamp.
        request_time: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
        /// The window, in minutes.
        window_minutes: u32,
    },

    /// The request date is further in the future than the clock window.
    /// `SignatureDoesNotMatch` 403, "Signature not yet current: {ts} is still
    /// later than {now+15} ({now} + 15 min.)".
    #[error("signature not yet current")]
    SignatureNotYetCurrent {
        /// The request's timestamp.
        request_time: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
        /// The window, in minutes.
        window_minutes: u32,
    },

    /// The credential does not have five `/`-separated elements.
    /// `IncompleteSignature` 400, "Credential must have exactly 5
    /// slash-delimited elements, e.g. keyid/date/region/service/term, got '…'".
    #[error("credential does not have five elements")]
    MalformedCredential {
        /// The credential as received.
        credential: String,
    },

    /// The credential scope names a region or service this verifier does not
    /// accept, a wrong terminator, or a date other than the request's.
    /// `SignatureDoesNotMatch` 403, AWS's text for each fault, each followed
    /// by ". ".
    #[error("credential scope rejected")]
    InvalidCredentialScope(Box<ScopeFaults>),

    /// `X-Amz-Expires` is not a non-negative integer.
    /// `AuthorizationQueryParametersError` 400, "X-Amz-Expires should be a
    /// number" (S3's text; STS's is not known).
    #[error("x-amz-expires is not a number")]
    InvalidExpires {
        /// The value received.
        value: String,
    },

    /// `X-Amz-Expires` exceeds the allowed maximum (at most seven days).
    /// `AuthorizationQueryParametersError` 400, "X-Amz-Expires must be less
    /// than a week (in seconds) that is 604800" (S3's text).
    #[error("x-amz-expires too large")]
    ExpiresTooLarge {
        /// The maximum accepted, in seconds.
        max_seconds: u32,
    },

    /// A presigned request is used after `X-Amz-Date + X-Amz-Expires`.
    /// `RequestExpired` 400, "Request has expired." (AWS's common error for
    /// requests past their expiry; the exact STS text is not known).
    #[error("presigned request expired")]
    PresignedRequestExpired {
        /// When the request stopped being valid.
        expired_at: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
    },

    /// A header section, header, `Authorization` header or `SignedHeaders`
    /// list exceeds its bound. `RequestHeaderSectionTooLarge` 400, "Your
    /// request header section exceeds the maximum allowed size." (S3's text).
    #[error("request headers exceed a limit: {0:?}")]
    HeadersTooLarge(LimitKind),

    /// The path or query string exceeds its bound, or the query has too many
    /// parameters. `RequestURITooLong` 414, "The request URI is too long." (ours).
    #[error("request uri exceeds a limit")]
    UriTooLong,

    /// `X-Amz-Content-SHA256` is neither a lower-case hex SHA-256 nor an
    /// accepted keyword. `InvalidArgument` 400, "x-amz-content-sha256 must be
    /// UNSIGNED-PAYLOAD or a valid sha256 value." (S3's wording, shortened).
    #[error("invalid x-amz-content-sha256")]
    InvalidContentSha256,

    /// `X-Amz-Content-SHA256: UNSIGNED-PAYLOAD` where the service requires a
    /// signed payload (STS, IAM). `InvalidArgument` 400,
    /// "x-amz-content-sha256 must be a valid sha256 value." (ours).
    #[error("unsigned payload not accepted")]
    UnsignedPayloadNotAllowed,

    /// `X-Amz-Content-SHA256` differs from the hash of the body received.
    /// `XAmzContentSHA256Mismatch` 400, "The provided 'x-amz-content-sha256'
    /// header does not match what was computed." (S3's text).
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch,

    /// The signature differs from the one computed. `SignatureDoesNotMatch`
    /// 403 with AWS's text, followed (as STS does) by the canonical request
    /// and the string to sign the server computed. The session token in the
    /// canonical request is replaced by `<redacted>`.
    #[error("signature does not match")]
    SignatureDoesNotMatch {
        /// The canonical request computed (session token redacted).
        canonical_request: String,
        /// The string to sign computed.
        string_to_sign: String,
    },
}

/// Why a path was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidPath {
    /// A malformed `%` escape.
    Escape(EscapeError),
    /// The path does not start with `/` (the path, as received).
    NotAbsolute(String),
}

/// The message every signature mismatch starts with.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl SigV4Error {
    /// The AWS error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthentication | SigV4Error::UnsupportedQueryAlgorithm => {
                "MissingAuthenticationToken"
            }
            SigV4Error::BothAuthForms
            | SigV4Error::HostNotSigned
            | SigV4Error::DateNotSigned { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::InvalidCredentialScope(_)
            | SigV4Error::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            SigV4Error::UnsupportedAlgorithm { .. }
            | SigV4Error::MalformedAuthorizationElement { .. }
            | SigV4Error::IncompleteAuthorization { .. }
            | SigV4Error::IncompleteQueryAuthentication { .. }
            | SigV4Error::RepeatedHeader { .. }
            | SigV4Error::InvalidDate { .. }
            | SigV4Error::MalformedCredential { .. } => "IncompleteSignature",
            SigV4Error::MalformedQueryString(_) => "MalformedQueryString",
            SigV4Error::InvalidUriPath(_) => "InvalidURIPath",
            SigV4Error::InvalidExpires { .. } | SigV4Error::ExpiresTooLarge { .. } => {
                "AuthorizationQueryParametersError"
            }
            SigV4Error::PresignedRequestExpired { .. } => "RequestExpired",
            SigV4Error::HeadersTooLarge(_) => "RequestHeaderSectionTooLarge",
            SigV4Error::UriTooLong => "RequestURITooLong",
            SigV4Error::InvalidContentSha256 | SigV4Error::UnsignedPayloadNotAllowed => {
                "InvalidArgument"
            }
            SigV4Error::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            "MissingAuthenticationToken" | "SignatureDoesNotMatch" => 403,
            "RequestURITooLong" => 414,
            _ => 400,
        }
    }

    /// `Sender` for every variant: all of them are the client's fault.
    pub fn fault_type(&self) -> &'static str {
        "Sender"
    }

    /// The AWS message text (`<Message>`).
    pub fn message(&self) -> String {
        match self {
            SigV4Error::MissingAuthentication | SigV4Error::UnsupportedQueryAlgorithm => {
                String::from("Request is missing Authentication Token")
            }
            SigV4Error::BothAuthForms => String::from(
                "Found both an 'Authorization' header and 'X-Amz-Algorithm' query-string authentication; use only one.",
            ),
            SigV4Error::UnsupportedAlgorithm { algorithm } => {
                format!("Unsupported AWS 'algorithm': '{algorithm}'.")
            }
            SigV4Error::MalformedAuthorizationElement { element, header } => format!(
                "'{element}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
            ),
            SigV4Error::IncompleteAuthorization { missing, header } => {
                let mut text = String::new();
                for part in missing {
                    text.push_str(part.aws_message());
                    text.push(' ');
                }
                let _ = write!(text, "Authorization={header}");
                text
            }
            SigV4Error::IncompleteQueryAuthentication { missing } => {
                let mut text = String::new();
                for part in missing {
                    text.push_str(part.aws_message());
                    text.push(' ');
                }
                text.push_str("Re-examine the query-string parameters.");
                text
            }
            SigV4Error::MalformedQueryString(escape) => escape.aws_message(),
            SigV4Error::InvalidUriPath(InvalidPath::Escape(escape)) => escape.aws_message(),
            SigV4Error::InvalidUriPath(InvalidPath::NotAbsolute(path)) => {
                format!("Path is not absolute: {path}")
            }
            SigV4Error::HostNotSigned => String::from(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ),
            SigV4Error::DateNotSigned { header } => {
                format!("'{header}' must be a 'SignedHeader' in the AWS Authorization.")
            }
            SigV4Error::RepeatedHeader { name } => {
                format!("Header '{name}' must not be repeated.")
            }
            SigV4Error::InvalidDate { value } => format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ),
            SigV4Error::SignatureExpired {
                request_time,
                now,
                window_minutes,
            } => format!(
                "Signature expired: {} is now earlier than {} ({} - {} min.)",
                request_time.to_amz_date(),
                now.plus_seconds(-i64::from(*window_minutes) * 60)
                    .to_amz_date(),
                now.to_amz_date(),
                window_minutes
            ),
            SigV4Error::SignatureNotYetCurrent {
                request_time,
                now,
                window_minutes,
            } => format!(
                "Signature not yet current: {} is still later than {} ({} + {} min.)",
                request_time.to_amz_date(),
                now.plus_seconds(i64::from(*window_minutes) * 60)
                    .to_amz_date(),
                now.to_amz_date(),
                window_minutes
            ),
            SigV4Error::MalformedCredential { credential } => format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
            ),
            SigV4Error::InvalidCredentialScope(faults) => {
                let mut text = String::new();
                if let Some(region) = &faults.region {
                    let _ = write!(
                        text,
                        "Credential should be scoped to a valid region, not '{region}'. "
                    );
                }
                if let Some(service) = &faults.expected_service {
                    let _ = write!(
                        text,
                        "Credential should be scoped to correct service: '{service}'. "
                    );
                }
                if let Some(terminator) = &faults.terminator {
                    let _ = write!(
                        text,
                        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
                    );
                }
                if let Some((scope_date, request_date, request_time)) = &faults.date {
                    let _ = write!(
                        text,
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_date}', from '{request_time}'. "
                    );
                }
                text
            }
            SigV4Error::InvalidExpires { .. } => String::from("X-Amz-Expires should be a number"),
            SigV4Error::ExpiresTooLarge { max_seconds } => {
                format!("X-Amz-Expires must be less than a week (in seconds) that is {max_seconds}")
            }
            SigV4Error::PresignedRequestExpired { .. } => String::from("Request has expired."),
            SigV4Error::HeadersTooLarge(_) => {
                String::from("Your request header section exceeds the maximum allowed size.")
            }
            SigV4Error::UriTooLong => String::from("The request URI is too long."),
            SigV4Error::InvalidContentSha256 => String::from(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
            ),
            SigV4Error::UnsignedPayloadNotAllowed => {
                String::from("x-amz-content-sha256 must be a valid sha256 value.")
            }
            SigV4Error::ContentSha256Mismatch => String::from(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            SigV4Error::SignatureDoesNotMatch {
                canonical_request,
                string_to_sign,
            } => format!(
                "{SIGNATURE_MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            ),
        }
    }
}
