//! Roles, trust policies, inline policies of roles and users.

use meridian_core::config::command::Command;

use crate::support::{Harness, Params, READ_S3, TRUST, account, url_decode};

/// A trust policy naming the role `name` of the test account.
fn trust_naming(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// A role is created, read (trust policy URL-encoded and parsed back),
/// listed without boundary, tags or last use, updated and deleted.
#[tokio::test]
async fn role_lifecycle() {
    let h = Harness::new();
    let created = h
        .admin(
            "CreateRole",
            &[
                ("RoleName", "deployer"),
                ("Path", "/ci/"),
                ("AssumeRolePolicyDocument", TRUST),
                ("Description", "CI deploys"),
                ("MaxSessionDuration", "7200"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "platform"),
            ],
        )
        .await
        .ok();
    let role_id = created.get("CreateRoleResult/Role/RoleId");
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(
        created.get("CreateRoleResult/Role/Arn"),
        "arn:aws:iam::123456789012:role/ci/deployer"
    );
    let encoded = created.get("CreateRoleResult/Role/AssumeRolePolicyDocument");
    assert!(encoded.starts_with("%7B%22Version%22"), "{encoded}");
    assert_eq!(url_decode(&encoded), TRUST);
    assert_eq!(
        created.get("CreateRoleResult/Role/MaxSessionDuration"),
        "7200"
    );
    assert_eq!(
        created.get("CreateRoleResult/Role/Description"),
        "CI deploys"
    );
    assert_eq!(
        created.texts("CreateRoleResult/Role/Tags/member/Value"),
        ["platform"]
    );

    // Without MaxSessionDuration, CreateRole leaves the default out; GetRole
    // always shows it, and an empty RoleLastUsed.
    let plain = h
        .admin(
            "CreateRole",
            &[("RoleName", "plain"), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await
        .ok();
    assert!(
        plain
            .text("CreateRoleResult/Role/MaxSessionDuration")
            .is_none()
    );
    assert!(plain.text("CreateRoleResult/Role/Description").is_none());
    assert!(plain.text("CreateRoleResult/Role/Tags").is_none());
    let got = h.admin("GetRole", &[("RoleName", "PLAIN")]).await.ok();
    assert_eq!(got.get("GetRoleResult/Role/RoleName"), "plain");
    assert_eq!(got.get("GetRoleResult/Role/MaxSessionDuration"), "3600");
    let last_used = got.root.find("GetRoleResult/Role/RoleLastUsed");
    assert!(last_used.is_some_and(|node| node.children.is_empty()));

    let listed = h.admin("ListRoles", &[("PathPrefix", "/ci/")]).await.ok();
    assert_eq!(
        listed.texts("ListRolesResult/Roles/member/RoleName"),
        ["deployer"]
    );
    assert!(listed.text("ListRolesResult/Roles/member/Tags").is_none());
    assert!(
        listed
            .text("ListRolesResult/Roles/member/RoleLastUsed")
            .is_none()
    );
    assert_eq!(
        url_decode(&listed.get("ListRolesResult/Roles/member/AssumeRolePolicyDocument")),
        TRUST
    );
    let all = h.admin("ListRoles", &[]).await.ok();
    assert_eq!(
        all.texts("ListRolesResult/Roles/member/RoleName"),
        ["deployer", "plain"]
    );

    h.admin(
        "UpdateRole",
        &[
            ("RoleName", "deployer"),
            ("Description", "new"),
            ("MaxSessionDuration", "43200"),
        ],
    )
    .await
    .ok();
    let updated = h.admin("GetRole", &[("RoleName", "deployer")]).await.ok();
    assert_eq!(updated.get("GetRoleResult/Role/Description"), "new");
    assert_eq!(
        updated.get("GetRoleResult/Role/MaxSessionDuration"),
        "43200"
    );

    let described = h
        .admin(
            "UpdateRoleDescription",
            &[("RoleName", "deployer"), ("Description", "newer")],
        )
        .await
        .ok();
    assert_eq!(
        described.get("UpdateRoleDescriptionResult/Role/Description"),
        "newer"
    );
    assert_eq!(
        described.get("UpdateRoleDescriptionResult/Role/RoleId"),
        role_id
    );

    let new_trust = trust_naming("arn:aws:iam::123456789012:user/admin");
    h.admin(
        "UpdateAssumeRolePolicy",
        &[("RoleName", "deployer"), ("PolicyDocument", &new_trust)],
    )
    .await
    .ok();
    let trusted = h.admin("GetRole", &[("RoleName", "deployer")]).await.ok();
    assert_eq!(
        url_decode(&trusted.get("GetRoleResult/Role/AssumeRolePolicyDocument")),
        new_trust
    );

    h.admin("DeleteRole", &[("RoleName", "deployer")])
        .await
        .ok();
    let gone = h.admin("GetRole", &[("RoleName", "deployer")]).await;
    assert_eq!(
        gone.expect_error(404, "NoSuchEntity"),
        "The role with name deployer cannot be found."
    );
}

/// Trust policies are validated for grammar, size and principals; role
/// parameters for their forms.
#[tokio::test]
async fn role_errors() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "exists"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    let with_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let without_principal =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#;
    let missing_role = trust_naming("arn:aws:iam::123456789012:role/ghost");
    let missing_user = trust_naming("arn:aws:iam::123456789012:user/ghost");
    let existing_role = trust_naming("arn:aws:iam::123456789012:role/exists");
    let huge = trust_naming(&format!(
        "arn:aws:iam::123456789012:role/{}",
        "x".repeat(2100)
    ));
    let cases: &[(&str, &str, u16, &str, Option<String>)] = &[
        (
            "exists",
            TRUST,
            409,
            "EntityAlreadyExists",
            Some("Role with name exists already exists.".to_owned()),
        ),
        (
            "EXISTS",
            TRUST,
            409,
            "EntityAlreadyExists",
            Some("Role with name EXISTS already exists.".to_owned()),
        ),
        (
            "r1",
            "{not json",
            400,
            "MalformedPolicyDocument",
            Some("This policy contains invalid Json".to_owned()),
        ),
        (
            "r1",
            with_resource,
            400,
            "MalformedPolicyDocument",
            Some("Has prohibited field Resource".to_owned()),
        ),
        (
            "r1",
            without_principal,
            400,
            "MalformedPolicyDocument",
            None,
        ),
        (
            "r1",
            &missing_role,
            400,
            "MalformedPolicyDocument",
            Some(
                "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:role/ghost\""
                    .to_owned(),
            ),
        ),
        (
            "r1",
            &missing_user,
            400,
            "MalformedPolicyDocument",
            Some(
                "Invalid principal in policy: \"AWS\":\"arn:aws:iam::123456789012:user/ghost\""
                    .to_owned(),
            ),
        ),
        (
            "r1",
            &huge,
            409,
            "LimitExceeded",
            Some("Cannot exceed quota for ACLSizePerRole: 2048".to_owned()),
        ),
        ("bad name", TRUST, 400, "ValidationError", None),
    ];
    for (name, document, status, code, message) in cases {
        let reply = h
            .admin(
                "CreateRole",
                &[("RoleName", name), ("AssumeRolePolicyDocument", document)],
            )
            .await;
        let got = reply.expect_error(*status, code);
        if let Some(message) = message {
            assert_eq!(&got, message, "{name}");
        }
    }
    // A role naming an existing role is accepted.
    h.admin(
        "CreateRole",
        &[
            ("RoleName", "r2"),
            ("AssumeRolePolicyDocument", &existing_role),
        ],
    )
    .await
    .ok();
    let others: &[(&str, Params<'_>, u16, &str)] = &[
        (
            "CreateRole",
            &[
                ("RoleName", "r3"),
                ("AssumeRolePolicyDocument", TRUST),
                ("MaxSessionDuration", "100"),
            ],
            400,
            "ValidationError",
        ),
        (
            "CreateRole",
            &[
                ("RoleName", "r3"),
                ("AssumeRolePolicyDocument", TRUST),
                ("MaxSigninSessionDuration", "7200"),
            ],
            400,
            "InvalidInput",
        ),
        (
            "UpdateRole",
            &[("RoleName", "ghost"), ("Description", "x")],
            404,
            "NoSuchEntity",
        ),
        (
            "UpdateAssumeRolePolicy",
            &[("RoleName", "exists"), ("PolicyDocument", "[]")],
            400,
            "MalformedPolicyDocument",
        ),
        (
            "UpdateAssumeRolePolicy",
            &[("RoleName", "ghost"), ("PolicyDocument", TRUST)],
            404,
            "NoSuchEntity",
        ),
        ("DeleteRole", &[("RoleName", "ghost")], 404, "NoSuchEntity"),
        (
            "ListRoleTags",
            &[("RoleName", "ghost")],
            404,
            "NoSuchEntity",
        ),
        (
            "ListInstanceProfilesForRole",
            &[("RoleName", "ghost")],
            404,
            "NoSuchEntity",
        ),
    ];
    for (action, params, status, code) in others {
        h.admin(action, params).await.expect_error(*status, code);
    }
    h.admin("GetRole", &[("RoleName", "r3")])
        .await
        .expect_error(404, "NoSuchEntity");
}

/// DeleteRole refuses while policies are attached or inline, with AWS's
/// texts; a permissions boundary does not block it.
#[tokio::test]
async fn delete_role_conflicts() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    let arn = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "read"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    h.admin(
        "AttachRolePolicy",
        &[("RoleName", "app"), ("PolicyArn", &arn)],
    )
    .await
    .ok();
    h.admin(
        "PutRolePolicy",
        &[
            ("RoleName", "app"),
            ("PolicyName", "inline"),
            ("PolicyDocument", READ_S3),
        ],
    )
    .await
    .ok();
    h.admin(
        "PutRolePermissionsBoundary",
        &[("RoleName", "app"), ("PermissionsBoundary", &arn)],
    )
    .await
    .ok();
    let steps: [(&str, Params<'_>, &str); 2] = [
        (
            "DetachRolePolicy",
            &[("RoleName", "app"), ("PolicyArn", &arn)],
            "Cannot delete entity, must detach all policies first.",
        ),
        (
            "DeleteRolePolicy",
            &[("RoleName", "app"), ("PolicyName", "inline")],
            "Cannot delete entity, must delete policies first.",
        ),
    ];
    for (remove, params, message) in steps {
        let refused = h.admin("DeleteRole", &[("RoleName", "app")]).await;
        assert_eq!(refused.expect_error(409, "DeleteConflict"), message);
        h.admin(remove, params).await.ok();
    }
    h.admin("DeleteRole", &[("RoleName", "app")]).await.ok();
}

/// Role tags and boundary: set, shown by GetRole, absent from ListRoles,
/// removed.
#[tokio::test]
async fn role_tags_and_boundary() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "tagged"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    h.admin(
        "TagRole",
        &[
            ("RoleName", "tagged"),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "prod"),
            ("Tags.member.2.Key", "cost"),
            ("Tags.member.2.Value", "42"),
        ],
    )
    .await
    .ok();
    let tags = h
        .admin("ListRoleTags", &[("RoleName", "tagged")])
        .await
        .ok();
    assert_eq!(
        tags.texts("ListRoleTagsResult/Tags/member/Key"),
        ["cost", "env"]
    );
    assert_eq!(tags.get("ListRoleTagsResult/IsTruncated"), "false");
    h.admin(
        "UntagRole",
        &[("RoleName", "tagged"), ("TagKeys.member.1", "cost")],
    )
    .await
    .ok();
    let arn = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "limit"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    h.admin(
        "PutRolePermissionsBoundary",
        &[("RoleName", "tagged"), ("PermissionsBoundary", &arn)],
    )
    .await
    .ok();
    let got = h.admin("GetRole", &[("RoleName", "tagged")]).await.ok();
    assert_eq!(got.texts("GetRoleResult/Role/Tags/member/Key"), ["env"]);
    assert_eq!(
        got.get("GetRoleResult/Role/PermissionsBoundary/PermissionsBoundaryArn"),
        arn
    );
    let listed = h.admin("ListRoles", &[]).await.ok();
    assert!(
        listed
            .text("ListRolesResult/Roles/member/PermissionsBoundary")
            .is_none()
    );
    h.admin("DeleteRolePermissionsBoundary", &[("RoleName", "tagged")])
        .await
        .ok();
    let cleared = h.admin("GetRole", &[("RoleName", "tagged")]).await.ok();
    assert!(
        cleared
            .text("GetRoleResult/Role/PermissionsBoundary")
            .is_none()
    );
    let missing = h
        .admin(
            "PutRolePermissionsBoundary",
            &[
                ("RoleName", "tagged"),
                (
                    "PermissionsBoundary",
                    "arn:aws:iam::aws:policy/NoSuchManagedPolicy",
                ),
            ],
        )
        .await;
    missing.expect_error(404, "NoSuchEntity");

    let profiles = h
        .admin("ListInstanceProfilesForRole", &[("RoleName", "tagged")])
        .await
        .ok();
    assert!(
        profiles
            .root
            .find("ListInstanceProfilesForRoleResult/InstanceProfiles")
            .is_some_and(|node| node.children.is_empty())
    );
    assert_eq!(
        profiles.get("ListInstanceProfilesForRoleResult/IsTruncated"),
        "false"
    );
}

/// Inline policies of roles and users: put (replace), get with the document
/// URL-encoded, list in pages, delete; size limits as AWS words them.
#[tokio::test]
async fn inline_policies() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "worker"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    h.admin("CreateUser", &[("UserName", "ivy")]).await.ok();
    for (holder, holder_name, kind) in [("RoleName", "worker", "Role"), ("UserName", "ivy", "User")]
    {
        for policy in ["b", "a", "c"] {
            h.admin(
                &format!("Put{kind}Policy"),
                &[
                    (holder, holder_name),
                    ("PolicyName", policy),
                    ("PolicyDocument", READ_S3),
                ],
            )
            .await
            .ok();
        }
        let pretty = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Deny\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\n}";
        h.admin(
            &format!("Put{kind}Policy"),
            &[
                (holder, holder_name),
                ("PolicyName", "a"),
                ("PolicyDocument", pretty),
            ],
        )
        .await
        .ok();
        let got = h
            .admin(
                &format!("Get{kind}Policy"),
                &[(holder, holder_name), ("PolicyName", "a")],
            )
            .await
            .ok();
        let result = format!("Get{kind}PolicyResult");
        assert_eq!(got.get(&format!("{result}/{holder}")), holder_name);
        assert_eq!(got.get(&format!("{result}/PolicyName")), "a");
        let raw = got.get(&format!("{result}/PolicyDocument"));
        assert!(raw.starts_with("%7B%0A%20%20%22Version"), "{raw}");
        assert_eq!(url_decode(&raw), pretty);

        let list = format!("List{kind}Policies");
        let first = h
            .admin(&list, &[(holder, holder_name), ("MaxItems", "2")])
            .await
            .ok();
        assert_eq!(
            first.texts(&format!("{list}Result/PolicyNames/member")),
            ["a", "b"]
        );
        let marker = first.get(&format!("{list}Result/Marker"));
        let second = h
            .admin(&list, &[(holder, holder_name), ("Marker", &marker)])
            .await
            .ok();
        assert_eq!(
            second.texts(&format!("{list}Result/PolicyNames/member")),
            ["c"]
        );

        h.admin(
            &format!("Delete{kind}Policy"),
            &[(holder, holder_name), ("PolicyName", "b")],
        )
        .await
        .ok();
        let missing = h
            .admin(
                &format!("Get{kind}Policy"),
                &[(holder, holder_name), ("PolicyName", "b")],
            )
            .await;
        assert_eq!(
            missing.expect_error(404, "NoSuchEntity"),
            format!(
                "The {} policy with name b cannot be found.",
                kind.to_lowercase()
            )
        );
        h.admin(
            &format!("Delete{kind}Policy"),
            &[(holder, holder_name), ("PolicyName", "b")],
        )
        .await
        .expect_error(404, "NoSuchEntity");
        let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        h.admin(
            &format!("Put{kind}Policy"),
            &[
                (holder, holder_name),
                ("PolicyName", "p"),
                ("PolicyDocument", with_principal),
            ],
        )
        .await
        .expect_error(400, "MalformedPolicyDocument");
    }

    // Aggregate sizes: user 2,048, role 10,240 (whitespace outside strings
    // not counted), checked across the holder's inline policies.
    let sized = |n: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#,
            "A".repeat(n)
        )
    };
    h.admin(
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "big"),
            ("PolicyDocument", &sized(1500)),
        ],
    )
    .await
    .ok();
    let over = h
        .admin(
            "PutUserPolicy",
            &[
                ("UserName", "ivy"),
                ("PolicyName", "bigger"),
                ("PolicyDocument", &sized(400)),
            ],
        )
        .await;
    assert_eq!(
        over.expect_error(409, "LimitExceeded"),
        "Maximum policy size of 2048 bytes exceeded for user ivy"
    );
    // Replacing the big one is measured without its old text.
    h.admin(
        "PutUserPolicy",
        &[
            ("UserName", "ivy"),
            ("PolicyName", "big"),
            ("PolicyDocument", &sized(1600)),
        ],
    )
    .await
    .ok();
    for i in 0..4 {
        h.admin(
            "PutRolePolicy",
            &[
                ("RoleName", "worker"),
                ("PolicyName", &format!("big{i}")),
                ("PolicyDocument", &sized(2400)),
            ],
        )
        .await
        .ok();
    }
    let over = h
        .admin(
            "PutRolePolicy",
            &[
                ("RoleName", "worker"),
                ("PolicyName", "big4"),
                ("PolicyDocument", &sized(2400)),
            ],
        )
        .await;
    assert_eq!(
        over.expect_error(409, "LimitExceeded"),
        "Maximum policy size of 10240 bytes exceeded for role worker"
    );
}

