//! Commands: `ConfigRequest` and every `Command` variant, as the Raft log
//! carries them.

use meridian_core::arn::Partition;
use meridian_core::config::cluster::bootstrap::BootstrapAdmin;
use meridian_core::config::cluster::{KeyPurpose, KeyRotationSettings, RegionStatus};
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId, TagTarget};
use meridian_core::config::model::{AccessKeyStatus, SealedBytes};

use crate::error::DecodeError;
use crate::pb;
use crate::pb::command::Kind;
use crate::pb_impl::{account_id, millis, required, timestamp};

impl From<&ConfigRequest> for pb::ConfigRequest {
    fn from(request: &ConfigRequest) -> pb::ConfigRequest {
        pb::ConfigRequest {
            request_id: request.request_id.0.to_vec(),
            issued_at_ms: millis(request.issued_at),
            command: Some(pb::Command::from(&request.command)),
        }
    }
}

impl TryFrom<pb::ConfigRequest> for ConfigRequest {
    type Error = DecodeError;

    fn try_from(request: pb::ConfigRequest) -> Result<ConfigRequest, DecodeError> {
        let id: [u8; 16] =
            request.request_id.as_slice().try_into().map_err(|_| {
                DecodeError::invalid("ConfigRequest.request_id", "must be 16 bytes")
            })?;
        Ok(ConfigRequest {
            request_id: RequestId(id),
            issued_at: timestamp(request.issued_at_ms),
            command: Command::try_from(required("ConfigRequest.command", request.command)?)?,
        })
    }
}

/// Encodes a key-rotation schedule.
pub fn rotation_to_pb(settings: &KeyRotationSettings) -> pb::KeyRotationSettings {
    pb::KeyRotationSettings {
        rotate_after_ms: settings.rotate_after_ms,
        min_propagation_ms: settings.min_propagation_ms,
        propagation_grace_ms: settings.propagation_grace_ms,
        max_token_lifetime_ms: settings.max_token_lifetime_ms,
        leeway_ms: settings.leeway_ms,
        max_key_age_ms: settings.max_key_age_ms,
    }
}

/// Decodes a key-rotation schedule (its bounds are checked at apply time).
pub fn rotation_from_pb(settings: pb::KeyRotationSettings) -> KeyRotationSettings {
    KeyRotationSettings {
        rotate_after_ms: settings.rotate_after_ms,
        min_propagation_ms: settings.min_propagation_ms,
        propagation_grace_ms: settings.propagation_grace_ms,
        max_token_lifetime_ms: settings.max_token_lifetime_ms,
        leeway_ms: settings.leeway_ms,
        max_key_age_ms: settings.max_key_age_ms,
    }
}

pub(crate) fn purpose_to_pb(purpose: KeyPurpose) -> i32 {
    match purpose {
        KeyPurpose::SessionToken => pb::KeyPurpose::SessionToken as i32,
        KeyPurpose::JwtSigning => pb::KeyPurpose::JwtSigning as i32,
        KeyPurpose::JwtSigningEs384 => pb::KeyPurpose::JwtSigningEs384 as i32,
    }
}

pub(crate) fn purpose_from_pb(value: i32) -> Result<KeyPurpose, DecodeError> {
    match pb::KeyPurpose::try_from(value) {
        Ok(pb::KeyPurpose::SessionToken) => Ok(KeyPurpose::SessionToken),
        Ok(pb::KeyPurpose::JwtSigning) => Ok(KeyPurpose::JwtSigning),
        Ok(pb::KeyPurpose::JwtSigningEs384) => Ok(KeyPurpose::JwtSigningEs384),
        _ => Err(DecodeError::invalid(
            "KeyPurpose",
            format!("unknown value {value}"),
        )),
    }
}

pub(crate) fn status_to_pb(status: AccessKeyStatus) -> i32 {
    match status {
        AccessKeyStatus::Active => pb::AccessKeyStatus::Active as i32,
        AccessKeyStatus::Inactive => pb::AccessKeyStatus::Inactive as i32,
    }
}

