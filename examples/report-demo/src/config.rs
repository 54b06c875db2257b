//! The bootstrap configuration, shaped like a Kratos `configs/config.yaml`:
//! `server.http.addr`, `data.nats.addrs`, `data.nats.codec`, `data.database.url`.
//!
//! Loaded from a YAML or TOML file (chosen by extension), then overridden by `REPORT_*`
//! environment variables, so containers can change one value without a new file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML for this schema.
    #[error("invalid YAML in {path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_yaml_ng::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid TOML in {path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: toml::de::Error,
    },
    /// The extension is neither YAML nor TOML.
    #[error("config file {0} must end in .yaml, .yml or .toml")]
    UnknownFormat(PathBuf),
    /// An environment override has a value that does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The whole bootstrap file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners.
    pub server: ServerSection,
    /// Backing services.
    pub data: DataSection,
    /// Where the services register themselves.
    pub registry: RegistrySection,
}

/// `registry:` — where the services register (Kratos's registry section).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySection {
    /// `nats` (a Key-Value bucket on `data.nats.addrs`, the default), `etcd`, or `none`.
    pub kind: RegistryKind,
    /// `kind: nats`: the Key-Value bucket.
    pub bucket: String,
    /// `kind: etcd`: the etcd endpoints (`http://127.0.0.1:2379`); `endpoints` also reads.
    #[serde(alias = "endpoints")]
    pub etcd_endpoints: Vec<String>,
    /// A registration expires this long after its last refresh (a killed service
    /// disappears within it), e.g. "15s".
    #[serde(deserialize_with = "duration_text")]
    pub ttl: std::time::Duration,
}

impl Default for RegistrySection {
    fn default() -> Self {
        Self {
            kind: RegistryKind::Nats,
            bucket: natrium::registry::DEFAULT_BUCKET.to_owned(),
            etcd_endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            ttl: natrium::registry::DEFAULT_TTL,
        }
    }
}

/// Which service registry the services use.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    /// A NATS Key-Value bucket (needs JetStream).
    #[default]
    Nats,
    /// etcd.
    Etcd,
    /// Do not register.
    None,
}

impl std::str::FromStr for RegistryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nats" => Ok(Self::Nats),
            "etcd" => Ok(Self::Etcd),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown registry {other:?}, expected nats, etcd or none"
            )),
        }
    }
}

/// `server:` — the listeners.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// `server.http` — the report API (`report` service).
    pub http: HttpSection,
    /// `server.stats` — the saver's `GET /v1/stats` endpoint (`saver` service).
    pub stats: StatsSection,
}

/// `server.http:`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// Where the report API listens.
    pub addr: SocketAddr,
    /// How long a report may wait for NATS before the API answers 503, e.g. "2s".
    #[serde(deserialize_with = "duration_text")]
    pub publish_timeout: std::time::Duration,
}

/// Reads a duration written for humans ("2s", "500ms").
fn duration_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            publish_timeout: std::time::Duration::from_secs(2),
        }
    }
}

/// `server.stats:`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatsSection {
    /// Where the saver's stats endpoint listens.
    pub addr: SocketAddr,
}

impl Default for StatsSection {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8001)),
        }
    }
}

/// `data:` — backing services.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// `data.nats`.
    pub nats: NatsSection,
    /// `data.database`.
    pub database: DatabaseSection,
}

/// `data.nats:`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSection {
    /// NATS server URLs.
    pub addrs: Vec<String>,
    /// How messages are encoded on the wire.
    pub codec: CodecName,
    /// Subject of `RealTimeWarehousingData` events.
    pub event_subject: String,
    /// Subject of `AcceptStatusReportData` reports.
    pub user_subject: String,
    /// Queue group the savers join, so each report is saved once (core mode).
    pub queue: String,
    /// `jetstream` (at least once, the default) or `core` (at most once, for comparison).
    pub mode: NatsMode,
    /// JetStream mode: the stream that stores the reports.
    pub stream: String,
    /// JetStream mode: the savers' durable consumers are named `{durable}-event` and
    /// `{durable}-user`; every saver with the same name shares them.
    pub durable: String,
    /// JetStream mode: where reports the saver can never store go (stored in the stream
    /// `{stream}_DEAD`).
    pub dead_letter_subject: String,
    /// JetStream mode: deliveries per report before it is dead-lettered.
    pub max_deliver: i64,
    /// JetStream mode: how long a delivered report may stay unacknowledged before it is
    /// redelivered (the saver sends +WPI while a save takes longer than half of it).
    #[serde(deserialize_with = "duration_text")]
    pub ack_wait: std::time::Duration,
}

