//! Per-user publish and subscribe permissions, with nats-server 2.9's semantics.
//!
//! - An empty (or absent) allow list allows every subject; a deny entry always wins.
//! - Entries may hold wildcards. A subscription subject is matched with its own tokens taken
//!   literally, so `SUB foo.*` needs an entry such as `foo.*` or `foo.>` (not `foo.bar`).
//! - An entry `"subject queue"` only concerns queue subscriptions in that group.
//! - A wildcard subscription allowed despite a deny list (`SUB foo.*` with `foo.bar` denied)
//!   does not receive messages on the denied subjects.
//!
//! - `allow_responses`: a client may publish to the reply subject of a request it received,
//!   up to `max_msgs` times within `expires`, even where its publish lists deny it. Turning
//!   it on without a publish allow list makes the allow list empty: such a client may publish
//!   responses only (nats-server 2.9).
//!
//! Lists are compiled once per connection; publish decisions are cached per connection, so
//! a publisher repeating subjects pays one hash lookup per message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natrium_wire::subject_matches;
use parking_lot::Mutex;

/// What a user may publish to and subscribe to. `None` leaves that side unrestricted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: Option<SubjectPermission>,
    /// Subjects the user may subscribe to (entries may be `"subject queue"`).
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: publishing to the reply subjects of received requests.
    pub allow_responses: Option<ResponsePermission>,
}

/// nats-server's default for [`ResponsePermission::max_msgs`]: one response per request.
pub const DEFAULT_ALLOW_RESPONSE_MAX_MSGS: u64 = 1;

/// nats-server's default for [`ResponsePermission::expires`]: two minutes.
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(120);

/// How a client may answer the requests it receives (`allow_responses`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses allowed per received request; `None` allows any number (default 1).
    pub max_msgs: Option<u64>,
    /// How long after receiving a request its responses are allowed; `None` sets no limit
    /// (default 2 minutes).
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: Some(DEFAULT_ALLOW_RESPONSE_MAX_MSGS),
            expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION),
        }
    }
}

/// An allow list and a deny list of subjects (wildcards allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// Subjects allowed; empty allows everything not denied.
    pub allow: Vec<String>,
    /// Subjects denied, even when allowed.
    pub deny: Vec<String>,
}

impl SubjectPermission {
    /// Only these subjects are allowed (nats' plain list form: `publish: ["a", "b.>"]`).
    pub fn allow<I, S>(subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SubjectPermission {
            allow: subjects.into_iter().map(Into::into).collect(),
            deny: Vec::new(),
        }
    }

    /// Adds subjects to the deny list.
    #[must_use]
    pub fn deny<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny.extend(subjects.into_iter().map(Into::into));
        self
    }

    /// The first entry that is not a valid subject (optionally followed by a queue name).
    pub(crate) fn first_invalid(&self) -> Option<&str> {
        self.allow
            .iter()
            .chain(&self.deny)
            .map(String::as_str)
            .find(|e| {
                let mut parts = e.split_whitespace();
                let subject_ok = parts
                    .next()
                    .is_some_and(|s| natrium_wire::is_valid_subscribe_subject(s.as_bytes()));
                let queue_ok = parts
                    .next()
                    .is_none_or(|q| natrium_wire::is_valid_queue(q.as_bytes()));
                !(subject_ok && queue_ok && parts.next().is_none())
            })
    }
}

/// One compiled list entry: the subject filter and, for the queue form, the queue pattern.
#[derive(Debug)]
struct Entry {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut parts = text.split_whitespace();
        Entry {
            subject: parts.next().unwrap_or_default().as_bytes().into(),
            queue: parts.next().map(|q| q.as_bytes().into()),
        }
    }
}

/// One side (publish or subscribe) of a user's permissions, compiled.
#[derive(Debug)]
struct Rules {
    /// `None`: everything is allowed unless denied.
    allow: Option<Vec<Entry>>,
    deny: Vec<Entry>,
}

