//! What the edge is handed by the server, and the traits the server implements.
//!
//! The edge never owns the store: it reads the newest applied
//! [`ConfigSnapshot`] from a `watch` channel (one `Arc` clone per request, no
//! lock held across I/O) and submits writes through [`ConfigWriter`], which
//! `meridian-server` implements on top of Raft. Time and randomness come from
//! [`Clock`] and [`RandomSource`] so tests fix both. Caller authentication is
//! an [`Authenticator`] (production: [`crate::auth::SigV4Authenticator`]).
//! Key material (the KEK that opens long-term secrets and the session-token
//! key ring) is a [`KeyMaterial`]; issuance freshness is a [`Freshness`]
//! flag the server refreshes whenever it knows its applied state is current.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use http::{HeaderMap, Method};
use meridian_core::config::command::{ConfigRequest, Response};
use meridian_core::config::error::ConfigError;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::time::Timestamp;
use tokio::sync::watch;

use crate::audit::{AuditSink, DiscardAudit};
pub use crate::auth::keys::KeyMaterial;
use crate::authz::PolicyCache;
use crate::error::ApiError;
use crate::model::Service;
use crate::operation::HandlerTable;
use crate::query::{Params, QueryLimits};
use crate::rate_limit::{KeyedRateLimiter, RateLimit};

/// The current time, as the edge sees it.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The wall clock. This is the one place the edge reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the edge's single wall-clock read
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Random bytes (request ids; later credentials through core).
pub trait RandomSource: Send + Sync + 'static {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// Why a write could not be carried out (as opposed to being refused by the
/// state machine, which is a [`ConfigError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// No quorum or no leader reachable in time: answered `ServiceUnavailable`
    /// so SDKs retry.
    #[error("configuration writes are unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, answered `InternalFailure`.
    #[error("configuration write failed: {0}")]
    Internal(String),
}

/// The outcome of a write that reached the state machine.
pub type WriteOutcome = Result<Response, ConfigError>;

/// A boxed, sendable future (the traits below are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Submits configuration writes; implemented by `meridian-server` over Raft.
/// It resolves once the command is committed *and applied on this node*, so
/// the edge can answer with read-your-writes (DESIGN.md "Consistency").
pub trait ConfigWriter: Send + Sync + 'static {
    /// Proposes `request` and waits for its outcome.
    fn submit(&self, request: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>>;
}

/// Everything about a request that SigV4 verification reads.
#[derive(Debug)]
pub struct AuthRequest<'a> {
    /// The method actually received (presigned URLs verify with it).
    pub method: &'a Method,
    /// The path as received, undecoded.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub raw_query: &'a str,
    /// All headers as received.
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
    /// Decoded parameters (query string and form body), for `X-Amz-*`.
    pub params: &'a Params,
    /// The service the `Version` selected (`sts` or `iam` scope).
    pub service: Service,
    /// The client's address (the TCP peer), when the listener knows it:
    /// `aws:SourceIp`.
    pub peer: Option<IpAddr>,
}

/// An authenticated caller and its session facts: shared with the gRPC
/// verifier and the Admin API, so they live in `meridian_core::access`.
pub use meridian_core::access::caller::{Caller, CallerSession};

/// Authenticates signed requests (SigV4 against the snapshot's keys and the
/// session-token codec). Errors are final answers (`InvalidClientTokenId`,
/// `SignatureDoesNotMatch`, `ExpiredToken`, `IncompleteSignature`, …).
pub trait Authenticator: Send + Sync + 'static {
    /// Who signed `request`, as of `now`.
    fn authenticate(
        &self,
        request: &AuthRequest<'_>,
        snapshot: &ConfigSnapshot,
        now: Timestamp,
    ) -> Result<Caller, ApiError>;
}

/// The readiness flag behind `/readyz`, set by the server once key material
/// is unwrapped and state applied, and cleared first on shutdown.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that starts not ready.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Marks the node ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether the node is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// When the server last confirmed that this node's applied configuration is
/// current (it heard from the leader and applied what was committed).
/// Issuance fails closed with `ServiceUnavailable` once that is older than
/// [`EdgeLimits::max_config_staleness`] (RELIABILITY.md "Decisions": a region
/// cut off from the quorum keeps issuing from its last applied state for that
/// long); verification never looks at it. It starts *never confirmed*: a
/// server that does not call [`Freshness::confirm`] does not issue.
#[derive(Debug, Clone)]
pub struct Freshness(Arc<AtomicI64>);

