//! The `meridian.v1.Verifier` service: resource services ask a node "who
//! signed this request, and may they do X on Y?".
//!
//! ```text
//!  AuthenticateRequest ─► checks (service name, region, sizes, source ip)
//!        │                ─► sigv4::parse with a policy for (service, region)
//!        │                ─► access::caller::authenticate (KEK / key ring / revocations)
//!        ▼
//!  SessionContext + context handle (MAC'd under a KEK-derived key)
//!
//!  AuthorizeRequest ─► subject: context handle ─► access::caller::resume
//!        │                      (re-opens the token: expiry, denied sessions, disabled keys)
//!        │            or signed request ─► as Authenticate
//!        ▼
//!  access::authz::Subject::resolve ─► evaluate(action, resource, context keys)
//!        ▼
//!  Allow (deciding statement) | Deny (kind, layer, statement, AWS text,
//!                                     encoded message for DecodeAuthorizationMessage)
//! ```
//!
//! * [`handler::VerifierHandler`]: the transport-independent work, one
//!   synchronous call per RPC, benchmarked in process;
//! * [`service::VerifierService`]: the tonic service (unary, batch and
//!   bidirectional stream forms), its limits and admission control;
//! * [`handle`]: the context-handle format;
//! * [`convert`]: core values to protobuf and back.
//!
//! Everything is answered from the node's applied snapshot and key ring; no
//! call leaves the node. What the Verifier may be asked, and why it is no
//! oracle for an unauthenticated caller, is documented in
//! `proto/meridian/v1/verifier.proto` and `ARCHITECTURE.md`.

pub mod convert;
pub mod handle;
pub mod handler;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use meridian_core::access::keys::KeyMaterial;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::rand::RandomError;
use meridian_core::time::Timestamp;
use tokio::sync::watch;

/// The current time, as the verifier sees it (the server passes its wall
/// clock; tests a fixed one).
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Random bytes (nonces of sealed authorization messages).
pub trait Entropy: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

/// Whether the node may answer (key material unwrapped, state caught up).
pub trait ReadyCheck: Send + Sync + 'static {
    /// Ready to answer.
    fn is_ready(&self) -> bool;
}

/// Limits of the verifier. There is no `Default`: the server passes
/// [`VerifierLimits::RECOMMENDED`] or its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierLimits {
    /// Largest message decoded or encoded, in bytes (tonic's default is
    /// 4 MiB).
    pub max_message_bytes: usize,
    /// Largest inline body in a signed request.
    pub max_body_bytes: usize,
    /// Calls in one `Batch`.
    pub max_batch_calls: usize,
    /// Requests admitted at once (decoding and answering); beyond it calls
    /// are shed at once with `RESOURCE_EXHAUSTED` instead of queueing. Bounds
    /// memory: at most this many messages of `max_message_bytes` are being
    /// decoded.
    pub max_in_flight: usize,
    /// Extra context keys in one Authorize.
    pub max_context_entries: usize,
    /// Clock skew tolerated at both ends of a session token's life.
    pub token_leeway: Duration,
}

impl VerifierLimits {
    /// Defaults for a 2-core node: 512 KiB messages (a batch of 128 signed
    /// requests with session tokens is about 400 KiB), 64 KiB inline bodies,
    /// 128 calls per batch, 128 requests admitted (at most 64 MiB of
    /// messages being decoded), 64 context keys, 30 s token leeway.
    pub const RECOMMENDED: VerifierLimits = VerifierLimits {
        max_message_bytes: 512 * 1024,
        max_body_bytes: 64 * 1024,
        max_batch_calls: 128,
        max_in_flight: 128,
        max_context_entries: 64,
        token_leeway: Duration::from_secs(30),
    };
}

/// The applied configuration, newest first (`Node::snapshot`).
pub type Snapshots = watch::Receiver<Arc<ConfigSnapshot>>;

/// What the server hands the verifier. The applied configuration comes from
/// the node, which starts after the service is built (it is mounted on the
/// node's gRPC port): it is bound later with
/// [`service::VerifierService::bind`]; until then every call answers
/// `UNAVAILABLE`.
pub struct VerifierParts {
    /// The node's key material (shared with the edge: one ring cache).
    pub keys: Arc<KeyMaterial>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub entropy: Arc<dyn Entropy>,
    /// Readiness.
    pub ready: Arc<dyn ReadyCheck>,
    /// Limits.
    pub limits: VerifierLimits,
}

impl std::fmt::Debug for VerifierParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierParts")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
