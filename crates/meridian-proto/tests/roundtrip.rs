//! Every command, and a state built from them, survives encoding to protobuf
//! bytes and back unchanged; malformed messages are refused, not guessed at.

use std::collections::BTreeMap;

use meridian_core::arn::Partition;
use meridian_core::config::cluster::{KeyPurpose, NodeInfo, NodeRecord, RegionStatus};
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId, TagTarget};
use meridian_core::config::model::{AccessKeyStatus, SealedBytes};
use meridian_core::config::state::ConfigState;
use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;
use meridian_proto::pb;
use meridian_proto::pb_impl::impl_config_state::{state_from_pb, state_to_pb};
use meridian_proto::pb_impl::impl_outcome::{outcome_from_pb, outcome_to_pb};
use prost::Message;

const POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

fn account() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn tags() -> BTreeMap<String, String> {
    BTreeMap::from([(String::from("team"), String::from("core"))])
}

/// One of every command, in an order in which each applies successfully.
fn commands() -> Vec<Command> {
    let a = account();
    let policy = String::from("arn:aws:iam::123456789012:policy/Admin");
    let oidc = String::from("arn:aws:iam::123456789012:oidc-provider/idp.example.com");
    let saml = String::from("arn:aws:iam::123456789012:saml-provider/corp");
    let serial = String::from("arn:aws:iam::123456789012:mfa/phone");
    let user = || PolicyHolder::User(String::from("alice"));
    let role = || PolicyHolder::Role(String::from("app"));
    vec![
        Command::SetPartition {
            partition: Partition::aws(),
        },
        Command::CreateAccount {
            account_id: a,
            name: String::from("tenant"),
        },
        Command::SetTokenServicePreferences {
            account_id: a,
            global_endpoint_token_version: 2,
        },
        Command::SetOutboundFederation {
            account_id: a,
            issuer_url: String::from("https://sts.example.com/oidc/0123abcd"),
            enabled: true,
        },
        Command::CreatePolicy {
            account_id: a,
            policy_name: String::from("Admin"),
            path: String::from("/"),
            policy_id: String::from("ANPAADMIN00000000001"),
            document: POLICY.to_owned(),
            description: String::from("all"),
            tags: tags(),
        },
        Command::CreatePolicyVersion {
            account_id: a,
            policy_arn: policy.clone(),
            document: POLICY.to_owned(),
            set_as_default: true,
        },
        Command::SetDefaultPolicyVersion {
            account_id: a,
            policy_arn: policy.clone(),
            version: 1,
        },
        Command::DeletePolicyVersion {
            account_id: a,
            policy_arn: policy.clone(),
            version: 2,
        },
        Command::CreateUser {
            account_id: a,
            user_name: String::from("alice"),
            path: String::from("/"),
            user_id: String::from("AIDAALICE00000000001"),
            permissions_boundary: Some(policy.clone()),
            tags: tags(),
        },
        Command::UpdateUser {
            account_id: a,
            user_name: String::from("alice"),
            new_user_name: None,
            new_path: Some(String::from("/staff/")),
        },
        Command::CreateAccessKey {
            account_id: a,
            user_name: String::from("alice"),
            access_key_id: String::from("AKIAALICE00000000001"),
            sealed_secret: SealedBytes(vec![1, 2, 3]),
        },
        Command::UpdateAccessKey {
            account_id: a,
            user_name: Some(String::from("alice")),
            access_key_id: String::from("AKIAALICE00000000001"),
            status: AccessKeyStatus::Inactive,
        },
        Command::CreateAccessKey {
            account_id: a,
            user_name: String::from("alice"),
            access_key_id: String::from("AKIAALICE00000000002"),
            sealed_secret: SealedBytes(vec![4]),
        },
        Command::DeleteAccessKey {
            account_id: a,
            user_name: None,
            access_key_id: String::from("AKIAALICE00000000002"),
        },
        Command::CreateRole {
            account_id: a,
            role_name: String::from("app"),
            path: String::from("/"),
            role_id: String::from("AROAAPP0000000000001"),
            trust_policy: TRUST.to_owned(),
            description: String::from("d"),
            max_session_duration: Some(7200),
            permissions_boundary: None,
            tags: tags(),
        },
        Command::UpdateRole {
            account_id: a,
            role_name: String::from("app"),
            description: Some(String::from("e")),
            max_session_duration: None,
        },
        Command::UpdateAssumeRolePolicy {
            account_id: a,
            role_name: String::from("app"),
            document: TRUST.to_owned(),
        },
        Command::PutInlinePolicy {
            account_id: a,
            holder: role(),
            policy_name: String::from("inline"),
            document: POLICY.to_owned(),
        },
        Command::PutInlinePolicy {
            account_id: a,
            holder: user(),
            policy_name: String::from("mine"),
            document: POLICY.to_owned(),
        },
        Command::DeleteInlinePolicy {
            account_id: a,
            holder: user(),
            policy_name: String::from("mine"),
        },
        Command::AttachPolicy {
            account_id: a,
            holder: role(),
            policy_arn: policy.clone(),
        },
        Command::AttachPolicy {
            account_id: a,
            holder: user(),
            policy_arn: policy.clone(),
        },
        Command::DetachPolicy {
            account_id: a,
            holder: user(),
            policy_arn: policy.clone(),
        },
        Command::PutPermissionsBoundary {
            account_id: a,
            holder: role(),
            policy_arn: policy.clone(),
        },
        Command::DeletePermissionsBoundary {
            account_id: a,
            holder: role(),
        },
        Command::CreateVirtualMfaDevice {
            account_id: a,
            name: String::from("phone"),
            path: String::from("/"),
            sealed_seed: SealedBytes(vec![9; 20]),
            tags: tags(),
        },
        Command::EnableMfaDevice {
            account_id: a,
            user_name: String::from("alice"),
            serial_number: serial.clone(),
        },
        Command::CreateVirtualMfaDevice {
            account_id: a,
            name: String::from("spare"),
            path: String::from("/"),
            sealed_seed: SealedBytes(vec![8; 20]),
            tags: BTreeMap::new(),
        },
        Command::DeleteVirtualMfaDevice {
            account_id: a,
            serial_number: String::from("arn:aws:iam::123456789012:mfa/spare"),
        },
        Command::CreateOidcProvider {
            account_id: a,
            url: String::from("https://idp.example.com"),
            client_ids: vec![String::from("sts")],
            thumbprints: vec!["ab".repeat(20)],
            tags: tags(),
        },
        Command::AddOidcClientId {
            account_id: a,
            provider_arn: oidc.clone(),
            client_id: String::from("other"),
        },
        Command::RemoveOidcClientId {
            account_id: a,
            provider_arn: oidc.clone(),
            client_id: String::from("sts"),
        },
        Command::UpdateOidcThumbprints {
            account_id: a,
            provider_arn: oidc.clone(),
            thumbprints: vec!["cd".repeat(20)],
        },
        Command::CreateSamlProvider {
            account_id: a,
            name: String::from("corp"),
            metadata: "m".repeat(1000),
            tags: tags(),
        },
        Command::UpdateSamlProvider {
            account_id: a,
            provider_arn: saml.clone(),
            metadata: "n".repeat(1000),
        },
        Command::TagResource {
            account_id: a,
            target: TagTarget::Policy(policy.clone()),
            tags: BTreeMap::from([(String::from("x"), String::from("y"))]),
        },
        Command::TagResource {
            account_id: a,
            target: TagTarget::MfaDevice(serial.clone()),
            tags: tags(),
        },
        Command::TagResource {
            account_id: a,
            target: TagTarget::OidcProvider(oidc.clone()),
            tags: tags(),
        },
        Command::TagResource {
            account_id: a,
            target: TagTarget::SamlProvider(saml.clone()),
            tags: tags(),
        },
        Command::TagResource {
            account_id: a,
            target: TagTarget::User(String::from("alice")),
            tags: BTreeMap::from([(String::from("y"), String::new())]),
        },
        Command::UntagResource {
            account_id: a,
            target: TagTarget::Role(String::from("app")),
            tag_keys: vec![String::from("team")],
        },
        Command::StageKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            key_id: String::from("k1"),
            algorithm: String::from("AES-256-GCM"),
            sealed_key: SealedBytes(vec![5; 60]),
            public_key: vec![],
            activate_after: Timestamp::from_unix_millis(0),
            expected_latest_term: None,
        },
        Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            expected_active_term: None,
            retired_verify_until: Timestamp::from_unix_millis(0),
        },
        Command::StageKey {
            purpose: KeyPurpose::JwtSigning,
            term: 1,
            key_id: String::from("j1"),
            algorithm: String::from("ES256"),
            sealed_key: SealedBytes(vec![6; 40]),
            public_key: vec![7; 91],
            activate_after: Timestamp::from_unix_millis(0),
            expected_latest_term: None,
        },
        Command::DestroyKey {
            purpose: KeyPurpose::JwtSigning,
            term: 1,
        },
        Command::CreateRegion {
            name: String::from("us-east-1"),
            issuance_enabled: true,
        },
        Command::CreateRegion {
            name: String::from("eu-west-1"),
            issuance_enabled: true,
        },
        Command::SetRegionIssuance {
            name: String::from("eu-west-1"),
            enabled: false,
        },
        Command::SetRegionStatus {
            name: String::from("eu-west-1"),
            status: RegionStatus::Draining,
        },
        Command::DeleteRegion {
            name: String::from("eu-west-1"),
        },
        Command::RevokeRoleSessions {
            account_id: a,
            role_name: String::from("app"),
            issued_before: Timestamp::from_unix_millis(1_800_000_000_000),
        },
        Command::DenySession {
            session_id: String::from("session-1"),
            expires_at: Timestamp::from_unix_millis(4_000_000_000_000),
        },
        Command::ReserveNodeId,
        Command::CreateAccount {
            account_id: AccountId::parse("000000000001").unwrap(),
            name: String::from("gone"),
        },
        Command::DeleteAccount {
            account_id: AccountId::parse("000000000001").unwrap(),
        },
        Command::CreateUser {
            account_id: a,
            user_name: String::from("bob"),
            path: String::from("/"),
            user_id: String::from("AIDABOB0000000000001"),
            permissions_boundary: None,
            tags: BTreeMap::new(),
        },
        Command::DeleteUser {
            account_id: a,
            user_name: String::from("bob"),
        },
        Command::CreateRole {
            account_id: a,
            role_name: String::from("tmp"),
            path: String::from("/"),
            role_id: String::from("AROATMP0000000000001"),
            trust_policy: TRUST.to_owned(),
            description: String::new(),
            max_session_duration: None,
            permissions_boundary: None,
            tags: BTreeMap::new(),
        },
        Command::DeleteRole {
            account_id: a,
            role_name: String::from("tmp"),
        },
        Command::CreatePolicy {
            account_id: a,
            policy_name: String::from("Tmp"),
            path: String::from("/"),
            policy_id: String::from("ANPATMP0000000000001"),
            document: POLICY.to_owned(),
            description: String::new(),
            tags: BTreeMap::new(),
        },
        Command::DeletePolicy {
            account_id: a,
            policy_arn: String::from("arn:aws:iam::123456789012:policy/Tmp"),
        },
        Command::CreateOidcProvider {
            account_id: a,
            url: String::from("https://gone.example.com"),
            client_ids: vec![],
            thumbprints: vec![],
            tags: BTreeMap::new(),
        },
        Command::DeleteOidcProvider {
            account_id: a,
            provider_arn: String::from("arn:aws:iam::123456789012:oidc-provider/gone.example.com"),
        },
        Command::CreateSamlProvider {
            account_id: a,
            name: String::from("gone"),
            metadata: "m".repeat(1000),
            tags: BTreeMap::new(),
        },
        Command::DeleteSamlProvider {
            account_id: a,
            provider_arn: String::from("arn:aws:iam::123456789012:saml-provider/gone"),
        },
        Command::DeactivateMfaDevice {
            account_id: a,
            user_name: String::from("alice"),
            serial_number: serial.clone(),
        },
        Command::EnableMfaDevice {
            account_id: a,
            user_name: String::from("alice"),
            serial_number: serial,
        },
    ]
}

