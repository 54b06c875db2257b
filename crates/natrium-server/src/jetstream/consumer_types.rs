//! JetStream consumer API types, with nats-server 2.15's JSON shapes.
//!
//! Same conventions as `types`: field names, order and omit-when-empty rules are
//! nats-server's, durations are integer nanoseconds (Go's `time.Duration`), and requests
//! are decoded with `types::decode_request`, whose errors read like Go's. Go's integer
//! fields of type `int` are `i64` here; [`go_field_types`] corrects the Go type names that
//! decode errors mention (`of type int`, `of type time.Duration`).
//!
//! The pull request body of `CONSUMER.MSG.NEXT` is not an API request: it is decoded by
//! [`decode_next`] with nats-server's lenient rules, and its errors go back as a
//! `400 Bad Request - ...` status message, not as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::errors::ApiError;
use super::types::{
    ApiPaged, ClusterInfo, RequestBody, Timestamp, decode_request, from_value_like_go,
};
use crate::go_time::go_duration;

/// The `type` strings of consumer API replies.
pub mod response_type {
    /// `CONSUMER.CREATE.*` and `CONSUMER.DURABLE.CREATE.*`.
    pub const CONSUMER_CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
    /// `CONSUMER.INFO.<stream>.<consumer>`.
    pub const CONSUMER_INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
    /// `CONSUMER.DELETE.<stream>.<consumer>`.
    pub const CONSUMER_DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
    /// `CONSUMER.NAMES.<stream>`.
    pub const CONSUMER_NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
    /// `CONSUMER.LIST.<stream>`.
    pub const CONSUMER_LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
    /// `CONSUMER.PAUSE.<stream>.<consumer>`.
    pub const CONSUMER_PAUSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
    /// `CONSUMER.UNPIN.<stream>.<consumer>`.
    pub const CONSUMER_UNPIN: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";
}

// ---------------------------------------------------------------------------------------
// Policies

/// Go's error for an unknown policy word: `can not unmarshal "\"x\""` (the raw JSON,
/// quoted), also for a non-string (`can not unmarshal "1"`).
fn unknown_policy<E: serde::de::Error>(raw: &serde_json::Value) -> E {
    E::custom(format!("can not unmarshal {:?}", raw.to_string()))
}

/// nats-server matches the raw JSON bytes, so only the exact lower-case words pass.
macro_rules! policy_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal $(| $alias:literal)?),+ $(,)? }
     unknown = $unknown:path) => {
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
                let raw = serde_json::Value::deserialize(deserializer)?;
                match raw.as_str() {
                    $(Some($word $(| $alias)?) => Ok($name::$variant),)+
                    _ => Err($unknown(&raw)),
                }
            }
        }
    };
}

policy_enum! {
    /// Where a new consumer starts (`deliver_policy`). `"undefined"` is read as `all`.
    DeliverPolicy {
        /// `"all"`: from the first message (the default).
        #[default]
        All = "all" | "undefined",
        /// `"last"`: from the last message.
        Last = "last",
        /// `"new"`: only messages stored after the consumer was created.
        New = "new",
        /// `"by_start_sequence"`: from `opt_start_seq`.
        ByStartSequence = "by_start_sequence",
        /// `"by_start_time"`: from the first message at or after `opt_start_time`.
        ByStartTime = "by_start_time",
        /// `"last_per_subject"`: the last message of each subject, then new ones.
        LastPerSubject = "last_per_subject",
    } unknown = unknown_policy
}

policy_enum! {
    /// How deliveries are acknowledged (`ack_policy`).
    AckPolicy {
        /// `"none"`: delivered is done (the default).
        #[default]
        None = "none",
        /// `"all"`: acknowledging a message acknowledges every earlier one.
        All = "all",
        /// `"explicit"`: each message on its own.
        Explicit = "explicit",
        /// `"flow_control"` (2.15): acknowledged by answering flow control (push only,
        /// used by stream sourcing).
        FlowControl = "flow_control",
    } unknown = unknown_policy
}

policy_enum! {
    /// How fast stored messages are replayed (`replay_policy`).
    ReplayPolicy {
        /// `"instant"`: as fast as possible (the default).
        #[default]
        Instant = "instant",
        /// `"original"`: with the gaps they were stored with.
        Original = "original",
    } unknown = unknown_policy
}

fn unknown_priority_policy<E: serde::de::Error>(raw: &serde_json::Value) -> E {
    E::custom(format!("unknown priority policy: {raw}"))
}

policy_enum! {
    /// How pull requests of priority groups are served (`priority_policy`, omitted when
    /// `none`).
    PriorityPolicy {
        /// `"none"` (the default).
        #[default]
        None = "none",
        /// `"overflow"`: requests with `min_pending`/`min_ack_pending` get messages only
        /// past those thresholds.
        Overflow = "overflow",
        /// `"pinned_client"`: one client at a time, identified by `Nats-Pin-Id`.
        PinnedClient = "pinned_client",
        /// `"prioritized"`: requests with the lowest `priority` first.
        Prioritized = "prioritized",
    } unknown = unknown_priority_policy
}

