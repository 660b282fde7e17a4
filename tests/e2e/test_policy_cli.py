"""`tessera policy simulate` and `tessera policy validate`, per shared/CONTRACT.md
("Policy evaluation offline")."""

import json
import subprocess

from conftest import BIN

ALLOW_S3 = json.dumps({"Version": "2012-10-17",
                       "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})
DENY_DELETE = json.dumps({"Version": "2012-10-17",
                          "Statement": {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}})


def simulate(payload, *args):
    proc = subprocess.run([str(BIN), "policy", "simulate", *args], input=payload, capture_output=True, text=True)
    return proc


def test_simulate_three_decisions():
    req = {"PolicyInputList": [ALLOW_S3, DENY_DELETE],
           "ActionNames": ["s3:GetObject", "s3:DeleteObject", "iam:ListUsers"],
           "ResourceArns": ["arn:aws:s3:::bucket/key"],
           "CallerArn": "arn:aws:iam::111122223333:user/alice"}
    proc = simulate(json.dumps(req))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"s3:GetObject": "allowed", "s3:DeleteObject": "explicitDeny", "iam:ListUsers": "implicitDeny"}
    deny = next(r for r in out["EvaluationResults"] if r["EvalActionName"] == "s3:DeleteObject")
    assert deny["MatchedStatements"] and deny["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.2"


def test_scp_input_list_denies_what_identity_allows():
    scp = json.dumps({"Version": "2012-10-17",
                      "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}})
    req = {"PolicyInputList": [ALLOW_S3], "ServiceControlPolicyInputList": [scp],
           "ActionNames": ["s3:GetObject"], "ResourceArns": ["*"]}
    out = json.loads(simulate(json.dumps(req)).stdout)
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"


def test_jsonl_one_output_per_line_in_order():
    lines = []
    for action in ["s3:GetObject", "iam:ListUsers"] * 50:
        lines.append(json.dumps({"PolicyInputList": [ALLOW_S3], "ActionNames": [action], "ResourceArns": ["*"]}))
    proc = simulate("\n".join(lines) + "\n", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    outs = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(outs) == 100
    assert [o["EvaluationResults"][0]["EvalDecision"] for o in outs[:2]] == ["allowed", "implicitDeny"]


def test_malformed_input_is_an_error():
    proc = simulate("{not json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["Error"]["Code"] == "InvalidInput"


def test_validate_reports_malformed_policy(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(ALLOW_S3)
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}')
    ok = subprocess.run([str(BIN), "policy", "validate", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    res = subprocess.run([str(BIN), "policy", "validate", str(good), str(bad)], capture_output=True, text=True)
    assert res.returncode == 1
    assert "bad.json: ERROR" in res.stdout
