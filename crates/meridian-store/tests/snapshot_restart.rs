//! Snapshots are built, installed and verified (a corrupted one is refused
//! and changes nothing), and a store reopened from disk rebuilds the same
//! configuration without any operator action.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream;
use meridian_core::config::cluster::NodeInfo;
use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::config::model::Tags;
use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;
use meridian_store::state_machine::StateMachineStore;
use meridian_store::type_config::{Entry, LeaderId, LogId, Membership, TypeConfig, Vote};
use openraft::storage::{IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::type_config::TypeConfigExt;
use openraft::vote::RaftLeaderId;
use openraft::{EntryPayload, RaftLogReader, RaftSnapshotBuilder, StorageHelper};
use tempfile::TempDir;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

fn account() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn request(n: u8, command: Command) -> ConfigRequest {
    ConfigRequest {
        request_id: RequestId([n; 16]),
        issued_at: Timestamp::from_unix_millis(1_800_000_000_000 + i64::from(n)),
        command,
    }
}

fn role(n: u8) -> Command {
    Command::CreateRole {
        account_id: account(),
        role_name: format!("role-{n}"),
        path: String::from("/"),
        role_id: format!("AROA{n:016}"),
        trust_policy: TRUST.to_owned(),
        description: String::new(),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Tags::new(),
    }
}

fn log_id(index: u64) -> LogId {
    LogId::new(LeaderId::new(1, 1), index)
}

/// The first entries of a one-node cluster: membership, account, 5 roles.
fn entries() -> Vec<Entry> {
    let node = NodeInfo {
        region: String::from("us-east-1"),
        raft_addr: String::from("http://127.0.0.1:1"),
        api_addr: String::new(),
    };
    let membership =
        Membership::new(vec![BTreeSet::from([1])], BTreeMap::from([(1, node)])).unwrap();
    let mut entries = vec![
        Entry {
            log_id: log_id(1),
            payload: EntryPayload::Membership(membership),
        },
        Entry {
            log_id: log_id(2),
            payload: EntryPayload::Normal(request(
                1,
                Command::CreateAccount {
                    account_id: account(),
                    name: String::from("tenant"),
                },
            )),
        },
    ];
    for n in 0..5u8 {
        entries.push(Entry {
            log_id: log_id(3 + u64::from(n)),
            payload: EntryPayload::Normal(request(10 + n, role(n))),
        });
    }
    entries
}

async fn apply(sm: &mut StateMachineStore, entries: Vec<Entry>) {
    let items = entries.into_iter().map(|entry| Ok((entry, None)));
    sm.apply(stream::iter(items)).await.unwrap();
}

#[tokio::test]
async fn snapshots_are_verified_before_install() {
    let source_dir = TempDir::new().unwrap();
    let (_log, mut source) = meridian_store::open(source_dir.path(), 1).unwrap();
    let published = source.subscribe();
    apply(&mut source, entries()).await;
    assert!(published.borrow().role(&account(), "role-4").is_some());
    assert_eq!(published.borrow().applied_index(), 7);
    assert!(published.borrow().nodes().is_known(1));

    let snapshot = source
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(7)));
    let stored = source.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(stored.snapshot, snapshot.snapshot);

    let target_dir = TempDir::new().unwrap();
    let (_log, mut target) = meridian_store::open(target_dir.path(), 2).unwrap();
    let target_view = target.subscribe();

    // One flipped byte anywhere: refused, nothing installed or stored.
    for position in [
        0,
        snapshot.snapshot.bytes.len() / 2,
        snapshot.snapshot.bytes.len() - 1,
    ] {
        let mut corrupt = snapshot.snapshot.clone();
        corrupt.bytes[position] ^= 0x40;
        let err = target
            .install_snapshot(&snapshot.meta, corrupt)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        assert!(target_view.borrow().role(&account(), "role-0").is_none());
        assert!(target.get_current_snapshot().await.unwrap().is_none());
        assert_eq!(target.applied_state().await.unwrap().0, None);
    }

    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot.clone())
        .await
        .unwrap();
    assert_eq!(target.applied_state().await.unwrap().0, Some(log_id(7)));
    assert_eq!(**target_view.borrow(), **published.borrow());
    assert!(target.get_current_snapshot().await.unwrap().is_some());

    // An older snapshot never replaces a newer stored one.
    apply(
        &mut source,
        vec![Entry {
            log_id: log_id(8),
            payload: EntryPayload::Normal(request(99, role(99))),
        }],
    )
    .await;
    let newer = source
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let older_builder_output = snapshot;
    target
        .install_snapshot(&newer.meta, newer.snapshot.clone())
        .await
        .unwrap();
    target
        .install_snapshot(&older_builder_output.meta, older_builder_output.snapshot)
        .await
        .unwrap();
    let kept = target.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(kept.meta.last_log_id, Some(log_id(8)));
}

#[tokio::test]
async fn a_reopened_store_rebuilds_its_state_from_disk() {
    let dir = TempDir::new().unwrap();
    let expected;
    {
        let (mut log, mut sm) = meridian_store::open(dir.path(), 1).unwrap();
        let all = entries();
        let (tx, rx) = TypeConfig::oneshot();
        log.append(all.clone(), IOFlushed::signal(tx))
            .await
            .unwrap();
        rx.await.unwrap().unwrap();
        log.save_vote(&Vote::new_committed(1, 1)).await.unwrap();
        // Entries 1..=4 are in a snapshot, 5..=7 only in the log.
        apply(&mut sm, all[..4].to_vec()).await;
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        apply(&mut sm, all[4..].to_vec()).await;
        log.save_committed(Some(log_id(7))).await.unwrap();
        log.purge(log_id(2)).await.unwrap();
        expected = sm.subscribe().borrow().clone();
    }
    // Another node id may not open this data directory.
    assert!(meridian_store::open(dir.path(), 2).is_err());

    let (mut log, mut sm) = meridian_store::open(dir.path(), 1).unwrap();
    assert!(!log.is_empty().unwrap());
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(1, 1))
    );
    let state = StorageHelper::new(&mut log, &mut sm)
        .with_id(1)
        .get_initial_state()
        .await
        .unwrap();
    assert_eq!(state.local_committed().cloned(), Some(log_id(7)));
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(7)));
    let rebuilt = sm.subscribe().borrow().clone();
    assert_eq!(rebuilt, expected);
    assert!(rebuilt.role(&account(), "role-4").is_some());
    assert_eq!(log.try_get_log_entries(0..3).await.unwrap().len(), 0);
    assert_eq!(log.try_get_log_entries(3..8).await.unwrap().len(), 5);

    let fresh = TempDir::new().unwrap();
    let (fresh_log, _) = meridian_store::open(fresh.path(), 9).unwrap();
    assert!(fresh_log.is_empty().unwrap());
}
