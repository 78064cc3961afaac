//! Bootstrap as a replicated fact, against the real `ConfigState::apply`:
//! one `Bootstrap` entry applies all its steps or none, records the fact,
//! and every later bootstrap is refused at apply time — the leftover-file
//! case (an administrator key an operator deleted is never created again),
//! a racing bootstrapper, a file for another account — while the record
//! survives the state's encoding into parts.

use meridian_core::arn::Partition;
use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::cluster::bootstrap::{BootstrapAdmin, MAX_BOOTSTRAP_STEPS};
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId};
use meridian_core::config::error::ConfigError;
use meridian_core::config::model::SealedBytes;
use meridian_core::config::state::ConfigState;
use meridian_core::ids::{AccessKeyId, AccessKeyKind, AccountId, UniqueId, UniqueIdKind};
use meridian_core::rand::DeterministicRandom;
use meridian_core::time::Timestamp;

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn request(id: u8, command: Command) -> ConfigRequest {
    ConfigRequest {
        request_id: RequestId([id; 16]),
        issued_at: NOW,
        command,
    }
}

/// An administrator of a fresh account (seeded, so tests can make several).
struct Admin {
    account_id: AccountId,
    access_key_id: AccessKeyId,
    user_id: String,
}

fn admin(seed: u64) -> Admin {
    let mut rng = DeterministicRandom::from_seed(seed);
    let account_id =
        AccountId::from_u64(100_000_000_000 + seed).unwrap_or_else(|e| panic!("account id: {e}"));
    let access_key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account_id, &mut rng)
        .unwrap_or_else(|e| panic!("access key id: {e}"));
    let user_id = UniqueId::generate(UniqueIdKind::User, &mut rng)
        .unwrap_or_else(|e| panic!("user id: {e}"))
        .to_string();
    Admin {
        account_id,
        access_key_id,
        user_id,
    }
}

fn admin_steps(admin: &Admin) -> Vec<Command> {
    vec![
        Command::CreateAccount {
            account_id: admin.account_id,
            name: String::from("main"),
        },
        Command::CreateUser {
            account_id: admin.account_id,
            user_name: String::from("admin"),
            path: String::from("/"),
            user_id: admin.user_id.clone(),
            permissions_boundary: None,
            tags: Default::default(),
        },
        Command::AttachPolicy {
            account_id: admin.account_id,
            holder: PolicyHolder::User(String::from("admin")),
            policy_arn: String::from("arn:aws:iam::aws:policy/AdministratorAccess"),
        },
        Command::CreateAccessKey {
            account_id: admin.account_id,
            user_name: String::from("admin"),
            access_key_id: admin.access_key_id.as_str().to_owned(),
            sealed_secret: SealedBytes(vec![7; 60]),
        },
    ]
}

fn cluster_steps() -> Vec<Command> {
    vec![
        Command::SetPartition {
            partition: Partition::aws(),
        },
        Command::CreateRegion {
            name: String::from("us-east-1"),
            issuance_enabled: true,
        },
        Command::CreateRegion {
            name: String::from("eu-west-1"),
            issuance_enabled: true,
        },
        Command::StageKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            key_id: String::from("1"),
            algorithm: String::from("AES-256-GCM"),
            sealed_key: SealedBytes(vec![1; 60]),
            public_key: Vec::new(),
            activate_after: NOW,
            expected_latest_term: None,
        },
        Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            expected_active_term: None,
            retired_verify_until: NOW,
        },
    ]
}

fn bootstrap(node_id: u64, admin: Option<&Admin>) -> Command {
    let mut steps = cluster_steps();
    if let Some(admin) = admin {
        steps.extend(admin_steps(admin));
    }
    Command::Bootstrap {
        node_id,
        admin: admin.map(|admin| BootstrapAdmin {
            account_id: admin.account_id,
            user_name: String::from("admin"),
            access_key_id: admin.access_key_id.as_str().to_owned(),
        }),
        steps,
    }
}

