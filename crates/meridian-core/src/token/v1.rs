//! Version 1 of the session token's sealed body: what is encrypted, field by
//! field, and the worst-case size that bounds every buffer.
//!
//! ```text
//! session id        16 bytes
//! secret key        30 bytes (the raw form of the 40-character secret)
//! issued at         i64 ms since the epoch, big-endian
//! expires at        i64 ms
//! flags             u8: bit 0 MFA present, bit 1 role chained; others zero
//! [MFA auth time]   i64 ms, only when bit 0 is set
//! region            u8 length + text (1..=32)
//! principal         u8 kind, u64 account, then per kind:
//!   1 root          -
//!   2 user          u16 path, u8 name, u8 user id
//!   3 assumed role  u16 role path, u8 role name, u8 role id, u8 session name,
//!                   u8 origin (1 AssumeRole, 2 web identity, 3 SAML)
//!                   [u16 provider ARN, origins 2 and 3]
//!   4 federated     u8 name, u8 parent (0 root, 1 user: u16 path, u8 name, u8 id)
//! source identity   u8 length + text (0: none)
//! provider claims   u8 count, each u8 length + key, u16 length + value
//!                   (≤ 512 bytes in all)
//! packed section    see `packed.rs`
//! ```
//!
//! The body must be consumed exactly; trailing bytes are an error. Decoding
//! goes through the same validating constructors as minting, so a decoded
//! token holds only values a minter could have produced.

use zeroize::Zeroizing;

use crate::arn::Arn;
use crate::ids::{AccountId, SecretAccessKey, UniqueId};
use crate::principal::{
    AssumedRolePrincipal, FederatedUserPrincipal, MAX_FEDERATED_NAME_LEN, MAX_NAME_LEN,
    MAX_PATH_LEN, MAX_PROVIDER_ARN_LEN, MAX_SESSION_NAME_LEN, Principal, SessionOrigin,
    UserPrincipal,
};
use crate::time::Timestamp;

use super::packed::{
    MAX_POLICY_ARNS, MAX_SESSION_TAGS, PACKED_POLICY_LIMIT, SessionPolicy, SessionTag, arn_len,
};
use super::wire::{Reader, TooLong, Truncated, Writer};
use super::{
    MAX_PROVIDER_CLAIM_KEY_LEN, MAX_REGION_LEN, MAX_SOURCE_IDENTITY_LEN, PROVIDER_CLAIMS_LIMIT,
    ProviderClaim, SessionId, SessionSpec,
};

const FLAG_MFA: u8 = 1;
const FLAG_CHAINED: u8 = 2;

const KIND_ROOT: u8 = 1;
const KIND_USER: u8 = 2;
const KIND_ASSUMED_ROLE: u8 = 3;
const KIND_FEDERATED: u8 = 4;

const ORIGIN_ASSUME_ROLE: u8 = 1;
const ORIGIN_WEB_IDENTITY: u8 = 2;
const ORIGIN_SAML: u8 = 3;

const UNIQUE_ID_MAX: usize = UniqueId::MAX_LEN;
const TAG_KEY_MAX_BYTES: usize = 4 * super::packed::MAX_TAG_KEY_CHARS;
const TAG_VALUE_MAX_BYTES: usize = 4 * super::packed::MAX_TAG_VALUE_CHARS;

