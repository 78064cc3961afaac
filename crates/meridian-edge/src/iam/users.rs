//! IAM users: `CreateUser`, `GetUser`, `ListUsers`, `UpdateUser`,
//! `DeleteUser`, their tags and their permissions boundary.
//!
//! Names are unique case-insensitively (the snapshot keys users by the
//! lower-cased name). `GetUser` without `UserName` describes the caller: an
//! IAM user gets its own record, the root its root identity, and role or
//! federated sessions `ValidationError`, which AWS SDKs read as "federated
//! credentials" and move on to `GetCallerIdentity`.

use meridian_core::config::command::{Command, PolicyHolder, TagTarget};
use meridian_core::config::model::{Tags, User};
use meridian_core::ids::UniqueIdKind;
use meridian_core::principal::Principal;

use crate::authz::ContextValue;
use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::render::{self, View};
use crate::iam::{Call, IamHandler, errors, managed};
use crate::model::ErrorCode;
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreateUser", |call| Box::pin(create_user(call))),
    ("GetUser", |call| Box::pin(get_user(call))),
    ("ListUsers", |call| Box::pin(list_users(call))),
    ("UpdateUser", |call| Box::pin(update_user(call))),
    ("DeleteUser", |call| Box::pin(delete_user(call))),
    ("TagUser", |call| Box::pin(tag_user(call))),
    ("UntagUser", |call| Box::pin(untag_user(call))),
    ("ListUserTags", |call| Box::pin(list_user_tags(call))),
    ("PutUserPermissionsBoundary", |call| {
        Box::pin(put_user_permissions_boundary(call))
    }),
    ("DeleteUserPermissionsBoundary", |call| {
        Box::pin(delete_user_permissions_boundary(call))
    }),
];

/// The user `name` of the caller's account, or AWS's `NoSuchEntity`.
pub(super) fn find<'a>(call: &'a Call, name: &str) -> Result<&'a User, ApiError> {
    call.account()?
        .user(name)
        .ok_or_else(|| errors::no_such_user(name))
}

/// The ARN an action on user `name` is authorized against: the user's own
/// when it exists, else `user/{name}` (the path is unknown).
pub(super) fn resource(call: &Call, name: &str) -> String {
    match call.account().ok().and_then(|account| account.user(name)) {
        Some(user) => user.arn(call.partition(), call.account_id()),
        None => call.arn("user", "/", name),
    }
}

async fn create_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    let path = call.str("Path").unwrap_or("/").to_owned();
    let tags = call.tags()?;
    let boundary_arn = call.str("PermissionsBoundary");
    let boundary_key: Vec<_> = boundary_arn
        .map(|arn| ("iam:PermissionsBoundary", ContextValue::String(arn)))
        .into_iter()
        .collect();
    call.authorize_tagging(&call.arn("user", &path, &name), &tags, &[], &boundary_key)?;
    if call.account()?.user(&name).is_some() {
        return Err(errors::already_exists(
            meridian_core::config::error::EntityKind::User,
            &name,
        ));
    }
    let permissions_boundary = boundary_arn
        .map(|arn| managed::attachable(&call, arn).map(|(_, canonical)| canonical))
        .transpose()?;
    let user_id = call.unique_id(UniqueIdKind::User)?;
    call.write(Command::CreateUser {
        account_id: *call.account_id(),
        user_name: name.clone(),
        path: path.clone(),
        user_id: user_id.clone(),
        permissions_boundary: permissions_boundary.clone(),
        tags: tags.clone(),
    })
    .await?;
    let fresh = call.fresh();
    let applied = fresh
        .user(call.account_id(), &name)
        .filter(|user| user.user_id == user_id)
        .cloned();
    // A concurrent delete can remove it before we read it back: answer with
    // what was created.
    let user = applied.unwrap_or_else(|| User {
        name,
        path,
        user_id,
        created_at: call.now,
        permissions_boundary,
        tags,
        inline_policies: Default::default(),
        attached_policies: Default::default(),
        access_keys: Default::default(),
        mfa_devices: Default::default(),
    });
    Ok(XmlResult::build(|w| {
        render::user(
            w,
            "User",
            &user,
            call.partition(),
            call.account_id(),
            View::Created,
        );
    }))
}

