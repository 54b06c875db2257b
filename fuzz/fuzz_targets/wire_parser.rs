//! The client protocol parser: never panics, gives the same operations and the same verdict
//! whether the bytes arrive at once or split at fuzzer-chosen points, and reads back exactly
//! what a simple reference encoder wrote.
//!
//! Input: `[mode] [n] [n × u16 split points] stream...`.
//! - mode bit 0: headers negotiated; bit 1: small limits (so limit paths are reachable);
//!   bit 2: the stream is a list of operations for the reference model (see `model_ops`),
//!   not raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrium_wire::{ClientOp, Limits, ParseError, parse, parse_without_headers};

/// An owned copy of a parsed operation, to compare across runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Connect(Vec<u8>),
    /// Subject, reply, size field as written, payload.
    Pub(Vec<u8>, Option<Vec<u8>>, Vec<u8>, Vec<u8>),
    /// Subject, reply, header and total size fields as written, headers, payload.
    Hpub(Vec<u8>, Option<Vec<u8>>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<u64>),
    Ping,
    Pong,
    Info(Vec<u8>),
    Ignored,
}

/// The value of a size field the parser kept: it must be plain digits.
fn size_of(field: &[u8]) -> usize {
    assert!(!field.is_empty() && field.iter().all(u8::is_ascii_digit), "size field {field:?}");
    std::str::from_utf8(field).unwrap().parse().unwrap()
}

fn own(op: ClientOp<'_>) -> Op {
    match op {
        ClientOp::Connect(a) => Op::Connect(a.to_vec()),
        ClientOp::Pub { subject, reply, size, payload } => {
            assert_eq!(size_of(size), payload.len(), "PUB size field");
            Op::Pub(subject.to_vec(), reply.map(<[u8]>::to_vec), size.to_vec(), payload.to_vec())
        }
        ClientOp::Hpub { subject, reply, header_size, size, headers, payload } => {
            assert_eq!(size_of(header_size), headers.len(), "HPUB header size field");
            assert_eq!(size_of(size), headers.len() + payload.len(), "HPUB size field");
            Op::Hpub(
                subject.to_vec(),
                reply.map(<[u8]>::to_vec),
                header_size.to_vec(),
                size.to_vec(),
                headers.to_vec(),
                payload.to_vec(),
            )
        }
        ClientOp::Sub { subject, queue, sid } => {
            Op::Sub(subject.to_vec(), queue.map(<[u8]>::to_vec), sid.to_vec())
        }
        ClientOp::Unsub { sid, max } => Op::Unsub(sid.to_vec(), max),
        ClientOp::Ping => Op::Ping,
        ClientOp::Pong => Op::Pong,
        ClientOp::Info(a) => Op::Info(a.to_vec()),
        ClientOp::Ignored => Op::Ignored,
    }
}

/// How a run ended: an error, or waiting for more with this many bytes kept.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Error(Verdict),
    NeedMore(usize),
}

