//! Stream configuration rules: the defaults nats-server 2.15 fills in and every check it
//! makes on `STREAM.CREATE` and `STREAM.UPDATE`, in its order and with its error texts.
//!
//! Pure functions, no I/O: the API layer passes what they need to know about the account
//! in a [`ConfigContext`]. The order of the checks matters because clients see only the
//! first failure; it follows nats-server's create handler (`jsStreamCreateRequest`,
//! `addStream`, `checkStreamCfg`) and update handler (`jsStreamUpdateRequest`,
//! `configUpdateCheck`).
//!
//! natrium does not implement mirrors, sources, subject transforms or republish yet; a
//! config asking for them is refused with [`unsupported`] instead of being silently ignored.

use std::collections::BTreeMap;

use natrium_wire::{is_subset_match, subjects_overlap};

use super::errors::ApiError;
use super::types::{
    API_LEVEL, AccountLimits, DiscardPolicy, PersistMode, RetentionPolicy, StorageType,
    StreamConfig,
};

/// Longest stream name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest description in bytes (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Most metadata bytes, keys plus values (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Most replicas a config may ask for (`StreamMaxReplicas`).
pub const MAX_REPLICAS: i64 = 5;
/// The duplicate window when none is set: two minutes, in nanoseconds.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;

const MILLIS_100: i64 = 100_000_000;
const SECOND: i64 = 1_000_000_000;

/// Metadata key nats-server stores with the config: the API level the config needs.
pub const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";
/// Metadata key added to replies: the server version.
pub const SERVER_VERSION_KEY: &str = "_nats.ver";
/// Metadata key added to replies: the server's API level.
pub const SERVER_LEVEL_KEY: &str = "_nats.level";

/// What the checks need to know beyond the config itself.
#[derive(Debug, Clone, Copy)]
pub struct ConfigContext<'a> {
    /// The account's JetStream limits.
    pub limits: &'a AccountLimits,
    /// The server's memory store size (`max_memory_store`), bytes.
    pub server_max_memory: i64,
    /// The server's file store size (`max_file_store`), bytes.
    pub server_max_storage: i64,
    /// The account's streams as they are now (the one being updated included).
    pub existing: &'a [&'a StreamConfig],
}

/// The outcome of a successful create check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Create {
    /// Create a stream with this (normalised, static metadata set) config.
    New(Box<StreamConfig>),
    /// A stream with this name and an identical config exists: nats-server answers with
    /// its info (and still `"did_create":true`).
    Existing,
}

/// The error natrium gives for a stream feature it does not implement yet
/// (500/10052 like nats-server's other config refusals), e.g.
/// `"stream mirrors are not supported by natrium-server"`.
pub fn unsupported(feature: &str) -> ApiError {
    ApiError::stream_invalid_config(format!("{feature} not supported by natrium-server"))
}

