//! `natrium bench js crash`: the durability contract under `kill -9`.
//!
//! Each cycle starts the natrium-server binary on the same store directory, checks what the
//! previous cycles left (every acknowledged message present with its payload, sequences
//! gap-free and in publish order, no duplicate), publishes with a window of outstanding
//! acknowledgements and SIGKILLs the server after a random number of acknowledgements, while
//! publishes are still in flight. A final pass re-reads the whole stream.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use async_nats::jetstream;
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use tokio::process::{Child, Command};

use super::process::{free_port, spawn_ready};

/// The stream under test and the subject it captures.
pub(super) const STREAM: &str = "CRASH";
pub(super) const SUBJECT: &str = "crash.msgs";
/// Acknowledgements come back on `ACK_PREFIX.<publish index>`.
const ACK_PREFIX: &str = "_CRASH_ACK";
/// Upper bound for any single event (server start, an acknowledgement, a reply).
pub(super) const BOUND: Duration = Duration::from_secs(20);

/// Arguments of `natrium bench js crash`.
#[derive(Debug, clap::Args)]
pub struct CrashArgs {
    /// natrium-server binary [default: `natrium-server` next to this executable].
    #[arg(long)]
    pub natrium_server: Option<PathBuf>,
    /// Kill/restart cycles.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub cycles: u32,
    /// Each cycle kills the server after a random number of acknowledgements up to this.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_acks: u64,
    /// Publishes outstanding (awaiting acknowledgement) at any time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// Payload size in bytes (at least 20: the payload names its cycle and index).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(20..=1_048_576))]
    pub size: u64,
    /// Run the server with `jetstream { sync_interval: always }` (fsync before every ack).
    #[arg(long)]
    pub sync_always: bool,
    /// Seed of the random kill points [default: from the clock]; printed for reruns.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Consume instead: each cycle publishes up to --max-acks messages, then a durable pull
    /// consumer double-acks them (--window acks in flight) until a random number of acks is
    /// confirmed, and the server is killed; no confirmed ack may ever be undone.
    #[arg(long)]
    pub consume: bool,
}

/// What a crash run checked.
#[derive(Debug, Default)]
pub struct CrashSummary {
    /// Cycles run.
    pub cycles: u32,
    /// Acknowledged messages, all verified present.
    pub acked: u64,
    /// Messages stored although their acknowledgement never reached the publisher.
    pub stored_unacked: u64,
    /// Messages in the stream at the end.
    pub stream_msgs: u64,
}

/// Publish position encoded in a payload: `(cycle, index)`, increasing in publish order.
pub(super) type Key = (u32, u64);

pub(super) fn payload(key: Key, size: usize) -> Bytes {
    let mut text = format!("{:06}-{:012}-", key.0, key.1).into_bytes();
    text.resize(size.max(text.len()), b'x');
    Bytes::from(text)
}

pub(super) fn parse_payload(bytes: &[u8], size: usize) -> Option<Key> {
    let head = std::str::from_utf8(bytes.get(..20)?).ok()?;
    let cycle = head.get(0..6)?.parse().ok()?;
    let index = head.get(7..19)?.parse().ok()?;
    (bytes.len() == size
        && head.as_bytes()[6] == b'-'
        && head.as_bytes()[19] == b'-'
        && bytes[20..].iter().all(|&b| b == b'x'))
    .then_some((cycle, index))
}

/// A natrium-server child on the store directory.
pub(super) struct Server {
    child: Child,
    pub(super) url: String,
}

impl Server {
    pub(super) async fn start(
        binary: &Path,
        dir: &Path,
        sync_always: bool,
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        let mut command = Command::new(binary);
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if sync_always {
            let config = dir.join("crash.conf");
            let store = dir.join("store");
            let store = serde_json::to_string(&store.to_string_lossy())?;
            std::fs::write(
                &config,
                format!("jetstream {{\n  store_dir: {store}\n  sync_interval: always\n}}\n"),
            )
            .with_context(|| format!("cannot write {}", config.display()))?;
            command.arg("-c").arg(&config);
        } else {
            command.arg("-js").arg("-sd").arg(dir.join("store"));
        }
        let (child, mut lines) = spawn_ready(&mut command, binary, BOUND).await?;
        // Warnings (a truncated torn tail) go to the log; keep draining it.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("[ERR]") || line.contains("ERROR") {
                    eprintln!("natrium-server: {line}");
                }
            }
        });
        Ok(Server {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        })
    }

    /// SIGKILL, and wait until the process is gone.
    pub(super) async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        tokio::time::timeout(BOUND, self.child.wait())
            .await
            .context("the killed server did not exit")??;
        Ok(())
    }
}

