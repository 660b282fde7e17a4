"""`tessera graph` (shared/CONTRACT.md, "Who can reach what"; docs/GRAPH.md): an organization is
planted through boto3 with open escalation paths of every kind and blocked ones (an SCP, a
permissions boundary, a trust policy's MFA condition that is labelled, not dropped), then the
graph is read from the data dir while the server runs (SQLite in WAL mode allows a reader beside
the writer) and every open path must be found with its kind, and no blocked one."""

import json
import os
import pathlib
import subprocess
import time

import pytest

from conftest import BIN

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*"):
    return doc({"Effect": "Allow", "Action": action, "Resource": resource})


def trust(principal, condition=None):
    st = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return doc(st)


def creds_of(c):
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            **({"aws_session_token": c["SessionToken"]} if "SessionToken" in c else {})}


def new_account(o, name):
    status = o.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    for _ in range(100):
        status = o.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    assert status["State"] == "SUCCEEDED", status
    return status["AccountId"]


class Account:
    """IAM in one account, with helpers that plant principals."""

    def __init__(self, t, account, iam):
        self.t, self.id, self.iam = t, account, iam

    def arn(self, kind, name):
        return f"arn:aws:iam::{self.id}:{kind}/{name}"

    def user(self, name, policy=None, managed=()):
        self.iam.create_user(UserName=name)
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        for arn in managed:
            self.iam.attach_user_policy(UserName=name, PolicyArn=arn)
        return self.arn("user", name)

    def role(self, name, trust_policy, policy=None, managed=()):
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)
        if policy:
            self.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
        for arn in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return self.arn("role", name)