/// nats-server's rule for stream names: not empty, at most [`MAX_NAME_LEN`] bytes, none of
/// `.`, `*`, `>`, `/`, `\` or whitespace.
pub fn check_stream_name(name: &str) -> Result<(), ApiError> {
    let bad = |c: char| {
        matches!(
            c,
            ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>' | '\\' | '/'
        )
    };
    if name.is_empty() || name.contains(bad) {
        return Err(ApiError::stream_invalid_config(
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::stream_invalid_config(format!(
            "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    Ok(())
}

/// The checks of `$JS.API.STREAM.CREATE.<subject_name>` after decoding, in nats-server's
/// order. `cfg` is the decoded body (its `pedantic` flag separately).
pub fn check_create(
    subject_name: &str,
    cfg: StreamConfig,
    pedantic: bool,
    ctx: &ConfigContext<'_>,
) -> Result<Create, ApiError> {
    let cfg = with_static_metadata(cfg);
    if subject_name != cfg.name {
        return Err(ApiError::stream_mismatch());
    }
    if subject_name.contains(['/', '\\']) {
        return Err(ApiError::stream_name_contains_path_separators());
    }
    if cfg.sealed {
        return Err(ApiError::stream_invalid_config(
            "stream configuration for create can not be sealed",
        ));
    }
    if cfg.mirror_direct && cfg.mirror.is_none() {
        return Err(ApiError::stream_invalid_config(
            "stream has no mirror but does have mirror direct",
        ));
    }
    // Account limits are checked on the config as sent, before any default is filled in.
    let others = || ctx.existing.iter().filter(|s| s.name != cfg.name);
    if ctx.limits.max_streams > 0 && others().count() as i64 >= ctx.limits.max_streams {
        return Err(ApiError::maximum_streams_limit());
    }
    // nats-server tells a stream too big for the account before one that does not fit.
    check_max_bytes(&cfg, ctx.limits)?;
    check_resources(&cfg, cfg.max_bytes, ctx)?;

    let cfg = normalize_and_check(cfg, pedantic, ctx.limits)?;
    if cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    if let Some(old) = ctx.existing.iter().find(|s| s.name == cfg.name) {
        let mut same = cfg.clone();
        same.metadata = copy_required_level(&cfg.metadata, &old.metadata);
        return if same == **old {
            Ok(Create::Existing)
        } else {
            Err(ApiError::stream_name_exist())
        };
    }
    check_resources(&cfg, cfg.max_bytes, ctx)?;
    if overlaps_other_streams(&cfg, ctx.existing) {
        return Err(ApiError::stream_subject_overlap());
    }
    Ok(Create::New(Box::new(cfg)))
}

/// The checks of `$JS.API.STREAM.UPDATE.<subject_name>` after decoding, in nats-server's
/// order: the new config on its own, the name in the subject, `old` (the current config of
/// the stream named in the subject, `None` when there is none: 404), then what may change.
/// Returns the config to apply (static metadata set).
pub fn check_update(
    subject_name: &str,
    old: Option<&StreamConfig>,
    new: StreamConfig,
    pedantic: bool,
    ctx: &ConfigContext<'_>,
) -> Result<StreamConfig, ApiError> {
    let new = normalize_and_check(new, pedantic, ctx.limits)?;
    if subject_name != new.name {
        return Err(ApiError::stream_mismatch());
    }
    let Some(old) = old else {
        return Err(ApiError::stream_not_found());
    };
    let new = check_changes(old, with_static_metadata(new), pedantic, ctx)?;
    let others: Vec<&StreamConfig> = ctx
        .existing
        .iter()
        .copied()
        .filter(|s| s.name != old.name)
        .collect();
    if overlaps_other_streams(&new, &others) {
        return Err(ApiError::stream_subject_overlap());
    }
    Ok(new)
}

/// nats-server's `configUpdateCheck`: which fields may change, and how.
fn check_changes(
    old: &StreamConfig,
    new: StreamConfig,
    pedantic: bool,
    ctx: &ConfigContext<'_>,
) -> Result<StreamConfig, ApiError> {
    let mut cfg = normalize_and_check(new, pedantic, ctx.limits)?;
    let invalid = |text: &str| Err(ApiError::stream_invalid_config(text));
    if cfg.name != old.name {
        return invalid("stream configuration name must match original");
    }
    if cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    if cfg.storage != old.storage {
        return invalid("stream configuration update can not change storage type");
    }
    if cfg.retention != old.retention
        && (old.retention == RetentionPolicy::WorkQueue
            || cfg.retention == RetentionPolicy::WorkQueue)
    {
        return invalid(
            "stream configuration update can not change retention policy to/from workqueue",
        );
    }
    if !cfg.sealed && old.sealed {
        return invalid("stream configuration update can not unseal a sealed stream");
    }
    if !cfg.deny_delete && old.deny_delete {
        return invalid("stream configuration update can not cancel deny message deletes");
    }
    if !cfg.deny_purge && old.deny_purge {
        return invalid("stream configuration update can not cancel deny purge");
    }
    if cfg.mirror.is_some() && cfg.mirror != old.mirror {
        return Err(ApiError::stream_mirror_not_updatable());
    }
    if old.allow_msg_ttl && !cfg.allow_msg_ttl {
        return invalid("message TTL status can not be disabled");
    }
    if cfg.allow_msg_counter != old.allow_msg_counter {
        return invalid("stream configuration update can not change message counter setting");
    }
    if old.allow_msg_schedules && !cfg.allow_msg_schedules {
        return invalid("message schedules can not be disabled");
    }
    if cfg.persist_mode != old.persist_mode {
        return invalid("stream configuration update can not change persist mode");
    }
    // Sealing settles the stream for good, even in pedantic mode.
    if cfg.sealed {
        cfg.max_age = 0;
        cfg.discard = DiscardPolicy::New;
        cfg.deny_delete = true;
        cfg.deny_purge = true;
        cfg.allow_rollup_hdrs = false;
    }
    // Only growth of max_bytes needs new room.
    let grow = (cfg.max_bytes.max(0) - old.max_bytes.max(0)).max(0);
    check_resources_excluding(&cfg, grow, cfg.max_bytes.max(0) - grow, &old.name, ctx)?;
    Ok(cfg)
}

/// nats-server's `checkStreamCfg`: fills in the defaults and validates a config on its own
/// (name, sizes, limits, durations, feature combinations, subjects), before anything is
/// compared with other streams. With `pedantic`, values nats-server would adjust are
/// refused instead.
pub fn normalize_and_check(
    mut cfg: StreamConfig,
    pedantic: bool,
    limits: &AccountLimits,
) -> Result<StreamConfig, ApiError> {
    let invalid = |text: &str| Err(ApiError::stream_invalid_config(text));
    check_stream_name(&cfg.name)?;
    if cfg.description.len() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::stream_invalid_config(format!(
            "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
        )));
    }
    let metadata_len: usize = cfg.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(ApiError::stream_invalid_config(format!(
            "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
        )));
    }

    if cfg.num_replicas == 0 {
        cfg.num_replicas = 1;
    }
    if cfg.num_replicas > MAX_REPLICAS {
        return Err(ApiError::stream_invalid_config(format!(
            "maximum replicas is {MAX_REPLICAS}"
        )));
    }
    if cfg.num_replicas < 0 {
        return Err(ApiError::replicas_count_cannot_be_negative());
    }
    for (value, field) in [
        (&mut cfg.max_msgs, "max_msgs"),
        (&mut cfg.max_msgs_per_subject, "max_msgs_per_subject"),
        (&mut cfg.max_bytes, "max_bytes"),
        (&mut cfg.max_consumers, "max_consumers"),
    ] {
        unlimited_as_minus_one(value, field, pedantic)?;
    }
    let mut max_msg_size = i64::from(cfg.max_msg_size);
    unlimited_as_minus_one(&mut max_msg_size, "max_msg_size", pedantic)?;
    cfg.max_msg_size = max_msg_size as i32;

    if cfg.max_age < 0 {
        return invalid("max age can not be negative");
    }
    if cfg.max_age != 0 && cfg.max_age < MILLIS_100 {
        return invalid("max age needs to be >= 100ms");
    }
    if cfg.duplicate_window == 0 && cfg.mirror.is_none() && cfg.sources.is_empty() {
        if cfg.max_age != 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW {
            if pedantic {
                return Err(ApiError::pedantic(
                    "duplicate window cannot be bigger than max age",
                ));
            }
            cfg.duplicate_window = cfg.max_age;
        } else {
            cfg.duplicate_window = DEFAULT_DUPLICATE_WINDOW;
        }
    }
    if cfg.duplicate_window < 0 {
        return invalid("duplicates window can not be negative");
    }
    if cfg.max_age != 0 && cfg.duplicate_window > cfg.max_age {
        return invalid("duplicates window can not be larger then max age");
    }
    if cfg.duplicate_window > 0 && cfg.duplicate_window < MILLIS_100 {
        return invalid("duplicates window needs to be >= 100ms");
    }

    if cfg.deny_purge && cfg.allow_rollup_hdrs {
        return invalid("roll-ups require the purge permission");
    }
    if cfg.allow_msg_counter {
        if cfg.discard == DiscardPolicy::New {
            return invalid("counter stream cannot use discard new");
        }
        if cfg.allow_msg_ttl {
            return invalid("counter stream cannot use message TTLs");
        }
        if cfg.allow_msg_schedules {
            return invalid("counter stream cannot use message schedules");
        }
        if cfg.retention != RetentionPolicy::Limits {
            return invalid("counter stream can only use limits retention");
        }
    }
    if cfg.discard_new_per_subject {
        if cfg.discard != DiscardPolicy::New {
            return invalid("discard new per subject requires discard new policy to be set");
        }
        if cfg.max_msgs_per_subject <= 0 {
            return invalid("discard new per subject requires max msgs per subject > 0");
        }
    }
    if cfg.subject_delete_marker_ttl > 0 {
        if cfg.subject_delete_marker_ttl < SECOND {
            return invalid("subject delete marker TTL must be at least 1 second");
        }
        if !cfg.allow_msg_ttl {
            if pedantic {
                return invalid("subject delete marker cannot be set if message TTLs are disabled");
            }
            cfg.allow_msg_ttl = true;
        }
        if !cfg.allow_rollup_hdrs {
            if pedantic {
                return invalid("subject delete marker cannot be set if roll-ups are disabled");
            }
            cfg.allow_rollup_hdrs = true;
            cfg.deny_purge = false;
        }
    } else if cfg.subject_delete_marker_ttl < 0 {
        return invalid("subject delete marker TTL must not be negative");
    }
    if cfg.allow_msg_schedules {
        if cfg.discard == DiscardPolicy::New {
            return invalid("message scheduling cannot use discard new");
        }
        if !cfg.allow_rollup_hdrs {
            if pedantic {
                return invalid("message scheduling cannot be set if roll-ups are disabled");
            }
            cfg.allow_rollup_hdrs = true;
            cfg.deny_purge = false;
        }
    }
    if cfg.persist_mode == PersistMode::Async {
        if cfg.storage != StorageType::File {
            return invalid("async persist mode is only supported on file storage");
        }
        if cfg.num_replicas > 1 {
            return invalid("async persist mode is not supported on replicated streams");
        }
        if cfg.allow_atomic {
            return invalid("async persist mode is not supported with atomic batch publish");
        }
    }

    // Where nats-server would validate mirrors and sources, natrium refuses them.
    if cfg.mirror.is_some() {
        return Err(unsupported("stream mirrors are"));
    }
    if !cfg.sources.is_empty() {
        return Err(unsupported("stream sources are"));
    }

    if cfg.subjects.is_empty() {
        cfg.subjects.push(cfg.name.clone());
    } else {
        check_subjects(&cfg)?;
    }

    check_max_bytes(&cfg, limits)?;

    if cfg.subject_transform.is_some() {
        return Err(unsupported("stream subject transforms are"));
    }
    if cfg.republish.is_some() {
        return Err(unsupported("stream republish is"));
    }

    if cfg.placement.as_ref().is_some_and(|p| p.is_empty()) {
        cfg.placement = None;
    }
    if cfg
        .placement
        .as_ref()
        .is_some_and(|p| !p.preferred.is_empty())
    {
        return invalid("preferred server not permitted in placement");
    }
    Ok(cfg)
}

/// `0` and values below `-1` mean unlimited (`-1`); pedantic mode refuses the latter.
fn unlimited_as_minus_one(value: &mut i64, field: &str, pedantic: bool) -> Result<(), ApiError> {
    if *value == 0 || *value < -1 {
        if pedantic && *value < -1 {
            return Err(ApiError::pedantic(format!("{field} must be set to -1")));
        }
        *value = -1;
    }
    Ok(())
}

/// Subject rules of `checkStreamCfg`: valid, capturing everything only with no-ack, not
/// overlapping the JetStream/system API unless no-ack, no overlap among themselves.
fn check_subjects(cfg: &StreamConfig) -> Result<(), ApiError> {
    let invalid = |text: &str| Err(ApiError::stream_invalid_config(text));
    for (i, subject) in cfg.subjects.iter().enumerate() {
        if !natrium_wire::is_valid_subject(subject.as_bytes()) {
            return invalid("invalid subject");
        }
        if cfg.subjects[..i].contains(subject) {
            return invalid("duplicate subjects detected");
        }
        if subject == ">" {
            if !cfg.no_ack {
                return invalid("capturing all subjects requires no-ack to be true");
            }
            if cfg.num_replicas != 1 {
                return invalid("capturing all subjects requires replicas of 1");
            }
        }
        if !cfg.no_ack {
            for api in ["$JS.>", "$JSC.>", "$NRG.>"] {
                // Streams on $JS.EVENT.> predate this rule and stay allowed.
                if subjects_overlap(subject.as_bytes(), api.as_bytes())
                    && !is_subset_match(subject.as_bytes(), b"$JS.EVENT.>")
                {
                    return invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    );
                }
            }
            if subjects_overlap(subject.as_bytes(), b"$SYS.>")
                && !is_subset_match(subject.as_bytes(), b"$SYS.ACCOUNT.>")
            {
                return invalid("subjects that overlap with system api require no-ack to be true");
            }
        }
        for later in &cfg.subjects[i + 1..] {
            if subjects_overlap(later.as_bytes(), subject.as_bytes()) {
                return Err(ApiError::stream_invalid_config(format!(
                    "subject {subject:?} overlaps with {later:?}"
                )));
            }
        }
    }
    Ok(())
}

fn overlaps_other_streams(cfg: &StreamConfig, others: &[&StreamConfig]) -> bool {
    others.iter().filter(|s| s.name != cfg.name).any(|other| {
        other.subjects.iter().any(|theirs| {
            cfg.subjects
                .iter()
                .any(|ours| subjects_overlap(ours.as_bytes(), theirs.as_bytes()))
        })
    })
}

/// The account's rules for a stream's `max_bytes`: required, and at most the account's
/// largest stream of its storage type.
fn check_max_bytes(cfg: &StreamConfig, limits: &AccountLimits) -> Result<(), ApiError> {
    let max_stream_bytes = match cfg.storage {
        StorageType::Memory => limits.memory_max_stream_bytes,
        StorageType::File => limits.storage_max_stream_bytes,
    };
    if limits.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(ApiError::stream_max_bytes_required());
    }
    if max_stream_bytes > 0 && cfg.max_bytes > max_stream_bytes {
        return Err(ApiError::stream_max_stream_bytes_exceeded());
    }
    Ok(())
}

