//! Behaviour of [`Sublist`], one rule per test.

use super::*;

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

fn plain(index: &Sublist<u32>, subject: &str) -> Vec<u32> {
    sorted(index.matches(subject.as_bytes()).plain.clone())
}

fn group(index: &Sublist<u32>, subject: &str, queue: &str) -> Vec<u32> {
    index
        .matches(subject.as_bytes())
        .queue(queue.as_bytes())
        .map(|g| sorted(g.members.clone()))
        .unwrap_or_default()
}

/// Looks `subject` up until its result is cached (from the second miss on).
fn warm(index: &Sublist<u32>, subject: &str) -> Arc<Matches<u32>> {
    index.matches(subject.as_bytes());
    index.matches(subject.as_bytes())
}

fn index_with(subs: &[(&str, u32)]) -> Sublist<u32> {
    let index = Sublist::new();
    for (subject, id) in subs {
        index
            .insert(subject.as_bytes(), None, *id)
            .expect("valid subject");
    }
    index
}

#[test]
fn literal_subjects_match_only_themselves() {
    let index = index_with(&[
        ("foo", 1),
        ("foo.bar", 2),
        ("foo.bar.baz", 3),
        ("foo.baz", 4),
    ]);
    assert_eq!(plain(&index, "foo"), [1]);
    assert_eq!(plain(&index, "foo.bar"), [2]);
    assert_eq!(plain(&index, "foo.bar.baz"), [3]);
    assert_eq!(plain(&index, "foo.baz"), [4]);
    assert_eq!(plain(&index, "bar"), [] as [u32; 0]);
    assert_eq!(plain(&index, "foo.bar.baz.qux"), [] as [u32; 0]);
    assert_eq!(index.count(), 4);
}

#[test]
fn partial_wildcard_matches_exactly_one_token() {
    let index = index_with(&[("foo.*", 1), ("*.bar", 2), ("*", 3), ("foo.*.baz", 4)]);
    assert_eq!(plain(&index, "foo.bar"), [1, 2]);
    assert_eq!(plain(&index, "foo.qux"), [1]);
    assert_eq!(plain(&index, "foo"), [3]);
    assert_eq!(plain(&index, "foo.bar.baz"), [4]);
    assert_eq!(plain(&index, "foo.bar.qux"), [] as [u32; 0]);
}

#[test]
fn full_wildcard_matches_one_or_more_trailing_tokens() {
    let index = index_with(&[("foo.>", 1), (">", 2), ("foo.bar.>", 3)]);
    assert_eq!(plain(&index, "foo"), [2]);
    assert_eq!(plain(&index, "foo.bar"), [1, 2]);
    assert_eq!(plain(&index, "foo.bar.baz.qux"), [1, 2, 3]);
    assert_eq!(plain(&index, "bar.baz"), [2]);
}

#[test]
fn mixed_wildcards() {
    let index = index_with(&[("*.*.>", 1), ("a.*.c", 2), ("*.b.>", 3), ("a.b.c", 4)]);
    assert_eq!(plain(&index, "a.b.c"), [1, 2, 3, 4]);
    assert_eq!(plain(&index, "a.b"), [] as [u32; 0]);
    assert_eq!(plain(&index, "x.b.y.z"), [1, 3]);
    assert_eq!(plain(&index, "a.x.c"), [1, 2]);
}

#[test]
fn wildcard_characters_inside_tokens_are_literal() {
    let index = index_with(&[("foo*", 1), ("a.b>", 2), ("*", 3)]);
    assert_eq!(plain(&index, "foobar"), [3]);
    assert_eq!(plain(&index, "foo*"), [1, 3]);
    assert_eq!(plain(&index, "a.b>"), [2]);
    assert_eq!(plain(&index, "a.bc"), [] as [u32; 0]);
}

#[test]
fn queue_members_are_grouped_by_name_across_matching_subjects() {
    let index = Sublist::new();
    index.insert(b"a.*", Some(b"q"), 1).unwrap();
    index.insert(b"a.>", Some(b"q"), 2).unwrap();
    index.insert(b"a.b", Some(b"q"), 3).unwrap();
    index.insert(b"a.b", Some(b"other"), 4).unwrap();
    index.insert(b"a.b", None, 5).unwrap();
    let result = index.matches(b"a.b");
    assert_eq!(result.plain, [5]);
    assert_eq!(result.queues.len(), 2);
    assert_eq!(group(&index, "a.b", "q"), [1, 2, 3]);
    assert_eq!(group(&index, "a.b", "other"), [4]);
    assert_eq!(result.len(), 5);
    assert_eq!(result.fanout(), 3);
    assert_eq!(group(&index, "a.b.c", "q"), [2]);
    assert!(index.matches(b"a.b.c").queue(b"other").is_none());
}

