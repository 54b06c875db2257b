//! Value formats of nats-server's monitoring JSON, which monitoring tools parse: timestamps
//! as RFC 3339 with trimmed nanoseconds, `uptime`/`idle` as `1d2h3m4s`, `rtt` as a Go
//! duration string, and floats that print `2` rather than `2.0` when whole.

use std::time::{Duration, SystemTime};

use serde::Serializer;

pub(crate) use crate::go_time::go_duration;

/// `2026-11-27T03:24:26.97030919Z`: UTC, nanoseconds with trailing zeros trimmed.
pub(crate) fn timestamp(t: SystemTime) -> String {
    let mut text = humantime::format_rfc3339_nanos(t).to_string();
    // `...SS.nnnnnnnnnZ`: drop trailing zeros of the fraction, and the dot if nothing is left.
    if let Some(dot) = text.rfind('.') {
        let body = text[dot + 1..text.len() - 1]
            .trim_end_matches('0')
            .to_owned();
        text.truncate(dot);
        if !body.is_empty() {
            text.push('.');
            text.push_str(&body);
        }
        text.push('Z');
    }
    text
}

/// Serializes a timestamp with [`timestamp`].
pub(crate) fn serialize_timestamp<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(*t))
}

/// Serializes an optional timestamp (only used with `skip_serializing_if = "Option::is_none"`).
pub(crate) fn serialize_opt_timestamp<S: Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_timestamp(t, s),
        None => s.serialize_none(),
    }
}

/// Whole seconds as `1y2d3h4m5s`, leaving out leading zero units (`0s`, `3m7s`).
pub(crate) fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// The time between `from` and `to`, or zero when the clock went backwards.
pub(crate) fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

/// A measured round trip as nats-server reports it: microsecond precision between 1 µs and
/// 1 ms, nanoseconds otherwise; `0s` when not measured yet.
pub(crate) fn rtt(rtt: Option<Duration>) -> String {
    let Some(d) = rtt else {
        return "0s".to_owned();
    };
    if d > Duration::from_micros(1) && d < Duration::from_millis(1) {
        go_duration(Duration::from_micros(d.as_micros() as u64))
    } else {
        go_duration(d)
    }
}

/// Serializes a float as Go's encoder does for whole values: `2`, not `2.0`.
pub(crate) fn serialize_go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// A duration in nanoseconds, as Go's `time.Duration` marshals.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn timestamps_trim_trailing_zeros() {
        let t = UNIX_EPOCH + Duration::new(1_800_000_000, 970_309_190);
        assert_eq!(timestamp(t), "2027-01-15T08:00:00.97030919Z");
        let t = UNIX_EPOCH + Duration::new(1_800_000_000, 0);
        assert_eq!(timestamp(t), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn uptime_units() {
        assert_eq!(uptime(Duration::from_millis(999)), "0s");
        assert_eq!(uptime(Duration::from_secs(187)), "3m7s");
        assert_eq!(uptime(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(850)), "850ns");
        assert_eq!(go_duration(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(go_duration(Duration::from_micros(289)), "289µs");
        assert_eq!(go_duration(Duration::from_nanos(16_052_976)), "16.052976ms");
        assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_duration(Duration::from_millis(3_600_500)), "1h0m0.5s");
        // Marker TTLs (`Nats-TTL`) are written this way too.
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn rtt_truncates_like_nats_server() {
        assert_eq!(rtt(None), "0s");
        assert_eq!(rtt(Some(Duration::from_nanos(289_123))), "289µs");
        assert_eq!(rtt(Some(Duration::from_nanos(1_234_567))), "1.234567ms");
    }

    #[test]
    fn whole_floats_print_as_integers() {
        let json = |v: f64| {
            let mut out = Vec::new();
            serialize_go_float(&v, &mut serde_json::Serializer::new(&mut out)).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(json(2.0), "2");
        assert_eq!(json(0.0), "0");
        assert_eq!(json(0.5), "0.5");
    }
}
