//! The consumer errors of nats-server 2.15's catalogue (`server/errors.json`), as a second
//! `impl` block of [`ApiError`]: same naming rule as `errors.rs` (`JSConsumerNotFoundErr` is
//! [`ApiError::consumer_not_found`]), same numbers and texts. Constructors are in
//! `err_code` order. `maximum_consumers_limit` lives in `errors.rs`.

use std::fmt;

use super::errors::ApiError;

// The whole catalogue is kept, used or not (see `errors.rs`).
#[allow(dead_code)]
impl ApiError {
    /// `JSConsumerCreateErrF` (500/10012): "{err}".
    pub fn consumer_create(err: impl fmt::Display) -> Self {
        Self::new(500, 10012, format!("{err}"))
    }

    /// `JSConsumerNameExistErr` (400/10013): "consumer name already in use".
    pub fn consumer_name_exist() -> Self {
        Self::new(400, 10013, "consumer name already in use")
    }

    /// `JSConsumerNotFoundErr` (404/10014): "consumer not found".
    pub fn consumer_not_found() -> Self {
        Self::new(404, 10014, "consumer not found")
    }

    /// `JSConsumerDurableNameNotInSubjectErr` (400/10016): "consumer expected to be durable but no durable name set in subject".
    pub fn consumer_durable_name_not_in_subject() -> Self {
        Self::new(
            400,
            10016,
            "consumer expected to be durable but no durable name set in subject",
        )
    }

    /// `JSConsumerDurableNameNotMatchSubjectErr` (400/10017): "consumer name in subject does not match durable name in request".
    pub fn consumer_durable_name_not_match_subject() -> Self {
        Self::new(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        )
    }

    /// `JSConsumerDurableNameNotSetErr` (400/10018): "consumer expected to be durable but a durable name was not set".
    pub fn consumer_durable_name_not_set() -> Self {
        Self::new(
            400,
            10018,
            "consumer expected to be durable but a durable name was not set",
        )
    }

    /// `JSConsumerEphemeralWithDurableInSubjectErr` (400/10019): "consumer expected to be ephemeral but detected a durable name set in subject".
    pub fn consumer_ephemeral_with_durable_in_subject() -> Self {
        Self::new(
            400,
            10019,
            "consumer expected to be ephemeral but detected a durable name set in subject",
        )
    }

    /// `JSConsumerEphemeralWithDurableNameErr` (400/10020): "consumer expected to be ephemeral but a durable name was set in request".
    pub fn consumer_ephemeral_with_durable_name() -> Self {
        Self::new(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        )
    }

    /// `JSConsumerConfigRequiredErr` (400/10078): "consumer config required".
    pub fn consumer_config_required() -> Self {
        Self::new(400, 10078, "consumer config required")
    }

    /// `JSConsumerDeliverToWildcardsErr` (400/10079): "consumer deliver subject has wildcards".
    pub fn consumer_deliver_to_wildcards() -> Self {
        Self::new(400, 10079, "consumer deliver subject has wildcards")
    }

    /// `JSConsumerPushMaxWaitingErr` (400/10080): "consumer in push mode can not set max waiting".
    pub fn consumer_push_max_waiting() -> Self {
        Self::new(400, 10080, "consumer in push mode can not set max waiting")
    }

    /// `JSConsumerDeliverCycleErr` (400/10081): "consumer deliver subject forms a cycle".
    pub fn consumer_deliver_cycle() -> Self {
        Self::new(400, 10081, "consumer deliver subject forms a cycle")
    }

    /// `JSConsumerMaxPendingAckPolicyRequiredErr` (400/10082): "consumer requires ack policy for max ack pending".
    pub fn consumer_max_pending_ack_policy_required() -> Self {
        Self::new(
            400,
            10082,
            "consumer requires ack policy for max ack pending",
        )
    }

    /// `JSConsumerSmallHeartbeatErr` (400/10083): "consumer idle heartbeat needs to be >= 100ms".
    pub fn consumer_small_heartbeat() -> Self {
        Self::new(400, 10083, "consumer idle heartbeat needs to be >= 100ms")
    }

    /// `JSConsumerPullRequiresAckErr` (400/10084): "consumer in pull mode requires explicit ack policy on workqueue stream".
    pub fn consumer_pull_requires_ack() -> Self {
        Self::new(
            400,
            10084,
            "consumer in pull mode requires explicit ack policy on workqueue stream",
        )
    }

