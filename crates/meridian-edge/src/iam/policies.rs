//! Inline policies of users and roles: `Put`, `Get`, `List` and `Delete`
//! `{User,Role}Policy`.
//!
//! A document is validated as the holder's kind (`PolicyKind::UserInline`,
//! `PolicyKind::RoleInline`), and the sum of the holder's inline policies,
//! counted as IAM counts them (whitespace outside strings not counted), must
//! stay within the kind's aggregate limit (user 2,048, role 10,240), answered
//! as AWS answers it: `LimitExceeded` "Maximum policy size of 10240 bytes
//! exceeded for role NAME". Replacing a policy of the same name does not
//! count the old text. Documents come back URL-encoded, as given.

use std::collections::BTreeMap;

use meridian_core::config::command::{Command, PolicyHolder};
use meridian_core::config::model::PolicyDocument;
use meridian_core::policy::compile::Policy;
use meridian_core::policy::kind::{PolicyKind, policy_size};

use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::{Call, IamHandler, errors, roles, users};
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("PutRolePolicy", |call| Box::pin(put(call, Holder::Role))),
    ("GetRolePolicy", |call| Box::pin(get(call, Holder::Role))),
    ("ListRolePolicies", |call| {
        Box::pin(list(call, Holder::Role))
    }),
    ("DeleteRolePolicy", |call| {
        Box::pin(delete(call, Holder::Role))
    }),
    ("PutUserPolicy", |call| Box::pin(put(call, Holder::User))),
    ("GetUserPolicy", |call| Box::pin(get(call, Holder::User))),
    ("ListUserPolicies", |call| {
        Box::pin(list(call, Holder::User))
    }),
    ("DeleteUserPolicy", |call| {
        Box::pin(delete(call, Holder::User))
    }),
];

/// Whose inline policies an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    User,
    Role,
}

impl Holder {
    fn name_member(self) -> &'static str {
        match self {
            Holder::User => "UserName",
            Holder::Role => "RoleName",
        }
    }

    /// `user` or `role`, as AWS words "The role policy with name …".
    fn noun(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Role => "role",
        }
    }

    fn kind(self) -> PolicyKind {
        match self {
            Holder::User => PolicyKind::UserInline,
            Holder::Role => PolicyKind::RoleInline,
        }
    }

    fn command_holder(self, name: String) -> PolicyHolder {
        match self {
            Holder::User => PolicyHolder::User(name),
            Holder::Role => PolicyHolder::Role(name),
        }
    }

    fn resource(self, call: &Call, name: &str) -> String {
        match self {
            Holder::User => users::resource(call, name),
            Holder::Role => roles::resource(call, name),
        }
    }

    /// The holder's inline policies and its name as stored.
    fn policies<'a>(
        self,
        call: &'a Call,
        name: &str,
    ) -> Result<(&'a BTreeMap<String, PolicyDocument>, &'a str), ApiError> {
        match self {
            Holder::User => {
                users::find(call, name).map(|user| (&user.inline_policies, user.name.as_str()))
            }
            Holder::Role => {
                roles::find(call, name).map(|role| (&role.inline_policies, role.name.as_str()))
            }
        }
    }
}

async fn put(call: Call, holder: Holder) -> Result<XmlResult, ApiError> {
    let name = call.required(holder.name_member())?.to_owned();
    let policy_name = call.required("PolicyName")?.to_owned();
    let document = call.required("PolicyDocument")?.to_owned();
    call.authorize(&holder.resource(&call, &name))?;
    let (existing, stored_name) = holder.policies(&call, &name)?;
    Policy::parse(holder.kind(), &document)
        .map_err(|error| errors::policy_rejected(&error, Some(stored_name)))?;
    let others: usize = existing
        .iter()
        .filter(|(existing_name, _)| **existing_name != policy_name)
        .map(|(_, existing)| policy_size(existing.as_str()))
        .sum();
    if holder
        .kind()
        .check_aggregate(others + policy_size(&document))
        .is_err()
    {
        return Err(errors::aggregate_too_large(holder.kind(), stored_name));
    }
    call.write(Command::PutInlinePolicy {
        account_id: *call.account_id(),
        holder: holder.command_holder(name),
        policy_name,
        document,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn get(call: Call, holder: Holder) -> Result<XmlResult, ApiError> {
    let name = call.required(holder.name_member())?;
    let policy_name = call.required("PolicyName")?;
    call.authorize(&holder.resource(&call, name))?;
    let (existing, stored_name) = holder.policies(&call, name)?;
    let document = existing
        .get(policy_name)
        .ok_or_else(|| errors::no_such_inline(holder.noun(), policy_name))?;
    Ok(XmlResult::build(|w| {
        w.text(holder.name_member(), stored_name)
            .text("PolicyName", policy_name)
            .policy_document("PolicyDocument", document.as_str());
    }))
}

async fn list(call: Call, holder: Holder) -> Result<XmlResult, ApiError> {
    let name = call.required(holder.name_member())?;
    call.authorize(&holder.resource(&call, name))?;
    let page_request = PageRequest::from_call(&call)?;
    let (existing, _) = holder.policies(&call, name)?;
    let page = paginate(
        existing
            .keys()
            .map(|policy_name| (policy_name.as_str(), policy_name.as_str())),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.text_list("PolicyNames", page.items.iter().copied());
        page.write_tail(w);
    }))
}

async fn delete(call: Call, holder: Holder) -> Result<XmlResult, ApiError> {
    let name = call.required(holder.name_member())?.to_owned();
    let policy_name = call.required("PolicyName")?.to_owned();
    call.authorize(&holder.resource(&call, &name))?;
    let (existing, _) = holder.policies(&call, &name)?;
    if !existing.contains_key(&policy_name) {
        return Err(errors::no_such_inline(holder.noun(), &policy_name));
    }
    call.write(Command::DeleteInlinePolicy {
        account_id: *call.account_id(),
        holder: holder.command_holder(name),
        policy_name,
    })
    .await?;
    Ok(XmlResult::empty())
}
