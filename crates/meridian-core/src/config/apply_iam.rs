//! Apply logic for the IAM commands: users and access keys, roles, inline and
//! managed policies, permissions boundaries, MFA devices, OIDC and SAML
//! providers, tags.
//!
//! Semantics follow IAM: names are unique case-insensitively per account,
//! deleting something that still has attachments is a `DeleteConflict`,
//! quotas are AWS's defaults (`crate::config::limits`). Every check runs
//! before the first change; the caller applies on a scratch copy-on-write
//! view, so a refusal leaves no trace.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::arn::Partition;
use crate::config::aws_managed;
use crate::config::command::{Command, PolicyHolder, Response, TagTarget};
use crate::config::error::{ConfigError, EntityKind};
use crate::config::limits;
use crate::config::model::{
    AccessKey, AccessKeyStatus, ManagedPolicy, MfaDevice, OidcProvider, PolicyDocument,
    PolicyVersion, Role, SamlProvider, Tags, User,
};
use crate::config::snapshot::{
    AccessKeyLocation, AccountConfig, ConfigSnapshot, split_iam_arn, split_provider_arn,
};
use crate::ids::AccountId;
use crate::policy::kind::PolicyKind;
use crate::saml::IdpMetadata;
use crate::time::Timestamp;

pub(crate) fn execute(
    view: &mut ConfigSnapshot,
    command: &Command,
    now: Timestamp,
) -> Result<Response, ConfigError> {
    let partition = view.partition.clone();
    match command {
        Command::CreateUser {
            account_id,
            user_name,
            path,
            user_id,
            permissions_boundary,
            tags,
        } => {
            limits::check_principal_name("UserName", user_name)?;
            limits::check_path(path)?;
            limits::check_unique_id("UserId", user_id, "AIDA")?;
            check_tags(tags)?;
            let account = account_mut(view, account_id)?;
            let key = user_name.to_ascii_lowercase();
            if account.users.contains_key(&key) {
                return Err(ConfigError::exists(EntityKind::User, user_name));
            }
            if account.users.len() >= limits::USERS_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "UsersPerAccount",
                    limits::USERS_PER_ACCOUNT,
                ));
            }
            let boundary = match permissions_boundary {
                Some(arn) => Some(resolve_attachable(account, &partition, arn)?),
                None => None,
            };
            let user = User {
                name: user_name.clone(),
                path: path.clone(),
                user_id: user_id.clone(),
                created_at: now,
                permissions_boundary: boundary,
                tags: tags.clone(),
                inline_policies: BTreeMap::new(),
                attached_policies: Default::default(),
                access_keys: BTreeMap::new(),
                mfa_devices: Default::default(),
            };
            let arn = user.arn(&partition, account_id);
            account.users.insert(key, Arc::new(user));
            Ok(Response::Created {
                arn,
                id: user_id.clone(),
            })
        }
        Command::UpdateUser {
            account_id,
            user_name,
            new_user_name,
            new_path,
        } => update_user(
            view,
            account_id,
            user_name,
            new_user_name.as_deref(),
            new_path.as_deref(),
        ),
        Command::DeleteUser {
            account_id,
            user_name,
        } => {
            let account = account_mut(view, account_id)?;
            let user = account
                .user(user_name)
                .ok_or_else(|| ConfigError::no_such(EntityKind::User, user_name))?;
            let blocker = if !user.access_keys.is_empty() {
                Some("access keys")
            } else if !user.inline_policies.is_empty() {
                Some("inline policies")
            } else if !user.attached_policies.is_empty() {
                Some("attached policies")
            } else if !user.mfa_devices.is_empty() {
                Some("MFA devices")
            } else {
                None
            };
            if let Some(what) = blocker {
                return Err(ConfigError::conflict(EntityKind::User, user_name, what));
            }
            account.users.remove(&user_name.to_ascii_lowercase());
            Ok(Response::Done)
        }
        Command::CreateAccessKey {
            account_id,
            user_name,
            access_key_id,
            sealed_secret,
        } => {
            limits::check_unique_id("AccessKeyId", access_key_id, "AKIA")?;
            if sealed_secret.0.is_empty() || sealed_secret.0.len() > 4096 {
                return Err(ConfigError::invalid(
                    "sealed secret must be 1 to 4096 bytes",
                ));
            }
            if view.access_keys.contains_key(access_key_id) {
                return Err(ConfigError::exists(EntityKind::AccessKey, access_key_id));
            }
            let user_key = user_name.to_ascii_lowercase();
            let user = user_mut(account_mut(view, account_id)?, user_name)?;
            if user.access_keys.len() >= limits::ACCESS_KEYS_PER_USER {
                return Err(ConfigError::limit(
                    "AccessKeysPerUser",
                    limits::ACCESS_KEYS_PER_USER,
                ));
            }
            user.access_keys.insert(
                access_key_id.clone(),
                AccessKey {
                    id: access_key_id.clone(),
                    status: AccessKeyStatus::Active,
                    created_at: now,
                    sealed_secret: sealed_secret.clone(),
                },
            );
            Arc::make_mut(&mut view.access_keys).insert(
                access_key_id.clone(),
                AccessKeyLocation {
                    account_id: *account_id,
                    user_key,
                },
            );
            Ok(Response::Created {
                arn: String::new(),
                id: access_key_id.clone(),
            })
        }
        Command::UpdateAccessKey {
            account_id,
            user_name,
            access_key_id,
            status,
        } => {
            let key = access_key_mut(view, account_id, user_name.as_deref(), access_key_id)?;
            key.status = *status;
            Ok(Response::Done)
        }
        Command::DeleteAccessKey {
            account_id,
            user_name,
            access_key_id,
        } => {
            access_key_mut(view, account_id, user_name.as_deref(), access_key_id)?;
            let user_key = view
                .access_keys
                .get(access_key_id)
                .map(|location| location.user_key.clone())
                .unwrap_or_default();
            if let Some(user) = account_mut(view, account_id)?.users.get_mut(&user_key) {
                Arc::make_mut(user).access_keys.remove(access_key_id);
            }
            Arc::make_mut(&mut view.access_keys).remove(access_key_id);
            Ok(Response::Done)
        }

        Command::CreateRole {
            account_id,
            role_name,
            path,
            role_id,
            trust_policy,
            description,
            max_session_duration,
            permissions_boundary,
            tags,
        } => {
            limits::check_principal_name("RoleName", role_name)?;
            limits::check_path(path)?;
            limits::check_unique_id("RoleId", role_id, "AROA")?;
            limits::check_description(description)?;
            check_tags(tags)?;
            let trust_policy = document(trust_policy, PolicyKind::Trust)?;
            let max_session_duration =
                max_session_duration.unwrap_or(limits::DEFAULT_MAX_SESSION_DURATION);
            check_max_session_duration(max_session_duration)?;
            let account = account_mut(view, account_id)?;
            let key = role_name.to_ascii_lowercase();
            if account.roles.contains_key(&key) {
                return Err(ConfigError::exists(EntityKind::Role, role_name));
            }
            if account.roles.len() >= limits::ROLES_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "RolesPerAccount",
                    limits::ROLES_PER_ACCOUNT,
                ));
            }
            let boundary = match permissions_boundary {
                Some(arn) => Some(resolve_attachable(account, &partition, arn)?),
                None => None,
            };
            let role = Role {
                name: role_name.clone(),
                path: path.clone(),
                role_id: role_id.clone(),
                created_at: now,
                trust_policy,
                description: description.clone(),
                max_session_duration,
                permissions_boundary: boundary,
                tags: tags.clone(),
                inline_policies: BTreeMap::new(),
                attached_policies: Default::default(),
            };
            let arn = role.arn(&partition, account_id);
            account.roles.insert(key, Arc::new(role));
            Ok(Response::Created {
                arn,
                id: role_id.clone(),
            })
        }
        Command::UpdateRole {
            account_id,
            role_name,
            description,
            max_session_duration,
        } => {
            if let Some(description) = description {
                limits::check_description(description)?;
            }
            if let Some(duration) = max_session_duration {
                check_max_session_duration(*duration)?;
            }
            let role = role_mut(account_mut(view, account_id)?, role_name)?;
            if let Some(description) = description {
                role.description = description.clone();
            }
            if let Some(duration) = max_session_duration {
                role.max_session_duration = *duration;
            }
            Ok(Response::Done)
        }
        Command::UpdateAssumeRolePolicy {
            account_id,
            role_name,
            document: text,
        } => {
            let trust_policy = document(text, PolicyKind::Trust)?;
            role_mut(account_mut(view, account_id)?, role_name)?.trust_policy = trust_policy;
            Ok(Response::Done)
        }
        Command::DeleteRole {
            account_id,
            role_name,
        } => {
            let account = account_mut(view, account_id)?;
            let role = account
                .role(role_name)
                .ok_or_else(|| ConfigError::no_such(EntityKind::Role, role_name))?;
            if !role.inline_policies.is_empty() {
                return Err(ConfigError::conflict(
                    EntityKind::Role,
                    role_name,
                    "inline policies",
                ));
            }
            if !role.attached_policies.is_empty() {
                return Err(ConfigError::conflict(
                    EntityKind::Role,
                    role_name,
                    "attached policies",
                ));
            }
            account.roles.remove(&role_name.to_ascii_lowercase());
            Ok(Response::Done)
        }

        Command::PutInlinePolicy {
            account_id,
            holder,
            policy_name,
            document: text,
        } => {
            limits::check_policy_name(policy_name)?;
            let (kind, limit) = match holder {
                PolicyHolder::User(_) => {
                    (PolicyKind::UserInline, limits::USER_INLINE_POLICIES_SIZE)
                }
                PolicyHolder::Role(_) => {
                    (PolicyKind::RoleInline, limits::ROLE_INLINE_POLICIES_SIZE)
                }
            };
            let policy = document(text, kind)?;
            let mut holder = holder_mut(account_mut(view, account_id)?, holder)?;
            let inline = holder.inline_policies();
            let others: usize = inline
                .iter()
                .filter(|(name, _)| *name != policy_name)
                .map(|(_, document)| limits::policy_size(document.as_str()))
                .sum();
            if others + limits::policy_size(text) > limit {
                return Err(ConfigError::PolicySizeExceeded { limit });
            }
            inline.insert(policy_name.clone(), policy);
            Ok(Response::Done)
        }
        Command::DeleteInlinePolicy {
            account_id,
            holder,
            policy_name,
        } => {
            let mut holder = holder_mut(account_mut(view, account_id)?, holder)?;
            holder
                .inline_policies()
                .remove(policy_name)
                .ok_or_else(|| ConfigError::no_such(EntityKind::InlinePolicy, policy_name))?;
            Ok(Response::Done)
        }
        Command::AttachPolicy {
            account_id,
            holder,
            policy_arn,
        } => {
            let account = account_mut(view, account_id)?;
            let canonical = resolve_attachable(account, &partition, policy_arn)?;
            let mut holder = holder_mut(account, holder)?;
            let attached = holder.attached_policies();
            if !attached.contains(&canonical)
                && attached.len() >= limits::ATTACHED_POLICIES_PER_ENTITY
            {
                return Err(ConfigError::limit(
                    "PolicyAttachmentsPerEntity",
                    limits::ATTACHED_POLICIES_PER_ENTITY,
                ));
            }
            attached.insert(canonical);
            Ok(Response::Done)
        }
        Command::DetachPolicy {
            account_id,
            holder,
            policy_arn,
        } => {
            let mut holder = holder_mut(account_mut(view, account_id)?, holder)?;
            let attached = holder.attached_policies();
            let found = attached
                .iter()
                .find(|arn| arn.eq_ignore_ascii_case(policy_arn))
                .cloned()
                .ok_or_else(|| ConfigError::no_such(EntityKind::Policy, policy_arn))?;
            attached.remove(&found);
            Ok(Response::Done)
        }
        Command::PutPermissionsBoundary {
            account_id,
            holder,
            policy_arn,
        } => {
            let account = account_mut(view, account_id)?;
            let canonical = resolve_attachable(account, &partition, policy_arn)?;
            *holder_mut(account, holder)?.boundary() = Some(canonical);
            Ok(Response::Done)
        }
        Command::DeletePermissionsBoundary { account_id, holder } => {
            *holder_mut(account_mut(view, account_id)?, holder)?.boundary() = None;
            Ok(Response::Done)
        }

        Command::CreatePolicy {
            account_id,
            policy_name,
            path,
            policy_id,
            document: text,
            description,
            tags,
        } => {
            limits::check_policy_name(policy_name)?;
            limits::check_path(path)?;
            limits::check_unique_id("PolicyId", policy_id, "ANPA")?;
            limits::check_description(description)?;
            check_tags(tags)?;
            let document = document(text, PolicyKind::Managed)?;
            let account = account_mut(view, account_id)?;
            let key = policy_name.to_ascii_lowercase();
            if account.policies.contains_key(&key) {
                return Err(ConfigError::exists(EntityKind::Policy, policy_name));
            }
            if account.policies.len() >= limits::POLICIES_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "PoliciesPerAccount",
                    limits::POLICIES_PER_ACCOUNT,
                ));
            }
            let policy = ManagedPolicy {
                name: policy_name.clone(),
                path: path.clone(),
                policy_id: policy_id.clone(),
                description: description.clone(),
                created_at: now,
                updated_at: now,
                default_version: 1,
                next_version: 2,
                versions: BTreeMap::from([(
                    1,
                    PolicyVersion {
                        version: 1,
                        document,
                        created_at: now,
                    },
                )]),
                tags: tags.clone(),
            };
            let arn = policy.arn(&partition, account_id);
            account.policies.insert(key, Arc::new(policy));
            Ok(Response::Created {
                arn,
                id: policy_id.clone(),
            })
        }
        Command::DeletePolicy {
            account_id,
            policy_arn,
        } => {
            let account = account_mut(view, account_id)?;
            let (key, canonical) = resolve_policy(account, &partition, policy_arn)?;
            if policy_in_use(account, &canonical) {
                return Err(ConfigError::conflict(
                    EntityKind::Policy,
                    policy_arn,
                    "attachments",
                ));
            }
            if account
                .policies
                .get(&key)
                .is_some_and(|policy| policy.versions.len() > 1)
            {
                return Err(ConfigError::conflict(
                    EntityKind::Policy,
                    policy_arn,
                    "versions other than the default",
                ));
            }
            account.policies.remove(&key);
            Ok(Response::Done)
        }
        Command::CreatePolicyVersion {
            account_id,
            policy_arn,
            document: text,
            set_as_default,
        } => {
            let document = document(text, PolicyKind::Managed)?;
            let policy = policy_mut(account_mut(view, account_id)?, &partition, policy_arn)?;
            if policy.versions.len() >= limits::VERSIONS_PER_POLICY {
                return Err(ConfigError::limit(
                    "VersionsPerPolicy",
                    limits::VERSIONS_PER_POLICY,
                ));
            }
            let version = policy.next_version;
            policy.next_version = version.saturating_add(1);
            policy.versions.insert(
                version,
                PolicyVersion {
                    version,
                    document,
                    created_at: now,
                },
            );
            if *set_as_default {
                policy.default_version = version;
            }
            policy.updated_at = now;
            Ok(Response::PolicyVersionCreated { version })
        }
        Command::DeletePolicyVersion {
            account_id,
            policy_arn,
            version,
        } => {
            let policy = policy_mut(account_mut(view, account_id)?, &partition, policy_arn)?;
            if !policy.versions.contains_key(version) {
                return Err(ConfigError::no_such(
                    EntityKind::PolicyVersion,
                    format!("v{version}"),
                ));
            }
            if policy.default_version == *version {
                return Err(ConfigError::conflict(
                    EntityKind::PolicyVersion,
                    format!("v{version}"),
                    "its place as the default version",
                ));
            }
            policy.versions.remove(version);
            Ok(Response::Done)
        }
        Command::SetDefaultPolicyVersion {
            account_id,
            policy_arn,
            version,
        } => {
            let policy = policy_mut(account_mut(view, account_id)?, &partition, policy_arn)?;
            if !policy.versions.contains_key(version) {
                return Err(ConfigError::no_such(
                    EntityKind::PolicyVersion,
                    format!("v{version}"),
                ));
            }
            policy.default_version = *version;
            policy.updated_at = now;
            Ok(Response::Done)
        }

        Command::CreateVirtualMfaDevice {
            account_id,
            name,
            path,
            sealed_seed,
            tags,
        } => {
            limits::check_mfa_name(name)?;
            limits::check_path(path)?;
            check_tags(tags)?;
            if sealed_seed.0.is_empty() || sealed_seed.0.len() > 4096 {
                return Err(ConfigError::invalid("sealed seed must be 1 to 4096 bytes"));
            }
            let account = account_mut(view, account_id)?;
            if account.mfa_devices.contains_key(name) {
                return Err(ConfigError::exists(EntityKind::MfaDevice, name));
            }
            if account.mfa_devices.len() >= limits::MFA_DEVICES_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "MFADevices",
                    limits::MFA_DEVICES_PER_ACCOUNT,
                ));
            }
            let device = MfaDevice {
                name: name.clone(),
                path: path.clone(),
                created_at: now,
                sealed_seed: sealed_seed.clone(),
                user: None,
                enabled_at: None,
                tags: tags.clone(),
            };
            let serial = device.serial(&partition, account_id);
            account.mfa_devices.insert(name.clone(), Arc::new(device));
            Ok(Response::Created {
                arn: serial,
                id: String::new(),
            })
        }
        Command::EnableMfaDevice {
            account_id,
            user_name,
            serial_number,
        } => {
            let account = account_mut(view, account_id)?;
            let device_name = mfa_name(account, &partition, serial_number)?;
            let user_display = {
                let user = account
                    .user(user_name)
                    .ok_or_else(|| ConfigError::no_such(EntityKind::User, user_name))?;
                if user.mfa_devices.len() >= limits::MFA_DEVICES_PER_USER {
                    return Err(ConfigError::limit(
                        "MFADevicesInUsePerUser",
                        limits::MFA_DEVICES_PER_USER,
                    ));
                }
                user.name.clone()
            };
            let device = account
                .mfa_devices
                .get_mut(&device_name)
                .map(Arc::make_mut)
                .ok_or_else(|| ConfigError::no_such(EntityKind::MfaDevice, serial_number))?;
            if device.user.is_some() {
                return Err(ConfigError::exists(EntityKind::MfaDevice, serial_number));
            }
            device.user = Some(user_display);
            device.enabled_at = Some(now);
            let serial = device.serial(&partition, account_id);
            user_mut(account, user_name)?.mfa_devices.insert(serial);
            Ok(Response::Done)
        }
        Command::DeactivateMfaDevice {
            account_id,
            user_name,
            serial_number,
        } => {
            let account = account_mut(view, account_id)?;
            let device_name = mfa_name(account, &partition, serial_number)?;
            let device = account
                .mfa_devices
                .get_mut(&device_name)
                .map(Arc::make_mut)
                .ok_or_else(|| ConfigError::no_such(EntityKind::MfaDevice, serial_number))?;
            let enabled_for_user = device
                .user
                .as_deref()
                .is_some_and(|user| user.eq_ignore_ascii_case(user_name));
            if !enabled_for_user {
                return Err(ConfigError::no_such(EntityKind::MfaDevice, serial_number));
            }
            device.user = None;
            device.enabled_at = None;
            let serial = device.serial(&partition, account_id);
            user_mut(account, user_name)?.mfa_devices.remove(&serial);
            Ok(Response::Done)
        }
        Command::DeleteVirtualMfaDevice {
            account_id,
            serial_number,
        } => {
            let account = account_mut(view, account_id)?;
            let device_name = mfa_name(account, &partition, serial_number)?;
            if account
                .mfa_devices
                .get(&device_name)
                .is_some_and(|device| device.user.is_some())
            {
                return Err(ConfigError::conflict(
                    EntityKind::MfaDevice,
                    serial_number,
                    "a user it is enabled for",
                ));
            }
            account.mfa_devices.remove(&device_name);
            Ok(Response::Done)
        }

        Command::CreateOidcProvider {
            account_id,
            url,
            client_ids,
            thumbprints,
            tags,
        } => {
            let resource = limits::check_oidc_url(url)?;
            check_tags(tags)?;
            let client_ids = check_client_ids(client_ids)?;
            check_thumbprints(thumbprints)?;
            let account = account_mut(view, account_id)?;
            if account.oidc_providers.contains_key(&resource) {
                return Err(ConfigError::exists(EntityKind::OidcProvider, url));
            }
            if account.oidc_providers.len() >= limits::OIDC_PROVIDERS_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "OpenIdConnectProvidersPerAccount",
                    limits::OIDC_PROVIDERS_PER_ACCOUNT,
                ));
            }
            let provider = OidcProvider {
                url: url.clone(),
                client_ids,
                thumbprints: thumbprints.clone(),
                created_at: now,
                tags: tags.clone(),
            };
            let arn = provider.arn(&partition, account_id);
            account.oidc_providers.insert(resource, Arc::new(provider));
            Ok(Response::Created {
                arn,
                id: String::new(),
            })
        }
        Command::DeleteOidcProvider {
            account_id,
            provider_arn,
        } => {
            let account = account_mut(view, account_id)?;
            let key = provider_key(
                account,
                &partition,
                provider_arn,
                "oidc-provider/",
                EntityKind::OidcProvider,
            )?;
            account
                .oidc_providers
                .remove(&key)
                .ok_or_else(|| ConfigError::no_such(EntityKind::OidcProvider, provider_arn))?;
            Ok(Response::Done)
        }
        Command::AddOidcClientId {
            account_id,
            provider_arn,
            client_id,
        } => {
            limits::check_client_id(client_id)?;
            let provider = oidc_mut(account_mut(view, account_id)?, &partition, provider_arn)?;
            if !provider.client_ids.contains(client_id) {
                if provider.client_ids.len() >= limits::CLIENT_IDS_PER_OIDC_PROVIDER {
                    return Err(ConfigError::limit(
                        "ClientIdsPerOpenIdConnectProvider",
                        limits::CLIENT_IDS_PER_OIDC_PROVIDER,
                    ));
                }
                provider.client_ids.push(client_id.clone());
            }
            Ok(Response::Done)
        }
        Command::RemoveOidcClientId {
            account_id,
            provider_arn,
            client_id,
        } => {
            let provider = oidc_mut(account_mut(view, account_id)?, &partition, provider_arn)?;
            provider.client_ids.retain(|existing| existing != client_id);
            Ok(Response::Done)
        }
        Command::UpdateOidcThumbprints {
            account_id,
            provider_arn,
            thumbprints,
        } => {
            check_thumbprints(thumbprints)?;
            oidc_mut(account_mut(view, account_id)?, &partition, provider_arn)?.thumbprints =
                thumbprints.clone();
            Ok(Response::Done)
        }

        Command::CreateSamlProvider {
            account_id,
            name,
            metadata,
            tags,
        } => {
            limits::check_saml_name(name)?;
            limits::check_saml_metadata(metadata)?;
            check_tags(tags)?;
            let account = account_mut(view, account_id)?;
            if account.saml_providers.contains_key(name) {
                return Err(ConfigError::exists(EntityKind::SamlProvider, name));
            }
            if account.saml_providers.len() >= limits::SAML_PROVIDERS_PER_ACCOUNT {
                return Err(ConfigError::limit(
                    "SAMLProvidersPerAccount",
                    limits::SAML_PROVIDERS_PER_ACCOUNT,
                ));
            }
            let provider = SamlProvider {
                name: name.clone(),
                metadata: Arc::from(metadata.as_str()),
                idp: IdpMetadata::parse(metadata).ok(),
                created_at: now,
                updated_at: now,
                tags: tags.clone(),
            };
            let arn = provider.arn(&partition, account_id);
            account
                .saml_providers
                .insert(name.clone(), Arc::new(provider));
            Ok(Response::Created {
                arn,
                id: String::new(),
            })
        }
        Command::UpdateSamlProvider {
            account_id,
            provider_arn,
            metadata,
        } => {
            limits::check_saml_metadata(metadata)?;
            let provider = saml_mut(account_mut(view, account_id)?, &partition, provider_arn)?;
            provider.metadata = Arc::from(metadata.as_str());
            provider.idp = IdpMetadata::parse(metadata).ok();
            provider.updated_at = now;
            Ok(Response::Done)
        }
        Command::DeleteSamlProvider {
            account_id,
            provider_arn,
        } => {
            let account = account_mut(view, account_id)?;
            let key = provider_key(
                account,
                &partition,
                provider_arn,
                "saml-provider/",
                EntityKind::SamlProvider,
            )?;
            account
                .saml_providers
                .remove(&key)
                .ok_or_else(|| ConfigError::no_such(EntityKind::SamlProvider, provider_arn))?;
            Ok(Response::Done)
        }

        Command::TagResource {
            account_id,
            target,
            tags,
        } => {
            check_tags(tags)?;
            let existing = tags_mut(account_mut(view, account_id)?, &partition, target)?;
            let added = tags
                .keys()
                .filter(|key| !existing.contains_key(*key))
                .count();
            if existing.len() + added > limits::TAGS_PER_ENTITY {
                return Err(ConfigError::limit(
                    "TagsPerResource",
                    limits::TAGS_PER_ENTITY,
                ));
            }
            existing.extend(tags.iter().map(|(key, value)| (key.clone(), value.clone())));
            Ok(Response::Done)
        }
        Command::UntagResource {
            account_id,
            target,
            tag_keys,
        } => {
            if tag_keys.len() > limits::TAGS_PER_ENTITY {
                return Err(ConfigError::invalid("TagKeys must have at most 50 members"));
            }
            let existing = tags_mut(account_mut(view, account_id)?, &partition, target)?;
            for key in tag_keys {
                existing.remove(key);
            }
            Ok(Response::Done)
        }
        _ => Err(ConfigError::invalid(format!(
            "{} is not an IAM command",
            command.name()
        ))),
    }
}

