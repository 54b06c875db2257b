//! The client→server parser: one operation at a time, borrowed from the read buffer.
//!
//! The parser is stateless: the connection keeps its unconsumed bytes, appends the next read,
//! and calls [`parse`] again. A split control line or payload is simply "need more"
//! (`Ok(None)`). Every rule below was checked against nats-server 2.9.10 on the wire; the
//! crate's tests record what the reference did.
//!
//! Rules worth knowing:
//! - Verbs are case-insensitive; fields are separated by runs of spaces or tabs; `\r` before
//!   the `\n` of a control line is optional. A payload must be followed by exactly `\r\n`.
//! - The limit `max_control_line` applies to the argument part of a line (after the verb and
//!   its spaces, without the final `\r`), both on complete lines and on lines still waiting
//!   for their `\n`, like nats-server's split-buffer check.
//! - `max_payload` is checked on the PUB/HPUB line, before the payload arrives.
//! - Two deliberate differences, both bounded by `max_control_line` because a stateless parser
//!   must keep bytes nats-server would drop as it reads: the junk nats-server ignores after
//!   `PING`, `PONG` and `+OK`, and a run of separators before a line's first argument.
//!
//! Every verdict is independent of how the bytes were split into reads.

use crate::error::{ParseError, SizeField, Verb, lossy};
use crate::scan::{find_byte, find_space_or_control};

/// Limits the parser enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted argument part of a control line, in bytes (nats-server: 4096).
    pub max_control_line: usize,
    /// Largest accepted PUB/HPUB size, headers included, in bytes (nats-server: 1 MiB).
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
        }
    }
}

/// One client operation, borrowing from the read buffer (zero-copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT <json>`: the bytes after the verb and its spaces, unchecked. nats-server closes
    /// the connection silently when they are not valid JSON (e.g. `CONNECT\r\n` gives `b"\r"`).
    Connect(&'a [u8]),
    /// `PUB <subject> [reply] <size>` and its payload.
    Pub {
        /// The subject, unchecked (nats-server checks it only in pedantic mode).
        subject: &'a [u8],
        /// The reply subject, if any.
        reply: Option<&'a [u8]>,
        /// The size field as the client wrote it (1 to 9 digits, maybe with leading zeros):
        /// nats-server copies it into the `MSG` lines it delivers (see [`crate::encode_msg_sized`]).
        size: &'a [u8],
        /// The payload, without its trailing CRLF.
        payload: &'a [u8],
    },
    /// `HPUB <subject> [reply] <header size> <total size>`, its header block and payload.
    Hpub {
        /// The subject, unchecked.
        subject: &'a [u8],
        /// The reply subject, if any.
        reply: Option<&'a [u8]>,
        /// The header size field as the client wrote it (digits, maybe with leading zeros).
        header_size: &'a [u8],
        /// The total size field as the client wrote it; with `header_size`, copied into the
        /// `HMSG` lines nats-server delivers (see [`crate::encode_hmsg_sized`]).
        size: &'a [u8],
        /// The whole header block (normally `NATS/1.0...\r\n\r\n`), unchecked; may be empty,
        /// and then nats-server delivers the message as a plain `MSG`.
        headers: &'a [u8],
        /// The bytes after the header block, without the trailing CRLF.
        payload: &'a [u8],
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// The subject, unchecked (see [`crate::is_valid_subscribe_subject`]).
        subject: &'a [u8],
        /// The queue group, if any.
        queue: Option<&'a [u8]>,
        /// The subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// The subscription id.
        sid: &'a [u8],
        /// The auto-unsubscribe count. `None` when absent *or* not 1–9 digits: nats-server then
        /// unsubscribes at once, as it does for `Some(0)`.
        max: Option<u64>,
    },
    /// `PING` (anything between the verb and `\n` is ignored, like nats-server).
    Ping,
    /// `PONG` (anything between the verb and `\n` is ignored).
    Pong,
    /// `INFO <json>` sent by a client: nats-server ignores it when the bytes are valid JSON
    /// and closes silently when not.
    Info(&'a [u8]),
    /// An operation nats-server accepts from a client and does nothing with: `+OK`, or an
    /// `HMSG` line immediately followed by CRLF.
    Ignored,
}

/// Parses one operation from the start of `buf`, on a connection that negotiated headers.
///
/// `Ok(None)`: need more bytes (read more, append, call again with the grown buffer).
/// `Ok(Some((op, consumed)))`: one operation, which used the first `consumed` bytes.
pub fn parse<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
    parse_op(buf, limits, true)
}

