//! Delivery: routing one message to the subscriptions it matches, appending it to each
//! subscriber's outbound buffer (or handing it to an internal subscriber), and what a batch
//! of deliveries leaves to do at its end.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use natrium_sublist::{LocalMatchCache, Matches};
use natrium_wire::{Sizes, encode_hmsg, encode_hmsg_sized, encode_msg, encode_msg_sized};

use crate::accounts::Account;
use crate::client::{Client, CloseReason};
use crate::internal::{AfterBatch, InMsg, Outgoing};
use crate::outbound::Appended;
use crate::state::Shared;
use crate::subscription::{Slot, SubRef, Subscription};

/// Counts gathered during one read batch, added to the shared atomics once per batch.
#[derive(Default)]
pub(crate) struct Batch {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// Writers to wake and counts to publish at the end of a batch.
#[derive(Default)]
pub(crate) struct Fanout {
    pub touched: Vec<Arc<Client>>,
    /// Subscribers whose buffers are nearly full: the publisher waits for them before
    /// reading more.
    pub stalled: Vec<Arc<Client>>,
    pub batch: Batch,
    /// What internal subscribers (JetStream) left for the end of the batch.
    pub after: AfterBatch,
}

/// One message being routed.
pub(crate) struct Msg<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The PUB/HPUB's size fields as the client wrote them, copied into MSG/HMSG like
    /// nats-server (`PUB foo 002` is delivered as `MSG foo 1 002`); `None` for messages
    /// the server makes, whose sizes are written in decimal.
    pub raw_sizes: Option<Sizes<'a>>,
    /// The subject written in MSG lines when it is not the one routed on: JetStream
    /// delivers a stored message to a consumer's subject under the message's own subject.
    pub shown_as: Option<&'a [u8]>,
}

/// The publishing side of a delivery.
#[derive(Clone, Copy)]
pub(crate) struct Publisher<'a> {
    pub shared: &'a Shared,
    pub client: &'a Client,
    pub echo: bool,
    /// The account the message is routed in.
    pub account: &'a Account,
    /// Accounts the message already went through by imports (0 for the publisher's own).
    pub hops: u8,
}

impl Publisher<'_> {
    /// Appends `msg` to `sub`'s connection. Returns whether it was queued.
    pub(crate) fn deliver(&self, out: &mut Fanout, sub: &Arc<Subscription>, msg: &Msg<'_>) -> bool {
        if let Some(route) = &sub.import {
            return self.forward(out, route, msg);
        }
        if let Some(sink) = &sub.sink {
            let Msg {
                subject,
                reply,
                headers,
                payload,
                shown_as,
                ..
            } = *msg;
            let msg = InMsg {
                subject: shown_as.unwrap_or(subject),
                reply,
                headers,
                payload,
            };
            return sink.receive(&msg, &mut out.after);
        }
        let target = &sub.client;
        if !self.echo && target.cid == self.client.cid {
            return false;
        }
        if let Some(filter) = target.deny_delivery.get()
            && filter.denies(msg.subject)
        {
            return false;
        }
        let slot = sub.claim();
        if slot == Slot::Exhausted {
            return false;
        }
        let Msg {
            subject,
            reply,
            headers,
            payload,
            raw_sizes,
            shown_as,
        } = *msg;
        let subject = shown_as.unwrap_or(subject);
        let (appended, bytes) = match headers {
            Some(h) if target.wants_headers() => {
                let size = h.len() + payload.len();
                let res = target.outbound.append(Some(size), |b| match raw_sizes {
                    Some(sizes) => {
                        encode_hmsg_sized(b, subject, &sub.sid, reply, sizes, h, payload)
                    }
                    None => encode_hmsg(b, subject, &sub.sid, reply, h, payload),
                });
                (res, size)
            }
            // Headers are stripped for subscribers that did not ask for them (the size is
            // then the payload's own, not the one written).
            _ => {
                let res = target
                    .outbound
                    .append(Some(payload.len()), |b| match raw_sizes {
                        Some(sizes) if headers.is_none() => {
                            encode_msg_sized(b, subject, &sub.sid, reply, sizes.total, payload)
                        }
                        _ => encode_msg(b, subject, &sub.sid, reply, payload),
                    });
                (res, payload.len())
            }
        };
        if slot == Slot::DeliverLast {
            remove_subscription(self.shared, sub);
        }
        match appended {
            Appended::QueuedWakeNeeded => out.touched.push(target.clone()),
            Appended::Queued => {}
            Appended::Closed => return false,
            Appended::SlowConsumer => {
                slow_consumer(self.shared, target);
                return false;
            }
        }
        // A subscriber with `allow_responses` may now answer on the reply subject.
        if let Some(reply) = reply
            && let Some(responses) = target.responses.get()
        {
            responses.record(reply);
        }
        if target.outbound.stalling() && !out.stalled.iter().any(|c| c.cid == target.cid) {
            out.stalled.push(target.clone());
        }
        out.batch.out_msgs += 1;
        out.batch.out_bytes += bytes as u64;
        true
    }
}

/// Lookups a connection made recently (see [`LocalMatchCache`]): hits cost no shared lock
/// or counter.
pub(crate) type MatchCache = LocalMatchCache<SubRef>;

