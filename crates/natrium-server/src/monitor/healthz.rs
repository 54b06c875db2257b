//! `/healthz`, as nats-server 2.15 answers it on a single node.
//!
//! Without parameters (or with `js-server-only`, `js-enabled-only`, the deprecated
//! `js-enabled`, or `js-meta-only`, which only matters in a cluster) the server is healthy
//! once it accepts clients. Otherwise, with JetStream on, nats-server walks its store
//! directory: every account directory must belong to a known account and every stream
//! directory to a recovered stream without a write error; `account`, `stream` and `consumer`
//! narrow the walk and answer 404 when the named one is not there. So memory streams and an
//! account that never stored a file stream are "not found", as in nats-server (observed on
//! 2.15.1). `details=true` lists typed errors instead of one text.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::Serialize;

use super::query::{QueryError, bool_param};
use crate::jetstream::JetStream;

/// The body of a `/healthz` answer.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<HealthError>,
}

/// One entry of `errors` (with `details=true`).
#[derive(Debug, Serialize, PartialEq, Eq)]
struct HealthError {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    stream: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    consumer: String,
    error: String,
}

/// What `/healthz` was asked.
pub(crate) struct HealthQuery {
    /// `js-server-only`: do not look at accounts, streams and consumers.
    server_only: bool,
    /// `js-enabled-only` (or `js-enabled`): only check that JetStream runs.
    enabled_only: bool,
    account: String,
    stream: String,
    consumer: String,
    details: bool,
}

impl HealthQuery {
    /// Reads the parameters in nats-server's order, so the first bad boolean is the one named.
    pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Self, QueryError> {
        let enabled = bool_param(params, "js-enabled")?;
        if enabled {
            tracing::warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
        }
        let enabled_only = bool_param(params, "js-enabled-only")?;
        let server_only = bool_param(params, "js-server-only")?;
        // Only the meta layer of a cluster is skipped by it; a single node has none.
        let _meta_only = bool_param(params, "js-meta-only")?;
        let details = bool_param(params, "details")?;
        let text = |name: &str| params.get(name).cloned().unwrap_or_default();
        Ok(HealthQuery {
            server_only,
            enabled_only: enabled_only || enabled,
            account: text("account"),
            stream: text("stream"),
            consumer: text("consumer"),
            details,
        })
    }
}

/// Builds the answer and its status code.
struct Answer {
    health: Health,
    details: bool,
}

impl Answer {
    /// Records a problem: one text without details, a typed entry with them.
    fn problem(
        &mut self,
        status: &'static str,
        kind: &'static str,
        names: [&str; 3],
        error: String,
    ) {
        if self.details {
            self.health.errors.push(HealthError {
                kind,
                account: names[0].to_owned(),
                stream: names[1].to_owned(),
                consumer: names[2].to_owned(),
                error,
            });
        } else {
            self.health.status = status;
            self.health.error = error;
        }
    }

    /// The final body: with details the status says only "ok" or "error".
    fn finish(mut self, code: Option<StatusCode>) -> (StatusCode, Health) {
        if self.details {
            self.health.status = if self.health.errors.is_empty() {
                "ok"
            } else {
                "error"
            };
        }
        let failed = !self.health.error.is_empty() || !self.health.errors.is_empty();
        let code = code.unwrap_or(if failed {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        });
        (code, self.health)
    }
}

const UNAVAILABLE: &str = "unavailable";

/// The answer to `/healthz` with `q`, given JetStream if it runs.
pub(crate) fn healthz(js: Option<&JetStream>, q: &HealthQuery) -> (StatusCode, Health) {
    let mut answer = Answer {
        health: Health {
            status: "ok",
            error: String::new(),
            errors: Vec::new(),
        },
        details: q.details,
    };
    let bad_request = |mut answer: Answer, text: String| {
        answer.problem("error", "BAD_REQUEST", ["", "", ""], text);
        answer.finish(Some(StatusCode::BAD_REQUEST))
    };
    if q.account.is_empty() && !q.stream.is_empty() {
        let text = "\"account\" must not be empty when checking stream health".to_owned();
        return bad_request(answer, text);
    }
    if q.stream.is_empty() && !q.consumer.is_empty() {
        let text = "\"stream\" must not be empty when checking consumer health".to_owned();
        return bad_request(answer, text);
    }
    // The server accepts clients before monitoring starts, and JetStream either runs or the
    // server did not start; so these two checks of nats-server always pass here.
    let Some(js) = js else {
        return answer.finish(None);
    };
    if q.server_only || q.enabled_only {
        return answer.finish(None);
    }
    let names = [q.account.as_str(), q.stream.as_str(), q.consumer.as_str()];
    let mut account_found = false;
    let mut stream_found = false;
    let mut consumer_found = false;
    for account in js.account_dirs() {
        if !q.account.is_empty() {
            if account != q.account {
                continue;
            }
            account_found = true;
        }
        let Some(jsa) = js.account(&account) else {
            let error = format!("JetStream account '{account}' could not be resolved");
            if !answer.details {
                answer.problem(UNAVAILABLE, "ACCOUNT", names, error);
                return answer.finish(None);
            }
            answer.problem(UNAVAILABLE, "ACCOUNT", [&account, "", ""], error);
            continue;
        };
        for name in jsa.stream_dirs() {
            if !q.stream.is_empty() {
                if name != q.stream {
                    continue;
                }
                stream_found = true;
            }
            let failure = match jsa.stream(&name) {
                None => Some(format!(
                    "JetStream stream '{account} > {name}' could not be recovered"
                )),
                Some(stream) => stream
                    .write_error()
                    .map(|e| format!("JetStream stream '{account} > {name}' write error: {e}")),
            };
            if let Some(error) = failure {
                if !answer.details {
                    answer.problem(UNAVAILABLE, "STREAM", names, error);
                    return answer.finish(None);
                }
                answer.problem(UNAVAILABLE, "STREAM", [&account, &name, ""], error);
                continue;
            }
            if stream_found {
                if !q.consumer.is_empty() {
                    consumer_found = jsa
                        .stream(&name)
                        .is_some_and(|s| s.has_consumer(&q.consumer));
                }
                break;
            }
        }
        if account_found {
            break;
        }
    }
    let not_found = |mut answer: Answer, kind, names, error: String| {
        // nats-server replaces any earlier error with this one.
        answer.health.errors.clear();
        answer.problem(UNAVAILABLE, kind, names, error);
        answer.finish(Some(StatusCode::NOT_FOUND))
    };
    if !q.account.is_empty() && !account_found {
        let error = format!("JetStream account \"{}\" not found", q.account);
        return not_found(answer, "ACCOUNT", [names[0], "", ""], error);
    }
    if !q.stream.is_empty() && !stream_found {
        let error = format!(
            "JetStream stream \"{}\" not found on account \"{}\"",
            q.stream, q.account
        );
        return not_found(answer, "STREAM", [names[0], names[1], ""], error);
    }
    if !q.consumer.is_empty() && !consumer_found {
        let error = format!(
            "JetStream consumer \"{}\" not found for stream \"{}\" on account \"{}\"",
            q.consumer, q.stream, q.account
        );
        return not_found(answer, "CONSUMER", names, error);
    }
    answer.finish(None)
}
