//! Reloading the configuration (SIGHUP, as `natrium-server` serves it, and `Server::reload`)
//! changes the log level and `logtime` at run time, for connections already open too.
//!
//! One test in its own binary: it installs the process-wide logger.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use common::{BOUND, Raw};
use natrium_server::cli::{ServerArgs, normalize_args};
use natrium_server::{Server, logging};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn log_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the log holds `needle` (a reload is applied by the signal task, which has no
/// completion to await); returns the log.
async fn wait_for_log(path: &Path, needle: &str) -> String {
    tokio::time::timeout(BOUND, async {
        loop {
            let text = log_text(path);
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{needle:?} not logged; log:\n{}", log_text(path)))
}

/// Sends `SUB <subject> <sid>` and waits for the PONG after it: by then the operation was
/// processed (and traced, if tracing is on).
async fn sub_and_pong(raw: &mut Raw, subject: &str, sid: u32) {
    raw.send(&format!("SUB {subject} {sid}\r\nPING\r\n")).await;
    raw.expect_line("PONG").await;
}

#[tokio::test]
async fn sighup_reload_turns_trace_and_logtime_on_and_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("server.conf");
    let log = dir.path().join("server.log");
    let write_conf = |extra: &str| {
        std::fs::write(&conf, format!("listen: 127.0.0.1:-1\n{extra}")).expect("write config")
    };
    write_conf("");
    let argv = normalize_args(
        ["natrium-server", "-c", conf.to_str().expect("utf8 path")]
            .into_iter()
            .map(String::from),
    );
    let args = Cli::parse_from(argv).args;
    let resolved = args.resolve().expect("valid flags");
    logging::init(resolved.options.logging, Some(&log)).expect("logger");
    let signals = natrium_server::signal::Signals::install().expect("signal handlers");
    let server = Server::start(resolved.options)
        .await
        .expect("server starts");
    let serve = signals.serve(&server, || args.resolve().map(|r| r.options));
    tokio::pin!(serve);
    let pid = std::process::id().to_string();

    let test = async {
        let mut raw = Raw::handshake(&server, r#"{"verbose":false}"#).await;
        sub_and_pong(&mut raw, "before", 1).await;
        assert!(!log_text(&log).contains("<<- [SUB before 1]"));

        // trace: true, by SIGHUP, reaches the connection already open.
        write_conf("trace: true\n");
        natrium_server::signal::send(&format!("reload={pid}")).expect("SIGHUP");
        wait_for_log(&log, "[INF] Reloaded: trace = true").await;
        wait_for_log(&log, "Reloaded server configuration").await;
        sub_and_pong(&mut raw, "during", 2).await;
        let text = log_text(&log);
        assert!(text.contains("[TRC] "), "{text}");
        assert!(text.contains("<<- [SUB during 2]"), "{text}");
        let mut other = Raw::handshake(&server, r#"{"verbose":false}"#).await;
        sub_and_pong(&mut other, "new.conn", 3).await;
        assert!(log_text(&log).contains("<<- [SUB new.conn 3]"));

        // trace: false again: the trace lines stop.
        write_conf("");
        natrium_server::signal::send(&format!("reload={pid}")).expect("SIGHUP");
        wait_for_log(&log, "[INF] Reloaded: trace = false").await;
        let reloads = |t: &str| t.matches("Reloaded server configuration").count();
        tokio::time::timeout(BOUND, async {
            while reloads(&log_text(&log)) < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("second reload logged");
        sub_and_pong(&mut raw, "after", 4).await;
        sub_and_pong(&mut other, "after.other", 5).await;
        let text = log_text(&log);
        assert!(!text.contains("SUB after 4"), "{text}");
        assert!(!text.contains("SUB after.other 5"), "{text}");

        // logtime off, through Server::reload: lines lose their timestamp.
        let mut opts = server.options().clone();
        opts.logging.logtime = false;
        server.reload(&opts);
        let text = log_text(&log);
        let pid_tag = format!("[{pid}] ");
        let last = text.lines().last().expect("a line");
        assert_eq!(
            last,
            format!("{pid_tag}[INF] Reloaded server configuration")
        );
        assert!(text.contains("[INF] Reloaded: logtime = false"), "{text}");
        // Earlier lines had one: `[pid] YYYY/MM/DD HH:MM:SS.micros [INF] ...`.
        let first = text.lines().next().expect("a line");
        assert!(
            first.starts_with(&pid_tag) && first.as_bytes()[pid_tag.len() + 4] == b'/',
            "{first}"
        );
    };
    tokio::select! {
        _ = &mut serve => panic!("the signal loop ended early"),
        _ = test => {}
    }
    server.shutdown().await;
}
