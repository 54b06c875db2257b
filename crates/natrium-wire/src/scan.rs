//! Byte searches tuned for control lines, which are short: eight bytes at a time in a `u64`
//! ("SWAR"), because a SIMD search costs more to set up than such a line takes to scan.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Beyond this many bytes a SIMD search (memchr) wins over eight-byte words.
const SHORT: usize = 32;

/// Flags (high bit per byte) the bytes of `word` that are below `limit` (at most 0x80).
/// A byte can be wrongly flagged only above a correctly flagged one, so the lowest flag is exact.
#[inline]
fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS
}

/// Index of the lowest flagged byte.
#[inline]
fn lowest(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Position of the first `needle` in `haystack`.
#[inline]
pub(crate) fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < SHORT {
        let Some(chunk) = haystack[at..].first_chunk::<8>() else {
            return haystack[at..]
                .iter()
                .position(|&b| b == needle)
                .map(|p| at + p);
        };
        let flags = below(u64::from_le_bytes(*chunk) ^ (ONES * u64::from(needle)), 1);
        if flags != 0 {
            return Some(at + lowest(flags));
        }
        at += 8;
    }
    memchr::memchr(needle, &haystack[at..]).map(|p| at + p)
}

/// Position of the first byte that is a space or a control byte (`<= b' '`): every separator
/// and line end is one.
#[inline]
pub(crate) fn find_space_or_control(haystack: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = haystack[at..].first_chunk::<8>() {
        let flags = below(u64::from_le_bytes(*chunk), b' ' + 1);
        if flags != 0 {
            return Some(at + lowest(flags));
        }
        at += 8;
    }
    haystack[at..]
        .iter()
        .position(|&b| b <= b' ')
        .map(|p| at + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn find_byte_agrees_with_a_plain_search(
            haystack in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..100),
            needle in prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()],
        ) {
            prop_assert_eq!(find_byte(needle, &haystack), haystack.iter().position(|&b| b == needle));
        }

        #[test]
        fn find_space_or_control_agrees_with_a_plain_search(
            haystack in prop::collection::vec(prop_oneof![Just(b' '), Just(b'!'), any::<u8>()], 0..100),
        ) {
            prop_assert_eq!(find_space_or_control(&haystack), haystack.iter().position(|&b| b <= b' '));
        }
    }
}
