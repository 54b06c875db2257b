//! JetStream API request and response types, with nats-server 2.15's JSON shapes.
//!
//! Field names, field order, omitted-when-empty rules and value formats are nats-server's,
//! so a reply serialised from these types reads byte for byte like the reference's:
//! durations are integer nanoseconds, times are RFC 3339 in UTC with trailing zeros of the
//! fraction trimmed (Go's `time.RFC3339Nano`), maps are sorted by key, and the zero time is
//! `0001-01-01T00:00:00Z`.
//!
//! Requests are decoded with [`decode_request`], which reproduces nats-server's `strict`
//! mode (the 2.15 default): an unknown field is refused with
//! `invalid JSON: json: unknown field "x"`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::errors::ApiError;

/// The `type` strings of JetStream API replies.
pub mod response_type {
    /// `$JS.API.INFO`.
    pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
    /// `$JS.API.STREAM.CREATE.<stream>`.
    pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
    /// `$JS.API.STREAM.UPDATE.<stream>`.
    pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
    /// `$JS.API.STREAM.INFO.<stream>`.
    pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
    /// `$JS.API.STREAM.DELETE.<stream>`.
    pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
    /// `$JS.API.STREAM.NAMES`.
    pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
    /// `$JS.API.STREAM.LIST`.
    pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
    /// `$JS.API.STREAM.PURGE.<stream>`.
    pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
    /// `$JS.API.STREAM.MSG.GET.<stream>`.
    pub const STREAM_MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
    /// `$JS.API.STREAM.MSG.DELETE.<stream>`.
    pub const STREAM_MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
}

/// Page sizes nats-server uses for `STREAM.NAMES`, `STREAM.LIST` and the subject details of
/// `STREAM.INFO`.
pub mod page_limit {
    /// `STREAM.NAMES` (and consumer names): `JSApiNamesLimit`.
    pub const NAMES: usize = 1024;
    /// `STREAM.LIST` (and consumer list): `JSApiListLimit`.
    pub const LIST: usize = 256;
    /// Subject details in `STREAM.INFO` with `subjects_filter`: `JSMaxSubjectDetails`.
    pub const SUBJECT_DETAILS: usize = 100_000;
}

// ---------------------------------------------------------------------------------------
// Time

/// A wall-clock instant as nats-server writes it, or Go's zero time (`0001-01-01T00:00:00Z`),
/// which nats-server sends for "never" (`first_ts` of an empty stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    time: Option<SystemTime>,
    /// The UTC offset (seconds east) a client wrote it in, kept to be written back the
    /// same way (nats-server echoes `opt_start_time` as given); `None` for UTC.
    offset: Option<i32>,
}

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Timestamp {
    /// Go's zero time.
    pub const ZERO: Timestamp = Timestamp {
        time: None,
        offset: None,
    };

    /// The current time.
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// An instant given as nanoseconds since the Unix epoch (the store's unit).
    pub fn from_unix_nanos(nanos: u64) -> Self {
        (UNIX_EPOCH + Duration::from_nanos(nanos)).into()
    }

    /// Nanoseconds since the Unix epoch; `None` for the zero time (and before 1970).
    pub fn unix_nanos(&self) -> Option<u64> {
        let since = self.time?.duration_since(UNIX_EPOCH).ok()?;
        u64::try_from(since.as_nanos()).ok()
    }

    /// The instant, `None` for the zero time.
    pub fn system_time(&self) -> Option<SystemTime> {
        self.time
    }

    /// True for Go's zero time.
    pub fn is_zero(&self) -> bool {
        self.time.is_none()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Timestamp {
            time: Some(time),
            offset: None,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.time {
            None => f.write_str(GO_ZERO_TIME),
            Some(time) => f.write_str(&crate::go_time::format(time, self.offset)),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == GO_ZERO_TIME {
            return Ok(Timestamp::ZERO);
        }
        let (time, offset) = crate::go_time::parse(&text).map_err(serde::de::Error::custom)?;
        Ok(Timestamp {
            time: Some(time),
            offset,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Policies

/// Go's `UnmarshalJSON` error for an unknown enum word: `can not unmarshal "\"foo\""`.
fn unknown_word<E: serde::de::Error>(word: &str) -> E {
    let quoted = serde_json::to_string(word).unwrap_or_default();
    E::custom(format!("can not unmarshal {quoted:?}"))
}

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }
     case_insensitive = $ci:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The JSON word nats-server uses.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let word = String::deserialize(deserializer)?;
                let key = if $ci { word.to_ascii_lowercase() } else { word.clone() };
                match key.as_str() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(unknown_word(&word)),
                }
            }
        }
    };
}

word_enum! {
    /// When messages leave a stream besides the limits (`retention`).
    RetentionPolicy {
        /// `"limits"`: only the limits remove messages (the default).
        #[default]
        Limits = "limits",
        /// `"interest"`: a message goes once every consumer has acknowledged it.
        Interest = "interest",
        /// `"workqueue"`: a message goes once any consumer has acknowledged it.
        WorkQueue = "workqueue",
    } case_insensitive = false
}

