//! The key-rotation driver: what the leader's rotation task and the Admin
//! API's `RotateKeys` run.
//!
//! Each [`RotationDriver::tick`] reads the applied ring and, for every key
//! purpose ([`KeyPurpose::ALL`]: the session-token data keys and the JWT
//! signing keys of each algorithm), asks
//! [`meridian_core::config::cluster::rotation::plan`] for the next step and
//! proposes it as a compare-and-set command through [`Node::write`]. The
//! purposes share the schedule but rotate independently: a failure for one
//! (a key that cannot be generated) does not hold back the others. A purpose
//! with no key at all is left alone (the cluster bootstrap makes the first
//! session-token key; enabling outbound web-identity federation the first
//! JWT keys). Being the leader only decides *who bothers* to propose: a tick
//! on a follower does nothing, and a deposed leader's proposal is refused at
//! apply time by the command's own precondition (never trusted because the
//! proposer believed it led). Request ids are random, so a refused proposal
//! is never replayed from the request log; a retry after an unknown outcome
//! is a new proposal that the precondition turns into a harmless refusal if
//! the first one won.
//!
//! Two-phase activation: a staged key is *confirmed* once every current
//! member (voters and learners: every node verifies tokens and serves the
//! JWKS) answers the `Applied` RPC with an index at least the one at which
//! this node first saw the key. Log prefixes make that exact: a member that
//! applied that index holds the key. Members that cannot be asked keep the
//! key pending until the schedule's propagation grace passes.

use std::collections::BTreeMap;
use std::fmt;
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

/// The material of a new key, for a `StageKey` command.
#[derive(Clone)]
pub struct NewKey {
    /// The key id (`"3"` for session-token term 3, `rs256-3` for a JWT key).
    pub key_id: String,
    /// The algorithm recorded with it.
    pub algorithm: String,
    /// The secret material sealed under the KEK.
    pub sealed_key: SealedBytes,
    /// The public key (JWT keys; empty for session-token keys).
    pub public_key: Vec<u8>,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Generates key `term` of a purpose and seals it under the KEK (the
/// server's key material), for a `StageKey` command. May be slow (an
/// RSA-2048 key pair): the driver calls it on a blocking thread.
pub type KeyMaker = Arc<dyn Fn(KeyPurpose, u64) -> Result<NewKey, KeyError> + Send + Sync>;

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
    /// An operator asked to rotate a purpose that has no key yet: its first
    /// key comes from what introduces the purpose (JWT keys: enabling
    /// outbound web-identity federation).
    #[error(
        "there is no {} key to rotate yet (JWT signing keys are created when an account enables outbound web identity federation)",
        crate::admin::convert::purpose(*.0)
    )]
    NoKey(KeyPurpose),
}

/// What a tick did for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// The key purpose.
    pub purpose: KeyPurpose,
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
    /// Per pending key: the applied index at which this node first saw it.
    seen_at: Mutex<BTreeMap<(KeyPurpose, u64), u64>>,
}

