//! Admin errors as gRPC statuses: a gRPC code plus an AWS-style code and
//! message in the status details (`AdminError`) and in the
//! `x-meridian-error-code` metadata.

use meridian_core::config::error::ConfigError;
use meridian_proto::pb;
use prost::Message as _;
use tonic::Status;
use tonic::codegen::Bytes;
use tonic::metadata::MetadataValue;

use crate::errors::{ClusterError, WriteError};

/// The metadata key carrying the AWS-style error code.
pub const ERROR_CODE_HEADER: &str = "x-meridian-error-code";

/// A status with `code`, the AWS-style `aws_code` and `message`.
pub fn admin_status(code: tonic::Code, aws_code: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    let details = pb::AdminError {
        code: aws_code.to_owned(),
        message: message.clone(),
    }
    .encode_to_vec();
    let mut status = Status::with_details(code, message, Bytes::from(details));
    if let Ok(value) = MetadataValue::try_from(aws_code) {
        status.metadata_mut().insert(ERROR_CODE_HEADER, value);
    }
    status
}

/// The AWS-style error a status carries, if it is an Admin error.
pub fn error_of(status: &Status) -> Option<pb::AdminError> {
    pb::AdminError::decode(status.details())
        .ok()
        .filter(|e| !e.code.is_empty())
}

/// `ValidationError` (INVALID_ARGUMENT).
pub fn invalid(message: impl Into<String>) -> Status {
    admin_status(tonic::Code::InvalidArgument, "ValidationError", message)
}

/// A refusal by the state machine.
pub fn refused(error: &ConfigError) -> Status {
    let code = match error {
        ConfigError::AlreadyExists { .. } => tonic::Code::AlreadyExists,
        ConfigError::NoSuchEntity { .. } => tonic::Code::NotFound,
        ConfigError::LimitExceeded { .. } | ConfigError::PolicySizeExceeded { .. } => {
            tonic::Code::ResourceExhausted
        }
        ConfigError::DeleteConflict { .. } | ConfigError::PreconditionFailed { .. } => {
            tonic::Code::FailedPrecondition
        }
        _ => tonic::Code::InvalidArgument,
    };
    admin_status(code, error.iam_code(), error.to_string())
}

/// A write that did not complete.
pub fn write_failed(error: &WriteError) -> Status {
    match error {
        WriteError::Rejected(refusal) => refused(refusal),
        WriteError::NoQuorum { outcome_unknown } => admin_status(
            tonic::Code::Unavailable,
            "ServiceUnavailable",
            if *outcome_unknown {
                "no quorum before the deadline; the outcome is unknown, retry"
            } else {
                "no quorum; write not applied, retry"
            },
        ),
        WriteError::ShuttingDown => admin_status(
            tonic::Code::Unavailable,
            "ServiceUnavailable",
            "node is shutting down",
        ),
        WriteError::Internal(detail) => {
            tracing::error!(%detail, "admin write failed");
            admin_status(tonic::Code::Internal, "InternalFailure", "internal failure")
        }
    }
}

/// A membership operation that failed.
pub fn cluster_failed(error: &ClusterError) -> Status {
    match error {
        ClusterError::NotLeader { .. } => admin_status(
            tonic::Code::FailedPrecondition,
            "NotLeader",
            error.to_string(),
        ),
        ClusterError::NodeIdKnown(_) => admin_status(
            tonic::Code::AlreadyExists,
            "EntityAlreadyExists",
            error.to_string(),
        ),
        ClusterError::NoSuchNode(_) => {
            admin_status(tonic::Code::NotFound, "NoSuchEntity", error.to_string())
        }
        ClusterError::Refused(_) => admin_status(
            tonic::Code::FailedPrecondition,
            "PreconditionFailed",
            error.to_string(),
        ),
        ClusterError::ShuttingDown => admin_status(
            tonic::Code::Unavailable,
            "ServiceUnavailable",
            error.to_string(),
        ),
    }
}