pub(crate) fn status_from_pb(value: i32) -> Result<AccessKeyStatus, DecodeError> {
    match pb::AccessKeyStatus::try_from(value) {
        Ok(pb::AccessKeyStatus::Active) => Ok(AccessKeyStatus::Active),
        Ok(pb::AccessKeyStatus::Inactive) => Ok(AccessKeyStatus::Inactive),
        _ => Err(DecodeError::invalid(
            "AccessKeyStatus",
            format!("unknown value {value}"),
        )),
    }
}

pub(crate) fn region_status_to_pb(status: RegionStatus) -> i32 {
    match status {
        RegionStatus::Active => pb::RegionStatus::Active as i32,
        RegionStatus::Draining => pb::RegionStatus::Draining as i32,
    }
}

pub(crate) fn region_status_from_pb(value: i32) -> Result<RegionStatus, DecodeError> {
    match pb::RegionStatus::try_from(value) {
        Ok(pb::RegionStatus::Active) => Ok(RegionStatus::Active),
        Ok(pb::RegionStatus::Draining) => Ok(RegionStatus::Draining),
        _ => Err(DecodeError::invalid(
            "RegionStatus",
            format!("unknown value {value}"),
        )),
    }
}

fn holder_to_pb(holder: &PolicyHolder) -> Option<pb::PolicyHolder> {
    let kind = match holder {
        PolicyHolder::User(name) => pb::policy_holder::Kind::User(name.clone()),
        PolicyHolder::Role(name) => pb::policy_holder::Kind::Role(name.clone()),
    };
    Some(pb::PolicyHolder { kind: Some(kind) })
}

fn holder_from_pb(holder: Option<pb::PolicyHolder>) -> Result<PolicyHolder, DecodeError> {
    match required("PolicyHolder", required("PolicyHolder", holder)?.kind)? {
        pb::policy_holder::Kind::User(name) => Ok(PolicyHolder::User(name)),
        pb::policy_holder::Kind::Role(name) => Ok(PolicyHolder::Role(name)),
    }
}

fn target_to_pb(target: &TagTarget) -> Option<pb::TagTarget> {
    use pb::tag_target::Kind as T;
    let kind = match target {
        TagTarget::User(name) => T::User(name.clone()),
        TagTarget::Role(name) => T::Role(name.clone()),
        TagTarget::Policy(arn) => T::PolicyArn(arn.clone()),
        TagTarget::OidcProvider(arn) => T::OidcProviderArn(arn.clone()),
        TagTarget::SamlProvider(arn) => T::SamlProviderArn(arn.clone()),
        TagTarget::MfaDevice(serial) => T::MfaSerial(serial.clone()),
    };
    Some(pb::TagTarget { kind: Some(kind) })
}

fn target_from_pb(target: Option<pb::TagTarget>) -> Result<TagTarget, DecodeError> {
    use pb::tag_target::Kind as T;
    Ok(
        match required("TagTarget", required("TagTarget", target)?.kind)? {
            T::User(name) => TagTarget::User(name),
            T::Role(name) => TagTarget::Role(name),
            T::PolicyArn(arn) => TagTarget::Policy(arn),
            T::OidcProviderArn(arn) => TagTarget::OidcProvider(arn),
            T::SamlProviderArn(arn) => TagTarget::SamlProvider(arn),
            T::MfaSerial(serial) => TagTarget::MfaDevice(serial),
        },
    )
}

