//! IAM roles: `CreateRole`, `GetRole`, `ListRoles`, `UpdateRole`,
//! `UpdateRoleDescription`, `UpdateAssumeRolePolicy`, `DeleteRole`, tags,
//! permissions boundary and `ListInstanceProfilesForRole`.
//!
//! Trust policies are validated as `PolicyKind::Trust` documents (principal
//! required, no resources, STS actions only, 2,048 characters) and then, as
//! IAM does, every IAM user or role ARN they name must exist: a trust policy
//! naming a missing one is `MalformedPolicyDocument` "Invalid principal in
//! policy", which Terraform retries on while a new role propagates. Account
//! principals (`123456789012`, `…:root`), service principals and federated
//! providers are accepted as written.
//!
//! `DeleteRole` refuses while policies are attached or inline, with AWS's
//! texts; the role's permissions boundary does not block it. The model has
//! no instance profiles, so `ListInstanceProfilesForRole` answers the empty
//! list Terraform expects for a role that has none.

use meridian_core::arn::Arn;
use meridian_core::config::command::{Command, PolicyHolder, TagTarget};
use meridian_core::config::error::EntityKind;
use meridian_core::config::model::{Role, Tags};
use meridian_core::ids::UniqueIdKind;
use meridian_core::policy::compile::Policy;
use meridian_core::policy::kind::PolicyKind;
use meridian_core::policy::principals::PrincipalType;

use crate::authz::ContextValue;
use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::render::{self, View};
use crate::iam::{Call, IamHandler, errors, managed};
use crate::model::ErrorCode;
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreateRole", |call| Box::pin(create_role(call))),
    ("GetRole", |call| Box::pin(get_role(call))),
    ("ListRoles", |call| Box::pin(list_roles(call))),
    ("UpdateRole", |call| Box::pin(update_role(call))),
    ("UpdateRoleDescription", |call| {
        Box::pin(update_role_description(call))
    }),
    ("UpdateAssumeRolePolicy", |call| {
        Box::pin(update_assume_role_policy(call))
    }),
    ("DeleteRole", |call| Box::pin(delete_role(call))),
    ("TagRole", |call| Box::pin(tag_role(call))),
    ("UntagRole", |call| Box::pin(untag_role(call))),
    ("ListRoleTags", |call| Box::pin(list_role_tags(call))),
    ("PutRolePermissionsBoundary", |call| {
        Box::pin(put_role_permissions_boundary(call))
    }),
    ("DeleteRolePermissionsBoundary", |call| {
        Box::pin(delete_role_permissions_boundary(call))
    }),
    ("ListInstanceProfilesForRole", |call| {
        Box::pin(list_instance_profiles_for_role(call))
    }),
];

/// The role `name` of the caller's account, or AWS's `NoSuchEntity`.
pub(super) fn find<'a>(call: &'a Call, name: &str) -> Result<&'a Role, ApiError> {
    call.account()?
        .role(name)
        .ok_or_else(|| errors::no_such_role(name))
}

/// The ARN an action on role `name` is authorized against: the role's own
/// when it exists, else `role/{name}`.
pub(super) fn resource(call: &Call, name: &str) -> String {
    match call.account().ok().and_then(|account| account.role(name)) {
        Some(role) => role.arn(call.partition(), call.account_id()),
        None => call.arn("role", "/", name),
    }
}

/// Validates a trust policy: grammar and size, then that the IAM users and
/// roles it names exist.
fn validate_trust(call: &Call, document: &str) -> Result<(), ApiError> {
    let policy = Policy::parse(PolicyKind::Trust, document)
        .map_err(|error| errors::policy_rejected(&error, None))?;
    for (kind, value) in policy.principals() {
        if kind == PrincipalType::Aws && !principal_exists(call, value) {
            return Err(ApiError::new(
                ErrorCode::MalformedPolicyDocument,
                format!("Invalid principal in policy: \"AWS\":\"{value}\""),
            ));
        }
    }
    Ok(())
}

