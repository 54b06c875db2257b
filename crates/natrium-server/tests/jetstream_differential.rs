//! JetStream differential suite: the same requests (subject, headers, payload) go with
//! async-nats `request` to natrium-server and to the newest nats-server (`-js -sd <tmp>`);
//! the replies (status, headers, JSON body) must agree field by field once per-server
//! fields (ids, versions, timestamps, cluster, domain, API counters) are masked.
//!
//! Each [`Scenario`] starts from an account without streams. A step may carry `expect`, a
//! text the reference's raw reply must contain, so that a scenario provably reaches the
//! path it is named after (an error code, a status).
//!
//! Until natrium-server has JetStream, [`start_natrium_js`] returns `None` and the suite
//! compares the reference with a second nats-server instead: that proves the masking and
//! that every scenario is deterministic.
//!
//! Set env `NATRIUM_JS_REPLIES_DIR` to a directory to save what the reference answered,
//! one `<scenario>.json` per scenario.

use natrium_test_support::process::ServerCommand;
use natrium_test_support::reference;

use std::fmt::Write as _;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::client::RequestErrorKind;
use serde_json::{Value, json};

/// Upper bound for one request; never a pacing delay.
const WAIT: Duration = Duration::from_secs(5);

/// How long a step that expects no reply waits for one.
const SILENCE: Duration = Duration::from_millis(300);

/// Go's zero time, which is deterministic and therefore not masked.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Keys whose values are times.
const TIME_KEYS: &[&str] = &[
    "created",
    "ts",
    "time",
    "first_ts",
    "last_ts",
    "leader_since",
];
/// Keys whose values name the server or its place.
const SERVER_KEYS: &[&str] = &["server_id", "server_name", "leader", "domain", "cluster"];

/// natrium-server with JetStream storing in `dir`: its client URL and what keeps it running.
///
/// natrium-server with JetStream storing in `dir`.
async fn start_natrium_js(
    dir: &std::path::Path,
) -> Option<(String, Box<dyn std::any::Any + Send>)> {
    let server = natrium_server::Server::start(natrium_server::ServerOptions {
        jetstream: Some(natrium_server::JetStreamOptions::in_dir(dir)),
        ..natrium_server::ServerOptions::ephemeral()
    })
    .await
    .expect("natrium-server with JetStream starts");
    Some((server.client_url(), Box::new(server)))
}

/// One request of a scenario.
#[derive(Clone)]
struct Step {
    subject: String,
    headers: Vec<(String, String)>,
    payload: String,
    /// A text the reference's raw reply must contain.
    expect: Option<String>,
    /// No reply is expected: wait only [`SILENCE`] for one.
    silent: bool,
}

fn req(subject: &str, payload: &str) -> Step {
    Step {
        subject: subject.to_string(),
        headers: Vec::new(),
        payload: payload.to_string(),
        expect: None,
        silent: false,
    }
}

impl Step {
    fn hdr(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn expect(mut self, text: &str) -> Self {
        self.expect = Some(text.to_string());
        self
    }

    /// nats-server does not answer this request; [`SILENCE`] bounds the wait.
    fn silent(mut self) -> Self {
        self.silent = true;
        self.expect("\"timeout\":true")
    }
}

struct Scenario {
    name: &'static str,
    steps: Vec<Step>,
}

fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario { name, steps }
}

fn create(name: &str, body: &str) -> Step {
    req(&format!("$JS.API.STREAM.CREATE.{name}"), body)
}

fn update(name: &str, body: &str) -> Step {
    req(&format!("$JS.API.STREAM.UPDATE.{name}"), body)
}

fn info(name: &str, body: &str) -> Step {
    req(&format!("$JS.API.STREAM.INFO.{name}"), body)
}

fn publish(subject: &str, payload: &str) -> Step {
    req(subject, payload)
}

fn err(code: u32) -> String {
    format!("\"err_code\":{code}")
}

