//! Wiped-disk replacement: a node that lost its data never comes back under
//! its old id; it is replaced by a learner with a fresh id that installs a
//! snapshot and is promoted.

use std::time::Duration;

use meridian_core::config::command::{Command, Response};
use meridian_grpc::errors::{ClusterError, StartError};
use meridian_grpc::node::Role;
use meridian_test_support::cluster::{TestCluster, test_timings};
use openraft::async_runtime::WatchReceiver as _;

use crate::{ELECTION, account, create_account, create_role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_node_is_replaced_under_a_fresh_id_and_the_old_id_is_refused() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut cluster = TestCluster::start(3, test_timings()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");
        for n in 0..120 {
            cluster
                .node(leader)
                .write(cluster.request(create_role(n)))
                .await
                .expect("write");
        }
        let victim = cluster
            .running()
            .into_iter()
            .find(|id| *id != leader)
            .expect("follower");

        tracing::info!("--- the victim loses its disk");
        cluster.wipe(victim).await;
        // Restarting on the empty directory is refused outright.
        assert!(
            matches!(cluster.restart(victim).await, Err(StartError::EmptyStore(id)) if id == victim)
        );
        // Joining under the old id is refused by the cluster.
        let refused = cluster.join(victim).await;
        assert!(
            matches!(refused, Err(StartError::NodeIdKnown(id)) if id == victim),
            "{refused:?}"
        );
        // The leader's own API refuses it too.
        let leader_node = cluster.node(leader);
        assert_eq!(
            leader_node.add_learner(victim, cluster.info(victim)).await,
            Err(ClusterError::NodeIdKnown(victim))
        );

        tracing::info!("--- replace it: remove the old id, reserve a fresh one, join, promote");
        leader_node
            .remove(victim)
            .await
            .expect("remove the wiped voter");
        let reserved = leader_node
            .write(cluster.request(Command::ReserveNodeId))
            .await
            .expect("reserve");
        let Response::NodeIdReserved { node_id: fresh } = reserved else {
            panic!("unexpected {reserved:?}");
        };
        assert!(fresh > 3, "fresh id {fresh} above every id ever used");
        cluster.join(fresh).await.expect("join under a fresh id");
        let index = leader_node.snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[fresh], index, Duration::from_secs(15))
                .await,
            "learner caught up"
        );
        assert_eq!(cluster.node(fresh).status().role, Role::Learner);
        assert!(
            cluster
                .node(fresh)
                .raft()
                .metrics()
                .borrow_watched()
                .snapshot
                .is_some(),
            "the learner was brought up to date by a snapshot"
        );
        leader_node.promote(fresh).await.expect("promote");
        let status = leader_node.status();
        let mut voters = status.voters.clone();
        voters.sort_unstable();
        let mut expected: Vec<u64> = vec![1, 2, 3, fresh]
            .into_iter()
            .filter(|id| *id != victim)
            .collect();
        expected.sort_unstable();
        assert_eq!(voters, expected);
        assert!(status.learners.is_empty());
        // The new voter holds everything.
        let view = cluster.node(fresh).snapshot().borrow().clone();
        assert_eq!(view.account(&account()).map(|a| a.roles.len()), Some(120));
        // The old id stays refused after the change.
        assert!(leader_node.snapshot().borrow().nodes().is_known(victim));
        assert!(matches!(
            cluster.join(victim).await,
            Err(StartError::NodeIdKnown(_))
        ));
        // The cluster still writes with the new voter.
        leader_node
            .write(cluster.request(create_role(999)))
            .await
            .expect("write after replacement");
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}

/// An operator re-runs the original bootstrap configuration on a wiped
/// member (not the initializing one). The node starts, but the first
/// replication request from further than the start of the log reveals that
/// the cluster knows it: it refuses all Raft traffic and reports it, the
/// leader does not see a log reversion, and the cluster keeps writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_bootstrap_member_refuses_to_serve_under_its_old_id() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut cluster = TestCluster::start(3, test_timings()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");
        for n in 0..20 {
            cluster
                .node(leader)
                .write(cluster.request(create_role(n)))
                .await
                .expect("write");
        }
        // Node 1 initializes a bootstrap cluster; wipe another member.
        let victim = cluster
            .running()
            .into_iter()
            .find(|id| *id != leader && *id != 1)
            .unwrap_or_else(|| {
                cluster
                    .running()
                    .into_iter()
                    .find(|id| *id != 1)
                    .expect("member")
            });
        let index = cluster.node(leader).snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[victim], index, Duration::from_secs(10))
                .await
        );
        cluster.wipe(victim).await;
        let mode = cluster.bootstrap_mode();
        cluster
            .start_with_mode(victim, mode)
            .await
            .expect("the process starts");

        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cluster.node(victim).status().refused_as_wiped {
            assert!(
                std::time::Instant::now() < deadline,
                "the wiped member never noticed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            cluster
                .node(victim)
                .snapshot()
                .borrow()
                .account(&account())
                .is_none()
        );
        let leader = cluster
            .leader_among(
                &[1, 2, 3]
                    .into_iter()
                    .filter(|id| *id != victim)
                    .collect::<Vec<_>>(),
                ELECTION,
            )
            .await
            .expect("the others keep a leader");
        cluster
            .node(leader)
            .write(cluster.request(create_role(77)))
            .await
            .expect("the cluster keeps writing");
        assert_eq!(cluster.node(leader).status().role, Role::Leader);
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}
