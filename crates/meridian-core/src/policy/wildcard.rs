//! `*` / `?` wildcard matching without backtracking.
//!
//! A pattern is a token list: literals, `?` (exactly one character — a Unicode
//! scalar value, not a byte), `*` (any run of characters, possibly empty) and
//! policy-variable slots whose resolved values are matched literally. The
//! matcher splits the pattern at its stars into segments and:
//!
//! ```text
//!   pattern  = P0 * S1 * S2 * … * Sk * Pn
//!   P0 must match at the start            (one forward pass)
//!   Pn must match at the end              (one backward pass)
//!   S1..Sk: leftmost occurrence of each, in order, between the two
//! ```
//!
//! Taking each middle segment at its leftmost occurrence is optimal: any
//! match that places a segment later can be shifted left without breaking
//! later segments, because a `*` absorbs whatever is skipped. So no choice is
//! ever revisited, and the work is bounded by `|input| × |pattern|` — in
//! practice linear, with literal segments found by substring search and
//! segments with `?` found by bit-parallel (shift-and) search (segments of
//! 8 to 256 characters with at most 16 distinct non-ASCII characters), so
//! the worst case is about |input| × |pattern| / 64 word operations; other
//! segments fall back to trying each start (|input| × |segment|). The
//! classic recursive matcher is exponential in the number of stars
//! (cert-manager/approver-policy#925); `*a*a*a*a*a*a*b` against a thousand
//! `a`s costs this one tens of nanoseconds, and its own worst construction
//! (a 256-character `?` segment failing at its last character, 1,024
//! characters of input) a few microseconds — figures in `BENCHMARKS.md`.
//!
//! Case: resources and `StringLike` are case-sensitive; actions are matched
//! ignoring ASCII case (the pattern is lowercased when compiled).

use smallvec::SmallVec;

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Literal text.
    Lit(Box<str>),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    AnyChar,
    /// A policy variable, by index into the resolved values; matched literally.
    Var(u16),
}

/// Splits plain text into tokens, treating `*` and `?` as wildcards and
/// collapsing runs of `*`. When `lowercase` is set, literals are lowercased
/// (ASCII) for case-insensitive matching.
pub(crate) fn tokenize(text: &str, lowercase: bool) -> Box<[Tok]> {
    let mut tokens: SmallVec<[Tok; 8]> = SmallVec::new();
    let mut literal = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' => {
                if !literal.is_empty() {
                    tokens.push(Tok::Lit(Box::from(literal.as_str())));
                    literal.clear();
                }
                if c == '?' {
                    tokens.push(Tok::AnyChar);
                } else if tokens.last() != Some(&Tok::Star) {
                    tokens.push(Tok::Star);
                }
            }
            _ => literal.push(if lowercase { c.to_ascii_lowercase() } else { c }),
        }
    }
    if !literal.is_empty() {
        tokens.push(Tok::Lit(Box::from(literal.as_str())));
    }
    // Collecting an exact-size iterator allocates exactly once.
    tokens.into_iter().collect()
}

/// Whether `input` matches the tokens. `vars` holds the resolved value of each
/// [`Tok::Var`]; a variable index without a value never matches.
pub(crate) fn match_tokens(tokens: &[Tok], vars: &[&str], input: &str, fold_case: bool) -> bool {
    let matcher = Matcher {
        vars,
        text: input,
        input: input.as_bytes(),
        fold_case,
    };
    let Some(first_star) = tokens.iter().position(|t| *t == Tok::Star) else {
        return matcher.forward(tokens, 0) == Some(input.len());
    };
    let last_star = tokens
        .iter()
        .rposition(|t| *t == Tok::Star)
        .unwrap_or(first_star);
    let Some(mut position) = matcher.forward(&tokens[..first_star], 0) else {
        return false;
    };
    let Some(suffix_start) = matcher.backward(&tokens[last_star + 1..], input.len()) else {
        return false;
    };
    if suffix_start < position {
        return false;
    }
    // With a single star there is no middle (the range would be empty or
    // reversed).
    let middle = tokens.get(first_star + 1..last_star).unwrap_or(&[]);
    for segment in middle.split(|t| *t == Tok::Star) {
        if segment.is_empty() {
            continue;
        }
        match matcher.find(segment, position, suffix_start) {
            Some(end) => position = end,
            None => return false,
        }
    }
    true
}

/// The byte length of the UTF-8 character starting with `lead`.
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

