//! The embedded audit store: events are made durable in the journal ([`crate::journal`], group
//! commit: one append and one `fdatasync` per batch, each request waiting only for the batch that
//! holds its event) and indexed into SQLite (`DIR/audit.db`, WAL mode, `synchronous=FULL`) by the
//! indexer thread, off the request path.
//!
//! `events` holds every indexed event; the columns LookupEvents filters on are indexed per
//! account, newest first. The indexer works in transactions of a few thousand events, each of
//! which also sets `meta.indexed_through`, so after a crash the journal's events above that mark
//! are indexed again, exactly once. Every read first indexes what the journal holds on its own
//! thread, so a lookup sees every event recorded before it. Records are stored LZ4-compressed.
//! Stores from before the journal kept unindexed events in a `pending` table; they are moved
//! when such a store opens.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tessera_store::secrets::SecretBox;

use crate::digest::{DigestSigner, PublicKeyInfo};
use crate::event::{AuditEvent, LookupResource};
use crate::front::{lock, lower_priority, wall_millis, CatchUp, Front, Progress};
use crate::journal::{self, JournalReader, JournalWriter, Row};
use crate::last_access::{self, LastAccess};
use crate::store::{
    AuditError, AuditLimits, AuditStore, DeliveryEvent, LookupAttribute, LookupPage, LookupQuery, Receipt, StoredEvent,
    Trail,
};

/// Events indexed per transaction by a reader (or the writer) catching up.
const INDEX_BATCH: usize = 4096;
/// Events indexed per transaction by the background indexer: small, because a reader that
/// needs the index waits for the transaction, and the indexer runs only on idle CPU.
const INDEX_STEP: usize = 256;
/// Durable events not yet indexed past which the writer, after each commit, indexes twice as
/// many events as it committed before it takes more (at its own priority): the journal stays
/// bounded under a load that never pauses, at the cost of slowing requests to the indexing rate.
const MAX_BACKLOG: i64 = 10_000_000;
/// How long the indexer waits for a full step before it indexes fewer events (or sleeps after a
/// failure).
const INDEX_IDLE: Duration = Duration::from_millis(50);
/// Rows deleted per pruning transaction.
const PRUNE_CHUNK: i64 = 5000;
/// How often the writer prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Idle reader connections kept.
const MAX_IDLE_READERS: usize = 8;
/// Seal context of the digest private key.
const KEY_SEAL_CONTEXT: &str = "audit/digest-key";

/// The columns of `events` and of `pending` (where stores from before the journal kept events
/// not yet indexed).
macro_rules! event_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $name,
            "(
    seq INTEGER PRIMARY KEY,
    account INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    event_source TEXT NOT NULL,
    username TEXT,
    access_key_id TEXT,
    read_only INTEGER NOT NULL,
    region TEXT NOT NULL,
    resources TEXT,
    record BLOB NOT NULL
);
"
        )
    };
}

const SCHEMA: &str = concat!(
    event_table!("events"),
    event_table!("pending"),
    "
CREATE INDEX IF NOT EXISTS ev_time ON events(account, event_time);
CREATE INDEX IF NOT EXISTS ev_name ON events(account, event_name, event_time);
CREATE INDEX IF NOT EXISTS ev_user ON events(account, username, event_time);
CREATE INDEX IF NOT EXISTS ev_source ON events(account, event_source, event_time);
CREATE INDEX IF NOT EXISTS ev_key ON events(account, access_key_id, event_time);
CREATE INDEX IF NOT EXISTS ev_ro ON events(account, read_only, event_time);
CREATE INDEX IF NOT EXISTS ev_id ON events(event_id);
CREATE TABLE IF NOT EXISTS event_resources(
    seq INTEGER NOT NULL,
    rtype TEXT NOT NULL,
    rname TEXT NOT NULL,
    account INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    PRIMARY KEY (seq, rtype, rname)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS er_type ON event_resources(account, rtype, event_time);
CREATE INDEX IF NOT EXISTS er_name ON event_resources(account, rname, event_time);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trails(
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS signing_keys(
    fingerprint TEXT PRIMARY KEY,
    public_der BLOB NOT NULL,
    private_sealed TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER
);
"
);

enum Readers {
    /// In-memory: readers share the writer's connection.
    Shared,
    /// File: a pool of reader connections.
    Pool { path: PathBuf, idle: Mutex<Vec<Connection>> },
}

/// The indexer's position: where it reads the journal, and the highest sequence number that is
/// indexed (kept in `meta` in the same transaction as the events).
struct IndexState {
    journal: JournalReader,
    indexed: i64,
}

/// What the writer, the indexer and readers share.
struct Shared {
    /// The SQLite connection that writes (indexing, pruning, trails, keys).
    conn: Mutex<Connection>,
    /// The indexer's position; lock before `conn`.
    index: Mutex<IndexState>,
    /// The journal's durable and indexed marks (`indexed` is a copy of `index.indexed`, read
    /// without the lock).
    progress: Arc<Progress>,
}

/// The SQLite [`AuditStore`].
pub struct SqliteAuditStore {
    shared: Arc<Shared>,
    readers: Readers,
    front: Front,
    indexer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpoint thread (file stores) and the sender whose drop stops it.
    checkpointer: Mutex<Option<(SyncSender<()>, JoinHandle<()>)>>,
    secrets: SecretBox,
    key_lock: Mutex<()>,
}

impl std::fmt::Debug for SqliteAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAuditStore").finish()
    }
}