impl From<&Command> for pb::Command {
    fn from(command: &Command) -> pb::Command {
        let kind = match command {
            Command::SetPartition { partition } => Kind::SetPartition(pb::SetPartition {
                partition: partition.as_str().to_owned(),
            }),
            Command::CreateAccount { account_id, name } => Kind::CreateAccount(pb::CreateAccount {
                account_id: account_id.as_str().to_owned(),
                name: name.clone(),
            }),
            Command::DeleteAccount { account_id } => Kind::DeleteAccount(pb::DeleteAccount {
                account_id: account_id.as_str().to_owned(),
            }),
            Command::SetTokenServicePreferences {
                account_id,
                global_endpoint_token_version,
            } => Kind::SetTokenServicePreferences(pb::SetTokenServicePreferences {
                account_id: account_id.as_str().to_owned(),
                global_endpoint_token_version: u32::from(*global_endpoint_token_version),
            }),
            Command::SetOutboundFederation {
                account_id,
                issuer_url,
                enabled,
            } => Kind::SetOutboundFederation(pb::SetOutboundFederation {
                account_id: account_id.as_str().to_owned(),
                issuer_url: issuer_url.clone(),
                enabled: *enabled,
            }),
            Command::CreateUser {
                account_id,
                user_name,
                path,
                user_id,
                permissions_boundary,
                tags,
            } => Kind::CreateUser(pb::CreateUser {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                path: path.clone(),
                user_id: user_id.clone(),
                permissions_boundary: permissions_boundary.clone(),
                tags: tags.clone(),
            }),
            Command::UpdateUser {
                account_id,
                user_name,
                new_user_name,
                new_path,
            } => Kind::UpdateUser(pb::UpdateUser {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                new_user_name: new_user_name.clone(),
                new_path: new_path.clone(),
            }),
            Command::DeleteUser {
                account_id,
                user_name,
            } => Kind::DeleteUser(pb::DeleteUser {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
            }),
            Command::CreateAccessKey {
                account_id,
                user_name,
                access_key_id,
                sealed_secret,
            } => Kind::CreateAccessKey(pb::CreateAccessKey {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                access_key_id: access_key_id.clone(),
                sealed_secret: sealed_secret.0.clone(),
            }),
            Command::UpdateAccessKey {
                account_id,
                user_name,
                access_key_id,
                status,
            } => Kind::UpdateAccessKey(pb::UpdateAccessKey {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                access_key_id: access_key_id.clone(),
                status: status_to_pb(*status),
            }),
            Command::DeleteAccessKey {
                account_id,
                user_name,
                access_key_id,
            } => Kind::DeleteAccessKey(pb::DeleteAccessKey {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                access_key_id: access_key_id.clone(),
            }),
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
            } => Kind::CreateRole(pb::CreateRole {
                account_id: account_id.as_str().to_owned(),
                role_name: role_name.clone(),
                path: path.clone(),
                role_id: role_id.clone(),
                trust_policy: trust_policy.clone(),
                description: description.clone(),
                max_session_duration: *max_session_duration,
                permissions_boundary: permissions_boundary.clone(),
                tags: tags.clone(),
            }),
            Command::UpdateRole {
                account_id,
                role_name,
                description,
                max_session_duration,
            } => Kind::UpdateRole(pb::UpdateRole {
                account_id: account_id.as_str().to_owned(),
                role_name: role_name.clone(),
                description: description.clone(),
                max_session_duration: *max_session_duration,
            }),
            Command::UpdateAssumeRolePolicy {
                account_id,
                role_name,
                document,
            } => Kind::UpdateAssumeRolePolicy(pb::UpdateAssumeRolePolicy {
                account_id: account_id.as_str().to_owned(),
                role_name: role_name.clone(),
                document: document.clone(),
            }),
            Command::DeleteRole {
                account_id,
                role_name,
            } => Kind::DeleteRole(pb::DeleteRole {
                account_id: account_id.as_str().to_owned(),
                role_name: role_name.clone(),
            }),
            Command::PutInlinePolicy {
                account_id,
                holder,
                policy_name,
                document,
            } => Kind::PutInlinePolicy(pb::PutInlinePolicy {
                account_id: account_id.as_str().to_owned(),
                holder: holder_to_pb(holder),
                policy_name: policy_name.clone(),
                document: document.clone(),
            }),
            Command::DeleteInlinePolicy {
                account_id,
                holder,
                policy_name,
            } => Kind::DeleteInlinePolicy(pb::DeleteInlinePolicy {
                account_id: account_id.as_str().to_owned(),
                holder: holder_to_pb(holder),
                policy_name: policy_name.clone(),
            }),
            Command::AttachPolicy {
                account_id,
                holder,
                policy_arn,
            } => Kind::AttachPolicy(pb::AttachPolicy {
                account_id: account_id.as_str().to_owned(),
                holder: holder_to_pb(holder),
                policy_arn: policy_arn.clone(),
            }),
            Command::DetachPolicy {
                account_id,
                holder,
                policy_arn,
            } => Kind::DetachPolicy(pb::DetachPolicy {
                account_id: account_id.as_str().to_owned(),
                holder: holder_to_pb(holder),
                policy_arn: policy_arn.clone(),
            }),
            Command::PutPermissionsBoundary {
                account_id,
                holder,
                policy_arn,
            } => Kind::PutPermissionsBoundary(pb::PutPermissionsBoundary {
                account_id: account_id.as_str().to_owned(),
                holder: holder_to_pb(holder),
                policy_arn: policy_arn.clone(),
            }),
            Command::DeletePermissionsBoundary { account_id, holder } => {
                Kind::DeletePermissionsBoundary(pb::DeletePermissionsBoundary {
                    account_id: account_id.as_str().to_owned(),
                    holder: holder_to_pb(holder),
                })
            }
            Command::CreatePolicy {
                account_id,
                policy_name,
                path,
                policy_id,
                document,
                description,
                tags,
            } => Kind::CreatePolicy(pb::CreatePolicy {
                account_id: account_id.as_str().to_owned(),
                policy_name: policy_name.clone(),
                path: path.clone(),
                policy_id: policy_id.clone(),
                document: document.clone(),
                description: description.clone(),
                tags: tags.clone(),
            }),
            Command::DeletePolicy {
                account_id,
                policy_arn,
            } => Kind::DeletePolicy(pb::DeletePolicy {
                account_id: account_id.as_str().to_owned(),
                policy_arn: policy_arn.clone(),
            }),
            Command::CreatePolicyVersion {
                account_id,
                policy_arn,
                document,
                set_as_default,
            } => Kind::CreatePolicyVersion(pb::CreatePolicyVersion {
                account_id: account_id.as_str().to_owned(),
                policy_arn: policy_arn.clone(),
                document: document.clone(),
                set_as_default: *set_as_default,
            }),
            Command::DeletePolicyVersion {
                account_id,
                policy_arn,
                version,
            } => Kind::DeletePolicyVersion(pb::DeletePolicyVersion {
                account_id: account_id.as_str().to_owned(),
                policy_arn: policy_arn.clone(),
                version: *version,
            }),
            Command::SetDefaultPolicyVersion {
                account_id,
                policy_arn,
                version,
            } => Kind::SetDefaultPolicyVersion(pb::SetDefaultPolicyVersion {
                account_id: account_id.as_str().to_owned(),
                policy_arn: policy_arn.clone(),
                version: *version,
            }),
            Command::CreateVirtualMfaDevice {
                account_id,
                name,
                path,
                sealed_seed,
                tags,
            } => Kind::CreateVirtualMfaDevice(pb::CreateVirtualMfaDevice {
                account_id: account_id.as_str().to_owned(),
                name: name.clone(),
                path: path.clone(),
                sealed_seed: sealed_seed.0.clone(),
                tags: tags.clone(),
            }),
            Command::EnableMfaDevice {
                account_id,
                user_name,
                serial_number,
            } => Kind::EnableMfaDevice(pb::EnableMfaDevice {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                serial_number: serial_number.clone(),
            }),
            Command::DeactivateMfaDevice {
                account_id,
                user_name,
                serial_number,
            } => Kind::DeactivateMfaDevice(pb::DeactivateMfaDevice {
                account_id: account_id.as_str().to_owned(),
                user_name: user_name.clone(),
                serial_number: serial_number.clone(),
            }),
            Command::DeleteVirtualMfaDevice {
                account_id,
                serial_number,
            } => Kind::DeleteVirtualMfaDevice(pb::DeleteVirtualMfaDevice {
                account_id: account_id.as_str().to_owned(),
                serial_number: serial_number.clone(),
            }),
            Command::CreateOidcProvider {
                account_id,
                url,
                client_ids,
                thumbprints,
                tags,
            } => Kind::CreateOidcProvider(pb::CreateOidcProvider {
                account_id: account_id.as_str().to_owned(),
                url: url.clone(),
                client_ids: client_ids.clone(),
                thumbprints: thumbprints.clone(),
                tags: tags.clone(),
            }),
            Command::DeleteOidcProvider {
                account_id,
                provider_arn,
            } => Kind::DeleteOidcProvider(pb::DeleteOidcProvider {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
            }),
            Command::AddOidcClientId {
                account_id,
                provider_arn,
                client_id,
            } => Kind::AddOidcClientId(pb::AddOidcClientId {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
                client_id: client_id.clone(),
            }),
            Command::RemoveOidcClientId {
                account_id,
                provider_arn,
                client_id,
            } => Kind::RemoveOidcClientId(pb::RemoveOidcClientId {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
                client_id: client_id.clone(),
            }),
            Command::UpdateOidcThumbprints {
                account_id,
                provider_arn,
                thumbprints,
            } => Kind::UpdateOidcThumbprints(pb::UpdateOidcThumbprints {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
                thumbprints: thumbprints.clone(),
            }),
            Command::CreateSamlProvider {
                account_id,
                name,
                metadata,
                tags,
            } => Kind::CreateSamlProvider(pb::CreateSamlProvider {
                account_id: account_id.as_str().to_owned(),
                name: name.clone(),
                metadata: metadata.clone(),
                tags: tags.clone(),
            }),
            Command::UpdateSamlProvider {
                account_id,
                provider_arn,
                metadata,
            } => Kind::UpdateSamlProvider(pb::UpdateSamlProvider {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
                metadata: metadata.clone(),
            }),
            Command::DeleteSamlProvider {
                account_id,
                provider_arn,
            } => Kind::DeleteSamlProvider(pb::DeleteSamlProvider {
                account_id: account_id.as_str().to_owned(),
                provider_arn: provider_arn.clone(),
            }),
            Command::TagResource {
                account_id,
                target,
                tags,
            } => Kind::TagResource(pb::TagResource {
                account_id: account_id.as_str().to_owned(),
                target: target_to_pb(target),
                tags: tags.clone(),
            }),
            Command::UntagResource {
                account_id,
                target,
                tag_keys,
            } => Kind::UntagResource(pb::UntagResource {
                account_id: account_id.as_str().to_owned(),
                target: target_to_pb(target),
                tag_keys: tag_keys.clone(),
            }),
            Command::StageKey {
                purpose,
                term,
                key_id,
                algorithm,
                sealed_key,
                public_key,
                activate_after,
                expected_latest_term,
            } => Kind::StageKey(pb::StageKey {
                purpose: purpose_to_pb(*purpose),
                term: *term,
                key_id: key_id.clone(),
                algorithm: algorithm.clone(),
                sealed_key: sealed_key.0.clone(),
                public_key: public_key.clone(),
                activate_after_ms: millis(*activate_after),
                expected_latest_term: *expected_latest_term,
            }),
            Command::ActivateKey {
                purpose,
                term,
                expected_active_term,
                retired_verify_until,
            } => Kind::ActivateKey(pb::ActivateKey {
                purpose: purpose_to_pb(*purpose),
                term: *term,
                expected_active_term: *expected_active_term,
                retired_verify_until_ms: millis(*retired_verify_until),
            }),
            Command::DestroyKey { purpose, term } => Kind::DestroyKey(pb::DestroyKey {
                purpose: purpose_to_pb(*purpose),
                term: *term,
            }),
            Command::SetKeyRotation { settings } => Kind::SetKeyRotation(pb::SetKeyRotation {
                settings: Some(rotation_to_pb(settings)),
            }),
            Command::Bootstrap {
                node_id,
                admin,
                steps,
            } => Kind::Bootstrap(pb::Bootstrap {
                node_id: *node_id,
                admin: admin.as_ref().map(bootstrap_admin_to_pb),
                steps: steps.iter().map(pb::Command::from).collect(),
            }),
            Command::CreateRegion {
                name,
                issuance_enabled,
            } => Kind::CreateRegion(pb::CreateRegion {
                name: name.clone(),
                issuance_enabled: *issuance_enabled,
            }),
            Command::SetRegionIssuance { name, enabled } => {
                Kind::SetRegionIssuance(pb::SetRegionIssuance {
                    name: name.clone(),
                    enabled: *enabled,
                })
            }
            Command::SetRegionStatus { name, status } => {
                Kind::SetRegionStatus(pb::SetRegionStatus {
                    name: name.clone(),
                    status: region_status_to_pb(*status),
                })
            }
            Command::DeleteRegion { name } => {
                Kind::DeleteRegion(pb::DeleteRegion { name: name.clone() })
            }
            Command::RevokeRoleSessions {
                account_id,
                role_name,
                issued_before,
            } => Kind::RevokeRoleSessions(pb::RevokeRoleSessions {
                account_id: account_id.as_str().to_owned(),
                role_name: role_name.clone(),
                issued_before_ms: millis(*issued_before),
            }),
            Command::DenySession {
                session_id,
                expires_at,
            } => Kind::DenySession(pb::DenySession {
                session_id: session_id.clone(),
                expires_at_ms: millis(*expires_at),
            }),
            Command::ReserveNodeId => Kind::ReserveNodeId(pb::ReserveNodeId {}),
            Command::RestoreState { state } => Kind::RestoreState(pb::RestoreState {
                state: Some(crate::pb_impl::impl_config_state::state_to_pb(state)),
            }),
        };
        pb::Command { kind: Some(kind) }
    }
}

