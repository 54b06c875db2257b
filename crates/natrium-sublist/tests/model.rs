//! Property test: the index answers exactly like a naive list of subscriptions.

use std::collections::BTreeMap;

use natrium_sublist::{LocalMatchCache, Matches, Sublist};
use proptest::prelude::*;

/// A subscription in the naive model.
#[derive(Debug, Clone)]
struct Entry {
    subject: String,
    queue: Option<String>,
    id: u8,
}

/// The straightforward matcher: compare token by token.
fn naive_matches(filter: &str, subject: &str) -> bool {
    let filter: Vec<&str> = filter.split('.').collect();
    let subject: Vec<&str> = subject.split('.').collect();
    for (i, f) in filter.iter().enumerate() {
        match *f {
            ">" => return subject.len() > i,
            "*" if i < subject.len() => {}
            literal if i < subject.len() && subject[i] == literal => {}
            _ => return false,
        }
    }
    filter.len() == subject.len()
}

/// Plain ids and per-group ids, sorted, so results compare regardless of order.
type Normalised = (Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>);

fn naive_result(model: &[Entry], subject: &str) -> Normalised {
    let mut plain = Vec::new();
    let mut groups: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for entry in model.iter().filter(|e| naive_matches(&e.subject, subject)) {
        match &entry.queue {
            None => plain.push(entry.id),
            Some(q) => groups
                .entry(q.as_bytes().to_vec())
                .or_default()
                .push(entry.id),
        }
    }
    plain.sort_unstable();
    groups.values_mut().for_each(|ids| ids.sort_unstable());
    (plain, groups)
}

fn normalise(result: &Matches<u8>) -> Normalised {
    let mut plain = result.plain.clone();
    plain.sort_unstable();
    let mut groups = BTreeMap::new();
    for group in &result.queues {
        assert!(!group.members.is_empty(), "empty group {:?}", group.name);
        let mut ids = group.members.clone();
        ids.sort_unstable();
        let previous = groups.insert(group.name.to_vec(), ids);
        assert!(previous.is_none(), "group {:?} listed twice", group.name);
    }
    (plain, groups)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Entry),
    /// Remove the model entry at this index (modulo its length), which must succeed.
    RemoveExisting(usize),
    /// Remove something that may or may not be there.
    RemoveAny(Entry),
    Match(String),
}

fn join(tokens: Vec<&str>) -> String {
    tokens.join(".")
}

/// Subscription subjects: 1–4 tokens from a small alphabet, `>` only last.
fn filter() -> impl Strategy<Value = String> {
    let inner = prop::sample::select(vec!["a", "b", "c", "*", "a*"]);
    let last = prop::sample::select(vec!["a", "b", "c", "*", ">"]);
    (prop::collection::vec(inner, 0..3), last).prop_map(|(mut tokens, last)| {
        tokens.push(last);
        join(tokens)
    })
}

/// Published subjects: 1–4 tokens; wildcard characters here are plain tokens.
fn published() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec!["a", "b", "c", "a*", "*", ">"]);
    prop::collection::vec(token, 1..5).prop_map(join)
}

fn entry() -> impl Strategy<Value = Entry> {
    let queue = prop::option::weighted(0.3, prop::sample::select(vec!["q1", "q2"]));
    (filter(), queue, 0u8..6).prop_map(|(subject, queue, id)| Entry {
        subject,
        queue: queue.map(str::to_owned),
        id,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => entry().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::RemoveExisting),
        1 => entry().prop_map(Op::RemoveAny),
        5 => published().prop_map(Op::Match),
    ]
}

fn remove(index: &Sublist<u8>, entry: &Entry) -> bool {
    index.remove(
        entry.subject.as_bytes(),
        entry.queue.as_deref().map(str::as_bytes),
        &entry.id,
    )
}

fn remove_from_model(model: &mut Vec<Entry>, target: &Entry) -> bool {
    let found = model
        .iter()
        .position(|e| e.subject == target.subject && e.queue == target.queue && e.id == target.id);
    found.map(|i| model.remove(i)).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_agrees_with_naive_model(
        ops in prop::collection::vec(op(), 1..80),
        cache_capacity in prop::sample::select(vec![0usize, 2, 1024]),
    ) {
        let index = Sublist::with_cache_capacity(cache_capacity);
        let mut local = LocalMatchCache::new(4);
        let mut model: Vec<Entry> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(entry) => {
                    index
                        .insert(entry.subject.as_bytes(), entry.queue.as_deref().map(str::as_bytes), entry.id)
                        .expect("generated subjects are valid");
                    model.push(entry);
                }
                Op::RemoveExisting(pick) => {
                    if model.is_empty() {
                        continue;
                    }
                    let entry = model.remove(pick % model.len());
                    prop_assert!(remove(&index, &entry), "failed to remove {:?}", entry);
                }
                Op::RemoveAny(entry) => {
                    let expected = remove_from_model(&mut model, &entry);
                    prop_assert_eq!(remove(&index, &entry), expected, "remove {:?}", entry);
                }
                Op::Match(subject) => {
                    let expected = naive_result(&model, &subject);
                    let got = normalise(&index.matches(subject.as_bytes()));
                    prop_assert_eq!(&got, &expected, "subject {}", subject);
                    let got_local = normalise(local.matches(&index, subject.as_bytes()));
                    prop_assert_eq!(got_local, expected, "local cache, subject {}", subject);
                }
            }
            prop_assert_eq!(index.count(), model.len());
        }
        // Finally every subject of the alphabet agrees, cached or not.
        for subject in ["a", "b.c", "a.b.c", "a*.a", "c.*.>", "a.b.c.a"] {
            let got = normalise(&index.matches(subject.as_bytes()));
            prop_assert_eq!(got, naive_result(&model, subject), "subject {}", subject);
        }
    }
}

#[test]
fn naive_matcher_is_itself_right() {
    assert!(naive_matches("a.*", "a.b"));
    assert!(!naive_matches("a.*", "a"));
    assert!(!naive_matches("a.*", "a.b.c"));
    assert!(naive_matches("a.>", "a.b.c"));
    assert!(!naive_matches("a.>", "a"));
    assert!(naive_matches("a", "a"));
    assert!(!naive_matches("a", "a.b"));
    assert!(!naive_matches("a*", "ab"));
}
