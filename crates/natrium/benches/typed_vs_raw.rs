//! Typed natrium handler vs raw async-nats subscriber (filled in below).

fn main() {}