/// Room for a stream's `max_bytes` in the account and on the server (`checkBytesLimits`):
/// `add` bytes (`1` when unlimited) on top of what the other streams of the same storage
/// type reserve.
fn check_resources(cfg: &StreamConfig, add: i64, ctx: &ConfigContext<'_>) -> Result<(), ApiError> {
    if ctx.limits.max_consumers > 0 && cfg.max_consumers > ctx.limits.max_consumers {
        return Err(ApiError::maximum_consumers_limit());
    }
    check_resources_excluding(cfg, add, 0, &cfg.name, ctx)
}

fn check_resources_excluding(
    cfg: &StreamConfig,
    add: i64,
    extra_reserved: i64,
    exclude: &str,
    ctx: &ConfigContext<'_>,
) -> Result<(), ApiError> {
    let add = if add < 0 { 1 } else { add };
    let reserved: i64 = ctx
        .existing
        .iter()
        .filter(|s| s.name != exclude && s.storage == cfg.storage && s.max_bytes > 0)
        .map(|s| s.max_bytes)
        .fold(extra_reserved, i64::saturating_add);
    let (account_max, server_max, error): (i64, i64, fn() -> ApiError) = match cfg.storage {
        StorageType::Memory => (
            ctx.limits.max_memory,
            ctx.server_max_memory,
            ApiError::memory_resources_exceeded,
        ),
        StorageType::File => (
            ctx.limits.max_storage,
            ctx.server_max_storage,
            ApiError::storage_resources_exceeded,
        ),
    };
    if account_max >= 0 && (reserved > account_max || add > account_max - reserved) {
        return Err(error());
    }
    if reserved > server_max || add > server_max - reserved {
        return Err(error());
    }
    Ok(())
}

