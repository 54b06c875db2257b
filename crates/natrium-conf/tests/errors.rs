//! Broken configurations: each error names line:column and what was expected.

mod support;

use natrium_conf::ConfError;
use support::parse_err;

/// The error message for `text`.
fn message(text: &str) -> String {
    parse_err(text).to_string()
}

#[test]
fn unterminated_strings() {
    assert_eq!(
        message("listen: \"localhost:4242\n\nhttp: localhost:8222\n"),
        "4:1: expected a closing '\"' for the string started at 1:9, found end of file"
    );
    assert_eq!(
        message("listen: 'localhost:4242\n"),
        "2:1: expected a closing \"'\" for the string started at 1:9, found end of file"
    );
    assert_eq!(
        message("\"key = 1"),
        "1:9: expected a closing \" for the key started at 1:1, found end of file"
    );
}

#[test]
fn unbalanced_braces_and_brackets() {
    assert_eq!(
        message("listen = 4222\n\ncluster = {\n\n  foo = bar\n\n"),
        "7:1: expected '}' to close the map opened at 3:11, found end of file"
    );
    assert_eq!(
        message("a = [1, 2\n"),
        "2:1: expected ']' to close the array opened at 1:5, found end of file"
    );
    assert_eq!(
        message("{\n a = 1\n"),
        "3:1: expected '}' to close the '{' at 1:1, found end of file"
    );
    assert_eq!(
        message("a = 1\n}\nb = 2"),
        "2:1: unexpected '}' with no matching '{'"
    );
    assert_eq!(
        message("a = [1, 2}"),
        "1:10: expected ',', a new line or ']' after an array value, found '}'"
    );
    assert_eq!(
        message("quote = (\n\n  foo = bar\n\n"),
        "5:1: expected a line with only ')' to close the block opened at 1:9, found end of file"
    );
}

#[test]
fn bad_keys() {
    assert_eq!(
        message(" :foo = 22"),
        "1:2: expected a key, found the key separator ':'"
    );
    assert_eq!(
        message("m { = 1 }"),
        "1:5: expected a key, found the key separator '='"
    );
    assert_eq!(message("]"), "1:1: expected a key, found ']'");
}

#[test]
fn missing_values() {
    assert_eq!(
        message("port:"),
        "1:6: expected a value for key 'port', found end of file"
    );
    assert_eq!(
        message("port"),
        "1:5: expected a value for key 'port', found end of file"
    );
    assert_eq!(
        message("trace:\ninclude 'x.conf'"),
        "1:7: expected a value for key 'trace', found a new line"
    );
    assert_eq!(
        message("m { a: }"),
        "1:8: expected a value for key 'a', found '}'"
    );
    assert_eq!(
        message("a = ;"),
        "1:5: expected a value for key 'a', found ';'"
    );
    assert_eq!(
        message("aaaaaaaaaaaaaaaaaaaa"),
        "1:21: expected a value for key 'aaaaaaaaaaaaaaaaaaaa', found end of file"
    );
    assert_eq!(
        message("a,a,a"),
        "1:2: expected a value for key 'a', found ','"
    );
    assert_eq!(
        message("a = [,]"),
        "1:6: expected a value or ']', found ','"
    );
}

#[test]
fn a_key_whose_value_is_missing_at_the_end_of_its_line() {
    assert_eq!(
        message("port\nhost: x"),
        "1:5: expected a value for key 'port', found a new line"
    );
    assert_eq!(
        message("m {\n  a\n  b = 1\n}"),
        "2:4: expected a value for key 'a', found a new line"
    );
}

#[test]
fn nesting_is_bounded() {
    use natrium_conf::MAX_NESTING;
    let deep = format!("a = {}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    assert!(natrium_conf::parse_str(&deep).is_ok());
    let too_deep = format!("a = {}", "[".repeat(100_000));
    assert_eq!(
        message(&too_deep),
        format!(
            "1:{}: arrays and maps are nested deeper than {MAX_NESTING} levels",
            5 + MAX_NESTING
        )
    );
    let maps = format!("a = {}", "{b = ".repeat(100_000));
    assert!(message(&maps).contains("nested deeper than"));
}

#[test]
fn bad_numbers() {
    assert_eq!(
        message("foo = .2"),
        "1:7: floats must start with a digit, not '.'"
    );
    assert_eq!(
        message("foo = 1."),
        "1:9: expected a digit after '.' in '1.', found end of file"
    );
    assert_eq!(
        message("foo = -x"),
        "1:8: expected a digit after '-', found 'x'"
    );
    assert_eq!(
        message("foo = 99999999999999999999"),
        "1:7: invalid integer '99999999999999999999': integer is out of the 64-bit range"
    );
    assert_eq!(
        message("foo = 16eb"),
        "1:7: invalid integer '16eb': integer is out of the 64-bit range"
    );
    assert!(
        message("foo = 1kbb").starts_with("1:7: invalid integer '1kbb': unknown size suffix 'kbb'")
    );
    assert_eq!(
        message("foo = 1.5s"),
        "1:10: expected a new line, ';', ',' or a comment after the value, found 's'"
    );
    assert_eq!(
        message("foo = 12-05"),
        "1:9: unexpected '-' after '12': datetimes must be in full ISO-8601 Zulu form (2016-05-04T18:53:41Z)"
    );
    assert_eq!(
        message("foo = 2016-05-04 18:53:41"),
        "1:17: expected 'T' in an ISO-8601 datetime (like 2016-05-04T18:53:41Z), found ' '"
    );
}

#[test]
fn bad_escapes() {
    assert_eq!(
        message(r#"a = "x\qy""#),
        r#"1:7: invalid escape '\q': expected one of \xHH, \t, \n, \r, \", \\"#
    );
    assert_eq!(
        message(r"path = C:\data"),
        r#"1:10: invalid escape '\d': expected one of \xHH, \t, \n, \r, \", \\"#
    );
    assert_eq!(
        message(r#"a = "\xZZ""#),
        "1:6: expected two hexadecimal digits after '\\x', found 'ZZ'"
    );
    assert_eq!(
        message(r#"a = "\xff""#),
        "1:5: string is not valid UTF-8 after its \\x escapes"
    );
}

#[test]
fn garbage_after_values() {
    assert_eq!(
        message("listen: 10.0.1.22:foo"),
        "1:19: expected a new line, ';', ',' or a comment after the value, found 'f'"
    );
    assert_eq!(
        message("a = [1 2]"),
        "1:8: expected ',', a new line or ']' after an array value, found '2'"
    );
    assert_eq!(
        message("a = \"x\" y"),
        "1:9: expected a new line, ';', ',' or a comment after the value, found 'y'"
    );
}

#[test]
fn includes_need_a_file_name() {
    assert_eq!(
        message("include [a]"),
        "1:9: expected a file name after 'include', found '['"
    );
    assert_eq!(
        message("include \"x.conf"),
        "1:16: expected a closing \" for the include path started at 1:9, found end of file"
    );
}

#[test]
fn syntax_errors_are_a_typed_variant_with_a_position() {
    match parse_err("a = {\n  b = [\n") {
        ConfError::Syntax { pos, message } => {
            assert_eq!((pos.line, pos.column), (3, 1));
            assert!(
                message.contains("close the array opened at 2:7"),
                "{message}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn garbage_input_terminates_with_an_error() {
    for text in [
        "A@@Føøøø?˛ø:{øøøø˙˙",
        "include \"9/\u{fffd}",
        "{{{{",
        "[[[[",
        "a=((((",
        "\"",
        "'",
    ] {
        let err = parse_err(text);
        assert!(err.pos().is_some(), "{text:?}: {err}");
    }
}
