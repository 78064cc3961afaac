//! Evaluation: from compiled policies and a request context to a
//! [`Decision`] — Allow, explicit Deny or implicit Deny — saying which
//! statement decided and why. A deny is a value, never an `Err`.
//!
//! Identity-based authorization ([`authorize`]), as AWS documents it for a
//! request within one account:
//!
//! ```text
//!  action is sts:GetCallerIdentity / sts:GetSessionToken ──► Allow (not policy-controlled)
//!  caller is the account root ─────────────────────────────► Allow (root)
//!  any applicable Deny in identity, boundary or session ───► explicit Deny
//!  no Allow in the identity policies ──────────────────────► implicit Deny
//!  boundary set and no Allow in it ────────────────────────► implicit Deny
//!  session policies passed and no Allow in any of them ────► implicit Deny
//!  otherwise ──────────────────────────────────────────────► Allow
//! ```
//!
//! With a resource-based policy ([`authorize_assume_role`] for role trust
//! policies, [`authorize_resource_access`] for others), the resource policy's
//! statements must also name the caller in `Principal`, and how they name it
//! decides what else is needed:
//!
//! ```text
//!  any applicable Deny in the resource policy or the caller's policies ──► explicit Deny
//!  caller not an AWS principal (web identity, SAML, service, anonymous):
//!      resource policy Allow ─► Allow, else implicit Deny
//!  cross-account (caller account ≠ resource account):
//!      resource policy Allow AND identity∩boundary∩session Allow ─► Allow
//!  same account, resource policy Allow naming …
//!      the session, the user, or "*"        ─► Allow  (no implicit deny applies)
//!      the role / the federating user       ─► Allow if boundary and session policy allow
//!      the account (id or :root)            ─► Allow if identity∩boundary∩session allow
//!  same account, no resource policy Allow:
//!      trust policy  ─► implicit Deny (a role must be trusted explicitly)
//!      other policy  ─► Allow if identity∩boundary∩session allow
//! ```
//!
//! Within one policy type any Allow suffices (inline and managed identity
//! policies together; the inline and managed session policies together).
//! A federated-user session always has a session layer: pass
//! `session: Some(&[])` when `GetFederationToken` got no policy, which leaves
//! it with no permissions, as in AWS.
//!
//! Scanning stops at the first applicable Deny; after the first Allow of a
//! layer, further Allow statements are skipped. Nothing here allocates.

use std::sync::Arc;

use crate::policy::compile::{Effect, Policy};
use crate::policy::context::{Caller, RequestContext};
use crate::policy::principals::PrincipalMatch;

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// The request is allowed.
    Allow,
    /// A statement with `"Effect": "Deny"` applies.
    ExplicitDeny,
    /// Nothing that would be needed allows the request.
    ImplicitDeny,
}

/// Which kind of policy a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// The principal's identity policies (inline and managed).
    Identity,
    /// The principal's permissions boundary.
    PermissionsBoundary,
    /// The session's policies.
    Session,
    /// A role's trust policy.
    Trust,
    /// Another resource-based policy.
    Resource,
}

/// Why the decision is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The action cannot be controlled by policy (`sts:GetCallerIdentity`,
    /// `sts:GetSessionToken`).
    NotPolicyControlled,
    /// The caller is the account's root user.
    RootUser,
    /// A `Deny` statement applies (see [`Decision::statement`]).
    ExplicitDeny,
    /// An identity policy allows and nothing limits it.
    IdentityPolicyAllows,
    /// The resource (or trust) policy allows the caller.
    ResourcePolicyAllows,
    /// No identity policy allows the request.
    NoIdentityPolicyAllows,
    /// The permissions boundary does not allow the request.
    NoBoundaryAllows,
    /// No session policy allows the request.
    NoSessionPolicyAllows,
    /// The resource (or trust) policy does not allow this caller.
    NoResourcePolicyAllows,
}

