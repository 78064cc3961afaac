//! Why a protobuf message does not decode into a core value.

/// A message that is well-formed protobuf but not a valid Meridian value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A required field (message or oneof) is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field holds a value outside its domain (unknown enum value, bad id).
    #[error("invalid value in field {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl DecodeError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> DecodeError {
        DecodeError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
