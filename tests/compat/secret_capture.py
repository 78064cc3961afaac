"""A pytest plugin of the compatibility suite: records every secret the run
creates or sends, so that run.sh can check, after the cluster stops, that
none of them reached a node's log (RELIABILITY.md b.3: "run the whole test
suite with trace logging captured; grep the capture for every secret the
suite generated").

What is recorded (to the file MERIDIAN_COMPAT_SECRETS names, one per line):
* every SigV4 signature botocore computes (header and presigned forms) and
  every session token it sends;
* every SecretAccessKey and SessionToken in a parsed response (boto3
  clients) or in the JSON the aws CLI prints;
* SAML assertions and web-identity tokens passed to the unsigned calls.

Without MERIDIAN_COMPAT_SECRETS the plugin records nothing."""

import json
import os
import re
import subprocess

import boto3.session
import botocore.auth

_SECRETS = set()
_PATH = os.environ.get("MERIDIAN_COMPAT_SECRETS")

#: Keys whose values are secret wherever they appear.
_SECRET_KEYS = ("SecretAccessKey", "SessionToken", "SAMLAssertion", "WebIdentityToken")


def _add(value):
    if isinstance(value, str) and len(value) >= 16:
        _SECRETS.add(value)


def _walk(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _SECRET_KEYS:
                _add(item)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


def _record_signature(request):
    authorization = request.headers.get("Authorization")
    if isinstance(authorization, bytes):
        authorization = authorization.decode("ascii", "replace")
    if authorization:
        match = re.search(r"Signature=([0-9a-f]{64})", authorization)
        if match:
            _add(match.group(1))
    token = request.headers.get("X-Amz-Security-Token")
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    _add(token)
    match = re.search(r"X-Amz-Signature=([0-9a-f]{64})", request.url or "")
    if match:
        _add(match.group(1))


def _wrap_signer(cls):
    original = cls.add_auth

    def add_auth(self, request):
        result = original(self, request)
        _record_signature(request)
        return result

    cls.add_auth = add_auth


def _before_call(params=None, **_):
    _walk(params or {})


def _after_call(parsed=None, **_):
    _walk(parsed or {})


def _wrap_client_factory():
    original = boto3.session.Session.client

    def client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        _add(kwargs.get("aws_secret_access_key"))
        _add(kwargs.get("aws_session_token"))
        made.meta.events.register("before-call", _before_call)
        made.meta.events.register("after-call", _after_call)
        return made

    boto3.session.Session.client = client


def _wrap_subprocess():
    original = subprocess.run

    def run(*args, **kwargs):
        result = original(*args, **kwargs)
        output = result.stdout if isinstance(result.stdout, str) else ""
        for key in _SECRET_KEYS:
            for match in re.finditer(rf'"{key}"\s*:\s*"([^"]+)"', output):
                _add(match.group(1))
        return result

    subprocess.run = run


if _PATH:
    _wrap_signer(botocore.auth.SigV4Auth)
    _wrap_signer(botocore.auth.SigV4QueryAuth)
    _wrap_client_factory()
    _wrap_subprocess()


def pytest_sessionfinish(session, exitstatus):
    if not _PATH:
        return
    with open(_PATH, "a", encoding="utf-8") as out:
        for secret in sorted(_SECRETS):
            out.write(json.dumps(secret) + "\n")
