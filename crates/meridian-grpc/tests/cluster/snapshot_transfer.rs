//! Snapshot transfer over gRPC: a snapshot whose bytes do not match the
//! digest its sender announced is refused before openraft sees it, and the
//! receiver keeps its state.

use std::time::Duration;

use meridian_proto::pb;
use meridian_proto::pb::raft_service_client::RaftServiceClient;
use meridian_store::codec;
use meridian_store::state_machine::snapshot_meta_to_pb;
use meridian_test_support::cluster::{TestCluster, test_timings};
use openraft::async_runtime::WatchReceiver as _;

use crate::{ELECTION, account, create_account, create_role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_snapshot_is_refused_in_transit() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut cluster = TestCluster::start(3, test_timings()).await;
        let leader = cluster.leader(ELECTION).await.expect("leader");
        let node = cluster.node(leader);
        node.write(cluster.request(create_account()))
            .await
            .expect("write");
        for n in 0..5 {
            node.write(cluster.request(create_role(n)))
                .await
                .expect("write");
        }
        node.raft()
            .trigger()
            .snapshot()
            .await
            .expect("trigger a snapshot");
        let snapshot = loop {
            if let Some(snapshot) = node.raft().get_snapshot().await.expect("read snapshot") {
                break snapshot;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let vote = node.raft().metrics().borrow_watched().vote;
        let follower = cluster
            .running()
            .into_iter()
            .find(|id| *id != leader)
            .expect("follower");
        let index = node.snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[follower], index, Duration::from_secs(10))
                .await
        );
        let before = cluster.node(follower).snapshot().borrow().clone();

        let mut client = RaftServiceClient::connect(cluster.raft_addr(follower))
            .await
            .expect("connect");
        let send = |data: Vec<u8>, sha256: Vec<u8>| {
            let mut meta = snapshot_meta_to_pb(&snapshot.meta, &snapshot.snapshot);
            meta.vote = Some(codec::vote_to_pb(&vote));
            meta.sha256 = sha256;
            meta.size = data.len() as u64;
            vec![
                pb::SnapshotChunk {
                    payload: Some(pb::snapshot_chunk::Payload::Meta(meta)),
                },
                pb::SnapshotChunk {
                    payload: Some(pb::snapshot_chunk::Payload::Data(data)),
                },
            ]
        };
        let mut corrupt = snapshot.snapshot.bytes.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        let status = client
            .install_snapshot(futures::stream::iter(send(
                corrupt,
                snapshot.snapshot.sha256.to_vec(),
            )))
            .await
            .expect_err("a corrupted snapshot is refused");
        assert_eq!(status.code(), tonic::Code::DataLoss, "{status:?}");
        let status = client
            .install_snapshot(futures::stream::iter(send(
                snapshot.snapshot.bytes.clone(),
                vec![1, 2, 3],
            )))
            .await
            .expect_err("a malformed digest is refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

        let after = cluster.node(follower).snapshot().borrow().clone();
        assert!(after.applied_index() >= before.applied_index());
        assert!(after.role(&account(), "role-4").is_some());
        // The follower still replicates normally.
        node.write(cluster.request(create_role(50)))
            .await
            .expect("write after refusal");
        let index = node.snapshot().borrow().applied_index();
        assert!(
            cluster
                .wait_applied(&[follower], index, Duration::from_secs(10))
                .await
        );
        cluster.shutdown().await;
    })
    .await
    .expect("bounded");
}
