//! Parsing and validation: documents that must be rejected (with AWS's code
//! and wording), documents that must be accepted (with their canonical JSON),
//! size and nesting limits per kind, and properties — random valid documents
//! round-trip through parse → compile → canonical JSON, arbitrary and mutated
//! input never panics, and evaluation invariants hold for random policies.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian_core::policy::compile::Policy;
use meridian_core::policy::context::{Caller, RequestContext};
use meridian_core::policy::errors::{PolicyError, PolicyErrorCode};
use meridian_core::policy::evaluate::{DecisionKind, PermissionSet, authorize};
use meridian_core::policy::kind::{PolicyKind, policy_size};
use meridian_core::time::Timestamp;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

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

fn fixture(name: &str) -> Vec<Json> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/policy/parse")
        .join(name);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root: Json = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    root["cases"].as_array().expect("cases").clone()
}

/// The document text of a fixture case: `text` verbatim, or `document`
/// serialized.
fn case_text(case: &Json) -> String {
    match (case.get("text"), case.get("document")) {
        (Some(Json::String(text)), _) => text.clone(),
        (_, Some(document)) => document.to_string(),
        _ => panic!("case without text or document: {case}"),
    }
}

#[test]
fn rejected_documents() {
    let mut failures = Vec::new();
    for case in fixture("rejected.json") {
        let name = case["name"].as_str().expect("name");
        let kind = kind_of(case["kind"].as_str().expect("kind"));
        let code = case["code"].as_str().expect("code");
        let message = case["message"].as_str().expect("message");
        match Policy::parse(kind, &case_text(&case)) {
            Ok(policy) => failures.push(format!("{name}: accepted as {policy:?}")),
            Err(error) => {
                if error.code().as_str() != code || !error.aws_message().contains(message) {
                    failures.push(format!(
                        "{name}: expected {code} containing {message:?}, got {} {:?}",
                        error.code(),
                        error.aws_message()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepted_documents_and_their_canonical_form() {
    let mut failures = Vec::new();
    for case in fixture("accepted.json") {
        let name = case["name"].as_str().expect("name");
        let kind = kind_of(case["kind"].as_str().expect("kind"));
        let policy = match Policy::parse(kind, &case_text(&case)) {
            Ok(policy) => policy,
            Err(error) => {
                failures.push(format!(
                    "{name}: rejected: {error} / {}",
                    error.aws_message()
                ));
                continue;
            }
        };
        let canonical = policy.to_canonical_json();
        if let Some(expected) = case.get("canonical").and_then(Json::as_str)
            && canonical != expected
        {
            failures.push(format!(
                "{name}:\n  expected {expected}\n  got      {canonical}"
            ));
        }
        match Policy::parse(kind, &canonical) {
            Ok(again) if again.to_canonical_json() == canonical => {}
            other => failures.push(format!(
                "{name}: canonical form does not re-parse to itself: {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A document of `kind` whose AWS-counted size is exactly `size`, padded in a
/// resource ARN (or, for trust policies, a condition value).
fn document_of_size(kind: PolicyKind, size: usize) -> String {
    let build = |padding: &str| {
        match kind {
        PolicyKind::Trust => json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
            "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": padding}}}})
        .to_string(),
        _ => json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{padding}")}})
        .to_string(),
    }
    };
    let base = policy_size(&build(""));
    assert!(size >= base, "size {size} below the minimum {base}");
    let text = build(&"x".repeat(size - base));
    assert_eq!(policy_size(&text), size);
    text
}

#[test]
fn size_limits_per_kind() {
    let cases = [
        (
            PolicyKind::Managed,
            6_144,
            "Cannot exceed quota for PolicySize: 6144",
        ),
        (
            PolicyKind::PermissionsBoundary,
            6_144,
            "Cannot exceed quota for PolicySize: 6144",
        ),
        (
            PolicyKind::RoleInline,
            10_240,
            "Maximum policy size of 10240 bytes exceeded",
        ),
        (
            PolicyKind::UserInline,
            2_048,
            "Maximum policy size of 2048 bytes exceeded",
        ),
        (
            PolicyKind::GroupInline,
            5_120,
            "Maximum policy size of 5120 bytes exceeded",
        ),
        (
            PolicyKind::Trust,
            2_048,
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ),
    ];
    for (kind, limit, message) in cases {
        let fits = document_of_size(kind, limit);
        let policy = Policy::parse(kind, &fits).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(policy.size(), limit, "{kind}");
        let error = Policy::parse(kind, &document_of_size(kind, limit + 1)).unwrap_err();
        assert_eq!(error.code(), PolicyErrorCode::LimitExceeded, "{kind}");
        assert_eq!(error.aws_message(), message, "{kind}");
        assert!(matches!(
            error,
            PolicyError::SizeLimitExceeded { size, limit: l, .. } if size == limit + 1 && l == limit
        ));
    }
}

#[test]
fn whitespace_is_not_counted_for_iam_documents() {
    let compact = document_of_size(PolicyKind::Managed, 6_144);
    let value: Json = serde_json::from_str(&compact).unwrap();
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    // Pretty-printing adds whitespace only between tokens; add plenty more
    // after the opening brace and around the document.
    let spaced = format!(
        " \n{}\r\n\t",
        pretty.replacen('{', &format!("{{{}", " \n".repeat(500)), 1)
    );
    assert!(spaced.len() > 6_144 + 1_000);
    let policy = Policy::parse(PolicyKind::Managed, &spaced).expect("whitespace does not count");
    assert_eq!(policy.size(), 6_144);
}

#[test]
fn trust_policy_quota_can_be_raised() {
    let text = document_of_size(PolicyKind::Trust, 4_096);
    assert!(Policy::parse(PolicyKind::Trust, &text).is_err());
    assert!(Policy::parse_with_limit(PolicyKind::Trust, &text, 4_096).is_ok());
    let over = document_of_size(PolicyKind::Trust, 4_097);
    assert_eq!(
        Policy::parse_with_limit(PolicyKind::Trust, &over, 4_096)
            .unwrap_err()
            .code(),
        PolicyErrorCode::LimitExceeded
    );
}

#[test]
fn session_policies_count_whitespace_and_fail_validation() {
    let compact = document_of_size(PolicyKind::Managed, 200);
    let padded = format!("{compact}{}", " ".repeat(2_048 - compact.chars().count()));
    assert_eq!(padded.chars().count(), 2_048);
    assert!(Policy::parse(PolicyKind::Session, &padded).is_ok());
    let over = format!("{padded} ");
    let error = Policy::parse(PolicyKind::Session, &over).unwrap_err();
    assert_eq!(error.code(), PolicyErrorCode::ValidationError);
    assert_eq!(
        error.aws_message(),
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: \
         Member must have length less than or equal to 2048"
    );
}

#[test]
fn huge_documents_are_refused_before_parsing() {
    // 10 MB: refused on the parameter length, in well under a second even in
    // a debug build (it is not even scanned).
    let huge = format!("{{\"Statement\":[{}]}}", "{}, ".repeat(2_500_000));
    let started = Instant::now();
    let error = Policy::parse(PolicyKind::Managed, &huge).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(error.code(), PolicyErrorCode::ValidationError);
    assert!(matches!(
        error,
        PolicyError::ParameterTooLong { max: 131_072, .. }
    ));

    // 100,000 statements: over the parameter limit, a validation error.
    let statement = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    let all = format!("{{\"Statement\":[{}]}}", vec![statement; 100_000].join(","));
    let error = Policy::parse(PolicyKind::RoleInline, &all).unwrap_err();
    assert_eq!(error.code(), PolicyErrorCode::ValidationError);

    // 2,500 statements fit the parameter but not the role's inline quota.
    let many = format!("{{\"Statement\":[{}]}}", vec![statement; 2_500].join(","));
    let error = Policy::parse(PolicyKind::RoleInline, &many).unwrap_err();
    assert_eq!(error.code(), PolicyErrorCode::LimitExceeded);
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    for depth in [17, 100, 10_000] {
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let error = Policy::parse(PolicyKind::RoleInline, &text).unwrap_err();
        assert_eq!(
            error.code(),
            PolicyErrorCode::MalformedPolicyDocument,
            "{depth}"
        );
        assert!(
            matches!(error, PolicyError::TooDeep { limit: 16 }),
            "{depth}: {error:?}"
        );
    }
    // Deep objects inside a condition value are refused the same way.
    let nested = format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"a:b":{}"x"{}}}}}}}}}"#,
        "[".repeat(14),
        "]".repeat(14)
    );
    assert!(matches!(
        Policy::parse(PolicyKind::Managed, &nested),
        Err(PolicyError::TooDeep { .. })
    ));
    // Sixteen levels are fine for the pre-scan (the grammar then rejects the
    // nested arrays as wrong types, with a syntax error).
    let sixteen = format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"a:b":{}"x"{}}}}}}}}}"#,
        "[".repeat(12),
        "]".repeat(12)
    );
    assert_eq!(
        Policy::parse(PolicyKind::Managed, &sixteen)
            .unwrap_err()
            .aws_message()
            .split(" (")
            .next(),
        Some("Syntax errors in policy.")
    );
}

