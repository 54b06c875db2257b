//! A character cursor over the configuration text that tracks line and column.

use std::path::Path;
use std::sync::Arc;

use crate::pos::Pos;

/// Walks the text one `char` at a time, remembering where it is.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
    column: u32,
    file: Option<Arc<Path>>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str, file: Option<Arc<Path>>) -> Self {
        // A byte-order mark is not part of the configuration.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Cursor {
            text,
            offset: 0,
            line: 1,
            column: 1,
            file,
        }
    }

    /// The position of the next character.
    pub(crate) fn pos(&self) -> Pos {
        Pos::new(self.file.clone(), self.line, self.column)
    }

    /// The next character, without consuming it.
    pub(crate) fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    /// The character after the next one, without consuming anything.
    pub(crate) fn peek_second(&self) -> Option<char> {
        let mut chars = self.text[self.offset..].chars();
        chars.next();
        chars.next()
    }

    /// Consumes and returns the next character.
    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Consumes the next character if it is `c`.
    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Whether the remaining text starts with `s`.
    pub(crate) fn starts_with(&self, s: &str) -> bool {
        self.text[self.offset..].starts_with(s)
    }

    /// Whether the cursor sits at the start of a comment (`#` or `//`).
    pub(crate) fn at_comment(&self) -> bool {
        self.peek() == Some('#') || self.starts_with("//")
    }

    /// Consumes a comment up to (not including) the end of its line.
    pub(crate) fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.bump();
        }
    }

    /// Consumes spaces and tabs.
    pub(crate) fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// Consumes all whitespace (new lines included) and comments.
    pub(crate) fn skip_space_and_comments(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some(_) if self.at_comment() => self.skip_comment(),
                _ => break,
            }
        }
    }
}
