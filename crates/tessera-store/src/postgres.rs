//! The networked backend: a PostgreSQL database that several Tessera servers may share.
//!
//! The data lives in `tessera_kv (t text COLLATE "C", k bytea, v bytea)`; keys are the UTF-8
//! bytes of the key, so they sort bytewise exactly as in SQLite and Rust. Every write
//! transaction bumps the one row of `tessera_generation` first: that row lock makes the writers of
//! every process sharing the schema take turns (one write transaction at a time, as with SQLite),
//! and the row's value is [`Store::generation`]. Reads are `REPEATABLE READ READ ONLY`
//! snapshots; commits wait for the WAL flush (`synchronous_commit = on`). See `docs/STORAGE.md`.

use std::cell::RefCell;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::postgres::{Client, Config, NoTls, Statement};

use crate::{ReadTxn, Row, Store, StoreError, WriteTxn};

/// Schema migrations, applied in order; `tessera_migrations` records each one that has run.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "key-value tables and the commit generation",
        "CREATE TABLE tessera_kv (
         t text COLLATE \"C\" NOT NULL,
         k bytea NOT NULL,
         v bytea NOT NULL,
         PRIMARY KEY (t, k)
     );
     CREATE TABLE tessera_generation (
         id boolean PRIMARY KEY DEFAULT true CHECK (id),
         g bigint NOT NULL
     );
     INSERT INTO tessera_generation (id, g) VALUES (true, 1);",
    ),
    (
        "S3 object bytes in 1 MiB chunks (crate::pgblobs)",
        "CREATE TABLE tessera_blob_chunks (
             blob text COLLATE \"C\" NOT NULL,
             n integer NOT NULL,
             data bytea NOT NULL,
             PRIMARY KEY (blob, n)
         );
         ALTER TABLE tessera_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;",
    ),
];

/// Most read connections open at once (the writer has its own).
const MAX_READERS: usize = 16;
/// Idle read connections kept open.
const IDLE_READERS: usize = 8;
/// How long a read waits for a free connection, and a write for the write lock (like SQLite's
/// busy timeout).
const WAIT: Duration = Duration::from_secs(30);
/// Generations returned when the database cannot be asked: each call gets a new one, above any
/// real generation, so that no cache entry ever matches it.
const UNKNOWN_GENERATION_BASE: u64 = 1 << 63;

const GET: &str = "SELECT v FROM tessera_kv WHERE t = $1 AND k = $2";
const SCAN_FROM: &str = "SELECT k, v FROM tessera_kv WHERE t = $1 AND k >= $2 AND k < $3 ORDER BY k LIMIT $4";
const SCAN_AFTER: &str = "SELECT k, v FROM tessera_kv WHERE t = $1 AND k > $2 AND k < $3 ORDER BY k LIMIT $4";
const COUNT: &str = "SELECT count(*) FROM tessera_kv WHERE t = $1 AND k >= $2 AND k < $3";
const PUT: &str =
    "INSERT INTO tessera_kv (t, k, v) VALUES ($1, $2, $3) ON CONFLICT (t, k) DO UPDATE SET v = excluded.v";
const DELETE: &str = "DELETE FROM tessera_kv WHERE t = $1 AND k = $2";
const GENERATION: &str = "SELECT g FROM tessera_generation";
/// Starts a write transaction: the row lock taken here is held until commit or rollback.
const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; UPDATE tessera_generation SET g = g + 1";
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

pub(crate) fn be(e: ::postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        return StoreError::Backend(format!("postgres {} {}: {}", db.severity(), db.code().code(), db.message()));
    }
    match std::error::Error::source(&e) {
        Some(cause) => StoreError::Backend(format!("postgres: {e}: {cause}")),
        None => StoreError::Backend(format!("postgres: {e}")),
    }
}

/// A key that sorts after every key starting with `prefix`: UTF-8 never contains the byte 0xFF.
fn upper_bound(prefix: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(prefix.len() + 1);
    b.extend_from_slice(prefix.as_bytes());
    b.push(0xFF);
    b
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Split Tessera's own `schema=NAME` parameter off a `postgres://` URL.
fn split_schema(url: &str) -> Result<(String, Option<String>), StoreError> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok((url.to_string(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("schema=") {
            Some(name) => schema = Some(name.to_string()),
            None if pair.is_empty() => {}
            None => rest.push(pair),
        }
    }
    if let Some(name) = &schema {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(StoreError::Backend(format!(
                "invalid schema name {name:?} in the store URL: use 1 to 63 letters, digits and underscores, not starting with a digit"
            )));
        }
    }
    let base = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    Ok((base, schema))
}

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    get: Statement,
    scan_from: Statement,
    scan_after: Statement,
    count: Statement,
    put: Statement,
    delete: Statement,
    generation: Statement,
}

