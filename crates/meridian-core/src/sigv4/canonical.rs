//! The canonical request and the string to sign, shared by the verifier and
//! the signer so the two cannot disagree.
//!
//! ```text
//! METHOD \n CanonicalURI \n CanonicalQuery \n
//! name:value \n … (one line per signed header) \n
//! \n SignedHeaders \n PayloadHash
//! ```
//!
//! * URI: the raw path, optionally normalised (RFC 3986 `remove_dot_segments`,
//!   and empty segments dropped as every SDK does), then encoded twice
//!   (non-S3) or decoded and encoded once per segment (S3). A path ending in
//!   `/.` or `/..` keeps a trailing `/` (RFC 3986, the AWS test suite and the
//!   `aws-sigv4` crate); botocore drops it, so a botocore client signing such
//!   a path would not verify — STS and IAM only ever use `/`.
//! * Query: each parameter decoded (`+` is a space) and re-encoded with the
//!   RFC 3986 unreserved set, sorted by encoded name then encoded value,
//!   `name=` for an empty value; presigned requests leave out
//!   `X-Amz-Signature` (and, by option, `X-Amz-Security-Token`).
//! * Headers: the names in `SignedHeaders`, in that order, lower-cased; every
//!   occurrence's value trimmed with inner whitespace runs (space, tab, CR,
//!   LF, VT, FF) collapsed to one space — botocore's `' '.join(v.split())`,
//!   which also unfolds multi-line values — and occurrences joined with `,`.
//!   The `SignedHeaders` line is the list exactly as the client sent it.
//!
//! The canonical request is bytes: header values may be any bytes and are
//! hashed as received.

use std::fmt::Write as _;

use aws_lc_rs::digest;

use crate::sigv4::encoding::{self, ENCODE_SET, PATH_ENCODE_SET};
use crate::sigv4::error::{InvalidPath, SigV4Error};
use crate::sigv4::policy::UriEncoding;
use crate::sigv4::{ALGORITHM, TERMINATOR};

/// Which query parameters the canonical query leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryExclusions {
    /// None: header-signed requests.
    None,
    /// `X-Amz-Signature`: presigned requests.
    Signature,
    /// `X-Amz-Signature` and `X-Amz-Security-Token`: presigned requests whose
    /// token was appended after signing.
    SignatureAndToken,
}

/// Everything the canonical request is built from.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'a> {
    /// The HTTP method, as received.
    pub method: &'a str,
    /// The raw path.
    pub path: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// What the canonical query leaves out.
    pub query_exclusions: QueryExclusions,
    /// All header fields of the request (names in any case).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The `SignedHeaders` list, `;`-separated, as the client sent it.
    pub signed_headers: &'a str,
    /// The payload hash line (hex SHA-256 or `UNSIGNED-PAYLOAD`).
    pub payload_hash: &'a str,
    /// Path encoding.
    pub uri_encoding: UriEncoding,
    /// Whether to normalise the path first.
    pub normalize_path: bool,
}

/// Builds the canonical request.
pub fn canonical_request(input: &CanonicalInput<'_>) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(
        256 + input.query.len() + input.headers.iter().map(|(_, v)| v.len()).sum::<usize>(),
    );
    out.extend_from_slice(input.method.as_bytes());
    out.push(b'\n');
    let uri = canonical_uri(input.path, input.uri_encoding, input.normalize_path)?;
    out.extend_from_slice(uri.as_bytes());
    out.push(b'\n');
    let query = canonical_query(input.query, input.query_exclusions)?;
    out.extend_from_slice(query.as_bytes());
    out.push(b'\n');
    for name in input.signed_headers.split(';') {
        append_canonical_header(&mut out, name, input.headers);
    }
    out.push(b'\n');
    out.extend_from_slice(input.signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash.as_bytes());
    Ok(out)
}

