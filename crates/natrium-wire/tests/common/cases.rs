//! Every protocol case below was sent to nats-server 2.9.10 (`nats-server -a 127.0.0.1`) after
//! `CONNECT {"verbose":false,"pedantic":false,"headers":true}` and `SUB > 99`, and its answer
//! recorded here. `tests/reference.rs` replays the table against the reference server when it
//! is installed; `tests/parser.rs` checks the parser gives the same verdict.

use super::Op;

/// What nats-server does with a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The connection stays open. The parser yields exactly `ops`. `server_err` is an `-ERR`
    /// the server sends without closing (its own checks, not the parser's).
    Accepted {
        ops: Vec<Op>,
        server_err: Option<&'static str>,
    },
    /// The parser yields `op`, whose JSON the server must find invalid and then close without
    /// an `-ERR`.
    ServerClosesSilently { op: Op },
    /// The parser fails; nats-server sends `-ERR '<text>'` (or nothing for `None`) and closes.
    Closed(Option<&'static str>),
}

/// One recorded case.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    pub input: Vec<u8>,
    /// Whether the connection negotiated headers.
    pub headers: bool,
    pub expect: Expect,
}

pub const UNKNOWN: Option<&str> = Some("Unknown Protocol Operation");
pub const MAX_PAYLOAD: Option<&str> = Some("Maximum Payload Violation");
pub const MAX_CONTROL_LINE: Option<&str> = Some("maximum control line exceeded");
pub const SILENT: Option<&str> = None;

fn b(s: &[u8]) -> Vec<u8> {
    s.to_vec()
}

/// `n` in decimal, as a size field.
pub fn digits(n: usize) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// A PUB whose size field is written in plain decimal.
pub fn publish(subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) -> Op {
    Op::Pub {
        subject: b(subject),
        reply: reply.map(b),
        size: digits(payload.len()),
        payload: b(payload),
    }
}

/// An HPUB whose size fields are written in plain decimal.
pub fn hpublish(subject: &[u8], reply: Option<&[u8]>, headers: &[u8], payload: &[u8]) -> Op {
    Op::Hpub {
        subject: b(subject),
        reply: reply.map(b),
        header_size: digits(headers.len()),
        size: digits(headers.len() + payload.len()),
        headers: b(headers),
        payload: b(payload),
    }
}

