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
mod declare;
pub mod testing;
pub use declare::{OnMismatch, ensure_consumer, ensure_stream};
mod delivery;
pub(crate) mod runner;
pub use delivery::{Delivery, DeliveryEvent};
pub(crate) use runner::{DurableRunner, DurableSpec};
