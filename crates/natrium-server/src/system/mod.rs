//! The system account (`system_account`, `$SYS` by default): the server's events and the
//! requests a NATS operator's tools send it, as nats-server's `events.go` has them.
//!
//! - `$SYS.ACCOUNT.<account>.CONNECT` / `.DISCONNECT`: a client of `<account>` connected or
//!   left (`io.nats.server.advisory.v1.client_connect` / `client_disconnect`).
//! - `$SYS.REQ.SERVER.PING` and `$SYS.REQ.SERVER.PING.{STATSZ,VARZ,CONNZ,IDZ}` (and the same
//!   under `$SYS.REQ.SERVER.<server id>.`): the server's statistics and monitoring documents.
//! - `$SYS.REQ.ACCOUNT.<account>.CONNZ`: `/connz` of one account.
//! - In operator mode, `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` (and the older
//!   `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`): a new account JWT for the memory resolver.
//!
//! Only clients of the system account can publish or subscribe there: the requests are
//! internal subscriptions in its subject index, and every message is published into it.
//! Requests are queued to one task, so a monitoring document is never built in a
//! publisher's read loop.

mod claims;
mod events;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::accounts::Account;
use crate::client::{Client, CloseReason};
use crate::connection::deliver::publish_internal;
use crate::internal::{AfterBatch, InMsg, Outgoing, Sink};
use crate::state::{Shared, System};
use crate::subscription::{SubRef, Subscription};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Statsz,
    Varz,
    Connz,
    Idz,
    AccountConnz,
    ClaimsUpdate,
}

/// A request taken from the subject index, waiting for the system task.
struct Request {
    kind: Kind,
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// Requests waiting for the system task at most; more are dropped (a flood of monitoring
/// requests must not grow the server's memory without bound).
const QUEUED_REQUESTS: usize = 1024;

/// The internal subscriber of one request subject: it queues what it receives.
struct RequestSink {
    kind: Kind,
    queue: mpsc::Sender<Request>,
}

impl Sink for RequestSink {
    fn receive(&self, msg: &InMsg<'_>, _after: &mut AfterBatch) -> bool {
        // Monitoring requests without a reply subject have nowhere to go (a claims update
        // still applies).
        if msg.reply.is_none() && self.kind != Kind::ClaimsUpdate && self.kind != Kind::Statsz {
            return true;
        }
        let request = Request {
            kind: self.kind,
            subject: msg.subject.to_vec(),
            reply: msg.reply.map(<[u8]>::to_vec),
            payload: msg.payload.to_vec(),
        };
        if let Err(mpsc::error::TrySendError::Full(r)) = self.queue.try_send(request) {
            tracing::warn!(
                "system request on {} dropped: too many waiting",
                String::from_utf8_lossy(&r.subject)
            );
        }
        true
    }
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("account", &self.account.name)
            .finish_non_exhaustive()
    }
}

/// `server` in every message: who sent it.
#[derive(Serialize)]
struct ServerInfo<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
    ver: &'static str,
    jetstream: bool,
    flags: u64,
    seq: u64,
    #[serde(serialize_with = "crate::monitor::format::serialize_timestamp")]
    time: SystemTime,
}

impl System {
    /// `server` for the next message.
    fn server_info<'a>(&self, shared: &'a Shared) -> ServerInfo<'a> {
        let jetstream = shared.jetstream.get().is_some();
        ServerInfo {
            name: &shared.info.server_name,
            host: &shared.opts.host,
            id: &shared.info.server_id,
            domain: &shared.info.domain,
            ver: crate::info::VERSION,
            jetstream,
            // nats-server's `JetStreamEnabled` capability bit.
            flags: u64::from(jetstream),
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            time: SystemTime::now(),
        }
    }
}

