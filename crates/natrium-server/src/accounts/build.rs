//! Building the accounts from the options: every check nats-server makes at load (with its
//! texts), then the import routes installed as internal subscriptions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use natrium_wire::{is_subset_match, subjects_overlap};

use super::mapping::SubjectMap;
use super::options::{AccountOptions, ExportKind, GLOBAL_ACCOUNT, Import, ImportKind};
use super::route::ImportRoute;
use super::{Account, Registry};
use crate::client::Client;
use crate::options::{Auth, ServerOptions};
use crate::subscription::{SubRef, Subscription};

/// Why the accounts configuration was refused. The texts are nats-server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// An account may not be called `$G`.
    #[error("{0:?} is a Reserved Account")]
    Reserved(String),
    /// Two accounts with one name.
    #[error("Duplicate account {0:?} detected")]
    DuplicateAccount(String),
    /// Two users with one name, in accounts or the authorization block.
    #[error("Duplicate user {0:?} detected")]
    DuplicateUser(String),
    /// Two users with one nkey.
    #[error("Duplicate nkey {0:?} detected")]
    DuplicateNkey(String),
    /// A user names an account that does not exist.
    #[error("user {user:?} names the unknown account {account:?}")]
    UnknownUserAccount {
        /// The user (name or nkey).
        user: String,
        /// The account it names.
        account: String,
    },
    /// An import names an account that does not exist.
    #[error("{account:?} account not defined for {} import", kind.as_str())]
    UnknownImportAccount {
        /// Stream or service.
        kind: ImportKind,
        /// The account named.
        account: String,
    },
    /// An import that the exporter does not allow (no export covers it, or it is private
    /// to other accounts), or that cannot be set up; `reason` is nats-server's text.
    #[error("Error adding {} import {subject:?}: {reason}", kind.as_str())]
    Import {
        /// Stream or service.
        kind: ImportKind,
        /// The imported subject.
        subject: String,
        /// Why.
        reason: String,
    },
    /// `no_auth_user` names nobody.
    #[error(
        "no_auth_user: {0:?} not present as user or nkey in authorization block or account configuration"
    )]
    NoAuthUser(String),
}

fn import_error(import: &Import, reason: impl Into<String>) -> AccountError {
    AccountError::Import {
        kind: import.kind,
        subject: import.subject.clone(),
        reason: reason.into(),
    }
}

/// Checks the accounts, users and `no_auth_user` of `opts` as nats-server does at load.
pub(crate) fn validate(opts: &ServerOptions) -> Result<(), AccountError> {
    plan(opts).map(drop)
}

/// One import, checked, with what its internal subscription needs.
struct Planned {
    /// Index of the account whose index holds the subscription.
    owner: usize,
    subject: String,
    route: PlannedRoute,
}

enum PlannedRoute {
    Stream {
        into: usize,
        map: SubjectMap,
    },
    Service {
        into: usize,
        from: usize,
        map: SubjectMap,
        export: ExportKind,
    },
}

