//! Publish/subscribe, wildcards, queue groups and request/reply through the official client.

mod common;

use std::collections::HashMap;

use common::{BOUND, connect, start_default};
use futures::{FutureExt, StreamExt};
use tokio::time::timeout;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(BOUND, sub.next())
        .await
        .expect("message within bound")
        .expect("subscription open")
}

#[tokio::test]
async fn publish_reaches_every_plain_subscriber() {
    let server = start_default().await;
    let a = connect(&server).await;
    let b = connect(&server).await;
    let mut sa = a.subscribe("greet.joe").await.unwrap();
    let mut sb = b.subscribe("greet.joe").await.unwrap();
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let publisher = connect(&server).await;
    publisher
        .publish("greet.joe", "hello".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    for sub in [&mut sa, &mut sb] {
        let msg = next(sub).await;
        assert_eq!(msg.subject.as_str(), "greet.joe");
        assert_eq!(&msg.payload[..], b"hello");
    }
    let stats = server.stats();
    assert_eq!(stats.in_msgs, 1);
    assert_eq!(stats.out_msgs, 2);
    assert_eq!(stats.in_bytes, 5);
    server.shutdown().await;
}

#[tokio::test]
async fn wildcards_match_one_token_or_the_rest() {
    let server = start_default().await;
    let c = connect(&server).await;
    let mut star = c.subscribe("orders.*.new").await.unwrap();
    let mut tail = c.subscribe("orders.>").await.unwrap();
    c.flush().await.unwrap();
    c.publish("orders.eu.new", "1".into()).await.unwrap();
    c.publish("orders.eu.de.new", "2".into()).await.unwrap();
    c.publish("orders", "never".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(&next(&mut star).await.payload[..], b"1");
    assert_eq!(&next(&mut tail).await.payload[..], b"1");
    assert_eq!(&next(&mut tail).await.payload[..], b"2");
    // Nothing else is pending for `star`: a marker published last arrives next.
    c.publish("orders.x.new", "marker".into()).await.unwrap();
    assert_eq!(&next(&mut star).await.payload[..], b"marker");
    server.shutdown().await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_once_spread_over_members() {
    let server = start_default().await;
    let c = connect(&server).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(c.queue_subscribe("work", "workers".into()).await.unwrap());
    }
    let mut other_group = c.queue_subscribe("work", "auditors".into()).await.unwrap();
    let mut plain = c.subscribe("work").await.unwrap();
    c.flush().await.unwrap();
    const N: usize = 300;
    for i in 0..N {
        c.publish("work", i.to_string().into()).await.unwrap();
    }
    c.flush().await.unwrap();
    for _ in 0..N {
        next(&mut plain).await;
        next(&mut other_group).await;
    }
    // The PONG of this round trip comes after every message on the socket, so afterwards
    // every worker delivery is already in its subscription's channel.
    c.flush().await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_member = Vec::new();
    for m in &mut members {
        let mut count = 0;
        // `unconstrained`: tokio's co-op budget would otherwise report Pending after ~128 polls.
        while let Some(Some(msg)) = tokio::task::unconstrained(m.next()).now_or_never() {
            *seen
                .entry(String::from_utf8(msg.payload.to_vec()).unwrap())
                .or_default() += 1;
            count += 1;
        }
        per_member.push(count);
    }
    assert_eq!(seen.len(), N, "every message delivered to the group");
    assert!(seen.values().all(|&n| n == 1), "no message delivered twice");
    assert!(
        per_member.iter().all(|&n| n > 30),
        "spread over members: {per_member:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn request_reply_round_trip() {
    let server = start_default().await;
    let svc = connect(&server).await;
    let mut requests = svc.subscribe("pricing.quote").await.unwrap();
    svc.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        let req = requests.next().await.expect("a request");
        let reply = req.reply.expect("reply subject");
        let mut answer = b"price for ".to_vec();
        answer.extend_from_slice(&req.payload);
        svc.publish(reply, answer.into()).await.unwrap();
        svc.flush().await.unwrap();
    });
    let client = connect(&server).await;
    let resp = timeout(BOUND, client.request("pricing.quote", "apples".into()))
        .await
        .expect("reply within bound")
        .expect("reply");
    assert_eq!(&resp.payload[..], b"price for apples");
    responder.await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn request_to_nobody_is_no_responders() {
    let server = start_default().await;
    let client = connect(&server).await;
    let err = timeout(BOUND, client.request("nobody.home", "x".into()))
        .await
        .expect("answer within bound")
        .expect_err("no responders");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    server.shutdown().await;
}
