//! The read side of a connection: the loop that reads a batch from the socket, parses every
//! complete operation in it and dispatches each (CONNECT and authentication, PUB/HPUB through
//! `deliver`, SUB/UNSUB, PING/PONG), then ends the batch.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::{Buf, BytesMut};
use natrium_wire::{
    ClientOp, Limits, NO_RESPONDERS_HEADERS, OK, PING, PONG, ParseError, Sizes, encode_err,
    encode_hmsg, is_valid_literal_subject, is_valid_subscribe_subject, parse,
    parse_without_headers,
};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::deliver::{Fanout, MatchCache, Msg, Publisher, remove_subscription, slow_consumer};
use crate::accounts::Account;
use crate::auth::{self, Credentials};
use crate::client::{Client, ClientMeta, CloseReason, now_nanos};
use crate::outbound::Appended;
use crate::state::Shared;
use crate::subscription::{SubRef, Subscription};

/// Initial read buffer size; it grows for large messages.
const READ_BUFFER: usize = 64 * 1024;
/// Read only when at least this much room is free, so reads stay large.
const MIN_READ_ROOM: usize = 8 * 1024;
/// How long a publisher waits for a nearly full subscriber's writer to make progress before
/// it goes on without it (nats-server 2.9 stalls fast producers for 100 ms at least). A
/// subscriber that keeps reading keeps the publisher waiting; one that is stuck is given up
/// on after this once, and then cut off at max_pending.
const STALL_WAIT: Duration = Duration::from_millis(100);

// nats-server's texts, inside `-ERR '...'`.
const ERR_AUTH_VIOLATION: &str = "Authorization Violation";
const ERR_AUTH_TIMEOUT: &str = "Authentication Timeout";
const ERR_STALE: &str = "Stale Connection";
const ERR_MAX_SUBSCRIPTIONS: &str = "maximum subscriptions exceeded";
const ERR_NO_RESPONDERS_NEEDS_HEADERS: &str = "no responders requires headers support";
const ERR_MAX_ACCOUNT_CONNECTIONS: &str = "maximum account active connections exceeded";
const ERR_AUTH_EXPIRED: &str = "User Authentication Expired";

/// Sleeps until `at` (never returns for `None`; the caller guards the branch anyway).
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `CONNECT` options. Absent (or null) fields keep nats-server's defaults: verbose,
/// pedantic and echo on.
#[derive(Debug, Default, Deserialize)]
struct ConnectJson {
    verbose: Option<bool>,
    pedantic: Option<bool>,
    echo: Option<bool>,
    headers: Option<bool>,
    no_responders: Option<bool>,
    name: Option<String>,
    lang: Option<String>,
    version: Option<String>,
    user: Option<String>,
    pass: Option<String>,
    auth_token: Option<String>,
    jwt: Option<String>,
    nkey: Option<String>,
    sig: Option<String>,
}

/// Who a CONNECT authenticated as, and the limits that come with it.
struct Identity {
    user: Option<String>,
    account: Arc<Account>,
    permissions: Option<crate::permissions::Permissions>,
    /// When a user JWT expires.
    expires: Option<SystemTime>,
    max_subs: Option<usize>,
    max_payload: Option<usize>,
    max_account_connections: Option<usize>,
    /// In operator mode, the user JWT.
    token: Option<crate::operator::UserToken>,
}

/// What the read loop does after an operation.
enum Flow {
    Continue,
    Close(CloseReason),
}

/// The read side of a connection and its per-connection protocol state.
pub(super) struct Connection {
    shared: Arc<Shared>,
    client: Arc<Client>,
    limits: Limits,
    auth_required: bool,
    pub(super) connected: bool,
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    pings_out: u32,
    ping_sent: Option<Instant>,
    /// What this batch delivered, and to whom.
    out: Fanout,
    /// Recent subject lookups, so the hot path skips the shared index's locks and counters.
    cache: MatchCache,
    /// Protocol tracing (`-V`) is on; checked once per connection, not per operation.
    trace: bool,
    /// The authenticated user's permissions, if restricted.
    perms: Option<crate::permissions::ConnectionPermissions>,
    /// The account messages are routed in: the global one until CONNECT names another
    /// (looked up once here, never per message).
    account: Arc<Account>,
    /// A JWT user's own subscription limit (the server's applies too).
    max_subs: Option<usize>,
    /// When the user's JWT expires: the connection is closed then.
    expires: Option<Instant>,
}

