//! Differential suite: the same raw NATS protocol bytes go to natrium-server (embedded,
//! in-process) and to Debian's reference `nats-server`; what comes back must be identical once
//! per-server fields (ids, versions, ports, ...) in `INFO` are masked.
//!
//! Each session is a file `tests/corpus/<name>.session`, listed in [`sessions!`] below so that
//! every session is its own test. The format, one step per line:
//!
//! ```text
//! # what it checks                    (comments and blank lines are ignored)
//! options: max_payload=16 token=s3cr3t (server options, applied to both servers)
//! conn a                              (open a client connection named `a`)
//! send a: SUB foo 1\r\nPUB foo 2\r\nhi\r\n
//! sync a                              (send PING, read until its PONG: a deterministic cut)
//! expect-close a                      (read until the server closes the connection)
//! await a: PING\r\n                    (read until a frame shown exactly like this arrives)
//! close a                             (the client closes its side)
//! ```
//!
//! `send` text is taken verbatim after `: `, with escapes `\r`, `\n`, `\t`, `\\`, `\xHH` and
//! `{{N*text}}` for `text` (escapes allowed) repeated N times. A `PING` line inside a `send` is counted, so a
//! later `sync` also waits for its PONG. At the end every connection still open is synced.
//! Set env `DIFFERENTIAL_SHOW=1` to print every reference transcript (for writing sessions).
//! `pool: a b` compares the messages received by `a` and `b` as one sorted pool (a queue
//! group spreads messages over its members at random).
//!
//! Options: `max_payload=N`, `max_control_line=N`, `max_connections=N`,
//! `max_subscriptions=N`, `token=T`, `user=U`, `password=P`, `auth_timeout_ms=N`,
//! `ping_interval_ms=N`, `ping_max=N`, `config=FILE` (a configuration file in `tests/corpus`,
//! appended to the reference's configuration; natrium-server takes its accounts, users and
//! `no_auth_user`).

use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use natrium_server::{Auth, ServerOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Upper bound for any single wait (a PONG, a close); never a pacing delay.
const WAIT: Duration = Duration::from_secs(5);

/// `INFO` fields whose values differ per server or per connection; their names are still
/// compared, only the values are replaced.
const MASKED_INFO_FIELDS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "go",
    "git_commit",
    "host",
    "port",
    "client_id",
    "client_ip",
    "nonce",
    "connect_urls",
    "ws_connect_urls",
    "xkey",
];

/// Marker frames the harness adds to a transcript.
const CLOSED: &str = "[closed by server]";
const PONG_TIMEOUT: &str = "[timed out waiting for PONG]";
const OPEN_TIMEOUT: &str = "[timed out waiting for the server to close]";
const FRAME_TIMEOUT: &str = "[timed out waiting for the awaited frame]";
const STOPPED: &str = "[session stopped after the timeout]";

// ---------------------------------------------------------------------------------------------
// Session format
// ---------------------------------------------------------------------------------------------

/// One parsed `.session` file.
#[derive(Debug)]
struct Session {
    options: SessionOptions,
    steps: Vec<Step>,
    /// Groups of connections whose messages are compared as one unordered pool.
    pools: Vec<Vec<String>>,
}

#[derive(Debug)]
enum Step {
    Conn(String),
    Send(String, Vec<u8>),
    Sync(String),
    ExpectClose(String),
    /// Read until a frame rendered exactly like this arrives.
    Await(String, String),
    Close(String),
}

/// Server options a session may set; `None` keeps the server default.
#[derive(Debug, Default)]
struct SessionOptions {
    max_payload: Option<u32>,
    max_control_line: Option<u32>,
    max_connections: Option<u32>,
    max_subscriptions: Option<u32>,
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
    auth_timeout: Option<Duration>,
    ping_interval: Option<Duration>,
    ping_max: Option<u32>,
    config: Option<String>,
}

