"""HTTPS (shared/CONTRACT.md, "HTTPS"): `--tls-self-signed` and `--tls-cert/--tls-key`, the AWS
CLI and boto3 through AWS_CA_BUNDLE, aws:SecureTransport in bucket and IAM policies, SIGHUP
certificate rotation, HTTP/2 by ALPN.

aws:SecureTransport is the global condition key documented in
reference_policies_condition-keys.html ("whether the request was sent using TLS"); the common
bucket policy that denies it is in example-bucket-policies.html."""

import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import stat
import time
from urllib.parse import urlparse

import boto3
import botocore.config
import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import REGION, user_with_key, unique

SELF_SIGNED = ["--tls-self-signed"]


def start_tls(t, ca, monkeypatch):
    """Start `t` with every client of this process trusting `ca` (the conftest's health check
    through urllib reads SSL_CERT_FILE, boto3 reads AWS_CA_BUNDLE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
    return t.start()


def cli_env(t, ca=None, creds=None):
    env = t.env_for(**creds) if creds else t.root_env
    if ca:
        env["AWS_CA_BUNDLE"] = str(ca)
    return env


def host_port(t):
    u = urlparse(t.endpoint)
    return u.hostname, u.port


def peer_certificate(t, ca):
    """The DER certificate a new TLS connection to `t` is served."""
    host, port = host_port(t)
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((host, port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def test_self_signed_endpoint_cli_and_boto3(tessera_factory, monkeypatch):
    t = tessera_factory("tls", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    assert t.endpoint.startswith("https://127.0.0.1:")
    assert (t.data_dir / "endpoint").read_text().startswith("https://")
    assert stat.S_IMODE(os.stat(t.data_dir / "tls" / "ca.key").st_mode) == 0o600

    # The AWS CLI: STS, IAM, S3.
    env = cli_env(t, ca)
    ident = t.cli("sts", "get-caller-identity", env=env)
    assert ident["Arn"].endswith(":root")
    user = unique("https-user-")
    t.cli("iam", "create-user", "--user-name", user, env=env)
    assert user in [u["UserName"] for u in t.cli("iam", "list-users", env=env)["Users"]]
    bucket = unique("https-bucket-")
    t.cli("s3api", "create-bucket", "--bucket", bucket, env=env)
    body = t.data_dir.parent / "body.txt"
    body.write_text("over tls")
    out = t.data_dir.parent / "out.txt"
    for src, dst in [(body, f"s3://{bucket}/k"), (f"s3://{bucket}/k", out)]:
        proc = t.cli("s3", "cp", src, dst, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "over tls"

    # boto3 (AWS_CA_BUNDLE from the environment).
    assert t.client("sts").get_caller_identity()["Account"] == ident["Account"]
    assert t.client("iam").get_user(UserName=user)["User"]["UserName"] == user
    assert t.client("s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"over tls"

    # S3 Control over HTTPS: boto3 calls https://<account-id>.localhost:PORT, which gets a
    # certificate of its own from the CA (OpenSSL refuses `*.localhost`).
    control_env = dict(env, AWS_ENDPOINT_URL_S3_CONTROL=t.endpoint.replace("127.0.0.1", "localhost"))
    settings = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}
    t.cli("s3control", "put-public-access-block", "--account-id", ident["Account"],
          "--public-access-block-configuration", json.dumps(settings), env=control_env)
    got = t.cli("s3control", "get-public-access-block", "--account-id", ident["Account"], env=control_env)
    assert got["PublicAccessBlockConfiguration"] == settings

    # The console's session cookie is Secure over HTTPS.
    import requests
    r = requests.get(f"{t.endpoint}/console/signin", verify=str(ca), timeout=5)
    assert "Secure" in r.headers["Set-Cookie"]

    # A restart reuses the CA (what clients were given stays valid).
    before = ca.read_bytes()
    t.stop()
    start_tls(t, ca, monkeypatch)
    assert ca.read_bytes() == before
    assert t.client("sts").get_caller_identity()["Account"] == ident["Account"]


def test_tls_sessions_resume(tessera_factory, monkeypatch):
    """A client that reconnects with the session it was given resumes it (no certificate sent),
    over TLS 1.3 (tickets) and TLS 1.2; docs/OPERATIONS.md, "HTTPS"."""
    t = tessera_factory("tls-resume", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    host, port = host_port(t)

    def request(ctx, session=None):
        with socket.create_connection((host, port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname=host, session=session) as tls:
                tls.sendall(f"GET /_tessera/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
                answer = b""
                while chunk := tls.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200")
                # A TLS 1.3 session (ticket) arrives after the handshake: take it once the answer is read.
                return tls.session, tls.session_reused, tls.version()

    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.minimum_version = ctx.maximum_version = version
        session, reused, got = request(ctx)
        assert got == version.name.replace("v1_", "v1.") and not reused
        _, reused, _ = request(ctx, session)
        assert reused, f"{version.name}: the session was not resumed"


def test_client_without_the_ca_fails_verification(tessera_factory, monkeypatch):
    t = tessera_factory("tls", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    proc = t.cli("sts", "get-caller-identity", env=cli_env(t), check=False)
    assert proc.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in proc.stderr or "SSL" in proc.stderr, proc.stderr
    monkeypatch.delenv("AWS_CA_BUNDLE")
    with pytest.raises(botocore.exceptions.SSLError):
        t.client("sts").get_caller_identity()


def deny_insecure_policy(bucket):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })


def test_bucket_policy_denying_insecure_transport(tessera_factory, monkeypatch):
    """One data dir, served first over HTTPS, then restarted on plain HTTP."""
    t = tessera_factory("tls", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    bucket = unique("secure-only-")
    s3 = t.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_insecure_policy(bucket))
    reader = user_with_key(t, t.root_creds, unique("reader-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }))
    assert t.client("s3", **reader).get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    assert t.cli("s3api", "get-object", "--bucket", bucket, "--key", "k", str(t.data_dir.parent / "o"),
                 env=cli_env(t, ca, reader)) is not None

    t.stop()
    t.extra_args = []
    t.start()
    assert t.endpoint.startswith("http://")
    plain = t.client("s3", **reader)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        plain.get_object(Bucket=bucket, Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # A header cannot make plain HTTP secure: only the listener says so.
    plain.meta.events.register("before-sign.s3.GetObject",
                               lambda request, **_: request.headers.__setitem__("X-Forwarded-Proto", "https"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        plain.get_object(Bucket=bucket, Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # Other actions are not denied by the statement.
    assert plain.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_iam_policy_requiring_secure_transport(tessera_factory, monkeypatch):
    t = tessera_factory("tls", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    user = user_with_key(t, t.root_creds, unique("tls-only-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iam:ListUsers",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }],
    }))
    assert "Users" in t.client("iam", **user).list_users()
    assert "Users" in t.cli("iam", "list-users", env=cli_env(t, ca, user))

    t.stop()
    t.extra_args = []
    t.start()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("iam", **user).list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(Exception) as e:
        t.cli("iam", "list-users", env=cli_env(t, creds=user))
    assert getattr(e.value, "code", None) == "AccessDenied"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(dir):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    (dir / "test-ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def write_leaf(ca, cert_path, key_path, cn):
    """A server certificate for 127.0.0.1 signed by `ca`; returns its DER."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificate_files_and_sighup_rotation(tessera_factory, tmp_path, monkeypatch):
    ca = make_ca(tmp_path)
    ca_file = tmp_path / "test-ca.pem"
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    first = write_leaf(ca, cert, key, "first")
    t = tessera_factory("tls", ["--tls-cert", str(cert), "--tls-key", str(key)])
    start_tls(t, ca_file, monkeypatch)
    assert t.endpoint.startswith("https://")
    assert peer_certificate(t, ca_file) == first
    assert t.client("sts").get_caller_identity()["Arn"].endswith(":root")

    # An open keep-alive connection, made with the first certificate.
    host, port = host_port(t)
    kept = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(cafile=str(ca_file)))
    kept.request("GET", "/_tessera/health")
    assert kept.getresponse().read() == b'{"status":"ok"}'

    second = write_leaf(ca, cert, key, "second")
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while peer_certificate(t, ca_file) != second:
        assert time.time() < deadline, "the new certificate was not served after SIGHUP"
        time.sleep(0.05)
    kept.request("GET", "/_tessera/health")
    assert kept.getresponse().read() == b'{"status":"ok"}'
    assert kept.sock.getpeercert(binary_form=True) == first
    kept.close()

    # A file that does not load: the current certificate stays, and the error is logged.
    cert.write_text("not a certificate\n")
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "NOT reloaded" not in t.log.read_text():
        assert time.time() < deadline, "the failed reload was not logged"
        time.sleep(0.05)
    assert peer_certificate(t, ca_file) == second
    assert t.client("sts").get_caller_identity()["Arn"].endswith(":root")


