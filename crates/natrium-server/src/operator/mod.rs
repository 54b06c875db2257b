//! Operator mode (decentralized JWT auth): the server trusts operators, learns accounts
//! from account JWTs the operator signed (`resolver: MEMORY` + `resolver_preload`), and
//! admits users who present a user JWT signed by their account (or one of its signing keys)
//! and sign the INFO nonce with the user's seed.
//!
//! Each trusted account becomes an ordinary account (named by its public key) with the
//! exports and imports of its JWT, so isolation and imports work as in the `accounts` block.

pub(crate) mod jwt;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::accounts::{
    AccountOptions, DEFAULT_RESPONSE_THRESHOLD, Export, ExportKind, Import, ImportKind,
    JetStreamLimits, ResponseType,
};
use crate::permissions::{Permissions, ResponsePermission, SubjectPermission};
pub use jwt::JwtError;

/// Operator-mode settings: `operator`, `system_account`, `resolver: MEMORY` and
/// `resolver_preload`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorOptions {
    /// The trusted operators' JWTs (the tokens themselves; the configuration reader reads
    /// files named by `operator`).
    pub operators: Vec<String>,
    /// `system_account`: an account public key (accepted and shown; natrium-server has no
    /// system services yet).
    pub system_account: Option<String>,
    /// The memory resolver's account JWTs, by account public key, in file order.
    pub accounts: Vec<(String, String)>,
}

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
    let mut accounts = opts.accounts.clone();
    let Some(op) = &opts.operator else {
        return Ok((accounts, None));
    };
    let trust = Trust::new(op)?;
    accounts.extend(trust.account_options().cloned());
    Ok((accounts, Some(trust)))
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
}

/// The operators and accounts this server trusts.
#[derive(Debug)]
pub(crate) struct Trust {
    accounts: HashMap<String, TrustedAccount>,
    order: Vec<String>,
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
        let mut accounts = HashMap::new();
        let mut order = Vec::new();
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
            let nats = claims.nats;
            let options = AccountOptions {
                name: key.clone(),
                exports: nats.exports.iter().filter_map(export).collect(),
                imports: nats.imports.iter().filter_map(import).collect(),
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
                },
            );
            order.push(key.clone());
        }
        Ok(Trust { accounts, order })
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
        })
    }
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
        // Activation tokens are not supported: a token-bound export admits nobody.
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
