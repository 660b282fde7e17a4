//! CloudTrail API and event-building tests.

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::*;
use crate::clock::ManualClock;
use crate::{bootstrap, CallMeta, Caller, CallerKind, Input, ServiceName, SessionInfo};

const T0: i64 = 1_700_000_000_000;

struct Env {
    services: Services,
    account: String,
    other: String,
}

fn env() -> Env {
    let services = Services::in_memory(Arc::new(ManualClock::new(T0))).unwrap();
    let account = "111122223333".to_string();
    let other = "444455556666".to_string();
    let mut w = services.store.write().unwrap();
    bootstrap::create_account(w.as_mut(), &account, "a", "a@example.com", 0).unwrap();
    bootstrap::create_account(w.as_mut(), &other, "b", "b@example.com", 0).unwrap();
    w.commit().unwrap();
    Env { services, account, other }
}

fn call(caller: Caller, op: &str, region: &str, now: i64) -> Call {
    Call {
        caller,
        operation: op.into(),
        meta: CallMeta {
            request_id: crate::ids::request_id(),
            region: region.into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "aws-cli/2 test".into(),
            secure_transport: false,
            now_millis: now,
        },
    }
}

fn root(env: &Env) -> Caller {
    Caller::root(&env.account, "AKIAROOTROOTROOTROOT")
}

fn user(account: &str) -> Caller {
    Caller {
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:user/alice"),
        user_id: "AIDAALICEALICEALICE00".into(),
        kind: CallerKind::User { name: "alice".into(), path: "/".into(), user_id: "AIDAALICEALICEALICE00".into() },
        access_key_id: "AKIAALICEALICEALICE0".into(),
        session: None,
    }
}

/// Run a CloudTrail call and record it, as the server does.
fn ct(env: &Env, caller: Caller, op: &str, body: Value) -> Result<Value, AwsError> {
    ct_in(env, caller, op, body, "us-east-1")
}

fn ct_in(env: &Env, caller: Caller, op: &str, body: Value, region: &str) -> Result<Value, AwsError> {
    let c = call(caller, op, region, env.services.clock.now_millis());
    let input = Input::Json(body);
    let out = input.json().and_then(|body| crate::handle(&env.services, &c, body));
    record_call(&env.services, ServiceName::CloudTrail, &c, &input, &out).unwrap();
    out.map(|r| serde_json::from_slice(&r.body).unwrap())
}

