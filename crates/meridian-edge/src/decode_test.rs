//! Tests of the query decoder and validator: AWS-recorded texts for the STS
//! members clients trip over, and sweeps built from the model's constraints.

use super::*;
use crate::model::{MemberModel, Service, StringShape, generated, operation};

fn params(pairs: &[(&str, &str)]) -> Params {
    let mut params = Params::new();
    for (name, value) in pairs {
        assert!(params.insert(name, value).is_ok(), "duplicate {name}");
    }
    params
}

fn decode(service: Service, action: &str, pairs: &[(&str, &str)]) -> Result<Structure, ApiError> {
    let Some(input) = operation(service, action).and_then(|op| op.input) else {
        panic!("{action} has an input shape");
    };
    decode_input(input, &params(pairs))
}

fn message(result: Result<Structure, ApiError>) -> (ErrorCode, Option<String>) {
    match result {
        Ok(structure) => panic!("expected an error, decoded {structure:?}"),
        Err(error) => (error.code(), error.message().map(str::to_owned)),
    }
}

const ROLE: &str = "arn:aws:iam::123456789012:role/demo";
const ARN_PATTERN: &str =
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
const SESSION_PATTERN: &str = r"[\w+=,.@-]*";

/// AWS-recorded `ValidationError` texts for `RoleSessionName` (STS-API.md
/// §1.5 and the AWS probes it cites): pattern first, then length, counted in
/// code points, `\w` ASCII only.
#[test]
fn role_session_name_texts_match_aws() {
    let long = "a".repeat(65);
    let long_bad = "/".repeat(65);
    let pattern = |v: &str| {
        format!(
            "Value '{v}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {SESSION_PATTERN}"
        )
    };
    let min = |v: &str| {
        format!(
            "Value '{v}' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        )
    };
    let max = |v: &str| {
        format!(
            "Value '{v}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )
    };
    let cases: Vec<(Option<&str>, String)> = vec![
        (
            None,
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".to_owned(),
        ),
        (Some(""), format!("1 validation error detected: {}", min(""))),
        (Some("a"), format!("1 validation error detected: {}", min("a"))),
        (Some("bad/name"), format!("1 validation error detected: {}", pattern("bad/name"))),
        (Some("Session1:2"), format!("1 validation error detected: {}", pattern("Session1:2"))),
        (Some(&long), format!("1 validation error detected: {}", max(&long))),
        (Some("!"), format!("2 validation errors detected: {}; {}", pattern("!"), min("!"))),
        (Some("é"), format!("2 validation errors detected: {}; {}", pattern("é"), min("é"))),
        (Some("😀"), format!("2 validation errors detected: {}; {}", pattern("😀"), min("😀"))),
        (
            Some(&long_bad),
            format!("2 validation errors detected: {}; {}", pattern(&long_bad), max(&long_bad)),
        ),
    ];
    for (value, expected) in cases {
        let mut pairs = vec![("RoleArn", ROLE)];
        if let Some(value) = value {
            pairs.push(("RoleSessionName", value));
        }
        let (code, text) = message(decode(Service::Sts, "AssumeRole", &pairs));
        assert_eq!(code, ErrorCode::ValidationError, "{value:?}");
        assert_eq!(text.as_deref(), Some(expected.as_str()), "{value:?}");
    }
    for ok in ["aa", &"b".repeat(64), "user@example.com", "a+b=c,d.e-f_g"] {
        let decoded = decode(
            Service::Sts,
            "AssumeRole",
            &[("RoleArn", ROLE), ("RoleSessionName", ok)],
        );
        assert_eq!(
            decoded.ok().as_ref().and_then(|s| s.str("RoleSessionName")),
            Some(ok)
        );
    }
}

/// `RoleArn`: lengths in code points, supplementary characters outside the
/// (Java-read) pattern, several violations in one message.
#[test]
fn role_arn_texts_match_aws() {
    let emoji_2048 = "😀".repeat(2048);
    let emoji_2049 = "😀".repeat(2049);
    let bmp_2048 = "é".repeat(2048);
    let decomposed = "e\u{301}".repeat(1025);
    let pattern = |v: &str| {
        format!(
            "Value '{v}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}"
        )
    };
    let max = |v: &str| {
        format!(
            "Value '{v}' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        )
    };
    let cases = [
        (
            "",
            format!(
                "2 validation errors detected: {}; Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
                pattern("")
            ),
        ),
        (
            "not-an-arn",
            "1 validation error detected: Value 'not-an-arn' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20".to_owned(),
        ),
        (&emoji_2048, format!("1 validation error detected: {}", pattern(&emoji_2048))),
        (
            &emoji_2049,
            format!("2 validation errors detected: {}; {}", pattern(&emoji_2049), max(&emoji_2049)),
        ),
        (&decomposed, format!("1 validation error detected: {}", max(&decomposed))),
    ];
    for (value, expected) in cases {
        let (code, text) = message(decode(
            Service::Sts,
            "AssumeRole",
            &[("RoleArn", value), ("RoleSessionName", "s1")],
        ));
        assert_eq!(code, ErrorCode::ValidationError);
        assert_eq!(
            text.as_deref(),
            Some(expected.as_str()),
            "{}",
            value.chars().count()
        );
    }
    let ok = decode(
        Service::Sts,
        "AssumeRole",
        &[("RoleArn", &bmp_2048), ("RoleSessionName", "s1")],
    );
    assert!(ok.is_ok(), "2048 BMP characters are within the limit");
}

/// `DurationSeconds`: AWS-recorded `MalformedInput` for what is not a 32-bit
/// integer, `ValidationError` for what is out of range.
#[test]
fn duration_seconds_texts_match_aws() {
    let range = |v: &str, bound: &str| {
        format!(
            "1 validation error detected: Value '{v}' at 'durationSeconds' failed to satisfy constraint: Member must have value {bound}"
        )
    };
    let cases: Vec<(&str, ErrorCode, Option<String>)> = vec![
        (
            "",
            ErrorCode::MalformedInput,
            Some("missing value for decimal type".to_owned()),
        ),
        ("abc", ErrorCode::MalformedInput, None),
        ("900.0", ErrorCode::MalformedInput, None),
        ("2147483648", ErrorCode::MalformedInput, None),
        ("-2147483649", ErrorCode::MalformedInput, None),
        (
            "-1",
            ErrorCode::ValidationError,
            Some(range("-1", "greater than or equal to 900")),
        ),
        (
            "899",
            ErrorCode::ValidationError,
            Some(range("899", "greater than or equal to 900")),
        ),
        (
            "43201",
            ErrorCode::ValidationError,
            Some(range("43201", "less than or equal to 43200")),
        ),
        (
            "2147483647",
            ErrorCode::ValidationError,
            Some(range("2147483647", "less than or equal to 43200")),
        ),
        (
            "-2147483648",
            ErrorCode::ValidationError,
            Some(range("-2147483648", "greater than or equal to 900")),
        ),
    ];
    for (value, code, text) in cases {
        let result = decode(
            Service::Sts,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", value),
            ],
        );
        assert_eq!(message(result), (code, text), "{value:?}");
    }
    for (value, seconds) in [("900", 900), ("43200", 43200), ("+900", 900), ("0900", 900)] {
        let decoded = decode(
            Service::Sts,
            "AssumeRole",
            &[
                ("RoleArn", ROLE),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", value),
            ],
        );
        assert_eq!(
            decoded.ok().and_then(|s| s.int("DurationSeconds")),
            Some(seconds),
            "{value}"
        );
    }
    // GetFederationToken and GetSessionToken allow up to 36 hours.
    let (_, text) = message(decode(
        Service::Sts,
        "GetFederationToken",
        &[("Name", "fed"), ("DurationSeconds", "129601")],
    ));
    assert_eq!(text, Some(range("129601", "less than or equal to 129600")));
}

/// Session policy length: unrestricted on AssumeRole in the model, 2048 on
/// the other operations.
#[test]
fn session_policy_length_follows_the_model() {
    let policy = "x".repeat(2049);
    let assume = decode(
        Service::Sts,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("Policy", &policy),
        ],
    );
    assert!(assume.is_ok(), "AssumeRole's Policy has no model maximum");
    let (code, text) = message(decode(
        Service::Sts,
        "GetFederationToken",
        &[("Name", "fed"), ("Policy", &policy)],
    ));
    assert_eq!(code, ErrorCode::ValidationError);
    assert_eq!(
        text,
        Some(format!(
            "1 validation error detected: Value '{policy}' at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ))
    );
}

/// Tags: at most 50 (list length), nested paths `tags.N.member.key`, the
/// required `Value`, lists decoded from 1 up to the first gap.
#[test]
fn tags_lists_decode_and_validate() {
    let keys: Vec<String> = (1..=51).map(|i| format!("Tags.member.{i}.Key")).collect();
    let values: Vec<String> = (1..=51).map(|i| format!("Tags.member.{i}.Value")).collect();
    let tag_values: Vec<String> = (1..=51).map(|i| format!("k{i}")).collect();
    let mut pairs = vec![("RoleArn", ROLE), ("RoleSessionName", "s1")];
    for i in 0..51 {
        pairs.push((&keys[i], &tag_values[i]));
        pairs.push((&values[i], "v"));
    }
    let (code, text) = message(decode(Service::Sts, "AssumeRole", &pairs));
    assert_eq!(code, ErrorCode::ValidationError);
    let text = text.unwrap_or_default();
    assert!(
        text.starts_with(
            "1 validation error detected: Value '[{Key: k1, Value: v}, {Key: k2, Value: v}"
        ),
        "{text}"
    );
    assert!(text.ends_with("{Key: k51, Value: v}]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"), "{text}");

    let (_, text) = message(decode(
        Service::Sts,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("Tags.member.1.Key", "bad#key"),
            ("Tags.member.2.Key", "ok"),
        ],
    ));
    assert_eq!(
        text.as_deref(),
        Some(
            r"3 validation errors detected: Value 'bad#key' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+; Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null; Value null at 'tags.2.member.value' failed to satisfy constraint: Member must not be null"
        )
    );

    let decoded = decode(
        Service::Sts,
        "AssumeRole",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "A B"),
            ("Tags.member.3.Key", "Skipped"),
            ("Tags.member.3.Value", "after a gap"),
            ("TransitiveTagKeys", ""),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
            ),
        ],
    );
    let Ok(input) = decoded else {
        panic!("{decoded:?}")
    };
    let tags = input.list("Tags").unwrap_or_default();
    assert_eq!(tags.len(), 1, "items stop at the first missing index");
    assert_eq!(
        tags[0].as_structure().and_then(|t| t.str("Value")),
        Some("A B")
    );
    assert_eq!(
        input.list("TransitiveTagKeys"),
        Some(&[][..]),
        "`Name=` is an empty list"
    );
    assert_eq!(
        input
            .list("PolicyArns")
            .and_then(|l| l.first())
            .and_then(Value::as_structure)
            .and_then(|p| p.str("arn")),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert_eq!(input.list("ProvidedContexts"), None);
}

