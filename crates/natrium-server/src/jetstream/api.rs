//! The `$JS.API.>` requests: one task takes them in order, each is routed by its subject to
//! a handler, and the reply goes back to the request's reply subject.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use natrium_store::PurgeRequest;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::consumer_config::CreateSubject;
use super::consumer_types::response_type as consumer_response;
use super::errors::ApiError;
use super::stream::Stream;
use super::types::{
    API_LEVEL, AccountInfo, AccountInfoResponse, ApiPaged, ApiStats, ClusterInfo, MsgDeleteRequest,
    MsgGetRequest, MsgGetResponse, StoredMsg, StreamConfigRequest, StreamCreateResponse,
    StreamInfo, StreamInfoRequest, StreamInfoResponse, StreamListRequest, StreamListResponse,
    StreamNamesResponse, StreamPurgeRequest, StreamPurgeResponse, SuccessResponse, Timestamp,
    decode_request, page_limit, response_type,
};
use super::{ApiRequest, ApiTarget, JsAccount, StreamMeta, stream_config};

/// Serves API requests of every account until shutdown.
pub(super) async fn serve(
    mut requests: mpsc::UnboundedReceiver<ApiRequest>,
    shutdown: CancellationToken,
) {
    loop {
        let req = tokio::select! {
            _ = shutdown.cancelled() => return,
            req = requests.recv() => match req {
                Some(req) => req,
                None => return,
            },
        };
        // A request nobody waits for gets no answer (and does nothing), as in nats-server.
        let Some(reply) = req.reply.as_deref() else {
            continue;
        };
        let subject = String::from_utf8_lossy(&req.subject);
        let Some(api) = subject.strip_prefix("$JS.API.") else {
            continue;
        };
        match &req.target {
            ApiTarget::Enabled(account) => {
                if let Some(account) = account.upgrade() {
                    account.answer(api, reply, &req.payload);
                }
            }
            ApiTarget::Disabled(port) => {
                if let (Some(port), Some(body)) = (port.upgrade(), not_enabled(api)) {
                    port.publish(reply, None, None, body.as_bytes());
                }
            }
        }
    }
}

