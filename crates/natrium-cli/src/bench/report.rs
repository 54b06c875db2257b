//! What a benchmark run measured: per-client and aggregate rates, latency percentiles,
//! message accounting (expected vs received), and how it is printed for people.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Bytes in a mebibyte; rates are reported in MiB/s.
const MIB: f64 = 1024.0 * 1024.0;

/// The start and end of one client's activity.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// When the client sent or received its first message.
    pub start: Instant,
    /// When the client finished (last message received, or flush confirmed).
    pub end: Instant,
}

impl Span {
    /// The smallest span covering all `spans`, or `None` if there are none.
    pub fn covering(spans: impl IntoIterator<Item = Span>) -> Option<Span> {
        spans.into_iter().reduce(|a, b| Span {
            start: a.start.min(b.start),
            end: a.end.max(b.end),
        })
    }

    /// The span's length.
    pub fn duration(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// Messages and bytes moved over some time, with the derived rates.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    /// Messages sent or received.
    pub msgs: u64,
    /// Payload bytes sent or received.
    pub bytes: u64,
    /// Seconds between the first and the last message.
    pub secs: f64,
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// Payload mebibytes per second.
    pub mib_per_sec: f64,
}

impl Rate {
    /// The rate of `msgs` messages and `bytes` bytes over `elapsed`.
    pub fn new(msgs: u64, bytes: u64, elapsed: Duration) -> Rate {
        let secs = elapsed.as_secs_f64();
        let per_sec = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
        Rate {
            msgs,
            bytes,
            secs,
            msgs_per_sec: per_sec(msgs as f64),
            mib_per_sec: per_sec(bytes as f64) / MIB,
        }
    }
}

/// What one client (publisher, subscriber, requester) did.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// Messages sent or received.
    pub msgs: u64,
    /// Payload bytes sent or received.
    pub bytes: u64,
    /// When it was active; `None` if it never saw a message.
    pub span: Option<Span>,
}

impl ClientRun {
    /// The client's own rate (zero if it saw nothing).
    pub fn rate(&self) -> Rate {
        Rate::new(
            self.msgs,
            self.bytes,
            self.span.map(|s| s.duration()).unwrap_or_default(),
        )
    }
}

/// The aggregate over a group of clients: all their messages over the span covering them all.
pub fn aggregate(clients: &[ClientRun]) -> Rate {
    let msgs = clients.iter().map(|c| c.msgs).sum();
    let bytes = clients.iter().map(|c| c.bytes).sum();
    let span = Span::covering(clients.iter().filter_map(|c| c.span));
    Rate::new(msgs, bytes, span.map(|s| s.duration()).unwrap_or_default())
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest sample.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    /// Summarises a histogram of nanosecond samples.
    pub fn from_histogram(histogram: &hdrhistogram::Histogram<u64>) -> Latency {
        let us = |ns: u64| ns as f64 / 1_000.0;
        Latency {
            samples: histogram.len(),
            p50_us: us(histogram.value_at_quantile(0.50)),
            p90_us: us(histogram.value_at_quantile(0.90)),
            p99_us: us(histogram.value_at_quantile(0.99)),
            max_us: us(histogram.max()),
            mean_us: histogram.mean() / 1_000.0,
        }
    }
}

/// The server's memory while holding idle connections.
#[derive(Debug, Clone, Serialize)]
pub struct IdleMemory {
    /// Idle client connections held open.
    pub clients: u64,
    /// Seconds it took to open all of them.
    pub connect_secs: f64,
    /// Server resident set size before the clients connected, in KiB (if `--server-pid`).
    pub rss_before_kib: Option<u64>,
    /// Server resident set size with all clients connected, in KiB (if `--server-pid`).
    pub rss_after_kib: Option<u64>,
    /// Extra resident memory per connection, in KiB (if `--server-pid`).
    pub kib_per_client: Option<f64>,
}

/// Everything one benchmark run measured; printed as a table or as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Workload name (`pub`, `pubsub`, `queue`, `req`, `subjects`, `idle`, ...).
    pub workload: String,
    /// Server URL.
    pub server: String,
    /// Client implementation used for publishers and subscribers (`nats` or `raw`).
    pub client: String,
    /// Payload size in bytes.
    pub size: usize,
    /// Per-publisher (or requester) rates.
    pub publishers: Vec<Rate>,
    /// Per-subscriber (or responder) rates.
    pub subscribers: Vec<Rate>,
    /// All publishers together.
    pub publish_aggregate: Option<Rate>,
    /// All subscribers together.
    pub subscribe_aggregate: Option<Rate>,
    /// Messages that should have been received (subscribers) or answered (requests).
    pub expected: u64,
    /// Messages that were received or answered.
    pub received: u64,
    /// `expected - received`: a non-zero value means the run lost messages.
    pub lost: u64,
    /// Request/reply latency.
    pub latency: Option<Latency>,
    /// Idle connection memory.
    pub idle: Option<IdleMemory>,
    /// Slow-consumer events the client library reported (messages it dropped locally).
    pub client_slow_consumer_events: u64,
}

