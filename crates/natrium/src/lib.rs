//! natrium: Rust microservices on NATS.
