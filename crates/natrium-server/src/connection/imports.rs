//! Delivery across accounts: a message matched by an import's internal subscription goes
//! on in the account the import leads to (a stream import's copy, a service request with a
//! reply subject that leads back, an answer to the requester).

use std::sync::Arc;

use tokio::time::Instant;

use super::deliver::{Fanout, Msg, Publisher};
use crate::accounts::Account;
use crate::accounts::route::{ImportRoute, PendingReply};

/// How many accounts one message may pass through (imports of imports). Load-time checks
/// refuse service import cycles; this bounds what they cannot see (stream import loops).
const MAX_HOPS: u8 = 8;

/// Requests in flight through service imports, per account, before expired ones are swept
/// out (requests nobody answered would otherwise stay forever).
const SWEEP_AT: usize = 1024;

impl Publisher<'_> {
    /// Delivers `msg`, matched by an import's subscription, into the account the import
    /// leads to. Returns whether anyone there took it.
    pub(crate) fn forward(&self, out: &mut Fanout, route: &ImportRoute, msg: &Msg<'_>) -> bool {
        if self.hops >= MAX_HOPS {
            tracing::warn!(
                subject = %String::from_utf8_lossy(msg.subject),
                "message dropped: it went through {MAX_HOPS} account imports"
            );
            return false;
        }
        match route {
            ImportRoute::Stream { into, map } => {
                let Some(account) = into.upgrade() else {
                    return false;
                };
                let mut subject = Vec::new();
                map.apply(msg.subject, &mut subject);
                let mapped = Msg {
                    subject: &subject,
                    raw_sizes: None,
                    ..*msg
                };
                self.deliver_in(&account, out, &mapped)
            }
            ImportRoute::Service {
                into,
                from,
                map,
                singleton,
                threshold,
            } => {
                let Some(account) = into.upgrade() else {
                    return false;
                };
                let mut subject = Vec::new();
                map.apply(msg.subject, &mut subject);
                let reply = msg.reply.map(|reply| {
                    let mut ours = account.reply_prefix.to_vec();
                    ours.extend_from_slice(nuid::next().as_bytes());
                    let pending = PendingReply {
                        to: from.clone(),
                        reply: reply.into(),
                        singleton: *singleton,
                        expires: Instant::now() + *threshold,
                    };
                    let mut responses = account.responses.lock();
                    if responses.len() >= SWEEP_AT {
                        let now = Instant::now();
                        responses.retain(|_, p| p.expires > now);
                    }
                    responses.insert(ours.clone().into(), pending);
                    ours
                });
                let request = Msg {
                    subject: &subject,
                    reply: reply.as_deref(),
                    raw_sizes: None,
                    ..*msg
                };
                let delivered = self.deliver_in(&account, out, &request);
                if !delivered && let Some(reply) = &reply {
                    // Nobody will answer: do not keep the way back.
                    account.responses.lock().remove(reply.as_slice());
                }
                delivered
            }
            ImportRoute::Responses { account } => {
                let Some(account) = account.upgrade() else {
                    return false;
                };
                let (to, reply) = {
                    let mut responses = account.responses.lock();
                    let Some(pending) = responses.get(msg.subject) else {
                        return false;
                    };
                    if pending.expires <= Instant::now() {
                        responses.remove(msg.subject);
                        return false;
                    }
                    let way_back = (pending.to.clone(), pending.reply.clone());
                    if pending.singleton {
                        responses.remove(msg.subject);
                    }
                    way_back
                };
                let Some(to) = to.upgrade() else {
                    return false;
                };
                // The answer's own reply subject means nothing in the requester's account.
                let answer = Msg {
                    subject: &reply,
                    reply: None,
                    raw_sizes: None,
                    ..*msg
                };
                self.deliver_in(&to, out, &answer)
            }
        }
    }

    /// Routes `msg` in `account` (one hop further) without the publisher's match cache,
    /// which belongs to its own account.
    fn deliver_in(&self, account: &Arc<Account>, out: &mut Fanout, msg: &Msg<'_>) -> bool {
        let matches = account.sublist.matches(msg.subject);
        let next = Publisher {
            account,
            hops: self.hops + 1,
            ..*self
        };
        next.deliver_matches(&matches, out, msg)
    }
}
