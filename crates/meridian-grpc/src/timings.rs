//! Raft timings and transport limits of a node.
//!
//! Defaults ([`RaftTimings::loopback`]) suit nodes on one host or one LAN
//! (round trips well under a millisecond). Inter-region links need longer
//! timeouts ([`RaftTimings::wan`]): an election timeout must exceed several
//! heartbeats plus a round trip, or followers start elections whenever a
//! heartbeat is a little late. openraft's CheckQuorum lease equals the maximum
//! election timeout: a leader cut off from its quorum stops accepting writes
//! after that long, so `write_timeout` should not be much shorter.
//!
//! | setting | loopback | WAN (RTT ≤ 200 ms) |
//! |---|---|---|
//! | heartbeat | 100 ms | 300 ms |
//! | election timeout | 500–1000 ms | 1500–3000 ms |
//! | RPC timeout | 1 s | 2 s |
//! | write timeout (no-quorum bound) | 3 s | 3 s |
//! | snapshot transfer timeout | 60 s | 120 s |

use std::time::Duration;

/// Timings and limits of the Raft transport and the write path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftTimings {
    /// Interval between leader heartbeats.
    pub heartbeat: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout (and the leader lease).
    pub election_timeout_max: Duration,
    /// Deadline of one Raft RPC (vote, append, transfer) and of connecting.
    pub rpc_timeout: Duration,
    /// Deadline of one snapshot transfer.
    pub snapshot_timeout: Duration,
    /// The longest a configuration write may take before it fails with
    /// "no quorum" (RELIABILITY.md: at most 3 s by default).
    pub write_timeout: Duration,
    /// Build a snapshot after this many applied entries.
    pub snapshot_every: u64,
    /// Log entries kept below the latest snapshot (a follower further behind
    /// catches up by snapshot).
    pub keep_logs_after_snapshot: u64,
}

/// Largest gRPC message a peer sends or accepts (32 MiB): a log entry can
/// carry a SAML metadata document of up to 10 million characters.
pub const MAX_MESSAGE_BYTES: usize = 32 << 20;
/// Size of one snapshot chunk on the wire.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

impl RaftTimings {
    /// For nodes on one host or LAN.
    pub fn loopback() -> RaftTimings {
        RaftTimings {
            heartbeat: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1000),
            rpc_timeout: Duration::from_secs(1),
            snapshot_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(3),
            snapshot_every: 5000,
            keep_logs_after_snapshot: 1000,
        }
    }

    /// For voters in different regions (round trips up to ~200 ms).
    pub fn wan() -> RaftTimings {
        RaftTimings {
            heartbeat: Duration::from_millis(300),
            election_timeout_min: Duration::from_millis(1500),
            election_timeout_max: Duration::from_millis(3000),
            rpc_timeout: Duration::from_secs(2),
            snapshot_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(3),
            snapshot_every: 5000,
            keep_logs_after_snapshot: 1000,
        }
    }

    /// The openraft configuration these timings describe.
    pub fn raft_config(
        &self,
        cluster_name: &str,
    ) -> Result<openraft::Config, openraft::ConfigError> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        openraft::Config {
            cluster_name: cluster_name.to_owned(),
            heartbeat_interval: millis(self.heartbeat),
            election_timeout_min: millis(self.election_timeout_min),
            election_timeout_max: millis(self.election_timeout_max),
            install_snapshot_timeout: millis(self.snapshot_timeout),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_logs_after_snapshot,
            // Pre-vote keeps a healed minority from disrupting the majority
            // with higher terms (RELIABILITY.md, F2).
            enable_pre_vote: Some(true),
            ..openraft::Config::default()
        }
        .validate()
    }
}
