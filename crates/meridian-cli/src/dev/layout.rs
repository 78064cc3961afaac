//! What `meridian dev` puts where: the plan of a local cluster (node ids,
//! regions, ports, paths) and the files it writes, as pure functions so that
//! tests can check every output by parsing it.
//!
//! ```text
//! <data dir>/
//!   cluster.json        the contract's shape, with pids and absolute paths
//!   env.sh              six `export` lines for the aws CLI and SDKs
//!   node-N.toml         one node's config (`meridian serve --config node-N.toml`)
//!   node-N/             its data: store/ (RocksDB), kek (0600),
//!                       bootstrap-admin.json (node 1, 0600, deleted once applied)
//!   node-N.log          its stdout and stderr
//! ```
//!
//! Ports: node N (numbered 1, 2, … region by region) serves HTTP on
//! `base + N` and gRPC on `base + 100 + N`, so the default base 7100 gives
//! 7101, 7102, … and 7201, 7202, …; at most 99 nodes keeps the two ranges
//! apart. Two clusters on one machine need base ports at least 200 apart.
//! Every port is checked free before a node starts, and the error names the
//! port and suggests `--base-port`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use meridian_server::config::Config;
use meridian_server::config::raw::{
    RawBootstrap, RawCluster, RawConfig, RawGrpc, RawHttp, RawKek, RawMember,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Default regions, one node each.
pub const DEFAULT_REGIONS: &str = "us-east-1,eu-west-1,ap-southeast-2";
/// Default base port (HTTP 7101…, gRPC 7201…).
pub const DEFAULT_BASE_PORT: u16 = 7100;
/// Most nodes a dev cluster may have (keeps HTTP and gRPC ranges apart).
pub const MAX_NODES: usize = 99;
/// The partition of a dev cluster.
pub const PARTITION: &str = "aws";
/// File names inside the data dir.
pub const CLUSTER_FILE: &str = "cluster.json";
/// The shell file to source.
pub const ENV_FILE: &str = "env.sh";
/// The KEK file inside each node's data dir.
pub const KEK_FILE: &str = "kek";
/// The administrator bootstrap file inside node 1's data dir.
pub const ADMIN_FILE: &str = "bootstrap-admin.json";

/// One node of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// Node id (1-based).
    pub id: u64,
    /// Its region.
    pub region: String,
    /// HTTP listen address.
    pub http: SocketAddr,
    /// gRPC listen address.
    pub grpc: SocketAddr,
    /// Its config file.
    pub config: PathBuf,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Its log file.
    pub log: PathBuf,
}

impl NodePlan {
    /// `http://127.0.0.1:7101`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// `http://127.0.0.1:7201`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }
}

/// A whole dev cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPlan {
    /// The data dir (absolute).
    pub root: PathBuf,
    /// Nodes in id order.
    pub nodes: Vec<NodePlan>,
}

impl ClusterPlan {
    /// Regions in the order their first node appears, with their nodes.
    pub fn regions(&self) -> Vec<(String, Vec<&NodePlan>)> {
        let mut regions: Vec<(String, Vec<&NodePlan>)> = Vec::new();
        for node in &self.nodes {
            match regions.iter_mut().find(|(name, _)| *name == node.region) {
                Some((_, nodes)) => nodes.push(node),
                None => regions.push((node.region.clone(), vec![node])),
            }
        }
        regions
    }

    /// The node clients of `env.sh` talk to: the first region's first node.
    pub fn first(&self) -> anyhow::Result<&NodePlan> {
        self.nodes.first().context("the cluster has no node")
    }
}

