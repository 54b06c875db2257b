//! Typed server settings. Every flag of the `natrium-server` binary maps to a field here.

use std::path::PathBuf;
use std::time::Duration;

/// nats-server's default client port.
pub const DEFAULT_PORT: u16 = 4222;

/// How clients must authenticate.
///
/// Secrets are compared in constant time (see `auth.rs`).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may connect (nats-server's default).
    #[default]
    None,
    /// Clients must send this `auth_token` in CONNECT.
    Token(String),
    /// Clients must send one of these user/password pairs in CONNECT.
    Users(Vec<User>),
}

impl Auth {
    /// Whether clients must authenticate (`auth_required` in INFO).
    pub fn is_required(&self) -> bool {
        !matches!(self, Auth::None)
    }

    /// A single user/password pair (`--user`/`--pass`).
    pub fn user(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Users(vec![User::new(user, password)])
    }
}

impl std::fmt::Debug for Auth {
    // Never print secrets into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::Users(users) => f
                .debug_list()
                .entries(users.iter().map(|u| &u.username))
                .finish(),
        }
    }
}

/// One user allowed to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The `user` a client sends in CONNECT.
    pub username: String,
    /// The `pass` a client sends in CONNECT (plain, or a bcrypt hash `$2a$...`/`$2b$...`).
    pub password: String,
    /// What the user may publish and subscribe to; `None` allows everything.
    pub permissions: Option<crate::permissions::Permissions>,
    /// The account the user's connections belong to; `None` = the global account `$G`.
    pub account: Option<String>,
    /// For an nkey user, its public key (`U...`): the client proves it holds the seed by
    /// signing the INFO nonce. `username` is the same key and `password` is empty.
    pub nkey: Option<String>,
}

impl User {
    /// A user/password pair.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        User {
            username: username.into(),
            password: password.into(),
            permissions: None,
            account: None,
            nkey: None,
        }
    }

    /// A user identified by an nkey (a public key starting with `U`).
    pub fn nkey(public_key: impl Into<String>) -> Self {
        let key = public_key.into();
        User {
            username: key.clone(),
            password: String::new(),
            permissions: None,
            account: None,
            nkey: Some(key),
        }
    }

    /// The same user, in `account`.
    #[must_use]
    pub fn in_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The same user, restricted to `permissions`.
    #[must_use]
    pub fn with_permissions(mut self, permissions: crate::permissions::Permissions) -> Self {
        self.permissions = Some(permissions);
        self
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("permissions", &self.permissions)
            .field("account", &self.account)
            .field("nkey", &self.nkey)
            .finish()
    }
}

/// Server settings. `Default` matches nats-server 2.9's defaults.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Interface to listen on (nats-server: `0.0.0.0`).
    pub host: String,
    /// Client port; `0` picks a free port (nats-server's `-p -1`).
    pub port: u16,
    /// Server name shown in INFO; defaults to the generated server id.
    pub server_name: Option<String>,
    /// Largest accepted message (headers + payload), in bytes (1 MiB).
    pub max_payload: u32,
    /// Outbound bytes a client may have queued before it is cut off as a slow consumer (64 MiB).
    pub max_pending: usize,
    /// Longest accepted protocol control line, in bytes (4096).
    pub max_control_line: usize,
    /// Most simultaneous client connections (65536).
    pub max_connections: usize,
    /// Most subscriptions per connection; 0 = unlimited (nats-server's default).
    pub max_subscriptions: usize,
    /// How often the server PINGs each client (2 minutes).
    pub ping_interval: Duration,
    /// Unanswered server PINGs after which a client is closed as stale (2).
    pub ping_max: u32,
    /// Time a client has to send CONNECT when auth is required (2 s).
    pub auth_timeout: Duration,
    /// Longest a single write to a client may block before it is cut off as a slow consumer (10 s).
    pub write_deadline: Duration,
    /// Client authentication.
    pub auth: Auth,
    /// Clients that send no credentials are authenticated as this user (one of `auth`'s).
    pub no_auth_user: Option<String>,
    /// Accounts (`accounts { ... }`): isolated subject spaces, their exports and imports.
    /// Users name their account ([`User::account`]); others are in the global account.
    pub accounts: Vec<crate::accounts::options::AccountOptions>,
    /// Operator mode (decentralized JWT auth): trusted operators and the memory resolver's
    /// account JWTs. Its accounts join [`ServerOptions::accounts`] at start.
    pub operator: Option<crate::operator::options::OperatorOptions>,
    /// `system_account`: the account whose users see the server's events and may ask for
    /// its monitoring documents (`$SYS.>`); `None` means nats-server's default, `$SYS`.
    pub system_account: Option<String>,
    /// Lame-duck mode: time after the announcement before clients start being closed (10 s).
    pub lame_duck_grace_period: Duration,
    /// Lame-duck mode: time over which clients are closed (2 minutes).
    pub lame_duck_duration: Duration,
    /// HTTP monitoring port (`-m`); `Some(0)` picks a free port, `None` turns monitoring off.
    pub http_port: Option<u16>,
    /// Interface for HTTP monitoring; `None` uses `host`.
    pub http_host: Option<String>,
    /// Write the process id to this file while running (`-P`).
    pub pid_file: Option<PathBuf>,
    /// Write `<exe>_<pid>.ports` (JSON with the listen URLs) into this directory (`--ports_file_dir`).
    pub ports_file_dir: Option<PathBuf>,
    /// TLS for client connections; `None` serves plain TCP. nats-server's configuration
    /// file and flags also raise the default `auth_timeout` to the TLS timeout + 1 s when TLS
    /// is on; set it yourself when embedding.
    pub tls: Option<crate::tls::options::TlsOptions>,
    /// Log verbosity and timestamps (`-D`, `-V`, `-T`). The binary sets up its logger with
    /// them ([`crate::logging::init`]); [`crate::Server::reload`] applies changes to that
    /// logger at run time. An embedding process with its own subscriber is left alone.
    pub logging: crate::logging::LogLevel,
    /// JetStream (`-js`, `--store_dir`, `jetstream {}`); `None` turns it off.
    pub jetstream: Option<JetStreamOptions>,
}

