//! Codecs: how typed values become message payloads and back.
//!
//! The codec is chosen once, in [`BrokerConfig::codec`](crate::BrokerConfig::codec). Types
//! pass through it via [`Encode`] and [`Decode`]: every serde type works with
//! [`Codec::Json`] and [`Codec::MsgPack`]; protobuf messages (prost) are wrapped in
//! [`Proto`] and work with [`Codec::Protobuf`]. A message that must travel under whichever
//! codec is configured — a prost message that also derives serde — is wrapped in [`Wire`]:
//! prost under [`Codec::Protobuf`], serde under the others. A type/codec mismatch is a
//! typed [`Error::Codec`], never a panic.

mod json;
mod msgpack;
mod protobuf;

use bytes::Bytes;

use crate::error::{BoxError, CodecOp, Error, Result};

/// The wire format of typed payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Codec {
    /// JSON via serde_json (the default, as in kratos-transport).
    #[default]
    Json,
    /// Protocol Buffers via prost; values are wrapped in [`Proto`] (or [`Wire`]).
    Protobuf,
    /// MessagePack via rmp-serde (struct fields encoded by name).
    MsgPack,
}

impl Codec {
    /// The codec's short name: `json`, `protobuf`, `msgpack`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Protobuf => "protobuf",
            Codec::MsgPack => "msgpack",
        }
    }

    /// The MIME content type, e.g. for a `Content-Type` header.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Protobuf => "application/x-protobuf",
            Codec::MsgPack => "application/msgpack",
        }
    }

    /// Encodes `value`; `subject` only adds context to errors.
    pub fn encode<T: Encode + ?Sized>(self, value: &T, subject: &str) -> Result<Bytes> {
        value.encode(self).map_err(|source| {
            codec_error(
                CodecOp::Encode,
                self,
                std::any::type_name::<T>(),
                subject,
                source,
            )
        })
    }

    /// Decodes `bytes`; `subject` only adds context to errors.
    pub fn decode<T: Decode>(self, bytes: &[u8], subject: &str) -> Result<T> {
        T::decode(self, bytes).map_err(|source| decode_error::<T>(self, subject, source))
    }
}

/// The error [`Codec::decode`] returns when decoding a `T` from `subject` failed.
pub(crate) fn decode_error<T>(codec: Codec, subject: &str, source: BoxError) -> Error {
    codec_error(
        CodecOp::Decode,
        codec,
        std::any::type_name::<T>(),
        subject,
        source,
    )
}

fn codec_error(
    op: CodecOp,
    codec: Codec,
    type_name: &'static str,
    subject: &str,
    source: BoxError,
) -> Error {
    Error::Codec {
        op,
        codec,
        type_name,
        subject: subject.to_owned(),
        source,
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Codec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Codec::Json),
            "protobuf" | "proto" => Ok(Codec::Protobuf),
            "msgpack" | "messagepack" => Ok(Codec::MsgPack),
            other => Err(Error::Config(format!(
                "unknown codec {other:?} (expected json, protobuf or msgpack)"
            ))),
        }
    }
}

/// A value that can be written as a payload by a [`Codec`].
pub trait Encode {
    /// Encodes `self` with `codec`.
    fn encode(&self, codec: Codec) -> Result<Bytes, BoxError>;
}

/// A value that can be read from a payload by a [`Codec`].
pub trait Decode: Sized {
    /// Decodes a value from `bytes` with `codec`.
    fn decode(codec: Codec, bytes: &[u8]) -> Result<Self, BoxError>;
}

impl<T: serde::Serialize + ?Sized> Encode for T {
    fn encode(&self, codec: Codec) -> Result<Bytes, BoxError> {
        match codec {
            Codec::Json => json::encode(self),
            Codec::MsgPack => msgpack::encode(self),
            Codec::Protobuf => Err(NOT_PROTOBUF.into()),
        }
    }
}

impl<T: serde::de::DeserializeOwned> Decode for T {
    fn decode(codec: Codec, bytes: &[u8]) -> Result<Self, BoxError> {
        match codec {
            Codec::Json => json::decode(bytes),
            Codec::MsgPack => msgpack::decode(bytes),
            Codec::Protobuf => Err(NOT_PROTOBUF.into()),
        }
    }
}

const NOT_PROTOBUF: &str =
    "the type is not a protobuf message; wrap a prost message in natrium::Proto";

/// A protobuf (prost) message: publish `&Proto(msg)`, extract `Proto<T>` in handlers, and
/// return `Proto(reply)` from reply handlers. Works with [`Codec::Protobuf`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proto<T>(pub T);

impl<T: prost::Message> Encode for Proto<T> {
    fn encode(&self, codec: Codec) -> Result<Bytes, BoxError> {
        match codec {
            Codec::Protobuf => Ok(protobuf::encode(&self.0)),
            other => {
                Err(format!("a protobuf message cannot be encoded with the {other} codec").into())
            }
        }
    }
}

impl<T: prost::Message + Default> Decode for Proto<T> {
    fn decode(codec: Codec, bytes: &[u8]) -> Result<Self, BoxError> {
        match codec {
            Codec::Protobuf => protobuf::decode(bytes).map(Proto),
            other => {
                Err(format!("a protobuf message cannot be decoded with the {other} codec").into())
            }
        }
    }
}

