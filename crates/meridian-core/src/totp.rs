//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) for virtual
//! MFA devices: HMAC-SHA-1, six digits, 30-second steps — what AWS's virtual
//! MFA devices and every authenticator app use.
//!
//! Hand-written over aws-lc-rs's HMAC rather than taken from a TOTP crate:
//! the maintained ones (`totp-rs`, `totp-lite`) bring the RustCrypto `hmac`/
//! `sha1` stack next to aws-lc, the workspace's one crypto provider, and the
//! algorithm is twenty lines. It is checked against the RFC 4226 and RFC 6238
//! vectors below.
//!
//! Verification accepts the current step and one step either side (AWS's
//! tolerance for clock drift), compares codes in constant time, and reports
//! the step that matched so that the caller can refuse a code used before
//! (the per-node used-code cache lives in the edge: this module has no state).
//! SHA-1 is what the seeds' users (authenticator apps, `otpauth://` URIs
//! without an algorithm parameter) compute; HMAC-SHA-1 is not affected by
//! SHA-1's collision weakness.

use std::fmt;

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::time::Timestamp;

/// Length of one time step, in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const WINDOW: u64 = 1;
/// Longest seed accepted (RFC 4226 recommends 160 bits; authenticator apps
/// take up to 512).
pub const MAX_SEED_LEN: usize = 64;

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code is not exactly six ASCII digits.
    #[error("the code is not six digits")]
    Malformed,
    /// No step within the window produces this code.
    #[error("the code does not match")]
    Mismatch,
    /// The two codes of an enabling request are not from consecutive steps.
    #[error("the codes are not consecutive")]
    NotConsecutive,
    /// The seed is empty or longer than [`MAX_SEED_LEN`].
    #[error("the seed has an unusable length")]
    BadSeed,
}

/// A TOTP seed (the shared secret). Zeroized on drop; `Debug` shows nothing.
pub struct TotpSeed {
    key: hmac::Key,
    _bytes: Zeroizing<Vec<u8>>,
}

impl TotpSeed {
    /// A seed from its raw bytes.
    pub fn new(bytes: &[u8]) -> Result<TotpSeed, TotpError> {
        if bytes.is_empty() || bytes.len() > MAX_SEED_LEN {
            return Err(TotpError::BadSeed);
        }
        Ok(TotpSeed {
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, bytes),
            _bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The HOTP value for `counter` with `digits` digits (RFC 4226 §5.3).
    pub fn hotp(&self, counter: u64, digits: u32) -> u32 {
        let tag = hmac::sign(&self.key, &counter.to_be_bytes());
        let mac = tag.as_ref();
        // Dynamic truncation: the low nibble of the last byte picks four bytes.
        let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
        let mut word = [0u8; 4];
        if let Some(slice) = mac.get(offset..offset + 4) {
            word.copy_from_slice(slice);
        }
        let binary = u32::from_be_bytes(word) & 0x7fff_ffff;
        binary % 10u32.pow(digits.min(9))
    }

    /// The six-digit code of time step `step`, as the text a user types.
    pub fn code(&self, step: u64) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{:0width$}",
            self.hotp(step, DIGITS),
            width = DIGITS as usize
        ))
    }

    /// Checks `code` at `now` against the current step ± [`WINDOW`]; returns
    /// the step that produced it.
    pub fn verify(&self, code: &str, now: Timestamp) -> Result<u64, TotpError> {
        let code = parse_code(code)?;
        let current = time_step(now);
        let mut matched = None;
        // Every candidate is computed and compared, so the time taken does
        // not tell which step (if any) matched.
        for step in current.saturating_sub(WINDOW)..=current.saturating_add(WINDOW) {
            let expected = self.code(step);
            if bool::from(expected.as_bytes().ct_eq(code)) && matched.is_none() {
                matched = Some(step);
            }
        }
        matched.ok_or(TotpError::Mismatch)
    }

    /// `EnableMFADevice`'s check: `first` and `second` are the codes of two
    /// consecutive steps, the second within the window at `now`. Returns the
    /// step of the second code.
    pub fn verify_consecutive(
        &self,
        first: &str,
        second: &str,
        now: Timestamp,
    ) -> Result<u64, TotpError> {
        let first_code = parse_code(first)?;
        let step = self.verify(second, now)?;
        let previous = step.checked_sub(1).ok_or(TotpError::NotConsecutive)?;
        if bool::from(self.code(previous).as_bytes().ct_eq(first_code)) {
            Ok(step)
        } else {
            Err(TotpError::NotConsecutive)
        }
    }
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed(<redacted>)")
    }
}

