//! natrium-server: a NATS-compatible message server, embeddable in-process.
