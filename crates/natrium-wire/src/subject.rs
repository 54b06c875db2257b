//! Subject rules, matching nats-server 2.9.
//!
//! Subjects are `.`-separated tokens. `*` as a whole token matches one token and `>` as the
//! last token matches one or more; elsewhere both are ordinary characters (`a*b` is literal).

/// Splits a subject into its `.`-separated tokens (an empty subject yields one empty token).
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == b'.')
}

/// The whitespace nats-server refuses inside a subject.
fn is_subject_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// nats-server's `IsValidSubject`: not empty, no empty token, no whitespace, `>` only as the
/// last token. Wildcards are allowed; this is the rule for subscription subjects in
/// configuration and permissions.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_full_wildcard = false;
    for token in tokens(subject) {
        if token.is_empty() || seen_full_wildcard || token.iter().copied().any(is_subject_space) {
            return false;
        }
        seen_full_wildcard = token == b">";
    }
    true
}

/// The rule a `SUB` actually meets in nats-server 2.9 (its subject index's insert check): no
/// empty token and `>` only as the last token. Unlike [`is_valid_subject`] it lets other
/// whitespace such as a form feed through. When it fails, nats-server answers
/// `-ERR 'Invalid Subject'` and keeps the connection.
pub fn is_valid_subscribe_subject(subject: &[u8]) -> bool {
    let mut seen_full_wildcard = false;
    for token in tokens(subject) {
        if token.is_empty() || seen_full_wildcard {
            return false;
        }
        seen_full_wildcard = token == b">";
    }
    true
}

/// nats-server's `IsValidLiteralSubject`: no empty token and no `*` or `>` token, so it can be
/// published to (checked on PUB only in pedantic mode: `-ERR 'Invalid Publish Subject'`).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    tokens(subject).all(|token| !token.is_empty() && token != b"*" && token != b">")
}

/// Queue group names: nats-server 2.9 puts no syntax rule on them beyond what the parser
/// yields (a non-empty run of non-whitespace bytes); `_sys_` is reserved and refused with a
/// permissions violation.
pub fn is_valid_queue(queue: &[u8]) -> bool {
    !queue.is_empty() && !queue.iter().copied().any(is_subject_space)
}
