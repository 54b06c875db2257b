//! What the rest of the server knows about one client connection: identity, delivery
//! preferences, outbound buffer, subscriptions and counters.
//!
//! The connection task (`connection.rs`) owns the socket; publishers on other connections
//! reach this struct through the subscriptions they match.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::outbound::{Outbound, OutboundStats};
use crate::subscription::Subscription;

/// Why a connection ended (for logs and monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection.
    ClientClosed,
    /// The server shut down.
    ServerShutdown,
    /// Bad protocol from the client.
    ProtocolViolation,
    /// Wrong or missing credentials.
    AuthorizationViolation,
    /// No CONNECT within the auth timeout.
    AuthenticationTimeout,
    /// The user's JWT expired while connected.
    AuthenticationExpired,
    /// Too many unanswered PINGs.
    StaleConnection,
    /// Too many queued outbound bytes.
    SlowConsumerPendingBytes,
    /// A write blocked past the write deadline.
    SlowConsumerWriteDeadline,
    /// A message exceeded max_payload.
    MaxPayloadExceeded,
    /// A control line exceeded max_control_line.
    MaxControlLineExceeded,
    /// The server was at max_connections.
    MaxConnectionsExceeded,
    /// A socket read or write failed.
    ReadError,
    /// The TLS handshake failed or timed out.
    TlsHandshakeError,
    /// An account JWT update revoked the user's JWT while connected.
    Revocation,
}

impl CloseReason {
    /// nats-server's text for it (`/connz` `reason`, the "Client connection closed" log).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::AuthorizationViolation => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::ReadError => "Read Error",
            CloseReason::TlsHandshakeError => "TLS Handshake Failure",
            CloseReason::Revocation => "Credentials Revoked",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-client values from CONNECT.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
}

/// A point-in-time view of one client, for monitoring.
#[derive(Debug, Clone)]
pub struct ClientSnapshot {
    /// Client id (`cid`), as sent in INFO.
    pub cid: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// When the connection was accepted.
    pub start: SystemTime,
    /// When the client last sent something.
    pub last_activity: SystemTime,
    /// Last measured round trip (server PING to client PONG), if any.
    pub rtt: Option<Duration>,
    /// Messages received from the client.
    pub in_msgs: u64,
    /// Payload bytes received from the client.
    pub in_bytes: u64,
    /// Messages delivered to the client.
    pub out_msgs: u64,
    /// Payload bytes delivered to the client.
    pub out_bytes: u64,
    /// Bytes queued for the client but not yet written.
    pub pending_bytes: usize,
    /// Subjects the client subscribes to.
    pub subscriptions: Vec<String>,
    /// `name` from CONNECT.
    pub name: String,
    /// `lang` from CONNECT.
    pub lang: String,
    /// `version` from CONNECT.
    pub version: String,
    /// The authenticated user, when user/password auth is on.
    pub user: Option<String>,
    /// The client's account (`$G` outside any account).
    pub account: String,
}

/// What a client's TLS session negotiated, as `/connz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionInfo {
    /// `1.2` or `1.3`.
    pub version: String,
    /// Go's name of the cipher suite (`TLS_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
}

/// One connected client.
#[derive(Debug)]
pub(crate) struct Client {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub outbound: Outbound,
    /// Cancelled to close the connection at once (slow consumer, shutdown).
    pub kill: CancellationToken,
    /// `echo` from CONNECT: whether the client receives its own publishes.
    pub echo: AtomicBool,
    /// `headers` from CONNECT: whether the client understands HMSG.
    pub headers: AtomicBool,
    pub meta: Mutex<ClientMeta>,
    pub subs: Mutex<HashMap<Box<[u8]>, Arc<Subscription>>>,
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Nanoseconds since the epoch.
    pub last_activity: AtomicU64,
    /// Nanoseconds; 0 = not measured yet.
    pub rtt: AtomicU64,
    /// Subjects this client's subscribe deny list keeps from its wildcard subscriptions.
    pub deny_delivery: std::sync::OnceLock<crate::permissions::DeliveryFilter>,
    /// With `allow_responses`: the reply subjects of requests delivered to this client.
    pub responses: std::sync::OnceLock<Arc<crate::permissions::ResponseTracker>>,
    /// The negotiated TLS session, once the handshake completed.
    pub tls: std::sync::OnceLock<SessionInfo>,
    /// The account, set at CONNECT; unset means the global account.
    pub account: std::sync::OnceLock<Arc<crate::accounts::Account>>,
    /// The nonce sent in INFO, when nkey users must sign it.
    pub nonce: std::sync::OnceLock<Box<str>>,
    /// In operator mode, the user JWT the client connected with.
    pub jwt: std::sync::OnceLock<crate::operator::UserToken>,
    close_reason: Mutex<Option<CloseReason>>,
}

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The prefix of every log line about a client: `127.0.0.1:51234 - cid:5`, as nats-server.
impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} - cid:{}", self.addr, self.cid)
    }
}

impl Client {
    pub(crate) fn new(
        cid: u64,
        addr: SocketAddr,
        max_pending: usize,
        kill: CancellationToken,
    ) -> Self {
        Client {
            cid,
            addr,
            start: SystemTime::now(),
            outbound: Outbound::new(max_pending),
            kill,
            echo: AtomicBool::new(true),
            headers: AtomicBool::new(false),
            meta: Mutex::new(ClientMeta::default()),
            subs: Mutex::new(HashMap::new()),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            last_activity: AtomicU64::new(now_nanos()),
            rtt: AtomicU64::new(0),
            deny_delivery: std::sync::OnceLock::new(),
            responses: std::sync::OnceLock::new(),
            tls: std::sync::OnceLock::new(),
            account: std::sync::OnceLock::new(),
            nonce: std::sync::OnceLock::new(),
            jwt: std::sync::OnceLock::new(),
            close_reason: Mutex::new(None),
        }
    }

    /// The server's internal client (cid 0, never connected): it owns internal
    /// subscriptions and publishes what the server itself sends.
    pub(crate) fn internal(max_pending: usize) -> Self {
        let addr = SocketAddr::from(([0, 0, 0, 0], 0));
        let client = Client::new(0, addr, max_pending, CancellationToken::new());
        client.headers.store(true, Ordering::Relaxed);
        client
    }

    /// Records the first reason the connection is closing; later reasons are ignored.
    pub(crate) fn set_close_reason(&self, reason: CloseReason) -> bool {
        let mut r = self.close_reason.lock();
        if r.is_none() {
            *r = Some(reason);
            true
        } else {
            false
        }
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }

    /// Whether this client wants HMSG for messages with headers.
    pub(crate) fn wants_headers(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot(&self) -> ClientSnapshot {
        let OutboundStats {
            out_msgs,
            out_bytes,
            pending_bytes,
        } = self.outbound.stats();
        let meta = self.meta.lock().clone();
        let rtt = self.rtt.load(Ordering::Relaxed);
        ClientSnapshot {
            cid: self.cid,
            addr: self.addr,
            start: self.start,
            last_activity: UNIX_EPOCH
                + Duration::from_nanos(self.last_activity.load(Ordering::Relaxed)),
            rtt: (rtt > 0).then(|| Duration::from_nanos(rtt)),
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs,
            out_bytes,
            pending_bytes,
            subscriptions: self
                .subs
                .lock()
                .values()
                .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
                .collect(),
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            user: meta.user,
            account: self
                .account
                .get()
                .map_or(crate::accounts::GLOBAL_ACCOUNT, |a| &a.name)
                .to_owned(),
        }
    }
}
