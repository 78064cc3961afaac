//! The request as the verifier sees it, independent of any HTTP crate.
//!
//! The edge (hyper/axum) and the gRPC verifier (a resource service forwarding
//! a request it received) both describe a request the same way: the method,
//! the raw path and query string exactly as they arrived (still
//! percent-encoded), every header field in arrival order with duplicates kept
//! and values as bytes (HTTP allows non-UTF-8 values), and the payload — either
//! the body bytes or, when the caller only forwards a digest, its hex SHA-256.
//!
//! For HTTP/2 the caller passes the `:authority` pseudo-header as `host`,
//! which is what clients sign.

use std::fmt;

/// The payload the signature covers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The raw body bytes.
    Body(&'a [u8]),
    /// The lower-case hex SHA-256 of the body, computed by the caller.
    Sha256Hex(&'a str),
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Body(body) => write!(f, "Body({} bytes)", body.len()),
            Payload::Sha256Hex(hash) => write!(f, "Sha256Hex({hash})"),
        }
    }
}

/// One request to verify or sign.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method as received (`GET`, `POST`, …).
    pub method: &'a str,
    /// The raw path, percent-encoded as received (`/`, `/a%20b`).
    pub path: &'a str,
    /// The raw query string without the `?`; empty when there is none.
    pub query: &'a str,
    /// Header fields in arrival order, duplicates preserved; names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body, or its hash.
    pub payload: Payload<'a>,
}

impl<'a> Request<'a> {
    /// The values of every header named `name` (ASCII case-insensitive), in
    /// arrival order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// Header names and sizes only: values may carry a session token or an
/// `Authorization` header, which must not reach logs.
impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, usize)> = self
            .headers
            .iter()
            .map(|(name, value)| (*name, value.len()))
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query_length", &self.query.len())
            .field("headers", &headers)
            .field("payload", &self.payload)
            .finish()
    }
}
