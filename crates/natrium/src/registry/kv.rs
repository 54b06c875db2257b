//! [`KvRegistry`]: the registry on a NATS JetStream Key-Value bucket.
//!
//! Each instance is one key, `<service>.<instance id>`, whose value is the instance's JSON.
//! The bucket's `max_age` is the TTL: a registered instance re-puts its key every TTL/3, so
//! a process that dies without deregistering (SIGKILL) disappears within the TTL. The bucket
//! has limit markers on, so the expiry writes a marker that watchers see as a removal.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use super::{Discovery, InstanceStream, Registrar, RegistryError, ServiceInstance};
use crate::error::BoxError;

/// The bucket [`KvRegistry`] uses unless told otherwise.
pub const DEFAULT_BUCKET: &str = "natrium_registry";
/// The TTL of a registration unless told otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// The registry on a NATS Key-Value bucket: one key `<service>.<instance id>` per instance,
/// refreshed every TTL/3, expiring after the TTL (see the [`registry`](super) module). Works on nats-server 2.11+
/// and natrium-server. Clones share the keep-alive tasks.
///
/// The bucket is created on first use (file storage, one replica, history 1, `max_age` =
/// TTL). If it already exists, its own `max_age` is the TTL.
#[derive(Clone)]
pub struct KvRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    js: jetstream::Context,
    bucket: String,
    ttl: Duration,
    store: OnceCell<(kv::Store, Duration)>,
    alive: Mutex<HashMap<String, KeepAlive>>,
}

struct KeepAlive {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for KvRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvRegistry")
            .field("bucket", &self.inner.bucket)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for (_, alive) in self.alive.get_mut().drain() {
            alive.stop.cancel();
            alive.task.abort();
        }
    }
}

impl KvRegistry {
    /// A registry in bucket [`DEFAULT_BUCKET`] with TTL [`DEFAULT_TTL`] on `client`'s
    /// connection.
    pub fn new(client: async_nats::Client) -> Self {
        Self::with_options(client, DEFAULT_BUCKET, DEFAULT_TTL)
    }

