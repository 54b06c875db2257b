//! Model-based test: random operation sequences run on a naive model, the memory store and
//! the file store (reopened at random points); every observable answer must agree.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use natrium_store::{
    Discard, FileStore, FileStoreConfig, MemoryStore, MessageStore, PurgeRequest, StoreError,
    StoreLimits, StoredMessage, SubjectState,
};
use proptest::prelude::*;
use tempfile::TempDir;

const SUBJECTS: [&str; 4] = ["a.x", "a.y", "b.x", "b.y.z"];
const FILTERS: [&str; 8] = ["", ">", "a.x", "a.*", "*.x", "b.>", "c", "*.*"];

/// The plainest statement of what a store does: a sorted map of messages.
struct Model {
    msgs: BTreeMap<u64, (StoredMessage, Option<i64>)>,
    first: u64,
    last: u64,
    last_time: i64,
    limits: StoreLimits,
}

fn matches(filter: &str, subject: &[u8]) -> bool {
    filter.is_empty() || natrium_wire::subject_matches(filter.as_bytes(), subject)
}

fn positive(n: i64) -> Option<u64> {
    (n > 0).then_some(n as u64)
}

impl Model {
    fn new(limits: StoreLimits) -> Self {
        Model {
            msgs: BTreeMap::new(),
            first: 0,
            last: 0,
            last_time: 0,
            limits,
        }
    }

    fn settle(&mut self) {
        self.first = self.msgs.keys().next().copied().unwrap_or(self.last + 1);
    }

    fn remove(&mut self, seq: u64) -> bool {
        let removed = self.msgs.remove(&seq).is_some();
        if removed {
            self.settle();
        }
        removed
    }

    fn subject_count(&self, subject: &[u8]) -> u64 {
        self.msgs
            .values()
            .filter(|(m, _)| m.subject == subject)
            .count() as u64
    }

    fn enforce(&mut self) {
        if let Some(max) = positive(self.limits.max_msgs_per_subject) {
            let subjects: Vec<_> = self.msgs.values().map(|(m, _)| m.subject.clone()).collect();
            for subject in subjects {
                while self.subject_count(&subject) > max {
                    let oldest = *self
                        .msgs
                        .iter()
                        .find(|(_, (m, _))| m.subject == subject)
                        .unwrap()
                        .0;
                    self.remove(oldest);
                }
            }
        }
        let max_msgs = positive(self.limits.max_msgs).unwrap_or(u64::MAX);
        while self.msgs.len() as u64 > max_msgs {
            let oldest = *self.msgs.keys().next().unwrap();
            self.remove(oldest);
        }
    }

