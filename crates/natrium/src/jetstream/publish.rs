//! Durable publishing: a message stored by a stream, confirmed by its PubAck.
//!
//! A JetStream publish is a request on the stream's subject: the stream answers with
//! `{"stream":"REPORTS","seq":7,"duplicate":false}` or with an API error; nobody answers
//! (503 "no responders") when no stream captures the subject. The options become the
//! `Nats-Msg-Id` and `Nats-Expected-*` headers nats-server reads.

use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::broker::Broker;
use crate::codec::Encode;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::message::Message;

/// Header: the message id the stream deduplicates on within its duplicate window.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// Header: the publish is refused unless the subject is captured by this stream.
pub const EXPECTED_STREAM_HEADER: &str = "Nats-Expected-Stream";
/// Header: refused unless the stream's last sequence is this.
pub const EXPECTED_LAST_SEQUENCE_HEADER: &str = "Nats-Expected-Last-Sequence";
/// Header: refused unless the last sequence stored on this subject is this.
pub const EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER: &str = "Nats-Expected-Last-Subject-Sequence";
/// Header: refused unless the stream's last message id is this.
pub const EXPECTED_LAST_MSG_ID_HEADER: &str = "Nats-Expected-Last-Msg-Id";

/// How long a durable publish waits for its PubAck unless told otherwise.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// The stream's confirmation that it stored a message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct PubAck {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in the stream (for a duplicate: the sequence of the original).
    #[serde(rename = "seq")]
    pub sequence: u64,
    /// The message id was seen within the duplicate window; nothing new was stored.
    #[serde(default)]
    pub duplicate: bool,
}

/// An expectation a durable publish can state (see [`PublishOptions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// [`PublishOptions::expected_stream`].
    Stream,
    /// [`PublishOptions::expected_last_sequence`].
    LastSequence,
    /// [`PublishOptions::expected_last_subject_sequence`].
    LastSubjectSequence,
    /// [`PublishOptions::expected_last_msg_id`].
    LastMsgId,
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expectation::Stream => "expected stream",
            Expectation::LastSequence => "expected last sequence",
            Expectation::LastSubjectSequence => "expected last subject sequence",
            Expectation::LastMsgId => "expected last message id",
        })
    }
}

/// Options of one durable publish: message id, expectations, headers, timeout.
///
/// ```
/// use natrium::jetstream::PublishOptions;
/// let options = PublishOptions::new()
///     .msg_id("order-42")
///     .expected_stream("ORDERS")
///     .expected_last_subject_sequence(7);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// `Nats-Msg-Id`: the stream stores one message per id within its duplicate window.
    pub msg_id: Option<String>,
    /// `Nats-Expected-Stream`.
    pub expected_stream: Option<String>,
    /// `Nats-Expected-Last-Sequence`.
    pub expected_last_sequence: Option<u64>,
    /// `Nats-Expected-Last-Subject-Sequence`.
    pub expected_last_subject_sequence: Option<u64>,
    /// `Nats-Expected-Last-Msg-Id`.
    pub expected_last_msg_id: Option<String>,
    /// Further headers sent with the message.
    pub headers: Headers,
    /// How long to wait for the PubAck ([`DEFAULT_PUBLISH_TIMEOUT`] if `None`).
    pub timeout: Option<Duration>,
}

impl PublishOptions {
    /// No id, no expectations, the default timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the message id (`Nats-Msg-Id`).
    pub fn msg_id(mut self, id: impl Into<String>) -> Self {
        self.msg_id = Some(id.into());
        self
    }

    /// Refuses the publish unless the subject belongs to `stream`.
    pub fn expected_stream(mut self, stream: impl Into<String>) -> Self {
        self.expected_stream = Some(stream.into());
        self
    }

    /// Refuses the publish unless the stream's last sequence is `seq`.
    pub fn expected_last_sequence(mut self, seq: u64) -> Self {
        self.expected_last_sequence = Some(seq);
        self
    }

    /// Refuses the publish unless the last sequence on this subject is `seq` (0: none yet).
    pub fn expected_last_subject_sequence(mut self, seq: u64) -> Self {
        self.expected_last_subject_sequence = Some(seq);
        self
    }

    /// Refuses the publish unless the stream's last message id is `id`.
    pub fn expected_last_msg_id(mut self, id: impl Into<String>) -> Self {
        self.expected_last_msg_id = Some(id.into());
        self
    }

    /// Adds headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers.extend(&headers);
        self
    }

    /// Sets how long to wait for the PubAck.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Writes the id and expectations into `headers`.
    pub(crate) fn apply(&self, headers: &mut Headers) {
        headers.extend(&self.headers);
        if let Some(id) = &self.msg_id {
            headers.insert(MSG_ID_HEADER, id.clone());
        }
        if let Some(stream) = &self.expected_stream {
            headers.insert(EXPECTED_STREAM_HEADER, stream.clone());
        }
        if let Some(seq) = self.expected_last_sequence {
            headers.insert(EXPECTED_LAST_SEQUENCE_HEADER, seq.to_string());
        }
        if let Some(seq) = self.expected_last_subject_sequence {
            headers.insert(EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, seq.to_string());
        }
        if let Some(id) = &self.expected_last_msg_id {
            headers.insert(EXPECTED_LAST_MSG_ID_HEADER, id.clone());
        }
    }

    pub(crate) fn timeout_or_default(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_PUBLISH_TIMEOUT)
    }
}

