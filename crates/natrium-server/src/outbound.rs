//! A connection's outbound side: the byte buffer other tasks append to, and the writer task
//! that drains it to the socket.
//!
//! Publishers append `MSG` frames straight into a subscriber's buffer under a short mutex and
//! remember that they touched it; once per read batch they wake the writer (see
//! [`Outbound::append`]'s return value). The writer swaps the buffer for an empty spare and
//! writes the whole batch at once, so a burst of small messages becomes one large write and
//! no delivery allocates.
//!
//! The buffer is bounded: a subscriber whose queued bytes would exceed `max_pending` is a slow
//! consumer and is cut off instead of growing memory. Before that, once its queued bytes pass
//! three quarters of `max_pending`, publishers briefly wait for its writer to make progress
//! (see [`Outbound::stalling`]), as nats-server stalls fast producers: a subscriber that keeps
//! reading is then never cut off just because its producer is faster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// The writer's initial buffer size; it grows with bursts and is kept for reuse.
const INITIAL_CAPACITY: usize = 32 * 1024;
/// A spare buffer larger than this is given back after a burst, so an idle connection does not
/// keep megabytes reserved.
const SHRINK_ABOVE: usize = 4 * 1024 * 1024;

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Queued; the writer already has a wake-up scheduled by someone.
    Queued,
    /// Queued; the caller must call [`Outbound::wake`] (once, at the end of its batch).
    QueuedWakeNeeded,
    /// Not queued: the connection is closing or closed.
    Closed,
    /// Not queued: this append would exceed `max_pending`; the caller must close the
    /// connection as a slow consumer.
    SlowConsumer,
}

#[derive(Debug)]
struct State {
    buf: BytesMut,
    /// Bytes queued but not yet written: in `buf` plus the writer's current write.
    pending: usize,
    /// Someone has promised to wake the writer for what is in `buf`.
    wake_scheduled: bool,
    /// No more appends are accepted; the writer flushes what is queued and stops.
    closing: bool,
    /// Messages and bytes of delivered messages (counted here because we hold the lock anyway).
    out_msgs: u64,
    out_bytes: u64,
}

/// Outbound counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OutboundStats {
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub pending_bytes: usize,
}

/// The shared outbound buffer of one connection.
#[derive(Debug)]
pub(crate) struct Outbound {
    state: Mutex<State>,
    notify: Notify,
    max_pending: usize,
    /// Queued bytes above which publishers should wait for the writer (3/4 of max_pending).
    stall_at: usize,
    /// Queued bytes are above `stall_at`: read without the lock on the delivery path.
    stalling: AtomicBool,
    /// A publisher waited for this writer in vain: nobody waits again until it makes
    /// progress (a stuck consumer costs publishers one short wait, then is cut at max_pending).
    stuck: AtomicBool,
    /// Signalled whenever the writer wrote something or stopped.
    progress: Notify,
}

