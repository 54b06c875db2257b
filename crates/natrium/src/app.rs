//! [`App`]: runs servers together, stops them gracefully.
//!
//! Start order: `before_start` hooks, each server's [`Server::start`] (in order; a failure
//! stops those already started), `after_start` hooks, then ready. The app then waits for
//! SIGINT/SIGTERM, [`AppHandle::stop`], or a server reporting a failure
//! ([`AppContext::fail`]). Stop: `before_stop` hooks, every server's [`Server::stop`]
//! concurrently within the stop timeout — past it, every handler [`Ctx`](crate::Ctx) is
//! cancelled — then `after_stop` hooks.
//!
//! With a [`Registrar`] ([`App::registrar`]), the app registers its
//! [`ServiceInstance`] — id, name, version, metadata and every server's
//! [`Server::endpoints`] — after the `after_start` hooks and before it is ready (a failure
//! fails the start), and deregisters first thing when stopping, before the hooks and the
//! servers, so callers stop routing to it while it still serves.
//!
//! Servers of one app stop together, as in Kratos. When parts must stop one after the
//! other — an API before the workers behind it, in one process — give each part its own
//! app, [`App::spawn`] them, and await their [`RunningApp::stop`] in that order: `stop`
//! returns only once the app has stopped, its `after_stop` hooks included.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, join_all};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::error::{BoxError, Error, Result};
use crate::registry::{Registrar, ServiceInstance};

