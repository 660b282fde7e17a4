//! The cluster audit store: several Tessera servers on one PostgreSQL database share one audit
//! trail (see `docs/AUDIT.md`, "Several nodes on PostgreSQL").
//!
//! A call stays as cheap as on one node: its event is durable in the node's own journal
//! (`DIR/audit.journal`, group commit, [`crate::front`]) before the response. The node's
//! shipper thread then copies the journal into the shared tables, off the request path, in
//! transactions that also advance the node's row in `audit_nodes`. Each event is keyed by the
//! node's id (`DIR/node-id`) and its journal sequence number, and inserted with
//! `ON CONFLICT DO NOTHING`: shipping again (after a crash, or `tessera audit import` of a dead
//! node's journal) adds nothing. Shipping transactions take one advisory lock, so the global
//! sequence number (`gseq`) that orders events for LookupEvents pages and trail delivery is
//! assigned in commit order: a reader never sees a higher `gseq` before a lower one.
//!
//! LookupEvents on any node sees every event acknowledged by any live node before it started:
//! the node first ships what its own journal holds, then waits (at most [`LOOKUP_WAIT`]) until
//! every other live node (heartbeat within [`LIVE_MILLIS`]) has published a shipped-up-to
//! watermark at or after the lookup's start, both times read from PostgreSQL's clock. A node's
//! watermark is a PostgreSQL time read before it loaded its journal's durable mark, set once
//! everything up to that mark is shipped (each shipment or heartbeat, every [`SHIP_IDLE`]).
//!
//! Trails, the digest chains' state, the digest signing key, the last-access index and the
//! trail delivery lease live in the shared tables too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::types::ToSql;
use postgres::Client;
use tessera_store::postgres::off_async as blocking;
use tessera_store::secrets::SecretBox;

use crate::digest::{DigestSigner, PublicKeyInfo};
use crate::event::{AuditEvent, LookupResource};
use crate::front::{lock, CatchUp, Front, Progress};
use crate::journal::{self, JournalReader, JournalWriter, Row};
use crate::last_access::{self, LastAccess};
use crate::sqlite::{account_key, account_string, decompress, encode};
use crate::store::{
    AuditError, AuditLimits, AuditStore, DeliveryEvent, LookupAttribute, LookupPage, LookupQuery, Receipt, StoredEvent,
    Trail,
};

/// Events shipped per transaction.
const SHIP_BATCH: usize = 2000;
/// Unshipped events past which the writer ships on its own thread (as the SQLite store's
/// indexer bound).
const MAX_BACKLOG: i64 = 10_000_000;
/// How often an idle shipper publishes its heartbeat and watermark (what a lookup on another
/// node waits for, at most about this long).
const SHIP_IDLE: Duration = Duration::from_millis(50);
/// Unshipped events that wake the shipper before [`SHIP_IDLE`].
const SHIP_STEP: usize = 256;
/// A node whose heartbeat is older than this is not waited for by lookups.
pub const LIVE_MILLIS: i64 = 5000;
/// Longest a lookup waits for the other live nodes' watermarks.
pub const LOOKUP_WAIT: Duration = Duration::from_secs(2);
/// How often the shipper prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Rows deleted per pruning statement.
const PRUNE_CHUNK: i64 = 5000;
/// Idle reader connections kept.
const MAX_IDLE_READERS: usize = 8;
/// Seal context of the digest private key (as in the SQLite store).
const KEY_SEAL_CONTEXT: &str = "audit/digest-key";
/// The name of the trail delivery lease.
const DELIVERY_LEASE: &str = "trail-delivery";

