//! A single-node `App` in process: start, bootstrap, ready, a signed
//! `GetCallerIdentity` as the bootstrapped administrator, ordered shutdown,
//! and a restart from the same data directory. Bounded in time; binds
//! 127.0.0.1 only.

use std::path::Path;
use std::time::Duration;

use meridian_core::rand::SystemRng;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};
use meridian_edge::state::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::bootstrap::AdminBootstrap;
use crate::config::raw::{
    RawBootstrap, RawCluster, RawConfig, RawGrpc, RawHttp, RawJoin, RawKek, RawMember,
};
use crate::kek::{generate_kek_hex, write_key_file};

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn listeners() -> (TcpListener, TcpListener) {
    let http = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let grpc = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    (http, grpc)
}

fn config(dir: &Path, http: SocketAddr, grpc: SocketAddr) -> Config {
    let cluster = RawCluster {
        bootstrap: Some(RawBootstrap {
            members: vec![RawMember {
                id: Some(1),
                region: Some(String::from("eu-west-1")),
                grpc: Some(format!("http://{grpc}")),
                http: None,
            }],
            admin_file: Some(dir.join("admin.json")),
        }),
        join: None,
    };
    node_config(dir, 1, http, grpc, cluster)
}

/// Node `id` of region eu-west-1 in `dir`, sharing the KEK file.
fn node_config(
    dir: &Path,
    id: u64,
    http: SocketAddr,
    grpc: SocketAddr,
    cluster: RawCluster,
) -> Config {
    let raw = RawConfig {
        version: Some(1),
        node_id: Some(id),
        region: Some(String::from("eu-west-1")),
        data_dir: Some(dir.join(format!("node-{id}"))),
        shutdown_grace_period_secs: Some(10),
        http: RawHttp {
            listen: Some(http.to_string()),
            advertise: None,
        },
        grpc: RawGrpc {
            listen: Some(grpc.to_string()),
            advertise: None,
        },
        cluster,
        kek: RawKek {
            file: Some(dir.join("kek")),
            env: None,
        },
        ..RawConfig::default()
    };
    Config::build(raw, dir, &Env::new()).unwrap_or_else(|e| panic!("config: {e}"))
}

/// One HTTP/1.1 exchange; returns status and body.
async fn http(addr: SocketAddr, request: String) -> (u16, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn get(addr: SocketAddr, path: &str) -> u16 {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
    .0
}

async fn wait_ready(app: &RunningApp) {
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while !app.readiness().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "node not ready within 30 s");
}

