"""Seed 004 (AWS cross-account access using IAM roles), its IAM commands as one bash script run
with the real AWS CLI, in two accounts made through Organizations (issue 5, "How it must be
shown"): in the trusting account, my_cross_account_role with the S3 and EC2 read-only managed
policies trusting the other account; in the trusted account, user Sandy with a console password,
group POC, and the customer managed policy AssumeRolePolicy attached to the group. Then Sandy
switches into the role and can read but not write."""

import os
import re
import subprocess
import textwrap

import pytest

from conftest import AWS, REGION, clean_env, unique

S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_READ = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"

SCRIPT = textwrap.dedent(r"""
    #!/bin/bash
    set -euo pipefail
    TRUSTED="$1"; TRUSTING="$2"; BUCKET="$3"

    # --- Trusting account (the friend's): a cross-account role, S3ReadOnly + EC2ReadOnly.
    cat > trust.json <<EOF
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::${TRUSTED}:root"}, "Action": "sts:AssumeRole"}]}
    EOF
    ROLE_ARN=$(aws --profile trusting iam create-role --role-name my_cross_account_role \
        --assume-role-policy-document file://trust.json --query Role.Arn --output text)
    aws --profile trusting iam attach-role-policy --role-name my_cross_account_role \
        --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
    aws --profile trusting iam attach-role-policy --role-name my_cross_account_role \
        --policy-arn arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess
    aws --profile trusting s3 mb "s3://${BUCKET}" >/dev/null
    echo "ROLE_ARN=${ROLE_ARN}"

    # --- Trusted account (your own): user Sandy with a console password.
    aws --profile trusted iam create-user --user-name Sandy >/dev/null
    # The tutorial's password "redhat" does not meet the default password policy.
    if out=$(aws --profile trusted iam create-login-profile --user-name Sandy --password redhat \
             --no-password-reset-required 2>&1); then
        echo "UNEXPECTED: weak password accepted"; exit 1
    fi
    echo "WEAK_PASSWORD_ERROR=${out//$'\n'/ }"
    aws --profile trusted iam create-login-profile --user-name Sandy --password 'Redhat-2026!' \
        --no-password-reset-required >/dev/null

    # Group POC with Sandy in it.
    aws --profile trusted iam create-group --group-name POC >/dev/null
    aws --profile trusted iam add-user-to-group --group-name POC --user-name Sandy

    # Customer managed policy AssumeRolePolicy: sts:AssumeRole on the trusting account's role.
    cat > assume.json <<EOF
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
      "Resource": "${ROLE_ARN}"}]}
    EOF
    POLICY_ARN=$(aws --profile trusted iam create-policy --policy-name AssumeRolePolicy \
        --policy-document file://assume.json --query Policy.Arn --output text)
    aws --profile trusted iam attach-group-policy --group-name POC --policy-arn "${POLICY_ARN}"
    echo "POLICY_ARN=${POLICY_ARN}"

    # --- Verify: Sandy's key, then "Switch Role" as a CLI role profile.
    read -r KEY SECRET < <(aws --profile trusted iam create-access-key --user-name Sandy \
        --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
    aws configure set aws_access_key_id "${KEY}" --profile sandy
    aws configure set aws_secret_access_key "${SECRET}" --profile sandy
    aws configure set role_arn "${ROLE_ARN}" --profile poc
    aws configure set source_profile sandy --profile poc
    aws configure set role_session_name Sandy --profile poc
    echo "SANDY=$(aws --profile sandy sts get-caller-identity --query Arn --output text)"

    # Sandy's own permissions reach nothing but the role.
    if out=$(aws --profile sandy s3 ls 2>&1); then echo "UNEXPECTED: sandy lists buckets"; exit 1; fi
    echo "SANDY_S3_ERROR=${out//$'\n'/ }"

    echo "SWITCHED=$(aws --profile poc sts get-caller-identity --query Arn --output text)"
    echo "S3_LS=$(aws --profile poc s3 ls | tr '\n' ' ')"
    echo "EC2_RESERVATIONS=$(aws --profile poc ec2 describe-instances --query 'length(Reservations)' --output text)"
    if out=$(aws --profile poc s3 mb "s3://${BUCKET}-write" 2>&1); then
        echo "UNEXPECTED: the read-only role made a bucket"; exit 1
    fi
    echo "MB_ERROR=${out//$'\n'/ }"
    if out=$(aws --profile poc iam create-user --user-name intruder 2>&1); then
        echo "UNEXPECTED: the read-only role made a user"; exit 1
    fi
    echo "IAM_ERROR=${out//$'\n'/ }"
    echo DONE
    """).lstrip()


