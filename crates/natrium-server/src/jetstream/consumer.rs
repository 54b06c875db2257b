//! A consumer: which stream messages it hands out, to whom, and what became of them.
//!
//! Each consumer has one delivery task. It wakes when the stream stores a message, a pull
//! request arrives, an acknowledgement frees room, or a timer is due (an ack wait ran out, a
//! pull request expired, a heartbeat is due), and then delivers what it can: first messages
//! due for redelivery, then new ones, to the waiting pull requests in order (pull) or to the
//! deliver subject while someone listens there (push). Acknowledgements arrive on
//! `$JS.ACK.<stream>.<consumer>.>` in the acker's own task ([`AckSink`]), change the state
//! at once, and are made durable with the acker's batch (the consumer is a
//! [`Durable`]): an acknowledgement the client saw confirmed is never undone by a crash.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ack::{self, AckKind};
use super::consumer_state::{Loaded, Pending, Saved, StateLog};
use super::consumer_types::{
    AckMetric, EventHeader, MaxDeliverAdvisory, NakAdvisory, PinnedAdvisory, TerminatedAdvisory,
    UnpinnedAdvisory, advisory_subject, advisory_type,
};
use super::consumer_types::{
    ConsumerConfig, ConsumerInfo, NextRequest, PriorityGroupState, PriorityPolicy, ReplayPolicy,
    SequenceInfo, decode_next,
};
use super::flow_control::FlowWindow;
use super::stream::Stream;
use super::types::Timestamp;
use crate::internal::{AfterBatch, Durable, InMsg, InternalSub, Outgoing, Port, Reply, Sink};

/// How a consumer acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckPolicy {
    /// Nothing to acknowledge: delivered is done.
    None,
    /// Acknowledging one message acknowledges every earlier one.
    All,
    /// Each message on its own.
    Explicit,
}

/// Where a new consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    All,
    Last,
    New,
    Sequence(u64),
    Time(i64),
    LastPerSubject,
}

/// The consumer's behaviour, taken from its configuration.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub ack: AckPolicy,
    pub ack_wait: Duration,
    pub backoff: Vec<Duration>,
    /// Deliveries of one message at most; `None` for no limit.
    pub max_deliver: Option<u64>,
    /// Subject filters; empty for all.
    pub filters: Vec<Vec<u8>>,
    /// Unacknowledged messages at most; `None` for no limit.
    pub max_ack_pending: Option<usize>,
    /// Pull requests waiting at most.
    pub max_waiting: usize,
    /// Push: the subject messages go to.
    pub deliver_subject: Option<Vec<u8>>,
    pub headers_only: bool,
    /// Push: an idle heartbeat after this long without a delivery.
    pub idle_heartbeat: Option<Duration>,
    pub flow_control: bool,
    /// Deleted after this long without interest (ephemerals, or when configured).
    pub inactive_threshold: Option<Duration>,
    /// Delivers nothing until then (`CONSUMER.PAUSE`, or `pause_until` at creation).
    pub paused_until: Option<SystemTime>,
    /// Push: bits per second at most (`rate_limit_bps`).
    pub rate_limit_bps: Option<u64>,
    pub start: Start,
    /// `replay_policy: original`: stored messages go out spaced as they were stored.
    pub replay_original: bool,
    /// Percentage of explicit acknowledgements sampled as ack metrics (`sample_freq`).
    pub sample_percent: u32,
    /// Which pull requests of a priority group are served (`priority_policy`).
    pub priority: PriorityPolicy,
    /// `pinned_client`: how long a pin lasts without a request from the pinned client.
    pub pin_ttl: Duration,
    /// Whether the consumer's state is kept on disk.
    pub durable_state: bool,
}

impl Policy {
    /// The behaviour a (validated, defaults filled) configuration asks for.
    pub(crate) fn of(config: &ConsumerConfig) -> Policy {
        use super::consumer_types::{AckPolicy as Ack, DeliverPolicy as Deliver};
        Policy {
            ack: match config.ack_policy {
                Ack::None => AckPolicy::None,
                Ack::All => AckPolicy::All,
                Ack::Explicit | Ack::FlowControl => AckPolicy::Explicit,
            },
            ack_wait: config.ack_wait(),
            backoff: config.backoff(),
            max_deliver: config.max_deliver(),
            filters: config
                .filters()
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            max_ack_pending: config
                .max_ack_pending()
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            max_waiting: config.max_waiting(),
            deliver_subject: (!config.is_pull())
                .then(|| config.deliver_subject.clone().into_bytes()),
            headers_only: config.headers_only,
            idle_heartbeat: config.idle_heartbeat(),
            flow_control: config.flow_control,
            inactive_threshold: config.inactive_threshold(),
            rate_limit_bps: (config.rate_limit_bps > 0).then_some(config.rate_limit_bps),
            paused_until: config
                .pause_until
                .and_then(|t| t.system_time())
                .filter(|t| *t > SystemTime::now()),
            start: match config.deliver_policy {
                Deliver::All => Start::All,
                Deliver::Last => Start::Last,
                Deliver::New => Start::New,
                Deliver::ByStartSequence => Start::Sequence(config.opt_start_seq),
                Deliver::ByStartTime => Start::Time(
                    config
                        .opt_start_time
                        .and_then(|t| t.unix_nanos())
                        .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)),
                ),
                Deliver::LastPerSubject => Start::LastPerSubject,
            },
            replay_original: config.replay_policy == ReplayPolicy::Original,
            sample_percent: config.sample_percent(),
            priority: config.priority_policy,
            pin_ttl: config
                .priority_timeout()
                .unwrap_or(Duration::from_secs(120)),
            durable_state: !config.mem_storage,
        }
    }

    fn matches(&self, subject: &[u8]) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| natrium_wire::subject_matches(f, subject))
    }

    /// How long the `deliveries`-th delivery may stay unacknowledged.
    fn wait_for(&self, deliveries: u64) -> Duration {
        if self.backoff.is_empty() {
            return self.ack_wait;
        }
        let i = usize::try_from(deliveries.saturating_sub(1)).unwrap_or(usize::MAX);
        self.backoff[i.min(self.backoff.len() - 1)]
    }
}

/// A pull request waiting for messages.
#[derive(Debug)]
struct Pull {
    reply: Vec<u8>,
    /// Messages still wanted.
    batch: u64,
    /// Bytes still allowed; `None` for no limit.
    max_bytes: Option<u64>,
    expires: Option<Instant>,
    no_wait: bool,
    heartbeat: Option<Duration>,
    next_heartbeat: Option<Instant>,
    delivered: u64,
    /// Priority group fields: the group, the pin id it claims, overflow thresholds, and
    /// its rank under `prioritized` (0 is served first).
    group: String,
    pin_id: String,
    min_pending: i64,
    min_ack_pending: i64,
    priority: i64,
}

/// Queues a pull request: last in line, or under `prioritized` last among the requests
/// of its priority and before every request of a higher number.
fn enqueue(waiting: &mut VecDeque<Pull>, policy: PriorityPolicy, pull: Pull) {
    let at = if policy == PriorityPolicy::Prioritized {
        waiting.partition_point(|queued| queued.priority <= pull.priority)
    } else {
        waiting.len()
    };
    waiting.insert(at, pull);
}

/// The pull client a `pinned_client` consumer serves, until it goes quiet for the pin TTL
/// or is unpinned (`CONSUMER.UNPIN`).
#[derive(Debug)]
struct Pin {
    id: String,
    group: String,
    since: Timestamp,
    expires: Instant,
}

