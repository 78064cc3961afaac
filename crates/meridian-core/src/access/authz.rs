//! Authorization of a caller's request: may this caller perform
//! `service:Action` on this resource? Shared by the HTTP edge (every STS and
//! IAM operation) and the gRPC verifier (`Authorize` for resource services).
//!
//! [`Subject::resolve`] looks the caller up in the snapshot once — facts,
//! compiled policies, the entities whose tags become `aws:PrincipalTag` — and
//! [`Subject::evaluate`] (or [`Subject::check`]) decides one action:
//!
//! | caller                      | identity                         | boundary         | session layer                   |
//! |-----------------------------|----------------------------------|------------------|---------------------------------|
//! | account root                | everything in its own account    | —                | —                               |
//! | IAM user (key or GST)       | user inline + attached managed   | user's, if set   | —                               |
//! | role session                | role inline + attached managed   | role's, if set   | the token's policies, if any    |
//! | federated user (GFT)        | the issuing user's (root: all)   | the user's       | the token's policies (none: no permissions) |
//!
//! plus what AWS layers on top of the policies:
//!
//! * `sts:GetCallerIdentity` is never denied;
//! * an action reaches only the caller's own account unless a resource-based
//!   policy says otherwise, and Meridian keeps resource-based policies only
//!   for STS (role trust policies): an action on an ARN of another account is
//!   `AccessDenied` "… because no resource-based policy allows …" whatever
//!   the caller's policies say — except that AWS managed policies
//!   (`arn:…:iam::aws:policy/…`) are readable (`iam:Get*`/`iam:List*`) by
//!   everyone;
//! * sessions of a role revoked with `RevokeRoleSessions` (issued before the
//!   cut-off) are denied as by AWS's `AWSRevokeOlderSessions` inline policy:
//!   an *explicit deny in an identity-based policy*;
//! * a federated-user session may call no IAM action and, on STS, only
//!   `GetCallerIdentity`; a `GetSessionToken` session may call only
//!   `AssumeRole`, `GetCallerIdentity` and `GetWebIdentityToken` on STS.
//!
//! The request context carries the caller's principal facts (`aws:PrincipalArn`,
//! `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`, `aws:username`),
//! `aws:PrincipalTag/…` (entity tags overridden by session tags),
//! `aws:TokenIssueTime`, `aws:MultiFactorAuthPresent`/`Age`,
//! `aws:SourceIdentity`, `aws:FederatedProvider`, `aws:SourceIp`,
//! `aws:RequestedRegion` and the current time.
//!
//! A denial is a value ([`Denial`]) that renders AWS's message form
//! (`User: arn:… is not authorized to perform: iam:CreateRole on resource:
//! arn:… because no identity-based policy allows the iam:CreateRole action`)
//! and the decision details as the JSON `sts:DecodeAuthorizationMessage`
//! returns, sealed under the cluster KEK ([`Denial::encoded_message`],
//! [`decode_message`]).
//!
//! Policies are compiled once per stored document: [`PolicyCache`] keys
//! compiled policies by the address of the document's shared text and keeps
//! that text alive, so a hit is a hash lookup and a pointer comparison; a
//! session's inline policy (which travels in the token) is keyed by its text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::access::caller::Caller;
use crate::access::keys::KeyMaterial;
use crate::arn::Arn;
use crate::config::model::{PolicyDocument, Role, Tags, User};
use crate::config::snapshot::ConfigSnapshot;
use crate::policy::compile::Policy;
use crate::policy::context::{Caller as PolicyCaller, RequestContext, Value};
use crate::policy::errors::PolicyError;
use crate::policy::evaluate::{
    self, Decision, DecisionKind, IdentityPolicies, PermissionSet, PolicySource, Reason,
    StatementRef,
};
use crate::policy::keys::KnownKey;
use crate::policy::kind::PolicyKind;
use crate::principal::{Principal, SessionOrigin};
use crate::rand::RandomSource;
use crate::time::Timestamp;

/// The action that is never denied.
const GET_CALLER_IDENTITY: &str = "sts:GetCallerIdentity";

/// Most compiled documents kept; beyond it, entries whose document is no
/// longer in any snapshot are dropped, then everything if still full.
const MAX_CACHED_DOCUMENTS: usize = 65_536;
/// Most compiled session policies kept (by text).
const MAX_CACHED_SESSION_POLICIES: usize = 4_096;

// ---------------------------------------------------------------------------
// Compiled policy cache

struct CachedDocument {
    /// Keeps the text alive so its address cannot be reused while cached.
    text: Arc<str>,
    policy: Option<Arc<Policy>>,
}

/// Compiled policies, shared by every request of a node.
#[derive(Default)]
pub struct PolicyCache {
    documents: RwLock<HashMap<(usize, PolicyKind), CachedDocument>>,
    sessions: RwLock<HashMap<Box<str>, Arc<Policy>>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let documents = self
            .documents
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let sessions = self
            .sessions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("PolicyCache")
            .field("documents", &documents)
            .field("sessions", &sessions)
            .finish()
    }
}

