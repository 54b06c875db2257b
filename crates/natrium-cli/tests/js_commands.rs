//! `natrium stream|consumer|kv|object` against the natrium-server binary and the newest
//! nats-server: the same script on both, JSON compared structurally, tables checked for their
//! key fields, and the errors a user meets.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::latest_binary_or_skip;
use serde_json::Value;
use support::{NATRIUM_SERVER, run, spawn_listening, stderr, stdout};

/// The newest nats-server (required under CI; a loud warning elsewhere).
fn latest_binary() -> Option<PathBuf> {
    latest_binary_or_skip("CLI JetStream commands")
}

/// A server process on a free loopback port (killed on drop) with its store dir.
struct Server {
    _process: ServerProcess,
    _dir: tempfile::TempDir,
    url: String,
}

/// Starts `binary` without JetStream, or with it in a temp store dir.
async fn start(binary: &Path, jetstream: bool) -> Server {
    launch(binary, None, jetstream).await
}

/// Starts `binary` with JetStream and the configuration file `config`.
async fn start_with_config(binary: &Path, config: &Path) -> Server {
    launch(binary, Some(config), true).await
}

async fn launch(binary: &Path, config: Option<&Path>, jetstream: bool) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = ServerCommand::new(binary);
    if let Some(config) = config {
        command = command.arg("-c").arg(config);
    }
    if jetstream {
        command = command.jetstream(dir.path());
    }
    let process = command.start().await.expect("server starts");
    Server {
        url: process.client_url(),
        _process: process,
        _dir: dir,
    }
}

fn natrium_server() -> PathBuf {
    PathBuf::from(NATRIUM_SERVER)
}

/// Runs `natrium ARGS` and expects success.
async fn ok(url: &str, args: &[&str]) -> Output {
    let output = run(url, args).await;
    assert!(
        output.status.success(),
        "natrium {args:?} failed: {}",
        stderr(&output)
    );
    output
}

/// Runs `natrium ARGS` and parses its JSON output.
async fn json(url: &str, args: &[&str]) -> Value {
    let output = ok(url, args).await;
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|err| {
        panic!(
            "natrium {args:?} printed no JSON ({err}): {}",
            stdout(&output)
        )
    })
}

/// Runs `natrium ARGS` and expects failure; returns stderr.
async fn fails(url: &str, args: &[&str]) -> String {
    let output = run(url, args).await;
    assert!(
        !output.status.success(),
        "natrium {args:?} succeeded: {}",
        stdout(&output)
    );
    stderr(&output)
}