struct Matcher<'m> {
    vars: &'m [&'m str],
    text: &'m str,
    input: &'m [u8],
    fold_case: bool,
}

/// The longest segment (in characters) searched bit-parallel: four 64-bit
/// words.
const BITAP_MAX: usize = 256;
/// The shortest segment (in characters) searched bit-parallel.
const BITAP_MIN: usize = 8;
/// The most distinct non-ASCII characters a bit-parallel segment may have.
const BITAP_WIDE_CHARS: usize = 16;
const BITAP_WORDS: usize = BITAP_MAX / 64;

impl<'m> Matcher<'m> {
    /// The literal text of a literal or variable token.
    fn text<'t>(&'t self, token: &'t Tok) -> Option<&'t [u8]> {
        match token {
            Tok::Lit(text) => Some(text.as_bytes()),
            Tok::Var(index) => self.vars.get(usize::from(*index)).map(|v| v.as_bytes()),
            Tok::Star | Tok::AnyChar => None,
        }
    }

    fn equal(&self, a: &[u8], b: &[u8]) -> bool {
        if self.fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    /// Matches a star-free segment starting at `position`; returns where it ends.
    fn forward(&self, segment: &[Tok], mut position: usize) -> Option<usize> {
        for token in segment {
            match token {
                Tok::AnyChar => {
                    let lead = *self.input.get(position)?;
                    position += char_width(lead);
                    if position > self.input.len() {
                        return None;
                    }
                }
                Tok::Star => return None,
                Tok::Lit(_) | Tok::Var(_) => {
                    let text = self.text(token)?;
                    let end = position.checked_add(text.len())?;
                    if end > self.input.len() || !self.equal(&self.input[position..end], text) {
                        return None;
                    }
                    position = end;
                }
            }
        }
        Some(position)
    }

    /// Matches a star-free segment ending at `end`; returns where it starts.
    fn backward(&self, segment: &[Tok], mut end: usize) -> Option<usize> {
        for token in segment.iter().rev() {
            match token {
                Tok::AnyChar => {
                    end = end.checked_sub(1)?;
                    while end > 0 && is_continuation(self.input[end]) {
                        end -= 1;
                    }
                }
                Tok::Star => return None,
                Tok::Lit(_) | Tok::Var(_) => {
                    let text = self.text(token)?;
                    let start = end.checked_sub(text.len())?;
                    if !self.equal(&self.input[start..end], text) {
                        return None;
                    }
                    end = start;
                }
            }
        }
        Some(end)
    }

    /// The end of the leftmost occurrence of `segment` that starts at or after
    /// `from` and ends at or before `limit`.
    fn find(&self, segment: &[Tok], from: usize, limit: usize) -> Option<usize> {
        // A segment with `?`s can match almost everywhere and fail only at
        // its end; trying every start then costs |input| × |segment|. The
        // shift-and algorithm does the same search in one pass of a few word
        // operations per input character.
        if segment.contains(&Tok::AnyChar) {
            let length = self.segment_chars(segment);
            // Short segments cost little per start, and setting up the masks
            // (4 KiB) is not free: only long ones are worth it.
            if (BITAP_MIN..=BITAP_MAX).contains(&length)
                && limit.saturating_sub(from) >= length
                && let Some(found) = self.find_bit_parallel(segment, length, from, limit)
            {
                return found;
            }
        }
        // A leading literal lets us jump straight to its next occurrence.
        let anchor = segment
            .first()
            .and_then(|t| self.text(t))
            .filter(|t| !t.is_empty());
        let mut start = from;
        while start <= limit {
            if let Some(anchor) = anchor {
                start += self.search(start, limit, anchor)?;
            }
            if let Some(end) = self.forward(segment, start) {
                // The segment spans a fixed number of characters, so a later
                // start can only end later: no point in going on.
                return (end <= limit).then_some(end);
            }
            let lead = *self.input.get(start)?;
            start += char_width(lead);
        }
        None
    }

    /// The length of a star-free segment in characters.
    fn segment_chars(&self, segment: &[Tok]) -> usize {
        segment
            .iter()
            .map(|token| match token {
                Tok::AnyChar => 1,
                Tok::Star => 0,
                Tok::Lit(_) | Tok::Var(_) => self.text(token).map_or(0, |bytes| {
                    bytes.iter().filter(|&&b| !is_continuation(b)).count()
                }),
            })
            .sum()
    }

    /// Shift-and (bitap) search of a star-free segment of at most
    /// [`BITAP_MAX`] characters: bit `i` of the state is set when the first
    /// `i + 1` pattern characters match ending at the current input
    /// character. ASCII characters index a table; the segment's non-ASCII
    /// characters (at most [`BITAP_WIDE_CHARS`] distinct ones) are looked up
    /// in a short list. Returns `Some(end)` of the leftmost occurrence within
    /// `from..limit`, `Some(None)` when there is none, and `None` when the
    /// segment does not fit this search (the caller then tries each start).
    fn find_bit_parallel(
        &self,
        segment: &[Tok],
        length: usize,
        from: usize,
        limit: usize,
    ) -> Option<Option<usize>> {
        if length == 0 {
            return Some(Some(from));
        }
        let mut ascii = [[0u64; BITAP_WORDS]; 128];
        let mut wide = [('\0', [0u64; BITAP_WORDS]); BITAP_WIDE_CHARS];
        let mut wide_count = 0;
        let mut any = [0u64; BITAP_WORDS];
        let mut index = 0;
        for token in segment {
            let (word, bit) = (index / 64, 1u64 << (index % 64));
            if *token == Tok::AnyChar {
                any[word] |= bit;
                index += 1;
                continue;
            }
            let text = std::str::from_utf8(self.text(token)?).ok()?;
            for c in text.chars() {
                let (word, bit) = (index / 64, 1u64 << (index % 64));
                if c.is_ascii() {
                    let byte = c as u8;
                    if self.fold_case {
                        ascii[usize::from(byte.to_ascii_lowercase())][word] |= bit;
                        ascii[usize::from(byte.to_ascii_uppercase())][word] |= bit;
                    } else {
                        ascii[usize::from(byte)][word] |= bit;
                    }
                } else {
                    let slot = match wide[..wide_count].iter().position(|(known, _)| *known == c) {
                        Some(slot) => slot,
                        None if wide_count < BITAP_WIDE_CHARS => {
                            wide[wide_count].0 = c;
                            wide_count += 1;
                            wide_count - 1
                        }
                        None => return None,
                    };
                    wide[slot].1[word] |= bit;
                }
                index += 1;
            }
        }
        let words = length.div_ceil(64);
        let last_word = (length - 1) / 64;
        let last_bit = 1u64 << ((length - 1) % 64);
        let no_literal = [0u64; BITAP_WORDS];
        let mut state = [0u64; BITAP_WORDS];
        for (offset, c) in self.text.get(from..limit)?.char_indices() {
            let mask = if c.is_ascii() {
                &ascii[usize::from(c as u8)]
            } else {
                wide[..wide_count]
                    .iter()
                    .find(|(known, _)| *known == c)
                    .map_or(&no_literal, |(_, mask)| mask)
            };
            let mut carry = 1u64;
            for word in 0..words {
                let next_carry = state[word] >> 63;
                state[word] = ((state[word] << 1) | carry) & (mask[word] | any[word]);
                carry = next_carry;
            }
            if state[last_word] & last_bit != 0 {
                return Some(Some(from + offset + c.len_utf8()));
            }
        }
        Some(None)
    }

    /// The offset from `start` of the first occurrence of `needle` that lies
    /// within `start..limit`.
    fn search(&self, start: usize, limit: usize, needle: &[u8]) -> Option<usize> {
        let haystack = self.input.get(start..limit)?;
        if needle.len() > haystack.len() {
            return None;
        }
        // Case-sensitive: the standard library's substring search (Two-Way,
        // linear). Offsets here are always character boundaries.
        if !self.fold_case
            && let (Some(haystack), Ok(needle)) =
                (self.text.get(start..limit), std::str::from_utf8(needle))
        {
            return haystack.find(needle);
        }
        (0..=haystack.len() - needle.len())
            .find(|&offset| self.equal(&haystack[offset..offset + needle.len()], needle))
    }
}

/// A compiled wildcard pattern, for callers outside the policy language
/// (tests, benches, and anyone who needs IAM's `StringLike` semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    tokens: Box<[Tok]>,
    fold_case: bool,
}