async fn get_caller_identity(addr: SocketAddr, admin: &AdminBootstrap) -> (u16, String) {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
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
            access_key_id: admin.access_key_id.as_str(),
            secret_access_key: admin.secret_access_key.expose_secret().as_bytes(),
            session_token: None,
            region: "eu-west-1",
            service: "sts",
            time: SystemClock.now(),
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
    http(addr, text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_starts_bootstraps_serves_stops_and_restarts() {
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SystemRng::new();
        let kek = generate_kek_hex(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        write_key_file(&dir.path().join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
        let admin =
            AdminBootstrap::generate("test", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        admin
            .write_new(&dir.path().join("admin.json"))
            .unwrap_or_else(|e| panic!("{e}"));

        tracing::info!("--- first start: bootstrap the cluster and its administrator");
        let (http_listener, grpc_listener) = listeners().await;
        let cfg = config(
            dir.path(),
            http_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            grpc_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
        );
        let app = App::build_with_listeners(cfg, &Env::new(), http_listener, grpc_listener)
            .await
            .unwrap_or_else(|e| panic!("build: {e:#}"));
        let app = app.spawn();
        let addr = app.http_addr();
        assert_eq!(get(addr, "/healthz").await, 200);
        wait_ready(&app).await;
        assert_eq!(get(addr, "/readyz").await, 200);

        let snapshot = app.node().snapshot().borrow().clone();
        let account = snapshot
            .account(&admin.account_id)
            .unwrap_or_else(|| panic!("account not bootstrapped"));
        assert!(account.user("admin").is_some());
        assert!(snapshot.access_key(admin.access_key_id.as_str()).is_some());
        // The bootstrap file is consumed once applied.
        let consumed = tokio::time::timeout(Duration::from_secs(10), async {
            while std::fs::metadata(dir.path().join("admin.json")).is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(consumed.is_ok(), "bootstrap file still present");

        let (status, body) = get_caller_identity(addr, &admin).await;
        assert_eq!(status, 200, "{body}");
        let arn = format!("arn:aws:iam::{}:user/admin", admin.account_id);
        assert!(body.contains(&arn), "{body}");

        tracing::info!("--- shutdown: not ready, then closed");
        let readiness = app.readiness().clone();
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));
        assert!(!readiness.is_ready());
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");

        tracing::info!("--- restart from the data dir: no bootstrap file, same state");
        // In one process the store's last handles (its flusher thread) let
        // go of RocksDB's lock a moment after shutdown returns; a new
        // process (`meridian serve` again) never waits.
        let mut attempts = 0;
        let app = loop {
            let (http_listener, grpc_listener) = listeners().await;
            let cfg = config(
                dir.path(),
                http_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
                grpc_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            );
            match App::build_with_listeners(cfg, &Env::new(), http_listener, grpc_listener).await {
                Ok(app) => break app,
                Err(e) if attempts < 50 && format!("{e:#}").contains("lock") => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("restart: {e:#}"),
            }
        };
        tracing::info!(attempts, "restarted");
        let app = app.spawn();
        wait_ready(&app).await;
        let (status, body) = get_caller_identity(app.http_addr(), &admin).await;
        assert_eq!(status, 200, "{body}");
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));
    })
    .await;
    assert!(outcome.is_ok(), "test exceeded {TEST_TIMEOUT:?}");
}

#[tokio::test]
async fn a_bad_kek_is_a_config_error_before_anything_is_bound() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // No key file at all.
    let cfg = config(
        dir.path(),
        "127.0.0.1:1".parse().unwrap_or_else(|e| panic!("{e}")),
        "127.0.0.1:2".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let error = App::build(cfg, &Env::new())
        .await
        .err()
        .unwrap_or_else(|| panic!("built without a KEK"));
    assert!(
        error.chain().any(|cause| cause.is::<ConfigError>()),
        "{error:#}"
    );
    // Nothing was created: the data dir does not exist.
    assert!(std::fs::metadata(dir.path().join("node-1")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_an_existing_cluster_and_serves_once_replicated() {
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SystemRng::new();
        let kek = generate_kek_hex(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        write_key_file(&dir.path().join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
        let admin =
            AdminBootstrap::generate("test", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        admin
            .write_new(&dir.path().join("admin.json"))
            .unwrap_or_else(|e| panic!("{e}"));

        tracing::info!("--- node 1 bootstraps the cluster");
        let (http_listener, grpc_listener) = listeners().await;
        let first_grpc = grpc_listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let cfg = config(
            dir.path(),
            http_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            first_grpc,
        );
        let first = App::build_with_listeners(cfg, &Env::new(), http_listener, grpc_listener)
            .await
            .unwrap_or_else(|e| panic!("build node 1: {e:#}"))
            .spawn();
        wait_ready(&first).await;

        tracing::info!("--- node 2 joins through node 1 as a learner");
        let (http_listener, grpc_listener) = listeners().await;
        let join = RawCluster {
            bootstrap: None,
            join: Some(RawJoin {
                seeds: vec![format!("http://{first_grpc}")],
            }),
        };
        let cfg = node_config(
            dir.path(),
            2,
            http_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            grpc_listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            join,
        );
        let second = App::build_with_listeners(cfg, &Env::new(), http_listener, grpc_listener)
            .await
            .unwrap_or_else(|e| panic!("build node 2: {e:#}"))
            .spawn();
        wait_ready(&second).await;
        // Readiness follows the commit index the learner has learned so far;
        // entries the leader committed meanwhile arrive within moments. The
        // administrator bootstrapped on node 1 then signs in on node 2.
        let arn = format!("arn:aws:iam::{}:user/admin", admin.account_id);
        let replicated = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (status, body) = get_caller_identity(second.http_addr(), &admin).await;
                if status == 200 && body.contains(&arn) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(
            replicated.is_ok(),
            "the administrator never worked on node 2"
        );
        let status = second.node().status();
        assert!(status.learners.contains(&2), "{status:?}");
        assert_eq!(status.leader, Some(1), "{status:?}");

        second
            .shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown node 2: {e:#}"));
        first
            .shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown node 1: {e:#}"));
    })
    .await;
    assert!(outcome.is_ok(), "test exceeded {TEST_TIMEOUT:?}");
}
