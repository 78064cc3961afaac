//! Tests of `ConfigState::apply`: one table row per command precondition and
//! refusal, plus request-id dedupe, atomicity of refusals, the key lifecycle,
//! expiry of time-bound state and the parts round trip.

use std::collections::BTreeMap;

use crate::arn::Partition;
use crate::config::cluster::{KeyPurpose, KeyState, NodeInfo, NodeRecord, RegionStatus};
use crate::config::command::{
    Command, ConfigRequest, PolicyHolder, RequestId, Response, TagTarget,
};
use crate::config::error::ConfigError;
use crate::config::model::{AccessKeyStatus, SealedBytes, Tags};
use crate::config::state::{ConfigState, REQUEST_RETENTION_MILLIS};
use crate::ids::AccountId;
use crate::time::Timestamp;

const T0: i64 = 1_800_000_000_000;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

fn a() -> AccountId {
    AccountId::parse("111111111111").unwrap()
}

fn b() -> AccountId {
    AccountId::parse("222222222222").unwrap()
}

fn policy_arn(name: &str) -> String {
    format!("arn:aws:iam::111111111111:policy/{name}")
}

fn mfa_serial(name: &str) -> String {
    format!("arn:aws:iam::111111111111:mfa/{name}")
}

fn oidc_arn() -> String {
    String::from("arn:aws:iam::111111111111:oidc-provider/idp.example.com")
}

fn saml_arn() -> String {
    String::from("arn:aws:iam::111111111111:saml-provider/corp")
}

fn saml_metadata() -> String {
    format!("<EntityDescriptor>{}</EntityDescriptor>", "x".repeat(1000))
}

/// Applies requests with fresh ids and an advancing clock.
struct Driver {
    state: ConfigState,
    counter: u64,
    now: i64,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            state: ConfigState::new(),
            counter: 0,
            now: T0,
        }
    }

    fn request(&mut self, command: Command) -> ConfigRequest {
        self.counter += 1;
        self.now += 1000;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.counter.to_be_bytes());
        ConfigRequest {
            request_id: RequestId(id),
            issued_at: Timestamp::from_unix_millis(self.now),
            command,
        }
    }

    fn apply(&mut self, command: Command) -> Result<Response, ConfigError> {
        let request = self.request(command);
        self.state.apply(&request)
    }

    fn ok(&mut self, command: Command) -> Response {
        let name = command.name();
        match self.apply(command) {
            Ok(response) => response,
            Err(err) => panic!("{name} refused: {err}"),
        }
    }
}

fn create_user(name: &str, id: &str) -> Command {
    Command::CreateUser {
        account_id: a(),
        user_name: name.to_owned(),
        path: String::from("/"),
        user_id: id.to_owned(),
        permissions_boundary: None,
        tags: Tags::new(),
    }
}

fn create_role(name: &str, id: &str) -> Command {
    Command::CreateRole {
        account_id: a(),
        role_name: name.to_owned(),
        path: String::from("/"),
        role_id: id.to_owned(),
        trust_policy: TRUST.to_owned(),
        description: String::new(),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Tags::new(),
    }
}

fn create_policy(name: &str, id: &str) -> Command {
    Command::CreatePolicy {
        account_id: a(),
        policy_name: name.to_owned(),
        path: String::from("/"),
        policy_id: id.to_owned(),
        document: POLICY.to_owned(),
        description: String::new(),
        tags: Tags::new(),
    }
}

fn access_key(user: &str, id: &str) -> Command {
    Command::CreateAccessKey {
        account_id: a(),
        user_name: user.to_owned(),
        access_key_id: id.to_owned(),
        sealed_secret: SealedBytes(vec![7; 48]),
    }
}

fn mfa_device(name: &str) -> Command {
    Command::CreateVirtualMfaDevice {
        account_id: a(),
        name: name.to_owned(),
        path: String::from("/"),
        sealed_seed: SealedBytes(vec![9; 32]),
        tags: Tags::new(),
    }
}

fn tags(count: usize) -> Tags {
    (0..count)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect()
}

fn stage(term: u64, expected: Option<u64>, key_id: &str) -> Command {
    Command::StageKey {
        purpose: KeyPurpose::SessionToken,
        term,
        key_id: key_id.to_owned(),
        algorithm: String::from("AES-256-GCM"),
        sealed_key: SealedBytes(vec![1; 60]),
        public_key: Vec::new(),
        activate_after: Timestamp::from_unix_millis(T0),
        expected_latest_term: expected,
    }
}

/// Account A with user alice, role app, policy ReadOnly and region us-east-1;
/// account B empty.
fn base() -> Driver {
    let mut d = Driver::new();
    d.ok(Command::CreateAccount {
        account_id: a(),
        name: String::from("tenant-a"),
    });
    d.ok(Command::CreateAccount {
        account_id: b(),
        name: String::from("tenant-b"),
    });
    d.ok(create_user("alice", "AIDAALICE00000000001"));
    d.ok(create_role("app", "AROAAPP0000000000001"));
    d.ok(create_policy("ReadOnly", "ANPAREADONLY00000001"));
    d.ok(Command::CreateRegion {
        name: String::from("us-east-1"),
        issuance_enabled: true,
    });
    d
}

/// One row: extra setup on top of [`base`], then a command and the expected
/// outcome (`None` for success, or the IAM error code).
struct Row {
    name: &'static str,
    setup: Vec<Command>,
    command: Command,
    expect: Option<&'static str>,
}

