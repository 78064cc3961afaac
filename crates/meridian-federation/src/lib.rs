//! The outbound side of OIDC federation: fetching registered identity
//! providers' discovery documents and key sets for the edge.
//!
//! The edge has no network client (ARCHITECTURE.md); it asks a
//! `meridian_edge::federation::JwksSource` for keys. [`JwksFetcher`] is that
//! source on a real node: an in-memory cache the edge reads without any I/O
//! when warm, filled by bounded HTTPS fetches ([`http::HttpClient`]) for
//! providers registered in the replicated configuration only.
//!
//! * [`fetcher`]: the cache, registration check, TTLs, negative cache,
//!   single flight, stale-if-error;
//! * [`http`]: the GET client: address policy (no private or loopback
//!   destinations unless configured), rustls with aws-lc, Mozilla roots plus
//!   operator CAs, size and time limits, same-origin redirects only.

pub mod fetcher;
pub mod http;

pub use fetcher::{FetcherConfig, JwksFetcher};