/// Checks everything; returns the routes to install.
fn plan(opts: &ServerOptions) -> Result<Vec<Planned>, AccountError> {
    let accounts = &opts.accounts;
    let mut index = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        if a.name == GLOBAL_ACCOUNT {
            return Err(AccountError::Reserved(a.name.clone()));
        }
        if index.insert(a.name.as_str(), i).is_some() {
            return Err(AccountError::DuplicateAccount(a.name.clone()));
        }
    }
    check_users(opts, &index)?;
    let mut planned = Vec::new();
    // Service imports already accepted: (importer, exporter, local subject, remote subject).
    let mut services: Vec<(usize, usize, String, String)> = Vec::new();
    for (importer, account) in accounts.iter().enumerate() {
        for import in &account.imports {
            let Some(&exporter) = index.get(import.account.as_str()) else {
                return Err(AccountError::UnknownImportAccount {
                    kind: import.kind,
                    account: import.account.clone(),
                });
            };
            if import.kind == ImportKind::Stream
                && let Some(prefix) = &import.prefix
                && prefix.split('.').any(|t| t == "*" || t == ">")
            {
                return Err(import_error(
                    import,
                    "stream import prefix can not contain wildcard tokens",
                ));
            }
            let export =
                authorized_export(&accounts[exporter], &account.name, import).ok_or_else(|| {
                    import_error(
                        import,
                        format!("{} import not authorized", import.kind.as_str()),
                    )
                })?;
            let (from, to) = match import.kind {
                // Messages go from the exporter's subject to the importer's.
                ImportKind::Stream => {
                    let to = match (&import.to, &import.prefix) {
                        (Some(to), _) => to.clone(),
                        (None, Some(prefix)) => format!("{prefix}.{}", import.subject),
                        (None, None) => import.subject.clone(),
                    };
                    (import.subject.clone(), to)
                }
                // Requests go from the importer's subject to the exporter's.
                ImportKind::Service => (
                    import.to.clone().unwrap_or_else(|| import.subject.clone()),
                    import.subject.clone(),
                ),
            };
            let map = SubjectMap::new(&from, &to).map_err(|reason| {
                import_error(
                    import,
                    format!(
                        "failed to create mapping transform for {} import subject from {from:?} \
                         to {to:?}: {reason}",
                        import.kind.as_str()
                    ),
                )
            })?;
            let route = match import.kind {
                ImportKind::Stream => Planned {
                    owner: exporter,
                    subject: from,
                    route: PlannedRoute::Stream {
                        into: importer,
                        map,
                    },
                },
                ImportKind::Service => {
                    if forms_cycle(&services, importer, exporter, &from, &mut HashSet::new()) {
                        return Err(import_error(import, "import forms a cycle"));
                    }
                    services.push((importer, exporter, from.clone(), to));
                    Planned {
                        owner: importer,
                        subject: from,
                        route: PlannedRoute::Service {
                            into: exporter,
                            from: importer,
                            map,
                            export,
                        },
                    }
                }
            };
            planned.push(route);
        }
    }
    Ok(planned)
}

/// The export of `exporter` that lets `importer` import `import`: same kind, covering its
/// subject, public or listing the importer.
fn authorized_export(
    exporter: &AccountOptions,
    importer: &str,
    import: &Import,
) -> Option<ExportKind> {
    exporter
        .exports
        .iter()
        .find(|e| {
            let kind_ok = matches!(
                (e.kind, import.kind),
                (ExportKind::Stream, ImportKind::Stream)
                    | (ExportKind::Service { .. }, ImportKind::Service)
            );
            kind_ok
                && is_subset_match(import.subject.as_bytes(), e.subject.as_bytes())
                && e.accounts
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|a| a == importer))
        })
        .map(|e| e.kind)
}

/// Whether a service import by `importer` from `exporter` on the importer's `subject` would
/// let a request come back to the importer: the exporter (or an account it imports from, and
/// so on) already imports an overlapping service from the importer.
fn forms_cycle(
    services: &[(usize, usize, String, String)],
    importer: usize,
    exporter: usize,
    subject: &str,
    seen: &mut HashSet<usize>,
) -> bool {
    if !seen.insert(exporter) {
        return false;
    }
    services.iter().any(|(owner, target, local, remote)| {
        *owner == exporter
            && subjects_overlap(local.as_bytes(), subject.as_bytes())
            && (*target == importer || forms_cycle(services, importer, *target, remote, seen))
    })
}

