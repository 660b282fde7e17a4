//! The embedded default backend: one SQLite file in WAL mode with `synchronous=FULL`, so a
//! committed transaction is on disk before the commit returns (it survives `kill -9`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::{ReadTxn, Row, Store, StoreError, WriteTxn};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: the key-value tables every service stores its entities in.
    "CREATE TABLE kv (t TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (t, k)) WITHOUT ROWID;",
];

/// How many read connections are kept open.
const READ_POOL: usize = 8;

fn be(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: Option<std::path::PathBuf>,
    /// Bumped after every commit: one process owns the database file (the data dir).
    generation: AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(be)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(be)?;
    Ok(())
}

impl SqliteStore {
    /// Open (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(be)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(be)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(be)?;
        configure(&conn)?;
        migrate(&conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path: Some(path.to_path_buf()),
            generation: AtomicU64::new(1),
        })
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(be)?;
        configure(&conn)?;
        migrate(&conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path: None,
            generation: AtomicU64::new(1),
        })
    }

    fn reader(&self) -> Result<PooledReader<'_>, StoreError> {
        let Some(path) = &self.path else {
            // In memory: reads go through the writer connection.
            return Ok(PooledReader::Writer(lock(&self.writer)));
        };
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(be)?;
                configure(&c)?;
                c
            }
        };
        // One transaction for the whole read, so that every statement sees one snapshot (taken
        // at the first statement); rolled back when the reader is dropped.
        run_cached(&conn, "BEGIN DEFERRED").map_err(be)?;
        Ok(PooledReader::Pool { conn: Some(conn), store: self })
    }
}

/// A consistent copy of the SQLite database at `path` (the store's, or the audit store's) into
/// the new file `out`, made beside a server that is writing it (`tessera backup`): `VACUUM INTO`
/// runs in one read transaction, so the copy holds exactly the transactions committed when it
/// began (WAL mode lets the server go on committing meanwhile). The copy is compacted and is an ordinary SQLite database.
pub fn snapshot_into(path: &Path, out: &Path) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(be)?;
    configure(&conn)?;
    let target = out.to_str().ok_or_else(|| StoreError::Backend("backup path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(be)?;
    Ok(())
}

/// Run a statement without parameters or rows (`BEGIN`, `COMMIT`, `ROLLBACK`) from the
/// connection's statement cache: every request opens a read transaction or two, and parsing
/// the statement each time cost more than running it.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(be)?;
    let have = usize::try_from(version).unwrap_or(0);
    if have > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "data dir schema version {have} is newer than this build supports ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(have) {
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {sql} PRAGMA user_version = {}; COMMIT;", i + 1)).map_err(be)?;
    }
    Ok(())
}

enum PooledReader<'a> {
    Writer(MutexGuard<'a, Connection>),
    Pool { conn: Option<Connection>, store: &'a SqliteStore },
}

impl PooledReader<'_> {
    fn conn(&self) -> &Connection {
        match self {
            PooledReader::Writer(g) => g,
            PooledReader::Pool { conn, .. } => conn.as_ref().expect("present until drop"),
        }
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let PooledReader::Pool { conn, store } = self {
            if let Some(c) = conn.take() {
                if run_cached(&c, "ROLLBACK").is_err() {
                    return;
                }
                let mut pool = lock(&store.readers);
                if pool.len() < READ_POOL {
                    pool.push(c);
                }
            }
        }
    }
}

fn get(conn: &Connection, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT v FROM kv WHERE t = ?1 AND k = ?2")
        .and_then(|mut s| s.query_row(params![table, key], |r| r.get(0)).optional())
        .map_err(be)
}

fn scan(
    conn: &Connection,
    table: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Row>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let start = match after {
        Some(a) if a >= prefix => a,
        _ => "",
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT k, v FROM kv WHERE t = ?1 AND k >= ?2 AND k < ?5 AND k > ?3 AND substr(k, 1, length(?2)) = ?2 ORDER BY k LIMIT ?4",
        )
        .map_err(be)?;
    let rows = stmt
        .query_map(params![table, prefix, start, limit, upper_bound(prefix)], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(be)?;
    rows.collect::<Result<Vec<Row>, _>>().map_err(be)
}

/// A key that sorts after every key starting with `prefix` (keys never contain U+10FFFF).
fn upper_bound(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 4);
    s.push_str(prefix);
    s.push(char::MAX);
    s
}

