//! `natrium bench compare --jetstream`: natrium-server against the newest nats-server, both
//! with `-js -sd <tmp>`, written into the JetStream section without touching the core one.

mod support;

use natrium_test_support::reference::latest_binary_or_skip;
use support::{NATRIUM, NATRIUM_SERVER};

#[tokio::test(flavor = "multi_thread")]
async fn jetstream_rows_run_against_both_servers_in_their_own_section() {
    let Some(latest) = latest_binary_or_skip("bench compare --jetstream") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("BENCHMARKS.md");
    let core = "# Benchmarks\n\n## natrium-server vs nats-server\n\ncore table\n";
    std::fs::write(&file, core).expect("seed file");
    let output = tokio::time::timeout(
        support::BOUND * 4,
        tokio::process::Command::new(NATRIUM)
            .args(["bench", "compare", "--jetstream", "--rounds", "1"])
            .args(["--scale", "0.002"])
            .arg("--natrium-server")
            .arg(NATRIUM_SERVER)
            .arg("--nats-server-latest")
            .arg(&latest)
            .arg("--write")
            .arg(&file)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("compare finished in time")
    .expect("compare ran");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    let text = std::fs::read_to_string(&file).expect("read result");
    assert!(text.starts_with(core), "core section kept: {text}");
    assert!(
        text.contains("## JetStream: natrium-server vs nats-server"),
        "{text}"
    );
    // The reference is named by its version (its file name depends on how it was installed).
    assert!(text.contains("against nats-server: v2."), "{text}");
    for row in [
        "| JetStream publish, file, async (256 acks in flight), 128 B | msgs/s |",
        "| JetStream publish, memory, sync (one ack at a time), 16 B | msgs/s |",
        "| JetStream publish, file, async (256 acks in flight), 128 B, raw client | msgs/s |",
        "| JetStream consume, file, explicit ack, 128 B | msgs/s received |",
        "| JetStream consume, memory, no ack, 128 B | msgs/s received |",
        "| JetStream ordered consumer, file, 128 B, raw client | msgs/s received |",
        "| Key-Value put, 16 B values, 1,000 keys | operations/s |",
        "| Key-Value get, 16 B values, 1,000 keys | operations/s |",
        "| Key-Value watch, 16 B values, one key per put | operations/s |",
        "| Object store put, 8 MiB objects | MiB/s |",
        "| Object store get, 8 MiB objects | MiB/s |",
        "| Object store put, 8 MiB objects, chunks pipelined (as nats.go), raw client | MiB/s |",
        "| Object store get, 8 MiB objects, raw client | MiB/s |",
    ] {
        assert!(text.contains(row), "missing {row}: {text}");
    }
    // The chart next to the file has a bar per row of the table.
    assert!(
        text.contains("![natrium-server's advantage per row](docs/bench-jetstream.svg)"),
        "{text}"
    );
    let chart = std::fs::read_to_string(dir.path().join("docs/bench-jetstream.svg"))
        .expect("the chart is written");
    let rows = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload"))
        .count();
    // Each bar's label is "workload — metric  ratio×".
    assert_eq!(chart.matches(" — ").count(), rows, "{chart}");
    assert!(chart.contains("Key-Value get, 16 B values, 1,000 keys — operations/s  "));
    assert!(text.contains("no loss"), "{text}");
    assert!(!text.contains("| failed"), "{text}");
    assert!(!text.contains("publish only, 16 B"), "no core rows: {text}");
}
