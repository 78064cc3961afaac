//! The node configuration: a TOML file plus `MERIDIAN_*` overrides, validated
//! into a [`Config`] before any socket is bound or any file is opened.
//!
//! Two stages, as in quickwit's node config: [`raw::RawConfig`] is the file
//! as written (unknown keys refused, `version = 1` required), and
//! [`Config::build`] turns it, after [`mod@env`] overrides, into rich types
//! (`SocketAddr`, `Duration`, a validated region and partition, a
//! [`ClusterMode`]) or reports every problem at once
//! ([`error::ConfigError`], which the binary maps to exit code 64).
//!
//! The file holds node bootstrap settings only: identity, addresses, data
//! dir, peers, timings, limits, and where the key-encryption key is. Keys,
//! policies, trust and the region map live in the replicated store.
//!
//! An example, as `meridian dev` writes it:
//!
//! ```toml
//! version = 1
//! node_id = 1
//! region = "us-east-1"
//! partition = "aws"
//! data_dir = "/home/me/meridian-dev/node-1"
//!
//! [http]
//! listen = "127.0.0.1:7101"
//!
//! [grpc]
//! listen = "127.0.0.1:7201"
//!
//! [cluster.bootstrap]
//! admin_file = "/home/me/meridian-dev/node-1/bootstrap-admin.json"
//!
//! [[cluster.bootstrap.members]]
//! id = 1
//! region = "us-east-1"
//! grpc = "http://127.0.0.1:7201"
//! http = "http://127.0.0.1:7101"
//!
//! [kek]
//! file = "/home/me/meridian-dev/node-1/kek"
//! ```
//!
//! Relative paths are resolved against the directory of the config file.
//!
//! # Raft timings
//!
//! The defaults are the node handle's loopback timings (heartbeat 100 ms,
//! election timeout 500–1000 ms, write timeout 3 s): loopback and a LAN,
//! with room for a busy 2-core machine.
//! Between regions, where a round trip is 50–250 ms, use a heartbeat of at
//! least the largest round trip (e.g. 300 ms) and an election timeout of about
//! 5–10 heartbeats (1500–3000 ms); the write timeout should exceed the
//! election timeout maximum plus a round trip, so a write survives one leader
//! change (e.g. 5000 ms).

pub mod env;
pub mod error;
pub mod federation;
pub mod raw;
pub mod saml;

#[cfg(test)]
mod config_test;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meridian_core::arn::Partition;
use meridian_core::config::limits::check_region_name;
use meridian_edge::query::QueryLimits;
use meridian_edge::rate_limit::RateLimit;
use meridian_edge::server::ServeConfig;
use meridian_edge::state::EdgeLimits;

use crate::config::env::{Env, apply_overrides};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawConfig, RawMember};

/// The only format version this build reads.
pub const CONFIG_VERSION: i64 = 1;

/// Default `max_config_staleness` (RELIABILITY.md, "Decisions already taken").
pub const DEFAULT_MAX_CONFIG_STALENESS: Duration = Duration::from_secs(3600);
/// Default shutdown grace period.
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(20);

/// A validated node configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub node_id: u64,
    /// This node's region.
    pub region: String,
    /// The partition ARNs are minted in.
    pub partition: Partition,
    /// The node's data directory (absolute).
    pub data_dir: PathBuf,
    /// The HTTP edge's addresses.
    pub http: Endpoint,
    /// The gRPC listener's addresses.
    pub grpc: Endpoint,
    /// How the node enters its cluster.
    pub cluster: ClusterMode,
    /// Raft timings.
    pub raft: RaftTimings,
    /// Where the key-encryption key comes from.
    pub kek: KekSource,
    /// How stale the applied configuration may get before issuance fails
    /// closed in a region cut off from the quorum.
    pub max_config_staleness: Duration,
    /// Upper bound on a graceful shutdown.
    pub shutdown_grace_period: Duration,
    /// Limits of the edge's request handling.
    pub edge_limits: EdgeLimits,
    /// Limits of the edge's connection handling.
    pub serve: ServeConfig,
    /// Web-identity federation (`[federation]`).
    pub federation: federation::FederationConfig,
    /// SAML federation (`[saml]`).
    pub saml: saml::SamlConfig,
    /// The audit trail.
    pub audit: crate::audit::AuditConfig,
    /// Log lines as JSON rather than text (`[log] format = "json"`).
    pub log_json: bool,
}

