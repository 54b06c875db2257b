//! `/connz`: open connections and a bounded history of closed ones, with nats-server's
//! query parameters (`sort`, `subs`, `offset`, `limit`, `cid`, `state`, `auth`) and fields.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use super::format;
use super::query::{self, QueryError};
use crate::client::{Client, CloseReason};
use crate::server::Shared;

/// Closed connections kept for `/connz?state=closed` (nats-server's default).
pub(crate) const MAX_CLOSED_CONNECTIONS: usize = 10_000;

/// Connections listed when `limit` is absent or not positive.
pub(crate) const DEFAULT_LIMIT: usize = 1024;

use crate::accounts::GLOBAL_ACCOUNT;

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
    pub tls: Option<crate::tls::SessionInfo>,
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
    fn end(&self, now: SystemTime) -> SystemTime {
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

/// Which connections to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

/// How to order the list. Every order but `cid`, `start` and `reason` is descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
}

impl Sort {
    fn parse(text: &str) -> Option<Sort> {
        Some(match text {
            "" | "cid" => Sort::Cid,
            "start" => Sort::Start,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::MsgsTo,
            "msgs_from" => Sort::MsgsFrom,
            "bytes_to" => Sort::BytesTo,
            "bytes_from" => Sort::BytesFrom,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            _ => return None,
        })
    }

    fn apply(self, list: &mut [Arc<ConnRecord>], now: SystemTime) {
        // Stable sorts over a cid-ordered list: ties stay in cid order.
        list.sort_by_key(|c| c.cid);
        match self {
            Sort::Cid | Sort::Start => {}
            Sort::Subs => list.sort_by_key(|c| std::cmp::Reverse(c.subs.len())),
            Sort::Pending => list.sort_by_key(|c| std::cmp::Reverse(c.pending_bytes)),
            Sort::MsgsTo => list.sort_by_key(|c| std::cmp::Reverse(c.out_msgs)),
            Sort::MsgsFrom => list.sort_by_key(|c| std::cmp::Reverse(c.in_msgs)),
            Sort::BytesTo => list.sort_by_key(|c| std::cmp::Reverse(c.out_bytes)),
            Sort::BytesFrom => list.sort_by_key(|c| std::cmp::Reverse(c.in_bytes)),
            Sort::Last => list.sort_by_key(|c| std::cmp::Reverse(c.last_activity)),
            Sort::Idle => {
                list.sort_by_key(|c| std::cmp::Reverse(format::since(c.last_activity, c.end(now))))
            }
            Sort::Uptime => list.sort_by_key(|c| format::since(c.start, c.end(now))),
            Sort::Stop => list.sort_by_key(|c| std::cmp::Reverse(c.closed.map(|(t, _)| t))),
            Sort::Reason => list.sort_by_key(|c| c.closed.map(|(_, r)| r)),
        }
    }
}

/// How much of each connection's subscriptions to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubsMode {
    None,
    Subjects,
    Detail,
}

/// `/connz` query parameters.
#[derive(Debug)]
pub(crate) struct ConnzQuery {
    sort: Sort,
    auth: bool,
    /// `acc`: only this account's connections.
    acc: Option<String>,
    subs: SubsMode,
    offset: usize,
    limit: usize,
    cid: u64,
    state: State,
}

