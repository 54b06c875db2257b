//! How the demo's messages travel: one wrapper, [`Wire`], that encodes a generated message
//! with whichever codec `data.nats.codec` names — prost for protobuf, serde for JSON and
//! MessagePack — so services never branch on the codec.

use bytes::Bytes;
use natrium::{BoxError, Codec, Decode, Encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A generated message (from `proto/report.proto`) as a payload in any natrium codec.
/// Publish `&Wire(message)`; extract `Msg<Wire<T>>` in handlers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wire<T>(pub T);

impl<T: prost::Message + Serialize> Encode for Wire<T> {
    fn encode(&self, codec: Codec) -> Result<Bytes, BoxError> {
        match codec {
            Codec::Protobuf => Ok(self.0.encode_to_vec().into()),
            serde_codec => Encode::encode(&self.0, serde_codec),
        }
    }
}

impl<T: prost::Message + Default + DeserializeOwned> Decode for Wire<T> {
    fn decode(codec: Codec, bytes: &[u8]) -> Result<Self, BoxError> {
        match codec {
            Codec::Protobuf => Ok(Wire(<T as prost::Message>::decode(bytes)?)),
            serde_codec => <T as Decode>::decode(serde_codec, bytes).map(Wire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::RealTimeWarehousingData;

    fn sample() -> RealTimeWarehousingData {
        RealTimeWarehousingData {
            event_name: "page_view".into(),
            report_data: "{\"page\":\"/\"}".into(),
            create_time: 1_700_000_000_123,
        }
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in [Codec::Json, Codec::Protobuf, Codec::MsgPack] {
            let bytes = codec.encode(&Wire(sample()), "s").expect("encode");
            let back: Wire<RealTimeWarehousingData> = codec.decode(&bytes, "s").expect("decode");
            assert_eq!(back.0, sample(), "{codec}");
        }
    }

    #[test]
    fn json_is_the_plain_field_names() {
        let bytes = Codec::Json.encode(&Wire(sample()), "s").expect("encode");
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(value["event_name"], "page_view");
        assert_eq!(value["create_time"], 1_700_000_000_123_i64);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        for codec in [Codec::Json, Codec::Protobuf] {
            let err = codec
                .decode::<Wire<RealTimeWarehousingData>>(
                    b"\xff\xff\xff not a message",
                    "report.event",
                )
                .expect_err("garbage");
            assert!(err.to_string().contains("report.event"), "{err}");
        }
    }
}