/// The outcome of matching a subject against a list: plain entries and queue entries apart.
struct ListMatch<'a> {
    plain: bool,
    queues: Vec<&'a [u8]>,
}

fn match_list<'a>(list: &'a [Entry], subject: &[u8]) -> ListMatch<'a> {
    let mut m = ListMatch {
        plain: false,
        queues: Vec::new(),
    };
    // A subscription subject's own `*` and `>` are taken literally here, as nats-server's
    // index matches a subscription subject against a list.
    for e in list.iter().filter(|e| subject_matches(&e.subject, subject)) {
        match &e.queue {
            Some(q) => m.queues.push(q),
            None => m.plain = true,
        }
    }
    m
}

fn queue_matches(queue: &[u8], patterns: &[&[u8]]) -> bool {
    patterns.iter().any(|p| subject_matches(p, queue))
}

impl Rules {
    fn compile(p: &SubjectPermission) -> Rules {
        Rules {
            allow: (!p.allow.is_empty()).then(|| p.allow.iter().map(|s| Entry::parse(s)).collect()),
            deny: p.deny.iter().map(|s| Entry::parse(s)).collect(),
        }
    }

    fn can_publish(&self, subject: &[u8]) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|allow| match_list(allow, subject).plain);
        allowed && !match_list(&self.deny, subject).plain
    }

    /// nats-server's `canSubscribe`.
    fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.allow {
            let m = match_list(allow, subject);
            allowed = m.plain;
            if let Some(q) = queue
                && !m.queues.is_empty()
            {
                allowed = queue_matches(q, &m.queues);
            }
        }
        if allowed && !self.deny.is_empty() {
            let m = match_list(&self.deny, subject);
            allowed = !m.plain;
            if let Some(q) = queue
                && !m.queues.is_empty()
            {
                allowed = !queue_matches(q, &m.queues);
            }
        }
        allowed
    }
}

/// A user's permissions, compiled for matching.
#[derive(Debug)]
pub(crate) struct CompiledPermissions {
    publish: Option<Rules>,
    subscribe: Option<Rules>,
    responses: Option<ResponsePermission>,
}

impl CompiledPermissions {
    pub(crate) fn compile(p: &Permissions) -> Arc<CompiledPermissions> {
        let mut publish = p.publish.as_ref().map(Rules::compile);
        if p.allow_responses.is_some() {
            // As nats-server: response tracking turns off the blanket publish allow.
            let rules = publish.get_or_insert_with(|| Rules {
                allow: None,
                deny: Vec::new(),
            });
            rules.allow.get_or_insert_with(Vec::new);
        }
        Arc::new(CompiledPermissions {
            publish,
            subscribe: p.subscribe.as_ref().map(Rules::compile),
            responses: p.allow_responses.clone(),
        })
    }
}

/// Reply subjects tracked per client before expired and used-up ones are pruned
/// (nats-server's `replyPermLimit`).
const REPLY_PERM_LIMIT: usize = 4096;

/// One received request's reply subject: when it arrived, and responses sent to it so far.
#[derive(Debug)]
struct PendingReply {
    received: Instant,
    sent: u64,
}

/// The reply subjects of requests delivered to a client with `allow_responses`. Publishers
/// record into it as they deliver; the client's own connection consults it as it publishes.
#[derive(Debug)]
pub(crate) struct ResponseTracker {
    limits: ResponsePermission,
    replies: Mutex<HashMap<Box<[u8]>, PendingReply>>,
}

impl ResponseTracker {
    fn new(limits: ResponsePermission) -> Self {
        ResponseTracker {
            limits,
            replies: Mutex::new(HashMap::new()),
        }
    }

    /// A message with reply subject `reply` was delivered to the client: it may respond.
    pub(crate) fn record(&self, reply: &[u8]) {
        let mut replies = self.replies.lock();
        replies.insert(
            reply.into(),
            PendingReply {
                received: Instant::now(),
                sent: 0,
            },
        );
        if replies.len() > REPLY_PERM_LIMIT {
            let (max, ttl) = (self.limits.max_msgs, self.limits.expires);
            replies.retain(|_, r| {
                !(max.is_some_and(|m| r.sent >= m) || ttl.is_some_and(|t| r.received.elapsed() > t))
            });
        }
    }

