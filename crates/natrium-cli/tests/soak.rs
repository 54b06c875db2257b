//! The short soak (the CI version of `natrium bench soak`): 30 s of churn, pub/sub,
//! request/reply, a slow consumer, clients vanishing mid-frame, reloads and JetStream
//! against the embedded natrium-server, with every loss and leak check on.
//!
//! RSS gets a loose limit here: 30 s is mostly warm-up, where caches and the store still
//! grow; the RSS slope is judged on the long runs recorded in RELIABILITY.md. The loss
//! detector and the failing summary are unit tests in `src/bench/soak.rs`.

mod support;

use std::time::Duration;

use support::{NATRIUM, stderr};

#[tokio::test(flavor = "multi_thread")]
async fn thirty_second_soak_loses_nothing_and_leaks_nothing() {
    let mut command = tokio::process::Command::new(NATRIUM);
    command
        .args([
            "bench",
            "soak",
            "--duration",
            "30s",
            "--warmup",
            "10s",
            "--interval",
            "2s",
            "--clients",
            "100",
            "--max-rss-slope",
            "256",
        ])
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(150), command.output())
        .await
        .expect("the soak finished in time")
        .expect("natrium runs");
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    let log = stderr(&output);
    assert!(output.status.success(), "soak failed:\n{table}\n{log}");
    for check in [
        "core published / lost",
        "JetStream acked / lost",
        "slow consumers cut / not cut",
        "vanished mid-frame / half frames delivered",
        "open fds floor growth",
        "tasks floor growth",
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(check))
            .unwrap_or_else(|| panic!("no {check:?} row:\n{table}"));
        assert!(row.contains(" ok "), "{row}");
    }
    // The run did real work: something was cut, acked and reloaded.
    assert!(
        !table.contains("slow consumers cut / not cut                 ok   0 /"),
        "{table}"
    );
    assert!(
        !table.contains("JetStream acked / lost                       ok   0 /"),
        "{table}"
    );
}
