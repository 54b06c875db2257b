//! A minimal NATS client over plain TCP for the benchmark's hot paths.
//!
//! async-nats routes every publish through a channel to its connection task and every
//! delivery through a channel per subscription; at small payloads that, not the server, is
//! what a benchmark would measure. This client writes pre-encoded `PUB` frames in large
//! writes and counts `MSG` frames straight out of the read buffer, so the server is the
//! bottleneck. It speaks only plain TCP, with at most a user and password from the URL (what the benchmark needs).

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Upper bound on how long the handshake and the final PING/PONG may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Size of the encoded frame batch written per `write_all`.
const WRITE_BATCH: usize = 64 * 1024;

/// Free space guaranteed in the read buffer before each read. Without it `BytesMut` offers
/// `read_buf` only a few bytes once full, and large messages arrive 64 bytes per syscall.
const READ_SPACE: usize = 256 * 1024;

/// The CONNECT the raw client sends (then a PING): no echo suppression, no
/// acknowledgements; headers only when asked for, since most raw readers parse `MSG` alone.
fn connect_line(headers: bool, credentials: Option<(String, String)>) -> String {
    let mut json = serde_json::json!({
        "verbose": false, "pedantic": false, "tls_required": false,
        "name": "natrium bench", "lang": "rust", "version": "0.1.0",
        "protocol": 1, "echo": true, "headers": headers, "no_responders": false,
    });
    if let Some((user, pass)) = credentials {
        json["user"] = user.into();
        json["pass"] = pass.into();
    }
    format!("CONNECT {json}\r\nPING\r\n")
}

/// How a raw consumer gets its JetStream messages.
#[derive(Debug, Clone, Copy)]
pub enum RawFeed<'a> {
    /// Pull requests of `batch` for the consumer `consumer` of `stream`, at most
    /// `outstanding` at once (a new one each time a batch has arrived).
    Pull {
        /// Stream name.
        stream: &'a str,
        /// Durable pull consumer name.
        consumer: &'a str,
        /// Messages per request.
        batch: u64,
        /// Requests outstanding at once.
        outstanding: u64,
    },
    /// A push consumer delivering to a subject this connection already subscribed to.
    Push,
}

/// What a raw consumer reads, checks and acknowledges; see [`RawConnection::consume`].
#[derive(Debug, Clone, Copy)]
pub struct RawConsume {
    /// Messages to read.
    pub count: u64,
    /// Stream sequence of the first.
    pub first_seq: u64,
    /// Payload size of each.
    pub size: usize,
    /// Acknowledge each.
    pub ack: bool,
}

/// A connected, handshaken raw client.
pub struct RawConnection {
    stream: TcpStream,
    buffer: BytesMut,
    /// The last subscription id handed out.
    last_sid: u64,
}

/// One `MSG` or `HMSG` frame, borrowed from the read buffer; see
/// [`RawConnection::next_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// Subject it was published to.
    pub subject: &'a [u8],
    /// Subscription id it matched.
    pub sid: u64,
    /// Reply subject, if any.
    pub reply: Option<&'a [u8]>,
    /// The header block (`NATS/1.0…\r\n\r\n`) of an `HMSG`.
    pub headers: Option<&'a [u8]>,
    /// The payload.
    pub payload: &'a [u8],
}

impl Delivery<'_> {
    /// The status code of the header block's first line (`NATS/1.0 100 …`), if it has one.
    pub fn status(&self) -> Option<u16> {
        let headers = self.headers?;
        let line = headers.split(|b| *b == b'\r').next()?;
        let code = line.strip_prefix(b"NATS/1.0 ")?.get(..3)?;
        std::str::from_utf8(code).ok()?.parse().ok()
    }
}

/// The numbers of a JetStream delivery's `$JS.ACK` reply subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckMetadata {
    /// How often the message was delivered (1 the first time).
    pub delivered: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Messages still pending for the consumer after this one.
    pub pending: u64,
}

