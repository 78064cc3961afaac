//! Meridian's composition root: the node configuration, `App::build`/`spawn`
//! with ordered shutdown, readiness, the edge's writer over Raft, and the
//! bootstrap of a new cluster's administrator.
//!
//! * [`config`]: the node's TOML file and `MERIDIAN_*` overrides, validated
//!   before anything is bound ([`config::Config`]);
//! * [`kek`]: the key-encryption key from a file or an environment
//!   variable;
//! * [`key_file`]: who may read a file holding a secret (owner-only, or
//!   provisioned by root for this process's group);
//! * [`bootstrap_node`]: which member bootstraps the cluster, exactly once
//!   (`bootstrap` has the design), the administrator file at start, and what
//!   happens to it afterwards;
//! * [`app`]: [`app::App::build`] (KEK, listeners, Raft node, edge state),
//!   [`app::App::spawn`] (tasks on one tracker), [`app::RunningApp::shutdown`]
//!   (readiness false → HTTP drain → gRPC and Raft → store closed);
//! * [`readiness`]: `/readyz` and issuance freshness from Raft state and key
//!   material;
//! * [`writer`]: `meridian_edge::state::ConfigWriter` over the node handle;
//! * [`bootstrap`]: how a new cluster gets its partition, regions, first data
//!   key, first account and administrator — without an unauthenticated
//!   administrative surface (the design is in that module's docs);
//! * [`random`]: the system random source for the edge;
//! * [`verifier`]: the node's `meridian.v1.Verifier`, mounted on its gRPC
//!   port next to the Raft transport and the Admin API.
//!
//! The one wall-clock read of the node is `meridian_edge::state::SystemClock`,
//! which the edge owns and this crate hands to everything that needs time.

pub mod admin;
pub mod app;
pub mod audit;
pub mod bootstrap;
pub mod bootstrap_node;
pub mod config;
pub mod federation;
pub mod kek;
pub mod key_file;
pub mod logging;
pub mod random;
pub mod readiness;
pub mod telemetry;
pub mod verifier;
pub mod writer;