impl PriorityPolicy {
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

fn unknown_action<E: serde::de::Error>(raw: &serde_json::Value) -> E {
    E::custom(format!("unknown consumer action: {raw}"))
}

policy_enum! {
    /// What a create request may do (`action`).
    ConsumerAction {
        /// `""`: create, or update an existing consumer (the default).
        #[default]
        CreateOrUpdate = "",
        /// `"create"`: only create; an existing consumer with another config is an error.
        Create = "create",
        /// `"update"`: only update; a missing consumer is an error.
        Update = "update",
    } unknown = unknown_action
}

// ---------------------------------------------------------------------------------------
// Consumer configuration

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// A consumer's configuration: `config` of a create request and of every consumer info.
///
/// Limits follow nats-server's conventions: `max_deliver` and `max_ack_pending` are `-1`
/// for unlimited once defaults are filled in; durations are nanoseconds. Go `int` fields
/// are `i64`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Durable name (legacy; equal to `name` when both are set).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub durable_name: String,
    /// Consumer name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Free text, at most 4 KiB.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the consumer starts.
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    /// Start sequence for `by_start_sequence`.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// Start time for `by_start_time` (written back in the client's UTC offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    /// Acknowledgement policy.
    #[serde(default)]
    pub ack_policy: AckPolicy,
    /// How long a delivery may stay unacknowledged, ns (default 30 s when acks are used).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    /// Deliveries of one message at most, `-1` unlimited.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    /// Redelivery delays, ns; the first replaces `ack_wait`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    /// One subject filter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Several subject filters (excludes `filter_subject`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    /// Replay policy.
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    /// Push delivery rate limit, bits per second.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    /// Ack metric sampling, `"50"` or `"50%"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    /// Pull requests waiting at most (default 512 for pull consumers).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    /// Unacknowledged messages at most, `-1` unlimited (default 1000 when acks are used).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    /// Push flow control.
    #[serde(default, skip_serializing_if = "is_false")]
    pub flow_control: bool,
    /// Deliver headers only, with `Nats-Msg-Size`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
    /// Pull: largest `batch` of one request.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    /// Pull: longest `expires` of one request, ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_expires: i64,
    /// Pull: largest `max_bytes` of one request.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Push: where messages are delivered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    /// Push: the queue group of the deliver subject.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    /// Push: idle heartbeat interval, ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    /// Removed after this long without interest, ns (5 s default for ephemerals).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    /// Replicas; nats-server reports `0` (inherit the stream's) unless set. Always written.
    #[serde(default)]
    pub num_replicas: i64,
    /// Keep the consumer state in memory even for a file stream.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    /// Internal consumer (mirrors, sources), not listed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct: bool,
    /// A stream-sourcing consumer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sourcing: bool,
    /// User metadata; nats-server adds `_nats.*` keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Paused until this time (with the client's offset when set on create; nats-server
    /// stores UTC when it comes from `CONSUMER.PAUSE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// Priority group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    /// Priority policy.
    #[serde(default, skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    /// Pinned client TTL, ns (`priority_timeout`; default 2 min for `pinned_client`).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub priority_timeout: i64,
}

fn nanos(value: i64) -> Duration {
    Duration::from_nanos(u64::try_from(value).unwrap_or(0))
}

fn positive_nanos(value: i64) -> Option<Duration> {
    (value > 0).then(|| nanos(value))
}

impl ConsumerConfig {
    /// The consumer's name: `durable_name`, else `name` (empty for a legacy ephemeral
    /// before the server names it).
    pub fn name(&self) -> &str {
        if self.durable_name.is_empty() {
            &self.name
        } else {
            &self.durable_name
        }
    }

    /// True for a durable consumer (`durable_name` set).
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// True for a pull consumer (no deliver subject).
    pub fn is_pull(&self) -> bool {
        self.deliver_subject.is_empty()
    }

    /// The subject filters: `filter_subjects`, plus `filter_subject` when set; empty for
    /// all subjects.
    pub fn filters(&self) -> Vec<String> {
        let mut filters = self.filter_subjects.clone();
        if !self.filter_subject.is_empty() {
            filters.push(self.filter_subject.clone());
        }
        filters
    }

    /// `ack_wait` (the first backoff when one is set, after defaults).
    pub fn ack_wait(&self) -> Duration {
        nanos(self.ack_wait)
    }

    /// The redelivery delays.
    pub fn backoff(&self) -> Vec<Duration> {
        self.backoff.iter().map(|d| nanos(*d)).collect()
    }

    /// Deliveries of one message at most; `None` when unlimited.
    pub fn max_deliver(&self) -> Option<u64> {
        u64::try_from(self.max_deliver).ok().filter(|n| *n > 0)
    }

    /// Unacknowledged messages at most; `None` when unlimited.
    pub fn max_ack_pending(&self) -> Option<u64> {
        u64::try_from(self.max_ack_pending).ok().filter(|n| *n > 0)
    }

    /// Pull requests waiting at most (0 for push consumers).
    pub fn max_waiting(&self) -> usize {
        usize::try_from(self.max_waiting).unwrap_or(0)
    }

    /// Pull: the longest `expires` of one request; `None` when unlimited.
    pub fn max_expires(&self) -> Option<Duration> {
        positive_nanos(self.max_expires)
    }

    /// Push: the idle heartbeat; `None` when off.
    pub fn idle_heartbeat(&self) -> Option<Duration> {
        positive_nanos(self.idle_heartbeat)
    }

    /// Inactivity before removal; `None` when never.
    pub fn inactive_threshold(&self) -> Option<Duration> {
        positive_nanos(self.inactive_threshold)
    }

    /// Pinned client TTL; `None` when not set.
    pub fn priority_timeout(&self) -> Option<Duration> {
        positive_nanos(self.priority_timeout)
    }

