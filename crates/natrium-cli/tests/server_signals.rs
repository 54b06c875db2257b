//! Signals to the `natrium-server` binary, as nats-server handles them: SIGUSR2 (lame duck),
//! SIGHUP (reload the configuration file), and `--signal CMD=PID|PIDFILE`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_natrium-server");
const BOUND: Duration = Duration::from_secs(10);

/// The server, its log and its client port.
struct Running {
    child: Child,
    log: BufReader<ChildStderr>,
    port: u16,
}

async fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn natrium-server");
    let mut log = BufReader::new(child.stderr.take().expect("stderr piped"));
    let line = wait_log(&mut log, "Listening for client connections on ").await;
    let port = line
        .trim_end()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port in the Listening line");
    wait_log(&mut log, "Server is ready").await;
    Running { child, log, port }
}

/// Reads log lines until one contains `needle`; returns it.
async fn wait_log(log: &mut BufReader<ChildStderr>, needle: &str) -> String {
    timeout(BOUND, async {
        loop {
            let mut line = String::new();
            let n = log.read_line(&mut line).await.expect("read log");
            assert!(n > 0, "server exited before logging {needle:?}");
            if line.contains(needle) {
                return line;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("log line {needle:?} within bound"))
}

fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", sig, &pid])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A raw client: lines in, bytes out.
struct Raw {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    out: OwnedWriteHalf,
}

impl Raw {
    async fn connect(port: u16, connect_json: &str) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (r, out) = stream.into_split();
        let mut raw = Raw {
            lines: BufReader::new(r).lines(),
            out,
        };
        let info = raw.line().await.expect("INFO");
        assert!(info.starts_with("INFO "), "{info}");
        raw.send(&format!("CONNECT {connect_json}\r\nPING\r\n"))
            .await;
        raw
    }

    async fn send(&mut self, s: &str) {
        self.out.write_all(s.as_bytes()).await.expect("write");
    }

    /// The next line, or `None` at EOF.
    async fn line(&mut self) -> Option<String> {
        timeout(BOUND, self.lines.next_line())
            .await
            .expect("a line within bound")
            .expect("read")
    }
}

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write config");
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    timeout(BOUND, child.wait())
        .await
        .expect("server exits within bound")
        .expect("wait")
}

#[tokio::test]
async fn sigusr2_enters_lame_duck_mode_and_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("server.conf");
    write_config(
        &conf,
        "listen: 127.0.0.1:-1\nlame_duck_grace_period: \"100ms\"\nlame_duck_duration: \"500ms\"\n",
    );
    let mut server = start(&["-c", conf.to_str().expect("utf8 path")]).await;
    let mut client = Raw::connect(server.port, r#"{"verbose":false,"protocol":1}"#).await;
    assert_eq!(client.line().await.as_deref(), Some("PONG"));

    signal(&server.child, "USR2");
    let info = client.line().await.expect("an INFO");
    assert!(
        info.starts_with("INFO {") && info.ends_with(r#","ldm":true} "#),
        "{info}"
    );
    wait_log(&mut server.log, "Entering lame duck mode").await;
    // Closed after the grace period, then the process exits by itself.
    assert_eq!(client.line().await, None);
    let status = wait_exit(&mut server.child).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sighup_reloads_users_and_keeps_the_old_config_when_the_file_is_broken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("server.conf");
    let users = |pass: &str| {
        format!(
            "listen: 127.0.0.1:-1\nauthorization {{ users = [ {{user: app, password: {pass}}} ] }}\n"
        )
    };
    write_config(&conf, &users("one"));
    let mut server = start(&["-c", conf.to_str().expect("utf8 path")]).await;
    let port = server.port;
    let login = |pass: &'static str| async move {
        let json = format!(r#"{{"verbose":false,"user":"app","pass":"{pass}"}}"#);
        Raw::connect(port, &json).await.line().await
    };
    assert_eq!(login("one").await.as_deref(), Some("PONG"));

    write_config(&conf, &users("two"));
    signal(&server.child, "HUP");
    wait_log(&mut server.log, "Reloaded server configuration").await;
    assert_eq!(login("two").await.as_deref(), Some("PONG"));
    assert_eq!(
        login("one").await.as_deref(),
        Some("-ERR 'Authorization Violation'")
    );

    write_config(&conf, "listen: 127.0.0.1:-1\nauthorization { users = [ \n");
    signal(&server.child, "HUP");
    wait_log(&mut server.log, "Failed to reload server configuration").await;
    assert_eq!(login("two").await.as_deref(), Some("PONG"));

    signal(&server.child, "TERM");
    assert!(wait_exit(&mut server.child).await.success());
}

#[tokio::test]
async fn sighup_adds_an_account_and_keeps_the_other_accounts_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("server.conf");
    let base = "listen: 127.0.0.1:-1\naccounts {\n  A { users: [{user: a, password: a}] }\n";
    write_config(&conf, &format!("{base}}}\n"));
    let mut server = start(&["-c", conf.to_str().expect("utf8 path")]).await;
    let mut a = Raw::connect(server.port, r#"{"verbose":false,"user":"a","pass":"a"}"#).await;
    assert_eq!(a.line().await.as_deref(), Some("PONG"));
    a.send("SUB orders 1\r\nPING\r\n").await;
    assert_eq!(a.line().await.as_deref(), Some("PONG"));

    write_config(
        &conf,
        &format!("{base}  B {{ users: [{{user: b, password: b}}] }}\n}}\n"),
    );
    signal(&server.child, "HUP");
    wait_log(&mut server.log, "Reloaded server configuration").await;
    let mut b = Raw::connect(server.port, r#"{"verbose":false,"user":"b","pass":"b"}"#).await;
    assert_eq!(b.line().await.as_deref(), Some("PONG"));
    // B's publish stays in B; A's client, connected before the reload, still gets A's.
    b.send("PUB orders 1\r\nb\r\nPING\r\n").await;
    assert_eq!(b.line().await.as_deref(), Some("PONG"));
    let mut a2 = Raw::connect(server.port, r#"{"verbose":false,"user":"a","pass":"a"}"#).await;
    assert_eq!(a2.line().await.as_deref(), Some("PONG"));
    a2.send("PUB orders 1\r\na\r\nPING\r\n").await;
    assert_eq!(a2.line().await.as_deref(), Some("PONG"));
    assert_eq!(a.line().await.as_deref(), Some("MSG orders 1 1"));
    assert_eq!(a.line().await.as_deref(), Some("a"));

    signal(&server.child, "TERM");
    assert!(wait_exit(&mut server.child).await.success());
}

#[tokio::test]
async fn signal_flag_reaches_the_server_by_pid_file_and_by_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("natrium.pid");
    let pid_path = pid_file.to_str().expect("utf8 path");

    // stop = SIGKILL, via the pid file.
    let mut server = start(&["-a", "127.0.0.1", "-p", "-1", "-P", pid_path]).await;
    let out = Command::new(BIN)
        .arg(format!("--signal=stop={pid_path}"))
        .output()
        .await
        .expect("run --signal");
    assert!(out.status.success(), "{out:?}");
    let status = wait_exit(&mut server.child).await;
    assert_eq!(status.signal(), Some(9), "{status:?}");

    // quit = SIGINT, by pid: a clean stop.
    let mut server = start(&["-a", "127.0.0.1", "-p", "-1"]).await;
    let pid = server.child.id().expect("running");
    let out = Command::new(BIN)
        .args(["--signal", &format!("quit={pid}")])
        .output()
        .await
        .expect("run --signal");
    assert!(out.status.success(), "{out:?}");
    assert!(wait_exit(&mut server.child).await.success());

    // Mistakes are clear errors.
    let out = Command::new(BIN)
        .args(["--signal", "bogus=1"])
        .output()
        .await
        .expect("run --signal");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown signal \"bogus\""), "{err}");
}