/// The RFC 6238 time step of `now` (T0 = 0, X = 30 s); 0 before the epoch.
pub fn time_step(now: Timestamp) -> u64 {
    u64::try_from(now.unix_seconds().div_euclid(STEP_SECONDS)).unwrap_or(0)
}

fn parse_code(code: &str) -> Result<&[u8], TotpError> {
    let bytes = code.as_bytes();
    if bytes.len() == DIGITS as usize && bytes.iter().all(u8::is_ascii_digit) {
        Ok(bytes)
    } else {
        Err(TotpError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SEED: &[u8] = b"12345678901234567890";

    /// RFC 4226 Appendix D: HOTP values for counters 0–9.
    #[test]
    fn rfc_4226_hotp_vectors() {
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(seed.hotp(counter as u64, 6), *value, "counter {counter}");
        }
    }

    /// RFC 6238 Appendix B, the SHA-1 column (8 digits).
    #[test]
    fn rfc_6238_totp_vectors() {
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        let cases: [(i64, u32); 6] = [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ];
        for (seconds, value) in cases {
            let step = time_step(Timestamp::from_unix_seconds(seconds));
            assert_eq!(seed.hotp(step, 8), value, "T = {seconds}");
            // The six-digit code is the low six digits of the same value.
            assert_eq!(
                seed.code(step).as_str(),
                format!("{:06}", value % 1_000_000),
                "T = {seconds}"
            );
        }
    }

    #[test]
    fn window_is_one_step_each_side() {
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        let now = Timestamp::from_unix_seconds(1_111_111_111);
        let current = time_step(now);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = current.wrapping_add_signed(offset);
            let result = seed.verify(&seed.code(step), now);
            assert_eq!(result.is_ok(), accepted, "offset {offset}");
            if accepted {
                assert_eq!(result, Ok(step));
            } else {
                assert_eq!(result, Err(TotpError::Mismatch));
            }
        }
    }

    #[test]
    fn malformed_codes_are_refused() {
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        let now = Timestamp::from_unix_seconds(59);
        for code in ["", "12345", "1234567", "12345a", " 12345", "１２３４５６"] {
            assert_eq!(
                seed.verify(code, now),
                Err(TotpError::Malformed),
                "{code:?}"
            );
        }
    }

    #[test]
    fn consecutive_codes() {
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        let now = Timestamp::from_unix_seconds(1_234_567_890);
        let step = time_step(now);
        let (previous, current) = (seed.code(step - 1), seed.code(step));
        assert_eq!(seed.verify_consecutive(&previous, &current, now), Ok(step));
        // Reversed, repeated or far apart: refused.
        assert!(seed.verify_consecutive(&current, &previous, now).is_err());
        assert!(seed.verify_consecutive(&current, &current, now).is_err());
        let old = seed.code(step - 5);
        assert_eq!(
            seed.verify_consecutive(&old, &current, now),
            Err(TotpError::NotConsecutive)
        );
        assert_eq!(
            seed.verify_consecutive("000000", "000001", now),
            Err(TotpError::Mismatch)
        );
    }

    #[test]
    fn seed_length_and_debug() {
        assert_eq!(TotpSeed::new(&[]).err(), Some(TotpError::BadSeed));
        assert_eq!(TotpSeed::new(&[1; 65]).err(), Some(TotpError::BadSeed));
        let seed = TotpSeed::new(RFC_SEED).unwrap();
        assert_eq!(format!("{seed:?}"), "TotpSeed(<redacted>)");
        assert_eq!(time_step(Timestamp::from_unix_seconds(-40)), 0);
    }
}
