//! Shared fixture of the Verifier tests: a replicated configuration built
//! with `meridian_core::config` apply (as the state machine does), session
//! credentials minted with Meridian's own codec under the replicated key
//! ring, a real Verifier served over tonic on 127.0.0.1, and SigV4 signing
//! with the `aws-sigv4` crate for a made-up resource service.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use meridian_core::access::keys::KeyMaterial;
use meridian_core::arn::Arn;
use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId, Response};
use meridian_core::config::model::{AccessKeyStatus, Tags};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_core::ids::{
    AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey, UniqueId, UniqueIdKind,
};
use meridian_core::keyring::Kek;
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::rand::{DeterministicRandom, RandomError, RandomSource};
use meridian_core::time::Timestamp;
use meridian_core::token::{self, SessionPolicy, SessionSpec, SessionTag};
use meridian_grpc::verifier::service::VerifierService;
use meridian_grpc::verifier::{self, VerifierLimits, VerifierParts};
use meridian_proto::pb;
use meridian_proto::pb::verifier_client::VerifierClient;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::transport::Channel;

pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";
pub const REGION: &str = "eu-west-1";
pub const SERVICE: &str = "widgets";
pub const HOST: &str = "widgets.eu-west-1.example.internal";
/// Where the tests' clock starts (2027-01-15T12:30:45Z, the botocore
/// fixtures' signing time).
pub const T0: i64 = 1_800_016_245;

pub const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}"#;

pub fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

pub fn at(seconds_after_t0: i64) -> Timestamp {
    Timestamp::from_unix_seconds(T0 + seconds_after_t0)
}

/// Credentials a client signs with.
#[derive(Debug, Clone)]
pub struct Creds {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
    /// The session's id (temporary credentials).
    pub session_id: Option<String>,
    pub expires_at: Option<Timestamp>,
}

/// A role as the world created it.
#[derive(Debug, Clone)]
pub struct RoleRef {
    pub account: String,
    pub name: String,
    pub role_id: String,
    pub arn: String,
}

/// What a minted session says beyond the role.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub session_name: String,
    pub inline_policy: Option<String>,
    pub managed_policies: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub source_identity: Option<String>,
    pub mfa: bool,
    /// Seconds after T0 (default: T0).
    pub issued_at: i64,
    /// Lifetime in seconds (default one hour).
    pub lifetime: i64,
}

/// The replicated configuration, driven as the state machine drives it.
pub struct World {
    pub state: ConfigState,
    pub keys: Arc<KeyMaterial>,
    rng: DeterministicRandom,
    counter: u64,
    config_now: i64,
}

impl World {
    /// Regions `eu-west-1` and `us-east-1`, an active session key (term 1),
    /// accounts A and B with an `AdminAccess` (allow all) policy.
    pub fn new() -> World {
        let kek = Kek::from_bytes(&[42u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let mut world = World {
            state: ConfigState::new(),
            keys: Arc::new(KeyMaterial::new(kek)),
            rng: DeterministicRandom::from_seed(99),
            counter: 0,
            config_now: (T0 - 3_600) * 1000,
        };
        for region in [REGION, "us-east-1"] {
            world.ok(Command::CreateRegion {
                name: region.into(),
                issuance_enabled: true,
            });
        }
        let now = Timestamp::from_unix_millis(world.config_now);
        world.stage_and_activate(1, None, now);
        for id in [ACCOUNT_A, ACCOUNT_B] {
            world.ok(Command::CreateAccount {
                account_id: account(id),
                name: format!("account-{id}"),
            });
            world.create_policy(id, "AdminAccess", ALLOW_ALL);
        }
        world
    }

    /// Stages and activates session key `term` (compare-and-set against
    /// `previous`); the key it replaces verifies until `retired_verify_until`.
    fn stage_and_activate(
        &mut self,
        term: u64,
        previous: Option<u64>,
        retired_verify_until: Timestamp,
    ) {
        let sealed_key = self
            .keys
            .wrap_session_key(u32::try_from(term).unwrap_or(0), &mut self.rng)
            .unwrap_or_else(|e| panic!("{e}"));
        let now = Timestamp::from_unix_millis(self.config_now);
        self.ok(Command::StageKey {
            purpose: KeyPurpose::SessionToken,
            term,
            key_id: term.to_string(),
            algorithm: "AES-256-GCM".into(),
            sealed_key,
            public_key: Vec::new(),
            activate_after: now,
            expected_latest_term: previous,
        });
        self.ok(Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term,
            expected_active_term: previous,
            retired_verify_until,
        });
    }

    fn request(&mut self, command: Command) -> ConfigRequest {
        self.counter += 1;
        self.config_now += 1000;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.counter.to_be_bytes());
        ConfigRequest {
            request_id: RequestId(id),
            issued_at: Timestamp::from_unix_millis(self.config_now),
            command,
        }
    }