/// `nats://[user:password@]host:port` (or `host:port`) → `host:port`; TLS is not supported.
pub fn socket_address(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tcp://"))
        .unwrap_or(url);
    if url.contains("://") && !url.starts_with("nats://") && !url.starts_with("tcp://") {
        bail!("the raw benchmark client supports only nats:// URLs, not {url:?}");
    }
    // Credentials (`user:password@`) are sent in CONNECT, see [`RawConnection::connect`].
    let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
    let address = rest.split(',').next().unwrap_or(rest).trim_end_matches('/');
    if address.contains(':') {
        Ok(address.to_owned())
    } else {
        Ok(format!("{address}:4222"))
    }
}

impl RawConnection {
    /// Connects, reads INFO, sends CONNECT and waits for the PONG that proves the server
    /// accepted it.
    pub async fn connect(url: &str) -> anyhow::Result<RawConnection> {
        Self::connect_as(url, false).await
    }

    /// [`Self::connect`] saying `headers: true` in CONNECT: the server then accepts `HPUB`
    /// and delivers messages with headers as `HMSG` (read them with [`Self::next_message`]).
    pub async fn connect_with_headers(url: &str) -> anyhow::Result<RawConnection> {
        Self::connect_as(url, true).await
    }

    async fn connect_as(url: &str, headers: bool) -> anyhow::Result<RawConnection> {
        if crate::connect::settings().needs_full_client() {
            bail!(
                "the raw benchmark client does not support credentials or TLS; use --client nats"
            );
        }
        let address = socket_address(url)?;
        let stream = TcpStream::connect(&address)
            .await
            .with_context(|| format!("cannot connect to NATS server at {address}"))?;
        stream.set_nodelay(true)?;
        let mut connection = RawConnection {
            stream,
            buffer: BytesMut::with_capacity(READ_SPACE),
            last_sid: 0,
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            let info = connection.read_line().await?;
            if !info.starts_with("INFO ") {
                bail!("expected INFO from {address}, got {info:?}");
            }
            let line = connect_line(headers, crate::connect::url_credentials(url).1);
            connection.stream.write_all(line.as_bytes()).await?;
            connection.await_pong().await
        })
        .await
        .with_context(|| format!("handshake with {address} timed out"))??;
        Ok(connection)
    }

    /// A subscription id not used before on this connection, for a `SUB` the caller writes.
    pub fn next_sid(&mut self) -> u64 {
        self.last_sid += 1;
        self.last_sid
    }

    /// Sends `SUB` for each `(subject, queue)` with fresh sids (in order, from
    /// [`Self::next_sid`]) and waits until the server has registered them all (PING/PONG).
    pub async fn subscribe(
        &mut self,
        subscriptions: &[(String, Option<String>)],
    ) -> anyhow::Result<()> {
        let mut out = Vec::with_capacity(subscriptions.len() * 32);
        for (subject, queue) in subscriptions {
            let sid = self.next_sid();
            match queue {
                Some(queue) => {
                    out.extend_from_slice(format!("SUB {subject} {queue} {sid}\r\n").as_bytes())
                }
                None => out.extend_from_slice(format!("SUB {subject} {sid}\r\n").as_bytes()),
            }
        }
        out.extend_from_slice(b"PING\r\n");
        self.stream.write_all(&out).await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.await_pong())
            .await
            .context("the server did not confirm the subscriptions in time")?
    }

    /// Subscribes to `subject` (waiting until the server has registered it) and returns the
    /// subscription id its messages carry.
    pub async fn subscribe_one(&mut self, subject: &str) -> anyhow::Result<u64> {
        self.subscribe(&[(subject.to_owned(), None)]).await?;
        Ok(self.last_sid)
    }

    /// Publishes `count` messages cycling over `subjects`, then waits for the PONG that
    /// proves the server processed them all. `progress` is told every batch.
    pub async fn publish(
        &mut self,
        subjects: &[String],
        count: u64,
        payload: &[u8],
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<()> {
        if subjects.is_empty() {
            bail!("nothing to publish to: no subjects");
        }
        let cycle = FrameCycle::new(subjects, payload);
        let mut sent = 0u64;
        while sent < count {
            let frames = (count - sent).min(cycle.frames as u64) as usize;
            self.stream.write_all(cycle.prefix(frames)).await?;
            sent += frames as u64;
            progress(frames as u64);
        }
        self.stream.write_all(b"PING\r\n").await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.await_pong())
            .await
            .context("the server did not confirm the published messages in time")?
    }

    /// JetStream publish with acknowledgements: `count` publishes of `payload` on `subject`,
    /// all with one reply inbox (acks come back in order, so one inbox serves all),
    /// never more than `window` unacknowledged. Every ack must carry the next sequence from
    /// `first_seq`; an error ack fails the run. `progress` is told every batch of acks.
    pub async fn publish_acked(
        &mut self,
        subject: &str,
        count: u64,
        payload: &[u8],
        window: u64,
        first_seq: u64,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<()> {
        let inbox = format!("_INBOX.{}", nuid::next());
        self.subscribe(&[(inbox.clone(), None)]).await?;
        let mut frame = format!("PUB {subject} {inbox} {}\r\n", payload.len()).into_bytes();
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        let window = window.max(1);
        let batch = frame.repeat(window as usize);
        let (mut sent, mut acked) = (0u64, 0u64);
        let mut next_seq = first_seq;
        while acked < count {
            let room = (window - (sent - acked)).min(count - sent);
            if room > 0 {
                self.stream
                    .write_all(&batch[..frame.len() * room as usize])
                    .await?;
                sent += room;
            }
            let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.read_more())
                .await
                .context("no acknowledgement in time")??;
            if read == 0 {
                bail!("the server closed the connection");
            }
            let got = self.parse_acks(&mut next_seq).await?;
            acked += got;
            progress(got);
        }
        Ok(())
    }

    /// Consumes the complete ack `MSG` frames in the buffer, checking each carries
    /// `next_seq` (then advanced); answers PINGs. Returns the number of acks.
    async fn parse_acks(&mut self, next_seq: &mut u64) -> anyhow::Result<u64> {
        let mut acks = 0u64;
        let mut pings = 0usize;
        while let Some(line_end) = memchr::memmem::find(&self.buffer, b"\r\n") {
            let line = &self.buffer[..line_end];
            if line.starts_with(b"MSG ") {
                let size = line
                    .rsplit(|b| *b == b' ')
                    .next()
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.parse::<usize>().ok())
                    .with_context(|| {
                        format!("malformed MSG line {:?}", String::from_utf8_lossy(line))
                    })?;
                let frame = line_end + 2 + size + 2;
                if self.buffer.len() < frame {
                    break;
                }
                let ack = &self.buffer[line_end + 2..line_end + 2 + size];
                let seq = memchr::memmem::find(ack, b"\"seq\":")
                    .map(|at| &ack[at + 6..])
                    .map(|rest| {
                        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                        &rest[..digits]
                    })
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| d.parse::<u64>().ok());
                if seq != Some(*next_seq) {
                    bail!(
                        "expected an acknowledgement of sequence {next_seq}, got {:?}",
                        String::from_utf8_lossy(ack)
                    );
                }
                *next_seq += 1;
                self.buffer.advance(frame);
                acks += 1;
            } else {
                let text = String::from_utf8_lossy(line).into_owned();
                self.buffer.advance(line_end + 2);
                if text.starts_with("-ERR") {
                    bail!("server error: {text}");
                }
                if text == "PING" {
                    pings += 1;
                }
            }
        }
        for _ in 0..pings {
            self.stream.write_all(b"PONG\r\n").await?;
        }
        Ok(acks)
    }

    /// Reads `run.count` JetStream messages from `run.first_seq` on, fed as `feed` says.
    /// Every delivery must be the next stream sequence, delivered for the first time, with
    /// a payload of `run.size` bytes `b'n'` (what the benchmark fill stores); with `run.ack`
    /// each is acknowledged (an empty `+ACK` to its reply subject), the acks of one read
    /// written at once. Ends with a PING/PONG, so the server has every ack. `progress` is
    /// told after every read.
    pub async fn consume(
        &mut self,
        feed: RawFeed<'_>,
        run: RawConsume,
        mut progress: impl FnMut(u64),
    ) -> anyhow::Result<()> {
        // The pull request frame, its batch and how many may be outstanding.
        let pull = match feed {
            RawFeed::Pull {
                stream,
                consumer,
                batch,
                outstanding,
            } => {
                let inbox = format!("_INBOX.{}", nuid::next());
                self.subscribe(&[(inbox.clone(), None)]).await?;
                let body = format!("{{\"batch\":{batch}}}");
                let request = format!(
                    "PUB $JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer} {inbox} {}\r\n{body}\r\n",
                    body.len()
                );
                Some((request, batch, outstanding))
            }
            RawFeed::Push => None,
        };
        let (mut requested, mut received) = (0u64, 0u64);
        let mut next_seq = run.first_seq;
        let mut out = Vec::with_capacity(WRITE_BATCH);
        while received < run.count {
            if let Some((request, batch, outstanding)) = &pull {
                while requested < run.count && requested - received < batch * outstanding {
                    out.extend_from_slice(request.as_bytes());
                    requested += batch;
                }
            }
            if !out.is_empty() {
                self.stream.write_all(&out).await?;
                out.clear();
            }
            let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.read_more())
                .await
                .context("no message in time")??;
            if read == 0 {
                bail!("the server closed the connection");
            }
            let got = self.parse_deliveries(&mut next_seq, run.size, run.ack, &mut out)?;
            received += got;
            progress(got);
        }
        out.extend_from_slice(b"PING\r\n");
        self.stream.write_all(&out).await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.await_pong())
            .await
            .context("the server did not confirm the acknowledgements in time")?
    }

    /// Consumes the complete JetStream deliveries in the buffer (see [`Self::consume`]
    /// for the checks), appending to `out` an ack frame per message when `ack`, and a PONG
    /// per PING. Returns the number of messages.
    fn parse_deliveries(
        &mut self,
        next_seq: &mut u64,
        size: usize,
        ack: bool,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<u64> {
        let mut msgs = 0u64;
        while let Some(line_end) = memchr::memmem::find(&self.buffer, b"\r\n") {
            let line = &self.buffer[..line_end];
            if !line.starts_with(b"MSG ") {
                let text = String::from_utf8_lossy(line).into_owned();
                self.buffer.advance(line_end + 2);
                if text.starts_with("-ERR") {
                    bail!("server error: {text}");
                }
                if text == "PING" {
                    out.extend_from_slice(b"PONG\r\n");
                }
                continue;
            }
            let malformed = || format!("malformed MSG line {:?}", String::from_utf8_lossy(line));
            // MSG <subject> <sid> <reply> <size>
            let mut fields = line.split(|b| *b == b' ').skip(3);
            let reply = fields.next().with_context(malformed)?;
            let len: usize = fields
                .next()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse().ok())
                .with_context(malformed)?;
            let frame = line_end + 2 + len + 2;
            if self.buffer.len() < frame {
                break;
            }
            let (delivered, seq) = ack_numbers(reply).with_context(malformed)?;
            anyhow::ensure!(
                seq == *next_seq && delivered == 1,
                "got stream sequence {seq} (delivery {delivered}), expected {next_seq} (delivery 1)"
            );
            let payload = &self.buffer[line_end + 2..line_end + 2 + len];
            anyhow::ensure!(
                len == size && payload.iter().all(|&b| b == b'n'),
                "message {seq} has a wrong payload"
            );
            if ack {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(reply);
                out.extend_from_slice(b" 0\r\n\r\n");
            }
            *next_seq += 1;
            msgs += 1;
            self.buffer.advance(frame);
        }
        Ok(msgs)
    }

    /// Reads `MSG` frames, calling `on_batch(messages, payload_bytes)` after each read, until
    /// `on_batch` returns `false`, `done` fires, the connection closes, or nothing arrives for `first_wait`
    /// (before the first message) or `idle` (after it). Returns `Ok(())` in all those cases;
    /// the caller compares counts.
    pub async fn receive(
        &mut self,
        first_wait: Duration,
        idle: Duration,
        done: &tokio_util::sync::CancellationToken,
        mut on_batch: impl FnMut(u64, u64) -> bool,
    ) -> anyhow::Result<()> {
        let mut wait = first_wait;
        loop {
            let (msgs, bytes) = self.parse_messages().await?;
            if msgs > 0 {
                wait = idle;
                if !on_batch(msgs, bytes) {
                    return Ok(());
                }
            }
            let read = tokio::select! {
                biased;
                _ = done.cancelled() => return Ok(()),
                read = tokio::time::timeout(wait, self.read_more()) => read,
            };
            match read {
                Err(_) | Ok(Ok(0)) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(err)) => return Err(err.into()),
            }
        }
    }

    /// Consumes every complete frame in the buffer, answering PINGs; returns the number of
    /// MSG frames and their payload bytes.
    async fn parse_messages(&mut self) -> anyhow::Result<(u64, u64)> {
        let mut msgs = 0u64;
        let mut bytes = 0u64;
        let mut pings = 0usize;
        while let Some(line_end) = memchr::memmem::find(&self.buffer, b"\r\n") {
            let line = &self.buffer[..line_end];
            if line.starts_with(b"MSG ") {
                let size = line
                    .rsplit(|b| *b == b' ')
                    .next()
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.parse::<usize>().ok())
                    .with_context(|| {
                        format!("malformed MSG line {:?}", String::from_utf8_lossy(line))
                    })?;
                let frame = line_end + 2 + size + 2;
                if self.buffer.len() < frame {
                    break;
                }
                self.buffer.advance(frame);
                msgs += 1;
                bytes += size as u64;
            } else {
                let text = String::from_utf8_lossy(line).into_owned();
                self.buffer.advance(line_end + 2);
                if text.starts_with("-ERR") {
                    bail!("server error: {text}");
                }
                if text == "PING" {
                    pings += 1;
                }
            }
        }
        for _ in 0..pings {
            self.stream.write_all(b"PONG\r\n").await?;
        }
        Ok((msgs, bytes))
    }

    /// Writes pre-encoded frames as they are.
    pub async fn write_all(&mut self, frames: &[u8]) -> anyhow::Result<()> {
        Ok(self.stream.write_all(frames).await?)
    }

    /// Waits (PING/PONG) until the server has processed everything written so far.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        self.stream.write_all(b"PING\r\n").await?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.await_pong())
            .await
            .context("the server did not answer PING in time")?
    }

    /// Reads the next `MSG` or `HMSG` frame and hands it to `take` (borrowed from the read
    /// buffer, so large payloads are not copied); answers PINGs, skips other control lines
    /// and fails on `-ERR`, on a closed connection or when nothing arrives for `wait`.
    pub async fn next_message<R>(
        &mut self,
        wait: Duration,
        take: impl FnOnce(Delivery<'_>) -> R,
    ) -> anyhow::Result<R> {
        loop {
            match parse_frame(&self.buffer)? {
                Frame::Message { delivery, len } => {
                    let result = take(delivery);
                    self.buffer.advance(len);
                    return Ok(result);
                }
                Frame::Control { line, len } => {
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.buffer.advance(len);
                    if text.starts_with("-ERR") {
                        bail!("server error: {text}");
                    }
                    if text == "PING" {
                        self.stream.write_all(b"PONG\r\n").await?;
                    }
                }
                Frame::Incomplete => {
                    let read = tokio::time::timeout(wait, self.read_more())
                        .await
                        .context("no message in time")??;
                    if read == 0 {
                        bail!("the server closed the connection");
                    }
                }
            }
        }
    }

    /// Reads whatever the socket has into the buffer, with room for at least [`READ_SPACE`].
    async fn read_more(&mut self) -> std::io::Result<usize> {
        self.buffer.reserve(READ_SPACE);
        self.stream.read_buf(&mut self.buffer).await
    }

    /// Reads one control line (without `\r\n`).
    async fn read_line(&mut self) -> anyhow::Result<String> {
        loop {
            if let Some(end) = memchr::memmem::find(&self.buffer, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.advance(end + 2);
                return Ok(line);
            }
            if self.read_more().await? == 0 {
                bail!("the server closed the connection");
            }
        }
    }

    /// Reads control lines until PONG, answering PINGs and failing on `-ERR`.
    async fn await_pong(&mut self) -> anyhow::Result<()> {
        loop {
            let line = self.read_line().await?;
            match line.as_str() {
                "PONG" => return Ok(()),
                "PING" => self.stream.write_all(b"PONG\r\n").await?,
                l if l.starts_with("-ERR") => bail!("server error: {l}"),
                _ => {}
            }
        }
    }
}

