#!/usr/bin/env bash
# The README's run command: installs what is missing, then runs Meridian's
# main job. Once the `meridian` binary exists this is `meridian dev` (the local
# three-region cluster); until then it runs what exists: the core credential
# engine's demonstration (mint a credential set, open it, verify a SigV4
# request signed with it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
meridian_setup
cd "$MERIDIAN_ROOT"

if [ -d crates/meridian-cli ]; then
    exec cargo run --locked --quiet -p meridian-cli --bin meridian -- dev "$@"
fi
exec cargo run --locked --quiet -p meridian-core --example credential_demo -- "$@"
