//! What the JetStream commands (`stream`, `consumer`, `kv`, `object`) share: the connection,
//! raw API requests that keep the server's JSON, clear errors, and confirmation prompts.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use async_nats::jetstream::context::RequestErrorKind;
use serde_json::Value;

/// Why a JetStream command failed, in words a NATS user recognises.
#[derive(Debug, thiserror::Error)]
pub enum JsError {
    /// Nobody answers the JetStream API: the server runs without JetStream.
    #[error("JetStream not enabled")]
    NotEnabled,
    /// The server refused the request (its error text, e.g. "stream not found").
    #[error("{description} (code {code}, error code {err_code})")]
    Api {
        /// HTTP-like status code.
        code: u64,
        /// JetStream's error code, e.g. 10059 for "stream not found".
        err_code: u64,
        /// The server's description.
        description: String,
    },
    /// The server rejected the API subject for this user.
    #[error("no permission: {0}")]
    Permission(String),
    /// The server's reply is not JSON.
    #[error("JetStream request {subject:?} got a reply that is not JSON: {reason}")]
    BadReply {
        /// The API subject, without `$JS.API.`.
        subject: String,
        /// What the parser said.
        reason: String,
    },
    /// Any other request failure (timeout, connection lost, bad reply).
    #[error("JetStream request {subject:?} failed: {source}")]
    Request {
        /// The API subject, without `$JS.API.`.
        subject: String,
        /// The client's error.
        source: async_nats::jetstream::context::RequestError,
    },
}

/// How long the server may take to answer an API request.
const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A client with the JetStream context and the last error the server reported on it.
pub struct Js {
    /// The JetStream context.
    pub context: async_nats::jetstream::Context,
    /// The server's last `-ERR` (permission violations arrive this way, not as replies).
    server_error: tokio::sync::watch::Receiver<Option<String>>,
    /// `$JS.API`, or the domain's or the `--js-api-prefix` given.
    api_prefix: String,
}

impl Js {
    /// Connects to `url` as `name` with the command line's settings.
    pub async fn connect(url: &str, name: &str) -> anyhow::Result<Js> {
        let (report, server_error) = tokio::sync::watch::channel(None);
        let report = std::sync::Arc::new(report);
        let options = crate::connect::options(name)
            .await?
            .event_callback(move |event| {
                let report = std::sync::Arc::clone(&report);
                async move {
                    if let async_nats::Event::ServerError(err) = event {
                        tracing::debug!(%err, "server error");
                        report.send_replace(Some(err.to_string()));
                    }
                }
            });
        let client = crate::connect::connect_with(url, options).await?;
        let settings = crate::connect::settings();
        let api_prefix = settings.js_api();
        let context = match &settings.js_domain {
            Some(domain) => async_nats::jetstream::with_domain(client, domain),
            None => async_nats::jetstream::with_prefix(client, &api_prefix),
        };
        Ok(Js {
            context,
            server_error,
            api_prefix,
        })
    }

    /// Connects and checks that the server (and account) has JetStream, so the typed
    /// KV and object store calls that follow fail with a clear error when it has not.
    pub async fn connect_checked(url: &str, name: &str) -> anyhow::Result<Js> {
        let js = Js::connect(url, name).await?;
        js.api("INFO", None).await?;
        Ok(js)
    }

    /// Sends `$JS.API.<subject>` (or under the domain's or the given API prefix) with `payload` (an empty body when `None`, as requests such
    /// as `STREAM.INFO` require) and returns the server's JSON reply, or its error as
    /// [`JsError::Api`].
    pub async fn api(&self, subject: &str, payload: Option<&Value>) -> Result<Value, JsError> {
        let body = match payload {
            Some(payload) => bytes::Bytes::from(payload.to_string()),
            None => bytes::Bytes::new(),
        };
        let request = async_nats::Request::new()
            .payload(body)
            .timeout(Some(API_TIMEOUT));
        let client = self.context.client();
        let sent = client.send_request(format!("{}.{subject}", self.api_prefix), request);
        // A denied publish is answered by an -ERR, never by a reply: stop waiting on it.
        let mut errors = self.server_error.clone();
        let reply = tokio::select! {
            reply = sent => reply.map_err(|source| self.request_error(subject, source.into()))?,
            denied = denied(&mut errors) => return Err(JsError::Permission(denied)),
        };
        let reply: Value =
            serde_json::from_slice(&reply.payload).map_err(|err| JsError::BadReply {
                subject: subject.to_owned(),
                reason: err.to_string(),
            })?;
        match reply.get("error") {
            Some(error) => Err(api_error(error)),
            None => Ok(reply),
        }
    }