impl Connection {
    pub(super) fn new(shared: Arc<Shared>, client: Arc<Client>) -> Self {
        let live = shared.live.read().clone();
        let limits = Limits {
            max_control_line: shared.opts.max_control_line,
            max_payload: live.max_payload as usize,
        };
        Connection {
            account: shared.accounts.global().clone(),
            max_subs: None,
            expires: None,
            auth_required: live.requires_auth(),
            shared,
            client,
            limits,
            connected: false,
            // nats-server's defaults until CONNECT says otherwise.
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            pings_out: 0,
            ping_sent: None,
            out: Fanout::default(),
            cache: MatchCache::default(),
            trace: tracing::enabled!(tracing::Level::TRACE),
            perms: None,
        }
    }

    pub(super) async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> CloseReason {
        let mut rbuf = BytesMut::with_capacity(READ_BUFFER);
        let ping_interval = self.shared.opts.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let auth_timer = tokio::time::sleep(self.shared.opts.auth_timeout);
        tokio::pin!(auth_timer);
        let kill = self.client.kill.clone();
        loop {
            if rbuf.capacity() - rbuf.len() < MIN_READ_ROOM {
                rbuf.reserve(READ_BUFFER);
            }
            tokio::select! {
                _ = kill.cancelled() => return CloseReason::ServerShutdown,
                read = reader.read_buf(&mut rbuf) => match read {
                    Ok(0) => return CloseReason::ClientClosed,
                    Err(e) => {
                        tracing::debug!("{} - read error: {e}", self.client);
                        return CloseReason::ReadError;
                    }
                    Ok(_) => loop {
                        // Once per batch, so a reload that turns tracing on or off reaches
                        // connections already open (as in nats-server).
                        self.trace = tracing::enabled!(tracing::Level::TRACE);
                        let flow = self.process(&mut rbuf);
                        self.end_batch();
                        if let Flow::Close(reason) = flow {
                            return reason;
                        }
                        if self.out.stalled.is_empty() {
                            break;
                        }
                        // A subscriber is nearly full: wait for it, then go on with the
                        // rest of what was read.
                        tokio::select! {
                            _ = kill.cancelled() => return CloseReason::ServerShutdown,
                            _ = self.stall() => {}
                        }
                    },
                },
                _ = ping.tick() => {
                    if let Flow::Close(reason) = self.ping_timer() {
                        return reason;
                    }
                }
                _ = &mut auth_timer, if self.auth_required && !self.connected => {
                    self.error(ERR_AUTH_TIMEOUT);
                    return CloseReason::AuthenticationTimeout;
                }
                _ = sleep_until_some(self.expires), if self.expires.is_some() => {
                    tracing::debug!(
                        "{} - User JWT expired",
                        self.client
                    );
                    self.error(ERR_AUTH_EXPIRED);
                    return CloseReason::AuthenticationExpired;
                }
            }
        }
    }

    /// Parses and handles every complete operation in `rbuf`, then drops the handled bytes.
    /// Stops early, leaving the rest in `rbuf`, once a delivery nearly filled a subscriber
    /// (see [`Connection::stall`]), so no batch can push a subscriber past max_pending.
    fn process(&mut self, rbuf: &mut BytesMut) -> Flow {
        let mut pos = 0;
        let flow = loop {
            let buf = &rbuf[pos..];
            if buf.is_empty() {
                break Flow::Continue;
            }
            let parsed = if self.headers {
                parse(buf, &self.limits)
            } else {
                parse_without_headers(buf, &self.limits)
            };
            match parsed {
                Ok(None) => break Flow::Continue,
                Ok(Some((op, used))) => {
                    if self.trace {
                        self.trace_op(&buf[..used]);
                    }
                    pos += used;
                    if let Flow::Close(reason) = self.dispatch(op) {
                        break Flow::Close(reason);
                    }
                    if !self.out.stalled.is_empty() {
                        break Flow::Continue;
                    }
                }
                Err(e) => break Flow::Close(self.parse_error(&e)),
            }
        };
        rbuf.advance(pos);
        self.client
            .last_activity
            .store(now_nanos(), Ordering::Relaxed);
        flow
    }

