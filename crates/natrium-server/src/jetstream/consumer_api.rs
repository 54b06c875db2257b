//! The `$JS.API.CONSUMER.*` requests: create (with its subject forms), info, delete, names,
//! list. Pull requests (`CONSUMER.MSG.NEXT`) do not come here: each pull consumer takes
//! its own (see `consumer.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::JetStream;
use super::api::Answer;
use super::consumer::Consumer;
use super::consumer_types::{
    ConsumerConfig, ConsumerDeleteResponse, ConsumerInfo, ConsumerInfoResponse,
    ConsumerListRequest, ConsumerListResponse, ConsumerNamesResponse, response_type,
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

impl JetStream {
    /// `CONSUMER.CREATE.<stream>[.<name>[.<filter>]]` and `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    pub(super) fn consumer_create(
        &self,
        stream_name: &str,
        subject: CreateSubject<'_>,
        payload: &[u8],
    ) -> Answer {
        let result = self.create_consumer(stream_name, subject, payload);
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
        stream_name: &str,
        subject: CreateSubject<'_>,
        payload: &[u8],
    ) -> Result<ConsumerInfo, ApiError> {
        let req = super::consumer_types::decode_create(payload, self.opts.strict)?;
        let stream = self
            .stream(stream_name)
            .ok_or_else(ApiError::stream_not_found)?;
        let existing = provisional::name_of(&req, subject).and_then(|n| stream.consumer(&n));
        let existing_config = existing.as_ref().map(|c| c.config());
        let others: Vec<ConsumerConfig> = stream
            .consumers()
            .iter()
            .filter(|c| existing.as_ref().is_none_or(|e| !Arc::ptr_eq(c, e)))
            .map(|c| c.config())
            .collect();
        let others: Vec<&ConsumerConfig> = others.iter().collect();
        let stream_config = stream.config();
        let checked = provisional::check_create(
            req,
            stream_name,
            subject,
            &stream_config,
            existing_config.as_ref(),
            &others,
        )?;
        match checked {
            Create::Existing => Ok(existing.expect("an existing consumer").info()),
            Create::Update(config) => {
                let consumer = existing.expect("an existing consumer");
                if let Some(dir) = consumer.dir() {
                    write_meta(dir, &config, consumer.created())
                        .map_err(|e| ApiError::consumer_create(e.to_string()))?;
                }
                consumer.update(config);
                Ok(consumer.info())
            }
            Create::New(config) => {
                let consumer = self.start_consumer(&stream, config, Timestamp::now(), true)?;
                self.advise_consumer(&stream, consumer.name(), true);
                Ok(consumer.info())
            }
        }
    }

    /// Starts a consumer of `stream` (`fresh`: a new one, whose files are written first).
    pub(super) fn start_consumer(
        &self,
        stream: &Arc<Stream>,
        config: ConsumerConfig,
        created: Timestamp,
        fresh: bool,
    ) -> Result<Arc<Consumer>, ApiError> {
        let dir: Option<PathBuf> = stream
            .dir()
            .filter(|_| !config.mem_storage)
            .map(|d| d.join("obs").join(config.name()));
        if fresh && let Some(dir) = &dir {
            write_meta(dir, &config, created)
                .map_err(|e| ApiError::consumer_create(e.to_string()))?;
        }
        let consumer = Consumer::start(
            stream,
            config,
            created,
            dir,
            self.port.clone(),
            &self.tasks,
            &self.shutdown,
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
            domain: String::new(),
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
    pub(super) fn consumer_info(&self, stream_name: &str, name: &str) -> Answer {
        let result = self
            .stream(stream_name)
            .ok_or_else(ApiError::stream_not_found)
            .and_then(|s| s.consumer(name).ok_or_else(ApiError::consumer_not_found))
            .map(|c| c.info());
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
    pub(super) fn consumer_delete(&self, stream_name: &str, name: &str) -> Answer {
        let result = self
            .stream(stream_name)
            .ok_or_else(ApiError::stream_not_found)
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
        let req: ConsumerListRequest = decode_request(payload, self.opts.strict)?;
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
            self.start_consumer(stream, meta.config, meta.created, false)
                .map_err(|e| e.description.clone())?;
            n += 1;
        }
        Ok(n)
    }
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

/// Which API subject a create request came on.
#[derive(Debug, Clone, Copy)]
pub(super) enum CreateSubject<'a> {
    /// `CONSUMER.CREATE.<stream>`: the legacy ephemeral form.
    Ephemeral,
    /// `CONSUMER.CREATE.<stream>.<name>[.<filter>]`.
    Named {
        name: &'a str,
        filter: Option<&'a str>,
    },
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable(&'a str),
}

/// What a create request does.
pub(super) enum Create {
    New(ConsumerConfig),
    Update(ConsumerConfig),
    Existing,
}

/// Defaults only, until the full rules land.
mod provisional {
    use super::*;
    use crate::jetstream::consumer_types::{AckPolicy, ConsumerAction, CreateConsumerRequest};

    pub(super) fn name_of(
        req: &CreateConsumerRequest,
        subject: CreateSubject<'_>,
    ) -> Option<String> {
        match subject {
            CreateSubject::Named { name, .. } | CreateSubject::Durable(name) => {
                Some(name.to_owned())
            }
            CreateSubject::Ephemeral => {
                let n = req.config.name();
                (!n.is_empty()).then(|| n.to_owned())
            }
        }
    }

    pub(super) fn check_create(
        req: CreateConsumerRequest,
        _stream_name: &str,
        subject: CreateSubject<'_>,
        _stream: &crate::jetstream::types::StreamConfig,
        existing: Option<&ConsumerConfig>,
        _others: &[&ConsumerConfig],
    ) -> Result<Create, ApiError> {
        let mut c = req.config;
        match subject {
            CreateSubject::Named { name, filter } => {
                if c.durable_name.is_empty() && c.name.is_empty() {
                    c.name = name.to_owned();
                }
                if let Some(f) = filter
                    && c.filter_subject.is_empty()
                {
                    c.filter_subject = f.to_owned();
                }
            }
            CreateSubject::Durable(d) => c.durable_name = d.to_owned(),
            CreateSubject::Ephemeral => {
                if c.name.is_empty() && c.durable_name.is_empty() {
                    c.name = nuid::next().to_string()[..8].to_owned();
                }
            }
        }
        if c.ack_policy != AckPolicy::None && c.ack_wait == 0 {
            c.ack_wait = 30_000_000_000;
        }
        if c.max_deliver == 0 {
            c.max_deliver = -1;
        }
        if c.is_pull() && c.max_waiting == 0 {
            c.max_waiting = 512;
        }
        if c.ack_policy != AckPolicy::None && c.max_ack_pending == 0 {
            c.max_ack_pending = 1000;
        }
        if !c.is_durable() && c.inactive_threshold == 0 {
            c.inactive_threshold = 5_000_000_000;
        }
        match (existing, req.action) {
            (Some(e), _) if *e == c => Ok(Create::Existing),
            (Some(_), ConsumerAction::Create) => Err(ApiError::consumer_already_exists()),
            (Some(_), _) => Ok(Create::Update(c)),
            (None, ConsumerAction::Update) => Err(ApiError::consumer_does_not_exist()),
            (None, _) => Ok(Create::New(c)),
        }
    }
}