fn row(
    name: &'static str,
    setup: Vec<Command>,
    command: Command,
    expect: Option<&'static str>,
) -> Row {
    Row {
        name,
        setup,
        command,
        expect,
    }
}

fn user_holder() -> PolicyHolder {
    PolicyHolder::User(String::from("alice"))
}

fn role_holder() -> PolicyHolder {
    PolicyHolder::Role(String::from("app"))
}

fn rows() -> Vec<Row> {
    let attach_role = Command::AttachPolicy {
        account_id: a(),
        holder: role_holder(),
        policy_arn: policy_arn("ReadOnly"),
    };
    let put_role_policy = |name: &str, document: String| Command::PutInlinePolicy {
        account_id: a(),
        holder: role_holder(),
        policy_name: name.to_owned(),
        document,
    };
    let big_policy = |size: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "b".repeat(size)
        )
    };
    vec![
        // accounts
        row(
            "create account twice",
            vec![],
            Command::CreateAccount {
                account_id: a(),
                name: String::from("x"),
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "delete non-empty account",
            vec![],
            Command::DeleteAccount { account_id: a() },
            Some("DeleteConflict"),
        ),
        row(
            "delete empty account",
            vec![],
            Command::DeleteAccount { account_id: b() },
            None,
        ),
        row(
            "delete missing account",
            vec![],
            Command::DeleteAccount {
                account_id: AccountId::parse("333333333333").unwrap(),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "partition after accounts",
            vec![],
            Command::SetPartition {
                partition: Partition::new("aws-cn").unwrap(),
            },
            Some("ConcurrentModification"),
        ),
        row(
            "token version 3",
            vec![],
            Command::SetTokenServicePreferences {
                account_id: a(),
                global_endpoint_token_version: 3,
            },
            Some("InvalidInput"),
        ),
        row(
            "token version 2",
            vec![],
            Command::SetTokenServicePreferences {
                account_id: a(),
                global_endpoint_token_version: 2,
            },
            None,
        ),
        // users
        row(
            "user in missing account",
            vec![],
            Command::CreateUser {
                account_id: AccountId::parse("333333333333").unwrap(),
                user_name: String::from("x"),
                path: String::from("/"),
                user_id: String::from("AIDAX000000000000001"),
                permissions_boundary: None,
                tags: Tags::new(),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "user name taken, other case",
            vec![],
            create_user("ALICE", "AIDAALICE00000000002"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "user bad name",
            vec![],
            create_user("al ice", "AIDAALICE00000000002"),
            Some("InvalidInput"),
        ),
        row(
            "user bad id prefix",
            vec![],
            create_user("bob", "AROABOB0000000000001"),
            Some("InvalidInput"),
        ),
        row(
            "user 51 tags",
            vec![],
            Command::CreateUser {
                account_id: a(),
                user_name: String::from("bob"),
                path: String::from("/"),
                user_id: String::from("AIDABOB0000000000001"),
                permissions_boundary: None,
                tags: tags(51),
            },
            Some("LimitExceeded"),
        ),
        row(
            "user with missing boundary",
            vec![],
            Command::CreateUser {
                account_id: a(),
                user_name: String::from("bob"),
                path: String::from("/"),
                user_id: String::from("AIDABOB0000000000001"),
                permissions_boundary: Some(policy_arn("Nope")),
                tags: Tags::new(),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "user with boundary",
            vec![],
            Command::CreateUser {
                account_id: a(),
                user_name: String::from("bob"),
                path: String::from("/"),
                user_id: String::from("AIDABOB0000000000001"),
                permissions_boundary: Some(policy_arn("ReadOnly")),
                tags: Tags::new(),
            },
            None,
        ),
        row(
            "rename user onto another",
            vec![create_user("bob", "AIDABOB0000000000001")],
            Command::UpdateUser {
                account_id: a(),
                user_name: String::from("bob"),
                new_user_name: Some(String::from("Alice")),
                new_path: None,
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "rename missing user",
            vec![],
            Command::UpdateUser {
                account_id: a(),
                user_name: String::from("zed"),
                new_user_name: Some(String::from("zed2")),
                new_path: None,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "delete user with key",
            vec![access_key("alice", "AKIAALICE00000000001")],
            Command::DeleteUser {
                account_id: a(),
                user_name: String::from("alice"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete user with inline policy",
            vec![Command::PutInlinePolicy {
                account_id: a(),
                holder: user_holder(),
                policy_name: String::from("p"),
                document: POLICY.to_owned(),
            }],
            Command::DeleteUser {
                account_id: a(),
                user_name: String::from("alice"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete user with attachment",
            vec![Command::AttachPolicy {
                account_id: a(),
                holder: user_holder(),
                policy_arn: policy_arn("ReadOnly"),
            }],
            Command::DeleteUser {
                account_id: a(),
                user_name: String::from("alice"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete user with MFA",
            vec![
                mfa_device("phone"),
                Command::EnableMfaDevice {
                    account_id: a(),
                    user_name: String::from("alice"),
                    serial_number: mfa_serial("phone"),
                },
            ],
            Command::DeleteUser {
                account_id: a(),
                user_name: String::from("alice"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete bare user",
            vec![],
            Command::DeleteUser {
                account_id: a(),
                user_name: String::from("ALICE"),
            },
            None,
        ),
        // access keys
        row(
            "third access key",
            vec![
                access_key("alice", "AKIAALICE00000000001"),
                access_key("alice", "AKIAALICE00000000002"),
            ],
            access_key("alice", "AKIAALICE00000000003"),
            Some("LimitExceeded"),
        ),
        row(
            "duplicate access key id",
            vec![
                create_user("bob", "AIDABOB0000000000001"),
                access_key("bob", "AKIAALICE00000000001"),
            ],
            access_key("alice", "AKIAALICE00000000001"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "key for missing user",
            vec![],
            access_key("zed", "AKIAZED0000000000001"),
            Some("NoSuchEntity"),
        ),
        row(
            "key with bad id",
            vec![],
            access_key("alice", "ASIAALICE00000000001"),
            Some("InvalidInput"),
        ),
        row(
            "update key of other user",
            vec![
                create_user("bob", "AIDABOB0000000000001"),
                access_key("bob", "AKIABOB0000000000001"),
            ],
            Command::UpdateAccessKey {
                account_id: a(),
                user_name: Some(String::from("alice")),
                access_key_id: String::from("AKIABOB0000000000001"),
                status: AccessKeyStatus::Inactive,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "update key from other account",
            vec![access_key("alice", "AKIAALICE00000000001")],
            Command::UpdateAccessKey {
                account_id: b(),
                user_name: None,
                access_key_id: String::from("AKIAALICE00000000001"),
                status: AccessKeyStatus::Inactive,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "disable key",
            vec![access_key("alice", "AKIAALICE00000000001")],
            Command::UpdateAccessKey {
                account_id: a(),
                user_name: None,
                access_key_id: String::from("AKIAALICE00000000001"),
                status: AccessKeyStatus::Inactive,
            },
            None,
        ),
        row(
            "delete missing key",
            vec![],
            Command::DeleteAccessKey {
                account_id: a(),
                user_name: None,
                access_key_id: String::from("AKIAZED0000000000001"),
            },
            Some("NoSuchEntity"),
        ),
        // roles
        row(
            "role name taken",
            vec![],
            create_role("APP", "AROAAPP0000000000002"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "role malformed trust",
            vec![],
            Command::CreateRole {
                account_id: a(),
                role_name: String::from("r2"),
                path: String::from("/"),
                role_id: String::from("AROAR200000000000001"),
                trust_policy: String::from("{nope"),
                description: String::new(),
                max_session_duration: None,
                permissions_boundary: None,
                tags: Tags::new(),
            },
            Some("MalformedPolicyDocument"),
        ),
        row(
            "role trust too big",
            vec![],
            Command::CreateRole {
                account_id: a(),
                role_name: String::from("r2"),
                path: String::from("/"),
                role_id: String::from("AROAR200000000000001"),
                trust_policy: big_policy(2100),
                description: String::new(),
                max_session_duration: None,
                permissions_boundary: None,
                tags: Tags::new(),
            },
            Some("LimitExceeded"),
        ),
        row(
            "role session too long",
            vec![],
            Command::CreateRole {
                account_id: a(),
                role_name: String::from("r2"),
                path: String::from("/"),
                role_id: String::from("AROAR200000000000001"),
                trust_policy: TRUST.to_owned(),
                description: String::new(),
                max_session_duration: Some(43_201),
                permissions_boundary: None,
                tags: Tags::new(),
            },
            Some("InvalidInput"),
        ),
        row(
            "role bad path",
            vec![],
            Command::CreateRole {
                account_id: a(),
                role_name: String::from("r2"),
                path: String::from("nopath"),
                role_id: String::from("AROAR200000000000001"),
                trust_policy: TRUST.to_owned(),
                description: String::new(),
                max_session_duration: None,
                permissions_boundary: None,
                tags: Tags::new(),
            },
            Some("InvalidInput"),
        ),
        row(
            "update role duration",
            vec![],
            Command::UpdateRole {
                account_id: a(),
                role_name: String::from("app"),
                description: Some(String::from("d")),
                max_session_duration: Some(7200),
            },
            None,
        ),
        row(
            "update role bad duration",
            vec![],
            Command::UpdateRole {
                account_id: a(),
                role_name: String::from("app"),
                description: None,
                max_session_duration: Some(60),
            },
            Some("InvalidInput"),
        ),
        row(
            "update trust of missing role",
            vec![],
            Command::UpdateAssumeRolePolicy {
                account_id: a(),
                role_name: String::from("zed"),
                document: TRUST.to_owned(),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "delete role with attachment",
            vec![attach_role.clone()],
            Command::DeleteRole {
                account_id: a(),
                role_name: String::from("app"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete role with inline",
            vec![put_role_policy("p", POLICY.to_owned())],
            Command::DeleteRole {
                account_id: a(),
                role_name: String::from("app"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete bare role",
            vec![],
            Command::DeleteRole {
                account_id: a(),
                role_name: String::from("app"),
            },
            None,
        ),
        // inline policies and attachments
        row(
            "inline policy malformed",
            vec![],
            put_role_policy("p", String::from("[]")),
            Some("MalformedPolicyDocument"),
        ),
        row(
            "inline policy bad name",
            vec![],
            put_role_policy("p q", POLICY.to_owned()),
            Some("InvalidInput"),
        ),
        row(
            "role inline aggregate too big",
            vec![put_role_policy("p1", big_policy(6000))],
            put_role_policy("p2", big_policy(4500)),
            Some("LimitExceeded"),
        ),
        row(
            "role inline replace within aggregate",
            vec![put_role_policy("p1", big_policy(6000))],
            put_role_policy("p1", big_policy(9000)),
            None,
        ),
        row(
            "user inline too big",
            vec![],
            Command::PutInlinePolicy {
                account_id: a(),
                holder: user_holder(),
                policy_name: String::from("p"),
                document: big_policy(2100),
            },
            Some("LimitExceeded"),
        ),
        row(
            "delete missing inline",
            vec![],
            Command::DeleteInlinePolicy {
                account_id: a(),
                holder: role_holder(),
                policy_name: String::from("p"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "attach missing policy",
            vec![],
            Command::AttachPolicy {
                account_id: a(),
                holder: role_holder(),
                policy_arn: policy_arn("Nope"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "attach policy of other account",
            vec![],
            Command::AttachPolicy {
                account_id: a(),
                holder: role_holder(),
                policy_arn: String::from("arn:aws:iam::222222222222:policy/ReadOnly"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "attach with wrong path",
            vec![],
            Command::AttachPolicy {
                account_id: a(),
                holder: role_holder(),
                policy_arn: String::from("arn:aws:iam::111111111111:policy/team/ReadOnly"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "attach eleventh policy",
            (0..10)
                .flat_map(|i| {
                    let name = format!("P{i}");
                    vec![
                        create_policy(&name, &format!("ANPAP{i:015}")),
                        Command::AttachPolicy {
                            account_id: a(),
                            holder: role_holder(),
                            policy_arn: policy_arn(&name),
                        },
                    ]
                })
                .collect(),
            attach_role.clone(),
            Some("LimitExceeded"),
        ),
        row(
            "attach twice is idempotent",
            vec![attach_role.clone()],
            attach_role.clone(),
            None,
        ),
        row(
            "detach not attached",
            vec![],
            Command::DetachPolicy {
                account_id: a(),
                holder: role_holder(),
                policy_arn: policy_arn("ReadOnly"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "boundary missing policy",
            vec![],
            Command::PutPermissionsBoundary {
                account_id: a(),
                holder: user_holder(),
                policy_arn: policy_arn("Nope"),
            },
            Some("NoSuchEntity"),
        ),
        // managed policies
        row(
            "policy name taken",
            vec![],
            create_policy("readonly", "ANPAREADONLY00000002"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "policy too big",
            vec![],
            Command::CreatePolicy {
                account_id: a(),
                policy_name: String::from("Big"),
                path: String::from("/"),
                policy_id: String::from("ANPABIG0000000000001"),
                document: big_policy(6200),
                description: String::new(),
                tags: Tags::new(),
            },
            Some("LimitExceeded"),
        ),
        row(
            "delete attached policy",
            vec![attach_role.clone()],
            Command::DeletePolicy {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete boundary policy",
            vec![Command::PutPermissionsBoundary {
                account_id: a(),
                holder: user_holder(),
                policy_arn: policy_arn("ReadOnly"),
            }],
            Command::DeletePolicy {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete policy with versions",
            vec![Command::CreatePolicyVersion {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
                document: POLICY.to_owned(),
                set_as_default: false,
            }],
            Command::DeletePolicy {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete free policy",
            vec![],
            Command::DeletePolicy {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
            },
            None,
        ),
        row(
            "sixth policy version",
            (0..4)
                .map(|_| Command::CreatePolicyVersion {
                    account_id: a(),
                    policy_arn: policy_arn("ReadOnly"),
                    document: POLICY.to_owned(),
                    set_as_default: true,
                })
                .collect(),
            Command::CreatePolicyVersion {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
                document: POLICY.to_owned(),
                set_as_default: false,
            },
            Some("LimitExceeded"),
        ),
        row(
            "delete default version",
            vec![],
            Command::DeletePolicyVersion {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
                version: 1,
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete missing version",
            vec![],
            Command::DeletePolicyVersion {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
                version: 9,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "set default missing version",
            vec![],
            Command::SetDefaultPolicyVersion {
                account_id: a(),
                policy_arn: policy_arn("ReadOnly"),
                version: 2,
            },
            Some("NoSuchEntity"),
        ),
        // MFA
        row(
            "mfa name taken",
            vec![mfa_device("phone")],
            mfa_device("phone"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "enable missing mfa",
            vec![],
            Command::EnableMfaDevice {
                account_id: a(),
                user_name: String::from("alice"),
                serial_number: mfa_serial("phone"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "enable mfa twice",
            vec![
                mfa_device("phone"),
                create_user("bob", "AIDABOB0000000000001"),
                Command::EnableMfaDevice {
                    account_id: a(),
                    user_name: String::from("bob"),
                    serial_number: mfa_serial("phone"),
                },
            ],
            Command::EnableMfaDevice {
                account_id: a(),
                user_name: String::from("alice"),
                serial_number: mfa_serial("phone"),
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "deactivate for other user",
            vec![
                mfa_device("phone"),
                create_user("bob", "AIDABOB0000000000001"),
                Command::EnableMfaDevice {
                    account_id: a(),
                    user_name: String::from("bob"),
                    serial_number: mfa_serial("phone"),
                },
            ],
            Command::DeactivateMfaDevice {
                account_id: a(),
                user_name: String::from("alice"),
                serial_number: mfa_serial("phone"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "delete enabled mfa",
            vec![
                mfa_device("phone"),
                Command::EnableMfaDevice {
                    account_id: a(),
                    user_name: String::from("alice"),
                    serial_number: mfa_serial("phone"),
                },
            ],
            Command::DeleteVirtualMfaDevice {
                account_id: a(),
                serial_number: mfa_serial("phone"),
            },
            Some("DeleteConflict"),
        ),
        row(
            "delete free mfa",
            vec![mfa_device("phone")],
            Command::DeleteVirtualMfaDevice {
                account_id: a(),
                serial_number: mfa_serial("phone"),
            },
            None,
        ),
        // OIDC
        row(
            "oidc http url",
            vec![],
            Command::CreateOidcProvider {
                account_id: a(),
                url: String::from("http://idp.example.com"),
                client_ids: vec![],
                thumbprints: vec![],
                tags: Tags::new(),
            },
            Some("InvalidInput"),
        ),
        row(
            "oidc six thumbprints",
            vec![],
            Command::CreateOidcProvider {
                account_id: a(),
                url: String::from("https://idp.example.com"),
                client_ids: vec![],
                thumbprints: vec!["a".repeat(40); 6],
                tags: Tags::new(),
            },
            Some("InvalidInput"),
        ),
        row(
            "oidc duplicate url",
            vec![Command::CreateOidcProvider {
                account_id: a(),
                url: String::from("https://idp.example.com"),
                client_ids: vec![],
                thumbprints: vec![],
                tags: Tags::new(),
            }],
            Command::CreateOidcProvider {
                account_id: a(),
                url: String::from("https://idp.example.com/"),
                client_ids: vec![],
                thumbprints: vec![],
                tags: Tags::new(),
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "oidc add client to missing",
            vec![],
            Command::AddOidcClientId {
                account_id: a(),
                provider_arn: oidc_arn(),
                client_id: String::from("sts"),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "oidc delete missing",
            vec![],
            Command::DeleteOidcProvider {
                account_id: a(),
                provider_arn: oidc_arn(),
            },
            Some("NoSuchEntity"),
        ),
        // SAML
        row(
            "saml short metadata",
            vec![],
            Command::CreateSamlProvider {
                account_id: a(),
                name: String::from("corp"),
                metadata: String::from("<x/>"),
                tags: Tags::new(),
            },
            Some("InvalidInput"),
        ),
        row(
            "saml duplicate",
            vec![Command::CreateSamlProvider {
                account_id: a(),
                name: String::from("corp"),
                metadata: saml_metadata(),
                tags: Tags::new(),
            }],
            Command::CreateSamlProvider {
                account_id: a(),
                name: String::from("corp"),
                metadata: saml_metadata(),
                tags: Tags::new(),
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "saml update missing",
            vec![],
            Command::UpdateSamlProvider {
                account_id: a(),
                provider_arn: saml_arn(),
                metadata: saml_metadata(),
            },
            Some("NoSuchEntity"),
        ),
        // tags
        row(
            "tag past 50",
            vec![Command::TagResource {
                account_id: a(),
                target: TagTarget::Role(String::from("app")),
                tags: tags(50),
            }],
            Command::TagResource {
                account_id: a(),
                target: TagTarget::Role(String::from("app")),
                tags: BTreeMap::from([(String::from("extra"), String::new())]),
            },
            Some("LimitExceeded"),
        ),
        row(
            "retag existing key at 50",
            vec![Command::TagResource {
                account_id: a(),
                target: TagTarget::Role(String::from("app")),
                tags: tags(50),
            }],
            Command::TagResource {
                account_id: a(),
                target: TagTarget::Role(String::from("app")),
                tags: tags(1),
            },
            None,
        ),
        row(
            "tag missing policy",
            vec![],
            Command::TagResource {
                account_id: a(),
                target: TagTarget::Policy(policy_arn("Nope")),
                tags: tags(1),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "tag reserved key",
            vec![],
            Command::TagResource {
                account_id: a(),
                target: TagTarget::User(String::from("alice")),
                tags: BTreeMap::from([(String::from("aws:x"), String::new())]),
            },
            Some("InvalidInput"),
        ),
        // key ring
        row(
            "stage with stale expectation",
            vec![stage(1, None, "k1")],
            stage(2, None, "k2"),
            Some("ConcurrentModification"),
        ),
        row(
            "stage skipping a term",
            vec![stage(1, None, "k1")],
            stage(3, Some(1), "k3"),
            Some("InvalidInput"),
        ),
        row(
            "stage duplicate key id",
            vec![stage(1, None, "k1")],
            stage(2, Some(1), "k1"),
            Some("EntityAlreadyExists"),
        ),
        row(
            "activate missing key",
            vec![],
            Command::ActivateKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
                expected_active_term: None,
                retired_verify_until: Timestamp::EPOCH,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "activate with stale expectation",
            vec![stage(1, None, "k1")],
            Command::ActivateKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
                expected_active_term: Some(7),
                retired_verify_until: Timestamp::EPOCH,
            },
            Some("ConcurrentModification"),
        ),
        row(
            "activate before propagation",
            vec![Command::StageKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
                key_id: String::from("k1"),
                algorithm: String::from("AES-256-GCM"),
                sealed_key: SealedBytes(vec![1]),
                public_key: vec![],
                activate_after: Timestamp::from_unix_millis(T0 + 3_600_000),
                expected_latest_term: None,
            }],
            Command::ActivateKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
                expected_active_term: None,
                retired_verify_until: Timestamp::EPOCH,
            },
            Some("ConcurrentModification"),
        ),
        row(
            "destroy active key",
            vec![
                stage(1, None, "k1"),
                Command::ActivateKey {
                    purpose: KeyPurpose::SessionToken,
                    term: 1,
                    expected_active_term: None,
                    retired_verify_until: Timestamp::EPOCH,
                },
            ],
            Command::DestroyKey {
                purpose: KeyPurpose::SessionToken,
                term: 1,
            },
            Some("DeleteConflict"),
        ),
        // regions, revocations, nodes
        row(
            "region exists",
            vec![],
            Command::CreateRegion {
                name: String::from("us-east-1"),
                issuance_enabled: true,
            },
            Some("EntityAlreadyExists"),
        ),
        row(
            "region bad name",
            vec![],
            Command::CreateRegion {
                name: String::from("US_EAST"),
                issuance_enabled: true,
            },
            Some("InvalidInput"),
        ),
        row(
            "disable issuance",
            vec![],
            Command::SetRegionIssuance {
                name: String::from("us-east-1"),
                enabled: false,
            },
            None,
        ),
        row(
            "drain missing region",
            vec![],
            Command::SetRegionStatus {
                name: String::from("eu-west-1"),
                status: RegionStatus::Draining,
            },
            Some("NoSuchEntity"),
        ),
        row(
            "revoke missing role",
            vec![],
            Command::RevokeRoleSessions {
                account_id: a(),
                role_name: String::from("zed"),
                issued_before: Timestamp::from_unix_millis(T0),
            },
            Some("NoSuchEntity"),
        ),
        row(
            "revoke role",
            vec![],
            Command::RevokeRoleSessions {
                account_id: a(),
                role_name: String::from("APP"),
                issued_before: Timestamp::from_unix_millis(T0),
            },
            None,
        ),
        row(
            "deny session",
            vec![],
            Command::DenySession {
                session_id: String::from("s-1"),
                expires_at: Timestamp::from_unix_millis(T0 + 10_000_000),
            },
            None,
        ),
        row("reserve node id", vec![], Command::ReserveNodeId, None),
    ]
}

#[test]
fn every_command_checks_its_preconditions() {
    let mut failures = Vec::new();
    for row in rows() {
        let mut d = base();
        for command in row.setup {
            let name = command.name();
            if let Err(err) = d.apply(command) {
                failures.push(format!("{}: setup {name} refused: {err}", row.name));
            }
        }
        let before = d.state.view().clone();
        let outcome = d.apply(row.command);
        let got = outcome.as_ref().err().map(ConfigError::iam_code);
        if got != row.expect {
            failures.push(format!(
                "{}: expected {:?}, got {outcome:?}",
                row.name, row.expect
            ));
        }
        if outcome.is_err() {
            // A refusal changes nothing but the replicated clock.
            let mut after = d.state.view().clone();
            after.clock = before.clock;
            if after != before {
                failures.push(format!("{}: refused command changed the state", row.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_retried_request_is_applied_at_most_once() {
    let mut d = base();
    let request = d.request(Command::CreatePolicyVersion {
        account_id: a(),
        policy_arn: policy_arn("ReadOnly"),
        document: POLICY.to_owned(),
        set_as_default: true,
    });
    let first = d.state.apply(&request);
    assert_eq!(first, Ok(Response::PolicyVersionCreated { version: 2 }));
    // The retry answers the first outcome and adds no third version.
    assert_eq!(d.state.apply(&request), first);
    let policy = d
        .state
        .view()
        .account(&a())
        .unwrap()
        .policy("ReadOnly")
        .unwrap();
    assert_eq!(
        policy.versions.keys().copied().collect::<Vec<_>>(),
        vec![1, 2]
    );

    // A refusal is remembered too, even once the command would now succeed.
    let delete = d.request(Command::DeleteUser {
        account_id: a(),
        user_name: String::from("bob"),
    });
    assert_eq!(delete.clone().command.name(), "DeleteUser");
    assert_eq!(
        d.state.apply(&delete).unwrap_err().iam_code(),
        "NoSuchEntity"
    );
    d.ok(create_user("bob", "AIDABOB0000000000001"));
    assert_eq!(
        d.state.apply(&delete).unwrap_err().iam_code(),
        "NoSuchEntity"
    );
    assert!(d.state.view().user(&a(), "bob").is_some());
}

#[test]
fn request_ids_are_forgotten_after_retention_or_capacity() {
    let mut d = base();
    let request = d.request(Command::ReserveNodeId);
    let first = d.state.apply(&request).unwrap();
    // Past the retention window the id is gone: the same id applies again.
    d.now += REQUEST_RETENTION_MILLIS + 1000;
    d.ok(Command::ReserveNodeId);
    let again = d.state.apply(&request).unwrap();
    assert_ne!(first, again);
    let remembered = d.state.remembered_requests().count();
    assert!(remembered < 5, "{remembered} remembered after expiry");
}

#[test]
fn published_snapshots_never_change() {
    let mut d = base();
    let before = d.state.snapshot();
    d.ok(create_role("other", "AROAOTHER00000000001"));
    d.ok(Command::DeleteRole {
        account_id: a(),
        role_name: String::from("app"),
    });
    assert!(before.role(&a(), "app").is_some());
    assert!(before.role(&a(), "other").is_none());
    let after = d.state.snapshot();
    assert!(after.role(&a(), "app").is_none());
    assert!(after.role(&a(), "other").is_some());
}

#[test]
fn lookups_by_what_requests_carry() {
    let mut d = base();
    d.ok(Command::CreateRole {
        account_id: a(),
        role_name: String::from("Deploy"),
        path: String::from("/ci/"),
        role_id: String::from("AROADEPLOY0000000001"),
        trust_policy: TRUST.to_owned(),
        description: String::new(),
        max_session_duration: Some(7200),
        permissions_boundary: None,
        tags: Tags::new(),
    });
    d.ok(access_key("alice", "AKIAALICE00000000001"));
    d.ok(Command::CreateOidcProvider {
        account_id: a(),
        url: String::from("https://idp.example.com"),
        client_ids: vec![
            String::from("sts.amazonaws.com"),
            String::from("sts.amazonaws.com"),
        ],
        thumbprints: vec!["a".repeat(40)],
        tags: Tags::new(),
    });
    d.ok(Command::UpdateUser {
        account_id: a(),
        user_name: String::from("alice"),
        new_user_name: Some(String::from("Alicia")),
        new_path: Some(String::from("/staff/")),
    });
    let snapshot = d.state.snapshot();

    let (account, role) = snapshot
        .role_by_arn("arn:aws:iam::111111111111:role/ci/deploy")
        .unwrap();
    assert_eq!((account.account.id, role.name.as_str()), (a(), "Deploy"));
    assert!(
        snapshot
            .role_by_arn("arn:aws:iam::111111111111:role/deploy")
            .is_none()
    );
    assert!(
        snapshot
            .role_by_arn("arn:aws-cn:iam::111111111111:role/ci/Deploy")
            .is_none()
    );
    assert!(
        snapshot
            .role_by_arn("arn:aws:iam::222222222222:role/ci/Deploy")
            .is_none()
    );

    let entry = snapshot.access_key("AKIAALICE00000000001").unwrap();
    assert_eq!(entry.user.name, "Alicia");
    assert_eq!(
        entry.user.arn(snapshot.partition(), &a()),
        "arn:aws:iam::111111111111:user/staff/Alicia"
    );
    assert_eq!(entry.key.status, AccessKeyStatus::Active);
    assert!(snapshot.access_key("AKIAZED0000000000001").is_none());

    let (_, provider) = snapshot.oidc_provider_by_arn(&oidc_arn()).unwrap();
    assert_eq!(provider.client_ids, vec![String::from("sts.amazonaws.com")]);
    let account = snapshot.account(&a()).unwrap();
    assert!(
        account
            .oidc_provider_by_url("https://idp.example.com/")
            .is_some()
    );
    assert!(snapshot.policy_by_arn(&policy_arn("readonly")).is_some());
}

#[test]
fn key_rotation_lifecycle_with_compare_and_set() {
    let mut d = base();
    d.ok(stage(1, None, "k1"));
    d.ok(Command::ActivateKey {
        purpose: KeyPurpose::SessionToken,
        term: 1,
        expected_active_term: None,
        retired_verify_until: Timestamp::EPOCH,
    });
    d.ok(stage(2, Some(1), "k2"));
    // A deposed leader that still believes term 1 is the latest is refused.
    assert_eq!(
        d.apply(stage(2, Some(1), "k2-bis")).unwrap_err().iam_code(),
        "ConcurrentModification"
    );
    let verify_until = Timestamp::from_unix_millis(d.now + 60_000);
    d.ok(Command::ActivateKey {
        purpose: KeyPurpose::SessionToken,
        term: 2,
        expected_active_term: Some(1),
        retired_verify_until: verify_until,
    });
    let ring = d.state.view().key_ring().clone();
    assert_eq!(
        ring.active(KeyPurpose::SessionToken).map(|k| k.term),
        Some(2)
    );
    assert_eq!(
        ring.get(KeyPurpose::SessionToken, 1).map(|k| k.state),
        Some(KeyState::VerifyOnly)
    );
    // Term 1 still verifies tokens: it cannot be destroyed yet.
    let destroy = Command::DestroyKey {
        purpose: KeyPurpose::SessionToken,
        term: 1,
    };
    assert_eq!(
        d.apply(destroy.clone()).unwrap_err().iam_code(),
        "ConcurrentModification"
    );
    d.now += 120_000;
    d.ok(destroy.clone());
    d.ok(destroy);
    let ring = d.state.view().key_ring();
    let destroyed = ring.get(KeyPurpose::SessionToken, 1).unwrap();
    assert_eq!(destroyed.state, KeyState::Destroyed);
    assert!(destroyed.sealed_key.0.is_empty());
    // The destroyed term stays taken.
    assert_eq!(ring.latest_term(KeyPurpose::SessionToken), Some(2));
}

#[test]
fn denied_sessions_leave_with_their_expiry() {
    let mut d = base();
    let expires_at = Timestamp::from_unix_millis(d.now + 30_000);
    d.ok(Command::DenySession {
        session_id: String::from("s-1"),
        expires_at,
    });
    let now = Timestamp::from_unix_millis(d.now);
    assert!(d.state.snapshot().is_session_denied("s-1", now));
    d.now += 60_000;
    d.ok(Command::ReserveNodeId);
    assert!(d.state.view().revocations().denied_sessions.is_empty());
    // Revocation of a role's sessions only widens.
    let later = Timestamp::from_unix_millis(d.now);
    d.ok(Command::RevokeRoleSessions {
        account_id: a(),
        role_name: String::from("app"),
        issued_before: later,
    });
    d.ok(Command::RevokeRoleSessions {
        account_id: a(),
        role_name: String::from("app"),
        issued_before: Timestamp::from_unix_millis(T0),
    });
    assert_eq!(
        d.state.view().role_sessions_revoked_before(&a(), "App"),
        Some(later)
    );
}

#[test]
fn node_ids_are_never_handed_out_twice() {
    let mut d = base();
    let member = |id: u64, voter: bool| NodeRecord {
        id,
        info: NodeInfo {
            region: String::from("us-east-1"),
            raft_addr: format!("http://127.0.0.1:{}", 7000 + id),
            api_addr: String::new(),
        },
        voter,
    };
    d.state
        .apply_membership(vec![member(1, true), member(2, true), member(5, false)]);
    assert_eq!(
        d.ok(Command::ReserveNodeId),
        Response::NodeIdReserved { node_id: 6 }
    );
    d.state
        .apply_membership(vec![member(1, true), member(2, true)]);
    assert!(d.state.view().nodes().is_known(5));
    assert!(!d.state.view().nodes().is_known(6));
    assert_eq!(
        d.ok(Command::ReserveNodeId),
        Response::NodeIdReserved { node_id: 7 }
    );
    assert_eq!(
        d.apply(Command::DeleteRegion {
            name: String::from("us-east-1")
        })
        .unwrap_err()
        .iam_code(),
        "DeleteConflict"
    );
}

#[test]
fn parts_round_trip() {
    let mut d = base();
    d.ok(access_key("alice", "AKIAALICE00000000001"));
    d.ok(stage(1, None, "k1"));
    d.ok(Command::DenySession {
        session_id: String::from("s-1"),
        expires_at: Timestamp::from_unix_millis(d.now + 30_000),
    });
    d.state.set_applied_index(42);
    let parts = d.state.to_parts();
    let restored = ConfigState::from_parts(parts.clone()).unwrap();
    assert_eq!(restored, d.state);
    assert_eq!(restored.view().applied_index(), 42);
    let mut twice = parts;
    let first = twice.accounts[0].clone();
    twice.accounts.push(first);
    assert!(ConfigState::from_parts(twice).is_err());
}

/// AWS managed policies (the built-in catalogue) are attachable and usable
/// as boundaries in every account, never writable, and resolve through the
/// snapshot like an account's own policies.
#[test]
fn aws_managed_policies_are_attachable_and_read_only() {
    let mut d = base();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    d.ok(Command::AttachPolicy {
        account_id: a(),
        holder: PolicyHolder::User(String::from("alice")),
        policy_arn: admin.to_owned(),
    });
    // Every account has them; the name matches case-insensitively and the
    // canonical spelling is stored.
    d.ok(Command::CreateUser {
        account_id: b(),
        user_name: String::from("bob"),
        path: String::from("/"),
        user_id: String::from("AIDABOB0000000000001"),
        permissions_boundary: None,
        tags: Tags::new(),
    });
    d.ok(Command::AttachPolicy {
        account_id: b(),
        holder: PolicyHolder::User(String::from("bob")),
        policy_arn: String::from("arn:aws:iam::aws:policy/readonlyaccess"),
    });
    d.ok(Command::PutPermissionsBoundary {
        account_id: a(),
        holder: PolicyHolder::Role(String::from("app")),
        policy_arn: read_only.to_owned(),
    });
    let snapshot = d.state.snapshot();
    let alice = snapshot.user(&a(), "alice").unwrap();
    assert!(alice.attached_policies.contains(admin));
    let app = snapshot.role(&a(), "app").unwrap();
    assert_eq!(app.permissions_boundary.as_deref(), Some(read_only));
    let bob = snapshot.user(&b(), "bob").unwrap();
    assert!(bob.attached_policies.contains(read_only));
    let policy = snapshot.managed_policy(read_only).unwrap();
    assert_eq!(policy.policy_id, "ANPAILL3HVNFSB6DCOWYQ");
    assert!(snapshot.policy_by_arn(read_only).is_none());
    assert!(snapshot.managed_policy(&policy_arn("readonly")).is_some());
    assert!(
        snapshot
            .managed_policy("arn:aws:iam::aws:policy/NoSuchThing")
            .is_none()
    );

    // Unknown AWS policies are not attachable; AWS policies are not writable.
    let refusals = [
        Command::AttachPolicy {
            account_id: a(),
            holder: PolicyHolder::User(String::from("alice")),
            policy_arn: String::from("arn:aws:iam::aws:policy/NoSuchThing"),
        },
        Command::DeletePolicy {
            account_id: a(),
            policy_arn: admin.to_owned(),
        },
        Command::CreatePolicyVersion {
            account_id: a(),
            policy_arn: admin.to_owned(),
            document: POLICY.to_owned(),
            set_as_default: true,
        },
        Command::TagResource {
            account_id: a(),
            target: TagTarget::Policy(admin.to_owned()),
            tags: Tags::from([(String::from("k"), String::from("v"))]),
        },
    ];
    for command in refusals {
        let name = command.name();
        assert_eq!(
            d.apply(command).unwrap_err().iam_code(),
            "NoSuchEntity",
            "{name}"
        );
    }
    // Detaching works like any attachment.
    d.ok(Command::DetachPolicy {
        account_id: a(),
        holder: PolicyHolder::User(String::from("alice")),
        policy_arn: admin.to_owned(),
    });
    assert!(
        d.state
            .snapshot()
            .user(&a(), "alice")
            .unwrap()
            .attached_policies
            .is_empty()
    );
}