#[test]
fn remove_takes_away_one_entry_and_reports_it() {
    let index = Sublist::new();
    index.insert(b"foo.*", None, 1).unwrap();
    index.insert(b"foo.*", None, 2).unwrap();
    index.insert(b"foo.*", Some(b"q"), 3).unwrap();
    assert!(index.remove(b"foo.*", None, &1));
    assert!(!index.remove(b"foo.*", None, &1), "already removed");
    assert!(!index.remove(b"foo.*", None, &3), "3 is in a queue group");
    assert!(!index.remove(b"foo.*", Some(b"other"), &3), "wrong group");
    assert!(!index.remove(b"foo.bar", None, &2), "wrong subject");
    assert!(!index.remove(b"foo..bar", None, &2), "invalid subject");
    assert_eq!(plain(&index, "foo.x"), [2]);
    assert!(index.remove(b"foo.*", Some(b"q"), &3));
    assert!(index.matches(b"foo.x").queues.is_empty());
    assert!(index.remove(b"foo.*", None, &2));
    assert!(index.matches(b"foo.x").is_empty());
    assert_eq!(index.count(), 0);
    assert!(index.trie.read().root.is_empty(), "empty nodes are pruned");
}

#[test]
fn removing_everything_prunes_the_trie() {
    let index = Sublist::new();
    let subjects: [&[u8]; 6] = [b"a.b.c", b"a.*.c", b"a.>", b">", b"a.b", b"*.*"];
    for (id, subject) in subjects.iter().enumerate() {
        index.insert(subject, None, id).unwrap();
        index.insert(subject, Some(b"q"), id).unwrap();
    }
    for (id, subject) in subjects.iter().enumerate() {
        assert!(index.remove(subject, None, &id));
        assert!(index.remove(subject, Some(b"q"), &id));
    }
    assert!(index.trie.read().root.is_empty());
}

#[test]
fn reinsert_after_remove() {
    let index = index_with(&[("foo.bar", 1)]);
    assert_eq!(plain(&index, "foo.bar"), [1]);
    assert!(index.remove(b"foo.bar", None, &1));
    assert_eq!(plain(&index, "foo.bar"), [] as [u32; 0]);
    index.insert(b"foo.bar", None, 1).unwrap();
    assert_eq!(plain(&index, "foo.bar"), [1]);
}

#[test]
fn duplicates_are_separate_entries() {
    let index = index_with(&[("foo", 7), ("foo", 7), ("f*", 7)]);
    index.insert(b"*", None, 7).unwrap();
    assert_eq!(plain(&index, "foo"), [7, 7, 7]);
    assert_eq!(index.count(), 4);
    assert!(index.remove(b"foo", None, &7));
    assert_eq!(plain(&index, "foo"), [7, 7]);
    assert!(index.remove(b"foo", None, &7));
    assert!(!index.remove(b"foo", None, &7));
    assert_eq!(plain(&index, "foo"), [7]);
}

#[test]
fn invalid_subjects_are_rejected_with_the_reason() {
    let index = Sublist::new();
    let cases: [(&[u8], InvalidSubjectReason); 7] = [
        (b"", InvalidSubjectReason::Empty),
        (b".", InvalidSubjectReason::EmptyToken),
        (b"foo.", InvalidSubjectReason::EmptyToken),
        (b".foo", InvalidSubjectReason::EmptyToken),
        (b"foo..bar", InvalidSubjectReason::EmptyToken),
        (b">.foo", InvalidSubjectReason::FullWildcardNotLast),
        (b"foo.>.bar", InvalidSubjectReason::FullWildcardNotLast),
    ];
    for (subject, reason) in cases {
        let err = index.insert(subject, None, 1).expect_err("invalid");
        assert_eq!(err.reason(), reason);
        assert_eq!(err.subject(), subject);
    }
    let err = index.insert(b"foo", Some(b""), 1).expect_err("empty queue");
    assert_eq!(err.reason(), InvalidSubjectReason::EmptyQueueName);
    assert_eq!(
        index.insert(b"a..b", None, 1).unwrap_err().to_string(),
        "invalid subject \"a..b\": empty token"
    );
    assert_eq!(index.count(), 0);
    assert_eq!(index.stats().num_inserts, 0);
}