    /// Applies `command`, panicking on refusal.
    pub fn ok(&mut self, command: Command) -> Response {
        let name = command.name();
        let request = self.request(command);
        self.state
            .apply(&request)
            .unwrap_or_else(|e| panic!("{name} refused: {e}"))
    }

    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.state.snapshot()
    }

    pub fn policy_arn(account: &str, name: &str) -> String {
        format!("arn:aws:iam::{account}:policy/{name}")
    }

    fn unique(&mut self, kind: UniqueIdKind) -> String {
        UniqueId::generate(kind, &mut self.rng)
            .unwrap_or_else(|e| panic!("{e}"))
            .as_str()
            .to_owned()
    }

    /// A managed policy; returns its ARN.
    pub fn create_policy(&mut self, account_id: &str, name: &str, document: &str) -> String {
        let policy_id = self.unique(UniqueIdKind::ManagedPolicy);
        self.ok(Command::CreatePolicy {
            account_id: account(account_id),
            policy_name: name.into(),
            path: "/".into(),
            policy_id,
            document: document.into(),
            description: String::new(),
            tags: Tags::new(),
        });
        World::policy_arn(account_id, name)
    }

    /// A user with the managed policies `policies` (ARNs) attached.
    pub fn create_user(&mut self, account_id: &str, name: &str, policies: &[&str]) {
        let user_id = self.unique(UniqueIdKind::User);
        self.ok(Command::CreateUser {
            account_id: account(account_id),
            user_name: name.into(),
            path: "/".into(),
            user_id,
            permissions_boundary: None,
            tags: Tags::new(),
        });
        for arn in policies {
            self.ok(Command::AttachPolicy {
                account_id: account(account_id),
                holder: PolicyHolder::User(name.into()),
                policy_arn: (*arn).to_owned(),
            });
        }
    }

    /// A new long-term key for `user`.
    pub fn add_key(&mut self, account_id: &str, user: &str) -> Creds {
        let key_id =
            AccessKeyId::generate(AccessKeyKind::LongTerm, &account(account_id), &mut self.rng)
                .unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretAccessKey::generate(&mut self.rng).unwrap_or_else(|e| panic!("{e}"));
        self.import_key(account_id, user, key_id.as_str(), secret.expose_secret())
    }

    /// A long-term key with a given id and secret (botocore fixtures).
    pub fn import_key(
        &mut self,
        account_id: &str,
        user: &str,
        key_id: &str,
        secret: &str,
    ) -> Creds {
        let parsed = SecretAccessKey::parse(secret).unwrap_or_else(|e| panic!("{e}"));
        let sealed_secret = self
            .keys
            .seal_access_key_secret(key_id, &parsed, &mut self.rng)
            .unwrap_or_else(|e| panic!("{e}"));
        self.ok(Command::CreateAccessKey {
            account_id: account(account_id),
            user_name: user.into(),
            access_key_id: key_id.to_owned(),
            sealed_secret,
        });
        Creds {
            access_key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            token: None,
            session_id: None,
            expires_at: None,
        }
    }

    pub fn set_key_status(&mut self, account_id: &str, key: &str, status: AccessKeyStatus) {
        self.ok(Command::UpdateAccessKey {
            account_id: account(account_id),
            user_name: None,
            access_key_id: key.into(),
            status,
        });
    }

    /// A role trusting its own account, with managed policies (ARNs), an
    /// optional boundary (ARN) and inline policies.
    pub fn create_role(
        &mut self,
        account_id: &str,
        name: &str,
        managed: &[&str],
        boundary: Option<&str>,
        inline: &[(&str, &str)],
    ) -> RoleRef {
        let role_id = self.unique(UniqueIdKind::Role);
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account_id}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        self.ok(Command::CreateRole {
            account_id: account(account_id),
            role_name: name.into(),
            path: "/".into(),
            role_id: role_id.clone(),
            trust_policy: trust,
            description: String::new(),
            max_session_duration: Some(43_200),
            permissions_boundary: boundary.map(str::to_owned),
            tags: Tags::new(),
        });
        for arn in managed {
            self.ok(Command::AttachPolicy {
                account_id: account(account_id),
                holder: PolicyHolder::Role(name.into()),
                policy_arn: (*arn).to_owned(),
            });
        }
        for (policy_name, document) in inline {
            self.ok(Command::PutInlinePolicy {
                account_id: account(account_id),
                holder: PolicyHolder::Role(name.into()),
                policy_name: (*policy_name).to_owned(),
                document: (*document).to_owned(),
            });
        }
        RoleRef {
            account: account_id.to_owned(),
            name: name.to_owned(),
            role_id,
            arn: format!("arn:aws:iam::{account_id}:role/{name}"),
        }
    }

    /// A role session minted with Meridian's token codec under the
    /// replicated ring, as AssumeRole would.
    pub fn mint_role_session(&mut self, role: &RoleRef, options: &SessionOptions) -> Creds {
        let role_id = UniqueId::parse(&role.role_id).unwrap_or_else(|e| panic!("{e}"));
        let session_name = if options.session_name.is_empty() {
            "session"
        } else {
            &options.session_name
        };
        let principal = AssumedRolePrincipal::new(
            account(&role.account),
            "/",
            &role.name,
            role_id,
            session_name,
            SessionOrigin::AssumeRole,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let managed: Vec<Arn> = options
            .managed_policies
            .iter()
            .map(|arn| Arn::parse(arn).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let policy = SessionPolicy::new(options.inline_policy.as_deref(), managed)
            .unwrap_or_else(|e| panic!("{e}"));
        let issued_at = at(options.issued_at);
        let lifetime = if options.lifetime == 0 {
            3_600
        } else {
            options.lifetime
        };
        let spec = SessionSpec {
            principal: Principal::AssumedRole(principal),
            region: REGION.into(),
            issued_at,
            expires_at: issued_at.plus_seconds(lifetime),
            source_identity: options.source_identity.clone(),
            tags: options
                .tags
                .iter()
                .map(|(key, value)| SessionTag::new(key.clone(), value.clone(), false))
                .collect(),
            policy,
            mfa_authenticated_at: options.mfa.then_some(issued_at),
            role_chained: false,
            provider_claims: Vec::new(),
        };
        let ring = self.keys.session_ring(&self.snapshot());
        let minted = token::mint(&spec, &ring, &mut self.rng).unwrap_or_else(|e| panic!("{e}"));
        Creds {
            access_key_id: minted.credentials.access_key_id.as_str().to_owned(),
            secret: minted
                .credentials
                .secret_access_key
                .expose_secret()
                .to_owned(),
            token: Some(minted.credentials.session_token.as_str().to_owned()),
            session_id: Some(minted.session_id.to_string()),
            expires_at: Some(spec.expires_at),
        }
    }

    pub fn revoke_role_sessions(&mut self, role: &RoleRef, before: Timestamp) {
        self.ok(Command::RevokeRoleSessions {
            account_id: account(&role.account),
            role_name: role.name.clone(),
            issued_before: before,
        });
    }

    pub fn deny_session(&mut self, creds: &Creds) {
        self.ok(Command::DenySession {
            session_id: creds.session_id.clone().unwrap_or_default(),
            expires_at: creds.expires_at.unwrap_or(at(3_600)),
        });
    }

    /// Rotates to session key `term`; the previous key verifies until
    /// `verify_until`.
    pub fn rotate(&mut self, term: u64, verify_until: Timestamp) {
        self.stage_and_activate(term, Some(term - 1), verify_until);
    }

    /// Moves the replicated clock (the proposers' `issued_at`) to `at`.
    pub fn set_config_clock(&mut self, at: Timestamp) {
        self.config_now = at.unix_millis();
    }

    /// Destroys session key `term`.
    pub fn destroy(&mut self, term: u64) {
        self.ok(Command::DestroyKey {
            purpose: KeyPurpose::SessionToken,
            term,
        });
    }
}

// ---------------------------------------------------------------------------
// The served Verifier

/// A clock the tests move.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl TestClock {
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_millis(), Ordering::SeqCst);
    }
}

