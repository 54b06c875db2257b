//! The nats-server configuration file format.
