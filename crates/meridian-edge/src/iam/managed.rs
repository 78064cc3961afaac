//! Customer managed policies: `CreatePolicy`, `GetPolicy`, `ListPolicies`,
//! `DeletePolicy`, versions (`Create`/`Get`/`List`/`Delete`/`SetDefault`),
//! tags, attachment to users and roles and `ListEntitiesForPolicy`.
//!
//! Documents are validated as managed policies (`PolicyKind::Managed`, 6,144
//! characters) by the policy language module before they are proposed. A
//! policy keeps at most five versions; the sixth is `LimitExceeded`, and the
//! default version can only be removed with the policy. A policy is deleted
//! only when nothing attaches it or uses it as a permissions boundary.
//!
//! Besides the caller's own policies, every account sees the built-in AWS
//! managed policies (`arn:{partition}:iam::aws:policy/…`,
//! `meridian_core::config::aws_managed`): `GetPolicy`, `GetPolicyVersion`,
//! `ListPolicyVersions` and `ListEntitiesForPolicy` read them, users and
//! roles attach them or use them as boundaries, `ListPolicies` lists them
//! under `Scope=AWS` (and `All`, the default). Writing one (new version,
//! default version, delete, tags) is refused by authorization as AWS
//! refuses it (`AccessDenied`: the policy belongs to AWS's account), and the
//! write paths here only ever resolve the caller's own policies.

use meridian_core::arn::Arn;
use meridian_core::config::aws_managed;
use meridian_core::config::command::{Command, PolicyHolder, Response, TagTarget};
use meridian_core::config::error::EntityKind;
use meridian_core::config::limits;
use meridian_core::config::model::{ManagedPolicy, PolicyVersion, Tags};
use meridian_core::config::snapshot::AccountConfig;
use meridian_core::ids::UniqueIdKind;
use meridian_core::policy::compile::Policy;
use meridian_core::policy::kind::PolicyKind;

use crate::authz::ContextValue;
use crate::error::ApiError;
use crate::iam::paging::{PageRequest, paginate};
use crate::iam::render::{self, PolicyUsage, View};
use crate::iam::{Call, IamHandler, errors, roles, users};
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreatePolicy", |call| Box::pin(create_policy(call))),
    ("GetPolicy", |call| Box::pin(get_policy(call))),
    ("ListPolicies", |call| Box::pin(list_policies(call))),
    ("DeletePolicy", |call| Box::pin(delete_policy(call))),
    ("CreatePolicyVersion", |call| {
        Box::pin(create_policy_version(call))
    }),
    ("GetPolicyVersion", |call| {
        Box::pin(get_policy_version(call))
    }),
    ("ListPolicyVersions", |call| {
        Box::pin(list_policy_versions(call))
    }),
    ("DeletePolicyVersion", |call| {
        Box::pin(delete_policy_version(call))
    }),
    ("SetDefaultPolicyVersion", |call| {
        Box::pin(set_default_policy_version(call))
    }),
    ("TagPolicy", |call| Box::pin(tag_policy(call))),
    ("UntagPolicy", |call| Box::pin(untag_policy(call))),
    ("ListPolicyTags", |call| Box::pin(list_policy_tags(call))),
    ("AttachRolePolicy", |call| {
        Box::pin(attach(call, HolderKind::Role))
    }),
    ("DetachRolePolicy", |call| {
        Box::pin(detach(call, HolderKind::Role))
    }),
    ("ListAttachedRolePolicies", |call| {
        Box::pin(list_attached(call, HolderKind::Role))
    }),
    ("AttachUserPolicy", |call| {
        Box::pin(attach(call, HolderKind::User))
    }),
    ("DetachUserPolicy", |call| {
        Box::pin(detach(call, HolderKind::User))
    }),
    ("ListAttachedUserPolicies", |call| {
        Box::pin(list_attached(call, HolderKind::User))
    }),
    ("ListEntitiesForPolicy", |call| {
        Box::pin(list_entities_for_policy(call))
    }),
];

