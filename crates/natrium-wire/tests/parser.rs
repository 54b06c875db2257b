//! Parser tests: the recorded nats-server table, exact errors, every op split at every byte,
//! and a property test over random operation streams cut into random reads.

mod common;

use common::cases::{self, Expect, hpublish, publish, subscribe, unsubscribe};
use common::{Op, Outcome, feed, feed_bytewise, feed_whole};
use natrium_wire::{ClientOp, Limits, ParseError, SizeField, Verb, parse, parse_without_headers};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn default_limits_match_nats_server() {
    let l = Limits::default();
    assert_eq!((l.max_control_line, l.max_payload), (4096, 1_048_576));
}

#[test]
fn recorded_cases_get_the_reference_verdict_whole_and_byte_by_byte() {
    for case in cases::all() {
        let whole = feed_whole(&case.input, &limits(), case.headers);
        match &case.expect {
            Expect::Accepted { ops, .. } => {
                assert_eq!(whole.error, None, "{}", case.name);
                assert_eq!(&whole.ops, ops, "{}", case.name);
                assert_eq!(whole.pending, 0, "{}: bytes left over", case.name);
            }
            Expect::ServerClosesSilently { op } => {
                assert_eq!(whole.error, None, "{}", case.name);
                assert_eq!(whole.ops, vec![op.clone()], "{}", case.name);
                assert_eq!(whole.pending, 0, "{}", case.name);
            }
            Expect::Closed(message) => {
                let error = whole
                    .error
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no error", case.name));
                assert_eq!(error.client_message(), *message, "{}: {error}", case.name);
                assert!(error.closes_connection(), "{}", case.name);
                assert!(whole.ops.is_empty(), "{}: {:?}", case.name, whole.ops);
            }
        }
        // The verdict must not depend on how the bytes were split into reads.
        // (A too long line is caught earlier, so only the error's kind is compared.)
        let bytewise = feed_bytewise(&case.input, &limits(), case.headers);
        assert_eq!(
            verdict(&bytewise),
            verdict(&whole),
            "{}: byte-by-byte differs",
            case.name
        );
    }
}

/// What a peer would observe: the operations, and how the error (if any) ends the connection.
fn verdict(
    outcome: &Outcome,
) -> (
    &[Op],
    Option<std::mem::Discriminant<ParseError>>,
    Option<&str>,
    usize,
) {
    let error = outcome.error.as_ref();
    (
        &outcome.ops,
        error.map(std::mem::discriminant),
        error.and_then(ParseError::client_message),
        outcome.pending,
    )
}

fn parse_one(input: &[u8]) -> Result<Option<(ClientOp<'_>, usize)>, ParseError> {
    parse(input, &limits())
}

