"""One decider: the live server and `tessera policy simulate --jsonl` decide alike.

Seeded random scenarios run twice: (a) through the real server over boto3, by IAM users and role
sessions of two member accounts, against S3 buckets of both member accounts and of the
management account, IAM and STS; (b) through one `tessera policy simulate --jsonl` process, one
input line per scenario, holding everything that applies to the request as AWS documents it: the
caller's identity policies (user inline, group inline, attached customer managed; role inline and
attached), its permissions boundary, its session policies (`AssumeRole` `Policy` / `PolicyArns`),
the SCPs of its account (one `ServiceControlPolicyInputList` entry per level, root -> OUs ->
account, each the merge of the policies attached at that level, `FullAWSAccess` included), the
RCPs of the resource's account (one entry per level, `RCPFullAWSAccess` included; none for the
management account's resources nor for services RCPs do not cover), the bucket policy, and every
condition key the server sets that the test can know (ContextEntries). Every scenario must get
the same decision from both: allowed (a success, or an error the operation raises after
authorization, such as NoSuchKey) vs AccessDenied, and explicit vs implicit deny from the
server's message (`with an explicit deny in ...` / `because no ... allows`), which must end with
the simulator's `DenyReason`. Any other error fails the scenario.

TESSERA_DECIDER_SCENARIOS (default 2000) sets the number of scenarios, TESSERA_DECIDER_SEED the
seed (docs/POLICY_ENGINE.md, "One decider: the server and the simulator agree").

The generator is written here, independently of the engine's Rust testgen: small vocabularies
(a few actions, resources, principals and condition keys) so that statements match often.
"""

import collections
import datetime
import fnmatch
import json
import math
import os
import random
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions

from conftest import BIN, REGION

SCENARIOS = int(os.environ.get("TESSERA_DECIDER_SCENARIOS", "2000"))
SEED = int(os.environ.get("TESSERA_DECIDER_SEED", "1729"))
REQUESTS_PER_CALLER = 8  # per round; every round regenerates every policy
USERS_PER_ACCOUNT = 4
ROLES_PER_ACCOUNT = 2
SESSIONS_PER_ROLE = 2
POOL_SIZE = 3  # customer managed policies per account (attached, or passed as session PolicyArns)
BOUNDARY_POOL = 2

V = "2012-10-17"
FULL_SCP = "p-FullAWSAccess"
FULL_RCP = "p-RCPFullAWSAccess"
# The documents of Organizations' AWS managed policies (AWS Organizations User Guide).
FULL_SCP_DOC = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
FULL_RCP_DOC = {"Version": V, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
# While entities are set up between rounds every custom SCP allows everything and every custom
# RCP denies nothing that is called.
NEUTRAL_SCP = json.dumps(FULL_SCP_DOC)
NEUTRAL_RCP = json.dumps({"Version": V, "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
    "Condition": {"StringEquals": {"aws:PrincipalAccount": "000000000000"}}}]})
# AWS Organizations User Guide, "Resource control policies (RCPs)", "List of AWS services that
# support RCPs": RCPs apply to these services' resources only (of Tessera's: S3 and STS).
RCP_SERVICES = {"s3", "sts", "kms", "sqs", "secretsmanager"}

SCP_LEVELS = ["root", "ouA", "ouB", "A", "B"]
CHAIN = {"A": ["root", "ouA", "A"], "B": ["root", "ouA", "ouB", "B"]}
OBJECT_KEYS_FIXED = ["public/doc.txt", "private/doc.txt"]

# Errors the operations raise after the request was authorized: the decision was "allowed".
AFTER_AUTHORIZATION = {"NoSuchKey", "NoSuchBucketPolicy", "MethodNotAllowed", "NoSuchEntity"}

CFG = botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def creds_of(c):
    out = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"]}
    if c.get("SessionToken"):
        out["aws_session_token"] = c["SessionToken"]
    return out


def merge(docs):
    """One document holding every statement of `docs` (one SCP or RCP level), with unique Sids."""
    statements = []
    for i, d in enumerate(docs):
        st = d["Statement"]
        for j, s in enumerate(st if isinstance(st, list) else [st]):
            s = dict(s)
            s["Sid"] = f"P{i}S{j}"
            statements.append(s)
    return json.dumps({"Version": V, "Statement": statements})


class User:
    def __init__(self, label, account, name, path, tags):
        self.label, self.account, self.name, self.path, self.tags = label, account, name, path, tags
        self.arn = f"arn:aws:iam::{account}:user{path}{name}"
        self.managed = []  # pool indexes
        self.in_group = False
        self.inline = None
        self.boundary = None  # boundary pool index
        self.user_id = None
        self.creds = None


class Role:
    def __init__(self, label, account, name, tags):
        self.label, self.account, self.name, self.tags = label, account, name, tags
        self.arn = f"arn:aws:iam::{account}:role/{name}"
        self.managed = []
        self.inline = None
        self.boundary = None
        self.role_id = None


class Caller:
    """Who makes a scenario's request, with everything that applies to it this round."""

    def __init__(self, kind, label, account, arn, principal_arn, userid, tags, username=None):
        self.kind, self.label, self.account, self.arn = kind, label, account, arn
        self.principal_arn, self.userid, self.tags, self.username = principal_arn, userid, tags, username
        self.identity = []  # documents (str)
        self.boundary = None  # document (str)
        self.session = None  # list of documents, or None without session policies
        self.session_features = ()
        self.creds = None
        self.clients = {}


