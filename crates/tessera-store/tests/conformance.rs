//! One suite, every backend: the same checks run against [`SqliteStore`] and, when a server is
//! reachable, [`PostgresStore`], so the two keep identical semantics.
//!
//! PostgreSQL tests run when `TESSERA_TEST_POSTGRES_URL` names a database (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a fresh schema of its own,
//! dropped afterwards. Without the variable they say they were skipped (on the terminal, past
//! the test harness's capture) and check SQLite only; with it, an unreachable server fails them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tessera_store::postgres::PostgresStore;
use tessera_store::sqlite::SqliteStore;
use tessera_store::{transact, Store, StoreError, WriteTxn};

const PG_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

/// A place a store lives: opened (and reopened) as often as a test likes.
trait Backend {
    fn name(&self) -> &'static str;
    fn open(&self) -> Box<dyn Store>;
}

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.dir.path().join("tessera.db")).unwrap())
    }
}

/// A fresh schema in the test database, dropped when the test ends.
struct Postgres {
    base: String,
    schema: String,
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);
static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();

impl Postgres {
    /// A new schema, or `None` (said on the terminal) when no test database is configured.
    fn fresh() -> Option<Postgres> {
        let Ok(base) = std::env::var(PG_ENV) else {
            SKIP_NOTICE.call_once(|| {
                // Written past libtest's capture of print!/eprint!, so it shows in every run.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: PostgreSQL conformance tests: {PG_ENV} is not set (SQLite checked alone)"
                );
            });
            return None;
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let schema = format!(
            "tessera_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            SCHEMAS.fetch_add(1, Ordering::Relaxed)
        );
        Some(Postgres { base, schema })
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        // The application name lets a test find this schema's sessions in pg_stat_activity.
        format!("{}{sep}schema={}&application_name={}", self.base, self.schema, self.schema)
    }

    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"))
    }

    fn open_pg(&self) -> PostgresStore {
        PostgresStore::open(&self.url()).unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unusable: {e}"))
    }
}

impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn open(&self) -> Box<dyn Store> {
        Box::new(self.open_pg())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropped on a thread of its own: a client must not be dropped during unwinding on a
        // thread that may hold a runtime, and a failing test must not hide behind this one.
        let base = self.base.clone();
        let schema = self.schema.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        })
        .join();
    }
}

fn backends() -> Vec<Box<dyn Backend>> {
    let mut v: Vec<Box<dyn Backend>> = vec![Box::new(Sqlite { dir: tempfile::tempdir().unwrap() })];
    if let Some(pg) = Postgres::fresh() {
        v.push(Box::new(pg));
    }
    v
}

fn put_all(s: &dyn Store, table: &str, keys: &[&str]) {
    transact(s, |t| -> Result<(), StoreError> {
        for k in keys {
            t.put(table, k, k.as_bytes())?;
        }
        Ok(())
    })
    .unwrap();
}

fn keys_of(rows: &[(String, Vec<u8>)]) -> Vec<&str> {
    rows.iter().map(|r| r.0.as_str()).collect()
}

#[test]
fn put_get_overwrite_delete() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        transact(s, |t| -> Result<(), StoreError> {
            t.put("users", "acct/alice", b"\x00\x01binary\xff")?;
            t.put("users", "acct/bob", b"")?;
            t.put("roles", "acct/alice", b"other table")?;
            t.put("blobs", "big", &big)?;
            t.put("users", "acct/alice", b"second")?;
            Ok(())
        })
        .unwrap();
        let r = s.read().unwrap();
        assert_eq!(r.get("users", "acct/alice").unwrap().as_deref(), Some(&b"second"[..]), "{n}");
        assert_eq!(r.get("users", "acct/bob").unwrap().as_deref(), Some(&b""[..]), "{n}: empty value");
        assert_eq!(r.get("roles", "acct/alice").unwrap().as_deref(), Some(&b"other table"[..]), "{n}");
        assert_eq!(r.get("blobs", "big").unwrap().as_deref(), Some(&big[..]), "{n}: 1 MB value");
        assert_eq!(r.get("users", "acct/carol").unwrap(), None, "{n}");
        assert_eq!(r.get("nosuchtable", "acct/alice").unwrap(), None, "{n}");
        drop(r);
        let (gone, absent) = transact(s, |t| -> Result<(bool, bool), StoreError> {
            Ok((t.delete("users", "acct/alice")?, t.delete("users", "acct/nobody")?))
        })
        .unwrap();
        assert!(gone && !absent, "{n}: delete reports whether the key existed");
        let r = s.read().unwrap();
        assert_eq!(r.get("users", "acct/alice").unwrap(), None, "{n}");
        assert_eq!(r.get("roles", "acct/alice").unwrap().as_deref(), Some(&b"other table"[..]), "{n}: tables apart");
    }
}

