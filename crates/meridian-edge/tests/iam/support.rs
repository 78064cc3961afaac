//! Test support for the IAM router tests: an in-memory `ConfigWriter` that
//! applies commands with the real state machine (`ConfigState::apply`) and
//! republishes the snapshot, a seeded account with an administrator and a
//! policy-less user, SigV4-signed requests (core's signer, verified by the
//! edge's real `SigV4Authenticator`), and a small XML tree to read answers.

#![allow(dead_code)] // each test module uses a different part

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use meridian_core::config::command::{Command, ConfigRequest, PolicyHolder, RequestId, Response};
use meridian_core::config::error::ConfigError;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_core::ids::{
    AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey, UniqueId, UniqueIdKind,
};
use meridian_core::keyring::Kek;
use meridian_core::rand::DeterministicRandom;
use meridian_core::sigv4::request::{Payload, Request as SigRequest};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};
use meridian_core::time::Timestamp;
use meridian_edge::auth::{KeyMaterial, SigV4Authenticator};
use meridian_edge::iam;
use meridian_edge::operation::HandlerTable;
use meridian_edge::router::router;
use meridian_edge::state::{
    BoxFuture, Clock, ConfigWriter, EdgeLimits, EdgeParts, EdgeState, Freshness, RandomSource,
    Readiness, WriteError, WriteOutcome,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::events::Event;
use tokio::sync::watch;
use tower::ServiceExt;

/// The account every test acts in.
pub(crate) const ACCOUNT: &str = "123456789012";
/// Another account of the same cluster.
pub(crate) const OTHER_ACCOUNT: &str = "210987654321";
/// The node's region (IAM requests are signed for it).
pub(crate) const REGION: &str = "eu-west-1";
/// The IAM response namespace.
pub(crate) const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// Allows everything.
pub(crate) const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
/// A trust policy any principal of the account may assume.
pub(crate) const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
/// A small identity policy.
pub(crate) const READ_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;

/// The fixed "now" of every test (2026-11-26T05:08:28Z).
pub(crate) const NOW: Timestamp = Timestamp::from_unix_seconds(1_795_669_708);

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        NOW
    }
}

/// Deterministic, never-repeating bytes (request ids, ids, secrets).
#[derive(Default)]
pub(crate) struct CountingRandom(AtomicU64);

impl RandomSource for CountingRandom {
    fn fill(&self, dest: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let mut stream = DeterministicRandom::from_seed(n);
        // DeterministicRandom never fails.
        let _ = meridian_core::rand::RandomSource::fill(&mut stream, dest);
    }
}

/// A `ConfigWriter` that applies to an in-memory `ConfigState` and publishes
/// the new snapshot before it answers, as the Raft writer does after apply.
pub(crate) struct MemoryWriter {
    state: Mutex<ConfigState>,
    publish: watch::Sender<Arc<ConfigSnapshot>>,
    submitted: Mutex<Vec<ConfigRequest>>,
    unavailable: AtomicBool,
    interpose: Mutex<Option<Command>>,
}

impl MemoryWriter {
    fn new(state: ConfigState) -> (Arc<MemoryWriter>, watch::Receiver<Arc<ConfigSnapshot>>) {
        let (publish, receiver) = watch::channel(state.snapshot());
        let writer = Arc::new(MemoryWriter {
            state: Mutex::new(state),
            publish,
            submitted: Mutex::new(Vec::new()),
            unavailable: AtomicBool::new(false),
            interpose: Mutex::new(None),
        });
        (writer, receiver)
    }

    /// Applies `command` directly (test setup), as if proposed by a node.
    pub(crate) fn apply(&self, command: Command) -> Result<Response, ConfigError> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut id = [0xA5u8; 16];
        id[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let request = ConfigRequest {
            request_id: RequestId(id),
            issued_at: NOW,
            command,
        };
        self.apply_request(&request)
    }

    fn apply_request(&self, request: &ConfigRequest) -> Result<Response, ConfigError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = state.apply(request);
        self.publish.send_replace(state.snapshot());
        outcome
    }

    /// The newest snapshot.
    pub(crate) fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
    }

    /// Every request the edge submitted, in order.
    pub(crate) fn submitted(&self) -> Vec<ConfigRequest> {
        self.submitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `command` just before the next submitted write, as another
    /// node's write that wins the race between the edge's pre-checks and
    /// its proposal.
    pub(crate) fn interpose(&self, command: Command) {
        *self
            .interpose
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(command);
    }

    /// Makes every later write fail as a cluster without quorum does.
    pub(crate) fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::Release);
    }
}

impl ConfigWriter for MemoryWriter {
    fn submit(&self, request: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>> {
        let outcome = if self.unavailable.load(Ordering::Acquire) {
            Err(WriteError::Unavailable("no quorum (test)".to_owned()))
        } else {
            let racing = self
                .interpose
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(command) = racing {
                let name = command.name();
                if let Err(error) = self.apply(command) {
                    panic!("interposed {name} refused: {error}");
                }
            }
            self.submitted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request.clone());
            Ok(self.apply_request(&request))
        };
        Box::pin(async move { outcome })
    }
}