/// Something an [`App`] starts and stops: the NATS transport server, the HTTP server, or
/// any user type.
#[async_trait]
pub trait Server: Send + Sync + 'static {
    /// A name for logs and errors.
    fn name(&self) -> String;

    /// Starts serving and returns once ready. Background failures later are reported with
    /// [`AppContext::fail`].
    async fn start(&self, ctx: &AppContext) -> Result<()>;

    /// Stops gracefully: take no new work, finish in-flight work, release resources.
    /// When `ctx`'s cancel token fires (stop timeout passed), give up on in-flight work.
    async fn stop(&self, ctx: &AppContext) -> Result<()>;

    /// Where the server serves once started (`http://127.0.0.1:8000`,
    /// `nats://…?service=…&subject=…`), for the service registry. Default: none.
    fn endpoints(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A shared server is a server (keep a clone to read its state, e.g. an HTTP port).
#[async_trait]
impl<S: Server + ?Sized> Server for Arc<S> {
    fn name(&self) -> String {
        (**self).name()
    }

    async fn start(&self, ctx: &AppContext) -> Result<()> {
        (**self).start(ctx).await
    }

    async fn stop(&self, ctx: &AppContext) -> Result<()> {
        (**self).stop(ctx).await
    }

    fn endpoints(&self) -> Vec<String> {
        (**self).endpoints()
    }
}

/// Identity of an app: id, name, version, metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    /// Instance id.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Service version.
    pub version: String,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// What a running app shares with its servers and hooks.
#[derive(Clone, Debug)]
pub struct AppContext {
    info: Arc<AppInfo>,
    stopping: CancellationToken,
    cancel: CancellationToken,
    failures: mpsc::UnboundedSender<Error>,
}

impl AppContext {
    /// A context for running a server outside an [`App`] (tests, embedding). Failures
    /// reported to it are logged.
    pub fn standalone(name: impl Into<String>) -> Self {
        let (failures, mut rx) = mpsc::unbounded_channel::<Error>();
        tokio::spawn(async move {
            while let Some(err) = rx.recv().await {
                tracing::error!(error = %err, "server failed");
            }
        });
        AppContext {
            info: Arc::new(AppInfo {
                name: name.into(),
                ..AppInfo::default()
            }),
            stopping: CancellationToken::new(),
            cancel: CancellationToken::new(),
            failures,
        }
    }

    /// The app's identity.
    pub fn info(&self) -> &AppInfo {
        &self.info
    }

    /// Cancelled when the app begins to stop.
    pub fn stopping_token(&self) -> &CancellationToken {
        &self.stopping
    }

    /// Cancelled when the stop timeout passes: in-flight work must end.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Reports that a server failed after starting; the app then stops everything.
    pub fn fail(&self, server: impl Into<String>, err: impl Into<BoxError>) {
        let _ = self.failures.send(Error::Server {
            name: server.into(),
            source: err.into(),
        });
    }
}

type Hook = Box<dyn FnOnce(AppContext) -> BoxFuture<'static, Result<()>> + Send>;

/// Controls a running [`App`] from outside: stop it, await readiness.
#[derive(Clone, Debug)]
pub struct AppHandle {
    stop: CancellationToken,
    ready: watch::Receiver<bool>,
    registered: Arc<Mutex<Option<ServiceInstance>>>,
}

impl AppHandle {
    /// Asks the app to stop (like SIGTERM).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until every server has started; `false` if the app ended without getting
    /// ready.
    pub async fn ready(&self) -> bool {
        let mut ready = self.ready.clone();
        ready.wait_for(|r| *r).await.is_ok()
    }

    /// Whether every server has started.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// The instance registered with the app's [`Registrar`], while it is registered.
    pub fn registered(&self) -> Option<ServiceInstance> {
        self.registered.lock().clone()
    }
}

/// A service: servers plus lifecycle hooks. See the [module docs](self).
pub struct App {
    info: AppInfo,
    servers: Vec<Arc<dyn Server>>,
    before_start: Vec<Hook>,
    after_start: Vec<Hook>,
    before_stop: Vec<Hook>,
    after_stop: Vec<Hook>,
    stop_timeout: Duration,
    signals: bool,
    stop: CancellationToken,
    ready: watch::Sender<bool>,
    registrar: Option<Arc<dyn Registrar>>,
    registered: Arc<Mutex<Option<ServiceInstance>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("info", &self.info)
            .field(
                "servers",
                &self.servers.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("stop_timeout", &self.stop_timeout)
            .finish_non_exhaustive()
    }
}

fn hook<F, Fut>(f: F) -> Hook
where
    F: FnOnce(AppContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Box::new(move |ctx| Box::pin(f(ctx)))
}

impl App {
    /// An app named `name` with a 30 s stop timeout that stops on SIGINT/SIGTERM.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        App {
            info: AppInfo {
                id: format!("{name}-{}", std::process::id()),
                name,
                version: String::new(),
                metadata: BTreeMap::new(),
            },
            servers: Vec::new(),
            before_start: Vec::new(),
            after_start: Vec::new(),
            before_stop: Vec::new(),
            after_stop: Vec::new(),
            stop_timeout: Duration::from_secs(30),
            signals: true,
            stop: CancellationToken::new(),
            ready: watch::channel(false).0,
            registrar: None,
            registered: Arc::default(),
        }
    }

    /// Sets the instance id (default `<name>-<pid>`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.info.id = id.into();
        self
    }

    /// Sets the version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.info.version = version.into();
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a server (started in the order added).
    pub fn server(mut self, server: impl Server) -> Self {
        self.servers.push(Arc::new(server));
        self
    }

    /// Runs `f` before the servers start; an error aborts `run`.
    pub fn before_start<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(AppContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.before_start.push(hook(f));
        self
    }

    /// Runs `f` once every server has started; an error stops the app.
    pub fn after_start<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(AppContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.after_start.push(hook(f));
        self
    }

    /// Runs `f` when stopping begins, before the servers stop.
    pub fn before_stop<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(AppContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.before_stop.push(hook(f));
        self
    }

    /// Runs `f` after the servers stopped.
    pub fn after_stop<F, Fut>(mut self, f: F) -> Self
    where
        F: FnOnce(AppContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.after_stop.push(hook(f));
        self
    }

    /// How long servers may take to stop before in-flight work is cancelled (default 30 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Registers the app in a service registry while it runs; see the [module docs](self).
    /// The id must be unique within the service: the default `<name>-<pid>` is unique per
    /// process, so give apps sharing a name in one process their own [`App::id`].
    pub fn registrar(mut self, registrar: impl Registrar) -> Self {
        self.registrar = Some(Arc::new(registrar));
        self
    }

    /// Whether SIGINT/SIGTERM stop the app (default `true`).
    pub fn handle_signals(mut self, enabled: bool) -> Self {
        self.signals = enabled;
        self
    }

    /// A handle to stop the app and await readiness from elsewhere.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            stop: self.stop.clone(),
            ready: self.ready.subscribe(),
            registered: self.registered.clone(),
        }
    }

    /// Runs the app on its own task and returns once it is ready (every server started,
    /// registered if it has a registrar), or with the error that ended it before.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> natrium::Result<()> {
    /// use natrium::App;
    /// use natrium::app::FnServer;
    ///
    /// let api = App::new("api")
    ///     .server(FnServer::new("http", |_| async { Ok(()) }, |_| async { Ok(()) }))
    ///     .spawn()
    ///     .await?;
    /// let workers = App::new("workers").handle_signals(false).spawn().await?;
    /// // The API stops first (it also takes SIGINT/SIGTERM), then the workers.
    /// # api.handle().stop();
    /// api.wait().await?;
    /// workers.stop().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn spawn(self) -> Result<RunningApp> {
        let name = self.info.name.clone();
        let handle = self.handle();
        let task = tokio::spawn(self.run());
        let running = RunningApp { handle, task };
        if running.handle.ready().await {
            return Ok(running);
        }
        // Ended before it was ready: its error says why.
        running.wait().await?;
        Err(Error::other(format!(
            "app {name} stopped before it was ready"
        )))
    }

    /// Runs the app until it is told to stop or a server fails; see the [module docs](self).
    /// Returns the first failure: a hook, a server start, a server failure, or a stop
    /// error ([`Error::StopTimeout`] when in-flight work had to be cancelled).
    pub async fn run(self) -> Result<()> {
        let App {
            info,
            servers,
            before_start,
            after_start,
            before_stop,
            after_stop,
            stop_timeout,
            signals,
            stop,
            ready,
            registrar,
            registered,
        } = self;
        let mut signals = ShutdownSignals::new(signals);
        let (failures, mut failed) = mpsc::unbounded_channel();
        let ctx = AppContext {
            info: Arc::new(info),
            stopping: CancellationToken::new(),
            cancel: CancellationToken::new(),
            failures,
        };
        let app = ctx.info.name.clone();

        for h in before_start {
            h(ctx.clone()).await?;
        }
        let mut started: Vec<Arc<dyn Server>> = Vec::new();
        for server in &servers {
            if let Err(err) = server.start(&ctx).await {
                tracing::error!(app = %app, server = %server.name(), error = %err, "server failed to start");
                ctx.stopping.cancel();
                let _ = stop_all(&started, &ctx, stop_timeout).await;
                return Err(Error::Server {
                    name: server.name(),
                    source: Box::new(err),
                });
            }
            started.push(server.clone());
        }
        let mut outcome = Ok(());
        for h in after_start {
            if let Err(err) = h(ctx.clone()).await {
                outcome = Err(err);
                break;
            }
        }
        if outcome.is_ok()
            && let Some(registrar) = &registrar
        {
            let instance = ServiceInstance {
                id: ctx.info.id.clone(),
                name: ctx.info.name.clone(),
                version: ctx.info.version.clone(),
                metadata: ctx.info.metadata.clone(),
                endpoints: started.iter().flat_map(|s| s.endpoints()).collect(),
            };
            match registrar.register(&instance).await {
                Ok(()) => {
                    tracing::info!(app = %app, id = %instance.id, endpoints = ?instance.endpoints, "registered");
                    *registered.lock() = Some(instance);
                }
                Err(err) => {
                    tracing::error!(app = %app, error = %err, "registration failed; stopping");
                    outcome = Err(Error::Registry(err));
                }
            }
        }
        if outcome.is_ok() {
            ready.send_replace(true);
            tracing::info!(app = %app, id = %ctx.info.id, version = %ctx.info.version, "app started");
            tokio::select! {
                _ = stop.cancelled() => tracing::info!(app = %app, "stop requested"),
                signal = signals.recv() => tracing::info!(app = %app, signal, "signal received; stopping"),
                Some(err) = failed.recv() => {
                    tracing::error!(app = %app, error = %err, "server failed; stopping");
                    outcome = Err(err);
                }
            }
        }

        ctx.stopping.cancel();
        // Deregister first: callers stop routing here while the servers still serve.
        let instance = registered.lock().take();
        if let (Some(registrar), Some(instance)) = (&registrar, instance) {
            match registrar.deregister(&instance).await {
                Ok(()) => tracing::info!(app = %app, id = %instance.id, "deregistered"),
                Err(err) => {
                    tracing::error!(app = %app, error = %err, "deregistration failed");
                    outcome = outcome.and(Err(Error::Registry(err)));
                }
            }
        }
        for h in before_stop {
            if let Err(err) = h(ctx.clone()).await {
                tracing::error!(app = %app, error = %err, "before_stop hook failed");
                outcome = outcome.and(Err(err));
            }
        }
        let stopped = stop_all(&started, &ctx, stop_timeout).await;
        outcome = outcome.and(stopped);
        for h in after_stop {
            if let Err(err) = h(ctx.clone()).await {
                tracing::error!(app = %app, error = %err, "after_stop hook failed");
                outcome = outcome.and(Err(err));
            }
        }
        tracing::info!(app = %app, "app stopped");
        outcome
    }
}

