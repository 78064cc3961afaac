//! Scalar parsing and formatting shared by the compiler (policy values) and the
//! evaluator (request values): numbers, dates, booleans, IP ranges, and a small
//! fixed-capacity string used to render typed values without allocating.
//!
//! Dates follow the W3C profiles of ISO 8601 that IAM documents
//! (`YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh[:mm[:ss[.s…]]]TZD`, with a
//! missing zone meaning UTC) or whole epoch seconds. Text of digits only is
//! always epoch seconds — `"2020"` is 1970-01-01T00:33:40Z, as in AWS's
//! parser. The parser is our own because the accepted set is IAM's, not
//! RFC 3339's.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use ipnet::IpNet;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use crate::time::Timestamp;

/// Capacity of [`InlineStr`]: enough for any rendered number, date, boolean
/// or IP address.
const INLINE_CAPACITY: usize = 64;

/// A string of at most 64 bytes kept inline, so that rendering a typed value
/// (a date, an IP address) for a string comparison or a policy variable does
/// not touch the heap.
#[derive(Clone, Copy)]
pub(crate) struct InlineStr {
    bytes: [u8; INLINE_CAPACITY],
    len: usize,
}

impl InlineStr {
    pub(crate) fn new() -> InlineStr {
        InlineStr {
            bytes: [0; INLINE_CAPACITY],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever written, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for InlineStr {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        if end > INLINE_CAPACITY {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Parses a decimal number (`10`, `-3`, `2.5`, `1e3`). Rejects `NaN`,
/// infinities and anything with other characters.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let plausible = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if !plausible {
        return None;
    }
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// Parses `true` / `false`, ignoring ASCII case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses a CIDR range or a bare address (`/32` or `/128` implied).
pub(crate) fn parse_ip_net(text: &str) -> Option<IpNet> {
    if text.contains('/') {
        text.parse::<IpNet>().ok()
    } else {
        text.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) compares as its IPv4 form.
pub(crate) fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Parses a date as IAM accepts it: whole epoch seconds or a W3C ISO 8601
/// profile. Fractions beyond milliseconds are truncated.
pub(crate) fn parse_date(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let digits_only = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    if digits_only(bytes) || (bytes.first() == Some(&b'-') && digits_only(&bytes[1..])) {
        return text.parse::<i64>().ok().map(Timestamp::from_unix_seconds);
    }
    let mut cursor = Cursor { bytes, pos: 0 };
    let year = i32::try_from(cursor.digits(4)?).ok()?;
    let mut month = 1u8;
    let mut day = 1u8;
    let (mut hour, mut minute, mut second, mut millis) = (0u8, 0u8, 0u8, 0u16);
    let mut offset_seconds = 0i32;
    if cursor.eat(b'-') {
        month = u8::try_from(cursor.digits(2)?).ok()?;
        if cursor.eat(b'-') {
            day = u8::try_from(cursor.digits(2)?).ok()?;
            if cursor.eat(b'T') || cursor.eat(b't') {
                hour = u8::try_from(cursor.digits(2)?).ok()?;
                if cursor.eat(b':') {
                    minute = u8::try_from(cursor.digits(2)?).ok()?;
                    if cursor.eat(b':') {
                        second = u8::try_from(cursor.digits(2)?).ok()?;
                        if cursor.eat(b'.') {
                            millis = cursor.fraction_millis()?;
                        }
                    }
                }
                offset_seconds = cursor.zone()?;
            }
        }
    }
    if !cursor.at_end() {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms_milli(hour, minute, second, millis).ok()?;
    let offset = UtcOffset::from_whole_seconds(offset_seconds).ok()?;
    let instant = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some(Timestamp::from_offset_date_time(instant))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `count` ASCII digits.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + count)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += count;
        Some(
            slice
                .iter()
                .fold(0u32, |acc, digit| acc * 10 + u32::from(digit - b'0')),
        )
    }

    /// One or more digits after a decimal point, as milliseconds.
    fn fraction_millis(&mut self) -> Option<u16> {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        if digits.is_empty() {
            return None;
        }
        let mut millis = 0u16;
        for index in 0..3 {
            millis = millis * 10 + digits.get(index).map_or(0, |d| u16::from(d - b'0'));
        }
        Some(millis)
    }

    /// `Z`, `±hh`, `±hhmm`, `±hh:mm`, or nothing (UTC).
    fn zone(&mut self) -> Option<i32> {
        if self.at_end() {
            return Some(0);
        }
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = i32::try_from(self.digits(2)?).ok()?;
        let minutes = if self.at_end() {
            0
        } else {
            self.eat(b':');
            i32::try_from(self.digits(2)?).ok()?
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 3600 + minutes * 60))
    }
}

/// Renders a number the way a policy would write it: integers without a
/// fraction, other values in Rust's shortest round-trip form.
pub(crate) fn write_number(out: &mut InlineStr, value: f64) {
    // Integral values within the exactly representable range print as integers.
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Renders an instant as `YYYY-MM-DDThh:mm:ssZ`, the form of `aws:CurrentTime`.
pub(crate) fn write_date(out: &mut InlineStr, value: Timestamp) {
    match value.to_offset_date_time() {
        Some(t) => {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
        None => {
            let _ = write!(out, "{}", value.unix_seconds());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn parses_every_documented_date_form() {
        let cases = [
            // All digits is epoch seconds, as in AWS's parser, even "2020".
            ("2020", Timestamp::from_unix_seconds(2020)),
            ("2020-06", ts("2020-06-01T00:00:00Z")),
            ("2020-06-15", ts("2020-06-15T00:00:00Z")),
            ("2020-06-15T12:30Z", ts("2020-06-15T12:30:00Z")),
            ("2020-06-15T12:30:05Z", ts("2020-06-15T12:30:05Z")),
            ("2020-06-15T12:30:05.25Z", ts("2020-06-15T12:30:05.250Z")),
            ("2020-06-15T12:30:05+01:00", ts("2020-06-15T11:30:05Z")),
            ("2020-06-15T12:30:05-0130", ts("2020-06-15T14:00:05Z")),
            ("2020-06-15t12:30:05z", ts("2020-06-15T12:30:05Z")),
            ("2020-06-15T12", ts("2020-06-15T12:00:00Z")),
            ("1592224205", ts("2020-06-15T12:30:05Z")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_date(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn rejects_non_dates() {
        for text in [
            "",
            "yesterday",
            "2020-13-01",
            "2020-02-30",
            "2020-06-15T25:00Z",
            "20-06-15",
            "2020-06-15T12:30:05+25:00",
            "2020-06-15 12:30",
            "1.5",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_are_finite_decimals() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        for text in ["", "NaN", "inf", "infinity", "0x10", "ten", "-", "e"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn ip_ranges_default_to_single_hosts() {
        let net = parse_ip_net("203.0.113.7").unwrap();
        assert_eq!(net.prefix_len(), 32);
        assert_eq!(parse_ip_net("2001:DB8::/64").unwrap().prefix_len(), 64);
        assert!(parse_ip_net("203.0.113.0/33").is_none());
        assert!(parse_ip_net("not-an-ip").is_none());
        assert_eq!(
            normalize_ip("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn renders_typed_values_inline() {
        let mut out = InlineStr::new();
        write_date(&mut out, ts("2026-11-26T05:08:28.123Z"));
        assert_eq!(out.as_str(), "2026-11-26T05:08:28Z");
        let mut out = InlineStr::new();
        write_number(&mut out, 3600.0);
        assert_eq!(out.as_str(), "3600");
        let mut out = InlineStr::new();
        write_number(&mut out, 0.5);
        assert_eq!(out.as_str(), "0.5");
        let mut out = InlineStr::new();
        assert!(out.write_str(&"x".repeat(65)).is_err());
        assert_eq!(out.as_str(), "");
    }
}