word_enum! {
    /// What a full stream does with a new message (`discard`). nats-server accepts the words
    /// in any case (`"NEW"`) and writes them in lower case.
    DiscardPolicy {
        /// `"old"`: remove the oldest messages (the default).
        #[default]
        Old = "old",
        /// `"new"`: refuse the new message.
        New = "new",
    } case_insensitive = true
}

word_enum! {
    /// Where a stream keeps its messages (`storage`).
    StorageType {
        /// `"file"` (the default).
        #[default]
        File = "file",
        /// `"memory"`.
        Memory = "memory",
    } case_insensitive = false
}

word_enum! {
    /// How a stream persists writes (`persist_mode`, omitted when default).
    PersistMode {
        /// `"default"`: flushed before the publish is acknowledged.
        #[default]
        Default = "default",
        /// `"async"`: flushed in the background.
        Async = "async",
    } case_insensitive = false
}

impl PersistMode {
    fn is_default(&self) -> bool {
        *self == PersistMode::Default
    }
}

/// Block compression of a file stream (`compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// `"none"` (the default).
    #[default]
    None,
    /// `"s2"`.
    S2,
}

impl Serialize for Compression {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Compression::None => "none",
            Compression::S2 => "s2",
        })
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // nats-server's own message here, unlike the other policies.
        match String::deserialize(deserializer)?.as_str() {
            "none" => Ok(Compression::None),
            "s2" => Ok(Compression::S2),
            _ => Err(serde::de::Error::custom("unknown compression algorithm")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stream configuration

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// A stream's configuration: the body of `STREAM.CREATE`/`STREAM.UPDATE` and `config` in
/// every stream info. Limits use nats-server's conventions: `-1` (or `0` before
/// normalisation) means unlimited; durations are nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The stream name (no `.`, `*`, `>`, whitespace, `/` or `\`).
    #[serde(default)]
    pub name: String,
    /// Free text, at most 4 KiB.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Subjects captured; defaults to `[name]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Retention policy.
    #[serde(default)]
    pub retention: RetentionPolicy,
    /// Most consumers, `-1` unlimited.
    #[serde(default)]
    pub max_consumers: i64,
    /// Most messages, `-1` unlimited.
    #[serde(default)]
    pub max_msgs: i64,
    /// Most bytes, `-1` unlimited.
    #[serde(default)]
    pub max_bytes: i64,
    /// Oldest message age in nanoseconds, `0` unlimited.
    #[serde(default)]
    pub max_age: i64,
    /// Most messages per subject, `-1` unlimited.
    #[serde(default)]
    pub max_msgs_per_subject: i64,
    /// Largest message (headers and payload), `-1` unlimited.
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    /// Discard policy.
    #[serde(default)]
    pub discard: DiscardPolicy,
    /// Storage type.
    #[serde(default)]
    pub storage: StorageType,
    /// Replica count; a single server only takes 1.
    #[serde(default)]
    pub num_replicas: i64,
    /// Publishes get no acknowledgement.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Deduplication window in nanoseconds (default two minutes).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    /// Cluster placement (kept, but meaningless on one server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Mirror of another stream (refused by natrium for now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// Sources (refused by natrium for now).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    /// Compression of file blocks.
    #[serde(default)]
    pub compression: Compression,
    /// First sequence of a new stream.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    /// Subject rewrite applied on the way in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// Republish stored messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    /// Answer `$JS.API.DIRECT.GET.<stream>`.
    #[serde(default)]
    pub allow_direct: bool,
    /// Direct get from the mirror's origin.
    #[serde(default)]
    pub mirror_direct: bool,
    /// `discard: new` applies per subject.
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    /// No message in or out, ever again.
    #[serde(default)]
    pub sealed: bool,
    /// `STREAM.MSG.DELETE` refused.
    #[serde(default)]
    pub deny_delete: bool,
    /// `STREAM.PURGE` refused.
    #[serde(default)]
    pub deny_purge: bool,
    /// `Nats-Rollup` headers honoured.
    #[serde(default)]
    pub allow_rollup_hdrs: bool,
    /// Defaults for consumers (always written, `{}` when empty).
    #[serde(default)]
    pub consumer_limits: StreamConsumerLimits,
    /// `Nats-TTL` headers honoured.
    #[serde(default)]
    pub allow_msg_ttl: bool,
    /// TTL in nanoseconds of the markers left when a subject's last message expires.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    /// Counter stream (`Nats-Incr`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    /// Atomic batch publish.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    /// Message schedules.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    /// Persistence mode.
    #[serde(default, skip_serializing_if = "PersistMode::is_default")]
    pub persist_mode: PersistMode,
    /// Fast batch publish.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    /// User metadata; nats-server adds `_nats.*` keys (see `stream_config`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl StreamConfig {
    /// `max_age` as a duration; `None` when unlimited (or negative, which validation refuses).
    pub fn max_age(&self) -> Option<Duration> {
        positive_nanos(self.max_age)
    }

    /// `duplicate_window` as a duration; `None` when there is none.
    pub fn duplicate_window(&self) -> Option<Duration> {
        positive_nanos(self.duplicate_window)
    }

    /// `subject_delete_marker_ttl` as a duration; `None` when off.
    pub fn subject_delete_marker_ttl(&self) -> Option<Duration> {
        positive_nanos(self.subject_delete_marker_ttl)
    }
}

fn positive_nanos(nanos: i64) -> Option<Duration> {
    u64::try_from(nanos)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
}

/// `consumer_limits` of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConsumerLimits {
    /// Inactivity before an ephemeral consumer is removed, nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    /// Most unacknowledged messages per consumer.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

/// `placement` of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// Server tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Preferred server (refused by nats-server on create).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred: String,
}

