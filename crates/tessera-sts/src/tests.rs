//! Unit tests of STS over an in-memory store and a manual clock.

use std::sync::Arc;

use base64::Engine;
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_store::Store;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::tokens::{self, Claims};
use super::*;
use crate::caller::{CallMeta, CallerKind, SessionInfo};
use crate::clock::ManualClock;
use crate::model::{self, table, Role, Tag, User};
use crate::{Call, Caller, Config, ServiceName, Services};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const T0: i64 = 1_700_000_000;

struct Env {
    services: Services,
    clock: Arc<ManualClock>,
}

fn env_with(store: Arc<SqliteStore>, kek: &[u8; 32]) -> Env {
    let clock = Arc::new(ManualClock::new(T0 * 1000));
    let services =
        Services::new(store, SecretBox::new(kek), clock.clone(), Config { endpoint: "http://127.0.0.1:1".into() });
    Env { services, clock }
}

fn env() -> Env {
    let env = env_with(Arc::new(SqliteStore::open_in_memory().unwrap()), &[7u8; 32]);
    let mut w = env.services.store.write().unwrap();
    let user = User {
        account: ACCT.into(),
        name: "Sandy".into(),
        path: "/".into(),
        user_id: "AIDAAAAAAAAAAAAAAAAAA".into(),
        created: T0,
        tags: vec![],
        permissions_boundary: None,
        inline_policies: vec![],
        attached_policies: vec![],
        groups: vec![],
        login_profile: None,
        password_last_used: None,
    };
    model::save(w.as_mut(), table::USER, &model::name_key(ACCT, "Sandy"), &user).unwrap();
    let role = Role {
        account: OTHER.into(),
        name: "CrossAccountAccessRole".into(),
        path: "/".into(),
        role_id: "AROABBBBBBBBBBBBBBBBB".into(),
        created: T0,
        assume_role_policy_document: format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        ),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        permissions_boundary: None,
        inline_policies: vec![],
        attached_policies: vec![],
        last_used: None,
        source_role_template: None,
    };
    model::save(w.as_mut(), table::ROLE, &model::name_key(OTHER, &role.name), &role).unwrap();
    w.commit().unwrap();
    env
}

fn user_caller() -> Caller {
    Caller {
        account: ACCT.into(),
        arn: format!("arn:aws:iam::{ACCT}:user/Sandy"),
        user_id: "AIDAAAAAAAAAAAAAAAAAA".into(),
        kind: CallerKind::User { name: "Sandy".into(), path: "/".into(), user_id: "AIDAAAAAAAAAAAAAAAAAA".into() },
        access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
        session: None,
    }
}

fn call(env: &Env, caller: Caller, op: &str) -> Call {
    call_at(&env.services, caller, op)
}

/// A call of `op` by `caller` from 127.0.0.1 in us-east-1, at the services' clock (the other test
/// modules use it too).
pub(crate) fn call_at(services: &Services, caller: Caller, op: &str) -> Call {
    Call {
        caller,
        operation: op.into(),
        meta: CallMeta {
            request_id: "req".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            secure_transport: false,
            now_millis: services.clock.now_millis(),
        },
    }
}

fn run(env: &Env, caller: Caller, op: &str, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    let c = call(env, caller, op);
    let p = QueryParams::from_pairs(pairs.iter().copied());
    check_session_scope(&c.caller, ServiceName::Sts, op)?;
    handle(&env.services, &c, &p).map(|r: WireResponse| String::from_utf8(r.body.to_vec()).unwrap())
}

/// The text of the first `<tag>` of `xml`, unescaped (panics when there is none).
pub(crate) fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&apos;", "'")
}

fn full_session() -> (CallerKind, SessionInfo) {
    let kind = CallerKind::AssumedRole {
        role_name: "CrossAccountAccessRole".into(),
        role_path: "/team/".into(),
        role_id: "AROABBBBBBBBBBBBBBBBB".into(),
        session_name: "AWSCLI-Session".into(),
    };
    let info = SessionInfo {
        issued_at: T0,
        expires_at: T0 + 3600,
        mfa_authenticated: true,
        mfa_authenticated_at: Some(T0 - 5),
        source_identity: Some("alice@example.com".into()),
        tags: vec![Tag { key: "team".into(), value: "blue".into() }, Tag { key: "cc".into(), value: "".into() }],
        transitive_tag_keys: vec!["team".into()],
        session_policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
        session_policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        chained: true,
        federated_provider: None,
        issued_by: "AssumeRole".into(),
        source_principal_arn: Some(format!("arn:aws:iam::{ACCT}:user/Sandy")),
        workload_identity: Some(tessera_core::WorkloadIdentity {
            subject: "spiffe://example.org/prod/c1/ns/payments/sa/checkout".into(),
            provider_arn: format!("arn:aws:iam::{ACCT}:workload-identity-provider/p"),
            template_arn: format!("arn:aws:iam::{ACCT}:workload-identity-template/t"),
            provider_account: ACCT.into(),
            scheme: "SPIFFE".into(),
        }),
        scope_policies: vec![r#"{"Version":"2012-10-17","Statement":[]}"#.into()],
    };
    (kind, info)
}

fn issue(env: &Env, kind: &CallerKind, info: &SessionInfo) -> IssuedCredentials {
    assume_role::issue(&env.services, OTHER, kind, info).unwrap()
}

#[test]
fn token_round_trip_restores_caller_and_session() {
    let env = env();
    let (kind, info) = full_session();
    let creds = issue(&env, &kind, &info);
    assert!(creds.access_key_id.starts_with("ASIA") && creds.access_key_id.len() == 20);
    assert_eq!(creds.secret.len(), 40);
    let (caller, secret) =
        session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap();
    assert_eq!(secret, creds.secret);
    assert_eq!(caller.arn, format!("arn:aws:sts::{OTHER}:assumed-role/CrossAccountAccessRole/AWSCLI-Session"));
    assert_eq!(caller.user_id, "AROABBBBBBBBBBBBBBBBB:AWSCLI-Session");
    assert_eq!(caller.account, OTHER);
    assert_eq!(caller.kind, kind);
    assert_eq!(caller.access_key_id, creds.access_key_id);
    assert_eq!(caller.session.as_ref(), Some(&info));
    assert_eq!(caller.role_arn().unwrap(), format!("arn:aws:iam::{OTHER}:role/team/CrossAccountAccessRole"));
}

#[test]
fn every_principal_kind_round_trips() {
    let env = env();
    let info =
        SessionInfo { issued_at: T0, expires_at: T0 + 900, issued_by: "GetSessionToken".into(), ..Default::default() };
    for (kind, arn, user_id) in [
        (CallerKind::Root, format!("arn:aws:iam::{OTHER}:root"), OTHER.to_string()),
        (
            CallerKind::User { name: "u".into(), path: "/p/".into(), user_id: "AIDAX".into() },
            format!("arn:aws:iam::{OTHER}:user/p/u"),
            "AIDAX".to_string(),
        ),
        (
            CallerKind::FederatedUser { name: "Bob".into(), user_name: "Sandy".into() },
            format!("arn:aws:sts::{OTHER}:federated-user/Bob"),
            format!("{OTHER}:Bob"),
        ),
    ] {
        let creds = issue(&env, &kind, &info);
        let (caller, _) = session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap();
        assert_eq!((caller.kind, caller.arn, caller.user_id), (kind, arn, user_id));
    }
}

#[test]
fn tokens_are_compact() {
    let env = env();
    let (kind, mut info) = full_session();
    let creds = issue(&env, &kind, &info);
    assert!(creds.session_token.len() < 700, "{}", creds.session_token.len());
    info.session_policy = None;
    info.tags.clear();
    info.transitive_tag_keys.clear();
    info.session_policy_arns.clear();
    info.source_identity = None;
    info.scope_policies.clear();
    let creds = issue(&env, &kind, &info);
    assert!(creds.session_token.len() < 500, "{}", creds.session_token.len());
    // A 2,048-character session policy still gives a token well under 2 KiB.
    let stmt =
        r#"{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::bucket-name-0000/*"}"#;
    let mut doc = String::from(r#"{"Version":"2012-10-17","Statement":["#);
    while doc.len() + stmt.len() + 3 < 2048 {
        doc.push_str(stmt);
        doc.push(',');
    }
    doc.push_str(stmt);
    doc.push_str("]}");
    info.session_policy = Some(doc);
    let creds = issue(&env, &kind, &info);
    assert!(creds.session_token.len() < 1024, "{}", creds.session_token.len());
    let (caller, _) = session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap();
    assert_eq!(caller.session.unwrap().session_policy, info.session_policy);
}

fn assert_invalid(r: Result<(Caller, String), AwsError>) {
    let e = r.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (403, "InvalidClientTokenId"), "{e}");
    assert_eq!(e.message, "The security token included in the request is invalid.");
}

#[test]
fn tampered_missing_or_misbound_tokens_are_invalid() {
    let env = env();
    let (kind, info) = full_session();
    let creds = issue(&env, &kind, &info);
    let s = &env.services;
    assert_invalid(session_credentials(s, &creds.access_key_id, None));
    assert_invalid(session_credentials(s, &creds.access_key_id, Some("")));
    assert_invalid(session_credentials(s, &creds.access_key_id, Some("not a token")));
    // Bound to its access key id.
    let other = tokens::temporary_access_key_id(OTHER);
    assert_invalid(session_credentials(s, &other, Some(&creds.session_token)));
    // Any flipped bit anywhere.
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&creds.session_token).unwrap();
    for i in [0, 1, 4, 5, 20, 29, raw.len() / 2, raw.len() - 1] {
        let mut t = raw.clone();
        t[i] ^= 0x01;
        let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        assert_invalid(session_credentials(s, &creds.access_key_id, Some(&t)));
    }
    // Truncated.
    assert_invalid(session_credentials(s, &creds.access_key_id, Some(&creds.session_token[..40])));
    // A token of another Tessera (another data dir, other keys).
    let stranger = env_with(Arc::new(SqliteStore::open_in_memory().unwrap()), &[9u8; 32]);
    assert_invalid(session_credentials(&stranger.services, &creds.access_key_id, Some(&creds.session_token)));
}

