//! `natrium bench compare`: the machinery (server processes, alternation, medians, markdown
//! section written in place) checked with the reference nats-server on both sides, so the
//! test does not depend on the release build of natrium-server.

mod support;

use natrium_test_support::reference::reference_binary_or_skip;
use support::{NATRIUM, NATRIUM_SERVER};

#[tokio::test(flavor = "multi_thread")]
async fn compare_writes_a_markdown_section_and_replaces_it_on_rerun() {
    let Some(nats) = reference_binary_or_skip("bench compare") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("BENCHMARKS.md");
    std::fs::write(
        &file,
        "# Benchmarks\n\nintro\n\n## natrium-server vs nats-server\n\nold\n\n## Other\n\nkept\n",
    )
    .expect("seed file");
    for _ in 0..2 {
        let output = tokio::time::timeout(
            support::BOUND * 4,
            tokio::process::Command::new(NATRIUM)
                .args(["bench", "compare", "--rounds", "2", "--scale", "0.001"])
                .args(["--only", "pub,pubsub,queue,req,subjects,idle1k"])
                .arg("--natrium-server")
                .arg(&nats)
                .arg("--nats-server")
                .arg(&nats)
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
        assert!(
            err.contains("round 2/2: 1,000 idle clients on nats-server"),
            "{err}"
        );
    }
    let text = std::fs::read_to_string(&file).expect("read result");
    assert_eq!(
        text.matches("## natrium-server vs nats-server").count(),
        1,
        "{text}"
    );
    assert!(
        text.starts_with("# Benchmarks\n\nintro\n\n## natrium-server vs nats-server\n"),
        "{text}"
    );
    assert!(text.ends_with("## Other\n\nkept\n"), "{text}");
    assert!(text.contains("| publish only, 16 B | msgs/s |"), "{text}");
    assert!(
        text.contains("| request/reply sequential, 16 B | p50 µs (lower is better) |"),
        "{text}"
    );
    assert!(
        text.contains("| 1,000 idle clients | server RSS MiB (lower is better) |"),
        "{text}"
    );
    assert!(text.contains("no loss"), "{text}");
    assert!(text.contains("### Reading these numbers"), "{text}");
    assert!(!text.contains("| failed"), "{text}");
    assert!(!text.contains("\nold\n"), "{text}");
    assert!(!text.contains(" 0.0 ["), "a zero rate was measured: {text}");
}

/// The account rows run both servers with the same `accounts` configuration: clients log in
/// as account users, and the request row's requesters reach the responders through a
/// service import.
#[tokio::test(flavor = "multi_thread")]
async fn account_rows_run_inside_an_account_and_across_accounts() {
    let Some(nats) = reference_binary_or_skip("bench compare") else {
        return;
    };
    let output = tokio::time::timeout(
        support::BOUND * 4,
        tokio::process::Command::new(NATRIUM)
            .args(["bench", "compare", "--rounds", "1", "--scale", "0.001"])
            .args(["--only", "pubsub-account,req-import"])
            .arg("--natrium-server")
            .arg(NATRIUM_SERVER)
            .arg("--nats-server")
            .arg(&nats)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("compare finished in time")
    .expect("compare ran");
    let text = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}\n{text}");
    assert!(
        text.contains("| 1 → 1, 16 B, inside account A | msgs/s received |"),
        "{text}"
    );
    assert!(
        text.contains("| request/reply sequential, 16 B, service imported from another account |"),
        "{text}"
    );
    assert!(!text.contains("| failed"), "{text}");
}
