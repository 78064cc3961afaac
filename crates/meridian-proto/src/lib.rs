//! Meridian's protobuf contract and its conversions.
//!
//! [`pb`] is the code generated from `proto/meridian/v1/*.proto`: the Raft
//! transport service and the versioned encoding of the replicated
//! configuration (commands in the Raft log, state in Raft snapshots).
//! [`pb_impl`] converts between those messages and `meridian-core`'s types;
//! decoding is fallible ([`error::DecodeError`]) because bytes from disk or a
//! peer are checked, never trusted.

pub mod error;
pub mod pb_impl;

/// Code generated from `proto/meridian/v1`.
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]
pub mod pb {
    tonic::include_proto!("meridian.v1");
}
