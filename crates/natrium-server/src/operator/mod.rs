//! Operator mode (decentralized JWT auth): the server trusts operators, learns accounts
//! from account JWTs the operator signed (`resolver: MEMORY` + `resolver_preload`), and
//! admits users who present a user JWT signed by their account (or one of its signing keys)
//! and sign the INFO nonce with the user's seed.
//!
//! Each trusted account becomes an ordinary account (named by its public key) with the
//! exports and imports of its JWT, so isolation and imports work as in the `accounts` block.

pub(crate) mod jwt;
pub(crate) mod options;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::accounts::options::{
    AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, Import, ImportKind,
    JetStreamLimits, ResponseType,
};
use crate::permissions::{Permissions, ResponsePermission, SubjectPermission};
pub use jwt::JwtError;
pub use options::OperatorOptions;

/// Why the operator-mode settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// No operator JWT.
    #[error("operator mode needs at least one operator JWT")]
    NoOperator,
    /// A JWT does not decode or verify.
    #[error("{what}: {source}")]
    Jwt {
        /// Which JWT.
        what: String,
        /// Why.
        source: JwtError,
    },
    /// An operator JWT is not self-signed.
    #[error("operator JWT for {0} is not self-signed")]
    NotSelfSigned(String),
    /// An account JWT was not signed by a trusted operator (or its signing keys).
    #[error("account JWT for {account} is signed by {issuer}, not by a trusted operator")]
    UntrustedAccount {
        /// The account.
        account: String,
        /// Who signed it.
        issuer: String,
    },
    /// `system_account` names an account the configuration does not have.
    #[error("error resolving system account: account missing")]
    SystemAccountMissing,
    /// `resolver_preload` files a JWT under another account's key.
    #[error("resolver_preload: the JWT under {key} is for account {subject}")]
    KeyMismatch {
        /// The key it is filed under.
        key: String,
        /// The account the JWT is about.
        subject: String,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
struct OperatorNats {
    #[serde(default)]
    signing_keys: Vec<SigningKey>,
}

/// A signing key: a plain public key, or (scoped keys) an object with `key`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SigningKey {
    Plain(String),
    Scoped { key: String },
}

