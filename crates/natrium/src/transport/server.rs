//! [`NatsServer`]: the subscribing side, run as a [`Server`](crate::Server) by an
//! [`App`](crate::App).

use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::{AppContext, Server};
use crate::broker::{
    Broker, BrokerConfig, MemoryBroker, NatsBroker, SERVICE_ERROR_CODE_HEADER,
    SERVICE_ERROR_HEADER, Subscriber, subject,
};
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::message::Message;
use crate::middleware::{Middleware, Next};

use super::handler::Handler;
use super::request::{
    Ctx, HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, RouteInfo, RouteKind,
    StateMap,
};
use super::route::Route;
use super::stats::{StatsSnapshot, SubscriptionStats};

/// Header on dead letters: the subject the message was first published on.
pub const DEAD_LETTER_SUBJECT_HEADER: &str = "Natrium-Dead-Letter-Subject";
/// Header on dead letters: why the last attempt failed.
pub const DEAD_LETTER_REASON_HEADER: &str = "Natrium-Dead-Letter-Reason";
/// Header on dead letters: the failure kind (`decode`, `handler`, `panic`, `timeout`).
pub const DEAD_LETTER_KIND_HEADER: &str = "Natrium-Dead-Letter-Kind";
/// Header on dead letters: how many attempts were made.
pub const DEAD_LETTER_ATTEMPTS_HEADER: &str = "Natrium-Dead-Letter-Attempts";

/// How long handlers have to return after their [`Ctx`] is cancelled before they are
/// aborted.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

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
            let info = &route.info;
            subject::validate_subscribe(&info.subject)?;
            if let Some(q) = &info.queue {
                subject::validate_queue(q)?;
            }
            if let Some(dl) = &route.dead_letter {
                subject::validate_publish(dl)?;
            }
            if route.concurrency == 0 {
                return Err(Error::Config(format!(
                    "concurrency of {} must be at least 1",
                    info.subject
                )));
            }
            if !seen.insert((info.subject.clone(), info.queue.clone())) {
                return Err(Error::DuplicateRoute {
                    subject: info.subject.clone(),
                    queue: info.queue.clone(),
                });
            }
            for need in &route.states {
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
            .map(|route| {
                Arc::new(RouteRuntime {
                    info: Arc::new(route.info.clone()),
                    stats: Arc::new(SubscriptionStats::default()),
                    last_error: Arc::default(),
                    route,
                })
            })
            .collect();
        Ok(NatsServer {
            inner: Arc::new(Inner {
                name: self.name,
                source: self.source,
                routes,
                layers: Arc::from(self.layers),
                states: Arc::new(self.states),
                running: tokio::sync::Mutex::new(None),
                broker: Mutex::new(None),
            }),
        })
    }
}

struct RouteRuntime {
    route: Route,
    info: Arc<RouteInfo>,
    stats: Arc<SubscriptionStats>,
    last_error: Arc<super::service_api::LastError>,
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
    routes: Vec<Arc<RouteRuntime>>,
    layers: Arc<[Arc<dyn Middleware>]>,
    states: Arc<StateMap>,
    running: tokio::sync::Mutex<Option<Running>>,
    broker: Mutex<Option<Arc<dyn Broker>>>,
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
                route: r.info.clone(),
                stats: r.stats.snapshot(),
            })
            .collect()
    }

    /// Counters of the registration on `subject` (the first, if several queues).
    pub fn stats_for(&self, subject: &str) -> Option<StatsSnapshot> {
        self.inner
            .routes
            .iter()
            .find(|r| r.info.subject == subject)
            .map(|r| r.stats.snapshot())
    }

    /// The broker in use while the server runs (for publishing from the same connection).
    pub fn broker(&self) -> Option<Arc<dyn Broker>> {
        self.inner.broker.lock().clone()
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
        for rt in &self.inner.routes {
            let info = &rt.info;
            match broker.subscribe(&info.subject, info.queue.as_deref()).await {
                Ok(sub) => subscribers.push(sub),
                Err(err) => {
                    // Leave nothing half-started behind.
                    for mut sub in subscribers {
                        let _ = sub.unsubscribe().await;
                    }
                    if owned {
                        let _ = broker.close().await;
                    }
                    return Err(err);
                }
            }
        }
        let endpoints = self.inner.routes.iter().map(|r| {
            super::service_api::Endpoint::new(r.info.clone(), r.stats.clone(), r.last_error.clone())
        });
        let service_api = super::service_api::ServiceApi::subscribe(
            &*broker,
            ctx.info(),
            &self.inner.name,
            endpoints.collect(),
        )
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
            .map(|(rt, sub)| {
                let runner = Runner {
                    rt: rt.clone(),
                    broker: broker.clone(),
                    layers: self.inner.layers.clone(),
                    states: self.inner.states.clone(),
                    handler_ctx: Ctx::new(ctx.stopping_token().clone(), ctx.cancel_token().clone()),
                    keeps_message: keeps_message(rt),
                    ctx: ctx.clone(),
                    server: self.inner.name.clone(),
                };
                tokio::spawn(runner.run(sub, drain.clone()))
            })
            .chain(
                service_api.map(|api| tokio::spawn(api.run(broker.clone(), drain.token.clone()))),
            )
            .chain(std::iter::once(tokio::spawn(
                drain.clone().follow(ctx.cancel_token().clone()),
            )))
            .collect();
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
        let result = if running.owned {
            running.broker.close().await
        } else {
            running.broker.flush().await
        };
        tracing::info!(server = %self.inner.name, "NATS server stopped");
        result
    }
}

