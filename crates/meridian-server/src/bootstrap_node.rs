//! How a node takes part in bootstrap (`crate::bootstrap` has the design):
//! which member bootstraps, what it makes of the administrator file at
//! start, and what happens to the file once the cluster is bootstrapped.
//!
//! ```text
//! before anything is bound   read_admin_file: not configured | ignored (not the
//!                            bootstrapping member) | present (read and checked)
//!                            | missing — an error if this node's store is new
//! after the store is open    check_after_start: missing and the applied state
//!                            shows no bootstrap either — an error
//! spawned                    run_task: bootstrap::run, then the file is deleted
//!                            (it is the one the cluster's record names) or
//!                            refused loudly and set aside (*.refused); the
//!                            node keeps running either way
//! ```
//!
//! The bootstrapping member is the lowest-id initial member: the node that
//! initialises Raft, and the only one that reads the administrator file, so
//! that a single config (a Kubernetes ConfigMap) can name the file for every
//! member, and so that no two members ever race to bootstrap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_edge::state::{Clock, KeyMaterial};
use meridian_grpc::node::Node;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bootstrap::{
    self, AdminBootstrap, BootstrapContext, BootstrapError, BootstrapOutcome, BootstrapPlan,
};
use crate::config::error::{ConfigError, Problem};
use crate::config::{ClusterMode, Config};
use crate::writer::NodeWriter;

/// The key problems are reported under.
const KEY: &str = "cluster.bootstrap.admin_file";

/// The administrator bootstrap file as this node found it at start.
#[derive(Debug)]
pub enum AdminFile {
    /// No file configured (or the node joins an existing cluster).
    NotConfigured,
    /// Configured, but this node is not the bootstrapping member.
    Ignored {
        /// The configured path.
        path: PathBuf,
        /// The bootstrapping member.
        bootstrapper: u64,
    },
    /// Configured and absent, on a node whose store is not new: fine once the
    /// applied state shows a bootstrap ([`check_after_start`]).
    Missing(PathBuf),
    /// Read and checked.
    Present {
        /// Where it is.
        path: PathBuf,
        /// What it holds.
        admin: AdminBootstrap,
    },
}

/// The bootstrapping member among `config`'s initial members, when this node
/// is one of a new cluster's initial members.
pub fn bootstrapper(config: &Config) -> Option<u64> {
    match &config.cluster {
        ClusterMode::Bootstrap { members, .. } => members.iter().map(|m| m.id).min(),
        ClusterMode::Join { .. } => None,
    }
}

/// Reads the administrator file before anything is bound. A file configured
/// on the bootstrapping member and absent is a configuration error when this
/// node's store is new: the cluster it is about to create could never be
/// bootstrapped.
pub fn read_admin_file(config: &Config) -> Result<AdminFile, ConfigError> {
    let ClusterMode::Bootstrap {
        admin_file: Some(path),
        ..
    } = &config.cluster
    else {
        return Ok(AdminFile::NotConfigured);
    };
    let bootstrapper = bootstrapper(config).unwrap_or(config.node_id);
    if bootstrapper != config.node_id {
        return Ok(AdminFile::Ignored {
            path: path.clone(),
            bootstrapper,
        });
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if store_is_new(&config.data_dir) {
                Err(problem(format!(
                    "{} does not exist, and this node's data dir has no store yet: the new cluster it would create could never be bootstrapped; put the administrator bootstrap file there (meridian init writes one), or remove admin_file to bootstrap without an administrator",
                    path.display()
                )))
            } else {
                Ok(AdminFile::Missing(path.clone()))
            }
        }
        _ => AdminBootstrap::read(path)
            .map(|admin| AdminFile::Present {
                path: path.clone(),
                admin,
            })
            .map_err(|e| problem(e.to_string())),
    }
}