fn lookup(env: &Env, caller: Caller, key: &str, value: &str) -> Vec<Value> {
    let out =
        ct(env, caller, "LookupEvents", json!({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}))
            .unwrap();
    out["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .collect()
}

fn sts_call(env: &Env, caller: Caller, op: &str, params: &[(&str, &str)], outcome: &Result<WireResponse, AwsError>) {
    let c = call(caller, op, "us-east-1", T0);
    let mut pairs = vec![("Action", op), ("Version", "2011-06-15")];
    pairs.extend_from_slice(params);
    let input = Input::Query(QueryParams::from_pairs(pairs));
    record_call(&env.services, ServiceName::Sts, &c, &input, outcome).unwrap();
}

#[test]
fn get_caller_identity_event_has_aws_shape() {
    let env = env();
    let c = call(root(&env), "GetCallerIdentity", "us-east-1", T0);
    let input = Input::Query(QueryParams::from_pairs([("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]));
    let out = input.query().and_then(|q| tessera_sts::handle(&env.services, &c, q));
    assert!(out.is_ok());
    record_call(&env.services, ServiceName::Sts, &c, &input, &out).unwrap();
    let events = lookup(&env, root(&env), "EventName", "GetCallerIdentity");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["eventVersion"], "1.09");
    assert_eq!(
        e["userIdentity"],
        json!({"type": "Root", "principalId": env.account, "arn": format!("arn:aws:iam::{}:root", env.account),
               "accountId": env.account, "accessKeyId": "AKIAROOTROOTROOTROOT"})
    );
    assert_eq!(e["eventTime"], "2023-11-14T22:13:20Z");
    assert_eq!(e["eventSource"], "sts.amazonaws.com");
    assert_eq!(e["awsRegion"], "us-east-1");
    assert_eq!(e["sourceIPAddress"], "127.0.0.1");
    assert_eq!(e["userAgent"], "aws-cli/2 test");
    assert_eq!(e["requestParameters"], Value::Null);
    assert_eq!(e["responseElements"], Value::Null);
    assert_eq!(e["requestID"], c.meta.request_id);
    assert_eq!(e["readOnly"], true);
    assert_eq!(e["eventType"], "AwsApiCall");
    assert_eq!(e["managementEvent"], true);
    assert_eq!(e["recipientAccountId"], env.account);
    assert_eq!(e["eventCategory"], "Management");
    assert!(e.get("errorCode").is_none());
    // The LookupEvents summary fields.
    let out = ct(
        &env,
        root(&env),
        "LookupEvents",
        json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]}),
    )
    .unwrap();
    let ev = &out["Events"][0];
    assert_eq!(ev["Username"], "root");
    assert_eq!(ev["ReadOnly"], "true");
    assert_eq!(ev["AccessKeyId"], "AKIAROOTROOTROOTROOT");
    assert_eq!(ev["EventSource"], "sts.amazonaws.com");
    assert_eq!(ev["EventTime"], json!(1_700_000_000.0));
}

#[test]
fn denied_calls_are_recorded_with_their_error() {
    let env = env();
    let e = ct(&env, user(&env.account), "DescribeTrails", json!({})).unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let events = lookup(&env, root(&env), "Username", "alice");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["errorCode"], "AccessDeniedException");
    assert!(events[0]["errorMessage"].as_str().unwrap().contains("cloudtrail:DescribeTrails"));
    assert_eq!(events[0]["userIdentity"]["type"], "IAMUser");
    assert_eq!(events[0]["userIdentity"]["userName"], "alice");
    assert_eq!(events[0]["responseElements"], Value::Null);
}

const ASSUME_ROLE_XML: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAQQQQQQQQQQQQQQQQ</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey><SessionToken>FwoGZXIvYXdzEXAMPLETOKENVALUE</SessionToken><Expiration>2023-11-14T23:13:20Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAROLEROLEROLEROLE0:s1</AssumedRoleId><Arn>arn:aws:sts::444455556666:assumed-role/Admin/s1</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"#;

fn xml(body: &str) -> WireResponse {
    let mut r = WireResponse::query(tessera_wire::response::STS_XMLNS, "X", None, "r");
    r.body = body.as_bytes().to_vec().into();
    r
}

