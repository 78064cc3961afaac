"""GetCallerIdentity as the bootstrapped administrator, in every region,
through the aws CLI (as a user does after sourcing env.sh) and boto3; and
the two most basic refusals of SigV4 (unknown key, wrong secret)."""

import json
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import clean_environment


def admin_arn(admin):
    return f"arn:aws:iam::{admin['account_id']}:user/admin"


def test_env_sh_then_aws_sts_get_caller_identity(cluster, admin):
    """The README's promise, verbatim: `. env.sh && aws sts get-caller-identity`."""
    env_file = Path(cluster["data_dir"]) / "env.sh"
    result = subprocess.run(
        ["bash", "-c", f". '{env_file}' && aws sts get-caller-identity --output json"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["Account"] == admin["account_id"]
    assert identity["Arn"] == admin_arn(admin)


def test_aws_cli_in_every_region(aws_cli, nodes, admin):
    for node in nodes:
        result = aws_cli(
            "sts",
            "get-caller-identity",
            "--output",
            "json",
            env={
                "AWS_REGION": node["region"],
                "AWS_DEFAULT_REGION": node["region"],
                "AWS_ENDPOINT_URL_STS": node["http"],
            },
        )
        assert result.returncode == 0, f"{node['region']}: {result.stderr}"
        identity = json.loads(result.stdout)
        assert identity["Account"] == admin["account_id"], node["region"]
        assert identity["Arn"] == admin_arn(admin), node["region"]
        assert identity["UserId"].startswith("AIDA"), identity


def test_boto3_in_every_region(sts_client, nodes, admin):
    user_ids = set()
    for node in nodes:
        identity = sts_client(node).get_caller_identity()
        assert identity["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert identity["Account"] == admin["account_id"], node["region"]
        assert identity["Arn"] == admin_arn(admin), node["region"]
        user_ids.add(identity["UserId"])
    # One user, replicated: the same unique id everywhere.
    assert len(user_ids) == 1, user_ids


@pytest.mark.parametrize(
    "change, code",
    [
        ("secret", "SignatureDoesNotMatch"),
        ("key", "InvalidClientTokenId"),
    ],
)
def test_bad_credentials_are_refused_everywhere(sts_client, nodes, admin, change, code):
    access_key_id = admin["access_key_id"]
    secret = admin["secret_access_key"]
    if change == "secret":
        secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    else:
        access_key_id = access_key_id[:-4] + ("AAAA" if not access_key_id.endswith("AAAA") else "BBBB")
    for node in nodes:
        client = sts_client(node, access_key_id=access_key_id, secret_access_key=secret)
        with pytest.raises(ClientError) as refused:
            client.get_caller_identity()
        error = refused.value.response
        assert error["Error"]["Code"] == code, (node["region"], error)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, (node["region"], error)