impl Reason {
    /// A short description for audit logs.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::NotPolicyControlled => "action is not controlled by policy",
            Reason::RootUser => "caller is the account root user",
            Reason::ExplicitDeny => "explicit deny",
            Reason::IdentityPolicyAllows => "allowed by an identity-based policy",
            Reason::ResourcePolicyAllows => "allowed by the resource-based policy",
            Reason::NoIdentityPolicyAllows => "no identity-based policy allows the action",
            Reason::NoBoundaryAllows => "the permissions boundary does not allow the action",
            Reason::NoSessionPolicyAllows => "no session policy allows the action",
            Reason::NoResourcePolicyAllows => "the resource-based policy does not allow the caller",
        }
    }
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementRef<'p> {
    /// The kind of policy it is in.
    pub source: PolicySource,
    /// The index of the policy in the slice it was passed in (0 for a
    /// boundary, trust or resource policy).
    pub policy_index: usize,
    /// The index of the statement in its policy.
    pub statement_index: usize,
    /// The statement's `Sid`.
    pub sid: Option<&'p str>,
    /// For resource-based policies: how the statement named the caller.
    pub principal_match: Option<PrincipalMatch>,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'p> {
    /// Allow, explicit Deny, or implicit Deny.
    pub kind: DecisionKind,
    /// Why.
    pub reason: Reason,
    /// The statement that decided: the denying statement, or the allowing
    /// resource/identity statement. `None` for implicit denies and for
    /// decisions that need no statement (root, not policy-controlled).
    pub statement: Option<StatementRef<'p>>,
    /// When a resource policy decided an Allow that also needed the caller's
    /// identity policies, the identity statement that allowed.
    pub identity_statement: Option<StatementRef<'p>>,
    /// Whether the caller and the resource are in different accounts.
    pub cross_account: bool,
}

impl Decision<'_> {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allow
    }

    fn allow(reason: Reason) -> Decision<'static> {
        Decision {
            kind: DecisionKind::Allow,
            reason,
            statement: None,
            identity_statement: None,
            cross_account: false,
        }
    }
}

/// The identity side of a principal's permissions.
#[derive(Debug, Clone, Copy)]
pub enum IdentityPolicies<'p> {
    /// Everything is allowed: the account root, and sessions derived from it
    /// (a `GetFederationToken` session of the root user).
    Root,
    /// The inline and managed identity policies of the user or role.
    Policies(&'p [Arc<Policy>]),
}

/// The policies that bound what a principal may do.
#[derive(Debug, Clone, Copy)]
pub struct PermissionSet<'p> {
    /// Identity-based policies.
    pub identity: IdentityPolicies<'p>,
    /// The permissions boundary of the user or role, if one is set.
    pub boundary: Option<&'p Policy>,
    /// The session policies: `None` when the principal is not a session or
    /// the session was created without any (a role session then keeps the
    /// role's permissions); `Some` when they were passed — `Some(&[])` for a
    /// `GetFederationToken` session without a policy, which has none.
    pub session: Option<&'p [Arc<Policy>]>,
}

impl<'p> PermissionSet<'p> {
    /// Identity policies only: no boundary, not a session.
    pub fn identity(policies: &'p [Arc<Policy>]) -> PermissionSet<'p> {
        PermissionSet {
            identity: IdentityPolicies::Policies(policies),
            boundary: None,
            session: None,
        }
    }
}

/// Actions AWS never denies: authentication operations.
const NOT_POLICY_CONTROLLED: &[&str] = &["sts:GetCallerIdentity", "sts:GetSessionToken"];

fn is_policy_controlled(action: &str) -> bool {
    !NOT_POLICY_CONTROLLED
        .iter()
        .any(|exempt| exempt.eq_ignore_ascii_case(action))
}

#[derive(Default)]
struct LayerScan<'p> {
    deny: Option<StatementRef<'p>>,
    allow: Option<StatementRef<'p>>,
}

/// Scans identity-style policies (no principal element) of one layer.
fn scan_layer<'p>(
    policies: impl Iterator<Item = &'p Policy>,
    source: PolicySource,
    ctx: &RequestContext<'_>,
) -> LayerScan<'p> {
    let mut scan = LayerScan::default();
    for (policy_index, policy) in policies.enumerate() {
        for (statement_index, statement) in policy.statements().iter().enumerate() {
            if statement.effect == Effect::Allow && scan.allow.is_some() {
                continue;
            }
            if !statement.applies(ctx) {
                continue;
            }
            let found = StatementRef {
                source,
                policy_index,
                statement_index,
                sid: statement.sid.as_deref(),
                principal_match: None,
            };
            match statement.effect {
                Effect::Deny => {
                    scan.deny = Some(found);
                    return scan;
                }
                Effect::Allow => scan.allow = Some(found),
            }
        }
    }
    scan
}

