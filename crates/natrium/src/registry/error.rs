//! [`RegistryError`]: what registering and discovering can fail with.

use crate::error::BoxError;

/// A registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A service name or instance id cannot be used as a registry key.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// `service name` or `instance id`.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// Another live registration has the same service name and instance id.
    #[error("instance {id} of service {service} is already registered in {registry}")]
    Duplicate {
        /// The registry (e.g. `NATS KV bucket natrium_registry`).
        registry: String,
        /// The service name.
        service: String,
        /// The instance id.
        id: String,
    },

    /// The registry cannot be reached or refused the operation.
    #[error("{op} failed on {registry}: {source}")]
    Backend {
        /// What was attempted (`register saver/saver-1`, `watch saver`).
        op: String,
        /// The registry.
        registry: String,
        /// The client's error.
        source: BoxError,
    },

    /// A registry entry is not a valid [`ServiceInstance`](super::ServiceInstance) JSON.
    #[error("entry {key} in {registry} is not a service instance: {source}")]
    Decode {
        /// The entry's key.
        key: String,
        /// The registry.
        registry: String,
        /// The JSON error.
        source: serde_json::Error,
    },

    /// A resolver has no instance (with an endpoint of the wanted scheme) to pick.
    #[error("no instance of {service} has a {scheme} endpoint")]
    NoInstance {
        /// The service name.
        service: String,
        /// The endpoint scheme asked for.
        scheme: String,
    },

    /// The registry was closed or its watch ended.
    #[error("{0} is closed")]
    Closed(String),
}
