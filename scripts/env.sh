# shellcheck shell=bash
# Sourced by scripts/dev.sh, scripts/test.sh and .ci/run: makes sure this
# machine has what a Meridian build needs, quietly when it already does.
#
#  * Debian packages: libclang (bindgen for RocksDB's bindings), pkg-config, a
#    C/C++ toolchain (aws-lc, RocksDB).
#  * RocksDB's C++ library, compiled once per machine into a cache outside any
#    checkout and linked from there (ROCKSDB_LIB_DIR), so neither a fresh clone
#    nor a `cargo clean` pays its ~15 CPU-minutes (at -O2) again.
#
# Every build on this machine must see the same ROCKSDB_* values, or cargo
# re-runs librocksdb-sys's build script; that is why they are set here and
# only here.

MERIDIAN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MERIDIAN_CACHE="${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}"
export MERIDIAN_ROOT MERIDIAN_CACHE

meridian_log() { echo "meridian: $*" >&2; }

meridian_ensure_apt() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    meridian_log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

meridian_ensure_toolchain() {
    if ! command -v cargo >/dev/null 2>&1; then
        meridian_log "cargo is not on PATH; install the Rust toolchain named in rust-toolchain.toml (rustup)"
        return 1
    fi
}

# The librocksdb-sys version the workspace resolves to must be the one the
# prebuild manifest pins, or the cached archive would not match the bindings.
meridian_rocksdb_version() {
    sed -n 's/^librocksdb-sys = { version = "=\([^"]*\)".*/\1/p' "$MERIDIAN_ROOT/scripts/rocksdb-prebuild/Cargo.toml"
}

meridian_ensure_rocksdb() {
    local version lock_version dir build_dir archive
    version="$(meridian_rocksdb_version)"
    lock_version="$(awk '/^name = "librocksdb-sys"$/ {getline; gsub(/version = |"/, ""); print}' "$MERIDIAN_ROOT/Cargo.lock" 2>/dev/null || true)"
    if [ -n "$lock_version" ] && [ "$lock_version" != "$version" ]; then
        meridian_log "Cargo.lock has librocksdb-sys $lock_version but scripts/rocksdb-prebuild pins $version; update the pin"
        return 1
    fi
    dir="$MERIDIAN_CACHE/rocksdb/$version-nocodecs-O2"
    if [ ! -f "$dir/librocksdb.a" ]; then
        mkdir -p "$MERIDIAN_CACHE"
        (
            # One builder at a time; a second caller waits, then finds the archive.
            flock 9
            if [ -f "$dir/librocksdb.a" ]; then exit 0; fi
            build_dir="$MERIDIAN_CACHE/rocksdb-build"
            meridian_log "building RocksDB $version once for this machine (about 10 minutes of wall time on 2 cores, 15 CPU-minutes)"
            (
                cd "$MERIDIAN_ROOT/scripts/rocksdb-prebuild"
                unset ROCKSDB_LIB_DIR ROCKSDB_STATIC
                CARGO_TARGET_DIR="$build_dir" cargo build --release --locked --quiet
            )
            archive="$(find "$build_dir/release/build" -path '*librocksdb-sys-*/out/librocksdb.a' | head -n 1)"
            if [ -z "$archive" ]; then
                meridian_log "the RocksDB build produced no librocksdb.a"
                exit 1
            fi
            rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
            cp "$archive" "$dir.tmp/librocksdb.a"
            rm -rf "$dir" && mv "$dir.tmp" "$dir"
            rm -rf "$build_dir"
        ) 9>"$MERIDIAN_CACHE/rocksdb.lock"
    fi
    export ROCKSDB_LIB_DIR="$dir"
    export ROCKSDB_STATIC=1
}

# A Python virtualenv with the pinned aws CLI, boto3 and botocore of
# tests/compat/requirements.txt, created once per machine (keyed by the hash of
# that file) under the cache. Exports MERIDIAN_VENV.
meridian_ensure_venv() {
    local requirements="$MERIDIAN_ROOT/tests/compat/requirements.txt" hash venv
    command -v python3 >/dev/null 2>&1 || meridian_ensure_apt python3 python3-venv
    hash="$(sha256sum "$requirements" | cut -c1-16)"
    venv="$MERIDIAN_CACHE/venv-$hash"
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
            meridian_log "installing the pinned aws CLI, boto3 and pytest into $venv"
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
            touch "$venv/.complete"
        fi
    ) 9>"$MERIDIAN_CACHE/venv.lock"
    export MERIDIAN_VENV="$venv"
}

# Prints a base port B (a multiple of 200 in 20000-60000) such that the
# ports B+1..B+9 and B+101..B+109 that `meridian dev --base-port B` binds are
# free now (the nodes bind them a moment later; a collision in between fails
# loudly rather than flakily).
meridian_free_base_port() {
    python3 - <<'EOF'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for _ in range(200):
    base = random.randrange(20000, 60000, 200)
    if all(free(base + n) and free(base + 100 + n) for n in range(1, 10)):
        print(base)
        break
else:
    raise SystemExit("no free port range")
EOF
}

meridian_setup() {
    meridian_ensure_apt build-essential pkg-config libclang-dev xmlsec1
    meridian_ensure_toolchain
    meridian_ensure_rocksdb
}
