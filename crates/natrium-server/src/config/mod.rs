//! Server settings from a nats-server configuration file (`-c`), read with `natrium-conf`.
//!
//! Only the keys natrium-server implements are accepted. A key nats-server knows but
//! natrium-server does not implement (cluster, jetstream, HTTPS monitoring, ...) is a clear
//! "not supported yet" error rather than silently ignored; any other key is an error too,
//! with its position.

mod accounts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use natrium_conf::{ConfError, Entry, Map, Value};

use crate::options::{Auth, ServerOptions, User};
use crate::tls::TlsOptions;

/// Settings read from a configuration file.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    /// Server options (defaults where the file says nothing).
    pub options: ServerOptions,
    /// `debug`.
    pub debug: Option<bool>,
    /// `trace`.
    pub trace: Option<bool>,
    /// `logtime`.
    pub logtime: Option<bool>,
    /// `log_file` / `logfile`.
    pub log_file: Option<PathBuf>,
    /// `allow_non_tls` (applied to the TLS settings, from the file or the flags).
    pub allow_non_tls: bool,
    /// A top-level `store_dir` (JetStream's, unless its block names one).
    pub store_dir: Option<PathBuf>,
    /// Whether `authorization { timeout }` was given. When it was not, nats-server's default
    /// auth timeout is 2 s without TLS and the TLS timeout + 1 s with TLS.
    pub auth_timeout_set: bool,
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or a value has the wrong type.
    #[error("{path}: {source}")]
    Conf {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its position.
        source: ConfError,
    },
    /// A value is out of range or a combination is invalid.
    #[error("{path}: {pos}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Position of the key.
        pos: String,
        /// What is wrong.
        message: String,
    },
}

/// nats-server keys natrium-server does not implement yet.
const NOT_SUPPORTED: &[&str] = &[
    "https",
    "https_port",
    "http_base_path",
    "cluster",
    "gateway",
    "leafnodes",
    "leaf",
    "websocket",
    "mqtt",
    "trusted",
    "trusted_keys",
    "nkeys",
    "connect_error_reports",
    "reconnect_error_reports",
];

/// Keys accepted and deliberately ignored (they only affect features core NATS does not
/// need, or log formatting).
const IGNORED: &[&str] = &["logtime_utc", "syslog", "remote_syslog"];

/// Reads `path`.
pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let conf_err = |source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    };
    let doc = natrium_conf::parse_file(path).map_err(conf_err)?;
    let map = doc.as_map().map_err(conf_err)?;
    let mut cfg = FileConfig::default();
    apply(map, &mut cfg, path)?;
    Ok(cfg)
}

fn invalid(path: &Path, entry: &Entry, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        pos: entry.key_pos().to_string(),
        message: message.into(),
    }
}

