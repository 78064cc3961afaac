//! A cluster of real `App`s in process (one node per region, 127.0.0.1
//! only), signed HTTP calls to their edges, and signed Admin calls to their
//! gRPC ports.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use meridian_core::access::keys::KeyMaterial;
use meridian_core::keyring::Kek;
use meridian_core::rand::SystemRng;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};
use meridian_core::time::Timestamp;
use meridian_edge::state::{Clock, SystemClock};
use meridian_grpc::admin::signing::{AdminCredentials, sign};
use meridian_proto::pb::admin_client::AdminClient;
use meridian_server::app::{App, RunningApp};
use meridian_server::bootstrap::AdminBootstrap;
use meridian_server::config::Config;
use meridian_server::config::KekSource;
use meridian_server::config::env::Env;
use meridian_server::config::raw::{
    RawBootstrap, RawCluster, RawConfig, RawGrpc, RawHttp, RawKek, RawMember,
};
use meridian_server::kek::{generate_kek_hex, load_kek, write_key_file};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::Channel;
use zeroize::Zeroizing;

/// A running cluster, one node per region.
pub(crate) struct Cluster {
    pub(crate) dir: TempDir,
    pub(crate) apps: Vec<RunningApp>,
    pub(crate) regions: Vec<String>,
    pub(crate) admin: AdminBootstrap,
}

impl Cluster {
    /// Starts one node per region (node 1 bootstraps the administrator) and
    /// waits until every node is ready.
    pub(crate) async fn start(regions: &[&str]) -> Cluster {
        Cluster::start_with_kek(regions, None).await
    }

