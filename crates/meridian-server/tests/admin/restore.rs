//! Backup and restore: the replicated state of one cluster, streamed by
//! `Backup`, restored into a new cluster started with the same KEK.
//!
//! Cluster A gets a tenant account and a role; its backup is restored into
//! cluster B (fresh: only its bootstrap account). Afterwards B holds A's
//! accounts, role and key ring, A's administrator authenticates on B and
//! B's own bootstrap administrator no longer exists; a second restore is
//! refused (B now has configuration of its own), and a cluster with another
//! KEK refuses the backup.

use std::time::Duration;

use meridian_grpc::admin::error::error_of;
use meridian_proto::pb;

use crate::support::{Cluster, signed};

async fn backup_of(cluster: &Cluster) -> Vec<pb::AdminBackupChunk> {
    let mut client = cluster.admin_client(0).await;
    let mut stream = client
        .backup(signed(
            "Backup",
            pb::AdminBackupRequest {},
            &cluster.admin_credentials(),
            &cluster.regions[0],
        ))
        .await
        .unwrap_or_else(|e| panic!("backup: {e}"))
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream
        .message()
        .await
        .unwrap_or_else(|e| panic!("backup stream: {e}"))
    {
        chunks.push(chunk);
    }
    chunks
}

async fn restore(
    target: &Cluster,
    credentials: &meridian_grpc::admin::signing::AdminCredentials,
    chunks: Vec<pb::AdminBackupChunk>,
) -> Result<pb::AdminRestoreResponse, tonic::Status> {
    let first = chunks.first().cloned().unwrap_or_default();
    let metadata = signed("Restore", first, credentials, &target.regions[0])
        .metadata()
        .clone();
    let mut request = tonic::Request::new(tonic::codegen::tokio_stream::iter(chunks));
    *request.metadata_mut() = metadata;
    let mut client = target.admin_client(0).await;
    client
        .restore(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_a_new_cluster_with_the_same_kek() {
    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        tracing::info!("--- cluster A with a tenant account");
        let a = Cluster::start(&["eu-west-1"]).await;
        let mut client_a = a.admin_client(0).await;
        let tenant = client_a
            .create_account(signed(
                "CreateAccount",
                pb::AdminCreateAccountRequest {
                    name: String::from("tenant"),
                    admin_user_name: String::new(),
                },
                &a.admin_credentials(),
                "eu-west-1",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        client_a
            .rotate_keys(signed(
                "RotateKeys",
                pb::AdminRotateKeysRequest::default(),
                &a.admin_credentials(),
                "eu-west-1",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let chunks = backup_of(&a).await;
        let Some(pb::admin_backup_chunk::Payload::Header(header)) =
            chunks.first().and_then(|c| c.payload.clone())
        else {
            panic!("no backup header");
        };
        assert_eq!(header.magic, "meridian-backup");
        assert!(header.size > 0);

        tracing::info!("--- cluster B, same KEK, restored from A's backup");
        let b = Cluster::start_with_kek(&["us-east-1"], Some(a.dir.path())).await;
        let restored = restore(&b, &b.admin_credentials(), chunks.clone())
            .await
            .unwrap_or_else(|e| panic!("restore: {e}"));
        assert_eq!(restored.account_count, 2);
        assert_eq!(restored.key_count, 2);
        let snapshot = b.apps[0].node().snapshot().borrow().clone();
        assert!(snapshot.account(&a.admin.account_id).is_some());
        assert!(
            snapshot.account(&b.admin.account_id).is_none(),
            "B's bootstrap account is replaced"
        );
        assert_eq!(snapshot.regions().len(), 2, "A's region and B's own");
        assert_eq!(snapshot.nodes().members.len(), 1, "B keeps its membership");

        tracing::info!("--- A's administrator works on B; B's bootstrap administrator is gone");
        let mut client_b = b.admin_client(0).await;
        let status = client_b
            .get_status(signed(
                "GetStatus",
                pb::AdminStatusRequest {},
                &a.admin_credentials(),
                "us-east-1",
            ))
            .await
            .unwrap_or_else(|e| panic!("A's admin on B: {e}"))
            .into_inner();
        assert_eq!(status.account_count, 2);
        let refused = client_b
            .get_status(signed(
                "GetStatus",
                pb::AdminStatusRequest {},
                &b.admin_credentials(),
                "us-east-1",
            ))
            .await
            .err()
            .unwrap_or_else(|| panic!("B's bootstrap administrator survived the restore"));
        assert_eq!(
            error_of(&refused).map(|e| e.code).as_deref(),
            Some("InvalidClientTokenId")
        );
        let accounts = client_b
            .list_accounts(signed(
                "ListAccounts",
                pb::AdminListAccountsRequest {},
                &a.admin_credentials(),
                "us-east-1",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner()
            .accounts;
        assert!(
            accounts
                .iter()
                .any(|acct| acct.account_id == tenant.account_id)
        );

        tracing::info!("--- a second restore is refused");
        let again = restore(&b, &a.admin_credentials(), chunks.clone())
            .await
            .err()
            .unwrap_or_else(|| panic!("restored twice"));
        assert_eq!(again.code(), tonic::Code::FailedPrecondition);

        tracing::info!("--- a cluster with another KEK refuses the backup");
        let c = Cluster::start(&["ap-southeast-2"]).await;
        let refused = restore(&c, &c.admin_credentials(), chunks)
            .await
            .err()
            .unwrap_or_else(|| panic!("restored under another KEK"));
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(refused.message().contains("KEK"), "{}", refused.message());

        c.shutdown().await;
        b.shutdown().await;
        a.shutdown().await;
    })
    .await;
    assert!(outcome.is_ok(), "test timed out");
}
