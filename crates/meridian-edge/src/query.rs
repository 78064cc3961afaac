//! Raw query-protocol parameters: `name=value` pairs from the query string and
//! the form-encoded body, decoded strictly and checked before dispatch.
//!
//! Decisions:
//! * Form encoding: `+` is a space, `%XX` must be two hex digits, the result
//!   must be UTF-8; anything else is `MalformedQueryString` (texts from the
//!   AWS-compatible verifier scratchstack, STS-API.md §3.4).
//! * Duplicate names are refused (`MalformedQueryString`) before routing, so
//!   the SigV4 canonicaliser, the router and the decoder can never read two
//!   different values of one parameter (RELIABILITY.md b.3). AWS itself keeps
//!   the first value; refusing is deliberately stricter.
//! * The number of parameters and the length of a name are bounded; the total
//!   size is bounded by the body limit layer before this runs.
//! * Parameters are kept in a `BTreeMap` so the decoder can ask "is anything
//!   under `Tags.member.3.`" with one range lookup.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::ApiError;
use crate::model::ErrorCode;

/// Limits on the parameter set of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most `name=value` pairs in query string and body together. The largest
    /// legitimate STS request (AssumeRole with 50 tags, 50 transitive keys,
    /// 10 policy ARNs, 5 provided contexts) has under 200.
    pub max_params: usize,
    /// Longest decoded parameter name, in bytes. Real names stay under 64
    /// (`ProvidedContexts.member.5.ContextAssertion`).
    pub max_name_bytes: usize,
}

impl QueryLimits {
    /// The limits the edge uses unless configured otherwise.
    pub const RECOMMENDED: QueryLimits = QueryLimits {
        max_params: 1000,
        max_name_bytes: 256,
    };
}

/// The decoded parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: BTreeMap<String, String>,
}

impl Params {
    /// An empty set.
    pub fn new() -> Params {
        Params::default()
    }

    /// Adds every pair of the `application/x-www-form-urlencoded` text
    /// `encoded` (a query string without `?`, or a body).
    pub fn extend_from_form(
        &mut self,
        encoded: &[u8],
        limits: QueryLimits,
    ) -> Result<(), ApiError> {
        for segment in encoded.split(|&b| b == b'&') {
            if segment.is_empty() {
                continue;
            }
            let (raw_name, raw_value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &b""[..]),
            };
            if self.pairs.len() >= limits.max_params {
                return Err(ApiError::new(
                    ErrorCode::MalformedQueryString,
                    format!(
                        "Too many parameters: at most {} are accepted",
                        limits.max_params
                    ),
                ));
            }
            let name = decode_component(raw_name)?;
            if name.len() > limits.max_name_bytes {
                return Err(ApiError::new(
                    ErrorCode::MalformedQueryString,
                    format!("Parameter name longer than {} bytes", limits.max_name_bytes),
                ));
            }
            let value = decode_component(raw_value)?;
            if name.is_empty() {
                // `=x` carries no parameter; AWS ignores unknown input.
                continue;
            }
            if self.pairs.contains_key(&name) {
                return Err(ApiError::new(
                    ErrorCode::MalformedQueryString,
                    format!("Duplicate parameter: {name}"),
                ));
            }
            self.pairs.insert(name, value);
        }
        Ok(())
    }

    /// Adds one pair (tests and callers that already decoded).
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), ApiError> {
        if self.pairs.contains_key(name) {
            return Err(ApiError::new(
                ErrorCode::MalformedQueryString,
                format!("Duplicate parameter: {name}"),
            ));
        }
        self.pairs.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// Whether any parameter name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.pairs
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .next()
            .is_some_and(|(name, _)| name.starts_with(prefix))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// All pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Decodes one form component: `+` → space, `%XX` → byte, then UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, ApiError> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MalformedQueryString,
                    "Incomplete trailing escape % sequence",
                )
            })?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(ApiError::new(
                    ErrorCode::MalformedQueryString,
                    format!(
                        "Illegal hex character in escape % pattern: %{}",
                        String::from_utf8_lossy(hex)
                    ),
                ));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let with_spaces: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&with_spaces)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| {
            ApiError::new(
                ErrorCode::MalformedQueryString,
                "Parameter is not valid UTF-8 after percent-decoding",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Params, ApiError> {
        let mut params = Params::new();
        params.extend_from_form(text.as_bytes(), QueryLimits::RECOMMENDED)?;
        Ok(params)
    }

    #[test]
    fn decodes_form_encoding() {
        let params =
            parse("Action=AssumeRole&Tags.member.2.Value=A+B&RoleArn=arn%3Aaws%3Aiam&E=&F&&")
                .unwrap_or_default();
        assert_eq!(params.get("Action"), Some("AssumeRole"));
        assert_eq!(params.get("Tags.member.2.Value"), Some("A B"));
        assert_eq!(params.get("RoleArn"), Some("arn:aws:iam"));
        assert_eq!(params.get("E"), Some(""));
        assert_eq!(params.get("F"), Some(""));
        assert_eq!(params.len(), 5);
        assert!(params.has_prefix("Tags.member.2."));
        assert!(!params.has_prefix("Tags.member.1."));
        assert_eq!(parse("a=%2B%20").unwrap_or_default().get("a"), Some("+ "));
        assert_eq!(parse("a=%C3%A9").unwrap_or_default().get("a"), Some("é"));
    }

    #[test]
    fn rejects_malformed_input_and_duplicates() {
        let cases = [
            ("a=%", "Incomplete trailing escape % sequence"),
            ("a=%4", "Incomplete trailing escape % sequence"),
            ("a=%zz", "Illegal hex character in escape % pattern: %zz"),
            (
                "a=%FF",
                "Parameter is not valid UTF-8 after percent-decoding",
            ),
            (
                "Action=AssumeRole&Action=GetCallerIdentity",
                "Duplicate parameter: Action",
            ),
            ("A+B=1&A%20B=2", "Duplicate parameter: A B"),
        ];
        for (input, message) in cases {
            let error = parse(input).err();
            assert_eq!(
                error.as_ref().map(ApiError::code),
                Some(ErrorCode::MalformedQueryString),
                "{input}"
            );
            assert_eq!(
                error.as_ref().and_then(ApiError::message),
                Some(message),
                "{input}"
            );
        }
    }

    #[test]
    fn bounds_parameter_count_and_name_length() {
        let limits = QueryLimits {
            max_params: 3,
            max_name_bytes: 8,
        };
        let mut params = Params::new();
        assert!(params.extend_from_form(b"a=1&b=2&c=3", limits).is_ok());
        assert!(params.extend_from_form(b"d=4", limits).is_err());
        let mut params = Params::new();
        assert!(params.extend_from_form(b"abcdefghi=1", limits).is_err());
    }
}