    /// The sampling percentage of ack metrics (0 when off); the format was checked.
    pub fn sample_percent(&self) -> u32 {
        self.sample_freq
            .trim_end_matches('%')
            .parse()
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Consumer info

/// A consumer's and the stream's sequence of its last delivery or ack floor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// When it last changed (omitted before the first delivery or ack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

/// The state of one priority group in a consumer info.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriorityGroupState {
    /// Group name.
    pub group: String,
    /// Pinned client id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    /// When the client was pinned (Go's `omitempty` does not omit a struct: the zero time
    /// is written).
    #[serde(default)]
    pub pinned_ts: Timestamp,
}

/// A consumer's configuration and state: the body of create and info replies, and the
/// items of `CONSUMER.LIST`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// The stream.
    pub stream_name: String,
    /// The consumer.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
    /// Its configuration (with `_nats.*` metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConsumerConfig>,
    /// Last delivery.
    pub delivered: SequenceInfo,
    /// Ack floor.
    pub ack_floor: SequenceInfo,
    /// Delivered, not yet acknowledged.
    pub num_ack_pending: u64,
    /// Redelivered, not yet acknowledged.
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
    /// Messages matching the filters not yet delivered.
    pub num_pending: u64,
    /// Cluster information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Push: someone listens on the deliver subject.
    #[serde(default, skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// Paused now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Time left paused, ns.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// When this info was gathered.
    pub ts: Timestamp,
    /// Priority group states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

// ---------------------------------------------------------------------------------------
// Requests

/// The body of `CONSUMER.CREATE.*` and `CONSUMER.DURABLE.CREATE.*`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConsumerRequest {
    /// Must name the stream of the subject.
    #[serde(default)]
    pub stream_name: String,
    /// The configuration.
    #[serde(default)]
    pub config: ConsumerConfig,
    /// Create, update, or either.
    #[serde(default)]
    pub action: ConsumerAction,
    /// Refuse instead of adjusting questionable values.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pedantic: bool,
}

/// `CONSUMER.NAMES` and `CONSUMER.LIST` request (nats-server has no subject filter here).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerListRequest {
    /// Offset into the sorted list (negative is read as 0).
    #[serde(default)]
    pub offset: i64,
}

impl ConsumerListRequest {
    /// The offset, clamped to `0..=total` as nats-server does.
    pub fn offset(&self, total: usize) -> usize {
        usize::try_from(self.offset).unwrap_or(0).min(total)
    }
}

/// `CONSUMER.PAUSE` request; an empty body or a past/zero time unpauses. nats-server
/// answers and stores the time in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerPauseRequest {
    /// Paused until this time.
    #[serde(default)]
    pub pause_until: Option<Timestamp>,
}

/// `CONSUMER.UNPIN` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerUnpinRequest {
    /// The priority group to unpin.
    #[serde(default)]
    pub group: String,
}

/// The Go type names of consumer request fields, by JSON name, for decode errors: Go
/// writes `of type int` where our `i64` would say `int64`, and `time.Duration` for
/// durations.
pub fn go_field_types(field: &str) -> Option<&'static str> {
    Some(match field {
        "ack_wait" | "max_expires" | "idle_heartbeat" | "inactive_threshold"
        | "priority_timeout" | "expires" | "pause_remaining" => "time.Duration",
        "backoff" => "[]time.Duration",
        "max_deliver" | "max_waiting" | "max_ack_pending" | "max_batch" | "max_bytes"
        | "num_replicas" | "batch" | "priority" | "offset" => "int",
        "min_pending" | "min_ack_pending" => "int64",
        "metadata" => "map[string]string",
        "config" => "server.ConsumerConfig",
        _ => return None,
    })
}

/// Rewrites a Go-style decode error so the type name is the Go field's
/// (`... of type int64` → `... of type int` for `max_deliver`). Elements of `backoff`
/// are named like Go names them: `CreateConsumerRequest.config.backoff.1` without
/// "Go struct field". Go shows a number's value only when the target is a number.
fn with_go_field_types(mut err: ApiError) -> ApiError {
    const PREFIX: &str = "Go struct field ";
    let text = &err.description;
    let (Some(start), Some(end)) = (text.find(PREFIX), text.rfind(" of type ")) else {
        return err;
    };
    let path = &text[start + PREFIX.len()..end];
    let (head, go_type) =
        if let Some((field, index)) = path.strip_suffix(']').and_then(|p| p.split_once('[')) {
            // serde_path_to_error writes an element as `backoff[1]`; Go as `backoff.1`.
            let go_type = if field.ends_with("backoff") {
                "time.Duration"
            } else {
                "string"
            };
            (format!("{}{field}.{index}", &text[..start]), go_type)
        } else if path.contains(".metadata.") {
            // A map value: Go names the key as the last path element.
            (text[..end].to_string(), "string")
        } else {
            let last = path.rsplit('.').next().unwrap_or_default();
            let current = &text[end + " of type ".len()..];
            let go_type = go_field_types(last).unwrap_or(current);
            (text[..end].to_string(), go_type)
        };
    let numeric =
        go_type.starts_with("int") || go_type.starts_with("uint") || go_type == "time.Duration";
    let head = match (numeric, head.find("unmarshal number ")) {
        (false, Some(at)) => {
            let value_start = at + "unmarshal number ".len();
            let value_end = head[value_start..]
                .find(' ')
                .map_or(head.len(), |i| value_start + i);
            format!(
                "{}number{}",
                &head[..at + "unmarshal ".len()],
                &head[value_end..]
            )
        }
        _ => head,
    };
    err.description = format!("{head} of type {go_type}");
    err
}

impl RequestBody for CreateConsumerRequest {
    const GO_TYPE: &'static str = "CreateConsumerRequest";

    fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
        from_value_like_go(value, strict, Self::GO_TYPE, "").map_err(with_go_field_types)
    }
}

impl RequestBody for ConsumerListRequest {
    const GO_TYPE: &'static str = "JSApiConsumersRequest";

    fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
        from_value_like_go(value, strict, Self::GO_TYPE, "").map_err(with_go_field_types)
    }
}

impl RequestBody for ConsumerPauseRequest {
    const GO_TYPE: &'static str = "JSApiConsumerPauseRequest";

    fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
        from_value_like_go(value, strict, Self::GO_TYPE, "")
    }
}

impl RequestBody for ConsumerUnpinRequest {
    const GO_TYPE: &'static str = "JSApiConsumerUnpinRequest";

    fn from_value(value: serde_json::Value, strict: bool) -> Result<Self, ApiError> {
        from_value_like_go(value, strict, Self::GO_TYPE, "")
    }
}

/// Decodes a create request body (see `types::decode_request`).
pub fn decode_create(payload: &[u8], strict: bool) -> Result<CreateConsumerRequest, ApiError> {
    decode_request(payload, strict)
}

// ---------------------------------------------------------------------------------------
// Pull requests

/// A pull request (`CONSUMER.MSG.NEXT.<stream>.<consumer>`), as [`decode_next`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextRequest {
    /// Expires after this long, ns (0: never; the request then waits until served).
    #[serde(default)]
    pub expires: i64,
    /// Messages wanted. Not checked: a JSON `0` or negative batch, or a plain `0`, is
    /// kept as sent (nats-server then answers `no_wait` requests with 404 and leaves other
    /// requests without a reply).
    #[serde(default)]
    pub batch: i64,
    /// Byte budget of the whole batch (0: none).
    #[serde(default)]
    pub max_bytes: i64,
    /// Answer at once: messages available now, else 404 (or 408 with a pending count).
    #[serde(default)]
    pub no_wait: bool,
    /// Heartbeat interval while waiting, ns; at most half of `expires`.
    #[serde(default)]
    pub idle_heartbeat: i64,
    /// Priority group.
    #[serde(default)]
    pub group: String,
    /// Overflow: served only while the consumer has at least this many pending.
    #[serde(default)]
    pub min_pending: i64,
    /// Overflow: served only while at least this many acks are pending.
    #[serde(default)]
    pub min_ack_pending: i64,
    /// Pinned client id (`Nats-Pin-Id`).
    #[serde(default)]
    pub id: String,
    /// Prioritized: 0 (first) to 9.
    #[serde(default)]
    pub priority: i64,
    /// The payload was JSON: only then does nats-server look at the priority fields.
    #[serde(skip)]
    pub from_json: bool,
}

impl Default for NextRequest {
    /// One message, waiting until served: what an empty payload asks for.
    fn default() -> Self {
        Self {
            expires: 0,
            batch: 1,
            max_bytes: 0,
            no_wait: false,
            idle_heartbeat: 0,
            group: String::new(),
            min_pending: 0,
            min_ack_pending: 0,
            id: String::new(),
            priority: 0,
            from_json: false,
        }
    }
}

impl NextRequest {
    /// `expires` as a duration; `None` when the request does not expire.
    pub fn expires(&self) -> Option<Duration> {
        positive_nanos(self.expires)
    }

    /// `idle_heartbeat` as a duration; `None` when off.
    pub fn idle_heartbeat(&self) -> Option<Duration> {
        positive_nanos(self.idle_heartbeat)
    }
}

/// A pull request the consumer refuses: nats-server answers `NATS/1.0 <status> <description>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {description}")]
pub struct NextRefusal {
    /// 400 or 409.
    pub status: u16,
    /// `Exceeded MaxRequestBatch of 2`, `Bad Request - Priority Group missing`, ...
    pub description: String,
}

impl NextRefusal {
    fn new(status: u16, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
        }
    }

    /// The status header block nats-server replies with.
    pub fn status_line(&self) -> String {
        format!("NATS/1.0 {self}\r\n\r\n")
    }
}

impl NextRequest {
    /// nats-server's checks of a decoded pull request against the consumer's config, in
    /// its order: the request limits (409), then the priority fields of a JSON request
    /// (400). A pinned client's id (423) depends on the runtime's current pin and is not
    /// checked here.
    pub fn check(&self, config: &ConsumerConfig) -> Result<(), NextRefusal> {
        if config.max_batch > 0 && self.batch > config.max_batch {
            let text = format!("Exceeded MaxRequestBatch of {}", config.max_batch);
            return Err(NextRefusal::new(409, text));
        }
        if let (Some(expires), Some(max)) = (self.expires(), config.max_expires())
            && expires > max
        {
            let text = format!("Exceeded MaxRequestExpires of {}", go_duration(max));
            return Err(NextRefusal::new(409, text));
        }
        if self.max_bytes > 0 && config.max_bytes > 0 && self.max_bytes > config.max_bytes {
            let text = format!("Exceeded MaxRequestMaxBytes of {}", config.max_bytes);
            return Err(NextRefusal::new(409, text));
        }
        if !self.from_json {
            return Ok(());
        }
        let bad = |text: &str| Err(NextRefusal::new(400, format!("Bad Request - {text}")));
        let policy = config.priority_policy;
        if (self.min_pending != 0 || self.min_ack_pending != 0)
            && policy != PriorityPolicy::Overflow
        {
            return bad("Not a Overflow Priority consumer");
        }
        if !self.id.is_empty() && policy != PriorityPolicy::PinnedClient {
            return bad("Not a Pinned Client Priority consumer");
        }
        if !(0..=9).contains(&self.priority) {
            return bad("Priority must be between 0 and 9");
        }
        if policy != PriorityPolicy::None {
            if self.group.is_empty() {
                return bad("Priority Group missing");
            }
            if !config.priority_groups.contains(&self.group) {
                return bad("Invalid Priority Group");
            }
        }
        Ok(())
    }
}

/// Why a pull request was refused: nats-server answers
/// `NATS/1.0 400 Bad Request - <text>` (see [`NextError::status_line`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bad Request - {0}")]
pub struct NextError(pub String);

