//! Fault injection against the natrium-server binary and nats-server 2.15 side by side, each
//! started with the same config file: slowloris clients (1 byte per second) reclaimed by
//! the auth and ping timeouts, 10,000 connections opened at once, and a connection flood
//! beyond `max_connections`. Each scenario checks the exact bytes the hostile client gets,
//! the server's log line where it writes one, and that a healthy client is undisturbed.
//!
//! These live with the CLI because they need the server as a separate process: 10,000
//! connections take 10,000 descriptors on each side, more than one process may hold here.
//! A client that stops reading is `limits.rs::slow_consumer_is_disconnected_without_
//! disturbing_others` in natrium-server's tests and a scenario of `natrium bench soak`.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::latest_binary_or_skip;
use support::NATRIUM_SERVER;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Upper bound for anything a scenario waits for.
const BOUND: Duration = Duration::from_secs(60);

/// The servers to run a scenario against: natrium-server always, nats-server 2.15 when
/// found (env `NATS_SERVER_LATEST_BIN`, else `nats-server-latest` on PATH); under `CI` a
/// missing nats-server fails the test, locally it warns.
fn servers() -> Vec<(&'static str, PathBuf)> {
    let mut servers = vec![("natrium-server", PathBuf::from(NATRIUM_SERVER))];
    if let Some(bin) = latest_binary_or_skip("fault scenarios on nats-server") {
        servers.push(("nats-server", bin));
    }
    servers
}

/// A server child started with a config file; its log is collected.
struct Running {
    process: ServerProcess,
    port: u16,
    http_port: u16,
}

impl Running {
    async fn start(binary: &PathBuf, config: &str) -> Running {
        let process = ServerCommand::new(binary)
            .config(config)
            .monitor()
            .ready_within(BOUND)
            .start()
            .await
            .expect("server ready in time");
        Running {
            port: process.port(),
            http_port: process.http_port().expect("monitored"),
            process,
        }
    }

