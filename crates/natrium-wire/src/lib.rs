//! The NATS client protocol: parser, encoder and subject rules. No I/O, no tokio.
