//! Per-node state of SAML federation and MFA: the service-provider identity
//! SAML assertions must be addressed to, and the two single-use records — the
//! IDs of assertions already redeemed (until their `NotOnOrAfter`) and the
//! MFA codes already used (serial number and time step, until the step has
//! left the ±1-step window).
//!
//! Both records are per node, as RELIABILITY.md b.3 asks ("a per-node
//! assertion-ID cache"): issuance never waits on consensus, so a code or an
//! assertion replayed against another node within its short validity is not
//! caught; AWS does not document cross-endpoint replay protection either.
//! Each record is bounded ([`RECORD_CAPACITY`]): expired entries are dropped
//! first, and if the record is still full the entry closest to expiry is
//! evicted, so a flood of valid assertions (which needs the IdP's key) can
//! only shorten protection for the oldest ones, never grow memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use meridian_core::saml::AWS_SIGNIN_ENDPOINT;
use meridian_core::time::Timestamp;

/// Most entries one record keeps.
pub const RECORD_CAPACITY: usize = 100_000;

/// Where SAML assertions must be addressed: their `Audience` and the
/// `Recipient` of their bearer confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlServiceProvider {
    /// Accepted `Audience` values (any one of them).
    pub audiences: Vec<String>,
    /// The expected `Recipient`.
    pub recipient: String,
}

impl SamlServiceProvider {
    /// AWS's: `https://signin.aws.amazon.com/saml` as recipient, and that or
    /// `urn:amazon:webservices` (the entity id of AWS's SP metadata) as
    /// audience.
    pub fn aws() -> SamlServiceProvider {
        SamlServiceProvider {
            audiences: vec![
                AWS_SIGNIN_ENDPOINT.to_owned(),
                "urn:amazon:webservices".to_owned(),
            ],
            recipient: AWS_SIGNIN_ENDPOINT.to_owned(),
        }
    }

    /// A node's own endpoint, used as both audience and recipient.
    pub fn own(endpoint: impl Into<String>) -> SamlServiceProvider {
        let endpoint = endpoint.into();
        SamlServiceProvider {
            audiences: vec![endpoint.clone()],
            recipient: endpoint,
        }
    }
}

/// The node's SAML and MFA state.
#[derive(Debug, Default)]
pub struct SsoState {
    service_provider: OnceLock<SamlServiceProvider>,
    assertions: SingleUse,
    mfa_codes: SingleUse,
}

impl SsoState {
    /// Sets the SAML service provider (once, at start; later calls are
    /// ignored and return `false`). Unset means [`SamlServiceProvider::aws`].
    pub fn set_service_provider(&self, provider: SamlServiceProvider) -> bool {
        self.service_provider.set(provider).is_ok()
    }

    /// The SAML service provider in force.
    pub fn service_provider(&self) -> &SamlServiceProvider {
        self.service_provider.get_or_init(SamlServiceProvider::aws)
    }

    /// Records the redemption of assertion `id` of `issuer`, valid until
    /// `until`; `false` if it was already redeemed on this node.
    pub fn redeem_assertion(
        &self,
        issuer: &str,
        id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> bool {
        self.assertions
            .first_use(format!("{issuer}\n{id}"), until, now)
    }

    /// Records the use of the MFA code of `step` for device `serial`, kept
    /// until the step has left the acceptance window; `false` if it was used
    /// before on this node.
    pub fn use_mfa_code(&self, serial: &str, step: u64, now: Timestamp) -> bool {
        let window_end = i64::try_from(step.saturating_add(2))
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(meridian_core::totp::STEP_SECONDS);
        self.mfa_codes.first_use(
            format!("{serial}\n{step}"),
            Timestamp::from_unix_seconds(window_end),
            now,
        )
    }
}

/// A bounded set of keys, each remembered until its expiry.
#[derive(Debug, Default)]
struct SingleUse {
    inner: Mutex<Record>,
}

#[derive(Debug, Default)]
struct Record {
    expiry: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl SingleUse {
    fn first_use(&self, key: String, until: Timestamp, now: Timestamp) -> bool {
        let mut record = match self.inner.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves a consistent
            // record (every mutation below is completed before it returns).
            Err(poisoned) => poisoned.into_inner(),
        };
        let now_ms = now.unix_millis();
        // Drop what has expired (oldest first).
        while let Some((at, _)) = record.by_expiry.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, old)) = record.by_expiry.pop_first() {
                record.expiry.remove(&old);
            }
        }
        if record.expiry.contains_key(&key) {
            return false;
        }
        if record.expiry.len() >= RECORD_CAPACITY
            && let Some((_, old)) = record.by_expiry.pop_first()
        {
            record.expiry.remove(&old);
        }
        let until_ms = until.unix_millis().max(now_ms + 1);
        record.expiry.insert(key.clone(), until_ms);
        record.by_expiry.insert((until_ms, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_are_single_use_until_expiry() {
        let state = SsoState::default();
        let now = Timestamp::from_unix_seconds(1_000);
        let until = now.plus_seconds(300);
        assert!(state.redeem_assertion("idp", "_a", until, now));
        assert!(!state.redeem_assertion("idp", "_a", until, now.plus_seconds(299)));
        // Another issuer's assertion with the same id is another assertion.
        assert!(state.redeem_assertion("other", "_a", until, now));
        // After expiry the record forgets it (the assertion itself is then
        // refused as expired).
        assert!(state.redeem_assertion("idp", "_a", until, now.plus_seconds(301)));
    }

    #[test]
    fn mfa_codes_are_single_use_within_the_window() {
        let state = SsoState::default();
        let now = Timestamp::from_unix_seconds(30 * 100 + 5);
        assert!(state.use_mfa_code("arn:mfa/a", 100, now));
        assert!(!state.use_mfa_code("arn:mfa/a", 100, now.plus_seconds(40)));
        assert!(state.use_mfa_code("arn:mfa/a", 101, now));
        assert!(state.use_mfa_code("arn:mfa/b", 100, now));
        // Once step 100 is out of the ±1 window it is forgotten.
        assert!(state.use_mfa_code("arn:mfa/a", 100, Timestamp::from_unix_seconds(30 * 102)));
    }

    #[test]
    fn records_are_bounded() {
        let record = SingleUse::default();
        let now = Timestamp::from_unix_seconds(0);
        for i in 0..RECORD_CAPACITY + 10 {
            let until = now.plus_seconds(1_000 + i64::try_from(i).unwrap());
            assert!(record.first_use(format!("k{i}"), until, now));
        }
        let guard = record.inner.lock().unwrap();
        assert_eq!(guard.expiry.len(), RECORD_CAPACITY);
        assert_eq!(guard.by_expiry.len(), RECORD_CAPACITY);
        // The ones closest to expiry went first.
        assert!(!guard.expiry.contains_key("k0"));
        assert!(
            guard
                .expiry
                .contains_key(&format!("k{}", RECORD_CAPACITY + 9))
        );
    }

    #[test]
    fn service_provider_defaults_to_aws_and_is_set_once() {
        let state = SsoState::default();
        assert!(state.set_service_provider(SamlServiceProvider::own("https://sts.example/saml")));
        assert!(!state.set_service_provider(SamlServiceProvider::aws()));
        assert_eq!(
            state.service_provider().recipient,
            "https://sts.example/saml"
        );
        assert_eq!(
            SsoState::default().service_provider(),
            &SamlServiceProvider::aws()
        );
    }
}
