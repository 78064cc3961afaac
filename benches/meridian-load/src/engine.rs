//! The load engine: open-loop (constant rate) and closed-loop (N workers)
//! runs against any [`Target`], with warm-up, a bounded duration, bounded
//! concurrency, a progress line, and the results a summary is built from.
//!
//! ```text
//!  open loop:   pacer ──tick(intended)──▶ dispatcher ──permit──▶ task: call ──▶ collector
//!                 (schedule only)          (≤ max_in_flight)                  latency = done − intended
//!  closed loop: worker × N: loop { call; record } until the end   latency = done − sent
//! ```
//!
//! Phases are decided by when a request was *meant* to start (open loop)
//! or started (closed loop): requests in the first `warmup` are counted but
//! not recorded; requests in the following `duration` are the results. No
//! request starts after the end of the window; a request still running
//! when the drain deadline passes is reported as unfinished (it cannot be,
//! unless the drain is shorter than the request timeout).
//!
//! Latency histograms hold successful requests only: a fast error (a
//! throttled request) must not make the latency look better. Errors are
//! counted by code.
//!
//! Every run is bounded: the schedule is finite, each call has a timeout,
//! and the collector stops at `warmup + duration + drain` whatever happens.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::histogram::LatencyHistogram;
use crate::pacer::{Schedule, paced_by_thread, paced_by_tokio};

/// What one request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Success (the answer a successful request has).
    Ok,
    /// Failure, by code: the service's error code (`Throttling`,
    /// `AccessDenied`), `http-<status>` when it gave none, or the client's
    /// (`timeout`, `connect`, `io`).
    Error(String),
}

impl Outcome {
    /// An error outcome.
    pub fn error(code: impl Into<String>) -> Outcome {
        Outcome::Error(code.into())
    }
}

/// A boxed call future.
pub type CallFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Something the engine can send requests to.
pub trait Target: Send + Sync + 'static {
    /// Sends request number `seq` (0, 1, 2, … over the whole run) and
    /// resolves once its answer has been read and classified.
    fn call(&self, seq: u64) -> CallFuture;
}

/// How requests are issued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Constant rate, independent of answers.
    Open {
        /// Requests per second.
        rate: f64,
        /// Most requests in flight; a tick that finds no free slot waits
        /// for one, and the wait counts as latency.
        max_in_flight: usize,
    },
    /// `concurrency` workers, each sending its next request when the
    /// previous one is answered.
    Closed {
        /// Number of workers.
        concurrency: usize,
    },
}

/// How the open-loop schedule is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// A dedicated OS thread (precise; production).
    Thread,
    /// tokio's timer (exact under a paused test clock).
    Tokio,
}

/// One run's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunConfig {
    /// Open or closed loop.
    pub mode: Mode,
    /// Time excluded from the results at the start.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Timeout of each call.
    pub request_timeout: Duration,
    /// How long to wait for requests still running after the window.
    pub drain: Duration,
    /// Whether to print a progress line to stderr every second.
    pub progress: bool,
    /// How the open-loop schedule is released.
    pub pacing: Pacing,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResults {
    /// Latency of successful measured requests from their intended start
    /// (open loop) or their start (closed loop).
    pub latency: LatencyHistogram,
    /// Latency of successful measured requests from the moment they were
    /// handed to the client.
    pub service: LatencyHistogram,
    /// Successful measured requests.
    pub ok: u64,
    /// Failed measured requests by code.
    pub errors: BTreeMap<String, u64>,
    /// Requests of the warm-up (not in the figures).
    pub warmup_requests: u64,
    /// Requests started but not answered before the drain deadline.
    pub unfinished: u64,
    /// Requests the schedule intended in the window (open loop only).
    pub scheduled: u64,
    /// The measured window.
    pub window: Duration,
}

