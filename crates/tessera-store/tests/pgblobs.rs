//! S3 object bytes in PostgreSQL ([`tessera_store::pgblobs`]): writes are all or nothing,
//! ranges read exactly, and a snapshot keeps reading a blob removed after it began.
//!
//! These run when `TESSERA_TEST_POSTGRES_URL` names a database (each test in a fresh schema of
//! its own, dropped afterwards); without it they say so and pass. `layouts_measured` (ignored:
//! `cargo test -p tessera-store --test pgblobs -- --ignored --nocapture`) measures chunked
//! `bytea` rows against large objects, the figures in docs/S3.md.

use std::io::Write as _;
use std::time::Instant;

use tessera_store::pgblobs::{PgBlobs, CHUNK};
use tessera_store::postgres::PostgresStore;

const PG_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

/// A fresh schema holding a migrated store, dropped on drop.
struct Schema {
    base: String,
    name: String,
    store: Option<PostgresStore>,
}

impl Schema {
    fn fresh(tag: &str) -> Option<Schema> {
        let Ok(base) = std::env::var(PG_ENV) else {
            let _ = writeln!(std::io::stderr(), "\nSKIPPED: PostgreSQL blob tests: {PG_ENV} is not set");
            return None;
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("tessera_blobtest_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000);
        let sep = if base.contains('?') { '&' } else { '?' };
        let store = PostgresStore::open(&format!("{base}{sep}schema={name}")).expect("the store opens");
        Some(Schema { base, name, store: Some(store) })
    }

    fn blobs(&self) -> PgBlobs {
        self.store.as_ref().expect("open").blobs()
    }

    fn admin(&self) -> postgres::Client {
        let mut c = postgres::Client::connect(&self.base, postgres::NoTls).expect("admin connection");
        c.batch_execute(&format!("SET search_path TO \"{}\"", self.name)).expect("search_path");
        c
    }

    fn rows(&self, blob: &str) -> i64 {
        let (admin, blob) = (self.admin(), blob.to_string());
        // The client runs its own runtime: used and dropped on a plain thread.
        std::thread::spawn(move || {
            let mut admin = admin;
            admin
                .query_one("SELECT count(*) FROM tessera_blob_chunks WHERE blob = $1", &[&blob])
                .and_then(|r| r.try_get(0))
                .expect("count")
        })
        .join()
        .expect("count thread")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        drop(self.store.take());
        let (base, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"));
            }
        })
        .join();
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8).collect()
}

#[test]
fn writes_are_all_or_nothing_and_ranges_read_exactly() {
    let Some(schema) = Schema::fresh("rw") else { return };
    let blobs = schema.blobs();
    let data = pattern(2 * CHUNK + 12_345, 7);

    let mut w = blobs.writer("b1").unwrap();
    w.write(&data[..CHUNK + 10]).unwrap();
    w.write(&data[CHUNK + 10..]).unwrap();
    assert_eq!(w.len(), data.len() as u64);
    w.finish().unwrap();
    assert_eq!(schema.rows("b1"), 3, "two full chunks and the rest");

    let mut snap = blobs.snapshot().unwrap();
    assert!(snap.all_present(&["b1"]).unwrap());
    assert!(!snap.all_present(&["b1", "nope"]).unwrap());
    assert_eq!(snap.read("b1", 0, data.len()).unwrap(), data);
    for (off, len) in [(0, 1), (CHUNK - 3, 7), (CHUNK, CHUNK), (2 * CHUNK + 12_000, 345), (5, 2 * CHUNK)] {
        assert_eq!(snap.read("b1", off as u64, len).unwrap(), &data[off..off + len], "{off}+{len}");
    }
    assert!(snap.read("b1", data.len() as u64 - 1, 2).is_err(), "past the end");
    drop(snap);

    // Dropped before finish: nothing stays, even chunks already sent.
    let mut w = blobs.writer("b2").unwrap();
    w.write(&data).unwrap();
    drop(w);
    assert_eq!(schema.rows("b2"), 0);
    assert!(!blobs.exists("b2").unwrap());

    // An empty blob exists (one empty chunk).
    blobs.writer("empty").unwrap().finish().unwrap();
    assert!(blobs.exists("empty").unwrap());
    assert_eq!(blobs.snapshot().unwrap().read("empty", 0, 0).unwrap(), Vec::<u8>::new());
}

