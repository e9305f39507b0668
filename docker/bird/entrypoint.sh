#!/bin/sh
# manrs-lab BIRD node entrypoint: router sysctls (best effort), /run/bird for the control
# socket, then exec the command (default: bird -f -c /etc/bird/bird.conf).
say() { printf 'bird-entrypoint: %s\n' "$*"; }
set_sysctl() {  # path value
    [ -e "/proc/sys/$1" ] || return 0
    [ "$(cat "/proc/sys/$1" 2>/dev/null)" = "$2" ] && return 0
    echo "$2" 2>/dev/null >"/proc/sys/$1" \
        || say "note: cannot set $1=$2 (read-only /proc/sys; use docker run --sysctl)"
}
set_sysctl net/ipv4/ip_forward 1
set_sysctl net/ipv4/conf/all/rp_filter 0
set_sysctl net/ipv4/conf/default/rp_filter 0
set_sysctl net/ipv6/conf/all/forwarding 1
mkdir -p /run/bird
chown bird:bird /run/bird 2>/dev/null || true
rm -f /run/bird/bird.ctl
# A topology file's starting config (topologies/<lab>.clab.yml binds the lab's own file here,
# read-only): copied to where BIRD reads it and the grader and `solve` rewrite it, with the
# grader's probe file included (see manrs_lab.runtime.clab_render).
start=/etc/manrs-lab/bird.conf
if [ -f "$start" ]; then
    cp "$start" /etc/bird/bird.conf || exit 1
    grep -q '^include "manrs-probes.conf";' /etc/bird/bird.conf \
        || printf '\n# added by manrs-lab: grader probes\ninclude "manrs-probes.conf";\n' \
            >>/etc/bird/bird.conf
    : >/etc/bird/manrs-probes.conf
    say "starting config: $start"
fi
# BIRD exits without a word on a bad config when it logs to syslog: check it first, loudly.
if [ "$1" = bird ]; then
    conf=/etc/bird/bird.conf
    prev=
    for a in "$@"; do [ "$prev" = -c ] && conf=$a; prev=$a; done
    if ! out=$(bird -p -c "$conf" 2>&1); then
        say "configuration check of $conf failed:"
        printf '%s\n' "$out" >&2
        exit 1
    fi
fi
exec "$@"
