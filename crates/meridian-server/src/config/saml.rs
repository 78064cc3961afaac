//! `[saml]`: where this node expects SAML assertions to be addressed.
//!
//! ```toml
//! [saml]
//! # Audience and Recipient of AssumeRoleWithSAML assertions. Default: AWS's
//! # https://signin.aws.amazon.com/saml (and urn:amazon:webservices as an
//! # audience), so IdPs set up for AWS work unchanged.
//! endpoint = "https://sts.example.com/saml"
//! ```

use serde::{Deserialize, Serialize};

use super::Checker;

/// `[saml]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSaml {
    /// The node's own SAML endpoint (audience and recipient).
    pub endpoint: Option<String>,
}

/// `[saml]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamlConfig {
    /// The node's own endpoint; `None` means AWS's.
    pub endpoint: Option<String>,
}

impl Checker<'_> {
    pub(super) fn saml(&mut self, raw: &RawSaml) -> Option<SamlConfig> {
        match raw.endpoint.as_deref() {
            None => Some(SamlConfig::default()),
            Some(url)
                if (url.starts_with("https://") || url.starts_with("urn:"))
                    && url.len() <= 1024
                    && !url.chars().any(char::is_whitespace) =>
            {
                Some(SamlConfig {
                    endpoint: Some(url.to_owned()),
                })
            }
            Some(_) => self.fail(
                "saml.endpoint",
                "must be an https:// URL or a urn: of at most 1024 characters",
            ),
        }
    }
}