    /// `JSConsumerPullNotDurableErr` (400/10085): "consumer in pull mode requires a durable name".
    pub fn consumer_pull_not_durable() -> Self {
        Self::new(400, 10085, "consumer in pull mode requires a durable name")
    }

    /// `JSConsumerPullWithRateLimitErr` (400/10086): "consumer in pull mode can not have rate limit set".
    pub fn consumer_pull_with_rate_limit() -> Self {
        Self::new(
            400,
            10086,
            "consumer in pull mode can not have rate limit set",
        )
    }

    /// `JSConsumerMaxWaitingNegativeErr` (400/10087): "consumer max waiting needs to be positive".
    pub fn consumer_max_waiting_negative() -> Self {
        Self::new(400, 10087, "consumer max waiting needs to be positive")
    }

    /// `JSConsumerHBRequiresPushErr` (400/10088): "consumer idle heartbeat requires a push based consumer".
    pub fn consumer_hb_requires_push() -> Self {
        Self::new(
            400,
            10088,
            "consumer idle heartbeat requires a push based consumer",
        )
    }

    /// `JSConsumerFCRequiresPushErr` (400/10089): "consumer flow control requires a push based consumer".
    pub fn consumer_fc_requires_push() -> Self {
        Self::new(
            400,
            10089,
            "consumer flow control requires a push based consumer",
        )
    }

    /// `JSConsumerDirectRequiresPushErr` (400/10090): "consumer direct requires a push based consumer".
    pub fn consumer_direct_requires_push() -> Self {
        Self::new(400, 10090, "consumer direct requires a push based consumer")
    }

    /// `JSConsumerDirectRequiresEphemeralErr` (400/10091): "consumer direct requires an ephemeral consumer".
    pub fn consumer_direct_requires_ephemeral() -> Self {
        Self::new(400, 10091, "consumer direct requires an ephemeral consumer")
    }

    /// `JSConsumerOnMappedErr` (400/10092): "consumer direct on a mapped consumer".
    pub fn consumer_on_mapped() -> Self {
        Self::new(400, 10092, "consumer direct on a mapped consumer")
    }

    /// `JSConsumerFilterNotSubsetErr` (400/10093): "consumer filter subject is not a valid subset of the interest subjects".
    pub fn consumer_filter_not_subset() -> Self {
        Self::new(
            400,
            10093,
            "consumer filter subject is not a valid subset of the interest subjects",
        )
    }

    /// `JSConsumerInvalidPolicyErrF` (400/10094): "{err}".
    pub fn consumer_invalid_policy(err: impl fmt::Display) -> Self {
        Self::new(400, 10094, format!("{err}"))
    }

    /// `JSConsumerInvalidSamplingErrF` (400/10095): "failed to parse consumer sampling configuration: {err}".
    pub fn consumer_invalid_sampling(err: impl fmt::Display) -> Self {
        Self::new(
            400,
            10095,
            format!("failed to parse consumer sampling configuration: {err}"),
        )
    }

    /// `JSConsumerWQRequiresExplicitAckErr` (400/10098): "workqueue stream requires explicit ack".
    pub fn consumer_wq_requires_explicit_ack() -> Self {
        Self::new(400, 10098, "workqueue stream requires explicit ack")
    }

    /// `JSConsumerWQMultipleUnfilteredErr` (400/10099): "multiple non-filtered consumers not allowed on workqueue stream".
    pub fn consumer_wq_multiple_unfiltered() -> Self {
        Self::new(
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        )
    }

    /// `JSConsumerWQConsumerNotUniqueErr` (400/10100): "filtered consumer not unique on workqueue stream".
    pub fn consumer_wq_consumer_not_unique() -> Self {
        Self::new(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        )
    }

    /// `JSConsumerWQConsumerNotDeliverAllErr` (400/10101): "consumer must be deliver all on workqueue stream".
    pub fn consumer_wq_consumer_not_deliver_all() -> Self {
        Self::new(
            400,
            10101,
            "consumer must be deliver all on workqueue stream",
        )
    }

