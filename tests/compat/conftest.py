"""Fixtures of the compatibility suite: the running `meridian dev` cluster
(from the cluster.json that MERIDIAN_CLUSTER names), its administrator's
credentials, boto3 clients per region, the aws CLI with env.sh's
environment, `meridian admin` with the administrator's credentials, and a
raw HTTP helper for requests no SDK would send.

Every client is isolated from the machine's own AWS configuration: no
shared config or credentials file, no instance metadata, no retries (a
retry would hide an error the test means to see)."""

import functools
import http.client
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import botocore.auth
import botocore.credentials
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

#: How long one request may take before the test fails (seconds).
REQUEST_TIMEOUT = 10


def _cluster_file() -> Path:
    path = os.environ.get("MERIDIAN_CLUSTER")
    if not path:
        pytest.exit("MERIDIAN_CLUSTER is not set: run the suite with tests/compat/run.sh", 2)
    return Path(path)


@pytest.fixture(scope="session")
def cluster() -> dict:
    """cluster.json, parsed."""
    return json.loads(_cluster_file().read_text())


@pytest.fixture(scope="session")
def admin(cluster) -> dict:
    """The bootstrapped administrator: account_id, access_key_id, secret_access_key."""
    return cluster["admin"]


@pytest.fixture(scope="session")
def nodes(cluster) -> list:
    """Every node, each with its region and URLs, in id order."""
    return [node for region in cluster["regions"] for node in region["nodes"]]


@pytest.fixture(scope="session")
def env_sh(cluster) -> dict:
    """The variables env.sh exports (parsed, not executed)."""
    path = Path(cluster["data_dir"]) / "env.sh"
    exported = {}
    for line in path.read_text().splitlines():
        if not line.startswith("export "):
            continue
        name, _, value = line[len("export "):].partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        exported[name] = value
    return exported


def client_config(validate=True) -> Config:
    """No retries, bounded time; `validate=False` turns botocore's own
    parameter checks off so that the server's answer to bad input is seen."""
    return Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=REQUEST_TIMEOUT,
        read_timeout=REQUEST_TIMEOUT,
        parameter_validation=validate,
    )


#: One boto3 session for every client: creating a session loads botocore's
#: models again (a few hundred milliseconds), a client from a warm session
#: does not.
_BOTO3 = None


@functools.lru_cache(maxsize=512)
def cached_client(service, region, endpoint, access_key_id, secret_access_key, session_token, validate):
    """A client per (service, node, credentials, validation); clients are
    reused across tests (they hold no state a test could change)."""
    global _BOTO3
    if _BOTO3 is None:
        _BOTO3 = boto3.session.Session()
    return _BOTO3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        config=client_config(validate),
    )


@pytest.fixture(scope="session")
def sts_client(admin):
    """sts_client(node, **credentials, validate=True) → a boto3 STS client for
    that node's region and endpoint (the administrator's credentials by
    default); pass a credentials dict with **."""

    def make(
        node, access_key_id=None, secret_access_key=None, session_token=None, validate=True
    ):
        return cached_client(
            "sts",
            node["region"],
            node["http"],
            access_key_id or admin["access_key_id"],
            secret_access_key or admin["secret_access_key"],
            session_token,
            validate,
        )

    return make


@pytest.fixture(scope="session")
def iam_client(admin):
    """iam_client(node, **credentials) → a boto3 IAM client for that node."""

    def make(
        node, access_key_id=None, secret_access_key=None, session_token=None, validate=True
    ):
        return cached_client(
            "iam",
            node["region"],
            node["http"],
            access_key_id or admin["access_key_id"],
            secret_access_key or admin["secret_access_key"],
            session_token,
            validate,
        )

    return make