#[test]
fn principals_are_listed_for_the_store() {
    let trust = Policy::parse(
        PolicyKind::Trust,
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
    )
    .unwrap();
    let listed: Vec<(&str, &str)> = trust
        .principals()
        .map(|(kind, value)| (kind.key(), value))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("AWS", "arn:aws:iam::111122223333:user/alice"),
            ("AWS", "111122223333"),
            ("Federated", "accounts.google.com"),
        ]
    );
    assert_eq!(trust.statement_count(), 2);
    assert_eq!(trust.version(), "2012-10-17");
}

#[test]
fn policies_are_send_sync_and_cheap_to_share() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    let policy = Arc::new(
        Policy::parse(
            PolicyKind::Managed,
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap(),
    );
    let shared = std::thread::spawn({
        let policy = Arc::clone(&policy);
        move || policy.statement_count()
    })
    .join()
    .unwrap();
    assert_eq!(shared, 1);
    assert_eq!(policy.version(), "2008-10-17");
}

// ---------------------------------------------------------------------------
// Properties.

fn one_or_many(values: Vec<String>, as_array: bool) -> Json {
    if values.len() == 1 && !as_array {
        Json::String(values.into_iter().next().unwrap_or_default())
    } else {
        Json::Array(values.into_iter().map(Json::String).collect())
    }
}

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::from("*")),
        ("[a-z][a-z0-9-]{0,7}", "[A-Za-z*?]{1,12}").prop_map(|(v, n)| format!("{v}:{n}")),
    ]
}

