//! The publishing side: the [`Broker`] trait, its typed helpers ([`BrokerExt`]) and its two
//! implementations, [`NatsBroker`] (async-nats) and [`MemoryBroker`] (in-process).
//!
//! `Broker` is object-safe so a service can hold an `Arc<dyn Broker>` and be tested with a
//! [`MemoryBroker`] without generics spreading through its types. The trait carries raw
//! [`Message`]s; the typed, codec-aware methods live in [`BrokerExt`], which every broker
//! (including `dyn Broker`) gets for free.

mod config;
mod memory;
mod nats;
pub(crate) mod subject;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};

pub use config::{Auth, BrokerConfig, ReconnectPolicy, TlsConfig};
pub use memory::MemoryBroker;
pub use nats::NatsBroker;

use crate::codec::{Codec, Decode, Encode};
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::jetstream::{PubAck, PublishOptions};
use crate::message::Message;

/// Header carrying a responder's error text (the NATS micro-services convention).
pub const SERVICE_ERROR_HEADER: &str = "Nats-Service-Error";
/// Header carrying a responder's numeric error code.
pub const SERVICE_ERROR_CODE_HEADER: &str = "Nats-Service-Error-Code";

/// How long [`BrokerExt::request`] waits unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits for a one-to-many request ([`Broker::request_many`]): gather replies until
/// `max_replies` arrived or `timeout` passed, whichever is first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gather {
    /// Stop after this many replies (`None`: only the timeout ends the gathering).
    pub max_replies: Option<usize>,
    /// Stop when this much time has passed since the request was sent.
    pub timeout: Duration,
}

impl Gather {
    /// Gather until `timeout`, with no count limit.
    pub fn within(timeout: Duration) -> Self {
        Gather {
            max_replies: None,
            timeout,
        }
    }

    /// Also stop after `n` replies.
    pub fn max_replies(mut self, n: usize) -> Self {
        self.max_replies = Some(n);
        self
    }
}

/// A broker: publishes, requests, subscribes.
///
/// Implementations must deliver every header, treat "no responders" as
/// [`Error::NoResponders`] (distinct from [`Error::Timeout`]), turn `Nats-Service-Error`
/// replies into [`Error::Service`], and make [`Broker::close`] drain and wait.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// The codec typed values go through.
    fn codec(&self) -> Codec;

    /// The timeout [`BrokerExt::request`] uses.
    fn request_timeout(&self) -> Duration;

    /// Publishes a raw message (its `reply`, if set, is sent along).
    async fn publish_message(&self, message: Message) -> Result<()>;

    /// Sends a request and waits up to `timeout` for the first reply.
    async fn request_message(&self, message: Message, timeout: Duration) -> Result<Message>;

    /// Sends a request on a fresh inbox and gathers replies within `gather`'s limits.
    /// Returns [`Error::NoResponders`] when nobody listens.
    async fn request_many(&self, message: Message, gather: Gather) -> Result<Vec<Message>>;

    /// Subscribes to `subject` (wildcards allowed), optionally in a queue group.
    /// The subscription is live on the server when this returns.
    async fn subscribe(&self, subject: &str, queue: Option<&str>) -> Result<Subscriber>;

    /// Waits until everything published so far has reached the server.
    async fn flush(&self) -> Result<()>;

    /// Publishes `message` to a JetStream stream and waits for its [`PubAck`]
    /// (see [`crate::jetstream`]). Brokers without JetStream answer
    /// [`Error::Unsupported`] (the default).
    async fn publish_durable_message(
        &self,
        message: Message,
        options: PublishOptions,
    ) -> Result<PubAck> {
        let _ = (message, options);
        Err(Error::Unsupported {
            what: "JetStream",
            broker: std::any::type_name::<Self>(),
        })
    }

    /// The async-nats JetStream context of this broker's connection, for durable routes and
    /// stream declarations; `None` when the broker has no JetStream (the default).
    fn jetstream(&self) -> Option<async_nats::jetstream::Context> {
        None
    }

    /// The NATS server URL this broker connects to (no credentials), for service-registry
    /// endpoints; `None` when it has none (the default, e.g. in-process brokers).
    fn server_url(&self) -> Option<String> {
        None
    }

    /// Drains every subscription, flushes, closes, and waits until that is done.
    async fn close(&self) -> Result<()>;
}

/// Typed, codec-aware helpers available on every [`Broker`], including `dyn Broker`.
#[async_trait]
pub trait BrokerExt: Broker {
    /// Publishes `value` encoded with the broker's codec.
    async fn publish<T: Encode + Sync + ?Sized>(&self, subject: &str, value: &T) -> Result<()> {
        self.publish_with_headers(subject, Headers::new(), value)
            .await
    }

    /// Publishes `value` with headers.
    async fn publish_with_headers<T: Encode + Sync + ?Sized>(
        &self,
        subject: &str,
        headers: Headers,
        value: &T,
    ) -> Result<()> {
        let payload = self.codec().encode(value, subject)?;
        self.publish_message(Message::new(subject, payload).with_headers(headers))
            .await
    }

    /// Publishes `value` to a JetStream stream and waits for the stream's [`PubAck`].
    /// Fails with [`Error::NoStream`], [`Error::WrongExpectation`], [`Error::Timeout`] or
    /// [`Error::JetStream`]; see [`crate::jetstream`].
    async fn publish_durable<T: Encode + Sync + ?Sized>(
        &self,
        subject: &str,
        value: &T,
        options: PublishOptions,
    ) -> Result<PubAck> {
        let payload = self.codec().encode(value, subject)?;
        self.publish_durable_message(Message::new(subject, payload), options)
            .await
    }

    /// Publishes raw bytes, bypassing the codec.
    async fn publish_bytes(&self, subject: &str, headers: Headers, payload: Bytes) -> Result<()> {
        self.publish_message(Message::new(subject, payload).with_headers(headers))
            .await
    }

