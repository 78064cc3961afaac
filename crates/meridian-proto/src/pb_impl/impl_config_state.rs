//! The whole replicated state, as a Raft snapshot holds it
//! (`ConfigStateSnapshot`, format version 1).

use std::collections::BTreeMap;
use std::sync::Arc;

use meridian_core::arn::Partition;
use meridian_core::config::cluster::bootstrap::BootstrapRecord;
use meridian_core::config::cluster::{
    KeyRecord, KeyRing, KeyState, NodeRecord, NodeTable, Region, Revocations,
};
use meridian_core::config::command::RequestId;
use meridian_core::config::model::{
    AccessKey, Account, ManagedPolicy, MfaDevice, OidcProvider, PolicyDocument, PolicyVersion,
    Role, SamlProvider, SealedBytes, User,
};
use meridian_core::config::snapshot::AccountConfig;
use meridian_core::config::state::{ConfigState, ConfigStateParts, RememberedRequest};

use crate::error::DecodeError;
use crate::pb;
use crate::pb_impl::impl_command::{
    bootstrap_admin_from_pb, bootstrap_admin_to_pb, purpose_from_pb, purpose_to_pb,
    region_status_from_pb, region_status_to_pb, rotation_from_pb, rotation_to_pb, status_from_pb,
    status_to_pb,
};
use crate::pb_impl::impl_outcome::{outcome_from_pb, outcome_to_pb};
use crate::pb_impl::{account_id, millis, required, timestamp};

/// The layout version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Encodes the whole state.
pub fn state_to_pb(state: &ConfigState) -> pb::ConfigStateSnapshot {
    let view = state.view();
    let revocations = view.revocations();
    let nodes = view.nodes();
    pb::ConfigStateSnapshot {
        format_version: FORMAT_VERSION,
        partition: view.partition().as_str().to_owned(),
        clock_ms: millis(view.clock()),
        applied_index: view.applied_index(),
        accounts: view.accounts().map(account_to_pb).collect(),
        keys: view.key_ring().keys.values().map(key_to_pb).collect(),
        regions: view
            .regions()
            .values()
            .map(|region| pb::Region {
                name: region.name.clone(),
                status: region_status_to_pb(region.status),
                issuance_enabled: region.issuance_enabled,
                created_at_ms: millis(region.created_at),
            })
            .collect(),
        role_revocations: revocations
            .role_sessions_before
            .iter()
            .map(|((account, role), before)| pb::RoleRevocation {
                account_id: account.clone(),
                role_name: role.clone(),
                issued_before_ms: millis(*before),
            })
            .collect(),
        denied_sessions: revocations
            .denied_sessions
            .iter()
            .map(|(session, expires_at)| pb::DeniedSession {
                session_id: session.clone(),
                expires_at_ms: millis(*expires_at),
            })
            .collect(),
        members: nodes.members.values().map(pb::NodeRecord::from).collect(),
        ever_members: nodes.ever_members.iter().copied().collect(),
        next_node_id: nodes.next_node_id,
        requests: state
            .remembered_requests()
            .map(|seen| pb::RememberedRequest {
                request_id: seen.request_id.0.to_vec(),
                applied_at_ms: millis(seen.applied_at),
                outcome: Some(outcome_to_pb(&seen.outcome)),
            })
            .collect(),
        key_rotation: Some(rotation_to_pb(&view.key_ring().rotation)),
        bootstrap: nodes.bootstrap.as_ref().map(|record| pb::BootstrapRecord {
            at_ms: millis(record.at),
            node_id: record.node_id,
            admin: record.admin.as_ref().map(bootstrap_admin_to_pb),
        }),
    }
}