#[test]
fn scan_is_bytewise_ordered_with_prefix_after_and_limit() {
    // Keys chosen so that collations disagree: case, accents, punctuation, astral characters.
    let keys = [
        "a",
        "a/",
        "a/B",
        "a/a",
        "a/b",
        "a/b/c",
        "a/Z",
        "a/_",
        "a/%",
        "a/\\",
        "a/é",
        "a/z",
        "a/\u{FFFF}",
        "a/\u{10000}",
        "a/😀",
        "a0",
        "aa",
        "b",
        "B",
        "é",
        "",
        "\u{1}",
    ];
    let mut keys: Vec<&str> = keys.into_iter().filter(|k| !k.is_empty()).collect();
    keys.sort();
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        put_all(s, "t", &keys);
        put_all(s, "u", &["a/0", "a/1"]);
        let model: BTreeMap<&str, ()> = keys.iter().map(|k| (*k, ())).collect();
        let r = s.read().unwrap();
        let prefixes = ["", "a", "a/", "a/b", "a/_", "a/%", "a/\\", "a/é", "a/\u{FFFF}", "é", "B", "zz"];
        let afters = [
            None,
            Some(""),
            Some("a"),
            Some("a/"),
            Some("a/a"),
            Some("a/b"),
            Some("a/zzz"),
            Some("Z"),
            Some("\u{10FFFF}"),
        ];
        for p in prefixes {
            let expected_count = model.keys().filter(|k| k.starts_with(p)).count() as u64;
            assert_eq!(r.count("t", p).unwrap(), expected_count, "{n}: count {p:?}");
            for a in afters {
                for limit in [0, 1, 3, 100] {
                    let expected: Vec<&str> = model
                        .keys()
                        .filter(|k| k.starts_with(p) && a.is_none_or(|a| **k > a))
                        .take(limit)
                        .copied()
                        .collect();
                    let got = r.scan("t", p, a, limit).unwrap();
                    assert_eq!(keys_of(&got), expected, "{n}: scan prefix {p:?} after {a:?} limit {limit}");
                    for (k, v) in &got {
                        assert_eq!(v, k.as_bytes(), "{n}: the value scanned with {k:?}");
                    }
                }
            }
        }
        assert_eq!(keys_of(&r.scan("u", "a/", None, 10).unwrap()), ["a/0", "a/1"], "{n}: other table");
    }
}

#[test]
fn like_metacharacters_in_prefixes_are_literal() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        put_all(s, "x", &["a%b", "azb", "a_c", "abc", "a\\d", "a\\\\e", "a[f", "a*g"]);
        let r = s.read().unwrap();
        for (prefix, expected) in [
            ("a%", vec!["a%b"]),
            ("a_", vec!["a_c"]),
            ("a\\", vec!["a\\\\e", "a\\d"]),
            ("a\\\\", vec!["a\\\\e"]),
            ("a[", vec!["a[f"]),
            ("a*", vec!["a*g"]),
            ("%", vec![]),
            ("_", vec![]),
        ] {
            assert_eq!(keys_of(&r.scan("x", prefix, None, 100).unwrap()), expected, "{n}: scan {prefix:?}");
            assert_eq!(r.count("x", prefix).unwrap(), expected.len() as u64, "{n}: count {prefix:?}");
        }
    }
}

