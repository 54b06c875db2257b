//! What the demo declares on JetStream (mode `jetstream`): the `REPORTS` stream, the stream
//! that keeps dead letters, and the savers' durable consumers.

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::stream;
use natrium::async_nats;

use crate::config::NatsSection;

/// The stream storing every report: both report subjects, on disk.
pub fn reports_stream(nats: &NatsSection) -> stream::Config {
    stream::Config {
        name: nats.stream.clone(),
        subjects: vec![nats.event_subject.clone(), nats.user_subject.clone()],
        storage: stream::StorageType::File,
        ..Default::default()
    }
}

/// The stream keeping reports the savers could never store (`{stream}_DEAD`).
pub fn dead_letter_stream(nats: &NatsSection) -> stream::Config {
    stream::Config {
        name: format!("{}_DEAD", nats.stream),
        subjects: vec![nats.dead_letter_subject.clone()],
        storage: stream::StorageType::File,
        ..Default::default()
    }
}

/// The savers' durable consumer for `subject`, named `{durable}-{suffix}`.
pub fn saver_consumer(nats: &NatsSection, subject: &str, suffix: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(format!("{}-{suffix}", nats.durable)),
        filter_subject: subject.to_owned(),
        ack_wait: nats.ack_wait,
        max_deliver: nats.max_deliver,
        ..Default::default()
    }
}
