//! Reading the `accounts { ... }` block and user lists of a configuration file, with
//! nats-server's error texts at the position of the offending key.

use std::path::Path;
use std::time::Duration;

use natrium_conf::{ConfError, Entry, Map, Value};

use super::ConfigError;
use crate::accounts::options::{
    AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, Import, ImportKind,
    JetStreamLimits, ResponseType,
};
use crate::options::User;
use crate::permissions::Permissions;

/// Where errors point: the file, and a position inside it.
#[derive(Clone, Copy)]
pub(crate) struct At<'a>(pub &'a Path);

impl At<'_> {
    fn conf(&self, source: ConfError) -> ConfigError {
        ConfigError::Conf {
            path: self.0.to_owned(),
            source,
        }
    }

    fn at(&self, pos: &natrium_conf::Pos, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.0.to_owned(),
            pos: pos.to_string(),
            message: message.into(),
        }
    }
}

/// `accounts { NAME { users, exports, imports, default_permissions } ... }`, or the old
/// list form `accounts: [NAME, ...]`; users found inside are appended to `users`.
pub(crate) fn parse_accounts(
    entry: &Entry,
    path: &Path,
    users: &mut Vec<User>,
) -> Result<Vec<AccountOptions>, ConfigError> {
    let at = At(path);
    let v = entry.value();
    if let Ok(list) = v.as_array() {
        return list
            .iter()
            .map(|n| Ok(AccountOptions::new(n.as_str().map_err(|e| at.conf(e))?)))
            .collect();
    }
    let map = v.as_map().map_err(|e| at.conf(e))?;
    let mut accounts = Vec::new();
    for e in map.iter() {
        if e.is_used_as_variable() {
            continue;
        }
        let name = e.key();
        if name == crate::accounts::GLOBAL_ACCOUNT {
            return Err(at.at(e.key_pos(), format!("{name:?} is a Reserved Account")));
        }
        let body = e
            .value()
            .as_map()
            .map_err(|_| at.at(e.key_pos(), "Expected map entries for accounts"))?;
        accounts.push(parse_account(name, body, at, users)?);
    }
    Ok(accounts)
}

fn parse_account(
    name: &str,
    body: &Map,
    at: At<'_>,
    users: &mut Vec<User>,
) -> Result<AccountOptions, ConfigError> {
    let mut account = AccountOptions::new(name);
    let mut default_permissions = None;
    let mut own_users = Vec::new();
    for e in body.iter() {
        let v = e.value();
        match e.key().to_ascii_lowercase().as_str() {
            "users" => own_users = parse_users(v, at)?,
            "default_permissions" => {
                default_permissions =
                    Some(crate::permissions::from_conf(v).map_err(|m| at.at(e.key_pos(), m))?)
            }
            "exports" => {
                for x in v.as_array().map_err(|err| at.conf(err))? {
                    account.exports.push(parse_export(x, at)?);
                }
            }
            "imports" => {
                for x in v.as_array().map_err(|err| at.conf(err))? {
                    account.imports.push(parse_import(x, at)?);
                }
            }
            "jetstream" => account.jetstream = parse_jetstream(v, at)?,
            k @ ("mappings" | "limits" | "nkey" | "msg_trace") => {
                return Err(at.at(
                    e.key_pos(),
                    format!("`accounts.{name}.{k}` is not supported yet by natrium-server"),
                ));
            }
            _ if e.is_used_as_variable() => {}
            _ => return Err(at.at(e.key_pos(), format!("unknown field {:?}", e.key()))),
        }
    }
    for user in own_users {
        let user = match (&user.permissions, &default_permissions) {
            (None, Some(p)) => user.with_permissions(p.clone()),
            _ => user,
        };
        users.push(user.in_account(name));
    }
    Ok(account)
}