fn parse_err(input: &[u8]) -> ParseError {
    match parse_one(input) {
        Err(e) => e,
        other => panic!(
            "expected an error for {:?}, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn each_op_reports_what_it_consumed() {
    let input = b"PUB a 2\r\nhi\r\nPING\r\n";
    let (op, used) = parse_one(input).unwrap().unwrap();
    assert_eq!(
        op,
        ClientOp::Pub {
            subject: b"a",
            reply: None,
            size: b"2",
            payload: b"hi"
        }
    );
    assert_eq!(used, 13);
    assert_eq!(
        parse_one(&input[used..]).unwrap(),
        Some((ClientOp::Ping, 6))
    );
    assert_eq!(parse_one(b"").unwrap(), None);
}

#[test]
fn hpub_splits_headers_from_payload() {
    let input = b"HPUB s r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    let (op, used) = parse_one(input).unwrap().unwrap();
    assert_eq!(
        op,
        ClientOp::Hpub {
            subject: b"s",
            reply: Some(b"r"),
            header_size: b"12",
            size: b"14",
            headers: b"NATS/1.0\r\n\r\n",
            payload: b"hi"
        }
    );
    assert_eq!(used, input.len());
}

#[test]
fn unknown_operation_reports_the_offending_offset() {
    assert_eq!(
        parse_err(b"XYZ"),
        ParseError::UnknownOperation { offset: 0 }
    );
    assert_eq!(parse_err(b"PX"), ParseError::UnknownOperation { offset: 1 });
    assert_eq!(
        parse_err(b"PUBX"),
        ParseError::UnknownOperation { offset: 3 }
    );
    assert_eq!(
        parse_err(b"CONNEXT"),
        ParseError::UnknownOperation { offset: 5 }
    );
    assert_eq!(
        parse_err(b"\r\n"),
        ParseError::UnknownOperation { offset: 0 }
    );
    assert_eq!(
        parse_err(b"MSG a 1 1\r\n"),
        ParseError::UnknownOperation { offset: 0 }
    );
    assert_eq!(parse_err(b"HX"), ParseError::UnknownOperation { offset: 1 });
    // Bytes that equal a verb's letters only once bit 0x20 is set are not that verb.
    assert_eq!(
        parse_err(b"\x0bOK\r\n"),
        ParseError::UnknownOperation { offset: 0 }
    );
    assert_eq!(
        parse_err(b"P\x15B a 1\r\n"),
        ParseError::UnknownOperation { offset: 1 }
    );
    assert_eq!(
        parse_err(b"-\x05RR x\r\n"),
        ParseError::UnknownOperation { offset: 1 }
    );
    assert_eq!(parse_one(b"+ok\r\n").unwrap(), Some((ClientOp::Ignored, 5)));
    // A verb prefix that is still possible is "need more", not an error.
    for prefix in [
        &b"P"[..],
        b"PI",
        b"PO",
        b"H",
        b"HM",
        b"CONNEC",
        b"UNSU",
        b"+O",
        b"-ER",
        b"INF",
    ] {
        assert_eq!(
            parse_one(prefix).unwrap(),
            None,
            "{:?}",
            String::from_utf8_lossy(prefix)
        );
    }
}

#[test]
fn payload_terminator_is_checked_as_soon_as_it_arrives() {
    assert_eq!(parse_one(b"PUB a 2\r\nhi").unwrap(), None);
    assert_eq!(parse_one(b"PUB a 2\r\nhi\r").unwrap(), None);
    let err = parse_err(b"PUB a 2\r\nhiX");
    assert_eq!(
        err,
        ParseError::MissingPayloadTerminator {
            verb: Verb::Pub,
            size: 2
        }
    );
    assert_eq!(err.client_message(), Some("Unknown Protocol Operation"));
    assert_eq!(
        parse_err(b"HPUB a 0 2\r\nhi\rX"),
        ParseError::MissingPayloadTerminator {
            verb: Verb::Hpub,
            size: 2
        }
    );
}

#[test]
fn max_payload_is_checked_on_the_line_before_the_payload() {
    let err = parse_err(b"PUB a 1048577\r\n");
    assert_eq!(
        err,
        ParseError::MaxPayload {
            verb: Verb::Pub,
            size: 1_048_577,
            max: 1_048_576
        }
    );
    assert_eq!(err.client_message(), Some("Maximum Payload Violation"));
    assert!(err.closes_connection());
    // Headers count toward the limit.
    let small = Limits {
        max_control_line: 4096,
        max_payload: 10,
    };
    assert!(parse(b"HPUB a 4 10\r\n", &small).unwrap().is_none());
    assert_eq!(
        parse(b"HPUB a 4 11\r\n", &small).unwrap_err(),
        ParseError::MaxPayload {
            verb: Verb::Hpub,
            size: 11,
            max: 10
        }
    );
    assert_eq!(
        parse(b"PUB a 10\r\n0123456789\r\n", &small)
            .unwrap()
            .map(|(_, n)| n),
        Some(22)
    );
}

#[test]
fn max_control_line_counts_the_arguments_without_the_cr() {
    let small = Limits {
        max_control_line: 8,
        max_payload: 1024,
    };
    // "PUB " then 8 argument bytes: fine; 9: too long.
    assert!(parse(b"PUB abcde 10\r\n", &small).unwrap().is_none());
    let err = parse(b"PUB abcdef 10\r\n", &small).unwrap_err();
    assert_eq!(err, ParseError::MaxControlLine { len: 9, max: 8 });
    assert_eq!(err.client_message(), Some("maximum control line exceeded"));
    assert!(err.closes_connection());
    // Detected before the line's LF arrives...
    assert_eq!(parse(b"SUB abcdefgh", &small).unwrap(), None);
    assert_eq!(
        parse(b"SUB abcdefghi", &small).unwrap_err(),
        ParseError::MaxControlLine { len: 9, max: 8 }
    );
    // ...where a pending CR is not counted.
    assert_eq!(parse(b"SUB abcd 123\r", &small).unwrap(), None);
    assert_eq!(
        parse(b"SUB abcd 123\r\n", &small).unwrap().map(|(_, n)| n),
        Some(14)
    );
    // Separators before the arguments do not count toward the arguments.
    assert!(parse(b"SUB     abcd 123\r\n", &small).unwrap().is_some());
    // The same limit applies to CONNECT, INFO, UNSUB, -ERR and HMSG lines.
    for line in [
        &b"CONNECT {\"a\":123}\r\n"[..],
        b"INFO {\"a\":123}\r\n",
        b"UNSUB 123456789\r\n",
        b"-ERR 123456789\r\n",
        b"HMSG 123456789\r\n",
    ] {
        assert_eq!(
            parse(line, &small).unwrap_err(),
            ParseError::MaxControlLine { len: 9, max: 8 },
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn ping_pong_and_ok_junk_is_bounded() {
    // nats-server accepts any junk after PING up to the LF (it drops it as it reads). A
    // stateless parser must keep it, so it is bounded by max_control_line, complete or not.
    let small = Limits {
        max_control_line: 8,
        max_payload: 1024,
    };
    assert_eq!(
        parse(b"PING01234567\r\n", &small).unwrap(),
        Some((ClientOp::Ping, 14))
    );
    assert_eq!(parse(b"PING01234567\r", &small).unwrap(), None);
    let too_long = ParseError::MaxControlLine { len: 9, max: 8 };
    for input in [
        &b"PING012345678\r\n"[..],
        b"PING012345678",
        b"PONG012345678",
        b"+OK012345678\n",
    ] {
        assert_eq!(
            parse(input, &small).unwrap_err(),
            too_long,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn argument_errors_close_silently_with_context() {
    let cases: Vec<(&[u8], ParseError)> = vec![
        (
            b"PUB a\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Pub,
                count: 1,
                arg: "a".into(),
            },
        ),
        (
            b"PUB a b c 1\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Pub,
                count: 4,
                arg: "a b c 1".into(),
            },
        ),
        (
            b"PUB \r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Pub,
                count: 1,
                arg: "\r".into(),
            },
        ),
        (
            b"PUB a -1\r\n",
            ParseError::BadSize {
                verb: Verb::Pub,
                field: SizeField::Total,
                arg: "a -1".into(),
            },
        ),
        (
            b"PUB a 0000000001\r\n",
            ParseError::BadSize {
                verb: Verb::Pub,
                field: SizeField::Total,
                arg: "a 0000000001".into(),
            },
        ),
        (
            b"HPUB a x 1\r\n",
            ParseError::BadSize {
                verb: Verb::Hpub,
                field: SizeField::Header,
                arg: "a x 1".into(),
            },
        ),
        (
            b"HPUB a 1 x\r\n",
            ParseError::BadSize {
                verb: Verb::Hpub,
                field: SizeField::Total,
                arg: "a 1 x".into(),
            },
        ),
        (
            b"HPUB a 2 1\r\n",
            ParseError::HeaderSizeExceedsTotal {
                header: 2,
                total: 1,
            },
        ),
        (
            b"HPUB a 1\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Hpub,
                count: 2,
                arg: "a 1".into(),
            },
        ),
        (
            b"SUB a\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Sub,
                count: 1,
                arg: "a".into(),
            },
        ),
        (
            b"SUB a b c d\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Sub,
                count: 4,
                arg: "a b c d".into(),
            },
        ),
        (
            b"UNSUB 1 2 3\r\n",
            ParseError::WrongArgumentCount {
                verb: Verb::Unsub,
                count: 3,
                arg: "1 2 3".into(),
            },
        ),
        (
            b"-ERR 'boom'\r\n",
            ParseError::PeerError {
                message: "'boom'".into(),
            },
        ),
    ];
    for (input, expected) in cases {
        let err = parse_err(input);
        assert_eq!(err, expected);
        assert_eq!(err.client_message(), None, "{err}");
        assert!(err.closes_connection());
    }
    let shown = parse_err(b"PUB a b c 1\r\n").to_string();
    assert_eq!(shown, "PUB has 4 arguments: \"a b c 1\"");
}

#[test]
fn hpub_without_headers_fails_before_its_arguments_are_read() {
    let err = parse_without_headers(b"HPUB a 1048577\r\n", &limits()).unwrap_err();
    assert_eq!(err, ParseError::HeadersNotSupported);
    assert_eq!(err.client_message(), None);
    // An unfinished HPUB line is still "need more"; everything else parses the same.
    assert_eq!(
        parse_without_headers(b"HPUB a 1 2", &limits()).unwrap(),
        None
    );
    assert_eq!(
        parse_without_headers(b"PUB a 1\r\nx\r\n", &limits()).unwrap(),
        Some((
            ClientOp::Pub {
                subject: b"a",
                reply: None,
                size: b"1",
                payload: b"x"
            },
            12
        ))
    );
}

#[test]
fn unsub_max_follows_nats_server_parse_size() {
    let max = |input: &[u8]| match parse_one(input).unwrap().unwrap().0 {
        ClientOp::Unsub { max, .. } => max,
        other => panic!("{other:?}"),
    };
    assert_eq!(max(b"UNSUB 1 999999999\r\n"), Some(999_999_999));
    assert_eq!(max(b"UNSUB 1 007\r\n"), Some(7));
    assert_eq!(max(b"UNSUB 1 1e3\r\n"), None);
    assert_eq!(max(b"UNSUB 1\r\n"), None);
}

/// Valid operations of every kind, in several spellings.
fn every_op() -> Vec<(Vec<u8>, Op)> {
    let v = |s: &str| s.as_bytes().to_vec();
    vec![
        (
            v("CONNECT {\"verbose\":false}\r\n"),
            Op::Connect(v("{\"verbose\":false}")),
        ),
        (v("connect\t{}\n"), Op::Connect(v("{}"))),
        (v("PUB a.b 5\r\nhello\r\n"), publish(b"a.b", None, b"hello")),
        (
            v("PUB a.b _INBOX.1 5\r\nhello\r\n"),
            publish(b"a.b", Some(b"_INBOX.1"), b"hello"),
        ),
        (v("pub\ta  r\t0\n\r\n"), publish(b"a", Some(b"r"), b"")),
        (
            v("PUB a 4\r\n\r\n\r\n\r\n"),
            publish(b"a", None, b"\r\n\r\n"),
        ),
        (
            v("HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            hpublish(b"a", None, b"NATS/1.0\r\n\r\n", b"hi"),
        ),
        (
            v("HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            hpublish(b"a", Some(b"r"), b"NATS/1.0\r\n\r\n", b"hi"),
        ),
        (v("hpub a 0 0\r\n\r\n"), hpublish(b"a", None, b"", b"")),
        (v("SUB a.* 1\r\n"), subscribe(b"a.*", None, b"1")),
        (v("SUB a.> q 22\r\n"), subscribe(b"a.>", Some(b"q"), b"22")),
        (v("sub  a\tq  3  \n"), subscribe(b"a", Some(b"q"), b"3")),
        (v("UNSUB 1\r\n"), unsubscribe(b"1", None)),
        (v("UNSUB 1 10\r\n"), unsubscribe(b"1", Some(10))),
        (v("unsub\t1\t\t10\n"), unsubscribe(b"1", Some(10))),
        (v("PING\r\n"), Op::Ping),
        (v("pong\n"), Op::Pong),
        (v("INFO {}\r\n"), Op::Info(v("{}"))),
        (v("+OK\r\n"), Op::Ignored),
        (v("HMSG a 1 0 0\r\n\r\n"), Op::Ignored),
    ]
}

#[test]
fn every_op_split_at_every_byte_is_need_more_then_whole() {
    for (encoded, expected) in every_op() {
        let name = String::from_utf8_lossy(&encoded);
        for cut in 0..encoded.len() {
            assert_eq!(
                parse_one(&encoded[..cut]).unwrap(),
                None,
                "{name:?} cut at {cut}"
            );
        }
        let (op, used) = parse_one(&encoded).unwrap().unwrap();
        assert_eq!(Op::from(op), expected, "{name:?}");
        assert_eq!(used, encoded.len(), "{name:?}");
    }
}

#[test]
fn two_ops_split_anywhere_yield_the_first_once_it_is_complete() {
    let ops = every_op();
    for (first, first_op) in &ops {
        for (second, second_op) in &ops {
            let both = [first.as_slice(), second.as_slice()].concat();
            for cut in 0..both.len() {
                let outcome = feed([&both[..cut], &both[cut..]], &limits(), true);
                assert_eq!(outcome.error, None);
                assert_eq!(outcome.ops, vec![first_op.clone(), second_op.clone()]);
                assert_eq!(outcome.pending, 0);
                // The first read alone yields the first op exactly when it holds all of it.
                let early = parse_one(&both[..cut])
                    .unwrap()
                    .map(|(op, used)| (Op::from(op), used));
                if cut >= first.len() {
                    assert_eq!(early, Some((first_op.clone(), first.len())));
                } else {
                    assert_eq!(early, None);
                }
            }
        }
    }
}

// ---- property test: random valid streams, random reads ----

fn token() -> impl Strategy<Value = Vec<u8>> {
    proptest::string::string_regex("[A-Za-z0-9_$-]{1,8}")
        .unwrap()
        .prop_map(String::into_bytes)
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![4 => token(), 1 => Just(b"*".to_vec())], 1..4)
        .prop_map(|tokens| tokens.join(&b'.'))
}

fn sid() -> impl Strategy<Value = Vec<u8>> {
    proptest::string::string_regex("[0-9]{1,6}")
        .unwrap()
        .prop_map(String::into_bytes)
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..80)
}

/// `n` in decimal after `zeros` leading zeros, as a client may write a size field.
fn size_field(n: usize, zeros: usize) -> Vec<u8> {
    format!("{}{n}", "0".repeat(zeros)).into_bytes()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        token().prop_map(|name| Op::Connect([&b"{\"name\":\""[..], &name, b"\"}"].concat())),
        (subject(), prop::option::of(token()), payload(), 0..3usize).prop_map(
            |(subject, reply, payload, zeros)| Op::Pub {
                subject,
                reply,
                size: size_field(payload.len(), zeros),
                payload,
            }
        ),
        (
            subject(),
            prop::option::of(token()),
            payload(),
            payload(),
            0..3usize
        )
            .prop_map(|(subject, reply, headers, payload, zeros)| Op::Hpub {
                subject,
                reply,
                header_size: size_field(headers.len(), zeros),
                size: size_field(headers.len() + payload.len(), 0),
                headers,
                payload
            }),
        (subject(), prop::option::of(token()), sid()).prop_map(|(subject, queue, sid)| Op::Sub {
            subject,
            queue,
            sid
        }),
        (sid(), prop::option::of(0u64..=999_999_999)).prop_map(|(sid, max)| Op::Unsub { sid, max }),
        Just(Op::Ping),
        Just(Op::Pong),
        Just(Op::Info(b"{}".to_vec())),
        Just(Op::Ignored),
    ]
}

/// Spelling freedom nats-server allows: verb case, separator runs, optional CR on control lines.
#[derive(Clone, Debug)]
struct Style {
    lower_verb: bool,
    separator: Vec<u8>,
    cr: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 1..4),
        any::<bool>(),
    )
        .prop_map(|(lower_verb, separator, cr)| Style {
            lower_verb,
            separator,
            cr,
        })
}

