//! The JWKS fetcher against a tiny issuer on 127.0.0.1 that counts every
//! request: registration gate (no connection for unregistered or disallowed
//! issuers), caching with `Cache-Control`, the unknown-`kid` negative cache,
//! single flight, outages (stale keys, `Unreachable`), and the limits (size,
//! redirects to another origin, discovery naming another issuer, a silent
//! server).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;
use meridian_edge::federation::{JwksError, JwksSource, KeyLookup};
use meridian_edge::state::Clock;
use meridian_federation::{FetcherConfig, JwksFetcher};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

const JWKS: &str = r#"{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

/// What the issuer answers per path: status, extra headers, body.
type Routes = HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>;

struct Issuer {
    url: String,
    routes: Arc<Mutex<Routes>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    /// Serves discovery + JWKS at `/idp`; `silent` never answers.
    async fn start(jwks_headers: &[(&str, &str)], silent: bool) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let url = format!("http://127.0.0.1:{port}/idp");
        let routes: Arc<Mutex<Routes>> = Arc::default();
        routes.lock().unwrap_or_else(|e| e.into_inner()).extend([
            (
                "/idp/.well-known/openid-configuration".to_owned(),
                (
                    200,
                    Vec::new(),
                    json!({"issuer": url, "jwks_uri": format!("{url}/keys")})
                        .to_string()
                        .into_bytes(),
                ),
            ),
            (
                "/idp/keys".to_owned(),
                (
                    200,
                    jwks_headers
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    JWKS.as_bytes().to_vec(),
                ),
            ),
        ]);
        let hits = Arc::new(AtomicUsize::new(0));
        let (task_routes, task_hits) = (routes.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (routes, hits) = (task_routes.clone(), task_hits.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16_384 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    if silent {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let text = String::from_utf8_lossy(&head);
                    let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                    let (status, headers, body) = routes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, Vec::new(), b"not found".to_vec()));
                    let mut response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str("\r\n");
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Issuer {
            url,
            routes,
            hits,
            task,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn route(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                path.to_owned(),
                (
                    status,
                    headers
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    body.to_vec(),
                ),
            );
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A configuration with `urls` registered as OIDC providers of one account.
fn snapshot(urls: &[&str]) -> Arc<ConfigSnapshot> {
    let mut state = ConfigState::new();
    let account = AccountId::parse("111111111111").unwrap_or_else(|e| panic!("{e}"));
    let mut commands = vec![Command::CreateAccount {
        account_id: account,
        name: "a".into(),
    }];
    for url in urls {
        commands.push(Command::CreateOidcProvider {
            account_id: account,
            url: (*url).to_owned(),
            client_ids: vec!["c".into()],
            thumbprints: Vec::new(),
            tags: Default::default(),
        });
    }
    for (n, command) in commands.into_iter().enumerate() {
        let mut id = [0u8; 16];
        id[0] = u8::try_from(n + 1).unwrap_or(0);
        state
            .apply(&ConfigRequest {
                request_id: RequestId(id),
                issued_at: Timestamp::from_unix_seconds(1_000),
                command,
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    state.snapshot()
}

struct Setup {
    fetcher: JwksFetcher,
    clock: Arc<TestClock>,
    _snapshots: watch::Sender<Arc<ConfigSnapshot>>,
}

fn setup(urls: &[&str], allow_loopback: bool) -> Setup {
    let (sender, receiver) = watch::channel(snapshot(urls));
    let clock = Arc::new(TestClock(AtomicI64::new(1_800_000_000_000)));
    let mut config = FetcherConfig::recommended();
    config.allow_loopback = allow_loopback;
    config.fetch_timeout = Duration::from_secs(2);
    config.min_ttl = Duration::from_secs(60);
    config.max_ttl = Duration::from_secs(3600);
    config.stale_ttl = Duration::from_secs(600);
    config.refresh_interval = Duration::from_secs(30);
    config.max_body_bytes = 4096;
    let fetcher =
        JwksFetcher::new(config, receiver, clock.clone()).unwrap_or_else(|e| panic!("{e}"));
    Setup {
        fetcher,
        clock,
        _snapshots: sender,
    }
}

impl Setup {
    fn advance(&self, seconds: i64) {
        self.clock.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    async fn keys(&self, issuer: &str, lookup: KeyLookup<'_>) -> Result<usize, JwksError> {
        self.fetcher
            .keys(issuer, lookup)
            .await
            .map(|jwks| jwks.keys().len())
    }
}

#[tokio::test]
async fn fetches_once_and_honours_max_age() {
    let issuer = Issuer::start(&[("cache-control", "public, max-age=600")], false).await;
    let s = setup(&[&issuer.url], true);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    assert_eq!(issuer.hits(), 2, "discovery + jwks");
    for _ in 0..5 {
        assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    }
    assert_eq!(issuer.hits(), 2, "warm cache: no I/O");
    s.advance(599);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    assert_eq!(issuer.hits(), 2);
    s.advance(2);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    assert_eq!(issuer.hits(), 4, "expired after max-age");
}

#[tokio::test]
async fn no_store_still_caches_for_the_minimum() {
    let issuer = Issuer::start(&[("cache-control", "no-store")], false).await;
    let s = setup(&[&issuer.url], true);
    for _ in 0..10 {
        assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    }
    assert_eq!(issuer.hits(), 2);
    s.advance(61);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    assert_eq!(issuer.hits(), 4);
}

#[tokio::test]
async fn unknown_kids_refresh_at_most_once_per_interval() {
    let issuer = Issuer::start(&[("cache-control", "max-age=3600")], false).await;
    let s = setup(&[&issuer.url], true);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    s.advance(31);
    for n in 0..50 {
        let kid = format!("random-{n}");
        assert_eq!(
            s.keys(&issuer.url, KeyLookup::Refresh { kid: Some(&kid) })
                .await,
            Ok(1)
        );
    }
    assert_eq!(issuer.hits(), 4, "one refetch for fifty unknown kids");
    s.advance(31);
    assert_eq!(
        s.keys(&issuer.url, KeyLookup::Refresh { kid: None }).await,
        Ok(1)
    );
    assert_eq!(issuer.hits(), 6);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let issuer = Issuer::start(&[], false).await;
    let s = Arc::new(setup(&[&issuer.url], true));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, url) = (s.clone(), issuer.url.clone());
        tasks.push(tokio::spawn(async move {
            s.keys(&url, KeyLookup::Cached).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap_or_else(|e| panic!("{e}")), Ok(1));
    }
    assert_eq!(issuer.hits(), 2);
}

#[tokio::test]
async fn unregistered_and_disallowed_issuers_are_never_contacted() {
    let issuer = Issuer::start(&[], false).await;
    // Not registered at all.
    let s = setup(&["https://idp.example.com"], true);
    for lookup in [KeyLookup::Cached, KeyLookup::Refresh { kid: Some("x") }] {
        assert!(matches!(
            s.keys(&issuer.url, lookup).await,
            Err(JwksError::Refused(_))
        ));
    }
    // Registered with a trailing slash difference: not the same URL.
    let with_slash = format!("{}/", issuer.url);
    assert!(matches!(
        s.keys(&with_slash, KeyLookup::Cached).await,
        Err(JwksError::Refused(_))
    ));
    assert_eq!(s.fetcher.connections(), 0);
    // Registered, but this node does not allow loopback issuers: neither
    // plain HTTP nor an https name that resolves to loopback.
    let s = setup(&[&issuer.url, "https://localhost"], false);
    for url in [issuer.url.as_str(), "https://localhost"] {
        assert!(
            matches!(
                s.keys(url, KeyLookup::Cached).await,
                Err(JwksError::Refused(_))
            ),
            "{url}"
        );
    }
    assert_eq!(s.fetcher.connections(), 0);
    assert_eq!(issuer.hits(), 0);
}

#[tokio::test]
async fn outages_are_unreachable_and_stale_keys_bridge_them() {
    let issuer = Issuer::start(&[("cache-control", "max-age=120")], false).await;
    let s = setup(&[&issuer.url], true);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    // The IdP starts failing.
    issuer.route("/idp/.well-known/openid-configuration", 503, &[], b"down");
    s.advance(121);
    assert_eq!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Ok(1),
        "stale keys within stale_ttl"
    );
    let hits = issuer.hits();
    // Within the refresh interval the failure is not retried.
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    assert_eq!(issuer.hits(), hits);
    // Past the stale window: the failure itself.
    s.advance(700);
    assert!(matches!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Err(JwksError::Unreachable(_))
    ));
    // A provider that never answered: Unreachable, and that failure is
    // answered again (no retry) within the refresh interval.
    let dead = setup(&["http://127.0.0.1:9"], true);
    assert!(matches!(
        dead.keys("http://127.0.0.1:9", KeyLookup::Cached).await,
        Err(JwksError::Unreachable(_))
    ));
    let attempts = dead.fetcher.connections();
    assert!(matches!(
        dead.keys("http://127.0.0.1:9", KeyLookup::Cached).await,
        Err(JwksError::Unreachable(_))
    ));
    assert_eq!(dead.fetcher.connections(), attempts);
}

#[tokio::test]
async fn a_silent_issuer_times_out() {
    let issuer = Issuer::start(&[], true).await;
    let s = setup(&[&issuer.url], true);
    let started = std::time::Instant::now();
    assert!(matches!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Err(JwksError::Unreachable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn size_redirect_and_issuer_limits() {
    // A JWKS over the body cap.
    let issuer = Issuer::start(&[], false).await;
    issuer.route("/idp/keys", 200, &[], &vec![b' '; 8192]);
    let s = setup(&[&issuer.url], true);
    assert!(matches!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Err(JwksError::Unusable(_))
    ));
    // A redirect to another origin.
    let issuer = Issuer::start(&[], false).await;
    issuer.route(
        "/idp/keys",
        302,
        &[("location", "http://127.0.0.2:80/keys")],
        b"",
    );
    let s = setup(&[&issuer.url], true);
    assert!(matches!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Err(JwksError::Unusable(_))
    ));
    // A same-origin redirect is followed.
    let issuer = Issuer::start(&[], false).await;
    issuer.route("/idp/keys", 301, &[("location", "/idp/keys2")], b"");
    issuer.route("/idp/keys2", 200, &[], JWKS.as_bytes());
    let s = setup(&[&issuer.url], true);
    assert_eq!(s.keys(&issuer.url, KeyLookup::Cached).await, Ok(1));
    // Discovery naming another issuer.
    let issuer = Issuer::start(&[], false).await;
    issuer.route(
        "/idp/.well-known/openid-configuration",
        200,
        &[],
        json!({"issuer": "https://other.example", "jwks_uri": "https://other.example/k"})
            .to_string()
            .as_bytes(),
    );
    let s = setup(&[&issuer.url], true);
    assert!(matches!(
        s.keys(&issuer.url, KeyLookup::Cached).await,
        Err(JwksError::Unusable(_))
    ));
    assert_eq!(issuer.hits(), 1, "nothing fetched from the other issuer");
}
