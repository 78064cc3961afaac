//! Apply logic for the cluster-wide commands: partition and accounts, the key
//! ring, regions, revocations and node ids.
//!
//! Each function checks every precondition before it changes anything; the
//! caller ([`crate::config::state::ConfigState::apply`]) runs it on a scratch
//! copy-on-write view anyway, so a refusal can never leave half a change.

use std::sync::Arc;

use crate::config::cluster::{KeyPurpose, KeyRecord, KeyState, Region, RegionStatus};
use crate::config::command::{Command, Response};
use crate::config::error::{ConfigError, EntityKind};
use crate::config::limits;
use crate::config::model::{Account, OutboundFederation, SealedBytes};
use crate::config::snapshot::{AccountConfig, ConfigSnapshot};
use crate::time::Timestamp;

pub(crate) fn execute(
    view: &mut ConfigSnapshot,
    command: &Command,
    now: Timestamp,
) -> Result<Response, ConfigError> {
    match command {
        Command::SetPartition { partition } => {
            if !view.accounts.is_empty() {
                return Err(ConfigError::precondition(
                    "the partition can only be set while no account exists",
                ));
            }
            view.partition = partition.clone();
            Ok(Response::Done)
        }
        Command::CreateAccount { account_id, name } => {
            limits::check_token("AccountName", name, 64)?;
            if view.accounts.contains_key(account_id) {
                return Err(ConfigError::exists(
                    EntityKind::Account,
                    account_id.as_str(),
                ));
            }
            if view.accounts.len() >= limits::ACCOUNTS_PER_CLUSTER {
                return Err(ConfigError::limit(
                    "AccountsPerCluster",
                    limits::ACCOUNTS_PER_CLUSTER,
                ));
            }
            let account = Account {
                id: *account_id,
                name: name.clone(),
                created_at: now,
                global_endpoint_token_version: 1,
                outbound_federation: None,
            };
            Arc::make_mut(&mut view.accounts)
                .insert(*account_id, Arc::new(AccountConfig::new(account)));
            Ok(Response::Created {
                arn: format!("arn:{}:iam::{}:root", view.partition, account_id),
                id: account_id.as_str().to_owned(),
            })
        }
        Command::DeleteAccount { account_id } => {
            let account = view
                .account(account_id)
                .ok_or_else(|| ConfigError::no_such(EntityKind::Account, account_id.as_str()))?;
            if !account.is_empty() {
                return Err(ConfigError::conflict(
                    EntityKind::Account,
                    account_id.as_str(),
                    "entities",
                ));
            }
            Arc::make_mut(&mut view.accounts).remove(account_id);
            Ok(Response::Done)
        }
        Command::SetTokenServicePreferences {
            account_id,
            global_endpoint_token_version,
        } => {
            if !matches!(global_endpoint_token_version, 1 | 2) {
                return Err(ConfigError::invalid(
                    "GlobalEndpointTokenVersion must be v1Token or v2Token",
                ));
            }
            let accounts = Arc::make_mut(&mut view.accounts);
            let account = accounts
                .get_mut(account_id)
                .ok_or_else(|| ConfigError::no_such(EntityKind::Account, account_id.as_str()))?;
            Arc::make_mut(account).account.global_endpoint_token_version =
                *global_endpoint_token_version;
            Ok(Response::Done)
        }
        Command::SetOutboundFederation {
            account_id,
            issuer_url,
            enabled,
        } => {
            if issuer_url.is_empty() || issuer_url.len() > 512 {
                return Err(ConfigError::invalid(
                    "the issuer URL must be 1 to 512 characters",
                ));
            }
            let accounts = Arc::make_mut(&mut view.accounts);
            let account = accounts
                .get_mut(account_id)
                .ok_or_else(|| ConfigError::no_such(EntityKind::Account, account_id.as_str()))?;
            let account = &mut Arc::make_mut(account).account;
            match &mut account.outbound_federation {
                Some(federation) => federation.enabled = *enabled,
                None if *enabled => {
                    account.outbound_federation = Some(OutboundFederation {
                        issuer_url: issuer_url.clone(),
                        enabled: true,
                    });
                }
                None => {}
            }
            Ok(Response::Done)
        }
        Command::StageKey {
            purpose,
            term,
            key_id,
            algorithm,
            sealed_key,
            public_key,
            activate_after,
            expected_latest_term,
        } => stage_key(
            view,
            now,
            StagedKey {
                purpose: *purpose,
                term: *term,
                key_id,
                algorithm,
                sealed_key,
                public_key,
                activate_after: *activate_after,
                expected_latest_term: *expected_latest_term,
            },
        ),
        Command::ActivateKey {
            purpose,
            term,
            expected_active_term,
            retired_verify_until,
        } => activate_key(
            view,
            now,
            *purpose,
            *term,
            *expected_active_term,
            *retired_verify_until,
        ),
        Command::DestroyKey { purpose, term } => destroy_key(view, now, *purpose, *term),
        Command::SetKeyRotation { settings } => {
            settings.check().map_err(ConfigError::invalid)?;
            Arc::make_mut(&mut view.key_ring).rotation = *settings;
            Ok(Response::Done)
        }
        Command::CreateRegion {
            name,
            issuance_enabled,
        } => {
            limits::check_region_name(name)?;
            if view.regions.contains_key(name) {
                return Err(ConfigError::exists(EntityKind::Region, name));
            }
            if view.regions.len() >= limits::REGIONS_PER_CLUSTER {
                return Err(ConfigError::limit(
                    "RegionsPerCluster",
                    limits::REGIONS_PER_CLUSTER,
                ));
            }
            let region = Region {
                name: name.clone(),
                status: RegionStatus::Active,
                issuance_enabled: *issuance_enabled,
                created_at: now,
            };
            Arc::make_mut(&mut view.regions).insert(name.clone(), region);
            Ok(Response::Done)
        }
        Command::SetRegionIssuance { name, enabled } => {
            region_mut(view, name)?.issuance_enabled = *enabled;
            Ok(Response::Done)
        }
        Command::SetRegionStatus { name, status } => {
            region_mut(view, name)?.status = *status;
            Ok(Response::Done)
        }
        Command::DeleteRegion { name } => {
            if !view.regions.contains_key(name) {
                return Err(ConfigError::no_such(EntityKind::Region, name));
            }
            if view
                .nodes
                .members
                .values()
                .any(|node| &node.info.region == name)
            {
                return Err(ConfigError::conflict(
                    EntityKind::Region,
                    name,
                    "member nodes",
                ));
            }
            Arc::make_mut(&mut view.regions).remove(name);
            Ok(Response::Done)
        }
        Command::RevokeRoleSessions {
            account_id,
            role_name,
            issued_before,
        } => {
            if view.role(account_id, role_name).is_none() {
                return Err(ConfigError::no_such(EntityKind::Role, role_name));
            }
            let key = (
                account_id.as_str().to_owned(),
                role_name.to_ascii_lowercase(),
            );
            let revocations = Arc::make_mut(&mut view.revocations);
            let before = revocations
                .role_sessions_before
                .entry(key)
                .or_insert(*issued_before);
            // Revocations only ever widen: a later, smaller instant changes nothing.
            *before = (*before).max(*issued_before);
            Ok(Response::Done)
        }
        Command::DenySession {
            session_id,
            expires_at,
        } => {
            limits::check_token("SessionId", session_id, 128)?;
            if *expires_at <= now {
                // Already expired: nothing left to deny.
                return Ok(Response::Done);
            }
            let revocations = Arc::make_mut(&mut view.revocations);
            if !revocations.denied_sessions.contains_key(session_id)
                && revocations.denied_sessions.len() >= limits::DENIED_SESSIONS
            {
                return Err(ConfigError::limit(
                    "DeniedSessions",
                    limits::DENIED_SESSIONS,
                ));
            }
            let until = revocations
                .denied_sessions
                .entry(session_id.clone())
                .or_insert(*expires_at);
            *until = (*until).max(*expires_at);
            Ok(Response::Done)
        }
        Command::ReserveNodeId => {
            let nodes = Arc::make_mut(&mut view.nodes);
            let node_id = nodes.next_node_id.max(1);
            nodes.next_node_id = node_id.saturating_add(1);
            Ok(Response::NodeIdReserved { node_id })
        }
        _ => Err(ConfigError::invalid(format!(
            "{} is not a cluster command",
            command.name()
        ))),
    }
}