    /// `JSConsumerNameTooLongErrF` (400/10102): "consumer name is too long, maximum allowed is {max}".
    pub fn consumer_name_too_long(max: impl fmt::Display) -> Self {
        Self::new(
            400,
            10102,
            format!("consumer name is too long, maximum allowed is {max}"),
        )
    }

    /// `JSConsumerBadDurableNameErr` (400/10103): "durable name can not contain '.', '*', '>'".
    pub fn consumer_bad_durable_name() -> Self {
        Self::new(400, 10103, "durable name can not contain '.', '*', '>'")
    }

    /// `JSConsumerStoreFailedErrF` (500/10104): "error creating store for consumer: {err}".
    pub fn consumer_store_failed(err: impl fmt::Display) -> Self {
        Self::new(
            500,
            10104,
            format!("error creating store for consumer: {err}"),
        )
    }

    /// `JSConsumerExistingActiveErr` (400/10105): "consumer already exists and is still active".
    pub fn consumer_existing_active() -> Self {
        Self::new(400, 10105, "consumer already exists and is still active")
    }

    /// `JSConsumerReplacementWithDifferentNameErr` (400/10106): "consumer replacement durable config not the same".
    pub fn consumer_replacement_with_different_name() -> Self {
        Self::new(
            400,
            10106,
            "consumer replacement durable config not the same",
        )
    }

    /// `JSConsumerDescriptionTooLongErrF` (400/10107): "consumer description is too long, maximum allowed is {max}".
    pub fn consumer_description_too_long(max: impl fmt::Display) -> Self {
        Self::new(
            400,
            10107,
            format!("consumer description is too long, maximum allowed is {max}"),
        )
    }

    /// `JSConsumerWithFlowControlNeedsHeartbeats` (400/10108): "consumer with flow control also needs heartbeats".
    pub fn consumer_with_flow_control_needs_heartbeats() -> Self {
        Self::new(
            400,
            10108,
            "consumer with flow control also needs heartbeats",
        )
    }

    /// `JSConsumerInvalidDeliverSubject` (400/10112): "invalid push consumer deliver subject".
    pub fn consumer_invalid_deliver_subject() -> Self {
        Self::new(400, 10112, "invalid push consumer deliver subject")
    }

    /// `JSConsumerMaxRequestBatchNegativeErr` (400/10114): "consumer max request batch needs to be > 0".
    pub fn consumer_max_request_batch_negative() -> Self {
        Self::new(400, 10114, "consumer max request batch needs to be > 0")
    }

    /// `JSConsumerMaxRequestExpiresTooSmall` (400/10115): "consumer max request expires needs to be >= 1ms".
    pub fn consumer_max_request_expires_too_small() -> Self {
        Self::new(
            400,
            10115,
            "consumer max request expires needs to be >= 1ms",
        )
    }

    /// `JSConsumerMaxDeliverBackoffErr` (400/10116): "max deliver is required to be > length of backoff values".
    pub fn consumer_max_deliver_backoff() -> Self {
        Self::new(
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        )
    }

    /// `JSConsumerOfflineErr` (500/10119): "consumer is offline".
    pub fn consumer_offline() -> Self {
        Self::new(500, 10119, "consumer is offline")
    }

    /// `JSConsumerMaxPendingAckExcessErrF` (400/10121): "consumer max ack pending exceeds system limit of {limit}".
    pub fn consumer_max_pending_ack_excess(limit: impl fmt::Display) -> Self {
        Self::new(
            400,
            10121,
            format!("consumer max ack pending exceeds system limit of {limit}"),
        )
    }

    /// `JSConsumerMaxRequestBatchExceededF` (400/10125): "consumer max request batch exceeds server limit of {limit}".
    pub fn consumer_max_request_batch_exceeded(limit: impl fmt::Display) -> Self {
        Self::new(
            400,
            10125,
            format!("consumer max request batch exceeds server limit of {limit}"),
        )
    }

    /// `JSConsumerReplicasExceedsStream` (400/10126): "consumer config replica count exceeds parent stream".
    pub fn consumer_replicas_exceeds_stream() -> Self {
        Self::new(
            400,
            10126,
            "consumer config replica count exceeds parent stream",
        )
    }

