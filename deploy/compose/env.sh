# shellcheck shell=bash
# Points the aws CLI and SDKs at one region of the compose cluster as its
# bootstrap administrator:
#   . deploy/compose/env.sh [us-east-1|eu-west-1|ap-southeast-2]
# (default us-east-1). The credentials come from secrets/admin.env (init.sh);
# the ports from the same variables docker-compose.yml reads.
meridian_compose_dir="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
case "${1:-us-east-1}" in
    us-east-1) meridian_compose_port="${MERIDIAN_US_EAST_1_PORT:-7101}" ;;
    eu-west-1) meridian_compose_port="${MERIDIAN_EU_WEST_1_PORT:-7102}" ;;
    ap-southeast-2) meridian_compose_port="${MERIDIAN_AP_SOUTHEAST_2_PORT:-7103}" ;;
    *) echo "env.sh: unknown region ${1}" >&2; return 1 ;;
esac
. "$meridian_compose_dir/secrets/admin.env"
# Long-term keys: a session token left from other work would be sent along.
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_REGION="${1:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$meridian_compose_port"
export AWS_ENDPOINT_URL_IAM="http://127.0.0.1:$meridian_compose_port"
unset meridian_compose_dir meridian_compose_port
