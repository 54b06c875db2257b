//! `natrium bench js crash --consume`: consumer acknowledgements under `kill -9`.
//!
//! Each cycle starts the natrium-server binary on the same store directory, publishes a
//! random number of messages (every publish acknowledged), and reads through one durable
//! pull consumer, double-acking each delivery with a window of acks in flight; after a random
//! number of confirmed acks it SIGKILLs the server. The contract checked on every delivery:
//! a message whose double ack the server confirmed is never delivered again. A final restart
//! reads until the consumer has nothing pending: every published message was delivered at
//! least once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use async_nats::jetstream::{self, consumer::PullConsumer};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};

use super::crash::{BOUND, CrashArgs, Key, STREAM, SUBJECT, Server, parse_payload, payload};

/// The durable consumer under test.
const CONSUMER: &str = "CRASH_CONSUMER";
/// The consumer's ack wait: deliveries left unacknowledged by a kill come back after it.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// Messages per pull request.
const PULL_BATCH: usize = 64;

/// What a consume crash run checked.
#[derive(Debug, Default)]
pub struct ConsumeSummary {
    /// Cycles run.
    pub cycles: u32,
    /// Messages published (each publish acknowledged).
    pub published: u64,
    /// Double acks the server confirmed.
    pub confirmed: u64,
    /// Deliveries seen, first ones and redeliveries.
    pub deliveries: u64,
    /// Deliveries of a message seen before (its ack never confirmed, or lost to a kill).
    pub redeliveries: u64,
    /// Double acks answered with an error instead of a confirmation.
    pub ack_errors: u64,
}

/// The run's memory.
#[derive(Default)]
struct Ledger {
    /// Stream sequence → the publish stored there.
    published: BTreeMap<u64, Key>,
    /// Stream sequence → the server incarnation (cycle) that confirmed its double ack.
    confirmed: HashMap<u64, u32>,
    /// Stream sequence → when the client last saw it delivered, and in which incarnation.
    delivered: HashMap<u64, (Instant, u32)>,
    summary: ConsumeSummary,
}

impl Ledger {
    /// Checks one delivery: a known message with its payload, and never one whose ack was
    /// confirmed. Returns its stream sequence.
    fn delivery(
        &mut self,
        msg: &jetstream::Message,
        cycle: u32,
        size: usize,
    ) -> anyhow::Result<u64> {
        let info = msg
            .info()
            .map_err(|e| anyhow::anyhow!("not a JetStream delivery: {e}"))?;
        let seq = info.stream_sequence;
        let key = parse_payload(&msg.payload, size)
            .with_context(|| format!("message {seq} is corrupt: {:?}", msg.payload))?;
        let published = self
            .published
            .get(&seq)
            .with_context(|| format!("delivered sequence {seq} was never published"))?;
        ensure!(
            *published == key,
            "message {seq} holds {key:?}, but {published:?} was published with it"
        );
        let now = Instant::now();
        if let Some(&confirmed_in) = self.confirmed.get(&seq) {
            let (last_seen, seen_in) = self.delivered.get(&seq).copied().unwrap_or((now, cycle));
            // Within one incarnation, a redelivery can legitimately race with the ack that
            // confirmed it only once the ack wait of the previous delivery ran out.
            let raced = confirmed_in == cycle && seen_in == cycle && now - last_seen >= ACK_WAIT;
            if !raced {
                bail!(
                    "CONFIRMED ACK UNDONE: message {seq} (delivery {}) delivered in cycle \
                     {cycle}, although the server confirmed its double ack in cycle \
                     {confirmed_in}",
                    info.delivered
                );
            }
        }
        self.summary.deliveries += 1;
        if self.delivered.insert(seq, (now, cycle)).is_some() {
            self.summary.redeliveries += 1;
        }
        Ok(seq)
    }

    /// Records the answer to the double ack of `seq`: confirmed only when the server
    /// replied with an empty body (natrium-server and nats-server reply so on success).
    fn ack_answer(
        &mut self,
        seq: u64,
        answer: Result<async_nats::Message, async_nats::RequestError>,
        cycle: u32,
    ) -> bool {
        match answer {
            Ok(reply) if reply.payload.is_empty() && reply.status.is_none() => {
                self.confirmed.entry(seq).or_insert(cycle);
                self.summary.confirmed += 1;
                true
            }
            Ok(reply) => {
                tracing::warn!(seq, payload = ?reply.payload, status = ?reply.status, "double ack refused");
                self.summary.ack_errors += 1;
                false
            }
            Err(err) => {
                tracing::warn!(seq, "double ack failed: {err}");
                self.summary.ack_errors += 1;
                false
            }
        }
    }
}

/// A double ack whose confirmation is awaited: `(stream sequence, the server's answer)`.
type AckFuture = futures::future::BoxFuture<
    'static,
    (u64, Result<async_nats::Message, async_nats::RequestError>),
