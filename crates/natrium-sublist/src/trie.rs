//! The token trie: one node per subject prefix, with separate `*` and `>` branches.

use crate::SubjectMap;
use crate::matches::Matches;
use crate::subject::{FULL_WILDCARD, PARTIAL_WILDCARD, split_first};

/// The subscriptions stored under one exact subscription subject.
#[derive(Debug)]
struct Subscribers<T> {
    plain: Vec<T>,
    /// Queue groups by name; a group is removed when its last member goes.
    queues: Vec<(Box<[u8]>, Vec<T>)>,
}

impl<T> Default for Subscribers<T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> Subscribers<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    fn add(&mut self, queue: Option<&[u8]>, sub: T) {
        match queue {
            None => self.plain.push(sub),
            Some(name) => match self.queues.iter_mut().find(|(n, _)| &**n == name) {
                Some((_, members)) => members.push(sub),
                None => self.queues.push((name.into(), vec![sub])),
            },
        }
    }

    fn remove(&mut self, queue: Option<&[u8]>, sub: &T) -> bool {
        match queue {
            None => remove_one(&mut self.plain, sub),
            Some(name) => {
                let Some(group) = self.queues.iter().position(|(n, _)| &**n == name) else {
                    return false;
                };
                let found = remove_one(&mut self.queues[group].1, sub);
                if self.queues[group].1.is_empty() {
                    self.queues.swap_remove(group);
                }
                found
            }
        }
    }

    fn add_to(&self, out: &mut Matches<T>) {
        out.plain.extend_from_slice(&self.plain);
        for (name, members) in &self.queues {
            out.add_queue_members(name, members);
        }
    }
}

/// Removes one element equal to `sub`; order is not kept (it carries no meaning).
fn remove_one<T: PartialEq>(list: &mut Vec<T>, sub: &T) -> bool {
    match list.iter().position(|x| x == sub) {
        Some(i) => {
            list.swap_remove(i);
            true
        }
        None => false,
    }
}

/// A trie node: the subject prefix that leads here is implied by the path from the root.
#[derive(Debug)]
pub(crate) struct Node<T> {
    /// Children by literal next token.
    children: SubjectMap<Node<T>>,
    /// The child for a `*` next token.
    partial: Option<Box<Node<T>>>,
    /// Subscriptions on `<prefix>.>` (`>` is always last, so it needs no node of its own).
    full: Subscribers<T>,
    /// Subscriptions on exactly `<prefix>`.
    here: Subscribers<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            children: SubjectMap::default(),
            partial: None,
            full: Subscribers::default(),
            here: Subscribers::default(),
        }
    }
}

impl<T: Clone + PartialEq> Node<T> {
    /// Whether the node holds no subscriptions and no children.
    pub(crate) fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.partial.is_none()
            && self.full.is_empty()
            && self.here.is_empty()
    }

    /// Adds `sub` under the (already validated) subscription subject `subject`.
    pub(crate) fn insert(&mut self, subject: &[u8], queue: Option<&[u8]>, sub: T) {
        let mut node = self;
        let mut rest = subject;
        loop {
            let (token, next) = split_first(rest);
            if token == FULL_WILDCARD && next.is_none() {
                node.full.add(queue, sub);
                return;
            }
            node = if token == PARTIAL_WILDCARD {
                node.partial.get_or_insert_with(Box::default)
            } else {
                node.children.entry_ref(token).or_default()
            };
            match next {
                Some(next) => rest = next,
                None => {
                    node.here.add(queue, sub);
                    return;
                }
            }
        }
    }

    /// Removes one entry equal to `sub` under `subject`, pruning nodes left empty.
    pub(crate) fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, sub: &T) -> bool {
        let (token, next) = split_first(subject);
        if token == FULL_WILDCARD && next.is_none() {
            return self.full.remove(queue, sub);
        }
        if token == PARTIAL_WILDCARD {
            let Some(child) = self.partial.as_deref_mut() else {
                return false;
            };
            let found = child.remove_rest(next, queue, sub);
            if found && child.is_empty() {
                self.partial = None;
            }
            found
        } else {
            let Some(child) = self.children.get_mut(token) else {
                return false;
            };
            let found = child.remove_rest(next, queue, sub);
            if found && child.is_empty() {
                self.children.remove(token);
            }
            found
        }
    }

    fn remove_rest(&mut self, rest: Option<&[u8]>, queue: Option<&[u8]>, sub: &T) -> bool {
        match rest {
            None => self.here.remove(queue, sub),
            Some(rest) => self.remove(rest, queue, sub),
        }
    }

    /// Adds every subscription matching the (valid) published `subject` to `out`.
    pub(crate) fn collect(&self, subject: &[u8], out: &mut Matches<T>) {
        let (token, next) = split_first(subject);
        self.full.add_to(out);
        if let Some(child) = &self.partial {
            child.collect_rest(next, out);
        }
        if let Some(child) = self.children.get(token) {
            child.collect_rest(next, out);
        }
    }

    fn collect_rest(&self, rest: Option<&[u8]>, out: &mut Matches<T>) {
        match rest {
            None => self.here.add_to(out),
            Some(rest) => self.collect(rest, out),
        }
    }
}
