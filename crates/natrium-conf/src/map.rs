//! The ordered key/value block of a configuration (`{ ... }` or the whole file).

use crate::pos::Pos;
use crate::value::Value;

/// One `key: value` pair of a [`Map`].
#[derive(Debug, Clone)]
pub struct Entry {
    key: String,
    key_pos: Pos,
    value: Value,
    used_as_variable: bool,
}

impl Entry {
    /// The key exactly as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the key is written.
    pub fn key_pos(&self) -> &Pos {
        &self.key_pos
    }

    /// The value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Whether a later `$key` referred to this entry, i.e. it serves as a variable
    /// definition; nats-server does not report such keys as unknown fields.
    pub fn is_used_as_variable(&self) -> bool {
        self.used_as_variable
    }
}

impl PartialEq for Entry {
    /// Entries are equal when key and value are; positions and variable use are ignored.
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// The keys and values of a block, in the order they were written.
///
/// Keys are stored as written; [`Map::get`] ignores ASCII case, the way nats-server
/// matches configuration field names. Setting a key that is already present (same
/// spelling) replaces its value, as nats-server does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`, compared ignoring ASCII case. If several keys differ only in
    /// case, the one written last wins.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.get_entry(key).map(Entry::value)
    }

    /// The entry of `key` (see [`Map::get`]), giving access to the key's position.
    pub fn get_entry(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.key.eq_ignore_ascii_case(key))
    }

    /// Whether `key` is present (ignoring ASCII case).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_entry(key).is_some()
    }

    /// The entries in the order they were written.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Entries whose key is none of `known` (ignoring ASCII case) and that were not
    /// used as a variable: what a server reports as "unknown field" (each entry knows
    /// its [`Entry::key_pos`]).
    pub fn keys_not_in<'a>(&'a self, known: &[&str]) -> Vec<&'a Entry> {
        self.entries
            .iter()
            .filter(|entry| !entry.used_as_variable)
            .filter(|entry| !known.iter().any(|k| k.eq_ignore_ascii_case(&entry.key)))
            .collect()
    }

    /// Sets `key` to `value`, replacing an existing key of the same spelling.
    pub fn insert(&mut self, key: String, key_pos: Pos, value: Value) {
        self.insert_entry(Entry {
            key,
            key_pos,
            value,
            used_as_variable: false,
        });
    }

    fn insert_entry(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// The value of exactly `key` (case-sensitive, as variable names are), marking the
    /// entry as used as a variable.
    pub(crate) fn take_variable(&mut self, key: &str) -> Option<&Value> {
        let entry = self.entries.iter_mut().find(|e| e.key == key)?;
        entry.used_as_variable = true;
        Some(&entry.value)
    }

    /// Gives every key and value the position `pos` (see [`Value::relocate`]).
    pub(crate) fn relocate(&mut self, pos: &Pos) {
        for entry in &mut self.entries {
            entry.key_pos = pos.clone();
            entry.value.relocate(pos);
        }
    }

    /// Moves every entry of `other` into this map, in order (used by `include`).
    pub(crate) fn merge(&mut self, other: Map) {
        for entry in other.entries {
            self.insert_entry(entry);
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
