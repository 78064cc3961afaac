//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'default'}`,
//! and the escapes `${*}`, `${?}`, `${$}`.
//!
//! A policy string that may hold variables is compiled once into a
//! [`Template`]: literal text, wildcard tokens (where the element allows
//! wildcards) and variable slots. At evaluation the slots are filled from the
//! request context into a small stack buffer — a string value is borrowed, a
//! typed value (a date, an IP) is rendered inline — and the filled template
//! is matched without ever being concatenated. A substituted value is always
//! literal text: a `*` in a tag value is not a wildcard.
//!
//! Rules (IAM user guide, "Policy variables"): variables exist only in
//! `Version` 2012-10-17 documents (in 2008-10-17 `${…}` is literal text);
//! only single-valued keys substitute; a key with no value and no default
//! leaves the whole template unmatched (so a positive operator fails and a
//! negated one succeeds, and a `Resource` entry matches nothing); a default
//! is written `${key, 'value'}`. Text that only looks like a variable (no
//! closing brace, no `vendor:` in the name) stays literal.

use smallvec::SmallVec;

use crate::policy::context::{Rendered, RequestContext};
use crate::policy::keys::KeyName;
use crate::policy::wildcard::{Tok, match_tokens};

/// A variable slot: which key fills it and the fallback when it has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarRef {
    pub(crate) key: KeyName<Box<str>>,
    pub(crate) default: Option<Box<str>>,
}

/// A compiled policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    tokens: Box<[Tok]>,
    vars: Box<[VarRef]>,
}

/// How a template treats `*` and `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wildcards {
    /// `*` and `?` are wildcards (`Resource`, `StringLike`, `ArnLike`).
    Match,
    /// `*` and `?` are ordinary characters (`StringEquals`, `Bool`).
    Literal,
}