fn account_mut<'a>(
    view: &'a mut ConfigSnapshot,
    account_id: &AccountId,
) -> Result<&'a mut AccountConfig, ConfigError> {
    Arc::make_mut(&mut view.accounts)
        .get_mut(account_id)
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Account, account_id.as_str()))
}

fn user_mut<'a>(account: &'a mut AccountConfig, name: &str) -> Result<&'a mut User, ConfigError> {
    account
        .users
        .get_mut(&name.to_ascii_lowercase())
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::User, name))
}

fn role_mut<'a>(account: &'a mut AccountConfig, name: &str) -> Result<&'a mut Role, ConfigError> {
    account
        .roles
        .get_mut(&name.to_ascii_lowercase())
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Role, name))
}

/// A user or role, for the commands that treat both alike.
enum HolderMut<'a> {
    User(&'a mut User),
    Role(&'a mut Role),
}

impl HolderMut<'_> {
    fn inline_policies(&mut self) -> &mut BTreeMap<String, PolicyDocument> {
        match self {
            HolderMut::User(user) => &mut user.inline_policies,
            HolderMut::Role(role) => &mut role.inline_policies,
        }
    }

    fn attached_policies(&mut self) -> &mut std::collections::BTreeSet<String> {
        match self {
            HolderMut::User(user) => &mut user.attached_policies,
            HolderMut::Role(role) => &mut role.attached_policies,
        }
    }

    fn boundary(&mut self) -> &mut Option<String> {
        match self {
            HolderMut::User(user) => &mut user.permissions_boundary,
            HolderMut::Role(role) => &mut role.permissions_boundary,
        }
    }
}