/// Bytes of a user's fields (path, name, id) at their maxima.
const USER_MAX: usize = (2 + MAX_PATH_LEN) + (1 + MAX_NAME_LEN) + (1 + UNIQUE_ID_MAX);
/// Bytes of the largest principal (an assumed role with a provider).
const PRINCIPAL_MAX: usize = 1 + 8 + {
    let role = (2 + MAX_PATH_LEN)
        + (1 + MAX_NAME_LEN)
        + (1 + UNIQUE_ID_MAX)
        + (1 + MAX_SESSION_NAME_LEN)
        + 1
        + (2 + MAX_PROVIDER_ARN_LEN);
    let federated = (1 + MAX_FEDERATED_NAME_LEN) + 1 + USER_MAX;
    let largest = if role > USER_MAX { role } else { USER_MAX };
    if largest > federated {
        largest
    } else {
        federated
    }
};
/// The largest body version 1 can hold.
pub(crate) const BODY_MAX: usize = SessionId::LEN
    + SecretAccessKey::RAW_LEN
    + 8
    + 8
    + 1
    + 8
    + (1 + MAX_REGION_LEN)
    + PRINCIPAL_MAX
    + (1 + MAX_SOURCE_IDENTITY_LEN)
    + PROVIDER_CLAIMS_LIMIT
    + PACKED_POLICY_LIMIT;

/// Writes the body. `spec` has been validated by the caller (lengths of the
/// region, source identity and tags, and the packed size), and the writer
/// re-checks every bound anyway.
pub(crate) fn encode(
    w: &mut Writer<'_>,
    spec: &SessionSpec,
    session_id: &SessionId,
    secret_raw: &[u8; SecretAccessKey::RAW_LEN],
) -> Result<(), TooLong> {
    w.bytes("session id", session_id.as_bytes())?;
    w.bytes("secret", secret_raw)?;
    w.i64("issued at", spec.issued_at.unix_millis())?;
    w.i64("expires at", spec.expires_at.unix_millis())?;
    let mut flags = 0;
    if spec.mfa_authenticated_at.is_some() {
        flags |= FLAG_MFA;
    }
    if spec.role_chained {
        flags |= FLAG_CHAINED;
    }
    w.u8("flags", flags)?;
    if let Some(at) = spec.mfa_authenticated_at {
        w.i64("mfa auth time", at.unix_millis())?;
    }
    w.str8("region", &spec.region, MAX_REGION_LEN)?;
    encode_principal(w, &spec.principal)?;
    w.str8(
        "source identity",
        spec.source_identity.as_deref().unwrap_or(""),
        MAX_SOURCE_IDENTITY_LEN,
    )?;
    let claims =
        u8::try_from(spec.provider_claims.len()).map_err(|_| TooLong("provider claims"))?;
    w.u8("provider claims", claims)?;
    for claim in &spec.provider_claims {
        w.str8("provider claim key", &claim.key, MAX_PROVIDER_CLAIM_KEY_LEN)?;
        w.str16("provider claim value", &claim.value, PROVIDER_CLAIMS_LIMIT)?;
    }
    encode_packed(w, &spec.policy, &spec.tags)
}

fn encode_user(w: &mut Writer<'_>, user: &UserPrincipal) -> Result<(), TooLong> {
    w.str16("user path", user.path(), MAX_PATH_LEN)?;
    w.str8("user name", user.name(), MAX_NAME_LEN)?;
    w.str8("user id", user.user_id().as_str(), UNIQUE_ID_MAX)
}

fn encode_principal(w: &mut Writer<'_>, principal: &Principal) -> Result<(), TooLong> {
    let kind = match principal {
        Principal::Root(_) => KIND_ROOT,
        Principal::User(_) => KIND_USER,
        Principal::AssumedRole(_) => KIND_ASSUMED_ROLE,
        Principal::FederatedUser(_) => KIND_FEDERATED,
    };
    w.u8("principal kind", kind)?;
    w.u64("account", principal.account().as_u64())?;
    match principal {
        Principal::Root(_) => Ok(()),
        Principal::User(user) => encode_user(w, user),
        Principal::AssumedRole(role) => {
            w.str16("role path", role.role_path(), MAX_PATH_LEN)?;
            w.str8("role name", role.role_name(), MAX_NAME_LEN)?;
            w.str8("role id", role.role_id().as_str(), UNIQUE_ID_MAX)?;
            w.str8("session name", role.session_name(), MAX_SESSION_NAME_LEN)?;
            match role.origin() {
                SessionOrigin::AssumeRole => w.u8("origin", ORIGIN_ASSUME_ROLE),
                SessionOrigin::WebIdentity { provider } => {
                    w.u8("origin", ORIGIN_WEB_IDENTITY)?;
                    w.str16("provider", &provider.to_string(), MAX_PROVIDER_ARN_LEN)
                }
                SessionOrigin::Saml { provider } => {
                    w.u8("origin", ORIGIN_SAML)?;
                    w.str16("provider", &provider.to_string(), MAX_PROVIDER_ARN_LEN)
                }
            }
        }
        Principal::FederatedUser(federated) => {
            w.str8("federated name", federated.name(), MAX_FEDERATED_NAME_LEN)?;
            match federated.parent() {
                None => w.u8("parent", 0),
                Some(user) => {
                    w.u8("parent", 1)?;
                    encode_user(w, user)
                }
            }
        }
    }
}

