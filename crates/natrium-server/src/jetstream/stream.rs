//! A stream: its configuration, its store, deduplication, and the publish path.
//!
//! A message published on one of the stream's subjects reaches [`Stream::receive`] in the
//! publisher's own task (the stream is an internal subscriber). It is checked against the
//! stream's rules and the publisher's expectations (`Nats-Expected-*`), appended to the
//! store's write buffer, and its acknowledgement waits for the end of the publisher's read
//! batch, when the store hands the whole batch to the OS in one write
//! ([`crate::internal::Durable`]). So an acknowledged message survives the process being
//! killed, and a burst of publishes costs one write, not one per message.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use natrium_store::{
    Discard, MessageStore, PurgeRequest, StoreError, StoreLimits, StoredMessage, SubjectState,
};
use parking_lot::Mutex;

use super::consumer::Consumer;
use super::errors::ApiError;
use super::headers;
use super::types::{DiscardPolicy, PubAck, RetentionPolicy, StreamConfig, StreamState, Timestamp};
use super::usage::Usage;
use crate::go_time::go_duration;
use crate::internal::{AfterBatch, Durable, InMsg, InternalSub, Port, Reply, Sink};

/// What every stream of one account's JetStream shares.
#[derive(Clone)]
pub(crate) struct Env {
    /// The account's stored bytes (which add to the server's).
    pub usage: Arc<Usage>,
    /// The JetStream domain, empty for none.
    pub domain: Arc<str>,
}

/// One stream.
pub(crate) struct Stream {
    me: Weak<Stream>,
    name: String,
    created: Timestamp,
    /// The stream's directory, for file-backed streams.
    dir: Option<PathBuf>,
    /// The account's stored bytes, which this stream's changes are added to.
    usage: Arc<Usage>,
    /// The JetStream domain its acknowledgements name, empty for none.
    domain: Arc<str>,
    inner: Mutex<Inner>,
}

/// What the publish path and the API change, under one lock.
struct Inner {
    config: StreamConfig,
    store: Box<dyn MessageStore>,
    dedupe: Dedupe,
    /// `Nats-Msg-Id` of the last message stored, for `Nats-Expected-Last-Msg-Id`.
    last_msg_id: String,
    /// The subscriptions on the stream's subjects.
    subs: Vec<InternalSub>,
    /// Its consumers, by name.
    consumers: BTreeMap<String, Arc<Consumer>>,
    /// The last sequence handed to the OS. Consumers read no further: a failed write takes
    /// the store back to what its files hold, and later messages reuse those sequences.
    written: u64,
    /// Sequences of the subject delete markers this process wrote: a marker that expires
    /// leaves no marker of its own. (Markers from before a restart are not known: one of
    /// them expiring writes one more marker, which then expires for good.)
    markers: HashSet<u64>,
    /// The store's bytes as last added to [`Usage`].
    counted: u64,
}

/// Message ids seen within the duplicate window, oldest first.
#[derive(Default)]
struct Dedupe {
    ids: HashMap<String, u64>,
    order: VecDeque<(i64, String)>,
}

impl Dedupe {
    /// Forgets ids older than `window` at time `now`.
    fn prune(&mut self, now: i64, window: Option<Duration>) {
        let Some(window) = window else {
            self.ids.clear();
            self.order.clear();
            return;
        };
        let oldest = now.saturating_sub(i64::try_from(window.as_nanos()).unwrap_or(i64::MAX));
        while let Some((t, _)) = self.order.front()
            && *t < oldest
        {
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }

    fn insert(&mut self, id: &str, seq: u64, time: i64) {
        if self.ids.insert(id.to_owned(), seq).is_none() {
            self.order.push_back((time, id.to_owned()));
        }
    }
}

/// Unix nanoseconds now.
pub(crate) fn now_nanos() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}

/// The store limits a stream configuration asks for.
pub(crate) fn store_limits(config: &StreamConfig) -> StoreLimits {
    StoreLimits {
        max_msgs: config.max_msgs,
        max_bytes: config.max_bytes,
        max_age: config.max_age().unwrap_or(Duration::ZERO),
        max_msgs_per_subject: config.max_msgs_per_subject,
        discard: match config.discard {
            DiscardPolicy::Old => Discard::Old,
            DiscardPolicy::New => Discard::New,
        },
        discard_new_per_subject: config.discard_new_per_subject,
    }
}

