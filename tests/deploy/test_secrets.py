"""deploy/bin/meridian-secrets: the KEK and administrator bootstrap file a
container cluster starts from, made by `meridian init` (validate.sh builds
the binary and names it in MERIDIAN_BIN).

The access key ids the binary makes are checked with an independent decoder
of the layout (STS-API.md §2.5), itself checked against that section's
worked examples (the vectors meridian-core's own tests use); the files
against what the node reads (crates/meridian-server/src/bootstrap.rs and
kek.rs): exact JSON keys, formats and mode 0600. End to end,
tests/deploy/containers.sh starts a cluster from these files and signs
requests with the credentials.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

from conftest import SECRETS_TOOL

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ACCOUNT_OFFSET = 1 << 39
FILES = ("kek", "bootstrap-admin.json", "admin.json", "admin.env")


def account_of(key_id: str) -> int:
    """The account an access key id carries: characters 4..12 are base32 of
    account / 2 + 2^39, character 12's upper half says the account is odd."""
    field = 0
    for c in key_id[4:12]:
        field = (field << 5) | BASE32.index(c)
    return (field - ACCOUNT_OFFSET) * 2 + (1 if BASE32.index(key_id[12]) >= 16 else 0)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SECRETS_TOOL), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_binary_is_there():
    # Every other test needs it; say so plainly when it is missing.
    binary = os.environ.get("MERIDIAN_BIN", "")
    assert os.access(binary, os.X_OK), "run through tests/deploy/validate.sh (MERIDIAN_BIN)"


@pytest.mark.parametrize(
    "key_id, account",
    [
        ("ASIAQAAAAAAAGMKEM7X5", 0),
        ("AKIARZPUZDIKGB2VALC4", 123456789012),
    ],
)
def test_the_decoder_reads_the_worked_examples(key_id, account):
    assert account_of(key_id) == account


def test_writes_the_four_files_private_and_well_formed(tmp_path):
    out = tmp_path / "secrets"
    result = run("--out", str(out), "--account-name", "team", "--account-id", "123456789012")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for name in FILES:
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o600, name
    assert re.fullmatch(r"[0-9a-f]{64}\n", (out / "kek").read_text())
    bootstrap = json.loads((out / "bootstrap-admin.json").read_text())
    # The node's FileForm refuses unknown keys: exactly these.
    assert set(bootstrap) == {
        "version",
        "account_id",
        "account_name",
        "user_name",
        "access_key_id",
        "secret_access_key",
    }
    assert bootstrap["version"] == 1
    assert bootstrap["account_id"] == "123456789012"
    assert bootstrap["account_name"] == "team"
    assert bootstrap["user_name"] == "admin"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", bootstrap["access_key_id"])
    assert account_of(bootstrap["access_key_id"]) == 123456789012
    assert bootstrap["access_key_id"].startswith("AKIARZPUZDIK")
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", bootstrap["secret_access_key"])
    admin = json.loads((out / "admin.json").read_text())
    assert admin == {
        "account_id": "123456789012",
        "user_name": "admin",
        "access_key_id": bootstrap["access_key_id"],
        "secret_access_key": bootstrap["secret_access_key"],
    }
    assert (out / "admin.env").read_text() == (
        f"export AWS_ACCESS_KEY_ID={admin['access_key_id']}\n"
        f"export AWS_SECRET_ACCESS_KEY={admin['secret_access_key']}\n"
    )
    # Nothing secret on the terminal.
    assert admin["secret_access_key"] not in result.stdout + result.stderr


def test_random_accounts_have_twelve_digits_and_no_leading_zero(tmp_path):
    seen = set()
    for i in range(5):
        out = tmp_path / str(i)
        assert run("--out", str(out)).returncode == 0
        bootstrap = json.loads((out / "bootstrap-admin.json").read_text())
        assert re.fullmatch(r"[1-9][0-9]{11}", bootstrap["account_id"])
        assert account_of(bootstrap["access_key_id"]) == int(bootstrap["account_id"])
        seen.add((out / "kek").read_text())
    assert len(seen) == 5


def test_a_complete_set_is_kept_and_a_partial_one_refused(tmp_path):
    out = tmp_path / "secrets"
    assert run("--out", str(out)).returncode == 0
    before = {name: (out / name).read_text() for name in FILES}
    again = run("--out", str(out))
    assert again.returncode == 0
    assert "nothing written" in again.stderr
    assert {name: (out / name).read_text() for name in FILES} == before
    (out / "admin.json").unlink()
    partial = run("--out", str(out))
    assert partial.returncode != 0
    assert "holds only" in partial.stderr
    assert (out / "kek").read_text() == before["kek"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--account-id", "12345"], "12 digits"),
        (["--account-name", "no spaces"], "account name"),
        (["--user-name", "x" * 65], "user name"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, args, message):
    result = run("--out", str(tmp_path / "s"), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "s" / "kek").exists()


def test_without_a_binary_it_says_how_to_get_one(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "MERIDIAN_BIN": str(tmp_path / "no-such-binary"),
        "CARGO_TARGET_DIR": str(tmp_path / "no-target"),
        "MERIDIAN_IMAGE": "meridian-no-such-image:0",
    }
    result = run("--out", str(tmp_path / "s"), env=env)
    assert result.returncode != 0
    assert "cannot find the meridian binary" in result.stderr
    assert not (tmp_path / "s" / "kek").exists()


def test_an_explicit_binary_is_used(tmp_path):
    out = tmp_path / "s"
    result = run("--out", str(out), "--meridian", os.environ.get("MERIDIAN_BIN", ""))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == set(FILES)
