//! The one RocksDB instance of a node and its column families.
//!
//! * `log`: Raft log entries, key = index (big-endian u64, so that RocksDB's
//!   byte order is index order), value = `pb::Entry`;
//! * `meta`: the vote, the last purged log id, the committed log id and the
//!   node id this data directory belongs to;
//! * `state`: the latest snapshot of the state machine (`pb::StoredSnapshot`).
//!
//! The state machine itself lives in memory and is rebuilt at start from the
//! snapshot plus the committed log entries after it (openraft's
//! `save_committed`/`read_committed` protocol), so an apply never waits on
//! disk; durability comes from the synced log.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteOptions};

use crate::error::StoreError;

/// Column family of log entries.
pub(crate) const CF_LOG: &str = "log";
/// Column family of Raft metadata.
pub(crate) const CF_META: &str = "meta";
/// Column family of the state machine's snapshot.
pub(crate) const CF_STATE: &str = "state";

/// Key of the vote in `meta`.
pub(crate) const KEY_VOTE: &[u8] = b"vote";
/// Key of the last purged log id in `meta`.
pub(crate) const KEY_LAST_PURGED: &[u8] = b"last_purged";
/// Key of the committed log id in `meta`.
pub(crate) const KEY_COMMITTED: &[u8] = b"committed";
/// Key of the owning node id in `meta`.
pub(crate) const KEY_NODE_ID: &[u8] = b"node_id";
/// Key of the snapshot in `state`.
pub(crate) const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// Opens (creating if needed) the database in `dir`.
pub(crate) fn open(dir: &Path) -> Result<Arc<DB>, StoreError> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    // The configuration is small: keep RocksDB's memory modest.
    options.set_write_buffer_size(8 << 20);
    options.set_max_write_buffer_number(2);
    let families = [CF_LOG, CF_META, CF_STATE]
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let db = DB::open_cf_descriptors(&options, dir, families)?;
    Ok(Arc::new(db))
}

/// A column family that [`open`] created.
pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily, StoreError> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Corrupt(format!("column family {name} is missing")))
}

/// Write options that wait for the write-ahead log to reach the disk.
pub(crate) fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

/// The big-endian key of a log index.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The log index of a key written by [`index_key`].
pub(crate) fn key_index(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt(String::from("log key is not 8 bytes")))?;
    Ok(u64::from_be_bytes(bytes))
}
