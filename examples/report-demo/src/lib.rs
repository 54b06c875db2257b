//! The report demo: the seed's system on natrium.
//!
//! - [`report`]: an HTTP API (`POST /v1/report`, `POST /v1/report/user`) that publishes
//!   `RealTimeWarehousingData` / `AcceptStatusReportData` events to NATS;
//! - [`saver`]: a NATS transport server in the `savers` queue group writing each event to
//!   SQLite or PostgreSQL ([`store`]);
//! - [`config`]: the Kratos-style bootstrap file; [`run`]: the services as natrium apps;
//!   [`wire`]: one message type, any codec.

pub mod config;
pub mod proto;
pub mod report;
pub mod run;
pub mod saver;
pub mod stats;
pub mod store;
pub mod wire;
