//! natrium against a three-node cluster of reference `nats-server`s: the node the queue
//! consumers are connected to is killed mid-stream; they reconnect to another node, keep
//! receiving, and no message is ever handled by both queue members.
//!
//! Every wait is on an event: the nodes run with `-DV`, and their log lines (routes
//! formed, a subscription's interest arriving) are awaited through a channel.

mod obs_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use natrium::broker::ReconnectPolicy;
use natrium::{
    AppContext, Broker, BrokerConfig, BrokerExt, Json, NatsBroker, NatsServer, Route, Server, State,
};
use obs_support::{LIMIT, RefServer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const SUBJECT: &str = "orders.n";
const QUEUE: &str = "workers";
/// Messages that must arrive after the reconnection was observed.
const AFTER: u64 = 300;

/// Which member handled which number.
type Handled = mpsc::UnboundedSender<(&'static str, u64)>;

async fn member_a(State(tx): State<Handled>, Json(n): Json<u64>) {
    let _ = tx.send(("a", n));
}

async fn member_b(State(tx): State<Handled>, Json(n): Json<u64>) {
    let _ = tx.send(("b", n));
}

/// Whether `line` shows interest in the queue subscription arriving at a node: a client
/// `SUB` or a route `RS+`.
fn is_queue_interest(line: &str) -> bool {
    line.contains(&format!("{SUBJECT} {QUEUE}"))
        && (line.contains("[SUB ") || line.contains("[RS+ "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_consumers_survive_the_loss_of_their_node() {
    let Some(bin) = obs_support::nats_server_bin() else {
        return;
    };
    let cluster = |routes: Option<u16>| {
        let mut args: Vec<String> = [
            "-DV",
            "-cluster_name",
            "natrium-test",
            "-cluster",
            "nats://127.0.0.1:-1",
        ]
        .map(String::from)
        .to_vec();
        if let Some(port) = routes {
            args.extend(["-routes".to_owned(), format!("nats://127.0.0.1:{port}")]);
        }
        args
    };
    let first = RefServer::start(&bin, &cluster(None)).await;
    let seed = first.route_port.expect("route port");
    let second = RefServer::start(&bin, &cluster(Some(seed))).await;
    let third = RefServer::start(&bin, &cluster(Some(seed))).await;
    let mut nodes = [first, second, third];
    // A full mesh: every node has a route to both others.
    for node in &mut nodes {
        node.wait_log("Route connection created", 2).await;
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();

    // The consumers share one connection, given all three addresses.
    let consumers =
        NatsBroker::connect(BrokerConfig::new(urls.clone()).name("consumers").reconnect(
            ReconnectPolicy {
                max_reconnects: None,
                initial_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
            },
        ))
        .await
        .expect("consumers connect");
    let port = consumers.client().server_info().port;
    let victim = urls
        .iter()
        .position(|u| u.ends_with(&format!(":{port}")))
        .expect("connected to one of the nodes");
    let watcher = (victim + 1) % 3;
    eprintln!("cluster test: consumers on node {victim}, publisher on node {watcher}");

    let (tx, mut handled) = mpsc::unbounded_channel();
    let ctx = AppContext::standalone("cluster-test");
    let members = [
        NatsServer::builder(consumers.clone())
            .name("member-a")
            .route(Route::subscribe(SUBJECT, member_a).queue(QUEUE))
            .state::<Handled>(tx.clone())
            .build()
            .expect("valid server"),
        NatsServer::builder(consumers.clone())
            .name("member-b")
            .route(Route::subscribe(SUBJECT, member_b).queue(QUEUE))
            .state::<Handled>(tx)
            .build()
            .expect("valid server"),
    ];
    for member in &members {
        member.start(&ctx).await.expect("member starts");
    }
    // The publisher's node knows of the queue interest before the stream starts.
    nodes[watcher]
        .wait_line("initial interest", is_queue_interest)
        .await;

    // The publisher streams numbers 1, 2, 3, ... from a node that stays up.
    let publisher =
        NatsBroker::connect(BrokerConfig::new([urls[watcher].clone()]).name("publisher"))
            .await
            .expect("publisher connects");
    let next = Arc::new(AtomicU64::new(1));
    let stop = CancellationToken::new();
    let stream = tokio::spawn({
        let publisher = publisher.clone();
        let next = next.clone();
        let stop = stop.clone();
        async move {
            // Paced so the stream is still running when the node is killed.
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while !stop.is_cancelled() {
                tick.tick().await;
                let n = next.fetch_add(1, Ordering::SeqCst);
                publisher.publish(SUBJECT, &n).await.expect("publish");
            }
            publisher.flush().await.expect("flush");
        }
    });

    let mut by_number: BTreeMap<u64, Vec<&'static str>> = BTreeMap::new();
    let mut record = |member: &'static str, n: u64| by_number.entry(n).or_default().push(member);
    // Mid-stream: once 200 numbers were handled...
    let mut count = 0;
    while count < 200 {
        let (member, n) = tokio::time::timeout(LIMIT, handled.recv())
            .await
            .expect("stream flows")
            .expect("handlers alive");
        record(member, n);
        count += 1;
    }
    // ...make sure every earlier log line of the watcher was read (a marker publish is
    // logged after them), then kill the consumers' node.
    let marker = format!("marker.{}", std::process::id());
    publisher.publish(&marker, &0u8).await.expect("marker");
    nodes[watcher]
        .wait_line("marker", |l| l.contains(&format!("[PUB {marker} ")))
        .await;
    nodes[victim].kill().await;

    // Reconnection observed: the consumers' subscription is live again where we publish.
    nodes[watcher]
        .wait_line("interest after reconnect", is_queue_interest)
        .await;
    let boundary = next.load(Ordering::SeqCst) + 1;
    let last = boundary + AFTER;
    let mut missing: BTreeSet<u64> = (boundary..last).collect();
    let result = tokio::time::timeout(Duration::from_secs(20), async {
        while !missing.is_empty() {
            let (member, n) = handled.recv().await.expect("handlers alive");
            record(member, n);
            missing.remove(&n);
            if next.load(Ordering::SeqCst) > last {
                stop.cancel();
            }
        }
    })
    .await;
    stop.cancel();
    stream.await.expect("publisher task");
    assert!(
        result.is_ok(),
        "{} of the {AFTER} messages published after reconnection never arrived: {:?}",
        missing.len(),
        missing.iter().take(20).collect::<Vec<_>>()
    );

    for member in &members {
        member.stop(&ctx).await.expect("member stops");
    }
    while let Ok((member, n)) = handled.try_recv() {
        record(member, n);
    }
    let twice: Vec<_> = by_number.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    let members_seen: BTreeSet<&str> = by_number.values().flatten().copied().collect();
    assert_eq!(
        members_seen,
        BTreeSet::from(["a", "b"]),
        "both queue members took part"
    );

    publisher.close().await.expect("close publisher");
    consumers.close().await.expect("close consumers");
}
