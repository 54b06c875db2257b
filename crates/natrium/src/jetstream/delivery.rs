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
    /// Reads the metadata of a `$JS.ACK` reply subject; `None` if it is not one (by the
    /// rules of async-nats' `Message::info`).
    pub(crate) fn parse(reply: &str) -> Option<Delivery> {
        let [
            stream,
            consumer,
            delivered,
            stream_seq,
            consumer_seq,
            published,
            pending,
        ] = fields(reply)?;
        Some(Delivery {
            stream: text(stream)?.to_owned(),
            consumer: text(consumer)?.to_owned(),
            stream_sequence: unsigned(stream_seq)?,
            consumer_sequence: unsigned(consumer_seq)?,
            delivered: delivered_token(delivered)?,
            pending: unsigned(pending)?,
            published_unix_nanos: timestamp(published)?,
        })
    }

    /// Whether this is a redelivery.
    pub fn is_redelivery(&self) -> bool {
        self.delivered > 1
    }
}

impl FromMessage for Delivery {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        // Built on demand: most handlers never ask, and the strings cost allocations.
        request
            .delivery
            .as_deref()
            .and_then(Delivery::parse)
            .ok_or_else(|| {
                HandlerError::new("Delivery is only available to handlers of durable routes")
            })
    }
}

/// The delivery count of a message with this `$JS.ACK` reply subject, when
/// [`Delivery::parse`] accepts the subject. The runner asks for every message, so the
/// other numbers are only checked, not computed, and nothing is allocated.
pub(crate) fn delivery_count(reply: &str) -> Option<u64> {
    let [
        _,
        _,
        delivered,
        stream_seq,
        consumer_seq,
        published,
        pending,
    ] = fields(reply)?;
    if [stream_seq, consumer_seq, published, pending]
        .iter()
        .all(|token| plain(token))
    {
        delivered_token(delivered)
    } else {
        Delivery::parse(reply).map(|delivery| delivery.delivered)
    }
}

/// The seven fields of a `$JS.ACK` subject: stream, consumer, delivery count, stream and
/// consumer sequences, timestamp, pending. As async-nats' `Message::info` reads them
/// (ADR-15): 7 tokens after the prefix, or at least 9 with the domain and account hash
/// first; tokens past the tenth are ignored.
fn fields(reply: &str) -> Option<[&[u8]; 7]> {
    let rest = reply.strip_prefix("$JS.ACK.")?.as_bytes();
    let mut tokens: [&[u8]; 10] = [&[]; 10];
    let mut count = 0;
    let mut start = 0;
    for_each_dot(rest, |at| {
        if count < tokens.len() {
            tokens[count] = &rest[start..at];
        }
        count += 1;
        start = at + 1;
    });
    if count < tokens.len() {
        tokens[count] = &rest[start..];
    }
    count += 1;
    let first = match count {
        7 => 0,
        // The domain and account hash come first.
        9.. => 2,
        _ => return None,
    };
    let mut fields: [&[u8]; 7] = [&[]; 7];
    fields.copy_from_slice(&tokens[first..first + 7]);
    Some(fields)
}

/// Calls `found` with the index of every `.` in `bytes`, in order. Eight bytes at a
/// time: the runner scans a reply subject for every message, and a loop over bytes costs
/// several times more.
fn for_each_dot(bytes: &[u8], mut found: impl FnMut(usize)) {
    const DOTS: u64 = u64::from_le_bytes([b'.'; 8]);
    const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        // Zero bytes where the dots are; then the top bit of each byte that is zero
        // (exactly: no carry crosses a byte).
        let x = u64::from_le_bytes(word) ^ DOTS;
        let mut zeros = !(((x & LOW7) + LOW7) | x | LOW7);
        while zeros != 0 {
            found(base + zeros.trailing_zeros() as usize / 8);
            zeros &= zeros - 1;
        }
        base += 8;
    }
    for (i, byte) in chunks.remainder().iter().enumerate() {
        if *byte == b'.' {
            found(base + i);
        }
    }
}