/// What [`parse_frame`] found at the start of the read buffer.
enum Frame<'a> {
    /// A whole `MSG`/`HMSG` frame of `len` bytes.
    Message { delivery: Delivery<'a>, len: usize },
    /// A control line (without `\r\n`) of `len` bytes with its `\r\n`.
    Control { line: &'a [u8], len: usize },
    /// Not a whole frame yet.
    Incomplete,
}

/// Parses the frame at the start of `buffer`:
/// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <header size>
/// <total size>`, each followed by its bytes and `\r\n`.
fn parse_frame(buffer: &[u8]) -> anyhow::Result<Frame<'_>> {
    let Some(line_end) = memchr::memmem::find(buffer, b"\r\n") else {
        return Ok(Frame::Incomplete);
    };
    let line = &buffer[..line_end];
    let with_headers = line.starts_with(b"HMSG ");
    if !with_headers && !line.starts_with(b"MSG ") {
        return Ok(Frame::Control {
            line,
            len: line_end + 2,
        });
    }
    let malformed = || format!("malformed message line {:?}", String::from_utf8_lossy(line));
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').skip(1).collect();
    let number = |field: &[u8]| -> Option<usize> { std::str::from_utf8(field).ok()?.parse().ok() };
    // Subject, sid, optional reply, then one size (MSG) or two (HMSG).
    let sizes = if with_headers { 2 } else { 1 };
    anyhow::ensure!(
        fields.len() == 2 + sizes || fields.len() == 3 + sizes,
        "{}",
        malformed()
    );
    let reply = (fields.len() == 3 + sizes).then(|| fields[2]);
    let total = number(fields[fields.len() - 1]).with_context(malformed)?;
    let header_len = if with_headers {
        number(fields[fields.len() - 2]).with_context(malformed)?
    } else {
        0
    };
    anyhow::ensure!(header_len <= total, "{}", malformed());
    let sid = number(fields[1]).with_context(malformed)? as u64;
    let len = line_end + 2 + total + 2;
    if buffer.len() < len {
        return Ok(Frame::Incomplete);
    }
    let body = &buffer[line_end + 2..line_end + 2 + total];
    anyhow::ensure!(
        &buffer[len - 2..len] == b"\r\n",
        "message without its closing CRLF after {}",
        String::from_utf8_lossy(line)
    );
    Ok(Frame::Message {
        delivery: Delivery {
            subject: fields[0],
            sid,
            reply,
            headers: with_headers.then(|| &body[..header_len]),
            payload: &body[header_len..],
        },
        len,
    })
}

