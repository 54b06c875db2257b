//! Everything that can go wrong reading a configuration, each naming where it happened.

use std::path::PathBuf;

use crate::pos::Pos;

/// An error reading, parsing or interpreting a configuration.
///
/// Every variant except [`ConfError::Read`] carries the [`Pos`] it concerns, and its
/// message starts with it (`path:line:column: ...`).
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// A configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text does not follow the format.
    #[error("{pos}: {message}")]
    Syntax {
        /// Where the parser stopped.
        pos: Pos,
        /// What was found and what was expected instead.
        message: String,
    },
    /// `$name` names no earlier key in an enclosing block and no environment variable.
    #[error("{pos}: variable reference for '{name}' can not be found")]
    UndefinedVariable {
        /// Where the reference is.
        pos: Pos,
        /// The variable name, without `$`.
        name: String,
    },
    /// Environment variables refer to each other in a loop.
    #[error("{pos}: variable reference cycle for '{name}'")]
    VariableCycle {
        /// Where the reference that closed the loop is.
        pos: Pos,
        /// The variable name, without `$`.
        name: String,
    },
    /// An environment variable's value is not a valid configuration value.
    #[error("{pos}: environment variable '{name}' could not be parsed: {source}")]
    BadEnvironmentValue {
        /// Where the reference is.
        pos: Pos,
        /// The environment variable name.
        name: String,
        /// What was wrong with its value.
        source: Box<ConfError>,
    },
    /// An included file could not be read or parsed.
    #[error("{pos}: error parsing include file '{path}': {source}")]
    Include {
        /// Where the `include` is.
        pos: Pos,
        /// The path as written after `include`.
        path: String,
        /// What went wrong in the included file.
        source: Box<ConfError>,
    },
    /// A file includes itself, directly or through other files.
    #[error("{pos}: include cycle: '{}' is already being included", path.display())]
    IncludeCycle {
        /// Where the `include` that closed the loop is.
        pos: Pos,
        /// The file that would be read a second time.
        path: PathBuf,
    },
    /// Includes are nested deeper than [`crate::MAX_INCLUDE_DEPTH`].
    #[error("{pos}: includes are nested deeper than {max} levels")]
    IncludeDepth {
        /// Where the `include` that went too deep is.
        pos: Pos,
        /// The limit.
        max: usize,
    },
    /// A value has another type than the one asked for.
    #[error("{pos}: expected {expected}, found {found}")]
    Type {
        /// Where the value is.
        pos: Pos,
        /// The type asked for, e.g. "a string".
        expected: &'static str,
        /// The type found, e.g. "an integer".
        found: &'static str,
    },
    /// A value has the right type but cannot be used, e.g. a malformed duration.
    #[error("{pos}: invalid {what} '{text}': {reason}")]
    InvalidValue {
        /// Where the value is.
        pos: Pos,
        /// What the value was read as, e.g. "duration".
        what: &'static str,
        /// The value as text.
        text: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl ConfError {
    /// The position the error concerns (for an error in an included file, the position
    /// inside that file); `None` for [`ConfError::Read`].
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            ConfError::Read { .. } => None,
            ConfError::Include { source, pos, .. } => source.pos().or(Some(pos)),
            ConfError::Syntax { pos, .. }
            | ConfError::UndefinedVariable { pos, .. }
            | ConfError::VariableCycle { pos, .. }
            | ConfError::BadEnvironmentValue { pos, .. }
            | ConfError::IncludeCycle { pos, .. }
            | ConfError::IncludeDepth { pos, .. }
            | ConfError::Type { pos, .. }
            | ConfError::InvalidValue { pos, .. } => Some(pos),
        }
    }
}