/// Decodes the whole state, refusing unknown layouts.
pub fn state_from_pb(snapshot: pb::ConfigStateSnapshot) -> Result<ConfigState, DecodeError> {
    if snapshot.format_version != FORMAT_VERSION {
        return Err(DecodeError::invalid(
            "ConfigStateSnapshot.format_version",
            format!("unsupported version {}", snapshot.format_version),
        ));
    }
    let partition = Partition::new(&snapshot.partition)
        .map_err(|err| DecodeError::invalid("ConfigStateSnapshot.partition", err.to_string()))?;
    let mut key_ring = KeyRing {
        rotation: snapshot
            .key_rotation
            .map(rotation_from_pb)
            .unwrap_or_default(),
        ..KeyRing::default()
    };
    for key in snapshot.keys {
        let key = key_from_pb(key)?;
        key_ring.keys.insert((key.purpose, key.term), key);
    }
    let mut regions = BTreeMap::new();
    for region in snapshot.regions {
        regions.insert(
            region.name.clone(),
            Region {
                name: region.name,
                status: region_status_from_pb(region.status)?,
                issuance_enabled: region.issuance_enabled,
                created_at: timestamp(region.created_at_ms),
            },
        );
    }
    let revocations = Revocations {
        role_sessions_before: snapshot
            .role_revocations
            .into_iter()
            .map(|r| ((r.account_id, r.role_name), timestamp(r.issued_before_ms)))
            .collect(),
        denied_sessions: snapshot
            .denied_sessions
            .into_iter()
            .map(|d| (d.session_id, timestamp(d.expires_at_ms)))
            .collect(),
    };
    let mut members = BTreeMap::new();
    for member in snapshot.members {
        let member = NodeRecord::try_from(member)?;
        members.insert(member.id, member);
    }
    let bootstrap = match snapshot.bootstrap {
        None => None,
        Some(record) => Some(BootstrapRecord {
            at: timestamp(record.at_ms),
            node_id: record.node_id,
            admin: record.admin.map(bootstrap_admin_from_pb).transpose()?,
        }),
    };
    let nodes = NodeTable {
        members,
        ever_members: snapshot.ever_members.into_iter().collect(),
        next_node_id: snapshot.next_node_id,
        bootstrap,
    };
    let mut requests = Vec::with_capacity(snapshot.requests.len());
    for seen in snapshot.requests {
        let id: [u8; 16] = seen.request_id.as_slice().try_into().map_err(|_| {
            DecodeError::invalid("RememberedRequest.request_id", "must be 16 bytes")
        })?;
        requests.push(RememberedRequest {
            request_id: RequestId(id),
            applied_at: timestamp(seen.applied_at_ms),
            outcome: outcome_from_pb(required("RememberedRequest.outcome", seen.outcome)?)?,
        });
    }
    let accounts = snapshot
        .accounts
        .into_iter()
        .map(account_from_pb)
        .collect::<Result<Vec<_>, _>>()?;
    let parts = ConfigStateParts {
        partition,
        clock: timestamp(snapshot.clock_ms),
        applied_index: snapshot.applied_index,
        accounts,
        key_ring,
        regions,
        revocations,
        nodes,
        requests,
    };
    ConfigState::from_parts(parts)
        .map_err(|err| DecodeError::invalid("ConfigStateSnapshot", err.to_string()))
}

fn documents_to_pb(documents: &BTreeMap<String, PolicyDocument>) -> BTreeMap<String, String> {
    documents
        .iter()
        .map(|(name, document)| (name.clone(), document.as_str().to_owned()))
        .collect()
}

fn documents_from_pb(documents: BTreeMap<String, String>) -> BTreeMap<String, PolicyDocument> {
    documents
        .into_iter()
        .map(|(name, text)| (name, PolicyDocument(Arc::from(text))))
        .collect()
}

fn account_to_pb(account: &AccountConfig) -> pb::AccountConfig {
    pb::AccountConfig {
        account: Some(pb::Account {
            id: account.account.id.as_str().to_owned(),
            name: account.account.name.clone(),
            created_at_ms: millis(account.account.created_at),
            global_endpoint_token_version: u32::from(account.account.global_endpoint_token_version),
            outbound_federation: account
                .account
                .outbound_federation
                .as_ref()
                .map(|federation| pb::OutboundFederation {
                    issuer_url: federation.issuer_url.clone(),
                    enabled: federation.enabled,
                }),
        }),
        users: account
            .users
            .values()
            .map(|user| user_to_pb(user))
            .collect(),
        roles: account
            .roles
            .values()
            .map(|role| role_to_pb(role))
            .collect(),
        policies: account
            .policies
            .values()
            .map(|policy| policy_to_pb(policy))
            .collect(),
        oidc_providers: account
            .oidc_providers
            .values()
            .map(|provider| pb::OidcProvider {
                url: provider.url.clone(),
                client_ids: provider.client_ids.clone(),
                thumbprints: provider.thumbprints.clone(),
                created_at_ms: millis(provider.created_at),
                tags: provider.tags.clone(),
            })
            .collect(),
        saml_providers: account
            .saml_providers
            .values()
            .map(|provider| pb::SamlProvider {
                name: provider.name.clone(),
                metadata: provider.metadata.to_string(),
                created_at_ms: millis(provider.created_at),
                updated_at_ms: millis(provider.updated_at),
                tags: provider.tags.clone(),
            })
            .collect(),
        mfa_devices: account
            .mfa_devices
            .values()
            .map(|device| pb::MfaDevice {
                name: device.name.clone(),
                path: device.path.clone(),
                created_at_ms: millis(device.created_at),
                sealed_seed: device.sealed_seed.0.clone(),
                user: device.user.clone(),
                enabled_at_ms: device.enabled_at.map(millis),
                tags: device.tags.clone(),
            })
            .collect(),
    }
}