impl RunResults {
    /// Measured requests, successful or not.
    pub fn measured(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    /// Successful requests per second of the window.
    pub fn throughput(&self) -> f64 {
        let seconds = self.window.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }
}

/// One answered request.
#[derive(Debug)]
struct Sample {
    intended: Instant,
    sent: Instant,
    done: Instant,
    outcome: Outcome,
}

/// Counters the progress line reads.
#[derive(Debug, Default)]
struct Progress {
    started: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
}

/// Runs `target` under `config`; `on_window` is called at the start and at
/// the end of the measured window (CPU and metrics snapshots).
pub async fn run(
    target: Arc<dyn Target>,
    config: RunConfig,
    mut on_window: impl FnMut(WindowEdge) + Send,
) -> RunResults {
    let start = Instant::now() + Duration::from_millis(5);
    let window_start = start + config.warmup;
    let window_end = window_start + config.duration;
    let hard_end = window_end + config.drain;
    let progress = Arc::new(Progress::default());
    let (samples, mut received) = mpsc::unbounded_channel::<Sample>();

    let scheduled = match config.mode {
        Mode::Open {
            rate,
            max_in_flight,
        } => {
            let schedule = Schedule::new(start, rate, config.warmup + config.duration);
            let warmup_count = Schedule::new(start, rate, config.warmup).count;
            let ticks = match config.pacing {
                Pacing::Thread => paced_by_thread(schedule),
                Pacing::Tokio => paced_by_tokio(schedule),
            };
            tokio::spawn(dispatch_open(
                target,
                ticks,
                max_in_flight.max(1),
                config.request_timeout,
                samples,
                Arc::clone(&progress),
            ));
            schedule.count.saturating_sub(warmup_count)
        }
        Mode::Closed { concurrency } => {
            for _ in 0..concurrency.max(1) {
                tokio::spawn(closed_worker(
                    Arc::clone(&target),
                    window_end,
                    config.request_timeout,
                    samples.clone(),
                    Arc::clone(&progress),
                ));
            }
            drop(samples);
            0
        }
    };

    let reporter = config
        .progress
        .then(|| tokio::spawn(report_progress(Arc::clone(&progress), start, config)));

    let mut results = RunResults {
        window: config.duration,
        scheduled,
        ..RunResults::default()
    };
    let mut window_open = false;
    let mut window_closed = false;
    let mut edges = tokio::time::interval_at(window_start, Duration::from_millis(50));
    loop {
        tokio::select! {
            sample = tokio::time::timeout_at(hard_end, received.recv()) => match sample {
                Ok(Some(sample)) => record(&mut results, sample, window_start, window_end),
                // Every sender is gone: every request was answered.
                Ok(None) => break,
                Err(_) => break,
            },
            _ = edges.tick(), if !window_closed => {
                let now = Instant::now();
                if !window_open && now >= window_start {
                    window_open = true;
                    on_window(WindowEdge::Start);
                }
                if window_open && now >= window_end {
                    window_closed = true;
                    on_window(WindowEdge::End);
                }
            }
        }
    }
    if !window_open {
        on_window(WindowEdge::Start);
    }
    if !window_closed {
        on_window(WindowEdge::End);
    }
    if let Some(reporter) = reporter {
        reporter.abort();
        if config.progress && std::io::stderr().is_terminal() {
            let _ = writeln!(std::io::stderr());
        }
    }
    let started = progress.started.load(Ordering::Relaxed);
    let answered = progress.done.load(Ordering::Relaxed);
    results.unfinished = started.saturating_sub(answered);
    results
}

/// Where the measured window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEdge {
    /// It starts.
    Start,
    /// It ends.
    End,
}

fn record(results: &mut RunResults, sample: Sample, window_start: Instant, window_end: Instant) {
    if sample.intended < window_start {
        results.warmup_requests += 1;
        return;
    }
    if sample.intended >= window_end {
        // Cannot happen (nothing starts after the window); kept out of the
        // figures if a closed-loop worker raced the end.
        return;
    }
    match sample.outcome {
        Outcome::Ok => {
            results.ok += 1;
            results.latency.record(sample.done - sample.intended);
            results.service.record(sample.done - sample.sent);
        }
        Outcome::Error(code) => *results.errors.entry(code).or_default() += 1,
    }
}

async fn call_with_timeout(target: &dyn Target, seq: u64, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, target.call(seq)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::error("timeout"),
    }
}

async fn dispatch_open(
    target: Arc<dyn Target>,
    mut ticks: mpsc::Receiver<Instant>,
    max_in_flight: usize,
    timeout: Duration,
    samples: mpsc::UnboundedSender<Sample>,
    progress: Arc<Progress>,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut seq = 0u64;
    while let Some(intended) = ticks.recv().await {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let target = Arc::clone(&target);
        let samples = samples.clone();
        let progress = Arc::clone(&progress);
        progress.started.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = call_with_timeout(target.as_ref(), seq, timeout).await;
            let done = Instant::now();
            finish(&progress, &outcome);
            let _ = samples.send(Sample {
                intended,
                sent,
                done,
                outcome,
            });
            drop(permit);
        });
        seq += 1;
    }
}

async fn closed_worker(
    target: Arc<dyn Target>,
    end: Instant,
    timeout: Duration,
    samples: mpsc::UnboundedSender<Sample>,
    progress: Arc<Progress>,
) {
    loop {
        let sent = Instant::now();
        if sent >= end {
            return;
        }
        let seq = progress.started.fetch_add(1, Ordering::Relaxed);
        let outcome = call_with_timeout(target.as_ref(), seq, timeout).await;
        let done = Instant::now();
        finish(&progress, &outcome);
        if samples
            .send(Sample {
                intended: sent,
                sent,
                done,
                outcome,
            })
            .is_err()
        {
            return;
        }
    }
}

fn finish(progress: &Progress, outcome: &Outcome) {
    progress.done.fetch_add(1, Ordering::Relaxed);
    if matches!(outcome, Outcome::Error(_)) {
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

async fn report_progress(progress: Arc<Progress>, start: Instant, config: RunConfig) {
    let terminal = std::io::stderr().is_terminal();
    let mut ticker =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last_done = 0u64;
    loop {
        ticker.tick().await;
        let elapsed = Instant::now().saturating_duration_since(start);
        let phase = if elapsed < config.warmup {
            "warm-up"
        } else if elapsed < config.warmup + config.duration {
            "measure"
        } else {
            "drain"
        };
        let started = progress.started.load(Ordering::Relaxed);
        let done = progress.done.load(Ordering::Relaxed);
        let errors = progress.errors.load(Ordering::Relaxed);
        let line = format!(
            "meridian-load {:>6.1}s {phase:<7} answered {done} ({}/s) errors {errors} in flight {}",
            elapsed.as_secs_f64(),
            done - last_done.min(done),
            started.saturating_sub(done),
        );
        last_done = done;
        let mut stderr = std::io::stderr().lock();
        let _ = if terminal {
            write!(stderr, "\r{line}\x1b[K")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }
}

#[cfg(test)]
#[path = "engine_test.rs"]
mod tests;