fn apply(map: &Map, cfg: &mut FileConfig, path: &Path) -> Result<(), ConfigError> {
    let conf_err = |source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    };
    let mut account_users = Vec::new();
    let mut operator = crate::operator::OperatorOptions::default();
    let mut operator_mode = false;
    for entry in map.iter() {
        let o = &mut cfg.options;
        let key = entry.key().to_ascii_lowercase();
        let v = entry.value();
        match key.as_str() {
            "host" | "net" => o.host = v.as_str().map_err(conf_err)?.to_owned(),
            "listen" => {
                let (host, port) = parse_listen(v).map_err(|m| invalid(path, entry, m))?;
                if let Some(host) = host {
                    o.host = host;
                }
                o.port = port;
            }
            "port" => {
                o.port = match v.as_i64().map_err(conf_err)? {
                    -1 => 0,
                    0 => crate::DEFAULT_PORT,
                    p => u16::try_from(p)
                        .map_err(|_| invalid(path, entry, format!("invalid port {p}")))?,
                }
            }
            "http_port" | "monitor_port" => {
                let port = v.as_i64().map_err(conf_err)?;
                o.http_port = monitor_port(port).map_err(|m| invalid(path, entry, m))?;
            }
            "http" => {
                let (host, port) = parse_http(v).map_err(|m| invalid(path, entry, m))?;
                if let Some(host) = host {
                    o.http_host = Some(host);
                }
                o.http_port = port;
            }
            "server_name" => o.server_name = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "max_payload" => {
                o.max_payload = u32::try_from(v.as_size().map_err(conf_err)?)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| invalid(path, entry, "max_payload must be 1 to 4294967295"))?
            }
            "max_pending" => o.max_pending = size(v, path, entry)?,
            "max_control_line" => o.max_control_line = size(v, path, entry)?,
            "max_connections" | "max_conn" => o.max_connections = size(v, path, entry)?,
            "max_subscriptions" | "max_subs" => o.max_subscriptions = size(v, path, entry)?,
            "ping_interval" => o.ping_interval = field_duration(path, entry)?,
            "ping_max" => {
                o.ping_max = u32::try_from(v.as_i64().map_err(conf_err)?)
                    .map_err(|_| invalid(path, entry, "ping_max must not be negative"))?
            }
            "write_deadline" => o.write_deadline = field_duration(path, entry)?,
            "authorization" => {
                let map = v.as_map().map_err(conf_err)?;
                cfg.auth_timeout_set |= apply_authorization(map, o, path)?;
            }
            "tls" => o.tls = Some(parse_tls(entry, path)?),
            "operator" | "operators" | "trusted_operators" => {
                operator_mode = true;
                operator.operators.extend(operator_jwts(entry, path)?);
            }
            "system_account" | "system" => {
                let name = v.as_str().map_err(conf_err)?.to_owned();
                operator.system_account = Some(name.clone());
                o.system_account = Some(name);
            }
            "resolver" => check_resolver(entry, path)?,
            "resolver_preload" => {
                for e in v.as_map().map_err(conf_err)?.iter() {
                    let token = e.value().as_str().map_err(conf_err)?.to_owned();
                    operator.accounts.push((e.key().to_owned(), token));
                }
            }
            "accounts" => o.accounts = accounts::parse_accounts(entry, path, &mut account_users)?,
            "jetstream" => o.jetstream = parse_jetstream(entry, path)?,
            "store_dir" => cfg.store_dir = Some(v.as_str().map_err(conf_err)?.into()),
            "allow_non_tls" => cfg.allow_non_tls = v.as_bool().map_err(conf_err)?,
            "no_auth_user" => o.no_auth_user = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "lame_duck_duration" => o.lame_duck_duration = string_duration(path, entry)?,
            "lame_duck_grace_period" => o.lame_duck_grace_period = string_duration(path, entry)?,
            "pid_file" => o.pid_file = Some(v.as_str().map_err(conf_err)?.into()),
            "ports_file_dir" => o.ports_file_dir = Some(v.as_str().map_err(conf_err)?.into()),
            "debug" => cfg.debug = Some(v.as_bool().map_err(conf_err)?),
            "trace" => cfg.trace = Some(v.as_bool().map_err(conf_err)?),
            "logtime" => cfg.logtime = Some(v.as_bool().map_err(conf_err)?),
            "log_file" | "logfile" => cfg.log_file = Some(v.as_str().map_err(conf_err)?.into()),
            k if IGNORED.contains(&k) => {}
            k if NOT_SUPPORTED.contains(&k) => {
                return Err(invalid(
                    path,
                    entry,
                    format!("`{}` is not supported yet by natrium-server", entry.key()),
                ));
            }
            _ if entry.is_used_as_variable() => {}
            _ => {
                return Err(invalid(
                    path,
                    entry,
                    format!("unknown field `{}`", entry.key()),
                ));
            }
        }
    }
    if let Some(tls) = &mut cfg.options.tls {
        tls.allow_non_tls = cfg.allow_non_tls;
    }
    if operator_mode {
        // Checked here too, so a bad JWT is reported with the file's position.
        crate::operator::Trust::new(&operator).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            pos: map
                .get_entry("operator")
                .or_else(|| map.get_entry("operators"))
                .map_or_else(|| "1:1".into(), |e| e.key_pos().to_string()),
            message: e.to_string(),
        })?;
        cfg.options.operator = Some(operator);
    } else if !operator.accounts.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            pos: map
                .get_entry("resolver_preload")
                .map_or_else(|| "1:1".into(), |e| e.key_pos().to_string()),
            message: "resolver_preload needs an operator".into(),
        });
    }
    add_account_users(map, cfg, account_users, path)?;
    // A top-level `store_dir` is JetStream's unless its block names one.
    if let (Some(dir), Some(js)) = (&cfg.store_dir, &mut cfg.options.jetstream)
        && js.store_dir.is_none()
    {
        js.store_dir = Some(dir.clone());
    }
    if !cfg.auth_timeout_set {
        cfg.options.auth_timeout = default_auth_timeout(cfg.options.tls.as_ref());
    }
    Ok(())
}

