//! IAM error answers with AWS's wording.
//!
//! Two sources of refusals meet here: the pre-checks the handlers run against
//! the snapshot (which know the operation, so they pick AWS's exact text), and
//! refusals decided by the state machine at apply time
//! ([`ConfigError`], mapped by [`from_refusal`] through
//! [`ConfigError::iam_code`]). Texts come from AWS-recorded snapshots
//! (STS-API.md §4.3 and the emulators that record AWS); where AWS's wording is
//! unknown the text is ours and says what is wrong.

use meridian_core::config::error::{ConfigError, EntityKind};
use meridian_core::policy::errors::{PolicyError, PolicyErrorCode};
use meridian_core::policy::kind::PolicyKind;

use crate::error::ApiError;
use crate::model::ErrorCode;

/// An apply-time refusal as the client sees it.
pub(super) fn from_refusal(refusal: &ConfigError) -> ApiError {
    let code = ErrorCode::from_code(refusal.iam_code()).unwrap_or(ErrorCode::ServiceFailure);
    let message = match refusal {
        ConfigError::AlreadyExists { kind, name } => already_exists_text(*kind, name),
        ConfigError::NoSuchEntity { kind, name } => not_found_text(*kind, name),
        ConfigError::DeleteConflict { what, .. } => conflict_text(what).to_owned(),
        ConfigError::LimitExceeded { quota, limit } => quota_text(quota, *limit),
        ConfigError::PolicySizeExceeded { limit } => {
            format!("Maximum policy size of {limit} bytes exceeded")
        }
        ConfigError::PreconditionFailed { .. } => String::from(
            "The request was rejected because multiple requests to change this object were \
             submitted simultaneously. Wait a few minutes and submit your request again.",
        ),
        // Malformed documents, invalid input and validation errors carry
        // their reason in AWS's words; it is their `Display`.
        other => other.to_string(),
    };
    ApiError::new(code, message)
}

fn already_exists_text(kind: EntityKind, name: &str) -> String {
    match kind {
        EntityKind::User => format!("User with name {name} already exists."),
        EntityKind::Role => format!("Role with name {name} already exists."),
        EntityKind::Policy => {
            format!("A policy called {name} already exists. Duplicate names are not allowed.")
        }
        EntityKind::OidcProvider => format!("Provider with url {name} already exists."),
        EntityKind::SamlProvider => format!("SAMLProvider {name} already exists."),
        EntityKind::MfaDevice => {
            String::from("MFADevice entity at the same path and name already exists.")
        }
        other => format!("The {other} {name} already exists."),
    }
}

fn not_found_text(kind: EntityKind, name: &str) -> String {
    match kind {
        EntityKind::User => format!("The user with name {name} cannot be found."),
        EntityKind::Role => format!("The role with name {name} cannot be found."),
        EntityKind::Policy => format!("Policy {name} does not exist or is not attachable."),
        EntityKind::PolicyVersion => format!("Policy version {name} does not exist."),
        EntityKind::InlinePolicy => format!("The policy with name {name} cannot be found."),
        EntityKind::AccessKey => format!("The Access Key with id {name} cannot be found"),
        EntityKind::MfaDevice => {
            format!("VirtualMFADevice with serial number {name} doesn't exist.")
        }
        EntityKind::OidcProvider => format!("OpenIDConnect Provider not found for arn {name}"),
        EntityKind::SamlProvider => format!("SAMLProvider {name} does not exist."),
        other => format!("The {other} {name} cannot be found."),
    }
}

/// AWS's `DeleteConflict` texts, by what the state machine says remains.
fn conflict_text(what: &str) -> &'static str {
    match what {
        "access keys" => "Cannot delete entity, must delete access keys first.",
        "inline policies" => "Cannot delete entity, must delete policies first.",
        "attached policies" => "Cannot delete entity, must detach all policies first.",
        "MFA devices" => "Cannot delete entity, must delete MFA device first.",
        "attachments" => "Cannot delete a policy attached to entities.",
        "versions other than the default" => {
            "Cannot delete a policy with non-default versions. Delete all non-default versions \
             first."
        }
        "its place as the default version" => "Cannot delete the default version of a policy.",
        _ => "Cannot delete entity, must remove referenced objects first.",
    }
}

fn quota_text(quota: &str, limit: usize) -> String {
    match quota {
        "VersionsPerPolicy" => format!(
            "A managed policy can have up to {limit} versions. Before you create a new \
             version, you must delete an existing version."
        ),
        "PolicyAttachmentsPerEntity" => {
            format!("Cannot exceed quota for PoliciesPerEntity: {limit}")
        }
        _ => format!("Cannot exceed quota for {quota}: {limit}"),
    }
}

/// `NoSuchEntity` for a user.
pub(super) fn no_such_user(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        not_found_text(EntityKind::User, name),
    )
}

/// `NoSuchEntity` for a role.
pub(super) fn no_such_role(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        not_found_text(EntityKind::Role, name),
    )
}

/// `NoSuchEntity` for a managed policy read or changed by ARN.
pub(super) fn no_such_policy(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("Policy {arn} was not found."),
    )
}