#[test]
fn expired_tokens_say_so() {
    let env = env();
    let (kind, info) = full_session();
    let creds = issue(&env, &kind, &info);
    env.clock.advance_secs(3599);
    assert!(session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).is_ok());
    env.clock.advance_secs(1);
    let e = session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "ExpiredToken"));
    assert_eq!(e.message, "The security token included in the request is expired");
}

#[test]
fn rotation_keeps_old_tokens_until_they_expire_and_survives_restart() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let env = env_with(store.clone(), &[7u8; 32]);
    let kind = CallerKind::Root;
    let long = SessionInfo {
        issued_at: T0,
        expires_at: T0 + 129_600,
        issued_by: "GetSessionToken".into(),
        ..Default::default()
    };
    let first_key = tokens::current_token_key_id(&env.services).unwrap();
    let old = issue(&env, &kind, &long);
    let new_key = rotate_token_key(&env.services).unwrap();
    assert_ne!(first_key, new_key);
    assert_eq!(tokens::current_token_key_id(&env.services).unwrap(), new_key);
    let new = issue(&env, &kind, &long);
    assert_ne!(old.session_token[..7], new.session_token[..7], "the header names the key");
    for c in [&old, &new] {
        assert!(session_credentials(&env.services, &c.access_key_id, Some(&c.session_token)).is_ok());
    }
    // A restarted process (fresh memory, same store and KEK) verifies both.
    let restarted = env_with(store.clone(), &[7u8; 32]);
    for c in [&old, &new] {
        assert!(session_credentials(&restarted.services, &c.access_key_id, Some(&c.session_token)).is_ok());
    }
    // Another process rotating is noticed by a running one: unknown key ids trigger a reload.
    let third_key = rotate_token_key(&restarted.services).unwrap();
    let third = assume_role::issue(&restarted.services, OTHER, &kind, &long).unwrap();
    env.clock.advance_secs(2);
    assert!(session_credentials(&env.services, &third.access_key_id, Some(&third.session_token)).is_ok());
    // ... and its current key after the cache's lifetime.
    env.clock.advance_secs(61);
    assert_eq!(tokens::current_token_key_id(&env.services).unwrap(), third_key);
    // Past every possible expiry, a rotation drops the first key.
    env.clock.advance_secs(129_600);
    rotate_token_key(&env.services).unwrap();
    assert_invalid(session_credentials(&env.services, &old.access_key_id, Some(&old.session_token)));
    let rows = store.read().unwrap().scan(tokens::TOKEN_KEY_TABLE, "k/", None, 100).unwrap();
    assert!(rows.iter().all(|(k, _)| k != &format!("k/{first_key}")));
    // Key material is sealed at rest.
    let rows = store.read().unwrap().scan(tokens::TOKEN_KEY_TABLE, "k/", None, 100).unwrap();
    for (_, v) in rows {
        let rec: tokens::TokenKeyRecord = serde_json::from_slice(&v).unwrap();
        assert!(rec.sealed.starts_with("v1:"));
    }
}

#[test]
fn claims_survive_the_deflate_path() {
    let env = env();
    let (kind, mut info) = full_session();
    info.tags = (0..50).map(|i| Tag { key: format!("key{i}"), value: "v".repeat(200) }).collect();
    let claims = Claims::new("s".repeat(40), OTHER, &kind, &info);
    let t = tokens::issue_token(&env.services, "ASIAXXXXXXXXXXXXXXXX", &claims).unwrap();
    assert_eq!(tokens::open_token(&env.services, "ASIAXXXXXXXXXXXXXXXX", &t), Some(claims));
}

#[test]
fn temporary_key_ids_carry_the_account() {
    for a in [ACCT, OTHER, "999999999999", "100000000000", "012345678901"] {
        let id = tokens::temporary_access_key_id(a);
        assert_eq!(id.len(), 20);
        assert!(id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(tokens::account_of_temporary_key(&id).as_deref(), Some(a));
    }
    assert_eq!(tokens::account_of_temporary_key("AKIAAAAAAAAAAAAAAAAA"), None);
}

// ---- AssumeRole ----

fn role_arn() -> String {
    format!("arn:aws:iam::{OTHER}:role/CrossAccountAccessRole")
}

fn assume(env: &Env, caller: Caller, extra: &[(&str, &str)]) -> Result<String, AwsError> {
    let arn = role_arn();
    let mut pairs: Vec<(&str, &str)> = vec![("RoleArn", arn.as_str()), ("RoleSessionName", "s1")];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    run(env, caller, "AssumeRole", &pairs)
}

fn expect_validation(r: Result<String, AwsError>, needle: &str) {
    let e = r.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "ValidationError"), "{e}");
    assert!(e.message.contains(needle), "{:?} does not contain {:?}", e.message, needle);
}

