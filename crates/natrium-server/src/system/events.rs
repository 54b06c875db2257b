//! The system account's event messages: client connect and disconnect advisories and the
//! server's statistics (`statsz`), with nats-server's types and field names.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::{ServerInfo, System, publish};
use crate::client::{Client, CloseReason};
use crate::state::Shared;

const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";

/// nats-server's `ClientInfo`, as far as natrium-server's clients fill it.
#[derive(Serialize)]
struct ClientInfo<'a> {
    #[serde(serialize_with = "crate::monitor::format::serialize_timestamp")]
    start: SystemTime,
    host: String,
    id: u64,
    acc: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    user: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    ver: &'a str,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    rtt: u64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::monitor::format::serialize_opt_timestamp"
    )]
    stop: Option<SystemTime>,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    issuer_key: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name_tag: &'a str,
    kind: &'static str,
    client_type: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct ConnectEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    #[serde(serialize_with = "crate::monitor::format::serialize_timestamp")]
    timestamp: SystemTime,
    server: ServerInfo<'a>,
    client: ClientInfo<'a>,
}

#[derive(Serialize)]
struct DisconnectEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    #[serde(serialize_with = "crate::monitor::format::serialize_timestamp")]
    timestamp: SystemTime,
    server: ServerInfo<'a>,
    client: ClientInfo<'a>,
    sent: MsgBytes,
    received: MsgBytes,
    reason: &'static str,
}

/// Fills `ClientInfo` from `client` and hands it to `with`.
fn with_client_info<R>(
    shared: &Shared,
    client: &Client,
    stop: Option<SystemTime>,
    with: impl FnOnce(ClientInfo<'_>) -> R,
) -> Option<R> {
    let account = client.account.get()?;
    let meta = client.meta.lock().clone();
    let jwt = client.jwt.get();
    let rtt = if stop.is_some() {
        client.rtt.load(Ordering::Relaxed)
    } else {
        0
    };
    // In operator mode the account is named by its key; the tag is its JWT's name.
    let trust = shared.trust.read().clone();
    let name_tag = match &trust {
        Some(trust) => trust.account_name(&account.name).unwrap_or_default(),
        None => &account.name,
    };
    Some(with(ClientInfo {
        start: client.start,
        host: client.addr.ip().to_string(),
        id: client.cid,
        acc: &account.name,
        user: meta.user.as_deref().unwrap_or_default(),
        name: &meta.name,
        lang: &meta.lang,
        ver: &meta.version,
        rtt,
        stop,
        jwt: jwt.map_or("", |j| &j.token),
        issuer_key: jwt.map_or("", |j| &j.issuer),
        name_tag,
        kind: "Client",
        client_type: "nats",
    }))
}

/// `$SYS.ACCOUNT.<client's account>.<event>`, when someone in the system account listens
/// on it (events are only built for listeners).
fn listened_event(system: &System, client: &Client, event: &str) -> Option<String> {
    let account = client.account.get()?;
    let subject = format!("$SYS.ACCOUNT.{}.{event}", account.name);
    system
        .account
        .has_interest(subject.as_bytes())
        .then_some(subject)
}

/// `$SYS.ACCOUNT.<account>.CONNECT`.
pub(super) fn connect(shared: &Shared, system: &System, client: &Client) {
    let Some(subject) = listened_event(system, client, "CONNECT") else {
        return;
    };
    let now = SystemTime::now();
    let payload = with_client_info(shared, client, None, |info| {
        serde_json::to_vec(&ConnectEvent {
            kind: CONNECT_TYPE,
            id: nuid::next().to_string(),
            timestamp: now,
            server: system.server_info(shared),
            client: info,
        })
    });
    if let Some(Ok(payload)) = payload {
        publish(shared, &system.account, subject.as_bytes(), &payload);
    }
}

/// `$SYS.ACCOUNT.<account>.DISCONNECT`.
pub(super) fn disconnect(shared: &Shared, system: &System, client: &Client, reason: CloseReason) {
    let Some(subject) = listened_event(system, client, "DISCONNECT") else {
        return;
    };
    let now = SystemTime::now();
    let snapshot = client.snapshot();
    let reason = client.close_reason().unwrap_or(reason).as_str();
    let payload = with_client_info(shared, client, Some(now), |info| {
        serde_json::to_vec(&DisconnectEvent {
            kind: DISCONNECT_TYPE,
            id: nuid::next().to_string(),
            timestamp: now,
            server: system.server_info(shared),
            client: info,
            // As nats-server: what the client sent, what it was sent.
            sent: MsgBytes {
                msgs: snapshot.in_msgs,
                bytes: snapshot.in_bytes,
            },
            received: MsgBytes {
                msgs: snapshot.out_msgs,
                bytes: snapshot.out_bytes,
            },
            reason,
        })
    });
    if let Some(Ok(payload)) = payload {
        publish(shared, &system.account, subject.as_bytes(), &payload);
    }
}

/// nats-server's `ServerStats`, as far as a single server without routes fills it.
#[derive(Serialize)]
struct Statsz {
    #[serde(serialize_with = "crate::monitor::format::serialize_timestamp")]
    start: SystemTime,
    mem: u64,
    cores: usize,
    #[serde(serialize_with = "crate::monitor::format::serialize_go_float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: usize,
    sent: MsgBytes,
    sent_to_clients: MsgBytes,
    received: MsgBytes,
    received_from_clients: MsgBytes,
    slow_consumers: u64,
    active_servers: usize,
    gomaxprocs: usize,
}

#[derive(Serialize)]
struct StatszMsg<'a> {
    server: ServerInfo<'a>,
    statsz: Statsz,
}

/// The statsz message (`{"server": ..., "statsz": ...}`).
pub(super) fn statsz(
    shared: &Shared,
    system: &System,
    docs: &crate::monitor::Documents,
) -> Option<Vec<u8>> {
    let usage = docs.usage();
    let c = &shared.counters;
    let clients: Vec<_> = shared.clients.lock().values().cloned().collect();
    let mut accounts: Vec<*const crate::accounts::Account> = clients
        .iter()
        .filter_map(|c| c.account.get().map(std::sync::Arc::as_ptr))
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers())
        .unwrap_or(cores);
    let counted =
        |msgs: &std::sync::atomic::AtomicU64, bytes: &std::sync::atomic::AtomicU64| MsgBytes {
            msgs: msgs.load(Ordering::Relaxed),
            bytes: bytes.load(Ordering::Relaxed),
        };
    let stats = Statsz {
        start: shared.started,
        mem: usage.rss_bytes,
        cores,
        cpu: usage.cpu_percent,
        connections: clients.len(),
        total_connections: c.total_connections.load(Ordering::Relaxed),
        active_accounts: accounts.len(),
        subscriptions: shared.accounts.subscription_count(),
        sent: counted(&c.out_msgs, &c.out_bytes),
        sent_to_clients: counted(&c.out_msgs, &c.out_bytes),
        received: counted(&c.in_msgs, &c.in_bytes),
        received_from_clients: counted(&c.in_msgs, &c.in_bytes),
        slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
        active_servers: 1,
        gomaxprocs: workers,
    };
    serde_json::to_vec(&StatszMsg {
        server: system.server_info(shared),
        statsz: stats,
    })
    .ok()
}
