#!/bin/bash
# manrs-lab FRR node entrypoint.
#  - router sysctls (best effort: /proc/sys is read-only without --privileged; pass
#    --sysctl net.ipv4.ip_forward=1 ... to `docker run` instead, or containerlab does it)
#  - zebra, bgpd (-M rpki), staticd in the background, logging to stdout
#  - applies /etc/frr/frr.conf with `vtysh -b` once the daemons answer
#  - stays in the foreground; exits when a daemon dies; SIGTERM stops all daemons
# Environment: FRR_LOG_LEVEL (default informational), FRR_DAEMON_ARGS (extra args for all).
set -u

RUN=/var/run/frr
say() { printf 'frr-entrypoint: %s\n' "$*"; }

set_sysctl() {  # name value
    local f="/proc/sys/${1//.//}"
    [ -e "$f" ] || return 0
    [ "$(cat "$f" 2>/dev/null)" = "$2" ] && return 0
    echo "$2" 2>/dev/null >"$f" || say "note: cannot set $1=$2 (read-only /proc/sys; use docker run --sysctl $1=$2)"
}
set_sysctl net.ipv4.ip_forward 1
set_sysctl net.ipv4.conf.all.rp_filter 0
set_sysctl net.ipv4.conf.default.rp_filter 0
set_sysctl net.ipv6.conf.all.forwarding 1

mkdir -p "$RUN" /var/log/frr
chown frr:frr "$RUN" /var/log/frr
chmod 0755 "$RUN"
# A restarted container keeps its file system: drop stale sockets and pid files.
rm -f "$RUN"/*.pid "$RUN"/*.vty "$RUN"/zserv.api
[ -e /etc/frr/vtysh.conf ] || touch /etc/frr/vtysh.conf 2>/dev/null || true

# shellcheck disable=SC2206  # FRR_DAEMON_ARGS is a list of flags
COMMON=(-A 127.0.0.1 -u frr -g frr --limit-fds 1024 --log stdout
        --log-level "${FRR_LOG_LEVEL:-informational}" ${FRR_DAEMON_ARGS:-})
PIDS=()

stop_all() {
    say "stopping FRR"
    # bgpd/staticd first, zebra last (it removes the routes they installed)
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null
        for _ in $(seq 50); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
    done
}
trap 'stop_all; exit 0' TERM INT

wait_for() {  # path timeout_tenths
    for _ in $(seq "$2"); do [ -e "$1" ] && return 0; sleep 0.1; done
    say "warning: $1 did not appear"; return 1
}

/usr/lib/frr/zebra "${COMMON[@]}" -i "$RUN/zebra.pid" &
PIDS+=($!)
wait_for "$RUN/zserv.api" 100
/usr/lib/frr/bgpd "${COMMON[@]}" -i "$RUN/bgpd.pid" -M rpki &
PIDS+=($!)
/usr/lib/frr/staticd "${COMMON[@]}" -i "$RUN/staticd.pid" &
PIDS+=($!)
for d in zebra bgpd staticd; do wait_for "$RUN/$d.vty" 100; done

if [ -s /etc/frr/frr.conf ]; then
    if vtysh -b; then
        say "applied /etc/frr/frr.conf"
    else
        say "warning: vtysh -b reported errors while applying /etc/frr/frr.conf"
    fi
else
    say "no /etc/frr/frr.conf: starting with an empty configuration"
fi
touch "$RUN/.manrs-ready"
say "ready (zebra ${PIDS[0]}, bgpd ${PIDS[1]}, staticd ${PIDS[2]})"

# Stay in the foreground; if any daemon dies, stop the rest and fail.
wait -n "${PIDS[@]}"
rc=$?
say "a daemon exited (status $rc); stopping the node"
stop_all
exit 1