impl Placement {
    /// True when nothing is set (nats-server then drops the placement).
    pub fn is_empty(&self) -> bool {
        self.cluster.is_empty() && self.tags.is_empty() && self.preferred.is_empty()
    }
}

/// A `mirror` or an entry of `sources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSource {
    /// Source stream name.
    #[serde(default)]
    pub name: String,
    /// Start sequence.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    /// Subject filter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Subject transforms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Another account or domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// A durable consumer to source through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamConsumerSource>,
}

/// `external` of a stream source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalStream {
    /// API prefix.
    #[serde(default)]
    pub api: String,
    /// Delivery prefix.
    #[serde(default)]
    pub deliver: String,
}

/// `consumer` of a stream source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConsumerSource {
    /// Durable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Delivery subject.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
}

/// `subject_transform` (and source transforms): `src` → `dest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectTransform {
    /// Source subject filter.
    #[serde(default)]
    pub src: String,
    /// Destination pattern.
    #[serde(default)]
    pub dest: String,
}

/// `republish` of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RePublish {
    /// Source filter (`>` when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src: String,
    /// Destination pattern.
    #[serde(default)]
    pub dest: String,
    /// Republish the headers only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

// ---------------------------------------------------------------------------------------
// Stream state and info

/// `state` of a stream info.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored (nats-server's per-message accounting).
    pub bytes: u64,
    /// First sequence (`0` when never written; `last_seq + 1` after a purge).
    pub first_seq: u64,
    /// Time of the first message (zero time when empty).
    pub first_ts: Timestamp,
    /// Last sequence.
    pub last_seq: u64,
    /// Time of the last message.
    pub last_ts: Timestamp,
    /// Distinct subjects.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    /// Messages per subject, only with `subjects_filter`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subjects: BTreeMap<String, u64>,
    /// Deleted sequences between first and last.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    /// The deleted sequences, only with `deleted_details`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    /// Messages lost to corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    /// Consumers.
    pub consumer_count: u64,
}

/// `lost` of a stream state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LostStreamData {
    /// Lost sequences.
    pub msgs: Vec<u64>,
    /// Lost bytes.
    pub bytes: u64,
}

/// `cluster` of a stream info. A single nats-server sends `{"leader":"<server name>"}` in
/// `STREAM.INFO` (not in create, update or list replies).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Raft group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub raft_group: String,
    /// Leader server name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub leader: String,
    /// Since when it leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_since: Option<Timestamp>,
}

/// A stream's configuration and state: the body of create, update, info and list replies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Configuration, with `_nats.*` metadata (see `stream_config::with_dynamic_metadata`).
    pub config: StreamConfig,
    /// When the stream was created.
    pub created: Timestamp,
    /// Current state.
    pub state: StreamState,
    /// JetStream domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Cluster information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// When this info was gathered.
    pub ts: Timestamp,
}

// ---------------------------------------------------------------------------------------
// Account

/// `limits` of the account info (`-1` unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    /// Memory storage bytes.
    pub max_memory: i64,
    /// File storage bytes.
    pub max_storage: i64,
    /// Streams.
    pub max_streams: i64,
    /// Consumers.
    pub max_consumers: i64,
    /// Unacknowledged messages per consumer.
    pub max_ack_pending: i64,
    /// Largest `max_bytes` of a memory stream.
    pub memory_max_stream_bytes: i64,
    /// Largest `max_bytes` of a file stream.
    pub storage_max_stream_bytes: i64,
    /// Streams must set `max_bytes`.
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    /// Unlimited, as for the global account of a server started with `-js`.
    fn default() -> Self {
        Self {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// `api` of the account info.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiStats {
    /// API level implemented (2.15: 5).
    pub level: u32,
    /// Requests served.
    pub total: u64,
    /// Requests answered with an error.
    pub errors: u64,
    /// Requests in progress (omitted when zero).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub inflight: u64,
}

/// The account's JetStream usage: the body of `$JS.API.INFO`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Memory storage bytes used.
    pub memory: u64,
    /// File storage bytes used.
    pub storage: u64,
    /// Memory reserved by streams' `max_bytes`.
    pub reserved_memory: u64,
    /// File storage reserved by streams' `max_bytes`.
    pub reserved_storage: u64,
    /// Streams.
    pub streams: u64,
    /// Consumers.
    pub consumers: u64,
    /// Limits.
    pub limits: AccountLimits,
    /// JetStream domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// API counters.
    pub api: ApiStats,
}

/// The API level nats-server 2.15 reports (`api.level`, `api_lvl` in INFO, `_nats.level`).
pub const API_LEVEL: u32 = 5;

// ---------------------------------------------------------------------------------------
// Responses. Each is `{"type":..., "error":{...}?, <body>}` like nats-server's embedded
// Go structs; the body fields are flattened so that the order matches.

/// The paging fields of list-like replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiPaged {
    /// Items in total.
    pub total: usize,
    /// Offset of the first item in this reply.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
}