impl SigningKey {
    fn key(&self) -> &str {
        match self {
            SigningKey::Plain(k) | SigningKey::Scoped { key: k } => k,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Limits {
    #[serde(default = "unlimited")]
    subs: i64,
    #[serde(default = "unlimited")]
    conn: i64,
    #[serde(default = "unlimited")]
    payload: i64,
    #[serde(flatten)]
    jetstream: JwtJetStreamLimits,
}

/// An account JWT's JetStream limits: JetStream is on when either storage limit is not 0
/// (as nats-server reads them; a missing limit is 0).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct JwtJetStreamLimits {
    #[serde(default)]
    mem_storage: i64,
    #[serde(default)]
    disk_storage: i64,
    #[serde(default)]
    streams: i64,
    #[serde(default)]
    consumer: i64,
    #[serde(default)]
    max_ack_pending: i64,
    #[serde(default)]
    mem_max_stream_bytes: i64,
    #[serde(default)]
    disk_max_stream_bytes: i64,
    #[serde(default)]
    max_bytes_required: bool,
}

/// nats-server reads 0 (or a missing claim) as no limit for these.
fn unset_is_unlimited(n: i64) -> i64 {
    if n == 0 { -1 } else { n }
}

impl JwtJetStreamLimits {
    fn limits(&self) -> Option<JetStreamLimits> {
        if self.mem_storage == 0 && self.disk_storage == 0 {
            return None;
        }
        Some(JetStreamLimits {
            max_memory: self.mem_storage,
            max_store: self.disk_storage,
            max_streams: self.streams,
            max_consumers: self.consumer,
            max_ack_pending: unset_is_unlimited(self.max_ack_pending),
            memory_max_stream_bytes: unset_is_unlimited(self.mem_max_stream_bytes),
            store_max_stream_bytes: unset_is_unlimited(self.disk_max_stream_bytes),
            max_bytes_required: self.max_bytes_required,
        })
    }
}

fn unlimited() -> i64 {
    -1
}

#[derive(Debug, Clone, Default, Deserialize)]
struct JwtExport {
    #[serde(default)]
    subject: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    response_type: Option<String>,
    #[serde(default)]
    response_threshold: Option<i64>,
    #[serde(default)]
    token_req: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct JwtImport {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    local_subject: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    /// The activation token a private export asks for.
    #[serde(default)]
    token: Option<String>,
}

/// The `nats` part of an activation token: what the exporter lets the token's subject (the
/// importing account) import.
#[derive(Debug, Clone, Default, Deserialize)]
struct ActivationNats {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    kind: String,
    /// The exporting account, when a signing key of it signed the token.
    #[serde(default)]
    issuer_account: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct JwtPermission {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct JwtPermissions {
    #[serde(default, rename = "pub")]
    publish: Option<JwtPermission>,
    #[serde(default, rename = "sub")]
    subscribe: Option<JwtPermission>,
    #[serde(default)]
    resp: Option<JwtResponse>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct JwtResponse {
    #[serde(default)]
    max: i64,
    /// Nanoseconds.
    #[serde(default)]
    ttl: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct AccountNats {
    #[serde(default)]
    limits: Option<Limits>,
    #[serde(default)]
    signing_keys: Vec<SigningKey>,
    #[serde(default)]
    revocations: HashMap<String, i64>,
    #[serde(default)]
    exports: Vec<JwtExport>,
    #[serde(default)]
    imports: Vec<JwtImport>,
    #[serde(default)]
    default_permissions: Option<JwtPermissions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct UserNats {
    #[serde(flatten)]
    permissions: JwtPermissions,
    #[serde(default = "unlimited")]
    subs: i64,
    #[serde(default = "unlimited")]
    payload: i64,
    #[serde(default)]
    bearer_token: bool,
    #[serde(default)]
    issuer_account: Option<String>,
}

/// `opts`' accounts with the trusted JWT accounts added, and the trust to check users with
/// (`None` outside operator mode).
pub(crate) fn expand(
    opts: &crate::ServerOptions,
) -> Result<(Vec<AccountOptions>, Option<Trust>), OperatorError> {
    let Some(op) = &opts.operator else {
        let name = opts.system_account_name();
        let named = opts.system_account.is_some();
        if named && !opts.accounts.iter().any(|a| a.name == name) {
            // As nats-server: a named system account must be one of the accounts.
            return Err(OperatorError::SystemAccountMissing);
        }
        return Ok((with_system_account(opts.accounts.clone(), opts), None));
    };
    let trust = Trust::new(op)?;
    Ok((accounts_with(opts, &trust), Some(trust)))
}

/// The accounts of `opts` with `trust`'s (after an account JWT update, the updated ones) and
/// the system account.
pub(crate) fn accounts_with(opts: &crate::ServerOptions, trust: &Trust) -> Vec<AccountOptions> {
    let mut accounts = opts.accounts.clone();
    accounts.extend(trust.account_options().cloned());
    with_system_account(accounts, opts)
}

/// The account an account JWT is about (decoded and its signature checked).
pub(crate) fn account_subject(token: &str) -> Result<String, JwtError> {
    jwt::decode::<AccountNats>(token, "account").map(|c| c.sub)
}

/// `accounts` with the system account added when it is not one of them (nats-server creates
/// it, empty: `$SYS` unless `system_account` names another).
fn with_system_account(
    mut accounts: Vec<AccountOptions>,
    opts: &crate::ServerOptions,
) -> Vec<AccountOptions> {
    let name = opts.system_account_name();
    if !accounts.iter().any(|a| a.name == name) {
        accounts.push(AccountOptions::new(name));
    }
    accounts
}

/// A user JWT a client connected with: what events show and what revocations are checked
/// against.
#[derive(Debug, Clone)]
pub(crate) struct UserToken {
    /// The JWT itself.
    pub token: Box<str>,
    /// Who signed it: the account or one of its signing keys.
    pub issuer: Box<str>,
    /// The user's public key.
    pub subject: Box<str>,
    /// `iat`, in seconds since the epoch.
    pub issued_at: i64,
}

/// One trusted account.
#[derive(Debug)]
struct TrustedAccount {
    signing_keys: HashSet<String>,
    revocations: HashMap<String, i64>,
    limits: Limits,
    default_permissions: Option<Permissions>,
    expires: Option<i64>,
    options: AccountOptions,
    /// The account JWT it was built from.
    token: String,
    /// The JWT's `name` (events show it as the account's `name_tag`).
    name: String,
}

/// The operators and accounts this server trusts.
#[derive(Debug)]
pub(crate) struct Trust {
    accounts: HashMap<String, TrustedAccount>,
    order: Vec<String>,
    /// The settings it was built from, kept to build the next one (an account JWT update).
    source: OperatorOptions,
}

/// A user admitted by its JWT.
#[derive(Debug, Clone)]
pub(crate) struct JwtUser {
    /// The user's public key (shown as its name).
    pub name: String,
    /// The account's public key.
    pub account: String,
    pub permissions: Option<Permissions>,
    /// When the JWT expires.
    pub expires: Option<SystemTime>,
    /// The user's (or its account's) subscription limit.
    pub max_subs: Option<usize>,
    /// The user's (or its account's) payload limit.
    pub max_payload: Option<usize>,
    /// The account's limit of active connections.
    pub max_account_connections: Option<usize>,
    /// The JWT itself, with what revocations are checked against.
    pub token: UserToken,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn limit(n: i64) -> Option<usize> {
    usize::try_from(n).ok()
}

fn permission(p: Option<JwtPermission>) -> Option<SubjectPermission> {
    p.filter(|p| !p.allow.is_empty() || !p.deny.is_empty())
        .map(|p| SubjectPermission {
            allow: p.allow,
            deny: p.deny,
        })
}

fn permissions(p: JwtPermissions) -> Option<Permissions> {
    let perms = Permissions {
        publish: permission(p.publish),
        subscribe: permission(p.subscribe),
        allow_responses: p.resp.map(|r| ResponsePermission {
            max_msgs: u64::try_from(r.max).ok().filter(|&n| n > 0),
            expires: u64::try_from(r.ttl)
                .ok()
                .filter(|&n| n > 0)
                .map(Duration::from_nanos),
        }),
    };
    let open =
        perms.publish.is_none() && perms.subscribe.is_none() && perms.allow_responses.is_none();
    (!open).then_some(perms)
}

impl Trust {
    /// Decodes and checks every JWT of `opts`.
    pub(crate) fn new(opts: &OperatorOptions) -> Result<Trust, OperatorError> {
        if opts.operators.is_empty() {
            return Err(OperatorError::NoOperator);
        }
        let mut operator_keys = HashSet::new();
        for token in &opts.operators {
            let claims: jwt::Claims<OperatorNats> =
                jwt::decode(token, "operator").map_err(|source| OperatorError::Jwt {
                    what: "operator JWT".into(),
                    source,
                })?;
            if claims.iss != claims.sub {
                return Err(OperatorError::NotSelfSigned(claims.sub));
            }
            operator_keys.insert(claims.sub.clone());
            operator_keys.extend(claims.nats.signing_keys.iter().map(|k| k.key().to_string()));
        }
        let mut decoded = Vec::new();
        for (key, token) in &opts.accounts {
            let claims: jwt::Claims<AccountNats> =
                jwt::decode(token, "account").map_err(|source| OperatorError::Jwt {
                    what: format!("account JWT for {key}"),
                    source,
                })?;
            if &claims.sub != key {
                return Err(OperatorError::KeyMismatch {
                    key: key.clone(),
                    subject: claims.sub,
                });
            }
            if !operator_keys.contains(&claims.iss) {
                return Err(OperatorError::UntrustedAccount {
                    account: claims.sub,
                    issuer: claims.iss,
                });
            }
            decoded.push((key.clone(), token.clone(), claims));
        }
        let (grants, invalid) = activations(&decoded);
        // Imports of private exports: installed only with a grant.
        let needs_token: Vec<(String, String, String)> = decoded
            .iter()
            .flat_map(|(key, _, c)| c.nats.imports.iter().map(move |i| (key, i)))
            .filter(|(_, i)| private_only(&decoded, i))
            .map(|(key, i)| (key.clone(), i.account.clone(), i.subject.clone()))
            .collect();
        let mut accounts = HashMap::new();
        let mut order = Vec::new();
        for (key, token, claims) in decoded {
            if invalid.contains(&key) {
                continue;
            }
            let nats = claims.nats;
            let exports = nats
                .exports
                .iter()
                .filter_map(|e| {
                    let mut export = export(e)?;
                    if e.token_req {
                        // Private: only the accounts that hold an activation token for it.
                        export.accounts = Some(
                            grants
                                .iter()
                                .filter(|g| g.exporter == key && g.subject == e.subject)
                                .map(|g| g.importer.clone())
                                .collect(),
                        );
                    }
                    Some(export)
                })
                .collect();
            let imports = nats
                .imports
                .iter()
                .filter(|i| {
                    grants.iter().any(|g| {
                        g.importer == key
                            && g.exporter == i.account
                            && g.import_subject == i.subject
                    }) || !needs_token
                        .iter()
                        .any(|(k, a, s)| *k == key && *a == i.account && *s == i.subject)
                })
                .filter_map(import)
                .collect();
            let options = AccountOptions {
                name: key.clone(),
                exports,
                imports,
                jetstream: nats.limits.as_ref().and_then(|l| l.jetstream.limits()),
            };
            accounts.insert(
                key.clone(),
                TrustedAccount {
                    signing_keys: nats
                        .signing_keys
                        .iter()
                        .map(|k| k.key().to_string())
                        .collect(),
                    revocations: nats.revocations,
                    limits: nats.limits.unwrap_or(Limits {
                        subs: -1,
                        conn: -1,
                        payload: -1,
                        jetstream: JwtJetStreamLimits::default(),
                    }),
                    default_permissions: nats.default_permissions.and_then(permissions),
                    expires: claims.exp,
                    options,
                    token,
                    name: claims.name,
                },
            );
            order.push(key);
        }
        Ok(Trust {
            accounts,
            order,
            source: opts.clone(),
        })
    }

    /// The trust with account `key`'s JWT replaced by `token` (an account claims update).
    /// `Err` is nats-server's reason, for the update's reply.
    pub(crate) fn updated(&self, key: &str, token: &str) -> Result<Trust, ClaimsUpdateError> {
        let mut source = self.source.clone();
        match source.accounts.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = token.to_owned(),
            None => return Err(ClaimsUpdateError::Skipped),
        }
        Trust::new(&source).map_err(|e| match e {
            OperatorError::Jwt { .. } | OperatorError::KeyMismatch { .. } => {
                ClaimsUpdateError::Invalid(e.to_string())
            }
            _ => ClaimsUpdateError::Validation,
        })
    }

    /// Whether account `key` is trusted, with `token` as its JWT.
    pub(crate) fn has_account_jwt(&self, key: &str, token: &str) -> bool {
        self.accounts.get(key).is_some_and(|a| a.token == token)
    }

    /// Whether account `key` is trusted.
    pub(crate) fn has_account(&self, key: &str) -> bool {
        self.accounts.contains_key(key)
    }

    /// Whether account `key`'s revocations cover `user` (as nats-server: revoked when issued
    /// at or before the revocation time of its key or of `*`).
    pub(crate) fn is_revoked(&self, key: &str, user: &UserToken) -> bool {
        self.accounts.get(key).is_some_and(|a| {
            [&*user.subject, "*"]
                .iter()
                .filter_map(|k| a.revocations.get(*k))
                .any(|&at| user.issued_at <= at)
        })
    }

    /// The name account `key`'s JWT gives it.
    pub(crate) fn account_name(&self, key: &str) -> Option<&str> {
        self.accounts.get(key).map(|a| a.name.as_str())
    }

    /// Account `key`'s limit of active connections.
    pub(crate) fn connection_limit(&self, key: &str) -> Option<usize> {
        self.accounts.get(key).and_then(|a| limit(a.limits.conn))
    }

    /// The trusted accounts as accounts of the server, in `resolver_preload` order.
    pub(crate) fn account_options(&self) -> impl Iterator<Item = &AccountOptions> {
        self.order
            .iter()
            .filter_map(|k| self.accounts.get(k))
            .map(|a| &a.options)
    }

    /// Checks a user JWT, its nonce signature and its account's claims. `Err` says why (for
    /// the log; the client only gets `Authorization Violation`).
    pub(crate) fn authenticate(
        &self,
        token: &str,
        nonce: Option<&str>,
        sig: Option<&str>,
    ) -> Result<JwtUser, String> {
        let claims: jwt::Claims<UserNats> =
            jwt::decode(token, "user").map_err(|e| e.to_string())?;
        let now = now_secs();
        if claims.exp.is_some_and(|exp| exp <= now) {
            return Err("User JWT has expired".into());
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err("User JWT is not valid yet".into());
        }
        let account_key = claims
            .nats
            .issuer_account
            .clone()
            .unwrap_or_else(|| claims.iss.clone());
        let account = self
            .accounts
            .get(&account_key)
            .ok_or_else(|| format!("Account {account_key} not found"))?;
        let issuer_ok = claims.iss == account_key || account.signing_keys.contains(&claims.iss);
        if !issuer_ok {
            return Err(format!(
                "User JWT issuer {} is not trusted by its account",
                claims.iss
            ));
        }
        if account.expires.is_some_and(|exp| exp <= now) {
            return Err(format!("Account {account_key} has expired"));
        }
        let revoked = [claims.sub.as_str(), "*"]
            .iter()
            .filter_map(|k| account.revocations.get(*k))
            .any(|&at| claims.iat <= at);
        if revoked {
            return Err("User authentication revoked".into());
        }
        if !claims.nats.bearer_token {
            let (Some(nonce), Some(sig)) = (nonce, sig) else {
                return Err("Signature not present".into());
            };
            if !crate::auth::nonce_signed(&claims.sub, nonce, sig) {
                return Err("Signature not verified".into());
            }
        }
        let token_info = UserToken {
            token: token.trim().into(),
            issuer: claims.iss.as_str().into(),
            subject: claims.sub.as_str().into(),
            issued_at: claims.iat,
        };
        let user_limit = |user: i64, account: i64| match (limit(user), limit(account)) {
            (Some(u), Some(a)) => Some(u.min(a)),
            (u, a) => u.or(a),
        };
        Ok(JwtUser {
            name: claims.sub,
            account: account_key,
            permissions: permissions(claims.nats.permissions)
                .or_else(|| account.default_permissions.clone()),
            expires: claims
                .exp
                .and_then(|exp| u64::try_from(exp).ok())
                .map(|exp| UNIX_EPOCH + Duration::from_secs(exp)),
            max_subs: user_limit(claims.nats.subs, account.limits.subs),
            max_payload: user_limit(claims.nats.payload, account.limits.payload),
            max_account_connections: limit(account.limits.conn),
            token: token_info,
        })
    }
}

/// Why an account claims update was not applied (nats-server's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClaimsUpdateError {
    /// The server does not know the account: nothing to update.
    #[error("jwt update skipped")]
    Skipped,
    /// The JWT does not decode or verify.
    #[error("{0}")]
    Invalid(String),
    /// Not signed by a trusted operator.
    #[error("account validation failed")]
    Validation,
}

/// An activation token found valid: `importer` may import `subject` of `exporter`.
struct Grant {
    exporter: String,
    importer: String,
    /// The export's subject.
    subject: String,
    /// The import's subject.
    import_subject: String,
}

/// The imports whose activation tokens check out: signed by the exporting account (or one
/// of its signing keys), about the importing account, unexpired, for a private export of
/// the exporter that covers the import. An import without a valid token is left out with a
/// warning, as nats-server leaves it out.
///
/// A token that is not the exporter's, or not for the importing account, makes the importing
/// account invalid (nats-server's blocking validation error): its key is in the second list,
/// and the account is not trusted at all.
fn activations(
    decoded: &[(String, String, jwt::Claims<AccountNats>)],
) -> (Vec<Grant>, HashSet<String>) {
    let mut grants = Vec::new();
    let mut invalid = HashSet::new();
    let now = now_secs();
    for (importer, _, claims) in decoded {
        for i in &claims.nats.imports {
            let Some(token) = &i.token else { continue };
            let Some((_, _, exporter)) = decoded.iter().find(|(k, _, _)| *k == i.account) else {
                continue;
            };
            let checked = match check_activation(token, importer, exporter, now) {
                Err(Refusal::Invalid(why)) => {
                    tracing::error!(
                        "Account {importer}: invalid activation token for the import of {:?} \
                         from {}: {why}; the account is not loaded",
                        i.subject,
                        i.account
                    );
                    invalid.insert(importer.clone());
                    continue;
                }
                Err(Refusal::Unusable(why)) => Err(why),
                Ok(act) => Ok(act),
            };
            let export = checked.and_then(|act| {
                let kind_ok = act.kind.is_empty() || act.kind == i.kind;
                let covered =
                    natrium_wire::is_subset_match(i.subject.as_bytes(), act.subject.as_bytes());
                if !kind_ok || !covered {
                    return Err("the token does not cover the import".to_owned());
                }
                exporter
                    .nats
                    .exports
                    .iter()
                    .filter(|e| e.token_req && e.kind == i.kind)
                    .find(|e| {
                        natrium_wire::is_subset_match(i.subject.as_bytes(), e.subject.as_bytes())
                    })
                    .ok_or_else(|| "no private export covers the import".to_owned())
            });
            match export {
                Ok(e) => grants.push(Grant {
                    exporter: i.account.clone(),
                    importer: importer.clone(),
                    subject: e.subject.clone(),
                    import_subject: i.subject.clone(),
                }),
                Err(why) => tracing::warn!(
                    "Account {importer}: import of {:?} from {} not installed: activation token \
                     refused: {why}",
                    i.subject,
                    i.account
                ),
            }
        }
    }
    (grants, invalid)
}

/// Why an activation token is refused.
enum Refusal {
    /// Not a token of the exporter for the importer: the importing account is invalid.
    Invalid(String),
    /// Expired or not valid yet: the import alone is left out.
    Unusable(String),
}

/// Whether every export `i` could come from is private (its exporter is trusted and has
/// at least one matching export).
fn private_only(decoded: &[(String, String, jwt::Claims<AccountNats>)], i: &JwtImport) -> bool {
    let Some((_, _, exporter)) = decoded.iter().find(|(k, _, _)| *k == i.account) else {
        return false;
    };
    let mut matching = exporter
        .nats
        .exports
        .iter()
        .filter(|e| e.kind == i.kind)
        .filter(|e| natrium_wire::is_subset_match(i.subject.as_bytes(), e.subject.as_bytes()))
        .peekable();
    matching.peek().is_some() && matching.all(|e| e.token_req)
}

/// Checks an activation token for `importer` against the exporting account's claims.
fn check_activation(
    token: &str,
    importer: &str,
    exporter: &jwt::Claims<AccountNats>,
    now: i64,
) -> Result<ActivationNats, Refusal> {
    let act: jwt::Claims<ActivationNats> =
        jwt::decode(token, "activation").map_err(|e| Refusal::Invalid(e.to_string()))?;
    if act.sub != importer {
        return Err(Refusal::Invalid(format!("the token is for {}", act.sub)));
    }
    let signer_ok = act.iss == exporter.sub
        || exporter
            .nats
            .signing_keys
            .iter()
            .any(|k| k.key() == act.iss);
    let account_ok = act
        .nats
        .issuer_account
        .as_deref()
        .is_none_or(|a| a == exporter.sub);
    if !signer_ok || !account_ok {
        return Err(Refusal::Invalid(format!(
            "signed by {}, not by the exporter",
            act.iss
        )));
    }
    if act.exp.is_some_and(|exp| exp <= now) {
        return Err(Refusal::Unusable("the token has expired".into()));
    }
    if act.nbf.is_some_and(|nbf| nbf > now) {
        return Err(Refusal::Unusable("the token is not valid yet".into()));
    }
    Ok(act.nats)
}

fn export(e: &JwtExport) -> Option<Export> {
    let kind = match e.kind.as_str() {
        "stream" => ExportKind::Stream,
        "service" => ExportKind::Service {
            response_type: match e.response_type.as_deref() {
                Some("Stream") => ResponseType::Stream,
                Some("Chunked") => ResponseType::Chunked,
                _ => ResponseType::Singleton,
            },
            response_threshold: e
                .response_threshold
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .map_or(DEFAULT_RESPONSE_THRESHOLD, Duration::from_nanos),
        },
        _ => return None,
    };
    Some(Export {
        kind,
        subject: e.subject.clone(),
        // A private export's importers are filled in from activation tokens.
        accounts: e.token_req.then(Vec::new),
    })
}

fn import(i: &JwtImport) -> Option<Import> {
    let (kind, to, prefix) = match i.kind.as_str() {
        // In JWTs, a stream import's `to` is a prefix, unless `local_subject` maps it.
        "stream" => match &i.local_subject {
            Some(local) => (ImportKind::Stream, Some(local.clone()), None),
            None => (ImportKind::Stream, None, i.to.clone()),
        },
        "service" => (
            ImportKind::Service,
            i.local_subject.clone().or_else(|| i.to.clone()),
            None,
        ),
        _ => return None,
    };
    Some(Import {
        kind,
        account: i.account.clone(),
        subject: i.subject.clone(),
        to,
        prefix,
    })
}
