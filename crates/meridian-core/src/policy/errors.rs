//! Why a policy document is rejected.
//!
//! A rejected document is an [`PolicyError`]; a denied request is never an
//! error (it is a [`crate::policy::evaluate::Decision`]). Every error maps to
//! the AWS error code the API returns ([`PolicyError::code`]) and to the
//! message AWS uses where it is known ([`PolicyError::aws_message`]). The
//! messages come from AWS-recorded snapshots and from moto's validator, which
//! mirrors AWS (`STS-API.md` §4.3); where AWS's wording is unknown the message
//! is ours and says exactly what is wrong. `Display` is the short lowercase
//! form for logs; `aws_message` is what a client sees.
//!
//! No message ever quotes a condition *value* of the document (an
//! `sts:ExternalId` value is a shared secret in practice); element names,
//! operators, keys, actions, resources and principals are quoted because a
//! client needs them to find the mistake.

use std::fmt;

use crate::policy::kind::PolicyKind;

/// The AWS error code a rejected policy document maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyErrorCode {
    /// `MalformedPolicyDocument` (HTTP 400): the document breaks the grammar.
    MalformedPolicyDocument,
    /// `LimitExceeded` (HTTP 409): the document is larger than its kind allows.
    LimitExceeded,
    /// `ValidationError` (HTTP 400): the parameter itself breaks the API's
    /// length constraint (empty, or longer than the parameter may be).
    ValidationError,
}

impl PolicyErrorCode {
    /// The code as AWS spells it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyErrorCode::MalformedPolicyDocument => "MalformedPolicyDocument",
            PolicyErrorCode::LimitExceeded => "LimitExceeded",
            PolicyErrorCode::ValidationError => "ValidationError",
        }
    }
}

impl fmt::Display for PolicyErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The parameter is empty.
    #[error("policy document is empty")]
    Empty {
        /// The API parameter name (`policyDocument`, `policy`).
        parameter: &'static str,
    },
    /// The raw text is longer than the API parameter may be (131,072
    /// characters for IAM documents, 2,048 for an STS session policy). Checked
    /// before anything else is looked at.
    #[error("policy document of {length} characters exceeds the parameter limit of {max}")]
    ParameterTooLong {
        /// The API parameter name (`policyDocument`, `policy`).
        parameter: &'static str,
        /// The document's length in characters.
        length: usize,
        /// The parameter's maximum length.
        max: usize,
    },
    /// The document, counted as AWS counts it (characters, whitespace outside
    /// strings not counted), is larger than its kind allows.
    #[error("policy size {size} exceeds the {limit} character limit of a {kind} policy")]
    SizeLimitExceeded {
        /// The kind of document that was parsed.
        kind: PolicyKind,
        /// Its size as AWS counts it.
        size: usize,
        /// The limit for that kind.
        limit: usize,
    },
    /// The text is not JSON.
    #[error("policy document is not valid json")]
    InvalidJson,
    /// Arrays and objects are nested deeper than any policy needs; rejected
    /// during the pre-scan, before the recursive parse.
    #[error("policy document nests deeper than {limit} levels")]
    TooDeep {
        /// The maximum nesting depth.
        limit: usize,
    },
    /// The document is JSON but breaks the policy grammar.
    #[error("malformed policy document: {0}")]
    Malformed(MalformedReason),
}

impl PolicyError {
    /// The AWS error code for this rejection.
    pub fn code(&self) -> PolicyErrorCode {
        match self {
            PolicyError::Empty { .. } | PolicyError::ParameterTooLong { .. } => {
                PolicyErrorCode::ValidationError
            }
            PolicyError::SizeLimitExceeded { .. } => PolicyErrorCode::LimitExceeded,
            PolicyError::InvalidJson | PolicyError::TooDeep { .. } | PolicyError::Malformed(_) => {
                PolicyErrorCode::MalformedPolicyDocument
            }
        }
    }

    /// The message a client sees, in AWS's wording where it is known.
    ///
    /// Size messages name no entity; the caller that knows the role or user
    /// name can use [`PolicyKind::limit_exceeded_message`] instead.
    pub fn aws_message(&self) -> String {
        match self {
            PolicyError::Empty { parameter } => format!(
                "1 validation error detected: Value at '{parameter}' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1"
            ),
            PolicyError::ParameterTooLong { parameter, max, .. } => format!(
                "1 validation error detected: Value at '{parameter}' failed to satisfy constraint: \
                 Member must have length less than or equal to {max}"
            ),
            PolicyError::SizeLimitExceeded { kind, .. } => kind.limit_exceeded_message(None),
            PolicyError::InvalidJson => String::from("This policy contains invalid Json"),
            PolicyError::TooDeep { .. } => String::from("Syntax errors in policy."),
            PolicyError::Malformed(reason) => reason.to_string(),
        }
    }
}

