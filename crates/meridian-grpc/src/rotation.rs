//! The key-rotation driver: what the leader's rotation task and the Admin
//! API's `RotateKeys` run.
//!
//! Each [`RotationDriver::tick`] reads the applied ring, asks
//! [`meridian_core::config::cluster::rotation::plan`] for the next step, and
//! proposes it as a compare-and-set command through [`Node::write`]. Being the
//! leader only decides *who bothers* to propose: a tick on a follower does
//! nothing, and a deposed leader's proposal is refused at apply time by the
//! command's own precondition (never trusted because the proposer believed
//! it led). Request ids are random, so a refused proposal is never replayed
//! from the request log; a retry after an unknown outcome is a new proposal
//! that the precondition turns into a harmless refusal if the first one won.
//!
//! Two-phase activation: a staged key is *confirmed* once every current
//! member (voters and learners: every node verifies tokens) answers the
//! `Applied` RPC with an index at least the one at which this node first saw
//! the key. Log prefixes make that exact: a member that applied that index
//! holds the key. Members that cannot be asked keep the key pending until the
//! schedule's propagation grace passes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use meridian_core::config::cluster::rotation::{self, PlanInput, RotationStep};
use meridian_core::config::cluster::{KeyPurpose, KeyRecord, KeyState};
use meridian_core::config::command::{ConfigRequest, RequestId};
use meridian_core::config::error::ConfigError;
use meridian_core::config::model::SealedBytes;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::keyring::KeyError;
use meridian_core::time::Timestamp;
use meridian_proto::pb;

use crate::errors::WriteError;
use crate::node::{Node, Role};

/// The algorithm recorded for session-token data keys.
pub const SESSION_KEY_ALGORITHM: &str = "AES-256-GCM";

/// Generates data key `term` and seals it under the KEK (the server's key
/// material), for a `StageKey` command.
pub type KeyMaker = Arc<dyn Fn(u32) -> Result<SealedBytes, KeyError> + Send + Sync>;

/// Fills a buffer with random bytes (request ids).
pub type Entropy = Arc<dyn Fn(&mut [u8]) + Send + Sync>;

/// Why a tick proposed nothing or failed.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// This node does not lead: the leader's own task rotates.
    #[error("this node is not the leader")]
    NotLeader,
    /// The new key could not be generated or sealed.
    #[error("cannot generate the new key: {0}")]
    Key(KeyError),
    /// The state machine refused the step (a concurrent proposer won, or
    /// the view was stale); the next tick plans again.
    #[error("rotation step refused: {0}")]
    Refused(ConfigError),
    /// The write did not complete (no quorum, shutting down).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The staged key is committed but not yet applied on this node.
    #[error("key {0} is staged but not yet applied on this node")]
    NotVisible(u64),
    /// The session-token term does not fit a data key id.
    #[error("key term {0} does not fit a data key id")]
    TermOverflow(u64),
}

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// The planned step.
    pub step: RotationStep,
    /// Whether it was proposed and applied.
    pub applied: bool,
}

/// Drives rotation for one node. Cheap to share (`Arc`).
pub struct RotationDriver {
    node: Arc<Node>,
    make_key: KeyMaker,
    entropy: Entropy,
    /// Per pending term: the applied index at which this node first saw it.
    seen_at: Mutex<BTreeMap<u64, u64>>,
}

impl std::fmt::Debug for RotationDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotationDriver")
            .field("node", &self.node.id())
            .finish_non_exhaustive()
    }
}

impl RotationDriver {
    /// A driver proposing through `node`.
    pub fn new(node: Arc<Node>, make_key: KeyMaker, entropy: Entropy) -> RotationDriver {
        RotationDriver {
            node,
            make_key,
            entropy,
            seen_at: Mutex::new(BTreeMap::new()),
        }
    }

    /// Plans and proposes the next step at `now` (on the leader only).
    pub async fn tick(&self, now: Timestamp) -> Result<TickReport, RotationError> {
        if self.node.status().role != Role::Leader {
            return Err(RotationError::NotLeader);
        }
        let snapshot = self.node.snapshot().borrow().clone();
        let pending_confirmed = match pending(&snapshot) {
            Some(term) => self.confirmed(term, &snapshot).await,
            None => false,
        };
        let step = rotation::plan(
            snapshot.key_ring(),
            KeyPurpose::SessionToken,
            PlanInput {
                now,
                pending_confirmed,
                rotate_now: false,
            },
        );
        self.propose(step, now).await
    }