#[test]
fn assume_role_model_limits() {
    let env = env();
    let u = user_caller;
    expect_validation(run(&env, u(), "AssumeRole", &[("RoleSessionName", "s1")]), "Value null at 'roleArn'");
    expect_validation(run(&env, u(), "AssumeRole", &[("RoleArn", &role_arn())]), "Value null at 'roleSessionName'");
    expect_validation(
        assume(&env, u(), &[("RoleArn", "arn:aws:iam::1:r")]),
        "at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
    );
    let long_arn = format!("arn:aws:iam::{OTHER}:role/{}", "a".repeat(2030));
    expect_validation(
        assume(&env, u(), &[("RoleArn", &long_arn)]),
        "Member must have length less than or equal to 2048",
    );
    expect_validation(
        assume(&env, u(), &[("RoleSessionName", "s")]),
        "at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
    );
    let name65 = "s".repeat(65);
    expect_validation(
        assume(&env, u(), &[("RoleSessionName", &name65)]),
        &format!("1 validation error detected: Value '{name65}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"),
    );
    expect_validation(
        assume(&env, u(), &[("RoleSessionName", "Session1:2")]),
        r"1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
    );
    expect_validation(assume(&env, u(), &[("DurationSeconds", "899")]), "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900");
    expect_validation(
        assume(&env, u(), &[("DurationSeconds", "43201")]),
        "Member must have value less than or equal to 43200",
    );
    expect_validation(assume(&env, u(), &[("DurationSeconds", "abc")]), "DurationSeconds");
    expect_validation(
        assume(&env, u(), &[("ExternalId", "x")]),
        "at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2",
    );
    let ext = "x".repeat(1225);
    expect_validation(assume(&env, u(), &[("ExternalId", &ext)]), "Member must have length less than or equal to 1224");
    expect_validation(assume(&env, u(), &[("ExternalId", "a b")]), r"[\w+=,.@:\/-]*");
    expect_validation(assume(&env, u(), &[("SourceIdentity", "a")]), "at 'sourceIdentity'");
    expect_validation(assume(&env, u(), &[("SourceIdentity", &"a".repeat(65))]), "at 'sourceIdentity'");
    expect_validation(assume(&env, u(), &[("SourceIdentity", "a:b")]), "at 'sourceIdentity'");
    expect_validation(assume(&env, u(), &[("SerialNumber", "short")]), "at 'serialNumber'");
    expect_validation(assume(&env, u(), &[("TokenCode", "12345")]), "at 'tokenCode'");
    expect_validation(assume(&env, u(), &[("TokenCode", "12345a")]), "at 'tokenCode'");
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[],"x":"{}"}}"#, "a".repeat(2048));
    expect_validation(
        assume(&env, u(), &[("Policy", &policy)]),
        "at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
    );
    expect_validation(assume(&env, u(), &[("Policy", "")]), "at 'policy'");
    // Two failures are reported together.
    expect_validation(
        assume(&env, u(), &[("RoleSessionName", "s"), ("DurationSeconds", "1")]),
        "2 validation errors detected",
    );
}

#[test]
fn assume_role_list_limits() {
    let env = env();
    let arns: Vec<(String, String)> =
        (1..=11).map(|i| (format!("PolicyArns.member.{i}.arn"), format!("arn:aws:iam::{OTHER}:policy/p{i}"))).collect();
    let pairs: Vec<(&str, &str)> = arns.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    expect_validation(
        assume(&env, user_caller(), &pairs),
        "at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
    );
    expect_validation(
        assume(&env, user_caller(), &[("PolicyArns.member.1.arn", "arn:aws:iam::1")]),
        "policyArns.1.member.arn",
    );

    let tags: Vec<(String, String)> = (1..=51)
        .flat_map(|i| {
            [(format!("Tags.member.{i}.Key"), format!("k{i}")), (format!("Tags.member.{i}.Value"), "v".to_string())]
        })
        .collect();
    let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    expect_validation(
        assume(&env, user_caller(), &pairs),
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
    );
    let k129 = "k".repeat(129);
    expect_validation(
        assume(&env, user_caller(), &[("Tags.member.1.Key", &k129), ("Tags.member.1.Value", "v")]),
        "at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
    );
    let v257 = "v".repeat(257);
    expect_validation(
        assume(&env, user_caller(), &[("Tags.member.1.Key", "k"), ("Tags.member.1.Value", &v257)]),
        "at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
    );
    expect_validation(
        assume(&env, user_caller(), &[("Tags.member.1.Key", "a*b"), ("Tags.member.1.Value", "v")]),
        "tags.1.member.key",
    );
    let keys: Vec<(String, String)> =
        (1..=51).map(|i| (format!("TransitiveTagKeys.member.{i}"), format!("k{i}"))).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    expect_validation(
        assume(&env, user_caller(), &pairs),
        "at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50",
    );
}

fn expect(r: Result<String, AwsError>, status: u16, code: &str, message: &str) {
    let e = r.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (status, code), "{e}");
    assert!(e.message.contains(message), "{:?} does not contain {:?}", e.message, message);
}

#[test]
fn assume_role_business_rules() {
    let env = env();
    let u = user_caller;
    // Root users cannot assume roles.
    let root = Caller::root(ACCT, "AKIAROOT");
    expect(assume(&env, root, &[]), 403, "AccessDenied", "Roles may not be assumed by root accounts.");
    // Malformed ARNs.
    expect(
        assume(&env, u(), &[("RoleArn", "nothing-valid-in-here")]),
        400,
        "ValidationError",
        "nothing-valid-in-here is invalid",
    );
    // Tags.
    expect(
        assume(
            &env,
            u(),
            &[
                ("Tags.member.1.Key", "Dept"),
                ("Tags.member.1.Value", "a"),
                ("Tags.member.2.Key", "dept"),
                ("Tags.member.2.Value", "b"),
            ],
        ),
        400,
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );
    expect(
        assume(
            &env,
            u(),
            &[("Tags.member.1.Key", "Dept"), ("Tags.member.1.Value", "a"), ("TransitiveTagKeys.member.1", "team")],
        ),
        400,
        "InvalidParameterValue",
        "The specified transitive tag key must be included in the requested tags.",
    );
    // Session policies.
    expect(assume(&env, u(), &[("Policy", "{not json")]), 400, "MalformedPolicyDocument", "");
    expect(
        assume(&env, u(), &[("PolicyArns.member.1.arn", "arn:aws:s3:::bucket-name-long")]),
        400,
        "ValidationError",
        "is invalid",
    );
    // MFA.
    expect(
        assume(&env, u(), &[("SerialNumber", &format!("arn:aws:iam::{ACCT}:mfa/Sandy"))]),
        403,
        "AccessDenied",
        "must provide both MFA serial number and one time pass code",
    );
    expect(
        assume(&env, u(), &[("SerialNumber", &format!("arn:aws:iam::{ACCT}:mfa/Sandy")), ("TokenCode", "123456")]),
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    );
    expect(
        assume(
            &env,
            u(),
            &[
                ("ProvidedContexts.member.1.ProviderArn", "arn:aws:iam::aws:contextProvider/IdentityCenter"),
                ("ProvidedContexts.member.1.ContextAssertion", "abcd"),
            ],
        ),
        400,
        "InvalidParameterValue",
        "ProvidedContexts",
    );
}

