//! The replicated configuration: accounts, users and their keys, roles and
//! policies, identity providers, the key ring, regions, revocations and the
//! cluster's nodes.
//!
//! This module is the state machine's *meaning*, free of Raft and RocksDB:
//!
//! * [`command`]: the commands a Raft log entry carries ([`command::ConfigRequest`]);
//! * [`state::ConfigState::apply`]: their pure, deterministic apply, with
//!   preconditions checked at apply time, typed refusals ([`error::ConfigError`],
//!   mapped to IAM error codes) and at-most-once application per request id;
//! * [`snapshot::ConfigSnapshot`]: the immutable, indexed view that hot paths
//!   read behind an `Arc`, published after every apply;
//! * [`model`] and [`cluster`]: the entities as plain data;
//! * [`aws_managed`]: the built-in, read-only AWS managed policies every
//!   account sees.
//!
//! `meridian-store` drives it from the Raft log and persists it through the
//! protobuf encoding in `meridian-proto`; nothing here does I/O or reads a clock.

pub mod aws_managed;
pub mod cluster;
pub mod command;
pub mod error;
pub mod limits;
pub mod model;
pub mod snapshot;
pub mod state;

mod apply_cluster;
mod apply_iam;

#[cfg(test)]
mod state_test;
