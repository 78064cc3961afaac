"""The compose file: it parses (`docker-compose config`, no Docker engine
needed) and the cluster it describes keeps its promises: one node per region,
all three voters under the names they advertise, HTTP published on
127.0.0.1 only, gRPC private, healthchecks on /readyz, one data volume per
node, the KEK shared and the administrator file on node 1 only, non-root on a
read-only root file system.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
import yaml

from conftest import DEPLOY, GRPC_PORT, HTTP_PORT, REGIONS

COMPOSE = DEPLOY / "compose"
PUBLISHED = {"us-east-1": 7101, "eu-west-1": 7102, "ap-southeast-2": 7103}


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor docker compose is installed (validate.sh installs it)")


@pytest.fixture(scope="module")
def config():
    result = subprocess.run(
        [*compose_command(), "--project-directory", str(COMPOSE), "-f", str(COMPOSE / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_project_name_is_fixed():
    assert "COMPOSE_PROJECT_NAME=meridian\n" in (COMPOSE / ".env").read_text()


def test_one_node_per_region(config):
    assert set(config["services"]) == {f"meridian-{r}" for r in REGIONS}
    for region, base in REGIONS.items():
        service = config["services"][f"meridian-{region}"]
        env = service["environment"]
        assert env["MERIDIAN_REGION"] == region
        assert env["MERIDIAN_DEPLOY_NODE_ID_BASE"] == str(base)
        assert env["MERIDIAN_DEPLOY_ORDINAL"] == "0"
        assert env["MERIDIAN_DEPLOY_ADVERTISE_HOST"] == service["hostname"] == f"meridian-{region}"
        assert service["entrypoint"] == ["/usr/local/bin/meridian-configure"]
        assert service["command"] == ["/usr/local/bin/meridian", "serve", "--config", "/etc/meridian/node.toml"]


def test_members_are_the_services(config):
    text = (COMPOSE / "config" / "voter.toml").read_text().replace("@NODE_ID@", "0")
    members = tomllib.loads(text)["cluster"]["bootstrap"]["members"]
    assert {m["id"]: (m["region"], m["grpc"]) for m in members} == {
        base: (region, f"http://meridian-{region}:{GRPC_PORT}") for region, base in REGIONS.items()
    }
    assert not (COMPOSE / "config" / "learner.toml").exists()


def test_http_is_published_on_loopback_only_and_grpc_not_at_all(config):
    for region, port in PUBLISHED.items():
        ports = config["services"][f"meridian-{region}"]["ports"]
        assert len(ports) == 1
        (published,) = ports
        # docker-compose 1.x prints the short form, Compose v2 the long one.
        if isinstance(published, str):
            assert published == f"127.0.0.1:{port}:{HTTP_PORT}/tcp"
        else:
            assert (published["host_ip"], int(published["published"]), published["target"]) == (
                "127.0.0.1",
                port,
                HTTP_PORT,
            )


def test_healthchecks_ask_readyz(config):
    for name, service in config["services"].items():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", name
        assert test[-1] == f"http://127.0.0.1:{HTTP_PORT}/readyz", name


def test_private_network_and_own_volumes(config):
    assert config["networks"] == {"meridian": {"driver": "bridge"}}
    volumes = []
    for region in REGIONS:
        service = config["services"][f"meridian-{region}"]
        assert list(service["networks"]) == ["meridian"]
        mounts = {}
        for volume in service["volumes"]:
            if isinstance(volume, str):
                source, target, *_ = volume.split(":")
            else:
                source, target = volume["source"], volume["target"]
            mounts[target] = source
        assert mounts["/var/lib/meridian"] == f"{region}-data"
        assert mounts["/etc/meridian-template"].endswith("deploy/compose/config")
        volumes.append(mounts["/var/lib/meridian"])
    assert sorted(volumes) == sorted(config["volumes"])


def test_secrets_kek_everywhere_administrator_on_node_one(config):
    assert set(config["secrets"]) == {"meridian-kek", "meridian-bootstrap-admin"}
    for region in REGIONS:
        secrets = {
            s if isinstance(s, str) else s["source"]
            for s in config["services"][f"meridian-{region}"]["secrets"]
        }
        expected = {"meridian-kek"} | ({"meridian-bootstrap-admin"} if region == "us-east-1" else set())
        assert secrets == expected, region


def test_nodes_run_unprivileged_on_a_read_only_root(config):
    for name, service in config["services"].items():
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        writable = {entry.split(":")[0] for entry in service["tmpfs"]}
        assert writable == {"/etc/meridian", "/run/meridian", "/tmp"}, name