/// Request parameters, `(name, value)`.
pub(crate) type Params<'a> = &'a [(&'a str, &'a str)];

/// Long-term credentials.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret: String,
}

/// A router over in-memory state, with an administrator (allowed
/// everything) and `nobody` (no policies) in [`ACCOUNT`].
pub(crate) struct Harness {
    app: Router,
    /// The edge state behind `app` (tests install federation settings).
    pub(crate) state: EdgeState,
    pub(crate) writer: Arc<MemoryWriter>,
    pub(crate) keys: Arc<KeyMaterial>,
    pub(crate) random: Arc<CountingRandom>,
    pub(crate) admin: Credentials,
    pub(crate) nobody: Credentials,
    seed: AtomicU64,
}

pub(crate) fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn other_account() -> AccountId {
    AccountId::parse(OTHER_ACCOUNT).unwrap_or_else(|e| panic!("{e}"))
}

impl Harness {
    pub(crate) fn new() -> Harness {
        let kek = Kek::from_bytes(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        let keys = Arc::new(KeyMaterial::new(kek));
        let (writer, snapshots) = MemoryWriter::new(ConfigState::new());
        let random = Arc::new(CountingRandom::default());
        let mut table = HandlerTable::new();
        iam::register(&mut table).unwrap_or_else(|e| panic!("{e}"));
        let state = EdgeState::new(EdgeParts {
            snapshots,
            region: REGION.to_owned(),
            clock: Arc::new(FixedClock),
            random: random.clone(),
            writer: writer.clone(),
            authenticator: Arc::new(SigV4Authenticator::new(REGION, keys.clone())),
            keys: keys.clone(),
            freshness: Freshness::new(),
            handlers: table,
            readiness: Readiness::new(),
            limits: EdgeLimits::RECOMMENDED,
        });
        let mut harness = Harness {
            app: router(state.clone()),
            state,
            writer,
            keys,
            random,
            admin: Credentials {
                access_key_id: String::new(),
                secret: String::new(),
            },
            nobody: Credentials {
                access_key_id: String::new(),
                secret: String::new(),
            },
            seed: AtomicU64::new(1000),
        };
        for (id, name) in [(account(), "main"), (other_account(), "other")] {
            harness.seed(Command::CreateAccount {
                account_id: id,
                name: name.to_owned(),
            });
        }
        harness.admin = harness.seed_user(account(), "admin", Some(ALLOW_ALL));
        harness.nobody = harness.seed_user(account(), "nobody", None);
        harness
    }

    /// Applies a setup command; panics if it is refused.
    pub(crate) fn seed(&self, command: Command) -> Response {
        let name = command.name();
        self.writer
            .apply(command)
            .unwrap_or_else(|e| panic!("seeding {name}: {e}"))
    }

    fn next_seed(&self) -> u64 {
        self.seed.fetch_add(1, Ordering::Relaxed)
    }

    /// A user of `account` with an access key and, optionally, an inline
    /// policy; returns its credentials.
    pub(crate) fn seed_user(
        &self,
        account: AccountId,
        name: &str,
        policy: Option<&str>,
    ) -> Credentials {
        let mut rng = DeterministicRandom::from_seed(self.next_seed());
        let user_id =
            UniqueId::generate(UniqueIdKind::User, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        self.seed(Command::CreateUser {
            account_id: account,
            user_name: name.to_owned(),
            path: "/".to_owned(),
            user_id: user_id.as_str().to_owned(),
            permissions_boundary: None,
            tags: Default::default(),
        });
        if let Some(policy) = policy {
            self.seed(Command::PutInlinePolicy {
                account_id: account,
                holder: PolicyHolder::User(name.to_owned()),
                policy_name: "inline".to_owned(),
                document: policy.to_owned(),
            });
        }
        let key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        let secret = SecretAccessKey::generate(&mut rng).unwrap_or_else(|e| panic!("{e}"));
        let sealed = self
            .keys
            .seal_access_key_secret(key_id.as_str(), &secret, self.random.as_ref())
            .unwrap_or_else(|e| panic!("{e}"));
        self.seed(Command::CreateAccessKey {
            account_id: account,
            user_name: name.to_owned(),
            access_key_id: key_id.as_str().to_owned(),
            sealed_secret: sealed,
        });
        Credentials {
            access_key_id: key_id.as_str().to_owned(),
            secret: secret.expose_secret().to_owned(),
        }
    }

    /// Calls `action` as the administrator.
    pub(crate) async fn admin(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        let credentials = self.admin.clone();
        self.call(&credentials, action, params).await
    }

    /// Calls `action` with `credentials`, SigV4-signed for `iam` in [`REGION`].
    pub(crate) async fn call(
        &self,
        credentials: &Credentials,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        let mut body = format!("Action={action}&Version=2010-05-08");
        for (name, value) in params {
            body.push('&');
            body.push_str(&encode(name));
            body.push('=');
            body.push_str(&encode(value));
        }
        send(self.app.clone(), signed(credentials, body)).await
    }
}

const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Form-encodes a parameter name or value.
pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, FORM).to_string()
}

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const HOST: &str = "iam.meridian.test";

