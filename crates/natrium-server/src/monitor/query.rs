//! Query parameters as nats-server decodes them, with its error texts (a `400 Bad Request`
//! whose body names the parameter and the bad value).

use std::collections::HashMap;

/// A bad query parameter; the text is the response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct QueryError(pub String);

fn value<'a>(params: &'a HashMap<String, String>, name: &str) -> &'a str {
    params.get(name).map(String::as_str).unwrap_or("")
}

/// A boolean: `1 t T TRUE true True` or `0 f F FALSE false False`; absent or empty is false.
pub(crate) fn bool_param(params: &HashMap<String, String>, name: &str) -> Result<bool, QueryError> {
    match value(params, name) {
        "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        other => Err(QueryError(format!(
            "Error decoding boolean for '{name}': strconv.ParseBool: parsing \"{other}\": invalid syntax"
        ))),
    }
}

/// A signed integer; absent or empty is 0.
pub(crate) fn int_param(params: &HashMap<String, String>, name: &str) -> Result<i64, QueryError> {
    let text = value(params, name);
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<i64>().map_err(|e| {
        QueryError(format!(
            "Error decoding int for '{name}': strconv.Atoi: parsing \"{text}\": {}",
            number_error(&e)
        ))
    })
}

/// An unsigned integer; absent or empty is 0.
pub(crate) fn uint_param(params: &HashMap<String, String>, name: &str) -> Result<u64, QueryError> {
    let text = value(params, name);
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<u64>().map_err(|e| {
        QueryError(format!(
            "Error decoding uint64 for '{name}': strconv.ParseUint: parsing \"{text}\": {}",
            number_error(&e)
        ))
    })
}

fn number_error(e: &std::num::ParseIntError) -> &'static str {
    use std::num::IntErrorKind;
    match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(k: &str, v: &str) -> HashMap<String, String> {
        HashMap::from([(k.to_owned(), v.to_owned())])
    }

    #[test]
    fn booleans_as_go_parses_them() {
        assert_eq!(bool_param(&params("subs", "1"), "subs"), Ok(true));
        assert_eq!(bool_param(&params("subs", "True"), "subs"), Ok(true));
        assert_eq!(bool_param(&HashMap::new(), "subs"), Ok(false));
        assert_eq!(
            bool_param(&params("subs", "yes"), "subs").unwrap_err().0,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }

    #[test]
    fn integers_with_nats_server_errors() {
        assert_eq!(int_param(&params("limit", "-3"), "limit"), Ok(-3));
        assert_eq!(
            int_param(&params("limit", "x"), "limit").unwrap_err().0,
            "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            uint_param(&params("cid", "-1"), "cid").unwrap_err().0,
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
    }
}
