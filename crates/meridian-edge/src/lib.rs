//! Meridian's HTTP edge: the AWS STS and IAM query APIs on axum and tower.
//! (crate docs are completed below as the pieces land)

pub mod decode;
pub mod error;
pub mod model;
pub mod query;
pub mod xml;
