//! Helpers shared by natrium's test suites (a dev-dependency only; never published).
//!
//! - [`reference`](mod@reference): finding the reference servers, Debian's `nats-server`
//!   (core NATS) and the newest `nats-server` (JetStream), with the team rule for a missing
//!   one: fail under `CI`, warn loudly otherwise.
//! - [`port`]: free loopback ports, and ports a server can be restarted on.
//! - [`certs`]: a CA, server and client certificates made at test time.
//! - [`jwt`]: operator, account and user JWTs and `.creds` files minted at test time.
//! - [`process`]: a server binary (nats-server or natrium-server) started as a child process
//!   on a free port, waited for until it is ready, killed when dropped.
//!
//! It depends on no natrium crate, so every crate of the workspace (natrium-server included)
//! can use it without building itself twice.

pub mod certs;
pub mod jwt;
pub mod port;
pub mod process;
pub mod reference;