    /// Sends `value` as a request and decodes the reply, waiting up to the broker's
    /// request timeout ([`DEFAULT_REQUEST_TIMEOUT`] unless configured).
    async fn request<Req, Resp>(&self, subject: &str, value: &Req) -> Result<Resp>
    where
        Req: Encode + Sync + ?Sized,
        Resp: Decode,
    {
        self.request_with(subject, value, RequestOptions::default())
            .await
    }

    /// Like [`BrokerExt::request`] with per-call headers and timeout.
    async fn request_with<Req, Resp>(
        &self,
        subject: &str,
        value: &Req,
        options: RequestOptions,
    ) -> Result<Resp>
    where
        Req: Encode + Sync + ?Sized,
        Resp: Decode,
    {
        let codec = self.codec();
        let payload = codec.encode(value, subject)?;
        let timeout = options.timeout.unwrap_or_else(|| self.request_timeout());
        let msg = Message::new(subject, payload).with_headers(options.headers);
        let reply = self.request_message(msg, timeout).await?;
        codec.decode(&reply.payload, subject)
    }

    /// Sends `value` once and decodes every reply gathered within `gather`.
    async fn request_gather<Req, Resp>(
        &self,
        subject: &str,
        value: &Req,
        gather: Gather,
    ) -> Result<Vec<Resp>>
    where
        Req: Encode + Sync + ?Sized,
        Resp: Decode,
    {
        let codec = self.codec();
        let payload = codec.encode(value, subject)?;
        let replies = self
            .request_many(Message::new(subject, payload), gather)
            .await?;
        replies
            .iter()
            .map(|m| codec.decode(&m.payload, subject))
            .collect()
    }

    /// Subscribes and runs `handler` for each message, one at a time, on a spawned task.
    /// Returns a handle to drain the subscription.
    async fn subscribe_fn<F, Fut>(
        &self,
        subject: &str,
        queue: Option<&str>,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut sub = self.subscribe(subject, queue).await?;
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut draining = false;
            loop {
                tokio::select! {
                    msg = sub.next() => match msg {
                        Some(msg) => handler(msg).await,
                        None => break,
                    },
                    _ = &mut stop_rx, if !draining => {
                        draining = true;
                        if let Err(err) = sub.drain().await {
                            tracing::warn!(error = %err, "drain of subscription failed");
                            break;
                        }
                    }
                }
            }
        });
        Ok(SubscriptionHandle {
            stop: Some(stop_tx),
            task,
        })
    }
}

impl<B: Broker + ?Sized> BrokerExt for B {}

/// Per-call options for [`BrokerExt::request_with`].
#[derive(Clone, Debug, Default)]
pub struct RequestOptions {
    /// Overrides the broker's request timeout.
    pub timeout: Option<Duration>,
    /// Headers sent with the request.
    pub headers: Headers,
}

impl RequestOptions {
    /// Sets the timeout for this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the headers for this call.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

/// A running [`BrokerExt::subscribe_fn`] subscription.
#[derive(Debug)]
pub struct SubscriptionHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SubscriptionHandle {
    /// Stops taking new messages, lets those already received be handled, then returns.
    pub async fn drain(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::other(format!("subscription task failed: {e}")))
    }
}

/// The mechanics behind a [`Subscriber`]; implemented by each broker.
pub trait RawSubscription: Stream<Item = Message> + Send + Unpin + 'static {
    /// Stops new deliveries; the stream ends once already-received messages are consumed.
    fn drain(&mut self) -> BoxFuture<'_, Result<()>>;
    /// Stops at once; messages not yet consumed are dropped.
    fn unsubscribe(&mut self) -> BoxFuture<'_, Result<()>>;

    /// Like [`Stream::poll_next`], but writes the message into `slot`, reusing its
    /// allocations where the broker can (the default moves the new message in).
    /// `Ready(false)`: the subscription ended.
    fn poll_next_into(&mut self, cx: &mut Context<'_>, slot: &mut Message) -> Poll<bool> {
        self.poll_next_unpin(cx).map(|next| match next {
            Some(message) => {
                *slot = message;
                true
            }
            None => false,
        })
    }
}

/// A live subscription: a stream of [`Message`]s.
pub struct Subscriber {
    subject: String,
    inner: Box<dyn RawSubscription>,
}

impl Subscriber {
    /// Wraps a broker's subscription.
    pub fn new(subject: impl Into<String>, inner: impl RawSubscription) -> Self {
        Subscriber {
            subject: subject.into(),
            inner: Box::new(inner),
        }
    }

    /// The subscribed subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Stops new deliveries; the stream ends after already-received messages.
    pub async fn drain(&mut self) -> Result<()> {
        self.inner.drain().await
    }

    /// Stops at once.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.inner.unsubscribe().await
    }

    /// Polls for the next message into `slot`; see [`RawSubscription::poll_next_into`].
    pub fn poll_next_into(&mut self, cx: &mut Context<'_>, slot: &mut Message) -> Poll<bool> {
        self.inner.poll_next_into(cx, slot)
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Stream for Subscriber {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Turns a reply carrying `Nats-Service-Error` headers into [`Error::Service`].
pub(crate) fn check_service_error(subject: &str, reply: Message) -> Result<Message> {
    match reply.headers.get(SERVICE_ERROR_HEADER) {
        None => Ok(reply),
        Some(message) => Err(Error::Service {
            subject: subject.to_owned(),
            code: reply
                .headers
                .get(SERVICE_ERROR_CODE_HEADER)
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(500),
            message: message.to_owned(),
        }),
    }
}

/// A shared broker, as handed to services.
pub type SharedBroker = Arc<dyn Broker>;