/// Nested structures (`Parent.Member`), enums, sensitive values.
#[test]
fn structures_enums_and_sensitive_members() {
    let decoded = decode(
        Service::Sts,
        "AssumeRoot",
        &[
            ("TargetPrincipal", "123456789012"),
            (
                "TaskPolicyArn.arn",
                "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials",
            ),
        ],
    );
    assert_eq!(
        decoded
            .ok()
            .as_ref()
            .and_then(|s| s.structure("TaskPolicyArn"))
            .and_then(|p| p.str("arn")),
        Some("arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials")
    );

    let (_, text) = message(decode(
        Service::Iam,
        "UpdateAccessKey",
        &[("AccessKeyId", "AKIAIOSFODNN7EXAMPLE"), ("Status", "Bogus")],
    ));
    assert_eq!(
        text.as_deref(),
        Some(
            "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set"
        )
    );

    let (_, text) = message(decode(
        Service::Sts,
        "AssumeRoleWithWebIdentity",
        &[
            ("RoleArn", ROLE),
            ("RoleSessionName", "s1"),
            ("WebIdentityToken", "abc"),
        ],
    ));
    assert_eq!(
        text.as_deref(),
        Some(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        ),
        "sensitive values are never echoed"
    );

    let (_, text) = message(decode(
        Service::Sts,
        "AssumeRole",
        &[("RoleSessionName", "bad/name")],
    ));
    assert_eq!(
        text.as_deref(),
        Some(
            r"2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value 'bad/name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        ),
        "violations are listed in model member order"
    );
}

/// Sweep over every top-level string and integer member of every served
/// operation: one past each bound produces the message the model implies.
#[test]
fn every_model_bound_is_enforced() {
    let mut checked = 0;
    for op in &generated::OPERATIONS {
        let Some(input) = op.input else { continue };
        let ShapeKind::Structure(st) = &model::shape(input).kind else {
            panic!("{} input is a structure", op.name)
        };
        for member in st.members {
            let path = camel(member.name);
            for (value, constraint) in out_of_bounds(member) {
                let result = decode_input(input, &params(&[(member.wire_name, &value)]));
                let Err(error) = result else {
                    panic!("{}.{} accepted {value:?}", op.name, member.name)
                };
                let shown = match &model::shape(member.shape).kind {
                    ShapeKind::String(StringShape {
                        sensitive: true, ..
                    }) => "Value".to_owned(),
                    _ => format!("Value '{value}'"),
                };
                let expected =
                    format!("{shown} at '{path}' failed to satisfy constraint: {constraint}");
                let text = error.message().unwrap_or_default();
                assert!(
                    text.contains(&expected),
                    "{}: {text} lacks {expected}",
                    op.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 150, "only {checked} bounds checked");
}

fn out_of_bounds(member: &MemberModel) -> Vec<(String, String)> {
    match &model::shape(member.shape).kind {
        ShapeKind::String(s) => {
            let mut cases = Vec::new();
            if let Some(max) = s.max.filter(|&m| m < 200_000) {
                cases.push((
                    "a".repeat(max as usize + 1),
                    format!("Member must have length less than or equal to {max}"),
                ));
            }
            if let Some(min) = s.min.filter(|&m| m > 0) {
                cases.push((
                    "a".repeat(min as usize - 1),
                    format!("Member must have length greater than or equal to {min}"),
                ));
            }
            cases
        }
        ShapeKind::Integer(i) => {
            let mut cases = Vec::new();
            if let Some(max) = i.max {
                cases.push((
                    (max + 1).to_string(),
                    format!("Member must have value less than or equal to {max}"),
                ));
            }
            if let Some(min) = i.min {
                cases.push((
                    (min - 1).to_string(),
                    format!("Member must have value greater than or equal to {min}"),
                ));
            }
            cases
        }
        _ => Vec::new(),
    }
}

/// Maps (`Name.entry.N.key/value`), over a synthetic shape table: neither STS
/// nor IAM has a map input, but the decoder supports the protocol.
#[test]
fn maps_decode_from_entries() {
    static SHAPES: [ShapeModel; 3] = [
        ShapeModel {
            service: Service::Iam,
            name: "Input",
            kind: ShapeKind::Structure(StructureShape {
                members: &[MemberModel {
                    name: "Attributes",
                    wire_name: "Attributes",
                    shape: 1,
                    required: false,
                }],
                union: false,
            }),
        },
        ShapeModel {
            service: Service::Iam,
            name: "AttributeMap",
            kind: ShapeKind::Map(MapShape {
                key: 2,
                value: 2,
                key_name: "key",
                value_name: "value",
                flattened: false,
                min: None,
                max: Some(2),
            }),
        },
        ShapeModel {
            service: Service::Iam,
            name: "Text",
            kind: ShapeKind::String(StringShape {
                min: Some(1),
                max: None,
                pattern: None,
                enum_values: &[],
                sensitive: false,
            }),
        },
    ];
    let decoded = decode_with(
        &SHAPES,
        0,
        &params(&[
            ("Attributes.entry.1.key", "a"),
            ("Attributes.entry.1.value", "1"),
            ("Attributes.entry.2.key", "b"),
            ("Attributes.entry.2.value", "2"),
        ]),
    );
    let entries = decoded.ok().and_then(|s| {
        s.get("Attributes")
            .and_then(Value::as_map)
            .map(<[_]>::to_vec)
    });
    assert_eq!(
        entries,
        Some(vec![
            (Value::String("a".into()), Value::String("1".into())),
            (Value::String("b".into()), Value::String("2".into())),
        ])
    );
    let too_many = decode_with(
        &SHAPES,
        0,
        &params(&[
            ("Attributes.entry.1.key", "a"),
            ("Attributes.entry.1.value", "1"),
            ("Attributes.entry.2.key", "b"),
            ("Attributes.entry.2.value", ""),
            ("Attributes.entry.3.key", "c"),
            ("Attributes.entry.3.value", "3"),
        ]),
    );
    assert_eq!(
        too_many.err().as_ref().and_then(ApiError::message),
        Some(
            "2 validation errors detected: Value '{…}' at 'attributes' failed to satisfy constraint: Member must have length less than or equal to 2; Value '' at 'attributes.2.value' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
    let empty = decode_with(&SHAPES, 0, &params(&[("Attributes", "")]));
    assert_eq!(
        empty.ok().and_then(|s| s.get("Attributes").cloned()),
        Some(Value::Map(Vec::new()))
    );
}