fn configure(conn: &Connection, in_memory: bool) -> Result<(), AuditError> {
    if !in_memory {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The journal directory of the store file at `path` (`audit.db` → `audit.journal`).
pub fn journal_dir(path: &Path) -> PathBuf {
    path.with_extension("journal")
}

/// The highest sequence number indexed: `meta`'s mark, or for stores from before the journal
/// the highest in `events` (their `pending` events are moved first).
fn indexed_through(conn: &Mutex<Connection>) -> Result<i64, AuditError> {
    while index_pending(conn, 4096)? > 0 {
        // The checkpoint thread is not running yet: keep the WAL from growing with the move.
        lock(conn).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let c = lock(conn);
    let mark: Option<i64> =
        c.query_row("SELECT value FROM meta WHERE key = 'indexed_through'", [], |r| r.get(0)).optional()?;
    let max: i64 = c.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    Ok(mark.unwrap_or(0).max(max))
}

/// Build the last-access index from the indexed events of a store from before it (once: a
/// `meta` mark says it is built; from then on the indexer keeps it).
fn backfill_last_access(conn: &Mutex<Connection>) -> Result<(), AuditError> {
    let mut c = lock(conn);
    let built: Option<i64> =
        c.query_row("SELECT value FROM meta WHERE key = 'last_access_built'", [], |r| r.get(0)).optional()?;
    if built.is_some() {
        return Ok(());
    }
    let tx = c.transaction()?;
    {
        let mut access = tx.prepare_cached(last_access::UPSERT)?;
        let mut stmt =
            tx.prepare("SELECT event_source, event_name, event_time, region, record FROM events ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let record = decompress(&r.get::<_, Vec<u8>>(4)?)?;
            let Ok(parsed) = serde_json::from_str::<crate::event::CloudTrailRecord>(&record) else { continue };
            if let Some(p) = last_access::tracked_principal(&parsed.user_identity) {
                let (source, name, time, region): (String, String, i64, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                last_access::upsert(&mut access, &p, &source, &name, time, &region)?;
            }
        }
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('last_access_built', 1)", [])?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteAuditStore {
    /// Open (or create) the store at `path`, sealing the digest key with `secrets`.
    pub fn open(path: &Path, secrets: SecretBox, limits: AuditLimits) -> Result<SqliteAuditStore, AuditError> {
        let conn = Connection::open(path)?;
        configure(&conn, false)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(last_access::SCHEMA)?;
        // Checkpoints run on their own thread (below), not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // When the WAL starts over, cut the file back to 64 MiB (it may have grown past that
        // between two checkpoints).
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let conn = Mutex::new(conn);
        let indexed = indexed_through(&conn)?;
        backfill_last_access(&conn)?;
        let dir = journal_dir(path);
        let next_seq = indexed.max(journal::recover(&dir)?) + 1;
        let writer = JournalWriter::open(&dir, next_seq)?;
        let reader = JournalReader::open(&dir);
        let checkpoint_conn = Connection::open(path)?;
        checkpoint_conn.busy_timeout(Duration::from_secs(10))?;
        let store = Self::start(
            conn,
            (writer, reader, indexed, next_seq),
            Readers::Pool { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) },
            secrets,
            limits,
        );
        let (stop, stopped) = mpsc::sync_channel::<()>(0);
        let thread = std::thread::Builder::new()
            .name("audit-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoint_conn, &stopped))
            .map_err(|e| AuditError::Storage(format!("cannot start the audit checkpoint thread: {e}")))?;
        *lock(&store.checkpointer) = Some((stop, thread));
        Ok(store)
    }

    /// A store in memory, for tests.
    ///
    /// It keeps its events for as long as it lives, whatever their age: tests give their events
    /// the times of an injected clock (often years back), and the background pruning, which goes
    /// by the wall clock, would otherwise delete them whenever its thread happens to run.
    pub fn open_in_memory() -> Result<SqliteAuditStore, AuditError> {
        let conn = Connection::open_in_memory()?;
        configure(&conn, true)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(last_access::SCHEMA)?;
        let secrets = SecretBox::new(&SecretBox::generate_key());
        let (writer, reader) = JournalReader::memory();
        Ok(Self::start(Mutex::new(conn), (writer, reader, 0, 1), Readers::Shared, secrets, Self::in_memory_limits()))
    }

    /// The bounds of [`SqliteAuditStore::open_in_memory`]: the default size bound, no age bound.
    pub(crate) fn in_memory_limits() -> AuditLimits {
        AuditLimits { retention_days: u32::MAX, ..AuditLimits::default() }
    }

    fn start(
        conn: Mutex<Connection>,
        (journal, reader, indexed, next_seq): (JournalWriter, JournalReader, i64, i64),
        readers: Readers,
        secrets: SecretBox,
        limits: AuditLimits,
    ) -> SqliteAuditStore {
        let progress = Arc::new(Progress::new(indexed, next_seq));
        let shared = Arc::new(Shared {
            conn,
            index: Mutex::new(IndexState { journal: reader, indexed }),
            progress: Arc::clone(&progress),
        });
        // The writer nudges the indexer once a step of events waits; dropping it stops the indexer.
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let catch_up: CatchUp = {
            let shared = Arc::clone(&shared);
            Box::new(move |upto, n| index_upto(&shared, upto, n, 1))
        };
        let front = Front::start(progress, journal, next_seq, nudge, (INDEX_STEP, MAX_BACKLOG), catch_up);
        let indexer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("audit-indexer".into())
                .spawn(move || indexer_loop(&shared, &nudged, limits))
                .map_err(
                    |e| tracing::error!(error = %e, "cannot start the audit indexer; events are indexed when read"),
                )
                .ok()
        };
        SqliteAuditStore {
            shared,
            readers,
            front,
            indexer: Mutex::new(indexer),
            checkpointer: Mutex::new(None),
            secrets,
            key_lock: Mutex::new(()),
        }
    }

    /// Stop the writer after the events already queued are durable. Events not yet indexed stay
    /// in the journal and are indexed by the next store opened on the same file.
    pub fn shutdown(&self) {
        self.front.stop();
        if let Some(h) = lock(&self.indexer).take() {
            let _ = h.join();
        }
        if let Some((stop, h)) = lock(&self.checkpointer).take() {
            drop(stop);
            let _ = h.join();
        }
    }

    /// Delete events beyond the retention and size bounds now (the indexer also does this every minute).
    pub fn prune(&self, limits: AuditLimits, now_millis: i64) -> Result<u64, AuditError> {
        self.flush()?;
        prune(&self.shared.conn, limits, now_millis)
    }

    /// The highest sequence number indexed so far (tests of the background indexer).
    #[cfg(test)]
    pub(crate) fn indexed_seq(&self) -> i64 {
        self.shared.progress.indexed.load(Ordering::SeqCst)
    }

    /// Index every event made durable so far, on the caller's thread, so that a read sees them all.
    fn flush(&self) -> Result<(), AuditError> {
        index_upto(&self.shared, self.shared.progress.durable.load(Ordering::SeqCst), INDEX_BATCH, usize::MAX)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AuditError>) -> Result<T, AuditError> {
        match &self.readers {
            Readers::Shared => f(&lock(&self.shared.conn)),
            Readers::Pool { path, idle } => {
                let conn = match lock(idle).pop() {
                    Some(c) => c,
                    None => {
                        let c = Connection::open_with_flags(
                            path,
                            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        c.busy_timeout(Duration::from_secs(10))?;
                        c.pragma_update(None, "query_only", true)?;
                        c.pragma_update(None, "cache_size", -32768)?;
                        c
                    }
                };
                let r = f(&conn);
                let mut idle = lock(idle);
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(conn);
                }
                r
            }
        }
    }
}
impl Drop for SqliteAuditStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// First byte of an LZ4-compressed record. Records were raw deflate before; a deflate stream
/// never starts with it (block type 3 is reserved), so stores written then still read.
pub(crate) const LZ4_RECORD: u8 = 0x06;

/// A record as stored: LZ4 block with its length (fast to make: a record is compressed on the
/// request's thread, so deflate's per-stream setup of a few hundred KiB cost more than the rest).
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + lz4_flex::block::get_maximum_output_size(data.len()) + 4);
    out.push(LZ4_RECORD);
    out.extend_from_slice(&lz4_flex::compress_prepend_size(data));
    out
}

pub(crate) fn decompress(data: &[u8]) -> Result<String, AuditError> {
    let corrupt = |e: &dyn std::fmt::Display| AuditError::Storage(format!("corrupt audit record: {e}"));
    match data.split_first() {
        Some((&LZ4_RECORD, block)) => {
            let bytes = lz4_flex::decompress_size_prepended(block).map_err(|e| corrupt(&e))?;
            String::from_utf8(bytes).map_err(|e| corrupt(&e))
        }
        _ => {
            let mut out = String::with_capacity(data.len() * 3);
            flate2::read::DeflateDecoder::new(data).read_to_string(&mut out).map_err(|e| corrupt(&e))?;
            Ok(out)
        }
    }
}

/// A 12-digit account id as the integer column value.
pub(crate) fn account_key(account: &str) -> Result<i64, AuditError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuditError::Invalid(format!("account id '{account}' is not 12 digits")));
    }
    account.parse::<i64>().map_err(|_| AuditError::Invalid(format!("account id '{account}' is not 12 digits")))
}