fn holder_mut<'a>(
    account: &'a mut AccountConfig,
    holder: &PolicyHolder,
) -> Result<HolderMut<'a>, ConfigError> {
    Ok(match holder {
        PolicyHolder::User(name) => HolderMut::User(user_mut(account, name)?),
        PolicyHolder::Role(name) => HolderMut::Role(role_mut(account, name)?),
    })
}

/// Resolves a managed policy ARN of this account: its map key and its
/// canonical ARN. Policies of other accounts are never attachable, and AWS
/// managed policies are never writable (every command that changes a policy
/// resolves it here).
fn resolve_policy(
    account: &AccountConfig,
    partition: &Partition,
    arn: &str,
) -> Result<(String, String), ConfigError> {
    let not_attachable = || ConfigError::no_such(EntityKind::Policy, arn);
    let (owner, path, name) = split_iam_arn(partition, arn, "policy").ok_or_else(not_attachable)?;
    if owner != account.account.id {
        return Err(not_attachable());
    }
    let key = name.to_ascii_lowercase();
    let policy = account.policies.get(&key).ok_or_else(not_attachable)?;
    if policy.path != path {
        return Err(not_attachable());
    }
    Ok((key, policy.arn(partition, &account.account.id)))
}

/// Resolves a managed policy a user or role may attach or use as its
/// permissions boundary: one of this account's (see [`resolve_policy`]) or
/// an AWS managed policy of the built-in catalogue. Returns the canonical ARN.
fn resolve_attachable(
    account: &AccountConfig,
    partition: &Partition,
    arn: &str,
) -> Result<String, ConfigError> {
    if let Some(policy) = aws_managed::by_arn(partition, arn) {
        return Ok(aws_managed::arn(partition, policy));
    }
    resolve_policy(account, partition, arn).map(|(_, canonical)| canonical)
}

