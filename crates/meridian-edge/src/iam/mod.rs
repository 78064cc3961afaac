//! The IAM-compatible configuration API (`Version=2010-05-08`): users, access
//! keys, roles, inline and managed policies, permissions boundaries, tags,
//! OIDC and SAML providers, virtual MFA devices and the account summary.
//!
//! ```text
//!   OperationRequest ──► Call (caller's account, input, snapshot, now)
//!      │ authorize: iam:{Action} on the resource ARN AWS uses for it
//!      │ read:  look up in the snapshot the request was authenticated against
//!      │ write: pre-check against that snapshot (AWS's exact messages), then
//!      │        ConfigWriter::submit(ConfigRequest) — resolves once the command
//!      │        is committed and applied on this node (read-your-writes)
//!      ▼
//!   XmlResult (policy documents URL-encoded, timestamps ISO 8601)
//! ```
//!
//! Every operation acts on the caller's own account. Writes are translated
//! into `meridian_core::config::command::Command`s; the state machine checks
//! every precondition again at apply time, so the pre-checks here only pick
//! AWS's wording and save a Raft round trip for requests that would be
//! refused anyway. A refusal decided at apply time (a concurrent writer won)
//! is rendered with AWS's wording by `errors::from_refusal`.
//!
//! Request ids: the Raft request id of a write is the HTTP request id (a
//! random UUID) read back as 16 bytes. A client retrying an HTTP request
//! sends a new request, which is a new write, exactly as AWS treats it
//! (a retried `CreateRole` answers `EntityAlreadyExists`); the server's own
//! retries of one proposal (leader change, timeout) reuse the id, and the
//! state machine answers the first outcome again.
//!
//! Registration: the server calls [`register`] once on its
//! [`HandlerTable`]; it registers every operation [`served_actions`] lists.

mod account;
mod errors;
mod keys;
mod managed;
mod mfa;
mod outbound;
mod paging;
mod policies;
mod providers;
mod render;
mod roles;
mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use meridian_core::arn::Partition;
use meridian_core::config::command::{Command, ConfigRequest, RequestId, Response};
use meridian_core::config::model::Tags;
use meridian_core::config::snapshot::{AccountConfig, ConfigSnapshot};
use meridian_core::ids::{AccountId, UniqueId, UniqueIdKind};
use meridian_core::rand::RandomError;
use meridian_core::time::Timestamp;

use crate::auth::keys::EdgeRandom;
use crate::authz::ContextValue;
use crate::decode::{Structure, Value};
use crate::error::ApiError;
use crate::model::{ErrorCode, Service};
use crate::operation::{HandlerFuture, HandlerTable, OperationRequest, UnknownOperation};
use crate::state::{Caller, EdgeState, WriteError};

/// A handler of this module: the request already turned into a [`Call`].
type IamHandler = fn(Call) -> HandlerFuture;

/// Registers every IAM operation this module serves on `table`.
///
/// The server builds its [`HandlerTable`] with this (and the STS module's
/// registration); operations not registered answer `NotImplemented`.
pub fn register(table: &mut HandlerTable) -> Result<(), UnknownOperation> {
    for &(action, handler) in handlers() {
        table.register(
            Service::Iam,
            action,
            move |request: OperationRequest| match Call::new(request) {
                Ok(call) => handler(call),
                Err(error) => Box::pin(async move { Err(error) }) as HandlerFuture,
            },
        )?;
    }
    Ok(())
}

/// The IAM actions [`register`] serves.
pub fn served_actions() -> impl Iterator<Item = &'static str> {
    handlers().map(|(action, _)| *action)
}

/// Every handler, by action.
fn handlers() -> impl Iterator<Item = &'static (&'static str, IamHandler)> {
    users::HANDLERS
        .iter()
        .chain(keys::HANDLERS)
        .chain(roles::HANDLERS)
        .chain(policies::HANDLERS)
        .chain(managed::HANDLERS)
        .chain(providers::HANDLERS)
        .chain(mfa::HANDLERS)
        .chain(account::HANDLERS)
        .chain(outbound::HANDLERS)
}

/// One IAM request, as the handlers see it.
pub(crate) struct Call {
    /// The request as the router handed it (authorization reads it whole).
    request: OperationRequest,
    /// The authenticated caller.
    caller: Caller,
    /// The snapshot the request was authenticated against: every read and
    /// pre-check of the request uses this one view.
    snapshot: Arc<ConfigSnapshot>,
    /// The time the request is evaluated at (and the writes' `issued_at`).
    now: Timestamp,
    /// `iam:{Action}`.
    action: String,
    /// Writes this call has proposed so far: each gets its own Raft request
    /// id (the state machine applies an id at most once).
    writes: AtomicU8,
}

impl Call {
    fn new(request: OperationRequest) -> Result<Call, ApiError> {
        // Every IAM operation is signed; the router authenticated the caller.
        let caller = request
            .caller
            .clone()
            .ok_or_else(|| ApiError::internal(&"IAM operation reached without a caller"))?;
        Ok(Call {
            snapshot: request.snapshot.clone(),
            now: request.now,
            action: format!("iam:{}", request.operation.name),
            caller,
            request,
            writes: AtomicU8::new(0),
        })
    }

