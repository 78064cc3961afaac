//! Bootstrap runs once, on an in-process node (`App` over its real store and
//! Raft): a configured administrator file missing on a new node is a
//! configuration error before anything is bound; once bootstrapped, the same
//! file presented again (a leftover Secret) never recreates the access key an
//! operator deleted, a different file is refused and set aside, and the node
//! starts every time. Bounded in time; binds 127.0.0.1 only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::config::state::ConfigState;
use meridian_core::rand::SystemRng;
use meridian_edge::state::{Clock, SystemClock};
use meridian_server::app::{App, RunningApp};
use meridian_server::bootstrap::AdminBootstrap;
use meridian_server::bootstrap_node::{self, AdminFile};
use meridian_server::config::Config;
use meridian_server::config::env::Env;
use meridian_server::config::error::ConfigError;
use meridian_server::config::raw::{
    RawBootstrap, RawCluster, RawConfig, RawGrpc, RawHttp, RawKek, RawMember,
};
use meridian_server::kek::{generate_kek_hex, write_key_file};
use tokio::net::TcpListener;

const TEST_TIMEOUT: Duration = Duration::from_secs(90);
const REGION: &str = "eu-west-1";

/// Node `id`'s config; `members` are the initial members' ids (gRPC
/// addresses other than this node's are never dialled by these tests).
fn config(dir: &Path, id: u64, members: &[u64], http: SocketAddr, grpc: SocketAddr) -> Config {
    let member = |member: u64| RawMember {
        id: Some(member),
        region: Some(String::from(REGION)),
        grpc: Some(if member == id {
            format!("http://{grpc}")
        } else {
            format!("http://127.0.0.1:{}", 1000 + member)
        }),
        http: None,
    };
    let raw = RawConfig {
        version: Some(1),
        node_id: Some(id),
        region: Some(String::from(REGION)),
        data_dir: Some(dir.join(format!("node-{id}"))),
        shutdown_grace_period_secs: Some(10),
        http: RawHttp {
            listen: Some(http.to_string()),
            advertise: None,
        },
        grpc: RawGrpc {
            listen: Some(grpc.to_string()),
            ..RawGrpc::default()
        },
        cluster: RawCluster {
            bootstrap: Some(RawBootstrap {
                members: members.iter().copied().map(member).collect(),
                admin_file: Some(admin_path(dir)),
            }),
            ..RawCluster::default()
        },
        kek: RawKek {
            file: Some(dir.join("kek")),
            env: None,
        },
        ..RawConfig::default()
    };
    Config::build(raw, dir, &Env::new()).unwrap_or_else(|e| panic!("config: {e}"))
}

fn admin_path(dir: &Path) -> PathBuf {
    dir.join("bootstrap-admin.json")
}

async fn listeners() -> (TcpListener, TcpListener) {
    let bind = || TcpListener::bind("127.0.0.1:0");
    (
        bind().await.unwrap_or_else(|e| panic!("bind: {e}")),
        bind().await.unwrap_or_else(|e| panic!("bind: {e}")),
    )
}

/// Starts node 1 of a one-member cluster in `dir` (retrying while the
/// previous instance's store lock is still held in this process).
async fn start(dir: &Path) -> RunningApp {
    for _ in 0..50 {
        let (http, grpc) = listeners().await;
        let cfg = config(
            dir,
            1,
            &[1],
            http.local_addr().unwrap_or_else(|e| panic!("{e}")),
            grpc.local_addr().unwrap_or_else(|e| panic!("{e}")),
        );
        match App::build_with_listeners(cfg, &Env::new(), http, grpc).await {
            Ok(app) => return app.spawn(),
            Err(e) if format!("{e:#}").contains("lock") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("start: {e:#}"),
        }
    }
    panic!("the store stayed locked");
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what} within 30 s");
}

async fn ready(app: &RunningApp) {
    wait_for("ready", || app.readiness().is_ready()).await;
}

fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_on_a_new_node_is_a_config_error_before_anything_is_bound() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kek = generate_kek_hex(&mut SystemRng::new()).unwrap_or_else(|e| panic!("{e}"));
    write_key_file(&dir.path().join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(
        dir.path(),
        1,
        &[1, 2],
        "127.0.0.1:1".parse().unwrap_or_else(|e| panic!("{e}")),
        "127.0.0.1:2".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let error = App::build(cfg.clone(), &Env::new())
        .await
        .err()
        .unwrap_or_else(|| panic!("built a new cluster without its bootstrap file"));
    let config_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ConfigError>())
        .unwrap_or_else(|| panic!("not a config error: {error:#}"));
    assert!(
        config_error.concerns("cluster.bootstrap.admin_file"),
        "{error:#}"
    );
    assert!(
        !exists(&dir.path().join("node-1")),
        "the data dir was created"
    );

    // Another initial member with the same config never reads the file: it
    // is node 1's (one config can serve every member).
    let second = config(
        dir.path(),
        2,
        &[1, 2],
        "127.0.0.1:3".parse().unwrap_or_else(|e| panic!("{e}")),
        "127.0.0.1:4".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let file = bootstrap_node::read_admin_file(&second).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            file,
            AdminFile::Ignored {
                bootstrapper: 1,
                ..
            }
        ),
        "{file:?}"
    );
    assert!(bootstrap_node::plan(&second, &file).is_none());
}

