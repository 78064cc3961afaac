#!/usr/bin/env python3
"""Generate SigV4 fixtures signed by botocore for meridian-core's verifier tests.

botocore is the reference client: boto3 and the aws CLI sign every STS and IAM
call with it. This script signs a fixed set of requests with fixed credentials
at a fixed instant, captures exactly what botocore would put on the wire (and
the canonical request and string to sign it computed), and writes them to
`botocore_fixtures.json` next to this file. `tests/sigv4_botocore.rs` verifies
every fixture with Meridian's verifier and compares the canonical strings.

Nothing is sent over the network: a `before-send` hook captures the prepared
request and aborts the call.

Reproduce (the pin matters; the output must be byte-identical for the same pin):

    python3 -m venv /tmp/sigv4-venv
    /tmp/sigv4-venv/bin/pip install botocore==1.44.8
    /tmp/sigv4-venv/bin/python generate_botocore.py
"""

import datetime
import json
import os
import sys
from urllib.parse import urlsplit

BOTOCORE_PIN = "1.44.8"

import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402

if botocore.__version__ != BOTOCORE_PIN:
    sys.exit(f"botocore {BOTOCORE_PIN} required, found {botocore.__version__}")

# The instant every request is signed at, and the verifier's "now".
FIXED_NOW = datetime.datetime(2026, 11, 26, 2, 14, 57, tzinfo=datetime.timezone.utc)

LONG_TERM = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "session_token": None,
}
TEMPORARY = {
    "access_key_id": "ASIAQNZGKIQY56JQ7WML",
    "secret_access_key": "nY+2yIVy4TMGm2C5jbQCLwAMW8mgl4gP2bLx1y2R",
    # An opaque token; Meridian's own tokens are base64url, AWS's contain '/', '+' and '='.
    "session_token": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token+value==",
}

# Unsigned headers whose values vary per call or per machine; pinned so the
# output is stable. botocore never signs them.
FIXED_INVOCATION_ID = "00000000-0000-4000-8000-000000000000"
FIXED_USER_AGENT = f"Botocore/{BOTOCORE_PIN} ua/2.1 os/pinned lang/python md/pyimpl#CPython"

captured = {}


class Captured(Exception):
    """Raised by the before-send hook to stop botocore after signing."""


def _patch_clock():
    botocore.auth.get_current_datetime = lambda: FIXED_NOW.replace(tzinfo=None)


def _patch_capture():
    """Wrap SigV4Auth so that the canonical request and string to sign are recorded."""
    original_cr = botocore.auth.SigV4Auth.canonical_request
    original_sts = botocore.auth.SigV4Auth.string_to_sign

    def canonical_request(self, request):
        value = original_cr(self, request)
        captured["canonical_request"] = value
        return value

    def string_to_sign(self, request, canonical):
        value = original_sts(self, request, canonical)
        captured["string_to_sign"] = value
        return value

    botocore.auth.SigV4Auth.canonical_request = canonical_request
    botocore.auth.SigV4Auth.string_to_sign = string_to_sign


def _client(service, region, creds, endpoint_url=None):
    session = botocore.session.get_session()
    return session.create_client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
        aws_session_token=creds["session_token"],
    )


def _on_before_send(request, **_kwargs):
    captured["request"] = request
    raise Captured()


def _headers_as_sent(url, headers, body):
    """The header list an HTTP server receives: botocore's headers plus Host and
    Content-Length, which urllib3 adds after signing."""
    out = []
    for name, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if name.lower() == "amz-sdk-invocation-id":
            value = FIXED_INVOCATION_ID
        if name.lower() == "user-agent":
            value = FIXED_USER_AGENT
        out.append([name, value])
    names = {name.lower() for name, _ in out}
    if "host" not in names:
        out.insert(0, ["Host", botocore.auth._host_from_url(url)])
    if body and "content-length" not in names:
        out.append(["Content-Length", str(len(body))])
    return out


def header_signed(name, description, service, region, creds, operation, params, endpoint_url=None):
    captured.clear()
    client = _client(service, region, creds, endpoint_url)
    client.meta.events.register_first("before-send", _on_before_send)
    try:
        getattr(client, operation)(**params)
    except Captured:
        pass
    request = captured["request"]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    parts = urlsplit(request.url)
    return {
        "name": name,
        "description": description,
        "kind": "header",
        "method": request.method,
        "url": request.url,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": _headers_as_sent(request.url, request.headers, body),
        "body": body.decode("utf-8"),
        "access_key_id": creds["access_key_id"],
        "secret_access_key": creds["secret_access_key"],
        "session_token": creds["session_token"],
        "service": service,
        "region": region,
        "now_unix": int(FIXED_NOW.timestamp()),
        "canonical_request": captured["canonical_request"],
        "string_to_sign": captured["string_to_sign"],
    }


