//! The process's one metrics registry and the node's sampled gauges.
//!
//! [`install`] puts a Prometheus recorder (`metrics-exporter-prometheus`,
//! no HTTP listener of its own) behind the `metrics` facade once per
//! process; every component records through the facade under its own
//! prefix (`meridian_edge_*`, `meridian_raft_*`, `meridian_keyring_*`,
//! `meridian_config_*`, `meridian_audit_*`, `process_*`), and the HTTP
//! edge renders the registry on `/metrics`. Several in-process nodes (tests)
//! share the one registry.
//!
//! What is not an event is sampled once a second by [`Sampler`]: Raft's
//! term, leader, commit and applied index and per-follower lag; the key
//! ring (age of the active key, keys per state, the rotation interval and
//! `max_key_age` to alert against); configuration staleness; readiness;
//! process CPU time, resident memory and open descriptors (read from
//! `/proc/self`, so a benchmark can charge CPU to the server alone).
//!
//! Labels are bounded: node ids of the cluster's members, key purposes and
//! states, reasons and codes of fixed enums. Never an access key id, ARN or
//! account id.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use meridian_core::config::cluster::{KeyPurpose, KeyState};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::time::Timestamp;
use meridian_edge::state::{Clock, Freshness, MetricsRenderer, Readiness};
use meridian_grpc::node::{Node, NodeStatus, Role};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// Latency buckets (seconds): 50 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Size buckets (bytes): 1 KiB to 1 GiB.
const BYTES_BUCKETS: &[f64] = &[
    1024.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
];
/// How often gauges are sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Linux's `USER_HZ`, the unit of `/proc/self/stat` CPU times (fixed at 100
/// by the kernel ABI on every architecture we build for).
const USER_HZ: f64 = 100.0;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same
/// handle) and describes every metric.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix(String::from("_seconds")), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix(String::from("_bytes")), BYTES_BUCKETS)
                });
            let builder = match builder {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::warn!(%error, "histogram buckets rejected; summaries instead");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics renders ours only"
                );
            }
            describe();
            handle
        })
        .clone()
}

/// `/metrics` for the edge.
pub fn renderer(handle: PrometheusHandle) -> MetricsRenderer {
    Arc::new(move || handle.render())
}

/// Metric names sampled here.
pub mod names {
    /// `version`, `git_sha`; value 1.
    pub const BUILD_INFO: &str = "meridian_build_info";
    /// 1 while `/readyz` answers ready.
    pub const NODE_READY: &str = "meridian_node_ready";
    /// The current Raft term.
    pub const RAFT_TERM: &str = "meridian_raft_term";
    /// The leader's node id (0: none known).
    pub const RAFT_LEADER_ID: &str = "meridian_raft_leader_id";
    /// 1 when this node knows a leader.
    pub const RAFT_HAS_LEADER: &str = "meridian_raft_has_leader";
    /// 1 when this node leads.
    pub const RAFT_IS_LEADER: &str = "meridian_raft_is_leader";
    /// The highest committed log index this node knows.
    pub const RAFT_COMMIT_INDEX: &str = "meridian_raft_commit_index";
    /// The highest log index applied here.
    pub const RAFT_APPLIED_INDEX: &str = "meridian_raft_applied_index";
    /// The last log index here.
    pub const RAFT_LAST_LOG_INDEX: &str = "meridian_raft_last_log_index";
    /// On the leader: entries each follower lacks, by `follower` (node id).
    pub const RAFT_REPLICATION_LAG: &str = "meridian_raft_replication_lag_entries";
    /// Voters of the membership.
    pub const RAFT_VOTERS: &str = "meridian_raft_voters";
    /// Seconds since the newest confirmation that the applied configuration
    /// is current.
    pub const CONFIG_STALENESS: &str = "meridian_config_staleness_seconds";
    /// The bound beyond which issuance fails closed.
    pub const CONFIG_MAX_STALENESS: &str = "meridian_config_max_staleness_seconds";
    /// Seconds since the active key of `purpose` became active.
    pub const KEYRING_ACTIVE_AGE: &str = "meridian_keyring_active_key_age_seconds";
    /// Keys of the ring by `purpose` and `state`.
    pub const KEYRING_KEYS: &str = "meridian_keyring_keys";
    /// How often keys rotate (0: rotation off).
    pub const KEYRING_ROTATION_INTERVAL: &str = "meridian_keyring_rotation_interval_seconds";
    /// How long an active key may sign during majority loss.
    pub const KEYRING_MAX_KEY_AGE: &str = "meridian_keyring_max_key_age_seconds";
    /// CPU time of the process (user + system).
    pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
    /// Resident memory of the process.
    pub const PROCESS_RSS: &str = "process_resident_memory_bytes";
    /// Open file descriptors of the process.
    pub const PROCESS_FDS: &str = "process_open_fds";
    /// Forwarded writes sent to the leader, by `outcome` (meridian-grpc).
    pub const RAFT_FORWARDED: &str = "meridian_raft_forwarded_writes_total";
    /// Forwarded writes received as leader, by `outcome` (meridian-grpc).
    pub const RAFT_FORWARDED_RECEIVED: &str = "meridian_raft_forwarded_writes_received_total";
    /// Snapshot sizes (meridian-store).
    pub const RAFT_SNAPSHOT_BYTES: &str = "meridian_raft_snapshot_size_bytes";
    /// Snapshot build and install times, by `op` (meridian-store).
    pub const RAFT_SNAPSHOT_DURATION: &str = "meridian_raft_snapshot_duration_seconds";
}

