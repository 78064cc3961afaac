"""Every STS operation Meridian serves, through boto3 as users call it:
happy paths and the main errors, with AWS's codes, HTTP statuses and (where
AWS's text is known, STS-API.md §1.5) messages.

Clients with `validate=False` skip botocore's own min-length checks so that
the server's answer to out-of-range input is what the test sees."""

import base64
import datetime
import json

import pytest

from conftest import (
    ALLOW_ALL,
    allow,
    credentials_of,
    error_of,
    expect_error,
    policy,
    trust_policy,
    unique,
)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def lifetime(credentials) -> float:
    """Seconds from now until the credentials expire."""
    return (credentials["Expiration"] - now_utc()).total_seconds()


@pytest.fixture
def node(nodes):
    return nodes[0]


@pytest.fixture
def sts(sts_client, node):
    """The administrator's STS client."""
    return sts_client(node)


# ---------------------------------------------------------------------------
# GetCallerIdentity and GetAccessKeyInfo


def test_get_caller_identity_for_every_principal_kind(
    sts_client, node, make_user, make_role, account_id
):
    name, user = make_user(ALLOW_ALL)
    user_sts = sts_client(node, **user)
    me = user_sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{account_id}:user/{name}"
    assert me["UserId"].startswith("AIDA") and len(me["UserId"]) == 21, me
    assert me["Account"] == account_id

    role_arn = make_role()
    role_name = role_arn.rsplit("/", 1)[1]
    assumed = user_sts.assume_role(RoleArn=role_arn, RoleSessionName="who-am-i")
    session = sts_client(node, **credentials_of(assumed))
    me = session.get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{account_id}:assumed-role/{role_name}/who-am-i"
    assert me["Arn"] == assumed["AssumedRoleUser"]["Arn"]
    assert me["UserId"] == assumed["AssumedRoleUser"]["AssumedRoleId"]
    assert me["UserId"].startswith("AROA") and me["UserId"].endswith(":who-am-i"), me

    gst = sts_client(node, **credentials_of(user_sts.get_session_token()))
    me = gst.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{account_id}:user/{name}", me

    federated = user_sts.get_federation_token(Name="fed-user", Policy=ALLOW_ALL)
    me = sts_client(node, **credentials_of(federated)).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{account_id}:federated-user/fed-user"
    assert me["UserId"] == f"{account_id}:fed-user"


