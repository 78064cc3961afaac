//! Core values as the Verifier's protobuf messages, and its errors as gRPC
//! statuses.
//!
//! Every failure is a [`pb::VerifierError`] — an AWS-style code, the message
//! STS would give, and the gRPC code — carried in the status details (the
//! encoded message) and, for batch and stream results, inline. One table maps
//! codes to gRPC codes ([`VerifierFailure`]).

use meridian_core::access::authz::{DecidingStatement, DenyKind};
use meridian_core::access::caller::{AuthError, Caller};
use meridian_core::arn::{Arn, Partition};
use meridian_core::policy::evaluate::PolicySource;
use meridian_core::principal::Principal;
use meridian_proto::pb;
use prost::Message as _;
use tonic::Code;
use tonic::codegen::Bytes;

/// A failed call: the error the caller is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierFailure(pub pb::VerifierError);

impl VerifierFailure {
    fn new(code: &str, message: impl Into<String>, grpc: Code) -> VerifierFailure {
        VerifierFailure(pb::VerifierError {
            code: code.to_owned(),
            message: message.into(),
            grpc_code: grpc as i32,
        })
    }

    /// `INVALID_ARGUMENT` / `InvalidRequest`: the call itself is malformed.
    pub fn invalid(message: impl Into<String>) -> VerifierFailure {
        VerifierFailure::new("InvalidRequest", message, Code::InvalidArgument)
    }

    /// `UNAUTHENTICATED` / `InvalidContextHandle`.
    pub fn invalid_handle() -> VerifierFailure {
        VerifierFailure::new(
            "InvalidContextHandle",
            "The context handle is invalid or expired",
            Code::Unauthenticated,
        )
    }

    /// `RESOURCE_EXHAUSTED` / `Throttling`: shed under load.
    pub fn throttled() -> VerifierFailure {
        VerifierFailure::new("Throttling", "Rate exceeded", Code::ResourceExhausted)
    }

    /// `UNAVAILABLE` / `ServiceUnavailable`: this node cannot answer yet.
    pub fn unavailable() -> VerifierFailure {
        VerifierFailure::new(
            "ServiceUnavailable",
            "The node is not ready to verify requests",
            Code::Unavailable,
        )
    }

    /// `INTERNAL` / `InternalFailure` (the detail is logged, never sent).
    pub fn internal() -> VerifierFailure {
        VerifierFailure::new(
            "InternalFailure",
            "The request processing has failed because of an unknown error",
            Code::Internal,
        )
    }

    /// An authentication failure, with STS's code and text.
    pub fn auth(error: &AuthError) -> VerifierFailure {
        match error {
            AuthError::Internal(detail) => {
                tracing::error!(%detail, "verifier: stored credentials unusable");
                VerifierFailure::internal()
            }
            AuthError::SigV4(sigv4) => {
                VerifierFailure::new(sigv4.code(), sigv4.message(), Code::Unauthenticated)
            }
            other => VerifierFailure::new(other.code(), other.to_string(), Code::Unauthenticated),
        }
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        Code::from_i32(self.0.grpc_code)
    }

    /// As a gRPC status: the message as text, the error in the details.
    pub fn into_status(self) -> tonic::Status {
        let code = self.code();
        let message = self.0.message.clone();
        tonic::Status::with_details(code, message, Bytes::from(self.0.encode_to_vec()))
    }
}

/// The error in a status's details, if it carries one.
pub fn failure_of(status: &tonic::Status) -> Option<pb::VerifierError> {
    pb::VerifierError::decode(status.details()).ok()
}

