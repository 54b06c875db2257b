//! JetStream consumer differential suite: each test runs the same script of client actions
//! (API requests, publishes, pull requests, acknowledgements, advisory watches) against
//! natrium-server and the newest nats-server (`-js -sd <tmp>`), records what the client
//! observes on each, and compares the two records once per-server values (times, ids,
//! versions, generated ephemeral names, the timestamp in ack subjects) are masked.
//!
//! Every test is independent (its own pair of servers), so a failing one names the
//! behaviour that differs. A step may carry `expect`, a text the reference's raw
//! observation must contain, so that each test provably reaches the path it is named after.
//!
//! Env `NATRIUM_CONSUMER_DIFF_OTHER=nats-server` compares the reference with a second
//! nats-server instead of natrium: that proves the masking and that every script is
//! deterministic. Env `NATRIUM_JS_REPLIES_DIR` saves the reference's observations, one
//! `consumer_<test>.json` per test.

use natrium_test_support::process::{ServerCommand, ServerProcess};
use natrium_test_support::reference;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{HeaderMap, Message, Subscriber};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// Upper bound for one observation; never a pacing delay.
const WAIT: Duration = Duration::from_secs(5);
/// How long a step that should see nothing (more) waits, and how long the compared side
/// waits once it has already missed something the reference answered.
const SILENCE: Duration = Duration::from_millis(300);
/// Go's zero time, deterministic and therefore not masked.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Keys whose values are times or durations that depend on the clock.
const TIME_KEYS: &[&str] = &[
    "created",
    "ts",
    "last_active",
    "timestamp",
    "pinned_ts",
    "first_ts",
    "last_ts",
    "time",
    "pause_remaining",
    "ack_time",
];
/// Keys whose values name the server or a random id.
const SERVER_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "leader",
    "domain",
    "cluster",
    "id",
];

/// One server's side of a test: its client and what the client observed.
struct Side {
    /// `nats-server` or `natrium` (or `second nats-server`).
    label: &'static str,
    reference: bool,
    client: async_nats::Client,
    /// Observations, raw.
    log: Vec<Value>,
    /// `expect` texts the reference did not show.
    problems: Vec<String>,
    /// Messages of the last pull, for acknowledgements.
    pulled: Vec<Message>,
    /// Subscriptions opened by `watch`.
    watches: Vec<Subscriber>,
    /// Reply inboxes of pull requests left waiting, kept so the requests keep interest.
    held: Vec<Subscriber>,
    /// What the reference observed (on the compared side; empty on the reference).
    reference_log: Vec<Value>,
    /// The compared side missed something the reference answered: wait less from now on.
    behind: bool,
    /// Generated ephemeral names and pin ids, and their placeholders.
    aliases: BTreeMap<String, String>,
    /// The last pin id a pulled message carried.
    pin: String,
    /// The pending counts in ack subjects race with the publishes (see
    /// [`Side::pending_races`]).
    pending_races: bool,
}

impl Side {
    /// How long the next observation may take: [`WAIT`], or [`SILENCE`] when the reference
    /// saw nothing (more) at this step or this side already missed an answer.
    fn wait(&self) -> Duration {
        let reference_missed = self.reference_log.get(self.log.len()).is_some_and(missed);
        if !self.reference && (self.behind || reference_missed) {
            SILENCE
        } else {
            WAIT
        }
    }

    fn record(&mut self, observation: Value) {
        let reference_missed = self.reference_log.get(self.log.len()).is_some_and(missed);
        if !self.reference && missed(&observation) && !reference_missed {
            self.behind = true;
        }
        self.log.push(observation);
    }

    /// Checks that the last observation (raw) contains `text`, on the reference only.
    fn expect(&mut self, text: &str) -> &mut Self {
        if self.reference {
            let last = self.log.last().map(Value::to_string).unwrap_or_default();
            if !last.contains(text) {
                let step = self.log.len() - 1;
                self.problems
                    .push(format!("step {step}: reference lacks {text:?}: {last}"));
            }
        }
        self
    }

    /// A request with one reply (or a timeout after the wait).
    async fn req(&mut self, subject: &str, payload: &str) -> &mut Self {
        self.req_with(subject, HeaderMap::new(), payload, self.wait())
            .await
    }

    /// A request nats-server does not answer: waits only [`SILENCE`].
    async fn req_silent(&mut self, subject: &str, payload: &str) -> &mut Self {
        self.req_with(subject, HeaderMap::new(), payload, SILENCE)
            .await
    }

    async fn req_with(
        &mut self,
        subject: &str,
        headers: HeaderMap,
        payload: &str,
        wait: Duration,
    ) -> &mut Self {
        let request = self.client.request_with_headers(
            subject.to_string(),
            headers,
            payload.to_string().into_bytes().into(),
        );
        let reply = match tokio::time::timeout(wait, request).await {
            Ok(Ok(message)) => message_json(&message),
            Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => {
                json!({"no_responders": true})
            }
            Ok(Err(error)) => json!({"request_error": error.kind().to_string()}),
            Err(_) => json!({"timeout": true}),
        };
        self.learn_ephemeral(subject, &reply);
        let observation = json!({"request": subject, "payload": payload, "reply": reply});
        self.record(observation);
        self
    }

    /// A legacy ephemeral create answers with a generated name: give it a placeholder.
    fn learn_ephemeral(&mut self, subject: &str, reply: &Value) {
        let legacy = subject
            .strip_prefix("$JS.API.CONSUMER.CREATE.")
            .is_some_and(|rest| !rest.contains('.'));
        if let (true, Some(name)) = (legacy, reply["body"]["name"].as_str()) {
            let alias = format!("<ephemeral-{}>", self.aliases.len() + 1);
            self.aliases.entry(name.to_string()).or_insert(alias);
        }
    }

