//! The replicated commands: every change to the configuration is one of these,
//! carried in a Raft log entry and applied by
//! [`crate::config::state::ConfigState::apply`] on every replica.
//!
//! A command carries everything its effect depends on: generated unique ids,
//! sealed secrets and the proposer's clock reading (`issued_at`), so applying
//! it is a pure function of the state and the entry. Preconditions are checked
//! at apply time, never by the proposer alone; leader-only duties (key
//! rotation, clean-up) are commands with compare-and-set preconditions
//! (`expected_latest_term`, `expected_active_term`), so a deposed leader's
//! proposal is refused when applied rather than trusted.
//!
//! Every request has a client-chosen [`RequestId`]: a retry after an unknown
//! outcome (timeout, leader change) reuses it, and the state machine answers
//! the first outcome again instead of applying twice.

use std::fmt;

use crate::arn::Partition;
use crate::config::cluster::{KeyPurpose, KeyRotationSettings, RegionStatus};
use crate::config::model::{AccessKeyStatus, SealedBytes, Tags};
use crate::ids::AccountId;
use crate::time::Timestamp;

/// A client-chosen, random 128-bit id that makes a write idempotent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub [u8; 16]);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

/// One write: the command, who asked (by request id) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRequest {
    /// Makes retries idempotent.
    pub request_id: RequestId,
    /// The proposer's clock when the request was made: the creation date of
    /// what it creates and the "now" of its time-based preconditions.
    pub issued_at: Timestamp,
    /// What to do.
    pub command: Command,
}

impl fmt::Display for ConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: commands carry sealed secrets and documents that have
        // no place in a log line.
        write!(f, "{}({})", self.command.name(), self.request_id)
    }
}

/// The user or role an inline policy, attachment or boundary applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyHolder {
    /// An IAM user, by name.
    User(String),
    /// An IAM role, by name.
    Role(String),
}

/// An entity that can carry tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagTarget {
    /// An IAM user, by name.
    User(String),
    /// An IAM role, by name.
    Role(String),
    /// A managed policy, by ARN.
    Policy(String),
    /// An OIDC provider, by ARN.
    OidcProvider(String),
    /// A SAML provider, by ARN.
    SamlProvider(String),
    /// A virtual MFA device, by serial number.
    MfaDevice(String),
}

