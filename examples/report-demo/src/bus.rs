//! The seam between the demo and NATS: a publisher for the report service and the saver's
//! subscriptions. (Temporary: async-nats directly, until natrium's Broker lands.)

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{CodecName, NatsSection};

/// A message type the demo sends: protobuf and JSON capable.
pub trait Wire:
    prost::Message + Serialize + DeserializeOwned + Default + Send + Sync + 'static
{
}
impl<T: prost::Message + Serialize + DeserializeOwned + Default + Send + Sync + 'static> Wire
    for T
{
}

/// Why a report did not reach NATS.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The NATS server did not confirm within the publish timeout.
    #[error("NATS did not confirm the publish within {0:?}")]
    Timeout(Duration),
    /// Encoding or the client failed.
    #[error("{0}")]
    Client(String),
}

/// Publishes typed messages with the configured codec.
#[derive(Clone)]
pub struct Publisher {
    client: async_nats::Client,
    codec: CodecName,
}

impl Publisher {
    /// Connects; keeps retrying in the background if NATS is not up yet.
    pub async fn connect(config: &NatsSection) -> Result<Self, PublishError> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(config.addrs.join(","))
            .await
            .map_err(|e| PublishError::Client(e.to_string()))?;
        Ok(Self {
            client,
            codec: config.codec,
        })
    }

    /// Publishes `message` on `subject` and waits until the client has flushed it.
    pub async fn publish<T: Wire>(&self, subject: &str, message: &T) -> Result<(), PublishError> {
        let payload = encode(self.codec, message)?;
        self.client
            .publish(subject.to_owned(), payload.into())
            .await
            .map_err(|e| PublishError::Client(e.to_string()))?;
        self.client
            .flush()
            .await
            .map_err(|e| PublishError::Client(e.to_string()))
    }
}

/// Encodes with the codec.
pub fn encode<T: Wire>(codec: CodecName, message: &T) -> Result<Vec<u8>, PublishError> {
    match codec {
        CodecName::Json => {
            serde_json::to_vec(message).map_err(|e| PublishError::Client(e.to_string()))
        }
        CodecName::Protobuf => Ok(message.encode_to_vec()),
    }
}

/// Decodes with the codec.
pub fn decode<T: Wire>(codec: CodecName, payload: &[u8]) -> Result<T, String> {
    match codec {
        CodecName::Json => serde_json::from_slice(payload).map_err(|e| e.to_string()),
        CodecName::Protobuf => T::decode(payload).map_err(|e| e.to_string()),
    }
}
