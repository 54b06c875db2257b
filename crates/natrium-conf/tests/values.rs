//! Size suffixes, durations and the typed accessors.

mod support;

use std::time::Duration;

use natrium_conf::{ConfError, ValueKind};
use support::{get, int, kind, parse};

#[test]
fn size_suffixes_use_nats_server_multipliers() {
    let m = parse(
        "k = 8k\nkb = 4kb\nki = 3ki\nkib = 4KiB\nm = 1m\nmb = 2MB\nmi = 2Mi\nmib = 64MiB\n\
         g = 2g\nG = 2G\ngb = 22GB\ngi = 22Gi\ngib = 22GiB\nt = 1t\ntb = 22TB\nti = 22Ti\ntib = 22TiB\n\
         p = 1P\npb = 22PB\npi = 22Pi\npib = 22PiB\ne = 1e\neb = 1EB\nneg = -1GB\nzero = 0k",
    );
    let k = 1024_i64;
    let expected = [
        ("k", 8_000),
        ("kb", 4 * k),
        ("ki", 3 * k),
        ("kib", 4 * k),
        ("m", 1_000_000),
        ("mb", 2 * k * k),
        ("mi", 2 * k * k),
        ("mib", 64 * k * k),
        ("g", 2_000_000_000),
        ("gb", 22 * k * k * k),
        ("gi", 22 * k * k * k),
        ("gib", 22 * k * k * k),
        ("t", 1_000_000_000_000),
        ("tb", 22 * k.pow(4)),
        ("ti", 22 * k.pow(4)),
        ("tib", 22 * k.pow(4)),
        ("p", 1_000_000_000_000_000),
        ("pb", 22 * k.pow(5)),
        ("pi", 22 * k.pow(5)),
        ("pib", 22 * k.pow(5)),
        ("e", 1_000_000_000_000_000_000),
        ("eb", k.pow(6)),
        ("neg", -k * k * k),
        ("zero", 0),
    ];
    for (key, n) in expected {
        assert_eq!(get(&m, key).as_i64().unwrap(), n, "{key}");
    }
    // Keys are exact; lookup ignores case, so "G" and "g" are both present, last wins.
    assert_eq!(m.iter().filter(|e| e.key() == "G").count(), 1);
}

#[test]
fn as_size_reads_integers_and_quoted_sizes() {
    let m = parse("a = 1MB\nb = \"64kb\"\nc = 1024\nd = '2k'\ne = -1\nf = \"lots\"\ng = true");
    assert_eq!(get(&m, "a").as_size().unwrap(), 1 << 20);
    assert_eq!(get(&m, "b").as_size().unwrap(), 64 << 10);
    assert_eq!(get(&m, "c").as_size().unwrap(), 1024);
    assert_eq!(get(&m, "d").as_size().unwrap(), 2000);
    let e = get(&m, "e").as_size().unwrap_err();
    assert!(e.to_string().contains("must not be negative"), "{e}");
    let f = get(&m, "f").as_size().unwrap_err();
    assert!(matches!(f, ConfError::InvalidValue { .. }), "{f}");
    assert_eq!(f.to_string().split(": ").next(), Some("6:5"));
    let g = get(&m, "g").as_size().unwrap_err();
    assert!(
        matches!(
            g,
            ConfError::Type {
                found: "a boolean",
                ..
            }
        ),
        "{g}"
    );
}

#[test]
fn durations_are_go_strings_or_legacy_seconds() {
    let m = parse(
        "a = \"2m\"\nb = '10s'\nc = 1h30m\nd = 500ms\ne = \"1.5s\"\nf = 30\ng = 0\n\
         h = \"0\"\ni = \"100us\"",
    );
    assert_eq!(
        get(&m, "a").as_duration().unwrap(),
        Duration::from_secs(120)
    );
    assert_eq!(get(&m, "b").as_duration().unwrap(), Duration::from_secs(10));
    assert_eq!(
        get(&m, "c").as_duration().unwrap(),
        Duration::from_secs(5400)
    );
    assert_eq!(
        get(&m, "d").as_duration().unwrap(),
        Duration::from_millis(500)
    );
    assert_eq!(
        get(&m, "e").as_duration().unwrap(),
        Duration::from_millis(1500)
    );
    // A bare integer is a number of seconds (nats-server's older form).
    assert_eq!(get(&m, "f").as_duration().unwrap(), Duration::from_secs(30));
    assert_eq!(get(&m, "g").as_duration().unwrap(), Duration::ZERO);
    assert_eq!(get(&m, "h").as_duration().unwrap(), Duration::ZERO);
    assert_eq!(
        get(&m, "i").as_duration().unwrap(),
        Duration::from_micros(100)
    );
}

