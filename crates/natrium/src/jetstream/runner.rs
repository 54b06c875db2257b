//! One durable route at work: pulls from its consumer, runs the handler chain, and turns
//! the outcome into the JetStream ack (see [`Route::durable`](crate::Route::durable)).
//!
//! Stop keeps the at-least-once contract: stop pulling, NAK what was pulled but not started
//! (redelivered at once to another instance), let in-flight handlers finish and ack, then
//! confirm the acks with a round trip before the connection closes. Whatever was not acked
//! is redelivered after `ack_wait`, never lost.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::message::Acker;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::app::AppContext;
use crate::broker::Broker;
use crate::codec::Codec;
use crate::message::Message;
use crate::middleware::{Endpoint, Middleware, Next};
use crate::transport::request::{
    Ctx, HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, StateMap,
};
use crate::transport::runner::{
    CANCEL_GRACE, DEAD_LETTER_ATTEMPTS_HEADER, DEAD_LETTER_KIND_HEADER, DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_SUBJECT_HEADER, RouteRuntime, StopListener,
};
use crate::transport::stats::SubscriptionStats;

use super::delivery::{Delivery, DeliveryEvent, delivery_count};
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

/// A delivery taken into the request (see [`DurableRunner::take`]).
struct Taken {
    delivered: u64,
    /// Only when a subscriber wants debug spans.
    span: Option<tracing::Span>,
}

/// The processing time of a route handling one message at a time, measured per run of
/// back-to-back messages: a message taken from the buffer starts when the previous one
/// ended, so the run's span is the sum of its messages' times, for two clock reads per
/// run instead of two per message.
#[derive(Default)]
struct RunClock {
    started: Option<Instant>,
    messages: u32,
}

impl RunClock {
    /// Processing time is added at least this often during a run.
    const ADD_EVERY: u32 = 128;

