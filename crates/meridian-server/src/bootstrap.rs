//! Bootstrap of a new cluster: its partition, regions and first data key, and
//! its first account with an administrator — without any unauthenticated
//! administrative surface.
//!
//! # Design
//!
//! A new cluster has no principal that could sign an IAM call, so the first
//! administrator cannot be created through the API. Instead whoever creates
//! the cluster (`meridian dev`, or an operator) writes an **administrator
//! bootstrap file** ([`AdminBootstrap`]): a mode-0600 JSON file holding the
//! account id, the administrator's user name and a long-term access key id
//! and secret that *the writer* generated, so the writer already knows the
//! credentials it will hand out. One initial member's config names the file
//! (`[cluster.bootstrap] admin_file`). Its trust model is the node's own
//! files: whoever can write into the node's data directory could equally
//! replace its KEK.
//!
//! ```text
//! meridian dev ── writes ──► node-1/bootstrap-admin.json (0600)
//!                               │ read at start, before any socket
//! node 1 ── Raft initialised, a leader elected (any node; writes forward)
//!   └─ bootstrap task: for each step not yet visible in the applied snapshot
//!        SetPartition → CreateRegion × n → StageKey(1) → ActivateKey(1)
//!        → CreateAccount → CreateUser admin
//!        → AttachPolicy arn:{partition}:iam::aws:policy/AdministratorAccess
//!        → CreateAccessKey (secret sealed under the KEK)
//!   └─ every step applied: the file is deleted (the credentials now live,
//!      sealed, only in the replicated state)
//! ```
//!
//! Every step is idempotent twice over. It is skipped when the applied
//! snapshot already shows its effect, so a restart half-way resumes where it
//! stopped; and its request id is derived from the file's digest and the
//! step's name, so a write retried after an unknown outcome (timeout, leader
//! change) is answered from the state machine's request log instead of being
//! applied twice. Key staging and activation are compare-and-set entries, so
//! two bootstrappers racing (an operator error) still leave exactly one first
//! key. A cluster bootstrapped without an administrator file still gets its
//! partition, regions and first key, from its lowest-id initial member.
//!
//! The administrator gets the AWS managed policy `AdministratorAccess`
//! (`arn:{partition}:iam::aws:policy/AdministratorAccess`, from core's
//! built-in catalogue `meridian_core::config::aws_managed`), as the design's
//! contract says. Clusters bootstrapped by earlier releases attached a
//! customer managed copy (`arn:{partition}:iam::{account}:policy/AdministratorAccess`)
//! instead; they keep working unchanged (their bootstrap finished and its
//! file is gone). A bootstrap an earlier release left half-done resumes
//! with the AWS managed attachment: its step has a label of its own
//! (`admin/attach-aws-managed`), hence a request id no earlier step used.

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
    /// administrator `user_name`.
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
        let name_ok = |name: &str| {
            !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        };
        if !name_ok(&form.user_name) || !name_ok(&form.account_name) {
            return Err(invalid(String::from(
                "user_name and account_name must be 1 to 64 characters of A-Z, a-z, 0-9 and +=,.@_-",
            )));
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
    /// The partition ARNs are minted in.
    pub partition: Partition,
    /// The regions of the initial members.
    pub regions: Vec<String>,
    /// The account and administrator, if this node holds the file.
    pub admin: Option<AdminBootstrap>,
    /// The initial members' ids (request ids of the cluster steps derive from
    /// them when there is no administrator file).
    pub member_ids: Vec<u64>,
}

/// What the bootstrap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapReport {
    /// The steps proposed (those already applied were skipped).
    pub proposed: Vec<String>,
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

/// One step: a label for logs and request ids, and its command.
struct Step {
    label: String,
    command: Command,
}