fn request(n: u64, command: Command) -> ConfigRequest {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    ConfigRequest {
        request_id: RequestId(id),
        issued_at: Timestamp::from_unix_millis(1_800_000_000_000 + i64::try_from(n).unwrap()),
        command,
    }
}

#[test]
fn every_command_round_trips_through_bytes() {
    let commands = commands();
    // One of every variant, so that a new variant without a test shows up here.
    let mut names: Vec<&str> = commands.iter().map(Command::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 50, "{names:?}");
    for (n, command) in commands.into_iter().enumerate() {
        let request = request(u64::try_from(n).unwrap(), command);
        let bytes = pb::ConfigRequest::from(&request).encode_to_vec();
        let decoded =
            ConfigRequest::try_from(pb::ConfigRequest::decode(bytes.as_slice()).unwrap()).unwrap();
        assert_eq!(decoded, request);
    }
}

#[test]
fn a_state_round_trips_through_bytes() {
    let mut state = ConfigState::new();
    for (n, command) in commands().into_iter().enumerate() {
        let name = command.name();
        let outcome = state.apply(&request(u64::try_from(n).unwrap(), command));
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
    // A refusal is part of the state too (request-id dedupe).
    let refused = state.apply(&request(
        999,
        Command::DeleteRole {
            account_id: account(),
            role_name: String::from("zed"),
        },
    ));
    assert!(refused.is_err());
    state.apply_membership(vec![NodeRecord {
        id: 3,
        info: NodeInfo {
            region: String::from("us-east-1"),
            raft_addr: String::from("http://127.0.0.1:7203"),
            api_addr: String::new(),
        },
        voter: true,
    }]);
    state.set_applied_index(77);

    let bytes = state_to_pb(&state).encode_to_vec();
    let decoded =
        state_from_pb(pb::ConfigStateSnapshot::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(decoded, state);
    // Deterministic: the same state encodes to the same bytes.
    assert_eq!(state_to_pb(&decoded).encode_to_vec(), bytes);

    for outcome in [
        refused.clone(),
        Ok(meridian_core::config::command::Response::NodeIdReserved { node_id: 4 }),
    ] {
        assert_eq!(outcome_from_pb(outcome_to_pb(&outcome)).unwrap(), outcome);
    }
}

#[test]
fn malformed_messages_are_refused() {
    let good = pb::ConfigRequest::from(&request(1, Command::ReserveNodeId));
    let mut short_id = good.clone();
    short_id.request_id.pop();
    let mut no_command = good.clone();
    no_command.command = None;
    let mut bad_account = pb::ConfigRequest::from(&request(
        2,
        Command::DeleteAccount {
            account_id: account(),
        },
    ));
    if let Some(pb::command::Kind::DeleteAccount(delete)) =
        bad_account.command.as_mut().and_then(|c| c.kind.as_mut())
    {
        delete.account_id = String::from("12345");
    }
    for bad in [short_id, no_command, bad_account] {
        assert!(ConfigRequest::try_from(bad).is_err());
    }
    let mut future = state_to_pb(&ConfigState::new());
    future.format_version = 2;
    assert!(state_from_pb(future).is_err());
}