    fn message_starts(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    fn message_ended(&mut self, stats: &SubscriptionStats) {
        self.messages += 1;
        if self.messages == Self::ADD_EVERY {
            let now = Instant::now();
            if let Some(started) = self.started.replace(now) {
                stats.add_time(now - started, true);
            }
            self.messages = 0;
        }
    }

    /// The run ended: nothing is buffered, or the route stops.
    fn idle(&mut self, stats: &SubscriptionStats) {
        if let Some(started) = self.started.take() {
            stats.add_time(started.elapsed(), true);
        }
        self.messages = 0;
    }
}

/// Runs one durable route.
pub(crate) struct DurableRunner {
    pub(crate) rt: Arc<RouteRuntime>,
    pub(crate) spec: DurableSpec,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) client: async_nats::Client,
    /// The context the consumer was made with (`client` is its client).
    pub(crate) js: async_nats::jetstream::Context,
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
    /// Runs the route through the middleware chain around `endpoint` (used when layers
    /// are installed; without them, the handler is called directly through
    /// [`DurableRunner::run`]).
    pub(crate) fn run_chained(
        self: Arc<Self>,
        consumer: PullConsumer,
        stop: StopListener,
        endpoint: Arc<Endpoint>,
    ) -> BoxFuture<'static, ()> {
        let layers = self.layers.clone();
        // The dead letter needs the message after the handler.
        let keep = self.rt.options.dead_letter.is_some();
        let call = move |request: &mut HandlerRequest| -> BoxFuture<'static, HandlerResult> {
            let message = if keep {
                request.message.clone()
            } else {
                std::mem::take(&mut request.message)
            };
            let owned = HandlerRequest {
                message,
                route: request.route.clone(),
                ctx: request.ctx.clone(),
                extensions: http::Extensions::new(),
                attempt: request.attempt,
                codec: request.codec,
                states: request.states.clone(),
                delivery: request.delivery.clone(),
            };
            let (layers, endpoint) = (layers.clone(), endpoint.clone());
            Box::pin(async move { Next::new(&layers, &*endpoint).run(owned).await })
        };
        self.run(consumer, stop, call).boxed()
    }

    /// Pulls and handles until `stop` fires, then winds down (see the module docs); calls
    /// the handler with `call`.
    pub(crate) async fn run<C, Fut>(
        self: Arc<Self>,
        consumer: PullConsumer,
        mut stop: StopListener,
        call: C,
    ) where
        C: Fn(&mut HandlerRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
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
        let call = Arc::new(call);
        // One at a time, all messages share one request (see `DurableRunner::handle`).
        let mut request = self.request();
        let mut clock = RunClock::default();
        let mut tasks = JoinSet::new();
        'pull: loop {
            while tasks.len() >= self.limit {
                let stopped = std::future::poll_fn(|cx| {
                    if stop.poll_stopped(cx) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                });
                tokio::select! {
                    biased;
                    () = stopped => break 'pull,
                    _ = tasks.join_next() => {}
                }
            }
            if stop.stopped() {
                break;
            }
            // Under load a message is already buffered: take it without registering for the
            // stop.
            let mut next = match messages.next().now_or_never() {
                Some(next) => next,
                None => {
                    clock.idle(&self.rt.stats);
                    let next = std::future::poll_fn(|cx| {
                        if stop.poll_stopped(cx) {
                            return Poll::Ready(None);
                        }
                        messages.poll_next_unpin(cx).map(Some)
                    });
                    match next.await {
                        Some(next) => next,
                        None => break,
                    }
                }
            };
            match next {
                // One at a time: in this task, without a task per message.
                // (The message is large: taken by reference, not moved again.)
                Some(Ok(ref mut message)) if self.limit == 1 => {
                    clock.message_starts();
                    match self.take(message, &mut request) {
                        Some(taken) => {
                            if !self.handle_inline(taken, &mut request, &*call).await {
                                break;
                            }
                        }
                        None => Box::pin(self.reject(message)).await,
                    }
                    clock.message_ended(&self.rt.stats);
                }
                Some(Ok(mut message)) => {
                    let (this, call) = (self.clone(), call.clone());
                    tasks.spawn(async move {
                        let started = Instant::now();
                        let mut request = this.request();
                        match this.take(&mut message, &mut request) {
                            Some(taken) => {
                                let work = this.handle(taken.delivered, &mut request, &*call);
                                match taken.span {
                                    None => work.await,
                                    Some(span) => work.instrument(span).await,
                                }
                            }
                            None => this.reject(&message).await,
                        }
                        this.rt.stats.add_time(started.elapsed(), false);
                    });
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
        clock.idle(&self.rt.stats);
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

    /// A request for this route's messages; [`DurableRunner::handle`] fills it.
    fn request(&self) -> HandlerRequest {
        HandlerRequest {
            message: Message::default(),
            route: self.rt.info.clone(),
            ctx: self.handler_ctx.clone(),
            extensions: http::Extensions::new(),
            attempt: 1,
            codec: self.codec,
            states: self.states.clone(),
            delivery: None,
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
    async fn handle_inline<C, Fut>(
        &self,
        taken: Taken,
        request: &mut HandlerRequest,
        call: &C,
    ) -> bool
    where
        C: Fn(&mut HandlerRequest) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        // Pinned where it is made: a handling future is large, and moving it costs.
        let delivered = taken.delivered;
        match taken.span {
            None => {
                let work = std::pin::pin!(self.handle(delivered, request, call));
                self.finish_inline(work).await
            }
            Some(span) => {
                Box::pin(async move {
                    let work = self.handle(delivered, request, call).instrument(span);
                    self.finish_inline(std::pin::pin!(work)).await
                })
                .await
            }
        }
    }

    /// Drives `work`, a handler in the pulling task (see [`DurableRunner::handle_inline`]).
    async fn finish_inline<W: Future<Output = ()>>(&self, mut work: std::pin::Pin<&mut W>) -> bool {
        // Most handlers finish at once; only a pending one needs to watch the stop.
        if work.as_mut().now_or_never().is_some() {
            return true;
        }
        tokio::select! {
            biased;
            () = &mut work => true,
            () = self.ctx.cancel_token().cancelled() => {
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

    /// Counts a delivery and moves it into `request` (its message and delivery are
    /// replaced; a request reused for the next message keeps its allocations).
    /// `None`: not a JetStream message.
    fn take(
        &self,
        message: &mut async_nats::jetstream::Message,
        request: &mut HandlerRequest,
    ) -> Option<Taken> {
        let reply = message.reply.as_deref()?;
        let delivered = delivery_count(reply)?;
        // Without a subscriber that wants it, not even a disabled span is made.
        let span =
            tracing::level_enabled!(tracing::Level::DEBUG).then(|| self.span(reply, delivered));
        let stats = &*self.rt.stats;
        // The only task counting for this route: plain stores instead of atomic adds.
        let exclusive = self.limit == 1;
        let redelivery = delivered > 1;
        SubscriptionStats::add(stats.received(), 1, exclusive);
        if redelivery {
            SubscriptionStats::add(stats.redeliveries(), 1, exclusive);
        }
        self.event(DeliveryEvent::Delivered { redelivery });
        stats.start(exclusive);
        // The request keeps the `$JS.ACK` subject; acks go out on the runner's client (the
        // consumer's), so this message's JetStream context is not needed.
        request.delivery = message.message.reply.take();
        request.message.fill_from(&mut message.message);
        request.attempt = u32::try_from(delivered).unwrap_or(u32::MAX);
        Some(Taken { delivered, span })
    }

    /// The debug span of one delivery.
    #[cold]
    fn span(&self, reply: &str, delivered: u64) -> tracing::Span {
        let Some(delivery) = Delivery::parse(reply) else {
            return tracing::Span::none();
        };
        tracing::debug_span!(
            "durable",
            route = %self.rt.info.subject,
            stream = %delivery.stream,
            consumer = %delivery.consumer,
            stream_seq = delivery.stream_sequence,
            delivered,
        )
    }

    #[cold]
    async fn reject(&self, message: &async_nats::jetstream::Message) {
        tracing::error!(route = %self.name(), subject = %message.subject, "message without JetStream metadata; terminated");
        let _ = message.ack_with(AckKind::Term).await;
    }

    /// Handles a delivery [`DurableRunner::take`] put in `request`: calls the handler,
    /// then acks, NAKs or gives up.
    ///
    /// Rare paths (a pending handler, a failure, a confirmed ack) run in boxed futures:
    /// inline, their state would make this future several times larger, and it is moved
    /// for every message.
    async fn handle<C, Fut>(&self, delivered: u64, request: &mut HandlerRequest, call: &C)
    where
        C: Fn(&mut HandlerRequest) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        let result = self.call_with_progress(request, call).await;
        match self.verdict(&result, delivered) {
            Verdict::Ack => {
                SubscriptionStats::add(self.rt.stats.handled(), 1, self.limit == 1);
                if let Some(reply) = &request.delivery {
                    self.ack(reply).await;
                }
            }
            verdict => Box::pin(self.failed_delivery(verdict, result, request)).await,
        }
        self.rt.stats.finish(self.limit == 1);
        // An idle route should hold nothing: the payload may pin the client's read buffer.
        request.message.payload = bytes::Bytes::new();
        request.delivery = None;
    }

    /// NAKs, or dead-letters and terminates, a delivery whose handler failed.
    async fn failed_delivery(
        &self,
        verdict: Verdict,
        result: HandlerResult,
        request: &HandlerRequest,
    ) {
        // `take` parsed it: a failure here would be a bug, not bad input.
        let Some((reply, delivery)) = request
            .delivery
            .as_ref()
            .and_then(|reply| Some((reply, Delivery::parse(reply)?)))
        else {
            tracing::error!(route = %self.name(), "delivery metadata lost; redelivered after ack_wait");
            return;
        };
        let err = match result {
            Err(err) => err,
            Ok(_) => HandlerError::new("gave up"),
        };
        self.failed(&err, &delivery);
        let acker = self.acker(reply);
        match verdict {
            Verdict::Ack => {}
            Verdict::Nak(delay) => match acker.ack_with(AckKind::Nak(Some(delay))).await {
                Ok(()) => {
                    SubscriptionStats::add(self.rt.stats.naks(), 1, false);
                    self.event(DeliveryEvent::Nacked { delay });
                }
                Err(err) => {
                    tracing::warn!(error = %err, "NAK not sent; redelivered after ack_wait")
                }
            },
            Verdict::GiveUp => {
                self.give_up(&request.message, reply, &acker, &err, &delivery)
                    .await
            }
        }
    }

    /// Runs the handler chain, sending `+WPI` every half ack wait while it runs.
    async fn call_with_progress<C, Fut>(
        &self,
        request: &mut HandlerRequest,
        call: &C,
    ) -> HandlerResult
    where
        C: Fn(&mut HandlerRequest) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        // A panic in the extraction (in `call`) or in the handler is an error. The future
        // does not borrow the request, which stays readable while it runs.
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| call(request))) {
            Err(panic) => Err(panic),
            Ok(work) => {
                let mut work = std::pin::pin!(AssertUnwindSafe(work).catch_unwind());
                // Most handlers finish at once: no progress timer for them.
                match work.as_mut().now_or_never() {
                    Some(outcome) => outcome,
                    None => {
                        let reply = request.delivery.as_ref();
                        Box::pin(self.progress_until_done(work, reply)).await
                    }
                }
            }
        };
        outcome.unwrap_or_else(|panic| {
            Err(HandlerError::panic(
                crate::transport::runner::panic_message(&*panic),
            ))
        })
    }

    /// Waits for a pending handler, sending `+WPI` to `reply` every half ack wait.
    async fn progress_until_done<W: Future>(
        &self,
        mut work: std::pin::Pin<&mut W>,
        reply: Option<&async_nats::Subject>,
    ) -> W::Output {
        let Some(acker) = reply.map(|reply| self.acker(reply)) else {
            return work.await;
        };
        let every = (self.ack_wait / 2).max(Duration::from_millis(10));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                biased;
                outcome = &mut work => return outcome,
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

    fn verdict(&self, result: &HandlerResult, delivered: u64) -> Verdict {
        let Err(err) = result else {
            return Verdict::Ack;
        };
        let last_delivery = self.max_deliver > 0
            && i64::try_from(delivered).unwrap_or(i64::MAX) >= self.max_deliver;
        if err.is_terminal() || last_delivery {
            return Verdict::GiveUp;
        }
        // Panics and handler errors are retried after the route's backoff.
        let attempt = u32::try_from(delivered).unwrap_or(u32::MAX);
        Verdict::Nak(self.rt.options.retry.delay(attempt))
    }

    /// For the rare acks: NAK, `+TERM`, `+WPI`, double ack.
    fn acker(&self, reply: &async_nats::Subject) -> Acker {
        Acker::new(self.js.clone(), Some(reply.clone()))
    }

    async fn ack(&self, reply: &async_nats::Subject) {
        let confirmed = self.spec.double_ack;
        let sent: Result<(), async_nats::Error> = if confirmed {
            Box::pin(async { self.acker(reply).double_ack().await }).await
        } else {
            // What `Acker::ack` sends, without an `Acker` per message.
            self.client
                .publish(reply.clone(), bytes::Bytes::new())
                .await
                .map_err(Into::into)
        };
        match sent {
            Ok(()) => {
                SubscriptionStats::add(self.rt.stats.acks(), 1, self.limit == 1);
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
        msg: &Message,
        reply: &async_nats::Subject,
        acker: &Acker,
        err: &HandlerError,
        delivery: &Delivery,
    ) {
        let reason = one_line(err.message());
        if let Some(dead) = &self.rt.options.dead_letter {
            let mut headers = msg.headers.clone();
            headers.insert(DEAD_LETTER_SUBJECT_HEADER, msg.subject.clone());
            headers.insert(DEAD_LETTER_REASON_HEADER, reason.clone());
            headers.insert(DEAD_LETTER_KIND_HEADER, err.kind().to_string());
            headers.insert(DEAD_LETTER_ATTEMPTS_HEADER, delivery.delivered.to_string());
            let letter = Message::new(dead.clone(), msg.payload.clone()).with_headers(headers);
            if let Err(why) = self.send_dead_letter(letter, delivery).await {
                tracing::error!(route = %self.name(), to = %dead, error = %why, "dead letter not published; NAKed to try again");
                let delay = self.rt.options.retry.max_backoff;
                let _ = acker.ack_with(AckKind::Nak(Some(delay))).await;
                SubscriptionStats::add(self.rt.stats.naks(), 1, false);
                return;
            }
            SubscriptionStats::add(self.rt.stats.dead_lettered(), 1, false);
            self.event(DeliveryEvent::DeadLettered);
        }
        // `+TERM <reason>`: nats-server puts the reason in its termination advisory.
        let body = format!("+TERM {reason}");
        match self.client.publish(reply.clone(), body.into()).await {
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
