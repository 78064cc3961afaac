//! Conversions between the generated messages ([`crate::pb`]) and
//! `meridian-core` types: `From<&core>` to encode, `TryFrom<pb>` to decode.
//!
//! One file per area, after openraft's gRPC example layout. Decoding checks
//! what the types promise (account ids, request id length, enum values);
//! whether a command makes sense is decided later, at apply time.

pub mod impl_command;
pub mod impl_config_state;
pub mod impl_node;
pub mod impl_outcome;

use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;

use crate::error::DecodeError;

pub(crate) fn account_id(field: &'static str, text: &str) -> Result<AccountId, DecodeError> {
    AccountId::parse(text).map_err(|err| DecodeError::invalid(field, err.to_string()))
}

pub(crate) fn millis(value: Timestamp) -> i64 {
    value.unix_millis()
}

pub(crate) fn timestamp(value: i64) -> Timestamp {
    Timestamp::from_unix_millis(value)
}

pub(crate) fn required<T>(field: &'static str, value: Option<T>) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::Missing(field))
}
