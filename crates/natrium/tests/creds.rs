//! `.creds` authentication against Debian's reference `nats-server` in operator mode, with
//! the operator, account and user JWTs signed at test time by NKeys.
//!
//! The server trusts the operator (`operator:`), knows the account from
//! `resolver: MEMORY` + `resolver_preload`, and admits users whose JWT the account signed
//! and who prove they hold the JWT's key by signing the server's nonce with the seed.

mod support;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use natrium::{Broker, BrokerConfig, BrokerExt, Error, NatsBroker};
use nkeys::KeyPair;
use serde_json::{Value, json};
use support::bounded;

/// Encodes `claims` as a JWT signed by `issuer`, the way NATS tools do.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let claims = json!({
        "jti": nuid::next().to_string(),
        "iat": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = issuer.sign(signing_input.as_bytes()).expect("sign JWT");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn unlimited_account() -> Value {
    json!({
        "type": "account",
        "version": 2,
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1
        },
        "default_permissions": {"pub": {}, "sub": {}},
    })
}

fn user_claims() -> Value {
    json!({
        "type": "user",
        "version": 2,
        "pub": {}, "sub": {},
        "subs": -1, "data": -1, "payload": -1,
    })
}

/// A `.creds` file: the user JWT and the seed that proves it.
fn creds_file(dir: &Path, name: &str, jwt: &str, seed: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    );
    std::fs::write(&path, text).expect("write creds file");
    path
}

#[tokio::test]
async fn creds_file_admits_the_user_and_wrong_creds_are_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();

    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "natrium-test-operator",
        json!({"type": "operator", "version": 2}),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "natrium-test-account",
        unlimited_account(),
    );
    let user_jwt = jwt(&account, &user.public_key(), "saver", user_claims());
    std::fs::write(dir.path().join("operator.jwt"), &operator_jwt).expect("write operator JWT");
    let config = dir.path().join("server.conf");
    std::fs::write(
        &config,
        format!(
            "operator: {:?}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {:?}\n}}\n",
            dir.path().join("operator.jwt").display().to_string(),
            account.public_key(),
            account_jwt
        ),
    )
    .expect("write server config");
    let config_arg = config.display().to_string();
    let Some(server) = support::reference_with(&["-c", &config_arg]).await else {
        return;
    };
    let broker_config = |creds: &Path| {
        BrokerConfig::new([server.url()])
            .credentials_file(creds)
            .max_reconnects(Some(0))
    };

    // The right creds: connected, and the connection works.
    let good = creds_file(
        dir.path(),
        "good.creds",
        &user_jwt,
        &user.seed().expect("user seed"),
    );
    let broker = bounded(
        "connect with creds",
        NatsBroker::connect(broker_config(&good)),
    )
    .await
    .unwrap_or_else(|e| panic!("connect with a valid creds file: {e}"));
    let mut sub = broker
        .subscribe("creds.events", None)
        .await
        .expect("subscribe");
    broker
        .publish("creds.events", &7u32)
        .await
        .expect("publish");
    let got = bounded("the message", sub.next()).await.expect("message");
    assert_eq!(&got.payload[..], b"7");
    broker.close().await.expect("close");

    // Refused: a seed that does not match the JWT (the nonce signature fails), a user
    // signed by an account the server does not know, and no credentials at all.
    let stranger = KeyPair::new_user();
    let wrong_seed = creds_file(
        dir.path(),
        "wrong-seed.creds",
        &user_jwt,
        &stranger.seed().expect("seed"),
    );
    let rogue_account = KeyPair::new_account();
    let rogue_jwt = jwt(
        &rogue_account,
        &stranger.public_key(),
        "rogue",
        user_claims(),
    );
    let unknown_account = creds_file(
        dir.path(),
        "unknown-account.creds",
        &rogue_jwt,
        &stranger.seed().expect("seed"),
    );
    for (what, config) in [
        (
            "a seed that does not match the JWT",
            broker_config(&wrong_seed),
        ),
        (
            "a user of an unknown account",
            broker_config(&unknown_account),
        ),
        (
            "no credentials",
            BrokerConfig::new([server.url()]).max_reconnects(Some(0)),
        ),
    ] {
        let err = bounded(what, NatsBroker::connect(config))
            .await
            .expect_err(what);
        eprintln!("{what}: refused as expected: {err}");
        assert!(matches!(err, Error::Connect { .. }), "{what}: {err}");
        assert!(
            err.to_string()
                .to_lowercase()
                .contains("authorization violation"),
            "{what}: the error says why: {err}"
        );
    }

    // A creds file without a JWT is refused before connecting.
    let empty = dir.path().join("empty.creds");
    std::fs::write(&empty, "not a creds file\n").expect("write");
    let err = NatsBroker::connect(broker_config(&empty))
        .await
        .expect_err("a file without a JWT is refused");
    eprintln!("empty creds: refused as expected: {err}");
    assert!(
        matches!(
            err,
            Error::File {
                what: "credentials",
                ..
            }
        ),
        "{err}"
    );
    server.stop().await;
}
