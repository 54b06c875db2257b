//! Protocol Buffers payloads (prost).

use bytes::Bytes;

use crate::error::BoxError;

pub(super) fn encode<T: prost::Message>(value: &T) -> Bytes {
    value.encode_to_vec().into()
}

pub(super) fn decode<T: prost::Message + Default>(bytes: &[u8]) -> Result<T, BoxError> {
    Ok(T::decode(bytes)?)
}