impl PolicyCache {
    /// An empty cache.
    pub fn new() -> PolicyCache {
        PolicyCache::default()
    }

    /// The compiled form of a stored document, parsed as `kind`. A stored
    /// document that does not compile (it passed the store's checks but not
    /// the evaluator's grammar) grants nothing; that is logged once.
    pub fn document(&self, document: &PolicyDocument, kind: PolicyKind) -> Option<Arc<Policy>> {
        let key = (Arc::as_ptr(&document.0).cast::<u8>() as usize, kind);
        {
            let documents = self
                .documents
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = documents.get(&key)
                && Arc::ptr_eq(&hit.text, &document.0)
            {
                return hit.policy.clone();
            }
        }
        let policy = match Policy::parse(kind, document.as_str()) {
            Ok(policy) => Some(Arc::new(policy)),
            Err(error) => {
                tracing::error!(%error, ?kind, "stored policy does not compile; it grants nothing");
                None
            }
        };
        let mut documents = self
            .documents
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if documents.len() >= MAX_CACHED_DOCUMENTS {
            documents.retain(|_, cached| Arc::strong_count(&cached.text) > 1);
            if documents.len() >= MAX_CACHED_DOCUMENTS {
                documents.clear();
            }
        }
        documents.insert(
            key,
            CachedDocument {
                text: Arc::clone(&document.0),
                policy: policy.clone(),
            },
        );
        policy
    }

    /// The compiled form of a session policy given as text (from a request
    /// or from a token).
    pub fn session(&self, text: &str) -> Result<Arc<Policy>, PolicyError> {
        {
            let sessions = self.sessions.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = sessions.get(text) {
                return Ok(Arc::clone(hit));
            }
        }
        let policy = Arc::new(Policy::parse(PolicyKind::Session, text)?);
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_CACHED_SESSION_POLICIES {
            sessions.clear();
        }
        sessions.insert(text.into(), Arc::clone(&policy));
        Ok(policy)
    }
}

/// A policy that allows nothing: what a missing or uncompilable boundary is.
static ALLOWS_NOTHING: LazyLock<Option<Arc<Policy>>> = LazyLock::new(|| {
    Policy::parse(
        PolicyKind::PermissionsBoundary,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"meridian:NoAction","Resource":"*"}]}"#,
    )
    .ok()
    .map(Arc::new)
});

// ---------------------------------------------------------------------------
// The caller, resolved against the snapshot

/// Which identity policies apply.
enum Identity {
    Root,
    Policies(Vec<Arc<Policy>>),
}

/// Where a compiled policy came from, for naming the deciding statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label<'s> {
    /// An inline policy of the user or role, by name.
    Inline(&'s str),
    /// A managed policy, by ARN.
    Managed(&'s str),
    /// The session token's inline policy.
    SessionInline,
    /// The session token's `i`-th managed policy ARN.
    SessionManaged(usize),
}

/// A caller's policies, compiled, with their labels (same order).
struct Permissions<'s> {
    identity: Identity,
    identity_labels: Vec<Label<'s>>,
    boundary: Option<Arc<Policy>>,
    boundary_label: Option<&'s str>,
    session: Option<Vec<Arc<Policy>>>,
    session_labels: Vec<Label<'s>>,
}

impl Permissions<'_> {
    fn set(&self) -> PermissionSet<'_> {
        PermissionSet {
            identity: match &self.identity {
                Identity::Root => IdentityPolicies::Root,
                Identity::Policies(policies) => IdentityPolicies::Policies(policies),
            },
            boundary: self.boundary.as_deref(),
            session: self.session.as_deref(),
        }
    }

    fn root() -> Permissions<'static> {
        Permissions {
            identity: Identity::Root,
            identity_labels: Vec::new(),
            boundary: None,
            boundary_label: None,
            session: None,
            session_labels: Vec::new(),
        }
    }

    /// No identity policies at all (a deleted user or role).
    fn nothing() -> Permissions<'static> {
        Permissions {
            identity: Identity::Policies(Vec::new()),
            ..Permissions::root()
        }
    }
}

/// What kind of credentials, for the caller-type rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// Long-term key of a user or root.
    LongTerm,
    /// A `GetSessionToken` session (user or root).
    SessionToken,
    /// A role session.
    RoleSession,
    /// A `GetFederationToken` session.
    FederatedSession,
}

/// Rendered identity facts (ARNs and ids are rendered once per request).
struct Facts {
    account: String,
    arn: String,
    role_arn: Option<String>,
    issuer_arn: Option<String>,
    issuer_id: Option<String>,
    principal_id: Option<String>,
    user_id: String,
    provider: Option<String>,
}

/// The caller resolved against the snapshot: facts, compiled policies and
/// the entities whose tags become `aws:PrincipalTag`.
pub struct Subject<'s> {
    caller: &'s Caller,
    kind: CredentialKind,
    facts: Facts,
    permissions: Permissions<'s>,
    entity_tags: Option<&'s Tags>,
    revoked: bool,
    region: &'s str,
}

