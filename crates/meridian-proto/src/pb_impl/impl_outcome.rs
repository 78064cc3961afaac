//! Outcomes of applied commands: the response or the typed refusal. They
//! travel in forwarded-write answers and are kept in snapshots for request-id
//! dedupe, so a refusal decodes to exactly the error that was decided.

use meridian_core::config::command::Response;
use meridian_core::config::error::{ConfigError, EntityKind};

use crate::error::DecodeError;
use crate::pb;
use crate::pb::config_error::Kind as ErrorKind;
use crate::pb::response::Kind as ResponseKind;
use crate::pb_impl::required;

/// Encodes an apply outcome.
pub fn outcome_to_pb(outcome: &Result<Response, ConfigError>) -> pb::Outcome {
    let kind = match outcome {
        Ok(response) => pb::outcome::Kind::Ok(pb::Response::from(response)),
        Err(err) => pb::outcome::Kind::Err(pb::ConfigError::from(err)),
    };
    pb::Outcome { kind: Some(kind) }
}

/// Decodes an apply outcome.
pub fn outcome_from_pb(outcome: pb::Outcome) -> Result<Result<Response, ConfigError>, DecodeError> {
    match required("Outcome.kind", outcome.kind)? {
        pb::outcome::Kind::Ok(response) => Ok(Ok(Response::try_from(response)?)),
        pb::outcome::Kind::Err(err) => Ok(Err(ConfigError::try_from(err)?)),
    }
}

impl From<&Response> for pb::Response {
    fn from(response: &Response) -> pb::Response {
        let kind = match response {
            Response::Done => ResponseKind::Done(pb::response::Done {}),
            Response::Created { arn, id } => ResponseKind::Created(pb::response::Created {
                arn: arn.clone(),
                id: id.clone(),
            }),
            Response::PolicyVersionCreated { version } => {
                ResponseKind::PolicyVersionCreated(*version)
            }
            Response::NodeIdReserved { node_id } => ResponseKind::NodeIdReserved(*node_id),
        };
        pb::Response { kind: Some(kind) }
    }
}

impl TryFrom<pb::Response> for Response {
    type Error = DecodeError;

    fn try_from(response: pb::Response) -> Result<Response, DecodeError> {
        Ok(match required("Response.kind", response.kind)? {
            ResponseKind::Done(_) => Response::Done,
            ResponseKind::Created(created) => Response::Created {
                arn: created.arn,
                id: created.id,
            },
            ResponseKind::PolicyVersionCreated(version) => {
                Response::PolicyVersionCreated { version }
            }
            ResponseKind::NodeIdReserved(node_id) => Response::NodeIdReserved { node_id },
        })
    }
}

fn kind_to_pb(kind: EntityKind) -> i32 {
    let kind = match kind {
        EntityKind::Account => pb::EntityKind::Account,
        EntityKind::User => pb::EntityKind::User,
        EntityKind::Role => pb::EntityKind::Role,
        EntityKind::Policy => pb::EntityKind::Policy,
        EntityKind::PolicyVersion => pb::EntityKind::PolicyVersion,
        EntityKind::InlinePolicy => pb::EntityKind::InlinePolicy,
        EntityKind::AccessKey => pb::EntityKind::AccessKey,
        EntityKind::MfaDevice => pb::EntityKind::MfaDevice,
        EntityKind::OidcProvider => pb::EntityKind::OidcProvider,
        EntityKind::SamlProvider => pb::EntityKind::SamlProvider,
        EntityKind::Key => pb::EntityKind::Key,
        EntityKind::Region => pb::EntityKind::Region,
        EntityKind::Node => pb::EntityKind::Node,
    };
    kind as i32
}

