#!/usr/bin/env bash
# Runs every check and test of the workspace, installing what is missing first.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
meridian_setup
cd "$MERIDIAN_ROOT"

step() { echo "==> $*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
step "cargo test (unit, integration, benches in test mode)"
cargo test --workspace --all-targets --locked --quiet
step "cargo test --doc"
cargo test --workspace --doc --locked --quiet
step "compatibility suite (meridian dev driven by pinned boto3 and aws CLI)"
bash tests/compat/run.sh
step "side-by-side load comparison, short mode (meridian-load against meridian dev, OpenBao, moto)"
bash benches/peers/compare.sh --short
step "deploy manifests (kustomize overlays against the Kubernetes schemas, compose file, configure step)"
bash tests/deploy/validate.sh
step "all checks passed"
