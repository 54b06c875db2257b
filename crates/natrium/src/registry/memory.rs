//! [`MemoryRegistry`]: a registry in process, for unit tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::watch;

use super::{Discovery, InstanceStream, Registrar, RegistryError, ServiceInstance};

type Services = BTreeMap<String, BTreeMap<String, ServiceInstance>>;

/// A registry in process: [`Registrar`] and [`Discovery`] on a shared map. Clones share it.
#[derive(Clone, Debug)]
pub struct MemoryRegistry {
    services: Arc<watch::Sender<Services>>,
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        MemoryRegistry {
            services: Arc::new(watch::channel(Services::new()).0),
        }
    }
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
}

fn list(services: &Services, service: &str) -> Vec<ServiceInstance> {
    services
        .get(service)
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default()
}

#[async_trait]
impl Registrar for MemoryRegistry {
    async fn register(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        instance.validate()?;
        let mut duplicate = false;
        self.services.send_if_modified(|services| {
            let instances = services.entry(instance.name.clone()).or_default();
            if instances.contains_key(&instance.id) {
                duplicate = true;
                return false;
            }
            instances.insert(instance.id.clone(), instance.clone());
            true
        });
        if duplicate {
            return Err(RegistryError::Duplicate {
                registry: "memory registry".into(),
                service: instance.name.clone(),
                id: instance.id.clone(),
            });
        }
        Ok(())
    }

    async fn deregister(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        self.services.send_if_modified(|services| {
            let Some(instances) = services.get_mut(&instance.name) else {
                return false;
            };
            let removed = instances.remove(&instance.id).is_some();
            if instances.is_empty() {
                services.remove(&instance.name);
            }
            removed
        });
        Ok(())
    }
}

#[async_trait]
impl Discovery for MemoryRegistry {
    async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>, RegistryError> {
        Ok(list(&self.services.borrow(), service))
    }

    async fn watch(&self, service: &str) -> Result<InstanceStream, RegistryError> {
        let mut rx = self.services.subscribe();
        rx.mark_changed();
        let service = service.to_owned();
        let changes = futures::stream::unfold(
            (rx, service, None::<Vec<ServiceInstance>>),
            |(mut rx, service, mut last)| async move {
                // Other services' changes wake us too; yield only when this list changed.
                loop {
                    rx.changed().await.ok()?;
                    let now = list(&rx.borrow_and_update(), &service);
                    if last.as_ref() != Some(&now) {
                        last = Some(now.clone());
                        return Some((Ok(now), (rx, service, last)));
                    }
                }
            },
        );
        Ok(changes.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, id: &str) -> ServiceInstance {
        ServiceInstance {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn watch_sees_the_current_list_then_each_change_of_its_service() {
        let registry = MemoryRegistry::new();
        registry.register(&instance("a", "1")).await.unwrap();
        let mut watch = registry.watch("a").await.unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap(), [instance("a", "1")]);
        registry.register(&instance("b", "1")).await.unwrap();
        registry.register(&instance("a", "2")).await.unwrap();
        assert_eq!(
            watch.next().await.unwrap().unwrap(),
            [instance("a", "1"), instance("a", "2")]
        );
        registry.deregister(&instance("a", "1")).await.unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap(), [instance("a", "2")]);
        assert_eq!(registry.instances("b").await.unwrap(), [instance("b", "1")]);
    }

    #[tokio::test]
    async fn a_duplicate_id_is_refused_and_the_first_stays() {
        let registry = MemoryRegistry::new();
        let mut first = instance("a", "1");
        first.version = "1".into();
        registry.register(&first).await.unwrap();
        let err = registry.register(&instance("a", "1")).await.unwrap_err();
        assert!(matches!(err, RegistryError::Duplicate { .. }), "{err}");
        assert_eq!(registry.instances("a").await.unwrap(), [first]);
    }
}
