//! Replication on 3- and 5-node clusters: writes through any node reach every
//! node, and a retried request is applied once.

use std::time::Duration;

use meridian_core::config::command::Response;
use meridian_test_support::cluster::{TestCluster, test_timings};

use crate::{ELECTION, account, create_account, create_role};

/// Writes sent to the leader and to followers are applied on every node, in
/// the same order, and visible on the node that answered as soon as it
/// answers (read-your-writes).
async fn replicate(size: u64) {
    let mut cluster = TestCluster::start(size, test_timings()).await;
    let leader = cluster.leader(ELECTION).await.expect("a leader is elected");
    let follower = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");

    cluster
        .node(follower)
        .write(cluster.request(create_account()))
        .await
        .expect("a write through a follower succeeds");
    for n in 0..20u64 {
        let via = if n % 2 == 0 { leader } else { follower };
        let node = cluster.node(via);
        let response = node
            .write(cluster.request(create_role(n)))
            .await
            .expect("write");
        assert!(matches!(response, Response::Created { .. }), "{response:?}");
        assert!(
            node.snapshot()
                .borrow()
                .role(&account(), &format!("role-{n}"))
                .is_some()
        );
    }

    let index = cluster.node(leader).snapshot().borrow().applied_index();
    assert!(
        cluster
            .wait_applied(&cluster.running(), index, Duration::from_secs(10))
            .await
    );
    let reference = cluster.node(leader).snapshot().borrow().clone();
    for id in cluster.running() {
        let view = cluster.node(id).snapshot().borrow().clone();
        assert_eq!(
            view.account(&account()),
            reference.account(&account()),
            "node {id}"
        );
        assert_eq!(view.account(&account()).map(|a| a.roles.len()), Some(20));
    }

    // The same request sent twice (a client retry) is applied once.
    let retried = cluster.request(create_role(100));
    let first = cluster
        .node(follower)
        .write(retried.clone())
        .await
        .expect("first");
    let second = cluster.node(leader).write(retried).await.expect("retry");
    assert_eq!(first, second);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate() {
    tokio::time::timeout(Duration::from_secs(60), replicate(3))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_replicate() {
    tokio::time::timeout(Duration::from_secs(60), replicate(5))
        .await
        .expect("bounded");
}