impl std::fmt::Debug for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("arn", &self.facts.arn)
            .field("kind", &self.kind)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

fn user_policies<'s>(
    cache: &PolicyCache,
    snapshot: &'s ConfigSnapshot,
    user: &'s User,
) -> Permissions<'s> {
    let capacity = user.inline_policies.len() + user.attached_policies.len();
    let mut identity = Vec::with_capacity(capacity);
    let mut labels = Vec::with_capacity(capacity);
    for (name, document) in &user.inline_policies {
        if let Some(policy) = cache.document(document, PolicyKind::UserInline) {
            identity.push(policy);
            labels.push(Label::Inline(name.as_str()));
        }
    }
    managed(
        cache,
        snapshot,
        &user.attached_policies,
        &mut identity,
        &mut labels,
    );
    let (boundary, boundary_label) =
        boundary(cache, snapshot, user.permissions_boundary.as_deref());
    Permissions {
        identity: Identity::Policies(identity),
        identity_labels: labels,
        boundary,
        boundary_label,
        session: None,
        session_labels: Vec::new(),
    }
}

fn role_policies<'s>(
    cache: &PolicyCache,
    snapshot: &'s ConfigSnapshot,
    role: &'s Role,
) -> Permissions<'s> {
    let capacity = role.inline_policies.len() + role.attached_policies.len();
    let mut identity = Vec::with_capacity(capacity);
    let mut labels = Vec::with_capacity(capacity);
    for (name, document) in &role.inline_policies {
        if let Some(policy) = cache.document(document, PolicyKind::RoleInline) {
            identity.push(policy);
            labels.push(Label::Inline(name.as_str()));
        }
    }
    managed(
        cache,
        snapshot,
        &role.attached_policies,
        &mut identity,
        &mut labels,
    );
    let (boundary, boundary_label) =
        boundary(cache, snapshot, role.permissions_boundary.as_deref());
    Permissions {
        identity: Identity::Policies(identity),
        identity_labels: labels,
        boundary,
        boundary_label,
        session: None,
        session_labels: Vec::new(),
    }
}

fn managed<'s>(
    cache: &PolicyCache,
    snapshot: &'s ConfigSnapshot,
    arns: impl IntoIterator<Item = &'s String>,
    policies: &mut Vec<Arc<Policy>>,
    labels: &mut Vec<Label<'s>>,
) {
    for arn in arns {
        if let Some(policy) = snapshot
            .managed_policy(arn)
            .and_then(|policy| policy.default_document())
            .and_then(|document| cache.document(document, PolicyKind::Managed))
        {
            policies.push(policy);
            labels.push(Label::Managed(arn.as_str()));
        }
    }
}

fn boundary<'s>(
    cache: &PolicyCache,
    snapshot: &ConfigSnapshot,
    arn: Option<&'s str>,
) -> (Option<Arc<Policy>>, Option<&'s str>) {
    let Some(arn) = arn else {
        return (None, None);
    };
    let policy = snapshot
        .managed_policy(arn)
        .and_then(|policy| policy.default_document())
        .and_then(|doc| cache.document(doc, PolicyKind::PermissionsBoundary))
        .or_else(|| ALLOWS_NOTHING.clone());
    (policy, Some(arn))
}

/// The session layer of a token: its inline policy and managed ARNs as the
/// snapshot has them now. An ARN that no longer resolves contributes nothing.
pub fn session_layer(
    cache: &PolicyCache,
    snapshot: &ConfigSnapshot,
    policy: &crate::token::SessionPolicy,
) -> Vec<Arc<Policy>> {
    let mut labels = Vec::new();
    session_layer_labeled(cache, snapshot, policy, &mut labels)
}

fn session_layer_labeled(
    cache: &PolicyCache,
    snapshot: &ConfigSnapshot,
    policy: &crate::token::SessionPolicy,
    labels: &mut Vec<Label<'_>>,
) -> Vec<Arc<Policy>> {
    let mut layer = Vec::with_capacity(1 + policy.managed_arns().len());
    if let Some(inline) = policy.inline() {
        match cache.session(inline) {
            Ok(compiled) => {
                layer.push(compiled);
                labels.push(Label::SessionInline);
            }
            Err(error) => tracing::error!(%error, "session policy in a token does not compile"),
        }
    }
    for (index, arn) in policy.managed_arns().iter().enumerate() {
        let text = arn.to_string();
        if let Some(compiled) = snapshot
            .managed_policy(&text)
            .and_then(|p| p.default_document())
            .and_then(|doc| cache.document(doc, PolicyKind::Managed))
        {
            layer.push(compiled);
            labels.push(Label::SessionManaged(index));
        }
    }
    layer
}

/// The statement that decided a request, named for a human: which kind of
/// policy, which policy (a managed policy's ARN, an inline policy's name,
/// `session` for a session's inline policy), its `Sid` and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidingStatement {
    /// The kind of policy.
    pub source: PolicySource,
    /// The policy's ARN or name.
    pub policy: String,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<String>,
    /// The statement's index in its policy.
    pub statement_index: usize,
}