#[test]
fn a_missing_file_is_fine_only_once_the_cluster_is_bootstrapped() {
    let missing = AdminFile::Missing(PathBuf::from("/nonexistent/bootstrap-admin.json"));
    let fresh = ConfigState::new().snapshot();
    assert!(bootstrap_node::check_after_start(&missing, &fresh).is_err());
    assert!(bootstrap_node::check_after_start(&AdminFile::NotConfigured, &fresh).is_ok());

    let mut state = ConfigState::new();
    let bootstrapped = state.apply(&ConfigRequest {
        request_id: RequestId([1; 16]),
        issued_at: SystemClock.now(),
        command: Command::Bootstrap {
            node_id: 1,
            admin: None,
            steps: Vec::new(),
        },
    });
    assert!(bootstrapped.is_ok(), "{bootstrapped:?}");
    assert!(bootstrap_node::check_after_start(&missing, &state.snapshot()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapped_cluster_never_bootstraps_again() {
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = dir.path();
        let mut rng = SystemRng::new();
        let kek = generate_kek_hex(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        write_key_file(&dir.join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
        let admin =
            AdminBootstrap::generate("main", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        admin
            .write_new(&admin_path(dir))
            .unwrap_or_else(|e| panic!("{e}"));
        let key_id = admin.access_key_id.as_str().to_owned();

        tracing::info!("--- first start: one bootstrap entry, the file consumed");
        let app = start(dir).await;
        ready(&app).await;
        wait_for("the file consumed", || !exists(&admin_path(dir))).await;
        let snapshot = app.node().snapshot().borrow().clone();
        let record = snapshot
            .nodes()
            .bootstrap
            .clone()
            .unwrap_or_else(|| panic!("no bootstrap record"));
        assert_eq!(record.node_id, 1);
        assert!(snapshot.access_key(&key_id).is_some());
        assert!(
            snapshot
                .key_ring()
                .active(KeyPurpose::SessionToken)
                .is_some()
        );

        tracing::info!("--- the operator deletes the administrator's access key");
        let deleted = app
            .node()
            .write(ConfigRequest {
                request_id: RequestId([42; 16]),
                issued_at: SystemClock.now(),
                command: Command::DeleteAccessKey {
                    account_id: admin.account_id,
                    user_name: Some(String::from("admin")),
                    access_key_id: key_id.clone(),
                },
            })
            .await;
        assert!(deleted.is_ok(), "{deleted:?}");
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));

        tracing::info!("--- restart with the same file again (a leftover Secret)");
        admin
            .write_new(&admin_path(dir))
            .unwrap_or_else(|e| panic!("{e}"));
        let app = start(dir).await;
        ready(&app).await;
        wait_for("the leftover file consumed", || !exists(&admin_path(dir))).await;
        let snapshot = app.node().snapshot().borrow().clone();
        assert!(
            snapshot.access_key(&key_id).is_none(),
            "the deleted key was created again"
        );
        assert_eq!(snapshot.nodes().bootstrap.as_ref(), Some(&record));
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));

        tracing::info!("--- restart with another administrator's file: refused, set aside");
        let other =
            AdminBootstrap::generate("other", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        other
            .write_new(&admin_path(dir))
            .unwrap_or_else(|e| panic!("{e}"));
        let app = start(dir).await;
        ready(&app).await;
        let aside = dir.join("bootstrap-admin.json.refused");
        wait_for("the other file set aside", || exists(&aside)).await;
        assert!(!exists(&admin_path(dir)));
        let snapshot = app.node().snapshot().borrow().clone();
        assert!(snapshot.account(&other.account_id).is_none());
        assert!(snapshot.access_key(other.access_key_id.as_str()).is_none());
        assert_eq!(snapshot.nodes().bootstrap.as_ref(), Some(&record));
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));

        tracing::info!("--- restart without any file: the normal case");
        let app = start(dir).await;
        ready(&app).await;
        assert_eq!(
            app.node().snapshot().borrow().nodes().bootstrap.as_ref(),
            Some(&record)
        );
        app.shutdown()
            .await
            .unwrap_or_else(|e| panic!("shutdown: {e:#}"));
    })
    .await;
    assert!(outcome.is_ok(), "test exceeded {TEST_TIMEOUT:?}");
}
