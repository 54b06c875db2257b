//! The workloads of `natrium bench compare`: what a row measures ([`CaseKind`]), which
//! accounts its clients are in ([`Tenancy`]), and the table of rows ([`CASES`]).

use crate::bench::clients::ClientKind;
use crate::bench::jetstream::{ConsumeAck, Pull, Storage};
use crate::bench::kv::KvOp;
use crate::bench::object::ObjectOp;

/// One row group of the comparison table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Case {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    pub(super) kind: CaseKind,
    /// Client for this case when it must not follow `--client`.
    pub(super) client: Option<ClientKind>,
    /// Which accounts the clients are in.
    pub(super) tenancy: Tenancy,
}

/// Where a case's clients are: the global account (no configuration), or accounts of
/// [`ACCOUNTS_CONF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tenancy {
    Global,
    /// Every client is a user of account A.
    InAccount,
    /// Requesters are in B, responders in A: B imports A's service.
    AcrossAccounts,
}

/// The configuration of the account rows, the same for both servers.
pub(super) const ACCOUNTS_CONF: &str = "accounts {\n\
  A {\n\
    users: [{user: a, password: a}]\n\
    exports: [{service: \"natrium.bench\"}, {service: \"natrium.bench.>\"}]\n\
  }\n\
  B {\n\
    users: [{user: b, password: b}]\n\
    imports: [{service: {account: A, subject: \"natrium.bench\"}}, \
{service: {account: A, subject: \"natrium.bench.>\"}}]\n\
  }\n\
}\n";

impl Tenancy {
    /// `url` with the credentials of the user that publishes or requests.
    pub(super) fn client_url(self, url: &str) -> String {
        match self {
            Tenancy::Global => url.to_owned(),
            Tenancy::InAccount => url.replacen("nats://", "nats://a:a@", 1),
            Tenancy::AcrossAccounts => url.replacen("nats://", "nats://b:b@", 1),
        }
    }

    /// `url` with the credentials of the user that subscribes or answers.
    pub(super) fn server_side_url(self, url: &str) -> String {
        match self {
            Tenancy::Global => url.to_owned(),
            Tenancy::InAccount | Tenancy::AcrossAccounts => {
                url.replacen("nats://", "nats://a:a@", 1)
            }
        }
    }
}

/// What a row runs, with its sizes.
#[derive(Debug, Clone, Copy)]
pub(super) enum CaseKind {
    Publish {
        msgs: u64,
        size: usize,
    },
    FanOut {
        msgs: u64,
        size: usize,
        subscribers: usize,
    },
    Queue {
        msgs: u64,
        members: usize,
    },
    Request {
        msgs: u64,
        requesters: usize,
        responders: usize,
    },
    Subjects {
        msgs: u64,
        subjects: usize,
        wildcards: usize,
    },
    Idle {
        clients: usize,
    },
    /// JetStream publish with acknowledgements into a fresh stream (`-js -sd <tmp>`).
    JsPublish {
        msgs: u64,
        size: usize,
        storage: Storage,
        /// Wait for each acknowledgement; otherwise [`JS_WINDOW`] are outstanding.
        sync: bool,
        /// Publish with the raw client instead of async-nats.
        raw: bool,
    },
    /// JetStream consume: a stream filled beforehand (not measured) read through a new
    /// consumer with async-nats.
    JsConsume(ConsumeCase),
    /// Key-Value operations through async-nats' `kv::Store` on a fresh bucket.
    Kv {
        op: KvOp,
        msgs: u64,
    },
    /// Whole objects through async-nats' object store on a fresh bucket.
    Object {
        op: ObjectOp,
        count: u64,
        size: usize,
        /// Put or get on the wire with the raw client instead.
        raw: bool,
    },
}

/// What a [`CaseKind::JsConsume`] row reads, and how.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConsumeCase {
    pub(super) msgs: u64,
    pub(super) size: usize,
    pub(super) storage: Storage,
    pub(super) ack: ConsumeAck,
    /// Pull (continuous or fetch), push or ordered.
    pub(super) pull: Pull,
    /// Consume with the raw client instead of async-nats.
    pub(super) raw: bool,
}

impl CaseKind {
    /// Whether the row needs JetStream (and runs against the newest nats-server).
    pub(super) fn is_jetstream(self) -> bool {
        matches!(
            self,
            CaseKind::JsPublish { .. }
                | CaseKind::JsConsume(_)
                | CaseKind::Kv { .. }
                | CaseKind::Object { .. }
        )
    }
}

/// Messages per pull request in the consume rows (as `nats bench js consume`).
pub(super) const JS_PULL_BATCH: usize = 500;