/// A caller without permission cannot create or read roles.
#[tokio::test]
async fn roles_need_permission() {
    let h = Harness::new();
    let nobody = h.nobody.clone();
    let reply = h
        .call(
            &nobody,
            "CreateRole",
            &[("RoleName", "x"), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
    let message = reply.expect_error(403, "AccessDenied");
    assert!(
        message.contains("iam:CreateRole on resource: arn:aws:iam::123456789012:role/x"),
        "{message}"
    );
    h.call(&nobody, "ListRoles", &[])
        .await
        .expect_error(403, "AccessDenied");
}

/// A concurrent write that wins between the pre-checks and the proposal is
/// refused by the state machine, and that refusal reaches the client with
/// AWS's code, status and text.
#[tokio::test]
async fn apply_time_refusals_reach_the_client() {
    let h = Harness::new();
    h.writer.interpose(Command::CreateRole {
        account_id: account(),
        role_name: "Race".to_owned(),
        path: "/".to_owned(),
        role_id: "AROAAAAAAAAAAAAAAAAAA".to_owned(),
        trust_policy: TRUST.to_owned(),
        description: String::new(),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Default::default(),
    });
    let lost = h
        .admin(
            "CreateRole",
            &[("RoleName", "race"), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
    assert_eq!(
        lost.expect_error(409, "EntityAlreadyExists"),
        "Role with name race already exists."
    );
    let got = h.admin("GetRole", &[("RoleName", "race")]).await.ok();
    assert_eq!(
        got.get("GetRoleResult/Role/RoleId"),
        "AROAAAAAAAAAAAAAAAAAA"
    );

    h.writer.interpose(Command::DeleteRole {
        account_id: account(),
        role_name: "Race".to_owned(),
    });
    let vanished = h
        .admin(
            "UpdateRoleDescription",
            &[("RoleName", "race"), ("Description", "x")],
        )
        .await;
    assert_eq!(
        vanished.expect_error(404, "NoSuchEntity"),
        "The role with name race cannot be found."
    );
}
