//! `/jsz` and the `jetstream` section of `/varz`, with nats-server 2.15's field names.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Serialize;

use super::format;
use crate::jetstream::{JetStream, Snapshot};
use crate::options::SyncPolicy;

/// `config` of `/jsz` and of `/varz`'s `jetstream`.
#[derive(Debug, Serialize)]
pub(crate) struct JsConfig {
    max_memory: i64,
    max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    store_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_interval: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sync_always: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    domain: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    strict: bool,
}

/// `api` counters.
#[derive(Debug, Serialize)]
pub(crate) struct JsApi {
    level: u32,
    total: u64,
    errors: u64,
}

/// `stats` of `/varz`'s `jetstream` (the top of `/jsz` repeats them).
#[derive(Debug, Serialize)]
pub(crate) struct JsStats {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: JsApi,
}

/// `limits` of `/jsz` and `/varz`'s `jetstream`.
#[derive(Debug, Serialize)]
pub(crate) struct JsLimits {
    default_max_consumers: u64,
}

/// nats-server's default consumer limit per stream, as `/jsz` reports it.
const DEFAULT_MAX_CONSUMERS: u64 = 1000;

/// `/varz`'s `jetstream` section; empty (`{}`) when JetStream is off.
#[derive(Debug, Serialize, Default)]
pub(crate) struct VarzJetStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<JsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<JsStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<JsLimits>,
}

#[derive(Serialize)]
struct StreamDetail {
    name: String,
    created: crate::jetstream::types::Timestamp,
    cluster: Leader,
    state: crate::jetstream::types::StreamState,
}

#[derive(Serialize)]
struct Leader {
    leader: String,
}

#[derive(Serialize)]
struct AccountDetail {
    name: String,
    id: String,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: JsApi,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stream_detail: Vec<StreamDetail>,
}

/// The `/jsz` document.
#[derive(Serialize)]
pub(crate) struct Jsz {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: JsApi,
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: JsConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<JsLimits>,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    account_details: Vec<AccountDetail>,
    total: u64,
}

fn config(s: &Snapshot) -> JsConfig {
    let (sync_interval, sync_always) = match s.sync {
        SyncPolicy::Interval(d) => (d.as_nanos() as u64, false),
        // nats-server keeps reporting the default interval next to sync_always.
        SyncPolicy::Always => (120_000_000_000, true),
    };
    JsConfig {
        max_memory: s.max_memory,
        max_storage: s.max_store,
        store_dir: s.store_dir.display().to_string(),
        sync_interval: Some(sync_interval),
        sync_always,
        domain: s.domain.clone(),
        strict: s.strict,
    }
}

fn api(s: &Snapshot, level: u32) -> JsApi {
    JsApi {
        level,
        total: s.api_total,
        errors: s.api_errors,
    }
}

/// `/varz`'s `jetstream`.
pub(crate) fn varz_section(js: Option<&JetStream>) -> VarzJetStream {
    let Some(js) = js else {
        return VarzJetStream::default();
    };
    let s = js.snapshot();
    VarzJetStream {
        config: Some(config(&s)),
        stats: Some(JsStats {
            memory: s.memory,
            storage: s.storage,
            reserved_memory: s.reserved_memory,
            reserved_storage: s.reserved_storage,
            accounts: s.accounts.len() as u64,
            ha_assets: 0,
            api: api(&s, crate::jetstream::types::API_LEVEL),
        }),
        limits: Some(JsLimits {
            default_max_consumers: DEFAULT_MAX_CONSUMERS,
        }),
    }
}

/// `/jsz`, with `?accounts=1` (or `true`) the account details and with `?streams=1` the
/// streams in them.
pub(crate) fn jsz(
    js: Option<&JetStream>,
    server_id: &str,
    params: &HashMap<String, String>,
) -> Jsz {
    let flag = |name: &str| {
        params
            .get(name)
            .is_some_and(|v| matches!(v.as_str(), "1" | "true"))
    };
    let Some(js) = js else {
        return Jsz {
            memory: 0,
            storage: 0,
            reserved_memory: 0,
            reserved_storage: 0,
            accounts: 0,
            ha_assets: 0,
            api: JsApi {
                level: 0,
                total: 0,
                errors: 0,
            },
            server_id: server_id.to_owned(),
            now: SystemTime::now(),
            disabled: true,
            config: JsConfig {
                max_memory: 0,
                max_storage: 0,
                store_dir: String::new(),
                sync_interval: None,
                sync_always: false,
                domain: String::new(),
                strict: false,
            },
            limits: None,
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            account_details: Vec::new(),
            total: 0,
        };
    };
    let s = js.snapshot();
    let messages = s.streams().map(|st| st.state.messages).sum();
    let bytes = s.streams().map(|st| st.state.bytes).sum();
    let with_streams = flag("streams");
    let account_details = if flag("accounts") || with_streams {
        s.accounts
            .iter()
            .map(|a| AccountDetail {
                name: a.name.clone(),
                id: a.name.clone(),
                memory: a.memory,
                storage: a.storage,
                // nats-server shows the unset reservation as the largest unsigned number.
                reserved_memory: u64::MAX,
                reserved_storage: u64::MAX,
                accounts: 0,
                ha_assets: 0,
                api: JsApi {
                    level: 0,
                    total: a.api_total,
                    errors: a.api_errors,
                },
                stream_detail: if with_streams {
                    a.streams
                        .iter()
                        .map(|st| StreamDetail {
                            name: st.name.clone(),
                            created: st.created,
                            cluster: Leader {
                                leader: js.server_name().to_owned(),
                            },
                            state: st.state.clone(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    Jsz {
        memory: s.memory,
        storage: s.storage,
        reserved_memory: s.reserved_memory,
        reserved_storage: s.reserved_storage,
        accounts: s.accounts.len() as u64,
        ha_assets: 0,
        api: api(&s, crate::jetstream::types::API_LEVEL),
        server_id: server_id.to_owned(),
        now: SystemTime::now(),
        disabled: false,
        config: config(&s),
        limits: Some(JsLimits {
            default_max_consumers: DEFAULT_MAX_CONSUMERS,
        }),
        streams: s.streams().count() as u64,
        consumers: s.streams().map(|st| st.state.consumer_count).sum(),
        messages,
        bytes,
        account_details,
        total: s.accounts.len() as u64,
    }
}
