//! JetStream API errors, exactly as nats-server 2.15 reports them.
//!
//! Every JetStream API reply that fails carries
//! `"error":{"code":<http-like status>,"err_code":<JetStream code>,"description":<text>}`.
//! Clients (async-nats, nats.go) match on `err_code`, so the numbers and texts here are
//! nats-server's (its `server/errors.json`), one constructor per error. The names are the
//! nats-server identifiers in snake_case without the `JS` prefix and `Err`/`ErrF` suffix
//! (`JSStreamNotFoundErr` is [`ApiError::stream_not_found`]); `{placeholders}` in the
//! text become arguments. Consumer and clustering errors come with those features.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error in a JetStream API reply or a publish acknowledgement.
///
/// Serialises as nats-server does: `{"code":404,"err_code":10059,"description":"stream not found"}`
/// (`err_code` and `description` are left out when zero or empty, which nats-server never
/// sends for a JetStream error but does for plain status errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{description} ({err_code})")]
pub struct ApiError {
    /// The HTTP-like status: 400, 404, 409, 412, 429, 500 or 503.
    pub code: u16,
    /// The JetStream error code (10000 and up) clients match on.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub err_code: u16,
    /// The human-readable text, with its placeholders filled in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero(value: &u16) -> bool {
    *value == 0
}

// The whole catalogue is kept, used or not, so that a new code path takes nats-server's
// exact number and text instead of inventing one.
#[allow(dead_code)]
impl ApiError {
    /// An error with the given numbers and text; prefer the named constructors.
    pub fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// `JSAccountResourcesExceededErr` (400/10002): "resource limits exceeded for account".
    pub fn account_resources_exceeded() -> Self {
        Self::new(400, 10002, "resource limits exceeded for account")
    }

