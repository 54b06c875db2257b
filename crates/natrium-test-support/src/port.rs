//! Loopback ports for servers under test.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering};

/// A port on 127.0.0.1 that was free a moment ago (the OS picked it for a listener that is
/// closed again). Someone else can take it before the caller binds it: callers that start
/// a server on it retry (see [`crate::process::ServerCommand::start`]).
///
/// # Panics
/// When no listener can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("bound address").port()
}

/// A free port below Linux's ephemeral range (32768–60999), for a server restarted on the
/// same port: a port the OS handed out could be taken meanwhile as the local port of some
/// other test's client connection, and the restart would fail with "address in use".
pub fn restartable_port() -> u16 {
    // Spread concurrent test binaries apart; within one binary, never hand a port out twice.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % 500) as u16 * 20;
    loop {
        let port = 20_000 + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// The port of a `scheme://host:port` URL.
///
/// # Panics
/// When the URL does not end in `:PORT`.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url:?}"))
}