impl Stream {
    /// A stream over `store`, subscribed to its subjects through `port`.
    pub(crate) fn new(
        config: StreamConfig,
        created: Timestamp,
        dir: Option<PathBuf>,
        store: Box<dyn MessageStore>,
        port: &dyn Port,
        direct: &Arc<dyn Sink>,
        env: Env,
    ) -> Result<Arc<Stream>, ApiError> {
        let Env { usage, domain } = env;
        let name = config.name.clone();
        let stream = Arc::new_cyclic(|me| Stream {
            me: me.clone(),
            name,
            created,
            dir,
            usage,
            domain,
            inner: Mutex::new(Inner {
                config,
                store,
                dedupe: Dedupe::default(),
                last_msg_id: String::new(),
                subs: Vec::new(),
                consumers: BTreeMap::new(),
                written: 0,
                markers: HashSet::new(),
                counted: 0,
            }),
        });
        {
            let mut inner = stream.inner.lock();
            inner.written = inner.store.state().last_seq;
            stream.recount(&mut inner);
        }
        stream.rebuild_dedupe();
        stream.subscribe(port, direct)?;
        Ok(stream)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn created(&self) -> Timestamp {
        self.created
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub(crate) fn config(&self) -> StreamConfig {
        self.inner.lock().config.clone()
    }

    /// Subscribes to the configured subjects, and with `allow_direct` to its `DIRECT.GET`
    /// subjects for `direct` (replacing earlier subscriptions).
    fn subscribe(&self, port: &dyn Port, direct: &Arc<dyn Sink>) -> Result<(), ApiError> {
        let Some(me) = self.me.upgrade() else {
            return Ok(());
        };
        let sink: Arc<dyn Sink> = me;
        let mut inner = self.inner.lock();
        for sub in inner.subs.drain(..) {
            port.unsubscribe(&sub);
        }
        let subjects = inner.config.subjects.clone();
        for subject in subjects {
            match port.subscribe(subject.as_bytes(), None, sink.clone()) {
                Some(sub) => inner.subs.push(sub),
                None => {
                    return Err(ApiError::stream_invalid_config(format!(
                        "invalid subject {subject:?}"
                    )));
                }
            }
        }
        if inner.config.allow_direct {
            let get = format!("$JS.API.DIRECT.GET.{}", self.name);
            for subject in [get.clone(), format!("{get}.>")] {
                if let Some(sub) = port.subscribe(subject.as_bytes(), None, direct.clone()) {
                    inner.subs.push(sub);
                }
            }
        }
        Ok(())
    }

    /// Stops taking messages (the stream is being deleted or the server stops).
    pub(crate) fn unsubscribe(&self, port: &dyn Port) {
        for sub in self.inner.lock().subs.drain(..) {
            port.unsubscribe(&sub);
        }
    }

    /// Applies a new (already validated) configuration.
    pub(crate) fn update(
        &self,
        config: StreamConfig,
        port: &dyn Port,
        direct: &Arc<dyn Sink>,
    ) -> Result<(), ApiError> {
        let resubscribe = {
            let mut inner = self.inner.lock();
            inner
                .store
                .set_limits(store_limits(&config))
                .map_err(ApiError::stream_update)?;
            self.recount(&mut inner);
            let changed = inner.config.subjects != config.subjects
                || inner.config.allow_direct != config.allow_direct;
            inner.config = config;
            changed
        };
        if resubscribe {
            self.subscribe(port, direct)?;
        }
        Ok(())
    }

    /// Re-reads the message ids within the duplicate window from the store, so a publisher
    /// retrying across a restart is still deduplicated.
    fn rebuild_dedupe(&self) {
        let mut inner = self.inner.lock();
        let Some(window) = inner.config.duplicate_window() else {
            return;
        };
        let state = inner.store.state();
        let oldest = now_nanos().saturating_sub(i64::try_from(window.as_nanos()).unwrap_or(0));
        let mut found = Vec::new();
        let mut seq = state.last_seq;
        while seq >= state.first_seq.max(1) {
            match inner.store.load(seq) {
                Ok(Some(m)) if m.time < oldest => break,
                Ok(Some(m)) => {
                    if let Some(id) = m
                        .headers
                        .as_deref()
                        .and_then(|h| headers::get(h, headers::MSG_ID))
                    {
                        found.push((id.to_owned(), m.seq, m.time));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("stream {}: rebuilding deduplication: {e}", self.name);
                    break;
                }
            }
            seq -= 1;
        }
        if let Some((id, _, _)) = found.first() {
            inner.last_msg_id = id.clone();
        }
        for (id, seq, time) in found.into_iter().rev() {
            inner.dedupe.insert(&id, seq, time);
        }
    }

    /// The stream's state as stream info reports it.
    pub(crate) fn state(&self) -> StreamState {
        let inner = self.inner.lock();
        let s = inner.store.state();
        StreamState {
            messages: s.msgs,
            bytes: s.bytes,
            first_seq: s.first_seq,
            first_ts: ts(s.first_time),
            last_seq: s.last_seq,
            last_ts: ts(s.last_time),
            num_subjects: s.num_subjects,
            num_deleted: s.num_deleted,
            consumer_count: inner.consumers.len() as u64,
            ..StreamState::default()
        }
    }

    /// The store's write error, while it has one (`/healthz` reports it).
    pub(crate) fn write_error(&self) -> Option<String> {
        self.inner.lock().store.write_error()
    }

    /// Whether the stream has a consumer of this name (`/healthz?consumer=`).
    pub(crate) fn has_consumer(&self, name: &str) -> bool {
        self.inner.lock().consumers.contains_key(name)
    }

    /// Runs `f` on the store, under the stream's lock.
    pub(crate) fn with_store<R>(&self, f: impl FnOnce(&mut dyn MessageStore) -> R) -> R {
        let mut inner = self.inner.lock();
        let result = f(inner.store.as_mut());
        self.recount(&mut inner);
        result
    }

    /// Adds the change of the store's bytes since the last count to the server's usage.
    fn recount(&self, inner: &mut Inner) {
        let now = inner.store.bytes();
        if now != inner.counted {
            self.usage.changed(inner.config.storage, inner.counted, now);
            inner.counted = now;
        }
    }

    /// Purges as `STREAM.PURGE` asks.
    pub(crate) fn purge(&self, req: &PurgeRequest) -> Result<u64, StoreError> {
        let mut inner = self.inner.lock();
        let n = inner.store.purge(req);
        self.recount(&mut inner);
        inner.store.flush()?;
        n
    }

    /// Removes expired messages; fsyncs when `sync` (the sync interval came round).
    pub(crate) fn housekeeping(&self, sync: bool) {
        let mut inner = self.inner.lock();
        let now = now_nanos();
        let marker_ttl = inner.config.subject_delete_marker_ttl();
        // With markers on, a subject whose last message expires gets a marker: compare the
        // subjects before and after expiry.
        let before = marker_ttl.map(|_| inner.store.subjects(b">"));
        let mut wake = Vec::new();
        match inner.store.expire(now) {
            Err(e) => tracing::error!("stream {}: expiring messages: {e}", self.name),
            Ok(expired) => {
                if let (Some(ttl), Some(before)) = (marker_ttl, before)
                    && expired > 0
                    && self.write_markers(&mut inner, &before, ttl, now)
                {
                    wake = inner.consumers.values().cloned().collect();
                }
            }
        }
        self.recount(&mut inner);
        let window = inner.config.duplicate_window();
        inner.dedupe.prune(now_nanos(), window);
        if sync && let Err(e) = inner.store.sync() {
            tracing::error!("stream {}: sync: {e}", self.name);
        }
        let consumers: Vec<Arc<Consumer>> = if sync {
            inner.consumers.values().cloned().collect()
        } else {
            Vec::new()
        };
        drop(inner);
        for c in &consumers {
            c.sync();
        }
        // Consumers take the stream lock to read: wake them after releasing it.
        for c in &wake {
            c.notify();
        }
    }

    /// Stores a `MaxAge` delete marker (as nats-server 2.15 writes it) on each subject of
    /// `before` that expiry emptied; true when consumers have new messages to deliver.
    fn write_markers(
        &self,
        inner: &mut Inner,
        before: &BTreeMap<String, SubjectState>,
        ttl: Duration,
        now: i64,
    ) -> bool {
        let after = inner.store.subjects(b">");
        let headers = format!(
            "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: {}\r\nNats-Rollup: sub\r\n\r\n",
            go_duration(ttl)
        );
        let mut wrote = false;
        for (subject, state) in before {
            if after.contains_key(subject) || inner.markers.remove(&state.last_seq) {
                continue;
            }
            match inner.store.store(
                subject.as_bytes(),
                Some(headers.as_bytes()),
                b"",
                now,
                Some(ttl),
            ) {
                Ok(seq) => {
                    inner.markers.insert(seq);
                    wrote = true;
                }
                Err(e) => tracing::error!("stream {}: writing a delete marker: {e}", self.name),
            }
        }
        if !wrote {
            return false;
        }
        if let Err(e) = inner.store.flush() {
            tracing::error!("stream {}: flushing delete markers: {e}", self.name);
            return false;
        }
        inner.written = inner.store.state().last_seq;
        true
    }

    /// Flushes and syncs the store (at shutdown).
    pub(crate) fn close(&self) {
        let mut inner = self.inner.lock();
        let result = inner.store.flush().and_then(|()| inner.store.sync());
        if let Err(e) = result {
            tracing::error!("stream {}: closing the store: {e}", self.name);
        }
    }

    /// Takes the store out for deletion, leaving an empty memory store behind.
    pub(crate) fn take_store(&self) -> Box<dyn MessageStore> {
        let mut inner = self.inner.lock();
        let store = std::mem::replace(
            &mut inner.store,
            Box::new(natrium_store::MemoryStore::new(StoreLimits::default())),
        );
        self.recount(&mut inner);
        store
    }

    /// Checks `msg` against the stream's rules and the publisher's expectations, and
    /// appends it. Returns the acknowledgement.
    fn accept(&self, inner: &mut Inner, msg: &InMsg<'_>) -> Result<PubAck, ApiError> {
        let config = &inner.config;
        if config.sealed {
            return Err(ApiError::stream_sealed());
        }
        let stored = inner.store.message_size(
            msg.subject.len(),
            msg.headers.map(<[u8]>::len),
            msg.payload.len(),
        );
        if let Some(refused) = self.usage.refuse(config.storage, stored) {
            return Err(refused);
        }
        let size = msg.headers.map_or(0, <[u8]>::len) + msg.payload.len();
        if config.max_msg_size > 0 && size > config.max_msg_size as usize {
            return Err(ApiError::stream_message_exceeds_maximum());
        }
        let now = now_nanos();
        let mut msg_id = None;
        let mut rollup = None;
        let mut ttl = None;
        if let Some(block) = msg.headers
            && headers::may_have_jetstream_headers(block)
        {
            if let Some(id) = headers::get(block, headers::MSG_ID).filter(|id| !id.is_empty()) {
                let window = config.duplicate_window();
                inner.dedupe.prune(now, window);
                if let Some(&seq) = inner.dedupe.ids.get(id) {
                    return Ok(PubAck {
                        stream: self.name.clone(),
                        domain: self.domain.to_string(),
                        seq,
                        duplicate: true,
                    });
                }
                msg_id = Some(id);
            }
            if let Some(expected) = headers::get(block, headers::EXPECTED_STREAM)
                && expected != self.name
            {
                return Err(ApiError::stream_not_match());
            }
            let state = inner.store.state();
            if let Some(expected) = headers::get(block, headers::EXPECTED_LAST_SEQ) {
                let expected: u64 = expected
                    .parse()
                    .map_err(|_| ApiError::stream_wrong_last_sequence(state.last_seq))?;
                if expected != state.last_seq {
                    return Err(ApiError::stream_wrong_last_sequence(state.last_seq));
                }
            }
            if let Some(expected) = headers::get(block, headers::EXPECTED_LAST_SUBJECT_SEQ) {
                let filter = headers::get(block, headers::EXPECTED_LAST_SUBJECT_SEQ_SUBJECT)
                    .filter(|s| !s.is_empty())
                    .map_or(msg.subject, str::as_bytes);
                let last = inner
                    .store
                    .subjects(filter)
                    .values()
                    .map(|s| s.last_seq)
                    .max()
                    .unwrap_or(0);
                let expected: u64 = expected
                    .parse()
                    .map_err(|_| ApiError::stream_wrong_last_sequence(last))?;
                if expected != last {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            }
            if let Some(expected) = headers::get(block, headers::EXPECTED_LAST_MSG_ID)
                && expected != inner.last_msg_id
            {
                return Err(ApiError::stream_wrong_last_msg_id(&inner.last_msg_id));
            }
            if let Some(kind) = headers::get(block, headers::ROLLUP) {
                if !config.allow_rollup_hdrs {
                    return Err(ApiError::stream_rollup_failed("rollup not permitted"));
                }
                rollup = match kind.to_ascii_lowercase().as_str() {
                    "sub" => Some(false),
                    "all" => Some(true),
                    _ => {
                        return Err(ApiError::stream_rollup_failed(format!(
                            "rollup value invalid: {kind:?}"
                        )));
                    }
                };
            }
            if let Some(value) = headers::get(block, headers::TTL) {
                if !config.allow_msg_ttl {
                    return Err(ApiError::message_ttl_disabled());
                }
                ttl = headers::parse_ttl(value).map_err(|()| ApiError::message_ttl_invalid())?;
            }
        }
        // nats-server sends the store's own words ("maximum messages exceeded") as a
        // store failure.
        let seq = match inner
            .store
            .store(msg.subject, msg.headers, msg.payload, now, ttl)
        {
            Ok(seq) => seq,
            Err(e) => return Err(self.store_failed(inner, e)),
        };
        if let Some(id) = msg_id {
            inner.dedupe.insert(id, seq, now);
            inner.last_msg_id.clear();
            inner.last_msg_id.push_str(id);
        } else if !inner.last_msg_id.is_empty() {
            inner.last_msg_id.clear();
        }
        if let Some(all) = rollup {
            let filter = (!all).then(|| String::from_utf8_lossy(msg.subject).into_owned());
            let req = PurgeRequest {
                filter,
                seq: None,
                keep: Some(1),
            };
            inner
                .store
                .purge(&req)
                .map_err(ApiError::stream_rollup_failed)?;
        }
        // With interest retention, a message nobody is interested in is not kept.
        if inner.config.retention == RetentionPolicy::Interest
            && !inner.consumers.values().any(|c| c.wants(msg.subject))
        {
            inner
                .store
                .remove(seq, false)
                .map_err(ApiError::stream_store_failed)?;
        }
        Ok(PubAck {
            stream: self.name.clone(),
            domain: self.domain.to_string(),
            seq,
            ..PubAck::default()
        })
    }

    fn durable(&self) -> Option<Arc<dyn Durable>> {
        self.me.upgrade().map(|s| s as Arc<dyn Durable>)
    }
}

/// What consumers read and change.
impl Stream {
    /// Adds (or replaces) a consumer.
    pub(crate) fn add_consumer(&self, consumer: Arc<Consumer>) {
        let old = self
            .inner
            .lock()
            .consumers
            .insert(consumer.name().to_owned(), consumer);
        if let Some(old) = old {
            old.stop();
        }
    }

    pub(crate) fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.inner.lock().consumers.get(name).cloned()
    }

    /// Every consumer, by name.
    pub(crate) fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.inner.lock().consumers.values().cloned().collect()
    }

    /// Deletes a consumer and its state on disk; `false` if there was none.
    pub(crate) fn remove_consumer(&self, name: &str) -> bool {
        let removed = self.inner.lock().consumers.remove(name);
        match removed {
            Some(c) => {
                c.delete(true);
                // With interest retention, what only it needed goes too.
                self.drop_unneeded();
                true
            }
            None => false,
        }
    }

    /// Stops every consumer (stream delete or server shutdown), saving their state.
    pub(crate) fn stop_consumers(&self) {
        let consumers = std::mem::take(&mut self.inner.lock().consumers);
        for c in consumers.values() {
            c.stop();
        }
    }

    /// The message with sequence `seq`.
    pub(crate) fn load(&self, seq: u64) -> Option<StoredMessage> {
        let mut inner = self.inner.lock();
        if seq > inner.written {
            return None;
        }
        match inner.store.load(seq) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("stream {}: loading message {seq}: {e}", self.name);
                None
            }
        }
    }

