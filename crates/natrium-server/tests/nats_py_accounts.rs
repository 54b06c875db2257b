//! nats.py with accounts, on natrium-server and on the newest nats-server: two accounts
//! with the same subject, a service import answered across accounts and an nkey login
//! (`tests/py/accounts.py`), and `.creds` logins in operator mode with JWTs minted at test
//! time (`tests/py/operator.py`).
//!
//! Needs `python3` (env `PYTHON` overrides) with nats-py and nkeys (`pip install nats-py
//! nkeys`). Under env `CI` a missing one (or a missing reference server) fails the test;
//! locally it warns and returns.

mod common;

use natrium_server::{Server, config};
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;
use nkeys::KeyPair;
use serde_json::{Value, json};

/// Where a script runs: natrium-server (from the configuration file) or the reference.
enum Target {
    Natrium(Server),
    Latest(natrium_test_support::process::ServerProcess),
}

impl Target {
    async fn start(latest: bool, conf: &str, dir: &std::path::Path) -> Option<Target> {
        if latest {
            let bin = reference::latest_binary_or_skip("nats.py accounts")?;
            let server = ServerCommand::new(bin).config(conf).start().await.unwrap();
            return Some(Target::Latest(server));
        }
        let path = dir.join("server.conf");
        std::fs::write(&path, format!("listen: 127.0.0.1:-1\n{conf}")).unwrap();
        let opts = config::load(&path).expect("valid configuration").options;
        Some(Target::Natrium(Server::start(opts).await.unwrap()))
    }

    fn url(&self) -> String {
        match self {
            Target::Natrium(s) => s.client_url(),
            Target::Latest(s) => s.client_url(),
        }
    }

    async fn shutdown(self) {
        match self {
            Target::Natrium(s) => s.shutdown().await,
            Target::Latest(s) => s.shutdown().await,
        }
    }
}

async fn accounts(latest: bool) {
    let Some(python) = common::py::python_with_nkeys().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nkey_user = KeyPair::new_user();
    let seed = dir.path().join("user.nk");
    std::fs::write(&seed, nkey_user.seed().unwrap()).unwrap();
    let conf = format!(
        "accounts {{\n  A {{\n    users: [{{user: a, password: a}}, {{user: a2, password: a2}}, \
         {{nkey: {}}}]\n    exports: [{{service: svc.echo}}]\n  }}\n  B {{\n    users: \
         [{{user: b, password: b}}]\n    imports: [{{service: {{account: A, subject: \
         svc.echo}}}}]\n  }}\n}}\n",
        nkey_user.public_key()
    );
    let Some(server) = Target::start(latest, &conf, dir.path()).await else {
        return;
    };
    let seed = seed.to_string_lossy();
    common::py::run_script_with(&python, "accounts", &server.url(), &[&seed]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn nats_py_accounts_on_natrium() {
    accounts(false).await;
}

#[tokio::test]
async fn nats_py_accounts_on_latest() {
    accounts(true).await;
}

/// A JWT for `subject` signed by `issuer` with `nats` as its NATS claims.
fn jwt(issuer: &KeyPair, subject: &str, nats: Value) -> String {
    natrium_test_support::jwt::jwt(issuer, subject, nats, json!({}))
}

/// A `.creds` file for a new user of `account`.
fn creds_file(dir: &std::path::Path, name: &str, account: &KeyPair) -> String {
    let user = KeyPair::new_user();
    let token = jwt(
        account,
        &user.public_key(),
        json!({"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1}),
    );
    let text = natrium_test_support::jwt::creds(&token, &user);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn operator(latest: bool) {
    let Some(python) = common::py::python_with_nkeys().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let operator = KeyPair::new_operator();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        json!({"type": "operator", "version": 2}),
    );
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    let account = |k: &KeyPair| {
        jwt(
            &operator,
            &k.public_key(),
            json!({"type": "account", "version": 2,
                "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                    "exports": -1, "wildcards": true, "conn": -1, "leaf": -1}}),
        )
    };
    let conf = format!(
        "operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{}\"\n  \
         {}: \"{}\"\n}}\n",
        a.public_key(),
        account(&a),
        b.public_key(),
        account(&b)
    );
    let creds_a = creds_file(dir.path(), "a.creds", &a);
    let creds_b = creds_file(dir.path(), "b.creds", &b);
    let Some(server) = Target::start(latest, &conf, dir.path()).await else {
        return;
    };
    common::py::run_script_with(&python, "operator", &server.url(), &[&creds_a, &creds_b]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn nats_py_creds_login_in_operator_mode_on_natrium() {
    operator(false).await;
}

#[tokio::test]
async fn nats_py_creds_login_in_operator_mode_on_latest() {
    operator(true).await;
}
