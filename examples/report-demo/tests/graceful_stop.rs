//! A saver stopped with SIGTERM in the middle of a load saves every message it had taken
//! from NATS; the other saver in the queue group takes the rest.
//!
//! What it does not assert: that no report at all is lost. async-nats 0.51 forgets a drained
//! subscription on its next poll after sending UNSUB+PING instead of at the PONG, so the few
//! messages the server routed to the stopping saver just before it processed the UNSUB are
//! dropped inside the client, before natrium sees them (the same happens with nats-server).
//! The test prints that number; core NATS is at-most-once anyway.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use report_demo::config::CodecName;
use report_demo::store::Store;
use support::{
    Nats, assert_at_most_once, post_reports, start_report, start_saver, test_config, unique,
    wait_for_rows,
};

const REPORTS: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_load_saves_everything_the_saver_received() {
    let mut nats = Nats::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(&nats.url(), CodecName::Protobuf, dir.path(), None);

    // Saver A: a child process, configured by a TOML file plus an environment override.
    let config_file = dir.path().join("saver.toml");
    std::fs::write(
        &config_file,
        format!(
            "[server.stats]\naddr = \"127.0.0.1:0\"\n[data.nats]\naddrs = [\"{}\"]\ncodec = \"protobuf\"\n",
            nats.url()
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_report-demo"))
        .arg("--config")
        .arg(&config_file)
        .arg("saver")
        .env("REPORT_DATA_DATABASE_URL", &config.data.database.url)
        .env("REPORT_DATA_NATS_MODE", "core")
        .env("REPORT_REGISTRY_KIND", "none")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn report-demo saver");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let stats_url = loop {
        let line = stdout
            .next()
            .expect("saver prints its stats URL")
            .expect("read");
        if let Some(url) = line.strip_prefix("saver stats: ") {
            break url.to_owned();
        }
    };

    // Saver B in-process, then the report API.
    let other = start_saver(&config).await;
    let (report, base) = start_report(&config).await;

    let name = unique("sigterm");
    let load = tokio::spawn({
        let (base, name) = (base.clone(), name.clone());
        async move { post_reports(&base, &name, REPORTS, 32).await }
    });

    // Once A is busy saving, stop it.
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let stats: serde_json::Value = client
            .get(&stats_url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        if stats["saved"].as_u64().unwrap_or(0) >= 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "saver A never got busy: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());

    let final_line = tokio::task::spawn_blocking(move || {
        let line = stdout
            .find_map(|l| {
                l.ok()
                    .and_then(|l| l.strip_prefix("final stats: ").map(str::to_owned))
            })
            .expect("saver prints its final stats when it stops");
        let status = child.wait().expect("wait");
        (line, status)
    });
    let (line, status) = tokio::time::timeout(Duration::from_secs(30), final_line)
        .await
        .expect("saver A stops within 30 s of SIGTERM")
        .expect("join");
    assert!(status.success(), "saver A exits 0 after SIGTERM: {status}");
    let a: serde_json::Value = serde_json::from_str(&line).expect("final stats JSON");

    assert_eq!(load.await.expect("load"), REPORTS, "every POST accepted");
    // A saved every message it took from NATS.
    let a_saved = a["saved"].as_u64().expect("saved");
    assert_eq!(a["received_from_nats"], a["saved"], "A: {a}");
    assert_eq!(a["failed"], 0, "A: {a}");
    assert!(
        a_saved >= 200 && a_saved < REPORTS as u64,
        "A stopped mid-load: {a}"
    );

    // Every row is a posted report, none twice, and the rows are exactly what the two savers
    // say they saved (B is stopped first so its counters are final).
    report.stop().await.expect("report stops");
    other.running.stop().await.expect("saver B stops");
    let b = other.saver.stats().snapshot();
    let store = Store::open(&config.data.database.url).await.expect("open");
    let saved = usize::try_from(a_saved + b.saved).expect("count");
    let rows = wait_for_rows(&store, &name, saved, Duration::from_secs(30)).await;
    assert_eq!(rows.len(), saved, "A {a}, B {b:?}");
    assert_at_most_once(&rows, REPORTS);
    eprintln!(
        "graceful stop: A saved {a_saved}, B saved {}, dropped in the async-nats drain window: {}",
        b.saved,
        REPORTS - saved
    );

    nats.shutdown().await;
}
