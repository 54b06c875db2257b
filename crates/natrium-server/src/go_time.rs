//! Go's time text, as nats-server reads and writes it: RFC 3339 instants (`time.Parse(
//! time.RFC3339, ...)` with Go's error texts, and the writing of an instant in the offset it
//! was given in), and durations as Go prints them (`1m30s`). Monitoring and JetStream both
//! write them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Go's `time.RFC3339` layout, named in parse errors.
const LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// An instant and the UTC offset (seconds east) its text was written in; `None` for `Z`.
pub(crate) type Parsed = (SystemTime, Option<i32>);

/// Parses `text` as Go does; the error is Go's (`parsing time "x" as "2006-...": cannot
/// parse "x" as "2006"`, `... month out of range`, `... extra text: "..."`).
pub(crate) fn parse(text: &str) -> Result<Parsed, String> {
    let cannot = |rest: &str, elem: &str| {
        format!("parsing time {text:?} as {LAYOUT:?}: cannot parse {rest:?} as {elem:?}")
    };
    let out_of_range = |what: &str| format!("parsing time {text:?}: {what} out of range");
    let mut rest = text;
    let number = |rest: &mut &str, width: usize, elem: &str| -> Result<i64, String> {
        let digits = rest
            .get(..width)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let Some(digits) = digits else {
            return Err(cannot(rest, elem));
        };
        *rest = &rest[width..];
        Ok(digits.parse().unwrap_or(0))
    };
    let literal = |rest: &mut &str, lit: &str| -> Result<(), String> {
        match rest.strip_prefix(lit) {
            Some(after) => {
                *rest = after;
                Ok(())
            }
            None => Err(cannot(rest, lit)),
        }
    };
    let year = number(&mut rest, 4, "2006")?;
    literal(&mut rest, "-")?;
    let month = number(&mut rest, 2, "01")?;
    literal(&mut rest, "-")?;
    let day = number(&mut rest, 2, "02")?;
    literal(&mut rest, "T")?;
    let hour = number(&mut rest, 2, "15")?;
    literal(&mut rest, ":")?;
    let minute = number(&mut rest, 2, "04")?;
    literal(&mut rest, ":")?;
    let second = number(&mut rest, 2, "05")?;
    // A fraction after the seconds is accepted although the layout has none.
    let mut nanos = 0u32;
    if let Some(after) = rest.strip_prefix('.') {
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(cannot(rest, "Z07:00"));
        }
        let frac = &after[..n];
        let padded: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = padded.parse().unwrap_or(0);
        rest = &after[n..];
    }
    let offset = if let Some(after) = rest.strip_prefix('Z') {
        rest = after;
        None
    } else {
        let sign = match rest.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(cannot(rest, "Z07:00")),
        };
        let zone = &rest[1..];
        let ok = zone.len() >= 5
            && zone.as_bytes()[2] == b':'
            && zone[..2].bytes().all(|b| b.is_ascii_digit())
            && zone[3..5].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(cannot(rest, "Z07:00"));
        }
        let hours: i32 = zone[..2].parse().unwrap_or(0);
        let minutes: i32 = zone[3..5].parse().unwrap_or(0);
        rest = &zone[5..];
        Some(sign * (hours * 3600 + minutes * 60))
    };
    if !rest.is_empty() {
        return Err(format!("parsing time {text:?}: extra text: {rest:?}"));
    }
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(out_of_range("day"));
    }
    if hour > 23 {
        return Err(out_of_range("hour"));
    }
    if minute > 59 {
        return Err(out_of_range("minute"));
    }
    if second > 59 {
        return Err(out_of_range("second"));
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix = local - i64::from(offset.unwrap_or(0));
    let time = if unix >= 0 {
        UNIX_EPOCH + Duration::new(unix.unsigned_abs(), nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
            + Duration::from_nanos(u64::from(nanos))
    };
    Ok((time, offset))
}

/// Writes `time` as Go's `RFC3339Nano` in `offset` (seconds east; `None` for `Z`): the
/// fraction without trailing zeros, no dot when it is zero.
pub(crate) fn format(time: SystemTime, offset: Option<i32>) -> String {
    let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = -(d.as_secs() as i64);
            match d.subsec_nanos() {
                0 => (secs, 0),
                n => (secs - 1, 1_000_000_000 - n),
            }
        }
    };
    let local = secs + i64::from(offset.unwrap_or(0));
    let days = local.div_euclid(86_400);
    let of_day = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    match offset {
        None => out.push('Z'),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            let o = o.abs();
            out.push_str(&format!("{sign}{:02}:{:02}", o / 3600, o / 60 % 60));
        }
    }
    out
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration as Go prints one: `0s`, `850ns`, `1.5µs`, `16.052976ms`, `2m0s`, `1h0m0.5s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", with_fraction(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!(
            "{}ms",
            with_fraction(nanos / 1_000_000, nanos % 1_000_000, 6)
        );
    }
    let secs = nanos / 1_000_000_000;
    let seconds = with_fraction(secs % 60, nanos % 1_000_000_000, 9);
    let (mins, hours) = ((secs / 60) % 60, secs / 3600);
    if hours > 0 {
        format!("{hours}h{mins}m{seconds}s")
    } else if mins > 0 {
        format!("{mins}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `whole.fraction` with the fraction zero-padded to `digits` and trailing zeros trimmed.
fn with_fraction(whole: u128, fraction: u128, digits: usize) -> String {
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_the_offset_it_was_written_in() {
        for text in [
            "2026-12-05T10:00:00.5+01:00",
            "2030-01-01T00:00:00Z",
            "1999-02-28T23:59:59.123456789-05:30",
            "2024-02-29T12:00:00Z",
        ] {
            let (time, offset) = parse(text).unwrap();
            assert_eq!(format(time, offset), text);
        }
        let (a, _) = parse("2026-12-05T10:00:00+01:00").unwrap();
        let (b, _) = parse("2026-12-05T09:00:00Z").unwrap();
        assert_eq!(a, b, "the same instant");
    }

    #[test]
    fn errors_are_gos() {
        let cases = [
            (
                "a",
                r#"parsing time "a" as "2006-01-02T15:04:05Z07:00": cannot parse "a" as "2006""#,
            ),
            (
                "2026-1-01T00:00:00Z",
                r#"parsing time "2026-1-01T00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "1-01T00:00:00Z" as "01""#,
            ),
            (
                "2026-01-01 00:00:00Z",
                r#"parsing time "2026-01-01 00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:00:00Z" as "T""#,
            ),
            (
                "2026-01-01T00:00:00",
                r#"parsing time "2026-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#,
            ),
            (
                "2026-13-01T00:00:00Z",
                r#"parsing time "2026-13-01T00:00:00Z": month out of range"#,
            ),
            (
                "2026-01-01T00:00:00Zx",
                r#"parsing time "2026-01-01T00:00:00Zx": extra text: "x""#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
    }
}