class Gen:
    """Seeded policy generator with small vocabularies over the world's names."""

    def __init__(self, rng, w, buckets):
        self.rng, self.w, self.buckets = rng, w, buckets

    def pick(self, xs):
        return xs[self.rng.randrange(len(xs))]

    def some(self, xs, lo=1, hi=2):
        n = self.rng.randint(lo, hi)
        out = []
        for _ in range(n):
            x = self.pick(xs)
            if x not in out:
                out.append(x)
        return out[0] if len(out) == 1 and self.rng.random() < 0.6 else out

    # -- vocabularies --------------------------------------------------------------------------
    def actions(self, kind):
        s3 = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketLocation",
              "s3:DeleteObject", "s3:Get*", "s3:List*", "s3:*", "s3:*Object", "s3:getobject"]
        if kind in ("bucket", "rcp"):
            return s3 + ["*", "s3:Put*"] + (["sts:*", "iam:*", "iam:Get*"] if kind == "rcp" else [])
        iam = ["iam:GetUser", "iam:GetRole", "iam:ListUsers", "iam:ListRoles", "iam:GetPolicy", "iam:Get*",
               "iam:List*", "iam:*", "iam:GetAccountSummary", "iam:ListPolicies"]
        return s3 + iam + ["*", "sts:GetCallerIdentity", "sts:*", "ec2:DescribeInstances"]

    def resources(self, kind):
        w, b = self.w, self.buckets
        names = [x["name"] for x in b.values()]
        if kind == "bucket":
            raise AssertionError("bucket resources come from bucket_resources")
        acct = self.pick([w.acct["A"], w.acct["B"], "*"])
        return ["*", "*", "*"] + [f"arn:aws:s3:::{n}" for n in names] + [f"arn:aws:s3:::{n}/*" for n in names] + [
            f"arn:aws:s3:::{self.pick(names)}/public/*",
            "arn:aws:s3:::*/home/${aws:username}/*",
            "arn:aws:s3:::*/home/${aws:PrincipalTag/team}*",
            "arn:aws:s3:::dec-*",
            "arn:aws:s3:::*/private/*",
            f"arn:aws:iam::{acct}:user/*",
            "arn:aws:iam::*:user/dev/*",
            f"arn:aws:iam::{acct}:user/${{aws:username}}",
            f"arn:aws:iam::{acct}:role/*",
            "arn:aws:iam::*:role/dec-a-r1",
            f"arn:aws:iam::{acct}:policy/*",
            "arn:aws:iam::aws:policy/*",
            f"arn:aws:iam::{acct}:*",
        ]

    def bucket_resources(self, name):
        return [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*", f"arn:aws:s3:::{name}/public/*",
                f"arn:aws:s3:::{name}/home/${{aws:username}}/*", f"arn:aws:s3:::{name}/private/*",
                "arn:aws:s3:::dec-*", f"arn:aws:s3:::{name}*"]

    def principals(self):
        """A bucket policy's `Principal`: `*`, or some layer of one of the round's callers (so
        that grants to a user, a role, a session or an account reach the requests often)."""
        r = self.rng.random()
        if r < 0.2:
            return self.pick(["*", {"AWS": "*"}])
        c = self.pick(self.w.all_callers)
        root = f"arn:aws:iam::{c.account}:root"
        if c.kind == "user":
            layer = self.pick([c.arn, c.arn, c.arn, c.account, root])
        else:
            layer = self.pick([c.arn, c.arn, c.principal_arn, c.principal_arn, c.account, root])
        if self.rng.random() < 0.25:
            other = self.pick(self.w.all_callers)
            return {"AWS": [layer, self.pick([other.arn, other.principal_arn, other.account])]}
        return {"AWS": layer}

    def not_principal(self):
        """What a Deny with NotPrincipal lists: some layers of one caller (AWS checks the account,
        then the user; or the account, the role, the session), sometimes not all of them."""
        c = self.pick(self.w.all_callers)
        root = f"arn:aws:iam::{c.account}:root"
        if c.kind == "user":
            options = [[root, c.arn], [c.arn], [root], [c.account, c.arn]]
        else:
            options = [[root, c.principal_arn, c.arn], [root, c.arn], [root, c.principal_arn], [c.arn],
                       [c.principal_arn, c.arn], [c.account, c.principal_arn]]
        listed = self.pick(options)
        if self.rng.random() < 0.3:
            other = self.pick(self.w.all_callers)
            listed = listed + [other.arn]
        return {"AWS": listed if len(listed) > 1 else listed[0]}

    def clause(self):
        w, pick = self.w, self.pick
        users = [u.name for u in w.users.values()]
        A, B, org, root, ouA, ouB = w.acct["A"], w.acct["B"], w.org_id, w.root_id, w.ou["ouA"], w.ou["ouB"]
        options = [
            lambda: ("StringEquals", "aws:username", pick(users + ["nobody"])),
            lambda: ("StringLike", "aws:username", pick(["dec-a-*", "dec-b-*", "*1", "*"])),
            lambda: ("StringNotEquals", "aws:username", pick(users)),
            lambda: (pick(["StringEquals", "StringNotEquals", "StringEqualsIfExists", "StringNotEqualsIfExists",
                           "StringLike"]), "aws:PrincipalTag/team", pick(["red", "blue", ["red", "blue"], "r*"])),
            lambda: (pick(["StringEquals", "StringEqualsIfExists", "StringNotEquals"]), "aws:PrincipalTag/env",
                     pick(["prod", "dev"])),
            lambda: ("Null", pick(["aws:PrincipalTag/team", "aws:PrincipalTag/env", "aws:username",
                                   "aws:TokenIssueTime", "aws:MultiFactorAuthPresent", "aws:PrincipalOrgID",
                                   "aws:ResourceTag/team", "s3:prefix"]), pick(["true", "false"])),
            lambda: (pick(["StringEquals", "StringNotEquals"]), "aws:PrincipalAccount", pick([A, B, w.mgmt])),
            lambda: (pick(["StringEquals", "StringNotEquals", "StringNotEqualsIfExists"]), "aws:PrincipalOrgID",
                     pick([org, "o-aaaaaaaaaa"])),
            lambda: (pick(["ForAnyValue:StringLike", "ForAllValues:StringLike", "ForAnyValue:StringEquals"]),
                     "aws:PrincipalOrgPaths", pick([f"{org}/{root}/{ouA}/*", f"{org}/{root}/{ouA}/{ouB}/",
                                                    f"{org}/*", f"{org}/{root}/{ouA}/"])),
            lambda: ("Bool", "aws:SecureTransport", pick(["true", "false"])),
            lambda: (pick(["IpAddress", "NotIpAddress"]), "aws:SourceIp",
                     pick(["127.0.0.1/32", "127.0.0.0/8", "10.0.0.0/8", "127.0.0.1", ["10.1.0.0/16", "127.0.0.1"]])),
            lambda: (pick(["StringEquals", "StringNotEquals"]), "aws:PrincipalType",
                     pick(["User", "AssumedRole", "Account"])),
            lambda: (pick(["ArnLike", "ArnNotLike", "ArnEquals"]), "aws:PrincipalArn",
                     pick([f"arn:aws:iam::{A}:role/*", "arn:aws:iam::*:user/*", f"arn:aws:iam::{B}:*",
                           pick(list(w.users.values())).arn, pick(list(w.roles.values())).arn,
                           "arn:aws:iam::*:user/dev/*"])),
            lambda: (pick(["StringEquals", "StringNotEquals"]), pick(["aws:ResourceAccount", "s3:ResourceAccount"]),
                     pick([A, B, w.mgmt])),
            lambda: ("StringEquals", pick(["aws:ResourceOrgID", "aws:PrincipalOrgID"]), pick([org, "o-aaaaaaaaaa"])),
            lambda: (pick(["StringEquals", "StringLike", "StringNotLike"]), "s3:prefix",
                     pick(["", "public/", "home/${aws:username}/", "home/*", "private/*"])),
            lambda: (pick(["Bool", "BoolIfExists"]), "aws:MultiFactorAuthPresent", pick(["true", "false"])),
            lambda: (pick(["DateGreaterThan", "DateLessThan"]), "aws:CurrentTime",
                     pick(["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])),
            lambda: (pick(["NumericGreaterThan", "NumericLessThan"]), "aws:EpochTime",
                     pick(["1577836800", "4070908800"])),
            lambda: ("StringLike", "aws:userid", pick(["AIDA*", "AROA*", "*:sess-1", "*:sess-*"])),
            lambda: (pick(["StringEquals", "StringNotEquals"]), "s3:authType", "REST-HEADER"),
            lambda: ("StringEquals", "s3:signatureversion", pick(["AWS4-HMAC-SHA256", "AWS"])),
            lambda: (pick(["StringEquals", "StringNotEquals"]), "aws:RequestedRegion",
                     pick(["us-east-1", "eu-west-1"])),
            lambda: (pick(["StringEquals", "StringEqualsIfExists"]),
                     pick(["aws:ResourceTag/team", "iam:ResourceTag/team"]), pick(["red", "blue"])),
            lambda: (pick(["NumericLessThanEquals", "NumericGreaterThan"]), "s3:max-keys", pick(["1000", "10"])),
            lambda: ("Null", "iam:PermissionsBoundary", pick(["true", "false"])),
            lambda: ("Bool", "aws:PrincipalIsAWSService", "false"),
        ]
        return pick(options)()

    def condition(self):
        cond = {}
        for _ in range(self.pick([1, 1, 1, 2])):
            op, key, values = self.clause()
            cond.setdefault(op, {})[key] = values
        return cond

    # -- documents -----------------------------------------------------------------------------
    def statement(self, kind, effect=None, bucket=None):
        r = self.rng.random
        if effect is None:
            p_deny = {"identity": 0.2, "boundary": 0.15, "session": 0.2, "scp": 0.6, "bucket": 0.3}[kind]
            effect = "Deny" if r() < p_deny else "Allow"
        s = {"Effect": effect}
        if kind == "bucket":
            if effect == "Deny" and r() < 0.35:
                s["NotPrincipal"] = self.not_principal()
            else:
                s["Principal"] = self.principals()
        elif kind == "rcp":
            s["Principal"] = "*"
        acts = self.actions(kind)
        if kind != "rcp" and not (kind == "scp" and effect == "Deny") and r() < 0.12:
            s["NotAction"] = self.some(acts)
        elif kind == "scp" and effect == "Deny":
            # One SCP deny holds for every caller of its accounts for a whole round: a narrow one.
            s["Action"] = self.some([a for a in acts if a not in ("*", "s3:*", "iam:*", "sts:*")], 1, 2)
        elif kind in ("identity", "session", "boundary") and effect == "Deny" and r() < 0.15:
            s["Action"] = self.some(["sts:*", "*", "sts:GetCallerIdentity", "sts:Get*"], 1, 2)
            s["Resource"] = "*"
            if r() < 0.4:
                s["Condition"] = self.condition()
            return s
        elif kind in ("identity", "session", "boundary") and effect == "Allow" and r() < 0.5:
            s["Action"] = self.some(["s3:*", "iam:*", "*", "s3:Get*", "iam:Get*", "iam:List*", "s3:*Object"], 1, 2)
        else:
            s["Action"] = self.some(acts, 1, 3)
        if kind == "bucket" and effect == "Allow" and r() < 0.5:
            s.pop("NotAction", None)
            s["Action"] = self.some(["s3:*", "s3:Get*", "s3:*Object", "s3:List*", "s3:GetObject", "s3:ListBucket",
                                     "s3:PutObject"], 1, 3)
            s["Resource"] = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
        elif kind == "bucket":
            res = self.bucket_resources(bucket)
            if r() < 0.08:
                s["NotResource"] = self.some(res[2:5])
            else:
                s["Resource"] = self.some(res, 1, 2)
        elif kind in ("scp", "rcp"):
            s["Resource"] = "*" if r() < 0.6 else self.some(self.resources(kind), 1, 2)
        else:
            x = r()
            if x < 0.08:
                s["NotResource"] = self.some(self.resources(kind)[3:])
            elif x < 0.5 and effect == "Allow":
                s["Resource"] = "*"
            else:
                s["Resource"] = self.some(self.resources(kind), 1, 3)
        p_cond = {"identity": 0.5, "boundary": 0.3, "session": 0.4, "scp": 0.8 if effect == "Deny" else 0.3,
                  "rcp": 0.75, "bucket": 0.5}[kind]
        if r() < p_cond:
            s["Condition"] = self.condition()
        return s

    def document(self, kind, n=None, effect=None, bucket=None):
        n = n or self.pick([1, 1, 2, 2, 3])
        return json.dumps({"Version": V, "Statement": [self.statement(kind, effect, bucket) for _ in range(n)]})


class World:
    """The organization, accounts and entities, made once; every policy is regenerated per round."""

    def __init__(self, t, rng):
        self.t, self.rng = t, rng
        self.boto = boto3.session.Session(region_name=REGION)
        self.org = self.client("organizations", t.root_creds)
        self.mgmt = self.client("sts", t.root_creds).get_caller_identity()["Account"]
        self.org_id = self.org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        self.root_id = self.org.list_roots()["Roots"][0]["Id"]
        for ty in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
            self.org.enable_policy_type(RootId=self.root_id, PolicyType=ty)
        ou_a = self.org.create_organizational_unit(ParentId=self.root_id, Name="dec-ou-a")["OrganizationalUnit"]
        ou_b = self.org.create_organizational_unit(ParentId=ou_a["Id"], Name="dec-ou-b")["OrganizationalUnit"]
        self.ou = {"ouA": ou_a["Id"], "ouB": ou_b["Id"]}
        self.acct = {}
        for label, parent in (("A", ou_a["Id"]), ("B", ou_b["Id"])):
            s = self.org.create_account(Email=f"dec-{label.lower()}@example.com",
                                        AccountName=f"dec-{label}")["CreateAccountStatus"]
            for _ in range(200):
                s = self.org.describe_create_account_status(CreateAccountRequestId=s["Id"])["CreateAccountStatus"]
                if s["State"] == "SUCCEEDED":
                    break
                time.sleep(0.02)
            self.acct[label] = s["AccountId"]
            self.org.move_account(AccountId=s["AccountId"], SourceParentId=self.root_id, DestinationParentId=parent)
        self.target = {"root": self.root_id, **self.ou, "A": self.acct["A"], "B": self.acct["B"]}
        # aws:PrincipalOrgPaths / aws:ResourceOrgPaths: the organization, root and OUs above the account.
        self.org_path = {
            "A": f"{self.org_id}/{self.root_id}/{self.ou['ouA']}/",
            "B": f"{self.org_id}/{self.root_id}/{self.ou['ouA']}/{self.ou['ouB']}/",
            "M": f"{self.org_id}/{self.root_id}/",
        }
        iam = self.client("iam", self.t.root_creds)
        iam.create_user(UserName="dec-admin")
        iam.attach_user_policy(UserName="dec-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        self.admin_key = creds_of(iam.create_access_key(UserName="dec-admin")["AccessKey"])
        # Custom SCPs (two per level) and RCPs (one per level), attached or not round by round.
        self.scp_custom, self.rcp_custom, self.docs = {}, {}, {}
        self.scp_attached = {lv: {FULL_SCP} for lv in SCP_LEVELS}
        self.rcp_attached = {lv: set() for lv in SCP_LEVELS}
        for lv in SCP_LEVELS:
            self.scp_custom[lv] = [self.org.create_policy(
                Content=NEUTRAL_SCP, Description="", Name=f"dec-scp-{lv}-{i}",
                Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"] for i in (1, 2)]
            self.rcp_custom[lv] = [self.org.create_policy(
                Content=NEUTRAL_RCP, Description="", Name=f"dec-rcp-{lv}",
                Type="RESOURCE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]]
        self.admin = {}
        self.users, self.roles = {}, {}
        self.pool_arn, self.pool_version, self.pool_doc = {}, {}, {}
        self.boundary_arn, self.boundary_version, self.boundary_doc = {}, {}, {}
        self.group_doc = {}
        self.assume_admins()
        self.make_entities()

    def client(self, service, creds):
        return self.boto.client(service, endpoint_url=self.t.endpoint, config=CFG, **creds)

    def assume_admins(self):
        sts = self.client("sts", self.admin_key)
        for label in ("A", "B"):
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{self.acct[label]}:role/OrganizationAccountAccessRole",
                                RoleSessionName="dec-admin")["Credentials"]
            self.admin[label] = creds_of(c)
        self.admin["M"] = self.t.root_creds

    def make_entities(self):
        rng = self.rng
        for label in ("A", "B"):
            account = self.acct[label]
            iam = self.client("iam", self.admin[label])
            for i in range(POOL_SIZE):
                p = iam.create_policy(PolicyName=f"dec-pool-{i}", PolicyDocument=NEUTRAL_SCP)["Policy"]
                self.pool_arn[label, i], self.pool_version[label, i] = p["Arn"], p["DefaultVersionId"]
                self.pool_doc[label, i] = NEUTRAL_SCP
            for i in range(BOUNDARY_POOL):
                p = iam.create_policy(PolicyName=f"dec-boundary-{i}", PolicyDocument=NEUTRAL_SCP)["Policy"]
                self.boundary_arn[label, i], self.boundary_version[label, i] = p["Arn"], p["DefaultVersionId"]
                self.boundary_doc[label, i] = NEUTRAL_SCP
            group = f"dec-{label.lower()}-g"
            iam.create_group(GroupName=group)

            def tags():
                out = {}
                team = rng.choice(["red", "blue", None])
                env = rng.choice(["prod", "dev", None])
                if team:
                    out["team"] = team
                if env:
                    out["env"] = env
                return out

            for i in range(1, USERS_PER_ACCOUNT + 1):
                name = f"dec-{label.lower()}-u{i}"
                u = User(label, account, name, "/dev/" if i % 2 == 0 else "/", tags())
                created = iam.create_user(UserName=name, Path=u.path,
                                          Tags=[{"Key": k, "Value": v} for k, v in u.tags.items()])["User"]
                assert created["Arn"] == u.arn
                u.user_id = created["UserId"]
                u.managed = sorted(rng.sample(range(POOL_SIZE), rng.randint(0, 2)))
                for m in u.managed:
                    iam.attach_user_policy(UserName=name, PolicyArn=self.pool_arn[label, m])
                if i <= 2:
                    u.in_group = True
                    iam.add_user_to_group(GroupName=group, UserName=name)
                u.creds = creds_of(iam.create_access_key(UserName=name)["AccessKey"])
                self.users[name] = u
            trust = json.dumps({"Version": V, "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
            # Roles stay at path `/`: an assumed-role ARN carries no path, and the simulator takes
            # the session's role ARN from `CallerArn` (as `arn:aws:iam::ACCOUNT:role/NAME`), so a
            # session of `/team/NAME` cannot be written as simulator input (a role `CallerArn`
            # keeps the path but becomes `SimulatedSession`).
            for i in range(1, ROLES_PER_ACCOUNT + 1):
                name = f"dec-{label.lower()}-r{i}"
                r = Role(label, account, name, tags())
                created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                                          Tags=[{"Key": k, "Value": v} for k, v in r.tags.items()])["Role"]
                assert created["Arn"] == r.arn
                r.role_id = created["RoleId"]
                r.managed = sorted(rng.sample(range(POOL_SIZE), rng.randint(0, 2)))
                for m in r.managed:
                    iam.attach_role_policy(RoleName=name, PolicyArn=self.pool_arn[label, m])
                self.roles[name] = r

    # -- Organizations, round by round ---------------------------------------------------------
    def neutralize(self):
        """Every attached custom SCP allows everything, every custom RCP denies nothing called."""
        for lv in SCP_LEVELS:
            for pid in self.scp_custom[lv]:
                if pid in self.scp_attached[lv] and self.docs.get(pid) != NEUTRAL_SCP:
                    self.org.update_policy(PolicyId=pid, Content=NEUTRAL_SCP)
                    self.docs[pid] = NEUTRAL_SCP
            for pid in self.rcp_custom[lv]:
                if pid in self.rcp_attached[lv] and self.docs.get(pid) != NEUTRAL_RCP:
                    self.org.update_policy(PolicyId=pid, Content=NEUTRAL_RCP)
                    self.docs[pid] = NEUTRAL_RCP

    def apply_org(self, gen):
        rng = self.rng
        for lv in SCP_LEVELS:
            want = set()
            full = rng.random() >= 0.06
            if full:
                want.add(FULL_SCP)
            for pid in self.scp_custom[lv]:
                if rng.random() < 0.12:
                    want.add(pid)
            if not full and len(want) == 0:
                want.add(self.scp_custom[lv][0])
            for pid in want - {FULL_SCP}:
                # Under FullAWSAccess a custom SCP mostly denies; without it, mostly allows.
                n = rng.choice([1, 2])
                if full:
                    doc = gen.document("scp", n)
                else:
                    # An allow list, as replacing FullAWSAccess makes one: a broad first statement.
                    wide = ["s3:*", "iam:*", "s3:Get*", "iam:Get*", "iam:List*", "s3:List*", "sts:*", "s3:*Object"]
                    st = [{"Effect": "Allow", "Action": gen.some(wide, 1, 3), "Resource": "*"}]
                    st += [gen.statement("scp", "Allow") for _ in range(n - 1)]
                    if rng.random() < 0.4:
                        st.append(gen.statement("scp", "Deny"))
                    doc = json.dumps({"Version": V, "Statement": st})
                self.org.update_policy(PolicyId=pid, Content=doc)
                self.docs[pid] = doc
            self.reattach(lv, self.scp_attached[lv], want)
            rwant = set()
            for pid in self.rcp_custom[lv]:
                if rng.random() < 0.15:
                    rwant.add(pid)
                    doc = gen.document("rcp", rng.choice([1, 2]), "Deny")
                    self.org.update_policy(PolicyId=pid, Content=doc)
                    self.docs[pid] = doc
            self.reattach(lv, self.rcp_attached[lv], rwant)

    def reattach(self, lv, have, want):
        for pid in sorted(want - have):
            self.org.attach_policy(PolicyId=pid, TargetId=self.target[lv])
        for pid in sorted(have - want):
            self.org.detach_policy(PolicyId=pid, TargetId=self.target[lv])
        have.clear()
        have.update(want)

    def scp_levels(self, label):
        """ServiceControlPolicyInputList for a caller of account `label`."""
        out = []
        for lv in CHAIN[label]:
            docs = [FULL_SCP_DOC if pid == FULL_SCP else json.loads(self.docs[pid])
                    for pid in sorted(self.scp_attached[lv])]
            out.append(merge(docs))
        return out

    def rcp_levels(self, label):
        """ResourceControlPolicyInputList for a resource of account `label` (none: management)."""
        if label == "M":
            return []
        out = []
        for lv in CHAIN[label]:
            docs = [FULL_RCP_DOC] + [json.loads(self.docs[pid]) for pid in sorted(self.rcp_attached[lv])]
            out.append(merge(docs))
        return out

    def label_of(self, account):
        return {self.acct["A"]: "A", self.acct["B"]: "B", self.mgmt: "M"}[account]


def set_version(iam, arn, old, doc):
    new = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc, SetAsDefault=True)["PolicyVersion"]
    iam.delete_policy_version(PolicyArn=arn, VersionId=old)
    return new["VersionId"]


def setup_round(w, gen):
    """Regenerate every identity-side policy, start this round's role sessions, make its buckets."""
    rng = w.rng
    callers = []
    for label in ("A", "B"):
        iam = w.client("iam", w.admin[label])
        for i in range(POOL_SIZE):
            doc = gen.document("identity")
            w.pool_version[label, i] = set_version(iam, w.pool_arn[label, i], w.pool_version[label, i], doc)
            w.pool_doc[label, i] = doc
        for i in range(BOUNDARY_POOL):
            doc = gen.document("boundary", rng.choice([1, 2, 3]))
            w.boundary_version[label, i] = set_version(iam, w.boundary_arn[label, i], w.boundary_version[label, i],
                                                       doc)
            w.boundary_doc[label, i] = doc
        group = f"dec-{label.lower()}-g"
        if rng.random() < 0.7:
            w.group_doc[label] = gen.document("identity")
            iam.put_group_policy(GroupName=group, PolicyName="inline", PolicyDocument=w.group_doc[label])
        elif w.group_doc.get(label):
            iam.delete_group_policy(GroupName=group, PolicyName="inline")
            w.group_doc[label] = None
        entities = [u for u in w.users.values() if u.label == label] + [r for r in w.roles.values()
                                                                        if r.label == label]
        for e in entities:
            is_user = isinstance(e, User)
            put = iam.put_user_policy if is_user else iam.put_role_policy
            delete = iam.delete_user_policy if is_user else iam.delete_role_policy
            name = {"UserName": e.name} if is_user else {"RoleName": e.name}
            if rng.random() < 0.85:
                e.inline = gen.document("identity")
                put(PolicyName="inline", PolicyDocument=e.inline, **name)
            elif e.inline:
                delete(PolicyName="inline", **name)
                e.inline = None
            b = rng.randrange(BOUNDARY_POOL) if rng.random() < 0.3 else None
            if b is not None:
                (iam.put_user_permissions_boundary if is_user else iam.put_role_permissions_boundary)(
                    PermissionsBoundary=w.boundary_arn[label, b], **name)
            elif e.boundary is not None:
                (iam.delete_user_permissions_boundary if is_user else iam.delete_role_permissions_boundary)(**name)
            e.boundary = b
    for u in w.users.values():
        c = Caller("user", u.label, u.account, u.arn, u.arn, u.user_id, dict(u.tags), username=u.name)
        c.identity = ([u.inline] if u.inline else []) + [w.pool_doc[u.label, m] for m in u.managed]
        if u.in_group and w.group_doc.get(u.label):
            c.identity.append(w.group_doc[u.label])
        c.boundary = w.boundary_doc[u.label, u.boundary] if u.boundary is not None else None
        c.creds = u.creds
        c.entity = u
        callers.append(c)
    for r in w.roles.values():
        sts = w.client("sts", w.admin[r.label])
        for s in range(1, SESSIONS_PER_ROLE + 1):
            args = {"RoleArn": r.arn, "RoleSessionName": f"sess-{s}"}
            docs, features = None, []
            x = rng.random()
            if x < 0.6:
                docs = []
                if x < 0.45:
                    inline = gen.document("session", rng.choice([1, 2]))
                    args["Policy"] = inline
                    docs.append(inline)
                    features.append("inline")
                if x >= 0.3:
                    picked = sorted(rng.sample(range(POOL_SIZE), rng.randint(1, 2)))
                    args["PolicyArns"] = [{"arn": w.pool_arn[r.label, m]} for m in picked]
                    docs += [w.pool_doc[r.label, m] for m in picked]
                    features.append("arns")
            tags = dict(r.tags)
            if rng.random() < 0.25:
                session_tags = {"team": rng.choice(["red", "blue"])}
                args["Tags"] = [{"Key": k, "Value": v} for k, v in session_tags.items()]
                tags.update(session_tags)
                features.append("tags")
            resp = sts.assume_role(**args)
            arn = f"arn:aws:sts::{r.account}:assumed-role/{r.name}/sess-{s}"
            assert resp["AssumedRoleUser"]["Arn"] == arn
            c = Caller("session", r.label, r.account, arn, r.arn, resp["AssumedRoleUser"]["AssumedRoleId"], tags)
            c.identity = ([r.inline] if r.inline else []) + [w.pool_doc[r.label, m] for m in r.managed]
            c.boundary = w.boundary_doc[r.label, r.boundary] if r.boundary is not None else None
            c.session = docs
            c.session_features = tuple(features)
            c.creds = creds_of(resp["Credentials"])
            c.entity = r
            callers.append(c)
    w.all_callers = callers
    # Buckets: new ones each round (a bucket policy may lock its owner out).
    user_names = [u.name for u in w.users.values()]
    for b in gen.buckets.values():
        s3 = w.client("s3", w.admin[b["label"]])
        s3.create_bucket(Bucket=b["name"])
        # Block Public Access is not the engine's (the simulator has no bucket settings): off,
        # as on a bucket made before April 2023.
        s3.delete_public_access_block(Bucket=b["name"])
        for key in OBJECT_KEYS_FIXED + [f"home/{n}/doc.txt" for n in user_names]:
            s3.put_object(Bucket=b["name"], Key=key, Body=b"x")
        if rng.random() < 0.8:
            b["policy"] = gen.document("bucket", rng.choice([2, 3, 4, 5]), bucket=b["name"])
            s3.put_bucket_policy(Bucket=b["name"], Policy=b["policy"])
        else:
            b["policy"] = None
    return callers


def make_request(w, gen, c, buckets):
    """One request of caller `c`: the boto3 call, and the action, resource and context keys the
    server decides it with."""
    rng, pick = w.rng, gen.pick
    x = rng.random()
    user_names = [u.name for u in w.users.values()]
    if x < 0.62:
        b = pick(list(buckets.values()))
        name, owner = b["name"], b["account"]
        obj = lambda key: f"arn:aws:s3:::{name}/{key}"  # noqa: E731
        own = c.username or pick(user_names)
        op = pick(["GetObject", "GetObject", "PutObject", "ListObjectsV2", "ListObjectsV2", "GetBucketPolicy",
                   "GetBucketLocation", "DeleteObject"])
        ctx = {}
        if op == "GetObject":
            key = pick(OBJECT_KEYS_FIXED + [f"home/{own}/doc.txt", f"home/{pick(user_names)}/doc.txt"])
            kwargs, action, resource = {"Bucket": name, "Key": key}, "s3:GetObject", obj(key)
        elif op == "PutObject":
            key = pick(["public/up.txt", "private/up.txt", f"home/{own}/up.txt", "up.txt"])
            kwargs, action, resource = {"Bucket": name, "Key": key, "Body": b"y"}, "s3:PutObject", obj(key)
        elif op == "DeleteObject":
            key = pick(["tmp/gone.txt", "public/gone.txt"])
            kwargs, action, resource = {"Bucket": name, "Key": key}, "s3:DeleteObject", obj(key)
        elif op == "ListObjectsV2":
            prefix = pick(["", "public/", f"home/{own}/", "private/", "home/"])
            kwargs, action, resource = {"Bucket": name, "Prefix": prefix}, "s3:ListBucket", f"arn:aws:s3:::{name}"
            ctx = {"s3:prefix": [prefix], "s3:max-keys": ["1000"]}
        else:
            kwargs, action, resource = {"Bucket": name}, f"s3:{op}", f"arn:aws:s3:::{name}"
        ctx.update({"s3:authType": ["REST-HEADER"], "s3:signatureversion": ["AWS4-HMAC-SHA256"],
                    "s3:ResourceAccount": [owner]})
        return {"service": "s3", "op": op, "kwargs": kwargs, "action": action, "resource": resource,
                "owner": owner, "bucket": b, "ctx": ctx}
    if x < 0.95:
        X, label = c.account, c.label
        users = [u for u in w.users.values() if u.label == label]
        roles = [r for r in w.roles.values() if r.label == label]
        op = pick(["GetUser", "GetUser", "GetRole", "ListUsers", "ListRoles", "GetPolicy", "GetAccountSummary",
                   "ListPolicies"])
        ctx = {}

        def entity_ctx(e):
            out = {}
            for k, v in e.tags.items():
                out[f"aws:ResourceTag/{k}"] = [v]
                out[f"iam:ResourceTag/{k}"] = [v]
            if e.boundary is not None:
                out["iam:PermissionsBoundary"] = [w.boundary_arn[e.label, e.boundary]]
            return out

        if op == "GetUser":
            target = pick(users + [None])
            if target is None:
                kwargs, resource = {"UserName": "nobody"}, f"arn:aws:iam::{X}:user/nobody"
            else:
                kwargs, resource, ctx = {"UserName": target.name}, target.arn, entity_ctx(target)
        elif op == "GetRole":
            target = pick(roles + [None])
            if target is None:
                kwargs, resource = ({"RoleName": "OrganizationAccountAccessRole"},
                                    f"arn:aws:iam::{X}:role/OrganizationAccountAccessRole")
            else:
                kwargs, resource, ctx = {"RoleName": target.name}, target.arn, entity_ctx(target)
        elif op == "GetPolicy":
            arn = pick([w.pool_arn[label, i] for i in range(POOL_SIZE)] + ["arn:aws:iam::aws:policy/ReadOnlyAccess"])
            kwargs, resource = {"PolicyArn": arn}, arn
        elif op == "GetAccountSummary":
            kwargs, resource = {}, "*"
        else:
            word = {"ListUsers": "user", "ListRoles": "role", "ListPolicies": "policy"}[op]
            kwargs, resource = {}, f"arn:aws:iam::{X}:{word}/"
        return {"service": "iam", "op": op, "kwargs": kwargs, "action": f"iam:{op}", "resource": resource,
                "owner": X, "ctx": ctx}
    return {"service": "sts", "op": "GetCallerIdentity", "kwargs": {}, "action": "sts:GetCallerIdentity",
            "resource": "*", "owner": c.account, "ctx": {}}


def call_server(w, c, req):
    """The server's decision: (decision, error code, message)."""
    client = c.clients.get(req["service"])
    if client is None:
        client = c.clients[req["service"]] = w.client(req["service"], c.creds)
    fn = getattr(client, {"ListObjectsV2": "list_objects_v2"}.get(req["op"]) or
                 "".join("_" + ch.lower() if ch.isupper() else ch for ch in req["op"]).lstrip("_"))
    sent = []
    handler = lambda request, **_: sent.append(request)  # noqa: E731
    client.meta.events.register("before-send", handler)
    try:
        out = fn(**req["kwargs"])
        if "Body" in out:
            out["Body"].read()
        return "allowed", None, None
    except botocore.exceptions.ClientError as e:
        code, msg = e.response["Error"].get("Code"), e.response["Error"].get("Message", "")
        if code in ("AccessDenied", "AccessDeniedException"):
            if " with an explicit deny in " in msg:
                return "explicitDeny", code, msg
            if " because no " in msg:
                return "implicitDeny", code, msg
            return "denied", code, msg
        if code in AFTER_AUTHORIZATION:
            return "allowed", code, msg  # the request was authorized, then failed on its own
        r = sent[-1] if sent else None
        request = r and {"method": r.method, "url": r.url,
                         "headers": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()}}
        return f"error {code}", code, json.dumps({"message": msg, "request": request})
    except botocore.exceptions.BotoCoreError as e:  # no answer at all (connection closed, ...)
        return f"error {type(e).__name__}", None, str(e)
    finally:
        client.meta.events.unregister("before-send", handler)


def simulate_input(w, c, req, now, derive):
    """The scenario as `tessera policy simulate` takes it."""
    owner_label = w.label_of(req["owner"])
    ctx = {
        "aws:SourceIp": ["127.0.0.1"],
        "aws:SecureTransport": ["false"],
        "aws:RequestedRegion": [REGION],
        "aws:CurrentTime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:EpochTime": [str(int(now.timestamp()))],
        "aws:userid": [c.userid],
        "aws:PrincipalIsAWSService": ["false"],
        "aws:ViaAWSService": ["false"],
        "aws:PrincipalOrgID": [w.org_id],
        "aws:PrincipalOrgPaths": [w.org_path[c.label]],
        "aws:ResourceAccount": [req["owner"]],
        "aws:ResourceOrgID": [w.org_id],
        "aws:ResourceOrgPaths": [w.org_path[owner_label]],
    }
    if not derive:
        # Else the simulator derives these from CallerArn (docs/POLICY_ENGINE.md).
        ctx["aws:PrincipalArn"] = [c.principal_arn]
        ctx["aws:PrincipalAccount"] = [c.account]
        ctx["aws:PrincipalType"] = ["User" if c.kind == "user" else "AssumedRole"]
        if c.username:
            ctx["aws:username"] = [c.username]
    for k, v in c.tags.items():
        ctx[f"aws:PrincipalTag/{k}"] = [v]
    if c.kind == "session":
        ctx["aws:MultiFactorAuthPresent"] = ["false"]
        ctx["aws:TokenIssueTime"] = [now.strftime("%Y-%m-%dT%H:%M:%SZ")]
    ctx.update(req["ctx"])
    types = {"aws:SourceIp": "ip", "aws:SecureTransport": "boolean", "aws:CurrentTime": "date",
             "aws:EpochTime": "numeric", "aws:TokenIssueTime": "date", "aws:MultiFactorAuthPresent": "boolean",
             "aws:PrincipalIsAWSService": "boolean", "aws:ViaAWSService": "boolean", "s3:max-keys": "numeric",
             "aws:PrincipalOrgPaths": "stringList", "aws:ResourceOrgPaths": "stringList"}
    inp = {
        "PolicyInputList": c.identity,
        "ActionNames": [req["action"]],
        "ResourceArns": [req["resource"]],
        "ResourceOwner": f"arn:aws:iam::{req['owner']}:root",
        "CallerArn": c.arn,
        "ContextEntries": [{"ContextKeyName": k, "ContextKeyValues": v, "ContextKeyType": types.get(k, "string")}
                           for k, v in ctx.items()],
        "ServiceControlPolicyInputList": w.scp_levels(c.label),
    }
    if req["action"].split(":")[0] in RCP_SERVICES:
        rcps = w.rcp_levels(owner_label)
        if rcps:
            inp["ResourceControlPolicyInputList"] = rcps
    if c.boundary:
        inp["PermissionsBoundaryPolicyInputList"] = [c.boundary]
    if c.session is not None:
        inp["SessionPolicyInputList"] = c.session
    if req["service"] == "s3" and req["bucket"]["policy"]:
        inp["ResourcePolicy"] = req["bucket"]["policy"]
    return inp


def glob_match(pattern, value):
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


def gci_explicitly_denied(inp):
    """Whether a Deny without conditions in the caller's policies or SCPs names
    sts:GetCallerIdentity on `*`: the server must still allow it."""
    docs = inp["PolicyInputList"] + inp.get("PermissionsBoundaryPolicyInputList", []) + \
        inp.get("SessionPolicyInputList", []) + inp["ServiceControlPolicyInputList"]
    for d in docs:
        for s in json.loads(d)["Statement"]:
            res = s.get("Resource", [])
            if s["Effect"] != "Deny" or "Condition" in s or "*" not in (res if isinstance(res, list) else [res]):
                continue
            listed = s.get("Action", s.get("NotAction"))
            listed = listed if isinstance(listed, list) else [listed]
            hit = any(glob_match(a, "sts:GetCallerIdentity") for a in listed)
            if hit == ("Action" in s):
                return True
    return False


def features_of(w, c, req, inp):
    """What a scenario exercises, for the coverage report."""
    f = [f"caller:{c.kind}", f"service:{req['service']}", f"action:{req['action']}"]
    if req["service"] == "s3":
        f.append("s3:cross-account" if req["owner"] != c.account else "s3:same-account")
        f.append(f"bucket-owner:{w.label_of(req['owner'])}")
        pol = req["bucket"]["policy"]
        if pol:
            f.append("bucket-policy")
            for s in json.loads(pol)["Statement"]:
                if "NotPrincipal" in s:
                    f.append("bucket-policy:Deny+NotPrincipal")
                    continue
                p = s["Principal"]
                names = [p] if p == "*" else (p["AWS"] if isinstance(p["AWS"], list) else [p["AWS"]])
                for n in names:
                    kind = ("*" if n == "*" else "account" if n.isdigit() or n.endswith(":root") else
                            "user" if ":user/" in n else "role" if ":role/" in n else
                            "session" if ":assumed-role/" in n else "other")
                    f.append(f"bucket-policy:names-{kind}")
    if c.boundary:
        f.append("boundary")
    if c.session is not None:
        f.append("session-policy:" + "+".join(x for x in c.session_features if x != "tags"))
    if "tags" in c.session_features:
        f.append("session-tags")
    chain = CHAIN[c.label]
    if any(pid != FULL_SCP for lv in chain for pid in w.scp_attached[lv]):
        f.append("scp:custom")
    if any(FULL_SCP not in w.scp_attached[lv] for lv in chain):
        f.append("scp:FullAWSAccess-detached")
    if "ResourceControlPolicyInputList" in inp and any(
            w.rcp_attached[lv] for lv in CHAIN[w.label_of(req["owner"])]):
        f.append("rcp:custom")
    if req["action"] == "sts:GetCallerIdentity" and gci_explicitly_denied(inp):
        f.append("sts:GetCallerIdentity-under-explicit-deny")
    everything = json.dumps([inp["PolicyInputList"], inp.get("PermissionsBoundaryPolicyInputList"),
                             inp.get("SessionPolicyInputList"), inp["ServiceControlPolicyInputList"],
                             inp.get("ResourceControlPolicyInputList"), inp.get("ResourcePolicy")])
    for key in ("aws:username", "aws:PrincipalTag/", "aws:PrincipalAccount", "aws:PrincipalOrgID",
                "aws:PrincipalOrgPaths", "aws:SecureTransport", "aws:SourceIp", "aws:PrincipalType",
                "aws:PrincipalArn", "aws:ResourceAccount", "s3:ResourceAccount", "s3:prefix",
                "aws:MultiFactorAuthPresent", "aws:TokenIssueTime", "aws:userid", "aws:ResourceTag/",
                "iam:ResourceTag/", "iam:PermissionsBoundary", "s3:authType", "aws:CurrentTime"):
        if key in everything:
            f.append(f"condition-key-in-some-policy:{key}")
    return list(dict.fromkeys(f))  # each kind once per scenario


def test_one_decider(fresh_tessera, tmp_path):
    t = fresh_tessera
    rng = random.Random(SEED)
    started = time.monotonic()
    w = World(t, rng)
    per_round = (len(w.users) + len(w.roles) * SESSIONS_PER_ROLE) * REQUESTS_PER_CALLER
    rounds = math.ceil(SCENARIOS / per_round)
    scenarios = []
    for rnd in range(rounds):
        w.neutralize()
        w.assume_admins()
        buckets = {}
        for label, key in (("A", "a1"), ("A", "a2"), ("B", "b1"), ("M", "m1")):
            buckets[key] = {"name": f"dec-r{rnd}-{key}", "label": label,
                            "account": w.mgmt if label == "M" else w.acct[label]}
        gen = Gen(rng, w, buckets)
        w.all_callers = []
        callers = setup_round(w, gen)
        w.apply_org(gen)
        for c in callers:
            for _ in range(REQUESTS_PER_CALLER):
                if len(scenarios) >= SCENARIOS:
                    break
                req = make_request(w, gen, c, buckets)
                decision, code, message = call_server(w, c, req)
                now = datetime.datetime.now(datetime.timezone.utc)
                derive = rng.random() < 0.5
                inp = simulate_input(w, c, req, now, derive)
                scenarios.append({
                    "round": rnd, "caller": c.arn, "op": req["op"],
                    "kwargs": {k: v for k, v in req["kwargs"].items() if k != "Body"},
                    "server": {"decision": decision, "code": code, "message": message},
                    "input": inp,
                    "features": features_of(w, c, req, inp) + (["context:derived-by-simulator"] if derive else []),
                })
    server_done = time.monotonic()

    lines = "".join(json.dumps(s["input"]) + "\n" for s in scenarios)
    proc = subprocess.run([str(BIN), "policy", "simulate", "--jsonl"], input=lines, capture_output=True, text=True,
                          timeout=300)
    outputs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(outputs) == len(scenarios), proc.stderr[-2000:]

    disagreements = []
    coverage = collections.defaultdict(collections.Counter)  # kind -> decision -> count
    decisions = collections.Counter()
    decided_by = collections.Counter()
    for s, out in zip(scenarios, outputs):
        if "Error" in out:
            disagreements.append((s, out, "the simulator refused the input"))
            continue
        r = out["EvaluationResults"][0]
        sim = r["EvalDecision"]
        srv = s["server"]["decision"]
        decisions[sim] += 1
        decided_by[f"{sim} by {r.get('DecidedBy', '-')}"] += 1
        for f in s["features"]:
            coverage[f][sim] += 1
        coverage["all"][sim] += 1
        if sim == "allowed" and r.get("DecidedBy") == "resource-based policy":
            coverage["granted-by-bucket-policy:" + next(f for f in s["features"] if f.startswith("s3:"))][sim] += 1
        if srv == "denied":
            ok = sim != "allowed"
        else:
            ok = srv == sim
        why = None
        if not ok:
            why = f"server {srv} vs simulator {sim}"
        elif srv in ("explicitDeny", "implicitDeny") and not s["server"]["message"].endswith(r.get("DenyReason", "")):
            why = f"same decision ({sim}), other reason: server {s['server']['message']!r} vs simulator " \
                  f"{r.get('DenyReason')!r}"
        if why:
            disagreements.append((s, out, why))
    done = time.monotonic()

    report = {
        "seed": SEED, "scenarios": len(scenarios), "rounds": rounds,
        "seconds": {"server_and_setup": round(server_done - started, 1),
                    "simulator": round(done - server_done, 1)},
        "decisions": dict(decisions), "decided_by": dict(sorted(decided_by.items())),
        "coverage": {k: dict(v, total=sum(v.values())) for k, v in sorted(coverage.items())},
        "disagreements": len(disagreements),
    }
    (tmp_path / "one_decider_report.json").write_text(json.dumps(report, indent=1))
    print("\none decider:", json.dumps(report, indent=1))
    with open(tmp_path / "scenarios.jsonl", "w") as f:
        for s, out in zip(scenarios, outputs):
            f.write(json.dumps({"scenario": s, "simulator": out}) + "\n")
    with open(tmp_path / "disagreements.jsonl", "w") as f:
        for s, out, why in disagreements:
            f.write(json.dumps({"why": why, "scenario": s, "simulator": out}) + "\n")

    if disagreements:
        shown = []
        for s, out, why in disagreements[:5]:
            shown.append(
                f"--- {why}\nround {s['round']}: {s['caller']} {s['op']} {json.dumps(s['kwargs'])}\n"
                f"server: {json.dumps(s['server'])}\n"
                f"simulator: {json.dumps(out['EvaluationResults'][0] if 'EvaluationResults' in out else out)}\n"
                f"simulate input: {json.dumps(s['input'])}")
        raise AssertionError(
            f"{len(disagreements)} of {len(scenarios)} scenarios disagree (seed {SEED}; all of them in "
            f"{tmp_path / 'disagreements.jsonl'}):\n" + "\n".join(shown))

    assert len(scenarios) >= SCENARIOS
    if SCENARIOS < 1000:
        return  # too few for the coverage checks below
    # Every kind of scenario the test claims to cover did occur.
    for needed in ("caller:user", "caller:session", "s3:same-account", "s3:cross-account", "bucket-owner:M",
                   "boundary", "session-policy:inline", "session-policy:arns", "session-policy:inline+arns",
                   "session-tags", "scp:custom", "scp:FullAWSAccess-detached", "rcp:custom", "bucket-policy",
                   "bucket-policy:Deny+NotPrincipal", "bucket-policy:names-user", "bucket-policy:names-role",
                   "bucket-policy:names-session", "bucket-policy:names-account", "bucket-policy:names-*",
                   "service:iam", "service:s3"):
        assert coverage[needed]["allowed"] > 0, f"no scenario of {needed} is allowed"
        assert coverage[needed]["explicitDeny"] + coverage[needed]["implicitDeny"] > 0, f"none of {needed} is denied"
    for needed in ("granted-by-bucket-policy:s3:same-account", "granted-by-bucket-policy:s3:cross-account",
                   "sts:GetCallerIdentity-under-explicit-deny"):
        assert coverage[needed]["allowed"] > 0, f"no scenario covers {needed}"
    # GetCallerIdentity is allowed even under an explicit deny (the comparison above holds it to that).
    assert set(coverage["service:sts"]) == {"allowed"}, coverage["service:sts"]
    for d in ("allowed", "explicitDeny", "implicitDeny"):
        assert decisions[d] >= len(scenarios) // 10, f"too few {d} decisions: {dict(decisions)}"
