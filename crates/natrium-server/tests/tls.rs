//! TLS for client connections: async-nats over TLS, client verification, what plaintext and
//! silent clients get (compared byte for byte with the reference nats-server where it is
//! installed), INFO and monitoring fields, and broken certificate files.

use natrium_test_support::certs;
mod common;
use natrium_test_support::port::free_port;
use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use certs::Certs;
use common::BOUND;
use futures::StreamExt;
use natrium_server::{Server, ServerError, ServerOptions, TlsError, TlsFile, TlsOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn tls_options(certs: &Certs) -> ServerOptions {
    ServerOptions {
        tls: Some(TlsOptions::new(&certs.server_cert, &certs.server_key)),
        ..ServerOptions::ephemeral()
    }
}

fn verify_options(certs: &Certs) -> ServerOptions {
    ServerOptions {
        tls: Some(TlsOptions::new(&certs.server_cert, &certs.server_key).verify_clients(&certs.ca)),
        ..ServerOptions::ephemeral()
    }
}

async fn start(opts: ServerOptions) -> Server {
    Server::start(opts).await.expect("TLS server starts")
}

/// Client options trusting the test CA.
fn trusting(certs: &Certs) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(certs.ca.clone())
        .require_tls(true)
}

async fn connect_with(
    url: &str,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    tokio::time::timeout(BOUND, opts.connect(url))
        .await
        .expect("connect finishes within bound")
}

/// Connects over plain TCP, reads the INFO line, sends `send`, then reads until the server
/// closes. Returns the INFO line, the bytes after it, and how long the close took after the
/// send.
async fn plain_session(addr: SocketAddr, send: &[u8]) -> (String, Vec<u8>, Duration) {
    let stream = TcpStream::connect(addr).await.expect("tcp connect");
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    tokio::time::timeout(BOUND, reader.read_line(&mut info))
        .await
        .expect("INFO within bound")
        .expect("INFO");
    reader.get_mut().write_all(send).await.expect("send");
    let sent = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, reader.read_to_end(&mut rest))
        .await
        .expect("server closes within bound")
        .expect("clean close (FIN, not RST)");
    (info, rest, sent.elapsed())
}

/// The INFO line's JSON keys, in the order the server wrote them.
fn info_keys(info: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    let json = info
        .strip_prefix("INFO ")
        .and_then(|s| s.strip_suffix(" \r\n"))
        .expect("INFO {...} \\r\\n");
    serde_json::from_str::<Keys>(json).expect("INFO json").0
}

fn info_json(info: &str) -> serde_json::Value {
    serde_json::from_str(info.trim_start_matches("INFO ").trim_end()).expect("INFO json")
}

#[tokio::test]
async fn pub_sub_and_request_over_tls() {
    let certs = Certs::generate();
    let server = start(tls_options(&certs)).await;
    let client = connect_with(&server.client_url(), trusting(&certs))
        .await
        .expect("TLS connect");
    assert!(client.server_info().tls_required);

    let mut sub = client.subscribe("tls.greet").await.expect("subscribe");
    client.flush().await.expect("flush");
    client
        .publish("tls.greet", "hello over tls".into())
        .await
        .expect("publish");
    let msg = tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("message within bound")
        .expect("message");
    assert_eq!(&msg.payload[..], b"hello over tls");

    let mut service = client.subscribe("tls.echo").await.expect("subscribe");
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let _ = responder.publish(reply, req.payload).await;
            }
        }
    });
    client.flush().await.expect("flush");
    // Large enough to span several TLS records.
    let big = vec![b'x'; 200 * 1024];
    let answer = tokio::time::timeout(BOUND, client.request("tls.echo", big.clone().into()))
        .await
        .expect("reply within bound")
        .expect("reply");
    assert_eq!(answer.payload.len(), big.len());
    assert_eq!(&answer.payload[..], &big[..]);
    server.shutdown().await;
}