/// Scans a resource-based policy: statements must name the caller; the Allow
/// kept is the one that names the caller most directly.
fn scan_resource_policy<'p>(
    policy: &'p Policy,
    source: PolicySource,
    ctx: &RequestContext<'_>,
) -> LayerScan<'p> {
    let caller = ctx.caller();
    let mut scan = LayerScan::default();
    for (statement_index, statement) in policy.statements().iter().enumerate() {
        let best_so_far = scan
            .allow
            .and_then(|allow| allow.principal_match)
            .map_or(0, PrincipalMatch::strength);
        if statement.effect == Effect::Allow && best_so_far == 3 {
            continue;
        }
        let Some(Some(named)) = statement.principal_match(&caller) else {
            continue;
        };
        if statement.effect == Effect::Allow && named.strength() <= best_so_far {
            continue;
        }
        if !statement.applies(ctx) {
            continue;
        }
        let found = StatementRef {
            source,
            policy_index: 0,
            statement_index,
            sid: statement.sid.as_deref(),
            principal_match: Some(named),
        };
        match statement.effect {
            Effect::Deny => {
                scan.deny = Some(found);
                return scan;
            }
            Effect::Allow => scan.allow = Some(found),
        }
    }
    scan
}

/// What the caller's own policies say.
struct IdentitySide<'p> {
    deny: Option<StatementRef<'p>>,
    /// The caller is the account root: nothing of its own limits it.
    caller_root: bool,
    /// The identity layer allows everything (sessions derived from root).
    identity_all: bool,
    identity_allow: Option<StatementRef<'p>>,
    boundary_ok: bool,
    session_ok: bool,
}

impl<'p> IdentitySide<'p> {
    fn evaluate(perms: Option<&PermissionSet<'p>>, ctx: &RequestContext<'_>) -> IdentitySide<'p> {
        let mut side = IdentitySide {
            deny: None,
            caller_root: matches!(ctx.caller(), Caller::Root { .. }),
            identity_all: false,
            identity_allow: None,
            boundary_ok: true,
            session_ok: true,
        };
        if side.caller_root {
            return side;
        }
        let Some(perms) = perms else {
            return side;
        };
        match perms.identity {
            IdentityPolicies::Root => side.identity_all = true,
            IdentityPolicies::Policies(policies) => {
                let scan = scan_layer(policies.iter().map(|p| &**p), PolicySource::Identity, ctx);
                if scan.deny.is_some() {
                    side.deny = scan.deny;
                    return side;
                }
                side.identity_allow = scan.allow;
            }
        }
        if let Some(boundary) = perms.boundary {
            let scan = scan_layer(
                std::iter::once(boundary),
                PolicySource::PermissionsBoundary,
                ctx,
            );
            if scan.deny.is_some() {
                side.deny = scan.deny;
                return side;
            }
            side.boundary_ok = scan.allow.is_some();
        }
        if let Some(session) = perms.session {
            let scan = scan_layer(session.iter().map(|p| &**p), PolicySource::Session, ctx);
            if scan.deny.is_some() {
                side.deny = scan.deny;
                return side;
            }
            side.session_ok = scan.allow.is_some();
        }
        side
    }

    /// identity ∩ boundary ∩ session: the allowing identity statement
    /// (`None` when the identity layer is the root's), or why not.
    fn full(&self) -> Result<Option<StatementRef<'p>>, Reason> {
        if self.caller_root {
            return Ok(None);
        }
        if self.identity_allow.is_none() && !self.identity_all {
            return Err(Reason::NoIdentityPolicyAllows);
        }
        self.limits()?;
        Ok(self.identity_allow)
    }

    /// boundary ∩ session only (a grant naming the role or federating user).
    fn limits(&self) -> Result<(), Reason> {
        if self.caller_root {
            Ok(())
        } else if !self.boundary_ok {
            Err(Reason::NoBoundaryAllows)
        } else if !self.session_ok {
            Err(Reason::NoSessionPolicyAllows)
        } else {
            Ok(())
        }
    }
}

fn explicit_deny(statement: StatementRef<'_>, cross_account: bool) -> Decision<'_> {
    Decision {
        kind: DecisionKind::ExplicitDeny,
        reason: Reason::ExplicitDeny,
        statement: Some(statement),
        identity_statement: None,
        cross_account,
    }
}

fn implicit_deny(reason: Reason, cross_account: bool) -> Decision<'static> {
    Decision {
        kind: DecisionKind::ImplicitDeny,
        reason,
        statement: None,
        identity_statement: None,
        cross_account,
    }
}

/// Identity-based authorization of a request made by a principal whose
/// policies are `perms`.
pub fn authorize<'p>(perms: &PermissionSet<'p>, ctx: &RequestContext<'_>) -> Decision<'p> {
    if !is_policy_controlled(ctx.action()) {
        return Decision::allow(Reason::NotPolicyControlled);
    }
    let side = IdentitySide::evaluate(Some(perms), ctx);
    if let Some(deny) = side.deny {
        return explicit_deny(deny, false);
    }
    match side.full() {
        Ok(None) => Decision::allow(Reason::RootUser),
        Ok(Some(allow)) => Decision {
            statement: Some(allow),
            ..Decision::allow(Reason::IdentityPolicyAllows)
        },
        Err(reason) => implicit_deny(reason, false),
    }
}

