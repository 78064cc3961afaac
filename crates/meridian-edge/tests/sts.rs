//! STS through the router (`oneshot`), end to end: SigV4-signed requests
//! against an in-memory replicated configuration, every operation's happy
//! path and main errors with AWS's exact codes, statuses and messages.
//!
//! Every edge here has a configuration writer that panics, and the edge has
//! no network client at all: issuance and verification happen without a
//! write, a wait on consensus or a call to another region, by construction,
//! and every test below would fail if that changed.

mod sts_support;

use std::collections::BTreeMap;

use meridian_core::config::command::Command;
use meridian_core::config::model::AccessKeyStatus;
use meridian_core::ids::AccessKeyId;
use meridian_core::principal::Principal;
use meridian_core::time::Timestamp;
use meridian_core::token;
use meridian_edge::authz;
use meridian_edge::model::Service;
use meridian_edge::state::{Caller, Freshness};
use sts_support::*;

const ROLE_DEV: &str = "arn:aws:iam::111111111111:role/dev";
const ACCOUNT_ROOT_A: &str = "arn:aws:iam::111111111111:root";
const INVALID_TOKEN: &str = "The security token included in the request is invalid";

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A world with role `dev` in A: trusted by A's root for AssumeRole,
/// TagSession and SetSourceIdentity, allowed everything.
fn world_with_dev() -> World {
    let mut world = World::new();
    world.create_role(
        ACCOUNT_A,
        "dev",
        &trust(
            ACCOUNT_ROOT_A,
            &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        ),
        Some(ALLOW_ALL),
        tags(&[("team", "role-team")]),
    );
    world
}

async fn assume(
    edge: &Edge,
    creds: &Creds,
    role: &str,
    session: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", role),
        ("RoleSessionName", session),
    ];
    params.extend_from_slice(extra);
    edge.sts(creds, &params).await
}

#[tokio::test]
async fn get_caller_identity_for_a_user() {
    let world = World::new();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let reply = edge
        .sts(
            &world.creds(ACCOUNT_A, "alice"),
            &[("Action", "GetCallerIdentity")],
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(
        reply.must("GetCallerIdentityResult/Arn"),
        "arn:aws:iam::111111111111:user/alice"
    );
    assert_eq!(reply.must("GetCallerIdentityResult/Account"), ACCOUNT_A);
    assert!(
        reply
            .must("GetCallerIdentityResult/UserId")
            .starts_with("AIDA")
    );
    assert!(reply.must("ResponseMetadata/RequestId").len() >= 8);
}

#[tokio::test]
async fn assume_role_credentials_work_in_another_region() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let eu = Edge::new(&world, &snapshots, "eu-west-1");
    let us = Edge::new(&world, &snapshots, "us-east-1");
    let alice = world.creds(ACCOUNT_A, "alice");

    let reply = assume(&eu, &alice, ROLE_DEV, "s1", &[]).await;
    let creds = reply.credentials();
    assert!(
        creds.access_key_id.starts_with("ASIA"),
        "{}",
        creds.access_key_id
    );
    assert_eq!(creds.secret.len(), 40);
    assert_eq!(
        reply.must("AssumedRoleUser/Arn"),
        "arn:aws:sts::111111111111:assumed-role/dev/s1"
    );
    let assumed_id = reply.must("AssumedRoleUser/AssumedRoleId");
    assert!(
        assumed_id.starts_with("AROA") && assumed_id.ends_with(":s1"),
        "{assumed_id}"
    );
    assert_eq!(
        reply.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 3600).to_iso8601_seconds()
    );
    // AWS omits PackedPolicySize without session policies or tags.
    assert_eq!(reply.field("AssumeRoleResult/PackedPolicySize"), None);
    // The account is encoded in the temporary key id.
    let key = AccessKeyId::parse(&creds.access_key_id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        key.account().map(|a| a.as_str().to_owned()).as_deref(),
        Some(ACCOUNT_A)
    );

    // Minted in eu-west-1, verified by us-east-1 (signed for us-east-1) and
    // by eu-west-1, with nothing shared but the replicated snapshot.
    for edge in [&us, &eu] {
        let who = edge.sts(&creds, &[("Action", "GetCallerIdentity")]).await;
        assert_eq!(who.status.as_u16(), 200, "{} {}", edge.region, who.body);
        assert_eq!(
            who.must("GetCallerIdentityResult/Arn"),
            "arn:aws:sts::111111111111:assumed-role/dev/s1"
        );
        assert_eq!(who.must("GetCallerIdentityResult/UserId"), assumed_id);
    }
    // A scope for another region than the verifying node's is refused.
    let wrong_scope = us
        .call(
            &creds,
            "sts",
            "2011-06-15",
            &[("Action", "GetCallerIdentity")],
            us.now(),
        )
        .await;
    assert_eq!(wrong_scope.status.as_u16(), 200);
    let request = signed_request(
        &creds,
        "eu-west-1",
        "sts",
        "2011-06-15",
        &[("Action", "GetCallerIdentity")],
        us.now(),
    );
    let reply = send(&us.app, request).await;
    reply.assert_error(
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    );
}

