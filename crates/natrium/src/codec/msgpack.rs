//! MessagePack payloads (rmp-serde). Structs are written as maps keyed by field name so
//! that peers in other languages can read them.

use bytes::Bytes;

use crate::error::BoxError;

pub(super) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, BoxError> {
    Ok(rmp_serde::to_vec_named(value)?.into())
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BoxError> {
    Ok(rmp_serde::from_slice(bytes)?)
}
