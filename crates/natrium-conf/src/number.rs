//! Integers with nats-server's size suffixes: `k`, `m`, `g`, ... are powers of 1000,
//! `kb`/`ki`/`kib`, `mb`/`mi`/`mib`, ... are powers of 1024 (any letter case).

/// The factor a size suffix stands for, or `None` if it is not one nats-server knows.
pub(crate) fn size_multiplier(suffix: &str) -> Option<i64> {
    let suffix = suffix.to_ascii_lowercase();
    let (letter, binary) = match suffix.as_str() {
        "" => return Some(1),
        s if s.len() == 1 => (s.as_bytes()[0], false),
        // `get`: a suffix may start with a multi-byte character (found by fuzzing).
        s if matches!(s.get(1..), Some("b" | "i" | "ib")) => (s.as_bytes()[0], true),
        _ => return None,
    };
    let power = match letter {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        b'e' => 6,
        _ => return None,
    };
    let base: i64 = if binary { 1024 } else { 1000 };
    Some(base.pow(power))
}

/// Reads `[-]digits[suffix]` as nats-server does: the digits times the suffix's factor.
/// The error says what is wrong, without position (the caller adds it).
pub(crate) fn parse_sized_integer(text: &str) -> Result<i64, String> {
    let digits_end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(digits_end);
    if number.is_empty() || number == "-" {
        return Err("expected digits".to_string());
    }
    let number: i64 = number
        .parse()
        .map_err(|_| "integer is out of the 64-bit range".to_string())?;
    let factor = size_multiplier(suffix).ok_or_else(|| {
        format!(
            "unknown size suffix '{suffix}' (expected k, kb, ki, kib, m, mb, mi, mib, g, gb, t, tb, p, pb, e or eb)"
        )
    })?;
    number
        .checked_mul(factor)
        .ok_or_else(|| "integer is out of the 64-bit range".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_starting_with_a_multi_byte_character_is_refused() {
        // fuzz/artifacts: `port: 4` followed by a byte order mark.
        assert_eq!(size_multiplier("\u{feff}"), None);
        assert!(parse_sized_integer("4\u{feff}").is_err());
    }

    #[test]
    fn decimal_and_binary_suffixes_follow_nats() {
        assert_eq!(parse_sized_integer("8k"), Ok(8_000));
        assert_eq!(parse_sized_integer("4kb"), Ok(4_096));
        assert_eq!(parse_sized_integer("3Ki"), Ok(3_072));
        assert_eq!(parse_sized_integer("4KiB"), Ok(4_096));
        assert_eq!(parse_sized_integer("1m"), Ok(1_000_000));
        assert_eq!(parse_sized_integer("64MiB"), Ok(64 << 20));
        assert_eq!(parse_sized_integer("2g"), Ok(2_000_000_000));
        assert_eq!(parse_sized_integer("22TB"), Ok(22 << 40));
        assert_eq!(parse_sized_integer("1P"), Ok(1_000_000_000_000_000));
        assert_eq!(parse_sized_integer("2e"), Ok(2_000_000_000_000_000_000));
        assert_eq!(parse_sized_integer("-1GB"), Ok(-(1 << 30)));
    }

    #[test]
    fn unknown_suffix_and_overflow_are_errors() {
        assert!(
            parse_sized_integer("1kbb")
                .unwrap_err()
                .contains("unknown size suffix")
        );
        assert!(
            parse_sized_integer("8eb")
                .unwrap_err()
                .contains("out of the 64-bit range")
        );
        assert!(
            parse_sized_integer("99999999999999999999")
                .unwrap_err()
                .contains("out of the 64-bit range")
        );
        assert!(parse_sized_integer("kb").is_err());
    }
}
