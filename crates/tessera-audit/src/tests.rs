//! Store, delivery, digest-chain and verification tests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tessera_store::secrets::SecretBox;

use crate::delivery::{gunzip, Deliverer, DeliveryConfig, FsDelivery, TrailDelivery};
use crate::event::*;
use crate::sqlite::SqliteAuditStore;
use crate::store::*;
use crate::verify::{verify_data_dir, verify_trail};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const T0: i64 = 1_700_000_000_000;

fn event(account: &str, name: &str, user: &str, millis: i64) -> AuditEvent {
    AuditEvent {
        record: CloudTrailRecord {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity {
                identity_type: "IAMUser".into(),
                principal_id: Some("AIDAEXAMPLE".into()),
                arn: Some(format!("arn:aws:iam::{account}:user/{user}")),
                account_id: Some(account.into()),
                access_key_id: Some(format!("AKIA{user}")),
                user_name: Some(user.into()),
                ..Default::default()
            },
            event_time: event_time(millis),
            event_source: if name.starts_with("Assume") { "sts.amazonaws.com" } else { "iam.amazonaws.com" }.into(),
            event_name: name.into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "test".into(),
            error_code: None,
            error_message: None,
            request_parameters: serde_json::json!({"userName": user}),
            response_elements: Value::Null,
            additional_event_data: None,
            request_id: new_event_id(),
            event_id: new_event_id(),
            read_only: name.starts_with("Get") || name.starts_with("List"),
            resources: None,
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: account.into(),
            shared_event_id: None,
            event_category: "Management".into(),
        },
        event_time_millis: millis,
        username: Some(user.into()),
        resources: vec![LookupResource { resource_type: "AWS::IAM::User".into(), resource_name: user.into() }],
    }
}

fn query(attribute: Option<LookupAttribute>) -> LookupQuery {
    LookupQuery { account: ACCT.into(), attribute, start_millis: 0, end_millis: i64::MAX, max_results: 50, after: None }
}

fn names(page: &LookupPage) -> Vec<String> {
    page.events.iter().map(|e| e.event_name.clone()).collect()
}

#[test]
fn record_and_lookup_every_attribute() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    let mut evs = vec![
        event(ACCT, "CreateUser", "alice", T0),
        event(ACCT, "GetUser", "bob", T0 + 1000),
        event(ACCT, "CreateUser", "bob", T0 + 2000),
        event(OTHER, "CreateUser", "alice", T0 + 3000),
    ];
    evs[2]
        .resources
        .push(LookupResource { resource_type: "AWS::IAM::AccessKey".into(), resource_name: "AKIAX".into() });
    let id_of_first = evs[0].record.event_id.clone();
    s.record(evs).unwrap();
    let all = s.lookup(&query(None)).unwrap();
    assert_eq!(names(&all), ["CreateUser", "GetUser", "CreateUser"], "newest first, own account only");
    assert_eq!(all.events[0].username.as_deref(), Some("bob"));
    let rec: Value = serde_json::from_str(&all.events[0].cloudtrail_event).unwrap();
    assert_eq!(rec["eventName"], "CreateUser");
    assert_eq!(rec["recipientAccountId"], ACCT);
    let by = |a| s.lookup(&query(Some(a))).unwrap();
    assert_eq!(by(LookupAttribute::EventName("CreateUser".into())).events.len(), 2);
    assert_eq!(by(LookupAttribute::Username("bob".into())).events.len(), 2);
    assert_eq!(by(LookupAttribute::ReadOnly(true)).events.len(), 1);
    assert_eq!(by(LookupAttribute::ReadOnly(false)).events.len(), 2);
    assert_eq!(by(LookupAttribute::EventSource("iam.amazonaws.com".into())).events.len(), 3);
    assert_eq!(by(LookupAttribute::EventSource("sts.amazonaws.com".into())).events.len(), 0);
    assert_eq!(by(LookupAttribute::AccessKeyId("AKIAalice".into())).events.len(), 1);
    let one = by(LookupAttribute::EventId(id_of_first));
    assert_eq!(one.events.len(), 1);
    assert_eq!(one.events[0].username.as_deref(), Some("alice"));
    assert_eq!(by(LookupAttribute::ResourceType("AWS::IAM::User".into())).events.len(), 3);
    assert_eq!(by(LookupAttribute::ResourceType("AWS::IAM::AccessKey".into())).events.len(), 1);
    let named = by(LookupAttribute::ResourceName("bob".into()));
    assert_eq!(named.events.len(), 2);
    assert_eq!(named.events[0].resources.len(), 2);
    // Time range is inclusive on both ends.
    let mut q = query(None);
    q.start_millis = T0 + 1000;
    q.end_millis = T0 + 1000;
    assert_eq!(names(&s.lookup(&q).unwrap()), ["GetUser"]);
}

#[test]
fn pagination_walks_every_event_once() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    // Several events per millisecond: the cursor must break ties by sequence.
    let evs: Vec<_> = (0..23).map(|i| event(ACCT, &format!("Op{i:02}"), "u", T0 + (i / 3) * 1000)).collect();
    s.record(evs).unwrap();
    for attribute in
        [None, Some(LookupAttribute::Username("u".into())), Some(LookupAttribute::ResourceName("u".into()))]
    {
        let mut q = query(attribute);
        q.max_results = 5;
        let mut seen = Vec::new();
        loop {
            let page = s.lookup(&q).unwrap();
            assert!(page.events.len() <= 5);
            seen.extend(names(&page));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..23).map(|i| format!("Op{i:02}")).collect();
        expected.reverse();
        assert_eq!(seen, expected);
    }
}

