//! Stream configuration rules (defaults and validation), as nats-server 2.15 applies them.
