//! The `$JS.ACK` reply subject of a delivered message and the acknowledgement kinds a client
//! sends to it.
//!
//! A message delivered by consumer `C` of stream `S` carries the reply subject
//! `$JS.ACK.S.C.<delivery count>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>`
//! (nats-server 2.15 still uses this form). The body says what the client did with it.

use std::time::Duration;

/// The prefix of every acknowledgement subject.
pub(crate) const PREFIX: &str = "$JS.ACK.";

/// What the reply subject says about one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    pub deliveries: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
}

/// The reply subject of one delivery.
pub(crate) fn subject(
    stream: &str,
    consumer: &str,
    deliveries: u64,
    stream_seq: u64,
    consumer_seq: u64,
    time: i64,
    pending: u64,
) -> Vec<u8> {
    // Built in one allocation of the right size: this runs once per delivered message.
    let mut numbers = itoa::Buffer::new();
    let mut subject = Vec::with_capacity(PREFIX.len() + stream.len() + consumer.len() + 6 + 5 * 20);
    subject.extend_from_slice(PREFIX.as_bytes());
    subject.extend_from_slice(stream.as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(consumer.as_bytes());
    for n in [deliveries, stream_seq, consumer_seq] {
        subject.push(b'.');
        subject.extend_from_slice(numbers.format(n).as_bytes());
    }
    subject.push(b'.');
    subject.extend_from_slice(numbers.format(time).as_bytes());
    subject.push(b'.');
    subject.extend_from_slice(numbers.format(pending).as_bytes());
    subject
}

/// Reads the delivery numbers from the tokens after `$JS.ACK.<stream>.<consumer>.`.
pub(crate) fn parse_tokens(rest: &[u8]) -> Option<Delivered> {
    let text = std::str::from_utf8(rest).ok()?;
    let mut tokens = text.split('.');
    let deliveries = tokens.next()?.parse().ok()?;
    let stream_seq = tokens.next()?.parse().ok()?;
    let consumer_seq = tokens.next()?.parse().ok()?;
    let _time: i64 = tokens.next()?.parse().ok()?;
    let _pending: u64 = tokens.next()?.parse().ok()?;
    tokens.next().is_none().then_some(Delivered {
        deliveries,
        stream_seq,
        consumer_seq,
    })
}

/// What a client did with a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AckKind {
    /// `+ACK` (or an empty body): done.
    Ack,
    /// `-NAK`, optionally `-NAK {"delay": ns}`: deliver again (after the delay).
    Nak(Option<Duration>),
    /// `+WPI`: still working, restart the ack timer.
    Progress,
    /// `+NXT`, optionally with a batch size or pull request: ack and ask for more.
    Next(Vec<u8>),
    /// `+TERM`, optionally with a reason: never deliver again.
    Term(String),
}

/// Reads an acknowledgement body; `None` for anything nats-server would ignore.
pub(crate) fn parse_kind(body: &[u8]) -> Option<AckKind> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text == "+ACK" {
        return Some(AckKind::Ack);
    }
    if let Some(rest) = text.strip_prefix("-NAK") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(AckKind::Nak(None));
        }
        #[derive(serde::Deserialize)]
        struct Delay {
            delay: i64,
        }
        return Some(AckKind::Nak(
            serde_json::from_str::<Delay>(rest)
                .ok()
                .and_then(|d| u64::try_from(d.delay).ok())
                .map(Duration::from_nanos),
        ));
    }
    if text == "+WPI" {
        return Some(AckKind::Progress);
    }
    if let Some(rest) = text.strip_prefix("+NXT") {
        return Some(AckKind::Next(rest.trim().as_bytes().to_vec()));
    }
    if let Some(rest) = text.strip_prefix("+TERM") {
        return Some(AckKind::Term(rest.trim().to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_subject_round_trips() {
        let s = subject("S", "C1", 2, 10, 12, 1_796_461_855_390_006_456, 3);
        assert_eq!(s, b"$JS.ACK.S.C1.2.10.12.1796461855390006456.3");
        let rest = s.strip_prefix(b"$JS.ACK.S.C1.").unwrap();
        assert_eq!(
            parse_tokens(rest),
            Some(Delivered {
                deliveries: 2,
                stream_seq: 10,
                consumer_seq: 12
            })
        );
        // A time before 1970 is negative, as Go prints it.
        assert_eq!(subject("S", "C", 1, 1, 1, -5, 0), b"$JS.ACK.S.C.1.1.1.-5.0");
        assert_eq!(parse_tokens(b"1.2.3"), None);
        assert_eq!(parse_tokens(b"1.2.3.4.5.6"), None);
        assert_eq!(parse_tokens(b"a.2.3.4.5"), None);
    }

    #[test]
    fn ack_bodies() {
        assert_eq!(parse_kind(b""), Some(AckKind::Ack));
        assert_eq!(parse_kind(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(parse_kind(b"-NAK"), Some(AckKind::Nak(None)));
        assert_eq!(
            parse_kind(br#"-NAK {"delay": 2000000000}"#),
            Some(AckKind::Nak(Some(Duration::from_secs(2))))
        );
        assert_eq!(parse_kind(b"+WPI"), Some(AckKind::Progress));
        assert_eq!(parse_kind(b"+NXT 5"), Some(AckKind::Next(b"5".to_vec())));
        assert_eq!(
            parse_kind(b"+TERM bad input"),
            Some(AckKind::Term("bad input".into()))
        );
        assert_eq!(parse_kind(b"hello"), None);
    }
}
