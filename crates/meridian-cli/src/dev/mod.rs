//! `meridian dev`: a local multi-region cluster, one OS process per node.
//!
//! First run on an empty (or missing) data dir: plan the nodes
//! ([`layout::plan_new`]), generate the cluster's KEK (one key, written 0600
//! into every node's data dir) and the administrator's credentials (written
//! 0600 as node 1's bootstrap file, which node 1 applies through Raft and then
//! deletes: see `meridian_server::bootstrap`), write every `node-N.toml`,
//! start the nodes, write `cluster.json` and `env.sh`, wait until every node
//! is ready, print where everything is, and stay in the foreground.
//!
//! A later run on the same data dir finds the `node-N.toml` files and
//! restarts that cluster from its data (no second bootstrap: the nodes'
//! logs are not empty); the administrator's credentials are read back from
//! `cluster.json`. Flags that shape a new cluster are then ignored.
//!
//! A lock file keeps two `meridian dev` off one data dir; ports are checked
//! free before anything starts.

pub mod layout;
pub mod nodes;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use meridian_core::rand::SystemRng;
use meridian_server::bootstrap::AdminBootstrap;
use meridian_server::kek::{generate_kek_hex, write_key_file};
use tokio::signal::unix::{SignalKind, signal};

use crate::dev::layout::{
    ADMIN_FILE, AdminCredentials, CLUSTER_FILE, ClusterPlan, ENV_FILE, KEK_FILE, cluster_json,
    env_sh, existing_configs, node_config, node_config_toml, plan_from_configs, plan_new,
    read_admin,
};
use crate::dev::nodes::{NodeProcess, start_all, stop_all, wait_ready};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Regions of a new cluster (`None`: the default three).
    pub regions: Option<Vec<String>>,
    /// Nodes per region of a new cluster.
    pub nodes_per_region: Option<usize>,
    /// The data dir.
    pub data_dir: PathBuf,
    /// The base port of a new cluster.
    pub base_port: Option<u16>,
    /// How long to wait for every node to be ready.
    pub ready_timeout: Duration,
    /// How long nodes get to stop after SIGTERM.
    pub stop_grace: Duration,
}

/// Runs `meridian dev` until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions) -> anyhow::Result<()> {
    let root = std::path::absolute(&options.data_dir)
        .with_context(|| format!("failed to resolve {}", options.data_dir.display()))?;
    std::fs::create_dir_all(&root)
        .with_context(|| format!("failed to create {}", root.display()))?;
    let _lock = lock(&root)?;
    // Watch the stop signals before any node exists, so none can leave
    // nodes behind by killing this process with the default action.
    let mut stops = Stops::new()?;

    let configs = existing_configs(&root)?;
    let (plan, admin, fresh) = if configs.is_empty() {
        let (plan, admin) = create(&root, &options)?;
        (plan, admin, true)
    } else {
        if options.regions.is_some()
            || options.nodes_per_region.is_some()
            || options.base_port.is_some()
        {
            tracing::warn!(
                data_dir = %root.display(),
                "the data dir holds an existing cluster; --regions, --nodes-per-region and --base-port are ignored"
            );
        }
        let plan = plan_from_configs(&root, &configs)?;
        let admin = read_admin(&root.join(CLUSTER_FILE)).context(
            "failed to find the administrator's credentials of the existing cluster (use another --data-dir for a new one)",
        )?;
        (plan, admin, false)
    };
    check_ports_free(&plan)?;

    let exe = std::env::current_exe().context("failed to find the meridian executable")?;
    let mut processes = start_all(&exe, &plan.nodes)?;
    let pids: BTreeMap<u64, u32> = processes.iter().map(|p| (p.id, p.pid)).collect();
    write_file(
        &root.join(CLUSTER_FILE),
        &cluster_json(&plan, &pids, &admin)?,
        0o600,
    )?;
    write_file(&root.join(ENV_FILE), &env_sh(&plan, &admin)?, 0o600)?;
    tracing::info!(
        nodes = plan.nodes.len(),
        fresh,
        data_dir = %root.display(),
        "nodes started, waiting until they are ready"
    );

    let ready = tokio::select! {
        ready = wait_ready(&mut processes, &admin, options.ready_timeout) => ready,
        signal = stops.next() => Err(anyhow::anyhow!("stopped by {signal} while starting")),
    };
    if let Err(error) = ready {
        report_stop(&stop_all(&mut processes, options.stop_grace).await);
        return Err(error);
    }
    print_summary(&plan, &pids, &admin, fresh)?;

    let signal = supervise(&mut processes, &mut stops, &exe).await;
    eprintln_stop(&format!("{signal}: stopping every node"));
    report_stop(&stop_all(&mut processes, options.stop_grace).await);
    Ok(())
}

