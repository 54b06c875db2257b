//! [`Recover`]: turns a handler panic into an error result.

use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures::FutureExt;

use super::{Middleware, Next};
use crate::transport::{HandlerError, HandlerRequest, HandlerResult};

/// Catches panics of the inner chain and returns them as
/// [`HandlerErrorKind::Panic`](crate::transport::HandlerErrorKind) errors, so outer middleware
/// (logging, metrics, tracing) sees them as ordinary failures. The server also catches
/// panics on its own, so this layer is about what outer layers observe.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recover;

#[async_trait]
impl Middleware for Recover {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        AssertUnwindSafe(next.run(request))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(HandlerError::panic(format!("handler panicked: {text}")))
            })
    }
}