/// A listener: where to bind and the URL others use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address to bind.
    pub listen: SocketAddr,
    /// `http://host:port` as others reach it.
    pub advertise: String,
}

/// How a node enters its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMode {
    /// Part of a new cluster's initial voters. A node whose log is empty
    /// initialises the cluster with these members; one that has data ignores
    /// this and restarts from disk.
    Bootstrap {
        /// The initial voters (this node included), by id.
        members: Vec<InitialMember>,
        /// The administrator bootstrap file, on one member only.
        admin_file: Option<PathBuf>,
    },
    /// Joins an existing cluster as a learner through one of the seeds.
    Join {
        /// gRPC URLs of existing members.
        seeds: Vec<String>,
    },
}

/// One initial voter of a new cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    /// Its id.
    pub id: u64,
    /// Its region.
    pub region: String,
    /// Its advertised gRPC URL.
    pub grpc: String,
    /// Its advertised HTTP URL, when known.
    pub http: Option<String>,
}

/// Raft timings (see the module docs for WAN values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTimings {
    /// Leader heartbeat interval.
    pub heartbeat: Duration,
    /// Election timeout lower bound.
    pub election_timeout_min: Duration,
    /// Election timeout upper bound.
    pub election_timeout_max: Duration,
    /// How long a write may wait for a quorum before failing retryably.
    pub write_timeout: Duration,
}

impl RaftTimings {
    /// Loopback and LAN defaults: those of the node handle
    /// (`meridian_grpc::timings::RaftTimings::loopback`).
    pub fn loopback() -> RaftTimings {
        let node = meridian_grpc::timings::RaftTimings::loopback();
        RaftTimings {
            heartbeat: node.heartbeat,
            election_timeout_min: node.election_timeout_min,
            election_timeout_max: node.election_timeout_max,
            write_timeout: node.write_timeout,
        }
    }
}

/// Where the key-encryption key is read from (never the config file itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// A file of 64 hex digits, not readable by group or others.
    File(PathBuf),
    /// An environment variable of 64 hex digits, by name.
    Env(String),
}

impl Config {
    /// Reads `path`, applies `env` and validates.
    pub fn load(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|error| ConfigError::Syntax {
            path: path.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let base_dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_owned());
        Config::build(raw, &base_dir, env)
    }

    /// Validates a raw configuration after applying `env`; relative paths are
    /// resolved against `base_dir`.
    pub fn build(mut raw: RawConfig, base_dir: &Path, env: &Env) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let overridden = apply_overrides(&mut raw, env, &mut problems);
        let mut check = Checker {
            problems,
            base_dir,
            overridden,
        };
        let config = check.config(&raw);
        match config {
            Some(config) if check.problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid {
                problems: check.problems,
            }),
        }
    }
}

/// Collects problems while validating; each check returns `None` (and
/// records why) when its value is unusable.
struct Checker<'a> {
    problems: Vec<Problem>,
    base_dir: &'a Path,
    /// TOML key → the variable that overrode it.
    overridden: BTreeMap<&'static str, &'static str>,
}