/// Runs every missing step of `plan`, retrying unavailable writes with
/// backoff until they succeed or `cancel` fires.
pub async fn run<R: RandomSource + Send>(
    plan: &BootstrapPlan,
    mut ctx: BootstrapContext<'_, R>,
) -> Result<BootstrapReport, BootstrapError> {
    let seed = match &plan.admin {
        Some(admin) => admin.seed(),
        None => cluster_seed(&plan.member_ids),
    };
    let mut report = BootstrapReport::default();
    let mut backoff = Duration::from_millis(100);
    loop {
        let snapshot = ctx.snapshots.borrow_and_update().clone();
        let Some(step) = next_step(plan, &snapshot, &mut ctx)? else {
            return Ok(report);
        };
        let request = ConfigRequest {
            request_id: request_id(&seed, &step.label),
            issued_at: ctx.clock.now(),
            command: step.command,
        };
        let outcome = tokio::select! {
            () = ctx.cancel.cancelled() => return Err(BootstrapError::Cancelled),
            outcome = ctx.writer.submit(request) => outcome,
        };
        match outcome {
            Ok(Ok(_)) => {
                tracing::info!(step = %step.label, "bootstrap step applied");
                report.proposed.push(step.label);
                backoff = Duration::from_millis(100);
            }
            Ok(Err(refusal)) => {
                // Another bootstrapper may have done it meanwhile: look again.
                let latest = ctx.snapshots.borrow_and_update().clone();
                if still_needed(plan, &latest, &step.label) {
                    return Err(BootstrapError::Refused {
                        step: step.label,
                        reason: refusal.to_string(),
                    });
                }
            }
            Err(WriteError::Unavailable(reason)) => {
                tracing::info!(step = %step.label, %reason, "bootstrap waiting for a quorum");
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Err(BootstrapError::Cancelled),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(WriteError::Internal(reason)) => {
                return Err(BootstrapError::Write {
                    step: step.label,
                    reason,
                });
            }
        }
    }
}

/// Deletes the administrator file once its steps are applied.
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

fn next_step<R: RandomSource>(
    plan: &BootstrapPlan,
    snapshot: &ConfigSnapshot,
    ctx: &mut BootstrapContext<'_, R>,
) -> Result<Option<Step>, BootstrapError> {
    let crypto = |e: &dyn fmt::Display| BootstrapError::Crypto(e.to_string());
    for label in labels(plan) {
        if !still_needed(plan, snapshot, &label) {
            continue;
        }
        let now = ctx.clock.now();
        let command = match label.as_str() {
            "partition" => Command::SetPartition {
                partition: plan.partition.clone(),
            },
            "data-key/stage" => {
                let key = DataKey::generate(KeyId::new(1), ctx.rng).map_err(|e| crypto(&e))?;
                let wrapped = ctx.kek.wrap(&key, ctx.rng).map_err(|e| crypto(&e))?;
                Command::StageKey {
                    purpose: KeyPurpose::SessionToken,
                    term: 1,
                    key_id: String::from("1"),
                    algorithm: String::from(DATA_KEY_ALGORITHM),
                    sealed_key: SealedBytes(wrapped.into_bytes()),
                    public_key: Vec::new(),
                    // No token exists yet, so nothing needs the propagation
                    // delay that later rotations wait for.
                    activate_after: now,
                    expected_latest_term: None,
                }
            }
            "data-key/activate" => Command::ActivateKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
                expected_active_term: None,
                retired_verify_until: now,
            },
            region if region.starts_with("region/") => Command::CreateRegion {
                name: region["region/".len()..].to_owned(),
                issuance_enabled: true,
            },
            admin_step => {
                let Some(admin) = &plan.admin else {
                    continue;
                };
                admin_command(plan, admin, admin_step, ctx)?
            }
        };
        return Ok(Some(Step { label, command }));
    }
    Ok(None)
}

fn admin_command<R: RandomSource>(
    plan: &BootstrapPlan,
    admin: &AdminBootstrap,
    label: &str,
    ctx: &mut BootstrapContext<'_, R>,
) -> Result<Command, BootstrapError> {
    let crypto = |e: &dyn fmt::Display| BootstrapError::Crypto(e.to_string());
    let account_id = admin.account_id;
    Ok(match label {
        "account" => Command::CreateAccount {
            account_id,
            name: admin.account_name.clone(),
        },
        "admin/user" => Command::CreateUser {
            account_id,
            user_name: admin.user_name.clone(),
            path: String::from("/"),
            user_id: UniqueId::generate(UniqueIdKind::User, ctx.rng)
                .map_err(|e| crypto(&e))?
                .to_string(),
            permissions_boundary: None,
            tags: Default::default(),
        },
        "admin/attach-aws-managed" => Command::AttachPolicy {
            account_id,
            holder: PolicyHolder::User(admin.user_name.clone()),
            policy_arn: admin_policy_arn(&plan.partition),
        },
        _ => {
            let sealed = seal_access_key_secret(
                ctx.kek,
                &admin.access_key_id,
                &admin.secret_access_key,
                ctx.rng,
            )?;
            Command::CreateAccessKey {
                account_id,
                user_name: admin.user_name.clone(),
                access_key_id: admin.access_key_id.as_str().to_owned(),
                sealed_secret: sealed,
            }
        }
    })
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

/// The steps in order.
fn labels(plan: &BootstrapPlan) -> Vec<String> {
    let mut labels = vec![String::from("partition")];
    labels.extend(plan.regions.iter().map(|r| format!("region/{r}")));
    labels.push(String::from("data-key/stage"));
    labels.push(String::from("data-key/activate"));
    if plan.admin.is_some() {
        for label in [
            "account",
            "admin/user",
            "admin/attach-aws-managed",
            "admin/access-key",
        ] {
            labels.push(String::from(label));
        }
    }
    labels
}

/// Whether the step `label` has not taken effect in `snapshot`.
fn still_needed(plan: &BootstrapPlan, snapshot: &ConfigSnapshot, label: &str) -> bool {
    let ring = snapshot.key_ring();
    match label {
        // The partition can only be set while no account exists; once one
        // does, the partition is whatever it was then.
        "partition" => {
            snapshot.partition() != &plan.partition && snapshot.accounts().next().is_none()
        }
        "data-key/stage" => ring.latest_term(KeyPurpose::SessionToken).is_none(),
        "data-key/activate" => {
            ring.active(KeyPurpose::SessionToken).is_none()
                && ring
                    .get(KeyPurpose::SessionToken, 1)
                    .is_some_and(|key| key.state == KeyState::Pending)
        }
        region if region.starts_with("region/") => {
            !snapshot.regions().contains_key(&region["region/".len()..])
        }
        admin_step => {
            let Some(admin) = &plan.admin else {
                return false;
            };
            let account = snapshot.account(&admin.account_id);
            let user = account.and_then(|a| a.user(&admin.user_name));
            match admin_step {
                "account" => account.is_none(),
                "admin/user" => user.is_none(),
                "admin/attach-aws-managed" => user.is_none_or(|u| {
                    !u.attached_policies
                        .contains(&admin_policy_arn(snapshot.partition()))
                }),
                _ => snapshot.access_key(admin.access_key_id.as_str()).is_none(),
            }
        }
    }
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
