//! The blocks being filled while parsing, innermost last: where `$variable`s are looked up.

use crate::map::Map;
use crate::value::Value;

/// The stack of maps under construction. There is always a current one, so no lookup
/// or insertion can fail.
#[derive(Default)]
pub(crate) struct Scopes {
    outer: Vec<Map>,
    current: Map,
}

impl Scopes {
    /// The map entries are being added to.
    pub(crate) fn current(&mut self) -> &mut Map {
        &mut self.current
    }

    /// Starts a nested map.
    pub(crate) fn push(&mut self) {
        self.outer.push(std::mem::take(&mut self.current));
    }

    /// Finishes the innermost map and returns it.
    pub(crate) fn pop(&mut self) -> Map {
        let parent = self.outer.pop().unwrap_or_default();
        std::mem::replace(&mut self.current, parent)
    }

    /// Finishes the outermost map (the document) and returns it.
    pub(crate) fn into_root(mut self) -> Map {
        while !self.outer.is_empty() {
            self.pop();
        }
        self.current
    }

    /// The value of the nearest key spelled exactly `name`, innermost block first, as
    /// nats-server scopes variables. Arrays are not scopes; keys of enclosing blocks
    /// written before the reference are visible.
    pub(crate) fn lookup(&mut self, name: &str) -> Option<Value> {
        if let Some(value) = self.current.take_variable(name) {
            return Some(value.clone());
        }
        self.outer
            .iter_mut()
            .rev()
            .find_map(|map| map.take_variable(name).cloned())
    }
}
