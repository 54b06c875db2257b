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

/// Parses a Go duration string. Negative durations are rejected: every nats-server
/// duration field is a length of time. The error says what is wrong (no position).
pub(crate) fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text;
    if let Some(unsigned) = rest.strip_prefix('+') {
        rest = unsigned;
    } else if rest.starts_with('-') {
        return Err("durations must not be negative".to_string());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err("expected a number followed by a unit (ns, us, ms, s, m, h)".to_string());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = parse_term(rest)?;
        total = total
            .checked_add(nanos)
            .filter(|&t| t <= MAX_NANOS)
            .ok_or_else(|| "duration is too long".to_string())?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| "duration is too long")?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| "duration is too long")?;
    Ok(Duration::new(secs, nanos))
}

/// Reads one `number unit` term, returning its nanoseconds and the text after it.
fn parse_term(text: &str) -> Result<(u128, &str), String> {
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
        return Err("expected a number followed by a unit (ns, us, ms, s, m, h)".to_string());
    }
    let unit_end = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, after) = rest.split_at(unit_end);
    if unit.is_empty() {
        return Err("missing unit (ns, us, ms, s, m or h) after the number".to_string());
    }
    let &(_, unit_nanos) = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| format!("unknown unit '{unit}' (expected ns, us, ms, s, m or h)"))?;
    let too_long = || "duration is too long".to_string();
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
    fn rejects_what_go_rejects() {
        assert!(parse_go_duration("").is_err());
        assert!(
            parse_go_duration("10")
                .unwrap_err()
                .contains("missing unit")
        );
        assert!(
            parse_go_duration("10x")
                .unwrap_err()
                .contains("unknown unit 'x'")
        );
        assert!(
            parse_go_duration("1d")
                .unwrap_err()
                .contains("unknown unit 'd'")
        );
        assert!(parse_go_duration("s").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("-1s").unwrap_err().contains("negative"));
        assert!(
            parse_go_duration("3000000h")
                .unwrap_err()
                .contains("too long")
        );
    }
}