/// Connect and configure a session: durable commits, the schema, the write-lock timeout.
pub(crate) fn connect(config: &Config, schema: Option<&str>) -> Result<Client, StoreError> {
    let mut client = config.connect(NoTls).map_err(be)?;
    let mut setup = format!(
        "SET synchronous_commit = on; SET lock_timeout = '{}s'; SET default_transaction_isolation = 'read committed';",
        WAIT.as_secs()
    );
    if let Some(s) = schema {
        setup.push_str(&format!(" SET search_path TO {};", quote_ident(s)));
    }
    client.batch_execute(&setup).map_err(be)?;
    Ok(client)
}

impl Conn {
    fn open(config: &Config, schema: Option<&str>) -> Result<Conn, StoreError> {
        Conn::prepare(connect(config, schema)?)
    }

    fn prepare(mut client: Client) -> Result<Conn, StoreError> {
        let mut p = |sql: &str| client.prepare(sql).map_err(be);
        let get = p(GET)?;
        let scan_from = p(SCAN_FROM)?;
        let scan_after = p(SCAN_AFTER)?;
        let count = p(COUNT)?;
        let put = p(PUT)?;
        let delete = p(DELETE)?;
        let generation = p(GENERATION)?;
        Ok(Conn { client, get, scan_from, scan_after, count, put, delete, generation })
    }

    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.client.query_opt(&self.get, &[&table, &key.as_bytes()]).map_err(be)?;
        row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose().map_err(be)
    }

    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, n: usize) -> Result<Vec<Row>, StoreError> {
        let upper = upper_bound(prefix);
        let rows = match after {
            Some(a) if a >= prefix => {
                self.client.query(&self.scan_after, &[&table, &a.as_bytes(), &upper, &limit(n)]).map_err(be)?
            }
            _ => self.client.query(&self.scan_from, &[&table, &prefix.as_bytes(), &upper, &limit(n)]).map_err(be)?,
        };
        rows.into_iter()
            .map(|r| {
                let k: Vec<u8> = r.try_get(0).map_err(be)?;
                let v: Vec<u8> = r.try_get(1).map_err(be)?;
                let k = String::from_utf8(k).map_err(|e| StoreError::Corrupt {
                    table: table.to_string(),
                    key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    reason: "the key is not UTF-8".into(),
                })?;
                Ok((k, v))
            })
            .collect()
    }

    fn count(&mut self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        let row =
            self.client.query_one(&self.count, &[&table, &prefix.as_bytes(), &upper_bound(prefix)]).map_err(be)?;
        let n: i64 = row.try_get(0).map_err(be)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn generation(&mut self) -> Result<u64, StoreError> {
        let row = self.client.query_one(&self.generation, &[]).map_err(be)?;
        let g: i64 = row.try_get(0).map_err(be)?;
        u64::try_from(g).map_err(|_| StoreError::Backend(format!("tessera_generation holds a negative value {g}")))
    }
}

/// A session on the database of a store URL, configured as the store's own (durable commits,
/// its `schema=NAME` as the search path), for tables other crates keep beside the store's.
pub fn connect_url(url: &str) -> Result<Client, StoreError> {
    let (config, schema) = configure(url)?;
    connect(&config, schema.as_deref())
}

/// Run `f`, which blocks on a PostgreSQL client, from any thread (see `blocking`): for other
/// crates' clients of [`connect_url`].
pub fn off_async<R>(f: impl FnOnce() -> R) -> R {
    blocking(f)
}

/// The connection settings of a store URL (a 10 s connect timeout and the application name
/// `tessera` unless it sets them) and the schema it names.
fn configure(url: &str) -> Result<(Config, Option<String>), StoreError> {
    let (url, schema) = split_schema(url)?;
    let mut config = Config::from_str(&url).map_err(be)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("tessera");
    }
    Ok((config, schema))
}

