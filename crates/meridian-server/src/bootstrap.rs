//! Bootstrap of a new cluster: its partition, regions and first data key, and
//! its first account with an administrator — without any unauthenticated
//! administrative surface, and exactly once.
//!
//! # Design
//!
//! A new cluster has no principal that could sign an IAM call, so the first
//! administrator cannot be created through the API. Instead whoever creates
//! the cluster (`meridian init`, `meridian dev`, or an operator) writes an
//! **administrator bootstrap file** ([`AdminBootstrap`]): a private JSON file
//! holding the account id, the administrator's user name and a long-term
//! access key id and secret that *the writer* generated, so the writer
//! already knows the credentials it will hand out. The initial members'
//! config names the file (`[cluster.bootstrap] admin_file`); only the
//! **bootstrapping member**, the lowest-id initial member (the one that also
//! initialises Raft), reads it, and the others ignore the setting, so one
//! config can serve every member (`crate::bootstrap_node`). Its trust model
//! is the node's own files: whoever can write the file could equally replace
//! the node's KEK.
//!
//! ```text
//! meridian init ── writes ──► bootstrap-admin.json (0600)
//!                               │ read at start, before any socket
//! lowest initial member ── Raft initialised, a leader elected (writes forward)
//!   └─ bootstrap task, on the applied snapshot:
//!        record present ──────────────► already bootstrapped: nothing proposed
//!        a session key but no record ─► (bootstrapped by an older release)
//!                                       Bootstrap { steps: [] }: the record only
//!        otherwise ───────────────────► Bootstrap { steps: SetPartition,
//!            CreateRegion × n, StageKey(1), ActivateKey(1), CreateAccount,
//!            CreateUser admin, AttachPolicy arn:{p}:iam::aws:policy/AdministratorAccess,
//!            CreateAccessKey (secret sealed under the KEK) }
//!   └─ the file: the one the record names ── deleted (the credentials live,
//!                                             sealed, only in the replicated state)
//!                another one ───────────── refused loudly, renamed *.refused,
//!                                          nothing from it applied
//! ```
//!
//! Bootstrap is a **replicated fact**: one `Bootstrap` entry applies every
//! step or none and records a `BootstrapRecord` (who, when, which
//! administrator) in the replicated node table; its compare-and-set
//! precondition, checked at apply time on every replica, is that no record
//! exists (`meridian_core::config::cluster::bootstrap`). So a node restarted
//! with a leftover file (a Kubernetes Secret nobody deleted) never creates
//! an access key again that an operator has since deleted, and two
//! bootstrappers racing leave exactly one bootstrap. A retry after an
//! unknown outcome (timeout, leader change) reuses its request id, derived
//! from the file's digest and the steps, and is answered from the state
//! machine's request log; an entry refused because it was planned on a
//! stale view is planned again on a newer one.
//!
//! A missing file is decided at start (`crate::bootstrap_node`): configured
//! on the bootstrapping member, absent, and the cluster never bootstrapped
//! is a configuration error (exit 64), because the cluster would otherwise
//! never become ready; on a bootstrapped cluster it is the normal case (the
//! file was consumed). A cluster bootstrapped without an administrator file
//! (none configured on its bootstrapping member) gets its partition, regions
//! and first key, and no account.
//!
//! Clusters bootstrapped by earlier releases have a session key but no
//! record: the bootstrapping member records the fact with an entry without
//! steps, naming the file's administrator only if the state already shows
//! its access key (the file that bootstrapped them); any other file is
//! refused. A bootstrap an earlier release left half-done is therefore not
//! resumed.
//!
//! The administrator gets the AWS managed policy `AdministratorAccess`
//! (`arn:{partition}:iam::aws:policy/AdministratorAccess`, from core's
//! built-in catalogue `meridian_core::config::aws_managed`), as the design's
//! contract says.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use meridian_core::arn::Partition;
use meridian_core::config::aws_managed;
use meridian_core::config::cluster::bootstrap::{BootstrapAdmin, BootstrapRecord};
use meridian_core::config::cluster::{KeyPurpose, KeyState};
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId};
use meridian_core::config::model::SealedBytes;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::ids::{
    AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey, UniqueId, UniqueIdKind,
};
use meridian_core::keyring::{DataKey, Kek, KeyId};
use meridian_core::rand::RandomSource;
use meridian_edge::state::{Clock, ConfigWriter, WriteError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

/// The name of the administrator's (AWS managed) policy.
pub const ADMIN_POLICY_NAME: &str = "AdministratorAccess";
/// The algorithm name recorded for session-token data keys.
pub const DATA_KEY_ALGORITHM: &str = "AES-256-GCM";
/// The bootstrap file's format version.
const FILE_VERSION: u32 = 1;

/// What account and user names may be.
const NAME_RULE: &str =
    "user_name and account_name must be 1 to 64 characters of A-Z, a-z, 0-9 and +=,.@_-";

/// Whether `name` is a valid account or user name for a bootstrap file.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The administrator bootstrap file's content.
#[derive(Clone)]
pub struct AdminBootstrap {
    /// The account to create.
    pub account_id: AccountId,
    /// Its name (alias).
    pub account_name: String,
    /// The administrator user's name (`admin` for `meridian dev`).
    pub user_name: String,
    /// The administrator's long-term access key id (of `account_id`).
    pub access_key_id: AccessKeyId,
    /// Its secret.
    pub secret_access_key: SecretAccessKey,
}

impl fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("account_id", &self.account_id)
            .field("account_name", &self.account_name)
            .field("user_name", &self.user_name)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    version: u32,
    account_id: String,
    account_name: String,
    user_name: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Drop for FileForm {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

/// Why the bootstrap file or a bootstrap step failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The file could not be read, written or removed.
    #[error("bootstrap file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not a valid bootstrap file.
    #[error("bootstrap file {path} is invalid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Random bytes or key sealing failed.
    #[error("cannot prepare bootstrap secrets: {0}")]
    Crypto(String),
    /// The state machine refused a step that is still not applied.
    #[error("bootstrap step {step} was refused: {reason}")]
    Refused {
        /// The step.
        step: String,
        /// The refusal.
        reason: String,
    },
    /// A write failed in a way a retry will not fix.
    #[error("bootstrap step {step} failed: {reason}")]
    Write {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
    /// Shutdown began before the bootstrap finished.
    #[error("bootstrap interrupted by shutdown")]
    Cancelled,
}

impl AdminBootstrap {
    /// Fresh credentials for a new account named `account_name` with an
    /// administrator `user_name`; the account id is drawn at random.
    pub fn generate<R: RandomSource + ?Sized>(
        account_name: &str,
        user_name: &str,
        rng: &mut R,
    ) -> Result<AdminBootstrap, BootstrapError> {
        let crypto = |e: meridian_core::rand::RandomError| BootstrapError::Crypto(e.to_string());
        let mut draw = [0u8; 8];
        rng.fill(&mut draw).map_err(crypto)?;
        // Twelve digits without a leading zero, like the accounts AWS shows.
        let number = 100_000_000_000 + u64::from_be_bytes(draw) % 900_000_000_000;
        let account_id =
            AccountId::from_u64(number).map_err(|e| BootstrapError::Crypto(e.to_string()))?;
        AdminBootstrap::generate_in(account_id, account_name, user_name, rng)
    }

    /// Fresh credentials for the administrator `user_name` of the new
    /// account `account_id` named `account_name`; the names are checked as
    /// the file's reader checks them.
    pub fn generate_in<R: RandomSource + ?Sized>(
        account_id: AccountId,
        account_name: &str,
        user_name: &str,
        rng: &mut R,
    ) -> Result<AdminBootstrap, BootstrapError> {
        if !valid_name(account_name) || !valid_name(user_name) {
            return Err(BootstrapError::Invalid {
                path: String::from("(generated)"),
                reason: String::from(NAME_RULE),
            });
        }
        let crypto = |e: meridian_core::rand::RandomError| BootstrapError::Crypto(e.to_string());
        let access_key_id =
            AccessKeyId::generate(AccessKeyKind::LongTerm, &account_id, rng).map_err(crypto)?;
        let secret_access_key = SecretAccessKey::generate(rng).map_err(crypto)?;
        Ok(AdminBootstrap {
            account_id,
            account_name: account_name.to_owned(),
            user_name: user_name.to_owned(),
            access_key_id,
            secret_access_key,
        })
    }

    /// The file's JSON text.
    pub fn to_json(&self) -> Zeroizing<String> {
        let form = FileForm {
            version: FILE_VERSION,
            account_id: self.account_id.as_str().to_owned(),
            account_name: self.account_name.clone(),
            user_name: self.user_name.clone(),
            access_key_id: self.access_key_id.as_str().to_owned(),
            secret_access_key: self.secret_access_key.expose_secret().to_owned(),
        };
        // Serialising plain strings cannot fail.
        Zeroizing::new(serde_json::to_string_pretty(&form).unwrap_or_default())
    }

    /// Parses and checks the file's JSON text (`path` is for messages).
    pub fn from_json(text: &str, path: &str) -> Result<AdminBootstrap, BootstrapError> {
        let invalid = |reason: String| BootstrapError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let form: FileForm = serde_json::from_str(text).map_err(|e| {
            // serde_json's messages quote no values for these shapes, but
            // keep only the position to be sure a secret never reaches a log.
            invalid(format!(
                "not a bootstrap file (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if form.version != FILE_VERSION {
            return Err(invalid(format!("unsupported version {}", form.version)));
        }
        let account_id =
            AccountId::parse(&form.account_id).map_err(|e| invalid(format!("account_id: {e}")))?;
        let access_key_id = AccessKeyId::parse(&form.access_key_id)
            .map_err(|e| invalid(format!("access_key_id: {e}")))?;
        if access_key_id.kind() != AccessKeyKind::LongTerm
            || access_key_id.account() != Some(account_id)
        {
            return Err(invalid(String::from(
                "access_key_id must be a long-term (AKIA) key of account_id",
            )));
        }
        let secret_access_key = SecretAccessKey::parse(&form.secret_access_key)
            .map_err(|e| invalid(format!("secret_access_key: {e}")))?;
        if !valid_name(&form.user_name) || !valid_name(&form.account_name) {
            return Err(invalid(String::from(NAME_RULE)));
        }
        Ok(AdminBootstrap {
            account_id,
            account_name: form.account_name.clone(),
            user_name: form.user_name.clone(),
            access_key_id,
            secret_access_key,
        })
    }

    /// Writes a new file with mode 0600 (never overwriting one).
    pub fn write_new(&self, path: &Path) -> Result<(), BootstrapError> {
        let io = |source| BootstrapError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(self.to_json().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a file, refusing one that others could read
    /// ([`crate::key_file`]'s rule: it holds a secret key).
    pub fn read(path: &Path) -> Result<AdminBootstrap, BootstrapError> {
        let shown = path.display().to_string();
        let io = |source| BootstrapError::Io {
            path: shown.clone(),
            source,
        };
        let facts = crate::key_file::FileFacts::of(&std::fs::metadata(path).map_err(io)?);
        crate::key_file::check(&facts, &crate::key_file::ProcessIdentity::current()).map_err(
            |reason| BootstrapError::Invalid {
                path: shown.clone(),
                reason: format!("it holds a secret key, and it {reason}"),
            },
        )?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        AdminBootstrap::from_json(&text, &shown)
    }

    /// The digest request ids are derived from.
    fn seed(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"meridian-admin-bootstrap-v1\0");
        ctx.update(self.account_id.as_str().as_bytes());
        ctx.update(b"\0");
        ctx.update(self.user_name.as_bytes());
        ctx.update(b"\0");
        ctx.update(self.access_key_id.as_str().as_bytes());
        let mut seed = [0u8; 32];
        seed.copy_from_slice(ctx.finish().as_ref());
        seed
    }
}

/// What to bootstrap.
#[derive(Debug, Clone)]
pub struct BootstrapPlan {
    /// The bootstrapping member (this node), recorded in the entry.
    pub node_id: u64,
    /// The partition ARNs are minted in.
    pub partition: Partition,
    /// The regions of the initial members.
    pub regions: Vec<String>,
    /// The account and administrator, if this node holds the file.
    pub admin: Option<AdminBootstrap>,
    /// The initial members' ids (request ids derive from them when there is
    /// no administrator file).
    pub member_ids: Vec<u64>,
}

/// What the bootstrap task found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// This node's `Bootstrap` entry bootstrapped the cluster with these
    /// steps, in order.
    Applied {
        /// The steps' labels (`region/eu-west-1`, `admin/access-key`, …).
        steps: Vec<String>,
    },
    /// The cluster was bootstrapped before the record existed; this node's
    /// entry recorded the fact (no step).
    Adopted(BootstrapRecord),
    /// The cluster was already bootstrapped (by this node or another).
    AlreadyBootstrapped(BootstrapRecord),
}

impl BootstrapOutcome {
    /// The record the cluster now holds, when it was not this run's entry
    /// that created it with steps.
    pub fn existing_record(&self) -> Option<&BootstrapRecord> {
        match self {
            BootstrapOutcome::Applied { .. } => None,
            BootstrapOutcome::Adopted(record) | BootstrapOutcome::AlreadyBootstrapped(record) => {
                Some(record)
            }
        }
    }
}

/// Where the bootstrap writes and what it reads.
pub struct BootstrapContext<'a, R> {
    /// Configuration writes (forwarded to the leader).
    pub writer: &'a dyn ConfigWriter,
    /// The applied configuration.
    pub snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
    /// The key-encryption key (seals the data key and the secret).
    pub kek: &'a Kek,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Randomness for ids and key material.
    pub rng: &'a mut R,
    /// Stops retrying on shutdown.
    pub cancel: CancellationToken,
}

impl<R> fmt::Debug for BootstrapContext<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapContext").finish_non_exhaustive()
    }
}

/// How many refusals of this node's entry (other than "already
/// bootstrapped") are retried on a newer view before giving up: a refusal
/// means the view it was planned on was stale.
const MAX_REFUSALS: u32 = 5;

/// Whether `snapshot` shows a bootstrapped cluster: the record, or (a
/// cluster bootstrapped before the record existed) a session-token key.
pub fn is_bootstrapped(snapshot: &ConfigSnapshot) -> bool {
    snapshot.nodes().bootstrap.is_some()
        || snapshot
            .key_ring()
            .latest_term(KeyPurpose::SessionToken)
            .is_some()
}

/// Proposes the cluster's `Bootstrap` entry unless it is bootstrapped
/// already, retrying unavailable writes with backoff until they succeed or
/// `cancel` fires. Never proposes a step on a bootstrapped cluster, and the
/// state machine refuses the entry if it is one by the time it applies.
pub async fn run<R: RandomSource + Send>(
    plan: &BootstrapPlan,
    mut ctx: BootstrapContext<'_, R>,
) -> Result<BootstrapOutcome, BootstrapError> {
    let seed = match &plan.admin {
        Some(admin) => admin.seed(),
        None => cluster_seed(&plan.member_ids),
    };
    let mut refusals = 0u32;
    let mut backoff = Duration::from_millis(100);
    loop {
        let snapshot = ctx.snapshots.borrow_and_update().clone();
        if let Some(record) = &snapshot.nodes().bootstrap {
            return Ok(BootstrapOutcome::AlreadyBootstrapped(record.clone()));
        }
        let adopting = is_bootstrapped(&snapshot);
        let (labels, steps) = if adopting {
            (Vec::new(), Vec::new())
        } else {
            plan_steps(plan, &snapshot, &mut ctx)?
        };
        let admin = plan
            .admin
            .as_ref()
            .filter(|admin| !adopting || file_shows_in(admin, &snapshot))
            .map(|admin| BootstrapAdmin {
                account_id: admin.account_id,
                user_name: admin.user_name.clone(),
                access_key_id: admin.access_key_id.as_str().to_owned(),
            });
        let name = if adopting {
            format!("bootstrap/{refusals}/adopt")
        } else {
            format!("bootstrap/{refusals}/{}", labels.join(","))
        };
        let request = ConfigRequest {
            request_id: request_id(&seed, &name),
            issued_at: ctx.clock.now(),
            command: Command::Bootstrap {
                node_id: plan.node_id,
                admin,
                steps,
            },
        };
        let outcome = tokio::select! {
            () = ctx.cancel.cancelled() => return Err(BootstrapError::Cancelled),
            outcome = ctx.writer.submit(request) => outcome,
        };
        match outcome {
            Ok(Ok(_)) => {
                let latest = ctx.snapshots.borrow_and_update().clone();
                let record = latest.nodes().bootstrap.clone();
                return Ok(match (adopting, record) {
                    (true, Some(record)) => BootstrapOutcome::Adopted(record),
                    _ => BootstrapOutcome::Applied { steps: labels },
                });
            }
            Ok(Err(refusal)) => {
                let latest = ctx.snapshots.borrow_and_update().clone();
                if let Some(record) = &latest.nodes().bootstrap {
                    return Ok(BootstrapOutcome::AlreadyBootstrapped(record.clone()));
                }
                refusals += 1;
                tracing::info!(
                    %refusal,
                    refusals,
                    "bootstrap entry refused on a stale view; planning again on a newer one"
                );
                if refusals > MAX_REFUSALS {
                    return Err(BootstrapError::Refused {
                        step: name,
                        reason: refusal.to_string(),
                    });
                }
                // Wait for the view to move on (this node catching up), but
                // not forever: the next plan uses whatever it shows then.
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Err(BootstrapError::Cancelled),
                    _ = tokio::time::timeout(Duration::from_secs(2), ctx.snapshots.changed()) => {}
                }
            }
            Err(WriteError::Unavailable(reason)) => {
                tracing::info!(%reason, "bootstrap waiting for a quorum");
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Err(BootstrapError::Cancelled),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(WriteError::Internal(reason)) => {
                return Err(BootstrapError::Write { step: name, reason });
            }
        }
    }
}

/// Whether the cluster's record names this file's administrator: the file
/// is the one that bootstrapped the cluster (whatever happened to the key
/// since), so it is consumed, not refused.
pub fn record_names(record: &BootstrapRecord, admin: &AdminBootstrap) -> bool {
    record.admin.as_ref().is_some_and(|recorded| {
        recorded.account_id == admin.account_id
            && recorded.access_key_id == admin.access_key_id.as_str()
    })
}

/// Whether every step `admin` describes shows in `snapshot` (how a cluster
/// bootstrapped before the record existed tells its own file).
fn file_shows_in(admin: &AdminBootstrap, snapshot: &ConfigSnapshot) -> bool {
    snapshot
        .access_key(admin.access_key_id.as_str())
        .is_some_and(|entry| {
            entry.account.account.id == admin.account_id
                && entry.user.name.eq_ignore_ascii_case(&admin.user_name)
        })
}

/// Deletes the administrator file once its bootstrap is applied.
pub fn consume_file(path: &Path) -> Result<(), BootstrapError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BootstrapError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Moves a refused administrator file aside (`<name>.refused`), so that it
/// is not presented again; returns where it went.
pub fn set_aside(path: &Path) -> Result<std::path::PathBuf, BootstrapError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".refused");
    let target = path.with_file_name(name);
    std::fs::rename(path, &target).map_err(|source| BootstrapError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(target)
}

/// The steps still missing in `snapshot`, with their labels, in order.
fn plan_steps<R: RandomSource>(
    plan: &BootstrapPlan,
    snapshot: &ConfigSnapshot,
    ctx: &mut BootstrapContext<'_, R>,
) -> Result<(Vec<String>, Vec<Command>), BootstrapError> {
    let crypto = |e: &dyn fmt::Display| BootstrapError::Crypto(e.to_string());
    let now = ctx.clock.now();
    let mut labels = Vec::new();
    let mut steps = Vec::new();
    // The partition can only be set while no account exists; once one
    // does, the partition is whatever it was then.
    if snapshot.partition() != &plan.partition && snapshot.accounts().next().is_none() {
        labels.push(String::from("partition"));
        steps.push(Command::SetPartition {
            partition: plan.partition.clone(),
        });
    }
    for region in &plan.regions {
        if !snapshot.regions().contains_key(region) {
            labels.push(format!("region/{region}"));
            steps.push(Command::CreateRegion {
                name: region.clone(),
                issuance_enabled: true,
            });
        }
    }
    let ring = snapshot.key_ring();
    let staging = ring.latest_term(KeyPurpose::SessionToken).is_none();
    if staging {
        let key = DataKey::generate(KeyId::new(1), ctx.rng).map_err(|e| crypto(&e))?;
        let wrapped = ctx.kek.wrap(&key, ctx.rng).map_err(|e| crypto(&e))?;
        labels.push(String::from("data-key/stage"));
        steps.push(Command::StageKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            key_id: String::from("1"),
            algorithm: String::from(DATA_KEY_ALGORITHM),
            sealed_key: SealedBytes(wrapped.into_bytes()),
            public_key: Vec::new(),
            // No token exists yet, so nothing needs the propagation delay
            // that later rotations wait for.
            activate_after: now,
            expected_latest_term: None,
        });
    }
    let pending_first = ring
        .get(KeyPurpose::SessionToken, 1)
        .is_some_and(|key| key.state == KeyState::Pending);
    if ring.active(KeyPurpose::SessionToken).is_none() && (staging || pending_first) {
        labels.push(String::from("data-key/activate"));
        steps.push(Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            expected_active_term: None,
            retired_verify_until: now,
        });
    }
    if let Some(admin) = &plan.admin {
        let account = snapshot.account(&admin.account_id);
        let user = account.and_then(|a| a.user(&admin.user_name));
        let account_id = admin.account_id;
        if account.is_none() {
            labels.push(String::from("account"));
            steps.push(Command::CreateAccount {
                account_id,
                name: admin.account_name.clone(),
            });
        }
        if user.is_none() {
            labels.push(String::from("admin/user"));
            steps.push(Command::CreateUser {
                account_id,
                user_name: admin.user_name.clone(),
                path: String::from("/"),
                user_id: UniqueId::generate(UniqueIdKind::User, ctx.rng)
                    .map_err(|e| crypto(&e))?
                    .to_string(),
                permissions_boundary: None,
                tags: Default::default(),
            });
        }
        let policy_arn = admin_policy_arn(&plan.partition);
        if user.is_none_or(|u| !u.attached_policies.contains(&policy_arn)) {
            labels.push(String::from("admin/attach-aws-managed"));
            steps.push(Command::AttachPolicy {
                account_id,
                holder: PolicyHolder::User(admin.user_name.clone()),
                policy_arn,
            });
        }
        if snapshot.access_key(admin.access_key_id.as_str()).is_none() {
            let sealed = seal_access_key_secret(
                ctx.kek,
                &admin.access_key_id,
                &admin.secret_access_key,
                ctx.rng,
            )?;
            labels.push(String::from("admin/access-key"));
            steps.push(Command::CreateAccessKey {
                account_id,
                user_name: admin.user_name.clone(),
                access_key_id: admin.access_key_id.as_str().to_owned(),
                sealed_secret: sealed,
            });
        }
    }
    Ok((labels, steps))
}