impl Wildcard {
    /// A case-sensitive pattern (resources, `StringLike`).
    pub fn new(pattern: &str) -> Wildcard {
        Wildcard {
            tokens: tokenize(pattern, false),
            fold_case: false,
        }
    }

    /// A pattern that ignores ASCII case (actions).
    pub fn new_ignore_ascii_case(pattern: &str) -> Wildcard {
        Wildcard {
            tokens: tokenize(pattern, true),
            fold_case: true,
        }
    }

    /// Whether `input` matches.
    pub fn matches(&self, input: &str) -> bool {
        match_tokens(&self.tokens, &[], input, self.fold_case)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_s3_examples() {
        let pattern = Wildcard::new("arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*");
        for object in [
            "1/test/object.jpg",
            "1/2/test/object.jpg",
            "1/2/test/3/object.jpg",
            "1/2/3/test/4/object.jpg",
            "1///test///object.jpg",
            "1/test/.jpg",
            "/test/object.jpg",
            "1/test/",
        ] {
            let arn = format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{object}");
            assert!(pattern.matches(&arn), "{arn}");
        }
        for object in ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"] {
            let arn = format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{object}");
            assert!(!pattern.matches(&arn), "{arn}");
        }
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        let pattern = Wildcard::new("a?c");
        assert!(pattern.matches("abc"));
        assert!(pattern.matches("aéc"));
        assert!(pattern.matches("a€c"));
        assert!(!pattern.matches("ac"));
        assert!(!pattern.matches("abbc"));
        assert!(Wildcard::new("*?").matches("€"));
        assert!(Wildcard::new("?*").matches("€x"));
        assert!(!Wildcard::new("??").matches("€"));
    }

