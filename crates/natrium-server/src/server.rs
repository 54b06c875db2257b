//! The server: listener, accept loop, start, reload and shutdown (the state it shares with
//! connections is `state`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{Client, ClientSnapshot, CloseReason};
use crate::connection;
use crate::error::ServerError;
use crate::info::{ServerInfo, new_server_id};
use crate::options::ServerOptions;
use crate::port::ServerPort;
use crate::state::{Counters, Shared};

/// A snapshot of server-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Messages received from clients.
    pub in_msgs: u64,
    /// Payload bytes (headers included) received from clients.
    pub in_bytes: u64,
    /// Messages delivered to clients.
    pub out_msgs: u64,
    /// Payload bytes (headers included) delivered to clients.
    pub out_bytes: u64,
    /// Clients disconnected as slow consumers.
    pub slow_consumers: u64,
    /// Clients currently connected.
    pub connections: usize,
    /// Clients accepted since start.
    pub total_connections: u64,
    /// Subscriptions currently registered.
    pub subscriptions: usize,
}

/// An account's configured JetStream limits as the JetStream API shows and applies them.
fn js_limits(l: &crate::accounts::JetStreamLimits) -> crate::jetstream::AccountLimits {
    crate::jetstream::AccountLimits {
        max_memory: l.max_memory,
        max_storage: l.max_store,
        max_streams: l.max_streams,
        max_consumers: l.max_consumers,
        max_ack_pending: l.max_ack_pending,
        memory_max_stream_bytes: l.memory_max_stream_bytes,
        storage_max_stream_bytes: l.store_max_stream_bytes,
        max_bytes_required: l.max_bytes_required,
    }
}

/// Whether an account imports another account's JetStream API as its own (a service import
/// whose subject here covers `$JS.API.INFO`, as nats-server checks).
fn imports_jetstream_api(account: &crate::accounts::AccountOptions) -> bool {
    account.imports.iter().any(|i| {
        i.kind == crate::accounts::ImportKind::Service
            && natrium_wire::subject_matches(
                i.to.as_deref().unwrap_or(&i.subject).as_bytes(),
                b"$JS.API.INFO",
            )
    })
}

/// Gives every account JetStream or its "not enabled" answers, as nats-server does: the
/// global account alone when no account is configured, else each account configured with
/// `jetstream` (at start and after a reload).
fn configure_jetstream(shared: &Arc<Shared>) -> Result<(), crate::jetstream::StartError> {
    let Some(js) = shared.jetstream.get() else {
        return Ok(());
    };
    let registry = shared.accounts.current();
    let system = shared.opts.system_account_name();
    // The system account does not count, and operator mode never gives the global account
    // JetStream.
    let global_only = registry.names().all(|name| name == system) && shared.trust.read().is_none();
    for account in shared.accounts.all() {
        let config = registry.config(&account.name);
        let limits = if &*account.name == crate::accounts::GLOBAL_ACCOUNT {
            global_only.then(crate::jetstream::AccountLimits::default)
        } else {
            config.and_then(|c| c.jetstream.as_ref()).map(js_limits)
        };
        let port = Arc::new(ServerPort::new(shared, &account));
        let answered_elsewhere = config.is_some_and(imports_jetstream_api);
        if limits.is_none() && (answered_elsewhere || &*account.name == system) {
            // Its API requests go to the exporter's JetStream (or, for the system account,
            // nowhere), not to a "not enabled".
            js.remove_account(&account.name);
            continue;
        }
        js.configure_account(&account.name, port, limits)?;
    }
    Ok(())
}

