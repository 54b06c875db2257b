//! `natrium bench object --raw`: object store put and get done on the wire by the raw
//! client, so the server, not async-nats, sets the rate.
//!
//! async-nats' object store hashes every 128 KiB chunk and waits for each chunk's ack
//! before sending the next. Here a put sends what nats.go's `Put` sends (every chunk
//! published without waiting, then the meta message, then all acks awaited), with the frames
//! and the digest prepared before the clock; a get does what async-nats' `get` does (direct
//! get of the meta message, an ordered push consumer on the chunks), comparing the bytes
//! instead of hashing them. The bucket is created, filled and read back for checking with
//! async-nats, outside the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::consumer::IntoConsumerConfig as _;
use async_nats::jetstream::{self, consumer, object_store};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use indicatif::ProgressBar;

use super::object::{self, BUCKET, ObjectOp, ObjectSettings};
use super::raw::{self, RawConnection, ack_metadata};
use super::report::{Report, Span};

/// Chunk size of async-nats' and nats.go's object stores.
const CHUNK: usize = 128 * 1024;

/// Publishes without an ack at most (as the other raw JetStream rows).
const WINDOW: usize = 256;

/// Longest wait for any one reply or delivery.
const WAIT: Duration = Duration::from_secs(10);

/// The stream behind the benchmark bucket.
fn stream_name() -> String {
    format!("OBJ_{BUCKET}")
}

/// Subject of an object's meta message.
fn meta_subject(name: &str) -> String {
    format!("$O.{BUCKET}.M.{}", URL_SAFE.encode(name))
}

/// One object of a put run, encoded before the clock starts.
struct PreparedPut {
    name: String,
    nuid: String,
    size: usize,
    chunks: usize,
    /// `SHA-256=<base64url>` of the bytes.
    digest: String,
    /// The chunk `PUB` frames, back to back.
    frames: Vec<u8>,
    /// End offset of each frame in `frames`.
    ends: Vec<usize>,
}

impl PreparedPut {
    fn new(name: String, bytes: &[u8], inbox: &str) -> PreparedPut {
        use sha2::Digest as _;
        let nuid = nuid::next().to_string();
        let subject = format!("$O.{BUCKET}.C.{nuid}");
        let mut frames = Vec::with_capacity(bytes.len() + bytes.len() / CHUNK * 128 + 128);
        let mut ends = Vec::new();
        for chunk in bytes.chunks(CHUNK) {
            raw::encode_pub(&mut frames, &subject, Some(inbox), chunk);
            ends.push(frames.len());
        }
        PreparedPut {
            name,
            nuid,
            size: bytes.len(),
            chunks: ends.len(),
            digest: format!("SHA-256={}", URL_SAFE.encode(sha2::Sha256::digest(bytes))),
            frames,
            ends,
        }
    }

    /// The meta message's `HPUB` frame: async-nats' `ObjectInfo` as its `put` writes it,
    /// with the rollup header that replaces an earlier meta message of the name.
    fn meta_frame(&self, inbox: &str) -> anyhow::Result<Vec<u8>> {
        let info = object_store::ObjectInfo {
            name: self.name.clone(),
            description: None,
            metadata: HashMap::new(),
            headers: None,
            options: Some(object_store::ObjectOptions {
                link: None,
                max_chunk_size: Some(CHUNK),
            }),
            bucket: BUCKET.to_owned(),
            nuid: self.nuid.clone(),
            size: self.size,
            chunks: self.chunks,
            modified: Some(async_nats::datetime::now()),
            digest: Some(self.digest.clone()),
            deleted: false,
        };
        let body = serde_json::to_vec(&info).context("cannot encode the object info")?;
        let mut frame = Vec::with_capacity(body.len() + 128);
        raw::encode_hpub(
            &mut frame,
            &meta_subject(&self.name),
            Some(inbox),
            &[("Nats-Rollup", "sub")],
            &body,
        );
        Ok(frame)
    }
}