#[test]
fn bad_account_ids_are_refused() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    assert!(matches!(s.record(vec![event("12", "X", "u", T0)]), Err(AuditError::Invalid(_))));
    assert_eq!(s.max_seq().unwrap(), 0);
}

#[test]
fn group_commit_from_many_threads_is_durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let kek = SecretBox::generate_key();
    // The events are from 2023: keep them past the 90-day default, which the writer applies when it starts.
    let limits = AuditLimits { retention_days: 36_500, ..AuditLimits::default() };
    {
        let s = Arc::new(SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap());
        s.ready().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        s.record(vec![event(ACCT, "GetCallerIdentity", &format!("t{t}"), T0 + i)]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.max_seq().unwrap(), 400);
    }
    let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
    let mut q = query(Some(LookupAttribute::Username("t3".into())));
    q.max_results = 50;
    assert_eq!(s.lookup(&q).unwrap().events.len(), 50);
    s.shutdown();
    assert!(s.ready().is_err(), "a stopped writer refuses new requests");
    assert!(matches!(s.record(vec![event(ACCT, "X", "u", T0)]), Err(AuditError::Unavailable(_))));
}

#[test]
fn events_committed_but_not_yet_indexed_at_a_crash_are_indexed_at_the_next_start() {
    for legacy_pending in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let kek = SecretBox::generate_key();
        let limits = AuditLimits { retention_days: 36_500, ..AuditLimits::default() };
        {
            let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
            for i in 0..3 {
                s.record(vec![event(ACCT, "GetUser", "a", T0 + i)]).unwrap();
            }
            assert_eq!(s.max_seq().unwrap(), 3);
        }
        let unindexed: Vec<_> = (0..3).map(|i| event(ACCT, "CreateUser", "b", T0 + 10 + i)).collect();
        let next = if legacy_pending {
            crate::sqlite::append_pending(&path, &unindexed, 4).unwrap()
        } else {
            crate::sqlite::append_unindexed(&path, &unindexed, 4).unwrap()
        };
        assert_eq!(next, 7);
        let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
        let page = s.lookup(&query(Some(LookupAttribute::Username("b".into())))).unwrap();
        assert_eq!(names(&page), vec!["CreateUser"; 3], "legacy pending table: {legacy_pending}");
        let by_resource = s.lookup(&query(Some(LookupAttribute::ResourceName("b".into())))).unwrap();
        assert_eq!(by_resource.events.len(), 3, "resources of unindexed events are indexed too");
        assert_eq!(s.max_seq().unwrap(), 6);
        s.record(vec![event(ACCT, "DeleteUser", "c", T0 + 20)]).unwrap();
        assert_eq!(s.max_seq().unwrap(), 7, "numbering continues after the unindexed events");
        assert_eq!(s.lookup(&query(None)).unwrap().events.len(), 7);
        s.shutdown();
        drop(s);
        let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
        assert_eq!(s.lookup(&query(None)).unwrap().events.len(), 7, "no event is indexed twice");
    }
}

#[test]
fn the_background_indexer_indexes_a_few_events_after_its_pause_and_full_steps_without_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits { retention_days: 36_500, ..AuditLimits::default() };
    let s = SqliteAuditStore::open(&dir.path().join("audit.db"), SecretBox::new(&SecretBox::generate_key()), limits)
        .unwrap();
    let indexed_within = |n: i64| {
        let start = std::time::Instant::now();
        while s.indexed_seq() < n {
            if start.elapsed() > Duration::from_secs(20) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    };
    // Fewer than a step (256): indexed once the indexer's 50 ms wait for more is over.
    s.record(vec![event(ACCT, "GetUser", "a", T0)]).unwrap();
    assert!(indexed_within(1), "a lone event is indexed in the background");
    // More than two steps: the writer nudges the indexer, which works through all of them.
    s.record((0..600).map(|i| event(ACCT, "GetUser", "a", T0 + 1 + i)).collect()).unwrap();
    assert!(indexed_within(601), "indexed only {} of 601", s.indexed_seq());
    assert_eq!(s.lookup(&query(None)).unwrap().events.len(), 50);
}

/// A file store that recorded one `GetUser` of `a` at `T0` and was closed: (its directory, the
/// store file, its key, its limits).
fn closed_store_with_one_event() -> (tempfile::TempDir, std::path::PathBuf, [u8; 32], AuditLimits) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let kek = SecretBox::generate_key();
    let limits = AuditLimits { retention_days: 36_500, ..AuditLimits::default() };
    {
        let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
        s.record(vec![event(ACCT, "GetUser", "a", T0)]).unwrap();
    }
    (dir, path, kek, limits)
}

#[test]
fn a_torn_journal_entry_from_a_crash_is_dropped_and_recording_goes_on() {
    let (_dir, path, kek, limits) = closed_store_with_one_event();
    // Half of an entry that was being appended when the process died (never acknowledged).
    let journal = crate::sqlite::journal_dir(&path);
    let newest = std::fs::read_dir(&journal).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let (_, valid) = crate::journal::scan_segment(&newest).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&newest).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[200, 0, 0, 0, 1, 2, 3, 4, 5], valid).unwrap();
    drop(file);
    let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
    s.record(vec![event(ACCT, "CreateUser", "b", T0 + 1)]).unwrap();
    assert_eq!(names(&s.lookup(&query(None)).unwrap()), ["CreateUser", "GetUser"]);
    assert_eq!(s.max_seq().unwrap(), 2);
}