#[test]
fn invalid_publish_subjects_match_nothing() {
    let index = index_with(&[(">", 1), ("*", 2)]);
    for subject in ["", ".", "foo.", ".foo", "a..b"] {
        assert!(index.matches(subject.as_bytes()).is_empty(), "{subject:?}");
    }
    assert_eq!(plain(&index, "foo"), [1, 2]);
}

#[test]
fn cached_results_see_later_inserts() {
    let index = index_with(&[("foo.bar", 1)]);
    let before = warm(&index, "foo.bar");
    assert!(Arc::ptr_eq(&before, &index.matches(b"foo.bar")), "cached");
    index.insert(b"foo.bar", None, 2).unwrap();
    assert_eq!(plain(&index, "foo.bar"), [1, 2]);
    warm(&index, "foo.bar");
    index.insert(b"foo.*", None, 3).unwrap();
    assert_eq!(plain(&index, "foo.bar"), [1, 2, 3]);
    warm(&index, "foo.bar");
    index.insert(b">", Some(b"q"), 4).unwrap();
    assert_eq!(group(&index, "foo.bar", "q"), [4]);
    assert_eq!(
        before.plain,
        [1],
        "results already handed out are snapshots"
    );
}

#[test]
fn cached_results_see_later_removes() {
    let index = index_with(&[("foo.bar", 1), ("foo.*", 2), ("foo.>", 3)]);
    warm(&index, "foo.bar");
    assert!(index.remove(b"foo.>", None, &3));
    assert_eq!(plain(&index, "foo.bar"), [1, 2]);
    warm(&index, "foo.bar");
    assert!(index.remove(b"foo.*", None, &2));
    assert_eq!(plain(&index, "foo.bar"), [1]);
    warm(&index, "foo.bar");
    assert!(index.remove(b"foo.bar", None, &1));
    assert_eq!(plain(&index, "foo.bar"), [] as [u32; 0]);
}

#[test]
fn unrelated_changes_keep_cached_results() {
    let index = index_with(&[("foo.bar", 1)]);
    let cached = warm(&index, "foo.bar");
    index.insert(b"foo.baz", None, 2).unwrap();
    index.insert(b"other.*", None, 3).unwrap();
    assert!(Arc::ptr_eq(&cached, &index.matches(b"foo.bar")));
    index.insert(b"*.bar", None, 4).unwrap();
    assert!(!Arc::ptr_eq(&cached, &index.matches(b"foo.bar")));
}

#[test]
fn cache_stays_bounded_and_correct() {
    let index = Sublist::with_cache_capacity(16);
    index.insert(b"n.*", None, 0).unwrap();
    for round in 0..3 {
        for i in 0..100u32 {
            let subject = format!("n.{i}");
            warm(&index, &subject);
            assert_eq!(plain(&index, &subject), [0], "round {round}");
            assert!(index.stats().num_cache <= 16);
        }
    }
    assert!(index.stats().num_cache > 0);
}

#[test]
fn one_off_subjects_stay_out_of_the_cache() {
    let index = index_with(&[(">", 1)]);
    for i in 0..100 {
        assert_eq!(plain(&index, &format!("reply.{i}")), [1]);
    }
    assert_eq!(index.stats().num_cache, 0);
    warm(&index, "reply.7");
    assert_eq!(index.stats().num_cache, 1);
}

#[test]
fn disabled_cache_still_answers() {
    let index = Sublist::with_cache_capacity(0);
    index.insert(b"a.*", None, 1).unwrap();
    assert_eq!(plain(&index, "a.b"), [1]);
    index.insert(b"a.b", None, 2).unwrap();
    assert_eq!(plain(&index, "a.b"), [1, 2]);
    let stats = index.stats();
    assert_eq!(stats.num_cache, 0);
    assert_eq!(stats.cache_hit_rate, 0.0);
}

#[test]
fn generation_changes_on_every_change() {
    let index = Sublist::new();
    let g0 = index.generation();
    index.insert(b"a", None, 1).unwrap();
    let g1 = index.generation();
    assert_ne!(g0, g1);
    assert!(index.insert(b"a..", None, 1).is_err());
    assert!(!index.remove(b"a", None, &2));
    assert_eq!(index.generation(), g1, "failed calls change nothing");
    assert!(index.remove(b"a", None, &1));
    assert_ne!(index.generation(), g1);
}

