//! `App`: builds a node from its validated [`Config`], runs it, and shuts it
//! down in order.
//!
//! ```text
//! build:  KEK (file/env) ─ admin bootstrap file ─ data dir      (nothing bound yet;
//!         ─ bind HTTP and gRPC listeners                          config problems exit 64)
//!         ─ Node::start: RocksDB, Raft (bootstrap | join | restart), gRPC Raft,
//!           Admin and Verifier services
//!         ─ edge state: snapshot channel, SigV4 authenticator, STS+IAM handlers,
//!           KEK-backed key material, NodeWriter, clock, system randomness
//! spawn:  tasks on one TaskTracker: edge-http, readiness, bootstrap (when due),
//!         and every configuration write (so none is left behind by shutdown)
//! shutdown (bounded by shutdown_grace_period):
//!         readiness false ─ stop accepting HTTP, drain ─ stop gRPC and Raft
//!         (Node::shutdown) ─ background tasks end ─ store closed (its log
//!         appends were synced as they happened)
//! ```
//!
//! A fatal Raft stop (a storage error makes openraft stop the node) is
//! noticed by the readiness task, which turns the node not-ready and asks
//! the process to shut down ([`RunningApp::fatal`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use meridian_core::config::cluster::NodeInfo;
use meridian_edge::operation::HandlerTable;
use meridian_edge::state::{
    Clock, EdgeObservability, EdgeParts, EdgeState, Freshness, KeyMaterial, Readiness, SystemClock,
};
use meridian_grpc::node::{Node, NodeConfig, StartMode};
use meridian_grpc::timings::RaftTimings as NodeTimings;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::audit::{self, AuditLog, AuditWriter};
use crate::bootstrap::BootstrapPlan;
use crate::bootstrap_node::{self, AdminFile};
use crate::config::env::Env;
use crate::config::error::ConfigError;
use crate::config::{ClusterMode, Config};
use crate::kek::load_kek;
use crate::random::SystemRandom;
use crate::readiness;
use crate::telemetry;
use crate::writer::NodeWriter;

/// How often readiness is re-evaluated.
const READINESS_INTERVAL: Duration = Duration::from_millis(200);