/// Reply to `$JS.API.INFO`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountInfoResponse {
    /// [`response_type::ACCOUNT_INFO`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The account info (absent on error).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<AccountInfo>,
}

/// Reply to `STREAM.CREATE` (`did_create` is true also when an identical stream existed)
/// and, with [`response_type::STREAM_UPDATE`] and `did_create` false, to `STREAM.UPDATE`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamCreateResponse {
    /// [`response_type::STREAM_CREATE`] or [`response_type::STREAM_UPDATE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The stream (absent on error).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StreamInfo>,
    /// Set on create.
    #[serde(skip_serializing_if = "is_false")]
    pub did_create: bool,
}

/// Reply to `STREAM.INFO`: the paging fields come before the info and stay on error
/// (`"total":0,"offset":0,"limit":0`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamInfoResponse {
    /// [`response_type::STREAM_INFO`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paging of `state.subjects` (zeros without `subjects_filter`).
    #[serde(flatten)]
    pub paged: ApiPaged,
    /// The stream (absent on error).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StreamInfo>,
}

/// Reply to `STREAM.DELETE` and `STREAM.MSG.DELETE`: `{"type":..,"success":true}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessResponse {
    /// [`response_type::STREAM_DELETE`] or [`response_type::STREAM_MSG_DELETE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// True on success (omitted on error).
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

/// Reply to `STREAM.PURGE`: `{"type":..,"success":true,"purged":N}`; on error `purged` stays
/// (`"purged":0`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamPurgeResponse {
    /// [`response_type::STREAM_PURGE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// True on success.
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
    /// Messages removed.
    pub purged: u64,
}

/// Reply to `STREAM.NAMES`. nats-server sends `"streams":null` when there are none (and on
/// error, where `limit` is 0), while `STREAM.LIST` sends `[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamNamesResponse {
    /// [`response_type::STREAM_NAMES`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paging.
    #[serde(flatten)]
    pub paged: ApiPaged,
    /// Stream names, sorted; `None` (`null`) when the page is empty.
    pub streams: Option<Vec<String>>,
}

/// Reply to `STREAM.LIST`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamListResponse {
    /// [`response_type::STREAM_LIST`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paging.
    #[serde(flatten)]
    pub paged: ApiPaged,
    /// Stream infos, sorted by name; their metadata carries only `_nats.req.level`.
    /// `Some(vec![])` (`[]`) when empty; `None` (`null`) on error.
    pub streams: Option<Vec<StreamInfo>>,
    /// Streams that could not be listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// A stored message as `STREAM.MSG.GET` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoredMsg {
    /// Subject.
    pub subject: String,
    /// Sequence.
    pub seq: u64,
    /// Header block (`NATS/1.0\r\n...`), base64 in JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub hdrs: Vec<u8>,
    /// Payload, base64 in JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub data: Vec<u8>,
    /// When it was stored.
    pub time: Timestamp,
}

/// Reply to `STREAM.MSG.GET`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MsgGetResponse {
    /// [`response_type::STREAM_MSG_GET`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMsg>,
}

// ---------------------------------------------------------------------------------------
// Publish acknowledgements

/// The acknowledgement of a publish to a stream subject.
///
/// nats-server writes the success case by hand: `{"stream":"S","seq":1}`, a domain as
/// `{"stream":"S","domain":"D","seq":1}`, and a duplicate with a space:
/// `{"stream":"S","seq":2,"duplicate": true}`. Use [`PubAck::to_json`] for those bytes.
/// A failure is `{"error":{...},"stream":"S","seq":0}` ([`PubAck::error_json`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PubAck {
    /// Stream name.
    pub stream: String,
    /// Sequence stored (or of the original, for a duplicate).
    pub seq: u64,
    /// JetStream domain.
    pub domain: String,
    /// The message id was seen within the duplicate window.
    pub duplicate: bool,
}

impl PubAck {
    /// The bytes nats-server sends for a successful publish.
    pub fn to_json(&self) -> String {
        let stream = json_string(&self.stream);
        let mut out = if self.domain.is_empty() {
            format!("{{\"stream\":{stream},\"seq\":{}", self.seq)
        } else {
            format!(
                "{{\"stream\":{stream},\"domain\":{},\"seq\":{}",
                json_string(&self.domain),
                self.seq
            )
        };
        if self.duplicate {
            out.push_str(",\"duplicate\": true");
        }
        out.push('}');
        out
    }

    /// The bytes nats-server sends when a publish to `stream` fails.
    pub fn error_json(stream: &str, error: &ApiError) -> String {
        let error = to_go_json(error);
        format!(
            "{{\"error\":{error},\"stream\":{},\"seq\":0}}",
            json_string(stream)
        )
    }
}

fn json_string(text: &str) -> String {
    to_go_json(text)
}

// ---------------------------------------------------------------------------------------
// Requests. All optional: an empty payload is the default request.

/// `STREAM.INFO` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamInfoRequest {
    /// Offset into the subject details.
    #[serde(default)]
    pub offset: usize,
    /// List deleted sequences in `state.deleted`.
    #[serde(default)]
    pub deleted_details: bool,
    /// Fill `state.subjects` for subjects matching this filter.
    #[serde(default)]
    pub subjects_filter: String,
}