#[test]
fn a_missing_role_is_denied_exactly_like_a_refused_one() {
    let env = env();
    let existing = assume(&env, user_caller(), &[]).unwrap_err();
    let missing_arn = format!("arn:aws:iam::{OTHER}:role/NoSuchRole");
    let missing = assume(&env, user_caller(), &[("RoleArn", &missing_arn)]).unwrap_err();
    let wrong_path = format!("arn:aws:iam::{OTHER}:role/other/CrossAccountAccessRole");
    let wrong_path = assume(&env, user_caller(), &[("RoleArn", &wrong_path)]).unwrap_err();
    for e in [&existing, &missing, &wrong_path] {
        assert_eq!((e.status, e.code.as_str()), (403, "AccessDenied"));
        assert!(e.message.starts_with(&format!("User: arn:aws:iam::{ACCT}:user/Sandy is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{OTHER}:role/")), "{}", e.message);
    }
    assert_eq!(missing.message.replace("NoSuchRole", "X"), existing.message.replace("CrossAccountAccessRole", "X"));
    assert!(existing.message.ends_with("role/CrossAccountAccessRole"), "no reason clause: {}", existing.message);
    // Durations past the role's maximum are not revealed for roles the caller may not assume.
    let e = assume(&env, user_caller(), &[("RoleArn", &missing_arn), ("DurationSeconds", "43200")]).unwrap_err();
    assert_eq!(e.code, "AccessDenied");
}

#[test]
fn session_credentials_cannot_get_session_or_federation_tokens() {
    let env = env();
    let (kind, info) = full_session();
    let creds = issue(&env, &kind, &info);
    let (caller, _) = session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap();
    expect(
        run(&env, caller.clone(), "GetSessionToken", &[]),
        403,
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    );
    expect(
        run(&env, caller, "GetFederationToken", &[("Name", "Bob")]),
        403,
        "AccessDenied",
        "Cannot call GetFederationToken with session credentials",
    );
}

// ---- GetSessionToken ----

#[test]
fn get_session_token_for_users_and_root() {
    let env = env();
    let xml = run(&env, user_caller(), "GetSessionToken", &[]).unwrap();
    let key = xml_value(&xml, "AccessKeyId");
    let token = xml_value(&xml, "SessionToken");
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 43_200));
    let (caller, secret) = session_credentials(&env.services, &key, Some(&token)).unwrap();
    assert_eq!(secret, xml_value(&xml, "SecretAccessKey"));
    assert_eq!(caller.arn, format!("arn:aws:iam::{ACCT}:user/Sandy"));
    let session = caller.session.clone().unwrap();
    assert_eq!(session.issued_by, "GetSessionToken");
    assert!(!session.mfa_authenticated);
    // Such credentials: no IAM without MFA, STS only AssumeRole and GetCallerIdentity.
    let e = check_session_scope(&caller, ServiceName::Iam, "ListUsers").unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (403, "InvalidClientTokenId"));
    assert!(check_session_scope(&caller, ServiceName::Sts, "AssumeRole").is_ok());
    assert!(check_session_scope(&caller, ServiceName::Sts, "GetCallerIdentity").is_ok());
    assert!(check_session_scope(&caller, ServiceName::Ec2, "DescribeInstances").is_ok());
    for op in ["GetSessionToken", "GetFederationToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage"] {
        let e = check_session_scope(&caller, ServiceName::Sts, op).unwrap_err();
        assert_eq!(e.code, "AccessDenied", "{op}");
    }
    let mut with_mfa = caller.clone();
    with_mfa.session.as_mut().unwrap().mfa_authenticated = true;
    assert!(check_session_scope(&with_mfa, ServiceName::Iam, "ListUsers").is_ok());
    // GetCallerIdentity with them.
    let xml = run(&env, caller, "GetCallerIdentity", &[]).unwrap();
    assert_eq!(xml_value(&xml, "Arn"), format!("arn:aws:iam::{ACCT}:user/Sandy"));

    // Durations.
    let xml = run(&env, user_caller(), "GetSessionToken", &[("DurationSeconds", "129600")]).unwrap();
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 129_600));
    expect_validation(
        run(&env, user_caller(), "GetSessionToken", &[("DurationSeconds", "129601")]),
        "Member must have value less than or equal to 129600",
    );
    expect_validation(
        run(&env, user_caller(), "GetSessionToken", &[("DurationSeconds", "899")]),
        "Member must have value greater than or equal to 900",
    );
    // Root: one hour at most.
    let xml = run(&env, Caller::root(ACCT, "AKIAROOT"), "GetSessionToken", &[("DurationSeconds", "7200")]).unwrap();
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    let xml = run(&env, Caller::root(ACCT, "AKIAROOT"), "GetSessionToken", &[]).unwrap();
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    // MFA that does not verify.
    expect(
        run(
            &env,
            user_caller(),
            "GetSessionToken",
            &[("SerialNumber", &format!("arn:aws:iam::{ACCT}:mfa/Sandy")), ("TokenCode", "000000")],
        ),
        403,
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    );
    expect(
        run(&env, user_caller(), "GetSessionToken", &[("TokenCode", "000000")]),
        403,
        "AccessDenied",
        "must provide both",
    );
}

// ---- GetFederationToken ----

#[test]
fn get_federation_token() {
    let env = env();
    let root = || Caller::root(ACCT, "AKIAROOT");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let xml =
        run(&env, root(), "GetFederationToken", &[("Name", "Bob"), ("Policy", policy), ("DurationSeconds", "7200")])
            .unwrap();
    assert_eq!(xml_value(&xml, "FederatedUserId"), format!("{ACCT}:Bob"));
    assert_eq!(xml_value(&xml, "Arn"), format!("arn:aws:sts::{ACCT}:federated-user/Bob"));
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    let size: u32 = xml_value(&xml, "PackedPolicySize").parse().unwrap();
    assert!(size > 0 && size < 20, "{size}");
    let (caller, _) =
        session_credentials(&env.services, &xml_value(&xml, "AccessKeyId"), Some(&xml_value(&xml, "SessionToken")))
            .unwrap();
    assert_eq!(caller.kind, CallerKind::FederatedUser { name: "Bob".into(), user_name: String::new() });
    assert_eq!(caller.user_id, format!("{ACCT}:Bob"));
    let session = caller.session.clone().unwrap();
    assert_eq!(session.session_policy.as_deref(), Some(policy));
    assert_eq!(session.issued_by, "GetFederationToken");
    // Federated users: no IAM, no STS but GetCallerIdentity.
    assert_eq!(check_session_scope(&caller, ServiceName::Iam, "ListUsers").unwrap_err().code, "InvalidClientTokenId");
    assert_eq!(check_session_scope(&caller, ServiceName::Sts, "AssumeRole").unwrap_err().code, "AccessDenied");
    assert!(check_session_scope(&caller, ServiceName::Sts, "GetCallerIdentity").is_ok());
    let xml = run(&env, caller, "GetCallerIdentity", &[]).unwrap();
    assert_eq!(xml_value(&xml, "Arn"), format!("arn:aws:sts::{ACCT}:federated-user/Bob"));

    // Limits.
    expect_validation(run(&env, root(), "GetFederationToken", &[]), "Value null at 'name'");
    expect_validation(
        run(&env, root(), "GetFederationToken", &[("Name", "B")]),
        "at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2",
    );
    expect_validation(
        run(&env, root(), "GetFederationToken", &[("Name", &"B".repeat(33))]),
        "Member must have length less than or equal to 32",
    );
    expect_validation(run(&env, root(), "GetFederationToken", &[("Name", "Bo b")]), "at 'name'");
    expect_validation(
        run(&env, root(), "GetFederationToken", &[("Name", "Bob"), ("DurationSeconds", "129601")]),
        "durationSeconds",
    );
    let big = format!(r#"{{"Version":"2012-10-17","Statement":[],"x":"{}"}}"#, "a".repeat(2048));
    expect_validation(run(&env, root(), "GetFederationToken", &[("Name", "Bob"), ("Policy", &big)]), "at 'policy'");
    // Authorization: the user's identity policy must allow sts:GetFederationToken.
    expect(
        run(&env, user_caller(), "GetFederationToken", &[("Name", "Bob")]),
        403,
        "AccessDenied",
        &format!(
            "is not authorized to perform: sts:GetFederationToken on resource: arn:aws:sts::{ACCT}:federated-user/Bob"
        ),
    );
}

#[test]
fn packed_policy_too_large() {
    let env = env();
    let mut pairs: Vec<(String, String)> = vec![("Name".into(), "Bob".into())];
    for i in 1..=50 {
        pairs.push((
            format!("Tags.member.{i}.Key"),
            format!("k{i}-{}", crate::ids::secret_access_key().replace(['+', '/'], "")),
        ));
        pairs.push((
            format!("Tags.member.{i}.Value"),
            crate::ids::secret_access_key().repeat(6).replace(['+', '/'], ""),
        ));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Under the authz stub only root passes authorization; TagSession too.
    let e = run(&env, Caller::root(ACCT, "AKIAROOT"), "GetFederationToken", &pairs).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "PackedPolicyTooLarge"), "{e}");
    assert!(
        e.message.starts_with("Packed policy consumes ")
            && e.message.ends_with("% of allotted space, please use smaller policy.")
    );
}

