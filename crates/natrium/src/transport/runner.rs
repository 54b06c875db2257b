//! One subscription at work: takes messages, calls the handler, replies, retries,
//! dead-letters and counts.
//!
//! The loop is generic over how the handler is called. Without middleware it calls the
//! handler directly (the route's erased handler compiles the loop for the handler's own
//! type): no boxed future, and one [`HandlerRequest`] per
//! subscription that each message is moved into, instead of a new one per message. With
//! middleware, each attempt gets its own request and goes through [`Next`].
//!
//! The dead-letter headers and [`CANCEL_GRACE`] live here, with the code that uses them
//! (the durable runner uses them too).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::AppContext;
use crate::broker::{Broker, SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER, Subscriber};
use crate::codec::Codec;
use crate::headers::Headers;
use crate::message::Message;
use crate::middleware::{Endpoint, Middleware, Next};

use super::options::RouteOptions;
use super::request::{
    Ctx, HandlerError, HandlerErrorKind, HandlerRequest, HandlerResult, RouteInfo, RouteKind,
    StateMap,
};
use super::service_api::LastError;
use super::stats::SubscriptionStats;

/// Header on dead letters: the subject the message was first published on.
pub const DEAD_LETTER_SUBJECT_HEADER: &str = "Natrium-Dead-Letter-Subject";
/// Header on dead letters: why the last attempt failed.
pub const DEAD_LETTER_REASON_HEADER: &str = "Natrium-Dead-Letter-Reason";
/// Header on dead letters: the failure kind (`decode`, `handler`, `panic`, `timeout`).
pub const DEAD_LETTER_KIND_HEADER: &str = "Natrium-Dead-Letter-Kind";
/// Header on dead letters: how many attempts were made.
pub const DEAD_LETTER_ATTEMPTS_HEADER: &str = "Natrium-Dead-Letter-Attempts";

/// How long handlers have to return after their [`Ctx`] is cancelled before they are
/// aborted.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// A registration while a server holds it: what it is, its options, its counters and its
/// last error.
pub(crate) struct RouteRuntime {
    pub(crate) info: Arc<RouteInfo>,
    pub(crate) options: RouteOptions,
    pub(crate) stats: Arc<SubscriptionStats>,
    pub(crate) last_error: Arc<LastError>,
}

/// Tells the runners to stop taking messages.
#[derive(Clone, Default)]
pub(crate) struct Drain {
    inner: Arc<DrainInner>,
}

#[derive(Default)]
struct DrainInner {
    flag: AtomicBool,
    /// For tasks that simply await the drain (the service API, [`Drain::follow`]).
    token: CancellationToken,
    listeners: Mutex<Vec<Arc<AtomicWaker>>>,
}

impl Drain {
    pub(crate) fn start(&self) {
        self.inner.flag.store(true, Ordering::Release);
        self.inner.token.cancel();
        for waker in self.inner.listeners.lock().iter() {
            waker.wake();
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.inner.token
    }

    /// A listener for one runner.
    pub(crate) fn listener(&self) -> StopListener {
        let waker = Arc::new(AtomicWaker::new());
        self.inner.listeners.lock().push(waker.clone());
        StopListener {
            drain: self.inner.clone(),
            waker,
            registered: None,
        }
    }

    /// Drains also when `cancel` fires without a stop (in an app, stop always comes
    /// first); ends with the drain.
    pub(crate) async fn follow(self, cancel: CancellationToken) {
        tokio::select! {
            _ = cancel.cancelled() => self.start(),
            _ = self.inner.token.cancelled() => {}
        }
    }
}

/// One runner's view of the [`Drain`]. Checked before every message and polled whenever
/// the runner waits, so it is a flag and an [`AtomicWaker`] registered once per task,
/// not a cancellation token (whose checks and registrations take locks).
pub(crate) struct StopListener {
    drain: Arc<DrainInner>,
    waker: Arc<AtomicWaker>,
    registered: Option<Waker>,
}

impl StopListener {
    pub(crate) fn stopped(&self) -> bool {
        self.drain.flag.load(Ordering::Acquire)
    }

