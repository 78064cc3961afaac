//! The rules a well-formed document must follow for its kind, checked in the
//! order AWS reports them (moto's validator, which mirrors AWS, runs the same
//! passes): operator names, then "legacy parsing" (exact `Effect`, dates),
//! then `Sid`s, then actions, principals, resources, and finally the formats
//! of resources, actions and condition keys. Principal values and condition
//! value formats are checked while compiling (`compile.rs`).

use crate::policy::conditions::{Operator, OperatorName};
use crate::policy::document::{Document, Scalar, Statement};
use crate::policy::errors::{MalformedReason, PolicyError, malformed, syntax};
use crate::policy::keys::valid_condition_key;
use crate::policy::kind::PolicyKind;
use crate::policy::values::parse_date;
use crate::policy::variables::split_arn;

/// Checks a syntactically valid document against the rules of its kind.
pub(crate) fn validate(document: &Document, kind: PolicyKind) -> Result<(), PolicyError> {
    let statements = &document.statements;
    statements.iter().try_for_each(check_operators)?;
    statements.iter().try_for_each(check_legacy)?;
    check_sids(statements, kind)?;
    statements.iter().try_for_each(check_has_actions)?;
    statements
        .iter()
        .try_for_each(|statement| check_principal_presence(statement, kind))?;
    statements
        .iter()
        .try_for_each(|statement| check_resource_presence(statement, kind))?;
    for statement in statements {
        if let Some(resource) = &statement.resource {
            resource
                .value
                .items
                .iter()
                .try_for_each(|r| check_resource(r))?;
        }
        if let Some(action) = &statement.action {
            action
                .value
                .items
                .iter()
                .try_for_each(|a| check_action(a))?;
            if kind == PolicyKind::Trust {
                action
                    .value
                    .items
                    .iter()
                    .try_for_each(|a| check_trust_action(a))?;
            }
        }
        check_condition_keys(statement)?;
    }
    Ok(())
}

fn check_operators(statement: &Statement) -> Result<(), PolicyError> {
    for (operator, _) in statement.condition.iter().flatten() {
        if OperatorName::parse(operator).is_none() {
            return Err(syntax(format!("unknown condition operator {operator}")));
        }
    }
    Ok(())
}

fn check_legacy(statement: &Statement) -> Result<(), PolicyError> {
    if let Some(effect) = &statement.effect
        && effect != "Allow"
        && effect != "Deny"
    {
        return Err(malformed(MalformedReason::LegacyParsing {
            detail: format!("Effect must be exactly Allow or Deny, not {effect}"),
        }));
    }
    for (operator, keys) in statement.condition.iter().flatten() {
        let is_date = OperatorName::parse(operator).is_some_and(|name| {
            matches!(
                name.operator,
                Operator::DateEquals
                    | Operator::DateNotEquals
                    | Operator::DateLessThan
                    | Operator::DateLessThanEquals
                    | Operator::DateGreaterThan
                    | Operator::DateGreaterThanEquals
            )
        });
        if !is_date {
            continue;
        }
        for (key, values) in keys {
            for value in &values.items {
                let parsed = match value {
                    Scalar::String(text) | Scalar::Number(text) => parse_date(text),
                    Scalar::Bool(_) => None,
                };
                if parsed.is_none() {
                    return Err(malformed(MalformedReason::LegacyParsing {
                        detail: format!("{operator} value for {key} is not a date"),
                    }));
                }
            }
        }
    }
    Ok(())
}

fn check_sids(statements: &[Statement], kind: PolicyKind) -> Result<(), PolicyError> {
    let mut seen: Vec<&str> = statements
        .iter()
        .filter_map(|statement| statement.sid.as_deref())
        .filter(|sid| !sid.is_empty())
        .collect();
    seen.sort_unstable();
    if seen.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(malformed(MalformedReason::DuplicateSid));
    }
    // IAM documents allow only ASCII letters and digits; other services'
    // resource policies are more lenient (S3 allows spaces).
    if kind != PolicyKind::Resource
        && seen
            .iter()
            .any(|sid| !sid.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(malformed(MalformedReason::InvalidSid));
    }
    Ok(())
}

fn check_has_actions(statement: &Statement) -> Result<(), PolicyError> {
    match &statement.action {
        Some(action) if !action.value.items.is_empty() => Ok(()),
        _ => Err(malformed(MalformedReason::MissingActions)),
    }
}

fn check_principal_presence(statement: &Statement, kind: PolicyKind) -> Result<(), PolicyError> {
    match (kind, &statement.principal) {
        (PolicyKind::Trust, Some(principal)) if principal.negated => {
            Err(malformed(MalformedReason::ProhibitedField {
                field: "NotPrincipal",
            }))
        }
        (PolicyKind::Trust | PolicyKind::Resource, None) => {
            Err(malformed(MalformedReason::MissingPrincipal))
        }
        (PolicyKind::Trust | PolicyKind::Resource, Some(_)) => Ok(()),
        (_, Some(_)) => Err(malformed(MalformedReason::PrincipalNotAllowed)),
        (_, None) => Ok(()),
    }
}

