//! [`NatsServer`]: the subscribing side, run as a [`Server`](crate::Server) by an
//! [`App`](crate::App).

use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::app::{AppContext, Server};
use crate::broker::{Broker, BrokerConfig, MemoryBroker, NatsBroker, subject};
use crate::error::{Error, Result};
use crate::jetstream::{DurableRunner, OnMismatch, ensure_consumer, ensure_stream};
use crate::middleware::Middleware;
use async_nats::jetstream::consumer::PullConsumer;

use super::erased::ErasedHandler;
use super::handler::Handler;
use super::request::{Ctx, RouteInfo, StateMap};
use super::route::Route;
use super::runner::{Drain, RouteRuntime, Runner};
use super::service_api::{self, ServiceApi};
use super::stats::{StatsSnapshot, SubscriptionStats};

/// Where a [`NatsServer`] gets its broker.
#[derive(Clone)]
pub enum BrokerSource {
    /// Connect at start, close (drain) at stop.
    Config(Box<BrokerConfig>),
    /// Use a shared broker; stop only flushes it (its owner closes it).
    Shared(Arc<dyn Broker>),
}

impl From<BrokerConfig> for BrokerSource {
    fn from(config: BrokerConfig) -> Self {
        BrokerSource::Config(Box::new(config))
    }
}

impl From<Arc<dyn Broker>> for BrokerSource {
    fn from(broker: Arc<dyn Broker>) -> Self {
        BrokerSource::Shared(broker)
    }
}

impl From<NatsBroker> for BrokerSource {
    fn from(broker: NatsBroker) -> Self {
        BrokerSource::Shared(Arc::new(broker))
    }
}

impl From<MemoryBroker> for BrokerSource {
    fn from(broker: MemoryBroker) -> Self {
        BrokerSource::Shared(Arc::new(broker))
    }
}

/// Builds a [`NatsServer`]; see [`NatsServer::builder`].
pub struct NatsServerBuilder {
    name: String,
    source: BrokerSource,
    streams: Vec<async_nats::jetstream::stream::Config>,
    on_mismatch: OnMismatch,
    routes: Vec<Route>,
    layers: Vec<Arc<dyn Middleware>>,
    states: StateMap,
}

impl NatsServerBuilder {
    /// Names the server (for logs and errors; default `nats`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Registers a subscriber on `subject`.
    pub fn subscribe<H: Handler<Args>, Args>(self, subject: impl Into<String>, handler: H) -> Self {
        self.route(Route::subscribe(subject, handler))
    }

    /// Registers a subscriber in queue group `queue`.
    pub fn queue_subscribe<H: Handler<Args>, Args>(
        self,
        subject: impl Into<String>,
        queue: impl Into<String>,
        handler: H,
    ) -> Self {
        self.route(Route::subscribe(subject, handler).queue(queue))
    }

    /// Registers a responder: the handler's return value is the reply.
    pub fn reply<H: Handler<Args>, Args>(self, subject: impl Into<String>, handler: H) -> Self {
        self.route(Route::reply(subject, handler))
    }

    /// Declares a JetStream stream: created at start when missing, checked against the
    /// server's when present (see [`jetstream::ensure_stream`](crate::jetstream::ensure_stream)).
    pub fn stream(mut self, config: async_nats::jetstream::stream::Config) -> Self {
        self.streams.push(config);
        self
    }

    /// What start does when a declared stream or durable consumer exists with other
    /// settings (default [`OnMismatch::Fail`]: a [`Error::ConfigMismatch`] naming the field).
    pub fn on_mismatch(mut self, policy: OnMismatch) -> Self {
        self.on_mismatch = policy;
        self
    }