    /// The first message at or after `start` matching one of `filters` (all when empty).
    pub(crate) fn load_next(&self, start: u64, filters: &[Vec<u8>]) -> Option<StoredMessage> {
        let mut inner = self.inner.lock();
        let mut best: Option<StoredMessage> = None;
        for filter in filters_or_all(filters) {
            match inner.store.load_next(start, filter) {
                Ok(Some(m))
                    if m.seq <= inner.written && best.as_ref().is_none_or(|b| m.seq < b.seq) =>
                {
                    best = Some(m)
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("stream {}: loading from {start}: {e}", self.name);
                    return None;
                }
            }
        }
        best
    }

    /// How many messages at or after `start` match `filters` (which never overlap).
    pub(crate) fn num_pending(&self, start: u64, filters: &[Vec<u8>]) -> u64 {
        let mut inner = self.inner.lock();
        filters_or_all(filters)
            .map(|f| inner.store.num_pending(start, f, false))
            .sum()
    }

    /// The sequence of the last message matching `filters`.
    pub(crate) fn last_matching(&self, filters: &[Vec<u8>]) -> Option<u64> {
        let mut inner = self.inner.lock();
        filters_or_all(filters)
            .filter_map(|f| inner.store.load_last(f).ok().flatten().map(|m| m.seq))
            .max()
    }

