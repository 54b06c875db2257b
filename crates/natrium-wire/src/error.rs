//! Protocol errors, and how nats-server 2.9 answers each of them on the wire.
//!
//! Every variant maps to one observed reference behaviour: either an `-ERR '<text>'` followed by
//! a close, or a silent close. [`ParseError::client_message`] and
//! [`ParseError::closes_connection`] carry that mapping so the server can reproduce it byte for
//! byte.

use std::fmt;

/// The `-ERR` text nats-server sends when it cannot recognise an operation.
pub const UNKNOWN_PROTOCOL_OPERATION: &str = "Unknown Protocol Operation";
/// The `-ERR` text nats-server sends when a PUB/HPUB announces more than `max_payload` bytes.
pub const MAXIMUM_PAYLOAD_VIOLATION: &str = "Maximum Payload Violation";
/// The `-ERR` text nats-server 2.9 sends when a control line is too long (lower case on the wire).
pub const MAXIMUM_CONTROL_LINE_EXCEEDED: &str = "maximum control line exceeded";
/// The `-ERR` text nats-server sends (without closing) when a SUB subject is not a valid subject.
pub const INVALID_SUBJECT: &str = "Invalid Subject";
/// The `-ERR` text nats-server sends (without closing) in pedantic mode for a PUB to a
/// non-literal subject.
pub const INVALID_PUBLISH_SUBJECT: &str = "Invalid Publish Subject";

/// A client protocol verb, used to give errors their context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `CONNECT`
    Connect,
    /// `PUB`
    Pub,
    /// `HPUB`
    Hpub,
    /// `SUB`
    Sub,
    /// `UNSUB`
    Unsub,
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
    /// `INFO` (servers send it; a client may too and nats-server only checks its JSON)
    Info,
    /// `HMSG` (server to client; nats-server tolerates it from a client only without payload)
    Hmsg,
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

impl Verb {
    /// The verb as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Connect => "CONNECT",
            Verb::Pub => "PUB",
            Verb::Hpub => "HPUB",
            Verb::Sub => "SUB",
            Verb::Unsub => "UNSUB",
            Verb::Ping => "PING",
            Verb::Pong => "PONG",
            Verb::Info => "INFO",
            Verb::Hmsg => "HMSG",
            Verb::Ok => "+OK",
            Verb::Err => "-ERR",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which size field of a PUB/HPUB line was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeField {
    /// The header size of an HPUB.
    Header,
    /// The payload size of a PUB, or the total size of an HPUB.
    Total,
}

impl fmt::Display for SizeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeField::Header => "header size",
            SizeField::Total => "size",
        })
    }
}

/// A protocol violation found by [`crate::parse`].
///
/// Arguments are kept as lossy UTF-8 text for logs; building them allocates, which is fine
/// because every error ends the connection or is rare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes do not start a known client operation (also: an empty line, a leading space,
    /// `MSG`, a verb not followed by a space).
    #[error("unknown protocol operation at byte {offset}")]
    UnknownOperation {
        /// Offset of the offending byte from the start of the operation.
        offset: usize,
    },
    /// The bytes after a PUB/HPUB payload are not `\r\n`.
    #[error("{verb} payload of {size} bytes is not followed by CRLF")]
    MissingPayloadTerminator {
        /// PUB or HPUB.
        verb: Verb,
        /// The announced size.
        size: usize,
    },
    /// The arguments of a control line are longer than `max_control_line`.
    #[error("control line of {len} bytes exceeds max_control_line {max}")]
    MaxControlLine {
        /// Length of the argument part seen so far.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A PUB/HPUB announced more bytes than `max_payload` allows (headers count).
    #[error("{verb} announces {size} bytes, more than max_payload {max}")]
    MaxPayload {
        /// PUB or HPUB.
        verb: Verb,
        /// The announced (total) size.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A PUB/HPUB/SUB/UNSUB line has the wrong number of arguments.
    #[error("{verb} has {count} arguments: {arg:?}")]
    WrongArgumentCount {
        /// The operation.
        verb: Verb,
        /// How many arguments were found.
        count: usize,
        /// The argument text.
        arg: String,
    },
    /// A size is not 1 to 9 ASCII digits (nats-server's `parseSize`).
    #[error("{verb} has a bad or missing {field}: {arg:?}")]
    BadSize {
        /// PUB or HPUB.
        verb: Verb,
        /// Which size.
        field: SizeField,
        /// The argument text.
        arg: String,
    },
    /// An HPUB header size is larger than its total size.
    #[error("HPUB header size {header} is larger than total size {total}")]
    HeaderSizeExceedsTotal {
        /// The header size.
        header: usize,
        /// The total size.
        total: usize,
    },
    /// An HPUB arrived on a connection that did not negotiate headers in CONNECT.
    #[error("HPUB on a connection without headers support")]
    HeadersNotSupported,
    /// The client sent `-ERR`; nats-server logs it and closes.
    #[error("client sent -ERR {message}")]
    PeerError {
        /// The text after `-ERR `.
        message: String,
    },
}

impl ParseError {
    /// The exact text nats-server 2.9 puts inside `-ERR '...'` for this error, or `None` when
    /// it closes the connection without sending anything.
    pub fn client_message(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOperation { .. } | ParseError::MissingPayloadTerminator { .. } => {
                Some(UNKNOWN_PROTOCOL_OPERATION)
            }
            ParseError::MaxControlLine { .. } => Some(MAXIMUM_CONTROL_LINE_EXCEEDED),
            ParseError::MaxPayload { .. } => Some(MAXIMUM_PAYLOAD_VIOLATION),
            ParseError::WrongArgumentCount { .. }
            | ParseError::BadSize { .. }
            | ParseError::HeaderSizeExceedsTotal { .. }
            | ParseError::HeadersNotSupported
            | ParseError::PeerError { .. } => None,
        }
    }

    /// Whether nats-server closes the connection after this error (every parse error does).
    pub fn closes_connection(&self) -> bool {
        true
    }
}

pub(crate) fn lossy(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}