    /// Whether the client may publish to `subject` as a response; counts it when so.
    fn respond(&self, subject: &[u8]) -> bool {
        let mut replies = self.replies.lock();
        let Some(reply) = replies.get_mut(subject) else {
            return false;
        };
        reply.sent += 1;
        let used_up = self.limits.max_msgs.is_some_and(|m| reply.sent > m);
        let expired = self
            .limits
            .expires
            .is_some_and(|t| reply.received.elapsed() > t);
        if used_up || expired {
            replies.remove(subject);
            return false;
        }
        true
    }
}

/// Publish decisions cached per connection before the cache starts over (nats-server: 128).
const PUBLISH_CACHE_SIZE: usize = 128;

/// A connection's permissions and its cache of publish decisions.
#[derive(Debug)]
pub(crate) struct ConnectionPermissions {
    rules: Arc<CompiledPermissions>,
    publish_cache: HashMap<Box<[u8]>, bool>,
    responses: Option<Arc<ResponseTracker>>,
}

impl ConnectionPermissions {
    pub(crate) fn new(rules: Arc<CompiledPermissions>) -> Self {
        let responses = rules
            .responses
            .clone()
            .map(|limits| Arc::new(ResponseTracker::new(limits)));
        ConnectionPermissions {
            rules,
            publish_cache: HashMap::new(),
            responses,
        }
    }

    /// The reply tracker deliveries to this connection must record into, with
    /// `allow_responses`.
    pub(crate) fn response_tracker(&self) -> Option<Arc<ResponseTracker>> {
        self.responses.clone()
    }

    /// Whether this connection may publish to `subject` (counting it as a response when only
    /// `allow_responses` allows it).
    pub(crate) fn can_publish(&mut self, subject: &[u8]) -> bool {
        let Some(rules) = &self.rules.publish else {
            return true;
        };
        if let Some(&allowed) = self.publish_cache.get(subject) {
            return allowed;
        }
        let allowed = rules.can_publish(subject);
        if !allowed && let Some(responses) = &self.responses {
            // Not cached: the answer depends on the requests received and responses sent.
            return responses.respond(subject);
        }
        if self.publish_cache.len() >= PUBLISH_CACHE_SIZE {
            self.publish_cache.clear();
        }
        self.publish_cache.insert(subject.into(), allowed);
        allowed
    }

    /// Whether this connection may subscribe to `subject` (in `queue`).
    pub(crate) fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.rules
            .subscribe
            .as_ref()
            .is_none_or(|r| r.can_subscribe(subject, queue))
    }

    /// The filter that keeps denied subjects away from this connection's wildcard
    /// subscriptions, when it has a subscribe deny list.
    pub(crate) fn delivery_filter(&self) -> Option<DeliveryFilter> {
        self.rules
            .subscribe
            .as_ref()
            .filter(|r| r.deny.iter().any(|e| e.queue.is_none()))
            .map(|_| DeliveryFilter {
                rules: self.rules.clone(),
            })
    }
}

/// Checks a message's subject against a subscriber's subscribe deny list at delivery.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryFilter {
    rules: Arc<CompiledPermissions>,
}

impl DeliveryFilter {
    /// Whether a message on `subject` must not reach this connection.
    pub(crate) fn denies(&self, subject: &[u8]) -> bool {
        self.rules
            .subscribe
            .as_ref()
            .is_some_and(|r| match_list(&r.deny, subject).plain)
    }
}

/// A connection's permissions, when its user has restricted ones.
pub(crate) fn for_connection(perms: Option<&Permissions>) -> Option<ConnectionPermissions> {
    Some(ConnectionPermissions::new(CompiledPermissions::compile(
        perms?,
    )))
}

