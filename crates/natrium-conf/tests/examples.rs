//! Realistic configuration files (tests/data), covering the constructs nats-server's own
//! test configurations use, read end to end from disk.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use natrium_conf::{Map, Value, ValueKind, parse_file};
use support::{get, int, kind, s};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    parse_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

fn map<'a>(m: &'a Map, key: &str) -> &'a Map {
    get(m, key).as_map().unwrap()
}

#[test]
fn server_options() {
    let doc = load("server.conf");
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "server_name"), &s("natrium_example"));
    assert_eq!(kind(map(m, "server_metadata"), "region"), &s("eu-west"));
    assert_eq!(kind(m, "listen"), &s("127.0.0.1:4333"));
    assert_eq!(kind(m, "http"), &int(8333));
    assert_eq!(kind(m, "http_base_path"), &s("/monitor"));
    assert_eq!(kind(map(m, "authorization"), "timeout"), &int(2));
    assert_eq!(kind(m, "debug"), &ValueKind::Bool(false));
    assert_eq!(kind(m, "trace"), &ValueKind::Bool(true));
    assert_eq!(kind(m, "remote_syslog"), &s("udp://logs.example.net:514"));
    assert_eq!(get(m, "max_pending").as_size().unwrap(), 32 << 20);
    assert_eq!(get(m, "max_control_line").as_size().unwrap(), 2048);
    assert_eq!(get(m, "max_payload").as_size().unwrap(), 512 << 10);
    assert_eq!(
        get(m, "ping_interval").as_duration().unwrap(),
        Duration::from_secs(45)
    );
    assert_eq!(
        get(m, "write_deadline").as_duration().unwrap(),
        Duration::from_millis(2500)
    );
    assert_eq!(
        get(m, "lame_duck_duration").as_duration().unwrap(),
        Duration::from_secs(90)
    );
    assert_eq!(
        get(m, "connect_error_reports").as_duration().unwrap(),
        Duration::from_secs(3600)
    );
    let positions: Vec<(u32, u32)> = m
        .keys_not_in(&[])
        .iter()
        .take(2)
        .map(|e| (e.key_pos().line, e.key_pos().column))
        .collect();
    assert_eq!(positions, [(3, 1), (5, 1)]);
}

#[test]
fn cluster_with_routes_and_permissions() {
    let doc = load("cluster.conf");
    let m = doc.as_map().unwrap();
    let cluster = map(m, "cluster");
    assert_eq!(kind(cluster, "name"), &s("blue"));
    assert_eq!(kind(cluster, "host"), &s("127.0.0.1"));
    assert_eq!(
        kind(map(cluster, "authorization"), "timeout"),
        &ValueKind::Float(0.75)
    );
    let export = map(map(cluster, "permissions"), "export");
    assert_eq!(strings(get(export, "deny")), ["secret", "internal.>"]);
    assert_eq!(
        strings(get(cluster, "routes")),
        [
            "nats-route://route_user:route_secret@127.0.0.1:4502",
            "nats-route://route_user:route_secret@127.0.0.1:4503"
        ]
    );
    assert_eq!(kind(cluster, "no_advertise"), &ValueKind::Bool(true));
}

#[test]
fn accounts_users_exports_and_imports() {
    let doc = load("accounts.conf");
    let m = doc.as_map().unwrap();
    let accounts = map(m, "accounts");
    let keys: Vec<&str> = accounts.iter().map(|e| e.key()).collect();
    assert_eq!(keys, ["shop", "billing", "audit.team"]);
    let shop = map(accounts, "shop");
    let users = get(shop, "users").as_array().unwrap();
    let bo = users[1].as_map().unwrap();
    let perms = map(bo, "permissions");
    assert_eq!(strings(get(perms, "publish")), ["orders.*"]);
    assert_eq!(kind(map(perms, "subscribe"), "deny"), &s("admin.>"));
    let exports = get(shop, "exports").as_array().unwrap();
    assert_eq!(
        strings(get(exports[1].as_map().unwrap(), "accounts")),
        ["billing", "audit.team"]
    );
    let imports = get(map(accounts, "billing"), "imports").as_array().unwrap();
    let service = map(imports[1].as_map().unwrap(), "service");
    assert_eq!(kind(service, "account"), &s("shop"));
    assert_eq!(kind(m, "no_auth_user"), &s("ann"));
}

