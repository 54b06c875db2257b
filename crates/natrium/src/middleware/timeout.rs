//! [`Timeout`]: bounds how long a handler may run.

use std::time::Duration;

use async_trait::async_trait;

use super::{Middleware, Next};
use crate::transport::{HandlerError, HandlerRequest, HandlerResult};

/// Fails a handler invocation with a [`HandlerErrorKind::Timeout`](crate::transport::HandlerErrorKind)
/// error (code 504) when it runs longer than the given duration; the handler's future is
/// dropped.
#[derive(Clone, Copy, Debug)]
pub struct Timeout(pub Duration);

impl Timeout {
    /// A timeout of `duration`.
    pub fn new(duration: Duration) -> Self {
        Timeout(duration)
    }
}

#[async_trait]
impl Middleware for Timeout {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        tokio::time::timeout(self.0, next.run(request))
            .await
            .unwrap_or_else(|_| Err(HandlerError::timeout(self.0)))
    }
}
