//! The server→client encoder: `MSG`, `HMSG`, `-ERR`, `INFO` and the fixed replies.
//!
//! Every function appends to any [`BufMut`] (a `Vec<u8>` or a `BytesMut` outbound buffer) and
//! never allocates beyond the buffer's own growth.

use bytes::BufMut;

use crate::parser::ClientOp;

/// `+OK\r\n`, sent after each accepted operation in verbose mode.
pub const OK: &[u8] = b"+OK\r\n";
/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";
/// The header block nats-server 2.9 sends in the `HMSG` that tells a requester nobody is
/// listening (observed: `HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`).
pub const NO_RESPONDERS_HEADERS: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// The size fields of a PUB or HPUB exactly as the client wrote them (digits, maybe with
/// leading zeros). nats-server copies them into the `MSG`/`HMSG` lines it delivers, so
/// `PUB foo 002` reaches a subscriber as `MSG foo 1 002`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes<'a> {
    /// The header size field of an HPUB; empty for a PUB.
    pub header: &'a [u8],
    /// The total size field (headers and payload).
    pub total: &'a [u8],
}

/// Appends `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, the size in decimal.
pub fn encode_msg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    out.put_slice(b"MSG ");
    put_routing(out, subject, sid, reply);
    put_usize(out, payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Like [`encode_msg`], with the size field given as the publisher wrote it (a
/// [`ClientOp::Pub`]'s `size`, or an HPUB's total size when its header block is empty).
/// `size` must be `payload.len()` in decimal digits; leading zeros are kept.
pub fn encode_msg_sized<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size: &[u8],
    payload: &[u8],
) {
    out.put_slice(b"MSG ");
    put_routing(out, subject, sid, reply);
    out.put_slice(size);
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Appends `HMSG <subject> <sid> [reply] <header size> <total size>\r\n<headers><payload>\r\n`,
/// the sizes in decimal.
pub fn encode_hmsg<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    out.put_slice(b"HMSG ");
    put_routing(out, subject, sid, reply);
    put_usize(out, headers.len());
    out.put_u8(b' ');
    put_usize(out, headers.len() + payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Like [`encode_hmsg`], with the size fields given as the publisher wrote them (a
/// [`ClientOp::Hpub`]'s `header_size` and `size`). They must be `headers.len()` and
/// `headers.len() + payload.len()` in decimal digits; leading zeros are kept.
pub fn encode_hmsg_sized<B: BufMut>(
    out: &mut B,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    sizes: Sizes<'_>,
    headers: &[u8],
    payload: &[u8],
) {
    out.put_slice(b"HMSG ");
    put_routing(out, subject, sid, reply);
    out.put_slice(sizes.header);
    out.put_u8(b' ');
    out.put_slice(sizes.total);
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Appends `-ERR '<message>'\r\n`.
pub fn encode_err<B: BufMut>(out: &mut B, message: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(message.as_bytes());
    out.put_slice(b"'\r\n");
}

/// Appends `INFO <json>\r\n`.
pub fn encode_info<B: BufMut>(out: &mut B, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(b"\r\n");
}

impl ClientOp<'_> {
    /// Appends this operation in its canonical client form (upper-case verb, single spaces,
    /// CRLF), so that [`crate::parse`] reads it back equal. Size fields are written as they
    /// are, so they must be the payload's and header block's lengths in decimal.
    /// [`ClientOp::Ignored`] is written as `+OK\r\n`. Meant for tests, tools and benchmarks.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        match *self {
            ClientOp::Connect(json) => {
                out.put_slice(b"CONNECT ");
                out.put_slice(json);
                out.put_slice(b"\r\n");
            }
            ClientOp::Info(json) => encode_info(out, json),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => {
                out.put_slice(b"PUB ");
                put_field(out, subject);
                if let Some(reply) = reply {
                    put_field(out, reply);
                }
                out.put_slice(size);
                out.put_slice(b"\r\n");
                out.put_slice(payload);
                out.put_slice(b"\r\n");
            }
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                size,
                headers,
                payload,
            } => {
                out.put_slice(b"HPUB ");
                put_field(out, subject);
                if let Some(reply) = reply {
                    put_field(out, reply);
                }
                put_field(out, header_size);
                out.put_slice(size);
                out.put_slice(b"\r\n");
                out.put_slice(headers);
                out.put_slice(payload);
                out.put_slice(b"\r\n");
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                out.put_slice(b"SUB ");
                put_field(out, subject);
                if let Some(queue) = queue {
                    put_field(out, queue);
                }
                out.put_slice(sid);
                out.put_slice(b"\r\n");
            }
            ClientOp::Unsub { sid, max } => {
                out.put_slice(b"UNSUB ");
                out.put_slice(sid);
                if let Some(max) = max {
                    out.put_u8(b' ');
                    out.put_slice(itoa::Buffer::new().format(max).as_bytes());
                }
                out.put_slice(b"\r\n");
            }
            ClientOp::Ping => out.put_slice(PING),
            ClientOp::Pong => out.put_slice(PONG),
            ClientOp::Ignored => out.put_slice(OK),
        }
    }
}

fn put_routing<B: BufMut>(out: &mut B, subject: &[u8], sid: &[u8], reply: Option<&[u8]>) {
    put_field(out, subject);
    put_field(out, sid);
    if let Some(reply) = reply {
        put_field(out, reply);
    }
}

/// Writes `field` and the space after it.
fn put_field<B: BufMut>(out: &mut B, field: &[u8]) {
    out.put_slice(field);
    out.put_u8(b' ');
}

fn put_usize<B: BufMut>(out: &mut B, n: usize) {
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
}
