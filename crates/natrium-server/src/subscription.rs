//! One client subscription, as stored in the subject index.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::accounts::route::ImportRoute;
use crate::client::Client;
use crate::internal::Sink;

/// A subscription: who gets the message and under which `sid`.
pub(crate) struct Subscription {
    pub client: Arc<Client>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Set for a server-internal subscriber: messages go to it, not to `client`'s buffer.
    pub sink: Option<Arc<dyn Sink>>,
    /// Set for an import's subscription: messages go on to another account.
    pub import: Option<Arc<ImportRoute>>,
    /// Auto-unsubscribe after this many deliveries (`UNSUB sid max`); 0 = never.
    max: AtomicU64,
    delivered: AtomicU64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("cid", &self.client.cid)
            .field("subject", &String::from_utf8_lossy(&self.subject))
            .field("sid", &String::from_utf8_lossy(&self.sid))
            .field("internal", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

/// What a delivery attempt on a subscription with a limit may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Deliver; more may follow.
    Deliver,
    /// Deliver; this was the last one, remove the subscription.
    DeliverLast,
    /// The limit is already reached; do not deliver.
    Exhausted,
}

impl Subscription {
    pub(crate) fn new(
        client: Arc<Client>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Self {
        Subscription {
            client,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: sid.into(),
            sink: None,
            import: None,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// A server-internal subscription, owned by the server's internal client.
    pub(crate) fn internal(
        client: Arc<Client>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        sink: Arc<dyn Sink>,
    ) -> Self {
        Subscription {
            sink: Some(sink),
            ..Subscription::new(client, subject, queue, sid)
        }
    }

    /// An import's subscription (see [`ImportRoute`]), owned by the server's internal client.
    pub(crate) fn import(client: Arc<Client>, subject: &[u8], route: ImportRoute) -> Self {
        Subscription {
            import: Some(Arc::new(route)),
            ..Subscription::new(client, subject, None, b"import")
        }
    }

    /// Sets the auto-unsubscribe limit. Returns true when it is already reached.
    pub(crate) fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Release);
        max > 0 && self.delivered.load(Ordering::Acquire) >= max
    }

    /// Messages delivered so far (for monitoring).
    pub(crate) fn delivered(&self) -> u64 {
        let n = self.delivered.load(Ordering::Relaxed);
        match self.max() {
            0 => n,
            // Claims past the limit are refused, not delivered.
            max => n.min(max),
        }
    }

    /// The auto-unsubscribe limit; 0 = none.
    pub(crate) fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Claims one delivery slot.
    pub(crate) fn claim(&self) -> Slot {
        // Counted for every subscription: a later `UNSUB sid max` counts earlier deliveries.
        let n = self.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        let max = self.max.load(Ordering::Acquire);
        if max == 0 {
            return Slot::Deliver;
        }
        match n.cmp(&max) {
            std::cmp::Ordering::Less => Slot::Deliver,
            std::cmp::Ordering::Equal => Slot::DeliverLast,
            std::cmp::Ordering::Greater => Slot::Exhausted,
        }
    }
}

/// A shared subscription handle compared by identity, as the subject index needs.
#[derive(Debug, Clone)]
pub(crate) struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