/// `STREAM.NAMES` and `STREAM.LIST` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamListRequest {
    /// Offset into the sorted list.
    #[serde(default)]
    pub offset: usize,
    /// Only streams whose subjects overlap this subject.
    #[serde(default)]
    pub subject: String,
}

/// `STREAM.PURGE` request. `seq` and `keep` exclude each other.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPurgeRequest {
    /// Purge below this sequence.
    #[serde(default)]
    pub seq: u64,
    /// Only messages on subjects matching this filter.
    #[serde(default)]
    pub filter: String,
    /// Keep this many newest messages.
    #[serde(default)]
    pub keep: u64,
}

/// `STREAM.MSG.DELETE` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgDeleteRequest {
    /// Sequence to delete.
    #[serde(default)]
    pub seq: u64,
    /// Remove without overwriting the bytes on disk.
    #[serde(default)]
    pub no_erase: bool,
}

/// `STREAM.MSG.GET` and `DIRECT.GET` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgGetRequest {
    /// Exact sequence (or the first at or after it with `next_by_subj`).
    #[serde(default)]
    pub seq: u64,
    /// The last message on this subject.
    #[serde(default)]
    pub last_by_subj: String,
    /// The first message on this subject at or after `seq`.
    #[serde(default)]
    pub next_by_subj: String,
    /// Batch size (direct get only).
    #[serde(default)]
    pub batch: i64,
    /// Byte cap of a batch (direct get only).
    #[serde(default)]
    pub max_bytes: i64,
    /// Start at this time.
    #[serde(default)]
    pub start_time: Option<Timestamp>,
    /// Last messages of several subjects (direct get only).
    #[serde(default)]
    pub multi_last: Vec<String>,
    /// Upper sequence bound for `multi_last`.
    #[serde(default)]
    pub up_to_seq: u64,
    /// Upper time bound for `multi_last`.
    #[serde(default)]
    pub up_to_time: Option<Timestamp>,
    /// Leave the headers out.
    #[serde(default)]
    pub no_hdr: bool,
}

/// The body of `STREAM.CREATE`/`STREAM.UPDATE`: a config plus the request-only `pedantic`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamConfigRequest {
    /// The configuration.
    pub config: StreamConfig,
    /// Refuse instead of adjusting questionable values.
    pub pedantic: bool,
}

impl RequestBody for StreamConfigRequest {
    const GO_TYPE: &'static str = "StreamConfigRequest";

    fn from_value(mut value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
        // `pedantic` sits beside the config fields in the same JSON object.
        let mut pedantic = false;
        if let Some(object) = value.as_object_mut() {
            let key = object
                .keys()
                .find(|k| k.eq_ignore_ascii_case("pedantic"))
                .cloned();
            if let Some(flag) = key.and_then(|k| object.remove(&k)) {
                pedantic = from_value_like_go::<bool>(flag, strict, Self::GO_TYPE, "pedantic")?;
            }
        }
        let config = from_value_like_go(value, strict, Self::GO_TYPE, "")?;
        Ok(StreamConfigRequest { config, pedantic })
    }
}

/// A JSON API request body, decoded by [`decode_request`].
pub trait RequestBody: Sized + Default {
    /// nats-server's Go type name, which its decode errors mention.
    const GO_TYPE: &'static str;

    /// Decodes an already parsed body.
    fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError>;
}

macro_rules! request_body {
    ($($rust:ty => $go:literal),+ $(,)?) => {
        $(impl RequestBody for $rust {
            const GO_TYPE: &'static str = $go;

            fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
                from_value_like_go(value, strict, Self::GO_TYPE, "")
            }
        })+
    };
}

request_body! {
    StreamInfoRequest => "JSApiStreamInfoRequest",
    StreamListRequest => "JSApiStreamNamesRequest",
    StreamPurgeRequest => "JSApiStreamPurgeRequest",
    MsgDeleteRequest => "JSApiMsgDeleteRequest",
    MsgGetRequest => "JSApiMsgGetRequest",
}

// ---------------------------------------------------------------------------------------
// Decoding requests like nats-server

/// Decodes a JSON API request body the way nats-server 2.15 does, with its error texts
/// (as an `invalid_json` [`ApiError`], code 10025):
///
/// - an empty (or all-whitespace) payload is the default request;
/// - field names match case-insensitively (Go's `encoding/json`);
/// - an unknown field is refused with `json: unknown field "x"` when `strict` (the 2.15
///   default) and ignored otherwise;
/// - a syntax error reads like Go's (`invalid character 'x' looking for beginning of value
///   at offset 1`, `unexpected EOF`), a wrong type like
///   `json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of
///   type int64`.
pub fn decode_request<T: RequestBody>(payload: &[u8], strict: bool) -> Result<T, ApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut stream = serde_json::Deserializer::from_slice(payload).into_iter::<serde_json::Value>();
    let mut value = match stream.next() {
        Some(Ok(value)) => value,
        Some(Err(err)) => return Err(ApiError::invalid_json(go_syntax_error(&err, payload))),
        None => return Ok(T::default()),
    };
    // Go's decoder reads further values into the same struct.
    let first_end = stream.byte_offset();
    let mut several = false;
    for next in stream {
        match next {
            Ok(next) => {
                several = true;
                merge(&mut value, next);
            }
            Err(err) => return Err(ApiError::invalid_json(go_syntax_error(&err, payload))),
        }
    }
    // Without strict mode nats-server retries a failed decode with `json.Unmarshal`, which
    // refuses a second value outright.
    if several && !strict && T::from_value(value.clone(), true).is_err() {
        let next = payload[first_end..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .map_or(' ', |b| *b as char);
        return Err(ApiError::invalid_json(format!(
            "invalid character {next:?} after top-level value"
        )));
    }
    // serde would read a struct from an array; Go refuses anything but an object (or null).
    let kind = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Null => return Ok(T::default()),
        serde_json::Value::Array(_) => Some("array".to_string()),
        serde_json::Value::String(_) => Some("string".to_string()),
        serde_json::Value::Bool(_) => Some("bool".to_string()),
        serde_json::Value::Number(n) => Some(format!("number {n}")),
    };
    if let Some(kind) = kind {
        return Err(ApiError::invalid_json(format!(
            "json: cannot unmarshal {kind} into Go value of type server.{}",
            T::GO_TYPE
        )));
    }
    T::from_value(value, strict)
}