/// A grammar violation; `Display` gives AWS's wording where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MalformedReason {
    /// The structure is wrong: an unknown element, a value of the wrong JSON
    /// type, `Action` together with `NotAction`, an unsupported `Version`, an
    /// empty `Statement`, an unknown condition operator.
    Syntax {
        /// What exactly is wrong (ours; AWS says only "Syntax errors in policy.").
        detail: String,
    },
    /// AWS's "legacy parsing" failure: an `Effect` that is not exactly `Allow`
    /// or `Deny` (case-sensitive), or a date condition value that is not a
    /// date.
    LegacyParsing {
        /// What exactly failed to parse (ours).
        detail: String,
    },
    /// Two statements share a `Sid`.
    DuplicateSid,
    /// A `Sid` has characters other than `[0-9A-Za-z]` (IAM policies only).
    InvalidSid,
    /// A statement has neither `Action` nor `NotAction`, or an empty list.
    MissingActions,
    /// An identity policy statement has neither `Resource` nor `NotResource`.
    MissingResources,
    /// An identity policy names a `Principal` or `NotPrincipal`.
    PrincipalNotAllowed,
    /// A resource-based policy statement has no `Principal` (or `NotPrincipal`).
    MissingPrincipal,
    /// A trust policy has an element it may not have (`Resource`,
    /// `NotResource`, `NotPrincipal`).
    ProhibitedField {
        /// The element name.
        field: &'static str,
    },
    /// A principal value is not one of the accepted forms (partial wildcards,
    /// malformed ARNs, unknown principal types).
    InvalidPrincipal {
        /// The offending value (ours; AWS does not say which).
        principal: String,
    },
    /// An action has no `vendor:` prefix.
    ActionWithoutVendor,
    /// An action has more than one `:`.
    ActionTooManyColons,
    /// An action's vendor has characters outside `[A-Za-z0-9.-]`.
    InvalidVendor {
        /// The vendor as written.
        vendor: String,
    },
    /// A trust policy allows or denies a non-STS action.
    TrustPolicyAction,
    /// A resource is neither `*` nor an ARN.
    ResourceNotArn {
        /// The resource as written.
        resource: String,
    },
    /// A resource ARN's service part is empty or has wildcards.
    ResourceVendorNotQualified,
    /// An IAM resource ARN has a region.
    IamResourceRegion {
        /// The resource as written.
        resource: String,
    },
    /// A condition key has no `vendor:` prefix.
    ConditionKeyWithoutVendor {
        /// The key as written.
        key: String,
    },
    /// A condition value does not fit its operator (a number for `Numeric*`,
    /// `true`/`false` for `Bool` and `Null`, a CIDR for `IpAddress`, base64
    /// for `BinaryEquals`). The value itself is not repeated.
    InvalidConditionValue {
        /// The operator as written.
        operator: String,
        /// The condition key as written.
        key: String,
    },
    /// A JSON object has the same key twice. AWS keeps one of them silently;
    /// we refuse, because the dropped one may be a `Deny` condition (ours).
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MalformedReason::Syntax { detail } => write!(f, "Syntax errors in policy. ({detail})"),
            MalformedReason::LegacyParsing { detail } => {
                write!(f, "The policy failed legacy parsing ({detail})")
            }
            MalformedReason::DuplicateSid => {
                f.write_str("Statement IDs (SID) in a single policy must be unique.")
            }
            MalformedReason::InvalidSid => f.write_str(
                "Statement IDs (SID) must be alpha-numeric. \
                 Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
            MalformedReason::MissingActions => {
                f.write_str("Policy statement must contain actions.")
            }
            MalformedReason::MissingResources => {
                f.write_str("Policy statement must contain resources.")
            }
            MalformedReason::PrincipalNotAllowed => {
                f.write_str("Policy document should not specify a principal.")
            }
            MalformedReason::MissingPrincipal => f.write_str("Missing required field Principal"),
            MalformedReason::ProhibitedField { field } => write!(f, "Has prohibited field {field}"),
            MalformedReason::InvalidPrincipal { principal } => {
                write!(f, "Invalid principal in policy: {principal}")
            }
            MalformedReason::ActionWithoutVendor => f.write_str(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            MalformedReason::ActionTooManyColons => {
                f.write_str("Actions/Condition can contain only one colon.")
            }
            MalformedReason::InvalidVendor { vendor } => write!(f, "Vendor {vendor} is not valid"),
            MalformedReason::TrustPolicyAction => {
                f.write_str("AssumeRole policy may only specify STS AssumeRole actions.")
            }
            MalformedReason::ResourceNotArn { resource } => {
                write!(f, "Resource {resource} must be in ARN format or \"*\".")
            }
            MalformedReason::ResourceVendorNotQualified => {
                f.write_str("Resource vendor must be fully qualified and cannot contain regexes.")
            }
            MalformedReason::IamResourceRegion { resource } => {
                write!(
                    f,
                    "IAM resource {resource} cannot contain region information."
                )
            }
            MalformedReason::ConditionKeyWithoutVendor { key } => write!(
                f,
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. \
                 (condition key {key})"
            ),
            MalformedReason::InvalidConditionValue { operator, key } => {
                write!(
                    f,
                    "Invalid value for condition operator {operator} and key {key}"
                )
            }
            MalformedReason::DuplicateKey { key } => write!(f, "Duplicate key {key} in policy"),
        }
    }
}

/// Shorthand used by the parser and validator.
pub(crate) fn malformed(reason: MalformedReason) -> PolicyError {
    PolicyError::Malformed(reason)
}

/// Shorthand for a structural error with a detail.
pub(crate) fn syntax(detail: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(MalformedReason::Syntax {
        detail: detail.into(),
    })
}
