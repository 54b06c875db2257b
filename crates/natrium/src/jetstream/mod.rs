//! At-least-once messaging on NATS JetStream.
//!
//! (Guide filled in below as the pieces land.)

mod publish;

pub(crate) use publish::parse_pub_ack;
pub use publish::{
    DEFAULT_PUBLISH_TIMEOUT, EXPECTED_LAST_MSG_ID_HEADER, EXPECTED_LAST_SEQUENCE_HEADER,
    EXPECTED_LAST_SUBJECT_SEQUENCE_HEADER, EXPECTED_STREAM_HEADER, Expectation, MSG_ID_HEADER,
    PubAck, PublishBatch, PublishOptions,
};
pub mod testing;