    /// Registers a route with options (queue, concurrency, retry, dead letter).
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Adds shared state for [`State<S>`](crate::State) extractors (one value per type).
    pub fn state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        let id = TypeId::of::<S>();
        self.states
            .insert(id, Arc::new(state) as Arc<dyn Any + Send + Sync>);
        self
    }

    /// Adds handler middleware (the first added is the outermost).
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// Checks the registrations and builds the server: a (subject, queue) registered
    /// twice, a missing state, an invalid subject or a zero concurrency is an error.
    pub fn build(self) -> Result<NatsServer> {
        let mut seen = HashSet::new();
        for route in &self.routes {
            let (info, options) = (&route.info, &route.options);
            subject::validate_subscribe(&info.subject)?;
            if let Some(q) = &info.queue {
                subject::validate_queue(q)?;
            }
            if let Some(dl) = &options.dead_letter {
                subject::validate_publish(dl)?;
            }
            if options.concurrency == 0 {
                return Err(Error::Config(format!(
                    "concurrency of {} must be at least 1",
                    info.subject
                )));
            }
            if let Some(durable) = &options.durable {
                if durable.consumer.durable_name.is_none() {
                    return Err(Error::Config(format!(
                        "the durable route on stream {} needs a consumer durable_name",
                        durable.stream
                    )));
                }
                if let Some(dl) = &options.dead_letter
                    && subject::matches(&info.subject, dl)
                {
                    return Err(Error::Config(format!(
                        "dead-letter subject {dl} matches the consumer's filter {}: \
                         dead letters would be delivered to the same handler again",
                        info.subject
                    )));
                }
                if durable.stream.is_empty() {
                    return Err(Error::Config(format!(
                        "the durable route {} needs a stream name",
                        info.subject
                    )));
                }
            }
            if !seen.insert((info.subject.clone(), info.queue.clone())) {
                return Err(Error::DuplicateRoute {
                    subject: info.subject.clone(),
                    queue: info.queue.clone(),
                });
            }
            for need in route.handler.required_states() {
                if !self.states.contains_key(&need.type_id) {
                    return Err(Error::MissingState {
                        subject: info.subject.clone(),
                        type_name: need.type_name,
                    });
                }
            }
        }
        if let BrokerSource::Config(config) = &self.source {
            config.validate()?;
        }
        let routes = self
            .routes
            .into_iter()
            .map(|route| Registered {
                rt: Arc::new(RouteRuntime {
                    info: Arc::new(route.info),
                    options: route.options,
                    stats: Arc::new(SubscriptionStats::default()),
                    last_error: Arc::default(),
                }),
                handler: route.handler,
            })
            .collect();
        Ok(NatsServer {
            inner: Arc::new(Inner {
                name: self.name,
                source: self.source,
                streams: self.streams,
                on_mismatch: self.on_mismatch,
                routes,
                layers: Arc::from(self.layers),
                states: Arc::new(self.states),
                running: tokio::sync::Mutex::new(None),
                broker: Mutex::new(None),
                endpoint: Mutex::new(None),
            }),
        })
    }
}

/// Counters of one registration, as returned by [`NatsServer::stats`].
#[derive(Clone, Debug)]
pub struct RouteStats {
    /// The registration.
    pub route: Arc<RouteInfo>,
    /// Its counters.
    pub stats: StatsSnapshot,
}

/// The NATS transport server: runs registered handlers for messages.
///
/// Cheap to clone; clones share the server (so tests and observability can read
/// [`NatsServer::stats`] after handing a clone to an [`App`](crate::App)).
#[derive(Clone)]
pub struct NatsServer {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    source: BrokerSource,
    streams: Vec<async_nats::jetstream::stream::Config>,
    on_mismatch: OnMismatch,
    routes: Vec<Registered>,
    layers: Arc<[Arc<dyn Middleware>]>,
    states: Arc<StateMap>,
    running: tokio::sync::Mutex<Option<Running>>,
    broker: Mutex<Option<Arc<dyn Broker>>>,
    endpoint: Mutex<Option<String>>,
}

/// A route once the server is built: its runtime part and its handler.
struct Registered {
    rt: Arc<RouteRuntime>,
    handler: ErasedHandler,
}

struct Running {
    broker: Arc<dyn Broker>,
    owned: bool,
    drain: Drain,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("name", &self.inner.name)
            .field("routes", &self.inner.routes.len())
            .finish_non_exhaustive()
    }
}

impl NatsServer {
    /// Starts building a server on a broker configuration (connected at start, drained at
    /// stop) or on a shared broker (`NatsBroker`, `MemoryBroker`, `Arc<dyn Broker>`).
    pub fn builder(source: impl Into<BrokerSource>) -> NatsServerBuilder {
        NatsServerBuilder {
            name: "nats".into(),
            source: source.into(),
            streams: Vec::new(),
            on_mismatch: OnMismatch::Fail,
            routes: Vec::new(),
            layers: Vec::new(),
            states: StateMap::default(),
        }
    }

