//! A real Meridian node in process (one region, 127.0.0.1 only) for the
//! client's tests, a user with a narrow policy written through the node,
//! and SigV4 signing with the `aws-sigv4` crate for the made-up service
//! `widgets`.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use meridian_core::access::keys::KeyMaterial;
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, SecretAccessKey, UniqueId, UniqueIdKind};
use meridian_core::rand::SystemRng;
use meridian_core::time::Timestamp;
use meridian_server::app::{App, RunningApp};
use meridian_server::bootstrap::AdminBootstrap;
use meridian_server::config::env::Env;
use meridian_server::config::raw::{
    RawBootstrap, RawCluster, RawConfig, RawGrpc, RawHttp, RawKek, RawMember,
};
use meridian_server::config::{Config, KekSource};
use meridian_server::kek::{generate_kek_hex, load_kek, write_key_file};
use tempfile::TempDir;
use tokio::net::TcpListener;

pub const REGION: &str = "eu-west-1";
pub const SERVICE: &str = "widgets";

/// The wall clock: the node under test reads it, so requests are signed
/// with it.
#[allow(clippy::disallowed_methods)]
pub fn wall_clock() -> SystemTime {
    SystemTime::now()
}

pub fn now() -> Timestamp {
    let millis = wall_clock()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_unix_millis(millis)
}

/// Long-term credentials.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// One node, bootstrapped with an administrator (AWS managed
/// `AdministratorAccess`).
pub struct Node {
    pub dir: TempDir,
    pub app: RunningApp,
    pub admin: AdminBootstrap,
    requests: u8,
}

impl Node {
    /// Starts a one-node cluster in `REGION` and waits until it is ready and
    /// holds the administrator's key.
    pub async fn start() -> Node {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SystemRng::new();
        let kek = generate_kek_hex(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        write_key_file(&dir.path().join("kek"), &kek).unwrap_or_else(|e| panic!("{e}"));
        let admin =
            AdminBootstrap::generate("ops", "admin", &mut rng).unwrap_or_else(|e| panic!("{e}"));
        admin
            .write_new(&dir.path().join("admin.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let grpc = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let http_addr = http.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let grpc_addr = grpc.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let member = RawMember {
            id: Some(1),
            region: Some(REGION.to_owned()),
            grpc: Some(format!("http://{grpc_addr}")),
            http: Some(format!("http://{http_addr}")),
        };
        let raw = RawConfig {
            version: Some(1),
            node_id: Some(1),
            region: Some(REGION.to_owned()),
            data_dir: Some(dir.path().join("node-1")),
            shutdown_grace_period_secs: Some(10),
            http: RawHttp {
                listen: Some(http_addr.to_string()),
                advertise: None,
            },
            grpc: RawGrpc {
                listen: Some(grpc_addr.to_string()),
                advertise: None,
            },
            cluster: RawCluster {
                bootstrap: Some(RawBootstrap {
                    members: vec![member],
                    admin_file: Some(dir.path().join("admin.json")),
                }),
                join: None,
            },
            kek: RawKek {
                file: Some(dir.path().join("kek")),
                env: None,
            },
            ..RawConfig::default()
        };
        let config =
            Config::build(raw, dir.path(), &Env::new()).unwrap_or_else(|e| panic!("config: {e}"));
        let app = App::build_with_listeners(config, &Env::new(), http, grpc)
            .await
            .unwrap_or_else(|e| panic!("build node: {e:#}"))
            .spawn();
        let key_id = admin.access_key_id.as_str().to_owned();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while !app.readiness().is_ready()
                || app.node().snapshot().borrow().access_key(&key_id).is_none()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "node not ready and bootstrapped within 60 s");
        Node {
            dir,
            app,
            admin,
            requests: 0,
        }
    }

    /// The node's Verifier endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.app.grpc_addr())
    }

    /// The administrator's account.
    pub fn account(&self) -> String {
        self.admin.account_id.as_str().to_owned()
    }

    /// The administrator's key (allowed everything).
    pub fn admin_keys(&self) -> Keys {
        Keys {
            access_key_id: self.admin.access_key_id.as_str().to_owned(),
            secret_access_key: self.admin.secret_access_key.expose_secret().to_owned(),
        }
    }

    /// A user of the administrator's account with inline policy `document`
    /// and a new access key.
    pub async fn create_user(&mut self, name: &str, document: &str) -> Keys {
        let kek = load_kek(&KekSource::File(self.dir.path().join("kek")), &Env::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let keys = KeyMaterial::new(kek);
        let account_id = self.admin.account_id;
        let mut rng = SystemRng::new();
        let user_id =
            UniqueId::generate(UniqueIdKind::User, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        let key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account_id, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretAccessKey::generate(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        let sealed_secret = keys
            .seal_access_key_secret(key_id.as_str(), &secret, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        for command in [
            Command::CreateUser {
                account_id,
                user_name: name.to_owned(),
                path: String::from("/"),
                user_id: user_id.to_string(),
                permissions_boundary: None,
                tags: Default::default(),
            },
            Command::PutInlinePolicy {
                account_id,
                holder: PolicyHolder::User(name.to_owned()),
                policy_name: String::from("widgets"),
                document: document.to_owned(),
            },
            Command::CreateAccessKey {
                account_id,
                user_name: name.to_owned(),
                access_key_id: key_id.as_str().to_owned(),
                sealed_secret,
            },
        ] {
            self.requests += 1;
            let mut id = [0x5c; 16];
            id[0] = self.requests;
            self.app
                .node()
                .write(ConfigRequest {
                    request_id: RequestId(id),
                    issued_at: now(),
                    command,
                })
                .await
                .unwrap_or_else(|e| panic!("write: {e}"));
        }
        Keys {
            access_key_id: key_id.as_str().to_owned(),
            secret_access_key: secret.expose_secret().to_owned(),
        }
    }

    /// Stops the node.
    pub async fn stop(self) {
        let _ = self.app.shutdown().await;
    }
}

/// The headers `aws-sigv4` adds to a request of `method` to `uri` (with
/// `host` and `extra` headers already on it) signed with `keys` for
/// `widgets` in `REGION` now.
pub fn sign_headers(
    keys: &Keys,
    method: &str,
    uri: &str,
    host: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> http::Request<Vec<u8>> {
    let identity: Identity = Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.clone(),
        None,
        None,
        "meridian-client-tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(SERVICE)
        .time(wall_clock())
        .settings(SigningSettings::default())
        .build()
        .unwrap_or_else(|e| panic!("signing params: {e}"))
        .into();
    let mut headers: Vec<(&str, &str)> = vec![("host", host)];
    headers.extend_from_slice(extra);
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap_or_else(|e| panic!("signable: {e}"));
    let (instructions, _) = sign(signable, &params)
        .unwrap_or_else(|e| panic!("sign: {e}"))
        .into_parts();
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder
        .body(body.to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// Bounds a test.
pub async fn bounded<F: std::future::Future<Output = ()>>(future: F) {
    tokio::time::timeout(Duration::from_secs(120), future)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within 120 s"));
}