#[tokio::test]
async fn durations_follow_the_role_maximum_and_the_chaining_cap() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");

    let too_long = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ddd",
        &[("DurationSeconds", "7201")],
    )
    .await;
    too_long.assert_error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    let model_bound = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ddd",
        &[("DurationSeconds", "899")],
    )
    .await;
    model_bound.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy \
         constraint: Member must have value greater than or equal to 900",
    );
    let max = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ddd",
        &[("DurationSeconds", "7200")],
    )
    .await;
    assert_eq!(
        max.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 7200).to_iso8601_seconds()
    );

    let parent = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "parent",
        &[("DurationSeconds", "900")],
    )
    .await
    .credentials();
    let chained = assume(
        &edge,
        &parent,
        ROLE_DEV,
        "child",
        &[("DurationSeconds", "3601")],
    )
    .await;
    chained.assert_error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
         role chaining.",
    );
    let chained = assume(&edge, &parent, ROLE_DEV, "child", &[]).await;
    assert_eq!(chained.status.as_u16(), 200, "{}", chained.body);
    // A chained session never outlives its parent (ours, stricter than AWS).
    assert_eq!(
        chained.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 900).to_iso8601_seconds()
    );
}

#[tokio::test]
async fn trust_refusals_are_access_denied_with_a_decodable_message() {
    let mut world = world_with_dev();
    world.create_role(
        ACCOUNT_A,
        "bobs",
        &trust("arn:aws:iam::111111111111:user/bob", &["sts:AssumeRole"]),
        None,
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let bob = world.creds(ACCOUNT_A, "bob");
    let alice = world.creds(ACCOUNT_A, "alice");

    // The trust policy names the account: bob's own policies must allow too.
    let denied = assume(&edge, &bob, ROLE_DEV, "bbb", &[]).await;
    let expected = "User: arn:aws:iam::111111111111:user/bob is not authorized to perform: \
                    sts:AssumeRole on resource: arn:aws:iam::111111111111:role/dev";
    denied.assert_error(403, "AccessDenied", expected);
    let message = denied.message();
    let encoded = message
        .strip_prefix(&format!("{expected}{}", authz::ENCODED_MESSAGE_PREFIX))
        .unwrap_or_else(|| panic!("no encoded message in {message:?}"));

    // A trust policy naming bob himself is enough in the same account.
    let named = assume(
        &edge,
        &bob,
        "arn:aws:iam::111111111111:role/bobs",
        "bbb",
        &[],
    )
    .await;
    assert_eq!(named.status.as_u16(), 200, "{}", named.body);

    // The encoded message decodes for an allowed caller of the account...
    let decoded = edge
        .sts(
            &alice,
            &[
                ("Action", "DecodeAuthorizationMessage"),
                ("EncodedMessage", encoded),
            ],
        )
        .await;
    assert_eq!(decoded.status.as_u16(), 200, "{}", decoded.body);
    let json = decoded.must("DecodeAuthorizationMessageResult/DecodedMessage");
    assert!(json.starts_with("{\"allowed\":false"), "{json}");
    assert!(json.contains("\"action\":\"sts:AssumeRole\""), "{json}");
    assert!(
        json.contains("\"arn\":\"arn:aws:iam::111111111111:user/bob\""),
        "{json}"
    );
    // ... not for a caller without the permission ...
    let not_allowed = edge
        .sts(
            &bob,
            &[
                ("Action", "DecodeAuthorizationMessage"),
                ("EncodedMessage", encoded),
            ],
        )
        .await;
    not_allowed.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/bob is not authorized to perform: \
         sts:DecodeAuthorizationMessage on resource: *",
    );
    // ... nor for another account, nor when it is not ours.
    let carol = world.creds(ACCOUNT_B, "carol");
    let other_account = edge
        .sts(
            &carol,
            &[
                ("Action", "DecodeAuthorizationMessage"),
                ("EncodedMessage", encoded),
            ],
        )
        .await;
    other_account.assert_error(
        400,
        "InvalidAuthorizationMessageException",
        "The encoded authorization message is invalid.",
    );
    let garbage = edge
        .sts(
            &alice,
            &[
                ("Action", "DecodeAuthorizationMessage"),
                ("EncodedMessage", "AAAA"),
            ],
        )
        .await;
    garbage.assert_error(400, "InvalidAuthorizationMessageException", "");

    // A role that does not exist reads like a trust refusal.
    let missing = assume(
        &edge,
        &alice,
        "arn:aws:iam::111111111111:role/nope",
        "aaa",
        &[],
    )
    .await;
    missing.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: \
         sts:AssumeRole on resource: arn:aws:iam::111111111111:role/nope",
    );
    let malformed = assume(&edge, &alice, "nothing-valid-in-here", "aaa", &[]).await;
    malformed.assert_error(400, "ValidationError", "nothing-valid-in-here is invalid");
    assert_eq!(malformed.message(), "nothing-valid-in-here is invalid");
}

