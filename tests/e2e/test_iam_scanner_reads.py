"""The IAM reads security scanners depend on: service last accessed data
(access_policies_last-accessed.html), server certificates, service-specific credentials and
ListOrganizationsFeatures, through boto3 and the AWS CLI."""

import json
import time
from datetime import datetime, timezone

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import REGION, unique, user_with_key


def code(exc):
    return exc.value.response["Error"]["Code"]


def unvalidated(t, service="iam"):
    """A root boto3 client that skips botocore's own parameter checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        service,
        endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **t.root_creds,
    )


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def epoch(dt):
    return dt.replace(tzinfo=timezone.utc).timestamp() if dt.tzinfo is None else dt.timestamp()


def report(iam, arn, granularity="SERVICE_LEVEL"):
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    assert len(job) == 36
    out = iam.get_service_last_accessed_details(JobId=job)
    assert out["JobStatus"] == "COMPLETED"
    assert out["JobType"] == granularity
    assert out["JobCompletionDate"] >= out["JobCreationDate"]
    return job, {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}


def assert_within(dt, t0, t1):
    # LastAuthenticated has whole seconds.
    assert int(t0) - 1 <= epoch(dt) <= t1 + 1, (dt, t0, t1)


@pytest.fixture(scope="module")
def scanner_world(tessera):
    """A user that called IAM and STS, a role whose session called IAM, a group of two users of
    which one called IAM, all made by this module (calls recorded between t0 and t1)."""
    t = tessera
    root_iam = t.client("iam")
    account = t.client("sts").get_caller_identity()["Account"]
    caller = unique("la-user-")
    idle = unique("la-idle-")
    group = unique("la-group-")
    role = unique("la-role-")
    t0 = time.time()
    creds = user_with_key(
        t, t.root_creds, caller,
        policy(allow(["iam:Get*", "iam:List*", "sts:*", "ec2:Describe*"])))
    user_with_key(t, t.root_creds, idle)
    root_iam.create_group(GroupName=group)
    root_iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=policy(allow("iam:Get*")))
    for u in (caller, idle):
        root_iam.add_user_to_group(GroupName=group, UserName=u)
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole"})
    root_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    root_iam.put_role_policy(RoleName=role, PolicyName="r", PolicyDocument=policy(allow(["iam:ListRoles", "s3:*"])))
    time.sleep(1.1)  # the calls below come after every call of the setup, by a whole second
    t_calls = time.time()
    user_iam = t.client("iam", **creds)
    user_iam.get_user(UserName=caller)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_iam.create_user(UserName=unique("la-denied-"))  # denied: still an authenticated attempt
    assert code(e) == "AccessDenied"
    c = t.client("sts", **creds).assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                             RoleSessionName="scan")["Credentials"]
    session = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
               "aws_session_token": c["SessionToken"]}
    t.client("iam", **session).list_roles()
    t1 = time.time()
    return dict(account=account, caller=caller, idle=idle, group=group, role=role, creds=creds,
                t0=t0, t_calls=t_calls, t1=t1,
                user_arn=f"arn:aws:iam::{account}:user/{caller}",
                idle_arn=f"arn:aws:iam::{account}:user/{idle}",
                role_arn=f"arn:aws:iam::{account}:role/{role}",
                group_arn=f"arn:aws:iam::{account}:group/{group}")


def test_user_report_shows_exactly_the_services_it_called(tessera, scanner_world):
    w = scanner_world
    _, services = report(tessera.client("iam"), w["user_arn"])
    # The services its policies (its own and its group's) allow, of those Tessera serves.
    assert set(services) == {"ec2", "iam", "sts"}
    for ns in ("iam", "sts"):
        s = services[ns]
        assert_within(s["LastAuthenticated"], w["t_calls"], w["t1"])
        assert s["LastAuthenticatedEntity"] == w["user_arn"]
        assert s["LastAuthenticatedRegion"] == REGION
        assert s["TotalAuthenticatedEntities"] == 1
    assert services["iam"]["ServiceName"] == "AWS Identity and Access Management"
    ec2 = services["ec2"]
    assert "LastAuthenticated" not in ec2 and "LastAuthenticatedEntity" not in ec2
    assert ec2["TotalAuthenticatedEntities"] == 0


def test_role_sessions_count_for_the_role(tessera, scanner_world):
    w = scanner_world
    _, services = report(tessera.client("iam"), w["role_arn"])
    assert set(services) == {"iam", "s3"}
    assert services["iam"]["LastAuthenticatedEntity"] == w["role_arn"]
    assert_within(services["iam"]["LastAuthenticated"], w["t_calls"], w["t1"])
    assert "LastAuthenticated" not in services["s3"]


def test_group_aggregates_its_members_and_lists_them_with_entities(tessera, scanner_world):
    w = scanner_world
    iam = tessera.client("iam")
    job, services = report(iam, w["group_arn"])
    assert set(services) == {"iam"}
    assert services["iam"]["TotalAuthenticatedEntities"] == 1
    assert services["iam"]["LastAuthenticatedEntity"] == w["user_arn"]
    out = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
    assert out["JobStatus"] == "COMPLETED"
    by_arn = {e["EntityInfo"]["Arn"]: e for e in out["EntityDetailsList"]}
    assert set(by_arn) == {w["user_arn"], w["idle_arn"]}
    assert by_arn[w["user_arn"]]["EntityInfo"]["Type"] == "USER"
    assert by_arn[w["user_arn"]]["EntityInfo"]["Name"] == w["caller"]
    assert_within(by_arn[w["user_arn"]]["LastAuthenticated"], w["t_calls"], w["t1"])
    assert "LastAuthenticated" not in by_arn[w["idle_arn"]]
    # Paging, one entity at a time.
    first = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam", MaxItems=1)
    assert first["IsTruncated"] and len(first["EntityDetailsList"]) == 1
    rest = iam.get_service_last_accessed_details_with_entities(
        JobId=job, ServiceNamespace="iam", MaxItems=1, Marker=first["Marker"])
    assert not rest["IsTruncated"]
    assert {first["EntityDetailsList"][0]["EntityInfo"]["Arn"], rest["EntityDetailsList"][0]["EntityInfo"]["Arn"]} \
        == set(by_arn)


def test_action_level_shows_tracked_actions(tessera, scanner_world):
    w = scanner_world
    _, services = report(tessera.client("iam"), w["user_arn"], "ACTION_LEVEL")
    actions = {a["ActionName"]: a for a in services["iam"]["TrackedActionsLastAccessed"]}
    get_user = actions["GetUser"]
    assert get_user["LastAccessedEntity"] == w["user_arn"]
    assert get_user["LastAccessedRegion"] == REGION
    assert_within(get_user["LastAccessedTime"], w["t_calls"], w["t1"])
    # Allowed but never called: listed without a time. Not allowed by its policies and never
    # attempted: not listed. The denied CreateUser attempt counts, as on AWS.
    assert "LastAccessedTime" not in actions["ListUsers"]
    assert "DeleteUser" not in actions
    assert_within(actions["CreateUser"]["LastAccessedTime"], w["t_calls"], w["t1"])


def test_paging_of_services_and_the_cli(tessera, scanner_world):
    w = scanner_world
    out = tessera.cli("iam", "generate-service-last-accessed-details", "--arn", w["user_arn"])
    job = out["JobId"]
    page = tessera.cli("iam", "get-service-last-accessed-details", "--job-id", job, "--max-items", "1")
    assert page["JobStatus"] == "COMPLETED"
    assert len(page["ServicesLastAccessed"]) == 1
    full = tessera.cli("iam", "get-service-last-accessed-details", "--job-id", job)
    assert [s["ServiceNamespace"] for s in full["ServicesLastAccessed"]] == ["ec2", "iam", "sts"]
    iam = tessera.client("iam")
    p1 = iam.get_service_last_accessed_details(JobId=job, MaxItems=2)
    assert p1["IsTruncated"] and len(p1["ServicesLastAccessed"]) == 2
    p2 = iam.get_service_last_accessed_details(JobId=job, MaxItems=2, Marker=p1["Marker"])
    assert not p2["IsTruncated"] and len(p2["ServicesLastAccessed"]) == 1


def test_last_accessed_errors_and_denials(tessera, scanner_world):
    w = scanner_world
    iam = tessera.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{w['account']}:user/{unique('nobody-')}")
    assert code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.generate_service_last_accessed_details(Arn="arn:aws:iam::not-an-account-arn-x")
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.generate_service_last_accessed_details(Arn=w["user_arn"], Granularity="RESOURCE_LEVEL")
    assert code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000")
    assert code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(tessera).get_service_last_accessed_details(JobId="short")
    assert code(e) == "ValidationError"
    # A user without the actions is denied; a job is readable only by who generated it.
    job = iam.generate_service_last_accessed_details(Arn=w["user_arn"])["JobId"]
    bare = tessera.client("iam", **user_with_key(tessera, tessera.root_creds, unique("la-bare-")))
    for call in (lambda: bare.generate_service_last_accessed_details(Arn=w["user_arn"]),
                 lambda: bare.get_service_last_accessed_details(JobId=job),
                 lambda: bare.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    # The caller's iam:Get* allows GetServiceLastAccessedDetails, but the job is root's.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        tessera.client("iam", **w["creds"]).get_service_last_accessed_details(JobId=job)
    assert code(e) == "NoSuchEntity"


def test_policy_report_covers_its_attached_entities(tessera, scanner_world):
    w = scanner_world
    iam = tessera.client("iam")
    name = unique("la-policy-")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=policy(allow("sts:GetCallerIdentity")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=w["group"], PolicyArn=arn)
    iam.attach_role_policy(RoleName=w["role"], PolicyArn=arn)
    try:
        job, services = report(iam, arn)
        assert set(services) == {"sts"}
        # The group's caller called STS; the role's session did not.
        assert services["sts"]["TotalAuthenticatedEntities"] == 1
        assert services["sts"]["LastAuthenticatedEntity"] == w["user_arn"]
        out = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="sts")
        kinds = {e["EntityInfo"]["Arn"]: e["EntityInfo"]["Type"] for e in out["EntityDetailsList"]}
        assert kinds == {w["user_arn"]: "USER", w["idle_arn"]: "USER", w["role_arn"]: "ROLE"}
    finally:
        iam.detach_group_policy(GroupName=w["group"], PolicyArn=arn)
        iam.detach_role_policy(RoleName=w["role"], PolicyArn=arn)


# ---------------------------------------------------------------------------------------------
# Service-specific credentials (id_credentials_ssh-keys.html, id_credentials_keyspaces.html)


def audit_events(t, event_name, since):
    ct = t.client("cloudtrail")
    out = []
    for page in ct.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
            StartTime=datetime.fromtimestamp(since - 5, timezone.utc)):
        out.extend(page["Events"])
    return out


def test_service_specific_credentials_lifecycle_and_limits(tessera):
    t = tessera
    iam = t.client("iam")
    account = t.client("sts").get_caller_identity()["Account"]
    user = unique("ssc-")
    iam.create_user(UserName=user)
    started = time.time()
    first = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    assert first["ServiceUserName"] == f"{user}-at-{account}"
    assert first["Status"] == "Active" and first["UserName"] == user
    assert len(first["ServicePassword"]) >= 20
    second = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert code(e) == "LimitExceeded"
    keyspaces = iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com")[
        "ServiceSpecificCredential"]
    bedrock = iam.create_service_specific_credential(UserName=user, ServiceName="bedrock.amazonaws.com",
                                                     CredentialAgeDays=30)["ServiceSpecificCredential"]
    assert bedrock["ServiceCredentialSecret"] and "ExpirationDate" in bedrock
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_specific_credential(UserName=user, ServiceName="s3.amazonaws.com")
    assert code(e) == "NotSupportedService"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com",
                                               CredentialAgeDays=3)
    assert code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_specific_credential(UserName=unique("nobody-"), ServiceName="codecommit.amazonaws.com")
    assert code(e) == "NoSuchEntity"

    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert len(listed) == 4
    assert all("ServicePassword" not in c and "ServiceCredentialSecret" not in c for c in listed)
    only = iam.list_service_specific_credentials(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert {c["ServiceSpecificCredentialId"] for c in only["ServiceSpecificCredentials"]} == {
        first["ServiceSpecificCredentialId"], second["ServiceSpecificCredentialId"]}

    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=first["ServiceSpecificCredentialId"],
                                           Status="Inactive")
    status = {c["ServiceSpecificCredentialId"]: c["Status"]
              for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]}
    assert status[first["ServiceSpecificCredentialId"]] == "Inactive"
    reset = iam.reset_service_specific_credential(UserName=user,
                                                  ServiceSpecificCredentialId=keyspaces["ServiceSpecificCredentialId"])
    new_password = reset["ServiceSpecificCredential"]["ServicePassword"]
    assert new_password != keyspaces["ServicePassword"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId="ACCA" + "X" * 17)
    assert code(e) == "NoSuchEntity"

    # DeleteUser refuses while credentials remain.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=user)
    assert code(e) == "DeleteConflict"
    for c in (first, second, keyspaces, bedrock):
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=first["ServiceSpecificCredentialId"])
    assert code(e) == "NoSuchEntity"
    iam.delete_user(UserName=user)

    # The audit trail never holds a password or API key.
    secrets = [first["ServicePassword"], second["ServicePassword"], keyspaces["ServicePassword"], new_password,
               bedrock["ServiceCredentialSecret"]]
    events = audit_events(t, "CreateServiceSpecificCredential", started) + \
        audit_events(t, "ResetServiceSpecificCredential", started)
    assert len(events) >= 5
    for ev in events:
        for s in secrets:
            assert s not in ev["CloudTrailEvent"]


def test_service_specific_credentials_denied_and_cli(tessera):
    t = tessera
    user = unique("ssc-bare-")
    creds = user_with_key(t, t.root_creds, user)
    own = t.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        own.list_service_specific_credentials()
    assert code(e) == "AccessDenied"
    assert t.client("iam").list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []
    out = t.cli("iam", "create-service-specific-credential", "--user-name", user,
                "--service-name", "cassandra.amazonaws.com")
    cid = out["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    listed = t.cli("iam", "list-service-specific-credentials", "--user-name", user)
    assert [c["ServiceSpecificCredentialId"] for c in listed["ServiceSpecificCredentials"]] == [cid]
    t.cli("iam", "delete-service-specific-credential", "--user-name", user, "--service-specific-credential-id", cid)


# ---------------------------------------------------------------------------------------------
# ListOrganizationsFeatures (id_root-user.html#id_root-user-access-management)


def test_list_organizations_features(tessera, accounts):
    t = tessera
    org = t.client("organizations")
    org_id = org.describe_organization()["Organization"]["Id"]
    org.disable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam").list_organizations_features()
    assert code(e) == "ServiceAccessNotEnabledException"
    org.enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    out = t.client("iam").list_organizations_features()
    assert out["OrganizationId"] == org_id
    assert out["EnabledFeatures"] == []
    assert t.cli("iam", "list-organizations-features")["OrganizationId"] == org_id
    member = accounts.create("features")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam", **accounts.admin_creds(member)).list_organizations_features()
    assert code(e) == "AccountNotManagementOrDelegatedAdministratorException"
    # A delegated administrator for IAM may list them too.
    org.register_delegated_administrator(AccountId=member, ServicePrincipal="iam.amazonaws.com")
    out = t.client("iam", **accounts.admin_creds(member)).list_organizations_features()
    assert out["OrganizationId"] == org_id
    org.deregister_delegated_administrator(AccountId=member, ServicePrincipal="iam.amazonaws.com")
    bare = t.client("iam", **user_with_key(t, t.root_creds, unique("feat-bare-")))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bare.list_organizations_features()
    assert code(e) == "AccessDenied"
    # The features themselves: tests/e2e/test_root_access.py.


def test_list_organizations_features_without_an_organization(fresh_tessera):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fresh_tessera.client("iam").list_organizations_features()
    assert code(e) == "OrganizationNotFoundException"


# ---------------------------------------------------------------------------------------------
# Server certificates (id_credentials_server-certs.html)


def make_certificate(common_name, days=30):
    """A self-signed RSA certificate and its key, in PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from datetime import timedelta

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return body, pem_key, now + timedelta(days=days)


