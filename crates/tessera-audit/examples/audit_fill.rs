//! Benchmark: fill an audit store with N realistic events through the `AuditStore`, then time
//! LookupEvents queries. `cargo run --release -p tessera-audit --example audit_fill -- DIR N`.
//!
//! Events span the last 80 days, 5 accounts (70% in the first), 2,000 user names and 40 event
//! names with a skewed mix. A second run on the same DIR skips the fill and only measures.
//!
//! With `AUDIT_FILL_STORE_URL=postgres://...` the events go through DIR's journal into the
//! PostgreSQL cluster store instead of DIR/audit.db.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use serde_json::json;
use tessera_audit::event::*;
use tessera_audit::postgres::PostgresAuditStore;
use tessera_audit::sqlite::SqliteAuditStore;
use tessera_audit::store::{AuditLimits, AuditStore, Cursor, LookupAttribute, LookupQuery};
use tessera_store::secrets::SecretBox;

fn untracked() -> bool {
    std::env::var("AUDIT_FILL_UNTRACKED").is_ok_and(|v| v == "1")
}

const ACCOUNTS: [&str; 5] = ["111122223333", "222233334444", "333344445555", "444455556666", "555566667777"];
const NAMES: [&str; 40] = [
    "GetCallerIdentity",
    "AssumeRole",
    "GetSessionToken",
    "ListUsers",
    "GetUser",
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "GetRole",
    "ListRoles",
    "CreateRole",
    "DeleteRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "ListPolicies",
    "CreateGroup",
    "AddUserToGroup",
    "ListGroups",
    "GetAccountSummary",
    "CreateLoginProfile",
    "ChangePassword",
    "DescribeOrganization",
    "ListAccounts",
    "CreateAccount",
    "DescribeCreateAccountStatus",
    "LookupEvents",
    "DescribeTrails",
    "CreateTrail",
    "StartLogging",
    "GetTrailStatus",
    "AssumeRoleWithWebIdentity",
];
const USERS: usize = 2000;

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A skewed pick: the first names are much more frequent.
fn pick_name(rng: &mut impl Rng) -> &'static str {
    let r: f64 = rng.gen();
    let i = ((r * r * r) * NAMES.len() as f64) as usize;
    NAMES[i.min(NAMES.len() - 1)]
}

