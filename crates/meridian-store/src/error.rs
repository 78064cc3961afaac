//! Why the store could not be opened or read.

use std::io;

/// A storage failure. openraft turns any of these during operation into a
/// fatal error that stops the node: local storage is trusted, so a failure
/// means the node must not go on (RELIABILITY.md, a.3).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// Stored bytes do not decode or contradict each other.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The data directory belongs to another node id.
    #[error("data directory belongs to node {found}, not node {expected}")]
    WrongNode {
        /// The id this process was started with.
        expected: u64,
        /// The id recorded in the data directory.
        found: u64,
    },
}

impl From<StoreError> for io::Error {
    fn from(err: StoreError) -> io::Error {
        match err {
            StoreError::Corrupt(_) => io::Error::new(io::ErrorKind::InvalidData, err),
            other => io::Error::other(other),
        }
    }
}

impl From<meridian_proto::error::DecodeError> for StoreError {
    fn from(err: meridian_proto::error::DecodeError) -> StoreError {
        StoreError::Corrupt(err.to_string())
    }
}

impl From<prost::DecodeError> for StoreError {
    fn from(err: prost::DecodeError) -> StoreError {
        StoreError::Corrupt(err.to_string())
    }
}
