//! The subject index against a naive matcher: after any sequence of inserts and removes,
//! every lookup returns exactly the subscriptions a token-by-token comparison with every
//! stored filter finds. `natrium_wire::subject_matches`, which the index uses, must agree with
//! the same matcher.
//!
//! Input: a list of operations, one byte of kind then its fields. Subjects are built from a
//! small alphabet of tokens (`a`, `b`, `*`, `>`, the empty token, `a*`, ...) so that
//! wildcards, invalid subjects and collisions are common.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use natrium_sublist::Sublist;

const TOKENS: [&[u8]; 8] = [b"a", b"b", b"*", b">", b"", b"a*", b"c d", b"\xff"];

/// A subject of 0–4 tokens chosen by the next bytes.
fn subject(input: &mut impl Iterator<Item = u8>) -> Vec<u8> {
    let spec = input.next().unwrap_or(0);
    let count = usize::from(spec % 5);
    let mut out = Vec::new();
    for i in 0..count {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(TOKENS[usize::from(input.next().unwrap_or(0) % 8)]);
    }
    out
}

fn naive_valid_filter(filter: &[u8]) -> bool {
    if filter.is_empty() {
        return false;
    }
    let tokens: Vec<&[u8]> = filter.split(|&b| b == b'.').collect();
    tokens.iter().all(|t| !t.is_empty())
        && tokens.iter().enumerate().all(|(i, t)| *t != b">" || i == tokens.len() - 1)
}

fn naive_match(filter: &[u8], subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let f: Vec<&[u8]> = filter.split(|&b| b == b'.').collect();
    let s: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    if s.iter().any(|t| t.is_empty()) {
        return false;
    }
    for (i, ft) in f.iter().enumerate() {
        if *ft == b">" {
            return s.len() > i;
        }
        match s.get(i) {
            None => return false,
            Some(st) if *ft == b"*" || ft == st => {}
            Some(_) => return false,
        }
    }
    f.len() == s.len()
}

struct Entry {
    filter: Vec<u8>,
    queue: Option<Vec<u8>>,
    id: u8,
}

fuzz_target!(|data: &[u8]| {
    let mut input = data.iter().copied();
    let cache = usize::from(data.first().copied().unwrap_or(0) % 3) * 2;
    let index: Sublist<u8> = Sublist::with_cache_capacity(cache);
    let mut model: Vec<Entry> = Vec::new();
    while let Some(kind) = input.next() {
        let queue = match kind >> 6 {
            0 | 1 => None,
            2 => Some(b"q".to_vec()),
            _ => Some(if kind & 0x20 != 0 { b"r".to_vec() } else { Vec::new() }),
        };
        match kind % 3 {
            0 => {
                let filter = subject(&mut input);
                let id = input.next().unwrap_or(0) % 8;
                let ok = index.insert(&filter, queue.as_deref(), id).is_ok();
                let valid = naive_valid_filter(&filter) && queue.as_ref().is_none_or(|q| !q.is_empty());
                assert_eq!(ok, valid, "insert {:?} queue {queue:?}", String::from_utf8_lossy(&filter));
                if ok {
                    model.push(Entry { filter, queue, id });
                }
            }
            1 => {
                let filter = subject(&mut input);
                let id = input.next().unwrap_or(0) % 8;
                let removed = index.remove(&filter, queue.as_deref(), &id);
                let at = model
                    .iter()
                    .position(|e| e.filter == filter && e.queue == queue && e.id == id);
                assert_eq!(removed, at.is_some(), "remove {:?}", String::from_utf8_lossy(&filter));
                if let Some(at) = at {
                    model.remove(at);
                }
            }
            _ => {
                let subject = subject(&mut input);
                let got = index.matches(&subject);
                let mut want_plain = Vec::new();
                let mut want_queues: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
                for e in &model {
                    let hit = naive_match(&e.filter, &subject);
                    // Subjects with empty tokens included: those match nothing, as in the index.
                    assert_eq!(
                        natrium_wire::subject_matches(&e.filter, &subject),
                        hit,
                        "subject_matches({:?}, {:?})",
                        String::from_utf8_lossy(&e.filter),
                        String::from_utf8_lossy(&subject)
                    );
                    if !hit {
                        continue;
                    }
                    match &e.queue {
                        None => want_plain.push(e.id),
                        Some(q) => want_queues.entry(q.clone()).or_default().push(e.id),
                    }
                }
                let mut got_plain = got.plain.clone();
                got_plain.sort_unstable();
                want_plain.sort_unstable();
                assert_eq!(got_plain, want_plain, "plain matches of {:?}", String::from_utf8_lossy(&subject));
                let mut got_queues = BTreeMap::new();
                for g in &got.queues {
                    assert!(!g.members.is_empty(), "empty queue group in a result");
                    let mut members = g.members.clone();
                    members.sort_unstable();
                    assert!(got_queues.insert(g.name.to_vec(), members).is_none(), "group twice");
                }
                for members in want_queues.values_mut() {
                    members.sort_unstable();
                }
                assert_eq!(got_queues, want_queues, "queue matches of {:?}", String::from_utf8_lossy(&subject));
            }
        }
        assert_eq!(index.count(), model.len());
    }
});
