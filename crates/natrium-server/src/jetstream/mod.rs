//! JetStream: streams that keep messages and consumers that hand them out at least once,
//! for one server and its global account.
//!
//! Rooms: `api` routes `$JS.API.>` requests (streams there, consumers in `consumer_api`),
//! `stream` is one stream and its publish path, `consumer` one consumer's delivery, acks and
//! redelivery (`ack` reads the `$JS.ACK` protocol), `headers` the JetStream headers of a
//! published message; `types`/`consumer_types`/`errors` are the API's JSON shapes and error
//! catalogue, `stream_config`/`consumer_config` the rules configurations must follow,
//! `go_time` Go's time text. The message store itself is the `natrium-store` crate.
//!
//! On disk, as nats-server: `<store_dir>/jetstream/$G/streams/<name>/` holds `meta.json`
//! (the configuration and creation time), `msgs/` (the file store) and `obs/<consumer>/`
//! (each consumer's `meta.json` and `state.log`). Memory streams are not kept across
//! restarts.

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
mod go_time;
mod headers;
mod stream;
pub(crate) mod stream_config;
pub(crate) mod types;
mod usage;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::internal::{AfterBatch, InMsg, InternalSub, Port, Sink};
use crate::options::{JetStreamOptions, SyncPolicy};
pub use domain::DomainError;
pub(crate) use domain::{
    api_prefix as domain_api_prefix, map_api as map_domain_api, validate as validate_domain,
};
use stream::Stream;
use types::{StorageType, StreamConfig, Timestamp};

/// The global account's name, whose directory holds its streams.
const GLOBAL_ACCOUNT: &str = "$G";
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

/// A JetStream API request waiting for the API task.
struct ApiRequest {
    subject: Vec<u8>,
    reply: Option<Vec<u8>>,
    payload: Vec<u8>,
}

/// Hands API requests to the API task. The `$JS.API.>` subscriber leaves `DIRECT.GET`
/// alone: only streams with `allow_direct` answer those (elsewhere the requester gets no
/// responders, as from nats-server).
struct ApiSink {
    requests: mpsc::UnboundedSender<ApiRequest>,
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
                subject: msg.subject.to_vec(),
                reply: msg.reply.map(<[u8]>::to_vec),
                payload: msg.payload.to_vec(),
            })
            .is_ok()
    }
}

/// JetStream of one server.
pub(crate) struct JetStream {
    opts: JetStreamOptions,
    /// `<store_dir>/jetstream`.
    root: PathBuf,
    /// The temporary store directory, removed at shutdown.
    temp: Mutex<Option<tempfile::TempDir>>,
    /// Held (with an exclusive lock on it) until shutdown.
    lock: Mutex<Option<File>>,
    port: Arc<dyn Port>,
    /// The subscriber a stream with `allow_direct` puts on its `DIRECT.GET` subjects.
    direct: Arc<dyn Sink>,
    server_name: String,
    /// The JetStream domain, empty for none.
    domain: Arc<str>,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    api_sub: Mutex<Option<InternalSub>>,
    api_total: AtomicU64,
    api_errors: AtomicU64,
    max_memory: i64,
    max_store: i64,
    /// Bytes stored over every stream, checked on every publish against the limits above.
    usage: Arc<usage::Usage>,
    /// Consumers' delivery tasks run here, and stop with it.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStream")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl JetStream {
    /// Opens the store directory, recovers the streams in it and starts answering the API.
    pub(crate) fn start(
        opts: &JetStreamOptions,
        port: Arc<dyn Port>,
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
        let create = |path: &Path| {
            std::fs::create_dir_all(path).map_err(|source| StartError::CreateDir {
                path: path.to_owned(),
                source,
            })
        };
        create(&root)?;
        let lock = lock_dir(&root)?;
        // The account's directory appears with its first file stream, as in nats-server
        // (`/healthz?account=` tells whether it is there).
        let streams_dir = root.join(GLOBAL_ACCOUNT).join("streams");
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
        let js = Arc::new(JetStream {
            opts: opts.clone(),
            root,
            temp: Mutex::new(temp),
            lock: Mutex::new(Some(lock)),
            port: port.clone(),
            direct: Arc::new(ApiSink {
                requests: tx.clone(),
                direct: true,
            }),
            server_name: server_name.to_owned(),
            domain: Arc::from(opts.domain.as_deref().unwrap_or_default()),
            streams: RwLock::new(BTreeMap::new()),
            api_sub: Mutex::new(None),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            max_memory,
            max_store,
            usage: Arc::new(usage::Usage::new(max_memory, max_store)),
            tasks: tasks.clone(),
            shutdown: shutdown.clone(),
        });
        js.recover(&streams_dir)?;
        let api = port.subscribe(
            b"$JS.API.>",
            None,
            Arc::new(ApiSink {
                requests: tx,
                direct: false,
            }),
        );
        *js.api_sub.lock() = api;
        tasks.spawn(api::serve(js.clone(), rx, shutdown.clone()));
        tasks.spawn(housekeeping(js.clone(), shutdown));
        Ok(js)
    }