/// Like [`parse`], for a connection without headers support (before CONNECT, or a CONNECT
/// without `"headers":true`): an HPUB line fails with [`ParseError::HeadersNotSupported`]
/// as soon as it is complete, before its arguments are looked at, like nats-server.
pub fn parse_without_headers<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
    parse_op(buf, limits, false)
}

type Parsed<'a> = Result<Option<(ClientOp<'a>, usize)>, ParseError>;

fn parse_op<'a>(buf: &'a [u8], limits: &Limits, headers: bool) -> Parsed<'a> {
    let Some((verb, after_verb)) = read_verb(buf)? else {
        return Ok(None);
    };
    match verb {
        Verb::Ping | Verb::Pong | Verb::Ok => {
            // nats-server ignores anything between these verbs and the LF, and drops it as it
            // reads. A stateless parser must keep it, so it is bounded by max_control_line,
            // the same way whether or not the LF has arrived (the trailing CR is not counted).
            let rest = &buf[after_verb..];
            let end = find_byte(b'\n', rest);
            let junk = &rest[..end.unwrap_or(rest.len())];
            let len = junk.len() - usize::from(junk.last() == Some(&b'\r'));
            if len > limits.max_control_line {
                return Err(ParseError::MaxControlLine {
                    len,
                    max: limits.max_control_line,
                });
            }
            let Some(nl) = end else {
                return Ok(None);
            };
            let op = match verb {
                Verb::Ping => ClientOp::Ping,
                Verb::Pong => ClientOp::Pong,
                _ => ClientOp::Ignored,
            };
            Ok(Some((op, after_verb + nl + 1)))
        }
        Verb::Connect | Verb::Info => {
            let Some((arg, next)) = read_args(buf, after_verb, limits.max_control_line)? else {
                return Ok(None);
            };
            let op = if verb == Verb::Connect {
                ClientOp::Connect(arg)
            } else {
                ClientOp::Info(arg)
            };
            Ok(Some((op, next)))
        }
        Verb::Pub | Verb::Hpub | Verb::Sub | Verb::Unsub | Verb::Hmsg | Verb::Err => {
            match buf.get(after_verb) {
                None => return Ok(None),
                Some(b' ' | b'\t') => {}
                Some(_) => {
                    return Err(ParseError::UnknownOperation { offset: after_verb });
                }
            }
            let Some((arg, next)) = read_args(buf, after_verb + 1, limits.max_control_line)? else {
                return Ok(None);
            };
            match verb {
                Verb::Pub => parse_pub(buf, arg, next, limits),
                Verb::Hpub if !headers => Err(ParseError::HeadersNotSupported),
                Verb::Hpub => parse_hpub(buf, arg, next, limits),
                Verb::Sub => parse_sub(arg, next),
                Verb::Unsub => parse_unsub(arg, next),
                // nats-server reads an HMSG line from a client, then expects its (empty) payload.
                Verb::Hmsg => {
                    Ok(payload_end(buf, next, 0, Verb::Hmsg)?.map(|end| (ClientOp::Ignored, end)))
                }
                _ => Err(ParseError::PeerError {
                    message: lossy(arg),
                }),
            }
        }
    }
}

/// A verb's spelling, prepared for one masked comparison of the first eight bytes.
struct Spelling {
    verb: Verb,
    len: usize,
    /// The verb in lower case, zero-padded.
    lower: u64,
    /// Bit 0x20 at each letter: setting it lower-cases a letter; other bytes match exactly.
    fold: u64,
    /// 0xff over the verb's bytes.
    keep: u64,
}

