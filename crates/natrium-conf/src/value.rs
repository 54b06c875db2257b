//! A configuration value, where it was written, and typed access to it.

use std::time::Duration;

use crate::duration::parse_duration;
use crate::error::ConfError;
use crate::map::Map;
use crate::number::parse_sized_integer;
use crate::pos::Pos;

/// A value and the position it was written at.
///
/// Equality compares the values only, not positions.
#[derive(Debug, Clone)]
pub struct Value {
    /// The value itself.
    pub kind: ValueKind,
    /// Where it was written (for a `$variable`, where the reference is).
    pub pos: Pos,
}

/// The kinds of value the format has.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// Quoted, unquoted or block (`( ... )`) text. ISO-8601 Zulu datetimes
    /// (`2016-05-04T18:53:41Z`) are checked and kept as their text.
    String(String),
    /// An integer, already multiplied by its size suffix (`1k` = 1000, `1kb` = 1024).
    Integer(i64),
    /// A number with a decimal point.
    Float(f64),
    /// `true`/`false`, `yes`/`no`, `on`/`off` (any letter case, unquoted).
    Bool(bool),
    /// `[ ... ]`.
    Array(Vec<Value>),
    /// `{ ... }`.
    Map(Map),
}

impl ValueKind {
    /// The kind's name with an article, for messages ("a string", "an integer").
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::String(_) => "a string",
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a float",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Array(_) => "an array",
            ValueKind::Map(_) => "a map",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Value {
    /// A value at `pos`.
    pub fn new(kind: ValueKind, pos: Pos) -> Self {
        Value { kind, pos }
    }

    /// Gives this value (and everything in it) the position `pos`: a value read from an
    /// environment variable is reported where the reference is, which is where a user
    /// can act on it.
    pub(crate) fn relocate(&mut self, pos: &Pos) {
        self.pos = pos.clone();
        match &mut self.kind {
            ValueKind::Array(items) => items.iter_mut().for_each(|v| v.relocate(pos)),
            ValueKind::Map(map) => map.relocate(pos),
            _ => {}
        }
    }

    fn type_error(&self, expected: &'static str) -> ConfError {
        ConfError::Type {
            pos: self.pos.clone(),
            expected,
            found: self.kind.describe(),
        }
    }

    fn invalid(&self, what: &'static str, text: String, reason: String) -> ConfError {
        ConfError::InvalidValue {
            pos: self.pos.clone(),
            what,
            text,
            reason,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Result<&str, ConfError> {
        match &self.kind {
            ValueKind::String(s) => Ok(s),
            _ => Err(self.type_error("a string")),
        }
    }

    /// An integer value.
    pub fn as_i64(&self) -> Result<i64, ConfError> {
        match self.kind {
            ValueKind::Integer(i) => Ok(i),
            _ => Err(self.type_error("an integer")),
        }
    }

    /// A float value; integers are accepted too.
    pub fn as_f64(&self) -> Result<f64, ConfError> {
        match self.kind {
            ValueKind::Float(f) => Ok(f),
            // Precision loss above 2^53 is acceptable for a configuration number.
            ValueKind::Integer(i) => Ok(i as f64),
            _ => Err(self.type_error("a number")),
        }
    }

    /// A boolean value.
    pub fn as_bool(&self) -> Result<bool, ConfError> {
        match self.kind {
            ValueKind::Bool(b) => Ok(b),
            _ => Err(self.type_error("a boolean")),
        }
    }

    /// A map value.
    pub fn as_map(&self) -> Result<&Map, ConfError> {
        match &self.kind {
            ValueKind::Map(m) => Ok(m),
            _ => Err(self.type_error("a map")),
        }
    }

    /// An array value.
    pub fn as_array(&self) -> Result<&[Value], ConfError> {
        match &self.kind {
            ValueKind::Array(a) => Ok(a),
            _ => Err(self.type_error("an array")),
        }
    }

    /// A duration, read as nats-server reads duration fields: a string in Go's
    /// duration syntax (`"2m"`, `"1h30m"`, `"1.5s"`, `"250ms"`), or — the older form —
    /// an integer number of seconds.
    ///
    /// Beware that an unquoted `2m` is the integer 2 000 000 (`m` is the "mega" size
    /// suffix), exactly as in nats-server; quote durations.
    pub fn as_duration(&self) -> Result<Duration, ConfError> {
        match &self.kind {
            ValueKind::String(s) => {
                parse_duration(s).map_err(|e| self.invalid("duration", s.clone(), e.to_string()))
            }
            ValueKind::Integer(secs) => {
                u64::try_from(*secs).map(Duration::from_secs).map_err(|_| {
                    self.invalid(
                        "duration",
                        secs.to_string(),
                        "durations must not be negative".to_string(),
                    )
                })
            }
            _ => Err(self.type_error("a duration (e.g. \"2m\") or a number of seconds")),
        }
    }

    /// A size in bytes: a non-negative integer (suffixes are already applied, `1kb` =
    /// 1024, `1k` = 1000), or a string with the same syntax (`"64MB"`).
    pub fn as_size(&self) -> Result<u64, ConfError> {
        let (n, text) = match &self.kind {
            ValueKind::Integer(i) => (*i, i.to_string()),
            ValueKind::String(s) => (
                parse_sized_integer(s.trim())
                    .map_err(|reason| self.invalid("size", s.clone(), reason))?,
                s.clone(),
            ),
            _ => return Err(self.type_error("a size (e.g. 1024, 64kb or \"8MB\")")),
        };
        u64::try_from(n)
            .map_err(|_| self.invalid("size", text, "sizes must not be negative".to_string()))
    }
}
