//! The binary's one wall-clock read (signing requests to check the
//! administrator's credentials in `meridian dev`).

use meridian_core::time::Timestamp;

/// Now, from the system clock.
#[allow(clippy::disallowed_methods)] // the CLI's single wall-clock read
pub fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
