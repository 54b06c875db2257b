//! [`Logging`]: one log line per handled message and per outbound message.

use std::time::Instant;

use async_trait::async_trait;

use super::{Middleware, Next, Outbound, OutboundKind, OutboundNext};
use crate::error::Result;
use crate::message::Message;
use crate::transport::{HandlerRequest, HandlerResult};

/// Logs each handled message (debug on success, warn on failure) and each outbound
/// message (debug), with subject and duration, via `tracing`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Logging;

#[async_trait]
impl Middleware for Logging {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        let subject = request.message.subject.clone();
        let route = request.route.subject.clone();
        let attempt = request.attempt;
        let started = Instant::now();
        let result = next.run(request).await;
        let elapsed = started.elapsed();
        match &result {
            Ok(_) => tracing::debug!(%subject, %route, attempt, ?elapsed, "message handled"),
            Err(err) => {
                tracing::warn!(%subject, %route, attempt, ?elapsed, error = %err, "message failed")
            }
        }
        result
    }

    async fn outbound(&self, outbound: Outbound, next: OutboundNext<'_>) -> Result<Vec<Message>> {
        let subject = outbound.message.subject.clone();
        let bytes = outbound.message.payload.len();
        let kind = match outbound.kind {
            OutboundKind::Publish => "publish",
            OutboundKind::Request { .. } => "request",
            OutboundKind::RequestMany(_) => "request_many",
            OutboundKind::DurablePublish { .. } => "publish_durable",
        };
        let started = Instant::now();
        let result = next.run(outbound).await;
        let elapsed = started.elapsed();
        match &result {
            Ok(replies) => {
                tracing::debug!(%subject, kind, bytes, replies = replies.len(), ?elapsed, "sent")
            }
            Err(err) => {
                tracing::warn!(%subject, kind, bytes, ?elapsed, error = %err, "send failed")
            }
        }
        result
    }
}
