//! Policy decisions through the gRPC `AuthenticateAndAuthorize`, against the
//! evaluator's own tables: the identity-evaluation cases of
//! `meridian-core/tests/data/policy/eval/identity.json` that a role session
//! can express (identity policies attached to a role, its permissions
//! boundary, the session's policies — inline and managed —, and
//! `aws:RequestedRegion` as the region the request is signed for), each run
//! as a real signed request. Decision, deny layer and deciding statement
//! must match the table.

use meridian_proto::pb;
use serde_json::Value as Json;

use crate::support::*;

const TABLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../meridian-core/tests/data/policy/eval/identity.json"
));

fn names(value: &Json) -> Option<Vec<String>> {
    value.as_array().map(|items| {
        items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect()
    })
}

/// Whether the case is one a role session can express.
fn expressible(case: &Json) -> bool {
    let caller_ok = case
        .get("caller")
        .is_none_or(|caller| caller["type"] == "assumed_role");
    let context_ok = case.get("context").is_none_or(|context| {
        context
            .as_object()
            .is_some_and(|keys| keys.keys().all(|key| key == "aws:RequestedRegion"))
    });
    let identity_ok = case["identity"].is_array();
    caller_ok && context_ok && identity_ok && case["reason"] != "RootUser"
}

#[tokio::test]
async fn decisions_match_the_evaluator_tables() {
    bounded(async {
        let table: Json = serde_json::from_str(TABLE).unwrap_or_else(|e| panic!("{e}"));
        let mut world = World::new();
        let policies = table["policies"].as_object().cloned().unwrap_or_default();
        for (name, policy) in &policies {
            let document = policy["document"].to_string();
            world.create_policy(ACCOUNT_A, name, &document);
        }
        let cases: Vec<Json> = table["cases"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(expressible)
            .collect();
        assert!(cases.len() >= 25, "only {} cases expressible", cases.len());

        // One role and one session per case.
        let mut sessions = Vec::new();
        for (index, case) in cases.iter().enumerate() {
            let identity: Vec<String> = names(&case["identity"])
                .unwrap_or_default()
                .iter()
                .map(|name| World::policy_arn(ACCOUNT_A, name))
                .collect();
            let identity: Vec<&str> = identity.iter().map(String::as_str).collect();
            let boundary = case["boundary"]
                .as_str()
                .map(|name| World::policy_arn(ACCOUNT_A, name));
            let role = world.create_role(
                ACCOUNT_A,
                &format!("case-{index}"),
                &identity,
                boundary.as_deref(),
                &[],
            );
            let session = names(&case["session"]).unwrap_or_default();
            let inline = session
                .first()
                .and_then(|name| policies.get(name))
                .map(|policy| policy["document"].to_string());
            let managed = session
                .iter()
                .skip(1)
                .map(|name| World::policy_arn(ACCOUNT_A, name))
                .collect();
            sessions.push(world.mint_role_session(
                &role,
                &SessionOptions {
                    inline_policy: inline,
                    managed_policies: managed,
                    ..SessionOptions::default()
                },
            ));
        }

        let mut served = Served::start(&world, at(10)).await;
        let mut failures = Vec::new();
        for (case, creds) in cases.iter().zip(&sessions) {
            let name = case["name"].as_str().unwrap_or_default();
            let region = case["context"]["aws:RequestedRegion"]
                .as_str()
                .unwrap_or(REGION);
            let signed = sign_with(
                creds,
                &Unsigned::get("/"),
                SERVICE,
                region,
                at(0),
                aws_sigv4::http_request::SignatureLocation::Headers,
            );
            let mut input = authenticate_input(signed);
            input.region = region.into();
            let answer = served
                .client
                .authenticate_and_authorize(pb::AuthenticateAndAuthorizeRequest {
                    authenticate: Some(input),
                    action: case["action"].as_str().unwrap_or_default().into(),
                    resource: case["resource"].as_str().unwrap_or("*").into(),
                    context: Vec::new(),
                })
                .await
                .unwrap_or_else(|status| panic!("{name}: {:?}", pb_error(&status)))
                .into_inner()
                .authorization
                .unwrap_or_default();
            if let Err(why) = check(case, &answer) {
                failures.push(format!("{name}: {why}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        served.stop().await;
    })
    .await;
}

fn check(case: &Json, answer: &pb::AuthorizeResponse) -> Result<(), String> {
    let expect = case["expect"].as_str().unwrap_or_default();
    let (decision, kind) = match expect {
        "Allow" => (pb::Decision::Allow, pb::DenyKind::Unspecified),
        "ExplicitDeny" => (pb::Decision::Deny, pb::DenyKind::Explicit),
        _ => (pb::Decision::Deny, pb::DenyKind::Implicit),
    };
    if answer.decision != decision as i32 || answer.deny_kind != kind as i32 {
        return Err(format!(
            "expected {expect}, got decision {} kind {} ({})",
            answer.decision, answer.deny_kind, answer.message
        ));
    }
    if decision == pb::Decision::Deny
        && (answer.encoded_message.is_empty() || !answer.message.starts_with("User: arn:aws:sts::"))
    {
        return Err(format!(
            "deny without AWS text or encoded message: {answer:?}"
        ));
    }
    let layer = match case["reason"].as_str() {
        Some("NoBoundaryAllows") => Some(pb::PolicyType::PermissionsBoundary),
        Some("NoSessionPolicyAllows") => Some(pb::PolicyType::Session),
        Some("NoIdentityPolicyAllows") => Some(pb::PolicyType::Identity),
        _ => None,
    };
    if let Some(layer) = layer
        && answer.deny_layer != layer as i32
    {
        return Err(format!(
            "expected layer {layer:?}, got {}",
            answer.deny_layer
        ));
    }
    if let Some(decided_by) = case.get("decided_by") {
        let statement = answer
            .statement
            .clone()
            .ok_or_else(|| String::from("no deciding statement"))?;
        if let Some(sid) = decided_by["sid"].as_str()
            && statement.sid != sid
        {
            return Err(format!("expected Sid {sid}, got {}", statement.sid));
        }
        if let Some(policy) = decided_by["policy"].as_str() {
            let session = names(&case["session"]).unwrap_or_default();
            let expected = if session.first().map(String::as_str) == Some(policy) {
                String::from("session")
            } else {
                World::policy_arn(ACCOUNT_A, policy)
            };
            if statement.policy != expected {
                return Err(format!(
                    "expected policy {expected}, got {}",
                    statement.policy
                ));
            }
        }
    }
    Ok(())
}
