//! Consumer configuration rules: the defaults nats-server 2.15 fills in and every check it
//! makes on `CONSUMER.CREATE` (which also updates), in its order and with its error texts.
//!
//! Pure functions, no I/O: the API layer parses the subject into a [`CreateSubject`],
//! decodes the body (`consumer_types::decode_create`) and passes what it knows about the
//! stream and its consumers in a [`CreateContext`]. The order follows nats-server's create
//! handler (`jsConsumerCreateRequest`), then `setConsumerConfigDefaults`,
//! `checkConsumerCfg`, `addConsumerWithAssignment` and, for an existing consumer,
//! `checkNewConsumerConfig`. Clients see only the first failure, so the order matters.

use std::time::Duration;

use natrium_wire::{is_subset_match, subjects_overlap};

use super::consumer_types::{AckPolicy, ConsumerAction, ConsumerConfig, CreateConsumerRequest};
use super::consumer_types::{DeliverPolicy, PriorityPolicy};
use super::errors::ApiError;
use super::stream_config::{
    MAX_DESCRIPTION_LEN, MAX_METADATA_LEN, REQUIRED_LEVEL_KEY, SERVER_LEVEL_KEY, SERVER_VERSION_KEY,
};
use super::types::{API_LEVEL, AccountLimits, RetentionPolicy, StorageType, StreamConfig};
use crate::go_time::go_duration;

/// Longest durable name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// `ack_wait` when acks are used and none is set: 30 s.
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// `max_ack_pending` when acks are used and none is set.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// `max_waiting` of a pull consumer when none is set (`JSWaitQueueDefaultMax`).
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// `inactive_threshold` of an ephemeral when none is set: 5 s.
pub const DEFAULT_EPHEMERAL_INACTIVE_THRESHOLD: i64 = 5_000_000_000;
/// `priority_timeout` of a `pinned_client` consumer when none is set: 2 min.
pub const DEFAULT_PINNED_TTL: i64 = 120_000_000_000;
/// The heartbeat an `ack_policy: flow_control` consumer must use (and gets): 1 s.
pub const FLOW_CONTROL_ACK_HEARTBEAT: i64 = 1_000_000_000;
/// Length of a generated ephemeral name.
pub const EPHEMERAL_NAME_LEN: usize = 8;

const MILLISECOND: i64 = 1_000_000;
/// nats-server's alphabet for generated names (base 62).
const NAME_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which form of the create subject a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateSubject<'a> {
    /// `$JS.API.CONSUMER.CREATE.<stream>`: legacy ephemeral; a `name` in the config is
    /// honoured, a `durable_name` refused.
    Legacy {
        /// Stream name from the subject.
        stream: &'a str,
    },
    /// `$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>]`: the name (and filter) from
    /// the subject.
    Named {
        /// Stream name from the subject.
        stream: &'a str,
        /// Consumer name from the subject.
        name: &'a str,
        /// The rest of the subject, which must equal `filter_subject`.
        filter: Option<&'a str>,
    },
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable {
        /// Stream name from the subject.
        stream: &'a str,
        /// Durable name from the subject.
        durable: &'a str,
    },
}

impl<'a> CreateSubject<'a> {
    /// Parses a create subject; `None` when it is not one (nats-server does not answer).
    pub fn parse(subject: &'a str) -> Option<Self> {
        if let Some(rest) = subject.strip_prefix("$JS.API.CONSUMER.DURABLE.CREATE.") {
            let (stream, durable) = rest.split_once('.')?;
            return (!stream.is_empty() && !durable.is_empty() && !durable.contains('.'))
                .then_some(CreateSubject::Durable { stream, durable });
        }
        let rest = subject.strip_prefix("$JS.API.CONSUMER.CREATE.")?;
        match rest.split_once('.') {
            None => (!rest.is_empty()).then_some(CreateSubject::Legacy { stream: rest }),
            Some((stream, rest)) => {
                let (name, filter) = match rest.split_once('.') {
                    Some((name, filter)) => (name, Some(filter)),
                    None => (rest, None),
                };
                Some(CreateSubject::Named {
                    stream,
                    name,
                    filter,
                })
            }
        }
    }

    /// The stream named in the subject.
    pub fn stream(&self) -> &'a str {
        match self {
            CreateSubject::Legacy { stream }
            | CreateSubject::Named { stream, .. }
            | CreateSubject::Durable { stream, .. } => stream,
        }
    }
}

/// A consumer the stream already has.
#[derive(Debug, Clone, Copy)]
pub struct ExistingConsumer<'a> {
    /// Its name (legacy ephemerals' stored configs carry none).
    pub name: &'a str,
    /// Its stored configuration (static metadata only).
    pub config: &'a ConsumerConfig,
    /// Push: someone listens on its deliver subject (an update may not move it then).
    pub push_bound: bool,
}

/// Server-wide JetStream limits on consumers (`jetstream { limits { ... } }`); 0 for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerConsumerLimits {
    /// Largest `max_batch` (`max_request_batch`).
    pub max_request_batch: i64,
    /// Largest `max_ack_pending`.
    pub max_ack_pending: i64,
}

/// What the checks need to know beyond the request.
#[derive(Debug, Clone, Copy)]
pub struct CreateContext<'a> {
    /// The stream named in the subject; `None` when there is none (404).
    pub stream: Option<&'a StreamConfig>,
    /// The stream's consumers.
    pub consumers: &'a [ExistingConsumer<'a>],
    /// The account's JetStream limits.
    pub account: &'a AccountLimits,
    /// The server's consumer limits.
    pub server: ServerConsumerLimits,
}

/// The outcome of a successful create check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Create {
    /// Create consumer `name` with this config (defaults filled, static metadata set).
    New {
        /// The consumer's name (generated for a legacy ephemeral without one).
        name: String,
        /// The config to store.
        config: ConsumerConfig,
    },
    /// Consumer `name` exists; apply this config to it.
    Update {
        /// The consumer's name.
        name: String,
        /// The config to store.
        config: ConsumerConfig,
    },
    /// Consumer `name` exists with exactly this config: answer with its info.
    Existing {
        /// The consumer's name.
        name: String,
    },
}