/// The shared tables. Created when missing, under an advisory lock.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events(
    gseq bigserial PRIMARY KEY,
    node_id text NOT NULL,
    node_seq bigint NOT NULL,
    account bigint NOT NULL,
    event_time bigint NOT NULL,
    event_id text NOT NULL,
    event_name text NOT NULL,
    event_source text NOT NULL,
    username text,
    access_key_id text,
    read_only boolean NOT NULL,
    region text NOT NULL,
    resources text,
    record bytea NOT NULL,
    UNIQUE (node_id, node_seq)
);
CREATE INDEX IF NOT EXISTS audit_ev_time ON audit_events(account, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_name ON audit_events(account, event_name, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_user ON audit_events(account, username, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_source ON audit_events(account, event_source, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_key ON audit_events(account, access_key_id, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_ro ON audit_events(account, read_only, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_ev_id ON audit_events(event_id);
CREATE TABLE IF NOT EXISTS audit_event_resources(
    gseq bigint NOT NULL,
    rtype text NOT NULL,
    rname text NOT NULL,
    account bigint NOT NULL,
    event_time bigint NOT NULL,
    PRIMARY KEY (gseq, rtype, rname)
);
CREATE INDEX IF NOT EXISTS audit_er_type ON audit_event_resources(account, rtype, event_time, gseq);
CREATE INDEX IF NOT EXISTS audit_er_name ON audit_event_resources(account, rname, event_time, gseq);
CREATE TABLE IF NOT EXISTS audit_last_access(
    principal text NOT NULL,
    service text NOT NULL,
    action text NOT NULL,
    last_time bigint NOT NULL,
    region text NOT NULL,
    PRIMARY KEY (principal, service, action)
);
CREATE TABLE IF NOT EXISTS audit_nodes(
    node_id text PRIMARY KEY,
    shipped_through bigint NOT NULL DEFAULT 0,
    watermark_millis bigint NOT NULL DEFAULT 0,
    heartbeat_millis bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit_trails(
    account text NOT NULL,
    name text NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS audit_signing_keys(
    fingerprint text PRIMARY KEY,
    public_der bytea NOT NULL,
    private_sealed text NOT NULL,
    valid_from bigint NOT NULL,
    valid_to bigint
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_one_current_key ON audit_signing_keys((true)) WHERE valid_to IS NULL;
CREATE TABLE IF NOT EXISTS audit_leases(
    name text PRIMARY KEY,
    holder text NOT NULL,
    expires_millis bigint NOT NULL
);
";

/// PostgreSQL's clock, in epoch milliseconds.
const CLOCK: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

fn pe(e: postgres::Error) -> AuditError {
    match e.as_db_error() {
        Some(db) => AuditError::Storage(format!("postgres {}: {}", db.code().code(), db.message())),
        None => AuditError::Unavailable(format!("postgres: {e}")),
    }
}

fn se(e: tessera_store::StoreError) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

fn json_err(e: serde_json::Error) -> AuditError {
    AuditError::Storage(format!("corrupt trail record: {e}"))
}

/// Connect to the store URL and create the audit tables if they are missing.
fn connect(url: &str) -> Result<Client, AuditError> {
    blocking(|| {
        let mut client = tessera_store::postgres::connect_url(url).map_err(se)?;
        let mut tx = client.transaction().map_err(pe)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('tessera-audit-schema/' || current_schema()))", &[])
            .map_err(pe)?;
        tx.batch_execute(SCHEMA).map_err(pe)?;
        tx.commit().map_err(pe)?;
        Ok(client)
    })
}

/// The node id of a data dir: `DIR/node-id`, made (random) on first use.
pub fn node_id(data_dir: &Path) -> Result<String, AuditError> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if valid_node_id(s.trim()) => return Ok(s.trim().to_string()),
        Ok(_) => return Err(AuditError::Invalid(format!("{} does not hold a node id", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AuditError::Storage(format!("reading {}: {e}", path.display()))),
    }
    let id = hex::encode(rand::random::<[u8; 8]>());
    let tmp = data_dir.join(".node-id.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(format!("{id}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| AuditError::Storage(format!("writing {}: {e}", path.display())))?;
    Ok(id)
}

fn valid_node_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The shipper's state: where it reads the journal, what it shipped, and its connection.
struct ShipState {
    journal: JournalReader,
    shipped: i64,
    client: Option<Client>,
}

struct Shared {
    url: String,
    node: String,
    ship: Mutex<ShipState>,
    progress: Arc<Progress>,
}

/// The PostgreSQL [`AuditStore`].
pub struct PostgresAuditStore {
    shared: Arc<Shared>,
    front: Front,
    shipper: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Client>>,
    secrets: SecretBox,
    key_lock: Mutex<()>,
}

impl std::fmt::Debug for PostgresAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAuditStore").field("node", &self.shared.node).finish()
    }
}

/// What one shipping transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shipped {
    /// Events read from the journal.
    pub read: u64,
    /// Events that were not in the database yet.
    pub inserted: u64,
}

/// Ship `rows` of `node` into the shared tables and move the node's `shipped_through` to
/// `through`, in one transaction. With `heartbeat`, also publish the heartbeat and, if given,
/// the watermark. Returns the events inserted and PostgreSQL's clock at the end.
fn ship_rows(
    client: &mut Client,
    node: &str,
    rows: &[(i64, Row)],
    through: i64,
    heartbeat: Option<Option<i64>>,
) -> Result<(u64, i64), AuditError> {
    let mut tx = client.transaction().map_err(pe)?;
    let mut inserted = 0u64;
    if rows.is_empty() {
        // A heartbeat alone need not wait for the WAL flush: losing it to a crash of the
        // database only makes lookups wait for this node a little longer.
        tx.batch_execute("SET LOCAL synchronous_commit = off").map_err(pe)?;
    } else {
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('tessera-audit-ship/' || current_schema()))", &[])
            .map_err(pe)?;
        let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
        let col = |f: fn(&Row) -> i64| rows.iter().map(|(_, r)| f(r)).collect::<Vec<i64>>();
        let text = |f: fn(&Row) -> &str| rows.iter().map(|(_, r)| f(r)).collect::<Vec<&str>>();
        let opt = |f: fn(&Row) -> Option<&str>| rows.iter().map(|(_, r)| f(r)).collect::<Vec<Option<&str>>>();
        let accounts = col(|r| r.account);
        let times = col(|r| r.event_time);
        let ids = text(|r| &r.event_id);
        let names = text(|r| &r.event_name);
        let sources = text(|r| &r.event_source);
        let users = opt(|r| r.username.as_deref());
        let keys = opt(|r| r.access_key_id.as_deref());
        let ro: Vec<bool> = rows.iter().map(|(_, r)| r.read_only).collect();
        let regions = text(|r| &r.region);
        let resources = opt(|r| r.resources_json.as_deref());
        let records: Vec<&[u8]> = rows.iter().map(|(_, r)| r.record.as_slice()).collect();
        let new = tx
            .query(
                "INSERT INTO audit_events(node_id, node_seq, account, event_time, event_id, event_name, event_source,
                                          username, access_key_id, read_only, region, resources, record)
                 SELECT $1::text, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                                          $7::text[], $8::text[], $9::text[], $10::boolean[], $11::text[],
                                          $12::text[], $13::bytea[])
                 ORDER BY 2
                 ON CONFLICT (node_id, node_seq) DO NOTHING
                 RETURNING node_seq, gseq",
                &[
                    &node, &seqs, &accounts, &times, &ids, &names, &sources, &users, &keys, &ro, &regions, &resources,
                    &records,
                ],
            )
            .map_err(pe)?;
        let gseqs: HashMap<i64, i64> = new
            .iter()
            .map(|r| Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?)))
            .collect::<Result<_, postgres::Error>>()
            .map_err(pe)?;
        inserted = gseqs.len() as u64;
        let (mut rg, mut rt, mut rn, mut ra, mut rtime) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // The newest call of each (principal, service, action) among the new events.
        let mut access: HashMap<(&str, &str, &str), (i64, &str)> = HashMap::new();
        for (seq, row) in rows {
            let Some(gseq) = gseqs.get(seq) else { continue };
            if let Some(json) = &row.resources_json {
                let list: Vec<LookupResource> = serde_json::from_str(json)
                    .map_err(|e| AuditError::Storage(format!("corrupt journal audit event {seq}: {e}")))?;
                for r in list {
                    rg.push(*gseq);
                    rt.push(r.resource_type);
                    rn.push(r.resource_name);
                    ra.push(row.account);
                    rtime.push(row.event_time);
                }
            }
            if let Some(p) = &row.principal {
                let key = (p.as_str(), last_access::service_namespace(&row.event_source), row.event_name.as_str());
                let e = access.entry(key).or_insert((row.event_time, row.region.as_str()));
                if row.event_time >= e.0 {
                    *e = (row.event_time, row.region.as_str());
                }
            }
        }
        if !rg.is_empty() {
            tx.execute(
                "INSERT INTO audit_event_resources(gseq, rtype, rname, account, event_time)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&rg, &rt, &rn, &ra, &rtime],
            )
            .map_err(pe)?;
        }
        if !access.is_empty() {
            let mut keys: Vec<_> = access.into_iter().collect();
            keys.sort();
            let (p, s, a): (Vec<&str>, Vec<&str>, Vec<&str>) = (
                keys.iter().map(|k| k.0 .0).collect(),
                keys.iter().map(|k| k.0 .1).collect(),
                keys.iter().map(|k| k.0 .2).collect(),
            );
            let t: Vec<i64> = keys.iter().map(|k| k.1 .0).collect();
            let r: Vec<&str> = keys.iter().map(|k| k.1 .1).collect();
            tx.execute(
                "INSERT INTO audit_last_access(principal, service, action, last_time, region)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                 ON CONFLICT (principal, service, action) DO UPDATE
                   SET last_time = excluded.last_time, region = excluded.region
                   WHERE excluded.last_time >= audit_last_access.last_time",
                &[&p, &s, &a, &t, &r],
            )
            .map_err(pe)?;
        }
    }
    let row = match heartbeat {
        Some(watermark) => tx.query_one(
            &format!(
                "INSERT INTO audit_nodes(node_id, shipped_through, watermark_millis, heartbeat_millis)
                 VALUES ($1, $2, coalesce($3::bigint, 0), {CLOCK})
                 ON CONFLICT (node_id) DO UPDATE SET
                   shipped_through = greatest(audit_nodes.shipped_through, excluded.shipped_through),
                   watermark_millis = greatest(audit_nodes.watermark_millis, coalesce($3::bigint, audit_nodes.watermark_millis)),
                   heartbeat_millis = excluded.heartbeat_millis
                 RETURNING heartbeat_millis"
            ),
            &[&node, &through, &watermark],
        ),
        None => tx.query_one(
            &format!(
                "INSERT INTO audit_nodes(node_id, shipped_through) VALUES ($1, $2)
                 ON CONFLICT (node_id) DO UPDATE SET
                   shipped_through = greatest(audit_nodes.shipped_through, excluded.shipped_through)
                 RETURNING {CLOCK}"
            ),
            &[&node, &through],
        ),
    }
    .map_err(pe)?;
    let now: i64 = row.try_get(0).map_err(pe)?;
    tx.commit().map_err(pe)?;
    Ok((inserted, now))
}

