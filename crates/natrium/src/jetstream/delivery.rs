//! [`Delivery`]: what JetStream says about the message a durable handler is working on,
//! and [`DeliveryEvent`]: what the runner did with it (for metrics and logs).

use std::time::Duration;

use crate::transport::{FromMessage, HandlerError, HandlerRequest};

/// Delivery metadata of a durable route's message, from its `$JS.ACK` reply subject.
/// Ask for it as a handler argument; on a core route it is an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The stream the message is stored in.
    pub stream: String,
    /// The consumer delivering it.
    pub consumer: String,
    /// Its sequence in the stream (the same on every redelivery).
    pub stream_sequence: u64,
    /// The consumer's delivery sequence (grows with every delivery, redeliveries included).
    pub consumer_sequence: u64,
    /// How many times it has been delivered, this time included (1: first delivery).
    pub delivered: u64,
    /// Messages left for this consumer after this one.
    pub pending: u64,
    /// When the stream stored it, in nanoseconds since the Unix epoch.
    pub published_unix_nanos: i128,
}

impl Delivery {
    /// Reads the metadata of a JetStream message; `None` if its reply subject is not a
    /// `$JS.ACK` subject.
    pub(crate) fn of(message: &async_nats::jetstream::Message) -> Option<Delivery> {
        let info = message.info().ok()?;
        Some(Delivery {
            stream: info.stream.to_owned(),
            consumer: info.consumer.to_owned(),
            stream_sequence: info.stream_sequence,
            consumer_sequence: info.consumer_sequence,
            delivered: u64::try_from(info.delivered).unwrap_or(1),
            pending: info.pending,
            published_unix_nanos: info.published.unix_timestamp_nanos(),
        })
    }

    /// Whether this is a redelivery.
    pub fn is_redelivery(&self) -> bool {
        self.delivered > 1
    }
}

impl FromMessage for Delivery {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        request
            .extensions
            .get::<Delivery>()
            .cloned()
            .ok_or_else(|| {
                HandlerError::new("Delivery is only available to handlers of durable routes")
            })
    }
}

/// What a durable route did with a delivery; reported to every middleware's
/// [`Middleware::on_delivery`](crate::Middleware::on_delivery).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// A message arrived for the handler.
    Delivered {
        /// It was delivered before.
        redelivery: bool,
    },
    /// Acknowledged (`+ACK`); `confirmed`: the server confirmed it (double ack).
    Acked {
        /// Whether the server confirmed the ack.
        confirmed: bool,
    },
    /// Negatively acknowledged (`-NAK`): redelivered after `delay`.
    Nacked {
        /// The redelivery delay asked for.
        delay: Duration,
    },
    /// Terminated (`+TERM`): never redelivered.
    Terminated {
        /// Why.
        reason: String,
    },
    /// Work in progress (`+WPI`): the ack wait starts again.
    InProgress,
    /// Published to the route's dead-letter subject.
    DeadLettered,
}

impl DeliveryEvent {
    /// A short name for labels: `delivered`, `ack`, `nak`, `term`, `progress`, `dead_letter`.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryEvent::Delivered { .. } => "delivered",
            DeliveryEvent::Acked { .. } => "ack",
            DeliveryEvent::Nacked { .. } => "nak",
            DeliveryEvent::Terminated { .. } => "term",
            DeliveryEvent::InProgress => "progress",
            DeliveryEvent::DeadLettered => "dead_letter",
        }
    }
}
