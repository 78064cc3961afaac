//! Instants as plain values.
//!
//! meridian-core never reads the clock: every operation that depends on the
//! time takes a [`Timestamp`] argument, and the caller decides where it came
//! from (the server's clock, a test's fixed instant). Millisecond precision is
//! kept so that "issued before T" comparisons (revocation) and token expiry
//! are exact; AWS's wire formats are rendered from it.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// An instant from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// An instant from whole seconds since the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved forward by `seconds` (saturating).
    pub const fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// This instant moved forward by `millis` (saturating).
    pub const fn plus_millis(self, millis: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    /// This instant truncated to whole seconds.
    pub const fn truncate_to_seconds(self) -> Timestamp {
        Timestamp(self.unix_seconds().saturating_mul(1000))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The same instant as a `time` date-time, or `None` outside its range.
    pub fn to_offset_date_time(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).ok()
    }

    /// The instant a `time` date-time denotes, truncated to milliseconds.
    pub fn from_offset_date_time(value: OffsetDateTime) -> Timestamp {
        let millis = value.unix_timestamp_nanos().div_euclid(1_000_000);
        Timestamp(i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX }))
    }

    /// ISO 8601 in UTC with second precision, `2026-11-26T05:08:28Z`: the form
    /// AWS uses for `Expiration` and IAM `CreateDate`.
    pub fn to_iso8601_seconds(self) -> String {
        match self.to_offset_date_time() {
            Some(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            None => String::from("invalid-timestamp"),
        }
    }

    /// The SigV4 `X-Amz-Date` form, `20261126T050828Z`.
    pub fn to_amz_date(self) -> String {
        match self.to_offset_date_time() {
            Some(t) => format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            None => String::from("invalid-timestamp"),
        }
    }

    /// Parses RFC 3339 / ISO 8601 date-times such as `2026-11-26T05:08:28Z` or
    /// `2026-11-26T05:08:28.123+01:00`.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(Timestamp::from_offset_date_time)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_iso8601_seconds())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601_seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aws_formats() {
        let t = Timestamp::from_unix_millis(1_795_669_708_123);
        assert_eq!(t.to_iso8601_seconds(), "2026-11-26T05:08:28Z");
        assert_eq!(t.to_amz_date(), "20261126T050828Z");
        assert_eq!(t.unix_seconds(), 1_795_669_708);
    }

    #[test]
    fn parses_rfc3339_with_offsets_and_fractions() {
        let utc = Timestamp::parse_rfc3339("2026-11-26T05:08:28Z").unwrap();
        assert_eq!(utc, Timestamp::from_unix_seconds(1_795_669_708));
        let offset = Timestamp::parse_rfc3339("2026-11-26T06:08:28.5+01:00").unwrap();
        assert_eq!(offset, utc.plus_millis(500));
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn negative_instants_round_down_to_seconds() {
        assert_eq!(Timestamp::from_unix_millis(-1).unix_seconds(), -1);
        assert_eq!(
            Timestamp::from_unix_millis(-1).truncate_to_seconds(),
            Timestamp::from_unix_seconds(-1)
        );
    }
}