def credentials_section(profile, creds):
    lines = [f"[{profile}]", f"aws_access_key_id = {creds['aws_access_key_id']}",
             f"aws_secret_access_key = {creds['aws_secret_access_key']}"]
    if creds.get("aws_session_token"):
        lines.append(f"aws_session_token = {creds['aws_session_token']}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def seed004(tessera, accounts, tmp_path_factory):
    trusted, trusting = accounts.create("seed004-own"), accounts.create("seed004-friend")
    work = tmp_path_factory.mktemp("seed004")
    (work / "credentials").write_text(
        credentials_section("trusted", accounts.admin_creds(trusted))
        + credentials_section("trusting", accounts.admin_creds(trusting)))
    (work / "credentials").chmod(0o600)
    (work / "config").write_text("")
    (work / "seed004.sh").write_text(SCRIPT)
    env = clean_env()
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(work / "credentials"), AWS_CONFIG_FILE=str(work / "config"),
               AWS_ENDPOINT_URL=tessera.endpoint, AWS_DEFAULT_REGION=REGION,
               PATH=os.path.dirname(AWS) + ":" + os.environ["PATH"])
    bucket = unique("seed004-friend-bucket-")
    proc = subprocess.run(["bash", str(work / "seed004.sh"), trusted, trusting, bucket], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    out = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", proc.stdout, re.M))
    return {"proc": proc, "out": out, "trusted": trusted, "trusting": trusting, "bucket": bucket,
            "trusted_iam": tessera.client("iam", **accounts.admin_creds(trusted)),
            "trusting_iam": tessera.client("iam", **accounts.admin_creds(trusting))}


def test_seed004_script_runs_to_the_end(seed004):
    proc = seed004["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("DONE")
    assert "UNEXPECTED" not in proc.stdout


def test_seed004_trusting_account_role(seed004):
    out, iam = seed004["out"], seed004["trusting_iam"]
    assert out["ROLE_ARN"] == f"arn:aws:iam::{seed004['trusting']}:role/my_cross_account_role"
    role = iam.get_role(RoleName="my_cross_account_role")["Role"]
    assert role["AssumeRolePolicyDocument"] == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{seed004['trusted']}:root"},
        "Action": "sts:AssumeRole"}]}
    attached = iam.list_attached_role_policies(RoleName="my_cross_account_role")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([S3_READ, EC2_READ])
    # Used by Sandy's switch.
    assert "LastUsedDate" in iam.get_role(RoleName="my_cross_account_role")["Role"]["RoleLastUsed"]


def test_seed004_trusted_account_user_group_and_policy(seed004):
    out, iam = seed004["out"], seed004["trusted_iam"]
    assert "PasswordPolicyViolation" in out["WEAK_PASSWORD_ERROR"]
    assert iam.get_login_profile(UserName="Sandy")["LoginProfile"]["PasswordResetRequired"] is False
    assert [u["UserName"] for u in iam.get_group(GroupName="POC")["Users"]] == ["Sandy"]
    assert out["POLICY_ARN"] == f"arn:aws:iam::{seed004['trusted']}:policy/AssumeRolePolicy"
    ents = iam.list_entities_for_policy(PolicyArn=out["POLICY_ARN"])
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == ["POC"]
    assert ents["PolicyUsers"] == [] and ents["PolicyRoles"] == []
    version = iam.get_policy_version(PolicyArn=out["POLICY_ARN"], VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": out["ROLE_ARN"]}]
    assert out["SANDY"] == f"arn:aws:iam::{seed004['trusted']}:user/Sandy"


def test_seed004_sandy_switches_role_and_reads_but_cannot_write(seed004):
    out = seed004["out"]
    assert "AccessDenied" in out["SANDY_S3_ERROR"]
    assert out["SWITCHED"] == f"arn:aws:sts::{seed004['trusting']}:assumed-role/my_cross_account_role/Sandy"
    assert seed004["bucket"] in out["S3_LS"].split()
    assert out["EC2_RESERVATIONS"] == "0"
    assert "(AccessDenied)" in out["MB_ERROR"] and "CreateBucket" in out["MB_ERROR"]
    assert "(AccessDenied)" in out["IAM_ERROR"]
    assert (f"arn:aws:sts::{seed004['trusting']}:assumed-role/my_cross_account_role/Sandy is not authorized "
            f"to perform: iam:CreateUser") in out["IAM_ERROR"]
