//! Helpers shared by the server's integration tests: a raw protocol client that reads
//! whole lines and frames, with timeouts as failure bounds only.
#![allow(dead_code)]

/// The `both!` harness: one JetStream scenario against natrium-server and nats-server.
#[macro_use]
pub mod js_target;
/// Running the nats.py scripts of `tests/py/`.
pub mod py;
/// One script against natrium-server and the newest nats-server, transcripts compared.
pub mod transcript;

use std::time::Duration;

use natrium_server::{Server, ServerOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Upper bound for anything a test waits for.
pub const BOUND: Duration = Duration::from_secs(5);

/// Starts an embedded server on a free loopback port.
pub async fn start(opts: ServerOptions) -> Server {
    Server::start(opts).await.expect("server starts")
}

/// Starts an embedded server with default options on a free loopback port.
pub async fn start_default() -> Server {
    start(ServerOptions::ephemeral()).await
}

/// Connects an async-nats client.
pub async fn connect(server: &Server) -> async_nats::Client {
    tokio::time::timeout(BOUND, async_nats::connect(server.client_url()))
        .await
        .expect("connect within bound")
        .expect("connect")
}

/// A raw protocol client.
pub struct Raw {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl Raw {
    /// Connects and returns the client with the INFO line already read.
    pub async fn connect(server: &Server) -> (Raw, String) {
        let stream = TcpStream::connect(server.addr())
            .await
            .expect("tcp connect");
        let (r, w) = stream.into_split();
        let mut raw = Raw {
            reader: BufReader::new(r),
            writer: w,
        };
        let info = raw.line().await;
        assert!(info.starts_with("INFO {"), "{info}");
        (raw, info)
    }

    /// Connects, reads INFO, and sends `connect` (a CONNECT json) followed by PING, and
    /// waits for PONG.
    pub async fn handshake(server: &Server, connect_json: &str) -> Raw {
        let (mut raw, _) = Raw::connect(server).await;
        raw.send(&format!("CONNECT {connect_json}\r\nPING\r\n"))
            .await;
        raw.expect_line("PONG").await;
        raw
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, s: &str) {
        self.send_bytes(s.as_bytes()).await;
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.writer.write_all(b).await.expect("write");
    }

    /// Reads one line without its CR LF; panics on EOF or timeout.
    pub async fn line(&mut self) -> String {
        self.try_line().await.expect("a line, not EOF")
    }

    /// Reads one line without its CR LF; `None` on EOF.
    pub async fn try_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(BOUND, self.reader.read_line(&mut line))
            .await
            .expect("line within bound")
            .ok()?;
        if n == 0 {
            return None;
        }
        assert!(line.ends_with("\r\n"), "line without CR LF: {line:?}");
        line.truncate(line.len() - 2);
        Some(line)
    }

    /// Reads a line and asserts it equals `expected`.
    pub async fn expect_line(&mut self, expected: &str) {
        let line = self.line().await;
        assert_eq!(line, expected);
    }

    /// Reads exactly `n` bytes plus CR LF (a message payload).
    pub async fn payload(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n + 2];
        tokio::time::timeout(BOUND, self.reader.read_exact(&mut buf))
            .await
            .expect("payload within bound")
            .expect("payload");
        assert_eq!(&buf[n..], b"\r\n");
        buf.truncate(n);
        buf
    }

    /// Reads until EOF, returning everything left; panics if the server keeps the
    /// connection open past the bound.
    pub async fn read_to_eof(&mut self) -> String {
        let mut rest = Vec::new();
        tokio::time::timeout(BOUND, self.reader.read_to_end(&mut rest))
            .await
            .expect("server closes the connection within bound")
            .ok();
        String::from_utf8_lossy(&rest).into_owned()
    }
}