/// Creates the files of a new cluster.
fn create(root: &Path, options: &DevOptions) -> anyhow::Result<(ClusterPlan, AdminCredentials)> {
    let leftovers: Vec<String> = std::fs::read_dir(root)
        .with_context(|| format!("failed to read {}", root.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != LOCK_FILE)
        .collect();
    if !leftovers.is_empty() {
        bail!(
            "{} is neither empty nor a dev cluster (no node-N.toml; found {}); choose another --data-dir",
            root.display(),
            leftovers.join(", ")
        );
    }
    let regions = options.regions.clone().unwrap_or_else(|| {
        layout::DEFAULT_REGIONS
            .split(',')
            .map(str::to_owned)
            .collect()
    });
    let plan = plan_new(
        root,
        &regions,
        options.nodes_per_region.unwrap_or(1),
        options.base_port.unwrap_or(layout::DEFAULT_BASE_PORT),
    )?;
    check_ports_free(&plan)?;

    let mut rng = SystemRng::new();
    let kek = generate_kek_hex(&mut rng).context("failed to generate the KEK")?;
    let bootstrap = AdminBootstrap::generate("dev", "admin", &mut rng)
        .context("failed to generate the administrator's credentials")?;
    let admin = AdminCredentials {
        account_id: bootstrap.account_id.as_str().to_owned(),
        access_key_id: bootstrap.access_key_id.as_str().to_owned(),
        secret_access_key: bootstrap.secret_access_key.expose_secret().to_owned(),
    };
    let first = plan.first()?.id;
    for node in &plan.nodes {
        create_private_dir(&node.data_dir)?;
        write_key_file(&node.data_dir.join(KEK_FILE), &kek)
            .with_context(|| format!("failed to write the KEK of node {}", node.id))?;
        let admin_file = (node.id == first).then(|| node.data_dir.join(ADMIN_FILE));
        if let Some(path) = &admin_file {
            bootstrap
                .write_new(path)
                .context("failed to write the administrator bootstrap file")?;
        }
        let text = node_config_toml(&node_config(&plan, node, admin_file.as_deref()))?;
        write_file(&node.config, &text, 0o644)?;
    }
    Ok((plan, admin))
}

/// The signals that stop a dev cluster: Ctrl-C, SIGTERM, and SIGHUP (the
/// terminal went away; the nodes must not be left running without the
/// process that would stop them).
struct Stops {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Stops {
    fn new() -> anyhow::Result<Stops> {
        Ok(Stops {
            terminate: signal(SignalKind::terminate()).context("failed to watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("failed to watch SIGINT")?,
            hangup: signal(SignalKind::hangup()).context("failed to watch SIGHUP")?,
        })
    }

    /// The next stop signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// Watches the nodes until a stop signal arrives; reports (and does not
/// restart) any node that exits meanwhile. Returns the signal's name.
async fn supervise(processes: &mut [NodeProcess], stops: &mut Stops, exe: &Path) -> &'static str {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            signal = stops.next() => return signal,
            _ = tick.tick() => {}
        }
        for process in processes.iter_mut() {
            if let Some(status) = process.exited() {
                eprintln_stop(&format!(
                    "node {} (pid {}) exited ({status}); it is not restarted. Restart it with: {} serve --config {} (log: {})",
                    process.id,
                    process.pid,
                    exe.display(),
                    process.config.display(),
                    process.log.display()
                ));
            }
        }
    }
}

const LOCK_FILE: &str = "dev.lock";

/// Locks the data dir for this process's lifetime.
fn lock(root: &Path) -> anyhow::Result<std::fs::File> {
    let path = root.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `meridian dev` is running on {}; stop it first or use another --data-dir",
            root.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("failed to lock {}", path.display()))
        }
    }
}

