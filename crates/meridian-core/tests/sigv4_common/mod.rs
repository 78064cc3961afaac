//! Helpers shared by the SigV4 integration tests (`tests/sigv4_*.rs`): an
//! owned request that lends a [`Request`] view, a parser for the raw HTTP
//! files of the AWS test suite, and timestamp helpers.
//!
//! Each test binary uses a different subset, hence `allow(dead_code)`.
#![allow(dead_code)]

use std::path::PathBuf;

use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::time::Timestamp;

/// A request owning its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl OwnedRequest {
    /// A request with no headers and an empty body.
    pub(crate) fn new(method: &str, path: &str, query: &str) -> OwnedRequest {
        OwnedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Runs `f` with a borrowed view of this request (payload = body bytes).
    pub(crate) fn with_view<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        let request = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            payload: Payload::Body(&self.body),
        };
        f(&request)
    }

    /// Appends a header field.
    pub(crate) fn add_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
    }

    /// Removes every field named `name` (case-insensitive).
    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers
            .retain(|(header, _)| !header.eq_ignore_ascii_case(name));
    }

    /// Replaces every field named `name` by one with `value`.
    pub(crate) fn set_header(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.remove_header(name);
        self.add_header(name, value);
    }

    /// The first value of `name`, as text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    }

    /// Parses a raw HTTP/1.1 request as written in the AWS signing test suite:
    /// `METHOD target HTTP/1.1`, `Name:value` lines (a line starting with
    /// whitespace continues the previous value, joined with `\n` as received),
    /// an empty line, the body. The target may contain raw spaces; the
    /// version may be missing.
    pub(crate) fn parse_http(raw: &[u8]) -> OwnedRequest {
        let text = String::from_utf8(raw.to_vec()).expect("test files are UTF-8");
        let (head, body) = match text.find("\n\n") {
            Some(at) => (&text[..at], &text[at + 2..]),
            None => (text.trim_end_matches('\n'), ""),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        // One file of the suite omits the HTTP version.
        let target = match rest.rsplit_once(' ') {
            Some((target, version)) if version.starts_with("HTTP/") => target,
            _ => rest,
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut request = OwnedRequest::new(method, path, query);
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                let (_, value) = request
                    .headers
                    .last_mut()
                    .expect("continuation after a header");
                value.push(b'\n');
                value.extend_from_slice(line.as_bytes());
                continue;
            }
            let (name, value) = line.split_once(':').expect("header line");
            request.add_header(name, value);
        }
        request.body = body.as_bytes().to_vec();
        request
    }
}

/// `tests/data/sigv4/…`.
pub(crate) fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigv4")
        .join(relative)
}

/// An instant from `YYYYMMDDTHHMMSSZ`.
pub(crate) fn amz(text: &str) -> Timestamp {
    assert_eq!(text.len(), 16, "{text:?}");
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    Timestamp::parse_rfc3339(&rfc3339).expect("valid instant")
}

/// The AWS documentation's example credentials.
pub(crate) const EXAMPLE_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
pub(crate) const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
