//! [`ErasedHandler`]: a route's handler with its type erased — the one form a route keeps.
//!
//! A [`Route`](crate::Route) holds handlers of any type, so the type is erased when the route
//! is made. What is erased is not "call the handler once" but "run a subscription with this
//! handler": each method is compiled for the handler's own type, so without middleware the
//! runner calls the handler directly (no boxed future per message, the fast path
//! BENCHMARKS.md measures). With middleware, the same method builds the chain's innermost
//! step from the handler and runs the subscription through the chain.

use std::sync::Arc;

use async_nats::jetstream::consumer::PullConsumer;
use futures::future::BoxFuture;

use crate::broker::Subscriber;
use crate::jetstream::DurableRunner;
use crate::middleware::Endpoint;

use super::extract::StateRequirement;
use super::handler::Handler;
use super::request::HandlerRequest;
use super::runner::{Runner, StopListener};

/// Runs a core subscription until the stop.
type CoreDriver = dyn Fn(Runner, Subscriber, StopListener) -> BoxFuture<'static, ()> + Send + Sync;

/// Runs a durable route's pull consumer until the stop.
type DurableDriver =
    dyn Fn(Arc<DurableRunner>, PullConsumer, StopListener) -> BoxFuture<'static, ()> + Send + Sync;

/// A handler of any type, ready to run core or durable subscriptions. Cheap to clone.
///
/// Both drivers are closures made in [`ErasedHandler::new`], where the handler's type is
/// known; each picks the direct call or the middleware chain when the subscription starts.
#[derive(Clone)]
pub(crate) struct ErasedHandler {
    core: Arc<CoreDriver>,
    durable: Arc<DurableDriver>,
    /// The states the handler's arguments need.
    states: Arc<[StateRequirement]>,
}

/// The handler as the innermost step of a middleware chain.
fn endpoint<H: Handler<Args>, Args>(handler: &H) -> Arc<Endpoint> {
    let handler = handler.clone();
    Arc::new(move |request: HandlerRequest| Box::pin(handler.call(&request)))
}

impl ErasedHandler {
    /// Erases `handler`'s type.
    pub(crate) fn new<H: Handler<Args>, Args>(handler: H) -> Self {
        let core = {
            let handler = handler.clone();
            Arc::new(
                move |runner: Runner,
                      sub: Subscriber,
                      stop: StopListener|
                      -> BoxFuture<'static, ()> {
                    if runner.layers.is_empty() {
                        let handler = handler.clone();
                        let call = move |request: &mut HandlerRequest| handler.call(request);
                        Box::pin(runner.run(sub, stop, call))
                    } else {
                        runner.run_chained(sub, stop, endpoint(&handler))
                    }
                },
            )
        };
        let durable = {
            let handler = handler.clone();
            Arc::new(
                move |runner: Arc<DurableRunner>,
                      consumer: PullConsumer,
                      stop: StopListener|
                      -> BoxFuture<'static, ()> {
                    if runner.layers.is_empty() {
                        let handler = handler.clone();
                        let call = move |request: &mut HandlerRequest| handler.call(request);
                        Box::pin(runner.run(consumer, stop, call))
                    } else {
                        runner.run_chained(consumer, stop, endpoint(&handler))
                    }
                },
            )
        };
        ErasedHandler {
            core,
            durable,
            states: H::required_states().into(),
        }
    }

    /// Runs a core subscription until `stop`.
    pub(crate) fn run(
        &self,
        runner: Runner,
        sub: Subscriber,
        stop: StopListener,
    ) -> BoxFuture<'static, ()> {
        (self.core)(runner, sub, stop)
    }

    /// Runs a durable route's pull consumer until `stop`.
    pub(crate) fn run_durable(
        &self,
        runner: Arc<DurableRunner>,
        consumer: PullConsumer,
        stop: StopListener,
    ) -> BoxFuture<'static, ()> {
        (self.durable)(runner, consumer, stop)
    }

    /// The states the handler's arguments need.
    pub(crate) fn required_states(&self) -> &[StateRequirement] {
        &self.states
    }
}
