//! Log output in nats-server's line format: `[pid] 2026/11/27 02:40:38.123456 [INF] message`
//! (`[pid] [INF] message` with `logtime` off).
//!
//! Timestamps are UTC (nats-server prints local time; servers here run in UTC). The level and
//! `logtime` can change at run time ([`apply`], called by `Server::reload`), as a SIGHUP
//! reload changes them in nats-server.

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

/// How verbose the log is and how its lines look (nats-server's `-D`, `-V` and `-T`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel {
    /// `-D`: debug lines (connections opening and closing, ...).
    pub debug: bool,
    /// `-V`: protocol trace lines.
    pub trace: bool,
    /// `-T` / `logtime`: timestamps on log lines (on by default).
    pub logtime: bool,
}

impl Default for LogLevel {
    fn default() -> Self {
        LogLevel {
            debug: false,
            trace: false,
            logtime: true,
        }
    }
}

/// Whether lines carry a timestamp; read by [`NatsFormat`] for every line.
static LOGTIME: AtomicBool = AtomicBool::new(true);

/// The handle that swaps the level filter installed by [`init`].
static FILTER: OnceLock<reload::Handle<Targets, Registry>> = OnceLock::new();

/// Our own crates at the chosen level; dependencies only when they warn.
fn filter_for(level: LogLevel) -> Targets {
    let max = if level.trace {
        LevelFilter::TRACE
    } else if level.debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target("natrium_server", max)
        .with_target("natrium", max)
        .with_target("natrium_cli", max)
}

/// Changes the level and `logtime` of the logger [`init`] installed. Returns `false` (and
/// changes nothing) when [`init`] did not install the process's logger.
pub fn apply(level: LogLevel) -> bool {
    let Some(handle) = FILTER.get() else {
        return false;
    };
    LOGTIME.store(level.logtime, Ordering::Relaxed);
    handle.reload(filter_for(level)).is_ok()
}

/// Formats events as nats-server does.
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsFormat;

fn level_tag(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERR",
        Level::WARN => "WRN",
        Level::INFO => "INF",
        Level::DEBUG => "DBG",
        Level::TRACE => "TRC",
    }
}

/// `YYYY/MM/DD HH:MM:SS.micros` in UTC.
fn write_timestamp(w: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    write!(
        w,
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(w, "[{}] ", std::process::id())?;
        if LOGTIME.load(Ordering::Relaxed) {
            write_timestamp(&mut w, SystemTime::now())?;
            w.write_char(' ')?;
        }
        write!(w, "[{}] ", level_tag(event.metadata().level()))?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file could not be opened.
    #[error("can't open log file {path}: {source}")]
    OpenFile {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Installs a global subscriber writing nats-server-style lines to stderr, or to `file`; its
/// level can later be changed with [`apply`]. Does nothing if the process already has a
/// global subscriber.
pub fn init(level: LogLevel, file: Option<&Path>) -> Result<(), LoggingError> {
    let (filter, handle) = reload::Layer::new(filter_for(level));
    let fmt = tracing_subscriber::fmt::layer().event_format(NatsFormat);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match file {
        Some(path) => {
            let f = File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LoggingError::OpenFile {
                    path: path.to_owned(),
                    source,
                })?;
            registry
                .with(fmt.with_writer(std::sync::Mutex::new(f)).with_ansi(false))
                .try_init()
        }
        None => registry.with(fmt.with_writer(std::io::stderr)).try_init(),
    };
    if installed.is_ok() {
        LOGTIME.store(level.logtime, Ordering::Relaxed);
        let _ = FILTER.set(handle);
    }
    Ok(())
}

/// How long a rate-limited statement stays quiet after it was logged.
const RATE_LIMIT_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Statements logged at most once per second, as nats-server rate-limits the errors a flood
/// of clients can trigger (a connection flood past `max_connections` writes one line, not one
/// per refused client).
#[derive(Debug, Default)]
pub(crate) struct RateLimited {
    last: parking_lot::Mutex<std::collections::HashMap<&'static str, std::time::Instant>>,
}

impl RateLimited {
    /// Whether `statement` may be logged now; if so, it stays quiet for the next second.
    pub(crate) fn allow(&self, statement: &'static str) -> bool {
        self.allow_at(statement, std::time::Instant::now())
    }

    fn allow_at(&self, statement: &'static str, now: std::time::Instant) -> bool {
        let mut last = self.last.lock();
        match last.get(statement) {
            Some(at) if now.saturating_duration_since(*at) < RATE_LIMIT_WINDOW => false,
            _ => {
                last.insert(statement, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
    }

    #[test]
    fn a_statement_is_logged_once_per_window_and_others_independently() {
        let limit = RateLimited::default();
        let t0 = std::time::Instant::now();
        assert!(limit.allow_at("a", t0));
        assert!(!limit.allow_at("a", t0 + std::time::Duration::from_millis(999)));
        assert!(limit.allow_at("b", t0 + std::time::Duration::from_millis(10)));
        assert!(limit.allow_at("a", t0 + RATE_LIMIT_WINDOW));
        assert!(!limit.allow_at(
            "a",
            t0 + RATE_LIMIT_WINDOW + std::time::Duration::from_millis(1)
        ));
    }
}
