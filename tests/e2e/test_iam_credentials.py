"""IAM credentials and account-level operations through the real AWS CLI and boto3: access keys,
login profiles and the password policy, virtual MFA devices, OIDC and SAML providers, the account
alias, GetAccountSummary, GetAccountAuthorizationDetails, credential reports, and who may call them.
"""

import base64
import csv
import io
import json
import time

import boto3
import botocore.config
import botocore.exceptions
import pyotp
import pytest

from conftest import REGION, CliError, unique

ROTATE_OWN_KEYS = {
    # The documented example: IAM users manage their own access keys, and only theirs.
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        }
    ],
}


def unvalidated(t, service="iam"):
    """A root boto3 client that skips botocore's own parameter checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        service,
        endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **t.root_creds,
    )


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def http_status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def make_user(t, name, policy=None, managed=None):
    """Create a user (with an inline policy and/or a managed policy) and an access key for it."""
    iam = t.client("iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    if managed:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def saml_metadata(entity="https://idp.example.com/saml"):
    cert = "MIIC" + "A" * 1200
    return (
        '<?xml version="1.0"?>'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}" '
        'validUntil="2035-06-01T00:00:00Z">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://idp.example.com/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


# ---------------------------------------------------------------------------------------------
# Access keys


def test_access_keys_lifecycle_through_the_cli(tessera):
    user = unique("keys-")
    tessera.cli("iam", "create-user", "--user-name", user)
    first = tessera.cli("iam", "create-access-key", "--user-name", user)["AccessKey"]
    assert first["UserName"] == user
    assert first["Status"] == "Active"
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40

    # The new key works, and the secret is never shown again.
    env = tessera.env_for(first["AccessKeyId"], first["SecretAccessKey"])
    me = tessera.cli("sts", "get-caller-identity", env=env)
    assert me["Arn"].endswith(f":user/{user}")
    listed = tessera.cli("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [first["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]

    second = tessera.cli("iam", "create-access-key", "--user-name", user)["AccessKey"]
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "create-access-key", "--user-name", user)
    assert e.value.code == "LimitExceeded"
    assert "Cannot exceed quota for AccessKeysPerUser: 2" in e.value.stderr

    tessera.cli("iam", "update-access-key", "--user-name", user, "--access-key-id", first["AccessKeyId"],
                "--status", "Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in
                tessera.cli("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]}
    assert statuses == {first["AccessKeyId"]: "Inactive", second["AccessKeyId"]: "Active"}
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "get-caller-identity", env=env)
    assert e.value.code == "InvalidClientTokenId"

    tessera.cli("iam", "delete-access-key", "--user-name", user, "--access-key-id", first["AccessKeyId"])
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "delete-access-key", "--user-name", user, "--access-key-id", first["AccessKeyId"])
    assert e.value.code == "NoSuchEntity"
    assert f"The Access Key with id {first['AccessKeyId']} cannot be found." in e.value.stderr
    remaining = tessera.cli("iam", "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in remaining] == [second["AccessKeyId"]]


def test_access_key_errors_through_boto3(tessera):
    iam = tessera.client("iam")
    a, b = unique("ka-"), unique("kb-")
    iam.create_user(UserName=a)
    iam.create_user(UserName=b)
    key = iam.create_access_key(UserName=a)["AccessKey"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName="no-such-user-" + a)
    assert error_code(e) == "NoSuchEntity" and http_status(e) == 404
    assert e.value.response["Error"]["Message"] == f"The user with name no-such-user-{a} cannot be found."

    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(tessera).list_access_keys(UserName="bad name")
    assert error_code(e) == "ValidationError"
    assert "at 'userName' failed to satisfy constraint" in e.value.response["Error"]["Message"]

    # A key is found only under its owner.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(UserName=b, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(UserName=a, AccessKeyId=key["AccessKeyId"], Status="Disabled")
    assert error_code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(UserName=a, AccessKeyId="AKIA0000000000000000")
    assert error_code(e) == "NoSuchEntity"

    # Keys of a user block DeleteUser, as on AWS.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=a)
    assert error_code(e) == "DeleteConflict"
    iam.delete_access_key(UserName=a, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=a)


def test_root_access_keys_without_user_name(tessera):
    iam = tessera.client("iam")
    before = {k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]}
    assert tessera.root_creds["aws_access_key_id"] in before
    created = iam.create_access_key()["AccessKey"]
    try:
        assert "UserName" not in created
        root = tessera.client("sts", aws_access_key_id=created["AccessKeyId"],
                              aws_secret_access_key=created["SecretAccessKey"]).get_caller_identity()
        assert root["Arn"].endswith(":root")
        listed = {k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]}
        assert listed == before | {created["AccessKeyId"]}
        # At most two for the root user too.
        if len(listed) >= 2:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                iam.create_access_key()
            assert error_code(e) == "LimitExceeded"
    finally:
        iam.delete_access_key(AccessKeyId=created["AccessKeyId"])
    assert {k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]} == before


def test_access_key_last_used(tessera):
    iam = tessera.client("iam")
    user = unique("lu-")
    creds = make_user(tessera, user)
    fresh = iam.get_access_key_last_used(AccessKeyId=creds["aws_access_key_id"])
    assert fresh["UserName"] == user
    assert fresh["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert "LastUsedDate" not in fresh["AccessKeyLastUsed"]

    tessera.client("sts", **creds).get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=creds["aws_access_key_id"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "sts"
    assert used["Region"] == "us-east-1"
    assert abs(used["LastUsedDate"].timestamp() - time.time()) < 120

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_access_key_last_used(AccessKeyId="AKIA0000000000000000")
    assert error_code(e) == "AccessDenied"


# ---------------------------------------------------------------------------------------------
# Login profiles and the password policy


def test_login_profiles_and_password_policy(fresh_tessera):
    t = fresh_tessera
    t.cli("iam", "create-user", "--user-name", "Sandy")
    # AWS's default password policy applies until the account sets one.
    with pytest.raises(CliError) as e:
        t.cli("iam", "create-login-profile", "--user-name", "Sandy", "--password", "redhat",
              "--no-password-reset-required")
    assert e.value.code == "PasswordPolicyViolation"
    assert "redhat" not in e.value.stderr

    with pytest.raises(CliError) as e:
        t.cli("iam", "get-account-password-policy")
    assert e.value.code == "NoSuchEntity"
    t.cli("iam", "update-account-password-policy", "--minimum-password-length", "6", "--password-reuse-prevention",
          "3", "--max-password-age", "90")
    policy = t.cli("iam", "get-account-password-policy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 6
    assert policy["PasswordReusePrevention"] == 3
    assert policy["MaxPasswordAge"] == 90 and policy["ExpirePasswords"] is True
    assert policy["RequireSymbols"] is False and policy["AllowUsersToChangePassword"] is False

    created = t.cli("iam", "create-login-profile", "--user-name", "Sandy", "--password", "redhat",
                    "--no-password-reset-required")["LoginProfile"]
    assert created["UserName"] == "Sandy" and created["PasswordResetRequired"] is False
    with pytest.raises(CliError) as e:
        t.cli("iam", "create-login-profile", "--user-name", "Sandy", "--password", "redhat2")
    assert e.value.code == "EntityAlreadyExists"

    # Reuse prevention, then a new password with reset required.
    with pytest.raises(CliError) as e:
        t.cli("iam", "update-login-profile", "--user-name", "Sandy", "--password", "redhat")
    assert e.value.code == "PasswordPolicyViolation"
    t.cli("iam", "update-login-profile", "--user-name", "Sandy", "--password", "fedora", "--password-reset-required")
    got = t.cli("iam", "get-login-profile", "--user-name", "Sandy")["LoginProfile"]
    assert got["PasswordResetRequired"] is True
    assert "Password" not in json.dumps(got).replace("PasswordResetRequired", "")

    # A stricter policy refuses weak passwords.
    t.cli("iam", "update-account-password-policy", "--minimum-password-length", "12", "--require-symbols",
          "--require-numbers", "--require-uppercase-characters", "--require-lowercase-characters",
          "--allow-users-to-change-password")
    with pytest.raises(CliError) as e:
        t.cli("iam", "update-login-profile", "--user-name", "Sandy", "--password", "Longbutnosymbol1")
    assert e.value.code == "PasswordPolicyViolation"
    t.cli("iam", "update-login-profile", "--user-name", "Sandy", "--password", "Str0ng!Passw0rd")

    # The user changes its own password: allowed by the policy, checked against the old one.
    key = t.cli("iam", "create-access-key", "--user-name", "Sandy")["AccessKey"]
    sandy = t.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sandy.change_password(OldPassword="wrong-Passw0rd!", NewPassword="An0ther!Passw0rd")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sandy.change_password(OldPassword="Str0ng!Passw0rd", NewPassword="weak")
    assert error_code(e) == "PasswordPolicyViolation"
    sandy.change_password(OldPassword="Str0ng!Passw0rd", NewPassword="An0ther!Passw0rd")
    assert t.cli("iam", "get-login-profile", "--user-name", "Sandy")["LoginProfile"]["PasswordResetRequired"] is False
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam").change_password(OldPassword="a", NewPassword="b")
    assert error_code(e) == "InvalidUserType"

    # A login profile blocks DeleteUser.
    t.cli("iam", "delete-access-key", "--user-name", "Sandy", "--access-key-id", key["AccessKeyId"])
    with pytest.raises(CliError) as e:
        t.cli("iam", "delete-user", "--user-name", "Sandy")
    assert e.value.code == "DeleteConflict"
    t.cli("iam", "delete-login-profile", "--user-name", "Sandy")
    with pytest.raises(CliError) as e:
        t.cli("iam", "get-login-profile", "--user-name", "Sandy")
    assert e.value.code == "NoSuchEntity"
    assert "Login Profile for User Sandy cannot be found." in e.value.stderr
    with pytest.raises(CliError) as e:
        t.cli("iam", "delete-login-profile", "--user-name", "Sandy")
    assert e.value.code == "NoSuchEntity"
    with pytest.raises(CliError) as e:
        t.cli("iam", "get-login-profile", "--user-name", "Nobody")
    assert e.value.code == "NoSuchEntity"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(t).update_account_password_policy(MinimumPasswordLength=200)
    assert error_code(e) == "ValidationError"
    assert "at 'minimumPasswordLength'" in e.value.response["Error"]["Message"]
    t.cli("iam", "delete-account-password-policy")
    with pytest.raises(CliError) as e:
        t.cli("iam", "delete-account-password-policy")
    assert e.value.code == "NoSuchEntity"


# ---------------------------------------------------------------------------------------------
# Virtual MFA


def test_virtual_mfa_lifecycle(tessera, tmp_path):
    iam = tessera.client("iam")
    user = unique("mfa-")
    iam.create_user(UserName=user)

    # The CLI writes the QR code PNG.
    png_path = tmp_path / "qr.png"
    dev = tessera.cli("iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", user + "-png",
                      "--outfile", png_path, "--bootstrap-method", "QRCodePNG")["VirtualMFADevice"]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    iam.delete_virtual_mfa_device(SerialNumber=dev["SerialNumber"])

    created = iam.create_virtual_mfa_device(VirtualMFADeviceName=user, Tags=[{"Key": "team", "Value": "sec"}])
    device = created["VirtualMFADevice"]
    serial = device["SerialNumber"]
    assert serial == f"arn:aws:iam::{serial.split(':')[4]}:mfa/{user}"
    seed = device["Base32StringSeed"].decode()
    assert len(seed) == 64
    assert device["QRCodePNG"][:4] == b"\x89PNG"
    totp = pyotp.TOTP(seed)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=user)
    assert error_code(e) == "EntityAlreadyExists"
    assert e.value.response["Error"]["Message"] == "MFADevice entity at the same path and name already exists."

    now = time.time()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp.at(now),
                              AuthenticationCode2=totp.at(now - 30))
    assert error_code(e) == "InvalidAuthenticationCode" and http_status(e) == 403
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))

    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    assert devices[0]["UserName"] == user
    assigned = tessera.cli("iam", "list-virtual-mfa-devices", "--assignment-status", "Assigned")["VirtualMFADevices"]
    mine = [d for d in assigned if d["SerialNumber"] == serial]
    assert mine and mine[0]["User"]["UserName"] == user and "Base32StringSeed" not in mine[0]
    unassigned = tessera.cli("iam", "list-virtual-mfa-devices", "--assignment-status", "Unassigned")
    assert serial not in [d["SerialNumber"] for d in unassigned["VirtualMFADevices"]]
    got = iam.get_mfa_device(SerialNumber=serial, UserName=user)
    assert got["SerialNumber"] == serial and "EnableDate" in got

    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "owner", "Value": user}])
    tags = {t["Key"]: t["Value"] for t in iam.list_mfa_device_tags(SerialNumber=serial)["Tags"]}
    assert tags == {"team": "sec", "owner": user}
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["team"])
    assert [t["Key"] for t in iam.list_mfa_device_tags(SerialNumber=serial)["Tags"]] == ["owner"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(e) == "DeleteConflict"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=user)
    assert error_code(e) == "DeleteConflict"

    later = time.time()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1="000000",
                              AuthenticationCode2="000001")
    assert error_code(e) == "InvalidAuthenticationCode"
    iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp.at(later + 30),
                          AuthenticationCode2=totp.at(later + 60))

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert error_code(e) == "NoSuchEntity"
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(e) == "NoSuchEntity"
    assert e.value.response["Error"]["Message"] == f"VirtualMFADevice with serial number {serial} doesn't exist."
    iam.delete_user(UserName=user)


def test_mfa_validation_errors(tessera):
    iam = tessera.client("iam")
    raw = unvalidated(tessera)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_virtual_mfa_device(VirtualMFADeviceName="bad name")
    assert error_code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_virtual_mfa_device(VirtualMFADeviceName=unique("p-"), Path="nopath")
    assert error_code(e) == "ValidationError"
    assert "at 'path' failed to satisfy constraint" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(UserName=unique("nobody-"), SerialNumber="arn:aws:iam::123456789012:mfa/x",
                              AuthenticationCode1="123456", AuthenticationCode2="654321")
    assert error_code(e) == "NoSuchEntity"
    user = unique("mfae-")
    iam.create_user(UserName=user)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.enable_mfa_device(UserName=user, SerialNumber="arn:aws:iam::123456789012:mfa/none",
                              AuthenticationCode1="123456", AuthenticationCode2="654321")
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.enable_mfa_device(UserName=user, SerialNumber="arn:aws:iam::123456789012:mfa/none",
                              AuthenticationCode1="12345a", AuthenticationCode2="123456")
    assert error_code(e) == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_virtual_mfa_devices(AssignmentStatus="Sometimes")
    assert error_code(e) == "ValidationError"


# ---------------------------------------------------------------------------------------------
# Identity providers


def test_oidc_providers(tessera):
    iam = tessera.client("iam")
    host = unique("oidc") + ".example.com"
    thumb = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
    arn = tessera.cli("iam", "create-open-id-connect-provider", "--url", f"https://{host}/tenant",
                      "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", thumb,
                      "--tags", "Key=env,Value=test")["OpenIDConnectProviderArn"]
    account = tessera.cli("sts", "get-caller-identity")["Account"]
    assert arn == f"arn:aws:iam::{account}:oidc-provider/{host}/tenant"

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == f"{host}/tenant"
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [thumb]
    assert got["Tags"] == [{"Key": "env", "Value": "test"}]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_open_id_connect_provider(Url=f"https://{host}/tenant")
    assert error_code(e) == "EntityAlreadyExists"
    for bad in (f"http://{host}", "ftp://example.com", f"https://{host}/x?y=1", host):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_open_id_connect_provider(Url=bad)
        assert error_code(e) == "InvalidInput", bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(tessera).create_open_id_connect_provider(Url=f"https://x.{host}", ThumbprintList=["abc"])
    assert error_code(e) == "ValidationError"

    # Loopback issuers may use http, so that a test issuer can run beside Tessera.
    local = iam.create_open_id_connect_provider(Url="http://127.0.0.1:45678/" + unique("iss"),
                                                ClientIDList=["app"])["OpenIDConnectProviderArn"]
    assert ":oidc-provider/127.0.0.1:45678/" in local
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=local)

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="my-app")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="my-app")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="not-there")
    new_thumb = "a" * 40
    tessera.cli("iam", "update-open-id-connect-provider-thumbprint", "--open-id-connect-provider-arn", arn,
                "--thumbprint-list", new_thumb)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["my-app"]
    assert got["ThumbprintList"] == [new_thumb]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["b" * 40] * 6)
    assert error_code(e) in ("InvalidInput", "LimitExceeded")

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "owner", "Value": "me"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]}
    assert tags == {"env": "test", "owner": "me"}
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["env"])
    assert [t["Key"] for t in iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]] == ["owner"]

    tessera.cli("iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    # Deleting is idempotent, as on AWS; reading a deleted provider is not.
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(e) == "NoSuchEntity"
    assert e.value.response["Error"]["Message"] == f"OpenIDConnect Provider not found for arn {arn}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x")
    assert error_code(e) == "NoSuchEntity"


def test_saml_providers(tessera, tmp_path):
    iam = tessera.client("iam")
    name = unique("idp-")
    doc = tmp_path / "metadata.xml"
    doc.write_text(saml_metadata())
    arn = tessera.cli("iam", "create-saml-provider", "--name", name, "--saml-metadata-document",
                      f"file://{doc}")["SAMLProviderArn"]
    assert arn.endswith(f":saml-provider/{name}")

    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == saml_metadata()
    assert got["ValidUntil"].year == 2035
    assert len(got["SAMLProviderUUID"]) >= 22
    listed = [p for p in iam.list_saml_providers()["SAMLProviderList"] if p["Arn"] == arn]
    assert len(listed) == 1 and listed[0]["ValidUntil"].year == 2035

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(Name=name, SAMLMetadataDocument=saml_metadata())
    assert error_code(e) == "EntityAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(Name=unique("bad-"), SAMLMetadataDocument="<x>" + " " * 1000 + "</x>")
    assert error_code(e) == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(tessera).create_saml_provider(Name=unique("short-"), SAMLMetadataDocument="<x/>")
    assert error_code(e) == "ValidationError"

    updated = saml_metadata("https://idp2.example.com/saml")
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=updated)["SAMLProviderArn"] == arn
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == updated

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["a"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]

    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_saml_provider(SAMLProviderArn=arn)
    assert error_code(e) == "NoSuchEntity"


# ---------------------------------------------------------------------------------------------
# Account level


def test_account_alias(fresh_tessera):
    t = fresh_tessera
    assert t.cli("iam", "list-account-aliases")["AccountAliases"] == []
    t.cli("iam", "create-account-alias", "--account-alias", "tessera-test-corp")
    assert t.cli("iam", "list-account-aliases")["AccountAliases"] == ["tessera-test-corp"]
    # A new alias replaces the old one.
    t.cli("iam", "create-account-alias", "--account-alias", "tessera-test-corp-2")
    assert t.cli("iam", "list-account-aliases")["AccountAliases"] == ["tessera-test-corp-2"]
    for bad in ("ab", "Upper-Case", "double--dash", "-lead"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            unvalidated(t).create_account_alias(AccountAlias=bad)
        assert error_code(e) == "ValidationError", bad
    with pytest.raises(CliError) as e:
        t.cli("iam", "delete-account-alias", "--account-alias", "tessera-test-corp")
    assert e.value.code == "NoSuchEntity"
    t.cli("iam", "delete-account-alias", "--account-alias", "tessera-test-corp-2")
    assert t.cli("iam", "list-account-aliases")["AccountAliases"] == []


def test_account_summary_counts(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    before = iam.get_account_summary()["SummaryMap"]
    assert before["UsersQuota"] == 5000 and before["RolesQuota"] == 1000 and before["GroupsQuota"] == 300
    assert before["AccessKeysPerUserQuota"] == 2 and before["PoliciesQuota"] == 1500
    assert before["AccountAccessKeysPresent"] == 1
    for i in range(3):
        iam.create_user(UserName=f"summary-{i}")
    iam.create_group(GroupName="summary-group")
    iam.create_virtual_mfa_device(VirtualMFADeviceName="summary-mfa")
    iam.create_open_id_connect_provider(Url="https://summary.example.com", ClientIDList=["x"])
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 3
    assert after["Groups"] == before["Groups"] + 1
    assert after["MFADevices"] == before["MFADevices"] + 1
    assert after["MFADevicesInUse"] == before["MFADevicesInUse"]
    assert after["Providers"] == before["Providers"] + 1


def test_account_authorization_details(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    for i in range(5):
        iam.create_user(UserName=f"detail-{i}")
    iam.put_user_policy(UserName="detail-0", PolicyName="inline", PolicyDocument=json.dumps(doc))
    iam.create_group(GroupName="detail-group")
    iam.add_user_to_group(GroupName="detail-group", UserName="detail-1")
    iam.attach_user_policy(UserName="detail-2", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="detail-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName="detail-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="detail-profile", RoleName="detail-role")

    pages = list(iam.get_paginator("get_account_authorization_details").paginate(
        PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    users = {u["UserName"]: u for p in pages for u in p["UserDetailList"]}
    assert set(users) >= {f"detail-{i}" for i in range(5)}
    # Policy documents arrive URL-encoded and boto3 decodes them.
    assert users["detail-0"]["UserPolicyList"] == [{"PolicyName": "inline", "PolicyDocument": doc}]
    assert users["detail-1"]["GroupList"] == ["detail-group"]
    assert users["detail-2"]["AttachedManagedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]
    roles = {r["RoleName"]: r for p in pages for r in p["RoleDetailList"]}
    assert roles["detail-role"]["AssumeRolePolicyDocument"] == trust
    profiles = roles["detail-role"]["InstanceProfileList"]
    assert [p["InstanceProfileName"] for p in profiles] == ["detail-profile"]
    assert profiles[0]["Roles"][0]["RoleName"] == "detail-role"
    groups = [g for p in pages for g in p["GroupDetailList"]]
    assert [g["GroupName"] for g in groups] == ["detail-group"]
    policies = {p["PolicyName"]: p for page in pages for p in page["Policies"]}
    assert policies["AdministratorAccess"]["AttachmentCount"] == 1
    assert policies["AdministratorAccess"]["PolicyVersionList"][0]["IsDefaultVersion"] is True

    only_groups = t.cli("iam", "get-account-authorization-details", "--filter", "Group")
    assert only_groups["UserDetailList"] == [] and len(only_groups["GroupDetailList"]) == 1
    with pytest.raises(CliError) as e:
        t.cli("iam", "get-account-authorization-details", "--filter", "Users")
    assert e.value.code == "ValidationError"


def test_credential_report(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_credential_report()
    assert error_code(e) == "ReportNotPresent" and http_status(e) == 410
    make_user(t, "report-user")
    iam.update_account_password_policy(MinimumPasswordLength=6)
    iam.create_login_profile(UserName="report-user", Password="secret")
    state = iam.generate_credential_report()["State"]
    assert state in ("STARTED", "COMPLETE")
    deadline = time.time() + 10
    while iam.generate_credential_report()["State"] != "COMPLETE":
        assert time.time() < deadline
        time.sleep(0.2)
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    assert rows[0]["user"] == "<root_account>" and rows[0]["arn"].endswith(":root")
    assert rows[0]["access_key_1_active"] == "true"
    user = [r for r in rows if r["user"] == "report-user"][0]
    assert user["password_enabled"] == "true"
    assert user["access_key_1_active"] == "true"
    assert user["access_key_2_active"] == "false"
    assert user["mfa_active"] == "false"
    # The CLI shows the content base64-encoded, as it does for AWS.
    raw = t.cli("iam", "get-credential-report")
    assert base64.b64decode(raw["Content"]).decode().startswith("user,arn,user_creation_time,")


# ---------------------------------------------------------------------------------------------
# Authorization of non-root callers


def test_users_manage_only_their_own_keys(tessera):
    a, b = unique("own-a-"), unique("own-b-")
    creds_a = make_user(tessera, a, policy=ROTATE_OWN_KEYS)
    make_user(tessera, b, policy=ROTATE_OWN_KEYS)
    iam_a = tessera.client("iam", **creds_a)

    # Own keys, without UserName: allowed by the ${aws:username} policy.
    mine = iam_a.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in mine] == [creds_a["aws_access_key_id"]]
    new = iam_a.create_access_key()["AccessKey"]
    assert new["UserName"] == a
    iam_a.update_access_key(AccessKeyId=new["AccessKeyId"], Status="Inactive")
    iam_a.delete_access_key(AccessKeyId=new["AccessKeyId"])
    assert iam_a.get_access_key_last_used(AccessKeyId=creds_a["aws_access_key_id"])["UserName"] == a

    # Someone else's: refused, naming the other user's ARN.
    for call in (lambda: iam_a.list_access_keys(UserName=b), lambda: iam_a.create_access_key(UserName=b)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "AccessDenied"
        assert f":user/{b}" in e.value.response["Error"]["Message"]
    # Nor anything beyond keys.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam_a.create_virtual_mfa_device(VirtualMFADeviceName=a)
    assert error_code(e) == "AccessDenied"


def test_iam_read_only_access_lists_but_cannot_create(tessera):
    user = unique("ro-")
    creds = make_user(tessera, user, managed="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    ro = tessera.client("iam", **creds)
    assert ro.list_access_keys(UserName=user)["AccessKeyMetadata"]
    ro.get_account_summary()
    ro.list_virtual_mfa_devices()
    ro.list_open_id_connect_providers()
    ro.list_saml_providers()
    ro.list_account_aliases()
    for call in (
        lambda: ro.create_access_key(UserName=user),
        lambda: ro.create_virtual_mfa_device(VirtualMFADeviceName=user),
        lambda: ro.create_open_id_connect_provider(Url="https://ro.example.com"),
        lambda: ro.update_account_password_policy(MinimumPasswordLength=8),
        lambda: ro.create_account_alias(AccountAlias=user.lower()),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "AccessDenied"


# ---------------------------------------------------------------------------------------------
# MFA through STS, renames


def test_mfa_codes_open_sessions_once(tessera):
    iam = tessera.client("iam")
    user = unique("stsmfa-")
    creds = make_user(tessera, user)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    now = time.time()
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    sts = tessera.client("sts", **creds)
    # The codes that enabled the device are spent; the next one opens a session, once.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=totp.at(now))
    assert error_code(e) == "AccessDenied"
    wait = 30 - (time.time() % 30) + 0.5
    time.sleep(wait)
    code = totp.now()
    session = sts.get_session_token(SerialNumber=serial, TokenCode=code)["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_session_token(SerialNumber=serial, TokenCode="000000" if code != "000000" else "111111")
    assert error_code(e) == "AccessDenied"
    # The account's root user cannot present an IAM user's device as its own, even with the
    # device's next valid code.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        tessera.client("sts").get_session_token(SerialNumber=serial, TokenCode=totp.at(time.time() + 30))
    assert error_code(e) == "AccessDenied"


def test_renamed_user_keeps_its_credentials(tessera):
    iam = tessera.client("iam")
    old, new = unique("old-"), unique("new-")
    creds = make_user(tessera, old)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=old)["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    now = time.time()
    iam.enable_mfa_device(UserName=old, SerialNumber=device["SerialNumber"], AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    tessera.cli("iam", "update-user", "--user-name", old, "--new-user-name", new)
    keys = iam.list_access_keys(UserName=new)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["UserName"]) for k in keys] == [(creds["aws_access_key_id"], new)]
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=new)["MFADevices"]] == [device["SerialNumber"]]
    me = tessera.client("sts", **creds).get_caller_identity()
    assert me["Arn"].endswith(f":user/{new}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_access_keys(UserName=old)
    assert error_code(e) == "NoSuchEntity"


# ---------------------------------------------------------------------------------------------
# Policy simulator and context keys


S3_READ_WITH_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*"},
    ],
}


def test_simulate_custom_policy(tessera):
    # The CLI takes the list as JSON (a file:// policy would be split into characters by AWS CLI v1).
    out = tessera.cli("iam", "simulate-custom-policy", "--policy-input-list", json.dumps([json.dumps(S3_READ_WITH_MFA)]),
                      "--action-names", "s3:GetObject", "s3:PutObject", "s3:PutBucketPolicy", "s3:DeleteObject")
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny",
                         "s3:PutBucketPolicy": "explicitDeny", "s3:DeleteObject": "implicitDeny"}
    get = [r for r in out["EvaluationResults"] if r["EvalActionName"] == "s3:GetObject"][0]
    assert get["EvalResourceName"] == "*"
    assert get["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    delete = [r for r in out["EvaluationResults"] if r["EvalActionName"] == "s3:DeleteObject"][0]
    assert "aws:MultiFactorAuthPresent" in delete["MissingContextValues"]

    iam = tessera.client("iam")
    with_mfa = iam.simulate_custom_policy(
        PolicyInputList=[json.dumps(S3_READ_WITH_MFA)], ActionNames=["s3:DeleteObject"],
        ResourceArns=["arn:aws:s3:::bucket/key"],
        ContextEntries=[{"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"],
                         "ContextKeyType": "boolean"}])
    result = with_mfa["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed" and result["EvalResourceName"] == "arn:aws:s3:::bucket/key"

    pages = list(iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[json.dumps(S3_READ_WITH_MFA)], ActionNames=["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
        PaginationConfig={"PageSize": 1}))
    assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == [
        "s3:GetObject", "s3:ListBucket", "s3:PutObject"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=["s3:GetObject"])
    assert http_status(e) == 400


def test_simulate_principal_policy_and_boundaries(tessera):
    iam = tessera.client("iam")
    user = unique("sim-")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-read", PolicyDocument=json.dumps(S3_READ_WITH_MFA))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    arn = iam.get_user(UserName=user)["User"]["Arn"]

    out = iam.simulate_principal_policy(PolicySourceArn=arn,
                                        ActionNames=["s3:GetObject", "ec2:DescribeInstances", "ec2:RunInstances"])
    by_action = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert by_action["s3:GetObject"]["EvalDecision"] == "allowed"
    assert by_action["s3:GetObject"]["MatchedStatements"][0]["SourcePolicyId"] == "s3-read"
    assert by_action["ec2:DescribeInstances"]["EvalDecision"] == "allowed"
    assert by_action["ec2:DescribeInstances"]["MatchedStatements"][0]["SourcePolicyId"] == "AmazonEC2ReadOnlyAccess"
    assert by_action["ec2:RunInstances"]["EvalDecision"] == "implicitDeny"

    # A boundary that allows only S3 caps the user's EC2 permissions.
    boundary = iam.create_policy(PolicyName=unique("s3-only-"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary["Policy"]["Arn"])
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "ec2:DescribeInstances"])
    by_action = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert by_action["s3:GetObject"]["EvalDecision"] == "allowed"
    assert by_action["ec2:DescribeInstances"]["EvalDecision"] == "implicitDeny"
    assert by_action["ec2:DescribeInstances"]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": False}

    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=arn)["ContextKeyNames"]
    assert "aws:MultiFactorAuthPresent" in keys
    custom = iam.get_context_keys_for_custom_policy(PolicyInputList=[json.dumps(ROTATE_OWN_KEYS),
                                                                     json.dumps(S3_READ_WITH_MFA)])
    assert sorted(custom["ContextKeyNames"]) == ["aws:MultiFactorAuthPresent", "aws:username"]

    missing = arn.rsplit("/", 1)[0] + "/" + unique("nobody-")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=missing, ActionNames=["s3:GetObject"])
    assert error_code(e) == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_context_keys_for_principal_policy(PolicySourceArn=missing)
    assert error_code(e) == "NoSuchEntity"
