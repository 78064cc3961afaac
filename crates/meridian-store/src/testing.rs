//! Builders of large, realistic configurations for benches and memory
//! checks (not used by production code paths).

use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::config::model::{SealedBytes, Tags};
use meridian_core::config::state::ConfigState;
use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;

/// A trust policy of typical size (~400 bytes) for role `n`.
pub fn trust_policy(n: u64) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{:012}:role/ci-runner-{n}"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"external-{n:08}"}},"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#,
        100_000_000_000 + n % 1000
    )
}

/// The request that creates role `n` of `account`.
pub fn create_role(account: AccountId, n: u64) -> Command {
    Command::CreateRole {
        account_id: account,
        role_name: format!("service-role-{n}"),
        path: String::from("/services/"),
        role_id: format!("AROA{n:016}"),
        trust_policy: trust_policy(n),
        description: format!("role {n} of the load configuration"),
        max_session_duration: Some(3600),
        permissions_boundary: None,
        tags: Tags::from([
            (String::from("team"), format!("team-{}", n % 50)),
            (String::from("env"), String::from("production")),
        ]),
    }
}

/// Wraps a command with a request id derived from `n`.
pub fn request(n: u64, command: Command) -> ConfigRequest {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8] = 0xb7;
    ConfigRequest {
        request_id: RequestId(id),
        issued_at: Timestamp::from_unix_millis(1_800_000_000_000 + i64::try_from(n).unwrap_or(0)),
        command,
    }
}

/// A configuration of `roles` roles (spread over accounts of 1000, the IAM
/// quota) and `keys` session-token keys in the ring.
pub fn large_state(roles: u64, keys: u64) -> ConfigState {
    let mut state = ConfigState::new();
    let mut n = 0u64;
    let mut next = |command: Command, state: &mut ConfigState| {
        n += 1;
        let outcome = state.apply(&request(n, command));
        debug_assert!(outcome.is_ok(), "{outcome:?}");
    };
    let accounts = roles.div_ceil(1000).max(1);
    for a in 0..accounts {
        let account = AccountId::from_u64(100_000_000_000 + a).expect("a 12-digit account id");
        next(
            Command::CreateAccount {
                account_id: account,
                name: format!("tenant-{a}"),
            },
            &mut state,
        );
        for r in (a * 1000)..((a + 1) * 1000).min(roles) {
            next(create_role(account, r), &mut state);
        }
    }
    for term in 1..=keys {
        next(
            Command::StageKey {
                purpose: KeyPurpose::SessionToken,
                term,
                key_id: format!("key-{term}"),
                algorithm: String::from("AES-256-GCM"),
                sealed_key: SealedBytes(vec![0x5a; 60]),
                public_key: Vec::new(),
                activate_after: Timestamp::EPOCH,
                expected_latest_term: term.checked_sub(1).filter(|t| *t > 0),
            },
            &mut state,
        );
    }
    state
}