/// Checks, once the store is open, that a missing administrator file is the
/// normal case (the cluster is bootstrapped and the file was consumed) and
/// not a lost one (never bootstrapped: it would never become ready).
pub fn check_after_start(file: &AdminFile, snapshot: &ConfigSnapshot) -> Result<(), ConfigError> {
    match file {
        AdminFile::Missing(path) if !bootstrap::is_bootstrapped(snapshot) => Err(problem(format!(
            "{} does not exist, and the cluster was never bootstrapped (the applied state has no bootstrap record and no session key): put the administrator bootstrap file back; nothing else can bootstrap this cluster",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The bootstrap this node runs, if any: the bootstrapping member runs it,
/// with the administrator file when it has one, and without when none is
/// configured; a missing file means the cluster is bootstrapped already
/// ([`check_after_start`]), which `bootstrap::run` finds out for itself.
pub fn plan(config: &Config, file: &AdminFile) -> Option<BootstrapPlan> {
    let ClusterMode::Bootstrap { members, .. } = &config.cluster else {
        return None;
    };
    let admin = match file {
        AdminFile::Ignored { path, bootstrapper } => {
            tracing::info!(
                file = %path.display(),
                bootstrapper,
                "not the bootstrapping member: the administrator file is node {bootstrapper}'s to read"
            );
            return None;
        }
        AdminFile::Missing(_) => None,
        AdminFile::NotConfigured => None,
        AdminFile::Present { admin, .. } => Some(admin.clone()),
    };
    if bootstrapper(config) != Some(config.node_id) {
        return None;
    }
    let mut regions: Vec<String> = Vec::new();
    for member in members {
        if !regions.contains(&member.region) {
            regions.push(member.region.clone());
        }
    }
    Some(BootstrapPlan {
        node_id: config.node_id,
        partition: config.partition.clone(),
        regions,
        admin,
        member_ids: members.iter().map(|m| m.id).collect(),
    })
}

/// Runs the bootstrap and then settles the administrator file (module docs).
pub async fn run_task(
    plan: BootstrapPlan,
    file: AdminFile,
    node: Arc<Node>,
    keys: Arc<KeyMaterial>,
    clock: Arc<dyn Clock>,
    writes: TaskTracker,
    stop: CancellationToken,
) {
    let writer = NodeWriter::new(Arc::clone(&node), writes);
    let mut rng = meridian_core::rand::SystemRng::new();
    let ctx = BootstrapContext {
        writer: &writer,
        snapshots: node.snapshot(),
        kek: keys.kek(),
        clock: clock.as_ref(),
        rng: &mut rng,
        cancel: stop,
    };
    let outcome = match bootstrap::run(&plan, ctx).await {
        Ok(outcome) => outcome,
        Err(BootstrapError::Cancelled) => {
            tracing::info!("bootstrap interrupted by shutdown; it resumes at the next start");
            return;
        }
        Err(error) => {
            tracing::error!(%error, "bootstrap failed");
            return;
        }
    };
    match &outcome {
        BootstrapOutcome::Applied { steps } => match &plan.admin {
            Some(admin) => tracing::info!(
                account_id = %admin.account_id,
                user = %admin.user_name,
                access_key_id = %admin.access_key_id,
                steps = steps.len(),
                "cluster and administrator bootstrapped"
            ),
            None => tracing::info!(steps = steps.len(), "cluster bootstrapped"),
        },
        BootstrapOutcome::Adopted(record) => tracing::info!(
            node = record.node_id,
            "cluster bootstrapped before bootstrap records existed: the fact is now recorded"
        ),
        BootstrapOutcome::AlreadyBootstrapped(record) => tracing::info!(
            node = record.node_id,
            at_ms = record.at.unix_millis(),
            "cluster already bootstrapped"
        ),
    }
    if let AdminFile::Present { path, admin } = &file {
        settle_file(path, admin, &outcome);
    }
}

/// Deletes the file once its bootstrap is the cluster's, or refuses it.
fn settle_file(path: &Path, admin: &AdminBootstrap, outcome: &BootstrapOutcome) {
    let ours = match outcome.existing_record() {
        None => true,
        Some(record) => bootstrap::record_names(record, admin),
    };
    if ours {
        match bootstrap::consume_file(path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "administrator bootstrap file applied and removed")
            }
            Err(error) => tracing::warn!(
                %error,
                "the administrator bootstrap file is applied but could not be removed; delete it (and the secret it came from): it holds a long-term secret key, and it is never applied again"
            ),
        }
        return;
    }
    let record = outcome.existing_record();
    let recorded_key = record
        .and_then(|r| r.admin.as_ref())
        .map(|a| a.access_key_id.clone())
        .unwrap_or_default();
    let set_aside = bootstrap::set_aside(path);
    tracing::error!(
        file = %path.display(),
        account_id = %admin.account_id,
        access_key_id = %admin.access_key_id,
        bootstrapped_by = record.map(|r| r.node_id).unwrap_or_default(),
        bootstrapped_at_ms = record.map(|r| r.at.unix_millis()).unwrap_or_default(),
        bootstrap_access_key_id = %recorded_key,
        set_aside_as = %set_aside.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "refusing the administrator bootstrap file: the cluster is already bootstrapped with another administrator, and a bootstrap never runs twice; nothing from this file was applied (create accounts and keys with the IAM or Admin API instead) — delete the file and the secret it came from"
    );
    if let Err(error) = set_aside {
        tracing::warn!(%error, "the refused administrator bootstrap file could not be renamed; it stays where it is and is refused again at the next start");
    }
}

/// Whether `data_dir` holds no store yet (its `store` directory is absent
/// or empty): the node is about to create or join a cluster for the first
/// time.
pub fn store_is_new(data_dir: &Path) -> bool {
    match std::fs::read_dir(data_dir.join("store")) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn problem(reason: String) -> ConfigError {
    ConfigError::Invalid {
        problems: vec![Problem::new(KEY, reason)],
    }
}
