//! Durations written the way Go's `time.ParseDuration` reads them (`"2m"`, `"1h30m"`,
//! `"1.5s"`, `"250ms"`), which is what nats-server uses for its duration fields.

use std::time::Duration;

/// Nanoseconds per unit, longest unit names first so `ms` is not read as `m` + `s`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's durations are signed 64-bit nanoseconds; larger values are rejected as Go does.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a duration string was refused. Displays as Go's `time.ParseDuration` error, which is
/// what nats-server puts after `error parsing <field>: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all (no number, a stray character, or too long for Go's
    /// 64-bit nanoseconds).
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A number without a unit (`"10"`).
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    /// A unit Go does not know (`"1d"`).
    #[error("time: unknown unit \"{unit}\" in duration \"{text}\"")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole duration as written.
        text: String,
    },
    /// A negative duration: Go accepts it, but every nats-server duration field is a
    /// length of time, so natrium refuses it rather than misbehave later.
    #[error("time: negative duration \"{0}\" is not allowed")]
    Negative(String),
}

/// Parses a duration in Go's syntax (`"2m"`, `"1h30m"`, `"1.5s"`, `"250ms"`), as nats-server
/// reads every duration string, with Go's error texts.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(natrium_conf::parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// let err = natrium_conf::parse_duration("5x").unwrap_err();
/// assert_eq!(err.to_string(), r#"time: unknown unit "x" in duration "5x""#);
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    parse_go_duration(text).map_err(|e| match e {
        TermError::Invalid => DurationError::Invalid(text.to_string()),
        TermError::MissingUnit => DurationError::MissingUnit(text.to_string()),
        TermError::UnknownUnit(unit) => DurationError::UnknownUnit {
            unit,
            text: text.to_string(),
        },
        TermError::Negative => DurationError::Negative(text.to_string()),
    })
}

/// What is wrong, before the whole text is attached.
#[derive(Debug, PartialEq, Eq)]
enum TermError {
    Invalid,
    MissingUnit,
    UnknownUnit(String),
    Negative,
}

fn parse_go_duration(text: &str) -> Result<Duration, TermError> {
    let mut rest = text;
    if let Some(unsigned) = rest.strip_prefix('+') {
        rest = unsigned;
    } else if rest.starts_with('-') {
        return Err(TermError::Negative);
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(TermError::Invalid);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = parse_term(rest)?;
        total = total
            .checked_add(nanos)
            .filter(|&t| t <= MAX_NANOS)
            .ok_or(TermError::Invalid)?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| TermError::Invalid)?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| TermError::Invalid)?;
    Ok(Duration::new(secs, nanos))
}

/// Reads one `number unit` term, returning its nanoseconds and the text after it.
fn parse_term(text: &str) -> Result<(u128, &str), TermError> {
    let int_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (int_part, mut rest) = text.split_at(int_end);
    let mut frac_part = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        (frac_part, rest) = after_dot.split_at(frac_end);
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(TermError::Invalid);
    }
    let unit_end = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, after) = rest.split_at(unit_end);
    if unit.is_empty() {
        return Err(TermError::MissingUnit);
    }
    let &(_, unit_nanos) = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| TermError::UnknownUnit(unit.to_string()))?;
    let too_long = || TermError::Invalid;
    let whole: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| too_long())?
    };
    let mut nanos = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
    // Digits beyond 18 cannot change the result by a whole nanosecond for any unit here.
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    if !frac_digits.is_empty() {
        let numerator: u128 = frac_digits.parse().map_err(|_| too_long())?;
        let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| too_long())?);
        nanos += numerator * unit_nanos / scale;
    }
    if nanos > MAX_NANOS {
        return Err(too_long());
    }
    Ok((nanos, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse_go_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_go_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_go_duration("3µs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_go_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("+5s"), Ok(Duration::from_secs(5)));
        assert_eq!(
            parse_go_duration("1h1m1s1ms"),
            Ok(Duration::from_millis(3_661_001))
        );
    }

    #[test]
    fn rejects_what_go_rejects_with_gos_texts() {
        let err = |t: &str| parse_duration(t).unwrap_err().to_string();
        assert_eq!(err(""), r#"time: invalid duration """#);
        assert_eq!(err("10"), r#"time: missing unit in duration "10""#);
        assert_eq!(err("10x"), r#"time: unknown unit "x" in duration "10x""#);
        assert_eq!(err("1d"), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(err("s"), r#"time: invalid duration "s""#);
        assert_eq!(err(".s"), r#"time: invalid duration ".s""#);
        assert_eq!(err("3000000h"), r#"time: invalid duration "3000000h""#);
        assert_eq!(
            err("-1s"),
            r#"time: negative duration "-1s" is not allowed"#
        );
    }
}