/// Apply missing migrations, under a transaction-scoped advisory lock so that servers starting
/// together do not race. Creates the schema first when the URL names one that does not exist.
fn migrate(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    let mut txn = client.transaction().map_err(be)?;
    let name: String = match schema {
        Some(s) => s.to_string(),
        None => txn
            .query_one("SELECT current_schema()::text", &[])
            .and_then(|r| r.try_get::<_, Option<String>>(0))
            .map_err(be)?
            .ok_or_else(|| {
                StoreError::Backend(
                    "no schema to store in: the search_path names no existing schema (add ?schema=NAME to the URL)"
                        .into(),
                )
            })?,
    };
    txn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("tessera-migrate/{name}")]).map_err(be)?;
    if schema.is_some() {
        let exists = txn.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&name]).map_err(be)?.is_some();
        if !exists {
            txn.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(&name))).map_err(be)?;
        }
    }
    // Checked first so that later starts need no CREATE privilege on the schema.
    let have_table = txn
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'tessera_migrations'",
            &[&name],
        )
        .map_err(be)?
        .is_some();
    if !have_table {
        txn.batch_execute(&format!(
            "CREATE TABLE {}.tessera_migrations (
                 version integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
            quote_ident(&name)
        ))
        .map_err(be)?;
    }
    let have: i32 = txn
        .query_one("SELECT coalesce(max(version), 0) FROM tessera_migrations", &[])
        .and_then(|r| r.try_get(0))
        .map_err(be)?;
    let have = usize::try_from(have).unwrap_or(0);
    if have > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "database schema version {have} is newer than this build supports ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, (description, sql)) in MIGRATIONS.iter().enumerate().skip(have) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        txn.batch_execute(sql).map_err(be)?;
        txn.execute("INSERT INTO tessera_migrations (version, description) VALUES ($1, $2)", &[&version, description])
            .map_err(be)?;
    }
    txn.commit().map_err(be)
}

/// Run `f`, which blocks on the PostgreSQL client's own small runtime. On a tokio worker thread
/// (the S3 front end reads the store inline in its handlers) that would panic with "Cannot start
/// a runtime from within a runtime", so there the worker first hands its other tasks to another
/// thread (`block_in_place`); on a blocking-pool or plain thread `f` just runs.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the database inconsistent (transactions roll back).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A bounded set of connections: the idle ones, and how many are open (idle or leased).
pub(crate) struct Pool<C> {
    pub(crate) idle: Vec<C>,
    pub(crate) open: usize,
}

impl<C> Pool<C> {
    pub(crate) fn new() -> Pool<C> {
        Pool { idle: Vec::new(), open: 0 }
    }
}

/// A connection of `pool`: an idle one, a new one (`open`) while fewer than `max` are open, or
/// the next one freed (`freed` is notified), waiting at most [`WAIT`]. `what` names the pool in
/// the error.
pub(crate) fn take_connection<C>(
    pool: &Mutex<Pool<C>>,
    freed: &Condvar,
    max: usize,
    what: &str,
    open: impl FnOnce() -> Result<C, StoreError>,
) -> Result<C, StoreError> {
    let deadline = Instant::now() + WAIT;
    let mut guard = lock(pool);
    loop {
        if let Some(conn) = guard.idle.pop() {
            return Ok(conn);
        }
        if guard.open < max {
            guard.open += 1;
            drop(guard);
            return open().inspect_err(|_| {
                lock(pool).open -= 1;
                freed.notify_one();
            });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(StoreError::Backend(format!(
                "no PostgreSQL {what} connection became free within {}s",
                WAIT.as_secs()
            )));
        }
        guard = freed.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
    }
}