/// Seals a long-term secret access key for the replicated state, with
/// core's convention (`Kek::seal_access_key_secret`: the 40-character text
/// bound to the access key id), which the edge's authenticator opens.
pub fn seal_access_key_secret<R: RandomSource + ?Sized>(
    kek: &Kek,
    access_key_id: &AccessKeyId,
    secret: &SecretAccessKey,
    rng: &mut R,
) -> Result<SealedBytes, BootstrapError> {
    kek.seal_access_key_secret(access_key_id, secret, rng)
        .map(|sealed| SealedBytes(sealed.into_bytes()))
        .map_err(|e| BootstrapError::Crypto(e.to_string()))
}

/// `arn:{partition}:iam::aws:policy/AdministratorAccess`, the AWS managed
/// policy the administrator gets.
pub fn admin_policy_arn(partition: &Partition) -> String {
    format!(
        "arn:{partition}:iam::{}:policy/{ADMIN_POLICY_NAME}",
        aws_managed::AWS_ACCOUNT
    )
}

fn cluster_seed(member_ids: &[u64]) -> [u8; 32] {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"meridian-cluster-bootstrap-v1\0");
    for id in ids {
        ctx.update(&id.to_be_bytes());
    }
    let mut seed = [0u8; 32];
    seed.copy_from_slice(ctx.finish().as_ref());
    seed
}

fn request_id(seed: &[u8; 32], label: &str) -> RequestId {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(seed);
    ctx.update(label.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&ctx.finish().as_ref()[..16]);
    RequestId(id)
}

#[cfg(test)]
#[path = "bootstrap_test.rs"]
mod bootstrap_test;
