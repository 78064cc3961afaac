//! Bounds on every part of a request the verifier reads.
//!
//! The HTTP edge has its own limits (hyper's header-size cap, a body limit),
//! but the verifier is also called by the gRPC service with whatever a
//! resource service forwards, so it bounds its own work: every input is
//! checked against these numbers before it is parsed, and anything larger is
//! answered with an error, never a panic or an unbounded allocation.

/// Size bounds, in bytes unless the name says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Header fields in the request (each repeated field counts).
    pub max_headers: usize,
    /// One header's name or value.
    pub max_header_length: usize,
    /// All header names and values together.
    pub max_header_section: usize,
    /// The `Authorization` header's value.
    pub max_authorization_length: usize,
    /// Names listed in `SignedHeaders`.
    pub max_signed_headers: usize,
    /// The raw path.
    pub max_path_length: usize,
    /// The raw query string.
    pub max_query_length: usize,
    /// `&`-separated parameters in the query string.
    pub max_query_parameters: usize,
}

impl Limits {
    /// Bounds that admit every request the AWS SDKs send to STS and IAM with
    /// room to spare: botocore sends about ten headers; a session token is a
    /// few KiB (AWS: "typically under 4096 bytes"); a GET with a 2,048-character
    /// session policy and 50 tags encodes to well under 64 KiB.
    pub const fn standard() -> Limits {
        Limits {
            max_headers: 128,
            max_header_length: 16 * 1024,
            max_header_section: 64 * 1024,
            max_authorization_length: 8 * 1024,
            max_signed_headers: 64,
            max_path_length: 8 * 1024,
            max_query_length: 64 * 1024,
            max_query_parameters: 1024,
        }
    }
}