    /// `JSBadRequestErr` (400/10003): "bad request".
    pub fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }

    /// `JSClusterNotAvailErr` (503/10008): "JetStream system temporarily unavailable".
    pub fn cluster_not_avail() -> Self {
        Self::new(503, 10008, "JetStream system temporarily unavailable")
    }

    /// `JSClusterRequiredErr` (503/10010): "JetStream clustering support required".
    pub fn cluster_required() -> Self {
        Self::new(503, 10010, "JetStream clustering support required")
    }

    /// `JSStreamExternalApiOverlapErrF` (400/10021): "stream external api prefix {prefix} must not overlap with {subject}".
    pub fn stream_external_api_overlap(
        prefix: impl fmt::Display,
        subject: impl fmt::Display,
    ) -> Self {
        Self::new(
            400,
            10021,
            format!("stream external api prefix {prefix} must not overlap with {subject}"),
        )
    }

    /// `JSStreamExternalDelPrefixOverlapsErrF` (400/10022): "stream external delivery prefix {prefix} overlaps with stream subject {subject}".
    pub fn stream_external_del_prefix_overlaps(
        prefix: impl fmt::Display,
        subject: impl fmt::Display,
    ) -> Self {
        Self::new(
            400,
            10022,
            format!(
                "stream external delivery prefix {prefix} overlaps with stream subject {subject}"
            ),
        )
    }

    /// `JSInsufficientResourcesErr` (503/10023): "insufficient resources".
    pub fn insufficient_resources() -> Self {
        Self::new(503, 10023, "insufficient resources")
    }

    /// `JSStreamInvalidExternalDeliverySubjErrF` (400/10024): "stream external delivery prefix {prefix} must not contain wildcards".
    pub fn stream_invalid_external_delivery_subj(prefix: impl fmt::Display) -> Self {
        Self::new(
            400,
            10024,
            format!("stream external delivery prefix {prefix} must not contain wildcards"),
        )
    }

    /// `JSInvalidJSONErr` (400/10025): "invalid JSON: {err}".
    pub fn invalid_json(err: impl fmt::Display) -> Self {
        Self::new(400, 10025, format!("invalid JSON: {err}"))
    }

    /// `JSMaximumConsumersLimitErr` (400/10026): "maximum consumers limit reached".
    pub fn maximum_consumers_limit() -> Self {
        Self::new(400, 10026, "maximum consumers limit reached")
    }

    /// `JSMaximumStreamsLimitErr` (400/10027): "maximum number of streams reached".
    pub fn maximum_streams_limit() -> Self {
        Self::new(400, 10027, "maximum number of streams reached")
    }

    /// `JSMemoryResourcesExceededErr` (500/10028): "insufficient memory resources available".
    pub fn memory_resources_exceeded() -> Self {
        Self::new(500, 10028, "insufficient memory resources available")
    }

    /// `JSMirrorConsumerSetupFailedErrF` (500/10029): "{err}".
    pub fn mirror_consumer_setup_failed(err: impl fmt::Display) -> Self {
        Self::new(500, 10029, format!("{err}"))
    }

    /// `JSMirrorMaxMessageSizeTooBigErr` (400/10030): "stream mirror must have max message size >= source".
    pub fn mirror_max_message_size_too_big() -> Self {
        Self::new(
            400,
            10030,
            "stream mirror must have max message size >= source",
        )
    }

    /// `JSMirrorWithSourcesErr` (400/10031): "stream mirrors can not also contain other sources".
    pub fn mirror_with_sources() -> Self {
        Self::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }

    /// `JSMirrorWithStartSeqAndTimeErr` (400/10032): "stream mirrors can not have both start seq and start time configured".
    pub fn mirror_with_start_seq_and_time() -> Self {
        Self::new(
            400,
            10032,
            "stream mirrors can not have both start seq and start time configured",
        )
    }

    /// `JSMirrorWithSubjectFiltersErr` (400/10033): "stream mirrors can not contain filtered subjects".
    pub fn mirror_with_subject_filters() -> Self {
        Self::new(
            400,
            10033,
            "stream mirrors can not contain filtered subjects",
        )
    }

    /// `JSMirrorWithSubjectsErr` (400/10034): "stream mirrors can not contain subjects".
    pub fn mirror_with_subjects() -> Self {
        Self::new(400, 10034, "stream mirrors can not contain subjects")
    }

    /// `JSNoAccountErr` (503/10035): "account not found".
    pub fn no_account() -> Self {
        Self::new(503, 10035, "account not found")
    }

    /// `JSClusterUnSupportFeatureErr` (503/10036): "not currently supported in clustered mode".
    pub fn cluster_unsupport_feature() -> Self {
        Self::new(503, 10036, "not currently supported in clustered mode")
    }

    /// `JSNoMessageFoundErr` (404/10037): "no message found".
    pub fn no_message_found() -> Self {
        Self::new(404, 10037, "no message found")
    }

    /// `JSNotEmptyRequestErr` (400/10038): "expected an empty request payload".
    pub fn not_empty_request() -> Self {
        Self::new(400, 10038, "expected an empty request payload")
    }

    /// `JSNotEnabledForAccountErr` (503/10039): "JetStream not enabled for account".
    pub fn jetstream_not_enabled_for_account() -> Self {
        Self::new(503, 10039, "JetStream not enabled for account")
    }

    /// `JSSequenceNotFoundErrF` (400/10043): "sequence {seq} not found".
    pub fn sequence_not_found(seq: impl fmt::Display) -> Self {
        Self::new(400, 10043, format!("sequence {seq} not found"))
    }

    /// `JSSourceConsumerSetupFailedErrF` (500/10045): "{err}".
    pub fn source_consumer_setup_failed(err: impl fmt::Display) -> Self {
        Self::new(500, 10045, format!("{err}"))
    }

    /// `JSSourceMaxMessageSizeTooBigErr` (400/10046): "stream source must have max message size >= target".
    pub fn source_max_message_size_too_big() -> Self {
        Self::new(
            400,
            10046,
            "stream source must have max message size >= target",
        )
    }

    /// `JSStorageResourcesExceededErr` (500/10047): "insufficient storage resources available".
    pub fn storage_resources_exceeded() -> Self {
        Self::new(500, 10047, "insufficient storage resources available")
    }

    /// `JSStreamAssignmentErrF` (500/10048): "{err}".
    pub fn stream_assignment(err: impl fmt::Display) -> Self {
        Self::new(500, 10048, format!("{err}"))
    }

    /// `JSStreamCreateErrF` (500/10049): "{err}".
    pub fn stream_create(err: impl fmt::Display) -> Self {
        Self::new(500, 10049, format!("{err}"))
    }

    /// `JSStreamDeleteErrF` (500/10050): "{err}".
    pub fn stream_delete(err: impl fmt::Display) -> Self {
        Self::new(500, 10050, format!("{err}"))
    }

    /// `JSStreamGeneralErrorF` (500/10051): "{err}".
    pub fn stream_general_error(err: impl fmt::Display) -> Self {
        Self::new(500, 10051, format!("{err}"))
    }

    /// `JSStreamInvalidConfigF` (500/10052): "{err}".
    pub fn stream_invalid_config(err: impl fmt::Display) -> Self {
        Self::new(500, 10052, format!("{err}"))
    }

    /// `JSStreamLimitsErrF` (500/10053): "{err}".
    pub fn stream_limits(err: impl fmt::Display) -> Self {
        Self::new(500, 10053, format!("{err}"))
    }

    /// `JSStreamMessageExceedsMaximumErr` (400/10054): "message size exceeds maximum allowed".
    pub fn stream_message_exceeds_maximum() -> Self {
        Self::new(400, 10054, "message size exceeds maximum allowed")
    }

    /// `JSStreamMirrorNotUpdatableErr` (400/10055): "stream mirror configuration can not be updated".
    pub fn stream_mirror_not_updatable() -> Self {
        Self::new(400, 10055, "stream mirror configuration can not be updated")
    }

    /// `JSStreamMismatchErr` (400/10056): "stream name in subject does not match request".
    pub fn stream_mismatch() -> Self {
        Self::new(400, 10056, "stream name in subject does not match request")
    }

    /// `JSStreamMsgDeleteFailedF` (500/10057): "{err}".
    pub fn stream_msg_delete_failed(err: impl fmt::Display) -> Self {
        Self::new(500, 10057, format!("{err}"))
    }

    /// `JSStreamNameExistErr` (400/10058): "stream name already in use with a different configuration".
    pub fn stream_name_exist() -> Self {
        Self::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }

    /// `JSStreamNotFoundErr` (404/10059): "stream not found".
    pub fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }

    /// `JSStreamNotMatchErr` (400/10060): "expected stream does not match".
    pub fn stream_not_match() -> Self {
        Self::new(400, 10060, "expected stream does not match")
    }

    /// `JSStreamReplicasNotUpdatableErr` (400/10061): "Replicas configuration can not be updated".
    pub fn stream_replicas_not_updatable() -> Self {
        Self::new(400, 10061, "Replicas configuration can not be updated")
    }

    /// `JSStreamRestoreErrF` (500/10062): "restore failed: {err}".
    pub fn stream_restore(err: impl fmt::Display) -> Self {
        Self::new(500, 10062, format!("restore failed: {err}"))
    }

    /// `JSStreamSequenceNotMatchErr` (503/10063): "expected stream sequence does not match".
    pub fn stream_sequence_not_match() -> Self {
        Self::new(503, 10063, "expected stream sequence does not match")
    }

    /// `JSStreamSnapshotErrF` (500/10064): "snapshot failed: {err}".
    pub fn stream_snapshot(err: impl fmt::Display) -> Self {
        Self::new(500, 10064, format!("snapshot failed: {err}"))
    }

    /// `JSStreamSubjectOverlapErr` (400/10065): "subjects overlap with an existing stream".
    pub fn stream_subject_overlap() -> Self {
        Self::new(400, 10065, "subjects overlap with an existing stream")
    }

    /// `JSStreamUpdateErrF` (500/10069): "{err}".
    pub fn stream_update(err: impl fmt::Display) -> Self {
        Self::new(500, 10069, format!("{err}"))
    }

    /// `JSStreamWrongLastMsgIDErrF` (400/10070): "wrong last msg ID: {id}".
    pub fn stream_wrong_last_msg_id(id: impl fmt::Display) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {id}"))
    }

    /// `JSStreamWrongLastSequenceErrF` (400/10071): "wrong last sequence: {seq}".
    pub fn stream_wrong_last_sequence(seq: impl fmt::Display) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {seq}"))
    }

    /// `JSStreamReplicasNotSupportedErr` (500/10074): "replicas > 1 not supported in non-clustered mode".
    pub fn stream_replicas_not_supported() -> Self {
        Self::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }

    /// `JSNotEnabledErr` (503/10076): "JetStream not enabled".
    pub fn jetstream_not_enabled() -> Self {
        Self::new(503, 10076, "JetStream not enabled")
    }

    /// `JSStreamStoreFailedF` (503/10077): "{err}".
    pub fn stream_store_failed(err: impl fmt::Display) -> Self {
        Self::new(503, 10077, format!("{err}"))
    }

    /// `JSStreamInvalidErr` (500/10096): "stream not valid".
    pub fn stream_invalid() -> Self {
        Self::new(500, 10096, "stream not valid")
    }

    /// `JSStreamHeaderExceedsMaximumErr` (400/10097): "header size exceeds maximum allowed of 64k".
    pub fn stream_header_exceeds_maximum() -> Self {
        Self::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }

    /// `JSStreamSealedErr` (400/10109): "invalid operation on sealed stream".
    pub fn stream_sealed() -> Self {
        Self::new(400, 10109, "invalid operation on sealed stream")
    }

    /// `JSStreamPurgeFailedF` (500/10110): "{err}".
    pub fn stream_purge_failed(err: impl fmt::Display) -> Self {
        Self::new(500, 10110, format!("{err}"))
    }

    /// `JSStreamRollupFailedF` (500/10111): "{err}".
    pub fn stream_rollup_failed(err: impl fmt::Display) -> Self {
        Self::new(500, 10111, format!("{err}"))
    }

    /// `JSStreamMaxBytesRequired` (400/10113): "account requires a stream config to have max bytes set".
    pub fn stream_max_bytes_required() -> Self {
        Self::new(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }

    /// `JSStreamInfoMaxSubjectsErr` (500/10117): "subject details would exceed maximum allowed".
    pub fn stream_info_max_subjects() -> Self {
        Self::new(500, 10117, "subject details would exceed maximum allowed")
    }

    /// `JSStreamOfflineErr` (500/10118): "stream is offline".
    pub fn stream_offline() -> Self {
        Self::new(500, 10118, "stream is offline")
    }

    /// `JSNoLimitsErr` (400/10120): "no JetStream default or applicable tiered limit present".
    pub fn no_limits() -> Self {
        Self::new(
            400,
            10120,
            "no JetStream default or applicable tiered limit present",
        )
    }

    /// `JSStreamMaxStreamBytesExceeded` (400/10122): "stream max bytes exceeds account limit max stream bytes".
    pub fn stream_max_stream_bytes_exceeded() -> Self {
        Self::new(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }

    /// `JSStreamMoveAndScaleErr` (400/10123): "can not move and scale a stream in a single update".
    pub fn stream_move_and_scale() -> Self {
        Self::new(
            400,
            10123,
            "can not move and scale a stream in a single update",
        )
    }

    /// `JSStreamMoveInProgressErr` (400/10124): "stream move already in progress".
    pub fn stream_move_in_progress() -> Self {
        Self::new(400, 10124, "stream move already in progress")
    }

    /// `JSStreamNameContainsPathSeparatorsErr` (400/10128): "Stream name can not contain path separators".
    pub fn stream_name_contains_path_separators() -> Self {
        Self::new(400, 10128, "Stream name can not contain path separators")
    }

    /// `JSStreamReconfigureNotInProgressErr` (400/10129): "stream reconfiguration not in progress".
    pub fn stream_reconfigure_not_in_progress() -> Self {
        Self::new(400, 10129, "stream reconfiguration not in progress")
    }

    /// `JSStreamNameExistRestoreFailedErr` (400/10130): "stream name already in use, cannot restore".
    pub fn stream_name_exist_restore_failed() -> Self {
        Self::new(400, 10130, "stream name already in use, cannot restore")
    }

    /// `JSReplicasCountCannotBeNegative` (400/10133): "replicas count cannot be negative".
    pub fn replicas_count_cannot_be_negative() -> Self {
        Self::new(400, 10133, "replicas count cannot be negative")
    }

    /// `JSSourceDuplicateDetected` (400/10140): "duplicate source configuration detected".
    pub fn source_duplicate_detected() -> Self {
        Self::new(400, 10140, "duplicate source configuration detected")
    }

    /// `JSSourceInvalidStreamName` (400/10141): "sourced stream name is invalid".
    pub fn source_invalid_stream_name() -> Self {
        Self::new(400, 10141, "sourced stream name is invalid")
    }

    /// `JSMirrorInvalidStreamName` (400/10142): "mirrored stream name is invalid".
    pub fn mirror_invalid_stream_name() -> Self {
        Self::new(400, 10142, "mirrored stream name is invalid")
    }

    /// `JSMirrorWithFirstSeqErr` (400/10143): "stream mirrors can not have first sequence configured".
    pub fn mirror_with_first_seq() -> Self {
        Self::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }

    /// `JSSourceMultipleFiltersNotAllowed` (400/10144): "source with multiple subject transforms cannot also have a single subject filter".
    pub fn source_multiple_filters_not_allowed() -> Self {
        Self::new(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `JSSourceInvalidSubjectFilter` (400/10145): "source transform source: {err}".
    pub fn source_invalid_subject_filter(err: impl fmt::Display) -> Self {
        Self::new(400, 10145, format!("source transform source: {err}"))
    }

    /// `JSSourceInvalidTransformDestination` (400/10146): "source transform: {err}".
    pub fn source_invalid_transform_destination(err: impl fmt::Display) -> Self {
        Self::new(400, 10146, format!("source transform: {err}"))
    }

    /// `JSSourceOverlappingSubjectFilters` (400/10147): "source filters can not overlap".
    pub fn source_overlapping_subject_filters() -> Self {
        Self::new(400, 10147, "source filters can not overlap")
    }

    /// `JSMirrorMultipleFiltersNotAllowed` (400/10150): "mirror with multiple subject transforms cannot also have a single subject filter".
    pub fn mirror_multiple_filters_not_allowed() -> Self {
        Self::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `JSMirrorInvalidSubjectFilter` (400/10151): "mirror transform source: {err}".
    pub fn mirror_invalid_subject_filter(err: impl fmt::Display) -> Self {
        Self::new(400, 10151, format!("mirror transform source: {err}"))
    }

    /// `JSMirrorOverlappingSubjectFilters` (400/10152): "mirror subject filters can not overlap".
    pub fn mirror_overlapping_subject_filters() -> Self {
        Self::new(400, 10152, "mirror subject filters can not overlap")
    }

    /// `JSMirrorInvalidTransformDestination` (400/10154): "mirror transform: {err}".
    pub fn mirror_invalid_transform_destination(err: impl fmt::Display) -> Self {
        Self::new(400, 10154, format!("mirror transform: {err}"))
    }

    /// `JSStreamTransformInvalidSource` (400/10155): "stream transform source: {err}".
    pub fn stream_transform_invalid_source(err: impl fmt::Display) -> Self {
        Self::new(400, 10155, format!("stream transform source: {err}"))
    }

    /// `JSStreamTransformInvalidDestination` (400/10156): "stream transform: {err}".
    pub fn stream_transform_invalid_destination(err: impl fmt::Display) -> Self {
        Self::new(400, 10156, format!("stream transform: {err}"))
    }

    /// `JSPedanticErrF` (400/10157): "pedantic mode: {err}".
    pub fn pedantic(err: impl fmt::Display) -> Self {
        Self::new(400, 10157, format!("pedantic mode: {err}"))
    }

    /// `JSStreamDuplicateMessageConflict` (409/10158): "duplicate message id is in process".
    pub fn stream_duplicate_message_conflict() -> Self {
        Self::new(409, 10158, "duplicate message id is in process")
    }

    /// `JSStreamExpectedLastSeqPerSubjectNotReady` (503/10163): "expected last sequence per subject temporarily unavailable".
    pub fn stream_expected_last_seq_per_subject_not_ready() -> Self {
        Self::new(
            503,
            10163,
            "expected last sequence per subject temporarily unavailable",
        )
    }

    /// `JSStreamWrongLastSequenceConstantErr` (400/10164): "wrong last sequence".
    pub fn stream_wrong_last_sequence_constant() -> Self {
        Self::new(400, 10164, "wrong last sequence")
    }

    /// `JSMessageTTLInvalidErr` (400/10165): "invalid per-message TTL".
    pub fn message_ttl_invalid() -> Self {
        Self::new(400, 10165, "invalid per-message TTL")
    }

    /// `JSMessageTTLDisabledErr` (400/10166): "per-message TTL is disabled".
    pub fn message_ttl_disabled() -> Self {
        Self::new(400, 10166, "per-message TTL is disabled")
    }

    /// `JSStreamTooManyRequests` (429/10167): "too many requests".
    pub fn stream_too_many_requests() -> Self {
        Self::new(429, 10167, "too many requests")
    }

    /// `JSMessageIncrDisabledErr` (400/10168): "message counters is disabled".
    pub fn message_incr_disabled() -> Self {
        Self::new(400, 10168, "message counters is disabled")
    }

    /// `JSMessageIncrMissingErr` (400/10169): "message counter increment is missing".
    pub fn message_incr_missing() -> Self {
        Self::new(400, 10169, "message counter increment is missing")
    }

    /// `JSMessageIncrPayloadErr` (400/10170): "message counter has payload".
    pub fn message_incr_payload() -> Self {
        Self::new(400, 10170, "message counter has payload")
    }

    /// `JSMessageIncrInvalidErr` (400/10171): "message counter increment is invalid".
    pub fn message_incr_invalid() -> Self {
        Self::new(400, 10171, "message counter increment is invalid")
    }

    /// `JSMessageCounterBrokenErr` (400/10172): "message counter is broken".
    pub fn message_counter_broken() -> Self {
        Self::new(400, 10172, "message counter is broken")
    }

    /// `JSMirrorWithCountersErr` (400/10173): "stream mirrors can not also calculate counters".
    pub fn mirror_with_counters() -> Self {
        Self::new(400, 10173, "stream mirrors can not also calculate counters")
    }

    /// `JSAtomicPublishDisabledErr` (400/10174): "atomic publish is disabled".
    pub fn atomic_publish_disabled() -> Self {
        Self::new(400, 10174, "atomic publish is disabled")
    }

    /// `JSAtomicPublishMissingSeqErr` (400/10175): "atomic publish sequence is missing".
    pub fn atomic_publish_missing_seq() -> Self {
        Self::new(400, 10175, "atomic publish sequence is missing")
    }

    /// `JSAtomicPublishIncompleteBatchErr` (400/10176): "atomic publish batch is incomplete".
    pub fn atomic_publish_incomplete_batch() -> Self {
        Self::new(400, 10176, "atomic publish batch is incomplete")
    }

    /// `JSAtomicPublishUnsupportedHeaderBatchErr` (400/10177): "atomic publish unsupported header used: {header}".
    pub fn atomic_publish_unsupported_header_batch(header: impl fmt::Display) -> Self {
        Self::new(
            400,
            10177,
            format!("atomic publish unsupported header used: {header}"),
        )
    }

    /// `JSAtomicPublishInvalidBatchIDErr` (400/10179): "atomic publish batch ID is invalid".
    pub fn atomic_publish_invalid_batch_id() -> Self {
        Self::new(400, 10179, "atomic publish batch ID is invalid")
    }

    /// `JSStreamMinLastSeqErr` (412/10180): "min last sequence".
    pub fn stream_min_last_seq() -> Self {
        Self::new(412, 10180, "min last sequence")
    }

    /// `JSRequiredApiLevelErr` (412/10185): "JetStream minimum api level required".
    pub fn required_api_level() -> Self {
        Self::new(412, 10185, "JetStream minimum api level required")
    }

    /// `JSMirrorWithMsgSchedulesErr` (400/10186): "stream mirrors can not also schedule messages".
    pub fn mirror_with_msg_schedules() -> Self {
        Self::new(400, 10186, "stream mirrors can not also schedule messages")
    }

    /// `JSSourceWithMsgSchedulesErr` (400/10187): "stream source can not also schedule messages".
    pub fn source_with_msg_schedules() -> Self {
        Self::new(400, 10187, "stream source can not also schedule messages")
    }

    /// `JSMessageSchedulesDisabledErr` (400/10188): "message schedules is disabled".
    pub fn message_schedules_disabled() -> Self {
        Self::new(400, 10188, "message schedules is disabled")
    }

    /// `JSMessageSchedulesPatternInvalidErr` (400/10189): "message schedules pattern is invalid".
    pub fn message_schedules_pattern_invalid() -> Self {
        Self::new(400, 10189, "message schedules pattern is invalid")
    }

    /// `JSMessageSchedulesTargetInvalidErr` (400/10190): "message schedules target is invalid".
    pub fn message_schedules_target_invalid() -> Self {
        Self::new(400, 10190, "message schedules target is invalid")
    }

    /// `JSMessageSchedulesTTLInvalidErr` (400/10191): "message schedules invalid per-message TTL".
    pub fn message_schedules_ttl_invalid() -> Self {
        Self::new(400, 10191, "message schedules invalid per-message TTL")
    }

    /// `JSMessageSchedulesRollupInvalidErr` (400/10192): "message schedules invalid rollup".
    pub fn message_schedules_rollup_invalid() -> Self {
        Self::new(400, 10192, "message schedules invalid rollup")
    }

    /// `JSStreamExpectedLastSeqPerSubjectInvalid` (400/10193): "missing sequence for expected last sequence per subject".
    pub fn stream_expected_last_seq_per_subject_invalid() -> Self {
        Self::new(
            400,
            10193,
            "missing sequence for expected last sequence per subject",
        )
    }

    /// `JSStreamOfflineReasonErrF` (500/10194): "stream is offline: {err}".
    pub fn stream_offline_reason(err: impl fmt::Display) -> Self {
        Self::new(500, 10194, format!("stream is offline: {err}"))
    }

    /// `JSMirrorWithAtomicPublishErr` (400/10198): "stream mirrors can not also use atomic publishing".
    pub fn mirror_with_atomic_publish() -> Self {
        Self::new(
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        )
    }

    /// `JSAtomicPublishTooLargeBatchErrF` (400/10199): "atomic publish batch is too large: {size}".
    pub fn atomic_publish_too_large_batch(size: impl fmt::Display) -> Self {
        Self::new(
            400,
            10199,
            format!("atomic publish batch is too large: {size}"),
        )
    }

    /// `JSAtomicPublishInvalidBatchCommitErr` (400/10200): "atomic publish batch commit is invalid".
    pub fn atomic_publish_invalid_batch_commit() -> Self {
        Self::new(400, 10200, "atomic publish batch commit is invalid")
    }

    /// `JSAtomicPublishContainsDuplicateMessageErr` (400/10201): "atomic publish batch contains duplicate message id".
    pub fn atomic_publish_contains_duplicate_message() -> Self {
        Self::new(
            400,
            10201,
            "atomic publish batch contains duplicate message id",
        )
    }

    /// `JSMessageSchedulesSourceInvalidErr` (400/10203): "message schedules source is invalid".
    pub fn message_schedules_source_invalid() -> Self {
        Self::new(400, 10203, "message schedules source is invalid")
    }

    /// `JSBatchPublishDisabledErr` (400/10205): "batch publish is disabled".
    pub fn batch_publish_disabled() -> Self {
        Self::new(400, 10205, "batch publish is disabled")
    }

    /// `JSBatchPublishInvalidPatternErr` (400/10206): "batch publish pattern is invalid".
    pub fn batch_publish_invalid_pattern() -> Self {
        Self::new(400, 10206, "batch publish pattern is invalid")
    }

    /// `JSBatchPublishInvalidBatchIDErr` (400/10207): "batch publish ID is invalid".
    pub fn batch_publish_invalid_batch_id() -> Self {
        Self::new(400, 10207, "batch publish ID is invalid")
    }

    /// `JSBatchPublishUnknownBatchIDErr` (400/10208): "batch publish ID unknown".
    pub fn batch_publish_unknown_batch_id() -> Self {
        Self::new(400, 10208, "batch publish ID unknown")
    }

    /// `JSMirrorWithBatchPublishErr` (400/10209): "stream mirrors can not also use batch publishing".
    pub fn mirror_with_batch_publish() -> Self {
        Self::new(
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        )
    }

    /// `JSAtomicPublishTooManyInflight` (429/10210): "atomic publish too many inflight".
    pub fn atomic_publish_too_many_inflight() -> Self {
        Self::new(429, 10210, "atomic publish too many inflight")
    }

    /// `JSBatchPublishTooManyInflight` (429/10211): "batch publish too many inflight".
    pub fn batch_publish_too_many_inflight() -> Self {
        Self::new(429, 10211, "batch publish too many inflight")
    }

    /// `JSMessageSchedulesSchedulerInvalidErr` (400/10212): "message schedules invalid scheduler".
    pub fn message_schedules_scheduler_invalid() -> Self {
        Self::new(400, 10212, "message schedules invalid scheduler")
    }

    /// `JSMirrorDurableConsumerCfgInvalid` (400/10213): "stream mirror consumer config is invalid".
    pub fn mirror_durable_consumer_cfg_invalid() -> Self {
        Self::new(400, 10213, "stream mirror consumer config is invalid")
    }

    /// `JSMirrorConsumerRequiresAckFCErr` (400/10214): "stream mirror consumer requires flow control ack policy".
    pub fn mirror_consumer_requires_ack_fc() -> Self {
        Self::new(
            400,
            10214,
            "stream mirror consumer requires flow control ack policy",
        )
    }

    /// `JSSourceDurableConsumerCfgInvalid` (400/10215): "stream source consumer config is invalid".
    pub fn source_durable_consumer_cfg_invalid() -> Self {
        Self::new(400, 10215, "stream source consumer config is invalid")
    }

    /// `JSSourceDurableConsumerDuplicateDetected` (400/10216): "duplicate stream source consumer detected".
    pub fn source_durable_consumer_duplicate_detected() -> Self {
        Self::new(400, 10216, "duplicate stream source consumer detected")
    }

    /// `JSSourceConsumerRequiresAckFCErr` (400/10217): "stream source consumer requires flow control ack policy".
    pub fn source_consumer_requires_ack_fc() -> Self {
        Self::new(
            400,
            10217,
            "stream source consumer requires flow control ack policy",
        )
    }

    /// `JSMessageSchedulesTimeZoneInvalidErr` (400/10223): "message schedules time zone is invalid".
    pub fn message_schedules_time_zone_invalid() -> Self {
        Self::new(400, 10223, "message schedules time zone is invalid")
    }

    /// `JSStreamReconfigureInProgressErr` (400/10226): "stream reconfiguration already in progress".
    pub fn stream_reconfigure_in_progress() -> Self {
        Self::new(400, 10226, "stream reconfiguration already in progress")
    }

    /// `JSMessageSourceHdrNotAllowedErr` (400/10227): "message stream source header is not allowed".
    pub fn message_source_hdr_not_allowed() -> Self {
        Self::new(400, 10227, "message stream source header is not allowed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_nats_server_field_names_and_order() {
        let json = serde_json::to_string(&ApiError::stream_not_found()).unwrap();
        assert_eq!(
            json,
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#
        );
    }

    #[test]
    fn placeholders_are_filled_in() {
        assert_eq!(
            ApiError::stream_wrong_last_sequence(5).description,
            "wrong last sequence: 5"
        );
        assert_eq!(
            ApiError::invalid_json("json: unknown field \"bogus\"").description,
            "invalid JSON: json: unknown field \"bogus\""
        );
        let err = ApiError::stream_invalid_config("invalid subject");
        assert_eq!((err.code, err.err_code), (500, 10052));
        assert_eq!(err.description, "invalid subject");
    }

    #[test]
    fn display_is_description_then_code_like_nats_server() {
        assert_eq!(
            ApiError::stream_name_exist().to_string(),
            "stream name already in use with a different configuration (10058)"
        );
    }

    #[test]
    fn a_status_only_error_leaves_out_empty_fields() {
        let json = serde_json::to_string(&ApiError::new(503, 0, "")).unwrap();
        assert_eq!(json, r#"{"code":503}"#);
        let back: ApiError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ApiError::new(503, 0, ""));
    }
}