def clean_environment() -> dict:
    """The process environment without any AWS setting of the machine's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_MAX_ATTEMPTS"] = "1"
    return env


def _meridian_bin() -> str:
    path = os.environ.get("MERIDIAN_BIN")
    if not path:
        pytest.exit("MERIDIAN_BIN is not set: run the suite with tests/compat/run.sh", 2)
    return path


@pytest.fixture(scope="session")
def meridian_admin():
    """meridian_admin(*args, credentials=None) → CompletedProcess of
    `meridian admin --cluster … ARGS` (the dev administrator's credentials
    from cluster.json unless a credentials dict is given)."""
    cluster_file = os.environ["MERIDIAN_CLUSTER"]

    def run(*args, credentials=None):
        env = clean_environment()
        if credentials:
            env["AWS_ACCESS_KEY_ID"] = credentials["access_key_id"]
            env["AWS_SECRET_ACCESS_KEY"] = credentials["secret_access_key"]
        return subprocess.run(
            [_meridian_bin(), "admin", "--cluster", cluster_file, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def aws_cli(env_sh):
    """aws_cli(*args, env=overrides) → CompletedProcess of the aws CLI run with
    env.sh's variables (as after `. env.sh`), plus `overrides`."""
    executable = shutil.which("aws")
    if executable is None:
        pytest.exit("the aws CLI is not on PATH: run the suite with tests/compat/run.sh", 2)

    def run(*args, env=None):
        environment = clean_environment()
        environment.update(env_sh)
        environment.update(env or {})
        return subprocess.run(
            [executable, *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


#: How long a configuration write may take to reach every region on loopback.
REPLICATION_WAIT = 10


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses: tests are independent."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(raised) -> tuple:
    """(HTTP status, code, message) of a botocore ClientError."""
    response = raised.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
    )


def expect_error(call, status: int, code: str) -> str:
    """Runs `call`, which must fail with `status` and `code`; returns the
    message. A mismatch is an AssertionError, so `eventually` retries it."""
    try:
        answer = call()
    except ClientError as raised:
        got = error_of(raised)
        assert got[:2] == (status, code), got
        return got[2]
    raise AssertionError(f"expected {status} {code}, got a success: {answer}")


def eventually(action, timeout=REPLICATION_WAIT, retry_on=(ClientError, AssertionError)):
    """Runs `action` until it returns without raising `retry_on`, for at most
    `timeout` seconds (then the last failure propagates)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except retry_on:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def trust_policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    statement.update(extra)
    return statement


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = policy(allow("*"))


def credentials_of(response: dict) -> dict:
    """access_key_id/secret_access_key/session_token from an STS answer."""
    credentials = response["Credentials"]
    return {
        "access_key_id": credentials["AccessKeyId"],
        "secret_access_key": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }


class Cleanup:
    """Undo actions registered by a test, run last-first when it ends, each
    bounded by the clients' own timeouts; failures are collected and reported
    after every action ran."""

    def __init__(self):
        self._actions = []

    def add(self, action, *args, **kwargs):
        self._actions.append((action, args, kwargs))

    def run(self):
        failures = []
        while self._actions:
            action, args, kwargs = self._actions.pop()
            try:
                action(*args, **kwargs)
            except ClientError as error:
                if error_of(error)[1] != "NoSuchEntity":
                    failures.append(f"{getattr(action, '__name__', action)}: {error}")
        return failures


@pytest.fixture
def cleanup():
    """Register undo actions with cleanup.add(fn, *args); they run after the test."""
    registry = Cleanup()
    yield registry
    failures = registry.run()
    assert not failures, failures


@pytest.fixture(scope="session")
def admin_iam(iam_client, nodes):
    """The administrator's IAM client on the first node."""
    return iam_client(nodes[0])


@pytest.fixture(scope="session")
def account_id(admin) -> str:
    return admin["account_id"]


@pytest.fixture
def make_user(admin_iam, cleanup):
    """make_user(policy=None, name=None, tags=None) → (name, credentials dict):
    a user with an access key and, optionally, an inline policy, deleted after
    the test."""

    def make(policy_document=None, name=None, tags=None, prefix="user"):
        name = name or unique(prefix)
        admin_iam.create_user(UserName=name, Tags=tags or [])
        cleanup.add(delete_user, admin_iam, name)
        if policy_document:
            admin_iam.put_user_policy(
                UserName=name, PolicyName="inline", PolicyDocument=policy_document
            )
        key = admin_iam.create_access_key(UserName=name)["AccessKey"]
        return name, {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
        }

    return make


@pytest.fixture
def make_role(admin_iam, cleanup, account_id):
    """make_role(trust=None, policy=None, name=None, **create_args) → role ARN.
    The default trust lets every principal of the account assume it."""

    def make(trust=None, policy_document=None, name=None, prefix="role", **create_args):
        name = name or unique(prefix)
        trust = trust or trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            }
        )
        arn = admin_iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust, **create_args
        )["Role"]["Arn"]
        cleanup.add(delete_role, admin_iam, name)
        if policy_document:
            admin_iam.put_role_policy(
                RoleName=name, PolicyName="inline", PolicyDocument=policy_document
            )
        return arn

    return make


def delete_user(iam, name):
    """Deletes a user and everything attached to it."""
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy_name)
    for attached in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
    user = iam.get_user(UserName=name)["User"]
    if "PermissionsBoundary" in user:
        iam.delete_user_permissions_boundary(UserName=name)
    iam.delete_user(UserName=name)


def delete_role(iam, name):
    """Deletes a role and everything attached to it."""
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    role = iam.get_role(RoleName=name)["Role"]
    if "PermissionsBoundary" in role:
        iam.delete_role_permissions_boundary(RoleName=name)
    iam.delete_role(RoleName=name)


def raw_request(node, method, path, body=b"", headers=None):
    """One HTTP request to a node with nothing added: (status, headers, body)."""
    host = node["http"].removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed_post(node, admin, body: str, service="sts"):
    """A botocore-signed form POST of exactly `body` (which may repeat a
    parameter), sent as is: (status, error code or None, body)."""
    request = AWSRequest(
        method="POST",
        url=node["http"] + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = botocore.credentials.Credentials(admin["access_key_id"], admin["secret_access_key"])
    botocore.auth.SigV4Auth(credentials, service, node["region"]).add_auth(request)
    prepared = request.prepare()
    path = prepared.url.split(node["http"], 1)[1] or "/"
    status, _, answer = raw_request(node, "POST", path, body=prepared.body, headers=dict(prepared.headers))
    code = re.search(rb"<Code>([^<]*)</Code>", answer)
    return status, code.group(1).decode() if code else None, answer