@pytest.fixture(scope="module")
def planted(tessera_factory_module):
    t = tessera_factory_module
    o = t.client("organizations")
    o.create_organization(FeatureSet="ALL")
    root_id = o.list_roots()["Roots"][0]["Id"]
    o.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    dev_id, prod_id = new_account(o, "dev"), new_account(o, "prod")
    mgmt_iam = t.client("iam")
    mgmt_id = t.client("sts").get_caller_identity()["Account"]
    mgmt = Account(t, mgmt_id, mgmt_iam)

    # A management user that reaches the member accounts through OrganizationAccountAccessRole.
    mgmt.user("planter", allow("sts:AssumeRole"))
    key = mgmt_iam.create_access_key(UserName="planter")["AccessKey"]
    sts = t.client("sts", **creds_of(key))

    member_creds = {}

    def member(account):
        for _ in range(50):
            try:
                c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                    RoleSessionName="planter", DurationSeconds=3600)["Credentials"]
                member_creds[account] = creds_of(c)
                return Account(t, account, t.client("iam", **creds_of(c)))
            except Exception as e:  # a new key may take a moment, as on AWS
                if "InvalidClientTokenId" not in str(e):
                    raise
                time.sleep(0.1)
        pytest.fail("the planter's key never worked")

    dev, prod = member(dev_id), member(prod_id)
    p = {}
    # 1. A chain of role assumptions across accounts: mgmt user -> prod role -> dev admin role.
    p["chain"] = mgmt.user("chain", allow("sts:AssumeRole"))
    p["hop"] = prod.role("hop", trust({"AWS": p["chain"]}), allow("sts:AssumeRole"))
    p["dev-admin-role"] = dev.role("dev-admin-role", trust({"AWS": p["hop"]}), managed=[ADMIN])
    # 2. PassRole + ec2:RunInstances with an admin instance profile role.
    p["ec2-admin"] = dev.role("ec2-admin", trust({"Service": "ec2.amazonaws.com"}), managed=[ADMIN])
    dev.iam.create_instance_profile(InstanceProfileName="ec2-admin")
    dev.iam.add_role_to_instance_profile(InstanceProfileName="ec2-admin", RoleName="ec2-admin")
    p["passer"] = dev.user("passer", doc({"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"],
                                          "Resource": "*"}))
    # 3. CreatePolicyVersion on a customer managed policy attached to itself.
    versioned = dev.iam.create_policy(PolicyName="versioned", PolicyDocument=allow(
        "iam:CreatePolicyVersion", f"arn:aws:iam::{dev_id}:policy/versioned"))["Policy"]["Arn"]
    p["versioner"] = dev.user("versioner", managed=[versioned])
    # 4. AttachUserPolicy on itself.
    p["attacher"] = dev.user("attacher", allow("iam:AttachUserPolicy", dev.arn("user", "attacher")))
    # 5. AddUserToGroup into an admin group.
    dev.iam.create_group(GroupName="admins")
    dev.iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    p["joiner"] = dev.user("joiner", allow("iam:AddUserToGroup", dev.arn("group", "admins")))
    # 6. CreateAccessKey on an admin user.
    p["dev-admin"] = dev.user("dev-admin", managed=[ADMIN])
    p["keymaker"] = dev.user("keymaker", allow("iam:CreateAccessKey", p["dev-admin"]))
    # 7. UpdateAssumeRolePolicy on an admin role that trusts nobody in the account.
    p["locked-admin"] = dev.role("locked-admin", trust({"Service": "glue.amazonaws.com"}), managed=[ADMIN])
    p["retruster"] = dev.user("retruster", allow("iam:UpdateAssumeRolePolicy", p["locked-admin"]))
    # 8. An assume-role that needs MFA: labelled, not dropped.
    p["mfa-user"] = mgmt.user("mfa-user", allow("sts:AssumeRole", f"arn:aws:iam::{dev_id}:role/mfa-admin"))
    p["mfa-admin"] = dev.role("mfa-admin", trust({"AWS": p["mfa-user"]},
                                                 {"Bool": {"aws:MultiFactorAuthPresent": "true"}}), managed=[ADMIN])

    # Blocked: the SCP on prod (below) denies these two moves.
    p["prod-admin"] = prod.user("prod-admin", managed=[ADMIN])
    p["prod-attacher"] = prod.user("prod-attacher", allow("iam:AttachUserPolicy", prod.arn("user", "prod-attacher")))
    p["prod-keymaker"] = prod.user("prod-keymaker", allow("iam:CreateAccessKey", p["prod-admin"]))
    # Blocked: a permissions boundary that allows only S3.
    s3_only = dev.iam.create_policy(PolicyName="s3-only", PolicyDocument=allow("s3:*"))["Policy"]["Arn"]
    p["bounded"] = dev.user("bounded", allow("iam:*"))
    dev.iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=s3_only)
    # Blocked: an identity policy with no trust behind it, and a PassRole with nothing to launch.
    p["wisher"] = dev.user("wisher", allow("sts:AssumeRole", p["dev-admin-role"]))
    p["half-passer"] = dev.user("half-passer", allow("iam:PassRole"))
    # prod is under an SCP that denies two escalation actions (attached last: it binds the
    # planter too).
    scp = o.create_policy(Name="no-escalation", Description="", Type="SERVICE_CONTROL_POLICY",
                          Content=doc({"Effect": "Deny", "Action": ["iam:AttachUserPolicy", "iam:CreateAccessKey"],
                                       "Resource": "*"}))["Policy"]["PolicySummary"]["Id"]
    o.attach_policy(PolicyId=scp, TargetId=prod_id)
    return {"t": t, "p": p, "dev": dev_id, "prod": prod_id, "mgmt": mgmt_id, "creds": member_creds}


@pytest.fixture(scope="module")
def tessera_factory_module(tmp_path_factory):
    from conftest import Tessera, _require_binary
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("graph") / "data").start()
    yield t
    t.stop()


