//! The reader for nats-server's configuration format: one pass over the text that builds
//! values, resolves `$variables` and expands `include`s as it goes (the order matters:
//! a variable sees only keys written before it).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cursor::Cursor;
use crate::error::ConfError;
use crate::map::Map;
use crate::number::parse_sized_integer;
use crate::pos::Pos;
use crate::scopes::Scopes;
use crate::value::{Value, ValueKind};

/// How deeply `include`s may nest (a file that includes a file counts 2).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// How deeply arrays and maps may nest; bounds the parser's recursion.
pub const MAX_NESTING: usize = 128;

/// State shared by a document and everything it includes or expands.
#[derive(Default)]
pub(crate) struct Shared {
    /// Canonical paths of the files being read, outermost first (cycle detection).
    open_files: Vec<PathBuf>,
    /// Environment variables being expanded, outermost first (cycle detection).
    open_env_vars: Vec<String>,
}

/// Reads and parses the file at `path` with its includes.
pub(crate) fn parse_file(path: &Path) -> Result<Map, ConfError> {
    let canonical = fs::canonicalize(path).map_err(|source| ConfError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    load_file(path, canonical, &mut Shared::default())
}

/// Parses `text`; includes are relative to the current directory.
pub(crate) fn parse_str(text: &str) -> Result<Map, ConfError> {
    let mut shared = Shared::default();
    Parser::new(text, None, PathBuf::from("."), &mut shared).document()
}

fn load_file(path: &Path, canonical: PathBuf, shared: &mut Shared) -> Result<Map, ConfError> {
    let text = fs::read_to_string(path).map_err(|source| ConfError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    shared.open_files.push(canonical);
    let result = Parser::new(&text, Some(Arc::from(path)), base_dir, shared).document();
    shared.open_files.pop();
    result
}

/// How a character that is not a value's own reads in a message.
fn describe(c: Option<char>) -> String {
    match c {
        None => "end of file".to_string(),
        Some('\n' | '\r') => "a new line".to_string(),
        Some(c) => format!("'{c}'"),
    }
}

/// `line:column` of `pos`, for pointing back to an opening character in the same file.
fn line_col(pos: &Pos) -> String {
    format!("{}:{}", pos.line, pos.column)
}

/// Characters that end an unquoted string (nats-server's rule).
fn ends_unquoted(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\n' | '\r' | ' ' | '\t' | ';' | ',' | ']' | '}')
    )
}