#[tokio::test]
async fn root_callers_are_refused_and_capped() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let root = || Caller::long_term(Principal::Root(account(ACCOUNT_A)), "AKIAROOTROOTROOTROOT");

    let refused = edge
        .handle(
            root(),
            "AssumeRole",
            &[("RoleArn", ROLE_DEV), ("RoleSessionName", "rrr")],
        )
        .await;
    refused.assert_error(
        403,
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
    );
    assert_eq!(
        refused.message(),
        "Roles may not be assumed by root accounts."
    );

    let session = edge
        .handle(root(), "GetSessionToken", &[("DurationSeconds", "7200")])
        .await;
    assert_eq!(
        session.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 3600).to_iso8601_seconds()
    );
    let federated = edge
        .handle(root(), "GetFederationToken", &[("Name", "rootfed")])
        .await;
    assert_eq!(federated.status.as_u16(), 200, "{}", federated.body);
    assert_eq!(
        federated.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 3600).to_iso8601_seconds()
    );
    assert_eq!(
        federated.must("FederatedUser/Arn"),
        "arn:aws:sts::111111111111:federated-user/rootfed"
    );
    let identity = edge.handle(root(), "GetCallerIdentity", &[]).await;
    assert_eq!(identity.must("GetCallerIdentityResult/UserId"), ACCOUNT_A);
    assert_eq!(identity.must("GetCallerIdentityResult/Arn"), ACCOUNT_ROOT_A);
}

#[tokio::test]
async fn session_policies_narrow_the_role() {
    let mut world = world_with_dev();
    world.create_policy(
        ACCOUNT_A,
        "OnlyKeyInfo",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*"}]}"#,
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let inline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*"}]}"#;
    let managed = World::policy_arn(ACCOUNT_A, "OnlyKeyInfo");

    let full = assume(&edge, &alice, ROLE_DEV, "full", &[])
        .await
        .credentials();
    let listed = edge
        .call(
            &full,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        )
        .await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);

    for (session, extra) in [
        ("inline", vec![("Policy", inline)]),
        (
            "managed",
            vec![("PolicyArns.member.1.arn", managed.as_str())],
        ),
    ] {
        let reply = assume(&edge, &alice, ROLE_DEV, session, &extra).await;
        let packed: u32 = reply
            .must("AssumeRoleResult/PackedPolicySize")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((1..=100).contains(&packed), "{packed}");
        let narrow = reply.credentials();
        let info = edge
            .sts(
                &narrow,
                &[
                    ("Action", "GetAccessKeyInfo"),
                    ("AccessKeyId", &alice.access_key_id),
                ],
            )
            .await;
        assert_eq!(info.must("GetAccessKeyInfoResult/Account"), ACCOUNT_A);
        let iam = edge
            .call(
                &narrow,
                "iam",
                "2010-05-08",
                &[("Action", "ListRoles")],
                edge.now(),
            )
            .await;
        iam.assert_error(
            403,
            "AccessDenied",
            &format!(
                "User: arn:aws:sts::111111111111:assumed-role/dev/{session} is not authorized to \
                 perform: iam:ListRoles on resource: * because no session policy allows the \
                 iam:ListRoles action"
            ),
        );
    }

    let malformed = assume(&edge, &alice, ROLE_DEV, "bad", &[("Policy", "{not json")]).await;
    malformed.assert_error(400, "MalformedPolicyDocument", "");
    let eleven: Vec<(String, String)> = (1..=11)
        .map(|i| (format!("PolicyArns.member.{i}.arn"), managed.clone()))
        .collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let too_many = assume(&edge, &alice, ROLE_DEV, "many", &eleven).await;
    too_many.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value at 'policyArns'",
    );
}

#[tokio::test]
async fn session_tags_are_principal_tags_in_trust_and_identity_conditions() {
    let mut world = world_with_dev();
    // Trusts sessions of role dev only when tagged team=blue.
    world.create_role(
        ACCOUNT_A,
        "tagged",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/dev"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#,
        Some(ALLOW_ALL),
        BTreeMap::new(),
    );
    // Lets its sessions list roles only when tagged team=blue.
    world.create_role(
        ACCOUNT_A,
        "cond",
        &trust(ACCOUNT_ROOT_A, &["sts:AssumeRole", "sts:TagSession"]),
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#),
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let blue = [
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
        ("TransitiveTagKeys.member.1", "team"),
    ];

    let tagged = assume(&edge, &alice, ROLE_DEV, "blue", &blue).await;
    assert!(tagged.field("AssumeRoleResult/PackedPolicySize").is_some());
    let tagged = tagged.credentials();
    let untagged = assume(&edge, &alice, ROLE_DEV, "plain", &[])
        .await
        .credentials();

    let allowed = assume(
        &edge,
        &tagged,
        "arn:aws:iam::111111111111:role/tagged",
        "ttt",
        &[],
    )
    .await;
    assert_eq!(allowed.status.as_u16(), 200, "{}", allowed.body);
    // The transitive tag travelled into the chained session.
    assert!(allowed.field("AssumeRoleResult/PackedPolicySize").is_some());
    let refused = assume(
        &edge,
        &untagged,
        "arn:aws:iam::111111111111:role/tagged",
        "ttt",
        &[],
    )
    .await;
    refused.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:sts::111111111111:assumed-role/dev/plain is not authorized to perform: \
         sts:AssumeRole on resource: arn:aws:iam::111111111111:role/tagged",
    );

    let cond = "arn:aws:iam::111111111111:role/cond";
    let with_tag = assume(&edge, &alice, cond, "c1", &blue[..2])
        .await
        .credentials();
    let without = assume(&edge, &alice, cond, "c2", &[]).await.credentials();
    let ok = edge
        .call(
            &with_tag,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        )
        .await;
    assert_eq!(ok.status.as_u16(), 200, "{}", ok.body);
    let no = edge
        .call(
            &without,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        )
        .await;
    no.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:sts::111111111111:assumed-role/cond/c2 is not authorized to perform: \
         iam:ListRoles on resource: * because no identity-based policy allows the iam:ListRoles \
         action",
    );
}

