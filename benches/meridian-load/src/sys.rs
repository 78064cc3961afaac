//! Process CPU time and the load average, read from /proc (Linux).
//!
//! Server CPU per request is measured from outside the servers: the
//! user + system time of each server process (all its threads: fields 14
//! and 15 of `/proc/<pid>/stat`, in clock ticks) at the start and at the end
//! of the measured window. The resolution is one tick (10 ms at the usual
//! 100 Hz), which over a window of several CPU-seconds is well under 1 %.
//! The load generator's own time is read the same way from `/proc/self`,
//! because on a shared 2-core machine every cycle the client spends is one
//! the servers do not get.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// User + system CPU time of a process (all threads), or `None` when the
/// process is gone or the file cannot be read.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_from_stat(&stat, rustix::param::clock_ticks_per_second())
}

/// Parses the CPU time out of a `/proc/<pid>/stat` line.
pub fn cpu_from_stat(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may contain spaces
    // or parentheses itself; everything after the last ')' is numeric.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    // After ')': field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    if ticks_per_second == 0 {
        return None;
    }
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_secs_f64(
        ticks as f64 / ticks_per_second as f64,
    ))
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_loadavg(&text)
}

/// Parses `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace();
    Some([
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
    ])
}

/// CPU used by a set of processes over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// The processes (as given).
    pub pids: Vec<String>,
    /// CPU seconds they used in the window (processes that vanished count
    /// for what they used until their last reading).
    pub seconds: f64,
}

/// Readings of several processes at the start of a window.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    pids: Vec<String>,
    start: Vec<Option<Duration>>,
}

impl CpuMeter {
    /// Starts measuring `pids` (`self` is this process).
    pub fn start(pids: &[String]) -> CpuMeter {
        CpuMeter {
            pids: pids.to_vec(),
            start: pids.iter().map(|pid| process_cpu(pid)).collect(),
        }
    }

    /// The CPU used since [`CpuMeter::start`].
    pub fn stop(&self) -> CpuUsage {
        let seconds = self
            .pids
            .iter()
            .zip(&self.start)
            .filter_map(|(pid, start)| Some(process_cpu(pid)?.saturating_sub((*start)?)))
            .map(|used| used.as_secs_f64())
            .sum();
        CpuUsage {
            pids: self.pids.clone(),
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_awkward_command_names_parse() {
        // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime …
        let cases = [
            (
                "4242 (meridian) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0",
                Some(3.0),
            ),
            ("7 (a) b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 3 4", Some(0.03)),
            ("7 (x) R 1 2", None),
            ("no parenthesis", None),
        ];
        for (line, expected) in cases {
            let parsed = cpu_from_stat(line, 100).map(|d| d.as_secs_f64());
            match (parsed, expected) {
                (Some(p), Some(e)) => assert!((p - e).abs() < 1e-9, "{line}: {p}"),
                (p, e) => assert_eq!(p, e, "{line}"),
            }
        }
    }

    #[test]
    fn this_process_uses_cpu_and_a_busy_loop_is_measured() {
        let meter = CpuMeter::start(&["self".to_owned(), "999999999".to_owned()]);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(120) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = meter.stop();
        // At least one tick (other test threads of this process may add
        // more, so there is no upper bound here); the missing pid adds 0.
        assert!(used.seconds > 0.0, "{used:?}");
        assert!(used.seconds.is_finite());
        assert_eq!(used.pids.len(), 2);
    }

    #[test]
    fn loadavg_parses() {
        assert_eq!(
            parse_loadavg("1.62 2.14 2.99 3/512 12345\n"),
            Some([1.62, 2.14, 2.99])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        assert!(load_average().is_some());
    }
}