/// A node built and bound, not yet serving HTTP.
pub struct App {
    config: Config,
    node: Arc<Node>,
    edge: EdgeState,
    http_listener: TcpListener,
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    readiness: Readiness,
    freshness: Freshness,
    keys: Arc<KeyMaterial>,
    clock: Arc<dyn Clock>,
    rotation: Arc<meridian_grpc::rotation::RotationDriver>,
    bootstrap: Option<(BootstrapPlan, AdminFile)>,
    tracker: TaskTracker,
    audit: AuditLog,
    audit_writer: AuditWriter,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("node_id", &self.config.node_id)
            .field("http", &self.http_addr)
            .field("grpc", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Reads the key material, binds the configured addresses and starts the
    /// node.
    pub async fn build(config: Config, env: &Env) -> anyhow::Result<App> {
        let secrets = Secrets::load(&config, env)?;
        let http = TcpListener::bind(config.http.listen)
            .await
            .with_context(|| {
                format!("failed to bind the HTTP listener on {}", config.http.listen)
            })?;
        let grpc = TcpListener::bind(config.grpc.listen)
            .await
            .with_context(|| {
                format!("failed to bind the gRPC listener on {}", config.grpc.listen)
            })?;
        App::start(config, secrets, http, grpc).await
    }

    /// As [`App::build`], on listeners the caller bound (tests bind port 0).
    pub async fn build_with_listeners(
        config: Config,
        env: &Env,
        http: TcpListener,
        grpc: TcpListener,
    ) -> anyhow::Result<App> {
        let secrets = Secrets::load(&config, env)?;
        App::start(config, secrets, http, grpc).await
    }

    async fn start(
        config: Config,
        secrets: Secrets,
        http_listener: TcpListener,
        grpc_listener: TcpListener,
    ) -> anyhow::Result<App> {
        let http_addr = http_listener
            .local_addr()
            .context("failed to read the HTTP listener's address")?;
        let grpc_addr = grpc_listener
            .local_addr()
            .context("failed to read the gRPC listener's address")?;
        create_private_dir(&config.data_dir)?;
        let metrics = telemetry::install();
        let (audit, audit_writer) = audit::open(
            &config.audit,
            audit::Origin {
                node_id: config.node_id,
                region: config.region.clone(),
            },
        )
        .context("failed to open the audit trail")?;

        let info = NodeInfo {
            region: config.region.clone(),
            raft_addr: config.grpc.advertise.clone(),
            api_addr: config.http.advertise.clone(),
        };
        let mode = match &config.cluster {
            ClusterMode::Bootstrap { members, .. } => StartMode::Bootstrap {
                members: members
                    .iter()
                    .map(|member| {
                        let info = NodeInfo {
                            region: member.region.clone(),
                            raft_addr: member.grpc.clone(),
                            api_addr: member.http.clone().unwrap_or_default(),
                        };
                        (member.id, info)
                    })
                    .collect(),
            },
            ClusterMode::Join { seeds } => StartMode::Join {
                seeds: seeds.clone(),
            },
        };
        let node_config = NodeConfig {
            node_id: config.node_id,
            info,
            data_dir: config.data_dir.join("store"),
            timings: node_timings(&config),
            cluster_name: String::from("meridian"),
            resolver: None,
        };
        // The Admin API is mounted on the node's gRPC port, so it is built
        // first and bound to the node once it runs.
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let freshness = Freshness::new();
        let admin = crate::admin::service(
            &config,
            secrets.admin_kek,
            Arc::clone(&clock),
            freshness.clone(),
        );
        // The Verifier too, over the edge's key material.
        let keys = Arc::new(KeyMaterial::new(secrets.kek));
        let readiness = Readiness::new();
        let verifier = crate::verifier::service(&keys, Arc::clone(&clock), readiness.clone());
        let routes = admin.routes().add_service(verifier.clone().into_server());
        let node = Node::start_with_services(node_config, mode, grpc_listener, routes)
            .await
            .with_context(|| format!("failed to start node {}", config.node_id))?;
        let node = Arc::new(node);
        verifier.bind(node.snapshot());

        let tracker = TaskTracker::new();
        let rotation = crate::admin::bind(&admin, Arc::clone(&node), Arc::clone(&keys));
        let mut handlers = HandlerTable::new();
        meridian_edge::sts::register(&mut handlers).context("failed to register STS operations")?;
        meridian_edge::iam::register(&mut handlers).context("failed to register IAM operations")?;
        let mut limits = config.edge_limits;
        limits.max_config_staleness = config.max_config_staleness;
        let observability = EdgeObservability {
            audit: audit::sink(&audit),
            metrics: Some(telemetry::renderer(metrics.clone())),
        };
        let edge = EdgeState::with_observability(
            EdgeParts {
                snapshots: node.snapshot(),
                region: config.region.clone(),
                clock: Arc::clone(&clock),
                random: Arc::new(SystemRandom),
                writer: Arc::new(NodeWriter::new(Arc::clone(&node), tracker.clone())),
                authenticator: Arc::new(meridian_edge::auth::SigV4Authenticator::new(
                    &config.region,
                    Arc::clone(&keys),
                )),
                keys: Arc::clone(&keys),
                freshness: freshness.clone(),
                handlers,
                readiness: readiness.clone(),
                limits,
            },
            observability,
        );
        crate::federation::install(&edge, &config, node.snapshot(), Arc::clone(&clock))?;
        if let Some(endpoint) = &config.saml.endpoint {
            edge.sso()
                .set_service_provider(meridian_edge::sso::SamlServiceProvider::own(endpoint));
        }

        // Now that the store is open: a missing administrator file is fine
        // only on a bootstrapped cluster.
        let checked = bootstrap_node::check_after_start(&secrets.admin, &node.snapshot().borrow());
        if let Err(error) = checked {
            node.shutdown().await;
            return Err(error.into());
        }
        let bootstrap =
            bootstrap_node::plan(&config, &secrets.admin).map(|plan| (plan, secrets.admin));
        Ok(App {
            config,
            node,
            edge,
            http_listener,
            http_addr,
            grpc_addr,
            readiness,
            freshness,
            keys,
            clock,
            rotation,
            bootstrap,
            tracker,
            audit,
            audit_writer,
            metrics,
        })
    }

    /// The audit trail (the Admin API records its configuration changes
    /// here too).
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The HTTP edge's bound address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gRPC listener's bound address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Starts serving: the HTTP edge, readiness, and the bootstrap when due.
    pub fn spawn(self) -> RunningApp {
        let tracker = self.tracker.clone();
        let stop_http = CancellationToken::new();
        let stop_tasks = CancellationToken::new();
        let fatal = CancellationToken::new();
        let shutting_down = Arc::new(AtomicBool::new(false));

        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            git_sha = option_env!("MERIDIAN_GIT_SHA").unwrap_or("unknown"),
            node_id = self.config.node_id,
            region = %self.config.region,
            partition = %self.config.partition,
            http = %self.http_addr,
            http_advertise = %self.config.http.advertise,
            grpc = %self.grpc_addr,
            grpc_advertise = %self.config.grpc.advertise,
            data_dir = %self.config.data_dir.display(),
            kek_fingerprint = %self.keys.kek().fingerprint(),
            "meridian node started"
        );

        let router = meridian_edge::router::router(self.edge.clone());
        let http = spawn_named(
            &tracker,
            "edge-http",
            meridian_edge::server::serve(
                self.http_listener,
                router,
                self.config.serve,
                stop_http.clone().cancelled_owned(),
            ),
        );

        spawn_named(
            &tracker,
            "readiness",
            readiness_loop(ReadinessTask {
                node: Arc::clone(&self.node),
                keys: Arc::clone(&self.keys),
                clock: Arc::clone(&self.clock),
                readiness: self.readiness.clone(),
                freshness: self.freshness.clone(),
                lease: self.config.raft.election_timeout_max,
                shutting_down: Arc::clone(&shutting_down),
                stop: stop_tasks.clone(),
                fatal: fatal.clone(),
            }),
        );

        spawn_named(
            &tracker,
            "key-rotation",
            crate::admin::rotation_loop(
                Arc::clone(&self.rotation),
                Arc::clone(&self.clock),
                crate::admin::ROTATION_TICK,
                stop_tasks.clone(),
            ),
        );

        spawn_named(
            &tracker,
            "metrics",
            telemetry::Sampler {
                node: Arc::clone(&self.node),
                freshness: self.freshness.clone(),
                readiness: self.readiness.clone(),
                clock: Arc::clone(&self.clock),
                max_staleness: self.config.max_config_staleness,
                handle: self.metrics.clone(),
            }
            .run(stop_tasks.clone()),
        );

        if let Some((plan, admin_file)) = self.bootstrap {
            let node = Arc::clone(&self.node);
            let keys = Arc::clone(&self.keys);
            let clock = Arc::clone(&self.clock);
            let stop = stop_tasks.clone();
            let writes = tracker.clone();
            spawn_named(&tracker, "bootstrap", async move {
                bootstrap_node::run_task(plan, admin_file, node, keys, clock, writes, stop).await;
            });
        }

        RunningApp {
            node: self.node,
            rotation: self.rotation,
            readiness: self.readiness,
            tracker,
            http: Some(http),
            stop_http,
            stop_tasks,
            fatal,
            shutting_down,
            grace: self.config.shutdown_grace_period,
            http_addr: self.http_addr,
            grpc_addr: self.grpc_addr,
            audit_writer: Some(self.audit_writer),
        }
    }
}

