//! Subject rules, matching nats-server: the one place every natrium crate takes them from.
//!
//! Subjects are `.`-separated tokens. `*` as a whole token matches one token and `>` as the
//! last token matches one or more; elsewhere both are ordinary characters: `a*b` is a literal
//! token (nats-server's `IsValidSubject`, `IsValidLiteralSubject` and `subjectIsLiteral` only
//! look at one-byte tokens), so it may be subscribed and published to, is matched by `*`, and
//! matches only itself.

/// The token separator.
pub const SEPARATOR: u8 = b'.';
/// The single-token wildcard, as a whole token.
pub const PARTIAL_WILDCARD: &[u8] = b"*";
/// The trailing multi-token wildcard, as a whole token.
pub const FULL_WILDCARD: &[u8] = b">";

/// Splits a subject into its `.`-separated tokens (an empty subject yields one empty token).
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == SEPARATOR)
}

/// Splits `subject` into its first token and the rest after the separator (if any).
///
/// A plain loop: tokens are short, and for short inputs it beats a vectorised search, whose
/// setup costs more than the scan.
#[inline]
pub fn split_first_token(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match subject.iter().position(|&b| b == SEPARATOR) {
        Some(i) => (&subject[..i], Some(&subject[i + 1..])),
        None => (subject, None),
    }
}

/// Whether a valid subscription subject holds wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// Only literal tokens (`a*b` is one): it matches exactly one subject, itself.
    Literal,
    /// At least one whole-token `*` or `>`.
    Wildcard,
}

/// The rule a subject breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject has no bytes at all.
    #[error("subjects must not be empty")]
    Empty,
    /// Two separators in a row, or a separator at either end.
    #[error("subjects must not contain empty tokens")]
    EmptyToken,
    /// `>` followed by more tokens.
    #[error("'>' must be the last token")]
    FullWildcardNotLast,
    /// A space, tab, CR, LF or form feed.
    #[error("subjects must not contain whitespace")]
    Whitespace,
    /// A whole-token `*` or `>` where a literal subject is needed (publishing).
    #[error("wildcards are not allowed when publishing")]
    Wildcard,
}

impl SubjectError {
    /// The rule, in words (the same text as `Display`, without allocating).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "subjects must not be empty",
            Self::EmptyToken => "subjects must not contain empty tokens",
            Self::FullWildcardNotLast => "'>' must be the last token",
            Self::Whitespace => "subjects must not contain whitespace",
            Self::Wildcard => "wildcards are not allowed when publishing",
        }
    }
}

/// The whitespace nats-server refuses inside a subject.
fn is_subject_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Walks the tokens: no empty token, `>` only last (and, with `WHITESPACE`, no whitespace).
fn check<const WHITESPACE: bool>(subject: &[u8]) -> Result<SubjectKind, SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Empty);
    }
    let mut kind = SubjectKind::Literal;
    let mut rest = Some(subject);
    while let Some(remaining) = rest {
        let (token, next) = split_first_token(remaining);
        if token.is_empty() {
            return Err(SubjectError::EmptyToken);
        }
        if token == FULL_WILDCARD {
            if next.is_some() {
                return Err(SubjectError::FullWildcardNotLast);
            }
            kind = SubjectKind::Wildcard;
        } else if token == PARTIAL_WILDCARD {
            kind = SubjectKind::Wildcard;
        } else if WHITESPACE && token.iter().copied().any(is_subject_space) {
            return Err(SubjectError::Whitespace);
        }
        rest = next;
    }
    Ok(kind)
}

/// nats-server's `IsValidSubject`, telling whether the subject holds wildcards: not empty, no
/// empty token, no whitespace, `>` only as the last token.
pub fn check_subject(subject: &[u8]) -> Result<SubjectKind, SubjectError> {
    check::<true>(subject)
}

