//! JetStream: streams that keep messages and consumers that hand them out at least once,
//! per account, as in nats-server: the global account alone when no accounts are
//! configured, else each account configured with `jetstream`.
//!
//! Rooms: `account` is one account's JetStream (its streams, limits and API subscription),
//! `api` routes `$JS.API.>` requests (streams there, consumers in `consumer_api`),
//! `stream` is one stream and its publish path, `consumer` one consumer's delivery, acks and
//! redelivery (`ack` reads the `$JS.ACK` protocol), `headers` the JetStream headers of a
//! published message; `types`/`consumer_types`/`errors` are the API's JSON shapes and error
//! catalogue, `stream_config`/`consumer_config` the rules configurations must follow,
//! The message store itself is the `natrium-store` crate.
//!
//! On disk, as nats-server: `<store_dir>/jetstream/<account>/streams/<name>/` holds `meta.json`
//! (the configuration and creation time), `msgs/` (the file store) and `obs/<consumer>/`
//! (each consumer's `meta.json` and `state.log`). Memory streams are not kept across
//! restarts.

mod account;
mod ack;
mod api;
mod consumer;
mod consumer_api;
pub(crate) mod consumer_config;
pub(crate) mod consumer_errors;
mod consumer_state;
pub(crate) mod consumer_types;
mod domain;
pub(crate) mod errors;
mod flow_control;
mod headers;
mod stream;
pub(crate) mod stream_config;
pub(crate) mod types;
mod usage;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::internal::{AfterBatch, InMsg, InternalSub, Port, Sink};
use crate::options::{JetStreamOptions, SyncPolicy};
pub(crate) use account::JsAccount;
pub use domain::DomainError;
pub(crate) use domain::{
    api_prefix as domain_api_prefix, map_api as map_domain_api, validate as validate_domain,
};
pub(crate) use types::AccountLimits;
use types::{StreamConfig, Timestamp};
/// How often streams expire old messages and prune their deduplication windows.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Why JetStream could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store directory can't be created or opened.
    #[error("could not create storage directory - {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Another process holds the store directory.
    #[error("storage directory {path} is in use by another server process")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// A stream on disk can't be recovered.
    #[error("could not recover stream {name:?} in {path}: {reason}")]
    Recover {
        /// The stream.
        name: String,
        /// Its directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What `meta.json` holds for a file-backed stream.
#[derive(Serialize, Deserialize)]
struct StreamMeta {
    config: StreamConfig,
    created: Timestamp,
}

/// Whose API request it is.
#[derive(Clone)]
enum ApiTarget {
    /// An account with JetStream.
    Enabled(Weak<JsAccount>),
    /// An account without: answered "not enabled for account" through its port.
    Disabled(Weak<dyn Port>),
}

/// A JetStream API request waiting for the API task.
struct ApiRequest {
    target: ApiTarget,
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// Hands API requests to the API task. The `$JS.API.>` subscriber leaves `DIRECT.GET`
/// alone: only streams with `allow_direct` answer those (elsewhere the requester gets no
/// responders, as from nats-server).
struct ApiSink {
    requests: mpsc::UnboundedSender<ApiRequest>,
    target: ApiTarget,
    direct: bool,
}

/// The prefix of direct get requests.
const DIRECT_GET: &[u8] = b"$JS.API.DIRECT.GET.";

impl Sink for ApiSink {
    fn receive(&self, msg: &InMsg<'_>, _after: &mut AfterBatch) -> bool {
        if !self.direct && msg.subject.starts_with(DIRECT_GET) {
            return false;
        }
        // Pull requests go to their consumer's own subscriber.
        if msg.subject.starts_with(consumer::NEXT_PREFIX.as_bytes()) {
            return false;
        }
        self.requests
            .send(ApiRequest {
                target: self.target.clone(),
                subject: msg.subject.to_vec(),
                reply: msg.reply.map(<[u8]>::to_vec),
                payload: msg.payload.to_vec(),
            })
            .is_ok()
    }
}

/// What every account's JetStream shares: the server-wide settings, limits, counters and
/// tasks.
pub(crate) struct Common {
    opts: JetStreamOptions,
    /// `<store_dir>/jetstream`.
    root: PathBuf,
    server_name: String,
    /// The JetStream domain, empty for none.
    domain: Arc<str>,
    max_memory: i64,
    max_store: i64,
    /// Bytes stored over every account, checked on every publish against the limits above.
    usage: Arc<usage::Usage>,
    /// API requests over every account.
    api_total: AtomicU64,
    api_errors: AtomicU64,
    /// Where API subscribers hand their requests (to the one API task).
    requests: mpsc::UnboundedSender<ApiRequest>,
    /// Consumers' delivery tasks run here, and stop with it.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// An account without JetStream, on a server with it: its API requests are answered "not
/// enabled for account", as nats-server answers them.
struct Disabled {
    port: Arc<dyn Port>,
    api_sub: Option<InternalSub>,
}

/// JetStream of one server: one [`JsAccount`] per account that has it.
pub(crate) struct JetStream {
    common: Arc<Common>,
    /// The temporary store directory, removed at shutdown.
    temp: Mutex<Option<tempfile::TempDir>>,
    /// Held (with an exclusive lock on it) until shutdown.
    lock: Mutex<Option<File>>,
    accounts: RwLock<BTreeMap<String, Arc<JsAccount>>>,
    disabled: Mutex<BTreeMap<String, Disabled>>,
}

impl std::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStream")
            .field("root", &self.common.root)
            .finish_non_exhaustive()
    }
}

impl JetStream {
    /// Opens the store directory and starts the API task; accounts join with
    /// [`JetStream::configure_account`].
    pub(crate) fn start(
        opts: &JetStreamOptions,
        server_name: &str,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Arc<JetStream>, StartError> {
        let (temp, base) = match &opts.store_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("natrium-js-")
                    .tempdir()
                    .map_err(|source| StartError::CreateDir {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                let path = temp.path().to_owned();
                (Some(temp), path)
            }
        };
        let root = base.join("jetstream");
        std::fs::create_dir_all(&root).map_err(|source| StartError::CreateDir {
            path: root.clone(),
            source,
        })?;
        let lock = lock_dir(&root)?;
        let (max_memory, max_store) = default_limits(opts, &root);
        tracing::info!("Starting JetStream");
        tracing::info!("  Strict:          {}", opts.strict);
        tracing::info!("  Max Memory:      {}", human_bytes(max_memory));
        tracing::info!("  Max Storage:     {}", human_bytes(max_store));
        tracing::info!("  Store Directory: {:?}", root.display().to_string());
        if opts.store_dir.is_none() {
            tracing::warn!("Temporary storage directory used, data could be lost on system reboot");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let common = Arc::new(Common {
            opts: opts.clone(),
            root,
            server_name: server_name.to_owned(),
            domain: Arc::from(opts.domain.as_deref().unwrap_or_default()),
            max_memory,
            max_store,
            usage: Arc::new(usage::Usage::new(max_memory, max_store)),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            requests: tx,
            tasks: tasks.clone(),
            shutdown: shutdown.clone(),
        });
        let js = Arc::new(JetStream {
            common,
            temp: Mutex::new(temp),
            lock: Mutex::new(Some(lock)),
            accounts: RwLock::new(BTreeMap::new()),
            disabled: Mutex::new(BTreeMap::new()),
        });
        tasks.spawn(api::serve(rx, shutdown.clone()));
        tasks.spawn(housekeeping(js.clone(), shutdown));
        Ok(js)
    }

    /// Gives the account `name` (reached through `port`) JetStream under `limits`, or, with
    /// `None`, the "not enabled" answers. At start and on every reload: an account that
    /// keeps JetStream keeps its streams and takes the new limits; one that loses it stops
    /// its streams (their files stay).
    pub(crate) fn configure_account(
        &self,
        name: &str,
        port: Arc<dyn Port>,
        limits: Option<AccountLimits>,
    ) -> Result<(), StartError> {
        match limits {
            Some(limits) => {
                if let Some(off) = self.disabled.lock().remove(name) {
                    off.unsubscribe();
                }
                if let Some(account) = self.account(name) {
                    account.set_limits(limits);
                    return Ok(());
                }
                let account = JsAccount::start(&self.common, name, port, limits)?;
                self.accounts.write().insert(name.to_owned(), account);
            }
            None => {
                if let Some(account) = self.accounts.write().remove(name) {
                    account.shutdown();
                }
                let mut disabled = self.disabled.lock();
                if !disabled.contains_key(name) {
                    let sink = Arc::new(ApiSink {
                        requests: self.common.requests.clone(),
                        target: ApiTarget::Disabled(Arc::downgrade(&port)),
                        direct: false,
                    });
                    let api_sub = port.subscribe(b"$JS.API.>", None, sink);
                    disabled.insert(name.to_owned(), Disabled { port, api_sub });
                }
            }
        }
        Ok(())
    }

    /// Forgets an account a reload removed.
    pub(crate) fn remove_account(&self, name: &str) {
        if let Some(account) = self.accounts.write().remove(name) {
            account.shutdown();
        }
        if let Some(off) = self.disabled.lock().remove(name) {
            off.unsubscribe();
        }
    }

    /// The JetStream of account `name`, when it has it.
    pub(crate) fn account(&self, name: &str) -> Option<Arc<JsAccount>> {
        self.accounts.read().get(name).cloned()
    }

    /// Whether account `name` has JetStream or its "not enabled" answers (not so an account
    /// that imports another's API).
    pub(crate) fn answers_for(&self, name: &str) -> bool {
        self.accounts.read().contains_key(name) || self.disabled.lock().contains_key(name)
    }

    /// Every account with JetStream, by name.
    pub(crate) fn accounts(&self) -> Vec<Arc<JsAccount>> {
        self.accounts.read().values().cloned().collect()
    }

    /// The account directories in the store directory (`/healthz` walks them as nats-server
    /// does; the lock file is not an account).
    pub(crate) fn account_dirs(&self) -> Vec<String> {
        dir_names(&self.common.root)
    }

    /// Bytes stored in memory and in files, over every account.
    pub(crate) fn usage(&self) -> (u64, u64) {
        self.common.usage.totals()
    }

    /// Stops taking messages and syncs every stream (at server shutdown).
    pub(crate) fn shutdown(&self) {
        for account in self.accounts() {
            account.shutdown();
        }
        for (_, off) in std::mem::take(&mut *self.disabled.lock()) {
            off.unsubscribe();
        }
        // Another server may use the directory from now on.
        self.lock.lock().take();
        if let Some(temp) = self.temp.lock().take()
            && let Err(e) = temp.close()
        {
            tracing::warn!("Could not remove the temporary store directory: {e}");
        }
        tracing::info!("JetStream Shutdown");
    }
}

impl Disabled {
    fn unsubscribe(self) {
        if let Some(sub) = &self.api_sub {
            self.port.unsubscribe(sub);
        }
    }
}

/// Expires messages on every stream each second, and syncs file stores on the interval.
async fn housekeeping(js: Arc<JetStream>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sync_every = match js.common.opts.sync {
        SyncPolicy::Interval(d) => Some(d.max(HOUSEKEEPING_INTERVAL)),
        SyncPolicy::Always => None,
    };
    let mut last_sync = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let sync = sync_every.is_some_and(|every| last_sync.elapsed() >= every);
        if sync {
            last_sync = tokio::time::Instant::now();
        }
        for account in js.accounts() {
            account.housekeeping(sync);
        }
    }
    js.shutdown();
}

/// The names of the directories in `dir`, sorted; none when it can't be read.
fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Locks `<root>/LOCK` so that two servers never share one store directory.
fn lock_dir(root: &Path) -> Result<File, StartError> {
    let path = root.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::CreateDir {
            path: path.clone(),
            source,
        })?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| StartError::Locked {
            path: root.to_owned(),
        },
    )?;
    Ok(file)
}

