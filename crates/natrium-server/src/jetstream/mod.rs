pub(crate) mod errors;
pub(crate) mod stream_config;
pub(crate) mod types;