// ---- GetAccessKeyInfo, DecodeAuthorizationMessage ----

#[test]
fn get_access_key_info() {
    let env = env();
    let root = || Caller::root(ACCT, "AKIAROOT");
    let asia = tokens::temporary_access_key_id(OTHER);
    let xml = run(&env, root(), "GetAccessKeyInfo", &[("AccessKeyId", &asia)]).unwrap();
    assert_eq!(xml_value(&xml, "Account"), OTHER);
    let known = model::AccessKey {
        access_key_id: "AKIAKNOWNKNOWNKNOWN1".into(),
        account: OTHER.into(),
        owner: model::KeyOwner::Root,
        secret_sealed: String::new(),
        status: "Active".into(),
        created: T0,
        last_used: None,
    };
    {
        let mut w = env.services.store.write().unwrap();
        model::save(w.as_mut(), table::ACCESS_KEY, &known.access_key_id, &known).unwrap();
        w.commit().unwrap();
    }
    let xml = run(&env, root(), "GetAccessKeyInfo", &[("AccessKeyId", "AKIAKNOWNKNOWNKNOWN1")]).unwrap();
    assert_eq!(xml_value(&xml, "Account"), OTHER);
    expect(
        run(&env, root(), "GetAccessKeyInfo", &[("AccessKeyId", "AKIAUNKNOWNUNKNOWN11")]),
        400,
        "InvalidParameterValue",
        "not known",
    );
    expect_validation(
        run(&env, root(), "GetAccessKeyInfo", &[("AccessKeyId", "AKIASHORT")]),
        "at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16",
    );
    expect_validation(run(&env, root(), "GetAccessKeyInfo", &[("AccessKeyId", "AKIA-BAD-BAD-BAD-BAD")]), r"[\w]*");
    expect_validation(run(&env, root(), "GetAccessKeyInfo", &[]), "Value null at 'accessKeyId'");
    expect(
        run(&env, user_caller(), "GetAccessKeyInfo", &[("AccessKeyId", &asia)]),
        403,
        "AccessDenied",
        "sts:GetAccessKeyInfo",
    );
}

#[test]
fn decode_authorization_message() {
    let env = env();
    let root = || Caller::root(ACCT, "AKIAROOT");
    let json = r#"{"allowed":false,"explicitDeny":false,"context":{"action":"s3:PutObject"}}"#;
    let encoded = encode_authorization_message(&env.services, json).unwrap();
    let xml = run(&env, root(), "DecodeAuthorizationMessage", &[("EncodedMessage", &encoded)]).unwrap();
    assert_eq!(xml_value(&xml, "DecodedMessage"), json);
    // Session tokens are not authorization messages, and tampering is detected.
    let (kind, info) = full_session();
    let creds = issue(&env, &kind, &info);
    let mut tampered = encoded.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    for bad in [creds.session_token, String::from_utf8(tampered).unwrap(), "x".into()] {
        expect(
            run(&env, root(), "DecodeAuthorizationMessage", &[("EncodedMessage", &bad)]),
            400,
            "InvalidAuthorizationMessageException",
            "",
        );
    }
    expect_validation(
        run(&env, root(), "DecodeAuthorizationMessage", &[("EncodedMessage", &"x".repeat(10241))]),
        "encodedMessage",
    );
    expect(
        run(&env, user_caller(), "DecodeAuthorizationMessage", &[("EncodedMessage", &encoded)]),
        403,
        "AccessDenied",
        "sts:DecodeAuthorizationMessage",
    );
    // Still decodable after a rotation.
    rotate_token_key(&env.services).unwrap();
    assert!(run(&env, root(), "DecodeAuthorizationMessage", &[("EncodedMessage", &encoded)]).is_ok());
}

#[test]
fn get_delegated_access_token_refuses_missing_and_garbage_tokens() {
    // GetDelegatedAccessToken: sts/delegated_access.rs (the flow is in the e2e tests).
    let env = env();
    let e = run(&env, user_caller(), "GetDelegatedAccessToken", &[]).unwrap_err();
    assert_eq!(e.status, 400, "{e:?}");
    for garbage in ["x", "no-dot-at-all-in-here", "dr-0123456789abcdef", ".", "é.é"] {
        let e = run(&env, user_caller(), "GetDelegatedAccessToken", &[("TradeInToken", garbage)]).unwrap_err();
        assert_eq!(e.code, "ExpiredTradeInTokenException", "{garbage}");
    }
}

// ---- AssumeRole through the policy engine ----

const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]}"#;

fn set_user_policies(env: &Env, policies: &[&str]) {
    let mut w = env.services.store.write().unwrap();
    let key = model::name_key(ACCT, "Sandy");
    let mut user: User = model::load(w.as_ref(), table::USER, &key).unwrap().unwrap();
    user.inline_policies = policies.iter().enumerate().map(|(i, d)| (format!("p{i}"), d.to_string())).collect();
    model::save(w.as_mut(), table::USER, &key, &user).unwrap();
    w.commit().unwrap();
}

fn put_role(env: &Env, name: &str, trust: &str, max: i64, inline: &[&str]) {
    let mut w = env.services.store.write().unwrap();
    let key = model::name_key(OTHER, name);
    let role = Role {
        account: OTHER.into(),
        name: name.into(),
        path: "/".into(),
        role_id: format!(
            "AROA{:0>17}",
            name.to_uppercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(17).collect::<String>()
        ),
        created: T0,
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: max,
        tags: vec![Tag { key: "team".into(), value: "role-tag".into() }],
        permissions_boundary: None,
        inline_policies: inline.iter().enumerate().map(|(i, d)| (format!("p{i}"), d.to_string())).collect(),
        attached_policies: vec![],
        last_used: None,
        source_role_template: None,
    };
    model::save(w.as_mut(), table::ROLE, &key, &role).unwrap();
    w.commit().unwrap();
}

fn trust(principal: &str, actions: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":{actions}{condition}}}]}}"#
    )
}