impl NextError {
    /// The status header block nats-server replies with.
    pub fn status_line(&self) -> String {
        format!("NATS/1.0 400 {self}\r\n\r\n")
    }
}

/// Decodes a pull request payload as nats-server does:
///
/// - empty (or white space): one message, waiting;
/// - starting with `{`: JSON, unknown fields ignored, names matched case-insensitively;
///   errors read like Go's `json.Unmarshal` (`json: cannot unmarshal string into Go
///   struct field .batch of type int`, `unexpected end of JSON input`), and an
///   `idle_heartbeat` over half of `expires` is `heartbeat value too large`;
/// - a decimal integer: that batch (even 0 or negative);
/// - anything else (`abc`, `[1]`): one message, waiting — no error.
pub fn decode_next(payload: &[u8]) -> Result<NextRequest, NextError> {
    let trimmed = payload.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        let batch = std::str::from_utf8(trimmed).ok().and_then(parse_go_atoi);
        return Ok(NextRequest {
            batch: batch.unwrap_or(1),
            ..NextRequest::default()
        });
    }
    let value: serde_json::Value = serde_json::from_slice(trimmed)
        .map_err(|err| NextError(go_unmarshal_syntax_error(&err, trimmed)))?;
    let mut request: NextRequest = from_value_like_go(value, false, "", "")
        .map_err(with_go_field_types)
        .map_err(|err| {
            let text = err.description;
            NextError(
                text.strip_prefix("invalid JSON: ")
                    .unwrap_or(&text)
                    .to_string(),
            )
        })?;
    request.from_json = true;
    if request.idle_heartbeat > 0 && request.idle_heartbeat.saturating_mul(2) > request.expires {
        return Err(NextError("heartbeat value too large".into()));
    }
    Ok(request)
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, nothing else.
fn parse_go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Go's `json.Unmarshal` syntax error text for what serde refused.
fn go_unmarshal_syntax_error(err: &serde_json::Error, payload: &[u8]) -> String {
    if err.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let message = err.to_string();
    // serde reports the 1-based column of the offending byte.
    let at = payload
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .nth(err.line().saturating_sub(2))
        .filter(|_| err.line() > 1)
        .unwrap_or(0)
        + err.column().saturating_sub(1);
    let ch = payload.get(at).map_or(' ', |b| *b as char);
    let context = if message.starts_with("trailing characters") {
        "after top-level value"
    } else if message.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if message.starts_with("expected `:`") {
        "after object key"
    } else if message.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if message.starts_with("expected `,` or `]`") {
        "after array element"
    } else {
        "looking for beginning of value"
    };
    format!("invalid character {ch:?} {context}")
}

// ---------------------------------------------------------------------------------------
// Responses

/// Reply to `CONSUMER.CREATE` and `CONSUMER.INFO` ([`response_type::CONSUMER_CREATE`] or
/// [`response_type::CONSUMER_INFO`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerInfoResponse {
    /// The reply type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The consumer (absent on error).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<ConsumerInfo>,
}

/// Reply to `CONSUMER.DELETE`: `{"type":..,"success":true}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerDeleteResponse {
    /// [`response_type::CONSUMER_DELETE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// True on success (omitted on error).
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

/// Reply to `CONSUMER.NAMES`: `"consumers":[]` when there are none (unlike
/// `STREAM.NAMES`' `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerNamesResponse {
    /// [`response_type::CONSUMER_NAMES`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paging.
    #[serde(flatten)]
    pub paged: ApiPaged,
    /// Consumer names, sorted.
    pub consumers: Vec<String>,
}

/// Reply to `CONSUMER.LIST`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerListResponse {
    /// [`response_type::CONSUMER_LIST`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paging.
    #[serde(flatten)]
    pub paged: ApiPaged,
    /// Consumer infos sorted by name; their metadata carries only `_nats.req.level`.
    pub consumers: Vec<ConsumerInfo>,
    /// Consumers that could not be listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Offline consumers and why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

/// Reply to `CONSUMER.PAUSE`: `pause_until` is always written (zero time when unpaused).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerPauseResponse {
    /// [`response_type::CONSUMER_PAUSE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Paused now.
    pub paused: bool,
    /// Until when.
    pub pause_until: Timestamp,
    /// Time left, ns.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
}

/// Reply to `CONSUMER.UNPIN`: the type, and the failure if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerUnpinResponse {
    /// [`response_type::CONSUMER_UNPIN`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

// ---------------------------------------------------------------------------------------
// Advisories

/// Subjects of consumer advisories; append `.<stream>.<consumer>`.
pub mod advisory_subject {
    /// A consumer was created ([`super::ConsumerActionAdvisory`]).
    pub const CREATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.CREATED";
    /// A consumer was deleted ([`super::ConsumerActionAdvisory`]).
    pub const DELETED: &str = "$JS.EVENT.ADVISORY.CONSUMER.DELETED";
    /// A message reached `max_deliver` ([`super::MaxDeliverAdvisory`]).
    pub const MAX_DELIVERIES: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";
    /// A message was terminated with `+TERM` ([`super::TerminatedAdvisory`]).
    pub const MSG_TERMINATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED";
    /// A message was NAKed ([`super::NakAdvisory`]).
    pub const MSG_NAKED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED";
    /// A consumer was paused or unpaused ([`super::PauseAdvisory`]).
    pub const PAUSE: &str = "$JS.EVENT.ADVISORY.CONSUMER.PAUSE";
    /// A priority group pinned a client ([`super::PinnedAdvisory`]).
    pub const PINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.PINNED";
    /// A priority group lost its pinned client ([`super::UnpinnedAdvisory`]).
    pub const UNPINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED";
    /// An acknowledgement was sampled ([`super::AckMetric`]).
    pub const ACK_METRIC: &str = "$JS.EVENT.METRIC.CONSUMER.ACK";

