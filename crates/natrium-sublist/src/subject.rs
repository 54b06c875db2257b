//! Subject rules: validating subscription subjects and matching them token by token.
//!
//! A subject is a sequence of non-empty tokens separated by `.`. In a subscription
//! subject the whole token `*` matches exactly one token and the whole token `>`, allowed
//! only last, matches one or more remaining tokens. A token that merely contains `*` or `>`
//! (such as `foo*`) is an ordinary literal token, as in nats-server.

use crate::error::{InvalidSubject, InvalidSubjectReason};

/// The token separator.
pub(crate) const SEPARATOR: u8 = b'.';
/// The single-token wildcard.
pub(crate) const PARTIAL_WILDCARD: &[u8] = b"*";
/// The trailing multi-token wildcard.
pub(crate) const FULL_WILDCARD: &[u8] = b">";

/// Splits `subject` into its first token and the rest after the separator (if any).
///
/// A plain loop: tokens are short, and for short inputs it beats a vectorised search,
/// whose setup costs more than the scan.
#[inline]
pub(crate) fn split_first(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match subject.iter().position(|&b| b == SEPARATOR) {
        Some(i) => (&subject[..i], Some(&subject[i + 1..])),
        None => (subject, None),
    }
}

/// Checks a subscription subject (wildcards allowed) and tells whether it is literal.
pub(crate) fn validate_filter(subject: &[u8]) -> Result<SubjectKind, InvalidSubject> {
    let invalid = |reason| Err(InvalidSubject::new(subject, reason));
    if subject.is_empty() {
        return invalid(InvalidSubjectReason::Empty);
    }
    let mut kind = SubjectKind::Literal;
    let mut rest = Some(subject);
    while let Some(remaining) = rest {
        let (token, next) = split_first(remaining);
        if token.is_empty() {
            return invalid(InvalidSubjectReason::EmptyToken);
        }
        if token == FULL_WILDCARD {
            if next.is_some() {
                return invalid(InvalidSubjectReason::FullWildcardNotLast);
            }
            kind = SubjectKind::Wildcard;
        } else if token == PARTIAL_WILDCARD {
            kind = SubjectKind::Wildcard;
        }
        rest = next;
    }
    Ok(kind)
}

/// Whether a published subject has the shape of a subject: non-empty, no empty tokens.
///
/// Wildcard characters in a published subject are not special; they are matched literally
/// against literal tokens and, like any token, by `*` and `>` subscriptions.
#[inline]
pub(crate) fn is_valid_publish(subject: &[u8]) -> bool {
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

/// Whether a subscription subject contains wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubjectKind {
    /// Only literal tokens: it matches exactly one subject, itself.
    Literal,
    /// At least one `*` or `>` token.
    Wildcard,
}

/// Whether the (valid) subscription subject `filter` matches the (valid) published `subject`.
///
/// One pass over both byte strings: cache invalidation runs this against every cached
/// subject when a wildcard subscription changes, so it must be cheap.
pub(crate) fn filter_matches(filter: &[u8], subject: &[u8]) -> bool {
    // `f` and `s` are at the start of a token in each string.
    let (mut f, mut s) = (0, 0);
    loop {
        let token = filter.get(f..).unwrap_or_default();
        let whole = |wildcard: u8| {
            token.first() == Some(&wildcard) && token.get(1).is_none_or(|&b| b == SEPARATOR)
        };
        if whole(b'>') {
            return s < subject.len();
        }
        if whole(b'*') {
            if s >= subject.len() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_filters() {
        assert_eq!(validate_filter(b"foo"), Ok(SubjectKind::Literal));
        assert_eq!(validate_filter(b"foo.bar.baz"), Ok(SubjectKind::Literal));
        assert_eq!(validate_filter(b"foo*.b>r"), Ok(SubjectKind::Literal));
        assert_eq!(validate_filter(b"foo.*"), Ok(SubjectKind::Wildcard));
        assert_eq!(validate_filter(b">"), Ok(SubjectKind::Wildcard));
        assert_eq!(validate_filter(b"*.>"), Ok(SubjectKind::Wildcard));
        for bad in [
            &b""[..],
            b".",
            b"foo.",
            b".foo",
            b"foo..bar",
            b">.foo",
            b"a.>.b",
        ] {
            assert!(validate_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn validates_publish_subjects() {
        assert!(is_valid_publish(b"foo.bar"));
        assert!(is_valid_publish(b"foo.*"));
        for bad in [&b""[..], b".", b"foo.", b".foo", b"foo..bar"] {
            assert!(!is_valid_publish(bad), "{bad:?}");
        }
    }

    #[test]
    fn matches_filters() {
        assert!(filter_matches(b"foo.bar", b"foo.bar"));
        assert!(!filter_matches(b"foo.bar", b"foo.baz"));
        assert!(!filter_matches(b"foo.bar", b"foo.bar.baz"));
        assert!(!filter_matches(b"foo.bar.baz", b"foo.bar"));
        assert!(filter_matches(b"foo.*", b"foo.bar"));
        assert!(!filter_matches(b"foo.*", b"foo"));
        assert!(!filter_matches(b"foo.*", b"foo.bar.baz"));
        assert!(filter_matches(b"foo.>", b"foo.bar.baz"));
        assert!(!filter_matches(b"foo.>", b"foo"));
        assert!(filter_matches(b">", b"foo"));
        assert!(filter_matches(b"*.*.>", b"a.b.c"));
        assert!(!filter_matches(b"*.*.>", b"a.b"));
        assert!(!filter_matches(b"foo*", b"foobar"));
        assert!(filter_matches(b"foo*", b"foo*"));
        assert!(!filter_matches(b"foo", b"fo"));
        assert!(!filter_matches(b"fo", b"foo"));
        assert!(!filter_matches(b"a.*", b"a.bc.d"));
        assert!(filter_matches(b"*.b", b"aaa.b"));
        assert!(!filter_matches(b"*.b", b"aaa.bb"));
        assert!(filter_matches(b"a.*.c", b"a.*.c"));
        assert!(!filter_matches(b"a.>", b"a"));
        assert!(filter_matches(b"a.>", b"a.>"));
        assert!(!filter_matches(b"a.b>", b"a.b"));
    }

    /// Token by token, the obvious way.
    fn naive(filter: &str, subject: &str) -> bool {
        let (f, s): (Vec<_>, Vec<_>) = (filter.split('.').collect(), subject.split('.').collect());
        match f.iter().position(|&t| t == ">") {
            Some(i) => s.len() > i && f[..i].iter().zip(&s).all(|(f, s)| *f == "*" || f == s),
            None => f.len() == s.len() && f.iter().zip(&s).all(|(f, s)| *f == "*" || f == s),
        }
    }

    proptest::proptest! {
        #[test]
        fn filter_matches_agrees_with_token_by_token(
            filter in proptest::collection::vec(proptest::sample::select(vec!["a", "aa", "b", "*", "a*"]), 1..5),
            last in proptest::sample::select(vec!["a", "*", ">"]),
            subject in proptest::collection::vec(proptest::sample::select(vec!["a", "aa", "b", "*", ">", "a*"]), 1..6),
        ) {
            let filter = format!("{}.{last}", filter.join("."));
            let subject = subject.join(".");
            proptest::prop_assert_eq!(
                filter_matches(filter.as_bytes(), subject.as_bytes()),
                naive(&filter, &subject),
                "{} vs {}", filter, subject
            );
        }
    }
}