fn policy_mut<'a>(
    account: &'a mut AccountConfig,
    partition: &Partition,
    arn: &str,
) -> Result<&'a mut ManagedPolicy, ConfigError> {
    let (key, _) = resolve_policy(account, partition, arn)?;
    account
        .policies
        .get_mut(&key)
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Policy, arn))
}

fn policy_in_use(account: &AccountConfig, canonical: &str) -> bool {
    let uses = |attached: &std::collections::BTreeSet<String>, boundary: &Option<String>| {
        attached.contains(canonical) || boundary.as_deref() == Some(canonical)
    };
    account
        .users
        .values()
        .any(|user| uses(&user.attached_policies, &user.permissions_boundary))
        || account
            .roles
            .values()
            .any(|role| uses(&role.attached_policies, &role.permissions_boundary))
}

fn provider_key(
    account: &AccountConfig,
    partition: &Partition,
    arn: &str,
    prefix: &str,
    kind: EntityKind,
) -> Result<String, ConfigError> {
    match split_provider_arn(partition, arn, prefix) {
        Some((owner, rest)) if owner == account.account.id => Ok(rest.to_owned()),
        _ => Err(ConfigError::no_such(kind, arn)),
    }
}

fn oidc_mut<'a>(
    account: &'a mut AccountConfig,
    partition: &Partition,
    arn: &str,
) -> Result<&'a mut OidcProvider, ConfigError> {
    let key = provider_key(
        account,
        partition,
        arn,
        "oidc-provider/",
        EntityKind::OidcProvider,
    )?;
    account
        .oidc_providers
        .get_mut(&key)
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::OidcProvider, arn))
}

