//! [`Policy`]: a document parsed, validated and compiled once into the form
//! the evaluator runs on.
//!
//! ```text
//! text ──prescan (size, depth)──► JSON tree ──syntax──► Document ──validate──►
//!      ──compile──► Policy { statements: [effect, sid, principal spec,
//!                                         action patterns, ARN patterns,
//!                                         conditions] }
//! ```
//!
//! A `Policy` is immutable, owns all its data, and is `Send + Sync`; share it
//! as `Arc<Policy>` across requests and threads. It keeps the submitted text
//! (what `Get*Policy` returns, and what [`Policy::to_canonical_json`] renders
//! from) rather than a second owned copy of the parsed tree: the tree borrows
//! from the text while the policy is built and is dropped afterwards.

use std::fmt;

use smallvec::SmallVec;

use crate::policy::conditions::{Condition, OperatorName, RawValue};
use crate::policy::context::{Caller, RequestContext};
use crate::policy::document::{self, PrincipalBlock, Scalar, Statement};
use crate::policy::errors::{MalformedReason, PolicyError, malformed, syntax};
use crate::policy::json;
use crate::policy::kind::{PolicyKind, prescan};
use crate::policy::matchers::{ActionPattern, ArnPattern};
use crate::policy::principals::{PrincipalMatch, PrincipalSpec, PrincipalType};
use crate::policy::validate::validate;

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

/// A statement, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledStatement {
    pub(crate) effect: Effect,
    pub(crate) sid: Option<Box<str>>,
    /// `(negated, spec)` for `Principal` / `NotPrincipal`.
    principal: Option<(bool, PrincipalSpec)>,
    action_negated: bool,
    actions: Box<[ActionPattern]>,
    /// `(negated, patterns)` for `Resource` / `NotResource`.
    resources: Option<(bool, Box<[ArnPattern]>)>,
    conditions: Box<[Condition]>,
}

impl CompiledStatement {
    /// Whether the statement covers the request's action and resource and its
    /// conditions hold. The principal is checked separately.
    pub(crate) fn applies(&self, ctx: &RequestContext<'_>) -> bool {
        let (vendor, name) = ctx.action_parts();
        let action_hit = self
            .actions
            .iter()
            .any(|pattern| pattern.matches(vendor, name));
        if action_hit == self.action_negated {
            return false;
        }
        if let Some((negated, patterns)) = &self.resources {
            let target = ctx.resource_parts();
            let resource_hit = patterns
                .iter()
                .any(|pattern| pattern.matches(ctx, target) == Some(true));
            if resource_hit == *negated {
                return false;
            }
        }
        self.conditions
            .iter()
            .all(|condition| condition.evaluate(ctx))
    }

    /// How the statement's `Principal` names the caller: `None` when the
    /// statement has no principal element (identity policies), `Some(None)`
    /// when it does not apply to this caller. A `NotPrincipal` that does not
    /// exclude the caller counts as a wildcard.
    pub(crate) fn principal_match(&self, caller: &Caller<'_>) -> Option<Option<PrincipalMatch>> {
        let (negated, spec) = self.principal.as_ref()?;
        Some(if *negated {
            (!spec.excludes(caller)).then_some(PrincipalMatch::Wildcard)
        } else {
            spec.best_match(caller)
        })
    }
}

/// A parsed, validated, compiled policy document.
#[derive(Clone)]
pub struct Policy {
    kind: PolicyKind,
    size: usize,
    version: Option<&'static str>,
    id: Option<Box<str>>,
    /// The document as submitted: the canonical form is rendered from it on
    /// demand (rare: `Get*Policy` responses) instead of keeping a second,
    /// owned copy of the whole tree in every policy.
    source: Box<str>,
    principals: Box<[(PrincipalType, Box<str>)]>,
    statements: Box<[CompiledStatement]>,
}

impl Policy {
    /// Parses a document of `kind` with that kind's default size limit.
    pub fn parse(kind: PolicyKind, text: &str) -> Result<Policy, PolicyError> {
        Policy::parse_with_limit(kind, text, kind.default_limit())
    }

    /// Parses a document with an explicit size limit (a trust policy quota
    /// raised to 4,096, a cluster-configured resource policy limit).
    pub fn parse_with_limit(
        kind: PolicyKind,
        text: &str,
        limit: usize,
    ) -> Result<Policy, PolicyError> {
        let size = prescan(kind, text, limit)?;
        let document = document::from_json(json::parse(text)?)?;
        validate(&document, kind)?;
        let version = match document.version.as_deref() {
            Some("2012-10-17") => Some("2012-10-17"),
            Some(_) => Some("2008-10-17"),
            None => None,
        };
        let variables = version == Some("2012-10-17");
        let statements = document
            .statements
            .iter()
            .map(|statement| compile_statement(statement, variables))
            .collect::<Result<_, _>>()?;
        let principals = document
            .statements
            .iter()
            .filter_map(|statement| statement.principal.as_ref())
            .flat_map(|principal| match &principal.value {
                PrincipalBlock::Wildcard => vec![(PrincipalType::Aws, Box::from("*"))],
                PrincipalBlock::Map(entries) => entries
                    .iter()
                    .filter_map(|(kind, values)| {
                        PrincipalType::from_key(kind).map(|kind| (kind, values))
                    })
                    .flat_map(|(kind, values)| {
                        values.items.iter().map(move |v| (kind, Box::from(&**v)))
                    })
                    .collect(),
            })
            .collect();
        Ok(Policy {
            kind,
            size,
            version,
            id: document.id.as_deref().map(Box::from),
            source: Box::from(text),
            principals,
            statements,
        })
    }

