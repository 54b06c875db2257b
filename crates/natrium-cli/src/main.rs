//! The `natrium` command line.

fn main() {}
