//! Evaluation allocates nothing: building a request context of up to 16 keys
//! and evaluating identity, boundary, session and trust policies — with
//! variables, wildcards, typed conditions and set operators — is checked
//! against a counting global allocator.
//!
//! The counter is process-wide, so this binary holds exactly one test: a
//! second test running on another thread would be counted too.

use std::alloc::System;
use std::sync::Arc;

use meridian_core::policy::compile::Policy;
use meridian_core::policy::context::{Caller, RequestContext, Value};
use meridian_core::policy::evaluate::{
    DecisionKind, IdentityPolicies, PermissionSet, authorize, authorize_assume_role,
};
use meridian_core::policy::keys::KnownKey;
use meridian_core::policy::kind::PolicyKind;
use meridian_core::time::Timestamp;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn policy(kind: PolicyKind, text: &str) -> Arc<Policy> {
    Arc::new(Policy::parse(kind, text).expect("policy parses"))
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_669_708)
}

fn context(source_ip: &'static str) -> RequestContext<'static> {
    let mut ctx = RequestContext::new("s3:GetObject", now())
        .with_resource("arn:aws:s3:::app-data/team/blue/reports/2026-11.csv")
        .with_resource_account("123456789012")
        .with_caller(Caller::AssumedRole {
            account: "123456789012",
            session_arn: "arn:aws:sts::123456789012:assumed-role/app-reader/worker-7",
            role_arn: "arn:aws:iam::123456789012:role/service/app-reader",
            role_id: Some("AROAIDPPEZS35WEXAMPLE"),
        });
    ctx.insert_known(
        KnownKey::UserId,
        Value::String("AROAIDPPEZS35WEXAMPLE:worker-7"),
    )
    .insert("aws:SourceIp", Value::String(source_ip))
    .insert_known(KnownKey::SecureTransport, Value::Bool(true))
    .insert_known(KnownKey::RequestedRegion, Value::String("eu-west-1"))
    .insert_known(
        KnownKey::TokenIssueTime,
        Value::Date(now().plus_seconds(-600)),
    )
    .insert_known(KnownKey::MultiFactorAuthAge, Value::Number(120.0))
    .insert_known(KnownKey::TagKeys, Value::String("project"))
    .insert("s3:prefix", Value::String("team/blue/reports/"))
    .principal_tag("team", "blue")
    .principal_tag("Department", "Finance");
    ctx
}

#[test]
fn evaluation_and_context_building_do_not_allocate() {
    let identity = vec![
        policy(
            PolicyKind::Managed,
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"Team","Effect":"Allow","Action":["s3:Get*","s3:List*"],
               "Resource":"arn:aws:s3:::app-data/team/${aws:PrincipalTag/team}/*",
               "Condition":{"Bool":{"aws:SecureTransport":"true"},
                            "StringLike":{"s3:prefix":"team/${aws:PrincipalTag/team}/*"},
                            "StringEqualsIgnoreCase":{"aws:PrincipalTag/department":"FINANCE"},
                            "NumericLessThan":{"aws:MultiFactorAuthAge":3600},
                            "ForAllValues:StringEquals":{"aws:TagKeys":["project","team"]},
                            "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/service/*"}}},
              {"Sid":"Network","Effect":"Deny","Action":"*","Resource":"*",
               "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}},
              {"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*",
               "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-01T00:00:00Z"}}}]}"#,
        ),
        policy(
            PolicyKind::RoleInline,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*",
               "Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}}}"#,
        ),
    ];
    let boundary = policy(
        PolicyKind::PermissionsBoundary,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","sts:AssumeRole"],"Resource":"*"}}"#,
    );
    let session = vec![policy(
        PolicyKind::Session,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::app-data/*"}}"#,
    )];
    let perms = PermissionSet {
        identity: IdentityPolicies::Policies(&identity),
        boundary: Some(&boundary),
        session: Some(&session),
    };
    let trust = policy(
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
           "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Unique ID"},
           "StringLike":{"sts:RoleSessionName":"${aws:username}*"}}}}"#,
    );
    let caller_policies = vec![policy(
        PolicyKind::Managed,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/*"}}"#,
    )];
    let caller_perms = PermissionSet::identity(&caller_policies);

    // Expected outcomes first, outside the measured region.
    let inside = context("10.1.2.3");
    let outside = context("203.0.113.9");
    assert_eq!(authorize(&perms, &inside).kind, DecisionKind::Allow);
    assert_eq!(authorize(&perms, &outside).kind, DecisionKind::ExplicitDeny);
    let assume = || {
        let mut ctx = RequestContext::new("sts:AssumeRole", now())
            .with_resource("arn:aws:iam::123456789012:role/Partner")
            .with_caller(Caller::User {
                account: "444455556666",
                arn: "arn:aws:iam::444455556666:user/carol",
                user_id: Some("AIDAEXAMPLEUSERID0001"),
            });
        ctx.insert_known(KnownKey::ExternalId, Value::String("Unique ID"))
            .insert_known(KnownKey::RoleSessionName, Value::String("carol-laptop"));
        ctx
    };
    assert!(authorize_assume_role(&trust, Some(&caller_perms), &assume()).is_allowed());

    let region = Region::new(GLOBAL);
    let mut allowed = 0;
    for _ in 0..100 {
        let inside = context("10.1.2.3");
        let outside = context("203.0.113.9");
        allowed += usize::from(authorize(&perms, &inside).is_allowed());
        allowed += usize::from(authorize(&perms, &outside).is_allowed());
        allowed +=
            usize::from(authorize_assume_role(&trust, Some(&caller_perms), &assume()).is_allowed());
    }
    let change = region.change();
    assert_eq!(allowed, 200);
    assert_eq!(
        (
            change.allocations,
            change.reallocations,
            change.bytes_allocated
        ),
        (0, 0, 0),
        "evaluation allocated: {change:?}"
    );
}
