//! The `$JS.API.CONSUMER.*` requests: create (with its subject forms), info, delete, names,
//! list. Pull requests (`CONSUMER.MSG.NEXT`) do not come here: each pull consumer takes
//! its own (see `consumer.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::JsAccount;
use super::api::Answer;
use super::consumer::{Consumer, Runtime};
use super::consumer_config::{
    self, Create, CreateContext, CreateSubject, ExistingConsumer, ServerConsumerLimits,
};
use super::consumer_types::{
    ConsumerConfig, ConsumerDeleteResponse, ConsumerInfo, ConsumerInfoResponse,
    ConsumerListRequest, ConsumerListResponse, ConsumerNamesResponse, ConsumerPauseRequest,
    ConsumerPauseResponse, response_type,
};
use super::errors::ApiError;
use super::stream::Stream;
use super::types::{ApiPaged, Timestamp, decode_request, page_limit};

/// What `obs/<name>/meta.json` holds for a consumer kept on disk.
#[derive(Serialize, Deserialize)]
pub(super) struct ConsumerMeta {
    pub(super) config: ConsumerConfig,
    pub(super) created: Timestamp,
}

impl JsAccount {
    /// `CONSUMER.CREATE.<stream>[.<name>[.<filter>]]` and `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    pub(super) fn consumer_create(&self, subject: CreateSubject<'_>, payload: &[u8]) -> Answer {
        let result = self.create_consumer(subject, payload);
        let error = result.as_ref().err().is_some();
        Answer::json(
            &ConsumerInfoResponse {
                kind: response_type::CONSUMER_CREATE,
                error: result.as_ref().err().cloned(),
                info: result.ok(),
            },
            error,
        )
    }

    fn create_consumer(
        &self,
        subject: CreateSubject<'_>,
        payload: &[u8],
    ) -> Result<ConsumerInfo, ApiError> {
        let req = super::consumer_types::decode_create(payload, self.common.opts.strict)?;
        let stream = self.stream(subject.stream());
        let stream_config = stream.as_ref().map(|s| s.config());
        let consumers = stream.as_ref().map(|s| s.consumers()).unwrap_or_default();
        let configs: Vec<(ConsumerConfig, bool)> = consumers
            .iter()
            .map(|c| (c.config(), c.info().push_bound))
            .collect();
        let existing: Vec<ExistingConsumer<'_>> = consumers
            .iter()
            .zip(&configs)
            .map(|(c, (config, push_bound))| ExistingConsumer {
                name: c.name(),
                config,
                push_bound: *push_bound,
            })
            .collect();
        let account = self.limits();
        let ctx = CreateContext {
            stream: stream_config.as_ref(),
            consumers: &existing,
            account: &account,
            server: ServerConsumerLimits::default(),
        };
        let checked = consumer_config::check_create(req, subject, &ctx)?;
        let stream = stream.ok_or_else(ApiError::stream_not_found)?;
        let found = |name: &str| {
            stream
                .consumer(name)
                .ok_or_else(ApiError::consumer_not_found)
        };
        match checked {
            Create::Existing { name } => {
                let consumer = found(&name)?;
                self.advise_if_paused(&stream, &consumer);
                Ok(reply_info(&consumer))
            }
            Create::Update { name, config } => {
                let consumer = found(&name)?;
                if let Some(dir) = consumer.dir() {
                    write_meta(dir, &config, consumer.created())
                        .map_err(|e| ApiError::consumer_create(e.to_string()))?;
                }
                consumer.update(config);
                self.advise_if_paused(&stream, &consumer);
                Ok(reply_info(&consumer))
            }
            Create::New { name, config } => {
                let consumer =
                    self.start_consumer(&stream, &name, config, Timestamp::now(), true)?;
                self.advise_consumer(&stream, consumer.name(), true);
                Ok(reply_info(&consumer))
            }
        }
    }

    /// Starts a consumer of `stream` (`fresh`: a new one, whose files are written first).
    pub(super) fn start_consumer(
        &self,
        stream: &Arc<Stream>,
        name: &str,
        config: ConsumerConfig,
        created: Timestamp,
        fresh: bool,
    ) -> Result<Arc<Consumer>, ApiError> {
        let dir: Option<PathBuf> = stream
            .dir()
            .filter(|_| !config.mem_storage)
            .map(|d| d.join("obs").join(name));
        if fresh && let Some(dir) = &dir {
            write_meta(dir, &config, created)
                .map_err(|e| ApiError::consumer_create(e.to_string()))?;
        }
        let consumer = Consumer::start(
            stream,
            name,
            config,
            created,
            dir,
            &Runtime {
                port: self.port.clone(),
                tasks: self.common.tasks.clone(),
                shutdown: self.common.shutdown.clone(),
                sync_always: matches!(self.common.opts.sync, crate::options::SyncPolicy::Always),
                domain: self.common.domain.clone(),
            },
        );
        stream.add_consumer(consumer.clone());
        Ok(consumer)
    }

    /// Publishes the consumer created/deleted advisory.
    fn advise_consumer(&self, stream: &Stream, consumer: &str, created: bool) {
        use super::consumer_types::{
            ConsumerActionAdvisory, ConsumerActionKind, EventHeader, advisory_subject as advisory,
            advisory_type,
        };
        let (prefix, action) = if created {
            (advisory::CREATED, ConsumerActionKind::Create)
        } else {
            (advisory::DELETED, ConsumerActionKind::Delete)
        };
        let body = ConsumerActionAdvisory {
            event: EventHeader::new(advisory_type::CONSUMER_ACTION),
            stream: stream.name().to_owned(),
            consumer: consumer.to_owned(),
            action,
            domain: self.domain().to_owned(),
        };
        let subject = advisory::for_consumer(prefix, stream.name(), consumer);
        self.port.publish(
            subject.as_bytes(),
            None,
            None,
            super::types::to_go_json(&body).as_bytes(),
        );
    }

    /// `CONSUMER.INFO.<stream>.<consumer>`.
    pub(super) fn consumer_info(&self, stream_name: &str, name: &str, payload: &[u8]) -> Answer {
        let result = expect_empty(payload)
            .and_then(|()| {
                self.stream(stream_name)
                    .ok_or_else(ApiError::stream_not_found)
            })
            .and_then(|s| s.consumer(name).ok_or_else(ApiError::consumer_not_found))
            .map(|c| reply_info(&c));
        let error = result.is_err();
        Answer::json(
            &ConsumerInfoResponse {
                kind: response_type::CONSUMER_INFO,
                error: result.as_ref().err().cloned(),
                info: result.ok(),
            },
            error,
        )
    }

    /// `CONSUMER.DELETE.<stream>.<consumer>`.
    pub(super) fn consumer_delete(&self, stream_name: &str, name: &str, payload: &[u8]) -> Answer {
        let result = expect_empty(payload)
            .and_then(|()| {
                self.stream(stream_name)
                    .ok_or_else(ApiError::stream_not_found)
            })
            .and_then(|s| {
                if s.remove_consumer(name) {
                    self.advise_consumer(&s, name, false);
                    Ok(())
                } else {
                    Err(ApiError::consumer_not_found())
                }
            });
        let error = result.is_err();
        Answer::json(
            &ConsumerDeleteResponse {
                kind: response_type::CONSUMER_DELETE,
                error: result.err(),
                success: !error,
            },
            error,
        )
    }

    /// `CONSUMER.PAUSE.<stream>.<consumer>`: pauses until `pause_until`, or unpauses.
    pub(super) fn consumer_pause(&self, stream_name: &str, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: ConsumerPauseRequest = decode_request(payload, self.common.opts.strict)?;
            let stream = self
                .stream(stream_name)
                .ok_or_else(ApiError::stream_not_found)?;
            let consumer = stream
                .consumer(name)
                .ok_or_else(ApiError::consumer_not_found)?;
            let remaining = consumer.pause(req.pause_until);
            if let Some(dir) = consumer.dir() {
                write_meta(dir, &consumer.config(), consumer.created())
                    .map_err(|e| ApiError::consumer_create(e.to_string()))?;
            }
            let until = consumer.config().pause_until.unwrap_or(Timestamp::ZERO);
            self.advise_pause(&stream, name, remaining.is_some(), until);
            Ok((remaining, until))
        })();
        let error = result.is_err();
        let (paused, pause_until, pause_remaining, error_value) = match result {
            Ok((remaining, until)) => (
                remaining.is_some(),
                until,
                remaining.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
                None,
            ),
            Err(e) => (false, Timestamp::ZERO, 0, Some(e)),
        };
        Answer::json(
            &ConsumerPauseResponse {
                kind: response_type::CONSUMER_PAUSE,
                error: error_value,
                paused,
                pause_until,
                pause_remaining,
            },
            error,
        )
    }

    /// `CONSUMER.UNPIN.<stream>.<consumer>`: the group's pinned client loses its pin.
    pub(super) fn consumer_unpin(&self, stream_name: &str, name: &str, payload: &[u8]) -> Answer {
        use super::consumer_types::{ConsumerUnpinRequest, ConsumerUnpinResponse};
        let result = (|| {
            let req: ConsumerUnpinRequest = decode_request(payload, self.common.opts.strict)?;
            if req.group.is_empty() {
                return Err(ApiError::invalid_json("consumer group not specified"));
            }
            if !super::consumer_config::is_valid_group_name(&req.group) {
                return Err(ApiError::consumer_invalid_group_name());
            }
            let stream = self
                .stream(stream_name)
                .ok_or_else(ApiError::stream_not_found)?;
            let consumer = stream
                .consumer(name)
                .ok_or_else(ApiError::consumer_not_found)?;
            if !consumer.config().priority_groups.contains(&req.group) {
                return Err(ApiError::consumer_invalid_priority_group());
            }
            let advisory = consumer.unpin(&req.group);
            self.port
                .publish(&advisory.to, None, None, &advisory.payload);
            Ok(())
        })();
        let error = result.as_ref().err().cloned();
        Answer::json(
            &ConsumerUnpinResponse {
                kind: response_type::CONSUMER_UNPIN,
                error: error.clone(),
            },
            error.is_some(),
        )
    }

    /// A create that finds a paused consumer keeps the pause, and says so (as nats-server).
    fn advise_if_paused(&self, stream: &Stream, consumer: &Consumer) {
        if let Some(until) = consumer.config().pause_until
            && consumer.info().paused
        {
            self.advise_pause(stream, consumer.name(), true, until);
        }
    }

    /// Publishes the consumer pause advisory.
    fn advise_pause(&self, stream: &Stream, consumer: &str, paused: bool, until: Timestamp) {
        use super::consumer_types::{EventHeader, PauseAdvisory, advisory_subject, advisory_type};
        let body = PauseAdvisory {
            event: EventHeader::new(advisory_type::CONSUMER_PAUSE),
            stream: stream.name().to_owned(),
            consumer: consumer.to_owned(),
            paused,
            pause_until: until,
            domain: self.domain().to_owned(),
        };
        let subject =
            advisory_subject::for_consumer(advisory_subject::PAUSE, stream.name(), consumer);
        self.port.publish(
            subject.as_bytes(),
            None,
            None,
            super::types::to_go_json(&body).as_bytes(),
        );
    }

    /// `CONSUMER.NAMES.<stream>`.
    pub(super) fn consumer_names(&self, stream_name: &str, payload: &[u8]) -> Answer {
        let result = self.consumer_page(stream_name, payload, page_limit::NAMES);
        let error = result.is_err();
        let (paged, consumers, error_value) = match result {
            Ok((paged, page)) => (
                paged,
                page.iter().map(|c| c.name().to_owned()).collect(),
                None,
            ),
            Err(e) => (ApiPaged::default(), Vec::new(), Some(e)),
        };
        Answer::json(
            &ConsumerNamesResponse {
                kind: response_type::CONSUMER_NAMES,
                error: error_value,
                paged,
                consumers,
            },
            error,
        )
    }

    /// `CONSUMER.LIST.<stream>`.
    pub(super) fn consumer_list(&self, stream_name: &str, payload: &[u8]) -> Answer {
        let result = self.consumer_page(stream_name, payload, page_limit::LIST);
        let error = result.is_err();
        let (paged, consumers, error_value) = match result {
            Ok((paged, page)) => (paged, page.iter().map(|c| c.info()).collect(), None),
            Err(e) => (ApiPaged::default(), Vec::new(), Some(e)),
        };
        Answer::json(
            &ConsumerListResponse {
                kind: response_type::CONSUMER_LIST,
                error: error_value,
                paged,
                consumers,
                missing: Vec::new(),
                offline: Default::default(),
            },
            error,
        )
    }

    /// One page of a stream's consumers, sorted by name.
    fn consumer_page(
        &self,
        stream_name: &str,
        payload: &[u8],
        limit: usize,
    ) -> Result<(ApiPaged, Vec<Arc<Consumer>>), ApiError> {
        // nats-server reads a body that is neither a JSON object nor an array as no request.
        let payload: &[u8] = if matches!(payload.trim_ascii_start().first(), Some(b'{' | b'[')) {
            payload
        } else {
            b""
        };
        let req: ConsumerListRequest = decode_request(payload, self.common.opts.strict)?;
        let stream = self
            .stream(stream_name)
            .ok_or_else(ApiError::stream_not_found)?;
        let all = stream.consumers();
        let offset = req.offset(all.len());
        let page = all.iter().skip(offset).take(limit).cloned().collect();
        Ok((
            ApiPaged {
                total: all.len(),
                offset,
                limit,
            },
            page,
        ))
    }

    /// Restarts the consumers of a recovered file stream from `obs/*/meta.json`.
    pub(super) fn recover_consumers(&self, stream: &Arc<Stream>) -> Result<usize, String> {
        let Some(obs) = stream.dir().map(|d| d.join("obs")) else {
            return Ok(0);
        };
        let entries = match std::fs::read_dir(&obs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(format!("{}: {e}", obs.display())),
        };
        let mut n = 0;
        for entry in entries.flatten() {
            let path = entry.path().join("meta.json");
            let meta: ConsumerMeta = match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                // A consumer whose creation did not finish.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            self.start_consumer(stream, &name, meta.config, meta.created, false)
                .map_err(|e| e.description.clone())?;
            n += 1;
        }
        Ok(n)
    }
}

/// Requests without parameters take an empty body or an empty JSON object, as nats-server.
fn expect_empty(payload: &[u8]) -> Result<(), ApiError> {
    let payload = payload.trim_ascii();
    let empty = payload.is_empty()
        || serde_json::from_slice::<serde_json::Value>(payload)
            .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()));
    if empty {
        Ok(())
    } else {
        Err(ApiError::not_empty_request())
    }
}

/// Consumer info as create and info replies show it: with the server's version and API
/// level in the metadata (`CONSUMER.LIST` shows the stored config).
fn reply_info(consumer: &Consumer) -> ConsumerInfo {
    let mut info = consumer.info();
    info.config = info
        .config
        .map(|c| consumer_config::with_dynamic_metadata(c, crate::VERSION));
    info
}

/// Writes a consumer's `meta.json` (atomically: a new file renamed over the old).
fn write_meta(
    dir: &std::path::Path,
    config: &ConsumerConfig,
    created: Timestamp,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = ConsumerMeta {
        config: config.clone(),
        created,
    };
    let bytes = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    let tmp = dir.join("meta.json.new");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, dir.join("meta.json"))
}
