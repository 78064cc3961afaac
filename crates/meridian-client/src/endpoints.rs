//! Which node to ask: endpoints by region, local region first, failed ones
//! skipped for a while.
//!
//! Every call gets an order: the local region's endpoints starting at a
//! rotating offset (so calls spread over the local nodes), then every other
//! region's endpoints the same way, in the order the regions were
//! configured. Endpoints ejected after a transport failure move to the end
//! of the order until their ejection passes — never out of it, so a client
//! whose every endpoint failed still tries them all.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use meridian_proto::pb::verifier_client::VerifierClient as RawClient;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::error::ConfigError;
use crate::{ClientConfig, MAX_MESSAGE_BYTES};

/// One node's endpoint and its lazily connected channel.
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    channel: Channel,
    ejected_until: Mutex<Option<Instant>>,
}

impl Target {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A client on this endpoint's channel.
    pub(crate) fn client(&self) -> RawClient<Channel> {
        RawClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn ejected(&self, now: Instant) -> bool {
        self.ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| until > now)
    }

    /// Skips this endpoint for `period`.
    pub(crate) fn failed(&self, period: Duration) {
        *self
            .ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + period);
    }

    /// Back in rotation.
    pub(crate) fn succeeded(&self) {
        let mut ejected = self
            .ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if ejected.is_some() {
            *ejected = None;
        }
    }
}

/// The endpoints of one region.
#[derive(Debug)]
struct Region {
    targets: Vec<Arc<Target>>,
    next: AtomicUsize,
}

/// Every endpoint, local region first.
#[derive(Debug)]
pub(crate) struct Endpoints {
    regions: Vec<Region>,
}

impl Endpoints {
    pub(crate) fn new(config: &ClientConfig) -> Result<Endpoints, ConfigError> {
        if config.endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        let mut names: Vec<&str> = vec![config.region.as_str()];
        for (region, _) in &config.endpoints {
            if !names.contains(&region.as_str()) {
                names.push(region);
            }
        }
        let mut regions = Vec::with_capacity(names.len());
        for name in names {
            let mut targets = Vec::new();
            for (region, url) in &config.endpoints {
                if region != name {
                    continue;
                }
                let endpoint = Endpoint::from_shared(url.clone())
                    .map_err(|error| ConfigError::InvalidEndpoint {
                        endpoint: url.clone(),
                        reason: error.to_string(),
                    })?
                    .connect_timeout(config.connect_timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(10))
                    .keep_alive_timeout(Duration::from_secs(5));
                targets.push(Arc::new(Target {
                    url: url.clone(),
                    channel: endpoint.connect_lazy(),
                    ejected_until: Mutex::new(None),
                }));
            }
            if !targets.is_empty() {
                regions.push(Region {
                    targets,
                    next: AtomicUsize::new(0),
                });
            }
        }
        Ok(Endpoints { regions })
    }

    /// The order in which to try endpoints for one call.
    pub(crate) fn order(&self) -> Vec<Arc<Target>> {
        let now = Instant::now();
        let mut healthy = Vec::new();
        let mut ejected = Vec::new();
        for region in &self.regions {
            let count = region.targets.len();
            let start = region.next.fetch_add(1, Ordering::Relaxed) % count;
            for offset in 0..count {
                let target = &region.targets[(start + offset) % count];
                if target.ejected(now) {
                    ejected.push(Arc::clone(target));
                } else {
                    healthy.push(Arc::clone(target));
                }
            }
        }
        healthy.extend(ejected);
        healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(order: &[Arc<Target>]) -> Vec<&str> {
        order.iter().map(|target| target.url()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn local_region_first_round_robin_then_the_others() {
        let config = ClientConfig::new("widgets", "eu-west-1")
            .endpoint("us-east-1", "http://127.0.0.1:1")
            .endpoint("eu-west-1", "http://127.0.0.1:2")
            .endpoint("eu-west-1", "http://127.0.0.1:3")
            .endpoint("ap-southeast-2", "http://127.0.0.1:4");
        let endpoints = Endpoints::new(&config).unwrap_or_else(|e| panic!("{e}"));
        let first = endpoints.order();
        assert_eq!(
            urls(&first),
            vec![
                "http://127.0.0.1:2",
                "http://127.0.0.1:3",
                "http://127.0.0.1:1",
                "http://127.0.0.1:4"
            ]
        );
        let second = endpoints.order();
        assert_eq!(
            urls(&second)[..2],
            ["http://127.0.0.1:3", "http://127.0.0.1:2"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ejected_endpoints_go_last_until_their_time_passes() {
        let config = ClientConfig::new("widgets", "eu-west-1")
            .endpoint("eu-west-1", "http://127.0.0.1:2")
            .endpoint("us-east-1", "http://127.0.0.1:1");
        let endpoints = Endpoints::new(&config).unwrap_or_else(|e| panic!("{e}"));
        endpoints.order()[0].failed(Duration::from_secs(2));
        assert_eq!(
            urls(&endpoints.order()),
            vec!["http://127.0.0.1:1", "http://127.0.0.1:2"]
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            urls(&endpoints.order()),
            vec!["http://127.0.0.1:2", "http://127.0.0.1:1"]
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert_eq!(
            Endpoints::new(&ClientConfig::new("widgets", "eu-west-1")).err(),
            Some(ConfigError::NoEndpoints)
        );
        let bad = ClientConfig::new("widgets", "eu-west-1").endpoint("eu-west-1", "not a uri");
        assert!(matches!(
            Endpoints::new(&bad),
            Err(ConfigError::InvalidEndpoint { .. })
        ));
    }
}