    /// Whether the drain started; otherwise arranges for `cx` to be woken when it does.
    pub(crate) fn poll_stopped(&mut self, cx: &mut Context<'_>) -> bool {
        // `Drain::start` wakes the registered waker once and only then; a runner's task
        // keeps its waker, so registering again is needed only if it changed.
        if !self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.waker.register(cx.waker());
            self.registered = Some(cx.waker().clone());
        }
        self.stopped()
    }
}

/// Runs one subscription.
pub(crate) struct Runner {
    pub(crate) rt: Arc<RouteRuntime>,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) layers: Arc<[Arc<dyn Middleware>]>,
    pub(crate) states: Arc<StateMap>,
    /// The broker's codec, read once.
    pub(crate) codec: Codec,
    pub(crate) ctx: AppContext,
    /// Shared by the requests of this subscription (cloning it is one reference count).
    pub(crate) handler_ctx: Ctx,
    pub(crate) server: String,
}

/// Whether the chain path must copy the message for later (a retry, a reply, a dead
/// letter, or to log the subject of a wildcard match) or may move it into the request.
fn keeps_message(rt: &RouteRuntime) -> bool {
    let options = &rt.options;
    options.retry.max_attempts > 1
        || options.dead_letter.is_some()
        || rt.info.kind == RouteKind::Reply
        || rt
            .info
            .subject
            .split('.')
            .any(|token| token == "*" || token == ">")
}

impl Runner {
    /// Runs the subscription through the middleware chain around `endpoint` (used when
    /// layers are installed; without them, the handler is called directly through
    /// [`Runner::run`]).
    pub(crate) fn run_chained(
        self,
        sub: Subscriber,
        stop: StopListener,
        endpoint: Arc<Endpoint>,
    ) -> BoxFuture<'static, ()> {
        let layers = self.layers.clone();
        let keep = keeps_message(&self.rt);
        let call = move |request: &mut HandlerRequest| -> BoxFuture<'static, HandlerResult> {
            let message = if keep {
                request.message.clone()
            } else {
                // Nothing needs it afterwards: move it (see `Runner::subject_of`).
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
        self.run(sub, stop, call).boxed()
    }

    /// Runs the subscription, calling the handler with `call`.
    pub(crate) async fn run<C, Fut>(self, sub: Subscriber, stop: StopListener, call: C)
    where
        C: Fn(&mut HandlerRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let this = Arc::new(self);
        if this.rt.options.concurrency == 1 {
            this.run_inline(sub, stop, call).await;
        } else {
            this.run_parallel(sub, stop, Arc::new(call)).await;
        }
    }

    fn request(&self, message: Message) -> HandlerRequest {
        HandlerRequest {
            message,
            route: self.rt.info.clone(),
            ctx: self.handler_ctx.clone(),
            extensions: http::Extensions::new(),
            attempt: 1,
            codec: self.codec,
            states: self.states.clone(),
            delivery: None,
        }
    }

    /// Takes the next message into `slot` if one is already buffered: `Some(true)`.
    /// `Some(false)`: the server stops or the subscription ended (the latter fails the
    /// app). `None`: nothing buffered, wait with [`Runner::next_waiting`].
    fn next_buffered(
        &self,
        sub: &mut Subscriber,
        stop: &StopListener,
        slot: &mut Message,
        exclusive: bool,
    ) -> Option<bool> {
        if stop.stopped() {
            return Some(false);
        }
        // Under load the client has messages buffered: take one without registering
        // for the stop.
        match sub.poll_next_into(&mut Context::from_waker(Waker::noop()), slot) {
            Poll::Ready(received) => Some(self.taken(received, exclusive)),
            Poll::Pending => None,
        }
    }