fn saml_mut<'a>(
    account: &'a mut AccountConfig,
    partition: &Partition,
    arn: &str,
) -> Result<&'a mut SamlProvider, ConfigError> {
    let key = provider_key(
        account,
        partition,
        arn,
        "saml-provider/",
        EntityKind::SamlProvider,
    )?;
    account
        .saml_providers
        .get_mut(&key)
        .map(Arc::make_mut)
        .ok_or_else(|| ConfigError::no_such(EntityKind::SamlProvider, arn))
}

/// The name of this account's MFA device with this serial number.
fn mfa_name(
    account: &AccountConfig,
    partition: &Partition,
    serial: &str,
) -> Result<String, ConfigError> {
    let not_found = || ConfigError::no_such(EntityKind::MfaDevice, serial);
    let (owner, path, name) = split_iam_arn(partition, serial, "mfa").ok_or_else(not_found)?;
    if owner != account.account.id {
        return Err(not_found());
    }
    match account.mfa_devices.get(name) {
        Some(device) if device.path == path => Ok(name.to_owned()),
        _ => Err(not_found()),
    }
}

fn access_key_mut<'a>(
    view: &'a mut ConfigSnapshot,
    account_id: &AccountId,
    user_name: Option<&str>,
    access_key_id: &str,
) -> Result<&'a mut AccessKey, ConfigError> {
    let not_found = || ConfigError::no_such(EntityKind::AccessKey, access_key_id);
    let location = view
        .access_keys
        .get(access_key_id)
        .cloned()
        .ok_or_else(not_found)?;
    if location.account_id != *account_id {
        return Err(not_found());
    }
    if user_name.is_some_and(|name| name.to_ascii_lowercase() != location.user_key) {
        return Err(not_found());
    }
    let user = account_mut(view, account_id)?
        .users
        .get_mut(&location.user_key)
        .map(Arc::make_mut)
        .ok_or_else(not_found)?;
    user.access_keys
        .get_mut(access_key_id)
        .ok_or_else(not_found)
}