impl Report {
    /// An empty report for `workload`, to be filled in by the workload.
    pub fn new(workload: &str, server: &str, client: &str, size: usize) -> Report {
        Report {
            workload: workload.to_owned(),
            server: server.to_owned(),
            client: client.to_owned(),
            size,
            publishers: Vec::new(),
            subscribers: Vec::new(),
            publish_aggregate: None,
            subscribe_aggregate: None,
            expected: 0,
            received: 0,
            lost: 0,
            latency: None,
            idle: None,
            client_slow_consumer_events: 0,
        }
    }

    /// Records the publishers' runs and their aggregate.
    pub fn set_publishers(&mut self, runs: &[ClientRun]) {
        self.publishers = runs.iter().map(ClientRun::rate).collect();
        self.publish_aggregate = Some(aggregate(runs));
    }

    /// Records the subscribers' runs, their aggregate and the loss accounting.
    pub fn set_subscribers(&mut self, runs: &[ClientRun], expected: u64) {
        self.subscribers = runs.iter().map(ClientRun::rate).collect();
        self.subscribe_aggregate = Some(aggregate(runs));
        self.set_accounting(expected, runs.iter().map(|r| r.msgs).sum());
    }

    /// Records how many messages were expected and how many arrived.
    pub fn set_accounting(&mut self, expected: u64, received: u64) {
        self.expected = expected;
        self.received = received;
        self.lost = expected.saturating_sub(received);
    }

    /// A human-readable table of the run.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "natrium bench {} against {} ({} client, {} B payload)",
            self.workload, self.server, self.client, self.size
        );
        let mut rows = |role: &str, rates: &[Rate], total: &Option<Rate>| {
            if rates.len() > 1 {
                for (i, rate) in rates.iter().enumerate() {
                    let _ = writeln!(out, "  {}", rate_line(&format!("{role} #{}", i + 1), rate));
                }
            }
            if let Some(total) = total {
                let _ = writeln!(out, "  {}", rate_line(&format!("{role}s (all)"), total));
            }
        };
        let (pub_role, sub_role) = if self.workload == "req" {
            ("requester", "responder")
        } else {
            ("publisher", "subscriber")
        };
        rows(pub_role, &self.publishers, &self.publish_aggregate);
        rows(sub_role, &self.subscribers, &self.subscribe_aggregate);
        if let Some(latency) = &self.latency {
            let _ = writeln!(
                out,
                "  latency: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} samples)",
                latency.p50_us, latency.p90_us, latency.p99_us, latency.max_us, latency.samples
            );
        }
        if let Some(idle) = &self.idle {
            let _ = writeln!(
                out,
                "  {} idle clients connected in {:.2} s",
                idle.clients, idle.connect_secs
            );
            match (idle.rss_before_kib, idle.rss_after_kib, idle.kib_per_client) {
                (Some(before), Some(after), Some(per)) => {
                    let _ = writeln!(
                        out,
                        "  server RSS: {before} KiB before, {after} KiB after ({per:.1} KiB per client)"
                    );
                }
                _ => {
                    let _ = writeln!(out, "  server RSS: unknown (pass --server-pid PID)");
                }
            }
        }
        if self.expected > 0 {
            let verdict = if self.lost == 0 {
                "no loss".to_owned()
            } else {
                format!("LOST {} MESSAGES", self.lost)
            };
            let _ = writeln!(
                out,
                "  messages: expected {}, received {} — {verdict}",
                self.expected, self.received
            );
        }
        if self.client_slow_consumer_events > 0 {
            let _ = writeln!(
                out,
                "  client library reported {} slow-consumer events (it dropped messages)",
                self.client_slow_consumer_events
            );
        }
        out
    }
}

fn rate_line(label: &str, rate: &Rate) -> String {
    format!(
        "{label:<18} {:>14} msgs/s {:>10.2} MiB/s  ({} msgs in {:.3} s)",
        group_thousands(rate.msgs_per_sec.round() as u64),
        rate.mib_per_sec,
        rate.msgs,
        rate.secs
    )
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_aggregates() {
        let t0 = Instant::now();
        let runs = [
            ClientRun {
                msgs: 100,
                bytes: 1600,
                span: Some(Span {
                    start: t0,
                    end: t0 + Duration::from_secs(1),
                }),
            },
            ClientRun {
                msgs: 100,
                bytes: 1600,
                span: Some(Span {
                    start: t0 + Duration::from_secs(1),
                    end: t0 + Duration::from_secs(2),
                }),
            },
        ];
        assert_eq!(runs[0].rate().msgs_per_sec, 100.0);
        let total = aggregate(&runs);
        assert_eq!(total.msgs, 200);
        assert_eq!(total.msgs_per_sec, 100.0);
    }

    #[test]
    fn loss_is_counted() {
        let mut report = Report::new("pubsub", "nats://x", "nats", 16);
        report.set_accounting(10, 7);
        assert_eq!(report.lost, 3);
        assert!(report.to_table().contains("LOST 3 MESSAGES"));
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(12345678), "12,345,678");
    }
}