/// Decodes `value` into `T`; unknown fields are found one at a time: a field Go would
/// have matched case-insensitively is renamed, in strict mode an unknown one is refused,
/// otherwise it is dropped and decoding tried again.
/// Removes `null` members of objects, at any depth: Go's decoder leaves a field alone when
/// the JSON says `null` (clients send `"consumer_limits":null`), which is what leaving it
/// out does here.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

pub(crate) fn from_value_like_go<T: DeserializeOwned>(
    mut value: serde_json::Value,
    strict: bool,
    go_type: &str,
    prefix: &str,
) -> Result<T, ApiError> {
    strip_nulls(&mut value);
    for _ in 0..1024 {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(decoded) => return Ok(decoded),
            Err(err) => err,
        };
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let Some((field, expected)) = parse_unknown_field(&message) else {
            let path = match (prefix, path.as_str()) {
                ("", path) => path.to_string(),
                (prefix, ".") => prefix.to_string(),
                (prefix, path) => format!("{prefix}.{path}"),
            };
            return Err(ApiError::invalid_json(go_type_error(
                go_type, &path, &message,
            )));
        };
        let Some(object) = parent_of(&mut value, &path).and_then(|p| p.as_object_mut()) else {
            break;
        };
        if let Some(known) = expected.iter().find(|k| k.eq_ignore_ascii_case(&field)) {
            if let Some(v) = object.remove(&field) {
                object.insert(known.clone(), v);
            }
            continue;
        }
        if strict {
            return Err(ApiError::invalid_json(format!(
                "json: unknown field {field:?}"
            )));
        }
        object.remove(&field);
    }
    Err(ApiError::invalid_json("json: too many unknown fields"))
}

/// Later JSON values decoded into the same Go struct overwrite fields of the first.
fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            for (k, v) in from {
                into.insert(k, v);
            }
        }
        (into, from) => *into = from,
    }
}

/// `unknown field `x`, expected one of `a`, `b`` → ("x", ["a", "b"]).
fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field.to_string(), expected))
}

/// The object that holds the field at `path` ("a.b.c" → the value at "a.b"; "." → root).
fn parent_of<'v>(
    value: &'v mut serde_json::Value,
    path: &str,
) -> Option<&'v mut serde_json::Value> {
    let mut segments: Vec<&str> = if path == "." {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    // serde_path_to_error's path ends at the unknown field itself.
    segments.pop();
    let mut current = value;
    for segment in segments {
        current = match current {
            serde_json::Value::Object(map) => map.get_mut(segment)?,
            serde_json::Value::Array(items) => {
                let index: usize = segment
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse()
                    .ok()?;
                items.get_mut(index)?
            }
            _ => return None,
        };
    }
    Some(current)
}

fn go_syntax_error(err: &serde_json::Error, payload: &[u8]) -> String {
    if err.is_eof() {
        return "unexpected EOF".to_string();
    }
    // Go reports the offending character and its 1-based byte offset.
    let offset = byte_offset(payload, err.line(), err.column());
    let ch = payload
        .get(offset.saturating_sub(1))
        .map(|b| *b as char)
        .unwrap_or(' ');
    format!("invalid character {ch:?} looking for beginning of value at offset {offset}")
}

fn byte_offset(payload: &[u8], line: usize, column: usize) -> usize {
    let mut current_line = 1;
    for (i, byte) in payload.iter().enumerate() {
        if current_line == line {
            return i + column;
        }
        if *byte == b'\n' {
            current_line += 1;
        }
    }
    payload.len()
}

