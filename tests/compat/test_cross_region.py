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
    """Retries `action` while it raises ClientError, for at most REPLICATION_WAIT s."""
    deadline = time.monotonic() + REPLICATION_WAIT
    while True:
        try:
            return action()
        except ClientError:
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
