"""The rest of IAM's API (issue "IAM, STS and Organizations, every operation", bullet "IAM, the
rest"): SSH public keys and signing certificates, through boto3 and the AWS CLI."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone

import boto3
import botocore.config
import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import REGION, unique, user_with_key


def code(exc):
    return exc.value.response["Error"]["Code"]


def status(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def unvalidated(t):
    """A root IAM client that skips botocore's own parameter checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        "iam", endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}), **t.root_creds)


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# ---------------------------------------------------------------------------------------------
# SSH public keys (id_credentials_ssh-keys.html)


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()


def openssh(public):
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def md5_fingerprint(ssh_line):
    """What `ssh-keygen -l -E md5` shows, without its `MD5:` prefix."""
    digest = hashlib.md5(base64.b64decode(ssh_line.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def test_ssh_public_key_lifecycle(tessera):
    t = tessera
    iam = t.client("iam")
    user = unique("ssh-")
    iam.create_user(UserName=user)
    key = rsa_key()
    line = openssh(key) + " me@laptop"
    up = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=line)["SSHPublicKey"]
    kid = up["SSHPublicKeyId"]
    assert kid.startswith("APKA") and len(kid) == 20
    assert up["UserName"] == user and up["Status"] == "Active"
    assert up["Fingerprint"] == md5_fingerprint(line)
    assert up["SSHPublicKeyBody"] == line

    ssh = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="SSH")["SSHPublicKey"]
    assert ssh["SSHPublicKeyBody"].split()[:2] == line.split()[:2]
    assert ssh["Fingerprint"] == up["Fingerprint"]
    pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="PEM")["SSHPublicKey"]
    loaded = serialization.load_pem_public_key(pem["SSHPublicKeyBody"].encode())
    assert loaded.public_numbers() == key.public_numbers()

    # The same key in PEM is recognized as the same key.
    pem_body = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem_body)
    assert code(e) == "DuplicateSSHPublicKey" and status(e) == 400
    # PKCS#1 PEM is accepted, and fingerprinted like its ssh-rsa form.
    other = rsa_key(3072)
    pkcs1 = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    second = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pkcs1)["SSHPublicKey"]
    assert second["Fingerprint"] == md5_fingerprint(openssh(other))

    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert sorted(k["SSHPublicKeyId"] for k in listed) == sorted([kid, second["SSHPublicKeyId"]])
    assert all("SSHPublicKeyBody" not in k for k in listed)
    page = iam.list_ssh_public_keys(UserName=user, MaxItems=1)
    assert page["IsTruncated"] and len(page["SSHPublicKeys"]) == 1
    rest = iam.list_ssh_public_keys(UserName=user, Marker=page["Marker"])["SSHPublicKeys"]
    assert [k["SSHPublicKeyId"] for k in page["SSHPublicKeys"] + rest] == [k["SSHPublicKeyId"] for k in listed]

    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Status="Inactive")
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="SSH")["SSHPublicKey"]
    assert got["Status"] == "Inactive"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Status="Expired")
    assert code(e) == "InvalidInput"

    # DeleteUser refuses while keys remain; a rename carries them.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=user)
    assert code(e) == "DeleteConflict"
    renamed = unique("ssh-renamed-")
    iam.update_user(UserName=user, NewUserName=renamed)
    moved = iam.list_ssh_public_keys(UserName=renamed)["SSHPublicKeys"]
    assert {k["UserName"] for k in moved} == {renamed} and len(moved) == 2
    for k in moved:
        iam.delete_ssh_public_key(UserName=renamed, SSHPublicKeyId=k["SSHPublicKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_ssh_public_key(UserName=renamed, SSHPublicKeyId=kid, Encoding="SSH")
    assert code(e) == "NoSuchEntity" and status(e) == 404
    iam.delete_user(UserName=renamed)


def test_ssh_public_key_errors_quota_denial_and_cli(tessera, tmp_path):
    t = tessera
    iam = t.client("iam")
    user = unique("ssh-err-")
    creds = user_with_key(t, t.root_creds, user)

    ed = ec.generate_private_key(ec.SECP256R1()).public_key()
    for body, expected in [
        ("not a key", "UnrecognizedPublicKeyEncoding"),
        (openssh(ed), "UnrecognizedPublicKeyEncoding"),
        ("ssh-rsa AAAA!!!", "InvalidPublicKey"),
        ("ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa").decode(), "InvalidPublicKey"),
        (openssh(rsa_key(1024)), "InvalidPublicKey"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)
        assert code(e) == expected, body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_ssh_public_key(UserName="nobody-" + user, SSHPublicKeyBody=openssh(rsa_key()))
    assert code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(t).get_ssh_public_key(UserName=user, SSHPublicKeyId="APKA0000000000000000", Encoding="DER")
    assert code(e) == "ValidationError"

    # The user cannot manage its own keys without a policy allowing it.
    own = t.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(rsa_key()))
    assert code(e) == "AccessDenied"
    iam.put_user_policy(UserName=user, PolicyName="own-ssh", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys"],
         "Resource": f"arn:aws:iam::*:user/{user}"}))
    # Quota: five per user.
    for _ in range(5):
        own.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(rsa_key()))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(rsa_key()))
    assert code(e) == "LimitExceeded"
    assert len(own.list_ssh_public_keys()["SSHPublicKeys"]) == 5
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.delete_ssh_public_key(UserName=user, SSHPublicKeyId=own.list_ssh_public_keys()["SSHPublicKeys"][0]["SSHPublicKeyId"])
    assert code(e) == "AccessDenied"

    # The AWS CLI.
    listed = t.cli("iam", "list-ssh-public-keys", "--user-name", user)["SSHPublicKeys"]
    kid = listed[0]["SSHPublicKeyId"]
    got = t.cli("iam", "get-ssh-public-key", "--user-name", user, "--ssh-public-key-id", kid, "--encoding", "PEM")
    assert got["SSHPublicKey"]["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
    t.cli("iam", "delete-ssh-public-key", "--user-name", user, "--ssh-public-key-id", kid)
    assert len(t.cli("iam", "list-ssh-public-keys", "--user-name", user)["SSHPublicKeys"]) == 4


# ---------------------------------------------------------------------------------------------
# Signing certificates (id_credentials_signing-certificates in the IAM user guide)


def make_certificate(common_name, not_before_days=-1, days=30):
    """A self-signed certificate (PEM)."""
    return make_certificate_and_key(common_name, not_before_days, days)[0]


def make_certificate_and_key(common_name, not_before_days=-1, days=30):
    """A self-signed certificate and its private key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + timedelta(days=not_before_days))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key


def test_signing_certificate_lifecycle(tessera):
    t = tessera
    iam = t.client("iam")
    user = unique("sign-")
    iam.create_user(UserName=user)
    body = make_certificate("one")
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    cid = cert["CertificateId"]
    assert len(cid) >= 24 and cert["UserName"] == user and cert["Status"] == "Active"
    assert cert["CertificateBody"] == body
    # The same certificate on another user of the account is a duplicate.
    other = unique("sign-other-")
    iam.create_user(UserName=other)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_signing_certificate(UserName=other, CertificateBody=body)
    assert code(e) == "DuplicateCertificate" and status(e) == 409
    second = iam.upload_signing_certificate(UserName=user, CertificateBody=make_certificate("two"))["Certificate"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_signing_certificate(UserName=user, CertificateBody=make_certificate("three"))
    assert code(e) == "LimitExceeded"
    listed = iam.list_signing_certificates(UserName=user)["Certificates"]
    assert sorted(c["CertificateId"] for c in listed) == sorted([cid, second["CertificateId"]])
    iam.update_signing_certificate(UserName=user, CertificateId=cid, Status="Inactive")
    statuses = {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName=user)["Certificates"]}
    assert statuses == {cid: "Inactive", second["CertificateId"]: "Active"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=user)
    assert code(e) == "DeleteConflict"
    renamed = unique("sign-renamed-")
    iam.update_user(UserName=user, NewUserName=renamed)
    assert {c["UserName"] for c in iam.list_signing_certificates(UserName=renamed)["Certificates"]} == {renamed}
    for c in iam.list_signing_certificates(UserName=renamed)["Certificates"]:
        iam.delete_signing_certificate(UserName=renamed, CertificateId=c["CertificateId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_signing_certificate(UserName=renamed, CertificateId=cid)
    assert code(e) == "NoSuchEntity"
    iam.delete_user(UserName=renamed)
    iam.delete_user(UserName=other)


def test_signing_certificate_errors_root_and_cli(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    user = unique("sign-err-")
    creds = user_with_key(t, t.root_creds, user)
    for body, expected in [
        ("garbage", "MalformedCertificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "MalformedCertificate"),
        (make_certificate("a") + make_certificate("b"), "MalformedCertificate"),
        (make_certificate("expired", not_before_days=-10, days=-1), "InvalidCertificate"),
        (make_certificate("future", not_before_days=5, days=10), "InvalidCertificate"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.upload_signing_certificate(UserName=user, CertificateBody=body)
        assert code(e) == expected, body[:40]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(t).update_signing_certificate(CertificateId="short", Status="Active")
    assert code(e) == "ValidationError"

    # Root without UserName manages the root user's own certificates.
    assert iam.get_account_summary()["SummaryMap"]["AccountSigningCertificatesPresent"] == 0
    root_cert = iam.upload_signing_certificate(CertificateBody=make_certificate("root"))["Certificate"]
    assert iam.get_account_summary()["SummaryMap"]["AccountSigningCertificatesPresent"] == 1
    assert "UserName" not in root_cert
    assert [c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]] == [root_cert["CertificateId"]]
    assert iam.list_signing_certificates(UserName=user)["Certificates"] == []

    # A user without permission is denied even on its own certificates; with it, it acts on its own.
    own = t.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.upload_signing_certificate(CertificateBody=make_certificate("mine"))
    assert code(e) == "AccessDenied"
    iam.put_user_policy(UserName=user, PolicyName="own-certs", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "iam:*SigningCertificate*", "Resource": f"arn:aws:iam::*:user/{user}"}))
    mine = own.upload_signing_certificate(CertificateBody=make_certificate("mine"))["Certificate"]
    assert mine["UserName"] == user
    own.update_signing_certificate(CertificateId=mine["CertificateId"], Status="Inactive")

    # The credential report shows them (a fresh server: no earlier report is reused).
    iam.generate_credential_report()
    rows = [r.split(",") for r in iam.get_credential_report()["Content"].decode().splitlines()]
    report = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert report["<root_account>"]["cert_1_active"] == "true"
    assert report[user]["cert_1_active"] == "false" and report[user]["cert_1_last_rotated"] != "N/A"
    assert report[user]["cert_2_active"] == "false" and report[user]["cert_2_last_rotated"] == "N/A"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.delete_signing_certificate(UserName="root-cert-is-not-mine", CertificateId=root_cert["CertificateId"])
    assert code(e) == "AccessDenied"

    # The AWS CLI.
    path = t.data_dir.parent / "cert.pem"
    path.write_text(make_certificate("cli"))
    out = t.cli("iam", "upload-signing-certificate", "--certificate-body", f"file://{path}")
    cid = out["Certificate"]["CertificateId"]
    listed = t.cli("iam", "list-signing-certificates")["Certificates"]
    assert sorted(c["CertificateId"] for c in listed) == sorted([cid, root_cert["CertificateId"]])
    t.cli("iam", "update-signing-certificate", "--certificate-id", cid, "--status", "Inactive")
    t.cli("iam", "delete-signing-certificate", "--certificate-id", cid)
    assert [c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]] == [root_cert["CertificateId"]]


# ---------------------------------------------------------------------------------------------
# Server certificate tags (id_tags_server-certs.html)


def test_server_certificate_tags(tessera):
    t = tessera
    iam = t.client("iam")
    name = unique("tagged-cert-")
    body, key = make_certificate_and_key(name)
    iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=key,
                                  Tags=[{"Key": "team", "Value": "web"}])
    iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "env", "Value": "prod"},
                                                                 {"Key": "team", "Value": "edge"}])
    tags = iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"]
    assert {x["Key"]: x["Value"] for x in tags} == {"team": "edge", "env": "prod"}
    assert {x["Key"]: x["Value"] for x in iam.get_server_certificate(ServerCertificateName=name)
            ["ServerCertificate"]["Tags"]} == {"team": "edge", "env": "prod"}
    page = iam.list_server_certificate_tags(ServerCertificateName=name, MaxItems=1)
    assert page["IsTruncated"] and len(page["Tags"]) == 1
    iam.untag_server_certificate(ServerCertificateName=name, TagKeys=["team"])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "aws:x", "Value": "y"}])
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_server_certificate(ServerCertificateName=name,
                                   Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code(e) == "LimitExceeded"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_server_certificate_tags(ServerCertificateName="no-" + name)
    assert code(e) == "NoSuchEntity"

    # Tag-based authorization: a user may tag only certificates whose env is dev.
    user = unique("cert-tagger-")
    creds = user_with_key(t, t.root_creds, user, policy(
        {"Effect": "Allow", "Action": ["iam:TagServerCertificate", "iam:ListServerCertificateTags"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}}}))
    limited = t.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "x", "Value": "y"}])
    assert code(e) == "AccessDenied"
    iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "env", "Value": "dev"}])
    limited.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "x", "Value": "y"}])

    # The AWS CLI.
    out = t.cli("iam", "list-server-certificate-tags", "--server-certificate-name", name)
    assert {x["Key"]: x["Value"] for x in out["Tags"]} == {"env": "dev", "x": "y"}
    t.cli("iam", "untag-server-certificate", "--server-certificate-name", name, "--tag-keys", "x", "env")
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == []
    iam.delete_server_certificate(ServerCertificateName=name)


# ---------------------------------------------------------------------------------------------
# SetSecurityTokenServicePreferences (id_credentials_temp_enable-regions.html)


def test_security_token_service_preferences(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    t.cli("iam", "set-security-token-service-preferences", "--global-endpoint-token-version", "v1Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(t).set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token")
    assert code(e) == "ValidationError"
    user = unique("sts-prefs-")
    creds = user_with_key(t, t.root_creds, user, policy({"Effect": "Allow", "Action": "iam:GetAccountSummary",
                                                         "Resource": "*"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam", **creds).set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert code(e) == "AccessDenied"
    assert t.client("iam", **creds).get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1


# ---------------------------------------------------------------------------------------------
# Service-linked roles (using-service-linked-roles.html)


def test_service_linked_role_lifecycle_and_protection(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    role = iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com",
                                          Description="for the load balancers")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForElasticLoadBalancing"
    assert role["Path"] == "/aws-service-role/elasticloadbalancing.amazonaws.com/"
    assert role["Arn"].endswith(":role/aws-service-role/elasticloadbalancing.amazonaws.com/"
                                "AWSServiceRoleForElasticLoadBalancing")
    assert role["Description"] == "for the load balancers"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "elasticloadbalancing.amazonaws.com"}
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    name = role["RoleName"]
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [
        "arn:aws:iam::aws:policy/aws-service-role/AWSElasticLoadBalancingServiceRolePolicy"]
    users_of = iam.list_entities_for_policy(
        PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AWSElasticLoadBalancingServiceRolePolicy")
    assert [r["RoleName"] for r in users_of["PolicyRoles"]] == [name]

    # A second one for the same service: its name is taken; no suffix for this service.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")
    assert code(e) == "InvalidInput" and "has been taken" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com", CustomSuffix="two")
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="no-such-service.amazonaws.com")
    assert code(e) == "InvalidInput"
    # Auto Scaling allows a custom suffix.
    suffixed = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web")["Role"]
    assert suffixed["RoleName"] == "AWSServiceRoleForAutoScaling_web"

    # Users cannot change it, as on AWS; the description can be changed.
    doc = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    trust_doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    attempts = [
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust_doc),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="extra", PolicyDocument=doc),
        lambda: iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"),
        lambda: iam.detach_role_policy(RoleName=name, PolicyArn=attached[0]["PolicyArn"]),
        lambda: iam.put_role_permissions_boundary(RoleName=name,
                                                  PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess"),
        lambda: iam.delete_role(RoleName=name),
    ]
    for attempt in attempts:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            attempt()
        assert code(e) == "UnmodifiableEntity" and status(e) == 400
        assert f"'{name}'" in e.value.response["Error"]["Message"]
    iam.update_role_description(RoleName=name, Description="changed")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "changed"
    # "You can edit the description of any role from the IAM console, API, or CLI" (IAM User
    # Guide, "Update a service-linked role"): UpdateRole too, but not its session duration.
    iam.update_role(RoleName=name, Description="changed again")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "changed again"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_role(RoleName=name, MaxSessionDuration=7200)
    assert code(e) == "UnmodifiableEntity"
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    assert len(iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]) == 1
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []

    # Deletion: a task that has succeeded; the role and its attachment are gone.
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/elasticloadbalancing.amazonaws.com/{name}/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName=name)
    assert code(e) == "NoSuchEntity"
    assert iam.list_entities_for_policy(PolicyArn=attached[0]["PolicyArn"])["PolicyRoles"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_service_linked_role_deletion_status(DeletionTaskId="nonsense")
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_service_linked_role_deletion_status(DeletionTaskId=task[:-4] + "ffff")
    assert code(e) == "NoSuchEntity"
    # An ordinary role is not deleted through it.
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=trust_doc)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_service_linked_role(RoleName="plain")
    assert code(e) == "InvalidInput"
    iam.put_role_policy(RoleName="plain", PolicyName="p", PolicyDocument=doc)

    # A role still in an instance profile: the deletion task fails and the role stays.
    iam.create_instance_profile(InstanceProfileName="holder")
    iam.add_role_to_instance_profile(InstanceProfileName="holder", RoleName=suffixed["RoleName"])
    failed = iam.delete_service_linked_role(RoleName=suffixed["RoleName"])["DeletionTaskId"]
    status_ = iam.get_service_linked_role_deletion_status(DeletionTaskId=failed)
    assert status_["Status"] == "FAILED" and status_["Reason"]["Reason"]
    assert iam.get_role(RoleName=suffixed["RoleName"])["Role"]["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"


def test_service_linked_role_authorization_and_cli(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    user = unique("slr-")
    creds = user_with_key(t, t.root_creds, user, policy(
        {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "rds.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["iam:PutRolePolicy", "iam:GetServiceLinkedRoleDeletionStatus"],
         "Resource": "*"}))
    limited = t.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    assert code(e) == "AccessDenied"
    role = limited.create_service_linked_role(AWSServiceName="rds.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForRDS"
    # Not allowed to delete it; allowed PutRolePolicy, which AWS still refuses on it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.delete_service_linked_role(RoleName="AWSServiceRoleForRDS")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.put_role_policy(RoleName="AWSServiceRoleForRDS", PolicyName="x",
                                PolicyDocument=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    assert code(e) == "UnmodifiableEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.delete_role(RoleName="AWSServiceRoleForRDS")
    assert code(e) == "AccessDenied"

    # The AWS CLI.
    out = t.cli("iam", "create-service-linked-role", "--aws-service-name", "guardduty.amazonaws.com")
    assert out["Role"]["RoleName"] == "AWSServiceRoleForAmazonGuardDuty"
    task = t.cli("iam", "delete-service-linked-role", "--role-name", "AWSServiceRoleForAmazonGuardDuty")
    got = t.cli("iam", "get-service-linked-role-deletion-status", "--deletion-task-id", task["DeletionTaskId"])
    assert got["Status"] == "SUCCEEDED"
    assert limited.get_service_linked_role_deletion_status(DeletionTaskId=task["DeletionTaskId"])["Status"] == \
        "SUCCEEDED"


# ---------------------------------------------------------------------------------------------
# ListPoliciesGrantingServiceAccess (access_policies_last-accessed-view-data.html)


def test_list_policies_granting_service_access(tessera):
    t = tessera
    iam = t.client("iam")
    user, group, role = unique("grant-u-"), unique("grant-g-"), unique("grant-r-")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-read", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}))
    iam.put_user_policy(UserName=user, PolicyName="deny-ec2", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    iam.put_group_policy(GroupName=group, PolicyName="not-iam", PolicyDocument=policy(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    arn = iam.get_user(UserName=user)["User"]["Arn"]
    out = iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["s3", "ec2", "iam"])
    assert out["IsTruncated"] is False
    by_ns = {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}
    names = {ns: sorted(p["PolicyName"] for p in ps) for ns, ps in by_ns.items()}
    assert names == {"s3": ["not-iam", "s3-read"], "ec2": ["AmazonEC2ReadOnlyAccess", "not-iam"], "iam": []}
    s3 = {p["PolicyName"]: p for p in by_ns["s3"]}
    assert s3["s3-read"]["PolicyType"] == "INLINE" and s3["s3-read"]["EntityType"] == "USER"
    assert s3["s3-read"]["EntityName"] == user
    assert s3["not-iam"]["EntityType"] == "GROUP" and s3["not-iam"]["EntityName"] == group
    ec2 = {p["PolicyName"]: p for p in by_ns["ec2"]}
    assert ec2["AmazonEC2ReadOnlyAccess"]["PolicyType"] == "MANAGED"
    assert ec2["AmazonEC2ReadOnlyAccess"]["PolicyArn"] == "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"

    # A role; the group alone; errors; the CLI.
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    got = iam.list_policies_granting_service_access(Arn=role_arn, ServiceNamespaces=["dynamodb"])
    assert [p["PolicyName"] for p in got["PoliciesGrantingServiceAccess"][0]["Policies"]] == ["AdministratorAccess"]
    group_arn = iam.get_group(GroupName=group)["Group"]["Arn"]
    got = iam.list_policies_granting_service_access(Arn=group_arn, ServiceNamespaces=["iam"])
    assert got["PoliciesGrantingServiceAccess"][0]["Policies"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_policies_granting_service_access(Arn=arn + "-gone", ServiceNamespaces=["s3"])
    assert code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_policies_granting_service_access(Arn="arn:aws:s3:::bucket-name", ServiceNamespaces=["s3"])
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["nosuchservice"])
    assert code(e) == "InvalidInput"
    outsider = user_with_key(t, t.root_creds, unique("grant-none-"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam", **outsider).list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["s3"])
    assert code(e) == "AccessDenied"
    cli = t.cli("iam", "list-policies-granting-service-access", "--arn", arn, "--service-namespaces", "s3")
    assert sorted(p["PolicyName"] for p in cli["PoliciesGrantingServiceAccess"][0]["Policies"]) == \
        ["not-iam", "s3-read"]


# ---------------------------------------------------------------------------------------------
# The same records on the PostgreSQL backend (a fresh schema, dropped after).


PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="TESSERA_TEST_POSTGRES_URL is not set: no PostgreSQL server")
def test_on_postgres(tessera_factory):
    schema = f"tessera_iamrest_{os.getpid()}_{time.time_ns() % 10**12}"
    sep = "&" if "?" in PG_URL else "?"
    try:
        t = tessera_factory("data", ["--store-url", f"{PG_URL}{sep}schema={schema}"]).start()
        iam = t.client("iam")
        iam.create_user(UserName="pg-user")
        kid = iam.upload_ssh_public_key(UserName="pg-user", SSHPublicKeyBody=openssh(rsa_key()))["SSHPublicKey"][
            "SSHPublicKeyId"]
        iam.upload_signing_certificate(UserName="pg-user", CertificateBody=make_certificate("pg"))
        root_cert = iam.upload_signing_certificate(CertificateBody=make_certificate("pg-root"))["Certificate"]
        iam.update_user(UserName="pg-user", NewUserName="pg-renamed")
        assert [k["SSHPublicKeyId"] for k in iam.list_ssh_public_keys(UserName="pg-renamed")["SSHPublicKeys"]] == [kid]
        assert len(iam.list_signing_certificates(UserName="pg-renamed")["Certificates"]) == 1
        assert [c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]] == \
            [root_cert["CertificateId"]]
        summary = iam.get_account_summary()["SummaryMap"]
        assert summary["AccountSigningCertificatesPresent"] == 1
        iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
        assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
        role = iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.delete_role(RoleName=role["RoleName"])
        assert code(e) == "UnmodifiableEntity"
        task = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
        assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    finally:
        if shutil.which("psql"):
            subprocess.run(["psql", PG_URL, "-Atc", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                           capture_output=True, timeout=60)
