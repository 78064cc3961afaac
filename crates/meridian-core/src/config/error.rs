//! Why a configuration command was refused.
//!
//! A refusal is decided at apply time, on every replica alike, from the
//! replicated state and the command alone, so it is part of the replicated
//! outcome: the error is what the client is answered, and the same retried
//! request gets the same error back. Each variant maps to one IAM error code
//! ([`ConfigError::iam_code`]) that the edge renders; messages follow the
//! wording AWS uses where it is known.

use std::fmt;

/// The kinds of entity a command can name, used to word errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    /// An account (tenant).
    Account,
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
    /// A customer managed policy.
    Policy,
    /// A version of a managed policy.
    PolicyVersion,
    /// An inline policy of a user or role.
    InlinePolicy,
    /// A long-term access key.
    AccessKey,
    /// A virtual MFA device.
    MfaDevice,
    /// An OpenID Connect identity provider.
    OidcProvider,
    /// A SAML identity provider.
    SamlProvider,
    /// A key of the replicated key ring.
    Key,
    /// A region.
    Region,
    /// A cluster node.
    Node,
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Account => "account",
            EntityKind::User => "user",
            EntityKind::Role => "role",
            EntityKind::Policy => "policy",
            EntityKind::PolicyVersion => "policy version",
            EntityKind::InlinePolicy => "policy",
            EntityKind::AccessKey => "access key",
            EntityKind::MfaDevice => "MFA device",
            EntityKind::OidcProvider => "OpenIDConnect provider",
            EntityKind::SamlProvider => "SAML provider",
            EntityKind::Key => "key",
            EntityKind::Region => "region",
            EntityKind::Node => "node",
        })
    }
}

/// A configuration command refused at apply time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An entity with this name (or id, or URL) already exists.
    #[error("{kind} with name {name} already exists")]
    AlreadyExists {
        /// What kind of entity.
        kind: EntityKind,
        /// The name it was looked up by.
        name: String,
    },
    /// The entity the command names does not exist.
    #[error("the {kind} with name {name} cannot be found")]
    NoSuchEntity {
        /// What kind of entity.
        kind: EntityKind,
        /// The name it was looked up by.
        name: String,
    },
    /// The entity still has objects attached that must be removed first.
    #[error(
        "cannot delete entity, must remove referenced objects first: {kind} {name} still has {what}"
    )]
    DeleteConflict {
        /// What kind of entity.
        kind: EntityKind,
        /// The entity's name.
        name: String,
        /// What still refers to it, e.g. `attached policies`.
        what: String,
    },
    /// A quota would be exceeded (count of entities, tags, versions, …).
    #[error("cannot exceed quota for {quota}: {limit}")]
    LimitExceeded {
        /// The quota's name, as AWS names it (e.g. `AccessKeysPerUser`).
        quota: String,
        /// The limit in force.
        limit: usize,
    },
    /// A policy document (or the aggregate of an entity's inline policies) is
    /// larger than allowed; AWS reports this as `LimitExceeded`.
    #[error("maximum policy size of {limit} bytes exceeded")]
    PolicySizeExceeded {
        /// The limit in force, in non-whitespace characters.
        limit: usize,
    },
    /// A policy document is not a well-formed policy.
    #[error("{reason}")]
    MalformedPolicyDocument {
        /// What is wrong, in AWS's words where known.
        reason: String,
    },
    /// A parameter violates its modeled constraint (AWS's `ValidationError`,
    /// e.g. an empty or over-long policy document parameter).
    #[error("{reason}")]
    Validation {
        /// Which parameter and why.
        reason: String,
    },
    /// A parameter is outside its allowed form (length, pattern, range).
    #[error("{reason}")]
    InvalidInput {
        /// Which parameter and why.
        reason: String,
    },
    /// A compare-and-set precondition did not hold: the state moved on since
    /// the proposer looked (e.g. key rotation on a stale view). Retrying the
    /// same command will fail the same way; re-read and decide again.
    #[error("precondition failed: {reason}")]
    PreconditionFailed {
        /// Which precondition.
        reason: String,
    },
}

impl ConfigError {
    /// The IAM error code the edge answers with.
    pub fn iam_code(&self) -> &'static str {
        match self {
            ConfigError::AlreadyExists { .. } => "EntityAlreadyExists",
            ConfigError::NoSuchEntity { .. } => "NoSuchEntity",
            ConfigError::DeleteConflict { .. } => "DeleteConflict",
            ConfigError::LimitExceeded { .. } | ConfigError::PolicySizeExceeded { .. } => {
                "LimitExceeded"
            }
            ConfigError::MalformedPolicyDocument { .. } => "MalformedPolicyDocument",
            ConfigError::InvalidInput { .. } => "InvalidInput",
            ConfigError::Validation { .. } => "ValidationError",
            ConfigError::PreconditionFailed { .. } => "ConcurrentModification",
        }
    }

    /// The HTTP status AWS pairs with [`ConfigError::iam_code`].
    pub fn http_status(&self) -> u16 {
        match self {
            ConfigError::NoSuchEntity { .. } => 404,
            ConfigError::AlreadyExists { .. }
            | ConfigError::DeleteConflict { .. }
            | ConfigError::LimitExceeded { .. }
            | ConfigError::PolicySizeExceeded { .. }
            | ConfigError::PreconditionFailed { .. } => 409,
            ConfigError::MalformedPolicyDocument { .. }
            | ConfigError::InvalidInput { .. }
            | ConfigError::Validation { .. } => 400,
        }
    }

    pub(crate) fn no_such(kind: EntityKind, name: impl Into<String>) -> ConfigError {
        ConfigError::NoSuchEntity {
            kind,
            name: name.into(),
        }
    }

    pub(crate) fn exists(kind: EntityKind, name: impl Into<String>) -> ConfigError {
        ConfigError::AlreadyExists {
            kind,
            name: name.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn precondition(reason: impl Into<String>) -> ConfigError {
        ConfigError::PreconditionFailed {
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(kind: EntityKind, name: impl Into<String>, what: &str) -> ConfigError {
        ConfigError::DeleteConflict {
            kind,
            name: name.into(),
            what: what.to_owned(),
        }
    }

    pub(crate) fn limit(quota: &str, limit: usize) -> ConfigError {
        ConfigError::LimitExceeded {
            quota: quota.to_owned(),
            limit,
        }
    }
}