/// The connection in `slot`, connecting first when there is none or it broke.
fn client<'a>(slot: &'a mut Option<Client>, url: &str) -> Result<&'a mut Client, AuditError> {
    if slot.as_ref().is_none_or(Client::is_closed) {
        *slot = Some(connect(url)?);
    }
    slot.as_mut().ok_or_else(|| AuditError::Unavailable("no PostgreSQL connection".into()))
}

/// Ship every event durable now; then publish the heartbeat, and the watermark if this ran
/// (when it shipped everything durable).
fn ship(shared: &Shared, max_batches: usize) -> Result<(), AuditError> {
    let mut state = lock(&shared.ship);
    let state = &mut *state;
    let mut batches = 0;
    let result = blocking(|| -> Result<(), AuditError> {
        // PostgreSQL's time before the durable mark is loaded: once everything up to the mark
        // is shipped, every event acknowledged before that time is.
        let c = client(&mut state.client, &shared.url)?;
        let watermark: i64 = c.query_one(&format!("SELECT {CLOCK}"), &[]).and_then(|r| r.try_get(0)).map_err(pe)?;
        let durable = shared.progress.durable.load(Ordering::SeqCst);
        loop {
            let rows = if state.shipped < durable {
                state.journal.read(state.shipped, durable, SHIP_BATCH)?
            } else {
                Vec::new()
            };
            let last = rows.last().map_or(state.shipped, |(s, _)| *s);
            let done = last >= durable || rows.is_empty();
            let c = client(&mut state.client, &shared.url)?;
            ship_rows(c, &shared.node, &rows, last, Some(done.then_some(watermark)))?;
            state.shipped = last;
            shared.progress.indexed.store(last, Ordering::SeqCst);
            if !rows.is_empty() {
                state.journal.remove_indexed(last)?;
            }
            batches += 1;
            if done || batches >= max_batches {
                return Ok(());
            }
        }
    });
    if result.is_err() && state.client.as_ref().is_some_and(Client::is_closed) {
        state.client = None;
    }
    metrics::gauge!("tessera_audit_indexer_lag_events").set(shared.progress.backlog().max(0) as f64);
    result
}