    /// As [`Cluster::start`], with the KEK of another cluster's directory.
    pub(crate) async fn start_with_kek(regions: &[&str], kek_from: Option<&Path>) -> Cluster {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SystemRng::new();
        match kek_from {
            Some(other) => {
                std::fs::copy(other.join("kek"), dir.path().join("kek"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            None => {
                let kek = generate_kek_hex(&mut rng).unwrap_or_else(|e| panic!("{e}"));
                write_key_file(&dir.path().join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let admin =
            AdminBootstrap::generate("ops", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        admin
            .write_new(&dir.path().join("admin.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bound = Vec::new();
        for _ in regions {
            let http = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let grpc = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            bound.push((http, grpc));
        }
        let members: Vec<RawMember> = bound
            .iter()
            .zip(regions)
            .enumerate()
            .map(|(i, ((http, grpc), region))| RawMember {
                id: Some(i as u64 + 1),
                region: Some((*region).to_owned()),
                grpc: Some(format!(
                    "http://{}",
                    grpc.local_addr().unwrap_or_else(|e| panic!("{e}"))
                )),
                http: Some(format!(
                    "http://{}",
                    http.local_addr().unwrap_or_else(|e| panic!("{e}"))
                )),
            })
            .collect();
        let mut apps = Vec::new();
        for (i, (http, grpc)) in bound.into_iter().enumerate() {
            let id = i as u64 + 1;
            let config = node_config(dir.path(), id, regions[i], &http, &grpc, &members);
            let app = App::build_with_listeners(config, &Env::new(), http, grpc)
                .await
                .unwrap_or_else(|e| panic!("build node {id}: {e:#}"));
            apps.push(app.spawn());
        }
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while !apps.iter().all(|app| app.readiness().is_ready()) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "cluster not ready within 60 s");
        // The administrator's bootstrap steps run after readiness: wait
        // until every node holds its access key.
        let key_id = admin.access_key_id.as_str().to_owned();
        let bootstrapped = tokio::time::timeout(Duration::from_secs(30), async {
            while !apps
                .iter()
                .all(|app| app.node().snapshot().borrow().access_key(&key_id).is_some())
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(
            bootstrapped.is_ok(),
            "administrator not bootstrapped within 30 s"
        );
        Cluster {
            dir,
            apps,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            admin,
        }
    }

    /// The cluster's KEK, loaded from its file.
    pub(crate) fn kek(&self) -> Kek {
        load_kek(&KekSource::File(self.dir.path().join("kek")), &Env::new())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Key material around the KEK (opens session tokens like a node).
    pub(crate) fn keys(&self) -> KeyMaterial {
        KeyMaterial::new(self.kek())
    }

    /// The administrator's credentials.
    pub(crate) fn admin_credentials(&self) -> AdminCredentials {
        AdminCredentials {
            access_key_id: self.admin.access_key_id.as_str().to_owned(),
            secret_access_key: Zeroizing::new(
                self.admin.secret_access_key.expose_secret().to_owned(),
            ),
            session_token: None,
        }
    }

    /// An Admin client for node `index` (0-based).
    pub(crate) async fn admin_client(&self, index: usize) -> AdminClient<Channel> {
        AdminClient::connect(format!("http://{}", self.apps[index].grpc_addr()))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// Stops every node in order.
    pub(crate) async fn shutdown(self) {
        for app in self.apps {
            let _ = app.shutdown().await;
        }
    }
}

fn node_config(
    dir: &Path,
    id: u64,
    region: &str,
    http: &TcpListener,
    grpc: &TcpListener,
    members: &[RawMember],
) -> Config {
    let raw = RawConfig {
        version: Some(1),
        node_id: Some(id),
        region: Some(region.to_owned()),
        data_dir: Some(dir.join(format!("node-{id}"))),
        shutdown_grace_period_secs: Some(10),
        http: RawHttp {
            listen: Some(
                http.local_addr()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string(),
            ),
            advertise: None,
        },
        grpc: RawGrpc {
            listen: Some(
                grpc.local_addr()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string(),
            ),
            advertise: None,
        },
        cluster: RawCluster {
            bootstrap: Some(RawBootstrap {
                members: members.to_vec(),
                admin_file: (id == 1).then(|| dir.join("admin.json")),
            }),
            join: None,
        },
        kek: RawKek {
            file: Some(dir.join("kek")),
            env: None,
        },
        ..RawConfig::default()
    };
    Config::build(raw, dir, &Env::new()).unwrap_or_else(|e| panic!("config: {e}"))
}

/// A signed Admin request for `method` carrying `message`.
pub(crate) fn signed<M: prost::Message>(
    method: &str,
    message: M,
    credentials: &AdminCredentials,
    region: &str,
) -> tonic::Request<M> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    sign(
        &mut metadata,
        &format!("/meridian.v1.Admin/{method}"),
        &message,
        credentials,
        region,
        SystemClock.now(),
    )
    .unwrap_or_else(|e| panic!("sign: {e}"));
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata;
    request
}

/// Temporary or long-term credentials for signing HTTP calls.
#[derive(Clone)]
pub(crate) struct Keys {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
}

/// The administrator's long-term keys, for signing HTTP calls.
pub(crate) fn admin_keys(cluster: &Cluster) -> Keys {
    Keys {
        access_key_id: cluster.admin.access_key_id.as_str().to_owned(),
        secret_access_key: cluster.admin.secret_access_key.expose_secret().to_owned(),
        session_token: None,
    }
}

/// One signed query-protocol POST; returns status and body.
pub(crate) async fn query(
    addr: SocketAddr,
    region: &str,
    service: &str,
    body: &str,
    keys: &Keys,
    now: Timestamp,
) -> (u16, String) {
    let host = addr.to_string();
    let headers: Vec<(&str, &[u8])> = vec![
        ("host", host.as_bytes()),
        (
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8".as_slice(),
        ),
    ];
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(body.as_bytes()),
    };
    let signature = sign_headers(
        &request,
        &SigningParams {
            access_key_id: &keys.access_key_id,
            secret_access_key: keys.secret_access_key.as_bytes(),
            session_token: keys.session_token.as_deref(),
            region,
            service,
            time: now,
            options: SigningOptions::standard(),
        },
    )
    .unwrap_or_else(|e| panic!("sign: {e}"));
    let mut text = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in signature.headers() {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let (status, _, body) = exchange(addr, &text).await;
    (status, body)
}

/// One unsigned GET; returns status, the header block and the body.
pub(crate) async fn get_with_head(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let text = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    exchange(addr, &text).await
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the answer:
/// status, header block, body.
async fn exchange(addr: SocketAddr, text: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(text.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .map(|(head, body)| (head.to_owned(), body.to_owned()))
        .unwrap_or_default();
    (status, head, body)
}

/// The text of the first `<name>…</name>` element.
pub(crate) fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}
