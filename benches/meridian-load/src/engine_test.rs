//! Engine tests on a paused tokio clock with fake targets, so that time is
//! exact and the results deterministic on any machine.
//!
//! The central one is coordinated omission: a single-server target that
//! stalls once for 200 ms while requests are scheduled every 10 ms. The
//! expected latencies come from an independent reference model of a FIFO
//! server (`done = max(intended, previous done) + service`); the engine's
//! corrected histogram must match it, while the service-time histogram —
//! what a closed-loop tool would report — hides the stall.

use super::*;

/// A FIFO single server: request `stall_seq` takes `stall`, others `service`.
#[derive(Debug)]
struct FifoServer {
    queue: tokio::sync::Mutex<()>,
    service: Duration,
    stall: Duration,
    stall_seq: u64,
}

#[derive(Debug, Clone)]
struct Fifo(Arc<FifoServer>);

impl Fifo {
    fn new(service: Duration, stall: Duration, stall_seq: u64) -> Fifo {
        Fifo(Arc::new(FifoServer {
            queue: tokio::sync::Mutex::new(()),
            service,
            stall,
            stall_seq,
        }))
    }

    fn service_of(&self, seq: u64) -> Duration {
        if seq == self.0.stall_seq {
            self.0.stall
        } else {
            self.0.service
        }
    }
}

impl Target for Fifo {
    fn call(&self, seq: u64) -> CallFuture {
        let service = self.service_of(seq);
        let server = Arc::clone(&self.0);
        Box::pin(async move {
            // tokio's Mutex is fair (FIFO), like a single-threaded server.
            let _turn = server.queue.lock().await;
            tokio::time::sleep(service).await;
            Outcome::Ok
        })
    }
}

fn config(mode: Mode, warmup: Duration, duration: Duration) -> RunConfig {
    RunConfig {
        mode,
        warmup,
        duration,
        request_timeout: Duration::from_secs(10),
        drain: Duration::from_secs(11),
        progress: false,
        pacing: Pacing::Tokio,
    }
}

/// The reference model: corrected latencies of a FIFO server fed on schedule.
fn reference_latencies(fifo: &Fifo, interval: Duration, count: u64) -> LatencyHistogram {
    let mut histogram = LatencyHistogram::new();
    let mut previous_done = Duration::ZERO;
    for seq in 0..count {
        let intended = interval * u32::try_from(seq).unwrap_or(u32::MAX);
        let start = intended.max(previous_done);
        let done = start + fifo.service_of(seq);
        histogram.record(done - intended);
        previous_done = done;
    }
    histogram
}

