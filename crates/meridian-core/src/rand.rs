//! The randomness seam.
//!
//! meridian-core owns no entropy: every operation that needs random bytes
//! (access key ids, secret keys, session ids, AEAD nonces, data keys) takes a
//! [`RandomSource`] argument. Servers pass a [`SystemRng`], which draws from
//! AWS-LC's DRBG (seeded by the operating system, the same generator rustls
//! uses); tests and benches that need reproducible output pass a
//! [`DeterministicRandom`].
//!
//! The trait takes `&mut self` so that a deterministic or buffered source
//! needs no interior mutability; [`SystemRng`] is a zero-sized value, so each
//! request or worker simply makes its own.

use std::fmt;

use aws_lc_rs::digest;
use zeroize::Zeroize;

/// The source of every random byte meridian-core uses.
pub trait RandomSource {
    /// Fills `dest` entirely with random bytes, or fails without a partial
    /// result being usable (callers discard `dest` on error).
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(dest)
    }
}

/// Why random bytes could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RandomError {
    /// The underlying generator reported a failure (for the system source:
    /// AWS-LC's DRBG could not be seeded or reseeded). Nothing random may be
    /// derived from the destination buffer.
    #[error("random source failed")]
    SourceFailed,
}

/// Production randomness: AWS-LC's `RAND_bytes` through
/// [`aws_lc_rs::rand::SystemRandom`].
///
/// Zero-sized and freely constructed; it is safe to use from any thread.
#[derive(Clone, Default)]
pub struct SystemRng(aws_lc_rs::rand::SystemRandom);

impl SystemRng {
    /// A handle on the system generator.
    pub fn new() -> SystemRng {
        SystemRng(aws_lc_rs::rand::SystemRandom::new())
    }
}

impl RandomSource for SystemRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        aws_lc_rs::rand::SecureRandom::fill(&self.0, dest).map_err(|_| RandomError::SourceFailed)
    }
}

impl fmt::Debug for SystemRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRng")
    }
}

/// A source that draws from `inner` in blocks of [`BufferedRandom::BLOCK`]
/// bytes and hands them out in small pieces.
///
/// AWS-LC's `RAND_bytes` costs about as much for 63 bytes as for a kilobyte
/// (its per-call DRBG bookkeeping dominates), and a mint needs 63 bytes, so a
/// per-worker buffered source removes most of that cost. Bytes are zeroized in
/// the buffer as soon as they are handed out, so the buffer holds only bytes
/// that no one has used yet. Requests larger than half a block bypass the
/// buffer. Keep one per thread or worker (it is `&mut`), never share one
/// across a `fork`.
pub struct BufferedRandom<R: RandomSource> {
    inner: R,
    block: Box<[u8; BLOCK]>,
    used: usize,
}

const BLOCK: usize = 1024;

impl<R: RandomSource> BufferedRandom<R> {
    /// Bytes drawn from the inner source at a time.
    pub const BLOCK: usize = BLOCK;

    /// A buffered view of `inner`; nothing is drawn until first use.
    pub fn new(inner: R) -> BufferedRandom<R> {
        BufferedRandom {
            inner,
            block: Box::new([0; BLOCK]),
            used: BLOCK,
        }
    }
}

impl<R: RandomSource> RandomSource for BufferedRandom<R> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        if dest.len() > BLOCK / 2 {
            return self.inner.fill(dest);
        }
        if BLOCK - self.used < dest.len() {
            // Mark the block used before drawing so that a failed draw is
            // never served from.
            self.used = BLOCK;
            self.inner.fill(self.block.as_mut_slice())?;
            self.used = 0;
        }
        let end = self.used + dest.len();
        let piece = &mut self.block[self.used..end];
        dest.copy_from_slice(piece);
        piece.zeroize();
        self.used = end;
        Ok(())
    }
}

impl<R: RandomSource> Drop for BufferedRandom<R> {
    fn drop(&mut self) {
        self.block.zeroize();
    }
}

impl<R: RandomSource + fmt::Debug> fmt::Debug for BufferedRandom<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedRandom")
            .field("inner", &self.inner)
            .field("available", &(BLOCK - self.used))
            .finish_non_exhaustive()
    }
}

