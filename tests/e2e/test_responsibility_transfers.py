"""Responsibility (billing) transfers between two organizations through boto3 (Organizations API
reference: InviteOrganizationToTransferResponsibility, DescribeResponsibilityTransfer,
ListInbound/OutboundResponsibilityTransfers, UpdateResponsibilityTransfer,
TerminateResponsibilityTransfer; Billing User Guide, "Withdrawing transfers", "Updating
transfers"). Tessera records the transfer and its lifecycle; no bill moves (docs/ORGANIZATIONS.md)."""

import datetime
import json
import time

import botocore.exceptions
import pytest

from conftest import Accounts, Tessera, _require_binary, unique

UTC = datetime.timezone.utc


def expect(fn, code, reason=None, **kwargs):
    """Call a boto3 operation that must fail with `code` (and `Reason`)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    if reason is not None:
        assert e.value.response.get("Reason") == reason, e.value.response
    return e.value


def month_start(months_ahead=0):
    now = datetime.datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + months_ahead
    return datetime.datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_end(months_ahead=0):
    return month_start(months_ahead + 1) - datetime.timedelta(seconds=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three organizations on a server of this module's own: A (the first start's management
    account) manages bills; B and C are accounts that left A and made organizations of their own;
    D is a member account of A; E a standalone account."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("transfers") / "data").start()
    accounts = Accounts(t)
    a = t.client("organizations")
    ids = {name: accounts.create(name) for name in ("B", "C", "D", "E")}
    clients = {name: t.client("organizations", **accounts.admin_creds(ids[name])) for name in ids}
    for name in ("B", "C", "E"):
        a.remove_account_from_organization(AccountId=ids[name])
    for name in ("B", "C"):
        clients[name].create_organization(FeatureSet="ALL")
    emails = {"C": clients["C"].describe_organization()["Organization"]["MasterAccountEmail"]}
    yield {"t": t, "a": a, "mgmt": accounts.mgmt, "ids": ids, "clients": clients, "emails": emails}
    t.stop()


def invite(world, target, **kwargs):
    args = {"Type": "BILLING", "Target": {"Id": target, "Type": "ACCOUNT"}, "StartTimestamp": month_start(),
            "SourceName": "Acme billing"}
    args.update(kwargs)
    return world["a"].invite_organization_to_transfer_responsibility(**args)["Handshake"]


def transfer_of(handshake):
    [rt] = [r["Value"] for r in handshake["Resources"] if r["Type"] == "RESPONSIBILITY_TRANSFER"]
    return rt


def test_invite_accept_update_and_withdraw(world):
    a, b, c = world["a"], world["clients"]["B"], world["clients"]["C"]
    mgmt, b_id = world["mgmt"], world["ids"]["B"]
    a_org = a.describe_organization()["Organization"]["Id"]
    b_org = b.describe_organization()["Organization"]["Id"]

    h = invite(world, b_id, Notes="we pay from now on")
    assert h["Action"] == "TRANSFER_RESPONSIBILITY" and h["State"] == "OPEN" and h["Id"].startswith("h-")
    assert h["Arn"] == f"arn:aws:organizations::{mgmt}:handshake/{a_org}/transfer_responsibility/{h['Id']}"
    assert {"Id": b_id, "Type": "ACCOUNT"} in h["Parties"]
    resources = {r["Type"]: r["Value"] for r in h["Resources"]}
    assert resources["TRANSFER_TYPE"] == "BILLING" and resources["MANAGEMENT_ACCOUNT"] == mgmt
    assert resources["NOTES"] == "we pay from now on"
    rt = transfer_of(h)
    assert rt.startswith("rt-")

    # Each side sees it from its own end: inbound for the inviter, outbound for the invited.
    [inbound] = a.list_inbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"]
    assert inbound["Id"] == rt and inbound["Status"] == "REQUESTED" and inbound["Name"] == "Acme billing"
    assert inbound["Arn"] == f"arn:aws:organizations::{mgmt}:transfer/{a_org}/billing/inbound/{rt}"
    assert inbound["Target"]["ManagementAccountId"] == mgmt and inbound["Source"]["ManagementAccountId"] == b_id
    assert inbound["StartTimestamp"] == month_start() and inbound["ActiveHandshakeId"] == h["Id"]
    assert "EndTimestamp" not in inbound
    [outbound] = b.list_outbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"]
    assert outbound["Id"] == rt and outbound["Status"] == "REQUESTED" and "Name" not in outbound
    assert outbound["Arn"] == f"arn:aws:organizations::{b_id}:transfer/{b_org}/billing/outbound/{rt}"
    assert b.list_inbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"] == []
    assert a.list_outbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"] == []
    assert b.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["Status"] == "REQUESTED"
    expect(c.describe_responsibility_transfer, "ResponsibilityTransferNotFoundException", Id=rt)
    listed = b.list_handshakes_for_account(Filter={"ActionType": "TRANSFER_RESPONSIBILITY"})["Handshakes"]
    assert [x["Id"] for x in listed] == [h["Id"]]

    # The handshake rules: one open invitation per target, only the invited party answers,
    # nothing to withdraw before it is accepted.
    expect(invite, "DuplicateHandshakeException", world=world, target=b_id)
    expect(a.accept_handshake, "HandshakeNotFoundException", HandshakeId=h["Id"])
    expect(a.terminate_responsibility_transfer, "InvalidResponsibilityTransferTransitionException", Id=rt)
    assert b.accept_handshake(HandshakeId=h["Id"])["Handshake"]["State"] == "ACCEPTED"
    assert a.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["Status"] == "ACCEPTED"
    expect(b.accept_handshake, "HandshakeAlreadyInStateException", HandshakeId=h["Id"])

    # The bill-transfer account names it; the bill-source account cannot rename it.
    renamed = a.update_responsibility_transfer(Id=rt, Name="Acme (B)")["ResponsibilityTransfer"]
    assert renamed["Name"] == "Acme (B)" and renamed["Status"] == "ACCEPTED"
    assert a.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["Name"] == "Acme (B)"
    expect(b.update_responsibility_transfer, "AccessDeniedException", Id=rt, Name="mine")

    # B's bill has a manager now: no second one, and B's organization stays while it lasts.
    expect(c.invite_organization_to_transfer_responsibility, "HandshakeConstraintViolationException",
           "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS", Type="BILLING", Target={"Id": b_id, "Type": "ACCOUNT"},
           StartTimestamp=month_start(), SourceName="C pays")
    expect(b.delete_organization, "ConstraintViolationException", "ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS")

    # Either side withdraws; it ends at the end of a month.
    expect(b.terminate_responsibility_transfer, "InvalidInputException", "END_DATE_NOT_END_OF_MONTH",
           Id=rt, EndTimestamp=month_end() - datetime.timedelta(hours=1))
    expect(b.terminate_responsibility_transfer, "InvalidInputException", "END_DATE_TOO_EARLY",
           Id=rt, EndTimestamp=month_end(-1))
    ended = b.terminate_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]
    assert ended["Status"] == "WITHDRAWN" and ended["EndTimestamp"] == month_end()
    assert a.describe_responsibility_transfer(Id=rt)["ResponsibilityTransfer"]["EndTimestamp"] == month_end()
    expect(a.terminate_responsibility_transfer, "ResponsibilityTransferAlreadyInStatusException", Id=rt)
    expect(a.update_responsibility_transfer, "ConstraintViolationException",
           "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED", Id=rt, Name="again")


def test_decline_cancel_and_paging(world):
    a, c = world["a"], world["clients"]["C"]
    c_id, c_email = world["ids"]["C"], world["emails"]["C"]
    before = {x["Id"] for x in a.list_inbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"]}

    declined = invite(world, c_email, Target={"Id": c_email, "Type": "EMAIL"}, StartTimestamp=month_start(2))
    assert {"Id": c_email, "Type": "EMAIL"} in declined["Parties"]
    assert c.decline_handshake(HandshakeId=declined["Id"])["Handshake"]["State"] == "DECLINED"
    rt_declined = transfer_of(declined)
    assert c.describe_responsibility_transfer(Id=rt_declined)["ResponsibilityTransfer"]["Status"] == "DECLINED"
    expect(a.terminate_responsibility_transfer, "InvalidResponsibilityTransferTransitionException", Id=rt_declined)

    canceled = invite(world, c_id)
    expect(c.cancel_handshake, "HandshakeNotFoundException", HandshakeId=canceled["Id"])  # only the sender
    assert a.cancel_handshake(HandshakeId=canceled["Id"])["Handshake"]["State"] == "CANCELED"
    rt_canceled = transfer_of(canceled)
    assert a.describe_responsibility_transfer(Id=rt_canceled)["ResponsibilityTransfer"]["Status"] == "CANCELED"
    expect(c.accept_handshake, "InvalidHandshakeTransitionException", HandshakeId=canceled["Id"])
    outbound = c.list_outbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"]
    assert sorted((x["Id"], x["Status"]) for x in outbound) == sorted(
        [(rt_declined, "DECLINED"), (rt_canceled, "CANCELED")])

    # Paging through the inbound list (MaxResults 1-20, NextToken; the pinned botocore has no
    # paginator for it).
    mine = before | {rt_declined, rt_canceled}
    first = a.list_inbound_responsibility_transfers(Type="BILLING", MaxResults=1)
    assert len(first["ResponsibilityTransfers"]) == 1 and first["NextToken"]
    seen = [x["Id"] for x in first["ResponsibilityTransfers"]]
    token = first["NextToken"]
    while token:
        page = a.list_inbound_responsibility_transfers(Type="BILLING", MaxResults=1, NextToken=token)
        seen += [x["Id"] for x in page["ResponsibilityTransfers"]]
        token = page.get("NextToken")
    assert seen == sorted(mine)
    whole = a.list_inbound_responsibility_transfers(Type="BILLING")
    assert [x["Id"] for x in whole["ResponsibilityTransfers"]] == sorted(mine) and "NextToken" not in whole
    only = a.list_inbound_responsibility_transfers(Type="BILLING", Id=rt_declined)["ResponsibilityTransfers"]
    assert [x["Id"] for x in only] == [rt_declined] and only[0]["Status"] == "DECLINED"
    expect(a.list_inbound_responsibility_transfers, "ResponsibilityTransferNotFoundException",
           Type="BILLING", Id="rt-0000000000")
    expect(a.list_inbound_responsibility_transfers, "InvalidInputException", Type="BILLING", MaxResults=21)
    expect(a.list_inbound_responsibility_transfers, "InvalidInputException", Type="BILLING", NextToken="nope")


def test_invitation_errors(world):
    a, mgmt = world["a"], world["mgmt"]
    d, e = world["ids"]["D"], world["ids"]["E"]
    expect(invite, "HandshakeConstraintViolationException", "SOURCE_AND_TARGET_CANNOT_MATCH", world=world,
           target=mgmt)
    # Only the management account of another organization: not a member of A, not a standalone account.
    for target in (d, e):
        expect(invite, "HandshakeConstraintViolationException", "TARGET_ACCOUNT_VALIDATION_FAILURE",
               world=world, target=target)
    expect(invite, "InvalidInputException", "INVALID_PARTY_TYPE_TARGET", world=world, target="000000000000")
    c = world["ids"]["C"]
    expect(invite, "InvalidInputException", "START_DATE_NOT_BEGINNING_OF_MONTH", world=world, target=c,
           StartTimestamp=month_start() + datetime.timedelta(days=1))
    expect(invite, "InvalidInputException", "START_DATE_TOO_EARLY", world=world, target=c,
           StartTimestamp=month_start(-1))
    expect(invite, "InvalidInputException", "START_DATE_TOO_LATE", world=world, target=c,
           StartTimestamp=month_start(13))
    expect(invite, "InvalidInputException", "INVALID_ENUM", world=world, target=c, Type="SUPPORT")
    expect(world["a"].describe_responsibility_transfer, "InvalidInputException", Id="transfer-1")
    expect(world["a"].describe_responsibility_transfer, "ResponsibilityTransferNotFoundException",
           Id="rt-0000000000")


def test_who_may_call(world):
    t = world["t"]
    c = world["ids"]["C"]
    # A member account of an organization: AccessDeniedException, as for other management calls.
    member = world["clients"]["D"]
    expect(member.list_inbound_responsibility_transfers, "AccessDeniedException", Type="BILLING")
    expect(member.invite_organization_to_transfer_responsibility, "AccessDeniedException", Type="BILLING",
           Target={"Id": c, "Type": "ACCOUNT"}, StartTimestamp=month_start(), SourceName="x")
    # An account in no organization.
    expect(world["clients"]["E"].list_outbound_responsibility_transfers, "AWSOrganizationsNotInUseException",
           Type="BILLING")
    # An IAM user of the management account gets what its policies allow, and nothing else.
    iam = t.client("iam")
    name = unique("billing-reader")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "organizations:ListInboundResponsibilityTransfers",
                       "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    reader = t.client("organizations", aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])
    for _ in range(50):  # a new key may take a moment, as on AWS
        try:
            listed = reader.list_inbound_responsibility_transfers(Type="BILLING")["ResponsibilityTransfers"]
            break
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "InvalidClientTokenId":
                raise
            time.sleep(0.1)
    assert listed, "the reader sees the management account's transfers"
    denied = expect(reader.describe_responsibility_transfer, "AccessDeniedException", Id=listed[0]["Id"])
    assert "organizations:DescribeResponsibilityTransfer" in denied.response["Error"]["Message"]
    expect(reader.invite_organization_to_transfer_responsibility, "AccessDeniedException", Type="BILLING",
           Target={"Id": c, "Type": "ACCOUNT"}, StartTimestamp=month_start(), SourceName="x")