/// Reads a `permissions { publish: ..., subscribe: ... }` block of a configuration file.
/// Each side is a subject, a list of subjects (the allow list), or `{ allow, deny }`.
pub(crate) fn from_conf(v: &natrium_conf::Value) -> Result<Permissions, String> {
    let mut perms = Permissions::default();
    for entry in v.as_map().map_err(|e| e.to_string())?.iter() {
        let side = match entry.key().to_ascii_lowercase().as_str() {
            "allow_responses" | "publish_allow_responses" => {
                perms.allow_responses = response_permission(entry.value())?;
                continue;
            }
            "publish" | "pub" | "import" => &mut perms.publish,
            "subscribe" | "sub" | "export" => &mut perms.subscribe,
            _ if entry.is_used_as_variable() => continue,
            _ => {
                return Err(format!(
                    "{}: `permissions.{}` is not supported yet by natrium-server",
                    entry.key_pos(),
                    entry.key()
                ));
            }
        };
        let p = subject_permission(entry.value())?;
        if let Some(bad) = p.first_invalid() {
            return Err(format!(
                "{}: invalid subject {bad:?} in permissions",
                entry.key_pos()
            ));
        }
        *side = Some(p);
    }
    Ok(perms)
}

/// `allow_responses: true`, or `allow_responses: { max: N, expires: "1m" }`. As in
/// nats-server, 0 keeps a default and a negative value removes the limit.
fn response_permission(v: &natrium_conf::Value) -> Result<Option<ResponsePermission>, String> {
    if let Ok(on) = v.as_bool() {
        return Ok(on.then(ResponsePermission::default));
    }
    let map = v.as_map().map_err(|_| {
        format!(
            "{}: error parsing response permissions, expected a boolean or a map",
            v.pos
        )
    })?;
    let mut p = ResponsePermission::default();
    for entry in map.iter() {
        let value = entry.value();
        match entry.key().to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                match value.as_i64().map_err(|e| e.to_string())? {
                    0 => {}
                    n if n < 0 => p.max_msgs = None,
                    n => p.max_msgs = Some(n as u64),
                }
            }
            "expires" | "expiration" | "ttl" => {
                let text = value.as_str().map_err(|_| {
                    format!(
                        "{}: error parsing expires, not a duration string",
                        entry.key_pos()
                    )
                })?;
                let (negative, magnitude) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text),
                };
                let d = natrium_conf::parse_duration(magnitude)
                    .map_err(|e| format!("error parsing expires: {e}"))?;
                if !d.is_zero() {
                    p.expires = if negative { None } else { Some(d) };
                }
            }
            _ if entry.is_used_as_variable() => {}
            _ => {
                return Err(format!(
                    "{}: Unknown field {:?} parsing permissions",
                    entry.key_pos(),
                    entry.key()
                ));
            }
        }
    }
    Ok(Some(p))
}

fn subject_list(v: &natrium_conf::Value) -> Result<Vec<String>, String> {
    if let Ok(s) = v.as_str() {
        return Ok(vec![s.to_owned()]);
    }
    v.as_array()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|s| s.as_str().map(str::to_owned).map_err(|e| e.to_string()))
        .collect()
}

fn subject_permission(v: &natrium_conf::Value) -> Result<SubjectPermission, String> {
    let Ok(map) = v.as_map() else {
        return subject_list(v).map(SubjectPermission::allow);
    };
    let mut p = SubjectPermission::default();
    for entry in map.iter() {
        match entry.key().to_ascii_lowercase().as_str() {
            "allow" => p.allow = subject_list(entry.value())?,
            "deny" => p.deny = subject_list(entry.value())?,
            "allow_responses" => {
                return Err(format!(
                    "{}: `allow_responses` belongs in `permissions`, next to `publish` \
                     (nats-server accepts only `allow` and `deny` here)",
                    entry.key_pos()
                ));
            }
            _ => {
                return Err(format!(
                    "{}: unknown permission field `{}` (expected allow or deny)",
                    entry.key_pos(),
                    entry.key()
                ));
            }
        }
    }
    Ok(p)
}

