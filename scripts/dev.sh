#!/usr/bin/env bash
# The README's run command: installs what is missing, builds the `meridian`
# binary and runs `meridian dev` — a local three-region cluster, one process
# per node, in ./meridian-dev of the checkout (arguments are passed on, e.g.
# --regions, --nodes-per-region, --data-dir, --base-port). It stays in the
# foreground until Ctrl-C, which stops every node; run it again to restart
# the same cluster from its data. From another shell:
#
#   . ./meridian-dev/env.sh && aws sts get-caller-identity
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
meridian_setup
cd "$MERIDIAN_ROOT"

# The contract's next step is `. ./meridian-dev/env.sh && aws sts
# get-caller-identity`: make sure an aws CLI exists (the pinned one from the
# compatibility suite's virtualenv when the machine has none).
if ! command -v aws >/dev/null 2>&1; then
    meridian_ensure_venv
    meridian_log "no aws CLI on PATH; the pinned one is at $MERIDIAN_VENV/bin/aws"
    meridian_log "use it with: export PATH=\"$MERIDIAN_VENV/bin:\$PATH\""
fi

exec cargo run --locked --quiet -p meridian-cli --bin meridian -- dev "$@"