fn session_of(env: &Env, xml: &str) -> Caller {
    let (caller, secret) =
        session_credentials(&env.services, &xml_value(xml, "AccessKeyId"), Some(&xml_value(xml, "SessionToken")))
            .unwrap();
    assert_eq!(secret, xml_value(xml, "SecretAccessKey"));
    caller
}

#[test]
fn assume_role_succeeds_when_identity_and_trust_allow() {
    let env = env();
    // Identity policy missing on the caller's side: denied.
    expect(assume(&env, user_caller(), &[]), 403, "AccessDenied", "is not authorized to perform: sts:AssumeRole");
    set_user_policies(&env, &[ALLOW_ASSUME]);
    let xml = assume(&env, user_caller(), &[("RoleSessionName", "AWSCLI-Session")]).unwrap();
    assert_eq!(
        xml_value(&xml, "Arn"),
        format!("arn:aws:sts::{OTHER}:assumed-role/CrossAccountAccessRole/AWSCLI-Session")
    );
    assert_eq!(xml_value(&xml, "AssumedRoleId"), "AROABBBBBBBBBBBBBBBBB:AWSCLI-Session");
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    assert!(!xml.contains("PackedPolicySize") && !xml.contains("SourceIdentity"));
    let caller = session_of(&env, &xml);
    assert_eq!(caller.account, OTHER);
    let s = caller.session.clone().unwrap();
    assert!(!s.chained && s.issued_by == "AssumeRole" && s.issued_at == T0);
    assert_eq!(s.source_principal_arn, Some(format!("arn:aws:iam::{ACCT}:user/Sandy")));
    let who = run(&env, caller, "GetCallerIdentity", &[]).unwrap();
    assert_eq!(xml_value(&who, "UserId"), "AROABBBBBBBBBBBBBBBBB:AWSCLI-Session");
    // RoleLastUsed is recorded.
    let r = env.services.store.read().unwrap();
    let role: Role =
        model::load(r.as_ref(), table::ROLE, &model::name_key(OTHER, "CrossAccountAccessRole")).unwrap().unwrap();
    assert_eq!(role.last_used, Some((T0, "us-east-1".to_string())));
    drop(r);
    // Durations: the role's maximum, as AWS words it.
    expect(
        assume(&env, user_caller(), &[("DurationSeconds", "3601")]),
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    assert!(assume(&env, user_caller(), &[("DurationSeconds", "900")]).is_ok());
    // An explicit deny wins.
    set_user_policies(
        &env,
        &[
            ALLOW_ASSUME,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ],
    );
    expect(assume(&env, user_caller(), &[]), 403, "AccessDenied", "sts:AssumeRole");
}

#[test]
fn trust_policy_conditions_and_principals() {
    let env = env();
    set_user_policies(&env, &[ALLOW_ASSUME]);
    // Trust naming another account.
    put_role(&env, "Elsewhere", &trust("arn:aws:iam::999988887777:root", r#""sts:AssumeRole""#, ""), 3600, &[]);
    let arn = format!("arn:aws:iam::{OTHER}:role/Elsewhere");
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "sts:AssumeRole");
    // ExternalId required by the trust policy (seed 003).
    let cond = r#","Condition":{"StringEquals":{"sts:ExternalId":"12345678TESTID"}}"#;
    put_role(
        &env,
        "WithExternalId",
        &trust(&format!("arn:aws:iam::{ACCT}:root"), r#""sts:AssumeRole""#, cond),
        3600,
        &[],
    );
    let arn = format!("arn:aws:iam::{OTHER}:role/WithExternalId");
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "sts:AssumeRole");
    expect(assume(&env, user_caller(), &[("RoleArn", &arn), ("ExternalId", "wrong-id")]), 403, "AccessDenied", "");
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn), ("ExternalId", "12345678TESTID")]).is_ok());
    // MFA required by the trust policy: long-term credentials without MFA are refused.
    let cond = r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#;
    put_role(&env, "NeedsMfa", &trust(&format!("arn:aws:iam::{ACCT}:root"), r#""sts:AssumeRole""#, cond), 3600, &[]);
    let arn = format!("arn:aws:iam::{OTHER}:role/NeedsMfa");
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "");
    // Session name conditions.
    let cond = r#","Condition":{"StringLike":{"sts:RoleSessionName":"${aws:username}"}}"#;
    put_role(
        &env,
        "NamedSessions",
        &trust(&format!("arn:aws:iam::{ACCT}:root"), r#""sts:AssumeRole""#, cond),
        3600,
        &[],
    );
    let arn = format!("arn:aws:iam::{OTHER}:role/NamedSessions");
    expect(assume(&env, user_caller(), &[("RoleArn", &arn), ("RoleSessionName", "someone")]), 403, "AccessDenied", "");
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn), ("RoleSessionName", "Sandy")]).is_ok());
}

/// AssumeRole keeps roles in a cache tagged with the store's generation: a change to the role,
/// its removal or its creation shows in the very next call.
#[test]
fn assume_role_sees_every_change_to_the_role_at_once() {
    let env = env();
    set_user_policies(&env, &[ALLOW_ASSUME]);
    let arn = format!("arn:aws:iam::{OTHER}:role/Cached");
    let mine = trust(&format!("arn:aws:iam::{ACCT}:root"), r#""sts:AssumeRole""#, "");
    // Absent (and that answer cached), then created.
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "sts:AssumeRole");
    put_role(&env, "Cached", &mine, 3600, &[]);
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn)]).is_ok());
    // Its trust policy changed to name another account, then back.
    put_role(&env, "Cached", &trust("arn:aws:iam::999988887777:root", r#""sts:AssumeRole""#, ""), 3600, &[]);
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "sts:AssumeRole");
    put_role(&env, "Cached", &mine, 3600, &[]);
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn)]).is_ok());
    // Its maximum session duration lowered.
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn), ("DurationSeconds", "7200")]).is_err());
    put_role(&env, "Cached", &mine, 7200, &[]);
    assert!(assume(&env, user_caller(), &[("RoleArn", &arn), ("DurationSeconds", "7200")]).is_ok());
    // Deleted.
    let mut w = env.services.store.write().unwrap();
    w.delete(table::ROLE, &model::name_key(OTHER, "Cached")).unwrap();
    w.commit().unwrap();
    expect(assume(&env, user_caller(), &[("RoleArn", &arn)]), 403, "AccessDenied", "sts:AssumeRole");
}

