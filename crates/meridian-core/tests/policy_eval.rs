//! Table-driven policy evaluation tests.
//!
//! Each file in `tests/data/policy/eval/` holds named policies and cases built
//! from AWS's documented examples (IAM User Guide: condition operators,
//! policy variables, evaluation logic, cross-account evaluation, session
//! policies, revoking sessions). A case gives the policy set, the request
//! context and the expected decision, optionally the reason and the deciding
//! statement (policy name and `Sid`). The format is described in
//! `tests/data/policy/eval/README.md`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meridian_core::policy::compile::Policy;
use meridian_core::policy::context::{Caller, RequestContext, Value};
use meridian_core::policy::evaluate::{
    Decision, DecisionKind, IdentityPolicies, PermissionSet, PolicySource, authorize,
    authorize_assume_role, authorize_resource_access,
};
use meridian_core::policy::kind::PolicyKind;
use meridian_core::time::Timestamp;
use serde_json::Value as Json;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy/eval")
}

/// The fixture files, each run by its own test below.
const FIXTURES: &[&str] = &[
    "operators.json",
    "set_operators.json",
    "variables.json",
    "identity.json",
    "trust.json",
    "resource.json",
];

#[test]
fn operators() {
    run("operators.json");
}

#[test]
fn set_operators() {
    run("set_operators.json");
}

#[test]
fn variables() {
    run("variables.json");
}

#[test]
fn identity() {
    run("identity.json");
}

#[test]
fn trust() {
    run("trust.json");
}

#[test]
fn resource() {
    run("resource.json");
}

/// Adding a fixture without a test that runs it would silently skip it.
#[test]
fn every_fixture_file_is_run() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|name| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

fn kind_of(name: &str) -> PolicyKind {
    match name {
        "managed" => PolicyKind::Managed,
        "boundary" => PolicyKind::PermissionsBoundary,
        "role_inline" => PolicyKind::RoleInline,
        "user_inline" => PolicyKind::UserInline,
        "group_inline" => PolicyKind::GroupInline,
        "trust" => PolicyKind::Trust,
        "session" => PolicyKind::Session,
        "resource" => PolicyKind::Resource,
        other => panic!("unknown policy kind {other}"),
    }
}

fn text(value: &Json, field: &str) -> String {
    value
        .get(field)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("missing string field {field} in {value}"))
        .to_owned()
}

fn opt_str<'j>(value: &'j Json, field: &str) -> Option<&'j str> {
    value.get(field).and_then(Json::as_str)
}

fn names(value: Option<&Json>) -> Option<Vec<String>> {
    value.map(|list| match list {
        Json::String(one) => vec![one.clone()],
        Json::Array(items) => items
            .iter()
            .map(|item| item.as_str().expect("policy name").to_owned())
            .collect(),
        other => panic!("expected policy names, got {other}"),
    })
}

fn caller_of(value: Option<&Json>) -> Caller<'_> {
    let Some(value) = value else {
        return Caller::Anonymous;
    };
    let field = |name: &str| opt_str(value, name).unwrap_or_else(|| panic!("caller needs {name}"));
    match field("type") {
        "anonymous" => Caller::Anonymous,
        "root" => Caller::Root {
            account: field("account"),
            arn: field("arn"),
        },
        "user" => Caller::User {
            account: field("account"),
            arn: field("arn"),
            user_id: opt_str(value, "id"),
        },
        "assumed_role" => Caller::AssumedRole {
            account: field("account"),
            session_arn: field("session_arn"),
            role_arn: field("role_arn"),
            role_id: opt_str(value, "role_id"),
        },
        "federated_user" => Caller::FederatedUser {
            account: field("account"),
            arn: field("arn"),
            issuer_arn: field("issuer_arn"),
            issuer_id: opt_str(value, "issuer_id"),
        },
        "web_identity" => Caller::WebIdentity {
            provider: field("provider"),
        },
        "saml" => Caller::Saml {
            provider: field("provider"),
        },
        "service" => Caller::Service {
            name: field("name"),
        },
        other => panic!("unknown caller type {other}"),
    }
}

