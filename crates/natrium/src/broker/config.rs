//! [`BrokerConfig`]: every connection setting, each either applied or refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::middleware::Middleware;

use super::DEFAULT_REQUEST_TIMEOUT;

/// How the client authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (or credentials embedded in the server URLs).
    #[default]
    None,
    /// A token (`auth_token` on the server).
    Token(String),
    /// User name and password.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A `.creds` file (JWT + NKey seed).
    CredentialsFile(PathBuf),
}

/// TLS settings. Naming a CA file or a client certificate implies `required`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Refuse to talk to a server without TLS.
    pub required: bool,
    /// Extra root certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// What to do when the connection drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Give up after this many attempts (`None`: never give up).
    pub max_reconnects: Option<usize>,
    /// Delay before the first retry; doubled on each further attempt...
    pub initial_delay: Duration,
    /// ...up to this delay.
    pub max_delay: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            max_reconnects: None,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl ReconnectPolicy {
    /// The delay before reconnect attempt number `attempt` (0-based): exponential, capped.
    pub fn delay(&self, attempt: usize) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31) as u32).unwrap_or(u32::MAX);
        self.initial_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// Settings for [`NatsBroker::connect`](crate::NatsBroker::connect).
///
/// Every setting is applied to the async-nats connection or makes `connect` fail with a
/// typed error; none is accepted and ignored.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Server URLs (one per cluster node), e.g. `nats://127.0.0.1:4222`.
    pub servers: Vec<String>,
    /// Codec for typed payloads (JSON by default).
    pub codec: Codec,
    /// Connection name shown by the server's monitoring.
    pub name: Option<String>,
    /// Authentication.
    pub auth: Auth,
    /// TLS.
    pub tls: TlsConfig,
    /// Reconnection.
    pub reconnect: ReconnectPolicy,
    /// Default timeout of `request` (5 s).
    pub request_timeout: Duration,
    /// How often the client pings the server (async-nats default: 60 s).
    pub ping_interval: Duration,
    /// How long one connection attempt may take (5 s).
    pub connection_timeout: Duration,
    /// How long `close` waits for the drain to finish (10 s).
    pub drain_timeout: Duration,
    /// Middleware around publishes and requests.
    pub layers: Vec<Arc<dyn Middleware>>,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("servers", &self.servers)
            .field("codec", &self.codec)
            .field("name", &self.name)
            .field("tls", &self.tls)
            .field("reconnect", &self.reconnect)
            .field("request_timeout", &self.request_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("connection_timeout", &self.connection_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl BrokerConfig {
    /// A configuration for the given servers with defaults for everything else.
    pub fn new<I, S>(servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BrokerConfig {
            servers: servers.into_iter().map(Into::into).collect(),
            codec: Codec::Json,
            name: None,
            auth: Auth::None,
            tls: TlsConfig::default(),
            reconnect: ReconnectPolicy::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ping_interval: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            layers: Vec::new(),
        }
    }

    /// Sets the codec.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Sets the connection name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    /// Authenticates with user name and password.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::UserPassword {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// Authenticates with a credentials (`.creds`) file.
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Auth::CredentialsFile(path.into());
        self
    }

    /// Requires TLS.
    pub fn require_tls(mut self, required: bool) -> Self {
        self.tls.required = required;
        self
    }

    /// Trusts the CA certificates in this PEM file (implies TLS).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate and key (PEM) (implies TLS).
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// Sets the reconnection policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Sets the maximum number of reconnect attempts (`None`: unlimited).
    pub fn max_reconnects(mut self, max: Option<usize>) -> Self {
        self.reconnect.max_reconnects = max;
        self
    }

    /// Sets the default request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the ping interval.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets the connection timeout.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Sets how long `close` waits for the drain.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Adds a middleware around publishes and requests (outermost first).
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// Checks every setting; `connect` calls this first.
    pub fn validate(&self) -> Result<()> {
        if self.servers.is_empty() {
            return Err(Error::Config("no NATS server given".into()));
        }
        for server in &self.servers {
            server
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| Error::Config(format!("invalid server URL {server:?}: {e}")))?;
        }
        for (what, d) in [
            ("request_timeout", self.request_timeout),
            ("ping_interval", self.ping_interval),
            ("connection_timeout", self.connection_timeout),
            ("drain_timeout", self.drain_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{what} must be greater than zero")));
            }
        }
        if self.reconnect.initial_delay > self.reconnect.max_delay {
            return Err(Error::Config(
                "reconnect initial_delay must not exceed max_delay".into(),
            ));
        }
        if self.name.as_ref().is_some_and(String::is_empty) {
            return Err(Error::Config("connection name must not be empty".into()));
        }
        match &self.auth {
            Auth::Token(t) if t.is_empty() => {
                return Err(Error::Config("token must not be empty".into()));
            }
            Auth::UserPassword { user, .. } if user.is_empty() => {
                return Err(Error::Config("user must not be empty".into()));
            }
            Auth::CredentialsFile(path) => readable("credentials", path)?,
            _ => {}
        }
        // The client would take a file without certificates as an empty list and fail
        // later with a misleading "unknown issuer"; refuse it here, naming the file.
        if let Some(ca) = &self.tls.ca_file {
            has_certificates("CA certificate", ca)?;
        }
        if let Some((cert, key)) = &self.tls.client_cert {
            has_certificates("client certificate", cert)?;
            has_private_key("client key", key)?;
        }
        Ok(())
    }

    /// Whether TLS will be required (explicitly or implied by CA/client certificate).
    pub fn tls_required(&self) -> bool {
        self.tls.required || self.tls.ca_file.is_some() || self.tls.client_cert.is_some()
    }
}

