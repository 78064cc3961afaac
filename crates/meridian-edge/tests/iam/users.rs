//! Users, their tags and boundary, and access keys.

use meridian_core::config::command::Command;

use crate::support::{ACCOUNT, Credentials, Harness, Params, READ_S3};

const CREATE_DATE: &str = "2026-11-26T05:08:28Z";

/// A user is created with path and tags, read back, listed without its tags,
/// renamed, and deleted.
#[tokio::test]
async fn user_lifecycle() {
    let h = Harness::new();
    let created = h
        .admin(
            "CreateUser",
            &[
                ("UserName", "alice"),
                ("Path", "/eng/"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "core"),
            ],
        )
        .await
        .ok();
    let user_id = created.get("CreateUserResult/User/UserId");
    assert!(
        user_id.starts_with("AIDA") && user_id.len() == 21,
        "{user_id}"
    );
    assert_eq!(
        created.get("CreateUserResult/User/Arn"),
        "arn:aws:iam::123456789012:user/eng/alice"
    );
    assert_eq!(created.get("CreateUserResult/User/Path"), "/eng/");
    assert_eq!(created.get("CreateUserResult/User/CreateDate"), CREATE_DATE);
    assert_eq!(
        created.texts("CreateUserResult/User/Tags/member/Key"),
        ["team"]
    );
    assert!(
        created
            .text("CreateUserResult/User/PermissionsBoundary")
            .is_none()
    );

    let got = h.admin("GetUser", &[("UserName", "ALICE")]).await.ok();
    assert_eq!(got.get("GetUserResult/User/UserName"), "alice");
    assert_eq!(got.get("GetUserResult/User/UserId"), user_id);
    assert_eq!(got.texts("GetUserResult/User/Tags/member/Value"), ["core"]);

    let listed = h.admin("ListUsers", &[]).await.ok();
    assert_eq!(
        listed.texts("ListUsersResult/Users/member/UserName"),
        ["admin", "alice", "nobody"]
    );
    assert!(listed.texts("ListUsersResult/Users/member/Tags").is_empty());
    assert_eq!(listed.get("ListUsersResult/IsTruncated"), "false");

    h.admin(
        "UpdateUser",
        &[
            ("UserName", "alice"),
            ("NewUserName", "alicia"),
            ("NewPath", "/ops/"),
        ],
    )
    .await
    .ok();
    let renamed = h.admin("GetUser", &[("UserName", "alicia")]).await.ok();
    assert_eq!(
        renamed.get("GetUserResult/User/Arn"),
        "arn:aws:iam::123456789012:user/ops/alicia"
    );
    assert_eq!(renamed.get("GetUserResult/User/UserId"), user_id);
    let gone = h.admin("GetUser", &[("UserName", "alice")]).await;
    assert_eq!(
        gone.expect_error(404, "NoSuchEntity"),
        "The user with name alice cannot be found."
    );

    h.admin("DeleteUser", &[("UserName", "alicia")]).await.ok();
    h.admin("GetUser", &[("UserName", "alicia")])
        .await
        .expect_error(404, "NoSuchEntity");
}