/// Sets up the system account of `shared`: its request subscriptions and the task that
/// answers them. Called once, right after start.
pub(crate) fn start(shared: &Arc<Shared>) {
    let name = shared.opts.system_account_name();
    let Some(account) = shared.accounts.get(name) else {
        // `operator::expand` always adds it; a missing one would be a bug, not fatal.
        tracing::error!("system account {name} not found: no system services");
        return;
    };
    let (queue, requests) = mpsc::channel(QUEUED_REQUESTS);
    let id = &shared.info.server_id;
    let mut subjects: Vec<(String, Kind)> = vec![("$SYS.REQ.SERVER.PING".into(), Kind::Statsz)];
    for (name, kind) in [
        ("STATSZ", Kind::Statsz),
        ("VARZ", Kind::Varz),
        ("CONNZ", Kind::Connz),
        ("IDZ", Kind::Idz),
    ] {
        subjects.push((format!("$SYS.REQ.SERVER.PING.{name}"), kind));
        subjects.push((format!("$SYS.REQ.SERVER.{id}.{name}"), kind));
    }
    subjects.push(("$SYS.REQ.ACCOUNT.*.CONNZ".into(), Kind::AccountConnz));
    if shared.opts.operator.is_some() {
        subjects.push((
            "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE".into(),
            Kind::ClaimsUpdate,
        ));
        subjects.push(("$SYS.ACCOUNT.*.CLAIMS.UPDATE".into(), Kind::ClaimsUpdate));
    }
    for (subject, kind) in subjects {
        let sink = Arc::new(RequestSink {
            kind,
            queue: queue.clone(),
        });
        subscribe(shared, &account, subject.as_bytes(), sink);
    }
    let system = Arc::new(System {
        account,
        seq: AtomicU64::new(0),
    });
    let _ = shared.system.set(system.clone());
    shared.tasks.spawn(serve(
        shared.clone(),
        system,
        requests,
        shared.shutdown.clone(),
    ));
}

/// Adds an internal subscription owned by the server's client to `account`'s index.
fn subscribe(shared: &Shared, account: &Account, subject: &[u8], sink: Arc<dyn Sink>) {
    let n = shared.next_internal_sid.fetch_add(1, Ordering::Relaxed);
    let sid = n.to_string();
    let client = shared.internal_client.clone();
    let sub = Arc::new(Subscription::internal(
        client,
        subject,
        None,
        sid.as_bytes(),
        sink,
    ));
    if let Err(e) = account.sublist.insert(subject, None, SubRef(sub.clone())) {
        tracing::error!(
            "system subscription to {} not installed: {e:?}",
            String::from_utf8_lossy(subject)
        );
        return;
    }
    account.internal_subs.fetch_add(1, Ordering::Relaxed);
    shared
        .internal_client
        .subs
        .lock()
        .insert(sid.as_bytes().into(), sub);
}

/// Publishes `payload` as the server into `account` (to its clients and internal
/// subscribers), waking each receiving writer. Returns whether anyone took it.
pub(crate) fn publish(shared: &Shared, account: &Account, subject: &[u8], payload: &[u8]) -> bool {
    let msg = Outgoing {
        to: subject.to_vec(),
        subject: None,
        reply: None,
        headers: None,
        payload: bytes::Bytes::copy_from_slice(payload),
    };
    publish_internal(shared, &shared.internal_client, account, &[msg]) > 0
}

/// Announces that `client` connected (after a successful CONNECT).
pub(crate) fn client_connected(shared: &Shared, client: &Client) {
    if let Some(system) = shared.system.get() {
        events::connect(shared, system, client);
    }
}

/// Announces that `client`, connected before, has left for `reason`.
pub(crate) fn client_disconnected(shared: &Shared, client: &Client, reason: CloseReason) {
    if let Some(system) = shared.system.get() {
        events::disconnect(shared, system, client, reason);
    }
}

/// `{"server": ..., "data": ...}` or `{"server": ..., "error": ...}`: nats-server's
/// `ServerAPIResponse`.
#[derive(Serialize)]
struct ApiResponse<'a, T: Serialize> {
    server: ServerInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

#[derive(Serialize)]
struct ApiError {
    code: u16,
    description: String,
}

/// The filter every monitoring request may carry (nats-server's `EventFilterOptions`): a
/// server that does not match stays silent, so one request can address some servers.
#[derive(Debug, Default, serde::Deserialize)]
struct Filter {
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    exact: bool,
}

impl Filter {
    /// Whether this server is left out.
    fn excludes(&self, shared: &Shared) -> bool {
        let name = &shared.info.server_name;
        let host = &shared.opts.host;
        let differs = |want: &str, have: &str| {
            !want.is_empty()
                && if self.exact {
                    want != have
                } else {
                    !have.contains(want)
                }
        };
        // No cluster and no tags here: asking for any leaves this server out.
        differs(&self.server_name, name)
            || differs(&self.host, host)
            || !self.cluster.is_empty()
            || !self.tags.is_empty()
            || (!self.domain.is_empty() && self.domain != shared.info.domain)
    }
}