fn sts_action() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::from("sts:AssumeRole")),
        Just(String::from("sts:AssumeRoleWithWebIdentity")),
        Just(String::from("sts:TagSession")),
        Just(String::from("sts:*")),
    ]
}

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::from("*")),
        "[a-z0-9/*?.-]{0,16}".prop_map(|tail| format!("arn:aws:s3:::{tail}")),
        "[A-Za-z0-9_+=,.@-]{1,12}"
            .prop_map(|name| format!("arn:aws:iam::123456789012:role/{name}")),
        "[a-z*]{1,6}".prop_map(|name| format!("arn:aws:sqs:*:*:{name}")),
    ]
}

fn principal() -> impl Strategy<Value = Json> {
    let aws = prop_oneof![
        "[0-9]{12}",
        "[0-9]{12}".prop_map(|a| format!("arn:aws:iam::{a}:root")),
        "[A-Za-z0-9_+=,.@-]{1,12}".prop_map(|n| format!("arn:aws:iam::123456789012:user/{n}")),
        "[A-Za-z0-9_+=,.@-]{1,12}".prop_map(|n| format!("arn:aws:iam::123456789012:role/{n}")),
    ];
    prop_oneof![
        Just(json!("*")),
        (prop::collection::vec(aws, 1..4), any::<bool>())
            .prop_map(|(v, a)| json!({"AWS": one_or_many(v, a)})),
        Just(json!({"Service": "ec2.amazonaws.com"})),
        Just(
            json!({"Federated": ["accounts.google.com", "arn:aws:iam::123456789012:saml-provider/Okta"]})
        ),
    ]
}