    /// Creates stream `name` on `subjects` with extra config fields (`"retention":...`).
    async fn stream(&mut self, name: &str, subjects: &str, extra: &str) -> &mut Self {
        let comma = if extra.is_empty() { "" } else { "," };
        let body = format!(r#"{{"name":"{name}","subjects":{subjects}{comma}{extra}}}"#);
        self.req(&format!("$JS.API.STREAM.CREATE.{name}"), &body)
            .await
            .expect("\"did_create\":true")
    }

    /// `CONSUMER.CREATE.<stream>.<name>` with this config.
    async fn consumer(&mut self, stream: &str, name: &str, config: &str) -> &mut Self {
        let body = format!(r#"{{"stream_name":"{stream}","config":{config}}}"#);
        self.req(&format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"), &body)
            .await
    }

    /// `CONSUMER.INFO.<stream>.<name>`.
    async fn info(&mut self, stream: &str, name: &str) -> &mut Self {
        self.req(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
            .await
    }

    /// Publishes to a stream subject and records the publish acknowledgement.
    async fn publish(&mut self, subject: &str, payload: &str) -> &mut Self {
        self.req(subject, payload).await.expect("\"seq\":")
    }

    /// Sends a pull request and records up to `count` messages it brings (a status
    /// other than 100 ends the collection). With `count` 0 the request is left waiting.
    async fn pull(
        &mut self,
        stream: &str,
        consumer: &str,
        payload: &str,
        count: usize,
    ) -> &mut Self {
        let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
        self.pull_on(&subject, payload, count).await
    }

    async fn pull_on(&mut self, subject: &str, payload: &str, count: usize) -> &mut Self {
        let inbox = self.client.new_inbox();
        let mut sub = self.client.subscribe(inbox.clone()).await.unwrap();
        self.client
            .publish_with_reply(
                subject.to_string(),
                inbox,
                payload.to_string().into_bytes().into(),
            )
            .await
            .unwrap();
        let messages = self.collect(&mut sub, count).await;
        if count == 0 {
            // Flushed: the server has the request before the next step looks at it.
            self.client.flush().await.unwrap();
            self.held.push(sub);
        }
        let observation = json!({
            "pull": subject,
            "payload": payload,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "complete": messages.len() == count,
        });
        self.learn_pins(&messages);
        self.pulled = messages;
        self.record(observation);
        self
    }

    /// Pin ids (`Nats-Pin-Id`) are random: give each a placeholder, and remember the last.
    fn learn_pins(&mut self, messages: &[Message]) {
        for message in messages {
            let pin = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Pin-Id"))
                .map(|v| v.as_str().to_string());
            if let Some(pin) = pin {
                let alias = format!("<pin-{}>", self.aliases.len() + 1);
                self.aliases.entry(pin.clone()).or_insert(alias);
                self.pin = pin;
            }
        }
    }

    /// Up to `count` messages from `sub`; a final status (not 100) ends early.
    async fn collect(&self, sub: &mut Subscriber, count: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        while messages.len() < count {
            let Ok(Some(message)) = tokio::time::timeout(self.wait(), sub.next()).await else {
                break;
            };
            let last = message
                .status
                .is_some_and(|s| s.as_u16() != 100 && s.as_u16() != 200);
            messages.push(message);
            if last {
                break;
            }
        }
        messages
    }

    /// Sends `body` to the ack subject of the `index`-th message of the last pull, as a
    /// request: nats-server replies once the acknowledgement is processed, so the next
    /// step sees its effect.
    async fn ack_sync(&mut self, index: usize, body: &str) -> &mut Self {
        let reply = self.ack_subject(index);
        self.req(&reply, body).await
    }

    /// `+NXT <payload>` on the ack subject with a reply inbox, collecting `count`.
    async fn ack_next(&mut self, index: usize, payload: &str, count: usize) -> &mut Self {
        let reply = self.ack_subject(index);
        self.pull_on(&reply, &format!("+NXT{payload}"), count).await
    }

    fn ack_subject(&self, index: usize) -> String {
        self.pulled
            .get(index)
            .and_then(|m| m.reply.as_ref())
            .map(|r| r.to_string())
            // Nothing was pulled on this side: an ack nobody receives.
            .unwrap_or_else(|| "$JS.ACK.none".to_string())
    }

    /// Subscribes to `subject` (advisories, a deliver subject); see [`Side::collect_watch`].
    async fn watch(&mut self, subject: &str) -> &mut Self {
        let sub = self.client.subscribe(subject.to_string()).await.unwrap();
        self.client.flush().await.unwrap();
        self.watches.push(sub);
        self
    }

    /// Records up to `count` messages of the `index`-th watch.
    async fn collect_watch(&mut self, index: usize, count: usize) -> &mut Self {
        let mut sub = self.watches.remove(index);
        let messages = self.collect(&mut sub, count).await;
        self.watches.insert(index, sub);
        let observation = json!({
            "watch": index,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "complete": messages.len() == count,
        });
        self.pulled = messages;
        self.record(observation);
        self
    }

    /// Records up to `count` messages answering the `index`-th pull request left waiting.
    async fn collect_held(&mut self, index: usize, count: usize) -> &mut Self {
        let mut sub = self.held.remove(index);
        let messages = self.collect(&mut sub, count).await;
        self.held.insert(index, sub);
        let observation = json!({
            "held": index,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "complete": messages.len() == count,
        });
        self.pulled = messages;
        self.record(observation);
        self
    }

    /// Masks the pending count in ack subjects: needed when messages are published while
    /// pull requests wait, since nats-server counts them as they come.
    fn pending_races(&mut self) -> &mut Self {
        self.pending_races = true;
        self
    }

    /// The log with per-server values masked.
    fn masked(&self) -> Vec<Value> {
        self.log
            .iter()
            .map(|v| {
                let mut v = v.clone();
                mask(&mut v, &self.aliases);
                if self.pending_races {
                    mask_pending(&mut v);
                }
                v
            })
            .collect()
    }
}

/// The observation is a request without reply or an incomplete collection.
fn missed(observation: &Value) -> bool {
    observation["reply"].get("timeout").is_some()
        || observation.get("complete") == Some(&json!(false))
}

/// A message as JSON: subject, reply, status, description, headers (sorted), payload
/// (parsed JSON, or text).
fn message_json(message: &Message) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("subject".into(), json!(message.subject.to_string()));
    if let Some(reply) = &message.reply {
        out.insert("reply".into(), json!(reply.to_string()));
    }
    if let Some(status) = message.status {
        out.insert("status".into(), json!(status.as_u16()));
    }
    if let Some(description) = &message.description {
        out.insert("description".into(), json!(description));
    }
    if let Some(headers) = &message.headers {
        // nats-server 2.11+ names the subject in every no-responders status; natrium-server
        // answers core NATS as 2.9 does (the core reference), without it.
        let no_responders = message.status.is_some_and(|s| s.as_u16() == 503);
        let mut sorted: Vec<(String, Vec<String>)> = headers
            .iter()
            .filter(|(name, _)| !(no_responders && name.to_string() == "Nats-Subject"))
            .map(|(name, values)| {
                let values = values.iter().map(|v| v.as_str().to_string()).collect();
                (name.to_string(), values)
            })
            .collect();
        sorted.sort();
        if !sorted.is_empty() {
            let map: serde_json::Map<String, Value> =
                sorted.into_iter().map(|(k, v)| (k, json!(v))).collect();
            out.insert("headers".into(), Value::Object(map));
        }
    }
    let text = String::from_utf8_lossy(&message.payload).into_owned();
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    out.insert("body".into(), body);
    Value::Object(out)
}

/// Replaces per-server values by placeholders, keeping the keys.
fn mask(value: &mut Value, aliases: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if TIME_KEYS.contains(&key.as_str()) {
                    if inner.as_str() != Some(ZERO_TIME) {
                        *inner = json!("<time>");
                    }
                } else if SERVER_KEYS.contains(&key.as_str()) {
                    *inner = json!("<server>");
                } else if key == "_nats.ver" {
                    *inner = json!("<version>");
                } else if key == "reply" || key == "request" || key == "pull" {
                    if let Some(text) = inner.as_str() {
                        *inner = json!(mask_subject(text, aliases));
                    } else {
                        mask(inner, aliases);
                    }
                } else if key == "subject" {
                    if let Some(text) = inner.as_str() {
                        *inner = json!(mask_subject(text, aliases));
                    }
                } else {
                    mask(inner, aliases);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, aliases)),
        Value::String(text) => {
            if let Some(alias) = aliases.get(text.as_str()) {
                *text = alias.clone();
            }
            // Pin ids also appear inside pull request payloads.
            for (id, alias) in aliases.iter().filter(|(_, a)| a.starts_with("<pin-")) {
                if text.contains(id.as_str()) {
                    *text = text.replace(id.as_str(), alias);
                }
            }
        }
        _ => {}
    }
}

/// In every `$JS.ACK.` subject the pending count (the last token) becomes `<pending>`.
fn mask_pending(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(mask_pending),
        Value::Array(items) => items.iter_mut().for_each(mask_pending),
        Value::String(text) if text.starts_with("$JS.ACK.") => {
            if let Some((head, _pending)) = text.rsplit_once('.') {
                *text = format!("{head}.<pending>");
            }
        }
        _ => {}
    }
}

/// Inboxes become `<inbox>`; in `$JS.ACK.<stream>.<consumer>.<n>.<sseq>.<dseq>.<ts>.<pending>`
/// the timestamp becomes `<ts>`; ephemeral names their placeholders.
fn mask_subject(subject: &str, aliases: &BTreeMap<String, String>) -> String {
    if subject.starts_with("_INBOX.") {
        return "<inbox>".to_string();
    }
    let mut tokens: Vec<String> = subject
        .split('.')
        .map(|t| aliases.get(t).cloned().unwrap_or_else(|| t.to_string()))
        .collect();
    if subject.starts_with("$JS.ACK.") && tokens.len() == 9 {
        tokens[7] = "<ts>".to_string();
    }
    tokens.join(".")
}

/// Differences between two masked observations, one line each, with the JSON path.
fn diff(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for key in l.keys().chain(r.keys().filter(|k| !l.contains_key(*k))) {
                let sub = format!("{path}/{key}");
                match (l.get(key), r.get(key)) {
                    (Some(a), Some(b)) => diff(&sub, a, b, out),
                    (a, b) => out.push(format!("{sub}: {} vs {}", show(a), show(b))),
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (i, (a, b)) in l.iter().zip(r).enumerate() {
                diff(&format!("{path}/{i}"), a, b, out);
            }
        }
        _ if left != right => out.push(format!("{path}: {left} vs {right}")),
        _ => {}
    }
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), Value::to_string)
}

