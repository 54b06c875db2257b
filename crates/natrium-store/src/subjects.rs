//! Per-subject state: each distinct subject gets a small id and its count, first and last
//! sequence (nats-server's `psim`). Ids of subjects that lose their last message are reused.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::SubjectState;

/// One subject's entry. `first` and `last` are live sequences while `msgs > 0`.
#[derive(Debug, Clone)]
pub(crate) struct SubjectEntry {
    pub name: Arc<[u8]>,
    pub msgs: u64,
    pub first: u64,
    pub last: u64,
}

impl SubjectEntry {
    pub fn state(&self) -> SubjectState {
        SubjectState {
            msgs: self.msgs,
            first_seq: self.first,
            last_seq: self.last,
        }
    }
}

/// The subjects with at least one message.
#[derive(Debug, Default)]
pub(crate) struct SubjectTable {
    ids: HashMap<Arc<[u8]>, u32>,
    entries: Vec<SubjectEntry>,
    free: Vec<u32>,
    /// The id last interned: runs of one subject (most streams, and replay) skip the hash.
    last: u32,
}

/// Whether a filter matches every subject.
pub(crate) fn is_all(filter: &[u8]) -> bool {
    filter.is_empty() || filter == b">"
}

/// Whether a filter names exactly one subject.
pub(crate) fn is_literal(filter: &[u8]) -> bool {
    !is_all(filter) && natrium_wire::tokens(filter).all(|t| t != b"*" && t != b">")
}

impl SubjectTable {
    /// How many subjects have messages.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn id(&self, name: &[u8]) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The id of `name`, creating an empty entry when it has none.
    pub fn intern(&mut self, name: &[u8]) -> u32 {
        // A released entry's name is empty, and a subject never is.
        if !name.is_empty()
            && let Some(entry) = self.entries.get(self.last as usize)
            && *entry.name == *name
        {
            return self.last;
        }
        if let Some(&id) = self.ids.get(name) {
            self.last = id;
            return id;
        }
        let name: Arc<[u8]> = Arc::from(name);
        let entry = SubjectEntry {
            name: name.clone(),
            msgs: 0,
            first: 0,
            last: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = entry;
                id
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        self.ids.insert(name, id);
        self.last = id;
        id
    }

    pub fn get(&self, id: u32) -> &SubjectEntry {
        &self.entries[id as usize]
    }

    pub fn get_mut(&mut self, id: u32) -> &mut SubjectEntry {
        &mut self.entries[id as usize]
    }

    /// Forgets a subject whose last message went.
    pub fn release(&mut self, id: u32) {
        let entry = &mut self.entries[id as usize];
        debug_assert_eq!(entry.msgs, 0);
        self.ids.remove(&entry.name);
        entry.name = Arc::from(&b""[..]);
        self.free.push(id);
    }

    /// The ids of subjects with messages matching `filter`.
    pub fn matching(&self, filter: &[u8]) -> Vec<u32> {
        if is_all(filter) {
            return self.ids.values().copied().collect();
        }
        if is_literal(filter) {
            return self.id(filter).into_iter().collect();
        }
        self.ids
            .iter()
            .filter(|(name, _)| natrium_wire::subject_matches(filter, name))
            .map(|(_, &id)| id)
            .collect()
    }
}
