//! [`Route`]: one registration — subject, optional queue group, handler and its options.

use crate::jetstream::DurableSpec;

use super::erased::ErasedHandler;
use super::handler::Handler;
use super::options::{RetryPolicy, RouteOptions};
use super::request::{RouteInfo, RouteKind};

/// One registration on a [`NatsServer`](crate::NatsServer).
///
/// ```
/// # use natrium::{Route, RetryPolicy};
/// # use std::time::Duration;
/// async fn save(event: serde_json::Value) -> natrium::Result<()> { Ok(()) }
/// let route = Route::subscribe("report.event", save)
///     .queue("savers")
///     .concurrency(4)
///     .retry(RetryPolicy::attempts(3).backoff(Duration::from_millis(50), Duration::from_secs(1)))
///     .dead_letter("report.event.dead");
/// ```
#[derive(Clone)]
pub struct Route {
    pub(crate) info: RouteInfo,
    pub(crate) handler: ErasedHandler,
    pub(crate) options: RouteOptions,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("info", &self.info)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Route {
    fn new<H, Args>(kind: RouteKind, subject: impl Into<String>, handler: H) -> Self
    where
        H: Handler<Args>,
    {
        Route {
            info: RouteInfo {
                subject: subject.into(),
                queue: None,
                kind,
            },
            handler: ErasedHandler::new(handler),
            options: RouteOptions::default(),
        }
    }

    /// A subscriber: `handler` runs for each message; its return value is not sent.
    pub fn subscribe<H: Handler<Args>, Args>(subject: impl Into<String>, handler: H) -> Self {
        Route::new(RouteKind::Subscribe, subject, handler)
    }

    /// A responder: `handler`'s return value is the reply; an `Err` becomes an error reply
    /// (`Nats-Service-Error`, `Nats-Service-Error-Code`).
    pub fn reply<H: Handler<Args>, Args>(subject: impl Into<String>, handler: H) -> Self {
        Route::new(RouteKind::Reply, subject, handler)
    }

    /// A durable route: `handler` runs for each message the JetStream pull consumer
    /// `consumer` (declared in code, created or checked at start; its `durable_name` is
    /// required) delivers from `stream`, and its outcome decides the ack:
    ///
    /// - `Ok` → `+ACK` (confirmed by the server with [`Route::double_ack`]);
    /// - an error → `-NAK` with the route's [`RetryPolicy`] backoff for this delivery count;
    /// - a terminal error ([`HandlerError::terminal`](crate::HandlerError::terminal), or a
    ///   decode error) → dead letter (if set), then `+TERM` with the reason;
    /// - a panic → `-NAK`;
    /// - the last allowed delivery (`max_deliver`) failing → dead letter, then `+TERM`.
    ///
    /// While the handler runs, `+WPI` is sent every half `ack_wait`, so a slow handler is
    /// never redelivered mid-work. Concurrency is [`Route::concurrency`], at most
    /// `max_ack_pending`. See [`crate::jetstream`].
    ///
    /// ```
    /// use natrium::Route;
    /// use natrium::async_nats::jetstream::consumer::pull;
    /// async fn save(order: serde_json::Value) -> natrium::Result<()> { Ok(()) }
    /// let route = Route::durable(
    ///     "ORDERS",
    ///     pull::Config {
    ///         durable_name: Some("saver".into()),
    ///         filter_subject: "orders.>".into(),
    ///         max_deliver: 5,
    ///         ..Default::default()
    ///     },
    ///     save,
    /// )
    /// .concurrency(16)
    /// .dead_letter("orders.dead");
    /// ```
    pub fn durable<H: Handler<Args>, Args>(
        stream: impl Into<String>,
        consumer: async_nats::jetstream::consumer::pull::Config,
        handler: H,
    ) -> Self {
        let subject = if consumer.filter_subject.is_empty() {
            consumer
                .filter_subjects
                .first()
                .cloned()
                .unwrap_or_else(|| ">".to_owned())
        } else {
            consumer.filter_subject.clone()
        };
        let mut route = Route::new(RouteKind::Durable, subject, handler);
        route.info.queue = consumer.durable_name.clone();
        route.options.durable = Some(DurableSpec {
            stream: stream.into(),
            consumer,
            double_ack: false,
            prefetch: None,
        });
        route
    }

    /// Durable routes: confirm each ack with the server (a request instead of a publish),
    /// so an `Ok` is known to be stored before the next message is taken.
    pub fn double_ack(mut self, confirmed: bool) -> Self {
        if let Some(spec) = &mut self.options.durable {
            spec.double_ack = confirmed;
        }
        self
    }

    /// Durable routes: how many messages to pull ahead of the handlers (default: the
    /// concurrency, at least 64). Pulled messages a stop leaves unstarted are NAKed at once.
    pub fn prefetch(mut self, messages: usize) -> Self {
        if let Some(spec) = &mut self.options.durable {
            spec.prefetch = Some(messages.max(1));
        }
        self
    }

    /// Joins a queue group: each message goes to one member of the group.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.info.queue = Some(queue.into());
        self
    }

    /// Handles up to `n` messages at once (default 1: one at a time, in order).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options.concurrency = n;
        self
    }

    /// Retries failed messages (decode failures are never retried).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Publishes messages that still fail after the last attempt to `subject`, with the
    /// original payload and headers plus `Natrium-Dead-Letter-*` headers saying why.
    pub fn dead_letter(mut self, subject: impl Into<String>) -> Self {
        self.options.dead_letter = Some(subject.into());
        self
    }

    /// The registration's subject, queue and kind.
    pub fn info(&self) -> &RouteInfo {
        &self.info
    }
}
