//! `ConfigState`: the replicated state machine's state and its pure apply.
//!
//! ```text
//!   Raft log entry ──► ConfigState::apply(request)
//!                        │ 1. request id seen before?  ──► the first outcome, again
//!                        │ 2. advance the replicated clock, drop expired entries
//!                        │ 3. check preconditions on a copy-on-write scratch view
//!                        │ 4. Ok: the scratch view becomes the state; Err: dropped
//!                        │ 5. remember the outcome under the request id
//!                        ▼
//!                      ConfigState::snapshot() ──► Arc<ConfigSnapshot> for readers
//! ```
//!
//! Apply is deterministic: it reads nothing but the state and the request
//! (time is the request's `issued_at`, ids and secrets are in the command), so
//! every replica that applies the same log reaches the same state. A refused
//! command changes nothing but the request log, and its refusal is the
//! replicated outcome.
//!
//! The request log that makes retries idempotent is part of the state (and of
//! Raft snapshots): a request id is remembered for [`REQUEST_RETENTION_MILLIS`]
//! of replicated time, and at most [`MAX_REMEMBERED_REQUESTS`] are kept
//! (oldest dropped first). A client retries within seconds, far inside both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::arn::Partition;
use crate::config::apply_cluster;
use crate::config::apply_iam;
use crate::config::cluster::{KeyRing, NodeRecord, NodeTable, Region, Revocations};
use crate::config::command::{Command, ConfigRequest, RequestId, Response};
use crate::config::error::ConfigError;
use crate::config::snapshot::{AccessKeyLocation, AccountConfig, ConfigSnapshot};
use crate::time::Timestamp;

/// How long (replicated time) a request id is remembered: 24 hours.
pub const REQUEST_RETENTION_MILLIS: i64 = 24 * 3600 * 1000;
/// How many request ids are remembered at most.
pub const MAX_REMEMBERED_REQUESTS: usize = 100_000;

/// The outcome of an applied request, kept for retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedRequest {
    /// The request id.
    pub request_id: RequestId,
    /// The replicated clock when it was applied.
    pub applied_at: Timestamp,
    /// What it answered.
    pub outcome: Result<Response, ConfigError>,
}

/// The state, taken apart for encoding (Raft snapshots) and put back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigStateParts {
    /// The partition.
    pub partition: Partition,
    /// The replicated clock.
    pub clock: Timestamp,
    /// The Raft index the state reflects.
    pub applied_index: u64,
    /// Every account with its entities.
    pub accounts: Vec<AccountConfig>,
    /// The key ring.
    pub key_ring: KeyRing,
    /// Regions by name.
    pub regions: BTreeMap<String, Region>,
    /// Revocations.
    pub revocations: Revocations,
    /// Nodes.
    pub nodes: NodeTable,
    /// Remembered request outcomes.
    pub requests: Vec<RememberedRequest>,
}

/// The replicated configuration as the state machine holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigState {
    view: ConfigSnapshot,
    requests: BTreeMap<RequestId, RememberedRequest>,
    requests_by_time: BTreeSet<(Timestamp, RequestId)>,
    denied_by_expiry: BTreeSet<(Timestamp, String)>,
}

impl ConfigState {
    /// An empty configuration in the `aws` partition.
    pub fn new() -> ConfigState {
        ConfigState::default()
    }

    /// Applies one request. Returns the command's outcome, or — when the
    /// request id was applied before — the first outcome again, without
    /// applying anything.
    pub fn apply(&mut self, request: &ConfigRequest) -> Result<Response, ConfigError> {
        if let Some(seen) = self.requests.get(&request.request_id) {
            return seen.outcome.clone();
        }
        let now = self.view.clock.max(request.issued_at);
        self.view.clock = now;
        self.expire(now);
        if let Command::RestoreState { state } = &request.command {
            let outcome = self.restore(state, now);
            self.remember(request.request_id, now, outcome.clone());
            return outcome;
        }

        let mut next = self.view.clone();
        let outcome = execute(&mut next, &request.command, now);
        if outcome.is_ok() {
            self.view = next;
            self.index_denied_session(&request.command);
        }
        self.remember(request.request_id, now, outcome.clone());
        outcome
    }