    /// The first message stored at or after `time` (unix ns): stored times only grow, so a
    /// binary search over sequences finds it.
    pub(crate) fn first_at_or_after(&self, time: i64) -> Option<u64> {
        let mut inner = self.inner.lock();
        let state = inner.store.state();
        let (mut lo, mut hi) = (state.first_seq.max(1), state.last_seq + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match inner.store.load_next(mid, b">") {
                Ok(Some(m)) if m.time < time => lo = m.seq + 1,
                Ok(Some(_)) => hi = mid,
                _ => hi = mid,
            }
        }
        inner
            .store
            .load_next(lo, b">")
            .ok()
            .flatten()
            .filter(|m| m.time >= time)
            .map(|m| m.seq)
    }

    /// The last sequence of every subject matching `filters`, ascending.
    pub(crate) fn last_per_subject(&self, filters: &[Vec<u8>]) -> Vec<u64> {
        let inner = self.inner.lock();
        let mut seqs: Vec<u64> = filters_or_all(filters)
            .flat_map(|f| inner.store.subjects(f).into_values().map(|s| s.last_seq))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs
    }

    /// Consumer `name` is done with `seqs`: a workqueue stream removes them; an interest
    /// stream removes those no other consumer still needs.
    ///
    /// Lock order: a consumer may read the stream under its own lock, so the stream never
    /// asks a consumer anything under the stream's lock.
    pub(crate) fn acknowledged(&self, name: &str, seqs: &[u64]) {
        let (retention, others) = {
            let inner = self.inner.lock();
            let others: Vec<Arc<Consumer>> = inner
                .consumers
                .iter()
                .filter(|(other, _)| *other != name)
                .map(|(_, c)| c.clone())
                .collect();
            (inner.config.retention, others)
        };
        let done: Vec<u64> = match retention {
            RetentionPolicy::Limits => return,
            RetentionPolicy::WorkQueue => seqs.to_vec(),
            RetentionPolicy::Interest => {
                let subjects: Vec<(u64, Bytes)> = {
                    let mut inner = self.inner.lock();
                    seqs.iter()
                        .filter_map(|&seq| inner.store.load(seq).ok().flatten())
                        .map(|m| (m.seq, m.subject))
                        .collect()
                };
                subjects
                    .into_iter()
                    .filter(|(seq, subject)| !others.iter().any(|c| c.needs(*seq, subject)))
                    .map(|(seq, _)| seq)
                    .collect()
            }
        };
        self.remove_all(&done);
    }