/// Every verb and every error path of the stream API (see the brief in the notes).
fn scenarios() -> Vec<Scenario> {
    let mut all = vec![
        scenario(
            "account_info_counts_streams",
            vec![
                req("$JS.API.INFO", "").expect("account_info_response"),
                create("S1", r#"{"name":"S1"}"#),
                publish("S1", "hello"),
                req("$JS.API.INFO", "").expect("\"streams\":1"),
            ],
        ),
        scenario(
            "create_fills_defaults_and_is_idempotent",
            vec![
                create("S1", r#"{"name":"S1"}"#).expect("\"did_create\":true"),
                create("S1", r#"{"name":"S1"}"#).expect("\"did_create\":true"),
                create("S1", r#"{"name":"S1","max_msgs":5}"#).expect(&err(10058)),
                create("M", r#"{"name":"M","storage":"memory","subjects":["m.>"],"max_age":1000000000,"discard":"new","max_msgs_per_subject":3,"discard_new_per_subject":true,"description":"d \u003c\u003e \u0026","metadata":{"k":"v"},"allow_direct":true,"allow_rollup_hdrs":true,"allow_msg_ttl":true,"deny_delete":true,"first_seq":10,"compression":"none"}"#)
                    .expect("\"did_create\":true"),
                info("M", ""),
            ],
        ),
        scenario(
            "create_overlap_with_another_stream",
            vec![
                create("S1", r#"{"name":"S1","subjects":["orders.*"]}"#),
                create("S2", r#"{"name":"S2","subjects":["orders.new"]}"#).expect(&err(10065)),
                create("S3", r#"{"name":"S3","subjects":["orders.>"]}"#).expect(&err(10065)),
                create("S4", r#"{"name":"S4","subjects":["orders"]}"#).expect("did_create"),
            ],
        ),
        scenario(
            "create_name_checks",
            vec![
                create("E", r#"{"name":"E.x"}"#).expect(&err(10056)),
                create("E", "").expect(&err(10056)),
                create("E", "{}").expect(&err(10056)),
                create("a/b", r#"{"name":"a/b"}"#).expect(&err(10128)),
                create("*", r#"{"name":"*"}"#).expect(&err(10052)),
                create(&"n".repeat(256), &format!(r#"{{"name":"{}"}}"#, "n".repeat(256)))
                    .expect("maximum allowed is 255"),
            ],
        ),
        scenario(
            "create_request_decoding",
            vec![
                create("E", r#"{"name":"E","bogus":1}"#).expect("unknown field"),
                create("E", r#"{"name":"E","placement":{"foo":1}}"#).expect("unknown field"),
                create("E", r#"{"name":"E","retention":"foo"}"#).expect("can not unmarshal"),
                create("E", r#"{"name":"E","compression":"zz"}"#).expect("unknown compression"),
                create("E", r#"{"name":"E","max_msgs":"x"}"#).expect("cannot unmarshal string"),
                create("E", r#"{"name":"E","max_age":1.5}"#).expect("time.Duration"),
                create("E", r#"{"name":"E","max_msg_size":9999999999}"#).expect("int32"),
                create("E", "[]").expect("Go value of type"),
                create("E", r#"{"name":"E","#).expect("unexpected EOF"),
                create("E", "xx").expect("invalid character"),
                create("E", r#"{"name":"E"}{"x":1}"#).expect("unknown field"),
                create("E", r#"{"NAME":"E","Max_Msgs":3}"#).expect("did_create"),
            ],
        ),
        scenario(
            "update_rules",
            vec![
                create("U", r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true}"#),
                create("S1", r#"{"name":"S1"}"#),
                update("U", r#"{"name":"U","subjects":["u.>"],"storage":"memory","deny_delete":true,"allow_msg_ttl":true}"#).expect("storage type"),
                update("U", r#"{"name":"U","subjects":["u.>"],"retention":"workqueue","deny_delete":true,"allow_msg_ttl":true}"#).expect("workqueue"),
                update("U", r#"{"name":"U","subjects":["u.>"]}"#).expect("deny message deletes"),
                update("U", r#"{"name":"U","subjects":["u.>"],"deny_delete":true}"#).expect("message TTL status"),
                update("U", r#"{"name":"U","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true,"num_replicas":3}"#).expect(&err(10074)),
                update("U", r#"{"name":"X","subjects":["u.>"],"deny_delete":true,"allow_msg_ttl":true}"#).expect(&err(10056)),
                update("U", r#"{"name":"U","subjects":["u.>","S1"],"deny_delete":true,"allow_msg_ttl":true}"#).expect(&err(10065)),
                update("U", r#"{"name":"U","subjects":["x y"]}"#).expect("invalid subject"),
                update("U", "").expect(&err(10052)),
                update("NF", r#"{"name":"NF"}"#).expect(&err(10059)),
                update("U", r#"{"name":"U","subjects":["u.>","v"],"retention":"interest","deny_delete":true,"allow_msg_ttl":true,"max_msgs":10}"#).expect("stream_update_response"),
                update("U", r#"{"name":"U","subjects":["u.>","v"],"retention":"interest","deny_delete":true,"allow_msg_ttl":true,"max_msgs":10,"sealed":true}"#).expect("\"sealed\":true"),
                update("U", r#"{"name":"U","subjects":["u.>","v"],"retention":"interest","deny_delete":true,"deny_purge":true,"allow_msg_ttl":true,"max_msgs":10}"#).expect("unseal"),
                publish("u.x", "after seal").expect(&err(10109)),
            ],
        ),
        scenario(
            "info_delete_and_details",
            vec![
                create("S1", r#"{"name":"S1","subjects":["s.>"]}"#),
                publish("s.a", "1"),
                publish("s.b", "2"),
                publish("s.a", "3"),
                req("$JS.API.STREAM.MSG.DELETE.S1", r#"{"seq":2}"#),
                info("S1", "").expect("\"num_deleted\":1"),
                info("S1", r#"{"subjects_filter":">","deleted_details":true}"#).expect("\"deleted\":[2]"),
                info("S1", r#"{"subjects_filter":"s.a"}"#),
                info("S1", r#"{"bogus":true}"#).expect(&err(10025)),
                info("NOPE", "").expect(&err(10059)),
                req("$JS.API.STREAM.DELETE.S1", "").expect("\"success\":true"),
                req("$JS.API.STREAM.DELETE.S1", "").expect(&err(10059)),
            ],
        ),
        scenario(
            "names_and_list_with_paging_and_filter",
            vec![
                req("$JS.API.STREAM.NAMES", "").expect("\"streams\":null"),
                req("$JS.API.STREAM.LIST", "").expect("\"streams\":[]"),
                create("B", r#"{"name":"B","subjects":["b.>"]}"#),
                create("A", r#"{"name":"A","subjects":["a.>"]}"#),
                create("C", r#"{"name":"C","subjects":["c.x"]}"#),
                req("$JS.API.STREAM.NAMES", "").expect("[\"A\",\"B\",\"C\"]"),
                req("$JS.API.STREAM.NAMES", r#"{"offset":1}"#),
                req("$JS.API.STREAM.NAMES", r#"{"offset":5}"#),
                req("$JS.API.STREAM.NAMES", r#"{"subject":"b.foo"}"#).expect("[\"B\"]"),
                req("$JS.API.STREAM.NAMES", r#"{"subject":"*.x"}"#),
                req("$JS.API.STREAM.NAMES", r#"{"bogus":1}"#).expect(&err(10025)),
                req("$JS.API.STREAM.LIST", "").expect("\"total\":3"),
                req("$JS.API.STREAM.LIST", r#"{"offset":2}"#),
                req("$JS.API.STREAM.LIST", r#"{"subject":"a.>"}"#),
            ],
        ),
        scenario(
            "purge_variants",
            vec![
                create("P", r#"{"name":"P","subjects":["p.*"]}"#),
                publish("p.a", "1"),
                publish("p.b", "2"),
                publish("p.a", "3"),
                publish("p.b", "4"),
                publish("p.a", "5"),
                publish("p.a", "6"),
                req("$JS.API.STREAM.PURGE.P", r#"{"filter":"p.b"}"#).expect("\"purged\":2"),
                req("$JS.API.STREAM.PURGE.P", r#"{"seq":3}"#).expect("\"purged\":1"),
                req("$JS.API.STREAM.PURGE.P", r#"{"keep":1}"#).expect("\"purged\":2"),
                req("$JS.API.STREAM.PURGE.P", r#"{"seq":3,"keep":1}"#),
                req("$JS.API.STREAM.PURGE.P", r#"{"bogus":1}"#).expect(&err(10025)),
                info("P", ""),
                req("$JS.API.STREAM.PURGE.P", "").expect("\"purged\":1"),
                info("P", "").expect("\"first_seq\":7"),
                req("$JS.API.STREAM.PURGE.NOPE", "").expect(&err(10059)),
                create("DP", r#"{"name":"DP","deny_purge":true}"#),
                req("$JS.API.STREAM.PURGE.DP", ""),
            ],
        ),
        scenario(
            "msg_get_and_delete",
            vec![
                create("G", r#"{"name":"G","subjects":["g.*"]}"#),
                publish("g.a", "1"),
                publish("g.b", "2").hdr("X-Key", "v"),
                publish("g.a", "3"),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"seq":1}"#).expect("\"data\":\"MQ==\""),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"seq":2}"#).expect("\"hdrs\""),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"seq":99}"#).expect(&err(10037)),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"last_by_subj":"g.a"}"#).expect("\"seq\":3"),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"next_by_subj":"g.a","seq":2}"#).expect("\"seq\":3"),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"last_by_subj":"g.zzz"}"#).expect(&err(10037)),
                req("$JS.API.STREAM.MSG.GET.G", ""),
                req("$JS.API.STREAM.MSG.GET.G", r#"{"bogus":1}"#).expect(&err(10025)),
                req("$JS.API.STREAM.MSG.GET.NOPE", r#"{"seq":1}"#).expect(&err(10059)),
                req("$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":1}"#).expect("\"success\":true"),
                req("$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":1}"#).expect(&err(10057)),
                req("$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":2,"no_erase":true}"#).expect("\"success\":true"),
                req("$JS.API.STREAM.MSG.DELETE.G", r#"{"seq":99}"#),
                req("$JS.API.STREAM.MSG.DELETE.G", ""),
                info("G", ""),
                create("DD", r#"{"name":"DD","deny_delete":true}"#),
                publish("DD", "x"),
                req("$JS.API.STREAM.MSG.DELETE.DD", r#"{"seq":1}"#),
            ],
        ),
        scenario(
            "direct_get",
            vec![
                create("D", r#"{"name":"D","subjects":["d.>"],"allow_direct":true}"#),
                publish("d.a", "1"),
                publish("d.b", "2").hdr("X-Key", "v"),
                publish("d.a", "3"),
                req("$JS.API.DIRECT.GET.D", r#"{"seq":1}"#).expect("Nats-Sequence"),
                req("$JS.API.DIRECT.GET.D", r#"{"seq":2}"#).expect("X-Key"),
                req("$JS.API.DIRECT.GET.D", r#"{"seq":99}"#).expect("404"),
                req("$JS.API.DIRECT.GET.D", r#"{"last_by_subj":"d.a"}"#),
                req("$JS.API.DIRECT.GET.D", r#"{"next_by_subj":"d.a","seq":2}"#),
                req("$JS.API.DIRECT.GET.D.d.b", ""),
                req("$JS.API.DIRECT.GET.D.d.zzz", "").expect("404"),
                req("$JS.API.DIRECT.GET.D", "").expect("408"),
                req("$JS.API.DIRECT.GET.D", r#"{"bogus":1}"#).expect("408"),
                req("$JS.API.DIRECT.GET.D", "{").expect("408"),
                req("$JS.API.DIRECT.GET.D", r#"{"seq":1,"last_by_subj":"d.a"}"#).expect("408"),
                create("ND", r#"{"name":"ND","subjects":["nd"]}"#),
                req("$JS.API.DIRECT.GET.ND", r#"{"seq":1}"#).expect("no_responders"),
            ],
        ),
        scenario(
            "publish_acks_and_expectations",
            vec![
                create("S1", r#"{"name":"S1","subjects":["s.>"]}"#),
                publish("s.a", "1").expect("\"seq\":1"),
                publish("s.a", "2").hdr("Nats-Msg-Id", "m1"),
                publish("s.a", "2").hdr("Nats-Msg-Id", "m1").expect("\"duplicate\":true"),
                publish("s.a", "x").hdr("Nats-Expected-Stream", "X").expect(&err(10060)),
                publish("s.a", "x").hdr("Nats-Expected-Stream", "S1").expect("\"seq\":3"),
                publish("s.a", "x").hdr("Nats-Expected-Last-Sequence", "1").expect(&err(10071)),
                publish("s.a", "x").hdr("Nats-Expected-Last-Sequence", "3").expect("\"seq\":4"),
                publish("s.b", "x").hdr("Nats-Expected-Last-Subject-Sequence", "7").expect(&err(10071)),
                publish("s.b", "x").hdr("Nats-Expected-Last-Subject-Sequence", "0").expect("\"seq\":5"),
                publish("s.b", "x").hdr("Nats-Expected-Last-Subject-Sequence", "5").expect("\"seq\":6"),
                publish("s.a", "x").hdr("Nats-Expected-Last-Msg-Id", "zz").expect(&err(10070)),
                publish("s.a", "x").hdr("Nats-Expected-Last-Msg-Id", "m1").hdr("Nats-Msg-Id", "m2"),
                publish("s.a", "x").hdr("Nats-TTL", "5s").expect(&err(10166)),
                publish("s.a", "x").hdr("Nats-Rollup", "sub").expect(&err(10111)),
                publish("s.a", "x").hdr("Nats-Expected-Last-Sequence", "abc"),
                publish("nostream", "x").expect("no_responders"),
                info("S1", ""),
            ],
        ),
        scenario(
            "publish_rollup_ttl_and_limits",
            vec![
                create("R", r#"{"name":"R","subjects":["r.*"],"allow_rollup_hdrs":true,"allow_msg_ttl":true,"max_msg_size":60}"#),
                publish("r.a", "1"),
                publish("r.a", "2"),
                publish("r.b", "3"),
                publish("r.a", "4").hdr("Nats-Rollup", "sub").expect("\"seq\":4"),
                info("R", "").expect("\"messages\":2"),
                publish("r.b", "5").hdr("Nats-Rollup", "all").expect("\"seq\":5"),
                info("R", "").expect("\"messages\":1"),
                publish("r.a", "x").hdr("Nats-Rollup", "bogus"),
                publish("r.a", "x").hdr("Nats-TTL", "1h").expect("\"seq\""),
                publish("r.a", "x").hdr("Nats-TTL", "never"),
                publish("r.a", "x").hdr("Nats-TTL", "bogus").expect(&err(10165)),
                publish("r.a", &"x".repeat(61)).expect(&err(10054)),
                publish("r.a", &"x".repeat(60)).expect("\"seq\""),
                create("N", r#"{"name":"N","subjects":["n"],"max_msgs":1,"discard":"new"}"#),
                publish("n", "1"),
                publish("n", "2"),
                create("NB", r#"{"name":"NB","subjects":["nb"],"max_bytes":60,"discard":"new"}"#),
                publish("nb", "1"),
                publish("nb", "2"),
                create("NP", r#"{"name":"NP","subjects":["np.*"],"max_msgs_per_subject":1,"discard":"new","discard_new_per_subject":true}"#),
                publish("np.a", "1"),
                publish("np.a", "2"),
                publish("np.b", "3"),
            ],
        ),
        scenario(
            "unknown_api_requests",
            vec![
                req("$JS.API.STREAM.FOO.S1", "{}").silent(),
                req("$JS.API.BOGUS", "").silent(),
                req("$JS.API.STREAM.INFO", "").silent(),
            ],
        ),
    ];
    // One create per refused config, as nats-server reports them.
    let refused = [
        r#"{"name":"E","subjects":["a b"]}"#,
        r#"{"name":"E","subjects":["a","a"]}"#,
        r#"{"name":"E","subjects":["a.*","a.b"]}"#,
        r#"{"name":"E","subjects":[">"]}"#,
        r#"{"name":"E","subjects":["$JS.API.>"]}"#,
        r#"{"name":"E","subjects":["$SYS.x"]}"#,
        r#"{"name":"E","num_replicas":3}"#,
        r#"{"name":"E","num_replicas":6}"#,
        r#"{"name":"E","num_replicas":-1}"#,
        r#"{"name":"E","max_age":-1}"#,
        r#"{"name":"E","max_age":5}"#,
        r#"{"name":"E","duplicate_window":5}"#,
        r#"{"name":"E","max_age":60000000000,"duplicate_window":120000000000}"#,
        r#"{"name":"E","deny_purge":true,"allow_rollup_hdrs":true}"#,
        r#"{"name":"E","discard_new_per_subject":true}"#,
        r#"{"name":"E","subject_delete_marker_ttl":5}"#,
        r#"{"name":"E","sealed":true}"#,
        r#"{"name":"E","mirror_direct":true}"#,
        r#"{"name":"E","placement":{"preferred":"x"}}"#,
        r#"{"name":"E","allow_msg_counter":true,"discard":"new"}"#,
        r#"{"name":"E","persist_mode":"async","storage":"memory"}"#,
        r#"{"name":"E","max_msgs":-5,"pedantic":true}"#,
        r#"{"name":"E","max_age":1000000000,"pedantic":true}"#,
        r#"{"name":"E","storage":"memory","max_bytes":99999999999999}"#,
    ];
    all.push(scenario(
        "create_refused_configs",
        refused
            .iter()
            .map(|body| create("E", body).expect("\"error\""))
            .collect(),
    ));
    all
}

/// What one server answered to one step, as JSON: status, description, headers (sorted),
/// and the body (parsed JSON, or text), or `{"no_responders":true}` / `{"timeout":true}`.
async fn send(client: &async_nats::Client, step: &Step) -> Value {
    let mut headers = HeaderMap::new();
    for (name, value) in &step.headers {
        headers.insert(name.as_str(), value.as_str());
    }
    let payload = step.payload.clone().into_bytes().into();
    let request = client.request_with_headers(step.subject.clone(), headers, payload);
    let wait = if step.silent { SILENCE } else { WAIT };
    let Ok(result) = tokio::time::timeout(wait, request).await else {
        return json!({"timeout": true});
    };
    let message = match result {
        Ok(message) => message,
        Err(error) => {
            return match error.kind() {
                RequestErrorKind::NoResponders => json!({"no_responders": true}),
                RequestErrorKind::TimedOut => json!({"timeout": true}),
                other => json!({"request_error": format!("{other:?}")}),
            };
        }
    };
    let mut reply = serde_json::Map::new();
    if let Some(status) = message.status {
        reply.insert("status".into(), json!(status.as_u16()));
    }
    if let Some(description) = &message.description {
        reply.insert("description".into(), json!(description));
    }
    if let Some(headers) = &message.headers {
        let mut sorted: Vec<(String, Vec<String>)> = headers
            .iter()
            .map(|(name, values)| {
                let name = name.to_string();
                (
                    name,
                    values.iter().map(|v| v.as_str().to_string()).collect(),
                )
            })
            .collect();
        sorted.sort();
        if !sorted.is_empty() {
            let map: serde_json::Map<String, Value> =
                sorted.into_iter().map(|(k, v)| (k, json!(v))).collect();
            reply.insert("headers".into(), Value::Object(map));
        }
    }
    let text = String::from_utf8_lossy(&message.payload).into_owned();
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    reply.insert("body".into(), body);
    Value::Object(reply)
}

/// Deletes every stream, so each scenario starts from an empty account.
async fn reset(client: &async_nats::Client) -> Result<(), String> {
    let names = send(client, &req("$JS.API.STREAM.NAMES", "")).await;
    let names = names["body"]["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for name in names {
        let name = name.as_str().unwrap_or_default();
        let reply = send(client, &req(&format!("$JS.API.STREAM.DELETE.{name}"), "")).await;
        if reply["body"]["success"] != json!(true) {
            return Err(format!("could not delete stream {name}: {reply}"));
        }
    }
    Ok(())
}

/// Replaces per-server values by placeholders, keeping the keys.
fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if TIME_KEYS.contains(&key.as_str()) {
                    if inner.as_str() != Some(ZERO_TIME) {
                        *inner = json!("<time>");
                    }
                } else if SERVER_KEYS.contains(&key.as_str()) {
                    *inner = json!("<server>");
                } else if key == "api" && inner.get("total").is_some() {
                    for counter in ["total", "errors", "inflight"] {
                        if let Some(n) = inner.get_mut(counter) {
                            *n = json!("<n>");
                        }
                    }
                } else if key == "_nats.ver" {
                    *inner = json!("<version>");
                } else if key == "Nats-Time-Stamp" {
                    *inner = json!(["<time>"]);
                } else {
                    mask(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Differences between two masked replies, one line each, with the JSON path.
fn diff(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for key in l.keys().chain(r.keys().filter(|k| !l.contains_key(*k))) {
                let (a, b) = (l.get(key), r.get(key));
                let sub = format!("{path}/{key}");
                match (a, b) {
                    (Some(a), Some(b)) => diff(&sub, a, b, out),
                    _ => out.push(format!("{sub}: {} vs {}", show(a), show(b))),
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

async fn connect(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .request_timeout(Some(WAIT))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

#[tokio::test]
async fn jetstream_replies_match_nats_server() {
    let Some(bin) = reference::latest_binary_or_skip("JetStream differential") else {
        return;
    };
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = ServerCommand::new(&bin)
        .jetstream(reference_dir.path())
        .start()
        .await
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let (other_url, _natrium, _second) = match start_natrium_js(other_dir.path()).await {
        Some((url, guard)) => (url, Some(guard), None),
        None => {
            let second = ServerCommand::new(&bin)
                .jetstream(other_dir.path())
                .start()
                .await
                .unwrap();
            (second.client_url(), None, Some(second))
        }
    };
    let other_name = if _natrium.is_some() {
        "natrium"
    } else {
        "second nats-server"
    };
    let ours = connect(&reference.client_url()).await;
    let theirs = connect(&other_url).await;
    let save_dir = std::env::var_os("NATRIUM_JS_REPLIES_DIR").map(std::path::PathBuf::from);

    let mut failures = Vec::new();
    for scenario in scenarios() {
        reset(&ours).await.unwrap();
        reset(&theirs).await.unwrap();
        let mut transcript = Vec::new();
        for (i, step) in scenario.steps.iter().enumerate() {
            let reference_reply = send(&ours, step).await;
            let other_reply = send(&theirs, step).await;
            let raw = reference_reply.to_string();
            let label = format!(
                "{} step {i} ({} {:?})",
                scenario.name, step.subject, step.payload
            );
            if let Some(expect) = &step.expect
                && !raw.contains(expect.as_str())
            {
                failures.push(format!("{label}: reference reply lacks {expect:?}: {raw}"));
            }
            let (mut a, mut b) = (reference_reply.clone(), other_reply);
            mask(&mut a);
            mask(&mut b);
            let mut diffs = Vec::new();
            diff("", &a, &b, &mut diffs);
            for d in diffs {
                failures.push(format!("{label}: nats-server vs {other_name}: {d}"));
            }
            transcript.push(json!({
                "subject": step.subject,
                "headers": step.headers,
                "payload": step.payload,
                "reply": reference_reply,
            }));
        }
        if let Some(dir) = &save_dir {
            std::fs::create_dir_all(dir).unwrap();
            let text = serde_json::to_string_pretty(&transcript).unwrap();
            std::fs::write(dir.join(format!("{}.json", scenario.name)), text).unwrap();
        }
    }
    reference.shutdown().await;
    if !failures.is_empty() {
        let mut report = String::new();
        for failure in &failures {
            let _ = writeln!(report, "{failure}");
        }
        panic!("{} differences:\n{report}", failures.len());
    }
}

#[test]
fn masking_keeps_keys_and_deterministic_values() {
    let mut reply = json!({
        "created": "2026-12-05T09:07:30.971180307Z",
        "state": {"first_ts": ZERO_TIME, "last_ts": "2026-12-05T09:07:31Z", "messages": 2},
        "cluster": {"leader": "NABC"},
        "api": {"level": 5, "total": 3, "errors": 1},
        "config": {"metadata": {"_nats.ver": "2.15.1", "_nats.req.level": "0"}},
        "headers": {"Nats-Time-Stamp": ["2026-12-05T09:07:31Z"], "Nats-Sequence": ["1"]},
    });
    mask(&mut reply);
    assert_eq!(
        reply,
        json!({
            "created": "<time>",
            "state": {"first_ts": ZERO_TIME, "last_ts": "<time>", "messages": 2},
            "cluster": "<server>",
            "api": {"level": 5, "total": "<n>", "errors": "<n>"},
            "config": {"metadata": {"_nats.ver": "<version>", "_nats.req.level": "0"}},
            "headers": {"Nats-Time-Stamp": ["<time>"], "Nats-Sequence": ["1"]},
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
