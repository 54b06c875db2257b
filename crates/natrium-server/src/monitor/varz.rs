//! `/varz`: server identity, configured limits, process usage and the server-wide counters,
//! with nats-server 2.9's field names, order and units (durations in nanoseconds, timeouts in
//! seconds, timestamps in RFC 3339).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format;
use super::process::Usage;
use crate::info::{PROTO, VERSION};
use crate::state::Shared;

/// nats-server reports its Go toolchain in `go`; natrium-server reports the Rust version it
/// requires, as in INFO.
pub(crate) const RUNTIME: &str = concat!("rust-", env!("CARGO_PKG_RUST_VERSION"));

/// An options block natrium-server has nothing to put in (cluster, gateway, leaf nodes, MQTT,
/// websocket, JetStream): nats-server prints these as `{}` when unconfigured.
#[derive(Debug, Serialize)]
pub(crate) struct Unconfigured {}

/// The `/varz` document.
#[derive(Debug, Serialize)]
pub(crate) struct Varz {
    server_id: String,
    server_name: String,
    version: &'static str,
    proto: u8,
    go: &'static str,
    host: String,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: usize,
    ping_interval: u64,
    ping_max: u32,
    http_host: String,
    http_port: u16,
    http_base_path: &'static str,
    https_port: u16,
    #[serde(serialize_with = "format::serialize_go_float")]
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: u32,
    max_pending: usize,
    cluster: Unconfigured,
    gateway: Unconfigured,
    leaf: Unconfigured,
    mqtt: Unconfigured,
    websocket: Unconfigured,
    jetstream: super::jsz::VarzJetStream,
    #[serde(serialize_with = "format::serialize_go_float")]
    tls_timeout: f64,
    write_deadline: u64,
    #[serde(serialize_with = "format::serialize_timestamp")]
    start: SystemTime,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    #[serde(serialize_with = "format::serialize_go_float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<&'static str, u64>,
    system_account: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    config_load_time: SystemTime,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where the monitoring listener is, for `http_host`/`http_port`.
#[derive(Debug, Clone)]
pub(crate) struct HttpEndpoint {
    pub host: String,
    pub port: u16,
}

/// Builds the `/varz` document.
pub(crate) fn varz(
    shared: &Shared,
    http: &HttpEndpoint,
    usage: Usage,
    http_req_stats: BTreeMap<&'static str, u64>,
) -> Varz {
    let opts = &shared.opts;
    let live = shared.live.read().clone();
    let advertised = live.advertised();
    let c = &shared.counters;
    let now = SystemTime::now();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = tokio::runtime::Handle::try_current()
        .map(|h| h.metrics().num_workers())
        .unwrap_or(cores);
    Varz {
        server_id: shared.info.server_id.clone(),
        server_name: shared.info.server_name.clone(),
        version: VERSION,
        proto: PROTO,
        go: RUNTIME,
        host: opts.host.clone(),
        port: shared.info.port,
        auth_required: opts.auth.is_required(),
        tls_required: advertised.tls_required,
        tls_verify: advertised.tls_verify,
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: format::nanos(opts.ping_interval),
        ping_max: opts.ping_max,
        http_host: http.host.clone(),
        http_port: http.port,
        http_base_path: "",
        https_port: 0,
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: live.max_payload,
        max_pending: opts.max_pending,
        cluster: Unconfigured {},
        gateway: Unconfigured {},
        leaf: Unconfigured {},
        mqtt: Unconfigured {},
        websocket: Unconfigured {},
        jetstream: super::jsz::varz_section(shared.jetstream.get().map(|js| js.as_ref())),
        // Reported without TLS too, as nats-server does.
        tls_timeout: live
            .tls
            .as_ref()
            .map_or(crate::tls::DEFAULT_TLS_TIMEOUT, |t| t.options.timeout)
            .as_secs_f64(),
        write_deadline: format::nanos(opts.write_deadline),
        start: shared.started,
        now,
        uptime: format::uptime(format::since(shared.started, now)),
        mem: usage.rss_bytes,
        cores,
        gomaxprocs: workers,
        cpu: usage.cpu_percent,
        connections: shared.clients.lock().len(),
        total_connections: c.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: c.in_msgs.load(Ordering::Relaxed),
        out_msgs: c.out_msgs.load(Ordering::Relaxed),
        in_bytes: c.in_bytes.load(Ordering::Relaxed),
        out_bytes: c.out_bytes.load(Ordering::Relaxed),
        slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
        subscriptions: shared.accounts.subscription_count(),
        http_req_stats,
        system_account: opts.system_account_name().to_owned(),
        config_load_time: shared.started,
    }
}
