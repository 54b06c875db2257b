//! The NATS service API ($SRV.PING / INFO / STATS) of a running natrium service, read
//! with async-nats's own service types so compatibility with standard tooling is proven.

mod obs_support;

use std::time::Duration;

use async_nats::service::{Info, PingResponse, Stats};
use natrium::transport::service_api::{
    INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE, StatsResponse,
};
use natrium::{App, BrokerConfig, HandlerError, Json, NatsServer, Route};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(5);

async fn quote(Json(n): Json<u32>) -> Result<Json<u32>, HandlerError> {
    if n == 0 {
        return Err(HandlerError::new("no quote for zero").with_code(404));
    }
    Ok(Json(n * 2))
}

async fn audit() {}

async fn ask(client: &async_nats::Client, subject: &str) -> bytes::Bytes {
    tokio::time::timeout(LIMIT, client.request(subject.to_owned(), "".into()))
        .await
        .expect("answer in time")
        .unwrap_or_else(|e| panic!("request {subject}: {e}"))
        .payload
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn service_api_answers_ping_info_and_stats_in_the_micro_schema() {
    let nats = obs_support::embedded().await;
    let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]))
        .route(Route::reply("pricing.quote", quote).queue("pricers"))
        .subscribe("pricing.audit.>", audit)
        .build()
        .expect("valid server");
    let app = App::new("pricing")
        .id("pricing-1")
        .version("1.2.3")
        .metadata("team", "billing")
        .handle_signals(false)
        .server(server);
    let handle = app.handle();
    let running = tokio::spawn(app.run());
    assert!(handle.ready().await, "app ready");

    let client = async_nats::connect(nats.url.clone())
        .await
        .expect("connects");

    // PING on all three subject forms.
    for subject in [
        "$SRV.PING",
        "$SRV.PING.pricing",
        "$SRV.PING.pricing.pricing-1",
    ] {
        let body = ask(&client, subject).await;
        let ping: PingResponse = serde_json::from_slice(&body).expect("async-nats parses PING");
        assert_eq!(ping.kind, PING_RESPONSE_TYPE, "{subject}");
        assert_eq!(
            (ping.name.as_str(), ping.id.as_str(), ping.version.as_str()),
            ("pricing", "pricing-1", "1.2.3")
        );
        assert_eq!(
            ping.metadata.get("team").map(String::as_str),
            Some("billing")
        );
    }
    // Another service's name or id gets no answer from us.
    for subject in ["$SRV.PING.other", "$SRV.PING.pricing.other-id"] {
        let err = client
            .request(subject.to_owned(), "".into())
            .await
            .expect_err("nobody answers");
        assert_eq!(
            err.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{subject}"
        );
    }

    // INFO lists every registration.
    let body = ask(&client, "$SRV.INFO.pricing").await;
    let info: Info = serde_json::from_slice(&body).expect("async-nats parses INFO");
    assert_eq!(info.kind, INFO_RESPONSE_TYPE);
    assert_eq!(
        (info.name.as_str(), info.id.as_str(), info.version.as_str()),
        ("pricing", "pricing-1", "1.2.3")
    );
    let endpoints: Vec<(&str, &str, &str)> = info
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.subject.as_str(), e.queue_group.as_str()))
        .collect();
    assert_eq!(
        endpoints,
        [
            ("pricing_quote", "pricing.quote", "pricers"),
            ("pricing_audit__", "pricing.audit.>", "")
        ]
    );
    let raw: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        keys(&raw),
        [
            "description",
            "endpoints",
            "id",
            "metadata",
            "name",
            "type",
            "version"
        ]
    );
    assert_eq!(
        keys(&raw["endpoints"][0]),
        ["metadata", "name", "queue_group", "subject"]
    );

    // Traffic: two good quotes, one failure.
    for (n, ok) in [(1_u32, true), (0, false), (5, true)] {
        let reply =
            tokio::time::timeout(LIMIT, client.request("pricing.quote", n.to_string().into()))
                .await
                .expect("reply in time")
                .expect("reply");
        let failed = reply
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Service-Error-Code"))
            .map(|v| v.as_str().to_owned());
        assert_eq!(failed.is_none(), ok, "{n}: {failed:?}");
    }

    let body = ask(&client, "$SRV.STATS.pricing.pricing-1").await;
    let stats: Stats = serde_json::from_slice(&body).expect("async-nats parses STATS");
    assert_eq!(stats.kind, STATS_RESPONSE_TYPE);
    assert_eq!(
        (
            stats.name.as_str(),
            stats.id.as_str(),
            stats.version.as_str()
        ),
        ("pricing", "pricing-1", "1.2.3")
    );
    assert_eq!(stats.endpoints.len(), 2);
    let q = &stats.endpoints[0];
    assert_eq!(
        (q.subject.as_str(), q.queue_group.as_str()),
        ("pricing.quote", "pricers")
    );
    assert_eq!(q.requests, 3);
    assert_eq!(q.errors, 1);
    let last = q.last_error.as_ref().expect("last error reported");
    assert_eq!(
        (last.code, last.status.as_str()),
        (404, "no quote for zero")
    );
    assert!(q.processing_time > Duration::ZERO);
    assert!(q.average_processing_time > Duration::ZERO);
    assert!(q.average_processing_time <= q.processing_time);
    let audit = &stats.endpoints[1];
    assert_eq!(
        (audit.requests, audit.errors, audit.last_error.is_none()),
        (0, 0, true)
    );
    assert_eq!(
        (audit.processing_time, audit.average_processing_time),
        (Duration::ZERO, Duration::ZERO)
    );

    let raw: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        keys(&raw),
        [
            "endpoints",
            "id",
            "metadata",
            "name",
            "started",
            "type",
            "version"
        ]
    );
    assert_eq!(
        keys(&raw["endpoints"][0]),
        [
            "average_processing_time",
            "last_error",
            "name",
            "num_errors",
            "num_requests",
            "processing_time",
            "queue_group",
            "subject"
        ]
    );
    // natrium's own types read the same document.
    let ours: StatsResponse = serde_json::from_slice(&body).expect("natrium parses STATS");
    assert_eq!(ours.endpoints[0].last_error, "404:no quote for zero");
    assert!(ours.started.ends_with('Z'));

    // After stop nothing answers any more.
    handle.stop();
    tokio::time::timeout(LIMIT, running)
        .await
        .expect("app stops in time")
        .expect("app task")
        .expect("app ran cleanly");
    let err = client
        .request("$SRV.PING", "".into())
        .await
        .expect_err("stopped service does not answer");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn several_instances_all_answer_ping() {
    let nats = obs_support::embedded().await;
    let mut handles = Vec::new();
    for id in ["a", "b"] {
        let server = NatsServer::builder(BrokerConfig::new([nats.url.clone()]))
            .reply("inventory.count", quote)
            .build()
            .expect("valid server");
        let app = App::new("inventory")
            .id(id)
            .handle_signals(false)
            .server(server);
        let handle = app.handle();
        handles.push((handle.clone(), tokio::spawn(app.run())));
        assert!(handle.ready().await);
    }
    let client = async_nats::connect(nats.url.clone())
        .await
        .expect("connects");
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply("$SRV.PING.inventory", inbox, "".into())
        .await
        .expect("publish");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(LIMIT, futures::StreamExt::next(&mut answers))
            .await
            .expect("answer in time")
            .expect("answer");
        let ping: PingResponse = serde_json::from_slice(&msg.payload).expect("parses");
        assert_eq!(
            (ping.name.as_str(), ping.version.as_str()),
            ("inventory", "0.0.0")
        );
        ids.push(ping.id);
    }
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    for (handle, task) in handles {
        handle.stop();
        task.await.expect("task").expect("app ran cleanly");
    }
}
