//! The built-in, read-only catalogue of AWS managed policies
//! (`arn:{partition}:iam::aws:policy/…`).
//!
//! AWS owns these policies: they exist in every account without being
//! created, can be attached to users and roles, used as permissions
//! boundaries and named as session policies, and can never be changed,
//! tagged or deleted by a customer. Tools rely on them (Terraform attaches
//! `ReadOnlyAccess`, the design's `admin` user has `AdministratorAccess`), so
//! Meridian ships a small catalogue of the ones that matter for the services
//! it has, compiled into the binary rather than replicated: every replica of
//! one release holds the same catalogue, so apply stays deterministic, and
//! nothing in the Raft log or in snapshots refers to it except the ARNs that
//! attachments store (a compatibility decision like any change to apply: a
//! release may add policies, never remove one that attachments may name).
//!
//! | policy              | document                                                     |
//! |---------------------|--------------------------------------------------------------|
//! | `AdministratorAccess` | AWS's, verbatim (v1): allow `*` on `*`                      |
//! | `PowerUserAccess`   | AWS's, verbatim (v12)                                         |
//! | `IAMFullAccess`     | AWS's, verbatim (v2)                                          |
//! | `IAMReadOnlyAccess` | AWS's, verbatim (v4)                                          |
//! | `ReadOnlyAccess`    | **reduced**: AWS's document lists several thousand actions of ~300 services; this one keeps exactly its `iam:` and `sts:` entries (`iam:Generate*`, `iam:Get*`, `iam:List*`, `iam:Simulate*`, `sts:GetAccessKeyInfo`, `sts:GetCallerIdentity`, `sts:GetSessionToken`), which is everything it grants on the services Meridian serves |
//!
//! Names, policy ids, descriptions, paths and version ids are AWS's (the
//! reduced `ReadOnlyAccess` keeps AWS's id and name but reports `v1`, since
//! its document is not any version AWS published). Each policy carries only
//! its default version: `ListPolicyVersions` lists that one.
//!
//! Lookups by ARN follow the rules of the account's own policies: the path
//! must match exactly, the name case-insensitively.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::arn::{Arn, Partition};
use crate::config::model::{ManagedPolicy, PolicyDocument, PolicyVersion, Tags};
use crate::time::Timestamp;

/// The pseudo-account AWS managed policy ARNs carry (`arn:aws:iam::aws:…`).
pub const AWS_ACCOUNT: &str = "aws";

/// One catalogue entry as written below.
struct Entry {
    name: &'static str,
    policy_id: &'static str,
    description: &'static str,
    version: u32,
    /// When AWS created the policy (Unix seconds).
    created: i64,
    /// When its default version was published (Unix seconds).
    updated: i64,
    document: &'static str,
}

/// 2015-02-06T18:39:46Z, when AWS introduced managed policies.
const LAUNCH: i64 = 1_423_247_986;

const ENTRIES: &[Entry] = &[
    Entry {
        name: "AdministratorAccess",
        policy_id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to AWS services and resources.",
        version: 1,
        created: LAUNCH,
        updated: LAUNCH,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    Entry {
        name: "PowerUserAccess",
        policy_id: "ANPAJYRXTHIB4FOVS3ZXS",
        description: "Provides full access to AWS services and resources, but does not allow \
                      management of Users and groups.",
        version: 12,
        created: LAUNCH + 1,
        // 2026-02-12T17:59:14Z
        updated: 1_770_919_154,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation","account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeEffectivePolicy","organizations:DescribeOrganization"],"Resource":"*"}]}"#,
    },
    Entry {
        name: "ReadOnlyAccess",
        policy_id: "ANPAILL3HVNFSB6DCOWYQ",
        description: "Provides read-only access to AWS services and resources.",
        version: 1,
        created: LAUNCH + 2,
        updated: LAUNCH + 2,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Generate*","iam:Get*","iam:List*","iam:Simulate*","sts:GetAccessKeyInfo","sts:GetCallerIdentity","sts:GetSessionToken"],"Resource":"*"}]}"#,
    },
    Entry {
        name: "IAMFullAccess",
        policy_id: "ANPAI7XKCFMBPM3QQRRVQ",
        description: "Provides full access to IAM via the AWS Management Console.",
        version: 2,
        created: LAUNCH + 52,
        // 2019-06-21T19:40:00Z
        updated: 1_561_146_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    },
    Entry {
        name: "IAMReadOnlyAccess",
        policy_id: "ANPAJKSO7NDY4T57MWDSQ",
        description: "Provides read only access to IAM via the AWS Management Console.",
        version: 4,
        created: LAUNCH + 53,
        // 2018-01-25T19:11:27Z
        updated: 1_516_907_487,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    },
];

/// The catalogue as [`ManagedPolicy`] values, built once; the documents are
/// shared for the life of the process, so compiled-policy caches keyed by
/// their address stay valid.
static CATALOGUE: LazyLock<Vec<ManagedPolicy>> = LazyLock::new(|| {
    let mut policies: Vec<ManagedPolicy> = ENTRIES
        .iter()
        .map(|entry| {
            let updated = Timestamp::from_unix_seconds(entry.updated);
            ManagedPolicy {
                name: entry.name.to_owned(),
                path: String::from("/"),
                policy_id: entry.policy_id.to_owned(),
                description: entry.description.to_owned(),
                created_at: Timestamp::from_unix_seconds(entry.created),
                updated_at: updated,
                default_version: entry.version,
                next_version: entry.version.saturating_add(1),
                versions: BTreeMap::from([(
                    entry.version,
                    PolicyVersion {
                        version: entry.version,
                        document: PolicyDocument(entry.document.into()),
                        created_at: updated,
                    },
                )]),
                tags: Tags::new(),
            }
        })
        .collect();
    policies.sort_by_key(|policy| policy.name.to_ascii_lowercase());
    policies
});

/// Every AWS managed policy of the catalogue, sorted by name.
pub fn all() -> &'static [ManagedPolicy] {
    &CATALOGUE
}