/// `operator: JWT | path | [JWT | path, ...]`: the operator JWTs. A file may hold the bare
/// token or nsc's decorated form (`-----BEGIN NATS OPERATOR JWT-----`).
fn operator_jwts(entry: &Entry, path: &Path) -> Result<Vec<String>, ConfigError> {
    let v = entry.value();
    let items: Vec<&Value> = match v.as_array() {
        Ok(list) => list.iter().collect(),
        Err(_) => vec![v],
    };
    let mut jwts = Vec::new();
    for item in items {
        let text = item.as_str().map_err(|source| ConfigError::Conf {
            path: path.to_owned(),
            source,
        })?;
        if looks_like_jwt(text) {
            jwts.push(text.trim().to_owned());
            continue;
        }
        // Relative to the configuration file, as `include`s are.
        let file = path.parent().unwrap_or(Path::new(".")).join(text);
        let contents = std::fs::read_to_string(&file).map_err(|e| {
            invalid(
                path,
                entry,
                format!("error reading operator JWT {}: {e}", file.display()),
            )
        })?;
        let token = contents
            .lines()
            .map(str::trim)
            .find(|l| looks_like_jwt(l))
            .ok_or_else(|| invalid(path, entry, format!("no JWT in {}", file.display())))?;
        jwts.push(token.to_owned());
    }
    Ok(jwts)
}

fn looks_like_jwt(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("eyJ") && text.matches('.').count() == 2
}

/// `resolver: MEMORY` is the one resolver natrium-server has.
fn check_resolver(entry: &Entry, path: &Path) -> Result<(), ConfigError> {
    match entry.value().as_str() {
        Ok(s) if s.eq_ignore_ascii_case("MEMORY") => Ok(()),
        _ => Err(invalid(
            path,
            entry,
            "only `resolver: MEMORY` is supported yet by natrium-server (not the full, \
             cache or URL resolvers)",
        )),
    }
}

/// Adds the users of the `accounts` block to the authorization users, then checks accounts,
/// users and `no_auth_user` together as nats-server does at load.
fn add_account_users(
    map: &Map,
    cfg: &mut FileConfig,
    account_users: Vec<User>,
    path: &Path,
) -> Result<(), ConfigError> {
    let o = &mut cfg.options;
    let key_pos = |key: &str| {
        map.get_entry(key)
            .map_or_else(|| "1:1".to_string(), |e| e.key_pos().to_string())
    };
    if !account_users.is_empty() {
        match &mut o.auth {
            Auth::None => o.auth = Auth::Users(account_users),
            Auth::Users(list) => list.extend(account_users),
            Auth::Token(_) => {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    pos: key_pos("authorization"),
                    message: "Can not have a token and a users array".into(),
                });
            }
        }
    }
    crate::accounts::validate(o).map_err(|err| {
        let key = match err {
            crate::accounts::AccountError::NoAuthUser(_) => "no_auth_user",
            _ => "accounts",
        };
        ConfigError::Invalid {
            path: path.to_owned(),
            pos: key_pos(key),
            message: err.to_string(),
        }
    })
}

/// nats-server's default auth timeout: 2 s, or the TLS timeout + 1 s when TLS is on (the
/// client's clock starts after the handshake, but a slow handshake should not eat into it).
pub(crate) fn default_auth_timeout(tls: Option<&TlsOptions>) -> Duration {
    match tls {
        Some(t) => t.timeout + Duration::from_secs(1),
        None => Duration::from_secs(2),
    }
}

/// nats-server `tls { }` keys natrium-server does not implement yet.
const TLS_NOT_SUPPORTED: &[&str] = &[
    "insecure",
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "cipher_suites",
    "curve_preferences",
    "pinned_certs",
    "connection_rate_limit",
];

/// `jetstream` keys nats-server knows that natrium-server does not implement yet.
const JETSTREAM_NOT_SUPPORTED: &[&str] = &[
    "key",
    "prev_key",
    "cipher",
    "extension_hint",
    "limits",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_msgs",
    "max_buffered_size",
    "request_queue_limit",
    "max_catchup",
    "tpm",
];

