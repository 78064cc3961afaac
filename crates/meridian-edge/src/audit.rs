//! The audit events the edge produces, and the sink it hands them to.
//!
//! The edge decides *what* is audited; the server decides *how* it is made
//! durable (`meridian_server::audit`: append-only JSON lines, group commit,
//! hash chain). The edge has no I/O of its own beyond HTTP, so it only
//! collects events while a request runs and awaits [`AuditSink::append`]
//! before the answer leaves:
//!
//! * **Issuance** — `mint` (in `sts`) adds an [`Issuance`] with decision
//!   `allow` for every credential set it produces; the router adds one with
//!   decision `deny` when an issuing call is refused after it was routed and
//!   decoded. Issuance is **fail-closed** (RELIABILITY.md "Decisions"): when
//!   the sink cannot make the events durable within its bounded buffer and
//!   wait, the router discards the credentials and answers
//!   `ServiceUnavailable` instead.
//! * **Configuration changes** — every write the IAM handlers submit adds a
//!   [`ConfigChange`] with the refusal code or `ok`. The change is already
//!   committed and replicated when its outcome is known, so an audit failure
//!   cannot undo it: the answer is sent, and the failure is logged at error
//!   level and counted by the sink (the Raft log itself still records the
//!   command).
//!
//! Events carry identifiers (ARNs, access key ids, request ids, key ids) and
//! never secrets: no secret access key, session token, signature or
//! assertion is ever put in one.

use std::fmt;
use std::sync::Mutex;

use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::principal::Principal;
use meridian_core::time::Timestamp;
use meridian_core::token::{MintedCredentials, SessionSpec};

use crate::decode::Structure;
use crate::error::ApiError;
use crate::model::{ErrorCode, OperationModel};
use crate::operation::OperationRequest;
use crate::state::{BoxFuture, Caller, EdgeState};

/// Allowed or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Credentials were issued.
    Allow,
    /// The call was refused with this AWS error code.
    Deny(&'static str),
}

/// Who made a request, as the audit trail names them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// The caller's ARN (`None` for unsigned calls, e.g. web identity).
    pub arn: Option<String>,
    /// The access key id the request was signed with.
    pub access_key_id: Option<String>,
    /// The caller's account.
    pub account: Option<String>,
    /// The client's IP address, when known.
    pub source_ip: Option<String>,
}

/// One issuing call: who got which credentials, or was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// The STS action (`AssumeRole`, `GetSessionToken`, …).
    pub action: &'static str,
    /// The caller.
    pub actor: Actor,
    /// The role asked for (`RoleArn`), if any.
    pub role_arn: Option<String>,
    /// `RoleSessionName` (or `Name` of GetFederationToken).
    pub session_name: Option<String>,
    /// The principal of the issued session (allowed calls).
    pub principal_arn: Option<String>,
    /// The identity provider that vouched for an unsigned call (web identity,
    /// SAML), if any.
    pub provider_arn: Option<String>,
    /// `SourceIdentity` of the session.
    pub source_identity: Option<String>,
    /// Session tags as `(key, value, transitive)`.
    pub tags: Vec<(String, String, bool)>,
    /// The issuing region.
    pub region: String,
    /// The data key that sealed the session token.
    pub key_id: Option<u32>,
    /// The issued access key id (`ASIA…`).
    pub access_key_id: Option<String>,
    /// The new session's id.
    pub session_id: Option<String>,
    /// When the credentials expire.
    pub expires_at: Option<Timestamp>,
    /// Allowed, or refused with a code.
    pub decision: Decision,
}

/// One configuration change submitted through the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The API action (`CreateUser`, …).
    pub action: &'static str,
    /// The replicated command it became (`CreateUser`, `PutRolePolicy`, …).
    pub command: &'static str,
    /// The caller.
    pub actor: Actor,
    /// Identifying parameters of the target (`UserName`, `RoleName`,
    /// `PolicyArn`, …), never documents or secrets.
    pub target: Vec<(&'static str, String)>,
    /// `ok`, or the AWS error code of the refusal or failure.
    pub outcome: &'static str,
}

