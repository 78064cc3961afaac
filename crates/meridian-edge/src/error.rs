//! The one error type of the edge, rendered as AWS's query-protocol error XML.
//!
//! botocore picks the exception class from `<Code>` and decides retries from
//! the code and the HTTP status, so both come from one catalogue
//! ([`ErrorCode`], generated from the models plus the unmodeled codes AWS
//! uses). A message is optional because AWS omits `<Message>` for some codes
//! (`MalformedInput` for a non-numeric integer). Internal failures never carry
//! detail to the client: [`ApiError::internal`] logs the detail with the
//! request id and answers the generic `InternalFailure`.

use std::borrow::Cow;
use std::fmt;

use crate::model::{ErrorCode, Service};
use crate::xml;

/// Namespace of routing-level errors (`InvalidAction`), which AWS answers
/// before it knows the service (AWS-recorded probe of STS).
pub const AWS_FAULT_NAMESPACE: &str = "http://webservices.amazon.com/AWSFault/2005-15-09";

/// AWS's documented text for `InternalFailure`.
pub const INTERNAL_FAILURE_MESSAGE: &str =
    "The request processing has failed because of an unknown error, exception or failure.";

/// AWS's documented text for `ServiceUnavailable`.
pub const SERVICE_UNAVAILABLE_MESSAGE: &str =
    "The request has failed due to a temporary failure of the server.";

/// Which namespace an error document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorNamespace {
    /// The service's own (`https://sts.amazonaws.com/doc/2011-06-15/`).
    Service(Service),
    /// `http://webservices.amazon.com/AWSFault/2005-15-09`: before routing.
    AwsFault,
}

impl ErrorNamespace {
    /// The namespace URI.
    pub fn uri(self) -> &'static str {
        match self {
            ErrorNamespace::Service(service) => service.xml_namespace(),
            ErrorNamespace::AwsFault => AWS_FAULT_NAMESPACE,
        }
    }
}

/// An AWS error answer: code (which fixes status and fault type) and message.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: Option<Cow<'static, str>>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            code,
            message: Some(message.into()),
        }
    }

    /// An error whose document has no `<Message>` element.
    pub fn without_message(code: ErrorCode) -> ApiError {
        ApiError {
            code,
            message: None,
        }
    }

    /// `ValidationError` with AWS's aggregate text:
    /// `1 validation error detected: A` or `2 validation errors detected: A; B`.
    pub fn validation(violations: &[String]) -> ApiError {
        let noun = if violations.len() == 1 {
            "error"
        } else {
            "errors"
        };
        ApiError::new(
            ErrorCode::ValidationError,
            format!(
                "{} validation {noun} detected: {}",
                violations.len(),
                violations.join("; ")
            ),
        )
    }

    /// `InternalFailure` for a failure the client must not see the cause of.
    /// The detail is logged (with the request id of the current span).
    pub fn internal(detail: &dyn fmt::Display) -> ApiError {
        tracing::error!(detail = %detail, "internal failure");
        ApiError::new(ErrorCode::InternalFailure, INTERNAL_FAILURE_MESSAGE)
    }

    /// `ServiceUnavailable` (retryable by every SDK).
    pub fn unavailable() -> ApiError {
        ApiError::new(ErrorCode::ServiceUnavailable, SERVICE_UNAVAILABLE_MESSAGE)
    }

    /// `Throttling` as AWS answers a rate limit (400; botocore retries it).
    pub fn throttling() -> ApiError {
        ApiError::new(ErrorCode::Throttling, "Rate exceeded")
    }

    /// `InvalidAction` for an action the given version does not have.
    pub fn invalid_action(action: &str, version: Option<&str>) -> ApiError {
        ApiError::new(
            ErrorCode::InvalidAction,
            format!(
                "Could not find operation {action} for version {}",
                version.unwrap_or("NO_VERSION_SPECIFIED")
            ),
        )
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, if the document has one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.code.http_status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error document, byte for byte as AWS formats it:
    ///
    /// ```text
    /// <ErrorResponse xmlns="…">
    ///   <Error>
    ///     <Type>Sender</Type>
    ///     <Code>…</Code>
    ///     <Message>…</Message>
    ///   </Error>
    ///   <RequestId>…</RequestId>
    /// </ErrorResponse>
    /// ```
    pub fn to_xml(&self, namespace: ErrorNamespace, request_id: &str) -> String {
        let mut out = String::with_capacity(256 + self.message.as_ref().map_or(0, |m| m.len()));
        out.push_str("<ErrorResponse xmlns=\"");
        xml::escape_into(namespace.uri(), &mut out);
        out.push_str("\">\n  <Error>\n    <Type>");
        out.push_str(if self.code.sender_fault() {
            "Sender"
        } else {
            "Receiver"
        });
        out.push_str("</Type>\n    <Code>");
        out.push_str(self.code.as_str());
        out.push_str("</Code>\n");
        if let Some(message) = &self.message {
            out.push_str("    <Message>");
            xml::escape_into(message, &mut out);
            out.push_str("</Message>\n");
        }
        out.push_str("  </Error>\n  <RequestId>");
        xml::escape_into(request_id, &mut out);
        out.push_str("</RequestId>\n</ErrorResponse>\n");
        out
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "{}: {message}", self.code.as_str()),
            None => f.write_str(self.code.as_str()),
        }
    }
}

