//! The token trie: one node per subject prefix, with separate `*` and `>` branches.

use natrium_wire::{FULL_WILDCARD, PARTIAL_WILDCARD, SEPARATOR, split_first_token};

use crate::SubjectMap;
use crate::matches::Matches;

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
            let (token, next) = split_first_token(rest);
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

    /// The child reached by `token`: the `*` branch or a literal one.
    fn child(&self, token: &[u8]) -> Option<&Node<T>> {
        if token == PARTIAL_WILDCARD {
            self.partial.as_deref()
        } else {
            self.children.get(token)
        }
    }

    fn child_mut(&mut self, token: &[u8]) -> Option<&mut Node<T>> {
        if token == PARTIAL_WILDCARD {
            self.partial.as_deref_mut()
        } else {
            self.children.get_mut(token)
        }
    }

    fn remove_child(&mut self, token: &[u8]) {
        if token == PARTIAL_WILDCARD {
            self.partial = None;
        } else {
            self.children.remove(token);
        }
    }

    /// Whether the node would be empty without its single child on a removal path.
    fn only_passes_through(&self) -> bool {
        self.here.is_empty()
            && self.full.is_empty()
            && self.children.len() + usize::from(self.partial.is_some()) == 1
    }

    /// Removes one entry equal to `sub` under `subject`, pruning nodes left empty.
    ///
    /// Iterative, like every walk here, so subjects of any length cannot exhaust the stack.
    pub(crate) fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, sub: &T) -> bool {
        let (path, full) = node_path(subject);
        let mut node = &mut *self;
        for token in tokens(path) {
            match node.child_mut(token) {
                Some(child) => node = child,
                None => return false,
            }
        }
        let subscribers = if full { &mut node.full } else { &mut node.here };
        if !subscribers.remove(queue, sub) {
            return false;
        }
        if node.is_empty() {
            self.prune(path);
        }
        true
    }

    /// Cuts off the longest run of nodes at the end of `path` that hold nothing but the path.
    fn prune(&mut self, path: &[u8]) {
        let mut cut = None;
        let mut node = &*self;
        let mut steps = tokens(path).enumerate().peekable();
        while let Some((depth, token)) = steps.next() {
            let Some(child) = node.child(token) else {
                return;
            };
            node = child;
            let removable = if steps.peek().is_none() {
                node.is_empty()
            } else {
                node.only_passes_through()
            };
            if removable {
                cut.get_or_insert(depth);
            } else {
                cut = None;
            }
        }
        let Some(cut) = cut else {
            return;
        };
        let mut parent = &mut *self;
        let mut steps = tokens(path);
        for token in steps.by_ref().take(cut) {
            match parent.child_mut(token) {
                Some(child) => parent = child,
                None => return,
            }
        }
        if let Some(token) = steps.next() {
            parent.remove_child(token);
        }
    }

    /// Adds every subscription matching the (valid) published `subject` to `out`.
    pub(crate) fn collect<'a>(&'a self, subject: &'a [u8], out: &mut Matches<T>) {
        let mut pending = Pending::default();
        let mut current = Some((self, subject));
        while let Some((node, rest)) = current.take().or_else(|| pending.pop()) {
            let (token, next) = split_first_token(rest);
            node.full.add_to(out);
            for child in [node.partial.as_deref(), node.children.get(token)]
                .into_iter()
                .flatten()
            {
                match next {
                    None => child.here.add_to(out),
                    Some(next) if current.is_none() => current = Some((child, next)),
                    Some(next) => pending.push((child, next)),
                }
            }
        }
    }
}

/// Branches a lookup has still to visit (a node and the rest of the subject).
///
/// Both `*` and a literal child matching is common, so a lookup branches often; the first
/// few pending branches live inline so a typical lookup does not allocate for them.
struct Pending<'a, T> {
    inline: [Option<Branch<'a, T>>; INLINE_BRANCHES],
    inline_len: usize,
    spilled: Vec<Branch<'a, T>>,
}

type Branch<'a, T> = (&'a Node<T>, &'a [u8]);

const INLINE_BRANCHES: usize = 8;

impl<T> Default for Pending<'_, T> {
    fn default() -> Self {
        Self {
            inline: [None; INLINE_BRANCHES],
            inline_len: 0,
            spilled: Vec::new(),
        }
    }
}

impl<'a, T> Pending<'a, T> {
    fn push(&mut self, branch: Branch<'a, T>) {
        match self.inline.get_mut(self.inline_len) {
            Some(slot) => {
                *slot = Some(branch);
                self.inline_len += 1;
            }
            None => self.spilled.push(branch),
        }
    }

    /// Any pending branch; the order of visits does not change the result.
    fn pop(&mut self) -> Option<Branch<'a, T>> {
        if let Some(branch) = self.spilled.pop() {
            return Some(branch);
        }
        self.inline_len = self.inline_len.checked_sub(1)?;
        self.inline[self.inline_len].take()
    }
}

impl<T> Drop for Node<T> {
    /// Dismantles the subtree with an explicit stack: the default recursive drop would
    /// overflow the stack on a very long subject.
    fn drop(&mut self) {
        if self.children.is_empty() && self.partial.is_none() {
            return;
        }
        let mut stack: Vec<Node<T>> = self.children.drain().map(|(_, child)| child).collect();
        stack.extend(self.partial.take().map(|child| *child));
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, child)| child));
            stack.extend(node.partial.take().map(|child| *child));
        }
    }
}

/// Splits a subscription subject into the node path and whether it ends in `>`.
fn node_path(subject: &[u8]) -> (&[u8], bool) {
    if subject == FULL_WILDCARD {
        (b"", true)
    } else if let Some(path) = subject.strip_suffix(b".>") {
        (path, true)
    } else {
        (subject, false)
    }
}

/// The tokens of a path; an empty path has none.
fn tokens(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    (!path.is_empty())
        .then(|| path.split(|&b| b == SEPARATOR))
        .into_iter()
        .flatten()
}
