//! Meridian's cluster transport and node handle.
//!
//! * [`node::Node`]: a running cluster member — start (bootstrap, join,
//!   restart), `write`, `snapshot`, membership changes, status, shutdown —
//!   the one thing `meridian-server` composes;
//! * [`raft_service`]: the tonic Raft service (vote, pre-vote, append,
//!   chunked and checksummed snapshot install, leadership transfer) and the
//!   write and join forwarding RPCs;
//! * [`network`]: openraft's network over tonic, with deadlines and lazily
//!   connected channels;
//! * [`timings::RaftTimings`]: Raft timings for loopback and WAN links;
//! * [`server_limits::GrpcServerLimits`]: the HTTP/2 settings of the gRPC
//!   port (streams, header list size, reset-flood bounds), set explicitly;
//! * [`admin`]: the `meridian.v1.Admin` service and its SigV4-over-metadata
//!   signing scheme (also used by `meridian admin`);
//! * [`rotation::RotationDriver`]: two-phase key rotation proposed as
//!   compare-and-set entries;
//! * [`verifier`]: the `meridian.v1.Verifier` service (Authenticate,
//!   Authorize, batch and stream forms) for resource services;
//! * [`outbound`]: calls to other nodes made while serving a request,
//!   counted by request class where they leave the node.

pub mod admin;
pub mod errors;
pub mod network;
pub mod node;
pub mod outbound;
pub mod raft_service;
pub mod rotation;
pub mod server_limits;
pub mod timings;
pub mod trace_context;
pub mod verifier;

mod cluster_ops;
