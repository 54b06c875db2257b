//! JetStream API request decoding and config checks: `STREAM.CREATE` bodies (decoded like
//! nats-server, normalised, checked; a config that passes must be found as existing when
//! sent again), consumer create requests against a few streams, and pull requests. Any
//! body gives a stream/consumer or an API error, never a panic.
//!
//! Input: `[mode] [subject length] subject body...`. mode bits 0–1 choose the request
//! kind, bit 2 the API's `strict` decoding, bits 3–4 the stream named
//! in the subject (mode 1: the subject is `$JS.API.CONSUMER.CREATE.<stream>` + the input's).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use natrium_server::fuzzing::{self, Stream};

/// Streams for consumer requests: limits, work queue and interest retention.
fn streams() -> &'static [Stream] {
    static STREAMS: OnceLock<Vec<Stream>> = OnceLock::new();
    STREAMS.get_or_init(|| {
        [
            ("ORDERS", r#"{"name":"ORDERS","subjects":["orders.>"]}"#),
            ("WQ", r#"{"name":"WQ","subjects":["jobs.*","tasks"],"retention":"workqueue","storage":"memory"}"#),
            ("INT", r#"{"name":"INT","subjects":["ev.>"],"retention":"interest","max_msgs_per_subject":5}"#),
        ]
        .iter()
        .map(|(name, body)| fuzzing::stream_create(name, body.as_bytes(), false).unwrap())
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let [mode, len, rest @ ..] = data else {
        return;
    };
    let len = usize::from(*len).min(rest.len());
    let (subject, body) = rest.split_at(len);
    let subject = String::from_utf8_lossy(subject);
    let strict = mode & 4 != 0;
    match mode % 4 {
        0 => {
            let _ = fuzzing::stream_create(&subject, body, strict);
        }
        1 | 2 => {
            let subject = if mode % 4 == 1 {
                // Most requests name one of the streams: only the rest comes from the input.
                let stream = ["ORDERS", "WQ", "INT", "NONE"][usize::from(mode >> 3) % 4];
                format!("$JS.API.CONSUMER.CREATE.{stream}{subject}")
            } else {
                subject.into_owned()
            };
            let _ = fuzzing::consumer_create(&subject, body, strict, streams());
        }
        _ => {
            let _ = fuzzing::pull_request(body);
        }
    }
});