    /// Stages a new key now unless one is already pending (`RotateKeys`);
    /// returns the pending key and whether it was already there. Runs on
    /// any node: the write is forwarded to the leader, and the stage's
    /// compare-and-set keeps it to one key per term.
    pub async fn rotate_now(&self, now: Timestamp) -> Result<(KeyRecord, bool), RotationError> {
        let snapshot = self.node.snapshot().borrow().clone();
        if let Some(term) = pending(&snapshot)
            && let Some(key) = snapshot.key_ring().get(KeyPurpose::SessionToken, term)
        {
            return Ok((key.clone(), true));
        }
        let latest = snapshot.key_ring().latest_term(KeyPurpose::SessionToken);
        let term = latest.map_or(1, |term| term.saturating_add(1));
        let step = RotationStep::Stage {
            term,
            activate_after: now.plus_millis(
                i64::try_from(snapshot.key_ring().rotation.min_propagation_ms).unwrap_or(i64::MAX),
            ),
            expected_latest_term: latest,
        };
        self.propose(step, now).await?;
        let snapshot = self.node.snapshot().borrow().clone();
        snapshot
            .key_ring()
            .get(KeyPurpose::SessionToken, term)
            .cloned()
            .map(|key| (key, false))
            .ok_or(RotationError::NotVisible(term))
    }

    async fn propose(
        &self,
        step: RotationStep,
        now: Timestamp,
    ) -> Result<TickReport, RotationError> {
        let staged = match step {
            RotationStep::Stage { term, .. } => {
                let id = u32::try_from(term).map_err(|_| RotationError::TermOverflow(term))?;
                let sealed = (self.make_key)(id).map_err(RotationError::Key)?;
                Some((
                    term.to_string(),
                    String::from(SESSION_KEY_ALGORITHM),
                    sealed,
                    Vec::new(),
                ))
            }
            _ => None,
        };
        let Some(command) = step.command(KeyPurpose::SessionToken, staged) else {
            return Ok(TickReport {
                step,
                applied: false,
            });
        };
        let mut id = [0u8; 16];
        (self.entropy)(&mut id);
        let name = command.name();
        let request = ConfigRequest {
            request_id: RequestId(id),
            issued_at: now,
            command,
        };
        match self.node.write(request).await {
            Ok(_) => {
                tracing::info!(step = name, ?step, "key rotation step applied");
                Ok(TickReport {
                    step,
                    applied: true,
                })
            }
            Err(WriteError::Rejected(refusal)) => {
                tracing::info!(step = name, %refusal, "key rotation step refused");
                Err(RotationError::Refused(refusal))
            }
            Err(error) => Err(RotationError::Write(error)),
        }
    }

    /// Whether every member has applied the index at which this node first
    /// saw pending key `term`.
    async fn confirmed(&self, term: u64, snapshot: &ConfigSnapshot) -> bool {
        let threshold = {
            let mut seen = self.seen_at.lock().unwrap_or_else(PoisonError::into_inner);
            seen.retain(|known, _| *known >= term);
            *seen.entry(term).or_insert(snapshot.applied_index())
        };
        let applied = self.member_applied().await;
        let members = &snapshot.nodes().members;
        !members.is_empty()
            && members
                .keys()
                .all(|id| applied.get(id).is_some_and(|index| *index >= threshold))
    }

    /// Every current member's applied index, as far as it answers within the
    /// RPC timeout (this node's own from its snapshot).
    pub async fn member_applied(&self) -> BTreeMap<u64, u64> {
        let snapshot = self.node.snapshot().borrow().clone();
        let own = self.node.id();
        let timeout = self.node.peers().timings().rpc_timeout;
        let mut answers = BTreeMap::new();
        answers.insert(own, snapshot.applied_index());
        let asks = snapshot
            .nodes()
            .members
            .values()
            .filter(|member| member.id != own)
            .map(|member| {
                let pool = self.node.peers().clone();
                let id = member.id;
                let addr = member.info.raft_addr.clone();
                async move {
                    let mut client = pool.client(id, &addr).ok()?;
                    let mut request = tonic::Request::new(pb::AppliedRequest {});
                    request.set_timeout(timeout);
                    let answer = tokio::time::timeout(timeout, client.applied(request))
                        .await
                        .ok()?
                        .ok()?
                        .into_inner();
                    (answer.node_id == id).then_some((id, answer.applied_index))
                }
            });
        for (id, index) in futures::future::join_all(asks).await.into_iter().flatten() {
            answers.insert(id, index);
        }
        answers
    }
}

/// The highest pending session-token term, if any.
fn pending(snapshot: &ConfigSnapshot) -> Option<u64> {
    snapshot
        .key_ring()
        .keys
        .range((KeyPurpose::SessionToken, 0)..=(KeyPurpose::SessionToken, u64::MAX))
        .filter(|(_, key)| key.state == KeyState::Pending)
        .map(|((_, term), _)| *term)
        .max()
}

/// How often the rotation task ticks by default: fine-grained enough that a
/// confirmed key activates within a second of its floor.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);