/// `jetstream: enabled` (a bool or `enabled`/`disabled`), or the block `jetstream {
/// store_dir, max_memory_store, max_file_store, strict, sync_interval, domain }`, as
/// nats-server reads them. `None` when JetStream is turned off.
fn parse_jetstream(
    entry: &Entry,
    path: &Path,
) -> Result<Option<crate::JetStreamOptions>, ConfigError> {
    let conf_err = |source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    };
    let v = entry.value();
    if let Ok(on) = v.as_bool() {
        return Ok(on.then(crate::JetStreamOptions::default));
    }
    if let Ok(s) = v.as_str() {
        return match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" | "true" | "yes" | "on" => {
                Ok(Some(crate::JetStreamOptions::default()))
            }
            "disabled" | "disable" | "false" | "no" | "off" => Ok(None),
            _ => Err(invalid(
                path,
                entry,
                format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
            )),
        };
    }
    let map = v.as_map().map_err(conf_err)?;
    let mut js = crate::JetStreamOptions::default();
    let mut enabled = true;
    for e in map.iter() {
        let v = e.value();
        let bytes = |what: &str| -> Result<i64, ConfigError> {
            let n = match v.as_i64() {
                Ok(n) => n,
                Err(_) => i64::try_from(v.as_size().map_err(conf_err)?).unwrap_or(i64::MAX),
            };
            if n < -1 {
                return Err(invalid(path, e, format!("{what} must be -1 or positive")));
            }
            Ok(n)
        };
        match e.key().to_ascii_lowercase().as_str() {
            "store_dir" | "store" | "storedir" => {
                js.store_dir = Some(PathBuf::from(v.as_str().map_err(conf_err)?))
            }
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                js.max_memory = Some(bytes("max_memory_store")?).filter(|&n| n >= 0)
            }
            "max_file_store" | "max_file" => {
                js.max_store = Some(bytes("max_file_store")?).filter(|&n| n >= 0)
            }
            "strict" => js.strict = v.as_bool().map_err(conf_err)?,
            // Checked when the server starts, as nats-server's `validateOptions` does.
            "domain" => js.domain = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "enabled" | "enable" => enabled = v.as_bool().map_err(conf_err)?,
            "sync_interval" | "sync" => {
                js.sync = match v.as_str() {
                    Ok(s) if s.eq_ignore_ascii_case("always") => crate::SyncPolicy::Always,
                    Ok(_) => crate::SyncPolicy::Interval(field_duration(path, e)?),
                    // nats-server takes no bare number here (unlike ping_interval).
                    Err(_) => return Err(not_a_duration(path, e, "sync_interval")),
                }
            }
            k if JETSTREAM_NOT_SUPPORTED.contains(&k) => {
                return Err(invalid(
                    path,
                    e,
                    format!(
                        "`jetstream.{}` is not supported yet by natrium-server",
                        e.key()
                    ),
                ));
            }
            _ if e.is_used_as_variable() => {}
            _ => return Err(invalid(path, e, format!("unknown field \"{}\"", e.key()))),
        }
    }
    Ok(enabled.then_some(js))
}

/// The `tls { cert_file, key_file, ca_file, verify, timeout }` block. The files are read when
/// the server starts (a bad one stops it with a [`crate::TlsError`]).
fn parse_tls(entry: &Entry, path: &Path) -> Result<TlsOptions, ConfigError> {
    let conf_err = |source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    };
    let map = entry.value().as_map().map_err(conf_err)?;
    let (mut cert, mut key, mut ca, mut verify) = (None, None, None, false);
    let mut timeout = crate::tls::DEFAULT_TLS_TIMEOUT;
    for e in map.iter() {
        let v = e.value();
        match e.key().to_ascii_lowercase().as_str() {
            "cert_file" => cert = Some(PathBuf::from(v.as_str().map_err(conf_err)?)),
            "key_file" => key = Some(PathBuf::from(v.as_str().map_err(conf_err)?)),
            "ca_file" => ca = Some(PathBuf::from(v.as_str().map_err(conf_err)?)),
            "verify" => verify = v.as_bool().map_err(conf_err)?,
            "timeout" => {
                let t = seconds_or_duration(path, e, "tls")?;
                // 0 keeps the default, as in nats-server.
                if !t.is_zero() {
                    timeout = t;
                }
            }
            k if TLS_NOT_SUPPORTED.contains(&k) => {
                return Err(invalid(
                    path,
                    e,
                    format!("`tls.{}` is not supported yet by natrium-server", e.key()),
                ));
            }
            _ if e.is_used_as_variable() => {}
            _ => {
                return Err(invalid(
                    path,
                    e,
                    format!("error parsing tls config, unknown field [{:?}]", e.key()),
                ));
            }
        }
    }
    let (cert_file, key_file) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => {
            return Err(invalid(
                path,
                entry,
                "missing 'key_file' in TLS configuration",
            ));
        }
        (None, _) => {
            return Err(invalid(
                path,
                entry,
                "missing 'cert_file' in TLS configuration",
            ));
        }
    };
    Ok(TlsOptions {
        cert_file,
        key_file,
        ca_file: ca,
        verify,
        timeout,
        allow_non_tls: false,
    })
}

