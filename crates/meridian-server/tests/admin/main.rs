//! Integration tests of the Admin API, key rotation and revocation on an
//! in-process cluster of real nodes (one per region, 127.0.0.1 only):
//!
//! * `authz`: every Admin call is authenticated and authorized;
//! * `rotation`: continuous rotation under load across three regions;
//! * `revocation`: commit-to-enforcement time per node.

mod authz;
mod revocation;
mod rotation;
mod support;
