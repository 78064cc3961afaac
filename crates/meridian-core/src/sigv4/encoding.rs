//! Percent-decoding with AWS's error texts, and RFC 3986 encoding.
//!
//! Encoding uses the `percent-encoding` crate with the SigV4 set: everything
//! but `A-Z a-z 0-9 - . _ ~` is escaped, with upper-case hex. Decoding is
//! written here because it must reject malformed escapes (AWS answers
//! `MalformedQueryString` with a specific text) where the crate passes them
//! through, and because the query string decodes `+` as a space (form
//! encoding, which the Go and Rust SDKs rely on; botocore never sends a raw `+`).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::sigv4::error::EscapeError;

/// Bytes that SigV4 escapes in query names and values and path segments.
pub(crate) const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Bytes escaped in a whole path: the same, keeping `/`.
pub(crate) const PATH_ENCODE_SET: &AsciiSet = &ENCODE_SET.remove(b'/');

/// Appends `bytes` percent-encoded with `set` to `out`.
pub(crate) fn encode_into(out: &mut String, bytes: &[u8], set: &'static AsciiSet) {
    for chunk in percent_encoding::percent_encode(bytes, set) {
        out.push_str(chunk);
    }
}

/// `bytes` percent-encoded with [`ENCODE_SET`].
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    encode_into(&mut out, bytes, ENCODE_SET);
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn illegal(input: &[u8], at: usize) -> EscapeError {
    let end = input.len().min(at.saturating_add(3));
    let chars = input.get(at + 1..end).unwrap_or_default();
    EscapeError::IllegalHex(String::from_utf8_lossy(chars).into_owned())
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`), rejecting
/// malformed escapes with AWS's texts. Borrows when nothing needs decoding.
pub(crate) fn decode(input: &[u8], plus_is_space: bool) -> Result<Cow<'_, [u8]>, EscapeError> {
    let needs_work = input
        .iter()
        .any(|&byte| byte == b'%' || (plus_is_space && byte == b'+'));
    if !needs_work {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = Vec::with_capacity(input.len());
    let mut index = 0;
    while let Some(&byte) = input.get(index) {
        match byte {
            b'%' => {
                let (Some(&high), Some(&low)) = (input.get(index + 1), input.get(index + 2)) else {
                    return Err(EscapeError::IncompleteTrailing);
                };
                match (hex_value(high), hex_value(low)) {
                    (Some(high), Some(low)) => out.push(high << 4 | low),
                    _ => return Err(illegal(input, index)),
                }
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Checks every `%` escape in `input` without decoding.
pub(crate) fn validate_escapes(input: &[u8]) -> Result<(), EscapeError> {
    let mut index = 0;
    while let Some(&byte) = input.get(index) {
        if byte == b'%' {
            let (Some(&high), Some(&low)) = (input.get(index + 1), input.get(index + 2)) else {
                return Err(EscapeError::IncompleteTrailing);
            };
            if hex_value(high).is_none() || hex_value(low).is_none() {
                return Err(illegal(input, index));
            }
            index += 3;
        } else {
            index += 1;
        }
    }
    Ok(())
}

/// The `&`-separated parameters of a raw query string, split into raw name
/// and raw value (`None` when there is no `=`). Empty pieces (`a=1&&b=2`) are
/// skipped, as every SDK and AWS do.
pub(crate) fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (piece, None),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        let table: &[(&str, bool, &[u8])] = &[
            ("a%20b", true, b"a b"),
            ("a+b", true, b"a b"),
            ("a+b", false, b"a+b"),
            ("%2B", true, b"+"),
            ("%e1%88%b4", false, "\u{1234}".as_bytes()),
            ("plain", true, b"plain"),
            ("", true, b""),
        ];
        for (input, plus, expected) in table {
            let decoded = decode(input.as_bytes(), *plus).unwrap();
            assert_eq!(decoded.as_ref(), *expected, "decoding {input:?}");
        }
    }

    #[test]
    fn rejects_malformed_escapes_with_aws_texts() {
        let table: &[(&str, EscapeError)] = &[
            ("abcd%", EscapeError::IncompleteTrailing),
            ("abcd%0", EscapeError::IncompleteTrailing),
            ("abcd%yy", EscapeError::IllegalHex(String::from("yy"))),
            ("%0g-rest", EscapeError::IllegalHex(String::from("0g"))),
        ];
        for (input, expected) in table {
            assert_eq!(
                decode(input.as_bytes(), true).unwrap_err(),
                *expected,
                "{input:?}"
            );
            assert_eq!(
                validate_escapes(input.as_bytes()).unwrap_err(),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn encodes_with_the_unreserved_set_and_upper_case_hex() {
        assert_eq!(encode(b"AZaz09-._~"), "AZaz09-._~");
        assert_eq!(encode(b"a b+c/d=e%"), "a%20b%2Bc%2Fd%3De%25");
        assert_eq!(encode("\u{1234}".as_bytes()), "%E1%88%B4");
        let mut path = String::new();
        encode_into(&mut path, b"/a b/c", PATH_ENCODE_SET);
        assert_eq!(path, "/a%20b/c");
    }

    #[test]
    fn splits_raw_query_pairs() {
        let pairs: Vec<_> = raw_query_pairs("a=1&&b&c=&=d").collect();
        assert_eq!(
            pairs,
            vec![
                ("a", Some("1")),
                ("b", None),
                ("c", Some("")),
                ("", Some("d"))
            ]
        );
    }
}