    /// `<prefix>.<stream>.<consumer>`.
    pub fn for_consumer(prefix: &str, stream: &str, consumer: &str) -> String {
        format!("{prefix}.{stream}.{consumer}")
    }
}

/// The `type` strings of consumer advisories.
pub mod advisory_type {
    /// [`super::ConsumerActionAdvisory`].
    pub const CONSUMER_ACTION: &str = "io.nats.jetstream.advisory.v1.consumer_action";
    /// [`super::MaxDeliverAdvisory`].
    pub const MAX_DELIVER: &str = "io.nats.jetstream.advisory.v1.max_deliver";
    /// [`super::TerminatedAdvisory`].
    pub const TERMINATED: &str = "io.nats.jetstream.advisory.v1.terminated";
    /// [`super::NakAdvisory`].
    pub const NAK: &str = "io.nats.jetstream.advisory.v1.nak";
    /// [`super::PauseAdvisory`].
    pub const CONSUMER_PAUSE: &str = "io.nats.jetstream.advisory.v1.consumer_pause";
    /// [`super::PinnedAdvisory`].
    pub const PINNED: &str = "io.nats.jetstream.advisory.v1.consumer_group_pinned";
    /// [`super::UnpinnedAdvisory`].
    pub const UNPINNED: &str = "io.nats.jetstream.advisory.v1.consumer_group_unpinned";
    /// [`super::AckMetric`].
    pub const ACK_METRIC: &str = "io.nats.jetstream.metric.v1.consumer_ack";
}

/// What happened to a consumer (`action` of [`ConsumerActionAdvisory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsumerActionKind {
    /// Created.
    Create,
    /// Deleted.
    Delete,
}

/// The `type`, `id` and `timestamp` that begin every advisory (Go's `TypedEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventHeader {
    /// The advisory's `type` string.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A unique id (nats-server uses a NUID).
    pub id: String,
    /// When it happened.
    pub timestamp: Timestamp,
}

impl EventHeader {
    /// A header of `kind`, with a fresh id, now.
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            id: nuid::next().to_string(),
            timestamp: Timestamp::now(),
        }
    }
}

