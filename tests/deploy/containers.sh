#!/usr/bin/env bash
# The container deployment, end to end (slow: not part of scripts/test.sh):
#
#   MERIDIAN_CONTAINER_TESTS=1 bash tests/deploy/containers.sh
#
#  1. builds the image (deploy/image/build.sh; MERIDIAN_IMAGE=name:tag uses an
#     existing one instead);
#  2. starts the compose cluster from a scratch copy of deploy/compose (its
#     own project name, secrets and ports, so an operator's cluster on this
#     machine is left alone) and waits until every node's /readyz healthcheck
#     passes;
#  3. runs a signed GetCallerIdentity with the bootstrap administrator's
#     credentials in each region (aws CLI) and a replicated IAM write made in
#     one region and read in the others;
#  4. kills one node (SIGKILL) and checks the other two keep serving:
#     GetCallerIdentity in both, and a write that still commits (two of three
#     voters) and replicates; restarts the killed node and checks it catches up;
#  5. runs the Kubernetes pod recipe with plain `docker run` (no Kubernetes
#     here): pods named and addressed as the StatefulSets name them (DNS
#     aliases <pod>.meridian-peer-<region>.meridian.svc.cluster.local), the
#     templates of deploy/k8s/base/config with their WAN timings, the
#     overlays' region settings, Secret files as Kubernetes mounts them under
#     fsGroup (root:10001, 0440), three voters and a learner that joins, a
#     restart policy standing in for the kubelet; then signs requests through
#     the voter of us-east-1 and the learner of eu-west-1;
#  6. always tears everything down (containers, networks, volumes, secrets).
#
# Every wait is bounded; the whole run takes a few minutes once the image
# exists. Traffic goes to 127.0.0.1 only (published ports); the nodes talk to
# each other on the compose project's private network.
set -euo pipefail

if [ "${MERIDIAN_CONTAINER_TESTS:-0}" != 1 ]; then
    echo "containers: skipped (set MERIDIAN_CONTAINER_TESTS=1 to build the image and run the compose cluster)"
    exit 0
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/env.sh
source "$root/scripts/env.sh"
log() { echo "containers: $*" >&2; }
passed=0
failed=0
check() {
    # check DESCRIPTION COMMAND...: runs COMMAND, counts and reports it.
    local description="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
        log "ok: $description"
    else
        failed=$((failed + 1))
        log "FAILED: $description"
    fi
}

# --- the aws CLI (the compatibility suite's pinned one) ----------------------
meridian_ensure_venv
aws="$MERIDIAN_VENV/bin/aws"

# --- the image --------------------------------------------------------------
if [ -n "${MERIDIAN_IMAGE:-}" ]; then
    image="$MERIDIAN_IMAGE"
else
    image="$(bash "$root/deploy/image/build.sh" | tail -n 1)"
fi
docker image inspect "$image" >/dev/null
log "image $image"

# --- a scratch copy of the compose deployment --------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-containers.XXXXXX")"
mkdir -p "$work/deploy"
cp -r "$root/deploy/compose" "$root/deploy/bin" "$work/deploy/"
rm -rf "$work/deploy/compose/secrets"
compose_dir="$work/deploy/compose"
project="meridian-test-$$"
export MERIDIAN_IMAGE="$image"
# Free loopback ports for the three regions.
read -r port_us port_eu port_ap < <(python3 - <<'EOF'
import socket
ports = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ports.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ports))
for s in ports:
    s.close()
EOF
)
export MERIDIAN_US_EAST_1_PORT="$port_us" MERIDIAN_EU_WEST_1_PORT="$port_eu" MERIDIAN_AP_SOUTHEAST_2_PORT="$port_ap"
compose() { timeout 300 docker-compose --project-directory "$compose_dir" -f "$compose_dir/docker-compose.yml" -p "$project" "$@"; }