#[tokio::test]
async fn verify_accepts_ca_signed_clients_and_refuses_others() {
    let certs = Certs::generate();
    let server = start(verify_options(&certs)).await;
    let url = server.client_url();

    let good = connect_with(
        &url,
        trusting(&certs)
            .add_client_certificate(certs.client_cert.clone(), certs.client_key.clone()),
    )
    .await
    .expect("a CA-signed client certificate is accepted");
    let mut sub = good.subscribe("v").await.expect("subscribe");
    good.publish("v", "ok".into()).await.expect("publish");
    let msg = tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("message within bound")
        .expect("message");
    assert_eq!(&msg.payload[..], b"ok");

    let no_cert = connect_with(&url, trusting(&certs)).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate is refused"
    );
    let rogue = connect_with(
        &url,
        trusting(&certs).add_client_certificate(certs.rogue_cert.clone(), certs.rogue_key.clone()),
    )
    .await;
    assert!(
        rogue.is_err(),
        "a certificate from another CA is refused at handshake"
    );
    // Only the good client got in.
    assert_eq!(server.stats().connections, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn info_announces_tls_before_the_handshake() {
    let certs = Certs::generate();
    // A short handshake timeout: these clients never start one.
    let quick = |mut opts: ServerOptions| {
        if let Some(tls) = &mut opts.tls {
            tls.timeout = Duration::from_millis(100);
        }
        opts
    };
    let server = start(quick(verify_options(&certs))).await;
    let (info, _, _) = plain_session(server.addr(), b"").await;
    let json = info_json(&info);
    assert_eq!(json["tls_required"], true);
    assert_eq!(json["tls_verify"], true);
    let keys = info_keys(&info);
    let pos = |k: &str| keys.iter().position(|x| x == k).expect(k);
    assert!(pos("headers") < pos("tls_required"));
    assert!(pos("tls_required") < pos("tls_verify"));
    assert!(pos("tls_verify") < pos("max_payload"));
    server.shutdown().await;

    let server = start(quick(tls_options(&certs))).await;
    let (info, _, _) = plain_session(server.addr(), b"").await;
    let json = info_json(&info);
    assert_eq!(json["tls_required"], true);
    assert!(json.get("tls_verify").is_none(), "{info}");
    server.shutdown().await;

    let server = start(ServerOptions::ephemeral()).await;
    let (_, info) = common::Raw::connect(&server).await;
    assert!(!info.contains("tls_"), "{info}");
    server.shutdown().await;
}

#[tokio::test]
async fn plaintext_client_gets_info_then_a_silent_close() {
    let certs = Certs::generate();
    let opts = ServerOptions {
        http_port: Some(0),
        ..tls_options(&certs)
    };
    let server = start(opts).await;
    let (info, rest, _) = plain_session(
        server.addr(),
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n",
    )
    .await;
    assert!(
        info.starts_with("INFO {") && info.ends_with(" \r\n"),
        "{info}"
    );
    assert_eq!(rest, b"", "nothing after INFO, no PONG, no -ERR");
    let closed = connz(&server, "state=closed").await;
    assert_eq!(
        closed["connections"][0]["reason"], "TLS Handshake Failure",
        "{closed}"
    );
    assert_eq!(server.stats().connections, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn silent_client_is_closed_at_the_tls_timeout() {
    let certs = Certs::generate();
    let mut opts = tls_options(&certs);
    let timeout = Duration::from_millis(300);
    if let Some(tls) = &mut opts.tls {
        tls.timeout = timeout;
    }
    let server = start(opts).await;
    let (_, rest, waited) = plain_session(server.addr(), b"").await;
    assert_eq!(rest, b"");
    assert!(
        waited >= timeout,
        "closed after {waited:?}, before the timeout"
    );
    server.shutdown().await;
}

/// The same plaintext and silent clients against the reference nats-server with the same
/// certificates: the same INFO fields, in the same order, and the same (empty) answer.
#[tokio::test]
async fn plaintext_and_silent_clients_match_nats_server() {
    let Some(bin) = reference::reference_binary_or_skip("TLS differential") else {
        return;
    };
    let certs = Certs::generate();
    let config = format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: 0.5 }}\n",
        certs.server_cert, certs.server_key, certs.ca
    );
    let reference = ServerCommand::new(&bin)
        .config(&config)
        .start()
        .await
        .expect("reference nats-server starts");
    let mut opts = verify_options(&certs);
    if let Some(tls) = &mut opts.tls {
        tls.timeout = Duration::from_millis(500);
    }
    let server = start(opts).await;

    for send in [
        &b"CONNECT {\"verbose\":false}\r\nPING\r\n"[..],
        b"PING\r\n",
        b"SUB foo 1\r\n",
        b"",
    ] {
        let (ours_info, ours_rest, _) = plain_session(server.addr(), send).await;
        let (ref_info, ref_rest, _) = plain_session(reference.addr(), send).await;
        assert_eq!(info_keys(&ours_info), info_keys(&ref_info), "INFO fields");
        let (ours, theirs) = (info_json(&ours_info), info_json(&ref_info));
        for key in [
            "tls_required",
            "tls_verify",
            "headers",
            "proto",
            "max_payload",
        ] {
            assert_eq!(ours[key], theirs[key], "{key}");
        }
        assert_eq!(
            ours_rest,
            ref_rest,
            "answer to {:?}",
            String::from_utf8_lossy(send)
        );
    }
    reference.shutdown().await;
    server.shutdown().await;
}