impl ConnzQuery {
    /// Reads the parameters with nats-server's checks and error texts.
    pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Self, QueryError> {
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
        let sort_text = get("sort");
        let auth = query::bool_param(params, "auth")?;
        let subs = if get("subs").eq_ignore_ascii_case("detail") {
            SubsMode::Detail
        } else if query::bool_param(params, "subs")? {
            SubsMode::Subjects
        } else {
            SubsMode::None
        };
        let offset = query::int_param(params, "offset")?;
        let limit = query::int_param(params, "limit")?;
        let cid = query::uint_param(params, "cid")?;
        let state = match get("state").to_ascii_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::All,
            _ => {
                return Err(QueryError(format!(
                    "Error decoding state for {}",
                    get("state")
                )));
            }
        };
        let sort = Sort::parse(sort_text)
            .ok_or_else(|| QueryError(format!("invalid sorting option: {sort_text}")))?;
        if sort == Sort::Stop && state != State::Closed {
            return Err(QueryError(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == Sort::Reason && state != State::Closed {
            return Err(QueryError(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        let limit = if cid > 0 {
            1
        } else if limit <= 0 {
            DEFAULT_LIMIT
        } else {
            limit as usize
        };
        Ok(ConnzQuery {
            sort,
            auth,
            acc: params.get("acc").filter(|a| !a.is_empty()).cloned(),
            subs,
            offset: offset.max(0) as usize,
            limit,
            cid,
            state,
        })
    }
}

/// The `/connz` document.
#[derive(Debug, Serialize)]
pub(crate) struct Connz {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnInfo>,
}

/// One connection in `/connz`, with nats-server's field names and order.
#[derive(Debug, Serialize)]
struct ConnInfo {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    #[serde(serialize_with = "format::serialize_timestamp")]
    start: SystemTime,
    #[serde(serialize_with = "format::serialize_timestamp")]
    last_activity: SystemTime,
    #[serde(
        serialize_with = "format::serialize_opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    stop: Option<SystemTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cipher_suite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<String>,
    /// With `auth`, the account of a client outside the global one (as nats-server 2.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list_detail: Vec<SubDetail>,
}

impl ConnInfo {
    fn new(c: &ConnRecord, q: &ConnzQuery, now: SystemTime) -> Self {
        let end = c.end(now);
        let (subscriptions_list, subscriptions_list_detail) = match q.subs {
            SubsMode::None => (Vec::new(), Vec::new()),
            SubsMode::Subjects => (
                c.subs.iter().map(|s| s.subject.clone()).collect(),
                Vec::new(),
            ),
            SubsMode::Detail => (Vec::new(), c.subs.clone()),
        };
        ConnInfo {
            cid: c.cid,
            kind: "Client",
            kind_type: "nats",
            ip: c.ip.clone(),
            port: c.port,
            start: c.start,
            last_activity: c.last_activity,
            stop: c.closed.map(|(t, _)| t),
            reason: c.closed.map(|(_, r)| r),
            rtt: format::rtt(c.rtt),
            uptime: format::uptime(format::since(c.start, end)),
            idle: format::uptime(format::since(c.last_activity, end)),
            pending_bytes: c.pending_bytes,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            subscriptions: c.subs.len(),
            name: c.name.clone(),
            lang: c.lang.clone(),
            version: c.version.clone(),
            tls_version: c.tls.as_ref().map(|t| t.version.clone()),
            tls_cipher_suite: c.tls.as_ref().map(|t| t.cipher_suite.clone()),
            authorized_user: if q.auth { c.user.clone() } else { None },
            account: (q.auth && &*c.account != GLOBAL_ACCOUNT).then(|| c.account.to_string()),
            subscriptions_list,
            subscriptions_list_detail,
        }
    }
}

/// Builds the `/connz` document.
pub(crate) fn connz(shared: &Shared, q: &ConnzQuery) -> Connz {
    let now = SystemTime::now();
    let open: Vec<Arc<Client>> = if q.state == State::Closed {
        Vec::new()
    } else {
        shared.clients.lock().values().cloned().collect()
    };
    let closed = if q.state == State::Open {
        Vec::new()
    } else {
        shared.closed.snapshot()
    };
    let in_account = |c: &ConnRecord| q.acc.as_deref().is_none_or(|a| &*c.account == a);
    let open: Vec<Arc<ConnRecord>> = open
        .iter()
        .map(|c| Arc::new(ConnRecord::of(c, None)))
        .filter(|c| in_account(c))
        .collect();
    let closed: Vec<Arc<ConnRecord>> = closed.into_iter().filter(|c| in_account(c)).collect();
    let total = open.len() + closed.len();
    let mut list: Vec<Arc<ConnRecord>> = open
        .into_iter()
        .filter(|c| q.cid == 0 || c.cid == q.cid)
        .chain(closed.into_iter().filter(|c| q.cid == 0 || c.cid == q.cid))
        .collect();
    q.sort.apply(&mut list, now);
    let connections: Vec<ConnInfo> = list
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|c| ConnInfo::new(c, q, now))
        .collect();
    Connz {
        server_id: shared.info.server_id.clone(),
        now,
        num_connections: connections.len(),
        total,
        offset: q.offset,
        limit: q.limit,
        connections,
    }
}
