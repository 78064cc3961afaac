//! The policy document as written: the syntax pass from JSON to a typed tree,
//! and the canonical JSON rendering of that tree.
//!
//! The tree keeps what the author wrote (a single string or a list, the
//! `Statement` object or array, JSON booleans and numbers in conditions) so
//! that the rendering says the same thing the author said. The syntax pass
//! rejects unknown elements and values of the wrong JSON type; the rules that
//! depend on the policy kind (principals, resources, STS-only actions) and on
//! value formats are checked afterwards, in `validate.rs`, in the order AWS
//! reports them.
//!
//! Canonical form: compact JSON; top-level members in the order `Version`,
//! `Id`, `Statement`; statement members in the order `Sid`, `Effect`,
//! `Principal`/`NotPrincipal`, `Action`/`NotAction`, `Resource`/`NotResource`,
//! `Condition`; principal types in the order `AWS`, `Federated`, `Service`,
//! `CanonicalUser`; condition operators and keys sorted; values in document
//! order. Two documents that differ only in member order or whitespace render
//! identically.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::policy::errors::{PolicyError, syntax};
use crate::policy::json::Json;

/// A list of strings written either as one string or as an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringList<'a> {
    pub(crate) items: Vec<Cow<'a, str>>,
    pub(crate) array: bool,
}

/// An element that has a negated twin (`Action`/`NotAction`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Negatable<T> {
    pub(crate) negated: bool,
    pub(crate) value: T,
}

/// A `Principal`/`NotPrincipal` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalBlock<'a> {
    /// `"*"`.
    Wildcard,
    /// `{"AWS": …, "Federated": …}` with the type keys as written.
    Map(Vec<(Cow<'a, str>, StringList<'a>)>),
}

/// A condition value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    String(Cow<'a, str>),
    Number(Cow<'a, str>),
    Bool(bool),
}

/// The values listed for one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalarList<'a> {
    pub(crate) items: Vec<Scalar<'a>>,
    pub(crate) array: bool,
}

/// `key → values` under one operator, in document order.
pub(crate) type ConditionKeys<'a> = Vec<(Cow<'a, str>, ScalarList<'a>)>;

/// `operator → [(key, values)]`, in document order.
pub(crate) type ConditionBlock<'a> = Vec<(Cow<'a, str>, ConditionKeys<'a>)>;

/// One statement as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pub(crate) sid: Option<Cow<'a, str>>,
    pub(crate) effect: Option<Cow<'a, str>>,
    pub(crate) principal: Option<Negatable<PrincipalBlock<'a>>>,
    pub(crate) action: Option<Negatable<StringList<'a>>>,
    pub(crate) resource: Option<Negatable<StringList<'a>>>,
    pub(crate) condition: Option<ConditionBlock<'a>>,
}

/// A whole document as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document<'a> {
    pub(crate) version: Option<Cow<'a, str>>,
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) statement_array: bool,
    pub(crate) statements: Vec<Statement<'a>>,
}

fn expect_string<'a>(value: Json<'a>, element: &str) -> Result<Cow<'a, str>, PolicyError> {
    match value {
        Json::String(text) => Ok(text),
        other => Err(syntax(format!(
            "{element} must be a string, not {}",
            other.type_name()
        ))),
    }
}

fn string_list<'a>(value: Json<'a>, element: &str) -> Result<StringList<'a>, PolicyError> {
    match value {
        Json::String(text) => Ok(StringList {
            items: vec![text],
            array: false,
        }),
        Json::Array(items) => Ok(StringList {
            items: items
                .into_iter()
                .map(|item| expect_string(item, element))
                .collect::<Result<_, _>>()?,
            array: true,
        }),
        other => Err(syntax(format!(
            "{element} must be a string or an array of strings, not {}",
            other.type_name()
        ))),
    }
}

fn scalar<'a>(value: Json<'a>, key: &str) -> Result<Scalar<'a>, PolicyError> {
    match value {
        Json::String(text) => Ok(Scalar::String(text)),
        Json::Number(text) => Ok(Scalar::Number(Cow::Owned(text))),
        Json::Bool(flag) => Ok(Scalar::Bool(flag)),
        other => Err(syntax(format!(
            "condition values for {key} must be strings, numbers or booleans, not {}",
            other.type_name()
        ))),
    }
}