    /// Waits for the next message (see [`Runner::next_buffered`]) or the stop.
    async fn next_waiting(
        &self,
        sub: &mut Subscriber,
        stop: &mut StopListener,
        slot: &mut Message,
        exclusive: bool,
    ) -> bool {
        let next = std::future::poll_fn(|cx| {
            if stop.poll_stopped(cx) {
                return Poll::Ready(None);
            }
            sub.poll_next_into(cx, slot).map(Some)
        })
        .await;
        next.is_some_and(|received| self.taken(received, exclusive))
    }

    /// Counts a message taken, or fails the app when the subscription ended.
    fn taken(&self, received: bool, exclusive: bool) -> bool {
        if received {
            SubscriptionStats::add(self.rt.stats.received(), 1, exclusive);
        } else {
            self.ended();
        }
        received
    }

    #[cold]
    fn ended(&self) {
        self.ctx.fail(
            self.server.clone(),
            format!(
                "subscription to {} ended unexpectedly",
                self.rt.info.subject
            ),
        );
    }

    /// Concurrency 1: each message is handled in the subscription's own task, in order,
    /// without a task per message, all in one reused [`HandlerRequest`].
    async fn run_inline<C, Fut>(&self, mut sub: Subscriber, mut stop: StopListener, call: C)
    where
        C: Fn(&mut HandlerRequest) -> Fut + Send + Sync,
        Fut: Future<Output = HandlerResult> + Send,
    {
        /// Processing time is added at least this often during a run of messages.
        const ADD_TIME_EVERY: u32 = 128;
        let stats = &*self.rt.stats;
        let cancel = self.ctx.cancel_token().clone();
        let mut request = self.request(Message::default());
        // Processing time is measured per run of back-to-back messages rather than per
        // message: a message taken from the buffer starts when the previous one ended, so
        // the run's span is the sum of its messages' times, for two clock reads per run.
        let mut run_started: Option<Instant> = None;
        let mut in_run = 0;
        loop {
            let slot = &mut request.message;
            let received = match self.next_buffered(&mut sub, &stop, slot, true) {
                Some(received) => received,
                None => {
                    // Idle: the run of back-to-back messages ended.
                    if let Some(started) = run_started.take() {
                        stats.add_time(started.elapsed(), true);
                    }
                    in_run = 0;
                    self.next_waiting(&mut sub, &mut stop, slot, true).await
                }
            };
            if !received {
                break;
            }
            let started = *run_started.get_or_insert_with(Instant::now);
            let work = self.process(&mut request, &call, true);
            tokio::pin!(work);
            // Most handlers finish at once; only a pending one needs to watch the stop.
            if work.as_mut().now_or_never().is_none() {
                let finished = tokio::select! {
                    biased;
                    () = &mut work => true,
                    () = cancel.cancelled() => {
                        // Stop timeout passed: the handler's Ctx is cancelled; give it the
                        // grace period, then abort it by dropping it.
                        tokio::time::timeout(CANCEL_GRACE, &mut work).await.is_ok()
                    }
                };
                if !finished {
                    tracing::warn!(subject = %self.rt.info.subject, aborted = 1, "handlers ignored cancellation; aborted");
                    break;
                }
            }
            in_run += 1;
            if in_run == ADD_TIME_EVERY {
                let now = Instant::now();
                stats.add_time(now - started, true);
                run_started = Some(now);
                in_run = 0;
            }
        }
        if let Some(started) = run_started {
            stats.add_time(started.elapsed(), true);
        }
        self.unsubscribe(&mut sub).await;
    }

