//! OIDC and SAML providers, virtual MFA devices, the account summary and
//! account isolation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use meridian_core::config::command::Command;
use meridian_core::keyring::{SealedSecret, SecretPurpose};

use crate::support::{ALLOW_ALL, Harness, NOW, Params, READ_S3, TRUST, other_account};

const OIDC_ARN: &str = "arn:aws:iam::123456789012:oidc-provider/token.example.com/tenant";
const THUMB_A: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const THUMB_B: &str = "0123456789abcdef0123456789abcdef01234567";

/// SAML metadata of at least 1,000 characters, with the test IdP's signing
/// certificate (metadata without a usable one is refused).
fn metadata(entity: &str) -> String {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../meridian-core/tests/fixtures/saml/idp-rsa.crt"
    ))
    .expect("test IdP certificate");
    let cert: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut text = format!(
        r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
    );
    while text.len() < 1100 {
        text.push_str("<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>");
    }
    text.push_str("</md:IDPSSODescriptor></md:EntityDescriptor>");
    text
}

/// An OIDC provider through its whole CRUD and tag life, and its errors.
#[tokio::test]
async fn oidc_providers() {
    let h = Harness::new();
    let created = h
        .admin(
            "CreateOpenIDConnectProvider",
            &[
                ("Url", "https://token.example.com/tenant"),
                ("ClientIDList.member.1", "sts.amazonaws.com"),
                ("ThumbprintList.member.1", THUMB_A),
                ("Tags.member.1.Key", "idp"),
                ("Tags.member.1.Value", "ci"),
            ],
        )
        .await
        .ok();
    assert_eq!(
        created.get("CreateOpenIDConnectProviderResult/OpenIDConnectProviderArn"),
        OIDC_ARN
    );
    assert_eq!(
        created.texts("CreateOpenIDConnectProviderResult/Tags/member/Key"),
        ["idp"]
    );
    let got = h
        .admin(
            "GetOpenIDConnectProvider",
            &[("OpenIDConnectProviderArn", OIDC_ARN)],
        )
        .await
        .ok();
    assert_eq!(
        got.get("GetOpenIDConnectProviderResult/Url"),
        "token.example.com/tenant"
    );
    assert_eq!(
        got.texts("GetOpenIDConnectProviderResult/ClientIDList/member"),
        ["sts.amazonaws.com"]
    );
    assert_eq!(
        got.texts("GetOpenIDConnectProviderResult/ThumbprintList/member"),
        [THUMB_A]
    );
    assert_eq!(
        got.get("GetOpenIDConnectProviderResult/CreateDate"),
        "2026-11-26T05:08:28Z"
    );
    let listed = h.admin("ListOpenIDConnectProviders", &[]).await.ok();
    assert_eq!(
        listed.texts("ListOpenIDConnectProvidersResult/OpenIDConnectProviderList/member/Arn"),
        [OIDC_ARN]
    );

    let arn = ("OpenIDConnectProviderArn", OIDC_ARN);
    let writes: &[(&str, Params<'_>)] = &[
        (
            "AddClientIDToOpenIDConnectProvider",
            &[arn, ("ClientID", "my-app")],
        ),
        (
            "AddClientIDToOpenIDConnectProvider",
            &[arn, ("ClientID", "my-app")],
        ),
        (
            "RemoveClientIDFromOpenIDConnectProvider",
            &[arn, ("ClientID", "sts.amazonaws.com")],
        ),
        (
            "UpdateOpenIDConnectProviderThumbprint",
            &[arn, ("ThumbprintList.member.1", THUMB_B)],
        ),
        (
            "TagOpenIDConnectProvider",
            &[
                arn,
                ("Tags.member.1.Key", "env"),
                ("Tags.member.1.Value", "prod"),
            ],
        ),
        (
            "UntagOpenIDConnectProvider",
            &[arn, ("TagKeys.member.1", "idp")],
        ),
    ];
    for (action, params) in writes {
        h.admin(action, params).await.ok();
    }
    let changed = h.admin("GetOpenIDConnectProvider", &[arn]).await.ok();
    assert_eq!(
        changed.texts("GetOpenIDConnectProviderResult/ClientIDList/member"),
        ["my-app"]
    );
    assert_eq!(
        changed.texts("GetOpenIDConnectProviderResult/ThumbprintList/member"),
        [THUMB_B]
    );
    let tags = h.admin("ListOpenIDConnectProviderTags", &[arn]).await.ok();
    assert_eq!(
        tags.texts("ListOpenIDConnectProviderTagsResult/Tags/member/Key"),
        ["env"]
    );

    let six: Vec<(String, String)> = (1..=6)
        .map(|i| (format!("ThumbprintList.member.{i}"), THUMB_A.to_owned()))
        .collect();
    let mut six_params: Vec<(&str, &str)> = vec![("Url", "https://other.example.com")];
    six_params.extend(six.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let not_hex = "zz99a48a9960b14926bb7f3b02e22da2b0ab7280";
    let errors: &[(&str, Params<'_>, u16, &str, Option<String>)] = &[
        (
            "CreateOpenIDConnectProvider",
            &[("Url", "https://token.example.com/tenant")],
            409,
            "EntityAlreadyExists",
            Some("Provider with url https://token.example.com/tenant already exists.".to_owned()),
        ),
        (
            "CreateOpenIDConnectProvider",
            &[("Url", "http://token.example.com")],
            400,
            "InvalidInput",
            Some("Invalid Open ID Connect Provider URL".to_owned()),
        ),
        (
            "CreateOpenIDConnectProvider",
            &[("Url", "https://token.example.com:8443")],
            400,
            "InvalidInput",
            Some("Invalid Open ID Connect Provider URL".to_owned()),
        ),
        (
            "CreateOpenIDConnectProvider",
            &six_params,
            400,
            "InvalidInput",
            Some("Thumbprint list must contain fewer than 5 entries.".to_owned()),
        ),
        (
            "CreateOpenIDConnectProvider",
            &[
                ("Url", "https://other.example.com"),
                ("ThumbprintList.member.1", not_hex),
            ],
            400,
            "InvalidInput",
            None,
        ),
        (
            "GetOpenIDConnectProvider",
            &[(
                "OpenIDConnectProviderArn",
                "arn:aws:iam::123456789012:oidc-provider/missing.example.com",
            )],
            404,
            "NoSuchEntity",
            Some(
                "OpenIDConnect Provider not found for arn arn:aws:iam::123456789012:oidc-provider/missing.example.com"
                    .to_owned(),
            ),
        ),
    ];
    for (action, params, status, code, message) in errors {
        let got = h.admin(action, params).await.expect_error(*status, code);
        if let Some(message) = message {
            assert_eq!(&got, message, "{action}");
        }
    }
    h.admin("DeleteOpenIDConnectProvider", &[arn]).await.ok();
    h.admin("GetOpenIDConnectProvider", &[arn])
        .await
        .expect_error(404, "NoSuchEntity");
    h.admin("DeleteOpenIDConnectProvider", &[arn])
        .await
        .expect_error(404, "NoSuchEntity");
}

/// A SAML provider stores its metadata as uploaded; non-XML and settings the
/// model cannot hold are refused.
#[tokio::test]
async fn saml_providers() {
    let h = Harness::new();
    let document = metadata("https://idp.example.com/saml");
    let created = h
        .admin(
            "CreateSAMLProvider",
            &[("Name", "corp"), ("SAMLMetadataDocument", &document)],
        )
        .await
        .ok();
    let arn = created.get("CreateSAMLProviderResult/SAMLProviderArn");
    assert_eq!(arn, "arn:aws:iam::123456789012:saml-provider/corp");
    let got = h
        .admin("GetSAMLProvider", &[("SAMLProviderArn", &arn)])
        .await
        .ok();
    assert_eq!(
        got.get("GetSAMLProviderResult/SAMLMetadataDocument"),
        document
    );
    assert_eq!(
        got.get("GetSAMLProviderResult/CreateDate"),
        "2026-11-26T05:08:28Z"
    );
    let listed = h.admin("ListSAMLProviders", &[]).await.ok();
    assert_eq!(
        listed.texts("ListSAMLProvidersResult/SAMLProviderList/member/Arn"),
        [arn.as_str()]
    );

    let replacement = metadata("https://idp2.example.com/saml");
    let updated = h
        .admin(
            "UpdateSAMLProvider",
            &[
                ("SAMLProviderArn", &arn),
                ("SAMLMetadataDocument", &replacement),
            ],
        )
        .await
        .ok();
    assert_eq!(updated.get("UpdateSAMLProviderResult/SAMLProviderArn"), arn);
    let got = h
        .admin("GetSAMLProvider", &[("SAMLProviderArn", &arn)])
        .await
        .ok();
    assert_eq!(
        got.get("GetSAMLProviderResult/SAMLMetadataDocument"),
        replacement
    );

    h.admin(
        "TagSAMLProvider",
        &[
            ("SAMLProviderArn", &arn),
            ("Tags.member.1.Key", "dept"),
            ("Tags.member.1.Value", "it"),
        ],
    )
    .await
    .ok();
    let tags = h
        .admin("ListSAMLProviderTags", &[("SAMLProviderArn", &arn)])
        .await
        .ok();
    assert_eq!(
        tags.texts("ListSAMLProviderTagsResult/Tags/member/Key"),
        ["dept"]
    );
    h.admin(
        "UntagSAMLProvider",
        &[("SAMLProviderArn", &arn), ("TagKeys.member.1", "dept")],
    )
    .await
    .ok();

    let json = format!("{{\"metadata\":\"{}\"}}", "x".repeat(1000));
    // The same metadata without its signing certificate.
    let keyless = {
        let start = document.find("<md:KeyDescriptor").unwrap();
        let end = document.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
        let mut text = document.clone();
        text.replace_range(start..end, "");
        text.replace(
            "</md:IDPSSODescriptor>",
            &format!(
                "{}</md:IDPSSODescriptor>",
                "<md:NameIDFormat>x</md:NameIDFormat>".repeat(30)
            ),
        )
    };
    let errors: &[(&str, Params<'_>, u16, &str)] = &[
        (
            "CreateSAMLProvider",
            &[("Name", "keyless"), ("SAMLMetadataDocument", &keyless)],
            400,
            "InvalidInput",
        ),
        (
            "CreateSAMLProvider",
            &[("Name", "corp"), ("SAMLMetadataDocument", &document)],
            409,
            "EntityAlreadyExists",
        ),
        (
            "CreateSAMLProvider",
            &[("Name", "json"), ("SAMLMetadataDocument", &json)],
            400,
            "InvalidInput",
        ),
        (
            "CreateSAMLProvider",
            &[("Name", "short"), ("SAMLMetadataDocument", "<x/>")],
            400,
            "ValidationError",
        ),
        (
            "CreateSAMLProvider",
            &[
                ("Name", "enc"),
                ("SAMLMetadataDocument", &document),
                ("AssertionEncryptionMode", "Required"),
            ],
            400,
            "InvalidInput",
        ),
        (
            "CreateSAMLProvider",
            &[("Name", "bad name"), ("SAMLMetadataDocument", &document)],
            400,
            "ValidationError",
        ),
        (
            "GetSAMLProvider",
            &[(
                "SAMLProviderArn",
                "arn:aws:iam::123456789012:saml-provider/missing",
            )],
            404,
            "NoSuchEntity",
        ),
    ];
    for (action, params, status, code) in errors {
        h.admin(action, params).await.expect_error(*status, code);
    }
    h.admin("DeleteSAMLProvider", &[("SAMLProviderArn", &arn)])
        .await
        .ok();
    let empty = h.admin("ListSAMLProviders", &[]).await.ok();
    assert!(
        empty
            .texts("ListSAMLProvidersResult/SAMLProviderList/member/Arn")
            .is_empty()
    );
}

/// Decodes RFC 4648 base32 (no padding).
fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'2'..=b'7' => u32::from(c - b'2') + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    out
}

/// A virtual MFA device: the seed is returned once, base32 inside base64,
/// and what was proposed is that seed sealed under the KEK for the serial.
/// Enabling is the federation work's (NotImplemented here); a device enabled
/// through the state machine is listed, blocks deletion, and is deactivated.
#[tokio::test]
async fn virtual_mfa_devices() {
    let h = Harness::new();
    let created = h
        .admin(
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "phone"), ("Path", "/staff/")],
        )
        .await
        .ok();
    let serial = created.get("CreateVirtualMFADeviceResult/VirtualMFADevice/SerialNumber");
    assert_eq!(serial, "arn:aws:iam::123456789012:mfa/staff/phone");
    let encoded = created.get("CreateVirtualMFADeviceResult/VirtualMFADevice/Base32StringSeed");
    let seed_text = String::from_utf8(
        BASE64
            .decode(&encoded)
            .unwrap_or_else(|e| panic!("{e}: {encoded}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seed_text.len(), 32, "{seed_text}");
    let seed = base32_decode(&seed_text);
    assert_eq!(seed.len(), 20);

    let sealed = h
        .writer
        .submitted()
        .into_iter()
        .find_map(|request| match request.command {
            Command::CreateVirtualMfaDevice { sealed_seed, .. } => Some(sealed_seed),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no CreateVirtualMfaDevice proposed"));
    assert!(!format!("{:?}", h.writer.submitted()).contains(&seed_text));
    let opened = h
        .keys
        .kek()
        .open_secret(
            SecretPurpose::MfaSeed,
            serial.as_bytes(),
            &SealedSecret::from_bytes(sealed.0).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened.as_slice(), seed.as_slice());

    let duplicate = h
        .admin(
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "phone")],
        )
        .await;
    assert_eq!(
        duplicate.expect_error(409, "EntityAlreadyExists"),
        "MFADevice entity at the same path and name already exists."
    );
    // EnableMFADevice checks two consecutive codes of the seed: wrong,
    // reversed or far-apart codes are AWS's InvalidAuthenticationCode.
    let totp = meridian_core::totp::TotpSeed::new(&seed).unwrap_or_else(|e| panic!("{e}"));
    let step = meridian_core::totp::time_step(NOW);
    let code = |offset: u64| totp.code(step - offset).to_string();
    for (first, second) in [
        ("123456".to_owned(), "654321".to_owned()),
        (code(0), code(1)),
        (code(5), code(0)),
    ] {
        let refused = h
            .admin(
                "EnableMFADevice",
                &[
                    ("UserName", "admin"),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", &first),
                    ("AuthenticationCode2", &second),
                ],
            )
            .await;
        assert_eq!(
            refused.expect_error(403, "InvalidAuthenticationCode"),
            "Authentication code for device is not valid.",
            "{first} {second}"
        );
    }

    let unassigned = h
        .admin(
            "ListVirtualMFADevices",
            &[("AssignmentStatus", "Unassigned")],
        )
        .await
        .ok();
    assert_eq!(
        unassigned.texts("ListVirtualMFADevicesResult/VirtualMFADevices/member/SerialNumber"),
        [serial.as_str()]
    );

    // Enabled with two consecutive codes; the same codes cannot enable it
    // again (it is in use) nor be used twice.
    h.admin("CreateUser", &[("UserName", "kim")]).await.ok();
    let enable = |user: &'static str, first: String, second: String| {
        let serial = serial.clone();
        let h = &h;
        async move {
            h.admin(
                "EnableMFADevice",
                &[
                    ("UserName", user),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", &first),
                    ("AuthenticationCode2", &second),
                ],
            )
            .await
        }
    };
    enable("kim", code(1), code(0)).await.ok();
    assert!(h.writer.submitted().iter().any(|request| matches!(
        &request.command,
        Command::EnableMfaDevice { user_name, serial_number, .. }
            if user_name == "kim" && *serial_number == serial
    )));
    assert_eq!(
        enable("admin", code(1), code(0))
            .await
            .expect_error(409, "EntityAlreadyExists"),
        "MFA Device is already in use."
    );
    let assigned = h
        .admin("ListVirtualMFADevices", &[("AssignmentStatus", "Assigned")])
        .await
        .ok();
    assert_eq!(
        assigned.texts("ListVirtualMFADevicesResult/VirtualMFADevices/member/User/UserName"),
        ["kim"]
    );
    assert_eq!(
        assigned.texts("ListVirtualMFADevicesResult/VirtualMFADevices/member/EnableDate"),
        ["2026-11-26T05:08:28Z"]
    );
    let devices = h.admin("ListMFADevices", &[("UserName", "kim")]).await.ok();
    assert_eq!(
        devices.texts("ListMFADevicesResult/MFADevices/member/SerialNumber"),
        [serial.as_str()]
    );
    h.admin("DeleteVirtualMFADevice", &[("SerialNumber", &serial)])
        .await
        .expect_error(409, "DeleteConflict");
    let user_conflict = h.admin("DeleteUser", &[("UserName", "kim")]).await;
    assert_eq!(
        user_conflict.expect_error(409, "DeleteConflict"),
        "Cannot delete entity, must delete MFA device first."
    );
    h.admin(
        "DeactivateMFADevice",
        &[("UserName", "admin"), ("SerialNumber", &serial)],
    )
    .await
    .expect_error(404, "NoSuchEntity");
    h.admin(
        "DeactivateMFADevice",
        &[("UserName", "kim"), ("SerialNumber", &serial)],
    )
    .await
    .ok();
    let none = h.admin("ListMFADevices", &[("UserName", "kim")]).await.ok();
    assert!(
        none.texts("ListMFADevicesResult/MFADevices/member/SerialNumber")
            .is_empty()
    );
    h.admin("DeleteVirtualMFADevice", &[("SerialNumber", &serial)])
        .await
        .ok();
    let gone = h
        .admin("DeleteVirtualMFADevice", &[("SerialNumber", &serial)])
        .await;
    assert_eq!(
        gone.expect_error(404, "NoSuchEntity"),
        format!("VirtualMFADevice with serial number {serial} doesn't exist.")
    );
    h.admin("DeleteUser", &[("UserName", "kim")]).await.ok();
}

/// GetAccountSummary counts what the account holds and reports the quotas
/// and the STS token version, which SetSecurityTokenServicePreferences sets.
#[tokio::test]
async fn account_summary_and_token_preferences() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    h.admin(
        "CreatePolicy",
        &[("PolicyName", "p"), ("PolicyDocument", READ_S3)],
    )
    .await
    .ok();
    let summary = |reply: &crate::support::Reply, key: &str| -> String {
        let entries = reply.root.all("GetAccountSummaryResult/SummaryMap/entry");
        let found = entries
            .into_iter()
            .find(|entry| entry.find("key").is_some_and(|node| node.text == key));
        found
            .and_then(|entry| entry.find("value"))
            .map(|node| node.text.clone())
            .unwrap_or_else(|| panic!("no {key} in {}", reply.body))
    };
    let before = h.admin("GetAccountSummary", &[]).await.ok();
    let expected = [
        ("Users", "2"),
        ("Roles", "1"),
        ("Policies", "1"),
        ("PolicyVersionsInUse", "1"),
        ("UsersQuota", "5000"),
        ("RolesQuota", "1000"),
        ("PoliciesQuota", "1500"),
        ("AccessKeysPerUserQuota", "2"),
        ("VersionsPerPolicyQuota", "5"),
        ("PolicySizeQuota", "6144"),
        ("UserPolicySizeQuota", "2048"),
        ("RolePolicySizeQuota", "10240"),
        ("AssumeRolePolicySizeQuota", "2048"),
        ("AttachedPoliciesPerRoleQuota", "10"),
        ("Providers", "0"),
        ("MFADevices", "0"),
        ("GlobalEndpointTokenVersion", "1"),
    ];
    for (key, value) in expected {
        assert_eq!(summary(&before, key), value, "{key}");
    }
    h.admin(
        "SetSecurityTokenServicePreferences",
        &[("GlobalEndpointTokenVersion", "v2Token")],
    )
    .await
    .ok();
    let after = h.admin("GetAccountSummary", &[]).await.ok();
    assert_eq!(summary(&after, "GlobalEndpointTokenVersion"), "2");
    h.admin(
        "SetSecurityTokenServicePreferences",
        &[("GlobalEndpointTokenVersion", "v3Token")],
    )
    .await
    .expect_error(400, "ValidationError");
    let nobody = h.nobody.clone();
    h.call(&nobody, "GetAccountSummary", &[])
        .await
        .expect_error(403, "AccessDenied");
}

/// Accounts are isolated: another account's administrator sees and changes
/// only its own entities.
#[tokio::test]
async fn accounts_are_isolated() {
    let h = Harness::new();
    h.admin(
        "CreateRole",
        &[("RoleName", "mine"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await
    .ok();
    let policy = h
        .admin(
            "CreatePolicy",
            &[("PolicyName", "mine"), ("PolicyDocument", READ_S3)],
        )
        .await
        .ok()
        .get("CreatePolicyResult/Policy/Arn");
    let other = h.seed_user(other_account(), "root-admin", Some(ALLOW_ALL));
    let roles = h.call(&other, "ListRoles", &[]).await.ok();
    assert!(
        roles
            .texts("ListRolesResult/Roles/member/RoleName")
            .is_empty()
    );
    h.call(&other, "GetRole", &[("RoleName", "mine")])
        .await
        .expect_error(404, "NoSuchEntity");
    h.call(&other, "DeleteRole", &[("RoleName", "mine")])
        .await
        .expect_error(404, "NoSuchEntity");
    let users = h.call(&other, "ListUsers", &[]).await.ok();
    assert_eq!(
        users.texts("ListUsersResult/Users/member/UserName"),
        ["root-admin"]
    );
    // A policy of another account is neither readable nor attachable: IAM
    // reaches only the caller's account, whatever its policies allow.
    let message = h
        .call(&other, "GetPolicy", &[("PolicyArn", &policy)])
        .await
        .expect_error(403, "AccessDenied");
    assert!(
        message.contains("because no resource-based policy allows the iam:GetPolicy action"),
        "{message}"
    );
    let attach = h
        .call(
            &other,
            "AttachUserPolicy",
            &[("UserName", "root-admin"), ("PolicyArn", &policy)],
        )
        .await;
    attach.expect_error(404, "NoSuchEntity");
    h.admin("GetRole", &[("RoleName", "mine")]).await.ok();
}
