//! TLS with a real server: Debian's reference `nats-server` with certificates made at test
//! time (a CA, a server certificate for 127.0.0.1 and localhost, a client certificate).
//!
//! Shows that every TLS setting of [`BrokerConfig`] is applied: the CA makes the server
//! trusted, the client certificate satisfies `--tlsverify`, its absence and a wrong CA are
//! refused with [`Error::Connect`] at once, not after a hang.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use natrium::{Broker, BrokerConfig, BrokerExt, Error, NatsBroker};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use support::{TestServer, bounded};

/// PEM files of one test PKI, in a temporary directory removed on drop.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate (127.0.0.1, localhost) and a client certificate signed
    /// by it, and a second, unrelated CA.
    fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ca = certificate_authority("natrium test CA");
        write(dir.path(), "ca.pem", &ca.pem());
        let other_ca = certificate_authority("some other CA");
        write(dir.path(), "other-ca.pem", &other_ca.pem());

        let mut server = CertificateParams::new(["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server names");
        server
            .distinguished_name
            .push(DnType::CommonName, "natrium test server");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server.signed_by(&server_key, &ca).expect("server cert");
        write(dir.path(), "server.pem", &server_cert.pem());
        write(dir.path(), "server-key.pem", &server_key.serialize_pem());

        let mut client = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client
            .distinguished_name
            .push(DnType::CommonName, "natrium test client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().expect("client key");
        let client_cert = client.signed_by(&client_key, &ca).expect("client cert");
        write(dir.path(), "client.pem", &client_cert.pem());
        write(dir.path(), "client-key.pem", &client_key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// nats-server flags for TLS with the server certificate; `verify`: also require
    /// client certificates signed by the CA.
    fn server_args(&self, verify: bool) -> Vec<String> {
        let mut args = vec![
            "--tls".to_owned(),
            "--tlscert".to_owned(),
            self.arg("server.pem"),
            "--tlskey".to_owned(),
            self.arg("server-key.pem"),
        ];
        if verify {
            args.extend([
                "--tlsverify".to_owned(),
                "--tlscacert".to_owned(),
                self.arg("ca.pem"),
            ]);
        }
        args
    }
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA cert")
}

fn write(dir: &Path, name: &str, pem: &str) {
    std::fs::write(dir.join(name), pem).expect("write PEM file");
}

async fn tls_server(pki: &Pki, verify: bool) -> Option<TestServer> {
    let args = pki.server_args(verify);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    support::reference_with(&args).await
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
    let pki = Pki::generate();
    let Some(server) = tls_server(&pki, false).await else {
        return;
    };
    let broker = bounded(
        "TLS connect",
        NatsBroker::connect(config(&server).ca_file(pki.path("ca.pem"))),
    )
    .await
    .unwrap_or_else(|e| panic!("connect with the CA: {}", chain(&e)));
    publish_and_request(&broker).await;
    broker.close().await.expect("close");

    // The server name is checked too: "localhost" is on the certificate as well.
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let by_name = BrokerConfig::new([format!("nats://localhost:{port}")])
        .ca_file(pki.path("ca.pem"))
        .max_reconnects(Some(0));
    let broker = bounded("TLS connect by name", NatsBroker::connect(by_name))
        .await
        .unwrap_or_else(|e| panic!("connect to localhost with the CA: {}", chain(&e)));
    broker.flush().await.expect("flush");
    broker.close().await.expect("close");
    server.stop().await;
}

#[tokio::test]
async fn without_the_ca_or_with_a_wrong_one_the_server_is_not_trusted() {
    let pki = Pki::generate();
    let Some(server) = tls_server(&pki, false).await else {
        return;
    };
    for config in [
        config(&server).ca_file(pki.path("other-ca.pem")),
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

#[tokio::test]
async fn tlsverify_admits_the_client_certificate_and_refuses_its_absence() {
    let pki = Pki::generate();
    let Some(server) = tls_server(&pki, true).await else {
        return;
    };
    let with_cert = config(&server)
        .ca_file(pki.path("ca.pem"))
        .client_cert(pki.path("client.pem"), pki.path("client-key.pem"));
    let broker = bounded("mutual TLS connect", NatsBroker::connect(with_cert))
        .await
        .unwrap_or_else(|e| panic!("connect with a client certificate: {}", chain(&e)));
    publish_and_request(&broker).await;
    broker.close().await.expect("close");

    let without_cert = config(&server).ca_file(pki.path("ca.pem"));
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

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::generate();
    let Some(server) = tls_server(&pki, true).await else {
        return;
    };
    // A client certificate signed by a CA the server does not trust.
    let other = Pki::generate();
    let foreign = config(&server)
        .ca_file(pki.path("ca.pem"))
        .client_cert(other.path("client.pem"), other.path("client-key.pem"));
    let err = bounded(
        "TLS connect with a foreign client certificate",
        NatsBroker::connect(foreign),
    )
    .await
    .expect_err("a client certificate from another CA is refused");
    let text = chain(&err);
    eprintln!("refused as expected: {text}");
    assert!(matches!(err, Error::Connect { .. }), "{text}");
    assert!(text.contains("Certificate"), "the error says why: {text}");
    server.stop().await;
}

#[tokio::test]
async fn files_without_certificates_or_keys_are_refused_before_connecting() {
    let pki = Pki::generate();
    write(pki.dir.path(), "garbage.pem", "this is not PEM\n");
    // Nothing listens here: each refusal must come from checking the files.
    let nowhere = BrokerConfig::new(["nats://127.0.0.1:1"]).max_reconnects(Some(0));
    let cases = [
        (
            "CA certificate",
            "garbage.pem",
            nowhere.clone().ca_file(pki.path("garbage.pem")),
        ),
        (
            "CA certificate",
            "client-key.pem",
            nowhere.clone().ca_file(pki.path("client-key.pem")),
        ),
        (
            "client certificate",
            "client-key.pem",
            nowhere
                .clone()
                .client_cert(pki.path("client-key.pem"), pki.path("client-key.pem")),
        ),
        (
            "client key",
            "client.pem",
            nowhere
                .clone()
                .client_cert(pki.path("client.pem"), pki.path("client.pem")),
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
                assert_eq!((*got, path.as_path()), (what, pki.path(file).as_path()));
                assert!(err.to_string().contains("no PEM"), "{err}");
            }
            other => panic!("expected Error::File for {what}, got {}", chain(other)),
        }
    }
    // The real files pass the same checks.
    nowhere
        .ca_file(pki.path("ca.pem"))
        .client_cert(pki.path("client.pem"), pki.path("client-key.pem"))
        .validate()
        .expect("valid TLS files");
}
