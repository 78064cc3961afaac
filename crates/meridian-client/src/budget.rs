//! A retry budget: retries may add at most a fixed fraction to the load a
//! client sends, plus a small floor so that a quiet client can still retry.
//!
//! The design is Finagle's (and tower's `TpsBudget`): every first attempt
//! deposits `ratio` tokens, every retry withdraws one, and a reserve of
//! `min_per_second` tokens is refilled each second. Without a budget a
//! cluster that is failing because it is overloaded receives `max_attempts`
//! times its load from every client at once — the retry storm that turns a
//! brown-out into an outage. With `ratio = 0.1` retries add at most 10 %.
//!
//! Deposits expire: only the last `window` of traffic counts, kept as ten
//! rotating buckets, so a client that was busy an hour ago cannot retry a
//! burst now on old credit.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How much retrying a client may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries allowed per first attempt (0.1: one retry per ten requests).
    pub ratio: f64,
    /// Retries allowed per second regardless of traffic.
    pub min_per_second: u32,
    /// How long a deposit counts.
    pub window: Duration,
}

impl RetryBudgetConfig {
    /// 10 % of traffic, at least 10 retries per second, a 10-second window.
    pub const RECOMMENDED: RetryBudgetConfig = RetryBudgetConfig {
        ratio: 0.1,
        min_per_second: 10,
        window: Duration::from_secs(10),
    };
}

const BUCKETS: usize = 10;

#[derive(Debug)]
struct State {
    /// Deposits per bucket (in milli-tokens), the current one last written.
    deposits: [u64; BUCKETS],
    /// Withdrawals per bucket (milli-tokens).
    withdrawals: [u64; BUCKETS],
    /// Index of the current bucket.
    current: usize,
    /// When the current bucket started.
    bucket_start: Instant,
    /// Floor tokens left this second, and when that second started.
    floor_left: u32,
    floor_start: Instant,
}

/// A retry budget shared by every call of a client.
#[derive(Debug)]
pub struct RetryBudget {
    config: RetryBudgetConfig,
    bucket_length: Duration,
    state: Mutex<State>,
}

impl RetryBudget {
    /// A budget with `config` (ratio clamped to `0..=1000`).
    pub fn new(config: RetryBudgetConfig) -> RetryBudget {
        let now = Instant::now();
        let config = RetryBudgetConfig {
            ratio: if config.ratio.is_finite() {
                config.ratio.clamp(0.0, 1000.0)
            } else {
                0.0
            },
            ..config
        };
        let bucket_length = (config.window / BUCKETS as u32).max(Duration::from_millis(1));
        RetryBudget {
            config,
            bucket_length,
            state: Mutex::new(State {
                deposits: [0; BUCKETS],
                withdrawals: [0; BUCKETS],
                current: 0,
                bucket_start: now,
                floor_left: config.min_per_second,
                floor_start: now,
            }),
        }
    }

    fn advance(&self, state: &mut State, now: Instant) {
        let mut steps = 0;
        while now.duration_since(state.bucket_start) >= self.bucket_length && steps < BUCKETS {
            state.current = (state.current + 1) % BUCKETS;
            state.deposits[state.current] = 0;
            state.withdrawals[state.current] = 0;
            state.bucket_start += self.bucket_length;
            steps += 1;
        }
        if now.duration_since(state.bucket_start) >= self.bucket_length {
            // Idle for longer than the window: everything expired.
            state.bucket_start = now;
        }
        if now.duration_since(state.floor_start) >= Duration::from_secs(1) {
            state.floor_left = self.config.min_per_second;
            state.floor_start = now;
        }
    }

    /// Records a first attempt.
    pub fn deposit(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.advance(&mut state, Instant::now());
        let current = state.current;
        state.deposits[current] += (self.config.ratio * 1000.0) as u64;
    }

    /// Takes a token for one retry; `false` when the budget is spent.
    pub fn withdraw(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.advance(&mut state, Instant::now());
        if state.floor_left > 0 {
            state.floor_left -= 1;
            return true;
        }
        let deposited: u64 = state.deposits.iter().sum();
        let withdrawn: u64 = state.withdrawals.iter().sum();
        if deposited >= withdrawn + 1000 {
            let current = state.current;
            state.withdrawals[current] += 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_are_a_fraction_of_traffic_plus_a_floor() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.1,
            min_per_second: 2,
            window: Duration::from_secs(10),
        });
        // The floor: two retries with no traffic at all.
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        // 100 requests buy 10 retries.
        for _ in 0..100 {
            budget.deposit();
        }
        let granted = (0..50).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 10);
        // The floor refills each second.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire_after_the_window() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 1.0,
            min_per_second: 0,
            window: Duration::from_secs(10),
        });
        for _ in 0..5 {
            budget.deposit();
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!budget.withdraw(), "old credit must not be spent");
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
    }
}
