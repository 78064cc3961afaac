//! Shared fixture of the STS router tests: a replicated configuration built
//! with `meridian_core::config` apply, an edge per region over it, SigV4
//! signing with `meridian_core::sigv4`'s signer, and XML field access.
//!
//! The configuration writer of every edge built here panics: issuance and
//! verification must never write (or wait on) the replicated store, and any
//! test that reached it would fail. There is no other network seam in the
//! edge (no client of any kind), so "no cross-region call" holds by
//! construction and these tests exercise it.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use meridian_core::config::cluster::KeyPurpose;
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId, Response};
use meridian_core::config::model::{AccessKeyStatus, Tags};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_core::ids::{
    AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey, UniqueId, UniqueIdKind,
};
use meridian_core::keyring::Kek;
use meridian_core::rand::DeterministicRandom;
use meridian_core::sigv4::request::{Payload, Request as SigRequest};
use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};
use meridian_core::time::Timestamp;
use meridian_edge::auth::{KeyMaterial, SigV4Authenticator};
use meridian_edge::authz;
use meridian_edge::decode::decode_input;
use meridian_edge::error::ApiError;
use meridian_edge::model::{self, Service};
use meridian_edge::operation::HandlerTable;
use meridian_edge::operation::OperationRequest;
use meridian_edge::query::{Params, QueryLimits};
use meridian_edge::router::router;
use meridian_edge::state::{AuthRequest, Caller};
use meridian_edge::state::{
    BoxFuture, Clock, ConfigWriter, EdgeLimits, EdgeParts, EdgeState, Freshness, RandomSource,
    Readiness, WriteError, WriteOutcome,
};
use meridian_edge::sts;
use meridian_edge::xml::XmlResult;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::events::Event;
use tokio::sync::watch;
use tower::ServiceExt;

/// Account A (the main one) and B (for cross-account).
pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";
/// Where tests start.
pub const T0: i64 = 1_800_000_000;

pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

pub fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

/// A clock tests move.
#[derive(Debug)]
pub struct TestClock(pub AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Reproducible random bytes.
pub struct SeededRandom(Mutex<DeterministicRandom>);

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom(Mutex::new(DeterministicRandom::from_seed(seed)))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        let mut rng = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = meridian_core::rand::RandomSource::fill(&mut *rng, dest);
    }
}

/// A writer that must never be called.
#[derive(Debug)]
pub struct PanickingWriter;

impl ConfigWriter for PanickingWriter {
    fn submit(&self, request: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>> {
        panic!("the STS paths must never write to the replicated store ({request})");
    }
}

/// Long-term credentials of a user.
#[derive(Debug, Clone)]
pub struct Creds {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// The replicated configuration, driven like the state machine does.
pub struct World {
    pub state: ConfigState,
    pub keys: Arc<KeyMaterial>,
    pub random: SeededRandom,
    rng: DeterministicRandom,
    counter: u64,
    config_now: i64,
    pub users: BTreeMap<String, Creds>,
}

impl World {
    /// Two accounts; regions `eu-west-1` and `us-east-1` (issuance on); an
    /// active data key; in A: `AdminAccess` (allow all), users `alice`
    /// (admin) and `bob` (no policy); in B: user `carol` (admin).
    pub fn new() -> World {
        let kek = Kek::from_bytes(&[42u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let mut world = World {
            state: ConfigState::new(),
            keys: Arc::new(KeyMaterial::new(kek)),
            random: SeededRandom::new(7),
            rng: DeterministicRandom::from_seed(99),
            counter: 0,
            config_now: T0 * 1000 - 3_600_000,
            users: BTreeMap::new(),
        };
        for region in ["eu-west-1", "us-east-1"] {
            world.ok(Command::CreateRegion {
                name: region.into(),
                issuance_enabled: true,
            });
        }
        let sealed_key = world
            .keys
            .wrap_session_key(1, &world.random)
            .unwrap_or_else(|e| panic!("{e}"));
        let now = Timestamp::from_unix_millis(world.config_now);
        world.ok(Command::StageKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            key_id: "1".into(),
            algorithm: "AES-256-GCM".into(),
            sealed_key,
            public_key: Vec::new(),
            activate_after: now,
            expected_latest_term: None,
        });
        world.ok(Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term: 1,
            expected_active_term: None,
            retired_verify_until: now,
        });
        for id in [ACCOUNT_A, ACCOUNT_B] {
            world.ok(Command::CreateAccount {
                account_id: account(id),
                name: format!("account-{id}"),
            });
            world.create_policy(id, "AdminAccess", ALLOW_ALL);
        }
        world.create_user(ACCOUNT_A, "alice", Some("AdminAccess"));
        world.create_user(ACCOUNT_A, "bob", None);
        world.create_user(ACCOUNT_B, "carol", Some("AdminAccess"));
        world
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

    /// Moves the replicated clock (the proposers' `issued_at`) forward.
    pub fn advance_config(&mut self, seconds: i64) {
        self.config_now += seconds * 1000;
    }

    /// Stages and activates session data key `term` (the previous active
    /// key verifies until `verify_until`).
    pub fn rotate_session_key(&mut self, term: u64, verify_until: Timestamp) {
        let sealed_key = self
            .keys
            .wrap_session_key(u32::try_from(term).unwrap_or(0), &self.random)
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
            expected_latest_term: Some(term - 1),
        });
        self.ok(Command::ActivateKey {
            purpose: KeyPurpose::SessionToken,
            term,
            expected_active_term: Some(term - 1),
            retired_verify_until: verify_until,
        });
    }

    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.state.snapshot()
    }

