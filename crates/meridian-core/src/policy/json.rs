//! A JSON tree that keeps what the policy grammar needs and `serde_json::Value`
//! loses: the order of object members, and every member even when a key is
//! repeated (so that duplicates are reported instead of silently dropped).
//!
//! Parsing uses `serde_json`'s deserializer with our own visitor; the input
//! has already passed the size and depth pre-scan (`kind.rs`), so the
//! recursion here is bounded by [`crate::policy::kind::MAX_DEPTH`]. Strings
//! and keys without escapes borrow from the input, so element names
//! (`Effect`, `Action`, …) cost no allocation.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::policy::errors::{MalformedReason, PolicyError, malformed};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as its shortest decimal text (integers exactly).
    Number(String),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object, members in document order, duplicates kept.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
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
pub(crate) fn parse(text: &str) -> Result<Json<'_>, PolicyError> {
    let value: Json<'_> = serde_json::from_str(text).map_err(|_| PolicyError::InvalidJson)?;
    reject_duplicate_keys(&value)?;
    Ok(value)
}

fn reject_duplicate_keys(value: &Json<'_>) -> Result<(), PolicyError> {
    match value {
        Json::Array(items) => items.iter().try_for_each(reject_duplicate_keys),
        Json::Object(members) => {
            let duplicate = if members.len() <= 16 {
                // Small objects (all of a valid policy's): compare pairs, no
                // allocation.
                members.iter().enumerate().find_map(|(index, (key, _))| {
                    members[index + 1..]
                        .iter()
                        .any(|(other, _)| other == key)
                        .then_some(&**key)
                })
            } else {
                // Sorting references keeps this O(n log n) even for an object
                // with thousands of members.
                let mut keys: Vec<&str> = members.iter().map(|(key, _)| &**key).collect();
                keys.sort_unstable();
                keys.windows(2)
                    .find(|pair| pair[0] == pair[1])
                    .map(|pair| pair[0])
            };
            if let Some(key) = duplicate {
                return Err(malformed(MalformedReason::DuplicateKey {
                    key: key.to_owned(),
                }));
            }
            members
                .iter()
                .try_for_each(|(_, member)| reject_duplicate_keys(member))
        }
        _ => Ok(()),
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(item) = seq.next_element::<Json<'de>>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(6).min(64));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value::<Json<'de>>()?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

/// Object keys, borrowed from the input when they have no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(value))
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
                    Cow::Borrowed("b"),
                    Json::Array(vec![
                        Json::Number(String::from("1")),
                        Json::Number(String::from("2.5")),
                        Json::Bool(true),
                        Json::Null,
                    ])
                ),
                (Cow::Borrowed("a"), Json::String(Cow::Borrowed("x"))),
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