/// A running server. Dropping it stops it (without waiting); prefer [`Server::shutdown`].
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    monitor_addr: Option<SocketAddr>,
    written_files: Vec<PathBuf>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("server_id", &self.shared.info.server_id)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listener and starts accepting clients. Returns once the server is listening.
    pub async fn start(mut opts: ServerOptions) -> Result<Server, ServerError> {
        let (accounts, trust) = crate::operator::expand(&opts)?;
        opts.accounts = accounts;
        if opts.max_payload == 0 {
            return Err(ServerError::InvalidOptions(
                "max_payload must be positive".into(),
            ));
        }
        if opts.max_payload as usize > opts.max_pending {
            // As nats-server: a message that can never fit would make its subscriber a slow
            // consumer on the first delivery.
            return Err(ServerError::InvalidOptions(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                opts.max_payload, opts.max_pending
            )));
        }
        crate::accounts::validate(&opts)?;
        if let Some(domain) = opts.jetstream_domain() {
            crate::jetstream::validate_domain(domain)?;
        }
        // Certificates are checked before anything listens: a bad file stops the start.
        let tls = match &opts.tls {
            Some(t) => Some(crate::tls::LiveTls::load(t)?),
            None => None,
        };
        let (host, port) = (opts.host.clone(), opts.port);
        let listener = TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|source| ServerError::Bind {
                host: host.clone(),
                port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            host: host.clone(),
            port,
            source,
        })?;

        let server_id = new_server_id();
        let info = ServerInfo {
            server_name: opts
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            server_id,
            host: opts.host.clone(),
            port: addr.port(),
            jetstream: opts.jetstream.is_some(),
            domain: opts.jetstream_domain().unwrap_or_default().to_owned(),
        };
        let internal_client = Arc::new(Client::internal(opts.max_pending));
        let accounts = crate::accounts::Accounts::build(&opts, &internal_client)?;
        let shared = Arc::new(Shared {
            info,
            accounts,
            clients: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            closed: crate::records::ClosedConnections::default(),
            next_cid: AtomicU64::new(1),
            started: SystemTime::now(),
            shutdown: CancellationToken::new(),
            lame_duck: CancellationToken::new(),
            live: parking_lot::RwLock::new(Arc::new(crate::state::Reloadable::new(&opts, tls))),
            tasks: TaskTracker::new(),
            internal_client,
            trust: parking_lot::RwLock::new(trust.map(Arc::new)),
            next_internal_sid: AtomicU64::new(1),
            jetstream: std::sync::OnceLock::new(),
            js_domain_api: crate::jetstream::domain_api_prefix(opts.jetstream_domain()),
            rate_limited_log: crate::logging::RateLimited::default(),
            system: std::sync::OnceLock::new(),
            opts,
        });
        crate::system::start(&shared);

        if let Some(js_opts) = &shared.opts.jetstream {
            let js = crate::jetstream::JetStream::start(
                js_opts,
                &shared.info.server_name,
                &shared.tasks,
                shared.shutdown.clone(),
            )?;
            let _ = shared.jetstream.set(js);
            configure_jetstream(&shared)?;
        }

        let monitor_addr = match shared.opts.http_port {
            Some(port) => {
                let host = shared
                    .opts
                    .http_host
                    .as_deref()
                    .unwrap_or(&shared.opts.host);
                Some(crate::monitor::start(shared.clone(), host, port).await?)
            }
            None => None,
        };

        let written_files =
            write_process_files(&shared.opts, addr, monitor_addr).inspect_err(|_| {
                // Stop the monitoring listener started above.
                shared.shutdown.cancel();
            })?;

        tracing::info!(
            "Listening for client connections on {}",
            display_addr(&shared.opts.host, addr.port())
        );
        if shared.opts.tls.is_some() {
            tracing::info!("TLS required for client connections");
        }
        tracing::info!("Server is ready");

        shared.tasks.spawn(accept_loop(shared.clone(), listener));
        Ok(Server {
            shared,
            addr,
            monitor_addr,
            written_files,
        })
    }

    /// The address the server listens on (with the real port when `port` was 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP monitoring address (`/varz`, `/connz`, ...), when `http_port` is set.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr
    }

    /// The URL clients connect to: `nats://127.0.0.1:PORT` (loopback when listening on all
    /// interfaces).
    pub fn client_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            match self.addr {
                SocketAddr::V4(_) => "127.0.0.1".to_owned(),
                SocketAddr::V6(_) => "[::1]".to_owned(),
            }
        } else {
            match self.addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }
        };
        format!("nats://{ip}:{}", self.addr.port())
    }

    /// The generated server id (as sent in INFO).
    pub fn server_id(&self) -> &str {
        &self.shared.info.server_id
    }

    /// A snapshot of the server-wide counters.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        ServerStats {
            in_msgs: c.in_msgs.load(Ordering::Relaxed),
            in_bytes: c.in_bytes.load(Ordering::Relaxed),
            out_msgs: c.out_msgs.load(Ordering::Relaxed),
            out_bytes: c.out_bytes.load(Ordering::Relaxed),
            slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
            connections: self.shared.clients.lock().len(),
            total_connections: c.total_connections.load(Ordering::Relaxed),
            subscriptions: self.shared.accounts.subscription_count(),
        }
    }

    /// A snapshot of every connected client, ordered by client id.
    pub fn clients(&self) -> Vec<ClientSnapshot> {
        let clients: Vec<Arc<Client>> = self.shared.clients.lock().values().cloned().collect();
        let mut snaps: Vec<ClientSnapshot> = clients.iter().map(|c| c.snapshot()).collect();
        snaps.sort_by_key(|s| s.cid);
        snaps
    }

    /// When the server started.
    pub fn started(&self) -> SystemTime {
        self.shared.started
    }

    /// The options the server runs with.
    pub fn options(&self) -> &ServerOptions {
        &self.shared.opts
    }

    /// Closes the clients of accounts a reload removed (the others keep their connections).
    fn close_clients_of(&self, gone: &[Arc<crate::accounts::Account>]) {
        if gone.is_empty() {
            return;
        }
        let clients: Vec<Arc<Client>> = self.shared.clients.lock().values().cloned().collect();
        for client in clients {
            let Some(account) = client.account.get() else {
                continue;
            };
            if gone.iter().any(|g| Arc::ptr_eq(g, account)) {
                tracing::info!(
                    "{} - account {} removed by a reload: closing the connection",
                    client,
                    account.name
                );
                client.set_close_reason(CloseReason::AuthorizationViolation);
                client.kill.cancel();
            }
        }
    }

    /// Lame-duck mode: stops accepting, sends clients an INFO with `"ldm":true`, waits
    /// `lame_duck_grace_period`, closes the clients spread over `lame_duck_duration`, then
    /// shuts down. Returns when the server has stopped.
    pub async fn lame_duck(&self) {
        crate::lame_duck::run(&self.shared).await;
        self.shutdown().await;
    }

    /// Applies what can change at run time from `opts`: users, permissions, token,
    /// `no_auth_user`, `max_payload` and the TLS certificate, key, CA and timeout (the files
    /// are read again) to connections made from now on; the log level and `logtime`
    /// (`logging`) at once, to the logger [`crate::logging::init`] installed; accounts,
    /// exports, imports and operator-mode JWTs at once (clients of a removed account are
    /// closed, the others keep their connections). Other fields are ignored.
    ///
    /// INFO announces the new `auth_required`, `tls_required`, `tls_verify` and
    /// `max_payload` to clients connecting from now on. A reload that can't be applied
    /// (unusable TLS files, inconsistent accounts, another JetStream domain) is logged and
    /// changes nothing, as in nats-server.
    pub fn reload(&self, opts: &ServerOptions) {
        // As nats-server: a changed JetStream domain refuses the whole reload.
        let old = self.shared.opts.jetstream_domain().unwrap_or_default();
        let new = opts.jetstream_domain().unwrap_or_default();
        if old != new {
            tracing::error!(
                "Failed to reload server configuration: config reload not supported for \
                 JetStreamDomain: old={old}, new={new}"
            );
            return;
        }
        let tls = match self.reload_tls(opts.tls.as_ref()) {
            Ok(tls) => tls,
            Err(e) => {
                tracing::error!("Failed to reload server configuration: {e}");
                return;
            }
        };
        // Accounts last, as they cannot be undone: everything before may still refuse.
        let gone = crate::operator::expand(opts)
            .map_err(|e| e.to_string())
            .and_then(|(accounts, trust)| {
                let expanded = ServerOptions {
                    accounts,
                    ..opts.clone()
                };
                let gone = self
                    .shared
                    .accounts
                    .replace(&expanded)
                    .map_err(|e| e.to_string())?;
                *self.shared.trust.write() = trust.map(Arc::new);
                Ok(gone)
            });
        let gone = match gone {
            Ok(gone) => gone,
            Err(e) => {
                tracing::error!("Failed to reload server configuration: {e}");
                return;
            }
        };
        self.close_clients_of(&gone);
        if let Some(js) = self.shared.jetstream.get() {
            for account in &gone {
                js.remove_account(&account.name);
            }
        }
        if let Err(e) = configure_jetstream(&self.shared) {
            tracing::error!("Error enabling JetStream on reloaded accounts: {e}");
        }
        let new = Arc::new(crate::state::Reloadable::new(opts, tls));
        let old = std::mem::replace(&mut *self.shared.live.write(), new);
        let (was, now) = (old.logging, opts.logging);
        for (name, before, after) in [
            ("debug", was.debug, now.debug),
            ("trace", was.trace, now.trace),
            ("logtime", was.logtime, now.logtime),
        ] {
            if before != after {
                tracing::info!("Reloaded: {name} = {after}");
            }
        }
        if was != now {
            crate::logging::apply(now);
        }
        tracing::info!("Reloaded server configuration");
    }

    /// The TLS settings a reload to `new` puts in force: the files read again.
    fn reload_tls(
        &self,
        new: Option<&crate::tls::TlsOptions>,
    ) -> Result<Option<crate::tls::LiveTls>, crate::tls::TlsError> {
        let tls = new.map(crate::tls::LiveTls::load).transpose()?;
        let live = self.shared.live.read().clone();
        if live.tls.as_ref().map(|t| &t.options) != new {
            let state = if new.is_some() { "enabled" } else { "disabled" };
            tracing::info!("Reloaded: tls = {state}");
        }
        Ok(tls)
    }

    /// Stops accepting, closes every client connection and waits for every task to end.
    /// Calling it again is harmless.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        for path in &self.written_files {
            // Best effort, like nats-server: a missing file is not worth failing shutdown over.
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("Server Exiting..");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// `host:port` as nats-server prints it.
fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = shared.lame_duck.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let shared2 = shared.clone();
                shared.tasks.spawn(handle_accepted(shared2, stream, peer));
            }
            Err(e) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::error!("Error accepting client connection: {e}");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
                }
            }
        }
    }
}

