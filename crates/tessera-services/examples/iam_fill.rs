//! Fill a Tessera data dir with N IAM users and N roles, each with two customer managed
//! policies attached, for the IAM scale benchmark (`bench/iam_scale.py`, docs/BENCHMARKS.md).
//!
//! ```sh
//! target/release/tessera serve --data-dir DIR   # once, to bootstrap; then stop it (SIGTERM)
//! cargo run --release -p tessera-services --example iam_fill -- DIR N [--batch 5000] [--time-lookups K]
//! ```
//!
//! It opens the store `tessera serve --data-dir DIR` uses (the server must be stopped) and
//! works in the management account as its root user:
//! - the two managed policies (`scale-policy-a`, `scale-policy-b`) are made by the real
//!   `CreatePolicy` operation (`Services::handle`);
//! - users `user-000000`… and roles `role-000000`… are made by the code `CreateUser` and
//!   `CreateRole` run (`create_user_with_quota`, `create_role_with_quota`), and both policies
//!   are attached by `attach_policy_in_txn` (the entity record and the attachment index, as
//!   `AttachUserPolicy` / `AttachRolePolicy` write them), many entities per transaction.
//!
//! The one thing the API would do differently: IAM's default quotas (5,000 users and 1,000 roles
//! per account), which `CreateUser`/`CreateRole` enforce, are not applied. The unit test
//! `records_without_quota_are_those_of_the_api` (iam/users.rs) checks that the records are the
//! same. At the end it reads a few entities back through `GetUser`/`GetRole` and
//! `ListAttached*Policies`; with `--time-lookups K` it times K `GetUser` and K `GetRole` calls of
//! random entities in process (`Services::handle`: authorization and the store, without HTTP,
//! SigV4 or the audit trail); then it prints one JSON line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use tessera_services::authz::{validate_policy_document, PolicyDocKind};
use tessera_services::iam::entities::attach_policy_in_txn;
use tessera_services::iam::roles::{create_role_with_quota, NewRole, DEFAULT_MAX_SESSION_DURATION};
use tessera_services::iam::users::{create_user_with_quota, NewUser};
use tessera_services::model::table;
use tessera_services::{Call, CallMeta, Caller, Config, Dispatch, Input, ServiceName, Services, SystemClock};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_wire::{AwsError, QueryParams};

type Res<T> = Result<T, String>;

const POLICIES: [&str; 2] = ["scale-policy-a", "scale-policy-b"];

fn usage() -> ! {
    eprintln!(
        "usage: iam_fill DIR N [--batch ENTITIES_PER_TXN]   (DIR bootstrapped by `tessera serve`, server stopped)"
    );
    std::process::exit(2);
}