/// The managed policy `arn` names — the caller's account's or an AWS
/// managed one — with its canonical ARN, or `NoSuchEntity` "… does not
/// exist or is not attachable" (attachments and boundaries).
pub(super) fn attachable<'a>(
    call: &'a Call,
    arn: &str,
) -> Result<(&'a ManagedPolicy, String), ApiError> {
    lookup(call, arn, Scope::All, errors::not_attachable)
}

/// Like [`attachable`], with `NoSuchEntity` "Policy … was not found."
/// (reads of the policy itself).
fn find<'a>(call: &'a Call, arn: &str) -> Result<(&'a ManagedPolicy, String), ApiError> {
    lookup(call, arn, Scope::All, errors::no_such_policy)
}

/// Like [`find`], for the operations that change a policy: only the
/// caller's own policies (AWS's are never writable; authorization has
/// already refused them, this keeps the write paths from ever naming one).
fn find_local<'a>(call: &'a Call, arn: &str) -> Result<(&'a ManagedPolicy, String), ApiError> {
    lookup(call, arn, Scope::Local, errors::no_such_policy)
}

/// Which policies a lookup or a listing covers (`ListPolicies`' `Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// AWS managed and the account's own.
    All,
    /// AWS managed only.
    Aws,
    /// The account's own only.
    Local,
}

impl Scope {
    fn from_request(value: Option<&str>) -> Scope {
        match value {
            Some("AWS") => Scope::Aws,
            Some("Local") => Scope::Local,
            // The model's enum admits only All, AWS and Local.
            _ => Scope::All,
        }
    }

    fn aws(self) -> bool {
        self != Scope::Local
    }

    fn local(self) -> bool {
        self != Scope::Aws
    }
}

fn lookup<'a>(
    call: &'a Call,
    arn: &str,
    scope: Scope,
    missing: fn(&str) -> ApiError,
) -> Result<(&'a ManagedPolicy, String), ApiError> {
    Arn::parse(arn).map_err(|_| errors::unparsable_arn())?;
    if scope.local()
        && let Some((account, policy)) = call.snapshot.policy_by_arn(arn)
        && account.account.id == *call.account_id()
    {
        return Ok((policy, policy.arn(call.partition(), call.account_id())));
    }
    if scope.aws()
        && let Some(policy) = call.snapshot.aws_managed_policy(arn)
    {
        return Ok((policy, aws_managed::arn(call.partition(), policy)));
    }
    Err(missing(arn))
}

/// A version id `v{n}` as its number.
fn version_number(version_id: &str) -> Option<u32> {
    let digits = version_id.strip_prefix('v')?;
    let digits = digits.split('.').next().unwrap_or(digits);
    digits.parse().ok()
}

/// Validates a managed policy document.
fn validate(document: &str) -> Result<(), ApiError> {
    Policy::parse(PolicyKind::Managed, document)
        .map(|_| ())
        .map_err(|error| errors::policy_rejected(&error, None))
}

async fn create_policy(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("PolicyName")?.to_owned();
    let path = call.str("Path").unwrap_or("/").to_owned();
    let document = call.required("PolicyDocument")?.to_owned();
    let description = call.str("Description").unwrap_or_default().to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&call.arn("policy", &path, &name), &tags, &[], &[])?;
    validate(&document)?;
    if call.account()?.policy(&name).is_some() {
        return Err(errors::already_exists(EntityKind::Policy, &name));
    }
    let policy_id = call.unique_id(UniqueIdKind::ManagedPolicy)?;
    call.write(Command::CreatePolicy {
        account_id: *call.account_id(),
        policy_name: name.clone(),
        path,
        policy_id: policy_id.clone(),
        document,
        description,
        tags,
    })
    .await?;
    let fresh = call.fresh();
    let account = fresh
        .account(call.account_id())
        .ok_or_else(|| errors::no_such_policy(&name))?;
    let policy = account
        .policy(&name)
        .filter(|policy| policy.policy_id == policy_id)
        .ok_or_else(|| errors::no_such_policy(&name))?;
    let arn = policy.arn(call.partition(), call.account_id());
    Ok(XmlResult::build(|w| {
        render::managed_policy(
            w,
            "Policy",
            policy,
            &arn,
            &PolicyUsage::of(account),
            View::Created,
        );
    }))
}

