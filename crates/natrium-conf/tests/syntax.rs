//! Every element of the format, read the way nats-server reads it.

mod support;

use natrium_conf::{ValueKind, parse_str};
use support::{get, int, kind, parse, s};

#[test]
fn three_key_separators() {
    let m = parse("a: 1\nb = 2\nc 3\nd:4\ne=5\n\tf\t6");
    for (key, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(kind(&m, key), &int(n), "key {key}");
    }
}

#[test]
fn semicolons_and_commas_end_values() {
    let m = parse("foo='1'; bar=2.2; baz=true; boo=22");
    assert_eq!(kind(&m, "foo"), &s("1"));
    assert_eq!(kind(&m, "bar"), &ValueKind::Float(2.2));
    assert_eq!(kind(&m, "baz"), &ValueKind::Bool(true));
    assert_eq!(kind(&m, "boo"), &int(22));
    let m = parse("a = 1, b = x, c = 'y';");
    assert_eq!(m.len(), 3);
}

#[test]
fn hash_and_slash_comments_everywhere() {
    let m = parse(
        "# leading\n// also leading\nfoo = 123 // trailing\nbar=4    # trailing\n\
         map { # after brace\n  // inside\n  k: v # after value\n}\n\
         arr [ # after bracket\n 1 // one\n 2, # two\n]\n# end",
    );
    assert_eq!(kind(&m, "foo"), &int(123));
    assert_eq!(kind(&m, "bar"), &int(4));
    assert_eq!(kind(get(&m, "map").as_map().unwrap(), "k"), &s("v"));
    assert_eq!(
        get(&m, "arr").as_array().unwrap(),
        &[
            natrium_conf::Value::new(int(1), get(&m, "foo").pos.clone()),
            natrium_conf::Value::new(int(2), get(&m, "foo").pos.clone())
        ]
    );
}

#[test]
fn a_single_slash_is_not_a_comment_and_urls_keep_their_slashes() {
    let m = parse("http_base_path: /nats\nurl = nats://host:4222 // comment\nrel = ./certs/ca.pem");
    assert_eq!(kind(&m, "http_base_path"), &s("/nats"));
    // nats-server rejects an unquoted value starting with '.'; only '.' + digit is an error here.
    assert_eq!(kind(&m, "rel"), &s("./certs/ca.pem"));
    assert_eq!(kind(&m, "url"), &s("nats://host:4222"));
}

#[test]
fn empty_and_comment_only_documents_are_empty_maps() {
    for text in [
        "",
        "\n\n   \n",
        "# just a comment\n// and another",
        "{}",
        "{\n# c\n}\n",
    ] {
        assert!(parse(text).is_empty(), "{text:?}");
    }
}