    /// Records the membership the Raft log just applied: the members, and
    /// every id ever seen so that none is admitted again.
    pub fn apply_membership(&mut self, members: Vec<NodeRecord>) {
        let nodes = Arc::make_mut(&mut self.view.nodes);
        nodes.members = members
            .into_iter()
            .map(|member| (member.id, member))
            .collect();
        let ids: Vec<u64> = nodes.members.keys().copied().collect();
        for id in ids {
            nodes.ever_members.insert(id);
            nodes.next_node_id = nodes.next_node_id.max(id.saturating_add(1));
        }
    }

    /// Records the Raft log index the state now reflects.
    pub fn set_applied_index(&mut self, index: u64) {
        self.view.applied_index = index;
    }

    /// The current view, for reading while applying.
    pub fn view(&self) -> &ConfigSnapshot {
        &self.view
    }

    /// An immutable snapshot to publish to readers (cheap: shares everything).
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        Arc::new(self.view.clone())
    }

    /// The remembered request outcomes, oldest request id first.
    pub fn remembered_requests(&self) -> impl Iterator<Item = &RememberedRequest> {
        self.requests.values()
    }

    /// Takes the state apart for encoding.
    pub fn to_parts(&self) -> ConfigStateParts {
        ConfigStateParts {
            partition: self.view.partition.clone(),
            clock: self.view.clock,
            applied_index: self.view.applied_index,
            accounts: self.view.accounts().cloned().collect(),
            key_ring: KeyRing::clone(&self.view.key_ring),
            regions: BTreeMap::clone(&self.view.regions),
            revocations: Revocations::clone(&self.view.revocations),
            nodes: NodeTable::clone(&self.view.nodes),
            requests: self.requests.values().cloned().collect(),
        }
    }

    /// Puts a state back together from its parts, rebuilding the indexes.
    /// Refuses parts that contradict themselves (an account or access key
    /// listed twice), which only a corrupt or foreign encoding produces.
    pub fn from_parts(parts: ConfigStateParts) -> Result<ConfigState, ConfigError> {
        let mut accounts = BTreeMap::new();
        let mut access_keys = HashMap::new();
        for account in parts.accounts {
            for (user_key, user) in &account.users {
                for key_id in user.access_keys.keys() {
                    let location = AccessKeyLocation {
                        account_id: account.account.id,
                        user_key: user_key.clone(),
                    };
                    if access_keys.insert(key_id.clone(), location).is_some() {
                        return Err(ConfigError::invalid(format!(
                            "access key {key_id} listed twice"
                        )));
                    }
                }
            }
            let id = account.account.id;
            if accounts.insert(id, Arc::new(account)).is_some() {
                return Err(ConfigError::invalid(format!("account {id} listed twice")));
            }
        }
        let denied_by_expiry = parts
            .revocations
            .denied_sessions
            .iter()
            .map(|(session, expires_at)| (*expires_at, session.clone()))
            .collect();
        let requests_by_time = parts
            .requests
            .iter()
            .map(|seen| (seen.applied_at, seen.request_id))
            .collect();
        let requests = parts
            .requests
            .into_iter()
            .map(|seen| (seen.request_id, seen))
            .collect();
        Ok(ConfigState {
            view: ConfigSnapshot {
                partition: parts.partition,
                clock: parts.clock,
                applied_index: parts.applied_index,
                accounts: Arc::new(accounts),
                access_keys: Arc::new(access_keys),
                key_ring: Arc::new(parts.key_ring),
                regions: Arc::new(parts.regions),
                revocations: Arc::new(parts.revocations),
                nodes: Arc::new(parts.nodes),
            },
            requests,
            requests_by_time,
            denied_by_expiry,
        })
    }

    /// `RestoreState`: see [`Command::RestoreState`].
    fn restore(&mut self, backup: &ConfigState, now: Timestamp) -> Result<Response, ConfigError> {
        if self.view.accounts.len() > 1
            || self.view.accounts.values().any(|account| {
                account.roles.len() + account.oidc_providers.len() + account.saml_providers.len()
                    > 0
            })
        {
            return Err(ConfigError::precondition(
                "only a fresh cluster (its bootstrap account at most, no roles or providers) can be restored",
            ));
        }
        let mut parts = backup.to_parts();
        let mut regions = BTreeMap::clone(&self.view.regions);
        regions.append(&mut parts.regions);
        parts.regions = regions;
        parts.nodes = NodeTable::clone(&self.view.nodes);
        parts.clock = now.max(parts.clock);
        parts.applied_index = self.view.applied_index;
        parts.requests = Vec::new();
        let restored = ConfigState::from_parts(parts)?;
        self.view = restored.view;
        self.denied_by_expiry = restored.denied_by_expiry;
        Ok(Response::Done)
    }

    fn remember(
        &mut self,
        request_id: RequestId,
        applied_at: Timestamp,
        outcome: Result<Response, ConfigError>,
    ) {
        self.requests.insert(
            request_id,
            RememberedRequest {
                request_id,
                applied_at,
                outcome,
            },
        );
        self.requests_by_time.insert((applied_at, request_id));
        while self.requests.len() > MAX_REMEMBERED_REQUESTS {
            let Some((_, oldest)) = self.requests_by_time.pop_first() else {
                break;
            };
            self.requests.remove(&oldest);
        }
    }

    fn index_denied_session(&mut self, command: &Command) {
        if let Command::DenySession { session_id, .. } = command {
            // A session denied twice keeps the later expiry; the older index
            // entry is dropped with it.
            self.denied_by_expiry.retain(|(_, id)| id != session_id);
            if let Some(until) = self.view.revocations.denied_sessions.get(session_id) {
                self.denied_by_expiry.insert((*until, session_id.clone()));
            }
        }
    }

    /// Drops request ids and denied sessions whose time has passed.
    fn expire(&mut self, now: Timestamp) {
        let horizon = now.plus_millis(-REQUEST_RETENTION_MILLIS);
        while let Some((applied_at, request_id)) = self.requests_by_time.first().copied() {
            if applied_at >= horizon {
                break;
            }
            self.requests_by_time.pop_first();
            self.requests.remove(&request_id);
        }
        let mut expired = Vec::new();
        while let Some((expires_at, _)) = self.denied_by_expiry.first() {
            if *expires_at > now {
                break;
            }
            if let Some((_, session)) = self.denied_by_expiry.pop_first() {
                expired.push(session);
            }
        }
        if !expired.is_empty() {
            let revocations = Arc::make_mut(&mut self.view.revocations);
            for session in expired {
                revocations.denied_sessions.remove(&session);
            }
        }
    }
}

/// Applies one command to the scratch view.
fn execute(
    view: &mut ConfigSnapshot,
    command: &Command,
    now: Timestamp,
) -> Result<Response, ConfigError> {
    match command {
        Command::SetPartition { .. }
        | Command::CreateAccount { .. }
        | Command::DeleteAccount { .. }
        | Command::SetTokenServicePreferences { .. }
        | Command::SetOutboundFederation { .. }
        | Command::StageKey { .. }
        | Command::ActivateKey { .. }
        | Command::DestroyKey { .. }
        | Command::SetKeyRotation { .. }
        | Command::CreateRegion { .. }
        | Command::SetRegionIssuance { .. }
        | Command::SetRegionStatus { .. }
        | Command::DeleteRegion { .. }
        | Command::RevokeRoleSessions { .. }
        | Command::DenySession { .. }
        | Command::ReserveNodeId => apply_cluster::execute(view, command, now),
        Command::Bootstrap { .. } => {
            crate::config::cluster::bootstrap::execute(view, command, now, execute)
        }
        _ => apply_iam::execute(view, command, now),
    }
}

#[cfg(test)]
#[path = "restore_test.rs"]
mod restore_test;
