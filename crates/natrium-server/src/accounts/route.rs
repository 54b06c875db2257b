//! What the internal subscriptions of imports carry: imported streams, requests to imported
//! services, and the answers back to the requesting account (`connection::imports` delivers
//! them).

use std::sync::Weak;
use std::time::Duration;

use tokio::time::Instant;

use super::Account;
use super::mapping::SubjectMap;

/// What an import's internal subscription does with a message it matches.
#[derive(Debug)]
pub(crate) enum ImportRoute {
    /// In the exporter's index: copies the message into the importing account, under the
    /// mapped subject.
    Stream {
        into: Weak<Account>,
        map: SubjectMap,
    },
    /// In the importer's index: sends the request to the exporting account under the mapped
    /// subject, with a reply subject of the exporter's that leads back to the requester.
    Service {
        into: Weak<Account>,
        from: Weak<Account>,
        map: SubjectMap,
        singleton: bool,
        threshold: Duration,
    },
    /// In an exporter's index, on its reply prefix: sends answers back to the requester.
    Responses { account: Weak<Account> },
}

/// Where the answers to one imported request go.
#[derive(Debug)]
pub(crate) struct PendingReply {
    pub to: Weak<Account>,
    pub reply: Box<[u8]>,
    pub singleton: bool,
    pub expires: Instant,
}
