//! Account-wide IAM operations: `GetAccountSummary` and
//! `SetSecurityTokenServicePreferences`.
//!
//! The summary reports the counts of what the account holds and the quotas
//! the state machine enforces (`meridian_core::config::limits`), under AWS's
//! key names, plus `GlobalEndpointTokenVersion` (1 or 2) as set by
//! `SetSecurityTokenServicePreferences`. Entities the model does not have
//! (groups, server and signing certificates, instance profiles, root access
//! keys) count zero, with AWS's default quotas.

use meridian_core::config::command::Command;
use meridian_core::config::limits;
use meridian_core::policy::kind::PolicyKind;

use crate::error::ApiError;
use crate::iam::render::count;
use crate::iam::{Call, IamHandler};
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("GetAccountSummary", |call| {
        Box::pin(get_account_summary(call))
    }),
    ("SetSecurityTokenServicePreferences", |call| {
        Box::pin(set_security_token_service_preferences(call))
    }),
];

async fn get_account_summary(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    let versions_in_use: usize = account
        .policies
        .values()
        .map(|policy| policy.versions.len())
        .sum();
    let devices_in_use = account
        .mfa_devices
        .values()
        .filter(|device| device.user.is_some())
        .count();
    let entries: Vec<(&str, i64)> = vec![
        ("Users", count(account.users.len())),
        ("UsersQuota", count(limits::USERS_PER_ACCOUNT)),
        ("Groups", 0),
        ("GroupsQuota", 300),
        ("GroupsPerUserQuota", 10),
        (
            "GroupPolicySizeQuota",
            count(PolicyKind::GroupInline.default_limit()),
        ),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("Roles", count(account.roles.len())),
        ("RolesQuota", count(limits::ROLES_PER_ACCOUNT)),
        (
            "RolePolicySizeQuota",
            count(limits::ROLE_INLINE_POLICIES_SIZE),
        ),
        (
            "AssumeRolePolicySizeQuota",
            count(limits::TRUST_POLICY_SIZE),
        ),
        (
            "AttachedPoliciesPerRoleQuota",
            count(limits::ATTACHED_POLICIES_PER_ENTITY),
        ),
        (
            "UserPolicySizeQuota",
            count(limits::USER_INLINE_POLICIES_SIZE),
        ),
        (
            "AttachedPoliciesPerUserQuota",
            count(limits::ATTACHED_POLICIES_PER_ENTITY),
        ),
        (
            "AccessKeysPerUserQuota",
            count(limits::ACCESS_KEYS_PER_USER),
        ),
        ("SigningCertificatesPerUserQuota", 2),
        ("Policies", count(account.policies.len())),
        ("PoliciesQuota", count(limits::POLICIES_PER_ACCOUNT)),
        ("PolicySizeQuota", count(limits::MANAGED_POLICY_SIZE)),
        ("PolicyVersionsInUse", count(versions_in_use)),
        ("PolicyVersionsInUseQuota", 10_000),
        ("VersionsPerPolicyQuota", count(limits::VERSIONS_PER_POLICY)),
        (
            "Providers",
            count(account.oidc_providers.len() + account.saml_providers.len()),
        ),
        ("MFADevices", count(account.mfa_devices.len())),
        ("MFADevicesInUse", count(devices_in_use)),
        ("AccountMFAEnabled", 0),
        ("AccountAccessKeysPresent", 0),
        ("AccountSigningCertificatesPresent", 0),
        ("ServerCertificates", 0),
        ("ServerCertificatesQuota", 20),
        ("InstanceProfiles", 0),
        ("InstanceProfilesQuota", 1000),
        (
            "GlobalEndpointTokenVersion",
            i64::from(account.account.global_endpoint_token_version),
        ),
    ];
    let rendered: Vec<(&str, String)> = entries
        .into_iter()
        .map(|(key, value)| (key, value.to_string()))
        .collect();
    Ok(XmlResult::build(|w| {
        w.text_map(
            "SummaryMap",
            rendered.iter().map(|(key, value)| (*key, value.as_str())),
        );
    }))
}

async fn set_security_token_service_preferences(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let version = match call.required("GlobalEndpointTokenVersion")? {
        "v2Token" => 2,
        // The model's enum admits only v1Token and v2Token.
        _ => 1,
    };
    call.write(Command::SetTokenServicePreferences {
        account_id: *call.account_id(),
        global_endpoint_token_version: version,
    })
    .await?;
    Ok(XmlResult::empty())
}