fn describe() {
    use names::*;
    meridian_edge::telemetry::describe();
    meridian_grpc::outbound::describe();
    crate::audit::describe();
    metrics::describe_gauge!(BUILD_INFO, "Build of this node (version, git sha); value 1");
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "git_sha" => option_env!("MERIDIAN_GIT_SHA").unwrap_or("unknown")
    )
    .set(1.0);
    metrics::describe_gauge!(NODE_READY, "1 while the node is ready (/readyz)");
    metrics::describe_gauge!(RAFT_TERM, "Current Raft term");
    metrics::describe_gauge!(RAFT_LEADER_ID, "Node id of the known Raft leader (0: none)");
    metrics::describe_gauge!(RAFT_HAS_LEADER, "1 when this node knows a Raft leader");
    metrics::describe_gauge!(RAFT_IS_LEADER, "1 when this node is the Raft leader");
    metrics::describe_gauge!(
        RAFT_COMMIT_INDEX,
        "Highest committed Raft log index known here"
    );
    metrics::describe_gauge!(RAFT_APPLIED_INDEX, "Highest Raft log index applied here");
    metrics::describe_gauge!(RAFT_LAST_LOG_INDEX, "Last Raft log index here");
    metrics::describe_gauge!(
        RAFT_REPLICATION_LAG,
        "On the leader: log entries each follower lacks"
    );
    metrics::describe_gauge!(RAFT_VOTERS, "Voters in the Raft membership");
    metrics::describe_gauge!(
        CONFIG_STALENESS,
        metrics::Unit::Seconds,
        "Age of the newest confirmation that this node's configuration is current"
    );
    metrics::describe_gauge!(
        CONFIG_MAX_STALENESS,
        metrics::Unit::Seconds,
        "Configuration staleness beyond which issuance fails closed"
    );
    metrics::describe_gauge!(
        KEYRING_ACTIVE_AGE,
        metrics::Unit::Seconds,
        "Time since the active key of a purpose became active"
    );
    metrics::describe_gauge!(KEYRING_KEYS, "Keys of the ring by purpose and state");
    metrics::describe_gauge!(
        KEYRING_ROTATION_INTERVAL,
        metrics::Unit::Seconds,
        "Configured key rotation interval (0: off)"
    );
    metrics::describe_gauge!(
        KEYRING_MAX_KEY_AGE,
        metrics::Unit::Seconds,
        "Age at which an active key stops signing"
    );
    metrics::describe_gauge!(
        PROCESS_CPU,
        metrics::Unit::Seconds,
        "User and system CPU time of the process (a gauge: the facade's counters are integers)"
    );
    metrics::describe_gauge!(PROCESS_RSS, metrics::Unit::Bytes, "Resident memory");
    metrics::describe_gauge!(PROCESS_FDS, "Open file descriptors");
    metrics::describe_counter!(
        RAFT_FORWARDED,
        "Configuration writes forwarded to the leader, by outcome"
    );
    metrics::describe_counter!(
        RAFT_FORWARDED_RECEIVED,
        "Forwarded configuration writes received as leader, by outcome"
    );
    metrics::describe_histogram!(
        RAFT_SNAPSHOT_BYTES,
        metrics::Unit::Bytes,
        "Raft snapshot sizes"
    );
    metrics::describe_histogram!(
        RAFT_SNAPSHOT_DURATION,
        metrics::Unit::Seconds,
        "Raft snapshot build and install times"
    );
    for outcome in ["ok", "not_leader", "not_applied", "unknown", "error"] {
        metrics::counter!(RAFT_FORWARDED, "outcome" => outcome).absolute(0);
    }
}

