//! Shared by the store tests: limits shorthands and the behaviour every store must show.

#![allow(dead_code)]

use std::time::Duration;

use natrium_store::{Discard, MessageStore, PurgeRequest, StoreLimits};

pub fn limits() -> StoreLimits {
    StoreLimits::default()
}

pub fn purge(filter: Option<&str>, seq: Option<u64>, keep: Option<u64>) -> PurgeRequest {
    PurgeRequest {
        filter: filter.map(str::to_owned),
        seq,
        keep,
    }
}

/// Stores `n` messages alternating subjects `<prefix>.a` and `<prefix>.b`, payload "x".
pub fn fill(store: &mut dyn MessageStore, prefix: &str, n: usize) {
    for i in 0..n {
        let subject = format!("{prefix}.{}", if i % 2 == 0 { "a" } else { "b" });
        store
            .store(subject.as_bytes(), None, b"x", i as i64 + 1, None)
            .unwrap();
    }
}

/// The behaviours recorded from nats-server 2.15.1 that every store must reproduce. Each
/// takes a fresh store made by `make` with the given limits.
pub fn reference_behaviours(make: &mut dyn FnMut(StoreLimits) -> Box<dyn MessageStore>) {
    // A new stream reports 0/0; purging it moves first to 1.
    let mut s = make(limits());
    let st = s.state();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (0, 0, 0));
    assert_eq!(s.purge(&purge(None, None, None)).unwrap(), 0);
    assert_eq!((s.state().first_seq, s.state().last_seq), (1, 0));

    // On a new stream a filtered purge, a keep, or a compact to 1 change nothing; a compact
    // past the end moves both.
    for req in [
        purge(Some("p.a"), None, None),
        purge(None, None, Some(3)),
        purge(None, Some(1), None),
    ] {
        let mut s = make(limits());
        assert_eq!(s.purge(&req).unwrap(), 0);
        assert_eq!((s.state().first_seq, s.state().last_seq), (0, 0), "{req:?}");
    }
    let mut s = make(limits());
    s.purge(&purge(None, Some(5), None)).unwrap();
    assert_eq!((s.state().first_seq, s.state().last_seq), (5, 4));

    // A filtered purge that empties the stream moves first past the end; purging an empty
    // stream again, below first, or with a filter and seq past the end changes nothing.
    let mut s = make(limits());
    s.store(b"f.a", None, b"x", 1, None).unwrap();
    s.store(b"f.a", None, b"x", 2, None).unwrap();
    assert_eq!(s.purge(&purge(Some("f.a"), None, None)).unwrap(), 2);
    assert_eq!((s.state().first_seq, s.state().last_seq), (3, 2));
    for req in [
        purge(Some("f.a"), None, None),
        purge(Some("f.a"), Some(50), None),
        purge(None, Some(2), None),
    ] {
        assert_eq!(s.purge(&req).unwrap(), 0);
        assert_eq!((s.state().first_seq, s.state().last_seq), (3, 2), "{req:?}");
    }
    s.purge(&purge(Some(">"), Some(20), None)).unwrap();
    assert_eq!((s.state().first_seq, s.state().last_seq), (20, 19));

    // Sequences stop at 2^62: a purge past it is refused, and the stream's last one can be
    // reached but not passed.
    let mut s = make(limits());
    assert!(s.purge(&purge(None, Some((1 << 62) + 1), None)).is_err());
    s.purge(&purge(None, Some(1 << 62), None)).unwrap();
    assert_eq!(s.store(b"x", None, b"", 1, None).unwrap(), 1 << 62);
    assert!(matches!(
        s.store(b"x", None, b"", 2, None),
        Err(natrium_store::StoreError::SequenceExhausted)
    ));

    // Purge all keeps last_seq and last_time; the next message continues the sequence.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(None, None, None)).unwrap(), 6);
    let st = s.state();
    assert_eq!((st.msgs, st.bytes, st.first_seq, st.last_seq), (0, 0, 7, 6));
    assert_eq!((st.first_time, st.last_time, st.num_subjects), (0, 6, 0));
    assert_eq!(s.store(b"p.a", None, b"z", 10, None).unwrap(), 7);
    assert_eq!(s.state().first_seq, 7);

    // Compact past the end: first 100, last 99.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(None, Some(100), None)).unwrap(), 6);
    assert_eq!((s.state().first_seq, s.state().last_seq), (100, 99));
    assert_eq!(s.store(b"p.a", None, b"z", 10, None).unwrap(), 100);

    // Compact inside.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(None, Some(4), None)).unwrap(), 3);
    assert_eq!(
        (s.state().first_seq, s.state().msgs, s.state().num_subjects),
        (4, 3, 2)
    );

    // Keep with a wildcard filter counts all matching subjects together.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(Some("p.>"), None, Some(1))).unwrap(), 5);
    assert_eq!((s.state().first_seq, s.state().msgs), (6, 1));

    // seq and keep together are refused.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert!(s.purge(&purge(None, Some(4), Some(1))).is_err());
    assert_eq!(s.state().msgs, 6);

    // Filter and seq: only matching messages below seq.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(Some("p.a"), Some(5), None)).unwrap(), 2);
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (4, 2, 6, 1)
    );
    assert_eq!(s.deleted(), vec![3]);

    // Keep without filter.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert_eq!(s.purge(&purge(None, None, Some(2))).unwrap(), 4);
    assert_eq!((s.state().first_seq, s.state().msgs), (5, 2));

    // Removing the last message keeps last_seq; deleted lists it.
    let mut s = make(limits());
    fill(&mut *s, "p", 6);
    assert!(s.remove(6, false).unwrap());
    assert!(!s.remove(6, false).unwrap());
    assert!(s.remove(1, false).unwrap());
    assert!(s.remove(3, false).unwrap());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (3, 2, 6, 2)
    );
    assert_eq!(s.deleted(), vec![3, 6]);
    let subjects = s.subjects(b">");
    assert_eq!(subjects["p.a"].msgs, 1);
    assert_eq!(subjects["p.b"].msgs, 2);
    assert_eq!(
        (subjects["p.b"].first_seq, subjects["p.b"].last_seq),
        (2, 4)
    );

    // Discard new: max_bytes admits exactly max_bytes, refuses past it.
    let size = {
        let mut probe = make(limits());
        probe.store(b"b.a", None, b"hello", 1, None).unwrap();
        probe.state().bytes
    };
    let mut s = make(StoreLimits {
        max_bytes: 2 * size as i64,
        discard: Discard::New,
        ..limits()
    });
    s.store(b"b.a", None, b"hello", 1, None).unwrap();
    s.store(b"b.a", None, b"hello", 2, None).unwrap();
    assert!(matches!(
        s.store(b"b.a", None, b"hello", 3, None),
        Err(natrium_store::StoreError::MaxBytes)
    ));
    assert_eq!(s.state().msgs, 2);

    // Discard new with max_msgs admits a message that replaces its subject's oldest.
    let mut s = make(StoreLimits {
        max_msgs: 2,
        max_msgs_per_subject: 1,
        discard: Discard::New,
        ..limits()
    });
    for subject in ["m.a", "m.a", "m.b", "m.b"] {
        s.store(subject.as_bytes(), None, b"hello", 1, None)
            .unwrap();
    }
    assert!(matches!(
        s.store(b"m.c", None, b"hello", 1, None),
        Err(natrium_store::StoreError::MaxMessages)
    ));
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (2, 2, 4, 1)
    );

    // discard_new_per_subject refuses.
    let mut s = make(StoreLimits {
        max_msgs_per_subject: 1,
        discard: Discard::New,
        discard_new_per_subject: true,
        ..limits()
    });
    s.store(b"n.a", None, b"hello", 1, None).unwrap();
    assert!(matches!(
        s.store(b"n.a", None, b"hello", 2, None),
        Err(natrium_store::StoreError::MaxMsgsPerSubject)
    ));

    // A message bigger than max_bytes with discard old is stored and removed at once.
    let mut s = make(StoreLimits {
        max_bytes: size as i64 - 1,
        ..limits()
    });
    assert_eq!(s.store(b"b.a", None, b"hello", 1, None).unwrap(), 1);
    assert_eq!(
        (s.state().msgs, s.state().first_seq, s.state().last_seq),
        (0, 2, 1)
    );
    // ...and refused with discard new.
    let mut s = make(StoreLimits {
        max_bytes: size as i64 - 1,
        discard: Discard::New,
        ..limits()
    });
    assert!(s.store(b"b.a", None, b"hello", 1, None).is_err());
    assert_eq!((s.state().first_seq, s.state().last_seq), (0, 0));

    // max_age and TTL.
    let mut s = make(StoreLimits {
        max_age: Duration::from_nanos(100),
        ..limits()
    });
    s.store(b"t.a", None, b"1", 1_000, None).unwrap();
    s.store(b"t.a", None, b"2", 1_050, Some(Duration::from_nanos(10)))
        .unwrap();
    s.store(b"t.a", None, b"3", 1_080, None).unwrap();
    assert_eq!(s.expire(1_059).unwrap(), 0);
    assert_eq!(s.expire(1_060).unwrap(), 1); // the TTL
    assert_eq!(s.expire(1_100).unwrap(), 1); // max_age of seq 1
    assert_eq!(s.state().first_seq, 3);
    assert_eq!(s.expire(10_000).unwrap(), 1);
    assert_eq!(
        (s.state().msgs, s.state().first_seq, s.state().last_seq),
        (0, 4, 3)
    );
}