/// The text of a configuration file in `tests/corpus`.
fn corpus_config(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

impl SessionOptions {
    fn parse(line: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("option `{pair}` is not key=value"))?;
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|e| format!("option `{key}`: `{value}` is not a number: {e}"))
            };
            let millis = || number().map(|n| Duration::from_millis(n.into()));
            match key {
                "max_payload" => options.max_payload = Some(number()?),
                "max_control_line" => options.max_control_line = Some(number()?),
                "max_connections" => options.max_connections = Some(number()?),
                "max_subscriptions" => options.max_subscriptions = Some(number()?),
                "token" => options.token = Some(value.to_owned()),
                "user" => options.user = Some(value.to_owned()),
                "password" => options.password = Some(value.to_owned()),
                "auth_timeout_ms" => options.auth_timeout = Some(millis()?),
                "ping_interval_ms" => options.ping_interval = Some(millis()?),
                "ping_max" => options.ping_max = Some(number()?),
                "config" => options.config = Some(value.to_owned()),
                _ => return Err(format!("unknown option `{key}`")),
            }
        }
        Ok(options)
    }

    /// The same options in nats-server config file syntax.
    fn reference_config(&self) -> String {
        let quote = |s: &str| Value::String(s.to_owned()).to_string();
        let mut config = String::new();
        let mut line = |key: &str, value: String| {
            let _ = writeln!(config, "{key}: {value}");
        };
        if let Some(n) = self.max_payload {
            line("max_payload", n.to_string());
        }
        if let Some(n) = self.max_control_line {
            line("max_control_line", n.to_string());
        }
        if let Some(n) = self.max_connections {
            line("max_connections", n.to_string());
        }
        if let Some(n) = self.max_subscriptions {
            line("max_subscriptions", n.to_string());
        }
        if let Some(d) = self.ping_interval {
            line("ping_interval", quote(&format!("{}ms", d.as_millis())));
        }
        if let Some(n) = self.ping_max {
            line("ping_max", n.to_string());
        }
        let mut auth = String::new();
        if let Some(token) = &self.token {
            let _ = writeln!(auth, "  token: {}", quote(token));
        }
        if let Some(user) = &self.user {
            let _ = writeln!(auth, "  user: {}", quote(user));
        }
        if let Some(password) = &self.password {
            let _ = writeln!(auth, "  password: {}", quote(password));
        }
        if let Some(timeout) = self.auth_timeout {
            let _ = writeln!(auth, "  timeout: {}", timeout.as_secs_f64());
        }
        if !auth.is_empty() {
            let _ = writeln!(config, "authorization {{\n{auth}}}");
        }
        if let Some(file) = &self.config {
            config.push_str(&corpus_config(file));
        }
        config
    }
}

fn parse_session(text: &str) -> Result<Session, String> {
    let mut options = SessionOptions::default();
    let mut steps = Vec::new();
    let mut pools = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", index + 1);
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("options:") {
            options = SessionOptions::parse(rest).map_err(at)?;
            continue;
        }
        if let Some(rest) = line.strip_prefix("pool:") {
            pools.push(rest.split_whitespace().map(str::to_owned).collect());
            continue;
        }
        if let Some(rest) = line.strip_prefix("await ") {
            let (name, frame) = rest
                .split_once(": ")
                .ok_or_else(|| at("expected `await NAME: FRAME`".into()))?;
            steps.push(Step::Await(name.trim().to_owned(), frame.to_owned()));
            continue;
        }
        if let Some(rest) = line.strip_prefix("send ") {
            let (name, data) = rest
                .split_once(": ")
                .ok_or_else(|| at("expected `send NAME: TEXT`".into()))?;
            steps.push(Step::Send(
                name.trim().to_owned(),
                unescape(data).map_err(at)?,
            ));
            continue;
        }
        let (verb, name) = line
            .split_once(' ')
            .ok_or_else(|| at(format!("expected `VERB NAME`, got `{line}`")))?;
        let name = name.trim().to_owned();
        steps.push(match verb {
            "conn" => Step::Conn(name),
            "sync" => Step::Sync(name),
            "expect-close" => Step::ExpectClose(name),
            "close" => Step::Close(name),
            _ => return Err(at(format!("unknown step `{verb}`"))),
        });
    }
    Ok(Session {
        options,
        steps,
        pools,
    })
}

