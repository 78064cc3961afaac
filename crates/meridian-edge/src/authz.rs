//! Authorization of API calls: may this caller perform `service:Action` on
//! this resource?
//!
//! Every STS and IAM handler calls [`authorize`] (or [`authorize_with`] when
//! the request carries condition keys of its own: `aws:RequestTag/…`,
//! `aws:TagKeys`, `iam:PermissionsBoundary`, …) before touching anything:
//!
//! ```text
//! authz::authorize(&request, "iam:CreateRole", &role_arn)?;
//! let account = authz::caller_account(&request)?;
//! ```
//!
//! Evaluation is `meridian_core::policy` over the caller's policies as the
//! request's snapshot has them:
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
//! * an IAM action reaches only the caller's own account (IAM has no
//!   resource-based policies): on another account's ARN it is
//!   `AccessDenied` "… because no resource-based policy allows …" whatever
//!   the caller's policies say; AWS managed policies
//!   (`arn:…:iam::aws:policy/…`) are readable (`Get*`/`List*`) by everyone;
//! * sessions of a role revoked with `RevokeRoleSessions` (issued before the
//!   cut-off) are denied as by AWS's `AWSRevokeOlderSessions` inline policy:
//!   an *explicit deny in an identity-based policy*;
//! * a federated-user session may call no IAM action and, on STS, only
//!   `GetCallerIdentity`; a `GetSessionToken` session may call only
//!   `AssumeRole` and `GetCallerIdentity` on STS (its IAM calls without MFA
//!   never get here: authentication refuses them, STS-API.md §3.3).
//!
//! The request context carries the caller's principal facts (`aws:PrincipalArn`,
//! `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`, `aws:username`),
//! `aws:PrincipalTag/…` (entity tags overridden by session tags),
//! `aws:TokenIssueTime`, `aws:MultiFactorAuthPresent`/`Age`,
//! `aws:SourceIdentity`, `aws:FederatedProvider`, `aws:SourceIp`,
//! `aws:RequestedRegion` and the current time.
//!
//! A denial is `AccessDenied` (403) with AWS's message form
//! (`User: arn:… is not authorized to perform: iam:CreateRole on resource:
//! arn:… because no identity-based policy allows the iam:CreateRole action`),
//! followed by ` Encoded authorization failure message: …` — the decision
//! details (which layer, which statement, the principal, action and resource)
//! as JSON sealed under the cluster KEK and base64-encoded, which
//! `sts:DecodeAuthorizationMessage` decodes for callers of the same account
//! that are allowed to.
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
use meridian_core::arn::Arn;
use meridian_core::config::model::{PolicyDocument, Role, Tags, User};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::ids::AccountId;
use meridian_core::policy::compile::Policy;
use meridian_core::policy::context::{Caller as PolicyCaller, RequestContext};
use meridian_core::policy::errors::PolicyError;
use meridian_core::policy::evaluate::{
    self, Decision, DecisionKind, IdentityPolicies, PermissionSet, PolicySource, Reason,
};
use meridian_core::policy::keys::KnownKey;
use meridian_core::policy::kind::PolicyKind;
use meridian_core::principal::{Principal, SessionOrigin};
use meridian_core::time::Timestamp;

pub use meridian_core::policy::context::Value as ContextValue;

use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::state::{Caller, EdgeState};

/// The action that is never denied.
const GET_CALLER_IDENTITY: &str = "sts:GetCallerIdentity";

/// What AWS prefixes the encoded message with (EC2's wording).
pub const ENCODED_MESSAGE_PREFIX: &str = " Encoded authorization failure message: ";

/// Most compiled documents kept; beyond it, entries whose document is no
/// longer in any snapshot are dropped, then everything if still full.
const MAX_CACHED_DOCUMENTS: usize = 65_536;
/// Most compiled session policies kept (by text).
const MAX_CACHED_SESSION_POLICIES: usize = 4_096;

// ---------------------------------------------------------------------------
// Public API for handlers

/// Authorizes `action` (`iam:CreateRole`) on `resource` (an ARN, or `*`) for
/// the request's caller. `Ok(())` when allowed; `AccessDenied` otherwise.
pub fn authorize(request: &OperationRequest, action: &str, resource: &str) -> Result<(), ApiError> {
    authorize_with(request, action, resource, &[])
}

