//! `include`: relative paths, nesting, missing files, cycles and depth.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use natrium_conf::{ConfError, MAX_INCLUDE_DEPTH, parse_file};
use support::{get, int, kind, s};
use tempfile::TempDir;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn includes_are_relative_to_the_including_file_and_merge_into_the_current_block() {
    let dir = TempDir::new().unwrap();
    let main = write(
        dir.path(),
        "main.conf",
        "listen: 127.0.0.1:4222\n\nauthorization {\n  include 'includes/users.conf' # pulled in\n  timeout: 0.5\n}\n",
    );
    write(
        dir.path(),
        "includes/users.conf",
        "include ./passwords.conf;\n\nusers = [\n  {user: alice, password: $ALICE_PASS}\n  {user: bob,   password: $BOB_PASS}\n]\n",
    );
    write(
        dir.path(),
        "includes/passwords.conf",
        "ALICE_PASS: $2a$10$abcdefghijklmnopqrstuv\nBOB_PASS: s3cret\n",
    );
    let doc = parse_file(&main).unwrap();
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "listen"), &s("127.0.0.1:4222"));
    let auth = get(m, "authorization").as_map().unwrap();
    let keys: Vec<&str> = auth.iter().map(|e| e.key()).collect();
    assert_eq!(keys, ["ALICE_PASS", "BOB_PASS", "users", "timeout"]);
    let users = get(auth, "users").as_array().unwrap();
    assert_eq!(
        kind(users[0].as_map().unwrap(), "password"),
        &s("$2a$10$abcdefghijklmnopqrstuv")
    );
    assert_eq!(kind(users[1].as_map().unwrap(), "password"), &s("s3cret"));

    // Positions point into the file each value came from.
    let bob = auth.get_entry("BOB_PASS").unwrap();
    let file = bob.key_pos().file.as_deref().unwrap();
    assert!(
        file.ends_with("includes/passwords.conf"),
        "{}",
        file.display()
    );
    assert_eq!((bob.key_pos().line, bob.key_pos().column), (2, 1));
    assert!(
        get(m, "listen")
            .pos
            .file
            .as_deref()
            .unwrap()
            .ends_with("main.conf")
    );
    assert!(doc.pos.to_string().ends_with("main.conf:1:1"));
}

#[test]
fn include_forms_quoted_unquoted_and_inside_blocks() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "a.conf", "a = 1");
    write(dir.path(), "b c.conf", "b = 2");
    write(dir.path(), "d.conf", "d = 4");
    let main = write(
        dir.path(),
        "main.conf",
        "include a.conf\ninclude \"b c.conf\"\nINCLUDE\t'd.conf'\nm { include a.conf }\nn {include d.conf}\n",
    );
    let doc = parse_file(&main).unwrap();
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "a"), &int(1));
    assert_eq!(kind(m, "b"), &int(2));
    assert_eq!(kind(m, "d"), &int(4));
    assert_eq!(kind(get(m, "m").as_map().unwrap(), "a"), &int(1));
    assert_eq!(kind(get(m, "n").as_map().unwrap(), "d"), &int(4));
}

#[test]
fn included_keys_override_and_are_overridden_in_order() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "defaults.conf", "port = 1\nhost = h");
    let main = write(
        dir.path(),
        "main.conf",
        "port = 0\ninclude defaults.conf\nhost = mine",
    );
    let doc = parse_file(&main).unwrap();
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "port"), &int(1));
    assert_eq!(kind(m, "host"), &s("mine"));
}

#[test]
fn a_missing_include_names_the_include_site_and_the_file() {
    let dir = TempDir::new().unwrap();
    let main = write(dir.path(), "main.conf", "port = 1\n\n  include nope.conf\n");
    let err = parse_file(&main).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "main.conf:3:3: error parsing include file 'nope.conf': cannot read configuration file"
        ),
        "{text}"
    );
    assert!(text.contains("nope.conf"), "{text}");
    match err {
        ConfError::Include { source, .. } => {
            assert!(matches!(*source, ConfError::Read { .. }), "{source:?}")
        }
        other => panic!("expected an include error, got {other:?}"),
    }
}

#[test]
fn a_missing_top_level_file_is_a_read_error() {
    let dir = TempDir::new().unwrap();
    let err = parse_file(&dir.path().join("absent.conf")).unwrap_err();
    assert!(matches!(err, ConfError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.conf"), "{err}");
}

#[test]
fn errors_inside_included_files_carry_their_own_position() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "bad.conf", "# fine\nx = [1,\n");
    let main = write(dir.path(), "main.conf", "m {\n  include bad.conf\n}\n");
    let err = parse_file(&main).unwrap_err();
    let pos = err.pos().unwrap();
    assert!(pos.file.as_deref().unwrap().ends_with("bad.conf"));
    assert_eq!((pos.line, pos.column), (3, 1));
    let text = err.to_string();
    assert!(
        text.contains("main.conf:2:3: error parsing include file 'bad.conf': "),
        "{text}"
    );
    assert!(
        text.contains("bad.conf:3:1: expected ']' to close the array opened at 2:5"),
        "{text}"
    );
}