#[test]
fn session_tags_source_identity_and_chaining() {
    let env = env();
    set_user_policies(&env, &[ALLOW_ASSUME]);
    let all = r#"["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]"#;
    put_role(&env, "First", &trust(&format!("arn:aws:iam::{ACCT}:root"), all, ""), 43200, &[ALLOW_ASSUME]);
    put_role(&env, "Second", &trust(&format!("arn:aws:iam::{OTHER}:root"), all, ""), 43200, &[ALLOW_ASSUME]);
    put_role(&env, "NoTagging", &trust(&format!("arn:aws:iam::{OTHER}:root"), r#""sts:AssumeRole""#, ""), 43200, &[]);
    let first = format!("arn:aws:iam::{OTHER}:role/First");
    let second = format!("arn:aws:iam::{OTHER}:role/Second");
    // The trust policy must allow sts:TagSession for tags.
    expect(
        assume(
            &env,
            user_caller(),
            &[
                ("RoleArn", &format!("arn:aws:iam::{OTHER}:role/CrossAccountAccessRole")),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "x"),
            ],
        ),
        403,
        "AccessDenied",
        "sts:TagSession",
    );
    let xml = assume(
        &env,
        user_caller(),
        &[
            ("RoleArn", &first),
            ("DurationSeconds", "43200"),
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "blue"),
            ("Tags.member.2.Key", "cost"),
            ("Tags.member.2.Value", "42"),
            ("TransitiveTagKeys.member.1", "Team"),
            ("SourceIdentity", "alice"),
            ("Policy", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#),
        ],
    )
    .unwrap();
    assert_eq!(xml_value(&xml, "SourceIdentity"), "alice");
    let packed: u32 = xml_value(&xml, "PackedPolicySize").parse().unwrap();
    assert!(packed > 0 && packed < 100);
    let session1 = session_of(&env, &xml);
    let s = session1.session.clone().unwrap();
    assert_eq!(s.tags.len(), 2);
    assert_eq!(s.transitive_tag_keys, vec!["Team".to_string()]);
    assert_eq!(s.source_identity.as_deref(), Some("alice"));
    assert!(s.session_policy.is_some());

    // Role chaining: at most one hour.
    expect(
        assume(&env, session1.clone(), &[("RoleArn", &second), ("DurationSeconds", "3601")]),
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    );
    // The source identity cannot change.
    expect(
        assume(&env, session1.clone(), &[("RoleArn", &second), ("SourceIdentity", "mallory")]),
        400,
        "InvalidParameterValue",
        "SourceIdentity",
    );
    // An inherited transitive tag cannot be overridden (whatever its case).
    expect(
        assume(
            &env,
            session1.clone(),
            &[("RoleArn", &second), ("Tags.member.1.Key", "team"), ("Tags.member.1.Value", "red")],
        ),
        400,
        "InvalidParameterValue",
        "conflicts with a transitive tag key from the calling session",
    );
    // Inherited tags and source identity need sts:TagSession / sts:SetSourceIdentity in the next trust policy.
    expect(
        assume(&env, session1.clone(), &[("RoleArn", &format!("arn:aws:iam::{OTHER}:role/NoTagging"))]),
        403,
        "AccessDenied",
        "",
    );
    let xml = assume(
        &env,
        session1.clone(),
        &[("RoleArn", &second), ("Tags.member.1.Key", "env"), ("Tags.member.1.Value", "dev")],
    )
    .unwrap();
    assert_eq!(xml_value(&xml, "SourceIdentity"), "alice");
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    let session2 = session_of(&env, &xml);
    let s2 = session2.session.clone().unwrap();
    assert!(s2.chained);
    assert_eq!(s2.source_identity.as_deref(), Some("alice"));
    let tags: Vec<(String, String)> = s2.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
    assert_eq!(
        tags,
        vec![("Team".into(), "blue".into()), ("env".into(), "dev".into())],
        "transitive tags carry, others do not"
    );
    assert_eq!(s2.transitive_tag_keys, vec!["Team".to_string()]);
    assert_eq!(s2.source_principal_arn.as_deref(), Some(session1.arn.as_str()));
    assert!(s2.session_policy.is_none());
}

/// `cargo test --release -p tessera-sts token_throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn token_throughput() {
    let env = env();
    let (kind, info) = full_session();
    let n = 20_000;
    let start = std::time::Instant::now();
    let mut last = None;
    for _ in 0..n {
        last = Some(issue(&env, &kind, &info));
    }
    let issued = start.elapsed();
    let creds = last.unwrap();
    let start = std::time::Instant::now();
    for _ in 0..n {
        session_credentials(&env.services, &creds.access_key_id, Some(&creds.session_token)).unwrap();
    }
    let verified = start.elapsed();
    let mut plain = info.clone();
    plain.session_policy = None;
    plain.tags.clear();
    let start = std::time::Instant::now();
    for _ in 0..n {
        issue(&env, &kind, &plain);
    }
    println!("issue without policy/tags: {:.0}/s", n as f64 / start.elapsed().as_secs_f64());
    let start = std::time::Instant::now();
    for _ in 0..n {
        tokens::deflated_len(info.session_policy.as_deref().unwrap().as_bytes());
    }
    println!("deflate alone: {:.0}/s", n as f64 / start.elapsed().as_secs_f64());
    let start = std::time::Instant::now();
    for _ in 0..n {
        crate::ids::secret_access_key();
        tokens::temporary_access_key_id(OTHER);
    }
    println!("ids alone: {:.0}/s", n as f64 / start.elapsed().as_secs_f64());
    println!(
        "issue: {:.0}/s, verify: {:.0}/s (one core), token {} chars",
        n as f64 / issued.as_secs_f64(),
        n as f64 / verified.as_secs_f64(),
        creds.session_token.len()
    );
}

