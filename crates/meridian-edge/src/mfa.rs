//! TOTP checks against a virtual MFA device: `SerialNumber`/`TokenCode` on
//! `GetSessionToken` and `AssumeRole`, and the two codes of
//! `EnableMFADevice`.
//!
//! The seed is stored sealed under the KEK with [`SecretPurpose::MfaSeed`]
//! and the device's serial number as its id (`iam/mfa.rs` seals it); it is
//! opened here for one check and zeroized when dropped. A code is accepted
//! once per node: the step it matched is recorded for the device in
//! [`crate::sso::SsoState`] until it leaves the ±1-step window, so running
//! the same code twice answers AWS's "invalid MFA one time pass code" (the
//! AWS CLI has been observed doing exactly that).

use meridian_core::config::model::MfaDevice;
use meridian_core::keyring::{SealedSecret, SecretPurpose};
use meridian_core::principal::Principal;
use meridian_core::time::Timestamp;
use meridian_core::totp::{TotpError, TotpSeed};

use crate::decode::Structure;
use crate::error::ApiError;
use crate::model::ErrorCode;
use crate::operation::OperationRequest;
use crate::state::EdgeState;

/// AWS's text for a serial number that is not the caller's device.
const UNKNOWN_DEVICE: &str = "MultiFactorAuthentication failed, unable to validate MFA code.  \
     Please verify your MFA serial number is valid and associated with this user.";
/// AWS's text for a wrong or reused code.
const INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";

fn denied(message: &'static str) -> ApiError {
    ApiError::new(ErrorCode::AccessDenied, message)
}

/// Opens the seed of `device`, whose canonical serial number is `serial`.
pub(crate) fn open_seed(
    state: &EdgeState,
    serial: &str,
    device: &MfaDevice,
) -> Result<TotpSeed, ApiError> {
    let sealed = SealedSecret::from_bytes(device.sealed_seed.0.clone())
        .map_err(|e| ApiError::internal(&e))?;
    let seed = state
        .keys()
        .kek()
        .open_secret(SecretPurpose::MfaSeed, serial.as_bytes(), &sealed)
        .map_err(|e| ApiError::internal(&e))?;
    TotpSeed::new(&seed).map_err(|e| ApiError::internal(&e))
}

/// Checks the request's `SerialNumber`/`TokenCode` for the calling IAM user.
/// `Ok(None)` when neither is given; `Ok(Some(now))` — the MFA
/// authentication time the session carries — when the code is valid and
/// unused on this node; AWS's `AccessDenied` otherwise.
pub(crate) fn authenticate(
    request: &OperationRequest,
    principal: &Principal,
    input: &Structure,
) -> Result<Option<Timestamp>, ApiError> {
    let (serial, code) = match (input.str("SerialNumber"), input.str("TokenCode")) {
        (None, None) => return Ok(None),
        (Some(serial), Some(code)) => (serial, code),
        (Some(_), None) | (None, Some(_)) => return Err(denied(UNKNOWN_DEVICE)),
    };
    let Principal::User(user) = principal else {
        // Only IAM users hold virtual MFA devices here.
        return Err(denied(UNKNOWN_DEVICE));
    };
    let snapshot = &request.snapshot;
    let (account, device) = snapshot
        .mfa_device_by_serial(serial)
        .filter(|(account, device)| {
            account.account.id == *user.account()
                && device
                    .user
                    .as_deref()
                    .is_some_and(|holder| holder.eq_ignore_ascii_case(user.name()))
        })
        .ok_or_else(|| denied(UNKNOWN_DEVICE))?;
    let canonical = device.serial(snapshot.partition(), &account.account.id);
    let seed = open_seed(&request.state, &canonical, device)?;
    let step = seed
        .verify(code, request.now)
        .map_err(|error| match error {
            TotpError::Malformed | TotpError::Mismatch | TotpError::NotConsecutive => {
                denied(INVALID_CODE)
            }
            TotpError::BadSeed => ApiError::internal(&error),
        })?;
    if !request
        .state
        .sso()
        .use_mfa_code(&canonical, step, request.now)
    {
        return Err(denied(INVALID_CODE));
    }
    Ok(Some(request.now))
}