/// A duration field as nats-server's `parseDuration` reads it (`ping_interval`,
/// `write_deadline`, `sync_interval`): a Go duration string, or — the old form, which
/// nats-server only warns about — an integer number of seconds.
fn field_duration(path: &Path, entry: &Entry) -> Result<Duration, ConfigError> {
    let field = entry.key().to_ascii_lowercase();
    let v = entry.value();
    if let Ok(text) = v.as_str() {
        return natrium_conf::parse_duration(text)
            .map_err(|e| invalid(path, entry, format!("error parsing {field}: {e}")));
    }
    match v.as_i64() {
        Ok(secs) => u64::try_from(secs)
            .map(Duration::from_secs)
            .map_err(|_| invalid(path, entry, format!("{field} must not be negative"))),
        Err(_) => Err(not_a_duration(path, entry, &field)),
    }
}

/// nats-server's text for a duration field holding something that is not a duration.
fn not_a_duration(path: &Path, entry: &Entry, field: &str) -> ConfigError {
    invalid(
        path,
        entry,
        format!("invalid use of field \"{field}\": {field} should be converted to a duration"),
    )
}

/// A duration nats-server only takes as a string (`lame_duck_duration`,
/// `lame_duck_grace_period`; a number there stops nats-server with a Go type error).
fn string_duration(path: &Path, entry: &Entry) -> Result<Duration, ConfigError> {
    let field = entry.key().to_ascii_lowercase();
    let text = entry.value().as_str().map_err(|_| {
        invalid(
            path,
            entry,
            format!("error parsing {field}: expected a duration string such as \"30s\""),
        )
    })?;
    natrium_conf::parse_duration(text)
        .map_err(|e| invalid(path, entry, format!("error parsing {field}: {e}")))
}

/// A `timeout` inside the `authorization` or `tls` block: seconds (integer or decimal) or a
/// Go duration string, with nats-server's `error parsing <block> config, 'timeout' ...` texts.
fn seconds_or_duration(path: &Path, entry: &Entry, block: &str) -> Result<Duration, ConfigError> {
    let v = entry.value();
    let fail = |why: String| {
        invalid(
            path,
            entry,
            format!("error parsing {block} config, 'timeout' {why}"),
        )
    };
    if let Ok(text) = v.as_str() {
        return natrium_conf::parse_duration(text).map_err(|e| fail(e.to_string()));
    }
    let secs = v.as_f64().map_err(|_| fail("wrong type".into()))?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(fail("must not be negative".into()));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn size(v: &Value, path: &Path, entry: &Entry) -> Result<usize, ConfigError> {
    let n = v.as_size().map_err(|source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    })?;
    usize::try_from(n).map_err(|_| invalid(path, entry, "value too large"))
}

/// `host:port`, `:port` or `port` (a number or a string): the host, if any, the port as a
/// number (`None` when it is not one), and the whole text for error messages.
fn split_host_port(v: &Value) -> Result<(Option<String>, Option<i64>, String), String> {
    let text = match v.as_i64() {
        Ok(port) => port.to_string(),
        Err(_) => v.as_str().map_err(|e| e.to_string())?.to_owned(),
    };
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (
            Some(h.trim_matches(['[', ']']).to_owned()).filter(|h| !h.is_empty()),
            p,
        ),
        None => (None, text.as_str()),
    };
    let port = port.parse().ok();
    Ok((host, port, text))
}

/// `listen: host:port`, `listen: :port` or `listen: port`.
fn parse_listen(v: &Value) -> Result<(Option<String>, u16), String> {
    let (host, port, text) = split_host_port(v)?;
    let port = port.ok_or_else(|| format!("invalid listen address {text:?}"))?;
    let port = match port {
        -1 => 0,
        0 => crate::DEFAULT_PORT,
        p => u16::try_from(p).map_err(|_| format!("invalid port in {text:?}"))?,
    };
    Ok((host, port))
}

/// A monitoring port: -1 picks a free port, 0 turns monitoring off.
fn monitor_port(port: i64) -> Result<Option<u16>, String> {
    match port {
        -1 => Ok(Some(0)),
        0 => Ok(None),
        p => u16::try_from(p)
            .map(Some)
            .map_err(|_| format!("invalid monitoring port {p}")),
    }
}

/// `http: host:port`, `http: :port` or `http: port`.
fn parse_http(v: &Value) -> Result<(Option<String>, Option<u16>), String> {
    let (host, port, text) = split_host_port(v)?;
    let port = port.ok_or_else(|| format!("invalid monitoring address {text:?}"))?;
    Ok((host, monitor_port(port)?))
}

