//! Condition operators: parsing `[ForAnyValue:|ForAllValues:]Operator[IfExists]`,
//! compiling the policy's values once, and evaluating against a request.
//!
//! Semantics (IAM user guide, "Condition operators" and "Creating a condition
//! with multiple keys or values"):
//!
//! ```text
//! block   = AND over operators, AND over keys within an operator
//! key     = OR over the policy values listed for it
//! missing key      → false, except negated operators (…Not…) → true
//! …IfExists        → missing key is true; otherwise as the operator
//! Null: "true"     → true iff the key is missing; "false" → iff present
//! ForAnyValue:op   → some request value v satisfies op(v)      (missing → false)
//! ForAllValues:op  → every request value v satisfies op(v)     (missing → true)
//! op(v) for a negated operator = no policy value matches v
//! no set operator, several request values → as ForAnyValue for positive
//!   operators, and "none matches" for negated ones
//! ```
//!
//! A policy value whose variable has no value (and no default) matches
//! nothing. A request value that cannot be converted to the operator's type
//! (an IP operator on `"abc"`) matches nothing. Policy values are checked at
//! compile time: a number that is not a number, a date that is not a date, a
//! CIDR that is not a CIDR is a malformed document, not a silent non-match.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;

use crate::policy::context::{RequestContext, ResourceParts, Value};
use crate::policy::errors::{MalformedReason, PolicyError, malformed};
use crate::policy::keys::KeyName;
use crate::policy::matchers::ArnPattern;
use crate::policy::values::{parse_bool, parse_date, parse_ip_net, parse_number};
use crate::policy::variables::{Template, Wildcards};
use crate::time::Timestamp;

/// A condition operator without its set prefix and `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `StringEquals`: exact, case-sensitive.
    StringEquals,
    /// `StringNotEquals`.
    StringNotEquals,
    /// `StringEqualsIgnoreCase`.
    StringEqualsIgnoreCase,
    /// `StringNotEqualsIgnoreCase`.
    StringNotEqualsIgnoreCase,
    /// `StringLike`: `*` and `?` wildcards, case-sensitive.
    StringLike,
    /// `StringNotLike`.
    StringNotLike,
    /// `NumericEquals`.
    NumericEquals,
    /// `NumericNotEquals`.
    NumericNotEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals`.
    DateEquals,
    /// `DateNotEquals`.
    DateNotEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`.
    Bool,
    /// `BinaryEquals`: the policy value is base64.
    BinaryEquals,
    /// `IpAddress`: CIDR ranges, IPv4 and IPv6.
    IpAddress,
    /// `NotIpAddress`.
    NotIpAddress,
    /// `ArnEquals` (same as `ArnLike`).
    ArnEquals,
    /// `ArnLike`: part-by-part wildcard match.
    ArnLike,
    /// `ArnNotEquals` (same as `ArnNotLike`).
    ArnNotEquals,
    /// `ArnNotLike`.
    ArnNotLike,
    /// `Null`: tests presence.
    Null,
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, operator)| *operator == self)
            .map_or("", |(name, _)| name)
    }

    /// Every operator.
    pub fn all() -> impl Iterator<Item = Operator> {
        OPERATORS.iter().map(|(_, operator)| *operator)
    }

    /// Whether the operator is the negation of a positive one (a missing key
    /// makes it true).
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperator {
    /// No prefix.
    None,
    /// `ForAnyValue:`.
    ForAnyValue,
    /// `ForAllValues:`.
    ForAllValues,
}

/// A parsed operator name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OperatorName {
    /// The set prefix.
    pub set: SetOperator,
    /// The base operator.
    pub operator: Operator,
    /// Whether `IfExists` was appended.
    pub if_exists: bool,
}

impl OperatorName {
    /// Parses `[ForAnyValue:|ForAllValues:]Operator[IfExists]` (case-sensitive,
    /// as AWS). `NullIfExists` is rejected: AWS documents that `Null` takes no
    /// `IfExists`.
    pub fn parse(text: &str) -> Option<OperatorName> {
        let (set, rest) = if let Some(rest) = text.strip_prefix("ForAnyValue:") {
            (SetOperator::ForAnyValue, rest)
        } else if let Some(rest) = text.strip_prefix("ForAllValues:") {
            (SetOperator::ForAllValues, rest)
        } else {
            (SetOperator::None, text)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let operator = OPERATORS
            .iter()
            .find(|(name, _)| *name == base)
            .map(|(_, operator)| *operator)?;
        if operator == Operator::Null && if_exists {
            return None;
        }
        Some(OperatorName {
            set,
            operator,
            if_exists,
        })
    }
}

/// A condition value from the document, before type checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawValue<'t> {
    /// A JSON string.
    String(&'t str),
    /// A JSON number, as its text.
    Number(&'t str),
    /// A JSON boolean.
    Bool(bool),
}

impl<'t> RawValue<'t> {
    fn text(self) -> &'t str {
        match self {
            RawValue::String(text) | RawValue::Number(text) => text,
            RawValue::Bool(true) => "true",
            RawValue::Bool(false) => "false",
        }
    }
}

/// The compiled policy values of one condition, typed by operator family.
#[derive(Debug, Clone, PartialEq)]
enum PolicyValues {
    Strings(Box<[Template]>),
    Numbers(Box<[f64]>),
    Dates(Box<[Timestamp]>),
    Bools(Box<[BoolValue]>),
    Binary(Box<[Box<[u8]>]>),
    Ips(Box<[IpNet]>),
    Arns(Box<[ArnPattern]>),
    Null(Box<[bool]>),
}

#[derive(Debug, Clone, PartialEq)]
enum BoolValue {
    Fixed(bool),
    Variable(Template),
}

/// One compiled condition: an operator applied to one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    name: OperatorName,
    key: KeyName<Box<str>>,
    values: PolicyValues,
}