def test_get_caller_identity_is_never_denied(sts_client, node, make_user):
    # An explicit deny of everything does not deny GetCallerIdentity.
    _, user = make_user(policy({"Effect": "Deny", "Action": "*", "Resource": "*"}))
    identity = sts_client(node, **user).get_caller_identity()
    assert identity["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_access_key_info(sts, sts_client, nodes, make_user, make_role, account_id):
    _, user = make_user(ALLOW_ALL)
    temporary = sts.assume_role(RoleArn=make_role(), RoleSessionName="info")
    for key_id in (user["access_key_id"], temporary["Credentials"]["AccessKeyId"]):
        # From the key id alone, in every region.
        for node in nodes:
            answer = sts_client(node).get_access_key_info(AccessKeyId=key_id)
            assert answer["Account"] == account_id, (node["region"], key_id)
    # A key nobody issued still decodes to the account its id encodes.
    assert sts.get_access_key_info(AccessKeyId="AKIARZPUZDIKGB2VALC4")["Account"] == "123456789012"
    # Not policy-free: a user without permission is refused.
    _, nobody = make_user()
    expect_error(
        lambda: sts_client(nodes[0], **nobody).get_access_key_info(
            AccessKeyId=user["access_key_id"]
        ),
        403,
        "AccessDenied",
    )


# ---------------------------------------------------------------------------
# AssumeRole


def test_assume_role_durations(sts, sts_client, node, make_role, make_user):
    default = sts.assume_role(RoleArn=make_role(), RoleSessionName="default")
    assert 3590 <= lifetime(default["Credentials"]) <= 3600, default["Credentials"]
    assert default["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert len(default["Credentials"]["SecretAccessKey"]) == 40
    assert "PackedPolicySize" not in default

    short = sts.assume_role(RoleArn=make_role(), RoleSessionName="short", DurationSeconds=900)
    assert 890 <= lifetime(short["Credentials"]) <= 900

    long_role = make_role(MaxSessionDuration=7200)
    long = sts.assume_role(RoleArn=long_role, RoleSessionName="long", DurationSeconds=7200)
    assert 7190 <= lifetime(long["Credentials"]) <= 7200
    message = expect_error(
        lambda: sts.assume_role(RoleArn=long_role, RoleSessionName="l-session", DurationSeconds=7201),
        400,
        "ValidationError",
    )
    assert message == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )

    unchecked = sts_client(node, validate=False)
    for seconds, phrase in [
        (899, "Member must have value greater than or equal to 900"),
        (43201, "Member must have value less than or equal to 43200"),
    ]:
        message = expect_error(
            lambda: unchecked.assume_role(
                RoleArn=long_role, RoleSessionName="bounds", DurationSeconds=seconds
            ),
            400,
            "ValidationError",
        )
        assert "durationSeconds" in message and phrase in message, message


def test_role_chaining_is_capped_at_one_hour(sts, sts_client, node, make_role):
    # Same-account trust naming the account needs the caller's own Allow.
    first = make_role(MaxSessionDuration=43200, policy_document=ALLOW_ALL)
    second = make_role(MaxSessionDuration=43200)
    parent = sts.assume_role(RoleArn=first, RoleSessionName="parent", DurationSeconds=43200)
    chained = sts_client(node, **credentials_of(parent))
    message = expect_error(
        lambda: chained.assume_role(RoleArn=second, RoleSessionName="c-session", DurationSeconds=3601),
        400,
        "ValidationError",
    )
    assert message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining."
    )
    child = chained.assume_role(RoleArn=second, RoleSessionName="child", DurationSeconds=3600)
    assert lifetime(child["Credentials"]) <= 3600
    # GetSessionToken credentials are temporary too: the same cap.
    gst = sts_client(node, **credentials_of(sts.get_session_token()))
    expect_error(
        lambda: gst.assume_role(RoleArn=second, RoleSessionName="g-session", DurationSeconds=3601),
        400,
        "ValidationError",
    )
    gst.assume_role(RoleArn=second, RoleSessionName="g-session", DurationSeconds=900)


@pytest.mark.parametrize(
    "session_name, phrase",
    [
        ("has space", "Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
        ("colon:name", "Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
        ("x" * 65, "Member must have length less than or equal to 64"),
        ("x", "Member must have length greater than or equal to 2"),
    ],
)
def test_invalid_session_names(sts_client, node, make_role, session_name, phrase):
    role = make_role()
    unchecked = sts_client(node, validate=False)
    message = expect_error(
        lambda: unchecked.assume_role(RoleArn=role, RoleSessionName=session_name),
        400,
        "ValidationError",
    )
    assert message.startswith("1 validation error detected: "), message
    assert "'roleSessionName'" in message and phrase in message, message


def test_assume_role_refusals(sts, sts_client, node, make_role, make_user, account_id):
    missing = f"arn:aws:iam::{account_id}:role/{unique('missing')}"
    # A role that does not exist reads as a trust refusal (nothing leaks).
    message = expect_error(
        lambda: sts.assume_role(RoleArn=missing, RoleSessionName="s-session"), 403, "AccessDenied"
    )
    assert message.startswith(
        f"User: arn:aws:iam::{account_id}:user/admin is not authorized to perform: "
        f"sts:AssumeRole on resource: {missing}"
    ), message
    # A trust policy naming someone else.
    other = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:username": "someone-else"}},
            }
        )
    )
    expect_error(lambda: sts.assume_role(RoleArn=other, RoleSessionName="s-session"), 403, "AccessDenied")
    # A malformed ARN.
    unchecked = sts_client(node, validate=False)
    message = expect_error(
        lambda: unchecked.assume_role(RoleArn="nothing-valid-in-here", RoleSessionName="s-session"),
        400,
        "ValidationError",
    )
    assert message == "nothing-valid-in-here is invalid", message
    # A user whose own policies do not allow sts:AssumeRole, on a role whose
    # trust names the account (not the user): refused.
    _, nobody = make_user()
    expect_error(
        lambda: sts_client(node, **nobody).assume_role(RoleArn=make_role(), RoleSessionName="s-session"),
        403,
        "AccessDenied",
    )
    # A federated session may not call AssumeRole.
    federated = sts.get_federation_token(Name="fed", Policy=ALLOW_ALL)
    expect_error(
        lambda: sts_client(node, **credentials_of(federated)).assume_role(
            RoleArn=make_role(), RoleSessionName="s-session"
        ),
        403,
        "AccessDenied",
    )


