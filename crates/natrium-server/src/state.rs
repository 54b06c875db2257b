//! The state every connection task shares: options, accounts, clients, counters, the
//! settings a reload replaces, and the history of closed connections. The accept loop
//! (`server`), connections, delivery and monitoring all read it; it imports none of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Client;
use crate::info::ServerInfo;
use crate::options::{Auth, ServerOptions};

/// Server-wide counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub total_connections: AtomicU64,
}

/// State every connection task shares.
pub(crate) struct Shared {
    pub opts: ServerOptions,
    pub info: ServerInfo,
    /// Every account, each with its own subject index; `$G` for clients outside accounts.
    pub accounts: crate::accounts::Accounts,
    /// In operator mode, the operators and accounts users' JWTs are checked against.
    pub trust: parking_lot::RwLock<Option<Arc<crate::operator::Trust>>>,
    pub clients: Mutex<HashMap<u64, Arc<Client>>>,
    pub counters: Counters,
    /// Recently closed connections, for monitoring (`/connz?state=closed`).
    pub closed: crate::records::ClosedConnections,
    pub next_cid: AtomicU64,
    pub started: SystemTime,
    /// Cancelled on entering lame-duck mode: the accept loop stops.
    pub lame_duck: CancellationToken,
    /// Settings a reload (SIGHUP) may change, read by each new connection.
    pub live: parking_lot::RwLock<Arc<Reloadable>>,
    /// Cancelled when the server shuts down; every connection's token is a child of it.
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// The server's own client: it owns internal subscriptions and publishes the server's
    /// replies (as nats-server's internal clients).
    pub internal_client: Arc<Client>,
    /// Numbers internal subscriptions' sids.
    pub next_internal_sid: AtomicU64,
    /// JetStream, when enabled (set once, right after start).
    pub jetstream: std::sync::OnceLock<Arc<crate::jetstream::JetStream>>,
    /// `$JS.<domain>.API.`, when JetStream has a domain: what publishers may prefix API
    /// subjects with in any account (see `jetstream::domain`).
    pub js_domain_api: Option<Box<[u8]>>,
    /// Errors a flood of clients can trigger, logged at most once per second.
    pub rate_limited_log: crate::logging::RateLimited,
    /// The system account's services (set once, right after start).
    pub system: std::sync::OnceLock<Arc<System>>,
}

impl Shared {
    /// The subject a message published as `subject` in `account` is checked against the
    /// publish permissions and routed on: the plain API subject for a JetStream domain's API
    /// subject (nats-server's domain mapping, which an account gets along with its
    /// JetStream or its "not enabled" answers), else `None` (routed as published).
    pub(crate) fn domain_mapped(
        &self,
        account: &crate::accounts::Account,
        subject: &[u8],
    ) -> Option<Vec<u8>> {
        let prefix = self.js_domain_api.as_deref()?;
        let rest = subject.strip_prefix(prefix)?;
        if !self.jetstream.get()?.answers_for(&account.name) {
            return None;
        }
        crate::jetstream::map_domain_api(rest)
    }

    /// Takes a closed connection out of the client table; its traffic joins its account's
    /// totals (`/accstatz` counts what closed connections carried too).
    pub(crate) fn forget_client(&self, client: &Client) {
        if self.clients.lock().remove(&client.cid).is_some() {
            let traffic = crate::accounts::Traffic::of(client);
            self.account_of(client).closed_traffic.lock().add(traffic);
        }
    }

    /// Counts a client cut off as a slow consumer, for the server and for its account.
    pub(crate) fn count_slow_consumer(&self, client: &Client) {
        self.counters.slow_consumers.fetch_add(1, Ordering::Relaxed);
        self.account_of(client)
            .slow_consumers
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The account `client` belongs to (set at CONNECT; the global account until then).
    pub(crate) fn account_of<'a>(
        &'a self,
        client: &'a Client,
    ) -> &'a Arc<crate::accounts::Account> {
        client.account.get().unwrap_or(self.accounts.global())
    }
}

/// The settings a reload can change; each new connection reads the current ones.
#[derive(Debug)]
pub(crate) struct Reloadable {
    pub auth: Auth,
    pub no_auth_user: Option<String>,
    /// Operator mode: users log in with JWTs.
    pub jwt_auth: bool,
    pub max_payload: u32,
    pub logging: crate::logging::LogLevel,
    /// Certificates and handshake timeout for new connections, when TLS is on.
    pub tls: Option<crate::tls::LiveTls>,
}

impl Reloadable {
    /// What INFO announces under these settings.
    pub(crate) fn advertised(&self) -> crate::info::Advertised {
        crate::info::Advertised {
            auth_required: self.requires_auth() && self.no_auth_user.is_none(),
            tls_required: self.tls.as_ref().is_some_and(|t| !t.options.allow_non_tls),
            tls_verify: self.tls.as_ref().is_some_and(|t| t.options.verify),
            tls_available: self.tls.as_ref().is_some_and(|t| t.options.allow_non_tls),
            max_payload: self.max_payload,
            nonce_required: self.jwt_auth
                || matches!(&self.auth, Auth::Users(u) if u.iter().any(|u| u.nkey.is_some())),
        }
    }

    /// Whether clients must authenticate (users, a token, or JWTs in operator mode).
    pub(crate) fn requires_auth(&self) -> bool {
        self.auth.is_required() || self.jwt_auth
    }

    /// The reloadable part of `o`, with TLS files already loaded into `tls`.
    pub(crate) fn new(o: &ServerOptions, tls: Option<crate::tls::LiveTls>) -> Self {
        Reloadable {
            auth: o.auth.clone(),
            no_auth_user: o.no_auth_user.clone(),
            jwt_auth: o.operator.is_some(),
            max_payload: o.max_payload,
            logging: o.logging,
            tls,
        }
    }
}

/// The system account's services at run time (what they do is in `system`).
pub(crate) struct System {
    pub account: Arc<crate::accounts::Account>,
    /// Numbers the messages the server sends (`server.seq`).
    pub seq: AtomicU64,
}
