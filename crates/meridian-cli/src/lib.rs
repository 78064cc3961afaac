//! The `meridian` binary's commands, as a library so that tests reach them.
//!
//! * `meridian serve --config FILE`: one node ([`serve`]);
//! * `meridian dev`: a local multi-region cluster of node processes ([`dev`]);
//! * `meridian admin …`: cluster administration ([`admin`]);
//! * `meridian credentials …`: `credential_process` output for a role ([`credentials`]);
//! * `meridian audit verify FILE…`: checks audit trail files ([`audit`]);
//! * `meridian init`: a new cluster's KEK and administrator bootstrap file
//!   ([`init`]);
//! * `meridian health`: a container healthcheck of a node's HTTP endpoint
//!   ([`health`]).
//!
//! Exit codes: 0 success, 64 bad configuration (a
//! `meridian_server::config::error::ConfigError` anywhere in the error
//! chain), 2 bad arguments (clap), 1 anything else.

pub mod admin;
pub mod audit;
pub mod clock;
pub mod credentials;
pub mod dev;
pub mod exit;
pub mod health;
pub mod init;
pub mod serve;