/// Turns the stream's answer to a publish (whose headers were `sent`) into a [`PubAck`] or
/// a typed error.
pub(crate) fn parse_pub_ack(subject: &str, sent: &Headers, reply: &Message) -> Result<PubAck> {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::response::Response;
    let answer: Response<PubAck> =
        serde_json::from_slice(&reply.payload).map_err(|e| Error::Publish {
            subject: subject.to_owned(),
            source: format!(
                "unreadable PubAck {:?}: {e}",
                String::from_utf8_lossy(&reply.payload)
            )
            .into(),
        })?;
    let error = match answer {
        Response::Ok(ack) => return Ok(ack),
        Response::Err { error } => error,
    };
    let description = error.to_string();
    let expectation = match error.error_code() {
        ErrorCode::STREAM_NOT_FOUND => {
            return Err(Error::NoStream {
                subject: subject.to_owned(),
            });
        }
        ErrorCode::STREAM_WRONG_LAST_SEQUENCE | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT => {
            // nats-server answers 10071 "wrong last sequence" for both the stream's and the
            // subject's last sequence; which one failed is told by what was asked for.
            if sent.get(EXPECTED_LAST_SEQUENCE_HEADER).is_none()
                && sent.get(EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER).is_some()
            {
                Some(Expectation::LastSubjectSequence)
            } else {
                Some(Expectation::LastSequence)
            }
        }
        ErrorCode::STREAM_WRONG_LAST_MESSAGE_ID => Some(Expectation::LastMsgId),
        ErrorCode::STREAM_NOT_MATCH => Some(Expectation::Stream),
        _ => None,
    };
    Err(match expectation {
        Some(expectation) => Error::WrongExpectation {
            subject: subject.to_owned(),
            expectation,
            description,
        },
        None => Error::JetStream {
            subject: subject.to_owned(),
            code: u16::try_from(error.code()).unwrap_or(u16::MAX),
            err_code: u16::try_from(error.error_code().0).unwrap_or(u16::MAX),
            description,
        },
    })
}

/// Many durable publishes with at most `max_outstanding` PubAcks awaited at once:
/// the throughput of pipelining with a bound on what is in flight.
///
/// [`PublishBatch::publish`] returns as soon as the message is sent (waiting first if the
/// bound is reached); [`PublishBatch::finish`] waits for the rest and returns every PubAck
/// in completion order. The first error is returned; acks of the others are still awaited.
///
/// ```no_run
/// # async fn f(broker: &dyn natrium::Broker) -> natrium::Result<()> {
/// use natrium::jetstream::{PublishBatch, PublishOptions};
/// let mut batch = PublishBatch::new(broker, 256);
/// for i in 0..10_000 {
///     batch.publish("orders.new", &i, PublishOptions::new()).await?;
/// }
/// let acks = batch.finish().await?;
/// assert_eq!(acks.len(), 10_000);
/// # Ok(()) }
/// ```
pub struct PublishBatch<'a> {
    broker: &'a dyn Broker,
    max_outstanding: usize,
    pending: FuturesUnordered<BoxFuture<'a, Result<PubAck>>>,
    acks: Vec<PubAck>,
    error: Option<Error>,
}

impl std::fmt::Debug for PublishBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishBatch")
            .field("max_outstanding", &self.max_outstanding)
            .field("outstanding", &self.pending.len())
            .field("acked", &self.acks.len())
            .finish_non_exhaustive()
    }
}

impl<'a> PublishBatch<'a> {
    /// A batch on `broker` with at most `max_outstanding` (at least 1) unacknowledged
    /// publishes.
    pub fn new(broker: &'a dyn Broker, max_outstanding: usize) -> Self {
        PublishBatch {
            broker,
            max_outstanding: max_outstanding.max(1),
            pending: FuturesUnordered::new(),
            acks: Vec::new(),
            error: None,
        }
    }

    /// Encodes `value` with the broker's codec and publishes it; waits only while
    /// `max_outstanding` acks are pending. Returns the first error seen so far, if any.
    pub async fn publish<T: Encode + ?Sized>(
        &mut self,
        subject: &str,
        value: &T,
        options: PublishOptions,
    ) -> Result<()> {
        let payload = self.broker.codec().encode(value, subject)?;
        self.publish_message(Message::new(subject, payload), options)
            .await
    }

    /// Publishes a raw message; see [`PublishBatch::publish`].
    pub async fn publish_message(
        &mut self,
        message: Message,
        options: PublishOptions,
    ) -> Result<()> {
        while self.pending.len() >= self.max_outstanding {
            self.settle_one().await;
        }
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        let broker = self.broker;
        self.pending.push(Box::pin(async move {
            broker.publish_durable_message(message, options).await
        }));
        Ok(())
    }

    /// How many publishes await their PubAck.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    async fn settle_one(&mut self) {
        match self.pending.next().await {
            Some(Ok(ack)) => self.acks.push(ack),
            Some(Err(err)) => {
                tracing::warn!(error = %err, "durable publish in a batch failed");
                self.error.get_or_insert(err);
            }
            None => {}
        }
    }

    /// Waits for every outstanding PubAck; returns them all, or the first error.
    pub async fn finish(mut self) -> Result<Vec<PubAck>> {
        while !self.pending.is_empty() {
            self.settle_one().await;
        }
        match self.error {
            Some(err) => Err(err),
            None => Ok(self.acks),
        }
    }
}
