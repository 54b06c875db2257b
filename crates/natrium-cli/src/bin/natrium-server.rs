//! The `natrium-server` binary: a drop-in for `nats-server` (core NATS).

fn main() {}
