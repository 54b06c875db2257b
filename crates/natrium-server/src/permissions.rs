//! Per-user publish and subscribe permissions, with nats-server 2.9's semantics.
//!
//! - An empty (or absent) allow list allows every subject; a deny entry always wins.
//! - Entries may hold wildcards. A subscription subject is matched with its own tokens taken
//!   literally, so `SUB foo.*` needs an entry such as `foo.*` or `foo.>` (not `foo.bar`).
//! - An entry `"subject queue"` only concerns queue subscriptions in that group.
//! - A wildcard subscription allowed despite a deny list (`SUB foo.*` with `foo.bar` denied)
//!   does not receive messages on the denied subjects.
//!
//! Lists are compiled once per connection; publish decisions are cached per connection, so
//! a publisher repeating subjects pays one hash lookup per message.

use std::collections::HashMap;
use std::sync::Arc;

use crate::options::Auth;

/// What a user may publish to and subscribe to. `None` leaves that side unrestricted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: Option<SubjectPermission>,
    /// Subjects the user may subscribe to (entries may be `"subject queue"`).
    pub subscribe: Option<SubjectPermission>,
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

/// One compiled list entry: subject tokens and, for the queue form, the queue pattern.
#[derive(Debug)]
struct Entry {
    subject: Vec<Box<[u8]>>,
    queue: Option<Box<[u8]>>,
}

fn split_tokens(s: &[u8]) -> Vec<Box<[u8]>> {
    s.split(|&b| b == b'.').map(Into::into).collect()
}

/// Whether `pattern` (wildcards active) matches `subject` (every token literal, `*` and `>`
/// included), as nats-server's sublist matches a subscription subject against a list.
fn pattern_matches(pattern: &[Box<[u8]>], subject: &[u8]) -> bool {
    let mut tokens = subject.split(|&b| b == b'.');
    for p in pattern {
        if &**p == b">" {
            return tokens.next().is_some();
        }
        match tokens.next() {
            Some(t) if &**p == b"*" || **p == *t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

impl Entry {
    fn parse(text: &str) -> Entry {
        let mut parts = text.split_whitespace();
        Entry {
            subject: split_tokens(parts.next().unwrap_or_default().as_bytes()),
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
    for e in list.iter().filter(|e| pattern_matches(&e.subject, subject)) {
        match &e.queue {
            Some(q) => m.queues.push(q),
            None => m.plain = true,
        }
    }
    m
}

fn queue_matches(queue: &[u8], patterns: &[&[u8]]) -> bool {
    patterns
        .iter()
        .any(|p| pattern_matches(&split_tokens(p), queue))
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
}

impl CompiledPermissions {
    pub(crate) fn compile(p: &Permissions) -> Arc<CompiledPermissions> {
        Arc::new(CompiledPermissions {
            publish: p.publish.as_ref().map(Rules::compile),
            subscribe: p.subscribe.as_ref().map(Rules::compile),
        })
    }
}

/// Publish decisions cached per connection before the cache starts over (nats-server: 128).
const PUBLISH_CACHE_SIZE: usize = 128;

/// A connection's permissions and its cache of publish decisions.
#[derive(Debug)]
pub(crate) struct ConnectionPermissions {
    rules: Arc<CompiledPermissions>,
    publish_cache: HashMap<Box<[u8]>, bool>,
}

impl ConnectionPermissions {
    pub(crate) fn new(rules: Arc<CompiledPermissions>) -> Self {
        ConnectionPermissions {
            rules,
            publish_cache: HashMap::new(),
        }
    }

    /// Whether this connection may publish to `subject`.
    pub(crate) fn can_publish(&mut self, subject: &[u8]) -> bool {
        let Some(rules) = &self.rules.publish else {
            return true;
        };
        if let Some(&allowed) = self.publish_cache.get(subject) {
            return allowed;
        }
        let allowed = rules.can_publish(subject);
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

/// The permissions of the authenticated user `name`, when `auth` restricts that user.
pub(crate) fn for_user(auth: &Auth, name: Option<&str>) -> Option<ConnectionPermissions> {
    let (Auth::Users(users), Some(name)) = (auth, name) else {
        return None;
    };
    let user = users.iter().find(|u| u.username == name)?;
    let perms = user.permissions.as_ref()?;
    Some(ConnectionPermissions::new(CompiledPermissions::compile(
        perms,
    )))
}

/// Reads a `permissions { publish: ..., subscribe: ... }` block of a configuration file.
/// Each side is a subject, a list of subjects (the allow list), or `{ allow, deny }`.
pub(crate) fn from_conf(v: &natrium_conf::Value) -> Result<Permissions, String> {
    let mut perms = Permissions::default();
    for entry in v.as_map().map_err(|e| e.to_string())?.iter() {
        let side = match entry.key().to_ascii_lowercase().as_str() {
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
        });
        assert!(c.can_publish(b"foo.bar"));
        assert!(!c.can_publish(b"foo.secret"));
        assert!(!c.can_publish(b"admin.x.y"));
        assert!(c.can_publish(b"admin"));
        // Cached answers stay the same.
        assert!(!c.can_publish(b"foo.secret"));
        assert!(c.can_subscribe(b">", None));
    }

    #[test]
    fn allow_list_with_wildcards() {
        let mut c = conn(Permissions {
            publish: Some(SubjectPermission::allow(["foo.>", "bar"]).deny(["foo.secret"])),
            subscribe: Some(SubjectPermission::allow(["foo.*", "q.> grp"]).deny(["foo.bar"])),
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
        });
        assert!(c.can_subscribe(b"z.*", None));
        assert!(!c.can_subscribe(b"*", None));
        assert!(!c.can_subscribe(b">", None));
        assert!(c.delivery_filter().is_none());
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
