//! Admin authorization: unauthenticated, wrongly signed and unauthorized
//! calls are refused with the right gRPC codes and AWS-style codes in the
//! status details; the operator account's administrator succeeds; a tenant
//! account's administrator may act on its own account's resources only.

use std::time::Duration;

use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, SecretAccessKey, UniqueId, UniqueIdKind};
use meridian_core::rand::SystemRng;
use meridian_core::time::Timestamp;
use meridian_grpc::admin::error::error_of;
use meridian_grpc::admin::signing::AdminCredentials;
use meridian_proto::pb;
use zeroize::Zeroizing;

use crate::support::{Cluster, signed};

fn code_of(status: &tonic::Status) -> (tonic::Code, String) {
    (
        status.code(),
        error_of(status).map(|e| e.code).unwrap_or_default(),
    )
}

fn request(id: u8, command: Command) -> ConfigRequest {
    ConfigRequest {
        request_id: RequestId([id; 16]),
        issued_at: Timestamp::from_unix_seconds(1),
        command,
    }
}

/// Scenario: a one-region cluster with its bootstrapped operator account.
/// Calls without a signature, with a wrong secret, from an operator-account
/// user without `meridian:*`, and from a tenant account's administrator are
/// refused; the operator's administrator gets status and creates the tenant;
/// the tenant's administrator may disable its own access key (an
/// account-scoped revocation), after which that key authenticates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_are_authenticated_and_authorized() {
    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        let cluster = Cluster::start(&["eu-west-1"]).await;
        let region = "eu-west-1";
        let mut client = cluster.admin_client(0).await;
        let admin = cluster.admin_credentials();

        tracing::info!("--- unauthenticated");
        let refused = client
            .get_status(tonic::Request::new(pb::AdminStatusRequest {}))
            .await
            .err()
            .unwrap_or_else(|| panic!("an unsigned call succeeded"));
        assert_eq!(code_of(&refused), (tonic::Code::Unauthenticated, String::from("MissingAuthenticationToken")));

        tracing::info!("--- wrong secret, unknown key, tampered message");
        let forged = AdminCredentials {
            secret_access_key: Zeroizing::new("x".repeat(40)),
            ..admin.clone()
        };
        let refused = client
            .get_status(signed("GetStatus", pb::AdminStatusRequest {}, &forged, region))
            .await
            .err()
            .unwrap_or_else(|| panic!("a forged call succeeded"));
        assert_eq!(code_of(&refused), (tonic::Code::Unauthenticated, String::from("SignatureDoesNotMatch")));
        let unknown = AdminCredentials {
            access_key_id: String::from("AKIAQAAAAAAAAAAAAAAA"),
            ..admin.clone()
        };
        let refused = client
            .get_status(signed("GetStatus", pb::AdminStatusRequest {}, &unknown, region))
            .await
            .err()
            .unwrap_or_else(|| panic!("an unknown key succeeded"));
        assert_eq!(code_of(&refused), (tonic::Code::Unauthenticated, String::from("InvalidClientTokenId")));
        let mut tampered = signed(
            "CreateAccount",
            pb::AdminCreateAccountRequest { name: String::from("a"), admin_user_name: String::new() },
            &admin,
            region,
        );
        tampered.get_mut().name = String::from("b");
        let refused = client.create_account(tampered).await.err().unwrap_or_else(|| panic!("tampered call succeeded"));
        assert_eq!(code_of(&refused).0, tonic::Code::Unauthenticated);

        tracing::info!("--- the operator's administrator");
        let status = client
            .get_status(signed("GetStatus", pb::AdminStatusRequest {}, &admin, region))
            .await
            .unwrap_or_else(|e| panic!("status: {e}"))
            .into_inner();
        assert_eq!(status.node_id, 1);
        assert_eq!(status.role, "leader");
        assert_eq!(status.members.len(), 1);
        assert!(status.keys.iter().any(|k| k.state == "active"));

        tracing::info!("--- an operator-account user without meridian:*");
        let node = cluster.apps[0].node();
        let account_id = cluster.admin.account_id;
        let mut rng = SystemRng::new();
        let user_id = UniqueId::generate(UniqueIdKind::User, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        let key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account_id, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretAccessKey::generate(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        let sealed = cluster
            .keys()
            .seal_access_key_secret(key_id.as_str(), &secret, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        for (n, command) in [
            Command::CreateUser {
                account_id,
                user_name: String::from("reader"),
                path: String::from("/"),
                user_id: user_id.to_string(),
                permissions_boundary: None,
                tags: Default::default(),
            },
            Command::PutInlinePolicy {
                account_id,
                holder: PolicyHolder::User(String::from("reader")),
                policy_name: String::from("sts-only"),
                document: String::from(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#),
            },
            Command::CreateAccessKey {
                account_id,
                user_name: String::from("reader"),
                access_key_id: key_id.as_str().to_owned(),
                sealed_secret: sealed,
            },
        ]
        .into_iter()
        .enumerate()
        {
            node.write(request(n as u8 + 1, command)).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let reader = AdminCredentials {
            access_key_id: key_id.as_str().to_owned(),
            secret_access_key: Zeroizing::new(secret.expose_secret().to_owned()),
            session_token: None,
        };
        let refused = client
            .get_status(signed("GetStatus", pb::AdminStatusRequest {}, &reader, region))
            .await
            .err()
            .unwrap_or_else(|| panic!("a user without meridian:* got status"));
        assert_eq!(code_of(&refused), (tonic::Code::PermissionDenied, String::from("AccessDenied")));
        assert!(refused.message().contains("meridian:GetStatus"), "{}", refused.message());
        assert!(refused.message().contains("Encoded authorization failure message"), "{}", refused.message());

        tracing::info!("--- a tenant account's administrator");
        let tenant = client
            .create_account(signed(
                "CreateAccount",
                pb::AdminCreateAccountRequest { name: String::from("tenant"), admin_user_name: String::new() },
                &admin,
                region,
            ))
            .await
            .unwrap_or_else(|e| panic!("create account: {e}"))
            .into_inner();
        assert_ne!(tenant.account_id, account_id.as_str());
        let tenant_credentials = AdminCredentials {
            access_key_id: tenant.access_key_id.clone(),
            secret_access_key: Zeroizing::new(tenant.secret_access_key.clone()),
            session_token: None,
        };
        for method in ["GetStatus", "ListAccounts"] {
            let refused = match method {
                "GetStatus" => client
                    .get_status(signed(method, pb::AdminStatusRequest {}, &tenant_credentials, region))
                    .await
                    .err(),
                _ => client
                    .list_accounts(signed(method, pb::AdminListAccountsRequest {}, &tenant_credentials, region))
                    .await
                    .err(),
            }
            .unwrap_or_else(|| panic!("a tenant administrator called {method}"));
            assert_eq!(code_of(&refused), (tonic::Code::PermissionDenied, String::from("AccessDenied")), "{method}");
        }
        // Its own key: allowed (account scope); then the key is dead.
        client
            .disable_access_key(signed(
                "DisableAccessKey",
                pb::AdminDisableAccessKeyRequest { access_key_id: tenant.access_key_id.clone() },
                &tenant_credentials,
                region,
            ))
            .await
            .unwrap_or_else(|e| panic!("a tenant disabling its own key: {e}"));
        let refused = client
            .disable_access_key(signed(
                "DisableAccessKey",
                pb::AdminDisableAccessKeyRequest { access_key_id: tenant.access_key_id.clone() },
                &tenant_credentials,
                region,
            ))
            .await
            .err()
            .unwrap_or_else(|| panic!("a disabled key still authenticates"));
        assert_eq!(code_of(&refused), (tonic::Code::Unauthenticated, String::from("InvalidClientTokenId")));
        // The operator's key in another account: a tenant may not touch it.
        let refused = client
            .disable_access_key(signed(
                "DisableAccessKey",
                pb::AdminDisableAccessKeyRequest { access_key_id: cluster.admin.access_key_id.as_str().to_owned() },
                &reader,
                region,
            ))
            .await
            .err()
            .unwrap_or_else(|| panic!("reader disabled the administrator's key"));
        assert_eq!(code_of(&refused), (tonic::Code::PermissionDenied, String::from("AccessDenied")));

        tracing::info!("--- a replayed signed write is not applied twice");
        let once = signed(
            "CreateAccount",
            pb::AdminCreateAccountRequest { name: String::from("once"), admin_user_name: String::new() },
            &admin,
            region,
        );
        let metadata = once.metadata().clone();
        client.create_account(once).await.unwrap_or_else(|e| panic!("{e}"));
        let mut replay = tonic::Request::new(pb::AdminCreateAccountRequest { name: String::from("once"), admin_user_name: String::new() });
        *replay.metadata_mut() = metadata;
        let refused = client.create_account(replay).await.err().unwrap_or_else(|| panic!("a replay created a second account"));
        assert_eq!(code_of(&refused), (tonic::Code::FailedPrecondition, String::from("ReplayedRequest")));
        let accounts = client
            .list_accounts(signed("ListAccounts", pb::AdminListAccountsRequest {}, &admin, region))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner()
            .accounts;
        assert_eq!(accounts.iter().filter(|a| a.name == "once").count(), 1);
        assert_eq!(accounts.iter().filter(|a| a.operator).count(), 1);

        cluster.shutdown().await;
    })
    .await;
    assert!(outcome.is_ok(), "test timed out");
}
