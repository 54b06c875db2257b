//! `$variables`: scoped lookup of earlier keys, the environment, cycles and errors.
//!
//! Environment cases run in a child process (this test binary re-run with one test
//! selected) so the variables are set with `Command::env`, never by mutating this
//! process's environment while other tests read it.

mod support;

use std::process::Command;

use natrium_conf::{ConfError, ValueKind};
use support::{get, int, kind, parse, parse_err, s};

/// Set in the child process; names are unique to this crate's tests.
const CHILD_MARK: &str = "NATRIUM_CONF_TEST_ENV_CHILD";

/// Runs test `name` again in a child process with `vars` set, and fails if it fails.
/// Returns true in the child, where the caller then makes its assertions.
fn in_child_with_env(name: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var_os(CHILD_MARK).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(CHILD_MARK, "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn earlier_keys_are_variables() {
    let m = parse("index = 22\nfoo = $index\nmsg: \"hi\"\nbar = [$msg, $index]");
    assert_eq!(kind(&m, "foo"), &int(22));
    let bar: Vec<&ValueKind> = get(&m, "bar")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v.kind)
        .collect();
    assert_eq!(bar, [&s("hi"), &int(22)]);
}

#[test]
fn variables_are_scoped_by_block_innermost_first() {
    let m = parse(
        "index = 22\nnest {\n  index = 11\n  foo = $index\n  deeper { x = $index }\n}\nbar = $index",
    );
    let nest = get(&m, "nest").as_map().unwrap();
    assert_eq!(kind(nest, "foo"), &int(11));
    assert_eq!(kind(get(nest, "deeper").as_map().unwrap(), "x"), &int(11));
    assert_eq!(kind(&m, "bar"), &int(22));
}

#[test]
fn variables_in_arrays_of_maps_see_enclosing_blocks() {
    let m = parse(
        "authorization {\n  PASS: secret\n  users = [\n    {user: a, password: $PASS}\n    {user: b, password: $PASS, p2: $PASS}\n  ]\n}",
    );
    let auth = get(&m, "authorization").as_map().unwrap();
    let users = get(auth, "users").as_array().unwrap();
    assert_eq!(kind(users[1].as_map().unwrap(), "p2"), &s("secret"));
}

#[test]
fn variables_copy_maps_and_arrays_and_take_the_reference_position() {
    let m = parse("base { port: 1, hosts: [a, b] }\ncopy = $base");
    assert_eq!(get(&m, "copy"), get(&m, "base"));
    let copy = get(&m, "copy");
    assert_eq!((copy.pos.line, copy.pos.column), (2, 8));
}

#[test]
fn variable_names_are_case_sensitive() {
    let err = parse_err("Index = 1\nfoo = $index_natrium_unlikely_env");
    assert!(
        matches!(err, ConfError::UndefinedVariable { .. }),
        "{err:?}"
    );
    let err = parse_err("Port_natrium_x = 1\nfoo = $port_natrium_x");
    assert!(
        matches!(err, ConfError::UndefinedVariable { .. }),
        "{err:?}"
    );
}

#[test]
fn a_variable_is_not_visible_before_its_definition_or_inside_its_own_value() {
    let err = parse_err("a = $later_natrium_undefined\nlater_natrium_undefined = 1");
    assert!(
        matches!(err, ConfError::UndefinedVariable { .. }),
        "{err:?}"
    );
    let err = parse_err("self_natrium_undefined = $self_natrium_undefined");
    assert!(
        matches!(err, ConfError::UndefinedVariable { .. }),
        "{err:?}"
    );
}

