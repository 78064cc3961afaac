//! Compiled `Action` and `Resource` patterns.
//!
//! Actions: the vendor is compared ignoring ASCII case (or is `*`), the action
//! name is `*`, an exact lowercase name, or a case-insensitive wildcard
//! pattern. The request's action is split once into vendor and name when the
//! context is built, so matching does no splitting and no lowercasing.
//!
//! ARNs (`Resource`, `ArnLike`/`ArnEquals`): a pattern is split at compile
//! time into its colon-separated parts (partition, service, region, account,
//! resource — the resource part keeps its own colons) and each part is
//! matched on its own, so `*` never crosses a part boundary except inside the
//! resource part. A pattern with fewer than six parts (`arn:aws:s3:*`)
//! matches its last part against the whole remainder of the ARN. Parts that
//! are `*` or plain text are recognised at compile time and cost one
//! comparison. Matching is case-sensitive.

use crate::policy::context::{RequestContext, ResourceParts};
use crate::policy::variables::{Template, Wildcards, split_arn};
use crate::policy::wildcard::{Tok, match_tokens, tokenize};

/// A compiled action pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActionPattern {
    /// `*`.
    Any,
    /// `vendor:name-pattern`; `vendor` is lowercase, `None` for `*`.
    Named {
        vendor: Option<Box<str>>,
        name: NamePattern,
    },
}

/// The part of an action pattern after the vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamePattern {
    /// `*`.
    Any,
    /// A name without wildcards, lowercase.
    Exact(Box<str>),
    /// `Prefix*` (the most common form: `Get*`, `List*`), prefix lowercase.
    Prefix(Box<str>),
    /// A name with wildcards, lowercase.
    Wildcard(Box<[Tok]>),
}

impl ActionPattern {
    /// Compiles an action that passed validation (`*` or `vendor:name`).
    pub(crate) fn compile(text: &str) -> ActionPattern {
        if text == "*" {
            return ActionPattern::Any;
        }
        let (vendor, name) = text.split_once(':').unwrap_or(("*", text));
        let vendor = (vendor != "*").then(|| vendor.to_ascii_lowercase().into_boxed_str());
        let name = if name.chars().all(|c| c == '*') {
            NamePattern::Any
        } else if let Some(prefix) = name.strip_suffix('*')
            && !prefix.contains(['*', '?'])
        {
            NamePattern::Prefix(prefix.to_ascii_lowercase().into_boxed_str())
        } else if name.contains(['*', '?']) {
            NamePattern::Wildcard(tokenize(name, true))
        } else {
            NamePattern::Exact(name.to_ascii_lowercase().into_boxed_str())
        };
        if vendor.is_none() && name == NamePattern::Any {
            return ActionPattern::Any;
        }
        ActionPattern::Named { vendor, name }
    }

    /// Whether the request's `vendor`/`name` match, ignoring ASCII case.
    pub(crate) fn matches(&self, vendor: &str, name: &str) -> bool {
        match self {
            ActionPattern::Any => true,
            ActionPattern::Named {
                vendor: pattern_vendor,
                name: pattern_name,
            } => {
                let vendor_ok = pattern_vendor
                    .as_deref()
                    .is_none_or(|expected| expected.eq_ignore_ascii_case(vendor));
                vendor_ok
                    && match pattern_name {
                        NamePattern::Any => true,
                        NamePattern::Exact(expected) => expected.eq_ignore_ascii_case(name),
                        NamePattern::Prefix(prefix) => name
                            .as_bytes()
                            .get(..prefix.len())
                            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes())),
                        NamePattern::Wildcard(tokens) => match_tokens(tokens, &[], name, true),
                    }
            }
        }
    }
}

/// A compiled ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `*`: everything, including "no resource".
    Any,
    /// Up to six parts, matched part by part. Plain parts are byte ranges of
    /// `text`, so a pattern costs two allocations plus one per part that has
    /// wildcards in the middle or variables.
    Parts { text: Box<str>, parts: Box<[Part]> },
}

/// One part of an ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// `*`.
    Any,
    /// Plain text (a range of the pattern text), compared exactly.
    Literal(u32, u32),
    /// `text*` (a range of the pattern text before the star).
    Prefix(u32, u32),
    /// Other wildcards, or variables.
    Template(Template),
}