>;

/// Sends the double ack of `msg`: an `+ACK` request on its reply subject. (async-nats'
/// `double_ack` takes any answer as a confirmation; this one looks at the answer.)
fn double_ack(client: &async_nats::Client, msg: &jetstream::Message, seq: u64) -> AckFuture {
    let client = client.clone();
    let reply = msg.reply.clone();
    async move {
        let answer = match reply {
            Some(reply) => client.request(reply, Bytes::from_static(b"+ACK")).await,
            None => Err(async_nats::RequestError::with_source(
                async_nats::RequestErrorKind::Other,
                "delivery without a reply subject",
            )),
        };
        (seq, answer)
    }
    .boxed()
}

/// Runs the consume kill loop; fails on the first confirmed ack that is undone, or a
/// published message never delivered.
pub async fn run(args: &CrashArgs) -> anyhow::Result<ConsumeSummary> {
    let binary = super::crash::server_binary(args)?;
    let mut rng = super::crash::rng(args);
    let dir = tempfile::tempdir().context("cannot create a temporary store directory")?;
    let size = args.size as usize;
    let window = args.window as usize;
    let mut ledger = Ledger::default();
    let started = Instant::now();
    for cycle in 0..args.cycles {
        let server = Server::start(&binary, dir.path(), args.sync_always)
            .await
            .with_context(|| format!("cycle {cycle}: restart"))?;
        let client = crate::connect::connect(&server.url, "natrium bench js crash").await?;
        let js = jetstream::new(client.clone());
        let consumer = open(&js, cycle == 0)
            .await
            .with_context(|| format!("cycle {cycle}: open"))?;
        check_ack_floor(&consumer, &ledger)
            .await
            .with_context(|| format!("cycle {cycle}: after restart"))?;

        let count = rng.u64(1..=args.max_acks);
        publish(&js, &mut ledger, cycle, count, args.window, size)
            .await
            .with_context(|| format!("cycle {cycle}: publishing"))?;
        // Kill after this many confirmations, with more acks in flight.
        let kill_after = rng.u64(1..=count);
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .messages()
            .await
            .context("cannot start pulling")?;
        let mut acks: FuturesUnordered<AckFuture> = FuturesUnordered::new();
        let mut confirmed = 0u64;
        while confirmed < kill_after {
            tokio::select! {
                Some((seq, answer)) = acks.next(), if !acks.is_empty() => {
                    if ledger.ack_answer(seq, answer, cycle) {
                        confirmed += 1;
                    }
                }
                msg = tokio::time::timeout(BOUND, messages.next()), if acks.len() < window => {
                    let msg = msg
                        .with_context(|| format!("cycle {cycle}: no delivery within {BOUND:?}"))?
                        .context("the message stream ended")?
                        .map_err(|e| anyhow::anyhow!("cycle {cycle}: pulling failed: {e}"))?;
                    let seq = ledger.delivery(&msg, cycle, size)?;
                    acks.push(double_ack(&client, &msg, seq));
                }
            }
        }
        server.kill().await?;
        // Confirmations the client already had before the kill count too (failures now
        // are the kill's doing).
        while let Some(Some((seq, answer))) = acks.next().now_or_never() {
            if answer.is_ok() {
                ledger.ack_answer(seq, answer, cycle);
            }
        }
        drop((acks, messages, consumer, js, client));
        tracing::debug!(cycle, count, confirmed, "killed");
    }
    finish(&binary, dir.path(), args, &mut ledger).await?;
    let summary = ConsumeSummary {
        cycles: args.cycles,
        ..std::mem::take(&mut ledger.summary)
    };
    eprintln!(
        "natrium bench js crash --consume: {} kill -9 cycles in {:.1} s{}: {} messages \
         published, {} double acks confirmed and none undone (no confirmed message delivered \
         again); every message delivered at least once ({} deliveries, {} redeliveries of \
         messages whose ack was not confirmed or lost to a kill); {} double acks answered \
         with an error",
        summary.cycles,
        started.elapsed().as_secs_f64(),
        if args.sync_always {
            " (sync_interval: always)"
        } else {
            ""
        },
        summary.published,
        summary.confirmed,
        summary.deliveries,
        summary.redeliveries,
        summary.ack_errors
    );
    Ok(summary)
}

/// The consumer under test: created with its stream in the first cycle, found afterwards.
async fn open(js: &jetstream::Context, create: bool) -> anyhow::Result<PullConsumer> {
    let stream = if create {
        js.create_stream(jetstream::stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![SUBJECT.to_owned()],
            ..Default::default()
        })
        .await
        .context("cannot create the stream")?
    } else {
        js.get_stream(STREAM)
            .await
            .context("the stream did not survive")?
    };
    if create {
        stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                // Deliveries left pending by kills must not stop new ones.
                max_ack_pending: 1_000_000,
                ..Default::default()
            })
            .await
            .context("cannot create the consumer")
    } else {
        stream
            .get_consumer(CONSUMER)
            .await
            .map_err(|e| anyhow::anyhow!("the consumer did not survive: {e}"))
    }
}