#[test]
fn include_cycles_are_detected() {
    let dir = TempDir::new().unwrap();
    let a = write(dir.path(), "a.conf", "a = 1\ninclude b.conf\n");
    write(dir.path(), "b.conf", "b = 1\ninclude ./sub/../a.conf\n");
    fs::create_dir(dir.path().join("sub")).unwrap();
    let err = parse_file(&a).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("include cycle"), "{text}");
    assert!(text.contains("a.conf' is already being included"), "{text}");

    let selfish = write(dir.path(), "self.conf", "include self.conf");
    let err = parse_file(&selfish).unwrap_err();
    assert!(matches!(err, ConfError::IncludeCycle { .. }), "{err:?}");
}

#[test]
fn the_same_file_may_be_included_twice_side_by_side() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "common.conf", "x = 1");
    let main = write(
        dir.path(),
        "main.conf",
        "a { include common.conf }\nb { include common.conf }",
    );
    let doc = parse_file(&main).unwrap();
    let m = doc.as_map().unwrap();
    assert_eq!(kind(get(m, "a").as_map().unwrap(), "x"), &int(1));
    assert_eq!(kind(get(m, "b").as_map().unwrap(), "x"), &int(1));
}

#[test]
fn include_depth_is_bounded() {
    let dir = TempDir::new().unwrap();
    let levels = MAX_INCLUDE_DEPTH + 2;
    for i in 0..levels {
        write(
            dir.path(),
            &format!("l{i}.conf"),
            &format!("v{i} = {i}\ninclude l{}.conf\n", i + 1),
        );
    }
    write(dir.path(), &format!("l{levels}.conf"), "end = true");
    let err = parse_file(&dir.path().join("l0.conf")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "includes are nested deeper than {MAX_INCLUDE_DEPTH} levels"
        )),
        "{text}"
    );

    // Exactly at the limit is fine.
    let ok = TempDir::new().unwrap();
    for i in 0..MAX_INCLUDE_DEPTH - 1 {
        write(
            ok.path(),
            &format!("l{i}.conf"),
            &format!("include l{}.conf\n", i + 1),
        );
    }
    write(
        ok.path(),
        &format!("l{}.conf", MAX_INCLUDE_DEPTH - 1),
        "end = true",
    );
    let doc = parse_file(&ok.path().join("l0.conf")).unwrap();
    assert_eq!(
        kind(doc.as_map().unwrap(), "end"),
        &natrium_conf::ValueKind::Bool(true)
    );
}

#[test]
fn included_files_have_their_own_variable_scope_but_define_variables_for_the_includer() {
    let dir = TempDir::new().unwrap();
    // The included file cannot see the includer's keys (nats-server parses it separately)...
    write(dir.path(), "uses.conf", "y = $OUTER_ONLY_NATRIUM_TEST");
    let main = write(
        dir.path(),
        "main.conf",
        "OUTER_ONLY_NATRIUM_TEST = 1\ninclude uses.conf",
    );
    let err = parse_file(&main).unwrap_err();
    assert!(
        err.to_string()
            .contains("variable reference for 'OUTER_ONLY_NATRIUM_TEST' can not be found"),
        "{err}"
    );
    // ...but keys it defines are visible to the includer afterwards.
    write(dir.path(), "defines.conf", "SECRET = hunter2");
    let main = write(
        dir.path(),
        "main2.conf",
        "include defines.conf\npassword = $SECRET",
    );
    let doc = parse_file(&main).unwrap();
    let m = doc.as_map().unwrap();
    assert_eq!(kind(m, "password"), &s("hunter2"));
    assert!(m.get_entry("SECRET").unwrap().is_used_as_variable());
}

#[test]
fn parse_str_includes_relative_to_the_current_directory() {
    // The test binary runs in the crate directory; Cargo.toml is there.
    let err = natrium_conf::parse_str("include Cargo.toml").unwrap_err();
    // It was found and read (and is not in this format): the error is from inside it.
    let text = err.to_string();
    assert!(
        text.contains("error parsing include file 'Cargo.toml'"),
        "{text}"
    );
    assert!(!text.contains("cannot read"), "{text}");
}