    /// Interest retention: removes every message no consumer needs any more.
    fn drop_unneeded(&self) {
        let (messages, consumers) = {
            let mut inner = self.inner.lock();
            if inner.config.retention != RetentionPolicy::Interest {
                return;
            }
            let mut messages = Vec::new();
            let mut seq = inner.store.state().first_seq;
            while let Ok(Some(m)) = inner.store.load_next(seq, b">") {
                seq = m.seq + 1;
                messages.push((m.seq, m.subject));
            }
            let consumers: Vec<Arc<Consumer>> = inner.consumers.values().cloned().collect();
            (messages, consumers)
        };
        let unneeded: Vec<u64> = messages
            .into_iter()
            .filter(|(seq, subject)| !consumers.iter().any(|c| c.needs(*seq, subject)))
            .map(|(seq, _)| seq)
            .collect();
        self.remove_all(&unneeded);
    }

    fn remove_all(&self, seqs: &[u64]) {
        if seqs.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        for &seq in seqs {
            if let Err(e) = inner.store.remove(seq, false) {
                tracing::error!("stream {}: removing message {seq}: {e}", self.name);
            }
        }
        self.recount(&mut inner);
        if let Err(e) = inner.store.flush() {
            tracing::error!("stream {}: removing messages: {e}", self.name);
        }
    }
}