#[tokio::test]
async fn tag_rules_and_their_aws_messages() {
    let mut world = world_with_dev();
    world.create_role(
        ACCOUNT_A,
        "notags",
        &trust(ACCOUNT_ROOT_A, &["sts:AssumeRole"]),
        Some(ALLOW_ALL),
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");

    let not_subset = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ttt",
        &[
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
            ("TransitiveTagKeys.member.1", "b"),
        ],
    )
    .await;
    not_subset.assert_error(
        400,
        "InvalidParameterValue",
        "The specified transitive tag key must be included in the requested tags.",
    );
    let duplicate = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ttt",
        &[
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "1"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "2"),
        ],
    )
    .await;
    duplicate.assert_error(
        400,
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );
    let parent = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "ppp",
        &[
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "blue"),
            ("TransitiveTagKeys.member.1", "team"),
        ],
    )
    .await
    .credentials();
    let conflict = assume(
        &edge,
        &parent,
        ROLE_DEV,
        "ccc",
        &[
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "red"),
        ],
    )
    .await;
    conflict.assert_error(
        400,
        "InvalidParameterValue",
        "One of the specified transitive tag keys can't be set because it conflicts with a \
         transitive tag key from the calling session.",
    );
    let no_tag_session = assume(
        &edge,
        &alice,
        "arn:aws:iam::111111111111:role/notags",
        "nnn",
        &[("Tags.member.1.Key", "a"), ("Tags.member.1.Value", "1")],
    )
    .await;
    no_tag_session.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: \
         sts:TagSession on resource: arn:aws:iam::111111111111:role/notags",
    );
    // 50 long tags are far beyond the packed budget.
    let long_value = "v".repeat(256);
    let keys: Vec<String> = (1..=50).map(|i| format!("key{i}")).collect();
    let mut params: Vec<(String, String)> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        params.push((format!("Tags.member.{}.Key", i + 1), key.clone()));
        params.push((format!("Tags.member.{}.Value", i + 1), long_value.clone()));
    }
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let too_large = assume(&edge, &alice, ROLE_DEV, "big", &params).await;
    too_large.assert_error(400, "PackedPolicyTooLarge", "Packed policy consumes ");
    assert!(
        too_large
            .message()
            .ends_with("% of allotted space, please use smaller policy.")
    );
}

#[tokio::test]
async fn source_identity_is_checked_and_sticky() {
    let mut world = world_with_dev();
    world.create_role(
        ACCOUNT_A,
        "nosrc",
        &trust(ACCOUNT_ROOT_A, &["sts:AssumeRole"]),
        Some(ALLOW_ALL),
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let nosrc = "arn:aws:iam::111111111111:role/nosrc";

    let first = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "sss",
        &[("SourceIdentity", "alice-laptop")],
    )
    .await;
    assert_eq!(
        first.must("AssumeRoleResult/SourceIdentity"),
        "alice-laptop"
    );
    let session = first.credentials();

    let sticky = assume(&edge, &session, ROLE_DEV, "s2", &[]).await;
    assert_eq!(
        sticky.must("AssumeRoleResult/SourceIdentity"),
        "alice-laptop"
    );
    let changed = assume(
        &edge,
        &session,
        ROLE_DEV,
        "s3",
        &[("SourceIdentity", "someone-else")],
    )
    .await;
    changed.assert_error(
        403,
        "AccessDenied",
        "The source identity of the calling session cannot be changed.",
    );
    let not_trusted = assume(
        &edge,
        &alice,
        nosrc,
        "nnn",
        &[("SourceIdentity", "alice-laptop")],
    )
    .await;
    not_trusted.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: \
         sts:SetSourceIdentity on resource: arn:aws:iam::111111111111:role/nosrc",
    );
    let carried = assume(&edge, &session, nosrc, "nnn", &[]).await;
    carried.assert_error(403, "AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/dev/sss is not authorized to perform: sts:SetSourceIdentity");
    let plain = assume(&edge, &alice, nosrc, "nnn", &[]).await;
    assert_eq!(plain.status.as_u16(), 200, "{}", plain.body);
    assert_eq!(plain.field("AssumeRoleResult/SourceIdentity"), None);
}

#[tokio::test]
async fn cross_account_roles_need_both_sides_and_external_id() {
    let mut world = world_with_dev();
    world.create_role(
        ACCOUNT_B,
        "partner",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}]}"#,
        Some(ALLOW_ALL),
        BTreeMap::new(),
    );
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let bob = world.creds(ACCOUNT_A, "bob");
    let partner = "arn:aws:iam::222222222222:role/partner";

    let ok = assume(&edge, &alice, partner, "xxx", &[("ExternalId", "ext-1")]).await;
    assert_eq!(
        ok.must("AssumedRoleUser/Arn"),
        "arn:aws:sts::222222222222:assumed-role/partner/xxx"
    );
    let session = ok.credentials();
    let who = edge.sts(&session, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(who.must("GetCallerIdentityResult/Account"), ACCOUNT_B);

    let denied = format!(
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: \
         sts:AssumeRole on resource: {partner}"
    );
    for extra in [vec![], vec![("ExternalId", "ext-2")]] {
        let reply = assume(&edge, &alice, partner, "xxx", &extra).await;
        reply.assert_error(403, "AccessDenied", &denied);
    }
    // Trusted by the partner, but bob's own account does not allow him.
    let no_identity = assume(&edge, &bob, partner, "xxx", &[("ExternalId", "ext-1")]).await;
    no_identity.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/bob is not authorized to perform: sts:AssumeRole",
    );
}