#[test]
fn pruning_keeps_the_newest_within_bounds() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    let day = 86_400_000;
    let evs: Vec<_> = (0..10).map(|i| event(ACCT, &format!("Op{i}"), "u", T0 + i * day)).collect();
    s.record(evs).unwrap();
    // Retention: 3 days before the newest event's day keeps Op6..Op9 (time ≥ cutoff).
    let n = s.prune(AuditLimits { retention_days: 3, max_events: 100 }, T0 + 9 * day).unwrap();
    assert_eq!(n, 6);
    assert_eq!(names(&s.lookup(&query(None)).unwrap()), ["Op9", "Op8", "Op7", "Op6"]);
    let n = s.prune(AuditLimits { retention_days: 3650, max_events: 2 }, T0 + 9 * day).unwrap();
    assert_eq!(n, 2);
    assert_eq!(names(&s.lookup(&query(None)).unwrap()), ["Op9", "Op8"]);
    let r = s.lookup(&query(Some(LookupAttribute::ResourceName("u".into())))).unwrap();
    assert_eq!(r.events.len(), 2, "resource index rows go with their events");
}

/// Tests give their events an injected clock's time, years back, and the indexer prunes by the
/// wall clock whenever its thread gets to run: an in-memory store must not prune by age, or such
/// tests fail when the machine is busy (CI saw LookupEvents tests lose their events).
#[test]
fn an_in_memory_store_keeps_events_of_any_age() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    s.record(vec![event(ACCT, "GetUser", "u", 946_684_800_000)]).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    assert_eq!(s.prune(SqliteAuditStore::in_memory_limits(), i64::try_from(now).unwrap()).unwrap(), 0);
    assert_eq!(names(&s.lookup(&query(None)).unwrap()), ["GetUser"]);
}

fn trail(name: &str, validation: bool) -> Trail {
    Trail {
        account: ACCT.into(),
        name: name.into(),
        home_region: "us-east-1".into(),
        s3_bucket_name: "audit-bucket".into(),
        s3_key_prefix: Some("pre".into()),
        include_global_service_events: true,
        is_multi_region_trail: true,
        log_file_validation_enabled: validation,
        tags: Vec::new(),
        created_millis: T0,
        state: TrailState::default(),
    }
}

#[test]
fn trails_crud() {
    let s = SqliteAuditStore::open_in_memory().unwrap();
    assert!(s.insert_trail(&trail("t1", false)).unwrap());
    assert!(!s.insert_trail(&trail("t1", true)).unwrap(), "names are unique per account");
    let mut other = trail("t1", false);
    other.account = OTHER.into();
    assert!(s.insert_trail(&other).unwrap());
    assert_eq!(s.trails(Some(ACCT)).unwrap().len(), 1);
    assert_eq!(s.trails(None).unwrap().len(), 2);
    let t = s.update_trail(ACCT, "t1", &mut |t| t.state.is_logging = true).unwrap().unwrap();
    assert!(t.state.is_logging);
    assert!(s.update_trail(ACCT, "nope", &mut |_| {}).unwrap().is_none());
    assert!(s.delete_trail(ACCT, "t1").unwrap());
    assert!(!s.delete_trail(ACCT, "t1").unwrap());
    assert_eq!(t.arn(), "arn:aws:cloudtrail:us-east-1:111122223333:trail/t1");
}

struct Env {
    dir: tempfile::TempDir,
    store: Arc<SqliteAuditStore>,
    deliverer: Deliverer,
    clock: Arc<AtomicI64>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteAuditStore::open(
            &dir.path().join("audit.db"),
            SecretBox::new(&SecretBox::generate_key()),
            AuditLimits::default(),
        )
        .unwrap(),
    );
    let clock = Arc::new(AtomicI64::new(T0));
    let c = Arc::clone(&clock);
    let deliverer = Deliverer::new(
        store.clone(),
        Arc::new(FsDelivery::new(dir.path().join("s3"))),
        DeliveryConfig { interval: Duration::from_secs(1), digest_period: Duration::from_secs(3600) },
        Arc::new(move || c.load(Ordering::SeqCst)),
    );
    Env { dir, store, deliverer, clock }
}

fn start_logging(env: &Env, name: &str) {
    let cursor = env.store.max_seq().unwrap();
    let now = env.clock.load(Ordering::SeqCst);
    env.store
        .update_trail(ACCT, name, &mut |t| {
            t.state.is_logging = true;
            t.state.start_logging_millis = Some(now);
            t.state.cursor = cursor;
        })
        .unwrap()
        .unwrap();
}

