//! Per-access-key rate limiting: a keyed token bucket with bounded memory.
//!
//! SigV4 has no nonce, so AWS accepts replays inside the 15-minute window and
//! limits by caller instead (RELIABILITY.md "Decisions"); we do the same,
//! keyed by the *verified* access key id, so a forger cannot drain someone
//! else's bucket. Over the limit the answer is AWS's `Throttling` (400),
//! which every SDK retries with backoff.
//!
//! Memory is bounded: the table is split into shards, each holding at most
//! `max_keys / SHARDS` buckets. A bucket that has refilled completely carries
//! no information (it equals a fresh one), so when a shard is full it first
//! drops every full bucket; if the shard is still full (more distinct busy
//! keys than the bound) new keys share one overflow bucket per shard, which
//! keeps the limit safe rather than unbounded. Pruning runs at most once per
//! refill period per shard, so a flood of new keys cannot make every call
//! scan the shard.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::{Duration, Instant};

use crate::error::ApiError;

const SHARDS: usize = 16;

/// A rate: `per_second` tokens added per second, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per key.
    pub per_second: u32,
    /// Requests a key may make at once after being idle.
    pub burst: u32,
    /// Most keys tracked at once (memory bound, ~100 bytes each).
    pub max_keys: usize,
}

impl RateLimit {
    /// AWS's default STS quota is 600 requests/s per account and region; one
    /// key gets a third of that sustained, with a burst of two seconds' worth.
    pub const RECOMMENDED: RateLimit = RateLimit {
        per_second: 200,
        burst: 400,
        max_keys: 100_000,
    };
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Shard {
    buckets: HashMap<Box<str>, Bucket>,
    overflow: Option<Bucket>,
    last_prune: Option<Instant>,
}

/// The keyed limiter.
#[derive(Debug)]
pub struct KeyedRateLimiter {
    limit: RateLimit,
    per_shard: usize,
    shards: Vec<Mutex<Shard>>,
}

impl KeyedRateLimiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: RateLimit) -> KeyedRateLimiter {
        KeyedRateLimiter {
            limit,
            per_shard: limit.max_keys.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        overflow: None,
                        last_prune: None,
                    })
                })
                .collect(),
        }
    }

    /// Takes one token for `key` now, or answers `Throttling`.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        if self.try_acquire(key, Instant::now()) {
            Ok(())
        } else {
            Err(ApiError::throttling())
        }
    }

    /// Takes one token for `key` at `now`; false when the key is over its rate.
    pub fn try_acquire(&self, key: &str, now: Instant) -> bool {
        if self.limit.per_second == 0 {
            return false;
        }
        let index = shard_index(key);
        let Some(shard) = self.shards.get(index) else {
            return false;
        };
        // A poisoned lock only means another thread panicked mid-update of
        // plain numbers; the data is still usable.
        let mut shard = shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let burst = f64::from(self.limit.burst.max(1));
        let rate = f64::from(self.limit.per_second);
        let refill_period = Duration::from_secs_f64(burst / rate);

        if !shard.buckets.contains_key(key) && shard.buckets.len() >= self.per_shard {
            let may_prune = shard
                .last_prune
                .is_none_or(|last| now.saturating_duration_since(last) >= refill_period);
            if may_prune {
                shard.last_prune = Some(now);
                shard
                    .buckets
                    .retain(|_, b| now.saturating_duration_since(b.updated) < refill_period);
            }
        }
        let full = Bucket {
            tokens: burst,
            updated: now,
        };
        let bucket = if shard.buckets.contains_key(key) || shard.buckets.len() < self.per_shard {
            shard.buckets.entry(Box::from(key)).or_insert(full)
        } else {
            shard.overflow.get_or_insert(full)
        };
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Keys tracked right now (tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.buckets.len()).unwrap_or(0))
            .sum()
    }
}

/// FNV-1a: cheap, deterministic shard choice (the keys are access key ids,
/// not attacker-chosen beyond what verification already accepted).
fn shard_index(key: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % SHARDS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32, max_keys: usize) -> KeyedRateLimiter {
        KeyedRateLimiter::new(RateLimit {
            per_second,
            burst,
            max_keys,
        })
    }

    #[test]
    fn allows_the_burst_then_the_rate() {
        let limiter = limiter(10, 5, 100);
        let start = Instant::now();
        let allowed = (0..8)
            .filter(|_| limiter.try_acquire("AKIA1", start))
            .count();
        assert_eq!(allowed, 5, "burst");
        assert!(!limiter.try_acquire("AKIA1", start + Duration::from_millis(50)));
        assert!(
            limiter.try_acquire("AKIA1", start + Duration::from_millis(110)),
            "refilled one token"
        );
        assert!(
            limiter.try_acquire("AKIA2", start),
            "other keys are independent"
        );
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let limiter = limiter(10, 2, 64);
        let start = Instant::now();
        for i in 0..10_000 {
            limiter.try_acquire(&format!("ASIA{i:016}"), start);
        }
        assert!(
            limiter.tracked_keys() <= 64 + SHARDS,
            "{}",
            limiter.tracked_keys()
        );
        // Once buckets have refilled they are dropped to make room: a new key
        // gets a bucket of its own again.
        let later = start + Duration::from_secs(1);
        assert!(limiter.try_acquire("NEWKEY", later));
        let shard = limiter.shards[shard_index("NEWKEY")].lock();
        assert!(shard.is_ok_and(|s| s.buckets.contains_key("NEWKEY") && s.buckets.len() == 1));
    }

    #[test]
    fn the_error_is_aws_throttling() {
        let limiter = limiter(1, 1, 10);
        assert!(limiter.check("AKIA").is_ok());
        let error = limiter.check("AKIA").err();
        assert_eq!(
            error.as_ref().map(|e| e.code().as_str()),
            Some("Throttling")
        );
        assert_eq!(error.map(|e| e.status().as_u16()), Some(400));
    }
}