#[test]
fn undefined_variables_name_the_reference_position() {
    let err = parse_err("port = 1\nm {\n  x =   $NATRIUM_CONF_SURELY_UNDEFINED_VAR\n}");
    assert_eq!(
        err.to_string(),
        "3:9: variable reference for 'NATRIUM_CONF_SURELY_UNDEFINED_VAR' can not be found"
    );
    match err {
        ConfError::UndefinedVariable { pos, name } => {
            assert_eq!((pos.line, pos.column), (3, 9));
            assert_eq!(name, "NATRIUM_CONF_SURELY_UNDEFINED_VAR");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unquoted_bcrypt_hashes_are_text_not_variables() {
    let m = parse("password: $2a$11$ooo");
    assert_eq!(kind(&m, "password"), &s("$2a$11$ooo"));
}

#[test]
fn quoted_dollars_and_escaped_text_are_not_variables() {
    let m = parse("a = \"$NOT_A_VAR\"\nb = '$x'\nc = \\x24y");
    assert_eq!(kind(&m, "a"), &s("$NOT_A_VAR"));
    assert_eq!(kind(&m, "b"), &s("$x"));
    assert_eq!(kind(&m, "c"), &s("$y"));
}

#[test]
fn variables_used_as_such_are_marked() {
    let m = parse("A = 1\nB = 2\nc = $A");
    assert!(m.get_entry("A").unwrap().is_used_as_variable());
    assert!(!m.get_entry("B").unwrap().is_used_as_variable());
}

#[test]
fn environment_values_are_parsed_as_configuration_values() {
    if !in_child_with_env(
        "environment_values_are_parsed_as_configuration_values",
        &[
            ("NATRIUM_CONF_T_INT", "22"),
            ("NATRIUM_CONF_T_STR", "xyz"),
            ("NATRIUM_CONF_T_SIZE", "3Gyz"),
            ("NATRIUM_CONF_T_QUOTED", "'3xyz'"),
            ("NATRIUM_CONF_T_BYTES", "64MB"),
            ("NATRIUM_CONF_T_BOOL", "on"),
            ("NATRIUM_CONF_T_ARRAY", "[1, \"two\"]"),
            ("NATRIUM_CONF_T_MAP", "{ user: u, pass: p }"),
            ("NATRIUM_CONF_T_ADDR", "127.0.0.1:4222"),
        ],
    ) {
        return;
    }
    let m = parse(
        "a = $NATRIUM_CONF_T_INT\nb = $NATRIUM_CONF_T_STR\nc = $NATRIUM_CONF_T_SIZE\n\
         d = $NATRIUM_CONF_T_QUOTED\ne = $NATRIUM_CONF_T_BYTES\nf = $NATRIUM_CONF_T_BOOL\n\
         g = $NATRIUM_CONF_T_ARRAY\nh = $NATRIUM_CONF_T_MAP\ni = $NATRIUM_CONF_T_ADDR",
    );
    assert_eq!(kind(&m, "a"), &int(22));
    assert_eq!(kind(&m, "b"), &s("xyz"));
    assert_eq!(kind(&m, "c"), &s("3Gyz"));
    assert_eq!(kind(&m, "d"), &s("3xyz"));
    assert_eq!(kind(&m, "e"), &int(64 << 20));
    assert_eq!(kind(&m, "f"), &ValueKind::Bool(true));
    assert_eq!(get(&m, "g").as_array().unwrap()[1].kind, s("two"));
    let h = get(&m, "h").as_map().unwrap();
    assert_eq!(kind(h, "pass"), &s("p"));
    // Values from the environment are reported where they are referenced.
    assert_eq!((get(h, "pass").pos.line, get(h, "pass").pos.column), (8, 5));
    assert_eq!(kind(&m, "i"), &s("127.0.0.1:4222"));
}

#[test]
fn file_keys_shadow_the_environment() {
    if !in_child_with_env(
        "file_keys_shadow_the_environment",
        &[("NATRIUM_CONF_T_SHADOW", "from-env")],
    ) {
        return;
    }
    let m = parse(
        "NATRIUM_CONF_T_SHADOW = from-file\nx = $NATRIUM_CONF_T_SHADOW\nm { y = $NATRIUM_CONF_T_SHADOW }",
    );
    assert_eq!(kind(&m, "x"), &s("from-file"));
    let m = parse("x = $NATRIUM_CONF_T_SHADOW");
    assert_eq!(kind(&m, "x"), &s("from-env"));
}

#[test]
fn environment_values_may_refer_to_other_environment_variables() {
    if !in_child_with_env(
        "environment_values_may_refer_to_other_environment_variables",
        &[
            ("NATRIUM_CONF_T_OUTER", "$NATRIUM_CONF_T_INNER"),
            ("NATRIUM_CONF_T_INNER", "4222"),
        ],
    ) {
        return;
    }
    let m = parse("port = $NATRIUM_CONF_T_OUTER");
    assert_eq!(kind(&m, "port"), &int(4222));
}

#[test]
fn environment_reference_cycles_are_errors() {
    if !in_child_with_env(
        "environment_reference_cycles_are_errors",
        &[
            ("NATRIUM_CONF_T_CYCLE_A", "$NATRIUM_CONF_T_CYCLE_B"),
            ("NATRIUM_CONF_T_CYCLE_B", "$NATRIUM_CONF_T_CYCLE_A"),
            ("NATRIUM_CONF_T_SELF", "$NATRIUM_CONF_T_SELF"),
        ],
    ) {
        return;
    }
    let text = parse_err("x = $NATRIUM_CONF_T_CYCLE_A").to_string();
    assert!(
        text.starts_with("1:5: environment variable 'NATRIUM_CONF_T_CYCLE_A' could not be parsed"),
        "{text}"
    );
    assert!(
        text.contains("variable reference cycle for 'NATRIUM_CONF_T_CYCLE_A'"),
        "{text}"
    );
    let text = parse_err("x = $NATRIUM_CONF_T_SELF").to_string();
    assert!(
        text.contains("variable reference cycle for 'NATRIUM_CONF_T_SELF'"),
        "{text}"
    );
}

#[test]
fn malformed_environment_values_are_errors_at_the_reference() {
    if !in_child_with_env(
        "malformed_environment_values_are_errors_at_the_reference",
        &[
            ("NATRIUM_CONF_T_BAD", "[1, 2"),
            ("NATRIUM_CONF_T_TWO", "a b"),
            ("NATRIUM_CONF_T_EMPTY", ""),
        ],
    ) {
        return;
    }
    let err = parse_err("\n  x = $NATRIUM_CONF_T_BAD");
    assert!(
        matches!(err, ConfError::BadEnvironmentValue { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("2:7: environment variable 'NATRIUM_CONF_T_BAD' could not be parsed: "),
        "{text}"
    );
    assert!(text.contains("expected ']' to close the array"), "{text}");
    let text = parse_err("x = $NATRIUM_CONF_T_TWO").to_string();
    assert!(text.contains("found 'b'"), "{text}");
    let text = parse_err("x = $NATRIUM_CONF_T_EMPTY").to_string();
    assert!(
        text.contains("expected a value, found end of file"),
        "{text}"
    );
}
