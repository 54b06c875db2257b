//! Shared test support: owned copies of operations, a simulated connection read loop, and the
//! table of protocol cases observed on the wire against nats-server 2.9.10.

#![allow(dead_code)] // each test crate uses a different part of this module

pub mod cases;

use natrium_wire::{ClientOp, Limits, ParseError, parse, parse_without_headers};

/// An owned copy of a [`ClientOp`], so results can outlive the buffer they were parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Connect(Vec<u8>),
    Pub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        size: Vec<u8>,
        payload: Vec<u8>,
    },
    Hpub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        header_size: Vec<u8>,
        size: Vec<u8>,
        headers: Vec<u8>,
        payload: Vec<u8>,
    },
    Sub {
        subject: Vec<u8>,
        queue: Option<Vec<u8>>,
        sid: Vec<u8>,
    },
    Unsub {
        sid: Vec<u8>,
        max: Option<u64>,
    },
    Ping,
    Pong,
    Info(Vec<u8>),
    Ignored,
}

impl From<ClientOp<'_>> for Op {
    fn from(op: ClientOp<'_>) -> Self {
        let own = |s: &[u8]| s.to_vec();
        match op {
            ClientOp::Connect(json) => Op::Connect(own(json)),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => Op::Pub {
                subject: own(subject),
                reply: reply.map(own),
                size: own(size),
                payload: own(payload),
            },
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                size,
                headers,
                payload,
            } => Op::Hpub {
                subject: own(subject),
                reply: reply.map(own),
                header_size: own(header_size),
                size: own(size),
                headers: own(headers),
                payload: own(payload),
            },
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => Op::Sub {
                subject: own(subject),
                queue: queue.map(own),
                sid: own(sid),
            },
            ClientOp::Unsub { sid, max } => Op::Unsub { sid: own(sid), max },
            ClientOp::Ping => Op::Ping,
            ClientOp::Pong => Op::Pong,
            ClientOp::Info(json) => Op::Info(own(json)),
            ClientOp::Ignored => Op::Ignored,
        }
    }
}

impl Op {
    /// Borrows this operation back as a [`ClientOp`].
    pub fn as_client_op(&self) -> ClientOp<'_> {
        match self {
            Op::Connect(json) => ClientOp::Connect(json),
            Op::Pub {
                subject,
                reply,
                size,
                payload,
            } => ClientOp::Pub {
                subject,
                reply: reply.as_deref(),
                size,
                payload,
            },
            Op::Hpub {
                subject,
                reply,
                header_size,
                size,
                headers,
                payload,
            } => ClientOp::Hpub {
                subject,
                reply: reply.as_deref(),
                header_size,
                size,
                headers,
                payload,
            },
            Op::Sub {
                subject,
                queue,
                sid,
            } => ClientOp::Sub {
                subject,
                queue: queue.as_deref(),
                sid,
            },
            Op::Unsub { sid, max } => ClientOp::Unsub { sid, max: *max },
            Op::Ping => ClientOp::Ping,
            Op::Pong => ClientOp::Pong,
            Op::Info(json) => ClientOp::Info(json),
            Op::Ignored => ClientOp::Ignored,
        }
    }

    /// The canonical wire form of this operation.
    pub fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.as_client_op().encode(&mut out);
        out
    }
}

/// What a connection read loop ends with after feeding it some bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every operation parsed, in order.
    pub ops: Vec<Op>,
    /// The error that ended parsing, if any.
    pub error: Option<ParseError>,
    /// Bytes left unconsumed (waiting for more input) when no error happened.
    pub pending: usize,
}

/// Simulates a connection: each chunk is appended to the buffer as one "read", then every
/// complete operation is parsed and its bytes dropped, exactly as a server read loop would.
pub fn feed<'c>(
    chunks: impl IntoIterator<Item = &'c [u8]>,
    limits: &Limits,
    headers: bool,
) -> Outcome {
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            let parsed = if headers {
                parse(&buf[at..], limits)
            } else {
                parse_without_headers(&buf[at..], limits)
            };
            match parsed {
                Ok(Some((op, used))) => {
                    assert!(used > 0, "an operation must consume bytes");
                    ops.push(Op::from(op));
                    at += used;
                }
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        ops,
                        error: Some(error),
                        pending: 0,
                    };
                }
            }
        }
        buf.drain(..at);
    }
    Outcome {
        ops,
        error: None,
        pending: buf.len(),
    }
}

/// Feeds `input` as one read.
pub fn feed_whole(input: &[u8], limits: &Limits, headers: bool) -> Outcome {
    feed([input], limits, headers)
}

/// Feeds `input` one byte per read.
pub fn feed_bytewise(input: &[u8], limits: &Limits, headers: bool) -> Outcome {
    feed(input.chunks(1), limits, headers)
}
