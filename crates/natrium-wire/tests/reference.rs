//! Replays the recorded protocol table (`tests/common/cases.rs`) against the reference
//! nats-server, so the table stays true to what nats-server really does on the wire.
//!
//! The server binary is found via `NATS_SERVER_BIN`, then `nats-server` on `PATH`, then
//! `/usr/sbin/nats-server`. When it is missing the suite fails under `CI` and only warns
//! locally.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Op;
use common::cases::{self, Expect};
use natrium_test_support::reference::reference_binary_or_skip;
use natrium_wire::{is_valid_literal_subject, is_valid_subscribe_subject};

/// Failure bound for every read from the reference server.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A reference server on a random loopback port, killed on drop.
struct Reference {
    child: Child,
    port: u16,
}

impl Reference {
    fn start(binary: &PathBuf) -> Reference {
        let mut child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        let stderr = child.stderr.take().expect("piped stderr");
        // The server logs its chosen port. Keep draining the log afterwards: Go exits when it
        // writes to a closed stderr pipe.
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
                    let port: Option<u16> =
                        addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
                    let _ = port_tx.send(port);
                }
            }
        });
        let port = port_rx
            .recv_timeout(READ_TIMEOUT)
            .ok()
            .flatten()
            .expect("nats-server did not report its client port");
        Reference { child, port }
    }

    /// Opens a client connection, negotiates like the recorded runs, and waits for the PONG
    /// that proves the preamble was processed.
    fn connect(&self, headers: bool) -> TcpStream {
        self.connect_with(&format!(
            "{{\"verbose\":false,\"pedantic\":false,\"headers\":{headers}}}"
        ))
    }

    fn connect_with(&self, options: &str) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        let info = read_line(&mut stream);
        assert!(
            info.starts_with(b"INFO "),
            "greeting: {:?}",
            String::from_utf8_lossy(&info)
        );
        let connect = format!("CONNECT {options}\r\nSUB > 99\r\nPING\r\n");
        stream.write_all(connect.as_bytes()).expect("send preamble");
        assert_eq!(read_line(&mut stream), b"PONG\r\n");
        stream
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        let n = stream.read(&mut byte).expect("read line");
        assert_eq!(
            n,
            1,
            "connection closed mid-line: {:?}",
            String::from_utf8_lossy(&line)
        );
        line.push(byte[0]);
    }
    line
}

/// Reads until the server closes the connection (a reset counts as closed).
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "no close within {READ_TIMEOUT:?} ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// Reads until `count` PONGs have arrived, then returns everything read.
fn read_pongs(stream: &mut TcpStream, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    while out.windows(6).filter(|w| w == b"PONG\r\n").count() < count {
        match stream.read(&mut chunk) {
            Ok(0) => panic!("closed; got {:?}", String::from_utf8_lossy(&out)),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("{e}; got {:?}", String::from_utf8_lossy(&out)),
        }
    }
    out
}

/// Starts the reference server, or says loudly why not (and fails under CI).
fn reference() -> Option<Reference> {
    let binary = reference_binary_or_skip("protocol table")?;
    Some(Reference::start(&binary))
}