pub fn subscribe(subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Op {
    Op::Sub {
        subject: b(subject),
        queue: queue.map(b),
        sid: b(sid),
    }
}

pub fn unsubscribe(sid: &[u8], max: Option<u64>) -> Op {
    Op::Unsub { sid: b(sid), max }
}

fn accepted(name: &'static str, input: impl Into<Vec<u8>>, ops: Vec<Op>) -> Case {
    Case {
        name,
        input: input.into(),
        headers: true,
        expect: Expect::Accepted {
            ops,
            server_err: None,
        },
    }
}

fn refused(name: &'static str, input: impl Into<Vec<u8>>, err: &'static str, op: Op) -> Case {
    Case {
        name,
        input: input.into(),
        headers: true,
        expect: Expect::Accepted {
            ops: vec![op],
            server_err: Some(err),
        },
    }
}

fn closed(name: &'static str, input: impl Into<Vec<u8>>, err: Option<&'static str>) -> Case {
    Case {
        name,
        input: input.into(),
        headers: true,
        expect: Expect::Closed(err),
    }
}

fn bad_json(name: &'static str, input: impl Into<Vec<u8>>, op: Op) -> Case {
    Case {
        name,
        input: input.into(),
        headers: true,
        expect: Expect::ServerClosesSilently { op },
    }
}

fn without_headers(mut case: Case) -> Case {
    case.headers = false;
    case
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn rep(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

/// The whole recorded table.
pub fn all() -> Vec<Case> {
    let hello = |s: &[u8]| publish(s, None, b"hello");
    let a = |n| rep(b'a', n);
    let mib = 1024 * 1024;
    vec![
        // ---- accepted: verbs, separators, line ends ----
        accepted("pub", "PUB foo 5\r\nhello\r\n", vec![hello(b"foo")]),
        accepted(
            "pub lower case",
            "pub foo 5\r\nhello\r\n",
            vec![hello(b"foo")],
        ),
        accepted(
            "pub mixed case",
            "PuB foo 5\r\nhello\r\n",
            vec![hello(b"foo")],
        ),
        accepted(
            "pub tabs and spaces",
            "PUB\tfoo\t \t5\r\nhello\r\n",
            vec![hello(b"foo")],
        ),
        accepted(
            "pub reply, runs of spaces, trailing spaces",
            "PUB   foo   bar   5  \r\nhello\r\n",
            vec![publish(b"foo", Some(b"bar"), b"hello")],
        ),
        accepted(
            "pub trailing tab",
            "PUB foo 1\t\r\nx\r\n",
            vec![publish(b"foo", None, b"x")],
        ),
        accepted(
            "pub control line without CR",
            "PUB foo 5\nhello\r\n",
            vec![hello(b"foo")],
        ),
        accepted(
            "pub empty payload",
            "PUB foo 0\r\n\r\n",
            vec![publish(b"foo", None, b"")],
        ),
        accepted(
            "pub payload containing CRLF",
            "PUB foo 6\r\nab\r\ncd\r\n",
            vec![publish(b"foo", None, b"ab\r\ncd")],
        ),
        accepted(
            "pub size with 9 digits (leading zeros)",
            "PUB foo 000000005\r\nhello\r\n",
            vec![Op::Pub {
                subject: b(b"foo"),
                reply: None,
                size: b(b"000000005"),
                payload: b(b"hello"),
            }],
        ),
        accepted(
            "pub wildcard subject (not checked)",
            "PUB foo.* 5\r\nhello\r\n",
            vec![hello(b"foo.*")],
        ),
        accepted(
            "pub empty token (not checked, not delivered)",
            "PUB foo..bar 5\r\nhello\r\n",
            vec![hello(b"foo..bar")],
        ),
        accepted(
            "pub first argument byte is CR (kept in the subject)",
            "PUB \rfoo 1\r\nx\r\n",
            vec![publish(b"\rfoo", None, b"x")],
        ),
        accepted(
            "pub exactly max payload",
            cat(&[b"PUB foo 1048576\r\n", &rep(b'x', mib), b"\r\n"]),
            vec![publish(b"foo", None, &rep(b'x', mib))],
        ),
        accepted(
            "hpub",
            "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
            vec![hpublish(b"foo", None, b"NATS/1.0\r\n\r\n", b"hello")],
        ),
        accepted(
            "hpub lower case with reply",
            "hpub foo rep 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
            vec![hpublish(
                b"foo",
                Some(b"rep"),
                b"NATS/1.0\r\n\r\n",
                b"hello",
            )],
        ),
        accepted(
            "hpub zero header size (delivered as MSG)",
            "HPUB foo 0 5\r\nhello\r\n",
            vec![hpublish(b"foo", None, b"", b"hello")],
        ),
        accepted(
            "hpub header block not checked",
            "HPUB foo 5 10\r\nhellohello\r\n",
            vec![hpublish(b"foo", None, b"hello", b"hello")],
        ),
        accepted(
            "hpub headers equal total",
            "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            vec![hpublish(b"foo", None, b"NATS/1.0\r\n\r\n", b"")],
        ),
        accepted("sub", "SUB foo 1\r\n", vec![subscribe(b"foo", None, b"1")]),
        accepted(
            "sub lower case, tabs",
            "sub\tfoo\t\t1\r\n",
            vec![subscribe(b"foo", None, b"1")],
        ),
        accepted(
            "sub queue",
            "SUB foo q 1\r\n",
            vec![subscribe(b"foo", Some(b"q"), b"1")],
        ),
        accepted(
            "sub a*b is a literal token",
            "SUB foo.a*b 1\r\n",
            vec![subscribe(b"foo.a*b", None, b"1")],
        ),
        accepted(
            "sub form feed in subject",
            "SUB a\x0cb 1\r\n",
            vec![subscribe(b"a\x0cb", None, b"1")],
        ),
        accepted(
            "sub queue with wildcard chars",
            "SUB foo q.* 1\r\n",
            vec![subscribe(b"foo", Some(b"q.*"), b"1")],
        ),
        accepted(
            "sub queue named >",
            "SUB foo > 1\r\n",
            vec![subscribe(b"foo", Some(b">"), b"1")],
        ),
        accepted(
            "sub without CR",
            "SUB foo 1\n",
            vec![subscribe(b"foo", None, b"1")],
        ),
        refused(
            "sub empty token",
            "SUB foo..bar 1\r\n",
            "Invalid Subject",
            subscribe(b"foo..bar", None, b"1"),
        ),
        refused(
            "sub > not last",
            "SUB foo.>.bar 1\r\n",
            "Invalid Subject",
            subscribe(b"foo.>.bar", None, b"1"),
        ),
        refused(
            "sub trailing dot",
            "SUB foo. 1\r\n",
            "Invalid Subject",
            subscribe(b"foo.", None, b"1"),
        ),
        refused(
            "sub leading dot",
            "SUB .foo 1\r\n",
            "Invalid Subject",
            subscribe(b".foo", None, b"1"),
        ),
        accepted("unsub", "UNSUB 99\r\n", vec![unsubscribe(b"99", None)]),
        accepted(
            "unsub lower case with max",
            "unsub 99 1\r\n",
            vec![unsubscribe(b"99", Some(1))],
        ),
        accepted(
            "unsub max 0",
            "UNSUB 99 0\r\n",
            vec![unsubscribe(b"99", Some(0))],
        ),
        accepted(
            "unsub non-numeric max is no max",
            "UNSUB 99 abc\r\n",
            vec![unsubscribe(b"99", None)],
        ),
        accepted(
            "unsub negative max is no max",
            "UNSUB 99 -1\r\n",
            vec![unsubscribe(b"99", None)],
        ),
        accepted(
            "unsub 10-digit max is no max",
            "UNSUB 99 1234567890\r\n",
            vec![unsubscribe(b"99", None)],
        ),
        accepted(
            "unsub unknown sid",
            "UNSUB 12345\r\n",
            vec![unsubscribe(b"12345", None)],
        ),
        accepted("ping", "PING\r\n", vec![Op::Ping]),
        accepted("ping lower case", "ping\r\n", vec![Op::Ping]),
        accepted("ping without CR", "PING\n", vec![Op::Ping]),
        accepted("ping with trailing junk", "PINGxyz abc\r\n", vec![Op::Ping]),
        accepted("pong", "PONG\r\n", vec![Op::Pong]),
        accepted("pong with trailing junk", "PONG junk\r\n", vec![Op::Pong]),
        accepted(
            "connect again",
            "CONNECT {}\r\n",
            vec![Op::Connect(b(b"{}"))],
        ),
        accepted(
            "connect lower case",
            "connect {}\r\n",
            vec![Op::Connect(b(b"{}"))],
        ),
        accepted(
            "connect tab",
            "CONNECT\t{}\r\n",
            vec![Op::Connect(b(b"{}"))],
        ),
        accepted(
            "connect without separator",
            "CONNECT{}\r\n",
            vec![Op::Connect(b(b"{}"))],
        ),
        accepted(
            "info from client is ignored",
            "INFO {}\r\n",
            vec![Op::Info(b(b"{}"))],
        ),
        accepted(
            "info after spaces and tabs",
            "INFO \t {}\r\n",
            vec![Op::Info(b(b"{}"))],
        ),
        accepted("+OK from client is ignored", "+OK\r\n", vec![Op::Ignored]),
        accepted("+OK with junk", "+okjunk\r\n", vec![Op::Ignored]),
        accepted(
            "hmsg from client with empty payload",
            "HMSG foo 1 12 17\r\n\r\n",
            vec![Op::Ignored],
        ),
        accepted(
            "hmsg with any arguments",
            "HMSG x\r\n\r\n",
            vec![Op::Ignored],
        ),
        accepted(
            "several ops in one read",
            "SUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\nPING\r\n",
            vec![
                subscribe(b"a", None, b"1"),
                publish(b"a", None, b"x"),
                unsubscribe(b"1", None),
                Op::Ping,
            ],
        ),
        // ---- accepted: control line at the limit (4096 argument bytes, CR not counted) ----
        accepted(
            "sub argument of exactly 4096 bytes",
            cat(&[b"SUB ", &a(4094), b" 1\r\n"]),
            vec![subscribe(&a(4094), None, b"1")],
        ),
        accepted(
            "pub argument of 4095 bytes",
            cat(&[b"PUB ", &a(4093), b" 1\r\nx\r\n"]),
            vec![publish(&a(4093), None, b"x")],
        ),
        accepted(
            "connect argument of exactly 4096 bytes",
            cat(&[b"CONNECT {\"name\":\"", &a(4085), b"\"}\r\n"]),
            vec![Op::Connect(cat(&[b"{\"name\":\"", &a(4085), b"\"}"]))],
        ),
        accepted(
            "spaces before the arguments do not count",
            cat(&[b"PUB ", &rep(b' ', 3000), &a(4092), b" 1\r\nx\r\n"]),
            vec![publish(&a(4092), None, b"x")],
        ),
        // ---- closed with -ERR 'Unknown Protocol Operation' ----
        closed(
            "payload followed by LF only",
            "PUB foo 5\r\nhello\n",
            UNKNOWN,
        ),
        closed("payload followed by junk", "PUB foo 5\r\nhelloXY", UNKNOWN),
        closed(
            "payload followed by CR junk",
            "PUB foo 5\r\nhello\rX",
            UNKNOWN,
        ),
        closed(
            "payload shorter than announced",
            "PUB foo 3\r\nhi\r\nPING\r\n",
            UNKNOWN,
        ),
        closed(
            "hpub payload not followed by CRLF",
            "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhelloXX",
            UNKNOWN,
        ),
        closed("pub without separator", "PUB\r\n", UNKNOWN),
        closed("pubx", "PUBX foo 5\r\n", UNKNOWN),
        closed("pinx", "PINX\r\n", UNKNOWN),
        closed("sub without separator", "SUBfoo 1\r\n", UNKNOWN),
        closed("unsub misspelled", "UNSUX 1\r\n", UNKNOWN),
        closed("msg from client", "MSG foo 1 5\r\nhello\r\n", UNKNOWN),
        closed(
            "hmsg from client with payload",
            "HMSG foo 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
            UNKNOWN,
        ),
        closed("+OX", "+OX\r\n", UNKNOWN),
        closed("-ERR without argument", "-ERR\r\n", UNKNOWN),
        closed("empty line CRLF", "\r\n", UNKNOWN),
        closed("empty line LF", "\n", UNKNOWN),
        closed("leading space", " PING\r\n", UNKNOWN),
        closed("RMSG (routes only)", "RMSG $G foo 1\r\n", UNKNOWN),
        closed("LS+ (leaf nodes only)", "LS+ foo\r\n", UNKNOWN),
        closed("A+ (routes only)", "A+ foo\r\n", UNKNOWN),
        closed("unknown verb", "XYZ\r\n", UNKNOWN),
        closed("connecx", "CONNECX {}\r\n", UNKNOWN),
        closed("infx", "INFX {}\r\n", UNKNOWN),
        // ---- closed with -ERR 'Maximum Payload Violation' ----
        closed("pub over max payload", "PUB foo 1048577\r\n", MAX_PAYLOAD),
        closed("pub 9-digit size", "PUB foo 999999999\r\n", MAX_PAYLOAD),
        closed(
            "pub with reply over max payload",
            "PUB foo bar 2000000\r\n",
            MAX_PAYLOAD,
        ),
        closed(
            "hpub total over max payload",
            "HPUB foo 12 1048577\r\n",
            MAX_PAYLOAD,
        ),
        // ---- closed with -ERR 'maximum control line exceeded' ----
        closed(
            "sub argument of 4097 bytes",
            cat(&[b"SUB ", &a(4095), b" 1\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "sub argument of 4097 bytes, LF only",
            cat(&[b"SUB ", &a(4095), b" 1\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "pub argument of 5002 bytes",
            cat(&[b"PUB ", &a(5000), b" 1\r\nx\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "hpub argument of 4099 bytes",
            cat(&[b"HPUB ", &a(4095), b" 0 1\r\nx\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "unsub argument of 4097 bytes",
            cat(&[b"UNSUB ", &rep(b'1', 4097), b"\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "connect argument of 5014 bytes",
            cat(&[b"CONNECT {\"name\":\"", &a(5000), b"\"}\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "hmsg argument of 4097 bytes",
            cat(&[b"HMSG ", &a(4097), b"\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "-ERR argument of 5000 bytes",
            cat(&[b"-ERR ", &rep(b'x', 5000), b"\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "info argument of 4097 bytes",
            cat(&[b"INFO ", &a(4097), b"\r\n"]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "unfinished sub line of 4097 bytes",
            cat(&[b"SUB ", &a(4097)]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "unfinished pub line of 5000 bytes",
            cat(&[b"PUB ", &a(5000)]),
            MAX_CONTROL_LINE,
        ),
        closed(
            "unfinished sub line of 4097 bytes plus CR",
            cat(&[b"SUB ", &a(4095), b" 1\r"]),
            MAX_CONTROL_LINE,
        ),
        // ---- closed silently ----
        closed("pub with 1 argument", "PUB foo\r\n", SILENT),
        closed("pub with 4 arguments", "PUB foo bar baz 5\r\n", SILENT),
        closed("pub with no argument", "PUB \r\n", SILENT),
        closed("pub with only spaces", "PUB    \r\n", SILENT),
        closed("pub non-numeric size", "PUB foo abc\r\n", SILENT),
        closed("pub negative size", "PUB foo -1\r\n", SILENT),
        closed("pub size with plus sign", "PUB foo +5\r\n", SILENT),
        closed("pub 10-digit size", "PUB foo 0000000005\r\n", SILENT),
        closed(
            "pub 11-digit size with reply",
            "PUB foo bar 99999999999\r\n",
            SILENT,
        ),
        closed(
            "pub 4 arguments and a huge size",
            "PUB a b c 2000000\r\n",
            SILENT,
        ),
        closed("pub stray CR before size", "PUB foo\r 5\nhello\r\n", SILENT),
        closed(
            "pub stray CR after size",
            "PUB foo 5 \r7\nhello\r\n",
            SILENT,
        ),
        closed(
            "hpub header size larger than total",
            "HPUB foo 18 17\r\n",
            SILENT,
        ),
        closed(
            "hpub header size larger than a too large total",
            "HPUB foo 2000000 1048577\r\n",
            SILENT,
        ),
        closed("hpub with 2 arguments", "HPUB foo 17\r\n", SILENT),
        closed("hpub with 5 arguments", "HPUB foo a b 12 17\r\n", SILENT),
        closed("hpub bad header size", "HPUB foo x 17\r\n", SILENT),
        closed("hpub bad total size", "HPUB foo 12 x\r\n", SILENT),
        closed("hpub 10-digit total", "HPUB foo 12 1234567890\r\n", SILENT),
        closed(
            "hpub 10-digit header size",
            "HPUB foo 1234567890 1\r\n",
            SILENT,
        ),
        closed("sub with 1 argument", "SUB foo\r\n", SILENT),
        closed("sub with 4 arguments", "SUB foo q 1 2\r\n", SILENT),
        closed("sub stray CR splits the line", "SUB foo\r 1\n", SILENT),
        closed("unsub with no argument", "UNSUB \r\n", SILENT),
        closed("unsub with 3 arguments", "UNSUB 1 2 3\r\n", SILENT),
        closed("-ERR from client", "-ERR 'x'\r\n", SILENT),
        without_headers(closed(
            "hpub without headers in CONNECT",
            "HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
            SILENT,
        )),
        without_headers(closed(
            "hpub without headers, before max payload",
            "HPUB foo 12 1048577\r\n",
            SILENT,
        )),
        without_headers(closed(
            "hpub without headers, bad arguments",
            "HPUB foo\r\n",
            SILENT,
        )),
        bad_json(
            "connect with bad JSON",
            "CONNECT xyz\r\n",
            Op::Connect(b(b"xyz")),
        ),
        bad_json(
            "connect without argument",
            "CONNECT\r\n",
            Op::Connect(b(b"\r")),
        ),
        bad_json(
            "connect with only spaces",
            "CONNECT   \r\n",
            Op::Connect(b(b"\r")),
        ),
        bad_json("info with bad JSON", "INFO xyz\r\n", Op::Info(b(b"xyz"))),
        bad_json("info without argument", "INFO\r\n", Op::Info(b(b"\r"))),
    ]
}
