#!/bin/sh
# manrs-lab/lab entrypoint (under tini, which reaps the routing daemons labs start).
#  1. /proc/sys/net writable. Docker mounts /proc/sys read-only in unprivileged containers, and
#     the netns runtime sets forwarding and rp_filter inside each router's namespace
#     (`ip netns exec NS sysctl -w ...`); `docker run --sysctl` cannot help, since it only
#     reaches the container's own namespace, not the ones created later. With CAP_SYS_ADMIN,
#     which labs need anyway (ip netns), the net subtree alone is bind-mounted read-write:
#     those settings are per network namespace, while kernel.*, vm.* and the rest stay read-only.
#  2. Leftovers of a previous run of this container (a restart keeps its file system): no lab
#     can be running at start, so stale namespace files and instance records go.
#  3. The learner's folder ($MANRS_LAB_WORK, a volume): the lab notebooks are copied in without
#     overwriting any the learner already has.
#  4. exec the command: by default JupyterLab on 0.0.0.0:8888 (publish it on 127.0.0.1 only),
#     token from $JUPYTER_TOKEN or a new random one, printed with the URL.
set -eu
say() { printf 'lab-entrypoint: %s\n' "$*" >&2; }

WORK=${MANRS_LAB_WORK:-/home/learner/work}
HOME_DIR=${MANRS_LAB_HOME:-/opt/manrs-lab}

if [ ! -w /proc/sys/net/ipv4/ip_forward ]; then
    if mount --bind /proc/sys/net /proc/sys/net 2>/dev/null \
        && mount -o remount,bind,rw /proc/sys/net 2>/dev/null; then
        :
    else
        say "WARNING: cannot make /proc/sys/net writable; labs will not start."
        say "Run the container with --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN."
    fi
fi
if ! ip netns add manrs-lab-probe 2>/dev/null; then
    say "WARNING: cannot create network namespaces (missing --cap-add SYS_ADMIN / NET_ADMIN?)"
else
    ip netns del manrs-lab-probe
fi

for ns in /run/netns/ml-*; do
    [ -e "$ns" ] || continue
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
done
rm -rf /run/manrs-lab

mkdir -p "$WORK"
if [ -d "$HOME_DIR/notebooks" ]; then
    mkdir -p "$WORK/notebooks"
    cp -rn "$HOME_DIR/notebooks/." "$WORK/notebooks/"
fi

if [ "${1:-}" = jupyter ] && [ "${2:-}" = lab ] && [ $# -eq 2 ]; then
    if [ -z "${JUPYTER_TOKEN:-}" ]; then
        JUPYTER_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
        export JUPYTER_TOKEN
    fi
    say "JupyterLab: open http://127.0.0.1:8888/lab?token=$JUPYTER_TOKEN"
    say "(8888: the host port you published with -p 127.0.0.1:8888:8888)"
    set -- jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root \
        --ServerApp.root_dir="$WORK" --ServerApp.default_url=/lab/tree/notebooks
fi
exec "$@"