    /// The kind it was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// Its size as counted for its kind (IAM: characters without whitespace
    /// outside strings; session policies: raw characters).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The policy language version; `2008-10-17` when `Version` is absent.
    pub fn version(&self) -> &str {
        self.version.unwrap_or("2008-10-17")
    }

    /// The document's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The `Sid` of statement `index`, if it has one.
    pub fn sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index)?.sid.as_deref()
    }

    /// The `Effect` of statement `index`.
    pub fn effect(&self, index: usize) -> Option<Effect> {
        self.statements.get(index).map(|statement| statement.effect)
    }

    /// Every principal value named by `Principal`/`NotPrincipal` elements,
    /// with its type — for the store, which must check that named users and
    /// roles exist ("Invalid principal in policy") as IAM does.
    pub fn principals(&self) -> impl Iterator<Item = (PrincipalType, &str)> {
        self.principals
            .iter()
            .map(|(kind, value)| (*kind, &**value))
    }

    /// The document exactly as it was submitted.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The canonical JSON rendering (see `document.rs` for the form),
    /// rendered from the stored source.
    pub fn to_canonical_json(&self) -> String {
        // The source parsed when the policy was built, so this cannot fail;
        // the source itself is the fallback rather than a panic.
        match json::parse(&self.source).and_then(document::from_json) {
            Ok(document) => document::to_canonical_json(&document),
            Err(_) => String::from(&*self.source),
        }
    }

    pub(crate) fn statements(&self) -> &[CompiledStatement] {
        &self.statements
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sids: Vec<Option<&str>> = self.statements.iter().map(|s| s.sid.as_deref()).collect();
        f.debug_struct("Policy")
            .field("kind", &self.kind)
            .field("size", &self.size)
            .field("version", &self.version())
            .field("sids", &sids)
            .finish()
    }
}

impl AsRef<Policy> for Policy {
    fn as_ref(&self) -> &Policy {
        self
    }
}

fn compile_principal(block: &PrincipalBlock<'_>) -> Result<PrincipalSpec, PolicyError> {
    match block {
        PrincipalBlock::Wildcard => Ok(PrincipalSpec::wildcard()),
        PrincipalBlock::Map(entries) => {
            if entries.is_empty() || entries.iter().any(|(_, values)| values.items.is_empty()) {
                return Err(malformed(MalformedReason::InvalidPrincipal {
                    principal: String::from("(empty)"),
                }));
            }
            let mut pairs = Vec::new();
            for (kind, values) in entries {
                let Some(kind) = PrincipalType::from_key(kind) else {
                    return Err(malformed(MalformedReason::InvalidPrincipal {
                        principal: kind.clone().into_owned(),
                    }));
                };
                pairs.extend(values.items.iter().map(|value| (kind, &**value)));
            }
            PrincipalSpec::compile(pairs)
        }
    }
}

fn compile_statement(
    statement: &Statement,
    variables: bool,
) -> Result<CompiledStatement, PolicyError> {
    let effect = match statement.effect.as_deref() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(syntax("Effect must be Allow or Deny")),
    };
    let principal = statement
        .principal
        .as_ref()
        .map(|principal| {
            Ok::<_, PolicyError>((principal.negated, compile_principal(&principal.value)?))
        })
        .transpose()?;
    let (action_negated, actions) = match &statement.action {
        Some(action) => (
            action.negated,
            action
                .value
                .items
                .iter()
                .map(|a| ActionPattern::compile(a))
                .collect(),
        ),
        None => return Err(malformed(MalformedReason::MissingActions)),
    };
    let resources = statement.resource.as_ref().map(|resource| {
        (
            resource.negated,
            resource
                .value
                .items
                .iter()
                .map(|r| ArnPattern::compile(r, variables))
                .collect(),
        )
    });
    let condition_count = statement
        .condition
        .iter()
        .flatten()
        .map(|(_, keys)| keys.len())
        .sum();
    let mut conditions = Vec::with_capacity(condition_count);
    for (operator, keys) in statement.condition.iter().flatten() {
        let name = OperatorName::parse(operator)
            .ok_or_else(|| syntax(format!("unknown condition operator {operator}")))?;
        for (key, values) in keys {
            let raw: SmallVec<[RawValue<'_>; 4]> = values
                .items
                .iter()
                .map(|value| match value {
                    Scalar::String(text) => RawValue::String(text),
                    Scalar::Number(text) => RawValue::Number(text),
                    Scalar::Bool(flag) => RawValue::Bool(*flag),
                })
                .collect();
            conditions.push(Condition::compile(operator, name, key, &raw, variables)?);
        }
    }
    Ok(CompiledStatement {
        effect,
        sid: statement.sid.as_deref().map(Box::from),
        principal,
        action_negated,
        actions,
        resources,
        conditions: conditions.into_boxed_slice(),
    })
}
