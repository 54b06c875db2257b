//! Encoder tests: exact bytes (as nats-server sends them) and round trips.

mod common;

use common::Op;
use common::cases::{hpublish, publish, subscribe, unsubscribe};
use natrium_wire::{
    ClientOp, Limits, NO_RESPONDERS_HEADERS, OK, PING, PONG, Sizes, encode_err, encode_hmsg,
    encode_hmsg_sized, encode_info, encode_msg, encode_msg_sized, parse,
};
use proptest::prelude::*;

#[test]
fn msg_bytes() {
    let mut out = Vec::new();
    encode_msg(&mut out, b"foo", b"99", None, b"hello");
    assert_eq!(out, b"MSG foo 99 5\r\nhello\r\n");
    out.clear();
    encode_msg(&mut out, b"foo", b"1", Some(b"bar"), b"");
    assert_eq!(out, b"MSG foo 1 bar 0\r\n\r\n");
}

#[test]
fn hmsg_bytes() {
    let mut out = Vec::new();
    encode_hmsg(
        &mut out,
        b"foo",
        b"99",
        Some(b"rep"),
        b"NATS/1.0\r\n\r\n",
        b"hello",
    );
    assert_eq!(out, b"HMSG foo 99 rep 12 17\r\nNATS/1.0\r\n\r\nhello\r\n");
}

#[test]
fn no_responders_matches_the_reference() {
    // Recorded from nats-server 2.9.10 for a request nobody answered.
    let mut out = Vec::new();
    encode_hmsg(
        &mut out,
        b"_INBOX.x",
        b"1",
        None,
        NO_RESPONDERS_HEADERS,
        b"",
    );
    assert_eq!(out, b"HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

#[test]
fn fixed_replies_and_errors() {
    assert_eq!(
        (OK, PING, PONG),
        (&b"+OK\r\n"[..], &b"PING\r\n"[..], &b"PONG\r\n"[..])
    );
    let mut out = Vec::new();
    encode_err(&mut out, "Unknown Protocol Operation");
    assert_eq!(out, b"-ERR 'Unknown Protocol Operation'\r\n");
    out.clear();
    encode_info(&mut out, b"{\"server_id\":\"x\"}");
    assert_eq!(out, b"INFO {\"server_id\":\"x\"}\r\n");
}

#[test]
fn sized_encoders_copy_the_size_fields_as_written() {
    // nats-server copies a PUB's size bytes into MSG: `PUB foo 002` arrives as `MSG foo 1 002`.
    let mut out = Vec::new();
    encode_msg_sized(&mut out, b"foo", b"1", None, b"002", b"hi");
    assert_eq!(out, b"MSG foo 1 002\r\nhi\r\n");
    out.clear();
    let sizes = Sizes {
        header: b"012",
        total: b"0014",
    };
    encode_hmsg_sized(
        &mut out,
        b"foo",
        b"1",
        Some(b"r"),
        sizes,
        b"NATS/1.0\r\n\r\n",
        b"hi",
    );
    assert_eq!(out, b"HMSG foo 1 r 012 0014\r\nNATS/1.0\r\n\r\nhi\r\n");
    // What the parser keeps is what the sized encoders take.
    let (op, _) = parse(
        b"HPUB foo 012 0014\r\nNATS/1.0\r\n\r\nhi\r\n",
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    let ClientOp::Hpub {
        header_size, size, ..
    } = op
    else {
        panic!("{op:?}");
    };
    assert_eq!((header_size, size), (&b"012"[..], &b"0014"[..]));
}

#[test]
fn encodes_into_bytes_mut_too() {
    let mut out = bytes::BytesMut::new();
    encode_msg(&mut out, b"a", b"1", None, b"x");
    assert_eq!(&out[..], b"MSG a 1 1\r\nx\r\n");
}

#[test]
fn client_ops_encode_canonically() {
    let cases: Vec<(Op, &[u8])> = vec![
        (publish(b"a", Some(b"r"), b"hi"), b"PUB a r 2\r\nhi\r\n"),
        (
            hpublish(b"a", None, b"NATS/1.0\r\n\r\n", b"hi"),
            b"HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        ),
        (subscribe(b"a", Some(b"q"), b"1"), b"SUB a q 1\r\n"),
        (unsubscribe(b"1", Some(5)), b"UNSUB 1 5\r\n"),
        (Op::Connect(b"{}".to_vec()), b"CONNECT {}\r\n"),
        (Op::Ignored, b"+OK\r\n"),
    ];
    for (op, bytes) in cases {
        assert_eq!(op.encoded(), bytes);
    }
}

/// A client-side reading of one MSG/HMSG, independent of the crate, to check round trips.
fn read_delivery(buf: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let nl = buf.iter().position(|&b| b == b'\n').expect("line");
    let line = &buf[..nl - 1];
    let fields: Vec<Vec<u8>> = line.split(|&b| b == b' ').map(<[u8]>::to_vec).collect();
    let total: usize = std::str::from_utf8(fields.last().expect("size"))
        .unwrap()
        .parse()
        .unwrap();
    let body = buf[nl + 1..nl + 1 + total].to_vec();
    assert_eq!(&buf[nl + 1 + total..], b"\r\n");
    (fields, body)
}

proptest! {
    #[test]
    fn msg_round_trips(
        subject in "[a-z.]{1,12}",
        sid in "[0-9]{1,5}",
        reply in prop::option::of("[A-Z_.]{1,10}"),
        headers in prop::collection::vec(any::<u8>(), 0..40),
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut out = Vec::new();
        encode_msg(&mut out, subject.as_bytes(), sid.as_bytes(), reply.as_deref().map(str::as_bytes), &payload);
        let (fields, body) = read_delivery(&out);
        let mut expected = vec![b"MSG".to_vec(), subject.clone().into_bytes(), sid.clone().into_bytes()];
        expected.extend(reply.clone().map(String::into_bytes));
        expected.push(payload.len().to_string().into_bytes());
        prop_assert_eq!(fields, expected);
        prop_assert_eq!(&body, &payload);

        out.clear();
        encode_hmsg(&mut out, subject.as_bytes(), sid.as_bytes(), reply.as_deref().map(str::as_bytes), &headers, &payload);
        let (fields, body) = read_delivery(&out);
        let n = fields.len();
        prop_assert_eq!(&fields[0], b"HMSG");
        let header_len = headers.len().to_string().into_bytes();
        prop_assert_eq!(&fields[n - 2], &header_len);
        prop_assert_eq!(body, [headers.as_slice(), payload.as_slice()].concat());
    }

    #[test]
    fn client_op_encoding_parses_back(
        subject in "[a-z]{1,8}(\\.[a-z*]{1,4}){0,3}",
        reply in prop::option::of("[A-Z_]{1,8}"),
        headers in prop::collection::vec(any::<u8>(), 0..40),
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let reply = reply.as_deref().map(str::as_bytes);
        let size = payload.len().to_string();
        let header_size = headers.len().to_string();
        let total = (headers.len() + payload.len()).to_string();
        for op in [
            ClientOp::Pub { subject: subject.as_bytes(), reply, size: size.as_bytes(), payload: &payload },
            ClientOp::Hpub {
                subject: subject.as_bytes(),
                reply,
                header_size: header_size.as_bytes(),
                size: total.as_bytes(),
                headers: &headers,
                payload: &payload,
            },
            ClientOp::Sub { subject: subject.as_bytes(), queue: reply, sid: b"7" },
        ] {
            let mut out = Vec::new();
            op.encode(&mut out);
            prop_assert_eq!(parse(&out, &Limits::default()).unwrap(), Some((op, out.len())));
        }
    }
}