fn kind_from_pb(value: i32) -> Result<EntityKind, DecodeError> {
    Ok(match pb::EntityKind::try_from(value) {
        Ok(pb::EntityKind::Account) => EntityKind::Account,
        Ok(pb::EntityKind::User) => EntityKind::User,
        Ok(pb::EntityKind::Role) => EntityKind::Role,
        Ok(pb::EntityKind::Policy) => EntityKind::Policy,
        Ok(pb::EntityKind::PolicyVersion) => EntityKind::PolicyVersion,
        Ok(pb::EntityKind::InlinePolicy) => EntityKind::InlinePolicy,
        Ok(pb::EntityKind::AccessKey) => EntityKind::AccessKey,
        Ok(pb::EntityKind::MfaDevice) => EntityKind::MfaDevice,
        Ok(pb::EntityKind::OidcProvider) => EntityKind::OidcProvider,
        Ok(pb::EntityKind::SamlProvider) => EntityKind::SamlProvider,
        Ok(pb::EntityKind::Key) => EntityKind::Key,
        Ok(pb::EntityKind::Region) => EntityKind::Region,
        Ok(pb::EntityKind::Node) => EntityKind::Node,
        Ok(pb::EntityKind::Unspecified) | Err(_) => {
            return Err(DecodeError::invalid(
                "EntityKind",
                format!("unknown value {value}"),
            ));
        }
    })
}

impl From<&ConfigError> for pb::ConfigError {
    fn from(err: &ConfigError) -> pb::ConfigError {
        let entity = |kind: &EntityKind, name: &String| pb::config_error::Entity {
            kind: kind_to_pb(*kind),
            name: name.clone(),
        };
        let kind = match err {
            ConfigError::AlreadyExists { kind, name } => {
                ErrorKind::AlreadyExists(entity(kind, name))
            }
            ConfigError::NoSuchEntity { kind, name } => ErrorKind::NoSuchEntity(entity(kind, name)),
            ConfigError::DeleteConflict { kind, name, what } => {
                ErrorKind::DeleteConflict(pb::config_error::Conflict {
                    kind: kind_to_pb(*kind),
                    name: name.clone(),
                    what: what.clone(),
                })
            }
            ConfigError::LimitExceeded { quota, limit } => {
                ErrorKind::LimitExceeded(pb::config_error::Limit {
                    quota: quota.clone(),
                    limit: u64::try_from(*limit).unwrap_or(u64::MAX),
                })
            }
            ConfigError::PolicySizeExceeded { limit } => {
                ErrorKind::PolicySizeExceeded(u64::try_from(*limit).unwrap_or(u64::MAX))
            }
            ConfigError::MalformedPolicyDocument { reason } => {
                ErrorKind::MalformedPolicyDocument(reason.clone())
            }
            ConfigError::InvalidInput { reason } => ErrorKind::InvalidInput(reason.clone()),
            ConfigError::Validation { reason } => ErrorKind::ValidationError(reason.clone()),
            ConfigError::PreconditionFailed { reason } => {
                ErrorKind::PreconditionFailed(reason.clone())
            }
        };
        pb::ConfigError { kind: Some(kind) }
    }
}

impl TryFrom<pb::ConfigError> for ConfigError {
    type Error = DecodeError;

    fn try_from(err: pb::ConfigError) -> Result<ConfigError, DecodeError> {
        let size = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Ok(match required("ConfigError.kind", err.kind)? {
            ErrorKind::AlreadyExists(entity) => ConfigError::AlreadyExists {
                kind: kind_from_pb(entity.kind)?,
                name: entity.name,
            },
            ErrorKind::NoSuchEntity(entity) => ConfigError::NoSuchEntity {
                kind: kind_from_pb(entity.kind)?,
                name: entity.name,
            },
            ErrorKind::DeleteConflict(conflict) => ConfigError::DeleteConflict {
                kind: kind_from_pb(conflict.kind)?,
                name: conflict.name,
                what: conflict.what,
            },
            ErrorKind::LimitExceeded(limit) => ConfigError::LimitExceeded {
                quota: limit.quota,
                limit: size(limit.limit),
            },
            ErrorKind::PolicySizeExceeded(limit) => {
                ConfigError::PolicySizeExceeded { limit: size(limit) }
            }
            ErrorKind::MalformedPolicyDocument(reason) => {
                ConfigError::MalformedPolicyDocument { reason }
            }
            ErrorKind::InvalidInput(reason) => ConfigError::InvalidInput { reason },
            ErrorKind::ValidationError(reason) => ConfigError::Validation { reason },
            ErrorKind::PreconditionFailed(reason) => ConfigError::PreconditionFailed { reason },
        })
    }
}
