//! The message types, generated from `proto/report.proto` by `build.rs`.
//!
//! Each type is a prost `Message` (protobuf codec) and serde `Serialize`/`Deserialize`
//! (JSON codec); `create_time` is milliseconds since the Unix epoch.
#![allow(missing_docs)] // generated code; the documentation lives in the .proto file.

include!(concat!(env!("OUT_DIR"), "/report.v1.rs"));

/// Milliseconds since the Unix epoch, for `create_time`.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