#[test]
fn double_quoted_strings_process_escapes() {
    let m = parse(r#"a = "tab\there\nnl \"q\" back\\slash \x41\x42 \r""#);
    assert_eq!(kind(&m, "a"), &s("tab\there\nnl \"q\" back\\slash AB \r"));
    let m = parse(r#"utf8 = "caf\xc3\xa9""#);
    assert_eq!(kind(&m, "utf8"), &s("café"));
    let m = parse("empty = \"\"\nempty2 = ''");
    assert_eq!(kind(&m, "empty"), &s(""));
    assert_eq!(kind(&m, "empty2"), &s(""));
}

#[test]
fn single_quoted_strings_are_literal() {
    let m = parse(r"foo = 'bar\r\n  \t'");
    assert_eq!(kind(&m, "foo"), &s(r"bar\r\n  \t"));
    let m = parse("expr = '(true == \"false\")'");
    assert_eq!(kind(&m, "expr"), &s("(true == \"false\")"));
}

#[test]
fn quoted_strings_may_span_lines() {
    let m = parse("text = 'This is a multi-line\ntext block.'\nd = \"one\ntwo\"");
    assert_eq!(kind(&m, "text"), &s("This is a multi-line\ntext block."));
    assert_eq!(kind(&m, "d"), &s("one\ntwo"));
}

#[test]
fn unquoted_strings_end_at_blanks_and_terminators() {
    let m = parse(
        "bar = baz\nbaz=boo\nhost: demo.example.com\npath /var/lib/nats\nkey = a#b\nesc = \\x65",
    );
    assert_eq!(kind(&m, "bar"), &s("baz"));
    assert_eq!(kind(&m, "baz"), &s("boo"));
    assert_eq!(kind(&m, "host"), &s("demo.example.com"));
    assert_eq!(kind(&m, "path"), &s("/var/lib/nats"));
    // '#' only starts a comment where a value may end, like in nats-server.
    assert_eq!(kind(&m, "key"), &s("a#b"));
    assert_eq!(kind(&m, "esc"), &s("e"));
}

#[test]
fn block_strings_run_to_a_line_holding_only_a_paren() {
    let m = parse("numbers (\n1234567890\n)\n");
    assert_eq!(kind(&m, "numbers"), &s("\n1234567890\n"));
    let m = parse("numbers (\n  12(34)56\n  (\n    7890\n  )\n)");
    assert_eq!(
        kind(&m, "numbers"),
        &s("\n  12(34)56\n  (\n    7890\n  )\n")
    );
    let m = parse("m {\n pem (\n-----BEGIN-----\nabc\n)\n other: 1\n}");
    let inner = get(&m, "m").as_map().unwrap();
    assert_eq!(kind(inner, "pem"), &s("\n-----BEGIN-----\nabc\n"));
    assert_eq!(kind(inner, "other"), &int(1));
}

#[test]
fn booleans_follow_nats_words_in_any_case() {
    let m = parse("a=true\nb=TRUE\nc=yes\nd=on\ne=false\nf=No\ng=OFF\nh=\"true\"\ni='on'\nj=truex");
    for key in ["a", "b", "c", "d"] {
        assert_eq!(kind(&m, key), &ValueKind::Bool(true), "{key}");
    }
    for key in ["e", "f", "g"] {
        assert_eq!(kind(&m, key), &ValueKind::Bool(false), "{key}");
    }
    assert_eq!(kind(&m, "h"), &s("true"));
    assert_eq!(kind(&m, "i"), &s("on"));
    assert_eq!(kind(&m, "j"), &s("truex"));
}

#[test]
fn integers_floats_and_negative_numbers() {
    let m = parse("a = 123\nb = -123\nc = 0.5\nd = -1.25\ne = 007\nf = 9223372036854775807");
    assert_eq!(kind(&m, "a"), &int(123));
    assert_eq!(kind(&m, "b"), &int(-123));
    assert_eq!(kind(&m, "c"), &ValueKind::Float(0.5));
    assert_eq!(kind(&m, "d"), &ValueKind::Float(-1.25));
    assert_eq!(kind(&m, "e"), &int(7));
    assert_eq!(kind(&m, "f"), &int(i64::MAX));
}

#[test]
fn text_starting_with_digits_is_a_string() {
    let m = parse("a = 3xyz\nb = 10s\nc = 1h30m\nd = 1Ghz\ne = 2Pie\nf = 3Mbs, g = 500ms");
    for (key, text) in [
        ("a", "3xyz"),
        ("b", "10s"),
        ("c", "1h30m"),
        ("d", "1Ghz"),
        ("e", "2Pie"),
        ("f", "3Mbs"),
        ("g", "500ms"),
    ] {
        assert_eq!(kind(&m, key), &s(text), "{key}");
    }
}

#[test]
fn addresses_need_no_quotes() {
    let m = parse(
        "a: 127.0.0.1:4222\nb: 127.0.0.1\nc: apcera.me:80\nd: nats.io:-1\ne: -1\nf: :-1\ng = :80\n\
         h = [localhost:4222, localhost:4333]\ni: 0.0.0.0:4222",
    );
    assert_eq!(kind(&m, "a"), &s("127.0.0.1:4222"));
    assert_eq!(kind(&m, "b"), &s("127.0.0.1"));
    assert_eq!(kind(&m, "c"), &s("apcera.me:80"));
    assert_eq!(kind(&m, "d"), &s("nats.io:-1"));
    assert_eq!(kind(&m, "e"), &int(-1));
    assert_eq!(kind(&m, "f"), &s(":-1"));
    assert_eq!(kind(&m, "g"), &s(":80"));
    let h: Vec<&str> = get(&m, "h")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(h, ["localhost:4222", "localhost:4333"]);
    assert_eq!(kind(&m, "i"), &s("0.0.0.0:4222"));
}

#[test]
fn iso_datetimes_are_kept_as_text() {
    let m = parse("now = 2016-05-04T18:53:41Z\ngmt = false");
    assert_eq!(kind(&m, "now"), &s("2016-05-04T18:53:41Z"));
    assert_eq!(kind(&m, "gmt"), &ValueKind::Bool(false));
}

#[test]
fn arrays_by_commas_or_new_lines_with_mixed_values() {
    let m = parse(
        "foo = [1, 2, 3, 'bar']\nbar = [1,2,3,'bar',]\nbaz = [\n  1\n  2,\n  \"x\"\n]\nempty = []\nnested = [[1], [], [[2]]]",
    );
    let texts = |key: &str| {
        format!(
            "{:?}",
            get(&m, key)
                .as_array()
                .unwrap()
                .iter()
                .map(|v| &v.kind)
                .collect::<Vec<_>>()
        )
    };
    assert_eq!(
        texts("foo"),
        format!("{:?}", [int(1), int(2), int(3), s("bar")])
    );
    assert_eq!(texts("bar"), texts("foo"));
    assert_eq!(texts("baz"), format!("{:?}", [int(1), int(2), s("x")]));
    assert!(get(&m, "empty").as_array().unwrap().is_empty());
    let nested = get(&m, "nested").as_array().unwrap();
    assert_eq!(nested.len(), 3);
    assert_eq!(
        nested[2].as_array().unwrap()[0].as_array().unwrap()[0]
            .as_i64()
            .unwrap(),
        2
    );
}

#[test]
fn a_number_closing_an_array_is_a_number() {
    let m = parse("a = [1, 2]\nb = [0.5]\nc = [-3]\nd = [4k]");
    let a: Vec<i64> = get(&m, "a")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(a, [1, 2]);
    assert_eq!(
        get(&m, "b").as_array().unwrap()[0].kind,
        ValueKind::Float(0.5)
    );
    assert_eq!(get(&m, "c").as_array().unwrap()[0].kind, int(-3));
    assert_eq!(get(&m, "d").as_array().unwrap()[0].kind, int(4000));
}

#[test]
fn maps_nest_with_or_without_separators() {
    let m = parse(
        "systems {\n  allinone {\n    description: \"This is a description.\"\n  }\n}\n\
         inline = {a: 1, b: 2; c: 3}\ncolon: {x = 1}\nnewline_brace\n{\n  y: 2\n}\n\
         tight{z:3}",
    );
    let systems = get(&m, "systems").as_map().unwrap();
    let allinone = get(systems, "allinone").as_map().unwrap();
    assert_eq!(kind(allinone, "description"), &s("This is a description."));
    let inline = get(&m, "inline").as_map().unwrap();
    assert_eq!(inline.len(), 3);
    assert_eq!(kind(get(&m, "colon").as_map().unwrap(), "x"), &int(1));
    assert_eq!(
        kind(get(&m, "newline_brace").as_map().unwrap(), "y"),
        &int(2)
    );
    assert_eq!(kind(get(&m, "tight").as_map().unwrap(), "z"), &int(3));
}

#[test]
fn arrays_of_maps() {
    let m = parse(
        "authorization {\n    users = [\n      {user: alice, password: foo}\n      {user: bob,   password: bar}\n    ]\n    timeout: 0.5\n}\n",
    );
    let auth = get(&m, "authorization").as_map().unwrap();
    let users = get(auth, "users").as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(kind(users[1].as_map().unwrap(), "user"), &s("bob"));
    assert_eq!(kind(users[1].as_map().unwrap(), "password"), &s("bar"));
    assert_eq!(kind(auth, "timeout"), &ValueKind::Float(0.5));
}

#[test]
fn quoted_keys_keep_special_characters() {
    let m = parse("foo = {'bar-1.2.3' = { port:4242 }}\n\"with space\": 1\n'a:b' = 2\n\"\" = 3");
    let foo = get(&m, "foo").as_map().unwrap();
    assert_eq!(
        kind(get(foo, "bar-1.2.3").as_map().unwrap(), "port"),
        &int(4242)
    );
    assert_eq!(kind(&m, "with space"), &int(1));
    assert_eq!(kind(&m, "a:b"), &int(2));
    assert_eq!(kind(&m, ""), &int(3));
}

#[test]
fn keys_are_looked_up_ignoring_case_but_kept_as_written() {
    let m = parse("Max_Payload: 10\nPORT = 1");
    assert_eq!(kind(&m, "max_payload"), &int(10));
    assert_eq!(kind(&m, "port"), &int(1));
    let keys: Vec<&str> = m.iter().map(|e| e.key()).collect();
    assert_eq!(keys, ["Max_Payload", "PORT"]);
}

#[test]
fn later_definitions_replace_earlier_ones_in_place() {
    let m = parse("a = 1\nb = 2\na = 3");
    let entries: Vec<(&str, i64)> = m
        .iter()
        .map(|e| (e.key(), e.value().as_i64().unwrap()))
        .collect();
    assert_eq!(entries, [("a", 3), ("b", 2)]);
}

#[test]
fn json_like_documents_are_accepted() {
    let m = parse(
        "{\n  \"http_port\": 8227,\n  \"port\": 4227,\n  \"write_deadline\": \"1h\",\n  \"cluster\": {\n    \"port\": 6222,\n    \"routes\": [\n      \"nats://127.0.0.1:4222\",\n      \"nats://127.0.0.1:4223\"\n    ]\n  }\n}\n",
    );
    assert_eq!(kind(&m, "http_port"), &int(8227));
    assert_eq!(kind(&m, "write_deadline"), &s("1h"));
    let cluster = get(&m, "cluster").as_map().unwrap();
    assert_eq!(get(cluster, "routes").as_array().unwrap().len(), 2);
    let m = parse(r#"{"http_port": 8224,"port": 4224}"#);
    assert_eq!(kind(&m, "port"), &int(4224));
    let m = parse("{\n  {\n    listen: 0.0.0.0:4222 // c\n  }\n  # c1\n}\n# c2\n");
    assert_eq!(kind(&m, "listen"), &s("0.0.0.0:4222"));
    // A stray closing brace at the very end is tolerated, as nats-server does.
    let m = parse("accounts { users = [{}]}\n}\n");
    assert!(m.contains_key("accounts"));
}

#[test]
fn crlf_line_endings() {
    let m = parse("foo=123\r\nbar = baz\r\nm {\r\n  k: v\r\n}\r\nb (\r\nx\r\n)\r\n");
    assert_eq!(kind(&m, "foo"), &int(123));
    assert_eq!(kind(&m, "bar"), &s("baz"));
    assert_eq!(kind(get(&m, "m").as_map().unwrap(), "k"), &s("v"));
    assert_eq!(kind(&m, "b"), &s("\r\nx\r\n"));
}

#[test]
fn include_is_an_ordinary_key_when_followed_by_a_separator() {
    let m = parse("include: yes\ninclude_dir = /x");
    assert_eq!(kind(&m, "include"), &ValueKind::Bool(true));
    assert_eq!(kind(&m, "include_dir"), &s("/x"));
}

#[test]
fn positions_are_one_based_lines_and_character_columns() {
    let m = parse("\n  port: 4222\n  é = \"x\"\n  m {\n    k: [1, {a: b}]\n  }");
    let port = m.get_entry("port").unwrap();
    assert_eq!((port.key_pos().line, port.key_pos().column), (2, 3));
    assert_eq!((port.value().pos.line, port.value().pos.column), (2, 9));
    let e = get(&m, "é");
    assert_eq!((e.pos.line, e.pos.column), (3, 7));
    let k = get(get(&m, "m").as_map().unwrap(), "k").as_array().unwrap();
    assert_eq!((k[1].pos.line, k[1].pos.column), (5, 12));
    assert!(port.key_pos().file.is_none());
    assert_eq!(port.key_pos().to_string(), "2:3");
    let root = parse_str("a = 1").unwrap();
    assert_eq!((root.pos.line, root.pos.column), (1, 1));
}
