//! AWS managed policies (the built-in catalogue) through the IAM API, and the
//! cross-account rule: an IAM action reaches only the caller's own account.

use crate::support::{
    ALLOW_ALL, Harness, OTHER_ACCOUNT, Params, READ_S3, other_account, url_decode,
};

const ADMIN_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const IAM_READ_ONLY: &str = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";

/// Every account reads AWS managed policies as AWS shows them, and no one
/// can change them: writes are `AccessDenied` (they belong to AWS's account).
#[tokio::test]
async fn aws_managed_policies_are_readable_and_never_writable() {
    let h = Harness::new();
    let got = h
        .admin("GetPolicy", &[("PolicyArn", ADMIN_ACCESS)])
        .await
        .ok();
    let expected = [
        ("PolicyName", "AdministratorAccess"),
        ("PolicyId", "ANPAIWMBCKSKIEE64ZLYK"),
        ("Arn", ADMIN_ACCESS),
        ("Path", "/"),
        ("DefaultVersionId", "v1"),
        ("AttachmentCount", "0"),
        ("IsAttachable", "true"),
        (
            "Description",
            "Provides full access to AWS services and resources.",
        ),
        ("CreateDate", "2015-02-06T18:39:46Z"),
    ];
    for (member, value) in expected {
        assert_eq!(
            got.get(&format!("GetPolicyResult/Policy/{member}")),
            value,
            "{member}"
        );
    }
    let version = h
        .admin(
            "GetPolicyVersion",
            &[("PolicyArn", ADMIN_ACCESS), ("VersionId", "v1")],
        )
        .await
        .ok();
    assert_eq!(
        url_decode(&version.get("GetPolicyVersionResult/PolicyVersion/Document")),
        ALLOW_ALL
    );
    let versions = h
        .admin("ListPolicyVersions", &[("PolicyArn", READ_ONLY)])
        .await
        .ok();
    assert_eq!(
        versions.texts("ListPolicyVersionsResult/Versions/member/VersionId"),
        ["v1"]
    );
    // The reduced ReadOnlyAccess grants the iam:/sts: reads AWS's does.
    let read_only = h
        .admin(
            "GetPolicyVersion",
            &[("PolicyArn", READ_ONLY), ("VersionId", "v1")],
        )
        .await
        .ok();
    let document = url_decode(&read_only.get("GetPolicyVersionResult/PolicyVersion/Document"));
    for action in ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"] {
        assert!(document.contains(action), "{action}: {document}");
    }

    let tag: Params<'_> = &[
        ("PolicyArn", ADMIN_ACCESS),
        ("Tags.member.1.Key", "k"),
        ("Tags.member.1.Value", "v"),
    ];
    let writes: &[(&str, Params<'_>)] = &[
        (
            "CreatePolicyVersion",
            &[("PolicyArn", ADMIN_ACCESS), ("PolicyDocument", READ_S3)],
        ),
        (
            "SetDefaultPolicyVersion",
            &[("PolicyArn", ADMIN_ACCESS), ("VersionId", "v1")],
        ),
        (
            "DeletePolicyVersion",
            &[("PolicyArn", ADMIN_ACCESS), ("VersionId", "v1")],
        ),
        ("DeletePolicy", &[("PolicyArn", ADMIN_ACCESS)]),
        ("TagPolicy", tag),
        (
            "UntagPolicy",
            &[("PolicyArn", ADMIN_ACCESS), ("TagKeys.member.1", "k")],
        ),
    ];
    for (action, params) in writes {
        let message = h
            .admin(action, params)
            .await
            .expect_error(403, "AccessDenied");
        assert!(
            message.contains(&format!(
                "iam:{action} on resource: {ADMIN_ACCESS} because no resource-based policy allows"
            )),
            "{action}: {message}"
        );
    }
    assert!(h.writer.submitted().is_empty(), "a write was proposed");
}