/// How reports travel from the report service to the savers.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NatsMode {
    /// A JetStream stream and durable consumers: a report answered 200 is stored by NATS
    /// and saved at least once (exactly once in the database, keyed on its message id).
    #[default]
    Jetstream,
    /// Core NATS publish/subscribe: at most once; reports published while no saver runs
    /// are lost.
    Core,
}

impl std::str::FromStr for NatsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jetstream" => Ok(Self::Jetstream),
            "core" => Ok(Self::Core),
            other => Err(format!(
                "unknown NATS mode {other:?}, expected jetstream or core"
            )),
        }
    }
}

impl Default for NatsSection {
    fn default() -> Self {
        Self {
            addrs: vec!["nats://127.0.0.1:4222".to_owned()],
            codec: CodecName::Json,
            event_subject: "report.event".to_owned(),
            user_subject: "report.user".to_owned(),
            queue: "savers".to_owned(),
            mode: NatsMode::Jetstream,
            stream: "REPORTS".to_owned(),
            durable: "savers".to_owned(),
            dead_letter_subject: "report.dead".to_owned(),
            max_deliver: 5,
            ack_wait: std::time::Duration::from_secs(30),
        }
    }
}

/// The wire encodings the demo offers.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CodecName {
    /// JSON (readable with `natrium sub`).
    #[default]
    Json,
    /// Protocol Buffers, from `proto/report.proto`.
    Protobuf,
    /// MessagePack (fields by name).
    Msgpack,
}

impl CodecName {
    /// The natrium codec of this name.
    pub fn codec(self) -> natrium::Codec {
        match self {
            Self::Json => natrium::Codec::Json,
            Self::Protobuf => natrium::Codec::Protobuf,
            Self::Msgpack => natrium::Codec::MsgPack,
        }
    }
}

impl std::str::FromStr for CodecName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "protobuf" | "proto" => Ok(Self::Protobuf),
            other => Err(format!(
                "unknown codec {other:?}, expected json or protobuf"
            )),
        }
    }
}

/// `data.database:`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://PATH` (or a bare path) for SQLite, `postgres://…` for PostgreSQL.
    pub url: String,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: "sqlite://data/report.db".to_owned(),
        }
    }
}

