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
#[inline]
pub(crate) fn split_first(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(SEPARATOR, subject) {
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
    !subject.is_empty()
        && subject[0] != SEPARATOR
        && subject[subject.len() - 1] != SEPARATOR
        && memchr::memmem::find(subject, b"..").is_none()
}

/// Whether a subscription subject contains wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubjectKind {
    /// Only literal tokens: it matches exactly one subject, itself.
    Literal,
    /// At least one `*` or `>` token.
    Wildcard,
}

/// Whether the (valid) subscription subject `filter` matches the published `subject`.
pub(crate) fn filter_matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut filter = Some(filter);
    let mut subject = Some(subject);
    loop {
        match (filter, subject) {
            (None, None) => return true,
            (Some(f), Some(s)) => {
                let (ft, fnext) = split_first(f);
                let (st, snext) = split_first(s);
                if ft == FULL_WILDCARD {
                    return true;
                }
                if ft != PARTIAL_WILDCARD && ft != st {
                    return false;
                }
                filter = fnext;
                subject = snext;
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
    }
}
