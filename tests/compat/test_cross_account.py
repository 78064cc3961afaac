"""A second account and a cross-account role, end to end.

The second account comes from `meridian admin account create NAME --output
json`, whose output is the design's contract: `{"account_id",
"access_key_id", "secret_access_key"}` for the new account's administrator.
That command needs the authenticated Admin gRPC API (issue 7); while the
binary under test answers that it is not part of the build, every test here
is skipped with that reason (and `-ra` prints it), and runs as soon as the
command works. Any other failure of the command fails the tests.

What is proven once it runs: the new administrator's key works in every
region; a role of account B trusting account A is assumable by A's
principals whose own policies allow it (and only them, cross-account needs
both sides), with B's account in the session; `sts:ExternalId` guards it;
the session acts in B only; and neither account's IAM reaches the other's
entities."""

import json
import os
import subprocess

import pytest

from conftest import (
    ALLOW_ALL,
    allow,
    credentials_of,
    eventually,
    expect_error,
    policy,
    trust_policy,
    unique,
)

#: What `meridian admin account create` prints while the Admin API is missing.
NOT_BUILT = "is not part of this build yet"


@pytest.fixture(scope="module")
def second_account(cluster):
    """{"account_id", "access_key_id", "secret_access_key"} of a new account's
    administrator."""
    executable = os.environ.get("MERIDIAN_EXECUTABLE")
    if not executable:
        pytest.exit("MERIDIAN_EXECUTABLE is not set: run the suite with tests/compat/run.sh", 2)
    cluster_file = os.environ["MERIDIAN_CLUSTER"]
    name = unique("tenant")
    result = subprocess.run(
        [executable, "admin", "account", "create", name, "--cluster", cluster_file, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and NOT_BUILT in result.stderr:
        pytest.skip(f"`meridian admin account create` is not available yet (issue 7): {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) >= {"account_id", "access_key_id", "secret_access_key"}, created
    assert len(created["account_id"]) == 12 and created["account_id"].isdigit(), created
    assert created["account_id"] != cluster["admin"]["account_id"]
    assert created["access_key_id"].startswith("AKIA"), created
    return created


def keys(account) -> dict:
    return {
        "access_key_id": account["access_key_id"],
        "secret_access_key": account["secret_access_key"],
    }


def test_new_account_administrator_works_everywhere(second_account, sts_client, nodes):
    for node in nodes:
        identity = eventually(lambda: sts_client(node, **keys(second_account)).get_caller_identity())
        assert identity["Account"] == second_account["account_id"], node["region"]
        assert identity["Arn"].startswith(f"arn:aws:iam::{second_account['account_id']}:"), identity


def test_cross_account_role(second_account, sts_client, iam_client, nodes, admin, make_user, cleanup):
    a = admin["account_id"]
    b = second_account["account_id"]
    b_iam = iam_client(nodes[0], **keys(second_account))
    name = unique("cross")
    role_arn = b_iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "tenant-a"}},
            }
        ),
    )["Role"]["Arn"]
    cleanup.add(b_iam.delete_role, RoleName=name)
    b_iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=policy(allow("iam:ListRoles")))
    cleanup.add(b_iam.delete_role_policy, RoleName=name, PolicyName="list")
    assert role_arn == f"arn:aws:iam::{b}:role/{name}"

    # A's administrator (allowed sts:AssumeRole by its own policy), with the
    # external id, in every region once the role has replicated.
    for node in nodes:
        assumed = eventually(
            lambda: sts_client(node).assume_role(
                RoleArn=role_arn, RoleSessionName="from-a", ExternalId="tenant-a"
            )
        )
        assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{b}:assumed-role/{name}/from-a"
        session = credentials_of(assumed)
        identity = sts_client(node, **session).get_caller_identity()
        assert identity["Account"] == b, identity
        # The session acts in B: it lists B's roles.
        roles = [r["RoleName"] for r in iam_client(node, **session).list_roles()["Roles"]]
        assert name in roles, roles
    expect_error(
        lambda: sts_client(nodes[0]).assume_role(RoleArn=role_arn, RoleSessionName="no-ext"),
        403,
        "AccessDenied",
    )
    # A principal of A whose own policies do not allow sts:AssumeRole: the
    # trust alone is not enough across accounts.
    _, nobody = make_user()
    expect_error(
        lambda: sts_client(nodes[0], **nobody).assume_role(
            RoleArn=role_arn, RoleSessionName="nobody", ExternalId="tenant-a"
        ),
        403,
        "AccessDenied",
    )
    # With an Allow of its own it may.
    _, allowed = make_user(policy(allow("sts:AssumeRole", role_arn)))
    sts_client(nodes[0], **allowed).assume_role(
        RoleArn=role_arn, RoleSessionName="allowed", ExternalId="tenant-a"
    )


def test_accounts_do_not_reach_each_other(second_account, iam_client, admin_iam, nodes, cleanup):
    b_iam = iam_client(nodes[0], **keys(second_account))
    name = unique("private")
    arn = admin_iam.create_policy(PolicyName=name, PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
    cleanup.add(admin_iam.delete_policy, PolicyArn=arn)
    # B's administrator cannot read or change A's policy, nor see A's users.
    message = expect_error(lambda: b_iam.get_policy(PolicyArn=arn), 403, "AccessDenied")
    assert "because no resource-based policy allows the iam:GetPolicy action" in message, message
    expect_error(lambda: b_iam.delete_policy(PolicyArn=arn), 403, "AccessDenied")
    expect_error(lambda: b_iam.get_user(UserName="admin-of-nobody"), 404, "NoSuchEntity")
    users = [u["Arn"] for u in b_iam.list_users()["Users"]]
    assert all(f":{second_account['account_id']}:" in u for u in users), users
