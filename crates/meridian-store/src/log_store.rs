//! The Raft log on RocksDB (`log` and `meta` column families).
//!
//! Durability: `save_vote` returns only once the vote is on disk. `append`
//! writes the entries (readable at once, as openraft requires) and hands the
//! flush callback to one flusher thread, which syncs the write-ahead log and
//! then completes every callback queued meanwhile, in order. Appends arriving
//! during an fsync therefore share the next one (group commit), and a
//! callback never fires before the entries it covers are durable.
//! Truncation and purge need not be synced: a resurrected suffix is truncated
//! again by the leader, and purged entries are below a durable snapshot.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::{Arc, Weak};

use meridian_proto::pb;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use prost::Message;
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};

use crate::codec;
use crate::db::{self, CF_LOG, CF_META, KEY_COMMITTED, KEY_LAST_PURGED, KEY_VOTE};
use crate::error::StoreError;
use crate::type_config::{Entry, LogId, TypeConfig, Vote};

/// The RocksDB log store. Cheap to clone: clones share the database and the
/// flusher.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: mpsc::Sender<IOFlushed<TypeConfig>>,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

impl LogStore {
    pub(crate) fn new(db: Arc<DB>) -> LogStore {
        let (flusher, pending) = mpsc::channel::<IOFlushed<TypeConfig>>();
        // The flusher holds the database weakly, so that dropping the stores
        // closes it at once (a restarted node reopens the same directory);
        // it ends when the last LogStore clone (the last sender) is dropped.
        let flush_db = Arc::downgrade(&db);
        let spawned = std::thread::Builder::new()
            .name(String::from("raft-log-flush"))
            .spawn(move || flush_loop(&flush_db, &pending));
        if let Err(err) = spawned {
            tracing::error!(error = %err, "failed to start the log flusher thread");
        }
        LogStore { db, flusher }
    }

    fn get_meta<M: Message + Default>(&self, key: &[u8]) -> Result<Option<M>, StoreError> {
        let Some(bytes) = self.db.get_cf(db::cf(&self.db, CF_META)?, key)? else {
            return Ok(None);
        };
        Ok(Some(M::decode(bytes.as_slice())?))
    }

    fn put_meta<M: Message>(&self, key: &[u8], value: &M, sync: bool) -> Result<(), StoreError> {
        let cf = db::cf(&self.db, CF_META)?;
        if sync {
            self.db
                .put_cf_opt(cf, key, value.encode_to_vec(), &db::synced())?;
        } else {
            self.db.put_cf(cf, key, value.encode_to_vec())?;
        }
        Ok(())
    }

    fn read_entries(
        &self,
        start: u64,
        end: Bound<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let cf = db::cf(&self.db, CF_LOG)?;
        let from = db::index_key(start);
        let mut entries = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&from, Direction::Forward))
        {
            let (key, value) = item?;
            let index = db::key_index(&key)?;
            let within = match end {
                Bound::Included(last) => index <= last,
                Bound::Excluded(stop) => index < stop,
                Bound::Unbounded => true,
            };
            if !within || entries.len() >= limit {
                break;
            }
            let entry = codec::entry_from_pb(pb::Entry::decode(value.as_ref())?)?;
            if entry.log_id.index != index {
                return Err(StoreError::Corrupt(format!(
                    "log key {index} holds entry {}",
                    entry.log_id.index
                )));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>, StoreError> {
        let cf = db::cf(&self.db, CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item?;
                let entry = codec::entry_from_pb(pb::Entry::decode(value.as_ref())?)?;
                Ok(Some(entry.log_id))
            }
        }
    }

    /// Whether this store has never been used: no vote, no log entry, nothing
    /// purged. A node that starts on an empty store must join as a new node.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.get_meta::<pb::Vote>(KEY_VOTE)?.is_none()
            && self.get_meta::<pb::LogId>(KEY_LAST_PURGED)?.is_none()
            && self.last_entry_log_id()?.is_none())
    }
}

fn flush_loop(db: &Weak<DB>, pending: &mpsc::Receiver<IOFlushed<TypeConfig>>) {
    while let Ok(first) = pending.recv() {
        let mut batch = vec![first];
        while let Ok(next) = pending.try_recv() {
            batch.push(next);
        }
        let result = match db.upgrade() {
            Some(db) => db.flush_wal(true).map_err(|err| err.to_string()),
            None => Err(String::from("database closed")),
        };
        for callback in batch {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(err) => Err(io::Error::other(err.clone())),
            };
            callback.io_completed(outcome);
        }
    }
}

fn start_index<RB: RangeBounds<u64>>(range: &RB) -> u64 {
    match range.start_bound() {
        Bound::Included(start) => *start,
        Bound::Excluded(start) => start.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self.read_entries(start_index(&range), range.end_bound().cloned(), usize::MAX)?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self
            .get_meta::<pb::Vote>(KEY_VOTE)?
            .map(|vote| codec::vote_from_pb(&vote)))
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, io::Error> {
        // Bounds one replication message; openraft asks again for the rest.
        Ok(self.read_entries(start, Bound::Excluded(end), 4096)?)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id = self
            .get_meta::<pb::LogId>(KEY_LAST_PURGED)?
            .map(|log_id| codec::log_id_from_pb(&log_id));
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let store = self.clone();
        let vote = codec::vote_to_pb(vote);
        tokio::task::spawn_blocking(move || store.put_meta(KEY_VOTE, &vote, true))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        match committed {
            Some(log_id) => self.put_meta(KEY_COMMITTED, &codec::log_id_to_pb(&log_id), false)?,
            None => self
                .db
                .delete_cf(db::cf(&self.db, CF_META)?, KEY_COMMITTED)
                .map_err(StoreError::from)?,
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self
            .get_meta::<pb::LogId>(KEY_COMMITTED)?
            .map(|log_id| codec::log_id_from_pb(&log_id)))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = db::cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(
                cf,
                db::index_key(entry.log_id.index),
                codec::entry_to_pb(&entry).encode_to_vec(),
            );
        }
        self.db.write(batch).map_err(StoreError::from)?;
        if let Err(mpsc::SendError(callback)) = self.flusher.send(callback) {
            callback.io_completed(Err(io::Error::other("log flusher stopped")));
        }
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |log_id| log_id.index.saturating_add(1));
        let cf = db::cf(&self.db, CF_LOG)?;
        self.db
            .delete_range_cf(cf, db::index_key(from), db::index_key(u64::MAX))
            .map_err(StoreError::from)?;
        // delete_range excludes its end: drop the entry at u64::MAX too.
        self.db
            .delete_cf(cf, db::index_key(u64::MAX))
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        // Record the purge point first: entries at or below it are ignored
        // from then on, so a crash between the two steps is harmless.
        self.put_meta(KEY_LAST_PURGED, &codec::log_id_to_pb(&log_id), false)?;
        let cf = db::cf(&self.db, CF_LOG)?;
        self.db
            .delete_range_cf(
                cf,
                db::index_key(0),
                db::index_key(log_id.index.saturating_add(1)),
            )
            .map_err(StoreError::from)?;
        Ok(())
    }
}