/// Acknowledgements outstanding in the async JetStream rows (as `nats bench js pub`).
pub(super) const JS_WINDOW: usize = 256;

/// A JetStream consume row (128 B messages).
const fn js_consume_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    ack: ConsumeAck,
    pull: Pull,
) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsConsume(ConsumeCase {
            msgs: 200_000,
            size: 128,
            storage,
            ack,
            pull,
            raw: false,
        }),
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    }
}

/// A JetStream consume row read with the raw client (128 B messages; twice as many, since
/// the raw client reads them faster).
const fn js_raw_consume_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    ack: ConsumeAck,
    pull: Pull,
) -> Case {
    let mut case = js_consume_case(name, title, storage, ack, pull);
    if let CaseKind::JsConsume(consume) = &mut case.kind {
        consume.msgs = 400_000;
        consume.raw = true;
    }
    case
}

/// A JetStream publish row.
const fn js_case(
    name: &'static str,
    title: &'static str,
    storage: Storage,
    sync: bool,
    size: usize,
) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsPublish {
            msgs: if sync { 10_000 } else { 200_000 },
            size,
            storage,
            sync,
            raw: false,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    }
}

/// An object store row: 24 objects of 8 MiB, through async-nats or the raw client.
const fn object_case(name: &'static str, title: &'static str, op: ObjectOp, raw: bool) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::Object {
            op,
            count: 24,
            size: 8 * 1024 * 1024,
            raw,
        },
        client: Some(if raw {
            ClientKind::Raw
        } else {
            ClientKind::Nats
        }),
        tenancy: Tenancy::Global,
    }
}

/// An async JetStream publish row with the raw client.
const fn js_raw_case(name: &'static str, title: &'static str, storage: Storage) -> Case {
    Case {
        name,
        title,
        kind: CaseKind::JsPublish {
            msgs: 400_000,
            size: 128,
            storage,
            sync: false,
            raw: true,
        },
        client: Some(ClientKind::Raw),
        tenancy: Tenancy::Global,
    }
}

