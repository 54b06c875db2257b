//! The nats conf parser, with includes and variables, and the server's reading of the
//! result: any input gives a value or a typed error, never a panic or a hang.
//!
//! Input: up to three files separated by NUL bytes, written as `main.conf`, `a.conf` and
//! `sub/b.conf` in a temp dir, so `include a.conf`, `include sub/b.conf` and includes from
//! `sub/b.conf` back up (`include ../main.conf`) all resolve. `main.conf` is then parsed
//! with `natrium_conf::parse_file` and read by `natrium_server::config::load`, and every
//! value is read through every typed accessor.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use natrium_conf::{Value, ValueKind};

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("natrium-fuzz-conf").tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        // Variables may also come from the environment.
        // SAFETY: set once, before any other thread of this process reads the environment.
        unsafe { std::env::set_var("NATRIUM_FUZZ_VAR", "4222") };
        dir.keep()
    })
}

fn walk(value: &Value, depth: usize) {
    let _ = value.as_str();
    let _ = value.as_i64();
    let _ = value.as_f64();
    let _ = value.as_bool();
    let _ = value.as_duration();
    let _ = value.as_size();
    let _ = value.pos.to_string();
    match &value.kind {
        ValueKind::Array(items) => items.iter().for_each(|v| walk(v, depth + 1)),
        ValueKind::Map(map) => {
            for entry in map.iter() {
                let _ = entry.key_pos().to_string();
                let _ = entry.is_used_as_variable();
                assert!(map.get(entry.key()).is_some(), "key {:?} not found", entry.key());
                walk(entry.value(), depth + 1);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // Paths to device and kernel files could make a read block or never end (/dev/zero);
    // the fuzzer must not reach outside its temp dir.
    let lower = data.to_ascii_lowercase();
    let outside = [&b"dev"[..], b"proc", b"sys", b"\\"]
        .iter()
        .any(|w| lower.windows(w.len()).any(|x| x == *w));
    if outside {
        return;
    }
    let dir = dir();
    let mut parts = data.splitn(3, |&b| b == 0);
    let files = ["main.conf", "a.conf", "sub/b.conf"];
    for name in files {
        std::fs::write(dir.join(name), parts.next().unwrap_or_default()).unwrap();
    }
    let main = dir.join("main.conf");
    if let Ok(doc) = natrium_conf::parse_file(&main) {
        walk(&doc, 0);
    }
    // parse_str resolves includes from the current directory: only without any.
    let first = data.split(|&b| b == 0).next().unwrap_or_default();
    if let Ok(text) = std::str::from_utf8(first)
        && !lower.windows(7).any(|w| w == b"include")
        && let Ok(doc) = natrium_conf::parse_str(text)
    {
        walk(&doc, 0);
    }
    let _ = natrium_server::config::load(&main);
});
