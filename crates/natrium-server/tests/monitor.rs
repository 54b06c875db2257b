//! HTTP monitoring on the embedded server, read with a real HTTP client after real traffic
//! from async-nats clients (and raw protocol clients where the test needs to see the server
//! close a connection).

mod common;

use std::time::Duration;

use common::{BOUND, Raw};
use futures::StreamExt;
use natrium_server::{Server, ServerError, ServerOptions};
use serde_json::Value;

/// Starts an embedded server with monitoring on a free loopback port.
async fn start_monitored() -> Server {
    let opts = ServerOptions {
        http_port: Some(0),
        ..ServerOptions::ephemeral()
    };
    Server::start(opts).await.expect("server starts")
}

fn base(server: &Server) -> String {
    let addr = server.monitor_addr().expect("monitoring is on");
    format!("http://{addr}")
}

/// GETs `path`, returning status, content type and body.
async fn get(server: &Server, path: &str) -> (u16, String, String) {
    let response = tokio::time::timeout(BOUND, reqwest::get(format!("{}{path}", base(server))))
        .await
        .expect("response within bound")
        .expect("HTTP request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.expect("body");
    (status, content_type, body)
}

/// GETs `path` and parses the JSON body, asserting a 200.
async fn get_json(server: &Server, path: &str) -> Value {
    let (status, content_type, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(content_type, "application/json", "{path}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

async fn connect_named(server: &Server, name: &str) -> async_nats::Client {
    tokio::time::timeout(
        BOUND,
        async_nats::ConnectOptions::new()
            .name(name)
            .connect(server.client_url()),
    )
    .await
    .expect("connect within bound")
    .expect("connect")
}

async fn flush(client: &async_nats::Client) {
    tokio::time::timeout(BOUND, client.flush())
        .await
        .expect("flush within bound")
        .expect("flush");
}

/// Publishes `n` messages of `size` bytes on `subject` and waits for the server's PONG.
async fn publish_n(client: &async_nats::Client, subject: &str, n: usize, size: usize) {
    for _ in 0..n {
        client
            .publish(subject.to_owned(), vec![b'x'; size].into())
            .await
            .expect("publish");
    }
    flush(client).await;
}

async fn receive_n(sub: &mut async_nats::Subscriber, n: usize) {
    for i in 0..n {
        tokio::time::timeout(BOUND, sub.next())
            .await
            .unwrap_or_else(|_| panic!("message {i} of {n} within bound"))
            .expect("subscription open");
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

/// Polls `/connz?state=closed` until `cid` is listed. The server notices a client's close
/// on its own schedule and nothing tells the test, hence the (bounded) polling.
async fn wait_closed(server: &Server, cid: u64) -> Value {
    tokio::time::timeout(BOUND, async {
        loop {
            let connz = get_json(server, &format!("/connz?state=closed&cid={cid}")).await;
            if let Some(conn) = connz["connections"].as_array().and_then(|c| c.first()) {
                return conn.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("closed connection listed within bound")
}

#[tokio::test]
async fn varz_counts_a_known_traffic_pattern_exactly() {
    const N: usize = 50;
    const K: usize = 100;
    let server = start_monitored().await;
    let subscriber = connect_named(&server, "sub").await;
    let mut sub = subscriber.subscribe("data.>").await.expect("subscribe");
    flush(&subscriber).await;
    let publisher = connect_named(&server, "pub").await;
    publish_n(&publisher, "data.x", N, K).await;
    receive_n(&mut sub, N).await;

    let varz = get_json(&server, "/varz").await;
    assert_eq!(u(&varz["in_msgs"]), N as u64);
    assert_eq!(u(&varz["out_msgs"]), N as u64);
    assert_eq!(u(&varz["in_bytes"]), (N * K) as u64);
    assert_eq!(u(&varz["out_bytes"]), (N * K) as u64);
    assert_eq!(u(&varz["connections"]), 2);
    assert_eq!(u(&varz["total_connections"]), 2);
    assert_eq!(u(&varz["subscriptions"]), 1);
    assert_eq!(u(&varz["slow_consumers"]), 0);
    assert_eq!(u(&varz["routes"]), 0);

    // Identity, configuration and units as nats-server reports them.
    assert_eq!(varz["server_id"], server.server_id());
    assert_eq!(varz["server_name"], server.server_id());
    assert_eq!(varz["version"], natrium_server::VERSION);
    assert_eq!(varz["proto"], 1);
    assert!(varz["go"].as_str().is_some_and(|g| g.starts_with("rust-")));
    assert_eq!(varz["host"], "127.0.0.1");
    assert_eq!(u(&varz["port"]), u64::from(server.addr().port()));
    assert_eq!(varz["http_host"], "127.0.0.1");
    assert_eq!(
        u(&varz["http_port"]),
        u64::from(server.monitor_addr().unwrap().port())
    );
    assert_eq!(u(&varz["max_connections"]), 65536);
    assert_eq!(u(&varz["ping_interval"]), 120_000_000_000);
    assert_eq!(u(&varz["ping_max"]), 2);
    assert_eq!(varz["auth_timeout"].to_string(), "2");
    assert_eq!(u(&varz["max_control_line"]), 4096);
    assert_eq!(u(&varz["max_payload"]), 1048576);
    assert_eq!(u(&varz["max_pending"]), 67108864);
    assert_eq!(u(&varz["write_deadline"]), 10_000_000_000);
    assert_eq!(varz["cluster"], serde_json::json!({}));
    assert!(varz.get("max_subscriptions").is_none());
    assert!(varz.get("auth_required").is_none());
    for field in ["start", "now", "config_load_time"] {
        let text = varz[field].as_str().expect(field);
        humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{field}={text}: {e}"));
    }
    assert!(varz["uptime"].as_str().is_some_and(|t| t.ends_with('s')));
    assert!(u(&varz["mem"]) > 0);
    assert!(u(&varz["cores"]) >= 1);
    assert!(varz["cpu"].as_f64().is_some_and(|c| c >= 0.0));
    assert_eq!(varz["http_req_stats"], serde_json::json!({"/varz": 1}));

    // A second look counts the request and nothing else.
    let varz = get_json(&server, "/varz").await;
    assert_eq!(u(&varz["http_req_stats"]["/varz"]), 2);
    assert_eq!(u(&varz["in_msgs"]), N as u64);
    server.shutdown().await;
}

#[tokio::test]
async fn headers_count_as_message_bytes() {
    let server = start_monitored().await;
    let mut raw = Raw::handshake(&server, r#"{"verbose":false,"headers":true}"#).await;
    // 12 header bytes + 3 payload bytes, delivered to the publisher itself (echo is on).
    raw.send("SUB foo 1\r\nHPUB foo 12 15\r\nNATS/1.0\r\n\r\nabc\r\nPING\r\n")
        .await;
    raw.expect_line("HMSG foo 1 12 15").await;
    raw.payload(15).await;
    raw.expect_line("PONG").await;
    let varz = get_json(&server, "/varz").await;
    assert_eq!(
        (u(&varz["in_msgs"]), u(&varz["in_bytes"])),
        (1, 15),
        "{varz}"
    );
    assert_eq!((u(&varz["out_msgs"]), u(&varz["out_bytes"])), (1, 15));
    server.shutdown().await;
}

#[tokio::test]
async fn connz_lists_sorts_and_pages_connections() {
    let server = start_monitored().await;
    let a = connect_named(&server, "a").await;
    let b = connect_named(&server, "b").await;
    let c = connect_named(&server, "c").await;
    let mut sub = c.subscribe("to.c").await.expect("subscribe");
    let _queue = c
        .queue_subscribe("work", "q".to_owned())
        .await
        .expect("queue subscribe");
    flush(&c).await;
    publish_n(&a, "to.c", 3, 10).await;
    publish_n(&b, "to.c", 1, 20).await;
    receive_n(&mut sub, 4).await;

    let connz = get_json(&server, "/connz").await;
    assert_eq!(connz["server_id"], server.server_id());
    assert_eq!(
        (
            u(&connz["num_connections"]),
            u(&connz["total"]),
            u(&connz["offset"]),
            u(&connz["limit"])
        ),
        (3, 3, 0, 1024)
    );
    let conns = connz["connections"].as_array().expect("connections");
    let names: Vec<&str> = conns.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"], "default order is by cid");
    let cids: Vec<u64> = conns.iter().map(|c| u(&c["cid"])).collect();
    assert!(cids.windows(2).all(|w| w[0] < w[1]), "{cids:?}");
    let ca = &conns[0];
    assert_eq!(ca["kind"], "Client");
    assert_eq!(ca["type"], "nats");
    assert_eq!(ca["ip"], "127.0.0.1");
    assert_eq!(ca["lang"], "rust");
    assert!(ca["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!((u(&ca["in_msgs"]), u(&ca["in_bytes"])), (3, 30));
    assert_eq!((u(&ca["out_msgs"]), u(&ca["out_bytes"])), (0, 0));
    assert_eq!(u(&ca["pending_bytes"]), 0);
    assert_eq!(u(&ca["subscriptions"]), 0);
    assert!(ca.get("subscriptions_list").is_none());
    assert!(ca.get("stop").is_none() && ca.get("reason").is_none());
    for field in ["start", "last_activity"] {
        humantime::parse_rfc3339(ca[field].as_str().unwrap()).expect(field);
    }
    for field in ["rtt", "uptime", "idle"] {
        assert!(
            ca[field].as_str().is_some_and(|t| t.ends_with('s')),
            "{field}"
        );
    }
    let cc = &conns[2];
    assert_eq!((u(&cc["out_msgs"]), u(&cc["out_bytes"])), (4, 50));
    assert_eq!(u(&cc["subscriptions"]), 2);

    let order = |connz: &Value| -> Vec<String> {
        connz["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Every order but cid is descending.
    let by = |sort: &'static str| {
        let server = &server;
        async move { order(&get_json(server, &format!("/connz?sort={sort}")).await) }
    };
    assert_eq!(by("msgs_from").await, ["a", "b", "c"]);
    assert_eq!(by("bytes_from").await, ["a", "b", "c"]);
    assert_eq!(by("msgs_to").await, ["c", "a", "b"]);
    assert_eq!(by("bytes_to").await, ["c", "a", "b"]);
    assert_eq!(by("subs").await, ["c", "a", "b"]);
    assert_eq!(by("cid").await, ["a", "b", "c"]);
    assert_eq!(by("start").await, ["a", "b", "c"]);
    assert_eq!(by("uptime").await, ["c", "b", "a"], "shortest uptime first");
    for sort in ["pending", "last", "idle"] {
        assert_eq!(by(sort).await.len(), 3, "{sort}");
    }

    // Paging.
    let page = get_json(&server, "/connz?offset=1&limit=1").await;
    assert_eq!(order(&page), ["b"]);
    assert_eq!(
        (
            u(&page["num_connections"]),
            u(&page["total"]),
            u(&page["offset"]),
            u(&page["limit"])
        ),
        (1, 3, 1, 1)
    );
    let past_end = get_json(&server, "/connz?offset=10").await;
    assert_eq!(past_end["connections"], serde_json::json!([]));
    let nonpositive = get_json(&server, "/connz?limit=0&offset=-5").await;
    assert_eq!(
        (u(&nonpositive["limit"]), u(&nonpositive["offset"])),
        (1024, 0)
    );

    // One connection by cid.
    let one = get_json(&server, &format!("/connz?cid={}", cids[1])).await;
    assert_eq!(order(&one), ["b"]);
    assert_eq!(u(&one["limit"]), 1);
    let none = get_json(&server, "/connz?cid=999999").await;
    assert_eq!(u(&none["num_connections"]), 0);

    // Subscriptions: subjects, then details.
    let subs = get_json(&server, &format!("/connz?cid={}&subs=1", cids[2])).await;
    assert_eq!(
        subs["connections"][0]["subscriptions_list"],
        serde_json::json!(["to.c", "work"])
    );
    let detail = get_json(&server, &format!("/connz?cid={}&subs=detail", cids[2])).await;
    let detail = &detail["connections"][0]["subscriptions_list_detail"];
    assert_eq!(detail[0]["subject"], "to.c");
    assert_eq!(u(&detail[0]["msgs"]), 4);
    assert_eq!(u(&detail[0]["cid"]), cids[2]);
    assert!(detail[0].get("qgroup").is_none());
    assert_eq!(detail[1]["subject"], "work");
    assert_eq!(detail[1]["qgroup"], "q");
    assert_eq!(u(&detail[1]["msgs"]), 0);
    assert!(detail[0]["sid"].as_str().is_some_and(|s| !s.is_empty()));
    server.shutdown().await;
}

#[tokio::test]
async fn connz_bad_parameters_get_nats_server_errors() {
    let server = start_monitored().await;
    for (query, expected) in [
        ("sort=foo", "invalid sorting option: foo"),
        ("sort=stop", "sort by stop only valid on closed connections"),
        (
            "sort=reason&state=all",
            "sort by reason only valid on closed connections",
        ),
        ("state=gone", "Error decoding state for gone"),
        (
            "subs=yes",
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": invalid syntax",
        ),
        (
            "limit=ten",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"ten\": invalid syntax",
        ),
        (
            "cid=-1",
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax",
        ),
    ] {
        let (status, _, body) = get(&server, &format!("/connz?{query}")).await;
        assert_eq!((status, body.as_str()), (400, expected), "{query}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn closed_connections_are_kept_with_their_reason() {
    let server = start_monitored().await;
    let keeper = connect_named(&server, "keeper").await;
    flush(&keeper).await;

    // A protocol error: the server answers -ERR and closes; EOF here means it is recorded.
    let mut bad = Raw::handshake(&server, r#"{"verbose":false,"name":"bad"}"#).await;
    bad.send("SUB x 1\r\nSUB y.* 2\r\nFOO\r\n").await;
    let rest = bad.read_to_eof().await;
    assert!(rest.contains("-ERR 'Unknown Protocol Operation'"), "{rest}");

    let closed = get_json(&server, "/connz?state=closed&subs=detail").await;
    assert_eq!(u(&closed["total"]), 1);
    let conn = &closed["connections"][0];
    assert_eq!(conn["name"], "bad");
    assert_eq!(conn["reason"], "Protocol Violation");
    let stop = conn["stop"].as_str().expect("stop");
    let stop = humantime::parse_rfc3339(stop).expect("stop timestamp");
    let start = humantime::parse_rfc3339(conn["start"].as_str().unwrap()).unwrap();
    assert!(stop >= start);
    assert_eq!(u(&conn["subscriptions"]), 2);
    let detail = &conn["subscriptions_list_detail"];
    assert_eq!(detail[0]["account"], "$G");
    assert_eq!(detail[0]["subject"], "x");
    assert_eq!(detail[1]["subject"], "y.*");
    let bad_cid = u(&conn["cid"]);

    // A client that goes away on its own.
    let quitter = Raw::handshake(&server, r#"{"verbose":false,"name":"quitter"}"#).await;
    let quitter_cid = u(&get_json(&server, "/connz?sort=cid").await["connections"][1]["cid"]);
    drop(quitter);
    let conn = wait_closed(&server, quitter_cid).await;
    assert_eq!(conn["name"], "quitter");
    assert_eq!(conn["reason"], "Client Closed");

    // state=all lists open and closed; closed ones sort by reason and stop.
    let all = get_json(&server, "/connz?state=all").await;
    assert_eq!(u(&all["total"]), 3);
    let names: Vec<&str> = all["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keeper", "bad", "quitter"]);
    let by_reason = get_json(&server, "/connz?state=closed&sort=reason").await;
    assert_eq!(
        by_reason["connections"][0]["reason"], "Client Closed",
        "{by_reason}"
    );
    let by_stop = get_json(&server, "/connz?state=closed&sort=stop").await;
    assert_eq!(
        u(&by_stop["connections"][0]["cid"]),
        quitter_cid,
        "latest first"
    );
    let one = get_json(&server, &format!("/connz?state=all&cid={bad_cid}")).await;
    assert_eq!(one["connections"][0]["reason"], "Protocol Violation");
    // The open list is unchanged.
    let open = get_json(&server, "/connz").await;
    assert_eq!(u(&open["total"]), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn subsz_reports_the_index() {
    let server = start_monitored().await;
    let client = connect_named(&server, "subs").await;
    let mut foo = client.subscribe("foo").await.expect("subscribe");
    let _wild = client.subscribe("foo.*").await.expect("subscribe");
    let bar = client
        .queue_subscribe("bar", "q".to_owned())
        .await
        .expect("subscribe");
    flush(&client).await;
    publish_n(&client, "foo", 2, 1).await;
    receive_n(&mut foo, 2).await;

    let stats = get_json(&server, "/subsz").await;
    assert_eq!(u(&stats["num_subscriptions"]), 3);
    assert_eq!(u(&stats["num_inserts"]), 3);
    assert_eq!(u(&stats["num_removes"]), 0);
    assert!(u(&stats["num_matches"]) >= 1);
    assert!(
        stats["cache_hit_rate"]
            .as_f64()
            .is_some_and(|r| (0.0..=1.0).contains(&r))
    );
    for field in ["num_cache", "max_fanout"] {
        assert!(stats[field].is_u64(), "{field}");
    }
    assert!(stats["avg_fanout"].is_number());
    assert!(stats.get("subscriptions_list").is_none());

    drop(bar);
    flush(&client).await;
    let stats = get_json(&server, "/subsz").await;
    assert_eq!(u(&stats["num_subscriptions"]), 2);
    assert_eq!(u(&stats["num_removes"]), 1);

    let list = get_json(&server, "/subsz?subs=1").await;
    assert_eq!(list["server_id"], server.server_id());
    assert_eq!(
        (u(&list["total"]), u(&list["offset"]), u(&list["limit"])),
        (2, 0, 1024)
    );
    let subjects: Vec<&str> = list["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["foo", "foo.*"]);
    assert_eq!(u(&list["subscriptions_list"][0]["msgs"]), 2);
    assert_eq!(list["subscriptions_list"][0]["account"], "$G");

    let tested = get_json(&server, "/subsz?subs=1&test=foo.bar").await;
    assert_eq!(tested["subscriptions_list"][0]["subject"], "foo.*");
    assert_eq!(u(&tested["total"]), 1);
    let (status, _, body) = get(&server, "/subsz?subs=1&test=foo.*").await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "invalid test subject, must be valid publish subject: foo.*"
        )
    );
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_routez_index_and_unknown_paths() {
    let server = start_monitored().await;
    let (status, content_type, body) = get(&server, "/healthz").await;
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "application/json", r#"{"status":"ok"}"#)
    );
    let routez = get_json(&server, "/routez").await;
    assert_eq!(routez["num_routes"], 0);
    assert_eq!(routez["routes"], serde_json::json!([]));
    assert_eq!(routez["server_id"], server.server_id());
    let (status, content_type, body) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    for link in ["varz", "connz", "subsz", "routez", "healthz", "metrics"] {
        assert!(body.contains(&format!("href=./{link}")), "{link}");
    }
    let (status, _, body) = get(&server, "/nope").await;
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
    let (status, content_type, body) = get(&server, "/healthz?callback=cb").await;
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "application/javascript", r#"cb({"status":"ok"})"#)
    );
    let varz = get_json(&server, "/varz").await;
    assert_eq!(
        varz["http_req_stats"],
        serde_json::json!({"/": 1, "/healthz": 2, "/routez": 1, "/varz": 1})
    );
    server.shutdown().await;
}

/// `name{labels} value` lines of an OpenMetrics text document, keyed by `name{labels}`.
fn parse_metrics(text: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "duplicate series {series}"
        );
    }
    samples
}

#[tokio::test]
async fn metrics_expose_the_same_counters() {
    const N: usize = 7;
    const K: usize = 33;
    let server = start_monitored().await;
    let subscriber = connect_named(&server, "sub").await;
    let mut sub = subscriber.subscribe("m").await.expect("subscribe");
    flush(&subscriber).await;
    let publisher = connect_named(&server, "pub").await;
    publish_n(&publisher, "m", N, K).await;
    receive_n(&mut sub, N).await;

    let (status, content_type, text) = get(&server, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let m = parse_metrics(&text);
    let get = |series: &str| -> f64 {
        *m.get(series)
            .unwrap_or_else(|| panic!("missing {series} in\n{text}"))
    };
    assert_eq!(get("natrium_server_in_msgs_total"), N as f64);
    assert_eq!(get("natrium_server_out_msgs_total"), N as f64);
    assert_eq!(get("natrium_server_in_bytes_total"), (N * K) as f64);
    assert_eq!(get("natrium_server_out_bytes_total"), (N * K) as f64);
    assert_eq!(get("natrium_server_connections"), 2.0);
    assert_eq!(get("natrium_server_accepted_connections_total"), 2.0);
    assert_eq!(get("natrium_server_subscriptions"), 1.0);
    assert_eq!(get("natrium_server_slow_consumers_total"), 0.0);
    assert_eq!(get("natrium_server_subsz_inserts_total"), 1.0);
    assert_eq!(
        get("natrium_server_http_requests_total{path=\"/metrics\"}"),
        1.0
    );
    assert!(get("natrium_server_mem_bytes") > 0.0);
    let info = format!(
        "natrium_server_info{{server_id=\"{}\",server_name=\"{}\",version=\"{}\"}}",
        server.server_id(),
        server.server_id(),
        natrium_server::VERSION
    );
    assert_eq!(get(&info), 1.0);
    server.shutdown().await;
}

#[tokio::test]
async fn slow_consumers_are_counted() {
    let opts = ServerOptions {
        http_port: Some(0),
        max_pending: 1024,
        max_payload: 512,
        ..ServerOptions::ephemeral()
    };
    let server = Server::start(opts).await.expect("server starts");
    // A subscriber that never reads: its outbound buffer fills and it is cut off.
    let mut slow = Raw::handshake(&server, r#"{"verbose":false,"name":"slow"}"#).await;
    slow.send("SUB s 1\r\nPING\r\n").await;
    slow.expect_line("PONG").await;
    let mut publisher = Raw::handshake(&server, r#"{"verbose":false}"#).await;
    let payload = "x".repeat(500);
    // Writers are woken once per read batch, so any batch of three or more of these
    // messages overflows the 1 KiB limit before the writer can drain it.
    let mut burst = String::new();
    for _ in 0..200 {
        burst.push_str(&format!("PUB s 500\r\n{payload}\r\n"));
    }
    publisher.send(&format!("{burst}PING\r\n")).await;
    publisher.expect_line("PONG").await;
    // The slow client's connection ends; its EOF means it is recorded as closed.
    slow.read_to_eof().await;
    let varz = get_json(&server, "/varz").await;
    assert_eq!(u(&varz["slow_consumers"]), 1, "{varz}");
    assert_eq!(u(&varz["in_msgs"]), 200);
    let closed = get_json(&server, "/connz?state=closed").await;
    assert_eq!(
        closed["connections"][0]["reason"],
        "Slow Consumer (Pending Bytes)"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn monitoring_port_in_use_is_a_clear_error_and_shutdown_stops_it() {
    let server = start_monitored().await;
    let taken = server.monitor_addr().unwrap().port();
    let err = Server::start(ServerOptions {
        http_port: Some(taken),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect_err("port taken");
    assert!(matches!(err, ServerError::BindMonitor { port, .. } if port == taken));
    assert!(
        err.to_string().starts_with(&format!(
            "can't listen for monitoring connections on 127.0.0.1:{taken}"
        )),
        "{err}"
    );

    let addr = server.monitor_addr().unwrap();
    tokio::time::timeout(BOUND, server.shutdown())
        .await
        .expect("shutdown within bound");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let plain = Server::start(ServerOptions::ephemeral()).await.unwrap();
    assert_eq!(plain.monitor_addr(), None);
    plain.shutdown().await;
}

#[tokio::test]
async fn ports_file_lists_the_monitoring_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(ServerOptions {
        http_port: Some(0),
        ports_file_dir: Some(dir.path().to_owned()),
        ..ServerOptions::ephemeral()
    })
    .await
    .expect("server starts");
    let file = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "ports"))
        .expect("a .ports file");
    let ports: Value =
        serde_json::from_str(&std::fs::read_to_string(file.path()).expect("read")).expect("json");
    assert_eq!(
        ports["monitoring"],
        serde_json::json!([format!("http://{}", server.monitor_addr().unwrap())])
    );
    assert_eq!(ports["nats"], serde_json::json!([server.client_url()]));
    server.shutdown().await;
}