/// The filters to read with: the consumer's, or every subject.
fn filters_or_all(filters: &[Vec<u8>]) -> impl Iterator<Item = &[u8]> {
    let all: &[u8] = b">";
    let none = filters.is_empty();
    filters.iter().map(Vec::as_slice).chain(none.then_some(all))
}

fn ts(nanos: i64) -> Timestamp {
    match u64::try_from(nanos) {
        Ok(n) if n > 0 => Timestamp::from_unix_nanos(n),
        _ => Timestamp::default(),
    }
}

impl Sink for Stream {
    fn receive(&self, msg: &InMsg<'_>, after: &mut AfterBatch) -> bool {
        let (result, no_ack) = {
            let mut inner = self.inner.lock();
            let result = self.accept(&mut inner, msg);
            self.recount(&mut inner);
            (result, inner.config.no_ack)
        };
        let Some(durable) = self.durable() else {
            return false;
        };
        match (msg.reply.filter(|_| !no_ack), result) {
            (Some(reply), Ok(ack)) => {
                after.ack_after_flush(&durable, reply, ack.to_json().into_bytes());
            }
            (Some(reply), Err(error)) => after.reply(Reply {
                subject: reply.to_vec(),
                headers: None,
                payload: PubAck::error_json(&self.name, &error).into_bytes(),
            }),
            (None, Ok(_)) => after.flush(&durable),
            (None, Err(error)) => {
                tracing::debug!("stream {}: message refused: {error:?}", self.name);
            }
        }
        true
    }
}