fn region_mut<'a>(view: &'a mut ConfigSnapshot, name: &str) -> Result<&'a mut Region, ConfigError> {
    Arc::make_mut(&mut view.regions)
        .get_mut(name)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Region, name))
}

struct StagedKey<'a> {
    purpose: KeyPurpose,
    term: u64,
    key_id: &'a str,
    algorithm: &'a str,
    sealed_key: &'a SealedBytes,
    public_key: &'a [u8],
    activate_after: Timestamp,
    expected_latest_term: Option<u64>,
}

fn stage_key(
    view: &mut ConfigSnapshot,
    now: Timestamp,
    staged: StagedKey<'_>,
) -> Result<Response, ConfigError> {
    limits::check_token("KeyId", staged.key_id, 128)?;
    limits::check_token("Algorithm", staged.algorithm, 64)?;
    if staged.sealed_key.0.is_empty()
        || staged.sealed_key.0.len() > 16 * 1024
        || staged.public_key.len() > 16 * 1024
    {
        return Err(ConfigError::invalid(
            "key material must be 1 to 16384 bytes",
        ));
    }
    let latest = view.key_ring.latest_term(staged.purpose);
    if latest != staged.expected_latest_term {
        return Err(ConfigError::precondition(format!(
            "latest {:?} key term is {latest:?}, the proposer expected {:?}",
            staged.purpose, staged.expected_latest_term
        )));
    }
    let next_term = latest.map_or(1, |term| term.saturating_add(1));
    if staged.term != next_term {
        return Err(ConfigError::invalid(format!(
            "the next {:?} key term is {next_term}, not {}",
            staged.purpose, staged.term
        )));
    }
    if view.key_ring.by_key_id(staged.key_id).is_some() {
        return Err(ConfigError::exists(EntityKind::Key, staged.key_id));
    }
    let record = KeyRecord {
        purpose: staged.purpose,
        term: staged.term,
        key_id: staged.key_id.to_owned(),
        algorithm: staged.algorithm.to_owned(),
        state: KeyState::Pending,
        sealed_key: staged.sealed_key.clone(),
        public_key: staged.public_key.to_vec(),
        created_at: now,
        activate_after: staged.activate_after,
        activated_at: None,
        verify_until: None,
    };
    Arc::make_mut(&mut view.key_ring)
        .keys
        .insert((staged.purpose, staged.term), record);
    Ok(Response::Created {
        arn: String::new(),
        id: staged.key_id.to_owned(),
    })
}