def test_server_certificate_round_trip(tessera):
    t = tessera
    iam = t.client("iam")
    account = t.client("sts").get_caller_identity()["Account"]
    name = unique("cert-")
    body, key, not_after = make_certificate("scanner.example.com")
    chain, _, _ = make_certificate("ca.example.com")
    other_body, other_key, _ = make_certificate("other.example.com")
    started = time.time()
    meta = iam.upload_server_certificate(ServerCertificateName=name, Path="/lb/", CertificateBody=body,
                                         PrivateKey=key, CertificateChain=chain,
                                         Tags=[{"Key": "team", "Value": "edge"}])["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{account}:server-certificate/lb/{name}"
    assert meta["ServerCertificateId"].startswith("ASCA")
    assert int(epoch(meta["Expiration"])) == int(not_after.timestamp())
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"].strip() == body.strip()
    assert got["CertificateChain"].strip() == chain.strip()
    assert got["Tags"] == [{"Key": "team", "Value": "edge"}]
    assert "PrivateKey" not in got and key not in json.dumps(got, default=str)
    names = [m["ServerCertificateName"] for m in iam.list_server_certificates(PathPrefix="/lb/")[
        "ServerCertificateMetadataList"]]
    assert name in names
    assert name not in [m["ServerCertificateName"] for m in iam.list_server_certificates(PathPrefix="/none/")[
        "ServerCertificateMetadataList"]]

    # A key of another certificate, a body that is not PEM: refused, nothing stored.
    bad = unique("cert-bad-")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=bad, CertificateBody=body, PrivateKey=other_key)
    assert code(e) == "KeyPairMismatch"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=bad, CertificateBody="not a certificate",
                                      PrivateKey=key)
    assert code(e) == "MalformedCertificate"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=bad, CertificateBody=body, PrivateKey=key,
                                      CertificateChain="garbage")
    assert code(e) == "MalformedCertificate"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_server_certificate(ServerCertificateName=bad)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=key)
    assert code(e) == "EntityAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(t).upload_server_certificate(ServerCertificateName="bad name!", CertificateBody=body,
                                                 PrivateKey=key)
    assert code(e) == "ValidationError"

    # Rename and move, then delete.
    renamed = name + "-r"
    iam.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=renamed, NewPath="/web/")
    got = iam.get_server_certificate(ServerCertificateName=renamed)["ServerCertificate"]["ServerCertificateMetadata"]
    assert got["Path"] == "/web/" and got["ServerCertificateId"] == meta["ServerCertificateId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_server_certificate(ServerCertificateName=name)
    assert code(e) == "NoSuchEntity"
    t.cli("iam", "get-server-certificate", "--server-certificate-name", renamed)
    t.cli("iam", "delete-server-certificate", "--server-certificate-name", renamed)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_server_certificate(ServerCertificateName=renamed)
    assert code(e) == "NoSuchEntity"

    # The audit trail never holds the private key.
    key_lines = [l for l in key.splitlines() if l and not l.startswith("-----")]
    events = audit_events(t, "UploadServerCertificate", started)
    assert len(events) >= 4
    for ev in events:
        record = ev["CloudTrailEvent"]
        assert not any(l in record for l in key_lines)
        assert not any(l in record for l in other_key.splitlines() if l and not l.startswith("-----"))


def test_server_certificate_denied_and_quota(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    body, key, _ = make_certificate("quota.example.com")
    bare = t.client("iam", **user_with_key(t, t.root_creds, unique("cert-bare-")))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bare.upload_server_certificate(ServerCertificateName="denied", CertificateBody=body, PrivateKey=key)
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bare.list_server_certificates()
    assert code(e) == "AccessDenied"
    for i in range(20):
        iam.upload_server_certificate(ServerCertificateName=f"c{i:02}", CertificateBody=body, PrivateKey=key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName="c20", CertificateBody=body, PrivateKey=key)
    assert code(e) == "LimitExceeded"
    page = iam.list_server_certificates(MaxItems=15)
    assert page["IsTruncated"] and len(page["ServerCertificateMetadataList"]) == 15
    rest = iam.list_server_certificates(Marker=page["Marker"])
    assert len(rest["ServerCertificateMetadataList"]) == 5 and not rest["IsTruncated"]