/// An audit event with the context every event shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The request id (`x-amzn-RequestId`).
    pub request_id: String,
    /// When the request was evaluated.
    pub at: Timestamp,
    /// What happened.
    pub kind: AuditKind,
}

/// What an audit event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditKind {
    /// An issuing call.
    Issuance(Issuance),
    /// A configuration change.
    ConfigChange(ConfigChange),
}

/// The events could not be made durable in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The bounded buffer stayed full for the whole bounded wait.
    #[error("the audit buffer is full")]
    Full,
    /// The events were queued but not synced within the bounded wait.
    #[error("the audit trail did not sync in time")]
    Timeout,
    /// Writing or syncing failed.
    #[error("the audit trail cannot be written: {0}")]
    Io(String),
    /// The writer has stopped (shutdown).
    #[error("the audit trail is closed")]
    Closed,
}

/// Makes audit events durable; implemented by the server. `append` resolves
/// once every event is on stable storage, or fails within a bounded time.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends `events` (one request's) and waits until they are durable.
    fn append(&self, events: Vec<AuditEvent>) -> BoxFuture<'_, Result<(), AuditError>>;
}

/// A sink that keeps nothing: for tests and benches of the edge alone,
/// which build their state with [`crate::state::EdgeState::new`]. The server
/// always installs its durable trail.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardAudit;

impl AuditSink for DiscardAudit {
    fn append(&self, _events: Vec<AuditEvent>) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The events one request produced, collected while its handler runs and
/// flushed by the router before the answer is sent.
#[derive(Default)]
pub struct AuditScope {
    events: Mutex<Vec<AuditEvent>>,
}

impl AuditScope {
    /// An empty scope.
    pub fn new() -> AuditScope {
        AuditScope::default()
    }

    /// Adds an event.
    pub fn push(&self, event: AuditEvent) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }

    /// Takes every event collected so far.
    pub fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(
            &mut *self
                .events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Whether an event of kind issuance with decision `allow` was collected.
    pub fn issued(&self) -> bool {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|event| {
                matches!(&event.kind, AuditKind::Issuance(issuance) if issuance.decision == Decision::Allow)
            })
    }
}

impl fmt::Debug for AuditScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .events
            .lock()
            .map(|events| events.len())
            .unwrap_or_default();
        f.debug_struct("AuditScope")
            .field("events", &count)
            .finish()
    }
}

/// The audit view of a caller.
pub fn actor(caller: Option<&Caller>, snapshot: &ConfigSnapshot) -> Actor {
    match caller {
        None => Actor::default(),
        Some(caller) => Actor {
            arn: Some(caller.principal.arn_text(snapshot.partition())),
            access_key_id: Some(caller.access_key_id.clone()),
            account: Some(caller.principal.account().as_str().to_owned()),
            source_ip: caller.source_ip.map(|ip| ip.to_string()),
        },
    }
}

/// The issuance event of credentials `mint` produced for `spec`.
pub fn issued(
    request: &OperationRequest,
    spec: &SessionSpec,
    minted: &MintedCredentials,
) -> AuditEvent {
    let partition = request.snapshot.partition();
    let input = request.input.as_ref();
    let (role_arn, session_name, provider_arn) = match &spec.principal {
        Principal::AssumedRole(role) => (
            Some(role.role_arn_text(partition)),
            Some(role.session_name().to_owned()),
            role.origin().provider().map(ToString::to_string),
        ),
        Principal::FederatedUser(user) => (None, Some(user.name().to_owned()), None),
        _ => (None, None, None),
    };
    AuditEvent {
        request_id: request.request_id.clone(),
        at: request.now,
        kind: AuditKind::Issuance(Issuance {
            action: request.operation.name,
            actor: actor(request.caller.as_ref(), &request.snapshot),
            role_arn: role_arn
                .or_else(|| input.and_then(|i| i.any_str("RoleArn")).map(str::to_owned)),
            session_name,
            principal_arn: Some(spec.principal.arn_text(partition)),
            provider_arn,
            source_identity: spec.source_identity.clone(),
            tags: spec
                .tags
                .iter()
                .map(|tag| (tag.key.clone(), tag.value.clone(), tag.transitive))
                .collect(),
            region: spec.region.clone(),
            key_id: Some(minted.key_id.get()),
            access_key_id: Some(minted.credentials.access_key_id.as_str().to_owned()),
            session_id: Some(minted.session_id.to_string()),
            expires_at: Some(minted.credentials.expiration),
            decision: Decision::Allow,
        }),
    }
}

