//! What web-identity federation needs from outside the edge: the identity
//! providers' signing keys, and this node's federation settings.
//!
//! The edge has no network client (ARCHITECTURE.md), yet validating an ID
//! token needs the issuer's JWKS, which lives on the issuer's servers. The
//! server therefore implements [`JwksSource`] (`meridian-server`'s fetcher:
//! HTTPS with rustls, only for registered providers, bounded in time and
//! size, cached) and the edge asks it for keys:
//!
//! ```text
//! handler ── keys(iss, Cached) ──► fetcher cache (warm: answered at once, no I/O)
//!        └─ unknown kid ── keys(iss, Refresh) ──► at most one refetch per
//!                                                 provider per interval
//! ```
//!
//! The handler only ever asks for the URL of a provider registered in the
//! role's account (never for an arbitrary `iss`); the fetcher checks that
//! again against its own view of the configuration, so neither alone can be
//! talked into fetching from an unregistered host.
//!
//! Until the server installs a source ([`EdgeState::install_federation`](crate::state::EdgeState::install_federation)),
//! [`NoJwksSource`] answers every request with `IDPCommunicationError`:
//! a node without a fetcher cannot verify, and says so retryably.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use meridian_core::oidc::jwk::Jwks;

use crate::state::BoxFuture;

/// Which keys the handler wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup<'a> {
    /// Whatever is cached; fetched only when nothing is (or it expired).
    Cached,
    /// The cached set lacks the token's key (`kid`, or any key for the
    /// algorithm when the token names none): refetch, unless the provider
    /// was refetched within the refresh interval, in which case the cached
    /// set is answered again (the negative cache that stops a flood of
    /// random `kid`s from turning into a flood of fetches).
    Refresh {
        /// The key id the token names, for logs.
        kid: Option<&'a str>,
    },
}

/// Why keys could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The provider could not be reached in time, or answered with an error
    /// status: `IDPCommunicationError` (SDKs retry it).
    #[error("identity provider unreachable: {0}")]
    Unreachable(String),
    /// The provider answered, but with no usable discovery document or key
    /// set: `InvalidIdentityToken` ("Couldn't retrieve verification key …").
    #[error("identity provider answered with unusable keys: {0}")]
    Unusable(String),
    /// The fetcher refused the URL (not a registered provider, a private
    /// address, plain HTTP without the loopback allowance):
    /// `InvalidIdentityToken`, and nothing was sent.
    #[error("fetch refused: {0}")]
    Refused(String),
}

/// The identity providers' keys, as the server's fetcher holds them.
pub trait JwksSource: Send + Sync + 'static {
    /// The verification keys of the registered provider whose URL is
    /// `issuer` (byte-exact, as registered).
    fn keys<'a>(
        &'a self,
        issuer: &'a str,
        lookup: KeyLookup<'a>,
    ) -> BoxFuture<'a, Result<Arc<Jwks>, JwksError>>;
}

/// The source of a node that has none: every lookup fails retryably.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoJwksSource;

impl JwksSource for NoJwksSource {
    fn keys<'a>(
        &'a self,
        _issuer: &'a str,
        _lookup: KeyLookup<'a>,
    ) -> BoxFuture<'a, Result<Arc<Jwks>, JwksError>> {
        Box::pin(std::future::ready(Err(JwksError::Unreachable(
            String::from("this node has no JWKS fetcher"),
        ))))
    }
}

/// This node's federation settings.
#[derive(Clone)]
pub struct Federation {
    /// Where providers' keys come from.
    pub jwks: Arc<dyn JwksSource>,
    /// Whether `http://127.0.0.1|localhost[:port]` issuers may be registered
    /// and used (development clusters only; `meridian dev` turns it on).
    pub allow_loopback_http_issuers: bool,
    /// Tolerance for ID-token times (`exp`, `nbf`, `iat`).
    pub leeway: Duration,
    /// The public base URL of Meridian's own OIDC issuer
    /// (`GetWebIdentityToken`): the account's issuer is
    /// `{base}/oidc/{issuer id}`. `None`: this node's own HTTP address.
    pub issuer_base_url: Option<String>,
    /// The JWT signing keys prepared per replicated ring (a cache; leave
    /// the default).
    pub signers: Arc<crate::outbound::JwtSigners>,
}

impl Default for Federation {
    fn default() -> Federation {
        Federation {
            jwks: Arc::new(NoJwksSource),
            allow_loopback_http_issuers: false,
            leeway: Duration::from_secs(
                u64::try_from(meridian_core::oidc::DEFAULT_LEEWAY_SECONDS).unwrap_or(60),
            ),
            issuer_base_url: None,
            signers: Arc::default(),
        }
    }
}

impl fmt::Debug for Federation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Federation")
            .field(
                "allow_loopback_http_issuers",
                &self.allow_loopback_http_issuers,
            )
            .field("leeway", &self.leeway)
            .field("issuer_base_url", &self.issuer_base_url)
            .finish_non_exhaustive()
    }
}
