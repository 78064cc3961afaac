//! The node's Admin API and key rotation, composed from their parts.
//!
//! ```text
//! App::start ─ admin::service(config, kek, clock, freshness)   (before the node:
//!            │                                                  it is mounted on
//!            │                                                  the node's gRPC port)
//!            ─ Node::start_with_services(…, admin routes)
//!            ─ admin::bind(service, node, keys) ─► RotationDriver
//! App::spawn ─ "key-rotation" task: admin::rotation_loop ticks every second;
//!              only the leader proposes, each step a compare-and-set entry
//! ```
//!
//! The service verifies callers with `meridian_core::access` over its own
//! [`meridian_core::access::keys::KeyMaterial`] around the same KEK as the
//! edge (loaded twice from the same source: key material is not `Clone`,
//! and the two caches are independent).

use std::sync::Arc;
use std::time::Duration;

use meridian_core::access::keys::KeyMaterial as AccessKeys;
use meridian_core::config::cluster::KeyPurpose;
use meridian_core::keyring::{Kek, KeyError};
use meridian_edge::outbound::generate_jwt_key;
use meridian_edge::state::{Clock, Freshness, KeyMaterial, RandomSource};
use meridian_grpc::admin::service::{AdminParts, AdminService};
use meridian_grpc::node::Node;
use meridian_grpc::rotation::{NewKey, RotationDriver, RotationError, SESSION_KEY_ALGORITHM};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::random::SystemRandom;

/// How often the rotation task plans (a confirmed key activates within a
/// tick of its floor; a retired key is destroyed within a tick of its end).
pub const ROTATION_TICK: Duration = Duration::from_secs(1);

/// The Admin service of a node, not yet bound to it.
pub fn service(
    config: &Config,
    kek: Kek,
    clock: Arc<dyn Clock>,
    freshness: Freshness,
) -> AdminService {
    AdminService::new(AdminParts {
        region: config.region.clone(),
        keys: Arc::new(AccessKeys::new(kek)),
        clock: Arc::new(move || clock.now()),
        entropy: Arc::new(|dest: &mut [u8]| SystemRandom.fill(dest)),
        freshness: Arc::new(move || freshness.confirmed_at()),
        max_config_staleness: config.max_config_staleness,
    })
}

/// Binds the service to its node; returns the rotation driver the
/// rotation task runs.
pub fn bind(
    service: &AdminService,
    node: Arc<Node>,
    keys: Arc<KeyMaterial>,
) -> Arc<RotationDriver> {
    let driver = Arc::new(RotationDriver::new(
        Arc::clone(&node),
        Arc::new(move |purpose, term| new_key(&keys, purpose, term)),
        Arc::new(|dest: &mut [u8]| SystemRandom.fill(dest)),
    ));
    service.bind(node, Arc::clone(&driver));
    driver
}

/// Generates key `term` of `purpose`: a session-token data key wrapped
/// under the KEK, or a JWT signing key pair (private half sealed under the
/// KEK), as the edge makes its first ones.
fn new_key(keys: &KeyMaterial, purpose: KeyPurpose, term: u64) -> Result<NewKey, KeyError> {
    match purpose {
        KeyPurpose::SessionToken => {
            let id = u32::try_from(term).map_err(|_| KeyError::Crypto)?;
            Ok(NewKey {
                key_id: term.to_string(),
                algorithm: String::from(SESSION_KEY_ALGORITHM),
                sealed_key: keys.wrap_session_key(id, &SystemRandom)?,
                public_key: Vec::new(),
            })
        }
        jwt => {
            let key = generate_jwt_key(keys.kek(), jwt, term, &SystemRandom)?;
            Ok(NewKey {
                key_id: key.key_id,
                algorithm: key.algorithm,
                sealed_key: key.sealed_key,
                public_key: key.public_key,
            })
        }
    }
}

/// Ticks `driver` every `tick` until `stop`: the leader proposes the next
/// rotation step; followers do nothing.
pub async fn rotation_loop(
    driver: Arc<RotationDriver>,
    clock: Arc<dyn Clock>,
    tick: Duration,
    stop: CancellationToken,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let outcomes = match driver.tick(clock.now()).await {
            Ok(outcomes) => outcomes,
            // Not the leader: the leader's own task rotates.
            Err(RotationError::NotLeader) => continue,
            Err(error) => {
                tracing::warn!(%error, "key rotation tick failed");
                continue;
            }
        };
        for outcome in outcomes {
            match outcome {
                Ok(_) | Err(RotationError::NotLeader) => {}
                // A concurrent proposer won or the view was stale: plan again.
                Err(RotationError::Refused(refusal)) => {
                    tracing::debug!(%refusal, "rotation step refused; replanning");
                }
                Err(error) => tracing::warn!(%error, "key rotation step failed"),
            }
        }
    }
}