/// The checks of a consumer create request after decoding, in nats-server's order.
pub fn check_create(
    req: CreateConsumerRequest,
    subject: CreateSubject<'_>,
    ctx: &CreateContext<'_>,
) -> Result<Create, ApiError> {
    let CreateConsumerRequest {
        stream_name,
        mut config,
        action,
        pedantic,
    } = req;
    if subject.stream() != stream_name {
        return Err(ApiError::stream_mismatch());
    }
    let subject_name = match subject {
        CreateSubject::Legacy { .. } => config.name.clone(),
        CreateSubject::Named { name, .. } => name.to_string(),
        CreateSubject::Durable { durable, .. } => durable.to_string(),
    };
    if subject_name.contains(['/', '\\']) {
        return Err(ApiError::consumer_name_contains_path_separators());
    }
    match subject {
        CreateSubject::Durable { durable, .. } => {
            if config.durable_name.is_empty() {
                return Err(ApiError::consumer_durable_name_not_set());
            }
            if config.durable_name != durable {
                return Err(ApiError::consumer_durable_name_not_match_subject());
            }
            config.name = durable.to_string();
        }
        CreateSubject::Named { name, .. } => {
            if !config.durable_name.is_empty() && config.durable_name != name {
                return Err(ApiError::consumer_durable_name_not_match_subject());
            }
            config.name = name.to_string();
        }
        CreateSubject::Legacy { .. } => {
            if !config.durable_name.is_empty() {
                return Err(ApiError::consumer_ephemeral_with_durable_name());
            }
        }
    }
    if let CreateSubject::Named {
        filter: Some(filter),
        ..
    } = subject
    {
        if !config.filter_subjects.is_empty() {
            return Err(ApiError::consumer_multiple_filters_not_allowed());
        }
        if config.filter_subject != filter {
            return Err(ApiError::consumer_create_filter_subject_mismatch());
        }
    }
    if config.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    let Some(stream) = ctx.stream else {
        return Err(ApiError::stream_not_found());
    };

    let name = config.name().to_string();
    let existing = (!name.is_empty())
        .then(|| ctx.consumers.iter().find(|c| c.name == name))
        .flatten();
    // An existing consumer is paused only through CONSUMER.PAUSE.
    if let Some(existing) = existing {
        config.pause_until = existing.config.pause_until;
    }
    let mut config = with_static_metadata(config);
    fill_defaults(&mut config, stream, ctx, pedantic)?;
    check_config(&config, stream, ctx)?;

    if let Some(existing) = existing {
        if action == ConsumerAction::Create && !same_config(&config, existing.config) {
            return Err(ApiError::consumer_already_exists());
        }
        if stream.retention == RetentionPolicy::WorkQueue
            && !partition_unique(&name, &config.filters(), ctx.consumers)
        {
            return Err(ApiError::consumer_wq_consumer_not_unique());
        }
        if !config.is_durable() && config.inactive_threshold <= 0 {
            config.inactive_threshold = DEFAULT_EPHEMERAL_INACTIVE_THRESHOLD;
        }
        if config == *existing.config {
            return Ok(Create::Existing { name });
        }
        check_update(existing, &config)?;
        return Ok(Create::Update { name, config });
    }
    if action == ConsumerAction::Update {
        return Err(ApiError::consumer_does_not_exist());
    }
    check_max_consumers(stream, ctx)?;
    if stream.retention == RetentionPolicy::WorkQueue && !config.direct && !config.sourcing {
        check_work_queue(&config, &name, ctx.consumers)?;
    }
    if config.is_durable() && config.durable_name.len() > MAX_NAME_LEN {
        return Err(ApiError::consumer_name_too_long(MAX_NAME_LEN));
    }
    let name = if name.is_empty() {
        // A legacy ephemeral's stored config keeps no name (nats-server copies the config
        // before naming it).
        unused_ephemeral_name(ctx.consumers)
    } else {
        name
    };
    if !is_valid_asset_name(&name) {
        return Err(ApiError::consumer_bad_durable_name());
    }
    // A file stream keeps a consumer in a directory named after it.
    if name.len() > MAX_NAME_LEN && stream.storage == StorageType::File && !config.mem_storage {
        return Err(ApiError::consumer_create(
            "error creating store for consumer",
        ));
    }
    if !config.is_durable() && config.inactive_threshold <= 0 {
        config.inactive_threshold = DEFAULT_EPHEMERAL_INACTIVE_THRESHOLD;
    }
    Ok(Create::New { name, config })
}

/// nats-server's `setConsumerConfigDefaults`, with its pedantic refusals.
fn fill_defaults(
    config: &mut ConsumerConfig,
    stream: &StreamConfig,
    ctx: &CreateContext<'_>,
    pedantic: bool,
) -> Result<(), ApiError> {
    let refuse = |text: &str| Err(ApiError::pedantic(text));
    if config.max_deliver == 0 || config.max_deliver < -1 {
        if pedantic && config.max_deliver < -1 {
            return refuse("max_deliver must be set to -1");
        }
        config.max_deliver = -1;
    }
    if config.max_waiting < 0 {
        if pedantic {
            return refuse("max_waiting must not be negative");
        }
        config.max_waiting = 0;
    }
    if config.max_ack_pending < -1 {
        if pedantic {
            return refuse("max_ack_pending must be set to -1");
        }
        config.max_ack_pending = -1;
    }
    for (value, text) in [
        (&mut config.max_batch, "max_batch must not be negative"),
        (&mut config.max_expires, "max_expires must not be negative"),
        (&mut config.max_bytes, "max_bytes must not be negative"),
        (
            &mut config.idle_heartbeat,
            "idle_heartbeat must not be negative",
        ),
        (
            &mut config.inactive_threshold,
            "inactive_threshold must not be negative",
        ),
        (
            &mut config.priority_timeout,
            "priority_timeout must not be negative",
        ),
    ] {
        if *value < 0 {
            if pedantic {
                return refuse(text);
            }
            *value = 0;
        }
    }
    if config.is_pull() && config.max_waiting == 0 {
        config.max_waiting = DEFAULT_MAX_WAITING;
    }
    if config.ack_wait == 0 && matches!(config.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
        config.ack_wait = DEFAULT_ACK_WAIT;
    }
    if let Some(first) = config.backoff.first().copied() {
        if pedantic && config.ack_wait != first {
            return refuse("first backoff value has to equal batch AckWait");
        }
        config.ack_wait = first;
    }
    let limits = &stream.consumer_limits;
    if config.max_ack_pending == 0 {
        if pedantic && limits.max_ack_pending > 0 {
            return refuse("max_ack_pending must be set if it's configured in stream limits");
        }
        config.max_ack_pending = limits.max_ack_pending;
    }
    if config.inactive_threshold == 0 {
        if pedantic && limits.inactive_threshold > 0 {
            return refuse("inactive_threshold must be set if it's configured in stream limits");
        }
        config.inactive_threshold = limits.inactive_threshold;
    }
    if config.max_ack_pending == 0 && config.ack_policy != AckPolicy::None {
        let mut pending = DEFAULT_MAX_ACK_PENDING;
        for limit in [ctx.server.max_ack_pending, ctx.account.max_ack_pending] {
            if limit > 0 && limit < pending {
                pending = limit;
            }
        }
        config.max_ack_pending = pending;
    }
    if config.is_pull() && config.max_batch == 0 && ctx.server.max_request_batch > 0 {
        if pedantic {
            return refuse("max_request_batch must be set if it's JetStream limits are set");
        }
        config.max_batch = ctx.server.max_request_batch;
    }
    if config.priority_policy == PriorityPolicy::PinnedClient && config.priority_timeout == 0 {
        config.priority_timeout = DEFAULT_PINNED_TTL;
    }
    if config.ack_policy == AckPolicy::FlowControl && !pedantic {
        config.flow_control = true;
        config.idle_heartbeat = FLOW_CONTROL_ACK_HEARTBEAT;
    }
    Ok(())
}

