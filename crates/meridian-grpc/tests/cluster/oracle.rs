//! Config-write oracle under repeated leader kills (after openraft's
//! `tests-turmoil` client oracle): every acknowledged write is present on
//! every node at the end, no write appears that was not issued, and no
//! retried request is applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian_core::config::command::{ConfigRequest, Response};
use meridian_grpc::errors::WriteError;
use meridian_grpc::node::Node;
use meridian_test_support::cluster::{TestCluster, test_timings};

use crate::{ELECTION, account, create_account, create_role};

/// What the client saw for one logical write.
#[derive(Debug)]
enum Seen {
    Acked(Response),
    Rejected(String),
    Unknown,
}

/// Retries one request (same id) across nodes until it is answered or the
/// client gives up.
async fn client_write(nodes: Vec<Arc<Node>>, request: ConfigRequest, start_at: usize) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut at = start_at;
    while Instant::now() < deadline {
        let node = &nodes[at % nodes.len()];
        match node.write(request.clone()).await {
            Ok(response) => return Seen::Acked(response),
            Err(WriteError::Rejected(err)) => return Seen::Rejected(err.iam_code().to_owned()),
            Err(WriteError::NoQuorum { .. }) => {}
            Err(WriteError::ShuttingDown) => at += 1,
            Err(WriteError::Internal(err)) => panic!("internal error: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Seen::Unknown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_leader_kills() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let mut cluster = TestCluster::start(3, test_timings()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        cluster
            .node(leader)
            .write(cluster.request(create_account()))
            .await
            .expect("write");

        let mut issued = BTreeSet::new();
        let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
        let mut next = 0u64;
        for round in 0..4u64 {
            let leader = cluster.leader(ELECTION).await.expect("leader");
            let nodes: Vec<Arc<Node>> = cluster
                .running()
                .into_iter()
                .map(|id| cluster.node(id))
                .collect();
            let leader_position = nodes
                .iter()
                .position(|node| node.id() == leader)
                .unwrap_or(0);
            let mut tasks = Vec::new();
            for k in 0..12u64 {
                let n = next;
                next += 1;
                issued.insert(n);
                let request = cluster.request(create_role(n));
                // Half the clients talk to the leader that is about to die.
                let start_at = if k % 2 == 0 {
                    leader_position
                } else {
                    leader_position + 1
                };
                tasks.push((
                    n,
                    tokio::spawn(client_write(nodes.clone(), request, start_at)),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20 + 15 * round)).await;
            cluster.kill(leader).await;
            for (n, task) in tasks {
                seen.insert(n, task.await.expect("client task"));
            }
            cluster
                .restart(leader)
                .await
                .expect("restart the killed leader");
        }

        let leader = cluster.leader(ELECTION).await.expect("leader at the end");
        // One more write through the final leader, so that everything
        // committed before is applied everywhere once it is.
        cluster
            .node(leader)
            .write(cluster.request(create_role(10_000)))
            .await
            .expect("final write");
        issued.insert(10_000);
        let index = cluster.node(leader).snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&cluster.running(), index, Duration::from_secs(15))
                .await
        );

        let acked: BTreeSet<u64> = seen
            .iter()
            .filter(|(_, seen)| matches!(seen, Seen::Acked(_)))
            .map(|(n, _)| *n)
            .collect();
        assert!(
            acked.len() >= seen.len() / 2,
            "too few writes acknowledged: {seen:?}"
        );
        for (n, outcome) in &seen {
            // A duplicate apply of a retried CreateRole would answer
            // EntityAlreadyExists; dedupe answers the first Created again.
            match outcome {
                Seen::Acked(Response::Created { .. }) | Seen::Unknown => {}
                Seen::Rejected(code) => panic!("write {n} was refused with {code}"),
                other => panic!("write {n}: {other:?}"),
            }
        }
        let reference = cluster.node(leader).snapshot().borrow().clone();
        for id in cluster.running() {
            let view = cluster.node(id).snapshot().borrow().clone();
            let roles: BTreeSet<u64> = view
                .account(&account())
                .map(|config| {
                    config
                        .roles
                        .values()
                        .filter_map(|role| role.name.strip_prefix("role-")?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<_> = acked.difference(&roles).collect();
            assert!(
                missing.is_empty(),
                "node {id} lost acknowledged writes {missing:?}"
            );
            let phantom: Vec<_> = roles.difference(&issued).collect();
            assert!(
                phantom.is_empty(),
                "node {id} has writes never issued {phantom:?}"
            );
            assert_eq!(
                view.account(&account()),
                reference.account(&account()),
                "node {id} diverged"
            );
        }
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}