async fn get_policy(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?;
    call.authorize(arn)?;
    let (policy, canonical) = find(&call, arn)?;
    let account = call.account()?;
    Ok(XmlResult::build(|w| {
        render::managed_policy(
            w,
            "Policy",
            policy,
            &canonical,
            &PolicyUsage::of(account),
            View::Full,
        );
    }))
}

async fn list_policies(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let scope = Scope::from_request(call.str("Scope"));
    let only_attached = call.bool("OnlyAttached").unwrap_or(false);
    let prefix = call.str("PathPrefix").unwrap_or("/");
    let usage_filter = call.str("PolicyUsageFilter");
    let page_request = PageRequest::from_call(&call)?;
    let account = call.account()?;
    let partition = call.partition();
    let usage = PolicyUsage::of(account);
    // AWS's policies first, then the account's, each sorted by lower-cased
    // name; the key prefixes keep the two apart (an account may have its
    // own policy named like an AWS one) and in that order.
    let aws = aws_managed::all()
        .iter()
        .filter(|_| scope.aws())
        .map(|policy| {
            (
                format!("aws/{}", policy.name.to_ascii_lowercase()),
                (policy, aws_managed::arn(partition, policy)),
            )
        });
    let local = account
        .policies
        .iter()
        .filter(|_| scope.local())
        .map(|(key, policy)| {
            (
                format!("local/{key}"),
                (policy.as_ref(), policy.arn(partition, &account.account.id)),
            )
        });
    let page = paginate(
        aws.chain(local)
            .filter(|(_, (policy, _))| policy.path.starts_with(prefix))
            .filter(|(_, (_, arn))| {
                if !only_attached {
                    return true;
                }
                let (attached, boundaries) = usage.get(arn);
                match usage_filter {
                    Some("PermissionsPolicy") => attached > 0,
                    Some("PermissionsBoundary") => boundaries > 0,
                    _ => attached + boundaries > 0,
                }
            }),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("Policies", &page.items, |w, (policy, arn)| {
            render::managed_policy(w, "member", policy, arn, &usage, View::Listed);
        });
        page.write_tail(w);
    }))
}