    /// Counters of every registration.
    pub fn stats(&self) -> Vec<RouteStats> {
        self.inner
            .routes
            .iter()
            .map(|r| RouteStats {
                route: r.rt.info.clone(),
                stats: r.rt.stats.snapshot(),
            })
            .collect()
    }

    /// Counters of the registration on `subject` (the first, if several queues).
    pub fn stats_for(&self, subject: &str) -> Option<StatsSnapshot> {
        self.inner
            .routes
            .iter()
            .find(|r| r.rt.info.subject == subject)
            .map(|r| r.rt.stats.snapshot())
    }

    /// The broker in use while the server runs (for publishing from the same connection).
    pub fn broker(&self) -> Option<Arc<dyn Broker>> {
        self.inner.broker.lock().clone()
    }
}

/// Where a route's messages come from.
enum Source {
    Core(crate::broker::Subscriber),
    /// The consumer, and whether a stream stores the route's dead letters.
    Durable(Box<PullConsumer>, bool),
}

impl NatsServer {
    /// Creates or checks the declared streams; returns the JetStream context when any
    /// stream or durable route needs it.
    async fn declare(&self, broker: &dyn Broker) -> Result<Option<async_nats::jetstream::Context>> {
        let durable = self
            .inner
            .routes
            .iter()
            .any(|r| r.rt.options.durable.is_some());
        if self.inner.streams.is_empty() && !durable {
            return Ok(None);
        }
        let js = broker.jetstream().ok_or(Error::Unsupported {
            what: "JetStream (streams and durable routes)",
            broker: "this server's broker",
        })?;
        for stream in &self.inner.streams {
            ensure_stream(&js, stream, self.inner.on_mismatch).await?;
        }
        Ok(Some(js))
    }

    fn durable_runner(
        &self,
        rt: &Arc<RouteRuntime>,
        broker: &Arc<dyn Broker>,
        consumer: &PullConsumer,
        dead_letter_stored: bool,
        ctx: &AppContext,
        handler_ctx: Ctx,
    ) -> Arc<DurableRunner> {
        let config = &consumer.cached_info().config;
        let max_ack_pending = usize::try_from(config.max_ack_pending)
            .ok()
            .filter(|m| *m > 0)
            .unwrap_or(usize::MAX);
        let spec = rt.options.durable.clone().expect("durable route");
        let js = broker.jetstream().expect("checked in declare");
        Arc::new(DurableRunner {
            rt: rt.clone(),
            spec,
            broker: broker.clone(),
            client: js.client(),
            js,
            layers: self.inner.layers.clone(),
            states: self.inner.states.clone(),
            codec: broker.codec(),
            ctx: ctx.clone(),
            handler_ctx,
            server: self.inner.name.clone(),
            ack_wait: config.ack_wait,
            max_deliver: config.max_deliver,
            limit: rt.options.concurrency.min(max_ack_pending),
            dead_letter_stored,
        })
    }
}

