"""Services Tessera does not serve answer in their own protocol (Tessera issue 22, item 7): a
boto3 client of each protocol family gets a parseable ClientError `ServiceNotServed` whose
message names the service, quickly, and without its credentials being looked up (an unknown
access key gets the same answer)."""

import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

NO_RETRY = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                                  read_timeout=5)

# (signing name, protocol family in current botocore, a cheap read-only call)
PROBES = [
    ("kms", "json 1.1", lambda c: c.list_keys()),
    ("dynamodb", "json 1.0", lambda c: c.list_tables()),
    ("lambda", "rest-json", lambda c: c.list_functions()),
    ("sqs", "json 1.0", lambda c: c.list_queues()),
    ("sns", "query", lambda c: c.list_topics()),
    ("route53", "rest-xml", lambda c: c.list_hosted_zones()),
    ("cloudfront", "rest-xml", lambda c: c.list_distributions()),
    ("logs", "json 1.1", lambda c: c.describe_log_groups()),
    ("rds", "query", lambda c: c.describe_db_instances()),
    ("eks", "rest-json", lambda c: c.list_clusters()),
    ("cloudwatch", "smithy-rpc-v2-cbor", lambda c: c.list_metrics()),
    ("codebuild", "smithy-rpc-v2-cbor", lambda c: c.list_projects()),
]


def client(t, service, **creds):
    creds = creds or t.root_creds
    return boto3.client(service, endpoint_url=t.endpoint, region_name="us-east-1", config=NO_RETRY, **creds)


@pytest.mark.parametrize("service,family,call", PROBES, ids=[p[0] for p in PROBES])
def test_unserved_service_answers_in_its_protocol(tessera, service, family, call):
    c = client(tessera, service)
    start = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(c)
    elapsed = time.monotonic() - start
    err = e.value.response["Error"]
    assert err["Code"] == "ServiceNotServed", (family, e.value.response)
    signing_name = c.meta.service_model.signing_name
    assert f"Tessera does not serve the service '{signing_name}'" in err["Message"], e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert elapsed < 2.0, f"{service} took {elapsed:.2f}s"


def test_answered_before_the_credentials_are_checked(tessera):
    c = client(tessera, "kms", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
               aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_keys()
    assert e.value.response["Error"]["Code"] == "ServiceNotServed"


def test_a_dozen_services_in_every_region_is_fast(tessera):
    """What a graph builder does: every probe in three regions, well under a second each."""
    start = time.monotonic()
    n = 0
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        for service, _, call in PROBES:
            c = boto3.client(service, endpoint_url=tessera.endpoint, region_name=region, config=NO_RETRY,
                             **tessera.root_creds)
            with pytest.raises(botocore.exceptions.ClientError):
                call(c)
            n += 1
    assert (time.monotonic() - start) / n < 0.5


def test_served_services_still_answer(tessera):
    assert client(tessera, "sts").get_caller_identity()["Account"]
