//! The message types, generated from `proto/report.proto` by `build.rs`.
//!
//! Each type is a prost `Message` (protobuf codec) and serde `Serialize`/`Deserialize`
//! (JSON and MessagePack), so it travels as [`natrium::Wire`] under whichever codec
//! `data.nats.codec` names; `create_time` is milliseconds since the Unix epoch.
#![allow(missing_docs)] // generated code; the documentation lives in the .proto file.

include!(concat!(env!("OUT_DIR"), "/report.v1.rs"));

/// Milliseconds since the Unix epoch, for `create_time`.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use natrium::{Codec, Wire};

    use super::RealTimeWarehousingData;

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
}
