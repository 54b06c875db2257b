//! The server as JetStream (and other internal subscribers' owners) sees it: a
//! [`crate::internal::Port`] into one account's subject index.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::client::Client;
use crate::state::Shared;
use crate::subscription::SubRef;

/// The server as internal subscribers' owners see it (see [`crate::internal::Port`]), in
/// one account: subscriptions go in that account's subject index and messages are published
/// there, by an internal client of the account.
pub(crate) struct ServerPort {
    shared: std::sync::Weak<Shared>,
    /// Owns the subscriptions and publishes; its account is the port's.
    client: Arc<Client>,
}

impl ServerPort {
    /// A port into `account`.
    pub(crate) fn new(shared: &Arc<Shared>, account: &Arc<crate::accounts::Account>) -> Self {
        let client = Client::internal(shared.opts.max_pending);
        let _ = client.account.set(account.clone());
        ServerPort {
            shared: Arc::downgrade(shared),
            client: Arc::new(client),
        }
    }
}

impl crate::internal::Port for ServerPort {
    fn subscribe(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sink: Arc<dyn crate::internal::Sink>,
    ) -> Option<crate::internal::InternalSub> {
        let shared = self.shared.upgrade()?;
        let n = shared.next_internal_sid.fetch_add(1, Ordering::Relaxed);
        let sid = n.to_string();
        let sub = Arc::new(crate::subscription::Subscription::internal(
            self.client.clone(),
            subject,
            queue,
            sid.as_bytes(),
            sink,
        ));
        shared
            .account_of(&self.client)
            .sublist
            .insert(subject, queue, SubRef(sub.clone()))
            .ok()?;
        self.client
            .subs
            .lock()
            .insert(sid.as_bytes().into(), sub.clone());
        Some(crate::internal::InternalSub(sub))
    }

    fn unsubscribe(&self, sub: &crate::internal::InternalSub) {
        if let Some(shared) = self.shared.upgrade() {
            crate::connection::deliver::remove_subscription(&shared, &sub.0);
        }
    }

    fn send(&self, msgs: &[crate::internal::Outgoing]) -> usize {
        match self.shared.upgrade() {
            Some(shared) => {
                let account = shared.account_of(&self.client);
                crate::connection::deliver::publish_internal(&shared, &self.client, account, msgs)
            }
            None => 0,
        }
    }

    fn has_interest(&self, subject: &[u8]) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|shared| shared.account_of(&self.client).has_interest(subject))
    }

    fn wake_on_interest(&self, subject: &[u8], wake: std::sync::Weak<tokio::sync::Notify>) {
        if let Some(shared) = self.shared.upgrade() {
            shared
                .account_of(&self.client)
                .interest_waiters
                .wait(subject, wake);
        }
    }
}