/// Whether `token` is 1 to 19 ASCII digits: what the server sends, and what every parser
/// here accepts. Eight bytes at a time, like [`for_each_dot`].
fn plain(token: &[u8]) -> bool {
    const HIGH: u64 = u64::from_le_bytes([0xf0; 8]);
    const THREES: u64 = u64::from_le_bytes([0x30; 8]);
    const SIXES: u64 = u64::from_le_bytes([0x06; 8]);
    if token.is_empty() || token.len() > 19 {
        return false;
    }
    let mut chunks = token.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A digit is 0x30 to 0x39: its high nibble is 3, and still 3 after adding 6
        // (no byte carries: they are all below 0x40 by then).
        if x & HIGH != THREES || x.wrapping_add(SIXES) & HIGH != THREES {
            return false;
        }
    }
    chunks.remainder().iter().all(u8::is_ascii_digit)
}

/// A token of 1 to 19 ASCII digits (always below `u64::MAX`), the form the server
/// sends; anything else goes to the standard parsers, which decide as async-nats does.
fn digits(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 19 {
        return None;
    }
    let mut n = 0;
    for byte in token {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u64::from(digit);
    }
    Some(n)
}

/// A token as text (tokens lie between ASCII dots of a `str`, so they are UTF-8).
fn text(token: &[u8]) -> Option<&str> {
    std::str::from_utf8(token).ok()
}

/// A token as the standard parser reads it.
fn parsed<T: std::str::FromStr>(token: &[u8]) -> Option<T> {
    text(token)?.parse().ok()
}

fn unsigned(token: &[u8]) -> Option<u64> {
    digits(token).or_else(|| parsed(token))
}

/// The delivery count; async-nats reads an `i64`, and a negative one counts as 1.
fn delivered_token(token: &[u8]) -> Option<u64> {
    let count = match digits(token) {
        Some(n) => i64::try_from(n).ok()?,
        None => parsed::<i64>(token)?,
    };
    Some(u64::try_from(count).unwrap_or(1))
}