/// A message for every codec: prost under [`Codec::Protobuf`], serde under [`Codec::Json`]
/// and [`Codec::MsgPack`], so a service configured for any codec never branches on it.
/// `T` is a prost message that also derives serde (e.g. generated by prost-build with
/// `type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")`).
///
/// Publish `&Wire(msg)`, take `Wire<T>` (or `Msg<Wire<T>>`) in handlers, return
/// `Wire(reply)` from reply handlers.
///
/// ```
/// use natrium::{Codec, Wire};
///
/// #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
/// struct Event {
///     #[prost(string, tag = "1")]
///     name: String,
/// }
///
/// let event = Wire(Event { name: "signup".into() });
/// for codec in [Codec::Json, Codec::MsgPack, Codec::Protobuf] {
///     let bytes = codec.encode(&event, "events").unwrap();
///     assert_eq!(codec.decode::<Wire<Event>>(&bytes, "events").unwrap(), event);
/// }
/// assert_eq!(&Codec::Json.encode(&event, "events").unwrap()[..], br#"{"name":"signup"}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wire<T>(pub T);

impl<T: prost::Message + serde::Serialize> Encode for Wire<T> {
    fn encode(&self, codec: Codec) -> Result<Bytes, BoxError> {
        match codec {
            Codec::Protobuf => Ok(protobuf::encode(&self.0)),
            Codec::Json => json::encode(&self.0),
            Codec::MsgPack => msgpack::encode(&self.0),
        }
    }
}

impl<T: prost::Message + Default + serde::de::DeserializeOwned> Decode for Wire<T> {
    fn decode(codec: Codec, bytes: &[u8]) -> Result<Self, BoxError> {
        match codec {
            Codec::Protobuf => protobuf::decode(bytes),
            Codec::Json => json::decode(bytes),
            Codec::MsgPack => msgpack::decode(bytes),
        }
        .map(Wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Event {
        name: String,
        n: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct PEvent {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(uint32, tag = "2")]
        n: u32,
    }

    #[test]
    fn serde_types_round_trip_with_json_and_msgpack() {
        let e = Event {
            name: "a".into(),
            n: 7,
        };
        for codec in [Codec::Json, Codec::MsgPack] {
            let bytes = codec.encode(&e, "s").unwrap();
            assert_eq!(codec.decode::<Event>(&bytes, "s").unwrap(), e);
        }
        assert_eq!(
            &Codec::Json.encode(&e, "s").unwrap()[..],
            br#"{"name":"a","n":7}"#
        );
    }

    #[test]
    fn protobuf_round_trips_and_mismatch_is_a_typed_error() {
        let p = Proto(PEvent {
            name: "a".into(),
            n: 7,
        });
        let bytes = Codec::Protobuf.encode(&p, "s").unwrap();
        assert_eq!(
            Codec::Protobuf
                .decode::<Proto<PEvent>>(&bytes, "s")
                .unwrap(),
            p
        );
        let err = Codec::Protobuf
            .encode(
                &Event {
                    name: "a".into(),
                    n: 1,
                },
                "subj",
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Codec {
                    op: CodecOp::Encode,
                    codec: Codec::Protobuf,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("subj"));
        assert!(Codec::Json.encode(&p, "s").is_err());
    }

    #[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
    struct Both {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(int64, tag = "2")]
        at: i64,
    }

    fn both() -> Wire<Both> {
        Wire(Both {
            name: "page_view".into(),
            at: 1_700_000_000_123,
        })
    }

    #[test]
    fn wire_round_trips_with_every_codec() {
        for codec in [Codec::Json, Codec::Protobuf, Codec::MsgPack] {
            let bytes = codec.encode(&both(), "s").unwrap();
            assert_eq!(
                codec.decode::<Wire<Both>>(&bytes, "s").unwrap(),
                both(),
                "{codec}"
            );
        }
    }

    #[test]
    fn wire_is_prost_bytes_under_protobuf_and_serde_otherwise() {
        use prost::Message as _;
        let inner = both().0;
        assert_eq!(
            &Codec::Protobuf.encode(&both(), "s").unwrap()[..],
            &inner.encode_to_vec()[..]
        );
        assert_eq!(
            &Codec::Json.encode(&both(), "s").unwrap()[..],
            &serde_json::to_vec(&inner).unwrap()[..]
        );
        assert_eq!(
            &Codec::MsgPack.encode(&both(), "s").unwrap()[..],
            &Codec::MsgPack.encode(&inner, "s").unwrap()[..]
        );
    }

    #[test]
    fn wire_garbage_is_a_decode_error_naming_the_subject() {
        for codec in [Codec::Json, Codec::Protobuf, Codec::MsgPack] {
            let err = codec
                .decode::<Wire<Both>>(b"\xff\xff\xff not a message", "report.event")
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Codec {
                        op: CodecOp::Decode,
                        ..
                    }
                ) && err.to_string().contains("report.event"),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn garbage_is_a_decode_error_with_context() {
        let err = Codec::Json
            .decode::<Event>(b"{not json", "orders.new")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("orders.new") && text.contains("json") && text.contains("Event"),
            "{text}"
        );
    }
}
