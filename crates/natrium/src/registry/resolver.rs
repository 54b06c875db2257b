//! [`Resolver`]: an instance list kept current from [`Discovery::watch`], and endpoint picks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use tokio::sync::watch;

use super::{Discovery, RegistryError, ServiceInstance};

/// How a [`Resolver`] picks among instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
}

/// The instances of one service, as of the last change.
#[derive(Debug, Default)]
struct Snapshot {
    instances: Vec<ServiceInstance>,
    /// Endpoints by scheme (`http`, `nats`), so a pick is one map read.
    by_scheme: HashMap<String, Vec<String>>,
}

impl Snapshot {
    fn new(instances: Vec<ServiceInstance>) -> Self {
        let mut by_scheme: HashMap<String, Vec<String>> = HashMap::new();
        for endpoint in instances.iter().flat_map(|i| &i.endpoints) {
            if let Some((scheme, _)) = endpoint.split_once("://") {
                by_scheme
                    .entry(scheme.to_owned())
                    .or_default()
                    .push(endpoint.clone());
            }
        }
        Snapshot {
            instances,
            by_scheme,
        }
    }
}

/// Keeps the instance list of a service current (a background task follows
/// [`Discovery::watch`]) and picks endpoints from it without a network round trip.
/// Clones share the list; the task ends with the last clone.
#[derive(Clone, Debug)]
pub struct Resolver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: String,
    pick: Pick,
    current: watch::Receiver<Arc<Snapshot>>,
    next: AtomicUsize,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Resolver {
    /// Starts following `service` in `discovery`; returns once the first list is known.
    pub async fn new(
        discovery: &dyn Discovery,
        service: &str,
        pick: Pick,
    ) -> Result<Resolver, RegistryError> {
        let mut updates = discovery.watch(service).await?;
        let first = match updates.next().await {
            Some(first) => first?,
            None => return Err(RegistryError::Closed(format!("the watch of {service}"))),
        };
        let (tx, current) = watch::channel(Arc::new(Snapshot::new(first)));
        let name = service.to_owned();
        let task = tokio::spawn(async move {
            while let Some(update) = updates.next().await {
                match update {
                    Ok(instances) => {
                        tracing::debug!(service = %name, instances = instances.len(), "instances changed");
                        tx.send_replace(Arc::new(Snapshot::new(instances)));
                    }
                    // Keep the last good list: a registry hiccup must not empty it.
                    Err(err) => {
                        tracing::warn!(service = %name, error = %err, "discovery watch error")
                    }
                }
            }
            tracing::warn!(service = %name, "discovery watch ended; the instance list is frozen");
        });
        Ok(Resolver {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                pick,
                current,
                next: AtomicUsize::new(0),
                task,
            }),
        })
    }

    /// The service followed.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The instances as of the last change, sorted by id.
    pub fn instances(&self) -> Vec<ServiceInstance> {
        self.inner.current.borrow().instances.clone()
    }

    /// Waits until the instance list satisfies `f` (e.g. a new instance appeared).
    pub async fn wait_for(
        &self,
        mut f: impl FnMut(&[ServiceInstance]) -> bool,
    ) -> Result<Vec<ServiceInstance>, RegistryError> {
        let mut rx = self.inner.current.clone();
        let snapshot = rx.wait_for(|s| f(&s.instances)).await.map_err(|_| {
            RegistryError::Closed(format!("the resolver of {}", self.inner.service))
        })?;
        Ok(snapshot.instances.clone())
    }

    /// An endpoint with `scheme` (`"http"`, `"nats"`), picked round-robin or at random.
    pub fn endpoint(&self, scheme: &str) -> Result<String, RegistryError> {
        let snapshot = self.inner.current.borrow();
        let endpoints = snapshot
            .by_scheme
            .get(scheme)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| RegistryError::NoInstance {
                service: self.inner.service.clone(),
                scheme: scheme.to_owned(),
            })?;
        let i = match self.inner.pick {
            Pick::RoundRobin => self.inner.next.fetch_add(1, Ordering::Relaxed),
            Pick::Random => fastrand::usize(..),
        };
        Ok(endpoints[i % endpoints.len()].clone())
    }

    /// `http://host:port` + `path` of a picked instance, for any HTTP client.
    pub fn http_url(&self, path: &str) -> Result<String, RegistryError> {
        let base = self.endpoint("http")?;
        Ok(format!("{}{path}", base.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{MemoryRegistry, Registrar};

    fn instance(id: &str, endpoints: &[&str]) -> ServiceInstance {
        ServiceInstance {
            id: id.into(),
            name: "svc".into(),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn round_robin_visits_every_endpoint_in_turn_and_follows_changes() {
        let registry = MemoryRegistry::new();
        registry
            .register(&instance("a", &["http://a:1", "nats://a:2"]))
            .await
            .unwrap();
        registry
            .register(&instance("b", &["http://b:1"]))
            .await
            .unwrap();
        let resolver = Resolver::new(&registry, "svc", Pick::RoundRobin)
            .await
            .unwrap();
        let picks: Vec<_> = (0..4).map(|_| resolver.endpoint("http").unwrap()).collect();
        assert_eq!(
            picks,
            ["http://a:1", "http://b:1", "http://a:1", "http://b:1"]
        );
        assert_eq!(resolver.endpoint("nats").unwrap(), "nats://a:2");
        assert_eq!(
            resolver
                .http_url("/report")
                .unwrap()
                .rsplit_once(':')
                .unwrap()
                .1,
            "1/report"
        );

        registry.deregister(&instance("a", &[])).await.unwrap();
        resolver.wait_for(|i| i.len() == 1).await.unwrap();
        assert_eq!(resolver.endpoint("http").unwrap(), "http://b:1");
        let err = resolver.endpoint("nats").unwrap_err();
        assert!(matches!(err, RegistryError::NoInstance { .. }), "{err}");
    }

    #[tokio::test]
    async fn random_picks_reach_every_instance() {
        let registry = MemoryRegistry::new();
        for id in ["a", "b", "c"] {
            let endpoint = format!("http://{id}:1");
            registry
                .register(&instance(id, &[&endpoint]))
                .await
                .unwrap();
        }
        let resolver = Resolver::new(&registry, "svc", Pick::Random).await.unwrap();
        let seen: std::collections::HashSet<_> = (0..200)
            .map(|_| resolver.endpoint("http").unwrap())
            .collect();
        assert_eq!(seen.len(), 3);
    }

    #[tokio::test]
    async fn an_unknown_service_resolves_to_no_instance() {
        let resolver = Resolver::new(&MemoryRegistry::new(), "none", Pick::RoundRobin)
            .await
            .unwrap();
        assert!(resolver.instances().is_empty());
        assert!(matches!(
            resolver.endpoint("http"),
            Err(RegistryError::NoInstance { .. })
        ));
    }
}
