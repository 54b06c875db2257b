//! The nats-server configuration file format.
//!
//! ```text
//! # comments with '#' or '//'
//! port: 4222                      # 'key: value', 'key = value' and 'key value'
//! listen = 127.0.0.1:4222          # addresses need no quotes
//! max_payload 1MB                  # 1MB = 1024*1024; 1m = 1000*1000
//! ping_interval: "2m"              # durations are strings (see Value::as_duration)
//! debug: on                        # true/false, yes/no, on/off
//! NAME: "demo"
//! server_name: $NAME               # earlier keys, then the environment
//! authorization {
//!   include ./users.conf           # relative to the including file
//!   users = [ {user: a, password: b}, {user: c, password: d} ]
//! }
//! banner (
//! a block string, up to a line holding only ')'
//! )
//! ```
//!
//! [`parse_file`] and [`parse_str`] return the document as a [`Value`] holding a
//! [`Map`]; every value, key and error carries its [`Pos`] (file, line, column).
//!
//! ```
//! use std::time::Duration;
//!
//! let doc = natrium_conf::parse_str(
//!     "port: 4222\nmax_payload: 64KB\nping_interval: \"30s\"\nmystery: 1\n",
//! )?;
//! let opts = doc.as_map()?;
//! let port = opts.get("port").map(|v| v.as_i64()).transpose()?;
//! assert_eq!(port, Some(4222));
//! assert_eq!(opts.get("max_payload").unwrap().as_size()?, 64 * 1024);
//! assert_eq!(opts.get("PING_INTERVAL").unwrap().as_duration()?, Duration::from_secs(30));
//! for entry in opts.keys_not_in(&["port", "max_payload", "ping_interval"]) {
//!     // A server would log: "unknown field \"mystery\" at 4:1"
//!     assert_eq!((entry.key(), entry.key_pos().to_string()), ("mystery", "4:1".to_string()));
//! }
//! let err = opts.get("port").unwrap().as_str().unwrap_err();
//! assert_eq!(err.to_string(), "1:7: expected a string, found an integer");
//! # Ok::<(), natrium_conf::ConfError>(())
//! ```

mod cursor;
mod duration;
mod error;
mod map;
mod number;
mod parser;
mod pos;
mod scopes;
mod value;

use std::path::Path;
use std::sync::Arc;

pub use duration::{DurationError, parse_duration};
pub use error::ConfError;
pub use map::{Entry, Map};
pub use parser::{MAX_INCLUDE_DEPTH, MAX_NESTING};
pub use pos::Pos;
pub use value::{Value, ValueKind};

/// Reads and parses the configuration file at `path`, expanding `include`s (relative
/// to the directory of the file that names them) and `$variable`s.
///
/// The result is a [`ValueKind::Map`] positioned at line 1, column 1 of the file.
pub fn parse_file(path: &Path) -> Result<Value, ConfError> {
    let map = parser::parse_file(path)?;
    Ok(Value::new(
        ValueKind::Map(map),
        Pos::new(Some(Arc::from(path)), 1, 1),
    ))
}

/// Parses configuration text; `include`s are relative to the current directory.
///
/// The result is a [`ValueKind::Map`] positioned at line 1, column 1.
pub fn parse_str(text: &str) -> Result<Value, ConfError> {
    let map = parser::parse_str(text)?;
    Ok(Value::new(ValueKind::Map(map), Pos::new(None, 1, 1)))
}