/// Plans a new cluster in `root` (absolute).
pub fn plan_new(
    root: &Path,
    regions: &[String],
    nodes_per_region: usize,
    base_port: u16,
) -> anyhow::Result<ClusterPlan> {
    if regions.is_empty() {
        bail!("--regions must name at least one region");
    }
    for (i, region) in regions.iter().enumerate() {
        meridian_core::config::limits::check_region_name(region)
            .map_err(|_| anyhow::anyhow!("{region:?} is not a region name (a-z, 0-9 and -)"))?;
        if regions[..i].contains(region) {
            bail!("region {region} is listed twice in --regions");
        }
    }
    if nodes_per_region == 0 {
        bail!("--nodes-per-region must be at least 1");
    }
    let count = regions.len().saturating_mul(nodes_per_region);
    if count > MAX_NODES {
        bail!("a dev cluster has at most {MAX_NODES} nodes, {count} were asked for");
    }
    if u32::from(base_port) + 100 + count as u32 > u32::from(u16::MAX) || base_port < 1024 {
        bail!(
            "--base-port {base_port} leaves no room for {count} nodes (ports base+1.. and base+101..; use 1024 to {})",
            u16::MAX as usize - 100 - count
        );
    }
    let mut nodes = Vec::with_capacity(count);
    for region in regions {
        for _ in 0..nodes_per_region {
            let index = nodes.len() as u16 + 1;
            let id = u64::from(index);
            nodes.push(NodePlan {
                id,
                region: region.clone(),
                http: SocketAddr::from((Ipv4Addr::LOCALHOST, base_port + index)),
                grpc: SocketAddr::from((Ipv4Addr::LOCALHOST, base_port + 100 + index)),
                config: root.join(format!("node-{id}.toml")),
                data_dir: root.join(format!("node-{id}")),
                log: root.join(format!("node-{id}.log")),
            });
        }
    }
    Ok(ClusterPlan {
        root: root.to_owned(),
        nodes,
    })
}

/// The configs of an existing dev cluster in `root`, in id order.
pub fn existing_configs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut configs: Vec<(u64, PathBuf)> = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", root.display())),
    };
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = name
            .strip_prefix("node-")
            .and_then(|rest| rest.strip_suffix(".toml"))
            .and_then(|id| id.parse::<u64>().ok())
        {
            configs.push((id, root.join(name)));
        }
    }
    configs.sort();
    Ok(configs.into_iter().map(|(_, path)| path).collect())
}

/// Rebuilds the plan of an existing cluster from its node configs (the
/// configs are the truth: ports and regions come from them, not from flags).
pub fn plan_from_configs(root: &Path, configs: &[PathBuf]) -> anyhow::Result<ClusterPlan> {
    let env = meridian_server::config::env::Env::new();
    let mut nodes = Vec::new();
    for path in configs {
        let config = Config::load(path, &env)
            .with_context(|| format!("failed to load {}", path.display()))?;
        nodes.push(NodePlan {
            id: config.node_id,
            region: config.region.clone(),
            http: config.http.listen,
            grpc: config.grpc.listen,
            config: path.clone(),
            data_dir: config.data_dir.clone(),
            log: root.join(format!("node-{}.log", config.node_id)),
        });
    }
    nodes.sort_by_key(|node| node.id);
    Ok(ClusterPlan {
        root: root.to_owned(),
        nodes,
    })
}

/// Node `node`'s config: a bootstrap member of a new cluster with every node
/// of `plan`; `admin_file` on the node that holds the administrator file.
pub fn node_config(plan: &ClusterPlan, node: &NodePlan, admin_file: Option<&Path>) -> RawConfig {
    RawConfig {
        version: Some(1),
        node_id: Some(node.id),
        region: Some(node.region.clone()),
        partition: Some(String::from(PARTITION)),
        data_dir: Some(node.data_dir.clone()),
        http: RawHttp {
            listen: Some(node.http.to_string()),
            advertise: None,
        },
        grpc: RawGrpc {
            listen: Some(node.grpc.to_string()),
            advertise: None,
        },
        cluster: RawCluster {
            bootstrap: Some(RawBootstrap {
                members: plan
                    .nodes
                    .iter()
                    .map(|member| RawMember {
                        id: Some(member.id),
                        region: Some(member.region.clone()),
                        grpc: Some(member.grpc_url()),
                        http: Some(member.http_url()),
                    })
                    .collect(),
                admin_file: admin_file.map(Path::to_owned),
            }),
            join: None,
        },
        kek: RawKek {
            file: Some(node.data_dir.join(KEK_FILE)),
            env: None,
        },
        // Development clusters accept loopback OIDC issuers
        // (`http://127.0.0.1:PORT`, names resolving to loopback), so a local
        // IdP works with AssumeRoleWithWebIdentity; `meridian serve` configs
        // never get this unless an operator writes it.
        federation: meridian_server::config::federation::RawFederation {
            allow_loopback_issuers: Some(true),
            ..Default::default()
        },
        ..RawConfig::default()
    }
}