fn check_ports_free(plan: &ClusterPlan) -> anyhow::Result<()> {
    for node in &plan.nodes {
        for (what, addr) in [("HTTP", node.http), ("gRPC", node.grpc)] {
            if let Err(error) = TcpListener::bind(addr) {
                bail!(
                    "port {} ({what} of node {}) is not free: {error}; {}",
                    addr.port(),
                    node.id,
                    stale_hint(plan)
                );
            }
        }
    }
    Ok(())
}

/// What to tell someone whose ports are taken: the pids a previous
/// `meridian dev` on this data dir recorded (if it was killed without
/// stopping its nodes, they may still be running), or how to avoid the
/// collision.
fn stale_hint(plan: &ClusterPlan) -> String {
    let recorded = std::fs::read_to_string(plan.root.join(CLUSTER_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<layout::ClusterFile>(&text).ok())
        .map(|file| {
            file.regions
                .iter()
                .flat_map(|region| region.nodes.iter())
                .map(|node| node.pid.to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if recorded.is_empty() {
        String::from(
            "stop whatever uses it, or start a new cluster with another --base-port and --data-dir",
        )
    } else {
        format!(
            "nodes of an earlier run may still be running (pids {} in {}); stop them (kill {}) or use another --base-port and --data-dir",
            recorded.join(", "),
            plan.root.join(CLUSTER_FILE).display(),
            recorded.join(" ")
        )
    }
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("failed to create {}", path.display()))
}

/// Writes a file atomically (temporary file, then rename) with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("failed to write {}", path.display()))
}

fn print_summary(
    plan: &ClusterPlan,
    pids: &BTreeMap<u64, u32>,
    admin: &AdminCredentials,
    fresh: bool,
) -> anyhow::Result<()> {
    let regions = plan.regions();
    let mut out = String::new();
    writeln!(
        out,
        "\nmeridian dev: {} {} in {} {} {} ready ({})\n",
        plan.nodes.len(),
        if plan.nodes.len() == 1 {
            "node"
        } else {
            "nodes"
        },
        regions.len(),
        if regions.len() == 1 {
            "region"
        } else {
            "regions"
        },
        if plan.nodes.len() == 1 { "is" } else { "are" },
        if fresh {
            "new cluster"
        } else {
            "restarted from its data"
        },
    )?;
    writeln!(
        out,
        "  {:<16} {:>4}  {:<24} {:<24} {:>7}",
        "region", "node", "http (STS, IAM)", "grpc", "pid"
    )?;
    for node in &plan.nodes {
        writeln!(
            out,
            "  {:<16} {:>4}  {:<24} {:<24} {:>7}",
            node.region,
            node.id,
            node.http_url(),
            node.grpc_url(),
            pids.get(&node.id).copied().unwrap_or(0)
        )?;
    }
    writeln!(
        out,
        "\n  account {}, user admin with AdministratorAccess, access key {}",
        admin.account_id, admin.access_key_id
    )?;
    writeln!(
        out,
        "  data dir {}  (cluster.json, env.sh, node-N.toml, node-N.log)",
        plan.root.display()
    )?;
    writeln!(out, "\nUse it from any shell:\n")?;
    writeln!(out, "  source {}", plan.root.join(ENV_FILE).display())?;
    writeln!(out, "  aws sts get-caller-identity")?;
    writeln!(out, "\nCtrl-C stops every node.")?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .context("failed to print the summary")
}

fn report_stop(outcomes: &[(u64, String)]) {
    for (id, outcome) in outcomes {
        eprintln_stop(&format!("node {id}: {outcome}"));
    }
}

/// Lines for the person at the terminal (not log records).
fn eprintln_stop(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "meridian dev: {line}");
}
