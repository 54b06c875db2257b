//! Connecting to a NATS server with the official client, with errors that name the URL.
//!
//! The connection flags (credentials, TLS, connect timeout) are global: they are parsed once
//! by `main` and installed with [`install`], and every command builds its client options from
//! them with [`options`].

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// How long a connection attempt may take before the command gives up, by default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How every client command authenticates and secures its connection (the `nats` CLI's flag
/// and environment variable names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// User name (with --password).
    #[arg(long, global = true, env = "NATS_USER", requires = "password")]
    pub user: Option<String>,
    /// Password (with --user).
    #[arg(long, global = true, env = "NATS_PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// Authentication token.
    #[arg(long, global = true, env = "NATS_TOKEN", conflicts_with_all = ["user", "creds"])]
    pub token: Option<String>,
    /// Credentials file (user JWT and NKey seed).
    #[arg(long, global = true, env = "NATS_CREDS", conflicts_with = "user")]
    pub creds: Option<PathBuf>,
    /// Client certificate (PEM) for TLS; with --tlskey.
    #[arg(long, global = true, env = "NATS_CERT", requires = "tlskey")]
    pub tlscert: Option<PathBuf>,
    /// Private key (PEM) of the client certificate; with --tlscert.
    #[arg(long, global = true, env = "NATS_KEY", requires = "tlscert")]
    pub tlskey: Option<PathBuf>,
    /// CA certificate(s) (PEM) that sign the server's certificate; implies TLS.
    #[arg(long, global = true, env = "NATS_CA")]
    pub tlsca: Option<PathBuf>,
    /// How long to wait for the connection to be established.
    #[arg(long = "connect-timeout", global = true, value_parser = humantime::parse_duration, default_value = "5s")]
    pub connect_timeout: Duration,
    /// JetStream domain to talk to (its API is `$JS.<domain>.API`).
    #[arg(
        long = "js-domain",
        global = true,
        env = "NATS_JS_DOMAIN",
        conflicts_with = "js_api_prefix"
    )]
    pub js_domain: Option<String>,
    /// JetStream API prefix, e.g. one imported from another account (default `$JS.API`).
    #[arg(long = "js-api-prefix", global = true, env = "NATS_JS_API_PREFIX")]
    pub js_api_prefix: Option<String>,
}

impl ConnectArgs {
    /// Whether any credential or TLS setting is given (the raw benchmark client has none).
    pub fn needs_full_client(&self) -> bool {
        self.user.is_some()
            || self.token.is_some()
            || self.creds.is_some()
            || self.tlscert.is_some()
            || self.tlsca.is_some()
    }

    /// The subject prefix of the JetStream API these settings address.
    pub fn js_api(&self) -> String {
        match (&self.js_domain, &self.js_api_prefix) {
            (Some(domain), _) => format!("$JS.{domain}.API"),
            (None, Some(prefix)) => prefix.trim_end_matches('.').to_owned(),
            (None, None) => "$JS.API".to_owned(),
        }
    }

    /// async-nats options for a client named `name` with these settings. Files are checked
    /// here, so a wrong path is reported as such instead of as a failed handshake.
    async fn client_options(&self, name: &str) -> anyhow::Result<async_nats::ConnectOptions> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(self.connect_timeout);
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(creds) = &self.creds {
            options = options
                .credentials_file(creds)
                .await
                .with_context(|| format!("cannot use credentials file {}", creds.display()))?;
        }
        if let (Some(cert), Some(key)) = (&self.tlscert, &self.tlskey) {
            for file in [cert, key] {
                readable(file)?;
            }
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if let Some(ca) = &self.tlsca {
            readable(ca)?;
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        Ok(options)
    }
}

fn readable(file: &std::path::Path) -> anyhow::Result<()> {
    std::fs::metadata(file)
        .map(|_| ())
        .with_context(|| format!("cannot read {}", file.display()))
}

static SETTINGS: OnceLock<ConnectArgs> = OnceLock::new();

/// Installs the command line's connection settings; call once, before any command runs.
pub fn install(args: ConnectArgs) -> anyhow::Result<()> {
    if SETTINGS.set(args).is_err() {
        bail!("connection settings were installed twice");
    }
    Ok(())
}

/// The installed connection settings (defaults when none were installed, as in unit tests).
pub fn settings() -> &'static ConnectArgs {
    SETTINGS.get_or_init(|| ConnectArgs {
        connect_timeout: CONNECT_TIMEOUT,
        ..ConnectArgs::default()
    })
}

/// Connection options for a client named `name`, from the command line's settings.
pub async fn options(name: &str) -> anyhow::Result<async_nats::ConnectOptions> {
    settings().client_options(name).await
}

/// Splits `nats://user:password@host:port` into the URL without the credentials and the
/// credentials (async-nats does not send a URL's credentials when options are given).
pub fn url_credentials(url: &str) -> (String, Option<(String, String)>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let Some((userinfo, host)) = rest.split_once('@') else {
        return (url.to_owned(), None);
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let bare = if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    };
    (bare, Some((user.to_owned(), password.to_owned())))
}

/// Connects to `url` with `options`; the error says which server could not be reached.
/// Credentials in the URL (`nats://user:password@host:port`) are used.
pub async fn connect_with(
    url: &str,
    options: async_nats::ConnectOptions,
) -> anyhow::Result<async_nats::Client> {
    let (bare, credentials) = url_credentials(url);
    let options = match credentials {
        Some((user, password)) => options.user_and_password(user, password),
        None => options,
    };
    options
        .connect(bare.as_str())
        .await
        .with_context(|| format!("cannot connect to NATS server at {bare}"))
}

/// Connects to `url` with the command line's settings and the given client name.
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    connect_with(url, options(name).await?).await
}

/// How long the server may take to answer a round trip.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Flushes `client` and waits until the server has processed everything sent before.
///
/// async-nats' `flush` only hands the bytes to the kernel; it does not wait for the server. A
/// client dropped right after it can lose unsent bytes, and a subscription may not be live yet.
/// A request to a subject nobody serves is answered by the server itself ("no responders")
/// only after it has handled every earlier operation on this connection, so its answer is the
/// confirmation.
pub async fn round_trip(client: &async_nats::Client) -> anyhow::Result<()> {
    client.flush().await.context("cannot flush to the server")?;
    let subject = format!("_NATRIUM.confirm.{}", nuid::next());
    let request = async_nats::Request::new().timeout(Some(ROUND_TRIP_TIMEOUT));
    match client.send_request(subject, request).await {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(err) => Err(err).context("the server did not answer a round trip"),
    }
}
