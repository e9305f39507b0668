#!/usr/bin/env bash
# Build a debian:bookworm-slim-compatible base image offline (no image registry needed).
#
#   docker/build-base.sh [--force]
#
# Makes IMAGE (default manrs-lab/base:bookworm) with
#   debootstrap --variant=minbase bookworm ROOT $DEBIAN_MIRROR
#   tar -C ROOT -c . | docker import - IMAGE
# and trims it the way the official "slim" images are trimmed (no docs/man/locales,
# Docker's apt settings, deb822 sources for bookworm, -updates and -security).
# Skips the work when IMAGE already exists (idempotent); --force rebuilds it.
# Needs root (debootstrap) and a running Docker engine.
#
# Environment: BASE_IMAGE (tag to create), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security), SUITE (bookworm),
# SKIP_UPGRADE=1 (do not apply the -updates/-security upgrades after debootstrap).
set -euo pipefail

IMAGE=${BASE_IMAGE:-manrs-lab/base:bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
FORCE=0

say() { printf 'build-base: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done

command -v docker >/dev/null 2>&1 || die "docker is not installed (run docker/start-dockerd.sh)"
docker info >/dev/null 2>&1 || die "the Docker engine is not running (run docker/start-dockerd.sh)"

if [ "$FORCE" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE already exists; skipping (use --force to rebuild)"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it)"

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

WORK=$(mktemp -d /var/tmp/manrs-base.XXXXXX)
ROOT=$WORK/rootfs
cleanup() {
    set +e
    # debootstrap mounts proc/sys inside ROOT; never rm -rf across a mount.
    findmnt -rn -o TARGET 2>/dev/null | grep -F "$ROOT" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

start=$SECONDS
say "debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi

say "trimming the root file system (slim layout)"
# Same dpkg excludes as the official slim images.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# This is the "slim" variant of the Debian base image (made by manrs-lab's build-base.sh).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
# Docker's usual apt settings (as in the official images).
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::GzipIndexes "true";' >"$ROOT/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Acquire::Languages "none";' >"$ROOT/etc/apt/apt.conf.d/docker-no-languages"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$ROOT/etc/apt/apt.conf.d/docker-autoremove-suggests"
# deb822 sources, as in debian:bookworm-slim.
rm -f "$ROOT/etc/apt/sources.list"
mkdir -p "$ROOT/etc/apt/sources.list.d"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Bring the -updates / -security fixes in, as the official image has them.
if [ "${SKIP_UPGRADE:-0}" != 1 ]; then
    say "applying $SUITE-updates and $SUITE-security upgrades"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    cp /etc/hosts "$ROOT/etc/hosts"   # the mirror may be mapped there
    mount -t proc proc "$ROOT/proc"
    if ! chroot "$ROOT" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
            apt-get update -qq && apt-get -y -qq upgrade && apt-get clean' >"$WORK/upgrade.log" 2>&1; then
        umount "$ROOT/proc"
        tail -n 30 "$WORK/upgrade.log" >&2
        die "apt-get upgrade in the new root failed"
    fi
    umount "$ROOT/proc"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
fi
# Drop what slim images do not ship, and build-time leftovers.
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/groff/* \
       "$ROOT"/usr/share/lintian/* "$ROOT"/usr/share/linda/*
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
       "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/debootstrap "$ROOT"/tmp/* "$ROOT"/var/tmp/*
: >"$ROOT/etc/hostname"
: >"$ROOT/etc/resolv.conf"
[ -e "$ROOT/proc/self" ] && die "proc is still mounted in $ROOT"

say "importing as $IMAGE"
tar --numeric-owner --xattrs -C "$ROOT" -c . \
    | docker import \
        -c 'CMD ["bash"]' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -m "manrs-lab: debootstrap --variant=minbase $SUITE $MIRROR" \
        - "$IMAGE" >/dev/null
say "$IMAGE ready in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
