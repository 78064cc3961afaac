//! A JSON tree that keeps what the policy grammar needs and `serde_json::Value`
//! loses: the order of object members, and every member even when a key is
//! repeated (so that duplicates are reported instead of silently dropped).
//!
//! Parsing uses `serde_json`'s deserializer with our own visitor; the input
//! has already passed the size and depth pre-scan (`kind.rs`), so the
//! recursion here is bounded by [`crate::policy::kind::MAX_DEPTH`].

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use crate::policy::errors::{MalformedReason, PolicyError, malformed};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as its shortest decimal text (integers exactly).
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in document order, duplicates kept.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A short name of the JSON type, for error details.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses a document and rejects duplicate object keys anywhere in it.
pub(crate) fn parse(text: &str) -> Result<Json, PolicyError> {
    let value: Json = serde_json::from_str(text).map_err(|_| PolicyError::InvalidJson)?;
    reject_duplicate_keys(&value)?;
    Ok(value)
}

fn reject_duplicate_keys(value: &Json) -> Result<(), PolicyError> {
    match value {
        Json::Array(items) => items.iter().try_for_each(reject_duplicate_keys),
        Json::Object(members) => {
            // Sorting references keeps this O(n log n) even for an object with
            // thousands of members.
            let mut keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(malformed(MalformedReason::DuplicateKey {
                    key: pair[0].to_owned(),
                }));
            }
            members
                .iter()
                .try_for_each(|(_, member)| reject_duplicate_keys(member))
        }
        _ => Ok(()),
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_types() {
        let value = parse(r#"{"b":[1,2.5,true,null],"a":"x"}"#).unwrap();
        assert_eq!(
            value,
            Json::Object(vec![
                (
                    String::from("b"),
                    Json::Array(vec![
                        Json::Number(String::from("1")),
                        Json::Number(String::from("2.5")),
                        Json::Bool(true),
                        Json::Null,
                    ])
                ),
                (String::from("a"), Json::String(String::from("x"))),
            ])
        );
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        assert_eq!(
            parse(r#"{"a":{"k":1,"k":2}}"#),
            Err(malformed(MalformedReason::DuplicateKey {
                key: String::from("k")
            }))
        );
    }

    #[test]
    fn rejects_invalid_json() {
        for text in ["{", "{\"a\":}", "[1,]", "nul", "{\"a\":1}}"] {
            assert_eq!(parse(text), Err(PolicyError::InvalidJson), "{text}");
        }
    }
}
