//! Bootstrap as a replicated fact: the cluster was bootstrapped once, by one
//! `Bootstrap` entry, and never again.
//!
//! A new cluster gets its partition, regions, first data key and (from the
//! administrator bootstrap file) its first account and administrator in one
//! [`Command::Bootstrap`] entry: the steps are ordinary commands, applied in
//! order to the same copy-on-write scratch view, so the entry takes effect
//! entirely or not at all, and its last effect is the [`BootstrapRecord`] in
//! the node table. The entry's precondition is compare-and-set on that
//! record: **no record yet**. A second bootstrap — a node restarted with a
//! leftover bootstrap file, a racing bootstrapper, a file meant for another
//! cluster — is refused at apply time on every replica alike, whatever the
//! proposer believed from its (possibly stale) view, so an access key an
//! operator deleted is never created again by a bootstrap.
//!
//! ```text
//!   Bootstrap { node_id, admin, steps: [SetPartition, CreateRegion…, StageKey,
//!               ActivateKey, CreateAccount, CreateUser, AttachPolicy,
//!               CreateAccessKey] }
//!     │ record present?          ──► PreconditionFailed, nothing changes
//!     │ a step not allowed here?  ──► InvalidInput, nothing changes
//!     │ each step on the scratch view; one refused ──► that refusal, nothing changes
//!     └ record { at, node_id, admin } ──► the scratch view becomes the state
//! ```
//!
//! Only the commands a bootstrap needs may be steps (not another
//! `Bootstrap`, not revocations whose indexes the state keeps beside the
//! view). Clusters bootstrapped before the record existed have none; a
//! bootstrap there carries only the steps still missing, and records the
//! fact from then on.

use crate::config::command::{Command, Response};
use crate::config::error::ConfigError;
use crate::config::snapshot::ConfigSnapshot;
use crate::ids::AccountId;
use crate::time::Timestamp;

/// Most steps one bootstrap entry may carry (a partition, the regions, two
/// key steps and four administrator steps fit many times over).
pub const MAX_BOOTSTRAP_STEPS: usize = 256;

/// The replicated fact that the cluster is bootstrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapRecord {
    /// When the bootstrap entry was applied (the replicated clock).
    pub at: Timestamp,
    /// The node that proposed it.
    pub node_id: u64,
    /// The administrator it created, if the bootstrap had a file.
    pub admin: Option<BootstrapAdmin>,
}

/// Which administrator a bootstrap created: enough to tell whether a
/// bootstrap file is the one that was applied (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapAdmin {
    /// The first account.
    pub account_id: AccountId,
    /// The administrator user's name.
    pub user_name: String,
    /// The administrator's long-term access key id.
    pub access_key_id: String,
}

/// Whether `command` may be a step of a bootstrap entry.
pub fn is_bootstrap_step(command: &Command) -> bool {
    matches!(
        command,
        Command::SetPartition { .. }
            | Command::CreateRegion { .. }
            | Command::StageKey { .. }
            | Command::ActivateKey { .. }
            | Command::CreateAccount { .. }
            | Command::CreateUser { .. }
            | Command::AttachPolicy { .. }
            | Command::CreateAccessKey { .. }
    )
}

/// Applies a [`Command::Bootstrap`] to the scratch `view`: the
/// compare-and-set on the record, every step through `step` (the state
/// machine's own dispatch), then the record. An error leaves `view` half
/// changed; the caller drops the scratch view then, as for every refusal.
pub(crate) fn execute(
    view: &mut ConfigSnapshot,
    command: &Command,
    now: Timestamp,
    step: fn(&mut ConfigSnapshot, &Command, Timestamp) -> Result<Response, ConfigError>,
) -> Result<Response, ConfigError> {
    let Command::Bootstrap {
        node_id,
        admin,
        steps,
    } = command
    else {
        return Err(ConfigError::invalid("not a bootstrap command"));
    };
    if let Some(record) = &view.nodes.bootstrap {
        return Err(ConfigError::precondition(format!(
            "the cluster is already bootstrapped (by node {} at {} ms)",
            record.node_id,
            record.at.unix_millis()
        )));
    }
    if steps.len() > MAX_BOOTSTRAP_STEPS {
        return Err(ConfigError::invalid(format!(
            "a bootstrap has at most {MAX_BOOTSTRAP_STEPS} steps"
        )));
    }
    if let Some(other) = steps.iter().find(|s| !is_bootstrap_step(s)) {
        return Err(ConfigError::invalid(format!(
            "{} cannot be a bootstrap step",
            other.name()
        )));
    }
    for command in steps {
        step(view, command, now)?;
    }
    std::sync::Arc::make_mut(&mut view.nodes).bootstrap = Some(BootstrapRecord {
        at: now,
        node_id: *node_id,
        admin: admin.clone(),
    });
    Ok(Response::Done)
}