/// Who signed, as the protobuf `SessionContext`.
pub fn session_context(caller: &Caller, partition: &Partition) -> pb::SessionContext {
    let principal = &caller.principal;
    let mut context = pb::SessionContext {
        account_id: principal.account().as_str().to_owned(),
        arn: principal.arn_text(partition),
        principal_type: principal_type(principal) as i32,
        user_id: principal.user_id(),
        access_key_id: caller.access_key_id.clone(),
        temporary: caller.temporary,
        ..pb::SessionContext::default()
    };
    match principal {
        Principal::AssumedRole(role) => {
            context.role_arn = role.role_arn_text(partition);
            context.session_name = role.session_name().to_owned();
        }
        Principal::FederatedUser(federated) => {
            context.session_name = federated.name().to_owned();
            context.federated_parent_arn = match federated.parent() {
                Some(parent) => parent.arn_text(partition),
                None => Arn::account_root(partition, federated.account()).to_string(),
            };
        }
        Principal::Root(_) | Principal::User(_) => {}
    }
    if let Some(session) = caller.session.as_deref() {
        context.session_id = session.session_id.to_string();
        context.source_identity = session.source_identity.clone().unwrap_or_default();
        context.tags = session
            .tags
            .iter()
            .map(|tag| pb::SessionTag {
                key: tag.key.clone(),
                value: tag.value.clone(),
                transitive: tag.transitive,
            })
            .collect();
        context.mfa_authenticated = session.mfa_authenticated_at.is_some();
        context.mfa_authenticated_at_ms = session
            .mfa_authenticated_at
            .map_or(0, |at| at.unix_millis());
        context.issued_at_ms = session.issued_at.unix_millis();
        context.expires_at_ms = session.expires_at.unix_millis();
        context.issuing_region = session.region.clone();
        context.key_id = session.key_id.get();
        context.role_chained = session.role_chained;
        context.has_session_policy = !session.policy.is_empty();
    }
    context
}

fn principal_type(principal: &Principal) -> pb::PrincipalType {
    match principal {
        Principal::Root(_) => pb::PrincipalType::Root,
        Principal::User(_) => pb::PrincipalType::User,
        Principal::AssumedRole(_) => pb::PrincipalType::AssumedRole,
        Principal::FederatedUser(_) => pb::PrincipalType::FederatedUser,
    }
}

/// A policy source as the protobuf policy type.
pub fn policy_type(source: PolicySource) -> pb::PolicyType {
    match source {
        PolicySource::Identity => pb::PolicyType::Identity,
        PolicySource::PermissionsBoundary => pb::PolicyType::PermissionsBoundary,
        PolicySource::Session => pb::PolicyType::Session,
        PolicySource::Trust | PolicySource::Resource => pb::PolicyType::Resource,
    }
}

/// The deciding statement as protobuf.
pub fn statement(statement: &DecidingStatement) -> pb::DecidingStatement {
    pb::DecidingStatement {
        policy_type: policy_type(statement.source) as i32,
        policy: statement.policy.clone(),
        sid: statement.sid.clone().unwrap_or_default(),
        statement_index: u32::try_from(statement.statement_index).unwrap_or(u32::MAX),
    }
}

/// A deny kind and the layer AWS's message names.
pub fn deny_kind(kind: DenyKind) -> (pb::DenyKind, pb::PolicyType) {
    match kind {
        DenyKind::Explicit(source) => (pb::DenyKind::Explicit, policy_type(source)),
        DenyKind::Implicit(source) => (pb::DenyKind::Implicit, policy_type(source)),
        DenyKind::Revoked => (pb::DenyKind::Revoked, pb::PolicyType::Identity),
        DenyKind::Restricted => (pb::DenyKind::Restricted, pb::PolicyType::Session),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_round_trip_through_status_details() {
        let failure = VerifierFailure::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
            Code::Unauthenticated,
        );
        let status = failure.clone().into_status();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), failure.0.message);
        assert_eq!(failure_of(&status), Some(failure.0));
    }

    #[test]
    fn every_failure_kind_has_its_grpc_code() {
        let cases = [
            (
                VerifierFailure::invalid("x"),
                Code::InvalidArgument,
                "InvalidRequest",
            ),
            (
                VerifierFailure::invalid_handle(),
                Code::Unauthenticated,
                "InvalidContextHandle",
            ),
            (
                VerifierFailure::throttled(),
                Code::ResourceExhausted,
                "Throttling",
            ),
            (
                VerifierFailure::unavailable(),
                Code::Unavailable,
                "ServiceUnavailable",
            ),
            (
                VerifierFailure::internal(),
                Code::Internal,
                "InternalFailure",
            ),
            (
                VerifierFailure::auth(&AuthError::ExpiredToken),
                Code::Unauthenticated,
                "ExpiredToken",
            ),
            (
                VerifierFailure::auth(&AuthError::InvalidToken(
                    meridian_core::access::caller::InvalidTokenReason::UnknownKey,
                )),
                Code::Unauthenticated,
                "InvalidClientTokenId",
            ),
        ];
        for (failure, code, name) in cases {
            assert_eq!(failure.code(), code, "{name}");
            assert_eq!(failure.0.code, name);
        }
    }
}