fn encode_packed(
    w: &mut Writer<'_>,
    policy: &SessionPolicy,
    tags: &[SessionTag],
) -> Result<(), TooLong> {
    w.str16("policy", policy.inline().unwrap_or(""), PACKED_POLICY_LIMIT)?;
    let arns = u8::try_from(policy.managed_arns().len()).map_err(|_| TooLong("policy arns"))?;
    w.u8("policy arns", arns)?;
    let mut text = String::new();
    for arn in policy.managed_arns() {
        text.clear();
        text.reserve(arn_len(arn));
        use std::fmt::Write as _;
        write!(text, "{arn}").map_err(|_| TooLong("policy arn"))?;
        w.str16("policy arn", &text, PACKED_POLICY_LIMIT)?;
    }
    let count = u8::try_from(tags.len()).map_err(|_| TooLong("tags"))?;
    w.u8("tags", count)?;
    for tag in tags {
        w.u8("tag", u8::from(tag.transitive))?;
        w.str16("tag key", &tag.key, TAG_KEY_MAX_BYTES)?;
        w.str16("tag value", &tag.value, TAG_VALUE_MAX_BYTES)?;
    }
    Ok(())
}

/// What a body holds.
pub(crate) struct Body {
    pub(crate) spec: SessionSpec,
    pub(crate) session_id: SessionId,
    pub(crate) secret: SecretAccessKey,
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Body, Truncated> {
    let mut r = Reader::new(bytes);
    let session_id = SessionId::from_bytes(r.array()?);
    let secret = SecretAccessKey::from_raw(&Zeroizing::new(r.array()?));
    let issued_at = Timestamp::from_unix_millis(r.i64()?);
    let expires_at = Timestamp::from_unix_millis(r.i64()?);
    let flags = r.u8()?;
    if flags & !(FLAG_MFA | FLAG_CHAINED) != 0 {
        return Err(Truncated);
    }
    let mfa_authenticated_at = if flags & FLAG_MFA != 0 {
        Some(Timestamp::from_unix_millis(r.i64()?))
    } else {
        None
    };
    let region = r.str8(MAX_REGION_LEN)?.to_owned();
    let principal = decode_principal(&mut r)?;
    let source_identity = match r.str8(MAX_SOURCE_IDENTITY_LEN)? {
        "" => None,
        text => Some(text.to_owned()),
    };
    let claim_count = usize::from(r.u8()?);
    let mut provider_claims = Vec::with_capacity(claim_count.min(PROVIDER_CLAIMS_LIMIT / 4));
    for _ in 0..claim_count {
        let key = r.str8(MAX_PROVIDER_CLAIM_KEY_LEN)?;
        if key.is_empty() {
            return Err(Truncated);
        }
        let value = r.str16(PROVIDER_CLAIMS_LIMIT)?;
        provider_claims.push(ProviderClaim::new(key, value));
    }
    if super::provider_claims_size(&provider_claims) > PROVIDER_CLAIMS_LIMIT {
        return Err(Truncated);
    }
    let inline = match r.str16(PACKED_POLICY_LIMIT)? {
        "" => None,
        text => Some(text.to_owned()),
    };
    let arn_count = usize::from(r.u8()?);
    if arn_count > MAX_POLICY_ARNS {
        return Err(Truncated);
    }
    let mut managed = Vec::with_capacity(arn_count);
    for _ in 0..arn_count {
        managed.push(Arn::parse(r.str16(PACKED_POLICY_LIMIT)?).map_err(|_| Truncated)?);
    }
    let tag_count = usize::from(r.u8()?);
    if tag_count > MAX_SESSION_TAGS {
        return Err(Truncated);
    }
    let mut tags = Vec::with_capacity(tag_count);
    for _ in 0..tag_count {
        let transitive = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(Truncated),
        };
        let key = r.str16(TAG_KEY_MAX_BYTES)?.to_owned();
        let value = r.str16(TAG_VALUE_MAX_BYTES)?.to_owned();
        tags.push(SessionTag {
            key,
            value,
            transitive,
        });
    }
    if !r.is_empty() {
        return Err(Truncated);
    }
    Ok(Body {
        spec: SessionSpec {
            principal,
            region,
            issued_at,
            expires_at,
            source_identity,
            tags,
            policy: SessionPolicy::from_parts(inline, managed),
            mfa_authenticated_at,
            role_chained: flags & FLAG_CHAINED != 0,
            provider_claims,
        },
        session_id,
        secret,
    })
}