/// Condition values that fit each operator family.
fn condition_block() -> impl Strategy<Value = Json> {
    let string_value = prop_oneof![
        Just(Json::from("")),
        any::<String>().prop_map(Json::from),
        "[a-z${}:/*?]{0,12}".prop_map(Json::from),
    ];
    let entry = prop_oneof![
        (prop::collection::vec(string_value, 1..3)).prop_map(|v| ("StringLike", Json::Array(v))),
        "[a-zA-Z0-9 ]{0,10}".prop_map(|v| ("ForAnyValue:StringEqualsIgnoreCase", Json::from(v))),
        (0i64..100_000).prop_map(|n| ("NumericLessThan", json!(n))),
        (0u32..1000).prop_map(|n| (
            "NumericEqualsIfExists",
            json!(format!("{}.{}", n / 10, n % 10))
        )),
        (2000i32..2100, 1u8..13, 1u8..29).prop_map(|(y, m, d)| (
            "DateGreaterThan",
            json!(format!("{y:04}-{m:02}-{d:02}T00:00:00Z"))
        )),
        (0i64..2_000_000_000)
            .prop_map(|n| ("ForAllValues:DateLessThanEquals", json!(n.to_string()))),
        any::<bool>().prop_map(|b| ("Bool", json!(b))),
        any::<bool>().prop_map(|b| ("Null", json!(if b { "true" } else { "false" }))),
        (any::<[u8; 4]>(), 0u8..33).prop_map(|(ip, bits)| (
            "NotIpAddress",
            json!(format!("{}.{}.{}.{}/{bits}", ip[0], ip[1], ip[2], ip[3]))
        )),
        resource().prop_map(|r| ("ArnLike", json!(r))),
        Just(("BinaryEquals", json!("QmluYXJ5VmFsdWVJbkJhc2U2NA=="))),
    ];
    prop::collection::vec((entry, "[a-z]{1,4}:[A-Za-z/]{1,8}"), 0..4).prop_map(|entries| {
        let mut block = serde_json::Map::new();
        for ((operator, value), key) in entries {
            let keys = block
                .entry(operator.to_owned())
                .or_insert_with(|| Json::Object(serde_json::Map::new()));
            if let Json::Object(keys) = keys {
                keys.insert(key, value);
            }
        }
        Json::Object(block)
    })
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Identity,
    Trust,
    Resource,
}

fn statement(shape: Shape) -> impl Strategy<Value = Json> {
    let actions = match shape {
        Shape::Trust => prop::collection::vec(sts_action(), 1..3).boxed(),
        _ => prop::collection::vec(action(), 1..4).boxed(),
    };
    (
        prop::option::of("[A-Za-z0-9]{0,8}"),
        any::<bool>(),
        actions,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(resource(), 1..3),
        any::<bool>(),
        principal(),
        any::<bool>(),
        condition_block(),
    )
        .prop_map(
            move |(
                sid,
                deny,
                actions,
                not_action,
                actions_array,
                resources,
                not_resource,
                principal,
                not_principal,
                condition,
            )| {
                let mut statement = serde_json::Map::new();
                if let Some(sid) = sid {
                    statement.insert("Sid".into(), json!(sid));
                }
                statement.insert("Effect".into(), json!(if deny { "Deny" } else { "Allow" }));
                let action_key = if not_action && !matches!(shape, Shape::Trust) {
                    "NotAction"
                } else {
                    "Action"
                };
                statement.insert(action_key.into(), one_or_many(actions, actions_array));
                if !matches!(shape, Shape::Trust) {
                    let key = if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    };
                    statement.insert(key.into(), one_or_many(resources, false));
                }
                match shape {
                    Shape::Identity => {}
                    Shape::Trust => {
                        statement.insert("Principal".into(), principal);
                    }
                    Shape::Resource => {
                        let key = if not_principal && deny {
                            "NotPrincipal"
                        } else {
                            "Principal"
                        };
                        statement.insert(key.into(), principal);
                    }
                }
                if condition.as_object().is_some_and(|c| !c.is_empty()) {
                    statement.insert("Condition".into(), condition);
                }
                Json::Object(statement)
            },
        )
}