/// Letters that start a size suffix after digits (`1k`, `2MB`, `3Gi`, ...).
fn is_size_letter(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Unquoted words that are booleans.
fn as_bool_word(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// nats-server keeps unquoted bcrypt hashes (`$2a$...`) as text, not variable references.
const BCRYPT_PREFIX: &str = "2a$";

struct Parser<'t, 's> {
    cur: Cursor<'t>,
    base_dir: PathBuf,
    scopes: Scopes,
    /// How many `{ }` values enclose the cursor (the document itself not counted).
    nested_maps: usize,
    /// How many arrays and maps enclose the cursor.
    nesting: usize,
    shared: &'s mut Shared,
}

impl<'t, 's> Parser<'t, 's> {
    fn new(
        text: &'t str,
        file: Option<Arc<Path>>,
        base_dir: PathBuf,
        shared: &'s mut Shared,
    ) -> Self {
        Parser {
            cur: Cursor::new(text, file),
            base_dir,
            scopes: Scopes::default(),
            nested_maps: 0,
            nesting: 0,
            shared,
        }
    }

    fn syntax(&self, pos: Pos, message: impl Into<String>) -> ConfError {
        ConfError::Syntax {
            pos,
            message: message.into(),
        }
    }

    fn syntax_here(&self, message: impl Into<String>) -> ConfError {
        self.syntax(self.cur.pos(), message)
    }

    /// A whole file: entries, optionally wrapped in `{ }` (nats-server accepts JSON-like
    /// files), and one stray `}` at the very end.
    fn document(mut self) -> Result<Map, ConfError> {
        let mut open_braces: Vec<Pos> = Vec::new();
        loop {
            self.cur.skip_space_and_comments();
            match self.cur.peek() {
                None => break,
                Some('{') => {
                    open_braces.push(self.cur.pos());
                    self.cur.bump();
                }
                Some('}') => {
                    let pos = self.cur.pos();
                    self.cur.bump();
                    if open_braces.pop().is_none() {
                        self.cur.skip_space_and_comments();
                        if self.cur.peek().is_some() {
                            return Err(self.syntax(pos, "unexpected '}' with no matching '{'"));
                        }
                    }
                    self.end_of_value()?;
                }
                Some(_) => {
                    self.entry()?;
                    self.end_of_value()?;
                }
            }
        }
        if let Some(open) = open_braces.last() {
            return Err(self.syntax_here(format!(
                "expected '}}' to close the '{{' at {}, found end of file",
                line_col(open)
            )));
        }
        Ok(self.scopes.into_root())
    }

    /// After a value: blanks, then a new line, `;`, `,`, a comment, the end of the
    /// enclosing block or the end of the file.
    fn end_of_value(&mut self) -> Result<(), ConfError> {
        self.cur.skip_blanks();
        if self.cur.at_comment() {
            self.cur.skip_comment();
            return Ok(());
        }
        match self.cur.peek() {
            None | Some('}') => Ok(()),
            Some('\n' | '\r' | ';' | ',') => {
                self.cur.bump();
                Ok(())
            }
            c => Err(self.syntax_here(format!(
                "expected a new line, ';', ',' or a comment after the value, found {}",
                describe(c)
            ))),
        }
    }

    /// `key [=|:] value` or `include path`, added to the current block.
    fn entry(&mut self) -> Result<(), ConfError> {
        let key_pos = self.cur.pos();
        let (key, quoted) = self.key()?;
        if !quoted
            && key.eq_ignore_ascii_case("include")
            && matches!(self.cur.peek(), Some(' ' | '\t'))
        {
            self.cur.skip_blanks();
            return self.include(key_pos);
        }
        let in_block = self.nested_maps > 0;
        // Like nats-server, the separator may follow on a later line; after it, the value
        // must start on the same line (except inside a block). Without a separator, only
        // a map or array may start on a later line (`authorization\n{`): anything else is
        // far more likely a key missing its value.
        let after_key = self.cur.pos();
        self.skip_whitespace();
        if matches!(self.cur.peek(), Some(':' | '=')) {
            self.cur.bump();
            if in_block {
                self.skip_whitespace();
            } else {
                self.cur.skip_blanks();
            }
        } else if self.cur.pos().line != after_key.line
            && !matches!(self.cur.peek(), Some('{' | '['))
        {
            return Err(self.syntax(
                after_key,
                format!("expected a value for key '{key}', found a new line"),
            ));
        }
        let value = self.value(Some(&key))?;
        self.scopes.current().insert(key, key_pos, value);
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        while self.cur.peek().is_some_and(char::is_whitespace) {
            self.cur.bump();
        }
    }

    /// A key: quoted with `"` or `'` (taken literally), or unquoted up to whitespace, a
    /// separator or a bracket.
    fn key(&mut self) -> Result<(String, bool), ConfError> {
        let start = self.cur.pos();
        match self.cur.peek() {
            Some(quote @ ('"' | '\'')) => {
                self.cur.bump();
                let mut key = String::new();
                loop {
                    match self.cur.bump() {
                        Some(c) if c == quote => return Ok((key, true)),
                        Some(c) => key.push(c),
                        None => {
                            let opened = line_col(&start);
                            return Err(self.syntax_here(format!(
                                "expected a closing {quote} for the key started at {opened}, found end of file"
                            )));
                        }
                    }
                }
            }
            Some(c @ (':' | '=')) => {
                Err(self.syntax_here(format!("expected a key, found the key separator '{c}'")))
            }
            _ => {
                let mut key = String::new();
                while let Some(c) = self.cur.peek() {
                    if c.is_whitespace()
                        || matches!(c, ':' | '=' | '{' | '}' | '[' | ']' | ',' | ';')
                    {
                        break;
                    }
                    key.push(c);
                    self.cur.bump();
                }
                if key.is_empty() {
                    return Err(self.syntax_here(format!(
                        "expected a key, found {}",
                        describe(self.cur.peek())
                    )));
                }
                Ok((key, false))
            }
        }
    }

    /// Any value, starting at the cursor. `key` names the key it belongs to, for messages.
    fn value(&mut self, key: Option<&str>) -> Result<Value, ConfError> {
        let pos = self.cur.pos();
        match self.cur.peek() {
            c @ (None | Some('\n' | '\r' | ',' | ';' | '}' | ']')) => {
                let whose = key.map_or_else(String::new, |k| format!(" for key '{k}'"));
                Err(self.syntax(
                    pos,
                    format!("expected a value{whose}, found {}", describe(c)),
                ))
            }
            Some('[') => self.array(),
            Some('{') => self.map(),
            Some('"') => {
                self.cur.bump();
                let text = self.double_quoted(&pos)?;
                Ok(Value::new(ValueKind::String(text), pos))
            }
            Some('\'') => {
                self.cur.bump();
                let text = self.single_quoted(&pos)?;
                Ok(Value::new(ValueKind::String(text), pos))
            }
            Some('(') => self.block(),
            Some('.') if self.cur.peek_second().is_some_and(|c| c.is_ascii_digit()) => {
                Err(self.syntax(pos, "floats must start with a digit, not '.'"))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => self.number_or_text(),
            Some(_) => self.unquoted(),
        }
    }

    /// Enters an array or map opened at `open`, refusing to nest without bound.
    fn enter(&mut self, open: &Pos) -> Result<(), ConfError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.syntax(
                open.clone(),
                format!("arrays and maps are nested deeper than {MAX_NESTING} levels"),
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    /// `[ v, v ]`, values separated by commas or new lines, a trailing comma allowed.
    fn array(&mut self) -> Result<Value, ConfError> {
        let open = self.cur.pos();
        self.cur.bump();
        self.enter(&open)?;
        let result = self.array_items(&open);
        self.nesting -= 1;
        result.map(|items| Value::new(ValueKind::Array(items), open))
    }

    fn array_items(&mut self, open: &Pos) -> Result<Vec<Value>, ConfError> {
        let mut items = Vec::new();
        loop {
            self.cur.skip_space_and_comments();
            match self.cur.peek() {
                None => {
                    return Err(self.syntax_here(format!(
                        "expected ']' to close the array opened at {}, found end of file",
                        line_col(open)
                    )));
                }
                Some(']') => {
                    self.cur.bump();
                    return Ok(items);
                }
                Some(',') => {
                    return Err(self.syntax_here("expected a value or ']', found ','"));
                }
                Some(_) => {
                    items.push(self.value(None)?);
                    self.cur.skip_blanks();
                    if self.cur.at_comment() {
                        self.cur.skip_comment();
                    }
                    match self.cur.peek() {
                        Some(',' | '\n' | '\r') => {
                            self.cur.bump();
                        }
                        None | Some(']') => {}
                        c => {
                            return Err(self.syntax_here(format!(
                                "expected ',', a new line or ']' after an array value, found {}",
                                describe(c)
                            )));
                        }
                    }
                }
            }
        }
    }

    /// `{ key: value ... }`, entries separated by new lines, `,` or `;`.
    fn map(&mut self) -> Result<Value, ConfError> {
        let open = self.cur.pos();
        self.cur.bump();
        self.enter(&open)?;
        self.scopes.push();
        self.nested_maps += 1;
        let result = self.map_body(&open);
        self.nested_maps -= 1;
        self.nesting -= 1;
        let map = self.scopes.pop();
        result.map(|()| Value::new(ValueKind::Map(map), open))
    }

    fn map_body(&mut self, open: &Pos) -> Result<(), ConfError> {
        loop {
            self.cur.skip_space_and_comments();
            match self.cur.peek() {
                None => {
                    return Err(self.syntax_here(format!(
                        "expected '}}' to close the map opened at {}, found end of file",
                        line_col(open)
                    )));
                }
                Some('}') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some(_) => {
                    self.entry()?;
                    self.end_of_value()?;
                }
            }
        }
    }

    /// The rest of a `"` string: escapes `\t \n \r \" \\ \xHH`; may span lines.
    fn double_quoted(&mut self, start: &Pos) -> Result<String, ConfError> {
        let mut bytes = Vec::new();
        loop {
            match self.cur.peek() {
                None => {
                    return Err(self.syntax_here(format!(
                        "expected a closing '\"' for the string started at {}, found end of file",
                        line_col(start)
                    )));
                }
                Some('"') => {
                    self.cur.bump();
                    return self.utf8(bytes, start);
                }
                Some('\\') => self.escape(&mut bytes)?,
                Some(c) => {
                    push_char(&mut bytes, c);
                    self.cur.bump();
                }
            }
        }
    }

    /// The rest of a `'` string: taken literally; may span lines.
    fn single_quoted(&mut self, start: &Pos) -> Result<String, ConfError> {
        let mut text = String::new();
        loop {
            match self.cur.bump() {
                None => {
                    return Err(self.syntax_here(format!(
                        "expected a closing \"'\" for the string started at {}, found end of file",
                        line_col(start)
                    )));
                }
                Some('\'') => return Ok(text),
                Some(c) => text.push(c),
            }
        }
    }

    /// `( ... )`: text up to a line holding only `)`, kept verbatim (with the new line
    /// after `(` and the one before `)`, as nats-server keeps them).
    fn block(&mut self) -> Result<Value, ConfError> {
        let open = self.cur.pos();
        self.cur.bump();
        let mut text = String::new();
        loop {
            match self.cur.bump() {
                None => {
                    let opened = line_col(&open);
                    return Err(self.syntax_here(format!(
                        "expected a line with only ')' to close the block opened at {opened}, found end of file"
                    )));
                }
                Some('\n') => {
                    text.push('\n');
                    if self.cur.peek() == Some(')')
                        && matches!(self.cur.peek_second(), None | Some('\n' | '\r'))
                    {
                        self.cur.bump();
                        return Ok(Value::new(ValueKind::String(text), open));
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// A backslash escape in a `"` or unquoted string, appended to `bytes`.
    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), ConfError> {
        let pos = self.cur.pos();
        self.cur.bump();
        let replacement = match self.cur.bump() {
            Some('t') => b'\t',
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('"') => b'"',
            Some('\\') => b'\\',
            Some('x') => {
                let hex: String = [self.cur.bump(), self.cur.bump()]
                    .into_iter()
                    .flatten()
                    .collect();
                u8::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 2 && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        self.syntax(
                            pos.clone(),
                            format!("expected two hexadecimal digits after '\\x', found '{hex}'"),
                        )
                    })?
            }
            c => {
                return Err(self.syntax(
                    pos,
                    format!(
                        "invalid escape {}: expected one of \\xHH, \\t, \\n, \\r, \\\", \\\\",
                        c.map_or_else(|| "at end of file".to_string(), |c| format!("'\\{c}'"))
                    ),
                ));
            }
        };
        bytes.push(replacement);
        Ok(())
    }

    fn utf8(&self, bytes: Vec<u8>, start: &Pos) -> Result<String, ConfError> {
        String::from_utf8(bytes).map_err(|_| {
            self.syntax(
                start.clone(),
                "string is not valid UTF-8 after its \\x escapes",
            )
        })
    }

    /// Unquoted text: a boolean word, a `$variable`, or a string.
    fn unquoted(&mut self) -> Result<Value, ConfError> {
        let pos = self.cur.pos();
        let (text, escaped) = self.unquoted_rest(Vec::new(), &pos)?;
        if escaped {
            return Ok(Value::new(ValueKind::String(text), pos));
        }
        if let Some(b) = as_bool_word(&text) {
            return Ok(Value::new(ValueKind::Bool(b), pos));
        }
        if let Some(name) = text.strip_prefix('$') {
            return self.variable(name, pos);
        }
        Ok(Value::new(ValueKind::String(text), pos))
    }

    /// Continues unquoted text already started in `bytes`; says whether escapes occurred.
    fn unquoted_rest(
        &mut self,
        mut bytes: Vec<u8>,
        start: &Pos,
    ) -> Result<(String, bool), ConfError> {
        let mut escaped = false;
        while !ends_unquoted(self.cur.peek()) {
            match self.cur.peek() {
                Some('\\') => {
                    self.escape(&mut bytes)?;
                    escaped = true;
                }
                Some(c) => {
                    push_char(&mut bytes, c);
                    self.cur.bump();
                }
                None => break,
            }
        }
        Ok((self.utf8(bytes, start)?, escaped))
    }

    /// Text starting with a digit or `-`: an integer (with an optional size suffix), a
    /// float, an ISO-8601 datetime, an IP address with optional port, or a string such as
    /// `10s` or `3xyz`.
    fn number_or_text(&mut self) -> Result<Value, ConfError> {
        let pos = self.cur.pos();
        let mut text = String::new();
        let negative = self.cur.eat('-');
        if negative {
            text.push('-');
            if !self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.syntax_here(format!(
                    "expected a digit after '-', found {}",
                    describe(self.cur.peek())
                )));
            }
        }
        self.take_digits(&mut text);
        match self.cur.peek() {
            Some('-') if !negative && text.len() == 4 => self.datetime(text, pos),
            Some('-') if !negative => Err(self.syntax_here(format!(
                "unexpected '-' after '{text}': datetimes must be in full ISO-8601 Zulu form (2016-05-04T18:53:41Z)"
            ))),
            Some('.') => {
                text.push('.');
                self.cur.bump();
                if !self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.syntax_here(format!(
                        "expected a digit after '.' in '{text}', found {}",
                        describe(self.cur.peek())
                    )));
                }
                self.take_digits(&mut text);
                if !negative && self.cur.peek() == Some('.') {
                    // A second dot: an IP address, maybe with a port or a range.
                    while let Some(c) = self
                        .cur
                        .peek()
                        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
                    {
                        text.push(c);
                        self.cur.bump();
                    }
                    return Ok(Value::new(ValueKind::String(text), pos));
                }
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Value::new(ValueKind::Float(f), pos)),
                    _ => Err(self.syntax(pos, format!("float '{text}' is out of range"))),
                }
            }
            Some(c) if is_size_letter(c) => {
                text.push(c);
                self.cur.bump();
                while let Some(c) = self.cur.peek().filter(|c| matches!(c, 'b' | 'B' | 'i' | 'I')) {
                    text.push(c);
                    self.cur.bump();
                }
                if ends_unquoted(self.cur.peek()) {
                    self.integer(text, pos)
                } else {
                    self.text_from(text, pos)
                }
            }
            // A negative number followed by other text is an error at the value's end,
            // as in nats-server.
            c if negative || ends_unquoted(c) => self.integer(text, pos),
            _ => self.text_from(text, pos),
        }
    }

    fn take_digits(&mut self, text: &mut String) {
        while let Some(c) = self.cur.peek().filter(char::is_ascii_digit) {
            text.push(c);
            self.cur.bump();
        }
    }

    fn integer(&self, text: String, pos: Pos) -> Result<Value, ConfError> {
        match parse_sized_integer(&text) {
            Ok(i) => Ok(Value::new(ValueKind::Integer(i), pos)),
            Err(reason) => Err(self.syntax(pos, format!("invalid integer '{text}': {reason}"))),
        }
    }

    /// Unquoted text that began like a number.
    fn text_from(&mut self, text: String, pos: Pos) -> Result<Value, ConfError> {
        let (text, _) = self.unquoted_rest(text.into_bytes(), &pos)?;
        Ok(Value::new(ValueKind::String(text), pos))
    }

    /// The rest of `YYYY-MM-DDTHH:MM:SSZ` after the year; kept as text.
    fn datetime(&mut self, mut text: String, pos: Pos) -> Result<Value, ConfError> {
        const SHAPE: &str = "-00-00T00:00:00Z";
        for expected in SHAPE.chars() {
            let found = self.cur.peek();
            let ok = match (expected, found) {
                ('0', Some(c)) => c.is_ascii_digit(),
                (e, Some(c)) => e == c,
                (_, None) => false,
            };
            if !ok {
                return Err(self.syntax_here(format!(
                    "expected {} in an ISO-8601 datetime (like 2016-05-04T18:53:41Z), found {}",
                    if expected == '0' {
                        "a digit".to_string()
                    } else {
                        format!("'{expected}'")
                    },
                    describe(found)
                )));
            }
            if let Some(c) = self.cur.bump() {
                text.push(c);
            }
        }
        Ok(Value::new(ValueKind::String(text), pos))
    }

    /// `include path`: the file's entries, relative to this file's directory, are added
    /// to the current block.
    fn include(&mut self, pos: Pos) -> Result<(), ConfError> {
        let name = match self.cur.peek() {
            Some(quote @ ('"' | '\'')) => {
                let start = self.cur.pos();
                self.cur.bump();
                let mut name = String::new();
                loop {
                    match self.cur.bump() {
                        Some(c) if c == quote => break name,
                        Some(c) => name.push(c),
                        None => {
                            let opened = line_col(&start);
                            return Err(self.syntax_here(format!(
                                "expected a closing {quote} for the include path started at {opened}, found end of file"
                            )));
                        }
                    }
                }
            }
            Some(c @ ('[' | '{' | '(')) => {
                return Err(
                    self.syntax_here(format!("expected a file name after 'include', found '{c}'"))
                );
            }
            _ => {
                let mut name = String::new();
                while let Some(c) = self
                    .cur
                    .peek()
                    .filter(|c| !c.is_whitespace() && !matches!(c, ';' | '}'))
                {
                    name.push(c);
                    self.cur.bump();
                }
                name
            }
        };
        if name.is_empty() {
            return Err(self.syntax_here(format!(
                "expected a file name after 'include', found {}",
                describe(self.cur.peek())
            )));
        }
        let path = self.base_dir.join(&name);
        let wrap = |source: ConfError| ConfError::Include {
            pos: pos.clone(),
            path: name.clone(),
            source: Box::new(source),
        };
        if self.shared.open_files.len() >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::IncludeDepth {
                pos,
                max: MAX_INCLUDE_DEPTH,
            });
        }
        let canonical = fs::canonicalize(&path).map_err(|source| {
            wrap(ConfError::Read {
                path: path.clone(),
                source,
            })
        })?;
        if self.shared.open_files.contains(&canonical) {
            return Err(ConfError::IncludeCycle {
                pos,
                path: canonical,
            });
        }
        let included = load_file(&path, canonical, self.shared).map_err(wrap)?;
        self.scopes.current().merge(included);
        Ok(())
    }

    /// `$name`: the nearest earlier key of an enclosing block, else the environment
    /// variable (whose text is read as a configuration value).
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfError> {
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Value::new(ValueKind::String(format!("${name}")), pos));
        }
        if let Some(mut value) = self.scopes.lookup(name) {
            value.pos = pos;
            return Ok(value);
        }
        if self.shared.open_env_vars.iter().any(|open| open == name) {
            return Err(ConfError::VariableCycle {
                pos,
                name: name.to_string(),
            });
        }
        let text = match std::env::var(name) {
            Ok(text) => text,
            Err(std::env::VarError::NotPresent) => {
                return Err(ConfError::UndefinedVariable {
                    pos,
                    name: name.to_string(),
                });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfError::InvalidValue {
                    pos,
                    what: "environment variable",
                    text: name.to_string(),
                    reason: "its value is not valid UTF-8".to_string(),
                });
            }
        };
        self.shared.open_env_vars.push(name.to_string());
        let parsed = Parser::new(&text, None, self.base_dir.clone(), self.shared).lone_value();
        self.shared.open_env_vars.pop();
        match parsed {
            Ok(mut value) => {
                value.relocate(&pos);
                Ok(value)
            }
            Err(source) => Err(ConfError::BadEnvironmentValue {
                pos,
                name: name.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// The whole text is one value (an environment variable's content).
    fn lone_value(mut self) -> Result<Value, ConfError> {
        self.cur.skip_blanks();
        let value = self.value(None)?;
        self.end_of_value()?;
        self.cur.skip_space_and_comments();
        match self.cur.peek() {
            None => Ok(value),
            c => Err(self.syntax_here(format!(
                "expected the end of the value, found {}",
                describe(c)
            ))),
        }
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}