/// A change to the replicated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Sets the cluster's partition; only while no account exists.
    SetPartition {
        /// The partition every ARN is minted in.
        partition: Partition,
    },
    /// Creates an account.
    CreateAccount {
        /// Its id.
        account_id: AccountId,
        /// Its name (alias).
        name: String,
    },
    /// Deletes an account that holds no entity.
    DeleteAccount {
        /// Its id.
        account_id: AccountId,
    },
    /// `EnableOutboundWebIdentityFederation` / `Disable…`. Enabling keeps an
    /// issuer URL already recorded (`issuer_url` is used only the first
    /// time); both are idempotent.
    SetOutboundFederation {
        /// The account.
        account_id: AccountId,
        /// The issuer URL to record if the account has none yet.
        issuer_url: String,
        /// Enable or disable.
        enabled: bool,
    },
    /// `SetSecurityTokenServicePreferences`.
    SetTokenServicePreferences {
        /// The account.
        account_id: AccountId,
        /// 1 or 2.
        global_endpoint_token_version: u8,
    },

    /// `CreateUser`.
    CreateUser {
        /// The account.
        account_id: AccountId,
        /// The name.
        user_name: String,
        /// The path.
        path: String,
        /// The generated unique id (`AIDA…`).
        user_id: String,
        /// A permissions boundary policy ARN.
        permissions_boundary: Option<String>,
        /// Tags.
        tags: Tags,
    },
    /// `UpdateUser`: rename and/or move.
    UpdateUser {
        /// The account.
        account_id: AccountId,
        /// The current name.
        user_name: String,
        /// The new name.
        new_user_name: Option<String>,
        /// The new path.
        new_path: Option<String>,
    },
    /// `DeleteUser`: refused while keys, policies or MFA devices remain.
    DeleteUser {
        /// The account.
        account_id: AccountId,
        /// The name.
        user_name: String,
    },
    /// `CreateAccessKey`.
    CreateAccessKey {
        /// The account.
        account_id: AccountId,
        /// The user.
        user_name: String,
        /// The generated access key id (`AKIA…`).
        access_key_id: String,
        /// The generated secret, sealed under the key-encryption key.
        sealed_secret: SealedBytes,
    },
    /// `UpdateAccessKey` (also how a long-term key is revoked).
    UpdateAccessKey {
        /// The account.
        account_id: AccountId,
        /// The user, when the caller named one (checked).
        user_name: Option<String>,
        /// The key.
        access_key_id: String,
        /// The new status.
        status: AccessKeyStatus,
    },
    /// `DeleteAccessKey`.
    DeleteAccessKey {
        /// The account.
        account_id: AccountId,
        /// The user, when the caller named one (checked).
        user_name: Option<String>,
        /// The key.
        access_key_id: String,
    },

    /// `CreateRole`.
    CreateRole {
        /// The account.
        account_id: AccountId,
        /// The name.
        role_name: String,
        /// The path.
        path: String,
        /// The generated unique id (`AROA…`).
        role_id: String,
        /// The trust policy.
        trust_policy: String,
        /// The description.
        description: String,
        /// The maximum session duration in seconds (3600 when absent).
        max_session_duration: Option<u32>,
        /// A permissions boundary policy ARN.
        permissions_boundary: Option<String>,
        /// Tags.
        tags: Tags,
    },
    /// `UpdateRole` / `UpdateRoleDescription`.
    UpdateRole {
        /// The account.
        account_id: AccountId,
        /// The name.
        role_name: String,
        /// A new description.
        description: Option<String>,
        /// A new maximum session duration.
        max_session_duration: Option<u32>,
    },
    /// `UpdateAssumeRolePolicy`.
    UpdateAssumeRolePolicy {
        /// The account.
        account_id: AccountId,
        /// The role.
        role_name: String,
        /// The new trust policy.
        document: String,
    },
    /// `DeleteRole`: refused while policies are attached or inline.
    DeleteRole {
        /// The account.
        account_id: AccountId,
        /// The name.
        role_name: String,
    },

    /// `PutUserPolicy` / `PutRolePolicy`.
    PutInlinePolicy {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
        /// The inline policy's name.
        policy_name: String,
        /// The document.
        document: String,
    },
    /// `DeleteUserPolicy` / `DeleteRolePolicy`.
    DeleteInlinePolicy {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
        /// The inline policy's name.
        policy_name: String,
    },
    /// `AttachUserPolicy` / `AttachRolePolicy`.
    AttachPolicy {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
        /// The managed policy.
        policy_arn: String,
    },
    /// `DetachUserPolicy` / `DetachRolePolicy`.
    DetachPolicy {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
        /// The managed policy.
        policy_arn: String,
    },
    /// `Put{User,Role}PermissionsBoundary`.
    PutPermissionsBoundary {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
        /// The managed policy used as boundary.
        policy_arn: String,
    },
    /// `Delete{User,Role}PermissionsBoundary`.
    DeletePermissionsBoundary {
        /// The account.
        account_id: AccountId,
        /// The user or role.
        holder: PolicyHolder,
    },

    /// `CreatePolicy`.
    CreatePolicy {
        /// The account.
        account_id: AccountId,
        /// The name.
        policy_name: String,
        /// The path.
        path: String,
        /// The generated unique id (`ANPA…`).
        policy_id: String,
        /// The first version's document.
        document: String,
        /// The description.
        description: String,
        /// Tags.
        tags: Tags,
    },
    /// `DeletePolicy`: refused while attached or while it has versions other
    /// than the default.
    DeletePolicy {
        /// The account.
        account_id: AccountId,
        /// The policy.
        policy_arn: String,
    },
    /// `CreatePolicyVersion`.
    CreatePolicyVersion {
        /// The account.
        account_id: AccountId,
        /// The policy.
        policy_arn: String,
        /// The document.
        document: String,
        /// Whether it becomes the default.
        set_as_default: bool,
    },
    /// `DeletePolicyVersion`: refused for the default version.
    DeletePolicyVersion {
        /// The account.
        account_id: AccountId,
        /// The policy.
        policy_arn: String,
        /// The version number.
        version: u32,
    },
    /// `SetDefaultPolicyVersion`.
    SetDefaultPolicyVersion {
        /// The account.
        account_id: AccountId,
        /// The policy.
        policy_arn: String,
        /// The version number.
        version: u32,
    },

    /// `CreateVirtualMFADevice`.
    CreateVirtualMfaDevice {
        /// The account.
        account_id: AccountId,
        /// The device name.
        name: String,
        /// The path.
        path: String,
        /// The generated TOTP seed, sealed under the key-encryption key.
        sealed_seed: SealedBytes,
        /// Tags.
        tags: Tags,
    },
    /// `EnableMFADevice`. The two authentication codes are checked by the
    /// proposer (it alone unseals the seed) before proposing.
    EnableMfaDevice {
        /// The account.
        account_id: AccountId,
        /// The user.
        user_name: String,
        /// The device's serial number.
        serial_number: String,
    },
    /// `DeactivateMFADevice`.
    DeactivateMfaDevice {
        /// The account.
        account_id: AccountId,
        /// The user.
        user_name: String,
        /// The device's serial number.
        serial_number: String,
    },
    /// `DeleteVirtualMFADevice`: refused while enabled for a user.
    DeleteVirtualMfaDevice {
        /// The account.
        account_id: AccountId,
        /// The device's serial number.
        serial_number: String,
    },

    /// `CreateOpenIDConnectProvider`.
    CreateOidcProvider {
        /// The account.
        account_id: AccountId,
        /// The issuer URL.
        url: String,
        /// Audiences.
        client_ids: Vec<String>,
        /// Thumbprints.
        thumbprints: Vec<String>,
        /// Tags.
        tags: Tags,
    },
    /// `DeleteOpenIDConnectProvider`.
    DeleteOidcProvider {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
    },
    /// `AddClientIDToOpenIDConnectProvider`.
    AddOidcClientId {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
        /// The audience to add.
        client_id: String,
    },
    /// `RemoveClientIDFromOpenIDConnectProvider`.
    RemoveOidcClientId {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
        /// The audience to remove.
        client_id: String,
    },
    /// `UpdateOpenIDConnectProviderThumbprint`.
    UpdateOidcThumbprints {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
        /// The new thumbprints.
        thumbprints: Vec<String>,
    },

    /// `CreateSAMLProvider`.
    CreateSamlProvider {
        /// The account.
        account_id: AccountId,
        /// The name.
        name: String,
        /// The metadata document.
        metadata: String,
        /// Tags.
        tags: Tags,
    },
    /// `UpdateSAMLProvider`.
    UpdateSamlProvider {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
        /// The new metadata document.
        metadata: String,
    },
    /// `DeleteSAMLProvider`.
    DeleteSamlProvider {
        /// The account.
        account_id: AccountId,
        /// The provider.
        provider_arn: String,
    },

    /// `Tag*` on a user, role, policy, provider or MFA device.
    TagResource {
        /// The account.
        account_id: AccountId,
        /// What to tag.
        target: TagTarget,
        /// Tags to add or overwrite.
        tags: Tags,
    },
    /// `Untag*`.
    UntagResource {
        /// The account.
        account_id: AccountId,
        /// What to untag.
        target: TagTarget,
        /// Keys to remove.
        tag_keys: Vec<String>,
    },

    /// Stages a new key as pending (verify-only). Compare-and-set: the
    /// purpose's latest term must be `expected_latest_term` and `term` the next one.
    StageKey {
        /// What the key is for.
        purpose: KeyPurpose,
        /// Its term.
        term: u64,
        /// Its id (JWT `kid`, token key id).
        key_id: String,
        /// Its algorithm.
        algorithm: String,
        /// The key, sealed under the key-encryption key.
        sealed_key: SealedBytes,
        /// The public key (DER), for asymmetric keys.
        public_key: Vec<u8>,
        /// The earliest instant it may be activated.
        activate_after: Timestamp,
        /// The latest term the proposer saw.
        expected_latest_term: Option<u64>,
    },
    /// Makes a pending key active; the previously active one becomes
    /// verify-only until `retired_verify_until`. Compare-and-set on the
    /// active term.
    ActivateKey {
        /// What the key is for.
        purpose: KeyPurpose,
        /// The pending key's term.
        term: u64,
        /// The active term the proposer saw.
        expected_active_term: Option<u64>,
        /// Until when the retired key keeps verifying (the longest lifetime
        /// of a token it sealed).
        retired_verify_until: Timestamp,
    },
    /// Destroys a verify-only key whose tokens have all expired, or abandons
    /// a pending one.
    DestroyKey {
        /// What the key is for.
        purpose: KeyPurpose,
        /// Its term.
        term: u64,
    },

    /// Replaces the key-rotation schedule (validated by
    /// [`KeyRotationSettings::check`] at apply time).
    SetKeyRotation {
        /// The new schedule.
        settings: KeyRotationSettings,
    },

    /// Bootstraps the cluster: applies `steps` in order, all or nothing,
    /// then records the fact; refused once the cluster is bootstrapped
    /// (compare-and-set, see `crate::config::cluster::bootstrap`).
    Bootstrap {
        /// The proposing node.
        node_id: u64,
        /// The administrator the steps create, if any.
        admin: Option<crate::config::cluster::bootstrap::BootstrapAdmin>,
        /// The steps (bootstrap commands only).
        steps: Vec<Command>,
    },

    /// Adds a region.
    CreateRegion {
        /// Its name.
        name: String,
        /// Whether it issues credentials.
        issuance_enabled: bool,
    },
    /// Enables or disables issuance in a region.
    SetRegionIssuance {
        /// The region.
        name: String,
        /// Whether it issues credentials.
        enabled: bool,
    },
    /// Marks a region active or draining.
    SetRegionStatus {
        /// The region.
        name: String,
        /// The new status.
        status: RegionStatus,
    },
    /// Removes a region with no member node.
    DeleteRegion {
        /// The region.
        name: String,
    },

    /// Refuses every session of a role issued before `issued_before`.
    RevokeRoleSessions {
        /// The account.
        account_id: AccountId,
        /// The role.
        role_name: String,
        /// Sessions issued strictly before this instant are refused.
        issued_before: Timestamp,
    },
    /// Refuses one session id until it expires.
    DenySession {
        /// The session id the token carries.
        session_id: String,
        /// The session's expiry: the entry is dropped after it.
        expires_at: Timestamp,
    },

    /// Hands out a node id that was never used, for a node about to join.
    ReserveNodeId,

    /// Replaces the configuration with a backup's (`meridian admin
    /// restore`): accounts and their entities, the key ring and its
    /// schedule, regions (merged with the current ones) and revocations.
    /// Membership, the request log and the replicated clock's floor stay
    /// the cluster's own. Only a fresh cluster (at most its bootstrap
    /// account, nothing else) may be restored.
    RestoreState {
        /// The backup's state (its request log is ignored).
        state: Box<crate::config::state::ConfigState>,
    },
}

