//! Account JWT updates in operator mode (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`), as
//! nats-server's memory resolver takes them: the account must be one the server already
//! trusts, the new JWT must be about it and signed by a trusted operator. The accounts are
//! rebuilt with the new exports and imports, and clients already connected get the new
//! revocations and connection limit (revoked users and the newest clients over the limit are
//! disconnected, with nats-server's errors).

use std::sync::Arc;

use serde::Serialize;

use super::{Request, ServerInfo, System};
use crate::client::{Client, CloseReason};
use crate::operator::{ClaimsUpdateError, Trust};
use crate::state::Shared;

const ERR_REVOKED: &str = "User Authentication Revoked";
const ERR_MAX_ACCOUNT_CONNECTIONS: &str = "maximum account active connections exceeded";

/// nats-server's `ServerAPIClaimUpdateResponse`.
#[derive(Serialize)]
struct Response<'a> {
    server: ServerInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Status<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Failure<'a>>,
}

#[derive(Serialize)]
struct Status<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    account: &'a str,
    code: u16,
    message: &'a str,
}

#[derive(Serialize)]
struct Failure<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    account: &'a str,
    code: u16,
    description: String,
}

/// Applies the update in `request`; returns the reply to send, if it asked for one.
pub(super) fn update(
    shared: &Shared,
    system: &System,
    request: &Request,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let subject = String::from_utf8_lossy(&request.subject);
    let tokens: Vec<&str> = subject.split('.').collect();
    // `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` or `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`.
    let key = match tokens.len() {
        6 => tokens[3],
        5 => tokens[2],
        _ => {
            tracing::debug!("Received account claims update on bad subject {subject:?}");
            return None;
        }
    };
    let outcome = apply(shared, key, &request.payload);
    match &outcome {
        Ok(message) => tracing::debug!("{message} - {key}"),
        Err((message, why)) => tracing::error!("{message} - {key} - {why}"),
    }
    let reply = request.reply.clone()?;
    let response = match &outcome {
        Ok(message) => Response {
            server: system.server_info(shared),
            data: Some(Status {
                account: key,
                code: 200,
                message,
            }),
            error: None,
        },
        Err((message, why)) => Response {
            server: system.server_info(shared),
            data: None,
            error: Some(Failure {
                account: key,
                code: 500,
                description: format!("{message} - {why}"),
            }),
        },
    };
    Some((reply, serde_json::to_vec(&response).ok()?))
}

/// Checks and applies `token` as account `key`'s JWT. `Ok` is the status message; `Err`
/// nats-server's message and reason.
fn apply(shared: &Shared, key: &str, token: &[u8]) -> Result<&'static str, (&'static str, String)> {
    const FAILED: &str = "jwt update resulted in error";
    if token.is_empty() {
        return Err(("jwt update error", "request body is empty".into()));
    }
    let token = std::str::from_utf8(token)
        .map_err(|e| (FAILED, e.to_string()))?
        .trim();
    let subject = crate::operator::account_subject(token).map_err(|e| (FAILED, e.to_string()))?;
    if subject != key {
        return Err((FAILED, "subject does not match jwt content".into()));
    }
    let Some(trust) = shared.trust.read().clone() else {
        return Err((FAILED, "not in operator mode".into()));
    };
    if !trust.has_account(key) {
        return Ok("jwt update skipped");
    }
    if trust.has_account_jwt(key, token) {
        return Ok("jwt updated");
    }
    let next = match trust.updated(key, token) {
        Ok(next) => next,
        Err(ClaimsUpdateError::Skipped) => return Ok("jwt update skipped"),
        Err(e) => return Err((FAILED, e.to_string())),
    };
    // The server's options hold the accounts as expanded at start: keep the configured
    // ones, take the trusted ones from the new trust.
    let configured = crate::ServerOptions {
        accounts: shared
            .opts
            .accounts
            .iter()
            .filter(|a| !trust.has_account(&a.name))
            .cloned()
            .collect(),
        ..shared.opts.clone()
    };
    let expanded = crate::ServerOptions {
        accounts: crate::operator::accounts_with(&configured, &next),
        ..configured
    };
    shared
        .accounts
        .replace(&expanded)
        .map_err(|e| (FAILED, e.to_string()))?;
    let next = Arc::new(next);
    *shared.trust.write() = Some(next.clone());
    enforce(shared, key, &next);
    Ok("jwt updated")
}

/// Disconnects the clients of account `key` that its new claims no longer admit.
fn enforce(shared: &Shared, key: &str, trust: &Trust) {
    let mut clients: Vec<Arc<Client>> = shared
        .clients
        .lock()
        .values()
        .filter(|c| c.account.get().is_some_and(|a| &*a.name == key))
        .cloned()
        .collect();
    // Oldest first: the newest are the ones over a lowered limit, as in nats-server.
    clients.sort_by_key(|c| c.cid);
    let limit = trust.connection_limit(key);
    let mut admitted = 0;
    for client in clients {
        if limit.is_some_and(|max| admitted >= max) {
            tracing::error!("{} - {ERR_MAX_ACCOUNT_CONNECTIONS}", client);
            close_with_error(
                &client,
                ERR_MAX_ACCOUNT_CONNECTIONS,
                CloseReason::MaxConnectionsExceeded,
            );
            continue;
        }
        admitted += 1;
        if let Some(user) = client.jwt.get()
            && trust.is_revoked(key, user)
        {
            tracing::debug!("{} - {ERR_REVOKED}", client);
            close_with_error(&client, ERR_REVOKED, CloseReason::Revocation);
        }
    }
}

/// Sends `-ERR '<message>'` and closes the connection once it is written.
fn close_with_error(client: &Client, message: &str, reason: CloseReason) {
    let mut line = Vec::with_capacity(message.len() + 9);
    natrium_wire::encode_err(&mut line, message);
    client.outbound.send_now(&line);
    client.set_close_reason(reason);
    client.outbound.close();
}