#[async_trait]
impl Server for NatsServer {
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    async fn start(&self, ctx: &AppContext) -> Result<()> {
        let mut running = self.inner.running.lock().await;
        if running.is_some() {
            return Err(Error::Config(format!(
                "server {} is already running",
                self.inner.name
            )));
        }
        let (broker, owned): (Arc<dyn Broker>, bool) = match &self.inner.source {
            BrokerSource::Config(config) => (
                Arc::new(NatsBroker::connect((**config).clone()).await?),
                true,
            ),
            BrokerSource::Shared(broker) => (broker.clone(), false),
        };
        let mut subscribers = Vec::with_capacity(self.inner.routes.len());
        let js = match self.declare(&*broker).await {
            Ok(js) => js,
            Err(err) => {
                if owned {
                    let _ = broker.close().await;
                }
                return Err(err);
            }
        };
        for Registered { rt, .. } in &self.inner.routes {
            let info = &rt.info;
            let source = match (&rt.options.durable, &js) {
                (Some(spec), Some(js)) => {
                    let stored = match &rt.options.dead_letter {
                        Some(dl) => js.stream_by_subject(dl.clone()).await.is_ok(),
                        None => false,
                    };
                    ensure_consumer(js, &spec.stream, &spec.consumer, self.inner.on_mismatch)
                        .await
                        .map(|consumer| Source::Durable(Box::new(consumer), stored))
                }
                _ => broker
                    .subscribe(&info.subject, info.queue.as_deref())
                    .await
                    .map(Source::Core),
            };
            match source {
                Ok(source) => subscribers.push(source),
                Err(err) => {
                    // Leave nothing half-started behind.
                    for source in subscribers {
                        if let Source::Core(mut sub) = source {
                            let _ = sub.unsubscribe().await;
                        }
                    }
                    if owned {
                        let _ = broker.close().await;
                    }
                    return Err(err);
                }
            }
        }
        let endpoints = self.inner.routes.iter().map(|Registered { rt, .. }| {
            service_api::Endpoint::new(rt.info.clone(), rt.stats.clone(), rt.last_error.clone())
        });
        let service_api =
            ServiceApi::subscribe(&*broker, ctx.info(), &self.inner.name, endpoints.collect())
                .await;
        // Ready means every SUB has been processed by the server.
        if let Err(err) = broker.flush().await {
            if owned {
                let _ = broker.close().await;
            }
            return Err(err);
        }
        let drain = Drain::default();
        let tasks = self
            .inner
            .routes
            .iter()
            .zip(subscribers)
            .map(|(Registered { rt, handler }, source)| {
                let handler_ctx =
                    Ctx::new(ctx.stopping_token().clone(), ctx.cancel_token().clone());
                let sub = match source {
                    Source::Core(sub) => sub,
                    Source::Durable(consumer, dead_letter_stored) => {
                        let runner = self.durable_runner(
                            rt,
                            &broker,
                            &consumer,
                            dead_letter_stored,
                            ctx,
                            handler_ctx,
                        );
                        let stop = drain.listener();
                        return tokio::spawn(handler.run_durable(runner, *consumer, stop));
                    }
                };
                let runner = Runner {
                    rt: rt.clone(),
                    broker: broker.clone(),
                    layers: self.inner.layers.clone(),
                    states: self.inner.states.clone(),
                    codec: broker.codec(),
                    handler_ctx,
                    ctx: ctx.clone(),
                    server: self.inner.name.clone(),
                };
                let stop = drain.listener();
                tokio::spawn(handler.run(runner, sub, stop))
            })
            .chain(
                service_api.map(|api| tokio::spawn(api.run(broker.clone(), drain.token().clone()))),
            )
            .chain(std::iter::once(tokio::spawn(
                drain.clone().follow(ctx.cancel_token().clone()),
            )))
            .collect();
        *self.inner.endpoint.lock() = broker.server_url().map(|url| {
            let subjects = self.inner.routes.iter().map(|r| {
                format!(
                    "&subject={}",
                    crate::registry::encode_query(&r.rt.info.subject)
                )
            });
            let service = crate::registry::encode_query(&ctx.info().name);
            format!("{url}?service={service}{}", subjects.collect::<String>())
        });
        *self.inner.broker.lock() = Some(broker.clone());
        *running = Some(Running {
            broker,
            owned,
            drain,
            tasks,
        });
        tracing::info!(server = %self.inner.name, subscriptions = self.inner.routes.len(), "NATS server started");
        Ok(())
    }

    fn endpoints(&self) -> Vec<String> {
        self.inner.endpoint.lock().iter().cloned().collect()
    }

    async fn stop(&self, _ctx: &AppContext) -> Result<()> {
        let Some(running) = self.inner.running.lock().await.take() else {
            return Ok(());
        };
        // Stop taking messages; runners finish what they received, then end.
        running.drain.start();
        for task in running.tasks {
            if let Err(err) = task.await {
                tracing::error!(server = %self.inner.name, error = %err, "subscription task failed");
            }
        }
        *self.inner.broker.lock() = None;
        *self.inner.endpoint.lock() = None;
        let result = if running.owned {
            running.broker.close().await
        } else {
            running.broker.flush().await
        };
        tracing::info!(server = %self.inner.name, "NATS server stopped");
        result
    }
}