    /// Re-opens every file-backed stream found on disk.
    fn recover(&self, streams_dir: &Path) -> Result<(), StartError> {
        let entries = match std::fs::read_dir(streams_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StartError::CreateDir {
                    path: streams_dir.to_owned(),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let recover_err = |reason: String| StartError::Recover {
                name: name.clone(),
                path: dir.clone(),
                reason,
            };
            let started = std::time::Instant::now();
            let meta_path = dir.join("meta.json");
            let meta: StreamMeta = match std::fs::read(&meta_path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| recover_err(format!("{}: {e}", meta_path.display())))?,
                // A directory without metadata is a stream whose creation did not finish.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(
                        "Skipping stream directory without metadata: {}",
                        dir.display()
                    );
                    continue;
                }
                Err(e) => return Err(recover_err(format!("{}: {e}", meta_path.display()))),
            };
            let store = self
                .open_store(&meta.config, Some(&dir))
                .map_err(|e| recover_err(e.to_string()))?;
            let stream = Stream::new(
                meta.config,
                meta.created,
                Some(dir.clone()),
                store,
                self.port.as_ref(),
                &self.direct,
                stream::Env {
                    usage: self.usage.clone(),
                    domain: self.domain.clone(),
                },
            )
            .map_err(|e| recover_err(e.description.clone()))?;
            let consumers = self.recover_consumers(&stream).map_err(recover_err)?;
            let state = stream.state();
            tracing::info!(
                "  Restored {} messages for stream '{GLOBAL_ACCOUNT} > {}' in {:?}",
                state.messages,
                stream.name(),
                started.elapsed()
            );
            if consumers > 0 {
                tracing::info!(
                    "  Restored {consumers} consumers for stream '{GLOBAL_ACCOUNT} > {}'",
                    stream.name()
                );
            }
            self.streams
                .write()
                .insert(stream.name().to_owned(), stream);
        }
        Ok(())
    }

    /// Opens (or creates) the store a stream configuration asks for.
    fn open_store(
        &self,
        config: &StreamConfig,
        dir: Option<&Path>,
    ) -> Result<Box<dyn natrium_store::MessageStore>, natrium_store::StoreError> {
        let limits = stream::store_limits(config);
        match (config.storage, dir) {
            (StorageType::File, Some(dir)) => {
                let sync = match self.opts.sync {
                    SyncPolicy::Always => natrium_store::SyncPolicy::Always,
                    SyncPolicy::Interval(d) => natrium_store::SyncPolicy::Interval(d),
                };
                let cfg = natrium_store::FileStoreConfig {
                    sync,
                    ..natrium_store::FileStoreConfig::default()
                };
                Ok(Box::new(natrium_store::FileStore::open(
                    &dir.join("msgs"),
                    cfg,
                    limits,
                )?))
            }
            _ => Ok(Box::new(natrium_store::MemoryStore::new(limits))),
        }
    }

    /// The directory a stream's files go in.
    fn stream_dir(&self, name: &str) -> PathBuf {
        self.root.join(GLOBAL_ACCOUNT).join("streams").join(name)
    }

    /// The account whose streams this JetStream keeps.
    pub(crate) fn account_name(&self) -> &'static str {
        GLOBAL_ACCOUNT
    }

    /// The account directories in the store directory (`/healthz` walks them as nats-server
    /// does; the lock file is not an account).
    pub(crate) fn account_dirs(&self) -> Vec<String> {
        dir_names(&self.root)
    }

    /// The stream directories of the account (file streams, recovered or not).
    pub(crate) fn stream_dirs(&self) -> Vec<String> {
        dir_names(&self.root.join(GLOBAL_ACCOUNT).join("streams"))
    }

    pub(crate) fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    /// Bytes stored in memory and in files, over every stream.
    pub(crate) fn usage(&self) -> (u64, u64) {
        self.usage.totals()
    }

    /// Stops taking messages and syncs every stream (at server shutdown).
    pub(crate) fn shutdown(&self) {
        if let Some(sub) = self.api_sub.lock().take() {
            self.port.unsubscribe(&sub);
        }
        for s in self.streams.read().values() {
            s.unsubscribe(self.port.as_ref());
            s.stop_consumers();
            s.close();
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

/// Expires messages on every stream each second, and syncs file stores on the interval.
async fn housekeeping(js: Arc<JetStream>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sync_every = match js.opts.sync {
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
        let streams: Vec<Arc<Stream>> = js.streams.read().values().cloned().collect();
        for s in streams {
            s.housekeeping(sync);
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
    pub api_total: u64,
    pub api_errors: u64,
    pub max_memory: i64,
    pub max_store: i64,
    pub store_dir: PathBuf,
    pub sync: SyncPolicy,
    pub strict: bool,
    /// The JetStream domain, empty for none.
    pub domain: String,
    pub streams: Vec<StreamSnapshot>,
}

/// One stream, for monitoring.
pub(crate) struct StreamSnapshot {
    pub name: String,
    pub created: Timestamp,
    pub state: types::StreamState,
}

impl JetStream {
    /// A consistent-enough picture for monitoring: each stream's state is read once.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let streams: Vec<StreamSnapshot> = self
            .streams
            .read()
            .values()
            .map(|s| StreamSnapshot {
                name: s.name().to_owned(),
                created: s.created(),
                state: s.state(),
            })
            .collect();
        let (memory, storage) = self.usage();
        Snapshot {
            memory,
            storage,
            api_total: self.api_total.load(std::sync::atomic::Ordering::Relaxed),
            api_errors: self.api_errors.load(std::sync::atomic::Ordering::Relaxed),
            max_memory: self.max_memory,
            max_store: self.max_store,
            store_dir: self.root.clone(),
            sync: self.opts.sync,
            strict: self.opts.strict,
            domain: self.domain.to_string(),
            streams,
        }
    }

    /// The JetStream domain, empty for none.
    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }

    /// The server name streams report as their leader.
    pub(crate) fn server_name(&self) -> &str {
        &self.server_name
    }
}