/// Users: unique names and nkeys, existing accounts, and a `no_auth_user` that exists.
fn check_users(opts: &ServerOptions, index: &HashMap<&str, usize>) -> Result<(), AccountError> {
    let users = match &opts.auth {
        Auth::Users(users) => users.as_slice(),
        _ => &[],
    };
    let mut names = HashSet::new();
    let mut nkeys = HashSet::new();
    for u in users {
        match &u.nkey {
            Some(nkey) => {
                if !nkeys.insert(nkey.as_str()) {
                    return Err(AccountError::DuplicateNkey(nkey.clone()));
                }
            }
            None => {
                if !names.insert(u.username.as_str()) {
                    return Err(AccountError::DuplicateUser(u.username.clone()));
                }
            }
        }
        if let Some(account) = &u.account
            && account != GLOBAL_ACCOUNT
            && !index.contains_key(account.as_str())
        {
            return Err(AccountError::UnknownUserAccount {
                user: u.nkey.clone().unwrap_or_else(|| u.username.clone()),
                account: account.clone(),
            });
        }
    }
    if let Some(name) = &opts.no_auth_user
        && !names.contains(name.as_str())
        && !nkeys.contains(name.as_str())
    {
        return Err(AccountError::NoAuthUser(name.clone()));
    }
    Ok(())
}

/// The accounts of `opts` with their import routes installed; the routes' subscriptions
/// belong to `owner` (the server's internal client). Accounts `previous` already has (by
/// name, `global` always) are kept, with their subject indexes and clients: only their import
/// routes are replaced.
pub(super) fn registry(
    opts: &ServerOptions,
    owner: &Arc<Client>,
    global: &Arc<Account>,
    previous: Option<&Registry>,
) -> Result<Registry, AccountError> {
    let planned = plan(opts)?;
    let named: Vec<Arc<Account>> = opts
        .accounts
        .iter()
        .map(|a| {
            previous
                .and_then(|p| p.by_name.get(a.name.as_str()).cloned())
                .unwrap_or_else(|| Arc::new(Account::new(&a.name)))
        })
        .collect();
    for account in named.iter().chain([global]) {
        account.remove_imports();
    }
    let install = |account: &Arc<Account>, subject: &str, route: ImportRoute| {
        let sub = SubRef(Arc::new(Subscription::import(
            owner.clone(),
            subject.as_bytes(),
            route,
        )));
        // Subjects were checked above; a refusal here would be a bug, logged, not fatal.
        match account
            .sublist
            .insert(subject.as_bytes(), None, sub.clone())
        {
            Ok(()) => account
                .imports
                .lock()
                .push((subject.as_bytes().into(), sub)),
            Err(e) => {
                tracing::error!(account = %account.name, subject, "import not installed: {e:?}")
            }
        }
    };
    let mut answering = HashSet::new();
    for p in planned {
        let route = match p.route {
            PlannedRoute::Stream { into, map } => ImportRoute::Stream {
                into: Arc::downgrade(&named[into]),
                map,
            },
            PlannedRoute::Service {
                into,
                from,
                map,
                export,
            } => {
                let (singleton, threshold) = match export {
                    ExportKind::Service {
                        response_type,
                        response_threshold,
                    } => (
                        response_type == super::ResponseType::Singleton,
                        response_threshold,
                    ),
                    ExportKind::Stream => (true, super::DEFAULT_RESPONSE_THRESHOLD),
                };
                // The exporter sends answers back through its reply prefix.
                if answering.insert(into) {
                    let exporter = &named[into];
                    let mut prefix = String::from_utf8_lossy(&exporter.reply_prefix).into_owned();
                    prefix.push('>');
                    let back = ImportRoute::Responses {
                        account: Arc::downgrade(exporter),
                    };
                    install(exporter, &prefix, back);
                }
                ImportRoute::Service {
                    into: Arc::downgrade(&named[into]),
                    from: Arc::downgrade(&named[from]),
                    map,
                    singleton,
                    threshold,
                }
            }
        };
        install(&named[p.owner], &p.subject, route);
    }
    let mut all = named;
    all.push(global.clone());
    let by_name = all.iter().map(|a| (a.name.clone(), a.clone())).collect();
    Ok(Registry {
        all,
        by_name,
        configs: opts.accounts.clone(),
    })
}
