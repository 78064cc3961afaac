//! XML renderings of the IAM shapes several operations share.
//!
//! What appears where follows AWS's recorded answers (STS-API.md §4.1):
//! `PermissionsBoundary` and `Tags` only when set, and never in `List*`
//! results; `Description` only when non-empty; `RoleLastUsed` empty in
//! `GetRole` (last use is not tracked); policy documents URL-encoded.

use std::collections::HashMap;

use meridian_core::arn::Partition;
use meridian_core::config::model::{ManagedPolicy, PolicyVersion, Role, Tags, User};
use meridian_core::config::snapshot::AccountConfig;
use meridian_core::ids::AccountId;

use crate::iam::paging::{PageRequest, paginate};
use crate::xml::{ResultWriter, XmlResult};

/// How much of an entity a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    /// `Create*`: everything that was set.
    Created,
    /// `Get*` and `Update*` answers: everything.
    Full,
    /// `List*` items: no boundary, no tags, no last use.
    Listed,
}

/// `Tags` as a list of `Key`/`Value` members; nothing when empty and
/// `omit_empty` (entity shapes omit it; `List*Tags` answers always carry it).
pub(super) fn tags(w: &mut ResultWriter, tags: &Tags, omit_empty: bool) {
    if omit_empty && tags.is_empty() {
        return;
    }
    w.list("Tags", tags.iter(), |w, (key, value)| {
        w.structure("member", |w| {
            w.text("Key", key).text("Value", value);
        });
    });
}

/// A `List*Tags` answer: one page of `tags`, in key order.
pub(super) fn tags_page(tags: &Tags, page_request: &PageRequest) -> XmlResult {
    let page = paginate(
        tags.iter().map(|(key, value)| (key.as_str(), (key, value))),
        page_request,
    );
    XmlResult::build(|w| {
        w.list("Tags", &page.items, |w, (key, value)| {
            w.structure("member", |w| {
                w.text("Key", key).text("Value", value);
            });
        });
        page.write_tail(w);
    })
}

fn boundary(w: &mut ResultWriter, arn: Option<&str>) {
    if let Some(arn) = arn {
        w.structure("PermissionsBoundary", |w| {
            w.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn);
        });
    }
}

/// A `User` structure named `element`.
pub(super) fn user(
    w: &mut ResultWriter,
    element: &str,
    user: &User,
    partition: &Partition,
    account: &AccountId,
    view: View,
) {
    w.structure(element, |w| {
        w.text("Path", &user.path)
            .text("UserName", &user.name)
            .text("UserId", &user.user_id)
            .text("Arn", &user.arn(partition, account))
            .timestamp("CreateDate", user.created_at);
        if view != View::Listed {
            boundary(w, user.permissions_boundary.as_deref());
            tags(w, &user.tags, true);
        }
    });
}

/// A `Role` structure named `element`.
pub(super) fn role(
    w: &mut ResultWriter,
    element: &str,
    role: &Role,
    partition: &Partition,
    account: &AccountId,
    view: View,
) {
    w.structure(element, |w| {
        w.text("Path", &role.path)
            .text("RoleName", &role.name)
            .text("RoleId", &role.role_id)
            .text("Arn", &role.arn(partition, account))
            .timestamp("CreateDate", role.created_at)
            .policy_document("AssumeRolePolicyDocument", role.trust_policy.as_str());
        if !role.description.is_empty() {
            w.text("Description", &role.description);
        }
        // AWS leaves the default out of CreateRole's answer only.
        if view != View::Created
            || role.max_session_duration
                != meridian_core::config::limits::DEFAULT_MAX_SESSION_DURATION
        {
            w.integer("MaxSessionDuration", i64::from(role.max_session_duration));
        }
        if view != View::Listed {
            boundary(w, role.permissions_boundary.as_deref());
            tags(w, &role.tags, true);
        }
        if view == View::Full {
            // Last use is not tracked: AWS's answer for a never-used role.
            w.structure("RoleLastUsed", |_| {});
        }
    });
}

/// How often each managed policy of an account is used: attached to users
/// and roles, and as their permissions boundary. Built in one pass over the
/// account, so listing policies costs O(users + roles + policies).
#[derive(Debug, Default)]
pub(super) struct PolicyUsage<'a> {
    counts: HashMap<&'a str, (usize, usize)>,
}

impl<'a> PolicyUsage<'a> {
    /// Counts every use in `account`.
    pub(super) fn of(account: &'a AccountConfig) -> PolicyUsage<'a> {
        let mut counts: HashMap<&'a str, (usize, usize)> = HashMap::new();
        let holders = account
            .users
            .values()
            .map(|user| {
                (
                    &user.attached_policies,
                    user.permissions_boundary.as_deref(),
                )
            })
            .chain(account.roles.values().map(|role| {
                (
                    &role.attached_policies,
                    role.permissions_boundary.as_deref(),
                )
            }));
        for (attached, boundary) in holders {
            for arn in attached {
                counts.entry(arn.as_str()).or_default().0 += 1;
            }
            if let Some(arn) = boundary {
                counts.entry(arn).or_default().1 += 1;
            }
        }
        PolicyUsage { counts }
    }

    /// `(attachments, boundary uses)` of the policy with canonical ARN `arn`.
    pub(super) fn get(&self, arn: &str) -> (usize, usize) {
        self.counts.get(arn).copied().unwrap_or_default()
    }
}

/// A managed `Policy` structure named `element`, for the policy whose
/// canonical ARN is `arn` (the account's own or an AWS managed one; usage
/// counts are the caller's account's, as AWS reports them for both).
pub(super) fn managed_policy(
    w: &mut ResultWriter,
    element: &str,
    policy: &ManagedPolicy,
    arn: &str,
    usage: &PolicyUsage<'_>,
    view: View,
) {
    let (attached, boundaries) = usage.get(arn);
    w.structure(element, |w| {
        w.text("PolicyName", &policy.name)
            .text("PolicyId", &policy.policy_id)
            .text("Arn", arn)
            .text("Path", &policy.path)
            .text("DefaultVersionId", &version_id(policy.default_version))
            .integer("AttachmentCount", count(attached))
            .integer("PermissionsBoundaryUsageCount", count(boundaries))
            .boolean("IsAttachable", true);
        // AWS documents Description in GetPolicy only.
        if view == View::Full && !policy.description.is_empty() {
            w.text("Description", &policy.description);
        }
        w.timestamp("CreateDate", policy.created_at)
            .timestamp("UpdateDate", policy.updated_at);
        if view != View::Listed {
            tags(w, &policy.tags, true);
        }
    });
}

/// A `PolicyVersion` structure named `element`; `with_document` for
/// `GetPolicyVersion`/`CreatePolicyVersion` (`ListPolicyVersions` omits it).
pub(super) fn policy_version(
    w: &mut ResultWriter,
    element: &str,
    policy: &ManagedPolicy,
    version: &PolicyVersion,
    with_document: bool,
) {
    w.structure(element, |w| {
        if with_document {
            w.policy_document("Document", version.document.as_str());
        }
        w.text("VersionId", &version_id(version.version))
            .boolean(
                "IsDefaultVersion",
                version.version == policy.default_version,
            )
            .timestamp("CreateDate", version.created_at);
    });
}

/// `v{n}`.
pub(super) fn version_id(version: u32) -> String {
    format!("v{version}")
}

/// A count as an XML integer.
pub(super) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