/// What is known of an issuing call before its handler runs, kept to audit a
/// refusal.
#[derive(Debug)]
pub struct RefusedIssuance {
    action: &'static str,
    actor: Actor,
    role_arn: Option<String>,
    session_name: Option<String>,
    source_identity: Option<String>,
    region: String,
}

impl RefusedIssuance {
    /// Captures the request's identifying inputs.
    pub fn new(
        operation: &OperationModel,
        input: Option<&Structure>,
        caller: Option<&Caller>,
        snapshot: &ConfigSnapshot,
        region: &str,
    ) -> RefusedIssuance {
        let text = |name: &str| input.and_then(|i| i.any_str(name)).map(str::to_owned);
        RefusedIssuance {
            action: operation.name,
            actor: actor(caller, snapshot),
            role_arn: text("RoleArn"),
            session_name: text("RoleSessionName").or_else(|| text("Name")),
            source_identity: text("SourceIdentity"),
            region: region.to_owned(),
        }
    }

    /// The event of the refusal answered with `code`.
    pub fn denied(self, code: ErrorCode, request_id: &str, at: Timestamp) -> AuditEvent {
        AuditEvent {
            request_id: request_id.to_owned(),
            at,
            kind: AuditKind::Issuance(Issuance {
                action: self.action,
                actor: self.actor,
                role_arn: self.role_arn,
                session_name: self.session_name,
                principal_arn: None,
                provider_arn: None,
                source_identity: self.source_identity,
                tags: Vec::new(),
                region: self.region,
                key_id: None,
                access_key_id: None,
                session_id: None,
                expires_at: None,
                decision: Decision::Deny(code.as_str()),
            }),
        }
    }
}

/// Input members that identify what an IAM write changes. Documents and
/// anything secret are deliberately absent.
const TARGET_MEMBERS: &[&str] = &[
    "UserName",
    "NewUserName",
    "RoleName",
    "GroupName",
    "PolicyArn",
    "PolicyName",
    "VersionId",
    "AccessKeyId",
    "Status",
    "SerialNumber",
    "VirtualMFADeviceName",
    "OpenIDConnectProviderArn",
    "SAMLProviderArn",
    "Name",
    "Url",
    "InstanceProfileName",
    "AccountAlias",
    "GlobalEndpointTokenVersion",
];

/// The event of a configuration write submitted for `request` with
/// `command`, answered with `outcome` (`ok` or an AWS error code).
pub fn config_change(
    request: &OperationRequest,
    command: &'static str,
    outcome: &'static str,
) -> AuditEvent {
    let target = request
        .input
        .as_ref()
        .map(|input| {
            TARGET_MEMBERS
                .iter()
                .filter_map(|member| {
                    input
                        .any_str(member)
                        .map(|value| (*member, value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    AuditEvent {
        request_id: request.request_id.clone(),
        at: request.now,
        kind: AuditKind::ConfigChange(ConfigChange {
            action: request.operation.name,
            command,
            actor: actor(request.caller.as_ref(), &request.snapshot),
            target,
            outcome,
        }),
    }
}

/// Makes the events of one request durable. Fails (`ServiceUnavailable`)
/// only when credentials were issued and their event could not be made
/// durable; any other audit failure is logged and counted by the sink.
pub async fn flush(state: &EdgeState, scope: &AuditScope) -> Result<(), ApiError> {
    let issued = scope.issued();
    let events = scope.take();
    if events.is_empty() {
        return Ok(());
    }
    match state.audit().append(events).await {
        Ok(()) => Ok(()),
        Err(error) if issued => {
            tracing::error!(%error, "credentials withheld: their audit record is not durable");
            Err(ApiError::unavailable())
        }
        Err(error) => {
            tracing::error!(%error, "audit record of a configuration change is not durable");
            Ok(())
        }
    }
}
