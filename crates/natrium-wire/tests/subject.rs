//! Subject rules, checked against nats-server 2.9 behaviour and an independent model.

use natrium_wire::{
    SubjectError, SubjectKind, check_publish_subject, check_subject, check_subscribe_subject,
    is_routable_subject, is_subset_match, is_valid_literal_subject, is_valid_queue,
    is_valid_subject, is_valid_subscribe_subject, split_first_token, subject_matches,
    subjects_overlap, tokens,
};
use proptest::prelude::*;

#[test]
fn tokens_split_on_dots() {
    let got: Vec<&[u8]> = tokens(b"a.*.>").collect();
    assert_eq!(got, vec![&b"a"[..], b"*", b">"]);
    assert_eq!(tokens(b"").count(), 1);
    assert_eq!(
        tokens(b"a..b").collect::<Vec<_>>(),
        vec![&b"a"[..], b"", b"b"]
    );
}

#[test]
fn valid_subjects() {
    for s in [
        "foo", "foo.bar", "*", ">", "foo.*", "foo.>", "*.*.>", "a*b", "a>b.c", "foo.*bar",
        "$SYS.>", "_INBOX.x",
    ] {
        assert!(is_valid_subject(s.as_bytes()), "{s:?}");
        assert!(is_valid_subscribe_subject(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn invalid_subjects() {
    for s in [
        "",
        ".",
        "foo.",
        ".foo",
        "foo..bar",
        ">.foo",
        "foo.>.bar",
        "> ",
        "a b",
        "a\tb",
        "a\nb",
        "a\rb",
        "a\x0cb",
        " ",
        "foo. .bar",
    ] {
        assert!(!is_valid_subject(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn subscribe_rule_is_what_sub_enforces_on_the_wire() {
    // Recorded against nats-server 2.9.10: these got -ERR 'Invalid Subject'...
    for s in ["foo..bar", "foo.>.bar", "foo.", ".foo"] {
        assert!(!is_valid_subscribe_subject(s.as_bytes()), "{s:?}");
    }
    // ...and these were accepted, including a form feed that IsValidSubject refuses.
    for s in ["foo.a*b", "a\x0cb", "foo"] {
        assert!(is_valid_subscribe_subject(s.as_bytes()), "{s:?}");
    }
    assert!(!is_valid_subject(b"a\x0cb"));
}

#[test]
fn literal_subjects() {
    for s in ["foo", "foo.bar", "a*b", "a>", "foo.*bar", "a b"] {
        assert!(is_valid_literal_subject(s.as_bytes()), "{s:?}");
    }
    for s in ["", "*", ">", "foo.*", "foo.>", "foo..bar", ".foo", "foo."] {
        assert!(!is_valid_literal_subject(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn queue_names() {
    for q in ["q", "workers", "q.*", ">", "_sys_"] {
        assert!(is_valid_queue(q.as_bytes()), "{q:?}");
    }
    for q in ["", "a b", "a\tb"] {
        assert!(!is_valid_queue(q.as_bytes()), "{q:?}");
    }
}

/// An independent statement of nats-server's `IsValidSubject`, by token position.
fn model_valid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    !s.is_empty()
        && parts.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && !t.contains([' ', '\t', '\n', '\r', '\x0c'])
                && (*t != ">" || i == parts.len() - 1)
        })
}

fn model_literal(s: &str) -> bool {
    s.split('.').all(|t| !t.is_empty() && t != "*" && t != ">")
}

proptest! {
    #[test]
    fn rules_agree_with_the_model(s in "[ab.*> \t\x0c]{0,10}") {
        prop_assert_eq!(is_valid_subject(s.as_bytes()), model_valid(&s));
        prop_assert_eq!(is_valid_literal_subject(s.as_bytes()), model_literal(&s));
        // The SUB rule only differs from IsValidSubject on whitespace.
        let without_space = s.replace([' ', '\t', '\x0c'], "x");
        prop_assert_eq!(
            is_valid_subscribe_subject(without_space.as_bytes()),
            is_valid_subject(without_space.as_bytes())
        );
        // Every valid subject without wildcard tokens is a literal subject.
        if is_valid_subject(s.as_bytes()) && !s.split('.').any(|t| t == "*" || t == ">") {
            prop_assert!(is_valid_literal_subject(s.as_bytes()));
        }
    }

    #[test]
    fn tokens_join_back(s in "[ab.*>]{0,12}") {
        let joined = tokens(s.as_bytes()).collect::<Vec<_>>().join(&b'.');
        prop_assert_eq!(joined, s.as_bytes());
    }
}

#[test]
fn filters_match_subjects() {
    for (filter, subject) in [
        ("foo", "foo"),
        ("foo.bar", "foo.bar"),
        ("*", "foo"),
        ("foo.*", "foo.bar"),
        ("*.bar", "foo.bar"),
        (">", "foo"),
        (">", "foo.bar.baz"),
        ("foo.>", "foo.bar"),
        ("foo.>", "foo.bar.baz"),
        ("foo.*.>", "foo.a.b"),
        ("a*b", "a*b"),
    ] {
        assert!(
            subject_matches(filter.as_bytes(), subject.as_bytes()),
            "{filter} {subject}"
        );
    }
    for (filter, subject) in [
        ("foo", "bar"),
        ("foo", "foo.bar"),
        ("foo.bar", "foo"),
        ("*", "foo.bar"),
        ("foo.*", "foo"),
        ("foo.>", "foo"),
        ("foo.*.>", "foo.a"),
        ("a*b", "axb"),
        ("foo.*", "bar.x"),
    ] {
        assert!(
            !subject_matches(filter.as_bytes(), subject.as_bytes()),
            "{filter} {subject}"
        );
    }
}

#[test]
fn overlapping_filters_as_nats_server_collides_them() {
    for (a, b) in [
        ("foo", "foo"),
        ("foo.*", "foo.bar"),
        ("foo.*", "*.bar"),
        ("foo.>", "foo.bar.baz"),
        (">", "anything.at.all"),
        ("*.>", "a.b"),
        ("foo.*.baz", "foo.>"),
        ("*", "*"),
    ] {
        assert!(subjects_overlap(a.as_bytes(), b.as_bytes()), "{a} {b}");
        assert!(subjects_overlap(b.as_bytes(), a.as_bytes()), "{b} {a}");
    }
    for (a, b) in [
        ("foo", "bar"),
        ("foo.>", "foo"),
        ("foo.*", "foo"),
        ("foo.*", "bar.*"),
        ("*.a", "*.b"),
        ("*", "a.b"),
        ("foo.*.>", "foo.bar"),
    ] {
        assert!(!subjects_overlap(a.as_bytes(), b.as_bytes()), "{a} {b}");
        assert!(!subjects_overlap(b.as_bytes(), a.as_bytes()), "{b} {a}");
    }
}

#[test]
fn subset_matches() {
    for (subject, filter) in [
        ("foo.bar", "foo.bar"),
        ("foo.bar", "foo.*"),
        ("foo.bar", "foo.>"),
        ("foo.*", "foo.>"),
        ("foo.*", "foo.*"),
        ("foo.>", "foo.>"),
        ("foo.*.>", "foo.>"),
        ("foo.>", ">"),
        ("*.*", "*.>"),
    ] {
        assert!(
            is_subset_match(subject.as_bytes(), filter.as_bytes()),
            "{subject} {filter}"
        );
    }
    for (subject, filter) in [
        ("foo.>", "foo.*"),
        ("foo.*", "foo.bar"),
        ("foo", "foo.>"),
        ("foo.bar", "foo"),
        (">", "foo.>"),
        ("*", "foo"),
        ("foo.*.>", "foo.*.*"),
    ] {
        assert!(
            !is_subset_match(subject.as_bytes(), filter.as_bytes()),
            "{subject} {filter}"
        );
    }
}

/// The naive statement of wildcard matching, by recursion over token lists.
fn model_matches(filter: &[&str], subject: &[&str]) -> bool {
    match (filter.split_first(), subject.split_first()) {
        (None, None) => true,
        (Some((&">", _)), Some(_)) => true,
        (Some((f, f_rest)), Some((s, s_rest))) => {
            (*f == "*" || f == s) && model_matches(f_rest, s_rest)
        }
        _ => false,
    }
}

/// Every literal subject of 1..=`max_len` tokens over `a`, `b` and `c` (filters below use only
/// `a` and `b`, so `c` stands for "any other token").
fn literals(max_len: usize) -> Vec<Vec<&'static str>> {
    let mut all: Vec<Vec<&'static str>> = Vec::new();
    let mut layer: Vec<Vec<&'static str>> = vec![Vec::new()];
    for _ in 0..max_len {
        layer = layer
            .iter()
            .flat_map(|prefix| {
                ["a", "b", "c"].into_iter().map(move |t| {
                    let mut next = prefix.clone();
                    next.push(t);
                    next
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}

/// A valid filter of one to four tokens from `a`, `b`, `*`, with `>` possible as the last.
fn filter_strategy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*"]), 1..4),
        any::<bool>(),
    )
        .prop_map(|(mut parts, full)| {
            if full {
                parts.push(">");
            }
            parts.join(".")
        })
}

proptest! {
    #[test]
    fn wildcard_helpers_agree_with_a_naive_model(a in filter_strategy(), b in filter_strategy()) {
        let a_parts: Vec<&str> = a.split('.').collect();
        let b_parts: Vec<&str> = b.split('.').collect();
        // A shortest witness is never longer than the longer filter plus one token.
        let universe = literals(a_parts.len().max(b_parts.len()) + 1);
        for subject in &universe {
            let joined = subject.join(".");
            prop_assert_eq!(
                subject_matches(a.as_bytes(), joined.as_bytes()),
                model_matches(&a_parts, subject),
                "{} {}", a, joined
            );
        }
        let overlap = universe
            .iter()
            .any(|s| model_matches(&a_parts, s) && model_matches(&b_parts, s));
        prop_assert_eq!(subjects_overlap(a.as_bytes(), b.as_bytes()), overlap, "{} {}", a, b);
        let subset = universe
            .iter()
            .all(|s| !model_matches(&a_parts, s) || model_matches(&b_parts, s));
        prop_assert_eq!(is_subset_match(a.as_bytes(), b.as_bytes()), subset, "{} {}", a, b);
    }
}

/// The overlap and subset rules JetStream's stream and consumer checks rely on
/// (nats-server's `SubjectsCollide` and `subjectIsSubsetMatch`).
#[test]
fn overlap_rules_of_stream_subjects() {
    for (a, b, overlap) in [
        ("a.b", "a.b", true),
        ("a.b", "a.c", false),
        ("a.*", "a.b", true),
        ("a.*", "a.b.c", false),
        ("a.>", "a.b.c", true),
        ("a.>", "a", false),
        ("*.b", "a.*", true),
        ("*.b", "a.*.c", false),
        ("a.>", "*.*.c", true),
        (">", "x", true),
        ("a*", "a.b", false),
        ("$JS.API.>", "$JS.>", true),
        ("*.API.x", "$JS.>", true),
    ] {
        assert_eq!(
            subjects_overlap(a.as_bytes(), b.as_bytes()),
            overlap,
            "{a} vs {b}"
        );
        assert_eq!(
            subjects_overlap(b.as_bytes(), a.as_bytes()),
            overlap,
            "{b} vs {a}"
        );
    }
    assert!(is_subset_match(b"$JS.EVENT.foo", b"$JS.EVENT.>"));
    assert!(!is_subset_match(b"$JS.>", b"$JS.EVENT.>"));
    assert!(is_subset_match(b"a.*", b"a.*"));
    assert!(!is_subset_match(b"a.*", b"a.b"));
    assert!(is_subset_match(b"a.b", b"a.*"));
}

/// nats-server's answer for wildcard characters inside a token, observed on the wire with
/// nats-server 2.15.1 (pedantic or not): `SUB a*b 1` is accepted, `PUB a*b 2` is accepted
/// even in pedantic mode, and the message reaches the literal `a*b` subscription, a `*`
/// subscription and a `>` one; `SUB a.b*` then `PUB a.b*` delivers too, and `a*b.*` matches
/// `a*b.c`. In its source, `IsValidSubject`, `IsValidLiteralSubject` and `subjectIsLiteral`
/// treat `*` and `>` as wildcards only when they are a whole token.
#[test]
fn wildcard_characters_inside_a_token_are_literal() {
    for s in ["a*b", "a.b*", "a*b.c", "*a", "a>", ">a.b", "a.*b.>"] {
        assert!(is_valid_subject(s.as_bytes()), "{s:?}");
        assert!(is_valid_subscribe_subject(s.as_bytes()), "{s:?}");
    }
    for s in ["a*b", "a.b*", "a*b.c", "*a", "a>", ">a.b"] {
        assert_eq!(
            check_subject(s.as_bytes()),
            Ok(SubjectKind::Literal),
            "{s:?}"
        );
        assert_eq!(check_publish_subject(s.as_bytes()), Ok(()), "{s:?}");
        assert!(is_valid_literal_subject(s.as_bytes()), "{s:?}");
        assert!(is_routable_subject(s.as_bytes()), "{s:?}");
    }
    assert_eq!(check_subject(b"a.*b.>"), Ok(SubjectKind::Wildcard));
    // A literal `a*b` filter matches only itself; `*` and `>` match it as any token.
    for (filter, subject) in [
        ("a*b", "a*b"),
        ("*", "a*b"),
        (">", "a*b"),
        ("a*b.*", "a*b.c"),
        ("a.b*", "a.b*"),
        ("a.*", "a.b*"),
    ] {
        assert!(
            subject_matches(filter.as_bytes(), subject.as_bytes()),
            "{filter} {subject}"
        );
    }
    for (filter, subject) in [
        ("a*b", "axb"),
        ("a*b", "ab"),
        ("a*b", "a.b"),
        ("a*", "ab"),
        ("a.b*", "a.bc"),
        ("a>", "a.b"),
        ("a>", "ab"),
    ] {
        assert!(
            !subject_matches(filter.as_bytes(), subject.as_bytes()),
            "{filter} {subject}"
        );
    }
    // Overlap and subset treat them as literal tokens too.
    assert!(!subjects_overlap(b"a*b", b"axb"));
    assert!(subjects_overlap(b"a*b", b"*"));
    assert!(is_subset_match(b"a*b", b"*"));
    assert!(!is_subset_match(b"*", b"a*b"));
}

#[test]
fn checks_name_the_rule_broken() {
    assert_eq!(check_subject(b""), Err(SubjectError::Empty));
    for s in [".", "foo.", ".foo", "foo..bar"] {
        assert_eq!(
            check_subject(s.as_bytes()),
            Err(SubjectError::EmptyToken),
            "{s:?}"
        );
    }
    assert_eq!(
        check_subject(b"foo.>.bar"),
        Err(SubjectError::FullWildcardNotLast)
    );
    assert_eq!(check_subject(b"a b"), Err(SubjectError::Whitespace));
    assert_eq!(check_subscribe_subject(b"a b"), Ok(SubjectKind::Literal));
    assert_eq!(check_subscribe_subject(b"a.*"), Ok(SubjectKind::Wildcard));
    assert_eq!(check_subscribe_subject(b">"), Ok(SubjectKind::Wildcard));
    assert_eq!(check_publish_subject(b"a.*"), Err(SubjectError::Wildcard));
    assert_eq!(check_publish_subject(b"a.>"), Err(SubjectError::Wildcard));
    assert_eq!(
        check_publish_subject(b"a. b"),
        Err(SubjectError::Whitespace)
    );
    for e in [
        SubjectError::Empty,
        SubjectError::EmptyToken,
        SubjectError::FullWildcardNotLast,
        SubjectError::Whitespace,
        SubjectError::Wildcard,
    ] {
        assert_eq!(e.to_string(), e.reason());
    }
}

#[test]
fn routable_subjects_have_no_empty_token() {
    for s in ["foo", "foo.bar", "foo.*", ">", "a b"] {
        assert!(is_routable_subject(s.as_bytes()), "{s:?}");
    }
    for s in ["", ".", "foo.", ".foo", "foo..bar"] {
        assert!(!is_routable_subject(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn first_token_splits_at_the_first_separator() {
    assert_eq!(split_first_token(b"a.b.c"), (&b"a"[..], Some(&b"b.c"[..])));
    assert_eq!(split_first_token(b"abc"), (&b"abc"[..], None));
    assert_eq!(split_first_token(b".a"), (&b""[..], Some(&b"a"[..])));
    assert_eq!(split_first_token(b"a."), (&b"a"[..], Some(&b""[..])));
}

#[test]
fn matching_edge_cases() {
    let yes = |f: &str, s: &str| subject_matches(f.as_bytes(), s.as_bytes());
    assert!(yes("foo.bar", "foo.bar"));
    assert!(!yes("foo.bar", "foo.baz"));
    assert!(!yes("foo.bar", "foo.bar.baz"));
    assert!(!yes("foo.bar.baz", "foo.bar"));
    assert!(yes("*.*.>", "a.b.c"));
    assert!(!yes("*.*.>", "a.b"));
    assert!(!yes("foo*", "foobar"));
    assert!(yes("foo*", "foo*"));
    assert!(!yes("foo", "fo"));
    assert!(!yes("fo", "foo"));
    assert!(!yes("a.*", "a.bc.d"));
    assert!(yes("*.b", "aaa.b"));
    assert!(!yes("*.b", "aaa.bb"));
    assert!(yes("a.*.c", "a.*.c"));
    assert!(yes("a.>", "a.>"));
    assert!(!yes("a.b>", "a.b"));
    // A subject with an empty token reaches nobody, wildcards included.
    for s in ["", ".", "a.", ".a", "a..b", "a.b."] {
        for f in [">", "*", "a.>", "a.*", "*.*", "a.*.b", "*.>"] {
            assert!(!yes(f, s), "{f} {s:?}");
        }
    }
}

/// [`model_matches`] on whole strings: a subject with an empty token matches nothing.
fn model_matches_str(filter: &str, subject: &str) -> bool {
    let (f, s): (Vec<_>, Vec<_>) = (filter.split('.').collect(), subject.split('.').collect());
    !s.iter().any(|t| t.is_empty()) && model_matches(&f, &s)
}

proptest! {
    #[test]
    fn matching_agrees_with_token_by_token(
        filter in prop::collection::vec(prop::sample::select(vec!["a", "aa", "b", "*", "a*", "*a"]), 0..4),
        last in prop::sample::select(vec!["a", "*", ">", "a>"]),
        subject in prop::collection::vec(prop::sample::select(vec!["a", "aa", "b", "*", ">", "a*", ""]), 1..6),
    ) {
        let filter = filter.iter().chain([&last]).copied().collect::<Vec<_>>().join(".");
        let subject = subject.join(".");
        prop_assert_eq!(
            subject_matches(filter.as_bytes(), subject.as_bytes()),
            model_matches_str(&filter, &subject),
            "{} vs {}", filter, subject
        );
    }
}
