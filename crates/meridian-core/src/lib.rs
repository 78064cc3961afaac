//! Meridian's pure domain.
//!
//! Everything every request crosses lives here: identifiers and ARNs, the
//! principals that sign requests, the self-contained session token and the key
//! ring that seals it, SigV4 verification and IAM policy evaluation.
//!
//! Architecture invariants (see `ARCHITECTURE.md`):
//!
//! * no I/O, no async runtime, no wall clock: the current time is always an
//!   argument ([`time::Timestamp`]), randomness is always a passed-in source;
//! * no knowledge of HTTP, gRPC, Raft or RocksDB: wire and disk encodings live
//!   at the boundary crates, except the session token's byte format, which is
//!   a deliberate, versioned encoding owned here;
//! * nothing secret is printed: `Debug` of secret material is redacted and the
//!   memory is zeroized on drop.

pub mod access;
pub mod arn;
pub mod config;
pub mod ids;
pub mod keyring;
pub mod oidc;
pub mod policy;
pub mod principal;
pub mod rand;
pub mod saml;
pub mod sigv4;
pub mod time;
pub mod token;
pub mod totp;