/// A parse error without the byte counts that depend on how much of a line has arrived
/// (`MaxControlLine::len`): what the server does with it must not depend on the split.
#[derive(Debug, PartialEq, Eq)]
struct Verdict(Option<&'static str>, String);

fn verdict(e: &ParseError) -> Verdict {
    let detail = match e {
        ParseError::MaxControlLine { max, .. } => format!("max control line {max}"),
        other => format!("{other:?}"),
    };
    Verdict(e.client_message(), detail)
}

struct Conn {
    headers: bool,
    limits: Limits,
    pending: Vec<u8>,
    ops: Vec<Op>,
    error: Option<ParseError>,
}

impl Conn {
    /// Appends a read and parses every complete operation, as the server's read loop does.
    fn read(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.pending.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            let buf = &self.pending[used..];
            let result = if self.headers {
                parse(buf, &self.limits)
            } else {
                parse_without_headers(buf, &self.limits)
            };
            match result {
                Ok(Some((op, n))) => {
                    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                    self.ops.push(own(op));
                    used += n;
                }
                Ok(None) => break,
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        self.pending.drain(..used);
    }

    fn end(&self) -> End {
        match &self.error {
            Some(e) => End::Error(verdict(e)),
            None => End::NeedMore(self.pending.len()),
        }
    }
}

/// Reads `[u8]` as operations for the reference model: each op is chosen by one byte, its
/// fields are short runs of "safe" bytes (no whitespace or control characters), so the
/// encoded text is well-formed and must parse back to exactly these ops.
fn model_ops(data: &[u8]) -> (Vec<u8>, Vec<Op>) {
    let mut input = data.iter().copied();
    let mut text = Vec::new();
    let mut ops = Vec::new();
    let token = |input: &mut dyn Iterator<Item = u8>| -> Vec<u8> {
        let len = 1 + usize::from(input.next().unwrap_or(0) % 6);
        (0..len)
            .map(|_| {
                let b = input.next().unwrap_or(b'a');
                // Printable, not space: 0x21..=0x7e.
                0x21 + b % 94
            })
            .collect()
    };
    let sep = |input: &mut dyn Iterator<Item = u8>| -> &'static [u8] {
        match input.next().unwrap_or(0) % 3 {
            0 => b" ",
            1 => b"\t",
            _ => b"  ",
        }
    };
    let verb = |input: &mut dyn Iterator<Item = u8>, v: &str| -> Vec<u8> {
        let mask = input.next().unwrap_or(0);
        v.bytes()
            .enumerate()
            .map(|(i, c)| if mask & (1 << (i % 8)) != 0 { c.to_ascii_lowercase() } else { c })
            .collect()
    };
    while let Some(kind) = input.next() {
        let eol: &[u8] = if kind & 0x80 != 0 { b"\n" } else { b"\r\n" };
        match kind % 7 {
            0 => {
                text.extend(verb(&mut input, "PING"));
                text.extend_from_slice(eol);
                ops.push(Op::Ping);
            }
            1 => {
                text.extend(verb(&mut input, "PONG"));
                text.extend_from_slice(eol);
                ops.push(Op::Pong);
            }
            2 => {
                let subject = token(&mut input);
                let reply = (kind & 0x40 != 0).then(|| token(&mut input));
                let size = usize::from(input.next().unwrap_or(0) % 32);
                let payload: Vec<u8> = (0..size).map(|_| input.next().unwrap_or(b'x')).collect();
                text.extend(verb(&mut input, "PUB"));
                text.extend_from_slice(sep(&mut input));
                text.extend_from_slice(&subject);
                if let Some(r) = &reply {
                    text.extend_from_slice(sep(&mut input));
                    text.extend_from_slice(r);
                }
                text.extend_from_slice(sep(&mut input));
                text.extend_from_slice(size.to_string().as_bytes());
                text.extend_from_slice(eol);
                text.extend_from_slice(&payload);
                text.extend_from_slice(b"\r\n");
                ops.push(Op::Pub(subject, reply, size.to_string().into_bytes(), payload));
            }
            3 => {
                let subject = token(&mut input);
                let reply = (kind & 0x40 != 0).then(|| token(&mut input));
                let hsize = usize::from(input.next().unwrap_or(0) % 16);
                let psize = usize::from(input.next().unwrap_or(0) % 16);
                let headers: Vec<u8> = (0..hsize).map(|_| input.next().unwrap_or(b'h')).collect();
                let payload: Vec<u8> = (0..psize).map(|_| input.next().unwrap_or(b'p')).collect();
                text.extend(verb(&mut input, "HPUB"));
                text.extend_from_slice(b" ");
                text.extend_from_slice(&subject);
                if let Some(r) = &reply {
                    text.extend_from_slice(b" ");
                    text.extend_from_slice(r);
                }
                text.extend_from_slice(format!(" {hsize} {}", hsize + psize).as_bytes());
                text.extend_from_slice(eol);
                text.extend_from_slice(&headers);
                text.extend_from_slice(&payload);
                text.extend_from_slice(b"\r\n");
                let sizes = (hsize.to_string().into_bytes(), (hsize + psize).to_string().into_bytes());
                ops.push(Op::Hpub(subject, reply, sizes.0, sizes.1, headers, payload));
            }
            4 => {
                let subject = token(&mut input);
                let queue = (kind & 0x40 != 0).then(|| token(&mut input));
                let sid = token(&mut input);
                text.extend(verb(&mut input, "SUB"));
                text.extend_from_slice(sep(&mut input));
                text.extend_from_slice(&subject);
                if let Some(q) = &queue {
                    text.extend_from_slice(sep(&mut input));
                    text.extend_from_slice(q);
                }
                text.extend_from_slice(sep(&mut input));
                text.extend_from_slice(&sid);
                text.extend_from_slice(eol);
                ops.push(Op::Sub(subject, queue, sid));
            }
            5 => {
                let sid = token(&mut input);
                let max = (kind & 0x40 != 0).then(|| u64::from(input.next().unwrap_or(0)) + 1);
                text.extend(verb(&mut input, "UNSUB"));
                text.extend_from_slice(b" ");
                text.extend_from_slice(&sid);
                if let Some(m) = max {
                    text.extend_from_slice(format!(" {m}").as_bytes());
                }
                text.extend_from_slice(eol);
                ops.push(Op::Unsub(sid, max));
            }
            _ => {
                let json = token(&mut input);
                text.extend(verb(&mut input, "CONNECT"));
                text.extend_from_slice(b" ");
                text.extend_from_slice(&json);
                text.extend_from_slice(b"\r\n");
                ops.push(Op::Connect(json));
            }
        }
    }
    (text, ops)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&n, mut rest)) = rest.split_first() else {
        return;
    };
    let mut splits = Vec::new();
    for _ in 0..n % 8 {
        let Some((point, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        splits.push(usize::from(u16::from_le_bytes(*point)));
        rest = tail;
    }
    let headers = mode & 1 != 0;
    let limits = if mode & 2 != 0 {
        Limits { max_control_line: 16, max_payload: 24 }
    } else {
        Limits::default()
    };
    let (stream, expected) = if mode & 4 != 0 {
        let (text, ops) = model_ops(rest);
        (text, Some(ops))
    } else {
        (rest.to_vec(), None)
    };

    let new_conn = || Conn { headers, limits, pending: Vec::new(), ops: Vec::new(), error: None };
    let mut whole = new_conn();
    whole.read(&stream);

    let mut split = new_conn();
    let mut points: Vec<usize> = splits.iter().map(|p| p % (stream.len() + 1)).collect();
    points.sort_unstable();
    let mut from = 0;
    for p in points.into_iter().chain([stream.len()]) {
        split.read(&stream[from..p]);
        from = p;
    }
    assert_eq!(whole.ops, split.ops, "ops differ when split");
    assert_eq!(whole.end(), split.end(), "verdict differs when split");

    // The reference model's text is well-formed: every op parses back unless a limit (or a
    // connection without headers) refuses it, and then the ops before it are all there.
    if let Some(expected) = expected {
        match &whole.error {
            None => {
                assert_eq!(whole.ops, expected);
                assert_eq!(whole.pending.len(), 0);
            }
            Some(e) => {
                let allowed = matches!(
                    e,
                    ParseError::MaxControlLine { .. }
                        | ParseError::MaxPayload { .. }
                        | ParseError::HeadersNotSupported
                ) && (mode & 2 != 0 || !headers);
                assert!(allowed, "reference text refused: {e:?}");
                assert_eq!(whole.ops[..], expected[..whole.ops.len()]);
            }
        }
    }
});
