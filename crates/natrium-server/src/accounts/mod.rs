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
pub(crate) mod conf;
mod mapping;
mod options;
pub(crate) mod route;

use std::collections::HashMap;
use std::sync::Arc;

use natrium_sublist::Sublist;
use parking_lot::Mutex;

pub use build::AccountError;
pub(crate) use build::validate;
pub use options::{
    AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, GLOBAL_ACCOUNT, Import,
    ImportKind, ResponseType,
};

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
        }
    }
}

/// Every account of the server, the global one included.
#[derive(Debug)]
pub(crate) struct Accounts {
    global: Arc<Account>,
    /// Named accounts in configuration order, then `$G`.
    all: Vec<Arc<Account>>,
    by_name: HashMap<Arc<str>, Arc<Account>>,
    /// Import routes installed in the indexes (not client subscriptions).
    internal_subs: usize,
}

impl Accounts {
    /// The global account `$G`.
    pub(crate) fn global(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account named `name` (`$G` included).
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    /// The account of a user: its own, or `$G` for users outside any account; `None` when
    /// it names an account this server does not have.
    pub(crate) fn for_user(&self, account: Option<&str>) -> Option<&Arc<Account>> {
        match account {
            Some(name) => self.get(name),
            None => Some(&self.global),
        }
    }

    /// Every account, `$G` last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.all.iter()
    }

    /// Client subscriptions in every account (import routes not counted).
    pub(crate) fn subscription_count(&self) -> usize {
        let all: usize = self.all.iter().map(|a| a.sublist.count()).sum();
        all.saturating_sub(self.internal_subs)
    }
}