/// The outcome of one authorization: an Allow (with the statement that
/// allowed, when one did) or a [`Denial`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allow {
        /// Why.
        reason: Reason,
        /// The allowing statement (`None` for the root user and for actions
        /// that are not policy-controlled).
        statement: Option<DecidingStatement>,
    },
    /// Denied.
    Deny(Box<Denial>),
}

impl Verdict {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow { .. })
    }
}

impl<'s> Subject<'s> {
    /// Resolves `caller` against `snapshot` for a request in `region`
    /// (`aws:RequestedRegion`), compiling policies through `cache`.
    pub fn resolve(
        cache: &PolicyCache,
        caller: &'s Caller,
        snapshot: &'s ConfigSnapshot,
        region: &'s str,
    ) -> Subject<'s> {
        let partition = snapshot.partition();
        let session = caller.session.as_deref();
        let account = caller.principal.account().as_str().to_owned();
        let arn = caller.principal.arn_text(partition);
        let user_id = caller.principal.user_id();
        let mut facts = Facts {
            account,
            arn,
            role_arn: None,
            issuer_arn: None,
            issuer_id: None,
            principal_id: None,
            user_id,
            provider: None,
        };
        let mut entity_tags = None;
        let mut revoked = false;
        let (kind, permissions) = match &caller.principal {
            Principal::Root(_) => {
                let kind = if session.is_some() {
                    CredentialKind::SessionToken
                } else {
                    CredentialKind::LongTerm
                };
                (kind, Permissions::root())
            }
            Principal::User(user) => {
                let kind = if session.is_some() {
                    CredentialKind::SessionToken
                } else {
                    CredentialKind::LongTerm
                };
                facts.principal_id = Some(user.user_id().as_str().to_owned());
                let permissions = match snapshot.user(user.account(), user.name()) {
                    Some(entity) if entity.user_id == user.user_id().as_str() => {
                        entity_tags = Some(&entity.tags);
                        user_policies(cache, snapshot, entity)
                    }
                    _ => Permissions::nothing(),
                };
                (kind, permissions)
            }
            Principal::AssumedRole(role) => {
                facts.role_arn = Some(role.role_arn_text(partition));
                facts.principal_id = Some(role.role_id().as_str().to_owned());
                facts.provider = role.origin().provider().map(|p| match role.origin() {
                    SessionOrigin::WebIdentity { .. } => {
                        // AWS reports the provider's host/path for OIDC.
                        p.resource()
                            .strip_prefix("oidc-provider/")
                            .unwrap_or(p.resource())
                            .to_owned()
                    }
                    _ => p.to_string(),
                });
                let mut permissions = match snapshot.role(role.account(), role.role_name()) {
                    Some(entity) if entity.role_id == role.role_id().as_str() => {
                        entity_tags = Some(&entity.tags);
                        role_policies(cache, snapshot, entity)
                    }
                    _ => Permissions::nothing(),
                };
                if let Some(session) = session {
                    if !session.policy.is_empty() {
                        permissions.session = Some(session_layer_labeled(
                            cache,
                            snapshot,
                            &session.policy,
                            &mut permissions.session_labels,
                        ));
                    }
                    revoked = snapshot
                        .role_sessions_revoked_before(role.account(), role.role_name())
                        .is_some_and(|cutoff| session.issued_at < cutoff);
                }
                (CredentialKind::RoleSession, permissions)
            }
            Principal::FederatedUser(federated) => {
                let mut permissions = match federated.parent() {
                    None => Permissions::root(),
                    Some(parent) => {
                        facts.issuer_arn = Some(parent.arn_text(partition));
                        facts.issuer_id = Some(parent.user_id().as_str().to_owned());
                        match snapshot.user(parent.account(), parent.name()) {
                            Some(entity) if entity.user_id == parent.user_id().as_str() => {
                                user_policies(cache, snapshot, entity)
                            }
                            _ => Permissions::nothing(),
                        }
                    }
                };
                if facts.issuer_arn.is_none() {
                    facts.issuer_arn =
                        Some(Arn::account_root(partition, federated.account()).to_string());
                }
                let mut labels = Vec::new();
                permissions.session = Some(
                    session
                        .map(|s| session_layer_labeled(cache, snapshot, &s.policy, &mut labels))
                        .unwrap_or_default(),
                );
                permissions.session_labels = labels;
                (CredentialKind::FederatedSession, permissions)
            }
        };
        Subject {
            caller,
            kind,
            facts,
            permissions,
            entity_tags,
            revoked,
            region,
        }
    }

    /// The caller's ARN as AWS prints it in messages (a role session's
    /// assumed-role ARN).
    pub fn arn(&self) -> &str {
        &self.facts.arn
    }

    /// The caller's account id.
    pub fn account(&self) -> &str {
        &self.facts.account
    }

    /// The kind of credentials used.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The authenticated caller.
    pub fn caller(&self) -> &'s Caller {
        self.caller
    }

    /// Whether the caller is a role session revoked by `RevokeRoleSessions`.
    pub fn revoked(&self) -> bool {
        self.revoked
    }

    /// The caller's policies for the evaluator.
    pub fn permission_set(&self) -> PermissionSet<'_> {
        self.permissions.set()
    }

    /// The caller as the policy language sees it.
    pub fn policy_caller(&self) -> PolicyCaller<'_> {
        let facts = &self.facts;
        match &self.caller.principal {
            Principal::Root(_) => PolicyCaller::Root {
                account: &facts.account,
                arn: &facts.arn,
            },
            Principal::User(_) => PolicyCaller::User {
                account: &facts.account,
                arn: &facts.arn,
                user_id: facts.principal_id.as_deref(),
            },
            Principal::AssumedRole(_) => PolicyCaller::AssumedRole {
                account: &facts.account,
                session_arn: &facts.arn,
                role_arn: facts.role_arn.as_deref().unwrap_or(""),
                role_id: facts.principal_id.as_deref(),
            },
            Principal::FederatedUser(_) => PolicyCaller::FederatedUser {
                account: &facts.account,
                arn: &facts.arn,
                issuer_arn: facts.issuer_arn.as_deref().unwrap_or(""),
                issuer_id: facts.issuer_id.as_deref(),
            },
        }
    }

    /// A request context for `action` on `resource` at `now` with every
    /// caller key filled in. Add request keys with `insert`/`request_tag`.
    pub fn context<'c>(
        &'c self,
        action: &'c str,
        resource: &'c str,
        now: Timestamp,
    ) -> RequestContext<'c> {
        let mut ctx = RequestContext::new(action, now)
            .with_resource(resource)
            .with_caller(self.policy_caller());
        if matches!(
            self.caller.principal,
            Principal::AssumedRole(_) | Principal::FederatedUser(_)
        ) {
            ctx.set_known(KnownKey::UserId, Value::String(&self.facts.user_id));
        }
        ctx.set_known(KnownKey::RequestedRegion, Value::String(self.region));
        if let Some(ip) = self.caller.source_ip {
            ctx.set_known(KnownKey::SourceIp, Value::Ip(ip));
        }
        if let Some(provider) = &self.facts.provider {
            ctx.set_known(KnownKey::FederatedProvider, Value::String(provider));
        }
        if let Some(tags) = self.entity_tags {
            for (key, value) in tags {
                ctx.principal_tag(key, value);
            }
        }
        if let Some(session) = self.caller.session.as_deref() {
            ctx.set_known(KnownKey::TokenIssueTime, Value::Date(session.issued_at));
            ctx.set_known(
                KnownKey::MultiFactorAuthPresent,
                Value::Bool(session.mfa_authenticated_at.is_some()),
            );
            if let Some(at) = session.mfa_authenticated_at {
                let age = (now.millis_since(at).max(0) / 1000) as f64;
                ctx.set_known(KnownKey::MultiFactorAuthAge, Value::Number(age));
            }
            if let Some(source) = &session.source_identity {
                ctx.set_known(KnownKey::SourceIdentity, Value::String(source));
            }
            for tag in &session.tags {
                ctx.principal_tag(&tag.key, &tag.value);
            }
            for claim in &session.provider_claims {
                ctx.insert(&claim.key, Value::String(&claim.value));
            }
        }
        ctx
    }

    /// The caller-type restriction that denies `action`, if any.
    fn restricted(&self, action: &str) -> bool {
        let (service, name) = action.split_once(':').unwrap_or(("", action));
        let allowed = match self.kind {
            CredentialKind::FederatedSession => {
                // No IAM at all; on STS only GetCallerIdentity.
                !service.eq_ignore_ascii_case("iam")
                    && (!service.eq_ignore_ascii_case("sts")
                        || name.eq_ignore_ascii_case("GetCallerIdentity"))
            }
            CredentialKind::SessionToken => {
                !service.eq_ignore_ascii_case("sts")
                    || name.eq_ignore_ascii_case("AssumeRole")
                    || name.eq_ignore_ascii_case("GetCallerIdentity")
                    || name.eq_ignore_ascii_case("GetWebIdentityToken")
            }
            CredentialKind::LongTerm | CredentialKind::RoleSession => true,
        };
        !allowed
    }

    /// Evaluates `action` on `resource` with identity-based policies, at
    /// `now`, with the request's own condition keys `keys` (a key given
    /// several times is multi-valued: `aws:TagKeys`).
    pub fn evaluate(
        &self,
        action: &str,
        resource: &str,
        keys: &[(&str, Value<'_>)],
        now: Timestamp,
    ) -> Verdict {
        if action.eq_ignore_ascii_case(GET_CALLER_IDENTITY) {
            return Verdict::Allow {
                reason: Reason::NotPolicyControlled,
                statement: None,
            };
        }
        if self.restricted(action) {
            return Verdict::Deny(self.denial(action, resource, DenyKind::Restricted));
        }
        if self.revoked {
            return Verdict::Deny(self.denial(action, resource, DenyKind::Revoked));
        }
        let mut ctx = self.context(action, resource, now);
        for (key, value) in keys {
            ctx.insert(key, *value);
        }
        let perms = self.permission_set();
        let decision = evaluate::authorize(&perms, &ctx);
        if !decision.is_allowed() {
            let mut denial = self.denial(action, resource, DenyKind::from_decision(&decision));
            denial.statement = decision.statement.map(|s| self.deciding_statement(&s));
            return Verdict::Deny(denial);
        }
        if !self.reaches(action, resource) {
            return Verdict::Deny(self.denial(
                action,
                resource,
                DenyKind::Implicit(PolicySource::Resource),
            ));
        }
        Verdict::Allow {
            reason: decision.reason,
            statement: decision.statement.map(|s| self.deciding_statement(&s)),
        }
    }

    /// [`Subject::evaluate`] as a `Result`: `Ok(())` when allowed.
    pub fn check(
        &self,
        action: &str,
        resource: &str,
        keys: &[(&str, Value<'_>)],
        now: Timestamp,
    ) -> Result<(), Box<Denial>> {
        match self.evaluate(action, resource, keys, now) {
            Verdict::Allow { .. } => Ok(()),
            Verdict::Deny(denial) => Err(denial),
        }
    }

    /// Whether an identity-allowed `action` may act on `resource` at all.
    ///
    /// Without a resource-based policy an action reaches only the caller's
    /// own account: an identity policy of account A that allows `*` on `*`
    /// (or A's root) grants nothing on account B's resources — AWS answers
    /// `AccessDenied` "… because no resource-based policy allows the X
    /// action", never "not found", so nothing about B leaks. Meridian holds
    /// resource-based policies only for STS (trust policies, checked by the
    /// STS handlers themselves), so STS actions are not restricted here. The
    /// one exception is AWS's own pseudo-account: AWS managed policies
    /// (`arn:…:iam::aws:policy/…`) are readable by everyone (`iam:Get*`/
    /// `iam:List*`) and writable by no one. `*` and ARNs without an account
    /// name no account.
    fn reaches(&self, action: &str, resource: &str) -> bool {
        let (service, name) = action.split_once(':').unwrap_or(("", action));
        if service.eq_ignore_ascii_case("sts") {
            return true;
        }
        let Ok(arn) = Arn::parse(resource) else {
            return true;
        };
        match arn.account() {
            "" => true,
            account if account == self.facts.account => true,
            crate::config::aws_managed::AWS_ACCOUNT if service.eq_ignore_ascii_case("iam") => {
                let read = |prefix: &str| {
                    name.get(..prefix.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
                };
                read("Get") || read("List")
            }
            _ => false,
        }
    }

    /// Names the statement the evaluator reported.
    fn deciding_statement(&self, statement: &StatementRef<'_>) -> DecidingStatement {
        let perms = &self.permissions;
        let label = match statement.source {
            PolicySource::Identity => perms.identity_labels.get(statement.policy_index).copied(),
            PolicySource::Session => perms.session_labels.get(statement.policy_index).copied(),
            PolicySource::PermissionsBoundary => perms.boundary_label.map(Label::Managed),
            PolicySource::Trust | PolicySource::Resource => None,
        };
        let policy = match label {
            Some(Label::Inline(name)) => name.to_owned(),
            Some(Label::Managed(arn)) => arn.to_owned(),
            Some(Label::SessionInline) => String::from("session"),
            Some(Label::SessionManaged(index)) => self
                .caller
                .session
                .as_deref()
                .and_then(|session| session.policy.managed_arns().get(index))
                .map(ToString::to_string)
                .unwrap_or_default(),
            None => String::new(),
        };
        DecidingStatement {
            source: statement.source,
            policy,
            sid: statement.sid.map(str::to_owned),
            statement_index: statement.statement_index,
        }
    }

    /// A denial of `action` on `resource` by this caller.
    pub fn denial(&self, action: &str, resource: &str, kind: DenyKind) -> Box<Denial> {
        Box::new(Denial {
            principal_arn: self.facts.arn.clone(),
            principal_id: self.facts.user_id.clone(),
            account: self.facts.account.clone(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            kind,
            statement: None,
        })
    }
}

// ---------------------------------------------------------------------------
// Denials

/// Why a request was denied, in the terms AWS's messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyKind {
    /// A `Deny` statement in a policy of this kind.
    Explicit(PolicySource),
    /// Nothing in this layer allows the action.
    Implicit(PolicySource),
    /// The role's sessions issued before a cut-off are revoked
    /// (`AWSRevokeOlderSessions`, an inline deny).
    Revoked,
    /// The kind of credentials may not call this action at all.
    Restricted,
}

impl DenyKind {
    /// From an evaluator decision that is not an Allow.
    pub fn from_decision(decision: &Decision<'_>) -> DenyKind {
        match decision.kind {
            DecisionKind::ExplicitDeny => DenyKind::Explicit(
                decision
                    .statement
                    .map_or(PolicySource::Identity, |statement| statement.source),
            ),
            _ => DenyKind::Implicit(match decision.reason {
                Reason::NoBoundaryAllows => PolicySource::PermissionsBoundary,
                Reason::NoSessionPolicyAllows => PolicySource::Session,
                Reason::NoResourcePolicyAllows => PolicySource::Trust,
                _ => PolicySource::Identity,
            }),
        }
    }

    /// Whether a statement (or a rule acting as one) denied explicitly.
    pub fn is_explicit(self) -> bool {
        matches!(self, DenyKind::Explicit(_) | DenyKind::Revoked)
    }

    /// The policy layer AWS's message names.
    pub fn layer(self) -> &'static str {
        match self {
            DenyKind::Explicit(source) | DenyKind::Implicit(source) => match source {
                PolicySource::Identity => "identity-based policy",
                PolicySource::PermissionsBoundary => "permissions boundary",
                PolicySource::Session => "session policy",
                PolicySource::Trust | PolicySource::Resource => "resource-based policy",
            },
            DenyKind::Revoked => "identity-based policy",
            DenyKind::Restricted => "session policy",
        }
    }
}

/// How the message reads: IAM (and other services) add the reason; STS's
/// AssumeRole answers without it, as AWS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStyle {
    /// `… on resource: R because no identity-based policy allows the A action`.
    Reasoned,
    /// `… on resource: R`.
    Plain,
}

/// A denied request, not yet rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    principal_arn: String,
    principal_id: String,
    account: String,
    action: String,
    resource: String,
    kind: DenyKind,
    statement: Option<DecidingStatement>,
}

impl Denial {
    /// The kind of denial.
    pub fn kind(&self) -> DenyKind {
        self.kind
    }

    /// The explicit `Deny` statement that decided, if one did.
    pub fn statement(&self) -> Option<&DecidingStatement> {
        self.statement.as_ref()
    }

    /// The denied principal's account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// AWS's message without the encoded part.
    pub fn message(&self, style: MessageStyle) -> String {
        let mut text = format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            self.principal_arn, self.action, self.resource
        );
        if style == MessageStyle::Reasoned {
            if self.kind.is_explicit() {
                let layer = self.kind.layer();
                let article = if layer.starts_with('i') { "an" } else { "a" };
                let _ = write!(text, " with an explicit deny in {article} {layer}");
            } else {
                let _ = write!(
                    text,
                    " because no {} allows the {} action",
                    self.kind.layer(),
                    self.action
                );
            }
        }
        text
    }

    /// The decision details as the JSON `DecodeAuthorizationMessage` returns.
    pub fn details_json(&self) -> String {
        let mut out = String::with_capacity(
            384 + self.principal_arn.len() + self.action.len() + self.resource.len(),
        );
        out.push_str("{\"allowed\":false,\"explicitDeny\":");
        out.push_str(if self.kind.is_explicit() {
            "true"
        } else {
            "false"
        });
        out.push_str(",\"matchedStatements\":{\"items\":[");
        if let Some(statement) = &self.statement {
            out.push_str("{\"statementId\":");
            json_string(&mut out, statement.sid.as_deref().unwrap_or(""));
            out.push_str(",\"effect\":\"DENY\",\"policy\":");
            json_string(&mut out, &statement.policy);
            let _ = write!(out, ",\"statementIndex\":{}}}", statement.statement_index);
        }
        out.push_str("]},\"failures\":{\"items\":[");
        json_string(&mut out, &self.reason_text());
        out.push_str("]},\"context\":{\"principal\":{\"id\":");
        json_string(&mut out, &self.principal_id);
        out.push_str(",\"arn\":");
        json_string(&mut out, &self.principal_arn);
        out.push_str(",\"account\":");
        json_string(&mut out, &self.account);
        out.push_str("},\"action\":");
        json_string(&mut out, &self.action);
        out.push_str(",\"resource\":");
        json_string(&mut out, &self.resource);
        out.push_str("}}");
        out
    }

    fn reason_text(&self) -> String {
        match self.kind {
            DenyKind::Revoked => String::from(
                "explicit deny: sessions of this role issued before the revocation time are revoked",
            ),
            DenyKind::Restricted => String::from(
                "these temporary credentials may not call this action (session type restriction)",
            ),
            kind if kind.is_explicit() => format!("explicit deny in policy type: {}", kind.layer()),
            kind => format!("no {} allows the action", kind.layer()),
        }
    }

    /// The decision details sealed under the KEK and base64-encoded: what
    /// follows " Encoded authorization failure message: " in AWS's answer.
    pub fn encoded_message(
        &self,
        keys: &KeyMaterial,
        random: &mut dyn RandomSource,
    ) -> Result<String, crate::keyring::KeyError> {
        let sealed = keys.seal_message(self.details_json().as_bytes(), random)?;
        Ok(BASE64.encode(sealed))
    }
}