impl Publisher<'_> {
    /// Routes `msg` to every plain subscription it matches and to one member of each queue
    /// group. Returns whether anyone took it.
    pub(crate) fn route(&self, cache: &mut MatchCache, out: &mut Fanout, msg: &Msg<'_>) -> bool {
        let matches = cache.matches(&self.account.sublist, msg.subject);
        self.deliver_matches(matches, out, msg)
    }

    /// Delivers `msg` to every plain subscription of `matches` and to one member of each
    /// queue group. Returns whether anyone took it.
    pub(crate) fn deliver_matches(
        &self,
        matches: &Matches<SubRef>,
        out: &mut Fanout,
        msg: &Msg<'_>,
    ) -> bool {
        let mut delivered = false;
        for sub in &matches.plain {
            delivered |= self.deliver(out, &sub.0, msg);
        }
        for group in &matches.queues {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            // A random member; if it can't take the message (echo off, limit reached,
            // closing), the next one.
            let start = fastrand::usize(..n);
            for i in 0..n {
                if self.deliver(out, &group.members[(start + i) % n].0, msg) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }
}

/// Rounds of internal work one batch may chain (an acknowledgement that itself lands in a
/// stream leaves work for another round); a bound, so a loop of streams cannot spin.
const MAX_INTERNAL_ROUNDS: usize = 8;

impl Fanout {
    /// Does what internal subscribers left for the end of the batch: flushes, then their
    /// acknowledgements and replies, published by the server's internal client in
    /// `account` (the batch's publisher's: the acknowledged client is there).
    pub(crate) fn complete_internal(
        &mut self,
        shared: &Shared,
        account: &Account,
        cache: &mut MatchCache,
    ) {
        let from = Publisher {
            shared,
            client: &shared.internal_client,
            echo: true,
            account,
            hops: 0,
        };
        for _ in 0..MAX_INTERNAL_ROUNDS {
            if self.after.is_empty() {
                return;
            }
            let work = std::mem::take(&mut self.after);
            work.complete(|subject, headers, payload| {
                let msg = Msg {
                    subject,
                    reply: None,
                    headers,
                    payload,
                    raw_sizes: None,
                    shown_as: None,
                };
                from.route(cache, self, &msg);
            });
        }
        if !self.after.is_empty() {
            tracing::warn!("internal messages kept feeding streams; the rest is dropped");
            self.after = AfterBatch::default();
        }
    }

    /// Adds the batch's delivery counts to the server's counters, then wakes every writer the
    /// batch touched (in this order, so a client that sees a delivery also sees it counted).
    pub(crate) fn publish_counts_and_wake(&mut self, shared: &Shared) {
        let b = std::mem::take(&mut self.batch);
        if b.out_msgs > 0 {
            shared
                .counters
                .out_msgs
                .fetch_add(b.out_msgs, Ordering::Relaxed);
            shared
                .counters
                .out_bytes
                .fetch_add(b.out_bytes, Ordering::Relaxed);
        }
        for client in self.touched.drain(..) {
            client.outbound.wake();
        }
    }
}

/// Sends messages as the server itself (JetStream's replies, acknowledgements and
/// deliveries, the system account's events), by `client` into `account`, outside any
/// client's batch: every writer they touch is woken once. Returns how many reached at least
/// one subscriber.
pub(crate) fn publish_internal(
    shared: &Shared,
    client: &Client,
    account: &Account,
    msgs: &[Outgoing],
) -> usize {
    let mut out = Fanout::default();
    let mut cache = MatchCache::default();
    let from = Publisher {
        shared,
        client,
        echo: true,
        account,
        hops: 0,
    };
    let mut reached = 0;
    for m in msgs {
        let msg = Msg {
            subject: &m.to,
            reply: m.reply.as_deref(),
            headers: m.headers.as_deref(),
            payload: &m.payload,
            raw_sizes: None,
            shown_as: m.subject.as_deref(),
        };
        if from.route(&mut cache, &mut out, &msg) {
            reached += 1;
        }
    }
    out.complete_internal(shared, account, &mut cache);
    // The server does not wait for slow subscribers: max_pending still bounds them.
    out.stalled.clear();
    out.publish_counts_and_wake(shared);
    reached
}

/// Removes `sub` from the subject index and from its connection's table.
pub(crate) fn remove_subscription(shared: &Shared, sub: &Arc<Subscription>) {
    shared.account_of(&sub.client).sublist.remove(
        &sub.subject,
        sub.queue.as_deref(),
        &SubRef(sub.clone()),
    );
    let mut subs = sub.client.subs.lock();
    if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
        subs.remove(&sub.sid);
    }
}

/// Cuts off a connection whose outbound buffer is full: counted, logged, closed at once.
pub(crate) fn slow_consumer(shared: &Shared, client: &Client) {
    if client.set_close_reason(CloseReason::SlowConsumerPendingBytes) {
        shared.count_slow_consumer(client);
        tracing::warn!(
            "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
            client,
            shared.opts.max_pending
        );
    }
    client.outbound.close();
    client.kill.cancel();
}