    pub fn policy_arn(account: &str, name: &str) -> String {
        format!("arn:aws:iam::{account}:policy/{name}")
    }

    pub fn create_policy(&mut self, account_id: &str, name: &str, document: &str) {
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
    }

    fn unique(&mut self, kind: UniqueIdKind) -> String {
        UniqueId::generate(kind, &mut self.rng)
            .unwrap_or_else(|e| panic!("{e}"))
            .as_str()
            .to_owned()
    }

    /// Creates a user with one access key; `policy` attaches a managed
    /// policy of the account by name.
    pub fn create_user(&mut self, account_id: &str, name: &str, policy: Option<&str>) -> Creds {
        self.create_user_tagged(account_id, name, policy, Tags::new())
    }

    pub fn create_user_tagged(
        &mut self,
        account_id: &str,
        name: &str,
        policy: Option<&str>,
        tags: Tags,
    ) -> Creds {
        let user_id = self.unique(UniqueIdKind::User);
        self.ok(Command::CreateUser {
            account_id: account(account_id),
            user_name: name.into(),
            path: "/".into(),
            user_id,
            permissions_boundary: None,
            tags,
        });
        if let Some(policy) = policy {
            self.ok(Command::AttachPolicy {
                account_id: account(account_id),
                holder: PolicyHolder::User(name.into()),
                policy_arn: World::policy_arn(account_id, policy),
            });
        }
        self.add_key(account_id, name)
    }

    /// A new access key for an existing user.
    pub fn add_key(&mut self, account_id: &str, name: &str) -> Creds {
        let key_id =
            AccessKeyId::generate(AccessKeyKind::LongTerm, &account(account_id), &mut self.rng)
                .unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretAccessKey::generate(&mut self.rng).unwrap_or_else(|e| panic!("{e}"));
        let sealed_secret = self
            .keys
            .seal_access_key_secret(key_id.as_str(), &secret, &self.random)
            .unwrap_or_else(|e| panic!("{e}"));
        self.ok(Command::CreateAccessKey {
            account_id: account(account_id),
            user_name: name.into(),
            access_key_id: key_id.as_str().to_owned(),
            sealed_secret,
        });
        let creds = Creds {
            access_key_id: key_id.as_str().to_owned(),
            secret: secret.expose_secret().to_owned(),
            token: None,
        };
        self.users
            .insert(format!("{account_id}/{name}"), creds.clone());
        creds
    }

    pub fn set_key_status(&mut self, account_id: &str, key: &str, status: AccessKeyStatus) {
        self.ok(Command::UpdateAccessKey {
            account_id: account(account_id),
            user_name: None,
            access_key_id: key.into(),
            status,
        });
    }

    pub fn creds(&self, account_id: &str, name: &str) -> Creds {
        self.users
            .get(&format!("{account_id}/{name}"))
            .cloned()
            .unwrap_or_else(|| panic!("no user {account_id}/{name}"))
    }

    /// A role with `trust`, `max_session_duration`, tags, and optionally an
    /// inline policy.
    pub fn create_role(
        &mut self,
        account_id: &str,
        name: &str,
        trust: &str,
        inline: Option<&str>,
        tags: Tags,
    ) {
        let role_id = self.unique(UniqueIdKind::Role);
        self.ok(Command::CreateRole {
            account_id: account(account_id),
            role_name: name.into(),
            path: "/".into(),
            role_id,
            trust_policy: trust.into(),
            description: String::new(),
            max_session_duration: Some(7200),
            permissions_boundary: None,
            tags,
        });
        if let Some(document) = inline {
            self.ok(Command::PutInlinePolicy {
                account_id: account(account_id),
                holder: PolicyHolder::Role(name.into()),
                policy_name: "inline".into(),
                document: document.into(),
            });
        }
    }
}

/// The trust policy that trusts `principal` (an `AWS` principal value) for
/// `actions`.
pub fn trust(principal: &str, actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":[{}]}}]}}"#,
        actions.join(",")
    )
}