    /// A registry in `bucket` whose registrations expire `ttl` after their last refresh
    /// (at least one second: the bucket's expiry markers need it).
    pub fn with_options(
        client: async_nats::Client,
        bucket: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        KvRegistry {
            inner: Arc::new(Inner {
                js: jetstream::new(client),
                bucket: bucket.into(),
                ttl,
                store: OnceCell::new(),
                alive: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A registry on the connection of a [`NatsBroker`](crate::NatsBroker).
    pub fn from_broker(broker: &crate::NatsBroker) -> Self {
        Self::new(broker.client().clone())
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    fn name(&self) -> String {
        format!("NATS KV bucket {}", self.inner.bucket)
    }

    fn backend(&self, op: impl Into<String>, source: impl Into<BoxError>) -> RegistryError {
        RegistryError::Backend {
            op: op.into(),
            registry: self.name(),
            source: source.into(),
        }
    }

    /// The bucket and its TTL, created on first use.
    async fn store(&self) -> Result<&(kv::Store, Duration), RegistryError> {
        self.inner
            .store
            .get_or_try_init(|| async {
                if self.inner.ttl < Duration::from_secs(1) {
                    return Err(RegistryError::Invalid {
                        what: "registry TTL",
                        value: format!("{:?}", self.inner.ttl),
                        reason: "must be at least 1s",
                    });
                }
                let js = &self.inner.js;
                let store = match js.get_key_value(&self.inner.bucket).await {
                    Ok(store) => store,
                    Err(_) => match js.create_key_value(self.config()).await {
                        Ok(store) => store,
                        // Created meanwhile by another process?
                        Err(err) => js
                            .get_key_value(&self.inner.bucket)
                            .await
                            .map_err(|_| self.backend("create bucket", err))?,
                    },
                };
                let ttl = store
                    .status()
                    .await
                    .map_err(|e| self.backend("read bucket status", e))?
                    .max_age();
                let ttl = if ttl.is_zero() { self.inner.ttl } else { ttl };
                tracing::debug!(bucket = %self.inner.bucket, ?ttl, "registry bucket ready");
                Ok((store, ttl))
            })
            .await
    }

    fn config(&self) -> kv::Config {
        kv::Config {
            bucket: self.inner.bucket.clone(),
            description: "natrium service registry".into(),
            history: 1,
            max_age: self.inner.ttl,
            storage: jetstream::stream::StorageType::File,
            num_replicas: 1,
            limit_markers: Some(self.inner.ttl),
            ..Default::default()
        }
    }

    /// Every registered instance of every service, sorted by service then id.
    pub async fn all_instances(&self) -> Result<Vec<ServiceInstance>, RegistryError> {
        self.list(None).await
    }

    /// Like [`Discovery::watch`] over every service: the full list now and after each
    /// change, sorted by service then id.
    pub async fn watch_all(&self) -> Result<InstanceStream, RegistryError> {
        self.watch_filter(None).await
    }

    async fn list(&self, service: Option<&str>) -> Result<Vec<ServiceInstance>, RegistryError> {
        let (store, _) = self.store().await?;
        let op = || format!("list {}", service.unwrap_or("all services"));
        let keys: Vec<String> = store
            .keys()
            .await
            .map_err(|e| self.backend(op(), e))?
            .try_collect()
            .await
            .map_err(|e| self.backend(op(), e))?;
        let mut found = BTreeMap::new();
        for key in keys {
            if let Some(service) = service
                && !key_in_service(&key, service)
            {
                continue;
            }
            // Expired or deleted between listing and reading: skip.
            if let Some(value) = store.get(&key).await.map_err(|e| self.backend(op(), e))? {
                let instance = self.decode(&key, &value)?;
                found.insert(key, instance);
            }
        }
        Ok(found.into_values().collect())
    }

    async fn watch_filter(&self, service: Option<&str>) -> Result<InstanceStream, RegistryError> {
        let (store, _) = self.store().await?;
        let filter = match service {
            Some(service) => {
                super::validate_segment("service name", service)?;
                format!("{service}.>")
            }
            None => ">".to_owned(),
        };
        let op = format!("watch {filter}");
        // Watch first, then list: a change between the two is in both, never in neither.
        let watch = store
            .watch(&filter)
            .await
            .map_err(|e| self.backend(op.clone(), e))?;
        let current: BTreeMap<String, ServiceInstance> = self
            .list(service)
            .await?
            .into_iter()
            .map(|i| (format!("{}.{}", i.name, i.id), i))
            .collect();
        let first = current.values().cloned().collect::<Vec<_>>();
        let registry = self.clone();
        let changes = futures::stream::unfold(
            (watch, current, first.clone(), registry, op),
            |(mut watch, mut current, mut last, registry, op)| async move {
                loop {
                    let entry = match watch.next().await? {
                        Ok(entry) => entry,
                        Err(e) => {
                            let err = registry.backend(op.clone(), e);
                            return Some((Err(err), (watch, current, last, registry, op)));
                        }
                    };
                    match entry.operation {
                        kv::Operation::Put => match registry.decode(&entry.key, &entry.value) {
                            Ok(instance) => {
                                current.insert(entry.key, instance);
                            }
                            Err(err) => {
                                return Some((Err(err), (watch, current, last, registry, op)));
                            }
                        },
                        kv::Operation::Delete | kv::Operation::Purge => {
                            current.remove(&entry.key);
                        }
                    }
                    // Keep-alive refreshes change nothing: yield only real changes.
                    let now: Vec<_> = current.values().cloned().collect();
                    if now != last {
                        last = now.clone();
                        return Some((Ok(now), (watch, current, last, registry, op)));
                    }
                }
            },
        );
        Ok(futures::stream::once(async move { Ok(first) })
            .chain(changes)
            .boxed())
    }

    fn decode(&self, key: &str, value: &[u8]) -> Result<ServiceInstance, RegistryError> {
        serde_json::from_slice(value).map_err(|source| RegistryError::Decode {
            key: key.to_owned(),
            registry: self.name(),
            source,
        })
    }
}

fn key_in_service(key: &str, service: &str) -> bool {
    key.strip_prefix(service)
        .is_some_and(|rest| rest.starts_with('.'))
}

fn key_of(instance: &ServiceInstance) -> String {
    format!("{}.{}", instance.name, instance.id)
}

#[async_trait]
impl Registrar for KvRegistry {
    async fn register(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        instance.validate()?;
        let (store, ttl) = self.store().await?;
        let key = key_of(instance);
        let value = Bytes::from(serde_json::to_vec(instance).expect("instance JSON"));
        let op = || format!("register {}/{}", instance.name, instance.id);
        let revision = match store.create(&key, value.clone()).await {
            Ok(revision) => revision,
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                // Ours already (registered again by this process) is fine; anyone else's is not.
                match store.entry(&key).await.map_err(|e| self.backend(op(), e))? {
                    Some(entry) if entry.value == value => entry.revision,
                    _ => {
                        return Err(RegistryError::Duplicate {
                            registry: self.name(),
                            service: instance.name.clone(),
                            id: instance.id.clone(),
                        });
                    }
                }
            }
            Err(err) => return Err(self.backend(op(), err)),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(keep_alive(
            Refresh {
                js: self.inner.js.clone(),
                config: self.config(),
                store: store.clone(),
                key: key.clone(),
                value,
            },
            revision,
            *ttl / 3,
            stop.clone(),
        ));
        if let Some(old) = self
            .inner
            .alive
            .lock()
            .insert(key, KeepAlive { stop, task })
        {
            old.stop.cancel();
        }
        tracing::info!(service = %instance.name, id = %instance.id, bucket = %self.inner.bucket, ?ttl, "registered");
        Ok(())
    }

    async fn deregister(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        let key = key_of(instance);
        let alive = self.inner.alive.lock().remove(&key);
        if let Some(alive) = alive {
            alive.stop.cancel();
            let _ = alive.task.await;
        }
        let (store, _) = self.store().await?;
        store.delete(&key).await.map_err(|e| {
            self.backend(format!("deregister {}/{}", instance.name, instance.id), e)
        })?;
        tracing::info!(service = %instance.name, id = %instance.id, bucket = %self.inner.bucket, "deregistered");
        Ok(())
    }
}

/// What a keep-alive task refreshes: one key of one bucket.
struct Refresh {
    js: jetstream::Context,
    config: kv::Config,
    store: kv::Store,
    key: String,
    value: Bytes,
}

/// Re-puts the key every `every`; restores it when lost (expired while the registry was
/// unreachable, purged, or the registry restarted without its store).
async fn keep_alive(refresh: Refresh, mut revision: u64, every: Duration, stop: CancellationToken) {
    let key = &refresh.key;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let updated = refresh
            .store
            .update(key, refresh.value.clone(), revision)
            .await;
        let refreshed = match updated {
            Ok(rev) => Ok(rev),
            Err(err) => {
                tracing::debug!(key = %key, error = %err, "refresh failed; checking the entry");
                refresh.restore().await
            }
        };
        match refreshed {
            Ok(rev) => {
                if failing {
                    tracing::info!(key = %key, "registration refreshed again");
                }
                failing = false;
                revision = rev;
            }
            Err(err) => {
                failing = true;
                tracing::warn!(key = %key, error = %err, retry_in = ?every, "cannot refresh registration; retrying");
            }
        }
    }
}

impl Refresh {
    /// The key is not at our revision: adopt it if it still holds our value, recreate it
    /// (and the bucket) if it is gone, and never overwrite another instance's entry.
    async fn restore(&self) -> Result<u64, String> {
        let (store, key) = (&self.store, &self.key);
        let entry = match store.entry(key).await {
            Ok(entry) => entry,
            // The bucket itself is gone (registry restarted without its store)?
            Err(_) => {
                self.js
                    .create_key_value(self.config.clone())
                    .await
                    .map_err(|e| format!("cannot recreate the bucket: {e}"))?;
                None
            }
        };
        match entry {
            Some(entry) if entry.operation == kv::Operation::Put => {
                if entry.value == self.value {
                    Ok(entry.revision)
                } else {
                    Err("another instance registered the same service name and id".into())
                }
            }
            _ => {
                let rev = store
                    .create(key, self.value.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::warn!(key = %key, "registration was lost; registered again");
                Ok(rev)
            }
        }
    }
}

#[async_trait]
impl Discovery for KvRegistry {
    async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>, RegistryError> {
        super::validate_segment("service name", service)?;
        self.list(Some(service)).await
    }

    async fn watch(&self, service: &str) -> Result<InstanceStream, RegistryError> {
        self.watch_filter(Some(service)).await
    }
}
