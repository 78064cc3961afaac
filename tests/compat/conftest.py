"""Fixtures of the compatibility suite: the running `meridian dev` cluster
(from the cluster.json that MERIDIAN_CLUSTER names), its administrator's
credentials, boto3 clients per region, the aws CLI with env.sh's
environment, and a raw HTTP helper for requests no SDK would send.

Every client is isolated from the machine's own AWS configuration: no
shared config or credentials file, no instance metadata, no retries (a
retry would hide an error the test means to see)."""

import http.client
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

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


def client_config() -> Config:
    return Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=REQUEST_TIMEOUT,
        read_timeout=REQUEST_TIMEOUT,
    )


@pytest.fixture(scope="session")
def sts_client(admin):
    """sts_client(node, **credentials) → a boto3 STS client for that node's
    region and endpoint (the administrator's credentials by default)."""

    def make(node, access_key_id=None, secret_access_key=None, session_token=None):
        return boto3.session.Session().client(
            "sts",
            region_name=node["region"],
            endpoint_url=node["http"],
            aws_access_key_id=access_key_id or admin["access_key_id"],
            aws_secret_access_key=secret_access_key or admin["secret_access_key"],
            aws_session_token=session_token,
            config=client_config(),
        )

    return make


@pytest.fixture(scope="session")
def iam_client(admin):
    """iam_client(node, **credentials) → a boto3 IAM client for that node."""

    def make(node, access_key_id=None, secret_access_key=None, session_token=None):
        return boto3.session.Session().client(
            "iam",
            region_name=node["region"],
            endpoint_url=node["http"],
            aws_access_key_id=access_key_id or admin["access_key_id"],
            aws_secret_access_key=secret_access_key or admin["secret_access_key"],
            aws_session_token=session_token,
            config=client_config(),
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