fn files_under(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn delivery_digest_chain_and_tamper_detection() {
    let env = env();
    env.store.record(vec![event(ACCT, "BeforeLogging", "u", T0 - 5)]).unwrap();
    env.store.insert_trail(&trail("main", true)).unwrap();
    start_logging(&env, "main");
    let mut other_region = event(ACCT, "AssumeRole", "u", T0 + 20);
    other_region.record.aws_region = "eu-west-1".into();
    env.store
        .record(vec![event(ACCT, "CreateUser", "u", T0 + 10), other_region, event(OTHER, "CreateUser", "x", T0 + 30)])
        .unwrap();
    env.clock.store(T0 + 60_000, Ordering::SeqCst);
    env.deliverer.run_once(false).unwrap();
    let t = &env.store.trails(Some(ACCT)).unwrap()[0];
    assert_eq!(t.state.chains.len(), 2, "one chain per region with events");
    assert!(t.state.latest_delivery_millis.is_some());
    let logs: Vec<_> = files_under(&env.dir.path().join("s3/audit-bucket"));
    assert_eq!(logs.len(), 2);
    let us = logs.iter().find(|p| p.to_string_lossy().contains("/CloudTrail/us-east-1/")).unwrap();
    let rel = us.strip_prefix(env.dir.path().join("s3/audit-bucket")).unwrap().to_string_lossy().to_string();
    assert!(rel.starts_with("pre/AWSLogs/111122223333/CloudTrail/us-east-1/2023/11/14/111122223333_CloudTrail_us-east-1_20231114T2214Z_"), "{rel}");
    let content: Value = serde_json::from_slice(&gunzip(&std::fs::read(us).unwrap(), 1 << 20).unwrap()).unwrap();
    let recs = content["Records"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "only the trail account's events after StartLogging");
    assert_eq!(recs[0]["eventName"], "CreateUser");

    // An hour later the digests come; then more events, another hour, another digest.
    env.clock.store(T0 + 3_700_000, Ordering::SeqCst);
    env.deliverer.run_once(false).unwrap();
    env.store.record(vec![event(ACCT, "DeleteUser", "u", T0 + 3_700_001)]).unwrap();
    env.clock.store(T0 + 7_400_000, Ordering::SeqCst);
    env.deliverer.run_once(false).unwrap();
    let t = env.store.trails(Some(ACCT)).unwrap().remove(0);
    let keys = env.store.public_keys().unwrap();
    assert_eq!(keys.len(), 1);
    let target = FsDelivery::new(env.dir.path().join("s3"));
    let report = verify_trail(&t, &keys, &target);
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.digests(), (4, 4), "two periods × two regions");
    assert_eq!(report.logs(), (3, 3));
    let digest_key = &t.state.chains["us-east-1"].previous.as_ref().unwrap().object;
    assert!(digest_key.contains("/CloudTrail-Digest/us-east-1/2023/11/15/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20231115T001640Z.json.gz"), "{digest_key}");
    let digest: crate::digest::DigestFile = serde_json::from_slice(
        &gunzip(&target.get_object("audit-bucket", digest_key).unwrap().unwrap().body, 1 << 20).unwrap(),
    )
    .unwrap();
    assert!(digest.previous_digest_signature.is_some());
    assert_eq!(digest.log_files.len(), 1);
    env.store.shutdown();

    // Offline verification through the data dir agrees.
    let reports = verify_data_dir(env.dir.path(), &FsDelivery::new(env.dir.path().join("s3")), Some("main")).unwrap();
    assert!(reports[0].is_valid());

    // One byte of a log file changed: that file, and only it, is named.
    let mut bytes = std::fs::read(us).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(us, &bytes).unwrap();
    let r = &verify_data_dir(env.dir.path(), &FsDelivery::new(env.dir.path().join("s3")), None).unwrap()[0];
    assert!(!r.is_valid());
    let broken = r.first_broken().unwrap();
    assert_eq!(broken.kind, "Log file");
    assert_eq!(broken.location, us.display().to_string());
    assert_eq!(r.logs(), (2, 3));

    // A digest file changed: its signature fails (and the next digest's hash link).
    let digest_path = target.locate("audit-bucket", digest_key);
    let mut d = gunzip(&std::fs::read(&digest_path).unwrap(), 1 << 20).unwrap();
    let pos = d.len() - 5;
    d[pos] = b' ';
    std::fs::write(&digest_path, crate::delivery::gzip(&d).unwrap()).unwrap();
    let r = &verify_data_dir(env.dir.path(), &FsDelivery::new(env.dir.path().join("s3")), None).unwrap()[0];
    let bad: Vec<_> = r.files.iter().filter(|f| f.problem.is_some()).map(|f| f.location.clone()).collect();
    assert!(bad.contains(&digest_path), "{bad:?}");

    // A deleted log file is reported as not found.
    std::fs::remove_file(us).unwrap();
    let r = &verify_data_dir(env.dir.path(), &FsDelivery::new(env.dir.path().join("s3")), None).unwrap()[0];
    assert!(r.files.iter().any(|f| f.problem.as_deref() == Some("not found")));
}

#[test]
fn stop_logging_delivers_up_to_the_stop_and_closes_the_digest() {
    let env = env();
    env.store.insert_trail(&trail("t", true)).unwrap();
    start_logging(&env, "t");
    env.store.record(vec![event(ACCT, "CreateUser", "u", T0 + 1)]).unwrap();
    env.clock.store(T0 + 10, Ordering::SeqCst);
    env.store
        .update_trail(ACCT, "t", &mut |t| {
            t.state.is_logging = false;
            t.state.stop_logging_millis = Some(T0 + 10);
            t.state.final_delivery_pending = true;
        })
        .unwrap();
    env.store.record(vec![event(ACCT, "AfterStop", "u", T0 + 20)]).unwrap();
    env.clock.store(T0 + 30, Ordering::SeqCst);
    env.deliverer.run_once(false).unwrap();
    let t = env.store.trails(Some(ACCT)).unwrap().remove(0);
    assert!(!t.state.final_delivery_pending);
    let chain = &t.state.chains["us-east-1"];
    assert!(chain.previous.is_some(), "the closing digest was written");
    assert!(chain.pending.is_empty());
    let report = verify_trail(&t, &env.store.public_keys().unwrap(), &FsDelivery::new(env.dir.path().join("s3")));
    assert!(report.is_valid());
    assert_eq!(report.logs(), (1, 1));
    // Nothing more is delivered while stopped.
    env.clock.store(T0 + 10_000_000, Ordering::SeqCst);
    env.deliverer.run_once(true).unwrap();
    let again = env.store.trails(Some(ACCT)).unwrap().remove(0);
    assert_eq!(again.state.chains, t.state.chains);
}