/// The answer to an API request from an account without JetStream: the endpoint's own
/// response type with error 10039, in the shape nats-server gives each endpoint (the paged
/// ones with their empty page); `None` for subjects nats-server leaves unanswered.
fn not_enabled(api: &str) -> Option<String> {
    let tokens: Vec<&str> = api.split('.').collect();
    let (kind, rest) = match tokens.as_slice() {
        ["INFO"] => (response_type::ACCOUNT_INFO, ""),
        ["STREAM", "CREATE", _] => (response_type::STREAM_CREATE, ""),
        ["STREAM", "UPDATE", _] => (response_type::STREAM_UPDATE, ""),
        ["STREAM", "INFO", _] => (
            response_type::STREAM_INFO,
            r#","total":0,"offset":0,"limit":0"#,
        ),
        ["STREAM", "DELETE", _] => (response_type::STREAM_DELETE, ""),
        ["STREAM", "NAMES"] => (
            response_type::STREAM_NAMES,
            r#","total":0,"offset":0,"limit":0,"streams":null"#,
        ),
        ["STREAM", "LIST"] => (
            response_type::STREAM_LIST,
            r#","total":0,"offset":0,"limit":0,"streams":[]"#,
        ),
        ["STREAM", "PURGE", _] => (response_type::STREAM_PURGE, r#","purged":0"#),
        ["STREAM", "MSG", "GET", _] => (response_type::STREAM_MSG_GET, ""),
        ["STREAM", "MSG", "DELETE", _] => (response_type::STREAM_MSG_DELETE, ""),
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
            (consumer_response::CONSUMER_CREATE, "")
        }
        ["CONSUMER", "INFO", _, _] => (consumer_response::CONSUMER_INFO, ""),
        ["CONSUMER", "DELETE", _, _] => (consumer_response::CONSUMER_DELETE, ""),
        ["CONSUMER", "PAUSE", _, _] => (
            consumer_response::CONSUMER_PAUSE,
            r#","paused":false,"pause_until":"0001-01-01T00:00:00Z""#,
        ),
        ["CONSUMER", "UNPIN", _, _] => (consumer_response::CONSUMER_UNPIN, ""),
        ["CONSUMER", "NAMES", _] => (
            consumer_response::CONSUMER_NAMES,
            r#","total":0,"offset":0,"limit":0,"consumers":[]"#,
        ),
        ["CONSUMER", "LIST", _] => (
            consumer_response::CONSUMER_LIST,
            r#","total":0,"offset":0,"limit":0,"consumers":[]"#,
        ),
        _ => return None,
    };
    let error = super::types::to_go_json(&ApiError::jetstream_not_enabled_for_account());
    Some(format!(r#"{{"type":"{kind}","error":{error}{rest}}}"#))
}

/// A reply to an API request.
pub(super) struct Answer {
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// Counted in the account's `api.errors`.
    error: bool,
}

impl Answer {
    pub(super) fn json(body: &impl Serialize, error: bool) -> Answer {
        Answer {
            headers: None,
            payload: super::types::to_go_json(body).into_bytes(),
            error,
        }
    }
}

impl JsAccount {
    /// Answers one request (nats-server neither answers nor counts requests it does not
    /// know), counting it for the account and the server.
    fn answer(&self, api: &str, reply: &[u8], payload: &[u8]) {
        let Some(answer) = self.handle(api, payload) else {
            return;
        };
        for (total, errors) in [
            (&self.api_total, &self.api_errors),
            (&self.common.api_total, &self.common.api_errors),
        ] {
            total.fetch_add(1, Ordering::Relaxed);
            if answer.error {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.port
            .publish(reply, None, answer.headers.as_deref(), &answer.payload);
    }

    /// Routes one request by the part of its subject after `$JS.API.`.
    fn handle(&self, api: &str, payload: &[u8]) -> Option<Answer> {
        let tokens: Vec<&str> = api.split('.').collect();
        Some(match tokens.as_slice() {
            ["INFO"] => self.account_info(),
            ["STREAM", "CREATE", name] => self.stream_create(name, payload),
            ["STREAM", "UPDATE", name] => self.stream_update(name, payload),
            ["STREAM", "INFO", name] => self.stream_info(name, payload),
            ["STREAM", "DELETE", name] => self.stream_delete(name),
            ["STREAM", "NAMES"] => self.stream_names(payload),
            ["STREAM", "LIST"] => self.stream_list(payload),
            ["STREAM", "PURGE", name] => self.stream_purge(name, payload),
            ["STREAM", "MSG", "GET", name] => self.msg_get(name, payload),
            ["STREAM", "MSG", "DELETE", name] => self.msg_delete(name, payload),
            ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
                let subject = format!("$JS.API.{api}");
                let create = CreateSubject::parse(&subject)?;
                self.consumer_create(create, payload)
            }
            ["CONSUMER", "INFO", stream, name] => self.consumer_info(stream, name, payload),
            ["CONSUMER", "DELETE", stream, name] => self.consumer_delete(stream, name, payload),
            ["CONSUMER", "PAUSE", stream, name] => self.consumer_pause(stream, name, payload),
            ["CONSUMER", "UNPIN", stream, name] => self.consumer_unpin(stream, name, payload),
            ["CONSUMER", "NAMES", stream] => self.consumer_names(stream, payload),
            ["CONSUMER", "LIST", stream] => self.consumer_list(stream, payload),
            ["DIRECT", "GET", name] => self.direct_get(name, payload, None),
            ["DIRECT", "GET", name, subject @ ..] if !subject.is_empty() => {
                self.direct_get(name, payload, Some(subject.join(".")))
            }
            _ => return None,
        })
    }

    fn account_info(&self) -> Answer {
        let (memory, storage) = self.usage();
        let (reserved_memory, reserved_storage) = self.reserved();
        let (streams, consumers) = {
            let streams = self.streams.read();
            let consumers = streams.values().map(|s| s.state().consumer_count).sum();
            (streams.len() as u64, consumers)
        };
        let info = AccountInfo {
            memory,
            storage,
            reserved_memory,
            reserved_storage,
            streams,
            consumers,
            limits: self.limits(),
            domain: self.domain().to_owned(),
            api: ApiStats {
                level: API_LEVEL,
                total: self.api_total.load(Ordering::Relaxed),
                errors: self.api_errors.load(Ordering::Relaxed),
                inflight: 0,
            },
        };
        Answer::json(
            &AccountInfoResponse {
                kind: response_type::ACCOUNT_INFO,
                error: None,
                info: Some(info),
            },
            false,
        )
    }

    /// The info of `stream` as update, info and list replies give it (create replies leave
    /// the domain out, as nats-server's do).
    fn info_of(&self, stream: &Stream) -> StreamInfo {
        StreamInfo {
            config: stream_config::with_dynamic_metadata(stream.config(), crate::VERSION),
            created: stream.created(),
            state: stream.state(),
            domain: self.domain().to_owned(),
            cluster: None,
            ts: Timestamp::now(),
        }
    }

    fn stream_create(&self, name: &str, payload: &[u8]) -> Answer {
        let fail = |error: ApiError| {
            Answer::json(
                &StreamCreateResponse {
                    kind: response_type::STREAM_CREATE,
                    error: Some(error),
                    info: None,
                    did_create: false,
                },
                true,
            )
        };
        match self.create(name, payload) {
            Ok(stream) => Answer::json(
                &StreamCreateResponse {
                    kind: response_type::STREAM_CREATE,
                    error: None,
                    info: Some(StreamInfo {
                        domain: String::new(),
                        ..self.info_of(&stream)
                    }),
                    did_create: true,
                },
                false,
            ),
            Err(error) => fail(error),
        }
    }

    /// Creates a stream (or finds the identical one that exists).
    fn create(&self, name: &str, payload: &[u8]) -> Result<Arc<Stream>, ApiError> {
        let req: StreamConfigRequest = decode_request(payload, self.common.opts.strict)?;
        let config = req.config;
        let existing: Vec<_> = self.streams.read().values().map(|s| s.config()).collect();
        let refs: Vec<&super::types::StreamConfig> = existing.iter().collect();
        let limits = self.limits();
        let ctx = stream_config::ConfigContext {
            limits: &limits,
            server_max_memory: self.common.max_memory,
            server_max_storage: self.common.max_store,
            existing: &refs,
        };
        let config = match stream_config::check_create(name, config, req.pedantic, &ctx)? {
            stream_config::Create::Existing => {
                return self.stream(name).ok_or_else(ApiError::stream_not_found);
            }
            stream_config::Create::New(config) => *config,
        };
        if self.stream(name).is_some() {
            return Err(ApiError::stream_name_exist());
        }
        let created = Timestamp::now();
        let dir = match config.storage {
            super::types::StorageType::File => {
                let dir = self.stream_dir(name);
                write_meta(&dir, &config, created)
                    .map_err(|e| ApiError::stream_create(format!("{e}")))?;
                Some(dir)
            }
            super::types::StorageType::Memory => None,
        };
        let mut store = self.open_store(&config, dir.as_deref()).map_err(|e| {
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            ApiError::stream_create(e)
        })?;
        if config.first_seq > 1 {
            // A new stream starting later: as after a compaction to that sequence.
            let start = PurgeRequest {
                seq: Some(config.first_seq),
                ..PurgeRequest::default()
            };
            store
                .purge(&start)
                .and_then(|_| store.flush())
                .map_err(ApiError::stream_create)?;
        }
        let stream = Stream::new(
            config,
            created,
            dir,
            store,
            self.port.as_ref(),
            &self.direct,
            self.stream_env(),
        )?;
        self.streams.write().insert(name.to_owned(), stream.clone());
        Ok(stream)
    }

    fn stream_update(&self, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: StreamConfigRequest = decode_request(payload, self.common.opts.strict)?;
            let config = req.config;
            let stream = self.stream(name).ok_or_else(ApiError::stream_not_found)?;
            let existing: Vec<_> = self.streams.read().values().map(|s| s.config()).collect();
            let refs: Vec<&super::types::StreamConfig> = existing.iter().collect();
            let limits = self.limits();
            let ctx = stream_config::ConfigContext {
                limits: &limits,
                server_max_memory: self.common.max_memory,
                server_max_storage: self.common.max_store,
                existing: &refs,
            };
            let old = stream.config();
            let config = stream_config::check_update(name, Some(&old), config, req.pedantic, &ctx)?;
            if let Some(dir) = stream.dir() {
                write_meta(dir, &config, stream.created())
                    .map_err(|e| ApiError::stream_update(format!("{e}")))?;
            }
            stream.update(config, self.port.as_ref(), &self.direct)?;
            Ok(stream)
        })();
        match result {
            Ok(stream) => Answer::json(
                &StreamCreateResponse {
                    kind: response_type::STREAM_UPDATE,
                    error: None,
                    info: Some(self.info_of(&stream)),
                    did_create: false,
                },
                false,
            ),
            Err(error) => Answer::json(
                &StreamCreateResponse {
                    kind: response_type::STREAM_UPDATE,
                    error: Some(error),
                    info: None,
                    did_create: false,
                },
                true,
            ),
        }
    }

    fn stream_info(&self, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: StreamInfoRequest = decode_request(payload, self.common.opts.strict)?;
            let stream = self.stream(name).ok_or_else(ApiError::stream_not_found)?;
            let mut info = self.info_of(&stream);
            info.cluster = Some(ClusterInfo {
                leader: self.common.server_name.clone(),
                ..ClusterInfo::default()
            });
            let mut paged = ApiPaged::default();
            if req.deleted_details {
                info.state.deleted = stream.with_store(|s| s.deleted());
            }
            if !req.subjects_filter.is_empty() {
                let subjects = stream.with_store(|s| s.subjects(req.subjects_filter.as_bytes()));
                paged.total = subjects.len();
                paged.offset = req.offset.min(subjects.len());
                paged.limit = page_limit::SUBJECT_DETAILS;
                info.state.subjects = subjects
                    .into_iter()
                    .skip(req.offset)
                    .take(page_limit::SUBJECT_DETAILS)
                    .map(|(subject, s)| (subject, s.msgs))
                    .collect();
            }
            Ok((paged, info))
        })();
        let (paged, info, error) = match result {
            Ok((paged, info)) => (paged, Some(info), None),
            Err(e) => (ApiPaged::default(), None, Some(e)),
        };
        let is_error = error.is_some();
        Answer::json(
            &StreamInfoResponse {
                kind: response_type::STREAM_INFO,
                error,
                paged,
                info,
            },
            is_error,
        )
    }

    fn stream_delete(&self, name: &str) -> Answer {
        let removed = self.streams.write().remove(name);
        let error = match removed {
            None => Some(ApiError::stream_not_found()),
            Some(stream) => {
                stream.unsubscribe(self.port.as_ref());
                stream.stop_consumers();
                let store = stream.take_store();
                let mut error = None;
                if let Err(e) = store.destroy() {
                    error = Some(ApiError::stream_delete(e));
                }
                if let Some(dir) = stream.dir()
                    && let Err(e) = std::fs::remove_dir_all(dir)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    error = Some(ApiError::stream_delete(format!("{}: {e}", dir.display())));
                }
                error
            }
        };
        success(response_type::STREAM_DELETE, error)
    }

    /// Streams (sorted by name) whose subjects overlap `subject` (all when empty).
    fn matching_streams(&self, subject: &str) -> Vec<Arc<Stream>> {
        self.streams
            .read()
            .values()
            .filter(|s| {
                subject.is_empty()
                    || s.config().subjects.iter().any(|own| {
                        natrium_wire::subjects_overlap(own.as_bytes(), subject.as_bytes())
                    })
            })
            .cloned()
            .collect()
    }

    fn stream_names(&self, payload: &[u8]) -> Answer {
        match decode_request::<StreamListRequest>(payload, self.common.opts.strict) {
            Ok(req) => {
                let all = self.matching_streams(&req.subject);
                let offset = req.offset.min(all.len());
                let names: Vec<String> = all
                    .iter()
                    .skip(req.offset)
                    .take(page_limit::NAMES)
                    .map(|s| s.name().to_owned())
                    .collect();
                Answer::json(
                    &StreamNamesResponse {
                        kind: response_type::STREAM_NAMES,
                        error: None,
                        paged: ApiPaged {
                            total: all.len(),
                            offset,
                            limit: page_limit::NAMES,
                        },
                        // nats-server sends null, not [], when there is nothing to list.
                        streams: (!names.is_empty()).then_some(names),
                    },
                    false,
                )
            }
            Err(error) => Answer::json(
                &StreamNamesResponse {
                    kind: response_type::STREAM_NAMES,
                    error: Some(error),
                    paged: ApiPaged::default(),
                    streams: None,
                },
                true,
            ),
        }
    }

    fn stream_list(&self, payload: &[u8]) -> Answer {
        match decode_request::<StreamListRequest>(payload, self.common.opts.strict) {
            Ok(req) => {
                let all = self.matching_streams(&req.subject);
                let offset = req.offset.min(all.len());
                let infos: Vec<StreamInfo> = all
                    .iter()
                    .skip(req.offset)
                    .take(page_limit::LIST)
                    .map(|s| {
                        let mut info = self.info_of(s);
                        info.config = s.config();
                        info
                    })
                    .collect();
                Answer::json(
                    &StreamListResponse {
                        kind: response_type::STREAM_LIST,
                        error: None,
                        paged: ApiPaged {
                            total: all.len(),
                            offset,
                            limit: page_limit::LIST,
                        },
                        streams: Some(infos),
                        missing: Vec::new(),
                    },
                    false,
                )
            }
            Err(error) => Answer::json(
                &StreamListResponse {
                    kind: response_type::STREAM_LIST,
                    error: Some(error),
                    paged: ApiPaged::default(),
                    streams: None,
                    missing: Vec::new(),
                },
                true,
            ),
        }
    }

    fn stream_purge(&self, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: StreamPurgeRequest = decode_request(payload, self.common.opts.strict)?;
            let stream = self.stream(name).ok_or_else(ApiError::stream_not_found)?;
            let config = stream.config();
            if config.sealed {
                return Err(ApiError::stream_sealed());
            }
            if config.deny_purge {
                return Err(ApiError::stream_purge_failed("stream purge not permitted"));
            }
            if req.seq > 0 && req.keep > 0 {
                return Err(ApiError::bad_request());
            }
            let purge = PurgeRequest {
                filter: (!req.filter.is_empty()).then(|| req.filter.clone()),
                seq: (req.seq > 0).then_some(req.seq),
                keep: (req.keep > 0).then_some(req.keep),
            };
            stream.purge(&purge).map_err(ApiError::stream_purge_failed)
        })();
        let (purged, error) = match result {
            Ok(n) => (n, None),
            Err(e) => (0, Some(e)),
        };
        let is_error = error.is_some();
        Answer::json(
            &StreamPurgeResponse {
                kind: response_type::STREAM_PURGE,
                success: !is_error,
                error,
                purged,
            },
            is_error,
        )
    }

    /// Finds the message a get request names.
    fn find_message(
        &self,
        stream: &Stream,
        req: &MsgGetRequest,
    ) -> Result<natrium_store::StoredMessage, ApiError> {
        let found = stream.with_store(|store| {
            if !req.last_by_subj.is_empty() {
                store.load_last(req.last_by_subj.as_bytes())
            } else if !req.next_by_subj.is_empty() {
                store.load_next(req.seq.max(1), req.next_by_subj.as_bytes())
            } else {
                store.load(req.seq)
            }
        });
        match found {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(ApiError::no_message_found()),
            Err(e) => Err(ApiError::stream_general_error(e)),
        }
    }

    fn msg_get(&self, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: MsgGetRequest = decode_request(payload, self.common.opts.strict)?;
            let stream = self.stream(name).ok_or_else(ApiError::stream_not_found)?;
            check_msg_get(&req)?;
            let m = self.find_message(&stream, &req)?;
            Ok(StoredMsg {
                subject: String::from_utf8_lossy(&m.subject).into_owned(),
                seq: m.seq,
                hdrs: m.headers.map(|h| h.to_vec()).unwrap_or_default(),
                data: m.payload.to_vec(),
                time: Timestamp::from_unix_nanos(u64::try_from(m.time).unwrap_or(0)),
            })
        })();
        let (message, error) = match result {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e)),
        };
        let is_error = error.is_some();
        Answer::json(
            &MsgGetResponse {
                kind: response_type::STREAM_MSG_GET,
                error,
                message,
            },
            is_error,
        )
    }

    fn msg_delete(&self, name: &str, payload: &[u8]) -> Answer {
        let result = (|| {
            let req: MsgDeleteRequest = decode_request(payload, self.common.opts.strict)?;
            let stream = self.stream(name).ok_or_else(ApiError::stream_not_found)?;
            let config = stream.config();
            if config.sealed {
                return Err(ApiError::stream_sealed());
            }
            if config.deny_delete {
                return Err(ApiError::stream_msg_delete_failed(
                    "message delete not permitted",
                ));
            }
            if req.seq == 0 {
                return Err(ApiError::bad_request());
            }
            if req.seq > stream.state().last_seq {
                return Err(ApiError::stream_msg_delete_failed("stream store EOF"));
            }
            let removed = stream
                .with_store(|s| {
                    s.remove(req.seq, !req.no_erase)
                        .and_then(|r| s.flush().map(|()| r))
                })
                .map_err(ApiError::stream_msg_delete_failed)?;
            if removed {
                Ok(())
            } else {
                Err(ApiError::stream_msg_delete_failed("no message found"))
            }
        })();
        success(response_type::STREAM_MSG_DELETE, result.err())
    }

    /// `DIRECT.GET`: the message itself, with `Nats-Stream`/`Nats-Sequence`/`Nats-Subject`/
    /// `Nats-Time-Stamp` headers, or a status (`404 Message Not Found`, `408 ...`).
    fn direct_get(&self, name: &str, payload: &[u8], last_by: Option<String>) -> Answer {
        let status = |code: u16, text: &str| Answer {
            headers: Some(format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()),
            payload: Vec::new(),
            error: true,
        };
        let Some(stream) = self.stream(name).filter(|s| s.config().allow_direct) else {
            // Without allow_direct nobody serves the subject: the client sees no responders.
            return status(503, "No Responders");
        };
        let req = match last_by {
            Some(subject) => {
                if !payload.iter().all(u8::is_ascii_whitespace) {
                    return status(408, "Bad Request");
                }
                MsgGetRequest {
                    last_by_subj: subject,
                    ..MsgGetRequest::default()
                }
            }
            None if payload.iter().all(u8::is_ascii_whitespace) => {
                return status(408, "Empty Request");
            }
            None => {
                if serde_json::from_slice::<serde_json::Value>(payload).is_err() {
                    return status(408, "Malformed Request");
                }
                // Direct get ignores what it does not know, as nats-server does.
                let req = decode_request::<MsgGetRequest>(payload, false).unwrap_or_default();
                match ways_to_get(&req) {
                    0 => return status(408, "Empty Request"),
                    1 => req,
                    _ => return status(408, "Bad Request"),
                }
            }
        };
        match self.find_message(&stream, &req) {
            Ok(m) => {
                let time = Timestamp::from_unix_nanos(u64::try_from(m.time).unwrap_or(0));
                let mut headers = match &m.headers {
                    Some(h) if !req.no_hdr => {
                        // The message's own block, without its terminating blank line.
                        let text = String::from_utf8_lossy(h);
                        text.trim_end_matches("\r\n").to_owned() + "\r\n"
                    }
                    _ => "NATS/1.0\r\n".to_owned(),
                };
                headers.push_str(&format!(
                    "Nats-Stream: {}\r\nNats-Subject: {}\r\nNats-Sequence: {}\r\nNats-Time-Stamp: {}\r\n\r\n",
                    stream.name(),
                    String::from_utf8_lossy(&m.subject),
                    m.seq,
                    time
                ));
                Answer {
                    headers: Some(headers.into_bytes()),
                    payload: m.payload.to_vec(),
                    error: false,
                }
            }
            Err(_) => status(404, "Message Not Found"),
        }
    }
}

fn success(kind: &'static str, error: Option<ApiError>) -> Answer {
    let is_error = error.is_some();
    Answer::json(
        &SuccessResponse {
            kind,
            success: !is_error,
            error,
        },
        is_error,
    )
}

/// Writes a stream's `meta.json` atomically (a new file renamed over the old, then synced).
fn write_meta(
    dir: &std::path::Path,
    config: &super::types::StreamConfig,
    created: Timestamp,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = StreamMeta {
        config: config.clone(),
        created,
    };
    let bytes = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
    let tmp = dir.join("meta.json.new");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("meta.json"))?;
    std::fs::File::open(dir)?.sync_all()
}

/// How many ways to find a message a get request names (one is right).
fn ways_to_get(req: &MsgGetRequest) -> usize {
    [
        req.seq > 0 && req.next_by_subj.is_empty(),
        !req.last_by_subj.is_empty(),
        !req.next_by_subj.is_empty(),
    ]
    .iter()
    .filter(|w| **w)
    .count()
}

/// A `STREAM.MSG.GET` request names exactly one way to find a message.
fn check_msg_get(req: &MsgGetRequest) -> Result<(), ApiError> {
    if ways_to_get(req) != 1 {
        return Err(ApiError::bad_request());
    }
    Ok(())
}