impl fmt::Debug for RotationDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

    /// Plans and proposes the next step of every purpose at `now` (on the
    /// leader only): one outcome per purpose, in [`KeyPurpose::ALL`] order.
    pub async fn tick(
        &self,
        now: Timestamp,
    ) -> Result<Vec<Result<TickReport, RotationError>>, RotationError> {
        if self.node.status().role != Role::Leader {
            return Err(RotationError::NotLeader);
        }
        let mut outcomes = Vec::with_capacity(KeyPurpose::ALL.len());
        for purpose in KeyPurpose::ALL {
            outcomes.push(self.tick_purpose(purpose, now).await);
        }
        Ok(outcomes)
    }

    /// Plans and proposes the next step of `purpose` at `now` (on the leader
    /// only).
    pub async fn tick_purpose(
        &self,
        purpose: KeyPurpose,
        now: Timestamp,
    ) -> Result<TickReport, RotationError> {
        if self.node.status().role != Role::Leader {
            return Err(RotationError::NotLeader);
        }
        let snapshot = self.node.snapshot().borrow().clone();
        let pending_confirmed = match pending(&snapshot, purpose) {
            Some(term) => self.confirmed(purpose, term, &snapshot).await,
            None => false,
        };
        let step = rotation::plan(
            snapshot.key_ring(),
            purpose,
            PlanInput {
                now,
                pending_confirmed,
                rotate_now: false,
            },
        );
        self.propose(purpose, step, now).await
    }

    /// Stages a new key of `purpose` now unless one is already pending
    /// (`RotateKeys`); returns the pending key and whether it was already
    /// there. Runs on any node: the write is forwarded to the leader, and
    /// the stage's compare-and-set keeps it to one key per term.
    pub async fn rotate_now(
        &self,
        purpose: KeyPurpose,
        now: Timestamp,
    ) -> Result<(KeyRecord, bool), RotationError> {
        let snapshot = self.node.snapshot().borrow().clone();
        if let Some(term) = pending(&snapshot, purpose)
            && let Some(key) = snapshot.key_ring().get(purpose, term)
        {
            return Ok((key.clone(), true));
        }
        let Some(latest) = snapshot.key_ring().latest_term(purpose) else {
            return Err(RotationError::NoKey(purpose));
        };
        let term = latest.saturating_add(1);
        let step = RotationStep::Stage {
            term,
            activate_after: now.plus_millis(
                i64::try_from(snapshot.key_ring().rotation.min_propagation_ms).unwrap_or(i64::MAX),
            ),
            expected_latest_term: Some(latest),
        };
        self.propose(purpose, step, now).await?;
        let snapshot = self.node.snapshot().borrow().clone();
        snapshot
            .key_ring()
            .get(purpose, term)
            .cloned()
            .map(|key| (key, false))
            .ok_or(RotationError::NotVisible(term))
    }

    async fn propose(
        &self,
        purpose: KeyPurpose,
        step: RotationStep,
        now: Timestamp,
    ) -> Result<TickReport, RotationError> {
        let staged = match step {
            RotationStep::Stage { term, .. } => Some(self.new_key(purpose, term).await?),
            _ => None,
        };
        let staged = staged.map(|key| (key.key_id, key.algorithm, key.sealed_key, key.public_key));
        let Some(command) = step.command(purpose, staged) else {
            return Ok(TickReport {
                purpose,
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
                tracing::info!(step = name, ?purpose, ?step, "key rotation step applied");
                Ok(TickReport {
                    purpose,
                    step,
                    applied: true,
                })
            }
            Err(WriteError::Rejected(refusal)) => {
                tracing::info!(step = name, ?purpose, %refusal, "key rotation step refused");
                Err(RotationError::Refused(refusal))
            }
            Err(error) => Err(RotationError::Write(error)),
        }
    }

    /// Generates key `term` of `purpose` on a blocking thread (RSA key
    /// generation takes tens of milliseconds).
    async fn new_key(&self, purpose: KeyPurpose, term: u64) -> Result<NewKey, RotationError> {
        if purpose == KeyPurpose::SessionToken && u32::try_from(term).is_err() {
            return Err(RotationError::TermOverflow(term));
        }
        let make_key = Arc::clone(&self.make_key);
        tokio::task::spawn_blocking(move || make_key(purpose, term))
            .await
            .map_err(|_| RotationError::Key(KeyError::Crypto))?
            .map_err(RotationError::Key)
    }

    /// Whether every member has applied the index at which this node first
    /// saw pending key `term` of `purpose`.
    async fn confirmed(&self, purpose: KeyPurpose, term: u64, snapshot: &ConfigSnapshot) -> bool {
        let threshold = {
            let mut seen = self.seen_at.lock().unwrap_or_else(PoisonError::into_inner);
            seen.retain(|(known_purpose, known), _| *known_purpose != purpose || *known >= term);
            *seen
                .entry((purpose, term))
                .or_insert(snapshot.applied_index())
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

/// The highest pending term of `purpose`, if any.
fn pending(snapshot: &ConfigSnapshot, purpose: KeyPurpose) -> Option<u64> {
    snapshot
        .key_ring()
        .keys
        .range((purpose, 0)..=(purpose, u64::MAX))
        .filter(|(_, key)| key.state == KeyState::Pending)
        .map(|((_, term), _)| *term)
        .max()
}

/// How often the rotation task ticks by default: fine-grained enough that a
/// confirmed key activates within a second of its floor.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);