impl Stream {
    /// The error a publisher gets when the store refused or failed to write its message.
    ///
    /// nats-server answers a message the store refuses (limits) with its store-failed error,
    /// and a stream out of storage with "insufficient resources" (503/10023), which is what
    /// a publisher sees there when the disk fills up under the default `max_file_store`. On
    /// an I/O error itself nats-server sends no reply and keeps the stream failed until a
    /// restart; here the store goes back to what its files hold, so the publisher gets an
    /// error ack at once and publishing works again once space is freed.
    fn store_failed(&self, inner: &mut Inner, e: StoreError) -> ApiError {
        if let StoreError::Io { source, .. } = &e {
            tracing::error!(
                "JetStream failed to store a msg on stream '{}': {e}",
                self.name
            );
            forget_lost_ids(inner);
            if is_out_of_space(source) {
                return ApiError::insufficient_resources();
            }
        }
        ApiError::stream_store_failed(e)
    }
}

/// After the store went back to what its files hold: forgets the ids of messages that are
/// no longer there, so a publisher's retry is stored instead of called a duplicate.
fn forget_lost_ids(inner: &mut Inner) {
    let last = inner.store.state().last_seq;
    let dedupe = &mut inner.dedupe;
    dedupe.ids.retain(|_, seq| *seq <= last);
    let ids = &dedupe.ids;
    dedupe.order.retain(|(_, id)| ids.contains_key(id));
    let last_id = match inner.store.load(last) {
        Ok(Some(m)) => m
            .headers
            .as_deref()
            .and_then(|h| headers::get(h, headers::MSG_ID))
            .map(str::to_owned),
        _ => None,
    };
    inner.last_msg_id = last_id.unwrap_or_default();
}

/// Whether the disk (or the user's quota) is full.
fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl Durable for Stream {
    fn flush(&self) -> Result<(), Vec<u8>> {
        let consumers: Vec<Arc<Consumer>> = {
            let mut inner = self.inner.lock();
            if let Err(e) = inner.store.flush() {
                let error = self.store_failed(&mut inner, e);
                return Err(PubAck::error_json(&self.name, &error).into_bytes());
            }
            inner.written = inner.store.state().last_seq;
            inner.consumers.values().cloned().collect()
        };
        // Consumers hand out only what is written.
        for c in &consumers {
            c.notify();
        }
        Ok(())
    }
}