async fn get_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = match (call.str("UserName"), &call.caller.principal) {
        (Some(name), _) => name.to_owned(),
        (None, Principal::User(user)) => user.name().to_owned(),
        (None, Principal::Root(account)) => {
            let arn = format!("arn:{}:iam::{account}:root", call.partition());
            call.authorize(&arn)?;
            let created = call.account()?.account.created_at;
            return Ok(XmlResult::build(|w| {
                w.structure("User", |w| {
                    w.text("UserId", account.as_str())
                        .text("Arn", &arn)
                        .timestamp("CreateDate", created);
                });
            }));
        }
        (None, _) => {
            return Err(ApiError::new(
                ErrorCode::ValidationError,
                "Must specify userName when calling with non-User credentials",
            ));
        }
    };
    call.authorize(&resource(&call, &name))?;
    let user = find(&call, &name)?;
    Ok(XmlResult::build(|w| {
        render::user(
            w,
            "User",
            user,
            call.partition(),
            call.account_id(),
            View::Full,
        );
    }))
}

async fn list_users(call: Call) -> Result<XmlResult, ApiError> {
    let prefix = call.str("PathPrefix").unwrap_or("/");
    call.authorize(&call.arn("user", prefix, ""))?;
    let page_request = PageRequest::from_call(&call)?;
    let account = call.account()?;
    let page = paginate(
        account
            .users
            .iter()
            .filter(|(_, user)| user.path.starts_with(prefix)),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("Users", &page.items, |w, user| {
            render::user(
                w,
                "member",
                user,
                call.partition(),
                call.account_id(),
                View::Listed,
            );
        });
        page.write_tail(w);
    }))
}

async fn update_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    let new_name = call.str("NewUserName").map(str::to_owned);
    let new_path = call.str("NewPath").map(str::to_owned);
    call.authorize(&resource(&call, &name))?;
    let user = find(&call, &name)?;
    if new_name.is_some() || new_path.is_some() {
        // Renaming or moving needs the permission on the new identity too.
        let target = call.arn(
            "user",
            new_path.as_deref().unwrap_or(&user.path),
            new_name.as_deref().unwrap_or(&user.name),
        );
        call.authorize(&target)?;
    }
    if let Some(new_name) = &new_name {
        let taken = call
            .account()?
            .user(new_name)
            .is_some_and(|other| other.user_id != user.user_id);
        if taken {
            return Err(errors::already_exists(
                meridian_core::config::error::EntityKind::User,
                new_name,
            ));
        }
    }
    call.write(Command::UpdateUser {
        account_id: *call.account_id(),
        user_name: name,
        new_user_name: new_name,
        new_path,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    let user = find(&call, &name)?;
    // AWS's order: keys, MFA devices, attached policies, inline policies.
    let blocker = if !user.access_keys.is_empty() {
        Some("access keys")
    } else if !user.mfa_devices.is_empty() {
        Some("MFA devices")
    } else if !user.attached_policies.is_empty() {
        Some("attached policies")
    } else if !user.inline_policies.is_empty() {
        Some("inline policies")
    } else {
        None
    };
    if let Some(what) = blocker {
        return Err(errors::delete_conflict(what));
    }
    call.write(Command::DeleteUser {
        account_id: *call.account_id(),
        user_name: name,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn tag_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&resource(&call, &name), &tags, &[], &[])?;
    find(&call, &name)?;
    call.write(Command::TagResource {
        account_id: *call.account_id(),
        target: TagTarget::User(name),
        tags,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn untag_user(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    let tag_keys = call.strings("TagKeys");
    call.authorize_tagging(&resource(&call, &name), &Tags::new(), &tag_keys, &[])?;
    find(&call, &name)?;
    call.write(Command::UntagResource {
        account_id: *call.account_id(),
        target: TagTarget::User(name),
        tag_keys,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_user_tags(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    let page_request = PageRequest::from_call(&call)?;
    let user = find(&call, &name)?;
    Ok(render::tags_page(&user.tags, &page_request))
}

async fn put_user_permissions_boundary(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    let arn = call.required("PermissionsBoundary")?.to_owned();
    call.authorize_with(
        &resource(&call, &name),
        &[("iam:PermissionsBoundary", ContextValue::String(&arn))],
    )?;
    find(&call, &name)?;
    let (_, canonical) = managed::attachable(&call, &arn)?;
    call.write(Command::PutPermissionsBoundary {
        account_id: *call.account_id(),
        holder: PolicyHolder::User(name),
        policy_arn: canonical,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_user_permissions_boundary(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("UserName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    find(&call, &name)?;
    call.write(Command::DeletePermissionsBoundary {
        account_id: *call.account_id(),
        holder: PolicyHolder::User(name),
    })
    .await?;
    Ok(XmlResult::empty())
}
