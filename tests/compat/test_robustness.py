"""Garbage at every node: bytes that are not HTTP, broken requests, unsigned
and oversized ones, unknown actions, garbage and tampered session tokens,
wrong secrets, signatures 20 minutes off, duplicate, missing and invalid
parameters. Each gets AWS's answer (or a closed connection), and afterwards
every node is still alive, ready and serving the administrator (the last
test of this module)."""

import base64
import datetime
import html
import os
import re
import socket

import botocore.auth
import pytest

from conftest import REQUEST_TIMEOUT, credentials_of, expect_error, raw_request, signed_post


def send_bytes(node, payload: bytes) -> bytes:
    """Writes raw bytes and returns whatever comes back before the close."""
    host, port = node["http"].removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return received


GARBAGE = [
    os.urandom(4096),
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),  # a TLS hello
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
    b"\r\n" * 1000,
]


@pytest.mark.parametrize("index", range(len(GARBAGE)))
def test_non_http_bytes_get_an_error_or_a_close(nodes, index):
    for node in nodes:
        answer = send_bytes(node, GARBAGE[index])
        # Either nothing (closed) or an HTTP error status; never a 2xx.
        if answer:
            assert answer.startswith(b"HTTP/1.1 4") or answer.startswith(b"HTTP/1.1 5"), answer[:80]


def test_unsigned_call_is_refused(nodes):
    for node in nodes:
        status, _, body = raw_request(
            node,
            "POST",
            "/",
            body=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 403, body
        assert b"MissingAuthenticationToken" in body, body


def oversized_request(node, expect_continue: bool) -> bytes:
    """Declares a 1 MiB form body; returns what the node answered."""
    host, port = node["http"].removeprefix("http://").rsplit(":", 1)
    body = b"Action=GetCallerIdentity&Version=2011-06-15&x=" + b"a" * (1 << 20)
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        + ("Expect: 100-continue\r\n" if expect_continue else "")
        + "\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT) as conn:
        conn.sendall(head)
        if not expect_continue:
            # The node answers and closes without reading the body, so the
            # send may fail half-way: that is the point.
            try:
                conn.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received:
                    break
        except (ConnectionResetError, socket.timeout):
            pass
        return received


def test_oversized_body_is_refused_before_it_is_read(nodes):
    for node in nodes:
        # A client that waits for "100 Continue" is told 413 instead, and
        # never sends the body.
        answer = oversized_request(node, expect_continue=True)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # A client that sends it anyway is answered 413 (or, if its unread
        # bytes made the kernel reset the connection first, cut off).
        answer = oversized_request(node, expect_continue=False)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]


def error_in(body: bytes) -> tuple:
    """(code, message) of an AWS error document, entities unescaped."""
    code = re.search(rb"<Code>([^<]*)</Code>", body)
    message = re.search(rb"<Message>([^<]*)</Message>", body)
    assert code and message, body
    return code.group(1).decode(), html.unescape(message.group(1).decode())