impl Default for Freshness {
    fn default() -> Freshness {
        Freshness(Arc::new(AtomicI64::new(i64::MIN)))
    }
}

impl Freshness {
    /// A flag that was never confirmed.
    pub fn new() -> Freshness {
        Freshness::default()
    }

    /// Records that the applied state was known to be current at `at`
    /// (later confirmations only move it forward).
    pub fn confirm(&self, at: Timestamp) {
        self.0.fetch_max(at.unix_millis(), Ordering::AcqRel);
    }

    /// The last confirmation, if any.
    pub fn confirmed_at(&self) -> Option<Timestamp> {
        let millis = self.0.load(Ordering::Acquire);
        (millis != i64::MIN).then(|| Timestamp::from_unix_millis(millis))
    }

    /// Whether the state is fresh enough to issue at `now`.
    pub fn is_fresh(&self, now: Timestamp, max_staleness: Duration) -> bool {
        let max = i64::try_from(max_staleness.as_millis()).unwrap_or(i64::MAX);
        self.confirmed_at()
            .is_some_and(|at| now.millis_since(at) <= max)
    }
}

/// Limits and timeouts of the edge. There is no `Default`: the server passes
/// its validated configuration, or [`EdgeLimits::RECOMMENDED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Largest request body, in bytes; larger ones get 413 before any of the
    /// body is read. 384 KiB covers the largest legitimate request, an
    /// AssumeRoleWithSAML with a 100,000-character assertion whose base64
    /// `+`, `/` and `=` could all be percent-encoded (3 × 100,000 bytes), plus
    /// a 2,048-character session policy and ten policy ARNs, each also
    /// encoded 3× (≈ 80 KB); IAM policy documents (at most 10,240 characters
    /// by quota, ≈ 31 KB encoded) fit many times over.
    pub max_body_bytes: usize,
    /// Parameter count and name length.
    pub query: QueryLimits,
    /// Time allowed for reading the request body once headers are in.
    pub body_read_timeout: Duration,
    /// Time allowed for the whole request inside the edge (excluding the
    /// header read, which the connection layer bounds).
    pub request_timeout: Duration,
    /// Requests processed at once on this node; beyond it, requests are shed
    /// with `ServiceUnavailable` instead of queueing.
    pub max_concurrent_requests: usize,
    /// Per-access-key request rate.
    pub per_key_rate: RateLimit,
    /// How old the node's confirmation that its configuration is current
    /// may be before issuing calls answer `ServiceUnavailable`
    /// (`max_config_staleness`, default 1 h). Verification is not affected.
    pub max_config_staleness: Duration,
}

impl EdgeLimits {
    /// Defaults chosen for a 2-core node (see each field).
    pub const RECOMMENDED: EdgeLimits = EdgeLimits {
        max_body_bytes: 384 * 1024,
        query: QueryLimits::RECOMMENDED,
        body_read_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(15),
        max_concurrent_requests: 1024,
        per_key_rate: RateLimit::RECOMMENDED,
        max_config_staleness: Duration::from_secs(3600),
    };
}

/// What the server hands the edge.
pub struct EdgeParts {
    /// The applied configuration, newest first.
    pub snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
    /// This node's region (`eu-west-1`): signing scope, unsigned calls,
    /// `RegionDisabledException`.
    pub region: String,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn RandomSource>,
    /// Configuration writes.
    pub writer: Arc<dyn ConfigWriter>,
    /// Caller authentication (production: `SigV4Authenticator::new(&region,
    /// keys.clone())`).
    pub authenticator: Arc<dyn Authenticator>,
    /// The KEK-backed key material: opens long-term secrets, builds the
    /// session-token key ring from the snapshot, seals authorization messages.
    pub keys: Arc<KeyMaterial>,
    /// Issuance freshness (see [`Freshness`]).
    pub freshness: Freshness,
    /// The operations served.
    pub handlers: HandlerTable,
    /// `/readyz`.
    pub readiness: Readiness,
    /// Limits and timeouts.
    pub limits: EdgeLimits,
}

impl fmt::Debug for EdgeParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeParts")
            .field("region", &self.region)
            .field("handlers", &self.handlers)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// What the server adds for observability: the durable audit trail and the
/// `/metrics` renderer. Kept apart from [`EdgeParts`] so that the edge's own
/// tests build a state without either ([`EdgeState::new`]).
#[derive(Clone)]
pub struct EdgeObservability {
    /// Where audit events go (see [`crate::audit`]).
    pub audit: Arc<dyn AuditSink>,
    /// `/metrics`; `None` answers 404.
    pub metrics: Option<MetricsRenderer>,
}

