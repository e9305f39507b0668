#!/usr/bin/env bash
# Start a Docker engine on a machine without systemd (as root).
#
#   docker/start-dockerd.sh            # install docker.io if needed, start dockerd, wait
#
# - Installs Debian's docker.io with apt-get when dockerd is missing, waiting (APT_LOCK_TIMEOUT
#   seconds, default 600) while another apt or dpkg run holds the package lock.
# - Starts dockerd in the background (its own session, log in /var/log/dockerd.log)
#   unless an engine already answers `docker info`.
# - Waits until `docker info` answers (DOCKERD_TIMEOUT seconds, default 60).
#
# Extra dockerd flags can be passed with DOCKERD_OPTS (e.g. DOCKERD_OPTS="--iptables=false").
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
TIMEOUT=${DOCKERD_TIMEOUT:-60}
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}

say() { printf 'start-dockerd: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# apt-get, waiting while another apt/dpkg run (unattended-upgrades, a second install) holds the
# lists or dpkg lock: apt's own DPkg::Lock::Timeout covers the dpkg lock, the loop the rest.
apt_get() {
    local waited=0 out
    while :; do
        if out=$(apt-get -o DPkg::Lock::Timeout=60 "$@" 2>&1); then
            return 0
        fi
        if grep -qiE 'could not get lock|unable to (acquire|lock)|is another process using it' \
            <<<"$out" && (( waited < APT_LOCK_TIMEOUT )); then
            say "another apt or dpkg run holds the package lock; waiting (${waited}s of ${APT_LOCK_TIMEOUT}s)"
            sleep 5
            waited=$((waited + 5))
            continue
        fi
        printf '%s\n' "$out" >&2
        return 1
    done
}

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
    say "docker engine already running"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (dockerd needs it)"

if ! command -v dockerd >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and apt-get is not available"
    say "dockerd not found: installing docker.io with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt_get update -qq || die "apt-get update failed"
    apt_get install -y -qq --no-install-recommends docker.io || die "installing docker.io failed"
    command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still missing"
fi
if ! command -v docker >/dev/null 2>&1; then
    die "the docker client is missing (expected with docker.io)"
fi

# A dockerd of ours may be starting already (pid file written, socket not yet up).
PIDFILE=/var/run/docker.pid
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
    && grep -q dockerd "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null; then
    DOCKERD_PID=$(cat "$PIDFILE")
    say "dockerd (pid $DOCKERD_PID) is starting; waiting for it"
else
    # containerd is started by dockerd itself when no system containerd runs.
    mkdir -p "$(dirname "$LOG")"
    say "starting dockerd (log: $LOG)"
    # shellcheck disable=SC2086  # DOCKERD_OPTS is a list of flags
    setsid nohup dockerd ${DOCKERD_OPTS:-} >>"$LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!
    say "dockerd pid $DOCKERD_PID"
fi

start=$SECONDS
until docker info >/dev/null 2>&1; do
    if (( SECONDS - start >= TIMEOUT )); then
        say "last lines of $LOG:"
        tail -n 20 "$LOG" >&2 || true
        die "dockerd did not answer 'docker info' within ${TIMEOUT}s"
    fi
    # The pid we started or found, not the pid file: a dockerd killed earlier leaves its pid
    # file behind until the new one rewrites it, and that stale pid is gone.
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
        tail -n 20 "$LOG" >&2 || true
        die "dockerd exited; see $LOG"
    fi
    sleep 0.5
done
say "docker engine is up after $((SECONDS - start))s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