/// Whether an `AWS` principal names something that exists: IAM user and
/// role ARNs must resolve in the snapshot; everything else (accounts, `*`,
/// session ARNs, unique ids) was checked for form by the parser.
fn principal_exists(call: &Call, value: &str) -> bool {
    let Ok(arn) = Arn::parse(value) else {
        return true;
    };
    if arn.service() != "iam" {
        return true;
    }
    let resource = value.splitn(6, ':').nth(5).unwrap_or_default();
    if resource.starts_with("user/") {
        call.snapshot.user_by_arn(value).is_some()
    } else if resource.starts_with("role/") {
        call.snapshot.role_by_arn(value).is_some()
    } else {
        true
    }
}

/// `MaxSessionDuration` as the model stores it (the decoder checked the
/// range 3600..43200).
fn max_session_duration(call: &Call) -> Option<u32> {
    call.int("MaxSessionDuration")
        .and_then(|seconds| u32::try_from(seconds).ok())
}

/// Console sign-in sessions are not part of the model; refusing the setting
/// is better than accepting and forgetting it.
fn refuse_signin_duration(call: &Call) -> Result<(), ApiError> {
    if call.int("MaxSigninSessionDuration").is_some() {
        return Err(errors::invalid_input(
            "MaxSigninSessionDuration is not supported by this server",
        ));
    }
    Ok(())
}

async fn create_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let path = call.str("Path").unwrap_or("/").to_owned();
    let trust_policy = call.required("AssumeRolePolicyDocument")?.to_owned();
    let description = call.str("Description").unwrap_or_default().to_owned();
    let tags = call.tags()?;
    let boundary_arn = call.str("PermissionsBoundary");
    let boundary_key: Vec<_> = boundary_arn
        .map(|arn| ("iam:PermissionsBoundary", ContextValue::String(arn)))
        .into_iter()
        .collect();
    call.authorize_tagging(&call.arn("role", &path, &name), &tags, &[], &boundary_key)?;
    refuse_signin_duration(&call)?;
    validate_trust(&call, &trust_policy)?;
    if call.account()?.role(&name).is_some() {
        return Err(errors::already_exists(EntityKind::Role, &name));
    }
    let permissions_boundary = boundary_arn
        .map(|arn| managed::attachable(&call, arn).map(|(_, canonical)| canonical))
        .transpose()?;
    let role_id = call.unique_id(UniqueIdKind::Role)?;
    let max_session_duration = max_session_duration(&call);
    call.write(Command::CreateRole {
        account_id: *call.account_id(),
        role_name: name.clone(),
        path: path.clone(),
        role_id: role_id.clone(),
        trust_policy: trust_policy.clone(),
        description: description.clone(),
        max_session_duration,
        permissions_boundary: permissions_boundary.clone(),
        tags: tags.clone(),
    })
    .await?;
    let fresh = call.fresh();
    let applied = fresh
        .role(call.account_id(), &name)
        .filter(|role| role.role_id == role_id)
        .cloned();
    // A concurrent delete can remove it before we read it back: answer with
    // what was created.
    let role = applied.unwrap_or_else(|| Role {
        name,
        path,
        role_id,
        created_at: call.now,
        trust_policy: meridian_core::config::model::PolicyDocument(trust_policy.as_str().into()),
        description,
        max_session_duration: max_session_duration
            .unwrap_or(meridian_core::config::limits::DEFAULT_MAX_SESSION_DURATION),
        permissions_boundary,
        tags,
        inline_policies: Default::default(),
        attached_policies: Default::default(),
    });
    Ok(XmlResult::build(|w| {
        render::role(
            w,
            "Role",
            &role,
            call.partition(),
            call.account_id(),
            View::Created,
        );
    }))
}

async fn get_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?;
    call.authorize(&resource(&call, name))?;
    let role = find(&call, name)?;
    Ok(XmlResult::build(|w| {
        render::role(
            w,
            "Role",
            role,
            call.partition(),
            call.account_id(),
            View::Full,
        );
    }))
}

