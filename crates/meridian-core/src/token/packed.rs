//! The packed session policy: session policies and session tags as they
//! travel inside a token, and AWS's `PackedPolicySize`.
//!
//! AWS reports `PackedPolicySize` as the percentage of a fixed budget that a
//! request's session policies and session tags take once packed, and refuses
//! the request with `PackedPolicyTooLarge` above 100 %. Meridian's packed form
//! is the token's own encoding of that section:
//!
//! ```text
//! inline policy   u16 length + minified JSON (length 0: none)
//! managed ARNs    u8 count (≤ 10), each u16 length + ARN text
//! session tags    u8 count (≤ 50), each u8 transitive flag (0/1),
//!                 u16 length + key, u16 length + value
//! ```
//!
//! and its budget is [`PACKED_POLICY_LIMIT`] bytes, so
//! `PackedPolicySize = ceil(100 × packed bytes / limit)`; using the ceiling
//! makes "over 100 %" and "over the limit" the same test. Minifying drops the
//! JSON whitespace outside string literals, so indentation does not count
//! against the budget (AWS's own packing compresses; we do not, which is why
//! the budget is larger than AWS's 2,048-character plaintext limit would need
//! for policies alone).

use crate::arn::Arn;

/// The packed budget in bytes: 100 % of `PackedPolicySize`.
pub const PACKED_POLICY_LIMIT: usize = 2048;
/// At most this many managed policy ARNs per session (AWS's limit).
pub const MAX_POLICY_ARNS: usize = 10;
/// The plaintext of the inline policy plus the managed ARNs may not exceed
/// this many characters (AWS's limit, counted before minifying).
pub const MAX_SESSION_POLICY_PLAINTEXT: usize = 2048;
/// At most this many session tags (AWS's limit).
pub const MAX_SESSION_TAGS: usize = 50;
/// Longest tag key in characters (AWS's limit).
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value in characters (AWS's limit).
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// Why a session policy cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionPolicyError {
    /// More than [`MAX_POLICY_ARNS`] managed policy ARNs.
    #[error("at most 10 managed session policy arns are allowed")]
    TooManyPolicyArns,
    /// Inline policy and ARNs exceed [`MAX_SESSION_POLICY_PLAINTEXT`] characters.
    #[error("session policy plaintext exceeds 2048 characters")]
    PlaintextTooLong,
    /// The inline policy is empty once whitespace is removed.
    #[error("session policy document is empty")]
    EmptyPolicy,
}

/// Session policies: an optional inline policy (kept minified) and managed
/// policy ARNs. The session's permissions are the intersection of these and
/// the principal's own policies; evaluating that is the policy module's job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionPolicy {
    inline: Option<String>,
    managed: Vec<Arn>,
}

impl SessionPolicy {
    /// No session policy.
    pub fn none() -> SessionPolicy {
        SessionPolicy::default()
    }

    /// Session policies from a request's `Policy` and `PolicyArns`. The
    /// inline document should already have been parsed and validated by the
    /// policy module; here it is only bounded and minified.
    pub fn new(
        inline: Option<&str>,
        managed: Vec<Arn>,
    ) -> Result<SessionPolicy, SessionPolicyError> {
        if managed.len() > MAX_POLICY_ARNS {
            return Err(SessionPolicyError::TooManyPolicyArns);
        }
        let plaintext = inline.map_or(0, |text| text.chars().count())
            + managed
                .iter()
                .map(|arn| arn.to_string().len())
                .sum::<usize>();
        if plaintext > MAX_SESSION_POLICY_PLAINTEXT {
            return Err(SessionPolicyError::PlaintextTooLong);
        }
        let inline = match inline {
            None => None,
            Some(text) => {
                let minified = minify_json(text);
                if minified.is_empty() {
                    return Err(SessionPolicyError::EmptyPolicy);
                }
                Some(minified)
            }
        };
        Ok(SessionPolicy { inline, managed })
    }

    /// Rebuilds a policy decoded from an authenticated token (already
    /// minified and bounded when it was minted).
    pub(crate) fn from_parts(inline: Option<String>, managed: Vec<Arn>) -> SessionPolicy {
        SessionPolicy { inline, managed }
    }

    /// The minified inline policy document.
    pub fn inline(&self) -> Option<&str> {
        self.inline.as_deref()
    }

    /// The managed policy ARNs.
    pub fn managed_arns(&self) -> &[Arn] {
        &self.managed
    }

    /// Whether there is no session policy at all.
    pub fn is_empty(&self) -> bool {
        self.inline.is_none() && self.managed.is_empty()
    }
}

