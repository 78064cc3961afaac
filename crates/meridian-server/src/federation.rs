//! Web-identity federation on a node: the JWKS fetcher
//! (`meridian-federation`) built from `[federation]` and installed on the
//! edge, which has no network client of its own.

use std::sync::Arc;

use anyhow::Context;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_edge::federation::Federation;
use meridian_edge::state::{Clock, EdgeState};
use meridian_federation::http::load_pem_certificates;
use meridian_federation::{FetcherConfig, JwksFetcher};
use tokio::sync::watch;

use crate::config::Config;

/// Builds the fetcher and installs federation settings on `edge`.
pub fn install(
    edge: &EdgeState,
    config: &Config,
    snapshots: watch::Receiver<Arc<ConfigSnapshot>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<JwksFetcher>> {
    let settings = &config.federation;
    let mut fetcher_config = FetcherConfig::recommended();
    fetcher_config.allow_loopback = settings.allow_loopback_issuers;
    fetcher_config.allow_private_networks = settings.allow_private_networks;
    if let Some(path) = &settings.extra_ca_file {
        fetcher_config.extra_roots = load_pem_certificates(path)
            .map_err(anyhow::Error::msg)
            .context("failed to read [federation] extra_ca_file")?;
    }
    let fetcher = Arc::new(
        JwksFetcher::new(fetcher_config, snapshots, clock)
            .context("failed to build the identity-provider key fetcher")?,
    );
    let issuer_base_url = settings
        .issuer_base_url
        .clone()
        .or_else(|| Some(config.http.advertise.trim_end_matches('/').to_owned()));
    edge.install_federation(Federation {
        jwks: fetcher.clone(),
        allow_loopback_http_issuers: settings.allow_loopback_issuers,
        leeway: settings.token_leeway,
        issuer_base_url,
        ..Federation::default()
    })
    .map_err(|_| anyhow::anyhow!("federation settings installed twice"))?;
    Ok(fetcher)
}
