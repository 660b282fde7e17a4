use std::sync::Arc;

use tessera_wire::QueryParams;

use super::*;
use crate::clock::ManualClock;
use crate::{CallMeta, Caller};

fn services() -> Services {
    Services::in_memory(Arc::new(ManualClock::new(1_700_000_000_000))).unwrap()
}

fn call(op: &str, account: &str) -> Call {
    Call {
        caller: Caller::root(account, "AKIAEXAMPLE"),
        operation: op.into(),
        meta: CallMeta {
            request_id: "r".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: String::new(),
            secure_transport: false,
            now_millis: 1_700_000_000_000,
        },
    }
}

fn run(s: &Services, op: &str, params: &[(&str, &str)]) -> Result<String, AwsError> {
    let p = QueryParams::from_pairs(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    handle(s, &call(op, "111122223333"), &p).map(|r| String::from_utf8(r.body.to_vec()).unwrap())
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    s.split(open).skip(1).filter_map(|x| x.split(close).next()).collect()
}

#[test]
fn run_describe_terminate() {
    let s = services();
    let out = run(&s, "RunInstances", &[("ImageId", "ami-12345678"), ("MinCount", "2"), ("MaxCount", "2")]).unwrap();
    let ids: Vec<String> = between(&out, "<instanceId>", "</instanceId>").into_iter().map(String::from).collect();
    assert_eq!(ids.len(), 2);
    assert!(out.contains("<name>pending</name>"));
    let d = run(&s, "DescribeInstances", &[]).unwrap();
    assert_eq!(between(&d, "<instanceId>", "</instanceId>").len(), 2);
    assert!(d.contains("<name>running</name>"));
    let f = run(&s, "DescribeInstances", &[("Filter.1.Name", "instance-id"), ("Filter.1.Value.1", &ids[0])]).unwrap();
    assert_eq!(between(&f, "<instanceId>", "</instanceId>"), vec![ids[0].as_str()]);
    let t = run(&s, "TerminateInstances", &[("InstanceId.1", &ids[0])]).unwrap();
    assert!(t.contains("<name>shutting-down</name>"));
    let f = run(&s, "DescribeInstances", &[("Filter.1.Name", "instance-state-name"), ("Filter.1.Value.1", "running")])
        .unwrap();
    assert_eq!(between(&f, "<instanceId>", "</instanceId>"), vec![ids[1].as_str()]);
    let e = run(&s, "StartInstances", &[("InstanceId.1", &ids[0])]).unwrap_err();
    assert_eq!(e.code, "IncorrectInstanceState");
    let e = run(&s, "DescribeInstances", &[("InstanceId.1", "i-0123456789abcdef0")]).unwrap_err();
    assert_eq!(e.code, "InvalidInstanceID.NotFound");
    let e = run(&s, "DescribeInstances", &[("InstanceId.1", "bogus")]).unwrap_err();
    assert_eq!(e.code, "InvalidInstanceID.Malformed");
    let e = run(&s, "DescribeInstances", &[("Filter.1.Name", "nope"), ("Filter.1.Value.1", "x")]).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
}

#[test]
fn pagination_and_validation() {
    let s = services();
    run(&s, "RunInstances", &[("ImageId", "ami-12345678"), ("MinCount", "7"), ("MaxCount", "7")]).unwrap();
    let p1 = run(&s, "DescribeInstances", &[("MaxResults", "5")]).unwrap();
    assert_eq!(between(&p1, "<instanceId>", "</instanceId>").len(), 5);
    let token = between(&p1, "<nextToken>", "</nextToken>")[0].to_string();
    let p2 = run(&s, "DescribeInstances", &[("MaxResults", "5"), ("NextToken", &token)]).unwrap();
    assert_eq!(between(&p2, "<instanceId>", "</instanceId>").len(), 2);
    assert!(!p2.contains("<nextToken>"));
    assert_eq!(run(&s, "DescribeInstances", &[("MaxResults", "4")]).unwrap_err().code, "InvalidParameterValue");
    assert_eq!(
        run(&s, "RunInstances", &[("ImageId", "x"), ("MinCount", "1"), ("MaxCount", "1")]).unwrap_err().code,
        "InvalidAMIID.Malformed"
    );
    assert_eq!(
        run(&s, "RunInstances", &[("ImageId", "ami-12345678"), ("MinCount", "2"), ("MaxCount", "1")]).unwrap_err().code,
        "InvalidParameterValue"
    );
    let e = run(
        &s,
        "RunInstances",
        &[("ImageId", "ami-12345678"), ("MinCount", "1"), ("MaxCount", "1"), ("DryRun", "true")],
    )
    .unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("DryRunOperation", 412));
    let e = run(
        &s,
        "RunInstances",
        &[("ImageId", "ami-12345678"), ("MinCount", "1"), ("MaxCount", "1"), ("IamInstanceProfile.Name", "missing")],
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(e.message.contains("Invalid IAM Instance Profile name"), "{}", e.message);
}

#[test]
fn other_accounts_are_unauthorized() {
    let s = services();
    let p = QueryParams::from_pairs([("MaxCount", "1")]);
    let mut c = call("DescribeInstances", "111122223333");
    c.caller = Caller {
        kind: crate::CallerKind::User { name: "u".into(), path: "/".into(), user_id: "AIDAX".into() },
        arn: "arn:aws:iam::111122223333:user/u".into(),
        ..c.caller
    };
    let e = handle(&s, &c, &p).unwrap_err();
    assert_eq!(e.code, "UnauthorizedOperation");
    assert!(e.message.starts_with("You are not authorized to perform this operation. User: arn:aws:iam::111122223333:user/u is not authorized to perform: ec2:DescribeInstances"), "{}", e.message);
}

#[test]
fn regions_and_zone_ids() {
    let s = services();
    let r = run(&s, "DescribeRegions", &[("RegionName.1", "eu-west-1")]).unwrap();
    assert_eq!(between(&r, "<regionName>", "</regionName>"), vec!["eu-west-1"]);
    assert_eq!(zone_prefix("us-east-1"), "use1");
    assert_eq!(zone_prefix("ap-northeast-1"), "apne1");
}