/// Appends a `PUB` frame.
pub fn encode_pub(out: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(reply) = reply {
        out.push(b' ');
        out.extend_from_slice(reply.as_bytes());
    }
    out.extend_from_slice(format!(" {}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Appends an `HPUB` frame whose header block is `NATS/1.0` and the `(name, value)` pairs
/// (the connection must have been opened with [`RawConnection::connect_with_headers`]).
pub fn encode_hpub(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    headers: &[(&str, &str)],
    payload: &[u8],
) {
    let mut block = b"NATS/1.0\r\n".to_vec();
    for (name, value) in headers {
        block.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    block.extend_from_slice(b"\r\n");
    out.extend_from_slice(b"HPUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(reply) = reply {
        out.push(b' ');
        out.extend_from_slice(reply.as_bytes());
    }
    out.extend_from_slice(
        format!(" {} {}\r\n", block.len(), block.len() + payload.len()).as_bytes(),
    );
    out.extend_from_slice(&block);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The numbers of a `$JS.ACK` reply subject, in its v1 form
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`) or its v2 form
/// (with domain and account hash after `$JS.ACK`, and an optional token at the end).
pub fn ack_metadata(reply: &[u8]) -> Option<AckMetadata> {
    let tokens: Vec<&[u8]> = reply.split(|b| *b == b'.').collect();
    let first = match tokens.len() {
        9 => 4,
        11 | 12 => 6,
        _ => return None,
    };
    if tokens[..2] != [&b"$JS"[..], &b"ACK"[..]] {
        return None;
    }
    let number = |i: usize| std::str::from_utf8(tokens[i]).ok()?.parse().ok();
    Some(AckMetadata {
        delivered: number(first)?,
        stream_seq: number(first + 1)?,
        consumer_seq: number(first + 2)?,
        pending: number(first + 4)?,
    })
}

/// The delivery count and stream sequence of a `$JS.ACK` reply subject.
fn ack_numbers(reply: &[u8]) -> Option<(u64, u64)> {
    ack_metadata(reply).map(|m| (m.delivered, m.stream_seq))
}

/// `PUB` frames for a repeating cycle of subjects, encoded once; a prefix of the cycle is
/// a whole number of frames.
struct FrameCycle {
    bytes: Vec<u8>,
    /// End offset of each frame in `bytes`.
    ends: Vec<usize>,
    frames: usize,
}

impl FrameCycle {
    fn new(subjects: &[String], payload: &[u8]) -> FrameCycle {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        // Repeat the subject list until one cycle fills a write batch.
        while bytes.len() < WRITE_BATCH || ends.len() % subjects.len() != 0 {
            let subject = &subjects[ends.len() % subjects.len()];
            bytes.extend_from_slice(format!("PUB {subject} {}\r\n", payload.len()).as_bytes());
            bytes.extend_from_slice(payload);
            bytes.extend_from_slice(b"\r\n");
            ends.push(bytes.len());
        }
        let frames = ends.len();
        FrameCycle {
            bytes,
            ends,
            frames,
        }
    }

    fn prefix(&self, frames: usize) -> &[u8] {
        &self.bytes[..self.ends[frames - 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            socket_address("nats://127.0.0.1:4222").unwrap(),
            "127.0.0.1:4222"
        );
        assert_eq!(socket_address("localhost").unwrap(), "localhost:4222");
        // Credentials go into CONNECT, not the address.
        assert_eq!(
            socket_address("nats://u:p@localhost:4222").unwrap(),
            "localhost:4222"
        );
        assert_eq!(
            crate::connect::url_credentials("nats://u:p@localhost:4222"),
            (
                "nats://localhost:4222".to_owned(),
                Some(("u".to_owned(), "p".to_owned()))
            )
        );
        assert_eq!(
            crate::connect::url_credentials("nats://localhost:4222"),
            ("nats://localhost:4222".to_owned(), None)
        );
        assert!(socket_address("tls://localhost:4222").is_err());
    }

    #[test]
    fn ack_subjects_give_delivery_count_and_stream_sequence() {
        assert_eq!(
            ack_numbers(b"$JS.ACK.S.C.1.42.42.1700000000.7"),
            Some((1, 42))
        );
        assert_eq!(
            ack_numbers(b"$JS.ACK.hub.ACCHASH.S.C.3.9.8.1700000000.0.tok"),
            Some((3, 9))
        );
        assert_eq!(ack_numbers(b"$JS.ACK.S.C.x.42.42.1.7"), None);
        assert_eq!(ack_numbers(b"_INBOX.a.b.c.d.e.f.g.h"), None);
    }

    #[test]
    fn ack_metadata_reads_every_number() {
        assert_eq!(
            ack_metadata(b"$JS.ACK.OBJ_B.C.1.17.3.1700000000.61"),
            Some(AckMetadata {
                delivered: 1,
                stream_seq: 17,
                consumer_seq: 3,
                pending: 61
            })
        );
        assert_eq!(
            ack_metadata(b"$JS.ACK.hub.ACCHASH.S.C.2.9.8.1700000000.0"),
            Some(AckMetadata {
                delivered: 2,
                stream_seq: 9,
                consumer_seq: 8,
                pending: 0
            })
        );
        assert_eq!(ack_metadata(b"$JS.ACK.S.C.1.2.3.4.x"), None);
    }

    #[test]
    fn pub_and_hpub_frames() {
        let mut out = Vec::new();
        encode_pub(&mut out, "a.b", Some("_INBOX.1"), b"xyz");
        encode_pub(&mut out, "c", None, b"");
        assert_eq!(out, b"PUB a.b _INBOX.1 3\r\nxyz\r\nPUB c 0\r\n\r\n");
        let mut out = Vec::new();
        encode_hpub(&mut out, "m", Some("r"), &[("Nats-Rollup", "sub")], b"{}");
        let block = "NATS/1.0\r\nNats-Rollup: sub\r\n\r\n";
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "HPUB m r {} {}\r\n{block}{{}}\r\n",
                block.len(),
                block.len() + 2
            )
        );
    }

    #[test]
    fn msg_and_hmsg_frames_parse() {
        let Frame::Message { delivery, len } =
            parse_frame(b"MSG a.b 7 _INBOX.x 3\r\nxyz\r\nPING\r\n").unwrap()
        else {
            panic!("a whole MSG");
        };
        assert_eq!(len, "MSG a.b 7 _INBOX.x 3\r\nxyz\r\n".len());
        assert_eq!(
            delivery,
            Delivery {
                subject: b"a.b",
                sid: 7,
                reply: Some(b"_INBOX.x"),
                headers: None,
                payload: b"xyz",
            }
        );
        assert_eq!(delivery.status(), None);

        let block = "NATS/1.0 100 Idle Heartbeat\r\n\r\n";
        let heartbeat = format!("HMSG in 2 {0} {0}\r\n{block}\r\n", block.len());
        let heartbeat = heartbeat.as_bytes();
        let Frame::Message { delivery, len } = parse_frame(heartbeat).unwrap() else {
            panic!("a whole HMSG");
        };
        assert_eq!(len, heartbeat.len());
        assert_eq!(delivery.reply, None);
        assert_eq!(delivery.payload, b"");
        assert_eq!(delivery.status(), Some(100));

        let found = b"HMSG in 1 r 28 30\r\nNATS/1.0\r\nNats-Stream: S\r\n\r\nhi\r\n";
        let Frame::Message { delivery, .. } = parse_frame(found).unwrap() else {
            panic!("a whole HMSG");
        };
        assert_eq!(delivery.reply, Some(&b"r"[..]));
        assert_eq!(delivery.payload, b"hi");
        assert_eq!(delivery.status(), None);

        // Half a frame, a control line, and garbage.
        assert!(matches!(
            parse_frame(b"MSG a 1 5\r\nxy").unwrap(),
            Frame::Incomplete
        ));
        assert!(matches!(
            parse_frame(b"MSG a 1").unwrap(),
            Frame::Incomplete
        ));
        assert!(matches!(
            parse_frame(b"PING\r\n").unwrap(),
            Frame::Control {
                line: b"PING",
                len: 6
            }
        ));
        assert!(parse_frame(b"MSG a 1 x\r\n").is_err());
        assert!(parse_frame(b"HMSG a 1 9 3\r\nabc\r\n").is_err());
        assert!(parse_frame(b"MSG a 1 3\r\nabcde").is_err());
    }

    #[test]
    fn frame_cycle_is_whole_frames() {
        let subjects = vec!["a".to_owned(), "bb".to_owned()];
        let cycle = FrameCycle::new(&subjects, b"xy");
        assert!(cycle.bytes.len() >= WRITE_BATCH);
        assert_eq!(cycle.frames % 2, 0);
        assert_eq!(cycle.prefix(2), b"PUB a 2\r\nxy\r\nPUB bb 2\r\nxy\r\n");
    }
}