impl Spelling {
    const fn new(verb: Verb, word: &[u8]) -> Spelling {
        let mut lower = [0u8; 8];
        let mut fold = [0u8; 8];
        let mut keep = [0u8; 8];
        let mut i = 0;
        while i < word.len() {
            lower[i] = word[i];
            fold[i] = if word[i].is_ascii_lowercase() {
                0x20
            } else {
                0
            };
            keep[i] = 0xff;
            i += 1;
        }
        Spelling {
            verb,
            len: word.len(),
            lower: u64::from_le_bytes(lower),
            fold: u64::from_le_bytes(fold),
            keep: u64::from_le_bytes(keep),
        }
    }

    /// Whether `head` (the first eight bytes, zero-padded) starts with this verb.
    #[inline]
    fn matches(&self, head: u64) -> bool {
        (head | self.fold) & self.keep == self.lower
    }
}

const PUB: Spelling = Spelling::new(Verb::Pub, b"pub");
const PING: Spelling = Spelling::new(Verb::Ping, b"ping");
const PONG: Spelling = Spelling::new(Verb::Pong, b"pong");
const HPUB: Spelling = Spelling::new(Verb::Hpub, b"hpub");
const HMSG: Spelling = Spelling::new(Verb::Hmsg, b"hmsg");
const SUB: Spelling = Spelling::new(Verb::Sub, b"sub");
const UNSUB: Spelling = Spelling::new(Verb::Unsub, b"unsub");
const CONNECT: Spelling = Spelling::new(Verb::Connect, b"connect");
const INFO: Spelling = Spelling::new(Verb::Info, b"info");
const PLUS_OK: Spelling = Spelling::new(Verb::Ok, b"+ok");
const MINUS_ERR: Spelling = Spelling::new(Verb::Err, b"-err");

/// Recognises the verb at the start of `buf`, case-insensitively, like nats-server's state
/// machine: the first byte that cannot continue a known verb is an unknown operation.
fn read_verb(buf: &[u8]) -> Result<Option<(Verb, usize)>, ParseError> {
    let head = match buf.first_chunk::<8>() {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => {
            let mut padded = [0u8; 8];
            padded[..buf.len()].copy_from_slice(buf);
            u64::from_le_bytes(padded)
        }
    };
    let byte = |i: usize| (head >> (8 * i)) as u8 | 0x20;
    let spelling = match byte(0) {
        b'p' => match byte(1) {
            b'u' => &PUB,
            b'i' => &PING,
            b'o' => &PONG,
            _ => &PUB, // settled by the slow path below
        },
        b'h' => match byte(1) {
            b'm' => &HMSG,
            _ => &HPUB,
        },
        b's' => &SUB,
        b'u' => &UNSUB,
        b'c' => &CONNECT,
        b'i' => &INFO,
        b'+' => &PLUS_OK,
        b'-' => &MINUS_ERR,
        _ => &PUB,
    };
    if buf.len() >= spelling.len && spelling.matches(head) {
        return Ok(Some((spelling.verb, spelling.len)));
    }
    slow_verb(buf)
}

/// The verb is cut short, misspelled or unknown: walk it byte by byte to tell "need more"
/// from an unknown operation at a precise offset.
#[cold]
fn slow_verb(buf: &[u8]) -> Result<Option<(Verb, usize)>, ParseError> {
    let lower = |i: usize| buf.get(i).map(u8::to_ascii_lowercase);
    let spelling = match lower(0) {
        None => return Ok(None),
        Some(b'p') => match lower(1) {
            None => return Ok(None),
            Some(b'u') => &PUB,
            Some(b'i') => &PING,
            Some(b'o') => &PONG,
            Some(_) => return Err(ParseError::UnknownOperation { offset: 1 }),
        },
        Some(b'h') => match lower(1) {
            None => return Ok(None),
            Some(b'p') => &HPUB,
            Some(b'm') => &HMSG,
            Some(_) => return Err(ParseError::UnknownOperation { offset: 1 }),
        },
        Some(b's') => &SUB,
        Some(b'u') => &UNSUB,
        Some(b'c') => &CONNECT,
        Some(b'i') => &INFO,
        Some(b'+') => &PLUS_OK,
        Some(b'-') => &MINUS_ERR,
        Some(_) => return Err(ParseError::UnknownOperation { offset: 0 }),
    };
    let word = spelling.lower.to_le_bytes();
    for (offset, &expected) in word[..spelling.len].iter().enumerate() {
        match lower(offset) {
            None => return Ok(None),
            Some(b) if b == expected => {}
            Some(_) => return Err(ParseError::UnknownOperation { offset }),
        }
    }
    Ok(Some((spelling.verb, spelling.len)))
}

