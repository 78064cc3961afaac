//! `meridian audit verify FILE…`: checks the hash chain of audit files.
//!
//! Files are read in the order given (pass them oldest first; the names sort
//! that way). Every line must be a record whose `hash` matches its bytes,
//! whose `seq` is one more than the previous record's and whose `prev` is
//! the previous record's `hash` — across file boundaries too. The first
//! record must be the start of the trail (`seq` 0, `prev` all zeros) unless
//! `partial` is set (the older files were archived elsewhere); then the
//! chain is checked from wherever it starts and the start is reported.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::record::{self, GENESIS};

/// What a successful check covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Records checked.
    pub records: u64,
    /// `seq` of the first record, if any.
    pub first_seq: Option<u64>,
    /// `seq` of the last record, if any.
    pub last_seq: Option<u64>,
    /// The hash of the last record (the head to anchor elsewhere).
    pub head: String,
}

/// Where and why the chain breaks.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line breaks the chain.
    #[error("{path}:{line}: {reason}")]
    Broken {
        /// The file.
        path: PathBuf,
        /// The line number (1-based).
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Checks `files` in order.
pub fn verify_files(files: &[PathBuf], partial: bool) -> Result<Summary, VerifyError> {
    let mut summary = Summary {
        records: 0,
        first_seq: None,
        last_seq: None,
        head: GENESIS.to_owned(),
    };
    for path in files {
        verify_file(path, partial, &mut summary)?;
    }
    Ok(summary)
}

fn verify_file(path: &Path, partial: bool, summary: &mut Summary) -> Result<(), VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(read_error)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let broken = |reason: String| VerifyError::Broken {
            path: path.to_owned(),
            line: number,
            reason,
        };
        let Some(content) = line.strip_suffix(b"\n") else {
            return Err(broken(String::from(
                "the last line is incomplete (no newline)",
            )));
        };
        let parsed = record::parse_line(content).map_err(|e| broken(e.to_string()))?;
        if !parsed.hash_matches {
            return Err(broken(format!(
                "record {} was altered: its hash does not match its content",
                parsed.seq
            )));
        }
        match summary.last_seq {
            None if !partial && (parsed.seq != 0 || parsed.prev != GENESIS) => {
                return Err(broken(format!(
                    "the trail starts at record {} instead of 0 (earlier records missing; \
                     pass --partial to check from here)",
                    parsed.seq
                )));
            }
            None => summary.first_seq = Some(parsed.seq),
            Some(last) => {
                if parsed.seq != last + 1 {
                    return Err(broken(format!(
                        "record {} follows record {last}: records are missing, duplicated or \
                         out of order",
                        parsed.seq
                    )));
                }
                if parsed.prev != summary.head {
                    return Err(broken(format!(
                        "record {} does not chain to record {last} (prev {} ≠ {})",
                        parsed.seq, parsed.prev, summary.head
                    )));
                }
            }
        }
        summary.records += 1;
        summary.last_seq = Some(parsed.seq);
        summary.head = parsed.hash;
    }
}