async fn list_roles(call: Call) -> Result<XmlResult, ApiError> {
    let prefix = call.str("PathPrefix").unwrap_or("/");
    call.authorize(&call.arn("role", prefix, ""))?;
    let page_request = PageRequest::from_call(&call)?;
    let account = call.account()?;
    let page = paginate(
        account
            .roles
            .iter()
            .filter(|(_, role)| role.path.starts_with(prefix)),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("Roles", &page.items, |w, role| {
            render::role(
                w,
                "member",
                role,
                call.partition(),
                call.account_id(),
                View::Listed,
            );
        });
        page.write_tail(w);
    }))
}

async fn update_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    refuse_signin_duration(&call)?;
    find(&call, &name)?;
    let description = call.str("Description").map(str::to_owned);
    let max_session_duration = max_session_duration(&call);
    if description.is_some() || max_session_duration.is_some() {
        call.write(Command::UpdateRole {
            account_id: *call.account_id(),
            role_name: name,
            description,
            max_session_duration,
        })
        .await?;
    }
    Ok(XmlResult::empty())
}

async fn update_role_description(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let description = call.required("Description")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    find(&call, &name)?;
    call.write(Command::UpdateRole {
        account_id: *call.account_id(),
        role_name: name.clone(),
        description: Some(description),
        max_session_duration: None,
    })
    .await?;
    let fresh = call.fresh();
    let role = fresh
        .role(call.account_id(), &name)
        .ok_or_else(|| errors::no_such_role(&name))?;
    Ok(XmlResult::build(|w| {
        render::role(
            w,
            "Role",
            role,
            call.partition(),
            call.account_id(),
            View::Full,
        );
    }))
}

async fn update_assume_role_policy(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let document = call.required("PolicyDocument")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    find(&call, &name)?;
    validate_trust(&call, &document)?;
    call.write(Command::UpdateAssumeRolePolicy {
        account_id: *call.account_id(),
        role_name: name,
        document,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    let role = find(&call, &name)?;
    if !role.attached_policies.is_empty() {
        return Err(errors::delete_conflict("attached policies"));
    }
    if !role.inline_policies.is_empty() {
        return Err(errors::delete_conflict("inline policies"));
    }
    call.write(Command::DeleteRole {
        account_id: *call.account_id(),
        role_name: name,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn tag_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&resource(&call, &name), &tags, &[], &[])?;
    find(&call, &name)?;
    call.write(Command::TagResource {
        account_id: *call.account_id(),
        target: TagTarget::Role(name),
        tags,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn untag_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let tag_keys = call.strings("TagKeys");
    call.authorize_tagging(&resource(&call, &name), &Tags::new(), &tag_keys, &[])?;
    find(&call, &name)?;
    call.write(Command::UntagResource {
        account_id: *call.account_id(),
        target: TagTarget::Role(name),
        tag_keys,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_role_tags(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?;
    call.authorize(&resource(&call, name))?;
    let page_request = PageRequest::from_call(&call)?;
    let role = find(&call, name)?;
    Ok(render::tags_page(&role.tags, &page_request))
}

async fn put_role_permissions_boundary(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    let arn = call.required("PermissionsBoundary")?.to_owned();
    call.authorize_with(
        &resource(&call, &name),
        &[("iam:PermissionsBoundary", ContextValue::String(&arn))],
    )?;
    find(&call, &name)?;
    let (_, canonical) = managed::attachable(&call, &arn)?;
    call.write(Command::PutPermissionsBoundary {
        account_id: *call.account_id(),
        holder: PolicyHolder::Role(name),
        policy_arn: canonical,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn delete_role_permissions_boundary(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?.to_owned();
    call.authorize(&resource(&call, &name))?;
    find(&call, &name)?;
    call.write(Command::DeletePermissionsBoundary {
        account_id: *call.account_id(),
        holder: PolicyHolder::Role(name),
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_instance_profiles_for_role(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("RoleName")?;
    call.authorize(&resource(&call, name))?;
    PageRequest::from_call(&call)?;
    find(&call, name)?;
    Ok(XmlResult::build(|w| {
        w.list("InstanceProfiles", std::iter::empty::<()>(), |_, ()| {});
        w.boolean("IsTruncated", false);
    }))
}
