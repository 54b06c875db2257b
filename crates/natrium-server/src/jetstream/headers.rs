//! Reading the JetStream headers of a published message (`Nats-Msg-Id`,
//! `Nats-Expected-*`, `Nats-Rollup`, `Nats-TTL`) from its raw header block.

/// `Nats-Msg-Id`: the id deduplication uses.
pub(crate) const MSG_ID: &str = "Nats-Msg-Id";
/// `Nats-Expected-Stream`: the stream the publisher expects to store the message.
pub(crate) const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// `Nats-Expected-Last-Sequence`: the stream's last sequence the publisher expects.
pub(crate) const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
/// `Nats-Expected-Last-Subject-Sequence`: the last sequence on the message's subject.
pub(crate) const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
/// `Nats-Expected-Last-Subject-Sequence-Subject`: the subject (or filter) that check uses
/// instead of the message's own.
pub(crate) const EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
/// `Nats-Expected-Last-Msg-Id`: the id of the stream's last message.
pub(crate) const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `Nats-Rollup`: `sub` or `all`.
pub(crate) const ROLLUP: &str = "Nats-Rollup";
/// `Nats-TTL`: this message's time to live.
pub(crate) const TTL: &str = "Nats-TTL";

/// The value of header `name` in a `NATS/1.0` header block: the first one, trimmed.
/// Names compare exactly, as nats-server's lookup does.
pub(crate) fn get<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(block).ok()?;
    let mut lines = text.split("\r\n");
    lines.next()?; // the status line
    lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// Whether any JetStream header can be in `block`: the common message without them is
/// recognised by one scan for `Nats-`.
pub(crate) fn may_have_jetstream_headers(block: &[u8]) -> bool {
    memchr::memmem::find(block, b"Nats-").is_some()
}

/// Parses a `Nats-TTL` value as nats-server does: `never` (or `-1`) for no expiry, a whole
/// number of seconds, or a Go duration string (`30s`, `1m30s`). Returns `None` for "never",
/// `Some(duration)` otherwise.
pub(crate) fn parse_ttl(value: &str) -> Result<Option<std::time::Duration>, ()> {
    if value == "never" || value == "-1" {
        return Ok(None);
    }
    if let Ok(secs) = value.parse::<u64>() {
        return if secs == 0 {
            Err(())
        } else {
            Ok(Some(std::time::Duration::from_secs(secs)))
        };
    }
    match humantime::parse_duration(value) {
        Ok(d) if d >= std::time::Duration::from_secs(1) => Ok(Some(d)),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] =
        b"NATS/1.0\r\nNats-Msg-Id: abc\r\nNats-Expected-Last-Sequence:  7 \r\nX: y\r\n\r\n";

    #[test]
    fn values_are_found_by_exact_name_and_trimmed() {
        assert_eq!(get(BLOCK, MSG_ID), Some("abc"));
        assert_eq!(get(BLOCK, EXPECTED_LAST_SEQ), Some("7"));
        assert_eq!(get(BLOCK, "nats-msg-id"), None);
        assert_eq!(get(BLOCK, ROLLUP), None);
        assert!(may_have_jetstream_headers(BLOCK));
        assert!(!may_have_jetstream_headers(b"NATS/1.0\r\nX: y\r\n\r\n"));
    }

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl("never"), Ok(None));
        assert_eq!(parse_ttl("5"), Ok(Some(std::time::Duration::from_secs(5))));
        assert_eq!(
            parse_ttl("1m30s"),
            Ok(Some(std::time::Duration::from_secs(90)))
        );
        assert_eq!(parse_ttl("0"), Err(()));
        assert_eq!(parse_ttl("soon"), Err(()));
    }
}
