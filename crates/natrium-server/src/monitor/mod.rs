//! HTTP monitoring, as nats-server's `-m/--http_port`: `/varz`, `/connz`, `/subsz`,
//! `/routez`, `/healthz`, an index page at `/`, and `/metrics` for Prometheus.
//!
//! JSON documents use nats-server 2.9's field names, types and units, so its monitoring
//! tools and dashboards read natrium-server unchanged. Bad query parameters get a
//! `400 Bad Request` with nats-server's error text; `?callback=f` wraps the JSON as JSONP.
//!
//! The listener runs on the server's task tracker and stops with the server.

mod accountz;
mod accstatz;
mod connz;
pub(crate) mod format;
mod healthz;
mod jsz;
mod metrics;
mod process;
mod query;
mod subsz;
mod varz;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::error::ServerError;
use crate::state::Shared;

use process::ProcessSampler;
use varz::HttpEndpoint;

/// Query parameters as nats-server reads them: the first value of each name.
type Params = Query<HashMap<String, String>>;

/// What the HTTP handlers share.
struct Monitor {
    shared: Arc<Shared>,
    endpoint: HttpEndpoint,
    process: ProcessSampler,
    /// Requests served per path (`http_req_stats`).
    requests: Mutex<BTreeMap<&'static str, u64>>,
}

impl Monitor {
    /// Counts a request to `path`; returns the counts including it.
    fn count(&self, path: &'static str) -> BTreeMap<&'static str, u64> {
        let mut requests = self.requests.lock();
        *requests.entry(path).or_insert(0) += 1;
        requests.clone()
    }
}

/// Binds `host:port` (port 0 picks a free one) and serves monitoring until the server shuts
/// down. Returns the bound address.
pub(crate) async fn start(
    shared: Arc<Shared>,
    host: &str,
    port: u16,
) -> Result<SocketAddr, ServerError> {
    let listener =
        TcpListener::bind((host, port))
            .await
            .map_err(|source| ServerError::BindMonitor {
                host: host.to_owned(),
                port,
                source,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::BindMonitor {
            host: host.to_owned(),
            port,
            source,
        })?;
    tracing::info!(
        "Starting http monitor on {}",
        if host.contains(':') {
            format!("[{host}]:{}", addr.port())
        } else {
            format!("{host}:{}", addr.port())
        }
    );
    let monitor = Arc::new(Monitor {
        endpoint: HttpEndpoint {
            host: host.to_owned(),
            port: addr.port(),
        },
        process: ProcessSampler::new(),
        requests: Mutex::new(BTreeMap::new()),
        shared: shared.clone(),
    });
    let stop = shared.shutdown.clone();
    shared.tasks.spawn(async move {
        let served = axum::serve(listener, router(monitor))
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!("http monitor stopped: {e}");
        }
    });
    Ok(addr)
}

fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/varz", get(varz))
        .route("/connz", get(connz))
        .route("/subsz", get(subsz))
        .route("/subscriptionsz", get(subsz))
        .route("/routez", get(routez))
        .route("/healthz", get(healthz))
        .route("/jsz", get(jsz))
        .route("/accountz", get(accountz))
        .route("/accstatz", get(accstatz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(monitor)
}

/// Serializes `doc` as nats-server does: indented JSON, or JSONP with `?callback=`.
fn json<T: Serialize>(doc: &T, params: &HashMap<String, String>, pretty: bool) -> Response {
    let body = if pretty {
        serde_json::to_string_pretty(doc)
    } else {
        serde_json::to_string(doc)
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            tracing::error!("Error marshaling monitoring response: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
        }
    };
    match params.get("callback").filter(|c| !c.is_empty()) {
        Some(callback) => (
            [(header::CONTENT_TYPE, "application/javascript")],
            format!("{callback}({body})"),
        )
            .into_response(),
        None => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

fn bad_request(e: query::QueryError) -> Response {
    (StatusCode::BAD_REQUEST, e.0).into_response()
}

async fn varz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    let requests = m.count("/varz");
    let doc = varz::varz(&m.shared, &m.endpoint, m.process.usage(), requests);
    json(&doc, &params, true)
}

async fn connz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    let q = match connz::ConnzQuery::parse(&params) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    m.count("/connz");
    json(&connz::connz(&m.shared, &q), &params, true)
}

async fn subsz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/subsz");
    match subsz::SubszQuery::parse(&params) {
        Ok(q) => json(&subsz::subsz(&m.shared, &q), &params, true),
        Err(e) => bad_request(e),
    }
}

/// `/routez`: natrium-server is a single node, so there are never routes.
#[derive(Serialize)]
struct Routez {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: std::time::SystemTime,
    num_routes: usize,
    routes: [(); 0],
}

async fn routez(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/routez");
    let doc = Routez {
        server_id: m.shared.info.server_id.clone(),
        now: std::time::SystemTime::now(),
        num_routes: 0,
        routes: [],
    };
    json(&doc, &params, true)
}

/// `/healthz`: see [`healthz`](mod@healthz) for what it checks.
async fn healthz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/healthz");
    let q = match healthz::HealthQuery::parse(&params) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let js = m.shared.jetstream.get().map(|js| js.as_ref());
    let (code, health) = healthz::healthz(js, &q);
    if code != StatusCode::OK {
        tracing::warn!("Healthcheck failed: {health:?}");
    }
    let mut response = json(&health, &params, false);
    *response.status_mut() = code;
    response
}