/// What keeps a compared server running until the test ends.
enum Guard {
    Natrium(#[allow(dead_code)] natrium_server::Server),
    Reference(ServerProcess, #[allow(dead_code)] tempfile::TempDir),
}

/// The reference and the compared server of one test.
struct Pair {
    reference: ServerProcess,
    _reference_dir: tempfile::TempDir,
    other: Guard,
    other_url: String,
    other_label: &'static str,
}

impl Pair {
    /// Starts both servers; `None` (after a warning) when the reference is not installed
    /// and `CI` is not set.
    async fn start() -> Option<Pair> {
        let bin = reference::latest_binary_or_skip("JetStream consumer differential")?;
        let dir = tempfile::tempdir().unwrap();
        let reference = ServerCommand::new(&bin)
            .jetstream(dir.path())
            .start()
            .await
            .unwrap();
        let against_reference =
            std::env::var("NATRIUM_CONSUMER_DIFF_OTHER").is_ok_and(|v| v == "nats-server");
        let (other, other_url, other_label) = if against_reference {
            let other_dir = tempfile::tempdir().unwrap();
            let second = ServerCommand::new(&bin)
                .jetstream(other_dir.path())
                .start()
                .await
                .unwrap();
            let url = second.client_url();
            (
                Guard::Reference(second, other_dir),
                url,
                "second nats-server",
            )
        } else {
            let server =
                natrium_server::Server::start(natrium_server::ServerOptions::ephemeral_jetstream())
                    .await
                    .expect("natrium-server with JetStream starts");
            let url = server.client_url();
            (Guard::Natrium(server), url, "natrium")
        };
        Some(Pair {
            reference,
            _reference_dir: dir,
            other,
            other_url,
            other_label,
        })
    }

    async fn sides(&self) -> [Side; 2] {
        let side = |label, reference, client| Side {
            label,
            reference,
            client,
            log: Vec::new(),
            problems: Vec::new(),
            pulled: Vec::new(),
            watches: Vec::new(),
            held: Vec::new(),
            reference_log: Vec::new(),
            behind: false,
            aliases: BTreeMap::new(),
            pin: String::new(),
            pending_races: false,
        };
        [
            side(
                "nats-server",
                true,
                connect(&self.reference.client_url()).await,
            ),
            side(self.other_label, false, connect(&self.other_url).await),
        ]
    }

    /// Compares the two records and panics with every difference.
    async fn finish(self, test: &str, sides: [Side; 2]) {
        let [reference, other] = sides;
        if let Some(dir) = std::env::var_os("NATRIUM_JS_REPLIES_DIR") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            let text = serde_json::to_string_pretty(&reference.log).unwrap();
            std::fs::write(dir.join(format!("consumer_{test}.json")), text).unwrap();
        }
        let mut failures = reference.problems.clone();
        let (a, b) = (reference.masked(), other.masked());
        for (i, (left, right)) in a.iter().zip(&b).enumerate() {
            let mut diffs = Vec::new();
            diff("", left, right, &mut diffs);
            for d in diffs {
                failures.push(format!(
                    "step {i}: {} vs {}: {d}",
                    reference.label, other.label
                ));
            }
        }
        if a.len() != b.len() {
            failures.push(format!("{} steps vs {}", a.len(), b.len()));
        }
        self.reference.shutdown().await;
        if let Guard::Reference(second, _) = self.other {
            second.shutdown().await;
        }
        if !failures.is_empty() {
            let mut report = String::new();
            for failure in &failures {
                let _ = writeln!(report, "{failure}");
            }
            panic!("{test}: {} differences:\n{report}", failures.len());
        }
    }
}

async fn connect(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        // Each step bounds its own wait (see `Side::wait`).
        .request_timeout(None)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

fn err(code: u32) -> String {
    format!("\"err_code\":{code}")
}

/// One test: `$body` runs with `$s: &mut Side` on the reference, then on the compared
/// server, and the records are compared.
macro_rules! differential {
    ($(#[$meta:meta])* $name:ident, |$s:ident| $body:block) => {
        $(#[$meta])*
        #[tokio::test]
        async fn $name() {
            let Some(pair) = Pair::start().await else {
                return;
            };
            let [mut reference, mut other] = pair.sides().await;
            {
                let $s = &mut reference;
                $body
            }
            other.reference_log = reference.log.clone();
            {
                let $s = &mut other;
                $body
            }
            pair.finish(stringify!($name), [reference, other]).await;
        }
    };
}

// ---------------------------------------------------------------------------------------
// CONSUMER.CREATE

differential!(
    /// Durable, named ephemeral, legacy ephemeral and push consumers get nats-server's
    /// defaults; INFO shows the same config.
    create_fills_defaults,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "D", r#"{"durable_name":"D"}"#).await.expect("\"max_waiting\":512");
        s.consumer("S", "E", r#"{"ack_policy":"explicit"}"#).await.expect("\"ack_wait\":30000000000");
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{}}"#).await.expect("\"inactive_threshold\":5000000000");
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"x.y"}}"#).await.expect("\"deliver_subject\":\"x.y\"");
        s.req("$JS.API.CONSUMER.DURABLE.CREATE.S.DL", r#"{"stream_name":"S","config":{"durable_name":"DL","ack_policy":"all"}}"#).await.expect("\"name\":\"DL\"");
        s.consumer("S", "B", r#"{"ack_policy":"explicit","backoff":[1000000000,2000000000]}"#).await.expect("\"ack_wait\":1000000000");
        s.consumer("S", "F", r#"{"durable_name":"F","mem_storage":true,"headers_only":true,"max_batch":10,"max_expires":1000000000,"max_bytes":100,"description":"hi","sample_freq":"5%","metadata":{"a":"b"},"filter_subjects":["s.a","s.b"],"deliver_policy":"last_per_subject","replay_policy":"original"}"#).await.expect("\"sample_freq\":\"5%\"");
        s.consumer("S", "P", r#"{"priority_policy":"pinned_client","priority_groups":["g"]}"#).await.expect("\"priority_timeout\":120000000000");
        s.consumer("S", "T", r#"{"deliver_policy":"by_start_time","opt_start_time":"2026-12-05T10:00:00.5+01:00"}"#).await.expect("+01:00");
        s.info("S", "D").await.expect("consumer_info_response");
        s.info("S", "F").await.expect("\"headers_only\":true");
    }
);

differential!(
    /// Which subject form was used decides the name; each mismatch has its own error.
    create_subject_forms,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"X","config":{}}"#).await.expect(&err(10056));
        s.req("$JS.API.CONSUMER.CREATE.S", "").await.expect(&err(10056));
        s.req("$JS.API.CONSUMER.CREATE.S.a\\b", r#"{"stream_name":"S","config":{}}"#).await.expect(&err(10127));
        s.req("$JS.API.CONSUMER.DURABLE.CREATE.S.D1", r#"{"stream_name":"S","config":{}}"#).await.expect(&err(10018));
        s.req("$JS.API.CONSUMER.DURABLE.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D2"}}"#).await.expect(&err(10017));
        s.req("$JS.API.CONSUMER.DURABLE.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D1","name":"X"}}"#).await.expect("\"name\":\"D1\"");
        s.consumer("S", "N1", r#"{"durable_name":"D2"}"#).await.expect(&err(10017));
        s.consumer("S", "N1", r#"{"name":"OTHER"}"#).await.expect("\"name\":\"N1\"");
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"durable_name":"D2"}}"#).await.expect(&err(10020));
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"name":"LN"}}"#).await.expect("\"name\":\"LN\"");
        s.req("$JS.API.CONSUMER.CREATE.S.N2.s.a", r#"{"stream_name":"S","config":{"filter_subjects":["s.a"]}}"#).await.expect(&err(10137));
        s.req("$JS.API.CONSUMER.CREATE.S.N2.s.a", r#"{"stream_name":"S","config":{"filter_subject":"s.b"}}"#).await.expect(&err(10131));
        s.req("$JS.API.CONSUMER.CREATE.S.N2.s.a", r#"{"stream_name":"S","config":{}}"#).await.expect(&err(10131));
        s.req("$JS.API.CONSUMER.CREATE.S.N2.s.a", r#"{"stream_name":"S","config":{"filter_subject":"s.a"}}"#).await.expect("\"filter_subject\":\"s.a\"");
        s.consumer("NOPE", "N3", "{}").await.expect(&err(10059));
        s.consumer("S", "N3", r#"{"num_replicas":3}"#).await.expect(&err(10074));
        let long = "n".repeat(256);
        s.req(&format!("$JS.API.CONSUMER.DURABLE.CREATE.S.{long}"), &format!(r#"{{"stream_name":"S","config":{{"durable_name":"{long}"}}}}"#)).await.expect(&err(10102));
        s.consumer("S", &long, "{}").await.expect("error creating store for consumer");
        s.req_silent("$JS.API.CONSUMER.DURABLE.CREATE.S", r#"{"stream_name":"S","config":{}}"#).await;
    }
);

differential!(
    /// Bodies that do not decode: nats-server's Go texts.
    create_request_decoding,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        let bad = [
            (r#"{"stream_name":"S","config":{"ack_policy":"xx"}}"#, "can not unmarshal"),
            (r#"{"stream_name":"S","config":{"ack_policy":1}}"#, "can not unmarshal"),
            (r#"{"stream_name":"S","config":{"replay_policy":"ORIGINAL"}}"#, "can not unmarshal"),
            (r#"{"stream_name":"S","config":{"ack_wait":"x"}}"#, "time.Duration"),
            (r#"{"stream_name":"S","config":{"backoff":[1,"x"]}}"#, "backoff.1"),
            (r#"{"stream_name":"S","config":{"backoff":"x"}}"#, "[]time.Duration"),
            (r#"{"stream_name":"S","config":{"max_deliver":1.5}}"#, "of type int"),
            (r#"{"stream_name":"S","config":{"metadata":{"a":1}}}"#, "metadata.a"),
            (r#"{"stream_name":"S","config":"x"}"#, "server.ConsumerConfig"),
            (r#"{"stream_name":"S","config":{"priority_policy":"x"}}"#, "unknown priority policy"),
            (r#"{"stream_name":"S","config":{},"action":"CREATE"}"#, "unknown consumer action"),
            (r#"{"stream_name":"S","config":{},"action":1}"#, "unknown consumer action: 1"),
            (r#"{"stream_name":"S","config":{"bogus":1}}"#, "unknown field"),
            (r#"{"stream_name":"S","config":{},"pedantic":"x"}"#, "of type bool"),
            (r#"{"stream_name":"S","config":{"opt_start_time":"a"}}"#, "parsing time"),
            (r#"{"stream_name":"S","config":{"opt_start_time":"2026-01-01T00:00:00"}}"#, "Z07:00"),
            (r#"{"stream_name":"S","config":{"opt_start_time":"2026-13-01T00:00:00Z"}}"#, "month out of range"),
            ("[]", "Go value of type"),
            (r#"{"stream_name":"S""#, "unexpected EOF"),
        ];
        for (body, text) in bad {
            s.req("$JS.API.CONSUMER.CREATE.S.C", body).await.expect(&err(10025)).expect(text);
        }
        s.req("$JS.API.CONSUMER.CREATE.S.C", r#"{"Stream_Name":"S","CONFIG":{"Ack_Policy":"all","deliver_policy":"undefined"}}"#).await.expect("\"ack_policy\":\"all\"");
    }
);

differential!(
    /// Every configuration rule of nats-server, each with its error.
    create_config_rules,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        let rules = [
            (r#"{"num_replicas":-1}"#, 10133),
            (r#"{"filter_subject":"s..a"}"#, 10052),
            (r#"{"filter_subjects":["s.a","s.*"]}"#, 10138),
            (r#"{"filter_subjects":["s.a",""]}"#, 10139),
            (r#"{"filter_subjects":["s.a"],"filter_subject":"s.b"}"#, 10136),
            (r#"{"backoff":[1,2,3],"max_deliver":2}"#, 10116),
            (r#"{"backoff":[-1]}"#, 10184),
            (r#"{"ack_wait":-1}"#, 10183),
            (r#"{"deliver_subject":"d.*"}"#, 10079),
            (r#"{"deliver_subject":"d..x"}"#, 10112),
            (r#"{"deliver_subject":"s.x"}"#, 10081),
            (r#"{"deliver_subject":"d","max_waiting":5}"#, 10080),
            (r#"{"deliver_subject":"d","max_ack_pending":5}"#, 10082),
            (r#"{"deliver_subject":"d","idle_heartbeat":50000000}"#, 10083),
            (r#"{"rate_limit_bps":5}"#, 10086),
            (r#"{"idle_heartbeat":1000000000}"#, 10088),
            (r#"{"flow_control":true}"#, 10089),
            (r#"{"max_expires":1000}"#, 10115),
            (r#"{"deliver_subject":"d","flow_control":true}"#, 10108),
            (r#"{"direct":true}"#, 10090),
            (r#"{"opt_start_seq":5}"#, 10094),
            (r#"{"deliver_policy":"last_per_subject"}"#, 10094),
            (r#"{"deliver_policy":"by_start_sequence"}"#, 10094),
            (r#"{"deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2026-01-01T00:00:00Z"}"#, 10094),
            (r#"{"sample_freq":"x"}"#, 10095),
            (r#"{"sample_freq":"-5%"}"#, 10095),
            (r#"{"priority_policy":"overflow","deliver_subject":"d"}"#, 10178),
            (r#"{"priority_policy":"overflow"}"#, 10159),
            (r#"{"priority_policy":"overflow","priority_groups":[""]}"#, 10161),
            (r#"{"priority_policy":"overflow","priority_groups":["a.b"]}"#, 10162),
            (r#"{"priority_groups":["a"]}"#, 10196),
            (r#"{"priority_timeout":5}"#, 10197),
            (r#"{"name":"a.b"}"#, 10052),
            (r#"{"ack_policy":"flow_control"}"#, 10218),
            (r#"{"description":"DESCRIPTION"}"#, 10107),
            (r#"{"metadata":{"k":"METADATA"}}"#, 10135),
        ];
        for (config, code) in rules {
            let config = config
                .replace("DESCRIPTION", &"x".repeat(4097))
                .replace("METADATA", &"v".repeat(128 * 1024));
            s.req("$JS.API.CONSUMER.CREATE.S", &format!(r#"{{"stream_name":"S","config":{config}}}"#)).await.expect(&err(code));
        }
        // Accepted, with negative values reset (a filter outside the stream is fine too).
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"max_deliver":-5,"max_waiting":-5,"max_batch":-1,"inactive_threshold":-5,"filter_subject":"x.y"}}"#).await.expect("\"max_deliver\":-1");
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"d","max_ack_pending":-7,"ack_policy":"explicit"}}"#).await.expect("\"max_ack_pending\":-1");
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"d"}}"#).await.expect("\"_nats.req.level\":\"4\"");
    }
);

differential!(
    /// Pedantic mode refuses what it would otherwise adjust.
    create_pedantic,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.stream("L", r#"["l.>"]"#, r#""consumer_limits":{"max_ack_pending":10,"inactive_threshold":10000000000}"#).await;
        for config in [
            r#"{"max_deliver":-5}"#,
            r#"{"max_waiting":-5}"#,
            r#"{"max_ack_pending":-5}"#,
            r#"{"max_batch":-5}"#,
            r#"{"max_expires":-5}"#,
            r#"{"max_bytes":-5}"#,
            r#"{"idle_heartbeat":-5}"#,
            r#"{"inactive_threshold":-5}"#,
            r#"{"priority_timeout":-5}"#,
            r#"{"backoff":[1000],"ack_policy":"explicit"}"#,
        ] {
            s.req("$JS.API.CONSUMER.CREATE.S", &format!(r#"{{"stream_name":"S","config":{config},"pedantic":true}}"#)).await.expect(&err(10157));
        }
        s.req("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"d"},"pedantic":true}"#).await.expect(&err(10219));
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{},"pedantic":true}"#).await.expect(&err(10157));
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{"max_ack_pending":5},"pedantic":true}"#).await.expect("inactive_threshold must be set");
    }
);

differential!(
    /// A stream's `consumer_limits` are the defaults and the ceilings.
    create_within_stream_consumer_limits,
    |s| {
        s.stream("L", r#"["l.>"]"#, r#""consumer_limits":{"max_ack_pending":10,"inactive_threshold":10000000000}"#).await;
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{}}"#).await.expect("\"max_ack_pending\":10");
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{"ack_policy":"explicit"}}"#).await.expect("\"inactive_threshold\":10000000000");
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{"inactive_threshold":20000000000}}"#).await.expect(&err(10153));
        s.req("$JS.API.CONSUMER.CREATE.L", r#"{"stream_name":"L","config":{"max_ack_pending":20}}"#).await.expect(&err(10121));
    }
);

differential!(
    /// `action`: create refuses another config, update refuses a missing consumer, the
    /// same config again is answered with the consumer.
    create_action_and_idempotence,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.req("$JS.API.CONSUMER.CREATE.S.E1", r#"{"stream_name":"S","config":{},"action":"create"}"#).await.expect("\"name\":\"E1\"");
        s.req("$JS.API.CONSUMER.CREATE.S.E1", r#"{"stream_name":"S","config":{},"action":"create"}"#).await.expect(&err(10148));
        s.req("$JS.API.CONSUMER.CREATE.S.E1", r#"{"stream_name":"S","config":{}}"#).await.expect("\"name\":\"E1\"");
        s.req("$JS.API.CONSUMER.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D1"},"action":"create"}"#).await.expect("\"name\":\"D1\"");
        s.req("$JS.API.CONSUMER.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D1"},"action":"create"}"#).await.expect("\"name\":\"D1\"");
        s.req("$JS.API.CONSUMER.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D1","description":"x"},"action":"create"}"#).await.expect(&err(10148));
        s.req("$JS.API.CONSUMER.CREATE.S.D1", r#"{"stream_name":"S","config":{"durable_name":"D1","description":"x"},"action":"update"}"#).await.expect("\"description\":\"x\"");
        s.req("$JS.API.CONSUMER.CREATE.S.D9", r#"{"stream_name":"S","config":{"durable_name":"D9"},"action":"update"}"#).await.expect(&err(10149));
        s.req("$JS.API.CONSUMER.NAMES.S", "").await.expect("[\"D1\",\"E1\"]");
    }
);

differential!(
    /// What an update may and may not change.
    update_rules,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await;
        for (config, text) in [
            (r#""deliver_policy":"new""#, "deliver policy can not be updated"),
            (r#""mem_storage":true"#, "storage type can not be updated"),
            (r#""ack_policy":"explicit""#, "ack policy can not be updated"),
            (r#""replay_policy":"original""#, "replay policy can not be updated"),
            (r#""deliver_subject":"x""#, "can not update pull consumer to push based"),
            (r#""max_waiting":10"#, "max waiting can not be updated"),
            (r#""backoff":[1,2],"max_deliver":1"#, "max deliver is required"),
            (r#""opt_start_seq":3"#, "optional start sequence is also set"),
        ] {
            s.consumer("S", "D1", &format!(r#"{{"durable_name":"D1",{config}}}"#)).await.expect(text);
        }
        s.consumer("S", "D1", r#"{"durable_name":"D1","max_deliver":5,"max_ack_pending":5,"filter_subject":"s.a","headers_only":true,"max_batch":5,"max_bytes":5,"max_expires":1000000000,"inactive_threshold":1000000000,"sample_freq":"5","metadata":{"a":"b"}}"#).await.expect("\"max_deliver\":5");
        s.consumer("S", "P1", r#"{"durable_name":"P1","deliver_subject":"p1"}"#).await;
        s.consumer("S", "P1", r#"{"durable_name":"P1"}"#).await.expect("can not update push consumer to pull based");
        s.consumer("S", "P1", r#"{"durable_name":"P1","deliver_subject":"p2","idle_heartbeat":1000000000}"#).await.expect("heart beats can not be updated");
        s.consumer("S", "P1", r#"{"durable_name":"P1","deliver_subject":"p2"}"#).await.expect("\"deliver_subject\":\"p2\"");
        s.info("S", "P1").await.expect("\"deliver_subject\":\"p2\"");
    }
);

differential!(
    /// Work-queue streams: explicit acks, deliver all, one consumer per subject.
    create_on_work_queue_stream,
    |s| {
        s.stream("W", r#"["w.>"]"#, r#""retention":"workqueue""#).await;
        let create = |config: &str| format!(r#"{{"stream_name":"W","config":{config}}}"#);
        s.req("$JS.API.CONSUMER.CREATE.W", &create("{}")).await.expect(&err(10084));
        s.req("$JS.API.CONSUMER.CREATE.W", &create(r#"{"ack_policy":"all"}"#)).await.expect(&err(10098));
        s.req("$JS.API.CONSUMER.CREATE.W", &create(r#"{"ack_policy":"explicit","deliver_policy":"new"}"#)).await.expect(&err(10101));
        s.req("$JS.API.CONSUMER.CREATE.W.WA", &create(r#"{"ack_policy":"explicit","filter_subject":"w.a"}"#)).await.expect("\"name\":\"WA\"");
        s.req("$JS.API.CONSUMER.CREATE.W", &create(r#"{"ack_policy":"explicit"}"#)).await.expect(&err(10099));
        s.req("$JS.API.CONSUMER.CREATE.W", &create(r#"{"ack_policy":"explicit","filter_subject":"w.*"}"#)).await.expect(&err(10100));
        s.req("$JS.API.CONSUMER.CREATE.W.WB", &create(r#"{"ack_policy":"explicit","filter_subject":"w.b"}"#)).await.expect("\"name\":\"WB\"");
        s.req("$JS.API.CONSUMER.CREATE.W.WB", &create(r#"{"ack_policy":"explicit","filter_subject":"w.a"}"#)).await.expect(&err(10100));
        s.req("$JS.API.CONSUMER.CREATE.W.WC", &create(r#"{"ack_policy":"explicit","num_replicas":3}"#)).await.expect(&err(10074));
    }
);

differential!(
    /// `max_consumers` of the stream counts its consumers; existing ones stay updatable.
    create_beyond_max_consumers,
    |s| {
        s.stream("S", r#"["s.>"]"#, r#""max_consumers":1"#).await;
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await.expect("\"name\":\"D1\"");
        s.consumer("S", "D2", r#"{"durable_name":"D2"}"#).await.expect(&err(10026));
        s.consumer("S", "D1", r#"{"durable_name":"D1","description":"still"}"#).await.expect("\"description\":\"still\"");
        s.req("$JS.API.CONSUMER.DELETE.S.D1", "").await.expect("\"success\":true");
        s.consumer("S", "D2", r#"{"durable_name":"D2"}"#).await.expect("\"name\":\"D2\"");
    }
);

// ---------------------------------------------------------------------------------------
// INFO, DELETE, NAMES, LIST, PAUSE

differential!(
    /// Info and delete of missing streams and consumers, and payload rules.
    info_and_delete,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await;
        s.info("S", "NOPE").await.expect(&err(10014));
        s.info("NOPE", "X").await.expect(&err(10059));
        s.req("$JS.API.CONSUMER.INFO.S.D1", "{}").await.expect("consumer_info_response");
        s.req("$JS.API.CONSUMER.INFO.S.D1", "x").await;
        s.req("$JS.API.CONSUMER.DELETE.S.NOPE", "").await.expect(&err(10014));
        s.req("$JS.API.CONSUMER.DELETE.NOPE.X", "").await.expect(&err(10059));
        s.req("$JS.API.CONSUMER.DELETE.S.D1", "x").await.expect(&err(10038));
        s.req("$JS.API.CONSUMER.DELETE.S.D1", "").await.expect("\"success\":true");
        s.info("S", "D1").await.expect(&err(10014));
        s.req("$JS.API.STREAM.INFO.S", "").await.expect("\"consumer_count\":0");
    }
);

differential!(
    /// Names and list: sorted, paged, `[]` when empty, errors keep the paging zeros.
    names_and_list,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.req("$JS.API.CONSUMER.NAMES.S", "").await.expect("\"consumers\":[]");
        s.req("$JS.API.CONSUMER.LIST.S", "").await.expect("\"consumers\":[]");
        s.consumer("S", "B", r#"{"durable_name":"B"}"#).await;
        s.consumer("S", "A", r#"{"durable_name":"A","deliver_subject":"a"}"#).await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.req("$JS.API.CONSUMER.NAMES.S", "").await.expect("[\"A\",\"B\",\"C\"]");
        s.req("$JS.API.CONSUMER.NAMES.S", r#"{"offset":2}"#).await.expect("[\"C\"]");
        s.req("$JS.API.CONSUMER.NAMES.S", r#"{"offset":-2}"#).await.expect("\"offset\":0");
        s.req("$JS.API.CONSUMER.NAMES.S", r#"{"offset":99}"#).await.expect("\"offset\":3");
        s.req("$JS.API.CONSUMER.NAMES.S", r#"{"subject":"s.a"}"#).await.expect(&err(10025));
        s.req("$JS.API.CONSUMER.NAMES.S", r#"{"offset":"x"}"#).await.expect("of type int");
        s.req("$JS.API.CONSUMER.NAMES.S", "garbage").await.expect("\"total\":3");
        // A body starting with `[` is decoded (and refused), anything else not `{` ignored.
        s.req("$JS.API.CONSUMER.NAMES.S", "[1]").await;
        s.req("$JS.API.CONSUMER.NAMES.NOPE", "").await.expect(&err(10059));
        s.req("$JS.API.CONSUMER.LIST.S", "").await.expect("\"_nats.req.level\":\"0\"}");
        s.req("$JS.API.CONSUMER.LIST.S", r#"{"offset":2}"#).await.expect("\"total\":3");
        s.req("$JS.API.CONSUMER.LIST.NOPE", "").await.expect(&err(10059));
    }
);

differential!(
    /// Pause until a time, resume, pause in the past; create keeps the pause.
    pause_and_resume,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.>").await;
        s.req("$JS.API.CONSUMER.PAUSE.S.D1", r#"{"pause_until":"2030-01-01T00:00:00Z"}"#).await.expect("\"paused\":true");
        s.info("S", "D1").await.expect("\"paused\":true");
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await.expect("\"pause_until\":\"2030-01-01T00:00:00Z\"");
        // One advisory from the pause, another from the create of a paused consumer; later
        // ones would race with the create's (sent after its reply).
        s.collect_watch(0, 2).await.expect("consumer_pause");
        s.req("$JS.API.CONSUMER.PAUSE.S.D1", "").await.expect("\"paused\":false");
        s.req("$JS.API.CONSUMER.PAUSE.S.D1", r#"{"pause_until":"2020-01-01T00:00:00Z"}"#).await.expect("\"pause_until\":\"2020-01-01T00:00:00Z\"");
        s.req("$JS.API.CONSUMER.PAUSE.S.NOPE", "").await.expect(&err(10014));
        s.req("$JS.API.CONSUMER.PAUSE.NOPE.X", "").await.expect(&err(10059));
        s.req("$JS.API.CONSUMER.PAUSE.S.D1", r#"{"bogus":1}"#).await.expect(&err(10025));
    }
);

differential!(
    /// Created and deleted advisories.
    created_and_deleted_advisories,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.>").await;
        s.consumer("S", "D1", r#"{"durable_name":"D1"}"#).await;
        s.req("$JS.API.CONSUMER.DELETE.S.D1", "").await;
        s.collect_watch(0, 2).await.expect("\"action\":\"delete\"");
    }
);

// ---------------------------------------------------------------------------------------
// Pull requests

differential!(
    /// `no_wait` with nothing to deliver: 404 No Messages; a batch returns what there is.
    pull_no_wait,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "E", r#"{"durable_name":"E"}"#).await;
        s.pull("S", "E", r#"{"no_wait":true}"#, 1).await.expect("\"status\":404");
        s.publish("s.a", "one").await;
        s.publish("s.b", "two").await;
        // Created after the publishes: nats-server counts a consumer's pending messages
        // asynchronously, so the count in the ack subject would race with them.
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        s.pull("S", "C", r#"{"batch":5,"no_wait":true}"#, 3).await.expect("\"status\":404");
        s.info("S", "C").await.expect("\"num_pending\":0");
    }
);

differential!(
    /// An expiring request answers 408 Request Timeout with what it still wanted.
    pull_expires_with_pending_counts,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.publish("s.a", "one").await;
        s.pull("S", "C", r#"{"batch":3,"expires":200000000}"#, 2).await.expect("Nats-Pending-Messages");
        s.pull("S", "C", r#"{"batch":2,"max_bytes":1000,"expires":200000000}"#, 1).await.expect("\"status\":408");
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
    }
);

differential!(
    /// A plain number is the batch; an empty payload asks for one message and waits.
    pull_with_number_and_empty_payload,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        for i in 0..3 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.pull("S", "C", "2", 2).await.expect("\"body\":\"m1\"");
        s.pull("S", "C", "", 1).await.expect("\"body\":\"m2\"");
        s.info("S", "C").await.expect("\"stream_seq\":3");
    }
);

differential!(
    /// More waiting requests than `max_waiting`: 409 Exceeded MaxWaiting.
    pull_beyond_max_waiting,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C","max_waiting":1}"#).await;
        s.pull("S", "C", r#"{"batch":1,"expires":2000000000}"#, 0).await;
        s.pull("S", "C", r#"{"batch":1,"expires":2000000000}"#, 1).await.expect("Exceeded MaxWaiting");
        // Pull requests are queued in order: the first is registered by now.
        s.info("S", "C").await.expect("\"num_waiting\":1");
    }
);

differential!(
    /// A message larger than the request's `max_bytes`: 409 Message Size Exceeds MaxBytes.
    pull_message_larger_than_max_bytes,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        s.publish("s.a", "a message of some size").await;
        s.pull("S", "C", r#"{"batch":1,"max_bytes":5}"#, 1).await.expect("Message Size Exceeds MaxBytes");
        // Not lost: the next request that fits gets it. (nats-server's num_pending right
        // after the refusal is 0 or 1 depending on timing, so it is not compared.)
        s.pull("S", "C", r#"{"batch":1,"no_wait":true}"#, 1).await.expect("a message of some size");
    }
);

differential!(
    /// The consumer's `max_batch`, `max_expires` and `max_bytes` limit each request.
    pull_beyond_consumer_request_limits,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C","max_batch":2,"max_expires":1000000000,"max_bytes":10}"#).await;
        s.pull("S", "C", r#"{"batch":3}"#, 1).await.expect("Exceeded MaxRequestBatch of 2");
        s.pull("S", "C", r#"{"batch":1,"expires":2000000000}"#, 1).await.expect("Exceeded MaxRequestExpires of 1s");
        s.pull("S", "C", r#"{"batch":1,"max_bytes":100}"#, 1).await.expect("Exceeded MaxRequestMaxBytes of 10");
        // Go prints the limit as a duration: `1m30s`.
        s.consumer("S", "L", r#"{"durable_name":"L","max_expires":90000000000}"#).await;
        s.pull("S", "L", r#"{"batch":1,"expires":100000000000}"#, 1).await.expect("Exceeded MaxRequestExpires of 1m30s");
    }
);

differential!(
    /// Idle heartbeats while a request waits: 100 Idle Heartbeat.
    pull_idle_heartbeat,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        s.pull("S", "C", r#"{"batch":1,"expires":2000000000,"idle_heartbeat":100000000}"#, 1).await.expect("\"status\":100");
    }
);

differential!(
    /// Malformed pull requests: 400 Bad Request with Go's texts; non-JSON is one message.
    pull_bad_requests,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        for (payload, text) in [
            (r#"{"batch":"x"}"#, "Go struct field .batch of type int"),
            (r#"{"batch":1.5}"#, "number 1.5"),
            (r#"{"expires":"1s"}"#, "time.Duration"),
            (r#"{"group":5}"#, "of type string"),
            ("{x", "looking for beginning of object key string"),
            (r#"{"batch":1}{"x":1}"#, "after top-level value"),
            (r#"{"batch":1"#, "unexpected end of JSON input"),
            (r#"{"expires":1000000000,"idle_heartbeat":600000000}"#, "heartbeat value too large"),
        ] {
            s.pull("S", "C", payload, 1).await.expect("\"status\":400").expect(text);
        }
        // Priority fields are ignored by a consumer without a priority policy.
        s.pull("S", "C", r#"{"priority":3,"group":"g","no_wait":true}"#, 1).await.expect("\"status\":404");
        s.pull("S", "C", r#"{"NO_WAIT":true,"bogus":1}"#, 1).await.expect("\"status\":404");
        s.pull("S", "C", "abc", 1).await.expect("\"complete\":false");
    }
);

differential!(
    /// `no_wait` with `expires` (async-nats' fetch): with nothing there it waits for a
    /// message or its expiry; after a message, the end of the stream ends it.
    pull_no_wait_with_expires,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        s.pull("S", "C", r#"{"no_wait":true,"expires":300000000,"batch":2}"#, 1).await.expect("\"status\":408");
        s.pull("S", "C", r#"{"no_wait":true,"expires":3000000000,"batch":2}"#, 0).await;
        s.publish("s.a", "m0").await;
        s.collect_held(0, 2).await.expect("\"body\":\"m0\"").expect("\"status\":404");
    }
);

differential!(
    /// `sample_freq` "100%": every explicit acknowledgement (`+ACK`, `+NXT`) is published as
    /// an ack metric; NAK, TERM and progress are not, nor anything without `sample_freq` or
    /// with ack policy all. Ack policy none has no ack subscription at all.
    ack_sampling_metrics,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..4 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit","sample_freq":"100%"}"#).await;
        s.consumer("S", "N", r#"{"durable_name":"N","ack_policy":"explicit"}"#).await;
        s.consumer("S", "A", r#"{"durable_name":"A","ack_policy":"all","sample_freq":"100%"}"#).await;
        s.watch("$JS.EVENT.METRIC.CONSUMER.ACK.S.C").await;
        s.watch("$JS.EVENT.METRIC.CONSUMER.ACK.S.N").await;
        s.pull("S", "C", r#"{"batch":1}"#, 1).await;
        s.ack_sync(0, "+WPI").await;
        s.ack_sync(0, "-NAK").await;
        s.pull("S", "C", r#"{"batch":1}"#, 1).await.expect("\"body\":\"m0\"");
        s.ack_sync(0, "+ACK").await;
        s.collect_watch(0, 1).await.expect("io.nats.jetstream.metric.v1.consumer_ack").expect("\"deliveries\":2");
        s.pull("S", "C", r#"{"batch":1}"#, 1).await;
        s.ack_next(0, r#"{"batch":1}"#, 1).await.expect("\"body\":\"m2\"");
        s.ack_sync(0, "+TERM").await;
        s.collect_watch(0, 2).await.expect("\"stream_seq\":2").expect("\"complete\":false");
        s.pull("S", "N", r#"{"batch":1}"#, 1).await;
        s.ack_sync(0, "").await;
        s.collect_watch(1, 1).await.expect("\"complete\":false");
        // Nor with ack policy all.
        s.watch("$JS.EVENT.METRIC.CONSUMER.ACK.S.A").await;
        s.pull("S", "A", r#"{"batch":1}"#, 1).await;
        s.ack_sync(0, "").await.expect("\"body\":\"\"");
        s.collect_watch(2, 1).await.expect("\"complete\":false");
        // Without acknowledgements there is nobody to acknowledge to.
        s.consumer("S", "X", r#"{"durable_name":"X","ack_policy":"none"}"#).await;
        s.pull("S", "X", r#"{"batch":1}"#, 1).await;
        s.ack_sync(0, "").await.expect("no_responders");
        s.ack_next(0, "", 1).await.expect("503");
    }
);

differential!(
    /// `pinned_client`: the first request of the group is pinned (`Nats-Pin-Id` on its
    /// messages, a PINNED advisory, the pin in consumer info); others wait; a wrong id is
    /// refused (423) at once, a stale one when a message comes; `CONSUMER.UNPIN` and the
    /// pin TTL end the pin (UNPINNED advisory, reason admin / timeout).
    pinned_client_priority_group,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..5 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "P", r#"{"durable_name":"P","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["g"],"priority_timeout":1000000000}"#).await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.PINNED.S.P").await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.P").await;
        s.pull("S", "P", r#"{"group":"g","batch":1}"#, 1).await.expect("Nats-Pin-Id").expect("\"body\":\"m0\"");
        s.collect_watch(0, 1).await.expect("consumer_group_pinned").expect("\"pinned_id\"");
        s.info("S", "P").await.expect("pinned_client_id");
        s.pull("S", "P", r#"{"group":"g","batch":1,"expires":300000000}"#, 1).await.expect("\"status\":408");
        s.pull("S", "P", r#"{"group":"g","batch":1,"id":"WRONG"}"#, 1).await.expect("Nats-Pin-Id mismatch");
        let pin = s.pin.clone();
        s.pull("S", "P", &format!(r#"{{"group":"g","batch":1,"id":"{pin}"}}"#), 1).await.expect("\"body\":\"m1\"");
        s.req("$JS.API.CONSUMER.UNPIN.S.P", "{}").await.expect("consumer group not specified");
        s.req("$JS.API.CONSUMER.UNPIN.S.P", r#"{"group":"a.b"}"#).await.expect(&err(10162));
        s.req("$JS.API.CONSUMER.UNPIN.S.P", r#"{"group":"x"}"#).await.expect(&err(10160));
        s.req("$JS.API.CONSUMER.UNPIN.S.NOPE", r#"{"group":"g"}"#).await.expect(&err(10014));
        s.req("$JS.API.CONSUMER.UNPIN.S.P", r#"{"group":"g"}"#).await.expect("consumer_unpin_response");
        s.collect_watch(1, 1).await.expect("\"reason\":\"admin\"");
        s.pull("S", "P", &format!(r#"{{"group":"g","batch":1,"id":"{pin}"}}"#), 1).await.expect("Nats-Wrong-Pin-Id");
        s.pull("S", "P", r#"{"group":"g","batch":1}"#, 1).await.expect("\"body\":\"m2\"");
        s.collect_watch(0, 1).await.expect("consumer_group_pinned");
        s.collect_watch(1, 1).await.expect("\"reason\":\"timeout\"");
        s.info("S", "P").await.expect("\"pinned_ts\":\"0001-01-01T00:00:00Z\"");
    }
);

differential!(
    /// `overflow`: a waiting request with `min_pending` is served only once that many
    /// messages are pending.
    overflow_priority_group_waits_for_min_pending,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "O", r#"{"durable_name":"O","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["g"]}"#).await;
        s.pull("S", "O", r#"{"group":"g","batch":5,"min_pending":3,"expires":10000000000}"#, 0).await;
        s.publish("s.a", "m0").await;
        s.publish("s.a", "m1").await;
        s.collect_held(0, 1).await.expect("\"complete\":false");
        s.publish("s.a", "m2").await;
        s.collect_held(0, 1).await.expect("\"body\":\"m0\"");
    }
);

differential!(
    /// Waiting pull requests take turns: each message goes to the request first in line,
    /// which then waits behind the others.
    waiting_pull_requests_take_turns,
    |s| {
        s.pending_races();
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.pull("S", "C", r#"{"batch":3,"expires":10000000000}"#, 0).await;
        s.pull("S", "C", r#"{"batch":3,"expires":10000000000}"#, 0).await;
        for i in 0..4 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.collect_held(0, 2).await.expect("\"body\":\"m0\"").expect("\"body\":\"m2\"");
        s.collect_held(1, 2).await.expect("\"body\":\"m1\"").expect("\"body\":\"m3\"");
    }
);

differential!(
    /// `prioritized`: the waiting request with the lowest `priority` is served first;
    /// requests of one priority take turns.
    prioritized_priority_group,
    |s| {
        s.pending_races();
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "R", r#"{"durable_name":"R","ack_policy":"explicit","priority_policy":"prioritized","priority_groups":["g"]}"#).await;
        s.pull("S", "R", r#"{"group":"g","priority":5,"batch":2,"expires":10000000000}"#, 0).await;
        s.pull("S", "R", r#"{"group":"g","priority":1,"batch":2,"expires":10000000000}"#, 0).await;
        s.pull("S", "R", r#"{"group":"g","priority":1,"batch":1,"expires":10000000000}"#, 0).await;
        for i in 0..5 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.collect_held(1, 2).await.expect("\"body\":\"m0\"").expect("\"body\":\"m2\"");
        s.collect_held(2, 1).await.expect("\"body\":\"m1\"");
        s.collect_held(0, 2).await.expect("\"body\":\"m3\"").expect("\"body\":\"m4\"");
    }
);

differential!(
    /// Pull requests to a push consumer, and to what does not exist.
    pull_on_push_or_missing_consumer,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "P", r#"{"durable_name":"P","deliver_subject":"pu"}"#).await;
        s.pull("S", "P", "", 1).await.expect("Consumer is push based");
        s.pull("S", "NOPE", r#"{"no_wait":true}"#, 1).await;
        s.pull("NOPE", "X", r#"{"no_wait":true}"#, 1).await;
    }
);

differential!(
    /// Pull requests to priority-group consumers: the group and its fields are checked.
    pull_with_priority_groups,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.consumer("S", "O", r#"{"durable_name":"O","priority_policy":"overflow","priority_groups":["g"]}"#).await;
        s.consumer("S", "P", r#"{"durable_name":"P","priority_policy":"pinned_client","priority_groups":["g"]}"#).await;
        s.consumer("S", "R", r#"{"durable_name":"R","priority_policy":"prioritized","priority_groups":["g"]}"#).await;
        s.pull("S", "O", r#"{"no_wait":true}"#, 1).await.expect("\"status\":400");
        s.pull("S", "O", r#"{"group":"h","no_wait":true}"#, 1).await.expect("\"status\":400");
        s.pull("S", "O", r#"{"group":"g","min_pending":5,"no_wait":true}"#, 1).await.expect("\"status\":404");
        // `priority` is not checked on an overflow consumer.
        s.pull("S", "O", r#"{"group":"g","min_pending":1,"priority":1,"no_wait":true}"#, 1).await.expect("\"body\":\"m0\"");
        s.pull("S", "P", r#"{"group":"g","min_pending":1,"no_wait":true}"#, 1).await.expect("\"status\":400");
        s.pull("S", "P", r#"{"group":"g","id":"nobody","no_wait":true}"#, 1).await.expect("Nats-Wrong-Pin-Id");
        s.pull("S", "R", r#"{"group":"g","priority":10,"no_wait":true}"#, 1).await.expect("\"status\":400");
        s.pull("S", "R", r#"{"group":"g","priority":0,"no_wait":true}"#, 1).await.expect("\"body\":\"m0\"");
    }
);

// ---------------------------------------------------------------------------------------
// Acknowledgements

differential!(
    /// The ack subject names stream, consumer, deliveries, stream and consumer sequence,
    /// time and pending; acks with a reply get an empty one, also when repeated.
    ack_subject_and_acks,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..3 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.pull("S", "C", r#"{"batch":2}"#, 2).await.expect("$JS.ACK.S.C.1.1.1.");
        s.ack_sync(0, "+ACK").await.expect("\"body\":\"\"");
        s.ack_sync(0, "+ACK").await.expect("\"body\":\"\"");
        // An empty acknowledgement is +ACK.
        s.ack_sync(1, "").await.expect("\"body\":\"\"");
        s.info("S", "C").await.expect("\"ack_floor\":{\"consumer_seq\":2");
    }
);

differential!(
    /// `-NAK` redelivers at once (deliveries 2 in the ack subject); `num_redelivered` counts.
    nak_redelivers,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.>").await;
        s.pull("S", "C", "1", 1).await;
        s.ack_sync(0, "-NAK").await.expect("\"body\":\"\"");
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
        s.pull("S", "C", "1", 1).await.expect("$JS.ACK.S.C.2.1.2.");
        s.info("S", "C").await.expect("\"num_redelivered\":1");
        s.ack_sync(0, "+ACK").await;
        s.info("S", "C").await.expect("\"num_ack_pending\":0");
        s.collect_watch(0, 1).await.expect("io.nats.jetstream.advisory.v1.nak");
    }
);

differential!(
    /// `+WPI` keeps the message pending; `+TERM` ends it and sends an advisory.
    progress_and_terminate,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>").await;
        s.pull("S", "C", "1", 1).await;
        s.ack_sync(0, "+WPI").await.expect("\"body\":\"\"");
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
        s.ack_sync(0, "+TERM because").await.expect("\"body\":\"\"");
        s.info("S", "C").await.expect("\"num_ack_pending\":0");
        s.ack_sync(0, "+ACK").await;
        s.collect_watch(0, 1).await.expect("\"reason\":\"because\"");
    }
);

differential!(
    /// `+NXT` acknowledges and delivers the next messages to the ack's reply subject.
    ack_next_delivers_more,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..3 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.pull("S", "C", "1", 1).await;
        s.ack_next(0, "", 1).await.expect("\"body\":\"m1\"");
        s.ack_next(0, " 1", 1).await.expect("\"body\":\"m2\"");
        s.info("S", "C").await.expect("\"ack_floor\":{\"consumer_seq\":2");
    }
);

differential!(
    /// `ack_policy: all` acknowledges everything up to the acked message.
    ack_all_acks_earlier_messages,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..3 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"all"}"#).await;
        s.pull("S", "C", "3", 3).await;
        s.ack_sync(1, "+ACK").await;
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
    }
);

differential!(
    /// A message NAKed past `max_deliver` is no longer delivered; an advisory says so.
    max_deliver_advisory,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit","max_deliver":2}"#).await;
        s.watch("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>").await;
        s.pull("S", "C", "1", 1).await;
        s.ack_sync(0, "-NAK").await;
        s.pull("S", "C", "1", 1).await.expect("$JS.ACK.S.C.2.1.2.");
        s.ack_sync(0, "-NAK").await;
        s.pull("S", "C", r#"{"no_wait":true}"#, 1).await.expect("\"status\":404");
        s.collect_watch(0, 1).await.expect("\"deliveries\":2");
        s.info("S", "C").await;
    }
);

// ---------------------------------------------------------------------------------------
// Retention and push delivery

differential!(
    /// Interest retention: a message leaves once every consumer acked it.
    interest_retention_removes_acked_messages,
    |s| {
        s.stream("I", r#"["i.>"]"#, r#""retention":"interest""#).await;
        s.consumer("I", "A", r#"{"durable_name":"A","ack_policy":"explicit"}"#).await;
        s.consumer("I", "B", r#"{"durable_name":"B","ack_policy":"explicit"}"#).await;
        s.publish("i.x", "m0").await;
        s.pull("I", "A", "1", 1).await;
        s.ack_sync(0, "+ACK").await;
        s.req("$JS.API.STREAM.INFO.I", "").await.expect("\"messages\":1");
        s.pull("I", "B", "1", 1).await;
        s.ack_sync(0, "+ACK").await;
        s.req("$JS.API.STREAM.INFO.I", "").await.expect("\"messages\":0");
    }
);

differential!(
    /// Work-queue retention: a message leaves once acked.
    work_queue_retention_removes_acked_messages,
    |s| {
        s.stream("W", r#"["w.>"]"#, r#""retention":"workqueue""#).await;
        s.publish("w.x", "m0").await;
        s.publish("w.x", "m1").await;
        s.consumer("W", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.pull("W", "C", "2", 2).await;
        s.ack_sync(1, "+ACK").await;
        s.req("$JS.API.STREAM.INFO.W", "").await.expect("\"messages\":1");
        s.info("W", "C").await.expect("\"num_ack_pending\":1");
    }
);

differential!(
    /// A push consumer delivers to its deliver subject once someone listens.
    push_delivers_to_deliver_subject,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.publish("s.b", "m1").await;
        s.watch("deliver.here").await;
        s.consumer("S", "P", r#"{"durable_name":"P","deliver_subject":"deliver.here","ack_policy":"explicit"}"#).await;
        s.collect_watch(0, 2).await.expect("$JS.ACK.S.P.1.2.2.");
        s.ack_sync(0, "+ACK").await;
        s.info("S", "P").await.expect("\"push_bound\":true");
    }
);

differential!(
    /// Deliver policies pick the first message.
    deliver_policies_pick_the_start,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for (subject, payload) in [("s.a", "a1"), ("s.b", "b1"), ("s.a", "a2"), ("s.b", "b2")] {
            s.publish(subject, payload).await;
        }
        s.consumer("S", "LAST", r#"{"deliver_policy":"last"}"#).await;
        s.pull("S", "LAST", r#"{"batch":5,"no_wait":true}"#, 5).await.expect("\"body\":\"b2\"");
        s.consumer("S", "NEW", r#"{"deliver_policy":"new"}"#).await;
        s.pull("S", "NEW", r#"{"batch":5,"no_wait":true}"#, 5).await.expect("\"status\":404");
        s.consumer("S", "SEQ", r#"{"deliver_policy":"by_start_sequence","opt_start_seq":3}"#).await;
        s.pull("S", "SEQ", r#"{"batch":5,"no_wait":true}"#, 5).await.expect("\"body\":\"a2\"");
        s.consumer("S", "LPS", r#"{"deliver_policy":"last_per_subject","filter_subject":"s.*"}"#).await;
        s.pull("S", "LPS", r#"{"batch":5,"no_wait":true}"#, 5).await.expect("\"body\":\"a2\"");
        s.consumer("S", "FIL", r#"{"filter_subjects":["s.b"]}"#).await;
        s.pull("S", "FIL", r#"{"batch":5,"no_wait":true}"#, 5).await.expect("\"body\":\"b1\"");
    }
);

differential!(
    /// An idle push consumer with heartbeats sends `100 Idle Heartbeat` to its subject.
    push_idle_heartbeat,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.watch("hb.here").await;
        s.consumer("S", "P", r#"{"durable_name":"P","deliver_subject":"hb.here","idle_heartbeat":100000000,"flow_control":true}"#).await;
        s.collect_watch(0, 1).await.expect("Idle Heartbeat");
    }
);

differential!(
    /// `headers_only` delivers the headers and `Nats-Msg-Size` instead of the payload.
    headers_only_delivery,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "twelve bytes").await;
        s.consumer("S", "H", r#"{"durable_name":"H","headers_only":true}"#).await;
        s.pull("S", "H", "1", 1).await.expect("Nats-Msg-Size");
    }
);

differential!(
    /// `max_ack_pending` caps what a pull request gets while acks are outstanding.
    pull_limited_by_max_ack_pending,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        for i in 0..3 {
            s.publish("s.a", &format!("m{i}")).await;
        }
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit","max_ack_pending":1}"#).await;
        s.pull("S", "C", r#"{"batch":3,"no_wait":true}"#, 3).await.expect("\"body\":\"m0\"");
        s.pull("S", "C", r#"{"batch":3,"expires":200000000}"#, 1).await;
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
    }
);

differential!(
    /// `-NAK {"delay":...}` holds the redelivery back.
    nak_with_delay,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.publish("s.a", "m0").await;
        s.consumer("S", "C", r#"{"durable_name":"C","ack_policy":"explicit"}"#).await;
        s.pull("S", "C", "1", 1).await;
        s.ack_sync(0, r#"-NAK {"delay":10000000000}"#).await;
        s.pull("S", "C", r#"{"no_wait":true}"#, 1).await.expect("\"status\":404");
        s.info("S", "C").await.expect("\"num_ack_pending\":1");
    }
);

differential!(
    /// Deleting the stream takes its consumers with it.
    stream_delete_removes_consumers,
    |s| {
        s.stream("S", r#"["s.>"]"#, "").await;
        s.consumer("S", "C", r#"{"durable_name":"C"}"#).await;
        s.req("$JS.API.STREAM.INFO.S", "").await.expect("\"consumer_count\":1");
        s.req("$JS.API.INFO", "").await.expect("\"consumers\":1");
        s.req("$JS.API.STREAM.DELETE.S", "").await.expect("\"success\":true");
        s.stream("S", r#"["s.>"]"#, "").await;
        s.info("S", "C").await.expect(&err(10014));
        s.req("$JS.API.INFO", "").await.expect("\"consumers\":0");
    }
);

// ---------------------------------------------------------------------------------------
// The harness itself

#[test]
fn ack_subjects_and_ephemeral_names_are_masked() {
    let aliases = BTreeMap::from([("AbCd1234".to_string(), "<ephemeral-1>".to_string())]);
    assert_eq!(
        mask_subject("$JS.ACK.S.AbCd1234.1.2.3.1796473857217024836.0", &aliases),
        "$JS.ACK.S.<ephemeral-1>.1.2.3.<ts>.0"
    );
    assert_eq!(mask_subject("_INBOX.abc.def", &aliases), "<inbox>");
    let mut reply = json!({
        "name": "AbCd1234",
        "created": "2026-12-05T09:07:30.971180307Z",
        "delivered": {"consumer_seq": 1, "last_active": "2026-12-05T09:07:31Z"},
        "config": {"metadata": {"_nats.ver": "2.15.1"}, "pause_until": ZERO_TIME},
        "id": "NUID",
    });
    mask(&mut reply, &aliases);
    assert_eq!(
        reply,
        json!({
            "name": "<ephemeral-1>",
            "created": "<time>",
            "delivered": {"consumer_seq": 1, "last_active": "<time>"},
            "config": {"metadata": {"_nats.ver": "<version>"}, "pause_until": ZERO_TIME},
            "id": "<server>",
        })
    );
}

#[test]
fn diff_names_every_differing_path() {
    let mut out = Vec::new();
    diff(
        "",
        &json!({"a": 1, "b": {"c": [1, 2]}, "only_left": true}),
        &json!({"a": 1, "b": {"c": [1, 3]}, "only_right": null}),
        &mut out,
    );
    assert_eq!(
        out,
        [
            "/b/c/1: 2 vs 3",
            "/only_left: true vs (absent)",
            "/only_right: (absent) vs null",
        ]
    );
}