async fn handle_accepted(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    crate::busy_poll::watch(&stream);
    connection::serve(shared, stream, peer).await;
}

/// Writes the pid file and the ports file, returning their paths for removal at shutdown.
fn write_process_files(
    opts: &ServerOptions,
    addr: SocketAddr,
    monitor: Option<SocketAddr>,
) -> Result<Vec<PathBuf>, ServerError> {
    let mut written = Vec::new();
    let pid = std::process::id();
    if let Some(path) = &opts.pid_file {
        std::fs::write(path, pid.to_string()).map_err(|source| ServerError::WriteFile {
            path: path.clone(),
            source,
        })?;
        written.push(path.clone());
    }
    if let Some(dir) = &opts.ports_file_dir {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "natrium-server".to_owned());
        let path = dir.join(format!("{exe}_{pid}.ports"));
        let host = |addr: SocketAddr| {
            if addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                addr.ip().to_string()
            }
        };
        let mut ports = serde_json::json!({
            "nats": [format!("nats://{}", display_addr(&host(addr), addr.port()))],
        });
        if let Some(m) = monitor {
            ports["monitoring"] =
                serde_json::json!([format!("http://{}", display_addr(&host(m), m.port()))]);
        }
        std::fs::write(&path, ports.to_string()).map_err(|source| ServerError::WriteFile {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
