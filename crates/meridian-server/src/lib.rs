//! Meridian's composition root: the node configuration, and (as the store
//! and gRPC crates land) `App::build`/`spawn`, readiness and shutdown.

pub mod bootstrap;
pub mod config;
pub mod kek;
