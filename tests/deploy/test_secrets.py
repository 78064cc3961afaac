"""deploy/bin/meridian-secrets: the KEK and administrator bootstrap file a
container cluster starts from.

The access key id layout is checked against STS-API.md §2.5's worked examples
(the vectors meridian-core's own tests use); the files against what the node
reads (crates/meridian-server/src/bootstrap.rs and kek.rs): exact JSON keys,
formats and mode 0600. End to end, tests/deploy/containers.sh starts a
cluster from these files and signs requests with the credentials.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from conftest import SECRETS_TOOL


def load_tool():
    loader = importlib.machinery.SourceFileLoader("meridian_secrets", str(SECRETS_TOOL))
    spec = importlib.util.spec_from_loader("meridian_secrets", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


tool = load_tool()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SECRETS_TOOL), *args], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    "key_id, account",
    [
        ("ASIAQAAAAAAAGMKEM7X5", 0),
        ("AKIARZPUZDIKGB2VALC4", 123456789012),
    ],
)
def test_worked_examples_decode_to_their_accounts(key_id, account):
    assert tool.account_of(key_id) == account
    # Encoding the account again gives the same first 12 characters and the
    # same parity half for character 12 (the rest is random).
    encoded = tool.access_key_id(account, key_id[:4], 0)
    assert encoded[:12] == key_id[:12]
    assert (tool.BASE32.index(encoded[12]) >= 16) == (tool.BASE32.index(key_id[12]) >= 16)


@pytest.mark.parametrize("account", [0, 1, 2, 123456789012, 100000000000, 999999999999])
@pytest.mark.parametrize("entropy", [0, 1, (1 << 39) - 1, 0x5A5A5A5A5A])
def test_generated_ids_carry_their_account(account, entropy):
    key_id = tool.access_key_id(account, "AKIA", entropy)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key_id)
    assert tool.account_of(key_id) == account


def test_out_of_range_accounts_are_refused():
    for account in (-1, 10**12):
        with pytest.raises(ValueError):
            tool.access_key_id(account, "AKIA", 0)


def test_writes_the_four_files_private_and_well_formed(tmp_path):
    out = tmp_path / "secrets"
    result = run("--out", str(out), "--account-name", "team", "--account-id", "123456789012")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for name in tool.FILES:
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
    assert tool.account_of(bootstrap["access_key_id"]) == 123456789012
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
        assert tool.account_of(bootstrap["access_key_id"]) == int(bootstrap["account_id"])
        seen.add((out / "kek").read_text())
    assert len(seen) == 5


def test_a_complete_set_is_kept_and_a_partial_one_refused(tmp_path):
    out = tmp_path / "secrets"
    assert run("--out", str(out)).returncode == 0
    before = {name: (out / name).read_text() for name in tool.FILES}
    again = run("--out", str(out))
    assert again.returncode == 0
    assert "nothing written" in again.stderr
    assert {name: (out / name).read_text() for name in tool.FILES} == before
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