/// Writes `op` in `style`: the canonical encoding with its control line re-spelled.
fn encode_styled(op: &Op, style: &Style) -> Vec<u8> {
    let canonical = op.encoded();
    let line_end = canonical
        .iter()
        .position(|&b| b == b'\n')
        .expect("control line");
    let line = &canonical[..line_end - 1]; // without CRLF
    let rest = &canonical[line_end + 1..];
    let mut out = Vec::new();
    for (i, field) in line.split(|&b| b == b' ').enumerate() {
        if i > 0 {
            out.extend_from_slice(&style.separator);
        }
        if i == 0 && style.lower_verb {
            out.extend(field.to_ascii_lowercase());
        } else {
            out.extend_from_slice(field);
        }
    }
    if style.cr {
        out.push(b'\r');
    }
    out.push(b'\n');
    out.extend_from_slice(rest);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_streams_cut_into_random_reads_parse_back_equal(
        ops in prop::collection::vec((op(), style()), 1..20),
        cuts in prop::collection::vec(1usize..64, 0..40),
    ) {
        let stream: Vec<u8> = ops.iter().flat_map(|(op, style)| encode_styled(op, style)).collect();
        let mut chunks = Vec::new();
        let mut at = 0;
        for size in cuts {
            let end = (at + size).min(stream.len());
            chunks.push(&stream[at..end]);
            at = end;
        }
        chunks.push(&stream[at..]);
        let outcome = feed(chunks, &limits(), true);
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.pending, 0);
        let expected: Vec<Op> = ops.into_iter().map(|(op, _)| op).collect();
        prop_assert_eq!(outcome.ops, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_overconsume(input in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // Mostly protocol vocabulary, so verbs, sizes and line ends actually meet.
        prop::collection::vec(prop::sample::select(b"PUBSINGHMOKCT+-ER \t\r\n0123456789ab.*>".to_vec()), 0..200),
    ]) {
        let small = Limits { max_control_line: 32, max_payload: 64 };
        if let Ok(Some((_, used))) = parse(&input, &small) {
            prop_assert!(used > 0 && used <= input.len());
        }
        let whole = feed_whole(&input, &small, true);
        let bytewise = feed_bytewise(&input, &small, true);
        prop_assert_eq!(verdict(&whole), verdict(&bytewise));
    }
}

#[test]
fn separators_before_the_arguments_are_bounded() {
    // nats-server skips any number of spaces after a verb. Here more than max_control_line of
    // them is refused, complete line or not, because a stateless parser keeps them.
    let small = Limits {
        max_control_line: 8,
        max_payload: 1024,
    };
    let line = |spaces: usize| [&b"SUB"[..], &vec![b' '; spaces], b"a 1\r\n"].concat();
    let ok = line(9); // the verb's own separator plus 8 more
    assert_eq!(
        parse(&ok, &small).unwrap(),
        Some((
            ClientOp::Sub {
                subject: b"a",
                queue: None,
                sid: b"1"
            },
            ok.len()
        ))
    );
    let too_many = line(10);
    assert_eq!(
        parse(&too_many, &small).unwrap_err(),
        ParseError::MaxControlLine { len: 9, max: 8 }
    );
    assert_eq!(parse(&too_many[..12], &small).unwrap(), None);
    assert_eq!(
        parse(&too_many[..13], &small).unwrap_err(),
        ParseError::MaxControlLine { len: 9, max: 8 }
    );
}