/// `/jsz`: JetStream's usage, configuration and (with `?accounts=1`, `?streams=1`) streams.
async fn jsz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/jsz");
    let js = m.shared.jetstream.get().map(|js| js.as_ref());
    json(
        &jsz::jsz(js, &m.shared.info.server_id, &params),
        &params,
        true,
    )
}

/// `/accountz`: the account names, or with `?acc=NAME` one account's details.
async fn accountz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/accountz");
    match params.get("acc").filter(|a| !a.is_empty()) {
        Some(name) => match accountz::detail(&m.shared, name) {
            Ok(doc) => json(&doc, &params, true),
            Err(text) => (StatusCode::BAD_REQUEST, text).into_response(),
        },
        None => json(&accountz::list(&m.shared), &params, true),
    }
}

/// `/accstatz`: traffic by account; `?unused=1` lists accounts without connections too.
async fn accstatz(State(m): State<Arc<Monitor>>, Query(params): Params) -> Response {
    m.count("/accstatz");
    match query::bool_param(&params, "unused") {
        Ok(unused) => json(&accstatz::statz(&m.shared, unused), &params, true),
        Err(e) => bad_request(e),
    }
}

async fn metrics(State(m): State<Arc<Monitor>>) -> Response {
    let requests = m.count("/metrics");
    match metrics::render(&m.shared, m.process.usage(), &requests) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!("cannot encode metrics: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response()
        }
    }
}

async fn root(State(m): State<Arc<Monitor>>) -> Html<String> {
    m.count("/");
    Html(format!(
        "<html lang=\"en\">\n<head><title>natrium-server monitoring</title></head>\n<body>\n\
         <h1>natrium-server</h1>\n<p>v{} (nats-server {} protocol)</p>\n\
         <a href=./varz>General</a><br/>\n\
         <a href=./connz>Connections</a><br/>\n\
         <a href=./subsz>Subscriptions</a><br/>\n\
         <a href=./routez>Routes</a><br/>\n\
         <a href=./accountz>Accounts</a><br/>\n\
         <a href=./accstatz>Account Stats</a><br/>\n\
         <a href=./healthz>Health Probe</a><br/>\n\
         <a href=./metrics>Prometheus Metrics</a><br/>\n\
         </body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        crate::info::VERSION,
    ))
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 page not found\n")
}

/// The monitoring documents the system account's requests answer with
/// (`$SYS.REQ.SERVER.PING.VARZ`, `...CONNZ`; see `crate::system`): the same documents as
/// the HTTP endpoints, as JSON values.
#[derive(Debug)]
pub(crate) struct Documents {
    process: ProcessSampler,
}

impl Documents {
    pub(crate) fn new() -> Self {
        Documents {
            process: ProcessSampler::new(),
        }
    }

    /// Memory and CPU use of the process.
    pub(crate) fn usage(&self) -> process::Usage {
        self.process.usage()
    }

    /// `/varz`.
    pub(crate) fn varz(&self, shared: &Shared) -> serde_json::Value {
        let endpoint = HttpEndpoint {
            host: shared
                .opts
                .http_host
                .clone()
                .unwrap_or_else(|| shared.opts.host.clone()),
            port: shared.opts.http_port.unwrap_or(0),
        };
        let doc = varz::varz(shared, &endpoint, self.usage(), BTreeMap::new());
        serde_json::to_value(doc).unwrap_or_default()
    }

    /// `/connz` with query parameters `params`; `Err` is nats-server's text for bad ones.
    pub(crate) fn connz(
        &self,
        shared: &Shared,
        params: &HashMap<String, String>,
    ) -> Result<serde_json::Value, String> {
        let q = connz::ConnzQuery::parse(params).map_err(|e| e.0)?;
        Ok(serde_json::to_value(connz::connz(shared, &q)).unwrap_or_default())
    }
}
