//! What a route asks of its runner: concurrency, retries, dead letter and, for durable
//! routes, the consumer. [`Route`](crate::Route) fills these in; the runners read them.

use std::time::Duration;

use crate::jetstream::DurableSpec;

/// How often a failed message is retried, and how long to wait in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1: no retry).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further retry...
    pub initial_backoff: Duration,
    /// ...up to this.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::attempts(1)
    }
}

impl RetryPolicy {
    /// `n` attempts in total (at least 1), 100 ms initial backoff, 5 s cap.
    pub fn attempts(n: u32) -> Self {
        RetryPolicy {
            max_attempts: n.max(1),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// Sets the backoff bounds.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }
}

/// A route's options, one value the runners read (set through [`Route`](crate::Route)'s
/// builder methods).
#[derive(Clone, Debug)]
pub(crate) struct RouteOptions {
    /// How many messages are handled at once.
    pub(crate) concurrency: usize,
    pub(crate) retry: RetryPolicy,
    /// Where messages that failed for good are published.
    pub(crate) dead_letter: Option<String>,
    /// Set for routes bound to a JetStream durable consumer.
    pub(crate) durable: Option<DurableSpec>,
}

impl Default for RouteOptions {
    fn default() -> Self {
        RouteOptions {
            concurrency: 1,
            retry: RetryPolicy::default(),
            dead_letter: None,
            durable: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_and_caps() {
        let p =
            RetryPolicy::attempts(5).backoff(Duration::from_millis(10), Duration::from_millis(50));
        assert_eq!(p.delay(1), Duration::from_millis(10));
        assert_eq!(p.delay(2), Duration::from_millis(20));
        assert_eq!(p.delay(3), Duration::from_millis(40));
        assert_eq!(p.delay(4), Duration::from_millis(50));
        assert_eq!(RetryPolicy::attempts(0).max_attempts, 1);
    }
}