/// Decodes the escapes of a `send` line into the bytes to write.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{{") {
            let (body, tail) = after
                .split_once("}}")
                .ok_or("`{{` without a closing `}}`")?;
            let (count, unit) = body
                .split_once('*')
                .ok_or("repetition must be `{{N*text}}`")?;
            let count: usize = count
                .parse()
                .map_err(|e| format!("repetition count `{count}`: {e}"))?;
            out.extend(unescape(unit)?.repeat(count));
            rest = tail;
            continue;
        }
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let escape = rest.get(1..2).ok_or("dangling `\\` at end of line")?;
        rest = &rest[2..];
        match escape {
            "r" => out.push(b'\r'),
            "n" => out.push(b'\n'),
            "t" => out.push(b'\t'),
            "\\" => out.push(b'\\'),
            "x" => {
                let hex = rest.get(..2).ok_or("`\\x` needs two hex digits")?;
                let byte = u8::from_str_radix(hex, 16).map_err(|e| format!("`\\x{hex}`: {e}"))?;
                out.push(byte);
                rest = &rest[2..];
            }
            other => return Err(format!("unknown escape `\\{other}`")),
        }
    }
    Ok(out)
}

/// Counts the lines of `data` that are a `PING` (any case; nats-server ignores whatever
/// follows the verb up to the line end).
fn count_pings(data: &[u8]) -> usize {
    data.split(|&b| b == b'\n')
        .rev()
        .skip(1) // The part after the last `\n` is not a complete line.
        .filter(|line| {
            let line = line.trim_ascii_start();
            line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"PING")
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// Running a session against one server
// ---------------------------------------------------------------------------------------------

/// What each connection received, in connection order: rendered, masked frames.
type Transcript = Vec<(String, Vec<String>)>;

/// One client connection of a session.
struct Conn {
    name: String,
    stream: Option<TcpStream>,
    /// Received bytes that do not form a complete frame yet.
    pending: Vec<u8>,
    frames: Vec<String>,
    pongs_received: usize,
    pings_sent: usize,
    closed_by_server: bool,
    /// A wait ran into [`WAIT`]; the session stops there.
    timed_out: bool,
}

impl Conn {
    async fn open(name: &str, addr: SocketAddr) -> Result<Self, String> {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect {name}: timed out"))?
            .map_err(|e| format!("connect {name}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay {name}: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            stream: Some(stream),
            pending: Vec::new(),
            frames: Vec::new(),
            pongs_received: 0,
            pings_sent: 0,
            closed_by_server: false,
            timed_out: false,
        })
    }

    fn is_open(&self) -> bool {
        self.stream.is_some() && !self.closed_by_server
    }

    async fn send(&mut self, data: &[u8]) {
        self.pings_sent += count_pings(data);
        if let Some(stream) = &mut self.stream {
            // A write to a connection the server already closed may fail; what the client
            // observes is read (and compared) separately, so the error itself is not recorded.
            let _ = stream.write_all(data).await;
        }
    }

    async fn sync(&mut self) {
        self.send(b"PING\r\n").await;
        let wanted = self.pings_sent;
        self.read_until(|conn| conn.pongs_received >= wanted, PONG_TIMEOUT)
            .await;
    }

    async fn expect_close(&mut self) {
        self.read_until(|_| false, OPEN_TIMEOUT).await;
    }

    async fn await_frame(&mut self, frame: &str) {
        let from = self.frames.len();
        self.read_until(
            |conn| conn.frames[from..].iter().any(|f| f == frame),
            FRAME_TIMEOUT,
        )
        .await;
    }

    fn close(&mut self) {
        self.stream = None;
    }

    /// Reads frames until `done` holds or the server closes; on timeout records `marker`.
    async fn read_until(&mut self, done: impl Fn(&Self) -> bool, marker: &str) {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 16 * 1024];
        loop {
            self.take_frames();
            if done(self) || !self.is_open() {
                return;
            }
            let Some(stream) = &mut self.stream else {
                return;
            };
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => {
                    self.frames.push(marker.to_owned());
                    self.timed_out = true;
                    return;
                }
                Ok(Ok(0)) | Ok(Err(_)) => {
                    // A reset and an orderly close look the same to a client: it is gone.
                    if !self.pending.is_empty() {
                        self.frames.push(format!(
                            "[incomplete frame] {}",
                            escape(&std::mem::take(&mut self.pending))
                        ));
                    }
                    self.frames.push(CLOSED.to_owned());
                    self.closed_by_server = true;
                    return;
                }
                Ok(Ok(n)) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Moves every complete frame from `pending` into `frames`.
    fn take_frames(&mut self) {
        while let Some(len) = frame_len(&self.pending) {
            let frame: Vec<u8> = self.pending.drain(..len).collect();
            if frame.trim_ascii() == b"PONG" {
                self.pongs_received += 1;
            }
            self.frames.push(render_frame(&frame));
        }
    }
}

/// The length of the first complete server frame in `buf`, if there is one.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.iter().position(|&b| b == b'\n')? + 1;
    let line = &buf[..line_end];
    let carries_payload = line.starts_with(b"MSG ") || line.starts_with(b"HMSG ");
    let size = carries_payload
        .then(|| {
            let last = line.trim_ascii().rsplit(|&b| b == b' ').next()?;
            std::str::from_utf8(last).ok()?.parse::<usize>().ok()
        })
        .flatten();
    match size {
        Some(size) => {
            let total = line_end + size + 2;
            (buf.len() >= total).then_some(total)
        }
        None => Some(line_end),
    }
}

/// Renders a frame as escaped text, with the per-server `INFO` fields masked.
fn render_frame(frame: &[u8]) -> String {
    if frame.starts_with(b"INFO ")
        && let (Some(start), Some(end)) = (
            frame.iter().position(|&b| b == b'{'),
            frame.iter().rposition(|&b| b == b'}'),
        )
        && let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&frame[start..=end])
    {
        // Sorted keys: field order is not something a client can rely on.
        let masked: BTreeMap<String, Value> = fields
            .into_iter()
            .map(|(key, value)| {
                let value = if MASKED_INFO_FIELDS.contains(&key.as_str()) {
                    Value::String("<masked>".into())
                } else {
                    value
                };
                (key, value)
            })
            .collect();
        let json = serde_json::to_string(&masked).unwrap_or_default();
        return format!(
            "{}{json}{}",
            escape(&frame[..start]),
            escape(&frame[end + 1..])
        );
    }
    escape(frame)
}

/// Printable ASCII as is, everything else escaped, so transcripts are readable and exact.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Plays `session` against the server at `addr` and returns what every connection received.
async fn play(session: &Session, addr: SocketAddr) -> Result<Transcript, String> {
    let mut conns: Vec<Conn> = Vec::new();
    for step in &session.steps {
        let name = match step {
            Step::Conn(name)
            | Step::Send(name, _)
            | Step::Sync(name)
            | Step::ExpectClose(name)
            | Step::Await(name, _)
            | Step::Close(name) => name,
        };
        if let Step::Conn(_) = step {
            if conns.iter().any(|c| &c.name == name) {
                return Err(format!("connection `{name}` opened twice"));
            }
            conns.push(Conn::open(name, addr).await?);
            continue;
        }
        let conn = conns
            .iter_mut()
            .find(|c| &c.name == name)
            .ok_or_else(|| format!("connection `{name}` used before `conn {name}`"))?;
        match step {
            Step::Conn(_) => {}
            Step::Send(_, data) => conn.send(data).await,
            Step::Sync(_) => conn.sync().await,
            Step::ExpectClose(_) => conn.expect_close().await,
            Step::Await(_, frame) => conn.await_frame(frame).await,
            Step::Close(_) => conn.close(),
        }
        if conn.timed_out {
            // Every later wait would time out too; the transcript already differs.
            conn.frames.push(STOPPED.to_owned());
            return Ok(finish(conns, &session.pools));
        }
    }
    for conn in &mut conns {
        if conn.is_open() && !conn.timed_out {
            conn.sync().await;
        }
    }
    Ok(finish(conns, &session.pools))
}

/// Turns the connections into a transcript, moving the messages of each pool into one sorted
/// pseudo-connection `pool a+b`: which queue member gets a message is up to the server, that
/// each message is delivered exactly once is not.
fn finish(conns: Vec<Conn>, pools: &[Vec<String>]) -> Transcript {
    let mut transcript: Transcript = conns
        .into_iter()
        .map(|c| (c.name, sort_fan_out(c.frames)))
        .collect();
    for pool in pools {
        let mut pooled = Vec::new();
        for (name, frames) in &mut transcript {
            if pool.contains(name) {
                let (messages, rest) = std::mem::take(frames)
                    .into_iter()
                    .partition(|f| f.starts_with("MSG ") || f.starts_with("HMSG "));
                *frames = rest;
                pooled.extend::<Vec<String>>(messages);
            }
        }
        pooled.sort();
        transcript.push((format!("pool {}", pool.join("+")), pooled));
    }
    transcript
}
/// Sorts, by sid, each run of consecutive message frames that differ only in their sid.
///
/// One publication matching several subscriptions of the same connection produces such a
/// run; nats-server delivers it in no particular order, so the order is not compared.
fn sort_fan_out(mut frames: Vec<String>) -> Vec<String> {
    // (frame without its sid, sid) for message frames.
    fn split_sid(frame: &str) -> Option<(String, String)> {
        if !(frame.starts_with("MSG ") || frame.starts_with("HMSG ")) {
            return None;
        }
        let mut fields: Vec<&str> = frame.splitn(4, ' ').collect();
        let sid = (*fields.get(2)?).to_owned();
        fields.remove(2);
        Some((fields.join(" "), sid))
    }
    let mut start = 0;
    while start < frames.len() {
        let Some((key, _)) = split_sid(&frames[start]) else {
            start += 1;
            continue;
        };
        let end = start
            + frames[start..]
                .iter()
                .take_while(|f| split_sid(f).is_some_and(|(k, _)| k == key))
                .count();
        // Numeric sids in numeric order: shorter first, then lexically.
        frames[start..end].sort_by_key(|f| split_sid(f).map(|(_, sid)| (sid.len(), sid)));
        start = end;
    }
    frames
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

fn show(transcript: &Transcript) -> String {
    let mut out = String::new();
    for (name, frames) in transcript {
        let _ = writeln!(out, "  conn {name}:");
        for frame in frames {
            let _ = writeln!(out, "    {}", clip(frame));
        }
    }
    out
}

/// Long frames (big payloads) shortened for display; comparisons use the whole frame.
fn clip(frame: &str) -> String {
    const SHOWN: usize = 300;
    match frame.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}... ({} more bytes)", &frame[..cut], frame.len() - cut),
        None => frame.to_owned(),
    }
}