impl Template {
    /// Compiles `text`. `variables` is false for 2008-10-17 documents.
    pub(crate) fn parse(text: &str, variables: bool, wildcards: Wildcards) -> Template {
        // Most policy strings are plain text: one literal, two allocations.
        let special = |c: char| match wildcards {
            Wildcards::Match => matches!(c, '*' | '?' | '$'),
            Wildcards::Literal => c == '$',
        };
        if !text.contains(special) {
            let tokens: Box<[Tok]> = if text.is_empty() {
                Box::new([])
            } else {
                Box::new([Tok::Lit(Box::from(text))])
            };
            return Template {
                tokens,
                vars: Box::new([]),
            };
        }
        let mut tokens: SmallVec<[Tok; 8]> = SmallVec::new();
        let mut vars: SmallVec<[VarRef; 2]> = SmallVec::new();
        let mut literal = String::with_capacity(text.len());
        let flush = |literal: &mut String, tokens: &mut SmallVec<[Tok; 8]>| {
            if !literal.is_empty() {
                tokens.push(Tok::Lit(Box::from(literal.as_str())));
                literal.clear();
            }
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(close) = rest.find('}')
            {
                let inner = &rest[2..close];
                match inner {
                    "*" | "?" | "$" => literal.push_str(inner),
                    _ => match (parse_variable(inner), u16::try_from(vars.len())) {
                        (Some(var), Ok(index)) => {
                            flush(&mut literal, &mut tokens);
                            tokens.push(Tok::Var(index));
                            vars.push(var);
                        }
                        _ => literal.push_str(&rest[..=close]),
                    },
                }
                rest = &rest[close + 1..];
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match (wildcards, c) {
                (Wildcards::Match, '*') => {
                    flush(&mut literal, &mut tokens);
                    if tokens.last() != Some(&Tok::Star) {
                        tokens.push(Tok::Star);
                    }
                }
                (Wildcards::Match, '?') => {
                    flush(&mut literal, &mut tokens);
                    tokens.push(Tok::AnyChar);
                }
                _ => literal.push(c),
            }
        }
        flush(&mut literal, &mut tokens);
        // Collecting exact-size iterators allocates exactly once each.
        Template {
            tokens: tokens.into_iter().collect(),
            vars: vars.into_iter().collect(),
        }
    }

    /// The template's text when it is one plain literal (no wildcard, no
    /// variable), for fast exact comparisons.
    pub(crate) fn as_literal(&self) -> Option<&str> {
        match &*self.tokens {
            [] => Some(""),
            [Tok::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// Whether the template is a lone `*` (matches everything).
    pub(crate) fn is_match_all(&self) -> bool {
        matches!(&*self.tokens, [Tok::Star])
    }

    /// Whether the template contains variables.
    pub(crate) fn has_variables(&self) -> bool {
        !self.vars.is_empty()
    }

    /// Fills the variables from `ctx` and runs `f` with their values; `None`
    /// when a variable has neither a value nor a default.
    pub(crate) fn with_values<R>(
        &self,
        ctx: &RequestContext<'_>,
        f: impl FnOnce(&[Tok], &[&str]) -> R,
    ) -> Option<R> {
        if self.vars.is_empty() {
            return Some(f(&self.tokens, &[]));
        }
        let mut storage: SmallVec<[Rendered<'_>; 4]> = SmallVec::new();
        for var in self.vars.iter() {
            match (ctx.single_value(&var.key), &var.default) {
                (Some(value), _) => storage.push(value.render()),
                (None, Some(default)) => storage.push(Rendered::Borrowed(default)),
                (None, None) => return None,
            }
        }
        let values: SmallVec<[&str; 4]> = storage.iter().map(Rendered::as_str).collect();
        Some(f(&self.tokens, &values))
    }

    /// Whether `input` matches (wildcards as compiled, case-sensitive).
    /// `None` when a variable is unresolved.
    pub(crate) fn matches(&self, ctx: &RequestContext<'_>, input: &str) -> Option<bool> {
        if let Some(literal) = self.as_literal() {
            return Some(literal == input);
        }
        if self.is_match_all() {
            return Some(true);
        }
        self.with_values(ctx, |tokens, values| {
            match_tokens(tokens, values, input, false)
        })
    }

    /// Whether `input` equals the filled template, ignoring case (Unicode
    /// lowercase mapping on both sides). `None` when a variable is unresolved.
    pub(crate) fn equals_ignore_case(&self, ctx: &RequestContext<'_>, input: &str) -> Option<bool> {
        self.with_values(ctx, |tokens, values| {
            tokens
                .iter()
                .flat_map(|token| piece(token, values).chars())
                .flat_map(char::to_lowercase)
                .eq(input.chars().flat_map(char::to_lowercase))
        })
    }

    /// The boolean the filled template spells (`true`/`false`, any ASCII
    /// case), for `Bool` with a variable; `None` when it spells neither or a
    /// variable is unresolved.
    pub(crate) fn as_bool(&self, ctx: &RequestContext<'_>) -> Option<bool> {
        self.with_values(ctx, |tokens, values| {
            let spells = |word: &str| {
                tokens
                    .iter()
                    .flat_map(|token| piece(token, values).bytes())
                    .map(|byte| byte.to_ascii_lowercase())
                    .eq(word.bytes())
            };
            if spells("true") {
                Some(true)
            } else if spells("false") {
                Some(false)
            } else {
                None
            }
        })
        .flatten()
    }
}

/// The text a token stands for once variables are filled.
fn piece<'x>(token: &'x Tok, values: &[&'x str]) -> &'x str {
    match token {
        Tok::Lit(text) => text,
        Tok::Var(index) => values.get(usize::from(*index)).copied().unwrap_or(""),
        Tok::Star => "*",
        Tok::AnyChar => "?",
    }
}

/// Parses the inside of `${…}`: `key` or `key, 'default'`.
fn parse_variable(inner: &str) -> Option<VarRef> {
    let (name, default) = match inner.split_once(',') {
        Some((name, default)) => {
            let default = default.trim_start();
            let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
            if !quoted {
                return None;
            }
            (name.trim(), Some(Box::from(&default[1..default.len() - 1])))
        }
        None => (inner.trim(), None),
    };
    let (vendor, rest) = name.split_once(':')?;
    if vendor.is_empty() || rest.is_empty() {
        return None;
    }
    Some(VarRef {
        key: KeyName::classify(name).to_owned_key(),
        default,
    })
}

/// Splits text at the colons that separate ARN parts — at most six parts,
/// the last keeping its colons — without splitting inside `${…}`.
pub(crate) fn split_arn(text: &str, variables: bool) -> SmallVec<[&str; 6]> {
    let mut parts = SmallVec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() && parts.len() < 5 {
        if variables
            && bytes[index] == b'$'
            && bytes.get(index + 1) == Some(&b'{')
            && let Some(close) = text[index..].find('}')
        {
            index += close + 1;
            continue;
        }
        if bytes[index] == b':' {
            parts.push(&text[start..index]);
            start = index + 1;
        }
        index += 1;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::{Caller, Value};
    use crate::time::Timestamp;

    fn ctx() -> RequestContext<'static> {
        let mut ctx = RequestContext::new("s3:GetObject", Timestamp::from_unix_seconds(0))
            .with_caller(Caller::User {
                account: "111122223333",
                arn: "arn:aws:iam::111122223333:user/alice",
                user_id: None,
            });
        ctx.principal_tag("team", "blue*");
        ctx
    }

    #[test]
    fn substitutes_values_literally() {
        let template = Template::parse("home/${aws:username}/*", true, Wildcards::Match);
        assert_eq!(template.matches(&ctx(), "home/alice/notes"), Some(true));
        assert_eq!(template.matches(&ctx(), "home/bob/notes"), Some(false));
        let tagged = Template::parse("bucket-${aws:PrincipalTag/team}", true, Wildcards::Match);
        assert_eq!(tagged.matches(&ctx(), "bucket-blue*"), Some(true));
        assert_eq!(tagged.matches(&ctx(), "bucket-blueberry"), Some(false));
    }

    #[test]
    fn missing_values_use_defaults_or_fail() {
        let with_default = Template::parse(
            "bucket-${aws:PrincipalTag/project, 'company-wide'}",
            true,
            Wildcards::Match,
        );
        assert_eq!(
            with_default.matches(&ctx(), "bucket-company-wide"),
            Some(true)
        );
        let without = Template::parse("bucket-${aws:PrincipalTag/project}", true, Wildcards::Match);
        assert_eq!(without.matches(&ctx(), "bucket-"), None);
    }

    #[test]
    fn escapes_are_literal_characters() {
        let template = Template::parse("a${*}b${?}c${$}", true, Wildcards::Match);
        assert_eq!(template.as_literal(), Some("a*b?c$"));
        assert_eq!(template.matches(&ctx(), "a*b?c$"), Some(true));
        assert_eq!(template.matches(&ctx(), "axb?c$"), Some(false));
    }

    #[test]
    fn old_version_and_lookalikes_stay_literal() {
        let old = Template::parse("home/${aws:username}", false, Wildcards::Match);
        assert_eq!(old.as_literal(), Some("home/${aws:username}"));
        let unclosed = Template::parse("x${aws:username", true, Wildcards::Literal);
        assert_eq!(unclosed.as_literal(), Some("x${aws:username"));
        let no_vendor = Template::parse("${username}", true, Wildcards::Literal);
        assert_eq!(no_vendor.as_literal(), Some("${username}"));
    }

    #[test]
    fn typed_values_render_for_substitution() {
        let template = Template::parse("${aws:CurrentTime}", true, Wildcards::Literal);
        assert_eq!(template.matches(&ctx(), "1970-01-01T00:00:00Z"), Some(true));
        let mut mfa = ctx();
        mfa.insert("aws:MultiFactorAuthPresent", Value::Bool(true));
        let flag = Template::parse("${aws:MultiFactorAuthPresent}", true, Wildcards::Literal);
        assert_eq!(flag.as_bool(&mfa), Some(true));
    }

    #[test]
    fn ignore_case_equality_is_unicode_aware() {
        let template = Template::parse("ÉQUIPE-${aws:username}", true, Wildcards::Literal);
        assert_eq!(
            template.equals_ignore_case(&ctx(), "équipe-ALICE"),
            Some(true)
        );
        assert_eq!(
            template.equals_ignore_case(&ctx(), "equipe-alice"),
            Some(false)
        );
    }

    #[test]
    fn arn_split_keeps_variables_whole() {
        assert_eq!(
            split_arn("arn:aws:s3:::bucket/${aws:username}/*", true).as_slice(),
            ["arn", "aws", "s3", "", "", "bucket/${aws:username}/*"]
        );
        assert_eq!(
            split_arn("arn:aws:iam::${aws:PrincipalAccount}:role/x:y", true).as_slice(),
            [
                "arn",
                "aws",
                "iam",
                "",
                "${aws:PrincipalAccount}",
                "role/x:y"
            ]
        );
        assert_eq!(
            split_arn("arn:aws:s3:*", true).as_slice(),
            ["arn", "aws", "s3", "*"]
        );
    }
}