#[test]
fn context_assertions_open_only_for_their_provider_and_intact() {
    let env = env();
    let a = format!("arn:aws:iam::{ACCT}:workload-identity-provider/a");
    let b = format!("arn:aws:iam::{ACCT}:workload-identity-provider/b");
    let sealed = tokens::seal_context_assertion(&env.services, &a, br#"{"x":1}"#).unwrap();
    assert_eq!(tokens::open_context_assertion(&env.services, &a, &sealed).as_deref(), Some(&br#"{"x":1}"#[..]));
    assert!(!sealed.contains("x\""), "the claims are sealed, not readable");
    assert_eq!(tokens::open_context_assertion(&env.services, &b, &sealed), None);
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(tokens::open_context_assertion(&env.services, &a, &tampered), None);
    // Another kind of sealed blob (an authorization message) is not an assertion.
    let message = tokens::encode_authorization_message(&env.services, "{}").unwrap();
    assert_eq!(tokens::open_context_assertion(&env.services, "", &message), None);
    // The assertion survives a key rotation (the old key still verifies).
    tokens::rotate_token_key(&env.services).unwrap();
    assert!(tokens::open_context_assertion(&env.services, &a, &sealed).is_some());
}

#[test]
fn a_workload_context_is_redeemed_before_it_expires_by_its_requester_for_its_role() {
    use crate::workload_context::{redeem, requester, ContextClaims};
    let env = env();
    let provider = format!("arn:aws:iam::{ACCT}:workload-identity-provider/p");
    let role = format!("arn:aws:iam::{ACCT}:role/pods");
    let c = call(&env, user_caller(), "AssumeRole");
    let claims = ContextClaims {
        identity: tessera_core::WorkloadIdentity { provider_arn: provider.clone(), ..Default::default() },
        service: "pods.eks.amazonaws.com".into(),
        source_account: ACCT.into(),
        source_arn: String::new(),
        requester: requester(&c),
        role_arn: role.clone(),
        issued_at: T0,
        expires_at: T0 + 60,
        session_expires_at: None,
    };
    let sealed =
        tokens::seal_context_assertion(&env.services, &provider, &serde_json::to_vec(&claims).unwrap()).unwrap();
    assert_eq!(redeem(&env.services, &c, &provider, &sealed, &role).unwrap(), claims);
    let code = |r: Result<ContextClaims, AwsError>| r.err().map(|e| (e.code, e.message));
    let other_role = format!("arn:aws:iam::{ACCT}:role/other");
    assert!(code(redeem(&env.services, &c, &provider, &sealed, &other_role))
        .is_some_and(|(c, _)| c == "InvalidContextAssertion"));
    let mut other = user_caller();
    other.arn = format!("arn:aws:iam::{ACCT}:user/someone-else");
    let c_other = call(&env, other, "AssumeRole");
    assert!(code(redeem(&env.services, &c_other, &provider, &sealed, &role))
        .is_some_and(|(c, _)| c == "InvalidContextAssertion"));
    env.clock.advance_secs(60);
    let c_late = call(&env, user_caller(), "AssumeRole");
    let expired = code(redeem(&env.services, &c_late, &provider, &sealed, &role));
    assert!(expired.is_some_and(|(c, m)| c == "InvalidContextAssertion" && m.contains("expired")));
}

/// A role session of `CrossAccountAccessRole` (which may do anything in its account), for
/// `GetScopedCredentials`.
fn role_session(env: &Env) -> Caller {
    set_user_policies(env, &[ALLOW_ASSUME]);
    put_role(
        env,
        "CrossAccountAccessRole",
        &trust(&format!("arn:aws:iam::{ACCT}:root"), r#""sts:AssumeRole""#, ""),
        3600,
        &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#],
    );
    session_of(env, &assume(env, user_caller(), &[]).unwrap())
}

fn scope(env: &Env, caller: Caller, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    run(env, caller, "GetScopedCredentials", pairs)
}

const S3_AND_SCOPE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sts:GetScopedCredentials"],"Resource":"*"}]}"#;

#[test]
fn scoped_credentials_keep_the_identity_and_stack_layers() {
    let env = env();
    let session = role_session(&env);
    // Later than the session was issued: the scoped credentials keep its issue time.
    env.clock.advance_secs(100);
    let xml = scope(&env, session.clone(), &[("Policy", S3_AND_SCOPE), ("ScopedSessionDescription", "agent")]).unwrap();
    assert_eq!(xml_value(&xml, "Arn"), session.arn);
    assert_eq!(xml_value(&xml, "ScopedSessionId"), session.user_id);
    assert_eq!(xml_value(&xml, "ScopedPoliciesCount"), "1");
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600), "inherits the expiry");
    let size: usize = xml_value(&xml, "SessionTokenSize").parse().unwrap();
    assert_eq!(size, xml_value(&xml, "SessionToken").len());
    assert_eq!(xml_value(&xml, "SessionTokenUtilization"), (size * 100).div_ceil(4096).to_string());
    let scoped = session_of(&env, &xml);
    assert_ne!(scoped.access_key_id, session.access_key_id);
    assert_eq!((&scoped.arn, &scoped.user_id, &scoped.kind), (&session.arn, &session.user_id, &session.kind));
    let (a, b) = (scoped.session.clone().unwrap(), session.session.clone().unwrap());
    assert_eq!((a.issued_at, &a.issued_by, &a.tags), (T0, &b.issued_by, &b.tags));
    assert_eq!(a.scope_policies.len(), 1);
    let c = call(&env, scoped.clone(), "Test");
    assert!(env.services.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").is_ok());
    let e = env.services.authorize(&c, "iam:ListUsers", "*").unwrap_err();
    assert!(e.message.ends_with("because no session policy allows the iam:ListUsers action"), "{e}");

    // Stacked: a second and third layer; a fourth is refused, a shorter life alone is not.
    let get_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sts:GetScopedCredentials"],"Resource":"*"}]}"#;
    let two = session_of(&env, &scope(&env, scoped, &[("Policy", get_only)]).unwrap());
    let c = call(&env, two.clone(), "Test");
    assert!(env.services.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").is_ok());
    assert!(env.services.authorize(&c, "s3:PutObject", "arn:aws:s3:::b/k").is_err(), "the second layer narrows");
    let xml = scope(&env, two, &[("Policy", S3_AND_SCOPE)]).unwrap();
    assert_eq!(xml_value(&xml, "ScopedPoliciesCount"), "3");
    let three = session_of(&env, &xml);
    assert!(env.services.authorize(&call(&env, three.clone(), "Test"), "s3:PutObject", "arn:aws:s3:::b/k").is_err());
    expect(scope(&env, three.clone(), &[("Policy", S3_AND_SCOPE)]), 403, "AccessDenied", "maximum of 3");
    let xml = scope(&env, three, &[("DurationSeconds", "60")]).unwrap();
    assert_eq!(xml_value(&xml, "ScopedPoliciesCount"), "3");
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 160));

    // A layer that does not allow sts:GetScopedCredentials cannot be scoped again.
    let s3_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let narrow = session_of(&env, &scope(&env, session, &[("Policy", s3_only)]).unwrap());
    expect(scope(&env, narrow, &[("DurationSeconds", "60")]), 403, "AccessDenied", "sts:GetScopedCredentials");
}

#[test]
fn scoped_credentials_rules_and_limits() {
    let env = env();
    let session = role_session(&env);
    // Long-term credentials have no session to scope.
    set_user_policies(&env, &[ALLOW_ASSUME, S3_AND_SCOPE]);
    expect(scope(&env, user_caller(), &[("DurationSeconds", "60")]), 400, "InvalidSubjectCredentials", "long-term");
    // At least one of Policy and DurationSeconds.
    expect_validation(scope(&env, session.clone(), &[]), "at least one of Policy or DurationSeconds");
    expect_validation(scope(&env, session.clone(), &[("DurationSeconds", "0")]), "greater than or equal to 1");
    expect_validation(
        scope(&env, session.clone(), &[("DurationSeconds", "60"), ("MinimumSessionTokenSize", "4097")]),
        "less than or equal to 4096",
    );
    expect_validation(
        scope(&env, session.clone(), &[("DurationSeconds", "60"), ("ScopedSessionDescription", "x")]),
        "scopedSessionDescription",
    );
    expect(scope(&env, session.clone(), &[("Policy", "{")]), 400, "MalformedPolicyDocument", "");
    // Never past the calling session's expiry.
    env.clock.advance_secs(600);
    expect(
        scope(&env, session.clone(), &[("DurationSeconds", "3001")]),
        400,
        "InsufficientSessionLifetime",
        "(3000 seconds)",
    );
    let xml = scope(&env, session.clone(), &[("DurationSeconds", "3000")]).unwrap();
    assert_eq!(xml_value(&xml, "Expiration"), crate::clock::iso8601(T0 + 3600));
    // MinimumSessionTokenSize pads the token to the size asked for, and it still opens.
    for min in [1500, 2001, 4096] {
        let m = min.to_string();
        let xml = scope(&env, session.clone(), &[("DurationSeconds", "60"), ("MinimumSessionTokenSize", &m)]).unwrap();
        let token = xml_value(&xml, "SessionToken");
        assert!((min..=min + 1).contains(&token.len()), "{min}: {}", token.len());
        assert_eq!(session_of(&env, &xml).arn, session.arn);
    }
    // Layers that cannot be packed into the largest token: PackedPolicyTooLarge, by the third
    // layer of a policy of random characters at the latest.
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // Each layer its own noise (the same text twice would deflate to almost nothing).
    let mut big = || {
        let noise: String = (0..1850).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect();
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:GetScopedCredentials","Resource":"*"}},{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{noise}"}}]}}"#
        );
        assert!(policy.len() <= 2048);
        policy
    };
    let mut current = session_of(&env, &scope(&env, session, &[("Policy", &big())]).unwrap());
    let mut refused = None;
    for _ in 0..2 {
        match scope(&env, current.clone(), &[("Policy", &big())]) {
            Ok(xml) => current = session_of(&env, &xml),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("three incompressible layers fit in a token");
    assert_eq!((e.status, e.code.as_str()), (400, "PackedPolicyTooLarge"), "{e}");
    assert!(e.message.contains("maximum allowed size of 4096 bytes"), "{e}");
}
