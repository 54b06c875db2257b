//! `natrium object add|info|put|get|link|ls|watch|seal|rm`: the object store like
//! `nats object`, with progress bars on transfers (shown only on a terminal).

use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

use anyhow::{Context as _, bail};
use async_nats::jetstream::object_store::{self, ObjectInfo, ObjectMetadata};
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};

use serde_json::Value;

use super::jetstream::{Js, bytes, confirm, limit, print_json};
use super::stream::{Storage, number, text};
use super::table::Table;

/// Arguments of `natrium object`.
#[derive(Debug, clap::Args)]
pub struct ObjectArgs {
    /// Credentials, TLS and connect timeout.
    #[command(flatten)]
    pub connection: crate::connect::ConnectArgs,
    #[command(subcommand)]
    command: ObjectCommand,
}

/// The `object` verbs.
#[derive(Debug, clap::Subcommand)]
enum ObjectCommand {
    /// Create a bucket.
    #[command(visible_alias = "new")]
    Add {
        /// Bucket name.
        bucket: String,
        /// Storage backend.
        #[arg(long, value_enum, default_value = "file")]
        storage: Storage,
        /// Number of replicas.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Most bytes the bucket holds (-1: unlimited).
        #[arg(long = "max-bucket-size", default_value_t = -1, allow_negative_numbers = true)]
        max_bucket_size: i64,
    },
    /// Store a file.
    Put {
        /// Bucket name.
        bucket: String,
        /// File to store.
        file: PathBuf,
        /// Object name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// Print the object's info as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch an object into a file.
    Get {
        /// Bucket name.
        bucket: String,
        /// Object name.
        name: String,
        /// File to write (default: the object's name in the current directory).
        #[arg(short = 'O', long)]
        output: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(short, long)]
        force: bool,
    },
    /// Show a bucket's configuration and state, or one object's info.
    #[command(visible_alias = "status")]
    Info {
        /// Bucket name.
        bucket: String,
        /// Object name.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store a link to another object of this bucket, or to another whole bucket.
    Link {
        /// Bucket name.
        bucket: String,
        /// Name of the link.
        name: String,
        /// Object the link points to.
        #[arg(required_unless_present = "to_bucket", conflicts_with = "to_bucket")]
        target: Option<String>,
        /// Point to this whole bucket instead of an object.
        #[arg(long = "to-bucket")]
        to_bucket: Option<String>,
    },
    /// Print changes to a bucket's objects (puts, deletes, links).
    Watch {
        /// Bucket name.
        bucket: String,
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<u64>,
        /// Print each change as a JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Seal a bucket: no object can be put or deleted afterwards.
    Seal {
        /// Bucket name.
        bucket: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// List the objects of a bucket.
    #[command(visible_alias = "list")]
    Ls {
        /// Bucket name.
        bucket: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an object, or the whole bucket when no name is given.
    #[command(visible_alias = "del")]
    Rm {
        /// Bucket name.
        bucket: String,
        /// Object name.
        name: Option<String>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

/// Runs an `object` verb.
pub async fn run(url: &str, args: ObjectArgs) -> anyhow::Result<ExitCode> {
    let js = Js::connect_checked(url, "natrium object").await?;
    match args.command {
        ObjectCommand::Add {
            bucket,
            storage,
            replicas,
            max_bucket_size,
        } => {
            let storage = match storage {
                Storage::File => async_nats::jetstream::stream::StorageType::File,
                Storage::Memory => async_nats::jetstream::stream::StorageType::Memory,
            };
            js.context
                .create_object_store(object_store::Config {
                    bucket: bucket.clone(),
                    storage,
                    num_replicas: replicas,
                    max_bytes: max_bucket_size,
                    ..object_store::Config::default()
                })
                .await
                .with_context(|| format!("cannot create object bucket {bucket}"))?;
            eprintln!("Object bucket {bucket} was created");
        }
        ObjectCommand::Put {
            bucket,
            file,
            name,
            json,
        } => {
            let store = open(&js, &bucket).await?;
            let name = match name {
                Some(name) => name,
                None => file
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .with_context(|| format!("{} has no file name; use --name", file.display()))?,
            };
            let opened = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            let len = opened.metadata().await?.len();
            let bar = progress(len, &format!("put {name}"));
            let mut reader = Counted {
                inner: opened,
                bar: bar.clone(),
            };
            let info = store
                .put(
                    ObjectMetadata {
                        name: name.clone(),
                        ..ObjectMetadata::default()
                    },
                    &mut reader,
                )
                .await
                .with_context(|| format!("cannot put {name} in bucket {bucket}"))?;
            bar.finish_and_clear();
            if json {
                print_json(&info)?;
            } else {
                println!(
                    "Stored {name} in bucket {bucket}: {} in {} chunks, digest {}",
                    bytes(info.size as u64),
                    info.chunks,
                    info.digest.as_deref().unwrap_or("-")
                );
            }
        }
        ObjectCommand::Get {
            bucket,
            name,
            output,
            force,
        } => {
            let store = open(&js, &bucket).await?;
            let output = output.unwrap_or_else(|| PathBuf::from(&name));
            if !force && tokio::fs::try_exists(&output).await.unwrap_or(false) {
                bail!("{} exists; use --force to overwrite it", output.display());
            }
            let mut object = store
                .get(&name)
                .await
                .with_context(|| format!("cannot get {name} from bucket {bucket}"))?;
            let size = object.info().size as u64;
            let bar = progress(size, &format!("get {name}"));
            let mut file = tokio::fs::File::create(&output)
                .await
                .with_context(|| format!("cannot create {}", output.display()))?;
            let mut buffer = vec![0u8; 128 * 1024];
            let mut written = 0u64;
            loop {
                // The client checks the digest when the last chunk is read.
                let n = object
                    .read(&mut buffer)
                    .await
                    .with_context(|| format!("cannot read {name}"))?;
                if n == 0 {
                    break;
                }
                file.write_all(&buffer[..n]).await?;
                written += n as u64;
                bar.inc(n as u64);
            }
            file.flush().await?;
            bar.finish_and_clear();
            eprintln!("Wrote {} to {}", bytes(written), output.display());
        }
        ObjectCommand::Info { bucket, name, json } => match name {
            Some(name) => {
                let store = open(&js, &bucket).await?;
                let info = store
                    .info(&name)
                    .await
                    .with_context(|| format!("no object {name} in bucket {bucket}"))?;
                if json {
                    print_json(&info)?;
                } else {
                    print!("{}", object_info(&info));
                }
            }
            None => {
                let info = js
                    .api(&format!("STREAM.INFO.OBJ_{bucket}"), None)
                    .await
                    .with_context(|| format!("no object bucket {bucket}"))?;
                if json {
                    print_json(&info)?;
                } else {
                    print!("{}", bucket_info(&bucket, &info));
                }
            }
        },
        ObjectCommand::Link {
            bucket,
            name,
            target,
            to_bucket,
        } => {
            let store = open(&js, &bucket).await?;
            let info = match (target, to_bucket) {
                (Some(target), _) => {
                    let object = store
                        .info(&target)
                        .await
                        .with_context(|| format!("no object {target} in bucket {bucket}"))?;
                    store.add_link(&name, &object).await
                }
                (None, Some(to_bucket)) => {
                    open(&js, &to_bucket).await?;
                    store.add_bucket_link(&name, &to_bucket).await
                }
                (None, None) => bail!("give the object to link to, or --to-bucket"),
            }
            .with_context(|| format!("cannot link {name} in bucket {bucket}"))?;
            eprintln!("Linked {bucket} > {name} to {}", link_target(&info));
        }
        ObjectCommand::Watch {
            bucket,
            count,
            json,
        } => {
            let store = open(&js, &bucket).await?;
            let mut watch = store
                .watch()
                .await
                .with_context(|| format!("cannot watch bucket {bucket}"))?;
            // Scripts and tests wait for this line: later changes are delivered.
            eprintln!("Listening on bucket {bucket}");
            let mut seen = 0u64;
            while count.is_none_or(|count| seen < count) {
                let Some(info) = watch.next().await else {
                    break;
                };
                let info = info.map_err(|err| anyhow::anyhow!("watch failed: {err}"))?;
                seen += 1;
                if json {
                    println!("{}", serde_json::to_string(&info)?);
                } else {
                    let change = if info.deleted {
                        "DEL"
                    } else if info.options.as_ref().is_some_and(|o| o.link.is_some()) {
                        "LINK"
                    } else {
                        "PUT"
                    };
                    println!(
                        "[{}] {change} {} > {}: {} in {} chunks",
                        info.modified.map(|t| t.to_string()).unwrap_or_default(),
                        info.bucket,
                        info.name,
                        bytes(info.size as u64),
                        info.chunks
                    );
                }
            }
        }
        ObjectCommand::Seal { bucket, force } => {
            let mut store = open(&js, &bucket).await?;
            confirm(force, &format!("seal object bucket {bucket}"))?;
            store
                .seal()
                .await
                .with_context(|| format!("cannot seal bucket {bucket}"))?;
            eprintln!("Object bucket {bucket} was sealed");
        }
        ObjectCommand::Ls { bucket, json } => {
            let store = open(&js, &bucket).await?;
            let mut objects: Vec<ObjectInfo> = store
                .list()
                .await
                .with_context(|| format!("cannot list bucket {bucket}"))?
                .map(|info| info.map_err(|err| anyhow::anyhow!("cannot list objects: {err}")))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<anyhow::Result<_>>()?;
            objects.sort_by(|a, b| a.name.cmp(&b.name));
            if json {
                print_json(&objects)?;
            } else if objects.is_empty() {
                println!("No objects in bucket {bucket}");
            } else {
                let mut table = Table::new(
                    format!("Bucket Contents {bucket}"),
                    &["Name", "Size", "Time", "Digest"],
                );
                for info in &objects {
                    table.row(vec![
                        info.name.clone(),
                        bytes(info.size as u64),
                        info.modified.map(|t| t.to_string()).unwrap_or_default(),
                        info.digest.clone().unwrap_or_default(),
                    ]);
                }
                print!("{}", table.render());
            }
        }
        ObjectCommand::Rm {
            bucket,
            name,
            force,
        } => match name {
            Some(name) => {
                let store = open(&js, &bucket).await?;
                confirm(force, &format!("delete object {name} of bucket {bucket}"))?;
                store
                    .delete(&name)
                    .await
                    .with_context(|| format!("cannot delete {name} from bucket {bucket}"))?;
                eprintln!("Deleted {name} from bucket {bucket}");
            }
            None => {
                confirm(force, &format!("delete object bucket {bucket}"))?;
                js.api(&format!("STREAM.DELETE.OBJ_{bucket}"), None).await?;
                eprintln!("Deleted object bucket {bucket}");
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens a bucket; a missing one is reported with the server's text.
async fn open(js: &Js, bucket: &str) -> anyhow::Result<object_store::ObjectStore> {
    js.api(&format!("STREAM.INFO.OBJ_{bucket}"), None)
        .await
        .with_context(|| format!("no object bucket {bucket}"))?;
    js.context
        .get_object_store(bucket)
        .await
        .with_context(|| format!("cannot open object bucket {bucket}"))
}

/// Where a link points: `bucket/object`, or `bucket` for a whole-bucket link.
fn link_target(info: &ObjectInfo) -> String {
    match info.options.as_ref().and_then(|o| o.link.as_ref()) {
        Some(link) => match &link.name {
            Some(name) => format!("{}/{name}", link.bucket),
            None => link.bucket.clone(),
        },
        None => "-".to_owned(),
    }
}

/// One object's info as `nats object info` shows it.
fn object_info(info: &ObjectInfo) -> String {
    let mut rows = vec![
        ("Bucket", info.bucket.clone()),
        ("Name", info.name.clone()),
        ("Size", bytes(info.size as u64)),
        ("Chunks", info.chunks.to_string()),
        (
            "Modified",
            info.modified.map(|t| t.to_string()).unwrap_or_default(),
        ),
        ("Digest", info.digest.clone().unwrap_or_default()),
    ];
    if info.options.as_ref().is_some_and(|o| o.link.is_some()) {
        rows.push(("Link", link_target(info)));
    }
    if let Some(description) = &info.description {
        rows.push(("Description", description.clone()));
    }
    let mut out = format!("Object information for {} > {}\n\n", info.bucket, info.name);
    for (name, value) in rows {
        out.push_str(&format!("{name:>12}: {value}\n"));
    }
    out
}

/// A bucket's configuration and state, from its stream's info.
fn bucket_info(bucket: &str, info: &Value) -> String {
    let (config, state) = (&info["config"], &info["state"]);
    let rows = [
        ("Bucket Name", bucket.to_owned()),
        ("Description", text(&config["description"]).to_owned()),
        ("Size", bytes(number(&state["bytes"]))),
        (
            "Maximum Size",
            limit(config["max_bytes"].as_i64().unwrap_or(-1)),
        ),
        ("Storage", text(&config["storage"]).to_owned()),
        (
            "Sealed",
            config["sealed"].as_bool().unwrap_or(false).to_string(),
        ),
        ("JetStream Stream", text(&config["name"]).to_owned()),
    ];
    let mut out = format!("Information for Object Store Bucket {bucket}\n\n");
    for (name, value) in rows {
        out.push_str(&format!("{name:>20}: {value}\n"));
    }
    out
}

/// A byte progress bar on stderr; indicatif hides it when stderr is not a terminal.
fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// A reader that advances a progress bar by what it reads.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.bar.inc(read as u64);
        result
    }
}
