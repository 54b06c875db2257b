//! Middleware: code that runs around every handled message and every outbound message.
//!
//! A [`Middleware`] has two hooks, both optional:
//! - [`Middleware::handle`] wraps a handler: it sees the [`HandlerRequest`] (subject,
//!   headers, route, [`Ctx`](crate::Ctx), extensions), may change it, calls
//!   [`Next::run`], and sees the [`HandlerResult`].
//! - [`Middleware::outbound`] wraps publishes and requests: it may change the outgoing
//!   [`Message`] (e.g. inject `traceparent`) before calling [`OutboundNext::run`], and sees
//!   the result (replies, for requests).
//!
//! Handler middleware is added with [`NatsServerBuilder::layer`](crate::transport::NatsServerBuilder::layer),
//! outbound middleware with [`BrokerConfig::layer`](crate::BrokerConfig::layer) (or
//! [`MemoryBroker::with_layer`](crate::MemoryBroker::with_layer)). The first layer added is
//! the outermost.
//!
//! We use a small async trait instead of `tower::Service`: a middleware is one `async fn`,
//! without `poll_ready`, boxing or cloning of inner services.

mod logging;
pub mod metrics;
mod recover;
mod timeout;
pub mod tracing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

pub use self::tracing::Tracing;
pub use logging::Logging;
pub use metrics::{Metrics, metrics_router};
pub use recover::Recover;
pub use timeout::Timeout;

use crate::broker::Gather;
use crate::error::Result;
use crate::jetstream::DeliveryEvent;
use crate::message::Message;
use crate::transport::{HandlerRequest, HandlerResult, RouteInfo};

/// Code around handlers and outbound messages. See the [module docs](self).
#[async_trait]
pub trait Middleware: Send + Sync + 'static {
    /// Wraps one handler invocation. The default just calls the next step.
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        next.run(request).await
    }

    /// Wraps one publish or request. The default just calls the next step.
    async fn outbound(&self, outbound: Outbound, next: OutboundNext<'_>) -> Result<Vec<Message>> {
        next.run(outbound).await
    }

    /// Observes what a durable route did with a delivery (ack, NAK, TERM, `+WPI`, dead
    /// letter). Called after the handler chain; the default ignores it.
    fn on_delivery(&self, route: &RouteInfo, event: &DeliveryEvent) {
        let _ = (route, event);
    }
}

/// A shared middleware is a middleware (handy to keep a handle on its state).
#[async_trait]
impl<M: Middleware + ?Sized> Middleware for Arc<M> {
    async fn handle(&self, request: HandlerRequest, next: Next<'_>) -> HandlerResult {
        (**self).handle(request, next).await
    }

    async fn outbound(&self, outbound: Outbound, next: OutboundNext<'_>) -> Result<Vec<Message>> {
        (**self).outbound(outbound, next).await
    }

    fn on_delivery(&self, route: &RouteInfo, event: &DeliveryEvent) {
        (**self).on_delivery(route, event);
    }
}

/// The innermost step of a handler chain: extraction and the user's handler.
pub(crate) type Endpoint =
    dyn Fn(HandlerRequest) -> BoxFuture<'static, HandlerResult> + Send + Sync;

/// The rest of a handler chain.
pub struct Next<'a> {
    rest: &'a [Arc<dyn Middleware>],
    endpoint: &'a Endpoint,
}

impl<'a> Next<'a> {
    pub(crate) fn new(layers: &'a [Arc<dyn Middleware>], endpoint: &'a Endpoint) -> Self {
        Next {
            rest: layers,
            endpoint,
        }
    }

    /// Runs the remaining middleware and the handler.
    pub async fn run(self, request: HandlerRequest) -> HandlerResult {
        match self.rest.split_first() {
            Some((first, rest)) => {
                first
                    .handle(
                        request,
                        Next {
                            rest,
                            endpoint: self.endpoint,
                        },
                    )
                    .await
            }
            None => (self.endpoint)(request).await,
        }
    }
}

