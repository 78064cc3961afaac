//! Virtual MFA devices: `CreateVirtualMFADevice`, `DeactivateMFADevice`,
//! `DeleteVirtualMFADevice`, `ListMFADevices`, `ListVirtualMFADevices`.
//!
//! `CreateVirtualMFADevice` draws a 160-bit TOTP seed (RFC 4226's
//! recommended length) from the edge's random source, seals it under the
//! node's KEK with [`SecretPurpose::MfaSeed`] bound to the device's serial
//! number (the convention the TOTP checks of the federation work open it
//! with), proposes only the sealed form, and returns the seed once as
//! `Base32StringSeed`: the base32 text (RFC 4648, no padding) that
//! authenticator apps take, base64-encoded as the query protocol encodes
//! blobs. `QRCodePNG` is not produced.
//!
//! `EnableMFADevice` needs two consecutive TOTP codes (RFC 6238, the
//! second within ±1 step of now) checked against the opened seed; wrong
//! codes answer AWS's `InvalidAuthenticationCode` (403). Both codes are then
//! recorded as used on this node (`crate::sso`), so they cannot also open a
//! session. `ResyncMFADevice` is not in the served model.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use meridian_core::config::command::Command;
use meridian_core::config::error::EntityKind;
use meridian_core::config::model::{MfaDevice, SealedBytes};
use meridian_core::keyring::SecretPurpose;
use meridian_core::principal::Principal;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::render::{self, View};
use crate::iam::{Call, IamHandler, errors, users};
use crate::model::ErrorCode;
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreateVirtualMFADevice", |call| {
        Box::pin(create_virtual_mfa_device(call))
    }),
    ("EnableMFADevice", |call| Box::pin(enable_mfa_device(call))),
    ("DeactivateMFADevice", |call| {
        Box::pin(deactivate_mfa_device(call))
    }),
    ("DeleteVirtualMFADevice", |call| {
        Box::pin(delete_virtual_mfa_device(call))
    }),
    ("ListMFADevices", |call| Box::pin(list_mfa_devices(call))),
    ("ListVirtualMFADevices", |call| {
        Box::pin(list_virtual_mfa_devices(call))
    }),
];

/// Seed length in bytes (160 bits).
const SEED_LEN: usize = 20;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// The device with serial number `serial` in the caller's account.
fn find<'a>(call: &'a Call, serial: &str) -> Result<&'a MfaDevice, ApiError> {
    match call.snapshot.mfa_device_by_serial(serial) {
        Some((account, device)) if account.account.id == *call.account_id() => Ok(device),
        _ => Err(errors::not_found(EntityKind::MfaDevice, serial)),
    }
}

