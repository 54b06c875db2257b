//! The memory store against the behaviours recorded from nats-server.

mod common;

use common::{fill, limits, reference_behaviours};
use natrium_store::{MemoryStore, MessageStore, StoreLimits};

#[test]
fn memory_store_behaves_as_nats_server() {
    reference_behaviours(&mut |l| Box::new(MemoryStore::new(l)) as Box<dyn MessageStore>);
}

#[test]
fn sizes_follow_nats_servers_memory_rule() {
    // Observed: subject "memory.a" + "hello" = 29 bytes; with an 18-byte header 47.
    let mut s = MemoryStore::new(limits());
    assert_eq!(s.message_size(8, None, 5), 29, "told before storing");
    assert_eq!(s.message_size(8, Some(18), 5), 47);
    s.store(b"memory.a", None, b"hello", 1, None).unwrap();
    assert_eq!(s.state().bytes, 29);
    s.store(
        b"memory.b",
        Some(b"NATS/1.0\r\nX: y\r\n\r\n"),
        b"hello",
        2,
        None,
    )
    .unwrap();
    assert_eq!(s.state().bytes, 76);
}

#[test]
fn loads_by_sequence_filter_and_last() {
    let mut s = MemoryStore::new(limits());
    fill(&mut s, "f", 10);
    let m = s.load(3).unwrap().unwrap();
    assert_eq!(
        (&m.subject[..], &m.payload[..], m.time),
        (&b"f.a"[..], &b"x"[..], 3)
    );
    assert_eq!(s.load(11).unwrap(), None);
    assert_eq!(s.load(0).unwrap(), None);
    assert_eq!(s.load_next(4, b"f.a").unwrap().unwrap().seq, 5);
    assert_eq!(s.load_next(4, b"*.b").unwrap().unwrap().seq, 4);
    assert_eq!(s.load_next(11, b">").unwrap(), None);
    assert_eq!(s.load_next(1, b"g.>").unwrap(), None);
    assert_eq!(s.load_last(b"f.a").unwrap().unwrap().seq, 9);
    assert_eq!(s.load_last(b"f.*").unwrap().unwrap().seq, 10);
    s.remove(10, false).unwrap();
    assert_eq!(s.load_last(b">").unwrap().unwrap().seq, 9);
    assert_eq!(s.num_pending(1, b">", false), 9);
    assert_eq!(s.num_pending(4, b"f.a", false), 3);
    assert_eq!(s.num_pending(4, b"f.b", false), 3);
    assert_eq!(s.num_pending(4, b"f.*", true), 2);
    assert_eq!(s.num_pending(10, b"f.*", true), 0);
}

#[test]
fn pending_counts_agree_whether_walked_by_sequence_or_by_subject() {
    // One subject per message (a KV bucket with one key each): near the end the count walks
    // the sequences left, further back it visits the subjects; both must give the same.
    let mut s = MemoryStore::new(limits());
    for i in 0..100 {
        let subject = format!("kv.{}.k{i}", if i % 3 == 0 { "a" } else { "b" });
        s.store(subject.as_bytes(), None, b"v", i, None).unwrap();
    }
    s.remove(98, false).unwrap();
    s.remove(99, false).unwrap();
    for start in [1, 50, 97, 98, 100, 101] {
        let expected = (start..=100u64)
            .filter(|&seq| seq != 98 && seq != 99 && (seq - 1) % 3 == 0)
            .count() as u64;
        assert_eq!(
            s.num_pending(start, b"kv.a.*", false),
            expected,
            "from {start}"
        );
        let all = (start..=100u64)
            .filter(|&seq| seq != 98 && seq != 99)
            .count() as u64;
        assert_eq!(
            s.num_pending(start, b"kv.>", false),
            all,
            "all from {start}"
        );
    }
}

#[test]
fn per_subject_limit_keeps_the_newest_of_each_subject() {
    let mut s = MemoryStore::new(StoreLimits {
        max_msgs_per_subject: 2,
        ..limits()
    });
    fill(&mut s, "k", 10);
    let subjects = s.subjects(b"k.*");
    assert_eq!(
        (
            subjects["k.a"].first_seq,
            subjects["k.a"].last_seq,
            subjects["k.a"].msgs
        ),
        (7, 9, 2)
    );
    assert_eq!(
        (subjects["k.b"].first_seq, subjects["k.b"].last_seq),
        (8, 10)
    );
    assert_eq!(s.state().msgs, 4);
    s.set_limits(StoreLimits {
        max_msgs_per_subject: 1,
        ..limits()
    })
    .unwrap();
    assert_eq!(s.state().msgs, 2);
    assert_eq!(s.state().first_seq, 9);
}

#[test]
fn load_next_finds_matches_far_away_and_none_past_the_end() {
    let mut s = MemoryStore::new(limits());
    s.store(b"far.a", None, b"1", 1, None).unwrap();
    for i in 0..1000 {
        s.store(b"near.b", None, b"x", i, None).unwrap();
    }
    s.store(b"far.a", None, b"2", 2, None).unwrap();
    s.store(b"far.c", None, b"3", 3, None).unwrap();
    for filter in [&b"far.a"[..], b"far.*", b"*.a", b"far.>"] {
        assert_eq!(
            s.load_next(2, filter).unwrap().unwrap().seq,
            1002,
            "{filter:?}"
        );
        assert_eq!(
            s.load_next(1, filter).unwrap().unwrap().seq,
            1,
            "{filter:?}"
        );
    }
    assert_eq!(s.load_next(1003, b"far.*").unwrap().unwrap().seq, 1003);
    assert_eq!(s.load_next(1003, b"far.a").unwrap(), None);
    assert_eq!(s.load_next(5000, b"far.*").unwrap(), None);
    s.remove(1002, false).unwrap();
    assert_eq!(s.load_next(2, b"*.a").unwrap(), None);
    assert_eq!(s.load_next(2, b"far.*").unwrap().unwrap().seq, 1003);
}