    /// `JSConsumerNameContainsPathSeparatorsErr` (400/10127): "Consumer name can not contain path separators".
    pub fn consumer_name_contains_path_separators() -> Self {
        Self::new(400, 10127, "Consumer name can not contain path separators")
    }

    /// `JSConsumerCreateFilterSubjectMismatchErr` (400/10131): "Consumer create request did not match filtered subject from create subject".
    pub fn consumer_create_filter_subject_mismatch() -> Self {
        Self::new(
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        )
    }

    /// `JSConsumerCreateDurableAndNameMismatch` (400/10132): "Consumer Durable and Name have to be equal if both are provided".
    pub fn consumer_create_durable_and_name_mismatch() -> Self {
        Self::new(
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided",
        )
    }

    /// `JSConsumerReplicasShouldMatchStream` (400/10134): "consumer config replicas must match interest retention stream's replicas".
    pub fn consumer_replicas_should_match_stream() -> Self {
        Self::new(
            400,
            10134,
            "consumer config replicas must match interest retention stream's replicas",
        )
    }

    /// `JSConsumerMetadataLengthErrF` (400/10135): "consumer metadata exceeds maximum size of {limit}".
    pub fn consumer_metadata_length(limit: impl fmt::Display) -> Self {
        Self::new(
            400,
            10135,
            format!("consumer metadata exceeds maximum size of {limit}"),
        )
    }

    /// `JSConsumerDuplicateFilterSubjects` (400/10136): "consumer cannot have both FilterSubject and FilterSubjects specified".
    pub fn consumer_duplicate_filter_subjects() -> Self {
        Self::new(
            400,
            10136,
            "consumer cannot have both FilterSubject and FilterSubjects specified",
        )
    }

    /// `JSConsumerMultipleFiltersNotAllowed` (400/10137): "consumer with multiple subject filters cannot use subject based API".
    pub fn consumer_multiple_filters_not_allowed() -> Self {
        Self::new(
            400,
            10137,
            "consumer with multiple subject filters cannot use subject based API",
        )
    }

    /// `JSConsumerOverlappingSubjectFilters` (400/10138): "consumer subject filters cannot overlap".
    pub fn consumer_overlapping_subject_filters() -> Self {
        Self::new(400, 10138, "consumer subject filters cannot overlap")
    }

    /// `JSConsumerEmptyFilter` (400/10139): "consumer filter in FilterSubjects cannot be empty".
    pub fn consumer_empty_filter() -> Self {
        Self::new(
            400,
            10139,
            "consumer filter in FilterSubjects cannot be empty",
        )
    }

    /// `JSConsumerAlreadyExists` (400/10148): "consumer already exists".
    pub fn consumer_already_exists() -> Self {
        Self::new(400, 10148, "consumer already exists")
    }

    /// `JSConsumerDoesNotExist` (400/10149): "consumer does not exist".
    pub fn consumer_does_not_exist() -> Self {
        Self::new(400, 10149, "consumer does not exist")
    }

    /// `JSConsumerInactiveThresholdExcess` (400/10153): "consumer inactive threshold exceeds system limit of {limit}".
    pub fn consumer_inactive_threshold_excess(limit: impl fmt::Display) -> Self {
        Self::new(
            400,
            10153,
            format!("consumer inactive threshold exceeds system limit of {limit}"),
        )
    }

    /// `JSConsumerPriorityPolicyWithoutGroup` (400/10159): "Setting PriorityPolicy requires at least one PriorityGroup to be set".
    pub fn consumer_priority_policy_without_group() -> Self {
        Self::new(
            400,
            10159,
            "Setting PriorityPolicy requires at least one PriorityGroup to be set",
        )
    }

    /// `JSConsumerInvalidPriorityGroupErr` (400/10160): "Provided priority group does not exist for this consumer".
    pub fn consumer_invalid_priority_group() -> Self {
        Self::new(
            400,
            10160,
            "Provided priority group does not exist for this consumer",
        )
    }

    /// `JSConsumerEmptyGroupName` (400/10161): "Group name cannot be an empty string".
    pub fn consumer_empty_group_name() -> Self {
        Self::new(400, 10161, "Group name cannot be an empty string")
    }

    /// `JSConsumerInvalidGroupNameErr` (400/10162): "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters".
    pub fn consumer_invalid_group_name() -> Self {
        Self::new(
            400,
            10162,
            "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
        )
    }