/// The policy named `name` (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static ManagedPolicy> {
    CATALOGUE
        .iter()
        .find(|policy| policy.name.eq_ignore_ascii_case(name))
}

/// The policy an ARN `arn:{partition}:iam::aws:policy{path}{name}` names,
/// in `partition`. `None` for any other ARN.
pub fn by_arn(partition: &Partition, arn: &str) -> Option<&'static ManagedPolicy> {
    let parsed = Arn::parse(arn).ok()?;
    if parsed.partition() != partition.as_str()
        || parsed.service() != "iam"
        || !parsed.region().is_empty()
        || parsed.account() != AWS_ACCOUNT
    {
        return None;
    }
    let rest = parsed.resource().strip_prefix("policy")?;
    if !rest.starts_with('/') {
        return None;
    }
    let slash = rest.rfind('/')?;
    let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
    by_name(name).filter(|policy| policy.path == path)
}

/// Whether `arn` is in the AWS pseudo-account's policy namespace
/// (`arn:*:iam::aws:policy/…`), whether or not the catalogue has it.
pub fn is_aws_policy_arn(arn: &str) -> bool {
    Arn::parse(arn).is_ok_and(|parsed| {
        parsed.service() == "iam"
            && parsed.account() == AWS_ACCOUNT
            && parsed.resource().starts_with("policy/")
    })
}

/// The canonical ARN of a catalogue policy in `partition`.
pub fn arn(partition: &Partition, policy: &ManagedPolicy) -> String {
    format!(
        "arn:{partition}:iam::{AWS_ACCOUNT}:policy{}{}",
        policy.path, policy.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::limits;
    use crate::policy::compile::Policy;
    use crate::policy::kind::PolicyKind;

    #[test]
    fn every_document_is_a_valid_managed_policy() {
        for policy in all() {
            let document = policy.default_document().map(PolicyDocument::as_str);
            let document = document.unwrap_or_else(|| panic!("{} has no default", policy.name));
            assert!(
                Policy::parse(PolicyKind::Managed, document).is_ok(),
                "{} does not compile",
                policy.name
            );
            assert!(
                limits::check_unique_id("PolicyId", &policy.policy_id, "ANPA").is_ok(),
                "{}",
                policy.policy_id
            );
            assert_eq!(policy.policy_id.len(), 21, "{}", policy.name);
            assert!(limits::check_policy_name(&policy.name).is_ok());
        }
    }

    #[test]
    fn the_catalogue_has_the_policies_tools_attach() {
        let names: Vec<&str> = all().iter().map(|p| p.name.as_str()).collect();
        for name in [
            "AdministratorAccess",
            "ReadOnlyAccess",
            "IAMFullAccess",
            "IAMReadOnlyAccess",
            "PowerUserAccess",
        ] {
            assert!(names.contains(&name), "{name} missing");
        }
        // Sorted by lower-cased name, each once (paging relies on it).
        let keys: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
    }

    #[test]
    fn lookups_by_arn() {
        let aws = Partition::aws();
        let cn = Partition::new("aws-cn").unwrap_or_else(|e| panic!("{e}"));
        let cases: &[(&Partition, &str, Option<&str>)] = &[
            (
                &aws,
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                Some("ReadOnlyAccess"),
            ),
            (
                &aws,
                "arn:aws:iam::aws:policy/readonlyaccess",
                Some("ReadOnlyAccess"),
            ),
            (
                &cn,
                "arn:aws-cn:iam::aws:policy/AdministratorAccess",
                Some("AdministratorAccess"),
            ),
            (&cn, "arn:aws:iam::aws:policy/AdministratorAccess", None),
            (
                &aws,
                "arn:aws:iam::aws:policy/job/AdministratorAccess",
                None,
            ),
            (&aws, "arn:aws:iam::aws:policy/NoSuchPolicy", None),
            (
                &aws,
                "arn:aws:iam::123456789012:policy/ReadOnlyAccess",
                None,
            ),
            (
                &aws,
                "arn:aws:iam:us-east-1:aws:policy/ReadOnlyAccess",
                None,
            ),
            (&aws, "arn:aws:sts::aws:policy/ReadOnlyAccess", None),
            (&aws, "arn:aws:iam::aws:role/ReadOnlyAccess", None),
            (&aws, "arn:aws:iam::aws:policyReadOnlyAccess", None),
            (&aws, "not an arn", None),
        ];
        for (partition, text, expected) in cases {
            assert_eq!(
                by_arn(partition, text).map(|p| p.name.as_str()),
                *expected,
                "{text}"
            );
        }
        let admin = by_name("administratoraccess").unwrap_or_else(|| panic!("missing"));
        assert_eq!(
            arn(&aws, admin),
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert!(is_aws_policy_arn("arn:aws:iam::aws:policy/Anything"));
        assert!(!is_aws_policy_arn("arn:aws:iam::123456789012:policy/x"));
    }

    #[test]
    fn only_the_default_version_is_held() {
        for policy in all() {
            assert_eq!(policy.versions.len(), 1, "{}", policy.name);
            assert!(policy.versions.contains_key(&policy.default_version));
            assert!(policy.tags.is_empty());
        }
    }
}
