//! Latency recording: HDR histograms in microseconds, one corrected for
//! coordinated omission and one of raw service time.
//!
//! Coordinated omission (Gil Tene's term) is what a load generator does when
//! it waits for a slow answer before sending the next request: the requests
//! it *should* have sent during the stall are never sent, so the stall is
//! recorded once instead of once per request that would have waited. The
//! open-loop engine never waits for answers to decide when to send; it
//! computes each request's *intended* start time from the schedule and this
//! recorder measures latency from that intended time. Time a request spends
//! queued behind a stall — behind the in-flight bound, in the pacer, or in
//! the server — is therefore counted. The service histogram (from the moment
//! the request was actually handed to the client) is kept beside it, so a
//! report can show how much of the latency was waiting to be sent.
//!
//! Values are microseconds from 1 µs to 120 s with three significant digits
//! (0.1 % resolution), which is what `hdrhistogram` recommends for latency.
//! Larger values saturate at the top bucket rather than being dropped.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest trackable latency, in microseconds (120 s).
pub const MAX_TRACKABLE_US: u64 = 120_000_000;

/// Three significant digits: 0.1 % error on any recorded value.
const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        // The bounds are constants that satisfy hdrhistogram's rules
        // (low ≥ 1, high ≥ 2 × low, sigfig ≤ 5), so creation cannot fail.
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKABLE_US, SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"));
        LatencyHistogram { histogram }
    }

    /// Records one latency (sub-microsecond values count as 1 µs; values
    /// above [`MAX_TRACKABLE_US`] saturate).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(micros.clamp(1, MAX_TRACKABLE_US));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so addition cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The value at `quantile` (0.0..=1.0), in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> u64 {
        self.histogram.value_at_quantile(quantile)
    }

    /// The summary percentiles (all zero when empty).
    pub fn percentiles(&self) -> Percentiles {
        if self.histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: self.histogram.len(),
            min_us: self.histogram.min(),
            mean_us: self.histogram.mean(),
            p50_us: self.histogram.value_at_quantile(0.50),
            p90_us: self.histogram.value_at_quantile(0.90),
            p99_us: self.histogram.value_at_quantile(0.99),
            p999_us: self.histogram.value_at_quantile(0.999),
            max_us: self.histogram.max(),
        }
    }
}

/// The percentiles every report shows, in microseconds (each value is the
/// highest value equivalent to the true one at 0.1 % resolution).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest value.
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=1000 ms: the q-quantile is q × 1000 ms within 0.1 %.
        let mut histogram = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            histogram.record(Duration::from_millis(ms));
        }
        let p = histogram.percentiles();
        assert_eq!(p.count, 1000);
        for (value, expected_ms) in [
            (p.p50_us, 500.0),
            (p.p90_us, 900.0),
            (p.p99_us, 990.0),
            (p.p999_us, 999.0),
            (p.max_us, 1000.0),
            (p.min_us, 1.0),
        ] {
            let expected_us: f64 = expected_ms * 1000.0;
            let error = (value as f64 - expected_us).abs() / expected_us;
            assert!(error <= 0.001, "{value} µs vs {expected_us} µs");
        }
        assert!((p.mean_us - 500_500.0).abs() / 500_500.0 < 0.001);
    }

    #[test]
    fn extremes_saturate_instead_of_being_lost() {
        let mut histogram = LatencyHistogram::new();
        histogram.record(Duration::from_nanos(10));
        histogram.record(Duration::from_secs(3600));
        let p = histogram.percentiles();
        assert_eq!(p.count, 2);
        assert_eq!(p.min_us, 1);
        assert!(p.max_us >= MAX_TRACKABLE_US);
        assert!(p.max_us <= MAX_TRACKABLE_US + MAX_TRACKABLE_US / 1000);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(Duration::from_micros(100));
        b.record(Duration::from_micros(300));
        b.record(Duration::from_micros(300));
        a.merge(&b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.quantile_us(0.5), 300);
        assert!(LatencyHistogram::new().percentiles() == Percentiles::default());
    }
}