/// [`authorize`] with extra condition keys from the request (a key given
/// several times is multi-valued: `aws:TagKeys`).
pub fn authorize_with(
    request: &OperationRequest,
    action: &str,
    resource: &str,
    keys: &[(&str, ContextValue<'_>)],
) -> Result<(), ApiError> {
    if action.eq_ignore_ascii_case(GET_CALLER_IDENTITY) {
        return Ok(());
    }
    let caller = caller(request)?;
    let subject = Subject::resolve(
        &request.state,
        caller,
        &request.snapshot,
        request.state.region(),
    );
    match subject.check(action, resource, keys, request.now) {
        Ok(()) => Ok(()),
        Err(denial) => Err(denial.into_error(&request.state, MessageStyle::Reasoned)),
    }
}

/// The authenticated caller; `AccessDenied` for unsigned operations (which
/// have none).
pub fn caller(request: &OperationRequest) -> Result<&Caller, ApiError> {
    request.caller.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::AccessDenied,
            "This operation requires a signed request",
        )
    })
}

/// The account the caller acts in (a role session's is the role's account).
pub fn caller_account(request: &OperationRequest) -> Result<AccountId, ApiError> {
    caller(request).map(|caller| *caller.principal.account())
}

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

/// A caller's policies, compiled.
struct Permissions {
    identity: Identity,
    boundary: Option<Arc<Policy>>,
    session: Option<Vec<Arc<Policy>>>,
}

impl Permissions {
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
    permissions: Permissions,
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

fn user_policies(cache: &PolicyCache, snapshot: &ConfigSnapshot, user: &User) -> Permissions {
    let mut identity =
        Vec::with_capacity(user.inline_policies.len() + user.attached_policies.len());
    identity.extend(
        user.inline_policies
            .values()
            .filter_map(|doc| cache.document(doc, PolicyKind::UserInline)),
    );
    identity.extend(managed(
        cache,
        snapshot,
        user.attached_policies.iter(),
        PolicyKind::Managed,
    ));
    Permissions {
        identity: Identity::Policies(identity),
        boundary: boundary(cache, snapshot, user.permissions_boundary.as_deref()),
        session: None,
    }
}

fn role_policies(cache: &PolicyCache, snapshot: &ConfigSnapshot, role: &Role) -> Permissions {
    let mut identity =
        Vec::with_capacity(role.inline_policies.len() + role.attached_policies.len());
    identity.extend(
        role.inline_policies
            .values()
            .filter_map(|doc| cache.document(doc, PolicyKind::RoleInline)),
    );
    identity.extend(managed(
        cache,
        snapshot,
        role.attached_policies.iter(),
        PolicyKind::Managed,
    ));
    Permissions {
        identity: Identity::Policies(identity),
        boundary: boundary(cache, snapshot, role.permissions_boundary.as_deref()),
        session: None,
    }
}

fn managed<'a>(
    cache: &'a PolicyCache,
    snapshot: &'a ConfigSnapshot,
    arns: impl Iterator<Item = &'a String> + 'a,
    kind: PolicyKind,
) -> impl Iterator<Item = Arc<Policy>> + 'a {
    arns.filter_map(move |arn| {
        let policy = snapshot.managed_policy(arn)?;
        cache.document(policy.default_document()?, kind)
    })
}

fn boundary(
    cache: &PolicyCache,
    snapshot: &ConfigSnapshot,
    arn: Option<&str>,
) -> Option<Arc<Policy>> {
    let arn = arn?;
    snapshot
        .managed_policy(arn)
        .and_then(|policy| policy.default_document())
        .and_then(|doc| cache.document(doc, PolicyKind::PermissionsBoundary))
        .or_else(|| ALLOWS_NOTHING.clone())
}

/// No identity policies at all (a deleted user or role).
fn nothing() -> Permissions {
    Permissions {
        identity: Identity::Policies(Vec::new()),
        boundary: None,
        session: None,
    }
}

/// The session layer of a token: its inline policy and managed ARNs as the
/// snapshot has them now. An ARN that no longer resolves contributes nothing.
pub fn session_layer(
    cache: &PolicyCache,
    snapshot: &ConfigSnapshot,
    policy: &meridian_core::token::SessionPolicy,
) -> Vec<Arc<Policy>> {
    let mut layer = Vec::with_capacity(1 + policy.managed_arns().len());
    if let Some(inline) = policy.inline() {
        match cache.session(inline) {
            Ok(compiled) => layer.push(compiled),
            Err(error) => tracing::error!(%error, "session policy in a token does not compile"),
        }
    }
    for arn in policy.managed_arns() {
        let text = arn.to_string();
        if let Some(compiled) = snapshot
            .managed_policy(&text)
            .and_then(|p| p.default_document())
            .and_then(|doc| cache.document(doc, PolicyKind::Managed))
        {
            layer.push(compiled);
        }
    }
    layer
}