    /// Concurrency N > 1: up to N handler tasks run at once (in parallel on the runtime).
    async fn run_parallel<C, Fut>(
        self: Arc<Self>,
        mut sub: Subscriber,
        mut stop: StopListener,
        call: Arc<C>,
    ) where
        C: Fn(&mut HandlerRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let limit = self.rt.options.concurrency;
        let cancel = self.ctx.cancel_token().clone();
        let mut tasks = JoinSet::new();
        loop {
            // Take a message only when it can be processed now.
            while tasks.len() >= limit {
                let stopped = std::future::poll_fn(|cx| {
                    if stop.poll_stopped(cx) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                });
                tokio::select! {
                    biased;
                    _ = tasks.join_next() => {}
                    () = stopped => break,
                }
            }
            if tasks.len() >= limit {
                break;
            }
            let mut msg = Message::default();
            let received = match self.next_buffered(&mut sub, &stop, &mut msg, false) {
                Some(received) => received,
                None => {
                    self.next_waiting(&mut sub, &mut stop, &mut msg, false)
                        .await
                }
            };
            if !received {
                break;
            }
            let (runner, call) = (self.clone(), call.clone());
            tasks.spawn(async move {
                let started = Instant::now();
                let mut request = runner.request(msg);
                runner.process(&mut request, &*call, false).await;
                runner.rt.stats.add_time(started.elapsed(), false);
            });
            while tasks.try_join_next().is_some() {}
        }
        self.unsubscribe(&mut sub).await;
        // In-flight handlers finish. Once the stop timeout passes (their Ctx is cancelled),
        // they get CANCEL_GRACE to return on their own before they are aborted.
        loop {
            tokio::select! {
                joined = tasks.join_next() => if joined.is_none() { return },
                _ = cancel.cancelled() => break,
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
        tracing::warn!(subject = %self.rt.info.subject, aborted = left, "handlers ignored cancellation; aborted");
    }

    /// Stops taking messages. Those the client buffered but no handler started are not
    /// processed: at-most-once, as if the stop had come a moment earlier.
    async fn unsubscribe(&self, sub: &mut Subscriber) {
        if let Err(err) = sub.unsubscribe().await {
            tracing::warn!(subject = %self.rt.info.subject, error = %err, "unsubscribe failed");
        }
        let mut unstarted = 0usize;
        while let Some(Some(_)) = sub.next().now_or_never() {
            unstarted += 1;
        }
        if unstarted > 0 {
            tracing::info!(subject = %self.rt.info.subject, unstarted, "stopped; buffered messages not started were dropped");
        }
    }

    /// Calls the handler once; a panic (in an extractor or the handler) becomes an error.
    async fn attempt<C, Fut>(&self, request: &mut HandlerRequest, call: &C) -> HandlerResult
    where
        C: Fn(&mut HandlerRequest) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        // One unwind guard around both the extraction (in `call`) and the handler's polls.
        AssertUnwindSafe(async move { call(request).await })
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(HandlerError::panic(panic_message(&*panic))))
    }

    /// The subject `request` arrived on. The chain path moves the message out when nothing
    /// needs it later, which is only done on literal subjects: then it is the route's.
    fn subject_of<'a>(&'a self, request: &'a HandlerRequest) -> &'a str {
        if request.message.subject.is_empty() {
            &self.rt.info.subject
        } else {
            &request.message.subject
        }
    }

    /// Counts and logs a failed attempt.
    fn failed(&self, err: &HandlerError, subject: &str, attempt: u32, exclusive: bool) {
        let stats = &self.rt.stats;
        self.rt.last_error.set(err);
        let counter = match err.kind() {
            HandlerErrorKind::Decode => stats.decode_errors(),
            HandlerErrorKind::Handler => stats.errors(),
            HandlerErrorKind::Panic => stats.panics(),
            HandlerErrorKind::Timeout => stats.timeouts(),
        };
        SubscriptionStats::add(counter, 1, exclusive);
        tracing::error!(
            server = %self.server,
            route = %self.rt.info.subject,
            subject = %subject,
            attempt,
            kind = %err.kind(),
            error = %err.message(),
            "message handling failed"
        );
    }