/// Attached AWS managed policies grant what their documents say, count as
/// attachments, are listed with their names, and work as boundaries.
#[tokio::test]
async fn aws_managed_policies_grant_and_bound() {
    let h = Harness::new();
    let reader = h.seed_user(crate::support::account(), "reader", None);
    h.admin(
        "AttachUserPolicy",
        &[("UserName", "reader"), ("PolicyArn", READ_ONLY)],
    )
    .await
    .ok();
    h.call(&reader, "ListUsers", &[]).await.ok();
    h.call(&reader, "GetPolicy", &[("PolicyArn", READ_ONLY)])
        .await
        .ok();
    let message = h
        .call(&reader, "CreateUser", &[("UserName", "intruder")])
        .await
        .expect_error(403, "AccessDenied");
    assert!(
        message.contains("because no identity-based policy allows the iam:CreateUser action"),
        "{message}"
    );
    let attached = h
        .admin("ListAttachedUserPolicies", &[("UserName", "reader")])
        .await
        .ok();
    assert_eq!(
        attached.texts("ListAttachedUserPoliciesResult/AttachedPolicies/member/PolicyName"),
        ["ReadOnlyAccess"]
    );
    assert_eq!(
        attached.texts("ListAttachedUserPoliciesResult/AttachedPolicies/member/PolicyArn"),
        [READ_ONLY]
    );
    let got = h.admin("GetPolicy", &[("PolicyArn", READ_ONLY)]).await.ok();
    assert_eq!(got.get("GetPolicyResult/Policy/AttachmentCount"), "1");
    let entities = h
        .admin("ListEntitiesForPolicy", &[("PolicyArn", READ_ONLY)])
        .await
        .ok();
    assert_eq!(
        entities.texts("ListEntitiesForPolicyResult/PolicyUsers/member/UserName"),
        ["reader"]
    );
    let only_attached = h
        .admin(
            "ListPolicies",
            &[("Scope", "AWS"), ("OnlyAttached", "true")],
        )
        .await
        .ok();
    assert_eq!(
        only_attached.texts("ListPoliciesResult/Policies/member/PolicyName"),
        ["ReadOnlyAccess"]
    );

    // As a boundary: an allow-all user bounded by IAMReadOnlyAccess reads
    // but cannot write.
    let bounded = h.seed_user(crate::support::account(), "bounded", Some(ALLOW_ALL));
    h.admin(
        "PutUserPermissionsBoundary",
        &[
            ("UserName", "bounded"),
            ("PermissionsBoundary", IAM_READ_ONLY),
        ],
    )
    .await
    .ok();
    h.call(&bounded, "ListRoles", &[]).await.ok();
    let message = h
        .call(&bounded, "CreateUser", &[("UserName", "intruder")])
        .await
        .expect_error(403, "AccessDenied");
    assert!(
        message.contains("because no permissions boundary allows the iam:CreateUser action"),
        "{message}"
    );
    h.admin(
        "DetachUserPolicy",
        &[("UserName", "reader"), ("PolicyArn", READ_ONLY)],
    )
    .await
    .ok();
    h.call(&reader, "ListUsers", &[])
        .await
        .expect_error(403, "AccessDenied");
}

/// An allow-all user of another account acting on this account's ARNs gets
/// `AccessDenied` (never `NoSuchEntity`: nothing about the account leaks),
/// and nothing changes; on its own account the same calls work.
#[tokio::test]
async fn iam_actions_never_reach_another_account() {
    let h = Harness::new();
    let policy = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "mine"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    let oidc = h
        .admin(
            "CreateOpenIDConnectProvider",
            &[
                ("Url", "https://token.example.com"),
                ("ClientIDList.member.1", "sts.amazonaws.com"),
            ],
        )
        .await
        .ok()
        .get("CreateOpenIDConnectProviderResult/OpenIDConnectProviderArn");
    let serial = h
        .admin(
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "phone")],
        )
        .await
        .ok()
        .get("CreateVirtualMFADeviceResult/VirtualMFADevice/SerialNumber");
    let missing = "arn:aws:iam::123456789012:policy/does-not-exist";
    let before = h.writer.submitted().len();

    let other = h.seed_user(other_account(), "other-admin", Some(ALLOW_ALL));
    let calls: &[(&str, Params<'_>)] = &[
        ("GetPolicy", &[("PolicyArn", &policy)]),
        // Same answer for a policy that does not exist: nothing leaks.
        ("GetPolicy", &[("PolicyArn", missing)]),
        (
            "GetPolicyVersion",
            &[("PolicyArn", &policy), ("VersionId", "v1")],
        ),
        ("ListEntitiesForPolicy", &[("PolicyArn", &policy)]),
        ("DeletePolicy", &[("PolicyArn", &policy)]),
        (
            "CreatePolicyVersion",
            &[("PolicyArn", &policy), ("PolicyDocument", ALLOW_ALL)],
        ),
        (
            "TagPolicy",
            &[
                ("PolicyArn", &policy),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "v"),
            ],
        ),
        (
            "GetOpenIDConnectProvider",
            &[("OpenIDConnectProviderArn", &oidc)],
        ),
        (
            "DeleteOpenIDConnectProvider",
            &[("OpenIDConnectProviderArn", &oidc)],
        ),
        ("DeleteVirtualMFADevice", &[("SerialNumber", &serial)]),
    ];
    for (action, params) in calls {
        let message = h
            .call(&other, action, params)
            .await
            .expect_error(403, "AccessDenied");
        let prefix = format!(
            "User: arn:aws:iam::{OTHER_ACCOUNT}:user/other-admin is not authorized to perform: \
             iam:{action} on resource: "
        );
        assert!(message.starts_with(&prefix), "{action}: {message}");
        assert!(
            message.contains(&format!(
                " because no resource-based policy allows the iam:{action} action"
            )),
            "{action}: {message}"
        );
    }
    assert_eq!(h.writer.submitted().len(), before, "a write was proposed");
    h.admin("GetPolicy", &[("PolicyArn", &policy)]).await.ok();
    h.admin(
        "GetOpenIDConnectProvider",
        &[("OpenIDConnectProviderArn", &oidc)],
    )
    .await
    .ok();

    // The other account's administrator manages its own account, and reads
    // AWS managed policies like everyone.
    let own = h
        .call(
            &other,
            "CreatePolicy",
            &[("PolicyName", "mine"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    assert_eq!(own, format!("arn:aws:iam::{OTHER_ACCOUNT}:policy/mine"));
    h.call(&other, "GetPolicy", &[("PolicyArn", &own)])
        .await
        .ok();
    h.call(&other, "GetPolicy", &[("PolicyArn", ADMIN_ACCESS)])
        .await
        .ok();
    h.call(
        &other,
        "AttachUserPolicy",
        &[("UserName", "other-admin"), ("PolicyArn", ADMIN_ACCESS)],
    )
    .await
    .ok();
}