/// The errors of CreateUser, UpdateUser and GetUser, with AWS's codes,
/// statuses and texts.
#[tokio::test]
async fn user_errors() {
    let h = Harness::new();
    h.admin("CreateUser", &[("UserName", "bob")]).await.ok();
    let cases: &[(&str, Params<'_>, u16, &str, Option<&str>)] = &[
        (
            "CreateUser",
            &[("UserName", "BOB")],
            409,
            "EntityAlreadyExists",
            Some("User with name BOB already exists."),
        ),
        (
            "CreateUser",
            &[("UserName", "has space")],
            400,
            "ValidationError",
            None,
        ),
        (
            "CreateUser",
            &[("UserName", "x"), ("Path", "no-slashes")],
            400,
            "ValidationError",
            None,
        ),
        (
            "CreateUser",
            &[
                ("UserName", "x"),
                ("Tags.member.1.Key", "Team"),
                ("Tags.member.1.Value", "a"),
                ("Tags.member.2.Key", "team"),
                ("Tags.member.2.Value", "b"),
            ],
            400,
            "InvalidInput",
            Some("Duplicate tag keys found. Please note that Tag keys are case insensitive."),
        ),
        (
            "CreateUser",
            &[
                ("UserName", "x"),
                (
                    "PermissionsBoundary",
                    "arn:aws:iam::123456789012:policy/missing",
                ),
            ],
            404,
            "NoSuchEntity",
            Some(
                "Policy arn:aws:iam::123456789012:policy/missing does not exist or is not attachable.",
            ),
        ),
        (
            "UpdateUser",
            &[("UserName", "ghost"), ("NewUserName", "x")],
            404,
            "NoSuchEntity",
            Some("The user with name ghost cannot be found."),
        ),
        (
            "UpdateUser",
            &[("UserName", "bob"), ("NewUserName", "Admin")],
            409,
            "EntityAlreadyExists",
            Some("User with name Admin already exists."),
        ),
        (
            "DeleteUser",
            &[("UserName", "ghost")],
            404,
            "NoSuchEntity",
            Some("The user with name ghost cannot be found."),
        ),
        (
            "TagUser",
            &[
                ("UserName", "ghost"),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "v"),
            ],
            404,
            "NoSuchEntity",
            None,
        ),
        (
            "ListUserTags",
            &[("UserName", "ghost")],
            404,
            "NoSuchEntity",
            None,
        ),
        (
            "ListUsers",
            &[("MaxItems", "0")],
            400,
            "ValidationError",
            None,
        ),
        (
            "ListUsers",
            &[("Marker", "not-a-marker")],
            400,
            "ValidationError",
            None,
        ),
    ];
    for (action, params, status, code, message) in cases {
        let reply = h.admin(action, params).await;
        let got = reply.expect_error(*status, code);
        if let Some(message) = message {
            assert_eq!(&got, message, "{action} {params:?}");
        }
    }
    // Nothing above created a user named x.
    h.admin("GetUser", &[("UserName", "x")])
        .await
        .expect_error(404, "NoSuchEntity");
}

/// `GetUser` without a name describes the calling user.
#[tokio::test]
async fn get_user_without_name_is_the_caller() {
    let h = Harness::new();
    let me = h.admin("GetUser", &[]).await.ok();
    assert_eq!(me.get("GetUserResult/User/UserName"), "admin");
    assert_eq!(
        me.get("GetUserResult/User/Arn"),
        "arn:aws:iam::123456789012:user/admin"
    );
}