/// What an outbound message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundKind {
    /// A publish: the result holds no messages.
    Publish,
    /// A request: the result holds the reply.
    Request {
        /// How long the request waits.
        timeout: Duration,
    },
    /// A one-to-many request: the result holds every reply gathered.
    RequestMany(Gather),
    /// A durable (JetStream) publish: the result holds the stream's PubAck reply.
    DurablePublish {
        /// How long the publish waits for its PubAck.
        timeout: Duration,
    },
}

/// A message on its way out, as seen by [`Middleware::outbound`].
#[derive(Clone, Debug)]
pub struct Outbound {
    /// The message; headers may be changed here.
    pub message: Message,
    /// Publish or request.
    pub kind: OutboundKind,
}

/// The sending step at the end of an outbound chain (implemented by each broker).
#[async_trait]
pub(crate) trait Transmit: Send + Sync {
    async fn transmit(&self, outbound: Outbound) -> Result<Vec<Message>>;
}

/// The rest of an outbound chain.
pub struct OutboundNext<'a> {
    rest: &'a [Arc<dyn Middleware>],
    transmit: &'a dyn Transmit,
}

impl OutboundNext<'_> {
    /// Runs the remaining middleware and sends.
    pub async fn run(self, outbound: Outbound) -> Result<Vec<Message>> {
        match self.rest.split_first() {
            Some((first, rest)) => {
                first
                    .outbound(
                        outbound,
                        OutboundNext {
                            rest,
                            transmit: self.transmit,
                        },
                    )
                    .await
            }
            None => self.transmit.transmit(outbound).await,
        }
    }
}

/// Runs `outbound` through `layers` and then `transmit`.
pub(crate) async fn send_outbound(
    layers: &[Arc<dyn Middleware>],
    transmit: &dyn Transmit,
    outbound: Outbound,
) -> Result<Vec<Message>> {
    OutboundNext {
        rest: layers,
        transmit,
    }
    .run(outbound)
    .await
}

/// Publishes `message` through the outbound chain; shared by every broker.
pub(crate) async fn publish_through(
    layers: &[Arc<dyn Middleware>],
    transmit: &dyn Transmit,
    message: Message,
) -> Result<()> {
    let outbound = Outbound {
        message,
        kind: OutboundKind::Publish,
    };
    send_outbound(layers, transmit, outbound).await?;
    Ok(())
}

/// Sends a request through the outbound chain and returns its first reply.
pub(crate) async fn request_through(
    layers: &[Arc<dyn Middleware>],
    transmit: &dyn Transmit,
    message: Message,
    timeout: Duration,
) -> Result<Message> {
    let subject = message.subject.clone();
    let outbound = Outbound {
        message,
        kind: OutboundKind::Request { timeout },
    };
    send_outbound(layers, transmit, outbound)
        .await?
        .into_iter()
        .next()
        .ok_or(crate::error::Error::Timeout { subject, timeout })
}

/// Sends a durable publish through the outbound chain and returns the stream's answer.
pub(crate) async fn durable_publish_through(
    layers: &[Arc<dyn Middleware>],
    transmit: &dyn Transmit,
    message: Message,
    timeout: Duration,
) -> Result<Message> {
    let subject = message.subject.clone();
    let outbound = Outbound {
        message,
        kind: OutboundKind::DurablePublish { timeout },
    };
    send_outbound(layers, transmit, outbound)
        .await?
        .into_iter()
        .next()
        .ok_or(crate::error::Error::Timeout { subject, timeout })
}

/// Sends a one-to-many request through the outbound chain and returns the gathered replies.
pub(crate) async fn request_many_through(
    layers: &[Arc<dyn Middleware>],
    transmit: &dyn Transmit,
    message: Message,
    gather: Gather,
) -> Result<Vec<Message>> {
    let outbound = Outbound {
        message,
        kind: OutboundKind::RequestMany(gather),
    };
    send_outbound(layers, transmit, outbound).await
}
