"""Policy evaluation as clients see it: session tags in `aws:PrincipalTag`
conditions of identity and trust policies, user tags as principal tags, and
the console's revoke-older-sessions (an inline Deny named
`AWSRevokeOlderSessions` with `DateLessThan aws:TokenIssueTime`) enforced in
every region once replicated."""

import datetime
import json
import time

from conftest import (
    ALLOW_ALL,
    REPLICATION_WAIT,
    allow,
    credentials_of,
    eventually,
    expect_error,
    policy,
    trust_policy,
)


def team_only(team: str) -> str:
    """Allows iam:ListUsers to principals tagged team=<team>."""
    return policy(
        allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": team}})
    )


def test_session_tags_in_identity_policy_conditions(sts_client, iam_client, nodes, make_role):
    role = make_role(policy_document=team_only("blue"))
    sts = sts_client(nodes[0])
    for team, allowed in (("blue", True), ("red", False)):
        session = sts.assume_role(
            RoleArn=role, RoleSessionName=f"team-{team}", Tags=[{"Key": "team", "Value": team}]
        )
        # The session works the same in every region (once the role's
        # policy has replicated there).
        for node in nodes:
            client = iam_client(node, **credentials_of(session))
            if allowed:
                eventually(client.list_users)
            else:
                message = expect_error(client.list_users, 403, "AccessDenied")
                assert "because no identity-based policy allows the iam:ListUsers action" in message
    # Without the tag: no match.
    untagged = sts.assume_role(RoleArn=role, RoleSessionName="untagged")
    expect_error(iam_client(nodes[0], **credentials_of(untagged)).list_users, 403, "AccessDenied")


def test_user_tags_are_principal_tags(iam_client, nodes, make_user):
    _, blue = make_user(team_only("blue"), tags=[{"Key": "team", "Value": "blue"}])
    _, red = make_user(team_only("blue"), tags=[{"Key": "team", "Value": "red"}])
    iam_client(nodes[0], **blue).list_users()
    expect_error(iam_client(nodes[0], **red).list_users, 403, "AccessDenied")


def test_session_tags_in_trust_policy_conditions(sts_client, nodes, make_role, account_id):
    """A role whose trust requires the caller's session to carry team=blue:
    chained AssumeRole succeeds from a blue session only."""
    entry = make_role(policy_document=ALLOW_ALL)
    guarded = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
            }
        )
    )
    sts = sts_client(nodes[0])
    blue = sts.assume_role(
        RoleArn=entry, RoleSessionName="blue", Tags=[{"Key": "team", "Value": "blue"}],
        TransitiveTagKeys=["team"],
    )
    red = sts.assume_role(
        RoleArn=entry, RoleSessionName="red", Tags=[{"Key": "team", "Value": "red"}]
    )
    for node in nodes:
        chained = eventually(
            lambda: sts_client(node, **credentials_of(blue)).assume_role(
                RoleArn=guarded, RoleSessionName="from-blue"
            )
        )
        assert chained["AssumedRoleUser"]["Arn"].endswith("/from-blue")
        message = expect_error(
            lambda: sts_client(node, **credentials_of(red)).assume_role(
                RoleArn=guarded, RoleSessionName="from-red"
            ),
            403,
            "AccessDenied",
        )
        assert f"sts:AssumeRole on resource: {guarded}" in message, message


def revoke_older_sessions(iam, role_name: str, before: datetime.datetime):
    """What the IAM console's "Revoke active sessions" writes."""
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": ["*"],
                        "Condition": {
                            "DateLessThan": {
                                "aws:TokenIssueTime": before.strftime("%Y-%m-%dT%H:%M:%SZ")
                            }
                        },
                    }
                ],
            }
        ),
    )


def test_revoke_older_sessions_in_every_region(sts_client, iam_client, admin_iam, nodes, make_role):
    role = make_role(policy_document=policy(allow("iam:ListRoles")))
    role_name = role.rsplit("/", 1)[1]
    # One session minted in each region before the revocation.
    old = {
        node["region"]: credentials_of(
            eventually(
                lambda: sts_client(node).assume_role(
                    RoleArn=role, RoleSessionName=f"old-{node['region']}"
                )
            )
        )
        for node in nodes
    }
    for node in nodes:
        for credentials in old.values():
            eventually(iam_client(node, **credentials).list_roles)

    # Whole seconds, as the console writes them: every old session was issued
    # before the cut-off, and a session minted after it is not.
    cutoff = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(
        seconds=1
    )
    time.sleep(max(0.0, (cutoff - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 0.05)
    revoke_older_sessions(admin_iam, role_name, cutoff)

    started = time.monotonic()
    for node in nodes:
        for minted_in, credentials in old.items():
            message = eventually(
                lambda: expect_error(iam_client(node, **credentials).list_roles, 403, "AccessDenied")
            )
            assert "with an explicit deny in an identity-based policy" in message, (
                node["region"],
                minted_in,
                message,
            )
    assert time.monotonic() - started < REPLICATION_WAIT * len(nodes)
    # A revoked session cannot chain into a new one either.
    expect_error(
        lambda: sts_client(nodes[0], **old[nodes[0]["region"]]).assume_role(
            RoleArn=role, RoleSessionName="escape"
        ),
        403,
        "AccessDenied",
    )

    # New sessions are unaffected, in every region.
    for node in nodes:
        fresh = eventually(
            lambda: sts_client(node).assume_role(RoleArn=role, RoleSessionName="fresh")
        )
        iam_client(node, **credentials_of(fresh)).list_roles()