#[test]
fn a_dropped_or_failed_write_rolls_back_and_keeps_the_generation() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        put_all(s, "x", &["keep"]);
        let g0 = s.generation();
        {
            let mut t = s.write().unwrap();
            t.put("x", "dropped", b"1").unwrap();
            t.delete("x", "keep").unwrap();
            assert_eq!(t.get("x", "dropped").unwrap().as_deref(), Some(&b"1"[..]), "{n}: own write visible");
            assert_eq!(t.get("x", "keep").unwrap(), None, "{n}: own delete visible");
            assert_eq!(t.count("x", "").unwrap(), 1, "{n}: own writes counted");
            assert_eq!(keys_of(&t.scan("x", "", None, 10).unwrap()), ["dropped"], "{n}: own writes scanned");
        }
        let failed: Result<(), StoreError> = transact(s, |t| {
            t.put("x", "failed", b"1")?;
            Err(StoreError::Backend("abort".into()))
        });
        assert!(failed.is_err(), "{n}");
        let r = s.read().unwrap();
        assert_eq!(r.get("x", "dropped").unwrap(), None, "{n}: dropped write rolled back");
        assert_eq!(r.get("x", "failed").unwrap(), None, "{n}: failed write rolled back");
        assert_eq!(r.get("x", "keep").unwrap().as_deref(), Some(&b"keep"[..]), "{n}: dropped delete rolled back");
        drop(r);
        assert_eq!(s.generation(), g0, "{n}: a rollback does not change the generation");
        put_all(s, "x", &["next"]);
        let g1 = s.generation();
        assert_ne!(g1, g0, "{n}: a commit changes the generation");
        assert_eq!(s.generation(), g1, "{n}: the generation is stable without commits");
        let empty = s.write().unwrap();
        empty.commit().unwrap();
        assert_ne!(s.generation(), g1, "{n}: even an empty commit changes the generation");
    }
}

#[test]
fn a_read_is_a_snapshot() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        put_all(s, "x", &["a/1", "a/2"]);
        let r = s.read().unwrap();
        assert_eq!(r.count("x", "a/").unwrap(), 2, "{n}");
        transact(s, |t| -> Result<(), StoreError> {
            t.put("x", "a/3", b"new")?;
            t.put("x", "a/4", b"new")?;
            t.put("x", "a/1", b"changed")?;
            t.delete("x", "a/2").map(|_| ())
        })
        .unwrap();
        assert_eq!(r.count("x", "a/").unwrap(), 2, "{n}: the snapshot does not see a later commit");
        assert_eq!(r.get("x", "a/1").unwrap().as_deref(), Some(&b"a/1"[..]), "{n}");
        assert_eq!(keys_of(&r.scan("x", "a/", None, 10).unwrap()), ["a/1", "a/2"], "{n}");
        drop(r);
        let r = s.read().unwrap();
        assert_eq!(keys_of(&r.scan("x", "a/", None, 10).unwrap()), ["a/1", "a/3", "a/4"], "{n}: a new read sees it");
    }
}

/// `threads` threads each add 1 to a counter `rounds` times with read-modify-write transactions
/// (on `stores[i % len]`): any lost update shows in the total.
fn hammer(stores: &[&dyn Store], threads: usize, rounds: usize, n: &str) {
    std::thread::scope(|scope| {
        for i in 0..threads {
            let s = stores[i % stores.len()];
            scope.spawn(move || {
                for j in 0..rounds {
                    transact(s, |t| -> Result<(), StoreError> {
                        let v = t.get("c", "counter")?.map(|v| String::from_utf8(v).unwrap()).unwrap_or_default();
                        let v: u64 = v.parse().unwrap_or(0);
                        t.put("c", &format!("log/{i:02}/{j:04}"), b"")?;
                        t.put("c", "counter", (v + 1).to_string().as_bytes())
                    })
                    .unwrap();
                }
            });
        }
    });
    let r = stores[0].read().unwrap();
    let total = (threads * rounds) as u64;
    assert_eq!(r.get("c", "counter").unwrap(), Some(total.to_string().into_bytes()), "{n}: lost updates");
    assert_eq!(r.count("c", "log/").unwrap(), total, "{n}");
}