/// An account's `jetstream`: `enabled`/`disabled` (or a boolean), or a map of limits, with
/// nats-server's key aliases and error texts.
fn parse_jetstream(v: &Value, at: At<'_>) -> Result<Option<JetStreamLimits>, ConfigError> {
    if let Ok(on) = v.as_bool() {
        return Ok(on.then(JetStreamLimits::default));
    }
    if let Ok(word) = v.as_str() {
        return match word.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => Ok(Some(JetStreamLimits::default())),
            "disabled" | "disable" => Ok(None),
            _ => Err(at.at(
                &v.pos,
                format!("Expected 'enabled' or 'disabled' for string value, got '{word}'"),
            )),
        };
    }
    let Ok(map) = v.as_map() else {
        return Err(at.at(&v.pos, "Expected map, bool or string to define JetStream"));
    };
    let mut limits = JetStreamLimits::default();
    for e in map.iter() {
        let key = e.key();
        let v = e.value();
        let size = || -> Result<i64, ConfigError> {
            match v.as_i64() {
                Ok(n) => Ok(n),
                Err(_) => v
                    .as_size()
                    .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
                    .map_err(|_| at.at(&v.pos, format!("Expected a parseable size for {key:?}"))),
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = size()?,
            "max_store" | "max_file" | "max_disk" | "store" | "disk" => limits.max_store = size()?,
            "max_streams" | "streams" => limits.max_streams = size()?,
            "max_consumers" | "consumers" => limits.max_consumers = size()?,
            "max_ack_pending" => limits.max_ack_pending = size()?,
            "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                limits.memory_max_stream_bytes = size()?
            }
            "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                limits.store_max_stream_bytes = size()?
            }
            "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                limits.max_bytes_required = v
                    .as_bool()
                    .map_err(|_| at.at(&v.pos, format!("Expected a parseable bool for {key:?}")))?
            }
            "cluster_traffic" => match v.as_str() {
                Ok("system" | "" | "owner") => {}
                _ => {
                    return Err(at.at(
                        &v.pos,
                        format!("Expected 'system' or 'owner' string value for {key:?}"),
                    ));
                }
            },
            _ if e.is_used_as_variable() => {}
            _ => return Err(at.at(e.key_pos(), format!("unknown field {key:?}"))),
        }
    }
    Ok(Some(limits))
}

/// A `users: [ {user, password, permissions} | {nkey, permissions} ]` list.
pub(crate) fn parse_users(v: &Value, at: At<'_>) -> Result<Vec<User>, ConfigError> {
    let mut list = Vec::new();
    for u in v.as_array().map_err(|e| at.conf(e))? {
        let m = u.as_map().map_err(|e| at.conf(e))?;
        let text = |k: &str| -> Result<Option<String>, ConfigError> {
            m.get(k)
                .map(|v| v.as_str().map(str::to_owned).map_err(|e| at.conf(e)))
                .transpose()
        };
        let user = match (text("nkey")?, text("user")?.or(text("username")?)) {
            (Some(key), _) => {
                let valid = key.starts_with('U') && nkeys::KeyPair::from_public_key(&key).is_ok();
                if !valid {
                    return Err(at.at(&u.pos, "Not a valid public nkey for a user"));
                }
                User::nkey(key)
            }
            (None, Some(name)) => {
                let password = text("password")?.or(text("pass")?);
                let password = password
                    .ok_or_else(|| at.at(&u.pos, format!("user {name:?} has no `password`")))?;
                User::new(name, password)
            }
            (None, None) => return Err(at.at(&u.pos, "a user without `user` or `nkey`")),
        };
        let user = match m.get("permissions") {
            Some(p) => user.with_permissions(permissions(p, at)?),
            None => user,
        };
        list.push(user);
    }
    Ok(list)
}

fn permissions(v: &Value, at: At<'_>) -> Result<Permissions, ConfigError> {
    crate::permissions::from_conf(v).map_err(|m| at.at(&v.pos, m))
}

