"""Bad input (issue 4): 10,000 malformed requests — random bodies, huge headers, truncated
signatures, wrong content types, broken encodings — each gets a 4xx AWS error, never a 5xx, and
the server stays up."""

import http.client
import random
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from conftest import REGION

N = 10_000


def sign(t, body, service, headers):
    req = botocore.awsrequest.AWSRequest(method="POST", url=t.endpoint + "/", data=body, headers=headers)
    creds = botocore.credentials.Credentials(t.root_creds["aws_access_key_id"], t.root_creds["aws_secret_access_key"])
    botocore.auth.SigV4Auth(creds, service, REGION).add_auth(req)
    return dict(req.headers.items())


def random_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def malformed(rng, t):
    """One malformed request: (method, path, headers, body)."""
    kind = rng.randrange(10)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == 0:  # random body, no auth
        return "POST", "/", form, random_bytes(rng, rng.randrange(0, 2000))
    if kind == 1:  # huge header
        return "POST", "/", {**form, "X-Junk": "a" * rng.choice([10_000, 70_000, 200_000])}, b"Action=GetCallerIdentity"
    if kind == 2:  # truncated signature
        h = sign(t, "Action=GetCallerIdentity&Version=2011-06-15", "sts", dict(form))
        h["Authorization"] = h["Authorization"][: rng.randrange(0, len(h["Authorization"]))]
        return "POST", "/", h, b"Action=GetCallerIdentity&Version=2011-06-15"
    if kind == 3:  # wrong content type on a signed request
        ct = rng.choice(["application/json", "text/plain", "application/x-amz-json-1.1", "multipart/form-data", ""])
        body = rng.choice([b"{}", b"Action=GetCallerIdentity", random_bytes(rng, 50)])
        h = sign(t, body, rng.choice(["sts", "iam", "organizations"]), {"Content-Type": ct})
        return "POST", "/", h, body
    if kind == 4:  # garbage Authorization
        auth = rng.choice(["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=", "Bearer x",
                           "AWS4-HMAC-SHA256 Credential=AKIA/x/y/z/aws4_request, SignedHeaders=host, Signature=zz",
                           "".join(chr(rng.randrange(33, 127)) for _ in range(30))])
        return "POST", "/", {**form, "Authorization": auth, "X-Amz-Date": "20200101T000000Z"}, b"Action=GetCallerIdentity"
    if kind == 5:  # broken percent-encoding and invalid UTF-8 in a signed form body
        body = rng.choice([b"Action=%ZZ", b"Action=Get%C3%28", b"A=\xff\xfe", b"&&&==&", b"Action=" + b"x" * 5000])
        return "POST", "/", sign(t, body, rng.choice(["sts", "iam"]), dict(form)), body
    if kind == 6:  # signed JSON target with bad JSON
        body = rng.choice([b"{", b"[]", b"null", b'{"a":' * 200, random_bytes(rng, 100)])
        h = {"Content-Type": "application/x-amz-json-1.1",
             "X-Amz-Target": rng.choice(["AWSOrganizationsV20161128.DescribeOrganization", "Nope", "a.b.c", ""])}
        return "POST", "/", sign(t, body, "organizations", h), body
    if kind == 7:  # presigned garbage
        q = urllib.parse.urlencode({"Action": "GetCallerIdentity", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                                    "X-Amz-Credential": rng.choice(["", "x", "AKIA/1/2/3/4"]),
                                    "X-Amz-Date": rng.choice(["", "2020", "99999999T999999Z"]),
                                    "X-Amz-Expires": rng.choice(["", "-1", "999999999999"]),
                                    "X-Amz-SignedHeaders": "host", "X-Amz-Signature": "00"})
        return "GET", "/?" + q, {}, b""
    if kind == 8:  # odd methods and paths
        return rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "GET"]), rng.choice(["/", "/x/../..", "/%00", "/_tessera/nope"]), {}, b""
    # kind 9: signed with an unknown service name in the scope
    return "POST", "/", sign(t, b"Action=X", rng.choice(["lambda", "kms", "x"]), dict(form)), b"Action=X"


def test_ten_thousand_malformed_requests_get_4xx(tessera):
    rng = random.Random(20261123)
    host = urllib.parse.urlparse(tessera.endpoint).netloc
    conn = http.client.HTTPConnection(host, timeout=10)
    statuses = {}
    for i in range(N):
        method, path, headers, body = malformed(rng, tessera)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
        except (http.client.HTTPException, ConnectionError, TimeoutError):
            conn.close()
            conn = http.client.HTTPConnection(host, timeout=10)
            continue
        statuses[status] = statuses.get(status, 0) + 1
        assert 400 <= status < 500, f"request {i} ({method} {path} {headers}) got {status}"
    print(statuses)
    assert sum(statuses.values()) > N * 0.9, statuses
    # and the server still answers
    assert tessera.client("sts").get_caller_identity()["Arn"].endswith(":root")
    assert tessera.proc.poll() is None