/// An app running on its own task; see [`App::spawn`].
#[derive(Debug)]
pub struct RunningApp {
    handle: AppHandle,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningApp {
    /// The app's handle (stop it from elsewhere, read what it registered).
    pub fn handle(&self) -> &AppHandle {
        &self.handle
    }

    /// Stops the app and returns once it has stopped, with [`App::run`]'s result.
    pub async fn stop(self) -> Result<()> {
        self.handle.stop();
        self.wait().await
    }

    /// Waits until the app stops by itself (a signal, a server failure, or
    /// [`AppHandle::stop`]); returns [`App::run`]'s result.
    pub async fn wait(self) -> Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(err) => Err(Error::other(format!("app task failed: {err}"))),
        }
    }
}

/// Stops every server concurrently. Past `timeout`, cancels in-flight work and gives the
/// servers twice [`CANCEL_GRACE`](crate::transport::CANCEL_GRACE) more to wind down.
async fn stop_all(servers: &[Arc<dyn Server>], ctx: &AppContext, timeout: Duration) -> Result<()> {
    let stops = join_all(servers.iter().map(|s| async move {
        s.stop(ctx).await.map_err(|err| Error::Server {
            name: s.name(),
            source: Box::new(err),
        })
    }));
    tokio::pin!(stops);
    let results = match tokio::time::timeout(timeout, &mut stops).await {
        Ok(results) => results,
        Err(_) => {
            ctx.cancel.cancel();
            tracing::warn!(?timeout, "stop timeout passed; cancelling in-flight work");
            // Handlers get CANCEL_GRACE to react; allow for that plus closing connections.
            let grace = crate::transport::CANCEL_GRACE * 2;
            let _ = tokio::time::timeout(grace, &mut stops).await;
            return Err(Error::StopTimeout(timeout));
        }
    };
    results.into_iter().collect::<Result<Vec<()>>>().map(drop)
}