/// A serving node.
pub struct RunningApp {
    node: Arc<Node>,
    rotation: Arc<meridian_grpc::rotation::RotationDriver>,
    readiness: Readiness,
    tracker: TaskTracker,
    http: Option<JoinHandle<()>>,
    stop_http: CancellationToken,
    stop_tasks: CancellationToken,
    fatal: CancellationToken,
    shutting_down: Arc<AtomicBool>,
    grace: Duration,
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    audit_writer: Option<AuditWriter>,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("http", &self.http_addr)
            .field("grpc", &self.grpc_addr)
            .field("ready", &self.readiness.is_ready())
            .finish_non_exhaustive()
    }
}

impl RunningApp {
    /// The HTTP edge's bound address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gRPC listener's bound address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The readiness flag behind `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The node handle (status, snapshots).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The key-rotation driver the node's rotation task ticks (a test can
    /// tick it at an instant of its choosing).
    pub fn rotation(&self) -> &meridian_grpc::rotation::RotationDriver {
        &self.rotation
    }

    /// Resolves when the node cannot go on (Raft stopped on a fatal error).
    pub fn fatal(&self) -> CancellationToken {
        self.fatal.clone()
    }

    /// Shuts down in order (module docs), within the grace period.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + self.grace;
        tracing::info!(grace_secs = self.grace.as_secs(), "shutting down");
        // 1. Not ready, for good: load balancers stop sending new requests.
        self.shutting_down.store(true, Ordering::Release);
        self.readiness.set(false);
        self.stop_tasks.cancel();
        // 2. Stop accepting HTTP and drain in-flight requests (the edge's
        //    serve() bounds the drain itself).
        self.stop_http.cancel();
        let mut clean = true;
        if let Some(http) = self.http.take() {
            match tokio::time::timeout_at(deadline, http).await {
                Ok(_) => tracing::info!("http edge stopped"),
                Err(_) => {
                    clean = false;
                    tracing::warn!("http edge did not drain within the grace period");
                }
            }
        }
        // 3–4. Stop gRPC and Raft.
        if tokio::time::timeout_at(deadline, self.node.shutdown())
            .await
            .is_err()
        {
            clean = false;
            tracing::warn!("raft and grpc did not stop within the grace period");
        } else {
            tracing::info!("raft and grpc stopped");
        }
        // 5. Background tasks end; the store closes when the last handle goes.
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            clean = false;
            tracing::warn!("background tasks did not end within the grace period");
        }
        drop(self.node);
        // 6. The audit writer syncs what is queued and stops once the last
        //    request holding the trail is gone.
        if let Some(writer) = self.audit_writer.take() {
            let joined = tokio::task::spawn_blocking(move || writer.join());
            if tokio::time::timeout_at(deadline, joined).await.is_err() {
                clean = false;
                tracing::warn!("the audit writer did not stop within the grace period");
            }
        }
        if clean {
            tracing::info!("shutdown complete");
            Ok(())
        } else {
            anyhow::bail!(
                "shutdown exceeded its grace period of {} s",
                self.grace.as_secs()
            )
        }
    }
}