fn aws(e: AwsError) -> String {
    format!("{}: {}", e.code, e.message)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("iam_fill: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else { usage() };
    let n: usize = n.parse().unwrap_or_else(|_| usage());
    let mut batch = 5000usize;
    let mut lookups = 0usize;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--batch", Some(b)) if b > 0 => batch = b,
            ("--time-lookups", Some(k)) => lookups = k,
            _ => usage(),
        }
    }
    let dir = PathBuf::from(dir);
    let services = open(&dir)?;
    let account = tessera_services::bootstrap::management_account(&services)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} is not bootstrapped: run `tessera serve --data-dir` on it once", dir.display()))?;
    {
        let r = services.store.read().map_err(|e| e.to_string())?;
        for tbl in [table::USER, table::ROLE] {
            if r.count(tbl, &format!("{account}/")).map_err(|e| e.to_string())? > 0 {
                return Err(format!("{tbl} of account {account} is not empty: fill a fresh data dir"));
            }
        }
    }
    let root = |op: &str, params: &[(&str, &str)]| -> Res<String> {
        let call = Call {
            caller: Caller::root(&account, "AKIAIAMFILLIAMFILL00"),
            operation: op.to_string(),
            meta: CallMeta {
                request_id: "iam-fill".into(),
                region: "us-east-1".into(),
                source_ip: "127.0.0.1".into(),
                user_agent: "iam_fill".into(),
                secure_transport: false,
                now_millis: services.clock.now_millis(),
            },
        };
        let input = Input::Query(QueryParams::from_pairs(params.iter().copied()));
        let r = services.handle(ServiceName::Iam, &call, &input).map_err(|e| format!("{op}: {}", aws(e)))?;
        String::from_utf8(r.body.to_vec()).map_err(|e| e.to_string())
    };

    let started = Instant::now();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::scale-bucket","arn:aws:s3:::scale-bucket/*"]}]}"#;
    let mut arns = Vec::new();
    for p in POLICIES {
        root("CreatePolicy", &[("PolicyName", p), ("PolicyDocument", doc)])?;
        arns.push(format!("arn:aws:iam::{account}:policy/{p}"));
    }
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    validate_policy_document(&trust, PolicyDocKind::Trust, "role-000000").map_err(aws)?;

    let now = services.clock.now_secs();
    let mut done = 0usize;
    let mut next_report = 0usize;
    while done < n {
        let end = (done + batch).min(n);
        let mut txn = services.store.write().map_err(|e| e.to_string())?;
        for i in done..end {
            let user =
                NewUser { name: format!("user-{i:06}"), path: "/".into(), permissions_boundary: None, tags: vec![] };
            let mut user = create_user_with_quota(txn.as_mut(), &account, user, now, None).map_err(aws)?;
            let role = NewRole {
                name: format!("role-{i:06}"),
                path: "/".into(),
                trust_policy: trust.clone(),
                description: None,
                max_session_duration: DEFAULT_MAX_SESSION_DURATION,
                permissions_boundary: None,
                tags: vec![],
            };
            let mut role = create_role_with_quota(txn.as_mut(), &account, role, now, None).map_err(aws)?;
            for arn in &arns {
                attach_policy_in_txn(txn.as_mut(), &account, &mut user, arn).map_err(aws)?;
                attach_policy_in_txn(txn.as_mut(), &account, &mut role, arn).map_err(aws)?;
            }
        }
        txn.commit().map_err(|e| e.to_string())?;
        done = end;
        if done >= next_report || done == n {
            eprintln!(
                "iam_fill: {done}/{n} users and roles, {:.1} s, {:.0} entities/s",
                started.elapsed().as_secs_f64(),
                (2 * done) as f64 / started.elapsed().as_secs_f64()
            );
            next_report = done + (n / 10).max(batch);
        }
    }
    let secs = started.elapsed().as_secs_f64();

    // Read back through the API: first, middle and last entities, two policies each.
    for i in [0, n / 2, n.saturating_sub(1)].into_iter().filter(|_| n > 0) {
        let u = format!("user-{i:06}");
        let r = format!("role-{i:06}");
        if !root("GetUser", &[("UserName", &u)])?.contains(&format!("<UserName>{u}</UserName>")) {
            return Err(format!("GetUser {u}: wrong answer"));
        }
        if !root("GetRole", &[("RoleName", &r)])?.contains(&format!("<RoleName>{r}</RoleName>")) {
            return Err(format!("GetRole {r}: wrong answer"));
        }
        for (op, param, name) in
            [("ListAttachedUserPolicies", "UserName", &u), ("ListAttachedRolePolicies", "RoleName", &r)]
        {
            let body = root(op, &[(param, name)])?;
            if body.matches("<PolicyArn>").count() != 2 {
                return Err(format!("{op} {name}: expected 2 policies: {body}"));
            }
        }
    }

    // In-process lookups (no HTTP, SigV4 or audit): the IAM operation and the store alone.
    let mut timed = String::new();
    if lookups > 0 && n > 0 {
        let mut rng = rand::thread_rng();
        for (op, param, word) in [("GetUser", "UserName", "user"), ("GetRole", "RoleName", "role")] {
            let mut us = Vec::with_capacity(lookups);
            for _ in 0..lookups {
                let name = format!("{word}-{:06}", rng.gen_range(0..n));
                let t = Instant::now();
                root(op, &[(param, &name)])?;
                us.push(t.elapsed().as_secs_f64() * 1e6);
            }
            us.sort_by(f64::total_cmp);
            let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
            timed.push_str(&format!(
                ",\"{op}_in_process_us\":{{\"median\":{:.1},\"p99\":{:.1},\"n\":{lookups}}}",
                at(0.5),
                at(0.99)
            ));
        }
    }
    println!(
        "{{\"account\":\"{account}\",\"users\":{n},\"roles\":{n},\"managed_policies_per_entity\":2,\"seconds\":{secs:.2},\"entities_per_second\":{:.0}{timed}}}",
        (2 * n) as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// The store and secrets of the data dir, as `tessera serve` opens them.
fn open(dir: &Path) -> Res<Services> {
    let key_path = dir.join("master.key");
    let kek: [u8; 32] = std::fs::read(&key_path)
        .map_err(|e| format!("reading {}: {e}", key_path.display()))?
        .try_into()
        .map_err(|_| format!("{} is not a 32-byte key", key_path.display()))?;
    let store = SqliteStore::open(&dir.join("tessera.db")).map_err(|e| e.to_string())?;
    Ok(Services::new(Arc::new(store), SecretBox::new(&kek), Arc::new(SystemClock), Config { endpoint: String::new() }))
}