#[test]
fn fs_delivery_refuses_escaping_keys_and_keeps_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsDelivery::new(dir.path());
    let mut md = BTreeMap::new();
    md.insert("signature".to_string(), "ab".to_string());
    fs.put_object("b", "a/b/c.json.gz", b"x", &md).unwrap();
    let o = fs.get_object("b", "a/b/c.json.gz").unwrap().unwrap();
    assert_eq!(o.body, b"x");
    assert_eq!(o.metadata, md);
    assert_eq!(fs.list_objects("b", "a/").unwrap(), ["a/b/c.json.gz"]);
    assert_eq!(fs.list_objects("b", "a/b/c").unwrap(), ["a/b/c.json.gz"]);
    assert!(fs.list_objects("b", "z/").unwrap().is_empty());
    assert!(fs.put_object("b", "../x", b"x", &BTreeMap::new()).is_err());
    assert!(fs.put_object("b", "/abs", b"x", &BTreeMap::new()).is_err());
    assert!(fs.put_object(".metadata", "k", b"x", &BTreeMap::new()).is_err());
    assert!(fs.get_object("b", "missing").unwrap().is_none());
}

/// A digest file's key names its time to the second. A final delivery in the same second as the
/// digest before it (StopLogging, then shutdown) once wrote a second digest under the same key:
/// the first, with its log files, was overwritten, the chain named itself as previous, and
/// `tessera audit verify` passed a tampered log file it never reached (a CI run of the e2e test).
#[test]
fn digests_of_one_chain_in_one_second_get_keys_of_their_own() {
    let env = env();
    env.store.insert_trail(&trail("t", true)).unwrap();
    start_logging(&env, "t");
    env.store.record(vec![event(ACCT, "CreateUser", "u", T0 + 1)]).unwrap();
    env.clock.store(T0 + 100, Ordering::SeqCst);
    env.deliverer.run_once(true).unwrap();
    env.store.record(vec![event(ACCT, "DeleteUser", "u", T0 + 200)]).unwrap();
    env.clock.store(T0 + 300, Ordering::SeqCst);
    env.deliverer.run_once(true).unwrap();
    let t = env.store.trails(Some(ACCT)).unwrap().remove(0);
    let newest = t.state.chains["us-east-1"].previous.clone().unwrap();
    assert_eq!(newest.end_millis, T0 + 1000, "stamped the second after its predecessor");
    assert!(newest.object.ends_with("_20231114T221321Z.json.gz"), "{}", newest.object);
    // Nothing pending and the same second again: no empty digest over the newest one.
    env.clock.store(T0 + 400, Ordering::SeqCst);
    env.deliverer.run_once(true).unwrap();
    let again = env.store.trails(Some(ACCT)).unwrap().remove(0);
    assert_eq!(again.state.chains, t.state.chains);
    let report = verify_trail(&again, &env.store.public_keys().unwrap(), &FsDelivery::new(env.dir.path().join("s3")));
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.digests(), (2, 2));
    assert_eq!(report.logs(), (2, 2));
}

/// Stores written before that fix may hold such a chain: a digest that names its own key as
/// previous. Verification reports the broken link instead of stopping there quietly.
#[test]
fn a_chain_that_leads_back_to_a_checked_digest_is_broken() {
    let env = env();
    env.store.insert_trail(&trail("t", true)).unwrap();
    start_logging(&env, "t");
    env.store.record(vec![event(ACCT, "CreateUser", "u", T0 + 1)]).unwrap();
    env.clock.store(T0 + 5_000, Ordering::SeqCst);
    let t = env.store.trails(Some(ACCT)).unwrap().remove(0);
    // As the old code left it: the previous digest's key is the one the next digest gets.
    let key = crate::delivery::digest_file_key(&t, "us-east-1", T0 + 5_000);
    let overwritten = PreviousDigest {
        bucket: t.s3_bucket_name.clone(),
        object: key.clone(),
        hash: "0".repeat(64),
        signature: "00".into(),
        end_millis: T0 + 3_000,
    };
    env.store
        .update_trail(ACCT, "t", &mut |t| {
            t.state.chains.entry("us-east-1".into()).or_default().previous = Some(overwritten.clone());
        })
        .unwrap();
    env.deliverer.run_once(true).unwrap();
    let t = env.store.trails(Some(ACCT)).unwrap().remove(0);
    assert_eq!(t.state.chains["us-east-1"].previous.as_ref().unwrap().object, key);
    let report = verify_trail(&t, &env.store.public_keys().unwrap(), &FsDelivery::new(env.dir.path().join("s3")));
    assert!(!report.is_valid(), "{report:?}");
    let broken: Vec<_> = report.files.iter().filter(|f| f.problem.is_some()).collect();
    assert_eq!(broken.len(), 1, "{report:?}");
    assert_eq!(broken[0].kind, "Digest file");
    assert!(broken[0].uri.ends_with(&key));
}