    /// Logs an operation's control line as nats-server's `-V` does: `<<- [SUB foo 1]`.
    fn trace_op(&self, op: &[u8]) {
        let line = op.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        tracing::trace!("{} - <<- [{}]", self.client, String::from_utf8_lossy(line));
    }

    fn parse_error(&mut self, e: &ParseError) -> CloseReason {
        tracing::error!("{} - {e}", self.client);
        if let Some(message) = e.client_message() {
            self.error(message);
        }
        match e {
            ParseError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            ParseError::MaxControlLine { .. } => CloseReason::MaxControlLineExceeded,
            _ => CloseReason::ProtocolViolation,
        }
    }

    fn dispatch(&mut self, op: ClientOp<'_>) -> Flow {
        if self.auth_required && !self.connected && !matches!(op, ClientOp::Connect(_)) {
            self.error(ERR_AUTH_VIOLATION);
            return Flow::Close(CloseReason::AuthorizationViolation);
        }
        match op {
            ClientOp::Connect(json) => return self.connect(json),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => {
                let sizes = Sizes {
                    header: b"",
                    total: size,
                };
                self.publish(subject, reply, None, payload, sizes);
            }
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                size,
                headers,
                payload,
            } => {
                // An empty header block is delivered as a plain MSG, like nats-server.
                let headers = (!headers.is_empty()).then_some(headers);
                let sizes = Sizes {
                    header: header_size,
                    total: size,
                };
                self.publish(subject, reply, headers, payload, sizes);
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid),
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(sid, max);
                self.ok();
            }
            ClientOp::Ping => self.queue_own(PONG),
            ClientOp::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent.take() {
                    let rtt = sent.elapsed().as_nanos().max(1) as u64;
                    self.client.rtt.store(rtt, Ordering::Relaxed);
                }
            }
            ClientOp::Info(_) | ClientOp::Ignored => {}
        }
        Flow::Continue
    }

    fn connect(&mut self, json: &[u8]) -> Flow {
        let opts: ConnectJson = match serde_json::from_slice(json) {
            Ok(o) => o,
            Err(e) => {
                // nats-server closes without an -ERR on a CONNECT it cannot read.
                tracing::error!("{} - bad CONNECT: {e}", self.client);
                return Flow::Close(CloseReason::ProtocolViolation);
            }
        };
        let who = match self.identify(&opts) {
            Ok(who) => who,
            Err(why) => {
                tracing::error!("{} - authentication error: {why}", self.client);
                self.error(ERR_AUTH_VIOLATION);
                return Flow::Close(CloseReason::AuthorizationViolation);
            }
        };
        if let Some(max) = who.max_account_connections {
            let others = {
                let clients = self.shared.clients.lock();
                clients
                    .values()
                    .filter(|c| c.cid != self.client.cid)
                    .filter(|c| {
                        c.account
                            .get()
                            .is_some_and(|a| Arc::ptr_eq(a, &who.account))
                    })
                    .count()
            };
            if others >= max {
                if self
                    .shared
                    .rate_limited_log
                    .allow(ERR_MAX_ACCOUNT_CONNECTIONS)
                {
                    tracing::error!("{} - {ERR_MAX_ACCOUNT_CONNECTIONS}", self.client);
                }
                self.error(ERR_MAX_ACCOUNT_CONNECTIONS);
                return Flow::Close(CloseReason::MaxConnectionsExceeded);
            }
        }
        self.verbose = opts.verbose.unwrap_or(true);
        self.pedantic = opts.pedantic.unwrap_or(true);
        self.echo = opts.echo.unwrap_or(true);
        self.headers = opts.headers.unwrap_or(false);
        self.no_responders = opts.no_responders.unwrap_or(false);
        if self.no_responders && !self.headers {
            self.error(ERR_NO_RESPONDERS_NEEDS_HEADERS);
            return Flow::Close(CloseReason::ProtocolViolation);
        }
        self.client.headers.store(self.headers, Ordering::Relaxed);
        self.client.echo.store(self.echo, Ordering::Relaxed);
        self.perms = crate::permissions::for_connection(who.permissions.as_ref());
        // The account is fixed from here on; connections keep theirs across reloads.
        if self.client.account.set(who.account.clone()).is_ok() {
            self.account = who.account;
        }
        if let Some(max) = who.max_payload {
            self.limits.max_payload = self.limits.max_payload.min(max);
        }
        self.max_subs = who.max_subs;
        self.expires = who.expires.map(|at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            Instant::now() + left
        });
        if let Some(filter) = self.perms.as_ref().and_then(|p| p.delivery_filter()) {
            let _ = self.client.deny_delivery.set(filter);
        }
        if let Some(tracker) = self.perms.as_ref().and_then(|p| p.response_tracker()) {
            let _ = self.client.responses.set(tracker);
        }
        *self.client.meta.lock() = ClientMeta {
            name: opts.name.unwrap_or_default(),
            lang: opts.lang.unwrap_or_default(),
            version: opts.version.unwrap_or_default(),
            user: who.user,
        };
        if let Some(token) = who.token {
            let _ = self.client.jwt.set(token);
        }
        self.connected = true;
        self.ok();
        crate::system::client_connected(&self.shared, &self.client);
        Flow::Continue
    }

    /// Who the CONNECT authenticates as: a user of the configuration (password, token,
    /// nkey or `no_auth_user`), or in operator mode the holder of a user JWT. `Err` says why
    /// not, for the log.
    fn identify(&self, opts: &ConnectJson) -> Result<Identity, String> {
        let nonce = self.client.nonce.get().map(|n| &**n);
        let trust = self.shared.trust.read().clone();
        if let Some(trust) = trust {
            let token = opts.jwt.as_deref().ok_or("no user JWT")?;
            let user = trust.authenticate(token, nonce, opts.sig.as_deref())?;
            let account = self
                .shared
                .accounts
                .get(&user.account)
                .ok_or_else(|| format!("Account {} not found", user.account))?;
            return Ok(Identity {
                user: Some(user.name),
                account: account.clone(),
                permissions: user.permissions,
                expires: user.expires,
                max_subs: user.max_subs,
                max_payload: user.max_payload,
                max_account_connections: user.max_account_connections,
                token: Some(user.token),
            });
        }
        let creds = Credentials {
            user: opts.user.as_deref(),
            pass: opts.pass.as_deref(),
            token: opts.auth_token.as_deref(),
            nkey: opts.nkey.as_deref(),
            sig: opts.sig.as_deref(),
            nonce,
        };
        let live = self.shared.live.read().clone();
        let no_auth_user = live.no_auth_user.as_deref();
        let user = auth::check_or_default(&live.auth, &creds, no_auth_user)
            .map_err(|()| "bad credentials".to_string())?;
        // A user whose account is unknown (reloads cannot add accounts) is let in nowhere.
        let account = self
            .shared
            .accounts
            .for_user(user.and_then(|u| u.account.as_deref()))
            .ok_or("the user's account is unknown")?;
        Ok(Identity {
            user: user.map(|u| u.username.clone()),
            account: account.clone(),
            permissions: user.and_then(|u| u.permissions.clone()),
            expires: None,
            max_subs: None,
            max_payload: None,
            max_account_connections: None,
            token: None,
        })
    }

    /// Routes one PUB/HPUB; `sizes` are its size fields as written, for the MSG lines.
    fn publish(
        &mut self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        sizes: Sizes<'_>,
    ) {
        let size = headers.map_or(0, <[u8]>::len) + payload.len();
        self.out.batch.in_msgs += 1;
        self.out.batch.in_bytes += size as u64;
        if self.pedantic && !is_valid_literal_subject(subject) {
            // nats-server only complains: the message is still routed.
            self.error(natrium_wire::INVALID_PUBLISH_SUBJECT);
        }
        // A JetStream domain's API subject is mapped before the permission check, as
        // nats-server maps in its parser: permissions apply to (and a violation names) the
        // plain API subject.
        let mapped = self.shared.domain_mapped(&self.account, subject);
        let subject = mapped.as_deref().unwrap_or(subject);
        if let Some(perms) = &mut self.perms
            && !perms.can_publish(subject)
        {
            let err = crate::permissions::publish_violation(subject);
            self.permission_violation(err, "Publish", subject, None);
            return;
        }
        // +OK goes before any delivery to this same connection, as in nats-server.
        self.ok();
        let msg = Msg {
            subject,
            reply,
            headers,
            payload,
            raw_sizes: Some(sizes),
            shown_as: None,
        };
        let from = Publisher {
            shared: &self.shared,
            client: &self.client,
            echo: self.echo,
            account: &self.account,
            hops: 0,
        };
        let delivered = from.route(&mut self.cache, &mut self.out, &msg);
        if !delivered
            && self.no_responders
            && let Some(reply) = reply
        {
            self.no_responders_reply(reply);
        }
    }

    /// The 503 status a requester gets when its request reached nobody, addressed to the
    /// requester's own subscription that matches the reply subject.
    fn no_responders_reply(&mut self, reply: &[u8]) {
        let matches = self.account.sublist.matches(reply);
        let cid = self.client.cid;
        let own = matches
            .plain
            .iter()
            .chain(matches.queues.iter().flat_map(|g| g.members.iter()))
            .find(|s| s.0.client.cid == cid);
        if let Some(sub) = own {
            let sid = sub.0.sid.clone();
            self.queue_own_with(|b| encode_hmsg(b, reply, &sid, None, NO_RESPONDERS_HEADERS, b""));
        }
    }

    fn subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !is_valid_subscribe_subject(subject)
            || queue.is_some_and(|q| !natrium_wire::is_valid_queue(q))
        {
            self.error(natrium_wire::INVALID_SUBJECT);
            return;
        }
        if let Some(perms) = &self.perms
            && !perms.can_subscribe(subject, queue)
        {
            let err = crate::permissions::subscribe_violation(subject, queue);
            self.permission_violation(err, "Subscription", subject, Some((queue, sid)));
            return;
        }
        let max_subs = match (self.shared.opts.max_subscriptions, self.max_subs) {
            (0, user) => user.unwrap_or(0),
            (server, Some(user)) => server.min(user),
            (server, None) => server,
        };
        {
            let mut subs = self.client.subs.lock();
            if subs.contains_key(sid) {
                // nats-server keeps the existing subscription and ignores the new one.
                drop(subs);
                self.ok();
                return;
            }
            if max_subs > 0 && subs.len() >= max_subs {
                drop(subs);
                if self.shared.rate_limited_log.allow(ERR_MAX_SUBSCRIPTIONS) {
                    tracing::error!("{} - {ERR_MAX_SUBSCRIPTIONS}", self.client);
                }
                self.error(ERR_MAX_SUBSCRIPTIONS);
                return;
            }
            let sub = Arc::new(Subscription::new(self.client.clone(), subject, queue, sid));
            if self
                .account
                .sublist
                .insert(subject, queue, SubRef(sub.clone()))
                .is_err()
            {
                drop(subs);
                self.error(natrium_wire::INVALID_SUBJECT);
                return;
            }
            subs.insert(sid.into(), sub);
        }
        self.account.interest_waiters.subscribed(subject);
        self.ok();
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        let Some(sub) = self.client.subs.lock().get(sid).cloned() else {
            return;
        };
        match max {
            Some(max) if max > 0 => {
                if sub.set_max(max) {
                    self.remove_subscription(&sub);
                }
            }
            _ => self.remove_subscription(&sub),
        }
    }

    fn remove_subscription(&self, sub: &Arc<Subscription>) {
        remove_subscription(&self.shared, sub);
    }

    /// Removes every subscription of this connection from the subject index.
    pub(super) fn forget_subscriptions(&mut self) {
        let subs: Vec<Arc<Subscription>> =
            self.client.subs.lock().drain().map(|(_, s)| s).collect();
        for sub in subs {
            self.account
                .sublist
                .remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
        }
    }

    fn ping_timer(&mut self) -> Flow {
        if self.pings_out + 1 > self.shared.opts.ping_max {
            tracing::debug!("{} - Stale Client Connection - Closing", self.client);
            self.error(ERR_STALE);
            return Flow::Close(CloseReason::StaleConnection);
        }
        self.pings_out += 1;
        self.ping_sent = Some(Instant::now());
        if self.client.outbound.send_now(PING) == Appended::SlowConsumer {
            slow_consumer(&self.shared, &self.client);
        }
        Flow::Continue
    }

    /// Logs a refused publish or subscription as nats-server does and sends the client its -ERR.
    fn permission_violation(
        &mut self,
        err: String,
        kind: &str,
        subject: &[u8],
        sub: Option<(Option<&[u8]>, &[u8])>,
    ) {
        let user = self.client.meta.lock().user.clone().unwrap_or_default();
        let subject = String::from_utf8_lossy(subject);
        let detail = match sub {
            Some((Some(q), sid)) => format!(
                ", Queue: \"{}\", SID {}",
                String::from_utf8_lossy(q),
                String::from_utf8_lossy(sid)
            ),
            Some((None, sid)) => format!(", SID {}", String::from_utf8_lossy(sid)),
            None => String::new(),
        };
        tracing::error!(
            "{} - {kind} Violation - User \"{user}\", Subject \"{subject}\"{detail}",
            self.client
        );
        self.error(&err);
    }

    /// `+OK` in verbose mode.
    fn ok(&mut self) {
        if self.verbose {
            self.queue_own(OK);
        }
    }

    /// Sends `-ERR '<message>'` to this client.
    fn error(&mut self, message: &str) {
        self.queue_own_with(|b| encode_err(b, message));
    }

    fn queue_own(&mut self, bytes: &[u8]) {
        self.queue_own_with(|b| b.extend_from_slice(bytes));
    }

    /// Queues a protocol frame for this client; its writer is woken at the end of the batch.
    fn queue_own_with(&mut self, write: impl FnOnce(&mut BytesMut)) {
        match self.client.outbound.append(None, write) {
            Appended::QueuedWakeNeeded => self.out.touched.push(self.client.clone()),
            Appended::Queued | Appended::Closed => {}
            Appended::SlowConsumer => slow_consumer(&self.shared, &self.client),
        }
    }

    /// Holds this publisher back (reads nothing more) while the subscribers it nearly filled
    /// drain their buffers, so a fast producer cannot push a reading subscriber over
    /// max_pending. Bounded: a subscriber whose writer makes no progress within
    /// [`STALL_WAIT`] is given up on, and the whole stall never exceeds the write deadline.
    async fn stall(&mut self) {
        let deadline = Instant::now() + self.shared.opts.write_deadline;
        for target in self.out.stalled.drain(..) {
            while target.outbound.stalling() && Instant::now() < deadline {
                if !target.outbound.wait_for_progress(STALL_WAIT).await {
                    break;
                }
            }
        }
    }

    /// Finishes a batch: the publisher's counts, what internal subscribers left to do
    /// (store flushes, then acknowledgements), the delivery counts, then every touched
    /// writer is woken.
    fn end_batch(&mut self) {
        let in_msgs = std::mem::take(&mut self.out.batch.in_msgs);
        let in_bytes = std::mem::take(&mut self.out.batch.in_bytes);
        if in_msgs > 0 {
            self.client.in_msgs.fetch_add(in_msgs, Ordering::Relaxed);
            self.client.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
            let counters = &self.shared.counters;
            counters.in_msgs.fetch_add(in_msgs, Ordering::Relaxed);
            counters.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
        }
        // Stores flush and acknowledgements go out before any writer is woken.
        self.out
            .complete_internal(&self.shared, &self.account, &mut self.cache);
        self.out.publish_counts_and_wake(&self.shared);
    }
}