#[test]
fn cross_account_assume_role_is_recorded_in_both_accounts_without_secrets() {
    let env = env();
    let role_arn = format!("arn:aws:iam::{}:role/Admin", env.other);
    sts_call(
        &env,
        user(&env.account),
        "AssumeRole",
        &[
            ("RoleArn", &role_arn),
            ("RoleSessionName", "s1"),
            ("DurationSeconds", "3600"),
            ("SerialNumber", "arn:aws:iam::111122223333:mfa/alice"),
            ("TokenCode", "123456"),
        ],
        &Ok(xml(ASSUME_ROLE_XML)),
    );
    let mine = lookup(&env, root(&env), "EventName", "AssumeRole");
    let other_root = Caller::root(&env.other, "AKIAOTHEROTHEROTHER0");
    let theirs = lookup(&env, other_root, "EventName", "AssumeRole");
    assert_eq!((mine.len(), theirs.len()), (1, 1));
    let (m, t) = (&mine[0], &theirs[0]);
    assert_eq!(m["sharedEventID"], t["sharedEventID"]);
    assert!(m["sharedEventID"].is_string());
    assert_ne!(m["eventID"], t["eventID"]);
    assert_eq!(m["recipientAccountId"], env.account);
    assert_eq!(t["recipientAccountId"], env.other);
    assert_eq!(m["userIdentity"]["arn"], format!("arn:aws:iam::{}:user/alice", env.account));
    assert_eq!(
        t["userIdentity"],
        json!({"type": "AWSAccount", "principalId": "AIDAALICEALICEALICE00", "accountId": env.account})
    );
    for e in [m, t] {
        assert_eq!(e["readOnly"], true);
        assert_eq!(e["requestParameters"]["roleArn"], role_arn);
        assert_eq!(e["requestParameters"]["durationSeconds"], 3600);
        assert_eq!(e["requestParameters"]["tokenCode"], "HIDDEN_DUE_TO_SECURITY_REASONS");
        assert_eq!(
            e["responseElements"],
            json!({
                "credentials": {"accessKeyId": "ASIAQQQQQQQQQQQQQQQQ", "expiration": "Nov 14, 2023, 11:13:20 PM"},
                "assumedRoleUser": {"assumedRoleId": "AROAROLEROLEROLEROLE0:s1",
                                    "arn": "arn:aws:sts::444455556666:assumed-role/Admin/s1"},
            })
        );
        assert_eq!(e["resources"], json!([{"ARN": role_arn, "accountId": env.other, "type": "AWS::IAM::Role"}]));
        let s = e.to_string();
        for secret in ["wJalrXUtnFEMI", "FwoGZXIvYXdzEXAMPLETOKENVALUE", "123456"] {
            assert!(!s.contains(secret), "{secret} leaked: {s}");
        }
    }
    // LookupEvents resources of the new credentials and session.
    let by_key = lookup(&env, root(&env), "ResourceName", "ASIAQQQQQQQQQQQQQQQQ");
    assert_eq!(by_key.len(), 1);
    // A denied cross-account attempt is also seen by the role's account.
    sts_call(
        &env,
        user(&env.account),
        "AssumeRole",
        &[("RoleArn", &role_arn), ("RoleSessionName", "s2")],
        &Err(AwsError::access_denied("User: x is not authorized to perform: sts:AssumeRole")),
    );
    let theirs = lookup(&env, Caller::root(&env.other, "AKIAOTHEROTHEROTHER0"), "EventName", "AssumeRole");
    assert_eq!(theirs.len(), 2);
    assert_eq!(theirs[0]["errorCode"], "AccessDenied");
    // A role in an account Tessera does not have: one event only.
    sts_call(
        &env,
        user(&env.account),
        "AssumeRole",
        &[("RoleArn", "arn:aws:iam::999999999999:role/X"), ("RoleSessionName", "s3")],
        &Err(AwsError::access_denied("denied")),
    );
    assert_eq!(lookup(&env, root(&env), "EventName", "AssumeRole").len(), 3);
}

