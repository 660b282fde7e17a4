//! S3 object bytes in PostgreSQL, beside the store's tables, so that every server sharing the
//! database serves every object.
//!
//! A blob is the rows `tessera_blob_chunks (blob, n, data)`: chunk `n` holds bytes
//! `n * CHUNK ..` of the blob ([`CHUNK`] = 1 MiB; the last chunk is shorter, and an empty blob is
//! one empty chunk, so that every blob has a chunk 0). The column is stored `EXTERNAL`
//! (out of line, uncompressed), so `substring()` of a chunk reads only the pages it needs.
//! Chunked rows were measured against large objects (`docs/S3.md`, "Object bytes on PostgreSQL").
//!
//! - A [`BlobWriter`] inserts every chunk in one transaction on a connection of its own and
//!   commits at [`BlobWriter::finish`]: a write that fails, is dropped, or whose server dies
//!   leaves no row.
//! - A [`BlobSnapshot`] reads in a `REPEATABLE READ` snapshot: a blob it found stays readable
//!   through it even when a concurrent overwrite or delete removes its rows (PostgreSQL keeps
//!   row versions a snapshot still sees; VACUUM frees them after the snapshot ends).
//! - [`PgBlobs::remove`] deletes rows at once, in their own transaction.
//!
//! Every call blocks on the PostgreSQL client; on a tokio worker thread it first steps off it
//! (`block_in_place`, as the store does).

use std::sync::{Arc, Condvar, Mutex};

use ::postgres::{Client, Config};

use crate::postgres::{be, blocking, connect, lock, take_connection, Pool as Connections};
use crate::StoreError;

/// Bytes per chunk row.
pub const CHUNK: usize = 1024 * 1024;
/// Most connections the blob store of one server opens at once (writes and reads in progress).
const MAX_CONNECTIONS: usize = 32;
/// Idle connections kept open.
const IDLE: usize = 4;

const INSERT: &str = "INSERT INTO tessera_blob_chunks (blob, n, data) VALUES ($1, $2, $3)";
const READ: &str = "SELECT substring(data FROM $3 FOR $4) FROM tessera_blob_chunks WHERE blob = $1 AND n = $2";
const PRESENT: &str = "SELECT count(*) FROM tessera_blob_chunks WHERE blob = ANY($1) AND n = 0";
const REMOVE: &str = "DELETE FROM tessera_blob_chunks WHERE blob = ANY($1)";

struct Pool {
    config: Config,
    schema: Option<String>,
    idle: Mutex<Connections<Client>>,
    freed: Condvar,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A client owns a small runtime, which must not be dropped on an async runtime's thread:
        // the idle connections close on a thread of their own.
        let idle = std::mem::take(&mut lock(&self.idle).idle);
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// The blob store of one PostgreSQL database (cheap to clone; clones share connections).
#[derive(Clone)]
pub struct PgBlobs {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PgBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBlobs").field("schema", &self.pool.schema).finish_non_exhaustive()
    }
}

/// A connection leased from the pool; back to it on drop, unless broken.
struct Leased {
    client: Option<Client>,
    pool: Arc<Pool>,
    /// Whether the connection may serve the next lease (it is outside any transaction).
    clean: bool,
}

impl Leased {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.client.as_mut().ok_or_else(|| StoreError::Backend("the blob connection is gone".into()))
    }

    /// Run `sql` ending the transaction; the connection stays usable only if it worked.
    fn end(&mut self, sql: &str) -> Result<(), StoreError> {
        let r = self.client().and_then(|c| c.batch_execute(sql).map_err(be));
        self.clean = r.is_ok();
        r
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        let client = self.client.take();
        blocking(|| {
            let mut idle = lock(&self.pool.idle);
            match client {
                Some(c) if self.clean && !c.is_closed() && idle.idle.len() < IDLE => idle.idle.push(c),
                other => {
                    idle.open = idle.open.saturating_sub(1);
                    drop(idle);
                    // Closing a client stops its runtime: done here, off the async worker.
                    drop(other);
                }
            }
        });
        self.pool.freed.notify_one();
    }
}

impl PgBlobs {
    /// The blob store reached with `config` (tables in `schema`, or the search path's).
    pub fn new(config: Config, schema: Option<String>) -> PgBlobs {
        PgBlobs { pool: Arc::new(Pool { config, schema, idle: Mutex::new(Connections::new()), freed: Condvar::new() }) }
    }

    fn lease(&self) -> Result<Leased, StoreError> {
        let pool = &self.pool;
        let client = take_connection(&pool.idle, &pool.freed, MAX_CONNECTIONS, "blob", || {
            connect(&pool.config, pool.schema.as_deref())
        })?;
        Ok(Leased { client: Some(client), pool: pool.clone(), clean: false })
    }

