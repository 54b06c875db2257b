//! TLS with real servers: natrium-server and Debian's reference `nats-server`, with
//! certificates made at test time (a CA, a server certificate for 127.0.0.1 and localhost, a
//! client certificate, and an unrelated CA).
//!
//! Shows that every TLS setting of [`BrokerConfig`] is applied: the CA makes the server
//! trusted, the client certificate satisfies `--tlsverify`, its absence and a wrong CA are
//! refused with [`Error::Connect`] at once, not after a hang.

mod support;

use std::time::Duration;

use futures::StreamExt;
use natrium::{Broker, BrokerConfig, BrokerExt, Error, NatsBroker};
use natrium_server::{Server, ServerOptions, TlsOptions};
use natrium_test_support::certs::Certs;
use support::{TestServer, bounded};

/// TLS servers with the server certificate; `verify`: they also require client certificates
/// signed by the CA. natrium-server embedded, then Debian's nats-server (when installed;
/// required in CI).
async fn tls_servers(certs: &Certs, verify: bool) -> Vec<TestServer> {
    let mut tls = TlsOptions::new(&certs.server_cert, &certs.server_key);
    if verify {
        tls = tls.verify_clients(&certs.ca);
    }
    let embedded = Server::start(ServerOptions {
        tls: Some(tls),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect("natrium-server with TLS starts");
    let mut servers = vec![TestServer::Embedded(embedded)];
    let arg = |p: &std::path::Path| p.display().to_string();
    let mut args = vec![
        "--tls".to_owned(),
        "--tlscert".to_owned(),
        arg(&certs.server_cert),
        "--tlskey".to_owned(),
        arg(&certs.server_key),
    ];
    if verify {
        args.extend([
            "--tlsverify".to_owned(),
            "--tlscacert".to_owned(),
            arg(&certs.ca),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    servers.extend(support::reference_with(&args).await);
    servers
}

/// A config for `server` that fails fast instead of retrying.
fn config(server: &TestServer) -> BrokerConfig {
    server
        .config()
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(3))
}

/// The error and every source below it, as one line.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(" <- ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Subscribes, publishes, and answers a request over `broker`.
async fn publish_and_request(broker: &NatsBroker) {
    let mut sub = broker
        .subscribe("tls.events", None)
        .await
        .expect("subscribe");
    broker
        .publish("tls.events", &serde_json::json!({"n": 1}))
        .await
        .expect("publish");
    let got = bounded("the published message", sub.next())
        .await
        .expect("message");
    assert_eq!(&got.payload[..], br#"{"n":1}"#);

    let responder = broker
        .subscribe_fn("tls.double", None, {
            let broker = broker.clone();
            move |msg| {
                let broker = broker.clone();
                async move {
                    let n: u32 = serde_json::from_slice(&msg.payload).expect("number");
                    if let Some(reply) = msg.reply {
                        broker
                            .publish(&reply, &(n * 2))
                            .await
                            .expect("publish reply");
                    }
                }
            }
        })
        .await
        .expect("responder");
    let doubled: u32 = bounded("the reply", broker.request("tls.double", &21u32))
        .await
        .expect("request over TLS");
    assert_eq!(doubled, 42);
    responder.drain().await.expect("drain responder");
}

#[tokio::test]
async fn broker_trusts_the_server_through_its_ca_and_publishes_and_requests() {
    let certs = Certs::generate();
    for server in tls_servers(&certs, false).await {
        let broker = bounded(
            "TLS connect",
            NatsBroker::connect(config(&server).ca_file(&certs.ca)),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: connect with the CA: {}", server.url(), chain(&e)));
        publish_and_request(&broker).await;
        broker.close().await.expect("close");

        // The server name is checked too: "localhost" is on the certificate as well.
        let port = server.url().rsplit(':').next().expect("port").to_owned();
        let by_name = BrokerConfig::new([format!("nats://localhost:{port}")])
            .ca_file(&certs.ca)
            .max_reconnects(Some(0));
        let broker = bounded("TLS connect by name", NatsBroker::connect(by_name))
            .await
            .unwrap_or_else(|e| panic!("connect to localhost with the CA: {}", chain(&e)));
        broker.flush().await.expect("flush");
        broker.close().await.expect("close");
        server.stop().await;
    }
}

#[tokio::test]
async fn without_the_ca_or_with_a_wrong_one_the_server_is_not_trusted() {
    let certs = Certs::generate();
    for server in tls_servers(&certs, false).await {
        for config in [
            config(&server).ca_file(&certs.rogue_ca),
            config(&server).require_tls(true),
        ] {
            let err = bounded("refused TLS connect", NatsBroker::connect(config))
                .await
                .expect_err("an untrusted server certificate is refused");
            let text = chain(&err);
            eprintln!("refused as expected: {text}");
            assert!(matches!(err, Error::Connect { .. }), "{text}");
            assert!(
                text.contains("certificate") && text.contains("UnknownIssuer"),
                "the error says why: {text}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn tlsverify_admits_the_client_certificate_and_refuses_its_absence() {
    let certs = Certs::generate();
    for server in tls_servers(&certs, true).await {
        let with_cert = config(&server)
            .ca_file(&certs.ca)
            .client_cert(&certs.client_cert, &certs.client_key);
        let broker = bounded("mutual TLS connect", NatsBroker::connect(with_cert))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: connect with a client certificate: {}",
                    server.url(),
                    chain(&e)
                )
            });
        publish_and_request(&broker).await;
        broker.close().await.expect("close");

        let without_cert = config(&server).ca_file(&certs.ca);
        let err = bounded(
            "TLS connect without a client certificate",
            NatsBroker::connect(without_cert),
        )
        .await
        .expect_err("no client certificate is refused");
        let text = chain(&err);
        eprintln!("refused as expected: {text}");
        assert!(matches!(err, Error::Connect { .. }), "{text}");
        assert!(text.contains("Certificate"), "the error says why: {text}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let certs = Certs::generate();
    for server in tls_servers(&certs, true).await {
        // A client certificate signed by a CA the server does not trust.
        let foreign = config(&server)
            .ca_file(&certs.ca)
            .client_cert(&certs.rogue_cert, &certs.rogue_key);
        let err = bounded(
            "TLS connect with a foreign client certificate",
            NatsBroker::connect(foreign),
        )
        .await
        .expect_err("a client certificate from another CA is refused");
        let text = chain(&err);
        eprintln!("refused as expected: {text}");
        assert!(matches!(err, Error::Connect { .. }), "{text}");
        assert!(
            text.contains("Certificate") || text.contains("UnknownCA"),
            "the error says why: {text}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn files_without_certificates_or_keys_are_refused_before_connecting() {
    let certs = Certs::generate();
    let garbage = certs.write_file("garbage.pem", "this is not PEM\n");
    // Nothing listens here: each refusal must come from checking the files.
    let nowhere = BrokerConfig::new(["nats://127.0.0.1:1"]).max_reconnects(Some(0));
    let cases = [
        (
            "CA certificate",
            &garbage,
            nowhere.clone().ca_file(&garbage),
        ),
        (
            "CA certificate",
            &certs.client_key,
            nowhere.clone().ca_file(&certs.client_key),
        ),
        (
            "client certificate",
            &certs.client_key,
            nowhere
                .clone()
                .client_cert(&certs.client_key, &certs.client_key),
        ),
        (
            "client key",
            &certs.client_cert,
            nowhere
                .clone()
                .client_cert(&certs.client_cert, &certs.client_cert),
        ),
    ];
    for (what, file, config) in cases {
        let err = bounded("refused connect", NatsBroker::connect(config))
            .await
            .expect_err("an unusable TLS file is refused");
        eprintln!("refused as expected: {}", chain(&err));
        match &err {
            Error::File {
                what: got, path, ..
            } => {
                assert_eq!((*got, path.as_path()), (what, file.as_path()));
                assert!(err.to_string().contains("no PEM"), "{err}");
            }
            other => panic!("expected Error::File for {what}, got {}", chain(other)),
        }
    }
    // The real files pass the same checks.
    nowhere
        .ca_file(&certs.ca)
        .client_cert(&certs.client_cert, &certs.client_key)
        .validate()
        .expect("valid TLS files");
}
