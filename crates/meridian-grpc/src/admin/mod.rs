//! The `meridian.v1.Admin` service (`proto/meridian/v1/admin.proto`) and
//! the signing scheme its callers use.
//!
//! * [`signing`]: SigV4 over gRPC metadata — how `meridian admin` signs a
//!   call and how the service rebuilds the canonical request;
//! * [`auth`]: authentication (`meridian_core::access`, as the edge and the
//!   Verifier) and authorization (`meridian:<Method>`, operator account);
//! * [`service`]: the tonic service;
//! * [`convert`]: messages from status and snapshot;
//! * [`error`]: statuses with AWS-style codes in their details.

pub mod auth;
pub mod convert;
pub mod error;
pub mod service;
pub mod signing;
