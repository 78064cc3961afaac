//! The node configuration file as written: stage one of two.
//!
//! Every struct refuses unknown keys (`deny_unknown_fields`), so a typo or a
//! key from a newer version is an error rather than a silently ignored
//! setting. Every field is optional here: whether a value is required, and
//! what it defaults to, is decided in one place ([`super::Config::build`])
//! after environment overrides have been applied on top of the file.
//! Durations are integers with their unit in the key name (`_ms`, `_secs`),
//! which needs no duration syntax and reads unambiguously.
//!
//! There is deliberately no field that could hold the key-encryption key
//! itself: `[kek]` only says where to find it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Format version; must be 1.
    pub version: Option<i64>,
    /// This node's id in the cluster (never reused).
    pub node_id: Option<u64>,
    /// This node's region, e.g. `eu-west-1`.
    pub region: Option<String>,
    /// The partition ARNs are minted in (default `aws`).
    pub partition: Option<String>,
    /// Where the node keeps its data (RocksDB under `store/`).
    pub data_dir: Option<PathBuf>,
    /// How old the applied configuration may get, in a region cut off from
    /// the quorum, before issuance fails closed (default 3600).
    pub max_config_staleness_secs: Option<u64>,
    /// How long shutdown may take before remaining work is abandoned
    /// (default 20).
    pub shutdown_grace_period_secs: Option<u64>,
    /// The HTTP edge.
    #[serde(default, skip_serializing_if = "is_default")]
    pub http: RawHttp,
    /// The gRPC listener (Raft transport, later Admin and Verifier).
    #[serde(default, skip_serializing_if = "is_default")]
    pub grpc: RawGrpc,
    /// How this node enters its cluster.
    #[serde(default, skip_serializing_if = "is_default")]
    pub cluster: RawCluster,
    /// Raft timings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub raft: RawRaft,
    /// Where the key-encryption key comes from.
    #[serde(default, skip_serializing_if = "is_default")]
    pub kek: RawKek,
    /// Request limits of the edge.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: RawLimits,
    /// Web-identity federation.
    #[serde(default, skip_serializing_if = "is_default")]
    pub federation: super::federation::RawFederation,
    /// SAML federation.
    #[serde(default, skip_serializing_if = "is_default")]
    pub saml: super::saml::RawSaml,
    /// The audit trail.
    #[serde(default, skip_serializing_if = "is_default")]
    pub audit: RawAudit,
    /// Logging.
    #[serde(default, skip_serializing_if = "is_default")]
    pub log: RawLog,
}

/// `[audit]`: the append-only, hash-chained audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Its directory (default `{data_dir}/audit`).
    pub dir: Option<PathBuf>,
    /// A new file starts once the current one is larger (default 64 MiB).
    pub max_file_bytes: Option<u64>,
    /// Requests that may wait for the writer at once (default 8192).
    pub buffer_requests: Option<u64>,
    /// How long a request may wait for its records to be durable before
    /// issuance answers `ServiceUnavailable` (default 2000).
    pub max_wait_ms: Option<u64>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` (default) or `json` (one JSON object per line). The
    /// `--log-format` flag and `MERIDIAN_LOG_FORMAT` take precedence.
    pub format: Option<String>,
}

/// `[http]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// The socket address to bind, e.g. `127.0.0.1:7101`.
    pub listen: Option<String>,
    /// The URL clients reach it at (default `http://{listen}` unless the
    /// listen address is unspecified, e.g. `0.0.0.0`).
    pub advertise: Option<String>,
}

/// `[grpc]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrpc {
    /// The socket address to bind, e.g. `127.0.0.1:7201`.
    pub listen: Option<String>,
    /// The URL peers reach it at (same default rule as `[http]`).
    pub advertise: Option<String>,
}

/// `[cluster]`: exactly one of `bootstrap` and `join`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// A new cluster: every initial member carries the same list.
    pub bootstrap: Option<RawBootstrap>,
    /// An existing cluster this node joins as a learner.
    pub join: Option<RawJoin>,
}

/// `[cluster.bootstrap]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBootstrap {
    /// The initial voters, this node among them.
    #[serde(default)]
    pub members: Vec<RawMember>,
    /// The administrator bootstrap file (see the crate docs): on one initial
    /// member only; consumed (deleted) once applied.
    pub admin_file: Option<PathBuf>,
}

/// One initial member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    /// Its node id.
    pub id: Option<u64>,
    /// Its region.
    pub region: Option<String>,
    /// Its advertised gRPC URL.
    pub grpc: Option<String>,
    /// Its advertised HTTP URL (informational).
    pub http: Option<String>,
}

/// `[cluster.join]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawJoin {
    /// gRPC URLs of existing members to ask; any member forwards to the leader.
    #[serde(default)]
    pub seeds: Vec<String>,
}

/// `[raft]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRaft {
    /// Leader heartbeat interval.
    pub heartbeat_ms: Option<u64>,
    /// Lower bound of the randomised election timeout.
    pub election_timeout_min_ms: Option<u64>,
    /// Upper bound of the randomised election timeout.
    pub election_timeout_max_ms: Option<u64>,
    /// How long a configuration write may wait for a quorum before it fails
    /// with a retryable error.
    pub write_timeout_ms: Option<u64>,
}

/// `[kek]`: exactly one of `file` and `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKek {
    /// A file holding the key as 64 hex digits; must not be readable by
    /// group or others.
    pub file: Option<PathBuf>,
    /// The name of an environment variable holding the key as 64 hex digits.
    pub env: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body.
    pub max_body_bytes: Option<u64>,
    /// Requests processed at once; more are shed.
    pub max_concurrent_requests: Option<u64>,
    /// Open HTTP connections at most.
    pub max_connections: Option<u64>,
    /// Sustained requests per second per access key.
    pub requests_per_second_per_key: Option<u32>,
    /// Burst per access key.
    pub burst_per_key: Option<u32>,
    /// Time allowed for a request inside the edge.
    pub request_timeout_ms: Option<u64>,
    /// Time allowed for a request head to arrive.
    pub header_read_timeout_ms: Option<u64>,
    /// Time allowed for a request body to arrive.
    pub body_read_timeout_ms: Option<u64>,
}

/// Whether a table equals its default (left out when `meridian dev` writes
/// a config, so files show only what was set).
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