teardown() {
    local status=$?
    if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
        log "node logs (last 40 lines each):"
        compose logs --no-color --tail 40 >&2 || true
    fi
    log "tearing down $project"
    compose down --volumes --remove-orphans --timeout 30 >/dev/null 2>&1 || true
    local pods
    pods="$(docker ps -aq --filter "label=io.meridian.test=$project")"
    if [ -n "$pods" ]; then
        if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
            for pod in $pods; do
                log "pod $(docker inspect --format '{{.Name}}' "$pod") (last 30 lines):"
                docker logs --tail 30 "$pod" >&2 2>&1 || true
            done
        fi
        # shellcheck disable=SC2086
        docker rm -f $pods >/dev/null 2>&1 || true
    fi
    docker volume ls -q --filter "label=io.meridian.test=$project" | xargs -r docker volume rm >/dev/null 2>&1 || true
    docker network rm "$project-k8s" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap teardown EXIT

# --- secrets and bring-up -----------------------------------------------------
bash "$compose_dir/init.sh" --account-name containers-test
account="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["account_id"])' "$compose_dir/secrets/admin.json")"
log "starting $project (us-east-1 :$port_us, eu-west-1 :$port_eu, ap-southeast-2 :$port_ap)"
compose up -d >&2

container_of() { compose ps -q "meridian-$1"; }
health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(container_of "$1")" 2>/dev/null || echo gone; }
wait_healthy() {
    # wait_healthy SECONDS REGION...
    local deadline=$((SECONDS + $1)) region all
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        all=1
        for region in "$@"; do
            [ "$(health_of "$region")" = healthy ] || all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 2
    done
    for region in "$@"; do log "$region: $(health_of "$region")"; done
    return 1
}
started=$SECONDS
if ! wait_healthy 180 us-east-1 eu-west-1 ap-southeast-2; then
    log "the cluster did not become healthy within 180 s"
    exit 1
fi
log "all three nodes healthy after $((SECONDS - started)) s"

# --- the aws CLI against each region -----------------------------------------
# as_admin REGION aws-arguments...: the bootstrap administrator in REGION, as
# deploy/compose/env.sh sets it up for an operator.
as_admin() {
    local region="$1"
    shift
    (
        # shellcheck source=/dev/null
        . "$compose_dir/env.sh" "$region"
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
            timeout 60 "$aws" --cli-read-timeout 10 --cli-connect-timeout 5 "$@"
    )
}
caller_is_admin() {
    local region="$1" out
    out="$(as_admin "$region" sts get-caller-identity --output json)" || return 1
    printf '    %s: %s\n' "$region" "$out" >&2
    python3 - "$out" "$account" <<'EOF'
import json, sys
identity = json.loads(sys.argv[1])
account = sys.argv[2]
assert identity["Account"] == account, identity
assert identity["Arn"] == f"arn:aws:iam::{account}:user/admin", identity
assert identity["UserId"].startswith("AIDA"), identity
EOF
}
# eventually SECONDS COMMAND...: retries COMMAND until it succeeds.
eventually() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# create_user REGION NAME: creates the user, or finds it created by an
# earlier attempt whose answer was lost.
create_user() {
    as_admin "$1" iam create-user --user-name "$2" >/dev/null 2>&1 ||
        as_admin "$1" iam get-user --user-name "$2" >/dev/null 2>&1
}

for region in us-east-1 eu-west-1 ap-southeast-2; do
    check "signed GetCallerIdentity in $region answers as the bootstrap administrator" caller_is_admin "$region"
done
check "the nodes run as user 10001" test "$(docker exec "$(container_of us-east-1)" /bin/id -u)" = 10001
check "the nodes' root file system is read-only" \
    test "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$(container_of eu-west-1)")" = true
check "the administrator bootstrap file was consumed on node 1" \
    docker exec "$(container_of us-east-1)" /bin/sh -c '! test -e /var/lib/meridian/bootstrap-admin.json'
check "an IAM user created in us-east-1" eventually 20 create_user us-east-1 replicated-1
for region in eu-west-1 ap-southeast-2; do
    check "is replicated to $region" eventually 20 as_admin "$region" iam get-user --user-name replicated-1
done

# --- one node down ------------------------------------------------------------
# Node 1 initialised the cluster and most likely leads: killing it also forces
# an election among the two that remain.
log "killing meridian-us-east-1 (SIGKILL)"
killed_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
docker kill "$(container_of us-east-1)" >/dev/null
for region in eu-west-1 ap-southeast-2; do
    check "with us-east-1 down, GetCallerIdentity in $region still answers" caller_is_admin "$region"
