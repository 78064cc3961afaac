//! The tool's one wall-clock read: SigV4 signatures carry the signing time,
//! and servers reject requests outside their clock window.

use meridian_core::time::Timestamp;

/// Now, from the system clock.
#[allow(clippy::disallowed_methods)] // the load generator's single wall-clock read
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