/// The rule a `SUB` meets in nats-server (its subject index's insert check), telling whether
/// the subject holds wildcards: [`check_subject`] without the whitespace rule.
pub fn check_subscribe_subject(subject: &[u8]) -> Result<SubjectKind, SubjectError> {
    check::<false>(subject)
}

/// nats-server's `IsValidPublishSubject`: a valid subject ([`check_subject`]) without
/// wildcard tokens. `a*b` passes: its `*` is not a token of its own.
pub fn check_publish_subject(subject: &[u8]) -> Result<(), SubjectError> {
    match check_subject(subject)? {
        SubjectKind::Literal => Ok(()),
        SubjectKind::Wildcard => Err(SubjectError::Wildcard),
    }
}

/// nats-server's `IsValidSubject`: not empty, no empty token, no whitespace, `>` only as the
/// last token. Wildcards are allowed; this is the rule for subscription subjects in
/// configuration and permissions.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    check_subject(subject).is_ok()
}

/// The rule a `SUB` actually meets in nats-server 2.9 (its subject index's insert check): no
/// empty token and `>` only as the last token. Unlike [`is_valid_subject`] it lets other
/// whitespace such as a form feed through. When it fails, nats-server answers
/// `-ERR 'Invalid Subject'` and keeps the connection.
pub fn is_valid_subscribe_subject(subject: &[u8]) -> bool {
    check_subscribe_subject(subject).is_ok()
}

/// nats-server's `IsValidLiteralSubject`: no empty token and no `*` or `>` token, so it can be
/// published to (checked on PUB only in pedantic mode: `-ERR 'Invalid Publish Subject'`).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    tokens(subject)
        .all(|token| !token.is_empty() && token != PARTIAL_WILDCARD && token != FULL_WILDCARD)
}

/// Whether a published subject can reach a subscription: non-empty, no empty token.
/// Nothing else is checked (nats-server routes `PUB foo.* 1` outside pedantic mode): `*` and
/// `>` in a published subject are ordinary tokens, matched by wildcard subscriptions and by a
/// literal subscription to the same token.
#[inline]
pub fn is_routable_subject(subject: &[u8]) -> bool {
    // Starting as if after a separator catches a leading one as an empty token.
    let mut previous = SEPARATOR;
    for &byte in subject {
        if byte == SEPARATOR && previous == SEPARATOR {
            return false;
        }
        previous = byte;
    }
    previous != SEPARATOR
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
/// [`is_subset_match`] for a wildcard subject). As in nats-server's index, a subject with an
/// empty token (see [`is_routable_subject`]) is matched by no valid filter.
///
/// One pass over both byte strings: the subject index runs this against every cached subject
/// when a wildcard subscription changes, and permissions at every delivery.
pub fn subject_matches(filter: &[u8], subject: &[u8]) -> bool {
    // `f` and `s` are at the start of a token in each string.
    let (mut f, mut s) = (0, 0);
    loop {
        let token = filter.get(f..).unwrap_or_default();
        let whole = |wildcard: u8| {
            token.first() == Some(&wildcard) && token.get(1).is_none_or(|&b| b == SEPARATOR)
        };
        if whole(b'>') {
            return is_routable_subject(&subject[s.min(subject.len())..]);
        }
        if whole(b'*') {
            if subject.get(s).is_none_or(|&b| b == SEPARATOR) {
                return false;
            }
            f += 1;
            while subject.get(s).is_some_and(|&b| b != SEPARATOR) {
                s += 1;
            }
        } else {
            while let Some(&byte) = filter.get(f).filter(|&&b| b != SEPARATOR) {
                if subject.get(s) != Some(&byte) {
                    return false;
                }
                f += 1;
                s += 1;
            }
            if subject.get(s).is_some_and(|&b| b != SEPARATOR) {
                return false;
            }
        }
        // Both at the end of a token: both end here, or both go on.
        match (f >= filter.len(), s >= subject.len()) {
            (true, true) => return true,
            (false, false) => {
                f += 1;
                s += 1;
            }
            _ => return false,
        }
    }
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