fn go_type_error(go_struct: &str, path: &str, message: &str) -> String {
    // serde: "invalid type: string \"x\", expected i64" / "invalid value: integer `9`, expected i32"
    // Go names the JSON kind, with the value for numbers ("number 1.5").
    let what = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let Some(what) = what else {
        // Our own enum errors already carry nats-server's text.
        return message.to_string();
    };
    let number = what.split('`').nth(1);
    let go_kind = match what.split([' ', ',']).next().unwrap_or_default() {
        "integer" | "floating" => format!("number {}", number.unwrap_or_default()),
        "sequence" => "array".to_string(),
        "map" => "object".to_string(),
        "boolean" => "bool".to_string(),
        "null" => "null".to_string(),
        other => other.to_string(),
    };
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let last = path.rsplit('.').next().unwrap_or_default();
    let is_duration = matches!(
        last,
        "max_age" | "duplicate_window" | "subject_delete_marker_ttl" | "inactive_threshold"
    );
    let go_type = match expected {
        "i64" if is_duration => "time.Duration",
        "i64" => "int64",
        "i32" => "int32",
        "u64" => "uint64",
        "usize" => "int",
        "a boolean" => "bool",
        "a string" => "string",
        "a sequence" => "[]string",
        _ => expected,
    };
    if path == "." {
        format!("json: cannot unmarshal {go_kind} into Go value of type server.{go_struct}")
    } else {
        format!(
            "json: cannot unmarshal {go_kind} into Go struct field {go_struct}.{path} of type {go_type}"
        )
    }
}