/// A reproducible byte stream for tests, fixtures and benches.
///
/// **Not for production.** Anyone who knows (or guesses) the seed can predict
/// every key, secret and nonce derived from it. Its output is
/// SHA-256(`"meridian-deterministic-random" || seed || counter`) for counter
/// 0, 1, 2, …, so distinct seeds give unrelated streams and the bytes look
/// uniformly random to the code under test (which matters: access key ids and
/// base32/base64 alphabets are derived from them).
#[derive(Clone)]
pub struct DeterministicRandom {
    seed: u64,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl DeterministicRandom {
    /// The stream for `seed`. The same seed always yields the same bytes.
    pub fn from_seed(seed: u64) -> DeterministicRandom {
        DeterministicRandom {
            seed,
            counter: 0,
            block: [0; 32],
            // Forces a refill on the first byte.
            used: 32,
        }
    }

    fn refill(&mut self) {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"meridian-deterministic-random");
        context.update(&self.seed.to_be_bytes());
        context.update(&self.counter.to_be_bytes());
        self.block.copy_from_slice(context.finish().as_ref());
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }
}

impl RandomSource for DeterministicRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        for byte in dest.iter_mut() {
            if self.used == self.block.len() {
                self.refill();
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

impl Drop for DeterministicRandom {
    fn drop(&mut self) {
        self.block.zeroize();
    }
}

impl fmt::Debug for DeterministicRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeterministicRandom")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_streams_repeat_per_seed_and_differ_across_seeds() {
        let mut a = DeterministicRandom::from_seed(7);
        let mut b = DeterministicRandom::from_seed(7);
        let mut c = DeterministicRandom::from_seed(8);
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill(&mut x).unwrap();
        // The same stream read in uneven pieces gives the same bytes.
        b.fill(&mut y[..33]).unwrap();
        b.fill(&mut y[33..]).unwrap();
        c.fill(&mut z).unwrap();
        assert_eq!(x, y);
        assert_ne!(x, z);
        // Not a constant or short-period stream.
        assert_ne!(x[..32], x[32..64]);
    }

    #[test]
    fn system_source_fills_and_differs_between_calls() {
        let mut rng = SystemRng::new();
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        rng.fill(&mut x).unwrap();
        rng.fill(&mut y).unwrap();
        assert_ne!(x, y);
        assert_ne!(x, [0u8; 32]);
    }

    /// Fails every draw after the first `ok` ones.
    struct Failing {
        ok: usize,
    }

    impl RandomSource for Failing {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
            if self.ok == 0 {
                return Err(RandomError::SourceFailed);
            }
            self.ok -= 1;
            dest.fill(0xab);
            Ok(())
        }
    }

    #[test]
    fn buffered_source_serves_the_inner_stream_in_blocks() {
        let mut direct = DeterministicRandom::from_seed(9);
        let mut stream = vec![0u8; 8 * BLOCK];
        direct.fill(&mut stream).unwrap();
        let mut buffered = BufferedRandom::new(DeterministicRandom::from_seed(9));
        // A model of the documented behaviour: small pieces come from the
        // current block in order; a piece that does not fit starts a new
        // block; large pieces are drawn directly.
        let (mut inner_pos, mut block_start, mut used) = (0, 0, BLOCK);
        for size in [63, 63, 500, 100, 513, 512, 1, 0, 63, 900, 63] {
            let expected = if size > BLOCK / 2 {
                inner_pos += size;
                &stream[inner_pos - size..inner_pos]
            } else {
                if BLOCK - used < size {
                    block_start = inner_pos;
                    inner_pos += BLOCK;
                    used = 0;
                }
                used += size;
                &stream[block_start + used - size..block_start + used]
            };
            let mut piece = vec![0u8; size];
            buffered.fill(&mut piece).unwrap();
            assert_eq!(piece, expected, "piece of {size}");
            // Served bytes are cleared from the buffer.
            assert!(buffered.block[..buffered.used].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn buffered_source_bypasses_large_requests_and_reports_failures() {
        let mut buffered = BufferedRandom::new(Failing { ok: 1 });
        let mut big = [0u8; BLOCK];
        buffered.fill(&mut big).unwrap();
        assert!(big.iter().all(|&b| b == 0xab));
        let mut small = [0u8; 8];
        assert_eq!(buffered.fill(&mut small), Err(RandomError::SourceFailed));
        // The failed draw left nothing to serve.
        assert_eq!(buffered.fill(&mut small), Err(RandomError::SourceFailed));
    }

    #[test]
    fn a_mutable_reference_is_a_source() {
        fn draw(mut source: impl RandomSource) -> [u8; 8] {
            let mut out = [0u8; 8];
            source.fill(&mut out).unwrap();
            out
        }
        let mut rng = DeterministicRandom::from_seed(1);
        let first = draw(&mut rng);
        let second = draw(&mut rng);
        assert_ne!(first, second);
    }
}
