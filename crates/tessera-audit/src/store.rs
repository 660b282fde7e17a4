//! The [`AuditStore`] trait: where events are made durable and looked up, and where trails and
//! the digest signing key live.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::{DigestSigner, PublicKeyInfo};
use crate::event::{AuditEvent, LookupResource};
use crate::last_access::LastAccess;

/// A failure of the audit store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The store could not read or write (disk full, I/O error, corrupt file).
    #[error("audit storage failure: {0}")]
    Storage(String),
    /// The store is not accepting events (writer stopped, recent write failure).
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// Invalid input to the store (e.g. an account id that is not 12 digits).
    #[error("invalid audit input: {0}")]
    Invalid(String),
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Storage(e.to_string())
    }
}

/// The one lookup attribute of a LookupEvents request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAttribute {
    /// `EventId`.
    EventId(String),
    /// `EventName`.
    EventName(String),
    /// `ReadOnly` (`true`/`false`).
    ReadOnly(bool),
    /// `Username`.
    Username(String),
    /// `ResourceType`.
    ResourceType(String),
    /// `ResourceName`.
    ResourceName(String),
    /// `EventSource`.
    EventSource(String),
    /// `AccessKeyId`.
    AccessKeyId(String),
}

/// Position after the last event of a page: events strictly older than (time, seq) follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Event time of the last returned event (epoch ms).
    pub event_time_millis: i64,
    /// Store sequence number of the last returned event.
    pub seq: i64,
}

/// A LookupEvents query over one account's events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// Account whose events are searched (the caller's).
    pub account: String,
    /// Optional filter.
    pub attribute: Option<LookupAttribute>,
    /// Earliest event time, inclusive (epoch ms).
    pub start_millis: i64,
    /// Latest event time, inclusive (epoch ms).
    pub end_millis: i64,
    /// Page size (1-50 in the API).
    pub max_results: usize,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

/// The bounds of a lookup as both stores scan them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Page size, clamped to 1-1000.
    pub limit: usize,
    /// Rows fetched: one more than the page, to know whether another page follows.
    pub fetch: i64,
    /// Latest event time: the query's end, or the cursor's time (events at the cursor's time
    /// with a smaller seq still follow).
    pub upper: i64,
    /// Events strictly before (`cursor_time`, `cursor_seq`) qualify.
    pub cursor_time: i64,
    /// See `cursor_time`.
    pub cursor_seq: i64,
}

impl LookupQuery {
    /// Where the scan of this page starts and how many rows it reads.
    pub(crate) fn scan(&self) -> Scan {
        let limit = self.max_results.clamp(1, 1000);
        let (upper, cursor_time, cursor_seq) = match self.after {
            Some(c) => (self.end_millis.min(c.event_time_millis), c.event_time_millis, c.seq),
            None => (self.end_millis, i64::MAX, i64::MAX),
        };
        Scan { limit, fetch: i64::try_from(limit + 1).unwrap_or(51), upper, cursor_time, cursor_seq }
    }
}

impl LookupPage {
    /// The page of the first `limit` of `events` (fetched newest first, up to `limit + 1`).
    pub(crate) fn of(mut events: Vec<StoredEvent>, limit: usize) -> LookupPage {
        let more = events.len() > limit;
        events.truncate(limit);
        let next = if more {
            events.last().map(|e| Cursor { event_time_millis: e.event_time_millis, seq: e.seq })
        } else {
            None
        };
        LookupPage { events, next }
    }
}

/// One stored event as LookupEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Store sequence number.
    pub seq: i64,
    /// `eventID`.
    pub event_id: String,
    /// `eventName`.
    pub event_name: String,
    /// `readOnly`.
    pub read_only: bool,
    /// Access key id of the caller.
    pub access_key_id: Option<String>,
    /// Event time (epoch ms).
    pub event_time_millis: i64,
    /// `eventSource`.
    pub event_source: String,
    /// LookupEvents `Username`.
    pub username: Option<String>,
    /// LookupEvents `Resources`.
    pub resources: Vec<LookupResource>,
    /// The record JSON (`CloudTrailEvent`).
    pub cloudtrail_event: String,
}

/// A page of LookupEvents results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupPage {
    /// Events, newest first.
    pub events: Vec<StoredEvent>,
    /// Where the next page starts, if there are more events.
    pub next: Option<Cursor>,
}

/// An event as trail delivery reads it, in store order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// Store sequence number.
    pub seq: i64,
    /// `recipientAccountId`.
    pub account: String,
    /// `awsRegion`.
    pub region: String,
    /// `eventSource`.
    pub event_source: String,
    /// Event time (epoch ms).
    pub event_time_millis: i64,
    /// The record JSON.
    pub record: String,
}

/// A log file delivered but not yet covered by a digest file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFileEntry {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub object: String,
    /// Hex SHA-256 of the uncompressed content.
    pub hash: String,
    /// Oldest event time in the file (epoch ms).
    pub oldest_millis: i64,
    /// Newest event time in the file (epoch ms).
    pub newest_millis: i64,
}