def test_external_id(sts, make_role, account_id):
    role = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "customer-42"}},
            }
        )
    )
    expect_error(lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session"), 403, "AccessDenied")
    message = expect_error(
        lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session", ExternalId="customer-41"),
        403,
        "AccessDenied",
    )
    assert "customer-41" not in message
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="s-session", ExternalId="customer-42")
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/s-session")


def test_session_policies_inline_and_managed(sts, sts_client, iam_client, node, make_role):
    role = make_role(policy_document=ALLOW_ALL)
    inline = policy(allow("iam:ListRoles"))
    narrowed = sts.assume_role(RoleArn=role, RoleSessionName="inline", Policy=inline)
    assert isinstance(narrowed["PackedPolicySize"], int) and 0 < narrowed["PackedPolicySize"] <= 100
    iam = iam_client(node, **credentials_of(narrowed))
    iam.list_roles()
    message = expect_error(iam.list_users, 403, "AccessDenied")
    assert "because no session policy allows the iam:ListUsers action" in message, message

    managed = sts.assume_role(
        RoleArn=role,
        RoleSessionName="managed",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}],
    )
    assert "PackedPolicySize" in managed
    iam = iam_client(node, **credentials_of(managed))
    iam.list_users()
    expect_error(lambda: iam.create_user(UserName=unique("nope")), 403, "AccessDenied")

    # Both: together they are the session layer (an action passes it when
    # any of them allows it), intersected with the role's permissions.
    both = sts.assume_role(
        RoleArn=role,
        RoleSessionName="both",
        Policy=inline,
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}],
    )
    iam = iam_client(node, **credentials_of(both))
    iam.list_roles()
    iam.list_users()
    expect_error(lambda: iam.create_user(UserName=unique("nope")), 403, "AccessDenied")
    # A session policy never adds to the role's permissions.
    bare = make_role()
    widened = sts.assume_role(RoleArn=bare, RoleSessionName="wide", Policy=ALLOW_ALL)
    expect_error(iam_client(node, **credentials_of(widened)).list_roles, 403, "AccessDenied")


