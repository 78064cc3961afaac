//! Long-term access keys of IAM users: `CreateAccessKey`, `ListAccessKeys`,
//! `UpdateAccessKey`, `DeleteAccessKey`, `GetAccessKeyLastUsed`.
//!
//! `CreateAccessKey` draws the key id (`AKIA…`, with the account encoded as
//! AWS does) and the 40-character secret from the edge's random source, seals
//! the secret under the node's KEK ([`crate::auth::keys::KeyMaterial`]) and
//! proposes only the sealed form: the clear secret never enters the Raft log
//! and is returned exactly once, in this answer. Two keys per user.
//!
//! Without `UserName` the operations act on the calling IAM user, as AWS's
//! do; other callers must name the user (`ValidationError`, AWS's answer to
//! role sessions; the model keeps no access keys for an account's root).
//! Last use is not tracked (it would be a replicated write per request), so
//! `GetAccessKeyLastUsed` answers what AWS answers for a key never used.

use meridian_core::config::command::Command;
use meridian_core::config::error::EntityKind;
use meridian_core::config::limits;
use meridian_core::config::model::{AccessKey, AccessKeyStatus};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, SecretAccessKey};
use meridian_core::principal::Principal;

use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::{Call, IamHandler, errors, random_failed, users};
use crate::model::ErrorCode;
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreateAccessKey", |call| Box::pin(create_access_key(call))),
    ("ListAccessKeys", |call| Box::pin(list_access_keys(call))),
    ("UpdateAccessKey", |call| Box::pin(update_access_key(call))),
    ("DeleteAccessKey", |call| Box::pin(delete_access_key(call))),
    ("GetAccessKeyLastUsed", |call| {
        Box::pin(get_access_key_last_used(call))
    }),
];

/// How many fresh ids to try when a generated one is already taken.
const ID_ATTEMPTS: usize = 4;

/// The user an access key operation is about: `UserName`, or the caller.
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

/// The key `id` of user `user_name`, or `NoSuchEntity`.
fn find_key<'a>(call: &'a Call, user_name: &str, id: &str) -> Result<&'a AccessKey, ApiError> {
    users::find(call, user_name)?
        .access_keys
        .get(id)
        .ok_or_else(|| errors::not_found(EntityKind::AccessKey, id))
}

async fn create_access_key(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    call.authorize(&users::resource(&call, &user_name))?;
    let user = users::find(&call, &user_name)?;
    if user.access_keys.len() >= limits::ACCESS_KEYS_PER_USER {
        return Err(errors::quota(
            "AccessKeysPerUser",
            limits::ACCESS_KEYS_PER_USER,
        ));
    }
    let stored_name = user.name.clone();
    let mut rng = call.rng();
    let mut access_key_id = None;
    for _ in 0..ID_ATTEMPTS {
        let id = AccessKeyId::generate(AccessKeyKind::LongTerm, call.account_id(), &mut rng)
            .map_err(random_failed)?;
        if call.snapshot.access_key(id.as_str()).is_none() {
            access_key_id = Some(id);
            break;
        }
    }
    let access_key_id = access_key_id
        .ok_or_else(|| ApiError::internal(&"no free access key id after several draws"))?;
    let secret = SecretAccessKey::generate(&mut rng).map_err(random_failed)?;
    let sealed_secret = call
        .state()
        .keys()
        .seal_access_key_secret(access_key_id.as_str(), &secret, call.state().random())
        .map_err(|error| ApiError::internal(&error))?;
    call.write(Command::CreateAccessKey {
        account_id: *call.account_id(),
        user_name: stored_name.clone(),
        access_key_id: access_key_id.as_str().to_owned(),
        sealed_secret,
    })
    .await?;
    let created_at = call
        .fresh()
        .access_key(access_key_id.as_str())
        .map_or(call.now, |entry| entry.key.created_at);
    Ok(XmlResult::build(|w| {
        w.structure("AccessKey", |w| {
            w.text("UserName", &stored_name)
                .text("AccessKeyId", access_key_id.as_str())
                .text("Status", AccessKeyStatus::Active.as_str())
                .text("SecretAccessKey", secret.expose_secret())
                .timestamp("CreateDate", created_at);
        });
    }))
}

async fn list_access_keys(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    call.authorize(&users::resource(&call, &user_name))?;
    let page_request = PageRequest::from_call(&call)?;
    let user = users::find(&call, &user_name)?;
    let page = paginate(
        user.access_keys.iter().map(|(id, key)| (id.as_str(), key)),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("AccessKeyMetadata", &page.items, |w, key| {
            w.structure("member", |w| {
                w.text("UserName", &user.name)
                    .text("AccessKeyId", &key.id)
                    .text("Status", key.status.as_str())
                    .timestamp("CreateDate", key.created_at);
            });
        });
        page.write_tail(w);
    }))
}

async fn update_access_key(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    let access_key_id = call.required("AccessKeyId")?.to_owned();
    let status = match call.required("Status")? {
        "Active" => AccessKeyStatus::Active,
        "Inactive" => AccessKeyStatus::Inactive,
        other => {
            return Err(errors::invalid_input(format!(
                "Status {other} cannot be set on an access key"
            )));
        }
    };
    call.authorize(&users::resource(&call, &user_name))?;
    let stored_name = users::find(&call, &user_name)?.name.clone();
    find_key(&call, &user_name, &access_key_id)?;
    call.write(Command::UpdateAccessKey {
        account_id: *call.account_id(),
        user_name: Some(stored_name),
        access_key_id,
        status,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_access_key(call: Call) -> Result<XmlResult, ApiError> {
    let user_name = target_user(&call)?;
    let access_key_id = call.required("AccessKeyId")?.to_owned();
    call.authorize(&users::resource(&call, &user_name))?;
    let stored_name = users::find(&call, &user_name)?.name.clone();
    find_key(&call, &user_name, &access_key_id)?;
    call.write(Command::DeleteAccessKey {
        account_id: *call.account_id(),
        user_name: Some(stored_name),
        access_key_id,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn get_access_key_last_used(call: Call) -> Result<XmlResult, ApiError> {
    let access_key_id = call.required("AccessKeyId")?;
    let entry = call
        .snapshot
        .access_key(access_key_id)
        .filter(|entry| entry.account.account.id == *call.account_id());
    let Some(entry) = entry else {
        // Authorize against the key itself so an unknown key is answered
        // only to callers allowed the action at all.
        call.authorize(&call.arn("user", "/", ""))?;
        return Err(errors::not_found(EntityKind::AccessKey, access_key_id));
    };
    call.authorize(&entry.user.arn(call.partition(), call.account_id()))?;
    Ok(XmlResult::build(|w| {
        w.text("UserName", &entry.user.name)
            .structure("AccessKeyLastUsed", |w| {
                w.text("ServiceName", "N/A").text("Region", "N/A");
            });
    }))
}
