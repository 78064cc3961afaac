//! Policy engine benchmarks (goals from issue 3): evaluating a realistic
//! request against a role with 10 identity statements with conditions, a
//! permissions boundary and a session policy (≤ 2 µs median); the adversarial
//! wildcard `*a*a*a*a*a*a*b` against 1,024 characters (≤ 1 ms worst case);
//! compiling a 6 KiB managed policy (≤ 50 µs). Also a cross-account
//! AssumeRole trust evaluation and the request-context build, so a missed
//! goal can be attributed.
//!
//! Run with `cargo bench -p meridian-core --bench policy`.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::policy::compile::Policy;
use meridian_core::policy::context::{Caller, RequestContext, Value};
use meridian_core::policy::evaluate::{
    DecisionKind, IdentityPolicies, PermissionSet, authorize, authorize_assume_role,
};
use meridian_core::policy::keys::KnownKey;
use meridian_core::policy::kind::{PolicyKind, policy_size};
use meridian_core::policy::wildcard::Wildcard;
use meridian_core::time::Timestamp;
use serde_json::json;

fn parse(kind: PolicyKind, document: serde_json::Value) -> Arc<Policy> {
    Arc::new(Policy::parse(kind, &document.to_string()).expect("bench policy parses"))
}

/// The role's policies: two managed policies and an inline one, 10
/// statements in all, most with conditions; a boundary; a session policy.
struct Role {
    identity: Vec<Arc<Policy>>,
    boundary: Arc<Policy>,
    session: Vec<Arc<Policy>>,
}

