//! Bad disks under JetStream, for real: a full disk while publishing (a tiny tmpfs), and
//! store directories that can't be used (read-only, a file in the way, corrupt files).
//!
//! Mounting a tmpfs needs root. CI runs as root, so under env `CI` a failed mount fails the
//! test; locally it warns and the test returns.
//!
//! The tests run one at a time: a `mount` child forked by one test holds a copy of every open
//! file until it execs, including another test's store lock (an `flock`), so a restart on
//! the same directory in that moment would be refused as "in use" on a busy machine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use async_nats::jetstream::{self, stream};
use common::{BOUND, connect, start};
use natrium_server::{JetStreamOptions, Server, ServerOptions};
use serde_json::Value;
use tokio::time::timeout;

/// Held by each test for its whole run.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tmpfs of `size` mounted on a fresh temporary directory, unmounted when dropped.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    /// Mounts it, or says why it could not (not root, no `mount`, a container without the
    /// capability).
    fn mount(size: &str) -> Result<TinyDisk, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(TinyDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The tiny disk, or `None` after a warning when mounting is impossible here.
fn tiny_disk_or_skip(size: &str) -> Option<TinyDisk> {
    match TinyDisk::mount(size) {
        Ok(disk) => Some(disk),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the full-disk test (as root): {why}")
        }
        Err(why) => {
            eprintln!("\n!!! WARNING: SKIPPED the full-disk test: {why} (run as root)\n");
            None
        }
    }
}

/// Publishes with a raw request and returns the reply as JSON (a PubAck or an error ack).
async fn publish_raw(client: &async_nats::Client, subject: &str, payload: Vec<u8>) -> Value {
    let reply = timeout(BOUND, client.request(subject.to_owned(), payload.into()))
        .await
        .expect("a reply within bound")
        .expect("a reply");
    serde_json::from_slice(&reply.payload).expect("JSON ack")
}

/// [`publish_raw`] with a `Nats-Msg-Id`.
async fn publish_with_id(
    client: &async_nats::Client,
    subject: &str,
    id: &str,
    payload: Vec<u8>,
) -> Value {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    let request = client.request_with_headers(subject.to_owned(), headers, payload.into());
    let reply = timeout(BOUND, request)
        .await
        .expect("a reply within bound")
        .expect("a reply");
    serde_json::from_slice(&reply.payload).expect("JSON ack")
}

async fn health(server: &Server) -> (u16, Value) {
    let url = format!("http://{}/healthz", server.monitor_addr().unwrap());
    let response = timeout(BOUND, reqwest::get(url)).await.unwrap().unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn options(store: &Path) -> ServerOptions {
    ServerOptions {
        http_port: Some(0),
        jetstream: Some(JetStreamOptions::in_dir(store)),
        ..ServerOptions::ephemeral()
    }
}

fn payload(i: u64) -> Vec<u8> {
    let mut p = format!("message {i} ").into_bytes();
    p.resize(1000, b'.');
    p
}

#[tokio::test]
async fn a_full_disk_refuses_publishes_with_an_error_ack_and_recovers_when_space_is_freed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(disk) = tiny_disk_or_skip("1m") else {
        return;
    };
    let store = disk.path().join("store");
    let server = start(options(&store)).await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    // Leave room for about a hundred messages.
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0u8; 900 * 1024]).unwrap();

    let mut acked = 0u64;
    let refusal = loop {
        let ack = publish_raw(&client, "s.x", payload(acked + 1)).await;
        if ack.get("error").is_some() {
            break ack;
        }
        acked += 1;
        assert_eq!(ack["seq"], acked, "{ack}");
        assert!(acked < 2000, "the disk never filled up");
    };
    assert!(acked > 10, "only {acked} messages fit");
    assert_eq!(refusal["error"]["code"], 503, "{refusal}");
    assert_eq!(refusal["error"]["err_code"], 10023, "{refusal}");
    assert_eq!(
        refusal["error"]["description"], "insufficient resources",
        "{refusal}"
    );
    assert_eq!(refusal["stream"], "S");

    let (status, body) = health(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("JetStream stream '$G > S' write error: "),
        "{error}"
    );
    assert!(error.contains("No space left on device"), "{error}");
    // Still full: refused again, and nothing of it is kept, not even its message id.
    let again = publish_with_id(&client, "s.x", "retry-1", payload(acked + 1)).await;
    assert_eq!(again["error"]["err_code"], 10023, "{again}");
    let info = js.get_stream("S").await.unwrap().get_info().await.unwrap();
    assert_eq!(info.state.messages, acked);
    assert_eq!(info.state.last_sequence, acked);

    // Space freed: the next publish is stored, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let ack = publish_with_id(&client, "s.x", "retry-1", payload(acked + 1)).await;
    assert_eq!(ack["seq"], acked + 1, "{ack}");
    assert!(ack.get("duplicate").is_none(), "the retry is stored: {ack}");
    acked += 1;
    let (status, body) = health(&server).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &Value::from("ok")),
        "{body}"
    );
    server.shutdown().await;

    // Every acknowledged message is there after a restart, in order, and nothing else.
    let server = start(options(&store)).await;
    let js = jetstream::new(connect(&server).await);
    let stream = js.get_stream("S").await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.state.messages, acked);
    assert_eq!(info.state.first_sequence, 1);
    assert_eq!(info.state.last_sequence, acked);
    for seq in 1..=acked {
        let msg = stream.get_raw_message(seq).await.unwrap();
        assert_eq!(&msg.payload[..], &payload(seq)[..], "message {seq}");
    }
    server.shutdown().await;
}