impl Default for EdgeObservability {
    fn default() -> EdgeObservability {
        EdgeObservability {
            audit: Arc::new(DiscardAudit),
            metrics: None,
        }
    }
}

impl fmt::Debug for EdgeObservability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeObservability")
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

/// The edge's shared state: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct EdgeState {
    inner: Arc<Inner>,
}

struct Inner {
    parts: EdgeParts,
    rate_limiter: KeyedRateLimiter,
    policies: PolicyCache,
    observability: EdgeObservability,
    /// Web-identity federation (JWKS source, settings), installed once by
    /// the server; the default refuses retryably (`crate::federation`).
    federation: std::sync::OnceLock<crate::federation::Federation>,
    /// SAML service provider and the single-use records (`crate::sso`).
    sso: crate::sso::SsoState,
}

impl EdgeState {
    /// Assembles the state, with no audit trail and no `/metrics` (tests and
    /// benches of the edge alone; the server uses
    /// [`EdgeState::with_observability`]).
    pub fn new(parts: EdgeParts) -> EdgeState {
        EdgeState::with_observability(parts, EdgeObservability::default())
    }

    /// Assembles the state with the server's audit trail and metrics.
    pub fn with_observability(parts: EdgeParts, observability: EdgeObservability) -> EdgeState {
        let rate_limiter = KeyedRateLimiter::new(parts.limits.per_key_rate);
        EdgeState {
            inner: Arc::new(Inner {
                parts,
                rate_limiter,
                policies: PolicyCache::new(),
                observability,
                federation: std::sync::OnceLock::new(),
                sso: crate::sso::SsoState::default(),
            }),
        }
    }

    /// SAML federation and MFA state of this node (`crate::sso`).
    pub fn sso(&self) -> &crate::sso::SsoState {
        &self.inner.sso
    }

    /// The audit sink.
    pub fn audit(&self) -> &dyn AuditSink {
        self.inner.observability.audit.as_ref()
    }

    /// The `/metrics` renderer, if the server installed one.
    pub fn metrics_renderer(&self) -> Option<&MetricsRenderer> {
        self.inner.observability.metrics.as_ref()
    }

    /// The newest applied snapshot.
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.inner.parts.snapshots.borrow().clone()
    }

    /// This node's region.
    pub fn region(&self) -> &str {
        &self.inner.parts.region
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.inner.parts.clock.now()
    }

    /// The random source.
    pub fn random(&self) -> &dyn RandomSource {
        self.inner.parts.random.as_ref()
    }

    /// The configuration writer.
    pub fn writer(&self) -> &dyn ConfigWriter {
        self.inner.parts.writer.as_ref()
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &dyn Authenticator {
        self.inner.parts.authenticator.as_ref()
    }

    /// The operations served.
    pub fn handlers(&self) -> &HandlerTable {
        &self.inner.parts.handlers
    }

    /// The readiness flag.
    pub fn readiness(&self) -> &Readiness {
        &self.inner.parts.readiness
    }

    /// Limits and timeouts.
    pub fn limits(&self) -> &EdgeLimits {
        &self.inner.parts.limits
    }

    /// The per-access-key limiter (the auth step calls it with the verified
    /// key id).
    pub fn rate_limiter(&self) -> &KeyedRateLimiter {
        &self.inner.rate_limiter
    }

    /// The key material.
    pub fn keys(&self) -> &KeyMaterial {
        &self.inner.parts.keys
    }

    /// Issuance freshness.
    pub fn freshness(&self) -> &Freshness {
        &self.inner.parts.freshness
    }

    /// Compiled policies, cached by document.
    pub fn policies(&self) -> &PolicyCache {
        &self.inner.policies
    }

    /// Installs the node's federation settings (once; a second call gives
    /// them back). Without it, web-identity calls fail retryably.
    pub fn install_federation(
        &self,
        federation: crate::federation::Federation,
    ) -> Result<(), crate::federation::Federation> {
        self.inner.federation.set(federation)
    }

    /// The federation settings (the refusing default until installed).
    pub fn federation(&self) -> &crate::federation::Federation {
        self.inner
            .federation
            .get_or_init(crate::federation::Federation::default)
    }
}

impl fmt::Debug for EdgeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeState")
            .field("region", &self.inner.parts.region)
            .field("limits", &self.inner.parts.limits)
            .field("ready", &self.inner.parts.readiness.is_ready())
            .finish_non_exhaustive()
    }
}
