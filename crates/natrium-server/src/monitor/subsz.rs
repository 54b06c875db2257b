//! `/subsz`: the subject index's counters and, with `subs=1`, the subscriptions themselves
//! (`offset`, `limit`, and `test=<subject>` to keep those a message on that subject reaches).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use natrium_sublist::SublistStats;
use natrium_wire::subject_matches;
use serde::Serialize;

use super::connz::DEFAULT_LIMIT;
use super::format;
use super::query::{self, QueryError};
use crate::client::Client;
use crate::records::{SubDetail, sub_details};
use crate::state::Shared;

/// `/subsz` query parameters.
#[derive(Debug)]
pub(crate) struct SubszQuery {
    subs: bool,
    offset: usize,
    limit: usize,
    test: Option<String>,
}

impl SubszQuery {
    pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Self, QueryError> {
        let subs = query::bool_param(params, "subs")?;
        let offset = query::int_param(params, "offset")?;
        let limit = query::int_param(params, "limit")?;
        let test = params.get("test").filter(|t| !t.is_empty()).cloned();
        if let Some(t) = &test
            && !natrium_wire::is_valid_literal_subject(t.as_bytes())
        {
            return Err(QueryError(format!(
                "invalid test subject, must be valid publish subject: {t}"
            )));
        }
        Ok(SubszQuery {
            subs,
            offset: offset.max(0) as usize,
            limit: if limit <= 0 {
                DEFAULT_LIMIT
            } else {
                limit as usize
            },
            test,
        })
    }
}

/// `/subsz` with the subscription list.
#[derive(Debug, Serialize)]
pub(crate) struct SubszList {
    server_id: String,
    #[serde(serialize_with = "format::serialize_timestamp")]
    now: SystemTime,
    #[serde(flatten)]
    stats: Stats,
    total: usize,
    offset: usize,
    limit: usize,
    subscriptions_list: Vec<SubDetail>,
}

/// The index's counters, with whole floats printed as Go does.
#[derive(Debug, Serialize)]
pub(crate) struct Stats {
    num_subscriptions: u32,
    num_cache: u32,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "format::serialize_go_float")]
    cache_hit_rate: f64,
    max_fanout: u32,
    #[serde(serialize_with = "format::serialize_go_float")]
    avg_fanout: f64,
}

impl From<SublistStats> for Stats {
    fn from(s: SublistStats) -> Self {
        Stats {
            num_subscriptions: s.num_subscriptions,
            num_cache: s.num_cache,
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: s.cache_hit_rate,
            max_fanout: s.max_fanout,
            avg_fanout: s.avg_fanout,
        }
    }
}

/// What `/subsz` answers: nats-server prints only the counters when the list is empty.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Subsz {
    Stats(Stats),
    List(SubszList),
}

/// Builds the `/subsz` document.
pub(crate) fn subsz(shared: &Shared, q: &SubszQuery) -> Subsz {
    let stats = Stats::from(shared.accounts.global().sublist.stats());
    if !q.subs {
        return Subsz::Stats(stats);
    }
    let mut clients: Vec<Arc<Client>> = shared.clients.lock().values().cloned().collect();
    clients.sort_by_key(|c| c.cid);
    let all = clients
        .iter()
        .flat_map(|c| sub_details(c, Some(&shared.account_of(c).name)))
        .filter(|s| {
            q.test
                .as_deref()
                .is_none_or(|t| subject_matches(s.subject.as_bytes(), t.as_bytes()))
        });
    let page: Vec<SubDetail> = all.skip(q.offset).take(q.limit).collect();
    if page.is_empty() {
        return Subsz::Stats(stats);
    }
    Subsz::List(SubszList {
        server_id: shared.info.server_id.clone(),
        now: SystemTime::now(),
        stats,
        // As nats-server: the number of subscriptions in this page.
        total: page.len(),
        offset: q.offset,
        limit: q.limit,
        subscriptions_list: page,
    })
}
