//! The state machine: an in-memory [`ConfigState`] driven by the Raft log,
//! with snapshots kept in RocksDB (`state` column family).
//!
//! ```text
//!   committed entries ──► apply() ──► ConfigState::apply (pure, core)
//!                                        │
//!                                        ├─► responder (the client's outcome)
//!                                        └─► watch::Sender<Arc<ConfigSnapshot>>
//!                                              (one publish per applied batch)
//! ```
//!
//! Applying never touches disk: the log is the durable record, and a restart
//! rebuilds the state from the latest snapshot plus the committed entries
//! after it. Snapshots are built off the apply path: the builder takes a
//! copy-on-write clone of the state (a handful of `Arc`s), and encoding,
//! hashing and the synced write happen on a blocking thread while applies go
//! on. A snapshot is written only if it is newer than the stored one, so a
//! slow build cannot overwrite a snapshot installed meanwhile.

use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex};

use futures::{Stream, TryStreamExt};
use meridian_core::config::cluster::NodeRecord;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_proto::pb;
use meridian_proto::pb_impl::impl_config_state::{state_from_pb, state_to_pb};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use prost::Message;
use rocksdb::DB;
use tokio::sync::watch;

use crate::codec;
use crate::db::{self, CF_STATE, KEY_SNAPSHOT};
use crate::error::StoreError;
use crate::snapshot_data::SnapshotData;
use crate::type_config::{
    ApplyOutcome, LogId, Membership, Snapshot, SnapshotMeta, StoredMembership, TypeConfig,
};

/// The state machine handed to openraft.
pub struct StateMachineStore {
    db: Arc<DB>,
    state: ConfigState,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    publisher: watch::Sender<Arc<ConfigSnapshot>>,
    /// Serialises snapshot writes between builders and installs.
    snapshot_write: Arc<Mutex<()>>,
}

impl Debug for StateMachineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachineStore")
            .field("last_applied", &self.last_applied)
            .finish_non_exhaustive()
    }
}

impl StateMachineStore {
    pub(crate) fn new(db: Arc<DB>) -> StateMachineStore {
        let state = ConfigState::new();
        let (publisher, _) = watch::channel(state.snapshot());
        StateMachineStore {
            db,
            state,
            last_applied: None,
            last_membership: StoredMembership::default(),
            publisher,
            snapshot_write: Arc::new(Mutex::new(())),
        }
    }

    /// A receiver of the applied configuration: it holds the latest
    /// [`ConfigSnapshot`] at all times (readers never block and never touch
    /// disk) and wakes when a new one is published.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ConfigSnapshot>> {
        self.publisher.subscribe()
    }

    fn publish(&self) {
        self.publisher.send_replace(self.state.snapshot());
    }

    fn record_membership(&mut self, log_id: LogId, membership: Membership) {
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, info)| NodeRecord {
                id: *id,
                info: info.clone(),
                voter: voters.contains(id),
            })
            .collect();
        self.state.apply_membership(members);
        self.last_membership = StoredMembership::new(Some(log_id), membership);
    }
}

/// Builds a snapshot from a frozen copy of the state.
pub struct SnapshotBuilder {
    db: Arc<DB>,
    state: ConfigState,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    snapshot_write: Arc<Mutex<()>>,
}

impl Debug for SnapshotBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotBuilder")
            .field("last_applied", &self.last_applied)
            .finish_non_exhaustive()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let db = Arc::clone(&self.db);
        let state = self.state.clone();
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
        };
        let lock = Arc::clone(&self.snapshot_write);
        let started = std::time::Instant::now();
        let snapshot = tokio::task::spawn_blocking(move || -> Result<Snapshot, StoreError> {
            let data = SnapshotData::seal(state_to_pb(&state).encode_to_vec());
            store_snapshot(&db, &lock, &meta, &data)?;
            Ok(Snapshot {
                meta,
                snapshot: data,
            })
        })
        .await
        .map_err(io::Error::other)??;
        tracing::info!(
            last_log_id = ?snapshot.meta.last_log_id,
            bytes = snapshot.snapshot.bytes.len(),
            elapsed_ms = started.elapsed().as_millis(),
            "snapshot built"
        );
        // Through the `metrics` facade: a no-op unless the server installed
        // its recorder.
        metrics::histogram!("meridian_raft_snapshot_size_bytes")
            .record(snapshot.snapshot.bytes.len() as f64);
        metrics::histogram!("meridian_raft_snapshot_duration_seconds", "op" => "build")
            .record(started.elapsed().as_secs_f64());
        Ok(snapshot)
    }
}