def presigned(name, description, region, creds, http_method, expires, extra_header=None, endpoint_url=None):
    """A presigned sts:GetCallerIdentity URL. botocore signs with the model's
    method (POST) unless HttpMethod is given; `extra_header` reproduces the aws
    CLI's `eks get-token`, which signs `x-k8s-aws-id`."""
    captured.clear()
    client = _client("sts", region, creds, endpoint_url)
    if extra_header is not None:
        header_name, header_value = extra_header

        def inject(request, **_kwargs):
            request.headers[header_name] = header_value

        client.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    kwargs = {"ClientMethod": "get_caller_identity", "Params": {}, "ExpiresIn": expires}
    if http_method is not None:
        kwargs["HttpMethod"] = http_method
    url = client.generate_presigned_url(**kwargs)
    parts = urlsplit(url)
    headers = [["Host", botocore.auth._host_from_url(url)]]
    if extra_header is not None:
        headers.append([extra_header[0], extra_header[1]])
    return {
        "name": name,
        "description": description,
        "kind": "presigned",
        # The method the URL verifies with: botocore signs POST by default.
        "method": http_method or "POST",
        "url": url,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": headers,
        "body": "",
        "access_key_id": creds["access_key_id"],
        "secret_access_key": creds["secret_access_key"],
        "session_token": creds["session_token"],
        "service": "sts",
        "region": region,
        "now_unix": int(FIXED_NOW.timestamp()),
        "canonical_request": captured["canonical_request"],
        "string_to_sign": captured["string_to_sign"],
    }


def main():
    _patch_clock()
    _patch_capture()
    fixtures = [
        header_signed(
            "sts-assume-role-long-term",
            "AssumeRole form POST with tags and a managed policy, signed with an AKIA key",
            "sts", "eu-west-1", LONG_TERM, "assume_role",
            {
                "RoleArn": "arn:aws:iam::123456789012:role/demo",
                "RoleSessionName": "s1",
                "Tags": [{"Key": "Project", "Value": "Unicorn"}, {"Key": "Team", "Value": "A B"}],
                "TransitiveTagKeys": ["Project"],
                "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                "DurationSeconds": 900,
                "ExternalId": "ext-1",
            },
        ),
        header_signed(
            "sts-assume-role-session-token",
            "AssumeRole form POST signed with temporary credentials: X-Amz-Security-Token is a signed header",
            "sts", "eu-west-1", TEMPORARY, "assume_role",
            {"RoleArn": "arn:aws:iam::123456789012:role/chained", "RoleSessionName": "chain-1"},
        ),
        header_signed(
            "sts-get-caller-identity-session-token",
            "GetCallerIdentity with temporary credentials against the us-east-1 regional endpoint",
            "sts", "us-east-1", TEMPORARY, "get_caller_identity", {},
        ),
        header_signed(
            "sts-get-session-token-custom-endpoint",
            "GetSessionToken against a custom http endpoint with a port (signed payload, Host keeps the port)",
            "sts", "eu-west-1", LONG_TERM, "get_session_token", {"DurationSeconds": 3600},
            endpoint_url="http://127.0.0.1:4510",
        ),
        header_signed(
            "iam-create-role-custom-endpoint",
            "IAM CreateRole with a custom endpoint: botocore signs with the client's region (eu-west-1/iam)",
            "iam", "eu-west-1", LONG_TERM, "create_role",
            {
                "RoleName": "demo",
                "Path": "/team/",
                "AssumeRolePolicyDocument": json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "sts:AssumeRole",
                    }],
                }),
            },
            endpoint_url="https://meridian.example.test:8443",
        ),
        header_signed(
            "iam-list-roles-global",
            "IAM ListRoles against the global endpoint (signed with us-east-1/iam), temporary credentials",
            "iam", "us-east-1", TEMPORARY, "list_roles", {"PathPrefix": "/team/", "MaxItems": 10},
        ),
        presigned(
            "sts-presigned-get-caller-identity-post",
            "generate_presigned_url('get_caller_identity'): botocore signs the canonical request with POST",
            "eu-west-1", LONG_TERM, None, 900,
        ),
        presigned(
            "sts-presigned-get-caller-identity-post-session-token",
            "Presigned GetCallerIdentity with temporary credentials: X-Amz-Security-Token is in the signed query",
            "eu-west-1", TEMPORARY, None, 60,
        ),
        presigned(
            "sts-presigned-eks-get-token",
            "aws eks get-token: GET presign with the signed x-k8s-aws-id header, 60 s",
            "us-west-2", TEMPORARY, "GET", 60, extra_header=("x-k8s-aws-id", "prod-cluster"),
        ),
    ]
    out = {
        "generator": "generate_botocore.py",
        "botocore_version": botocore.__version__,
        "now": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fixtures": fixtures,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_fixtures.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=2, sort_keys=False)
        handle.write("\n")
    print(f"wrote {len(fixtures)} fixtures to {path}")


if __name__ == "__main__":
    main()