impl Outbound {
    pub(crate) fn new(max_pending: usize) -> Self {
        Outbound {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(INITIAL_CAPACITY),
                pending: 0,
                wake_scheduled: false,
                closing: false,
                out_msgs: 0,
                out_bytes: 0,
            }),
            notify: Notify::new(),
            max_pending,
            stall_at: max_pending / 4 * 3,
            stalling: AtomicBool::new(false),
            stuck: AtomicBool::new(false),
            progress: Notify::new(),
        }
    }

    /// Appends the frame `write` produces.
    ///
    /// `message_bytes` is the size counted as delivered message bytes (`None` for protocol
    /// lines). The frame is only kept when it fits within `max_pending`.
    pub(crate) fn append(
        &self,
        message_bytes: Option<usize>,
        write: impl FnOnce(&mut BytesMut),
    ) -> Appended {
        let mut st = self.state.lock();
        if st.closing {
            return Appended::Closed;
        }
        let before = st.buf.len();
        write(&mut st.buf);
        let len = st.buf.len() - before;
        if st.pending + len > self.max_pending {
            st.buf.truncate(before);
            return Appended::SlowConsumer;
        }
        st.pending += len;
        if st.pending > self.stall_at {
            self.stalling.store(true, Ordering::Relaxed);
        }
        if let Some(bytes) = message_bytes {
            st.out_msgs += 1;
            st.out_bytes += bytes as u64;
        }
        if st.wake_scheduled {
            Appended::Queued
        } else {
            st.wake_scheduled = true;
            Appended::QueuedWakeNeeded
        }
    }

    /// Appends a protocol line (`PONG`, `+OK`, `-ERR ...`) and wakes the writer if needed.
    pub(crate) fn send_now(&self, bytes: &[u8]) -> Appended {
        let res = self.append(None, |b| b.extend_from_slice(bytes));
        if res == Appended::QueuedWakeNeeded {
            self.wake();
        }
        res
    }

    /// Wakes the writer.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Accepts no more appends; the writer writes what is queued, then stops.
    pub(crate) fn close(&self) {
        self.state.lock().closing = true;
        self.notify.notify_one();
        self.progress.notify_waiters();
    }

    /// Whether publishers should wait (see [`Outbound::wait_for_progress`]) before adding
    /// more: the queued bytes are above three quarters of `max_pending` and the writer is not
    /// known to be stuck.
    pub(crate) fn stalling(&self) -> bool {
        self.stalling.load(Ordering::Relaxed) && !self.stuck.load(Ordering::Relaxed)
    }

    /// Waits until the writer has written something, for at most `cap`. Returns `false` when
    /// it made no progress in that time (a stuck consumer: stop waiting for it) or the
    /// connection is closing.
    pub(crate) async fn wait_for_progress(&self, cap: Duration) -> bool {
        let progress = self.progress.notified();
        tokio::pin!(progress);
        // Registered before checking, so progress made right after the check is not missed.
        progress.as_mut().enable();
        if !self.stalling() {
            return true;
        }
        if self.state.lock().closing {
            return false;
        }
        let progressed = tokio::time::timeout(cap, progress).await.is_ok();
        if !progressed {
            self.stuck.store(true, Ordering::Relaxed);
        }
        progressed
    }

    /// Current counters.
    pub(crate) fn stats(&self) -> OutboundStats {
        let st = self.state.lock();
        OutboundStats {
            out_msgs: st.out_msgs,
            out_bytes: st.out_bytes,
            pending_bytes: st.pending,
        }
    }

    /// Accounts `n` bytes written and tells stalled publishers.
    fn written(&self, n: usize) {
        let mut st = self.state.lock();
        st.pending -= n;
        if st.pending <= self.stall_at {
            self.stalling.store(false, Ordering::Relaxed);
        }
        drop(st);
        if self.stuck.load(Ordering::Relaxed) {
            self.stuck.store(false, Ordering::Relaxed);
        }
        self.progress.notify_waiters();
    }

    /// Writes queued bytes to `sink` until [`Outbound::close`] is called and everything queued
    /// is written. Returns an error when a write fails or takes longer than `write_deadline`.
    pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
        &self,
        sink: &mut W,
        write_deadline: Duration,
    ) -> Result<(), WriteError> {
        let mut spare = BytesMut::with_capacity(INITIAL_CAPACITY);
        loop {
            let closing = {
                let mut st = self.state.lock();
                std::mem::swap(&mut st.buf, &mut spare);
                st.wake_scheduled = false;
                st.closing
            };
            if spare.is_empty() {
                if closing {
                    return Ok(());
                }
                self.notify.notified().await;
                continue;
            }
            let written = spare.len();
            // Each piece the socket takes is accounted at once, so stalled publishers see the
            // consumer's progress while a large batch is still being written.
            let write = async {
                let mut done = 0;
                while done < written {
                    let n = sink.write(&spare[done..]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    done += n;
                    self.written(n);
                }
                // A TLS stream may hold encrypted bytes back until flushed; for a TCP socket
                // this is a no-op.
                sink.flush().await
            };
            let result = tokio::time::timeout(write_deadline, write).await;
            if !matches!(result, Ok(Ok(()))) {
                // Nobody waits for a writer that stopped.
                self.stalling.store(false, Ordering::Relaxed);
                self.progress.notify_waiters();
            }
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(WriteError::Io(e)),
                Err(_) => return Err(WriteError::Deadline),
            }
            spare.clear();
            // Keep a large buffer while bursts continue (regrowing it costs page faults and
            // copies); give it back once a write is small compared to it.
            if spare.capacity() > SHRINK_ABOVE && written < spare.capacity() / 16 {
                spare = BytesMut::with_capacity(INITIAL_CAPACITY);
            }
        }
    }
}

