"""SigV4 as botocore produces it, beyond plain header signing: presigned
GetCallerIdentity URLs (the identity-oracle pattern of EKS and Vault), the
credential scopes a node accepts (DESIGN.md: its own region for `sts` and
`iam`, and `us-east-1` for `iam`, since IAM is a global service), and
requests with unknown extra parameters."""

import re
import urllib.error
import urllib.request

import boto3
import pytest

from conftest import ALLOW_ALL, REQUEST_TIMEOUT, client_config, credentials_of, expect_error, signed_post


def http(method: str, url: str):
    """(status, body) of a bare request to `url` (POST with an empty body)."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_presigned_get_caller_identity(sts_client, nodes, admin):
    for node in nodes:
        url = sts_client(node).generate_presigned_url("get_caller_identity", ExpiresIn=60)
        assert "X-Amz-Signature=" in url and "X-Amz-Credential=" in url
        # boto3 presigns with the model's method (POST) and the empty body.
        status, body = http("POST", url)
        assert status == 200, body
        assert f"<Arn>arn:aws:iam::{admin['account_id']}:user/admin</Arn>" in body, body
        # The same URL with GET has another canonical request: refused as AWS does.
        status, body = http("GET", url)
        assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body, body
        # A tampered URL is refused.
        tampered = re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=3600", url)
        status, body = http("POST", tampered)
        assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body, body


def client_signed_for(service, region, node, admin):
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=node["http"],
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
        config=client_config(),
    )


def test_credential_scopes_a_node_accepts(nodes, admin):
    node = next(n for n in nodes if n["region"] != "us-east-1")
    other = next(n["region"] for n in nodes if n["region"] not in ("us-east-1", node["region"]))
    # Its own region, for both services.
    client_signed_for("sts", node["region"], node, admin).get_caller_identity()
    client_signed_for("iam", node["region"], node, admin).get_user()
    # us-east-1 for IAM (the global endpoint's signing region).
    client_signed_for("iam", "us-east-1", node, admin).get_user()
    # Anything else is refused with AWS's text.
    for service, region in [("sts", "us-east-1"), ("sts", other), ("iam", other), ("iam", "mars-east-1")]:
        client = client_signed_for(service, region, node, admin)
        call = client.get_caller_identity if service == "sts" else client.get_user
        message = expect_error(call, 403, "SignatureDoesNotMatch")
        assert message.startswith(f"Credential should be scoped to a valid region, not '{region}'"), message


def test_role_credentials_without_a_user_name(sts_client, iam_client, nodes, make_role):
    """What Terraform's provider probes: GetUser (and the key operations)
    without UserName on role credentials answer ValidationError, which it
    takes as "not a user" before calling GetCallerIdentity."""
    role = make_role(policy_document=ALLOW_ALL, Path="/team/deploy/")
    assumed = sts_client(nodes[0]).assume_role(RoleArn=role, RoleSessionName="tf")
    # The role's path is not part of the assumed-role ARN.
    role_name = role.rsplit("/", 1)[1]
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role_name}/tf"), assumed
    iam = iam_client(nodes[0], **credentials_of(assumed))
    for call in (iam.get_user, iam.list_access_keys, iam.create_access_key):
        message = expect_error(call, 400, "ValidationError")
        assert message == "Must specify userName when calling with non-User credentials", message


def test_unknown_parameters_are_ignored(nodes, admin):
    """AWS ignores input members the operation does not have."""
    for node in nodes:
        status, _, answer = signed_post(
            node, admin, "Action=GetCallerIdentity&Version=2011-06-15&Unknown=1&Other.member.1=x"
        )
        assert status == 200, answer
