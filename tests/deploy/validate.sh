#!/usr/bin/env bash
# Validates deploy/ without starting anything (scripts/test.sh runs it):
#
#  * each Kubernetes kustomization (deploy/k8s/namespace and every region's
#    overlay) renders with kustomize and every object is valid against the
#    Kubernetes JSON schemas (strict: no unknown fields), plus the checks that
#    tie the parts together (selectors, names, ports, probes, node ids, the
#    member list against the advertised names);
#  * the compose file parses (`docker-compose config`) and keeps its promises
#    (HTTP published on 127.0.0.1 only, healthchecks on /readyz, ...);
#  * meridian-configure renders configs and places secrets as both regions'
#    nodes need, under dash and under the image's busybox;
#  * deploy/bin/meridian-secrets writes what the node accepts (through
#    `meridian init`: the binary is built from this checkout unless
#    MERIDIAN_BIN names one).
#
#   bash tests/deploy/validate.sh [pytest arguments…]
#
# Setup (once per machine, then offline): a virtualenv under the cache keyed
# by the hash of the requirements files, docker-compose from Debian if
# missing, and Debian's busybox-static package file (downloaded, not
# installed) in the cache the image build also uses.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/env.sh
source "$here/../../scripts/env.sh"
log() { echo "deploy: $*" >&2; }

# --- Python environment -----------------------------------------------------
command -v python3 >/dev/null 2>&1 || meridian_ensure_apt python3 python3-venv
hash="$(cat "$here/requirements.txt" "$here/requirements-kustomize.txt" | sha256sum | cut -c1-16)"
venv="$MERIDIAN_CACHE/deploy-venv-$hash"
mkdir -p "$MERIDIAN_CACHE"
(
    # One creator at a time; a second caller waits, then finds it complete.
    flock 9
    if [ ! -f "$venv/.complete" ]; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            meridian_ensure_apt python3-venv
            python3 -m venv "$venv"
        fi
        log "installing kustomize (pykustomize), kubernetes-validate and pytest into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-deps --ignore-requires-python -r "$here/requirements-kustomize.txt"
        touch "$venv/.complete"
    fi
) 9>"$MERIDIAN_CACHE/deploy-venv.lock"

# --- docker-compose (parsing needs no Docker engine) ------------------------
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
    meridian_ensure_apt docker-compose
fi

# --- busybox, the image's shell ---------------------------------------------
debs="$MERIDIAN_CACHE/image-debs"
busybox="$MERIDIAN_CACHE/deploy-busybox/bin/busybox"
if [ ! -x "$busybox" ]; then
    mkdir -p "$debs"
    deb="$(find "$debs" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)"
    if [ -z "$deb" ]; then
        if ! (cd "$debs" && apt-get download -qq busybox-static >/dev/null 2>&1); then
            sudo=""
            [ "$(id -u)" -ne 0 ] && sudo="sudo"
            $sudo apt-get update -qq >/dev/null
            (cd "$debs" && apt-get download -qq busybox-static >/dev/null)
        fi
        deb="$(find "$debs" -maxdepth 1 -name 'busybox-static_*.deb' | sort | tail -n 1)"
    fi
    rm -rf "$MERIDIAN_CACHE/deploy-busybox"
    dpkg-deb -x "$deb" "$MERIDIAN_CACHE/deploy-busybox"
fi
export MERIDIAN_TEST_BUSYBOX="$busybox"

# --- the meridian binary (meridian-secrets runs `meridian init`) -------------
if [ -z "${MERIDIAN_BIN:-}" ]; then
    root="$(cd "$here/../.." && pwd)"
    meridian_setup
    log "building meridian"
    (cd "$root" && cargo build --locked --quiet -p meridian-cli --bin meridian)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    export MERIDIAN_BIN="$target_dir/debug/meridian"
fi
[ -x "$MERIDIAN_BIN" ] || { log "no meridian binary at $MERIDIAN_BIN"; exit 1; }

cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
