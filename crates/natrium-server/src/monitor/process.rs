//! Process memory and CPU for `/varz` (`mem`, `cpu`), read from `/proc/self` on Linux; zero
//! elsewhere.
//!
//! `cpu` is a percentage of one core over the last sampling window (at least a second, as
//! nats-server samples), so a burst shows up in the next request rather than being averaged
//! over the process's whole life.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Kernel clock ticks per second for `utime`/`stime` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Bytes per page for `statm` (4 KiB on the platforms natrium-server runs on).
const PAGE_SIZE: u64 = 4096;
/// The shortest window `cpu` is computed over.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// One reading.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Usage {
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
    /// CPU use, percent of one core, one decimal.
    pub cpu_percent: f64,
}

#[derive(Debug)]
struct Sample {
    at: Instant,
    cpu_ticks: u64,
    cpu_percent: f64,
}

/// Keeps the previous CPU sample to compute the next percentage from.
#[derive(Debug)]
pub(crate) struct ProcessSampler {
    last: Mutex<Sample>,
}

impl ProcessSampler {
    pub(crate) fn new() -> Self {
        ProcessSampler {
            last: Mutex::new(Sample {
                at: Instant::now(),
                cpu_ticks: cpu_ticks().unwrap_or(0),
                cpu_percent: 0.0,
            }),
        }
    }

    /// Current memory, and CPU over the last window (recomputed once the window is a second
    /// old).
    pub(crate) fn usage(&self) -> Usage {
        let mut last = self.last.lock();
        let elapsed = last.at.elapsed();
        if elapsed >= MIN_WINDOW
            && let Some(ticks) = cpu_ticks()
        {
            let busy = ticks.saturating_sub(last.cpu_ticks) as f64 / TICKS_PER_SECOND;
            let percent = busy / elapsed.as_secs_f64() * 100.0;
            *last = Sample {
                at: Instant::now(),
                cpu_ticks: ticks,
                cpu_percent: (percent * 10.0).round() / 10.0,
            };
        }
        Usage {
            rss_bytes: rss_bytes().unwrap_or(0),
            cpu_percent: last.cpu_percent,
        }
    }
}

/// User plus system CPU time of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after its closing parenthesis
    // start at field 3, so utime (14) and stime (15) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size from `/proc/self/statm` (second field, in pages).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE_SIZE)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(rss_bytes().is_some_and(|b| b > 0));
        assert!(cpu_ticks().is_some());
        let usage = ProcessSampler::new().usage();
        assert!(usage.rss_bytes > 0);
        assert!(usage.cpu_percent >= 0.0);
    }
}