    #[test]
    fn anchors_and_empty_cases() {
        assert!(Wildcard::new("").matches(""));
        assert!(!Wildcard::new("").matches("a"));
        assert!(Wildcard::new("*").matches(""));
        assert!(Wildcard::new("**").matches("anything"));
        assert!(Wildcard::new("a*a").matches("aa"));
        assert!(!Wildcard::new("a*a").matches("a"));
        assert!(!Wildcard::new("ab*ba").matches("aba"));
        assert!(Wildcard::new("*ab*ab*").matches("xxabyyab"));
        assert!(!Wildcard::new("*ab*ab*").matches("xxab"));
    }

    #[test]
    fn bit_parallel_search_ends_where_the_segment_ends() {
        // The first segment (ten `?` and an `a`) ends right after the `a` at
        // index 10; "ab" must start after it, and there is none there.
        let input = format!("{}ab{}", "b".repeat(10), "c".repeat(30));
        let pattern = format!("*{}a*ab*", "?".repeat(10));
        assert!(!Wildcard::new(&pattern).matches(&input));
        assert!(Wildcard::new(&pattern).matches(&format!("{input}ab")));
        // Segments longer than one 64-bit word carry across words.
        let long = format!("*{}b*", "?".repeat(100));
        assert!(Wildcard::new(&long).matches(&format!("{}b{}", "a".repeat(100), "a".repeat(150))));
        assert!(!Wildcard::new(&long).matches(&format!("{}b{}", "a".repeat(99), "a".repeat(150))));
        assert!(Wildcard::new_ignore_ascii_case(&long).matches(&format!(
            "{}B{}",
            "a".repeat(100),
            "a".repeat(150)
        )));
        // Non-ASCII input and literals: `?` is one character, ends are byte
        // offsets after multi-byte characters.
        let wide = format!("*{}é*é€*", "?".repeat(10));
        let input = format!("{}é€{}", "ü".repeat(10), "x".repeat(30));
        assert!(!Wildcard::new(&wide).matches(&input));
        assert!(Wildcard::new(&wide).matches(&format!("{input}é€")));
        assert!(Wildcard::new(&wide).matches(&format!("{}éé€{}", "ü".repeat(10), "ü".repeat(30))));
    }

    #[test]
    fn actions_ignore_ascii_case() {
        let pattern = Wildcard::new_ignore_ascii_case("sts:Assume*");
        assert!(pattern.matches("STS:assumerolewithsaml"));
        assert!(!Wildcard::new("sts:Assume*").matches("STS:assumerole"));
    }

    #[test]
    fn variables_match_literally() {
        let tokens = vec![
            Tok::Lit(Box::from("home/")),
            Tok::Var(0),
            Tok::Lit(Box::from("/")),
            Tok::Star,
        ];
        assert!(match_tokens(&tokens, &["a*b"], "home/a*b/file", false));
        assert!(!match_tokens(&tokens, &["a*b"], "home/axxb/file", false));
        assert!(!match_tokens(&tokens, &[], "home//file", false));
    }
}
