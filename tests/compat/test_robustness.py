"""Garbage at every node: bytes that are not HTTP, broken requests, unsigned
and oversized ones, unknown actions. Each gets an answer (or a closed
connection), and afterwards every node is still alive, ready and serving the
administrator."""

import os
import socket

import pytest

from conftest import REQUEST_TIMEOUT, raw_request


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


def test_unknown_action_and_garbage_signature(nodes):
    for node in nodes:
        status, _, body = raw_request(node, "GET", "/?Action=NoSuchThing&Version=2011-06-15")
        assert status == 400 and b"InvalidAction" in body, body
        status, _, body = raw_request(
            node,
            "POST",
            "/",
            body=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "AWS4-HMAC-SHA256 garbage",
                "X-Amz-Date": "not a date",
            },
        )
        assert 400 <= status < 500, (status, body)


def test_every_node_is_still_healthy_afterwards(nodes, sts_client, admin):
    for node in nodes:
        assert raw_request(node, "GET", "/healthz")[0] == 200, node
        assert raw_request(node, "GET", "/readyz")[0] == 200, node
        identity = sts_client(node).get_caller_identity()
        assert identity["Account"] == admin["account_id"], node