fn make_event(rng: &mut impl Rng, time: i64) -> AuditEvent {
    let account = if rng.gen_bool(0.7) { ACCOUNTS[0] } else { ACCOUNTS[rng.gen_range(1..ACCOUNTS.len())] };
    let user = format!("user{:04}", rng.gen_range(0..USERS));
    let name = pick_name(rng);
    let role = format!("role{}", rng.gen_range(0..50));
    let key = format!("AKIA{:016}", rng.gen_range(0..1_000_000u64));
    let source = match name {
        n if n.starts_with("Assume") || n == "GetCallerIdentity" || n == "GetSessionToken" => "sts.amazonaws.com",
        n if n.contains("Account") && !n.contains("AccessKey") && n != "GetAccountSummary" => {
            "organizations.amazonaws.com"
        }
        "DescribeOrganization" => "organizations.amazonaws.com",
        n if n.contains("Trail") || n == "LookupEvents" || n == "StartLogging" => "cloudtrail.amazonaws.com",
        _ => "iam.amazonaws.com",
    };
    let read_only =
        ["Get", "List", "Describe", "Lookup"].iter().any(|p| name.starts_with(p)) || source == "sts.amazonaws.com";
    let denied = rng.gen_bool(0.05);
    let record = CloudTrailRecord {
        event_version: EVENT_VERSION.into(),
        user_identity: UserIdentity {
            // `AUDIT_FILL_UNTRACKED=1`: root calls, which the last-access index skips (to measure
            // what the index costs the indexer).
            identity_type: if untracked() { "Root" } else { "IAMUser" }.into(),
            principal_id: Some(format!("AIDA{:017}", rng.gen_range(0..10_000_000u64))),
            arn: Some(format!("arn:aws:iam::{account}:user/{user}")),
            account_id: Some(account.into()),
            access_key_id: Some(key.clone()),
            user_name: Some(user.clone()),
            ..Default::default()
        },
        event_time: event_time(time),
        event_source: source.into(),
        event_name: name.into(),
        aws_region: "us-east-1".into(),
        source_ip_address: format!("10.{}.{}.{}", rng.gen::<u8>(), rng.gen::<u8>(), rng.gen::<u8>()),
        user_agent: "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/sts.assume-role"
            .into(),
        error_code: denied.then(|| "AccessDenied".to_string()),
        error_message: denied
            .then(|| format!("User: arn:aws:iam::{account}:user/{user} is not authorized to perform: iam:{name}")),
        request_parameters: json!({
            "roleArn": format!("arn:aws:iam::{account}:role/{role}"),
            "roleSessionName": format!("session-{}", rng.gen_range(0..1000)),
            "durationSeconds": 3600,
        }),
        response_elements: if read_only && !name.starts_with("Assume") {
            serde_json::Value::Null
        } else {
            json!({
                "credentials": {"accessKeyId": format!("ASIA{:016}", rng.gen_range(0..u64::MAX/2)), "expiration": "Nov 14, 2023, 11:13:20 PM"},
                "assumedRoleUser": {"assumedRoleId": format!("AROA{:017}:s", rng.gen_range(0..10_000_000u64)),
                                    "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/s")},
            })
        },
        additional_event_data: None,
        request_id: new_event_id(),
        event_id: new_event_id(),
        read_only,
        resources: None,
        event_type: "AwsApiCall".into(),
        management_event: true,
        recipient_account_id: account.into(),
        shared_event_id: None,
        event_category: "Management".into(),
    };
    AuditEvent {
        record,
        event_time_millis: time,
        username: Some(user.clone()),
        resources: vec![
            LookupResource {
                resource_type: "AWS::IAM::Role".into(),
                resource_name: format!("arn:aws:iam::{account}:role/{role}"),
            },
            LookupResource { resource_type: "AWS::IAM::User".into(), resource_name: user },
        ],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn measure(store: &dyn AuditStore, label: &str, mut make: impl FnMut(&mut rand::rngs::StdRng) -> LookupQuery) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut times = Vec::new();
    let mut results = 0usize;
    for _ in 0..300 {
        let q = make(&mut rng);
        let t = Instant::now();
        let page = store.lookup(&q).expect("lookup");
        times.push(t.elapsed());
        results += page.events.len();
    }
    times.sort();
    println!(
        "{label:<44} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  (avg {:.1} events/page)",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        results as f64 / 300.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: audit_fill DIR N"));
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).expect("usage: audit_fill DIR N");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("audit.db");
    let limits = AuditLimits { retention_days: 3650, max_events: u64::MAX / 2 };
    let url = std::env::var("AUDIT_FILL_STORE_URL").ok();
    let (store, shutdown): (Arc<dyn AuditStore>, Box<dyn Fn()>) = match &url {
        Some(url) => {
            let s = Arc::new(PostgresAuditStore::open(&dir, url, SecretBox::new(&[7u8; 32]), limits).expect("open"));
            let s2 = Arc::clone(&s);
            (s, Box::new(move || s2.shutdown()))
        }
        None => {
            let s = Arc::new(SqliteAuditStore::open(&path, SecretBox::new(&[7u8; 32]), limits).expect("open"));
            let s2 = Arc::clone(&s);
            (s, Box::new(move || s2.shutdown()))
        }
    };
    let have = store.max_seq().expect("max_seq") as u64;
    let end = now_millis();
    let span = 80 * 86_400_000i64;
    if have < n {
        println!(
            "filling {} events into {}",
            n - have,
            url.as_deref().map_or(path.display().to_string(), |_| "PostgreSQL".into())
        );
        let t = Instant::now();
        let threads = 2u64;
        let batch = 2000u64;
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(th + have);
                    let mut i = have + th * batch;
                    while i < n {
                        let events: Vec<_> = (i..(i + batch).min(n))
                            .map(|j| make_event(&mut rng, end - span + (j as i64 * span) / n as i64))
                            .collect();
                        store.record(events).expect("record");
                        i += threads * batch;
                        if th == 0 && (i / (threads * batch)).is_multiple_of(250) {
                            eprintln!("  {i} events, {:.0} s", t.elapsed().as_secs_f64());
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let secs = t.elapsed().as_secs_f64();
        println!("filled in {secs:.0} s: {:.0} events/s", (n - have) as f64 / secs);
        // A read indexes every durable event first: what the indexer still had to do.
        let t = Instant::now();
        store.max_seq().expect("max_seq");
        let total = secs + t.elapsed().as_secs_f64();
        println!(
            "indexed {:.1} s later: {:.0} events/s durable and indexed (untracked: {})",
            t.elapsed().as_secs_f64(),
            (n - have) as f64 / total,
            untracked()
        );
    }
    let size: u64 =
        ["audit.db", "audit.db-wal"].iter().filter_map(|f| std::fs::metadata(dir.join(f)).ok()).map(|m| m.len()).sum();
    println!(
        "{} events stored, {:.2} GiB on disk ({:.0} bytes/event)",
        store.max_seq().unwrap_or(0),
        size as f64 / (1u64 << 30) as f64,
        size as f64 / n as f64
    );
    let base = |attribute| LookupQuery {
        account: ACCOUNTS[0].into(),
        attribute,
        start_millis: end - 90 * 86_400_000,
        end_millis: now_millis(),
        max_results: 50,
        after: None,
    };
    measure(store.as_ref(), "Username (first page of 50)", |r| {
        base(Some(LookupAttribute::Username(format!("user{:04}", r.gen_range(0..USERS)))))
    });
    measure(store.as_ref(), "EventName (first page of 50)", |r| {
        base(Some(LookupAttribute::EventName(NAMES[r.gen_range(0..NAMES.len())].into())))
    });
    measure(store.as_ref(), "EventName, rarest name", |_| {
        base(Some(LookupAttribute::EventName("AssumeRoleWithWebIdentity".into())))
    });
    measure(store.as_ref(), "EventName, no such name", |_| {
        base(Some(LookupAttribute::EventName("NoSuchOperation".into())))
    });
    measure(store.as_ref(), "Username, one day 40 days ago", |r| {
        let mut q = base(Some(LookupAttribute::Username(format!("user{:04}", r.gen_range(0..USERS)))));
        q.end_millis = end - 40 * 86_400_000;
        q.start_millis = q.end_millis - 86_400_000;
        q
    });
    measure(store.as_ref(), "EventName, page 2 (NextToken)", |r| {
        let mut q = base(Some(LookupAttribute::EventName(NAMES[r.gen_range(0..NAMES.len())].into())));
        q.after = Some(Cursor { event_time_millis: end - r.gen_range(0..span), seq: i64::MAX });
        q
    });
    measure(store.as_ref(), "ResourceName (role ARN)", |r| {
        base(Some(LookupAttribute::ResourceName(format!(
            "arn:aws:iam::{}:role/role{}",
            ACCOUNTS[0],
            r.gen_range(0..50)
        ))))
    });
    measure(store.as_ref(), "no attribute", |_| base(None));
    shutdown();
}
