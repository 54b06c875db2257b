//! `natrium pub`, `sub`, `req` and `reply` against a real server, through the built binary.

mod support;

use std::collections::BTreeSet;

use support::{TestServer, run, spawn_listening, stderr, stdout};

#[tokio::test(flavor = "multi_thread")]
async fn sub_receives_exactly_what_pub_sent_with_headers() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let sub = spawn_listening(&url, &["sub", "cli.orders", "--count", "3"]).await;

    let published = run(
        &url,
        &[
            "pub",
            "cli.orders",
            "order {{Count}}",
            "-H",
            "Trace:abc",
            "-H",
            "Kind: new",
            "--count",
            "3",
        ],
    )
    .await;
    assert!(published.status.success(), "{}", stderr(&published));
    assert!(stderr(&published).contains("Published 3 messages to \"cli.orders\""));

    let (ok, out, err) = sub.finish().await;
    assert!(ok, "sub failed: {err}");
    let expected: String = (1..=3)
        .map(|n| {
            format!("[#{n}] Received on \"cli.orders\"\nKind: new\nTrace: abc\n\norder {n}\n\n")
        })
        .collect();
    assert_eq!(out, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sub_raw_prints_only_bodies_and_pub_reply_subject_is_shown() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let raw = spawn_listening(&url, &["sub", "cli.raw", "--raw", "--count", "2"]).await;
    let shown = spawn_listening(&url, &["sub", "cli.raw", "--count", "1"]).await;

    let published = run(
        &url,
        &[
            "pub",
            "cli.raw",
            "x{{Count}}",
            "--count",
            "2",
            "--reply",
            "cli.back",
        ],
    )
    .await;
    assert!(published.status.success(), "{}", stderr(&published));

    let (ok, out, err) = raw.finish().await;
    assert!(ok, "{err}");
    assert_eq!(out, "x1\nx2\n");
    let (ok, out, err) = shown.finish().await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("[#1] Received on \"cli.raw\" with reply \"cli.back\"\n"),
        "{out}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_group_members_share_the_messages() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let mut a = spawn_listening(&url, &["sub", "cli.work", "--queue", "workers", "--raw"]).await;
    let mut b = spawn_listening(&url, &["sub", "cli.work", "--queue", "workers", "--raw"]).await;

    let published = run(&url, &["pub", "cli.work", "job {{Count}}", "--count", "20"]).await;
    assert!(published.status.success(), "{}", stderr(&published));

    // Read both members' output as it arrives until 20 bodies were seen in total.
    let mut seen = Vec::new();
    while seen.len() < 20 {
        tokio::select! {
            line = a.next_line() => seen.push(line),
            line = b.next_line() => seen.push(line),
        }
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    let expected: Vec<String> = (1..=20).map(|n| format!("job {n}")).collect();
    assert_eq!(
        distinct.len(),
        20,
        "a message reached two members: {seen:?}"
    );
    assert_eq!(distinct, expected.iter().collect(), "{seen:?}");
    a.child.kill().await.expect("stop member a");
    b.child.kill().await.expect("stop member b");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn req_gets_the_reply_and_reply_shows_the_request() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let replier = spawn_listening(
        &url,
        &["reply", "cli.svc", "pong {{Count}}", "--count", "1"],
    )
    .await;

    let answer = run(&url, &["req", "cli.svc", "ping", "-H", "Who:test", "--raw"]).await;
    assert!(answer.status.success(), "{}", stderr(&answer));
    assert_eq!(stdout(&answer), "pong 1\n");

    let (ok, out, err) = replier.finish().await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("[#1] Received on \"cli.svc\" with reply \"_INBOX."),
        "{out}"
    );
    assert!(out.contains("\nWho: test\n\nping\n"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_echo_returns_body_and_headers() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let replier = spawn_listening(
        &url,
        &[
            "reply", "cli.echo", "--echo", "--queue", "echoers", "--count", "1",
        ],
    )
    .await;

    let answer = run(&url, &["req", "cli.echo", "hello", "-H", "K:v"]).await;
    assert!(answer.status.success(), "{}", stderr(&answer));
    let out = stdout(&answer);
    assert!(out.contains("\nK: v\n\nhello\n"), "{out}");
    assert!(
        stderr(&answer).contains("Received with rtt"),
        "{}",
        stderr(&answer)
    );
    let (ok, _, err) = replier.finish().await;
    assert!(ok, "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn req_without_responders_says_so_and_fails() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let answer = run(&server.url(), &["req", "cli.nobody", "anyone?"]).await;
    assert!(!answer.status.success());
    assert_eq!(
        stderr(&answer).trim(),
        "natrium: error: no responders available for request on \"cli.nobody\""
    );
    assert_eq!(stdout(&answer), "");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn req_to_a_silent_subscriber_times_out_distinctly() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let silent = spawn_listening(&url, &["sub", "cli.silent", "--count", "1"]).await;

    let answer = run(&url, &["req", "cli.silent", "hello?", "--timeout", "300ms"]).await;
    assert!(!answer.status.success());
    assert_eq!(
        stderr(&answer).trim(),
        "natrium: error: request on \"cli.silent\" timed out after 300ms"
    );
    // The subscriber did get the request, it just never answered.
    let (ok, out, _) = silent.finish().await;
    assert!(ok);
    assert!(out.contains("hello?"), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_errors() {
    let Some(server) = TestServer::start().await else {
        return;
    };
    let url = server.url();
    let cases: &[(&[&str], &str)] = &[
        (
            &["pub", "cli.x", "body", "-H", "nocolon"],
            "header \"nocolon\" must be written as key:value",
        ),
        (
            &["pub", "cli.x", "body", "-H", "bad name:1"],
            "header \"bad name:1\" has an invalid name",
        ),
        (&["pub"], "required arguments were not provided"),
        (
            &["pub", "cli.x", "--count", "0"],
            "invalid value '0' for '--count <COUNT>'",
        ),
        (
            &["sub", "cli.x", "--count", "-1"],
            "unexpected argument '-1' found",
        ),
        (
            &["req", "cli.x", "--timeout", "soon"],
            "invalid value 'soon' for '--timeout <TIMEOUT>'",
        ),
        (&["reply", "cli.x", "body", "--echo"], "cannot be used with"),
        (
            &["bench", "pub", "--size", "3parsecs"],
            "unknown size unit \"parsecs\"",
        ),
        (
            &["bench", "pubsub", "--sub", "0"],
            "is not a whole number of at least 1",
        ),
        (&["bench", "teleport"], "unrecognized subcommand 'teleport'"),
    ];
    support::assert_each_fails_with(&url, cases).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_is_named_in_the_error() {
    let port = natrium_test_support::port::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let output = run(&url, &["pub", "cli.x", "body"]).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).starts_with(&format!(
            "natrium: error: cannot connect to NATS server at {url}"
        )),
        "{}",
        stderr(&output)
    );
}
