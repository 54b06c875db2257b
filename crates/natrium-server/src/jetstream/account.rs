//! One account's JetStream: its streams, its API subscription and its limits. Every
//! account with JetStream enabled has one; streams of two accounts never meet (each
//! account's subscriptions live in its own subject index, reached through its own port).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::{Mutex, RwLock};

use super::stream::Stream;
use super::types::{AccountLimits, StorageType, StreamConfig};
use super::usage::Usage;
use super::{ApiSink, ApiTarget, Common, StartError, StreamMeta, StreamSnapshot};
use crate::internal::{InternalSub, Port, Sink};
use crate::options::SyncPolicy;

/// JetStream in one account.
pub(crate) struct JsAccount {
    pub(super) name: Arc<str>,
    pub(super) common: Arc<Common>,
    /// Subscribes and publishes in this account's subject index.
    pub(super) port: Arc<dyn Port>,
    /// The subscriber a stream with `allow_direct` puts on its `DIRECT.GET` subjects.
    pub(super) direct: Arc<dyn Sink>,
    pub(super) streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    api_sub: Mutex<Option<InternalSub>>,
    pub(super) api_total: AtomicU64,
    pub(super) api_errors: AtomicU64,
    limits: RwLock<AccountLimits>,
    /// Bytes stored over the account's streams (added to the server's).
    pub(super) usage: Arc<Usage>,
}

impl std::fmt::Debug for JsAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsAccount")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl JsAccount {
    /// JetStream for the account `name` (whose subject index `port` reaches): recovers its
    /// streams from disk and starts taking its API requests.
    pub(super) fn start(
        common: &Arc<Common>,
        name: &str,
        port: Arc<dyn Port>,
        limits: AccountLimits,
    ) -> Result<Arc<JsAccount>, StartError> {
        let account = Arc::new_cyclic(|me: &std::sync::Weak<JsAccount>| JsAccount {
            name: Arc::from(name),
            common: common.clone(),
            direct: Arc::new(ApiSink {
                requests: common.requests.clone(),
                target: ApiTarget::Enabled(me.clone()),
                direct: true,
            }),
            port: port.clone(),
            streams: RwLock::new(BTreeMap::new()),
            api_sub: Mutex::new(None),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            usage: Arc::new(Usage::account(
                common.usage.clone(),
                limits.max_memory,
                limits.max_storage,
            )),
            limits: RwLock::new(limits),
        });
        account.recover()?;
        let api = port.subscribe(
            b"$JS.API.>",
            None,
            Arc::new(ApiSink {
                requests: common.requests.clone(),
                target: ApiTarget::Enabled(Arc::downgrade(&account)),
                direct: false,
            }),
        );
        *account.api_sub.lock() = api;
        Ok(account)
    }

    /// The account's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The account's JetStream limits.
    pub(crate) fn limits(&self) -> AccountLimits {
        self.limits.read().clone()
    }

    /// New limits (a reload): they apply to the next stream, consumer and message.
    pub(super) fn set_limits(&self, limits: AccountLimits) {
        self.usage.set_limits(limits.max_memory, limits.max_storage);
        *self.limits.write() = limits;
    }

    /// `<store_dir>/jetstream/<account>/streams`.
    fn streams_dir(&self) -> PathBuf {
        self.common.root.join(&*self.name).join("streams")
    }

    /// The directory a stream's files go in.
    pub(super) fn stream_dir(&self, name: &str) -> PathBuf {
        self.streams_dir().join(name)
    }

    /// The stream directories of the account (file streams, recovered or not).
    pub(crate) fn stream_dirs(&self) -> Vec<String> {
        super::dir_names(&self.streams_dir())
    }

    pub(crate) fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    /// Bytes stored in memory and in files, over the account's streams.
    pub(crate) fn usage(&self) -> (u64, u64) {
        self.usage.totals()
    }

    /// Bytes the account's streams reserve with `max_bytes`, in memory and in files.
    pub(super) fn reserved(&self) -> (u64, u64) {
        let mut reserved = (0u64, 0u64);
        for s in self.streams.read().values() {
            let config = s.config();
            let Ok(bytes) = u64::try_from(config.max_bytes) else {
                continue;
            };
            match config.storage {
                StorageType::Memory => reserved.0 = reserved.0.saturating_add(bytes),
                StorageType::File => reserved.1 = reserved.1.saturating_add(bytes),
            }
        }
        reserved
    }

    /// The account's streams, for monitoring: each stream's state is read once.
    pub(super) fn stream_snapshots(&self) -> Vec<StreamSnapshot> {
        self.streams
            .read()
            .values()
            .map(|s| StreamSnapshot {
                name: s.name().to_owned(),
                created: s.created(),
                state: s.state(),
            })
            .collect()
    }

    /// The JetStream domain, empty for none.
    pub(crate) fn domain(&self) -> &str {
        &self.common.domain
    }

    /// Re-opens every file-backed stream of the account found on disk.
    fn recover(&self) -> Result<(), StartError> {
        let streams_dir = self.streams_dir();
        let entries = match std::fs::read_dir(&streams_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StartError::CreateDir {
                    path: streams_dir,
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
                self.stream_env(),
            )
            .map_err(|e| recover_err(e.description.clone()))?;
            let consumers = self.recover_consumers(&stream).map_err(recover_err)?;
            let state = stream.state();
            tracing::info!(
                "  Restored {} messages for stream '{} > {}' in {:?}",
                state.messages,
                self.name,
                stream.name(),
                started.elapsed()
            );
            if consumers > 0 {
                tracing::info!(
                    "  Restored {consumers} consumers for stream '{} > {}'",
                    self.name,
                    stream.name()
                );
            }
            self.streams
                .write()
                .insert(stream.name().to_owned(), stream);
        }
        Ok(())
    }

    /// What the account's streams share.
    pub(super) fn stream_env(&self) -> super::stream::Env {
        super::stream::Env {
            usage: self.usage.clone(),
            domain: self.common.domain.clone(),
        }
    }

    /// Opens (or creates) the store a stream configuration asks for.
    pub(super) fn open_store(
        &self,
        config: &StreamConfig,
        dir: Option<&Path>,
    ) -> Result<Box<dyn natrium_store::MessageStore>, natrium_store::StoreError> {
        let limits = super::stream::store_limits(config);
        match (config.storage, dir) {
            (StorageType::File, Some(dir)) => {
                let sync = match self.common.opts.sync {
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

    /// Expires old messages of every stream (and syncs file stores when `sync`).
    pub(super) fn housekeeping(&self, sync: bool) {
        let streams: Vec<Arc<Stream>> = self.streams.read().values().cloned().collect();
        for s in streams {
            s.housekeeping(sync);
        }
    }

    /// Stops taking messages and API requests, and syncs every stream (at server shutdown,
    /// or when a reload takes JetStream away from the account).
    pub(super) fn shutdown(&self) {
        if let Some(sub) = self.api_sub.lock().take() {
            self.port.unsubscribe(&sub);
        }
        for s in self.streams.read().values() {
            s.unsubscribe(self.port.as_ref());
            s.stop_consumers();
            s.close();
        }
    }
}
