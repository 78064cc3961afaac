#!/usr/bin/env bash
# Builds the container image meridian:<version> (and meridian:latest) without
# pulling anything from a registry: no base image, no Dockerfile. The root
# file system is assembled here from what this machine builds and Debian's
# packages, and `docker import`ed:
#
#   /usr/local/bin/meridian            the release binary (RocksDB linked
#                                      statically from the prebuilt archive)
#   /lib*, /usr/lib*                   the shared libraries `ldd` lists (glibc,
#                                      libstdc++, libgcc_s, libm) and the loader
#   /usr/local/bin/meridian-configure  renders node.toml per node (rootfs/)
#   /bin/busybox + applet links        from Debian's busybox-static: the shell
#                                      for meridian-configure, wget for compose
#                                      healthchecks
#   /etc/ssl/certs/ca-certificates.crt from Debian's ca-certificates
#   /etc/passwd, group, nsswitch.conf  user meridian (10001), no login (rootfs/)
#   /tmp (1777), /var/lib/meridian, /etc/meridian, /run/meridian (10001)
#
# ENTRYPOINT meridian, CMD serve --config /etc/meridian/node.toml, USER
# 10001:10001, EXPOSE 7101 (HTTP) 7201 (gRPC), VOLUME /var/lib/meridian.
#
# Idempotent: the root file system is packed reproducibly (sorted, fixed
# owners and times), and when the image already carries that archive's digest
# the import is skipped. Bounded: the cargo build and the import run under
# timeouts (MERIDIAN_IMAGE_BUILD_TIMEOUT, default 3600 s).
#
# Usage: deploy/image/build.sh [--binary PATH] [--repository NAME]
#   --binary PATH      package this binary instead of building one
#   --repository NAME  image name (default meridian)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/env.sh
source "$here/../../scripts/env.sh"

binary=""
repository="meridian"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --repository) repository="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
limit="${MERIDIAN_IMAGE_BUILD_TIMEOUT:-3600}"
log() { echo "deploy/image: $*" >&2; }

command -v docker >/dev/null || { log "docker is not installed"; exit 1; }

revision="$(git -C "$MERIDIAN_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ -z "$binary" ]; then
    meridian_setup
    target_dir="${CARGO_TARGET_DIR:-$MERIDIAN_ROOT/target}"
    # The node logs this in its startup line; a tree with uncommitted changes
    # to tracked files says so.
    git_sha="$revision"
    if [ -n "$(git -C "$MERIDIAN_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        git_sha="$revision-dirty"
    fi
    log "building the release binary ($git_sha) in $target_dir (RocksDB from $ROCKSDB_LIB_DIR)"
    (cd "$MERIDIAN_ROOT" && MERIDIAN_GIT_SHA="$git_sha" timeout "$limit" cargo build --release --locked --quiet -p meridian-cli --bin meridian)
    binary="$target_dir/release/meridian"
fi
[ -x "$binary" ] || { log "no executable at $binary"; exit 1; }
version="$("$binary" --version | awk '{print $2}')"
case "$version" in
    [0-9]*) ;;
    *) log "cannot read the version from $binary --version"; exit 1 ;;
esac

# Debian packages are downloaded, not installed: busybox-static conflicts
# with the host's busybox, and the image needs only their files.
debs="$MERIDIAN_CACHE/image-debs"
mkdir -p "$debs"
fetch_deb() {
    local package="$1" found
    found="$(find "$debs" -maxdepth 1 -name "${package}_*.deb" | sort | tail -n 1)"
    if [ -z "$found" ]; then
        if ! (cd "$debs" && apt-get download -qq "$package" >/dev/null 2>&1); then
            local sudo=""
            [ "$(id -u)" -ne 0 ] && sudo="sudo"
            $sudo apt-get update -qq >/dev/null
            (cd "$debs" && apt-get download -qq "$package" >/dev/null)
        fi
        found="$(find "$debs" -maxdepth 1 -name "${package}_*.deb" | sort | tail -n 1)"
    fi
    [ -n "$found" ] || { log "apt-get download $package produced no file"; return 1; }
    echo "$found"
}
busybox_deb="$(fetch_deb busybox-static)"
ca_deb="$(fetch_deb ca-certificates)"

