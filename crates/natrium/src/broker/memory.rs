//! [`MemoryBroker`]: an in-process [`Broker`] with NATS semantics, for tests and
//! single-process setups. Wildcards, queue groups (one member per message),
//! request/reply, headers and "no responders" behave as on a NATS server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{
    Broker, DEFAULT_REQUEST_TIMEOUT, Gather, RawSubscription, Subscriber, check_service_error,
    subject,
};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::middleware::{
    Middleware, Outbound, OutboundKind, Transmit, publish_through, request_many_through,
    request_through,
};

/// An in-process broker. Clones share the same subject space.
#[derive(Clone)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

struct Inner {
    codec: Codec,
    request_timeout: Duration,
    layers: Vec<Arc<dyn Middleware>>,
    space: Arc<Space>,
}

/// The shared subject space: every live subscription.
#[derive(Default)]
struct Space {
    subs: Mutex<Vec<Entry>>,
    next_id: AtomicU64,
    next_inbox: AtomicU64,
    round_robin: AtomicUsize,
    closed: AtomicBool,
}

struct Entry {
    id: u64,
    pattern: String,
    queue: Option<String>,
    tx: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("codec", &self.inner.codec)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBroker {
    /// A broker with the JSON codec and a 5 s request timeout.
    pub fn new() -> Self {
        MemoryBroker {
            inner: Arc::new(Inner {
                codec: Codec::Json,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                layers: Vec::new(),
                space: Arc::new(Space::default()),
            }),
        }
    }

    fn rebuild(&self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            codec: self.inner.codec,
            request_timeout: self.inner.request_timeout,
            layers: self.inner.layers.clone(),
            space: self.inner.space.clone(),
        };
        f(&mut inner);
        MemoryBroker {
            inner: Arc::new(inner),
        }
    }

    /// The same subject space, with another codec.
    pub fn with_codec(&self, codec: Codec) -> Self {
        self.rebuild(|i| i.codec = codec)
    }

    /// The same subject space, with another default request timeout.
    pub fn with_request_timeout(&self, timeout: Duration) -> Self {
        self.rebuild(|i| i.request_timeout = timeout)
    }

    /// The same subject space, with one more outbound middleware.
    pub fn with_layer(&self, middleware: impl Middleware) -> Self {
        self.rebuild(|i| i.layers.push(Arc::new(middleware)))
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.space.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}

impl Space {
    /// Delivers to every plain subscriber and one member per queue group; returns how
    /// many subscriptions received the message.
    fn deliver(&self, msg: &Message) -> usize {
        let subs = self.subs.lock();
        let mut delivered = 0;
        let mut groups: Vec<(&str, Vec<&Entry>)> = Vec::new();
        for entry in subs
            .iter()
            .filter(|e| subject::matches(&e.pattern, &msg.subject))
        {
            match &entry.queue {
                None => {
                    if entry.tx.send(msg.clone()).is_ok() {
                        delivered += 1;
                    }
                }
                Some(q) => match groups.iter_mut().find(|(name, _)| name == q) {
                    Some((_, members)) => members.push(entry),
                    None => groups.push((q, vec![entry])),
                },
            }
        }
        for (_, members) in groups {
            let pick = self.round_robin.fetch_add(1, Ordering::Relaxed) % members.len();
            if members[pick].tx.send(msg.clone()).is_ok() {
                delivered += 1;
            }
        }
        delivered
    }

    fn add(self: &Arc<Self>, pattern: &str, queue: Option<&str>) -> MemorySubscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subs.lock().push(Entry {
            id,
            pattern: pattern.to_owned(),
            queue: queue.map(str::to_owned),
            tx,
        });
        MemorySubscription {
            id,
            space: self.clone(),
            rx,
        }
    }

    fn remove(&self, id: u64) {
        self.subs.lock().retain(|e| e.id != id);
    }

    fn new_inbox(&self) -> String {
        format!(
            "_INBOX.mem.{}",
            self.next_inbox.fetch_add(1, Ordering::Relaxed)
        )
    }
}

#[async_trait]
impl Transmit for Inner {
    async fn transmit(&self, outbound: Outbound) -> Result<Vec<Message>> {
        let Outbound { message, kind } = outbound;
        subject::validate_publish(&message.subject)?;
        message.headers.validate()?;
        let subj = message.subject.clone();
        match kind {
            OutboundKind::Publish => {
                self.space.deliver(&message);
                Ok(Vec::new())
            }
            OutboundKind::Request { timeout } => {
                let inbox = self.space.new_inbox();
                let mut sub = self.space.add(&inbox, None);
                if self.space.deliver(&message.with_reply(inbox)) == 0 {
                    return Err(Error::NoResponders { subject: subj });
                }
                match tokio::time::timeout(timeout, sub.next()).await {
                    Ok(Some(reply)) => Ok(vec![check_service_error(&subj, reply)?]),
                    Ok(None) => Err(Error::Closed),
                    Err(_) => Err(Error::Timeout {
                        subject: subj,
                        timeout,
                    }),
                }
            }
            OutboundKind::RequestMany(gather) => {
                let deadline = tokio::time::Instant::now() + gather.timeout;
                let inbox = self.space.new_inbox();
                let mut sub = self.space.add(&inbox, None);
                if self.space.deliver(&message.with_reply(inbox)) == 0 {
                    return Err(Error::NoResponders { subject: subj });
                }
                let mut replies = Vec::new();
                while gather.max_replies.is_none_or(|max| replies.len() < max) {
                    match tokio::time::timeout_at(deadline, sub.next()).await {
                        Ok(Some(reply)) => replies.push(reply),
                        Ok(None) | Err(_) => break,
                    }
                }
                Ok(replies)
            }
            OutboundKind::DurablePublish { .. } => Err(Error::Unsupported {
                what: "JetStream",
                broker: "MemoryBroker",
            }),
        }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
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
        if let Some(q) = queue {
            subject::validate_queue(q)?;
        }
        Ok(Subscriber::new(subj, self.inner.space.add(subj, queue)))
    }

    async fn flush(&self) -> Result<()> {
        // Delivery is synchronous: everything published has already been delivered.
        self.check_open()
    }

    async fn close(&self) -> Result<()> {
        let space = &self.inner.space;
        space.closed.store(true, Ordering::Release);
        // Dropping the senders ends each stream after its already-delivered messages.
        space.subs.lock().clear();
        Ok(())
    }
}

struct MemorySubscription {
    id: u64,
    space: Arc<Space>,
    rx: mpsc::UnboundedReceiver<Message>,
}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        self.space.remove(self.id);
    }
}

impl futures::Stream for MemorySubscription {
    type Item = Message;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Message>> {
        self.rx.poll_recv(cx)
    }
}

impl RawSubscription for MemorySubscription {
    fn drain(&mut self) -> BoxFuture<'_, Result<()>> {
        self.space.remove(self.id);
        futures::future::ready(Ok(())).boxed()
    }

    fn unsubscribe(&mut self) -> BoxFuture<'_, Result<()>> {
        self.space.remove(self.id);
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        futures::future::ready(Ok(())).boxed()
    }
}