fn precondition_failed(outcome: &Result<impl std::fmt::Debug, ConfigError>) -> bool {
    matches!(outcome, Err(ConfigError::PreconditionFailed { reason }) if reason.contains("already bootstrapped"))
}

#[test]
fn one_entry_applies_every_step_and_records_the_fact() {
    let mut state = ConfigState::new();
    let first = admin(1);
    assert_eq!(state.view().nodes().bootstrap, None);
    let outcome = state.apply(&request(1, bootstrap(1, Some(&first))));
    assert!(outcome.is_ok(), "{outcome:?}");

    let view = state.snapshot();
    assert_eq!(view.regions().len(), 2);
    assert!(view.key_ring().active(KeyPurpose::SessionToken).is_some());
    assert!(view.access_key(first.access_key_id.as_str()).is_some());
    let record = view
        .nodes()
        .bootstrap
        .clone()
        .unwrap_or_else(|| panic!("no bootstrap record"));
    assert_eq!(record.node_id, 1);
    assert_eq!(record.at, NOW);
    let recorded_admin = record.admin.unwrap_or_else(|| panic!("no administrator"));
    assert_eq!(recorded_admin.account_id, first.account_id);
    assert_eq!(recorded_admin.access_key_id, first.access_key_id.as_str());

    // The same request again (a retry after an unknown outcome) is answered
    // from the request log with the first outcome.
    assert_eq!(
        state.apply(&request(1, bootstrap(1, Some(&first)))),
        outcome
    );
}

#[test]
fn a_second_bootstrap_is_refused_and_resurrects_nothing() {
    let mut state = ConfigState::new();
    let first = admin(1);
    let applied = state.apply(&request(1, bootstrap(1, Some(&first))));
    assert!(applied.is_ok(), "{applied:?}");

    // The operator deletes the administrator's access key ...
    let deleted = state.apply(&request(
        2,
        Command::DeleteAccessKey {
            account_id: first.account_id,
            user_name: Some(String::from("admin")),
            access_key_id: first.access_key_id.as_str().to_owned(),
        },
    ));
    assert!(deleted.is_ok(), "{deleted:?}");
    let before = state.snapshot();

    // ... and a node restarted with the leftover file proposes only what is
    // missing, under a new request id: refused, nothing created.
    let leftover = Command::Bootstrap {
        node_id: 1,
        admin: Some(BootstrapAdmin {
            account_id: first.account_id,
            user_name: String::from("admin"),
            access_key_id: first.access_key_id.as_str().to_owned(),
        }),
        steps: admin_steps(&first).split_off(3),
    };
    let refused = state.apply(&request(3, leftover));
    assert!(precondition_failed(&refused), "{refused:?}");
    assert!(
        state
            .view()
            .access_key(first.access_key_id.as_str())
            .is_none()
    );

    // Another node's bootstrap (a race), with or without a file for another
    // account: refused, and the state is as it was.
    let other = admin(2);
    for (id, command) in [(4, bootstrap(2, Some(&other))), (5, bootstrap(3, None))] {
        let refused = state.apply(&request(id, command));
        assert!(precondition_failed(&refused), "{refused:?}");
    }
    let after = state.snapshot();
    assert_eq!(after.accounts().count(), before.accounts().count());
    assert!(after.account(&other.account_id).is_none());
    assert_eq!(after.nodes().bootstrap, before.nodes().bootstrap);
}