/// PostgreSQL-backed [`Store`].
pub struct PostgresStore {
    config: Config,
    schema: Option<String>,
    /// The connection write transactions run on (reconnected when it breaks).
    writer: Mutex<Option<Conn>>,
    readers: Mutex<Pool<Conn>>,
    reader_freed: Condvar,
    unknown_generation: AtomicU64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config may hold a password: show only where the data is.
        f.debug_struct("PostgresStore")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("schema", &self.schema)
            .finish()
    }
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/dbname?...`, or a
    /// `key=value` connection string) and create or migrate Tessera's tables. A `schema=NAME`
    /// parameter in a URL puts the tables in that schema, created when missing; otherwise they
    /// go in the connection's `search_path` (normally `public`).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let (config, schema) = configure(url)?;
        let mut client = connect(&config, schema.as_deref())?;
        migrate(&mut client, schema.as_deref())?;
        let writer = Conn::prepare(client)?;
        Ok(PostgresStore {
            config,
            schema,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Pool::new()),
            reader_freed: Condvar::new(),
            unknown_generation: AtomicU64::new(UNKNOWN_GENERATION_BASE),
        })
    }

    /// The schema named by the URL, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// S3 object bytes in this database, beside the tables ([`crate::pgblobs`]), on connections of
    /// their own.
    pub fn blobs(&self) -> crate::pgblobs::PgBlobs {
        crate::pgblobs::PgBlobs::new(self.config.clone(), self.schema.clone())
    }

    /// A read connection: an idle one, a new one while fewer than [`MAX_READERS`] are open, or
    /// the next one freed (waiting at most [`WAIT`]).
    fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let conn = take_connection(&self.readers, &self.reader_freed, MAX_READERS, "read", || {
            Conn::open(&self.config, self.schema.as_deref())
        })?;
        Ok(Lease { conn: Some(conn), broken: false, store: self })
    }

    /// Run `f` on a leased read connection. A pooled connection found closed (the server
    /// restarted, or ended the session) is discarded and `f` retried on the next, so a lost
    /// server shows as at most one failed call, not one per pooled connection.
    fn with_lease<R>(
        &self,
        mut f: impl FnMut(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<(Lease<'_>, R), StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut lease = self.lease()?;
            let conn = lease.conn_mut()?;
            match f(conn) {
                Ok(r) => return Ok((lease, r)),
                Err(e) => {
                    lease.broken = true;
                    let closed = lease.conn.as_ref().is_none_or(|c| c.client.is_closed());
                    if !closed || attempts > IDLE_READERS {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn read_generation(&self) -> Result<u64, StoreError> {
        self.with_lease(Conn::generation).map(|(_, g)| g)
    }

    /// [`Store::write`]: begin a transaction on the writer connection.
    fn begin_write(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        let started = Instant::now();
        let mut slot = lock(&self.writer);
        let (mut conn, reused) = match slot.take() {
            Some(c) => (c, true),
            None => (Conn::open(&self.config, self.schema.as_deref())?, false),
        };
        if let Err(e) = conn.client.batch_execute(BEGIN_WRITE) {
            if reused && conn.client.is_closed() {
                // The server ended the session since the last write: once more, connected anew.
                conn = Conn::open(&self.config, self.schema.as_deref())?;
                if let Err(e) = conn.client.batch_execute(BEGIN_WRITE) {
                    if conn.client.batch_execute("ROLLBACK").is_ok() {
                        *slot = Some(conn);
                    }
                    return Err(be(e));
                }
            } else {
                // Back in its slot only if it is still usable (e.g. after a lock timeout).
                if conn.client.batch_execute("ROLLBACK").is_ok() {
                    *slot = Some(conn);
                }
                return Err(be(e));
            }
        }
        Ok(Box::new(PgWrite {
            slot,
            conn: RefCell::new(Some(conn)),
            failed: std::cell::Cell::new(false),
            done: false,
            started,
        }))
    }

    /// [`Store::generation`].
    fn current_generation(&self) -> u64 {
        match self.read_generation() {
            Ok(g) => g,
            // Unknown: a fresh value, so that nothing cached is trusted.
            Err(_) => self.unknown_generation.fetch_add(1, Ordering::AcqRel),
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // A client owns a small async runtime, which must not be dropped on an async runtime's
        // thread: close the connections on a thread of their own.
        let mut conns: Vec<Conn> = std::mem::take(&mut lock(&self.readers).idle);
        conns.extend(lock(&self.writer).take());
        let _ = std::thread::spawn(move || drop(conns)).join();
    }
}

/// A leased read connection, returned to the pool on drop (or closed, when broken).
struct Lease<'a> {
    conn: Option<Conn>,
    broken: bool,
    store: &'a PostgresStore,
}

impl Lease<'_> {
    fn conn_mut(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn.as_mut().ok_or_else(|| StoreError::Backend("the read connection is gone".into()))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let conn = self.conn.take();
        let mut pool = lock(&self.store.readers);
        match conn {
            Some(c) if !self.broken && !c.client.is_closed() && pool.idle.len() < IDLE_READERS => pool.idle.push(c),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        drop(pool);
        self.store.reader_freed.notify_one();
    }
}

/// A read snapshot. The connection is leased, and the transaction begun, at the first statement
/// (PostgreSQL takes a `REPEATABLE READ` snapshot there anyway): a read whose every lookup is
/// answered by a cache costs no round trip.
struct PgRead<'a> {
    store: &'a PostgresStore,
    lease: RefCell<Option<Lease<'a>>>,
}

impl PgRead<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut Conn) -> Result<R, StoreError>) -> Result<R, StoreError> {
        blocking(|| {
            let mut slot = self.lease.borrow_mut();
            let lease = match &mut *slot {
                Some(lease) => lease,
                None => slot.insert(self.store.with_lease(|c| c.client.batch_execute(BEGIN_READ).map_err(be))?.0),
            };
            // After an error the connection goes back to the pool only if the rollback on drop works.
            f(lease.conn_mut()?)
        })
    }
}

impl ReadTxn for PgRead<'_> {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| c.get(table, key))
    }
    fn scan(&self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError> {
        self.with(|c| c.scan(table, prefix, after, limit))
    }
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        self.with(|c| c.count(table, prefix))
    }
}

impl Drop for PgRead<'_> {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.get_mut() {
            let ended = match lease.conn.as_mut() {
                Some(c) => blocking(|| c.client.batch_execute("ROLLBACK").is_ok()),
                None => false,
            };
            if !ended {
                lease.broken = true;
            }
        }
    }
}

/// The write transaction, on the writer connection (taken out of its slot while in use).
struct PgWrite<'a> {
    slot: MutexGuard<'a, Option<Conn>>,
    conn: RefCell<Option<Conn>>,
    /// A statement failed: PostgreSQL has aborted the transaction, so it can only roll back.
    failed: std::cell::Cell<bool>,
    done: bool,
    /// When the transaction began waiting for the writer (its latency's start).
    started: Instant,
}

impl PgWrite<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut Conn) -> Result<R, StoreError>) -> Result<R, StoreError> {
        if self.failed.get() {
            return Err(StoreError::Backend("the write transaction was aborted by an earlier error".into()));
        }
        let mut conn = self.conn.borrow_mut();
        let c = conn.as_mut().ok_or_else(|| StoreError::Backend("the write connection is gone".into()))?;
        let r = blocking(|| f(c));
        if r.is_err() {
            self.failed.set(true);
        }
        r
    }

    /// Put the connection back for the next write transaction (unless it is closed).
    fn release(&mut self, ok: bool) {
        if let Some(c) = self.conn.get_mut().take() {
            if ok && !c.client.is_closed() {
                *self.slot = Some(c);
            }
        }
    }
}

impl ReadTxn for PgWrite<'_> {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| c.get(table, key))
    }
    fn scan(&self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError> {
        self.with(|c| c.scan(table, prefix, after, limit))
    }
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        self.with(|c| c.count(table, prefix))
    }
}

impl WriteTxn for PgWrite<'_> {
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.with(|c| c.client.execute(&c.put, &[&table, &key.as_bytes(), &value]).map(|_| ()).map_err(be))
    }
    fn delete(&mut self, table: &str, key: &str) -> Result<bool, StoreError> {
        self.with(|c| c.client.execute(&c.delete, &[&table, &key.as_bytes()]).map(|n| n > 0).map_err(be))
    }
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.failed.get() {
            // Dropping rolls back.
            return Err(StoreError::Backend("the write transaction was aborted by an earlier error".into()));
        }
        let r = match self.conn.get_mut().as_mut() {
            Some(c) => blocking(|| c.client.batch_execute("COMMIT").map_err(be)),
            None => Err(StoreError::Backend("the write connection is gone".into())),
        };
        // After a failed COMMIT the outcome is unknown to us; the connection is not reused.
        self.done = true;
        self.release(r.is_ok());
        if r.is_ok() {
            crate::record_commit(self.started, "postgres");
        }
        r
    }
}

impl Drop for PgWrite<'_> {
    fn drop(&mut self) {
        if !self.done {
            let ok = match self.conn.get_mut().as_mut() {
                Some(c) => blocking(|| c.client.batch_execute("ROLLBACK").is_ok()),
                None => false,
            };
            self.release(ok);
        }
    }
}

impl Store for PostgresStore {
    fn read(&self) -> Result<Box<dyn ReadTxn + '_>, StoreError> {
        Ok(Box::new(PgRead { store: self, lease: RefCell::new(None) }))
    }

    fn write(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        blocking(|| self.begin_write())
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn as_postgres(&self) -> Option<&PostgresStore> {
        Some(self)
    }

    fn generation(&self) -> u64 {
        blocking(|| self.current_generation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parameter_is_split_off() {
        let (u, s) = split_schema("postgres://u@h:5432/db?schema=t_1&connect_timeout=3").unwrap();
        assert_eq!((u.as_str(), s.as_deref()), ("postgres://u@h:5432/db?connect_timeout=3", Some("t_1")));
        let (u, s) = split_schema("postgresql://h/db?schema=abc").unwrap();
        assert_eq!((u.as_str(), s.as_deref()), ("postgresql://h/db", Some("abc")));
        let (u, s) = split_schema("host=h dbname=db").unwrap();
        assert_eq!((u.as_str(), s), ("host=h dbname=db", None));
        for bad in ["x;drop", "", "1abc", "a\"b"] {
            assert!(split_schema(&format!("postgres://h/db?schema={bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn upper_bound_covers_the_prefix() {
        let u = upper_bound("ab");
        assert!(b"ab".as_slice() < u.as_slice());
        assert!("ab\u{10FFFF}".as_bytes() < u.as_slice());
        assert!(b"ac".as_slice() > u.as_slice());
    }
}
