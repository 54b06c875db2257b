//! Streams and durable consumers declared in code: created when missing, checked when
//! present.
//!
//! A declaration is async-nats' own config type. "Checked" means: every field the
//! declaration sets (a value other than the type's default) must equal the server's value;
//! fields left at their default are the server's to choose (nats-server fills in
//! `max_msgs: -1`, `duplicate_window: 2m`, `ack_wait: 30s`, ...). Maps such as `metadata`
//! are compared key by key, since nats-server adds its own `_nats.*` keys.

use async_nats::jetstream::consumer::{self, pull};
use async_nats::jetstream::{self, ErrorCode, stream};
use serde_json::Value;

use crate::error::{Error, Result};

/// What to do when a declared stream or consumer exists with other settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnMismatch {
    /// Refuse to start with [`Error::ConfigMismatch`] naming the first differing field.
    #[default]
    Fail,
    /// Update the stream or consumer to the declaration (nats-server refuses changes it
    /// cannot make, e.g. the storage type; that refusal is returned).
    Update,
}

/// Creates the stream `config` declares, or checks the existing one against it.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &stream::Config,
    on_mismatch: OnMismatch,
) -> Result<stream::Info> {
    let name = config.name.clone();
    match js.get_stream(&name).await {
        Ok(stream) => {
            let actual = stream.cached_info().config.clone();
            let default = stream::Config {
                name: name.clone(),
                ..Default::default()
            };
            let Some(mismatch) = first_difference("stream", &name, config, &default, &actual)
            else {
                return Ok(stream.cached_info().clone());
            };
            match on_mismatch {
                OnMismatch::Fail => Err(mismatch),
                OnMismatch::Update => {
                    tracing::info!(stream = %name, reason = %mismatch, "updating stream to its declaration");
                    js.update_stream(config.clone())
                        .await
                        .map_err(|e| api_error(&name, "update stream", e))
                }
            }
        }
        Err(err) => match err.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(e)
                if e.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                tracing::info!(stream = %name, "creating declared stream");
                let mut stream = js
                    .create_stream(config.clone())
                    .await
                    .map_err(|e| api_error(&name, "create stream", e))?;
                let info = stream
                    .info()
                    .await
                    .map_err(|e| api_error(&name, "stream info", e))?;
                Ok(info.clone())
            }
            _ => Err(api_error(&name, "look up stream", err)),
        },
    }
}

/// Creates the durable pull consumer `config` declares on `stream`, or checks the existing
/// one against it. The consumer's name is its `durable_name` (or `name`).
pub async fn ensure_consumer(
    js: &jetstream::Context,
    stream: &str,
    config: &pull::Config,
    on_mismatch: OnMismatch,
) -> Result<consumer::PullConsumer> {
    let name = config
        .durable_name
        .clone()
        .or_else(|| config.name.clone())
        .ok_or_else(|| {
            Error::Config(format!(
                "a durable consumer on {stream} needs a durable_name"
            ))
        })?;
    let handle = js
        .get_stream(stream)
        .await
        .map_err(|err| match err.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(e)
                if e.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                Error::NoStream {
                    subject: stream.to_owned(),
                }
            }
            _ => api_error(stream, "look up stream", err),
        })?;
    let what = format!("{stream} > {name}");
    match handle.consumer_info(&name).await {
        Ok(info) => {
            let default = pull::Config {
                durable_name: config.durable_name.clone(),
                name: config.name.clone(),
                ..Default::default()
            };
            match first_difference("consumer", &what, config, &default, &info.config) {
                None => {}
                Some(mismatch) if on_mismatch == OnMismatch::Fail => return Err(mismatch),
                Some(mismatch) => {
                    tracing::info!(consumer = %what, reason = %mismatch, "updating consumer to its declaration");
                    return handle
                        .update_consumer(config.clone())
                        .await
                        .map_err(|e| api_error(&what, "update consumer", e));
                }
            }
            handle
                .get_consumer(&name)
                .await
                .map_err(|e| api_error(&what, "get consumer", e))
        }
        Err(err) if err.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound => {
            tracing::info!(consumer = %what, "creating declared consumer");
            handle
                .create_consumer(config.clone())
                .await
                .map_err(|e| api_error(&what, "create consumer", e))
        }
        Err(err) => Err(api_error(&what, "consumer info", err)),
    }
}

