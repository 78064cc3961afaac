"""`meridian admin` against the running `meridian dev` cluster.

* `meridian admin account create NAME --output json` prints exactly
  `{"account_id", "access_key_id", "secret_access_key"}` (DESIGN.md), and
  those credentials work with boto3 in every region: GetCallerIdentity says
  `arn:aws:iam::<new account>:user/admin`, and the new administrator can
  use IAM in its own account.
* The new account's administrator holds AdministratorAccess over its own
  account only: the cluster's Admin API refuses it (AccessDenied), as it
  refuses a wrong secret (SignatureDoesNotMatch).

Fixture for other tests: `second_account` (session-scoped) is a second
account created this way. `meridian_admin` (conftest.py) runs the CLI with
the dev administrator's credentials.
"""

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError


#: How long a new account may take to reach the other regions (replication).
REPLICATION_WAIT = 10


@pytest.fixture(scope="session")
def second_account(meridian_admin) -> dict:
    """A second account made by `meridian admin account create`: the
    printed {account_id, access_key_id, secret_access_key} of its `admin`."""
    name = "compat-" + uuid.uuid4().hex[:8]
    done = meridian_admin("account", "create", name, "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _keys(account: dict) -> dict:
    return {
        "access_key_id": account["access_key_id"],
        "secret_access_key": account["secret_access_key"],
    }


def _wait_for_identity(sts_client, node, credentials):
    deadline = time.monotonic() + REPLICATION_WAIT
    while True:
        try:
            return sts_client(node, **_keys(credentials)).get_caller_identity()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code != "InvalidClientTokenId" or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_account_create_prints_exactly_the_contract(second_account, admin):
    assert set(second_account) == {"account_id", "access_key_id", "secret_access_key"}
    assert len(second_account["account_id"]) == 12 and second_account["account_id"].isdigit()
    assert second_account["account_id"] != admin["account_id"]
    assert second_account["access_key_id"].startswith("AKIA")
    assert len(second_account["secret_access_key"]) == 40


def test_new_administrator_works_with_boto3_in_every_region(second_account, nodes, sts_client, iam_client):
    for node in nodes:
        identity = _wait_for_identity(sts_client, node, second_account)
        assert identity["Account"] == second_account["account_id"]
        assert identity["Arn"] == f"arn:aws:iam::{second_account['account_id']}:user/admin"
    iam = iam_client(nodes[0], **_keys(second_account))
    role = "compat-admin-" + uuid.uuid4().hex[:8]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{second_account['account_id']}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    assert created["Role"]["Arn"] == f"arn:aws:iam::{second_account['account_id']}:role/{role}"
    iam.delete_role(RoleName=role)


def test_cluster_administration_is_refused_to_a_tenant_administrator(second_account, meridian_admin):
    done = meridian_admin("status", credentials=second_account)
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr
    assert "operator account" in done.stderr


def test_a_wrong_secret_is_refused(second_account, meridian_admin):
    forged = dict(second_account, secret_access_key="x" * 40)
    done = meridian_admin("status", credentials=forged)
    assert done.returncode != 0
    assert "SignatureDoesNotMatch" in done.stderr


def test_status_and_accounts_as_the_operator(meridian_admin, second_account, nodes):
    status = meridian_admin("status", "--output", "json")
    assert status.returncode == 0, status.stderr
    parsed = json.loads(status.stdout)
    assert {member["node_id"] for member in parsed["members"]} == {node["id"] for node in nodes}
    assert any(key["state"] == "active" for key in parsed["keys"])
    listed = meridian_admin("account", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    accounts = {a["account_id"]: a for a in json.loads(listed.stdout)["accounts"]}
    assert second_account["account_id"] in accounts
    assert not accounts[second_account["account_id"]]["operator"]
