//! The report demo: the seed's system on natrium.
//!
//! - [`report`]: an HTTP API (`POST /v1/report`, `POST /v1/report/user`) that publishes
//!   `RealTimeWarehousingData` / `AcceptStatusReportData` events to NATS (to the `REPORTS`
//!   stream, answering 200 after the PubAck, in JetStream mode);
//! - [`saver`]: a NATS transport server writing each event to SQLite or PostgreSQL
//!   ([`store`]): durable consumers on the `REPORTS` stream ([`durable`], JetStream mode, the
//!   default), or the `savers` queue group (core mode);
//! - [`config`]: the Kratos-style bootstrap file; [`run`]: the services as natrium apps;
//!   [`proto`]: the messages, sent as `natrium::Wire` under any codec.

pub mod config;
pub mod durable;
pub mod proto;
pub mod report;
pub mod run;
pub mod saver;
pub mod stats;
pub mod store;