/// An async-nats API failure as [`Error::JetStream`], keeping the server's codes when the
/// error came from the server.
fn api_error(name: &str, op: &str, err: impl std::fmt::Display) -> Error {
    // async-nats' typed kinds differ per call; their texts carry the server's description
    // and codes, e.g. "jetstream error: stream name already in use (code 400, error code 10058)".
    let text = err.to_string();
    let (code, err_code) = parse_codes(&text);
    Error::JetStream {
        subject: format!("{op} {name}"),
        code,
        err_code,
        description: text,
    }
}

/// `(code C, error code E)` at the end of an async-nats JetStream error text; 0 if absent.
fn parse_codes(text: &str) -> (u16, u16) {
    let number_after = |marker: &str| {
        text.rfind(marker).and_then(|i| {
            text[i + marker.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
    };
    (
        number_after("(code ").unwrap_or(0),
        number_after("error code ").unwrap_or(0),
    )
}

/// The first field `declared` sets (differs from `default`) whose value on the server
/// (`actual`) differs, as [`Error::ConfigMismatch`].
fn first_difference<D: serde::Serialize, A: serde::Serialize>(
    kind: &'static str,
    name: &str,
    declared: &D,
    default: &D,
    actual: &A,
) -> Option<Error> {
    let json = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
    let declared = json(serde_json::to_value(declared));
    let default = json(serde_json::to_value(default));
    let actual = json(serde_json::to_value(actual));
    let mut path = Vec::new();
    differ(&declared, &default, &actual, &mut path).map(|(field, declared, actual)| {
        Error::ConfigMismatch {
            kind,
            name: name.to_owned(),
            field,
            declared,
            actual,
        }
    })
}

fn differ(
    declared: &Value,
    default: &Value,
    actual: &Value,
    path: &mut Vec<String>,
) -> Option<(String, String, String)> {
    let (Value::Object(declared), Value::Object(actual)) = (declared, actual) else {
        return (declared != actual)
            .then(|| (path.join("."), declared.to_string(), actual.to_string()));
    };
    for (key, value) in declared {
        let default_value = default.get(key).unwrap_or(&Value::Null);
        if value == default_value || is_empty(value) {
            continue; // not set by the declaration
        }
        path.push(key.clone());
        let theirs = actual.get(key).unwrap_or(&Value::Null);
        let found = match (value, theirs) {
            // Maps: the declared keys must be there with the declared values.
            (Value::Object(_), _) => differ(value, &Value::Null, theirs, path),
            _ if value != theirs => Some((path.join("."), value.to_string(), theirs.to_string())),
            _ => None,
        };
        path.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_fields_the_declaration_sets_are_compared() {
        let declared = stream::Config {
            name: "R".into(),
            subjects: vec!["r.>".into()],
            max_age: Duration::from_secs(60),
            ..Default::default()
        };
        let default = stream::Config {
            name: "R".into(),
            ..Default::default()
        };
        let mut server = declared.clone();
        server.max_messages = -1;
        server.duplicate_window = Duration::from_secs(120);
        server.num_replicas = 1;
        assert!(first_difference("stream", "R", &declared, &default, &server).is_none());
        server.max_age = Duration::from_secs(30);
        let err = first_difference("stream", "R", &declared, &default, &server).expect("differs");
        assert!(
            matches!(&err, Error::ConfigMismatch { field, .. } if field == "max_age"),
            "{err}"
        );
    }

    #[test]
    fn metadata_is_compared_key_by_key() {
        let mut declared = pull::Config {
            durable_name: Some("d".into()),
            ..Default::default()
        };
        declared.metadata.insert("team".into(), "data".into());
        let default = pull::Config {
            durable_name: Some("d".into()),
            ..Default::default()
        };
        let mut server = declared.clone();
        server.metadata.insert("_nats.req.level".into(), "0".into());
        assert!(first_difference("consumer", "d", &declared, &default, &server).is_none());
        server.metadata.insert("team".into(), "ops".into());
        let err = first_difference("consumer", "d", &declared, &default, &server).expect("differs");
        assert!(err.to_string().contains("metadata.team"), "{err}");
    }

    #[test]
    fn codes_are_read_from_async_nats_texts() {
        assert_eq!(
            parse_codes("jetstream error: stream name already in use (code 400, error code 10058)"),
            (400, 10058)
        );
        assert_eq!(parse_codes("timed out"), (0, 0));
    }
}