    fn store(
        &mut self,
        subject: &str,
        payload: &[u8],
        time: i64,
        ttl: Option<Duration>,
    ) -> Result<u64, &'static str> {
        let l = &self.limits;
        let at_subject_limit = positive(l.max_msgs_per_subject)
            .is_some_and(|max| self.subject_count(subject.as_bytes()) >= max);
        if at_subject_limit && l.discard == Discard::New && l.discard_new_per_subject {
            return Err("per subject");
        }
        if l.discard == Discard::New
            && !at_subject_limit
            && positive(l.max_msgs).is_some_and(|max| self.msgs.len() as u64 >= max)
        {
            return Err("max msgs");
        }
        self.last += 1;
        self.last_time = time;
        let msg = StoredMessage {
            seq: self.last,
            subject: subject.as_bytes().to_vec().into(),
            headers: None,
            payload: payload.to_vec().into(),
            time,
        };
        self.msgs
            .insert(self.last, (msg, ttl.map(|t| time + t.as_nanos() as i64)));
        self.settle();
        self.enforce();
        Ok(self.last)
    }

    fn purge(
        &mut self,
        filter: &str,
        seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, &'static str> {
        let seq = seq.filter(|&s| s > 0);
        let keep = keep.filter(|&k| k > 0);
        if seq.is_some() && keep.is_some() {
            return Err("args");
        }
        let matching: Vec<u64> = self
            .msgs
            .iter()
            .filter(|(_, (m, _))| matches(filter, &m.subject))
            .map(|(&s, _)| s)
            .collect();
        let doomed: Vec<u64> = match (seq, keep) {
            (_, Some(keep)) => matching[..matching.len().saturating_sub(keep as usize)].to_vec(),
            (Some(below), None) => matching.into_iter().filter(|&s| s < below).collect(),
            (None, None) => matching,
        };
        for &s in &doomed {
            self.msgs.remove(&s);
        }
        let all = filter.is_empty() || filter == ">";
        let mut moved = !doomed.is_empty();
        if all && keep.is_none() {
            match seq {
                // A plain purge always restarts after the last sequence.
                None => moved = true,
                Some(below) if below > self.last + 1 => {
                    self.last = below - 1;
                    moved = true;
                }
                Some(_) => {}
            }
        }
        if moved {
            self.settle();
        }
        Ok(doomed.len() as u64)
    }

    fn expire(&mut self, now: i64) -> u64 {
        let before = self.msgs.len();
        let max_age = self.limits.max_age.as_nanos() as i64;
        if max_age > 0 {
            while let Some((&s, (m, _))) = self.msgs.iter().next() {
                if m.time > now - max_age {
                    break;
                }
                self.msgs.remove(&s);
            }
        }
        self.msgs
            .retain(|_, (_, deadline)| deadline.is_none_or(|d| d > now));
        if self.msgs.len() < before {
            self.settle();
        }
        (before - self.msgs.len()) as u64
    }

    fn subjects(&self, filter: &str) -> BTreeMap<String, SubjectState> {
        let mut out: BTreeMap<String, SubjectState> = BTreeMap::new();
        for (&seq, (m, _)) in &self.msgs {
            if matches(filter, &m.subject) {
                let e = out
                    .entry(String::from_utf8(m.subject.to_vec()).unwrap())
                    .or_default();
                if e.msgs == 0 {
                    e.first_seq = seq;
                }
                e.msgs += 1;
                e.last_seq = seq;
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Op {
    Store {
        subject: usize,
        len: usize,
        ttl: Option<u64>,
    },
    Remove {
        back: u64,
        erase: bool,
    },
    Purge {
        filter: usize,
        seq: Option<u64>,
        keep: Option<u64>,
    },
    Expire {
        advance: i64,
    },
    SetLimits {
        max_msgs: i64,
        per_subject: i64,
        discard_new: bool,
        per_subject_new: bool,
        max_age: u64,
    },
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..SUBJECTS.len(), 0..300usize, prop::option::weighted(0.1, 1..50u64))
            .prop_map(|(subject, len, ttl)| Op::Store { subject, len, ttl }),
        2 => (0..20u64, any::<bool>()).prop_map(|(back, erase)| Op::Remove { back, erase }),
        1 => (0..FILTERS.len(), prop::option::weighted(0.4, 0..40u64), prop::option::weighted(0.3, 0..6u64))
            .prop_map(|(filter, seq, keep)| Op::Purge { filter, seq, keep }),
        1 => (0..60i64).prop_map(|advance| Op::Expire { advance }),
        1 => (-1..12i64, -1..4i64, any::<bool>(), any::<bool>(), prop::sample::select(vec![0u64, 0, 40, 200]))
            .prop_map(|(max_msgs, per_subject, discard_new, per_subject_new, max_age)| Op::SetLimits { max_msgs, per_subject, discard_new, per_subject_new, max_age }),
        2 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

fn file_config() -> FileStoreConfig {
    // Tiny blocks and cache so rotation, block deletion and cache misses all happen.
    FileStoreConfig {
        block_size: 2048,
        cache_bytes: 0,
        ..FileStoreConfig::default()
    }
}

fn same_error(e: &StoreError, model: &str) -> bool {
    matches!(
        (e, model),
        (StoreError::MaxMessages, "max msgs")
            | (StoreError::MaxMsgsPerSubject, "per subject")
            | (StoreError::PurgeArguments, "args")
    )
}

fn check(model: &Model, store: &mut dyn MessageStore, name: &str) -> Result<(), TestCaseError> {
    let st = store.state();
    prop_assert_eq!(st.msgs, model.msgs.len() as u64, "{} msgs", name);
    prop_assert_eq!(
        (st.first_seq, st.last_seq, st.last_time),
        (model.first, model.last, model.last_time),
        "{} seqs",
        name
    );
    let first_time = model.msgs.values().next().map_or(0, |(m, _)| m.time);
    prop_assert_eq!(st.first_time, first_time, "{} first_time", name);
    let deleted: Vec<u64> = if model.msgs.is_empty() {
        vec![]
    } else {
        (model.first..=model.last)
            .filter(|s| !model.msgs.contains_key(s))
            .collect()
    };
    prop_assert_eq!(st.num_deleted, deleted.len() as u64, "{} num_deleted", name);
    prop_assert_eq!(store.deleted(), deleted, "{} deleted", name);
    for filter in FILTERS {
        let expected = model.subjects(filter);
        prop_assert_eq!(
            store.subjects(filter.as_bytes()),
            expected.clone(),
            "{} subjects {}",
            name,
            filter
        );
        let last = model
            .msgs
            .iter()
            .rev()
            .find(|(_, (m, _))| matches(filter, &m.subject))
            .map(|(_, (m, _))| m.clone());
        prop_assert_eq!(
            store.load_last(filter.as_bytes()).unwrap(),
            last,
            "{} load_last {}",
            name,
            filter
        );
        for start in [0, model.first, model.first + 3, model.last] {
            let next = model
                .msgs
                .range(start..)
                .find(|(_, (m, _))| matches(filter, &m.subject))
                .map(|(_, (m, _))| m.clone());
            prop_assert_eq!(
                store.load_next(start, filter.as_bytes()).unwrap(),
                next,
                "{} load_next {} {}",
                name,
                start,
                filter
            );
            let pending = model
                .msgs
                .range(start..)
                .filter(|(_, (m, _))| matches(filter, &m.subject))
                .count() as u64;
            prop_assert_eq!(
                store.num_pending(start, filter.as_bytes(), false),
                pending,
                "{} num_pending {} {}",
                name,
                start,
                filter
            );
            let last_per = expected.values().filter(|s| s.last_seq >= start).count() as u64;
            prop_assert_eq!(
                store.num_pending(start, filter.as_bytes(), true),
                last_per,
                "{} num_pending lps {} {}",
                name,
                start,
                filter
            );
        }
    }
    prop_assert_eq!(st.num_subjects, model.subjects(">").len() as u64);
    for seq in model.first.saturating_sub(2)..=model.last + 1 {
        prop_assert_eq!(
            store.load(seq).unwrap(),
            model.msgs.get(&seq).map(|(m, _)| m.clone()),
            "{} load {}",
            name,
            seq
        );
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = TempDir::new().unwrap();
    let mut limits = StoreLimits::default();
    let mut model = Model::new(limits.clone());
    let mut memory = MemoryStore::new(limits.clone());
    let mut file = FileStore::open(dir.path(), file_config(), limits.clone()).unwrap();
    let mut now = 1_000i64;
    for op in ops {
        match op {
            Op::Store { subject, len, ttl } => {
                now += 1;
                let payload: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_add(now as u8))
                    .collect();
                let ttl = ttl.map(Duration::from_nanos);
                let expected = model.store(SUBJECTS[subject], &payload, now, ttl);
                for (name, store) in [
                    ("memory", &mut memory as &mut dyn MessageStore),
                    ("file", &mut file),
                ] {
                    match (
                        store.store(SUBJECTS[subject].as_bytes(), None, &payload, now, ttl),
                        expected,
                    ) {
                        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", name),
                        (Err(e), Err(m)) => {
                            prop_assert!(same_error(&e, m), "{}: {} vs {}", name, e, m)
                        }
                        (a, b) => prop_assert!(false, "{}: {:?} vs {:?}", name, a, b),
                    }
                }
            }
            Op::Remove { back, erase } => {
                let seq = model.last.saturating_sub(back);
                let expected = model.remove(seq);
                prop_assert_eq!(memory.remove(seq, erase).unwrap(), expected);
                prop_assert_eq!(file.remove(seq, erase).unwrap(), expected);
            }
            Op::Purge { filter, seq, keep } => {
                let seq = seq.map(|s| model.first.saturating_sub(2) + s);
                let req = PurgeRequest {
                    filter: Some(FILTERS[filter].to_owned()),
                    seq,
                    keep,
                };
                let expected = model.purge(FILTERS[filter], seq, keep);
                for (name, store) in [
                    ("memory", &mut memory as &mut dyn MessageStore),
                    ("file", &mut file),
                ] {
                    match (store.purge(&req), expected) {
                        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{} purge {:?}", name, req),
                        (Err(e), Err(m)) => prop_assert!(same_error(&e, m)),
                        (a, b) => prop_assert!(false, "{}: {:?} vs {:?}", name, a, b),
                    }
                }
            }
            Op::Expire { advance } => {
                now += advance;
                let expected = model.expire(now);
                prop_assert_eq!(memory.expire(now).unwrap(), expected);
                prop_assert_eq!(file.expire(now).unwrap(), expected);
            }
            Op::SetLimits {
                max_msgs,
                per_subject,
                discard_new,
                per_subject_new,
                max_age,
            } => {
                limits = StoreLimits {
                    max_msgs,
                    max_msgs_per_subject: per_subject,
                    discard: if discard_new {
                        Discard::New
                    } else {
                        Discard::Old
                    },
                    discard_new_per_subject: per_subject_new,
                    max_age: Duration::from_nanos(max_age),
                    ..StoreLimits::default()
                };
                model.limits = limits.clone();
                model.enforce();
                memory.set_limits(limits.clone()).unwrap();
                file.set_limits(limits.clone()).unwrap();
            }
            Op::Flush => file.flush().unwrap(),
            Op::Reopen => {
                file.flush().unwrap();
                drop(file);
                file = FileStore::open(dir.path(), file_config(), limits.clone()).unwrap();
            }
        }
        check(&model, &mut memory, "memory")?;
        check(&model, &mut file, "file")?;
    }
    // Sizes: each store counts bytes by its own nats-server rule.
    let payloads: u64 = model
        .msgs
        .values()
        .map(|(m, _)| (m.subject.len() + m.payload.len()) as u64)
        .sum();
    prop_assert_eq!(
        memory.state().bytes,
        payloads + 16 * model.msgs.len() as u64
    );
    prop_assert_eq!(file.state().bytes, payloads + 30 * model.msgs.len() as u64);
    file.flush().unwrap();
    drop(file);
    let mut file = FileStore::open(dir.path(), file_config(), limits).unwrap();
    check(&model, &mut file, "file reopened at the end")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn stores_agree_with_the_model(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
