//! Service registry: an [`App`](crate::App) registers itself, callers discover instances.
//!
//! In the spirit of Kratos's `registry` package: a [`Registrar`] registers and deregisters a
//! [`ServiceInstance`] (and keeps the registration alive while it is registered); a
//! [`Discovery`] lists the instances of a service and watches them change. The traits are
//! public so other registries (Consul, Kubernetes, Nacos) plug in the way Kratos's contrib
//! packages do.
//!
//! Implementations here:
//! - [`KvRegistry`]: NATS JetStream Key-Value, the default (no extra infrastructure);
//! - `EtcdRegistry` (feature `etcd`): etcd leases with keep-alive, Kratos's key layout
//!   (`/microservices/<service>/<id>`, the same JSON), so Go Kratos services and natrium
//!   apps can share one etcd; `testing::EtcdTestServer` runs a real etcd in tests;
//! - [`MemoryRegistry`]: in process, for unit tests.
//!
//! Callers pick an endpoint with a [`Resolver`], which keeps the instance list from
//! [`Discovery::watch`] so a pick is a map read.
//!
//! Behaviour shared by the registries (each tested on a real server): a process that dies
//! without deregistering disappears within the TTL; registering an id that another live
//! registration holds is [`RegistryError::Duplicate`] (registering the same instance again
//! is fine); apps sharing a name with distinct ids are all listed; a registration lost
//! while running (registry restarted, entry expired) is restored and logged.

mod error;
#[cfg(feature = "etcd")]
mod etcd;
mod kv;
mod memory;
mod resolver;
#[cfg(feature = "etcd")]
pub mod testing;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use error::RegistryError;
#[cfg(feature = "etcd")]
pub use etcd::{ETCD_NAMESPACE, EtcdRegistry};
pub use kv::{DEFAULT_BUCKET, DEFAULT_TTL, KvRegistry};
pub use memory::MemoryRegistry;
pub use resolver::{Pick, Resolver};

/// One running instance of a service, as Kratos's `registry.ServiceInstance` (same JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstance {
    /// Unique id of this instance within its service.
    pub id: String,
    /// Service name; instances with the same name are interchangeable.
    pub name: String,
    /// Service version.
    #[serde(default)]
    pub version: String,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Where the instance serves, e.g. `http://127.0.0.1:8000` or
    /// `nats://127.0.0.1:4222?service=saver&subject=report.event`.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

impl ServiceInstance {
    /// Checks the name and id: both non-empty and made of `A-Z a-z 0-9 - _ =` (registries
    /// use them as key segments, so no `.`, `/`, spaces or wildcards).
    pub fn validate(&self) -> Result<(), RegistryError> {
        validate_segment("service name", &self.name)?;
        validate_segment("instance id", &self.id)
    }

    /// The endpoints with the given scheme (`"http"`, `"nats"`).
    pub fn endpoints_with_scheme<'a>(&'a self, scheme: &'a str) -> impl Iterator<Item = &'a str> {
        self.endpoints.iter().map(String::as_str).filter(move |e| {
            e.strip_prefix(scheme)
                .is_some_and(|rest| rest.starts_with("://"))
        })
    }
}

pub(crate) fn validate_segment(what: &'static str, value: &str) -> Result<(), RegistryError> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    {
        Some("only A-Z, a-z, 0-9, '-', '_' and '=' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RegistryError::Invalid {
            what,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A stream of instance lists: the first item is the current list, then one item per change.
pub type InstanceStream = BoxStream<'static, Result<Vec<ServiceInstance>, RegistryError>>;

/// Registers instances; an [`App`](crate::App) calls it with
/// [`App::registrar`](crate::App::registrar).
///
/// `register` keeps the registration alive until `deregister` (a lease, a TTL refresh):
/// if it is lost while running (registry restarted, entry expired) the implementation
/// restores it and logs with `tracing`.
#[async_trait]
pub trait Registrar: Send + Sync + 'static {
    /// Registers `instance` and keeps it alive. An instance with the same name and id that
    /// is already registered (by someone else) is [`RegistryError::Duplicate`].
    async fn register(&self, instance: &ServiceInstance) -> Result<(), RegistryError>;

    /// Removes `instance` and stops keeping it alive.
    async fn deregister(&self, instance: &ServiceInstance) -> Result<(), RegistryError>;
}

/// Finds instances of a service.
#[async_trait]
pub trait Discovery: Send + Sync + 'static {
    /// The instances of `service` now, sorted by id.
    async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>, RegistryError>;

    /// The instances of `service` now and after every change, each list sorted by id.
    async fn watch(&self, service: &str) -> Result<InstanceStream, RegistryError>;
}

#[async_trait]
impl<R: Registrar + ?Sized> Registrar for std::sync::Arc<R> {
    async fn register(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        (**self).register(instance).await
    }

    async fn deregister(&self, instance: &ServiceInstance) -> Result<(), RegistryError> {
        (**self).deregister(instance).await
    }
}

#[async_trait]
impl<D: Discovery + ?Sized> Discovery for std::sync::Arc<D> {
    async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>, RegistryError> {
        (**self).instances(service).await
    }

    async fn watch(&self, service: &str) -> Result<InstanceStream, RegistryError> {
        (**self).watch(service).await
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_kratos_field_names() {
        let instance = ServiceInstance {
            id: "saver-1".into(),
            name: "saver".into(),
            version: "1.0.0".into(),
            metadata: [("team".to_owned(), "data".to_owned())].into(),
            endpoints: vec!["http://127.0.0.1:8000".into()],
        };
        let json = serde_json::to_string(&instance).unwrap();
        assert_eq!(
            json,
            r#"{"id":"saver-1","name":"saver","version":"1.0.0","metadata":{"team":"data"},"endpoints":["http://127.0.0.1:8000"]}"#
        );
        let kratos = r#"{"id":"saver-1","name":"saver","version":"1.0.0","metadata":{"team":"data"},"endpoints":["http://127.0.0.1:8000"]}"#;
        assert_eq!(
            serde_json::from_str::<ServiceInstance>(kratos).unwrap(),
            instance
        );
    }

    #[test]
    fn names_with_key_separators_are_refused() {
        for bad in ["", "a.b", "a b", "a/b", "a*", ">"] {
            let instance = ServiceInstance {
                id: "x".into(),
                name: bad.into(),
                ..Default::default()
            };
            assert!(
                matches!(
                    instance.validate(),
                    Err(RegistryError::Invalid {
                        what: "service name",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn endpoints_filter_by_scheme() {
        let instance = ServiceInstance {
            endpoints: vec![
                "http://a:1".into(),
                "nats://b:2".into(),
                "https://c:3".into(),
            ],
            ..Default::default()
        };
        assert_eq!(
            instance.endpoints_with_scheme("http").collect::<Vec<_>>(),
            ["http://a:1"]
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query("report.>"), "report.%3E");
        assert_eq!(encode_query("a b*"), "a%20b%2A");
    }
}