/// Serialises `value` as Go's `encoding/json` does, which nats-server uses for every reply:
/// compact, and `<`, `>`, `&`, U+2028 and U+2029 escaped (`"d.\u003e"` for `d.>`).
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    if let Err(err) = value.serialize(&mut serializer) {
        // Only a failing custom Serialize can get here; none of ours fails.
        tracing::warn!(%err, "JetStream reply could not be serialised");
        return String::new();
    }
    // The formatter writes only UTF-8 (serde_json output plus ASCII escapes).
    String::from_utf8(out).unwrap_or_default()
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            let escape = match ch {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_trim_trailing_zeros_like_go() {
        let t = Timestamp::from_unix_nanos(1_796_461_707_684_036_130);
        assert_eq!(t.to_string(), "2026-12-05T09:08:27.68403613Z");
        let whole = Timestamp::from_unix_nanos(1_796_461_707_000_000_000);
        assert_eq!(whole.to_string(), "2026-12-05T09:08:27Z");
        assert_eq!(Timestamp::ZERO.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn timestamps_round_trip_through_json() {
        for t in [
            Timestamp::ZERO,
            Timestamp::from_unix_nanos(1_796_461_707_684_036_130),
            Timestamp::from_unix_nanos(1_796_461_707_000_000_001),
        ] {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                t,
                "{json}"
            );
        }
    }

    /// The `config` nats-server 2.15.1 returned for `{"name":"S1"}` (metadata aside).
    const DEFAULT_CONFIG: &str = r#"{"name":"S1","subjects":["S1"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false}"#;

    #[test]
    fn stream_config_serialises_byte_for_byte_like_nats_server() {
        let config: StreamConfig = serde_json::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), DEFAULT_CONFIG);
    }

    #[test]
    fn stream_info_reply_matches_nats_server_layout() {
        let info = StreamInfo {
            config: serde_json::from_str(DEFAULT_CONFIG).unwrap(),
            created: Timestamp::from_unix_nanos(1_796_461_650_971_180_307),
            state: StreamState::default(),
            ts: Timestamp::from_unix_nanos(1_796_461_650_972_001_942),
            ..StreamInfo::default()
        };
        let reply = StreamCreateResponse {
            kind: response_type::STREAM_CREATE,
            error: None,
            info: Some(info),
            did_create: true,
        };
        let expected = format!(
            "{{\"type\":\"io.nats.jetstream.api.v1.stream_create_response\",\"config\":{DEFAULT_CONFIG},\"created\":\"2026-12-05T09:07:30.971180307Z\",\"state\":{{\"messages\":0,\"bytes\":0,\"first_seq\":0,\"first_ts\":\"0001-01-01T00:00:00Z\",\"last_seq\":0,\"last_ts\":\"0001-01-01T00:00:00Z\",\"consumer_count\":0}},\"ts\":\"2026-12-05T09:07:30.972001942Z\",\"did_create\":true}}"
        );
        assert_eq!(serde_json::to_string(&reply).unwrap(), expected);
    }

    #[test]
    fn stream_info_error_keeps_the_paging_zeros() {
        let reply = StreamInfoResponse {
            kind: response_type::STREAM_INFO,
            error: Some(ApiError::stream_not_found()),
            paged: ApiPaged::default(),
            info: None,
        };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
        );
    }

    #[test]
    fn account_info_matches_nats_server() {
        let reply = AccountInfoResponse {
            kind: response_type::ACCOUNT_INFO,
            error: None,
            info: Some(AccountInfo {
                api: ApiStats {
                    level: API_LEVEL,
                    ..ApiStats::default()
                },
                ..AccountInfo::default()
            }),
        };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"streams":0,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"level":5,"total":0,"errors":0}}"#
        );
    }

    #[test]
    fn pub_acks_are_written_like_nats_server() {
        let ack = PubAck {
            stream: "S1".into(),
            seq: 2,
            ..PubAck::default()
        };
        assert_eq!(ack.to_json(), r#"{"stream":"S1","seq":2}"#);
        let dup = PubAck {
            duplicate: true,
            ..ack
        };
        assert_eq!(
            dup.to_json(),
            r#"{"stream":"S1","seq":2,"duplicate": true}"#
        );
        assert_eq!(
            PubAck::error_json("S1", &ApiError::stream_wrong_last_sequence(2)),
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"S1","seq":0}"#
        );
    }

    #[test]
    fn stored_messages_are_base64() {
        let msg = StoredMsg {
            subject: "S1".into(),
            seq: 1,
            hdrs: Vec::new(),
            data: b"hello".to_vec(),
            time: Timestamp::from_unix_nanos(1_796_461_651_328_274_325),
        };
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"subject":"S1","seq":1,"data":"aGVsbG8=","time":"2026-12-05T09:07:31.328274325Z"}"#
        );
    }

    fn decode_config(body: &str, strict: bool) -> Result<StreamConfigRequest, ApiError> {
        decode_request(body.as_bytes(), strict)
    }

    #[test]
    fn strict_mode_refuses_unknown_fields_with_go_text() {
        let err = decode_config(r#"{"name":"S1","bogus":1}"#, true).unwrap_err();
        assert_eq!(
            err,
            ApiError::new(400, 10025, "invalid JSON: json: unknown field \"bogus\"")
        );
        let nested = decode_config(r#"{"name":"E","placement":{"foo":1}}"#, true).unwrap_err();
        assert_eq!(
            nested.description,
            "invalid JSON: json: unknown field \"foo\""
        );
    }

    #[test]
    fn lenient_mode_ignores_unknown_fields() {
        let req = decode_config(r#"{"name":"S1","bogus":1,"placement":{"foo":1}}"#, false).unwrap();
        assert_eq!(req.config.name, "S1");
    }

    #[test]
    fn field_names_match_case_insensitively_like_go() {
        let req = decode_config(r#"{"NAME":"E","Max_Msgs":5}"#, true).unwrap();
        assert_eq!((req.config.name.as_str(), req.config.max_msgs), ("E", 5));
    }

    #[test]
    fn pedantic_is_taken_out_of_the_config() {
        let req = decode_config(r#"{"name":"E","pedantic":true}"#, true).unwrap();
        assert!(req.pedantic);
        assert_eq!(req.config.name, "E");
    }

    #[test]
    fn empty_payload_is_the_default_request() {
        let req: StreamPurgeRequest = decode_request(b"", true).unwrap();
        assert_eq!(req, StreamPurgeRequest::default());
        let req: StreamPurgeRequest = decode_request(b"  \r\n", true).unwrap();
        assert_eq!(req, StreamPurgeRequest::default());
    }

    #[test]
    fn enum_words_give_nats_server_errors() {
        let err = decode_config(r#"{"name":"E","retention":"foo"}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            r#"invalid JSON: can not unmarshal "\"foo\"""#
        );
        let err = decode_config(r#"{"name":"E","compression":"zz"}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: unknown compression algorithm"
        );
        let req = decode_config(r#"{"name":"E","discard":"NEW"}"#, true).unwrap();
        assert_eq!(req.config.discard, DiscardPolicy::New);
    }

    #[test]
    fn syntax_errors_read_like_go() {
        let err = decode_config("xx", true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: invalid character 'x' looking for beginning of value at offset 1"
        );
        let err = decode_config(r#"{"name":"E","#, true).unwrap_err();
        assert_eq!(err.description, "invalid JSON: unexpected EOF");
    }

    #[test]
    fn type_errors_name_the_field_and_go_type() {
        let err = decode_config(r#"{"name":"E","max_msgs":"x"}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64"
        );
        let err = decode_config(r#"{"name":"E","max_msg_size":9999999999}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: json: cannot unmarshal number 9999999999 into Go struct field StreamConfigRequest.max_msg_size of type int32"
        );
    }

    #[test]
    fn durations_and_whole_body_type_errors_read_like_go() {
        let err = decode_config(r#"{"name":"E","max_age":1.5}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: json: cannot unmarshal number 1.5 into Go struct field StreamConfigRequest.max_age of type time.Duration"
        );
        let err = decode_config("[]", true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: json: cannot unmarshal array into Go value of type server.StreamConfigRequest"
        );
        let err = decode_config(r#"{"name":"E","subjects":"a"}"#, true).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigRequest.subjects of type []string"
        );
    }

    #[test]
    fn later_json_values_are_decoded_into_the_same_request() {
        let err = decode_config(r#"{"name":"E"}{"x":1}"#, true).unwrap_err();
        assert_eq!(err.description, "invalid JSON: json: unknown field \"x\"");
    }

    #[test]
    fn go_json_escapes_html_characters_like_nats_server() {
        let config = StreamConfig {
            name: "D".into(),
            subjects: vec!["d.>".into(), "a&b<c".into()],
            ..StreamConfig::default()
        };
        let json = to_go_json(&config);
        assert!(
            json.contains(r#""subjects":["d.\u003e","a\u0026b\u003cc"]"#),
            "{json}"
        );
        let back: StreamConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn lenient_mode_refuses_a_second_value_that_does_not_fit() {
        let err = decode_config(r#"{"name":"F"}{"x":1}"#, false).unwrap_err();
        assert_eq!(
            err.description,
            "invalid JSON: invalid character '{' after top-level value"
        );
        let req = decode_config(r#"{"name":"F"} {"max_msgs":1}"#, false).unwrap();
        assert_eq!((req.config.name.as_str(), req.config.max_msgs), ("F", 1));
    }
}
