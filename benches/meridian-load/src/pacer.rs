//! The open-loop schedule and the pacer that releases it.
//!
//! The schedule is a pure function: request `i` is intended to start at
//! `start + i / rate`, whatever happened to the requests before it. Nothing
//! in the pacer looks at responses, which is what makes the run open-loop.
//!
//! Releasing ticks on time matters because latency is measured from the
//! intended start: a tick released late is counted as latency. tokio's timer
//! wheel has a 1 ms resolution, which would add up to a millisecond to every
//! measurement — the size of the budget being measured (p99 ≤ 2 ms). The
//! production pacer is therefore a dedicated OS thread that sleeps with
//! `std::thread::sleep` (nanosleep: tens of microseconds of slack) until
//! each intended time and hands the tick to the runtime over a bounded
//! channel. When the channel is full (the runtime is behind) the thread
//! blocks; that is harmless, since the tick carries its intended time and the
//! delay is charged to the request. Ticks falling due together (a late
//! wake-up, or rates above the sleep resolution) go out back to back.
//!
//! Tests use [`paced_by_tokio`] instead, which sleeps on tokio's clock so
//! that a paused test runtime makes the schedule exact and deterministic.

use std::io::Write as _;
use std::thread;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// Ticks buffered between the pacer and the dispatcher.
const CHANNEL_CAPACITY: usize = 65_536;

/// A constant-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Intended start of request 0.
    pub start: Instant,
    /// Requests per second (> 0).
    pub rate: f64,
    /// Number of requests.
    pub count: u64,
}

impl Schedule {
    /// A schedule of `rate` requests per second for `length`, from `start`.
    /// A non-positive or non-finite rate gives an empty schedule.
    pub fn new(start: Instant, rate: f64, length: Duration) -> Schedule {
        let count = if rate.is_finite() && rate > 0.0 {
            // Saturating float-to-int conversion; the product is checked finite.
            let product = (rate * length.as_secs_f64()).floor();
            if product.is_finite() {
                product as u64
            } else {
                0
            }
        } else {
            0
        };
        Schedule {
            start,
            rate: if count == 0 { 1.0 } else { rate },
            count,
        }
    }

    /// The intended start of request `index`.
    pub fn intended(&self, index: u64) -> Instant {
        // Computed from the index (not by accumulating an interval) so that
        // rounding never drifts over a long run.
        self.start + Duration::from_secs_f64(index as f64 / self.rate)
    }
}

/// Starts the production pacer: an OS thread releasing every tick of
/// `schedule` at its intended time. The thread ends after the last tick, or
/// as soon as the receiver is dropped.
pub fn paced_by_thread(schedule: Schedule) -> mpsc::Receiver<Instant> {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let spawned = thread::Builder::new()
        .name("meridian-load-pacer".into())
        .spawn(move || {
            for index in 0..schedule.count {
                let intended = schedule.intended(index);
                let now = Instant::now();
                if intended > now {
                    thread::sleep(intended - now);
                }
                if sender.blocking_send(intended).is_err() {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        // Without a pacer the receiver yields nothing and the run reports
        // zero requests; say why.
        let _ = writeln!(
            std::io::stderr(),
            "meridian-load: cannot start the pacer thread: {error}"
        );
    }
    receiver
}

/// The pacer on tokio's clock (for tests with a paused runtime).
pub fn paced_by_tokio(schedule: Schedule) -> mpsc::Receiver<Instant> {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    tokio::spawn(async move {
        for index in 0..schedule.count {
            let intended = schedule.intended(index);
            tokio::time::sleep_until(intended).await;
            if sender.send(intended).await.is_err() {
                return;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_and_does_not_drift() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 3000.0, Duration::from_secs(10));
        assert_eq!(schedule.count, 30_000);
        assert_eq!(schedule.intended(0), start);
        assert_eq!(schedule.intended(3), start + Duration::from_millis(1));
        // The last request of a 10 s run at 3000/s starts one interval
        // before the end, to the nanosecond.
        let last = schedule.intended(29_999) - start;
        let expected = Duration::from_secs(10) - Duration::from_secs_f64(1.0 / 3000.0);
        let diff = last.abs_diff(expected);
        assert!(diff < Duration::from_nanos(10), "drift {diff:?}");
    }

    #[test]
    fn degenerate_rates_give_empty_schedules() {
        let start = Instant::now();
        for rate in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let schedule = Schedule::new(start, rate, Duration::from_secs(1));
            assert_eq!(schedule.count, 0, "rate {rate}");
        }
        assert_eq!(
            Schedule::new(start, 0.5, Duration::from_secs(1)).count,
            0,
            "half a request rounds down"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn thread_pacer_releases_every_tick_in_order_and_never_early() {
        // Loose on lateness (a loaded CI machine may deschedule the thread),
        // strict on what must hold: exact count, order, intended values, and
        // no tick released before its time.
        let start = Instant::now() + Duration::from_millis(20);
        let schedule = Schedule::new(start, 2000.0, Duration::from_millis(250));
        assert_eq!(schedule.count, 500);
        let mut receiver = paced_by_thread(schedule);
        let mut index = 0;
        let mut lateness = Vec::new();
        let deadline = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(intended) = receiver.recv().await {
                let released = Instant::now();
                assert_eq!(intended, schedule.intended(index));
                assert!(released >= intended, "tick {index} released early");
                lateness.push(released - intended);
                index += 1;
            }
        })
        .await;
        assert!(deadline.is_ok(), "pacer did not finish within 30 s");
        assert_eq!(index, 500);
        lateness.sort();
        // Lateness is observed at the receiver, whose runtime thread shares
        // two cores with the other tests and whatever else the machine
        // runs (hundreds of milliseconds at a load average of 7), so the
        // bound only catches a pacer that ignores its schedule. On a quiet
        // machine the median is tens of microseconds.
        assert!(
            lateness[250] < Duration::from_secs(5),
            "{:?}",
            lateness[250]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_pacer_is_exact_on_a_paused_clock() {
        let start = Instant::now() + Duration::from_millis(5);
        let schedule = Schedule::new(start, 100.0, Duration::from_secs(1));
        let mut receiver = paced_by_tokio(schedule);
        let mut index = 0;
        while let Some(intended) = receiver.recv().await {
            assert_eq!(intended, schedule.intended(index));
            assert_eq!(Instant::now(), intended);
            index += 1;
        }
        assert_eq!(index, 100);
    }
}