#[test]
fn concurrent_writers_take_turns() {
    for b in backends() {
        let s = b.open();
        let g0 = s.generation();
        hammer(&[s.as_ref()], 8, 25, b.name());
        let g1 = s.generation();
        assert!(g1 >= g0 + 200 || b.name() != "postgres", "postgres: one generation per commit: {g0} -> {g1}");
        assert_ne!(g1, g0, "{}", b.name());
    }
}

#[test]
fn write_waits_for_the_open_write() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        let n = b.name();
        let second_done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let mut first = s.write().unwrap();
            first.put("x", "k", b"first").unwrap();
            let h = scope.spawn(|| {
                transact(s, |t| -> Result<Option<Vec<u8>>, StoreError> {
                    let v = t.get("x", "k")?;
                    t.put("x", "k", b"second")?;
                    Ok(v)
                })
                .inspect(|_| second_done.store(true, Ordering::SeqCst))
            });
            std::thread::sleep(Duration::from_millis(300));
            assert!(!second_done.load(Ordering::SeqCst), "{n}: a second writer ran while the first was open");
            first.commit().unwrap();
            let seen = h.join().unwrap().unwrap();
            assert_eq!(seen.as_deref(), Some(&b"first"[..]), "{n}: the second writer sees the first's commit");
        });
        assert_eq!(s.read().unwrap().get("x", "k").unwrap().as_deref(), Some(&b"second"[..]), "{n}");
    }
}

#[test]
fn commits_survive_reopening() {
    for b in backends() {
        let n = b.name();
        {
            let s = b.open();
            put_all(s.as_ref(), "x", &["a", "b"]);
            let dropped = s.write();
            drop(dropped);
        }
        {
            let s = b.open();
            let r = s.read().unwrap();
            assert_eq!(keys_of(&r.scan("x", "", None, 10).unwrap()), ["a", "b"], "{n}: after reopening");
            drop(r);
            transact(s.as_ref(), |t: &mut dyn WriteTxn| t.delete("x", "a").map(|_| ())).unwrap();
        }
        let s = b.open();
        assert_eq!(keys_of(&s.read().unwrap().scan("x", "", None, 10).unwrap()), ["b"], "{n}: second reopening");
    }
}

#[test]
fn many_reads_at_once() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        put_all(s, "x", &["k"]);
        // More simultaneous snapshots than any pool keeps idle.
        let reads: Vec<_> = (0..12).map(|_| s.read().unwrap()).collect();
        for r in &reads {
            assert_eq!(r.get("x", "k").unwrap().as_deref(), Some(&b"k"[..]), "{}", b.name());
        }
        drop(reads);
        std::thread::scope(|scope| {
            for _ in 0..24 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        let r = s.read().unwrap();
                        assert_eq!(r.count("x", "").unwrap(), 1);
                    }
                });
            }
        });
    }
}

// ---- PostgreSQL only: what several processes sharing one database rely on. ----

#[test]
fn postgres_generation_follows_commits_of_other_stores() {
    let Some(pg) = Postgres::fresh() else { return };
    let a = pg.open_pg();
    let b = pg.open_pg();
    let (ga, gb) = (a.generation(), b.generation());
    assert_eq!(ga, gb, "two stores on one schema read one generation");
    put_all(&a, "x", &["k"]);
    assert_ne!(b.generation(), gb, "a commit through another store changes the generation at once");
    assert_eq!(a.generation(), b.generation());
    assert_eq!(b.read().unwrap().get("x", "k").unwrap().as_deref(), Some(&b"k"[..]));
}

