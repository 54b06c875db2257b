//! JSON payloads (serde_json).

use bytes::Bytes;

use crate::error::BoxError;

pub(super) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, BoxError> {
    Ok(serde_json::to_vec(value)?.into())
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BoxError> {
    Ok(serde_json::from_slice(bytes)?)
}