/// Why the writer stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The socket failed.
    #[error("write error: {0}")]
    Io(#[from] std::io::Error),
    /// A write did not complete within the write deadline.
    #[error("write deadline exceeded")]
    Deadline,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_schedules_one_wake_until_the_writer_takes_the_buffer() {
        let out = Outbound::new(1024);
        assert_eq!(
            out.append(Some(3), |b| b.extend_from_slice(b"abc")),
            Appended::QueuedWakeNeeded
        );
        assert_eq!(
            out.append(Some(3), |b| b.extend_from_slice(b"def")),
            Appended::Queued
        );
        let stats = out.stats();
        assert_eq!(
            (stats.out_msgs, stats.out_bytes, stats.pending_bytes),
            (2, 6, 6)
        );
    }

    #[test]
    fn append_beyond_max_pending_is_a_slow_consumer_and_queues_nothing() {
        let out = Outbound::new(8);
        assert_eq!(
            out.append(None, |b| b.extend_from_slice(b"123456")),
            Appended::QueuedWakeNeeded
        );
        assert_eq!(
            out.append(None, |b| b.extend_from_slice(b"789")),
            Appended::SlowConsumer
        );
        assert_eq!(out.stats().pending_bytes, 6);
    }

    #[test]
    fn closed_outbound_refuses_appends() {
        let out = Outbound::new(8);
        out.close();
        assert_eq!(out.send_now(b"x"), Appended::Closed);
    }

    #[tokio::test]
    async fn publishers_are_asked_to_wait_above_three_quarters_until_the_writer_drains() {
        let out = Outbound::new(8);
        out.send_now(b"123456");
        assert!(!out.stalling(), "6 of 8 bytes is not above 3/4");
        out.send_now(b"7");
        assert!(out.stalling());
        out.close();
        let mut sink = Vec::new();
        out.run_writer(&mut sink, Duration::from_secs(1))
            .await
            .expect("write to a Vec");
        assert!(!out.stalling());
        assert!(out.wait_for_progress(Duration::from_secs(1)).await);
    }

    #[tokio::test]
    async fn nobody_waits_for_a_closed_or_stuck_writer() {
        let closed = Outbound::new(8);
        closed.send_now(b"1234567");
        closed.close();
        assert!(!closed.wait_for_progress(Duration::from_secs(60)).await);

        let stuck = Outbound::new(8);
        stuck.send_now(b"1234567");
        assert!(!stuck.wait_for_progress(Duration::from_millis(1)).await);
        assert!(
            !stuck.stalling(),
            "given up on until its writer makes progress"
        );
    }

    #[tokio::test]
    async fn writer_drains_everything_queued_before_close() {
        let out = Outbound::new(1024);
        out.send_now(b"PING\r\n");
        out.send_now(b"PONG\r\n");
        out.close();
        let mut sink = Vec::new();
        out.run_writer(&mut sink, Duration::from_secs(1))
            .await
            .expect("write to a Vec");
        assert_eq!(sink, b"PING\r\nPONG\r\n");
        assert_eq!(out.stats().pending_bytes, 0);
    }
}