def test_session_policy_errors(sts, sts_client, node, make_role):
    role = make_role(policy_document=ALLOW_ALL)
    message = expect_error(
        lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session", Policy="{not json"),
        400,
        "MalformedPolicyDocument",
    )
    assert message, "a MalformedPolicyDocument answer explains itself"
    # The plaintext limit of session policies (2,048 characters). AWS's
    # answer is not recorded; ours is the model's ValidationError form.
    huge = policy(*[allow(f"iam:Get{'X' * 40}{n}") for n in range(60)])
    assert len(huge) > 2048
    message = expect_error(
        lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session", Policy=huge),
        400,
        "ValidationError",
    )
    assert "'policy'" in message and "less than or equal to 2048" in message, message
    # The packed size (policies and tags compressed together) over 100 %.
    tags = [{"Key": f"k{n:03d}" + "K" * 100, "Value": "v" * 256} for n in range(10)]
    message = expect_error(
        lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session", Tags=tags),
        400,
        "PackedPolicyTooLarge",
    )
    assert message.startswith("Packed policy consumes "), message
    assert message.endswith("% of allotted space, please use smaller policy."), message
    eleven = [{"arn": f"arn:aws:iam::aws:policy/P{n}xxxxxxxxxxxxxx"} for n in range(11)]
    message = expect_error(
        lambda: sts.assume_role(RoleArn=role, RoleSessionName="s-session", PolicyArns=eleven),
        400,
        "ValidationError",
    )
    assert "policyArns" in message, message


def test_session_tags_and_transitive_keys(sts, sts_client, node, make_role, account_id):
    first = make_role(policy_document=ALLOW_ALL)
    second = make_role()
    tagged = sts.assume_role(
        RoleArn=first,
        RoleSessionName="tagged",
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "42"}],
        TransitiveTagKeys=["team"],
    )
    assert isinstance(tagged["PackedPolicySize"], int), tagged
    chained = sts_client(node, **credentials_of(tagged))
    # An inherited transitive tag cannot be overridden (keys are case-insensitive).
    message = expect_error(
        lambda: chained.assume_role(
            RoleArn=second, RoleSessionName="c-session", Tags=[{"Key": "TEAM", "Value": "red"}]
        ),
        400,
        "InvalidParameterValue",
    )
    assert message == (
        "One of the specified transitive tag keys can't be set because it conflicts with a "
        "transitive tag key from the calling session."
    )
    chained.assume_role(RoleArn=second, RoleSessionName="c-session", Tags=[{"Key": "cost", "Value": "7"}])

    cases = [
        (
            dict(Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["b"]),
            "The specified transitive tag key must be included in the requested tags.",
        ),
        (
            dict(Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]),
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ),
    ]
    for arguments, text in cases:
        message = expect_error(
            lambda: sts.assume_role(RoleArn=first, RoleSessionName="t-session", **arguments),
            400,
            "InvalidParameterValue",
        )
        assert message == text, arguments

    # Tags need sts:TagSession in the trust policy.
    untaggable = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        )
    )
    message = expect_error(
        lambda: sts.assume_role(
            RoleArn=untaggable, RoleSessionName="t-session", Tags=[{"Key": "a", "Value": "1"}]
        ),
        403,
        "AccessDenied",
    )
    assert "sts:TagSession" in message, message
    sts.assume_role(RoleArn=untaggable, RoleSessionName="t-session")


def test_source_identity_is_set_once_and_sticks(sts, sts_client, node, make_role, account_id):
    first = make_role(policy_document=ALLOW_ALL)
    second = make_role()
    assumed = sts.assume_role(RoleArn=first, RoleSessionName="s-session", SourceIdentity="alice@example")
    assert assumed["SourceIdentity"] == "alice@example"
    chained = sts_client(node, **credentials_of(assumed))
    carried = chained.assume_role(RoleArn=second, RoleSessionName="c-session")
    assert carried["SourceIdentity"] == "alice@example"
    same = chained.assume_role(RoleArn=second, RoleSessionName="c-session", SourceIdentity="alice@example")
    assert same["SourceIdentity"] == "alice@example"
    expect_error(
        lambda: chained.assume_role(RoleArn=second, RoleSessionName="c-session", SourceIdentity="mallory"),
        403,
        "AccessDenied",
    )
    # Setting it needs sts:SetSourceIdentity in the trust policy.
    plain = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        )
    )
    message = expect_error(
        lambda: sts.assume_role(RoleArn=plain, RoleSessionName="s-session", SourceIdentity="alice"),
        403,
        "AccessDenied",
    )
    assert "sts:SetSourceIdentity" in message, message


