//! Where a value, key or error sits in the configuration text.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a configuration source: the file (if the text came from one), and the
/// 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file the text was read from; `None` for text given to [`crate::parse_str`]
    /// or read from an environment variable.
    pub file: Option<Arc<Path>>,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Pos {
    /// A position in `file` (or in no file) at `line:column`.
    pub fn new(file: Option<Arc<Path>>, line: u32, column: u32) -> Self {
        Pos { file, line, column }
    }
}

impl fmt::Display for Pos {
    /// `path:line:column`, or `line:column` when the text came from no file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "{}:{}", self.line, self.column),
        }
    }
}