pub(crate) fn account_string(key: i64) -> String {
    format!("{key:012}")
}

pub(crate) fn encode(event: &AuditEvent) -> Result<Row, AuditError> {
    let json = serde_json::to_vec(&event.record).map_err(|e| AuditError::Storage(e.to_string()))?;
    let mut resources = event.resources.clone();
    resources.sort();
    resources.dedup();
    let resources_json = if resources.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&resources).map_err(|e| AuditError::Storage(e.to_string()))?)
    };
    Ok(Row {
        account: account_key(&event.record.recipient_account_id)?,
        event_time: event.event_time_millis,
        event_id: event.record.event_id.clone(),
        event_name: event.record.event_name.clone(),
        event_source: event.record.event_source.clone(),
        username: event.username.clone(),
        access_key_id: event.access_key_id().map(str::to_string),
        read_only: event.record.read_only,
        region: event.record.aws_region.clone(),
        resources_json,
        record: compress(&json),
        principal: last_access::tracked_principal(&event.record.user_identity),
    })
}

/// Index the journal's events numbered up to `upto`, in transactions of `batch` events, at most
/// `max_batches` of them; then, if it indexed any, delete journal segments that are wholly indexed.
fn index_upto(shared: &Shared, upto: i64, batch: usize, max_batches: usize) -> Result<(), AuditError> {
    let mut state = lock(&shared.index);
    let mut batches = 0;
    while state.indexed < upto && batches < max_batches {
        let after = state.indexed;
        let rows = state.journal.read(after, upto, batch)?;
        let Some(last) = rows.last().map(|(seq, _)| *seq) else { break };
        insert_indexed(&mut lock(&shared.conn), &rows, last)?;
        state.indexed = last;
        shared.progress.indexed.store(last, Ordering::SeqCst);
        let lag = shared.progress.durable.load(Ordering::SeqCst) - last;
        metrics::gauge!("tessera_audit_indexer_lag_events").set(lag.max(0) as f64);
        batches += 1;
    }
    // Only when this call moved the mark: a read with nothing pending touches no file.
    if batches > 0 {
        state.journal.remove_indexed(state.indexed)?;
    }
    Ok(())
}