#[test]
fn postgres_stores_sharing_a_schema_take_turns() {
    let Some(pg) = Postgres::fresh() else { return };
    let (a, b, c) = (pg.open_pg(), pg.open_pg(), pg.open_pg());
    hammer(&[&a, &b, &c], 6, 25, "postgres, three stores");
}

#[test]
fn postgres_migrations_are_recorded_and_run_once() {
    let Some(pg) = Postgres::fresh() else { return };
    // Servers starting together on an empty schema: one migrates, the others wait and see it done.
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| PostgresStore::open(&pg.url()).map(|_| ()))).collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    let mut admin = pg.admin();
    let rows = admin
        .query(&format!("SELECT version, description FROM \"{}\".tessera_migrations ORDER BY version", pg.schema), &[])
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get::<_, i32>(0)).collect();
    assert_eq!(versions, [1, 2], "the key-value tables, then the S3 blob chunks, each once");
    admin
        .batch_execute(&format!(
            "INSERT INTO \"{}\".tessera_migrations (version, description) VALUES (99, 'future')",
            pg.schema
        ))
        .unwrap();
    let err = PostgresStore::open(&pg.url()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("newer than this build supports"), "{err}");
}

#[test]
fn postgres_keys_are_bytea_and_readable_as_utf8() {
    let Some(pg) = Postgres::fresh() else { return };
    let s = pg.open_pg();
    put_all(&s, "users", &["123456789012/Zoë"]);
    let mut admin = pg.admin();
    let row =
        admin.query_one(&format!("SELECT convert_from(k, 'UTF8'), t FROM \"{}\".tessera_kv", pg.schema), &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "123456789012/Zoë");
    assert_eq!(row.get::<_, String>(1), "users");
}

#[test]
fn postgres_recovers_from_lost_connections() {
    let Some(pg) = Postgres::fresh() else { return };
    let s = pg.open_pg();
    put_all(&s, "x", &["before"]);
    assert!(s.read().unwrap().get("x", "before").unwrap().is_some());
    let mut admin = pg.admin();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&pg.schema],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 2, "the store's writer and reader sessions were ended ({killed})");
    // Let the server close them before the store uses them again.
    std::thread::sleep(Duration::from_millis(200));
    // Reused connections found closed are replaced: no call fails.
    transact(&s, |t: &mut dyn WriteTxn| t.put("x", "after", b"1")).unwrap();
    assert!(s.read().unwrap().get("x", "after").unwrap().is_some());
    assert_ne!(s.generation(), 0);
    let g = s.generation();
    assert!(g < 1 << 63, "a real generation, not the unknown marker: {g}");
}

#[test]
fn postgres_open_errors_are_store_errors() {
    let Some(pg) = Postgres::fresh() else { return };
    let bad = format!("{}{}schema=bad;name", pg.base, if pg.base.contains('?') { '&' } else { '?' });
    assert!(matches!(PostgresStore::open(&bad), Err(StoreError::Backend(_))));
    let nobody = "postgres://127.0.0.1:1/nothing?connect_timeout=2";
    assert!(matches!(PostgresStore::open(nobody), Err(StoreError::Backend(_))));
}

/// Cost of `generation()`, `read()` + `get`, and a one-put commit (`cargo test -- --ignored
/// --nocapture measure`): figures quoted in docs/STORAGE.md.
#[test]
#[ignore]
fn measure_costs() {
    for b in backends() {
        let s = b.open();
        let s = s.as_ref();
        put_all(s, "x", &["k"]);
        let n = 2000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(s.generation());
        }
        let gen = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(s.read().unwrap().get("x", "k").unwrap());
        }
        let read = t.elapsed() / n;
        let t = std::time::Instant::now();
        for i in 0..200 {
            transact(s, |w: &mut dyn WriteTxn| w.put("x", "k", format!("{i}").as_bytes())).unwrap();
        }
        let write = t.elapsed() / 200;
        println!("{}: generation() {gen:?}, read()+get {read:?}, write+put+commit {write:?}", b.name());
    }
}
