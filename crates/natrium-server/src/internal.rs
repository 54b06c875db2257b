//! Server-internal subscribers (JetStream's API and streams): what they receive, and the work
//! they leave for the end of the publisher's read batch.
//!
//! An internal subscriber sits in the subject index like a client's subscription, but a
//! matching message is handed to its [`Sink`] in the publisher's own task, with no copy into
//! an outbound buffer. A stream appends the message to its store there and asks for an
//! acknowledgement to be sent once the store has handed the batch to the OS
//! ([`AfterBatch::ack_after_flush`]): one write per batch, however many messages it held.

use std::sync::Arc;

/// A message as an internal subscriber sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InMsg<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The header block (`NATS/1.0\r\n...\r\n\r\n`), when the message has one.
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

/// A server-internal subscriber.
pub(crate) trait Sink: Send + Sync {
    /// Takes one message, in the publisher's task. Must not block on I/O: writes are
    /// buffered and left to [`Durable::flush`] at the end of the batch. Returns whether it
    /// took the message (a request nobody took gets the no-responders status).
    fn receive(&self, msg: &InMsg<'_>, after: &mut AfterBatch) -> bool;
}

/// Something that buffers writes and makes them durable in one go (a stream's store).
pub(crate) trait Durable: Send + Sync {
    /// Hands everything buffered to the OS (and syncs, if the policy says so). On failure,
    /// returns the payload every waiting acknowledgement gets instead (an error ack).
    fn flush(&self) -> Result<(), Vec<u8>>;
}

/// A message the server publishes itself (a reply or an acknowledgement).
#[derive(Debug)]
pub(crate) struct Reply {
    pub subject: Vec<u8>,
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// Acknowledgements waiting for one [`Durable`]'s flush.
struct Pending {
    target: Arc<dyn Durable>,
    /// Reply subjects and the payloads they get when the flush succeeds.
    acks: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Work internal subscribers leave for the end of the batch: flushes with the
/// acknowledgements that wait for them, then plain replies.
#[derive(Default)]
pub(crate) struct AfterBatch {
    pending: Vec<Pending>,
    replies: Vec<Reply>,
}

impl AfterBatch {
    /// Sends `payload` to `reply` once `target` has flushed (or its error ack if it fails).
    pub(crate) fn ack_after_flush(
        &mut self,
        target: &Arc<dyn Durable>,
        reply: &[u8],
        payload: Vec<u8>,
    ) {
        let ack = (reply.to_vec(), payload);
        match self
            .pending
            .iter_mut()
            .find(|p| Arc::ptr_eq(&p.target, target))
        {
            Some(p) => p.acks.push(ack),
            None => self.pending.push(Pending {
                target: Arc::clone(target),
                acks: vec![ack],
            }),
        }
    }

    /// Flushes `target` at the end of the batch, with no acknowledgement waiting for it.
    pub(crate) fn flush(&mut self, target: &Arc<dyn Durable>) {
        if !self.pending.iter().any(|p| Arc::ptr_eq(&p.target, target)) {
            self.pending.push(Pending {
                target: Arc::clone(target),
                acks: Vec::new(),
            });
        }
    }

    /// Publishes `reply` at the end of the batch, after the flushes.
    pub(crate) fn reply(&mut self, reply: Reply) {
        self.replies.push(reply);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.replies.is_empty()
    }

    /// Runs the flushes and hands every resulting message to `send`, in order: each
    /// flush's acknowledgements, then the plain replies.
    pub(crate) fn complete(self, mut send: impl FnMut(&[u8], Option<&[u8]>, &[u8])) {
        for p in self.pending {
            let result = p.target.flush();
            for (reply, ok) in &p.acks {
                match &result {
                    Ok(()) => send(reply, None, ok),
                    Err(error) => send(reply, None, error),
                }
            }
        }
        for r in &self.replies {
            send(&r.subject, r.headers.as_deref(), &r.payload);
        }
    }
}

/// What an internal subscriber's owner (JetStream) may ask of the server: subscribe,
/// unsubscribe and publish, without knowing about connections.
pub(crate) trait Port: Send + Sync {
    /// Adds an internal subscription; `None` when the subject is invalid.
    fn subscribe(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sink: Arc<dyn Sink>,
    ) -> Option<InternalSub>;
    /// Removes an internal subscription.
    fn unsubscribe(&self, sub: &InternalSub);
    /// Publishes a message as the server (to clients and internal subscribers alike).
    fn publish(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        self.send(&[Outgoing {
            to: subject.to_vec(),
            subject: None,
            reply: reply.map(<[u8]>::to_vec),
            headers: headers.map(bytes::Bytes::copy_from_slice),
            payload: bytes::Bytes::copy_from_slice(payload),
        }]);
    }
    /// Sends messages as the server, waking each receiving writer once. Returns how many
    /// reached at least one subscriber.
    fn send(&self, msgs: &[Outgoing]) -> usize;
    /// Whether anyone is subscribed to `subject`.
    fn has_interest(&self, subject: &[u8]) -> bool;
    /// Wakes `wake` once a client subscribes to a subject that matches `subject` (check
    /// [`Port::has_interest`] after asking, for one that came just before).
    fn wake_on_interest(&self, subject: &[u8], wake: std::sync::Weak<tokio::sync::Notify>);
}

/// A message the server sends on its own.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The subject it is routed on.
    pub to: Vec<u8>,
    /// The subject shown to receivers, when not `to` (a stored message delivered to a
    /// consumer keeps its own subject).
    pub subject: Option<bytes::Bytes>,
    pub reply: Option<Vec<u8>>,
    pub headers: Option<bytes::Bytes>,
    pub payload: bytes::Bytes,
}

/// A handle on an internal subscription, for [`Port::unsubscribe`].
#[derive(Debug, Clone)]
pub(crate) struct InternalSub(pub(crate) Arc<crate::subscription::Subscription>);