/// The shipper: ships and publishes its heartbeat every [`SHIP_IDLE`], or sooner once
/// [`SHIP_STEP`] events wait, and prunes every [`PRUNE_EVERY`]. It stops when the writer does
/// (after one last round).
///
/// Unlike the SQLite store's indexer it keeps its normal priority: lookups on other nodes wait
/// for its watermark, and a shipper starved by a busy node would make them time out.
fn shipper_loop(shared: &Shared, nudged: &Receiver<()>, limits: AuditLimits) {
    let mut last_prune: Option<Instant> = None;
    loop {
        let stop = matches!(nudged.recv_timeout(SHIP_IDLE), Err(mpsc::RecvTimeoutError::Disconnected));
        if let Err(e) = ship(shared, if stop { usize::MAX } else { 4 }) {
            tracing::warn!(error = %e, "shipping audit events to PostgreSQL failed; retrying");
            if stop {
                tracing::warn!(
                    "audit events left in the journal are shipped at the next start (or by `tessera audit import`)"
                );
                return;
            }
            std::thread::sleep(SHIP_IDLE);
            continue;
        }
        if stop {
            leave(shared);
            return;
        }
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            let mut state = lock(&shared.ship);
            let pruned = client(&mut state.client, &shared.url)
                .and_then(|c| blocking(|| prune(c, limits, crate::front::wall_millis())));
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "pruning audit events failed");
            }
        }
    }
}

/// After the last shipment of a clean stop: take this node out of the live nodes that lookups
/// wait for.
fn leave(shared: &Shared) {
    let mut state = lock(&shared.ship);
    let left = client(&mut state.client, &shared.url).and_then(|c| {
        blocking(|| c.execute("UPDATE audit_nodes SET heartbeat_millis = 0 WHERE node_id = $1", &[&shared.node]))
            .map_err(pe)
    });
    if let Err(e) = left {
        tracing::warn!(error = %e, "cannot mark this node as stopped; lookups wait for it until its heartbeat is old");
    }
}