def test_bad_certificate_stops_the_start(tessera_factory, tmp_path):
    cert, key = tmp_path / "missing.pem", tmp_path / "missing.key"
    t = tessera_factory("tls", ["--tls-cert", str(cert), "--tls-key", str(key)])
    with pytest.raises(RuntimeError, match="tessera exited with 1"):
        t.start()
    assert "missing.pem" in t.log.read_text()
    assert not (t.data_dir / "tessera.db").exists()


@pytest.mark.parametrize("args,message", [
    (["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"], "cannot be used with"),
    (["--tls-cert", "c"], "--tls-key"),
    (["--tls-key", "k"], "--tls-cert"),
])
def test_conflicting_flags(args, message, tmp_path):
    import subprocess
    from conftest import BIN
    proc = subprocess.run([str(BIN), "serve", "--data-dir", str(tmp_path / "d"), *args],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "d").exists()


def test_http2_by_alpn(tessera_factory, monkeypatch):
    t = tessera_factory("tls", SELF_SIGNED)
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    host, port = host_port(t)
    for offered, chosen in [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")]:
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.set_alpn_protocols(offered)
        with socket.create_connection((host, port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                assert tls.selected_alpn_protocol() == chosen
    # `localhost` is in the certificate too, and S3 Control's <account-id>.localhost gets one.
    ctx = ssl.create_default_context(cafile=str(ca))
    for name in ["localhost", "123456789012.localhost"]:
        with socket.create_connection((host, port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # boto3 over the `localhost` name.
    sts = boto3.session.Session(region_name=REGION).client(
        "sts", endpoint_url=f"https://localhost:{port}", verify=str(ca),
        config=botocore.config.Config(retries={"max_attempts": 1}), **t.root_creds)
    assert sts.get_caller_identity()["Arn"].endswith(":root")


EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_imds_listener_beside_https(tessera_factory, monkeypatch):
    """`--imds-listen`: IMDS on plain HTTP (nothing else there), the API on HTTPS; an SDK on the
    instance gets its role's credentials from the one and calls the other."""
    import requests
    t = tessera_factory("tls", SELF_SIGNED + ["--imds-listen", "127.0.0.1:0"])
    ca = t.data_dir / "tls" / "ca.pem"
    start_tls(t, ca, monkeypatch)
    imds = (t.data_dir / "imds-endpoint").read_text().strip()
    assert imds.startswith("http://127.0.0.1:")
    iam = t.client("iam")
    name = unique("tls-instance-")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    iid = t.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                        IamInstanceProfile={"Name": name})["Instances"][0]["InstanceId"]
    # Only unsigned /imds/ requests are served there.
    assert requests.get(f"{imds}/_tessera/health", timeout=5).status_code == 404
    assert requests.post(f"{imds}/", data="Action=GetCallerIdentity", timeout=5).status_code == 404

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_SERVICE_ENDPOINT=f"{imds}/imds/{iid}/", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CA_BUNDLE=str(ca), AWS_ENDPOINT_URL=t.endpoint,
               AWS_DEFAULT_REGION=REGION, AWS_PAGER="")
    import subprocess
    from conftest import AWS
    proc = subprocess.run([AWS, "sts", "get-caller-identity", "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"].startswith(role["Arn"].replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))
