//! Where the saver writes reports: SQLite (the default, a file under `./data`) or PostgreSQL
//! (when the database URL is `postgres://…`).
//!
//! SQLite has a single writer, so one dedicated thread owns the connection and commits
//! whatever inserts are queued in one transaction: under load that turns thousands of tiny
//! commits into a few large ones, while each caller still learns when *its* row is durable.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::proto::{AcceptStatusReportData, RealTimeWarehousingData};

/// Why a report could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is neither `sqlite://…`, a path, nor `postgres://…`.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused an operation.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The SQLite writer thread is gone (the store was closed).
    #[error("the database writer has stopped")]
    WriterGone,
}

/// One row to write.
#[derive(Debug, Clone)]
pub enum Record {
    /// A `RealTimeWarehousingData` event.
    Event(RealTimeWarehousingData),
    /// An `AcceptStatusReportData` user report.
    User(AcceptStatusReportData),
}

/// Row counts per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowCounts {
    /// Rows in `event_reports`.
    pub event_reports: u64,
    /// Rows in `user_reports`.
    pub user_reports: u64,
}

/// A handle to the report database; cheap to clone.
#[derive(Clone)]
pub enum Store {
    /// SQLite through one writer thread.
    Sqlite(SqliteStore),
    /// PostgreSQL through one pipelining connection.
    Postgres(PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(s) => write!(f, "Store::Sqlite({})", s.path.display()),
            Self::Postgres(_) => f.write_str("Store::Postgres"),
        }
    }
}

impl Store {
    /// Opens (and creates the tables of) the database named by `url`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(PgStore::connect(url).await?));
        }
        let path = match url.strip_prefix("sqlite://") {
            Some(path) => path,
            None if url.contains("://") || url.is_empty() => {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            None => url,
        };
        let path = PathBuf::from(path);
        tokio::task::spawn_blocking(move || SqliteStore::open(path))
            .await
            .map_err(|_| StoreError::WriterGone)?
            .map(Self::Sqlite)
    }

    /// Writes one record; returns once it is committed.
    pub async fn save(&self, record: Record) -> Result<(), StoreError> {
        self.save_with_id(record, None).await
    }

    /// Writes one record unless a row with message id `msg_id` exists (then does nothing):
    /// a redelivered or retried message never becomes a second row. Returns once committed.
    pub async fn save_once(&self, record: Record, msg_id: &str) -> Result<(), StoreError> {
        self.save_with_id(record, Some(msg_id.to_owned())).await
    }

    async fn save_with_id(&self, record: Record, msg_id: Option<String>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.request(Job::Insert(record, msg_id)).await.map(drop),
            Self::Postgres(p) => p.save(record, msg_id).await,
        }
    }

    /// Counts the rows of both tables.
    pub async fn counts(&self) -> Result<RowCounts, StoreError> {
        match self {
            Self::Sqlite(s) => match s.request(Job::Count).await? {
                Reply::Counts(c) => Ok(c),
                Reply::Done | Reply::Rows(_) => Err(StoreError::WriterGone),
            },
            Self::Postgres(p) => p.counts().await,
        }
    }

    /// The `report_data` of every stored event named `event_name` (duplicates included).
    pub async fn event_report_data(&self, event_name: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Sqlite(s) => match s.request(Job::Events(event_name.to_owned())).await? {
                Reply::Rows(rows) => Ok(rows),
                Reply::Done | Reply::Counts(_) => Err(StoreError::WriterGone),
            },
            Self::Postgres(p) => p.event_report_data(event_name).await,
        }
    }
}

/// SQLite behind a dedicated writer thread.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    jobs: mpsc::Sender<(Job, oneshot::Sender<Result<Reply, StoreError>>)>,
}

enum Job {
    Insert(Record, Option<String>),
    Count,
    Events(String),
}

enum Reply {
    Done,
    Counts(RowCounts),
    Rows(Vec<String>),
}

/// How many queued jobs the writer commits in one transaction at most.
const SQLITE_BATCH: usize = 512;