async fn delete_policy(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    call.authorize(&arn)?;
    let (policy, canonical) = find_local(&call, &arn)?;
    let (attached, boundaries) = PolicyUsage::of(call.account()?).get(&canonical);
    if attached + boundaries > 0 {
        return Err(errors::delete_conflict("attachments"));
    }
    if policy.versions.len() > 1 {
        return Err(errors::delete_conflict("versions other than the default"));
    }
    call.write(Command::DeletePolicy {
        account_id: *call.account_id(),
        policy_arn: canonical,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn create_policy_version(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    let document = call.required("PolicyDocument")?.to_owned();
    let set_as_default = call.bool("SetAsDefault").unwrap_or(false);
    call.authorize(&arn)?;
    let (policy, canonical) = find_local(&call, &arn)?;
    if policy.versions.len() >= limits::VERSIONS_PER_POLICY {
        return Err(errors::quota(
            "VersionsPerPolicy",
            limits::VERSIONS_PER_POLICY,
        ));
    }
    validate(&document)?;
    let response = call
        .write(Command::CreatePolicyVersion {
            account_id: *call.account_id(),
            policy_arn: canonical.clone(),
            document: document.clone(),
            set_as_default,
        })
        .await?;
    let Response::PolicyVersionCreated { version } = response else {
        return Err(ApiError::internal(
            &"CreatePolicyVersion answered without a version",
        ));
    };
    let fresh = call.fresh();
    let applied = fresh.policy_by_arn(&canonical).and_then(|(_, policy)| {
        policy
            .versions
            .get(&version)
            .map(|v| (policy.clone(), v.clone()))
    });
    // A concurrent change can remove it before we read it back: answer with
    // what was created.
    let (policy, created) = applied.unwrap_or_else(|| {
        let created = PolicyVersion {
            version,
            document: meridian_core::config::model::PolicyDocument(document.as_str().into()),
            created_at: call.now,
        };
        let mut policy = policy.clone();
        if set_as_default {
            policy.default_version = version;
        }
        (policy, created)
    });
    Ok(XmlResult::build(|w| {
        render::policy_version(w, "PolicyVersion", &policy, &created, true);
    }))
}

async fn get_policy_version(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?;
    let version_id = call.required("VersionId")?;
    call.authorize(arn)?;
    let (policy, _) = find(&call, arn)?;
    let version = version_number(version_id)
        .and_then(|number| policy.versions.get(&number))
        .ok_or_else(|| errors::no_such_version(arn, version_id))?;
    Ok(XmlResult::build(|w| {
        render::policy_version(w, "PolicyVersion", policy, version, true);
    }))
}

async fn list_policy_versions(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?;
    call.authorize(arn)?;
    let page_request = PageRequest::from_call(&call)?;
    let (policy, _) = find(&call, arn)?;
    // Newest first, as AWS lists them; the key orders by descending number.
    let page = paginate(
        policy
            .versions
            .values()
            .rev()
            .map(|version| (format!("{:010}", u32::MAX - version.version), version)),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("Versions", &page.items, |w, version| {
            render::policy_version(w, "member", policy, version, false);
        });
        page.write_tail(w);
    }))
}

async fn delete_policy_version(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    let version_id = call.required("VersionId")?.to_owned();
    call.authorize(&arn)?;
    let (policy, canonical) = find_local(&call, &arn)?;
    let version = version_number(&version_id)
        .filter(|number| policy.versions.contains_key(number))
        .ok_or_else(|| errors::no_such_version(&arn, &version_id))?;
    if version == policy.default_version {
        return Err(errors::delete_conflict("its place as the default version"));
    }
    call.write(Command::DeletePolicyVersion {
        account_id: *call.account_id(),
        policy_arn: canonical,
        version,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn set_default_policy_version(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    let version_id = call.required("VersionId")?.to_owned();
    call.authorize(&arn)?;
    let (policy, canonical) = find_local(&call, &arn)?;
    let version = version_number(&version_id)
        .filter(|number| policy.versions.contains_key(number))
        .ok_or_else(|| errors::no_such_version(&arn, &version_id))?;
    call.write(Command::SetDefaultPolicyVersion {
        account_id: *call.account_id(),
        policy_arn: canonical,
        version,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn tag_policy(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&arn, &tags, &[], &[])?;
    let (_, canonical) = find_local(&call, &arn)?;
    call.write(Command::TagResource {
        account_id: *call.account_id(),
        target: TagTarget::Policy(canonical),
        tags,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn untag_policy(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?.to_owned();
    let tag_keys = call.strings("TagKeys");
    call.authorize_tagging(&arn, &Tags::new(), &tag_keys, &[])?;
    let (_, canonical) = find_local(&call, &arn)?;
    call.write(Command::UntagResource {
        account_id: *call.account_id(),
        target: TagTarget::Policy(canonical),
        tag_keys,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_policy_tags(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?;
    call.authorize(arn)?;
    let page_request = PageRequest::from_call(&call)?;
    let (policy, _) = find(&call, arn)?;
    Ok(render::tags_page(&policy.tags, &page_request))
}

/// Users or roles, for the operations that exist for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HolderKind {
    User,
    Role,
}

impl HolderKind {
    fn name_member(self) -> &'static str {
        match self {
            HolderKind::User => "UserName",
            HolderKind::Role => "RoleName",
        }
    }

    fn holder(self, name: String) -> PolicyHolder {
        match self {
            HolderKind::User => PolicyHolder::User(name),
            HolderKind::Role => PolicyHolder::Role(name),
        }
    }

    fn quota(self) -> &'static str {
        match self {
            HolderKind::User => "PoliciesPerUser",
            HolderKind::Role => "PoliciesPerRole",
        }
    }
}

/// The holder's ARN (authorization resource) and its attached policies.
fn holder<'a>(
    call: &'a Call,
    kind: HolderKind,
    name: &str,
) -> Result<&'a std::collections::BTreeSet<String>, ApiError> {
    match kind {
        HolderKind::User => users::find(call, name).map(|user| &user.attached_policies),
        HolderKind::Role => roles::find(call, name).map(|role| &role.attached_policies),
    }
}

fn holder_resource(call: &Call, kind: HolderKind, name: &str) -> String {
    match kind {
        HolderKind::User => users::resource(call, name),
        HolderKind::Role => roles::resource(call, name),
    }
}

async fn attach(call: Call, kind: HolderKind) -> Result<XmlResult, ApiError> {
    let name = call.required(kind.name_member())?.to_owned();
    let arn = call.required("PolicyArn")?.to_owned();
    call.authorize_with(
        &holder_resource(&call, kind, &name),
        &[("iam:PolicyARN", ContextValue::String(&arn))],
    )?;
    let attached = holder(&call, kind, &name)?;
    let (_, canonical) = attachable(&call, &arn)?;
    if !attached.contains(&canonical) && attached.len() >= limits::ATTACHED_POLICIES_PER_ENTITY {
        return Err(errors::quota(
            kind.quota(),
            limits::ATTACHED_POLICIES_PER_ENTITY,
        ));
    }
    call.write(Command::AttachPolicy {
        account_id: *call.account_id(),
        holder: kind.holder(name),
        policy_arn: canonical,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn detach(call: Call, kind: HolderKind) -> Result<XmlResult, ApiError> {
    let name = call.required(kind.name_member())?.to_owned();
    let arn = call.required("PolicyArn")?.to_owned();
    call.authorize_with(
        &holder_resource(&call, kind, &name),
        &[("iam:PolicyARN", ContextValue::String(&arn))],
    )?;
    Arn::parse(&arn).map_err(|_| errors::unparsable_arn())?;
    let attached = holder(&call, kind, &name)?;
    let found = attached
        .iter()
        .find(|attached| attached.eq_ignore_ascii_case(&arn))
        .cloned()
        .ok_or_else(|| errors::no_such_policy(&arn))?;
    call.write(Command::DetachPolicy {
        account_id: *call.account_id(),
        holder: kind.holder(name),
        policy_arn: found,
    })
    .await?;
    Ok(XmlResult::empty())
}

/// `PolicyName` and `PolicyArn` of an attached policy.
fn attached_entry(account: &AccountConfig, call: &Call, arn: &str) -> (String, String, String) {
    let policy = call
        .snapshot
        .policy_by_arn(arn)
        .filter(|(owner, _)| owner.account.id == account.account.id)
        .map(|(_, policy)| policy)
        .or_else(|| call.snapshot.aws_managed_policy(arn));
    let name = policy.map_or_else(
        || arn.rsplit('/').next().unwrap_or(arn).to_owned(),
        |policy| policy.name.clone(),
    );
    let path = policy.map_or_else(|| String::from("/"), |policy| policy.path.clone());
    (name, arn.to_owned(), path)
}

async fn list_attached(call: Call, kind: HolderKind) -> Result<XmlResult, ApiError> {
    let name = call.required(kind.name_member())?.to_owned();
    call.authorize(&holder_resource(&call, kind, &name))?;
    let prefix = call.str("PathPrefix").unwrap_or("/");
    let page_request = PageRequest::from_call(&call)?;
    let attached = holder(&call, kind, &name)?;
    let account = call.account()?;
    let page = paginate(
        attached
            .iter()
            .map(|arn| (arn.as_str(), attached_entry(account, &call, arn)))
            .filter(|(_, (_, _, path))| path.starts_with(prefix)),
        &page_request,
    );
    Ok(XmlResult::build(|w| {
        w.list("AttachedPolicies", &page.items, |w, (name, arn, _)| {
            w.structure("member", |w| {
                w.text("PolicyName", name).text("PolicyArn", arn);
            });
        });
        page.write_tail(w);
    }))
}

/// A user or role using a policy, for `ListEntitiesForPolicy`.
enum Entity<'a> {
    User(&'a str, &'a str),
    Role(&'a str, &'a str),
}

async fn list_entities_for_policy(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required("PolicyArn")?;
    call.authorize(arn)?;
    let filter = call.str("EntityFilter");
    let prefix = call.str("PathPrefix").unwrap_or("/");
    let usage = call.str("PolicyUsageFilter");
    let page_request = PageRequest::from_call(&call)?;
    let (_, canonical) = find(&call, arn)?;
    let account = call.account()?;
    let uses = |attached: &std::collections::BTreeSet<String>, boundary: Option<&str>| {
        let as_policy = attached.contains(&canonical);
        let as_boundary = boundary == Some(canonical.as_str());
        match usage {
            Some("PermissionsPolicy") => as_policy,
            Some("PermissionsBoundary") => as_boundary,
            _ => as_policy || as_boundary,
        }
    };
    let want_users = matches!(filter, None | Some("User"));
    let want_roles = matches!(filter, None | Some("Role"));
    let mut entities: Vec<(String, Entity<'_>)> = Vec::new();
    if want_roles {
        entities.extend(
            account
                .roles
                .iter()
                .filter(|(_, role)| role.path.starts_with(prefix))
                .filter(|(_, role)| {
                    uses(
                        &role.attached_policies,
                        role.permissions_boundary.as_deref(),
                    )
                })
                .map(|(key, role)| {
                    (
                        format!("role/{key}"),
                        Entity::Role(role.name.as_str(), role.role_id.as_str()),
                    )
                }),
        );
    }
    if want_users {
        entities.extend(
            account
                .users
                .iter()
                .filter(|(_, user)| user.path.starts_with(prefix))
                .filter(|(_, user)| {
                    uses(
                        &user.attached_policies,
                        user.permissions_boundary.as_deref(),
                    )
                })
                .map(|(key, user)| {
                    (
                        format!("user/{key}"),
                        Entity::User(user.name.as_str(), user.user_id.as_str()),
                    )
                }),
        );
    }
    let page = paginate(entities, &page_request);
    let users: Vec<(&str, &str)> = page
        .items
        .iter()
        .filter_map(|entity| match entity {
            Entity::User(name, id) => Some((*name, *id)),
            Entity::Role(..) => None,
        })
        .collect();
    let roles: Vec<(&str, &str)> = page
        .items
        .iter()
        .filter_map(|entity| match entity {
            Entity::Role(name, id) => Some((*name, *id)),
            Entity::User(..) => None,
        })
        .collect();
    Ok(XmlResult::build(|w| {
        // The model has no groups.
        w.list("PolicyGroups", std::iter::empty::<()>(), |_, ()| {});
        w.list("PolicyUsers", &users, |w, (name, id)| {
            w.structure("member", |w| {
                w.text("UserName", name).text("UserId", id);
            });
        });
        w.list("PolicyRoles", &roles, |w, (name, id)| {
            w.structure("member", |w| {
                w.text("RoleName", name).text("RoleId", id);
            });
        });
        page.write_tail(w);
    }))
}

#[cfg(test)]
mod tests {
    use super::version_number;

    #[test]
    fn version_ids() {
        assert_eq!(version_number("v1"), Some(1));
        assert_eq!(version_number("v12"), Some(12));
        assert_eq!(version_number("v3.beta"), Some(3));
        assert_eq!(version_number("1"), None);
        assert_eq!(version_number("vx"), None);
    }
}
