//! The system random source, as the edge's [`RandomSource`] seam.
//!
//! It draws from AWS-LC's DRBG through core's [`SystemRng`] (seeded by the
//! operating system). The edge's seam is infallible, so a failing system
//! generator panics: no credential, key or id may be made from anything but
//! fresh randomness, and the edge's panic layer answers that one request with
//! an internal error rather than issuing something predictable.

use meridian_core::rand::{RandomSource as _, SystemRng};
use meridian_edge::state::RandomSource;

/// The operating system's randomness through AWS-LC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill(&self, dest: &mut [u8]) {
        if let Err(error) = SystemRng::new().fill(dest) {
            // Nothing safe can be made without entropy; see the module docs.
            panic!("the system random generator failed: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_with_fresh_bytes() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SystemRandom.fill(&mut a);
        SystemRandom.fill(&mut b);
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
    }
}