impl TryFrom<pb::Command> for Command {
    type Error = DecodeError;

    fn try_from(command: pb::Command) -> Result<Command, DecodeError> {
        let id = |text: &str| account_id("account_id", text);
        Ok(match required("Command.kind", command.kind)? {
            Kind::SetPartition(c) => Command::SetPartition {
                partition: Partition::new(&c.partition).map_err(|err| {
                    DecodeError::invalid("SetPartition.partition", err.to_string())
                })?,
            },
            Kind::CreateAccount(c) => Command::CreateAccount {
                account_id: id(&c.account_id)?,
                name: c.name,
            },
            Kind::DeleteAccount(c) => Command::DeleteAccount {
                account_id: id(&c.account_id)?,
            },
            Kind::SetTokenServicePreferences(c) => Command::SetTokenServicePreferences {
                account_id: id(&c.account_id)?,
                global_endpoint_token_version: u8::try_from(c.global_endpoint_token_version)
                    .map_err(|_| {
                        DecodeError::invalid(
                            "SetTokenServicePreferences.global_endpoint_token_version",
                            "too large",
                        )
                    })?,
            },
            Kind::SetOutboundFederation(c) => Command::SetOutboundFederation {
                account_id: id(&c.account_id)?,
                issuer_url: c.issuer_url,
                enabled: c.enabled,
            },
            Kind::CreateUser(c) => Command::CreateUser {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                path: c.path,
                user_id: c.user_id,
                permissions_boundary: c.permissions_boundary,
                tags: c.tags,
            },
            Kind::UpdateUser(c) => Command::UpdateUser {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                new_user_name: c.new_user_name,
                new_path: c.new_path,
            },
            Kind::DeleteUser(c) => Command::DeleteUser {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
            },
            Kind::CreateAccessKey(c) => Command::CreateAccessKey {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                access_key_id: c.access_key_id,
                sealed_secret: SealedBytes(c.sealed_secret),
            },
            Kind::UpdateAccessKey(c) => Command::UpdateAccessKey {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                access_key_id: c.access_key_id,
                status: status_from_pb(c.status)?,
            },
            Kind::DeleteAccessKey(c) => Command::DeleteAccessKey {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                access_key_id: c.access_key_id,
            },
            Kind::CreateRole(c) => Command::CreateRole {
                account_id: id(&c.account_id)?,
                role_name: c.role_name,
                path: c.path,
                role_id: c.role_id,
                trust_policy: c.trust_policy,
                description: c.description,
                max_session_duration: c.max_session_duration,
                permissions_boundary: c.permissions_boundary,
                tags: c.tags,
            },
            Kind::UpdateRole(c) => Command::UpdateRole {
                account_id: id(&c.account_id)?,
                role_name: c.role_name,
                description: c.description,
                max_session_duration: c.max_session_duration,
            },
            Kind::UpdateAssumeRolePolicy(c) => Command::UpdateAssumeRolePolicy {
                account_id: id(&c.account_id)?,
                role_name: c.role_name,
                document: c.document,
            },
            Kind::DeleteRole(c) => Command::DeleteRole {
                account_id: id(&c.account_id)?,
                role_name: c.role_name,
            },
            Kind::PutInlinePolicy(c) => Command::PutInlinePolicy {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
                policy_name: c.policy_name,
                document: c.document,
            },
            Kind::DeleteInlinePolicy(c) => Command::DeleteInlinePolicy {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
                policy_name: c.policy_name,
            },
            Kind::AttachPolicy(c) => Command::AttachPolicy {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
                policy_arn: c.policy_arn,
            },
            Kind::DetachPolicy(c) => Command::DetachPolicy {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
                policy_arn: c.policy_arn,
            },
            Kind::PutPermissionsBoundary(c) => Command::PutPermissionsBoundary {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
                policy_arn: c.policy_arn,
            },
            Kind::DeletePermissionsBoundary(c) => Command::DeletePermissionsBoundary {
                account_id: id(&c.account_id)?,
                holder: holder_from_pb(c.holder)?,
            },
            Kind::CreatePolicy(c) => Command::CreatePolicy {
                account_id: id(&c.account_id)?,
                policy_name: c.policy_name,
                path: c.path,
                policy_id: c.policy_id,
                document: c.document,
                description: c.description,
                tags: c.tags,
            },
            Kind::DeletePolicy(c) => Command::DeletePolicy {
                account_id: id(&c.account_id)?,
                policy_arn: c.policy_arn,
            },
            Kind::CreatePolicyVersion(c) => Command::CreatePolicyVersion {
                account_id: id(&c.account_id)?,
                policy_arn: c.policy_arn,
                document: c.document,
                set_as_default: c.set_as_default,
            },
            Kind::DeletePolicyVersion(c) => Command::DeletePolicyVersion {
                account_id: id(&c.account_id)?,
                policy_arn: c.policy_arn,
                version: c.version,
            },
            Kind::SetDefaultPolicyVersion(c) => Command::SetDefaultPolicyVersion {
                account_id: id(&c.account_id)?,
                policy_arn: c.policy_arn,
                version: c.version,
            },
            Kind::CreateVirtualMfaDevice(c) => Command::CreateVirtualMfaDevice {
                account_id: id(&c.account_id)?,
                name: c.name,
                path: c.path,
                sealed_seed: SealedBytes(c.sealed_seed),
                tags: c.tags,
            },
            Kind::EnableMfaDevice(c) => Command::EnableMfaDevice {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                serial_number: c.serial_number,
            },
            Kind::DeactivateMfaDevice(c) => Command::DeactivateMfaDevice {
                account_id: id(&c.account_id)?,
                user_name: c.user_name,
                serial_number: c.serial_number,
            },
            Kind::DeleteVirtualMfaDevice(c) => Command::DeleteVirtualMfaDevice {
                account_id: id(&c.account_id)?,
                serial_number: c.serial_number,
            },
            Kind::CreateOidcProvider(c) => Command::CreateOidcProvider {
                account_id: id(&c.account_id)?,
                url: c.url,
                client_ids: c.client_ids,
                thumbprints: c.thumbprints,
                tags: c.tags,
            },
            Kind::DeleteOidcProvider(c) => Command::DeleteOidcProvider {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
            },
            Kind::AddOidcClientId(c) => Command::AddOidcClientId {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
                client_id: c.client_id,
            },
            Kind::RemoveOidcClientId(c) => Command::RemoveOidcClientId {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
                client_id: c.client_id,
            },
            Kind::UpdateOidcThumbprints(c) => Command::UpdateOidcThumbprints {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
                thumbprints: c.thumbprints,
            },
            Kind::CreateSamlProvider(c) => Command::CreateSamlProvider {
                account_id: id(&c.account_id)?,
                name: c.name,
                metadata: c.metadata,
                tags: c.tags,
            },
            Kind::UpdateSamlProvider(c) => Command::UpdateSamlProvider {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
                metadata: c.metadata,
            },
            Kind::DeleteSamlProvider(c) => Command::DeleteSamlProvider {
                account_id: id(&c.account_id)?,
                provider_arn: c.provider_arn,
            },
            Kind::TagResource(c) => Command::TagResource {
                account_id: id(&c.account_id)?,
                target: target_from_pb(c.target)?,
                tags: c.tags,
            },
            Kind::UntagResource(c) => Command::UntagResource {
                account_id: id(&c.account_id)?,
                target: target_from_pb(c.target)?,
                tag_keys: c.tag_keys,
            },
            Kind::StageKey(c) => Command::StageKey {
                purpose: purpose_from_pb(c.purpose)?,
                term: c.term,
                key_id: c.key_id,
                algorithm: c.algorithm,
                sealed_key: SealedBytes(c.sealed_key),
                public_key: c.public_key,
                activate_after: timestamp(c.activate_after_ms),
                expected_latest_term: c.expected_latest_term,
            },
            Kind::ActivateKey(c) => Command::ActivateKey {
                purpose: purpose_from_pb(c.purpose)?,
                term: c.term,
                expected_active_term: c.expected_active_term,
                retired_verify_until: timestamp(c.retired_verify_until_ms),
            },
            Kind::DestroyKey(c) => Command::DestroyKey {
                purpose: purpose_from_pb(c.purpose)?,
                term: c.term,
            },
            Kind::SetKeyRotation(c) => Command::SetKeyRotation {
                settings: rotation_from_pb(required("SetKeyRotation.settings", c.settings)?),
            },
            Kind::Bootstrap(c) => {
                let mut steps = Vec::with_capacity(c.steps.len());
                for step in c.steps {
                    // One level only: a nested bootstrap is never valid, and
                    // refusing it here bounds the decoder's recursion.
                    if matches!(step.kind, Some(Kind::Bootstrap(_))) {
                        return Err(DecodeError::invalid(
                            "Bootstrap.steps",
                            "a bootstrap cannot contain another bootstrap",
                        ));
                    }
                    steps.push(Command::try_from(step)?);
                }
                Command::Bootstrap {
                    node_id: c.node_id,
                    admin: c.admin.map(bootstrap_admin_from_pb).transpose()?,
                    steps,
                }
            }
            Kind::CreateRegion(c) => Command::CreateRegion {
                name: c.name,
                issuance_enabled: c.issuance_enabled,
            },
            Kind::SetRegionIssuance(c) => Command::SetRegionIssuance {
                name: c.name,
                enabled: c.enabled,
            },
            Kind::SetRegionStatus(c) => Command::SetRegionStatus {
                name: c.name,
                status: region_status_from_pb(c.status)?,
            },
            Kind::DeleteRegion(c) => Command::DeleteRegion { name: c.name },
            Kind::RevokeRoleSessions(c) => Command::RevokeRoleSessions {
                account_id: id(&c.account_id)?,
                role_name: c.role_name,
                issued_before: timestamp(c.issued_before_ms),
            },
            Kind::DenySession(c) => Command::DenySession {
                session_id: c.session_id,
                expires_at: timestamp(c.expires_at_ms),
            },
            Kind::ReserveNodeId(_) => Command::ReserveNodeId,
            Kind::RestoreState(c) => Command::RestoreState {
                state: Box::new(crate::pb_impl::impl_config_state::state_from_pb(required(
                    "RestoreState.state",
                    c.state,
                )?)?),
            },
        })
    }
}

/// A bootstrap's administrator, encoded.
pub fn bootstrap_admin_to_pb(admin: &BootstrapAdmin) -> pb::BootstrapAdmin {
    pb::BootstrapAdmin {
        account_id: admin.account_id.as_str().to_owned(),
        user_name: admin.user_name.clone(),
        access_key_id: admin.access_key_id.clone(),
    }
}

/// A bootstrap's administrator, decoded.
pub fn bootstrap_admin_from_pb(admin: pb::BootstrapAdmin) -> Result<BootstrapAdmin, DecodeError> {
    Ok(BootstrapAdmin {
        account_id: account_id("BootstrapAdmin.account_id", &admin.account_id)?,
        user_name: admin.user_name,
        access_key_id: admin.access_key_id,
    })
}
