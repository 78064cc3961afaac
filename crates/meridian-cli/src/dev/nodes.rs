//! The node processes of a dev cluster: start, wait for readiness, watch,
//! stop.
//!
//! Each node is `meridian serve --config node-N.toml` run from this very
//! executable, in its own process group so that a Ctrl-C in the terminal
//! reaches `meridian dev` alone, which then stops the nodes in an orderly
//! way: SIGTERM to each, a grace period for their own graceful shutdown, then
//! SIGKILL for any still running. A node that dies on its own is reported and
//! left dead (the contract: whoever killed it restarts it).
//!
//! Readiness is polled over plain HTTP/1.1 on `/readyz` with a short timeout
//! per attempt; nothing here needs an HTTP client library. A node counts as
//! started only when, beyond `/readyz`, a `GetCallerIdentity` signed with the
//! administrator's credentials succeeds on it: that proves the bootstrap has
//! replicated to its region and that what `env.sh` exports works there.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};

use crate::dev::layout::{AdminCredentials, NodePlan};

/// A running node.
#[derive(Debug)]
pub struct NodeProcess {
    /// Its id.
    pub id: u64,
    /// Its HTTP address (for `/readyz`).
    pub http: SocketAddr,
    /// Its region (the signing scope of the credential check).
    pub region: String,
    /// Its config (for the restart hint).
    pub config: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    /// The process; `None` once it has exited and been reported.
    child: Option<Child>,
    /// Its pid.
    pub pid: u32,
}

/// Starts every node of `nodes` with `exe`.
pub fn start_all(exe: &Path, nodes: &[NodePlan]) -> anyhow::Result<Vec<NodeProcess>> {
    let mut started = Vec::with_capacity(nodes.len());
    for node in nodes {
        match start(exe, node) {
            Ok(process) => started.push(process),
            Err(error) => {
                // Leave nothing behind when one of them cannot start.
                for process in &mut started {
                    process.signal(Signal::KILL);
                }
                return Err(error);
            }
        }
    }
    Ok(started)
}

fn start(exe: &Path, node: &NodePlan) -> anyhow::Result<NodeProcess> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&node.log)
        .with_context(|| format!("failed to open {}", node.log.display()))?;
    let log_err = log
        .try_clone()
        .with_context(|| format!("failed to open {}", node.log.display()))?;
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(&node.config)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .kill_on_drop(false);
    // The node's configuration is its file: overrides meant for some other
    // node in the user's shell must not leak into every dev node.
    for name in meridian_server::config::env::override_names() {
        command.env_remove(name);
    }
    let child = command
        .spawn()
        .with_context(|| format!("failed to start node {} ({})", node.id, exe.display()))?;
    let pid = child
        .id()
        .with_context(|| format!("node {} exited at once", node.id))?;
    Ok(NodeProcess {
        id: node.id,
        http: node.http,
        region: node.region.clone(),
        config: node.config.clone(),
        log: node.log.clone(),
        child: Some(child),
        pid,
    })
}

impl NodeProcess {
    /// Whether the process is still running (reaps it if it exited).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            Ok(None) | Err(_) => None,
        }
    }

    /// Waits until the process exits; pending forever once it has.
    pub async fn wait(&mut self) -> ExitStatus {
        match self.child.as_mut() {
            Some(child) => match child.wait().await {
                Ok(status) => {
                    self.child = None;
                    status
                }
                Err(_) => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }

    /// Whether it is still one of ours and running.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    fn signal(&mut self, signal: Signal) {
        if self.child.is_none() {
            return;
        }
        let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return;
        };
        if let Err(error) = kill_process(pid, signal) {
            tracing::debug!(node = self.id, %error, "signal not delivered");
        }
    }
}

/// One HTTP/1.1 exchange with a short deadline; the status code, and the
/// body when it is short.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Option<(u16, String)> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(request).await.ok()?;
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let read = stream.read(&mut chunk).await.ok()?;
            if read == 0 || response.len() > 64 * 1024 {
                break;
            }
            response.extend_from_slice(&chunk[..read]);
        }
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.get(9..12)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())?;
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .ok()
        .flatten()
}

/// Whether `/readyz` answers 200.
pub async fn is_ready(addr: SocketAddr) -> bool {
    let request = b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    matches!(exchange(addr, request).await, Some((200, _)))
}

/// Whether `GetCallerIdentity` signed with `admin`'s credentials for
/// `region` succeeds and names the administrator's account.
pub async fn admin_works(addr: SocketAddr, region: &str, admin: &AdminCredentials) -> bool {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let host = addr.to_string();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let headers: Vec<(&str, &[u8])> = vec![
        ("host", host.as_bytes()),
        ("content-type", content_type.as_bytes()),
    ];
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(body.as_bytes()),
    };
    let params = SigningParams {
        access_key_id: &admin.access_key_id,
        secret_access_key: admin.secret_access_key.as_bytes(),
        session_token: None,
        region,
        service: "sts",
        time: crate::clock::now(),
        options: SigningOptions::standard(),
    };
    let Ok(signature) = sign_headers(&request, &params) else {
        return false;
    };
    let mut text = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in signature.headers() {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    matches!(
        exchange(addr, text.as_bytes()).await,
        Some((200, body)) if body.contains(&admin.account_id)
    )
}

/// Waits until every node is ready and accepts the administrator's
/// credentials, failing if one exits or `timeout` passes.
pub async fn wait_ready(
    nodes: &mut [NodeProcess],
    admin: &AdminCredentials,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ready = BTreeMap::new();
    loop {
        for node in nodes.iter_mut() {
            if let Some(status) = node.exited() {
                bail!(
                    "node {} exited while starting ({status}); see {}",
                    node.id,
                    node.log.display()
                );
            }
            if !ready.contains_key(&node.id)
                && is_ready(node.http).await
                && admin_works(node.http, &node.region, admin).await
            {
                tracing::info!(node = node.id, "node is ready");
                ready.insert(node.id, ());
            }
        }
        if ready.len() == nodes.len() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let waiting: Vec<String> = nodes
                .iter()
                .filter(|n| !ready.contains_key(&n.id))
                .map(|n| {
                    format!(
                        "node {} (not ready, or the administrator's credentials do not work there yet; log {})",
                        n.id,
                        n.log.display()
                    )
                })
                .collect();
            bail!(
                "nodes not ready after {} s: {}",
                timeout.as_secs(),
                waiting.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops every running node: SIGTERM, up to `grace` for them to exit, then
/// SIGKILL. Returns how each one ended.
pub async fn stop_all(nodes: &mut [NodeProcess], grace: Duration) -> Vec<(u64, String)> {
    for node in nodes.iter_mut() {
        node.signal(Signal::TERM);
    }
    let mut outcomes = Vec::new();
    let deadline = tokio::time::Instant::now() + grace;
    for node in nodes.iter_mut() {
        if !node.running() {
            continue;
        }
        let outcome = match tokio::time::timeout_at(deadline, node.wait()).await {
            Ok(status) => format!("stopped ({status})"),
            Err(_) => {
                node.signal(Signal::KILL);
                match tokio::time::timeout(Duration::from_secs(5), node.wait()).await {
                    Ok(status) => format!("killed after {} s ({status})", grace.as_secs()),
                    Err(_) => String::from("did not exit after SIGKILL"),
                }
            }
        };
        outcomes.push((node.id, outcome));
    }
    outcomes
}
