//! `/accstatz`: each account's connections, subscriptions and traffic, with nats-server's
//! field names. Accounts without connections appear with `?unused=1`.
//!
//! natrium-server has no routes, gateways or leaf nodes, so their counts are zero; the
//! subscription count is the account's own subject index (nats-server adds its system
//! imports).

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format;
use crate::accounts::Traffic;
use crate::state::Shared;

/// The `/accstatz` document.
#[derive(Debug, Serialize)]
pub(crate) struct AccountStatz {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    account_statz: Vec<AccountStat>,
}

#[derive(Debug, Serialize)]
struct AccountStat {
    acc: String,
    name: String,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    num_subscriptions: usize,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

#[derive(Debug, Serialize, Default)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytes,
    routes: MsgBytes,
    leafs: MsgBytes,
}

impl DataStats {
    fn local(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

/// The accounts with connections (every account with `unused`).
pub(crate) fn statz(shared: &Shared, unused: bool) -> AccountStatz {
    let clients: Vec<_> = shared.clients.lock().values().cloned().collect();
    let account_statz = shared
        .accounts
        .all()
        .iter()
        .filter_map(|account| {
            let mut traffic = *account.closed_traffic.lock();
            let mut conns = 0;
            for client in &clients {
                if std::ptr::eq(shared.account_of(client).as_ref(), account.as_ref()) {
                    conns += 1;
                    traffic.add(Traffic::of(client));
                }
            }
            (unused || conns > 0).then(|| AccountStat {
                acc: account.name.to_string(),
                name: account.name.to_string(),
                conns,
                leafnodes: 0,
                total_conns: conns,
                num_subscriptions: account.sublist.count(),
                // Sent to the account's clients, received from them.
                sent: DataStats::local(traffic.out_msgs, traffic.out_bytes),
                received: DataStats::local(traffic.in_msgs, traffic.in_bytes),
                slow_consumers: account.slow_consumers.load(Ordering::Relaxed),
            })
        })
        .collect();
    AccountStatz {
        server_id: shared.info.server_id.clone(),
        now: SystemTime::now(),
        account_statz,
    }
}