    /// A connection with `begin` run on it. A pooled connection found closed (the server
    /// restarted) is dropped and the next one tried.
    fn begin(&self, begin: &str) -> Result<Leased, StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut leased = self.lease()?;
            match leased.client()?.batch_execute(begin) {
                Ok(()) => return Ok(leased),
                Err(e) => {
                    let closed = leased.client.as_ref().is_none_or(Client::is_closed);
                    if !closed || attempts > IDLE {
                        return Err(be(e));
                    }
                }
            }
        }
    }

    /// Start writing blob `blob` (a new id: the rows must not exist).
    pub fn writer(&self, blob: &str) -> Result<BlobWriter, StoreError> {
        let conn = blocking(|| self.begin("BEGIN ISOLATION LEVEL READ COMMITTED"))?;
        Ok(BlobWriter { conn: Mutex::new(conn), blob: blob.to_string(), next: 0, buf: Vec::new(), written: 0 })
    }

    /// A read snapshot, taken at its first statement.
    pub fn snapshot(&self) -> Result<BlobSnapshot, StoreError> {
        let conn = blocking(|| self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))?;
        Ok(BlobSnapshot { conn: Mutex::new(conn) })
    }

    /// Delete blobs' rows (after the records naming them are gone). Returns the rows deleted.
    pub fn remove(&self, blobs: &[String]) -> Result<u64, StoreError> {
        if blobs.is_empty() {
            return Ok(0);
        }
        blocking(|| {
            let mut conn = self.begin("BEGIN ISOLATION LEVEL READ COMMITTED")?;
            let n = conn.client()?.execute(REMOVE, &[&blobs]).map_err(be)?;
            conn.end("COMMIT")?;
            Ok(n)
        })
    }

    /// Whether blob `blob` exists (its chunk 0 is committed).
    pub fn exists(&self, blob: &str) -> Result<bool, StoreError> {
        self.snapshot()?.all_present(&[blob])
    }
}

/// A blob being written; dropped before [`BlobWriter::finish`], it leaves nothing.
pub struct BlobWriter {
    /// In a mutex only so that a writer is `Sync` (the client is not); never contended.
    conn: Mutex<Leased>,
    blob: String,
    next: i32,
    buf: Vec<u8>,
    written: u64,
}

impl BlobWriter {
    /// Append bytes (stored by full chunks as they fill).
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), StoreError> {
        while !data.is_empty() {
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let (blob, n) = (self.blob.as_str(), self.next);
        let buf = std::mem::take(&mut self.buf);
        let conn = leased(&mut self.conn);
        blocking(|| conn.client()?.execute(INSERT, &[&blob, &n, &buf]).map_err(be))?;
        self.written += buf.len() as u64;
        self.buf = buf;
        self.buf.clear();
        self.next = n.checked_add(1).ok_or_else(|| StoreError::Backend("blob has too many chunks".into()))?;
        Ok(())
    }

    /// Bytes appended so far.
    pub fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Store the last chunk and commit: the blob exists from now on.
    pub fn finish(mut self) -> Result<(), StoreError> {
        if !self.buf.is_empty() || self.next == 0 {
            self.flush()?;
        }
        blocking(|| leased(&mut self.conn).end("COMMIT"))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Unfinished: roll back (a connection that cannot is closed, which rolls back too).
        let conn = leased(&mut self.conn);
        if !conn.clean {
            let _ = blocking(|| conn.end("ROLLBACK"));
        }
    }
}

/// Reads of blobs in one snapshot (ends, and frees what it kept visible, on drop).
pub struct BlobSnapshot {
    /// In a mutex only so that a snapshot is `Sync` (the client is not); never contended.
    conn: Mutex<Leased>,
}

impl BlobSnapshot {
    /// Whether every blob of `blobs` exists in this snapshot.
    pub fn all_present(&mut self, blobs: &[&str]) -> Result<bool, StoreError> {
        let mut wanted: Vec<&str> = blobs.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let conn = leased(&mut self.conn);
        let n: i64 = blocking(|| conn.client()?.query_one(PRESENT, &[&wanted]).and_then(|r| r.try_get(0)).map_err(be))?;
        Ok(usize::try_from(n).is_ok_and(|n| n == wanted.len()))
    }

    /// `len` bytes of blob `blob` from `offset` (one query per chunk touched). A missing chunk or
    /// a short blob is an error.
    pub fn read(&mut self, blob: &str, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(len);
        let mut at = offset;
        let conn = leased(&mut self.conn);
        blocking(|| {
            while out.len() < len {
                let chunk = at / CHUNK as u64;
                let within = at % CHUNK as u64;
                let want = (len - out.len()).min(CHUNK - within as usize);
                let n = i32::try_from(chunk).map_err(|_| StoreError::Backend("blob offset out of range".into()))?;
                // substring() counts from 1.
                let (from, count) = (within as i32 + 1, want as i32);
                let row = conn.client()?.query_opt(READ, &[&blob, &n, &from, &count]).map_err(be)?;
                let bytes: Vec<u8> = match row {
                    Some(r) => r.try_get(0).map_err(be)?,
                    None => return Err(missing(blob, chunk)),
                };
                if bytes.len() != want {
                    return Err(missing(blob, chunk));
                }
                out.extend_from_slice(&bytes);
                at += want as u64;
            }
            Ok(())
        })?;
        Ok(out)
    }
}

fn missing(blob: &str, chunk: u64) -> StoreError {
    StoreError::Corrupt {
        table: "tessera_blob_chunks".into(),
        key: format!("{blob}/{chunk}"),
        reason: "the blob is shorter than its record".into(),
    }
}

impl Drop for BlobSnapshot {
    fn drop(&mut self) {
        let conn = leased(&mut self.conn);
        let _ = blocking(|| conn.end("ROLLBACK"));
    }
}

fn leased(m: &mut Mutex<Leased>) -> &mut Leased {
    m.get_mut().unwrap_or_else(|p| p.into_inner())
}