fn session_id(world: &World, edge: &Edge, creds: &Creds) -> String {
    let ring = world.keys.session_ring(&world.snapshot());
    let key = AccessKeyId::parse(&creds.access_key_id).unwrap_or_else(|e| panic!("{e}"));
    let claims = token::open(
        creds.token.as_deref().unwrap_or_default(),
        &key,
        &ring,
        edge.now(),
        std::time::Duration::ZERO,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    claims.session_id.to_string()
}

#[tokio::test]
async fn revoking_older_sessions_denies_old_and_allows_new_in_every_region() {
    let mut world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let eu = Edge::new(&world, &snapshots, "eu-west-1");
    let us = Edge::new(&world, &snapshots, "us-east-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let old = assume(&eu, &alice, ROLE_DEV, "old", &[])
        .await
        .credentials();
    let listed = eu
        .call(
            &old,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            eu.now(),
        )
        .await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);

    world.ok(Command::RevokeRoleSessions {
        account_id: account(ACCOUNT_A),
        role_name: "dev".into(),
        issued_before: Timestamp::from_unix_seconds(T0 + 10),
    });
    snapshots.publish(&world);
    eu.advance(20);
    us.advance(20);
    let new = assume(&eu, &alice, ROLE_DEV, "new", &[])
        .await
        .credentials();

    for edge in [&eu, &us] {
        let denied = edge
            .call(
                &old,
                "iam",
                "2010-05-08",
                &[("Action", "ListRoles")],
                edge.now(),
            )
            .await;
        denied.assert_error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::111111111111:assumed-role/dev/old is not authorized to perform: \
             iam:ListRoles on resource: * with an explicit deny in an identity-based policy",
        );
        // GetCallerIdentity cannot be denied by policy.
        let who = edge.sts(&old, &[("Action", "GetCallerIdentity")]).await;
        assert_eq!(who.status.as_u16(), 200, "{}", who.body);
        let allowed = edge
            .call(
                &new,
                "iam",
                "2010-05-08",
                &[("Action", "ListRoles")],
                edge.now(),
            )
            .await;
        assert_eq!(
            allowed.status.as_u16(),
            200,
            "{} {}",
            edge.region,
            allowed.body
        );
    }
    let chain = assume(&eu, &old, ROLE_DEV, "again", &[]).await;
    chain.assert_error(403, "AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/dev/old is not authorized to perform: sts:AssumeRole");
}