fn signed(credentials: &Credentials, body: String) -> Request<Body> {
    let headers: [(&str, &[u8]); 2] = [
        ("host", HOST.as_bytes()),
        ("content-type", CONTENT_TYPE.as_bytes()),
    ];
    let request = SigRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(body.as_bytes()),
    };
    let params = SigningParams {
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret.as_bytes(),
        session_token: None,
        region: REGION,
        service: "iam",
        time: NOW,
        options: SigningOptions::standard(),
    };
    let signature = sign_headers(&request, &params).unwrap_or_else(|e| panic!("{e}"));
    Request::post("/")
        .header("host", HOST)
        .header("content-type", CONTENT_TYPE)
        .header("x-amz-date", signature.x_amz_date)
        .header("authorization", signature.authorization)
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn send(app: Router, request: Request<Body>) -> Reply {
    let response = tokio::time::timeout(Duration::from_secs(10), app.oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("request did not complete"))
        .unwrap_or_else(|e| match e {});
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let root = Node::parse(&body);
    Reply { status, body, root }
}

/// An answer: status, body and its XML tree.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) root: Node,
}

impl Reply {
    /// Text at `path` below the root element (`CreateRoleResult/Role/Arn`).
    pub(crate) fn text(&self, path: &str) -> Option<String> {
        self.root.find(path).map(|node| node.text.clone())
    }

    /// Text at `path`, which must exist.
    pub(crate) fn get(&self, path: &str) -> String {
        self.text(path)
            .unwrap_or_else(|| panic!("no {path} in {}", self.body))
    }

    /// Texts of every node at `path` (a segment matches every child of that
    /// name, so `ListRolesResult/Roles/member/RoleName` lists all names).
    pub(crate) fn texts(&self, path: &str) -> Vec<String> {
        self.root
            .all(path)
            .into_iter()
            .map(|node| node.text.clone())
            .collect()
    }

    /// Panics unless the answer is a 200 success.
    pub(crate) fn ok(self) -> Reply {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(
            self.root.namespace.as_deref(),
            Some(IAM_NS),
            "{}",
            self.body
        );
        self
    }

    /// `(status, code, message)` of an error answer.
    pub(crate) fn error(&self) -> (u16, String, String) {
        (
            self.status,
            self.text("Error/Code").unwrap_or_default(),
            self.text("Error/Message").unwrap_or_default(),
        )
    }

    /// Asserts an error answer with `status` and `code`; returns the message.
    pub(crate) fn expect_error(&self, status: u16, code: &str) -> String {
        let (got_status, got_code, message) = self.error();
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{}",
            self.body
        );
        message
    }
}

/// A parsed XML element.
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) text: String,
    pub(crate) children: Vec<Node>,
}

impl Node {
    /// Parses a document; panics on malformed XML (a client would choke).
    pub(crate) fn parse(xml: &str) -> Node {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut stack: Vec<Node> = vec![Node::default()];
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    let namespace = e
                        .try_get_attribute("xmlns")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    stack.push(Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        namespace,
                        ..Node::default()
                    });
                }
                Ok(Event::Empty(e)) => {
                    let node = Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    };
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(node);
                    }
                }
                Ok(Event::Text(t)) => {
                    if let Some(node) = stack.last_mut() {
                        node.text.push_str(&t.decode().unwrap_or_default());
                    }
                }
                Ok(Event::GeneralRef(r)) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = r.decode().unwrap_or_default();
                            quick_xml::escape::unescape(&format!("&{name};"))
                                .unwrap_or_else(|e| panic!("bad entity {name}: {e}"))
                                .into_owned()
                        }
                    };
                    if let Some(node) = stack.last_mut() {
                        node.text.push_str(&resolved);
                    }
                }
                Ok(Event::End(_)) => {
                    let Some(mut node) = stack.pop() else {
                        panic!("unbalanced XML: {xml}")
                    };
                    if !node.children.is_empty() {
                        node.text = node.text.trim().to_owned();
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => panic!("unbalanced XML: {xml}"),
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => panic!("malformed XML ({e}): {xml}"),
                _ => {}
            }
        }
        let mut document = stack.pop().unwrap_or_default();
        document.children.pop().unwrap_or_default()
    }

    /// The first node at `path` (`/`-separated child names).
    pub(crate) fn find(&self, path: &str) -> Option<&Node> {
        self.all(path).into_iter().next()
    }

    /// Every node at `path`.
    pub(crate) fn all(&self, path: &str) -> Vec<&Node> {
        let mut current = vec![self];
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            current = current
                .into_iter()
                .flat_map(|node| node.children.iter().filter(|c| c.name == segment))
                .collect();
        }
        current
    }
}

/// URL-decodes a policy document as botocore does.
pub(crate) fn url_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_owned()
}