/// `name:value` and a newline for one signed header. A signed header absent
/// from the request canonicalises with an empty value (the signature then
/// only matches if the client signed it empty).
fn append_canonical_header(out: &mut Vec<u8>, name: &str, headers: &[(&str, &[u8])]) {
    for byte in name.bytes() {
        out.push(byte.to_ascii_lowercase());
    }
    out.push(b':');
    let mut first = true;
    for (header, value) in headers {
        if header.eq_ignore_ascii_case(name) {
            if !first {
                out.push(b',');
            }
            first = false;
            append_trimmed(out, value);
        }
    }
    out.push(b'\n');
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Appends `value` trimmed, with each inner run of whitespace replaced by one space.
fn append_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &byte in value {
        if is_space(byte) {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(byte);
            started = true;
        }
    }
}

/// RFC 3986 `remove_dot_segments` on an absolute path, also dropping empty
/// segments: resolves `.` and `..` (never above the root), keeps the leading
/// `/`, and keeps a trailing `/` when the path ends in `/`, `/.` or `/..` and
/// anything remains.
fn normalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    let trailing_slash = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if trailing_slash && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw path.
pub fn canonical_uri(
    path: &str,
    encoding: UriEncoding,
    normalize_path: bool,
) -> Result<String, SigV4Error> {
    if path.is_empty() || path == "/" {
        return Ok(String::from("/"));
    }
    if !path.starts_with('/') {
        return Err(SigV4Error::InvalidUriPath(InvalidPath::NotAbsolute(
            path.to_owned(),
        )));
    }
    let normalized;
    let path = if normalize_path {
        normalized = normalize(path);
        normalized.as_str()
    } else {
        path
    };
    let mut out = String::with_capacity(path.len() + 16);
    match encoding {
        UriEncoding::Double => encoding::encode_into(&mut out, path.as_bytes(), PATH_ENCODE_SET),
        UriEncoding::Single => {
            for (index, segment) in path.split('/').enumerate() {
                if index > 0 {
                    out.push('/');
                }
                let decoded = encoding::decode(segment.as_bytes(), false)
                    .map_err(|escape| SigV4Error::InvalidUriPath(InvalidPath::Escape(escape)))?;
                encoding::encode_into(&mut out, &decoded, ENCODE_SET);
            }
        }
    }
    Ok(out)
}