#[test]
fn unquoted_2m_is_two_million_as_in_nats_server() {
    // `m` is the "mega" size suffix, so an unquoted 2m is an integer.
    let m = parse("ping_interval: 2m");
    assert_eq!(kind(&m, "ping_interval"), &int(2_000_000));
    assert_eq!(
        get(&m, "ping_interval").as_duration().unwrap(),
        Duration::from_secs(2_000_000)
    );
}

#[test]
fn bad_durations_name_the_position_and_the_problem() {
    let m = parse("a = \"10\"\nb = \"5 parsecs\"\nc = -5\nd = 1.5\ne = \"-1s\"");
    let a = get(&m, "a").as_duration().unwrap_err().to_string();
    assert_eq!(
        a,
        "1:5: invalid duration '10': time: missing unit in duration \"10\""
    );
    let b = get(&m, "b").as_duration().unwrap_err().to_string();
    assert!(b.starts_with("2:5: invalid duration '5 parsecs'"), "{b}");
    let c = get(&m, "c").as_duration().unwrap_err().to_string();
    assert!(
        c.starts_with("3:5: invalid duration '-5'") && c.contains("negative"),
        "{c}"
    );
    let d = get(&m, "d").as_duration().unwrap_err();
    assert!(
        matches!(
            d,
            ConfError::Type {
                found: "a float",
                ..
            }
        ),
        "{d}"
    );
    let e = get(&m, "e").as_duration().unwrap_err().to_string();
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn typed_accessors_return_the_value_or_a_positioned_type_error() {
    let m = parse("s = text\ni = 3\nf = 2.5\nb = no\na = [1]\nm { x: 1 }");
    assert_eq!(get(&m, "s").as_str().unwrap(), "text");
    assert_eq!(get(&m, "i").as_i64().unwrap(), 3);
    assert_eq!(get(&m, "f").as_f64().unwrap(), 2.5);
    assert_eq!(get(&m, "i").as_f64().unwrap(), 3.0);
    assert!(!get(&m, "b").as_bool().unwrap());
    assert_eq!(get(&m, "a").as_array().unwrap().len(), 1);
    assert_eq!(get(&m, "m").as_map().unwrap().len(), 1);

    let err = get(&m, "s").as_i64().unwrap_err();
    assert_eq!(err.to_string(), "1:5: expected an integer, found a string");
    assert_eq!(err.pos().map(|p| (p.line, p.column)), Some((1, 5)));
    assert_eq!(
        get(&m, "i").as_str().unwrap_err().to_string(),
        "2:5: expected a string, found an integer"
    );
    assert_eq!(
        get(&m, "m").as_array().unwrap_err().to_string(),
        "6:3: expected an array, found a map"
    );
    assert_eq!(
        get(&m, "a").as_map().unwrap_err().to_string(),
        "5:5: expected a map, found an array"
    );
    assert_eq!(
        get(&m, "f").as_bool().unwrap_err().to_string(),
        "3:5: expected a boolean, found a float"
    );
    assert!(matches!(get(&m, "b").kind, ValueKind::Bool(false)));
}

#[test]
fn unknown_fields_skip_known_keys_and_variables() {
    let m = parse("PORT_VAR = 4222\nport: $PORT_VAR\nHost: x\ntypo_field: 1\nm { inner: 1 }");
    let unknown: Vec<(&str, u32, u32)> = m
        .keys_not_in(&["port", "host", "m"])
        .into_iter()
        .map(|e| (e.key(), e.key_pos().line, e.key_pos().column))
        .collect();
    assert_eq!(unknown, [("typo_field", 4, 1)]);
    assert!(m.get_entry("PORT_VAR").unwrap().is_used_as_variable());
    assert!(!m.get_entry("port").unwrap().is_used_as_variable());
}