/// `/connz` options in a `CONNZ` request (nats-server's `ConnzOptions` fields), as the HTTP
/// endpoint's query parameters.
#[derive(Debug, Default, serde::Deserialize)]
struct ConnzRequest {
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    auth: Option<bool>,
    #[serde(default)]
    subscriptions: Option<bool>,
    #[serde(default)]
    subscriptions_detail: Option<bool>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cid: Option<u64>,
    /// 0 open, 1 closed, 2 all.
    #[serde(default)]
    state: Option<u8>,
    #[serde(default)]
    acc: Option<String>,
    #[serde(flatten)]
    filter: Filter,
}

impl ConnzRequest {
    fn params(&self) -> HashMap<String, String> {
        let mut p = HashMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                p.insert(k.to_owned(), v);
            }
        };
        put("sort", self.sort.clone());
        put("auth", self.auth.map(|b| b.to_string()));
        put("subs", self.subscriptions.map(|b| b.to_string()));
        if self.subscriptions_detail == Some(true) {
            put("subs", Some("detail".into()));
        }
        put("offset", self.offset.map(|n| n.to_string()));
        put("limit", self.limit.map(|n| n.to_string()));
        put("cid", self.cid.map(|n| n.to_string()));
        put(
            "state",
            self.state.map(|s| {
                match s {
                    1 => "closed",
                    2 => "all",
                    _ => "open",
                }
                .to_owned()
            }),
        );
        put("acc", self.acc.clone());
        p
    }
}

/// Answers requests until the server shuts down.
async fn serve(
    shared: Arc<Shared>,
    system: Arc<System>,
    mut requests: mpsc::Receiver<Request>,
    stop: tokio_util::sync::CancellationToken,
) {
    let docs = crate::monitor::Documents::new();
    loop {
        let request = tokio::select! {
            _ = stop.cancelled() => return,
            r = requests.recv() => match r {
                Some(r) => r,
                None => return,
            },
        };
        let answer = match request.kind {
            Kind::ClaimsUpdate => claims::update(&shared, &system, &request),
            _ => monitoring(&shared, &system, &docs, &request),
        };
        if let Some((subject, payload)) = answer {
            publish(&shared, &system.account, &subject, &payload);
        }
    }
}

/// The answer to a monitoring request: its subject and payload, or `None` for none.
fn monitoring(
    shared: &Shared,
    system: &System,
    docs: &crate::monitor::Documents,
    request: &Request,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let reply = match (&request.reply, request.kind) {
        (Some(reply), _) => reply.clone(),
        // A statsz request without a reply: broadcast, as nats-server does.
        (None, Kind::Statsz) => format!("$SYS.SERVER.{}.STATSZ", shared.info.server_id).into(),
        (None, _) => return None,
    };
    let body = &request.payload;
    let error = |code: u16, description: String| {
        let response: ApiResponse<'_, ()> = ApiResponse {
            server: system.server_info(shared),
            data: None,
            error: Some(ApiError { code, description }),
        };
        serde_json::to_vec(&response).ok()
    };
    let data = |value: serde_json::Value| {
        serde_json::to_vec(&ApiResponse {
            server: system.server_info(shared),
            data: Some(value),
            error: None,
        })
        .ok()
    };
    let payload = match request.kind {
        Kind::Connz | Kind::AccountConnz => {
            let mut options = ConnzRequest::default();
            if !body.is_empty() {
                match serde_json::from_slice::<ConnzRequest>(body) {
                    Ok(o) if o.filter.excludes(shared) => return None,
                    Ok(o) => options = o,
                    Err(e) => return Some((reply, error(400, e.to_string())?)),
                }
            }
            let mut params = options.params();
            if request.kind == Kind::AccountConnz {
                // `$SYS.REQ.ACCOUNT.<account>.CONNZ`
                let subject = String::from_utf8_lossy(&request.subject);
                let account = subject.split('.').nth(3).unwrap_or_default();
                params.insert("acc".into(), account.to_owned());
            }
            match docs.connz(shared, &params) {
                Ok(doc) => data(doc)?,
                Err(e) => error(500, e)?,
            }
        }
        // Bare, unfiltered, as nats-server answers it.
        Kind::Idz => serde_json::to_vec(&serde_json::json!({
            "name": shared.info.server_name,
            "host": shared.opts.host,
            "id": shared.info.server_id,
        }))
        .ok()?,
        _ => {
            if !body.is_empty() {
                match serde_json::from_slice::<Filter>(body) {
                    Ok(f) if f.excludes(shared) => return None,
                    Ok(_) => {}
                    Err(e) => return Some((reply, error(400, e.to_string())?)),
                }
            }
            match request.kind {
                Kind::Statsz => events::statsz(shared, system, docs)?,
                _ => data(docs.varz(shared))?,
            }
        }
    };
    Some((reply, payload))
}