/// The run's memory: what was acknowledged, and how far the stream is verified.
struct Ledger {
    /// Acknowledged sequence → the publish it acknowledged.
    acked: BTreeMap<u64, Key>,
    /// Sequences `1..=verified` were read back and checked.
    verified: u64,
    /// The key at `verified`, for the order check.
    last_key: Option<Key>,
    stored_unacked: u64,
    size: usize,
}

impl Ledger {
    /// Records an acknowledgement of the publish `key` with `seq`.
    fn ack(&mut self, seq: u64, key: Key) -> anyhow::Result<()> {
        if let Some((&last_seq, &last_key)) = self.acked.last_key_value() {
            ensure!(
                seq > last_seq && key > last_key,
                "acknowledgement out of order: {key:?} got seq {seq} after {last_key:?} got {last_seq}"
            );
        }
        self.acked.insert(seq, key);
        Ok(())
    }

    /// Reads sequences `from..=to` back and checks them; `to` must cover every ack.
    async fn verify(
        &mut self,
        stream: &jetstream::stream::Stream,
        from: u64,
        to: u64,
    ) -> anyhow::Result<()> {
        let mut last_key = if from == 1 { None } else { self.last_key };
        for seq in from..=to {
            let msg = tokio::time::timeout(BOUND, stream.get_raw_message(seq))
                .await
                .with_context(|| format!("no reply for message {seq}"))?
                .with_context(|| format!("message {seq} is missing"))?;
            ensure!(
                msg.subject.as_str() == SUBJECT,
                "message {seq} has subject {:?}",
                msg.subject
            );
            let key = parse_payload(&msg.payload, self.size)
                .with_context(|| format!("message {seq} is corrupt: {:?}", msg.payload))?;
            if let Some(last) = last_key {
                ensure!(
                    key > last,
                    "message {seq} {key:?} is not after {last:?}: duplicate or out of order"
                );
            }
            match self.acked.get(&seq) {
                Some(&acked) => ensure!(
                    acked == key,
                    "message {seq} holds {key:?}, but {acked:?} was acknowledged with it"
                ),
                None if seq > self.verified => self.stored_unacked += 1,
                None => {}
            }
            last_key = Some(key);
        }
        if to >= self.verified {
            self.verified = to;
            self.last_key = last_key;
        }
        Ok(())
    }
}

/// The server binary the crash loop runs.
pub(super) fn server_binary(args: &CrashArgs) -> anyhow::Result<PathBuf> {
    let binary = match &args.natrium_server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("cannot locate this executable's directory")?
            .join("natrium-server"),
    };
    ensure!(
        binary.is_file(),
        "server binary {} not found",
        binary.display()
    );
    Ok(binary)
}

/// The random kill points, from `--seed` or the clock (printed for reruns).
pub(super) fn rng(args: &CrashArgs) -> fastrand::Rng {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("natrium bench js crash: seed {seed}");
    fastrand::Rng::with_seed(seed)
}

