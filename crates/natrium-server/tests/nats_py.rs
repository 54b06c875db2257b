//! The Python client, nats.py, on natrium-server and on the newest nats-server: each script
//! in `tests/py/` must pass on both — `jetstream.py` (streams, publish with `Nats-Msg-Id`
//! deduplication, `get_msg`/`get_last_msg`, purge, `stream_info`), `key_value.py`,
//! `object_store.py` and `consumers.py` (pull fetch, a push queue group, an ordered consumer).
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py (`pip install nats-py`). Under env
//! `CI` a missing one (or a missing reference server) fails the test; locally it warns and
//! returns.

mod common;

use natrium_server::ServerOptions;
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

async fn on_natrium(name: &str) {
    let Some(python) = common::py::python_with_nats_py().await else {
        return;
    };
    let server = common::start(ServerOptions::ephemeral_jetstream()).await;
    common::py::run_script(&python, name, &server.client_url()).await;
    server.shutdown().await;
}

async fn on_latest(name: &str) {
    let Some(python) = common::py::python_with_nats_py().await else {
        return;
    };
    let Some(bin) = reference::latest_binary_or_skip(&format!("nats.py {name}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerCommand::new(&bin)
        .jetstream(dir.path())
        .start()
        .await
        .expect("nats-server starts");
    common::py::run_script(&python, name, &server.client_url()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn nats_py_jetstream_on_natrium() {
    on_natrium("jetstream").await;
}

#[tokio::test]
async fn nats_py_jetstream_on_latest() {
    on_latest("jetstream").await;
}

#[tokio::test]
async fn nats_py_key_value_on_natrium() {
    on_natrium("key_value").await;
}

#[tokio::test]
async fn nats_py_key_value_on_latest() {
    on_latest("key_value").await;
}

#[tokio::test]
async fn nats_py_object_store_on_natrium() {
    on_natrium("object_store").await;
}

#[tokio::test]
async fn nats_py_object_store_on_latest() {
    on_latest("object_store").await;
}

#[tokio::test]
async fn nats_py_consumers_on_natrium() {
    on_natrium("consumers").await;
}

#[tokio::test]
async fn nats_py_consumers_on_latest() {
    on_latest("consumers").await;
}