/// `AssumeRole*` authorization: the role's trust policy combined with the
/// caller's own policies (`None` for callers that have none: web identity
/// and SAML callers, or an AWS principal whose policies the caller chose not
/// to load, which then only passes a same-account grant naming it directly).
/// AWS refuses `AssumeRole` with root credentials before reading any policy;
/// that check belongs to the caller, as do the session-duration and chaining
/// rules.
///
/// `ctx` carries the action (`sts:AssumeRole`, `sts:AssumeRoleWithSAML`,
/// `sts:AssumeRoleWithWebIdentity`, `sts:TagSession`, `sts:SetSourceIdentity`
/// — evaluate each the request needs) and the role ARN as resource; the role's
/// account is read from it. Without a resource account the request is treated
/// as cross-account.
pub fn authorize_assume_role<'p>(
    trust: &'p Policy,
    caller_permissions: Option<&PermissionSet<'p>>,
    ctx: &RequestContext<'_>,
) -> Decision<'p> {
    authorize_with_resource_policy(Some(trust), Mode::Trust, caller_permissions, ctx)
}

/// Authorization of a request on a resource that has (or lacks) a
/// resource-based policy, with the same-account and cross-account rules. The
/// resource's account comes from its ARN or, for ARNs without one (S3), from
/// [`RequestContext::with_resource_account`]; when unknown, the request is
/// treated as cross-account.
pub fn authorize_resource_access<'p>(
    resource_policy: Option<&'p Policy>,
    caller_permissions: Option<&PermissionSet<'p>>,
    ctx: &RequestContext<'_>,
) -> Decision<'p> {
    if !is_policy_controlled(ctx.action()) {
        return Decision::allow(Reason::NotPolicyControlled);
    }
    authorize_with_resource_policy(resource_policy, Mode::Resource, caller_permissions, ctx)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Trust,
    Resource,
}

fn authorize_with_resource_policy<'p>(
    resource_policy: Option<&'p Policy>,
    mode: Mode,
    perms: Option<&PermissionSet<'p>>,
    ctx: &RequestContext<'_>,
) -> Decision<'p> {
    let source = match mode {
        Mode::Trust => PolicySource::Trust,
        Mode::Resource => PolicySource::Resource,
    };
    let caller = ctx.caller();
    let aws_principal = caller.account().is_some();
    let cross_account = aws_principal
        && (ctx.resource_account().is_none() || caller.account() != ctx.resource_account());

    let resource_scan = resource_policy
        .map(|policy| scan_resource_policy(policy, source, ctx))
        .unwrap_or_default();
    if let Some(deny) = resource_scan.deny {
        return explicit_deny(deny, cross_account);
    }
    if !aws_principal {
        return match resource_scan.allow {
            Some(allow) => Decision {
                statement: Some(allow),
                ..Decision::allow(Reason::ResourcePolicyAllows)
            },
            None => implicit_deny(Reason::NoResourcePolicyAllows, false),
        };
    }

    let side = IdentitySide::evaluate(perms, ctx);
    if let Some(deny) = side.deny {
        return explicit_deny(deny, cross_account);
    }
    let allowed_by_resource =
        |allow: StatementRef<'p>, identity: Option<StatementRef<'p>>| Decision {
            kind: DecisionKind::Allow,
            reason: Reason::ResourcePolicyAllows,
            statement: Some(allow),
            identity_statement: identity,
            cross_account,
        };
    match resource_scan.allow {
        None if mode == Mode::Trust || cross_account => {
            implicit_deny(Reason::NoResourcePolicyAllows, cross_account)
        }
        None => match side.full() {
            Ok(None) => Decision::allow(Reason::RootUser),
            Ok(Some(allow)) => Decision {
                statement: Some(allow),
                ..Decision::allow(Reason::IdentityPolicyAllows)
            },
            Err(reason) => implicit_deny(reason, false),
        },
        Some(allow) => {
            let named = allow.principal_match.unwrap_or(PrincipalMatch::Account);
            let needs_full = cross_account || named.strength() == 1;
            if needs_full {
                match side.full() {
                    Ok(identity) => allowed_by_resource(allow, identity),
                    Err(reason) => implicit_deny(reason, cross_account),
                }
            } else if named.strength() == 2 {
                match side.limits() {
                    Ok(()) => allowed_by_resource(allow, None),
                    Err(reason) => implicit_deny(reason, false),
                }
            } else {
                allowed_by_resource(allow, None)
            }
        }
    }
}
