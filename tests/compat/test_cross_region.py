"""Local issuance, global verification across the cluster's regions: a role
created through IAM in the first region is assumable in every region once
replicated, and credentials minted in one region work in all the others."""

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

#: How long a write may take to reach another region on loopback.
REPLICATION_WAIT = 10


def eventually(action, what):
    """Retries `action` while it raises ClientError or AssertionError, for at
    most REPLICATION_WAIT s."""
    deadline = time.monotonic() + REPLICATION_WAIT
    while True:
        try:
            return action()
        except (ClientError, AssertionError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def role_arn(iam_client, nodes, admin):
    """A role the administrator's account may assume, created in the first region."""
    name = f"compat-{uuid.uuid4().hex[:12]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{admin['account_id']}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = iam_client(nodes[0])
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    # Read-your-writes on the node that answered.
    assert iam.get_role(RoleName=name)["Role"]["Arn"] == created["Role"]["Arn"]
    yield created["Role"]["Arn"]
    iam.delete_role(RoleName=name)


def test_role_created_in_one_region_is_assumable_in_every_region(sts_client, nodes, role_arn):
    for node in nodes:
        assumed = eventually(
            lambda: sts_client(node).assume_role(RoleArn=role_arn, RoleSessionName=node["region"]),
            f"AssumeRole in {node['region']}",
        )
        assert assumed["AssumedRoleUser"]["Arn"].endswith(f"/{node['region']}"), assumed
        assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_credentials_minted_in_one_region_work_in_all(sts_client, nodes, role_arn):
    minted_in = nodes[-1]
    credentials = eventually(
        lambda: sts_client(minted_in).assume_role(RoleArn=role_arn, RoleSessionName="everywhere"),
        "AssumeRole",
    )["Credentials"]
    for node in nodes:
        client = sts_client(
            node,
            access_key_id=credentials["AccessKeyId"],
            secret_access_key=credentials["SecretAccessKey"],
            session_token=credentials["SessionToken"],
        )
        identity = client.get_caller_identity()
        assert identity["Arn"].endswith(":assumed-role/" + role_arn.rsplit("/", 1)[1] + "/everywhere"), (
            node["region"],
            identity,
        )


def test_cli_credentials_minted_in_each_region_work_in_the_others(aws_cli, nodes, role_arn):
    """`aws sts assume-role` against each region's endpoint
    (AWS_ENDPOINT_URL_STS), then `aws sts get-caller-identity` with those
    credentials against every other region's endpoint."""

    def region_env(node):
        return {
            "AWS_REGION": node["region"],
            "AWS_DEFAULT_REGION": node["region"],
            "AWS_ENDPOINT_URL_STS": node["http"],
        }

    role_name = role_arn.rsplit("/", 1)[1]
    for minted_in in nodes:
        session = f"cli-{minted_in['region']}"

        def assume():
            result = aws_cli(
                "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", session,
                "--output", "json", env=region_env(minted_in),
            )
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)["Credentials"]

        credentials = eventually(assume, "assume-role")
        for used_in in nodes:
            if used_in is minted_in:
                continue
            env = region_env(used_in)
            env.update(
                {
                    "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": credentials["SessionToken"],
                }
            )
            result = aws_cli("sts", "get-caller-identity", "--output", "json", env=env)
            assert result.returncode == 0, (minted_in["region"], used_in["region"], result.stderr)
            identity = json.loads(result.stdout)
            assert identity["Arn"].endswith(f":assumed-role/{role_name}/{session}"), identity