/// A JetStream API reply or publish ack, as far as the benchmark reads it.
#[derive(Debug, serde::Deserialize)]
struct ApiReply {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

fn api_reply(payload: &[u8]) -> anyhow::Result<ApiReply> {
    let reply: ApiReply = serde_json::from_slice(payload).with_context(|| {
        format!(
            "unexpected JetStream reply {:?}",
            String::from_utf8_lossy(payload)
        )
    })?;
    if let Some(error) = &reply.error {
        bail!("JetStream error: {error}");
    }
    Ok(reply)
}

/// Checks publish acks: each from the bucket's stream, each the next sequence.
struct AckCheck {
    stream: String,
    last_seq: Option<u64>,
}

impl AckCheck {
    fn check(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        let ack = api_reply(payload)?;
        anyhow::ensure!(
            ack.stream.as_deref() == Some(self.stream.as_str()),
            "ack from stream {:?}, expected {}",
            ack.stream,
            self.stream
        );
        let seq = ack.seq.context("ack without a sequence")?;
        if let Some(last) = self.last_seq {
            anyhow::ensure!(
                seq == last + 1,
                "ack of sequence {seq} after {last}: not the next"
            );
        }
        self.last_seq = Some(seq);
        Ok(())
    }
}

/// Runs a raw put or get and reports its rate; a get checks every object, a put is checked
/// by [`check_put`] afterwards.
pub async fn run(settings: &ObjectSettings) -> anyhow::Result<Report> {
    let contents = object::contents(settings);
    let objects: Vec<&[u8]> = (0..settings.count)
        .map(|i| object::content(&contents, i))
        .collect();
    let progress = if settings.progress {
        ProgressBar::new(settings.count)
    } else {
        ProgressBar::hidden()
    };
    let client = crate::connect::connect(&settings.url, "natrium bench object").await?;
    let js = jetstream::new(client.clone());
    let (workload, span) = match settings.op {
        ObjectOp::Put => {
            object::fresh_bucket(&js).await?;
            ("object-put-raw", put(settings, &objects, &progress).await?)
        }
        ObjectOp::Get => {
            if !settings.filled {
                object::fill(settings).await?;
            }
            js.get_object_store(BUCKET)
                .await
                .context("the filled benchmark bucket is missing")?;
            ("object-get-raw", get(settings, &objects, &progress).await?)
        }
    };
    progress.finish_and_clear();
    tokio::time::timeout(Duration::from_secs(5), client.flush())
        .await
        .ok();
    Ok(object::report(workload, settings, "raw", span))
}

/// Checks what a raw put stored: async-nats reads every object back, checking its digest,
/// and it must be the object put. Not part of the put's time (nor of the server CPU a
/// comparison counts).
pub async fn check_put(settings: &ObjectSettings) -> anyhow::Result<()> {
    let contents = object::contents(settings);
    let client = crate::connect::connect(&settings.url, "natrium bench object check").await?;
    let bucket = jetstream::new(client)
        .get_object_store(BUCKET)
        .await
        .context("the benchmark bucket is missing")?;
    let mut buffer = Vec::with_capacity(settings.size);
    for i in 0..settings.count {
        object::read_and_check(&bucket, &contents, i, &mut buffer).await?;
    }
    Ok(())
}

/// Puts every object, one after another: its chunks, then its meta message, then all their
/// acks, never more than [`WINDOW`] unacknowledged.
async fn put(
    settings: &ObjectSettings,
    objects: &[&[u8]],
    progress: &ProgressBar,
) -> anyhow::Result<Span> {
    let mut raw = RawConnection::connect_with_headers(&settings.url).await?;
    let inbox = format!("_INBOX.{}", nuid::next());
    raw.subscribe(&[(inbox.clone(), None)]).await?;
    let prepared: Vec<PreparedPut> = objects
        .iter()
        .enumerate()
        .map(|(i, bytes)| PreparedPut::new(object::name(i as u64), bytes, &inbox))
        .collect();
    let mut acks = AckCheck {
        stream: stream_name(),
        last_seq: None,
    };
    let start = Instant::now();
    for object in &prepared {
        let meta = object.meta_frame(&inbox)?;
        let total = object.chunks + 1;
        let (mut sent, mut acked) = (0usize, 0usize);
        while acked < total {
            let room = (WINDOW - (sent - acked)).min(total - sent);
            if room > 0 {
                // Chunk frames are contiguous; the meta frame comes last.
                let chunks_end = (sent + room).min(object.chunks);
                if sent < chunks_end {
                    let from = if sent == 0 { 0 } else { object.ends[sent - 1] };
                    raw.write_all(&object.frames[from..object.ends[chunks_end - 1]])
                        .await?;
                }
                if sent + room > object.chunks {
                    raw.write_all(&meta).await?;
                }
                sent += room;
            }
            let payload = raw.next_message(WAIT, |m| m.payload.to_vec()).await?;
            acks.check(&payload)
                .with_context(|| format!("putting {}", object.name))?;
            acked += 1;
        }
        progress.inc(1);
    }
    Ok(Span {
        start,
        end: Instant::now(),
    })
}

/// The meta message's fields a get needs.
#[derive(Debug, serde::Deserialize)]
struct MetaInfo {
    name: String,
    nuid: String,
    size: usize,
    chunks: usize,
    #[serde(default)]
    deleted: bool,
}

/// Gets every object, one after another, comparing it with `objects`.
async fn get(
    settings: &ObjectSettings,
    objects: &[&[u8]],
    progress: &ProgressBar,
) -> anyhow::Result<Span> {
    let mut raw = RawConnection::connect_with_headers(&settings.url).await?;
    let api_inbox = format!("_INBOX.{}", nuid::next());
    let api_sid = raw.subscribe_one(&api_inbox).await?;
    let stream = stream_name();
    let start = Instant::now();
    let mut out = Vec::with_capacity(4096);
    for (i, expected) in objects.iter().enumerate() {
        let name = object::name(i as u64);
        // The meta message: a direct get of the last message on its subject (the bucket
        // allows direct gets, so async-nats asks this way).
        out.clear();
        let direct = format!("$JS.API.DIRECT.GET.{stream}.{}", meta_subject(&name));
        raw::encode_pub(&mut out, &direct, Some(&api_inbox), b"");
        raw.write_all(&out).await?;
        let info = loop {
            let reply = raw
                .next_message(WAIT, |m| -> anyhow::Result<Option<MetaInfo>> {
                    if m.sid != api_sid {
                        return Ok(None); // see `read_chunks`
                    }
                    if let Some(status) = m.status() {
                        bail!("direct get of {name}'s meta answered status {status}");
                    }
                    serde_json::from_slice(m.payload).context("malformed object info")
                })
                .await??;
            if let Some(info) = reply {
                break info;
            }
        };
        anyhow::ensure!(
            info.name == name && !info.deleted && info.size == expected.len(),
            "{name}'s meta says {info:?}"
        );
        let api = (api_inbox.as_str(), api_sid);
        read_chunks(&mut raw, api, &stream, &info, expected)
            .await
            .with_context(|| format!("getting {name}"))?;
        progress.inc(1);
    }
    raw.flush().await?;
    Ok(Span {
        start,
        end: Instant::now(),
    })
}

/// Reads the chunks of `info` through a new ordered push consumer, as async-nats does, and
/// compares them with `expected`; answers flow control, skips heartbeats, and unsubscribes
/// at the end (the server removes the consumer once inactive, as for async-nats).
async fn read_chunks(
    raw: &mut RawConnection,
    (api_inbox, api_sid): (&str, u64),
    stream: &str,
    info: &MetaInfo,
    expected: &[u8],
) -> anyhow::Result<()> {
    let deliver = format!("_INBOX.{}", nuid::next());
    let sid = raw.next_sid();
    let config = consumer::push::OrderedConfig {
        deliver_subject: deliver.clone(),
        filter_subject: format!("$O.{BUCKET}.C.{}", info.nuid),
        ..Default::default()
    }
    .into_consumer_config();
    let body = serde_json::json!({"stream_name": stream, "config": config, "action": ""});
    let mut out = format!("SUB {deliver} {sid}\r\n").into_bytes();
    raw::encode_pub(
        &mut out,
        &format!("$JS.API.CONSUMER.CREATE.{stream}"),
        Some(api_inbox),
        body.to_string().as_bytes(),
    );
    raw.write_all(&out).await?;
    let (mut created, mut chunks, mut offset) = (false, 0usize, 0usize);
    while !created || chunks < info.chunks {
        out.clear();
        raw.next_message(WAIT, |m| -> anyhow::Result<()> {
            if m.sid == api_sid {
                api_reply(m.payload).context("cannot create the ordered consumer")?;
                created = true;
                return Ok(());
            }
            if m.sid != sid {
                // A heartbeat or flow control request on an earlier object's subscription,
                // sent before the server saw its UNSUB: that consumer is done with.
                return Ok(());
            }
            match m.status() {
                // Flow control asks for a reply; an idle heartbeat has none.
                Some(100) => {
                    if let Some(reply) = m.reply {
                        out.extend_from_slice(b"PUB ");
                        out.extend_from_slice(reply);
                        out.extend_from_slice(b" 0\r\n\r\n");
                    }
                    return Ok(());
                }
                Some(status) => bail!("status {status} on the chunk subscription"),
                None => {}
            }
            let meta = m
                .reply
                .and_then(ack_metadata)
                .context("chunk without JetStream metadata")?;
            anyhow::ensure!(
                meta.consumer_seq == chunks as u64 + 1 && meta.delivered == 1,
                "chunk {} arrived as consumer sequence {} (delivery {})",
                chunks + 1,
                meta.consumer_seq,
                meta.delivered
            );
            let end = offset + m.payload.len();
            anyhow::ensure!(
                end <= expected.len() && m.payload == &expected[offset..end],
                "chunk {} differs from the object",
                chunks + 1
            );
            chunks += 1;
            offset = end;
            anyhow::ensure!(
                (meta.pending == 0) == (chunks == info.chunks),
                "{} chunks pending after {chunks} of {}",
                meta.pending,
                info.chunks
            );
            Ok(())
        })
        .await??;
        if !out.is_empty() {
            raw.write_all(&out).await?;
        }
    }
    anyhow::ensure!(
        offset == expected.len(),
        "{offset} bytes of {}",
        expected.len()
    );
    raw.write_all(format!("UNSUB {sid}\r\n").as_bytes()).await
}
