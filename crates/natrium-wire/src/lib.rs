//! The NATS client protocol: parser, encoder and subject rules. No I/O, no tokio.
//!
//! - [`parse`] reads one client operation from the front of a read buffer as borrowed
//!   slices; a protocol violation is a [`ParseError`] that knows nats-server's exact answer.
//! - [`encode_msg`], [`encode_hmsg`], [`encode_err`] and the constants write what a server
//!   sends; [`encode_msg_sized`] and [`encode_hmsg_sized`] copy a PUB's size fields as the
//!   client wrote them, as nats-server does.
//! - [`is_valid_subject`], [`check_subject`] and friends are nats-server's subject rules, the
//!   one statement of them every natrium crate uses (`a*b` is a literal token);
//!   [`subject_matches`], [`subjects_overlap`] and [`is_subset_match`] compare wildcard filters.
//!
//! ```
//! use natrium_wire::{parse, ClientOp, Limits};
//!
//! let buf = b"PUB greet.joe 5\r\nhello\r\nPING\r\n";
//! let (op, used) = parse(buf, &Limits::default()).unwrap().unwrap();
//! assert_eq!(
//!     op,
//!     ClientOp::Pub { subject: b"greet.joe", reply: None, size: b"5", payload: b"hello" }
//! );
//! let (op, _) = parse(&buf[used..], &Limits::default()).unwrap().unwrap();
//! assert_eq!(op, ClientOp::Ping);
//! ```

mod encoder;
mod error;
mod parser;
mod scan;
mod subject;

pub use encoder::{
    NO_RESPONDERS_HEADERS, OK, PING, PONG, Sizes, encode_err, encode_hmsg, encode_hmsg_sized,
    encode_info, encode_msg, encode_msg_sized,
};
pub use error::{
    INVALID_PUBLISH_SUBJECT, INVALID_SUBJECT, MAXIMUM_CONTROL_LINE_EXCEEDED,
    MAXIMUM_PAYLOAD_VIOLATION, ParseError, SizeField, UNKNOWN_PROTOCOL_OPERATION, Verb,
};
pub use parser::{ClientOp, Limits, parse, parse_without_headers};
pub use subject::{
    FULL_WILDCARD, PARTIAL_WILDCARD, SEPARATOR, SubjectError, SubjectKind, check_publish_subject,
    check_subject, check_subscribe_subject, is_routable_subject, is_subset_match,
    is_valid_literal_subject, is_valid_queue, is_valid_subject, is_valid_subscribe_subject,
    split_first_token, subject_matches, subjects_overlap, tokens,
};
