//! What a verifier accepts: services, the regions each may be scoped to, the
//! clock window, presigned-URL lifetime and input bounds.
//!
//! A Meridian node accepts its own region for `sts` and `iam`, and also
//! `us-east-1` for `iam` (DESIGN.md "Signing regions": clients sign IAM with
//! their configured region against a custom endpoint, and with `us-east-1`
//! against the global one). A resource service's verifier accepts its own
//! service name in its own regions, never `sts`.
//!
//! Per-service rules also carry the canonicalisation options that differ
//! between services: whether `UNSIGNED-PAYLOAD` is allowed (never for STS/IAM
//! query requests), and how the path is canonicalised (non-S3 services
//! normalise and double-encode; S3-style services do neither).

use crate::sigv4::MAX_PRESIGNED_EXPIRES_SECONDS;
use crate::sigv4::limits::Limits;

/// How the raw path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// Every service but S3: the raw (already percent-encoded) path is
    /// encoded again, so `%3D` becomes `%253D` (botocore
    /// `quote(path, safe='/~')`).
    Double,
    /// S3 style: each segment is decoded and encoded once.
    Single,
}

/// Whether `X-Amz-Security-Token` in a presigned query is part of the
/// canonical query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresignedToken {
    /// Signed, as every SDK does for STS and every other AWS service.
    Signed,
    /// Appended after signing (AWS IoT's WebSocket convention; the
    /// `post-sts-header-after` test vector). Safe because the token is bound
    /// to its access key id, but no STS client does it.
    Unsigned,
}

/// The rules for one service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRule {
    /// The service in the credential scope (`sts`, `iam`, a resource service's name).
    pub service: String,
    /// The regions the scope may name.
    pub regions: Vec<String>,
    /// Accept `X-Amz-Content-SHA256: UNSIGNED-PAYLOAD`.
    pub allow_unsigned_payload: bool,
    /// Path encoding.
    pub uri_encoding: UriEncoding,
    /// Remove `.`/`..` segments and empty segments before encoding.
    pub normalize_path: bool,
    /// Presigned session-token convention.
    pub presigned_token: PresignedToken,
}

impl ServiceRule {
    /// A non-S3 service: signed payloads only, path normalised and encoded
    /// twice, presigned tokens signed.
    pub fn new(service: &str, regions: &[&str]) -> ServiceRule {
        let mut unique: Vec<String> = Vec::with_capacity(regions.len());
        for region in regions {
            if !unique.iter().any(|known| known == region) {
                unique.push((*region).to_owned());
            }
        }
        ServiceRule {
            service: service.to_owned(),
            regions: unique,
            allow_unsigned_payload: false,
            uri_encoding: UriEncoding::Double,
            normalize_path: true,
            presigned_token: PresignedToken::Signed,
        }
    }

    /// Whether `region` may appear in this service's scopes.
    pub fn accepts_region(&self, region: &str) -> bool {
        self.regions.iter().any(|known| known == region)
    }
}

/// Everything a [`crate::sigv4::verifier::Verifier`] enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierPolicy {
    /// One rule per accepted service.
    pub services: Vec<ServiceRule>,
    /// Allowed distance between the request date and the verifier's clock, in
    /// minutes (AWS STS/IAM: 15).
    pub clock_window_minutes: u32,
    /// The largest `X-Amz-Expires` accepted, in seconds (at most 604,800).
    pub max_presigned_expires_seconds: u32,
    /// Input bounds.
    pub limits: Limits,
    /// Derived signing keys kept in memory.
    pub signing_key_cache_capacity: usize,
}

impl VerifierPolicy {
    /// A policy for the given services with AWS's defaults: a ±15-minute
    /// window, presigned URLs up to seven days, [`Limits::standard`], and a
    /// 4,096-entry signing-key cache.
    pub fn new(services: Vec<ServiceRule>) -> VerifierPolicy {
        VerifierPolicy {
            services,
            clock_window_minutes: 15,
            max_presigned_expires_seconds: MAX_PRESIGNED_EXPIRES_SECONDS,
            limits: Limits::standard(),
            signing_key_cache_capacity: 4096,
        }
    }

    /// A Meridian node in `region`: `sts` scoped to `region`; `iam` scoped to
    /// `region` or `us-east-1`.
    pub fn for_node(region: &str) -> VerifierPolicy {
        VerifierPolicy::new(vec![
            ServiceRule::new("sts", &[region]),
            ServiceRule::new("iam", &[region, "us-east-1"]),
        ])
    }

    /// A resource service named `service` in `regions`.
    pub fn for_resource_service(service: &str, regions: &[&str]) -> VerifierPolicy {
        VerifierPolicy::new(vec![ServiceRule::new(service, regions)])
    }

    /// The rule for `service`, if it is accepted.
    pub fn rule(&self, service: &str) -> Option<&ServiceRule> {
        self.services.iter().find(|rule| rule.service == service)
    }
}