/// A publication time in nanoseconds, valid when async-nats' date type can hold it.
fn timestamp(token: &[u8]) -> Option<i128> {
    // Up to 19 digits is below 10^19 ns (year 2286), always in range.
    if let Some(nanos) = digits(token) {
        return Some(i128::from(nanos));
    }
    let nanos: i128 = parsed(token)?;
    async_nats::datetime::from_nanos(nanos).ok()?;
    Some(nanos)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_dot() {
        let long = "a.".repeat(40);
        let texts = [
            "",
            ".",
            "........",
            ".........",
            "abcdefgh",
            "abcdefg.",
            ".bcdefgh.j",
            "é.®.ü.日本.\u{2e2e}.x",
            "\u{00ae}\u{00ae}\u{00ae}\u{00ae}.",
            long.as_str(),
        ];
        for text in texts {
            let mut found = Vec::new();
            for_each_dot(text.as_bytes(), |at| found.push(at));
            let expected: Vec<usize> = text.match_indices('.').map(|(at, _)| at).collect();
            assert_eq!(found, expected, "{text:?}");
        }
    }

    #[test]
    fn plain_tokens_are_one_to_nineteen_digits() {
        let digits = "1234567890123456789012";
        for len in 0..=digits.len() {
            let token = &digits.as_bytes()[..len];
            assert_eq!(plain(token), (1..=19).contains(&len), "{len}");
            for at in 0..len {
                for byte in [b'/', b':', b'?', b'+', b'-', 0x00, 0x3f, 0x80, 0xb0, 0xff] {
                    let mut changed = token.to_vec();
                    changed[at] = byte;
                    assert!(!plain(&changed), "{changed:?}");
                }
            }
        }
    }

    /// The metadata async-nats reads from a message with this reply subject.
    fn by_async_nats(context: &async_nats::jetstream::Context, reply: &str) -> Option<Delivery> {
        let message = async_nats::jetstream::Message {
            message: async_nats::Message {
                subject: "orders.1".into(),
                reply: Some(reply.into()),
                payload: bytes::Bytes::new(),
                headers: None,
                status: None,
                description: None,
                length: 0,
            },
            context: context.clone(),
        };
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

    #[tokio::test]
    async fn parses_ack_subjects_as_async_nats_does() {
        // A client is needed to build a JetStream message; it never reaches a server.
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("127.0.0.1:1")
            .await
            .expect("client");
        let context = async_nats::jetstream::new(client);
        let ts = "1790230470084404000";
        let cases = [
            format!("$JS.ACK.events.durable.3.100.7.{ts}.42"),
            format!("$JS.ACK._.szMpdrwD.events.4z6UI6IG.1.1.1.{ts}.1"),
            format!("$JS.ACK.hub.szMpdrwD.events.durable.2.50.9.{ts}.0"),
            format!("$JS.ACK.hub.szMpdrwD.events.durable.2.50.9.{ts}.0.rand"),
            format!("$JS.ACK.hub.h.events.durable.2.50.9.{ts}.0.rand.future.more"),
            format!("$JS.ACK.events.durable.3.100.7.{ts}"),
            format!("$JS.ACK.hub.szMpdrwD.events.durable.2.50.9.{ts}"),
            format!("$JS.ACK.events.durable.-3.100.7.{ts}.42"),
            format!("$JS.ACK.events.durable.+3.+100.7.{ts}.+42"),
            format!("$JS.ACK.events.durable.3.-100.7.{ts}.42"),
            format!("$JS.ACK.events.durable.3.100.7.{ts}.x"),
            format!("$JS.ACK.events.durable..100.7.{ts}.42"),
            "$JS.ACK.events.durable.3.100.7.-1.42".to_owned(),
            "$JS.ACK.events.durable.3.100.7.99999999999999999999.42".to_owned(),
            "$JS.ACK.events.durable.3.100.7.999999999999999999999999.42".to_owned(),
            "$JS.ACK.events.durable.3.100.7.-999999999999999999999999.42".to_owned(),
            "$JS.ACK.events.durable.3.18446744073709551616.7.1.42".to_owned(),
            "$JS.ACK.events.durable.9223372036854775808.1.7.1.42".to_owned(),
            "$JS.ACK.events.durable.9223372036854775807.1.7.1.42".to_owned(),
            "$JS.ACK.events.durable.3.9999999999999999999.7.9999999999999999999.42".to_owned(),
            "$JS.ACK.events.durable.3.18446744073709551615.7.1.0042".to_owned(),
            "$JS.ACK.events.durable.3.1.7.00000000000000000000001.1".to_owned(),
            "$JS.ACK.events.durable.3.1a.7.1.1".to_owned(),
            "$JS.ACK.events.durable.3.1.7.1 .1".to_owned(),
            "$JS.ACK.e.d.1.1.1.1.1".to_owned(),
            format!("$JS.ACK.{}.{}.1.2.3.{ts}.4", "s".repeat(70), "c".repeat(33)),
            format!("$JS.ACK.ü.日本.1.2.3.{ts}.4"),
            "$JS.ACK.e..d.1.1.1.1.1".to_owned(),
            "$JS.ACK.".to_owned(),
            "$JS.ACK".to_owned(),
            format!("$JS.NAK.events.durable.3.100.7.{ts}.42"),
            "_INBOX.abc".to_owned(),
            String::new(),
        ];
        for reply in &cases {
            assert_eq!(
                Delivery::parse(reply),
                by_async_nats(&context, reply),
                "{reply}"
            );
        }
        let delivery = Delivery::parse(&cases[0]).expect("valid");
        assert_eq!(delivery.published_unix_nanos, 1_790_230_470_084_404_000);
        assert!(delivery.is_redelivery());
    }
}