done
check "with us-east-1 down, a write in eu-west-1 commits (2 of 3 voters)" \
    eventually 30 create_user eu-west-1 replicated-2
check "and is replicated to ap-southeast-2" eventually 20 as_admin ap-southeast-2 iam get-user --user-name replicated-2
check "the healthchecks of the two nodes left stay healthy" wait_healthy 30 eu-west-1 ap-southeast-2
# Informational: whether the kill cost the cluster its leader.
for region in eu-west-1 ap-southeast-2; do
    elected="$(docker logs --since "$killed_at" "$(container_of "$region")" 2>&1 | grep -o 'id=[0-9]* becomes leader' | tail -n 1 || true)"
    [ -z "$elected" ] || log "after the kill, in $region's log: $elected"
done

log "restarting meridian-us-east-1"
compose start meridian-us-east-1 >&2
check "us-east-1 is healthy again after a restart from its volume" wait_healthy 120 us-east-1
check "and has caught up with the write made while it was down" \
    eventually 30 as_admin us-east-1 iam get-user --user-name replicated-2
check "GetCallerIdentity in us-east-1 answers again" caller_is_admin us-east-1

log "stopping the compose cluster"
compose down --volumes --timeout 30 >/dev/null 2>&1

# --- the Kubernetes pod recipe, with docker run --------------------------------
# Region -> node id base and the domain each pod advertises: the values of
# deploy/k8s/overlays/<region>/region.yaml (tests/deploy/test_k8s.py pins them).
declare -A base=([us-east-1]=1 [eu-west-1]=101 [ap-southeast-2]=201)
k8s_secrets="$work/k8s-secrets"
python3 "$root/deploy/bin/meridian-secrets" --out "$k8s_secrets" --account-name k8s-test
k8s_account="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["account_id"])' "$k8s_secrets/admin.json")"
# As a Secret volume under fsGroup 10001 shows them: root:10001, mode 0440.
mkdir -p "$work/secret-kek" "$work/secret-admin"
cp "$k8s_secrets/kek" "$work/secret-kek/kek"
cp "$k8s_secrets/bootstrap-admin.json" "$work/secret-admin/bootstrap-admin.json"
docker run --rm --network none --user 0:0 --entrypoint /bin/sh \
    -v "$work/secret-kek:/k" -v "$work/secret-admin:/a" "$image" \
    -c 'chown 0:10001 /k/kek /a/bootstrap-admin.json && chmod 0440 /k/kek /a/bootstrap-admin.json'
docker network create --label "io.meridian.test=$project" "$project-k8s" >/dev/null

