//! `-H key:value` arguments and the readable rendering of received headers.

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};

/// A header argument that is not `key:value` or uses characters NATS forbids.
#[derive(Debug, thiserror::Error)]
pub enum HeaderArgError {
    /// No `:` separates the name from the value.
    #[error("header {0:?} must be written as key:value")]
    MissingColon(String),
    /// The name is empty or contains characters not allowed in a header name.
    #[error("header {arg:?} has an invalid name: {reason}")]
    InvalidName {
        /// The argument as given.
        arg: String,
        /// Why the client rejected it.
        reason: String,
    },
    /// The value contains characters not allowed in a header value.
    #[error("header {arg:?} has an invalid value: {reason}")]
    InvalidValue {
        /// The argument as given.
        arg: String,
        /// Why the client rejected it.
        reason: String,
    },
}

/// Parses `key:value` arguments into a header map; a repeated key keeps every value.
pub fn parse(args: &[String]) -> Result<HeaderMap, HeaderArgError> {
    let mut map = HeaderMap::new();
    for arg in args {
        let (name, value) = arg
            .split_once(':')
            .ok_or_else(|| HeaderArgError::MissingColon(arg.clone()))?;
        if name.trim().is_empty() {
            return Err(HeaderArgError::InvalidName {
                arg: arg.clone(),
                reason: "the name is empty".to_owned(),
            });
        }
        let name: HeaderName =
            name.trim()
                .parse()
                .map_err(|err: async_nats::header::ParseHeaderNameError| {
                    HeaderArgError::InvalidName {
                        arg: arg.clone(),
                        reason: err.to_string(),
                    }
                })?;
        let value: HeaderValue =
            value
                .trim()
                .parse()
                .map_err(|err: async_nats::header::ParseHeaderValueError| {
                    HeaderArgError::InvalidValue {
                        arg: arg.clone(),
                        reason: err.to_string(),
                    }
                })?;
        map.append(name, value);
    }
    Ok(map)
}

/// Renders headers as `Name: value` lines, sorted by name so output is stable.
pub fn render(headers: &HeaderMap) -> String {
    let mut lines: Vec<String> = headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| format!("{}: {}", name.as_ref() as &str, value.as_str()))
        })
        .collect();
    lines.sort();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_repeated_headers() {
        let map = parse(&["B: 2".into(), "A:1".into(), "B:3".into()]).expect("valid headers");
        assert_eq!(render(&map), "A: 1\nB: 2\nB: 3\n");
    }

    #[test]
    fn value_may_contain_colons() {
        let map = parse(&["Url:http://x:1".into()]).expect("valid header");
        assert_eq!(render(&map), "Url: http://x:1\n");
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(
            parse(&["novalue".into()]),
            Err(HeaderArgError::MissingColon(_))
        ));
        assert!(matches!(
            parse(&["bad name:1".into()]),
            Err(HeaderArgError::InvalidName { .. })
        ));
        assert!(matches!(
            parse(&[":1".into()]),
            Err(HeaderArgError::InvalidName { .. })
        ));
    }
}