impl std::error::Error for ApiError {}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiError({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_aws_error_document() {
        let error = ApiError::new(ErrorCode::AccessDenied, "a < b & c");
        assert_eq!(
            error.to_xml(ErrorNamespace::Service(Service::Sts), "req-1"),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
             <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    \
             <Message>a &lt; b &amp; c</Message>\n  </Error>\n  \
             <RequestId>req-1</RequestId>\n</ErrorResponse>\n"
        );
        assert_eq!(error.status(), http::StatusCode::FORBIDDEN);
        let bare = ApiError::without_message(ErrorCode::MalformedInput);
        let xml = bare.to_xml(ErrorNamespace::AwsFault, "r");
        assert!(!xml.contains("<Message>"));
        assert!(xml.contains(AWS_FAULT_NAMESPACE));
    }

    #[test]
    fn statuses_and_fault_types_follow_the_catalogue() {
        let table = [
            (ErrorCode::ValidationError, 400, "Sender"),
            (ErrorCode::Throttling, 400, "Sender"),
            (ErrorCode::ExpiredToken, 403, "Sender"),
            (ErrorCode::ExpiredTokenException, 400, "Sender"),
            (ErrorCode::IDPRejectedClaim, 403, "Sender"),
            (ErrorCode::RegionDisabledException, 403, "Sender"),
            (ErrorCode::NoSuchEntity, 404, "Sender"),
            (ErrorCode::EntityAlreadyExists, 409, "Sender"),
            (ErrorCode::LimitExceeded, 409, "Sender"),
            (ErrorCode::ServiceFailure, 500, "Receiver"),
            (ErrorCode::InternalFailure, 500, "Receiver"),
            (ErrorCode::ServiceUnavailable, 503, "Receiver"),
            (ErrorCode::InvalidClientTokenId, 403, "Sender"),
            (ErrorCode::SignatureDoesNotMatch, 403, "Sender"),
            (ErrorCode::MissingAuthenticationToken, 403, "Sender"),
        ];
        for (code, status, fault) in table {
            let xml = ApiError::without_message(code).to_xml(ErrorNamespace::AwsFault, "r");
            assert_eq!(code.http_status(), status, "{code:?}");
            assert!(xml.contains(&format!("<Type>{fault}</Type>")), "{code:?}");
            assert!(xml.contains(&format!("<Code>{}</Code>", code.as_str())));
        }
    }

    #[test]
    fn codes_are_unique_and_spelled_as_variants() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{}", code.as_str());
            assert_eq!(format!("{code:?}"), code.as_str());
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
        }
        assert_eq!(ErrorCode::from_code("NoSuchCode"), None);
    }

    #[test]
    fn validation_messages_aggregate_like_aws() {
        let one = ApiError::validation(&["A".to_owned()]);
        assert_eq!(one.message(), Some("1 validation error detected: A"));
        let two = ApiError::validation(&["A".to_owned(), "B".to_owned()]);
        assert_eq!(two.message(), Some("2 validation errors detected: A; B"));
        assert_eq!(
            ApiError::invalid_action("GetCallerIdentity", None).message(),
            Some("Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED")
        );
    }
}