fn update_user(
    view: &mut ConfigSnapshot,
    account_id: &AccountId,
    user_name: &str,
    new_name: Option<&str>,
    new_path: Option<&str>,
) -> Result<Response, ConfigError> {
    if let Some(name) = new_name {
        limits::check_principal_name("NewUserName", name)?;
    }
    if let Some(path) = new_path {
        limits::check_path(path)?;
    }
    let old_key = user_name.to_ascii_lowercase();
    let new_key = new_name
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| old_key.clone());
    let account = account_mut(view, account_id)?;
    if !account.users.contains_key(&old_key) {
        return Err(ConfigError::no_such(EntityKind::User, user_name));
    }
    if new_key != old_key && account.users.contains_key(&new_key) {
        return Err(ConfigError::exists(
            EntityKind::User,
            new_name.unwrap_or(user_name),
        ));
    }
    let Some(mut shared) = account.users.remove(&old_key) else {
        return Err(ConfigError::no_such(EntityKind::User, user_name));
    };
    let user = Arc::make_mut(&mut shared);
    let old_display = user.name.clone();
    if let Some(name) = new_name {
        user.name = name.to_owned();
    }
    if let Some(path) = new_path {
        user.path = path.to_owned();
    }
    let display = user.name.clone();
    let key_ids: Vec<String> = user.access_keys.keys().cloned().collect();
    account.users.insert(new_key.clone(), shared);
    // MFA devices name the user they are enabled for; follow the rename.
    for device in account.mfa_devices.values_mut() {
        if device
            .user
            .as_deref()
            .is_some_and(|user| user.eq_ignore_ascii_case(&old_display))
        {
            Arc::make_mut(device).user = Some(display.clone());
        }
    }
    if !key_ids.is_empty() {
        let index = Arc::make_mut(&mut view.access_keys);
        for key_id in key_ids {
            if let Some(location) = index.get_mut(&key_id) {
                location.user_key = new_key.clone();
            }
        }
    }
    Ok(Response::Done)
}

