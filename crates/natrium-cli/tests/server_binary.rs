//! The `natrium-server` binary: nats-server's flags, log lines, pid and ports files, signals.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_natrium-server");
const BOUND: Duration = Duration::from_secs(10);

fn server(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn natrium-server")
}

/// Reads log lines until "Server is ready"; returns them and the port from the
/// "Listening for client connections on HOST:PORT" line.
async fn wait_ready(stderr: &mut BufReader<ChildStderr>) -> (Vec<String>, u16) {
    let mut lines = Vec::new();
    let mut port = None;
    timeout(BOUND, async {
        loop {
            let mut line = String::new();
            let n = stderr.read_line(&mut line).await.expect("read stderr");
            assert!(n > 0, "server exited before ready; log so far: {lines:#?}");
            if let Some((_, addr)) = line
                .trim_end()
                .split_once("Listening for client connections on ")
            {
                port = addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
            }
            let ready = line.contains("Server is ready");
            lines.push(line);
            if ready {
                break;
            }
        }
    })
    .await
    .expect("ready within bound");
    (lines, port.expect("a Listening line with a port"))
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("natrium-server-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn assert_nats_log_line(line: &str) {
    // [1234] 2026/11/27 02:40:38.123456 [INF] Server is ready
    let (pid, rest) = line.split_once("] ").expect("[pid] prefix");
    assert!(
        pid.starts_with('[') && pid[1..].bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    let (date, rest) = rest.split_once(' ').expect("date");
    let (time, rest) = rest.split_once(' ').expect("time");
    assert_eq!(date.len(), 10, "{line}");
    assert_eq!(&date[4..5], "/");
    assert_eq!(time.len(), 15, "{line}");
    assert!(rest.starts_with("[INF] "), "{line}");
}

#[tokio::test]
async fn serves_clients_writes_pid_and_ports_files_and_stops_on_sigterm() {
    let dir = temp_dir("files");
    let pid_file = dir.join("server.pid");
    let mut child = server(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-n",
        "bin-test",
        "-P",
        pid_file.to_str().unwrap(),
        "--ports_file_dir",
        dir.to_str().unwrap(),
        "--store_dir",
        dir.to_str().unwrap(),
    ]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, port) = wait_ready(&mut stderr).await;
    for line in &lines {
        assert_nats_log_line(line);
    }
    assert!(
        lines.iter().any(|l| l.trim_end().ends_with(&format!(
            "[INF] Listening for client connections on 127.0.0.1:{port}"
        ))),
        "{lines:#?}"
    );

    let pid = child.id().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let ports_file = dir.join(format!("natrium-server_{pid}.ports"));
    let ports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ports_file).unwrap()).unwrap();
    assert_eq!(ports["nats"][0], format!("nats://127.0.0.1:{port}"));

    let client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap();
    assert_eq!(client.server_info().server_name, "bin-test");
    let mut sub = client.subscribe("bin.test").await.unwrap();
    client.publish("bin.test", "hi".into()).await.unwrap();
    let msg = timeout(BOUND, sub.next()).await.unwrap().unwrap();
    assert_eq!(&msg.payload[..], b"hi");

    sigterm(&child);
    let status = timeout(BOUND, child.wait())
        .await
        .expect("exits within bound")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!ports_file.exists(), "ports file removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn user_and_pass_flags_require_auth() {
    let mut child = server(&["-a", "127.0.0.1", "-p", "-1", "--user", "u", "--pass", "p"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (_, port) = wait_ready(&mut stderr).await;
    let url = format!("nats://127.0.0.1:{port}");
    let ok = async_nats::ConnectOptions::with_user_and_password("u".into(), "p".into())
        .connect(&url)
        .await
        .expect("right credentials");
    ok.flush().await.unwrap();
    assert!(ok.server_info().auth_required);
    sigterm(&child);
    assert!(
        timeout(BOUND, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn config_file_sets_options() {
    let dir = temp_dir("conf");
    let conf = dir.join("server.conf");
    std::fs::write(
        &conf,
        "listen: 127.0.0.1:-1\nmax_payload: 2KB\nserver_name: from-conf\n",
    )
    .unwrap();
    let mut child = server(&["-c", conf.to_str().unwrap()]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (_, port) = wait_ready(&mut stderr).await;
    let client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap();
    let info = client.server_info();
    assert_eq!(
        (info.server_name.as_str(), info.max_payload),
        ("from-conf", 2048)
    );
    sigterm(&child);
    assert!(
        timeout(BOUND, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run_to_end(args: &[&str]) -> (bool, String, String) {
    let mut child = server(args);
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let status = timeout(BOUND, child.wait()).await.unwrap().unwrap();
    (status.success(), out, err)
}

#[tokio::test]
async fn version_flag_prints_and_exits() {
    for flag in ["-v", "--version"] {
        let (ok, out, _) = run_to_end(&[flag]).await;
        assert!(ok);
        assert!(out.starts_with("natrium-server: v"), "{out}");
    }
}

#[tokio::test]
async fn unknown_flags_and_unsupported_features_fail_clearly() {
    let (ok, _, err) = run_to_end(&["--cluster", "nats://127.0.0.1:6222"]).await;
    assert!(!ok);
    assert!(err.contains("--cluster"), "{err}");

    let (ok, _, err) = run_to_end(&["-p", "-1", "--https_port", "8443"]).await;
    assert!(!ok);
    assert!(err.contains("not supported yet"), "{err}");

    let (ok, _, err) = run_to_end(&["-p", "99999"]).await;
    assert!(!ok);
    assert!(err.contains("invalid port"), "{err}");

    let (ok, _, err) = run_to_end(&[
        "-c",
        Path::new("/nonexistent/natrium.conf").to_str().unwrap(),
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("natrium.conf"), "{err}");
}

#[tokio::test]
async fn http_port_flag_serves_monitoring() {
    let dir = temp_dir("monitor");
    let mut child = server(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-m",
        "-1",
        "--ports_file_dir",
        dir.to_str().unwrap(),
    ]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (_, port) = wait_ready(&mut stderr).await;

    let pid = child.id().unwrap();
    let ports_file = dir.join(format!("natrium-server_{pid}.ports"));
    let ports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ports_file).unwrap()).unwrap();
    let monitor = ports["monitoring"][0]
        .as_str()
        .expect("monitoring URL in the ports file");
    let authority = monitor.trim_start_matches("http://").to_string();

    let mut http = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let request = format!("GET /varz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut http, request.as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_string(&mut http, &mut response),
    )
    .await
    .expect("response within bound")
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = &response[response.find("\r\n\r\n").expect("headers end") + 4..];
    let varz: serde_json::Value = serde_json::from_str(body).expect("varz is JSON");
    assert_eq!(varz["port"], port);

    sigterm(&child);
    let status = timeout(BOUND, child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_spin_setting_is_reported_and_the_server_still_serves() {
    let mut child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .env("NATRIUM_SPIN_US", "fast")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn natrium-server");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, port) = wait_ready(&mut stderr).await;
    assert_eq!(
        lines[0].trim_end(),
        "natrium-server: busy polling is off: NATRIUM_SPIN_US must be a whole number of \
         microseconds, not \"fast\""
    );
    let client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
        .await
        .expect("connect");
    let mut sub = client.subscribe("spin.check").await.unwrap();
    client.publish("spin.check", "x".into()).await.unwrap();
    let got = timeout(BOUND, sub.next()).await.unwrap().unwrap();
    assert_eq!(&got.payload[..], b"x");
    sigterm(&child);
    assert!(
        timeout(BOUND, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn js_and_store_dir_flags_turn_on_jetstream_that_keeps_streams_across_restarts() {
    let dir = temp_dir("jetstream");
    let store = dir.to_str().unwrap();
    for round in 0..2u64 {
        let mut child = server(&["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store]);
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let (lines, port) = wait_ready(&mut stderr).await;
        let log = lines.concat();
        assert!(log.contains("Starting JetStream"), "{log}");
        assert!(
            log.contains(&format!("{store}/jetstream")) || log.contains(store),
            "{log}"
        );
        let client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
            .await
            .unwrap();
        assert!(client.server_info().jetstream);
        let js = async_nats::jetstream::new(client);
        let mut stream = js
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "KEPT".into(),
                subjects: vec!["kept.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let ack = js
            .publish("kept.one", "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(
            ack.sequence,
            round + 1,
            "the first run's message is still there"
        );
        assert_eq!(stream.info().await.unwrap().state.messages, round + 1);
        sigterm(&child);
        timeout(BOUND, child.wait()).await.unwrap().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_jetstream_config_block_is_read_and_a_bad_one_refused() {
    let dir = temp_dir("jetstream-conf");
    let conf = dir.join("js.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:-1\njetstream {{\n  store_dir: {:?}\n  max_mem: 1G\n  sync_interval: always\n}}\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut child = server(&["-c", conf.to_str().unwrap()]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, _) = wait_ready(&mut stderr).await;
    assert!(
        lines.concat().contains("Max Memory:      953.67 MB"),
        "{lines:#?}"
    );
    sigterm(&child);
    timeout(BOUND, child.wait()).await.unwrap().unwrap();

    std::fs::write(&conf, "jetstream { sync_interval: \"soon\" }\n").unwrap();
    let (ok, _, err) = run_to_end(&["-c", conf.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(err.contains("error parsing sync_interval"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unusable_store_directory_stops_the_binary_with_an_error_naming_it() {
    let dir = temp_dir("jetstream-unusable");
    // A file where the store directory should be: no user, root included, can write there.
    let store = dir.join("a-file");
    std::fs::write(&store, b"x").unwrap();
    let store = store.to_str().unwrap();
    let (ok, _, err) = run_to_end(&["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store]).await;
    assert!(!ok, "the server must not start");
    assert!(err.contains("could not create storage directory"), "{err}");
    assert!(err.contains(store), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
