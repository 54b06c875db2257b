//! The client commands' connection flags: credentials and TLS against real servers, and
//! clear errors for settings that cannot work.

mod support;

use natrium_server::{Auth, Server, ServerOptions, TlsOptions};
use natrium_test_support::certs::Certs;
use support::{TestServer, run, start_reference, stderr};

async fn embedded(auth: Auth) -> Server {
    let options = ServerOptions {
        auth,
        ..ServerOptions::ephemeral()
    };
    Server::start(options).await.expect("server starts")
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// natrium-server embedded with `tls`, then Debian's nats-server with the same settings as
/// flags (when installed; required in CI).
async fn tls_servers(pki: &Certs, verify: bool) -> Vec<TestServer> {
    let mut tls = TlsOptions::new(&pki.server_cert, &pki.server_key);
    if verify {
        tls = tls.verify_clients(&pki.ca);
    }
    let embedded = Server::start(ServerOptions {
        tls: Some(tls),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect("TLS server starts");
    let mut servers = vec![TestServer::Embedded(embedded)];
    let mut flags = vec![
        "--tlscert",
        path(&pki.server_cert),
        "--tlskey",
        path(&pki.server_key),
    ];
    if verify {
        flags.extend(["--tlsverify", "--tlscacert", path(&pki.ca)]);
    } else {
        flags.push("--tls");
    }
    servers.extend(start_reference(&flags).await);
    servers
}

#[tokio::test(flavor = "multi_thread")]
async fn token_is_sent_and_a_wrong_one_is_refused() {
    let server = embedded(Auth::Token("s3cret".to_owned())).await;
    let url = server.client_url();

    let ok = run(&url, &["pub", "cli.auth", "hi", "--token", "s3cret"]).await;
    assert!(ok.status.success(), "{}", stderr(&ok));

    for args in [
        &["pub", "cli.auth", "hi", "--token", "wrong"][..],
        &["pub", "cli.auth", "hi"][..],
    ] {
        let refused = run(&url, args).await;
        assert!(!refused.status.success(), "{args:?} should be refused");
        assert!(
            stderr(&refused).contains("authorization violation"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_and_password_are_sent() {
    let server = embedded(Auth::user("ops", "pa55")).await;
    let url = server.client_url();

    let ok = run(
        &url,
        &[
            "pub",
            "cli.auth",
            "hi",
            "--user",
            "ops",
            "--password",
            "pa55",
        ],
    )
    .await;
    assert!(ok.status.success(), "{}", stderr(&ok));

    let refused = run(
        &url,
        &[
            "pub",
            "cli.auth",
            "hi",
            "--user",
            "ops",
            "--password",
            "nope",
        ],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("authorization violation"),
        "{}",
        stderr(&refused)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_server_is_reached_with_its_ca_and_refused_without() {
    let pki = Certs::generate();
    for server in tls_servers(&pki, false).await {
        let url = server.url();
        let ok = run(&url, &["pub", "cli.tls", "hi", "--tlsca", path(&pki.ca)]).await;
        assert!(ok.status.success(), "{url}: {}", stderr(&ok));
        assert!(
            stderr(&ok).contains("Published 1 message"),
            "{}",
            stderr(&ok)
        );

        // Without the CA the server's certificate cannot be trusted; with an unrelated CA
        // neither.
        for args in [
            &["pub", "cli.tls", "hi"][..],
            &["pub", "cli.tls", "hi", "--tlsca", path(&pki.rogue_ca)][..],
        ] {
            let refused = run(&url, args).await;
            assert!(
                !refused.status.success(),
                "{url} {args:?} should be refused"
            );
            let err = stderr(&refused);
            assert!(
                err.contains("cannot connect to NATS server") && err.contains("certificate"),
                "{url} {args:?}: {err}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verifying_tls_server_needs_the_client_certificate() {
    let pki = Certs::generate();
    for server in tls_servers(&pki, true).await {
        let url = server.url();
        let with_cert = run(
            &url,
            &[
                "pub",
                "cli.tls",
                "hi",
                "--tlsca",
                path(&pki.ca),
                "--tlscert",
                path(&pki.client_cert),
                "--tlskey",
                path(&pki.client_key),
            ],
        )
        .await;
        assert!(with_cert.status.success(), "{url}: {}", stderr(&with_cert));

        let without_cert = run(&url, &["pub", "cli.tls", "hi", "--tlsca", path(&pki.ca)]).await;
        assert!(
            !without_cert.status.success(),
            "{url}: accepted without a certificate"
        );
        assert!(
            stderr(&without_cert).contains("cannot connect to NATS server"),
            "{url}: {}",
            stderr(&without_cert)
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_that_cannot_work_are_clear_errors() {
    let server = embedded(Auth::None).await;
    let url = server.client_url();
    let cases: &[(&[&str], &str)] = &[
        (
            &["pub", "cli.x", "hi", "--tlsca", "/nonexistent/ca.pem"],
            "cannot read /nonexistent/ca.pem",
        ),
        (
            &["pub", "cli.x", "hi", "--creds", "/nonexistent/user.creds"],
            "cannot use credentials file /nonexistent/user.creds",
        ),
        (
            &["pub", "cli.x", "hi", "--password", "p"],
            "the following required arguments were not provided",
        ),
        (
            &["pub", "cli.x", "hi", "--tlscert", "/tmp/c.pem"],
            "--tlskey <TLSKEY>",
        ),
        (
            &[
                "pub",
                "cli.x",
                "hi",
                "--token",
                "t",
                "--user",
                "u",
                "--password",
                "p",
            ],
            "cannot be used with",
        ),
        (
            &[
                "bench", "pub", "--client", "raw", "--token", "t", "--msgs", "10",
            ],
            "the raw benchmark client does not support credentials or TLS; use --client nats",
        ),
        (
            &["pub", "cli.x", "hi", "--connect-timeout", "soon"],
            "invalid value 'soon' for '--connect-timeout <CONNECT_TIMEOUT>'",
        ),
    ];
    support::assert_each_fails_with(&url, cases).await;
    server.shutdown().await;
}
