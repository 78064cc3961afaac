//! The end-of-run report: a JSON summary (what scripts read) and a human
//! table (what people read), built from the same [`Summary`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::engine::RunResults;
use crate::histogram::Percentiles;

/// The JSON summary of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `meridian-load <version>`.
    pub tool: String,
    /// Free text from `--label`.
    pub label: Option<String>,
    /// `meridian`, `openbao`, `moto`.
    pub system: String,
    /// The workload name.
    pub workload: String,
    /// `open` or `closed`.
    pub mode: String,
    /// Target rate (open loop).
    pub rate_per_s: Option<f64>,
    /// In-flight bound (open loop).
    pub max_in_flight: Option<usize>,
    /// Workers (closed loop).
    pub concurrency: Option<usize>,
    /// Endpoints driven.
    pub targets: Vec<String>,
    /// Distinct callers (keys or tokens) used.
    pub callers: usize,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Measured seconds.
    pub duration_s: f64,
    /// Request counts.
    pub requests: Requests,
    /// Successful requests per second of the window.
    pub throughput_per_s: f64,
    /// Latency of successful requests from the intended start (open loop)
    /// or the start (closed loop), µs.
    pub latency_us: Percentiles,
    /// Latency from the moment the request was handed to the client, µs.
    pub service_latency_us: Percentiles,
    /// CPU of the server processes in the window.
    pub server_cpu: Option<ServerCpu>,
    /// CPU seconds this tool used in the window.
    pub loadgen_cpu_s: f64,
    /// Load average (1, 5, 15 min) at the start and end of the window.
    pub loadavg_start: Option<[f64; 3]>,
    /// See `loadavg_start`.
    pub loadavg_end: Option<[f64; 3]>,
    /// Counter deltas scraped from the targets' `/metrics` over the run,
    /// summed over nodes, by series (`name{labels}`).
    pub metrics: Option<BTreeMap<String, f64>>,
}

/// Request counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests in the window.
    pub measured: u64,
    /// Successful ones.
    pub ok: u64,
    /// Failed ones by code.
    pub errors: BTreeMap<String, u64>,
    /// Requests in the warm-up.
    pub warmup: u64,
    /// Requests unanswered at the drain deadline.
    pub unfinished: u64,
    /// Requests the schedule intended in the window (open loop).
    pub scheduled: u64,
}

/// Server CPU over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCpu {
    /// The processes measured.
    pub pids: Vec<String>,
    /// CPU seconds used in the window.
    pub seconds: f64,
    /// CPU seconds per 10,000 measured requests.
    pub seconds_per_10k: f64,
    /// CPU microseconds per measured request.
    pub us_per_request: f64,
}

impl ServerCpu {
    /// Per-request figures from `seconds` over `requests`.
    pub fn new(pids: Vec<String>, seconds: f64, requests: u64) -> ServerCpu {
        let per_request = if requests > 0 {
            seconds / requests as f64
        } else {
            0.0
        };
        ServerCpu {
            pids,
            seconds,
            seconds_per_10k: per_request * 10_000.0,
            us_per_request: per_request * 1e6,
        }
    }
}

