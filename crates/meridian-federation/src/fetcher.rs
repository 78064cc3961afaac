//! [`JwksFetcher`]: the server's [`JwksSource`] — registered providers'
//! keys, fetched over HTTPS and cached in memory.
//!
//! ```text
//! keys(issuer, Cached)   cache fresh ─────────────────────► answer (no I/O)
//!                        missing/expired ─► registered? ─► fetch ─► cache
//! keys(issuer, Refresh)  refreshed < refresh_interval ago ─► cached answer
//!                        otherwise ─────────► registered? ─► fetch ─► cache
//! ```
//!
//! * **Only registered providers**: before any network step the issuer must
//!   be the exact URL of an OIDC provider in the newest applied
//!   configuration (any account). An unregistered `iss` gets
//!   [`JwksError::Refused`] and no packet is sent (RELIABILITY.md b.3, SSRF).
//! * **Discovery**: `{issuer}/.well-known/openid-configuration`, whose
//!   `issuer` must equal the registered URL; then its `jwks_uri`
//!   (`meridian_core::oidc::issuer`). Both GETs go through [`HttpClient`]'s
//!   address, TLS, size and redirect rules, under one deadline.
//! * **Caching**: a fetched set is kept for the JWKS response's
//!   `Cache-Control: max-age`, clamped to `[min_ttl, max_ttl]`; `no-cache`,
//!   `no-store` or no header mean `min_ttl` (an IdP that forbids caching must
//!   not turn every AssumeRoleWithWebIdentity into a fetch: the GitLab
//!   incident of RELIABILITY.md a.7). When a refetch fails, the previous
//!   set keeps answering for up to `stale_ttl` past its expiry (logged).
//! * **Negative cache**: a `Refresh` (the token's key is unknown) refetches
//!   at most once per `refresh_interval` per provider; within it the cached
//!   set (or the cached failure) is answered again, so a flood of random
//!   `kid`s costs one fetch per interval.
//! * **Single flight**: concurrent misses for one provider share one fetch.
//! * **Bounded**: at most `max_providers` entries (the least recently
//!   fetched is dropped).
//!
//! Thumbprints registered with a provider are not used: like AWS today for
//! IdPs whose certificate chains to a trusted CA, the chain is verified
//! against the Mozilla roots plus the operator's `extra_ca_file`; an IdP
//! with a private CA is trusted by adding that CA, not by a SHA-1 pin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::oidc::issuer::{FetchUrl, discovery_url, jwks_uri_from_discovery};
use meridian_core::oidc::jwk::Jwks;
use meridian_core::time::Timestamp;
use meridian_edge::federation::{JwksError, JwksSource, KeyLookup};
use meridian_edge::state::{BoxFuture, Clock};
use tokio::sync::watch;

use crate::http::{AddressPolicy, FetchError, HttpClient};