/// Encodes snapshot metadata (with the data's size and digest) for disk and wire.
pub fn snapshot_meta_to_pb(meta: &SnapshotMeta, data: &SnapshotData) -> pb::SnapshotMeta {
    pb::SnapshotMeta {
        vote: None,
        last_log_id: codec::opt_log_id_to_pb(meta.last_log_id.as_ref()),
        last_membership_log_id: codec::opt_log_id_to_pb(meta.last_membership.log_id().as_ref()),
        last_membership: Some(codec::membership_to_pb(meta.last_membership.membership())),
        size: u64::try_from(data.bytes.len()).unwrap_or(u64::MAX),
        sha256: data.sha256.to_vec(),
    }
}

/// Decodes snapshot metadata.
pub fn snapshot_meta_from_pb(meta: &pb::SnapshotMeta) -> Result<SnapshotMeta, StoreError> {
    let membership = meta
        .last_membership
        .clone()
        .ok_or_else(|| StoreError::Corrupt(String::from("snapshot meta without membership")))?;
    Ok(SnapshotMeta {
        last_log_id: codec::opt_log_id_from_pb(meta.last_log_id.as_ref()),
        last_membership: StoredMembership::new(
            codec::opt_log_id_from_pb(meta.last_membership_log_id.as_ref()),
            codec::membership_from_pb(membership)?,
        ),
    })
}

/// Writes a snapshot (synced) unless the stored one is at least as new.
fn store_snapshot(
    db: &DB,
    lock: &Mutex<()>,
    meta: &SnapshotMeta,
    data: &SnapshotData,
) -> Result<(), StoreError> {
    let _guard = lock
        .lock()
        .map_err(|_| StoreError::Corrupt(String::from("snapshot lock poisoned")))?;
    if let Some((stored, _)) = read_snapshot(db)?
        && stored.last_log_id >= meta.last_log_id
    {
        return Ok(());
    }
    let record = pb::StoredSnapshot {
        meta: Some(snapshot_meta_to_pb(meta, data)),
        data: data.bytes.clone(),
    };
    db.put_cf_opt(
        db::cf(db, CF_STATE)?,
        KEY_SNAPSHOT,
        record.encode_to_vec(),
        &db::synced(),
    )?;
    Ok(())
}

/// Reads and verifies the stored snapshot.
fn read_snapshot(db: &DB) -> Result<Option<(SnapshotMeta, SnapshotData)>, StoreError> {
    let Some(bytes) = db.get_cf(db::cf(db, CF_STATE)?, KEY_SNAPSHOT)? else {
        return Ok(None);
    };
    let record = pb::StoredSnapshot::decode(bytes.as_slice())?;
    let meta = record
        .meta
        .ok_or_else(|| StoreError::Corrupt(String::from("stored snapshot without meta")))?;
    let data = SnapshotData::with_digest(record.data, &meta.sha256)
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    data.verify()
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    Ok(Some((snapshot_meta_from_pb(&meta)?, data)))
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        // Answer clients only after publishing, so that a write answered on
        // this node is already visible in its snapshot (read-your-writes).
        let mut answers = Vec::new();
        let mut applied_any = false;
        while let Some((entry, responder)) = entries.try_next().await? {
            let outcome: ApplyOutcome = match entry.payload {
                EntryPayload::Normal(request) => self.state.apply(&request),
                EntryPayload::Membership(membership) => {
                    self.record_membership(entry.log_id, membership);
                    Ok(meridian_core::config::command::Response::Done)
                }
                EntryPayload::Blank => Ok(meridian_core::config::command::Response::Done),
            };
            self.last_applied = Some(entry.log_id);
            self.state.set_applied_index(entry.log_id.index);
            applied_any = true;
            if let Some(responder) = responder {
                answers.push((responder, outcome));
            }
        }
        if applied_any {
            self.publish();
        }
        for (responder, outcome) in answers {
            responder.send(outcome);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db: Arc::clone(&self.db),
            state: self.state.clone(),
            last_applied: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_write: Arc::clone(&self.snapshot_write),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        snapshot
            .verify()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        let decoded = pb::ConfigStateSnapshot::decode(snapshot.bytes.as_slice())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        let state = state_from_pb(decoded)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        let started = std::time::Instant::now();
        let db = Arc::clone(&self.db);
        let lock = Arc::clone(&self.snapshot_write);
        let stored_meta = meta.clone();
        let data = snapshot;
        tokio::task::spawn_blocking(move || store_snapshot(&db, &lock, &stored_meta, &data))
            .await
            .map_err(io::Error::other)??;
        self.state = state;
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        tracing::info!(last_log_id = ?meta.last_log_id, "snapshot installed");
        metrics::histogram!("meridian_raft_snapshot_duration_seconds", "op" => "install")
            .record(started.elapsed().as_secs_f64());
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let db = Arc::clone(&self.db);
        let stored = tokio::task::spawn_blocking(move || read_snapshot(&db))
            .await
            .map_err(io::Error::other)??;
        Ok(stored.map(|(meta, snapshot)| Snapshot { meta, snapshot }))
    }
}