/// The counts of `results`.
pub fn requests(results: &RunResults) -> Requests {
    Requests {
        measured: results.measured(),
        ok: results.ok,
        errors: results.errors.clone(),
        warmup: results.warmup_requests,
        unfinished: results.unfinished,
        scheduled: results.scheduled,
    }
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// The human table.
pub fn table(summary: &Summary) -> String {
    let mut out = String::new();
    let shape = match summary.mode.as_str() {
        "open" => format!(
            "open loop at {:.0}/s (≤ {} in flight)",
            summary.rate_per_s.unwrap_or_default(),
            summary.max_in_flight.unwrap_or_default()
        ),
        _ => format!(
            "closed loop, {} workers",
            summary.concurrency.unwrap_or_default()
        ),
    };
    let _ = writeln!(
        out,
        "{} {} — {shape}, {} s after {} s warm-up, {} caller(s), {}",
        summary.system,
        summary.workload,
        summary.duration_s,
        summary.warmup_s,
        summary.callers,
        summary.targets.join(" "),
    );
    if let Some(label) = &summary.label {
        let _ = writeln!(out, "label: {label}");
    }
    let r = &summary.requests;
    let errors: u64 = r.errors.values().sum();
    let _ = writeln!(
        out,
        "requests: {} in window ({} ok, {errors} errors), {} warm-up, {} unfinished",
        r.measured, r.ok, r.warmup, r.unfinished
    );
    let _ = writeln!(out, "throughput: {:.0} ok/s", summary.throughput_per_s);
    let _ = writeln!(
        out,
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    for (name, p) in [
        ("from intended start", &summary.latency_us),
        ("from send (service)", &summary.service_latency_us),
    ] {
        let _ = writeln!(
            out,
            "{name:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.3}",
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p99_us),
            ms(p.p999_us),
            ms(p.max_us),
            p.mean_us / 1000.0
        );
    }
    for (code, count) in &r.errors {
        let _ = writeln!(out, "error {code}: {count}");
    }
    if let Some(cpu) = &summary.server_cpu {
        let _ = writeln!(
            out,
            "server CPU: {:.2} s in window = {:.3} s per 10k requests = {:.1} µs per request (pids {})",
            cpu.seconds,
            cpu.seconds_per_10k,
            cpu.us_per_request,
            cpu.pids.join(",")
        );
    }
    let _ = writeln!(out, "load generator CPU: {:.2} s", summary.loadgen_cpu_s);
    if let (Some(a), Some(b)) = (summary.loadavg_start, summary.loadavg_end) {
        let _ = writeln!(
            out,
            "load average: {:.2} {:.2} {:.2} at start, {:.2} {:.2} {:.2} at end",
            a[0], a[1], a[2], b[0], b[1], b[2]
        );
    }
    if let Some(metrics) = &summary.metrics {
        for (series, delta) in metrics {
            let _ = writeln!(out, "metric {series}: +{delta}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Summary {
        Summary {
            tool: "meridian-load 0.1.0".into(),
            label: Some("test".into()),
            system: "meridian".into(),
            workload: "assume-role".into(),
            mode: "open".into(),
            rate_per_s: Some(1000.0),
            max_in_flight: Some(64),
            concurrency: None,
            targets: vec!["http://127.0.0.1:7101".into()],
            callers: 8,
            warmup_s: 1.0,
            duration_s: 5.0,
            requests: Requests {
                measured: 5000,
                ok: 4990,
                errors: BTreeMap::from([("Throttling".to_owned(), 10)]),
                warmup: 1000,
                unfinished: 0,
                scheduled: 5000,
            },
            throughput_per_s: 998.0,
            latency_us: Percentiles {
                count: 4990,
                min_us: 200,
                mean_us: 450.5,
                p50_us: 400,
                p90_us: 700,
                p99_us: 1500,
                p999_us: 2500,
                max_us: 9000,
            },
            service_latency_us: Percentiles::default(),
            server_cpu: Some(ServerCpu::new(vec!["1".into()], 2.5, 5000)),
            loadgen_cpu_s: 1.25,
            loadavg_start: Some([1.0, 2.0, 3.0]),
            loadavg_end: Some([1.5, 2.0, 3.0]),
            metrics: Some(BTreeMap::from([(
                "meridian_request_outbound_calls_total{path=\"issue\"}".to_owned(),
                0.0,
            )])),
        }
    }

    #[test]
    fn json_round_trips_and_cpu_is_per_request() {
        let summary = sample();
        let cpu = summary.server_cpu.clone().unwrap_or_else(|| panic!("cpu"));
        assert!((cpu.us_per_request - 500.0).abs() < 1e-9);
        assert!((cpu.seconds_per_10k - 5.0).abs() < 1e-9);
        let text = serde_json::to_string(&summary).unwrap_or_else(|e| panic!("{e}"));
        let back: Summary = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, summary);
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["latency_us"]["p99_us"], 1500);
        assert_eq!(value["requests"]["errors"]["Throttling"], 10);
    }

    #[test]
    fn table_shows_the_figures() {
        let table = table(&sample());
        for expected in [
            "meridian assume-role — open loop at 1000/s (≤ 64 in flight)",
            "throughput: 998 ok/s",
            "0.400",
            "1.500",
            "error Throttling: 10",
            "= 500.0 µs per request",
            "load average: 1.00 2.00 3.00 at start",
            "outbound_calls_total{path=\"issue\"}: +0",
        ] {
            assert!(table.contains(expected), "{expected} not in\n{table}");
        }
        assert_eq!(ServerCpu::new(vec![], 1.0, 0).us_per_request, 0.0);
    }
}
