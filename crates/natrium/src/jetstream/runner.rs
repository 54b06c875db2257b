//! One durable route at work: pulls from its consumer, runs the handler chain, and turns
//! the outcome into the JetStream ack (see [`Route::durable`](crate::Route::durable)).
//!
//! Stop keeps the at-least-once contract: stop pulling, NAK what was pulled but not started
//! (redelivered at once to another instance), let in-flight handlers finish and ack, then
//! confirm the acks with a round trip before the connection closes. Whatever was not acked
//! is redelivered after `ack_wait`, never lost.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::message::Acker;
use futures::{FutureExt, StreamExt};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::app::AppContext;
use crate::broker::Broker;
use crate::codec::Codec;
use crate::message::Message;
use crate::middleware::{Endpoint, Middleware, Next};
use crate::transport::request::StateMap;
use crate::transport::runner::RouteRuntime;
use crate::transport::{
    CANCEL_GRACE, Ctx, DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER,
    DEAD_LETTER_REASON_HEADER, DEAD_LETTER_SUBJECT_HEADER, HandlerError, HandlerErrorKind,
    HandlerRequest, HandlerResult, SubscriptionStats,
};

use super::delivery::{Delivery, DeliveryEvent};
use super::publish::PublishOptions;

/// Pulled ahead of the handlers unless [`Route::prefetch`](crate::Route::prefetch) says
/// otherwise (at least the route's concurrency).
pub(crate) const DEFAULT_PREFETCH: usize = 64;

/// The durable part of a [`Route`](crate::Route).
#[derive(Clone, Debug)]
pub(crate) struct DurableSpec {
    pub(crate) stream: String,
    pub(crate) consumer: pull::Config,
    pub(crate) double_ack: bool,
    pub(crate) prefetch: Option<usize>,
}

/// What the handler's outcome means for the message.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ack,
    Nak(Duration),
    /// Dead-letter (when the route has a subject), then terminate.
    GiveUp,
}

/// Runs one durable route.
pub(crate) struct DurableRunner {
    pub(crate) rt: Arc<RouteRuntime>,
    pub(crate) spec: DurableSpec,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) client: async_nats::Client,
    pub(crate) layers: Arc<[Arc<dyn Middleware>]>,
    pub(crate) states: Arc<StateMap>,
    pub(crate) codec: Codec,
    pub(crate) ctx: AppContext,
    pub(crate) handler_ctx: Ctx,
    pub(crate) server: String,
    /// The consumer's ack wait as the server reports it.
    pub(crate) ack_wait: Duration,
    /// The consumer's `max_deliver` (`<= 0`: unlimited).
    pub(crate) max_deliver: i64,
    /// How many handlers run at once: the route's concurrency, at most `max_ack_pending`.
    pub(crate) limit: usize,
    /// A stream captures the dead-letter subject (looked up at start): publish durably.
    pub(crate) dead_letter_stored: bool,
}