fn account_from_pb(account: pb::AccountConfig) -> Result<AccountConfig, DecodeError> {
    let header = required("AccountConfig.account", account.account)?;
    let mut config = AccountConfig::new(Account {
        id: account_id("Account.id", &header.id)?,
        name: header.name,
        created_at: timestamp(header.created_at_ms),
        global_endpoint_token_version: u8::try_from(header.global_endpoint_token_version).map_err(
            |_| DecodeError::invalid("Account.global_endpoint_token_version", "too large"),
        )?,
        outbound_federation: header.outbound_federation.map(|federation| {
            meridian_core::config::model::OutboundFederation {
                issuer_url: federation.issuer_url,
                enabled: federation.enabled,
            }
        }),
    });
    for user in account.users {
        let user = user_from_pb(user)?;
        config
            .users
            .insert(user.name.to_ascii_lowercase(), Arc::new(user));
    }
    for role in account.roles {
        let role = Role {
            name: role.name,
            path: role.path,
            role_id: role.role_id,
            created_at: timestamp(role.created_at_ms),
            trust_policy: PolicyDocument(Arc::from(role.trust_policy)),
            description: role.description,
            max_session_duration: role.max_session_duration,
            permissions_boundary: role.permissions_boundary,
            tags: role.tags,
            inline_policies: documents_from_pb(role.inline_policies),
            attached_policies: role.attached_policies.into_iter().collect(),
        };
        config
            .roles
            .insert(role.name.to_ascii_lowercase(), Arc::new(role));
    }
    for policy in account.policies {
        let policy = ManagedPolicy {
            name: policy.name,
            path: policy.path,
            policy_id: policy.policy_id,
            description: policy.description,
            created_at: timestamp(policy.created_at_ms),
            updated_at: timestamp(policy.updated_at_ms),
            default_version: policy.default_version,
            next_version: policy.next_version,
            versions: policy
                .versions
                .into_iter()
                .map(|v| {
                    let version = PolicyVersion {
                        version: v.version,
                        document: PolicyDocument(Arc::from(v.document)),
                        created_at: timestamp(v.created_at_ms),
                    };
                    (version.version, version)
                })
                .collect(),
            tags: policy.tags,
        };
        config
            .policies
            .insert(policy.name.to_ascii_lowercase(), Arc::new(policy));
    }
    for provider in account.oidc_providers {
        let provider = OidcProvider {
            url: provider.url,
            client_ids: provider.client_ids,
            thumbprints: provider.thumbprints,
            created_at: timestamp(provider.created_at_ms),
            tags: provider.tags,
        };
        config
            .oidc_providers
            .insert(provider.resource().to_owned(), Arc::new(provider));
    }
    for provider in account.saml_providers {
        let provider = SamlProvider {
            name: provider.name,
            // Derived, not stored: read again from the metadata.
            idp: meridian_core::saml::IdpMetadata::parse(&provider.metadata).ok(),
            metadata: Arc::from(provider.metadata),
            created_at: timestamp(provider.created_at_ms),
            updated_at: timestamp(provider.updated_at_ms),
            tags: provider.tags,
        };
        config
            .saml_providers
            .insert(provider.name.clone(), Arc::new(provider));
    }
    for device in account.mfa_devices {
        let device = MfaDevice {
            name: device.name,
            path: device.path,
            created_at: timestamp(device.created_at_ms),
            sealed_seed: SealedBytes(device.sealed_seed),
            user: device.user,
            enabled_at: device.enabled_at_ms.map(timestamp),
            tags: device.tags,
        };
        config
            .mfa_devices
            .insert(device.name.clone(), Arc::new(device));
    }
    Ok(config)
}

fn user_to_pb(user: &User) -> pb::User {
    pb::User {
        name: user.name.clone(),
        path: user.path.clone(),
        user_id: user.user_id.clone(),
        created_at_ms: millis(user.created_at),
        permissions_boundary: user.permissions_boundary.clone(),
        tags: user.tags.clone(),
        inline_policies: documents_to_pb(&user.inline_policies),
        attached_policies: user.attached_policies.iter().cloned().collect(),
        access_keys: user
            .access_keys
            .values()
            .map(|key| pb::AccessKey {
                id: key.id.clone(),
                status: status_to_pb(key.status),
                created_at_ms: millis(key.created_at),
                sealed_secret: key.sealed_secret.0.clone(),
            })
            .collect(),
        mfa_devices: user.mfa_devices.iter().cloned().collect(),
    }
}

