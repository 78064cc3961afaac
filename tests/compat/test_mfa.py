"""Virtual MFA devices through boto3: create-virtual-mfa-device, enabling
with two consecutive codes computed here (RFC 6238 with the standard
library), GetSessionToken with MFA (and its IAM access), a trust policy that
requires aws:MultiFactorAuthPresent, and codes that are wrong or reused."""

import base64
import hashlib
import hmac
import json
import struct
import time

import pytest

from conftest import ALLOW_ALL, credentials_of, expect_error, trust_policy, unique

INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def totp(seed: bytes, step: int) -> str:
    """RFC 6238: HMAC-SHA1, six digits, 30-second steps."""
    mac = hmac.new(seed, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def current_step() -> int:
    return int(time.time()) // 30


def fresh_step() -> int:
    """A step with at least 5 s left, so a code is not out of date on arrival."""
    if int(time.time()) % 30 > 25:
        time.sleep(30 - int(time.time()) % 30 + 1)
    return current_step()


@pytest.fixture
def node(nodes):
    return nodes[0]


@pytest.fixture
def mfa_user(admin_iam, make_user, cleanup):
    """A user with an enabled virtual MFA device: (name, credentials, serial, seed)."""
    name, credentials = make_user(ALLOW_ALL)
    device = admin_iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))[
        "VirtualMFADevice"
    ]
    serial = device["SerialNumber"]
    cleanup.add(admin_iam.delete_virtual_mfa_device, SerialNumber=serial)
    seed = base64.b32decode(device["Base32StringSeed"] + b"=" * (-len(device["Base32StringSeed"]) % 8))
    # Enabled with the two previous steps' codes (the second is within the
    # ±1 window): both are then spent, so the tests use the current and the
    # next step's codes.
    step = fresh_step()
    admin_iam.enable_mfa_device(
        UserName=name,
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 2),
        AuthenticationCode2=totp(seed, step - 1),
    )
    cleanup.add(admin_iam.deactivate_mfa_device, UserName=name, SerialNumber=serial)
    return name, credentials, serial, seed


def test_enable_refuses_wrong_codes(admin_iam, make_user, cleanup):
    name, _ = make_user()
    device = admin_iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))[
        "VirtualMFADevice"
    ]
    serial = device["SerialNumber"]
    cleanup.add(admin_iam.delete_virtual_mfa_device, SerialNumber=serial)
    seed = base64.b32decode(device["Base32StringSeed"] + b"=" * (-len(device["Base32StringSeed"]) % 8))
    step = fresh_step()
    for first, second in [
        ("123456", "654321"),
        (totp(seed, step), totp(seed, step - 1)),
        (totp(seed, step - 5), totp(seed, step)),
    ]:
        expect_error(
            lambda: admin_iam.enable_mfa_device(
                UserName=name, SerialNumber=serial, AuthenticationCode1=first, AuthenticationCode2=second
            ),
            403,
            "InvalidAuthenticationCode",
        )
    listed = admin_iam.list_mfa_devices(UserName=name)["MFADevices"]
    assert listed == []


def test_session_token_with_mfa(sts_client, iam_client, node, mfa_user):
    name, credentials, serial, seed = mfa_user
    sts = sts_client(node, **credentials)
    without = credentials_of(sts.get_session_token(DurationSeconds=900))
    # Without MFA the session may not call IAM (AWS: InvalidClientTokenId).
    expect_error(lambda: iam_client(node, **without).get_user(), 403, "InvalidClientTokenId")

    step = fresh_step()
    code = totp(seed, step)
    with_mfa = credentials_of(
        sts.get_session_token(DurationSeconds=900, SerialNumber=serial, TokenCode=code)
    )
    assert iam_client(node, **with_mfa).get_user()["User"]["UserName"] == name
    # The same code again is refused, as AWS refuses it.
    message = expect_error(
        lambda: sts.get_session_token(SerialNumber=serial, TokenCode=code), 403, "AccessDenied"
    )
    assert message == INVALID_CODE
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    expect_error(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=wrong), 403, "AccessDenied")
    expect_error(
        lambda: sts.get_session_token(SerialNumber=serial + "x", TokenCode=totp(seed, step + 1)),
        403,
        "AccessDenied",
    )


def test_trust_policy_requiring_mfa(sts_client, node, mfa_user, make_role, account_id):
    name, credentials, serial, seed = mfa_user
    role_arn = make_role(
        trust=trust_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/{name}"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        )
    )
    sts = sts_client(node, **credentials)
    expect_error(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="no-mfa"), 403, "AccessDenied")
    step = fresh_step()
    answer = sts.assume_role(
        RoleArn=role_arn, RoleSessionName="with-mfa", SerialNumber=serial, TokenCode=totp(seed, step)
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith("/with-mfa")
    # An MFA session from GetSessionToken also satisfies it (the next
    # step's code is within the ±1 window and unused).
    mfa_session = credentials_of(
        sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step + 1))
    )
    chained = sts_client(node, **mfa_session).assume_role(
        RoleArn=role_arn, RoleSessionName="via-session"
    )
    assert chained["AssumedRoleUser"]["Arn"].endswith("/via-session")