impl Checker<'_> {
    fn fail<T>(&mut self, key: &str, reason: impl Into<String>) -> Option<T> {
        let key = match self.overridden.get(key) {
            Some(var) => (*var).to_owned(),
            None => key.to_owned(),
        };
        self.problems.push(Problem::new(key, reason));
        None
    }

    fn config(&mut self, raw: &RawConfig) -> Option<Config> {
        match raw.version {
            Some(CONFIG_VERSION) => {}
            Some(other) => {
                self.fail::<()>(
                    "version",
                    format!(
                        "unsupported version {other}, this build reads version {CONFIG_VERSION}"
                    ),
                );
            }
            None => {
                self.fail::<()>(
                    "version",
                    format!("missing; set version = {CONFIG_VERSION}"),
                );
            }
        }
        let node_id = self.node_id("node_id", raw.node_id);
        let region = self.region("region", raw.region.as_deref());
        let partition = self.partition(raw.partition.as_deref());
        let data_dir = self.required_path("data_dir", raw.data_dir.as_deref());
        let http = self.endpoint(
            "http",
            raw.http.listen.as_deref(),
            raw.http.advertise.as_deref(),
        );
        let grpc = self.endpoint(
            "grpc",
            raw.grpc.listen.as_deref(),
            raw.grpc.advertise.as_deref(),
        );
        if let (Some(http), Some(grpc)) = (&http, &grpc)
            && http.listen == grpc.listen
            && http.listen.port() != 0
        {
            self.fail::<()>("grpc.listen", "must differ from http.listen");
        }
        let raft = self.raft(raw);
        let kek = self.kek(raw);
        let max_config_staleness = self.seconds(
            "max_config_staleness_secs",
            raw.max_config_staleness_secs,
            DEFAULT_MAX_CONFIG_STALENESS,
            1..=30 * 24 * 3600,
        );
        let shutdown_grace_period = self.seconds(
            "shutdown_grace_period_secs",
            raw.shutdown_grace_period_secs,
            DEFAULT_SHUTDOWN_GRACE_PERIOD,
            1..=600,
        );
        let (edge_limits, serve) = self.limits(raw, shutdown_grace_period);
        let cluster = self.cluster(raw, node_id, region.as_deref(), grpc.as_ref());
        let federation = self.federation(&raw.federation);
        let saml = self.saml(&raw.saml);
        let audit = self.audit(raw, data_dir.as_deref());
        let log_json = self.log_json(raw);
        Some(Config {
            node_id: node_id?,
            region: region?,
            partition: partition?,
            data_dir: data_dir?,
            http: http?,
            grpc: grpc?,
            cluster: cluster?,
            raft: raft?,
            kek: kek?,
            max_config_staleness: max_config_staleness?,
            shutdown_grace_period: shutdown_grace_period?,
            edge_limits: edge_limits?,
            serve: serve?,
            federation: federation?,
            saml: saml?,
            audit: audit?,
            log_json: log_json?,
        })
    }

    fn audit(
        &mut self,
        raw: &RawConfig,
        data_dir: Option<&Path>,
    ) -> Option<crate::audit::AuditConfig> {
        let dir = match (&raw.audit.dir, data_dir) {
            (Some(dir), _) if dir.as_os_str().is_empty() => {
                self.fail("audit.dir", "must not be empty")
            }
            (Some(dir), _) => Some(self.path(dir)),
            (None, Some(data_dir)) => Some(data_dir.join("audit")),
            (None, None) => None,
        };
        let defaults = crate::audit::AuditConfig::new(PathBuf::new());
        let max_file_bytes = match raw.audit.max_file_bytes {
            None => Some(defaults.max_file_bytes),
            Some(n) if (4096..=1 << 40).contains(&n) => Some(n),
            Some(n) => self.fail(
                "audit.max_file_bytes",
                format!("{n} is out of range (4096 to 2^40)"),
            ),
        };
        let buffer_requests = self.count(
            "audit.buffer_requests",
            raw.audit.buffer_requests,
            defaults.buffer_requests,
            1..=1_000_000,
        );
        let max_wait = self.millis(
            "audit.max_wait_ms",
            raw.audit.max_wait_ms,
            defaults.max_wait,
            10..=60_000,
        );
        Some(crate::audit::AuditConfig {
            dir: dir?,
            max_file_bytes: max_file_bytes?,
            buffer_requests: buffer_requests?,
            max_wait: max_wait?,
        })
    }

    fn log_json(&mut self, raw: &RawConfig) -> Option<bool> {
        match raw.log.format.as_deref() {
            None | Some("text") => Some(false),
            Some("json") => Some(true),
            Some(other) => self.fail("log.format", format!("{other:?} is not text or json")),
        }
    }

    fn node_id(&mut self, key: &str, value: Option<u64>) -> Option<u64> {
        match value {
            None => self.fail(key, "missing"),
            // Zero is openraft's "no node" in several places; never an id.
            Some(0) => self.fail(key, "must be at least 1"),
            Some(id) => Some(id),
        }
    }

    fn region(&mut self, key: &str, value: Option<&str>) -> Option<String> {
        let Some(region) = value else {
            return self.fail(key, "missing");
        };
        match check_region_name(region) {
            Ok(()) => Some(region.to_owned()),
            Err(_) => self.fail(
                key,
                format!("{region:?} is not a region name (1 to 64 characters of a-z, 0-9 and -)"),
            ),
        }
    }

    fn partition(&mut self, value: Option<&str>) -> Option<Partition> {
        let Some(name) = value else {
            return Some(Partition::aws());
        };
        match Partition::new(name) {
            Ok(partition) => Some(partition),
            Err(_) => self.fail(
                "partition",
                format!("{name:?} is not a partition name (like aws, aws-cn, aws-us-gov)"),
            ),
        }
    }

    fn path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }

    fn required_path(&mut self, key: &str, value: Option<&Path>) -> Option<PathBuf> {
        match value {
            None => self.fail(key, "missing"),
            Some(path) if path.as_os_str().is_empty() => self.fail(key, "must not be empty"),
            Some(path) => Some(self.path(path)),
        }
    }

    fn endpoint(
        &mut self,
        table: &str,
        listen: Option<&str>,
        advertise: Option<&str>,
    ) -> Option<Endpoint> {
        let listen_key = format!("{table}.listen");
        let advertise_key = format!("{table}.advertise");
        let Some(listen) = listen else {
            return self.fail(&listen_key, "missing");
        };
        let Ok(listen) = listen.parse::<SocketAddr>() else {
            return self.fail(
                &listen_key,
                format!("{listen:?} is not a socket address (like 127.0.0.1:7101 or [::1]:7101)"),
            );
        };
        let advertise = match advertise {
            Some(url) => self.url(&advertise_key, url)?,
            None if listen.ip().is_unspecified() || listen.port() == 0 => {
                return self.fail(
                    &advertise_key,
                    format!(
                        "required when {listen_key} is {listen} (others cannot reach that address)"
                    ),
                );
            }
            None => format!("http://{listen}"),
        };
        Some(Endpoint { listen, advertise })
    }

    /// Checks `http(s)://host:port` with nothing after the authority.
    fn url(&mut self, key: &str, value: &str) -> Option<String> {
        let reason = match value.parse::<http::Uri>() {
            Err(_) => "is not a URL",
            Ok(uri) => match (uri.scheme_str(), uri.authority()) {
                (Some("http" | "https"), Some(authority))
                    if authority.port_u16().is_some_and(|port| port != 0)
                        && !authority.host().is_empty()
                        && !authority.as_str().contains('@')
                        && matches!(uri.path(), "" | "/")
                        && uri.query().is_none() =>
                {
                    return Some(value.trim_end_matches('/').to_owned());
                }
                (Some("http" | "https"), _) => {
                    "must be scheme://host:port with a non-zero port and nothing after it"
                }
                _ => "must start with http:// or https://",
            },
        };
        self.fail(key, format!("{value:?} {reason}"))
    }

    fn raft(&mut self, raw: &RawConfig) -> Option<RaftTimings> {
        let defaults = RaftTimings::loopback();
        let heartbeat = self.millis(
            "raft.heartbeat_ms",
            raw.raft.heartbeat_ms,
            defaults.heartbeat,
            10..=60_000,
        );
        let min = self.millis(
            "raft.election_timeout_min_ms",
            raw.raft.election_timeout_min_ms,
            defaults.election_timeout_min,
            20..=600_000,
        );
        let max = self.millis(
            "raft.election_timeout_max_ms",
            raw.raft.election_timeout_max_ms,
            defaults.election_timeout_max,
            20..=600_000,
        );
        let write = self.millis(
            "raft.write_timeout_ms",
            raw.raft.write_timeout_ms,
            defaults.write_timeout,
            100..=600_000,
        );
        let (heartbeat, min, max, write) = (heartbeat?, min?, max?, write?);
        if heartbeat >= min {
            return self.fail(
                "raft.heartbeat_ms",
                "must be less than raft.election_timeout_min_ms (followers would call elections between heartbeats)",
            );
        }
        if min >= max {
            return self.fail(
                "raft.election_timeout_max_ms",
                "must be greater than raft.election_timeout_min_ms (the timeout is randomised between them)",
            );
        }
        Some(RaftTimings {
            heartbeat,
            election_timeout_min: min,
            election_timeout_max: max,
            write_timeout: write,
        })
    }

    fn kek(&mut self, raw: &RawConfig) -> Option<KekSource> {
        match (&raw.kek.file, &raw.kek.env) {
            (Some(_), Some(_)) => self.fail("kek", "set exactly one of kek.file and kek.env"),
            (None, None) => self.fail(
                "kek",
                "missing; set kek.file (a 0600 file of 64 hex digits) or kek.env (a variable name)",
            ),
            (Some(file), None) if file.as_os_str().is_empty() => {
                self.fail("kek.file", "must not be empty")
            }
            (Some(file), None) => Some(KekSource::File(self.path(file))),
            (None, Some(name)) => {
                let valid = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if valid {
                    Some(KekSource::Env(name.clone()))
                } else {
                    self.fail(
                        "kek.env",
                        format!("{name:?} is not an environment variable name (A-Z, 0-9, _), and the key itself never goes in the config file"),
                    )
                }
            }
        }
    }

    fn limits(
        &mut self,
        raw: &RawConfig,
        grace: Option<Duration>,
    ) -> (Option<EdgeLimits>, Option<ServeConfig>) {
        let edge = EdgeLimits::RECOMMENDED;
        let serve = ServeConfig::RECOMMENDED;
        let l = &raw.limits;
        let body = self.count(
            "limits.max_body_bytes",
            l.max_body_bytes,
            edge.max_body_bytes,
            1024..=16 * 1024 * 1024,
        );
        let concurrent = self.count(
            "limits.max_concurrent_requests",
            l.max_concurrent_requests,
            edge.max_concurrent_requests,
            1..=1_000_000,
        );
        let connections = self.count(
            "limits.max_connections",
            l.max_connections,
            serve.max_connections,
            1..=1_000_000,
        );
        let rate = self.count(
            "limits.requests_per_second_per_key",
            l.requests_per_second_per_key.map(u64::from),
            edge.per_key_rate.per_second as usize,
            1..=1_000_000,
        );
        let burst = self.count(
            "limits.burst_per_key",
            l.burst_per_key.map(u64::from),
            edge.per_key_rate.burst as usize,
            1..=10_000_000,
        );
        let request_timeout = self.millis(
            "limits.request_timeout_ms",
            l.request_timeout_ms,
            edge.request_timeout,
            100..=300_000,
        );
        let header_timeout = self.millis(
            "limits.header_read_timeout_ms",
            l.header_read_timeout_ms,
            serve.header_read_timeout,
            100..=120_000,
        );
        let body_timeout = self.millis(
            "limits.body_read_timeout_ms",
            l.body_read_timeout_ms,
            edge.body_read_timeout,
            100..=300_000,
        );
        let edge_limits = (|| {
            Some(EdgeLimits {
                max_body_bytes: body?,
                query: QueryLimits::RECOMMENDED,
                body_read_timeout: body_timeout?,
                request_timeout: request_timeout?,
                max_concurrent_requests: concurrent?,
                per_key_rate: RateLimit {
                    per_second: u32::try_from(rate?).ok()?,
                    burst: u32::try_from(burst?).ok()?,
                    max_keys: edge.per_key_rate.max_keys,
                },
                ..edge
            })
        })();
        let serve = (|| {
            // Draining HTTP gets half the grace period: gRPC, Raft and the
            // flush still need their turn after it.
            let drain = grace? / 2;
            Some(ServeConfig {
                header_read_timeout: header_timeout?,
                max_connections: connections?,
                drain_timeout: drain.min(serve.drain_timeout),
            })
        })();
        (edge_limits, serve)
    }

    fn cluster(
        &mut self,
        raw: &RawConfig,
        node_id: Option<u64>,
        region: Option<&str>,
        grpc: Option<&Endpoint>,
    ) -> Option<ClusterMode> {
        match (&raw.cluster.bootstrap, &raw.cluster.join) {
            (Some(_), Some(_)) => self.fail(
                "cluster",
                "set exactly one of [cluster.bootstrap] and [cluster.join]",
            ),
            (None, None) => self.fail(
                "cluster",
                "missing; set [cluster.bootstrap] (a new cluster) or [cluster.join] (an existing one)",
            ),
            (None, Some(join)) => {
                if join.seeds.is_empty() {
                    return self.fail("cluster.join.seeds", "must name at least one member");
                }
                let mut seeds = Vec::new();
                for (i, seed) in join.seeds.iter().enumerate() {
                    seeds.push(self.url(&format!("cluster.join.seeds[{i}]"), seed));
                }
                seeds
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(|seeds| ClusterMode::Join { seeds })
            }
            (Some(bootstrap), None) => {
                if bootstrap.members.is_empty() {
                    return self.fail(
                        "cluster.bootstrap.members",
                        "must list the initial members, this node among them",
                    );
                }
                let mut members = Vec::new();
                for (i, member) in bootstrap.members.iter().enumerate() {
                    members.push(self.member(i, member));
                }
                let members = members.into_iter().collect::<Option<Vec<_>>>()?;
                let mut ids = BTreeSet::new();
                let mut addresses = BTreeSet::new();
                for member in &members {
                    if !ids.insert(member.id) {
                        self.fail::<()>(
                            "cluster.bootstrap.members",
                            format!("node id {} is listed twice", member.id),
                        );
                    }
                    if !addresses.insert(member.grpc.clone()) {
                        self.fail::<()>(
                            "cluster.bootstrap.members",
                            format!("gRPC address {} is listed twice", member.grpc),
                        );
                    }
                }
                if let (Some(node_id), Some(region), Some(grpc)) = (node_id, region, grpc) {
                    match members.iter().find(|m| m.id == node_id) {
                        None => {
                            self.fail::<()>(
                                "cluster.bootstrap.members",
                                format!("this node (id {node_id}) must be one of the members"),
                            );
                        }
                        Some(me) if me.region != region => {
                            self.fail::<()>(
                                "cluster.bootstrap.members",
                                format!(
                                    "member {node_id} is in region {} but this node's region is {region}",
                                    me.region
                                ),
                            );
                        }
                        Some(me) if me.grpc != grpc.advertise => {
                            self.fail::<()>(
                                "cluster.bootstrap.members",
                                format!(
                                    "member {node_id} has gRPC address {} but grpc.advertise is {}",
                                    me.grpc, grpc.advertise
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
                let admin_file = match &bootstrap.admin_file {
                    Some(path) if path.as_os_str().is_empty() => {
                        return self.fail("cluster.bootstrap.admin_file", "must not be empty");
                    }
                    Some(path) => Some(self.path(path)),
                    None => None,
                };
                Some(ClusterMode::Bootstrap {
                    members,
                    admin_file,
                })
            }
        }
    }

    fn member(&mut self, index: usize, raw: &RawMember) -> Option<InitialMember> {
        let key = format!("cluster.bootstrap.members[{index}]");
        let id = self.node_id(&format!("{key}.id"), raw.id);
        let region = self.region(&format!("{key}.region"), raw.region.as_deref());
        let grpc = match &raw.grpc {
            Some(url) => self.url(&format!("{key}.grpc"), url),
            None => self.fail(&format!("{key}.grpc"), "missing"),
        };
        let http = match &raw.http {
            Some(url) => Some(self.url(&format!("{key}.http"), url)?),
            None => None,
        };
        Some(InitialMember {
            id: id?,
            region: region?,
            grpc: grpc?,
            http,
        })
    }

    fn millis(
        &mut self,
        key: &str,
        value: Option<u64>,
        default: Duration,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<Duration> {
        match value {
            None => Some(default),
            Some(ms) if range.contains(&ms) => Some(Duration::from_millis(ms)),
            Some(ms) => self.fail(
                key,
                format!(
                    "{ms} is out of range ({} to {} ms)",
                    range.start(),
                    range.end()
                ),
            ),
        }
    }

    fn seconds(
        &mut self,
        key: &str,
        value: Option<u64>,
        default: Duration,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<Duration> {
        match value {
            None => Some(default),
            Some(s) if range.contains(&s) => Some(Duration::from_secs(s)),
            Some(s) => self.fail(
                key,
                format!(
                    "{s} is out of range ({} to {} s)",
                    range.start(),
                    range.end()
                ),
            ),
        }
    }

    fn count(
        &mut self,
        key: &str,
        value: Option<u64>,
        default: usize,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<usize> {
        match value {
            None => Some(default),
            Some(n) if range.contains(&n) => usize::try_from(n).ok(),
            Some(n) => self.fail(
                key,
                format!("{n} is out of range ({} to {})", range.start(), range.end()),
            ),
        }
    }
}