/// How the fetcher behaves.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Development: loopback addresses and plain-HTTP loopback issuers.
    pub allow_loopback: bool,
    /// IdPs on private networks (RFC 1918, ULA, CGNAT, link-local).
    pub allow_private_networks: bool,
    /// Per-address TCP connect timeout.
    pub connect_timeout: Duration,
    /// The whole discovery + JWKS exchange.
    pub fetch_timeout: Duration,
    /// Largest discovery or JWKS body.
    pub max_body_bytes: usize,
    /// Shortest time a fetched set is kept.
    pub min_ttl: Duration,
    /// Longest time a fetched set is kept, whatever `max-age` says.
    pub max_ttl: Duration,
    /// How long past its expiry a set keeps answering when refetching fails.
    pub stale_ttl: Duration,
    /// Minimum time between two refetches of one provider for unknown keys.
    pub refresh_interval: Duration,
    /// Providers cached at most.
    pub max_providers: usize,
    /// Extra trust anchors (DER), e.g. a private CA.
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl FetcherConfig {
    /// Production defaults: HTTPS to public addresses only, 2 s connect,
    /// 5 s per fetch, 256 KiB bodies, TTL 5 min – 24 h (1 h without
    /// `max-age`… clamped), 6 h stale, one unknown-key refresh per minute.
    pub fn recommended() -> FetcherConfig {
        FetcherConfig {
            allow_loopback: false,
            allow_private_networks: false,
            connect_timeout: Duration::from_secs(2),
            fetch_timeout: Duration::from_secs(5),
            max_body_bytes: meridian_core::oidc::jwk::MAX_JWKS_BYTES,
            min_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(24 * 3600),
            stale_ttl: Duration::from_secs(6 * 3600),
            refresh_interval: Duration::from_secs(60),
            max_providers: 10_000,
            extra_roots: Vec::new(),
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// The last good set, if any.
    jwks: Option<Arc<Jwks>>,
    /// Until when `jwks` is fresh.
    fresh_until: Timestamp,
    /// The last fetch attempt (success or failure).
    attempted_at: Timestamp,
    /// The last attempt's failure, answered again within the refresh
    /// interval when there is no set.
    failure: Option<JwksError>,
}

/// The cache and the client.
pub struct JwksFetcher {
    config: FetcherConfig,
    client: HttpClient,
    snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, Entry>>,
    /// One async lock per provider being fetched (single flight).
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksFetcher")
            .field("config", &self.config)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The TTL a `Cache-Control` header asks for, clamped.
pub fn ttl_from_cache_control(header: Option<&str>, min: Duration, max: Duration) -> Duration {
    let Some(header) = header else {
        return min;
    };
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return min;
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            max_age = value.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age
        .map(Duration::from_secs)
        .unwrap_or(min)
        .clamp(min, max)
}

impl JwksFetcher {
    /// A fetcher over the node's applied configuration.
    pub fn new(
        config: FetcherConfig,
        snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
        clock: Arc<dyn Clock>,
    ) -> Result<JwksFetcher, rustls::Error> {
        let client = HttpClient::new(
            AddressPolicy {
                allow_loopback: config.allow_loopback,
                allow_private: config.allow_private_networks,
            },
            config.connect_timeout,
            config.max_body_bytes,
            &config.extra_roots,
        )?;
        Ok(JwksFetcher {
            config,
            client,
            snapshots,
            clock,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Seeds the cache with `jwks` for `issuer`, fresh for `ttl` (benches,
    /// tests, and pre-loading a provider whose keys are known out of band).
    pub fn prime(&self, issuer: &str, jwks: Jwks, ttl: Duration) {
        let now = self.clock.now();
        self.store(
            issuer,
            Entry {
                jwks: Some(Arc::new(jwks)),
                fresh_until: now.plus_millis(millis(ttl)),
                attempted_at: now,
                failure: None,
            },
        );
    }

    /// TCP connections attempted so far (tests assert on it).
    pub fn connections(&self) -> u64 {
        self.client.connections()
    }

    /// Whether `issuer` is the exact URL of a provider in the newest applied
    /// configuration.
    pub fn is_registered(&self, issuer: &str) -> bool {
        let snapshot = self.snapshots.borrow().clone();
        let resource = issuer
            .strip_prefix("https://")
            .or_else(|| issuer.strip_prefix("http://"))
            .map(|rest| rest.trim_end_matches('/'));
        let Some(resource) = resource else {
            return false;
        };
        snapshot.accounts().any(|account| {
            account
                .oidc_providers
                .get(resource)
                .is_some_and(|provider| provider.url == issuer)
        })
    }

    fn cached(&self, issuer: &str) -> Option<Entry> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(issuer)
            .cloned()
    }

    /// The answer the cache can give for `lookup` at `now`, if any.
    fn answer_from_cache(
        &self,
        entry: &Entry,
        lookup: KeyLookup<'_>,
        now: Timestamp,
    ) -> Option<Result<Arc<Jwks>, JwksError>> {
        let within_refresh =
            now.millis_since(entry.attempted_at) < millis(self.config.refresh_interval);
        let stale_ok = now < entry.fresh_until.plus_millis(millis(self.config.stale_ttl));
        match lookup {
            KeyLookup::Cached => match &entry.jwks {
                Some(jwks) if now < entry.fresh_until => Some(Ok(Arc::clone(jwks))),
                // A recent failed refetch: the stale set (within its
                // window) or the failure is answered again rather than the
                // provider being retried by every request.
                Some(jwks) if within_refresh && stale_ok => Some(Ok(Arc::clone(jwks))),
                _ if within_refresh => entry.failure.clone().map(Err),
                _ => None,
            },
            KeyLookup::Refresh { .. } if within_refresh => match &entry.jwks {
                Some(jwks) => Some(Ok(Arc::clone(jwks))),
                None => entry.failure.clone().map(Err),
            },
            KeyLookup::Refresh { .. } => None,
        }
    }

    async fn lookup(&self, issuer: &str, lookup: KeyLookup<'_>) -> Result<Arc<Jwks>, JwksError> {
        let now = self.clock.now();
        if let Some(answer) = self
            .cached(issuer)
            .and_then(|e| self.answer_from_cache(&e, lookup, now))
        {
            return answer;
        }
        if !self.is_registered(issuer) {
            return Err(JwksError::Refused(String::from(
                "not the URL of a registered OpenID Connect provider",
            )));
        }
        let gate = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(inflight.entry(issuer.to_owned()).or_default())
        };
        let _guard = gate.lock().await;
        // Another request may have fetched while this one waited.
        let now = self.clock.now();
        if let Some(entry) = self.cached(issuer)
            && now.millis_since(entry.attempted_at) < millis(self.config.refresh_interval)
            && let Some(answer) = self.answer_from_cache(&entry, lookup, now)
        {
            return answer;
        }
        let result = tokio::time::timeout(self.config.fetch_timeout, self.fetch(issuer))
            .await
            .unwrap_or_else(|_| {
                Err(JwksError::Unreachable(format!(
                    "no answer within {:?}",
                    self.config.fetch_timeout
                )))
            });
        let now = self.clock.now();
        let previous = self.cached(issuer);
        let (entry, answer) = match result {
            Ok((jwks, ttl)) => {
                let jwks = Arc::new(jwks);
                tracing::info!(
                    issuer,
                    keys = jwks.keys().len(),
                    skipped = jwks.skipped(),
                    ttl_s = ttl.as_secs(),
                    "fetched identity provider keys"
                );
                (
                    Entry {
                        jwks: Some(Arc::clone(&jwks)),
                        fresh_until: now.plus_millis(millis(ttl)),
                        attempted_at: now,
                        failure: None,
                    },
                    Ok(jwks),
                )
            }
            Err(error) => {
                tracing::warn!(issuer, %error, "fetching identity provider keys failed");
                // Serve the previous set while it is within its stale window.
                let stale = previous.as_ref().and_then(|p| {
                    let usable_until = p.fresh_until.plus_millis(millis(self.config.stale_ttl));
                    p.jwks
                        .clone()
                        .filter(|_| now < usable_until)
                        .map(|jwks| (p, jwks))
                });
                match stale {
                    Some((previous, jwks)) => (
                        Entry {
                            attempted_at: now,
                            failure: Some(error),
                            ..previous.clone()
                        },
                        Ok(jwks),
                    ),
                    None => (
                        Entry {
                            jwks: None,
                            fresh_until: now,
                            attempted_at: now,
                            failure: Some(error.clone()),
                        },
                        Err(error),
                    ),
                }
            }
        };
        self.store(issuer, entry);
        answer
    }

    fn store(&self, issuer: &str, entry: Entry) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if !cache.contains_key(issuer)
            && cache.len() >= self.config.max_providers.max(1)
            && let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.attempted_at)
                .map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(issuer.to_owned(), entry);
    }

    /// Discovery, then the JWKS.
    async fn fetch(&self, issuer: &str) -> Result<(Jwks, Duration), JwksError> {
        let discovery = FetchUrl::parse(&discovery_url(issuer))
            .map_err(|e| JwksError::Refused(e.to_string()))?;
        let document = self.client.get(&discovery).await.map_err(fetch_error)?;
        let jwks_url = jwks_uri_from_discovery(&document.body, issuer)
            .map_err(|e| JwksError::Unusable(e.to_string()))?;
        let keys = self.client.get(&jwks_url).await.map_err(fetch_error)?;
        let jwks = Jwks::parse(&keys.body).map_err(|e| JwksError::Unusable(e.to_string()))?;
        let ttl = ttl_from_cache_control(
            keys.cache_control.as_deref(),
            self.config.min_ttl,
            self.config.max_ttl,
        );
        Ok((jwks, ttl))
    }
}

fn fetch_error(error: FetchError) -> JwksError {
    match error {
        FetchError::Refused(detail) => JwksError::Refused(detail),
        FetchError::Unreachable(detail) => JwksError::Unreachable(detail),
        FetchError::Unusable(detail) => JwksError::Unusable(detail),
    }
}

impl JwksSource for JwksFetcher {
    fn keys<'a>(
        &'a self,
        issuer: &'a str,
        lookup: KeyLookup<'a>,
    ) -> BoxFuture<'a, Result<Arc<Jwks>, JwksError>> {
        Box::pin(self.lookup(issuer, lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_clamped() {
        let (min, max) = (Duration::from_secs(300), Duration::from_secs(86_400));
        for (header, expected) in [
            (None, 300),
            (Some("max-age=3600"), 3600),
            (Some("public, max-age=60"), 300),
            (Some("max-age=999999999"), 86_400),
            (Some("no-store"), 300),
            (Some("max-age=3600, no-cache"), 300),
            (Some("max-age=abc"), 300),
            (Some("private"), 300),
        ] {
            assert_eq!(
                ttl_from_cache_control(header, min, max),
                Duration::from_secs(expected),
                "{header:?}"
            );
        }
    }
}
