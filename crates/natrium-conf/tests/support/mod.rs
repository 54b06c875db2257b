//! Helpers shared by the integration tests.

#![allow(dead_code)]

use natrium_conf::{ConfError, Map, Value, ValueKind, parse_str};

/// Parses `text`, failing the test with the error message if it does not parse.
pub fn parse(text: &str) -> Map {
    match parse_str(text) {
        Ok(value) => value.as_map().expect("document is a map").clone(),
        Err(e) => panic!("expected {text:?} to parse, got: {e}"),
    }
}

/// Parses `text`, failing the test if it parses.
pub fn parse_err(text: &str) -> ConfError {
    match parse_str(text) {
        Ok(value) => panic!("expected {text:?} to fail, got {value:?}"),
        Err(e) => e,
    }
}

/// The value of `key` in `map`, failing the test if it is absent.
pub fn get<'a>(map: &'a Map, key: &str) -> &'a Value {
    map.get(key)
        .unwrap_or_else(|| panic!("key {key:?} missing in {map:?}"))
}

/// The kind of `key`'s value.
pub fn kind<'a>(map: &'a Map, key: &str) -> &'a ValueKind {
    &get(map, key).kind
}

/// A string kind.
pub fn s(text: &str) -> ValueKind {
    ValueKind::String(text.to_string())
}

/// An integer kind.
pub fn int(i: i64) -> ValueKind {
    ValueKind::Integer(i)
}
