//! Stream configuration rules (defaults and validation), as nats-server 2.15 applies them.

use super::errors::ApiError;
use super::types::{MsgGetRequest, StreamConfig};

/// nats-server's default duplicate window: two minutes.
const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;

/// The name rule: no `.`, `*`, `>`, whitespace or path separators, not empty.
pub(crate) fn check_stream_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace())
    {
        return Err(ApiError::stream_invalid_config(
            "stream name is required and can not contain '.', '*', '>'",
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(ApiError::stream_name_contains_path_separators());
    }
    Ok(())
}

/// Fills nats-server's defaults into a new stream's configuration and checks it against the
/// rules and the other streams.
pub(crate) fn check_create(
    mut cfg: StreamConfig,
    _pedantic: bool,
    others: &[StreamConfig],
) -> Result<StreamConfig, ApiError> {
    check_stream_name(&cfg.name)?;
    if cfg.mirror.is_some() || !cfg.sources.is_empty() {
        return Err(ApiError::stream_invalid_config(
            "mirrors and sources are not supported by natrium-server yet",
        ));
    }
    if cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    if cfg.num_replicas < 0 {
        return Err(ApiError::replicas_count_cannot_be_negative());
    }
    cfg.num_replicas = 1;
    if cfg.subjects.is_empty() {
        cfg.subjects = vec![cfg.name.clone()];
    }
    for subject in &cfg.subjects {
        if !natrium_wire::is_valid_subscribe_subject(subject.as_bytes()) {
            return Err(ApiError::stream_invalid_config(format!(
                "invalid subject \"{subject}\""
            )));
        }
        if natrium_wire::subjects_overlap(subject.as_bytes(), b"$JS.API.>") {
            return Err(ApiError::stream_invalid_config(
                "subjects that overlap with jetstream api require no-ack to be true",
            ));
        }
    }
    for other in others {
        let overlap = cfg.subjects.iter().any(|a| {
            other
                .subjects
                .iter()
                .any(|b| natrium_wire::subjects_overlap(a.as_bytes(), b.as_bytes()))
        });
        if overlap {
            return Err(ApiError::stream_subject_overlap());
        }
    }
    for limit in [
        &mut cfg.max_msgs,
        &mut cfg.max_bytes,
        &mut cfg.max_msgs_per_subject,
        &mut cfg.max_consumers,
    ] {
        if *limit == 0 {
            *limit = -1;
        }
    }
    if cfg.max_msg_size == 0 {
        cfg.max_msg_size = -1;
    }
    if cfg.max_age < 0 {
        return Err(ApiError::stream_invalid_config("max age needs to be >= 0"));
    }
    if cfg.duplicate_window == 0 {
        cfg.duplicate_window = if cfg.max_age > 0 {
            cfg.max_age.min(DEFAULT_DUPLICATE_WINDOW)
        } else {
            DEFAULT_DUPLICATE_WINDOW
        };
    } else if cfg.max_age > 0 && cfg.duplicate_window > cfg.max_age {
        return Err(ApiError::stream_invalid_config(
            "duplicates window can not be larger then max age",
        ));
    }
    let level = if cfg.allow_msg_ttl || cfg.subject_delete_marker_ttl > 0 {
        "1"
    } else {
        "0"
    };
    cfg.metadata
        .insert("_nats.req.level".to_owned(), level.to_owned());
    Ok(cfg)
}

/// Checks an update of `old` to `new` and fills its defaults.
pub(crate) fn check_update(
    old: &StreamConfig,
    new: StreamConfig,
    pedantic: bool,
    others: &[StreamConfig],
) -> Result<StreamConfig, ApiError> {
    let new = check_create(new, pedantic, others)?;
    if new.storage != old.storage {
        return Err(ApiError::stream_invalid_config(
            "stream configuration update can not change storage type",
        ));
    }
    if new.retention != old.retention {
        return Err(ApiError::stream_invalid_config(
            "stream configuration update can not change retention policy",
        ));
    }
    if old.sealed && !new.sealed {
        return Err(ApiError::stream_invalid_config(
            "stream configuration update can not unseal a sealed stream",
        ));
    }
    Ok(new)
}

/// Whether two configurations describe the same stream (creating it again is then fine).
pub(crate) fn same_config(a: &StreamConfig, b: &StreamConfig) -> bool {
    a == b
}

/// The configuration as create, update and info replies show it: with the server's
/// version and API level in its metadata.
pub(crate) fn with_dynamic_metadata(mut cfg: StreamConfig) -> StreamConfig {
    cfg.metadata.insert(
        "_nats.level".to_owned(),
        super::types::API_LEVEL.to_string(),
    );
    cfg.metadata
        .insert("_nats.ver".to_owned(), crate::VERSION.to_owned());
    cfg
}

/// The configuration as `STREAM.LIST` shows it: only the stored metadata.
pub(crate) fn with_list_metadata(cfg: StreamConfig) -> StreamConfig {
    cfg
}

/// A `STREAM.MSG.GET` request names exactly one way to find a message.
pub(crate) fn check_msg_get(req: &MsgGetRequest) -> Result<(), ApiError> {
    let ways = [
        req.seq > 0 && req.next_by_subj.is_empty(),
        !req.last_by_subj.is_empty(),
        !req.next_by_subj.is_empty(),
    ];
    if ways.iter().filter(|w| **w).count() != 1 {
        return Err(ApiError::bad_request());
    }
    Ok(())
}