#[test]
fn recorded_cases_match_the_reference_server() {
    let Some(server) = reference() else {
        return;
    };
    let mut failures = Vec::new();
    for case in cases::all() {
        let mut stream = server.connect(case.headers);
        // A write may fail once the server has closed on an early byte; the reply still tells.
        let _ = stream.write_all(&case.input);
        let verdict = match &case.expect {
            Expect::Accepted { ops, server_err } => {
                let _ = stream.write_all(b"PING\r\n");
                let pings = ops.iter().filter(|op| **op == Op::Ping).count();
                let got = read_pongs(&mut stream, pings + 1);
                let err_line = server_err.map(|e| format!("-ERR '{e}'\r\n").into_bytes());
                let has_err = got.windows(5).any(|w| w == b"-ERR ");
                match err_line {
                    Some(line) if !got.windows(line.len()).any(|w| w == line) => {
                        Err(format!("expected {:?}", String::from_utf8_lossy(&line)))
                    }
                    None if has_err => Err("unexpected -ERR".to_string()),
                    _ => Ok(()),
                }
                .map_err(|e| format!("{e}; got {:?}", String::from_utf8_lossy(&got)))
            }
            Expect::Closed(message) => {
                let got = read_to_close(&mut stream);
                let want = message
                    .map(|m| format!("-ERR '{m}'\r\n").into_bytes())
                    .unwrap_or_default();
                (got == want).then_some(()).ok_or_else(|| {
                    format!(
                        "expected {:?} then close, got {:?}",
                        String::from_utf8_lossy(&want),
                        String::from_utf8_lossy(&got)
                    )
                })
            }
            Expect::ServerClosesSilently { .. } => {
                let got = read_to_close(&mut stream);
                got.is_empty().then_some(()).ok_or_else(|| {
                    format!(
                        "expected a silent close, got {:?}",
                        String::from_utf8_lossy(&got)
                    )
                })
            }
        };
        if let Err(why) = verdict {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "reference disagrees with the table:\n{}",
        failures.join("\n")
    );
}

/// Subjects that probe every subject rule (none holds a separator, so the parser passes them
/// through whole).
const TRICKY_SUBJECTS: &[&[u8]] = &[
    b"a",
    b"a.b",
    b"*",
    b">",
    b"a.*",
    b"a.>",
    b"*.*",
    b"*.>",
    b"a.*.>",
    b">.a",
    b">.>",
    b"a.>.b",
    b"a..b",
    b".a",
    b"a.",
    b".",
    b"..",
    b"a*",
    b"*a",
    b">a",
    b"a>",
    b"a.>b",
    b"a.b*.c",
    b"\x0c",
    b"a\x0cb",
    b"a.\x00.b",
    "\u{fc}.\u{df}".as_bytes(),
    b"$SYS.>",
    b"_INBOX.*",
];

/// Sends `op` then PING and returns what came back up to the PONG.
fn round_trip(stream: &mut TcpStream, op: &[u8]) -> Vec<u8> {
    stream.write_all(op).expect("send");
    stream.write_all(b"PING\r\n").expect("send PING");
    read_pongs(stream, 1)
}

#[test]
fn subscribe_subject_rule_matches_the_reference_server() {
    let Some(server) = reference() else {
        return;
    };
    let mut stream = server.connect(true);
    for (sid, subject) in TRICKY_SUBJECTS.iter().enumerate() {
        let sub = [
            &b"SUB "[..],
            subject,
            format!(" {}\r\n", sid + 100).as_bytes(),
        ]
        .concat();
        let got = round_trip(&mut stream, &sub);
        let refused = got.starts_with(b"-ERR 'Invalid Subject'\r\n");
        assert_eq!(
            !refused,
            is_valid_subscribe_subject(subject),
            "SUB {:?}: reference answered {:?}",
            String::from_utf8_lossy(subject),
            String::from_utf8_lossy(&got)
        );
    }
}

#[test]
fn literal_subject_rule_matches_the_reference_server_in_pedantic_mode() {
    let Some(server) = reference() else {
        return;
    };
    let mut stream = server.connect_with("{\"verbose\":false,\"pedantic\":true}");
    for subject in TRICKY_SUBJECTS {
        let publish = [&b"PUB "[..], subject, b" 0\r\n\r\n"].concat();
        let got = round_trip(&mut stream, &publish);
        // (nats-server 2.9 still delivers the message after this -ERR.)
        let needle = b"-ERR 'Invalid Publish Subject'\r\n";
        let refused = got.windows(needle.len()).any(|w| w == needle);
        assert_eq!(
            !refused,
            is_valid_literal_subject(subject),
            "PUB {:?}: reference answered {:?}",
            String::from_utf8_lossy(subject),
            String::from_utf8_lossy(&got)
        );
    }
}
