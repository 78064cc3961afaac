//! Access control for every transport: who signed a request
//! ([`caller`]), may they do this ([`authz`]), with the node's key material
//! ([`keys`]).
//!
//! These were the HTTP edge's once; they live here because the gRPC verifier
//! answers the same two questions for resource services and must answer them
//! identically — same credential resolution, same revocation rules, same
//! policy evaluation, same encoded authorization messages (which
//! `sts:DecodeAuthorizationMessage` on the edge decodes). What stays with a
//! transport is what only it knows: how a request arrives (HTTP headers or a
//! protobuf message), which signing scopes it accepts, how errors are
//! rendered (AWS XML, gRPC status), and service-specific rules (a
//! `GetSessionToken` session without MFA may not call IAM).
//!
//! Like the rest of the crate this does no I/O and reads no clock: `now` and
//! a random source are arguments. It holds two caches behind locks — the
//! session-token key ring per snapshot and compiled policies per document —
//! whose critical sections are pointer comparisons and map lookups; and it
//! emits `tracing` events for stored material that cannot be used (a record
//! that does not unwrap, a policy that does not compile), never for requests.

pub mod authz;
pub mod caller;
pub mod keys;