/// Runs a node until SIGTERM or SIGINT (or a fatal Raft stop), then shuts
/// it down: `meridian serve`.
pub async fn run(config: Config, env: &Env) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("failed to watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("failed to watch SIGINT")?;
    let app = App::build(config, env).await?;
    let running = app.spawn();
    let fatal = running.fatal();
    let cause = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
        () = fatal.cancelled() => "a fatal raft error",
    };
    tracing::info!(cause, "shutdown requested");
    let stopped = running.shutdown().await;
    if cause == "a fatal raft error" {
        anyhow::bail!("raft stopped on a fatal error; see the log above");
    }
    stopped
}

/// What must be read before anything is bound.
struct Secrets {
    kek: meridian_core::keyring::Kek,
    /// The same KEK again, for the Admin API's own key material.
    admin_kek: meridian_core::keyring::Kek,
    admin: AdminFile,
}

impl Secrets {
    fn load(config: &Config, env: &Env) -> Result<Secrets, ConfigError> {
        let kek = load_kek(&config.kek, env)?;
        let admin_kek = load_kek(&config.kek, env)?;
        let admin = bootstrap_node::read_admin_file(config)?;
        Ok(Secrets {
            kek,
            admin_kek,
            admin,
        })
    }
}

struct ReadinessTask {
    node: Arc<Node>,
    keys: Arc<KeyMaterial>,
    clock: Arc<dyn Clock>,
    readiness: Readiness,
    freshness: Freshness,
    lease: Duration,
    shutting_down: Arc<AtomicBool>,
    stop: CancellationToken,
    fatal: CancellationToken,
}

async fn readiness_loop(task: ReadinessTask) {
    let mut snapshots = task.node.snapshot();
    let mut last = None;
    let mut catch_up = readiness::CatchUp::default();
    let mut tick = tokio::time::interval(READINESS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = task.stop.cancelled() => break,
            _ = tick.tick() => {}
            changed = snapshots.changed() => if changed.is_err() { break },
        }
        let status = task.node.status();
        let snapshot = snapshots.borrow_and_update().clone();
        let now = task.clock.now();
        let shutting_down = task.shutting_down.load(Ordering::Acquire);
        let lagging = catch_up.lagging(
            &status,
            tokio::time::Instant::now(),
            readiness::LAG_TOLERANCE,
        );
        let verdict = readiness::check(&status, lagging, &snapshot, &task.keys, now, shutting_down);
        if verdict == Err(readiness::NotReady::RaftStopped) && !shutting_down {
            tracing::error!("raft stopped on its own; shutting the node down");
            task.fatal.cancel();
        }
        let current = readiness::is_current(&status, task.lease);
        readiness::update(
            &task.readiness,
            &task.freshness,
            verdict,
            current,
            now,
            &mut last,
        );
    }
    task.readiness.set(false);
}

fn spawn_named<F>(tracker: &TaskTracker, name: &'static str, future: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tracing::debug!(task = name, "spawning");
    tracker.spawn(future.instrument(tracing::info_span!("task", name)))
}

fn node_timings(config: &Config) -> NodeTimings {
    let mut timings = NodeTimings::loopback();
    timings.heartbeat = config.raft.heartbeat;
    timings.election_timeout_min = config.raft.election_timeout_min;
    timings.election_timeout_max = config.raft.election_timeout_max;
    timings.write_timeout = config.raft.write_timeout;
    // An RPC must fit inside an election timeout, or a slow peer's answer
    // arrives after the election it was for.
    timings.rpc_timeout = timings.rpc_timeout.min(config.raft.election_timeout_max);
    timings
}

fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("failed to create the data dir {}", path.display()))
}

#[cfg(test)]
#[path = "app_test.rs"]
mod app_test;