impl verifier::Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

struct SeededEntropy(Mutex<DeterministicRandom>);

impl verifier::Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let mut rng = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rng.fill(dest)
    }
}

pub struct Ready(pub AtomicBool);

impl verifier::ReadyCheck for Ready {
    fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A Verifier served on 127.0.0.1 over a world's snapshot.
pub struct Served {
    pub client: VerifierClient<Channel>,
    pub clock: Arc<TestClock>,
    pub ready: Arc<Ready>,
    pub snapshots: watch::Sender<Arc<ConfigSnapshot>>,
    pub service: VerifierService,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A Verifier service over `world`, not served: its clock at `now`.
pub struct Unserved {
    pub service: VerifierService,
    pub clock: Arc<TestClock>,
    pub ready: Arc<Ready>,
    pub snapshots: watch::Sender<Arc<ConfigSnapshot>>,
}

impl Unserved {
    pub fn new(world: &World, now: Timestamp, limits: VerifierLimits) -> Unserved {
        let clock = Arc::new(TestClock(AtomicI64::new(now.unix_millis())));
        let ready = Arc::new(Ready(AtomicBool::new(true)));
        let service = VerifierService::new(VerifierParts {
            keys: Arc::clone(&world.keys),
            clock: clock.clone(),
            entropy: Arc::new(SeededEntropy(Mutex::new(DeterministicRandom::from_seed(5)))),
            ready: ready.clone(),
            limits,
        });
        let (snapshots, receiver) = watch::channel(world.snapshot());
        service.bind(receiver);
        Unserved {
            service,
            clock,
            ready,
            snapshots,
        }
    }
}

impl Served {
    /// Serves a Verifier over `world` with `limits`, its clock at `now`.
    pub async fn start_with(world: &World, now: Timestamp, limits: VerifierLimits) -> Served {
        let Unserved {
            service,
            clock,
            ready,
            snapshots,
        } = Unserved::new(world, now, limits);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        // TCP_NODELAY on every accepted socket, as the node's server has
        // it: without it a response written in several segments waits for
        // the client's delayed ACK (tens of milliseconds per call).
        let incoming = futures::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |socket| {
                if let Ok(socket) = &socket {
                    let _ = socket.set_nodelay(true);
                }
                socket
            },
        );
        let server = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_routes(tonic::service::Routes::new(service.clone().into_server()))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            });
        let task = tokio::spawn(async move {
            let _ = server.await;
        });
        let client = VerifierClient::connect(format!("http://{addr}"))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"))
            .max_decoding_message_size(limits.max_message_bytes * 4)
            .max_encoding_message_size(limits.max_message_bytes * 4);
        Served {
            client,
            clock,
            ready,
            snapshots,
            service,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn start(world: &World, now: Timestamp) -> Served {
        Served::start_with(world, now, VerifierLimits::RECOMMENDED).await
    }

    /// Publishes the world's current state, as an applied entry would.
    pub fn publish(&self, world: &World) {
        self.snapshots.send_replace(world.snapshot());
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Signing

/// One request to sign.
#[derive(Debug, Clone)]
pub struct Unsigned {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Unsigned {
    pub fn get(path: &str) -> Unsigned {
        Unsigned {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_query(mut self, query: &str) -> Unsigned {
        self.query = query.into();
        self
    }

    pub fn with_method(mut self, method: &str) -> Unsigned {
        self.method = method.into();
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Unsigned {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: &[u8]) -> Unsigned {
        self.body = body.to_vec();
        self
    }
}

/// Signs `request` with the `aws-sigv4` crate for `service` in `region` at
/// `time`, as a resource service would receive it.
pub fn sign_with(
    creds: &Creds,
    request: &Unsigned,
    service: &str,
    region: &str,
    time: Timestamp,
    location: SignatureLocation,
) -> pb::SignedHttpRequest {
    let uri = if request.query.is_empty() {
        format!("https://{HOST}{}", request.path)
    } else {
        format!("https://{HOST}{}?{}", request.path, request.query)
    };
    let identity: Identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret.clone(),
        creds.token.clone(),
        None,
        "verifier-tests",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.session_token_mode = SessionTokenMode::Include;
    settings.expires_in = Some(Duration::from_secs(300));
    let seconds = u64::try_from(time.unix_seconds()).unwrap_or(0);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(UNIX_EPOCH + Duration::from_secs(seconds))
        .settings(settings)
        .build()
        .unwrap_or_else(|e| panic!("signing params: {e}"))
        .into();
    let mut headers: Vec<(&str, &str)> = vec![("host", HOST)];
    headers.extend(
        request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let signable = SignableRequest::new(
        &request.method,
        uri.clone(),
        headers.iter().copied(),
        SignableBody::Bytes(&request.body),
    )
    .unwrap_or_else(|e| panic!("signable: {e}"));
    let (instructions, _signature) = sign(signable, &params)
        .unwrap_or_else(|e| panic!("aws-sigv4 signs: {e}"))
        .into_parts();
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(&uri);
    for (name, value) in &headers {
        builder = builder.header(*name, *value);
    }
    let mut signed = builder.body(()).unwrap_or_else(|e| panic!("{e}"));
    instructions.apply_to_request_http1x(&mut signed);
    let path_and_query = signed
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned());
    let path_and_query = path_and_query.unwrap_or_default();
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query.as_str(), ""), |(p, q)| (p, q));
    pb::SignedHttpRequest {
        method: signed.method().as_str().to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: signed
            .headers()
            .iter()
            .map(|(name, value)| pb::HttpHeader {
                name: name.as_str().to_owned(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        payload: Some(pb::signed_http_request::Payload::Body(request.body.clone())),
    }
}

/// Header-signed for `widgets` in `eu-west-1` at `time`.
pub fn sign_request(creds: &Creds, request: &Unsigned, time: Timestamp) -> pb::SignedHttpRequest {
    sign_with(
        creds,
        request,
        SERVICE,
        REGION,
        time,
        SignatureLocation::Headers,
    )
}

/// The Authenticate input for `signed`, for `widgets` in `eu-west-1`.
pub fn authenticate_input(signed: pb::SignedHttpRequest) -> pb::AuthenticateRequest {
    pb::AuthenticateRequest {
        request: Some(signed),
        service: SERVICE.into(),
        region: REGION.into(),
        source_ip: String::new(),
    }
}

/// The error code a failed call carries (`""` when it succeeded).
pub fn error_code<T>(result: &Result<tonic::Response<T>, tonic::Status>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(status) => pb_error(status).code,
    }
}

/// The VerifierError in a status.
pub fn pb_error(status: &tonic::Status) -> pb::VerifierError {
    use prost::Message as _;
    pb::VerifierError::decode(status.details()).unwrap_or_else(|_| pb::VerifierError {
        code: format!("{:?}", status.code()),
        message: status.message().to_owned(),
        grpc_code: status.code() as i32,
    })
}

/// Bounds a test.
pub async fn bounded<F: std::future::Future<Output = ()>>(future: F) {
    tokio::time::timeout(Duration::from_secs(120), future)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within 120 s"));
}