/// Reads the argument part of a control line starting at `from` (leading spaces and tabs are
/// skipped). Returns the arguments and the offset just after the line's `\n`.
///
/// Like nats-server, the first argument byte is taken as is, and any later `\r` makes the
/// last byte before `\n` be dropped (normally that `\r` itself).
fn read_args(
    buf: &[u8],
    from: usize,
    max_control_line: usize,
) -> Result<Option<(&[u8], usize)>, ParseError> {
    let mut start = from;
    while start < buf.len() && matches!(buf[start], b' ' | b'\t') {
        start += 1;
    }
    let too_long = |len: usize| ParseError::MaxControlLine {
        len,
        max: max_control_line,
    };
    // nats-server skips any number of separators before the arguments; a stateless parser
    // keeps them in the buffer, so they are bounded too (whether or not more has arrived).
    let separators = start - from;
    if separators > max_control_line {
        return Err(too_long(separators));
    }
    if start == buf.len() {
        return Ok(None);
    }
    let rest = &buf[start + 1..];
    match find_byte(b'\n', rest) {
        Some(pos) => {
            let nl = start + 1 + pos;
            let drop = usize::from(
                (nl > start + 1 && buf[nl - 1] == b'\r')
                    || find_byte(b'\r', &rest[..pos]).is_some(),
            );
            let arg = &buf[start..nl - drop];
            if arg.len() > max_control_line {
                return Err(too_long(arg.len()));
            }
            Ok(Some((arg, nl + 1)))
        }
        None => {
            let pending = buf.len() - start;
            if pending > max_control_line {
                let drop = usize::from(find_byte(b'\r', rest).is_some());
                if pending - drop > max_control_line {
                    return Err(too_long(pending - drop));
                }
            }
            Ok(None)
        }
    }
}

fn parse_pub<'a>(buf: &'a [u8], arg: &'a [u8], next: usize, limits: &Limits) -> Parsed<'a> {
    let mut f: [&[u8]; 3] = [&[]; 3];
    let (subject, reply, size_field) = match split_fields::<_, false>(arg, &mut f) {
        2 => (f[0], None, f[1]),
        3 => (f[0], Some(f[1]), f[2]),
        count => return Err(wrong_count(Verb::Pub, count, arg)),
    };
    let size = parse_size(size_field).ok_or_else(|| ParseError::BadSize {
        verb: Verb::Pub,
        field: SizeField::Total,
        arg: lossy(arg),
    })?;
    check_max_payload(Verb::Pub, size, limits)?;
    Ok(payload_end(buf, next, size, Verb::Pub)?.map(|end| {
        let op = ClientOp::Pub {
            subject,
            reply,
            size: size_field,
            payload: &buf[next..next + size],
        };
        (op, end)
    }))
}

fn parse_hpub<'a>(buf: &'a [u8], arg: &'a [u8], next: usize, limits: &Limits) -> Parsed<'a> {
    let mut f: [&[u8]; 4] = [&[]; 4];
    let (subject, reply, header_field, size_field) = match split_fields::<_, false>(arg, &mut f) {
        3 => (f[0], None, f[1], f[2]),
        4 => (f[0], Some(f[1]), f[2], f[3]),
        count => return Err(wrong_count(Verb::Hpub, count, arg)),
    };
    let bad = |field| ParseError::BadSize {
        verb: Verb::Hpub,
        field,
        arg: lossy(arg),
    };
    let header_size = parse_size(header_field).ok_or_else(|| bad(SizeField::Header))?;
    let size = parse_size(size_field).ok_or_else(|| bad(SizeField::Total))?;
    if header_size > size {
        return Err(ParseError::HeaderSizeExceedsTotal {
            header: header_size,
            total: size,
        });
    }
    check_max_payload(Verb::Hpub, size, limits)?;
    Ok(payload_end(buf, next, size, Verb::Hpub)?.map(|end| {
        let op = ClientOp::Hpub {
            subject,
            reply,
            header_size: header_field,
            size: size_field,
            headers: &buf[next..next + header_size],
            payload: &buf[next + header_size..next + size],
        };
        (op, end)
    }))
}

