//! NATS JWTs minted at test time (operator → account → user), as `nsc` would write them:
//! claims signed with the issuer's nkey, and `.creds` files holding a user JWT and its seed.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::{Value, json};

/// Seconds since the Unix epoch, as JWT times are written.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A JWT about `subject` signed by `issuer`, with the `nats` claims and `extra` registered
/// claims (e.g. `exp`).
pub fn jwt(issuer: &KeyPair, subject: &str, nats: Value, extra: Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let mut claims = json!({
        "jti": nuid::next().to_string(),
        "iat": now(),
        "iss": issuer.public_key(),
        "name": "test",
        "sub": subject,
        "nats": nats,
    });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = issuer
        .sign(input.as_bytes())
        .expect("a seeded key pair signs");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// `nats` claims of an operator.
pub fn operator_claims() -> Value {
    json!({"type": "operator", "version": 2})
}

/// `nats` claims of an account without limits, with `extra` keys added (or replaced).
pub fn account_claims(extra: Value) -> Value {
    let mut nats = json!({
        "type": "account", "version": 2,
        "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                   "wildcards": true, "conn": -1, "leaf": -1},
    });
    merge(&mut nats, extra);
    nats
}

/// `nats` claims of a user without limits, with `extra` keys added (or replaced).
pub fn user_claims(extra: Value) -> Value {
    let mut nats = json!({"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1});
    merge(&mut nats, extra);
    nats
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// A `.creds` file's text: the user JWT and the user's seed.
pub fn creds(token: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().expect("a seeded key pair")
    )
}

/// The configuration lines trusting `operator` with a memory resolver preloaded with
/// `accounts` (public key, JWT).
pub fn operator_conf(operator: &KeyPair, accounts: &[(String, String)]) -> String {
    let operator_jwt = jwt(
        operator,
        &operator.public_key(),
        operator_claims(),
        json!({}),
    );
    let mut preload = String::new();
    for (key, token) in accounts {
        preload.push_str(&format!("  {key}: \"{token}\"\n"));
    }
    format!("operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n")
}