# ---------------------------------------------------------------------------
# GetSessionToken and GetFederationToken


def test_get_session_token(sts, sts_client, iam_client, node, make_user, account_id):
    _, user = make_user(ALLOW_ALL)
    user_sts = sts_client(node, **user)
    default = user_sts.get_session_token()
    assert 43190 <= lifetime(default["Credentials"]) <= 43200
    short = user_sts.get_session_token(DurationSeconds=900)
    assert 890 <= lifetime(short["Credentials"]) <= 900
    session = credentials_of(short)
    message = expect_error(
        lambda: sts_client(node, **session).get_session_token(), 403, "AccessDenied"
    )
    assert message == "Cannot call GetSessionToken with session credentials"
    # Without MFA the session may not call IAM (AWS: InvalidClientTokenId).
    expect_error(lambda: iam_client(node, **session).list_users(), 403, "InvalidClientTokenId")
    unchecked = sts_client(node, validate=False)
    message = expect_error(
        lambda: unchecked.get_session_token(DurationSeconds=129601), 400, "ValidationError"
    )
    assert "durationSeconds" in message, message


def test_get_federation_token(sts, sts_client, iam_client, node, make_user, account_id):
    name, user = make_user(ALLOW_ALL)
    user_sts = sts_client(node, **user)
    federated = user_sts.get_federation_token(
        Name="fed-1", Policy=policy(allow("sts:GetCallerIdentity")), DurationSeconds=900
    )
    assert federated["FederatedUser"] == {
        "FederatedUserId": f"{account_id}:fed-1",
        "Arn": f"arn:aws:sts::{account_id}:federated-user/fed-1",
    }
    assert isinstance(federated["PackedPolicySize"], int)
    assert 890 <= lifetime(federated["Credentials"]) <= 900
    session = credentials_of(federated)
    # No IAM at all, on STS only GetCallerIdentity.
    expect_error(lambda: iam_client(node, **session).list_users(), 403, "AccessDenied")
    message = expect_error(
        lambda: sts_client(node, **session).get_federation_token(Name="again"),
        403,
        "AccessDenied",
    )
    assert message == "Cannot call GetFederationToken with session credentials"
    expect_error(
        lambda: sts_client(node, **session).get_access_key_info(AccessKeyId=user["access_key_id"]),
        403,
        "AccessDenied",
    )
    # The caller needs sts:GetFederationToken.
    _, nobody = make_user()
    expect_error(
        lambda: sts_client(node, **nobody).get_federation_token(Name="x1"), 403, "AccessDenied"
    )
    unchecked = sts_client(node, **user, validate=False)
    message = expect_error(
        lambda: unchecked.get_federation_token(Name="x"), 400, "ValidationError"
    )
    assert "'name'" in message and "greater than or equal to 2" in message, message


# ---------------------------------------------------------------------------
# DecodeAuthorizationMessage


def test_decode_authorization_message(sts, sts_client, iam_client, node, make_user, account_id):
    name, limited = make_user(policy(allow("sts:GetCallerIdentity")))
    with pytest.raises(Exception) as denied:
        iam_client(node, **limited).list_roles()
    status, code, message = error_of(denied.value)
    assert (status, code) == (403, "AccessDenied")
    marker = "Encoded authorization failure message: "
    assert marker in message, message
    encoded = message.split(marker, 1)[1]
    # The administrator may decode it (same account).
    decoded = json.loads(sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False
    assert decoded["context"]["action"] == "iam:ListRoles"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{account_id}:user/{name}"
    # The limited user may not.
    expect_error(
        lambda: sts_client(node, **limited).decode_authorization_message(EncodedMessage=encoded),
        403,
        "AccessDenied",
    )
    garbage = base64.b64encode(b"not one of ours").decode()
    expect_error(
        lambda: sts.decode_authorization_message(EncodedMessage=garbage),
        400,
        "InvalidAuthorizationMessageException",
    )