#[test]
fn passwords_and_mfa_seeds_never_appear() {
    let env = env();
    let c = call(root(&env), "CreateLoginProfile", "us-east-1", T0);
    let input = Input::Query(QueryParams::from_pairs([
        ("Action", "CreateLoginProfile"),
        ("UserName", "bob"),
        ("Password", "Correct-Horse-9"),
        ("PasswordResetRequired", "true"),
    ]));
    let err = Err(AwsError::validation("Password Correct-Horse-9 does not conform to the account password policy"));
    record_call(&env.services, ServiceName::Iam, &c, &input, &err).unwrap();
    let e = &lookup(&env, root(&env), "EventName", "CreateLoginProfile")[0];
    assert_eq!(
        e["requestParameters"],
        json!({"userName": "bob", "password": "HIDDEN_DUE_TO_SECURITY_REASONS", "passwordResetRequired": true})
    );
    assert_eq!(
        e["errorMessage"],
        "Password HIDDEN_DUE_TO_SECURITY_REASONS does not conform to the account password policy"
    );
    assert_eq!(e["awsRegion"], "us-east-1");
    assert_eq!(e["eventSource"], "iam.amazonaws.com");
    assert_eq!(e["readOnly"], false);

    let c = call(root(&env), "CreateVirtualMFADevice", "eu-west-1", T0);
    let input =
        Input::Query(QueryParams::from_pairs([("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "d")]));
    let resp = r#"<CreateVirtualMFADeviceResponse><CreateVirtualMFADeviceResult><VirtualMFADevice><SerialNumber>arn:aws:iam::1:mfa/d</SerialNumber><Base32StringSeed>JBSWY3DPEHPK3PXPJBSWY3DP</Base32StringSeed><QRCodePNG>iVBORw0KGgoAAAANSUhEUg</QRCodePNG></VirtualMFADevice></CreateVirtualMFADeviceResult></CreateVirtualMFADeviceResponse>"#;
    record_call(&env.services, ServiceName::Iam, &c, &input, &Ok(xml(resp))).unwrap();
    let e = &lookup(&env, root(&env), "EventName", "CreateVirtualMFADevice")[0];
    assert_eq!(e["responseElements"], json!({"virtualMFADevice": {"serialNumber": "arn:aws:iam::1:mfa/d"}}));
    assert_eq!(e["awsRegion"], "us-east-1", "IAM is recorded in us-east-1");

    let c = call(root(&env), "EnableMFADevice", "us-east-1", T0);
    let input = Input::Query(QueryParams::from_pairs([
        ("Action", "EnableMFADevice"),
        ("UserName", "bob"),
        ("SerialNumber", "arn:aws:iam::1:mfa/d"),
        ("AuthenticationCode1", "123456"),
        ("AuthenticationCode2", "654321"),
    ]));
    record_call(&env.services, ServiceName::Iam, &c, &input, &Ok(xml("<EnableMFADeviceResponse/>"))).unwrap();
    let e = &lookup(&env, root(&env), "EventName", "EnableMFADevice")[0];
    assert_eq!(e["requestParameters"]["authenticationCode1"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert_eq!(e["requestParameters"]["authenticationCode2"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert_eq!(e["responseElements"], Value::Null);
}

#[test]
fn session_identities() {
    let env = env();
    let session = SessionInfo {
        issued_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        mfa_authenticated: true,
        source_identity: Some("alice@corp".into()),
        issued_by: "AssumeRole".into(),
        ..Default::default()
    };
    let caller = Caller {
        account: env.account.clone(),
        arn: format!("arn:aws:sts::{}:assumed-role/Admin/s1", env.account),
        user_id: "AROAROLEROLEROLEROLE0:s1".into(),
        kind: CallerKind::AssumedRole {
            role_name: "Admin".into(),
            role_path: "/ops/".into(),
            role_id: "AROAROLEROLEROLEROLE0".into(),
            session_name: "s1".into(),
        },
        access_key_id: "ASIAQQQQQQQQQQQQQQQQ".into(),
        session: Some(session),
    };
    let id = serde_json::to_value(user_identity(&env.services, &caller)).unwrap();
    assert_eq!(
        id,
        json!({
            "type": "AssumedRole",
            "principalId": "AROAROLEROLEROLEROLE0:s1",
            "arn": format!("arn:aws:sts::{}:assumed-role/Admin/s1", env.account),
            "accountId": env.account,
            "accessKeyId": "ASIAQQQQQQQQQQQQQQQQ",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAROLEROLEROLEROLE0",
                                  "arn": format!("arn:aws:iam::{}:role/ops/Admin", env.account),
                                  "accountId": env.account, "userName": "Admin"},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2023-11-14T22:13:20Z", "mfaAuthenticated": "true"},
                "sourceIdentity": "alice@corp",
            },
        })
    );
    assert_eq!(lookup_username(&caller), "s1");
}

#[test]
fn trails_lifecycle_and_validation() {
    let env = env();
    let r = root(&env);
    let bad = |body: Value| ct(&env, r.clone(), "CreateTrail", body).unwrap_err().code;
    assert_eq!(bad(json!({"Name": "ab", "S3BucketName": "bucket"})), "InvalidTrailNameException");
    assert_eq!(bad(json!({"Name": "-abc", "S3BucketName": "bucket"})), "InvalidTrailNameException");
    assert_eq!(bad(json!({"Name": "a..bc", "S3BucketName": "bucket"})), "InvalidTrailNameException");
    assert_eq!(bad(json!({"Name": "10.0.0.1", "S3BucketName": "bucket"})), "InvalidTrailNameException");
    assert_eq!(bad(json!({"Name": "good", "S3BucketName": "Bad_Bucket"})), "InvalidS3BucketNameException");
    assert_eq!(bad(json!({"Name": "good", "S3BucketName": "bucket", "KmsKeyId": "k"})), "KmsKeyNotFoundException");
    assert_eq!(
        bad(
            json!({"Name": "good", "S3BucketName": "bucket", "IsMultiRegionTrail": true, "IncludeGlobalServiceEvents": false})
        ),
        "InvalidParameterCombinationException"
    );
    let created = ct(
        &env,
        r.clone(),
        "CreateTrail",
        json!({"Name": "main", "S3BucketName": "audit-logs", "S3KeyPrefix": "p", "IsMultiRegionTrail": true,
               "EnableLogFileValidation": true}),
    )
    .unwrap();
    let arn = format!("arn:aws:cloudtrail:us-east-1:{}:trail/main", env.account);
    assert_eq!(created["TrailARN"], arn);
    assert_eq!(created["LogFileValidationEnabled"], true);
    assert_eq!(created["S3KeyPrefix"], "p");
    assert_eq!(bad(json!({"Name": "main", "S3BucketName": "bucket"})), "TrailAlreadyExistsException");
    ct_in(&env, r.clone(), "CreateTrail", json!({"Name": "local", "S3BucketName": "audit-logs"}), "eu-west-1").unwrap();

    let described = ct(&env, r.clone(), "DescribeTrails", json!({})).unwrap();
    let names: Vec<&str> =
        described["trailList"].as_array().unwrap().iter().map(|t| t["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["main"], "single-region trails of other regions are not shown");
    let eu = ct_in(&env, r.clone(), "DescribeTrails", json!({}), "eu-west-1").unwrap();
    assert_eq!(eu["trailList"].as_array().unwrap().len(), 2, "the multi-region trail is shadowed");
    let eu = ct_in(&env, r.clone(), "DescribeTrails", json!({"includeShadowTrails": false}), "eu-west-1").unwrap();
    assert_eq!(eu["trailList"].as_array().unwrap().len(), 1);
    assert_eq!(ct(&env, r.clone(), "ListTrails", json!({})).unwrap()["Trails"].as_array().unwrap().len(), 2);
    let got = ct(&env, r.clone(), "GetTrail", json!({"Name": arn})).unwrap();
    assert_eq!(got["Trail"]["HomeRegion"], "us-east-1");
    assert_eq!(ct(&env, r.clone(), "GetTrail", json!({"Name": "local"})).unwrap_err().code, "TrailNotFoundException");
    assert_eq!(
        ct_in(&env, r.clone(), "StartLogging", json!({"Name": "main"}), "eu-west-1").unwrap_err().code,
        "InvalidHomeRegionException"
    );
    let status = ct(&env, r.clone(), "GetTrailStatus", json!({"Name": "main"})).unwrap();
    assert_eq!(status["IsLogging"], false);
    ct(&env, r.clone(), "StartLogging", json!({"Name": "main"})).unwrap();
    let status = ct(&env, r.clone(), "GetTrailStatus", json!({"Name": "main"})).unwrap();
    assert_eq!(status["IsLogging"], true);
    assert_eq!(status["StartLoggingTime"], json!(1_700_000_000.0));
    assert_eq!(status["TimeLoggingStarted"], "2023-11-14T22:13:20Z");
    ct(&env, r.clone(), "StopLogging", json!({"Name": "main"})).unwrap();
    let t = env.services.audit.trails(Some(&env.account)).unwrap();
    let main = t.iter().find(|t| t.name == "main").unwrap();
    assert!(!main.state.is_logging && main.state.final_delivery_pending);
    let updated = ct(
        &env,
        r.clone(),
        "UpdateTrail",
        json!({"Name": "main", "S3BucketName": "other-bucket", "EnableLogFileValidation": false}),
    )
    .unwrap();
    assert_eq!(updated["S3BucketName"], "other-bucket");
    assert_eq!(updated["LogFileValidationEnabled"], false);
    let sel = ct(&env, r.clone(), "GetEventSelectors", json!({"TrailName": "main"})).unwrap();
    assert_eq!(sel["EventSelectors"][0]["ReadWriteType"], "All");
    // Another account sees none of them.
    let other = Caller::root(&env.other, "AKIAOTHEROTHEROTHER0");
    assert_eq!(ct(&env, other.clone(), "ListTrails", json!({})).unwrap()["Trails"], json!([]));
    assert_eq!(ct(&env, other, "GetTrail", json!({"Name": arn})).unwrap_err().code, "TrailNotFoundException");
    ct(&env, r.clone(), "DeleteTrail", json!({"Name": "main"})).unwrap();
    assert_eq!(ct(&env, r.clone(), "DeleteTrail", json!({"Name": "main"})).unwrap_err().code, "TrailNotFoundException");
    // Every CloudTrail call above was itself recorded.
    let creates = lookup(&env, r.clone(), "EventName", "CreateTrail");
    assert_eq!(creates.iter().filter(|e| e["errorCode"].is_null()).count(), 2);
    let by_trail = lookup(&env, r, "ResourceName", "main");
    assert!(by_trail.iter().any(|e| e["eventName"] == "DeleteTrail"));
}

#[test]
fn lookup_events_validation_and_paging() {
    let env = env();
    let r = root(&env);
    for i in 0..7 {
        let c = call(r.clone(), "GetCallerIdentity", "us-east-1", T0 - i * 1000);
        let input = Input::Query(QueryParams::from_pairs([("Action", "GetCallerIdentity")]));
        record_call(&env.services, ServiceName::Sts, &c, &input, &Ok(xml("<x/>"))).unwrap();
    }
    let code = |body: Value| ct(&env, r.clone(), "LookupEvents", body).unwrap_err().code;
    assert_eq!(
        code(json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"},
                                          {"AttributeKey": "Username", "AttributeValue": "b"}]})),
        "InvalidLookupAttributesException"
    );
    assert_eq!(
        code(json!({"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "a"}]})),
        "InvalidLookupAttributesException"
    );
    assert_eq!(code(json!({"MaxResults": 51})), "InvalidMaxResultsException");
    assert_eq!(code(json!({"MaxResults": 0})), "InvalidMaxResultsException");
    assert_eq!(code(json!({"NextToken": "garbage"})), "InvalidNextTokenException");
    assert_eq!(code(json!({"StartTime": 1_700_000_100, "EndTime": 1_700_000_000})), "InvalidTimeRangeException");
    assert_eq!(code(json!({"EventCategory": "other"})), "InvalidEventCategoryException");
    let filter = json!([{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]);
    let mut token: Option<String> = None;
    let mut seen = 0;
    loop {
        let mut body = json!({"LookupAttributes": filter, "MaxResults": 3});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let out = ct(&env, r.clone(), "LookupEvents", body).unwrap();
        seen += out["Events"].as_array().unwrap().len();
        match out["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 7);
    // A token is bound to its filter.
    let first = ct(&env, r.clone(), "LookupEvents", json!({"LookupAttributes": filter, "MaxResults": 1})).unwrap();
    let t = first["NextToken"].as_str().unwrap();
    assert_eq!(code(json!({"NextToken": t})), "InvalidNextTokenException");
    // Time range in epoch seconds.
    let out = ct(
        &env,
        r.clone(),
        "LookupEvents",
        json!({"LookupAttributes": filter, "StartTime": 1_699_999_996, "EndTime": 1_699_999_998}),
    )
    .unwrap();
    assert_eq!(out["Events"].as_array().unwrap().len(), 3);
    // An IAM user is denied without a policy.
    assert_eq!(ct(&env, user(&env.account), "LookupEvents", json!({})).unwrap_err().code, "AccessDeniedException");
}

#[test]
fn unconfigured_audit_fails_closed() {
    let mut env = env();
    env.services.audit = Arc::new(tessera_audit::NotConfigured);
    assert_eq!(ready(&env.services).unwrap_err().status, 503);
    let c = call(root(&env), "GetCallerIdentity", "us-east-1", T0);
    let input = Input::Query(QueryParams::from_pairs([("Action", "GetCallerIdentity")]));
    let e = record_call(&env.services, ServiceName::Sts, &c, &input, &Ok(xml("<x/>"))).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (503, "ServiceUnavailable"));
}

#[test]
fn user_agents_are_cut_at_1024_bytes_on_a_character_boundary() {
    assert_eq!(recorded_user_agent("aws-cli/2"), "aws-cli/2");
    let long = "é".repeat(600); // 1,200 bytes of two-byte characters
    let cut = recorded_user_agent(&long);
    assert_eq!(cut.len(), 1024);
    assert!(long.starts_with(&cut));
    let odd = format!("x{}", "é".repeat(600)); // the 1,024th byte splits a character
    assert_eq!(recorded_user_agent(&odd).len(), 1023);
}

/// An AWS Private CA call in CBOR is recorded as its JSON form: `acm-pca.amazonaws.com`, the
/// request parameters and the response elements (tag 1 timestamps as numbers) lower-camel, the
/// CA found by its ARN.
#[test]
fn private_ca_cbor_calls_are_recorded_in_their_json_form() {
    let env = env();
    let c = call(root(&env), "CreateCertificateAuthority", "eu-west-1", T0);
    let arn = format!("arn:aws:acm-pca:eu-west-1:{}:certificate-authority/ca-1", env.account);
    let input = Input::Cbor(json!({"CertificateAuthorityType": "ROOT", "IdempotencyToken": "t"}));
    let answer = json!({"CertificateAuthorityArn": arn, "CreatedAt": 1_700_000_000});
    let out = Ok(WireResponse::cbor(&answer, &["CreatedAt"], &c.meta.request_id));
    record_call(&env.services, ServiceName::PrivateCa, &c, &input, &out).unwrap();
    let attrs = json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": arn}]});
    let out = ct_in(&env, root(&env), "LookupEvents", attrs, "eu-west-1").unwrap();
    let events = out["Events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{out}");
    let e: Value = serde_json::from_str(events[0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(e["eventSource"], "acm-pca.amazonaws.com");
    assert_eq!(e["awsRegion"], "eu-west-1");
    assert_eq!(e["readOnly"], false);
    assert_eq!(e["requestParameters"], json!({"certificateAuthorityType": "ROOT", "idempotencyToken": "t"}));
    assert_eq!(e["responseElements"], json!({"certificateAuthorityArn": arn, "createdAt": 1_700_000_000}));
    assert!(is_read_only(ServiceName::PrivateCa, "DescribeCertificateAuthority"));
    assert!(is_read_only(ServiceName::PrivateCa, "GetCertificate"));
    assert!(is_read_only(ServiceName::PrivateCa, "ListTags"));
    assert!(!is_read_only(ServiceName::PrivateCa, "IssueCertificate"));
}