fn scalar_list<'a>(value: Json<'a>, key: &str) -> Result<ScalarList<'a>, PolicyError> {
    match value {
        Json::Array(items) => Ok(ScalarList {
            items: items
                .into_iter()
                .map(|item| scalar(item, key))
                .collect::<Result<_, _>>()?,
            array: true,
        }),
        other => Ok(ScalarList {
            items: vec![scalar(other, key)?],
            array: false,
        }),
    }
}

fn principal_block<'a>(value: Json<'a>, element: &str) -> Result<PrincipalBlock<'a>, PolicyError> {
    match value {
        Json::String(text) if text == "*" => Ok(PrincipalBlock::Wildcard),
        Json::String(text) => Err(crate::policy::errors::malformed(
            crate::policy::errors::MalformedReason::InvalidPrincipal {
                principal: text.into_owned(),
            },
        )),
        Json::Object(members) => Ok(PrincipalBlock::Map(
            members
                .into_iter()
                .map(|(kind, values)| Ok((kind, string_list(values, element)?)))
                .collect::<Result<_, PolicyError>>()?,
        )),
        other => Err(syntax(format!(
            "{element} must be \"*\" or an object, not {}",
            other.type_name()
        ))),
    }
}

fn condition_block(value: Json<'_>) -> Result<ConditionBlock<'_>, PolicyError> {
    let Json::Object(operators) = value else {
        return Err(syntax("Condition must be an object"));
    };
    operators
        .into_iter()
        .map(|(operator, body)| {
            let Json::Object(keys) = body else {
                return Err(syntax(format!(
                    "condition operator {operator} must map to an object"
                )));
            };
            let keys = keys
                .into_iter()
                .map(|(key, values)| {
                    let values = scalar_list(values, &key)?;
                    Ok((key, values))
                })
                .collect::<Result<_, PolicyError>>()?;
            Ok((operator, keys))
        })
        .collect()
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    element: &str,
    twin: &str,
) -> Result<(), PolicyError> {
    if slot.is_some() {
        return Err(syntax(format!(
            "{element} cannot be used together with {twin}"
        )));
    }
    *slot = Some(value);
    Ok(())
}

fn statement(value: Json<'_>) -> Result<Statement<'_>, PolicyError> {
    let Json::Object(members) = value else {
        return Err(syntax("each statement must be an object"));
    };
    let mut statement = Statement {
        sid: None,
        effect: None,
        principal: None,
        action: None,
        resource: None,
        condition: None,
    };
    for (name, value) in members {
        match &*name {
            "Sid" => statement.sid = Some(expect_string(value, "Sid")?),
            "Effect" => statement.effect = Some(expect_string(value, "Effect")?),
            "Principal" | "NotPrincipal" => {
                let negated = name == "NotPrincipal";
                let block = principal_block(value, &name)?;
                set_once(
                    &mut statement.principal,
                    Negatable {
                        negated,
                        value: block,
                    },
                    &name,
                    if negated { "Principal" } else { "NotPrincipal" },
                )?;
            }
            "Action" | "NotAction" => {
                let negated = name == "NotAction";
                let list = string_list(value, &name)?;
                set_once(
                    &mut statement.action,
                    Negatable {
                        negated,
                        value: list,
                    },
                    &name,
                    if negated { "Action" } else { "NotAction" },
                )?;
            }
            "Resource" | "NotResource" => {
                let negated = name == "NotResource";
                let list = string_list(value, &name)?;
                set_once(
                    &mut statement.resource,
                    Negatable {
                        negated,
                        value: list,
                    },
                    &name,
                    if negated { "Resource" } else { "NotResource" },
                )?;
            }
            "Condition" => statement.condition = Some(condition_block(value)?),
            other => return Err(syntax(format!("unknown statement element {other}"))),
        }
    }
    match statement.effect.as_deref() {
        None => Err(syntax("statement has no Effect")),
        Some(effect)
            if effect.eq_ignore_ascii_case("allow") || effect.eq_ignore_ascii_case("deny") =>
        {
            Ok(statement)
        }
        Some(_) => Err(syntax("Effect must be Allow or Deny")),
    }
}

/// The syntax pass: JSON to the typed tree.
pub(crate) fn from_json(value: Json<'_>) -> Result<Document<'_>, PolicyError> {
    let Json::Object(members) = value else {
        return Err(syntax("the document must be a JSON object"));
    };
    let mut version = None;
    let mut id = None;
    let mut statements = None;
    for (name, value) in members {
        match &*name {
            "Version" => {
                let text = expect_string(value, "Version")?;
                if text != "2012-10-17" && text != "2008-10-17" {
                    return Err(syntax(format!(
                        "Version must be 2012-10-17 or 2008-10-17, not {text}"
                    )));
                }
                version = Some(text);
            }
            "Id" => id = Some(expect_string(value, "Id")?),
            "Statement" => statements = Some(value),
            other => return Err(syntax(format!("unknown top-level element {other}"))),
        }
    }
    let (statement_array, statements) = match statements {
        None => return Err(syntax("the document has no Statement")),
        Some(Json::Array(items)) => (
            true,
            items
                .into_iter()
                .map(statement)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(object @ Json::Object(_)) => (false, vec![statement(object)?]),
        Some(other) => {
            return Err(syntax(format!(
                "Statement must be an object or an array, not {}",
                other.type_name()
            )));
        }
    };
    if statements.is_empty() {
        return Err(syntax("Statement is empty"));
    }
    Ok(Document {
        version,
        id,
        statement_array,
        statements,
    })
}

/// Writes a JSON string literal.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_string_list(out: &mut String, list: &StringList<'_>) {
    if list.array {
        out.push('[');
        for (index, item) in list.items.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_string(out, item);
        }
        out.push(']');
    } else if let Some(item) = list.items.first() {
        write_string(out, item);
    }
}

fn write_scalar(out: &mut String, value: &Scalar<'_>) {
    match value {
        Scalar::String(text) => write_string(out, text),
        Scalar::Number(text) => out.push_str(text),
        Scalar::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
    }
}

fn principal_order(kind: &str) -> usize {
    ["AWS", "Federated", "Service", "CanonicalUser"]
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(4)
}

fn write_statement(out: &mut String, statement: &Statement<'_>) {
    out.push('{');
    let mut first = true;
    let mut member = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, name);
        out.push(':');
    };
    if let Some(sid) = &statement.sid {
        member(out, "Sid");
        write_string(out, sid);
    }
    if let Some(effect) = &statement.effect {
        member(out, "Effect");
        write_string(out, effect);
    }
    if let Some(principal) = &statement.principal {
        member(
            out,
            if principal.negated {
                "NotPrincipal"
            } else {
                "Principal"
            },
        );
        match &principal.value {
            PrincipalBlock::Wildcard => write_string(out, "*"),
            PrincipalBlock::Map(entries) => {
                let mut sorted: Vec<&(Cow<'_, str>, StringList<'_>)> = entries.iter().collect();
                sorted.sort_by_key(|(kind, _)| (principal_order(kind), &**kind));
                out.push('{');
                for (index, (kind, values)) in sorted.into_iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(out, kind);
                    out.push(':');
                    write_string_list(out, values);
                }
                out.push('}');
            }
        }
    }
    if let Some(action) = &statement.action {
        member(
            out,
            if action.negated {
                "NotAction"
            } else {
                "Action"
            },
        );
        write_string_list(out, &action.value);
    }
    if let Some(resource) = &statement.resource {
        member(
            out,
            if resource.negated {
                "NotResource"
            } else {
                "Resource"
            },
        );
        write_string_list(out, &resource.value);
    }
    if let Some(condition) = &statement.condition {
        member(out, "Condition");
        let mut operators: Vec<&(Cow<'_, str>, ConditionKeys<'_>)> = condition.iter().collect();
        operators.sort_by(|a, b| a.0.cmp(&b.0));
        out.push('{');
        for (index, (operator, keys)) in operators.into_iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_string(out, operator);
            out.push_str(":{");
            let mut keys: Vec<&(Cow<'_, str>, ScalarList<'_>)> = keys.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            for (key_index, (key, values)) in keys.into_iter().enumerate() {
                if key_index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                if values.array {
                    out.push('[');
                    for (value_index, value) in values.items.iter().enumerate() {
                        if value_index > 0 {
                            out.push(',');
                        }
                        write_scalar(out, value);
                    }
                    out.push(']');
                } else if let Some(value) = values.items.first() {
                    write_scalar(out, value);
                }
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push('}');
}

/// Renders the canonical JSON form.
pub(crate) fn to_canonical_json(document: &Document<'_>) -> String {
    let mut out = String::with_capacity(256);
    out.push('{');
    let mut first = true;
    if let Some(version) = &document.version {
        out.push_str("\"Version\":");
        write_string(&mut out, version);
        first = false;
    }
    if let Some(id) = &document.id {
        if !first {
            out.push(',');
        }
        out.push_str("\"Id\":");
        write_string(&mut out, id);
        first = false;
    }
    if !first {
        out.push(',');
    }
    out.push_str("\"Statement\":");
    if document.statement_array {
        out.push('[');
        for (index, statement) in document.statements.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_statement(&mut out, statement);
        }
        out.push(']');
    } else if let Some(statement) = document.statements.first() {
        write_statement(&mut out, statement);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::json;

    fn parse(text: &str) -> Result<Document<'_>, PolicyError> {
        from_json(json::parse(text)?)
    }

    #[test]
    fn canonical_form_orders_members_and_drops_whitespace() {
        let written = r#"{
            "Statement": {
                "Condition": {"StringLike": {"b:k": "x*", "a:k": ["1", 2, true]}, "Bool": {"aws:SecureTransport": "true"}},
                "Resource": "*",
                "Action": ["s3:GetObject"],
                "Effect": "Allow",
                "Sid": "One"
            },
            "Version": "2012-10-17"
        }"#;
        let document = parse(written).unwrap();
        assert_eq!(
            to_canonical_json(&document),
            concat!(
                r#"{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow","#,
                r#""Action":["s3:GetObject"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"},"#,
                r#""StringLike":{"a:k":["1",2,true],"b:k":"x*"}}}}"#
            )
        );
    }

    #[test]
    fn rendering_escapes_strings() {
        let document =
            parse(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"a\"b\\c\u0001é"}]}"#)
                .unwrap();
        let rendered = to_canonical_json(&document);
        assert!(rendered.contains(r#""a\"b\\c\u0001é""#), "{rendered}");
        assert_eq!(parse(&rendered).unwrap(), document);
    }

    #[test]
    fn structural_errors_are_syntax_errors() {
        for text in [
            r#"[]"#,
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Statement":[]}"#,
            r#"{"Statement":"x"}"#,
            r#"{"Statement":[1]}"#,
            r#"{"Bogus":1,"Statement":{"Effect":"Allow"}}"#,
            r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow"}}"#,
            r#"{"Version":20121017,"Statement":{"Effect":"Allow"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"a:b","NotAction":"a:c"}}"#,
            r#"{"Statement":{"Effect":"Allow","Resource":"*","NotResource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":[1]}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":{"a":"b"}}}"#,
            r#"{"Statement":{"Effect":"Allow","Actions":"a:b"}}"#,
            r#"{"Statement":{"Effect":"Permit"}}"#,
            r#"{"Statement":{"Action":"a:b"}}"#,
            r#"{"Statement":{"Effect":"Allow","Condition":[]}}"#,
            r#"{"Statement":{"Effect":"Allow","Condition":{"StringEquals":"x"}}}"#,
            r#"{"Statement":{"Effect":"Allow","Condition":{"StringEquals":{"a:b":null}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Condition":{"StringEquals":{"a:b":[["x"]]}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":7}}"#,
            r#"{"Statement":{"Effect":"Allow","Sid":1}}"#,
        ] {
            assert!(
                matches!(
                    parse(text),
                    Err(PolicyError::Malformed(
                        crate::policy::errors::MalformedReason::Syntax { .. }
                    ))
                ),
                "{text}: {:?}",
                parse(text)
            );
        }
    }
}
