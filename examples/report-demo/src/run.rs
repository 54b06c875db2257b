//! Assembling the services into natrium [`App`]s, and running them: each service alone
//! (`report`, `saver`) or everything in one process with an embedded NATS server (`all`).

use std::net::SocketAddr;
use std::sync::Arc;

use natrium::app::RunningApp;
use natrium::{App, BrokerConfig, HttpServer, NatsBroker, NatsServer};

use crate::config::{Config, NatsMode, RegistryKind};
use crate::report::ReportService;
use crate::saver::SaverService;
use crate::store::{Store, StoreError};
use natrium::jetstream::OnMismatch;
use natrium::registry::{KvRegistry, Registrar};

/// Spawns `app` (see [`App::spawn`]) and returns it with the address `http` is bound to.
pub async fn spawn(
    name: &'static str,
    app: App,
    http: &HttpServer,
) -> Result<(RunningApp, SocketAddr), RunError> {
    let running = app.spawn().await?;
    let addr = http.local_addr().ok_or(RunError::NotReady(name))?;
    Ok((running, addr))
}

/// Why a service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened.
    #[error("database {url}: {source}")]
    Store {
        /// The database URL.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// natrium refused (NATS unreachable, address in use, ...).
    #[error(transparent)]
    Natrium(#[from] natrium::Error),
    /// The embedded NATS server could not start.
    #[error("embedded NATS server: {0}")]
    EmbeddedServer(#[from] natrium_server::ServerError),
    /// The configured registry cannot be used.
    #[error("registry: {0}")]
    Registry(String),
    /// The app is ready but its HTTP server reports no bound address.
    #[error("{0}: the HTTP server is not bound")]
    NotReady(&'static str),
}

/// The report service as an app, not yet running.
pub struct ReportApp {
    /// The app (HTTP server; the broker is closed after it stops).
    pub app: App,
    /// The HTTP server, to learn its bound address once started.
    pub http: Arc<HttpServer>,
    /// The service (its counters).
    pub service: ReportService,
}

/// Builds the report service: connects to NATS, serves the report API.
pub async fn report_app(config: &Config) -> Result<ReportApp, RunError> {
    let nats = &config.data.nats;
    let broker = NatsBroker::connect(
        BrokerConfig::new(nats.addrs.clone())
            .codec(nats.codec.codec())
            .name("report-demo report"),
    )
    .await?;
    let mut service = ReportService::new(
        Arc::new(broker.clone()),
        &nats.event_subject,
        &nats.user_subject,
        config.server.http.publish_timeout,
    );
    let durable = nats.mode == NatsMode::Jetstream;
    if durable {
        service = service.durable();
    }
    let http = Arc::new(HttpServer::new(
        config.server.http.addr,
        service.clone().router(),
    ));
    let streams = if durable {
        vec![
            crate::durable::reports_stream(nats),
            crate::durable::dead_letter_stream(nats),
        ]
    } else {
        Vec::new()
    };
    let registrar = registrar(config, Some(broker.client())).await?;
    let declaring = broker.clone();
    let mut app = App::new("report")
        .version(env!("CARGO_PKG_VERSION"))
        .metadata("codec", nats.codec.codec().name())
        // JetStream mode: the stream exists (created or checked) before the first POST.
        .before_start(move |_| async move {
            use natrium::Broker;
            let Some(js) = declaring.jetstream() else {
                return Ok(());
            };
            for stream in &streams {
                natrium::jetstream::ensure_stream(&js, stream, OnMismatch::Fail).await?;
            }
            Ok(())
        })
        .server(http.clone())
        // The HTTP server has finished its requests: now flush and close the connection.
        .after_stop(move |_| async move {
            use natrium::Broker;
            broker.close().await
        });
    if let Some(registrar) = registrar {
        app = app.registrar(registrar);
    }
    Ok(ReportApp { app, http, service })
}

/// The saver service as an app, not yet running.
pub struct SaverApp {
    /// The app (NATS transport server and stats HTTP server).
    pub app: App,
    /// The stats HTTP server, to learn its bound address once started.
    pub http: Arc<HttpServer>,
    /// The NATS transport server (its per-subscription counters).
    pub nats: NatsServer,
    /// The service (its counters and store).
    pub saver: SaverService,
}

/// Builds the saver service: opens the database, subscribes, serves `GET /v1/stats`.
pub async fn saver_app(config: &Config) -> Result<SaverApp, RunError> {
    let url = &config.data.database.url;
    let store = Store::open(url).await.map_err(|source| RunError::Store {
        url: url.clone(),
        source,
    })?;
    let saver = SaverService::new(store);
    let nats = saver.nats_server(&config.data.nats)?;
    let http = Arc::new(HttpServer::new(
        config.server.stats.addr,
        saver.clone().router(nats.clone()),
    ));
    let mut app = App::new("saver")
        .version(env!("CARGO_PKG_VERSION"))
        .metadata("codec", config.data.nats.codec.codec().name())
        .metadata("mode", format!("{:?}", config.data.nats.mode))
        .server(nats.clone())
        .server(http.clone());
    if config.registry.kind == RegistryKind::Nats {
        // The NATS server above connects at start; the registry keeps its own connection.
        let broker = NatsBroker::connect(
            BrokerConfig::new(config.data.nats.addrs.clone()).name("report-demo saver registry"),
        )
        .await?;
        let registrar = registrar(config, Some(broker.client())).await?;
        app = app.after_stop(move |_| async move {
            use natrium::Broker;
            broker.close().await
        });
        if let Some(registrar) = registrar {
            app = app.registrar(registrar);
        }
    } else if let Some(registrar) = registrar(config, None).await? {
        app = app.registrar(registrar);
    }
    Ok(SaverApp {
        app,
        http,
        nats,
        saver,
    })
}

/// The registrar `config.registry` names; `client` is the service's NATS connection (for
/// the NATS Key-Value registry).
pub async fn registrar(
    config: &Config,
    client: Option<&natrium::async_nats::Client>,
) -> Result<Option<Arc<dyn Registrar>>, RunError> {
    let registry = &config.registry;
    match registry.kind {
        RegistryKind::None => Ok(None),
        RegistryKind::Nats => {
            let client = client.ok_or_else(|| {
                RunError::Registry("the NATS registry needs a NATS connection".into())
            })?;
            Ok(Some(Arc::new(KvRegistry::with_options(
                client.clone(),
                registry.bucket.clone(),
                registry.ttl,
            ))))
        }
        #[cfg(feature = "etcd")]
        RegistryKind::Etcd => {
            let etcd =
                natrium::registry::EtcdRegistry::connect(&registry.etcd_endpoints, registry.ttl)
                    .await
                    .map_err(natrium::Error::from)?;
            Ok(Some(Arc::new(etcd)))
        }
        #[cfg(not(feature = "etcd"))]
        RegistryKind::Etcd => Err(RunError::Registry(
            "registry kind etcd: this build has no etcd support; rebuild with `--features etcd` (etcd's client needs `protoc` to build)".into(),
        )),
    }
}
