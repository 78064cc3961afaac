//! The SigV4 timestamp: `X-Amz-Date` in ISO 8601 basic format
//! (`20150830T123600Z`).
//!
//! AWS also accepts the extended format (`2015-08-30T12:36:00Z`) in the header
//! but always uses the basic format in the string to sign and the credential
//! scope, so both parse to a [`Timestamp`] and the basic form is re-rendered
//! from it. Anything else (fractions, offsets, out-of-range fields) is
//! rejected.

use time::{Date, Month, PrimitiveDateTime, Time};

use crate::time::Timestamp;

fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        text.iter()
            .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0')),
    )
}

fn build(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<Timestamp> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some(Timestamp::from_offset_date_time(
        PrimitiveDateTime::new(date, time).assume_utc(),
    ))
}

/// Parses `YYYYMMDDTHHMMSSZ` or `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    match bytes.len() {
        16 if bytes[8] == b'T' && bytes[15] == b'Z' => build(
            digits(&bytes[0..4])?,
            digits(&bytes[4..6])?,
            digits(&bytes[6..8])?,
            digits(&bytes[9..11])?,
            digits(&bytes[11..13])?,
            digits(&bytes[13..15])?,
        ),
        20 if bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes[10] == b'T'
            && bytes[13] == b':'
            && bytes[16] == b':'
            && bytes[19] == b'Z' =>
        {
            build(
                digits(&bytes[0..4])?,
                digits(&bytes[5..7])?,
                digits(&bytes[8..10])?,
                digits(&bytes[11..13])?,
                digits(&bytes[14..16])?,
                digits(&bytes[17..19])?,
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_extended_forms() {
        let basic = parse("20150830T123600Z").unwrap();
        assert_eq!(basic, Timestamp::from_unix_seconds(1_440_938_160));
        assert_eq!(parse("2015-08-30T12:36:00Z"), Some(basic));
        assert_eq!(basic.to_amz_date(), "20150830T123600Z");
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "2015-08-30T12:36:00.000Z",
            "2015-08-30T12:36:00+00:00",
            "Sun, 30 Aug 2015 12:36:00 GMT",
            "２０15083T123600Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} must not parse");
        }
    }
}