/// Tells the runners to stop taking messages. Checked before every message, so besides
/// the token (whose `is_cancelled` takes a lock) it keeps a plain flag, set first.
#[derive(Clone, Default)]
struct Drain {
    flag: Arc<AtomicBool>,
    token: CancellationToken,
}

impl Drain {
    fn start(&self) {
        self.flag.store(true, Ordering::Release);
        self.token.cancel();
    }

    fn started(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Drains also when `cancel` fires without a stop (in an app, stop always comes
    /// first); ends with the drain.
    async fn follow(self, cancel: CancellationToken) {
        tokio::select! {
            _ = cancel.cancelled() => self.start(),
            _ = self.token.cancelled() => {}
        }
    }
}

/// Runs one subscription: takes messages, runs the chain, replies, retries, dead-letters.
struct Runner {
    rt: Arc<RouteRuntime>,
    broker: Arc<dyn Broker>,
    layers: Arc<[Arc<dyn Middleware>]>,
    states: Arc<StateMap>,
    ctx: AppContext,
    /// Shared by the requests of this subscription (cloning it is one reference count).
    handler_ctx: Ctx,
    /// See [`keeps_message`].
    keeps_message: bool,
    server: String,
}

impl Runner {
    async fn run(self, sub: Subscriber, drain: Drain) {
        let this = Arc::new(self);
        if this.rt.route.concurrency == 1 {
            this.run_inline(sub, drain).await;
        } else {
            this.run_parallel(sub, drain).await;
        }
    }

    /// Takes the next message and whether it was already buffered, or `None` once the
    /// server stops or the subscription ends (the latter fails the app).
    async fn next_message(
        &self,
        sub: &mut Subscriber,
        drain: &Drain,
        cancel: &CancellationToken,
    ) -> Option<(Message, bool)> {
        if drain.started() {
            return None;
        }
        // Under load the client has messages buffered: take one without registering
        // wake-ups on the stop tokens.
        let (msg, buffered) = match sub.next().now_or_never() {
            Some(msg) => (msg, true),
            None => tokio::select! {
                biased;
                _ = drain.token.cancelled() => return None,
                _ = cancel.cancelled() => return None,
                msg = sub.next() => (msg, false),
            },
        };
        match msg {
            Some(msg) => {
                SubscriptionStats::inc(self.rt.stats.received());
                Some((msg, buffered))
            }
            None => {
                self.ctx.fail(
                    self.server.clone(),
                    format!(
                        "subscription to {} ended unexpectedly",
                        self.rt.info.subject
                    ),
                );
                None
            }
        }
    }

    /// Concurrency 1: each message is handled in the subscription's own task, in order,
    /// without a task per message.
    async fn run_inline(&self, mut sub: Subscriber, drain: Drain) {
        let cancel = self.ctx.cancel_token().clone();
        // When the next message was already waiting, the previous one's end is its start:
        // one clock read per message under load.
        let mut ended: Option<Instant> = None;
        while let Some((msg, buffered)) = self.next_message(&mut sub, &drain, &cancel).await {
            let started = ended.filter(|_| buffered).unwrap_or_else(Instant::now);
            let work = self.process(msg, started);
            tokio::pin!(work);
            // Most handlers finish at once; only a pending one needs to watch the stop.
            if let Some(end) = work.as_mut().now_or_never() {
                ended = Some(end);
                continue;
            }
            ended = tokio::select! {
                biased;
                end = &mut work => Some(end),
                () = cancel.cancelled() => {
                    // Stop timeout passed: the handler's Ctx is cancelled; give it the
                    // grace period, then abort it by dropping it.
                    tokio::time::timeout(CANCEL_GRACE, &mut work).await.ok()
                }
            };
            if ended.is_none() {
                tracing::warn!(subject = %self.rt.info.subject, aborted = 1, "handlers ignored cancellation; aborted");
                break;
            }
        }
        self.unsubscribe(&mut sub).await;
    }

    /// Concurrency N > 1: up to N handler tasks run at once (in parallel on the runtime).
    async fn run_parallel(self: Arc<Self>, mut sub: Subscriber, drain: Drain) {
        let limit = self.rt.route.concurrency;
        let cancel = self.ctx.cancel_token().clone();
        let mut tasks = JoinSet::new();
        loop {
            // Take a message only when it can be processed now.
            while tasks.len() >= limit {
                tokio::select! {
                    biased;
                    _ = tasks.join_next() => {}
                    _ = drain.token.cancelled() => break,
                    _ = cancel.cancelled() => break,
                }
            }
            if tasks.len() >= limit {
                break;
            }
            let Some((msg, _)) = self.next_message(&mut sub, &drain, &cancel).await else {
                break;
            };
            let runner = self.clone();
            tasks.spawn(async move {
                runner.process(msg, Instant::now()).await;
            });
            while tasks.try_join_next().is_some() {}
        }
        self.unsubscribe(&mut sub).await;
        // In-flight handlers finish. Once the stop timeout passes (their Ctx is cancelled),
        // they get CANCEL_GRACE to return on their own before they are aborted.
        loop {
            tokio::select! {
                joined = tasks.join_next() => if joined.is_none() { return },
                _ = cancel.cancelled() => break,
            }
        }
        let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
        while let Ok(joined) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
            if joined.is_none() {
                return;
            }
        }
        let left = tasks.len();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        tracing::warn!(subject = %self.rt.info.subject, aborted = left, "handlers ignored cancellation; aborted");
    }

    /// Stops taking messages. Those the client buffered but no handler started are not
    /// processed: at-most-once, as if the stop had come a moment earlier.
    async fn unsubscribe(&self, sub: &mut Subscriber) {
        if let Err(err) = sub.unsubscribe().await {
            tracing::warn!(subject = %self.rt.info.subject, error = %err, "unsubscribe failed");
        }
        let mut unstarted = 0usize;
        while let Some(Some(_)) = sub.next().now_or_never() {
            unstarted += 1;
        }
        if unstarted > 0 {
            tracing::info!(subject = %self.rt.info.subject, unstarted, "stopped; buffered messages not started were dropped");
        }
    }

    /// Runs the middleware chain and the handler once; a panic becomes an error.
    async fn attempt(&self, message: Message, attempt: u32) -> HandlerResult {
        let request = HandlerRequest {
            message,
            route: self.rt.info.clone(),
            ctx: self.handler_ctx.clone(),
            extensions: http::Extensions::new(),
            attempt,
            codec: self.broker.codec(),
            states: self.states.clone(),
        };
        let chain = Next::new(&self.layers, &*self.rt.route.endpoint);
        AssertUnwindSafe(chain.run(request))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(HandlerError::panic(panic_message(&*panic))))
    }

