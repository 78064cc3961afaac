"""Shared helpers of the deploy validation suite.

Paths of deploy/, the regions and their node-id bases (the values the
overlays and the compose file must agree on), kustomize rendering through
pykustomize (the Go kustomize API that `kubectl apply -k` uses), and a runner
for meridian-configure under a chosen shell.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
CONFIGURE = DEPLOY / "image" / "rootfs" / "usr" / "local" / "bin" / "meridian-configure"
SECRETS_TOOL = DEPLOY / "bin" / "meridian-secrets"

# Region -> node id of its ordinal 0. Pod N of a region is node base + N.
REGIONS = {"us-east-1": 1, "eu-west-1": 101, "ap-southeast-2": 201}
NAMESPACE = "meridian"
HTTP_PORT = 7101
GRPC_PORT = 7201


def workspace_version() -> str:
    """The version in the root Cargo.toml (what `meridian --version` prints)."""
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def kustomize_build(path: Path) -> list[dict]:
    """Renders a kustomization as `kubectl kustomize` does; its objects in order."""
    import pykustomize

    result = asyncio.run(pykustomize.build(str(path)))
    return [doc for doc in yaml.safe_load_all(result.yaml) if doc is not None]


_RENDERED: dict[str, list[dict]] = {}


@pytest.fixture(scope="session")
def rendered():
    """Every kustomization's objects, rendered once: 'namespace' and each region."""

    def get(name: str) -> list[dict]:
        if name not in _RENDERED:
            path = K8S / "namespace" if name == "namespace" else K8S / "overlays" / name
            _RENDERED[name] = kustomize_build(path)
        return _RENDERED[name]

    return get


def only(objects: list[dict], kind: str) -> dict:
    """The one object of `kind`."""
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def shells() -> list[tuple[str, list[str], Path | None]]:
    """The shells meridian-configure is tried under: (name, argv prefix, PATH dir).

    dash is the host's /bin/sh; busybox is the image's own shell, run with a
    PATH of busybox applets only, as in the image. validate.sh provides it.
    """
    found = [("dash", [shutil.which("dash") or "/bin/sh"], None)]
    busybox = os.environ.get("MERIDIAN_TEST_BUSYBOX")
    if busybox and os.access(busybox, os.X_OK):
        found.append(("busybox", [busybox, "sh"], Path(busybox)))
    return found


def busybox_path(busybox: Path, where: Path) -> str:
    """A directory of links to every busybox applet, as the image has in /bin."""
    bindir = where / "busybox-bin"
    if not bindir.exists():
        bindir.mkdir()
        applets = subprocess.run(
            [str(busybox), "--list"], check=True, capture_output=True, text=True, timeout=10
        ).stdout.split()
        for applet in applets:
            (bindir / applet).symlink_to(busybox)
    return str(bindir)


def run_configure(
    shell: tuple[str, list[str], Path | None],
    env: dict[str, str],
    where: Path,
    args: list[str] | None = None,
) -> subprocess.CompletedProcess:
    """Runs meridian-configure with exactly `env` (plus PATH) under `shell`."""
    name, argv, busybox = shell
    full_env = dict(env)
    full_env["PATH"] = busybox_path(busybox, where) if busybox else "/usr/bin:/bin"
    return subprocess.run(
        [*argv, str(CONFIGURE), *(args or [])],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
