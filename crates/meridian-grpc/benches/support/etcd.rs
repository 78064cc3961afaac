//! The same measurement against etcd 3.4 (Debian `etcd-server`): a 3-member
//! cluster on loopback, puts of the same size through etcd's HTTP/JSON
//! gateway. Used by `replicated_write.rs` when an `etcd` binary is on PATH.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A running 3-member etcd cluster; members are killed on drop.
pub(crate) struct Etcd {
    members: Vec<Child>,
    clients: Vec<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Whether an `etcd` binary is installed.
pub(crate) fn available() -> bool {
    Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl Etcd {
    /// Starts three members in `dir` and waits until they serve writes.
    pub(crate) async fn start(dir: &Path) -> Etcd {
        let peers: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let clients: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let initial = (0..3)
            .map(|i| format!("m{i}=http://127.0.0.1:{}", peers[i]))
            .collect::<Vec<_>>()
            .join(",");
        let members = (0..3)
            .map(|i| {
                Command::new("etcd")
                    .args([
                        "--name",
                        &format!("m{i}"),
                        "--data-dir",
                        &dir.join(format!("m{i}")).display().to_string(),
                        "--listen-client-urls",
                        &format!("http://127.0.0.1:{}", clients[i]),
                        "--advertise-client-urls",
                        &format!("http://127.0.0.1:{}", clients[i]),
                        "--listen-peer-urls",
                        &format!("http://127.0.0.1:{}", peers[i]),
                        "--initial-advertise-peer-urls",
                        &format!("http://127.0.0.1:{}", peers[i]),
                        "--initial-cluster",
                        &initial,
                        "--initial-cluster-state",
                        "new",
                        "--initial-cluster-token",
                        "meridian-bench",
                        "--log-level",
                        "error",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start etcd")
            })
            .collect();
        let etcd = Etcd {
            members,
            clients: clients
                .iter()
                .map(|port| format!("http://127.0.0.1:{port}"))
                .collect(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if etcd
                .put(&etcd.clients[0], "warmup", &[0u8; 8])
                .await
                .is_ok()
            {
                return etcd;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("etcd did not come up");
    }

    async fn post(
        &self,
        url: String,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|err| err.to_string())?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|err| err.to_string())?;
        let ok = response.status().is_success();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|err| err.to_string())?
            .to_bytes();
        if !ok {
            return Err(String::from_utf8_lossy(&bytes).into_owned());
        }
        serde_json::from_slice(&bytes).map_err(|err| err.to_string())
    }

    /// One put through the member at `endpoint`.
    pub(crate) async fn put(&self, endpoint: &str, key: &str, value: &[u8]) -> Result<(), String> {
        let body =
            serde_json::json!({"key": STANDARD.encode(key), "value": STANDARD.encode(value)});
        self.post(format!("{endpoint}/v3/kv/put"), body)
            .await
            .map(|_| ())
    }

    /// The client URL of the current leader, and of one follower.
    pub(crate) async fn leader_and_follower(&self) -> (String, String) {
        let mut leader = None;
        let mut follower = None;
        for endpoint in &self.clients {
            let status = self
                .post(
                    format!("{endpoint}/v3/maintenance/status"),
                    serde_json::json!({}),
                )
                .await
                .expect("status");
            let member = status["header"]["member_id"].as_str().map(str::to_owned);
            let leads = status["leader"].as_str().map(str::to_owned);
            if member.is_some() && member == leads {
                leader = Some(endpoint.clone());
            } else {
                follower = Some(endpoint.clone());
            }
        }
        (
            leader.unwrap_or_else(|| self.clients[0].clone()),
            follower.unwrap_or_else(|| self.clients[1].clone()),
        )
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for member in &mut self.members {
            let _ = member.kill();
            let _ = member.wait();
        }
    }
}