/// The text of `node-N.toml`.
pub fn node_config_toml(raw: &RawConfig) -> anyhow::Result<String> {
    let body = toml::to_string_pretty(raw).context("failed to render a node config")?;
    Ok(format!(
        "# Written by `meridian dev`. Restart this node alone with:\n\
         #   meridian serve --config <this file>\n\
         # Settings and MERIDIAN_* overrides: crates/meridian-server/src/config/mod.rs\n\n{body}"
    ))
}

/// The administrator's credentials as `cluster.json` and `env.sh` show them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminCredentials {
    /// The bootstrapped account.
    pub account_id: String,
    /// The administrator's access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

impl Drop for AdminCredentials {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
    }
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// `cluster.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClusterFile {
    /// The partition.
    pub partition: String,
    /// Regions with their nodes.
    pub regions: Vec<RegionEntry>,
    /// The administrator.
    pub admin: AdminCredentials,
    /// The data dir (an addition to the contract's keys).
    #[serde(default)]
    pub data_dir: String,
    /// The file to source (an addition to the contract's keys).
    #[serde(default)]
    pub env: String,
}

/// A region of `cluster.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegionEntry {
    /// Its name.
    pub name: String,
    /// Its nodes.
    pub nodes: Vec<NodeEntry>,
}

/// A node of `cluster.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Node id.
    pub id: u64,
    /// Its region.
    pub region: String,
    /// HTTP edge URL.
    pub http: String,
    /// gRPC URL.
    pub grpc: String,
    /// The process id `meridian dev` started it as.
    pub pid: u32,
    /// Its config file (absolute).
    pub config: String,
    /// Its data dir (absolute).
    pub data_dir: String,
    /// Its log file (an addition to the contract's keys).
    #[serde(default)]
    pub log: String,
}

/// The text of `cluster.json`.
pub fn cluster_json(
    plan: &ClusterPlan,
    pids: &BTreeMap<u64, u32>,
    admin: &AdminCredentials,
) -> anyhow::Result<String> {
    let file = ClusterFile {
        partition: String::from(PARTITION),
        regions: plan
            .regions()
            .into_iter()
            .map(|(name, nodes)| RegionEntry {
                name,
                nodes: nodes
                    .into_iter()
                    .map(|node| NodeEntry {
                        id: node.id,
                        region: node.region.clone(),
                        http: node.http_url(),
                        grpc: node.grpc_url(),
                        pid: pids.get(&node.id).copied().unwrap_or(0),
                        config: node.config.display().to_string(),
                        data_dir: node.data_dir.display().to_string(),
                        log: node.log.display().to_string(),
                    })
                    .collect(),
            })
            .collect(),
        admin: admin.clone(),
        data_dir: plan.root.display().to_string(),
        env: plan.root.join(ENV_FILE).display().to_string(),
    };
    let mut text = serde_json::to_string_pretty(&file).context("failed to render cluster.json")?;
    text.push('\n');
    Ok(text)
}

/// Reads the administrator's credentials back from an existing `cluster.json`.
pub fn read_admin(path: &Path) -> anyhow::Result<AdminCredentials> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let file: ClusterFile = serde_json::from_str(&text)
        .with_context(|| format!("failed to parse {}", path.display()))?;
    Ok(file.admin.clone())
}

/// The text of `env.sh`: the six `export` lines of the contract, values in
/// single quotes (none of them can contain one).
pub fn env_sh(plan: &ClusterPlan, admin: &AdminCredentials) -> anyhow::Result<String> {
    let first = plan.first()?;
    let endpoint = first.http_url();
    let mut text = String::from(
        "# Written by `meridian dev`: source it (`. ./meridian-dev/env.sh`) to use the\n\
         # local cluster with the aws CLI or an SDK as its administrator.\n",
    );
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", admin.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", admin.secret_access_key.as_str()),
        ("AWS_REGION", first.region.as_str()),
        ("AWS_DEFAULT_REGION", first.region.as_str()),
        ("AWS_ENDPOINT_URL_STS", endpoint.as_str()),
        ("AWS_ENDPOINT_URL_IAM", endpoint.as_str()),
    ] {
        if value.contains('\'') {
            bail!("{name} cannot be written to env.sh");
        }
        text.push_str(&format!("export {name}='{value}'\n"));
    }
    Ok(text)
}

#[cfg(test)]
#[path = "layout_test.rs"]
mod layout_test;
