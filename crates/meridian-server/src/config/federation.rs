//! `[federation]`: how this node takes part in web-identity federation.
//!
//! ```toml
//! [federation]
//! # Development clusters only: accept and fetch http://127.0.0.1|localhost
//! # issuers, and issuers that resolve to loopback (`meridian dev` sets it).
//! allow_loopback_issuers = false
//! # IdPs inside the operator's network (RFC 1918, ULA, CGNAT, link-local).
//! allow_private_networks = false
//! # Extra trust anchors for IdPs whose certificate chains to a private CA
//! # (registered thumbprints are not used; see meridian-federation).
//! extra_ca_file = "/etc/meridian/idp-ca.pem"
//! # Meridian's own issuer (GetWebIdentityToken): accounts' issuers are
//! # {issuer_base_url}/oidc/{id}. Default: this node's http.advertise.
//! issuer_base_url = "https://oidc.sts.example.com"
//! # Tolerance for ID-token times (exp, nbf, iat), seconds (default 60).
//! token_leeway_secs = 60
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Checker;

/// `[federation]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// Loopback issuers (development).
    pub allow_loopback_issuers: Option<bool>,
    /// Private-network issuers.
    pub allow_private_networks: Option<bool>,
    /// A PEM file of extra CA certificates.
    pub extra_ca_file: Option<PathBuf>,
    /// Public base URL of Meridian's own OIDC issuer.
    pub issuer_base_url: Option<String>,
    /// ID-token time tolerance.
    pub token_leeway_secs: Option<u64>,
}

/// `[federation]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationConfig {
    /// Loopback issuers (development).
    pub allow_loopback_issuers: bool,
    /// Private-network issuers.
    pub allow_private_networks: bool,
    /// Extra CA certificates (absolute path).
    pub extra_ca_file: Option<PathBuf>,
    /// Meridian's issuer base URL (no trailing `/`).
    pub issuer_base_url: Option<String>,
    /// ID-token time tolerance.
    pub token_leeway: Duration,
}

impl Default for FederationConfig {
    fn default() -> FederationConfig {
        FederationConfig {
            allow_loopback_issuers: false,
            allow_private_networks: false,
            extra_ca_file: None,
            issuer_base_url: None,
            token_leeway: Duration::from_secs(60),
        }
    }
}

impl Checker<'_> {
    pub(super) fn federation(&mut self, raw: &RawFederation) -> Option<FederationConfig> {
        let defaults = FederationConfig::default();
        let leeway = match raw.token_leeway_secs {
            None => Some(defaults.token_leeway),
            Some(secs) if secs <= 600 => Some(Duration::from_secs(secs)),
            Some(_) => self.fail("federation.token_leeway_secs", "must be 0 to 600"),
        };
        let base = match raw.issuer_base_url.as_deref() {
            None => Some(None),
            Some(url) => {
                let trimmed = url.trim_end_matches('/');
                let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                    && trimmed.len() <= 200
                    && !trimmed.contains(['?', '#', ' '])
                    && meridian_core::oidc::issuer::FetchUrl::parse(trimmed).is_ok();
                if ok {
                    Some(Some(trimmed.to_owned()))
                } else {
                    self.fail(
                        "federation.issuer_base_url",
                        "must be an absolute http(s) URL without query or fragment",
                    )
                }
            }
        };
        let extra_ca_file = raw.extra_ca_file.as_deref().map(|path| self.path(path));
        Some(FederationConfig {
            allow_loopback_issuers: raw.allow_loopback_issuers.unwrap_or(false),
            allow_private_networks: raw.allow_private_networks.unwrap_or(false),
            extra_ca_file,
            issuer_base_url: base?,
            token_leeway: leeway?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::config::env::Env;
    use crate::config::raw::RawConfig;

    const BASE: &str = r#"
version = 1
node_id = 1
region = "us-east-1"
data_dir = "node-1"
[http]
listen = "127.0.0.1:7101"
[grpc]
listen = "127.0.0.1:7201"
[cluster.bootstrap]
[[cluster.bootstrap.members]]
id = 1
region = "us-east-1"
grpc = "http://127.0.0.1:7201"
[kek]
file = "node-1/kek"
"#;

    fn build(extra: &str) -> Result<Config, crate::config::error::ConfigError> {
        let raw: RawConfig =
            toml::from_str(&format!("{BASE}{extra}")).unwrap_or_else(|e| panic!("{e}"));
        Config::build(raw, Path::new("/etc/meridian"), &Env::default())
    }

    #[test]
    fn defaults_are_closed() {
        let config = build("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.federation, FederationConfig::default());
        assert!(!config.federation.allow_loopback_issuers);
    }

    #[test]
    fn settings_are_read_and_checked() {
        let config = build(
            "[federation]\nallow_loopback_issuers = true\nextra_ca_file = \"ca.pem\"\n\
             issuer_base_url = \"https://oidc.example.com/\"\ntoken_leeway_secs = 30\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(config.federation.allow_loopback_issuers);
        assert_eq!(
            config.federation.extra_ca_file.as_deref(),
            Some(Path::new("/etc/meridian/ca.pem"))
        );
        assert_eq!(
            config.federation.issuer_base_url.as_deref(),
            Some("https://oidc.example.com")
        );
        assert_eq!(config.federation.token_leeway, Duration::from_secs(30));
        for bad in [
            "[federation]\ntoken_leeway_secs = 601\n",
            "[federation]\nissuer_base_url = \"ftp://x\"\n",
            "[federation]\nissuer_base_url = \"https://x/?q\"\n",
        ] {
            assert!(build(bad).is_err(), "{bad}");
        }
        let unknown: Result<RawConfig, _> =
            toml::from_str(&format!("{BASE}[federation]\nallow_everything = true\n"));
        assert!(unknown.is_err());
    }
}