fn count(conn: &Connection, table: &str, prefix: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT count(*) FROM kv WHERE t = ?1 AND k >= ?2 AND k < ?3 AND substr(k, 1, length(?2)) = ?2")
        .and_then(|mut s| s.query_row(params![table, prefix, upper_bound(prefix)], |r| r.get::<_, i64>(0)))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(be)
}

impl ReadTxn for PooledReader<'_> {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get(self.conn(), table, key)
    }
    fn scan(&self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError> {
        scan(self.conn(), table, prefix, after, limit)
    }
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        count(self.conn(), table, prefix)
    }
}

struct SqliteWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    generation: &'a AtomicU64,
    done: bool,
    /// When the transaction began waiting for the writer (its latency's start).
    started: std::time::Instant,
}

impl ReadTxn for SqliteWrite<'_> {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get(&self.conn, table, key)
    }
    fn scan(&self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError> {
        scan(&self.conn, table, prefix, after, limit)
    }
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        count(&self.conn, table, prefix)
    }
}

impl WriteTxn for SqliteWrite<'_> {
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO kv (t, k, v) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![table, key, value]))
            .map(|_| ())
            .map_err(be)
    }
    fn delete(&mut self, table: &str, key: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached("DELETE FROM kv WHERE t = ?1 AND k = ?2")
            .and_then(|mut s| s.execute(params![table, key]))
            .map(|n| n > 0)
            .map_err(be)
    }
    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        run_cached(&self.conn, "COMMIT").map_err(be)?;
        self.done = true;
        self.generation.fetch_add(1, Ordering::Release);
        crate::record_commit(self.started, "sqlite");
        Ok(())
    }
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = run_cached(&self.conn, "ROLLBACK");
        }
    }
}

impl Store for SqliteStore {
    fn read(&self) -> Result<Box<dyn ReadTxn + '_>, StoreError> {
        Ok(Box::new(self.reader()?))
    }

    fn write(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        let started = std::time::Instant::now();
        let conn = lock(&self.writer);
        run_cached(&conn, "BEGIN IMMEDIATE").map_err(be)?;
        Ok(Box::new(SqliteWrite { conn, generation: &self.generation, done: false, started }))
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
    fn reads_in_process(&self) -> bool {
        true
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transact;

    #[test]
    fn commit_rollback_scan() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        let g0 = s.generation();
        transact(&s, |t| -> Result<(), StoreError> {
            for k in ["a/1", "a/2", "a/3", "b/1"] {
                t.put("x", k, k.as_bytes())?;
            }
            Ok(())
        })
        .unwrap();
        let r: Result<(), StoreError> = transact(&s, |t| {
            t.put("x", "a/4", b"no")?;
            Err(StoreError::Backend("abort".into()))
        });
        assert!(r.is_err());
        assert_eq!(s.generation(), g0 + 1, "a commit bumps the generation, a rollback does not");
        let rd = s.read().unwrap();
        assert_eq!(rd.get("x", "a/4").unwrap(), None);
        let rows = rd.scan("x", "a/", Some("a/1"), 10).unwrap();
        let keys: Vec<_> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(keys, ["a/2", "a/3"]);
        assert_eq!(rd.count("x", "a/").unwrap(), 3);
        drop(rd);
        drop(s);
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        assert_eq!(s.read().unwrap().get("x", "b/1").unwrap().as_deref(), Some(&b"b/1"[..]));
    }

    #[test]
    fn prefix_with_like_metacharacters_is_literal() {
        let s = SqliteStore::open_in_memory().unwrap();
        transact(&s, |t| -> Result<(), StoreError> {
            t.put("x", "a%b", b"1")?;
            t.put("x", "azb", b"2")?;
            t.put("x", "a_c", b"3")
        })
        .unwrap();
        let rd = s.read().unwrap();
        assert_eq!(rd.scan("x", "a%", None, 10).unwrap().len(), 1);
        assert_eq!(rd.scan("x", "a_", None, 10).unwrap().len(), 1);
    }
}
