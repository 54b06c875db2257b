//! Message headers: multi-valued, looked up case-insensitively, order-preserving.

use std::str::FromStr;

use crate::error::{Error, Result};

/// Headers of a NATS message.
///
/// A header name may carry several values. Lookups ignore ASCII case (`trace-id` finds
/// `Trace-Id`), while the name is sent exactly as it was given. Every header reaches the
/// wire: converting to [`async_nats::HeaderMap`] keeps every value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to the single value `value`, replacing earlier values of that name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.remove(&name);
        self.entries.push((name, value.into()));
        self
    }

    /// Adds one more value for `name`, keeping earlier ones.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.entries.push((name.into(), value.into()));
        self
    }

    /// Builder form of [`Headers::append`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.append(name, value);
        self
    }

    /// The first value of `name`, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order, ignoring ASCII case.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` has at least one value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every value of `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before - self.entries.len()
    }

    /// Removes every header, keeping the allocation for reuse.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of (name, value) pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (name, value) pair in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Adds every pair of `other`.
    pub fn extend(&mut self, other: &Headers) {
        self.entries.extend(other.entries.iter().cloned());
    }

    /// Checks that every name and value can be written on the wire.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in &self.entries {
            if name.is_empty() {
                return Err(Error::InvalidHeader {
                    name: name.clone(),
                    reason: "names must not be empty",
                });
            }
            async_nats::HeaderName::from_str(name).map_err(|_| Error::InvalidHeader {
                name: name.clone(),
                reason: "names must be non-empty printable ASCII without ':' or whitespace",
            })?;
            async_nats::HeaderValue::from_str(value).map_err(|_| Error::InvalidHeader {
                name: name.clone(),
                reason: "values must not contain CR or LF",
            })?;
        }
        Ok(())
    }

    /// Converts to the async-nats representation, keeping every value.
    pub fn to_header_map(&self) -> Result<async_nats::HeaderMap> {
        self.validate()?;
        let mut map = async_nats::HeaderMap::new();
        for (name, value) in &self.entries {
            // Both were validated above, so these conversions cannot fail.
            if let (Ok(n), Ok(v)) = (
                async_nats::HeaderName::from_str(name),
                async_nats::HeaderValue::from_str(value),
            ) {
                map.append(n, v);
            }
        }
        Ok(map)
    }
}

impl From<&async_nats::HeaderMap> for Headers {
    fn from(map: &async_nats::HeaderMap) -> Self {
        let mut headers = Headers::new();
        for (name, values) in map.iter() {
            for value in values {
                headers.append(name.to_string(), value.as_str());
            }
        }
        headers
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (n, v) in iter {
            headers.append(n, v);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_keeps_every_value() {
        let mut h = Headers::new();
        h.append("Trace-Id", "a")
            .append("trace-id", "b")
            .append("X", "1");
        assert_eq!(h.get("TRACE-ID"), Some("a"));
        assert_eq!(h.get_all("Trace-id").collect::<Vec<_>>(), ["a", "b"]);
        h.insert("TRACE-ID", "c");
        assert_eq!(h.get_all("trace-id").collect::<Vec<_>>(), ["c"]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn round_trips_through_async_nats_header_map() {
        let h = Headers::new().with("A", "1").with("A", "2").with("B", "3");
        let map = h.to_header_map().unwrap();
        let back = Headers::from(&map);
        assert_eq!(back.get_all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(back.get("b"), Some("3"));
    }

    #[test]
    fn invalid_headers_are_rejected_not_panicking() {
        let bad_value = Headers::new().with("A", "x\r\ny");
        assert!(matches!(
            bad_value.to_header_map(),
            Err(Error::InvalidHeader { .. })
        ));
        let bad_name = Headers::new().with("A:B", "x");
        assert!(matches!(
            bad_name.to_header_map(),
            Err(Error::InvalidHeader { .. })
        ));
    }
}
