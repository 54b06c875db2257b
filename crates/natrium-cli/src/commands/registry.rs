//! `natrium registry ls|watch`: what is registered in natrium's service registry: the NATS
//! Key-Value one (`natrium::registry::KvRegistry`, the default) or etcd
//! (`natrium::registry::EtcdRegistry`, with `--etcd`).

use std::process::ExitCode;

use anyhow::Context as _;
use futures::StreamExt as _;
#[cfg(feature = "etcd")]
use natrium::registry::EtcdRegistry;
use natrium::registry::{
    DEFAULT_BUCKET, DEFAULT_TTL, Discovery as _, InstanceStream, KvRegistry, ServiceInstance,
};

use super::table::Table;

/// Arguments of `natrium registry`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    /// The registry's Key-Value bucket.
    #[arg(long, global = true, default_value = DEFAULT_BUCKET)]
    bucket: String,
    /// Read the etcd registry at these endpoints (comma-separated, e.g.
    /// `http://127.0.0.1:2379`) instead of NATS Key-Value.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        env = "NATRIUM_REGISTRY_ETCD"
    )]
    etcd: Vec<String>,
    #[command(subcommand)]
    command: RegistryCommand,
}

/// The `registry` verbs.
#[derive(Debug, clap::Subcommand)]
enum RegistryCommand {
    /// List the registered instances (of one service, or of all).
    #[command(visible_alias = "list")]
    Ls {
        /// Only this service.
        service: Option<String>,
        /// Print the instances as a JSON array (Kratos's ServiceInstance fields).
        #[arg(long)]
        json: bool,
    },
    /// Print the instance list now and after every change.
    Watch {
        /// Only this service.
        service: Option<String>,
        /// Stop after this many lists (the first is the current one).
        #[arg(long)]
        count: Option<u64>,
        /// Print each list as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// The registry the verbs read.
enum Registry {
    Kv(KvRegistry),
    #[cfg(feature = "etcd")]
    Etcd(EtcdRegistry),
}

impl Registry {
    async fn instances(
        &self,
        service: Option<&str>,
    ) -> Result<Vec<ServiceInstance>, natrium::registry::RegistryError> {
        match (self, service) {
            (Registry::Kv(r), Some(service)) => r.instances(service).await,
            (Registry::Kv(r), None) => r.all_instances().await,
            #[cfg(feature = "etcd")]
            (Registry::Etcd(r), Some(service)) => r.instances(service).await,
            #[cfg(feature = "etcd")]
            (Registry::Etcd(r), None) => r.all_instances().await,
        }
    }

    async fn watch(
        &self,
        service: Option<&str>,
    ) -> Result<InstanceStream, natrium::registry::RegistryError> {
        match (self, service) {
            (Registry::Kv(r), Some(service)) => r.watch(service).await,
            (Registry::Kv(r), None) => r.watch_all().await,
            #[cfg(feature = "etcd")]
            (Registry::Etcd(r), Some(service)) => r.watch(service).await,
            #[cfg(feature = "etcd")]
            (Registry::Etcd(r), None) => r.watch_all().await,
        }
    }
}

/// The etcd registry at `endpoints`, and how the output names it.
#[cfg(feature = "etcd")]
async fn etcd(endpoints: &[String]) -> anyhow::Result<(Registry, String)> {
    let registry = EtcdRegistry::connect(endpoints, DEFAULT_TTL)
        .await
        .context("cannot connect to etcd")?;
    Ok((
        Registry::Etcd(registry),
        format!("etcd {}", endpoints.join(",")),
    ))
}

/// Without etcd support compiled in, `--etcd` says how to get it.
#[cfg(not(feature = "etcd"))]
async fn etcd(_endpoints: &[String]) -> anyhow::Result<(Registry, String)> {
    anyhow::bail!(
        "this natrium was built without etcd support; rebuild with `--features etcd` (etcd's client needs `protoc` to build)"
    )
}

/// Runs a `registry` verb.
pub async fn run(url: &str, args: RegistryArgs) -> anyhow::Result<ExitCode> {
    let (registry, source) = if args.etcd.is_empty() {
        let client = crate::connect::connect(url, "natrium registry").await?;
        let registry = KvRegistry::with_options(client, args.bucket.clone(), DEFAULT_TTL);
        (Registry::Kv(registry), args.bucket.clone())
    } else {
        etcd(&args.etcd).await?
    };
    match args.command {
        RegistryCommand::Ls { service, json } => {
            let instances = registry
                .instances(service.as_deref())
                .await
                .context("cannot list the registry")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&instances)?);
            } else {
                print!("{}", render(&source, service.as_deref(), &instances));
            }
        }
        RegistryCommand::Watch {
            service,
            count,
            json,
        } => {
            let mut lists = registry
                .watch(service.as_deref())
                .await
                .context("cannot watch the registry")?;
            eprintln!("Listening on registry {source}");
            let mut seen = 0u64;
            while count.is_none_or(|c| seen < c) {
                let Some(list) = lists.next().await else {
                    anyhow::bail!("the registry watch ended");
                };
                let instances = list.context("registry watch")?;
                if json {
                    println!("{}", serde_json::to_string(&instances)?);
                } else {
                    println!("{}", render(&source, service.as_deref(), &instances));
                }
                seen += 1;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A table of instances, one row each; endpoints and metadata joined with spaces.
fn render(source: &str, service: Option<&str>, instances: &[ServiceInstance]) -> String {
    let title = match service {
        Some(service) => format!("{} instance(s) of {service} in {source}", instances.len()),
        None => format!("{} instance(s) in {source}", instances.len()),
    };
    let mut table = Table::new(
        title,
        &["Service", "ID", "Version", "Endpoints", "Metadata"],
    );
    for i in instances {
        let metadata: Vec<String> = i.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        table.row(vec![
            i.name.clone(),
            i.id.clone(),
            i.version.clone(),
            i.endpoints.join(" "),
            metadata.join(" "),
        ]);
    }
    table.render()
}