/// `replay_policy: original` until the consumer has caught up with the messages the stream
/// held when it started (then it delivers instantly, as nats-server).
#[derive(Debug)]
struct Replay {
    /// The stream's last sequence when the consumer started.
    until_sseq: u64,
    /// Stored time of the last message delivered.
    last_time: Option<i64>,
    /// The next message and when it may go: its stored time's distance from the last one's,
    /// counted from when it was first found.
    held: Option<(u64, Instant)>,
}

impl Replay {
    /// Gaps up to this are not waited for (as nats-server).
    const MIN_GAP: Duration = Duration::from_millis(1);

    /// Whether message `sseq` stored at `time` may go now; `Err(due)` when not yet.
    fn ready(&mut self, sseq: u64, time: i64, now: Instant) -> Result<(), Instant> {
        let Some(last) = self.last_time else {
            return Ok(());
        };
        let due = match self.held {
            Some((held, due)) if held == sseq => due,
            _ => {
                let gap = Duration::from_nanos(u64::try_from(time - last).unwrap_or(0));
                if gap <= Self::MIN_GAP {
                    return Ok(());
                }
                let due = now + gap;
                self.held = Some((sseq, due));
                due
            }
        };
        if due <= now { Ok(()) } else { Err(due) }
    }

    fn delivered(&mut self, time: i64) {
        self.last_time = Some(time);
        self.held = None;
    }
}

/// The consumer's mutable state.
struct State {
    policy: Policy,
    saved: Saved,
    /// Stream sequences due for redelivery now, in order.
    redeliver: BTreeSet<u64>,
    waiting: VecDeque<Pull>,
    last_delivery: Option<SystemTime>,
    last_ack: Option<SystemTime>,
    /// Last interest (a pull request, an ack, a listener on the deliver subject).
    last_active: Instant,
    /// The push deliver subject has listeners.
    push_active: bool,
    next_push_heartbeat: Option<Instant>,
    /// Push flow control: bytes the client has not confirmed yet.
    flow: FlowWindow,
    /// Rate limit: nothing more goes out before then.
    rate_next: Option<Instant>,
    /// `replay_policy: original`, while replaying.
    replay: Option<Replay>,
    /// `priority_policy: pinned_client`: the pinned pull client.
    pin: Option<Pin>,
    dirty: bool,
    subs: Vec<InternalSub>,
    deleted: bool,
}

/// A consumer's numbers, as consumer info shows them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub delivered_consumer_seq: u64,
    pub delivered_stream_seq: u64,
    pub delivered_active: Option<SystemTime>,
    pub ack_floor_consumer_seq: u64,
    pub ack_floor_stream_seq: u64,
    pub ack_floor_active: Option<SystemTime>,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    pub push_bound: bool,
    /// Paused: how long still.
    pub pause_remaining: Option<Duration>,
}

/// Status headers of pull replies and push heartbeats, as nats-server sends them.
mod status {
    pub(super) fn line(code: u16, text: &str) -> Vec<u8> {
        format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()
    }

    pub(super) fn timeout(messages: u64, bytes: u64) -> Vec<u8> {
        with_pending(408, "Request Timeout", messages, bytes)
    }

    /// A status that ends a pull request, with what it still wanted.
    pub(super) fn with_pending(code: u16, text: &str, messages: u64, bytes: u64) -> Vec<u8> {
        format!(
            "NATS/1.0 {code} {text}\r\nNats-Pending-Messages: {messages}\r\nNats-Pending-Bytes: {bytes}\r\n\r\n"
        )
        .into_bytes()
    }

    pub(super) fn push_heartbeat(dseq: u64, sseq: u64) -> Vec<u8> {
        format!(
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {dseq}\r\nNats-Last-Stream: {sseq}\r\n\r\n"
        )
        .into_bytes()
    }
}

/// How often an inactive push consumer looks for listeners on its deliver subject, at most.
const PUSH_INTEREST_POLL: Duration = Duration::from_millis(50);
/// How soon a push consumer nobody has listened to for a moment looks again.
const PUSH_INTEREST_FIRST_POLL: Duration = Duration::from_millis(1);
/// Messages delivered per step at most, so one consumer cannot hold its stream for long.
const STEP_LIMIT: usize = 1024;

/// One consumer of a stream.
pub(crate) struct Consumer {
    stream: Weak<Stream>,
    stream_name: String,
    name: String,
    created: Timestamp,
    /// `<stream dir>/obs/<name>` when the state is kept on disk.
    dir: Option<PathBuf>,
    port: Arc<dyn Port>,
    /// The JetStream domain its advisories name, empty for none.
    domain: Arc<str>,
    /// The configuration, as consumer info shows it.
    config: parking_lot::RwLock<ConsumerConfig>,
    /// The policy's filters, apart from the state: the stream reads them under its own lock
    /// (see [`Consumer::wants`]).
    filters: parking_lot::RwLock<Vec<Vec<u8>>>,
    /// Shared with the account's interest waiters (see `Port::wake_on_interest`).
    wake: Arc<Notify>,
    stop: CancellationToken,
    /// Where the state is written, when it is kept on disk; held from taking the state to
    /// the end of the write (see [`Consumer::save`]).
    log: Mutex<Option<StateLog>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("stream", &self.stream_name)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Where consumers run: the server they send through and the tasks they run in.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub port: Arc<dyn Port>,
    pub tasks: tokio_util::task::TaskTracker,
    pub shutdown: CancellationToken,
    /// fsync consumer state at each save (`sync_interval: always`).
    pub sync_always: bool,
    /// The JetStream domain its advisories name, empty for none.
    pub domain: Arc<str>,
}

