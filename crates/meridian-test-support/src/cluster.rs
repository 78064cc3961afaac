//! An in-process cluster of real nodes over real gRPC on 127.0.0.1.
//!
//! Each node has its own data directory (under one temporary directory), its
//! own listener, and every directed link between two nodes goes through its
//! own [`FaultProxy`], so a test can partition, delay or reset any link. A
//! "killed" node is shut down in-process with its data kept (what a crash
//! leaves behind, since synced writes are all a restart relies on); a
//! restarted node binds its old address again.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meridian_core::config::cluster::NodeInfo;
use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::time::Timestamp;
use meridian_grpc::errors::StartError;
use meridian_grpc::network::AddressResolver;
use meridian_grpc::node::{Node, NodeConfig, Role, StartMode};
use meridian_grpc::timings::RaftTimings;
use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::fault_proxy::FaultProxy;

/// The region every sandbox node is in unless a test says otherwise.
pub const REGION: &str = "us-east-1";

type Routes = Arc<Mutex<HashMap<(u64, u64), String>>>;

struct Member {
    addr: SocketAddr,
    info: NodeInfo,
    data_dir: PathBuf,
    node: Option<Arc<Node>>,
}

/// A sandbox cluster.
pub struct TestCluster {
    root: TempDir,
    timings: RaftTimings,
    members: BTreeMap<u64, Member>,
    proxies: HashMap<(u64, u64), FaultProxy>,
    routes: Routes,
    requests: AtomicU64,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("members", &self.members.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Loopback timings shortened for tests: fast elections and frequent
/// snapshots, so that snapshot paths are exercised.
pub fn test_timings() -> RaftTimings {
    RaftTimings {
        heartbeat: Duration::from_millis(50),
        election_timeout_min: Duration::from_millis(300),
        election_timeout_max: Duration::from_millis(600),
        rpc_timeout: Duration::from_millis(500),
        snapshot_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(3),
        snapshot_every: 50,
        keep_logs_after_snapshot: 10,
    }
}

impl TestCluster {
    /// Starts `size` voters (ids 1..=size) that bootstrap one cluster.
    pub async fn start(size: u64, timings: RaftTimings) -> TestCluster {
        let root = TempDir::new().expect("create the cluster's temporary directory");
        let mut cluster = TestCluster {
            root,
            timings,
            members: BTreeMap::new(),
            proxies: HashMap::new(),
            routes: Arc::new(Mutex::new(HashMap::new())),
            requests: AtomicU64::new(0),
        };
        let mut listeners = Vec::new();
        for id in 1..=size {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .expect("bind a node listener");
            cluster.add_member(id, listener.local_addr().expect("listener address"));
            listeners.push((id, listener));
        }
        cluster.wire_proxies().await;
        let members: BTreeMap<u64, NodeInfo> = cluster
            .members
            .iter()
            .map(|(id, member)| (*id, member.info.clone()))
            .collect();
        for (id, listener) in listeners {
            let mode = StartMode::Bootstrap {
                members: members.clone(),
            };
            let node = Node::start(cluster.config(id), mode, listener)
                .await
                .expect("start a bootstrap node");
            if let Some(member) = cluster.members.get_mut(&id) {
                member.node = Some(Arc::new(node));
            }
        }
        cluster
    }

    fn add_member(&mut self, id: u64, addr: SocketAddr) {
        let info = NodeInfo {
            region: String::from(REGION),
            raft_addr: format!("http://{addr}"),
            api_addr: String::new(),
        };
        let data_dir = self.root.path().join(format!("node-{id}"));
        self.members.insert(
            id,
            Member {
                addr,
                info,
                data_dir,
                node: None,
            },
        );
    }

    /// Creates the proxies of every directed link that has none yet.
    async fn wire_proxies(&mut self) {
        let ids: Vec<u64> = self.members.keys().copied().collect();
        for &from in &ids {
            for &to in &ids {
                if from == to || self.proxies.contains_key(&(from, to)) {
                    continue;
                }
                let target = self.members[&to].addr;
                let proxy = FaultProxy::start(target)
                    .await
                    .expect("start a fault proxy");
                self.routes
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert((from, to), format!("http://{}", proxy.addr()));
                self.proxies.insert((from, to), proxy);
            }
        }
    }

    fn config(&self, id: u64) -> NodeConfig {
        let member = &self.members[&id];
        let routes = Arc::clone(&self.routes);
        let resolver: AddressResolver = Arc::new(move |target, addr: &str| {
            routes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&(id, target))
                .cloned()
                .unwrap_or_else(|| addr.to_owned())
        });
        NodeConfig {
            node_id: id,
            info: member.info.clone(),
            data_dir: member.data_dir.clone(),
            timings: self.timings.clone(),
            cluster_name: String::from("sandbox"),
            resolver: Some(resolver),
        }
    }

    /// A running node.
    pub fn node(&self, id: u64) -> Arc<Node> {
        self.members
            .get(&id)
            .and_then(|member| member.node.clone())
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    /// Ids of the running nodes.
    pub fn running(&self) -> Vec<u64> {
        self.members
            .iter()
            .filter(|(_, member)| member.node.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The Raft address a node advertises.
    pub fn raft_addr(&self, id: u64) -> String {
        self.members[&id].info.raft_addr.clone()
    }

    /// A request with a fresh id and an increasing issue time.
    pub fn request(&self, command: Command) -> ConfigRequest {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&0x6d65_7269_6469_616e_u64.to_be_bytes());
        id[8..].copy_from_slice(&n.to_be_bytes());
        ConfigRequest {
            request_id: RequestId(id),
            issued_at: Timestamp::from_unix_millis(
                1_800_000_000_000 + i64::try_from(n).unwrap_or(0),
            ),
            command,
        }
    }

    /// Waits until the running nodes among `among` agree on one leader.
    pub async fn leader_among(&self, among: &[u64], within: Duration) -> Option<u64> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let mut leaders = among
                .iter()
                .filter_map(|id| self.members.get(id)?.node.as_ref())
                .filter(|node| node.status().role == Role::Leader)
                .map(|node| node.id());
            if let (Some(leader), None) = (leaders.next(), leaders.next()) {
                let agreed = among
                    .iter()
                    .filter_map(|id| self.members.get(id)?.node.as_ref())
                    .all(|node| node.status().leader == Some(leader));
                if agreed {
                    return Some(leader);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Waits for a leader among all running nodes.
    pub async fn leader(&self, within: Duration) -> Option<u64> {
        self.leader_among(&self.running(), within).await
    }

    /// Waits until every running node among `among` has applied `index`.
    pub async fn wait_applied(&self, among: &[u64], index: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let done = among
                .iter()
                .filter_map(|id| self.members.get(id)?.node.as_ref())
                .all(|node| node.snapshot().borrow().applied_index() >= index);
            if done {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops a node, keeping its data directory.
    pub async fn kill(&mut self, id: u64) {
        let node = self
            .members
            .get_mut(&id)
            .and_then(|member| member.node.take());
        if let Some(node) = node {
            node.shutdown().await;
            drop(node);
        }
        // Let in-flight tasks release the data directory.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Restarts a killed node from its data directory, on its old address.
    pub async fn restart(&mut self, id: u64) -> Result<(), StartError> {
        self.start_member(id, StartMode::Restart).await
    }

    /// Starts a stopped member on its old address in `mode` (a test can
    /// replay an operator's mistake, such as re-running a bootstrap
    /// configuration on a wiped node).
    pub async fn start_with_mode(&mut self, id: u64, mode: StartMode) -> Result<(), StartError> {
        self.start_member(id, mode).await
    }

    /// The initial membership a bootstrap configuration names: every member.
    pub fn bootstrap_mode(&self) -> StartMode {
        StartMode::Bootstrap {
            members: self
                .members
                .iter()
                .map(|(id, member)| (*id, member.info.clone()))
                .collect(),
        }
    }

    async fn start_member(&mut self, id: u64, mode: StartMode) -> Result<(), StartError> {
        let mut attempts = 0;
        loop {
            match self.start_member_once(id, mode.clone()).await {
                // The previous instance may still be letting go of RocksDB.
                Err(StartError::Store(err))
                    if attempts < 50 && err.to_string().contains("lock") =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    async fn start_member_once(&mut self, id: u64, mode: StartMode) -> Result<(), StartError> {
        let addr = self.members[&id].addr;
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!(error = %err, "waiting to rebind {addr}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("cannot rebind {addr}: {err}"),
            }
        };
        let node = match Node::start(self.config(id), mode, listener).await {
            Ok(node) => node,
            Err(err) => return Err(err),
        };
        if let Some(member) = self.members.get_mut(&id) {
            member.node = Some(Arc::new(node));
        }
        Ok(())
    }

    /// Kills a node and deletes its data directory (a wiped disk).
    pub async fn wipe(&mut self, id: u64) {
        self.kill(id).await;
        let dir = self.members[&id].data_dir.clone();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Starts a node with an empty data directory that joins through the
    /// running nodes. A new id gets a new address and proxies; an old id
    /// (a wiped node coming back) reuses its address.
    pub async fn join(&mut self, id: u64) -> Result<(), StartError> {
        if !self.members.contains_key(&id) {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .expect("bind a node listener");
            let addr = listener.local_addr().expect("listener address");
            drop(listener);
            self.add_member(id, addr);
            self.wire_proxies().await;
        }
        let seeds = self
            .running()
            .into_iter()
            .filter(|other| *other != id)
            .map(|other| self.raft_addr(other))
            .collect();
        let result = self.start_member(id, StartMode::Join { seeds }).await;
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        result
    }

    /// The info a node advertises.
    pub fn info(&self, id: u64) -> NodeInfo {
        self.members[&id].info.clone()
    }

    /// Cuts every link between `side` and the other nodes, both ways.
    pub fn partition(&self, side: &[u64]) {
        for ((from, to), proxy) in &self.proxies {
            if side.contains(from) != side.contains(to) {
                proxy.set_blackhole(true);
            }
        }
    }

    /// Removes every blackhole and delay.
    pub fn heal(&self) {
        for proxy in self.proxies.values() {
            proxy.set_blackhole(false);
            proxy.set_delay(Duration::ZERO);
        }
    }

    /// The proxy of the directed link `from → to`.
    pub fn link(&self, from: u64, to: u64) -> Option<&FaultProxy> {
        self.proxies.get(&(from, to))
    }

    /// Stops every running node.
    pub async fn shutdown(&mut self) {
        let ids = self.running();
        for id in ids {
            self.kill(id).await;
        }
    }
}
