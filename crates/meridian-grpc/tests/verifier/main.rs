//! The `meridian.v1.Verifier` over real gRPC on 127.0.0.1: conformance with
//! botocore and the `aws-sigv4` crate for a made-up service, mutations,
//! revocation and expiry, policy decisions against the evaluator's tables,
//! batch and stream forms against unary, limits and load shedding.

mod conformance;
mod forms;
mod limits;
mod policy;
mod support;