fn user_from_pb(user: pb::User) -> Result<User, DecodeError> {
    let mut access_keys = BTreeMap::new();
    for key in user.access_keys {
        access_keys.insert(
            key.id.clone(),
            AccessKey {
                id: key.id,
                status: status_from_pb(key.status)?,
                created_at: timestamp(key.created_at_ms),
                sealed_secret: SealedBytes(key.sealed_secret),
            },
        );
    }
    Ok(User {
        name: user.name,
        path: user.path,
        user_id: user.user_id,
        created_at: timestamp(user.created_at_ms),
        permissions_boundary: user.permissions_boundary,
        tags: user.tags,
        inline_policies: documents_from_pb(user.inline_policies),
        attached_policies: user.attached_policies.into_iter().collect(),
        access_keys,
        mfa_devices: user.mfa_devices.into_iter().collect(),
    })
}

fn role_to_pb(role: &Role) -> pb::Role {
    pb::Role {
        name: role.name.clone(),
        path: role.path.clone(),
        role_id: role.role_id.clone(),
        created_at_ms: millis(role.created_at),
        trust_policy: role.trust_policy.as_str().to_owned(),
        description: role.description.clone(),
        max_session_duration: role.max_session_duration,
        permissions_boundary: role.permissions_boundary.clone(),
        tags: role.tags.clone(),
        inline_policies: documents_to_pb(&role.inline_policies),
        attached_policies: role.attached_policies.iter().cloned().collect(),
    }
}

fn policy_to_pb(policy: &ManagedPolicy) -> pb::ManagedPolicy {
    pb::ManagedPolicy {
        name: policy.name.clone(),
        path: policy.path.clone(),
        policy_id: policy.policy_id.clone(),
        description: policy.description.clone(),
        created_at_ms: millis(policy.created_at),
        updated_at_ms: millis(policy.updated_at),
        default_version: policy.default_version,
        next_version: policy.next_version,
        versions: policy
            .versions
            .values()
            .map(|version| pb::PolicyVersion {
                version: version.version,
                document: version.document.as_str().to_owned(),
                created_at_ms: millis(version.created_at),
            })
            .collect(),
        tags: policy.tags.clone(),
    }
}

fn key_state_to_pb(state: KeyState) -> i32 {
    match state {
        KeyState::Pending => pb::KeyState::Pending as i32,
        KeyState::Active => pb::KeyState::Active as i32,
        KeyState::VerifyOnly => pb::KeyState::VerifyOnly as i32,
        KeyState::Destroyed => pb::KeyState::Destroyed as i32,
    }
}

fn key_state_from_pb(value: i32) -> Result<KeyState, DecodeError> {
    match pb::KeyState::try_from(value) {
        Ok(pb::KeyState::Pending) => Ok(KeyState::Pending),
        Ok(pb::KeyState::Active) => Ok(KeyState::Active),
        Ok(pb::KeyState::VerifyOnly) => Ok(KeyState::VerifyOnly),
        Ok(pb::KeyState::Destroyed) => Ok(KeyState::Destroyed),
        _ => Err(DecodeError::invalid(
            "KeyState",
            format!("unknown value {value}"),
        )),
    }
}

fn key_to_pb(key: &KeyRecord) -> pb::KeyRecord {
    pb::KeyRecord {
        purpose: purpose_to_pb(key.purpose),
        term: key.term,
        key_id: key.key_id.clone(),
        algorithm: key.algorithm.clone(),
        state: key_state_to_pb(key.state),
        sealed_key: key.sealed_key.0.clone(),
        public_key: key.public_key.clone(),
        created_at_ms: millis(key.created_at),
        activate_after_ms: millis(key.activate_after),
        activated_at_ms: key.activated_at.map(millis),
        verify_until_ms: key.verify_until.map(millis),
    }
}

fn key_from_pb(key: pb::KeyRecord) -> Result<KeyRecord, DecodeError> {
    Ok(KeyRecord {
        purpose: purpose_from_pb(key.purpose)?,
        term: key.term,
        key_id: key.key_id,
        algorithm: key.algorithm,
        state: key_state_from_pb(key.state)?,
        sealed_key: SealedBytes(key.sealed_key),
        public_key: key.public_key,
        created_at: timestamp(key.created_at_ms),
        activate_after: timestamp(key.activate_after_ms),
        activated_at: key.activated_at_ms.map(timestamp),
        verify_until: key.verify_until_ms.map(timestamp),
    })
}
