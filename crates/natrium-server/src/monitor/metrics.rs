//! `/metrics`: the `/varz` and `/subsz` counters in the OpenMetrics text format, which
//! Prometheus scrapes.
//!
//! | metric | type | meaning (`/varz` or `/subsz` field) |
//! |---|---|---|
//! | `natrium_server_info{server_id,server_name,version}` | info | identity |
//! | `natrium_server_start_time_seconds` | gauge | `start`, Unix seconds |
//! | `natrium_server_uptime_seconds` | gauge | `uptime` |
//! | `natrium_server_connections` | gauge | `connections` |
//! | `natrium_server_accepted_connections_total` | counter | `total_connections` |
//! | `natrium_server_subscriptions` | gauge | `subscriptions` |
//! | `natrium_server_slow_consumers_total` | counter | `slow_consumers` |
//! | `natrium_server_in_msgs_total` / `_out_msgs_total` | counter | `in_msgs` / `out_msgs` |
//! | `natrium_server_in_bytes_total` / `_out_bytes_total` | counter | `in_bytes` / `out_bytes` |
//! | `natrium_server_mem_bytes` | gauge | `mem` (resident set size) |
//! | `natrium_server_cpu_percent` | gauge | `cpu` |
//! | `natrium_server_cores` | gauge | `cores` |
//! | `natrium_server_max_connections` | gauge | `max_connections` |
//! | `natrium_server_max_payload_bytes` | gauge | `max_payload` |
//! | `natrium_server_subsz_cache_entries` | gauge | `num_cache` |
//! | `natrium_server_subsz_inserts_total` | counter | `num_inserts` |
//! | `natrium_server_subsz_removes_total` | counter | `num_removes` |
//! | `natrium_server_subsz_matches_total` | counter | `num_matches` |
//! | `natrium_server_subsz_cache_hit_rate` | gauge | `cache_hit_rate` (0 to 1) |
//! | `natrium_server_subsz_max_fanout` | gauge | `max_fanout` |
//! | `natrium_server_subsz_avg_fanout` | gauge | `avg_fanout` |
//! | `natrium_server_http_requests_total{path}` | counter | `http_req_stats` |
//! | `natrium_server_account_connections{account}` | gauge | `/accountz?acc=` `client_connections` |
//! | `natrium_server_account_subscriptions{account}` | gauge | `/accountz?acc=` `subscriptions` |

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::format;
use super::process::Usage;
use crate::info::VERSION;
use crate::state::Shared;

/// The content type of the OpenMetrics text format.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn int(n: impl TryInto<i64>) -> ConstGauge<i64> {
    ConstGauge::new(n.try_into().unwrap_or(i64::MAX))
}

/// Connections and subscriptions per account (`$G` included).
fn register_accounts(r: &mut Registry, shared: &Shared) {
    let connections = Family::<Vec<(String, String)>, Gauge>::default();
    let subscriptions = Family::<Vec<(String, String)>, Gauge>::default();
    let label = |name: &str| vec![("account".to_owned(), name.to_owned())];
    for account in shared.accounts.all() {
        connections.get_or_create(&label(&account.name)).set(0);
        subscriptions
            .get_or_create(&label(&account.name))
            .set(i64::try_from(account.sublist.count()).unwrap_or(i64::MAX));
    }
    let clients: Vec<_> = shared.clients.lock().values().cloned().collect();
    for client in &clients {
        connections
            .get_or_create(&label(&shared.account_of(client).name))
            .inc();
    }
    r.register(
        "natrium_server_account_connections",
        "Client connections currently open, by account",
        connections,
    );
    r.register(
        "natrium_server_account_subscriptions",
        "Subscriptions in each account's subject index (imports included), by account",
        subscriptions,
    );
}