/// The statement that inserts a row of [`row_params`] (`INSERT ... INTO <table>`).
fn insert_sql(insert_into: &str) -> String {
    format!(
        "{insert_into}(seq, account, event_time, event_id, event_name, event_source, username, access_key_id,
                       read_only, region, resources, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    )
}

/// The values of event `seq` in the column order of [`insert_sql`].
fn row_params<'a>(seq: &'a i64, row: &'a Row) -> [&'a dyn rusqlite::ToSql; 12] {
    [
        seq,
        &row.account,
        &row.event_time,
        &row.event_id,
        &row.event_name,
        &row.event_source,
        &row.username,
        &row.access_key_id,
        &row.read_only,
        &row.region,
        &row.resources_json,
        &row.record,
    ]
}

/// Insert `rows` into the indexed tables and set the `indexed_through` mark, in one transaction
/// that syncs (the journal's segments are deleted after it).
fn insert_indexed(conn: &mut Connection, rows: &[(i64, Row)], indexed_through: i64) -> Result<(), AuditError> {
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare_cached(&insert_sql("INSERT OR IGNORE INTO events"))?;
        let mut res = tx.prepare_cached(
            "INSERT OR IGNORE INTO event_resources(seq, rtype, rname, account, event_time) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut access = tx.prepare_cached(last_access::UPSERT)?;
        for (seq, row) in rows {
            ins.execute(row_params(seq, row).as_slice())?;
            if let Some(p) = &row.principal {
                last_access::upsert(&mut access, p, &row.event_source, &row.event_name, row.event_time, &row.region)?;
            }
            if let Some(json) = &row.resources_json {
                let resources: Vec<LookupResource> = serde_json::from_str(json)
                    .map_err(|e| AuditError::Storage(format!("corrupt journal audit event {seq}: {e}")))?;
                for r in &resources {
                    res.execute(params![seq, r.resource_type, r.resource_name, row.account, row.event_time])?;
                }
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('indexed_through', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![indexed_through],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Move up to `limit` events that a store from before the journal left in `pending` into the
/// indexed tables, in one transaction. Returns how many were moved.
fn index_pending(conn: &Mutex<Connection>, limit: i64) -> Result<i64, AuditError> {
    let mut conn = lock(conn);
    let tx = conn.transaction()?;
    let last: Option<i64> =
        tx.query_row("SELECT max(seq) FROM (SELECT seq FROM pending ORDER BY seq LIMIT ?1)", params![limit], |r| {
            r.get(0)
        })?;
    let Some(last) = last else {
        return Ok(0);
    };
    // Both tables are made by `event_table!`: the same columns in the same order.
    let moved = tx.execute("INSERT INTO events SELECT * FROM pending WHERE seq <= ?1 ORDER BY seq", params![last])?;
    {
        let mut with_resources = tx.prepare_cached(
            "SELECT seq, account, event_time, resources FROM pending WHERE seq <= ?1 AND resources IS NOT NULL",
        )?;
        let rows = with_resources
            .query_map(params![last], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut res = tx.prepare_cached(
            "INSERT OR IGNORE INTO event_resources(seq, rtype, rname, account, event_time) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (seq, account, event_time, json) in rows {
            let resources: Vec<LookupResource> = serde_json::from_str(&json)
                .map_err(|e| AuditError::Storage(format!("corrupt pending audit event {seq}: {e}")))?;
            for r in &resources {
                res.execute(params![seq, r.resource_type, r.resource_name, account, event_time])?;
            }
        }
    }
    tx.execute("DELETE FROM pending WHERE seq <= ?1", params![last])?;
    tx.commit()?;
    Ok(i64::try_from(moved).unwrap_or(i64::MAX))
}

/// The indexer: once [`INDEX_STEP`] events wait (the writer nudges it), or after [`INDEX_IDLE`]
/// with fewer, it indexes what the journal holds, one transaction of at most [`INDEX_STEP`] at a
/// time so that readers can flush in between, and prunes every [`PRUNE_EVERY`]. Waiting for a
/// full step instead of indexing each commit's few events keeps the transactions, their WAL
/// frames and the checkpoints' work per event small. It stops when the writer does.
fn indexer_loop(shared: &Shared, nudged: &Receiver<()>, limits: AuditLimits) {
    lower_priority();
    let mut last_prune: Option<Instant> = None;
    let mut waited = false;
    loop {
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            if let Err(e) = prune(&shared.conn, limits, wall_millis()) {
                tracing::warn!(error = %e, "pruning audit events failed");
            }
        }
        let durable = shared.progress.durable.load(Ordering::SeqCst);
        let backlog = durable - shared.progress.indexed.load(Ordering::SeqCst);
        if backlog >= INDEX_STEP as i64 || (backlog > 0 && waited) {
            waited = false;
            if backlog > MAX_BACKLOG {
                // While the writer is busy it indexes the backlog itself; this thread, which
                // gets only idle CPU, must not hold the index then (the writer would wait for it).
                match nudged.recv_timeout(INDEX_IDLE) {
                    Ok(()) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            if let Err(e) = index_upto(shared, shared.progress.durable.load(Ordering::SeqCst), INDEX_STEP, 1) {
                tracing::warn!(error = %e, "indexing audit events failed; retrying");
                std::thread::sleep(INDEX_IDLE);
            }
            if nudged.try_recv() == Err(mpsc::TryRecvError::Disconnected) {
                break;
            }
            continue;
        }
        match nudged.recv_timeout(INDEX_IDLE) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => waited = true,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
}
/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL frames (4 KiB pages) past which the checkpoint makes the writer start the WAL over.
const WAL_RESTART_FRAMES: i64 = 16 * 1024;

/// Copy the WAL into the database file every [`CHECKPOINT_EVERY`] until `stop` is dropped.
/// `PASSIVE` never blocks the writer. The writer starts the WAL over only when it begins a
/// transaction after a checkpoint that copied all of it, which a writer that never pauses never
/// sees: once the WAL holds more than [`WAL_RESTART_FRAMES`] (64 MiB), a `RESTART` checkpoint
/// waits for the writer's current transaction, copies the rest (what came since the last
/// passive one) and makes the next transaction start the WAL over, so it stays bounded under
/// sustained load.
fn checkpoint_loop(conn: &Connection, stop: &Receiver<()>) {
    // Not `SCHED_IDLE`: a RESTART checkpoint holds off SQLite writers while it runs, and the
    // writer indexes when the backlog is long; starved here, it would stall requests.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        let result = match frames {
            Ok(n) if n > WAL_RESTART_FRAMES => conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "checkpointing the audit store failed; retrying");
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "final checkpoint of the audit store failed");
    }
}

/// Delete, oldest first, events beyond `limits`. Returns how many were deleted.
fn prune(conn: &Mutex<Connection>, limits: AuditLimits, now_millis: i64) -> Result<u64, AuditError> {
    let cutoff = now_millis.saturating_sub(i64::from(limits.retention_days) * 86_400_000);
    let max_events = i64::try_from(limits.max_events).unwrap_or(i64::MAX);
    if limits.retention_days != u32::MAX {
        last_access::prune(&lock(conn), now_millis)?;
    }
    let mut deleted = 0u64;
    loop {
        let mut c = lock(conn);
        let bounds: Option<(i64, i64, i64)> = c
            .query_row(
                "SELECT min(seq), max(seq), (SELECT event_time FROM events ORDER BY seq LIMIT 1) FROM events",
                [],
                |r| {
                    Ok(match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<i64>>(2)?) {
                        (Some(a), Some(b), Some(t)) => Some((a, b, t)),
                        _ => None,
                    })
                },
            )
            .optional()?
            .flatten();
        let Some((min_seq, max_seq, oldest_time)) = bounds else {
            return Ok(deleted);
        };
        let count = max_seq - min_seq + 1;
        let over = (count - max_events).max(0);
        let upto = if over > 0 {
            min_seq + over.min(PRUNE_CHUNK) - 1
        } else if oldest_time < cutoff {
            min_seq + PRUNE_CHUNK - 1
        } else {
            return Ok(deleted);
        };
        let tx = c.transaction()?;
        let time_filter = if over > 0 { i64::MAX } else { cutoff };
        let n = tx.execute(
            "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND event_time < ?3",
            params![min_seq, upto, time_filter],
        )?;
        tx.execute("DELETE FROM event_resources WHERE seq BETWEEN ?1 AND ?2 AND seq NOT IN (SELECT seq FROM events WHERE seq BETWEEN ?1 AND ?2)", params![min_seq, upto])?;
        tx.commit()?;
        drop(c);
        deleted += n as u64;
        if n == 0 {
            return Ok(deleted);
        }
    }
}

const EVENT_COLUMNS: &str =
    "e.seq, e.event_time, e.event_id, e.event_name, e.event_source, e.username, e.access_key_id, e.read_only, e.resources, e.record";

/// A row of [`EVENT_COLUMNS`].
type EventRow = (i64, i64, String, String, String, Option<String>, Option<String>, bool, Option<String>, Vec<u8>);

fn read_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

impl AuditStore for SqliteAuditStore {
    fn ready(&self) -> Result<(), AuditError> {
        self.front.ready()
    }

    fn submit(&self, events: Vec<AuditEvent>) -> Result<Receipt, AuditError> {
        self.front.submit(&events, encode)
    }

    fn lookup(&self, q: &LookupQuery) -> Result<LookupPage, AuditError> {
        let account = account_key(&q.account)?;
        let crate::store::Scan { limit, fetch, upper, cursor_time, cursor_seq } = q.scan();
        let (from, cond, value): (String, &str, Option<rusqlite::types::Value>) = match &q.attribute {
            None => ("events e INDEXED BY ev_time".to_string(), "", None),
            Some(LookupAttribute::EventName(v)) => {
                ("events e INDEXED BY ev_name".into(), "AND e.event_name = ?6", Some(v.clone().into()))
            }
            Some(LookupAttribute::Username(v)) => {
                ("events e INDEXED BY ev_user".into(), "AND e.username = ?6", Some(v.clone().into()))
            }
            Some(LookupAttribute::EventSource(v)) => {
                ("events e INDEXED BY ev_source".into(), "AND e.event_source = ?6", Some(v.clone().into()))
            }
            Some(LookupAttribute::AccessKeyId(v)) => {
                ("events e INDEXED BY ev_key".into(), "AND e.access_key_id = ?6", Some(v.clone().into()))
            }
            Some(LookupAttribute::ReadOnly(v)) => {
                ("events e INDEXED BY ev_ro".into(), "AND e.read_only = ?6", Some(i64::from(*v).into()))
            }
            Some(LookupAttribute::EventId(v)) => {
                ("events e INDEXED BY ev_id".into(), "AND e.event_id = ?6", Some(v.clone().into()))
            }
            Some(LookupAttribute::ResourceType(_)) | Some(LookupAttribute::ResourceName(_)) => {
                (String::new(), "", None)
            }
        };
        let sql = match &q.attribute {
            Some(LookupAttribute::ResourceType(_)) | Some(LookupAttribute::ResourceName(_)) => {
                let (index, column) = match &q.attribute {
                    Some(LookupAttribute::ResourceType(_)) => ("er_type", "rtype"),
                    _ => ("er_name", "rname"),
                };
                format!(
                    "SELECT {EVENT_COLUMNS} FROM event_resources r INDEXED BY {index} JOIN events e ON e.seq = r.seq
                     WHERE r.account = ?1 AND r.{column} = ?6 AND r.event_time BETWEEN ?2 AND ?3
                       AND (r.event_time < ?4 OR r.seq < ?5)
                     GROUP BY r.event_time, r.seq
                     ORDER BY r.event_time DESC, r.seq DESC LIMIT ?7"
                )
            }
            _ => format!(
                "SELECT {EVENT_COLUMNS} FROM {from}
                 WHERE e.account = ?1 {cond} AND e.event_time BETWEEN ?2 AND ?3
                   AND (e.event_time < ?4 OR e.seq < ?5)
                 ORDER BY e.event_time DESC, e.seq DESC LIMIT ?7"
            ),
        };
        let value = match &q.attribute {
            Some(LookupAttribute::ResourceType(v)) | Some(LookupAttribute::ResourceName(v)) => {
                rusqlite::types::Value::Text(v.clone())
            }
            _ => value.unwrap_or(rusqlite::types::Value::Null),
        };
        self.flush()?;
        let rows = self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![account, q.start_millis, upper, cursor_time, cursor_seq, value, fetch], read_event)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        let mut events = Vec::with_capacity(rows.len());
        for (seq, time, event_id, event_name, event_source, username, access_key_id, read_only, resources, record) in
            rows
        {
            events.push(StoredEvent {
                seq,
                event_id,
                event_name,
                read_only,
                access_key_id,
                event_time_millis: time,
                event_source,
                username,
                resources: resources.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default(),
                cloudtrail_event: decompress(&record)?,
            });
        }
        Ok(LookupPage::of(events, limit))
    }

    fn last_accessed(&self, principals: &[String], since_millis: i64) -> Result<Vec<LastAccess>, AuditError> {
        self.flush()?;
        self.with_reader(|c| last_access::query(c, principals, since_millis))
    }

    fn max_seq(&self) -> Result<i64, AuditError> {
        self.flush()?;
        self.with_reader(|c| Ok(c.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?))
    }

    fn events_after(&self, after_seq: i64, limit: usize) -> Result<Vec<DeliveryEvent>, AuditError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.flush()?;
        let rows = self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, account, region, event_source, event_time, record FROM events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![after_seq, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Vec<u8>>(5)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(seq, account, region, event_source, event_time_millis, record)| {
                Ok(DeliveryEvent {
                    seq,
                    account: account_string(account),
                    region,
                    event_source,
                    event_time_millis,
                    record: decompress(&record)?,
                })
            })
            .collect()
    }

    fn insert_trail(&self, trail: &Trail) -> Result<bool, AuditError> {
        let body = serde_json::to_string(trail).map_err(|e| AuditError::Storage(e.to_string()))?;
        let c = lock(&self.shared.conn);
        let n = c.execute(
            "INSERT OR IGNORE INTO trails(account, name, body) VALUES (?1, ?2, ?3)",
            params![trail.account, trail.name, body],
        )?;
        Ok(n == 1)
    }

    fn trails(&self, account: Option<&str>) -> Result<Vec<Trail>, AuditError> {
        let bodies: Vec<String> = self.with_reader(|c| {
            let mut stmt =
                c.prepare_cached("SELECT body FROM trails WHERE ?1 IS NULL OR account = ?1 ORDER BY account, name")?;
            let rows = stmt.query_map(params![account], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(|e| AuditError::Storage(format!("corrupt trail record: {e}"))))
            .collect()
    }

    fn update_trail(
        &self,
        account: &str,
        name: &str,
        change: &mut dyn FnMut(&mut Trail),
    ) -> Result<Option<Trail>, AuditError> {
        let mut c = lock(&self.shared.conn);
        let tx = c.transaction()?;
        let body: Option<String> = tx
            .query_row("SELECT body FROM trails WHERE account = ?1 AND name = ?2", params![account, name], |r| r.get(0))
            .optional()?;
        let Some(body) = body else {
            return Ok(None);
        };
        let mut trail: Trail =
            serde_json::from_str(&body).map_err(|e| AuditError::Storage(format!("corrupt trail record: {e}")))?;
        change(&mut trail);
        let body = serde_json::to_string(&trail).map_err(|e| AuditError::Storage(e.to_string()))?;
        tx.execute("UPDATE trails SET body = ?3 WHERE account = ?1 AND name = ?2", params![account, name, body])?;
        tx.commit()?;
        Ok(Some(trail))
    }

    fn delete_trail(&self, account: &str, name: &str) -> Result<bool, AuditError> {
        let c = lock(&self.shared.conn);
        Ok(c.execute("DELETE FROM trails WHERE account = ?1 AND name = ?2", params![account, name])? == 1)
    }

    fn digest_signer(&self, now_millis: i64) -> Result<DigestSigner, AuditError> {
        let _guard = lock(&self.key_lock);
        let current: Option<(Vec<u8>, String, i64)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT public_der, private_sealed, valid_from FROM signing_keys WHERE valid_to IS NULL
                 ORDER BY valid_from DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
        })?;
        if let Some((_, sealed, valid_from)) = current {
            let der = self
                .secrets
                .open(KEY_SEAL_CONTEXT, &sealed)
                .map_err(|e| AuditError::Storage(format!("opening the digest key: {e}")))?;
            return DigestSigner::from_pkcs8(&der, valid_from);
        }
        // Generated outside the writer lock: key generation takes a moment.
        let signer = DigestSigner::generate(now_millis)?;
        let sealed = self.secrets.seal(KEY_SEAL_CONTEXT, &signer.to_pkcs8()?);
        let c = lock(&self.shared.conn);
        c.execute(
            "INSERT INTO signing_keys(fingerprint, public_der, private_sealed, valid_from) VALUES (?1, ?2, ?3, ?4)",
            params![signer.public.fingerprint, signer.public.der, sealed, now_millis],
        )?;
        Ok(signer)
    }

    fn public_keys(&self) -> Result<Vec<PublicKeyInfo>, AuditError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT fingerprint, public_der, valid_from, valid_to FROM signing_keys ORDER BY valid_from",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(PublicKeyInfo {
                        fingerprint: r.get(0)?,
                        der: r.get(1)?,
                        valid_from_millis: r.get(2)?,
                        valid_to_millis: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

/// Append `events` to the journal of the store file at `path` as the writer does, numbered from
/// `next_seq`, without indexing them: the state a crash right after a group commit leaves.
#[cfg(test)]
pub(crate) fn append_unindexed(path: &Path, events: &[AuditEvent], next_seq: i64) -> Result<i64, AuditError> {
    let dir = journal_dir(path);
    journal::recover(&dir)?;
    let rows = events.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    let n = i64::try_from(rows.len()).unwrap_or(0);
    JournalWriter::open(&dir, next_seq)?.append(next_seq, rows)?;
    Ok(next_seq + n)
}

/// Insert `events` into `pending` of the store file at `path`, numbered from `next_seq`: what a
/// store from before the journal left unindexed.
#[cfg(test)]
pub(crate) fn append_pending(path: &Path, events: &[AuditEvent], next_seq: i64) -> Result<i64, AuditError> {
    let conn = Connection::open(path)?;
    configure(&conn, false)?;
    let mut seq = next_seq;
    for row in events.iter().map(encode) {
        let row = row?;
        conn.execute(&insert_sql("INSERT INTO pending"), row_params(&seq, &row).as_slice())?;
        seq += 1;
    }
    Ok(seq)
}

/// What [`backup_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBackup {
    /// The files written, relative to the output directory (`audit.db`, then the journal's
    /// segments under `audit.journal/`).
    pub files: Vec<PathBuf>,
    /// Events the copy holds: indexed in its `audit.db`, plus those above its index mark in its
    /// journal (indexed when a store opens on the copy).
    pub events: u64,
}

/// A consistent copy of the audit store at `path` (`audit.db` and its journal) into `out_dir`,
/// made beside a running server (`tessera backup`).
///
/// The journal is copied first, then `audit.db` is snapshotted (`VACUUM INTO`, one read
/// transaction). An event acknowledged before the copy started is durable in the journal; if
/// its segment is still there it is copied, and if the indexer deleted the segment meanwhile,
/// every event in it was indexed first, so the later snapshot of `audit.db` holds it. A store
/// opened on the copy indexes the copied journal's events above the snapshot's mark and numbers
/// new events after both. Trail delivery records what it delivered in `audit.db` after the
/// files are written, so snapshotting `audit.db` before the S3 records (the caller's next step)
/// names no trail file the records lack.
pub fn backup_to(path: &Path, out_dir: &Path) -> Result<AuditBackup, AuditError> {
    let journal_out = out_dir.join("audit.journal");
    let segments = journal::copy_segments(&journal_dir(path), &journal_out)?;
    let db_out = out_dir.join("audit.db");
    tessera_store::sqlite::snapshot_into(path, &db_out).map_err(|e| AuditError::Storage(format!("audit.db: {e}")))?;
    let c = Connection::open_with_flags(&db_out, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let indexed: i64 = c.query_row(
        "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'indexed_through'), 0),
                    coalesce((SELECT max(seq) FROM events), 0))",
        [],
        |r| r.get(0),
    )?;
    let in_db: i64 =
        c.query_row("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM pending)", [], |r| r.get(0))?;
    let in_journal: i64 =
        segments.iter().filter_map(|s| s.last.map(|last| (last - s.first.max(indexed + 1) + 1).max(0))).sum();
    let mut files = vec![PathBuf::from("audit.db")];
    files.extend(segments.iter().map(|s| {
        journal::segment_path(&journal_out, s.first).strip_prefix(out_dir).map(Path::to_path_buf).unwrap_or_default()
    }));
    Ok(AuditBackup { files, events: u64::try_from(in_db + in_journal).unwrap_or(0) })
}

/// A copy of a PostgreSQL node's journal (`DIR/audit.journal`) into `out_dir/audit.journal`,
/// made beside the running node (`tessera backup` of a node whose audit trail is in
/// PostgreSQL): the events it acknowledged and has not shipped yet. A node restored on the copy,
/// with its `node-id`, ships them on start; those already shipped are skipped (each event is keyed
/// by node id and sequence). `events` counts the events the copied segments hold.
pub fn journal_backup_to(journal: &Path, out_dir: &Path) -> Result<AuditBackup, AuditError> {
    let journal_out = out_dir.join("audit.journal");
    let segments = journal::copy_segments(journal, &journal_out)?;
    let events: i64 = segments.iter().filter_map(|s| s.last.map(|last| (last - s.first + 1).max(0))).sum();
    let files = segments
        .iter()
        .map(|s| {
            journal::segment_path(&journal_out, s.first)
                .strip_prefix(out_dir)
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
        .collect();
    Ok(AuditBackup { files, events: u64::try_from(events).unwrap_or(0) })
}

/// Public keys and trails read from an audit database file without starting a writer (for
/// `tessera audit verify`).
pub fn read_offline(path: &Path) -> Result<(Vec<Trail>, Vec<PublicKeyInfo>), AuditError> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.pragma_update(None, "query_only", true)?;
    let mut trails = Vec::new();
    {
        let mut stmt = c.prepare("SELECT body FROM trails ORDER BY account, name")?;
        let bodies = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        for b in bodies {
            trails
                .push(serde_json::from_str(&b).map_err(|e| AuditError::Storage(format!("corrupt trail record: {e}")))?);
        }
    }
    let mut stmt = c.prepare("SELECT fingerprint, public_der, valid_from, valid_to FROM signing_keys")?;
    let keys = stmt
        .query_map([], |r| {
            Ok(PublicKeyInfo {
                fingerprint: r.get(0)?,
                der: r.get(1)?,
                valid_from_millis: r.get(2)?,
                valid_to_millis: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((trails, keys))
}

#[cfg(test)]
mod compression_tests {
    use std::io::Write;

    #[test]
    fn records_round_trip_and_deflated_records_of_earlier_stores_still_read() {
        let mut random = vec![0u8; 200_000];
        let mut x: u32 = 0x1234_5678;
        for b in random.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = (x % 94 + 33) as u8;
        }
        let inputs = [
            String::new(),
            "{\"eventName\":\"GetCallerIdentity\"}".to_string(),
            "abc".repeat(100_000),
            String::from_utf8(random).unwrap(),
        ];
        for input in &inputs {
            let packed = super::compress(input.as_bytes());
            assert_eq!(packed[0], super::LZ4_RECORD);
            assert_eq!(&super::decompress(&packed).unwrap(), input);
            let mut old = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            old.write_all(input.as_bytes()).unwrap();
            let old = old.finish().unwrap();
            assert_ne!(old.first(), Some(&super::LZ4_RECORD));
            assert_eq!(&super::decompress(&old).unwrap(), input);
        }
        assert!(
            super::decompress(&[super::LZ4_RECORD, 100, 0, 0, 0, 0x50, b'a']).is_err(),
            "a truncated record is an error"
        );
    }
}