/// Delete events with `gseq` in `[from, to]` (and older than `before`) with their resources.
fn delete_range(c: &mut Client, from: i64, to: i64, before: i64) -> Result<u64, AuditError> {
    let n: i64 = c
        .query_one(
            "WITH gone AS (DELETE FROM audit_events WHERE gseq BETWEEN $1 AND $2 AND event_time < $3 RETURNING gseq),
                  res AS (DELETE FROM audit_event_resources WHERE gseq IN (SELECT gseq FROM gone))
             SELECT count(*) FROM gone",
            &[&from, &to, &before],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pe)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Delete, oldest (lowest `gseq`) first, events beyond `limits`, in chunks of [`PRUNE_CHUNK`]
/// (the count bound goes by `gseq`, which may have gaps: it keeps at most that many). Returns
/// how many were deleted.
fn prune(c: &mut Client, limits: AuditLimits, now_millis: i64) -> Result<u64, AuditError> {
    let cutoff = if limits.retention_days == u32::MAX {
        i64::MIN
    } else {
        now_millis.saturating_sub(i64::from(limits.retention_days) * 86_400_000)
    };
    if limits.retention_days != u32::MAX {
        let access_cutoff = now_millis.saturating_sub(last_access::TRACKING_WINDOW_DAYS * 86_400_000);
        c.execute("DELETE FROM audit_last_access WHERE last_time < $1", &[&access_cutoff]).map_err(pe)?;
    }
    let max_events = i64::try_from(limits.max_events).unwrap_or(i64::MAX);
    let mut deleted = 0;
    loop {
        let row = c
            .query_one(
                "SELECT (SELECT gseq FROM audit_events ORDER BY gseq LIMIT 1),
                        (SELECT event_time FROM audit_events ORDER BY gseq LIMIT 1),
                        (SELECT max(gseq) FROM audit_events)",
                &[],
            )
            .map_err(pe)?;
        let (Some(first), Some(oldest), Some(top)) = (
            row.try_get::<_, Option<i64>>(0).map_err(pe)?,
            row.try_get::<_, Option<i64>>(1).map_err(pe)?,
            row.try_get::<_, Option<i64>>(2).map_err(pe)?,
        ) else {
            return Ok(deleted);
        };
        let over = top.saturating_sub(max_events) - first + 1;
        let n = if over > 0 {
            delete_range(c, first, first + over.min(PRUNE_CHUNK) - 1, i64::MAX)?
        } else if oldest < cutoff {
            delete_range(c, first, first + PRUNE_CHUNK - 1, cutoff)?
        } else {
            return Ok(deleted);
        };
        if n == 0 {
            return Ok(deleted);
        }
        deleted += n;
    }
}

impl PostgresAuditStore {
    /// Open the store of the node whose data dir is `data_dir` (journal `DIR/audit.journal`,
    /// id `DIR/node-id`) on the PostgreSQL database at `url`, sealing the digest key with
    /// `secrets`.
    pub fn open(data_dir: &Path, url: &str, secrets: SecretBox, limits: AuditLimits) -> Result<Self, AuditError> {
        let node = node_id(data_dir)?;
        Self::open_node(&data_dir.join("audit.journal"), &node, url, secrets, limits)
    }

    /// Open with the journal in `journal_dir` under the node id `node`.
    pub fn open_node(
        journal_dir: &Path,
        node: &str,
        url: &str,
        secrets: SecretBox,
        limits: AuditLimits,
    ) -> Result<Self, AuditError> {
        let mut c = connect(url)?;
        // Joins the live nodes before it acknowledges any event, so that every lookup from now
        // on waits for its watermark.
        let shipped: i64 = blocking(|| {
            c.query_one(
                &format!(
                    "INSERT INTO audit_nodes(node_id, heartbeat_millis) VALUES ($1, {CLOCK})
                     ON CONFLICT (node_id) DO UPDATE SET heartbeat_millis = excluded.heartbeat_millis
                     RETURNING shipped_through"
                ),
                &[&node],
            )
            .and_then(|r| r.try_get(0))
            .map_err(pe)
        })?;
        // Never number a new event like one already shipped: it would be taken for a duplicate.
        let next_seq = shipped.max(journal::recover(journal_dir)?) + 1;
        let writer = JournalWriter::open(journal_dir, next_seq)?;
        let reader = JournalReader::open(journal_dir);
        let progress = Arc::new(Progress::new(shipped, next_seq));
        let shared = Arc::new(Shared {
            url: url.to_string(),
            node: node.to_string(),
            ship: Mutex::new(ShipState { journal: reader, shipped, client: Some(c) }),
            progress: Arc::clone(&progress),
        });
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let catch_up: CatchUp = {
            let shared = Arc::clone(&shared);
            Box::new(move |_, _| ship(&shared, 1))
        };
        let front = Front::start(progress, writer, next_seq, nudge, (SHIP_STEP, MAX_BACKLOG), catch_up);
        let shipper = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("audit-shipper".into())
                .spawn(move || shipper_loop(&shared, &nudged, limits))
                .map_err(|e| AuditError::Storage(format!("cannot start the audit shipper: {e}")))?
        };
        Ok(PostgresAuditStore {
            shared,
            front,
            shipper: Mutex::new(Some(shipper)),
            readers: Mutex::new(Vec::new()),
            secrets,
            key_lock: Mutex::new(()),
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.node
    }

    /// Stop the writer after the events queued are durable, and ship what the journal holds.
    pub fn shutdown(&self) {
        self.front.stop();
        if let Some(h) = lock(&self.shipper).take() {
            let _ = h.join();
        }
    }

    /// Ship every event durable so far, on the caller's thread.
    fn flush(&self) -> Result<(), AuditError> {
        ship(&self.shared, usize::MAX)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, AuditError>) -> Result<T, AuditError> {
        let conn = lock(&self.readers).pop();
        let mut conn = match conn {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.shared.url)?,
        };
        let r = blocking(|| f(&mut conn));
        if !conn.is_closed() {
            let mut idle = lock(&self.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        r
    }

    /// Wait, at most [`LOOKUP_WAIT`], until every other live node has shipped what it had
    /// acknowledged at PostgreSQL time `since`.
    fn wait_for_nodes(&self, c: &mut Client, since: i64) -> Result<(), AuditError> {
        let deadline = Instant::now() + LOOKUP_WAIT;
        loop {
            let behind: i64 = c
                .query_one(
                    "SELECT count(*) FROM audit_nodes
                     WHERE node_id <> $1 AND heartbeat_millis >= $2::bigint - $3::bigint AND watermark_millis < $2::bigint",
                    &[&self.shared.node, &since, &LIVE_MILLIS],
                )
                .and_then(|r| r.try_get(0))
                .map_err(pe)?;
            if behind == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                metrics::counter!("tessera_audit_lookup_wait_timeouts_total").increment(1);
                tracing::debug!(nodes = behind, "lookup answered before every live node shipped");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Read every event up to now, cluster-wide: note PostgreSQL's clock, ship this node's
    /// journal, wait for the other live nodes.
    fn catch_up_cluster(&self) -> Result<(), AuditError> {
        let since =
            self.with_reader(|c| c.query_one(&format!("SELECT {CLOCK}"), &[]).and_then(|r| r.try_get(0)).map_err(pe))?;
        self.flush()?;
        self.with_reader(|c| self.wait_for_nodes(c, since))
    }
}

impl Drop for PostgresAuditStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Ship the journal in `journal_dir` of node `node` into the database at `url` (a node that will
/// not come back). Idempotent: events already there are skipped.
pub fn import_journal(journal_dir: &Path, node: &str, url: &str) -> Result<Shipped, AuditError> {
    if !journal_dir.is_dir() {
        return Err(AuditError::Invalid(format!("{} is not a directory", journal_dir.display())));
    }
    let mut c = connect(url)?;
    let mut reader = JournalReader::open(journal_dir);
    let mut total = Shipped::default();
    let mut after = 0;
    blocking(|| loop {
        let rows = reader.read(after, i64::MAX, SHIP_BATCH)?;
        let Some(last) = rows.last().map(|(s, _)| *s) else { return Ok(total) };
        let (inserted, _) = ship_rows(&mut c, node, &rows, last, None)?;
        total.read += rows.len() as u64;
        total.inserted += inserted;
        after = last;
    })
}

/// The node id of the data dir that holds `journal_dir` (`DIR/audit.journal` → `DIR/node-id`).
pub fn journal_node_id(journal_dir: &Path) -> Result<String, AuditError> {
    let dir: PathBuf = journal_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = dir.join("node-id");
    let id = std::fs::read_to_string(&path).map_err(|e| {
        AuditError::Invalid(format!("cannot read the node id {}: {e} (give --node-id)", path.display()))
    })?;
    let id = id.trim();
    if !valid_node_id(id) {
        return Err(AuditError::Invalid(format!("{} does not hold a node id", path.display())));
    }
    Ok(id.to_string())
}

/// Trails and digest public keys in the database at `url` (for `tessera audit verify`).
pub fn read_offline(url: &str) -> Result<(Vec<Trail>, Vec<PublicKeyInfo>), AuditError> {
    let mut c = connect(url)?;
    blocking(|| Ok((read_trails(&mut c, None)?, read_keys(&mut c)?)))
}

fn read_trails(c: &mut Client, account: Option<&str>) -> Result<Vec<Trail>, AuditError> {
    let rows = c
        .query(
            "SELECT body FROM audit_trails WHERE $1::text IS NULL OR account = $1 ORDER BY account, name",
            &[&account],
        )
        .map_err(pe)?;
    rows.iter().map(|r| serde_json::from_str(&r.try_get::<_, String>(0).map_err(pe)?).map_err(json_err)).collect()
}

fn read_keys(c: &mut Client) -> Result<Vec<PublicKeyInfo>, AuditError> {
    let rows = c
        .query("SELECT fingerprint, public_der, valid_from, valid_to FROM audit_signing_keys ORDER BY valid_from", &[])
        .map_err(pe)?;
    rows.iter()
        .map(|r| {
            Ok(PublicKeyInfo {
                fingerprint: r.try_get(0)?,
                der: r.try_get(1)?,
                valid_from_millis: r.try_get(2)?,
                valid_to_millis: r.try_get(3)?,
            })
        })
        .collect::<Result<_, postgres::Error>>()
        .map_err(pe)
}

const EVENT_COLUMNS: &str =
    "e.gseq, e.event_time, e.event_id, e.event_name, e.event_source, e.username, e.access_key_id, e.read_only, e.resources, e.record";

fn stored_event(r: &postgres::Row) -> Result<StoredEvent, AuditError> {
    let resources: Option<String> = r.try_get(8).map_err(pe)?;
    Ok(StoredEvent {
        seq: r.try_get(0).map_err(pe)?,
        event_time_millis: r.try_get(1).map_err(pe)?,
        event_id: r.try_get(2).map_err(pe)?,
        event_name: r.try_get(3).map_err(pe)?,
        event_source: r.try_get(4).map_err(pe)?,
        username: r.try_get(5).map_err(pe)?,
        access_key_id: r.try_get(6).map_err(pe)?,
        read_only: r.try_get(7).map_err(pe)?,
        resources: resources.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default(),
        cloudtrail_event: decompress(&r.try_get::<_, Vec<u8>>(9).map_err(pe)?)?,
    })
}

impl AuditStore for PostgresAuditStore {
    fn ready(&self) -> Result<(), AuditError> {
        self.front.ready()
    }

    fn submit(&self, events: Vec<AuditEvent>) -> Result<Receipt, AuditError> {
        self.front.submit(&events, encode)
    }

    fn lookup(&self, q: &LookupQuery) -> Result<LookupPage, AuditError> {
        let account = account_key(&q.account)?;
        let crate::store::Scan { limit, fetch, upper, cursor_time, cursor_seq } = q.scan();
        let mut params: Vec<Box<dyn ToSql + Sync>> = vec![
            Box::new(account),
            Box::new(q.start_millis),
            Box::new(upper),
            Box::new(cursor_time),
            Box::new(cursor_seq),
            Box::new(fetch),
        ];
        let column = match &q.attribute {
            None => None,
            Some(LookupAttribute::EventName(v)) => Some(("event_name", v.clone())),
            Some(LookupAttribute::Username(v)) => Some(("username", v.clone())),
            Some(LookupAttribute::EventSource(v)) => Some(("event_source", v.clone())),
            Some(LookupAttribute::AccessKeyId(v)) => Some(("access_key_id", v.clone())),
            Some(LookupAttribute::EventId(v)) => Some(("event_id", v.clone())),
            Some(LookupAttribute::ResourceType(v)) => Some(("rtype", v.clone())),
            Some(LookupAttribute::ResourceName(v)) => Some(("rname", v.clone())),
            Some(LookupAttribute::ReadOnly(_)) => None,
        };
        let sql = match (&q.attribute, column) {
            (Some(LookupAttribute::ResourceType(_) | LookupAttribute::ResourceName(_)), Some((col, v))) => {
                params.push(Box::new(v));
                // An event with two resources of one type (or name) has two rows: grouped once.
                format!(
                    "SELECT {EVENT_COLUMNS} FROM (
                       SELECT r.event_time, r.gseq FROM audit_event_resources r
                       WHERE r.account = $1 AND r.{col} = $7 AND r.event_time BETWEEN $2 AND $3
                         AND (r.event_time, r.gseq) < ($4, $5)
                       GROUP BY r.event_time, r.gseq ORDER BY r.event_time DESC, r.gseq DESC LIMIT $6) k
                     JOIN audit_events e ON e.gseq = k.gseq
                     ORDER BY e.event_time DESC, e.gseq DESC"
                )
            }
            (Some(LookupAttribute::ReadOnly(v)), _) => {
                params.push(Box::new(*v));
                format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events e
                     WHERE e.account = $1 AND e.read_only = $7 AND e.event_time BETWEEN $2 AND $3
                       AND (e.event_time, e.gseq) < ($4, $5)
                     ORDER BY e.event_time DESC, e.gseq DESC LIMIT $6"
                )
            }
            (_, Some((col, v))) => {
                params.push(Box::new(v));
                format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events e
                     WHERE e.account = $1 AND e.{col} = $7 AND e.event_time BETWEEN $2 AND $3
                       AND (e.event_time, e.gseq) < ($4, $5)
                     ORDER BY e.event_time DESC, e.gseq DESC LIMIT $6"
                )
            }
            _ => format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events e
                 WHERE e.account = $1 AND e.event_time BETWEEN $2 AND $3 AND (e.event_time, e.gseq) < ($4, $5)
                 ORDER BY e.event_time DESC, e.gseq DESC LIMIT $6"
            ),
        };
        self.catch_up_cluster()?;
        let rows = self.with_reader(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            c.query(&sql, &refs).map_err(pe)
        })?;
        let events = rows.iter().map(stored_event).collect::<Result<Vec<_>, _>>()?;
        Ok(LookupPage::of(events, limit))
    }

    fn last_accessed(&self, principals: &[String], since_millis: i64) -> Result<Vec<LastAccess>, AuditError> {
        self.catch_up_cluster()?;
        self.with_reader(|c| {
            let rows = c
                .query(
                    "SELECT principal, service, action, last_time, region FROM audit_last_access
                     WHERE principal = ANY($1) AND last_time >= $2",
                    &[&principals, &since_millis],
                )
                .map_err(pe)?;
            rows.iter()
                .map(|r| {
                    Ok(LastAccess {
                        principal: r.try_get(0)?,
                        service: r.try_get(1)?,
                        action: r.try_get(2)?,
                        last_millis: r.try_get(3)?,
                        region: r.try_get(4)?,
                    })
                })
                .collect::<Result<_, postgres::Error>>()
                .map_err(pe)
        })
    }

    fn max_seq(&self) -> Result<i64, AuditError> {
        self.flush()?;
        self.with_reader(|c| {
            c.query_one("SELECT coalesce(max(gseq), 0) FROM audit_events", &[]).and_then(|r| r.try_get(0)).map_err(pe)
        })
    }

    fn events_after(&self, after_seq: i64, limit: usize) -> Result<Vec<DeliveryEvent>, AuditError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_reader(|c| {
            let rows = c
                .query(
                    "SELECT gseq, account, region, event_source, event_time, record FROM audit_events
                     WHERE gseq > $1 ORDER BY gseq LIMIT $2",
                    &[&after_seq, &limit],
                )
                .map_err(pe)?;
            rows.iter()
                .map(|r| {
                    Ok(DeliveryEvent {
                        seq: r.try_get(0).map_err(pe)?,
                        account: account_string(r.try_get(1).map_err(pe)?),
                        region: r.try_get(2).map_err(pe)?,
                        event_source: r.try_get(3).map_err(pe)?,
                        event_time_millis: r.try_get(4).map_err(pe)?,
                        record: decompress(&r.try_get::<_, Vec<u8>>(5).map_err(pe)?)?,
                    })
                })
                .collect()
        })
    }

    fn insert_trail(&self, trail: &Trail) -> Result<bool, AuditError> {
        let body = serde_json::to_string(trail).map_err(|e| AuditError::Storage(e.to_string()))?;
        self.with_reader(|c| {
            let n = c
                .execute(
                    "INSERT INTO audit_trails(account, name, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&trail.account, &trail.name, &body],
                )
                .map_err(pe)?;
            Ok(n == 1)
        })
    }

    fn trails(&self, account: Option<&str>) -> Result<Vec<Trail>, AuditError> {
        self.with_reader(|c| read_trails(c, account))
    }

    fn update_trail(
        &self,
        account: &str,
        name: &str,
        change: &mut dyn FnMut(&mut Trail),
    ) -> Result<Option<Trail>, AuditError> {
        self.with_reader(|c| {
            let mut tx = c.transaction().map_err(pe)?;
            let row = tx
                .query_opt(
                    "SELECT body FROM audit_trails WHERE account = $1 AND name = $2 FOR UPDATE",
                    &[&account, &name],
                )
                .map_err(pe)?;
            let Some(row) = row else { return Ok(None) };
            let mut trail: Trail = serde_json::from_str(&row.try_get::<_, String>(0).map_err(pe)?).map_err(json_err)?;
            change(&mut trail);
            let body = serde_json::to_string(&trail).map_err(|e| AuditError::Storage(e.to_string()))?;
            tx.execute("UPDATE audit_trails SET body = $3 WHERE account = $1 AND name = $2", &[&account, &name, &body])
                .map_err(pe)?;
            tx.commit().map_err(pe)?;
            Ok(Some(trail))
        })
    }

    fn delete_trail(&self, account: &str, name: &str) -> Result<bool, AuditError> {
        self.with_reader(|c| {
            let n = c
                .execute("DELETE FROM audit_trails WHERE account = $1 AND name = $2", &[&account, &name])
                .map_err(pe)?;
            Ok(n == 1)
        })
    }

    fn digest_signer(&self, now_millis: i64) -> Result<DigestSigner, AuditError> {
        let _guard = lock(&self.key_lock);
        let current = |c: &mut Client| -> Result<Option<(String, i64)>, AuditError> {
            let row = c
                .query_opt(
                    "SELECT private_sealed, valid_from FROM audit_signing_keys WHERE valid_to IS NULL
                     ORDER BY valid_from DESC LIMIT 1",
                    &[],
                )
                .map_err(pe)?;
            row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose().map_err(pe)
        };
        let open = |(sealed, valid_from): (String, i64)| {
            let der = self
                .secrets
                .open(KEY_SEAL_CONTEXT, &sealed)
                .map_err(|e| AuditError::Storage(format!("opening the digest key: {e}")))?;
            DigestSigner::from_pkcs8(&der, valid_from)
        };
        if let Some(k) = self.with_reader(current)? {
            return open(k);
        }
        let signer = DigestSigner::generate(now_millis)?;
        let sealed = self.secrets.seal(KEY_SEAL_CONTEXT, &signer.to_pkcs8()?);
        // Another node may have made one meanwhile: the unique index keeps one current key,
        // and every node signs with it.
        let current_key = self.with_reader(|c| {
            c.execute(
                "INSERT INTO audit_signing_keys(fingerprint, public_der, private_sealed, valid_from)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&signer.public.fingerprint, &signer.public.der, &sealed, &now_millis],
            )
            .map_err(pe)?;
            current(c)
        })?;
        match current_key {
            Some(k) => open(k),
            None => Err(AuditError::Storage("the digest key vanished as it was made".into())),
        }
    }

    fn public_keys(&self) -> Result<Vec<PublicKeyInfo>, AuditError> {
        self.with_reader(read_keys)
    }

    fn delivery_lease(&self, ttl: Duration) -> Result<bool, AuditError> {
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.with_reader(|c| {
            let row = c
                .query_opt(
                    &format!(
                        "INSERT INTO audit_leases(name, holder, expires_millis) VALUES ($1, $2, {CLOCK} + $3::bigint)
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_millis = excluded.expires_millis
                         WHERE audit_leases.holder = excluded.holder OR audit_leases.expires_millis < {CLOCK}
                         RETURNING holder"
                    ),
                    &[&DELIVERY_LEASE, &self.shared.node, &ttl],
                )
                .map_err(pe)?;
            Ok(row.is_some())
        })
    }

    fn release_delivery_lease(&self) -> Result<(), AuditError> {
        self.with_reader(|c| {
            c.execute("DELETE FROM audit_leases WHERE name = $1 AND holder = $2", &[&DELIVERY_LEASE, &self.shared.node])
                .map(|_| ())
                .map_err(pe)
        })
    }
}