/// `UserName`, or the calling IAM user.
fn target_user(call: &Call) -> Result<String, ApiError> {
    match (call.str("UserName"), &call.caller.principal) {
        (Some(name), _) => Ok(name.to_owned()),
        (None, Principal::User(user)) => Ok(user.name().to_owned()),
        (None, _) => Err(ApiError::new(
            ErrorCode::ValidationError,
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

async fn create_virtual_mfa_device(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("VirtualMFADeviceName")?.to_owned();
    let path = call.str("Path").unwrap_or("/").to_owned();
    let serial = call.arn("mfa", &path, &name);
    let tags = call.tags()?;
    call.authorize_tagging(&serial, &tags, &[], &[])?;
    if call.account()?.mfa_device(&name).is_some() {
        return Err(errors::already_exists(EntityKind::MfaDevice, &name));
    }
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    call.state().random().fill(seed.as_mut_slice());
    let sealed = call
        .state()
        .keys()
        .kek()
        .seal_secret(
            SecretPurpose::MfaSeed,
            serial.as_bytes(),
            seed.as_slice(),
            &mut call.rng(),
        )
        .map_err(|error| ApiError::internal(&error))?;
    call.write(Command::CreateVirtualMfaDevice {
        account_id: *call.account_id(),
        name,
        path,
        sealed_seed: SealedBytes(sealed.into_bytes()),
        tags: tags.clone(),
    })
    .await?;
    let seed_text = base32(seed.as_slice());
    let encoded = Zeroizing::new(BASE64.encode(seed_text.as_bytes()));
    Ok(XmlResult::build(|w| {
        w.structure("VirtualMFADevice", |w| {
            w.text("SerialNumber", &serial)
                .text("Base32StringSeed", &encoded);
            render::tags(w, &tags, true);
        });
    }))
}

async fn enable_mfa_device(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = call.required("UserName")?.to_owned();
    let serial = call.required("SerialNumber")?.to_owned();
    let first = call.required("AuthenticationCode1")?.to_owned();
    let second = call.required("AuthenticationCode2")?.to_owned();
    call.authorize(&users::resource(&call, &user_name))?;
    let user = users::find(&call, &user_name)?;
    let device = find(&call, &serial)?;
    if device.user.is_some() {
        return Err(ApiError::new(
            ErrorCode::EntityAlreadyExists,
            "MFA Device is already in use.",
        ));
    }
    let canonical = device.serial(call.partition(), call.account_id());
    let seed = crate::mfa::open_seed(call.state(), &canonical, device)?;
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidAuthenticationCode,
            "Authentication code for device is not valid.",
        )
    };
    let step = seed
        .verify_consecutive(&first, &second, call.now)
        .map_err(|_| invalid())?;
    let sso = call.state().sso();
    if !sso.use_mfa_code(&canonical, step, call.now)
        || !sso.use_mfa_code(&canonical, step.saturating_sub(1), call.now)
    {
        return Err(invalid());
    }
    call.write(Command::EnableMfaDevice {
        account_id: *call.account_id(),
        user_name: user.name.clone(),
        serial_number: canonical,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn deactivate_mfa_device(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    let serial = call.required("SerialNumber")?.to_owned();
    call.authorize(&users::resource(&call, &user_name))?;
    let user = users::find(&call, &user_name)?;
    let enabled_for_user = find(&call, &serial)?
        .user
        .as_deref()
        .is_some_and(|holder| holder.eq_ignore_ascii_case(&user.name));
    if !enabled_for_user {
        return Err(errors::not_found(EntityKind::MfaDevice, &serial));
    }
    call.write(Command::DeactivateMfaDevice {
        account_id: *call.account_id(),
        user_name: user.name.clone(),
        serial_number: serial,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_virtual_mfa_device(call: Call) -> Result<XmlResult, ApiError> {
    let serial = call.required("SerialNumber")?.to_owned();
    call.authorize(&serial)?;
    if find(&call, &serial)?.user.is_some() {
        return Err(ApiError::new(
            ErrorCode::DeleteConflict,
            "MFA Device is in use and cannot be deleted. Deactivate the device first.",
        ));
    }
    call.write(Command::DeleteVirtualMfaDevice {
        account_id: *call.account_id(),
        serial_number: serial,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_mfa_devices(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    call.authorize(&users::resource(&call, &user_name))?;
    let page_request = PageRequest::from_call(&call)?;
    let user = users::find(&call, &user_name)?;
    let devices = user.mfa_devices.iter().map(|serial| {
        let enabled_at = call
            .snapshot
            .mfa_device_by_serial(serial)
            .and_then(|(_, device)| device.enabled_at);
        (serial.as_str(), (serial.as_str(), enabled_at))
    });
    let page = paginate(devices, &page_request);
    Ok(XmlResult::build(|w| {
        w.list("MFADevices", &page.items, |w, (serial, enabled_at)| {
            w.structure("member", |w| {
                w.text("UserName", &user.name).text("SerialNumber", serial);
                if let Some(at) = enabled_at {
                    w.timestamp("EnableDate", *at);
                }
            });
        });
        page.write_tail(w);
    }))
}

async fn list_virtual_mfa_devices(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let status = call.str("AssignmentStatus").unwrap_or("Any");
    let page_request = PageRequest::from_call(&call)?;
    let account = call.account()?;
    let page = paginate(
        account
            .mfa_devices
            .iter()
            .filter(|(_, device)| match status {
                "Assigned" => device.user.is_some(),
                "Unassigned" => device.user.is_none(),
                _ => true,
            }),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("VirtualMFADevices", &page.items, |w, device| {
            w.structure("member", |w| {
                w.text(
                    "SerialNumber",
                    &device.serial(call.partition(), call.account_id()),
                );
                let holder = device.user.as_deref().and_then(|name| account.user(name));
                if let Some(user) = holder {
                    render::user(
                        w,
                        "User",
                        user,
                        call.partition(),
                        call.account_id(),
                        View::Listed,
                    );
                }
                if let Some(at) = device.enabled_at {
                    w.timestamp("EnableDate", at);
                }
                render::tags(w, &device.tags, true);
            });
        });
        page.write_tail(w);
    }))
}

#[cfg(test)]
mod tests {
    use super::base32;

    /// RFC 4648 §10 test vectors (padding stripped).
    #[test]
    fn base32_matches_rfc_4648() {
        let cases = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (input, expected) in cases {
            assert_eq!(base32(input.as_bytes()).as_str(), expected, "{input}");
        }
        assert_eq!(base32(&[0u8; 20]).len(), 32);
    }
}
