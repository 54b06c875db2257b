//! Test support: a NATS server to run the `natrium` binary against, and helpers that run the
//! binary and wait for the events it announces (never for a fixed time).
//!
//! The server is natrium-server embedded in the test process. With
//! `NATRIUM_TEST_SERVER=reference` the tests run against Debian's reference `nats-server`
//! instead (found via `NATS_SERVER_BIN`, `PATH`, or `/usr/sbin/nats-server`).

#![allow(dead_code)] // each test file uses a different subset

use std::process::{Output, Stdio};
use std::time::Duration;

use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference::reference_binary_or_skip;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// Upper bound for anything a test waits for.
pub const BOUND: Duration = Duration::from_secs(30);

/// The `natrium` binary under test.
pub const NATRIUM: &str = env!("CARGO_BIN_EXE_natrium");

/// The `natrium-server` binary, built with the tests.
pub const NATRIUM_SERVER: &str = env!("CARGO_BIN_EXE_natrium-server");

/// A running NATS server for one test.
pub enum TestServer {
    /// natrium-server in this process.
    Embedded(natrium_server::Server),
    /// The reference nats-server as a child process (killed on drop).
    Reference(ServerProcess),
}

impl TestServer {
    /// Starts the server for a test; `None` only when the reference server was asked for
    /// and is not installed locally (outside CI).
    pub async fn start() -> Option<TestServer> {
        if std::env::var("NATRIUM_TEST_SERVER").as_deref() == Ok("reference") {
            return start_reference(&[]).await;
        }
        let server = natrium_server::Server::start(natrium_server::ServerOptions::ephemeral())
            .await
            .expect("embedded natrium-server starts");
        Some(TestServer::Embedded(server))
    }

    /// The client URL.
    pub fn url(&self) -> String {
        match self {
            TestServer::Embedded(server) => server.client_url(),
            TestServer::Reference(server) => server.client_url(),
        }
    }

    /// Pid of the process holding the server (this test process when embedded).
    pub fn pid(&self) -> u32 {
        match self {
            TestServer::Embedded(_) => std::process::id(),
            TestServer::Reference(server) => server.pid(),
        }
    }

    /// Stops the server.
    pub async fn stop(self) {
        match self {
            TestServer::Embedded(server) => server.shutdown().await,
            TestServer::Reference(server) => server.shutdown().await,
        }
    }
}

/// Starts the reference nats-server on a free loopback port with `extra` flags; `None` only
/// when it is not installed locally (outside CI).
pub async fn start_reference(extra: &[&str]) -> Option<TestServer> {
    let binary = reference_binary_or_skip("CLI reference-server")?;
    let server = ServerCommand::new(binary)
        .args(extra)
        .start()
        .await
        .expect("reference nats-server starts");
    Some(TestServer::Reference(server))
}

/// Runs `natrium -s URL ARGS...` to completion (bounded) and returns its output.
pub async fn run(url: &str, args: &[&str]) -> Output {
    let child = command(url, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("natrium starts");
    tokio::time::timeout(BOUND, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("natrium {args:?} did not finish in time"))
        .expect("natrium output")
}

fn command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(NATRIUM);
    command
        .arg("-s")
        .arg(url)
        .args(args)
        .env_remove("NATS_URL")
        .kill_on_drop(true);
    command
}

/// A long-running `natrium` process (sub, reply, bench sub) that has announced
/// `Listening on ...` on stderr.
pub struct Listening {
    /// The process.
    pub child: Child,
    /// Its stdout, line by line.
    pub stdout: Lines<BufReader<ChildStdout>>,
    /// The rest of its stderr.
    pub stderr: BufReader<ChildStderr>,
}

/// Starts `natrium -s URL ARGS...` and waits until it prints `Listening on` on stderr.
pub async fn spawn_listening(url: &str, args: &[&str]) -> Listening {
    let mut child = command(url, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("natrium starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    let stdout = BufReader::new(child.stdout.take().expect("stdout piped")).lines();
    tokio::time::timeout(BOUND, async {
        let mut line = String::new();
        loop {
            line.clear();
            let n = stderr.read_line(&mut line).await.expect("read stderr");
            assert!(n > 0, "natrium {args:?} exited before listening");
            if line.starts_with("Listening on") {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("natrium {args:?} did not start listening in time"));
    Listening {
        child,
        stdout,
        stderr,
    }
}

impl Listening {
    /// Waits (bounded) for the process to exit; returns its exit success, remaining stdout
    /// and remaining stderr.
    pub async fn finish(mut self) -> (bool, String, String) {
        tokio::time::timeout(BOUND, async {
            let mut out = String::new();
            while let Some(line) = self.stdout.next_line().await.expect("read stdout") {
                out.push_str(&line);
                out.push('\n');
            }
            let mut err = String::new();
            self.stderr
                .read_to_string(&mut err)
                .await
                .expect("read stderr");
            let status = self.child.wait().await.expect("wait for natrium");
            (status.success(), out, err)
        })
        .await
        .expect("natrium finished in time")
    }

    /// The next stdout line (bounded).
    pub async fn next_line(&mut self) -> String {
        tokio::time::timeout(BOUND, self.stdout.next_line())
            .await
            .expect("a line in time")
            .expect("read stdout")
            .expect("natrium still running")
    }
}

/// The process's stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The process's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs each `(arguments, message)` case against `url` and checks the command fails with
/// `message` in its stderr.
pub async fn assert_each_fails_with(url: &str, cases: &[(&[&str], &str)]) {
    for (args, message) in cases {
        let output = run(url, args).await;
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: expected {message:?} in {:?}",
            stderr(&output)
        );
    }
}