/// nats-server's `checkConsumerCfg`.
fn check_config(
    config: &ConsumerConfig,
    stream: &StreamConfig,
    ctx: &CreateContext<'_>,
) -> Result<(), ApiError> {
    if !config.name.is_empty() && !is_valid_asset_name(&config.name) {
        return Err(ApiError::stream_invalid_config(
            "consumer name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if !config.durable_name.is_empty() && !is_valid_asset_name(&config.durable_name) {
        return Err(ApiError::stream_invalid_config(
            "consumer durable name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if config.num_replicas > 0 && config.num_replicas > stream.num_replicas {
        return Err(ApiError::consumer_replicas_exceeds_stream());
    }
    if config.num_replicas < 0 {
        return Err(ApiError::replicas_count_cannot_be_negative());
    }
    if stream.retention != RetentionPolicy::Limits
        && config.num_replicas != 0
        && config.num_replicas != stream.num_replicas
    {
        return Err(ApiError::consumer_replicas_should_match_stream());
    }
    if config.backoff.iter().any(|b| *b < 0) {
        return Err(ApiError::consumer_back_off_negative());
    }
    if config.ack_wait < 0 {
        return Err(ApiError::consumer_ack_wait_negative());
    }
    if config.ack_policy == AckPolicy::FlowControl {
        check_flow_control_ack(config)?;
    }
    if !config.backoff.is_empty()
        && config.max_deliver != -1
        && config.backoff.len() as i64 > config.max_deliver
    {
        return Err(ApiError::consumer_max_deliver_backoff());
    }
    if config.description.len() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::consumer_description_too_long(MAX_DESCRIPTION_LEN));
    }
    if config.is_pull() {
        check_pull(config, stream, ctx)?;
    } else {
        check_push(config, stream)?;
    }
    let ack_limits = [
        ctx.server.max_ack_pending,
        ctx.account.max_ack_pending,
        stream.consumer_limits.max_ack_pending,
    ];
    for limit in ack_limits {
        if limit > 0 && config.max_ack_pending > limit {
            return Err(ApiError::consumer_max_pending_ack_excess(limit));
        }
    }
    let threshold = stream.consumer_limits.inactive_threshold;
    if threshold > 0 && config.inactive_threshold > threshold {
        let limit = go_duration(Duration::from_nanos(threshold.unsigned_abs()));
        return Err(ApiError::consumer_inactive_threshold_excess(limit));
    }
    if config.direct {
        if config.is_pull() {
            return Err(ApiError::consumer_direct_requires_push());
        }
        if config.is_durable() {
            return Err(ApiError::consumer_direct_requires_ephemeral());
        }
    }
    check_filters(config)?;
    check_start(config)?;
    if !config.sample_freq.is_empty() {
        let text = config.sample_freq.trim_end_matches('%');
        // Go formats the missing error of a parsed negative number as `<nil>`.
        match go_atoi(text) {
            Ok(n) if n >= 0 => {}
            Ok(_) => return Err(ApiError::consumer_invalid_sampling("<nil>")),
            Err(err) => return Err(ApiError::consumer_invalid_sampling(err)),
        }
    }
    if config.flow_control && config.idle_heartbeat == 0 {
        return Err(ApiError::consumer_with_flow_control_needs_heartbeats());
    }
    if !config.durable_name.is_empty()
        && !config.name.is_empty()
        && config.name != config.durable_name
    {
        return Err(ApiError::consumer_create_durable_and_name_mismatch());
    }
    let metadata_len: usize = config.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(ApiError::consumer_metadata_length(format!(
            "{}KB",
            MAX_METADATA_LEN / 1024
        )));
    }
    check_priority(config)?;
    if stream
        .placement
        .as_ref()
        .is_some_and(|p| !p.preferred.is_empty())
    {
        return Err(ApiError::stream_invalid_config(
            "preferred server not permitted in placement",
        ));
    }
    Ok(())
}

fn check_flow_control_ack(config: &ConsumerConfig) -> Result<(), ApiError> {
    if config.is_pull() {
        return Err(ApiError::consumer_ack_fc_requires_push());
    }
    if !config.flow_control {
        return Err(ApiError::consumer_ack_fc_requires_fc());
    }
    if config.idle_heartbeat != FLOW_CONTROL_ACK_HEARTBEAT {
        return Err(ApiError::stream_invalid_config(
            "flow control ack policy heartbeat needs to be 1s",
        ));
    }
    if config.max_ack_pending <= 0 {
        return Err(ApiError::consumer_ack_fc_requires_max_ack_pending());
    }
    if config.ack_wait != 0 || !config.backoff.is_empty() {
        return Err(ApiError::consumer_ack_fc_requires_no_ack_wait());
    }
    if config.max_deliver > 0 {
        return Err(ApiError::consumer_ack_fc_requires_no_max_deliver());
    }
    Ok(())
}

fn check_push(config: &ConsumerConfig, stream: &StreamConfig) -> Result<(), ApiError> {
    let deliver = &config.deliver_subject;
    if deliver.split('.').any(|t| t == "*" || t == ">") {
        return Err(ApiError::consumer_deliver_to_wildcards());
    }
    if !natrium_wire::is_valid_subject(deliver.as_bytes()) {
        return Err(ApiError::consumer_invalid_deliver_subject());
    }
    // Delivering into the stream's own subjects would store every delivery again.
    if stream
        .subjects
        .iter()
        .any(|s| is_subset_match(deliver.as_bytes(), s.as_bytes()))
    {
        return Err(ApiError::consumer_deliver_cycle());
    }
    if config.max_waiting != 0 {
        return Err(ApiError::consumer_push_max_waiting());
    }
    if config.max_ack_pending > 0 && config.ack_policy == AckPolicy::None {
        return Err(ApiError::consumer_max_pending_ack_policy_required());
    }
    if config.idle_heartbeat > 0 && config.idle_heartbeat < 100 * MILLISECOND {
        return Err(ApiError::consumer_small_heartbeat());
    }
    Ok(())
}

fn check_pull(
    config: &ConsumerConfig,
    stream: &StreamConfig,
    ctx: &CreateContext<'_>,
) -> Result<(), ApiError> {
    if config.ack_policy == AckPolicy::None && stream.retention == RetentionPolicy::WorkQueue {
        return Err(ApiError::consumer_pull_requires_ack());
    }
    if config.rate_limit_bps > 0 {
        return Err(ApiError::consumer_pull_with_rate_limit());
    }
    if config.max_waiting < 0 {
        return Err(ApiError::consumer_max_waiting_negative());
    }
    if config.idle_heartbeat > 0 {
        return Err(ApiError::consumer_hb_requires_push());
    }
    if config.flow_control {
        return Err(ApiError::consumer_fc_requires_push());
    }
    if config.max_batch < 0 {
        return Err(ApiError::consumer_max_request_batch_negative());
    }
    if config.max_expires != 0 && config.max_expires < MILLISECOND {
        return Err(ApiError::consumer_max_request_expires_too_small());
    }
    let limit = ctx.server.max_request_batch;
    if limit > 0 && config.max_batch > limit {
        return Err(ApiError::consumer_max_request_batch_exceeded(limit));
    }
    Ok(())
}

fn check_filters(config: &ConsumerConfig) -> Result<(), ApiError> {
    if !config.filter_subject.is_empty() && !config.filter_subjects.is_empty() {
        return Err(ApiError::consumer_duplicate_filter_subjects());
    }
    let invalid = || ApiError::stream_invalid_config("invalid subject");
    if !config.filter_subject.is_empty()
        && !natrium_wire::is_valid_subject(config.filter_subject.as_bytes())
    {
        return Err(invalid());
    }
    if config.filter_subjects.iter().any(String::is_empty) {
        return Err(ApiError::consumer_empty_filter());
    }
    // nats-server 2.15 does not require filters to be within the stream's subjects.
    let filters = config.filters();
    for (i, filter) in filters.iter().enumerate() {
        if !natrium_wire::is_valid_subject(filter.as_bytes()) {
            return Err(invalid());
        }
        let overlaps = filters
            .iter()
            .enumerate()
            .any(|(j, other)| i != j && is_subset_match(filter.as_bytes(), other.as_bytes()));
        if overlaps {
            return Err(ApiError::consumer_overlapping_subject_filters());
        }
    }
    Ok(())
}

/// The start position must match the deliver policy.
fn check_start(config: &ConsumerConfig) -> Result<(), ApiError> {
    let bad_start = |policy: &str, start: &str| {
        Err(ApiError::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {policy}, but optional start {start} is also set"
        )))
    };
    let not_set = |policy: &str, what: &str| {
        Err(ApiError::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {policy}, but optional {what} is not set"
        )))
    };
    let (seq, time) = (config.opt_start_seq > 0, config.opt_start_time.is_some());
    let policy = match config.deliver_policy {
        DeliverPolicy::All => "all",
        DeliverPolicy::Last => "last",
        DeliverPolicy::LastPerSubject => "last per subject",
        DeliverPolicy::New => "new",
        DeliverPolicy::ByStartSequence => {
            if !seq {
                return not_set("by start sequence", "start sequence");
            }
            if time {
                return bad_start("by start sequence", "time");
            }
            return Ok(());
        }
        DeliverPolicy::ByStartTime => {
            if !time {
                return not_set("by start time", "start time");
            }
            if seq {
                // sic: nats-server says "start start sequence".
                return bad_start("by start time", "start sequence");
            }
            return Ok(());
        }
    };
    if seq {
        return bad_start(policy, "sequence");
    }
    if time {
        return bad_start(policy, "time");
    }
    if config.deliver_policy == DeliverPolicy::LastPerSubject && config.filters().is_empty() {
        return not_set(policy, "filter subject");
    }
    Ok(())
}