impl<'s> Subject<'s> {
    /// Resolves `caller` against `snapshot` in a node of `region`.
    pub fn resolve(
        state: &EdgeState,
        caller: &'s Caller,
        snapshot: &'s ConfigSnapshot,
        region: &'s str,
    ) -> Subject<'s> {
        let cache = state.policies();
        let partition = snapshot.partition();
        let session = caller.session.as_deref();
        let account = caller.principal.account().as_str().to_owned();
        let arn = caller.principal.arn(partition).to_string();
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
                let permissions = Permissions {
                    identity: Identity::Root,
                    boundary: None,
                    session: None,
                };
                (kind, permissions)
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
                    _ => nothing(),
                };
                (kind, permissions)
            }
            Principal::AssumedRole(role) => {
                facts.role_arn = Some(role.role_arn(partition).to_string());
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
                    _ => nothing(),
                };
                if let Some(session) = session {
                    if !session.policy.is_empty() {
                        permissions.session = Some(session_layer(cache, snapshot, &session.policy));
                    }
                    revoked = snapshot
                        .role_sessions_revoked_before(role.account(), role.role_name())
                        .is_some_and(|cutoff| session.issued_at < cutoff);
                }
                (CredentialKind::RoleSession, permissions)
            }
            Principal::FederatedUser(federated) => {
                let mut permissions = match federated.parent() {
                    None => Permissions {
                        identity: Identity::Root,
                        boundary: None,
                        session: None,
                    },
                    Some(parent) => {
                        facts.issuer_arn = Some(parent.arn(partition).to_string());
                        facts.issuer_id = Some(parent.user_id().as_str().to_owned());
                        match snapshot.user(parent.account(), parent.name()) {
                            Some(entity) if entity.user_id == parent.user_id().as_str() => {
                                user_policies(cache, snapshot, entity)
                            }
                            _ => nothing(),
                        }
                    }
                };
                if facts.issuer_arn.is_none() {
                    facts.issuer_arn =
                        Some(Arn::account_root(partition, federated.account()).to_string());
                }
                permissions.session = Some(
                    session
                        .map(|s| session_layer(cache, snapshot, &s.policy))
                        .unwrap_or_default(),
                );
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
            ctx.set_known(KnownKey::UserId, ContextValue::String(&self.facts.user_id));
        }
        ctx.set_known(KnownKey::RequestedRegion, ContextValue::String(self.region));
        if let Some(ip) = self.caller.source_ip {
            ctx.set_known(KnownKey::SourceIp, ContextValue::Ip(ip));
        }
        if let Some(provider) = &self.facts.provider {
            ctx.set_known(KnownKey::FederatedProvider, ContextValue::String(provider));
        }
        if let Some(tags) = self.entity_tags {
            for (key, value) in tags {
                ctx.principal_tag(key, value);
            }
        }
        if let Some(session) = self.caller.session.as_deref() {
            ctx.set_known(
                KnownKey::TokenIssueTime,
                ContextValue::Date(session.issued_at),
            );
            ctx.set_known(
                KnownKey::MultiFactorAuthPresent,
                ContextValue::Bool(session.mfa_authenticated_at.is_some()),
            );
            if let Some(at) = session.mfa_authenticated_at {
                let age = (now.millis_since(at).max(0) / 1000) as f64;
                ctx.set_known(KnownKey::MultiFactorAuthAge, ContextValue::Number(age));
            }
            if let Some(source) = &session.source_identity {
                ctx.set_known(KnownKey::SourceIdentity, ContextValue::String(source));
            }
            for tag in &session.tags {
                ctx.principal_tag(&tag.key, &tag.value);
            }
            for claim in &session.provider_claims {
                ctx.insert(&claim.key, ContextValue::String(&claim.value));
            }
        }
        ctx
    }

    /// The caller-type restriction that denies `action`, if any.
    fn restriction(&self, action: &str) -> Option<Box<Denial>> {
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
        (!allowed).then(|| self.denial(action, "", DenyKind::Restricted))
    }

    /// Evaluates `action` on `resource` with identity-based policies.
    pub fn check(
        &self,
        action: &str,
        resource: &str,
        keys: &[(&str, ContextValue<'_>)],
        now: Timestamp,
    ) -> Result<(), Box<Denial>> {
        if action.eq_ignore_ascii_case(GET_CALLER_IDENTITY) {
            return Ok(());
        }
        if let Some(denial) = self.restriction(action) {
            return Err(Box::new((*denial).with_resource(resource)));
        }
        if self.revoked {
            return Err(self.denial(action, resource, DenyKind::Revoked));
        }
        let mut ctx = self.context(action, resource, now);
        for (key, value) in keys {
            ctx.insert(key, *value);
        }
        let perms = self.permission_set();
        let decision = evaluate::authorize(&perms, &ctx);
        if !decision.is_allowed() {
            return Err(self.denial(action, resource, DenyKind::from_decision(&decision)));
        }
        if !self.reaches(action, resource) {
            return Err(self.denial(action, resource, DenyKind::Implicit(PolicySource::Resource)));
        }
        Ok(())
    }

    /// Whether an identity-allowed `action` may act on `resource` at all.
    ///
    /// IAM has no resource-based policies, so an IAM action reaches only the
    /// caller's own account: an identity policy of account A that allows
    /// `iam:*` on `*` (or A's root) grants nothing on account B's users,
    /// roles, policies or providers — AWS answers `AccessDenied` "… because
    /// no resource-based policy allows the iam:X action", never
    /// `NoSuchEntity`, so nothing about B leaks. The one exception is AWS's
    /// own pseudo-account: AWS managed policies (`arn:…:iam::aws:policy/…`)
    /// are readable by everyone (`iam:Get*`/`iam:List*`) and writable by
    /// no one. STS actions have their own cross-account rules (trust
    /// policies) and are not restricted here; `*` and ARNs without an
    /// account name no account.
    fn reaches(&self, action: &str, resource: &str) -> bool {
        let (service, name) = action.split_once(':').unwrap_or(("", action));
        if !service.eq_ignore_ascii_case("iam") {
            return true;
        }
        let Ok(arn) = Arn::parse(resource) else {
            return true;
        };
        match arn.account() {
            "" => true,
            account if account == self.facts.account => true,
            meridian_core::config::aws_managed::AWS_ACCOUNT => {
                let read = |prefix: &str| {
                    name.get(..prefix.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
                };
                read("Get") || read("List")
            }
            _ => false,
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

    fn explicit(self) -> bool {
        matches!(self, DenyKind::Explicit(_) | DenyKind::Revoked)
    }

    fn layer(self) -> &'static str {
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
}

impl Denial {
    fn with_resource(mut self, resource: &str) -> Denial {
        resource.clone_into(&mut self.resource);
        self
    }

    /// The kind of denial.
    pub fn kind(&self) -> DenyKind {
        self.kind
    }

    /// AWS's message without the encoded part.
    pub fn message(&self, style: MessageStyle) -> String {
        let mut text = format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            self.principal_arn, self.action, self.resource
        );
        if style == MessageStyle::Reasoned {
            if self.kind.explicit() {
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
        let mut out = String::with_capacity(256);
        out.push_str("{\"allowed\":false,\"explicitDeny\":");
        out.push_str(if self.kind.explicit() {
            "true"
        } else {
            "false"
        });
        out.push_str(",\"matchedStatements\":{\"items\":[]},\"failures\":{\"items\":[");
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
            kind if kind.explicit() => format!("explicit deny in policy type: {}", kind.layer()),
            kind => format!("no {} allows the action", kind.layer()),
        }
    }

    /// `AccessDenied` with AWS's message, then the encoded details (sealed
    /// under the KEK; left out, and logged, if sealing fails).
    pub fn into_error(&self, state: &EdgeState, style: MessageStyle) -> ApiError {
        let mut message = self.message(style);
        match state
            .keys()
            .seal_message(self.details_json().as_bytes(), state.random())
        {
            Ok(sealed) => {
                message.push_str(ENCODED_MESSAGE_PREFIX);
                BASE64.encode_string(&sealed, &mut message);
            }
            Err(error) => tracing::error!(%error, "authorization message could not be sealed"),
        }
        ApiError::new(ErrorCode::AccessDenied, message)
    }
}

/// Appends `text` as a JSON string literal.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes an encoded authorization message: the JSON details and the
/// account of the denied principal. `None` when it is not one of ours.
pub fn decode_message(state: &EdgeState, encoded: &str) -> Option<(String, String)> {
    let sealed = BASE64.decode(encoded.trim()).ok()?;
    let opened = state.keys().open_message(&sealed).ok()?;
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
    }
}