/// `{stream: S}` or `{service: S, response_type, response_threshold}`, with `accounts`.
fn parse_export(v: &Value, at: At<'_>) -> Result<Export, ConfigError> {
    let m = v.as_map().map_err(|e| at.conf(e))?;
    let mut kind: Option<(ExportKind, String)> = None;
    let mut accounts = None;
    let mut response_type = None;
    let mut threshold = None;
    for e in m.iter() {
        let v = e.value();
        let key = e.key().to_ascii_lowercase();
        match key.as_str() {
            "stream" | "service" => {
                let subject = v.as_str().map_err(|err| at.conf(err))?.to_owned();
                if let Some((seen, _)) = &kind {
                    let seen = if matches!(seen, ExportKind::Stream) {
                        "stream"
                    } else {
                        "service"
                    };
                    return Err(at.at(
                        e.key_pos(),
                        format!("Detected {key} {subject:?} but already saw a {seen}"),
                    ));
                }
                let k = if key == "stream" {
                    ExportKind::Stream
                } else {
                    ExportKind::Service {
                        response_type: ResponseType::Singleton,
                        response_threshold: DEFAULT_RESPONSE_THRESHOLD,
                    }
                };
                kind = Some((k, subject));
            }
            "accounts" => {
                let names = v.as_array().map_err(|err| at.conf(err))?;
                accounts = Some(
                    names
                        .iter()
                        .map(|n| n.as_str().map(str::to_owned).map_err(|err| at.conf(err)))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "response" | "response_type" => {
                let t = v.as_str().map_err(|err| at.conf(err))?;
                response_type = Some(match t.to_ascii_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => return Err(at.at(e.key_pos(), format!("Unknown response type: {t:?}"))),
                });
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                threshold = Some(response_threshold(e, at)?);
            }
            // Message tracing and token-bound exports are not implemented: refused, so an
            // export is never more open than configured.
            "allow_trace" | "account_token_position" | "advertise" => {
                return Err(at.at(
                    e.key_pos(),
                    format!(
                        "`exports.{}` is not supported yet by natrium-server",
                        e.key()
                    ),
                ));
            }
            _ if e.is_used_as_variable() => {}
            _ => return Err(at.at(e.key_pos(), format!("unknown field {:?}", e.key()))),
        }
    }
    let Some((mut kind, subject)) = kind else {
        return Err(at.at(&v.pos, "Expected a stream or service export"));
    };
    if let ExportKind::Service {
        response_type: rt,
        response_threshold: th,
    } = &mut kind
    {
        *rt = response_type.unwrap_or_default();
        *th = threshold.unwrap_or(DEFAULT_RESPONSE_THRESHOLD);
    }
    Ok(Export {
        kind,
        subject,
        accounts,
    })
}

fn response_threshold(e: &Entry, at: At<'_>) -> Result<Duration, ConfigError> {
    let text = e.value().as_str().map_err(|err| at.conf(err))?;
    natrium_conf::parse_duration(text).map_err(|err| {
        at.at(
            e.key_pos(),
            format!("error parsing response threshold: {err}"),
        )
    })
}

/// `{stream: {account, subject}, prefix | to}` or `{service: {account, subject}, to}`.
fn parse_import(v: &Value, at: At<'_>) -> Result<Import, ConfigError> {
    let m = v.as_map().map_err(|e| at.conf(e))?;
    let mut source: Option<(ImportKind, String, String)> = None;
    let (mut to, mut prefix) = (None, None);
    for e in m.iter() {
        let v = e.value();
        match e.key().to_ascii_lowercase().as_str() {
            k @ ("stream" | "service") => {
                let kind = if k == "stream" {
                    ImportKind::Stream
                } else {
                    ImportKind::Service
                };
                let (account, subject) = import_source(v)
                    .ok_or_else(|| at.at(e.key_pos(), "Expect an account name and a subject"))?;
                source = Some((kind, account, subject));
            }
            "to" => to = Some(v.as_str().map_err(|err| at.conf(err))?.to_owned()),
            "prefix" => prefix = Some(v.as_str().map_err(|err| at.conf(err))?.to_owned()),
            "share" | "allow_trace" => {
                return Err(at.at(
                    e.key_pos(),
                    format!(
                        "`imports.{}` is not supported yet by natrium-server",
                        e.key()
                    ),
                ));
            }
            _ if e.is_used_as_variable() => {}
            _ => return Err(at.at(e.key_pos(), format!("unknown field {:?}", e.key()))),
        }
    }
    let Some((kind, account, subject)) = source else {
        return Err(at.at(&v.pos, "Expected a stream or service import"));
    };
    Ok(Import {
        kind,
        account,
        subject,
        to,
        prefix,
    })
}

/// `{account: A, subject: S}`.
fn import_source(v: &Value) -> Option<(String, String)> {
    let m = v.as_map().ok()?;
    let account = m.get("account")?.as_str().ok()?.to_owned();
    let subject = m.get("subject")?.as_str().ok()?.to_owned();
    Some((account, subject))
}
