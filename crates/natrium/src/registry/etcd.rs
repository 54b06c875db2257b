//! [`EtcdRegistry`]: the registry on etcd, as Kratos's etcd registry lays it out.
//!
//! Each instance is one key, `/microservices/<service>/<instance id>`, whose value is the
//! instance's JSON, attached to a lease of the TTL. A task keeps the lease alive (every
//! TTL/3); when the lease is lost (etcd restarted without its data, a long partition) it
//! registers again under a new lease. A process that dies without deregistering disappears
//! when its lease expires. A watch that breaks (etcd restarted) yields the error and
//! watches again, so a [`Resolver`](super::Resolver) keeps following.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    TxnOpResponse, WatchOptions,
};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Discovery, InstanceStream, Registrar, RegistryError, ServiceInstance};
use crate::error::BoxError;

/// The key prefix under which instances are registered (Kratos's default namespace).
pub const ETCD_NAMESPACE: &str = "/microservices";

/// The registry on etcd, laid out as Kratos's etcd registry: each instance is the key
/// `/microservices/<service>/<instance id>` holding its JSON under a lease of the TTL,
/// kept alive every TTL/3 and registered again under a new lease when lost. A process that
/// dies without deregistering disappears when its lease expires. Clones share the
/// keep-alive tasks; dropping the last clone stops them (without deregistering).
#[derive(Clone)]
pub struct EtcdRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    endpoints: String,
    ttl: Duration,
    alive: Mutex<HashMap<String, KeepAlive>>,
}

struct KeepAlive {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for (_, alive) in self.alive.get_mut().drain() {
            alive.stop.cancel();
            alive.task.abort();
        }
    }
}

impl std::fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistry")
            .field("endpoints", &self.inner.endpoints)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

/// The key of one instance.
fn key_of(instance: &ServiceInstance) -> String {
    format!("{ETCD_NAMESPACE}/{}/{}", instance.name, instance.id)
}

/// The key prefix of one service's instances, or of every service's.
fn prefix_of(service: Option<&str>) -> Result<String, RegistryError> {
    match service {
        Some(service) => {
            super::validate_segment("service name", service)?;
            Ok(format!("{ETCD_NAMESPACE}/{service}/"))
        }
        None => Ok(format!("{ETCD_NAMESPACE}/")),
    }
}

impl EtcdRegistry {
    /// A registry on the etcd cluster at `endpoints` (`http://127.0.0.1:2379`) whose leases
    /// last `ttl` (whole seconds, at least one). Connecting is lazy: an unreachable etcd
    /// shows as an error of the first operation (within 5 s).
    pub async fn connect<S: AsRef<str>>(
        endpoints: &[S],
        ttl: Duration,
    ) -> Result<Self, RegistryError> {
        let names = endpoints
            .iter()
            .map(|e| e.as_ref())
            .collect::<Vec<_>>()
            .join(",");
        if endpoints.is_empty() {
            return Err(RegistryError::Invalid {
                what: "etcd endpoints",
                value: String::new(),
                reason: "at least one is needed",
            });
        }
        if ttl < Duration::from_secs(1) {
            return Err(RegistryError::Invalid {
                what: "registry TTL",
                value: format!("{ttl:?}"),
                reason: "must be at least 1s",
            });
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5));
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|e| RegistryError::Backend {
                op: "connect".into(),
                registry: format!("etcd {names}"),
                source: e.into(),
            })?;
        Ok(EtcdRegistry {
            inner: Arc::new(Inner {
                client,
                endpoints: names,
                ttl,
                alive: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn name(&self) -> String {
        format!("etcd {}", self.inner.endpoints)
    }

    fn backend(&self, op: impl Into<String>, source: impl Into<BoxError>) -> RegistryError {
        RegistryError::Backend {
            op: op.into(),
            registry: self.name(),
            source: source.into(),
        }
    }

    /// Puts `value` at `key` under a new lease unless another instance holds the key.
    async fn put_leased(
        &self,
        instance: &ServiceInstance,
        value: &str,
    ) -> Result<i64, RegistryError> {
        let key = key_of(instance);
        let op = || format!("register {}/{}", instance.name, instance.id);
        let mut client = self.inner.client.clone();
        let ttl = self.inner.ttl.as_secs().max(1) as i64;
        let lease = client
            .lease_grant(ttl, None)
            .await
            .map_err(|e| self.backend(op(), e))?
            .id();
        let put = || {
            TxnOp::put(
                key.clone(),
                value,
                Some(PutOptions::new().with_lease(lease)),
            )
        };
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([put()])
            .or_else([TxnOp::get(key.clone(), None)]);
        let response = client.txn(txn).await.map_err(|e| self.backend(op(), e))?;
        if response.succeeded() {
            return Ok(lease);
        }
        // The key exists: ours from before (same value) is taken over, anyone else's is not.
        let existing = response.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.value().to_vec()),
            _ => None,
        });
        if existing.as_deref() == Some(value.as_bytes()) {
            client
                .put(key, value, Some(PutOptions::new().with_lease(lease)))
                .await
                .map_err(|e| self.backend(op(), e))?;
            return Ok(lease);
        }
        let _ = client.lease_revoke(lease).await;
        Err(RegistryError::Duplicate {
            registry: self.name(),
            service: instance.name.clone(),
            id: instance.id.clone(),
        })
    }

    /// Every registered instance of every service, sorted by service then id.
    pub async fn all_instances(&self) -> Result<Vec<ServiceInstance>, RegistryError> {
        Ok(self.list(None).await?.0.into_values().collect())
    }

    /// Like [`Discovery::watch`] over every service: the full list now and after each
    /// change, sorted by service then id.
    pub async fn watch_all(&self) -> Result<InstanceStream, RegistryError> {
        self.watch_prefix(None).await
    }

    /// The instances under the prefix of `service` (all services if `None`), by key, and
    /// the revision they were read at.
    async fn list(
        &self,
        service: Option<&str>,
    ) -> Result<(BTreeMap<Vec<u8>, ServiceInstance>, i64), RegistryError> {
        let prefix = prefix_of(service)?;
        let op = format!("list {}", service.unwrap_or("all services"));
        list_prefix(&mut self.inner.client.clone(), &self.name(), &prefix, &op).await
    }
}

