//! Spinning briefly before a runtime thread sleeps, while watching the client sockets.
//!
//! On a virtual machine, waking a thread whose vCPU has halted costs tens of microseconds,
//! which dominates a request/reply round trip on an otherwise idle server. nats-server's Go
//! scheduler avoids it by spinning (and checking its poller) before it sleeps. This does the
//! same for a tokio runtime the server binary owns: its `on_thread_park` hook calls
//! [`before_park`], which polls a second epoll set holding every client socket until one is
//! readable, a task is waiting in the runtime's injection queue or the spin time is over.
//! Because the spin ends as soon as there is work, it adds no latency; it only keeps the vCPU
//! awake for the next message. After its first 50 µs it yields the core between polls, so a
//! client or the other runtime thread that is ready to run gets it at once: the rest of the
//! spin takes no time from anyone, and can be long enough (250 µs in all) to bridge a
//! client's pause between a reply and its next request, such as hashing the next object
//! store chunk. It costs CPU only after activity: an idle server parks once and stays
//! parked.
//!
//! Process-wide, like the runtime hook it serves; [`install`] turns it on (the binary does,
//! an embedding program may), and without it [`watch`] does nothing.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::event::epoll;

/// How long the `natrium-server` binary's threads spin before sleeping, by default.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(250);

/// How long a spin keeps its core before it starts yielding it. A client streaming small
/// messages pauses only briefly; keeping the core through such pauses (as before yielding
/// was added) lets its writes coalesce instead of being read a few messages at a time by a
/// server that shares its core.
const KEEP_CORE: Duration = Duration::from_micros(50);

struct BusyPoll {
    /// Level-triggered read interest in every client socket.
    epoll: OwnedFd,
    spin: Duration,
}

static BUSY_POLL: OnceLock<BusyPoll> = OnceLock::new();

/// Turns busy polling on for this process with the given spin time. Call before the server
/// accepts clients and install [`before_park`] as the runtime's `on_thread_park` hook. A
/// second call keeps the first setting.
pub fn install(spin: Duration) -> std::io::Result<()> {
    if BUSY_POLL.get().is_some() {
        return Ok(());
    }
    let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let _ = BUSY_POLL.set(BusyPoll { epoll, spin });
    Ok(())
}

/// The environment variable that sets the spin time in microseconds (`0` turns it off).
pub const SPIN_ENV: &str = "NATRIUM_SPIN_US";

/// [`install`] with the spin time from [`SPIN_ENV`], else [`DEFAULT_SPIN`]; nothing when it is
/// zero. What the server binaries call before building their runtime. An unreadable value is
/// an error (and nothing is installed).
pub fn install_from_env() -> std::io::Result<()> {
    let spin = spin_setting(std::env::var(SPIN_ENV).ok().as_deref())?;
    if spin.is_zero() {
        return Ok(());
    }
    install(spin)
}

fn spin_setting(value: Option<&str>) -> std::io::Result<Duration> {
    match value {
        None => Ok(DEFAULT_SPIN),
        Some(text) => text.trim().parse().map(Duration::from_micros).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{SPIN_ENV} must be a whole number of microseconds, not {text:?}"),
            )
        }),
    }
}

/// Adds a client socket to the watched set (a closed socket leaves it by itself).
pub(crate) fn watch(socket: &impl AsFd) {
    if let Some(bp) = BUSY_POLL.get()
        && let Err(err) = epoll::add(
            &bp.epoll,
            socket,
            epoll::EventData::new_u64(0),
            epoll::EventFlags::IN,
        )
    {
        // Only the spin is lost for this socket; the connection works as before.
        tracing::debug!("busy poll: cannot watch a client socket: {err}");
    }
}

/// The runtime's `on_thread_park` hook: spins until a watched socket is readable, a task
/// waits in the runtime's injection queue or the spin time has passed. Does nothing unless
/// [`install`] was called.
pub fn before_park() {
    let Some(bp) = BUSY_POLL.get() else {
        return;
    };
    let start = Instant::now();
    let deadline = start + bp.spin;
    let keep_core_until = start + KEEP_CORE;
    // Tasks woken from outside the runtime's threads wait in its injection queue; while this
    // thread spins, tokio does not count it as parked, so nothing would wake it for them.
    let runtime = tokio::runtime::Handle::try_current().ok();
    let mut events = [MaybeUninit::<epoll::Event>::uninit(); 1];
    let no_wait = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match epoll::wait(&bp.epoll, &mut events[..], Some(&no_wait)) {
            Ok((ready, _)) if !ready.is_empty() => return,
            Ok(_) => {}
            // Not expected; sleeping at once is always correct.
            Err(_) => return,
        }
        let now = Instant::now();
        if now >= deadline
            || runtime
                .as_ref()
                .is_some_and(|handle| handle.metrics().global_queue_depth() > 0)
        {
            return;
        }
        if now < keep_core_until {
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        } else {
            // Gives the core to any other runnable thread (a client on the same machine, the
            // other runtime thread) and comes straight back when there is none, so the rest
            // of the spin keeps the vCPU awake without taking time from anyone.
            rustix::thread::sched_yield();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn spin_setting_reads_microseconds_and_refuses_the_rest() {
        assert_eq!(spin_setting(None).unwrap(), DEFAULT_SPIN);
        assert_eq!(spin_setting(Some("0")).unwrap(), Duration::ZERO);
        assert_eq!(
            spin_setting(Some(" 75 ")).unwrap(),
            Duration::from_micros(75)
        );
        let err = spin_setting(Some("fast")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "NATRIUM_SPIN_US must be a whole number of microseconds, not \"fast\""
        );
    }

    #[test]
    fn spin_ends_when_a_task_is_woken_from_outside_the_runtime() {
        install(Duration::from_millis(200)).expect("epoll");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .on_thread_park(before_park)
            .build()
            .expect("runtime");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (wake_tx, wake_rx) = tokio::sync::oneshot::channel::<Instant>();
        let task = runtime.spawn(async move {
            ready_tx.send(()).expect("test waits");
            let sent = wake_rx.await.expect("test sends");
            sent.elapsed()
        });
        // The worker has nothing left to run once the task waits, so it is spinning (200 ms)
        // or about to when this thread, outside the runtime, wakes the task.
        ready_rx.recv().expect("task starts");
        wake_tx.send(Instant::now()).expect("task waits");
        let waited = runtime.block_on(task).expect("task ends");
        assert!(
            waited < Duration::from_millis(100),
            "the woken task waited {waited:?} for the spin to end"
        );
    }

    #[test]
    fn spin_ends_early_when_a_watched_socket_is_readable_and_lasts_otherwise() {
        install(Duration::from_millis(200)).expect("epoll");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        watch(&server_side);

        // Nothing to read: the whole spin time passes.
        let start = Instant::now();
        before_park();
        assert!(start.elapsed() >= Duration::from_millis(200));

        // Data waiting: the spin ends at once.
        client.write_all(b"PING\r\n").unwrap();
        let start = Instant::now();
        // The bytes may take a moment to cross loopback; the first spin that sees them ends.
        before_park();
        before_park();
        assert!(start.elapsed() < Duration::from_millis(400));
        let start = Instant::now();
        before_park();
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "a readable socket ends the spin"
        );
    }
}