#[test]
fn stats_count_like_nats_server() {
    let index = Sublist::new();
    index.insert(b"a.b", None, 1).unwrap();
    index.insert(b"a.*", None, 2).unwrap();
    index.insert(b"a.*", Some(b"q"), 3).unwrap();
    index.insert(b"a.>", Some(b"q"), 4).unwrap();
    assert!(index.remove(b"a.b", None, &1));
    // Each subject: two misses (cached on the second), then two hits.
    for _ in 0..4 {
        index.matches(b"a.b"); // fan-out 2: one plain, one group
        index.matches(b"a.c.d"); // fan-out 1
    }
    let stats = index.stats();
    assert_eq!(
        stats,
        SublistStats {
            num_subscriptions: 3,
            num_cache: 2,
            num_inserts: 4,
            num_removes: 1,
            num_matches: 8,
            cache_hit_rate: 0.5,
            max_fanout: 2,
            avg_fanout: 1.5,
        }
    );
    let json = serde_json::to_value(&stats).unwrap();
    for key in [
        "num_subscriptions",
        "num_cache",
        "num_inserts",
        "num_removes",
        "num_matches",
        "cache_hit_rate",
        "max_fanout",
        "avg_fanout",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[test]
fn very_long_subjects_do_not_exhaust_the_stack() {
    let long = vec!["t"; 100_000].join(".");
    let index = Sublist::new();
    index.insert(long.as_bytes(), None, 1).unwrap();
    let wild = format!("{long}.*");
    index.insert(wild.as_bytes(), Some(b"q"), 2).unwrap();
    assert_eq!(plain(&index, &long), [1]);
    assert_eq!(group(&index, &format!("{long}.x"), "q"), [2]);
    assert!(index.remove(long.as_bytes(), None, &1));
    assert!(index.remove(wild.as_bytes(), Some(b"q"), &2));
    assert!(index.trie.read().root.is_empty());
}

mod pruning {
    use super::*;
    use proptest::prelude::*;

    fn filter() -> impl Strategy<Value = Vec<u8>> {
        let inner = prop::sample::select(vec!["a", "b", "*"]);
        let last = prop::sample::select(vec!["a", "b", "*", ">"]);
        (prop::collection::vec(inner, 0..4), last).prop_map(|(mut tokens, last)| {
            tokens.push(last);
            tokens.join(".").into_bytes()
        })
    }

    proptest! {
        /// Removing every entry, in any order, leaves no node behind, and every removal in
        /// between leaves the remaining entries reachable.
        #[test]
        fn removing_everything_in_any_order_leaves_a_bare_root(
            entries in prop::collection::vec((filter(), any::<bool>()), 1..24),
            order in any::<u64>(),
        ) {
            let index = Sublist::with_cache_capacity(0);
            let queue = |q: bool| q.then_some(&b"q"[..]);
            for (id, (subject, q)) in entries.iter().enumerate() {
                index.insert(subject, queue(*q), id).unwrap();
            }
            let mut remaining: Vec<usize> = (0..entries.len()).collect();
            let mut seed = order;
            while !remaining.is_empty() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let id = remaining.swap_remove((seed >> 33) as usize % remaining.len());
                let (subject, q) = &entries[id];
                prop_assert!(index.remove(subject, queue(*q), &id));
                for &other in &remaining {
                    let (subject, q) = &entries[other];
                    // Still there: removing it succeeds; put it back.
                    prop_assert!(index.remove(subject, queue(*q), &other));
                    index.insert(subject, queue(*q), other).unwrap();
                }
            }
            prop_assert!(index.trie.read().root.is_empty());
            prop_assert_eq!(index.count(), 0);
        }
    }
}

#[test]
fn lookups_that_branch_at_every_level_find_everything() {
    // Every mix of `a` and `*` over 10 tokens: a lookup of a.a.….a branches at each level,
    // more often than the inline branch stack holds.
    const DEPTH: u32 = 10;
    let index = Sublist::with_cache_capacity(0);
    for mask in 0..(1u32 << DEPTH) {
        let subject: Vec<&str> = (0..DEPTH)
            .map(|bit| if mask & (1 << bit) == 0 { "a" } else { "*" })
            .collect();
        index
            .insert(subject.join(".").as_bytes(), None, mask)
            .unwrap();
    }
    let all: Vec<u32> = (0..(1u32 << DEPTH)).collect();
    assert_eq!(plain(&index, &vec!["a"; DEPTH as usize].join(".")), all);
    assert_eq!(
        plain(&index, &vec!["b"; DEPTH as usize].join(".")),
        [(1 << DEPTH) - 1]
    );
}