    /// Counts and logs a failed attempt.
    fn failed(&self, err: &HandlerError, subject: &str, attempt: u32) {
        let stats = &self.rt.stats;
        self.rt.last_error.set(err);
        SubscriptionStats::inc(match err.kind() {
            HandlerErrorKind::Decode => stats.decode_errors(),
            HandlerErrorKind::Handler => stats.errors(),
            HandlerErrorKind::Panic => stats.panics(),
            HandlerErrorKind::Timeout => stats.timeouts(),
        });
        tracing::error!(
            server = %self.server,
            route = %self.rt.info.subject,
            subject = %subject,
            attempt,
            kind = %err.kind(),
            error = %err.message(),
            "message handling failed"
        );
    }

    /// Handles one message taken at `started`; returns when it was done.
    async fn process(&self, msg: Message, started: Instant) -> Instant {
        if !self.keeps_message {
            return self.process_once(msg, started).await;
        }
        let stats = &self.rt.stats;
        let policy = self.rt.route.retry;
        stats.start();
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let err = match self.attempt(msg.clone(), attempt).await {
                Ok(reply) => break Ok(reply),
                Err(err) => err,
            };
            self.failed(&err, &msg.subject, attempt);
            let retryable = err.kind() != HandlerErrorKind::Decode && attempt < policy.max_attempts;
            if !retryable || self.ctx.cancel_token().is_cancelled() {
                break Err(err);
            }
            SubscriptionStats::inc(stats.retries());
            tokio::select! {
                _ = tokio::time::sleep(policy.delay(attempt)) => {}
                _ = self.ctx.cancel_token().cancelled() => break Err(err),
            }
        };
        match outcome {
            Ok(reply) => {
                SubscriptionStats::inc(stats.handled());
                if let (RouteKind::Reply, Some(to)) = (self.rt.info.kind, &msg.reply) {
                    let reply = reply.unwrap_or_default();
                    let out = Message {
                        subject: to.clone(),
                        reply: None,
                        headers: reply.headers,
                        payload: reply.payload,
                    };
                    self.send(out, "reply").await;
                }
            }
            Err(err) => {
                if let (RouteKind::Reply, Some(to)) = (self.rt.info.kind, &msg.reply) {
                    let mut headers = Headers::new();
                    headers.insert(SERVICE_ERROR_HEADER, one_line(err.message()));
                    headers.insert(SERVICE_ERROR_CODE_HEADER, err.code().to_string());
                    let out = Message::new(to.clone(), bytes::Bytes::new()).with_headers(headers);
                    self.send(out, "error reply").await;
                }
                if let Some(dead) = &self.rt.route.dead_letter {
                    let mut headers = msg.headers.clone();
                    headers.insert(DEAD_LETTER_SUBJECT_HEADER, msg.subject.clone());
                    headers.insert(DEAD_LETTER_REASON_HEADER, one_line(err.message()));
                    headers.insert(DEAD_LETTER_KIND_HEADER, err.kind().to_string());
                    headers.insert(DEAD_LETTER_ATTEMPTS_HEADER, attempt.to_string());
                    let letter =
                        Message::new(dead.clone(), msg.payload.clone()).with_headers(headers);
                    if self.send(letter, "dead letter").await {
                        SubscriptionStats::inc(stats.dead_lettered());
                    }
                }
            }
        }
        let ended = Instant::now();
        stats.finish(ended - started);
        ended
    }

    /// A subscriber with one attempt and no dead letter on a literal subject: the
    /// message goes to the handler without a copy (its subject is the route's).
    async fn process_once(&self, msg: Message, started: Instant) -> Instant {
        let stats = &self.rt.stats;
        stats.start();
        match self.attempt(msg, 1).await {
            Ok(_) => SubscriptionStats::inc(stats.handled()),
            Err(err) => self.failed(&err, &self.rt.info.subject, 1),
        }
        let ended = Instant::now();
        stats.finish(ended - started);
        ended
    }

    async fn send(&self, msg: Message, what: &str) -> bool {
        let subject = msg.subject.clone();
        match self.broker.publish_message(msg).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(route = %self.rt.info.subject, to = %subject, error = %err, "cannot send {what}");
                false
            }
        }
    }
}

/// Whether a message is needed after the handler took it: for a retry, a reply, a dead
/// letter, or to log the subject of a wildcard match. Otherwise it is moved into the
/// handler instead of copied.
fn keeps_message(rt: &RouteRuntime) -> bool {
    let route = &rt.route;
    route.retry.max_attempts > 1
        || route.dead_letter.is_some()
        || rt.info.kind == RouteKind::Reply
        || rt
            .info
            .subject
            .split('.')
            .any(|token| token == "*" || token == ">")
}

/// Header values cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("handler panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("handler panicked: {s}")
    } else {
        "handler panicked".to_owned()
    }
}