fn load(name: &str) -> Session {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(format!("{name}.session"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_session(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn reference_transcript(bin: &Path, name: &str, session: &Session) -> Transcript {
    let server = ServerCommand::new(bin)
        .config(session.options.reference_config())
        .start()
        .await
        .unwrap_or_else(|e| panic!("session {name}: {e}"));
    let transcript = play(session, server.addr())
        .await
        .unwrap_or_else(|e| panic!("session {name} (reference): {e}"));
    server.shutdown().await;
    let timed_out = transcript
        .iter()
        .flat_map(|(_, frames)| frames)
        .any(|f| f == PONG_TIMEOUT || f == OPEN_TIMEOUT || f == FRAME_TIMEOUT);
    assert!(
        !timed_out,
        "session {name} does not run cleanly against the reference nats-server; fix the \
         session:\n{}",
        show(&transcript)
    );
    transcript
}

/// Runs one corpus session against both servers and compares the transcripts.
async fn check(name: &str) {
    let Some(bin) = reference::reference_binary_or_skip("differential") else {
        return;
    };
    check_with(&bin, name, &[]).await;
}

/// `INFO` fields only newer nats-servers send (natrium-server speaks as 2.9.10): left out
/// when comparing with the newest.
const NEWER_INFO_FIELDS: &[&str] = &["api_lvl", "git_commit", "xkey"];

/// Runs one corpus session against natrium-server and the newest nats-server.
async fn check_latest(name: &str) {
    let Some(bin) = reference::latest_binary_or_skip("differential (newest)") else {
        return;
    };
    check_with(&bin, name, NEWER_INFO_FIELDS).await;
}

/// `transcript` with the `INFO` fields `drop` left out.
fn without_info_fields(transcript: Transcript, drop: &[&str]) -> Transcript {
    let strip = |frame: String| -> String {
        let (Some(start), Some(end)) = (frame.find('{'), frame.rfind('}')) else {
            return frame;
        };
        if !frame.starts_with("INFO ") {
            return frame;
        }
        let Ok(mut fields) = serde_json::from_str::<BTreeMap<String, Value>>(&frame[start..=end])
        else {
            return frame;
        };
        fields.retain(|k, _| !drop.contains(&k.as_str()));
        let json = serde_json::to_string(&fields).unwrap_or_default();
        format!("{}{json}{}", &frame[..start], &frame[end + 1..])
    };
    transcript
        .into_iter()
        .map(|(conn, frames)| (conn, frames.into_iter().map(strip).collect()))
        .collect()
}

/// Runs one corpus session against natrium-server and the nats-server at `bin`, leaving
/// the `INFO` fields `drop` out of both transcripts.
async fn check_with(bin: &Path, name: &str, drop: &[&str]) {
    let session = load(name);
    let expected = without_info_fields(reference_transcript(bin, name, &session).await, drop);
    if std::env::var_os("DIFFERENTIAL_SHOW").is_some() {
        eprintln!("session {name} (reference):\n{}", show(&expected));
    }
    let actual = without_info_fields(natrium_transcript(name, &session).await, drop);
    if actual != expected {
        panic!(
            "session {name}: natrium-server differs from the reference nats-server\n\
             first difference: {}\n\
             --- reference nats-server:\n{}\
             --- natrium-server:\n{}",
            first_difference(&expected, &actual),
            show(&expected),
            show(&actual)
        );
    }
}

async fn natrium_transcript(name: &str, session: &Session) -> Transcript {
    let options = natrium_options(&session.options)
        .unwrap_or_else(|e| panic!("session {name}: natrium-server cannot be configured: {e}"));
    let server = natrium_server::Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("session {name}: natrium-server did not start: {e}"));
    let transcript = play(session, server.addr())
        .await
        .unwrap_or_else(|e| panic!("session {name} (natrium): {e}"));
    server.shutdown().await;
    transcript
}

/// The session's options as natrium-server options, on top of the embedded defaults.
fn natrium_options(session: &SessionOptions) -> Result<ServerOptions, String> {
    let mut options = ServerOptions::ephemeral();
    if let Some(n) = session.max_payload {
        options.max_payload = n;
    }
    if let Some(n) = session.max_control_line {
        options.max_control_line = n as usize;
    }
    if let Some(n) = session.max_connections {
        options.max_connections = n as usize;
    }
    if let Some(n) = session.max_subscriptions {
        options.max_subscriptions = n as usize;
    }
    if let Some(d) = session.ping_interval {
        options.ping_interval = d;
    }
    if let Some(n) = session.ping_max {
        options.ping_max = n;
    }
    if let Some(d) = session.auth_timeout {
        options.auth_timeout = d;
    }
    if let Some(file) = &session.config {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join(file);
        std::fs::write(&path, corpus_config(file)).map_err(|e| e.to_string())?;
        let loaded = natrium_server::config::load(&path)
            .map_err(|e| e.to_string())?
            .options;
        options.accounts = loaded.accounts;
        options.no_auth_user = loaded.no_auth_user;
        options.auth = loaded.auth;
        return Ok(options);
    }
    options.auth = match (&session.token, &session.user, &session.password) {
        (None, None, None) => Auth::None,
        (Some(token), None, None) => Auth::Token(token.clone()),
        (None, Some(user), Some(password)) => Auth::user(user.clone(), password.clone()),
        _ => return Err("use either token=T or user=U password=P".into()),
    };
    Ok(options)
}

/// Where two transcripts first disagree, for the failure message.
fn first_difference(expected: &Transcript, actual: &Transcript) -> String {
    for (index, (want, got)) in expected.iter().zip(actual).enumerate() {
        let (name, want_frames) = want;
        let got_frames = &got.1;
        let len = want_frames.len().max(got_frames.len());
        for frame in 0..len {
            let (w, g) = (want_frames.get(frame), got_frames.get(frame));
            if w != g {
                let shown = |f: Option<&String>| f.map_or("<nothing>".into(), |f| clip(f));
                return format!(
                    "conn {name} (#{index}), frame {frame}:\n  reference: {}\n  natrium:   {}",
                    shown(w),
                    shown(g)
                );
            }
        }
    }
    "different connections".into()
}

macro_rules! sessions {
    (
        also_on_latest { $($both:ident),* $(,)? }
        $($name:ident),* $(,)?
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $both() {
                check(stringify!($both)).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check(stringify!($name)).await;
            }
        )*

        /// The sessions of `also_on_latest` against the newest nats-server too: their bytes
        /// match it as they match 2.9.10.
        mod on_latest {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $both() {
                    super::check_latest(stringify!($both)).await;
                }
            )*
        }

        /// Every session listed above, to check that none in the corpus is forgotten.
        const LISTED: &[&str] = &[$(stringify!($both),)* $(stringify!($name)),*];
    };
}

sessions! {
    also_on_latest {
        accounts_isolation,
        accounts_service_import,
        accounts_no_auth_user,
        accounts_stream_import_prefix,
        accounts_unknown_user,
        accounts_verbose_login,
        accounts_wrong_password,
        nkey_bad_signature,
        nkey_missing_signature,
        nkey_password_user_beside_nkeys,
        nkey_unknown_key,
    }
    auth_ops_before_connect,
    auth_ping_before_connect,
    auth_second_connect_bad_token,
    auth_timeout,
    auth_timeout_partial_connect,
    auth_token_bad,
    auth_token_good,
    auth_token_good_then_ops_pipelined,
    auth_token_missing,
    auth_user_pass_against_token,
    auth_user_pass_bad_password,
    auth_user_pass_bad_user,
    auth_user_pass_good,
    auth_verbose_bad_password,
    case_insensitive_verbs,
    client_sends_msg,
    client_sends_ok_and_err,
    connect_bad_field_type,
    connect_bad_json,
    connect_defaults,
    connect_longer_than_control_line,
    connect_token_without_auth,
    connect_trailing_garbage,
    connect_twice,
    connect_unknown_fields,
    connect_verbose_false,
    connect_verbose_ok_every_op,
    connect_without_args,
    control_line_split_between_cr_and_lf,
    control_line_without_newline_too_long,
    echo_default_true,
    echo_false,
    echo_false_no_responders,
    empty_line,
    errors_then_pipelined_ops,
    hpub_client_status_line,
    hpub_header_size_too_big,
    hpub_headers_only_to_plain_client,
    hpub_headers_stripped_for_plain_client,
    hpub_hmsg,
    hpub_large_headers,
    hpub_leading_zero_sizes,
    hpub_many_messages_one_write,
    hpub_max_payload_exact,
    hpub_missing_sizes,
    hpub_non_nats_header_block,
    hpub_pedantic_invalid_subject,
    hpub_reply_and_empty_payload,
    hpub_reply_to_plain_client,
    hpub_size_ten_digits,
    hpub_verbose_and_queue,
    hpub_without_headers_in_connect,
    hpub_zero_header_size,
    hpub_zero_sizes,
    info_from_client,
    invalid_sub_subject,
    invalid_sub_subjects_various,
    leading_space_before_verb,
    long_subject,
    many_ops_one_write,
    max_connections,
    max_control_line_boundary,
    max_control_line_exceeded,
    max_control_line_fits,
    max_control_line_split_reads,
    max_payload_counts_headers,
    max_payload_exact,
    max_payload_exceeded,
    max_payload_then_pipelined_ops,
    max_subscriptions,
    missing_cr,
    no_responders,
    no_responders_not_requested,
    no_responders_queue_and_wildcard_responders,
    no_responders_with_responder,
    no_responders_without_headers,
    non_pedantic_wildcard_publish,
    ops_before_connect,
    partial_pub_then_close,
    payload_longer_than_size,
    payload_missing_cr,
    payload_without_crlf,
    pedantic_invalid_publish_subject,
    pedantic_invalid_utf8_publish,
    ping_before_connect,
    ping_interval_answered,
    ping_interval_unanswered_after_pongs,
    ping_pipelined,
    ping_with_args,
    ping_with_argument,
    pong_unsolicited,
    pub_bad_size,
    pub_bare_verb,
    pub_binary_payload,
    pub_large_payload,
    pub_leading_zero_size,
    pub_many_messages_one_write,
    pub_missing_size,
    pub_negative_size,
    pub_no_subscribers,
    pub_reply_subject,
    pub_size_nine_digits,
    pub_size_ten_digits,
    pub_size_with_plus,
    pub_sub_basic,
    pub_too_many_args,
    pub_trailing_blanks_after_size,
    pub_zero_payload,
    publish_to_full_wildcard_non_pedantic,
    queue_and_plain,
    queue_echo_false,
    queue_member_unsub,
    queue_members_and_plain_sub,
    queue_name_with_wildcards,
    queue_single_member,
    queue_two_members_two_conns,
    queue_unsub_max_across_conns,
    reply_subject_wildcard,
    request_reply,
    separators_tabs_and_spaces,
    sid_alphanumeric,
    split_byte_by_byte,
    split_connect_across_writes,
    split_pub_across_writes,
    stale_connection,
    sub_duplicate_sid,
    sub_exact_duplicate,
    sub_long_subject_over_default_control_line,
    sub_missing_sid,
    sub_subject_with_nul,
    sub_too_many_args,
    sub_trailing_space,
    sub_two_sids_same_subject,
    subject_invalid_utf8_and_controls,
    subject_tokens_edge,
    subject_utf8,
    unknown_op,
    unknown_op_before_connect,
    unsub_bad_max,
    unsub_max,
    unsub_max_already_reached,
    unsub_max_queue,
    unsub_max_zero,
    unsub_missing_sid,
    unsub_stops_delivery,
    unsub_then_no_responders,
    unsub_too_many_args,
    unsub_twice,
    unsub_unknown_sid,
    unsub_unknown_sid_verbose,
    verb_with_suffix,
    verb_without_separator,
    verbose_pedantic_invalid_publish,
    verbose_with_error,
    wildcard_full,
    wildcard_inside_token,
    wildcard_mixed,
    wildcard_star,
}

#[test]
fn every_corpus_session_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/corpus") {
        let path = entry.expect("corpus entry").path();
        if let Some(stem) = path
            .extension()
            .filter(|ext| *ext == "session")
            .and(path.file_stem())
            .and_then(|stem| stem.to_str())
            && !LISTED.contains(&stem)
        {
            missing.push(stem.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "add these to `sessions!` in differential.rs: {missing:?}"
    );
}

#[test]
fn session_format_parses_escapes_and_steps() {
    let session = parse_session(
        "# comment\noptions: max_payload=16 token=t\nconn a\nsend a: PUB x 2\\r\\n\\x00\\t\\\\{{3*ab}}{{2*\\r}}\nsync a\nexpect-close a\nclose a\n",
    )
    .expect("valid session");
    assert_eq!(session.options.max_payload, Some(16));
    assert_eq!(session.options.token.as_deref(), Some("t"));
    assert_eq!(session.steps.len(), 5);
    match &session.steps[1] {
        Step::Send(name, data) => {
            assert_eq!(name, "a");
            assert_eq!(data, b"PUB x 2\r\n\x00\t\\ababab\r\r");
        }
        other => panic!("expected send, got {other:?}"),
    }
    assert!(parse_session("conn a\nsend a: \\q\n").is_err());
    assert!(parse_session("options: nope=1\n").is_err());
    assert!(parse_session("jump a\n").is_err());
}

#[test]
fn frames_split_on_lines_and_payload_sizes() {
    assert_eq!(frame_len(b"+OK\r\nPONG\r\n"), Some(5));
    assert_eq!(frame_len(b"MSG a 1 5\r\nhe\r\nl\r\n"), Some(18));
    assert_eq!(frame_len(b"MSG a 1 5\r\nhe\r\n"), None);
    assert_eq!(frame_len(b"PON"), None);
    assert_eq!(
        count_pings(b"PING\r\nping\nPUB x 0\r\n\r\n  PING \r\nPING foo\r\nPONG\r\nPING"),
        4
    );
    let fan_out = sort_fan_out(vec![
        "MSG a 3 1\\r\\nx\\r\\n".to_owned(),
        "MSG a 1 1\\r\\nx\\r\\n".to_owned(),
        "MSG a 2 1\\r\\ny\\r\\n".to_owned(),
        "MSG a 1 1\\r\\ny\\r\\n".to_owned(),
    ]);
    assert_eq!(
        fan_out,
        [
            "MSG a 1 1\\r\\nx\\r\\n",
            "MSG a 3 1\\r\\nx\\r\\n",
            "MSG a 1 1\\r\\ny\\r\\n",
            "MSG a 2 1\\r\\ny\\r\\n"
        ]
    );
    assert_eq!(clip("short"), "short");
    assert_eq!(
        clip(&"x".repeat(305)),
        format!("{}... (5 more bytes)", "x".repeat(300))
    );
    let info = render_frame(b"INFO {\"port\":4222,\"proto\":1,\"headers\":true} \r\n");
    assert_eq!(
        info,
        "INFO {\"headers\":true,\"port\":\"<masked>\",\"proto\":1} \\r\\n"
    );
}
