//! `/accountz`: the accounts (names), and with `?acc=NAME` one account's connections,
//! subscriptions, exports and imports, with nats-server's field names.
//!
//! The system account (`$SYS` unless `system_account` names another) is listed like the
//! others; the `$SYS` imports nats-server gives every account are not (natrium-server has
//! none).

use std::time::SystemTime;

use serde::Serialize;

use super::format;
use super::subsz::Stats;
use crate::accounts::{ExportKind, GLOBAL_ACCOUNT, ImportKind, ResponseType};
use crate::state::Shared;

/// `/accountz` without `acc`.
#[derive(Debug, Serialize)]
pub(crate) struct AccountList {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    system_account: String,
    accounts: Vec<String>,
}

/// `/accountz?acc=NAME`.
#[derive(Debug, Serialize)]
pub(crate) struct AccountDoc {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    account_detail: AccountDetail,
}

#[derive(Debug, Serialize)]
struct AccountDetail {
    account_name: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    update_time: SystemTime,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExportInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ImportInfo>,
    sublist_stats: Stats,
}

#[derive(Debug, Serialize)]
struct ExportInfo {
    subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_accounts: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct ImportInfo {
    subject: String,
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    local_subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    invalid: bool,
    share: bool,
    tracking: bool,
}

/// The account list: `$G` first, then the configured accounts in file order.
pub(crate) fn list(shared: &Shared) -> AccountList {
    let mut accounts = vec![GLOBAL_ACCOUNT.to_string()];
    accounts.extend(shared.accounts.current().names().map(str::to_owned));
    AccountList {
        server_id: shared.info.server_id.clone(),
        now: SystemTime::now(),
        system_account: shared.opts.system_account_name().to_owned(),
        accounts,
    }
}

/// One account's details; `Err` carries nats-server's text for an unknown account.
pub(crate) fn detail(shared: &Shared, name: &str) -> Result<AccountDoc, String> {
    let account = shared
        .accounts
        .get(name)
        .ok_or_else(|| format!("Account {name} does not exist"))?;
    let registry = shared.accounts.current();
    let config = registry.config(name);
    let exports = config
        .map(|c| c.exports.iter().map(export_info).collect())
        .unwrap_or_default();
    let imports = config
        .map(|c| c.imports.iter().map(import_info).collect())
        .unwrap_or_default();
    let client_connections = shared
        .clients
        .lock()
        .values()
        .filter(|c| &*shared.account_of(c).name == name)
        .count();
    Ok(AccountDoc {
        server_id: shared.info.server_id.clone(),
        now: SystemTime::now(),
        account_detail: AccountDetail {
            account_name: name.to_string(),
            update_time: shared.started,
            expired: false,
            complete: true,
            jetstream_enabled: shared
                .jetstream
                .get()
                .is_some_and(|js| js.account(name).is_some()),
            leafnode_connections: 0,
            client_connections,
            subscriptions: account.sublist.count(),
            exports,
            imports,
            sublist_stats: Stats::from(account.sublist.stats()),
        },
    })
}

fn export_info(e: &crate::accounts::Export) -> ExportInfo {
    let (kind, response_type) = match e.kind {
        ExportKind::Stream => ("stream", None),
        ExportKind::Service { response_type, .. } => (
            "service",
            Some(match response_type {
                ResponseType::Singleton => "Singleton",
                ResponseType::Stream => "Stream",
                ResponseType::Chunked => "Chunked",
            }),
        ),
    };
    ExportInfo {
        subject: e.subject.clone(),
        kind,
        response_type,
        approved_accounts: e.accounts.clone(),
    }
}

fn import_info(i: &crate::accounts::Import) -> ImportInfo {
    let (kind, to, local_subject) = match i.kind {
        ImportKind::Stream => {
            let local = match (&i.to, &i.prefix) {
                (Some(to), _) => to.clone(),
                (None, Some(prefix)) => format!("{prefix}.{}", i.subject),
                (None, None) => i.subject.clone(),
            };
            ("stream", None, local)
        }
        ImportKind::Service => {
            let local = i.to.clone().unwrap_or_else(|| i.subject.clone());
            ("service", Some(local.clone()), local)
        }
    };
    ImportInfo {
        subject: i.subject.clone(),
        account: i.account.clone(),
        to,
        local_subject,
        kind,
        invalid: false,
        share: false,
        tracking: false,
    }
}