def run_graph(t, *args):
    proc = subprocess.run([str(BIN), "graph", "--data-dir", str(t.data_dir), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def graph(planted):
    return json.loads(run_graph(planted["t"]))


def edges(graph, frm, to, kind):
    return [e for e in graph["edges"] if e["from"] == frm and e["to"] == to and e["kind"] == kind]


def node(graph, arn):
    [n] = [n for n in graph["principals"] if n["arn"] == arn]
    return n


def test_the_output_has_the_contracts_shape(graph):
    assert set(graph) == {"principals", "edges"}
    for n in graph["principals"]:
        assert set(n) == {"arn", "admin", "reaches_admin"}
    for e in graph["edges"]:
        assert set(e) == {"from", "to", "kind", "actions", "conditions"}
    arns = [n["arn"] for n in graph["principals"]]
    assert arns == sorted(arns)


@pytest.mark.parametrize("frm,to,kind,actions", [
    ("chain", "hop", "assume-role", ["sts:AssumeRole"]),
    ("hop", "dev-admin-role", "assume-role", ["sts:AssumeRole"]),
    ("passer", "ec2-admin", "passrole", ["ec2:RunInstances", "iam:PassRole"]),
    ("versioner", "versioner", "policy-version", ["iam:CreatePolicyVersion"]),
    ("attacher", "attacher", "attach-policy", ["iam:AttachUserPolicy"]),
    ("joiner", "joiner", "group", ["iam:AddUserToGroup"]),
    ("keymaker", "dev-admin", "access-key", ["iam:CreateAccessKey"]),
    ("retruster", "locked-admin", "trust-policy", ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]),
])
def test_every_open_path_is_found_with_its_kind(planted, graph, frm, to, kind, actions):
    p = planted["p"]
    [e] = edges(graph, p[frm], p[to], kind)
    assert e["actions"] == actions
    assert e["conditions"] == []
    assert node(graph, p[frm])["reaches_admin"] and not node(graph, p[frm])["admin"]


def test_admins_are_what_the_engine_says(planted, graph):
    p = planted["p"]
    for name in ("dev-admin-role", "ec2-admin", "dev-admin", "locked-admin", "mfa-admin"):
        assert node(graph, p[name])["admin"], name
    # The SCP on prod denies two IAM actions: no principal of prod is allowed * on *.
    assert not node(graph, p["prod-admin"])["admin"]
    assert not node(graph, f"arn:aws:iam::{planted['prod']}:root")["admin"]
    assert node(graph, f"arn:aws:iam::{planted['dev']}:root")["admin"]
    assert node(graph, f"arn:aws:iam::{planted['mgmt']}:root")["admin"]


def test_a_condition_is_a_label_not_a_drop(planted, graph):
    p = planted["p"]
    [e] = edges(graph, p["mfa-user"], p["mfa-admin"], "assume-role")
    assert e["conditions"] == ["aws:MultiFactorAuthPresent"]
    assert node(graph, p["mfa-user"])["reaches_admin"]


@pytest.mark.parametrize("name", ["prod-attacher", "prod-keymaker", "bounded", "wisher", "half-passer"])
def test_blocked_paths_are_not_edges(planted, graph, name):
    p = planted["p"]
    assert [e for e in graph["edges"] if e["from"] == p[name]] == []
    assert not node(graph, p[name])["reaches_admin"]


def test_account_filter_and_dot(planted):
    t, dev = planted["t"], planted["dev"]
    only = json.loads(run_graph(t, "--account", dev))
    assert only["principals"] and all(f"::{dev}:" in n["arn"] for n in only["principals"])
    assert only["edges"] and all(f"::{dev}:" in e["from"] for e in only["edges"])
    dot = run_graph(t, "--format", "dot")
    assert dot.startswith("digraph tessera {") and dot.rstrip().endswith("}")
    assert f'"{planted["p"]["dev-admin"]}" [label="user/dev-admin\\n{dev}", fillcolor="#e06666"]' in dot
    assert f'"{planted["p"]["keymaker"]}" -> "{planted["p"]["dev-admin"]}" [label="access-key", color="#cc0000"' in dot


# Queries: "how can PRINCIPAL reach TARGET" and "who can do ACTION on RESOURCE" (docs/GRAPH.md).

def query(planted, *args):
    return json.loads(run_graph(planted["t"], *args))


def test_the_shortest_path_crosses_accounts_step_by_step(planted):
    p = planted["p"]
    out = query(planted, "--from", p["chain"], "--to", p["dev-admin-role"])
    assert out["moves"] == 2, json.dumps(out, indent=1)
    [path] = out["paths"]
    assert [(s["from"], s["to"], s["kind"]) for s in path] == [
        (p["chain"], p["hop"], "assume-role"), (p["hop"], p["dev-admin-role"], "assume-role")]
    # Each step names the statements that allow it: the caller's policy and the trust policy.
    first = path[0]["because"]
    assert "user/chain/p (identity-based policy) statement #1" in first, first
    assert "trust policy (resource-based policy) statement #1" in first, first


def test_admin_is_one_move_away_through_the_organizations_role(planted):
    # `chain` may call sts:AssumeRole on `*` from the management account, and every member
    # account's OrganizationAccountAccessRole trusts that account: a real path to admin, and
    # the shortest.
    p = planted["p"]
    out = query(planted, "--from", p["chain"], "--to", "admin")
    assert out["moves"] == 1, json.dumps(out, indent=1)
    # Not prod's: the SCP on prod takes two IAM actions from every principal there.
    assert [path[0]["to"] for path in out["paths"]] == [
        f"arn:aws:iam::{planted['dev']}:role/OrganizationAccountAccessRole"]


def test_a_path_to_a_named_principal_and_one_that_needs_mfa(planted):
    p = planted["p"]
    out = query(planted, "--from", p["chain"], "--to", p["hop"])
    assert out["moves"] == 1 and len(out["paths"]) == 1
    out = query(planted, "--from", p["mfa-user"], "--to", "admin")
    assert out["moves"] == 1
    assert out["paths"][0][0]["conditions"] == ["aws:MultiFactorAuthPresent"]


@pytest.mark.parametrize("name", ["bounded", "prod-attacher", "prod-keymaker", "wisher", "half-passer"])
def test_no_path_from_a_blocked_principal(planted, name):
    out = query(planted, "--from", planted["p"][name], "--to", "admin")
    assert out["paths"] == [] and "moves" not in out


def test_a_path_by_rewriting_its_own_permissions(planted):
    p = planted["p"]
    out = query(planted, "--from", p["attacher"], "--to", "admin")
    assert out["moves"] == 1
    [[step]] = out["paths"]
    assert (step["kind"], step["to"], step["actions"]) == ("attach-policy", p["attacher"], ["iam:AttachUserPolicy"])


def test_who_can_create_a_user_in_dev(planted):
    p, dev = planted["p"], planted["dev"]
    out = query(planted, "--who-can", "iam:CreateUser", "--resource", f"arn:aws:iam::{dev}:user/new")
    assert (out["action"], out["resource"]) == ("iam:CreateUser", f"arn:aws:iam::{dev}:user/new")
    who = {a["arn"]: a for a in out["principals"]}
    assert who[p["dev-admin"]]["direct"] and who[p["dev-admin"]]["path"] == []
    assert any("AdministratorAccess" in b for b in who[p["dev-admin"]]["because"])
    # Through moves: a key of the admin user, attaching AdministratorAccess to itself, a chain.
    assert [s["kind"] for s in who[p["keymaker"]]["path"]] == ["access-key"]
    assert [s["kind"] for s in who[p["attacher"]]["path"]] == ["attach-policy"]
    assert [(s["kind"], s["to"]) for s in who[p["chain"]]["path"]] == [
        ("assume-role", f"arn:aws:iam::{dev}:role/OrganizationAccountAccessRole")]
    assert who[p["mfa-user"]]["conditions"] == ["aws:MultiFactorAuthPresent"]
    # Blocked by a boundary, by an SCP (in prod, and the question is about dev), by nothing to launch.
    for name in ("bounded", "prod-attacher", "wisher", "half-passer"):
        assert p[name] not in who, name
    # Only principals of one account.
    only = query(planted, "--who-can", "iam:CreateUser", "--resource", f"arn:aws:iam::{dev}:user/new",
                 "--account", dev)
    assert only["principals"] and all(f"::{dev}:" in a["arn"] for a in only["principals"])


def test_who_can_read_a_bucket_follows_its_policy(planted):
    t, p, mgmt = planted["t"], planted["p"], planted["mgmt"]
    s3 = t.client("s3")
    s3.create_bucket(Bucket="graph-shared")
    iam = t.client("iam")
    iam.create_user(UserName="bucket-reader")
    reader = f"arn:aws:iam::{mgmt}:user/bucket-reader"
    s3.put_bucket_policy(Bucket="graph-shared", Policy=doc({
        "Sid": "ReaderMayRead", "Effect": "Allow", "Principal": {"AWS": reader},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::graph-shared/*"}))
    out = query(planted, "--who-can", "s3:GetObject", "--resource", "arn:aws:s3:::graph-shared/report.csv")
    who = {a["arn"]: a for a in out["principals"]}
    # Same account: the bucket policy alone allows; its statement is the reason.
    assert who[reader]["direct"]
    assert any("bucket policy of graph-shared" in b and "ReaderMayRead" in b for b in who[reader]["because"])
    # dev's admin role has s3:* in dev, but the bucket is the management account's and its
    # policy does not name dev: cross-account needs both sides.
    assert p["dev-admin-role"] not in who
    assert p["bounded"] not in who


def test_query_errors_are_clear(planted):
    t = planted["t"]
    proc = subprocess.run([str(BIN), "graph", "--data-dir", str(t.data_dir), "--from",
                           "arn:aws:iam::000000000000:user/ghost", "--to", "admin"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "no principal arn:aws:iam::000000000000:user/ghost" in proc.stderr
    proc = subprocess.run([str(BIN), "graph", "--data-dir", str(t.data_dir), "--who-can", "s3:GetObject"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--resource" in proc.stderr


# The peer: Principal Mapper (PyPI `principalmapper`, the widely used open-source IAM graph tool),
# run unchanged on the same organization; scripts/test installs it into a venv of its own and
# sets TESSERA_PMAPPER. Which planted paths each tool finds, and how long each takes, is printed
# (pytest -s) and written to $TESSERA_PEER_REPORT when set; docs/BENCHMARKS.md quotes it.

PMAPPER = os.environ.get("TESSERA_PMAPPER")


def pmapper(store, endpoint, creds, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # `orgs create` has no endpoint option: botocore's AWS_ENDPOINT_URL points it at Tessera.
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
                "AWS_DEFAULT_REGION": "us-east-1", "XDG_DATA_HOME": str(store),
                "PYTHONPATH": str(pathlib.Path(__file__).with_name("pmapper_shim"))})
    if "aws_session_token" in creds:
        env["AWS_SESSION_TOKEN"] = creds["aws_session_token"]
    proc = subprocess.run([PMAPPER, *args], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def pmapper_reaches_admin(store, accounts, org_edges):
    """ARN -> whether Principal Mapper finds it admin or a path to an admin (its own edges in
    each account's graph, plus the cross-account edges of its organization tree)."""
    nodes, edges = {}, list(org_edges)
    for account in accounts:
        graph = store / "principalmapper" / account / "graph"
        for n in json.loads((graph / "nodes.json").read_text()):
            nodes[n["arn"]] = n["is_admin"]
        edges += [(e["source"], e["destination"]) for e in json.loads((graph / "edges.json").read_text())]
    reaches = dict(nodes)
    changed = True
    while changed:
        changed = False
        for src, dst in edges:
            if reaches.get(dst) and not reaches.get(src):
                reaches[src] = changed = True
    return reaches


@pytest.mark.skipif(not PMAPPER, reason="TESSERA_PMAPPER not set (scripts/test installs Principal Mapper)")
def test_peer_principal_mapper_on_the_same_organization(planted, tmp_path):
    t, p = planted["t"], planted["p"]
    accounts = {planted["mgmt"]: t.root_creds, **planted["creds"]}
    store = tmp_path / "pmapper"
    started = time.monotonic()
    # Its documented order: the organization first (so each graph applies the SCPs), then each
    # account's graph, then `orgs update` for the cross-account edges.
    pmapper(store, t.endpoint, t.root_creds, "orgs", "create")
    for account, creds in accounts.items():
        pmapper(store, t.endpoint, creds, "graph", "create", "--localstack-endpoint", t.endpoint,
                "--include-regions", "us-east-1")
    org_id = t.client("organizations").describe_organization()["Organization"]["Id"]
    pmapper(store, t.endpoint, t.root_creds, "orgs", "update", "--org", org_id)
    peer_seconds = time.monotonic() - started
    org_edges = []
    for tree in (store / "principalmapper").glob("o-*/org_data.json"):
        org_edges += [(e["source"], e["destination"]) for e in json.loads(tree.read_text()).get("edge_list", [])]
    peer = pmapper_reaches_admin(store, accounts, org_edges)

    started = time.monotonic()
    ours = {n["arn"]: n["reaches_admin"] for n in json.loads(run_graph(t))["principals"]}
    our_seconds = time.monotonic() - started

    open_paths = ["chain", "hop", "passer", "versioner", "attacher", "joiner", "keymaker", "retruster", "mfa-user"]
    blocked = ["prod-attacher", "prod-keymaker", "bounded", "wisher", "half-passer"]
    rows = [(name, "open" if name in open_paths else "blocked", ours.get(p[name]), peer.get(p[name]))
            for name in open_paths + blocked]
    report = {"tessera_graph_seconds": round(our_seconds, 2), "pmapper_seconds": round(peer_seconds, 2),
              "rows": [{"principal": n, "planted": k, "tessera": o, "pmapper": q} for n, k, o, q in rows]}
    print("\n" + json.dumps(report, indent=1))
    if os.environ.get("TESSERA_PEER_REPORT"):
        pathlib.Path(os.environ["TESSERA_PEER_REPORT"]).write_text(json.dumps(report, indent=1))
    # Tessera's answers are the planted truth (the tests above hold them one by one).
    assert all(o == (k == "open") for _, k, o, _ in rows), rows
    # The peer really ran on this organization: it graphed every planted principal.
    assert all(q is not None for *_, q in rows), rows