/// Applies an `authorization` block; returns whether it set the timeout.
fn apply_authorization(map: &Map, o: &mut ServerOptions, path: &Path) -> Result<bool, ConfigError> {
    let conf_err = |source| ConfigError::Conf {
        path: path.to_owned(),
        source,
    };
    let (mut token, mut user, mut pass, mut users) = (None, None, None, None);
    let mut timeout_set = false;
    let mut default_permissions = None;
    for entry in map.iter() {
        let v = entry.value();
        match entry.key().to_ascii_lowercase().as_str() {
            "token" => token = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "user" | "username" => user = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "pass" | "password" => pass = Some(v.as_str().map_err(conf_err)?.to_owned()),
            "timeout" => {
                let t = seconds_or_duration(path, entry, "authorization")?;
                if t.is_zero() {
                    return Err(invalid(
                        path,
                        entry,
                        "error parsing authorization config, 'timeout' must be positive",
                    ));
                }
                o.auth_timeout = t;
                timeout_set = true;
            }
            "users" => {
                users = Some(accounts::parse_users(v, accounts::At(path))?);
            }
            "permissions" | "default_permissions" => {
                let p = crate::permissions::from_conf(v).map_err(|m| invalid(path, entry, m))?;
                default_permissions = Some(p);
            }
            _ if entry.is_used_as_variable() => {}
            _ => {
                return Err(invalid(
                    path,
                    entry,
                    format!(
                        "`authorization.{}` is not supported yet by natrium-server",
                        entry.key()
                    ),
                ));
            }
        }
    }
    // Users without their own permissions get the block's default ones (nats-server).
    let users = users.map(|list: Vec<User>| {
        list.into_iter()
            .map(|u| match (&u.permissions, &default_permissions) {
                (None, Some(p)) => u.with_permissions(p.clone()),
                _ => u,
            })
            .collect::<Vec<_>>()
    });
    o.auth = match (token, user, pass, users) {
        (Some(t), None, None, None) => Auth::Token(t),
        (None, Some(u), Some(p), None) => match default_permissions {
            Some(perms) => Auth::Users(vec![User::new(u, p).with_permissions(perms)]),
            None => Auth::user(u, p),
        },
        (None, None, None, Some(list)) if !list.is_empty() => Auth::Users(list),
        (None, None, None, None) => Auth::None,
        _ => {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                pos: "authorization".into(),
                message: "use one of: token, user+password, or users".into(),
            });
        }
    };
    Ok(timeout_set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<FileConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.conf");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn reads_this_servers_keys() {
        let cfg = load_text(
            "listen: 127.0.0.1:4333\nserver_name: n1\nmax_payload: 64KB\nmax_pending: 1MB\n\
             max_connections: 10\nmax_subscriptions: 5\nping_interval: \"30s\"\nping_max: 3\n\
             write_deadline: \"3s\"\ndebug: true\nauthorization { token: abc, timeout: 0.5 }\n",
        )
        .unwrap();
        let o = &cfg.options;
        assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
        assert_eq!(o.server_name.as_deref(), Some("n1"));
        assert_eq!((o.max_payload, o.max_pending), (64 * 1024, 1024 * 1024));
        assert_eq!(
            (o.max_connections, o.max_subscriptions, o.ping_max),
            (10, 5, 3)
        );
        assert_eq!(o.ping_interval, Duration::from_secs(30));
        assert_eq!(o.write_deadline, Duration::from_secs(3));
        assert_eq!(o.auth, Auth::Token("abc".into()));
        assert_eq!(o.auth_timeout, Duration::from_millis(500));
        assert_eq!(cfg.debug, Some(true));
    }

    #[test]
    fn reads_monitoring_keys() {
        let o = load_text("http_port: 8222\n").unwrap().options;
        assert_eq!((o.http_port, o.http_host), (Some(8222), None));
        let o = load_text("monitor_port: -1\n").unwrap().options;
        assert_eq!(o.http_port, Some(0));
        let o = load_text("http: \"127.0.0.2:8333\"\n").unwrap().options;
        assert_eq!(
            (o.http_port, o.http_host.as_deref()),
            (Some(8333), Some("127.0.0.2"))
        );
        let o = load_text("http: 8444\n").unwrap().options;
        assert_eq!(o.http_port, Some(8444));
        let err = load_text("http_port: 99999\n").unwrap_err().to_string();
        assert!(err.contains("invalid monitoring port 99999"), "{err}");
        let err = load_text("https_port: 8443\n").unwrap_err().to_string();
        assert!(err.contains("not supported yet"), "{err}");
    }

    #[test]
    fn reads_users() {
        let cfg = load_text(
            "authorization { users = [ {user: a, password: b}, {user: c, password: d} ] }",
        )
        .unwrap();
        assert_eq!(
            cfg.options.auth,
            Auth::Users(vec![User::new("a", "b"), User::new("c", "d")])
        );
        let cfg = load_text("authorization { user: a, password: b }").unwrap();
        assert_eq!(cfg.options.auth, Auth::user("a", "b"));
    }

    #[test]
    fn reads_the_tls_block() {
        let cfg = load_text(
            "tls { cert_file: \"/c.pem\", key_file: \"/k.pem\", ca_file: \"/ca.pem\", \
             verify: true, timeout: 3 }\n",
        )
        .unwrap();
        let tls = cfg.options.tls.expect("tls");
        assert_eq!(
            tls,
            TlsOptions {
                cert_file: "/c.pem".into(),
                key_file: "/k.pem".into(),
                ca_file: Some("/ca.pem".into()),
                verify: true,
                timeout: Duration::from_secs(3),
                allow_non_tls: false,
            }
        );
        // nats-server's default auth timeout with TLS: the TLS timeout + 1 s.
        assert_eq!(cfg.options.auth_timeout, Duration::from_secs(4));
        assert!(!cfg.auth_timeout_set);

        let timeout = |t: &str| {
            load_text(&format!(
                "tls {{ cert_file: a, key_file: b, timeout: {t} }}\n"
            ))
            .map(|c| c.options.tls.expect("tls").timeout)
        };
        assert_eq!(timeout("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(timeout("\"1.5s\"").unwrap(), Duration::from_millis(1500));
        assert_eq!(timeout("0").unwrap(), crate::tls::DEFAULT_TLS_TIMEOUT);
        assert!(timeout("-1").is_err());
        assert!(timeout("\"abc\"").is_err());

        let cfg = load_text(
            "tls { cert_file: a, key_file: b }\nauthorization { token: t, timeout: 1 }\n",
        )
        .unwrap();
        assert_eq!(cfg.options.auth_timeout, Duration::from_secs(1));
        assert_eq!(
            cfg.options.tls.expect("tls").timeout,
            crate::tls::DEFAULT_TLS_TIMEOUT
        );
    }

    #[test]
    fn allow_non_tls_applies_to_the_tls_block() {
        let cfg = load_text("allow_non_tls: true\ntls { cert_file: a, key_file: b }\n").unwrap();
        assert!(cfg.options.tls.expect("tls").allow_non_tls);
        let cfg = load_text("tls { cert_file: a, key_file: b }\n").unwrap();
        assert!(!cfg.options.tls.expect("tls").allow_non_tls);
        // Without TLS it is accepted and changes nothing, as in nats-server.
        assert!(
            load_text("allow_non_tls: true\n")
                .unwrap()
                .options
                .tls
                .is_none()
        );
    }

    #[test]
    fn tls_block_errors_match_nats_server() {
        let err = load_text("tls { cert_file: a }\n").unwrap_err().to_string();
        assert!(
            err.contains("missing 'key_file' in TLS configuration"),
            "{err}"
        );
        let err = load_text("tls { key_file: a }\n").unwrap_err().to_string();
        assert!(
            err.contains("missing 'cert_file' in TLS configuration"),
            "{err}"
        );
        let err = load_text("tls { cert_file: a, key_file: b, bogus: 1 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("error parsing tls config, unknown field [\"bogus\"]"),
            "{err}"
        );
        let err = load_text("tls { cert_file: a, key_file: b, pinned_certs: [] }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not supported yet"), "{err}");
    }

    #[test]
    fn unsupported_and_unknown_keys_are_clear_errors() {
        let err = load_text("port: 4222\ncluster: {}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2:1") && err.contains("not supported yet"),
            "{err}"
        );
        let err = load_text("prot: 4222\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `prot`"), "{err}");
        let err = load_text("port: \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("expected an integer"), "{err}");
    }

    #[test]
    fn jetstream_block_takes_nats_server_keys_and_defaults() {
        let cfg = load_text(
            "jetstream {\n store_dir: \"/data\"\n max_mem: 1G\n max_file_store: 1024\n \
             strict: false\n sync_interval: always\n}\n",
        )
        .unwrap();
        let js = cfg.options.jetstream.unwrap();
        assert_eq!(js.store_dir, Some(PathBuf::from("/data")));
        assert_eq!(js.max_memory, Some(1_000_000_000));
        assert_eq!(js.max_store, Some(1024));
        assert!(!js.strict);
        assert_eq!(js.sync, crate::SyncPolicy::Always);

        let js = load_text("jetstream: enabled\n").unwrap().options.jetstream;
        assert_eq!(js, Some(crate::JetStreamOptions::default()));
        assert!(
            load_text("jetstream: disabled\n")
                .unwrap()
                .options
                .jetstream
                .is_none()
        );
        let js = load_text("store_dir: \"/x\"\njetstream: true\n").unwrap();
        assert_eq!(
            js.options.jetstream.unwrap().store_dir,
            Some(PathBuf::from("/x"))
        );
        let js = load_text("jetstream { domain: hub }\n").unwrap();
        assert_eq!(js.options.jetstream.unwrap().domain.as_deref(), Some("hub"));
        let js = load_text("jetstream { sync_interval: \"10s\" }\n").unwrap();
        assert_eq!(
            js.options.jetstream.unwrap().sync,
            crate::SyncPolicy::Interval(Duration::from_secs(10))
        );
    }

    #[test]
    fn jetstream_block_refuses_what_nats_server_refuses() {
        for (text, expected) in [
            ("jetstream { bogus: 1 }\n", "unknown field \"bogus\""),
            (
                "jetstream { sync_interval: \"abc\" }\n",
                "error parsing sync_interval",
            ),
            (
                "jetstream { sync_interval: 0 }\n",
                "sync_interval should be converted to a duration",
            ),
            ("jetstream { max_mem: -5 }\n", "must be -1 or positive"),
            ("jetstream { key: s3cr3t }\n", "not supported yet"),
            ("jetstream: maybe\n", "Expected 'enabled' or 'disabled'"),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains("1:"), "position in {err}");
        }
    }

    #[test]
    fn durations_are_read_wherever_nats_server_takes_them() {
        let cfg = load_text(
            "ping_interval: \"1m30s\"\nwrite_deadline: 3\nlame_duck_duration: \"500ms\"\n\
             lame_duck_grace_period: \"2s\"\nauthorization { token: \"s3cr3t\", timeout: \"2s\" }\n\
             tls { cert_file: a, key_file: b, timeout: \"1.5s\" }\n\
             jetstream { sync_interval: \"1m\" }\n",
        )
        .unwrap();
        let o = &cfg.options;
        assert_eq!(o.ping_interval, Duration::from_secs(90));
        assert_eq!(o.write_deadline, Duration::from_secs(3));
        assert_eq!(o.lame_duck_duration, Duration::from_millis(500));
        assert_eq!(o.lame_duck_grace_period, Duration::from_secs(2));
        assert_eq!(o.auth_timeout, Duration::from_secs(2));
        assert_eq!(o.tls.as_ref().unwrap().timeout, Duration::from_millis(1500));
        assert_eq!(
            o.jetstream.as_ref().unwrap().sync,
            crate::SyncPolicy::Interval(Duration::from_secs(60))
        );
        let o = load_text("authorization { token: t, timeout: 0.25 }\n")
            .unwrap()
            .options;
        assert_eq!(o.auth_timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_durations_get_nats_server_texts_and_positions() {
        for (text, expected) in [
            (
                "authorization { token: \"s3cr3t\", timeout: \"2x\" }\n",
                // Columns count from 1 here; nats-server counts them from 0.
                "1:34: error parsing authorization config, 'timeout' time: unknown unit \"x\" in duration \"2x\"",
            ),
            (
                "authorization { token: t, timeout: true }\n",
                "error parsing authorization config, 'timeout' wrong type",
            ),
            (
                "port: 1\nping_interval: \"5x\"\n",
                "2:1: error parsing ping_interval: time: unknown unit \"x\" in duration \"5x\"",
            ),
            (
                "ping_interval: true\n",
                "invalid use of field \"ping_interval\": ping_interval should be converted to a duration",
            ),
            (
                "write_deadline: \"10\"\n",
                "error parsing write_deadline: time: missing unit in duration \"10\"",
            ),
            (
                "lame_duck_duration: \"3q\"\n",
                "error parsing lame_duck_duration: time: unknown unit \"q\" in duration \"3q\"",
            ),
            (
                "lame_duck_duration: 30\n",
                "error parsing lame_duck_duration",
            ),
            (
                "tls { cert_file: a, key_file: b, timeout: \"3x\" }\n",
                "error parsing tls config, 'timeout' time: unknown unit \"x\" in duration \"3x\"",
            ),
            (
                "jetstream { sync_interval: \"1d\" }\n",
                "error parsing sync_interval: time: unknown unit \"d\" in duration \"1d\"",
            ),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains("server.conf"), "the file is named: {err}");
        }
    }
}