#[async_trait]
impl Registrar for EtcdRegistry {
    async fn register(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        instance.validate()?;
        let value = serde_json::to_string(instance).expect("instance JSON");
        let lease = self.put_leased(instance, &value).await?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(keep_alive(
            self.clone_weak(),
            instance.clone(),
            value,
            lease,
            stop.clone(),
        ));
        if let Some(old) = self
            .inner
            .alive
            .lock()
            .insert(key_of(instance), KeepAlive { stop, task })
        {
            old.stop.cancel();
        }
        tracing::info!(service = %instance.name, id = %instance.id, registry = %self.name(), "registered");
        Ok(())
    }

    async fn deregister(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        let key = key_of(instance);
        let alive = self.inner.alive.lock().remove(&key);
        if let Some(alive) = alive {
            alive.stop.cancel();
            let _ = alive.task.await;
        }
        let mut client = self.inner.client.clone();
        client.delete(key, None).await.map_err(|e| {
            self.backend(format!("deregister {}/{}", instance.name, instance.id), e)
        })?;
        tracing::info!(service = %instance.name, id = %instance.id, registry = %self.name(), "deregistered");
        Ok(())
    }
}

fn decode(registry: &str, key: &[u8], value: &[u8]) -> Result<ServiceInstance, RegistryError> {
    serde_json::from_slice(value).map_err(|source| RegistryError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        registry: registry.to_owned(),
        source,
    })
}

/// What a keep-alive task needs without keeping the registry (and so itself) alive.
struct Weak(std::sync::Weak<Inner>);

impl EtcdRegistry {
    fn clone_weak(&self) -> Weak {
        Weak(Arc::downgrade(&self.inner))
    }
}

impl Weak {
    fn upgrade(&self) -> Option<EtcdRegistry> {
        self.0.upgrade().map(|inner| EtcdRegistry { inner })
    }
}