const SQLITE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS event_reports (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        event_name  TEXT    NOT NULL,
        report_data TEXT    NOT NULL,
        create_time INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS user_reports (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        content     TEXT    NOT NULL,
        create_time INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS event_reports_by_name ON event_reports (event_name);
";

/// Message ids make inserts idempotent; added to databases created before they existed.
/// `NULL` ids (core mode) never conflict.
const SQLITE_MSG_ID: &str = "
    CREATE UNIQUE INDEX IF NOT EXISTS event_reports_msg_id ON event_reports (msg_id);
    CREATE UNIQUE INDEX IF NOT EXISTS user_reports_msg_id ON user_reports (msg_id);
";

/// Adds the `msg_id` column to `table` if it lacks it.
fn sqlite_add_msg_id(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<()> {
    let has: bool = conn.query_row(
        &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = 'msg_id'"),
        [],
        |r| r.get(0),
    )?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN msg_id TEXT"))?;
    }
    Ok(())
}

impl SqliteStore {
    fn open(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = rusqlite::Connection::open(&path)?;
        // First: another process opening the same file at the same moment (a second saver,
        // a test) holds its lock briefly while it switches to WAL; wait instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL lets readers (the stats endpoint, `sqlite3` in a shell) run beside the writer;
        // NORMAL sync is durable across application crashes, which is what the demo promises.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // One writer at a time through the schema: two processes opening a new database at
        // once would both see `msg_id` missing and the second ALTER TABLE would fail.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let schema = conn
            .execute_batch(SQLITE_SCHEMA)
            .and_then(|()| sqlite_add_msg_id(&conn, "event_reports"))
            .and_then(|()| sqlite_add_msg_id(&conn, "user_reports"))
            .and_then(|()| conn.execute_batch(SQLITE_MSG_ID));
        match schema {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
        let (jobs, queue) = mpsc::channel(4 * SQLITE_BATCH);
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || sqlite_writer(conn, queue))
            .map_err(|source| StoreError::CreateDir {
                path: path.clone(),
                source,
            })?;
        Ok(Self { path, jobs })
    }

    async fn request(&self, job: Job) -> Result<Reply, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((job, tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

type Pending = (Job, oneshot::Sender<Result<Reply, StoreError>>);

/// The writer thread: takes every queued job, commits the inserts in one transaction, answers.
/// Ends when every `SqliteStore` handle is dropped.
fn sqlite_writer(mut conn: rusqlite::Connection, mut queue: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(SQLITE_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < SQLITE_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = insert_batch(&mut conn, &batch);
        for (job, reply) in batch.drain(..) {
            let answer = match (&outcome, job) {
                (Err(e), Job::Insert(..)) => Err(StoreError::Sqlite(clone_sqlite_error(e))),
                (Ok(()), Job::Insert(..)) => Ok(Reply::Done),
                (_, Job::Count) => count_rows(&conn).map(Reply::Counts),
                (_, Job::Events(name)) => event_rows(&conn, &name).map(Reply::Rows),
            };
            // The caller may have given up (e.g. its handler was cancelled); nothing to do then.
            let _ = reply.send(answer);
        }
    }
}

/// `rusqlite::Error` is not `Clone`; one failed batch is reported to each of its callers.
fn clone_sqlite_error(e: &rusqlite::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.to_string().into())
}

fn insert_batch(conn: &mut rusqlite::Connection, batch: &[Pending]) -> rusqlite::Result<()> {
    if !batch.iter().any(|(job, _)| matches!(job, Job::Insert(..))) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        // OR IGNORE: a message id already stored (a redelivery) adds nothing.
        let mut event = tx.prepare_cached(
            "INSERT OR IGNORE INTO event_reports (event_name, report_data, create_time, msg_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut user = tx.prepare_cached(
            "INSERT OR IGNORE INTO user_reports (user_id, status, content, create_time, msg_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (job, _) in batch {
            match job {
                Job::Insert(Record::Event(e), id) => {
                    event.execute((&e.event_name, &e.report_data, e.create_time, id))?;
                }
                Job::Insert(Record::User(u), id) => {
                    user.execute((&u.user_id, &u.status, &u.content, u.create_time, id))?;
                }
                Job::Count | Job::Events(_) => {}
            }
        }
    }
    tx.commit()
}

fn count_rows(conn: &rusqlite::Connection) -> Result<RowCounts, StoreError> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(RowCounts {
        event_reports: count("event_reports")?,
        user_reports: count("user_reports")?,
    })
}

fn event_rows(conn: &rusqlite::Connection, name: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT report_data FROM event_reports WHERE event_name = ?1")?;
    let rows = stmt.query_map([name], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

/// PostgreSQL through one connection; tokio-postgres pipelines concurrent queries on it.
#[derive(Clone)]
pub struct PgStore {
    client: Arc<tokio_postgres::Client>,
}

const PG_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS event_reports (
        id          BIGSERIAL PRIMARY KEY,
        event_name  TEXT      NOT NULL,
        report_data TEXT      NOT NULL,
        create_time BIGINT    NOT NULL
    );
    CREATE TABLE IF NOT EXISTS user_reports (
        id          BIGSERIAL PRIMARY KEY,
        user_id     TEXT      NOT NULL,
        status      TEXT      NOT NULL,
        content     TEXT      NOT NULL,
        create_time BIGINT    NOT NULL
    );
    CREATE INDEX IF NOT EXISTS event_reports_by_name ON event_reports (event_name);
    ALTER TABLE event_reports ADD COLUMN IF NOT EXISTS msg_id TEXT;
    ALTER TABLE user_reports ADD COLUMN IF NOT EXISTS msg_id TEXT;
    CREATE UNIQUE INDEX IF NOT EXISTS event_reports_msg_id ON event_reports (msg_id);
    CREATE UNIQUE INDEX IF NOT EXISTS user_reports_msg_id ON user_reports (msg_id);
";

impl PgStore {
    async fn connect(url: &str) -> Result<Self, StoreError> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!(error = %e, "postgres connection closed");
            }
        });
        client.batch_execute(PG_SCHEMA).await?;
        Ok(Self {
            client: Arc::new(client),
        })
    }

    async fn save(&self, record: Record, msg_id: Option<String>) -> Result<(), StoreError> {
        // ON CONFLICT DO NOTHING: a message id already stored (a redelivery) adds nothing.
        match record {
            Record::Event(e) => {
                self.client
                    .execute(
                        "INSERT INTO event_reports (event_name, report_data, create_time, msg_id) VALUES ($1, $2, $3, $4) ON CONFLICT (msg_id) DO NOTHING",
                        &[&e.event_name, &e.report_data, &e.create_time, &msg_id],
                    )
                    .await?;
            }
            Record::User(u) => {
                self.client
                    .execute(
                        "INSERT INTO user_reports (user_id, status, content, create_time, msg_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (msg_id) DO NOTHING",
                        &[&u.user_id, &u.status, &u.content, &u.create_time, &msg_id],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn counts(&self) -> Result<RowCounts, StoreError> {
        let count = |table: &'static str| async move {
            let row = self
                .client
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await?;
            Ok::<u64, StoreError>(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        };
        Ok(RowCounts {
            event_reports: count("event_reports").await?,
            user_reports: count("user_reports").await?,
        })
    }

    async fn event_report_data(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT report_data FROM event_reports WHERE event_name = $1",
                &[&name],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