fn parse_sub<'a>(arg: &'a [u8], next: usize) -> Parsed<'a> {
    let mut f: [&[u8]; 3] = [&[]; 3];
    let op = match split_fields::<_, true>(arg, &mut f) {
        2 => ClientOp::Sub {
            subject: f[0],
            queue: None,
            sid: f[1],
        },
        3 => ClientOp::Sub {
            subject: f[0],
            queue: Some(f[1]),
            sid: f[2],
        },
        count => return Err(wrong_count(Verb::Sub, count, arg)),
    };
    Ok(Some((op, next)))
}

fn parse_unsub<'a>(arg: &'a [u8], next: usize) -> Parsed<'a> {
    let mut f: [&[u8]; 2] = [&[]; 2];
    let op = match split_fields::<_, true>(arg, &mut f) {
        1 => ClientOp::Unsub {
            sid: f[0],
            max: None,
        },
        2 => ClientOp::Unsub {
            sid: f[0],
            max: parse_size(f[1]).map(|n| n as u64),
        },
        count => return Err(wrong_count(Verb::Unsub, count, arg)),
    };
    Ok(Some((op, next)))
}

fn wrong_count(verb: Verb, count: usize, arg: &[u8]) -> ParseError {
    ParseError::WrongArgumentCount {
        verb,
        count,
        arg: lossy(arg),
    }
}

fn check_max_payload(verb: Verb, size: usize, limits: &Limits) -> Result<(), ParseError> {
    if size > limits.max_payload {
        return Err(ParseError::MaxPayload {
            verb,
            size,
            max: limits.max_payload,
        });
    }
    Ok(())
}

/// Jumps over a payload of `size` bytes starting at `start` and checks only the CRLF after it.
/// Returns the offset after that CRLF, or `None` when more bytes are needed.
fn payload_end(
    buf: &[u8],
    start: usize,
    size: usize,
    verb: Verb,
) -> Result<Option<usize>, ParseError> {
    let end = start + size;
    let bad = || ParseError::MissingPayloadTerminator { verb, size };
    match buf.get(end) {
        None => return Ok(None),
        Some(b'\r') => {}
        Some(_) => return Err(bad()),
    }
    match buf.get(end + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(end + 2)),
        Some(_) => Err(bad()),
    }
}

/// Splits `arg` into fields separated by runs of spaces and tabs (and `\r` when `CR_TOO`,
/// like nats-server's SUB/UNSUB splitting; an argument never holds `\n`). Stores the first `N`
/// fields in `out` and returns how many there are in all.
fn split_fields<'a, const N: usize, const CR_TOO: bool>(
    arg: &'a [u8],
    out: &mut [&'a [u8]; N],
) -> usize {
    let is_sep = |b: u8| b == b' ' || b == b'\t' || (CR_TOO && b == b'\r');
    let mut count = 0;
    let mut i = 0;
    while i < arg.len() {
        if is_sep(arg[i]) {
            i += 1;
            continue;
        }
        let start = i;
        // Jump to the next space or control byte; a control byte that is not a separator
        // (a stray CR in a PUB line) belongs to the field.
        i = loop {
            match find_space_or_control(&arg[i..]) {
                Some(p) if is_sep(arg[i + p]) => break i + p,
                Some(p) => i += p + 1,
                None => break arg.len(),
            }
        };
        if let Some(slot) = out.get_mut(count) {
            *slot = &arg[start..i];
        }
        count += 1;
    }
    count
}

/// nats-server's `parseSize`: 1 to 9 ASCII digits, nothing else (no sign, no spaces).
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}