def test_unknown_action_and_garbage_signature(nodes):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    scope = "Credential=AKIAIOSFODNN7EXAMPLE/20261126/us-east-1/sts/aws4_request"
    header_cases = [
        (
            {"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "not a date"},
            "IncompleteSignature",
            "'garbage' not a valid key=value pair (missing equal-sign) in Authorization header: "
            "'AWS4-HMAC-SHA256 garbage'.",
        ),
        (
            {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host;x-amz-date, Signature=ab"},
            "IncompleteSignature",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ),
        (
            {"Authorization": "AWS3 foo"},
            "IncompleteSignature",
            "Unsupported AWS 'algorithm': 'AWS3'.",
        ),
    ]
    query_cases = [
        ("Action=NoSuchThing&Version=2011-06-15", "InvalidAction"),
        ("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256", "IncompleteSignature"),
        ("Action=GetCallerIdentity&Version=2011-06-15&%ZZ=1", "MalformedQueryString"),
        ("Action=GetCallerIdentity&Version=2011-06-15&a=%", "MalformedQueryString"),
    ]
    for node in nodes:
        for headers, code, message in header_cases:
            status, _, answer = raw_request(node, "POST", "/", body=body, headers={**form, **headers})
            got = error_in(answer)
            assert (status, got[0]) == (400, code), answer
            assert got[1].startswith(message), got
        for query, code in query_cases:
            status, _, answer = raw_request(node, "GET", f"/?{query}")
            assert (status, error_in(answer)[0]) == (400, code), answer
        # A query-string signature missing its parts says which.
        status, _, answer = raw_request(
            node, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        )
        assert "AWS query-string parameters must include 'X-Amz-Credential'." in error_in(answer)[1]


# ---------------------------------------------------------------------------
# Bad credentials and signatures, through botocore


def session_credentials(sts_client, node, make_role):
    assumed = sts_client(node).assume_role(RoleArn=make_role(), RoleSessionName="robust")
    return credentials_of(assumed)


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` replaced by another of the same
    alphabet (base64 stays base64)."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1:]


def test_garbage_and_tampered_session_tokens(sts_client, nodes, make_role):
    good = session_credentials(sts_client, nodes[0], make_role)
    other = session_credentials(sts_client, nodes[0], make_role)
    token = good["session_token"]
    variants = {
        "garbage": base64.b64encode(os.urandom(300)).decode(),
        "not base64": "!!!" + token[3:],
        "one byte flipped early": flip(token, 10),
        "one byte flipped in the middle": flip(token, len(token) // 2),
        "one byte flipped at the end": flip(token, len(token) - 2),
        "truncated": token[:-8],
        "extended": token + "AAAA",
        "empty-ish": "A",
        "another session's token": other["session_token"],
    }
    for node in nodes:
        for what, bad in variants.items():
            client = sts_client(node, **dict(good, session_token=bad))
            message = expect_error(client.get_caller_identity, 403, "InvalidClientTokenId")
            assert message.startswith("The security token included in the request is invalid"), (
                what,
                message,
            )
        # A long-term key with a session token attached.
        client = sts_client(node, session_token=token)
        expect_error(client.get_caller_identity, 403, "InvalidClientTokenId")
        # An ASIA key without its token.
        client = sts_client(node, access_key_id=good["access_key_id"], secret_access_key=good["secret_access_key"])
        expect_error(client.get_caller_identity, 403, "InvalidClientTokenId")
        # The right token with a wrong secret.
        wrong = dict(good, secret_access_key=flip(good["secret_access_key"], 5))
        expect_error(sts_client(node, **wrong).get_caller_identity, 403, "SignatureDoesNotMatch")
        # And the good one still works.
        sts_client(node, **good).get_caller_identity()


@pytest.mark.parametrize("shift_minutes, phrase", [(-20, "Signature expired: "), (20, "Signature not yet current: ")])
def test_signature_outside_the_clock_skew_window(sts_client, nodes, monkeypatch, shift_minutes, phrase):
    real = botocore.auth.get_current_datetime
    shifted = lambda: real() + datetime.timedelta(minutes=shift_minutes)  # noqa: E731
    monkeypatch.setattr(botocore.auth, "get_current_datetime", shifted)
    for node in nodes:
        message = expect_error(sts_client(node).get_caller_identity, 403, "SignatureDoesNotMatch")
        assert message.startswith(phrase), message
        assert message.endswith(" 15 min.)"), message
    monkeypatch.undo()
    for node in nodes:
        sts_client(node).get_caller_identity()


def test_duplicate_parameters_are_refused_before_dispatch(nodes, admin):
    cases = [
        "Action=GetCallerIdentity&Version=2011-06-15&Action=GetCallerIdentity",
        "Action=AssumeRole&Version=2011-06-15&Action=GetCallerIdentity",
        "Action=GetAccessKeyInfo&Version=2011-06-15&AccessKeyId=AKIAIOSFODNN7EXAMPLE&AccessKeyId=AKIAIOSFODNN7EXAMPLF",
    ]
    for node in nodes:
        for body in cases:
            status, code, answer = signed_post(node, admin, body)
            assert (status, code) == (400, "MalformedQueryString"), answer
        # The same request without the duplicate is fine: the signature was good.
        status, _, answer = signed_post(node, admin, "Action=GetCallerIdentity&Version=2011-06-15")
        assert status == 200, answer


def test_missing_and_invalid_parameters(sts_client, iam_client, nodes, admin):
    node = nodes[0]
    unchecked = sts_client(node, validate=False)
    message = expect_error(
        lambda: unchecked.assume_role(RoleArn=f"arn:aws:iam::{admin['account_id']}:role/x"),
        400,
        "ValidationError",
    )
    assert message == (
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
        "constraint: Member must not be null"
    ), message
    # A value that is not an integer (AWS's answer is not recorded; ours is
    # the query protocol's MalformedInput).
    status, code, answer = signed_post(
        node, admin, "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=abc"
    )
    assert (status, code) == (400, "MalformedInput"), answer
    # An enum value the model does not have.
    message = expect_error(
        lambda: iam_client(node, validate=False).list_policies(Scope="Everything"),
        400,
        "ValidationError",
    )
    assert "'scope'" in message and "Member must satisfy enum value set" in message, message
    # Version missing or from the other service.
    status, code, answer = signed_post(node, admin, "Action=GetCallerIdentity")
    assert (status, code) == (400, "InvalidAction"), answer
    status, code, answer = signed_post(node, admin, "Action=GetCallerIdentity&Version=2010-05-08")
    assert (status, code) == (400, "InvalidAction"), answer


def test_every_node_is_still_healthy_afterwards(nodes, sts_client, admin):
    for node in nodes:
        assert raw_request(node, "GET", "/healthz")[0] == 200, node
        assert raw_request(node, "GET", "/readyz")[0] == 200, node
        identity = sts_client(node).get_caller_identity()
        assert identity["Account"] == admin["account_id"], node