/// DeleteUser refuses while keys, attached or inline policies remain, in
/// AWS's order and words, and succeeds once they are gone.
#[tokio::test]
async fn delete_user_conflicts() {
    let h = Harness::new();
    h.admin("CreateUser", &[("UserName", "carol")]).await.ok();
    let key = h
        .admin("CreateAccessKey", &[("UserName", "carol")])
        .await
        .ok()
        .get("CreateAccessKeyResult/AccessKey/AccessKeyId");
    let policy_arn = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "read"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    h.admin(
        "AttachUserPolicy",
        &[("UserName", "carol"), ("PolicyArn", &policy_arn)],
    )
    .await
    .ok();
    h.admin(
        "PutUserPolicy",
        &[
            ("UserName", "carol"),
            ("PolicyName", "inline"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await
    .ok();

    let steps: [(&str, Params<'_>, &str); 3] = [
        (
            "DeleteAccessKey",
            &[("UserName", "carol"), ("AccessKeyId", &key)],
            "Cannot delete entity, must delete access keys first.",
        ),
        (
            "DetachUserPolicy",
            &[("UserName", "carol"), ("PolicyArn", &policy_arn)],
            "Cannot delete entity, must detach all policies first.",
        ),
        (
            "DeleteUserPolicy",
            &[("UserName", "carol"), ("PolicyName", "inline")],
            "Cannot delete entity, must delete policies first.",
        ),
    ];
    for (remove, params, message) in steps {
        let refused = h.admin("DeleteUser", &[("UserName", "carol")]).await;
        assert_eq!(refused.expect_error(409, "DeleteConflict"), message);
        h.admin(remove, params).await.ok();
    }
    h.admin("DeleteUser", &[("UserName", "carol")]).await.ok();
}

/// Tags are added, overwritten, listed in pages and removed.
#[tokio::test]
async fn user_tags_and_pagination() {
    let h = Harness::new();
    h.admin("CreateUser", &[("UserName", "dave")]).await.ok();
    h.admin(
        "TagUser",
        &[
            ("UserName", "dave"),
            ("Tags.member.1.Key", "b"),
            ("Tags.member.1.Value", "2"),
            ("Tags.member.2.Key", "a"),
            ("Tags.member.2.Value", "1"),
            ("Tags.member.3.Key", "c"),
            ("Tags.member.3.Value", ""),
        ],
    )
    .await
    .ok();
    h.admin(
        "TagUser",
        &[
            ("UserName", "dave"),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "one"),
        ],
    )
    .await
    .ok();
    let first = h
        .admin("ListUserTags", &[("UserName", "dave"), ("MaxItems", "2")])
        .await
        .ok();
    assert_eq!(
        first.texts("ListUserTagsResult/Tags/member/Key"),
        ["a", "b"]
    );
    assert_eq!(
        first.texts("ListUserTagsResult/Tags/member/Value"),
        ["one", "2"]
    );
    assert_eq!(first.get("ListUserTagsResult/IsTruncated"), "true");
    let marker = first.get("ListUserTagsResult/Marker");
    let second = h
        .admin(
            "ListUserTags",
            &[("UserName", "dave"), ("MaxItems", "2"), ("Marker", &marker)],
        )
        .await
        .ok();
    assert_eq!(second.texts("ListUserTagsResult/Tags/member/Key"), ["c"]);
    assert_eq!(second.get("ListUserTagsResult/IsTruncated"), "false");
    assert!(second.text("ListUserTagsResult/Marker").is_none());

    h.admin(
        "UntagUser",
        &[
            ("UserName", "dave"),
            ("TagKeys.member.1", "a"),
            ("TagKeys.member.2", "zz"),
        ],
    )
    .await
    .ok();
    let rest = h.admin("ListUserTags", &[("UserName", "dave")]).await.ok();
    assert_eq!(rest.texts("ListUserTagsResult/Tags/member/Key"), ["b", "c"]);
}

/// ListUsers filters by path prefix and pages with opaque markers.
#[tokio::test]
async fn list_users_pages_and_filters() {
    let h = Harness::new();
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        h.admin("CreateUser", &[("UserName", name), ("Path", "/eng/")])
            .await
            .ok();
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("PathPrefix", "/eng/"), ("MaxItems", "2")];
        if let Some(marker) = &marker {
            params.push(("Marker", marker.as_str()));
        }
        let page = h.admin("ListUsers", &params).await.ok();
        pages += 1;
        names.extend(page.texts("ListUsersResult/Users/member/UserName"));
        if page.get("ListUsersResult/IsTruncated") == "true" {
            marker = Some(page.get("ListUsersResult/Marker"));
        } else {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["u1", "u2", "u3", "u4", "u5"]);
}

/// A permissions boundary is set, shown by GetUser only, keeps its policy
/// from being deleted, and is removed.
#[tokio::test]
async fn user_permissions_boundary() {
    let h = Harness::new();
    h.admin("CreateUser", &[("UserName", "erin")]).await.ok();
    let arn = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "boundary"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    h.admin(
        "PutUserPermissionsBoundary",
        &[("UserName", "erin"), ("PermissionsBoundary", &arn)],
    )
    .await
    .ok();
    let got = h.admin("GetUser", &[("UserName", "erin")]).await.ok();
    assert_eq!(
        got.get("GetUserResult/User/PermissionsBoundary/PermissionsBoundaryArn"),
        arn
    );
    assert_eq!(
        got.get("GetUserResult/User/PermissionsBoundary/PermissionsBoundaryType"),
        "PermissionsBoundaryPolicy"
    );
    let policy = h.admin("GetPolicy", &[("PolicyArn", &arn)]).await.ok();
    assert_eq!(
        policy.get("GetPolicyResult/Policy/PermissionsBoundaryUsageCount"),
        "1"
    );
    h.admin("DeletePolicy", &[("PolicyArn", &arn)])
        .await
        .expect_error(409, "DeleteConflict");
    h.admin("DeleteUserPermissionsBoundary", &[("UserName", "erin")])
        .await
        .ok();
    let cleared = h.admin("GetUser", &[("UserName", "erin")]).await.ok();
    assert!(
        cleared
            .text("GetUserResult/User/PermissionsBoundary")
            .is_none()
    );
    h.admin("DeletePolicy", &[("PolicyArn", &arn)]).await.ok();
}

/// CreateAccessKey returns a working secret once and proposes only its
/// sealed form; keys are listed, disabled, limited to two and deleted.
#[tokio::test]
async fn access_key_lifecycle() {
    let h = Harness::new();
    h.admin("CreateUser", &[("UserName", "frank")]).await.ok();
    let created = h
        .admin("CreateAccessKey", &[("UserName", "frank")])
        .await
        .ok();
    let key = created.get("CreateAccessKeyResult/AccessKey/AccessKeyId");
    let secret = created.get("CreateAccessKeyResult/AccessKey/SecretAccessKey");
    assert!(key.starts_with("AKIA") && key.len() == 20, "{key}");
    assert_eq!(secret.len(), 40);
    assert_eq!(
        created.get("CreateAccessKeyResult/AccessKey/Status"),
        "Active"
    );
    assert_eq!(
        created.get("CreateAccessKeyResult/AccessKey/UserName"),
        "frank"
    );
    // The key encodes its account, as AWS's do.
    let decoded = meridian_core::ids::AccessKeyId::parse(&key)
        .ok()
        .and_then(|id| id.account());
    assert_eq!(
        decoded.map(|a| a.as_str().to_owned()).as_deref(),
        Some(ACCOUNT)
    );

    // The secret never reached the replicated log in clear.
    let logged = format!("{:?}", h.writer.submitted());
    assert!(!logged.contains(&secret));
    let sealed_ok = h.writer.submitted().iter().any(|request| {
        matches!(&request.command, Command::CreateAccessKey { access_key_id, .. } if *access_key_id == key)
    });
    assert!(sealed_ok);

    // The new key authenticates (frank has no policies: AccessDenied, not
    // InvalidClientTokenId).
    let frank = Credentials {
        access_key_id: key.clone(),
        secret,
    };
    h.call(&frank, "GetUser", &[])
        .await
        .expect_error(403, "AccessDenied");

    let listed = h
        .admin("ListAccessKeys", &[("UserName", "frank")])
        .await
        .ok();
    assert_eq!(
        listed.texts("ListAccessKeysResult/AccessKeyMetadata/member/AccessKeyId"),
        [key.as_str()]
    );
    assert!(!listed.body.contains("SecretAccessKey"));

    h.admin("CreateAccessKey", &[("UserName", "frank")])
        .await
        .ok();
    let third = h.admin("CreateAccessKey", &[("UserName", "frank")]).await;
    assert_eq!(
        third.expect_error(409, "LimitExceeded"),
        "Cannot exceed quota for AccessKeysPerUser: 2"
    );

    h.admin(
        "UpdateAccessKey",
        &[
            ("UserName", "frank"),
            ("AccessKeyId", &key),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    let status = h
        .admin("ListAccessKeys", &[("UserName", "frank")])
        .await
        .ok()
        .texts("ListAccessKeysResult/AccessKeyMetadata/member/Status");
    assert!(status.contains(&"Inactive".to_owned()), "{status:?}");
    h.call(&frank, "GetUser", &[])
        .await
        .expect_error(403, "InvalidClientTokenId");

    let last_used = h
        .admin("GetAccessKeyLastUsed", &[("AccessKeyId", &key)])
        .await
        .ok();
    assert_eq!(
        last_used.get("GetAccessKeyLastUsedResult/UserName"),
        "frank"
    );
    assert_eq!(
        last_used.get("GetAccessKeyLastUsedResult/AccessKeyLastUsed/ServiceName"),
        "N/A"
    );

    h.admin(
        "DeleteAccessKey",
        &[("UserName", "frank"), ("AccessKeyId", &key)],
    )
    .await
    .ok();
    let again = h
        .admin(
            "DeleteAccessKey",
            &[("UserName", "frank"), ("AccessKeyId", &key)],
        )
        .await;
    assert_eq!(
        again.expect_error(404, "NoSuchEntity"),
        format!("The Access Key with id {key} cannot be found")
    );
    let errors: &[(&str, Params<'_>, u16, &str)] = &[
        (
            "UpdateAccessKey",
            &[
                ("UserName", "frank"),
                ("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"),
                ("Status", "Active"),
            ],
            404,
            "NoSuchEntity",
        ),
        (
            "UpdateAccessKey",
            &[
                ("UserName", "frank"),
                ("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"),
                ("Status", "Bogus"),
            ],
            400,
            "ValidationError",
        ),
        (
            "CreateAccessKey",
            &[("UserName", "ghost")],
            404,
            "NoSuchEntity",
        ),
        (
            "ListAccessKeys",
            &[("UserName", "ghost")],
            404,
            "NoSuchEntity",
        ),
    ];
    for (action, params, status, code) in errors {
        h.admin(action, params).await.expect_error(*status, code);
    }
}

/// Without `UserName`, access key operations act on the calling user.
#[tokio::test]
async fn access_keys_default_to_the_caller() {
    let h = Harness::new();
    let listed = h.admin("ListAccessKeys", &[]).await.ok();
    assert_eq!(
        listed.texts("ListAccessKeysResult/AccessKeyMetadata/member/UserName"),
        ["admin"]
    );
    assert_eq!(
        listed.texts("ListAccessKeysResult/AccessKeyMetadata/member/AccessKeyId"),
        [h.admin.access_key_id.as_str()]
    );
}

/// A caller without policies is denied every IAM action with AWS's
/// AccessDenied, and nothing is written.
#[tokio::test]
async fn callers_without_permission_are_denied() {
    let h = Harness::new();
    let nobody = h.nobody.clone();
    let before = h.writer.submitted().len();
    let cases: &[(&str, Params<'_>, &str)] = &[
        (
            "CreateUser",
            &[("UserName", "x")],
            "arn:aws:iam::123456789012:user/x",
        ),
        (
            "GetUser",
            &[("UserName", "admin")],
            "arn:aws:iam::123456789012:user/admin",
        ),
        ("ListUsers", &[], "arn:aws:iam::123456789012:user/"),
        (
            "DeleteUser",
            &[("UserName", "admin")],
            "arn:aws:iam::123456789012:user/admin",
        ),
        (
            "CreateAccessKey",
            &[("UserName", "admin")],
            "arn:aws:iam::123456789012:user/admin",
        ),
    ];
    for (action, params, resource) in cases {
        let reply = h.call(&nobody, action, params).await;
        let message = reply.expect_error(403, "AccessDenied");
        let expected = format!(
            "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: iam:{action} on resource: {resource}"
        );
        assert!(message.starts_with(&expected), "{message}");
    }
    assert_eq!(h.writer.submitted().len(), before);
}

/// A write the cluster cannot commit is answered ServiceUnavailable (503,
/// retried by SDKs); the Raft request id is the HTTP request id.
#[tokio::test]
async fn writes_are_keyed_by_request_id_and_fail_retryably() {
    let h = Harness::new();
    let reply = h.admin("CreateUser", &[("UserName", "gina")]).await.ok();
    let http_id = reply.get("ResponseMetadata/RequestId").replace('-', "");
    let submitted = h.writer.submitted();
    let Some(last) = submitted.last() else {
        panic!("nothing submitted")
    };
    assert_eq!(last.request_id.to_string(), http_id);
    assert_eq!(last.issued_at, crate::support::NOW);

    h.writer.set_unavailable(true);
    h.admin("CreateUser", &[("UserName", "hank")])
        .await
        .expect_error(503, "ServiceUnavailable");
    h.writer.set_unavailable(false);
    h.admin("GetUser", &[("UserName", "hank")])
        .await
        .expect_error(404, "NoSuchEntity");
}