/// SIGINT/SIGTERM listeners, installed when created so a signal arriving right after
/// readiness is never missed (nor left to kill the process).
struct ShutdownSignals {
    #[cfg(unix)]
    listeners: Vec<(tokio::signal::unix::Signal, &'static str)>,
    enabled: bool,
}

impl ShutdownSignals {
    fn new(enabled: bool) -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut listeners = Vec::new();
            if enabled {
                for (kind, name) in [
                    (SignalKind::interrupt(), "SIGINT"),
                    (SignalKind::terminate(), "SIGTERM"),
                ] {
                    match signal(kind) {
                        Ok(s) => listeners.push((s, name)),
                        Err(err) => {
                            tracing::warn!(signal = name, error = %err, "cannot listen for signal")
                        }
                    }
                }
            }
            ShutdownSignals { listeners, enabled }
        }
        #[cfg(not(unix))]
        ShutdownSignals { enabled }
    }

    /// Completes on the first signal (never, when disabled); yields its name.
    async fn recv(&mut self) -> &'static str {
        if !self.enabled {
            return std::future::pending().await;
        }
        #[cfg(unix)]
        {
            if self.listeners.is_empty() {
                return std::future::pending().await;
            }
            let waits = self
                .listeners
                .iter_mut()
                .map(|(s, name)| Box::pin(async move { s.recv().await.map(|_| *name) }));
            match futures::future::select_all(waits).await.0 {
                Some(name) => name,
                None => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// A [`Server`] made of two closures, for small custom servers.
pub struct FnServer {
    name: String,
    start: Mutex<Option<Hook>>,
    stop: Mutex<Option<Hook>>,
}

impl FnServer {
    /// A server named `name` whose start and stop run the given closures once.
    pub fn new<S, SF, T, TF>(name: impl Into<String>, start: S, stop: T) -> Self
    where
        S: FnOnce(AppContext) -> SF + Send + 'static,
        SF: Future<Output = Result<()>> + Send + 'static,
        T: FnOnce(AppContext) -> TF + Send + 'static,
        TF: Future<Output = Result<()>> + Send + 'static,
    {
        FnServer {
            name: name.into(),
            start: Mutex::new(Some(hook(start))),
            stop: Mutex::new(Some(hook(stop))),
        }
    }
}

#[async_trait]
impl Server for FnServer {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn start(&self, ctx: &AppContext) -> Result<()> {
        let f = self.start.lock().take();
        match f {
            Some(f) => f(ctx.clone()).await,
            None => Err(Error::Config(format!("server {} started twice", self.name))),
        }
    }

    async fn stop(&self, ctx: &AppContext) -> Result<()> {
        let f = self.stop.lock().take();
        match f {
            Some(f) => f(ctx.clone()).await,
            None => Ok(()),
        }
    }
}
