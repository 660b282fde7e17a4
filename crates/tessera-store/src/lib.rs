//! Tessera's storage layer.
//!
//! Services see a transactional, ordered key-value store ([`Store`]): named tables of
//! string keys and byte values. Every mutating request runs in one [`WriteTxn`], so an
//! acknowledged write is durable and a failed request leaves nothing behind.
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PostgresStore`] (feature
//! `postgres`) keeps the same tables in a PostgreSQL database that several servers may share.
//! [`secrets::SecretBox`] seals secrets at rest.

#[cfg(feature = "postgres")]
pub mod pgblobs;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod secrets;
pub mod sqlite;

use thiserror::Error;

/// A storage failure (not a caller's mistake).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// Stored data could not be decoded.
    #[error("corrupt record in {table}/{key}: {reason}")]
    Corrupt {
        /// Table name.
        table: String,
        /// Key.
        key: String,
        /// Why it did not decode.
        reason: String,
    },
    /// A sealed secret failed to open (wrong key-encryption key or tampering).
    #[error("sealed secret failed to open")]
    Unseal,
}

/// One `(key, value)` row of a scan.
pub type Row = (String, Vec<u8>);

/// Reads, inside a transaction or a one-off snapshot.
pub trait ReadTxn {
    /// The value under `key` in `table`.
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Rows of `table` whose key starts with `prefix` and sorts strictly after `after`
    /// (when given), in key order, at most `limit`.
    fn scan(&self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Row>, StoreError>;
    /// How many keys of `table` start with `prefix`.
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError>;
}

/// A write transaction. Dropped without [`WriteTxn::commit`], it rolls back.
pub trait WriteTxn: ReadTxn {
    /// Insert or replace.
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Delete; returns whether the key existed.
    fn delete(&mut self, table: &str, key: &str) -> Result<bool, StoreError>;
    /// Make every change durable (fsync) and visible, atomically.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A storage backend.
pub trait Store: Send + Sync + 'static {
    /// A consistent read snapshot.
    fn read(&self) -> Result<Box<dyn ReadTxn + '_>, StoreError>;
    /// Begin the (single) write transaction; others wait.
    fn write(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError>;
    /// A short name for logs (`sqlite`, `postgres`).
    fn backend_name(&self) -> &'static str;
    /// Whether reads stay in this process (an embedded file) and never wait on a network or on
    /// an async runtime of the backend's own, so that an async thread may run them.
    fn reads_in_process(&self) -> bool {
        false
    }
    /// A number that changes whenever a write transaction commits (through this handle or, for
    /// a shared backend, any other). Caches of decoded records are exact when keyed on it.
    fn generation(&self) -> u64;
    /// This store as the PostgreSQL backend, when it is one (S3 then keeps object bytes in the
    /// same database, [`postgres::PostgresStore::blobs`], so that every server sharing it serves
    /// every object).
    #[cfg(feature = "postgres")]
    fn as_postgres(&self) -> Option<&postgres::PostgresStore> {
        None
    }
}

/// Run `f` in a write transaction: commit when it returns `Ok`, roll back otherwise.
/// Record a committed write transaction's latency, from the wait for the writer to the commit
/// (`tessera_store_transaction_seconds`).
pub(crate) fn record_commit(started: std::time::Instant, backend: &'static str) {
    metrics::histogram!("tessera_store_transaction_seconds", "backend" => backend)
        .record(started.elapsed().as_secs_f64());
}

pub fn transact<S, R, E>(store: &S, f: impl FnOnce(&mut dyn WriteTxn) -> Result<R, E>) -> Result<R, E>
where
    S: Store + ?Sized,
    E: From<StoreError>,
{
    let mut txn = store.write()?;
    let out = f(txn.as_mut())?;
    txn.commit()?;
    Ok(out)
}