fn tags_mut<'a>(
    account: &'a mut AccountConfig,
    partition: &Partition,
    target: &TagTarget,
) -> Result<&'a mut Tags, ConfigError> {
    Ok(match target {
        TagTarget::User(name) => &mut user_mut(account, name)?.tags,
        TagTarget::Role(name) => &mut role_mut(account, name)?.tags,
        TagTarget::Policy(arn) => &mut policy_mut(account, partition, arn)?.tags,
        TagTarget::OidcProvider(arn) => &mut oidc_mut(account, partition, arn)?.tags,
        TagTarget::SamlProvider(arn) => &mut saml_mut(account, partition, arn)?.tags,
        TagTarget::MfaDevice(serial) => {
            let name = mfa_name(account, partition, serial)?;
            let device = account
                .mfa_devices
                .get_mut(&name)
                .map(Arc::make_mut)
                .ok_or_else(|| ConfigError::no_such(EntityKind::MfaDevice, serial))?;
            &mut device.tags
        }
    })
}

fn document(text: &str, kind: PolicyKind) -> Result<PolicyDocument, ConfigError> {
    limits::check_policy_document(text, kind)?;
    Ok(PolicyDocument(Arc::from(text)))
}

fn check_tags(tags: &Tags) -> Result<(), ConfigError> {
    if tags.len() > limits::TAGS_PER_ENTITY {
        return Err(ConfigError::limit(
            "TagsPerResource",
            limits::TAGS_PER_ENTITY,
        ));
    }
    tags.iter()
        .try_for_each(|(key, value)| limits::check_tag(key, value))
}