/// The config as nats-server stores it: `_nats.req.level` set to the API level its
/// features need, the reply-only keys removed.
pub fn with_static_metadata(mut cfg: StreamConfig) -> StreamConfig {
    cfg.metadata.remove(SERVER_VERSION_KEY);
    cfg.metadata.remove(SERVER_LEVEL_KEY);
    let mut level = 0;
    if cfg.allow_msg_ttl || cfg.subject_delete_marker_ttl > 0 {
        level = 1;
    }
    if cfg.allow_msg_counter
        || cfg.allow_atomic
        || cfg.allow_msg_schedules
        || cfg.persist_mode == PersistMode::Async
    {
        level = 2;
    }
    if cfg.allow_batched {
        level = 4;
    }
    cfg.metadata
        .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
    cfg
}

/// The config as create, update and info replies show it: with `_nats.ver` (the version
/// natrium reports) and `_nats.level`. `STREAM.LIST` shows the stored config instead.
pub fn with_dynamic_metadata(mut cfg: StreamConfig, version: &str) -> StreamConfig {
    cfg.metadata
        .insert(SERVER_VERSION_KEY.to_string(), version.to_string());
    cfg.metadata
        .insert(SERVER_LEVEL_KEY.to_string(), API_LEVEL.to_string());
    cfg
}