/// The account limits: as configured, else nats-server's defaults (75% of the machine's
/// memory; 1 TB of storage or 75% of what the store's disk has free, whichever is less).
fn default_limits(opts: &JetStreamOptions, root: &Path) -> (i64, i64) {
    let memory = opts.max_memory.unwrap_or_else(|| {
        let total = rustix::system::sysinfo().totalram as i64;
        total / 4 * 3
    });
    let store = opts.max_store.unwrap_or_else(|| {
        const ONE_TB: i64 = 1 << 40;
        match rustix::fs::statvfs(root) {
            Ok(st) => {
                let free = (st.f_bavail as i64).saturating_mul(st.f_frsize as i64);
                (free / 4 * 3).min(ONE_TB)
            }
            Err(_) => ONE_TB,
        }
    });
    (memory, store)
}

/// Bytes as nats-server logs them: `17.66 GB`.
fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// What monitoring (`/jsz`, `/varz`, `/metrics`) shows of JetStream.
pub(crate) struct Snapshot {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub max_memory: i64,
    pub max_store: i64,
    pub store_dir: PathBuf,
    pub sync: SyncPolicy,
    pub strict: bool,
    /// The JetStream domain, empty for none.
    pub domain: String,
    /// The accounts with JetStream, by name.
    pub accounts: Vec<AccountSnapshot>,
}