/// Asserts two latencies agree within 1 ms plus the histogram's 0.1 %
/// (tokio's timer has millisecond ticks).
fn assert_close(what: &str, actual_us: u64, expected_us: u64) {
    let tolerance = 1_000 + expected_us / 1000;
    assert!(
        actual_us.abs_diff(expected_us) <= tolerance,
        "{what}: {actual_us} µs, expected {expected_us} µs"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stall_is_charged_to_every_request_scheduled_behind_it() {
    // 100 requests/s for 2 s; request 50 (intended at 500 ms) stalls the
    // server for 200 ms. One request in flight at most: the case where a
    // closed-loop tool would simply not send during the stall.
    let fifo = Fifo::new(Duration::from_millis(1), Duration::from_millis(200), 50);
    let mode = Mode::Open {
        rate: 100.0,
        max_in_flight: 1,
    };
    let results = run(
        Arc::new(fifo.clone()),
        config(mode, Duration::ZERO, Duration::from_secs(2)),
        |_| {},
    )
    .await;
    assert_eq!(results.ok, 200);
    assert!(results.errors.is_empty());
    assert_eq!(results.unfinished, 0);

    let expected = reference_latencies(&fifo, Duration::from_millis(10), 200);
    let actual = results.latency.percentiles();
    let reference = expected.percentiles();
    for (name, a, e) in [
        ("p50", actual.p50_us, reference.p50_us),
        ("p90", actual.p90_us, reference.p90_us),
        ("p99", actual.p99_us, reference.p99_us),
        ("p999", actual.p999_us, reference.p999_us),
        ("max", actual.max_us, reference.max_us),
    ] {
        assert_close(name, a, e);
    }
    // The reference itself: the stall pushes the 90th percentile to
    // about 20 ms and the 99th to about 190 ms…
    assert!(reference.p90_us > 10_000, "{reference:?}");
    assert!(reference.p99_us > 150_000, "{reference:?}");
    // …while the time from sending shows one slow request among 200:
    // its 99th percentile is the 1 ms service time.
    let service = results.service.percentiles();
    assert_close("service p99", service.p99_us, 1_000);
    assert_close("service max", service.max_us, 200_000);
}

#[tokio::test(start_paused = true)]
async fn without_an_in_flight_bound_requests_queue_in_the_server_and_are_charged_the_same() {
    let fifo = Fifo::new(Duration::from_millis(1), Duration::from_millis(200), 50);
    let mode = Mode::Open {
        rate: 100.0,
        max_in_flight: 10_000,
    };
    let results = run(
        Arc::new(fifo.clone()),
        config(mode, Duration::ZERO, Duration::from_secs(2)),
        |_| {},
    )
    .await;
    assert_eq!(results.ok, 200);
    let expected = reference_latencies(&fifo, Duration::from_millis(10), 200).percentiles();
    let actual = results.latency.percentiles();
    assert_close("p90", actual.p90_us, expected.p90_us);
    assert_close("p99", actual.p99_us, expected.p99_us);
    // Sent on schedule: here the wait happens in the server, so the time
    // from sending equals the time from the intended start.
    let service = results.service.percentiles();
    assert_close("service p99", service.p99_us, expected.p99_us);
}

#[tokio::test(start_paused = true)]
async fn warm_up_requests_are_counted_but_not_recorded() {
    // The stall falls in the warm-up: the measured window sees none of it.
    let fifo = Fifo::new(Duration::from_millis(1), Duration::from_millis(200), 20);
    let mode = Mode::Open {
        rate: 100.0,
        max_in_flight: 1,
    };
    let results = run(
        Arc::new(fifo),
        config(mode, Duration::from_secs(1), Duration::from_secs(1)),
        |_| {},
    )
    .await;
    assert_eq!(results.warmup_requests, 100);
    assert_eq!(results.ok, 100);
    assert_eq!(results.scheduled, 100);
    let p = results.latency.percentiles();
    assert_close("max", p.max_us, 1_000);
    assert!((results.throughput() - 100.0).abs() < 0.01);
}

#[tokio::test(start_paused = true)]
async fn closed_loop_runs_its_workers_for_the_window_and_reports_throughput() {
    // 4 workers against a server with 4 ms per request and no queue
    // contention between them: each worker does 250 requests/s.
    #[derive(Debug)]
    struct Parallel;
    impl Target for Parallel {
        fn call(&self, seq: u64) -> CallFuture {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(4)).await;
                if seq % 10 == 9 {
                    Outcome::error("Throttling")
                } else {
                    Outcome::Ok
                }
            })
        }
    }
    let results = run(
        Arc::new(Parallel),
        config(
            Mode::Closed { concurrency: 4 },
            Duration::from_millis(500),
            Duration::from_secs(2),
        ),
        |_| {},
    )
    .await;
    let measured = results.measured();
    // 4 workers × 2 s / 4 ms = 2000 requests (± one per worker at the edges).
    assert!((1990..=2010).contains(&measured), "{measured}");
    let throttled = results.errors.get("Throttling").copied().unwrap_or(0);
    assert!((190..=210).contains(&throttled), "{throttled}");
    assert_eq!(results.ok + throttled, measured);
    assert!((results.throughput() - results.ok as f64 / 2.0).abs() < 1e-9);
    assert_close("p50", results.latency.percentiles().p50_us, 4_000);
    assert!(results.warmup_requests >= 490 && results.warmup_requests <= 510);
}

#[tokio::test(start_paused = true)]
async fn calls_that_exceed_the_timeout_are_errors_and_the_run_stays_bounded() {
    #[derive(Debug)]
    struct Hang;
    impl Target for Hang {
        fn call(&self, _seq: u64) -> CallFuture {
            Box::pin(std::future::pending())
        }
    }
    let mut run_config = config(
        Mode::Open {
            rate: 10.0,
            max_in_flight: 100,
        },
        Duration::ZERO,
        Duration::from_secs(1),
    );
    run_config.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let mut edges = Vec::new();
    let results = run(Arc::new(Hang), run_config, |edge| edges.push(edge)).await;
    assert_eq!(results.ok, 0);
    assert_eq!(results.errors.get("timeout").copied(), Some(10));
    assert!(Instant::now() - started < Duration::from_secs(2));
    assert_eq!(edges, vec![WindowEdge::Start, WindowEdge::End]);
}

#[tokio::test(start_paused = true)]
async fn the_schedule_does_not_wait_for_answers() {
    // Every answer takes 1 s; at 50/s with no in-flight bound, requests are
    // still sent on schedule (time from intended start to send is zero).
    #[derive(Debug)]
    struct Slow;
    impl Target for Slow {
        fn call(&self, _seq: u64) -> CallFuture {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Outcome::Ok
            })
        }
    }
    let results = run(
        Arc::new(Slow),
        config(
            Mode::Open {
                rate: 50.0,
                max_in_flight: 1000,
            },
            Duration::ZERO,
            Duration::from_secs(1),
        ),
        |_| {},
    )
    .await;
    assert_eq!(results.ok, 50);
    let latency = results.latency.percentiles();
    let service = results.service.percentiles();
    assert_close("p50", latency.p50_us, 1_000_000);
    assert_close("max", latency.max_us, 1_000_000);
    assert_eq!(latency.p50_us, service.p50_us);
}