fn activate_key(
    view: &mut ConfigSnapshot,
    now: Timestamp,
    purpose: KeyPurpose,
    term: u64,
    expected_active_term: Option<u64>,
    retired_verify_until: Timestamp,
) -> Result<Response, ConfigError> {
    let key = view
        .key_ring
        .get(purpose, term)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Key, format!("{purpose:?}/{term}")))?;
    if key.state != KeyState::Pending {
        return Err(ConfigError::precondition(format!(
            "{purpose:?} key {term} is {:?}, not pending",
            key.state
        )));
    }
    if now < key.activate_after {
        return Err(ConfigError::precondition(format!(
            "{purpose:?} key {term} may not be activated before {}",
            key.activate_after
        )));
    }
    let active = view.key_ring.active(purpose).map(|key| key.term);
    if active != expected_active_term {
        return Err(ConfigError::precondition(format!(
            "active {purpose:?} key term is {active:?}, the proposer expected {expected_active_term:?}"
        )));
    }
    if active.is_some_and(|active| active >= term) {
        return Err(ConfigError::precondition(format!(
            "{purpose:?} key {term} is older than the active key"
        )));
    }
    let ring = Arc::make_mut(&mut view.key_ring);
    if let Some(previous) = active.and_then(|active| ring.keys.get_mut(&(purpose, active))) {
        previous.state = KeyState::VerifyOnly;
        previous.verify_until = Some(retired_verify_until);
    }
    if let Some(key) = ring.keys.get_mut(&(purpose, term)) {
        key.state = KeyState::Active;
        key.activated_at = Some(now);
    }
    Ok(Response::Done)
}

fn destroy_key(
    view: &mut ConfigSnapshot,
    now: Timestamp,
    purpose: KeyPurpose,
    term: u64,
) -> Result<Response, ConfigError> {
    let key = view
        .key_ring
        .get(purpose, term)
        .ok_or_else(|| ConfigError::no_such(EntityKind::Key, format!("{purpose:?}/{term}")))?;
    match key.state {
        KeyState::Destroyed => return Ok(Response::Done),
        KeyState::Active => {
            return Err(ConfigError::conflict(
                EntityKind::Key,
                key.key_id.clone(),
                "its place as the active key",
            ));
        }
        KeyState::VerifyOnly if key.verify_until.is_some_and(|until| now < until) => {
            return Err(ConfigError::precondition(format!(
                "{purpose:?} key {term} still verifies tokens until {}",
                key.verify_until.unwrap_or(now)
            )));
        }
        KeyState::VerifyOnly | KeyState::Pending => {}
    }
    if let Some(key) = Arc::make_mut(&mut view.key_ring)
        .keys
        .get_mut(&(purpose, term))
    {
        key.state = KeyState::Destroyed;
        key.sealed_key = SealedBytes::default();
    }
    Ok(Response::Done)
}
