//! The node's `meridian.v1.Verifier`, composed from the node's parts: the
//! key material the edge uses (one KEK, one ring cache), the wall clock,
//! the system random generator and the readiness flag (a node that is not ready
//! answers `UNAVAILABLE`, so resource services' clients fail over).
//!
//! ```text
//! App::start ─ verifier::service(keys, clock, readiness)   (before the node:
//!            │                                             mounted on its gRPC port)
//!            ─ Node::start_with_services(…, verifier routes)
//!            ─ service.bind(node.snapshot())
//! ```

use std::sync::Arc;

use meridian_core::rand::{RandomError, RandomSource, SystemRng};
use meridian_core::time::Timestamp;
use meridian_edge::state::{Clock, KeyMaterial, Readiness};
use meridian_grpc::verifier::service::VerifierService;
use meridian_grpc::verifier::{self, VerifierLimits, VerifierParts};

struct ClockAdapter(Arc<dyn Clock>);

impl verifier::Clock for ClockAdapter {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

struct SystemEntropy;

impl verifier::Entropy for SystemEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        RandomSource::fill(&mut SystemRng::new(), dest)
    }
}

struct ReadinessAdapter(Readiness);

impl verifier::ReadyCheck for ReadinessAdapter {
    fn is_ready(&self) -> bool {
        self.0.is_ready()
    }
}

/// The Verifier of a node, not yet bound to its applied configuration.
pub fn service(keys: &KeyMaterial, clock: Arc<dyn Clock>, readiness: Readiness) -> VerifierService {
    VerifierService::new(VerifierParts {
        keys: keys.shared(),
        clock: Arc::new(ClockAdapter(clock)),
        entropy: Arc::new(SystemEntropy),
        ready: Arc::new(ReadinessAdapter(readiness)),
        limits: VerifierLimits::RECOMMENDED,
    })
}