fn unique_id(text: &str) -> Result<UniqueId, Truncated> {
    UniqueId::parse(text).map_err(|_| Truncated)
}

fn decode_user(r: &mut Reader<'_>, account: AccountId) -> Result<UserPrincipal, Truncated> {
    let path = r.str16(MAX_PATH_LEN)?;
    let name = r.str8(MAX_NAME_LEN)?;
    let id = unique_id(r.str8(UNIQUE_ID_MAX)?)?;
    UserPrincipal::new(account, path, name, id).map_err(|_| Truncated)
}

fn decode_provider(r: &mut Reader<'_>) -> Result<Arn, Truncated> {
    Arn::parse(r.str16(MAX_PROVIDER_ARN_LEN)?).map_err(|_| Truncated)
}

fn decode_principal(r: &mut Reader<'_>) -> Result<Principal, Truncated> {
    let kind = r.u8()?;
    let account = AccountId::from_u64(r.u64()?).map_err(|_| Truncated)?;
    let principal = match kind {
        KIND_ROOT => Principal::Root(account),
        KIND_USER => Principal::User(decode_user(r, account)?),
        KIND_ASSUMED_ROLE => {
            let path = r.str16(MAX_PATH_LEN)?;
            let name = r.str8(MAX_NAME_LEN)?;
            let id = unique_id(r.str8(UNIQUE_ID_MAX)?)?;
            let session = r.str8(MAX_SESSION_NAME_LEN)?;
            let origin = match r.u8()? {
                ORIGIN_ASSUME_ROLE => SessionOrigin::AssumeRole,
                ORIGIN_WEB_IDENTITY => {
                    SessionOrigin::web_identity(decode_provider(r)?).map_err(|_| Truncated)?
                }
                ORIGIN_SAML => SessionOrigin::saml(decode_provider(r)?).map_err(|_| Truncated)?,
                _ => return Err(Truncated),
            };
            let role = AssumedRolePrincipal::new(account, path, name, id, session, origin)
                .map_err(|_| Truncated)?;
            Principal::AssumedRole(role)
        }
        KIND_FEDERATED => {
            let name = r.str8(MAX_FEDERATED_NAME_LEN)?;
            let parent = match r.u8()? {
                0 => None,
                1 => Some(decode_user(r, account)?),
                _ => return Err(Truncated),
            };
            Principal::FederatedUser(
                FederatedUserPrincipal::new(account, name, parent).map_err(|_| Truncated)?,
            )
        }
        _ => return Err(Truncated),
    };
    Ok(principal)
}