/// Encodes the current counters.
pub(crate) fn render(
    shared: &Shared,
    usage: Usage,
    http_req_stats: &BTreeMap<&'static str, u64>,
) -> Result<String, std::fmt::Error> {
    let c = &shared.counters;
    let load = |a: &std::sync::atomic::AtomicU64| ConstCounter::new(a.load(Ordering::Relaxed));
    let started = shared
        .started
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let uptime = format::since(shared.started, std::time::SystemTime::now()).as_secs_f64();
    let subsz = shared.accounts.global().sublist.stats();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut r = Registry::default();
    r.register(
        "natrium_server",
        "Server identity",
        Info::new(vec![
            ("server_id".to_owned(), shared.info.server_id.clone()),
            ("server_name".to_owned(), shared.info.server_name.clone()),
            ("version".to_owned(), VERSION.to_owned()),
        ]),
    );
    r.register(
        "natrium_server_start_time_seconds",
        "When the server started, in Unix seconds",
        ConstGauge::new(started),
    );
    r.register(
        "natrium_server_uptime_seconds",
        "Seconds since the server started",
        ConstGauge::new(uptime),
    );
    r.register(
        "natrium_server_connections",
        "Client connections currently open",
        int(shared.clients.lock().len()),
    );
    r.register(
        "natrium_server_accepted_connections",
        "Client connections accepted since start",
        load(&c.total_connections),
    );
    r.register(
        "natrium_server_subscriptions",
        "Subscriptions currently registered",
        int(shared.accounts.subscription_count()),
    );
    r.register(
        "natrium_server_slow_consumers",
        "Clients disconnected as slow consumers",
        load(&c.slow_consumers),
    );
    r.register(
        "natrium_server_in_msgs",
        "Messages received from clients",
        load(&c.in_msgs),
    );
    r.register(
        "natrium_server_out_msgs",
        "Messages delivered to clients",
        load(&c.out_msgs),
    );
    r.register(
        "natrium_server_in_bytes",
        "Message bytes (headers and payload) received from clients",
        load(&c.in_bytes),
    );
    r.register(
        "natrium_server_out_bytes",
        "Message bytes (headers and payload) delivered to clients",
        load(&c.out_bytes),
    );
    r.register(
        "natrium_server_mem_bytes",
        "Resident set size of the process",
        int(usage.rss_bytes),
    );
    r.register(
        "natrium_server_cpu_percent",
        "CPU use of the process, percent of one core",
        ConstGauge::new(usage.cpu_percent),
    );
    r.register("natrium_server_cores", "CPU cores available", int(cores));
    r.register(
        "natrium_server_max_connections",
        "Most client connections allowed",
        int(shared.opts.max_connections),
    );
    r.register(
        "natrium_server_max_payload_bytes",
        "Largest message accepted",
        int(shared.opts.max_payload),
    );
    r.register(
        "natrium_server_subsz_cache_entries",
        "Results in the subject index's match cache",
        int(subsz.num_cache),
    );
    r.register(
        "natrium_server_subsz_inserts",
        "Subscriptions inserted into the subject index",
        ConstCounter::new(subsz.num_inserts),
    );
    r.register(
        "natrium_server_subsz_removes",
        "Subscriptions removed from the subject index",
        ConstCounter::new(subsz.num_removes),
    );
    r.register(
        "natrium_server_subsz_matches",
        "Subject index lookups",
        ConstCounter::new(subsz.num_matches),
    );
    r.register(
        "natrium_server_subsz_cache_hit_rate",
        "Share of subject index lookups answered from its cache",
        ConstGauge::new(subsz.cache_hit_rate),
    );
    r.register(
        "natrium_server_subsz_max_fanout",
        "Largest fan-out among cached results",
        int(subsz.max_fanout),
    );
    r.register(
        "natrium_server_subsz_avg_fanout",
        "Mean fan-out among cached results",
        ConstGauge::new(subsz.avg_fanout),
    );
    let requests = Family::<Vec<(String, String)>, Counter>::default();
    for (path, n) in http_req_stats {
        requests
            .get_or_create(&vec![("path".to_owned(), (*path).to_owned())])
            .inc_by(*n);
    }
    r.register(
        "natrium_server_http_requests",
        "Monitoring requests served, by path",
        requests,
    );

    register_accounts(&mut r, shared);

    if let Some(js) = shared.jetstream.get() {
        register_jetstream(&mut r, &js.snapshot());
    }

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &r)?;
    Ok(text)
}

/// JetStream's gauges: usage, limits, API counters, and per stream messages and bytes.
fn register_jetstream(r: &mut Registry, s: &crate::jetstream::Snapshot) {
    r.register(
        "natrium_jetstream_memory_bytes",
        "Bytes held by memory-backed streams",
        int(s.memory),
    );
    r.register(
        "natrium_jetstream_storage_bytes",
        "Bytes held by file-backed streams",
        int(s.storage),
    );
    r.register(
        "natrium_jetstream_max_memory_bytes",
        "Most bytes memory-backed streams may hold",
        int(s.max_memory),
    );
    r.register(
        "natrium_jetstream_max_storage_bytes",
        "Most bytes file-backed streams may hold",
        int(s.max_store),
    );
    r.register(
        "natrium_jetstream_streams",
        "Streams",
        int(s.streams().count()),
    );
    r.register(
        "natrium_jetstream_api_requests",
        "JetStream API requests served",
        ConstCounter::new(s.api_total),
    );
    r.register(
        "natrium_jetstream_api_errors",
        "JetStream API requests answered with an error",
        ConstCounter::new(s.api_errors),
    );
    let messages = Family::<Vec<(String, String)>, Gauge>::default();
    let bytes = Family::<Vec<(String, String)>, Gauge>::default();
    for account in &s.accounts {
        for st in &account.streams {
            let labels = vec![
                ("account".to_owned(), account.name.clone()),
                ("stream".to_owned(), st.name.clone()),
            ];
            messages
                .get_or_create(&labels)
                .set(i64::try_from(st.state.messages).unwrap_or(i64::MAX));
            bytes
                .get_or_create(&labels)
                .set(i64::try_from(st.state.bytes).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "natrium_jetstream_stream_messages",
        "Messages stored, by account and stream",
        messages,
    );
    r.register(
        "natrium_jetstream_stream_bytes",
        "Bytes stored, by account and stream",
        bytes,
    );
}