/// The newest digest file of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousDigest {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub object: String,
    /// Hex SHA-256 of its uncompressed content.
    pub hash: String,
    /// Hex signature.
    pub signature: String,
    /// Its `digestEndTime` (epoch ms).
    pub end_millis: i64,
}

/// The digest chain of one trail in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DigestChain {
    /// Start of the period the next digest covers (epoch ms).
    pub start_millis: i64,
    /// The newest digest, `None` before the first.
    pub previous: Option<PreviousDigest>,
    /// Log files delivered since the newest digest.
    pub pending: Vec<LogFileEntry>,
    /// Oldest/newest event times of the pending log files.
    #[serde(default)]
    pub oldest_event_millis: Option<i64>,
    /// Newest event time of the pending log files.
    #[serde(default)]
    pub newest_event_millis: Option<i64>,
}

/// Delivery state of a trail (GetTrailStatus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrailState {
    /// Whether the trail is logging.
    pub is_logging: bool,
    /// Last StartLogging (epoch ms).
    pub start_logging_millis: Option<i64>,
    /// Last StopLogging (epoch ms).
    pub stop_logging_millis: Option<i64>,
    /// Events up to StopLogging still to deliver (and the chain's closing digest).
    pub final_delivery_pending: bool,
    /// Store sequence number delivered up to.
    pub cursor: i64,
    /// Last successful log delivery (epoch ms).
    pub latest_delivery_millis: Option<i64>,
    /// Last delivery attempt (epoch ms).
    pub latest_delivery_attempt_millis: Option<i64>,
    /// Last successful attempt (epoch ms).
    pub latest_delivery_attempt_succeeded_millis: Option<i64>,
    /// Error of the last failed delivery.
    pub latest_delivery_error: Option<String>,
    /// Last digest delivery (epoch ms).
    pub latest_digest_millis: Option<i64>,
    /// Error of the last failed digest delivery.
    pub latest_digest_error: Option<String>,
    /// Digest chains by region.
    pub chains: BTreeMap<String, DigestChain>,
}

/// A trail: its configuration (CreateTrail/UpdateTrail) and delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// Owning account.
    pub account: String,
    /// Name.
    pub name: String,
    /// Region it was created in.
    pub home_region: String,
    /// Destination bucket.
    pub s3_bucket_name: String,
    /// Key prefix.
    pub s3_key_prefix: Option<String>,
    /// Whether IAM/STS/Organizations events are delivered.
    pub include_global_service_events: bool,
    /// Whether events of every region are delivered.
    pub is_multi_region_trail: bool,
    /// Whether digest files are delivered.
    pub log_file_validation_enabled: bool,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Creation time (epoch ms).
    pub created_millis: i64,
    /// Delivery state.
    #[serde(default)]
    pub state: TrailState,
}

impl Trail {
    /// `arn:aws:cloudtrail:<home region>:<account>:trail/<name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:cloudtrail:{}:{}:trail/{}", self.home_region, self.account, self.name)
    }

    /// The key prefix with its trailing slash (`""` without a prefix).
    pub fn prefix_path(&self) -> String {
        match self.s3_key_prefix.as_deref() {
            Some(p) if !p.is_empty() => format!("{}/", p.trim_end_matches('/')),
            _ => String::new(),
        }
    }
}

/// Retention and size bounds of the event store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLimits {
    /// Events older than this many days are deleted (AWS keeps 90 days of event history).
    pub retention_days: u32,
    /// At most this many events are kept; the oldest go first.
    pub max_events: u64,
}

impl Default for AuditLimits {
    fn default() -> Self {
        AuditLimits { retention_days: 90, max_events: 50_000_000 }
    }
}

/// The answer to a [`AuditStore::submit`]: whether the events became durable. A request's
/// response must not be sent before it says `Ok`.
#[derive(Debug)]
pub struct Receipt(ReceiptInner);

#[derive(Debug)]
enum ReceiptInner {
    Pending(tokio::sync::oneshot::Receiver<Result<(), AuditError>>),
    Done(Result<(), AuditError>),
}

fn writer_gone(_: tokio::sync::oneshot::error::RecvError) -> AuditError {
    AuditError::Unavailable("the audit writer has stopped".into())
}

impl Receipt {
    /// A receipt that will be answered through `sender`.
    pub fn channel() -> (tokio::sync::oneshot::Sender<Result<(), AuditError>>, Receipt) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (tx, Receipt(ReceiptInner::Pending(rx)))
    }

    /// A receipt that is already answered.
    pub fn done(result: Result<(), AuditError>) -> Receipt {
        Receipt(ReceiptInner::Done(result))
    }

    /// Block this thread until the events are durable (not on an async runtime's thread).
    pub fn wait(self) -> Result<(), AuditError> {
        match self.0 {
            ReceiptInner::Pending(rx) => rx.blocking_recv().map_err(writer_gone)?,
            ReceiptInner::Done(r) => r,
        }
    }

    /// Wait, without blocking a thread, until the events are durable.
    pub async fn durable(self) -> Result<(), AuditError> {
        match self.0 {
            ReceiptInner::Pending(rx) => rx.await.map_err(writer_gone)?,
            ReceiptInner::Done(r) => r,
        }
    }
}

