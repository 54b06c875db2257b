//! `/connz`: open connections and a bounded history of closed ones, with nats-server's
//! query parameters (`sort`, `subs`, `offset`, `limit`, `cid`, `state`, `auth`) and fields.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::format;
use super::query::{self, QueryError};
use crate::accounts::GLOBAL_ACCOUNT;
use crate::client::Client;
use crate::records::{ConnRecord, SubDetail};
use crate::state::Shared;

/// Connections listed when `limit` is absent or not positive.
pub(crate) const DEFAULT_LIMIT: usize = 1024;

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
