"""IAM UpdateOpenIDConnectProvider (IAM API reference): the trusted identity propagation context
provider and the IAM Identity Center association of an OIDC provider, set and removed one at a
time, with the errors the reference describes; CreateOpenIDConnectProvider takes them too and
GetOpenIDConnectProvider returns them."""

import json

import botocore.exceptions
import pytest

from conftest import unique, user_with_key

INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
CONTEXT = {"SubjectSourceKey": "sub", "SubjectTypeValue": "user",
           "KeyDefinitionList": [{"SourceKey": "email", "TargetKey": "Email"}, {"SourceKey": "groups"}]}


def invalid(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    assert e.value.response["Error"]["Code"] in ("InvalidInput", "ValidationError"), e.value.response
    return e.value


def test_update_open_id_connect_provider(tessera):
    iam = tessera.client("iam")
    host = unique("idp") + ".example.com"
    arn = iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["app"])["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert "ContextProvider" not in got and "IdentityCenterInstanceArn" not in got

    # An Identity Center instance needs a context provider first.
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=INSTANCE)
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ContextProvider"] == CONTEXT
    assert got["ClientIDList"] == ["app"]  # nothing else changes
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=INSTANCE)
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["IdentityCenterInstanceArn"] == INSTANCE

    # The rules of the reference.
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT,
            RemoveContextProvider=True)
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=INSTANCE,
            RemoveIdentityCenterInstance=True)
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT,
            RemoveIdentityCenterInstance=True)
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn,
            ContextProvider={"SubjectSourceKey": "two  spaces"})
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn,
            ContextProvider={"SubjectSourceKey": "sub", "SubjectTypeValue": "user", "SubjectTypeSourceKey": "typ"})
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn="arn:aws:sso:::nope")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn.replace(host, "absent.example.com"),
                                            RemoveContextProvider=True)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"

    # A policy can refuse enabling identity propagation (iam:EnableIdentityPropagation).
    creds = user_with_key(tessera, {}, unique("oidc-admin"), json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:UpdateOpenIDConnectProvider", "Resource": "*",
         "Condition": {"Bool": {"iam:EnableIdentityPropagation": "true"}}}]}))
    limited = tessera.client("iam", **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT)
    assert e.value.response["Error"]["Code"] == "AccessDenied"

    # Remove the association, then the context provider (the pinned AWS CLI's model predates the
    # operation: boto3 only).
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveIdentityCenterInstance=True)
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert "ContextProvider" not in got and "IdentityCenterInstanceArn" not in got
    invalid(iam.update_open_id_connect_provider, OpenIDConnectProviderArn=arn, RemoveContextProvider=True,
            RemoveIdentityCenterInstance=True)

    # CreateOpenIDConnectProvider takes them; deleting the provider forgets them.
    arn2 = iam.create_open_id_connect_provider(Url=f"https://{host}/two", ContextProvider=CONTEXT,
                                               IdentityCenterInstanceArn=INSTANCE)["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn2)
    assert got["ContextProvider"] == CONTEXT and got["IdentityCenterInstanceArn"] == INSTANCE
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn2)
    arn3 = iam.create_open_id_connect_provider(Url=f"https://{host}/two")["OpenIDConnectProviderArn"]
    assert arn3 == arn2 and "ContextProvider" not in iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn3)
