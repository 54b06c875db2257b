//! [`NatsBroker`]: the [`Broker`] on a real NATS connection (async-nats).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::config::{Auth, BrokerConfig};
use super::{Broker, Gather, RawSubscription, Subscriber, check_service_error, subject};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::middleware::{
    Middleware, Outbound, OutboundKind, Transmit, durable_publish_through, publish_through,
    request_many_through, request_through,
};

/// A [`Broker`] on a NATS connection. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct NatsBroker {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    /// JetStream on the same connection (streams, consumers, acks).
    jetstream: async_nats::jetstream::Context,
    servers: String,
    codec: Codec,
    request_timeout: Duration,
    drain_timeout: Duration,
    layers: Vec<Arc<dyn Middleware>>,
    closing: AtomicBool,
    closed: watch::Receiver<bool>,
}

impl Inner {
    /// Waits until the server has processed everything this connection sent before.
    ///
    /// async-nats' `flush` only hands the bytes to the kernel, so it proves neither that the
    /// server has a published message nor that a subscription is live. A request to a subject
    /// nobody serves is answered by the server itself ("no responders") once it has handled
    /// every earlier operation of the connection, so that answer is the confirmation.
    async fn round_trip(&self) -> std::result::Result<(), crate::error::BoxError> {
        self.client.flush().await.map_err(boxed)?;
        let subject = format!("_NATRIUM.confirm.{}", nuid::next());
        let request = async_nats::Request::new().timeout(Some(self.request_timeout));
        match self.client.send_request(subject, request).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
            Err(err) => Err(boxed(err)),
        }
    }
}

impl std::fmt::Debug for NatsBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBroker")
            .field("servers", &self.inner.servers)
            .field("codec", &self.inner.codec)
            .finish_non_exhaustive()
    }
}

impl NatsBroker {
    /// Connects with `config`. Every setting is applied; invalid ones are refused with
    /// [`Error::Config`] or [`Error::File`], and an unreachable or rejecting server gives
    /// [`Error::Connect`].
    pub async fn connect(config: BrokerConfig) -> Result<Self> {
        config.validate()?;
        let servers = config.servers.join(",");
        let (closed_tx, closed_rx) = watch::channel(false);
        let options = connect_options(&config, closed_tx).await?;
        let client = options
            .connect(config.servers.as_slice())
            .await
            .map_err(|e| Error::Connect {
                servers: servers.clone(),
                source: Box::new(e),
            })?;
        tracing::debug!(servers = %servers, codec = %config.codec, "connected to NATS");
        Ok(NatsBroker {
            inner: Arc::new(Inner {
                jetstream: async_nats::jetstream::new(client.clone()),
                client,
                servers,
                codec: config.codec,
                request_timeout: config.request_timeout,
                drain_timeout: config.drain_timeout,
                layers: config.layers,
                closing: AtomicBool::new(false),
                closed: closed_rx,
            }),
        })
    }