/// An event of a session of role `AROAROLE` (its own principal id is the session's).
fn role_session_event(name: &str, millis: i64, region: &str) -> AuditEvent {
    let mut e = event(ACCT, name, "r", millis);
    e.record.aws_region = region.into();
    e.record.user_identity = UserIdentity {
        identity_type: "AssumedRole".into(),
        principal_id: Some("AROAROLE:session".into()),
        session_context: Some(SessionContext {
            session_issuer: Some(SessionIssuer {
                issuer_type: "Role".into(),
                principal_id: "AROAROLE".into(),
                arn: format!("arn:aws:iam::{ACCT}:role/r"),
                account_id: ACCT.into(),
                user_name: Some("r".into()),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    e
}

#[test]
fn the_last_access_index_keeps_the_latest_call_per_principal_service_and_action() {
    use crate::last_access::LastAccess;
    let s = SqliteAuditStore::open_in_memory().unwrap();
    s.record(vec![event(ACCT, "GetUser", "a", T0 + 5), event(ACCT, "GetUser", "a", T0 + 1)]).unwrap();
    s.record(vec![event(ACCT, "AssumeRole", "a", T0 + 2)]).unwrap();
    s.record(vec![
        role_session_event("ListRoles", T0 + 3, "eu-west-1"),
        role_session_event("ListRoles", T0 + 9, "us-west-2"),
    ])
    .unwrap();
    let mut root = event(ACCT, "GetUser", "root", T0 + 7);
    root.record.user_identity = UserIdentity { identity_type: "Root".into(), ..Default::default() };
    s.record(vec![root]).unwrap();
    let mut rows = s.last_accessed(&["AIDAEXAMPLE".into(), "AROAROLE".into(), "ROOT".into()], 0).unwrap();
    rows.sort_by(|a, b| (&a.principal, &a.action).cmp(&(&b.principal, &b.action)));
    let row = |p: &str, svc: &str, action: &str, t: i64, region: &str| LastAccess {
        principal: p.into(),
        service: svc.into(),
        action: action.into(),
        last_millis: t,
        region: region.into(),
    };
    assert_eq!(
        rows,
        vec![
            row("AIDAEXAMPLE", "sts", "AssumeRole", T0 + 2, "us-east-1"),
            row("AIDAEXAMPLE", "iam", "GetUser", T0 + 5, "us-east-1"),
            row("AROAROLE", "iam", "ListRoles", T0 + 9, "us-west-2"),
        ]
    );
    assert!(s.last_accessed(&["AIDAEXAMPLE".into()], T0 + 6).unwrap().is_empty(), "older than the window start");
}

#[test]
fn the_last_access_index_is_built_once_for_a_store_from_before_it() {
    let (_dir, path, kek, limits) = closed_store_with_one_event();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("DELETE FROM last_access; DELETE FROM meta WHERE key = 'last_access_built';").unwrap();
    }
    let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
    let rows = s.last_accessed(&["AIDAEXAMPLE".into()], 0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].action.as_str(), rows[0].last_millis), ("GetUser", T0));
}

#[test]
fn a_backup_holds_indexed_and_journal_only_events_and_opens_as_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let kek = SecretBox::generate_key();
    let limits = AuditLimits { retention_days: 36_500, ..AuditLimits::default() };
    {
        let s = SqliteAuditStore::open(&path, SecretBox::new(&kek), limits).unwrap();
        for i in 0..3 {
            s.record(vec![event(ACCT, "GetUser", "a", T0 + i)]).unwrap();
        }
        // A backup beside a running store.
        let out = dir.path().join("live");
        let b = crate::sqlite::backup_to(&path, &out).unwrap();
        assert_eq!(b.events, 3);
    }
    // Durable in the journal, not indexed (as at a crash, or before the indexer ran), and a
    // half-written entry after them.
    let unindexed: Vec<_> = (0..4).map(|i| event(ACCT, "CreateUser", "b", T0 + 10 + i)).collect();
    crate::sqlite::append_unindexed(&path, &unindexed, 4).unwrap();
    let journal = crate::sqlite::journal_dir(&path);
    let newest = std::fs::read_dir(&journal).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let (_, valid) = crate::journal::scan_segment(&newest).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&newest).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[200, 0, 0, 0, 1, 2, 3], valid).unwrap();
    drop(file);

    let out = dir.path().join("backup");
    let b = crate::sqlite::backup_to(&path, &out).unwrap();
    assert_eq!(b.events, 7, "3 indexed + 4 only in the journal");
    assert_eq!(b.files[0], std::path::PathBuf::from("audit.db"));
    assert!(b.files.iter().all(|f| out.join(f).is_file()));
    let copied = out.join(b.files.last().unwrap());
    assert_eq!(
        std::fs::metadata(&copied).unwrap().len(),
        crate::journal::scan_segment(&copied).unwrap().1,
        "cut after the last whole entry"
    );
    let s = SqliteAuditStore::open(&out.join("audit.db"), SecretBox::new(&kek), limits).unwrap();
    assert_eq!(s.lookup(&query(Some(LookupAttribute::Username("b".into())))).unwrap().events.len(), 4);
    assert_eq!(s.lookup(&query(None)).unwrap().events.len(), 7);
    s.record(vec![event(ACCT, "DeleteUser", "c", T0 + 20)]).unwrap();
    assert_eq!(s.max_seq().unwrap(), 8, "numbering continues after the copied events");
}

/// The PostgreSQL cluster store, against the database named by `TESSERA_TEST_POSTGRES_URL`
/// (each test in a fresh schema, dropped afterwards); skipped, saying so, when it is unset.
#[cfg(feature = "postgres")]
mod pg {
    use std::io::Write as _;
    use std::path::Path;

    use super::*;
    use crate::postgres::{import_journal, PostgresAuditStore};

    const PG_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

    /// A fresh schema in the test database, dropped when the test ends.
    struct Schema {
        base: String,
        name: String,
        url: String,
    }