#[test]
fn tls_lists_and_block_strings() {
    let doc = load("tls.conf");
    let m = doc.as_map().unwrap();
    let tls = map(m, "tls");
    assert_eq!(kind(tls, "ca_file"), &s("./certs/ca.pem"));
    assert_eq!(kind(tls, "key_file"), &s("./certs/server-key.pem"));
    assert_eq!(get(tls, "cipher_suites").as_array().unwrap().len(), 2);
    assert_eq!(
        strings(get(tls, "curve_preferences")),
        ["CurveP256", "X25519"]
    );
    assert_eq!(get(tls, "timeout").as_f64().unwrap(), 2.5);
    let banner = get(m, "banner").as_str().unwrap();
    assert!(
        banner.starts_with("\n-----BEGIN NOTICE-----\n"),
        "{banner:?}"
    );
    assert!(banner.ends_with("-----END NOTICE-----\n"), "{banner:?}");
}

#[test]
fn gateway_with_an_included_peer_list() {
    let doc = load("gateway.conf");
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "listen"), &s("127.0.0.1:-1"));
    let gateway = map(m, "gateway");
    let keys: Vec<&str> = gateway.iter().map(|e| e.key()).collect();
    assert_eq!(
        keys,
        ["name", "listen", "gateways", "reject_unknown_cluster"]
    );
    let peers = get(gateway, "gateways").as_array().unwrap();
    assert_eq!(
        strings(get(peers[0].as_map().unwrap(), "urls")),
        ["nats://127.0.0.1:7223"]
    );
    let file = peers[1].pos.file.as_deref().unwrap();
    assert!(file.ends_with("gateways.inc"), "{}", file.display());
}

#[test]
fn operator_resolver_and_jetstream_sizes() {
    let doc = load("operator.conf");
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "port"), &int(-1));
    let js = map(m, "jetstream");
    assert_eq!(
        get(js, "max_memory_store").as_size().unwrap(),
        1_000_000_000
    );
    assert_eq!(get(js, "max_file_store").as_size().unwrap(), 10 << 30);
    assert!(
        get(m, "operator")
            .as_str()
            .unwrap()
            .starts_with("eyJhbGciOiJub25lIn0.")
    );
    assert_eq!(kind(m, "resolver"), &s("MEMORY"));
    let preload = map(m, "resolver_preload");
    assert_eq!(preload.len(), 2);
    assert!(preload.contains_key("AAPPACCOUNTPUBLICKEYEXAMPLE00000000000000000000000000000"));
}

#[test]
fn leafnode_remotes_websocket_and_mqtt() {
    let doc = load("leafnodes.conf");
    let m = doc.as_map().unwrap();
    let remotes = get(map(m, "leafnodes"), "remotes").as_array().unwrap();
    assert_eq!(
        strings(get(remotes[0].as_map().unwrap(), "urls")),
        [
            "nats-leaf://leaf:pw@127.0.0.1:7423",
            "nats-leaf://127.0.0.1:7424"
        ]
    );
    assert_eq!(
        kind(remotes[1].as_map().unwrap(), "url"),
        &s("tls://hub.example.net:7422")
    );
    let ws = map(m, "websocket");
    assert_eq!(kind(ws, "compression"), &ValueKind::Bool(true));
    assert_eq!(
        get(map(m, "mqtt"), "ack_wait").as_duration().unwrap(),
        Duration::from_secs(60)
    );
}

#[test]
fn json_style_document() {
    let doc = load("json.conf");
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "port"), &int(4227));
    assert_eq!(
        get(m, "write_deadline").as_duration().unwrap(),
        Duration::from_secs(3600)
    );
    assert_eq!(get(m, "max_payload").as_size().unwrap(), 1 << 20);
    assert_eq!(kind(m, "debug"), &ValueKind::Bool(true));
    assert_eq!(
        get(map(m, "cluster"), "routes").as_array().unwrap().len(),
        2
    );
}

#[test]
fn nested_includes_with_variables_and_bcrypt_hashes() {
    let doc = load("users/main.conf");
    let m = doc.as_map().unwrap();
    let auth = map(m, "authorization");
    let users = get(auth, "users").as_array().unwrap();
    assert_eq!(
        kind(users[0].as_map().unwrap(), "password"),
        &s("$2a$11$natriumexamplehashvalueXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
    );
    assert_eq!(
        kind(users[1].as_map().unwrap(), "password"),
        &s("plain-text-for-testing")
    );
    assert_eq!(kind(auth, "timeout"), &ValueKind::Float(0.5));
    // The password variables are used, so they are not unknown fields.
    let unknown: Vec<&str> = auth
        .keys_not_in(&["users", "timeout"])
        .iter()
        .map(|e| e.key())
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
}
