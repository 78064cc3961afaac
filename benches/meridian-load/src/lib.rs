//! `meridian-load`: the project's load generator.
//!
//! It drives Meridian (STS and IAM over HTTP, SigV4-signed per request with
//! `meridian_core::sigv4::signer`, and the gRPC Verifier), OpenBao (batch-token create and token
//! lookup) and moto's STS with one client and one engine, so that the
//! side-by-side figures in BENCHMARKS.md compare servers, not tools.
//!
//! * [`engine`]: open-loop (constant rate, latency from the intended start:
//!   coordinated omission corrected) and closed-loop (N workers) runs with
//!   warm-up, bounded duration and concurrency, and a progress line.
//! * [`pacer`]: the open-loop schedule and the thread that releases it.
//! * [`histogram`]: HDR latency histograms in microseconds.
//! * [`http`]: the HTTP/1.1 keep-alive client (hyper-util's pooled client).
//! * [`aws`]: SigV4-signed query-protocol requests and their answers.
//! * [`meridian`], [`bao`], [`moto`]: each system's setup and workloads.
//! * [`verifier`]: Meridian's gRPC Verifier (`Authenticate`,
//!   `AuthenticateAndAuthorize`) for a made-up resource service.
//! * [`sys`]: CPU seconds of server processes and load average from /proc.
//! * [`scrape`]: counter deltas from the servers' `/metrics`.
//! * [`summary`]: the JSON summary and the human table.

pub mod aws;
pub mod bao;
pub mod clock;
pub mod engine;
pub mod histogram;
pub mod http;
pub mod meridian;
pub mod moto;
pub mod pacer;
pub mod scrape;
pub mod summary;
pub mod sys;
pub mod verifier;