fn check_max_session_duration(seconds: u32) -> Result<(), ConfigError> {
    let (min, max) = limits::MAX_SESSION_DURATION_RANGE;
    if (min..=max).contains(&seconds) {
        Ok(())
    } else {
        Err(ConfigError::invalid(format!(
            "MaxSessionDuration must be between {min} and {max} seconds"
        )))
    }
}

fn check_client_ids(client_ids: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut unique: Vec<String> = Vec::with_capacity(client_ids.len());
    for client_id in client_ids {
        limits::check_client_id(client_id)?;
        if !unique.contains(client_id) {
            unique.push(client_id.clone());
        }
    }
    if unique.len() > limits::CLIENT_IDS_PER_OIDC_PROVIDER {
        return Err(ConfigError::limit(
            "ClientIdsPerOpenIdConnectProvider",
            limits::CLIENT_IDS_PER_OIDC_PROVIDER,
        ));
    }
    Ok(unique)
}

fn check_thumbprints(thumbprints: &[String]) -> Result<(), ConfigError> {
    if thumbprints.len() > limits::THUMBPRINTS_PER_OIDC_PROVIDER {
        return Err(ConfigError::invalid(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    thumbprints
        .iter()
        .try_for_each(|thumbprint| limits::check_thumbprint(thumbprint))
}