/// One account's JetStream, for monitoring.
pub(crate) struct AccountSnapshot {
    pub name: String,
    pub memory: u64,
    pub storage: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub streams: Vec<StreamSnapshot>,
}

/// One stream, for monitoring.
pub(crate) struct StreamSnapshot {
    pub name: String,
    pub created: Timestamp,
    pub state: types::StreamState,
}

impl Snapshot {
    /// Every stream of every account.
    pub(crate) fn streams(&self) -> impl Iterator<Item = &StreamSnapshot> {
        self.accounts.iter().flat_map(|a| a.streams.iter())
    }
}

impl JetStream {
    /// A consistent-enough picture for monitoring: each stream's state is read once.
    pub(crate) fn snapshot(&self) -> Snapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let mut reserved = (0u64, 0u64);
        let accounts = self
            .accounts()
            .iter()
            .map(|a| {
                let (memory, storage) = a.usage();
                let (memory_reserved, storage_reserved) = a.reserved();
                reserved.0 = reserved.0.saturating_add(memory_reserved);
                reserved.1 = reserved.1.saturating_add(storage_reserved);
                AccountSnapshot {
                    name: a.name().to_owned(),
                    memory,
                    storage,
                    api_total: a.api_total.load(Relaxed),
                    api_errors: a.api_errors.load(Relaxed),
                    streams: a.stream_snapshots(),
                }
            })
            .collect();
        let (memory, storage) = self.usage();
        let c = &self.common;
        Snapshot {
            memory,
            storage,
            reserved_memory: reserved.0,
            reserved_storage: reserved.1,
            api_total: c.api_total.load(Relaxed),
            api_errors: c.api_errors.load(Relaxed),
            max_memory: c.max_memory,
            max_store: c.max_store,
            store_dir: c.root.clone(),
            sync: c.opts.sync,
            strict: c.opts.strict,
            domain: c.domain.to_string(),
            accounts,
        }
    }

    /// The server name streams report as their leader.
    pub(crate) fn server_name(&self) -> &str {
        &self.common.server_name
    }
}
