#!/usr/bin/env bash
# The compatibility suite: starts a real `meridian dev` cluster (three
# regions, one process per node) and drives it with pinned boto3 and the aws
# CLI from a virtualenv, then always stops the cluster.
#
#   bash tests/compat/run.sh [pytest arguments…]
#
# * The venv lives in ${MERIDIAN_CACHE:-~/.cache/meridian}/venv-<hash of
#   requirements.txt> and is reused while requirements.txt is unchanged.
# * The `meridian` binary is built from this checkout (MERIDIAN_BIN=path
#   uses a prebuilt one instead).
# * The cluster runs in a temporary directory on a free port range; its
#   files and node logs are printed when something fails, and kept when
#   MERIDIAN_COMPAT_KEEP=1.
# * Tests read the cluster from MERIDIAN_CLUSTER (its cluster.json).
# * The nodes log at trace level (openraft and h2, whose frame-by-frame
#   traces would multiply the run time, at info; MERIDIAN_COMPAT_LOG
#   overrides). After the cluster stops, post_run_checks.py looks for every
#   secret the run created or sent (recorded by the secret_capture plugin)
#   in every log, and checks each node's audit trail with `meridian audit
#   verify` (and that edited, shortened and reordered copies fail).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "compat: $*" >&2; }

# --- Python environment -----------------------------------------------------
# shellcheck source=../../scripts/env.sh
source "$root/scripts/env.sh"
meridian_ensure_venv
# test_saml.py signs its SAML responses with the xmlsec1 CLI.
meridian_ensure_apt xmlsec1
export PATH="$MERIDIAN_VENV/bin:$PATH"

# --- the meridian binary ----------------------------------------------------
if [ -n "${MERIDIAN_BIN:-}" ]; then
    bin="$MERIDIAN_BIN"
else
    meridian_setup
    log "building meridian"
    (cd "$root" && cargo build --locked --quiet -p meridian-cli --bin meridian)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    bin="$target_dir/debug/meridian"
fi
[ -x "$bin" ] || { log "no meridian binary at $bin"; exit 1; }
# Tests that run the binary themselves (`meridian credentials`) find it here.
export MERIDIAN_BIN="$bin"
# Tests that drive `meridian admin …` run the same binary.
export MERIDIAN_EXECUTABLE="$bin"

# --- the cluster ------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-compat.XXXXXX")"
cluster_dir="$work/cluster"
# A base port whose 2 × 99 ports are free now (the nodes bind them a moment
# later; a collision in between fails loudly rather than flakily).
base_port="$(meridian_free_base_port)"

dev_pid=""
tests_ran=""
cleanup() {
    local status=$?
    if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
        log "stopping the cluster"
        kill -TERM "$dev_pid" 2>/dev/null || true
        for _ in $(seq 1 600); do
            kill -0 "$dev_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$dev_pid" 2>/dev/null; then
            log "meridian dev did not stop within 60 s; killing it"
            kill -KILL "$dev_pid" 2>/dev/null || true
            status=1
        fi
        local dev_status=0
        wait "$dev_pid" 2>/dev/null || dev_status=$?
        # Every node must have stopped on SIGTERM, within its grace period.
        if [ "$dev_status" -ne 0 ] || grep -q "killed after\|did not exit" "$work/dev.err"; then
            log "the cluster did not stop cleanly (meridian dev exit $dev_status)"
            [ "$status" -eq 0 ] && status=1
        else
            log "cluster stopped cleanly"
        fi
        if [ -n "$tests_ran" ] && ! python3 "$here/post_run_checks.py" "$bin" "$work" "$cluster_dir"; then
            [ "$status" -eq 0 ] && status=1
        fi
    fi
    if [ "$status" -ne 0 ] || [ "${MERIDIAN_COMPAT_KEEP:-0}" = 1 ]; then
        log "cluster files kept in $work"
        if [ "$status" -ne 0 ]; then
            log "--- meridian dev stderr"; tail -n 40 "$work/dev.err" >&2 || true
            for node_log in "$cluster_dir"/node-*.log; do
                [ -f "$node_log" ] || continue
                log "--- $node_log (last 30 lines)"; tail -n 30 "$node_log" >&2 || true
            done
        fi
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting meridian dev in $cluster_dir (base port $base_port)"
MERIDIAN_LOG="${MERIDIAN_COMPAT_LOG:-trace,openraft=info,h2=info}" \
    "$bin" dev --data-dir "$cluster_dir" --base-port "$base_port" --ready-timeout 120 \
    >"$work/dev.out" 2>"$work/dev.err" </dev/null &
dev_pid=$!

# `meridian dev` prints its summary once every node is ready and accepts the
# administrator's credentials.
for _ in $(seq 1 1500); do
    if grep -q "Ctrl-C stops every node" "$work/dev.out" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$dev_pid" 2>/dev/null; then
        log "meridian dev exited before the cluster was ready"
        exit 1
    fi
    sleep 0.1
done
grep -q "Ctrl-C stops every node" "$work/dev.out" || { log "cluster not ready within 150 s"; exit 1; }
cat "$work/dev.out" >&2

export MERIDIAN_CLUSTER="$cluster_dir/cluster.json"
cd "$here"
set +e
export MERIDIAN_COMPAT_SECRETS="$work/secrets.txt"
python -m pytest -p no:cacheprovider -p secret_capture "$@"
tests=$?
tests_ran=1
set -e
exit "$tests"
