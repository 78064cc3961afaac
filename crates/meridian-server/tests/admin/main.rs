//! Integration tests of the Admin API, key rotation and revocation on an
//! in-process cluster of real nodes (one per region, 127.0.0.1 only):
//!
//! * `authz`: every Admin call is authenticated and authorized;
//! * `rotation`: continuous rotation under load across three regions;
//! * `jwt_rotation`: the JWT signing keys' lifecycle (rotate, retire,
//!   destroy; JWKS of every node);
//! * `revocation`: commit-to-enforcement time per node;
//! * `restore`: a backup of one cluster restored into a new one.

mod authz;
mod jwt_rotation;
mod restore;
mod revocation;
mod rotation;
mod support;
