//! Meridian's replicated state machine on openraft and RocksDB.
//!
//! * [`type_config`]: the openraft type configuration (commands are core's
//!   `ConfigRequest`, outcomes core's apply result, nodes core's `NodeInfo`);
//! * [`log_store::LogStore`]: the Raft log in RocksDB, vote and appends synced
//!   (appends by a group-committing flusher);
//! * [`state_machine::StateMachineStore`]: the in-memory `ConfigState` driven
//!   by committed entries, publishing an `Arc<ConfigSnapshot>` on a `watch`
//!   channel after every applied batch; snapshots built in the background,
//!   stored in RocksDB with their SHA-256 and verified wherever they are read;
//! * [`codec`]: protobuf encoding of openraft's types (disk and wire);
//! * [`snapshot_data::SnapshotData`]: snapshot bytes and digest.
//!
//! [`open`] opens a node's data directory and returns the two halves that
//! `openraft::Raft::new` takes.

pub mod codec;
pub mod error;
pub mod log_store;
pub mod snapshot_data;
pub mod state_machine;
pub mod testing;
pub mod type_config;

mod db;

use std::path::Path;

use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::state_machine::StateMachineStore;

/// Opens (creating if needed) the store in `dir` for node `node_id`.
///
/// A data directory belongs to one node id for its whole life: opening it
/// under another id is refused, because node ids are never reused and a log
/// written as one node must never be replayed as another.
pub fn open(dir: &Path, node_id: u64) -> Result<(LogStore, StateMachineStore), StoreError> {
    let db = db::open(dir)?;
    let meta = db::cf(&db, db::CF_META)?;
    match db.get_cf(meta, db::KEY_NODE_ID)? {
        Some(bytes) => {
            let found = u64::from_be_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(String::from("node id is not 8 bytes")))?,
            );
            if found != node_id {
                return Err(StoreError::WrongNode {
                    expected: node_id,
                    found,
                });
            }
        }
        None => db.put_cf_opt(meta, db::KEY_NODE_ID, node_id.to_be_bytes(), &db::synced())?,
    }
    Ok((
        LogStore::new(std::sync::Arc::clone(&db)),
        StateMachineStore::new(db),
    ))
}