    /// Maps a failed request to the error the user needs to see.
    pub fn request_error(
        &self,
        subject: &str,
        source: async_nats::jetstream::context::RequestError,
    ) -> JsError {
        if source.kind() == RequestErrorKind::NoResponders {
            return JsError::NotEnabled;
        }
        if let Some(denied) = self.permission_violation() {
            return JsError::Permission(denied);
        }
        JsError::Request {
            subject: subject.to_owned(),
            source,
        }
    }

    /// The server's permission violation on this connection, if it reported one.
    pub fn permission_violation(&self) -> Option<String> {
        self.server_error
            .borrow()
            .as_ref()
            .filter(|text| is_violation(text))
            .cloned()
    }

    /// Makes sure everything sent (acks, deletes) reached the server before the process exits.
    pub async fn finish(&self) -> anyhow::Result<()> {
        crate::connect::round_trip(&self.context.client()).await
    }
}

fn is_violation(text: &str) -> bool {
    text.to_ascii_lowercase().contains("permissions violation")
}

/// Waits until the server reports a permission violation (forever if it never does).
async fn denied(errors: &mut tokio::sync::watch::Receiver<Option<String>>) -> String {
    loop {
        if errors.changed().await.is_err() {
            return std::future::pending().await;
        }
        if let Some(text) = errors
            .borrow_and_update()
            .as_ref()
            .filter(|t| is_violation(t))
        {
            return text.clone();
        }
    }
}

fn api_error(error: &Value) -> JsError {
    JsError::Api {
        code: error.get("code").and_then(Value::as_u64).unwrap_or(0),
        err_code: error.get("err_code").and_then(Value::as_u64).unwrap_or(0),
        description: error
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned(),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("cannot write JSON")?;
    writeln!(out)?;
    Ok(())
}

/// Why a destructive command did not run.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// No terminal to ask on and no `--force`.
    #[error("refusing to {0} without --force (not asking: stdin is not a terminal)")]
    NotInteractive(String),
    /// The user said no.
    #[error("{0}: cancelled")]
    Declined(String),
}

/// Asks "Really `<what>`? [y/N]" on a terminal; `force` skips the question, and without a
/// terminal the answer is no, so scripts never hang.
pub fn confirm(force: bool, what: &str) -> Result<(), ConfirmError> {
    if force {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(ConfirmError::NotInteractive(what.to_owned()));
    }
    eprint!("Really {what}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Err(ConfirmError::Declined(what.to_owned()));
    }
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => Err(ConfirmError::Declined(what.to_owned())),
    }
}

/// Formats a byte count the way the `nats` CLI does (`1.5 KiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats a nanosecond duration from the server's JSON (`0` is "unlimited").
pub fn nanos(n: u64) -> String {
    if n == 0 {
        "unlimited".to_owned()
    } else {
        humantime::format_duration(std::time::Duration::from_nanos(n)).to_string()
    }
}

/// Formats a limit where `-1` means none.
pub fn limit(n: i64) -> String {
    if n < 0 {
        "unlimited".to_owned()
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_nats_cli() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(nanos(0), "unlimited");
        assert_eq!(nanos(90_000_000_000), "1m 30s");
        assert_eq!(limit(-1), "unlimited");
        assert_eq!(limit(5), "5");
    }

    #[test]
    fn force_skips_the_question() {
        assert!(confirm(true, "delete").is_ok());
    }
}