/// `-ERR` text for a refused publish, as nats-server words it.
pub(crate) fn publish_violation(subject: &[u8]) -> String {
    format!(
        "Permissions Violation for Publish to \"{}\"",
        String::from_utf8_lossy(subject)
    )
}

/// `-ERR` text for a refused subscription, as nats-server words it.
pub(crate) fn subscribe_violation(subject: &[u8], queue: Option<&[u8]>) -> String {
    let subject = String::from_utf8_lossy(subject);
    match queue {
        Some(q) => format!(
            "Permissions Violation for Subscription to \"{subject}\" using queue \"{}\"",
            String::from_utf8_lossy(q)
        ),
        None => format!("Permissions Violation for Subscription to \"{subject}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(p: Permissions) -> ConnectionPermissions {
        ConnectionPermissions::new(CompiledPermissions::compile(&p))
    }

    #[test]
    fn empty_allow_allows_all_and_deny_wins() {
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::default().deny(["foo.secret", "admin.>"])),
            subscribe: None,
            allow_responses: None,
        });
        assert!(c.can_publish(b"foo.bar"));
        assert!(!c.can_publish(b"foo.secret"));
        assert!(!c.can_publish(b"admin.x.y"));
        assert!(c.can_publish(b"admin"));
        // Cached answers stay the same.
        assert!(!c.can_publish(b"foo.secret"));
        assert!(c.can_subscribe(b">", None));
    }

    /// nats-server 2.9.10 and 2.15.1 answer `PUB foo. 1` and `PUB foo..b 1` from a user
    /// allowed `foo.>` with a permissions violation: a subject with an empty token is matched
    /// by no list entry, wildcards included.
    #[test]
    fn a_subject_with_an_empty_token_matches_no_entry() {
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::allow(["foo.>"]).deny(["bar.*"])),
            subscribe: None,
            allow_responses: None,
        });
        assert!(c.can_publish(b"foo.b"));
        assert!(!c.can_publish(b"foo."));
        assert!(!c.can_publish(b"foo..b"));
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::default().deny(["bar.*"])),
            subscribe: None,
            allow_responses: None,
        });
        assert!(!c.can_publish(b"bar.x"));
        assert!(c.can_publish(b"bar."));
    }

    #[test]
    fn allow_list_with_wildcards() {
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::allow(["foo.>", "bar"]).deny(["foo.secret"])),
            subscribe: Some(SubjectPermission::allow(["foo.*", "q.> grp"]).deny(["foo.bar"])),
            allow_responses: None,
        });
        assert!(c.can_publish(b"foo.x.y"));
        assert!(c.can_publish(b"bar"));
        assert!(!c.can_publish(b"bar.x"));
        assert!(!c.can_publish(b"foo.secret"));
        assert!(!c.can_publish(b"zzz"));
        // Subscription subjects match with their wildcards taken literally.
        assert!(c.can_subscribe(b"foo.x", None));
        assert!(c.can_subscribe(b"foo.*", None));
        assert!(c.can_subscribe(b"foo.>", None));
        assert!(!c.can_subscribe(b"foo.bar", None));
        assert!(!c.can_subscribe(b"foo", None));
        // Queue entries only admit their group.
        assert!(!c.can_subscribe(b"q.a", None));
        assert!(c.can_subscribe(b"q.a", Some(b"grp")));
        assert!(!c.can_subscribe(b"q.a", Some(b"other")));
        // Wildcard subscriptions get the deny list applied at delivery.
        let filter = c.delivery_filter().expect("has a deny list");
        assert!(filter.denies(b"foo.bar"));
        assert!(!filter.denies(b"foo.baz"));
    }

    #[test]
    fn plain_list_form() {
        let c = conn(Permissions {
            publish: None,
            subscribe: Some(SubjectPermission::allow(["y", "z.>"])),
            allow_responses: None,
        });
        assert!(c.can_subscribe(b"z.*", None));
        assert!(!c.can_subscribe(b"*", None));
        assert!(!c.can_subscribe(b">", None));
        assert!(c.delivery_filter().is_none());
    }

    #[test]
    fn responses_are_allowed_up_to_max_and_only_for_received_requests() {
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::default().deny(["x"])),
            subscribe: None,
            allow_responses: Some(ResponsePermission {
                max_msgs: Some(2),
                expires: None,
            }),
        });
        // The deny-only list got an empty allow list: nothing but responses.
        assert!(!c.can_publish(b"anything"));
        let tracker = c.response_tracker().expect("tracking replies");
        tracker.record(b"_INBOX.a");
        assert!(c.can_publish(b"_INBOX.a"));
        assert!(c.can_publish(b"_INBOX.a"));
        assert!(!c.can_publish(b"_INBOX.a"), "a third response");
        assert!(!c.can_publish(b"_INBOX.b"), "never received");
        // A new request on the same reply subject starts over.
        tracker.record(b"_INBOX.a");
        assert!(c.can_publish(b"_INBOX.a"));
    }

    #[test]
    fn expired_requests_can_not_be_answered() {
        let mut c = conn(Permissions {
            publish: None,
            subscribe: None,
            allow_responses: Some(ResponsePermission {
                max_msgs: None,
                expires: Some(Duration::ZERO),
            }),
        });
        let tracker = c.response_tracker().expect("tracking replies");
        tracker.record(b"r");
        // Any elapsed time exceeds a zero expiry.
        std::thread::sleep(Duration::from_millis(2));
        assert!(!c.can_publish(b"r"));
    }

    #[test]
    fn allow_responses_from_config() {
        let parse = |text: &str| {
            let v = natrium_conf::parse_str(text).expect("conf");
            from_conf(
                v.as_map()
                    .expect("map")
                    .get("permissions")
                    .expect("permissions"),
            )
        };
        let p = parse("permissions { allow_responses: true }").expect("valid");
        assert_eq!(p.allow_responses, Some(ResponsePermission::default()));
        let p = parse("permissions { allow_responses: false }").expect("valid");
        assert_eq!(p.allow_responses, None);
        let p = parse("permissions { publish: [a], allow_responses: { max: 5, expires: \"1m\" } }")
            .expect("valid");
        assert_eq!(
            p.allow_responses,
            Some(ResponsePermission {
                max_msgs: Some(5),
                expires: Some(Duration::from_secs(60)),
            })
        );
        let p =
            parse("permissions { allow_responses: { max: -1, expires: \"-1s\" } }").expect("valid");
        assert_eq!(
            p.allow_responses,
            Some(ResponsePermission {
                max_msgs: None,
                expires: None,
            })
        );
        let p = parse("permissions { allow_responses: { max: 0, ttl: \"0s\" } }").expect("valid");
        assert_eq!(p.allow_responses, Some(ResponsePermission::default()));
        let err = parse("permissions { allow_responses: { expires: 5 } }").unwrap_err();
        assert!(err.contains("not a duration string"), "{err}");
        let err = parse("permissions { allow_responses: { bogus: 1 } }").unwrap_err();
        assert!(err.contains("Unknown field"), "{err}");
        let err =
            parse("permissions { publish: { allow: [a], allow_responses: true } }").unwrap_err();
        assert!(err.contains("belongs in `permissions`"), "{err}");
    }

    #[test]
    fn invalid_entries_are_found() {
        assert_eq!(
            SubjectPermission::allow(["a.b", "a..b"]).first_invalid(),
            Some("a..b")
        );
        assert_eq!(
            SubjectPermission::allow(["a q r"]).first_invalid(),
            Some("a q r")
        );
        assert_eq!(SubjectPermission::allow(["a.> q"]).first_invalid(), None);
    }

    #[test]
    fn error_texts_match_nats_server() {
        assert_eq!(
            publish_violation(b"zzz"),
            "Permissions Violation for Publish to \"zzz\""
        );
        assert_eq!(
            subscribe_violation(b"q.a", Some(b"other")),
            "Permissions Violation for Subscription to \"q.a\" using queue \"other\""
        );
    }
}