    fn url(&self) -> String {
        self.process.client_url()
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Log lines containing `text`.
    fn log_lines(&self, text: &str) -> Vec<String> {
        self.process.log_lines(text)
    }

    /// `connections` from `/varz`.
    async fn connections(&self) -> u64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port))
            .await
            .expect("monitor port");
        stream
            .write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let body = &response[response.find("\r\n\r\n").expect("http body") + 4..];
        let varz: serde_json::Value = serde_json::from_str(body).expect("varz json");
        varz["connections"].as_u64().expect("connections")
    }

    /// Waits (polling /varz; the bound is the failure limit) until `n` clients remain.
    async fn wait_connections(&self, n: u64) {
        let deadline = Instant::now() + BOUND;
        loop {
            let now = self.connections().await;
            if now == n {
                return;
            }
            assert!(Instant::now() < deadline, "{now} connections, want {n}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Resident memory of `pid` in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// A healthy client that publishes to itself and must get every message back.
async fn round_trips(client: &async_nats::Client, subject: &str, n: usize) {
    let mut sub = client.subscribe(subject.to_owned()).await.unwrap();
    for i in 0..n {
        client
            .publish(subject.to_owned(), i.to_string().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    for i in 0..n {
        let msg = tokio::time::timeout(BOUND, sub.next())
            .await
            .expect("healthy client undisturbed")
            .unwrap();
        assert_eq!(msg.payload, i.to_string().as_bytes());
    }
}

/// Connects, reads INFO, then sends `data` one byte per second while reading; returns what
/// the server sent after INFO and how long until it closed.
async fn slowloris(port: u16, data: &'static [u8]) -> (String, Duration) {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut info = String::new();
    read.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO {"), "{info}");
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let mut second = tokio::time::interval(Duration::from_secs(1));
        for byte in data {
            second.tick().await;
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, read.read_to_end(&mut rest))
        .await
        .expect("the slowloris is closed")
        .ok();
    trickle.abort();
    (
        String::from_utf8_lossy(&rest).into_owned(),
        started.elapsed(),
    )
}

/// With authentication on, a client that sends its CONNECT 1 byte per second is closed at
/// the auth timeout with nats-server's error; an authenticated client is undisturbed.
#[tokio::test(flavor = "multi_thread")]
async fn slowloris_before_connect_is_closed_at_the_auth_timeout() {
    for (name, binary) in servers() {
        let server = Running::start(
            &binary,
            "authorization { user: soak, password: soak, timeout: 1 }\n",
        )
        .await;
        let healthy =
            async_nats::ConnectOptions::with_user_and_password("soak".into(), "soak".into())
                .connect(server.url())
                .await
                .unwrap();
        let (got, after) = slowloris(
            server.port,
            b"CONNECT {\"user\":\"soak\",\"pass\":\"soak\"}\r\n",
        )
        .await;
        assert_eq!(got, "-ERR 'Authentication Timeout'\r\n", "{name}");
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(3),
            "{name}: closed after {after:?}"
        );
        round_trips(&healthy, "healthy", 100).await;
        eprintln!("{name}: slowloris closed after {after:?}: {got:?}");
        for line in server.log_lines("Authentication Timeout") {
            eprintln!("{name} log: {line}");
        }
    }
}

/// Without authentication there is no auth timeout: a client that trickles a CONNECT and a
/// PUB 1 byte per second (and never answers PING) is closed as stale after `ping_max`
/// unanswered pings, as nats-server does; a healthy client is undisturbed.
#[tokio::test(flavor = "multi_thread")]
async fn slowloris_without_auth_is_closed_as_stale() {
    for (name, binary) in servers() {
        let server = Running::start(&binary, "ping_interval: \"1s\"\nping_max: 2\n").await;
        let healthy = async_nats::connect(server.url()).await.unwrap();
        let (got, after) = slowloris(
            server.port,
            b"CONNECT {\"verbose\":false}\r\nPUB slow 100\r\nnever all of it",
        )
        .await;
        assert_eq!(got, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n", "{name}");
        assert!(
            after >= Duration::from_millis(2500) && after < Duration::from_secs(6),
            "{name}: closed after {after:?}"
        );
        round_trips(&healthy, "healthy", 100).await;
        eprintln!("{name}: slowloris closed after {after:?}: {got:?}");
    }
}

/// Opens `n` raw clients at once; each completes CONNECT/PING/PONG. Returns them open.
async fn open_at_once(port: u16, n: usize) -> Vec<TcpStream> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(async move {
            let mut stream = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await?);
            stream
                .get_mut()
                .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
                .await?;
            let mut line = String::new();
            loop {
                line.clear();
                if stream.read_line(&mut line).await? == 0 {
                    return Ok::<_, std::io::Error>(Err(String::new()));
                }
                if line == "PONG\r\n" {
                    return Ok(Ok(stream.into_inner()));
                }
                if line.starts_with("-ERR") {
                    return Ok(Err(line));
                }
            }
        });
    }
    let mut open = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            Ok(Ok(stream)) => open.push(stream),
            Ok(Err(refused)) => panic!("refused: {refused:?}"),
            Err(e) => panic!("connection failed: {e}"),
        }
    }
    open
}

/// The most client connections this process can hold next to its own files.
fn connection_budget(wanted: usize) -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(1024);
    let budget = wanted.min(soft.saturating_sub(256));
    if budget < wanted {
        eprintln!(
            "!!! WARNING: open-files limit {soft}: opening {budget} connections, not {wanted}"
        );
    }
    budget
}

/// 10,000 clients connect at once: all are served, a healthy client keeps its round trips,
/// and when they leave the server is back to one connection.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_connections_at_once() {
    let n = connection_budget(10_000);
    for (name, binary) in servers() {
        let server = Running::start(&binary, "").await;
        let healthy = async_nats::connect(server.url()).await.unwrap();
        let started = Instant::now();
        let open = tokio::time::timeout(BOUND, open_at_once(server.port, n))
            .await
            .expect("all connected in time");
        let took = started.elapsed();
        assert_eq!(open.len(), n);
        server.wait_connections(n as u64 + 1).await;
        let rss = rss_mib(server.pid());
        round_trips(&healthy, "healthy", 100).await;
        drop(open);
        server.wait_connections(1).await;
        round_trips(&healthy, "healthy", 100).await;
        eprintln!("{name}: {n} connections at once in {took:?}, server RSS {rss:.1} MiB");
    }
}