fn readable(what: &'static str, path: &Path) -> Result<()> {
    open(what, path).map(drop)
}

fn open(what: &'static str, path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|source| file_error(what, path, source))
}

fn file_error(what: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::File {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The file holds at least one PEM certificate, and nothing unreadable.
fn has_certificates(what: &'static str, path: &Path) -> Result<()> {
    let mut reader = open(what, path)?;
    let mut found = false;
    for cert in rustls_pemfile::certs(&mut reader) {
        cert.map_err(|e| file_error(what, path, e))?;
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(file_error(
            what,
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            ),
        ))
    }
}

/// The file holds a PEM private key (PKCS#8, PKCS#1 or SEC1).
fn has_private_key(what: &'static str, path: &Path) -> Result<()> {
    let mut reader = open(what, path)?;
    match rustls_pemfile::private_key(&mut reader) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(file_error(
            what,
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no PEM private key (-----BEGIN ... PRIVATE KEY-----) in it",
            ),
        )),
        Err(e) => Err(file_error(what, path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = ReconnectPolicy {
            max_reconnects: None,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(0), Duration::from_millis(100));
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(3), Duration::from_millis(800));
        assert_eq!(p.delay(4), Duration::from_secs(1));
        assert_eq!(p.delay(500), Duration::from_secs(1));
    }

    #[test]
    fn bad_settings_are_refused() {
        let ok = BrokerConfig::new(["nats://127.0.0.1:4222"]);
        assert!(ok.validate().is_ok());
        assert!(matches!(
            BrokerConfig::new(Vec::<String>::new()).validate(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ok.clone().request_timeout(Duration::ZERO).validate(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ok.clone().ca_file("/nonexistent/ca.pem").validate(),
            Err(Error::File {
                what: "CA certificate",
                ..
            })
        ));
        assert!(matches!(
            ok.clone()
                .credentials_file("/nonexistent/x.creds")
                .validate(),
            Err(Error::File {
                what: "credentials",
                ..
            })
        ));
        assert!(matches!(ok.token("").validate(), Err(Error::Config(_))));
    }
}