/// A session tag. `transitive` tags pass on to sessions chained from this one.
///
/// Keys are 1–128 characters and values 0–256 (AWS's limits, checked when
/// minting); the character set and case-insensitive uniqueness of keys are
/// request validation, done where the request is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionTag {
    /// The tag key.
    pub key: String,
    /// The tag value.
    pub value: String,
    /// Whether the tag is in the session's `TransitiveTagKeys`.
    pub transitive: bool,
}

impl SessionTag {
    /// A tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>, transitive: bool) -> SessionTag {
        SessionTag {
            key: key.into(),
            value: value.into(),
            transitive,
        }
    }
}

/// The packed size in bytes of `policy` and `tags` (the exact length of the
/// token's packed section).
pub fn packed_size(policy: &SessionPolicy, tags: &[SessionTag]) -> usize {
    let inline = 2 + policy.inline.as_ref().map_or(0, String::len);
    let managed = 1 + policy
        .managed
        .iter()
        .map(|arn| 2 + arn_len(arn))
        .sum::<usize>();
    let tags = 1 + tags
        .iter()
        .map(|tag| 1 + 2 + tag.key.len() + 2 + tag.value.len())
        .sum::<usize>();
    inline + managed + tags
}

/// `PackedPolicySize` for `packed` bytes: `ceil(100 × packed / limit)`.
pub fn packed_policy_percent(packed: usize) -> u32 {
    let percent = packed.saturating_mul(100).div_ceil(PACKED_POLICY_LIMIT);
    u32::try_from(percent).unwrap_or(u32::MAX)
}

/// The length of an ARN's text without rendering it.
pub(crate) fn arn_len(arn: &Arn) -> usize {
    "arn:::::".len()
        + arn.partition().len()
        + arn.service().len()
        + arn.region().len()
        + arn.account().len()
        + arn.resource().len()
}

/// Drops JSON whitespace (space, tab, line feed, carriage return) outside
/// string literals. Only ASCII is removed, so the result is valid UTF-8 and
/// every string literal is kept byte for byte. Malformed JSON is not an error
/// here: it is minified as far as it goes, and rejected by the policy parser.
pub fn minify_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minifies_outside_strings_only() {
        for (input, expected) in [
            ("{ \"a\" : 1 }", "{\"a\":1}"),
            (
                "{\n\t\"Version\": \"2012-10-17\",\r\n \"x\": [ 1, 2 ]\n}",
                "{\"Version\":\"2012-10-17\",\"x\":[1,2]}",
            ),
            ("{\"k\": \"a b\\\" c\"}", "{\"k\":\"a b\\\" c\"}"),
            (
                "{\"k\": \"\\\\\" , \"l\" : \"é ü\"}",
                "{\"k\":\"\\\\\",\"l\":\"é ü\"}",
            ),
            ("   ", ""),
        ] {
            assert_eq!(minify_json(input), expected, "{input:?}");
        }
    }

    #[test]
    fn packed_size_and_percent() {
        let arn = Arn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(arn_len(&arn), arn.to_string().len());
        let policy =
            SessionPolicy::new(Some("{ \"Version\": \"2012-10-17\" }"), vec![arn]).unwrap();
        let tags = [SessionTag::new("Project", "Unicorn", true)];
        let minified = r#"{"Version":"2012-10-17"}"#;
        assert_eq!(policy.inline(), Some(minified));
        let expected = (2 + minified.len()) + (1 + 2 + 38) + (1 + 1 + 2 + 7 + 2 + 7);
        assert_eq!(packed_size(&policy, &tags), expected);
        assert_eq!(packed_size(&SessionPolicy::none(), &[]), 4);
        for (bytes, percent) in [
            (0, 0),
            (1, 1),
            (20, 1),
            (21, 2),
            (2048, 100),
            (2049, 101),
            (4096, 200),
        ] {
            assert_eq!(packed_policy_percent(bytes), percent, "{bytes}");
        }
    }

    #[test]
    fn session_policy_limits() {
        let arn = Arn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(
            SessionPolicy::new(None, vec![arn.clone(); 11]),
            Err(SessionPolicyError::TooManyPolicyArns)
        );
        let long = format!("{{\"Sid\":\"{}\"}}", "x".repeat(2040));
        assert_eq!(
            SessionPolicy::new(Some(&long), vec![]),
            Err(SessionPolicyError::PlaintextTooLong)
        );
        assert_eq!(
            SessionPolicy::new(Some(" \n"), vec![]),
            Err(SessionPolicyError::EmptyPolicy)
        );
        let ok = SessionPolicy::new(Some("{ }"), vec![arn; 10]).unwrap();
        assert_eq!(ok.inline(), Some("{}"));
        assert_eq!(ok.managed_arns().len(), 10);
        assert!(SessionPolicy::none().is_empty());
    }
}
