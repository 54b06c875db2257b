//! Property: random documents written out in the format (with varied separators, quoting
//! and comments) parse back to the same values.

use natrium_conf::{Map, Pos, Value, ValueKind, parse_str};
use proptest::prelude::*;

/// Style choices for the writer, consumed in turn so one document mixes all styles.
struct Style {
    bytes: Vec<u8>,
    next: usize,
}

impl Style {
    fn pick(&mut self, n: u8) -> u8 {
        let b = self
            .bytes
            .get(self.next % self.bytes.len().max(1))
            .copied()
            .unwrap_or(0);
        self.next += 1;
        b % n
    }
}

/// Text that may be written unquoted and reads back as the same string. (`//` would
/// start a comment inside an array, as in nats-server.)
fn is_plain(text: &str) -> bool {
    let mut chars = text.chars();
    if text.starts_with("//") {
        return false;
    }
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '-'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off"
        )
}

fn write_string(out: &mut String, text: &str, style: &mut Style) {
    match style.pick(3) {
        0 if is_plain(text) => out.push_str(text),
        1 if !text.contains('\'') => {
            out.push('\'');
            out.push_str(text);
            out.push('\'');
        }
        _ => {
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
}

fn write_key(out: &mut String, key: &str, style: &mut Style) {
    let plain_key = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !key.eq_ignore_ascii_case("include");
    if plain_key && style.pick(2) == 0 {
        out.push_str(key);
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
}

fn write_value(out: &mut String, value: &Value, style: &mut Style) {
    match &value.kind {
        ValueKind::String(text) => write_string(out, text, style),
        ValueKind::Integer(i) => {
            if *i != 0 && i % 1024 == 0 && style.pick(2) == 0 {
                out.push_str(&format!("{}kb", i / 1024));
            } else if *i != 0 && i % 1000 == 0 && style.pick(2) == 0 {
                out.push_str(&format!("{}K", i / 1000));
            } else {
                out.push_str(&i.to_string());
            }
        }
        ValueKind::Float(f) => {
            let text = f.to_string();
            out.push_str(&text);
            if !text.contains('.') {
                out.push_str(".0");
            }
        }
        ValueKind::Bool(b) => {
            let words = if *b {
                ["true", "yes", "on", "TRUE"]
            } else {
                ["false", "no", "off", "Off"]
            };
            out.push_str(words[style.pick(4) as usize]);
        }
        ValueKind::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(match style.pick(3) {
                        0 => ", ",
                        1 => "\n",
                        _ => " # note\n",
                    });
                }
                write_value(out, item, style);
            }
            if !items.is_empty() && style.pick(2) == 0 {
                out.push(',');
            }
            out.push(']');
        }
        ValueKind::Map(map) => {
            out.push_str("{\n");
            write_entries(out, map, style);
            out.push('}');
        }
    }
}

fn write_entries(out: &mut String, map: &Map, style: &mut Style) {
    for entry in map {
        write_key(out, entry.key(), style);
        out.push_str(match style.pick(4) {
            0 => ": ",
            1 => " = ",
            2 => "=",
            _ => " ",
        });
        write_value(out, entry.value(), style);
        out.push_str(match style.pick(5) {
            0 => "\n",
            1 => ";\n",
            2 => ",\n",
            3 => " // trailing comment\n",
            _ => " # trailing comment\n\n",
        });
    }
}

fn pos() -> Pos {
    Pos::new(None, 1, 1)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(ValueKind::String),
        "[a-z/_][a-zA-Z0-9_./:-]{0,12}".prop_map(ValueKind::String),
        any::<i64>().prop_map(ValueKind::Integer),
        (-1000i64..1000).prop_map(|i| ValueKind::Integer(i * 1024)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(ValueKind::Float),
        any::<bool>().prop_map(ValueKind::Bool),
    ]
    .prop_map(|kind| Value::new(kind, pos()))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z_][a-zA-Z0-9_.-]{0,10}", "[^\"]{0,8}"]
}

fn map_of(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Map> {
    proptest::collection::vec((key(), inner), 0..6).prop_map(|entries| {
        let mut map = Map::new();
        for (k, v) in entries {
            map.insert(k, pos(), v);
        }
        map
    })
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| Value::new(ValueKind::Array(items), pos())),
            map_of(inner).prop_map(|m| Value::new(ValueKind::Map(m), pos())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn written_documents_parse_back_equal(
        doc in map_of(value()),
        style in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let mut text = String::new();
        write_entries(&mut text, &doc, &mut Style { bytes: style, next: 0 });
        let parsed = parse_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))?;
        let parsed = parsed.as_map().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, &doc, "text:\n{}", text);
    }
}