/// Drops what differs between runs and servers (times, ids, versions) so two servers'
/// JSON can be compared.
fn stable(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in [
                    "created",
                    "ts",
                    "time",
                    "cluster",
                    "metadata",
                    "first_ts",
                    "last_ts",
                    "last_active",
                    "nuid",
                    "mtime",
                    "modified",
                    "digest",
                    "type",
                    "total",
                    "offset",
                    "limit",
                    "compression",
                    "consumer_limits",
                    "allow_msg_ttl",
                    "allow_direct",
                    "mirror_direct",
                    "sealed",
                    "deny_purge",
                    "allow_rollup_hdrs",
                    "max_consumers",
                    "num_waiting",
                    "sources",
                    "deny_delete",
                    "num_subjects",
                    "priority_policy",
                    "allow_atomic",
                    "allow_msg_schedules",
                    "allow_msg_counter",
                    "inactive_threshold",
                    "max_waiting",
                    "max_ack_pending",
                    "num_replicas",
                    "pause_until",
                    "paused",
                    "pause_remaining",
                    "backoff",
                    "last_seq",
                    "deleted",
                    "num_deleted",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// Every verb once against the server at `url`; returns the JSON outputs, made [`stable`].
async fn script(url: &str) -> Vec<Value> {
    let mut seen = Vec::new();

    // Streams.
    let added = json(
        url,
        &[
            "stream",
            "add",
            "ORDERS",
            "--subjects",
            "orders.*,returns.>",
            "--storage",
            "memory",
            "--retention",
            "limits",
            "--max-msgs",
            "100",
            "--max-age",
            "1h",
            "--json",
        ],
    )
    .await;
    assert_eq!(
        added["config"]["subjects"],
        serde_json::json!(["orders.*", "returns.>"])
    );
    assert_eq!(added["config"]["storage"], "memory");
    assert_eq!(added["config"]["max_msgs"], 100);
    assert_eq!(added["config"]["max_age"], 3_600_000_000_000u64);
    seen.push(added);
    for body in ["one", "two", "three"] {
        ok(url, &["pub", "orders.new", body, "-H", "Kind:test"]).await;
    }
    ok(url, &["pub", "returns.a", "back"]).await;

    let table = stdout(&ok(url, &["stream", "ls"]).await);
    let row = table
        .lines()
        .find(|l| l.starts_with("ORDERS"))
        .expect("ORDERS row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..4],
        ["ORDERS", "orders.*,", "returns.>", "memory"],
        "{table}"
    );
    assert_eq!(cells[4], "4", "{table}");
    seen.push(json(url, &["stream", "ls", "--json"]).await);

    let info = stdout(&ok(url, &["stream", "info", "ORDERS"]).await);
    assert!(info.contains("Information for Stream ORDERS"), "{info}");
    assert!(info.contains("Subjects: orders.*, returns.>"), "{info}");
    assert!(info.contains("Maximum Messages: 100"), "{info}");
    assert!(info.contains("Maximum Age: 1h"), "{info}");
    assert!(info.contains("Messages: 4\n"), "{info}");
    let info = json(url, &["stream", "info", "ORDERS", "--json"]).await;
    assert_eq!(info["state"]["messages"], 4);
    seen.push(info);

    let got = stdout(&ok(url, &["stream", "get", "ORDERS", "2"]).await);
    assert!(got.starts_with("Item: ORDERS#2 received "), "{got}");
    assert!(
        got.contains("on Subject orders.new\n\nKind: test\n\ntwo\n"),
        "{got}"
    );
    let got = json(
        url,
        &[
            "stream",
            "get",
            "ORDERS",
            "--last-for",
            "returns.a",
            "--json",
        ],
    )
    .await;
    assert_eq!(got["seq"], 4);
    assert_eq!(got["data"], "YmFjaw==");
    seen.push(got);

    // Consumers.
    let consumer = json(
        url,
        &[
            "consumer",
            "add",
            "ORDERS",
            "PICKER",
            "--filter",
            "orders.new",
            "--ack",
            "explicit",
            "--pull",
            "--deliver",
            "all",
            "--max-deliver",
            "5",
            "--wait",
            "10s",
            "--json",
        ],
    )
    .await;
    assert_eq!(consumer["config"]["filter_subject"], "orders.new");
    assert_eq!(consumer["config"]["ack_wait"], 10_000_000_000u64);
    seen.push(consumer);
    let table = stdout(&ok(url, &["consumer", "ls", "ORDERS"]).await);
    let row = table
        .lines()
        .find(|l| l.starts_with("PICKER"))
        .expect("PICKER row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["PICKER", "pull", "orders.new", "3", "0", "0"]
    );
    seen.push(json(url, &["consumer", "ls", "ORDERS", "--json"]).await);

    let next = stdout(
        &ok(
            url,
            &[
                "consumer", "next", "ORDERS", "PICKER", "--count", "2", "--raw",
            ],
        )
        .await,
    );
    assert_eq!(next, "one\ntwo\n");
    let next = stdout(&ok(url, &["consumer", "next", "ORDERS", "PICKER"]).await);
    assert!(
        next.starts_with("[#1] Received on \"orders.new\""),
        "{next}"
    );
    assert!(next.contains("Kind: test\n\nthree\n"), "{next}");
    let info = stdout(&ok(url, &["consumer", "info", "ORDERS", "PICKER"]).await);
    assert!(info.contains("Acknowledged: 3\n"), "{info}");
    assert!(info.contains("Unprocessed: 0\n"), "{info}");
    let info = json(url, &["consumer", "info", "ORDERS", "PICKER", "--json"]).await;
    assert_eq!(info["ack_floor"]["stream_seq"], 3);
    assert_eq!(info["num_ack_pending"], 0);
    seen.push(info);
    let empty = fails(
        url,
        &["consumer", "next", "ORDERS", "PICKER", "--timeout", "300ms"],
    )
    .await;
    assert!(empty.contains("no message received"), "{empty}");

    ok(url, &["consumer", "rm", "ORDERS", "PICKER", "-f"]).await;
    assert!(stdout(&ok(url, &["consumer", "ls", "ORDERS"]).await).contains("No consumers"));

    let purged = json(
        url,
        &[
            "stream",
            "purge",
            "ORDERS",
            "--subject",
            "orders.new",
            "-f",
            "--json",
        ],
    )
    .await;
    assert_eq!(purged["purged"], 3);
    seen.push(purged);
    ok(url, &["stream", "rm", "ORDERS", "-f"]).await;
    assert!(stdout(&ok(url, &["stream", "ls"]).await).contains("No streams defined"));

    // Key-Value.
    let bucket = json(
        url,
        &[
            "kv",
            "add",
            "CFG",
            "--history",
            "5",
            "--ttl",
            "1h",
            "--json",
        ],
    )
    .await;
    assert_eq!(bucket["config"]["max_msgs_per_subject"], 5);
    seen.push(bucket);
    let mut watch = spawn_listening(url, &["kv", "watch", "CFG", "--count", "3"]).await;
    ok(url, &["kv", "put", "CFG", "color", "red"]).await;
    ok(url, &["kv", "put", "CFG", "color", "blue"]).await;
    ok(url, &["kv", "put", "CFG", "size", "xl"]).await;
    assert!(watch.next_line().await.ends_with("PUT CFG > color: red"));
    assert!(watch.next_line().await.ends_with("PUT CFG > color: blue"));
    assert!(watch.next_line().await.ends_with("PUT CFG > size: xl"));
    let (done, _, err) = watch.finish().await;
    assert!(done, "{err}");

    assert_eq!(
        stdout(&ok(url, &["kv", "get", "CFG", "color", "--raw"]).await),
        "blue\n"
    );
    let entry = json(url, &["kv", "get", "CFG", "color", "--json"]).await;
    assert_eq!(entry["revision"], 2);
    assert_eq!(entry["value"], "blue");
    seen.push(entry);
    let history = stdout(&ok(url, &["kv", "history", "CFG", "color"]).await);
    let rows: Vec<Vec<&str>> = history
        .lines()
        .filter(|l| l.starts_with("color"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert_eq!(
        (rows[0][1], rows[0][2], rows[0].last().copied()),
        ("1", "PUT", Some("red"))
    );
    assert_eq!(
        (rows[1][1], rows[1][2], rows[1].last().copied()),
        ("2", "PUT", Some("blue"))
    );
    assert_eq!(
        stdout(&ok(url, &["kv", "ls", "CFG"]).await),
        "color\nsize\n"
    );
    let buckets = stdout(&ok(url, &["kv", "ls"]).await);
    let row = buckets
        .lines()
        .find(|l| l.starts_with("CFG"))
        .expect("CFG row");
    assert_eq!(
        row.split_whitespace().take(2).collect::<Vec<_>>(),
        ["CFG", "3"]
    );
    // Replayed: the latest value of each key.
    let replay = stdout(&ok(url, &["kv", "watch", "CFG", "--count", "2", "--json"]).await);
    let replayed: Vec<Value> = replay
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(replayed[0]["value"], "blue");
    assert_eq!(replayed[1]["value"], "xl");
    ok(url, &["kv", "del", "CFG", "color", "-f"]).await;
    let missing = fails(url, &["kv", "get", "CFG", "color"]).await;
    assert!(
        missing.contains("key color not found in bucket CFG"),
        "{missing}"
    );
    ok(url, &["kv", "del", "CFG", "-f"]).await;
    let gone = fails(url, &["kv", "get", "CFG", "size"]).await;
    assert!(gone.contains("stream not found"), "{gone}");

    // Key-Value compare-and-set, purge and info.
    ok(url, &["kv", "add", "CAS", "--history", "3"]).await;
    ok(url, &["kv", "create", "CAS", "k", "one"]).await;
    let taken = fails(url, &["kv", "create", "CAS", "k", "two"]).await;
    assert!(taken.contains("cannot create k in bucket CAS"), "{taken}");
    ok(url, &["kv", "update", "CAS", "k", "two", "1"]).await;
    let stale = fails(url, &["kv", "update", "CAS", "k", "three", "1"]).await;
    assert!(
        stale.contains("cannot update k in bucket CAS at revision 1"),
        "{stale}"
    );
    assert_eq!(
        stdout(&ok(url, &["kv", "get", "CAS", "k", "--raw"]).await),
        "two\n"
    );
    ok(url, &["kv", "purge", "CAS", "k", "-f"]).await;
    let history = json(url, &["kv", "history", "CAS", "k", "--json"]).await;
    let ops: Vec<&str> = history
        .as_array()
        .expect("history array")
        .iter()
        .map(|e| e["operation"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["PURGE"], "a purge keeps only its marker");
    // A purged key has no value, so it can be created again.
    ok(url, &["kv", "create", "CAS", "k", "again"]).await;
    let info = json(url, &["kv", "info", "CAS", "--json"]).await;
    assert_eq!(info["state"]["messages"], 2, "{info}");
    seen.push(info);
    let shown = stdout(&ok(url, &["kv", "status", "CAS"]).await);
    assert!(shown.contains("History Kept: 3"), "{shown}");
    assert!(shown.contains("Values Stored: 2"), "{shown}");
    ok(url, &["kv", "del", "CAS", "-f"]).await;

    // Object store, with a file of several chunks.
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("blob.bin");
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &data).expect("write blob");
    ok(url, &["object", "add", "FILES"]).await;
    let stored = json(
        url,
        &[
            "object",
            "put",
            "FILES",
            source.to_str().expect("utf-8 path"),
            "--json",
        ],
    )
    .await;
    assert_eq!(stored["name"], "blob.bin");
    assert_eq!(stored["size"], 600_000);
    seen.push(stored);
    let listing = stdout(&ok(url, &["object", "ls", "FILES"]).await);
    let row = listing
        .lines()
        .find(|l| l.starts_with("blob.bin"))
        .expect("blob row");
    assert!(row.contains("585.9 KiB"), "{listing}");
    let copy = dir.path().join("copy.bin");
    ok(
        url,
        &[
            "object",
            "get",
            "FILES",
            "blob.bin",
            "-O",
            copy.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    assert!(
        std::fs::read(&copy).expect("copy") == data,
        "object round trip changed the bytes"
    );
    let exists = fails(
        url,
        &[
            "object",
            "get",
            "FILES",
            "blob.bin",
            "-O",
            copy.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    assert!(exists.contains("use --force"), "{exists}");
    ok(url, &["object", "rm", "FILES", "blob.bin", "-f"]).await;
    assert!(stdout(&ok(url, &["object", "ls", "FILES"]).await).contains("No objects"));
    ok(url, &["object", "rm", "FILES", "-f"]).await;

    // Object info, links, watch and seal.
    ok(url, &["object", "add", "DOCS"]).await;
    ok(url, &["object", "add", "OTHER"]).await;
    let path = source.to_str().expect("utf-8 path");
    ok(url, &["object", "put", "DOCS", path, "--name", "a.bin"]).await;
    let object = json(url, &["object", "info", "DOCS", "a.bin", "--json"]).await;
    assert_eq!(object["size"], 600_000);
    let shown = stdout(&ok(url, &["object", "info", "DOCS", "a.bin"]).await);
    assert!(shown.contains("Size: 585.9 KiB"), "{shown}");
    let mut watch = spawn_listening(url, &["object", "watch", "DOCS", "--count", "2"]).await;
    ok(url, &["object", "link", "DOCS", "alias", "a.bin"]).await;
    ok(
        url,
        &["object", "link", "DOCS", "whole", "--to-bucket", "OTHER"],
    )
    .await;
    assert!(watch.next_line().await.contains("LINK DOCS > alias"));
    assert!(watch.next_line().await.contains("LINK DOCS > whole"));
    let (done, _, err) = watch.finish().await;
    assert!(done, "{err}");
    let link = json(url, &["object", "info", "DOCS", "alias", "--json"]).await;
    assert_eq!(link["options"]["link"]["name"], "a.bin", "{link}");
    // Reading a link reads the object it points to.
    let through = dir.path().join("through.bin");
    let through_path = through.to_str().expect("utf-8 path");
    ok(url, &["object", "get", "DOCS", "alias", "-O", through_path]).await;
    assert!(std::fs::read(&through).expect("read") == data);
    let dangling = fails(url, &["object", "link", "DOCS", "x", "missing.bin"]).await;
    assert!(
        dangling.contains("no object missing.bin in bucket DOCS"),
        "{dangling}"
    );
    ok(url, &["object", "seal", "DOCS", "-f"]).await;
    let mut bucket = json(url, &["object", "info", "DOCS", "--json"]).await;
    assert_eq!(bucket["config"]["sealed"], true);
    // The bucket's meta messages hold an RFC 3339 mtime whose nanoseconds lose
    // trailing zeros, so the byte count varies by a few bytes between runs.
    let bytes = bucket["state"]
        .as_object_mut()
        .and_then(|state| state.remove("bytes"))
        .and_then(|bytes| bytes.as_u64())
        .expect("bucket bytes");
    assert!((600_000..602_000).contains(&bytes), "{bytes} bytes");
    seen.push(bucket);
    assert!(stdout(&ok(url, &["object", "info", "DOCS"]).await).contains("Sealed: true"));
    let refused = fails(url, &["object", "put", "DOCS", path, "--name", "b.bin"]).await;
    assert!(
        refused.contains("cannot put b.bin in bucket DOCS"),
        "{refused}"
    );
    ok(url, &["object", "rm", "DOCS", "-f"]).await;
    ok(url, &["object", "rm", "OTHER", "-f"]).await;

    seen.into_iter().map(stable).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_verb_works_alike_on_natrium_server_and_nats_server() {
    let natrium = start(&natrium_server(), true).await;
    let ours = script(&natrium.url).await;
    let Some(latest) = latest_binary() else {
        return;
    };
    let reference = start(&latest, true).await;
    let theirs = script(&reference.url).await;
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(ours, theirs, "natrium-server and nats-server differ");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// The errors a user meets, checked on one server.
async fn errors(url: &str) {
    let missing = fails(url, &["stream", "info", "NOPE"]).await;
    assert!(
        missing.contains("stream not found (code 404, error code 10059)"),
        "{missing}"
    );
    let missing = fails(url, &["consumer", "info", "NOPE", "C"]).await;
    assert!(missing.contains("stream not found"), "{missing}");
    let missing = fails(url, &["kv", "ls", "NOPE"]).await;
    assert!(missing.contains("no Key-Value bucket NOPE"), "{missing}");
    ok(url, &["stream", "add", "KEEP", "--subjects", "keep"]).await;
    let refused = fails(url, &["stream", "rm", "KEEP"]).await;
    assert!(
        refused.contains("refusing to delete stream KEEP without --force"),
        "{refused}"
    );
    ok(url, &["stream", "info", "KEEP"]).await;
    let bad = run(url, &["stream", "add", "BAD", "--storage", "disk"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("invalid value 'disk' for '--storage"),
        "{}",
        stderr(&bad)
    );
    let bad = fails(
        url,
        &["consumer", "add", "KEEP", "C", "--deliver", "sometimes"],
    )
    .await;
    assert!(
        bad.contains("expected all, last, new, last_per_subject or a sequence number"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_clear_on_both_servers() {
    let natrium = start(&natrium_server(), true).await;
    errors(&natrium.url).await;
    let Some(latest) = latest_binary() else {
        return;
    };
    errors(&start(&latest, true).await.url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_jetstream_says_so() {
    let mut servers = vec![start(&natrium_server(), false).await];
    if let Some(latest) = latest_binary() {
        servers.push(start(&latest, false).await);
    }
    for server in &servers {
        for args in [
            &["stream", "ls"][..],
            &["consumer", "ls", "S"],
            &["kv", "ls"],
            &["object", "ls", "B"],
        ] {
            let err = fails(&server.url, args).await;
            assert!(err.contains("JetStream not enabled"), "{args:?}: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_permission_is_told_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("server.conf");
    std::fs::write(
        &config,
        "authorization {\n  users = [\n    {user: admin, password: secret}\n    \
         {user: viewer, password: secret, permissions: {publish: {deny: [\"$JS.API.STREAM.DELETE.>\"]}}}\n  ]\n}\n",
    )
    .expect("write config");
    let mut binaries = vec![natrium_server()];
    binaries.extend(latest_binary());
    for binary in binaries {
        let server = start_with_config(&binary, &config).await;
        let admin = ["--user", "admin", "--password", "secret"];
        let viewer = ["--user", "viewer", "--password", "secret"];
        ok(
            &server.url,
            &[&["stream", "add", "S", "--subjects", "s"][..], &admin].concat(),
        )
        .await;
        let listed = stdout(&ok(&server.url, &[&["stream", "ls"][..], &viewer].concat()).await);
        assert!(listed.contains("S  "), "{listed}");
        let denied = fails(
            &server.url,
            &[&["stream", "rm", "S", "-f"][..], &viewer].concat(),
        )
        .await;
        assert!(
            denied.contains("no permission: "),
            "{}: {denied}",
            binary.display()
        );
        assert!(
            denied
                .to_ascii_lowercase()
                .contains("permissions violation"),
            "{denied}"
        );
        ok(
            &server.url,
            &[&["stream", "info", "S"][..], &admin].concat(),
        )
        .await;
    }
}

/// `--js-domain` and `--js-api-prefix` address a JetStream domain's API
/// (`$JS.<domain>.API`), on natrium-server and on nats-server.
#[tokio::test(flavor = "multi_thread")]
async fn a_jetstream_domain_is_reached_by_domain_or_api_prefix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("domain.conf");
    std::fs::write(&config, "jetstream { domain: hub }\n").expect("write config");
    let mut binaries = vec![natrium_server()];
    binaries.extend(latest_binary());
    for binary in binaries {
        domain_reached(&binary, &config).await;
    }
}

async fn domain_reached(binary: &Path, config: &Path) {
    let server = start_with_config(binary, config).await;
    let url = server.url.as_str();
    let added = json(
        url,
        &[
            "stream",
            "add",
            "S",
            "--subjects",
            "s.>",
            "--js-domain",
            "hub",
            "--json",
        ],
    )
    .await;
    assert_eq!(added["config"]["name"], "S");
    let listed = stdout(&ok(url, &["stream", "ls", "--js-api-prefix", "$JS.hub.API"]).await);
    assert!(listed.contains('S'), "{listed}");
    ok(url, &["kv", "add", "CFG", "--js-domain", "hub"]).await;
    ok(url, &["kv", "put", "CFG", "k", "v", "--js-domain", "hub"]).await;
    assert_eq!(
        stdout(
            &ok(
                url,
                &["kv", "get", "CFG", "k", "--raw", "--js-domain", "hub"]
            )
            .await
        ),
        "v\n"
    );
    let info = json(url, &["kv", "info", "CFG", "--json", "--js-domain", "hub"]).await;
    assert_eq!(info["domain"], "hub", "{info}");
    // Nobody serves another domain's API.
    let elsewhere = fails(url, &["stream", "ls", "--js-domain", "edge"]).await;
    assert!(elsewhere.contains("JetStream not enabled"), "{elsewhere}");
    let both = run(
        url,
        &[
            "stream",
            "ls",
            "--js-domain",
            "hub",
            "--js-api-prefix",
            "$JS.hub.API",
        ],
    )
    .await;
    assert_eq!(both.status.code(), Some(2), "the two flags conflict");
}
