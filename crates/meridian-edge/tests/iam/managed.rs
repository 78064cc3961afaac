//! Managed policies: versions, attachments, listing, tags and their errors.

use crate::support::{Harness, Params, READ_S3, TRUST, url_decode};

/// The built-in AWS managed policies, as `ListPolicies` orders them.
const AWS_MANAGED: [&str; 5] = [
    "AdministratorAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
];

const V2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket/*"}]}"#;

async fn create_policy(h: &Harness, name: &str, path: &str) -> String {
    h.admin(
        "CreatePolicy",
        &[
            ("PolicyName", name),
            ("Path", path),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await
    .ok()
    .get("CreatePolicyResult/Policy/Arn")
}

/// A policy is created with description and tags, read back with its first
/// version's document URL-encoded, and listed by scope, path and use.
#[tokio::test]
async fn policy_lifecycle_and_listing() {
    let h = Harness::new();
    let created = h
        .admin(
            "CreatePolicy",
            &[
                ("PolicyName", "read"),
                ("Path", "/data/"),
                ("PolicyDocument", READ_S3),
                ("Description", "reads the bucket"),
                ("Tags.member.1.Key", "owner"),
                ("Tags.member.1.Value", "data"),
            ],
        )
        .await
        .ok();
    let arn = created.get("CreatePolicyResult/Policy/Arn");
    assert_eq!(arn, "arn:aws:iam::123456789012:policy/data/read");
    let id = created.get("CreatePolicyResult/Policy/PolicyId");
    assert!(id.starts_with("ANPA") && id.len() == 21, "{id}");
    let expected = [
        ("PolicyName", "read"),
        ("Path", "/data/"),
        ("DefaultVersionId", "v1"),
        ("AttachmentCount", "0"),
        ("PermissionsBoundaryUsageCount", "0"),
        ("IsAttachable", "true"),
        ("CreateDate", "2026-11-26T05:08:28Z"),
        ("UpdateDate", "2026-11-26T05:08:28Z"),
    ];
    for (member, value) in expected {
        assert_eq!(
            created.get(&format!("CreatePolicyResult/Policy/{member}")),
            value,
            "{member}"
        );
    }
    assert!(
        created
            .text("CreatePolicyResult/Policy/Description")
            .is_none()
    );
    assert_eq!(
        created.texts("CreatePolicyResult/Policy/Tags/member/Key"),
        ["owner"]
    );

    let got = h.admin("GetPolicy", &[("PolicyArn", &arn)]).await.ok();
    assert_eq!(
        got.get("GetPolicyResult/Policy/Description"),
        "reads the bucket"
    );
    let version = h
        .admin(
            "GetPolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v1")],
        )
        .await
        .ok();
    assert_eq!(
        url_decode(&version.get("GetPolicyVersionResult/PolicyVersion/Document")),
        READ_S3
    );
    assert_eq!(
        version.get("GetPolicyVersionResult/PolicyVersion/IsDefaultVersion"),
        "true"
    );

    let other = create_policy(&h, "write", "/").await;
    h.admin(
        "CreateRole",
        &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    h.admin(
        "AttachRolePolicy",
        &[("RoleName", "app"), ("PolicyArn", &other)],
    )
    .await
    .ok();
    let names = |reply: &crate::support::Reply| {
        reply.texts("ListPoliciesResult/Policies/member/PolicyName")
    };
    // Scope=All (the default) lists AWS's managed policies first.
    let all: Vec<&str> = AWS_MANAGED
        .iter()
        .copied()
        .chain(["read", "write"])
        .collect();
    let cases: &[(Params<'_>, &[&str])] = &[
        (&[], &all),
        (&[("Scope", "All")], &all),
        (&[("Scope", "Local")], &["read", "write"]),
        (&[("Scope", "AWS")], &AWS_MANAGED),
        (&[("PathPrefix", "/data/")], &["read"]),
        (&[("OnlyAttached", "true")], &["write"]),
        (
            &[
                ("OnlyAttached", "true"),
                ("PolicyUsageFilter", "PermissionsBoundary"),
            ],
            &[],
        ),
        (&[("MaxItems", "1")], &["AdministratorAccess"]),
        (&[("Scope", "Local"), ("MaxItems", "1")], &["read"]),
    ];
    for (params, expected) in cases {
        let listed = h.admin("ListPolicies", params).await.ok();
        assert_eq!(names(&listed), *expected, "{params:?}");
        assert!(
            listed
                .text("ListPoliciesResult/Policies/member/Tags")
                .is_none()
        );
    }
    // Paging runs from AWS's policies into the account's own.
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let mut params = vec![("MaxItems", "2")];
        if let Some(marker) = marker.as_deref() {
            params.push(("Marker", marker));
        }
        let page = h.admin("ListPolicies", &params).await.ok();
        seen.extend(names(&page));
        if page.get("ListPoliciesResult/IsTruncated") == "false" {
            break;
        }
        marker = Some(page.get("ListPoliciesResult/Marker"));
    }
    assert_eq!(seen, all);

    // Tags of a policy.
    h.admin(
        "TagPolicy",
        &[
            ("PolicyArn", &arn),
            ("Tags.member.1.Key", "cost"),
            ("Tags.member.1.Value", "7"),
        ],
    )
    .await
    .ok();
    h.admin(
        "UntagPolicy",
        &[("PolicyArn", &arn), ("TagKeys.member.1", "owner")],
    )
    .await
    .ok();
    let tags = h.admin("ListPolicyTags", &[("PolicyArn", &arn)]).await.ok();
    assert_eq!(tags.texts("ListPolicyTagsResult/Tags/member/Key"), ["cost"]);
    assert_eq!(tags.texts("ListPolicyTagsResult/Tags/member/Value"), ["7"]);

    h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await.ok();
    let gone = h.admin("GetPolicy", &[("PolicyArn", &arn)]).await;
    assert_eq!(
        gone.expect_error(404, "NoSuchEntity"),
        format!("Policy {arn} was not found.")
    );
}

/// Versions: at most five, the default cannot be deleted, numbers are not
/// reused, and a policy with versions besides the default is not deleted.
#[tokio::test]
async fn policy_versions() {
    let h = Harness::new();
    let arn = create_policy(&h, "versioned", "/").await;
    for (i, set_default) in [(2, "false"), (3, "true"), (4, "false"), (5, "false")] {
        let created = h
            .admin(
                "CreatePolicyVersion",
                &[
                    ("PolicyArn", &arn),
                    ("PolicyDocument", V2),
                    ("SetAsDefault", set_default),
                ],
            )
            .await
            .ok();
        assert_eq!(
            created.get("CreatePolicyVersionResult/PolicyVersion/VersionId"),
            format!("v{i}")
        );
        assert_eq!(
            created.get("CreatePolicyVersionResult/PolicyVersion/IsDefaultVersion"),
            set_default
        );
        assert_eq!(
            url_decode(&created.get("CreatePolicyVersionResult/PolicyVersion/Document")),
            V2
        );
    }
    let sixth = h
        .admin(
            "CreatePolicyVersion",
            &[("PolicyArn", &arn), ("PolicyDocument", V2)],
        )
        .await;
    assert_eq!(
        sixth.expect_error(409, "LimitExceeded"),
        "A managed policy can have up to 5 versions. Before you create a new version, you must \
         delete an existing version."
    );
    let policy = h.admin("GetPolicy", &[("PolicyArn", &arn)]).await.ok();
    assert_eq!(policy.get("GetPolicyResult/Policy/DefaultVersionId"), "v3");

    let listed = h
        .admin("ListPolicyVersions", &[("PolicyArn", &arn)])
        .await
        .ok();
    assert_eq!(
        listed.texts("ListPolicyVersionsResult/Versions/member/VersionId"),
        ["v5", "v4", "v3", "v2", "v1"]
    );
    assert_eq!(
        listed.texts("ListPolicyVersionsResult/Versions/member/IsDefaultVersion"),
        ["false", "false", "true", "false", "false"]
    );
    assert!(
        listed
            .text("ListPolicyVersionsResult/Versions/member/Document")
            .is_none()
    );
    let page = h
        .admin(
            "ListPolicyVersions",
            &[("PolicyArn", &arn), ("MaxItems", "2")],
        )
        .await
        .ok();
    let marker = page.get("ListPolicyVersionsResult/Marker");
    let next = h
        .admin(
            "ListPolicyVersions",
            &[("PolicyArn", &arn), ("MaxItems", "2"), ("Marker", &marker)],
        )
        .await
        .ok();
    assert_eq!(
        next.texts("ListPolicyVersionsResult/Versions/member/VersionId"),
        ["v3", "v2"]
    );

    let default = h
        .admin(
            "DeletePolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v3")],
        )
        .await;
    assert_eq!(
        default.expect_error(409, "DeleteConflict"),
        "Cannot delete the default version of a policy."
    );
    h.admin(
        "DeletePolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v2")],
    )
    .await
    .ok();
    let after = h
        .admin(
            "CreatePolicyVersion",
            &[("PolicyArn", &arn), ("PolicyDocument", V2)],
        )
        .await
        .ok();
    assert_eq!(
        after.get("CreatePolicyVersionResult/PolicyVersion/VersionId"),
        "v6"
    );
    h.admin(
        "SetDefaultPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "v6")],
    )
    .await
    .ok();
    let missing: &[(&str, Params<'_>)] = &[
        (
            "GetPolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v2")],
        ),
        (
            "SetDefaultPolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v9")],
        ),
        (
            "DeletePolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", "v2")],
        ),
    ];
    for (action, params) in missing {
        let reply = h.admin(action, params).await;
        assert_eq!(
            reply.expect_error(404, "NoSuchEntity"),
            format!(
                "Policy {arn} version {} does not exist or is not attachable.",
                params[1].1
            ),
            "{action}"
        );
    }
    h.admin(
        "GetPolicyVersion",
        &[("PolicyArn", &arn), ("VersionId", "1")],
    )
    .await
    .expect_error(400, "ValidationError");

    let refused = h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await;
    assert_eq!(
        refused.expect_error(409, "DeleteConflict"),
        "Cannot delete a policy with non-default versions. Delete all non-default versions first."
    );
    for version in ["v1", "v3", "v4", "v5"] {
        h.admin(
            "DeletePolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", version)],
        )
        .await
        .ok();
    }
    h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await.ok();
}

/// Attachments to users and roles: listed, counted, limited to ten, listed
/// per policy, blocking deletion, detached.
#[tokio::test]
async fn attachments() {
    let h = Harness::new();
    let arn = create_policy(&h, "shared", "/team/").await;
    h.admin(
        "CreateRole",
        &[("RoleName", "svc"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    h.admin("CreateUser", &[("UserName", "jo")]).await.ok();
    h.admin(
        "AttachRolePolicy",
        &[("RoleName", "svc"), ("PolicyArn", &arn)],
    )
    .await
    .ok();
    // Attaching twice is idempotent, as on AWS.
    h.admin(
        "AttachRolePolicy",
        &[("RoleName", "svc"), ("PolicyArn", &arn)],
    )
    .await
    .ok();
    h.admin(
        "AttachUserPolicy",
        &[("UserName", "jo"), ("PolicyArn", &arn)],
    )
    .await
    .ok();

    let attached = h
        .admin("ListAttachedRolePolicies", &[("RoleName", "svc")])
        .await
        .ok();
    assert_eq!(
        attached.texts("ListAttachedRolePoliciesResult/AttachedPolicies/member/PolicyName"),
        ["shared"]
    );
    assert_eq!(
        attached.texts("ListAttachedRolePoliciesResult/AttachedPolicies/member/PolicyArn"),
        [arn.as_str()]
    );
    let filtered = h
        .admin(
            "ListAttachedUserPolicies",
            &[("UserName", "jo"), ("PathPrefix", "/other/")],
        )
        .await
        .ok();
    assert!(
        filtered
            .texts("ListAttachedUserPoliciesResult/AttachedPolicies/member/PolicyName")
            .is_empty()
    );
    let count = h.admin("GetPolicy", &[("PolicyArn", &arn)]).await.ok();
    assert_eq!(count.get("GetPolicyResult/Policy/AttachmentCount"), "2");

    let entities = h
        .admin("ListEntitiesForPolicy", &[("PolicyArn", &arn)])
        .await
        .ok();
    assert_eq!(
        entities.texts("ListEntitiesForPolicyResult/PolicyRoles/member/RoleName"),
        ["svc"]
    );
    assert_eq!(
        entities.texts("ListEntitiesForPolicyResult/PolicyUsers/member/UserName"),
        ["jo"]
    );
    assert!(
        entities
            .texts("ListEntitiesForPolicyResult/PolicyGroups/member")
            .is_empty()
    );
    let roles_only = h
        .admin(
            "ListEntitiesForPolicy",
            &[("PolicyArn", &arn), ("EntityFilter", "Role")],
        )
        .await
        .ok();
    assert!(
        roles_only
            .texts("ListEntitiesForPolicyResult/PolicyUsers/member/UserName")
            .is_empty()
    );
    let boundaries_only = h
        .admin(
            "ListEntitiesForPolicy",
            &[
                ("PolicyArn", &arn),
                ("PolicyUsageFilter", "PermissionsBoundary"),
            ],
        )
        .await
        .ok();
    assert!(
        boundaries_only
            .texts("ListEntitiesForPolicyResult/PolicyRoles/member/RoleName")
            .is_empty()
    );

    let refused = h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await;
    assert_eq!(
        refused.expect_error(409, "DeleteConflict"),
        "Cannot delete a policy attached to entities."
    );

    // Ten attachments per role.
    for i in 0..9 {
        let extra = create_policy(&h, &format!("p{i}"), "/").await;
        h.admin(
            "AttachRolePolicy",
            &[("RoleName", "svc"), ("PolicyArn", &extra)],
        )
        .await
        .ok();
    }
    let eleventh = create_policy(&h, "p9", "/").await;
    let over = h
        .admin(
            "AttachRolePolicy",
            &[("RoleName", "svc"), ("PolicyArn", &eleventh)],
        )
        .await;
    assert_eq!(
        over.expect_error(409, "LimitExceeded"),
        "Cannot exceed quota for PoliciesPerRole: 10"
    );

    h.admin(
        "DetachRolePolicy",
        &[("RoleName", "svc"), ("PolicyArn", &arn)],
    )
    .await
    .ok();
    let again = h
        .admin(
            "DetachRolePolicy",
            &[("RoleName", "svc"), ("PolicyArn", &arn)],
        )
        .await;
    assert_eq!(
        again.expect_error(404, "NoSuchEntity"),
        format!("Policy {arn} was not found.")
    );
    h.admin(
        "DetachUserPolicy",
        &[("UserName", "jo"), ("PolicyArn", &arn)],
    )
    .await
    .ok();
    h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await.ok();
}

/// The errors of the managed-policy operations.
#[tokio::test]
async fn managed_policy_errors() {
    let h = Harness::new();
    let arn = create_policy(&h, "read", "/").await;
    let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
    let without_resource =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#,
        "A".repeat(6200)
    );
    let missing = "arn:aws:iam::123456789012:policy/missing";
    let aws_missing = "arn:aws:iam::aws:policy/NoSuchManagedPolicy";
    let cases: &[(&str, Params<'_>, u16, &str, Option<&str>)] = &[
        (
            "CreatePolicy",
            &[("PolicyName", "READ"), ("PolicyDocument", READ_S3)],
            409,
            "EntityAlreadyExists",
            Some("A policy called READ already exists. Duplicate names are not allowed."),
        ),
        (
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", with_principal)],
            400,
            "MalformedPolicyDocument",
            Some("Policy document should not specify a principal."),
        ),
        (
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", without_resource)],
            400,
            "MalformedPolicyDocument",
            Some("Policy statement must contain resources."),
        ),
        (
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", &huge)],
            409,
            "LimitExceeded",
            Some("Cannot exceed quota for PolicySize: 6144"),
        ),
        (
            "CreatePolicyVersion",
            &[("PolicyArn", &arn), ("PolicyDocument", "nope")],
            400,
            "MalformedPolicyDocument",
            Some("This policy contains invalid Json"),
        ),
        (
            "GetPolicy",
            &[("PolicyArn", missing)],
            404,
            "NoSuchEntity",
            Some("Policy arn:aws:iam::123456789012:policy/missing was not found."),
        ),
        (
            "GetPolicy",
            &[("PolicyArn", "not-an-arn-at-all-xyz")],
            400,
            "ValidationError",
            Some("Invalid ARN:  Could not be parsed!"),
        ),
        (
            "AttachUserPolicy",
            &[("UserName", "admin"), ("PolicyArn", missing)],
            404,
            "NoSuchEntity",
            Some(
                "Policy arn:aws:iam::123456789012:policy/missing does not exist or is not attachable.",
            ),
        ),
        (
            "AttachUserPolicy",
            &[("UserName", "admin"), ("PolicyArn", aws_missing)],
            404,
            "NoSuchEntity",
            Some(
                "Policy arn:aws:iam::aws:policy/NoSuchManagedPolicy does not exist or is not attachable.",
            ),
        ),
        (
            "AttachRolePolicy",
            &[("RoleName", "ghost"), ("PolicyArn", &arn)],
            404,
            "NoSuchEntity",
            Some("The role with name ghost cannot be found."),
        ),
        (
            "ListAttachedUserPolicies",
            &[("UserName", "ghost")],
            404,
            "NoSuchEntity",
            None,
        ),
        (
            "ListEntitiesForPolicy",
            &[("PolicyArn", missing)],
            404,
            "NoSuchEntity",
            None,
        ),
        (
            "DeletePolicy",
            &[("PolicyArn", missing)],
            404,
            "NoSuchEntity",
            None,
        ),
        (
            "TagPolicy",
            &[
                ("PolicyArn", missing),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "v"),
            ],
            404,
            "NoSuchEntity",
            None,
        ),
    ];
    for (action, params, status, code, message) in cases {
        let reply = h.admin(action, params).await;
        let got = reply.expect_error(*status, code);
        if let Some(message) = message {
            assert_eq!(&got, message, "{action}");
        }
    }
    let nobody = h.nobody.clone();
    h.call(&nobody, "GetPolicy", &[("PolicyArn", &arn)])
        .await
        .expect_error(403, "AccessDenied");
}