/// The startup error of a server storing in `store`.
async fn startup_error(store: PathBuf) -> String {
    let err = Server::start(ServerOptions {
        jetstream: Some(JetStreamOptions::in_dir(store)),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect_err("the store directory is unusable");
    err.to_string()
}

#[tokio::test]
async fn a_read_only_store_directory_is_a_startup_error_naming_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("ro");
    std::fs::create_dir(&store).unwrap();
    let mut perms = std::fs::metadata(&store).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&store, perms).unwrap();
    // Root ignores permission bits; a read-only bind mount stops root too. Try both.
    let probe = store.join("probe");
    let _ro_mount = if std::fs::write(&probe, b"x").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        match ReadOnlyMount::new(&store) {
            Ok(mount) => Some(mount),
            Err(why) if std::env::var_os("CI").is_some() => {
                panic!("CI must run the read-only store test: {why}")
            }
            Err(why) => {
                eprintln!("\n!!! WARNING: SKIPPED the read-only store test: {why}\n");
                return;
            }
        }
    } else {
        None
    };
    let text = startup_error(store.clone()).await;
    assert!(
        text.contains("could not create storage directory"),
        "{text}"
    );
    assert!(text.contains(&store.display().to_string()), "{text}");
    assert!(
        text.contains("Read-only file system") || text.contains("ermission"),
        "{text}"
    );
}

/// `dir` bind-mounted read-only over itself, unmounted when dropped.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path) -> Result<Self, String> {
        let run = |args: &[&str]| {
            let out = Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .map_err(|e| format!("mount: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "mount {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        run(&["--bind"])?;
        let mount = ReadOnlyMount(dir.to_owned());
        run(&["-o", "remount,bind,ro"])?;
        Ok(mount)
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A server storing in `store` with one file stream `S` holding `n` messages, shut down.
async fn stream_on_disk(store: &Path, n: u64) -> PathBuf {
    let server = start(options(store)).await;
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 1..=n {
        let ack = publish_raw(&client, "s.x", payload(i)).await;
        assert_eq!(ack["seq"], i, "{ack}");
    }
    server.shutdown().await;
    store.join("jetstream").join("$G").join("streams").join("S")
}

#[tokio::test]
async fn a_corrupt_stream_config_is_a_startup_error_naming_the_file() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let stream_dir = stream_on_disk(dir.path(), 3).await;
    let meta = stream_dir.join("meta.json");
    std::fs::write(&meta, b"{\"config\": {\"name\": \"S\", trunc").unwrap();
    let text = startup_error(dir.path().to_owned()).await;
    assert!(text.contains("could not recover stream \"S\""), "{text}");
    assert!(text.contains(&meta.display().to_string()), "{text}");
}

#[tokio::test]
async fn a_torn_last_record_is_truncated_and_the_stream_starts_with_the_rest() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let stream_dir = stream_on_disk(dir.path(), 5).await;
    let block = stream_dir.join("msgs").join("00000001.blk");
    let len = std::fs::metadata(&block).unwrap().len();
    // A crash in the middle of the last write leaves half a record.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&block)
        .unwrap();
    file.set_len(len - 500).unwrap();
    drop(file);
    let server = start(options(dir.path())).await;
    let js = jetstream::new(connect(&server).await);
    let stream = js.get_stream("S").await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (4, 4));
    let msg = stream.get_raw_message(4).await.unwrap();
    assert_eq!(&msg.payload[..], &payload(4)[..]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_directory_that_is_a_file_is_a_startup_error_naming_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let stream_dir = stream_on_disk(dir.path(), 1).await;
    let msgs = stream_dir.join("msgs");
    std::fs::remove_dir_all(&msgs).unwrap();
    std::fs::write(&msgs, b"not a directory").unwrap();
    let text = startup_error(dir.path().to_owned()).await;
    assert!(text.contains("could not recover stream \"S\""), "{text}");
    assert!(text.contains(&msgs.display().to_string()), "{text}");
}
