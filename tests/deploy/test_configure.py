"""meridian-configure: the per-node step of every container deployment.

Each test lays out templates, secrets and a data dir in a temporary
directory, runs the script under dash and under busybox (the image's shell,
with only busybox applets on PATH), and checks what it wrote: the rendered
node.toml (parsed as TOML), the KEK copy and the administrator file (mode
0600, same bytes), or the refusal and its message.
"""

from __future__ import annotations

import os
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from conftest import DEPLOY, K8S, REGIONS, run_configure, shells

KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
ADMIN = '{"version": 1, "note": "stands in for bootstrap-admin.json"}\n'
SHELLS = shells()


def peer_domain(region: str) -> str:
    return f"meridian-peer-{region}.meridian.svc.cluster.local"


class Layout:
    """One node's files in a temporary directory."""

    def __init__(self, root: Path, templates: Path):
        self.root = root
        self.templates = root / "templates"
        shutil.copytree(templates, self.templates)
        self.secrets = root / "secrets"
        self.secrets.mkdir()
        self.kek_secret = self.secrets / "kek"
        self.kek_secret.write_text(KEK)
        self.admin_secret = self.secrets / "bootstrap-admin.json"
        self.admin_secret.write_text(ADMIN)
        self.data = root / "data"
        self.config = root / "etc" / "node.toml"
        self.kek = root / "run" / "kek"

    def env(self, region: str = "us-east-1", ordinal: str | None = "0", **extra: str) -> dict:
        env = {
            "HOSTNAME": f"meridian-{region}-{ordinal or 0}",
            "MERIDIAN_REGION": region,
            "MERIDIAN_DEPLOY_NODE_ID_BASE": str(REGIONS[region]),
            "MERIDIAN_DEPLOY_ADVERTISE_DOMAIN": peer_domain(region),
            "MERIDIAN_DEPLOY_TEMPLATES": str(self.templates),
            "MERIDIAN_DEPLOY_CONFIG": str(self.config),
            "MERIDIAN_DEPLOY_DATA_DIR": str(self.data),
            "MERIDIAN_DEPLOY_KEK_SECRET": str(self.kek_secret),
            "MERIDIAN_DEPLOY_KEK": str(self.kek),
            "MERIDIAN_DEPLOY_ADMIN_SECRET": str(self.admin_secret),
        }
        if ordinal is not None:
            env["MERIDIAN_DEPLOY_ORDINAL"] = ordinal
        env.update(extra)
        return env

    def rendered(self) -> dict:
        with open(self.config, "rb") as f:
            return tomllib.load(f)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def k8s(tmp_path):
    return Layout(tmp_path, K8S / "base" / "config")