impl Command {
    /// The command's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::SetPartition { .. } => "SetPartition",
            Command::CreateAccount { .. } => "CreateAccount",
            Command::DeleteAccount { .. } => "DeleteAccount",
            Command::SetTokenServicePreferences { .. } => "SetTokenServicePreferences",
            Command::SetOutboundFederation { .. } => "SetOutboundFederation",
            Command::CreateUser { .. } => "CreateUser",
            Command::UpdateUser { .. } => "UpdateUser",
            Command::DeleteUser { .. } => "DeleteUser",
            Command::CreateAccessKey { .. } => "CreateAccessKey",
            Command::UpdateAccessKey { .. } => "UpdateAccessKey",
            Command::DeleteAccessKey { .. } => "DeleteAccessKey",
            Command::CreateRole { .. } => "CreateRole",
            Command::UpdateRole { .. } => "UpdateRole",
            Command::UpdateAssumeRolePolicy { .. } => "UpdateAssumeRolePolicy",
            Command::DeleteRole { .. } => "DeleteRole",
            Command::PutInlinePolicy { .. } => "PutInlinePolicy",
            Command::DeleteInlinePolicy { .. } => "DeleteInlinePolicy",
            Command::AttachPolicy { .. } => "AttachPolicy",
            Command::DetachPolicy { .. } => "DetachPolicy",
            Command::PutPermissionsBoundary { .. } => "PutPermissionsBoundary",
            Command::DeletePermissionsBoundary { .. } => "DeletePermissionsBoundary",
            Command::CreatePolicy { .. } => "CreatePolicy",
            Command::DeletePolicy { .. } => "DeletePolicy",
            Command::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Command::DeletePolicyVersion { .. } => "DeletePolicyVersion",
            Command::SetDefaultPolicyVersion { .. } => "SetDefaultPolicyVersion",
            Command::CreateVirtualMfaDevice { .. } => "CreateVirtualMfaDevice",
            Command::EnableMfaDevice { .. } => "EnableMfaDevice",
            Command::DeactivateMfaDevice { .. } => "DeactivateMfaDevice",
            Command::DeleteVirtualMfaDevice { .. } => "DeleteVirtualMfaDevice",
            Command::CreateOidcProvider { .. } => "CreateOidcProvider",
            Command::DeleteOidcProvider { .. } => "DeleteOidcProvider",
            Command::AddOidcClientId { .. } => "AddOidcClientId",
            Command::RemoveOidcClientId { .. } => "RemoveOidcClientId",
            Command::UpdateOidcThumbprints { .. } => "UpdateOidcThumbprints",
            Command::CreateSamlProvider { .. } => "CreateSamlProvider",
            Command::UpdateSamlProvider { .. } => "UpdateSamlProvider",
            Command::DeleteSamlProvider { .. } => "DeleteSamlProvider",
            Command::TagResource { .. } => "TagResource",
            Command::UntagResource { .. } => "UntagResource",
            Command::StageKey { .. } => "StageKey",
            Command::ActivateKey { .. } => "ActivateKey",
            Command::DestroyKey { .. } => "DestroyKey",
            Command::SetKeyRotation { .. } => "SetKeyRotation",
            Command::Bootstrap { .. } => "Bootstrap",
            Command::CreateRegion { .. } => "CreateRegion",
            Command::SetRegionIssuance { .. } => "SetRegionIssuance",
            Command::SetRegionStatus { .. } => "SetRegionStatus",
            Command::DeleteRegion { .. } => "DeleteRegion",
            Command::RevokeRoleSessions { .. } => "RevokeRoleSessions",
            Command::DenySession { .. } => "DenySession",
            Command::ReserveNodeId => "ReserveNodeId",
            Command::RestoreState { .. } => "RestoreState",
        }
    }
}

/// What a successfully applied command answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Applied; nothing to report.
    Done,
    /// An entity was created: its ARN (or MFA serial number) and its unique
    /// id (`AIDA…`, `AROA…`, `ANPA…`, access key id), empty when it has none.
    Created {
        /// The ARN or serial number.
        arn: String,
        /// The unique id.
        id: String,
    },
    /// A managed policy version was created.
    PolicyVersionCreated {
        /// Its number.
        version: u32,
    },
    /// A node id was reserved.
    NodeIdReserved {
        /// The id.
        node_id: u64,
    },
}