async fn get_json(addr: SocketAddr, path_and_query: &str) -> serde_json::Value {
    let url = format!("http://{addr}{path_and_query}");
    tokio::time::timeout(BOUND, async {
        reqwest::get(&url)
            .await
            .expect("GET")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    })
    .await
    .expect("monitoring answers within bound")
}

async fn connz(server: &Server, query: &str) -> serde_json::Value {
    let addr = server.monitor_addr().expect("monitoring on");
    get_json(addr, &format!("/connz?{query}")).await
}

#[tokio::test]
async fn monitoring_reports_tls_settings_and_sessions() {
    let certs = Certs::generate();
    let mut opts = ServerOptions {
        http_port: Some(0),
        ..verify_options(&certs)
    };
    if let Some(tls) = &mut opts.tls {
        tls.timeout = Duration::from_millis(1500);
    }
    let server = start(opts).await;
    let varz = get_json(server.monitor_addr().expect("monitoring"), "/varz").await;
    assert_eq!(varz["tls_required"], true);
    assert_eq!(varz["tls_verify"], true);
    assert_eq!(varz["tls_timeout"], 1.5);

    let client = connect_with(
        &server.client_url(),
        trusting(&certs)
            .add_client_certificate(certs.client_cert.clone(), certs.client_key.clone()),
    )
    .await
    .expect("connect");
    client.flush().await.expect("flush");
    let open = connz(&server, "").await;
    let conn = &open["connections"][0];
    assert_eq!(conn["tls_version"], "1.3", "{open}");
    let suite = conn["tls_cipher_suite"].as_str().expect("cipher suite");
    assert!(
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
        .contains(&suite),
        "{suite}"
    );
    // Field order as nats-server: after `version`, before `authorized_user`.
    let text = open.to_string();
    let lang = text.find("\"lang\"").expect("lang");
    assert!(text.find("\"tls_version\"").expect("tls_version") > lang);
    drop(client);

    // Without TLS: no TLS fields, and nats-server's default timeout.
    let plain = start(ServerOptions {
        http_port: Some(0),
        ..ServerOptions::ephemeral()
    })
    .await;
    let varz = get_json(plain.monitor_addr().expect("monitoring"), "/varz").await;
    assert!(varz.get("tls_required").is_none());
    assert_eq!(varz["tls_timeout"], 2.0);
    plain.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn broken_tls_files_stop_the_start_with_a_typed_error() {
    let certs = Certs::generate();
    let start_err = |tls: TlsOptions| async move {
        Server::start(ServerOptions {
            tls: Some(tls),
            ..ServerOptions::ephemeral()
        })
        .await
        .expect_err("the server must not start")
    };
    let garbage = certs.write_file("garbage.pem", "not a certificate\n");

    let missing = certs.server_cert.with_file_name("missing.pem");
    let err = start_err(TlsOptions::new(&missing, &certs.server_key)).await;
    assert!(
        matches!(&err, ServerError::Tls(TlsError::Read { kind: TlsFile::Certificate, path, .. }) if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err = start_err(TlsOptions::new(&garbage, &certs.server_key)).await;
    assert!(
        matches!(
            &err,
            ServerError::Tls(TlsError::Missing {
                kind: TlsFile::Certificate,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("garbage.pem"), "{err}");

    let err = start_err(TlsOptions::new(&certs.server_cert, &garbage)).await;
    assert!(
        matches!(
            &err,
            ServerError::Tls(TlsError::Missing {
                kind: TlsFile::Key,
                ..
            })
        ),
        "{err:?}"
    );

    // The client's key does not belong to the server's certificate.
    let err = start_err(TlsOptions::new(&certs.server_cert, &certs.client_key)).await;
    assert!(
        matches!(&err, ServerError::Tls(TlsError::KeyPair { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("client-key.pem"), "{err}");
    assert!(
        err.to_string()
            .contains("the private key does not match the certificate's public key"),
        "{err}"
    );

    let err =
        start_err(TlsOptions::new(&certs.server_cert, &certs.server_key).verify_clients(&garbage))
            .await;
    assert!(
        matches!(
            &err,
            ServerError::Tls(TlsError::Missing {
                kind: TlsFile::Ca,
                ..
            })
        ),
        "{err:?}"
    );

    let mut no_ca = TlsOptions::new(&certs.server_cert, &certs.server_key);
    no_ca.verify = true;
    let err = start_err(no_ca).await;
    assert!(
        matches!(&err, ServerError::Tls(TlsError::VerifyWithoutCa)),
        "{err:?}"
    );
}

#[tokio::test]
async fn max_connections_refusal_stays_plaintext() {
    let certs = Certs::generate();
    let server = start(ServerOptions {
        max_connections: 1,
        ..tls_options(&certs)
    })
    .await;
    let _first = connect_with(&server.client_url(), trusting(&certs))
        .await
        .expect("first client");
    let (info, rest, _) = plain_session(server.addr(), b"").await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "-ERR 'maximum connections exceeded'\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tls12_clients_get_go_cipher_suite_names_in_connz() {
    let certs = Certs::generate();
    let server = start(ServerOptions {
        http_port: Some(0),
        ..tls_options(&certs)
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(&certs.ca).expect("CA file");
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = connect_with(
        &server.client_url(),
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .tls_client_config(config),
    )
    .await
    .expect("TLS 1.2 connect");
    client.flush().await.expect("flush");
    let open = connz(&server, "").await;
    let conn = &open["connections"][0];
    assert_eq!(conn["tls_version"], "1.2", "{open}");
    let suite = conn["tls_cipher_suite"].as_str().expect("cipher suite");
    // The server certificate's key is ECDSA (rcgen's default), so an ECDHE-ECDSA suite.
    assert!(
        [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        ]
        .contains(&suite),
        "{suite}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn reload_reads_new_certificates_for_new_connections() {
    let (old, new) = (Certs::generate(), Certs::generate());
    let mut opts = tls_options(&old);
    let server = start(opts.clone()).await;
    let url = server.client_url();
    let before = connect_with(&url, trusting(&old))
        .await
        .expect("the old certificate is served");
    assert!(connect_with(&url, trusting(&new)).await.is_err());

    opts.tls = Some(TlsOptions::new(&new.server_cert, &new.server_key));
    server.reload(&opts);
    connect_with(&url, trusting(&new))
        .await
        .expect("the new certificate is served");
    assert!(connect_with(&url, trusting(&old)).await.is_err());
    // The connection made before the reload carries on.
    before.flush().await.expect("still connected");

    // Unusable files: the reload is refused and nothing changes.
    let broken = ServerOptions {
        tls: Some(TlsOptions::new(&new.server_cert, &old.server_key)),
        max_payload: 1024,
        ..opts.clone()
    };
    server.reload(&broken);
    let client = connect_with(&url, trusting(&new))
        .await
        .expect("still the new certificate");
    // Were max_payload 1024 applied, this would be refused and the connection closed.
    let mut sub = client.subscribe("big").await.expect("subscribe");
    client
        .publish("big", vec![b'x'; 2048].into())
        .await
        .expect("queued");
    let msg = tokio::time::timeout(BOUND, sub.next())
        .await
        .expect("message within bound")
        .expect("message: a failed reload changes nothing");
    assert_eq!(msg.payload.len(), 2048);
    server.shutdown().await;
}

/// As nats-server, a reload may turn TLS off and on again, with or without `verify`: INFO
/// announces what new connections must do.
#[tokio::test]
async fn reload_turns_tls_off_and_on() {
    let certs = Certs::generate();
    let mut opts = tls_options(&certs);
    let server = start(opts.clone()).await;
    let before = connect_with(&server.client_url(), trusting(&certs))
        .await
        .expect("TLS client");

    opts.tls = None;
    server.reload(&opts);
    let (mut raw, info) = common::Raw::connect(&server).await;
    assert!(!info.contains("tls_"), "{info}");
    raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    raw.expect_line("PONG").await;
    before.flush().await.expect("the TLS client carries on");

    opts.tls =
        Some(TlsOptions::new(&certs.server_cert, &certs.server_key).verify_clients(&certs.ca));
    server.reload(&opts);
    let (info, rest, _) = plain_session(server.addr(), b"PING\r\n").await;
    let json = info_json(&info);
    assert_eq!(
        (json["tls_required"].clone(), json["tls_verify"].clone()),
        (serde_json::json!(true), serde_json::json!(true)),
        "{info}"
    );
    assert_eq!(rest, b"");
    connect_with(
        &server.client_url(),
        trusting(&certs)
            .add_client_certificate(certs.client_cert.clone(), certs.client_key.clone()),
    )
    .await
    .expect("a verified client after the reload");
    server.shutdown().await;
}

#[tokio::test]
async fn monitoring_tls_fields_match_nats_server() {
    let Some(bin) = reference::reference_binary_or_skip("TLS monitoring differential") else {
        return;
    };
    let certs = Certs::generate();
    let http_port = free_port();
    let config = format!(
        "http: \"127.0.0.1:{http_port}\"\ntls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: \"1.5s\" }}\n",
        certs.server_cert, certs.server_key, certs.ca
    );
    let reference = ServerCommand::new(&bin)
        .config(&config)
        .start()
        .await
        .expect("reference nats-server starts");
    let file = tempfile::Builder::new()
        .suffix(".conf")
        .tempfile()
        .expect("temp config");
    std::fs::write(
        file.path(),
        format!(
            "listen: \"127.0.0.1:-1\"\nhttp: \"127.0.0.1:-1\"\n{}",
            &config[config.find("tls").expect("tls")..]
        ),
    )
    .expect("write config");
    let opts = natrium_server::config::load(file.path())
        .expect("the same tls block loads")
        .options;
    let server = start(opts).await;
    let ours_http = server.monitor_addr().expect("monitoring");
    let theirs_http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");

    let verified = || {
        trusting(&certs).add_client_certificate(certs.client_cert.clone(), certs.client_key.clone())
    };
    let ours_client = connect_with(&server.client_url(), verified())
        .await
        .expect("connect to natrium-server");
    let theirs_client = connect_with(&reference.client_url(), verified())
        .await
        .expect("connect to nats-server");
    ours_client.flush().await.expect("flush");
    theirs_client.flush().await.expect("flush");

    let (ours, theirs) = (
        get_json(ours_http, "/varz").await,
        get_json(theirs_http, "/varz").await,
    );
    for key in ["tls_required", "tls_verify", "tls_timeout", "auth_timeout"] {
        assert_eq!(ours[key], theirs[key], "/varz {key}");
    }
    let (ours, theirs) = (
        get_json(ours_http, "/connz").await,
        get_json(theirs_http, "/connz").await,
    );
    let (ours, theirs) = (&ours["connections"][0], &theirs["connections"][0]);
    assert_eq!(
        ours["tls_version"], theirs["tls_version"],
        "/connz tls_version"
    );
    // The suite each server picks may differ (Go prefers its own order); both name it Go's way.
    for conn in [ours, theirs] {
        let suite = conn["tls_cipher_suite"].as_str().expect("a cipher suite");
        assert!(
            suite.starts_with("TLS_AES_") || suite.starts_with("TLS_CHACHA20_"),
            "{suite}"
        );
    }
    reference.shutdown().await;
    server.shutdown().await;
}

/// Connects over plain TCP, reads INFO, sends `send` and reads one line back.
async fn plain_exchange(addr: SocketAddr, send: &[u8]) -> (String, String) {
    let stream = TcpStream::connect(addr).await.expect("tcp connect");
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    tokio::time::timeout(BOUND, reader.read_line(&mut info))
        .await
        .expect("INFO within bound")
        .expect("INFO");
    reader.get_mut().write_all(send).await.expect("send");
    let mut line = String::new();
    tokio::time::timeout(BOUND, reader.read_line(&mut line))
        .await
        .expect("an answer within bound")
        .expect("an answer");
    (info, line)
}

/// `allow_non_tls`: INFO offers TLS (`tls_available`), plaintext and TLS clients both get in;
/// the same as the reference nats-server with the same configuration.
#[tokio::test]
async fn allow_non_tls_serves_plaintext_and_tls_clients_like_nats_server() {
    let certs = Certs::generate();
    let config = format!(
        "allow_non_tls: true\ntls {{ cert_file: {:?}, key_file: {:?} }}\n",
        certs.server_cert, certs.server_key
    );
    let file = tempfile::Builder::new()
        .suffix(".conf")
        .tempfile()
        .expect("temp config");
    std::fs::write(file.path(), format!("listen: \"127.0.0.1:-1\"\n{config}")).expect("write");
    let opts = natrium_server::config::load(file.path())
        .expect("valid")
        .options;
    assert!(opts.tls.as_ref().is_some_and(|t| t.allow_non_tls));
    let server = start(opts).await;
    let mut targets = vec![(server.addr(), server.client_url())];
    let reference = match reference::reference_binary_or_skip("allow_non_tls differential") {
        Some(bin) => Some(
            ServerCommand::new(&bin)
                .config(&config)
                .start()
                .await
                .expect("reference starts"),
        ),
        None => None,
    };
    if let Some(r) = &reference {
        targets.push((r.addr(), r.client_url()));
    }

    let mut infos = Vec::new();
    for (addr, url) in &targets {
        let (info, answer) =
            plain_exchange(*addr, b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
        assert_eq!(answer, "PONG\r\n", "a plaintext client is served");
        let json = info_json(&info);
        assert_eq!(json["tls_available"], true, "{info}");
        assert!(json.get("tls_required").is_none(), "{info}");
        infos.push(info_keys(&info));

        let client = connect_with(url, trusting(&certs))
            .await
            .expect("a TLS client is served too");
        let mut sub = client.subscribe("mixed").await.expect("subscribe");
        client
            .publish("mixed", "tls".into())
            .await
            .expect("publish");
        let msg = tokio::time::timeout(BOUND, sub.next())
            .await
            .expect("message within bound")
            .expect("message");
        assert_eq!(&msg.payload[..], b"tls");
    }
    if let [ours, theirs] = &infos[..] {
        assert_eq!(ours, theirs, "INFO fields and order");
    }
    if let Some(r) = reference {
        r.shutdown().await;
    }
    server.shutdown().await;
}
