//! A minority partition cannot write and says so within the bound; the
//! majority keeps writing; the minority still serves its last snapshot; after
//! the partition heals, the minority converges.

use std::time::{Duration, Instant};

use meridian_grpc::errors::WriteError;
use meridian_test_support::cluster::{TestCluster, test_timings};

use crate::{ELECTION, account, create_account, create_role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_partition_fails_fast_majority_writes_and_heal_converges() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let timings = test_timings();
        let mut cluster = TestCluster::start(5, timings.clone()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");
        for n in 0..10 {
            cluster
                .node(leader)
                .write(cluster.request(create_role(n)))
                .await
                .expect("write");
        }
        let index = cluster.node(leader).snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&cluster.running(), index, Duration::from_secs(10))
                .await
        );

        // The minority holds the current leader and one follower.
        let follower = cluster
            .running()
            .into_iter()
            .find(|id| *id != leader)
            .expect("follower");
        let minority = [leader, follower];
        let majority: Vec<u64> = cluster
            .running()
            .into_iter()
            .filter(|id| !minority.contains(id))
            .collect();
        cluster.partition(&minority);

        tracing::info!("--- the minority cannot write, and says so within the bound");
        for id in minority {
            let started = Instant::now();
            let result = cluster
                .node(id)
                .write(cluster.request(create_role(500 + id)))
                .await;
            let elapsed = started.elapsed();
            assert!(
                matches!(result, Err(WriteError::NoQuorum { .. })),
                "node {id}: {result:?}"
            );
            assert!(result.as_ref().err().is_some_and(WriteError::is_retryable));
            assert!(
                elapsed <= timings.write_timeout + Duration::from_millis(500),
                "node {id} answered after {elapsed:?}"
            );
        }

        tracing::info!("--- the majority elects a leader and keeps writing");
        let majority_leader = cluster
            .leader_among(&majority, ELECTION)
            .await
            .expect("majority leader");
        for n in 100..140 {
            cluster
                .node(majority_leader)
                .write(cluster.request(create_role(n)))
                .await
                .expect("majority write");
        }

        tracing::info!("--- the minority still serves its last applied snapshot");
        for id in minority {
            let view = cluster.node(id).snapshot().borrow().clone();
            assert!(view.role(&account(), "role-9").is_some());
            assert!(view.role(&account(), "role-100").is_none());
        }

        tracing::info!("--- heal: the minority converges");
        cluster.heal();
        let healed_at = Instant::now();
        let target = cluster
            .node(majority_leader)
            .snapshot()
            .borrow()
            .applied_index();
        assert!(
            cluster
                .wait_applied(&minority, target, Duration::from_secs(10))
                .await,
            "converged"
        );
        assert!(healed_at.elapsed() <= Duration::from_secs(10));
        for id in minority {
            let view = cluster.node(id).snapshot().borrow().clone();
            assert!(view.role(&account(), "role-139").is_some(), "node {id}");
            // Writes refused during the partition never appear.
            assert!(
                view.role(&account(), &format!("role-{}", 500 + id))
                    .is_none(),
                "node {id}"
            );
        }
        let writer = cluster
            .leader(ELECTION)
            .await
            .expect("one leader after heal");
        cluster
            .node(writer)
            .write(cluster.request(create_role(200)))
            .await
            .expect("write after heal");
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}