    impl Schema {
        fn fresh() -> Option<Schema> {
            let Ok(base) = std::env::var(PG_ENV) else {
                let _ = writeln!(std::io::stderr(), "\nSKIPPED: PostgreSQL audit store tests: {PG_ENV} is not set");
                return None;
            };
            let name = format!("audit_test_{}", hex::encode(rand::random::<[u8; 6]>()));
            let mut c = ::postgres::Client::connect(&base, ::postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}schema={name}");
            Some(Schema { base, name, url })
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            if let Ok(mut c) = ::postgres::Client::connect(&self.base, ::postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
            }
        }
    }

    fn node(dir: &Path, id: &str, url: &str, key: &[u8; 32]) -> PostgresAuditStore {
        PostgresAuditStore::open_node(
            &dir.join("audit.journal"),
            id,
            url,
            SecretBox::new(key),
            SqliteAuditStore::in_memory_limits(),
        )
        .unwrap()
    }

    fn all_ids(s: &dyn AuditStore) -> Vec<String> {
        let mut q = query(None);
        q.max_results = 7;
        let mut out = Vec::new();
        loop {
            let page = s.lookup(&q).unwrap();
            out.extend(page.events.iter().map(|e| e.event_id.clone()));
            match page.next {
                Some(c) => q.after = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn an_event_recorded_on_one_node_is_found_on_another_by_every_attribute() {
        let Some(db) = Schema::fresh() else { return };
        let key = SecretBox::generate_key();
        let (da, dbb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = node(da.path(), "node-a", &db.url, &key);
        let b = node(dbb.path(), "node-b", &db.url, &key);
        // B publishes a heartbeat first, so A's lookups below wait for it too.
        b.record(vec![event(ACCT, "GetUser", "bob", T0 + 1000)]).unwrap();
        let mut created = event(ACCT, "CreateUser", "alice", T0 + 2000);
        created
            .resources
            .push(LookupResource { resource_type: "AWS::IAM::AccessKey".into(), resource_name: "AKIAX".into() });
        let created_id = created.record.event_id.clone();
        a.record(vec![created, event(OTHER, "CreateUser", "alice", T0 + 3000)]).unwrap();
        // No waiting in the test: B's lookup itself must see A's acknowledged events.
        assert_eq!(names(&b.lookup(&query(None)).unwrap()), ["CreateUser", "GetUser"]);
        assert_eq!(names(&a.lookup(&query(None)).unwrap()), ["CreateUser", "GetUser"]);
        let by = |attr| names(&b.lookup(&query(Some(attr))).unwrap());
        assert_eq!(by(LookupAttribute::EventName("GetUser".into())), ["GetUser"]);
        assert_eq!(by(LookupAttribute::Username("alice".into())), ["CreateUser"]);
        assert_eq!(by(LookupAttribute::ReadOnly(true)), ["GetUser"]);
        assert_eq!(by(LookupAttribute::ReadOnly(false)), ["CreateUser"]);
        assert_eq!(by(LookupAttribute::AccessKeyId("AKIAbob".into())), ["GetUser"]);
        assert_eq!(by(LookupAttribute::EventSource("iam.amazonaws.com".into())), ["CreateUser", "GetUser"]);
        assert_eq!(by(LookupAttribute::EventId(created_id)), ["CreateUser"]);
        assert_eq!(by(LookupAttribute::ResourceType("AWS::IAM::AccessKey".into())), ["CreateUser"]);
        assert_eq!(by(LookupAttribute::ResourceName("bob".into())), ["GetUser"]);
        assert_eq!(by(LookupAttribute::ResourceType("AWS::IAM::User".into())), ["CreateUser", "GetUser"]);
        let mut window = query(None);
        window.start_millis = T0 + 1500;
        assert_eq!(names(&b.lookup(&window).unwrap()), ["CreateUser"]);
        let page = b.lookup(&query(None)).unwrap();
        let record: serde_json::Value = serde_json::from_str(&page.events[0].cloudtrail_event).unwrap();
        assert_eq!(record["eventName"], "CreateUser");
        assert!(b.lookup(&LookupQuery { account: "12".into(), ..query(None) }).is_err());
    }

    #[test]
    fn pages_walk_events_of_several_nodes_once_in_time_order() {
        let Some(db) = Schema::fresh() else { return };
        let key = SecretBox::generate_key();
        let (da, dbb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = node(da.path(), "node-a", &db.url, &key);
        let b = node(dbb.path(), "node-b", &db.url, &key);
        let mut want = Vec::new();
        for i in 0..30 {
            // Several events share a time, across nodes.
            let e = event(ACCT, "GetUser", "u", T0 + i / 3);
            want.push((T0 + i / 3, e.record.event_id.clone()));
            if i % 2 == 0 {
                a.record(vec![e]).unwrap()
            } else {
                b.record(vec![e]).unwrap()
            }
        }
        let got = all_ids(&a);
        assert_eq!(got.len(), 30);
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 30, "no event twice");
        let times: Vec<i64> = got.iter().map(|id| want.iter().find(|(_, w)| w == id).unwrap().0).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    }

    #[test]
    fn a_crashed_nodes_journal_is_shipped_once_by_import_and_by_its_restart() {
        let Some(db) = Schema::fresh() else { return };
        let key = SecretBox::generate_key();
        let (da, dbb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let b = node(dbb.path(), "node-b", &db.url, &key);
        {
            let a = node(da.path(), "node-a", &db.url, &key);
            a.record(vec![event(ACCT, "CreateUser", "first", T0)]).unwrap();
            a.shutdown();
        }
        // What a kill -9 right after a group commit leaves: durable in the journal, not shipped.
        let lost: Vec<AuditEvent> = (0..5).map(|i| event(ACCT, "CreateUser", &format!("u{i}"), T0 + 10 + i)).collect();
        crate::sqlite::append_unindexed(&da.path().join("audit.db"), &lost, 2).unwrap();
        assert_eq!(all_ids(&b).len(), 1, "the journal's events are not shipped yet");
        let journal = da.path().join("audit.journal");
        let first = import_journal(&journal, "node-a", &db.url).unwrap();
        // The segment of the shipped first event may still be there: read again, not inserted.
        assert!(first.read >= 5 && first.inserted == 5, "{first:?}");
        let again = import_journal(&journal, "node-a", &db.url).unwrap();
        assert_eq!(again.inserted, 0, "importing twice adds nothing: {again:?}");
        assert_eq!(all_ids(&b).len(), 6);
        // The node comes back on its disk after all: it ships nothing twice and numbers new
        // events after the imported ones.
        let a = node(da.path(), "node-a", &db.url, &key);
        a.record(vec![event(ACCT, "CreateUser", "after", T0 + 100)]).unwrap();
        let ids = all_ids(&b);
        assert_eq!(ids.len(), 7, "every event once");
        assert_eq!(names(&b.lookup(&query(Some(LookupAttribute::Username("after".into())))).unwrap()), ["CreateUser"]);
        assert!(import_journal(&da.path().join("missing"), "node-a", &db.url).is_err());
    }

    #[test]
    fn trails_keys_and_last_access_are_shared_and_one_node_delivers_at_a_time() {
        let Some(db) = Schema::fresh() else { return };
        let key = SecretBox::generate_key();
        let (da, dbb, s3) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = Arc::new(node(da.path(), "node-a", &db.url, &key));
        let b = Arc::new(node(dbb.path(), "node-b", &db.url, &key));
        assert!(a.insert_trail(&trail("main", true)).unwrap());
        assert!(!b.insert_trail(&trail("main", true)).unwrap(), "one trail of a name, cluster-wide");
        let cursor = b.max_seq().unwrap();
        b.update_trail(ACCT, "main", &mut |t| {
            t.state.is_logging = true;
            t.state.start_logging_millis = Some(T0);
            t.state.cursor = cursor;
        })
        .unwrap()
        .unwrap();
        assert!(a.trails(Some(ACCT)).unwrap()[0].state.is_logging);
        assert_eq!(a.digest_signer(T0).unwrap().public.fingerprint, b.digest_signer(T0).unwrap().public.fingerprint);
        assert_eq!(a.public_keys().unwrap().len(), 1);

        let clock = Arc::new(AtomicI64::new(T0 + 10));
        let deliverer = |store: Arc<PostgresAuditStore>| {
            let c = Arc::clone(&clock);
            Deliverer::new(
                store,
                Arc::new(FsDelivery::new(s3.path())),
                DeliveryConfig { interval: Duration::from_secs(1), digest_period: Duration::from_secs(60) },
                Arc::new(move || c.load(Ordering::SeqCst)),
            )
        };
        let (on_a, on_b) = (deliverer(Arc::clone(&a)), deliverer(Arc::clone(&b)));
        let mut ids = Vec::new();
        for round in 0..6i64 {
            let ea = event(ACCT, "CreateUser", "x", T0 + 100 + round);
            let eb = event(ACCT, "GetUser", "y", T0 + 100 + round);
            ids.push(ea.record.event_id.clone());
            ids.push(eb.record.event_id.clone());
            a.record(vec![ea]).unwrap();
            b.record(vec![eb]).unwrap();
            clock.fetch_add(30_000, Ordering::SeqCst);
            // Both try; only the lease holder (A, which asked first) delivers.
            on_a.run_once(false).unwrap();
            on_b.run_once(false).unwrap();
        }
        // A stops; once its lease expires, B delivers and writes the chain's next digest.
        drop(on_a);
        let ea = event(ACCT, "DeleteUser", "x", T0 + 200);
        ids.push(ea.record.event_id.clone());
        a.record(vec![ea]).unwrap();
        a.shutdown();
        let mut conn = ::postgres::Client::connect(&db.base, ::postgres::NoTls).unwrap();
        conn.execute(&format!("UPDATE {}.audit_leases SET expires_millis = 0", db.name), &[]).unwrap();
        clock.fetch_add(60_000, Ordering::SeqCst);
        on_b.run_once(true).unwrap();

        let t = b.trails(Some(ACCT)).unwrap().remove(0);
        let report = verify_trail(&t, &b.public_keys().unwrap(), &FsDelivery::new(s3.path()));
        assert!(report.is_valid(), "{report:?}");
        assert!(report.digests().1 >= 3, "{report:?}");
        let mut delivered = Vec::new();
        for f in files_under(s3.path()).iter().filter(|p| p.to_string_lossy().contains("/CloudTrail/")) {
            let body = gunzip(&std::fs::read(f).unwrap(), 1 << 30).unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            for r in v["Records"].as_array().unwrap() {
                delivered.push(r["eventID"].as_str().unwrap().to_string());
            }
        }
        delivered.sort();
        ids.sort();
        assert_eq!(delivered, ids, "every event delivered exactly once");

        let role = role_session_event("ListRoles", T0 + 5, "eu-west-1");
        a.shutdown();
        b.record(vec![role]).unwrap();
        let dc = tempfile::tempdir().unwrap();
        let c = node(dc.path(), "node-c", &db.url, &key);
        let rows = c.last_accessed(&["AROAROLE".to_string()], 0).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].service.as_str(), rows[0].region.as_str()), ("iam", "eu-west-1"));
    }
}