/// Context values: strings, booleans, numbers, arrays (multi-valued keys),
/// and `{"ip": …}`, `{"date": …}`, `{"binary": text}` for typed values.
fn values_of(value: &Json) -> Vec<Value<'_>> {
    match value {
        Json::String(text) => vec![Value::String(text)],
        Json::Bool(flag) => vec![Value::Bool(*flag)],
        Json::Number(number) => vec![Value::Number(number.as_f64().expect("number"))],
        Json::Array(items) => items.iter().flat_map(values_of).collect(),
        Json::Object(map) => {
            if let Some(ip) = map.get("ip").and_then(Json::as_str) {
                vec![Value::Ip(ip.parse::<IpAddr>().expect("ip"))]
            } else if let Some(date) = map.get("date").and_then(Json::as_str) {
                vec![Value::Date(Timestamp::parse_rfc3339(date).expect("date"))]
            } else if let Some(binary) = map.get("binary").and_then(Json::as_str) {
                vec![Value::Binary(binary.as_bytes())]
            } else {
                panic!("unknown typed value {value}")
            }
        }
        Json::Null => panic!("null context value"),
    }
}

struct Fixture {
    policies: HashMap<String, Arc<Policy>>,
    cases: Vec<Json>,
}

fn load(file: &str) -> Fixture {
    let path = fixture_dir().join(file);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root: Json = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut policies = HashMap::new();
    for (name, spec) in root["policies"].as_object().expect("policies object") {
        let kind = kind_of(&text(spec, "kind"));
        let document = match &spec["document"] {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        let policy = Policy::parse(kind, &document).unwrap_or_else(|e| {
            panic!(
                "{file}: policy {name} does not parse: {e} ({})",
                e.aws_message()
            )
        });
        policies.insert(name.clone(), Arc::new(policy));
    }
    let cases = root["cases"].as_array().expect("cases array").clone();
    Fixture { policies, cases }
}

fn lookup(fixture: &Fixture, names: &[String]) -> Vec<Arc<Policy>> {
    names
        .iter()
        .map(|name| {
            fixture
                .policies
                .get(name)
                .unwrap_or_else(|| panic!("unknown policy {name}"))
                .clone()
        })
        .collect()
}

/// The fixture name of the policy a statement reference points to.
fn policy_name(
    source: PolicySource,
    index: usize,
    identity: &[String],
    boundary: Option<&String>,
    session: &[String],
    resource: Option<&String>,
) -> String {
    match source {
        PolicySource::Identity => identity.get(index).cloned(),
        PolicySource::PermissionsBoundary => boundary.cloned(),
        PolicySource::Session => session.get(index).cloned(),
        PolicySource::Trust | PolicySource::Resource => resource.cloned(),
    }
    .unwrap_or_else(|| String::from("?"))
}

fn run(file: &str) {
    let fixture = load(file);
    let mut failures = Vec::new();
    assert!(!fixture.cases.is_empty(), "{file} has no cases");
    for case in &fixture.cases {
        let name = text(case, "name");
        if let Err(message) = run_case(&fixture, case) {
            failures.push(format!("{file} / {name}: {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_case(fixture: &Fixture, case: &Json) -> Result<(), String> {
    let now = opt_str(case, "now")
        .map(|text| Timestamp::parse_rfc3339(text).expect("now"))
        .unwrap_or_else(|| Timestamp::parse_rfc3339("2024-06-01T12:00:00Z").expect("default now"));
    let action = opt_str(case, "action").expect("action");
    let mut ctx = RequestContext::new(action, now).with_caller(caller_of(case.get("caller")));
    if let Some(resource) = opt_str(case, "resource") {
        ctx = ctx.with_resource(resource);
    }
    if let Some(account) = opt_str(case, "resource_account") {
        ctx = ctx.with_resource_account(account);
    }
    if let Some(map) = case.get("context").and_then(Json::as_object) {
        for (key, value) in map {
            for single in values_of(value) {
                ctx.insert(key, single);
            }
        }
    }
    for (field, family) in [
        ("principal_tags", 0),
        ("request_tags", 1),
        ("resource_tags", 2),
    ] {
        if let Some(map) = case.get(field).and_then(Json::as_object) {
            for (key, value) in map {
                let value = value.as_str().expect("tag value");
                match family {
                    0 => ctx.principal_tag(key, value),
                    1 => ctx.request_tag(key, value),
                    _ => ctx.resource_tag(key, value),
                };
            }
        }
    }

    let identity_root = case.get("identity").and_then(Json::as_str) == Some("root");
    let identity_names = if identity_root {
        Some(Vec::new())
    } else {
        names(case.get("identity"))
    };
    let boundary_name = opt_str(case, "boundary").map(str::to_owned);
    let session_names = names(case.get("session"));
    let identity = lookup(fixture, identity_names.as_deref().unwrap_or(&[]));
    let session = session_names.as_ref().map(|names| lookup(fixture, names));
    let boundary = boundary_name
        .as_ref()
        .map(|name| lookup(fixture, std::slice::from_ref(name)).remove(0));
    let perms = identity_names.as_ref().map(|_| PermissionSet {
        identity: if identity_root {
            IdentityPolicies::Root
        } else {
            IdentityPolicies::Policies(&identity)
        },
        boundary: boundary.as_deref(),
        session: session.as_deref(),
    });

    let mode = opt_str(case, "mode").unwrap_or("identity");
    let resource_name = opt_str(case, "trust")
        .or_else(|| opt_str(case, "resource_policy"))
        .map(str::to_owned);
    let resource_policy = resource_name
        .as_ref()
        .map(|name| lookup(fixture, std::slice::from_ref(name)).remove(0));
    let decision: Decision<'_> = match mode {
        "identity" => authorize(perms.as_ref().expect("identity mode needs identity"), &ctx),
        "assume_role" => authorize_assume_role(
            resource_policy.as_deref().expect("assume_role needs trust"),
            perms.as_ref(),
            &ctx,
        ),
        "resource" => authorize_resource_access(resource_policy.as_deref(), perms.as_ref(), &ctx),
        other => return Err(format!("unknown mode {other}")),
    };

    let expected_kind = match opt_str(case, "expect").expect("expect") {
        "Allow" => DecisionKind::Allow,
        "ExplicitDeny" => DecisionKind::ExplicitDeny,
        "ImplicitDeny" => DecisionKind::ImplicitDeny,
        other => return Err(format!("unknown expectation {other}")),
    };
    if decision.kind != expected_kind {
        return Err(format!("expected {expected_kind:?}, got {decision:?}"));
    }
    if let Some(reason) = opt_str(case, "reason")
        && format!("{:?}", decision.reason) != reason
    {
        return Err(format!("expected reason {reason}, got {decision:?}"));
    }
    if let Some(decided) = case.get("decided_by") {
        let Some(statement) = decision.statement else {
            return Err(format!("expected a deciding statement, got {decision:?}"));
        };
        let actual_policy = policy_name(
            statement.source,
            statement.policy_index,
            identity_names.as_deref().unwrap_or(&[]),
            boundary_name.as_ref(),
            session_names.as_deref().unwrap_or(&[]),
            resource_name.as_ref(),
        );
        if let Some(policy) = opt_str(decided, "policy")
            && policy != actual_policy
        {
            return Err(format!(
                "expected policy {policy}, decided by {actual_policy}: {decision:?}"
            ));
        }
        if let Some(sid) = opt_str(decided, "sid")
            && statement.sid != Some(sid)
        {
            return Err(format!("expected sid {sid}: {decision:?}"));
        }
    }
    if let Some(cross) = case.get("cross_account").and_then(Json::as_bool)
        && decision.cross_account != cross
    {
        return Err(format!("expected cross_account {cross}: {decision:?}"));
    }
    Ok(())
}
