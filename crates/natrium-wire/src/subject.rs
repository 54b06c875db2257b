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

/// Whether `subject` is matched by `filter`: `*` in the filter matches exactly one token, `>`
/// one or more trailing tokens, anything else only itself. A literal filter matches only the
/// same subject. `subject` is taken literally (its `*` and `>` are plain tokens here; use
/// [`is_subset_match`] for a wildcard subject).
pub fn subject_matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut subject_tokens = tokens(subject);
    for f in tokens(filter) {
        let Some(s) = subject_tokens.next() else {
            return false;
        };
        match f {
            b">" => return true,
            b"*" => {}
            literal if literal == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Whether some literal subject is matched by both filters (nats-server's `SubjectsCollide`):
/// a JetStream stream's subjects must not overlap another stream's.
pub fn subjects_overlap(a: &[u8], b: &[u8]) -> bool {
    let mut a_tokens = tokens(a);
    let mut b_tokens = tokens(b);
    loop {
        match (a_tokens.next(), b_tokens.next()) {
            (None, None) => return true,
            // A token on one side only: `>` still needs at least one token from the other.
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(x), Some(y)) => {
                if x == b">" || y == b">" {
                    return true;
                }
                if x != b"*" && y != b"*" && x != y {
                    return false;
                }
            }
        }
    }
}

/// Whether every subject matched by `subject` (which may hold wildcards) is also matched by
/// `filter` (nats-server's `subjectIsSubsetMatch`): `foo.bar` and `foo.*` are subsets of
/// `foo.>`; `foo.>` is not a subset of `foo.*`.
pub fn is_subset_match(subject: &[u8], filter: &[u8]) -> bool {
    let mut subject_tokens = tokens(subject);
    for f in tokens(filter) {
        let Some(s) = subject_tokens.next() else {
            return false;
        };
        match f {
            b">" => return true,
            // `*` covers one token of any kind except a `>` that could stand for several.
            b"*" if s != b">" => {}
            literal if literal == s && s != b"*" && s != b">" => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}