/// Keeps `lease` alive every TTL/3; when it is lost, registers again (retrying every TTL/3)
/// under a new lease. The lease is revoked when stopped.
async fn keep_alive(
    registry: Weak,
    instance: ServiceInstance,
    value: String,
    mut lease: i64,
    stop: CancellationToken,
) {
    let Some(r) = registry.upgrade() else { return };
    let every = r.inner.ttl / 3;
    let mut client = r.inner.client.clone();
    drop(r);
    let key = key_of(&instance);
    loop {
        let session = async {
            let (mut keeper, mut responses) = client.lease_keep_alive(lease).await?;
            loop {
                tokio::time::sleep(every).await;
                keeper.keep_alive().await?;
                match responses.message().await? {
                    Some(response) if response.ttl() > 0 => {}
                    _ => return Ok::<_, etcd_client::Error>(()),
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = client.lease_revoke(lease).await;
                return;
            }
            outcome = session => match outcome {
                Ok(()) => tracing::warn!(key = %key, "registration lease expired; registering again"),
                Err(err) => tracing::warn!(key = %key, error = %err, "registration keep-alive failed; registering again"),
            }
        }
        loop {
            let Some(r) = registry.upgrade() else { return };
            let registered = tokio::select! {
                _ = stop.cancelled() => return,
                registered = r.put_leased(&instance, &value) => registered,
            };
            match registered {
                Ok(new_lease) => {
                    lease = new_lease;
                    tracing::info!(key = %key, "registered again");
                    break;
                }
                Err(err) => {
                    tracing::warn!(key = %key, error = %err, retry_in = ?every, "cannot register again; retrying");
                    drop(r);
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Discovery for EtcdRegistry {
    async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>, RegistryError> {
        Ok(self.list(Some(service)).await?.0.into_values().collect())
    }

    async fn watch(&self, service: &str) -> Result<InstanceStream, RegistryError> {
        self.watch_prefix(Some(service)).await
    }
}

impl EtcdRegistry {
    /// The instances under the prefix of `service` (all if `None`) now and after each change.
    async fn watch_prefix(&self, service: Option<&str>) -> Result<InstanceStream, RegistryError> {
        let mut watch = Watch {
            client: self.inner.client.clone(),
            registry: self.name(),
            prefix: prefix_of(service)?,
            op: format!("watch {}", service.unwrap_or("all services")),
            retry: self.inner.ttl / 3,
            stream: None,
            current: BTreeMap::new(),
            queued: None,
            failed: false,
        };
        let first = watch.open().await?;
        let changes = futures::stream::unfold(watch, |mut watch| async move {
            let next = watch.next().await;
            Some((next, watch))
        });
        Ok(futures::stream::once(async move { Ok(first) })
            .chain(changes)
            .boxed())
    }
}

/// One etcd watch of a key prefix and the instance list it maintains. A broken watch (etcd
/// restarted, connection lost) yields the error, then lists and watches again, every
/// `retry` until it succeeds: callers keep following without opening a new watch.
struct Watch {
    client: Client,
    registry: String,
    prefix: String,
    op: String,
    retry: Duration,
    stream: Option<etcd_client::WatchStream>,
    current: BTreeMap<Vec<u8>, ServiceInstance>,
    /// An error to yield after the list change of the same batch.
    queued: Option<RegistryError>,
    /// The last (re)open failed: wait `retry` before the next.
    failed: bool,
}

impl Watch {
    fn backend(&self, source: impl Into<BoxError>) -> RegistryError {
        RegistryError::Backend {
            op: self.op.clone(),
            registry: self.registry.clone(),
            source: source.into(),
        }
    }

    fn list(&self) -> Vec<ServiceInstance> {
        self.current.values().cloned().collect()
    }

    /// Lists the prefix, then watches from the revision after it (no change is missed or
    /// seen twice); returns the list.
    async fn open(&mut self) -> Result<Vec<ServiceInstance>, RegistryError> {
        let (current, revision) =
            list_prefix(&mut self.client, &self.registry, &self.prefix, &self.op).await?;
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let stream = self
            .client
            .watch(self.prefix.clone(), Some(options))
            .await
            .map_err(|e| self.backend(e))?;
        self.stream = Some(stream);
        self.current = current;
        Ok(self.list())
    }

    /// The next list that differs from the last one yielded, or an error.
    async fn next(&mut self) -> Result<Vec<ServiceInstance>, RegistryError> {
        if let Some(err) = self.queued.take() {
            return Err(err);
        }
        loop {
            let Some(stream) = self.stream.as_mut() else {
                if self.failed {
                    tokio::time::sleep(self.retry).await;
                }
                let before = self.list();
                match self.open().await {
                    Ok(now) => {
                        self.failed = false;
                        tracing::info!(registry = %self.registry, prefix = %self.prefix, "etcd watch restored");
                        if now != before {
                            return Ok(now);
                        }
                        continue;
                    }
                    Err(err) => {
                        self.failed = true;
                        return Err(err);
                    }
                }
            };
            let response = match stream.message().await {
                Ok(Some(response)) if !response.canceled() => response,
                // Ended or cancelled (e.g. its revision was compacted): watch again.
                Ok(_) => {
                    tracing::warn!(registry = %self.registry, prefix = %self.prefix, "etcd watch ended; watching again");
                    self.stream = None;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(registry = %self.registry, prefix = %self.prefix, error = %err, "etcd watch broke; watching again");
                    self.stream = None;
                    self.failed = true;
                    return Err(self.backend(err));
                }
            };
            let before = self.list();
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                match event.event_type() {
                    EventType::Put => match decode(&self.registry, kv.key(), kv.value()) {
                        Ok(instance) => {
                            self.current.insert(kv.key().to_vec(), instance);
                        }
                        Err(err) => {
                            self.queued.get_or_insert(err);
                        }
                    },
                    EventType::Delete => {
                        self.current.remove(kv.key());
                    }
                }
            }
            // Lease refreshes write nothing; a re-put of the same value is no change.
            let now = self.list();
            if now != before {
                return Ok(now);
            }
            if let Some(err) = self.queued.take() {
                return Err(err);
            }
        }
    }
}

/// The instances under `prefix`, by key, and the revision they were read at.
async fn list_prefix(
    client: &mut Client,
    registry: &str,
    prefix: &str,
    op: &str,
) -> Result<(BTreeMap<Vec<u8>, ServiceInstance>, i64), RegistryError> {
    let response = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| RegistryError::Backend {
            op: op.to_owned(),
            registry: registry.to_owned(),
            source: e.into(),
        })?;
    let revision = response.header().map_or(0, |h| h.revision());
    let mut found = BTreeMap::new();
    for kv in response.kvs() {
        found.insert(kv.key().to_vec(), decode(registry, kv.key(), kv.value())?);
    }
    Ok((found, revision))
}