/// `NoSuchEntity` for a managed policy being attached or used as boundary.
pub(super) fn not_attachable(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        not_found_text(EntityKind::Policy, arn),
    )
}

/// `NoSuchEntity` for a version of a managed policy.
pub(super) fn no_such_version(arn: &str, version: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("Policy {arn} version {version} does not exist or is not attachable."),
    )
}

/// `NoSuchEntity` for an inline policy of a user or role (`holder` is
/// `user` or `role`).
pub(super) fn no_such_inline(holder: &str, policy_name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEntity,
        format!("The {holder} policy with name {policy_name} cannot be found."),
    )
}

/// `NoSuchEntity` for another kind of entity.
pub(super) fn not_found(kind: EntityKind, name: &str) -> ApiError {
    ApiError::new(ErrorCode::NoSuchEntity, not_found_text(kind, name))
}

/// `EntityAlreadyExists`.
pub(super) fn already_exists(kind: EntityKind, name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::EntityAlreadyExists,
        already_exists_text(kind, name),
    )
}

/// `DeleteConflict` with the text for what remains (the state machine's words).
pub(super) fn delete_conflict(what: &str) -> ApiError {
    ApiError::new(ErrorCode::DeleteConflict, conflict_text(what))
}

/// `LimitExceeded` for a quota.
pub(super) fn quota(quota: &str, limit: usize) -> ApiError {
    ApiError::new(ErrorCode::LimitExceeded, quota_text(quota, limit))
}

/// `InvalidInput` with our text.
pub(super) fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message.into())
}

/// AWS's answer to an ARN parameter that is not an ARN at all.
pub(super) fn unparsable_arn() -> ApiError {
    ApiError::new(
        ErrorCode::ValidationError,
        "Invalid ARN:  Could not be parsed!",
    )
}

/// A rejected policy document. `entity` names the user or role whose
/// aggregate inline size was exceeded, for AWS's "… exceeded for role X".
pub(super) fn policy_rejected(error: &PolicyError, entity: Option<&str>) -> ApiError {
    match error {
        PolicyError::SizeLimitExceeded { kind, .. } => ApiError::new(
            ErrorCode::LimitExceeded,
            kind.limit_exceeded_message(entity),
        ),
        other => {
            let code = match other.code() {
                PolicyErrorCode::MalformedPolicyDocument => ErrorCode::MalformedPolicyDocument,
                PolicyErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
                PolicyErrorCode::ValidationError => ErrorCode::ValidationError,
            };
            ApiError::new(code, other.aws_message())
        }
    }
}

/// `LimitExceeded` for the aggregate size of an entity's inline policies.
pub(super) fn aggregate_too_large(kind: PolicyKind, entity: &str) -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceeded,
        kind.limit_exceeded_message(Some(entity)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_codes_and_aws_texts() {
        let cases = [
            (
                ConfigError::NoSuchEntity {
                    kind: EntityKind::Role,
                    name: "r".into(),
                },
                ErrorCode::NoSuchEntity,
                "The role with name r cannot be found.",
            ),
            (
                ConfigError::AlreadyExists {
                    kind: EntityKind::User,
                    name: "u".into(),
                },
                ErrorCode::EntityAlreadyExists,
                "User with name u already exists.",
            ),
            (
                ConfigError::DeleteConflict {
                    kind: EntityKind::Role,
                    name: "r".into(),
                    what: "attached policies".into(),
                },
                ErrorCode::DeleteConflict,
                "Cannot delete entity, must detach all policies first.",
            ),
            (
                ConfigError::LimitExceeded {
                    quota: "AccessKeysPerUser".into(),
                    limit: 2,
                },
                ErrorCode::LimitExceeded,
                "Cannot exceed quota for AccessKeysPerUser: 2",
            ),
            (
                ConfigError::PolicySizeExceeded { limit: 10240 },
                ErrorCode::LimitExceeded,
                "Maximum policy size of 10240 bytes exceeded",
            ),
            (
                ConfigError::PreconditionFailed { reason: "x".into() },
                ErrorCode::ConcurrentModification,
                "The request was rejected because multiple requests to change this object were \
                 submitted simultaneously. Wait a few minutes and submit your request again.",
            ),
        ];
        for (refusal, code, text) in cases {
            let error = from_refusal(&refusal);
            assert_eq!(error.code(), code, "{refusal:?}");
            assert_eq!(error.message(), Some(text), "{refusal:?}");
        }
    }

    #[test]
    fn policy_errors_keep_their_codes() {
        let size = PolicyError::SizeLimitExceeded {
            kind: PolicyKind::RoleInline,
            size: 20_000,
            limit: 10_240,
        };
        let error = policy_rejected(&size, Some("admin"));
        assert_eq!(error.code(), ErrorCode::LimitExceeded);
        assert_eq!(
            error.message(),
            Some("Maximum policy size of 10240 bytes exceeded for role admin")
        );
        let json = policy_rejected(&PolicyError::InvalidJson, None);
        assert_eq!(json.code(), ErrorCode::MalformedPolicyDocument);
        assert_eq!(json.message(), Some("This policy contains invalid Json"));
    }
}