impl Config {
    /// Reads `path` (YAML or TOML by extension), or the defaults when `None`, then applies
    /// the `REPORT_*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses one file, YAML or TOML by its extension.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                serde_yaml_ng::from_str(&text).map_err(|source| ConfigError::Yaml {
                    path: path.to_owned(),
                    source,
                })
            }
            Some("toml") => toml::from_str(&text).map_err(|source| ConfigError::Toml {
                path: path.to_owned(),
                source,
            }),
            _ => Err(ConfigError::UnknownFormat(path.to_owned())),
        }
    }

    /// Applies `REPORT_SERVER_HTTP_ADDR`, `REPORT_SERVER_STATS_ADDR`, `REPORT_DATA_NATS_ADDRS`
    /// (comma-separated), `REPORT_DATA_NATS_MODE`, `REPORT_DATA_NATS_CODEC`,
    /// `REPORT_DATA_DATABASE_URL`, `REPORT_REGISTRY_KIND` and `REPORT_REGISTRY_ETCD_ENDPOINTS`
    /// (comma-separated).
    /// `lookup` is the environment (a parameter so tests need not mutate the process's).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        fn parsed<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
                value,
            })
        }
        if let Some(v) = lookup("REPORT_SERVER_HTTP_ADDR") {
            self.server.http.addr = parsed("REPORT_SERVER_HTTP_ADDR", v)?;
        }
        if let Some(v) = lookup("REPORT_SERVER_STATS_ADDR") {
            self.server.stats.addr = parsed("REPORT_SERVER_STATS_ADDR", v)?;
        }
        if let Some(v) = lookup("REPORT_DATA_NATS_ADDRS") {
            self.data.nats.addrs = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = lookup("REPORT_DATA_NATS_MODE") {
            self.data.nats.mode = parsed("REPORT_DATA_NATS_MODE", v)?;
        }
        if let Some(v) = lookup("REPORT_DATA_NATS_CODEC") {
            self.data.nats.codec = parsed("REPORT_DATA_NATS_CODEC", v)?;
        }
        if let Some(v) = lookup("REPORT_DATA_DATABASE_URL") {
            self.data.database.url = v;
        }
        if let Some(v) = lookup("REPORT_REGISTRY_KIND") {
            self.registry.kind = parsed("REPORT_REGISTRY_KIND", v)?;
        }
        if let Some(v) = lookup("REPORT_REGISTRY_ETCD_ENDPOINTS") {
            self.registry.etcd_endpoints = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs")
            .join(name);
        match Config::from_file(&path) {
            Ok(config) => config,
            Err(e) => panic!("{name}: {e}"),
        }
    }

    #[test]
    fn shipped_files_parse_to_the_defaults() {
        let defaults = Config::default();
        let report = shipped("report.yaml");
        assert_eq!(report.server.http, defaults.server.http);
        assert_eq!(report.data.nats, defaults.data.nats);
        let saver = shipped("saver.toml");
        assert_eq!(saver.server.stats, defaults.server.stats);
        assert_eq!(saver.data, defaults.data);
        assert_eq!(report.registry, defaults.registry);
        assert_eq!(saver.registry, defaults.registry);
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = shipped("report.yaml");
        let env = |name: &str| match name {
            "REPORT_SERVER_HTTP_ADDR" => Some("127.0.0.1:9999".to_owned()),
            "REPORT_DATA_NATS_ADDRS" => Some("nats://a:1, nats://b:2".to_owned()),
            "REPORT_DATA_NATS_CODEC" => Some("protobuf".to_owned()),
            "REPORT_DATA_NATS_MODE" => Some("core".to_owned()),
            "REPORT_DATA_DATABASE_URL" => Some("postgres://u@h/db".to_owned()),
            "REPORT_REGISTRY_KIND" => Some("etcd".to_owned()),
            "REPORT_REGISTRY_ETCD_ENDPOINTS" => Some("http://e:1,http://e:2".to_owned()),
            _ => None,
        };
        config.apply_env(env).expect("valid overrides");
        assert_eq!(config.server.http.addr.port(), 9999);
        assert_eq!(config.data.nats.addrs, ["nats://a:1", "nats://b:2"]);
        assert_eq!(config.data.nats.codec, CodecName::Protobuf);
        assert_eq!(config.data.nats.mode, NatsMode::Core);
        assert_eq!(config.data.database.url, "postgres://u@h/db");
        assert_eq!(config.registry.kind, RegistryKind::Etcd);
        assert_eq!(config.registry.etcd_endpoints, ["http://e:1", "http://e:2"]);
    }

    #[test]
    fn bad_values_are_named_errors() {
        let mut config = Config::default();
        let err = config
            .apply_env(|n| (n == "REPORT_DATA_NATS_CODEC").then(|| "xml".to_owned()))
            .expect_err("xml is no codec");
        assert!(err.to_string().contains("REPORT_DATA_NATS_CODEC"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "server:\n  htp:\n    addr: 1\n").expect("write");
        let err = Config::from_file(&path).expect_err("unknown key");
        assert!(err.to_string().contains("htp"), "{err}");

        let path = dir.path().join("bad.ini");
        std::fs::write(&path, "").expect("write");
        assert!(matches!(
            Config::from_file(&path),
            Err(ConfigError::UnknownFormat(_))
        ));
    }
}
