//! What monitoring shows of a connection (`/connz`, `/subsz`), and the bounded history of
//! closed connections the server keeps for `/connz?state=closed`. Connections record
//! themselves here when they close; monitoring only reads.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::accounts::GLOBAL_ACCOUNT;
use crate::client::{Client, CloseReason};

/// Closed connections kept for `/connz?state=closed` (nats-server's default).
pub(crate) const MAX_CLOSED_CONNECTIONS: usize = 10_000;

/// One subscription as `/connz?subs=detail` and `/subsz?subs=1` show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The subscriptions of `client`, ordered by sid (numeric sids in numeric order).
pub(crate) fn sub_details(client: &Client, account: Option<&Arc<str>>) -> Vec<SubDetail> {
    let mut subs: Vec<SubDetail> = client
        .subs
        .lock()
        .values()
        .map(|s| SubDetail {
            account: account.map(|a| a.to_string()),
            subject: String::from_utf8_lossy(&s.subject).into_owned(),
            queue: s
                .queue
                .as_deref()
                .map(|q| String::from_utf8_lossy(q).into_owned()),
            sid: String::from_utf8_lossy(&s.sid).into_owned(),
            msgs: s.delivered(),
            max: s.max(),
            cid: client.cid,
        })
        .collect();
    subs.sort_by(|a, b| (a.sid.len(), &a.sid).cmp(&(b.sid.len(), &b.sid)));
    subs
}

/// Everything `/connz` shows about one connection, open or closed, with raw values so it can
/// be sorted before it is formatted.
#[derive(Debug, Clone)]
pub(crate) struct ConnRecord {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    /// When and why it closed; `None` while open.
    pub closed: Option<(SystemTime, &'static str)>,
    pub rtt: Option<Duration>,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subs: Vec<SubDetail>,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub tls: Option<crate::client::SessionInfo>,
    /// The client's account (`$G` outside any account).
    pub account: Arc<str>,
}

impl ConnRecord {
    /// A snapshot of `client`; `closed` is set when it is being recorded as closed.
    pub(crate) fn of(client: &Client, closed: Option<(SystemTime, &'static str)>) -> Self {
        let out = client.outbound.stats();
        let meta = client.meta.lock().clone();
        let rtt = client.rtt.load(Ordering::Relaxed);
        let account_name = client
            .account
            .get()
            .map_or_else(|| Arc::from(GLOBAL_ACCOUNT), |a| a.name.clone());
        // nats-server names the account in a closed connection's subscriptions only.
        let account = closed.map(|_| &account_name);
        ConnRecord {
            cid: client.cid,
            ip: client.addr.ip().to_string(),
            port: client.addr.port(),
            start: client.start,
            last_activity: UNIX_EPOCH
                + Duration::from_nanos(client.last_activity.load(Ordering::Relaxed)),
            closed,
            rtt: (rtt > 0).then(|| Duration::from_nanos(rtt)),
            pending_bytes: out.pending_bytes,
            in_msgs: client.in_msgs.load(Ordering::Relaxed),
            out_msgs: out.out_msgs,
            in_bytes: client.in_bytes.load(Ordering::Relaxed),
            out_bytes: out.out_bytes,
            subs: sub_details(client, account),
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            user: meta.user,
            tls: client.tls.get().cloned(),
            account: account_name.clone(),
        }
    }

    /// The end of the connection's life so far: its stop time, or `now` while open.
    pub(crate) fn end(&self, now: SystemTime) -> SystemTime {
        self.closed.map_or(now, |(stop, _)| stop)
    }
}

/// The most recent closed connections, oldest first, bounded.
#[derive(Debug)]
pub(crate) struct ClosedConnections {
    ring: Mutex<VecDeque<Arc<ConnRecord>>>,
    capacity: usize,
}

impl Default for ClosedConnections {
    fn default() -> Self {
        ClosedConnections::with_capacity(MAX_CLOSED_CONNECTIONS)
    }
}

impl ClosedConnections {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        ClosedConnections {
            ring: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// Records `client` as closed now, with the reason it closed for.
    pub(crate) fn record(&self, client: &Client) {
        if self.capacity == 0 {
            return;
        }
        let reason = client.close_reason().unwrap_or(CloseReason::ClientClosed);
        let record = Arc::new(ConnRecord::of(
            client,
            Some((SystemTime::now(), reason.as_str())),
        ));
        let mut ring = self.ring.lock();
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    pub(crate) fn snapshot(&self) -> Vec<Arc<ConnRecord>> {
        self.ring.lock().iter().cloned().collect()
    }
}
