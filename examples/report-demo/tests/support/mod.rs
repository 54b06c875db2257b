//! Shared test helpers: databases, a NATS server, unique names.
#![allow(dead_code)] // each test binary uses a different subset.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use report_demo::store::Store;

/// `REPORT_DEMO_POSTGRES_URL`, or `None` after a loud warning when running locally.
/// In CI (env `CI` set) a missing URL fails the test: the suite must not silently shrink.
pub fn postgres_url() -> Option<String> {
    match std::env::var("REPORT_DEMO_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but REPORT_DEMO_POSTGRES_URL is not: the PostgreSQL tests must run in CI"
            )
        }
        _ => {
            eprintln!(
                "\n!!! WARNING: REPORT_DEMO_POSTGRES_URL is not set, so this PostgreSQL test did NOT run.\n\
                 !!! Start PostgreSQL (apt-get install -y postgresql) and set e.g.\n\
                 !!! REPORT_DEMO_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/report_demo\n"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same database) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls the database until `event_name` has at least `want` rows or `deadline` passes, then
/// returns the rows. There is no event for "the saver committed", so a short poll bounded by a
/// deadline is the honest wait here.
pub async fn wait_for_rows(
    store: &Store,
    event_name: &str,
    want: usize,
    deadline: Duration,
) -> Vec<String> {
    let start = Instant::now();
    loop {
        let rows = store
            .event_report_data(event_name)
            .await
            .unwrap_or_else(|e| panic!("query failed: {e}"));
        if rows.len() >= want || start.elapsed() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts that `rows` is exactly `0..n` formatted as `item-{i}`, once each.
pub fn assert_exactly_once(rows: &[String], n: usize) {
    let mut seen = vec![0u32; n];
    for row in rows {
        let index = row
            .strip_prefix("item-")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < n)
            .unwrap_or_else(|| panic!("unexpected row {row:?}"));
        seen[index] += 1;
    }
    let missing: Vec<usize> = (0..n).filter(|i| seen[*i] == 0).collect();
    let doubled: Vec<usize> = (0..n).filter(|i| seen[*i] > 1).collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "{} rows for {n} reports; missing {:?}…, duplicated {:?}…",
        rows.len(),
        &missing[..missing.len().min(10)],
        &doubled[..doubled.len().min(10)]
    );
}