# start_pod REGION ORDINAL: one StatefulSet pod, init step and node in one
# container (the init container's work is the same script with the same
# environment; the emptyDirs become tmpfs mounts).
start_pod() {
    local region="$1" pod="meridian-$1-$2"
    local domain="meridian-peer-$1.meridian.svc.cluster.local"
    docker volume create --label "io.meridian.test=$project" "$project-data-$pod" >/dev/null
    docker run -d --name "$project-$pod" --label "io.meridian.test=$project" \
        --hostname "$pod" --network "$project-k8s" --network-alias "$pod.$domain" \
        --restart on-failure:5 --read-only --cap-drop ALL --security-opt no-new-privileges:true \
        --user 10001:10001 --group-add 10001 \
        --tmpfs /etc/meridian:size=1m,uid=10001,gid=10001,mode=0755 \
        --tmpfs /run/meridian:size=1m,uid=10001,gid=10001,mode=0700 \
        --tmpfs /tmp:size=64m,uid=10001,gid=10001,mode=1777 \
        -v "$root/deploy/k8s/base/config:/etc/meridian-template:ro" \
        -v "$project-data-$pod:/var/lib/meridian" \
        -v "$work/secret-kek:/run/secrets/meridian/kek:ro" \
        -v "$work/secret-admin:/run/secrets/meridian/bootstrap-admin:ro" \
        -e MERIDIAN_REGION="$region" \
        -e MERIDIAN_DEPLOY_NODE_ID_BASE="${base[$region]}" \
        -e MERIDIAN_DEPLOY_ADVERTISE_DOMAIN="$domain" \
        -e MERIDIAN_DEPLOY_KEK_SECRET=/run/secrets/meridian/kek/kek \
        -e MERIDIAN_DEPLOY_ADMIN_SECRET=/run/secrets/meridian/bootstrap-admin/bootstrap-admin.json \
        -e MERIDIAN_LOG_FORMAT=json \
        -p 127.0.0.1::7101 \
        --health-cmd "/bin/wget -q -O /dev/null http://127.0.0.1:7101/readyz" \
        --health-interval 2s --health-retries 3 --health-start-period 60s \
        --entrypoint /usr/local/bin/meridian-configure \
        "$image" /usr/local/bin/meridian serve --config /etc/meridian/node.toml >/dev/null
}
pod_health() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$project-$1" 2>/dev/null || echo gone; }
pods_healthy() {
    local deadline=$((SECONDS + $1)) pod all
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        all=1
        for pod in "$@"; do
            [ "$(pod_health "$pod")" = healthy ] || all=0
        done
        [ "$all" = 1 ] && return 0
        sleep 2
    done
    for pod in "$@"; do log "$pod: $(pod_health "$pod")"; done
    return 1
}
pod_url() { echo "http://$(docker port "$project-$1" 7101/tcp | head -n 1)"; }
# as_k8s_admin POD REGION aws-arguments...: the administrator against one pod.
as_k8s_admin() {
    local url region="$2"
    url="$(pod_url "$1")"
    shift 2
    (
        # shellcheck source=/dev/null
        . "$k8s_secrets/admin.env"
        unset AWS_SESSION_TOKEN AWS_PROFILE
        AWS_REGION="$region" AWS_DEFAULT_REGION="$region" \
            AWS_ENDPOINT_URL_STS="$url" AWS_ENDPOINT_URL_IAM="$url" \
            AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
            timeout 60 "$aws" --cli-read-timeout 10 --cli-connect-timeout 5 "$@"
    )
}
k8s_caller_is_admin() {
    local out
    out="$(as_k8s_admin "$1" "$2" sts get-caller-identity --output json)" || return 1
    printf '    %s: %s\n' "$1" "$out" >&2
    python3 - "$out" "$k8s_account" <<'EOF'
import json, sys
identity = json.loads(sys.argv[1])
account = sys.argv[2]
assert identity["Arn"] == f"arn:aws:iam::{account}:user/admin", identity
EOF
}
k8s_create_user() {
    as_k8s_admin "$1" "$2" iam create-user --user-name "$3" >/dev/null 2>&1 ||
        as_k8s_admin "$1" "$2" iam get-user --user-name "$3" >/dev/null 2>&1
}
k8s_pods=(meridian-us-east-1-0 meridian-eu-west-1-0 meridian-ap-southeast-2-0 meridian-eu-west-1-1)
log "starting the Kubernetes-shaped pods: ${k8s_pods[*]}"
# All at once, as podManagementPolicy: Parallel starts them.
start_pod us-east-1 0
start_pod eu-west-1 0
start_pod ap-southeast-2 0
start_pod eu-west-1 1
started=$SECONDS
check "three voters and a learner (WAN timings) become ready" pods_healthy 180 "${k8s_pods[@]}"
log "pods ready after $((SECONDS - started)) s"
check "the learner meridian-eu-west-1-1 is node 102 and advertises its pod DNS name" \
    sh -c "docker logs '$project-meridian-eu-west-1-1' 2>&1 | grep -q 'node 102 (learner, region eu-west-1, meridian-eu-west-1-1.meridian-peer-eu-west-1.meridian.svc.cluster.local)'"
check "signed GetCallerIdentity through the us-east-1 voter" k8s_caller_is_admin meridian-us-east-1-0 us-east-1
check "signed GetCallerIdentity through the eu-west-1 learner" k8s_caller_is_admin meridian-eu-west-1-1 eu-west-1
check "a user created through the us-east-1 voter" \
    eventually 20 k8s_create_user meridian-us-east-1-0 us-east-1 k8s-replicated
check "is replicated to the eu-west-1 learner" \
    eventually 20 as_k8s_admin meridian-eu-west-1-1 eu-west-1 iam get-user --user-name k8s-replicated

echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