fn check_priority(config: &ConsumerConfig) -> Result<(), ApiError> {
    if config.priority_policy == PriorityPolicy::None {
        if !config.priority_groups.is_empty() {
            return Err(ApiError::consumer_priority_group_with_policy_none());
        }
        if config.priority_timeout > 0 {
            return Err(ApiError::consumer_pinned_ttl_without_priority_policy_none());
        }
        return Ok(());
    }
    if !config.is_pull() {
        return Err(ApiError::consumer_push_with_priority_group());
    }
    if config.priority_groups.is_empty() {
        return Err(ApiError::consumer_priority_policy_without_group());
    }
    for group in &config.priority_groups {
        if group.is_empty() {
            return Err(ApiError::consumer_empty_group_name());
        }
        if !is_valid_group_name(group) {
            return Err(ApiError::consumer_invalid_group_name());
        }
    }
    Ok(())
}

/// `^[a-zA-Z0-9/_=-]{1,16}$`.
pub fn is_valid_group_name(group: &str) -> bool {
    (1..=16).contains(&group.len())
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

/// nats-server's `checkNewConsumerConfig`: what an update may not change. Plain-text
/// refusals become `consumer_create` (500/10012); API errors pass through.
fn check_update(existing: &ExistingConsumer<'_>, new: &ConsumerConfig) -> Result<(), ApiError> {
    let old = existing.config;
    let refuse = |text: &str| Err(ApiError::consumer_create(text));
    if old.deliver_policy != new.deliver_policy {
        return refuse("deliver policy can not be updated");
    }
    if old.mem_storage != new.mem_storage {
        return refuse("storage type can not be updated");
    }
    if old.direct != new.direct {
        return refuse("direct can not be updated");
    }
    if old.sourcing != new.sourcing {
        return refuse("sourcing can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return refuse("start sequence can not be updated");
    }
    // The same instant in another offset is no change (Go's `time.Equal`).
    if old.opt_start_time.map(|t| t.system_time()) != new.opt_start_time.map(|t| t.system_time()) {
        return refuse("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return refuse("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return refuse("replay policy can not be updated");
    }
    if old.idle_heartbeat != new.idle_heartbeat {
        return refuse("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return refuse("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return refuse("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return refuse("can not update push consumer to pull based");
        }
        if existing.push_bound {
            return Err(ApiError::consumer_name_exist());
        }
    }
    if old.max_waiting != new.max_waiting {
        return refuse("max waiting can not be updated");
    }
    if !new.backoff.is_empty()
        && new.max_deliver != -1
        && new.backoff.len() as i64 > new.max_deliver
    {
        return Err(ApiError::consumer_max_deliver_backoff());
    }
    Ok(())
}

/// The stream's `max_consumers`, or the account's when that is lower or the stream has
/// none, against the stream's consumers (as nats-server counts them).
fn check_max_consumers(stream: &StreamConfig, ctx: &CreateContext<'_>) -> Result<(), ApiError> {
    let account = ctx.account.max_consumers;
    let mut max = stream.max_consumers;
    if max <= 0 || (account > 0 && account < max) {
        max = account;
    }
    let counted = ctx.consumers.iter().filter(|c| !c.config.direct).count() as i64;
    if max > 0 && counted >= max {
        return Err(ApiError::maximum_consumers_limit());
    }
    Ok(())
}

fn check_work_queue(
    config: &ConsumerConfig,
    name: &str,
    consumers: &[ExistingConsumer<'_>],
) -> Result<(), ApiError> {
    if !matches!(
        config.ack_policy,
        AckPolicy::Explicit | AckPolicy::FlowControl
    ) {
        return Err(ApiError::consumer_wq_requires_explicit_ack());
    }
    if config.deliver_policy != DeliverPolicy::All {
        return Err(ApiError::consumer_wq_consumer_not_deliver_all());
    }
    if consumers.iter().any(|c| !c.config.direct) {
        let filters = config.filters();
        if filters.is_empty() {
            return Err(ApiError::consumer_wq_multiple_unfiltered());
        }
        if !partition_unique(name, &filters, consumers) {
            return Err(ApiError::consumer_wq_consumer_not_unique());
        }
    }
    Ok(())
}

/// No other (non-internal) consumer may see a subject these filters see; an unfiltered
/// one sees everything.
fn partition_unique(name: &str, filters: &[String], consumers: &[ExistingConsumer<'_>]) -> bool {
    filters.iter().all(|filter| {
        consumers
            .iter()
            .filter(|c| c.name != name && !c.config.direct && !c.config.sourcing)
            .all(|c| {
                let theirs = c.config.filters();
                !theirs.is_empty()
                    && theirs
                        .iter()
                        .all(|t| !subjects_overlap(filter.as_bytes(), t.as_bytes()))
            })
    })
}

/// `new` against the stored `old` as nats-server compares them for `action: create`: the
/// required-level metadata is taken from `old`.
fn same_config(new: &ConsumerConfig, old: &ConsumerConfig) -> bool {
    let mut new = new.clone();
    match old.metadata.get(REQUIRED_LEVEL_KEY) {
        Some(level) => {
            new.metadata
                .insert(REQUIRED_LEVEL_KEY.to_string(), level.clone());
        }
        None => {
            new.metadata.remove(REQUIRED_LEVEL_KEY);
        }
    }
    new == *old
}

/// The config as stored: server version and level removed, `_nats.req.level` set to the
/// API level the features in use need (pause 1, priority groups 1, flow-control acks 4).
pub fn with_static_metadata(mut config: ConsumerConfig) -> ConsumerConfig {
    config.metadata.remove(SERVER_VERSION_KEY);
    config.metadata.remove(SERVER_LEVEL_KEY);
    let mut level = 0;
    if config.pause_until.is_some_and(|t| !t.is_zero()) {
        level = 1;
    }
    if config.priority_policy != PriorityPolicy::None
        || config.priority_timeout != 0
        || !config.priority_groups.is_empty()
    {
        level = 1;
    }
    if config.ack_policy == AckPolicy::FlowControl {
        level = 4;
    }
    config
        .metadata
        .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
    config
}

/// The config as create and info replies show it: with the server's version and API level
/// (`CONSUMER.LIST` shows the stored config).
pub fn with_dynamic_metadata(mut config: ConsumerConfig, version: &str) -> ConsumerConfig {
    config
        .metadata
        .insert(SERVER_VERSION_KEY.to_string(), version.to_string());
    config
        .metadata
        .insert(SERVER_LEVEL_KEY.to_string(), API_LEVEL.to_string());
    config
}

/// A new ephemeral name: eight characters of `[0-9A-Za-z]`, like nats-server's.
pub fn ephemeral_name() -> String {
    (0..EPHEMERAL_NAME_LEN)
        .map(|_| NAME_ALPHABET[fastrand::usize(..NAME_ALPHABET.len())] as char)
        .collect()
}

fn unused_ephemeral_name(consumers: &[ExistingConsumer<'_>]) -> String {
    loop {
        let name = ephemeral_name();
        if consumers.iter().all(|c| c.name != name) {
            return name;
        }
    }
}

/// nats-server's `isValidAssetName`: not empty, none of ` \t\r\n\f.*>\/`.
pub fn is_valid_asset_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([' ', '\t', '\r', '\n', '\x0c', '.', '*', '>', '\\', '/'])
}

/// Go's `strconv.Atoi`, with its error text.
fn go_atoi(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {text:?}: invalid syntax"));
    }
    text.parse()
        .map_err(|_| format!("strconv.Atoi: parsing {text:?}: value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::consumer_types::decode_create;
    use crate::jetstream::types::{StreamConsumerLimits, to_go_json};

    fn stream(name: &str, retention: RetentionPolicy) -> StreamConfig {
        StreamConfig {
            name: name.into(),
            subjects: vec![format!("{}.>", name.to_lowercase())],
            retention,
            max_consumers: -1,
            num_replicas: 1,
            ..StreamConfig::default()
        }
    }

    /// Runs the checks for `body` sent on `subject` to a stream with `consumers`.
    fn check(
        stream: &StreamConfig,
        subject: &str,
        body: &str,
        consumers: &[ExistingConsumer<'_>],
    ) -> Result<Create, ApiError> {
        let req = decode_create(body.as_bytes(), true)?;
        let subject = CreateSubject::parse(subject).expect("a create subject");
        let limits = AccountLimits::default();
        let ctx = CreateContext {
            stream: (subject.stream() == stream.name).then_some(stream),
            consumers,
            account: &limits,
            server: ServerConsumerLimits::default(),
        };
        check_create(req, subject, &ctx)
    }

    fn new_config(result: Result<Create, ApiError>) -> (String, ConsumerConfig) {
        match result {
            Ok(Create::New { name, config }) => (name, config),
            other => panic!("expected a new consumer, got {other:?}"),
        }
    }

    /// The `config` nats-server returns in the create reply.
    fn reply_config(config: ConsumerConfig) -> String {
        to_go_json(&with_dynamic_metadata(config, "2.15.1"))
    }

    const META: &str =
        r#""metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}"#;

    #[test]
    fn create_subjects_parse_into_their_forms() {
        assert_eq!(
            CreateSubject::parse("$JS.API.CONSUMER.CREATE.S"),
            Some(CreateSubject::Legacy { stream: "S" })
        );
        assert_eq!(
            CreateSubject::parse("$JS.API.CONSUMER.CREATE.S.C"),
            Some(CreateSubject::Named {
                stream: "S",
                name: "C",
                filter: None
            })
        );
        assert_eq!(
            CreateSubject::parse("$JS.API.CONSUMER.CREATE.S.C.s.a.>"),
            Some(CreateSubject::Named {
                stream: "S",
                name: "C",
                filter: Some("s.a.>")
            })
        );
        assert_eq!(
            CreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.D"),
            Some(CreateSubject::Durable {
                stream: "S",
                durable: "D"
            })
        );
        assert_eq!(
            CreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S"),
            None
        );
        assert_eq!(CreateSubject::parse("$JS.API.CONSUMER.INFO.S.C"), None);
    }

    #[test]
    fn defaults_are_filled_like_nats_server() {
        // Each expected config is what nats-server 2.15.1 answered to the same request.
        let s = stream("S", RetentionPolicy::Limits);
        let cases = [
            (
                "$JS.API.CONSUMER.CREATE.S.D",
                r#"{"stream_name":"S","config":{"durable_name":"D"}}"#,
                format!(
                    r#"{{"durable_name":"D","name":"D","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.E",
                r#"{"stream_name":"S","config":{"ack_policy":"explicit"}}"#,
                format!(
                    r#"{{"name":"E","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"deliver_subject":"x.y"}}"#,
                format!(
                    r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"x.y","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"deliver_subject":"d","max_ack_pending":-7,"ack_policy":"explicit"}}"#,
                format!(
                    r#"{{"deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":-1,"deliver_subject":"d","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"max_deliver":-5,"max_waiting":-5,"max_batch":-1,"inactive_threshold":-5}}"#,
                format!(
                    r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"ack_policy":"explicit","backoff":[1000,2000]}}"#,
                format!(
                    r#"{{"deliver_policy":"all","ack_policy":"explicit","ack_wait":1000,"max_deliver":-1,"backoff":[1000,2000],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
                ),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"d","flow_control":true,"idle_heartbeat":2000000000}}"#,
                r#"{"deliver_policy":"all","ack_policy":"flow_control","max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"flow_control":true,"deliver_subject":"d","idle_heartbeat":1000000000,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"4","_nats.ver":"2.15.1"}}"#.to_string(),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"priority_policy":"pinned_client","priority_groups":["g"]}}"#,
                r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"1","_nats.ver":"2.15.1"},"priority_groups":["g"],"priority_policy":"pinned_client","priority_timeout":120000000000}"#.to_string(),
            ),
            (
                "$JS.API.CONSUMER.CREATE.S",
                r#"{"stream_name":"S","config":{"mem_storage":true,"headers_only":true,"max_batch":10,"max_expires":1000000000,"max_bytes":100,"description":"hi","sample_freq":"5","metadata":{"a":"b"}}}"#,
                r#"{"description":"hi","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","sample_freq":"5","max_waiting":512,"headers_only":true,"max_batch":10,"max_expires":1000000000,"max_bytes":100,"inactive_threshold":5000000000,"num_replicas":0,"mem_storage":true,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1","a":"b"}}"#.to_string(),
            ),
        ];
        for (subject, body, expected) in cases {
            let (_, config) = new_config(check(&s, subject, body, &[]));
            assert_eq!(reply_config(config), expected, "{body}");
        }
    }

    #[test]
    fn stream_consumer_limits_are_defaults_and_ceilings() {
        let mut l = stream("L", RetentionPolicy::Limits);
        l.consumer_limits = StreamConsumerLimits {
            inactive_threshold: 10_000_000_000,
            max_ack_pending: 10,
        };
        let (_, config) = new_config(check(
            &l,
            "$JS.API.CONSUMER.CREATE.L",
            r#"{"stream_name":"L","config":{"ack_policy":"explicit"}}"#,
            &[],
        ));
        assert_eq!(
            (config.max_ack_pending, config.inactive_threshold),
            (10, 10_000_000_000)
        );
        let cases = [
            (
                r#"{"stream_name":"L","config":{"inactive_threshold":20000000000}}"#,
                r#"{"code":400,"err_code":10153,"description":"consumer inactive threshold exceeds system limit of 10s"}"#,
            ),
            (
                r#"{"stream_name":"L","config":{"max_ack_pending":20}}"#,
                r#"{"code":400,"err_code":10121,"description":"consumer max ack pending exceeds system limit of 10"}"#,
            ),
            (
                r#"{"stream_name":"L","config":{"inactive_threshold":1},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_ack_pending must be set if it's configured in stream limits"}"#,
            ),
        ];
        for (body, expected) in cases {
            let err = check(&l, "$JS.API.CONSUMER.CREATE.L", body, &[]).unwrap_err();
            assert_eq!(to_go_json(&err), expected, "{body}");
        }
    }

    #[test]
    fn every_rule_refuses_with_nats_server_error() {
        // (subject, body, the error nats-server 2.15.1 answered) on stream S (`s.>`).
        let s = stream("S", RetentionPolicy::Limits);
        let legacy = "$JS.API.CONSUMER.CREATE.S";
        let cases: &[(&str, &str, &str)] = &[
            (
                legacy,
                r#"{"stream_name":"X","config":{}}"#,
                r#"{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.a\\b",
                r#"{"stream_name":"S","config":{}}"#,
                r#"{"code":400,"err_code":10127,"description":"Consumer name can not contain path separators"}"#,
            ),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.S.D1",
                r#"{"stream_name":"S","config":{}}"#,
                r#"{"code":400,"err_code":10018,"description":"consumer expected to be durable but a durable name was not set"}"#,
            ),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.S.D1",
                r#"{"stream_name":"S","config":{"durable_name":"D2"}}"#,
                r#"{"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N1",
                r#"{"stream_name":"S","config":{"durable_name":"D2"}}"#,
                r#"{"code":400,"err_code":10017,"description":"consumer name in subject does not match durable name in request"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"durable_name":"D2"}}"#,
                r#"{"code":400,"err_code":10020,"description":"consumer expected to be ephemeral but a durable name was set in request"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N2.s.a",
                r#"{"stream_name":"S","config":{"filter_subjects":["s.a"]}}"#,
                r#"{"code":400,"err_code":10137,"description":"consumer with multiple subject filters cannot use subject based API"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N2.s.a",
                r#"{"stream_name":"S","config":{}}"#,
                r#"{"code":400,"err_code":10131,"description":"Consumer create request did not match filtered subject from create subject"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N3",
                r#"{"stream_name":"S","config":{"num_replicas":3}}"#,
                r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.NOPE.N3",
                r#"{"stream_name":"NOPE","config":{}}"#,
                r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N3",
                r#"{"stream_name":"S","config":{"num_replicas":-1}}"#,
                r#"{"code":400,"err_code":10133,"description":"replicas count cannot be negative"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N3",
                r#"{"stream_name":"S","config":{"filter_subject":"s..a"}}"#,
                r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N4",
                r#"{"stream_name":"S","config":{"filter_subjects":["s.a","s.*"]}}"#,
                r#"{"code":400,"err_code":10138,"description":"consumer subject filters cannot overlap"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N4",
                r#"{"stream_name":"S","config":{"filter_subjects":["s.a","s.a"]}}"#,
                r#"{"code":400,"err_code":10138,"description":"consumer subject filters cannot overlap"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N4",
                r#"{"stream_name":"S","config":{"filter_subjects":["s.a",""]}}"#,
                r#"{"code":400,"err_code":10139,"description":"consumer filter in FilterSubjects cannot be empty"}"#,
            ),
            (
                "$JS.API.CONSUMER.CREATE.S.N4",
                r#"{"stream_name":"S","config":{"filter_subjects":["s.a"],"filter_subject":"s.b"}}"#,
                r#"{"code":400,"err_code":10136,"description":"consumer cannot have both FilterSubject and FilterSubjects specified"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"backoff":[1,2,3],"max_deliver":2}}"#,
                r#"{"code":400,"err_code":10116,"description":"max deliver is required to be \u003e length of backoff values"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"backoff":[-1]}}"#,
                r#"{"code":400,"err_code":10184,"description":"consumer backoff needs to be positive"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"ack_wait":-1}}"#,
                r#"{"code":400,"err_code":10183,"description":"consumer ack wait needs to be positive"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d.*"}}"#,
                r#"{"code":400,"err_code":10079,"description":"consumer deliver subject has wildcards"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d..x"}}"#,
                r#"{"code":400,"err_code":10112,"description":"invalid push consumer deliver subject"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"s.x"}}"#,
                r#"{"code":400,"err_code":10081,"description":"consumer deliver subject forms a cycle"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d","max_waiting":5}}"#,
                r#"{"code":400,"err_code":10080,"description":"consumer in push mode can not set max waiting"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d","max_ack_pending":5}}"#,
                r#"{"code":400,"err_code":10082,"description":"consumer requires ack policy for max ack pending"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d","idle_heartbeat":50000000}}"#,
                r#"{"code":400,"err_code":10083,"description":"consumer idle heartbeat needs to be \u003e= 100ms"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"rate_limit_bps":5}}"#,
                r#"{"code":400,"err_code":10086,"description":"consumer in pull mode can not have rate limit set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"idle_heartbeat":1000000000}}"#,
                r#"{"code":400,"err_code":10088,"description":"consumer idle heartbeat requires a push based consumer"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"flow_control":true}}"#,
                r#"{"code":400,"err_code":10089,"description":"consumer flow control requires a push based consumer"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_expires":1000}}"#,
                r#"{"code":400,"err_code":10115,"description":"consumer max request expires needs to be \u003e= 1ms"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_subject":"d","flow_control":true}}"#,
                r#"{"code":400,"err_code":10108,"description":"consumer with flow control also needs heartbeats"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"direct":true}}"#,
                r#"{"code":400,"err_code":10090,"description":"consumer direct requires a push based consumer"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"opt_start_seq":5}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver all, but optional start sequence is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"opt_start_time":"2026-01-01T00:00:00Z"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver all, but optional start time is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"last","opt_start_seq":5}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last, but optional start sequence is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"last_per_subject"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver last per subject, but optional filter subject is not set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"new","opt_start_time":"2026-01-01T00:00:00Z"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver new, but optional start time is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start sequence is not set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence","opt_start_seq":1,"opt_start_time":"2026-01-01T00:00:00Z"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start sequence, but optional start time is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start time, but optional start time is not set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2026-01-01T00:00:00Z"}}"#,
                r#"{"code":400,"err_code":10094,"description":"consumer delivery policy is deliver by start time, but optional start start sequence is also set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"sample_freq":"x"}}"#,
                r#"{"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: strconv.Atoi: parsing \"x\": invalid syntax"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"sample_freq":"-5%"}}"#,
                r#"{"code":400,"err_code":10095,"description":"failed to parse consumer sampling configuration: \u003cnil\u003e"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_policy":"overflow","deliver_subject":"d"}}"#,
                r#"{"code":400,"err_code":10178,"description":"priority groups can not be used with push consumers"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_policy":"overflow"}}"#,
                r#"{"code":400,"err_code":10159,"description":"Setting PriorityPolicy requires at least one PriorityGroup to be set"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_policy":"overflow","priority_groups":[""]}}"#,
                r#"{"code":400,"err_code":10161,"description":"Group name cannot be an empty string"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_policy":"overflow","priority_groups":["a.b"]}}"#,
                r#"{"code":400,"err_code":10162,"description":"Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_groups":["a"]}}"#,
                r#"{"code":400,"err_code":10196,"description":"consumer can not have priority groups when policy is none"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_timeout":5}}"#,
                r#"{"code":400,"err_code":10197,"description":"PinnedTTL cannot be set when PriorityPolicy is none"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"name":"a.b"}}"#,
                r#"{"code":500,"err_code":10052,"description":"consumer name can not contain '.', '*', '\u003e', '\\', '/'"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"ack_policy":"flow_control"}}"#,
                r#"{"code":400,"err_code":10218,"description":"flow control ack policy requires a push based consumer"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"d"},"pedantic":true}"#,
                r#"{"code":400,"err_code":10219,"description":"flow control ack policy requires flow control"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_deliver":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_deliver must be set to -1"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_waiting":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_waiting must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_ack_pending":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_ack_pending must be set to -1"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_batch":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_batch must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_expires":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_expires must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"max_bytes":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_bytes must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"idle_heartbeat":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: idle_heartbeat must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"inactive_threshold":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: inactive_threshold must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"priority_timeout":-5},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: priority_timeout must not be negative"}"#,
            ),
            (
                legacy,
                r#"{"stream_name":"S","config":{"backoff":[1000],"ack_policy":"explicit"},"pedantic":true}"#,
                r#"{"code":400,"err_code":10157,"description":"pedantic mode: first backoff value has to equal batch AckWait"}"#,
            ),
        ];
        for (subject, body, expected) in cases {
            let err = check(&s, subject, body, &[]).expect_err(body);
            assert_eq!(to_go_json(&err), *expected, "{subject} {body}");
        }
    }

    #[test]
    fn oversized_description_metadata_and_names_are_refused() {
        let s = stream("S", RetentionPolicy::Limits);
        let long = |n: usize| "x".repeat(n);
        let body = format!(
            r#"{{"stream_name":"S","config":{{"description":"{}"}}}}"#,
            long(4097)
        );
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S", &body, &[]).unwrap_err(),
            ApiError::consumer_description_too_long(4096)
        );
        let body = format!(
            r#"{{"stream_name":"S","config":{{"metadata":{{"k":"{}"}}}}}}"#,
            long(128 * 1024)
        );
        assert_eq!(
            to_go_json(&check(&s, "$JS.API.CONSUMER.CREATE.S", &body, &[]).unwrap_err()),
            r#"{"code":400,"err_code":10135,"description":"consumer metadata exceeds maximum size of 128KB"}"#
        );
        // A 256-byte ephemeral name passes the checks but its store directory can't be made.
        let body = format!(
            r#"{{"stream_name":"S","config":{{"name":"{}"}}}}"#,
            long(256)
        );
        assert_eq!(
            to_go_json(&check(&s, "$JS.API.CONSUMER.CREATE.S", &body, &[]).unwrap_err()),
            r#"{"code":500,"err_code":10012,"description":"error creating store for consumer"}"#
        );
        let subject = format!("$JS.API.CONSUMER.DURABLE.CREATE.S.{}", long(256));
        let body = format!(
            r#"{{"stream_name":"S","config":{{"durable_name":"{}"}}}}"#,
            long(256)
        );
        assert_eq!(
            to_go_json(&check(&s, &subject, &body, &[]).unwrap_err()),
            r#"{"code":400,"err_code":10102,"description":"consumer name is too long, maximum allowed is 255"}"#
        );
    }

    #[test]
    fn names_come_from_the_subject_and_ephemerals_get_eight_characters() {
        let s = stream("S", RetentionPolicy::Limits);
        let (name, config) = new_config(check(
            &s,
            "$JS.API.CONSUMER.CREATE.S.N1",
            r#"{"stream_name":"S","config":{"name":"OTHER"}}"#,
            &[],
        ));
        assert_eq!((name.as_str(), config.name.as_str()), ("N1", "N1"));
        let (name, config) = new_config(check(
            &s,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.D1",
            r#"{"stream_name":"S","config":{"durable_name":"D1","name":"X"}}"#,
            &[],
        ));
        assert_eq!((name.as_str(), config.name.as_str()), ("D1", "D1"));
        let (name, config) = new_config(check(
            &s,
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{}}"#,
            &[],
        ));
        assert_eq!(name.len(), EPHEMERAL_NAME_LEN);
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        assert_eq!(config.name, "", "a legacy ephemeral's config keeps no name");
    }

    #[test]
    fn a_create_on_an_existing_consumer_is_idempotent_or_an_update() {
        let s = stream("S", RetentionPolicy::Limits);
        let body = r#"{"stream_name":"S","config":{"durable_name":"D1"}}"#;
        let (name, stored) = new_config(check(&s, "$JS.API.CONSUMER.CREATE.S.D1", body, &[]));
        let existing = [ExistingConsumer {
            name: &name,
            config: &stored,
            push_bound: false,
        }];
        let again = |body: &str| check(&s, "$JS.API.CONSUMER.CREATE.S.D1", body, &existing);
        assert_eq!(again(body), Ok(Create::Existing { name: "D1".into() }));
        let create = r#"{"stream_name":"S","config":{"durable_name":"D1"},"action":"create"}"#;
        assert_eq!(again(create), Ok(Create::Existing { name: "D1".into() }));
        let changed = r#"{"stream_name":"S","config":{"durable_name":"D1","description":"x"},"action":"create"}"#;
        assert_eq!(
            again(changed).unwrap_err(),
            ApiError::consumer_already_exists()
        );
        let update = r#"{"stream_name":"S","config":{"durable_name":"D1","description":"x"},"action":"update"}"#;
        match again(update) {
            Ok(Create::Update { config, .. }) => assert_eq!(config.description, "x"),
            other => panic!("{other:?}"),
        }
        let missing = r#"{"stream_name":"S","config":{"durable_name":"D9"},"action":"update"}"#;
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.D9", missing, &existing).unwrap_err(),
            ApiError::consumer_does_not_exist()
        );
    }

    #[test]
    fn an_ephemeral_created_twice_with_action_create_already_exists() {
        // nats-server compares before stamping the 5 s inactive threshold on the request.
        let s = stream("S", RetentionPolicy::Limits);
        let body = r#"{"stream_name":"S","config":{},"action":"create"}"#;
        let (name, stored) = new_config(check(&s, "$JS.API.CONSUMER.CREATE.S.E1", body, &[]));
        let existing = [ExistingConsumer {
            name: &name,
            config: &stored,
            push_bound: false,
        }];
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.E1", body, &existing).unwrap_err(),
            ApiError::consumer_already_exists()
        );
        let plain = r#"{"stream_name":"S","config":{}}"#;
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.E1", plain, &existing),
            Ok(Create::Existing { name: "E1".into() })
        );
    }

    #[test]
    fn updates_may_not_change_what_nats_server_keeps() {
        let s = stream("S", RetentionPolicy::Limits);
        let pull = r#"{"stream_name":"S","config":{"durable_name":"D1"}}"#;
        let (_, pull_cfg) = new_config(check(&s, "$JS.API.CONSUMER.CREATE.S.D1", pull, &[]));
        let push = r#"{"stream_name":"S","config":{"durable_name":"P1","deliver_subject":"p1"}}"#;
        let (_, push_cfg) = new_config(check(&s, "$JS.API.CONSUMER.CREATE.S.P1", push, &[]));
        let existing = [
            ExistingConsumer {
                name: "D1",
                config: &pull_cfg,
                push_bound: false,
            },
            ExistingConsumer {
                name: "P1",
                config: &push_cfg,
                push_bound: false,
            },
        ];
        let cases = [
            (
                "D1",
                r#""deliver_policy":"new""#,
                "deliver policy can not be updated",
            ),
            (
                "D1",
                r#""mem_storage":true"#,
                "storage type can not be updated",
            ),
            (
                "D1",
                r#""ack_policy":"explicit""#,
                "ack policy can not be updated",
            ),
            (
                "D1",
                r#""replay_policy":"original""#,
                "replay policy can not be updated",
            ),
            (
                "D1",
                r#""deliver_subject":"x""#,
                "can not update pull consumer to push based",
            ),
            (
                "D1",
                r#""max_waiting":10"#,
                "max waiting can not be updated",
            ),
            (
                "P1",
                r#""deliver_subject":"p2","idle_heartbeat":1000000000"#,
                "heart beats can not be updated",
            ),
        ];
        for (name, fields, text) in cases {
            let body =
                format!(r#"{{"stream_name":"S","config":{{"durable_name":"{name}",{fields}}}}}"#);
            let subject = format!("$JS.API.CONSUMER.CREATE.S.{name}");
            let err = check(&s, &subject, &body, &existing).unwrap_err();
            assert_eq!(err, ApiError::consumer_create(text), "{body}");
        }
        let to_pull = r#"{"stream_name":"S","config":{"durable_name":"P1"}}"#;
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.P1", to_pull, &existing).unwrap_err(),
            ApiError::consumer_create("can not update push consumer to pull based")
        );
        let moved = r#"{"stream_name":"S","config":{"durable_name":"P1","deliver_subject":"p2"}}"#;
        assert!(matches!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.P1", moved, &existing),
            Ok(Create::Update { .. })
        ));
        let bound = [ExistingConsumer {
            push_bound: true,
            ..existing[1]
        }];
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.P1", moved, &bound).unwrap_err(),
            ApiError::consumer_name_exist()
        );
        let backoff =
            r#"{"stream_name":"S","config":{"durable_name":"D1","backoff":[1,2],"max_deliver":1}}"#;
        assert_eq!(
            check(&s, "$JS.API.CONSUMER.CREATE.S.D1", backoff, &existing).unwrap_err(),
            ApiError::consumer_max_deliver_backoff()
        );
        let allowed = r#"{"stream_name":"S","config":{"durable_name":"D1","max_deliver":5,"max_ack_pending":5,"filter_subject":"s.a","headers_only":true,"max_batch":5,"max_bytes":5,"max_expires":1000000000,"inactive_threshold":1000000000,"sample_freq":"5","metadata":{"a":"b"}}}"#;
        match check(&s, "$JS.API.CONSUMER.CREATE.S.D1", allowed, &existing) {
            Ok(Create::Update { config, .. }) => assert_eq!(
                reply_config(config),
                r#"{"durable_name":"D1","name":"D1","deliver_policy":"all","ack_policy":"none","max_deliver":5,"filter_subject":"s.a","replay_policy":"instant","sample_freq":"5","max_waiting":512,"max_ack_pending":5,"headers_only":true,"max_batch":5,"max_expires":1000000000,"max_bytes":5,"inactive_threshold":1000000000,"num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1","a":"b"}}"#
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn work_queue_streams_partition_their_consumers() {
        let w = stream("W", RetentionPolicy::WorkQueue);
        let subject = "$JS.API.CONSUMER.CREATE.W";
        let body = |config: &str| format!(r#"{{"stream_name":"W","config":{config}}}"#);
        let first = |config: &str| check(&w, subject, &body(config), &[]);
        assert_eq!(
            first("{}").unwrap_err(),
            ApiError::consumer_pull_requires_ack()
        );
        assert_eq!(
            first(r#"{"ack_policy":"all"}"#).unwrap_err(),
            ApiError::consumer_wq_requires_explicit_ack()
        );
        assert_eq!(
            first(r#"{"ack_policy":"explicit","deliver_policy":"new"}"#).unwrap_err(),
            ApiError::consumer_wq_consumer_not_deliver_all()
        );
        let (name, wa) = new_config(first(r#"{"ack_policy":"explicit","filter_subject":"w.a"}"#));
        let others = [ExistingConsumer {
            name: &name,
            config: &wa,
            push_bound: false,
        }];
        let next = |config: &str| check(&w, subject, &body(config), &others);
        assert_eq!(
            next(r#"{"ack_policy":"explicit"}"#).unwrap_err(),
            ApiError::consumer_wq_multiple_unfiltered()
        );
        assert_eq!(
            next(r#"{"ack_policy":"explicit","filter_subject":"w.*"}"#).unwrap_err(),
            ApiError::consumer_wq_consumer_not_unique()
        );
        assert!(matches!(
            next(r#"{"ack_policy":"explicit","filter_subject":"w.b"}"#),
            Ok(Create::New { .. })
        ));
        // Re-creating a named consumer onto another's partition.
        let named = check(
            &w,
            "$JS.API.CONSUMER.CREATE.W.WA",
            &body(r#"{"ack_policy":"explicit","filter_subject":"w.c"}"#),
            &[],
        );
        let (wa_name, wa_cfg) = new_config(named);
        let both = [
            others[0],
            ExistingConsumer {
                name: &wa_name,
                config: &wa_cfg,
                push_bound: false,
            },
        ];
        assert_eq!(
            check(
                &w,
                "$JS.API.CONSUMER.CREATE.W.WA",
                &body(r#"{"ack_policy":"explicit","filter_subject":"w.a"}"#),
                &both
            )
            .unwrap_err(),
            ApiError::consumer_wq_consumer_not_unique()
        );
    }

    #[test]
    fn max_consumers_counts_the_stream_consumers() {
        let mut s = stream("S", RetentionPolicy::Limits);
        s.max_consumers = 1;
        let body = r#"{"stream_name":"S","config":{"durable_name":"D1"}}"#;
        let (name, stored) = new_config(check(&s, "$JS.API.CONSUMER.CREATE.S.D1", body, &[]));
        let existing = [ExistingConsumer {
            name: &name,
            config: &stored,
            push_bound: false,
        }];
        // The existing consumer may still be re-created; a new one may not.
        assert!(check(&s, "$JS.API.CONSUMER.CREATE.S.D1", body, &existing).is_ok());
        assert_eq!(
            check(
                &s,
                "$JS.API.CONSUMER.CREATE.S.M1",
                r#"{"stream_name":"S","config":{}}"#,
                &existing
            )
            .unwrap_err(),
            ApiError::maximum_consumers_limit()
        );
    }

    #[test]
    fn group_names_follow_nats_server_pattern() {
        for ok in ["a", "A-b_c/d=e", "0123456789abcdef"] {
            assert!(is_valid_group_name(ok), "{ok}");
        }
        for bad in ["", "a.b", "0123456789abcdefg", "a b", "é"] {
            assert!(!is_valid_group_name(bad), "{bad}");
        }
    }
}
