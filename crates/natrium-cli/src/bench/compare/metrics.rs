//! What a comparison run measures: the samples and problems of the rounds, the metrics of
//! each kind of row, and their medians.

use std::time::Duration;

use serde::Serialize;

use super::cases::CaseKind;
use crate::bench::report::Report;

/// One measured number.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Sample {
    pub(super) case: &'static str,
    pub(super) metric: &'static str,
    pub(super) server: &'static str,
    pub(super) round: u32,
    pub(super) value: f64,
}

/// What went wrong in one run (a failed run or lost messages).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Problem {
    pub(super) case: &'static str,
    pub(super) server: &'static str,
    pub(super) round: u32,
    pub(super) what: String,
}

/// What one workload run against one server measured.
pub(super) struct Run {
    pub(super) report: Report,
    /// CPU time the server process used during the run, when the OS tells.
    pub(super) server_cpu: Option<Duration>,
}

impl Run {
    /// Server CPU nanoseconds per message of `count`.
    fn cpu_ns_per(&self, count: u64) -> Option<f64> {
        let cpu = self.server_cpu?;
        (count > 0).then(|| cpu.as_nanos() as f64 / count as f64)
    }
}

/// A metric of a case: its label, whether higher is better, and how to read it off a run.
pub(super) struct Metric {
    pub(super) label: &'static str,
    pub(super) higher_is_better: bool,
    pub(super) read: fn(&Run) -> Option<f64>,
}

/// Label of the server-efficiency metric: CPU per message does not depend on how fast the
/// client is, so it compares the servers even where the client is the bottleneck.
pub(super) const CPU_PER_MESSAGE: &str = "server CPU ns per message";

/// The metrics of a kind of row, in table order.
pub(super) fn metrics(kind: CaseKind) -> Vec<Metric> {
    let pub_rate = |r: &Run| r.report.publish_aggregate.as_ref().map(|a| a.msgs_per_sec);
    let sub_rate = |r: &Run| {
        r.report
            .subscribe_aggregate
            .as_ref()
            .map(|a| a.msgs_per_sec)
    };
    let sub_mib = |r: &Run| r.report.subscribe_aggregate.as_ref().map(|a| a.mib_per_sec);
    let p50 = |r: &Run| r.report.latency.as_ref().map(|l| l.p50_us);
    let p99 = |r: &Run| r.report.latency.as_ref().map(|l| l.p99_us);
    // Per message published (publish only) or delivered (everything else).
    let cpu_per_published = |r: &Run| {
        let published = r.report.publish_aggregate.as_ref().map(|a| a.msgs)?;
        r.cpu_ns_per(published)
    };
    let cpu_per_delivered = |r: &Run| r.cpu_ns_per(r.report.received);
    let higher = |label, read| Metric {
        label,
        higher_is_better: true,
        read,
    };
    let lower = |label, read| Metric {
        label,
        higher_is_better: false,
        read,
    };
    match kind {
        CaseKind::Publish { .. } | CaseKind::JsPublish { sync: false, .. } => vec![
            higher("msgs/s", pub_rate),
            lower(CPU_PER_MESSAGE, cpu_per_published),
        ],
        CaseKind::JsPublish { sync: true, .. } => vec![
            higher("msgs/s", pub_rate),
            lower("ack p50 µs", p50),
            lower(CPU_PER_MESSAGE, cpu_per_published),
        ],
        CaseKind::FanOut { size, .. } if size >= 1024 => vec![
            higher("msgs/s received", sub_rate),
            higher("MiB/s received", sub_mib),
            lower(CPU_PER_MESSAGE, cpu_per_delivered),
        ],
        CaseKind::FanOut { .. }
        | CaseKind::Queue { .. }
        | CaseKind::Subjects { .. }
        | CaseKind::JsConsume(_) => vec![
            higher("msgs/s received", sub_rate),
            lower(CPU_PER_MESSAGE, cpu_per_delivered),
        ],
        CaseKind::Kv { .. } => vec![
            higher("operations/s", pub_rate),
            lower("server CPU ns per operation", cpu_per_published),
        ],
        CaseKind::Object { .. } => vec![
            higher("MiB/s", |r: &Run| {
                r.report.publish_aggregate.as_ref().map(|a| a.mib_per_sec)
            }),
            lower("server CPU ms per object", |r: &Run| {
                let objects = r.report.publish_aggregate.as_ref().map(|a| a.msgs)?;
                r.cpu_ns_per(objects).map(|ns| ns / 1e6)
            }),
        ],
        CaseKind::Request { requesters: 1, .. } => vec![
            lower("p50 µs", p50),
            lower("p99 µs", p99),
            lower("server CPU ns per request", cpu_per_delivered),
        ],
        CaseKind::Request { .. } => vec![
            higher("requests/s", pub_rate),
            lower("p50 µs", p50),
            lower("p99 µs", p99),
            lower("server CPU ns per request", cpu_per_delivered),
        ],
        CaseKind::Idle { .. } => vec![
            lower("server RSS MiB", |r| {
                r.report
                    .idle
                    .as_ref()
                    .and_then(|i| i.rss_after_kib)
                    .map(|k| k as f64 / 1024.0)
            }),
            lower("KiB per client", |r| {
                r.report.idle.as_ref().and_then(|i| i.kib_per_client)
            }),
        ],
    }
}

/// The median of `values` (sorting them), `None` when empty.
pub(super) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// The median of one metric of one case on one server.
pub(super) fn median_of(samples: &[Sample], case: &str, metric: &str, server: &str) -> Option<f64> {
    let mut values: Vec<f64> = samples
        .iter()
        .filter(|s| s.case == case && s.metric == metric && s.server == server)
        .map(|s| s.value)
        .collect();
    median(&mut values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::cases::CASES;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn every_case_has_metrics_and_a_unique_name() {
        let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
        assert!(CASES.iter().all(|c| !metrics(c.kind).is_empty()));
    }
}