/// After a restart: the consumer's ack floor covers every sequence whose double ack, and
/// every earlier one's, was confirmed.
async fn check_ack_floor(consumer: &PullConsumer, ledger: &Ledger) -> anyhow::Result<()> {
    let mut confirmed_floor = 0;
    for &seq in ledger.published.keys() {
        if !ledger.confirmed.contains_key(&seq) {
            break;
        }
        confirmed_floor = seq;
    }
    let info = consumer.cached_info();
    ensure!(
        info.ack_floor.stream_sequence >= confirmed_floor,
        "CONFIRMED ACK UNDONE: the consumer's ack floor is {} after the restart, but every \
         message up to {confirmed_floor} had its double ack confirmed",
        info.ack_floor.stream_sequence
    );
    Ok(())
}

/// Publishes `count` messages with up to `window` acknowledgements outstanding and records
/// the sequence of each.
async fn publish(
    js: &jetstream::Context,
    ledger: &mut Ledger,
    cycle: u32,
    count: u64,
    window: u64,
    size: usize,
) -> anyhow::Result<()> {
    let mut pending = std::collections::VecDeque::new();
    let record = |ledger: &mut Ledger, index: u64, ack: jetstream::publish::PublishAck| {
        let expected = ledger.published.last_key_value().map_or(1, |(s, _)| s + 1);
        ensure!(
            ack.sequence == expected,
            "publish {index} acknowledged with sequence {}, expected {expected}",
            ack.sequence
        );
        ledger.published.insert(ack.sequence, (cycle, index));
        ledger.summary.published += 1;
        Ok(())
    };
    for index in 0..count {
        if pending.len() as u64 >= window {
            let (i, ack): (u64, jetstream::context::PublishAckFuture) =
                pending.pop_front().context("window is full")?;
            record(ledger, i, ack.await.context("no publish acknowledgement")?)?;
        }
        let ack = js
            .publish(SUBJECT, payload((cycle, index), size))
            .await
            .context("publish failed")?;
        pending.push_back((index, ack));
    }
    for (i, ack) in pending {
        record(ledger, i, ack.await.context("no publish acknowledgement")?)?;
    }
    Ok(())
}

/// The last restart: reads (double-acking) until the consumer has nothing pending or
/// unacknowledged; every published message must then have been delivered.
async fn finish(
    binary: &std::path::Path,
    dir: &std::path::Path,
    args: &CrashArgs,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let cycle = args.cycles;
    let server = Server::start(binary, dir, args.sync_always).await?;
    let client = crate::connect::connect(&server.url, "natrium bench js crash").await?;
    let js = jetstream::new(client.clone());
    let mut consumer = open(&js, false).await.context("final restart")?;
    check_ack_floor(&consumer, ledger)
        .await
        .context("final restart")?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH)
        .messages()
        .await
        .context("cannot start pulling")?;
    // Deliveries a kill left unacknowledged come back one ack wait after the restart.
    let deadline = Instant::now() + ACK_WAIT + BOUND;
    loop {
        match tokio::time::timeout(ACK_WAIT / 4, messages.next()).await {
            Ok(msg) => {
                let msg = msg
                    .context("the message stream ended")?
                    .map_err(|e| anyhow::anyhow!("final pass: pulling failed: {e}"))?;
                let seq = ledger.delivery(&msg, cycle, args.size as usize)?;
                let (seq, answer) = double_ack(&client, &msg, seq).await;
                ledger.ack_answer(seq, answer, cycle);
            }
            // Quiet for a while: done once the server holds nothing more for us.
            Err(_) => {
                let info = consumer.info().await.context("consumer info")?;
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    break;
                }
                ensure!(
                    Instant::now() < deadline,
                    "final pass: after {:?} the consumer still has {} pending and {} \
                     unacknowledged",
                    ACK_WAIT + BOUND,
                    info.num_pending,
                    info.num_ack_pending
                );
            }
        }
    }
    let never: Vec<u64> = ledger
        .published
        .keys()
        .filter(|s| !ledger.delivered.contains_key(s))
        .copied()
        .take(10)
        .collect();
    ensure!(
        never.is_empty(),
        "published messages never delivered (first ones): {never:?}"
    );
    let last = ledger.published.last_key_value().map_or(0, |(&s, _)| s);
    let info = consumer.info().await.context("consumer info")?;
    ensure!(
        info.ack_floor.stream_sequence == last,
        "final ack floor {} but {last} messages were published and all acknowledged",
        info.ack_floor.stream_sequence
    );
    server.kill().await
}