fn check_resource_presence(statement: &Statement, kind: PolicyKind) -> Result<(), PolicyError> {
    match (kind, &statement.resource) {
        (PolicyKind::Trust, Some(resource)) => Err(malformed(MalformedReason::ProhibitedField {
            field: if resource.negated {
                "NotResource"
            } else {
                "Resource"
            },
        })),
        (PolicyKind::Trust, None) => Ok(()),
        (_, Some(resource)) if !resource.value.items.is_empty() => Ok(()),
        _ => Err(malformed(MalformedReason::MissingResources)),
    }
}

/// `*`, or an ARN with a partition, a literal service, and (for IAM) no region.
fn check_resource(resource: &str) -> Result<(), PolicyError> {
    if resource == "*" {
        return Ok(());
    }
    let not_arn = || {
        malformed(MalformedReason::ResourceNotArn {
            resource: resource.to_owned(),
        })
    };
    if !resource.starts_with("arn:") {
        return Err(not_arn());
    }
    let parts = split_arn(resource, true);
    let partition_ok = parts.get(1).is_some_and(|partition| {
        !partition.is_empty()
            && partition.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'*' | b'?')
            })
    });
    if !partition_ok {
        return Err(not_arn());
    }
    let service = parts.get(2).copied().unwrap_or("");
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        return Err(malformed(MalformedReason::ResourceVendorNotQualified));
    }
    if service == "iam" && parts.get(3).is_some_and(|region| !region.is_empty()) {
        return Err(malformed(MalformedReason::IamResourceRegion {
            resource: resource.to_owned(),
        }));
    }
    // AWS's legacy parser rejects a short ARN that still has an empty part.
    if parts.len() < 6 && resource.contains("::") {
        return Err(malformed(MalformedReason::LegacyParsing {
            detail: format!("resource {resource} has too few parts"),
        }));
    }
    Ok(())
}

/// `*` or `vendor:name` with a vendor of `[A-Za-z0-9.-]` (or `*`).
fn check_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or("");
    if parts.next().is_none() {
        return Err(malformed(MalformedReason::ActionWithoutVendor));
    }
    if parts.next().is_some() {
        return Err(malformed(MalformedReason::ActionTooManyColons));
    }
    let vendor_ok = vendor == "*"
        || (!vendor.is_empty()
            && vendor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')));
    if !vendor_ok {
        return Err(malformed(MalformedReason::InvalidVendor {
            vendor: vendor.to_owned(),
        }));
    }
    Ok(())
}

/// A trust policy only speaks of STS actions.
fn check_trust_action(action: &str) -> Result<(), PolicyError> {
    let vendor = action.split(':').next().unwrap_or("");
    if action == "*" || vendor == "*" || vendor.eq_ignore_ascii_case("sts") {
        Ok(())
    } else {
        Err(malformed(MalformedReason::TrustPolicyAction))
    }
}

fn check_condition_keys(statement: &Statement) -> Result<(), PolicyError> {
    for (_, keys) in statement.condition.iter().flatten() {
        for (key, _) in keys {
            if !valid_condition_key(key) {
                return Err(malformed(MalformedReason::ConditionKeyWithoutVendor {
                    key: key.clone().into_owned(),
                }));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_must_be_arns() {
        for ok in [
            "*",
            "arn:aws:s3:::bucket/*",
            "arn:aws:iam::*:role/*",
            "arn:aws-cn:sqs:*:123456789012:q",
            "arn:aws:s3:*",
            "arn:*:s3:::b",
        ] {
            assert_eq!(check_resource(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("bucket", "must be in ARN format"),
            ("arn:AWS:s3:::b", "must be in ARN format"),
            ("arn:aws::::x", "must be fully qualified"),
            ("arn:aws:s3*:::b", "must be fully qualified"),
            (
                "arn:aws:iam:us-east-1:123456789012:role/x",
                "cannot contain region",
            ),
            ("arn:aws:s3::b", "legacy parsing"),
        ];
        for (resource, message) in cases {
            let error = check_resource(resource).unwrap_err();
            assert!(
                error.aws_message().contains(message),
                "{resource}: {error:?}"
            );
        }
    }

    #[test]
    fn actions_need_a_vendor() {
        assert_eq!(check_action("*"), Ok(()));
        assert_eq!(check_action("s3:Get*"), Ok(()));
        assert_eq!(check_action("*:Get*"), Ok(()));
        assert_eq!(
            check_action("GetObject"),
            Err(malformed(MalformedReason::ActionWithoutVendor))
        );
        assert_eq!(
            check_action("s3:a:b"),
            Err(malformed(MalformedReason::ActionTooManyColons))
        );
        assert_eq!(
            check_action("s_3:Get"),
            Err(malformed(MalformedReason::InvalidVendor {
                vendor: String::from("s_3")
            }))
        );
        assert_eq!(check_trust_action("sts:AssumeRole"), Ok(()));
        assert_eq!(check_trust_action("STS:TagSession"), Ok(()));
        assert_eq!(
            check_trust_action("s3:GetObject"),
            Err(malformed(MalformedReason::TrustPolicyAction))
        );
    }
}