#[tokio::test]
async fn a_denied_session_id_is_an_invalid_token_everywhere() {
    let mut world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let creds = assume(&edge, &alice, ROLE_DEV, "victim", &[])
        .await
        .credentials();
    let other = assume(&edge, &alice, ROLE_DEV, "other", &[])
        .await
        .credentials();
    let id = session_id(&world, &edge, &creds);
    world.ok(Command::DenySession {
        session_id: id,
        expires_at: Timestamp::from_unix_seconds(T0 + 3600),
    });
    snapshots.publish(&world);
    let who = edge.sts(&creds, &[("Action", "GetCallerIdentity")]).await;
    who.assert_error(403, "InvalidClientTokenId", INVALID_TOKEN);
    assert_eq!(who.message(), INVALID_TOKEN);
    let still = edge.sts(&other, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(still.status.as_u16(), 200, "{}", still.body);
}

#[tokio::test]
async fn bad_credentials_get_aws_answers() {
    let mut world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let session = assume(
        &edge,
        &alice,
        ROLE_DEV,
        "sss",
        &[("DurationSeconds", "900")],
    )
    .await
    .credentials();
    let second = assume(&edge, &alice, ROLE_DEV, "s2", &[])
        .await
        .credentials();
    let gci = [("Action", "GetCallerIdentity")];
    let token = session.token.clone().unwrap_or_default();

    let mut cases: Vec<(&str, Creds, u16, &str, &str)> = Vec::new();
    cases.push((
        "garbage token",
        Creds {
            token: Some("garbage".into()),
            ..session.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    let mut tampered = token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    cases.push((
        "tampered token",
        Creds {
            token: Some(String::from_utf8(tampered).unwrap_or_default()),
            ..session.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    cases.push((
        "token of another session",
        Creds {
            token: second.token.clone(),
            ..session.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    cases.push((
        "temporary key without token",
        Creds {
            token: None,
            ..session.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    cases.push((
        "long-term key with a token",
        Creds {
            token: Some(token.clone()),
            ..alice.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    cases.push((
        "unknown long-term key",
        Creds {
            access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
            ..alice.clone()
        },
        403,
        "InvalidClientTokenId",
        INVALID_TOKEN,
    ));
    cases.push((
        "wrong secret",
        Creds {
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ..alice.clone()
        },
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    ));
    cases.push((
        "wrong session secret",
        Creds {
            secret: second.secret.clone(),
            ..session.clone()
        },
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match",
    ));
    for (name, creds, status, code, message) in &cases {
        let reply = edge.sts(creds, &gci).await;
        assert_eq!(reply.status.as_u16(), *status, "{name}: {}", reply.body);
        assert_eq!(reply.code(), *code, "{name}: {}", reply.body);
        assert!(
            reply.message().starts_with(message),
            "{name}: {}",
            reply.message()
        );
    }

    // Signed 20 minutes ago.
    let stale = edge
        .call(
            &alice,
            "sts",
            "2011-06-15",
            &gci,
            edge.now().plus_seconds(-1200),
        )
        .await;
    stale.assert_error(403, "SignatureDoesNotMatch", "Signature expired: ");
    assert!(
        stale.message().ends_with(" - 15 min.)"),
        "{}",
        stale.message()
    );

    // Disabled, then deleted long-term keys.
    world.set_key_status(ACCOUNT_A, &alice.access_key_id, AccessKeyStatus::Inactive);
    snapshots.publish(&world);
    edge.sts(&alice, &gci)
        .await
        .assert_error(403, "InvalidClientTokenId", INVALID_TOKEN);
    world.set_key_status(ACCOUNT_A, &alice.access_key_id, AccessKeyStatus::Active);
    snapshots.publish(&world);
    assert_eq!(edge.sts(&alice, &gci).await.status.as_u16(), 200);
    world.ok(Command::DeleteAccessKey {
        account_id: account(ACCOUNT_A),
        user_name: None,
        access_key_id: alice.access_key_id.clone(),
    });
    snapshots.publish(&world);
    edge.sts(&alice, &gci)
        .await
        .assert_error(403, "InvalidClientTokenId", INVALID_TOKEN);

    // Sessions outlive their long-term key, and expire on time.
    assert_eq!(edge.sts(&session, &gci).await.status.as_u16(), 200);
    edge.advance(900 + 31);
    let expired = edge.sts(&session, &gci).await;
    expired.assert_error(
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    assert_eq!(
        expired.message(),
        "The security token included in the request is expired"
    );

    // Invalid session names, as AWS words it.
    let bob = world.creds(ACCOUNT_A, "bob");
    let bad_name = assume(&edge, &bob, ROLE_DEV, "Session1:2", &[]).await;
    bad_name.assert_error(400, "ValidationError", "");
    assert_eq!(
        bad_name.message(),
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    );
    let short = assume(&edge, &bob, ROLE_DEV, "a", &[]).await;
    short.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy \
         constraint: Member must have length greater than or equal to 2",
    );
}

#[tokio::test]
async fn get_session_token_and_its_restrictions() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");

    let reply = edge.sts(&alice, &[("Action", "GetSessionToken")]).await;
    assert_eq!(
        reply.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 43_200).to_iso8601_seconds()
    );
    let gst = reply.credentials();
    let short = edge
        .sts(
            &alice,
            &[("Action", "GetSessionToken"), ("DurationSeconds", "900")],
        )
        .await;
    assert_eq!(
        short.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 900).to_iso8601_seconds()
    );

    let who = edge.sts(&gst, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(
        who.must("GetCallerIdentityResult/Arn"),
        "arn:aws:iam::111111111111:user/alice"
    );
    assert!(
        who.must("GetCallerIdentityResult/UserId")
            .starts_with("AIDA")
    );

    edge.sts(&gst, &[("Action", "GetSessionToken")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        );
    edge.sts(&gst, &[("Action", "GetFederationToken"), ("Name", "fed")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Cannot call GetFederationToken with session credentials",
        );
    // Without MFA, IAM answers as for an unknown token (STS-API.md §3.3).
    edge.call(
        &gst,
        "iam",
        "2010-05-08",
        &[("Action", "ListRoles")],
        edge.now(),
    )
    .await
    .assert_error(403, "InvalidClientTokenId", INVALID_TOKEN);
    // On STS only AssumeRole and GetCallerIdentity.
    edge.sts(
        &gst,
        &[
            ("Action", "GetAccessKeyInfo"),
            ("AccessKeyId", &alice.access_key_id),
        ],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: \
             sts:GetAccessKeyInfo on resource: *",
    );
    let chained = assume(
        &edge,
        &gst,
        ROLE_DEV,
        "from-gst",
        &[("DurationSeconds", "3601")],
    )
    .await;
    chained.assert_error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour",
    );
    let role_session = assume(&edge, &gst, ROLE_DEV, "from-gst", &[])
        .await
        .credentials();
    edge.sts(&role_session, &[("Action", "GetSessionToken")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        );
    // A serial number that is not an MFA device of alice: AWS's refusal.
    edge.sts(
        &alice,
        &[
            ("Action", "GetSessionToken"),
            ("SerialNumber", "arn:aws:iam::111111111111:mfa/alice"),
            ("TokenCode", "123456"),
        ],
    )
    .await
    .assert_error(403, "AccessDenied", "MultiFactorAuthentication failed");
}

#[tokio::test]
async fn get_federation_token_sessions_are_user_intersect_policy() {
    let mut world = world_with_dev();
    world.create_policy(
        ACCOUNT_A,
        "FedAndRead",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetFederationToken","s3:GetObject"],"Resource":"*"}]}"#,
    );
    let dave = world.create_user(ACCOUNT_A, "dave", Some("FedAndRead"));
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let bob = world.creds(ACCOUNT_A, "bob");
    let s3_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    let with_policy = edge
        .sts(
            &alice,
            &[
                ("Action", "GetFederationToken"),
                ("Name", "fed1"),
                ("Policy", s3_all),
            ],
        )
        .await;
    assert_eq!(
        with_policy.must("FederatedUser/Arn"),
        "arn:aws:sts::111111111111:federated-user/fed1"
    );
    assert_eq!(
        with_policy.must("FederatedUser/FederatedUserId"),
        "111111111111:fed1"
    );
    assert_eq!(
        with_policy.must("Credentials/Expiration"),
        Timestamp::from_unix_seconds(T0 + 43_200).to_iso8601_seconds()
    );
    assert_ne!(
        with_policy.must("GetFederationTokenResult/PackedPolicySize"),
        "0"
    );
    let fed = with_policy.credentials();
    let without = edge
        .sts(
            &alice,
            &[("Action", "GetFederationToken"), ("Name", "fed0")],
        )
        .await;
    assert_eq!(
        without.must("GetFederationTokenResult/PackedPolicySize"),
        "0"
    );
    let bare = without.credentials();

    let who = edge.sts(&fed, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(
        who.must("GetCallerIdentityResult/UserId"),
        "111111111111:fed1"
    );
    assert_eq!(
        who.must("GetCallerIdentityResult/Arn"),
        "arn:aws:sts::111111111111:federated-user/fed1"
    );
    edge.call(&fed, "iam", "2010-05-08", &[("Action", "ListRoles")], edge.now())
        .await
        .assert_error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::111111111111:federated-user/fed1 is not authorized to perform: \
             iam:ListRoles on resource: * because no session policy allows the iam:ListRoles action",
        );
    assume(&edge, &fed, ROLE_DEV, "fff", &[]).await.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:sts::111111111111:federated-user/fed1 is not authorized to perform: sts:AssumeRole",
    );
    edge.sts(&bob, &[("Action", "GetFederationToken"), ("Name", "fed2")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "User: arn:aws:iam::111111111111:user/bob is not authorized to perform: \
             sts:GetFederationToken on resource: arn:aws:sts::111111111111:federated-user/fed2",
        );

    // Permissions = the user's ∩ the session policy; none without one.
    let dave_fed = edge
        .sts(
            &dave,
            &[
                ("Action", "GetFederationToken"),
                ("Name", "davefed"),
                ("Policy", s3_all),
            ],
        )
        .await
        .credentials();
    let object = "arn:aws:s3:::bucket/key";
    let check = |creds: &Creds, action: &str| {
        let caller = edge.authenticate(creds).unwrap_or_else(|e| panic!("{e}"));
        let request = edge.operation_request(caller, Service::Sts, "GetCallerIdentity", &[]);
        authz::authorize(&request, action, object)
    };
    assert!(check(&fed, "s3:GetObject").is_ok());
    assert!(check(&fed, "s3:PutObject").is_ok());
    assert!(check(&dave_fed, "s3:GetObject").is_ok());
    let put = check(&dave_fed, "s3:PutObject")
        .err()
        .unwrap_or_else(|| panic!("allowed"));
    assert!(
        put.message().unwrap_or_default().contains(
            "s3:PutObject on resource: arn:aws:s3:::bucket/key because no identity-based policy \
             allows the s3:PutObject action"
        ),
        "{put}"
    );
    let none = check(&bare, "s3:GetObject")
        .err()
        .unwrap_or_else(|| panic!("allowed"));
    assert!(
        none.message()
            .unwrap_or_default()
            .contains("because no session policy allows"),
        "{none}"
    );
}

#[tokio::test]
async fn get_access_key_info_reads_the_key_id() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "us-east-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let carol = world.creds(ACCOUNT_B, "carol");
    let session = assume(&edge, &alice, ROLE_DEV, "kkk", &[])
        .await
        .credentials();
    for (key, expected) in [
        (alice.access_key_id.as_str(), ACCOUNT_A),
        (carol.access_key_id.as_str(), ACCOUNT_B),
        (session.access_key_id.as_str(), ACCOUNT_A),
    ] {
        let reply = edge
            .sts(
                &carol,
                &[("Action", "GetAccessKeyInfo"), ("AccessKeyId", key)],
            )
            .await;
        assert_eq!(
            reply.must("GetAccessKeyInfoResult/Account"),
            expected,
            "{key}"
        );
    }
    let bob = world.creds(ACCOUNT_A, "bob");
    edge.sts(
        &bob,
        &[
            ("Action", "GetAccessKeyInfo"),
            ("AccessKeyId", &alice.access_key_id),
        ],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::111111111111:user/bob",
    );
}

#[tokio::test]
async fn a_disabled_region_refuses_issuance_and_keeps_verifying() {
    let mut world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let eu = Edge::new(&world, &snapshots, "eu-west-1");
    let us = Edge::new(&world, &snapshots, "us-east-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let session = assume(&eu, &alice, ROLE_DEV, "before", &[])
        .await
        .credentials();

    world.ok(Command::SetRegionIssuance {
        name: "eu-west-1".into(),
        enabled: false,
    });
    snapshots.publish(&world);
    let message = "STS is not activated in this region for account:111111111111. Your account \
                   administrator can activate STS in this region using the IAM Console.";
    let calls: [&[(&str, &str)]; 3] = [
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", ROLE_DEV),
            ("RoleSessionName", "xxx"),
        ],
        &[("Action", "GetSessionToken")],
        &[("Action", "GetFederationToken"), ("Name", "fed")],
    ];
    for params in calls {
        let reply = eu.sts(&alice, params).await;
        reply.assert_error(403, "RegionDisabledException", message);
        assert_eq!(reply.message(), message);
    }
    let who = eu.sts(&session, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(who.status.as_u16(), 200, "{}", who.body);
    let elsewhere = assume(&us, &alice, ROLE_DEV, "after", &[]).await;
    assert_eq!(elsewhere.status.as_u16(), 200, "{}", elsewhere.body);
}

#[tokio::test]
async fn stale_configuration_fails_issuance_closed() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let clock = std::sync::Arc::new(TestClock(std::sync::atomic::AtomicI64::new(T0 * 1000)));
    let freshness = Freshness::new();
    let edge = Edge::with(&world, &snapshots, "eu-west-1", clock, freshness.clone());
    let alice = world.creds(ACCOUNT_A, "alice");

    // Never confirmed current: no issuance, verification unaffected.
    let never = assume(&edge, &alice, ROLE_DEV, "sss", &[]).await;
    never.assert_error(
        503,
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
    );
    assert_eq!(
        edge.sts(&alice, &[("Action", "GetCallerIdentity")])
            .await
            .status
            .as_u16(),
        200
    );

    freshness.confirm(edge.now());
    let session = assume(&edge, &alice, ROLE_DEV, "sss", &[])
        .await
        .credentials();
    edge.advance(3601);
    assume(&edge, &alice, ROLE_DEV, "sss", &[])
        .await
        .assert_error(503, "ServiceUnavailable", "");
    assert_eq!(
        edge.sts(&session, &[("Action", "GetCallerIdentity")])
            .await
            .status
            .as_u16(),
        200
    );
    freshness.confirm(edge.now());
    assert_eq!(
        assume(&edge, &alice, ROLE_DEV, "sss", &[])
            .await
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn presigned_get_caller_identity_verifies() {
    use meridian_core::sigv4::request::{Payload, Request as SigRequest};
    use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};

    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let session = assume(&edge, &alice, ROLE_DEV, "presign", &[])
        .await
        .credentials();
    for creds in [&alice, &session] {
        let query = "Action=GetCallerIdentity&Version=2011-06-15";
        let headers: [(&str, &[u8]); 1] = [("host", HOST.as_bytes())];
        let presigned = signer::presign(
            &SigRequest {
                method: "GET",
                path: "/",
                query,
                headers: &headers,
                payload: Payload::Body(b""),
            },
            &SigningParams {
                access_key_id: &creds.access_key_id,
                secret_access_key: creds.secret.as_bytes(),
                session_token: creds.token.as_deref(),
                region: "eu-west-1",
                service: "sts",
                time: edge.now(),
                options: SigningOptions::standard(),
            },
            60,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let request = http::Request::builder()
            .method("GET")
            .uri(format!("/?{}", presigned.query))
            .header("host", HOST)
            .body(axum::body::Body::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        let reply = send(&edge.app, request).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        assert!(
            reply
                .must("GetCallerIdentityResult/Arn")
                .starts_with("arn:aws:")
        );
    }
}

#[tokio::test]
async fn iam_scopes_accept_us_east_1_and_the_node_region() {
    let world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let edge = Edge::new(&world, &snapshots, "eu-west-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    for region in ["eu-west-1", "us-east-1"] {
        let request = signed_request(
            &alice,
            region,
            "iam",
            "2010-05-08",
            &[("Action", "ListRoles")],
            edge.now(),
        );
        let reply = send(&edge.app, request).await;
        assert_eq!(reply.status.as_u16(), 200, "{region}: {}", reply.body);
    }
    let request = signed_request(
        &alice,
        "us-east-1",
        "sts",
        "2011-06-15",
        &[("Action", "GetCallerIdentity")],
        edge.now(),
    );
    send(&edge.app, request).await.assert_error(
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to a valid region, not 'us-east-1'.",
    );
}

#[tokio::test]
async fn key_rotation_keeps_old_sessions_until_their_key_is_destroyed() {
    let mut world = world_with_dev();
    let snapshots = Snapshots::new(&world);
    let eu = Edge::new(&world, &snapshots, "eu-west-1");
    let us = Edge::new(&world, &snapshots, "us-east-1");
    let alice = world.creds(ACCOUNT_A, "alice");
    let gci = [("Action", "GetCallerIdentity")];
    let under_key_1 = assume(&eu, &alice, ROLE_DEV, "k1", &[]).await.credentials();

    world.rotate_session_key(2, Timestamp::from_unix_seconds(T0 + 7200));
    snapshots.publish(&world);
    let under_key_2 = assume(&eu, &alice, ROLE_DEV, "k2", &[]).await.credentials();
    for edge in [&eu, &us] {
        for creds in [&under_key_1, &under_key_2] {
            let reply = edge.sts(creds, &gci).await;
            assert_eq!(
                reply.status.as_u16(),
                200,
                "{}: {}",
                edge.region,
                reply.body
            );
        }
    }

    world.advance_config(3 * 3600);
    world.ok(Command::DestroyKey {
        purpose: meridian_core::config::cluster::KeyPurpose::SessionToken,
        term: 1,
    });
    snapshots.publish(&world);
    for edge in [&eu, &us] {
        edge.sts(&under_key_1, &gci)
            .await
            .assert_error(403, "InvalidClientTokenId", INVALID_TOKEN);
        let reply = edge.sts(&under_key_2, &gci).await;
        assert_eq!(
            reply.status.as_u16(),
            200,
            "{}: {}",
            edge.region,
            reply.body
        );
    }
}