/// For comparing a create request with the stored config: the request's metadata with the
/// stored `_nats.req.level` (`copyStreamMetadata`).
fn copy_required_level(
    new: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut metadata = new.clone();
    metadata.remove(SERVER_VERSION_KEY);
    metadata.remove(SERVER_LEVEL_KEY);
    match old.get(REQUIRED_LEVEL_KEY) {
        Some(level) => {
            metadata.insert(REQUIRED_LEVEL_KEY.to_string(), level.clone());
        }
        None => {
            metadata.remove(REQUIRED_LEVEL_KEY);
        }
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::types::{StreamConfigRequest, decode_request, to_go_json};

    const BIG: i64 = 1 << 40;

    fn ctx<'a>(limits: &'a AccountLimits, existing: &'a [&'a StreamConfig]) -> ConfigContext<'a> {
        ConfigContext {
            limits,
            server_max_memory: BIG,
            server_max_storage: BIG,
            existing,
        }
    }

    /// Decodes `body` as nats-server would and runs the create checks against `existing`.
    fn create_in(
        existing: &[&StreamConfig],
        subject_name: &str,
        body: &str,
    ) -> Result<Create, ApiError> {
        let limits = AccountLimits::default();
        let req: StreamConfigRequest = decode_request(body.as_bytes(), true)?;
        check_create(
            subject_name,
            req.config,
            req.pedantic,
            &ctx(&limits, existing),
        )
    }

    fn create(body: &str) -> Result<Create, ApiError> {
        let name = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| "E".to_string());
        create_in(&[], &name, body)
    }

    fn created(body: &str) -> StreamConfig {
        match create(body) {
            Ok(Create::New(cfg)) => *cfg,
            other => panic!("{body}: {other:?}"),
        }
    }

    /// The `error` object nats-server 2.15.1 answered, as JSON.
    fn error_json(result: Result<Create, ApiError>) -> String {
        to_go_json(&result.expect_err("expected an error"))
    }

    /// Each body with the error nats-server 2.15.1 gave for it on STREAM.CREATE.E
    /// (recorded from the real server).
    const CREATE_ERRORS: &[(&str, &str)] = &[
        (
            r#"{"name":"E","subjects":["a b"]}"#,
            r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
        ),
        (
            r#"{"name":"E","subjects":["a.*.>.b"]}"#,
            r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
        ),
        (
            r#"{"name":"E","subjects":[""]}"#,
            r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
        ),
        (
            r#"{"name":"E","subjects":["a","a"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subject \"a\" overlaps with \"a\""}"#,
        ),
        (
            r#"{"name":"E","subjects":["a.*","a.b"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subject \"a.*\" overlaps with \"a.b\""}"#,
        ),
        (
            r#"{"name":"E","subjects":[">"]}"#,
            r#"{"code":500,"err_code":10052,"description":"capturing all subjects requires no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["$JS.API.>"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with jetstream api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["$JS.>"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with jetstream api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["$JSC.x"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with jetstream api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["$NRG.x"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with jetstream api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["*.API.x"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with jetstream api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","subjects":["$SYS.x"]}"#,
            r#"{"code":500,"err_code":10052,"description":"subjects that overlap with system api require no-ack to be true"}"#,
        ),
        (
            r#"{"name":"E","num_replicas":3}"#,
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
        ),
        (
            r#"{"name":"E","num_replicas":6}"#,
            r#"{"code":500,"err_code":10052,"description":"maximum replicas is 5"}"#,
        ),
        (
            r#"{"name":"E","num_replicas":-1}"#,
            r#"{"code":400,"err_code":10133,"description":"replicas count cannot be negative"}"#,
        ),
        (
            r#"{"name":"E","max_age":-1}"#,
            r#"{"code":500,"err_code":10052,"description":"max age can not be negative"}"#,
        ),
        (
            r#"{"name":"E","max_age":5}"#,
            r#"{"code":500,"err_code":10052,"description":"max age needs to be \u003e= 100ms"}"#,
        ),
        (
            r#"{"name":"E","duplicate_window":-1}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicates window can not be negative"}"#,
        ),
        (
            r#"{"name":"E","duplicate_window":5}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicates window needs to be \u003e= 100ms"}"#,
        ),
        (
            r#"{"name":"E","max_age":60000000000,"duplicate_window":120000000000}"#,
            r#"{"code":500,"err_code":10052,"description":"duplicates window can not be larger then max age"}"#,
        ),
        (
            r#"{"name":"E","deny_purge":true,"allow_rollup_hdrs":true}"#,
            r#"{"code":500,"err_code":10052,"description":"roll-ups require the purge permission"}"#,
        ),
        (
            r#"{"name":"E","discard_new_per_subject":true}"#,
            r#"{"code":500,"err_code":10052,"description":"discard new per subject requires discard new policy to be set"}"#,
        ),
        (
            r#"{"name":"E","discard_new_per_subject":true,"discard":"new"}"#,
            r#"{"code":500,"err_code":10052,"description":"discard new per subject requires max msgs per subject \u003e 0"}"#,
        ),
        (
            r#"{"name":"E","subject_delete_marker_ttl":5}"#,
            r#"{"code":500,"err_code":10052,"description":"subject delete marker TTL must be at least 1 second"}"#,
        ),
        (
            r#"{"name":"E","subject_delete_marker_ttl":-5}"#,
            r#"{"code":500,"err_code":10052,"description":"subject delete marker TTL must not be negative"}"#,
        ),
        (
            r#"{"name":"E","sealed":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration for create can not be sealed"}"#,
        ),
        (
            r#"{"name":"E","mirror_direct":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream has no mirror but does have mirror direct"}"#,
        ),
        (
            r#"{"name":"E","placement":{"preferred":"x"}}"#,
            r#"{"code":500,"err_code":10052,"description":"preferred server not permitted in placement"}"#,
        ),
        (
            r#"{"name":"E","allow_msg_counter":true,"discard":"new"}"#,
            r#"{"code":500,"err_code":10052,"description":"counter stream cannot use discard new"}"#,
        ),
        (
            r#"{"name":"E","persist_mode":"async","storage":"memory"}"#,
            r#"{"code":500,"err_code":10052,"description":"async persist mode is only supported on file storage"}"#,
        ),
        (
            r#"{"name":"E","max_msgs":-5,"pedantic":true}"#,
            r#"{"code":400,"err_code":10157,"description":"pedantic mode: max_msgs must be set to -1"}"#,
        ),
        (
            r#"{"name":"E","max_age":1000000000,"pedantic":true}"#,
            r#"{"code":400,"err_code":10157,"description":"pedantic mode: duplicate window cannot be bigger than max age"}"#,
        ),
        (
            r#"{"name":"E","subject_delete_marker_ttl":1000000000,"pedantic":true}"#,
            r#"{"code":500,"err_code":10052,"description":"subject delete marker cannot be set if message TTLs are disabled"}"#,
        ),
        (
            r#"{"name":"E","storage":"memory","max_bytes":99999999999999}"#,
            r#"{"code":500,"err_code":10028,"description":"insufficient memory resources available"}"#,
        ),
    ];

    #[test]
    fn create_errors_match_nats_server() {
        for (body, expected) in CREATE_ERRORS {
            assert_eq!(&error_json(create(body)), expected, "{body}");
        }
    }

    #[test]
    fn subject_and_body_names_must_agree() {
        let mismatch = r#"{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}"#;
        for body in [r#"{"name":"E.x"}"#, r#"{"name":""}"#, "{}", ""] {
            assert_eq!(error_json(create_in(&[], "E", body)), mismatch, "{body:?}");
        }
        let separators = r#"{"code":400,"err_code":10128,"description":"Stream name can not contain path separators"}"#;
        assert_eq!(
            error_json(create_in(&[], "a/b", r#"{"name":"a/b"}"#)),
            separators
        );
        assert_eq!(
            error_json(create_in(&[], "a\\b", r#"{"name":"a\\b"}"#)),
            separators
        );
    }

    #[test]
    fn bad_names_are_refused_like_nats_server() {
        let bad = r#"{"code":500,"err_code":10052,"description":"stream name is required and can not contain '.', '*', '\u003e', '\\', '/'"}"#;
        for name in ["*", ">", "a.b", "a b", "a\tb", ""] {
            assert_eq!(
                to_go_json(&check_stream_name(name).unwrap_err()),
                bad,
                "{name:?}"
            );
        }
        // The wildcard names reach the config check when published to `...CREATE.*`.
        assert_eq!(error_json(create_in(&[], "*", r#"{"name":"*"}"#)), bad);
        let long = "n".repeat(256);
        assert_eq!(
            error_json(create_in(&[], &long, &format!(r#"{{"name":"{long}"}}"#))),
            r#"{"code":500,"err_code":10052,"description":"stream name is too long, maximum allowed is 255"}"#
        );
        assert!(check_stream_name(&"n".repeat(255)).is_ok());
        assert!(check_stream_name("ORDERS-1_x").is_ok());
    }

    #[test]
    fn long_descriptions_and_metadata_are_refused() {
        let body = format!(r#"{{"name":"E","description":"{}"}}"#, "x".repeat(4097));
        assert_eq!(
            error_json(create(&body)),
            r#"{"code":500,"err_code":10052,"description":"stream description is too long, maximum allowed is 4096"}"#
        );
        let body = format!(
            r#"{{"name":"E","metadata":{{"a":"{}"}}}}"#,
            "x".repeat(MAX_METADATA_LEN)
        );
        assert_eq!(
            error_json(create(&body)),
            r#"{"code":500,"err_code":10052,"description":"stream metadata exceeds maximum size of 131072 bytes"}"#
        );
    }

    #[test]
    fn defaults_are_filled_in_like_nats_server() {
        let cfg = with_dynamic_metadata(created(r#"{"name":"S1"}"#), "2.15.1");
        // The config nats-server 2.15.1 returned for this body.
        assert_eq!(
            to_go_json(&cfg),
            r#"{"name":"S1","subjects":["S1"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#
        );
    }

    #[test]
    fn duplicate_window_is_capped_to_max_age() {
        let cfg = created(r#"{"name":"E","max_age":1000000000}"#);
        assert_eq!(
            (cfg.max_age, cfg.duplicate_window),
            (1_000_000_000, 1_000_000_000)
        );
        let cfg = created(r#"{"name":"E","max_age":600000000000}"#);
        assert_eq!(cfg.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
    }

    #[test]
    fn accepted_configs_match_nats_server() {
        // Bodies nats-server 2.15.1 accepted.
        for body in [
            r#"{"name":"E","subjects":[">"],"no_ack":true}"#,
            r#"{"name":"E","subjects":["$JS.EVENT.foo"]}"#,
            r#"{"name":"E","subjects":["$SYS.ACCOUNT.x"]}"#,
            r#"{"name":"E","discard":"NEW"}"#,
            r#"{"NAME":"E"}"#,
            r#"{"name":"E","max_bytes":1}"#,
            r#"{"name":"E","first_seq":5}"#,
            r#"{"name":"E","metadata":{"a":"b"}}"#,
        ] {
            created(body);
        }
    }

    #[test]
    fn subject_delete_markers_turn_on_ttls_and_rollups() {
        let cfg =
            created(r#"{"name":"E","subject_delete_marker_ttl":1000000000,"deny_purge":true}"#);
        assert!(cfg.allow_msg_ttl && cfg.allow_rollup_hdrs && !cfg.deny_purge);
        assert_eq!(cfg.metadata[REQUIRED_LEVEL_KEY], "1");
    }

    #[test]
    fn unsupported_features_are_refused_clearly() {
        for (body, text) in [
            (
                r#"{"name":"E","mirror":{"name":"S1"}}"#,
                "stream mirrors are not supported by natrium-server",
            ),
            (
                r#"{"name":"E","sources":[{"name":"S1"}]}"#,
                "stream sources are not supported by natrium-server",
            ),
            (
                r#"{"name":"E","subject_transform":{"src":"E","dest":"x"}}"#,
                "stream subject transforms are not supported by natrium-server",
            ),
            (
                r#"{"name":"E","republish":{"src":">","dest":"x.>"}}"#,
                "stream republish is not supported by natrium-server",
            ),
        ] {
            assert_eq!(
                create(body).unwrap_err(),
                ApiError::new(500, 10052, text),
                "{body}"
            );
        }
    }

    #[test]
    fn identical_create_is_idempotent_and_a_different_one_refused() {
        let s1 = created(r#"{"name":"S1","subjects":["S1"]}"#);
        assert_eq!(
            create_in(&[&s1], "S1", r#"{"name":"S1"}"#),
            Ok(Create::Existing)
        );
        assert_eq!(
            error_json(create_in(&[&s1], "S1", r#"{"name":"S1","max_msgs":5}"#)),
            r#"{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}"#
        );
    }

    #[test]
    fn subjects_may_not_overlap_another_stream() {
        let s1 = created(r#"{"name":"S1","subjects":["orders.*"]}"#);
        let overlap = r#"{"code":400,"err_code":10065,"description":"subjects overlap with an existing stream"}"#;
        for subjects in [
            r#"["orders.new"]"#,
            r#"["orders.>"]"#,
            r#"[">"]"#,
            r#"["*.*"]"#,
        ] {
            let body = format!(r#"{{"name":"S2","subjects":{subjects},"no_ack":true}}"#);
            assert_eq!(
                error_json(create_in(&[&s1], "S2", &body)),
                overlap,
                "{subjects}"
            );
        }
        let body = r#"{"name":"S2","subjects":["orders.new.x","orders"]}"#;
        assert!(matches!(create_in(&[&s1], "S2", body), Ok(Create::New(_))));
    }

    #[test]
    fn account_limits_are_enforced() {
        let s1 = created(r#"{"name":"S1"}"#);
        let existing = [&s1];
        let limits = AccountLimits {
            max_streams: 1,
            max_consumers: 10,
            memory_max_stream_bytes: 1000,
            ..AccountLimits::default()
        };
        let check = |body: &str| {
            let req: StreamConfigRequest = decode_request(body.as_bytes(), true).unwrap();
            check_create(
                &req.config.name.clone(),
                req.config,
                false,
                &ctx(&limits, &existing),
            )
        };
        assert_eq!(
            check(r#"{"name":"S2"}"#),
            Err(ApiError::maximum_streams_limit())
        );
        // Re-creating the existing stream does not count against max_streams.
        assert_eq!(check(r#"{"name":"S1"}"#), Ok(Create::Existing));
        let limits = AccountLimits {
            max_consumers: 10,
            memory_max_stream_bytes: 1000,
            ..AccountLimits::default()
        };
        let check = |body: &str| {
            let req: StreamConfigRequest = decode_request(body.as_bytes(), true).unwrap();
            check_create(
                &req.config.name.clone(),
                req.config,
                false,
                &ctx(&limits, &[]),
            )
        };
        assert_eq!(
            check(r#"{"name":"S2","max_consumers":11}"#),
            Err(ApiError::maximum_consumers_limit())
        );
        assert_eq!(
            check(r#"{"name":"S2","storage":"memory","max_bytes":1001}"#),
            Err(ApiError::stream_max_stream_bytes_exceeded())
        );
        let required = AccountLimits {
            max_bytes_required: true,
            ..AccountLimits::default()
        };
        let req: StreamConfigRequest = decode_request(br#"{"name":"S2"}"#, true).unwrap();
        assert_eq!(
            check_create("S2", req.config, false, &ctx(&required, &[])),
            Err(ApiError::stream_max_bytes_required())
        );
    }

    #[test]
    fn server_store_size_bounds_reservations() {
        let limits = AccountLimits::default();
        let small = ConfigContext {
            server_max_memory: 0,
            server_max_storage: 1000,
            ..ctx(&limits, &[])
        };
        let req = |body: &str| {
            decode_request::<StreamConfigRequest>(body.as_bytes(), true)
                .unwrap()
                .config
        };
        // max_memory_store: 0 leaves no room even for an unlimited memory stream.
        assert_eq!(
            check_create(
                "M",
                req(r#"{"name":"M","storage":"memory"}"#),
                false,
                &small
            ),
            Err(ApiError::memory_resources_exceeded())
        );
        assert_eq!(
            check_create("F", req(r#"{"name":"F","max_bytes":1001}"#), false, &small),
            Err(ApiError::storage_resources_exceeded())
        );
        let f = req(r#"{"name":"F","max_bytes":600}"#);
        let existing = [&f];
        let with_f = ConfigContext {
            existing: &existing,
            ..small
        };
        assert_eq!(
            check_create("G", req(r#"{"name":"G","max_bytes":500}"#), false, &with_f),
            Err(ApiError::storage_resources_exceeded())
        );
        assert!(check_create("G", req(r#"{"name":"G","max_bytes":400}"#), false, &with_f).is_ok());
    }

    fn stream_u() -> StreamConfig {
        created(r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true}"#)
    }

    fn update_in(
        old: &StreamConfig,
        existing: &[&StreamConfig],
        subject_name: &str,
        body: &str,
    ) -> Result<StreamConfig, ApiError> {
        let limits = AccountLimits::default();
        let req: StreamConfigRequest = decode_request(body.as_bytes(), true)?;
        let old = (old.name == subject_name).then_some(old);
        check_update(
            subject_name,
            old,
            req.config,
            req.pedantic,
            &ctx(&limits, existing),
        )
    }

    /// Update bodies for stream U (`subjects ["u.>"], deny_delete, allow_msg_ttl`) with the
    /// error nats-server 2.15.1 gave.
    const UPDATE_ERRORS: &[(&str, &str)] = &[
        (
            r#"{"name":"U","subjects":["u.>"],"storage":"memory","deny_delete":true,"allow_msg_ttl":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration update can not change storage type"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"],"retention":"workqueue","deny_delete":true,"allow_msg_ttl":true}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration update can not change retention policy to/from workqueue"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"]}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration update can not cancel deny message deletes"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"],"deny_delete":true}"#,
            r#"{"code":500,"err_code":10052,"description":"message TTL status can not be disabled"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true,"num_replicas":3}"#,
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#,
        ),
        (
            r#"{"name":"X","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true}"#,
            r#"{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true,"allow_msg_counter":true}"#,
            r#"{"code":500,"err_code":10052,"description":"counter stream cannot use message TTLs"}"#,
        ),
        (
            r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true,"persist_mode":"async"}"#,
            r#"{"code":500,"err_code":10052,"description":"stream configuration update can not change persist mode"}"#,
        ),
        (
            r#"{"name":"U","subjects":["x y"]}"#,
            r#"{"code":500,"err_code":10052,"description":"invalid subject"}"#,
        ),
        (
            "",
            r#"{"code":500,"err_code":10052,"description":"stream name is required and can not contain '.', '*', '\u003e', '\\', '/'"}"#,
        ),
    ];

    #[test]
    fn update_errors_match_nats_server() {
        let u = stream_u();
        for (body, expected) in UPDATE_ERRORS {
            let err = update_in(&u, &[&u], "U", body).expect_err(body);
            assert_eq!(&to_go_json(&err), expected, "{body}");
        }
    }

    #[test]
    fn updates_nats_server_allows() {
        let u = stream_u();
        for body in [
            r#"{"name":"U","subjects":["u.>"],"retention":"interest","deny_delete":true,"allow_msg_ttl":true}"#,
            r#"{"name":"U","subjects":["u.>","v"],"deny_delete":true,"allow_msg_ttl":true,"max_msgs":10}"#,
        ] {
            update_in(&u, &[&u], "U", body).expect(body);
        }
    }

    #[test]
    fn sealing_settles_the_stream_and_cannot_be_undone() {
        let u = stream_u();
        let sealed = update_in(
            &u,
            &[&u],
            "U",
            r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true,"sealed":true,"max_age":1000000000,"allow_rollup_hdrs":true}"#,
        )
        .unwrap();
        assert!(
            sealed.sealed && sealed.deny_delete && sealed.deny_purge && !sealed.allow_rollup_hdrs
        );
        assert_eq!((sealed.max_age, sealed.discard), (0, DiscardPolicy::New));
        let err = update_in(&sealed, &[&sealed], "U", r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"deny_purge":true,"allow_msg_ttl":true}"#).unwrap_err();
        assert_eq!(
            err.description,
            "stream configuration update can not unseal a sealed stream"
        );
    }

    #[test]
    fn update_of_a_missing_stream_is_not_found_and_overlap_is_checked() {
        let u = stream_u();
        assert_eq!(
            update_in(&u, &[&u], "NF", r#"{"name":"NF"}"#),
            Err(ApiError::stream_not_found())
        );
        let s1 = created(r#"{"name":"S1"}"#);
        let body =
            r#"{"name":"U","subjects":["u.>","S1"],"deny_delete":true,"allow_msg_ttl":true}"#;
        assert_eq!(
            update_in(&u, &[&u, &s1], "U", body),
            Err(ApiError::stream_subject_overlap())
        );
        let cancel_purge = created(r#"{"name":"P","deny_purge":true}"#);
        let err = update_in(&cancel_purge, &[&cancel_purge], "P", r#"{"name":"P"}"#).unwrap_err();
        assert_eq!(
            err.description,
            "stream configuration update can not cancel deny purge"
        );
    }

    #[test]
    fn required_api_level_follows_the_features() {
        assert_eq!(created(r#"{"name":"E"}"#).metadata[REQUIRED_LEVEL_KEY], "0");
        assert_eq!(
            created(r#"{"name":"E","allow_msg_ttl":true}"#).metadata[REQUIRED_LEVEL_KEY],
            "1"
        );
        assert_eq!(
            created(r#"{"name":"E","allow_atomic":true}"#).metadata[REQUIRED_LEVEL_KEY],
            "2"
        );
        assert_eq!(
            created(r#"{"name":"E","allow_batched":true}"#).metadata[REQUIRED_LEVEL_KEY],
            "4"
        );
        let shown = with_dynamic_metadata(created(r#"{"name":"E"}"#), "0.1.0");
        let stored = with_static_metadata(shown);
        assert_eq!(
            stored.metadata.keys().collect::<Vec<_>>(),
            [REQUIRED_LEVEL_KEY]
        );
    }
}