/// One edge node over a snapshot channel.
pub struct Edge {
    pub app: Router,
    pub state: EdgeState,
    pub clock: Arc<TestClock>,
    pub region: String,
}

/// The snapshot channel every edge of a test reads.
pub struct Snapshots {
    pub sender: watch::Sender<Arc<ConfigSnapshot>>,
}

impl Snapshots {
    pub fn new(world: &World) -> Snapshots {
        let (sender, _) = watch::channel(world.snapshot());
        Snapshots { sender }
    }

    /// Publishes the world's current state.
    pub fn publish(&self, world: &World) {
        self.sender.send_replace(world.snapshot());
    }
}

impl Edge {
    /// An edge in `region` reading `snapshots`, at `T0`, fresh.
    pub fn new(world: &World, snapshots: &Snapshots, region: &str) -> Edge {
        let clock = Arc::new(TestClock(AtomicI64::new(T0 * 1000)));
        let freshness = Freshness::new();
        freshness.confirm(Timestamp::from_unix_seconds(T0));
        Edge::with(world, snapshots, region, clock, freshness)
    }

    pub fn with(
        world: &World,
        snapshots: &Snapshots,
        region: &str,
        clock: Arc<TestClock>,
        freshness: Freshness,
    ) -> Edge {
        Edge::with_limits(
            world,
            snapshots,
            region,
            clock,
            freshness,
            EdgeLimits::RECOMMENDED,
        )
    }

    pub fn with_limits(
        world: &World,
        snapshots: &Snapshots,
        region: &str,
        clock: Arc<TestClock>,
        freshness: Freshness,
        limits: EdgeLimits,
    ) -> Edge {
        let mut handlers = HandlerTable::new();
        sts::register(&mut handlers).unwrap_or_else(|e| panic!("{e}"));
        // A probe standing in for an IAM operation: authorization only, so
        // IAM-side effects of session policies, revocations and session
        // types are visible without the IAM handlers.
        handlers
            .register(Service::Iam, "ListRoles", |request| async move {
                authz::authorize(&request, "iam:ListRoles", "*")?;
                Ok(XmlResult::empty())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let state = EdgeState::new(EdgeParts {
            snapshots: snapshots.sender.subscribe(),
            region: region.to_owned(),
            clock: clock.clone(),
            random: Arc::new(SeededRandom::new(region.len() as u64 + 1000)),
            writer: Arc::new(PanickingWriter),
            authenticator: Arc::new(SigV4Authenticator::new(region, world.keys.clone())),
            keys: world.keys.clone(),
            freshness,
            handlers,
            readiness: Readiness::new(),
            limits,
        });
        Edge {
            app: router(state.clone()),
            state,
            clock,
            region: region.to_owned(),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// Signs and sends an STS call.
    pub async fn sts(&self, creds: &Creds, params: &[(&str, &str)]) -> Reply {
        self.call(creds, "sts", "2011-06-15", params, self.now())
            .await
    }

    /// Signs (at `signed_at`) and sends a call of `service`.
    pub async fn call(
        &self,
        creds: &Creds,
        service: &str,
        version: &str,
        params: &[(&str, &str)],
        signed_at: Timestamp,
    ) -> Reply {
        let request = signed_request(creds, &self.region, service, version, params, signed_at);
        send(&self.app, request).await
    }
}

const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `Action=…&Version=…&k=v…`, form-encoded.
pub fn form(action_params: &[(&str, &str)]) -> String {
    action_params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, FORM),
                utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub const HOST: &str = "sts.example.internal";
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A botocore-shaped POST signed in `region` for `service`.
pub fn signed_request(
    creds: &Creds,
    region: &str,
    service: &str,
    version: &str,
    params: &[(&str, &str)],
    signed_at: Timestamp,
) -> Request<Body> {
    let action = params
        .iter()
        .find(|(k, _)| *k == "Action")
        .map(|(_, v)| *v)
        .unwrap_or_default();
    let mut all: Vec<(&str, &str)> = vec![("Action", action), ("Version", version)];
    all.extend(params.iter().filter(|(k, _)| *k != "Action").copied());
    let body = form(&all);
    let headers: [(&str, &[u8]); 2] = [
        ("host", HOST.as_bytes()),
        ("content-type", CONTENT_TYPE.as_bytes()),
    ];
    let to_sign = SigRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(body.as_bytes()),
    };
    let signature = signer::sign_headers(
        &to_sign,
        &SigningParams {
            access_key_id: &creds.access_key_id,
            secret_access_key: creds.secret.as_bytes(),
            session_token: creds.token.as_deref(),
            region,
            service,
            time: signed_at,
            options: SigningOptions::standard(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut builder = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", HOST)
        .header("content-type", CONTENT_TYPE);
    for (name, value) in signature.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.clone().oneshot(request),
    )
    .await
    .unwrap_or_else(|_| panic!("request timed out"))
    .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes();
    Reply {
        status,
        body: String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("{e}")),
    }
}

impl Reply {
    /// The text of the first element at `path` (`A/B`, local names, matched
    /// as a suffix of the element path), unescaped.
    pub fn field(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = path.split('/').collect();
        let mut reader = quick_xml::Reader::from_str(&self.body);
        let mut stack: Vec<String> = Vec::new();
        let mut text = String::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                    text.clear();
                }
                Ok(Event::Text(t)) => {
                    text.push_str(&t.decode().unwrap_or_default());
                }
                Ok(Event::GeneralRef(r)) => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                        continue;
                    }
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    text.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
                Ok(Event::End(_)) => {
                    if stack.len() >= wanted.len()
                        && stack[stack.len() - wanted.len()..]
                            .iter()
                            .zip(&wanted)
                            .all(|(a, b)| a == b)
                    {
                        return Some(text.trim().to_owned());
                    }
                    stack.pop();
                    text.clear();
                }
                Ok(Event::Eof) | Err(_) => return None,
                _ => {}
            }
        }
    }

