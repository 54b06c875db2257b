//! Accounts: isolated subject spaces. Each account has its own subject index, so the same
//! subject in two accounts never crosses; exports and imports are the only bridges.
//!
//! A connection's account is fixed at CONNECT (its user's account, or the global account
//! `$G`), so routing a message costs no account lookup. An import is an internal
//! subscription ([`route::ImportRoute`]) in the index of the account the messages start in:
//! a stream import sits in the exporter's index, a service import in the importer's, and
//! an account with service exports has one more on its reply prefix (`_R_.<id>.>`), which
//! sends answers back to the requesting account.

mod build;
mod mapping;
pub(crate) mod options;
pub(crate) mod route;
pub(crate) mod waiters;

use std::collections::HashMap;
use std::sync::Arc;

use natrium_sublist::Sublist;
use parking_lot::{Mutex, RwLock};

pub use build::AccountError;
pub(crate) use build::validate;
pub use options::{
    AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, GLOBAL_ACCOUNT, Import,
    ImportKind, JetStreamLimits, ResponseType,
};

use crate::client::Client;
use crate::options::ServerOptions;
use crate::subscription::SubRef;

/// One account at run time.
pub(crate) struct Account {
    pub name: Arc<str>,
    pub sublist: Sublist<SubRef>,
    /// Reply subjects given to requests that came in through a service import start with
    /// this (`_R_.<id>.`), so the answers can be told apart and sent back.
    pub reply_prefix: Box<[u8]>,
    /// The requests in flight through service imports, by the reply subject given to them.
    pub responses: Mutex<HashMap<Box<[u8]>, route::PendingReply>>,
    /// The import routes installed in `sublist` (removed when a reload replaces them).
    imports: Mutex<Vec<(Box<[u8]>, SubRef)>>,
    /// What the account's closed connections carried (the open ones count their own).
    pub closed_traffic: Mutex<Traffic>,
    /// Its clients cut off as slow consumers.
    pub slow_consumers: std::sync::atomic::AtomicU64,
    /// The server's own subscriptions in `sublist` (the system account's services), not
    /// counted as clients' subscriptions.
    pub internal_subs: std::sync::atomic::AtomicUsize,
    /// The server's subscribers' owners waiting for a client to listen on a subject.
    pub interest_waiters: waiters::InterestWaiters,
}

/// Messages and bytes received from and sent to clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Traffic {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl Traffic {
    /// A client's traffic so far.
    pub(crate) fn of(client: &Client) -> Traffic {
        use std::sync::atomic::Ordering::Relaxed;
        let out = client.outbound.stats();
        Traffic {
            in_msgs: client.in_msgs.load(Relaxed),
            in_bytes: client.in_bytes.load(Relaxed),
            out_msgs: out.out_msgs,
            out_bytes: out.out_bytes,
        }
    }

    pub(crate) fn add(&mut self, other: Traffic) {
        self.in_msgs += other.in_msgs;
        self.in_bytes += other.in_bytes;
        self.out_msgs += other.out_msgs;
        self.out_bytes += other.out_bytes;
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Account {
    fn new(name: &str) -> Account {
        let mut reply_prefix = b"_R_.".to_vec();
        reply_prefix.extend_from_slice(nuid::next().as_bytes()[..8].as_ref());
        reply_prefix.push(b'.');
        Account {
            name: Arc::from(name),
            sublist: Sublist::new(),
            reply_prefix: reply_prefix.into(),
            responses: Mutex::new(HashMap::new()),
            imports: Mutex::new(Vec::new()),
            closed_traffic: Mutex::new(Traffic::default()),
            slow_consumers: std::sync::atomic::AtomicU64::new(0),
            internal_subs: std::sync::atomic::AtomicUsize::new(0),
            interest_waiters: waiters::InterestWaiters::default(),
        }
    }

    /// Whether anyone (a client or the server) in this account listens on `subject`.
    pub(crate) fn has_interest(&self, subject: &[u8]) -> bool {
        let m = self.sublist.matches(subject);
        !m.plain.is_empty() || m.queues.iter().any(|g| !g.members.is_empty())
    }

    /// Takes this account's import routes out of its subject index.
    fn remove_imports(&self) {
        for (subject, sub) in self.imports.lock().drain(..) {
            self.sublist.remove(&subject, None, &sub);
        }
    }
}

/// The accounts at one time: what a reload replaces as a whole.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Named accounts in configuration order, then `$G`.
    all: Vec<Arc<Account>>,
    by_name: HashMap<Arc<str>, Arc<Account>>,
    /// The settings they were built from (for `/accountz`).
    configs: Vec<AccountOptions>,
}

/// Every account of the server, the global one included. A reload may add, remove or change
/// accounts; connections keep the [`Account`] they were given at CONNECT.
pub(crate) struct Accounts {
    global: Arc<Account>,
    current: RwLock<Arc<Registry>>,
    /// Owns the import routes' subscriptions (the server's internal client).
    owner: Arc<Client>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("current", &self.current.read())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts of `opts`, checked, with their import routes installed.
    pub(crate) fn build(opts: &ServerOptions, owner: &Arc<Client>) -> Result<Self, AccountError> {
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let registry = build::registry(opts, owner, &global, None)?;
        Ok(Accounts {
            global,
            current: RwLock::new(Arc::new(registry)),
            owner: owner.clone(),
        })
    }

    /// Replaces the accounts with those of `opts` (a reload). Accounts kept by name keep
    /// their clients and subscriptions; returns the accounts that are gone, whose clients
    /// the caller disconnects. On error nothing changes.
    pub(crate) fn replace(&self, opts: &ServerOptions) -> Result<Vec<Arc<Account>>, AccountError> {
        build::validate(opts)?;
        let mut current = self.current.write();
        let next = build::registry(opts, &self.owner, &self.global, Some(&current))?;
        let gone = current
            .all
            .iter()
            .filter(|a| !next.by_name.contains_key(&a.name))
            .cloned()
            .collect();
        *current = Arc::new(next);
        Ok(gone)
    }

    /// The accounts as they are now.
    pub(crate) fn current(&self) -> Arc<Registry> {
        self.current.read().clone()
    }

    /// The global account `$G` (the same for the server's whole life).
    pub(crate) fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account named `name` (`$G` included).
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Account>> {
        self.current.read().by_name.get(name).cloned()
    }

    /// The account of a user: its own, or `$G` for users outside any account; `None` when
    /// it names an account this server does not have.
    pub(crate) fn for_user(&self, account: Option<&str>) -> Option<Arc<Account>> {
        match account {
            Some(name) => self.get(name),
            None => Some(self.global.clone()),
        }
    }

    /// Every account, `$G` last.
    pub(crate) fn all(&self) -> Vec<Arc<Account>> {
        self.current.read().all.clone()
    }

    /// Client subscriptions in every account (import routes not counted).
    pub(crate) fn subscription_count(&self) -> usize {
        self.current
            .read()
            .all
            .iter()
            .map(|a| {
                let internal = a.internal_subs.load(std::sync::atomic::Ordering::Relaxed);
                a.sublist
                    .count()
                    .saturating_sub(a.imports.lock().len() + internal)
            })
            .sum()
    }
}

impl Registry {
    /// The settings of the account named `name`, if it is a configured one.
    pub(crate) fn config(&self, name: &str) -> Option<&AccountOptions> {
        self.configs.iter().find(|c| c.name == name)
    }

    /// The configured accounts' names, in configuration order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.configs.iter().map(|c| c.name.as_str())
    }
}