/// The comparison table: sized for seconds per workload on a small machine.
pub(super) const CASES: &[Case] = &[
    Case {
        name: "pub",
        title: "publish only, 16 B",
        kind: CaseKind::Publish {
            msgs: 2_000_000,
            size: 16,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub",
        title: "1 → 1, 16 B",
        kind: CaseKind::FanOut {
            msgs: 1_000_000,
            size: 16,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub16k",
        title: "1 → 1, 16 KiB",
        kind: CaseKind::FanOut {
            msgs: 50_000,
            size: 16 * 1024,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "fanout",
        title: "1 → 4 fan-out, 16 B",
        kind: CaseKind::FanOut {
            msgs: 500_000,
            size: 16,
            subscribers: 4,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "queue",
        title: "queue group of 4, 16 B",
        kind: CaseKind::Queue {
            msgs: 1_000_000,
            members: 4,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "req",
        title: "request/reply sequential, 16 B",
        kind: CaseKind::Request {
            msgs: 10_000,
            requesters: 1,
            responders: 1,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "req50",
        title: "request/reply, 50 requesters, 2 responders (queue group)",
        kind: CaseKind::Request {
            msgs: 50_000,
            requesters: 50,
            responders: 2,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "subjects",
        title: "subject index: 10,000 subjects + 2 wildcards",
        kind: CaseKind::Subjects {
            msgs: 500_000,
            subjects: 10_000,
            wildcards: 2,
        },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub-account",
        title: "1 → 1, 16 B, inside account A",
        kind: CaseKind::FanOut {
            msgs: 1_000_000,
            size: 16,
            subscribers: 1,
        },
        client: None,
        tenancy: Tenancy::InAccount,
    },
    Case {
        name: "req-import",
        title: "request/reply sequential, 16 B, service imported from another account",
        kind: CaseKind::Request {
            msgs: 10_000,
            requesters: 1,
            responders: 1,
        },
        client: None,
        tenancy: Tenancy::AcrossAccounts,
    },
    Case {
        name: "pub-nats",
        title: "publish only, 16 B, async-nats client",
        kind: CaseKind::Publish {
            msgs: 1_000_000,
            size: 16,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "pubsub-nats",
        title: "1 → 1, 16 B, async-nats client",
        kind: CaseKind::FanOut {
            msgs: 500_000,
            size: 16,
            subscribers: 1,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    js_case(
        "js-file-async-128",
        "JetStream publish, file, async (256 acks in flight), 128 B",
        Storage::File,
        false,
        128,
    ),
    js_case(
        "js-file-async-16",
        "JetStream publish, file, async (256 acks in flight), 16 B",
        Storage::File,
        false,
        16,
    ),
    js_case(
        "js-mem-async-128",
        "JetStream publish, memory, async (256 acks in flight), 128 B",
        Storage::Memory,
        false,
        128,
    ),
    js_case(
        "js-mem-async-16",
        "JetStream publish, memory, async (256 acks in flight), 16 B",
        Storage::Memory,
        false,
        16,
    ),
    js_raw_case(
        "js-file-async-128-raw",
        "JetStream publish, file, async (256 acks in flight), 128 B, raw client",
        Storage::File,
    ),
    js_raw_case(
        "js-mem-async-128-raw",
        "JetStream publish, memory, async (256 acks in flight), 128 B, raw client",
        Storage::Memory,
    ),
    js_case(
        "js-file-sync-128",
        "JetStream publish, file, sync (one ack at a time), 128 B",
        Storage::File,
        true,
        128,
    ),
    js_case(
        "js-file-sync-16",
        "JetStream publish, file, sync (one ack at a time), 16 B",
        Storage::File,
        true,
        16,
    ),
    js_case(
        "js-mem-sync-128",
        "JetStream publish, memory, sync (one ack at a time), 128 B",
        Storage::Memory,
        true,
        128,
    ),
    js_case(
        "js-mem-sync-16",
        "JetStream publish, memory, sync (one ack at a time), 16 B",
        Storage::Memory,
        true,
        16,
    ),
    js_consume_case(
        "js-consume-file-128",
        "JetStream consume, file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-consume-mem-ack-none-128",
        "JetStream consume, memory, no ack, 128 B",
        Storage::Memory,
        ConsumeAck::None,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-fetch-file-128",
        "JetStream fetch (500 per fetch), file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Fetch(JS_PULL_BATCH),
    ),
    js_consume_case(
        "js-push-file-128",
        "JetStream push consumer, file, explicit ack, 128 B",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Push,
    ),
    js_consume_case(
        "js-ordered-file-128",
        "JetStream ordered consumer, file, 128 B",
        Storage::File,
        ConsumeAck::None,
        Pull::Ordered,
    ),
    js_raw_consume_case(
        "js-consume-file-128-raw",
        "JetStream consume, file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-consume-mem-ack-none-128-raw",
        "JetStream consume, memory, no ack, 128 B, raw client",
        Storage::Memory,
        ConsumeAck::None,
        Pull::Stream(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-fetch-file-128-raw",
        "JetStream fetch (500 per fetch), file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Fetch(JS_PULL_BATCH),
    ),
    js_raw_consume_case(
        "js-push-file-128-raw",
        "JetStream push consumer, file, explicit ack, 128 B, raw client",
        Storage::File,
        ConsumeAck::Explicit,
        Pull::Push,
    ),
    js_raw_consume_case(
        "js-ordered-file-128-raw",
        "JetStream ordered consumer, file, 128 B, raw client",
        Storage::File,
        ConsumeAck::None,
        Pull::Ordered,
    ),
    Case {
        name: "kv-put",
        title: "Key-Value put, 16 B values, 1,000 keys",
        kind: CaseKind::Kv {
            op: KvOp::Put,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "kv-get",
        title: "Key-Value get, 16 B values, 1,000 keys",
        kind: CaseKind::Kv {
            op: KvOp::Get,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    Case {
        name: "kv-watch",
        title: "Key-Value watch, 16 B values, one key per put",
        kind: CaseKind::Kv {
            op: KvOp::Watch,
            msgs: 100_000,
        },
        client: Some(ClientKind::Nats),
        tenancy: Tenancy::Global,
    },
    object_case(
        "object-put-8mib",
        "Object store put, 8 MiB objects",
        ObjectOp::Put,
        false,
    ),
    object_case(
        "object-get-8mib",
        "Object store get, 8 MiB objects",
        ObjectOp::Get,
        false,
    ),
    object_case(
        "object-put-8mib-raw",
        "Object store put, 8 MiB objects, chunks pipelined (as nats.go), raw client",
        ObjectOp::Put,
        true,
    ),
    object_case(
        "object-get-8mib-raw",
        "Object store get, 8 MiB objects, raw client",
        ObjectOp::Get,
        true,
    ),
    Case {
        name: "idle1k",
        title: "1,000 idle clients",
        kind: CaseKind::Idle { clients: 1_000 },
        client: None,
        tenancy: Tenancy::Global,
    },
    Case {
        name: "idle10k",
        title: "10,000 idle clients",
        kind: CaseKind::Idle { clients: 10_000 },
        client: None,
        tenancy: Tenancy::Global,
    },
];