    fn state(&self) -> &EdgeState {
        &self.request.state
    }

    fn input(&self) -> Option<&Structure> {
        self.request.input.as_ref()
    }

    /// The caller's account: every IAM operation acts on it.
    fn account_id(&self) -> &AccountId {
        self.caller.principal.account()
    }

    /// The caller's account as the request's snapshot has it.
    fn account(&self) -> Result<&AccountConfig, ApiError> {
        let id = self.account_id();
        self.snapshot.account(id).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoSuchEntity,
                format!("The account {id} cannot be found."),
            )
        })
    }

    fn partition(&self) -> &Partition {
        self.snapshot.partition()
    }

    /// `arn:{partition}:iam::{account}:{kind}{path}{name}`.
    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:{kind}{path}{name}",
            self.partition(),
            self.account_id()
        )
    }

    /// An optional string member of the input.
    fn str(&self, name: &str) -> Option<&str> {
        self.input().and_then(|input| input.str(name))
    }

    /// A member the model marks required (the decoder has already refused
    /// requests without it, so the error is a backstop).
    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.str(name).ok_or_else(|| {
            ApiError::validation(&[format!(
                "Value null at '{}' failed to satisfy constraint: Member must not be null",
                camel_case(name)
            )])
        })
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.input().and_then(|input| input.int(name))
    }

    fn bool(&self, name: &str) -> Option<bool> {
        self.input().and_then(|input| input.bool(name))
    }

    fn list(&self, name: &str) -> Option<&[Value]> {
        self.input().and_then(|input| input.list(name))
    }

    /// A list of strings member (absent: empty).
    fn strings(&self, name: &str) -> Vec<String> {
        self.list(name)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    /// The `Tags` member as a map. Keys are unique case-insensitively, as
    /// IAM has them.
    fn tags(&self) -> Result<Tags, ApiError> {
        let mut tags = Tags::new();
        for tag in self
            .list("Tags")
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_structure)
        {
            let key = tag.str("Key").unwrap_or_default();
            let value = tag.str("Value").unwrap_or_default();
            if tags
                .keys()
                .any(|existing| existing.eq_ignore_ascii_case(key))
            {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
            tags.insert(key.to_owned(), value.to_owned());
        }
        Ok(tags)
    }

    /// Whether the request has member `name` at all (any type).
    fn has(&self, name: &str) -> bool {
        self.input().is_some_and(|input| input.get(name).is_some())
    }

    /// Authorizes the caller for `iam:{Action}` on `resource`.
    fn authorize(&self, resource: &str) -> Result<(), ApiError> {
        self.authorize_with(resource, &[])
    }

    /// [`Call::authorize`] with condition keys of the request
    /// (`aws:RequestTag/…`, `aws:TagKeys`, `iam:PolicyARN`,
    /// `iam:PermissionsBoundary`).
    fn authorize_with(
        &self,
        resource: &str,
        keys: &[(&str, ContextValue<'_>)],
    ) -> Result<(), ApiError> {
        crate::authz::authorize_with(&self.request, &self.action, resource, keys)
    }

    /// Authorizes a request that sets `tags` (and removes `removed` keys):
    /// `aws:RequestTag/{key}` for each tag and `aws:TagKeys` for every key.
    fn authorize_tagging(
        &self,
        resource: &str,
        tags: &Tags,
        removed: &[String],
        extra: &[(&str, ContextValue<'_>)],
    ) -> Result<(), ApiError> {
        let request_tags: Vec<(String, &str)> = tags
            .iter()
            .map(|(key, value)| (format!("aws:RequestTag/{key}"), value.as_str()))
            .collect();
        let mut keys: Vec<(&str, ContextValue<'_>)> =
            Vec::with_capacity(request_tags.len() + tags.len() + removed.len() + extra.len());
        keys.extend(
            request_tags
                .iter()
                .map(|(key, value)| (key.as_str(), ContextValue::String(value))),
        );
        keys.extend(
            tags.keys()
                .chain(removed)
                .map(|key| ("aws:TagKeys", ContextValue::String(key))),
        );
        keys.extend(extra.iter().cloned());
        self.authorize_with(resource, &keys)
    }

    /// A fresh unique id (`AIDA…`, `AROA…`, `ANPA…`) from the edge's random
    /// source.
    fn unique_id(&self, kind: UniqueIdKind) -> Result<String, ApiError> {
        let id = UniqueId::generate(kind, &mut self.rng()).map_err(random_failed)?;
        Ok(id.as_str().to_owned())
    }

    /// The edge's random source as `meridian_core` takes it.
    fn rng(&self) -> EdgeRandom<'_> {
        EdgeRandom(self.state().random())
    }

    /// Proposes `command` and waits until it is applied on this node.
    ///
    /// A handler may write several commands: the first is proposed under
    /// the HTTP request's id, the n-th under an id derived from it (so a
    /// second write is never taken for a replay of the first).
    async fn write(&self, command: Command) -> Result<Response, ApiError> {
        let name = command.name();
        let nth = self.writes.fetch_add(1, Ordering::Relaxed);
        let request = ConfigRequest {
            request_id: write_request_id(self.raft_request_id(), nth),
            issued_at: self.now,
            command,
        };
        let result = match self.state().writer().submit(request).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(refusal)) => Err(errors::from_refusal(&refusal)),
            Err(WriteError::Unavailable(detail)) => {
                tracing::warn!(detail = %detail, "configuration write unavailable");
                Err(ApiError::unavailable())
            }
            Err(WriteError::Internal(detail)) => Err(ApiError::internal(&detail)),
        };
        let outcome = result.as_ref().map_or_else(|e| e.code().as_str(), |_| "ok");
        self.request
            .audit
            .push(crate::audit::config_change(&self.request, name, outcome));
        result
    }

    /// The newest applied snapshot: after [`Call::write`] it includes the
    /// write (the writer resolves after the apply on this node).
    fn fresh(&self) -> Arc<ConfigSnapshot> {
        self.state().snapshot()
    }

    /// The HTTP request id (a UUID) as the 16 bytes of a Raft request id; a
    /// fresh random id if it is not a UUID (only hand-built test states).
    fn raft_request_id(&self) -> RequestId {
        let hex: Vec<u8> = self
            .request
            .request_id
            .bytes()
            .filter(|b| *b != b'-')
            .collect();
        let mut bytes = [0u8; 16];
        let parsed = hex.len() == 32
            && hex.chunks(2).zip(bytes.iter_mut()).all(|(pair, out)| {
                match (hex_value(pair[0]), hex_value(pair[1])) {
                    (Some(high), Some(low)) => {
                        *out = (high << 4) | low;
                        true
                    }
                    _ => false,
                }
            });
        if !parsed {
            self.state().random().fill(&mut bytes);
        }
        RequestId(bytes)
    }
}

/// The Raft request id of a call's `nth` write (0-based): the call's own id
/// for the first, then ids that differ from it, and from each other, in
/// their last two bytes.
fn write_request_id(base: RequestId, nth: u8) -> RequestId {
    let mut id = base;
    if nth > 0 {
        id.0[15] ^= nth;
        id.0[14] ^= 0x5a;
    }
    id
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// `UserName` → `userName`, as AWS writes member paths in validation texts.
fn camel_case(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn random_failed(error: RandomError) -> ApiError {
    ApiError::internal(&error)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::model::generated::OPERATIONS;

    /// A call's writes get pairwise distinct Raft request ids, the first
    /// being the call's own, and the same sequence for the same base id.
    #[test]
    fn each_write_of_a_call_has_its_own_request_id() {
        let base = RequestId([0x11; 16]);
        let ids: Vec<RequestId> = (0..=u8::MAX).map(|n| write_request_id(base, n)).collect();
        assert_eq!(ids[0], base);
        let distinct: HashSet<[u8; 16]> = ids.iter().map(|id| id.0).collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(write_request_id(base, 3), ids[3]);
    }

    /// Modeled IAM operations this module does not serve, and why: they
    /// answer `NotImplemented`.
    const NOT_SERVED: &[(&str, &str)] = &[
        ("PutGroupPolicy", "the replicated model has no groups"),
        ("AttachGroupPolicy", "the replicated model has no groups"),
        ("CreateGroup", "the replicated model has no groups"),
        ("GetGroup", "the replicated model has no groups"),
        ("DeleteGroup", "the replicated model has no groups"),
        ("AddUserToGroup", "the replicated model has no groups"),
        ("RemoveUserFromGroup", "the replicated model has no groups"),
        ("ListGroupsForUser", "the replicated model has no groups"),
        ("SimulatePrincipalPolicy", "optional test aid, not built"),
        ("SimulateCustomPolicy", "optional test aid, not built"),
    ];

    #[test]
    fn every_modeled_iam_operation_is_served_or_explained() {
        let served: HashSet<&str> = served_actions().collect();
        let not_served: HashSet<&str> = NOT_SERVED.iter().map(|(action, _)| *action).collect();
        for op in OPERATIONS.iter().filter(|op| op.service == Service::Iam) {
            assert!(
                served.contains(op.name) != not_served.contains(op.name),
                "{} must be either served or listed as not served",
                op.name
            );
        }
        assert_eq!(served.len(), served_actions().count(), "an action twice");
    }

    #[test]
    fn registration_serves_every_action() {
        let mut table = HandlerTable::new();
        assert!(register(&mut table).is_ok());
        let registered: HashSet<&str> = table
            .served()
            .filter(|(service, _)| *service == Service::Iam)
            .map(|(_, action)| action)
            .collect();
        assert_eq!(registered, served_actions().collect::<HashSet<_>>());
    }

    #[test]
    fn member_paths_are_camel_case() {
        assert_eq!(camel_case("UserName"), "userName");
        assert_eq!(camel_case("VersionId"), "versionId");
        assert_eq!(camel_case(""), "");
    }
}