/// How often file-backed streams are synced to disk (`jetstream { sync_interval }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync after every write (`sync_interval: always`): a message is acknowledged only
    /// once it is on disk.
    Always,
    /// fsync on this interval (nats-server's default: 2 minutes). A message is acknowledged
    /// once it is written to the OS, so it survives the process being killed, not the
    /// machine losing power within the interval.
    Interval(Duration),
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Interval(Duration::from_secs(120))
    }
}

/// JetStream settings, as nats-server's `jetstream {}` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// Where streams live (`store_dir`; the data goes under `<store_dir>/jetstream`).
    /// `None` uses a new temporary directory that is removed when the server shuts down.
    pub store_dir: Option<PathBuf>,
    /// Most bytes memory-backed streams may hold; `None` = 75% of the machine's memory.
    pub max_memory: Option<i64>,
    /// Most bytes file-backed streams may hold; `None` = 1 TB or what the disk has free.
    pub max_store: Option<i64>,
    /// Reject API requests with unknown fields (nats-server 2.11+: on by default).
    pub strict: bool,
    /// When file-backed streams are synced to disk.
    pub sync: SyncPolicy,
    /// The JetStream domain (`domain`): the API answers on `$JS.<domain>.API.>` as well as
    /// on `$JS.API.>`, and acknowledgements, stream and account info name it. `None` (or an
    /// empty name) for none. The server refuses to start with a name nats-server refuses
    /// (see [`crate::ServerError::InvalidDomain`]).
    pub domain: Option<String>,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            store_dir: None,
            max_memory: None,
            max_store: None,
            strict: true,
            sync: SyncPolicy::default(),
            domain: None,
        }
    }
}

impl JetStreamOptions {
    /// JetStream in a temporary directory removed at shutdown: for tests and examples.
    pub fn temporary() -> Self {
        JetStreamOptions::default()
    }

    /// JetStream storing under `dir` (kept across restarts).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        JetStreamOptions {
            store_dir: Some(dir.into()),
            ..JetStreamOptions::default()
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: "0.0.0.0".to_owned(),
            port: DEFAULT_PORT,
            server_name: None,
            max_payload: 1024 * 1024,
            max_pending: 64 * 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            auth_timeout: Duration::from_secs(2),
            write_deadline: Duration::from_secs(10),
            auth: Auth::None,
            no_auth_user: None,
            accounts: Vec::new(),
            operator: None,
            system_account: None,
            lame_duck_grace_period: Duration::from_secs(10),
            lame_duck_duration: Duration::from_secs(120),
            http_port: None,
            http_host: None,
            pid_file: None,
            ports_file_dir: None,
            tls: None,
            logging: crate::logging::LogLevel::default(),
            jetstream: None,
        }
    }
}

/// The system account's name when `system_account` names none (nats-server's).
pub(crate) const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

impl ServerOptions {
    /// The system account's name: `system_account`, else the operator's, else `$SYS`.
    pub(crate) fn system_account_name(&self) -> &str {
        self.system_account
            .as_deref()
            .or_else(|| self.operator.as_ref()?.system_account.as_deref())
            .unwrap_or(DEFAULT_SYSTEM_ACCOUNT)
    }

    /// The JetStream domain, when JetStream is on and has one.
    pub fn jetstream_domain(&self) -> Option<&str> {
        self.jetstream.as_ref()?.domain.as_deref()
    }

    /// Loopback only, on a free port: for tests and in-process use.
    pub fn ephemeral() -> Self {
        ServerOptions {
            host: "127.0.0.1".to_owned(),
            port: 0,
            ..ServerOptions::default()
        }
    }

    /// [`ServerOptions::ephemeral`] with JetStream in a temporary directory removed at
    /// shutdown: what a test of a durable service needs, in one call.
    pub fn ephemeral_jetstream() -> Self {
        ServerOptions {
            jetstream: Some(JetStreamOptions::temporary()),
            ..ServerOptions::ephemeral()
        }
    }
}