/// Samples gauges once a second until stopped.
pub struct Sampler {
    /// The node.
    pub node: Arc<Node>,
    /// Issuance freshness.
    pub freshness: Freshness,
    /// Readiness.
    pub readiness: Readiness,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// `max_config_staleness`.
    pub max_staleness: Duration,
    /// The registry (upkeep of histograms).
    pub handle: PrometheusHandle,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").finish_non_exhaustive()
    }
}

impl Sampler {
    /// Runs until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let started = self.clock.now();
        let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            self.sample(started);
        }
    }

    fn sample(&self, started: Timestamp) {
        use names::*;
        let now = self.clock.now();
        raft(&self.node.status());
        let snapshot = self.node.snapshot().borrow().clone();
        keyring(&snapshot, now);
        let confirmed = self.freshness.confirmed_at().unwrap_or(started);
        metrics::gauge!(CONFIG_STALENESS).set(millis_between(confirmed, now) / 1000.0);
        metrics::gauge!(CONFIG_MAX_STALENESS).set(self.max_staleness.as_secs_f64());
        metrics::gauge!(NODE_READY).set(if self.readiness.is_ready() { 1.0 } else { 0.0 });
        process();
        self.handle.run_upkeep();
    }
}

fn millis_between(from: Timestamp, to: Timestamp) -> f64 {
    to.millis_since(from).max(0) as f64
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

fn raft(status: &NodeStatus) {
    use names::*;
    metrics::gauge!(RAFT_TERM).set(status.term as f64);
    metrics::gauge!(RAFT_LEADER_ID).set(status.leader.unwrap_or(0) as f64);
    metrics::gauge!(RAFT_HAS_LEADER).set(flag(status.leader.is_some()));
    metrics::gauge!(RAFT_IS_LEADER).set(flag(status.role == Role::Leader));
    metrics::gauge!(RAFT_COMMIT_INDEX).set(status.committed_index.unwrap_or(0) as f64);
    metrics::gauge!(RAFT_APPLIED_INDEX).set(status.applied_index.unwrap_or(0) as f64);
    metrics::gauge!(RAFT_LAST_LOG_INDEX).set(status.last_log_index.unwrap_or(0) as f64);
    metrics::gauge!(RAFT_VOTERS).set(status.voters.len() as f64);
    for (follower, replication) in status
        .replication
        .iter()
        .filter(|(id, _)| **id != status.id)
    {
        metrics::gauge!(RAFT_REPLICATION_LAG, "follower" => follower.to_string())
            .set(replication.lag as f64);
    }
}

/// `SessionToken` → `session_token`: a label from a variant name (bounded
/// by the enum, and new variants need no change here).
fn snake_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                label.push('_');
            }
            label.push(c.to_ascii_lowercase());
        } else {
            label.push(c);
        }
    }
    label
}

const STATES: [KeyState; 4] = [
    KeyState::Pending,
    KeyState::Active,
    KeyState::VerifyOnly,
    KeyState::Destroyed,
];

fn keyring(snapshot: &ConfigSnapshot, now: Timestamp) {
    use names::*;
    let ring = snapshot.key_ring();
    let purposes: std::collections::BTreeSet<KeyPurpose> =
        ring.keys.values().map(|record| record.purpose).collect();
    for purpose in purposes {
        let label = snake_label(&format!("{purpose:?}"));
        for state in STATES {
            let count = ring
                .keys
                .values()
                .filter(|r| r.purpose == purpose && r.state == state)
                .count();
            metrics::gauge!(
                KEYRING_KEYS,
                "purpose" => label.clone(),
                "state" => snake_label(&format!("{state:?}"))
            )
            .set(count as f64);
        }
        if let Some(active) = ring.active(purpose) {
            let since = active.activated_at.unwrap_or(active.created_at);
            metrics::gauge!(KEYRING_ACTIVE_AGE, "purpose" => label)
                .set(millis_between(since, now) / 1000.0);
        }
    }
    let rotation = &ring.rotation;
    metrics::gauge!(KEYRING_ROTATION_INTERVAL)
        .set(rotation.rotate_after_ms.unwrap_or(0) as f64 / 1000.0);
    metrics::gauge!(KEYRING_MAX_KEY_AGE).set(rotation.max_key_age_ms as f64 / 1000.0);
}

/// CPU, memory and descriptors from `/proc/self` (Linux); silently nothing
/// elsewhere.
fn process() {
    use names::*;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            let seconds = (user + system) as f64 / USER_HZ;
            metrics::gauge!(PROCESS_CPU).set(seconds);
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kib) = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    {
        metrics::gauge!(PROCESS_RSS).set((kib * 1024) as f64);
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(PROCESS_FDS).set(entries.count() as f64);
    }
}
