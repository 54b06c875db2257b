//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`): they hand
//! untrusted bytes to crate-private decoders and checks. Not an API.

use crate::OperatorOptions;
use crate::jetstream::consumer_config::{self, CreateContext, CreateSubject};
use crate::jetstream::consumer_types;
use crate::jetstream::stream_config::{self, ConfigContext, Create};
use crate::jetstream::types::{AccountLimits, StreamConfig, StreamConfigRequest, decode_request};
use crate::operator::Trust;

/// A stream config that passed the create checks.
#[derive(Debug, Clone)]
pub struct Stream(StreamConfig);

fn stream_ctx<'a>(
    limits: &'a AccountLimits,
    existing: &'a [&'a StreamConfig],
) -> ConfigContext<'a> {
    ConfigContext {
        limits,
        server_max_memory: 1 << 40,
        server_max_storage: 1 << 40,
        existing,
    }
}

/// Decodes a `STREAM.CREATE.<name>` body and runs the create checks on an empty account.
/// A config that passes must be found as existing when the same request comes again.
pub fn stream_create(name: &str, body: &[u8], strict: bool) -> Result<Stream, String> {
    let req: StreamConfigRequest = decode_request(body, strict).map_err(|e| e.to_string())?;
    let limits = AccountLimits::default();
    let created = stream_config::check_create(
        name,
        req.config.clone(),
        req.pedantic,
        &stream_ctx(&limits, &[]),
    )
    .map_err(|e| e.to_string())?;
    let Create::New(cfg) = created else {
        panic!("an empty account has no existing stream");
    };
    let again = stream_config::check_create(
        name,
        req.config,
        req.pedantic,
        &stream_ctx(&limits, &[&cfg]),
    );
    assert_eq!(again, Ok(Create::Existing), "the same create request again");
    Ok(Stream(*cfg))
}

/// Decodes a consumer create request on `subject` and runs the create checks against
/// the stream of `streams` (configs from [`stream_create`]) the subject names.
pub fn consumer_create(
    subject: &str,
    body: &[u8],
    strict: bool,
    streams: &[Stream],
) -> Result<(), String> {
    let Some(subject) = CreateSubject::parse(subject) else {
        return Err("not a create subject".into());
    };
    // The stream the subject names, as the API looks it up.
    let stream = streams.iter().find(|s| s.0.name == subject.stream());
    let req = consumer_types::decode_create(body, strict).map_err(|e| e.to_string())?;
    let account = AccountLimits::default();
    let ctx = CreateContext {
        stream: stream.map(|s| &s.0),
        consumers: &[],
        account: &account,
        server: consumer_config::ServerConsumerLimits::default(),
    };
    consumer_config::check_create(req, subject, &ctx)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Decodes a pull request body (`CONSUMER.MSG.NEXT`).
pub fn pull_request(body: &[u8]) -> Result<(), String> {
    consumer_types::decode_next(body)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// Decodes and checks operator-mode JWTs as the server does at startup, then a user's JWT,
/// nonce and nonce signature as it does on CONNECT.
pub fn operator_trust(
    opts: &OperatorOptions,
    user: &str,
    nonce: &str,
    sig: &str,
) -> Result<(), String> {
    let trust = Trust::new(opts).map_err(|e| e.to_string())?;
    let _ = trust.account_options().count();
    trust.authenticate(user, Some(nonce), Some(sig)).map(|_| ())
}

/// Checks a nonce signature against an nkey public key, as nkey authentication does.
pub fn nonce_signed(public_key: &str, nonce: &str, sig: &str) -> bool {
    crate::auth::nonce_signed(public_key, nonce, sig)
}
