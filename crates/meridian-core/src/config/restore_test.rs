//! `RestoreState`: a fresh cluster takes a backup's configuration and keeps
//! its own membership; a cluster with configuration of its own refuses.

use super::*;
use crate::config::cluster::{NodeInfo, NodeRecord};
use crate::ids::AccountId;

fn request(id: u8, seconds: i64, command: Command) -> ConfigRequest {
    ConfigRequest {
        request_id: RequestId([id; 16]),
        issued_at: Timestamp::from_unix_seconds(seconds),
        command,
    }
}

fn account(n: u64) -> AccountId {
    AccountId::from_u64(100_000_000_000 + n).unwrap_or_else(|e| panic!("{e}"))
}

fn member(id: u64, region: &str) -> NodeRecord {
    NodeRecord {
        id,
        info: NodeInfo {
            region: region.to_owned(),
            raft_addr: format!("http://127.0.0.1:{id}"),
            api_addr: String::new(),
        },
        voter: true,
    }
}

#[test]
fn a_fresh_cluster_takes_the_backup_and_keeps_its_membership() {
    let mut old = ConfigState::new();
    old.apply_membership(vec![member(1, "us-east-1"), member(2, "eu-west-1")]);
    for (n, command) in [
        Command::CreateRegion { name: String::from("us-east-1"), issuance_enabled: true },
        Command::CreateAccount { account_id: account(1), name: String::from("ops") },
        Command::CreateRole {
            account_id: account(1),
            role_name: String::from("worker"),
            path: String::from("/"),
            role_id: String::from("AROAQAAAAAAAAAAAAAAAA"),
            trust_policy: String::from(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#),
            description: String::new(),
            max_session_duration: None,
            permissions_boundary: None,
            tags: Default::default(),
        },
        Command::DenySession { session_id: String::from("s-1"), expires_at: Timestamp::from_unix_seconds(10_000) },
    ]
    .into_iter()
    .enumerate()
    {
        assert!(old.apply(&request(n as u8 + 1, 100, command)).is_ok());
    }

    let mut fresh = ConfigState::new();
    fresh.apply_membership(vec![member(7, "ap-southeast-2")]);
    assert!(
        fresh
            .apply(&request(
                1,
                50,
                Command::CreateRegion {
                    name: String::from("ap-southeast-2"),
                    issuance_enabled: true
                }
            ))
            .is_ok()
    );
    assert!(
        fresh
            .apply(&request(
                2,
                50,
                Command::CreateAccount {
                    account_id: account(9),
                    name: String::from("new")
                }
            ))
            .is_ok()
    );
    let restore = request(
        3,
        200,
        Command::RestoreState {
            state: Box::new(old.clone()),
        },
    );
    assert_eq!(fresh.apply(&restore), Ok(Response::Done));

    let view = fresh.view();
    assert!(
        view.role(&account(1), "worker").is_some(),
        "the backup's role"
    );
    assert!(
        view.account(&account(9)).is_none(),
        "the fresh cluster's own account is replaced"
    );
    assert_eq!(
        view.nodes().members.keys().copied().collect::<Vec<_>>(),
        vec![7],
        "membership stays"
    );
    assert_eq!(view.regions().len(), 2, "regions are merged");
    assert!(view.is_session_denied("s-1", Timestamp::from_unix_seconds(300)));
    assert_eq!(view.clock(), Timestamp::from_unix_seconds(200));
    // The denied session still expires on schedule (its index was rebuilt).
    assert!(
        fresh
            .apply(&request(4, 20_000, Command::ReserveNodeId))
            .is_ok()
    );
    assert!(
        !fresh
            .view()
            .revocations()
            .denied_sessions
            .contains_key("s-1")
    );

    // A cluster with configuration of its own (a role) refuses.
    let mut used = old.clone();
    let again = request(
        9,
        300,
        Command::RestoreState {
            state: Box::new(old),
        },
    );
    assert!(matches!(
        used.apply(&again),
        Err(ConfigError::PreconditionFailed { .. })
    ));
    assert!(used.view().role(&account(1), "worker").is_some());
}
