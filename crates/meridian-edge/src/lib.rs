//! Meridian's HTTP edge: the AWS STS and IAM query APIs on axum and tower.
//!
//! Unmodified AWS SDKs and the aws CLI talk to this crate. It owns everything
//! HTTP: the query protocol (strict form decoding, `Action`/`Version` routing
//! for STS `2011-06-15` and IAM `2010-05-08` on one listener, flattened
//! lists, maps and structures), validation against botocore's own models with
//! AWS's exact `ValidationError` texts, the XML envelopes and AWS's error
//! document, and the protective layers (request ids, tracing, body and time
//! limits, load shedding, panic safety, per-key rate limits).
//!
//! ```text
//!   listener ── server::serve (header timeout, connection cap, drain)
//!      └─ router(state) ── layers (id, trace, panic, shed, timeout, body cap)
//!            └─ dispatch: params → route → authenticate → rate limit
//!                 → decode/validate (model) → handler → XML
//! ```
//!
//! The edge depends on `meridian-core` only. It reads the applied
//! configuration as an `Arc<ConfigSnapshot>` from a `watch` channel and
//! writes through [`state::ConfigWriter`], which the server implements over
//! Raft; caller authentication is an [`state::Authenticator`].
//!
//! Entry points: [`router::router`], [`server::serve`], [`state::EdgeState`],
//! [`operation::HandlerTable`].

pub mod audit;
pub mod auth;
pub mod authz;
pub mod decode;
pub mod error;
pub mod federation;
pub mod iam;
pub mod layers;
mod mfa;
pub mod model;
pub mod operation;
pub mod outbound;
pub mod query;
pub mod rate_limit;
pub mod router;
pub mod server;
pub mod sso;
pub mod state;
pub mod sts;
pub mod telemetry;
pub mod xml;