fn document(shape: Shape) -> impl Strategy<Value = Json> {
    (
        prop_oneof![
            Just(Some("2012-10-17")),
            Just(Some("2008-10-17")),
            Just(None)
        ],
        prop::option::of("[A-Za-z0-9-]{1,10}"),
        prop::collection::vec(statement(shape), 1..4),
        any::<bool>(),
    )
        .prop_map(|(version, id, mut statements, as_array)| {
            // Sids must be unique: make them so by position.
            for (index, statement) in statements.iter_mut().enumerate() {
                if let Some(Json::String(sid)) = statement.get_mut("Sid") {
                    sid.push_str(&format!("N{index}"));
                }
            }
            let mut document = serde_json::Map::new();
            if let Some(version) = version {
                document.insert("Version".into(), json!(version));
            }
            if let Some(id) = id {
                document.insert("Id".into(), json!(id));
            }
            let statement = if statements.len() == 1 && !as_array {
                statements.remove(0)
            } else {
                Json::Array(statements)
            };
            document.insert("Statement".into(), statement);
            Json::Object(document)
        })
}

fn shaped_document() -> impl Strategy<Value = (PolicyKind, Json)> {
    prop_oneof![
        document(Shape::Identity).prop_map(|d| (PolicyKind::Managed, d)),
        document(Shape::Trust).prop_map(|d| (PolicyKind::Trust, d)),
        document(Shape::Resource).prop_map(|d| (PolicyKind::Resource, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// parse → compile → canonical JSON says the same JSON as the input, and
    /// the canonical form is a fixed point.
    #[test]
    fn random_documents_round_trip((kind, document) in shaped_document(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&document).unwrap()
        } else {
            document.to_string()
        };
        let policy = Policy::parse_with_limit(kind, &text, 131_072)
            .map_err(|e| TestCaseError::fail(format!("{e} / {} in {text}", e.aws_message())))?;
        let canonical = policy.to_canonical_json();
        let reread: Json = serde_json::from_str(&canonical).unwrap();
        prop_assert_eq!(&reread, &document);
        let again = Policy::parse_with_limit(kind, &canonical, 131_072).unwrap();
        prop_assert_eq!(again.to_canonical_json(), canonical);
    }

    /// Arbitrary text never panics; whatever is accepted renders to a form
    /// that is accepted again.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}", kind in 0usize..8) {
        let kinds = [
            PolicyKind::Managed, PolicyKind::PermissionsBoundary, PolicyKind::RoleInline,
            PolicyKind::UserInline, PolicyKind::GroupInline, PolicyKind::Trust,
            PolicyKind::Session, PolicyKind::Resource,
        ];
        let kind = kinds[kind];
        if let Ok(policy) = Policy::parse(kind, &text) {
            prop_assert!(Policy::parse_with_limit(kind, &policy.to_canonical_json(), 131_072).is_ok());
        }
    }

    /// Mutating one byte of a valid document never panics, and an accepted
    /// mutant still round-trips.
    #[test]
    fn mutated_documents_never_panic(
        (kind, document) in shaped_document(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = document.to_string().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(policy) = Policy::parse_with_limit(kind, &text, 131_072) {
            prop_assert!(Policy::parse_with_limit(kind, &policy.to_canonical_json(), 131_072).is_ok());
        }
    }

    /// Evaluation invariants over random identity policies and requests:
    /// Allow-only policies never produce an explicit deny, and adding a
    /// deny-everything policy denies every policy-controlled request.
    #[test]
    fn deny_everything_always_wins(
        document in document(Shape::Identity),
        action in "[a-z]{1,4}:[A-Za-z]{1,8}",
        resource in prop_oneof![Just(None), "[a-z0-9/.-]{0,12}".prop_map(|t| Some(format!("arn:aws:s3:::{t}")))],
    ) {
        let policy = Arc::new(Policy::parse_with_limit(PolicyKind::Managed, &document.to_string(), 131_072).unwrap());
        let deny_all = Arc::new(Policy::parse(PolicyKind::Managed,
            r#"{"Version":"2012-10-17","Statement":{"Sid":"DenyAll","Effect":"Deny","Action":"*","Resource":"*"}}"#).unwrap());
        let mut ctx = RequestContext::new(&action, Timestamp::from_unix_seconds(1_717_243_200))
            .with_caller(Caller::User { account: "123456789012", arn: "arn:aws:iam::123456789012:user/u", user_id: None });
        if let Some(resource) = &resource {
            ctx = ctx.with_resource(resource);
        }
        let only = [Arc::clone(&policy)];
        let both = [policy, deny_all];
        let alone = authorize(&PermissionSet::identity(&only), &ctx);
        let has_deny = document.to_string().contains("\"Deny\"");
        if !has_deny {
            prop_assert_ne!(alone.kind, DecisionKind::ExplicitDeny);
        }
        let with_deny = authorize(&PermissionSet::identity(&both), &ctx);
        prop_assert_eq!(with_deny.kind, DecisionKind::ExplicitDeny);
    }
}

/// Each positive operator and its negation, with policy values of the type.
const OPERATOR_PAIRS: &[(&str, &str, &str)] = &[
    (
        "StringEquals",
        "StringNotEquals",
        r#"["abc", "a*c", "${aws:username}"]"#,
    ),
    (
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        r#"["ABC", "ÉTÉ"]"#,
    ),
    (
        "StringLike",
        "StringNotLike",
        r#"["a*c", "?b?", "*${aws:username}*"]"#,
    ),
    ("NumericEquals", "NumericNotEquals", r#"["3", "4.5", "-1"]"#),
    (
        "DateEquals",
        "DateNotEquals",
        r#"["2024-06-01T12:00:00Z", "1717243200", "2024-06"]"#,
    ),
    (
        "IpAddress",
        "NotIpAddress",
        r#"["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]"#,
    ),
    (
        "ArnLike",
        "ArnNotLike",
        r#"["arn:aws:iam::*:role/a*", "arn:aws:s3:::b/*"]"#,
    ),
    (
        "ArnEquals",
        "ArnNotEquals",
        r#"["arn:aws:iam::123456789012:user/alice"]"#,
    ),
];

fn request_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        "[abcÉTé?*]{0,5}",
        "-?[0-9]{1,3}(\\.[0-9])?",
        "(10|192|203)\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "2001:db8::[0-9a-f]{1,4}",
        "2024-06-0[1-2]T12:00:0[0-1]Z",
        "17172432[0-9]{2}",
        "arn:aws:(iam|s3)::(123456789012)?:(role|user)/[a-c]{0,3}",
        "arn:aws:s3:::b/[a-z]{0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// With one request value present, an operator and its negation never
    /// agree, whatever the value (typed or not, parseable or not); with the
    /// key absent, only the negation holds. Random values also show that no
    /// operator panics on input it cannot convert.
    #[test]
    fn negated_operators_are_exact_complements(pair in 0usize..8, value in request_value(), typed in any::<bool>()) {
        let (positive, negative, values) = OPERATOR_PAIRS[pair];
        let document = |operator: &str| format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"test:Do","Resource":"*",
               "Condition":{{"{operator}":{{"test:key":{values}}}}}}}}}"#
        );
        let positive_policy = [Arc::new(Policy::parse(PolicyKind::Managed, &document(positive)).unwrap())];
        let negative_policy = [Arc::new(Policy::parse(PolicyKind::Managed, &document(negative)).unwrap())];
        let base = RequestContext::new("test:Do", Timestamp::from_unix_seconds(1_717_243_200))
            .with_caller(Caller::User { account: "123456789012", arn: "arn:aws:iam::123456789012:user/abc", user_id: None });
        let mut with_value = base.clone();
        let parsed_ip = value.parse::<std::net::IpAddr>();
        match (typed, parsed_ip) {
            (true, Ok(ip)) => with_value.insert("test:key", meridian_core::policy::context::Value::Ip(ip)),
            _ => with_value.insert("test:key", meridian_core::policy::context::Value::String(&value)),
        };
        let allowed = |policies: &[Arc<Policy>], ctx: &RequestContext<'_>| {
            authorize(&PermissionSet::identity(policies), ctx).is_allowed()
        };
        prop_assert_ne!(allowed(&positive_policy, &with_value), allowed(&negative_policy, &with_value));
        prop_assert!(!allowed(&positive_policy, &base));
        prop_assert!(allowed(&negative_policy, &base));
    }
}
