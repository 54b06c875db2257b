//! The INFO line a client receives on connect.
//!
//! Field set and order follow nats-server 2.9, so clients and byte-level comparisons see the
//! same shape: `INFO {...} \r\n` (note the space before CR LF, as nats-server sends it).

use serde::Serialize;

/// The version natrium-server reports. Clients gate features on it, so it follows the
/// nats-server release whose behaviour is implemented.
pub const VERSION: &str = "2.9.10";

/// Protocol level: 1 adds `echo` to CONNECT.
pub const PROTO: u8 = 1;

/// The per-server part of INFO, built once at start.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub host: String,
    pub port: u16,
    /// JetStream is enabled (`"jetstream":true`).
    pub jetstream: bool,
    /// The JetStream domain (`"domain"`), empty for none.
    pub domain: String,
}

/// The part of INFO a reload can change, taken from the settings in force when the INFO is
/// sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Advertised {
    /// Clients must authenticate (not announced when `no_auth_user` lets them in anyway,
    /// as nats-server does).
    pub auth_required: bool,
    /// Clients must upgrade to TLS after this INFO.
    pub tls_required: bool,
    /// Clients must present a certificate the server verifies.
    pub tls_verify: bool,
    /// Clients may upgrade to TLS (`allow_non_tls`).
    pub tls_available: bool,
    pub max_payload: u32,
    /// Some users log in with an nkey: every INFO carries a nonce for them to sign.
    pub nonce_required: bool,
}

#[derive(Serialize)]
struct InfoJson<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u8,
    go: &'a str,
    host: &'a str,
    port: u16,
    headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_available: bool,
    max_payload: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    jetstream: bool,
    client_id: u64,
    client_ip: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ldm: bool,
}

impl ServerInfo {
    /// The INFO line for one client, with the nonce it must sign when nkey users exist.
    pub(crate) fn line_for(
        &self,
        client_id: u64,
        client_ip: &str,
        adv: &Advertised,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        self.line(client_id, client_ip, adv, nonce, false)
    }

    /// The INFO line announcing lame-duck mode (`"ldm":true`) to one client.
    pub(crate) fn ldm_line_for(
        &self,
        client_id: u64,
        client_ip: &str,
        adv: &Advertised,
    ) -> Vec<u8> {
        self.line(client_id, client_ip, adv, None, true)
    }

    fn line(
        &self,
        client_id: u64,
        client_ip: &str,
        adv: &Advertised,
        nonce: Option<&str>,
        ldm: bool,
    ) -> Vec<u8> {
        let json = InfoJson {
            server_id: &self.server_id,
            server_name: &self.server_name,
            version: VERSION,
            proto: PROTO,
            // nats-server reports its Go toolchain here; we report ours.
            go: concat!("rust-", env!("CARGO_PKG_RUST_VERSION")),
            host: &self.host,
            port: self.port,
            headers: true,
            auth_required: adv.auth_required,
            tls_required: adv.tls_required,
            tls_verify: adv.tls_verify,
            tls_available: adv.tls_available,
            max_payload: adv.max_payload,
            jetstream: self.jetstream,
            client_id,
            client_ip,
            nonce,
            domain: &self.domain,
            ldm,
        };
        let mut line = b"INFO ".to_vec();
        // Serializing plain strings and numbers into a Vec cannot fail.
        serde_json::to_writer(&mut line, &json).unwrap_or_default();
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// A server id in nats-server's shape: 56 characters of base32, starting with `N`
/// (nats-server uses an nkey public key; clients only treat it as an opaque id).
pub(crate) fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 1..56 {
        id.push(ALPHABET[fastrand::usize(..ALPHABET.len())] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_has_nats_server_field_order() {
        let info = ServerInfo {
            server_id: "NABC".into(),
            server_name: "n1".into(),
            host: "127.0.0.1".into(),
            port: 4222,
            jetstream: false,
            domain: String::new(),
        };
        let adv = Advertised {
            max_payload: 1048576,
            ..Advertised::default()
        };
        let line = String::from_utf8(info.line_for(7, "127.0.0.1", &adv, None)).expect("utf8");
        let expected_prefix =
            r#"INFO {"server_id":"NABC","server_name":"n1","version":"2.9.10","proto":1,"go":"#;
        assert!(line.starts_with(expected_prefix), "{line}");
        let expected_suffix = r#""host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576,"client_id":7,"client_ip":"127.0.0.1"}"#;
        assert!(line.ends_with(&format!("{expected_suffix} \r\n")), "{line}");
        assert!(!line.contains("auth_required"));
    }

    #[test]
    fn the_jetstream_domain_follows_the_nonce() {
        // nats-server 2.15 with `jetstream { domain: hub }`:
        // `..."client_ip":"127.0.0.1","domain":"hub",...`.
        let info = ServerInfo {
            server_id: "N".into(),
            server_name: "N".into(),
            host: "0.0.0.0".into(),
            port: 1,
            jetstream: true,
            domain: "hub".into(),
        };
        let adv = Advertised {
            max_payload: 10,
            ..Advertised::default()
        };
        let line = String::from_utf8(info.line_for(1, "::1", &adv, Some("n0nce"))).expect("utf8");
        assert!(
            line.contains(r#""client_ip":"::1","nonce":"n0nce","domain":"hub"}"#),
            "{line}"
        );
        let line = String::from_utf8(info.ldm_line_for(1, "::1", &adv)).expect("utf8");
        assert!(line.contains(r#""domain":"hub","ldm":true}"#), "{line}");
    }

    #[test]
    fn auth_required_sits_between_headers_and_max_payload() {
        let info = ServerInfo {
            server_id: "N".into(),
            server_name: "N".into(),
            host: "0.0.0.0".into(),
            port: 1,
            jetstream: false,
            domain: String::new(),
        };
        let adv = Advertised {
            auth_required: true,
            max_payload: 10,
            ..Advertised::default()
        };
        let line = String::from_utf8(info.line_for(1, "::1", &adv, Some("n0nce"))).expect("utf8");
        // The nonce follows client_ip, as in nats-server.
        assert!(
            line.contains(r#""client_ip":"::1","nonce":"n0nce"}"#),
            "{line}"
        );
        assert!(
            line.contains(r#""headers":true,"auth_required":true,"max_payload":10,"#),
            "{line}"
        );
    }

    #[test]
    fn tls_fields_sit_after_auth_required() {
        let info = ServerInfo {
            server_id: "N".into(),
            server_name: "N".into(),
            host: "0.0.0.0".into(),
            port: 1,
            jetstream: false,
            domain: String::new(),
        };
        let adv = Advertised {
            auth_required: true,
            tls_required: true,
            tls_verify: true,
            tls_available: false,
            max_payload: 10,
            nonce_required: false,
        };
        let line = String::from_utf8(info.line_for(1, "::1", &adv, None)).expect("utf8");
        assert!(
            line.contains(
                r#""headers":true,"auth_required":true,"tls_required":true,"tls_verify":true,"max_payload":10,"#
            ),
            "{line}"
        );
    }

    #[test]
    fn server_id_looks_like_an_nkey() {
        let id = new_server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }
}
