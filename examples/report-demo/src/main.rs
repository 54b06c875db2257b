//! The report demo.

fn main() {}