    /// `JSConsumerPushWithPriorityGroupErr` (400/10178): "priority groups can not be used with push consumers".
    pub fn consumer_push_with_priority_group() -> Self {
        Self::new(
            400,
            10178,
            "priority groups can not be used with push consumers",
        )
    }

    /// `JSConsumerAckPolicyInvalidErr` (400/10181): "consumer ack policy invalid".
    pub fn consumer_ack_policy_invalid() -> Self {
        Self::new(400, 10181, "consumer ack policy invalid")
    }

    /// `JSConsumerReplayPolicyInvalidErr` (400/10182): "consumer replay policy invalid".
    pub fn consumer_replay_policy_invalid() -> Self {
        Self::new(400, 10182, "consumer replay policy invalid")
    }

    /// `JSConsumerAckWaitNegativeErr` (400/10183): "consumer ack wait needs to be positive".
    pub fn consumer_ack_wait_negative() -> Self {
        Self::new(400, 10183, "consumer ack wait needs to be positive")
    }

    /// `JSConsumerBackOffNegativeErr` (400/10184): "consumer backoff needs to be positive".
    pub fn consumer_back_off_negative() -> Self {
        Self::new(400, 10184, "consumer backoff needs to be positive")
    }

    /// `JSConsumerOfflineReasonErrF` (500/10195): "consumer is offline: {err}".
    pub fn consumer_offline_reason(err: impl fmt::Display) -> Self {
        Self::new(500, 10195, format!("consumer is offline: {err}"))
    }

    /// `JSConsumerPriorityGroupWithPolicyNone` (400/10196): "consumer can not have priority groups when policy is none".
    pub fn consumer_priority_group_with_policy_none() -> Self {
        Self::new(
            400,
            10196,
            "consumer can not have priority groups when policy is none",
        )
    }

    /// `JSConsumerPinnedTTLWithoutPriorityPolicyNone` (400/10197): "PinnedTTL cannot be set when PriorityPolicy is none".
    pub fn consumer_pinned_ttl_without_priority_policy_none() -> Self {
        Self::new(
            400,
            10197,
            "PinnedTTL cannot be set when PriorityPolicy is none",
        )
    }

    /// `JSConsumerInvalidResetErr` (400/10204): "invalid reset: {err}".
    pub fn consumer_invalid_reset(err: impl fmt::Display) -> Self {
        Self::new(400, 10204, format!("invalid reset: {err}"))
    }

    /// `JSConsumerAckFCRequiresPushErr` (400/10218): "flow control ack policy requires a push based consumer".
    pub fn consumer_ack_fc_requires_push() -> Self {
        Self::new(
            400,
            10218,
            "flow control ack policy requires a push based consumer",
        )
    }

    /// `JSConsumerAckFCRequiresFCErr` (400/10219): "flow control ack policy requires flow control".
    pub fn consumer_ack_fc_requires_fc() -> Self {
        Self::new(400, 10219, "flow control ack policy requires flow control")
    }

    /// `JSConsumerAckFCRequiresMaxAckPendingErr` (400/10220): "flow control ack policy requires max ack pending".
    pub fn consumer_ack_fc_requires_max_ack_pending() -> Self {
        Self::new(
            400,
            10220,
            "flow control ack policy requires max ack pending",
        )
    }

    /// `JSConsumerAckFCRequiresNoAckWaitErr` (400/10221): "flow control ack policy requires unset ack wait".
    pub fn consumer_ack_fc_requires_no_ack_wait() -> Self {
        Self::new(
            400,
            10221,
            "flow control ack policy requires unset ack wait",
        )
    }

    /// `JSConsumerAckFCRequiresNoMaxDeliverErr` (400/10222): "flow control ack policy requires unset max deliver".
    pub fn consumer_ack_fc_requires_no_max_deliver() -> Self {
        Self::new(
            400,
            10222,
            "flow control ack policy requires unset max deliver",
        )
    }

    /// `JSConsumerStreamIdentityMismatchF` (400/10225): "consumer's stream identity does not match: {msg}".
    pub fn consumer_stream_identity_mismatch(msg: impl fmt::Display) -> Self {
        Self::new(
            400,
            10225,
            format!("consumer's stream identity does not match: {msg}"),
        )
    }
}
