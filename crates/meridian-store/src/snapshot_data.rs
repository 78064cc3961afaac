//! Snapshot bytes with their SHA-256, computed once when the snapshot is built.
//!
//! openraft treats a damaged snapshot as undefined behaviour, so every hop
//! checks: the sender transmits the build-time digest, the receiver refuses
//! bytes that do not match it before asking openraft to install them, the
//! state machine checks again before replacing its state, and a snapshot read
//! back from disk is checked before it is used.

use std::fmt;

use aws_lc_rs::digest;

/// The largest snapshot a node accepts (1 GiB): far above any real
/// configuration, low enough to refuse a runaway stream.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// An encoded `ConfigStateSnapshot` and the SHA-256 of its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SnapshotData {
    /// The encoded state.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, as computed when the snapshot was built.
    pub sha256: [u8; 32],
}

/// A snapshot whose bytes do not match its digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The SHA-256 of the bytes differs from the recorded one.
    #[error("snapshot checksum mismatch: the data is corrupt")]
    ChecksumMismatch,
    /// The digest is not 32 bytes.
    #[error("snapshot digest must be 32 bytes")]
    MalformedDigest,
    /// Larger than [`MAX_SNAPSHOT_BYTES`].
    #[error("snapshot of {0} bytes exceeds the limit")]
    TooLarge(u64),
}

impl SnapshotData {
    /// Wraps freshly encoded bytes, computing their digest.
    pub fn seal(bytes: Vec<u8>) -> SnapshotData {
        let sha256 = sha256(&bytes);
        SnapshotData { bytes, sha256 }
    }

    /// Wraps received or stored bytes with the digest they claim.
    pub fn with_digest(bytes: Vec<u8>, digest: &[u8]) -> Result<SnapshotData, SnapshotError> {
        let sha256: [u8; 32] = digest
            .try_into()
            .map_err(|_| SnapshotError::MalformedDigest)?;
        Ok(SnapshotData { bytes, sha256 })
    }

    /// Checks the bytes against the digest.
    pub fn verify(&self) -> Result<(), SnapshotError> {
        let size = u64::try_from(self.bytes.len()).unwrap_or(u64::MAX);
        if size > MAX_SNAPSHOT_BYTES {
            return Err(SnapshotError::TooLarge(size));
        }
        // Not secret material: a plain comparison is fine here.
        if sha256(&self.bytes) == self.sha256 {
            Ok(())
        } else {
            Err(SnapshotError::ChecksumMismatch)
        }
    }
}

impl fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SnapshotData({} bytes, sha256 {:02x}{:02x}{:02x}{:02x}…)",
            self.bytes.len(),
            self.sha256[0],
            self.sha256[1],
            self.sha256[2],
            self.sha256[3]
        )
    }
}

/// SHA-256 of a byte string.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_flipped_bit_is_detected() {
        let data = SnapshotData::seal(b"replicated configuration".to_vec());
        assert_eq!(data.verify(), Ok(()));
        for i in 0..data.bytes.len() {
            let mut corrupt = data.clone();
            corrupt.bytes[i] ^= 0x01;
            assert_eq!(
                corrupt.verify(),
                Err(SnapshotError::ChecksumMismatch),
                "byte {i}"
            );
        }
        let mut truncated = data.clone();
        truncated.bytes.pop();
        assert_eq!(truncated.verify(), Err(SnapshotError::ChecksumMismatch));
        assert_eq!(
            SnapshotData::with_digest(vec![], &[0; 31]),
            Err(SnapshotError::MalformedDigest)
        );
    }
}