/// Runs the kill loop; fails on the first lost, corrupt, duplicate or reordered message.
pub async fn run(args: &CrashArgs) -> anyhow::Result<CrashSummary> {
    let binary = server_binary(args)?;
    let mut rng = rng(args);
    let dir = tempfile::tempdir().context("cannot create a temporary store directory")?;
    let size = args.size as usize;
    let mut ledger = Ledger {
        acked: BTreeMap::new(),
        verified: 0,
        last_key: None,
        stored_unacked: 0,
        size,
    };
    let started = Instant::now();
    for cycle in 0..args.cycles {
        let server = Server::start(&binary, dir.path(), args.sync_always)
            .await
            .with_context(|| format!("cycle {cycle}: restart"))?;
        let client = crate::connect::connect(&server.url, "natrium bench js crash").await?;
        let js = jetstream::new(client.clone());
        let stream = if cycle == 0 {
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
                .with_context(|| format!("cycle {cycle}: the stream did not survive"))?
        };
        let mut stream = stream;
        let state = stream.info().await.context("stream info")?.state.clone();
        let max_acked = ledger.acked.last_key_value().map_or(0, |(&s, _)| s);
        ensure!(
            state.last_sequence >= max_acked,
            "cycle {cycle}: the stream ends at {} but {max_acked} was acknowledged",
            state.last_sequence
        );
        ensure!(
            state.messages == state.last_sequence
                && (state.messages == 0 || state.first_sequence == 1),
            "cycle {cycle}: {} messages from {} to {}: sequences lost",
            state.messages,
            state.first_sequence,
            state.last_sequence
        );
        ledger
            .verify(&stream, ledger.verified + 1, state.last_sequence)
            .await
            .with_context(|| format!("cycle {cycle}: after restart"))?;

        // Publish until a random number of acknowledgements, then kill with publishes in flight.
        let kill_after = rng.u64(1..=args.max_acks);
        let mut acks = client
            .subscribe(format!("{ACK_PREFIX}.>"))
            .await
            .context("cannot subscribe to acknowledgements")?;
        crate::connect::round_trip(&client).await?;
        let (mut sent, mut received) = (0u64, 0u64);
        let record = |ledger: &mut Ledger, msg: async_nats::Message| -> anyhow::Result<()> {
            let index: u64 = msg
                .subject
                .as_str()
                .rsplit('.')
                .next()
                .and_then(|i| i.parse().ok())
                .with_context(|| format!("stray message on {}", msg.subject))?;
            let ack: serde_json::Value = serde_json::from_slice(&msg.payload)
                .with_context(|| format!("acknowledgement is not JSON: {:?}", msg.payload))?;
            let seq = ack["seq"]
                .as_u64()
                .with_context(|| format!("publish {index} refused: {ack}"))?;
            ledger.ack(seq, (cycle, index))
        };
        while received < kill_after {
            while sent - received < args.window {
                client
                    .publish_with_reply(
                        SUBJECT,
                        format!("{ACK_PREFIX}.{sent}"),
                        payload((cycle, sent), size),
                    )
                    .await?;
                sent += 1;
            }
            let msg = tokio::time::timeout(BOUND, acks.next())
                .await
                .with_context(|| format!("cycle {cycle}: no acknowledgement within {BOUND:?}"))?
                .context("acknowledgement subscription closed")?;
            record(&mut ledger, msg)?;
            received += 1;
        }
        server.kill().await?;
        // Acknowledgements the client already read before the kill count too.
        while let Some(Some(msg)) = acks.next().now_or_never() {
            record(&mut ledger, msg)?;
            received += 1;
        }
        drop(acks);
        drop(client);
        tracing::debug!(cycle, sent, received, "killed");
    }

    // Last restart: everything must be there.
    let server = Server::start(&binary, dir.path(), args.sync_always).await?;
    let client = crate::connect::connect(&server.url, "natrium bench js crash").await?;
    let mut stream = jetstream::new(client).get_stream(STREAM).await?;
    let state = stream.info().await?.state.clone();
    ledger
        .verify(&stream, 1, state.last_sequence)
        .await
        .context("final pass")?;
    let max_acked = ledger.acked.last_key_value().map_or(0, |(&s, _)| s);
    ensure!(
        state.last_sequence >= max_acked,
        "acknowledged messages lost at the end"
    );
    server.kill().await?;
    let summary = CrashSummary {
        cycles: args.cycles,
        acked: ledger.acked.len() as u64,
        stored_unacked: ledger.stored_unacked,
        stream_msgs: state.messages,
    };
    eprintln!(
        "natrium bench js crash: {} kill -9 cycles in {:.1} s{}: {} acknowledged messages all \
         present, in order, no duplicate; {} more were stored without their acknowledgement \
         reaching the publisher; {} messages in the stream",
        summary.cycles,
        started.elapsed().as_secs_f64(),
        if args.sync_always {
            " (sync_interval: always)"
        } else {
            ""
        },
        summary.acked,
        summary.stored_unacked,
        summary.stream_msgs
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_reject_damage() {
        let p = payload((3, 42), 32);
        assert_eq!(p.len(), 32);
        assert_eq!(parse_payload(&p, 32), Some((3, 42)));
        let mut bad = p.to_vec();
        bad[25] = 0;
        assert_eq!(parse_payload(&bad, 32), None);
        assert_eq!(parse_payload(&p[..31], 32), None);
        assert_eq!(parse_payload(&[0; 32], 32), None);
    }
}
