//! The JetStream domain: its name's rules, and the subject mapping that lets clients reach
//! the API as `$JS.<domain>.API.*` as well as `$JS.API.*`.
//!
//! nats-server (2.15, `generateJSMappingTable`) adds to every account with JetStream a
//! mapping from `$JS.<domain>.API.<x>` to the plain API for exactly these `<x>`: `INFO`,
//! `STREAM.>`, `CONSUMER.>`, `DIRECT.>`, `META.>`, `SERVER.>`, `ACCOUNT.>`, and `$KV.>` /
//! `$OBJ.>` to `$KV.>` / `$OBJ.>` themselves (so a client with a domain puts a key by
//! publishing `$JS.<domain>.API.$KV.<bucket>.<key>`). Observed on the reference: a mapped
//! message is seen under its new subject only (a subscriber on `$JS.hub.API.>` does not see
//! `$JS.hub.API.STREAM.NAMES`); anything else under the prefix (`$JS.hub.API.FOO`) stays as
//! it is and, with nobody subscribed to it, gets "no responders". nats-server maps in its
//! parser, before the publish permission check: a user allowed only `$JS.hub.API.>` is
//! refused `$JS.hub.API.INFO` with "Permissions Violation for Publish to \"$JS.API.INFO\"".

/// Why a domain name is refused: nats-server's `validateOptions` texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// `$JS.<domain>.API.>` is not a valid subject (whitespace, an empty token, a lone `>`).
    #[error("invalid domain name: derived {} is not a valid subject", go_quote(.0))]
    InvalidSubject(String),
    /// The name holds `.`, `*`, `>` or whitespace.
    #[error("invalid domain name: may not contain ., * or >")]
    InvalidName,
}

/// Checks a configured domain as nats-server does at startup (an empty name means none).
pub(crate) fn validate(domain: &str) -> Result<(), DomainError> {
    if domain.is_empty() {
        return Ok(());
    }
    let subject = format!("$JS.{domain}.API.>");
    if !natrium_wire::is_valid_subject(subject.as_bytes()) {
        return Err(DomainError::InvalidSubject(subject));
    }
    // nats-server's `isValidName`.
    if domain
        .bytes()
        .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c | b'.' | b'*' | b'>'))
    {
        return Err(DomainError::InvalidName);
    }
    Ok(())
}

/// The prefix a domain's API subjects start with, `$JS.<domain>.API.`; `None` without a
/// domain.
pub(crate) fn api_prefix(domain: Option<&str>) -> Option<Box<[u8]>> {
    domain
        .filter(|d| !d.is_empty())
        .map(|d| format!("$JS.{d}.API.").into_bytes().into_boxed_slice())
}

/// API areas mapped with their `.>` (at least one token must follow).
const MAPPED_AREAS: [&[u8]; 6] = [
    b"STREAM.",
    b"CONSUMER.",
    b"DIRECT.",
    b"META.",
    b"SERVER.",
    b"ACCOUNT.",
];

/// Key-value and object store subjects, mapped onto themselves.
const MAPPED_STORES: [&[u8]; 2] = [b"$KV.", b"$OBJ."];

/// The subject `$JS.<domain>.API.<rest>` is delivered under, given `rest` (what follows the
/// prefix); `None` when nats-server's table does not map it.
pub(crate) fn map_api(rest: &[u8]) -> Option<Vec<u8>> {
    const API: &[u8] = b"$JS.API.";
    let follows = |area: &[u8]| rest.len() > area.len() && rest.starts_with(area);
    if rest == b"INFO" || MAPPED_AREAS.iter().any(|a| follows(a)) {
        let mut mapped = Vec::with_capacity(API.len() + rest.len());
        mapped.extend_from_slice(API);
        mapped.extend_from_slice(rest);
        return Some(mapped);
    }
    MAPPED_STORES
        .iter()
        .any(|s| follows(s))
        .then(|| rest.to_vec())
}

/// Go's `%q` of a string (`strconv.Quote`) for the control characters a subject check can
/// meet; other characters are written as they are.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_refused_with_nats_server_texts() {
        // Observed with `nats-server -c` (2.15.1).
        for (domain, text) in [
            ("hub.x", "invalid domain name: may not contain ., * or >"),
            ("a*", "invalid domain name: may not contain ., * or >"),
            ("*", "invalid domain name: may not contain ., * or >"),
            ("h>b", "invalid domain name: may not contain ., * or >"),
            (
                "a b",
                "invalid domain name: derived \"$JS.a b.API.>\" is not a valid subject",
            ),
            (
                "a\tb",
                "invalid domain name: derived \"$JS.a\\tb.API.>\" is not a valid subject",
            ),
            (
                "a.",
                "invalid domain name: derived \"$JS.a..API.>\" is not a valid subject",
            ),
            (
                ">",
                "invalid domain name: derived \"$JS.>.API.>\" is not a valid subject",
            ),
        ] {
            assert_eq!(
                validate(domain).unwrap_err().to_string(),
                text,
                "{domain:?}"
            );
        }
        for ok in ["", "hub", "ok-1_2", "$x", "HUB"] {
            assert_eq!(validate(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn only_the_reference_table_is_mapped() {
        for (rest, mapped) in [
            ("INFO", Some("$JS.API.INFO")),
            ("STREAM.NAMES", Some("$JS.API.STREAM.NAMES")),
            ("STREAM.CREATE.S", Some("$JS.API.STREAM.CREATE.S")),
            (
                "CONSUMER.MSG.NEXT.S.C",
                Some("$JS.API.CONSUMER.MSG.NEXT.S.C"),
            ),
            ("DIRECT.GET.S", Some("$JS.API.DIRECT.GET.S")),
            ("META.LEADER.STEPDOWN", Some("$JS.API.META.LEADER.STEPDOWN")),
            ("SERVER.REMOVE", Some("$JS.API.SERVER.REMOVE")),
            ("ACCOUNT.PURGE.A", Some("$JS.API.ACCOUNT.PURGE.A")),
            ("$KV.CFG.k", Some("$KV.CFG.k")),
            ("$OBJ.B.C.x", Some("$OBJ.B.C.x")),
            ("FOO", None),
            ("INFO.X", None),
            ("STREAM", None),
            ("STREAM.", None),
            ("$KV", None),
            ("", None),
        ] {
            let got = map_api(rest.as_bytes()).map(|m| String::from_utf8(m).unwrap());
            assert_eq!(got.as_deref(), mapped, "{rest:?}");
        }
    }

    #[test]
    fn the_prefix_is_built_only_for_a_named_domain() {
        assert_eq!(api_prefix(None), None);
        assert_eq!(api_prefix(Some("")), None);
        assert_eq!(
            api_prefix(Some("hub")).as_deref(),
            Some(&b"$JS.hub.API."[..])
        );
    }
}