    /// The underlying async-nats client, for what the `Broker` trait does not cover.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closing.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}

async fn connect_options(
    config: &BrokerConfig,
    closed: watch::Sender<bool>,
) -> Result<async_nats::ConnectOptions> {
    let mut options = match &config.auth {
        Auth::None => async_nats::ConnectOptions::new(),
        Auth::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
        Auth::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        Auth::CredentialsFile(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| Error::File {
                what: "credentials",
                path: path.clone(),
                source,
            })?,
    };
    if let Some(name) = &config.name {
        options = options.name(name);
    }
    if config.tls_required() {
        options = options.require_tls(true);
    }
    if let Some(ca) = &config.tls.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &config.tls.client_cert {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    let policy = config.reconnect;
    options = options
        .max_reconnects(policy.max_reconnects)
        .reconnect_delay_callback(move |attempt| policy.delay(attempt))
        .request_timeout(Some(config.request_timeout))
        .ping_interval(config.ping_interval)
        .connection_timeout(config.connection_timeout)
        .event_callback(move |event| {
            let closed = closed.clone();
            async move {
                match &event {
                    async_nats::Event::Closed => {
                        closed.send_replace(true);
                        tracing::debug!("NATS connection closed");
                    }
                    async_nats::Event::ClientError(async_nats::ClientError::MaxReconnects) => {
                        // The client gives up: the connection is gone for good.
                        closed.send_replace(true);
                        tracing::error!("NATS reconnect attempts exhausted; connection closed");
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::Disconnected => tracing::warn!("NATS disconnected"),
                    other => tracing::warn!(event = %other, "NATS connection event"),
                }
            }
        });
    Ok(options)
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> crate::error::BoxError {
    Box::new(e)
}

#[async_trait]
impl Transmit for Inner {
    async fn transmit(&self, outbound: Outbound) -> Result<Vec<Message>> {
        let Outbound { message, kind } = outbound;
        let Message {
            subject: subj,
            reply,
            headers,
            payload,
        } = message;
        subject::validate_publish(&subj)?;
        let map = headers.to_header_map()?;
        match kind {
            OutboundKind::Publish => {
                let result = match reply {
                    Some(reply) => {
                        self.client
                            .publish_with_reply_and_headers(subj.clone(), reply, map, payload)
                            .await
                    }
                    None => {
                        self.client
                            .publish_with_headers(subj.clone(), map, payload)
                            .await
                    }
                };
                result.map_err(|e| Error::Publish {
                    subject: subj,
                    source: boxed(e),
                })?;
                Ok(Vec::new())
            }
            OutboundKind::Request { timeout } => {
                let mut request = async_nats::Request::new()
                    .payload(payload)
                    .timeout(Some(timeout));
                if !map.is_empty() {
                    request = request.headers(map);
                }
                match self.client.send_request(subj.clone(), request).await {
                    Ok(reply) => Ok(vec![check_service_error(&subj, reply.into())?]),
                    Err(e) => Err(match e.kind() {
                        async_nats::RequestErrorKind::TimedOut => Error::Timeout {
                            subject: subj,
                            timeout,
                        },
                        async_nats::RequestErrorKind::NoResponders => {
                            Error::NoResponders { subject: subj }
                        }
                        _ => Error::Request {
                            subject: subj,
                            source: boxed(e),
                        },
                    }),
                }
            }
            OutboundKind::RequestMany(gather) => self.gather(subj, map, payload, gather).await,
            OutboundKind::DurablePublish { timeout } => {
                // A JetStream publish is a request answered by the stream that stores it.
                let request = async_nats::Request::new()
                    .payload(payload)
                    .headers(map.clone())
                    .timeout(Some(timeout));
                match self.client.send_request(subj.clone(), request).await {
                    Ok(reply) => {
                        let reply = Message::from(reply);
                        let sent = crate::headers::Headers::from(&map);
                        crate::jetstream::parse_pub_ack(&subj, &sent, &reply)?;
                        Ok(vec![reply])
                    }
                    Err(e) => Err(match e.kind() {
                        async_nats::RequestErrorKind::TimedOut => Error::Timeout {
                            subject: subj,
                            timeout,
                        },
                        async_nats::RequestErrorKind::NoResponders => {
                            Error::NoStream { subject: subj }
                        }
                        _ => Error::Publish {
                            subject: subj,
                            source: boxed(e),
                        },
                    }),
                }
            }
        }
    }
}

impl Inner {
    async fn gather(
        &self,
        subj: String,
        headers: async_nats::HeaderMap,
        payload: bytes::Bytes,
        gather: Gather,
    ) -> Result<Vec<Message>> {
        let deadline = tokio::time::Instant::now() + gather.timeout;
        let inbox = self.client.new_inbox();
        let request_error = |e: crate::error::BoxError| Error::Request {
            subject: subj.clone(),
            source: e,
        };
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| request_error(boxed(e)))?;
        self.client
            .publish_with_reply_and_headers(subj.clone(), inbox, headers, payload)
            .await
            .map_err(|e| request_error(boxed(e)))?;
        let mut replies = Vec::new();
        while gather.max_replies.is_none_or(|max| replies.len() < max) {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(msg)) => {
                    if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                        if replies.is_empty() {
                            return Err(Error::NoResponders { subject: subj });
                        }
                        break;
                    }
                    replies.push(Message::from(msg));
                }
                Ok(None) => break,
                Err(_elapsed) => break,
            }
        }
        let _ = sub.unsubscribe().await;
        Ok(replies)
    }
}

#[async_trait]
impl Broker for NatsBroker {
    fn codec(&self) -> Codec {
        self.inner.codec
    }

    fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    async fn publish_message(&self, message: Message) -> Result<()> {
        self.check_open()?;
        publish_through(&self.inner.layers, &*self.inner, message).await
    }

    async fn request_message(&self, message: Message, timeout: Duration) -> Result<Message> {
        self.check_open()?;
        request_through(&self.inner.layers, &*self.inner, message, timeout).await
    }

    async fn request_many(&self, message: Message, gather: Gather) -> Result<Vec<Message>> {
        self.check_open()?;
        request_many_through(&self.inner.layers, &*self.inner, message, gather).await
    }

    async fn subscribe(&self, subj: &str, queue: Option<&str>) -> Result<Subscriber> {
        self.check_open()?;
        subject::validate_subscribe(subj)?;
        let sub_error = |e: crate::error::BoxError| Error::Subscribe {
            subject: subj.to_owned(),
            source: e,
        };
        let sub = match queue {
            Some(q) => {
                subject::validate_queue(q)?;
                self.inner
                    .client
                    .queue_subscribe(subj.to_owned(), q.to_owned())
                    .await
            }
            None => self.inner.client.subscribe(subj.to_owned()).await,
        }
        .map_err(|e| sub_error(boxed(e)))?;
        // The SUB is only known to be live once the server answered a round trip after it.
        self.inner.round_trip().await.map_err(sub_error)?;
        Ok(Subscriber::new(subj, NatsSubscription(sub)))
    }

    async fn publish_durable_message(
        &self,
        mut message: Message,
        options: crate::jetstream::PublishOptions,
    ) -> Result<crate::jetstream::PubAck> {
        self.check_open()?;
        options.apply(&mut message.headers);
        let subject = message.subject.clone();
        let sent = message.headers.clone();
        let timeout = options.timeout_or_default();
        let reply =
            durable_publish_through(&self.inner.layers, &*self.inner, message, timeout).await?;
        crate::jetstream::parse_pub_ack(&subject, &sent, &reply)
    }

    fn jetstream(&self) -> Option<async_nats::jetstream::Context> {
        Some(self.inner.jetstream.clone())
    }

    fn server_url(&self) -> Option<String> {
        let first = self.inner.servers.split(',').next()?.trim();
        let (scheme, rest) = first.split_once("://").unwrap_or(("nats", first));
        // Credentials in the URL must not end up in a registry.
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        Some(format!("{scheme}://{host}"))
    }

    async fn flush(&self) -> Result<()> {
        self.check_open()?;
        self.inner.round_trip().await.map_err(Error::Flush)
    }

    async fn close(&self) -> Result<()> {
        let mut closed = self.inner.closed.clone();
        let already_closed = *closed.borrow();
        if !self.inner.closing.swap(true, Ordering::AcqRel) && !already_closed {
            self.inner
                .client
                .drain()
                .await
                .map_err(|e| Error::Flush(boxed(e)))?;
        }
        // Drain ends with the connection closing; bound the wait so close never hangs.
        // A dropped sender also means the connection task is gone, i.e. closed.
        tokio::time::timeout(self.inner.drain_timeout, closed.wait_for(|c| *c))
            .await
            .map(drop)
            .map_err(|_| Error::DrainTimeout(self.inner.drain_timeout))
    }
}

struct NatsSubscription(async_nats::Subscriber);

impl futures::Stream for NatsSubscription {
    type Item = Message;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Message>> {
        self.0.poll_next_unpin(cx).map(|m| m.map(Message::from))
    }
}

impl RawSubscription for NatsSubscription {
    fn poll_next_into(
        &mut self,
        cx: &mut std::task::Context<'_>,
        slot: &mut Message,
    ) -> std::task::Poll<bool> {
        self.0.poll_next_unpin(cx).map(|next| match next {
            Some(mut message) => {
                slot.fill_from(&mut message);
                true
            }
            None => false,
        })
    }

    fn drain(&mut self) -> BoxFuture<'_, Result<()>> {
        async move {
            self.0.drain().await.map_err(|e| Error::Subscribe {
                subject: "(drain)".into(),
                source: boxed(e),
            })
        }
        .boxed()
    }

    fn unsubscribe(&mut self) -> BoxFuture<'_, Result<()>> {
        async move {
            self.0.unsubscribe().await.map_err(|e| Error::Subscribe {
                subject: "(unsubscribe)".into(),
                source: boxed(e),
            })
        }
        .boxed()
    }
}
