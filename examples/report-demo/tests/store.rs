//! The store against real databases: SQLite in a temporary directory, PostgreSQL when
//! `REPORT_DEMO_POSTGRES_URL` is set.

mod support;

use report_demo::proto::{AcceptStatusReportData, RealTimeWarehousingData};
use report_demo::store::{Record, Store, StoreError};

fn event(name: &str, i: usize) -> Record {
    Record::Event(RealTimeWarehousingData {
        event_name: name.to_owned(),
        report_data: format!("item-{i}"),
        create_time: 1_700_000_000_000 + i64::try_from(i).unwrap_or(0),
    })
}

async fn concurrent_saves_are_all_committed(store: &Store) {
    let name = support::unique("store");
    let before = store.counts().await.expect("counts");
    let saves = (0..500).map(|i| {
        let store = store.clone();
        let record = event(&name, i);
        tokio::spawn(async move { store.save(record).await })
    });
    for save in futures::future::join_all(saves).await {
        save.expect("task").expect("saved");
    }
    store
        .save(Record::User(AcceptStatusReportData {
            user_id: "u1".into(),
            status: "accepted".into(),
            content: String::new(),
            create_time: 1,
        }))
        .await
        .expect("user report saved");
    let rows = store.event_report_data(&name).await.expect("rows");
    support::assert_exactly_once(&rows, 500);
    let after = store.counts().await.expect("counts");
    assert_eq!(after.event_reports - before.event_reports, 500);
    assert_eq!(after.user_reports - before.user_reports, 1);
}

#[tokio::test]
async fn sqlite_commits_concurrent_saves_and_creates_its_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/report.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    concurrent_saves_are_all_committed(&store).await;
    drop(store);

    // Rows survive reopening the file: they were committed, not just queued.
    let reopened = Store::open(&path.display().to_string())
        .await
        .expect("reopen");
    let counts = reopened.counts().await.expect("counts");
    assert_eq!((counts.event_reports, counts.user_reports), (500, 1));
}

#[tokio::test]
async fn unsupported_urls_and_unwritable_paths_are_clear_errors() {
    let err = Store::open("mysql://localhost/db")
        .await
        .expect_err("mysql");
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
    assert!(err.to_string().contains("mysql://localhost/db"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, "").expect("write");
    // A directory cannot be created below a regular file.
    let err = Store::open(&format!("sqlite://{}/sub/report.db", file.display()))
        .await
        .expect_err("not a directory");
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
}

#[tokio::test]
async fn postgres_commits_concurrent_saves() {
    let Some(url) = support::postgres_url() else {
        return;
    };
    let store = Store::open(&url)
        .await
        .expect("connect to REPORT_DEMO_POSTGRES_URL");
    concurrent_saves_are_all_committed(&store).await;
}