/// 200 clients at once against `max_connections: 50` with two healthy clients already in:
/// exactly 48 are served, the rest get nats-server's error and are closed, and the healthy
/// pair exchanges every message while the flood lasts.
#[tokio::test(flavor = "multi_thread")]
async fn flood_beyond_max_connections_is_refused_and_others_are_undisturbed() {
    for (name, binary) in servers() {
        let server = Running::start(&binary, "max_connections: 50\n").await;
        let subscriber = async_nats::connect(server.url()).await.unwrap();
        let publisher = async_nats::connect(server.url()).await.unwrap();
        let mut sub = subscriber.subscribe("steady").await.unwrap();
        // `flush` only writes the buffer: a request the server answers with "no responders"
        // proves it has processed the SUB before it (otherwise the first messages can pass
        // the subscriber while the flood delays its SUB).
        let probe = subscriber.request("faults.probe", "".into()).await;
        assert!(
            probe.is_err_and(|e| e.kind() == async_nats::client::RequestErrorKind::NoResponders),
            "{name}: the probe is answered with no responders"
        );
        let port = server.port;
        let flood_started = std::time::Instant::now();
        let flood = tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..200 {
                tasks.spawn(async move {
                    let mut stream =
                        BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
                    stream
                        .get_mut()
                        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
                        .await
                        .ok();
                    let mut info = String::new();
                    stream.read_line(&mut info).await.unwrap();
                    assert!(info.starts_with("INFO {"), "{info}");
                    let mut line = String::new();
                    stream.read_line(&mut line).await.unwrap();
                    if line == "PONG\r\n" {
                        return (Some(stream), None);
                    }
                    let mut rest = String::new();
                    stream.read_to_string(&mut rest).await.ok();
                    (None, Some(line + &rest))
                });
            }
            let (mut served, mut refused) = (Vec::new(), Vec::new());
            while let Some(done) = tasks.join_next().await {
                match done.unwrap() {
                    (Some(stream), _) => served.push(stream),
                    (_, Some(answer)) => refused.push(answer),
                    _ => unreachable!(),
                }
            }
            (served, refused)
        });
        // The healthy pair during the flood.
        for i in 0..2_000u32 {
            publisher
                .publish("steady", i.to_string().into())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
        for i in 0..2_000u32 {
            let msg = tokio::time::timeout(BOUND, sub.next())
                .await
                .expect("healthy subscriber undisturbed")
                .unwrap();
            assert_eq!(msg.payload, i.to_string().as_bytes(), "{name}");
        }
        let (served, refused) = tokio::time::timeout(BOUND, flood)
            .await
            .expect("flood answered")
            .unwrap();
        let flood_secs = flood_started.elapsed().as_secs();
        assert_eq!(served.len(), 48, "{name}");
        assert_eq!(refused.len(), 152, "{name}");
        for answer in &refused {
            assert_eq!(answer, "-ERR 'maximum connections exceeded'\r\n", "{name}");
        }
        // The same log line as nats-server's, rate-limited to one per second: a flood of
        // refusals must not flood the log.
        let logged = server.log_lines(" - maximum connections exceeded");
        assert!(
            logged
                .first()
                .is_some_and(|l| l.contains("[ERR] 127.0.0.1:")),
            "{name}: {logged:?}"
        );
        assert!(
            logged.len() as u64 <= flood_secs + 1,
            "{name}: {} lines for 152 refusals in {flood_secs} s",
            logged.len()
        );
        eprintln!(
            "{name}: 48 served, 152 refused; {} log lines, e.g. {:?}",
            logged.len(),
            logged.first()
        );
        drop(served);
        server.wait_connections(2).await;
    }
}