impl Consumer {
    /// A consumer of `stream`, starting where its configuration says (or where its saved
    /// state on disk left off), subscribed to its acknowledgement and pull subjects. `dir`
    /// is where its state is kept (file streams, unless `mem_storage`).
    pub(crate) fn start(
        stream: &Arc<Stream>,
        name: &str,
        config: ConsumerConfig,
        created: Timestamp,
        dir: Option<PathBuf>,
        runtime: &Runtime,
    ) -> Arc<Consumer> {
        let Runtime {
            port,
            tasks,
            shutdown,
            sync_always,
            domain,
        } = runtime.clone();
        let policy = Policy::of(&config);
        let dir = dir.filter(|_| policy.durable_state);
        let loaded = dir
            .as_deref()
            .map_or(Loaded::Nothing, super::consumer_state::load);
        let mut saved = match loaded {
            Loaded::State(mut s) => {
                // Unacknowledged deliveries restart their ack timers from now.
                let waits: Vec<(u64, Duration)> = s
                    .pending()
                    .iter()
                    .map(|(&sseq, p)| (sseq, policy.wait_for(p.deliveries)))
                    .collect();
                for (sseq, wait) in waits {
                    if let Some(deadline) = s.deadline_mut(sseq) {
                        *deadline = Some(Instant::now() + wait);
                    }
                }
                s
            }
            // A state that exists but can't be read: start from the stream's first message
            // whatever the deliver policy says, so nothing unacknowledged is skipped.
            Loaded::Damaged => initial(
                stream,
                &Policy {
                    start: Start::All,
                    ..policy.clone()
                },
            ),
            Loaded::Nothing => initial(stream, &policy),
        };
        if dir.is_some() {
            saved.journal_changes();
        }
        let log = dir.clone().map(|d| StateLog::new(d, sync_always));
        let replay = policy.replay_original;
        let consumer = Arc::new(Consumer {
            stream: Arc::downgrade(stream),
            stream_name: stream.name().to_owned(),
            name: name.to_owned(),
            created,
            dir,
            port,
            domain,
            config: parking_lot::RwLock::new(config),
            filters: parking_lot::RwLock::new(policy.filters.clone()),
            wake: Arc::new(Notify::new()),
            log: Mutex::new(log),
            stop: shutdown.child_token(),
            state: Mutex::new(State {
                policy,
                saved,
                redeliver: BTreeSet::new(),
                waiting: VecDeque::new(),
                last_delivery: None,
                last_ack: None,
                last_active: Instant::now(),
                push_active: false,
                next_push_heartbeat: None,
                flow: FlowWindow::default(),
                rate_next: None,
                replay: replay.then(|| Replay {
                    until_sseq: stream.state().last_seq,
                    last_time: None,
                    held: None,
                }),
                pin: None,
                dirty: true,
                subs: Vec::new(),
                deleted: false,
            }),
        });
        // Ack policy none listens for no acknowledgements: nats-server has no responder
        // there (and it can't be updated).
        if consumer.state.lock().policy.ack != AckPolicy::None {
            let ack_subject = format!("{}{}.{}.>", ack::PREFIX, consumer.stream_name, name);
            let sink: Arc<dyn Sink> = Arc::new(AckSink(Arc::downgrade(&consumer)));
            if let Some(sub) = consumer.port.subscribe(ack_subject.as_bytes(), None, sink) {
                consumer.state.lock().subs.push(sub);
            }
        }
        let fc_subject = format!("$JS.FC.{}.{name}.>", consumer.stream_name);
        let sink: Arc<dyn Sink> = Arc::new(FlowControlSink(Arc::downgrade(&consumer)));
        if let Some(sub) = consumer.port.subscribe(fc_subject.as_bytes(), None, sink) {
            consumer.state.lock().subs.push(sub);
        }
        // Push consumers take pull requests too, to say they are push based.
        let next_subject = format!("{NEXT_PREFIX}{}.{name}", consumer.stream_name);
        let sink: Arc<dyn Sink> = Arc::new(NextSink(Arc::downgrade(&consumer)));
        if let Some(sub) = consumer.port.subscribe(next_subject.as_bytes(), None, sink) {
            consumer.state.lock().subs.push(sub);
        }
        tasks.spawn(deliveries(consumer.clone()));
        consumer
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn created(&self) -> Timestamp {
        self.created
    }

    pub(crate) fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// Wakes the delivery task (a message was stored, a request arrived, ...).
    pub(crate) fn notify(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn config(&self) -> ConsumerConfig {
        self.config.read().clone()
    }

    /// Pauses until `until` (unpauses when `None` or past); returns the new state.
    pub(crate) fn pause(&self, until: Option<Timestamp>) -> Option<Duration> {
        let until = until.filter(|t| !t.is_zero());
        let mut config = self.config();
        config.pause_until = until;
        self.update(super::consumer_config::with_static_metadata(config));
        self.progress().pause_remaining
    }

    /// Applies a new (validated) configuration: a consumer update.
    pub(crate) fn update(&self, config: ConsumerConfig) {
        let policy = Policy::of(&config);
        *self.config.write() = config;
        *self.filters.write() = policy.filters.clone();
        self.state.lock().policy = policy;
        self.notify();
    }

    /// Saves its state and stops (server shutdown, stream deletion).
    pub(crate) fn stop(&self) {
        if let Err(e) = self.save() {
            tracing::error!(
                "consumer '{} > {}': saving state: {e}",
                self.stream_name,
                self.name
            );
        }
        let subs = std::mem::take(&mut self.state.lock().subs);
        for sub in &subs {
            self.port.unsubscribe(sub);
        }
        self.stop.cancel();
    }

    /// Stops delivering, unsubscribes, tells waiting pull requests the consumer is gone, and
    /// removes its state from disk when `remove_files`.
    pub(crate) fn delete(&self, remove_files: bool) {
        let (subs, waiting) = {
            let mut st = self.state.lock();
            st.deleted = true;
            (
                std::mem::take(&mut st.subs),
                std::mem::take(&mut st.waiting),
            )
        };
        for sub in &subs {
            self.port.unsubscribe(sub);
        }
        let gone: Vec<Outgoing> = waiting
            .into_iter()
            .map(|p| status_to(&p.reply, status::line(409, "Consumer Deleted")))
            .collect();
        self.port.send(&gone);
        self.stop.cancel();
        if remove_files && let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The numbers consumer info reports.
    pub(crate) fn progress(&self) -> Progress {
        let (start, filters, st_pending, redeliver_extra, mut p) = {
            let st = self.state.lock();
            let s = &st.saved;
            let ack_pending = match st.policy.ack {
                AckPolicy::None => 0,
                _ => s.pending().len() as u64,
            };
            let p = Progress {
                delivered_consumer_seq: s.dseq,
                delivered_stream_seq: s.delivered_sseq,
                delivered_active: st.last_delivery,
                ack_floor_consumer_seq: s.ack_floor.0,
                ack_floor_stream_seq: s.ack_floor.1,
                ack_floor_active: st.last_ack,
                num_ack_pending: ack_pending,
                num_redelivered: (s.pending().values().filter(|p| p.deliveries > 1).count()
                    + s.exhausted().len()) as u64,
                num_waiting: st.waiting.len() as u64,
                num_pending: 0,
                push_bound: st
                    .policy
                    .deliver_subject
                    .as_ref()
                    .is_some_and(|subject| self.port.has_interest(subject)),
                pause_remaining: st
                    .policy
                    .paused_until
                    .and_then(|t| t.duration_since(SystemTime::now()).ok()),
            };
            (
                s.next_sseq,
                st.policy.filters.clone(),
                s.start_list().len() as u64,
                0u64,
                p,
            )
        };
        if let Some(stream) = self.stream.upgrade() {
            p.num_pending = stream.num_pending(start, &filters) + st_pending + redeliver_extra;
        }
        p
    }

    /// Consumer info, as `CONSUMER.INFO` and `CONSUMER.LIST` show it.
    pub(crate) fn info(&self) -> ConsumerInfo {
        let p = self.progress();
        let active = |t: Option<SystemTime>| t.map(Timestamp::from);
        ConsumerInfo {
            stream_name: self.stream_name.clone(),
            name: self.name.clone(),
            created: self.created,
            config: Some(self.config()),
            delivered: SequenceInfo {
                consumer_seq: p.delivered_consumer_seq,
                stream_seq: p.delivered_stream_seq,
                last_active: active(p.delivered_active),
            },
            ack_floor: SequenceInfo {
                consumer_seq: p.ack_floor_consumer_seq,
                stream_seq: p.ack_floor_stream_seq,
                last_active: active(p.ack_floor_active),
            },
            num_ack_pending: p.num_ack_pending,
            num_redelivered: p.num_redelivered,
            num_waiting: p.num_waiting,
            num_pending: p.num_pending,
            push_bound: p.push_bound,
            paused: p.pause_remaining.is_some(),
            priority_groups: {
                let st = self.state.lock();
                self.config
                    .read()
                    .priority_groups
                    .iter()
                    .map(|group| match &st.pin {
                        Some(pin) if pin.group == *group => PriorityGroupState {
                            group: group.clone(),
                            pinned_client_id: pin.id.clone(),
                            pinned_ts: pin.since,
                        },
                        _ => PriorityGroupState {
                            group: group.clone(),
                            ..PriorityGroupState::default()
                        },
                    })
                    .collect()
            },
            pause_remaining: p
                .pause_remaining
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            ts: Timestamp::now(),
            ..ConsumerInfo::default()
        }
    }

    /// Whether a new message on `subject` is for this consumer (interest retention). Takes
    /// only a leaf lock: the stream asks under its own.
    pub(crate) fn wants(&self, subject: &[u8]) -> bool {
        let filters = self.filters.read();
        filters.is_empty()
            || filters
                .iter()
                .any(|f| natrium_wire::subject_matches(f, subject))
    }

    /// Whether this consumer still needs stream message `sseq` (interest retention).
    pub(crate) fn needs(&self, sseq: u64, subject: &[u8]) -> bool {
        let st = self.state.lock();
        if st.saved.pending().contains_key(&sseq) || st.saved.start_list().contains(&sseq) {
            return true;
        }
        sseq >= st.saved.next_sseq && st.policy.matches(subject)
    }

    /// Queues a pull request (`CONSUMER.MSG.NEXT`); answers at once when it can't wait.
    pub(crate) fn pull(&self, reply: &[u8], next: &NextRequest) {
        let req = PullRequest::from(next);
        let refused = {
            let config = self.config.read();
            match next.check(&config) {
                Err(refusal) => Some(refusal.status_line().into_bytes()),
                // The pinned client's request keeps its pin; another pin id is refused now
                // (a request with an id while nobody is pinned is refused when a message
                // comes, see `select_pull`).
                Ok(()) if config.priority_policy == PriorityPolicy::PinnedClient => {
                    let mut st = self.state.lock();
                    let ttl = st.policy.pin_ttl;
                    match &mut st.pin {
                        Some(pin) if pin.id == next.id => {
                            pin.expires = Instant::now() + ttl;
                            None
                        }
                        Some(_) if !next.id.is_empty() => {
                            Some(status::line(423, "Nats-Pin-Id mismatch"))
                        }
                        _ => None,
                    }
                }
                // Overflow: a request with thresholds is served only past them (checked when
                // it arrives; a waiting one is not re-checked yet).
                Ok(())
                    if config.priority_policy == PriorityPolicy::Overflow
                        && (next.min_pending > 0 || next.min_ack_pending > 0)
                        && next.no_wait =>
                {
                    let p = self.progress();
                    let pending = i64::try_from(p.num_pending).unwrap_or(i64::MAX);
                    let ack_pending = i64::try_from(p.num_ack_pending).unwrap_or(i64::MAX);
                    let past = (next.min_pending > 0 && pending >= next.min_pending)
                        || (next.min_ack_pending > 0 && ack_pending >= next.min_ack_pending);
                    (!past).then(|| status::line(404, "No Messages"))
                }
                Ok(()) => None,
            }
        };
        let answer = {
            let mut st = self.state.lock();
            st.last_active = Instant::now();
            if st.policy.deliver_subject.is_some() {
                Some(status::line(409, "Consumer is push based"))
            } else if refused.is_some() {
                refused
            } else if st.waiting.len() >= st.policy.max_waiting {
                Some(status::line(409, "Exceeded MaxWaiting"))
            } else {
                let now = Instant::now();
                let policy = st.policy.priority;
                enqueue(
                    &mut st.waiting,
                    policy,
                    Pull {
                        reply: reply.to_vec(),
                        batch: req.batch.max(1),
                        max_bytes: req.max_bytes,
                        expires: req.expires.map(|e| now + e),
                        no_wait: req.no_wait,
                        heartbeat: req.heartbeat,
                        next_heartbeat: req.heartbeat.map(|h| now + h),
                        delivered: 0,
                        group: next.group.clone(),
                        pin_id: next.id.clone(),
                        min_pending: next.min_pending,
                        min_ack_pending: next.min_ack_pending,
                        priority: next.priority,
                    },
                );
                None
            }
        };
        match answer {
            Some(headers) => {
                self.port.send(&[status_to(reply, headers)]);
            }
            None => self.notify(),
        }
    }

    /// Applies an acknowledgement. Returns the stream sequences now acknowledged (for
    /// workqueue and interest retention) and an advisory to publish, if any.
    fn acknowledge(&self, d: ack::Delivered, kind: &AckKind, reply: Option<&[u8]>) -> Acked {
        let mut st = self.state.lock();
        let mut out = Acked::default();
        if st.deleted {
            return out;
        }
        st.last_active = Instant::now();
        let now = SystemTime::now();
        match kind {
            AckKind::Ack | AckKind::Next(_) => {
                match st.policy.ack {
                    AckPolicy::Explicit => {
                        if let Some(p) = st.saved.remove_pending(d.stream_seq) {
                            out.acked.push(d.stream_seq);
                            if should_sample(st.policy.sample_percent) {
                                out.advisory = Some(ack_metric(
                                    &self.domain,
                                    &self.stream_name,
                                    &self.name,
                                    d,
                                    p.time,
                                ));
                            }
                        }
                    }
                    AckPolicy::All => {
                        let done: Vec<u64> = st
                            .saved
                            .pending()
                            .iter()
                            .filter(|(_, p)| p.dseq <= d.consumer_seq)
                            .map(|(s, _)| *s)
                            .collect();
                        for s in done {
                            st.saved.remove_pending(s);
                            out.acked.push(s);
                        }
                    }
                    AckPolicy::None => {}
                }
                st.redeliver.retain(|s| !out.acked.contains(s));
                st.last_ack = Some(now);
                if let AckKind::Next(body) = kind
                    && let Some(reply) = reply
                {
                    out.next = Some((reply.to_vec(), body.clone()));
                }
            }
            AckKind::Nak(delay) => {
                let wait = *delay;
                if let Some(deadline) = st.saved.deadline_mut(d.stream_seq) {
                    out.advisory =
                        Some(nak_advisory(&self.domain, &self.stream_name, &self.name, d));
                    match wait {
                        Some(delay) if !delay.is_zero() => {
                            *deadline = Some(Instant::now() + delay);
                        }
                        _ => {
                            *deadline = None;
                            st.redeliver.insert(d.stream_seq);
                        }
                    }
                }
            }
            AckKind::Progress => {
                let wait = st.policy.ack_wait;
                if let Some(deadline) = st.saved.deadline_mut(d.stream_seq) {
                    *deadline = Some(Instant::now() + wait);
                }
            }
            AckKind::Term(reason) => {
                st.last_ack = Some(now);
                if st.saved.remove_pending(d.stream_seq).is_some() {
                    out.acked.push(d.stream_seq);
                    st.redeliver.remove(&d.stream_seq);
                    out.advisory = Some(terminated_advisory(
                        &self.domain,
                        &self.stream_name,
                        &self.name,
                        d,
                        reason,
                    ));
                }
            }
        }
        if !out.acked.is_empty() {
            st.saved.update_ack_floor();
            st.dirty = true;
        }
        out
    }

    /// One round of work: timers, then deliveries. Returns what to send and when to run
    /// again at the latest.
    fn step(&self, stream: &Stream) -> (Vec<Outgoing>, Option<Instant>, Vec<Outgoing>) {
        let now = Instant::now();
        let mut st = self.state.lock();
        let mut out = Vec::new();
        let mut advisories = Vec::new();
        if st.deleted {
            return (out, None, advisories);
        }
        let st = &mut *st;
        // Ack waits that ran out: due for redelivery, unless out of deliveries.
        let expired: Vec<u64> = st
            .saved
            .pending()
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(s, _)| *s)
            .collect();
        for sseq in expired {
            if let Some(deadline) = st.saved.deadline_mut(sseq) {
                *deadline = None;
            }
            st.redeliver.insert(sseq);
        }
        // Pull requests that expired or whose requester went away (as nats-server, which
        // drops a request nobody listens to any more), and heartbeats due.
        let mut kept = VecDeque::with_capacity(st.waiting.len());
        for mut pull in st.waiting.drain(..) {
            if !self.port.has_interest(&pull.reply) {
                continue;
            }
            if pull.expires.is_some_and(|e| e <= now) {
                out.push(status_to(
                    &pull.reply,
                    status::timeout(pull.batch, pull.max_bytes.unwrap_or(0)),
                ));
                continue;
            }
            if let (Some(hb), Some(next)) = (pull.heartbeat, pull.next_heartbeat)
                && next <= now
            {
                out.push(status_to(
                    &pull.reply,
                    status::push_heartbeat(st.saved.dseq, st.saved.delivered_sseq),
                ));
                pull.next_heartbeat = Some(now + hb);
            }
            kept.push_back(pull);
        }
        st.waiting = kept;

        // A pin not renewed within its TTL is lost.
        if st.pin.as_ref().is_some_and(|pin| pin.expires <= now)
            && let Some(pin) = st.pin.take()
        {
            advisories.push(unpinned_advisory(
                &self.domain,
                &self.stream_name,
                &self.name,
                &pin.group,
                "timeout",
            ));
        }

        // Push: is anyone listening?
        if let Some(subject) = &st.policy.deliver_subject {
            let mut active = self.port.has_interest(subject);
            if !active {
                // Woken when a client subscribes; the look after asking catches one that
                // subscribed in between.
                self.port
                    .wake_on_interest(subject, Arc::downgrade(&self.wake));
                active = self.port.has_interest(subject);
            }
            if active && !st.push_active {
                st.next_push_heartbeat = st.policy.idle_heartbeat.map(|h| now + h);
            }
            st.push_active = active;
            if active {
                st.last_active = now;
            }
        }

        // Paused: nothing is delivered until the pause ends.
        // One wall clock reading for the step: every delivery in it is stamped with it.
        let wall = SystemTime::now();
        let wall_nanos = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let paused_for = st
            .policy
            .paused_until
            .and_then(|t| t.duration_since(wall).ok());
        let mut delivered = 0;
        // Messages left after each delivery: counted once per step (a count can cost a
        // walk of the index), then one less per first delivery.
        let mut remaining: Option<u64> = None;
        let mut ack_pending_full = false;
        let mut replay_due = None;
        while delivered < STEP_LIMIT && paused_for.is_none() {
            if let Some(max) = st.policy.max_ack_pending
                && st.policy.ack != AckPolicy::None
                && st.saved.pending().len() >= max
                && st.redeliver.is_empty()
            {
                ack_pending_full = true;
                break;
            }
            let to_pull = st.policy.deliver_subject.is_none();
            if to_pull && st.waiting.is_empty() {
                break;
            }
            if !to_pull && !st.push_active {
                break;
            }
            if !to_pull
                && st.policy.rate_limit_bps.is_some()
                && st.rate_next.is_some_and(|t| t > now)
            {
                break;
            }
            if !to_pull && st.policy.flow_control && st.flow.blocked() {
                break;
            }
            let Some(msg) = next_message(stream, st) else {
                break;
            };
            let sseq = msg.seq;
            if to_pull && st.policy.priority != PriorityPolicy::None {
                let first = !st.saved.pending().contains_key(&sseq);
                let pending = stream
                    .num_pending(st.saved.next_sseq, &st.policy.filters)
                    .saturating_add(st.saved.start_list().len() as u64)
                    .saturating_add(u64::from(first));
                if !self.select_pull(st, pending, &mut out, &mut advisories) {
                    put_back(st, sseq);
                    break;
                }
            }
            if let Some(replay) = &mut st.replay
                && let Err(due) = replay.ready(sseq, msg.time, now)
            {
                put_back(st, sseq);
                replay_due = Some(due);
                break;
            }
            let size = (msg.subject.len()
                + msg.headers.as_ref().map_or(0, Bytes::len)
                + msg.payload.len()) as u64;
            // Pull: does it fit the first request's byte budget?
            if to_pull
                && let Some(pull) = st.waiting.front()
                && let Some(left) = pull.max_bytes
                && size > left
            {
                let pull = st.waiting.pop_front().expect("front exists");
                let text = if pull.delivered == 0 {
                    status::with_pending(409, "Message Size Exceeds MaxBytes", pull.batch, left)
                } else {
                    status::timeout(pull.batch, left)
                };
                out.push(status_to(&pull.reply, text));
                put_back(st, sseq);
                continue;
            }
            let deliveries = st.saved.pending().get(&sseq).map_or(0, |p| p.deliveries) + 1;
            if let Some(max) = st.policy.max_deliver
                && deliveries > max
            {
                // Out of deliveries: never again, and say so once. It is not acknowledged
                // (the ack floor stays), and still counts as redelivered, as nats-server.
                st.saved.exhaust(sseq);
                st.dirty = true;
                advisories.push(max_deliveries_advisory(
                    &self.domain,
                    &self.stream_name,
                    &self.name,
                    sseq,
                    deliveries - 1,
                ));
                continue;
            }
            st.saved.dseq += 1;
            let dseq = st.saved.dseq;
            st.saved.delivered_sseq = st.saved.delivered_sseq.max(sseq);
            let pending_count = match remaining {
                Some(n) if deliveries == 1 => n.saturating_sub(1),
                Some(n) => n,
                None => stream
                    .num_pending(st.saved.next_sseq, &st.policy.filters)
                    .saturating_add(st.saved.start_list().len() as u64),
            };
            remaining = Some(pending_count);
            // Even without acknowledgements the reply carries the delivery's metadata,
            // which clients read (ordered consumers check the sequences).
            let reply = Some(ack::subject(
                &self.stream_name,
                &self.name,
                deliveries,
                sseq,
                dseq,
                msg.time,
                pending_count,
            ));
            match st.policy.ack {
                AckPolicy::None => {
                    st.saved.ack_floor = (dseq, sseq);
                }
                _ => {
                    let wait = st.policy.wait_for(deliveries);
                    st.saved.insert_pending(
                        sseq,
                        Pending {
                            dseq,
                            deliveries,
                            time: wall_nanos,
                            deadline: Some(now + wait),
                        },
                    );
                }
            }
            st.dirty = true;
            st.last_delivery = Some(wall);
            if let Some(replay) = &mut st.replay {
                replay.delivered(msg.time);
            }
            let (headers, payload) = if st.policy.headers_only {
                let mut h = match &msg.headers {
                    Some(h) => {
                        String::from_utf8_lossy(h)
                            .trim_end_matches("\r\n")
                            .to_owned()
                            + "\r\n"
                    }
                    None => "NATS/1.0\r\n".to_owned(),
                };
                h.push_str(&format!("Nats-Msg-Size: {}\r\n\r\n", msg.payload.len()));
                (Some(Bytes::from(h)), Bytes::new())
            } else {
                (msg.headers.clone(), msg.payload.clone())
            };
            let headers = match &st.pin {
                Some(pin) if to_pull => Some(with_header(headers.as_ref(), "Nats-Pin-Id", &pin.id)),
                _ => headers,
            };
            let to = match &st.policy.deliver_subject {
                Some(subject) => subject.clone(),
                None => {
                    let pull = st.waiting.front_mut().expect("checked above");
                    pull.batch -= 1;
                    pull.delivered += 1;
                    if let Some(left) = &mut pull.max_bytes {
                        *left -= size;
                    }
                    let to = pull.reply.clone();
                    // Waiting requests take turns, one message each, as nats-server
                    // serves them: a request that wants more goes behind the others
                    // (under `prioritized`, behind those of its own priority).
                    let pull = st.waiting.pop_front().expect("checked above");
                    if pull.batch > 0 {
                        enqueue(&mut st.waiting, st.policy.priority, pull);
                    }
                    to
                }
            };
            // What the client's connection carries, as flow control counts it.
            let wire_size = (to.len()
                + msg.subject.len()
                + reply.as_ref().map_or(0, Vec::len)
                + headers.as_ref().map_or(0, Bytes::len)
                + payload.len()) as u64;
            out.push(Outgoing {
                to,
                subject: Some(msg.subject.clone()),
                reply,
                headers,
                payload,
            });
            delivered += 1;
            if let Some(bps) = st.policy.rate_limit_bps
                && st.policy.deliver_subject.is_some()
            {
                let took = Duration::from_secs_f64(size as f64 * 8.0 / bps as f64);
                st.rate_next = Some(st.rate_next.unwrap_or(now).max(now) + took);
            }
            if st.policy.flow_control
                && let Some(subject) = st.policy.deliver_subject.clone()
                && let Some(id) = st.flow.delivered(wire_size)
            {
                let fc = format!("$JS.FC.{}.{}.{id}", self.stream_name, self.name);
                out.push(Outgoing {
                    to: subject,
                    subject: None,
                    reply: Some(fc.into_bytes()),
                    headers: Some(Bytes::from(status::line(100, "FlowControl Request"))),
                    payload: Bytes::new(),
                });
            }
        }
        // Caught up with what the stream held at the start: no more replay.
        if st
            .replay
            .as_ref()
            .is_some_and(|r| replay_due.is_none() && st.saved.next_sseq > r.until_sseq)
        {
            st.replay = None;
        }
        if delivered > 0 {
            st.next_push_heartbeat = st.policy.idle_heartbeat.map(|h| now + h);
        }
        // no_wait requests end now, with "No Messages" (also after a partial batch); one
        // that got messages until max_ack_pending stopped it just ends, as in nats-server.
        // One with `expires` that got nothing yet waits for a message (or expires), and a
        // message held back by replay is not "no message": they wait for it.
        let mut kept = VecDeque::with_capacity(st.waiting.len());
        for pull in st.waiting.drain(..) {
            if pull.no_wait
                && replay_due.is_none()
                && (pull.expires.is_none() || pull.delivered > 0)
            {
                if !(ack_pending_full && pull.delivered > 0) {
                    out.push(status_to(&pull.reply, status::line(404, "No Messages")));
                }
            } else {
                kept.push_back(pull);
            }
        }
        st.waiting = kept;
        // Push idle heartbeat.
        if let (Some(subject), Some(next), Some(hb)) = (
            st.policy.deliver_subject.clone(),
            st.next_push_heartbeat,
            st.policy.idle_heartbeat,
        ) && st.push_active
            && next <= now
        {
            out.push(status_to(
                &subject,
                status::push_heartbeat(st.saved.dseq, st.saved.delivered_sseq),
            ));
            st.next_push_heartbeat = Some(now + hb);
        }

        // When to look again.
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for p in st.saved.pending().values() {
            consider(p.deadline);
        }
        for pull in &st.waiting {
            consider(pull.expires);
            consider(pull.next_heartbeat);
        }
        if st.push_active {
            consider(st.next_push_heartbeat);
        }
        if st.policy.deliver_subject.is_some() && !st.push_active {
            // A client usually subscribes right after creating the consumer (async-nats'
            // ordered consumers do, for every object get): look again soon at first, then
            // less often the longer nobody listens.
            let idle = now.saturating_duration_since(st.last_active);
            consider(Some(
                now + (idle / 10).clamp(PUSH_INTEREST_FIRST_POLL, PUSH_INTEREST_POLL),
            ));
        }
        if delivered >= STEP_LIMIT {
            consider(Some(now));
        }
        consider(replay_due);
        consider(st.pin.as_ref().map(|pin| pin.expires));
        if let Some(left) = paused_for {
            consider(Some(now + left));
        }
        if st.push_active {
            consider(st.rate_next.filter(|t| *t > now));
        }
        if let Some(threshold) = st.policy.inactive_threshold {
            consider(Some(st.last_active + threshold));
        }
        (out, next, advisories)
    }

    /// Priority groups: brings the request to serve next to the front of the waiting queue,
    /// as nats-server picks it. `pinned_client`: the pinned client's requests (the first
    /// request without a pin id gets the pin when nobody has it; one with a stale id is
    /// ended with 423); `overflow`: a request with thresholds only once `pending` (messages
    /// left, this one included) or the ack pending count reaches them. `false` when no
    /// waiting request may have a message now.
    fn select_pull(
        &self,
        st: &mut State,
        pending: u64,
        out: &mut Vec<Outgoing>,
        advisories: &mut Vec<Outgoing>,
    ) -> bool {
        let mut cycled = 0;
        while let Some(front) = st.waiting.front() {
            let (pin_id, group) = (front.pin_id.clone(), front.group.clone());
            let (min_pending, min_ack_pending) = (front.min_pending, front.min_ack_pending);
            if st.policy.priority == PriorityPolicy::PinnedClient {
                let pinned = st.pin.as_ref().map(|pin| pin.id.clone());
                let wrong = match &pinned {
                    None => !pin_id.is_empty(),
                    Some(id) => !pin_id.is_empty() && pin_id != *id,
                };
                if wrong {
                    let pull = st.waiting.pop_front().expect("front exists");
                    // Observed on nats-server 2.15.1: a no_wait request's 423 reports no
                    // pending messages, a waiting request's its batch.
                    let messages = if pull.no_wait { 0 } else { pull.batch };
                    let text = status::with_pending(
                        423,
                        "Nats-Wrong-Pin-Id",
                        messages,
                        pull.max_bytes.unwrap_or(0),
                    );
                    out.push(status_to(&pull.reply, text));
                    continue;
                }
                if pinned.is_none() && !group.is_empty() {
                    let pin = Pin {
                        id: nuid::next().to_string(),
                        group,
                        since: Timestamp::now(),
                        expires: Instant::now() + st.policy.pin_ttl,
                    };
                    advisories.push(pinned_advisory(
                        &self.domain,
                        &self.stream_name,
                        &self.name,
                        &pin.group,
                        &pin.id,
                    ));
                    st.waiting.front_mut().expect("front exists").pin_id = pin.id.clone();
                    st.pin = Some(pin);
                } else if pinned.is_some() && pin_id.is_empty() {
                    // Not the pinned client: it waits for the pin to go.
                    cycled += 1;
                    if cycled >= st.waiting.len() {
                        return false;
                    }
                    st.waiting.rotate_left(1);
                    continue;
                }
            }
            if st.policy.priority == PriorityPolicy::Overflow
                && (min_pending > 0 || min_ack_pending > 0)
            {
                let ack_pending = st.saved.pending().len() as u64;
                let past = |min: i64, n: u64| u64::try_from(min).is_ok_and(|m| m > 0 && m <= n);
                if !(past(min_pending, pending) || past(min_ack_pending, ack_pending)) {
                    cycled += 1;
                    if cycled >= st.waiting.len() {
                        return false;
                    }
                    st.waiting.rotate_left(1);
                    continue;
                }
            }
            return true;
        }
        false
    }

    /// `CONSUMER.UNPIN`: the pinned client of `group` (if any) loses its pin; the next
    /// request gets a new one.
    pub(crate) fn unpin(&self, group: &str) -> Outgoing {
        self.state.lock().pin = None;
        self.notify();
        unpinned_advisory(&self.domain, &self.stream_name, &self.name, group, "admin")
    }

    /// Whether the consumer has seen no interest for its inactive threshold.
    fn inactive(&self) -> bool {
        let st = self.state.lock();
        match st.policy.inactive_threshold {
            Some(t) => st.waiting.is_empty() && !st.push_active && st.last_active.elapsed() >= t,
            None => false,
        }
    }

    /// Writes what changed of the state to disk, when it changed and is kept there.
    fn save(&self) -> std::io::Result<()> {
        // One writer at a time, from taking the state to the end of the write: a second
        // save waits and so never confirms before the state it needs is on disk, and
        // records reach the log in the order they were taken.
        let mut log = self.log.lock();
        let Some(log) = log.as_mut() else {
            return Ok(());
        };
        {
            let mut st = self.state.lock();
            if !st.dirty || st.deleted {
                return Ok(());
            }
            st.dirty = false;
            log.take(&mut st.saved);
        }
        // On error the log writes a whole snapshot next time; the state must be saved again.
        log.write().inspect_err(|_| self.state.lock().dirty = true)
    }

    /// fsyncs the state written since the last sync (the sync interval came round).
    pub(crate) fn sync(&self) {
        if let Some(log) = self.log.lock().as_mut()
            && let Err(e) = log.sync()
        {
            tracing::error!(
                "consumer '{} > {}': syncing state: {e}",
                self.stream_name,
                self.name
            );
        }
    }
}

impl From<&NextRequest> for PullRequest {
    fn from(req: &NextRequest) -> Self {
        let positive = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
        PullRequest {
            batch: positive(req.batch).unwrap_or(1),
            max_bytes: positive(req.max_bytes),
            expires: req.expires(),
            no_wait: req.no_wait,
            heartbeat: req.idle_heartbeat(),
        }
    }
}

/// A pull request as the consumer takes it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PullRequest {
    pub batch: u64,
    pub max_bytes: Option<u64>,
    pub expires: Option<Duration>,
    pub no_wait: bool,
    pub heartbeat: Option<Duration>,
}

/// What an acknowledgement changed.
#[derive(Default)]
struct Acked {
    acked: Vec<u64>,
    advisory: Option<Outgoing>,
    next: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where a new consumer starts.
fn initial(stream: &Stream, policy: &Policy) -> Saved {
    let state = stream.state();
    let first = state.first_seq.max(1);
    let next_sseq = match policy.start {
        Start::All => first,
        Start::New => state.last_seq + 1,
        Start::Sequence(seq) => seq.max(1),
        Start::Last => {
            let last = stream.last_matching(&policy.filters);
            last.unwrap_or(state.last_seq + 1)
        }
        Start::Time(t) => stream.first_at_or_after(t).unwrap_or(state.last_seq + 1),
        Start::LastPerSubject => state.last_seq + 1,
    };
    let start_list = match policy.start {
        Start::LastPerSubject => stream.last_per_subject(&policy.filters).into(),
        _ => VecDeque::new(),
    };
    // Everything before the start counts as acknowledged, as nats-server reports.
    let floor_sseq = start_list
        .front()
        .map_or(next_sseq, |first| (*first).min(next_sseq))
        .saturating_sub(1);
    Saved::new(next_sseq, floor_sseq, start_list)
}

/// The next message to deliver: a redelivery, a start-list entry, then the next new one.
fn next_message(stream: &Stream, st: &mut State) -> Option<natrium_store::StoredMessage> {
    while let Some(&sseq) = st.redeliver.iter().next() {
        st.redeliver.remove(&sseq);
        if !st.saved.pending().contains_key(&sseq) {
            continue;
        }
        match stream.load(sseq) {
            Some(m) => return Some(m),
            // Gone from the stream (deleted, expired): nothing left to deliver.
            None => {
                st.saved.remove_pending(sseq);
                st.saved.update_ack_floor();
            }
        }
    }
    while let Some(sseq) = st.saved.pop_start() {
        if let Some(m) = stream.load(sseq) {
            return Some(m);
        }
    }
    let m = stream.load_next(st.saved.next_sseq, &st.policy.filters)?;
    st.saved.next_sseq = m.seq + 1;
    Some(m)
}

/// Undoes taking `sseq` when it could not be delivered after all.
fn put_back(st: &mut State, sseq: u64) {
    if st.saved.pending().contains_key(&sseq) {
        st.redeliver.insert(sseq);
    } else if sseq + 1 == st.saved.next_sseq {
        st.saved.next_sseq = sseq;
    } else {
        st.saved.push_start(sseq);
    }
}

fn status_to(to: &[u8], headers: Vec<u8>) -> Outgoing {
    Outgoing {
        to: to.to_vec(),
        subject: None,
        reply: None,
        headers: Some(Bytes::from(headers)),
        payload: Bytes::new(),
    }
}

/// An advisory (or metric) of this consumer: `body` to `<prefix>.<stream>.<consumer>`.
fn advisory<T: serde::Serialize>(prefix: &str, stream: &str, consumer: &str, body: &T) -> Outgoing {
    Outgoing {
        to: advisory_subject::for_consumer(prefix, stream, consumer).into_bytes(),
        subject: None,
        reply: None,
        headers: None,
        payload: Bytes::from(super::types::to_go_json(body)),
    }
}

fn max_deliveries_advisory(
    domain: &str,
    stream: &str,
    consumer: &str,
    sseq: u64,
    deliveries: u64,
) -> Outgoing {
    let body = MaxDeliverAdvisory {
        event: EventHeader::new(advisory_type::MAX_DELIVER),
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        stream_seq: sseq,
        deliveries,
        domain: domain.to_owned(),
    };
    advisory(advisory_subject::MAX_DELIVERIES, stream, consumer, &body)
}

fn nak_advisory(domain: &str, stream: &str, consumer: &str, d: ack::Delivered) -> Outgoing {
    let body = NakAdvisory {
        event: EventHeader::new(advisory_type::NAK),
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        deliveries: d.deliveries,
        domain: domain.to_owned(),
    };
    advisory(advisory_subject::MSG_NAKED, stream, consumer, &body)
}

fn terminated_advisory(
    domain: &str,
    stream: &str,
    consumer: &str,
    d: ack::Delivered,
    reason: &str,
) -> Outgoing {
    let body = TerminatedAdvisory {
        event: EventHeader::new(advisory_type::TERMINATED),
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        deliveries: d.deliveries,
        reason: reason.to_owned(),
        domain: domain.to_owned(),
    };
    advisory(advisory_subject::MSG_TERMINATED, stream, consumer, &body)
}

fn pinned_advisory(domain: &str, stream: &str, consumer: &str, group: &str, id: &str) -> Outgoing {
    let body = PinnedAdvisory {
        event: EventHeader::new(advisory_type::PINNED),
        account: ACCOUNT.to_owned(),
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        domain: domain.to_owned(),
        group: group.to_owned(),
        pinned_id: id.to_owned(),
    };
    advisory(advisory_subject::PINNED, stream, consumer, &body)
}

fn unpinned_advisory(
    domain: &str,
    stream: &str,
    consumer: &str,
    group: &str,
    reason: &str,
) -> Outgoing {
    let body = UnpinnedAdvisory {
        event: EventHeader::new(advisory_type::UNPINNED),
        account: ACCOUNT.to_owned(),
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        domain: domain.to_owned(),
        group: group.to_owned(),
        reason: reason.to_owned(),
    };
    advisory(advisory_subject::UNPINNED, stream, consumer, &body)
}

/// The account pin advisories name: JetStream runs in the global account.
const ACCOUNT: &str = "$G";

/// `headers` (a header block, or none) with `name: value` added.
fn with_header(headers: Option<&Bytes>, name: &str, value: &str) -> Bytes {
    let mut block = match headers {
        Some(h) => h.strip_suffix(b"\r\n").unwrap_or(h).to_vec(),
        None => b"NATS/1.0\r\n".to_vec(),
    };
    block.extend_from_slice(format!("{name}: {value}\r\n\r\n").as_bytes());
    Bytes::from(block)
}

/// Whether to sample one acknowledgement at `percent` (`sample_freq`). nats-server draws
/// 0..100 and samples when the draw is at most the percentage (so "50%" samples 51 of 100).
fn should_sample(percent: u32) -> bool {
    match percent {
        0 => false,
        100.. => true,
        p => fastrand::u32(0..100) <= p,
    }
}

/// The ack metric of `sample_freq`: the acknowledged delivery and how long it took.
fn ack_metric(
    domain: &str,
    stream: &str,
    consumer: &str,
    d: ack::Delivered,
    delivered_at: i64,
) -> Outgoing {
    let now = Timestamp::now();
    let body = AckMetric {
        stream: stream.to_owned(),
        consumer: consumer.to_owned(),
        consumer_seq: d.consumer_seq,
        stream_seq: d.stream_seq,
        ack_time: now
            .unix_nanos()
            .and_then(|n| i64::try_from(n).ok())
            .map_or(0, |n| n.saturating_sub(delivered_at)),
        deliveries: d.deliveries,
        domain: domain.to_owned(),
        event: EventHeader {
            timestamp: now,
            ..EventHeader::new(advisory_type::ACK_METRIC)
        },
    };
    advisory(advisory_subject::ACK_METRIC, stream, consumer, &body)
}

/// The delivery task of one consumer.
async fn deliveries(consumer: Arc<Consumer>) {
    loop {
        let Some(stream) = consumer.stream.upgrade() else {
            return;
        };
        let (out, next, advisories) = consumer.step(&stream);
        if !out.is_empty() {
            consumer.port.send(&out);
        }
        if !advisories.is_empty() {
            consumer.port.send(&advisories);
            // Messages out of deliveries may now leave a workqueue or interest stream.
        }
        if let Err(e) = consumer.save() {
            tracing::error!(
                "consumer '{} > {}': saving state: {e}",
                consumer.stream_name,
                consumer.name
            );
        }
        if consumer.inactive() {
            tracing::debug!(
                "consumer '{} > {}' inactive, deleting",
                consumer.stream_name,
                consumer.name
            );
            stream.remove_consumer(&consumer.name);
            return;
        }
        drop(stream);
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = consumer.stop.cancelled() => {
                let _ = consumer.save();
                return;
            }
            _ = consumer.wake.notified() => {}
            _ = sleep => {}
        }
    }
}

/// The prefix of pull requests, `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`.
pub(crate) const NEXT_PREFIX: &str = "$JS.API.CONSUMER.MSG.NEXT.";

/// The subscriber on a pull consumer's `CONSUMER.MSG.NEXT` subject: requests are queued in
/// the requester's task, without a trip through the API task.
struct NextSink(Weak<Consumer>);

impl Sink for NextSink {
    fn receive(&self, msg: &InMsg<'_>, _after: &mut AfterBatch) -> bool {
        let (Some(consumer), Some(reply)) = (self.0.upgrade(), msg.reply) else {
            return false;
        };
        match decode_next(msg.payload) {
            Ok(req) => consumer.pull(reply, &req),
            Err(e) => {
                consumer
                    .port
                    .send(&[status_to(reply, e.status_line().into_bytes())]);
            }
        }
        true
    }
}

/// The subscriber on `$JS.FC.<stream>.<consumer>.<n>`: a push client answering flow
/// control lets delivery go on.
struct FlowControlSink(Weak<Consumer>);

impl Sink for FlowControlSink {
    fn receive(&self, msg: &InMsg<'_>, _after: &mut AfterBatch) -> bool {
        let Some(consumer) = self.0.upgrade() else {
            return false;
        };
        let n = msg
            .subject
            .rsplit(|b| *b == b'.')
            .next()
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(n) = n {
            let mut st = consumer.state.lock();
            let freed = st.flow.answered(n);
            drop(st);
            if freed {
                consumer.notify();
            }
        }
        true
    }
}

/// The subscriber on `$JS.ACK.<stream>.<consumer>.>`.
struct AckSink(Weak<Consumer>);

impl Sink for AckSink {
    fn receive(&self, msg: &InMsg<'_>, after: &mut AfterBatch) -> bool {
        let Some(consumer) = self.0.upgrade() else {
            return false;
        };
        let prefix = ack::PREFIX.len() + consumer.stream_name.len() + 1 + consumer.name.len() + 1;
        let Some(d) = msg.subject.get(prefix..).and_then(ack::parse_tokens) else {
            return true;
        };
        let Some(kind) = ack::parse_kind(msg.payload) else {
            return true;
        };
        let acked = consumer.acknowledge(d, &kind, msg.reply);
        if let Some(stream) = consumer.stream.upgrade()
            && !acked.acked.is_empty()
        {
            stream.acknowledged(&consumer.name, &acked.acked);
        }
        if let Some(adv) = acked.advisory {
            after.reply(Reply {
                subject: adv.to,
                headers: None,
                payload: adv.payload.to_vec(),
            });
        }
        if let Some((reply, body)) = acked.next {
            match decode_next(&body) {
                Ok(req) => consumer.pull(&reply, &req),
                Err(e) => {
                    consumer
                        .port
                        .send(&[status_to(&reply, e.status_line().into_bytes())]);
                }
            }
        } else {
            consumer.notify();
        }
        let durable: Arc<dyn Durable> = consumer.clone();
        match msg.reply {
            // Double ack: the reply confirms the acknowledgement is stored.
            Some(reply) if !matches!(kind, AckKind::Next(_)) => {
                after.ack_after_flush(&durable, reply, Vec::new());
            }
            _ => after.flush(&durable),
        }
        true
    }
}

impl Durable for Consumer {
    fn flush(&self) -> Result<(), Vec<u8>> {
        self.save().map_err(|e| {
            tracing::error!(
                "consumer '{} > {}': saving state: {e}",
                self.stream_name,
                self.name
            );
            b"-ERR".to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::should_sample;

    #[test]
    fn sampling_takes_about_the_configured_share_of_acknowledgements() {
        assert!((0..1000).all(|_| !should_sample(0)));
        assert!((0..1000).all(|_| should_sample(100)));
        let taken = (0..10_000).filter(|_| should_sample(50)).count();
        // nats-server's rule samples 51 of 100 draws; far from both 0 and all.
        assert!((4_500..5_700).contains(&taken), "{taken} of 10000");
    }
}