impl ArnPattern {
    /// Compiles an ARN pattern (or `*`). `variables` is false for 2008-10-17
    /// documents.
    pub(crate) fn compile(text: &str, variables: bool) -> ArnPattern {
        if text == "*" {
            return ArnPattern::Any;
        }
        // Policy documents are far below 4 GiB, so offsets fit in u32; a
        // longer text (impossible after the size checks) degrades to a
        // template rather than truncating.
        let range = |part: &str| {
            let start = part.as_ptr() as usize - text.as_ptr() as usize;
            Some((
                u32::try_from(start).ok()?,
                u32::try_from(start + part.len()).ok()?,
            ))
        };
        let special = |part: &str| part.contains(['*', '?']) || (variables && part.contains('$'));
        let parts = split_arn(text, variables)
            .iter()
            .map(|part| {
                if *part == "*" {
                    return Part::Any;
                }
                if !special(part)
                    && let Some((start, end)) = range(part)
                {
                    return Part::Literal(start, end);
                }
                if let Some(prefix) = part.strip_suffix('*')
                    && !special(prefix)
                    && let Some((start, end)) = range(prefix)
                {
                    return Part::Prefix(start, end);
                }
                let template = Template::parse(part, variables, Wildcards::Match);
                if template.is_match_all() {
                    Part::Any
                } else {
                    Part::Template(template)
                }
            })
            .collect();
        ArnPattern::Parts {
            text: Box::from(text),
            parts,
        }
    }

    /// Whether the target matches; `None` when a variable is unresolved.
    pub(crate) fn matches(
        &self,
        ctx: &RequestContext<'_>,
        target: Option<&ResourceParts<'_>>,
    ) -> Option<bool> {
        let (pattern, parts) = match self {
            ArnPattern::Any => return Some(true),
            ArnPattern::Parts { text, parts } => (&**text, parts),
        };
        let Some(target) = target else {
            return Some(false);
        };
        let Some((last, leading)) = parts.split_last() else {
            return Some(false);
        };
        if target.count < parts.len() {
            return Some(false);
        }
        let mut unresolved = false;
        for (part, text) in leading.iter().zip(target.parts.iter()) {
            match part.matches(pattern, ctx, text) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => unresolved = true,
            }
        }
        // The last pattern part takes the rest of the ARN, colons included.
        let offset: usize = target.parts[..leading.len()]
            .iter()
            .map(|text| text.len() + 1)
            .sum();
        let rest = target.text.get(offset..).unwrap_or("");
        match last.matches(pattern, ctx, rest) {
            Some(true) if !unresolved => Some(true),
            Some(false) => Some(false),
            _ => None,
        }
    }
}

impl Part {
    fn matches(&self, pattern: &str, ctx: &RequestContext<'_>, text: &str) -> Option<bool> {
        let slice = |start: u32, end: u32| pattern.get(start as usize..end as usize).unwrap_or("");
        match *self {
            Part::Any => Some(true),
            Part::Literal(start, end) => Some(slice(start, end) == text),
            Part::Prefix(start, end) => Some(text.starts_with(slice(start, end))),
            Part::Template(ref template) => template.matches(ctx, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn actions_match_ignoring_case() {
        let ctx = |action| RequestContext::new(action, Timestamp::EPOCH);
        let cases = [
            ("*", "sts:AssumeRole", true),
            ("sts:*", "STS:AssumeRole", true),
            ("sts:AssumeRole", "sts:assumerole", true),
            ("sts:AssumeRole", "sts:AssumeRoleWithSAML", false),
            ("sts:AssumeRole*", "sts:AssumeRoleWithSAML", true),
            ("sts:Assume?ole", "sts:AssumeRole", true),
            ("iam:*", "sts:AssumeRole", false),
            ("*:GetObject", "s3:getobject", true),
            ("s3:*Object*", "s3:PutObjectAcl", true),
        ];
        for (pattern, action, expected) in cases {
            let context = ctx(action);
            let (vendor, name) = context.action_parts();
            assert_eq!(
                ActionPattern::compile(pattern).matches(vendor, name),
                expected,
                "{pattern} vs {action}"
            );
        }
    }

    #[test]
    fn arns_match_part_by_part() {
        let ctx = RequestContext::new("s3:GetObject", Timestamp::EPOCH);
        let cases = [
            ("*", "anything", true),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", false),
            ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket", true),
            (
                "arn:aws:iam::*:role/*",
                "arn:aws:iam::111122223333:role/x",
                true,
            ),
            (
                "arn:aws:iam::*:role/*",
                "arn:aws:iam::111122223333:user/x",
                false,
            ),
            // `*` in the region part does not swallow the account part.
            (
                "arn:aws:someservice:*:111122223333:finance/*",
                "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
                false,
            ),
            ("arn:aws:s3:*", "arn:aws:s3:::bucket/key", true),
            ("arn:aws:s3:*", "arn:aws:iam::111122223333:root", false),
            ("arn:aws:IAM::*:role/x", "arn:aws:iam::1:role/x", false),
        ];
        for (pattern, target, expected) in cases {
            let parts = ResourceParts::split(target);
            assert_eq!(
                ArnPattern::compile(pattern, true).matches(&ctx, Some(&parts)),
                Some(expected),
                "{pattern} vs {target}"
            );
        }
        assert_eq!(
            ArnPattern::compile("arn:aws:s3:::b", true).matches(&ctx, None),
            Some(false)
        );
        assert_eq!(
            ArnPattern::compile("*", true).matches(&ctx, None),
            Some(true)
        );
    }
}
