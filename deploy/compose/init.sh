#!/usr/bin/env bash
# Makes the compose cluster's secrets once: ./secrets/{kek,bootstrap-admin.json}
# for the nodes (owned by the node's user 10001, mode 0600, as the node
# requires of key files) and ./secrets/{admin.json,admin.env} for you (the
# administrator's credentials; source env.sh to use them). Idempotent: a
# complete ./secrets is left as it is.
#
# Handing the files to user 10001 needs root: as root this chowns them
# directly, otherwise it runs chown in a throwaway container of the image
# (anyone who may run containers may do that).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secrets="$here/secrets"
image="${MERIDIAN_IMAGE:-meridian:latest}"

python3 "$here/../bin/meridian-secrets" --out "$secrets" "$@"

node_files=("$secrets/kek" "$secrets/bootstrap-admin.json")
owner="$(stat -c %u:%g "${node_files[@]}" | sort -u)"
if [ "$owner" = "10001:10001" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    chown 10001:10001 "${node_files[@]}"
else
    docker run --rm --network none --user 0:0 --entrypoint /bin/chown \
        -v "$secrets:/secrets" "$image" 10001:10001 /secrets/kek /secrets/bootstrap-admin.json
fi
echo "init.sh: node secrets in $secrets belong to the node's user (10001)" >&2