impl DurableRunner {
    /// Pulls and handles until `stop` fires, then winds down (see the module docs).
    pub(crate) async fn run(self: Arc<Self>, consumer: PullConsumer, stop: CancellationToken) {
        let prefetch = self
            .spec
            .prefetch
            .unwrap_or(DEFAULT_PREFETCH)
            .max(self.limit);
        let messages = consumer
            .stream()
            .max_messages_per_batch(prefetch)
            .messages()
            .await;
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(err) => {
                self.ctx.fail(
                    self.server.clone(),
                    format!("cannot pull from {}: {err}", self.name()),
                );
                return;
            }
        };
        let mut tasks = JoinSet::new();
        'pull: loop {
            while tasks.len() >= self.limit {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break 'pull,
                    _ = tasks.join_next() => {}
                }
            }
            if stop.is_cancelled() {
                break;
            }
            // Under load a message is already buffered: take it without registering for the
            // stop (a cancellation wait takes a lock).
            let next = match messages.next().now_or_never() {
                Some(next) => next,
                None => tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    next = messages.next() => next,
                },
            };
            match next {
                // One at a time: in this task, without a task per message.
                Some(Ok(message)) if self.limit == 1 => {
                    if !self.handle_inline(message).await {
                        break;
                    }
                }
                Some(Ok(message)) => {
                    let this = self.clone();
                    tasks.spawn(async move { this.handle(message).await });
                }
                // async-nats reports missed heartbeats and pull errors and keeps pulling
                // (it also rides through reconnects); only the end of the stream is fatal.
                Some(Err(err)) => {
                    tracing::warn!(route = %self.name(), error = %err, "pull consumer error");
                }
                None => {
                    self.ctx.fail(
                        self.server.clone(),
                        format!("pull consumer {} ended unexpectedly", self.name()),
                    );
                    break;
                }
            }
            while tasks.try_join_next().is_some() {}
        }
        // Stop pulling. What was pulled but not started goes back at once, but only once the
        // server has our unsubscribe: it hands a NAKed message to any waiting pull request
        // that still has interest, and ours would be dropped with the subscription.
        let mut unstarted = Vec::new();
        while let Some(Some(next)) = messages.next().now_or_never() {
            if let Ok(message) = next {
                unstarted.push(message);
            }
        }
        drop(messages);
        if !unstarted.is_empty() {
            if let Err(err) = self.client.flush().await {
                tracing::warn!(route = %self.name(), error = %err, "unsubscribe not confirmed");
            }
            let mut returned = 0usize;
            for message in unstarted {
                if message.ack_with(AckKind::Nak(None)).await.is_ok() {
                    returned += 1;
                }
            }
            tracing::info!(route = %self.name(), returned, "stopped; pulled messages not started were NAKed for redelivery");
        }
        self.finish_in_flight(tasks).await;
        // Acks are plain publishes: a round trip proves the server has them all.
        if let Err(err) = self.broker.flush().await {
            tracing::warn!(route = %self.name(), error = %err, "acks of in-flight messages not confirmed");
        }
    }

    fn name(&self) -> String {
        format!(
            "{} > {}",
            self.spec.stream,
            self.rt.info.queue.as_deref().unwrap_or("?")
        )
    }

    /// Lets in-flight handlers finish; past the stop timeout (their `Ctx` cancelled) they
    /// get [`CANCEL_GRACE`], then are aborted (their messages are redelivered).
    async fn finish_in_flight(&self, mut tasks: JoinSet<()>) {
        let cancel = self.ctx.cancel_token().clone();
        loop {
            tokio::select! {
                joined = tasks.join_next() => if joined.is_none() { return },
                () = cancel.cancelled() => break,
            }
        }
        let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
        while let Ok(joined) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
            if joined.is_none() {
                return;
            }
        }
        let left = tasks.len();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        tracing::warn!(route = %self.name(), aborted = left, "durable handlers ignored cancellation; aborted, their messages will be redelivered");
    }

    /// Handles one message in the pulling task; past the stop timeout the handler gets
    /// [`CANCEL_GRACE`], then is dropped (`false`: stop pulling).
    async fn handle_inline(&self, message: async_nats::jetstream::Message) -> bool {
        let cancel = self.ctx.cancel_token().clone();
        let work = self.handle(message);
        tokio::pin!(work);
        tokio::select! {
            biased;
            () = &mut work => true,
            () = cancel.cancelled() => {
                if tokio::time::timeout(CANCEL_GRACE, &mut work).await.is_err() {
                    tracing::warn!(route = %self.name(), "durable handler ignored cancellation; aborted, its message will be redelivered");
                }
                false
            }
        }
    }

    fn event(&self, event: DeliveryEvent) {
        for layer in self.layers.iter() {
            layer.on_delivery(&self.rt.info, &event);
        }
    }

    /// Handles one delivery, start to ack.
    async fn handle(&self, message: async_nats::jetstream::Message) {
        let started = Instant::now();
        let Some(delivery) = Delivery::of(&message) else {
            tracing::error!(route = %self.name(), subject = %message.subject, "message without JetStream metadata; terminated");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        };
        let span = tracing::debug_span!(
            "durable",
            route = %self.rt.info.subject,
            stream = %delivery.stream,
            consumer = %delivery.consumer,
            stream_seq = delivery.stream_sequence,
            delivered = delivery.delivered,
        );
        self.handle_delivery(message, delivery, started)
            .instrument(span)
            .await;
    }

    async fn handle_delivery(
        &self,
        message: async_nats::jetstream::Message,
        delivery: Delivery,
        started: Instant,
    ) {
        let stats = &*self.rt.stats;
        SubscriptionStats::add(stats.received(), 1, false);
        if delivery.is_redelivery() {
            SubscriptionStats::add(stats.redeliveries(), 1, false);
        }
        self.event(DeliveryEvent::Delivered {
            redelivery: delivery.is_redelivery(),
        });
        stats.start(false);
        let reply = message.reply.clone();
        let (message, acker) = message.split();
        let message = Message::from(message);
        // Kept for the dead letter (payload and headers are reference-counted).
        let original = self.rt.route.dead_letter.as_ref().map(|_| message.clone());
        let mut request = HandlerRequest {
            message,
            route: self.rt.info.clone(),
            ctx: self.handler_ctx.clone(),
            extensions: http::Extensions::new(),
            attempt: u32::try_from(delivery.delivered).unwrap_or(u32::MAX),
            codec: self.codec,
            states: self.states.clone(),
        };
        request.extensions.insert(delivery.clone());
        let result = self.call_with_progress(request, &acker).await;
        match self.verdict(&result, &delivery) {
            Verdict::Ack => {
                SubscriptionStats::add(stats.handled(), 1, false);
                self.ack(&acker).await;
            }
            Verdict::Nak(delay) => {
                if let Err(err) = &result {
                    self.failed(err, &delivery);
                }
                match acker.ack_with(AckKind::Nak(Some(delay))).await {
                    Ok(()) => {
                        SubscriptionStats::add(stats.naks(), 1, false);
                        self.event(DeliveryEvent::Nacked { delay });
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "NAK not sent; redelivered after ack_wait")
                    }
                }
            }
            Verdict::GiveUp => {
                let err = match &result {
                    Err(err) => err.clone(),
                    Ok(_) => HandlerError::new("gave up"),
                };
                self.failed(&err, &delivery);
                self.give_up(original, reply, &acker, &err, &delivery).await;
            }
        }
        stats.finish(false);
        stats.add_time(started.elapsed(), false);
    }

    /// Runs the handler chain, sending `+WPI` every half ack wait while it runs.
    async fn call_with_progress(&self, request: HandlerRequest, acker: &Acker) -> HandlerResult {
        let endpoint: &Endpoint = &*self.rt.route.endpoint;
        let work = AssertUnwindSafe(Next::new(&self.layers, endpoint).run(request)).catch_unwind();
        tokio::pin!(work);
        let done = |outcome: Result<HandlerResult, Box<dyn std::any::Any + Send>>| {
            outcome.unwrap_or_else(|panic| {
                Err(HandlerError::panic(
                    crate::transport::runner::panic_message(&*panic),
                ))
            })
        };
        // Most handlers finish at once: no progress timer for them.
        if let Some(outcome) = work.as_mut().now_or_never() {
            return done(outcome);
        }
        let every = (self.ack_wait / 2).max(Duration::from_millis(10));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                biased;
                outcome = &mut work => return done(outcome),
                _ = progress.tick() => {
                    match acker.ack_with(AckKind::Progress).await {
                        Ok(()) => {
                            SubscriptionStats::add(self.rt.stats.progress(), 1, false);
                            self.event(DeliveryEvent::InProgress);
                            tracing::debug!("handler still running; +WPI sent");
                        }
                        Err(err) => tracing::warn!(error = %err, "+WPI not sent"),
                    }
                }
            }
        }
    }

    fn verdict(&self, result: &HandlerResult, delivery: &Delivery) -> Verdict {
        let Err(err) = result else {
            return Verdict::Ack;
        };
        let last_delivery = self.max_deliver > 0
            && i64::try_from(delivery.delivered).unwrap_or(i64::MAX) >= self.max_deliver;
        if err.is_terminal() || last_delivery {
            return Verdict::GiveUp;
        }
        // Panics and handler errors are retried after the route's backoff.
        let attempt = u32::try_from(delivery.delivered).unwrap_or(u32::MAX);
        Verdict::Nak(self.rt.route.retry.delay(attempt))
    }

    async fn ack(&self, acker: &Acker) {
        let confirmed = self.spec.double_ack;
        let sent = if confirmed {
            acker.double_ack().await
        } else {
            acker.ack().await
        };
        match sent {
            Ok(()) => {
                SubscriptionStats::add(self.rt.stats.acks(), 1, false);
                self.event(DeliveryEvent::Acked { confirmed });
            }
            Err(err) => {
                tracing::warn!(route = %self.name(), error = %err, "ack not stored; the message will be redelivered")
            }
        }
    }

    /// Dead-letters (if the route has a subject) and terminates. If the dead letter cannot
    /// be published, the message is NAKed instead, so it is not lost.
    async fn give_up(
        &self,
        original: Option<Message>,
        reply: Option<async_nats::Subject>,
        acker: &Acker,
        err: &HandlerError,
        delivery: &Delivery,
    ) {
        let reason = one_line(err.message());
        if let (Some(dead), Some(msg)) = (&self.rt.route.dead_letter, original) {
            let mut headers = msg.headers.clone();
            headers.insert(DEAD_LETTER_SUBJECT_HEADER, msg.subject.clone());
            headers.insert(DEAD_LETTER_REASON_HEADER, reason.clone());
            headers.insert(DEAD_LETTER_KIND_HEADER, err.kind().to_string());
            headers.insert(DEAD_LETTER_ATTEMPTS_HEADER, delivery.delivered.to_string());
            let letter = Message::new(dead.clone(), msg.payload).with_headers(headers);
            if let Err(why) = self.send_dead_letter(letter, delivery).await {
                tracing::error!(route = %self.name(), to = %dead, error = %why, "dead letter not published; NAKed to try again");
                let delay = self.rt.route.retry.max_backoff;
                let _ = acker.ack_with(AckKind::Nak(Some(delay))).await;
                SubscriptionStats::add(self.rt.stats.naks(), 1, false);
                return;
            }
            SubscriptionStats::add(self.rt.stats.dead_lettered(), 1, false);
            self.event(DeliveryEvent::DeadLettered);
        }
        // `+TERM <reason>`: nats-server puts the reason in its termination advisory.
        let Some(reply) = reply else { return };
        let body = format!("+TERM {reason}");
        match self.client.publish(reply, body.into()).await {
            Ok(()) => {
                SubscriptionStats::add(self.rt.stats.terms(), 1, false);
                self.event(DeliveryEvent::Terminated { reason });
            }
            Err(e) => tracing::warn!(error = %e, "+TERM not sent; redelivered after ack_wait"),
        }
    }

    /// Publishes a dead letter: durably when a stream captures its subject (with a message
    /// id, so a retry after a lost PubAck is not stored twice), otherwise on core NATS.
    async fn send_dead_letter(&self, letter: Message, delivery: &Delivery) -> crate::Result<()> {
        if !self.dead_letter_stored {
            self.broker.publish_message(letter).await?;
            return self.broker.flush().await;
        }
        let id = format!(
            "dead:{}:{}:{}",
            delivery.stream, delivery.consumer, delivery.stream_sequence
        );
        self.broker
            .publish_durable_message(letter, PublishOptions::new().msg_id(id))
            .await
            .map(drop)
    }

    /// Counts and logs a failed delivery.
    fn failed(&self, err: &HandlerError, delivery: &Delivery) {
        let stats = &self.rt.stats;
        self.rt.last_error.set(err);
        let counter = match err.kind() {
            HandlerErrorKind::Decode => stats.decode_errors(),
            HandlerErrorKind::Handler => stats.errors(),
            HandlerErrorKind::Panic => stats.panics(),
            HandlerErrorKind::Timeout => stats.timeouts(),
        };
        SubscriptionStats::add(counter, 1, false);
        tracing::error!(
            server = %self.server,
            route = %self.name(),
            stream_seq = delivery.stream_sequence,
            delivered = delivery.delivered,
            kind = %err.kind(),
            terminal = err.is_terminal(),
            error = %err.message(),
            "durable message handling failed"
        );
    }
}

/// Header values (and `+TERM` reasons) cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}