/// Appends `text` as a JSON string literal (runs of characters that need
/// no escape are copied whole).
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut run = 0;
    for (index, byte) in text.bytes().enumerate() {
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            continue;
        }
        // Every escaped byte is ASCII, so `index` is a character boundary.
        out.push_str(&text[run..index]);
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                let _ = write!(out, "\\u{control:04x}");
            }
        }
        run = index + 1;
    }
    out.push_str(&text[run..]);
    out.push('"');
}

/// Decodes an encoded authorization message: the JSON details and the
/// account of the denied principal. `None` when it is not one of ours.
pub fn decode_message(keys: &KeyMaterial, encoded: &str) -> Option<(String, String)> {
    let sealed = BASE64.decode(encoded.trim()).ok()?;
    let opened = keys.open_message(&sealed).ok()?;
    let json = String::from_utf8(opened.to_vec()).ok()?;
    let account = json
        .split("\"account\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())?
        .to_owned();
    Some((json, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(kind: DenyKind) -> Denial {
        Denial {
            principal_arn: "arn:aws:iam::123456789012:user/bob".into(),
            principal_id: "AIDAEXAMPLE".into(),
            account: "123456789012".into(),
            action: "iam:CreateRole".into(),
            resource: "arn:aws:iam::123456789012:role/x".into(),
            kind,
            statement: None,
        }
    }

    #[test]
    fn messages_follow_aws_forms() {
        let cases = [
            (
                DenyKind::Implicit(PolicySource::Identity),
                " because no identity-based policy allows the iam:CreateRole action",
            ),
            (
                DenyKind::Implicit(PolicySource::PermissionsBoundary),
                " because no permissions boundary allows the iam:CreateRole action",
            ),
            (
                DenyKind::Implicit(PolicySource::Session),
                " because no session policy allows the iam:CreateRole action",
            ),
            (
                DenyKind::Explicit(PolicySource::Identity),
                " with an explicit deny in an identity-based policy",
            ),
            (
                DenyKind::Explicit(PolicySource::Session),
                " with an explicit deny in a session policy",
            ),
            (
                DenyKind::Revoked,
                " with an explicit deny in an identity-based policy",
            ),
        ];
        for (kind, suffix) in cases {
            let base = "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
                        iam:CreateRole on resource: arn:aws:iam::123456789012:role/x";
            let d = denial(kind);
            assert_eq!(d.message(MessageStyle::Reasoned), format!("{base}{suffix}"));
            assert_eq!(d.message(MessageStyle::Plain), base);
        }
    }

    #[test]
    fn details_are_json_with_escapes() {
        let mut d = denial(DenyKind::Implicit(PolicySource::Identity));
        d.resource = "arn:\"x\"\n".into();
        let json = d.details_json();
        assert!(json.contains("\"resource\":\"arn:\\\"x\\\"\\n\""), "{json}");
        assert!(json.starts_with("{\"allowed\":false,\"explicitDeny\":false"));
        assert!(json.contains("\"account\":\"123456789012\""));
        assert!(json.contains("\"matchedStatements\":{\"items\":[]}"));
        let parsed: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(parsed["context"]["action"], "iam:CreateRole");
    }

    #[test]
    fn details_name_the_denying_statement() {
        let mut d = denial(DenyKind::Explicit(PolicySource::Identity));
        d.statement = Some(DecidingStatement {
            source: PolicySource::Identity,
            policy: "arn:aws:iam::123456789012:policy/Guard".into(),
            sid: Some("NoRoles".into()),
            statement_index: 2,
        });
        let json = d.details_json();
        let parsed: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let item = &parsed["matchedStatements"]["items"][0];
        assert_eq!(item["statementId"], "NoRoles");
        assert_eq!(item["policy"], "arn:aws:iam::123456789012:policy/Guard");
        assert_eq!(item["statementIndex"], 2);
        assert_eq!(parsed["explicitDeny"], true);
    }

    #[test]
    fn encoded_messages_decode_with_the_same_kek_only() {
        let kek = |byte: u8| {
            KeyMaterial::new(
                crate::keyring::Kek::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}")),
            )
        };
        let keys = kek(3);
        let mut random = crate::rand::DeterministicRandom::from_seed(5);
        let d = denial(DenyKind::Implicit(PolicySource::Identity));
        let encoded = d
            .encoded_message(&keys, &mut random)
            .unwrap_or_else(|e| panic!("{e}"));
        let (json, account) = decode_message(&keys, &encoded).unwrap_or_default();
        assert_eq!(json, d.details_json());
        assert_eq!(account, "123456789012");
        assert_eq!(decode_message(&kek(4), &encoded), None);
        assert_eq!(decode_message(&keys, "not base64!"), None);
    }

    #[test]
    fn json_strings_are_escaped_as_json_parsers_expect() {
        for text in [
            "",
            "plain arn:aws:iam::123456789012:role/x",
            "quote \" backslash \\ end",
            "\"leading and trailing\\",
            "lines\nand\r\ttabs",
            "controls \u{0} \u{1f} \u{7f}",
            "unicode é ✓ 🦀 \"mixed\"",
        ] {
            let mut out = String::new();
            json_string(&mut out, text);
            let parsed: String = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{out:?} is not a JSON string: {e}"));
            assert_eq!(parsed, text);
            assert!(!out[1..out.len() - 1].bytes().any(|b| b < 0x20));
        }
    }
}