/// `$JS.EVENT.ADVISORY.CONSUMER.CREATED|DELETED.<stream>.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerActionAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// What happened.
    pub action: ConsumerActionKind,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaxDeliverAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// The message.
    pub stream_seq: u64,
    /// Deliveries so far.
    pub deliveries: u64,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.<stream>.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminatedAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// The delivery's consumer sequence.
    pub consumer_seq: u64,
    /// The message.
    pub stream_seq: u64,
    /// Deliveries so far.
    pub deliveries: u64,
    /// The text after `+TERM `, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.<stream>.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NakAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// The delivery's consumer sequence.
    pub consumer_seq: u64,
    /// The message.
    pub stream_seq: u64,
    /// Deliveries so far.
    pub deliveries: u64,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.PAUSE.<stream>.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// Paused now.
    pub paused: bool,
    /// Until when (always written; zero time when unpaused).
    pub pause_until: Timestamp,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.PINNED.<stream>.<consumer>`: a pull request was pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinnedAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The account (nats-server writes its name, `$G` by default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The priority group.
    pub group: String,
    /// The new pin id.
    pub pinned_id: String,
}

/// `$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.<stream>.<consumer>`: the pin was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnpinnedAdvisory {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The priority group.
    pub group: String,
    /// `timeout` (the pinned client went quiet) or `admin` (`CONSUMER.UNPIN`).
    pub reason: String,
}

/// `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>`, sampled per `sample_freq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AckMetric {
    /// Type, id, timestamp.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub consumer: String,
    /// The delivery's consumer sequence.
    pub consumer_seq: u64,
    /// The message.
    pub stream_seq: u64,
    /// Delivery to ack, ns.
    pub ack_time: i64,
    /// Deliveries so far.
    pub deliveries: u64,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config` nats-server 2.15.1 returned for an explicit-ack ephemeral named E.
    const EPHEMERAL_CONFIG: &str = r#"{"name":"E","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#;

    #[test]
    fn consumer_config_serialises_byte_for_byte_like_nats_server() {
        let config: ConsumerConfig = serde_json::from_str(EPHEMERAL_CONFIG).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), EPHEMERAL_CONFIG);
        assert_eq!(config.ack_wait(), Duration::from_secs(30));
        assert_eq!(config.max_deliver(), None);
        assert_eq!(config.max_ack_pending(), Some(1000));
        assert!(config.is_pull());
        assert_eq!(config.name(), "E");
    }

    #[test]
    fn create_reply_matches_nats_server_layout() {
        let reply = ConsumerInfoResponse {
            kind: response_type::CONSUMER_CREATE,
            error: None,
            info: Some(ConsumerInfo {
                stream_name: "S".into(),
                name: "E".into(),
                created: Timestamp::from_unix_nanos(1_796_473_195_936_944_510),
                config: Some(serde_json::from_str(EPHEMERAL_CONFIG).unwrap()),
                ts: Timestamp::from_unix_nanos(1_796_473_195_937_163_054),
                ..ConsumerInfo::default()
            }),
        };
        let expected = format!(
            "{{\"type\":\"io.nats.jetstream.api.v1.consumer_create_response\",\"stream_name\":\"S\",\"name\":\"E\",\"created\":\"2026-12-05T12:19:55.93694451Z\",\"config\":{EPHEMERAL_CONFIG},\"delivered\":{{\"consumer_seq\":0,\"stream_seq\":0}},\"ack_floor\":{{\"consumer_seq\":0,\"stream_seq\":0}},\"num_ack_pending\":0,\"num_redelivered\":0,\"num_waiting\":0,\"num_pending\":0,\"ts\":\"2026-12-05T12:19:55.937163054Z\"}}"
        );
        assert_eq!(serde_json::to_string(&reply).unwrap(), expected);
    }

    #[test]
    fn names_reply_writes_an_empty_list_and_the_paging() {
        let reply = ConsumerNamesResponse {
            kind: response_type::CONSUMER_NAMES,
            error: None,
            paged: ApiPaged {
                total: 0,
                offset: 0,
                limit: 1024,
            },
            consumers: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":0,"offset":0,"limit":1024,"consumers":[]}"#
        );
    }

    fn create_error(body: &str) -> String {
        decode_create(body.as_bytes(), true)
            .unwrap_err()
            .description
    }

    #[test]
    fn create_decode_errors_read_like_nats_server() {
        // Each text is what nats-server 2.15.1 answered to the same body.
        let cases = [
            (
                r#"{"stream_name":"S","config":{"ack_policy":"xx"}}"#,
                r#"invalid JSON: can not unmarshal "\"xx\"""#,
            ),
            (
                r#"{"stream_name":"S","config":{"ack_policy":1}}"#,
                r#"invalid JSON: can not unmarshal "1""#,
            ),
            (
                r#"{"stream_name":"S","config":{"replay_policy":"ORIGINAL"}}"#,
                r#"invalid JSON: can not unmarshal "\"ORIGINAL\"""#,
            ),
            (
                r#"{"stream_name":"S","config":{"ack_wait":"x"}}"#,
                "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.ack_wait of type time.Duration",
            ),
            (
                r#"{"stream_name":"S","config":{"backoff":[1,"x"]}}"#,
                "invalid JSON: json: cannot unmarshal string into CreateConsumerRequest.config.backoff.1 of type time.Duration",
            ),
            (
                r#"{"stream_name":"S","config":{"backoff":"x"}}"#,
                "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.backoff of type []time.Duration",
            ),
            (
                r#"{"stream_name":"S","config":{"max_deliver":1.5}}"#,
                "invalid JSON: json: cannot unmarshal number 1.5 into Go struct field CreateConsumerRequest.config.max_deliver of type int",
            ),
            (
                r#"{"stream_name":"S","config":{"metadata":{"a":1}}}"#,
                "invalid JSON: json: cannot unmarshal number into Go struct field CreateConsumerRequest.config.metadata.a of type string",
            ),
            (
                r#"{"stream_name":"S","config":"x"}"#,
                "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config of type server.ConsumerConfig",
            ),
            (
                r#"{"stream_name":"S","config":{"priority_policy":"x"}}"#,
                r#"invalid JSON: unknown priority policy: "x""#,
            ),
            (
                r#"{"stream_name":"S","config":{},"action":"CREATE"}"#,
                r#"invalid JSON: unknown consumer action: "CREATE""#,
            ),
            (
                r#"{"stream_name":"S","config":{},"action":1}"#,
                "invalid JSON: unknown consumer action: 1",
            ),
            (
                r#"{"stream_name":"S","config":{"bogus":1}}"#,
                r#"invalid JSON: json: unknown field "bogus""#,
            ),
            (
                r#"{"stream_name":"S","config":{},"pedantic":"x"}"#,
                "invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.pedantic of type bool",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(create_error(body), expected, "{body}");
        }
    }

    #[test]
    fn create_decode_accepts_what_nats_server_accepts() {
        let req = decode_create(
            br#"{"Stream_Name":"S","CONFIG":{"Ack_Policy":"all","deliver_policy":"undefined"},"action":"create"}"#,
            true,
        )
        .unwrap();
        assert_eq!(req.stream_name, "S");
        assert_eq!(req.config.ack_policy, AckPolicy::All);
        assert_eq!(req.config.deliver_policy, DeliverPolicy::All);
        assert_eq!(req.action, ConsumerAction::Create);
        assert_eq!(
            decode_create(b"", true).unwrap(),
            CreateConsumerRequest::default()
        );
    }

    #[test]
    fn next_payloads_decode_like_nats_server() {
        assert_eq!(decode_next(b"").unwrap(), NextRequest::default());
        assert_eq!(decode_next(b" 5 ").unwrap().batch, 5);
        assert_eq!(decode_next(b"-3").unwrap().batch, -3);
        // Not JSON and not a number: one message, no error.
        assert_eq!(decode_next(b"abc").unwrap(), NextRequest::default());
        assert_eq!(decode_next(b"[1]").unwrap(), NextRequest::default());
        let req = decode_next(br#"{"NO_WAIT":true,"bogus":1}"#).unwrap();
        assert!(req.no_wait);
        assert_eq!(req.batch, 0, "a JSON request without batch asks for none");
        let req = decode_next(br#"{"batch":2,"expires":1000000000,"idle_heartbeat":500000000,"group":"g","priority":3}"#).unwrap();
        assert_eq!(req.expires(), Some(Duration::from_secs(1)));
        assert_eq!((req.batch, req.group.as_str(), req.priority), (2, "g", 3));
    }

    #[test]
    fn bad_next_payloads_give_nats_server_texts() {
        // What nats-server 2.15.1 put after `NATS/1.0 400 `.
        let cases = [
            (
                r#"{"batch":"x"}"#,
                "Bad Request - json: cannot unmarshal string into Go struct field .batch of type int",
            ),
            (
                r#"{"batch":1.5}"#,
                "Bad Request - json: cannot unmarshal number 1.5 into Go struct field .batch of type int",
            ),
            (
                r#"{"expires":"1s"}"#,
                "Bad Request - json: cannot unmarshal string into Go struct field .expires of type time.Duration",
            ),
            (
                r#"{"group":5}"#,
                "Bad Request - json: cannot unmarshal number into Go struct field .group of type string",
            ),
            (
                r#"{"min_pending":"a","no_wait":true}"#,
                "Bad Request - json: cannot unmarshal string into Go struct field .min_pending of type int64",
            ),
            (
                "{x",
                "Bad Request - invalid character 'x' looking for beginning of object key string",
            ),
            (
                r#"{"batch":1}{"x":1}"#,
                "Bad Request - invalid character '{' after top-level value",
            ),
            (
                r#"{"batch":1"#,
                "Bad Request - unexpected end of JSON input",
            ),
            (
                r#"{"expires":1000000000,"idle_heartbeat":600000000}"#,
                "Bad Request - heartbeat value too large",
            ),
            (
                r#"{"idle_heartbeat":1}"#,
                "Bad Request - heartbeat value too large",
            ),
        ];
        for (payload, expected) in cases {
            let err = decode_next(payload.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), expected, "{payload}");
        }
        assert_eq!(
            NextError("x".into()).status_line(),
            "NATS/1.0 400 Bad Request - x\r\n\r\n"
        );
    }

    #[test]
    fn start_times_keep_the_client_offset_like_nats_server() {
        // What nats-server 2.15.1 echoed for each `opt_start_time`.
        for (sent, echoed) in [
            ("2026-12-05T10:00:00.5+01:00", "2026-12-05T10:00:00.5+01:00"),
            (
                "2026-01-01T00:00:00.000000001-05:30",
                "2026-01-01T00:00:00.000000001-05:30",
            ),
            (
                "2026-01-01T05:30:00.000000001Z",
                "2026-01-01T05:30:00.000000001Z",
            ),
        ] {
            let body = format!(r#"{{"stream_name":"S","config":{{"opt_start_time":"{sent}"}}}}"#);
            let req = decode_create(body.as_bytes(), true).unwrap();
            let config = serde_json::to_string(&req.config).unwrap();
            assert!(
                config.contains(&format!(r#""opt_start_time":"{echoed}""#)),
                "{config}"
            );
        }
        let err = decode_create(
            br#"{"stream_name":"S","config":{"opt_start_time":"2026-01-01T00:00:00"}}"#,
            true,
        )
        .unwrap_err();
        assert_eq!(
            err.description,
            r#"invalid JSON: parsing time "2026-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#
        );
    }

    #[test]
    fn pull_requests_are_checked_against_the_consumer_like_nats_server() {
        let config: ConsumerConfig = serde_json::from_str(
            r#"{"max_batch":2,"max_expires":90000000000,"max_bytes":10,"priority_policy":"overflow","priority_groups":["g"]}"#,
        )
        .unwrap();
        let refusal = |payload: &str| {
            decode_next(payload.as_bytes())
                .unwrap()
                .check(&config)
                .unwrap_err()
                .to_string()
        };
        // The texts nats-server 2.15.1 sent (`of 1m30s`: a Go duration).
        assert_eq!(
            refusal(r#"{"batch":3}"#),
            "409 Exceeded MaxRequestBatch of 2"
        );
        assert_eq!(
            refusal(r#"{"batch":1,"expires":100000000000}"#),
            "409 Exceeded MaxRequestExpires of 1m30s"
        );
        assert_eq!(
            refusal(r#"{"batch":1,"max_bytes":100}"#),
            "409 Exceeded MaxRequestMaxBytes of 10"
        );
        assert_eq!(
            refusal(r#"{"no_wait":true}"#),
            "400 Bad Request - Priority Group missing"
        );
        assert_eq!(
            refusal(r#"{"group":"h"}"#),
            "400 Bad Request - Invalid Priority Group"
        );
        assert_eq!(
            refusal(r#"{"group":"g","id":"x"}"#),
            "400 Bad Request - Not a Pinned Client Priority consumer"
        );
        assert_eq!(
            refusal(r#"{"group":"g","priority":10}"#),
            "400 Bad Request - Priority must be between 0 and 9"
        );
        let ok = |payload: &str| decode_next(payload.as_bytes()).unwrap().check(&config);
        assert_eq!(ok(r#"{"group":"g","min_pending":1,"priority":1}"#), Ok(()));
        // A plain number carries no priority fields.
        assert_eq!(ok("1"), Ok(()));
        let plain = ConsumerConfig::default();
        let refused = decode_next(br#"{"min_pending":1}"#).unwrap().check(&plain);
        assert_eq!(
            refused.unwrap_err().status_line(),
            "NATS/1.0 400 Bad Request - Not a Overflow Priority consumer\r\n\r\n"
        );
        assert_eq!(
            decode_next(br#"{"group":"g","priority":3}"#)
                .unwrap()
                .check(&plain),
            Ok(())
        );
    }

    #[test]
    fn advisories_start_with_type_id_and_timestamp() {
        let advisory = ConsumerActionAdvisory {
            event: EventHeader {
                kind: advisory_type::CONSUMER_ACTION,
                id: "ID".into(),
                timestamp: Timestamp::from_unix_nanos(1_796_461_707_000_000_000),
            },
            stream: "S".into(),
            consumer: "C".into(),
            action: ConsumerActionKind::Create,
            domain: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&advisory).unwrap(),
            r#"{"type":"io.nats.jetstream.advisory.v1.consumer_action","id":"ID","timestamp":"2026-12-05T09:08:27Z","stream":"S","consumer":"C","action":"create"}"#
        );
        assert_eq!(
            advisory_subject::for_consumer(advisory_subject::MAX_DELIVERIES, "S", "C"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C"
        );
    }
}