/// The canonical query string of a raw query string.
pub fn canonical_query(query: &str, exclusions: QueryExclusions) -> Result<String, SigV4Error> {
    if query.is_empty() {
        return Ok(String::new());
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (raw_name, raw_value) in encoding::raw_query_pairs(query) {
        let name = encoding::decode(raw_name.as_bytes(), true)
            .map_err(SigV4Error::MalformedQueryString)?;
        let excluded = match exclusions {
            QueryExclusions::None => false,
            QueryExclusions::Signature => name.as_ref() == b"X-Amz-Signature",
            QueryExclusions::SignatureAndToken => {
                name.as_ref() == b"X-Amz-Signature" || name.as_ref() == b"X-Amz-Security-Token"
            }
        };
        if excluded {
            continue;
        }
        let value = encoding::decode(raw_value.unwrap_or("").as_bytes(), true)
            .map_err(SigV4Error::MalformedQueryString)?;
        pairs.push((encoding::encode(&name), encoding::encode(&value)));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 16);
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    Ok(out)
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lower-case hex of `bytes`, written in place (`hex::encode` builds its
/// string a character at a time; this runs on every signature check).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut text = vec![0; bytes.len() * 2];
    match hex::encode_to_slice(bytes, &mut text) {
        Ok(()) => String::from_utf8(text).unwrap_or_default(),
        // The buffer is exactly twice the input's length.
        Err(_) => hex::encode(bytes),
    }
}

/// The string to sign:
/// `AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{hex(sha256(canonical))}`.
pub fn string_to_sign(
    amz_date: &str,
    scope_date: &str,
    region: &str,
    service: &str,
    canonical_request: &[u8],
) -> String {
    let mut out = String::with_capacity(160);
    let _ = write!(
        out,
        "{ALGORITHM}\n{amz_date}\n{scope_date}/{region}/{service}/{TERMINATOR}\n{}",
        sha256_hex(canonical_request)
    );
    out
}

/// The canonical request as text for an error message, with the value of
/// `x-amz-security-token` (header line or query parameter) replaced by
/// `<redacted>`: a session token is a credential and must not reach logs.
pub(crate) fn redacted_for_display(canonical_request: &[u8]) -> String {
    let text = String::from_utf8_lossy(canonical_request);
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        if index == 2 {
            // The canonical query: parameters are `&`-separated.
            for (position, pair) in line.split('&').enumerate() {
                if position > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some(("X-Amz-Security-Token", _)) => {
                        out.push_str("X-Amz-Security-Token=<redacted>")
                    }
                    _ => out.push_str(pair),
                }
            }
        } else if line.starts_with("x-amz-security-token:") {
            out.push_str("x-amz-security-token:<redacted>");
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_collapses_header_whitespace() {
        let table: &[(&[u8], &[u8])] = &[
            (b"  value1 ", b"value1"),
            (b"\"a   b   c\"", b"\"a b c\""),
            (b"value1\n  value2\n     value3", b"value1 value2 value3"),
            (b"a\t\tb\r\nc", b"a b c"),
            (b"   ", b""),
            (b"\xff \xfe", b"\xff \xfe"),
        ];
        for (input, expected) in table {
            let mut out = Vec::new();
            append_trimmed(&mut out, input);
            assert_eq!(out.as_slice(), *expected, "{input:?}");
        }
    }

    #[test]
    fn normalizes_like_rfc_3986() {
        let table = [
            ("/", "/"),
            ("//", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/a/b/../c/", "/a/c/"),
            ("/../../x", "/x"),
            ("/-/.", "/-/"),
            ("/a/b/..", "/a/"),
            ("/a/b/../", "/a/"),
            ("/a/b/.x", "/a/b/.x"),
        ];
        for (input, expected) in table {
            assert_eq!(normalize(input), expected, "{input:?}");
        }
    }

    #[test]
    fn encodes_paths_twice_or_once() {
        let table = [
            (
                "/test/@connections/JBDvjfGEIAMCERw%3D",
                UriEncoding::Double,
                "/test/%40connections/JBDvjfGEIAMCERw%253D",
            ),
            (
                "/example%20space/",
                UriEncoding::Double,
                "/example%2520space/",
            ),
            (
                "/example%20space/",
                UriEncoding::Single,
                "/example%20space/",
            ),
            ("/example space/", UriEncoding::Single, "/example%20space/"),
            ("/a%2Fb/c", UriEncoding::Single, "/a%2Fb/c"),
            ("/a%7Eb", UriEncoding::Single, "/a~b"),
        ];
        for (input, encoding, expected) in table {
            assert_eq!(
                canonical_uri(input, encoding, true).unwrap(),
                expected,
                "{input:?}"
            );
        }
        assert!(matches!(
            canonical_uri("relative", UriEncoding::Double, true),
            Err(SigV4Error::InvalidUriPath(InvalidPath::NotAbsolute(_)))
        ));
    }

    #[test]
    fn sorts_and_reencodes_query_parameters() {
        let table = [
            (
                "Param2=value2&Param1=value1",
                QueryExclusions::None,
                "Param1=value1&Param2=value2",
            ),
            ("b=2&a&c=", QueryExclusions::None, "a=&b=2&c="),
            ("k=b&k=a", QueryExclusions::None, "k=a&k=b"),
            ("a=x+y&b=%7e", QueryExclusions::None, "a=x%20y&b=~"),
            ("X-Amz-Signature=abc&z=1", QueryExclusions::Signature, "z=1"),
            (
                "X-Amz-Signature=abc&z=1",
                QueryExclusions::None,
                "X-Amz-Signature=abc&z=1",
            ),
            (
                "X-Amz-Security-Token=t&z=1",
                QueryExclusions::SignatureAndToken,
                "z=1",
            ),
            (
                "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
                QueryExclusions::None,
                "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
            ),
        ];
        for (input, exclusions, expected) in table {
            assert_eq!(
                canonical_query(input, exclusions).unwrap(),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn redacts_the_session_token() {
        let canonical = b"GET\n/\nA=1&X-Amz-Security-Token=secret&Z=2\nhost:h\nx-amz-security-token:secret\n\nhost;x-amz-security-token\nhash";
        let shown = redacted_for_display(canonical);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("A=1&X-Amz-Security-Token=<redacted>&Z=2"),
            "{shown}"
        );
        assert!(
            shown.contains("x-amz-security-token:<redacted>\n"),
            "{shown}"
        );
    }
}