work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
owned="$work/owned"
mkdir -p "$rootfs"/{bin,etc/ssl/certs,usr/local/bin,var/lib} "$rootfs/tmp" \
    "$owned"/{etc/meridian,run/meridian,var/lib/meridian}
mkdir -p "$rootfs/run"
chmod 1777 "$rootfs/tmp"

# The binary and its shared libraries, at the paths the loader looks them up.
install -m 0755 "$binary" "$rootfs/usr/local/bin/meridian"
libraries="$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')"
[ -n "$libraries" ] || { log "ldd lists no library for $binary"; exit 1; }
for library in $libraries; do
    cp -L --parents "$library" "$rootfs/"
done
install -m 0755 "$here/rootfs/usr/local/bin/meridian-configure" "$rootfs/usr/local/bin/"
install -m 0644 "$here/rootfs/etc/passwd" "$here/rootfs/etc/group" "$here/rootfs/etc/nsswitch.conf" "$rootfs/etc/"

# busybox, with a link per applet.
dpkg-deb -x "$busybox_deb" "$work/busybox"
install -m 0755 "$work/busybox/bin/busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done

# The CA bundle update-ca-certificates would make from the package (every
# certificate it ships is enabled by default), in a fixed order.
dpkg-deb -x "$ca_deb" "$work/ca"
find "$work/ca/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat >"$rootfs/etc/ssl/certs/ca-certificates.crt"
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || { log "the CA bundle is empty"; exit 1; }
chmod 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt"

# One reproducible archive: root's files, then the node's directories owned
# by 10001 (appended, so no chown and no root are needed here).
chmod 0755 "$owned"/etc/meridian "$owned"/var/lib/meridian
chmod 0700 "$owned"/run/meridian
pack=(--sort=name --mtime=@0 --numeric-owner --format=posix
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime")
tar -C "$rootfs" "${pack[@]}" --owner=0 --group=0 -cf "$work/rootfs.tar" .
tar -C "$owned" "${pack[@]}" --owner=10001 --group=10001 --no-recursion \
    -rf "$work/rootfs.tar" ./etc/meridian ./run/meridian ./var/lib/meridian
digest="$(sha256sum "$work/rootfs.tar" | cut -c1-64)"

tag="$repository:$version"
current="$(docker image inspect --format '{{index .Config.Labels "io.meridian.rootfs.sha256"}}' "$tag" 2>/dev/null || true)"
if [ "$current" = "$digest" ]; then
    log "$tag is up to date (root file system sha256 $digest)"
else
    timeout "$limit" docker import \
        --change 'ENTRYPOINT ["/usr/local/bin/meridian"]' \
        --change 'CMD ["serve", "--config", "/etc/meridian/node.toml"]' \
        --change 'USER 10001:10001' \
        --change 'WORKDIR /var/lib/meridian' \
        --change 'EXPOSE 7101/tcp 7201/tcp' \
        --change 'VOLUME /var/lib/meridian' \
        --change 'ENV PATH=/usr/local/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change "LABEL org.opencontainers.image.title=meridian org.opencontainers.image.version=$version org.opencontainers.image.revision=$revision io.meridian.rootfs.sha256=$digest" \
        --message "meridian $version from deploy/image/build.sh" \
        "$work/rootfs.tar" "$tag" >/dev/null
    log "imported $tag (root file system sha256 $digest)"
fi
docker tag "$tag" "$repository:latest"
size="$(docker image inspect --format '{{.Size}}' "$tag")"
log "$tag and $repository:latest ready ($((size / 1024 / 1024)) MiB)"
echo "$tag"