/// Where audit events are made durable and looked up.
pub trait AuditStore: Send + Sync {
    /// Whether events can be recorded now (checked before an operation runs).
    fn ready(&self) -> Result<(), AuditError>;
    /// Queue `events` to be made durable (group commit); the receipt says when they are.
    fn submit(&self, events: Vec<AuditEvent>) -> Result<Receipt, AuditError>;
    /// Make `events` durable; returns once they are on disk.
    fn record(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        self.submit(events)?.wait()
    }
    /// A page of one account's events, newest first.
    fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, AuditError>;
    /// The last-access index rows of these principals (unique ids) with a call at or after
    /// `since_millis`, every event recorded so far included (see [`crate::last_access`]).
    fn last_accessed(&self, principals: &[String], since_millis: i64) -> Result<Vec<LastAccess>, AuditError>;
    /// The highest sequence number stored (0 when empty).
    fn max_seq(&self) -> Result<i64, AuditError>;
    /// Events with a sequence number above `after_seq`, oldest first.
    fn events_after(&self, after_seq: i64, limit: usize) -> Result<Vec<DeliveryEvent>, AuditError>;
    /// Add a trail; `false` if the account already has one of that name.
    fn insert_trail(&self, trail: &Trail) -> Result<bool, AuditError>;
    /// Trails of an account, or of every account.
    fn trails(&self, account: Option<&str>) -> Result<Vec<Trail>, AuditError>;
    /// Change a trail atomically; `None` if it does not exist.
    fn update_trail(
        &self,
        account: &str,
        name: &str,
        change: &mut dyn FnMut(&mut Trail),
    ) -> Result<Option<Trail>, AuditError>;
    /// Remove a trail; `false` if it did not exist.
    fn delete_trail(&self, account: &str, name: &str) -> Result<bool, AuditError>;
    /// The digest signing key, created on first use.
    fn digest_signer(&self, now_millis: i64) -> Result<DigestSigner, AuditError>;
    /// Every digest public key, for verification and ListPublicKeys.
    fn public_keys(&self) -> Result<Vec<PublicKeyInfo>, AuditError>;
    /// Take or renew, for `ttl`, the right to deliver trails: `false` while another server
    /// sharing the store holds it. A store of one server always grants it.
    fn delivery_lease(&self, ttl: std::time::Duration) -> Result<bool, AuditError> {
        let _ = ttl;
        Ok(true)
    }
    /// Give up the delivery lease if this server holds it (a clean stop, after the final
    /// delivery), so that another server takes over at once.
    fn release_delivery_lease(&self) -> Result<(), AuditError> {
        Ok(())
    }
}

/// A store that refuses everything: the default of services that were not given one, so that an
/// unaudited server fails closed instead of dropping events.
#[derive(Debug, Default, Clone, Copy)]
pub struct NotConfigured;

impl AuditStore for NotConfigured {
    fn ready(&self) -> Result<(), AuditError> {
        Err(AuditError::Unavailable("no audit store is configured".into()))
    }
    fn submit(&self, _events: Vec<AuditEvent>) -> Result<Receipt, AuditError> {
        self.ready().map(|()| Receipt::done(Ok(())))
    }
    fn lookup(&self, _query: &LookupQuery) -> Result<LookupPage, AuditError> {
        self.ready().map(|_| LookupPage::default())
    }
    fn last_accessed(&self, _principals: &[String], _since_millis: i64) -> Result<Vec<LastAccess>, AuditError> {
        self.ready().map(|_| Vec::new())
    }
    fn max_seq(&self) -> Result<i64, AuditError> {
        self.ready().map(|_| 0)
    }
    fn events_after(&self, _after_seq: i64, _limit: usize) -> Result<Vec<DeliveryEvent>, AuditError> {
        self.ready().map(|_| Vec::new())
    }
    fn insert_trail(&self, _trail: &Trail) -> Result<bool, AuditError> {
        self.ready().map(|_| false)
    }
    fn trails(&self, _account: Option<&str>) -> Result<Vec<Trail>, AuditError> {
        self.ready().map(|_| Vec::new())
    }
    fn update_trail(
        &self,
        _account: &str,
        _name: &str,
        _change: &mut dyn FnMut(&mut Trail),
    ) -> Result<Option<Trail>, AuditError> {
        self.ready().map(|_| None)
    }
    fn delete_trail(&self, _account: &str, _name: &str) -> Result<bool, AuditError> {
        self.ready().map(|_| false)
    }
    fn digest_signer(&self, _now_millis: i64) -> Result<DigestSigner, AuditError> {
        Err(AuditError::Unavailable("no audit store is configured".into()))
    }
    fn public_keys(&self) -> Result<Vec<PublicKeyInfo>, AuditError> {
        self.ready().map(|_| Vec::new())
    }
}