    pub fn must(&self, path: &str) -> String {
        self.field(path)
            .unwrap_or_else(|| panic!("no {path} in {} {}", self.status, self.body))
    }

    pub fn code(&self) -> String {
        self.field("Error/Code").unwrap_or_default()
    }

    pub fn message(&self) -> String {
        self.field("Error/Message").unwrap_or_default()
    }

    /// Asserts an error answer: status, code, and the message's start.
    pub fn assert_error(&self, status: u16, code: &str, message_prefix: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert!(
            self.message().starts_with(message_prefix),
            "message {:?} does not start with {message_prefix:?}",
            self.message()
        );
    }

    /// The credentials of a successful issuing call.
    pub fn credentials(&self) -> Creds {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        Creds {
            access_key_id: self.must("Credentials/AccessKeyId"),
            secret: self.must("Credentials/SecretAccessKey"),
            token: Some(self.must("Credentials/SessionToken")),
        }
    }
}

impl Edge {
    /// Authenticates `creds` as the edge would for an STS call, returning
    /// the caller (for handler-level and authorization tests).
    pub fn authenticate(&self, creds: &Creds) -> Result<Caller, ApiError> {
        let request = signed_request(
            creds,
            &self.region,
            "sts",
            "2011-06-15",
            &[("Action", "GetCallerIdentity")],
            self.now(),
        );
        let (parts, body) = request.into_parts();
        let body = futures::executor::block_on(body.collect())
            .unwrap_or_else(|e| panic!("{e}"))
            .to_bytes();
        let mut params = Params::new();
        params
            .extend_from_form(&body, QueryLimits::RECOMMENDED)
            .unwrap_or_else(|e| panic!("{e}"));
        let auth = AuthRequest {
            method: &parts.method,
            path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
            params: &params,
            service: Service::Sts,
            peer: None,
        };
        let snapshot = self.state.snapshot();
        self.state
            .authenticator()
            .authenticate(&auth, &snapshot, self.now())
    }

    /// An operation request as a handler receives it, for `caller`.
    pub fn operation_request(
        &self,
        caller: Caller,
        service: Service,
        action: &str,
        params: &[(&str, &str)],
    ) -> OperationRequest {
        let operation =
            model::operation(service, action).unwrap_or_else(|| panic!("no operation {action}"));
        let mut decoded = Params::new();
        decoded
            .extend_from_form(form(params).as_bytes(), QueryLimits::RECOMMENDED)
            .unwrap_or_else(|e| panic!("{e}"));
        let input = operation
            .input
            .map(|shape| decode_input(shape, &decoded).unwrap_or_else(|e| panic!("{e}")));
        OperationRequest {
            state: self.state.clone(),
            request_id: "test-request".into(),
            operation,
            input,
            caller: Some(caller),
            snapshot: self.state.snapshot(),
            now: self.now(),
            audit: Default::default(),
        }
    }

    /// Runs the registered STS handler of `action` for `caller` directly.
    pub async fn handle(&self, caller: Caller, action: &str, params: &[(&str, &str)]) -> Reply {
        let request = self.operation_request(caller, Service::Sts, action, params);
        let operation = request.operation;
        let handler = self
            .state
            .handlers()
            .get(operation)
            .cloned()
            .unwrap_or_else(|| panic!("{action} not registered"));
        match handler(request).await {
            Ok(result) => Reply {
                status: StatusCode::OK,
                body: result.into_document(operation, "test-request"),
            },
            Err(error) => Reply {
                status: error.status(),
                body: error.to_xml(
                    meridian_edge::error::ErrorNamespace::Service(Service::Sts),
                    "test-request",
                ),
            },
        }
    }
}

/// A counter for unique names in a test.
pub static NAMES: AtomicU64 = AtomicU64::new(0);