#[test]
fn a_snapshot_keeps_reading_a_removed_blob() {
    let Some(schema) = Schema::fresh("snap") else { return };
    let blobs = schema.blobs();
    let data = pattern(CHUNK + 100, 3);
    let mut w = blobs.writer("old").unwrap();
    w.write(&data).unwrap();
    w.finish().unwrap();

    let mut reader = blobs.snapshot().unwrap();
    assert!(reader.all_present(&["old"]).unwrap(), "the snapshot starts here");
    assert_eq!(blobs.remove(&["old".to_string()]).unwrap(), 2);
    assert_eq!(schema.rows("old"), 0, "the rows are deleted at once");
    assert_eq!(reader.read("old", 0, data.len()).unwrap(), data, "the reader's snapshot still sees them");
    drop(reader);
    let mut later = blobs.snapshot().unwrap();
    assert!(!later.all_present(&["old"]).unwrap(), "a later snapshot does not");
}

/// Chunked `bytea` rows against large objects: write, whole read, and 64 KiB ranged reads of a
/// 64 MiB blob, each layout written in 1 MiB pieces through the same client.
#[test]
#[ignore]
fn layouts_measured() {
    let Some(schema) = Schema::fresh("bench") else { return };
    let blobs = schema.blobs();
    const SIZE: usize = 64 * CHUNK;
    let data = pattern(SIZE, 1);
    let mb = SIZE as f64 / (1024.0 * 1024.0);

    let t = Instant::now();
    let mut w = blobs.writer("bench").unwrap();
    w.write(&data).unwrap();
    w.finish().unwrap();
    let bytea_write = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut snap = blobs.snapshot().unwrap();
    let mut at = 0;
    while at < SIZE {
        let n = (SIZE - at).min(CHUNK);
        assert_eq!(snap.read("bench", at as u64, n).unwrap().len(), n);
        at += n;
    }
    let bytea_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..200u64 {
        let off = (i * 7_919 * 4096) % (SIZE as u64 - 65_536);
        assert_eq!(snap.read("bench", off, 65_536).unwrap().len(), 65_536);
    }
    let bytea_range = t.elapsed().as_secs_f64() / 200.0;
    drop(snap);

    let admin = schema.admin();
    let (lo_write, lo_read, lo_range) = std::thread::spawn(move || {
        let mut c = admin;
        let t = Instant::now();
        let mut txn = c.transaction().unwrap();
        let oid: u32 = txn.query_one("SELECT lo_create(0)", &[]).unwrap().get(0);
        for (i, piece) in data.chunks(CHUNK).enumerate() {
            let off = (i * CHUNK) as i64;
            txn.execute("SELECT lo_put($1, $2, $3)", &[&oid, &off, &piece]).unwrap();
        }
        txn.commit().unwrap();
        let lo_write = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut txn = c.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start().unwrap();
        for i in 0..(SIZE / CHUNK) {
            let off = (i * CHUNK) as i64;
            let v: Vec<u8> = txn.query_one("SELECT lo_get($1, $2, $3)", &[&oid, &off, &(CHUNK as i32)]).unwrap().get(0);
            assert_eq!(v.len(), CHUNK);
        }
        let lo_read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for i in 0..200i64 {
            let off = (i * 7_919 * 4096) % (SIZE as i64 - 65_536);
            let v: Vec<u8> = txn.query_one("SELECT lo_get($1, $2, 65536)", &[&oid, &off]).unwrap().get(0);
            assert_eq!(v.len(), 65_536);
        }
        let lo_range = t.elapsed().as_secs_f64() / 200.0;
        txn.commit().unwrap();
        c.execute("SELECT lo_unlink($1)", &[&oid]).unwrap();
        (lo_write, lo_read, lo_range)
    })
    .join()
    .unwrap();
    println!("layout        write MiB/s  read MiB/s  64KiB range ms");
    println!("bytea chunks  {:>11.0}  {:>10.0}  {:>14.2}", mb / bytea_write, mb / bytea_read, bytea_range * 1e3);
    println!("large object  {:>11.0}  {:>10.0}  {:>14.2}", mb / lo_write, mb / lo_read, lo_range * 1e3);
}