#[test]
fn a_refused_step_leaves_nothing_behind_and_no_record() {
    let mut state = ConfigState::new();
    let first = admin(1);
    // The account exists already (a half-done bootstrap of an older release
    // that this proposer did not see): the entry's CreateAccount is refused.
    let created = state.apply(&request(
        1,
        Command::CreateAccount {
            account_id: first.account_id,
            name: String::from("main"),
        },
    ));
    assert!(created.is_ok(), "{created:?}");
    // (SetPartition is left out: it is refused once an account exists, and
    // the node's planner leaves it out then.)
    let mut steps = cluster_steps().split_off(1);
    steps.extend(admin_steps(&first));
    let refused = state.apply(&request(
        2,
        Command::Bootstrap {
            node_id: 1,
            admin: None,
            steps,
        },
    ));
    assert!(
        matches!(refused, Err(ConfigError::AlreadyExists { .. })),
        "{refused:?}"
    );
    let view = state.snapshot();
    assert!(
        view.regions().is_empty(),
        "a step before the refusal stayed"
    );
    assert!(view.key_ring().active(KeyPurpose::SessionToken).is_none());
    assert_eq!(view.nodes().bootstrap, None);

    // Without the step already done, the bootstrap applies.
    let mut steps = cluster_steps().split_off(1);
    steps.extend(admin_steps(&first).split_off(1));
    let resumed = state.apply(&request(
        3,
        Command::Bootstrap {
            node_id: 1,
            admin: None,
            steps,
        },
    ));
    assert!(resumed.is_ok(), "{resumed:?}");
    assert!(state.view().nodes().bootstrap.is_some());
}

#[test]
fn only_bootstrap_commands_may_be_steps() {
    let cases = [
        Command::ReserveNodeId,
        Command::DenySession {
            session_id: String::from("s"),
            expires_at: NOW.plus_seconds(60),
        },
        bootstrap(1, None),
    ];
    for bad in cases {
        let mut state = ConfigState::new();
        let name = bad.name();
        let mut steps = cluster_steps();
        steps.push(bad);
        let refused = state.apply(&request(
            1,
            Command::Bootstrap {
                node_id: 1,
                admin: None,
                steps,
            },
        ));
        assert!(
            matches!(&refused, Err(ConfigError::InvalidInput { reason }) if reason.contains(name)),
            "{name}: {refused:?}"
        );
        assert!(state.view().regions().is_empty(), "{name}");
        assert_eq!(state.view().nodes().bootstrap, None, "{name}");
    }
    let mut state = ConfigState::new();
    let too_many = (0..=MAX_BOOTSTRAP_STEPS)
        .map(|i| Command::CreateRegion {
            name: format!("r-{i}"),
            issuance_enabled: true,
        })
        .collect();
    let refused = state.apply(&request(
        1,
        Command::Bootstrap {
            node_id: 1,
            admin: None,
            steps: too_many,
        },
    ));
    assert!(
        matches!(refused, Err(ConfigError::InvalidInput { .. })),
        "{refused:?}"
    );
}

#[test]
fn the_record_survives_parts_and_a_marker_only_entry_adopts_an_older_cluster() {
    // A cluster bootstrapped step by step (before the record existed) ...
    let mut state = ConfigState::new();
    for (i, command) in cluster_steps().into_iter().enumerate() {
        let applied = state.apply(&request(10 + i as u8, command));
        assert!(applied.is_ok(), "{applied:?}");
    }
    assert_eq!(state.view().nodes().bootstrap, None);
    // ... gets the record from an entry without steps.
    let adopted = state.apply(&request(
        1,
        Command::Bootstrap {
            node_id: 7,
            admin: None,
            steps: Vec::new(),
        },
    ));
    assert!(adopted.is_ok(), "{adopted:?}");
    let record = state.view().nodes().bootstrap.clone();
    assert_eq!(record.as_ref().map(|r| r.node_id), Some(7));

    let rebuilt =
        ConfigState::from_parts(state.to_parts()).unwrap_or_else(|e| panic!("from parts: {e}"));
    assert_eq!(rebuilt.view().nodes().bootstrap, record);
    let mut rebuilt = rebuilt;
    let refused = rebuilt.apply(&request(2, bootstrap(1, None)));
    assert!(precondition_failed(&refused), "{refused:?}");
}
