//! The wildcard matcher against a regular-expression reference, and its time
//! on adversarial patterns (the backtracking blow-up of
//! cert-manager/approver-policy#925 and borgbackup#10174).
//!
//! The time bounds here are loose on purpose — these run unoptimized on a
//! shared two-core machine — and only catch super-linear behaviour; the
//! release figure against the 1 ms goal is measured by the `policy` bench.

use std::time::{Duration, Instant};

use meridian_core::policy::wildcard::Wildcard;
use proptest::prelude::*;
use regex::Regex;

/// The reference: `*` → `.*`, `?` → one character, everything else literal,
/// anchored at both ends.
fn reference(pattern: &str, ignore_case: bool) -> Regex {
    let mut source = String::from(if ignore_case { "(?si)^" } else { "(?s)^" });
    for c in pattern.chars() {
        match c {
            '*' => source.push_str(".*"),
            '?' => source.push('.'),
            other => source.push_str(&regex::escape(&other.to_string())),
        }
    }
    source.push('$');
    Regex::new(&source).expect("reference regex")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Case-sensitive matching (resources, `StringLike`) over a small alphabet
    /// with multi-byte characters, so that `?` must take whole characters.
    #[test]
    fn agrees_with_regex(pattern in "[ab/é€*?]{0,10}", input in "[ab/é€]{0,14}") {
        let expected = reference(&pattern, false).is_match(&input);
        prop_assert_eq!(Wildcard::new(&pattern).matches(&input), expected, "{:?} vs {:?}", pattern, input);
    }

    /// ASCII-case-insensitive matching (actions).
    #[test]
    fn agrees_with_regex_ignoring_case(pattern in "[aAbB:*?]{0,10}", input in "[aAbB:]{0,14}") {
        let expected = reference(&pattern, true).is_match(&input);
        prop_assert_eq!(
            Wildcard::new_ignore_ascii_case(&pattern).matches(&input),
            expected,
            "{:?} vs {:?}", pattern, input
        );
    }

    /// Longer random inputs around a planted match: a pattern built from
    /// pieces of the input always matches it.
    #[test]
    fn patterns_cut_from_the_input_match(input in "[a-c]{0,60}", cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        // Replace every other stretch between cut points by `*`.
        let mut pattern = String::new();
        let mut last = 0;
        for (index, point) in points.iter().enumerate() {
            if index % 2 == 0 {
                pattern.push_str(&input[last..*point]);
            } else {
                pattern.push('*');
            }
            last = *point;
        }
        pattern.push_str(&input[last..]);
        prop_assert!(Wildcard::new(&pattern).matches(&input), "{:?} vs {:?}", pattern, input);
    }
}

proptest! {
    // Each case compiles a regex for a pattern of up to 270 characters:
    // fewer cases keep this quick in unoptimized builds.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Long inputs (with multi-byte characters) and `?`-heavy segments longer
    /// than one 64-bit word, which take the bit-parallel search (both cases).
    #[test]
    fn long_question_segments_agree_with_regex(
        head in "[ab?]{0,6}",
        repeat in 20usize..130,
        unit in "[abé]?\\?",
        second in "[abé€?]{1,3}",
        second_repeat in 1usize..40,
        tail in "[ab?]{0,6}",
        input in "[abABé€]{0,300}",
        fold in any::<bool>(),
    ) {
        // Two middle segments, so that where the first one ends matters.
        let pattern = format!("{head}*{}*{}*{tail}", unit.repeat(repeat), second.repeat(second_repeat));
        let (compiled, expected) = if fold {
            (Wildcard::new_ignore_ascii_case(&pattern), reference(&pattern, true).is_match(&input))
        } else {
            (Wildcard::new(&pattern), reference(&pattern, false).is_match(&input))
        };
        prop_assert_eq!(compiled.matches(&input), expected, "{:?} vs {:?}", pattern, input);
    }
}

fn time(pattern: &Wildcard, input: &str) -> (bool, Duration) {
    let started = Instant::now();
    let matched = pattern.matches(input);
    (matched, started.elapsed())
}

#[test]
fn adversarial_patterns_stay_fast() {
    let long_a = "a".repeat(1_024);
    let many_stars_256: String = "*a".repeat(127) + "*b";
    let question_segment = format!("*{}c*b", "a?".repeat(126));
    let cases = [
        // RELIABILITY.md b.3: `*a*a*a*a*a*a*a*a*b` against "a" × 50.
        ("*a*a*a*a*a*a*a*a*b", "a".repeat(50), false),
        ("*a*a*a*a*a*a*b", long_a.clone(), false),
        ("*a*a*a*a*a*a*b", format!("{long_a}b"), true),
        (many_stars_256.as_str(), long_a.clone(), false),
        (many_stars_256.as_str(), format!("{long_a}b"), true),
        ("*?*?*?*?*?*?*?*?*b", long_a.clone(), false),
        ("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c", long_a.clone(), false),
        // A middle segment of `?`s that fails only at its last character.
        (
            question_segment.as_str(),
            format!("{}b", "a".repeat(1_023)),
            false,
        ),
        (
            question_segment.as_str(),
            format!("{}cb", "a".repeat(1_022)),
            true,
        ),
    ];
    for (pattern, input, expected) in &cases {
        assert!(pattern.len() <= 256);
        let compiled = Wildcard::new(pattern);
        let (matched, elapsed) = time(&compiled, input);
        assert_eq!(matched, *expected, "{pattern}");
        // Exponential backtracking would take years here; a linear pass takes
        // microseconds even unoptimized.
        assert!(
            elapsed < Duration::from_millis(50),
            "{pattern}: {elapsed:?}"
        );
    }
}