@pytest.fixture
def voter_members():
    with open(K8S / "base" / "config" / "voter.toml", "rb") as f:
        return tomllib.loads(
            f.read().decode().replace("@NODE_ID@", "0")
        )["cluster"]["bootstrap"]["members"]


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_the_admin_holder_gets_its_config_kek_and_administrator_file(shell, k8s, voter_members):
    result = run_configure(shell, k8s.env(), k8s.root)
    assert result.returncode == 0, result.stderr
    config = k8s.rendered()
    host = f"meridian-us-east-1-0.{peer_domain('us-east-1')}"
    assert config["node_id"] == 1
    assert config["region"] == "us-east-1"
    assert config["data_dir"] == str(k8s.data)
    assert config["http"] == {"listen": "0.0.0.0:7101", "advertise": f"http://{host}:7101"}
    assert config["grpc"] == {"listen": "0.0.0.0:7201", "advertise": f"http://{host}:7201"}
    assert config["kek"] == {"file": str(k8s.kek)}
    # The node checks that it is one of the members under its advertised address.
    me = [m for m in config["cluster"]["bootstrap"]["members"] if m["id"] == 1]
    assert me == [m for m in voter_members if m["id"] == 1]
    assert me[0]["grpc"] == config["grpc"]["advertise"]
    assert config["cluster"]["bootstrap"]["admin_file"] == str(k8s.data / "bootstrap-admin.json")
    # The secrets: private copies, byte for byte.
    assert k8s.kek.read_text() == KEK
    assert mode(k8s.kek) == 0o600
    admin = k8s.data / "bootstrap-admin.json"
    assert admin.read_text() == ADMIN
    assert mode(admin) == 0o600
    # Nothing secret in what it says.
    assert KEK.strip() not in result.stderr + result.stdout
    assert "stands in" not in result.stderr + result.stdout


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
@pytest.mark.parametrize(
    "region, hostname, ordinal, node_id, role",
    [
        ("us-east-1", "meridian-us-east-1-1", None, 2, "learner"),
        ("eu-west-1", "meridian-eu-west-1-0", None, 101, "voter"),
        ("eu-west-1", "meridian-eu-west-1-3", None, 104, "learner"),
        ("ap-southeast-2", "meridian-ap-southeast-2-12", None, 213, "learner"),
        # The pod-index label wins over the host name; leading zeros are decimal.
        ("ap-southeast-2", "whatever", "08", 209, "learner"),
        ("eu-west-1", "whatever", "0", 101, "voter"),
    ],
)
def test_node_ids_and_roles_follow_the_ordinal(shell, k8s, voter_members, region, hostname, ordinal, node_id, role):
    env = k8s.env(region=region, ordinal=ordinal, HOSTNAME=hostname)
    result = run_configure(shell, env, k8s.root)
    assert result.returncode == 0, result.stderr
    config = k8s.rendered()
    assert config["node_id"] == node_id
    assert config["region"] == region
    assert config["grpc"]["advertise"] == f"http://{hostname}.{peer_domain(region)}:7201"
    if role == "voter":
        assert "join" not in config["cluster"]
        assert [m["id"] for m in config["cluster"]["bootstrap"]["members"]] == [1, 101, 201]
    else:
        assert "bootstrap" not in config["cluster"]
        assert config["cluster"]["join"]["seeds"] == [m["grpc"] for m in voter_members]
    # Only node 1 ever receives the administrator file.
    assert not (k8s.data / "bootstrap-admin.json").exists()


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_a_restarted_holder_never_gets_the_administrator_file_again(shell, k8s):
    # A data dir with a store has been bootstrapped: the administrator may
    # since have deleted that access key, and a restart must not recreate it.
    (k8s.data / "store").mkdir(parents=True)
    result = run_configure(shell, k8s.env(), k8s.root)
    assert result.returncode == 0, result.stderr
    assert not (k8s.data / "bootstrap-admin.json").exists()
    assert k8s.rendered()["node_id"] == 1


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_a_holder_resumes_with_the_file_it_already_has(shell, k8s):
    k8s.data.mkdir()
    kept = k8s.data / "bootstrap-admin.json"
    kept.write_text("earlier copy\n")
    kept.chmod(0o600)
    k8s.admin_secret.unlink()
    result = run_configure(shell, k8s.env(), k8s.root)
    assert result.returncode == 0, result.stderr
    assert kept.read_text() == "earlier copy\n"
    assert "resuming" in result.stderr


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_a_fresh_holder_without_the_administrator_secret_stops(shell, k8s):
    k8s.admin_secret.unlink()
    result = run_configure(shell, k8s.env(), k8s.root)
    assert result.returncode == 1
    assert "meridian-secrets" in result.stderr
    assert not k8s.config.exists()
    # Unless the operator asked for a cluster without an administrator.
    result = run_configure(shell, k8s.env(MERIDIAN_DEPLOY_ALLOW_NO_ADMIN="1"), k8s.root)
    assert result.returncode == 0, result.stderr
    assert k8s.rendered()["node_id"] == 1
    assert not (k8s.data / "bootstrap-admin.json").exists()


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
@pytest.mark.parametrize(
    "change, message",
    [
        ({"MERIDIAN_DEPLOY_ORDINAL": "x1"}, "not a number"),
        ({"MERIDIAN_DEPLOY_NODE_ID_BASE": ""}, "NODE_ID_BASE"),
        ({"MERIDIAN_REGION": "US_EAST"}, "MERIDIAN_REGION"),
        ({"MERIDIAN_REGION": 'us-east-1"\nnode_id = 7'}, "MERIDIAN_REGION"),
        ({"MERIDIAN_DEPLOY_ADVERTISE_DOMAIN": 'x"y'}, "DNS name"),
        ({"MERIDIAN_DEPLOY_ADVERTISE_DOMAIN": ""}, "DNS name"),
        ({"MERIDIAN_DEPLOY_CONFIG": "relative/node.toml"}, "absolute"),
        ({"MERIDIAN_DEPLOY_DATA_DIR": "/data|x"}, "does not substitute"),
        ({"MERIDIAN_DEPLOY_KEK_SECRET": "/nonexistent/kek"}, "cannot read the KEK"),
        ({"MERIDIAN_DEPLOY_ORDINAL": "1", "MERIDIAN_DEPLOY_TEMPLATES": "/nonexistent"}, "no template"),
    ],
)
def test_bad_inputs_stop_before_anything_is_written(shell, k8s, change, message):
    result = run_configure(shell, k8s.env(**change), k8s.root)
    assert result.returncode == 1
    assert message in result.stderr
    assert not k8s.config.exists()


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_an_unknown_placeholder_is_refused(shell, k8s):
    voter = k8s.templates / "voter.toml"
    voter.write_text(voter.read_text() + 'extra = "@SOMETHING@"\n')
    result = run_configure(shell, k8s.env(), k8s.root)
    assert result.returncode == 1
    assert "@SOMETHING@" in result.stderr
    assert not k8s.config.exists()


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
def test_given_a_command_it_runs_it_after_configuring(shell, k8s):
    result = run_configure(shell, k8s.env(), k8s.root, ["cat", str(k8s.config)])
    assert result.returncode == 0, result.stderr
    assert "node_id = 1\n" in result.stdout


@pytest.mark.parametrize("shell", SHELLS, ids=[s[0] for s in SHELLS])
@pytest.mark.parametrize("region", list(REGIONS))
def test_compose_nodes_render_as_the_members_they_are(shell, tmp_path, region):
    layout = Layout(tmp_path, DEPLOY / "compose" / "config")
    env = layout.env(region=region, ordinal="0", MERIDIAN_DEPLOY_ADVERTISE_HOST=f"meridian-{region}")
    del env["MERIDIAN_DEPLOY_ADVERTISE_DOMAIN"]
    result = run_configure(shell, env, tmp_path)
    assert result.returncode == 0, result.stderr
    config = layout.rendered()
    members = {m["id"]: m for m in config["cluster"]["bootstrap"]["members"]}
    assert set(members) == set(REGIONS.values())
    me = members[config["node_id"]]
    assert config["node_id"] == REGIONS[region]
    assert me["region"] == region
    assert me["grpc"] == config["grpc"]["advertise"] == f"http://meridian-{region}:7201"
    assert (layout.data / "bootstrap-admin.json").exists() == (region == "us-east-1")