fn role() -> Role {
    let managed_data = parse(
        PolicyKind::Managed,
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Describe", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            {"Sid": "ListTeamPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::app-data",
             "Condition": {"StringLike": {"s3:prefix": ["team/${aws:PrincipalTag/team}/*"]}}},
            {"Sid": "TeamObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::app-data/team/${aws:PrincipalTag/team}/*",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject*", "Resource": "*"}
        ]}),
    );
    let managed_services = parse(
        PolicyKind::Managed,
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Tables", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
             "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/app-*",
             "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "owner", "payload"]}}},
            {"Sid": "Keys", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:eu-west-1:123456789012:key/*",
             "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}},
            {"Sid": "OnlyFromNetwork", "Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]},
                           "Bool": {"aws:ViaAWSService": "false"}}}
        ]}),
    );
    let inline = parse(
        PolicyKind::RoleInline,
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Queues", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:123456789012:app-*"},
            {"Sid": "AWSRevokeOlderSessions", "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
             "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-01T00:00:00Z"}}},
            {"Sid": "Regions", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}}
        ]}),
    );
    let boundary = parse(
        PolicyKind::PermissionsBoundary,
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Ceiling", "Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sqs:*", "kms:Decrypt", "ec2:Describe*"], "Resource": "*"},
            {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}
        ]}),
    );
    let session = parse(
        PolicyKind::Session,
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::app-data*"},
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
        ]}),
    );
    Role {
        identity: vec![managed_data, managed_services, inline],
        boundary,
        session: vec![session],
    }
}

const SESSION_ARN: &str = "arn:aws:sts::123456789012:assumed-role/app-reader/worker-7";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/service/app-reader";

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_669_708)
}

/// The request an S3-like service would ask about for a role session.
fn request(source_ip: IpAddr) -> RequestContext<'static> {
    let mut ctx = RequestContext::new("s3:GetObject", now())
        .with_resource("arn:aws:s3:::app-data/team/blue/reports/2026-11.csv")
        .with_resource_account("123456789012")
        .with_caller(Caller::AssumedRole {
            account: "123456789012",
            session_arn: SESSION_ARN,
            role_arn: ROLE_ARN,
            role_id: Some("AROAIDPPEZS35WEXAMPLE"),
        });
    ctx.insert_known(
        KnownKey::UserId,
        Value::String("AROAIDPPEZS35WEXAMPLE:worker-7"),
    )
    .insert_known(KnownKey::SourceIp, Value::Ip(source_ip))
    .insert_known(KnownKey::SecureTransport, Value::Bool(true))
    .insert_known(KnownKey::ViaAwsService, Value::Bool(false))
    .insert_known(KnownKey::RequestedRegion, Value::String("eu-west-1"))
    .insert_known(
        KnownKey::TokenIssueTime,
        Value::Date(now().plus_seconds(-600)),
    )
    .insert_known(KnownKey::MultiFactorAuthPresent, Value::Bool(true))
    .insert_known(
        KnownKey::UserAgent,
        Value::String("aws-sdk-rust/1.5.0 os/linux"),
    )
    .principal_tag("team", "blue")
    .principal_tag("cost-center", "4711");
    ctx
}

/// A realistic managed policy of about 6 KiB: as many statements as fit
/// (14), each with an action list, ARNs with wildcards and a variable, and
/// three conditions.
fn six_kib_document() -> String {
    let services = [
        "s3", "dynamodb", "sqs", "sns", "kms", "logs", "ec2", "lambda",
    ];
    let statement = |i: usize| {
        let service = services[i % services.len()];
        json!({
            "Sid": format!("Statement{i}"),
            "Effect": if i % 6 == 5 { "Deny" } else { "Allow" },
            "Action": [format!("{service}:Get*"), format!("{service}:List*"), format!("{service}:Describe*")],
            "Resource": [
                format!("arn:aws:{service}:eu-west-1:123456789012:app-{i}/*"),
                format!("arn:aws:{service}:eu-west-1:123456789012:team/${{aws:PrincipalTag/team}}/{i}")
            ],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]},
                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                "DateGreaterThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}
            }
        })
    };
    let render = |count: usize| {
        json!({"Version": "2012-10-17", "Statement": (0..count).map(statement).collect::<Vec<_>>()})
            .to_string()
    };
    let mut count = 1;
    while policy_size(&render(count + 1)) <= 6_144 {
        count += 1;
    }
    let text = render(count);
    let size = policy_size(&text);
    assert!(
        (5_700..=6_144).contains(&size),
        "6 KiB document is {size} characters"
    );
    text
}

fn bench_evaluate(c: &mut Criterion) {
    let role = role();
    let perms = PermissionSet {
        identity: IdentityPolicies::Policies(&role.identity),
        boundary: Some(&role.boundary),
        session: Some(&role.session),
    };
    let ctx = request("10.20.30.40".parse().expect("ip"));
    assert_eq!(authorize(&perms, &ctx).kind, DecisionKind::Allow);
    let outside = request("203.0.113.9".parse().expect("ip"));
    assert_eq!(authorize(&perms, &outside).kind, DecisionKind::ExplicitDeny);

    let mut group = c.benchmark_group("policy/evaluate");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("role_10_statements_boundary_session", |b| {
        b.iter(|| authorize(black_box(&perms), black_box(&ctx)))
    });
    group.bench_function("role_10_statements_explicit_deny", |b| {
        b.iter(|| authorize(black_box(&perms), black_box(&outside)))
    });
    group.bench_function("build_context_and_evaluate", |b| {
        b.iter(|| {
            let ctx = request(black_box("10.20.30.40".parse().expect("ip")));
            authorize(black_box(&perms), &ctx).kind
        })
    });
    group.bench_function("build_context", |b| {
        b.iter(|| request(black_box("10.20.30.40".parse().expect("ip"))))
    });

    let trust = Policy::parse(
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
             "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"Unique ID Assigned by Example Corp"}}},
            {"Sid":"Tags","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:TagSession"}]}"#,
    )
    .expect("trust policy");
    let caller_policies = vec![Arc::new(
        Policy::parse(
            PolicyKind::Managed,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}}"#,
        )
        .expect("caller policy"),
    )];
    let caller_perms = PermissionSet::identity(&caller_policies);
    let mut assume = RequestContext::new("sts:AssumeRole", now())
        .with_resource("arn:aws:iam::123456789012:role/Partner")
        .with_caller(Caller::User {
            account: "444455556666",
            arn: "arn:aws:iam::444455556666:user/carol",
            user_id: Some("AIDAEXAMPLEUSERID0001"),
        });
    assume.insert_known(
        KnownKey::ExternalId,
        Value::String("Unique ID Assigned by Example Corp"),
    );
    assert!(authorize_assume_role(&trust, Some(&caller_perms), &assume).is_allowed());
    group.bench_function("assume_role_cross_account_external_id", |b| {
        b.iter(|| {
            authorize_assume_role(
                black_box(&trust),
                Some(black_box(&caller_perms)),
                black_box(&assume),
            )
        })
    });
    group.finish();
}

fn bench_wildcard(c: &mut Criterion) {
    let input = "a".repeat(1_024);
    let mut group = c.benchmark_group("policy/wildcard");
    let adversarial = Wildcard::new("*a*a*a*a*a*a*b");
    assert!(!adversarial.matches(&input));
    group.bench_function("adversarial_7_stars_1024_chars", |b| {
        b.iter(|| black_box(&adversarial).matches(black_box(&input)))
    });
    let long = Wildcard::new(&("*a".repeat(127) + "*b"));
    assert!(!long.matches(&input));
    group.bench_function("adversarial_128_stars_256_char_pattern_1024_chars", |b| {
        b.iter(|| black_box(&long).matches(black_box(&input)))
    });
    let any_chars = Wildcard::new(&("*?".repeat(127) + "*b"));
    group.bench_function("adversarial_question_marks_1024_chars", |b| {
        b.iter(|| black_box(&any_chars).matches(black_box(&input)))
    });
    // The real worst case for this matcher: a middle segment of `?`s that
    // matches almost everywhere and fails only at its end, so every start
    // position walks the whole segment — |input| × |pattern| steps, the
    // bound, with a 256-character pattern and a 1,024-character input.
    let input_b = format!("{}b", "a".repeat(1_023));
    let question_segment = format!("*{}c*b", "a?".repeat(126));
    assert_eq!(question_segment.len(), 256);
    let worst = Wildcard::new(&question_segment);
    assert!(!worst.matches(&input_b));
    group.bench_function("worst_question_segment_256_char_pattern_1024_chars", |b| {
        b.iter(|| black_box(&worst).matches(black_box(&input_b)))
    });
    let worst_folded = Wildcard::new_ignore_ascii_case(&question_segment);
    assert!(!worst_folded.matches(&input_b));
    group.bench_function("worst_question_segment_ignore_case", |b| {
        b.iter(|| black_box(&worst_folded).matches(black_box(&input_b)))
    });
    // Non-ASCII input cannot use the bit-parallel search (`?` is one
    // character, not one byte): the fallback's worst case.
    let input_e = format!("{}b", "é".repeat(1_023));
    let question_segment_e = format!("*{}c*b", "é?".repeat(126));
    let worst_e = Wildcard::new(&question_segment_e);
    assert!(!worst_e.matches(&input_e));
    group.bench_function("worst_question_segment_non_ascii_1024_chars", |b| {
        b.iter(|| black_box(&worst_e).matches(black_box(&input_e)))
    });
    let literal_segment = format!("*{}c*", "a".repeat(254));
    let worst_literal_folded = Wildcard::new_ignore_ascii_case(&literal_segment);
    assert!(!worst_literal_folded.matches(&input));
    group.bench_function("worst_literal_segment_ignore_case", |b| {
        b.iter(|| black_box(&worst_literal_folded).matches(black_box(&input)))
    });
    let typical = Wildcard::new("arn:aws:s3:::app-data/team/*/reports/*.csv");
    let arn = "arn:aws:s3:::app-data/team/blue/reports/2026-11.csv";
    assert!(typical.matches(arn));
    group.bench_function("typical_resource", |b| {
        b.iter(|| black_box(&typical).matches(black_box(arn)))
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let text = six_kib_document();
    let mut group = c.benchmark_group("policy/compile");
    group.bench_function("managed_6_kib", |b| {
        b.iter(|| Policy::parse(PolicyKind::Managed, black_box(&text)).expect("parses"))
    });
    // Reference point: serde_json alone, parsing the same text into a
    // generic value (no validation, no compilation).
    group.bench_function("reference_serde_json_value_6_kib", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&text)).expect("json"))
    });
    let policy = Policy::parse(PolicyKind::Managed, &text).expect("parses");
    group.bench_function("canonical_json_6_kib", |b| {
        b.iter(|| black_box(&policy).to_canonical_json())
    });
    group.finish();
}

criterion_group!(benches, bench_evaluate, bench_wildcard, bench_compile);
criterion_main!(benches);