    /// Handles the message in `request`: attempts, retries, reply, dead letter, counters
    /// (processing time is the caller's). `exclusive`: this task is the only one
    /// updating the route's counters.
    async fn process<C, Fut>(&self, request: &mut HandlerRequest, call: &C, exclusive: bool)
    where
        C: Fn(&mut HandlerRequest) -> Fut,
        Fut: Future<Output = HandlerResult>,
    {
        let stats = &self.rt.stats;
        let policy = &self.rt.options.retry;
        stats.start(exclusive);
        let mut attempt = 0;
        loop {
            attempt += 1;
            request.attempt = attempt;
            let err = match self.attempt(request, call).await {
                Ok(reply) => {
                    SubscriptionStats::add(stats.handled(), 1, exclusive);
                    if self.rt.info.kind == RouteKind::Reply {
                        self.reply(&request.message, reply).await;
                    }
                    break;
                }
                Err(err) => err,
            };
            self.failed(&err, self.subject_of(request), attempt, exclusive);
            let retryable = err.kind() != HandlerErrorKind::Decode && attempt < policy.max_attempts;
            let mut gave_up = !retryable || self.ctx.cancel_token().is_cancelled();
            if !gave_up {
                SubscriptionStats::add(stats.retries(), 1, exclusive);
                gave_up = tokio::select! {
                    _ = tokio::time::sleep(policy.delay(attempt)) => false,
                    _ = self.ctx.cancel_token().cancelled() => true,
                };
            }
            if gave_up {
                self.failed_for_good(&request.message, &err, attempt, exclusive)
                    .await;
                break;
            }
        }
        stats.finish(exclusive);
        // A reused request keeps the message until the next one arrives; its payload may
        // pin the client's read buffer, and an idle subscription should hold nothing.
        request.message.payload = bytes::Bytes::new();
    }

    /// Sends a responder's reply, if the message asked for one.
    async fn reply(&self, msg: &Message, reply: Option<super::request::Reply>) {
        if let Some(to) = &msg.reply {
            let reply = reply.unwrap_or_default();
            let out = Message {
                subject: to.clone(),
                reply: None,
                headers: reply.headers,
                payload: reply.payload,
            };
            self.send(out, "reply").await;
        }
    }

    /// Sends the error reply and the dead letter of a message whose last attempt failed.
    async fn failed_for_good(
        &self,
        msg: &Message,
        err: &HandlerError,
        attempt: u32,
        exclusive: bool,
    ) {
        if let (RouteKind::Reply, Some(to)) = (self.rt.info.kind, &msg.reply) {
            let mut headers = Headers::new();
            headers.insert(SERVICE_ERROR_HEADER, one_line(err.message()));
            headers.insert(SERVICE_ERROR_CODE_HEADER, err.code().to_string());
            let out = Message::new(to.clone(), bytes::Bytes::new()).with_headers(headers);
            self.send(out, "error reply").await;
        }
        if let Some(dead) = &self.rt.options.dead_letter {
            let mut headers = msg.headers.clone();
            headers.insert(DEAD_LETTER_SUBJECT_HEADER, msg.subject.clone());
            headers.insert(DEAD_LETTER_REASON_HEADER, one_line(err.message()));
            headers.insert(DEAD_LETTER_KIND_HEADER, err.kind().to_string());
            headers.insert(DEAD_LETTER_ATTEMPTS_HEADER, attempt.to_string());
            let letter = Message::new(dead.clone(), msg.payload.clone()).with_headers(headers);
            if self.send(letter, "dead letter").await {
                SubscriptionStats::add(self.rt.stats.dead_lettered(), 1, exclusive);
            }
        }
    }

    async fn send(&self, msg: Message, what: &str) -> bool {
        let subject = msg.subject.clone();
        match self.broker.publish_message(msg).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(route = %self.rt.info.subject, to = %subject, error = %err, "cannot send {what}");
                false
            }
        }
    }
}

/// Header values cannot hold line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("handler panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("handler panicked: {s}")
    } else {
        "handler panicked".to_owned()
    }
}
