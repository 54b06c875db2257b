//! Subject rules, checked against nats-server 2.9 behaviour and an independent model.

use natrium_wire::{
    is_valid_literal_subject, is_valid_queue, is_valid_subject, is_valid_subscribe_subject, tokens,
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