impl Condition {
    /// Compiles `operator: { key: values }` for one key.
    pub(crate) fn compile(
        operator_text: &str,
        name: OperatorName,
        key_text: &str,
        raw: &[RawValue<'_>],
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        let invalid = || {
            malformed(MalformedReason::InvalidConditionValue {
                operator: operator_text.to_owned(),
                key: key_text.to_owned(),
            })
        };
        let not_bool = |value: &RawValue<'_>| !matches!(value, RawValue::Bool(_));
        let values = match name.operator {
            Operator::StringEquals
            | Operator::StringNotEquals
            | Operator::StringEqualsIgnoreCase
            | Operator::StringNotEqualsIgnoreCase => PolicyValues::Strings(
                raw.iter()
                    .map(|value| Template::parse(value.text(), variables, Wildcards::Literal))
                    .collect(),
            ),
            Operator::StringLike | Operator::StringNotLike => PolicyValues::Strings(
                raw.iter()
                    .map(|value| Template::parse(value.text(), variables, Wildcards::Match))
                    .collect(),
            ),
            Operator::NumericEquals
            | Operator::NumericNotEquals
            | Operator::NumericLessThan
            | Operator::NumericLessThanEquals
            | Operator::NumericGreaterThan
            | Operator::NumericGreaterThanEquals => PolicyValues::Numbers(
                raw.iter()
                    .map(|value| {
                        not_bool(value)
                            .then(|| parse_number(value.text()))
                            .flatten()
                            .ok_or_else(invalid)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::DateEquals
            | Operator::DateNotEquals
            | Operator::DateLessThan
            | Operator::DateLessThanEquals
            | Operator::DateGreaterThan
            | Operator::DateGreaterThanEquals => PolicyValues::Dates(
                raw.iter()
                    .map(|value| {
                        not_bool(value)
                            .then(|| parse_date(value.text()))
                            .flatten()
                            .ok_or_else(|| {
                                malformed(MalformedReason::LegacyParsing {
                                    detail: format!(
                                        "{operator_text} value for {key_text} is not a date"
                                    ),
                                })
                            })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::Bool => PolicyValues::Bools(
                raw.iter()
                    .map(|value| {
                        let template = Template::parse(value.text(), variables, Wildcards::Literal);
                        if template.has_variables() {
                            Ok(BoolValue::Variable(template))
                        } else {
                            parse_bool(value.text())
                                .map(BoolValue::Fixed)
                                .ok_or_else(invalid)
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::BinaryEquals => PolicyValues::Binary(
                raw.iter()
                    .map(|value| match value {
                        RawValue::String(text) => base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map(Vec::into_boxed_slice)
                            .map_err(|_| invalid()),
                        _ => Err(invalid()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::IpAddress | Operator::NotIpAddress => PolicyValues::Ips(
                raw.iter()
                    .map(|value| match value {
                        RawValue::String(text) => parse_ip_net(text).ok_or_else(invalid),
                        _ => Err(invalid()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::ArnEquals
            | Operator::ArnLike
            | Operator::ArnNotEquals
            | Operator::ArnNotLike => PolicyValues::Arns(
                raw.iter()
                    .map(|value| match value {
                        RawValue::String(text) => Ok(ArnPattern::compile(text, variables)),
                        _ => Err(invalid()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Operator::Null => PolicyValues::Null(
                raw.iter()
                    .map(|value| parse_bool(value.text()).ok_or_else(invalid))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition {
            name,
            key: KeyName::classify(key_text).to_owned_key(),
            values,
        })
    }

    /// Evaluates the condition against the request.
    pub(crate) fn evaluate(&self, ctx: &RequestContext<'_>) -> bool {
        let present = ctx.values(&self.key).next().is_some();
        if let PolicyValues::Null(expected) = &self.values {
            // "true" asks for absence, "false" for presence; values are ORed.
            return expected.iter().any(|&want_null| want_null != present);
        }
        let negated = self.name.operator.is_negated();
        if !present {
            return match self.name.set {
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => self.name.if_exists,
                SetOperator::None => self.name.if_exists || negated,
            };
        }
        let satisfies = |value: Value<'_>| self.any_policy_value_matches(ctx, value) != negated;
        match self.name.set {
            SetOperator::ForAllValues => ctx.values(&self.key).all(satisfies),
            SetOperator::ForAnyValue => ctx.values(&self.key).any(satisfies),
            SetOperator::None => {
                let matched = ctx
                    .values(&self.key)
                    .any(|value| self.any_policy_value_matches(ctx, value));
                matched != negated
            }
        }
    }

    /// Whether one request value matches any of the policy values under the
    /// positive form of the operator.
    fn any_policy_value_matches(&self, ctx: &RequestContext<'_>, value: Value<'_>) -> bool {
        use Operator as O;
        let operator = self.name.operator;
        match &self.values {
            PolicyValues::Strings(templates) => {
                let rendered = value.render();
                let text = rendered.as_str();
                templates.iter().any(|template| {
                    let result = match operator {
                        O::StringEqualsIgnoreCase | O::StringNotEqualsIgnoreCase => {
                            template.equals_ignore_case(ctx, text)
                        }
                        _ => template.matches(ctx, text),
                    };
                    result == Some(true)
                })
            }
            PolicyValues::Numbers(numbers) => {
                let Some(actual) = value.as_number() else {
                    return false;
                };
                numbers.iter().any(|&expected| match operator {
                    O::NumericLessThan => actual < expected,
                    O::NumericLessThanEquals => actual <= expected,
                    O::NumericGreaterThan => actual > expected,
                    O::NumericGreaterThanEquals => actual >= expected,
                    _ => actual == expected,
                })
            }
            PolicyValues::Dates(dates) => {
                let Some(actual) = value.as_date() else {
                    return false;
                };
                dates.iter().any(|&expected| match operator {
                    O::DateLessThan => actual < expected,
                    O::DateLessThanEquals => actual <= expected,
                    O::DateGreaterThan => actual > expected,
                    O::DateGreaterThanEquals => actual >= expected,
                    _ => actual == expected,
                })
            }
            PolicyValues::Bools(bools) => {
                let Some(actual) = value.as_bool() else {
                    return false;
                };
                bools.iter().any(|expected| match expected {
                    BoolValue::Fixed(expected) => *expected == actual,
                    BoolValue::Variable(template) => template.as_bool(ctx) == Some(actual),
                })
            }
            PolicyValues::Binary(blobs) => {
                let Some(actual) = value.as_bytes() else {
                    return false;
                };
                blobs.iter().any(|expected| **expected == *actual)
            }
            PolicyValues::Ips(nets) => {
                let Some(actual) = value.as_ip() else {
                    return false;
                };
                nets.iter().any(|net| net_contains(net, actual))
            }
            PolicyValues::Arns(patterns) => {
                let rendered = value.render();
                let parts = ResourceParts::split(rendered.as_str());
                patterns
                    .iter()
                    .any(|pattern| pattern.matches(ctx, Some(&parts)) == Some(true))
            }
            PolicyValues::Null(_) => false,
        }
    }
}

fn net_contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(net), IpAddr::V4(ip)) => net.contains(&ip),
        (IpNet::V6(net), IpAddr::V6(ip)) => net.contains(&ip),
        (IpNet::V6(net), IpAddr::V4(ip)) => net.contains(&ip.to_ipv6_mapped()),
        (IpNet::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_parse_with_prefixes_and_suffixes() {
        let parsed = OperatorName::parse("ForAllValues:StringLikeIfExists").unwrap();
        assert_eq!(parsed.set, SetOperator::ForAllValues);
        assert_eq!(parsed.operator, Operator::StringLike);
        assert!(parsed.if_exists);
        for operator in Operator::all() {
            assert_eq!(
                OperatorName::parse(operator.name()).map(|name| name.operator),
                Some(operator)
            );
        }
        for bad in [
            "StringEqual",
            "stringequals",
            "NullIfExists",
            "ForSomeValues:StringEquals",
            "ForAnyValue:",
            "IfExists",
        ] {
            assert_eq!(OperatorName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_ranges_contain_mapped_ipv4() {
        let net = parse_ip_net("::ffff:0:0/96").unwrap();
        assert!(net_contains(&net, "10.1.2.3".parse().unwrap()));
        let v4 = parse_ip_net("10.0.0.0/8").unwrap();
        assert!(!net_contains(&v4, "2001:db8::1".parse().unwrap()));
    }
}
