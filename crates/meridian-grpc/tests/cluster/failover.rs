//! Leader failure and follower restart.

use std::time::{Duration, Instant};

use meridian_test_support::cluster::{TestCluster, test_timings};

use crate::{ELECTION, account, create_account, create_role};

/// The leader is killed: a new leader is elected and writes through a
/// surviving node resume within the election timeout plus a round trip (the
/// bound asserted leaves room for a loaded CI host); the old leader, restarted
/// from its data directory without operator action, catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_writes_resume_and_old_leader_catches_up() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let timings = test_timings();
        let mut cluster = TestCluster::start(3, timings.clone()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");

        cluster.kill(leader).await;
        let killed_at = Instant::now();
        let survivor = cluster.running()[0];
        let mut n = 0;
        let resumed = loop {
            n += 1;
            match cluster
                .node(survivor)
                .write(cluster.request(create_role(n)))
                .await
            {
                Ok(_) => break killed_at.elapsed(),
                Err(err) => assert!(err.is_retryable(), "{err}"),
            }
        };
        // election_timeout_max + one round trip, with slack for a busy host.
        let bound = timings.election_timeout_max + Duration::from_secs(2);
        assert!(
            resumed <= bound,
            "writes resumed after {resumed:?}, bound {bound:?}"
        );
        let new_leader = cluster.leader(ELECTION).await.expect("new leader");
        assert_ne!(new_leader, leader);

        for more in 100..160 {
            cluster
                .node(new_leader)
                .write(cluster.request(create_role(more)))
                .await
                .expect("write");
        }
        cluster.restart(leader).await.expect("restart from disk");
        let index = cluster.node(new_leader).snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[leader], index, Duration::from_secs(15))
                .await,
            "old leader caught up"
        );
        let roles = cluster
            .node(leader)
            .snapshot()
            .borrow()
            .account(&account())
            .map(|a| a.roles.len());
        assert_eq!(
            roles,
            cluster
                .node(new_leader)
                .snapshot()
                .borrow()
                .account(&account())
                .map(|a| a.roles.len())
        );
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}

/// A follower is stopped while the cluster moves on by more than a snapshot
/// interval (its missing entries are purged on the leader), then restarted
/// from disk: it catches up by snapshot and log, with no operator action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_restarted_from_disk_catches_up() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut cluster = TestCluster::start(3, test_timings()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");
        let follower = cluster
            .running()
            .into_iter()
            .find(|id| *id != leader)
            .expect("follower");
        cluster.kill(follower).await;
        for n in 0..150 {
            cluster
                .node(leader)
                .write(cluster.request(create_role(n)))
                .await
                .expect("write");
        }
        cluster.restart(follower).await.expect("restart");
        let index = cluster.node(leader).snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[follower], index, Duration::from_secs(15))
                .await
        );
        let view = cluster.node(follower).snapshot().borrow().clone();
        assert_eq!(view.account(&account()).map(|a| a.roles.len()), Some(150));
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}
