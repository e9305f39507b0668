#!/usr/bin/env bash
# Start the workshop hub (JupyterHub + configurable-http-proxy + DockerSpawner), as root.
#   deploy/jupyterhub/start.sh          (./install.sh --workshop installs everything, then runs this)
# Settings come from the environment: see deploy/jupyterhub/jupyterhub_config.py (instructors,
# ports, limits per learner, the image). Ctrl-C stops the hub and the learners' containers
# (their volumes, with notebooks and saved router configs, stay).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$REPO/.venv}
STATE=${MANRS_HUB_STATE:-/var/lib/manrs-lab-hub}
CHP=${MANRS_HUB_CHP:-$VENV/hub-node/node_modules/.bin/configurable-http-proxy}
IMAGE=${MANRS_HUB_IMAGE:-manrs-lab/lab:${LAB_IMAGE_TAG:-latest}}

die() { printf 'start.sh: ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (the hub starts Docker containers): sudo $0"
[ -x "$VENV/bin/jupyterhub" ] || die "JupyterHub is not installed in $VENV: ./install.sh --workshop"
[ -x "$CHP" ] || die "configurable-http-proxy is missing ($CHP): ./install.sh --workshop"
docker info >/dev/null 2>&1 || die "the Docker engine is not running: docker/start-dockerd.sh"
docker image inspect "$IMAGE" >/dev/null 2>&1 \
    || die "image $IMAGE not found: docker/build-images.sh --only lab"

mkdir -p "$STATE"; chmod 0700 "$STATE"
# Every learner's container shares the host kernel's neighbour tables (ARP, IPv6 ND), whose
# default limit (1024 entries) a class of capstones fills; only the host can raise it.
"$VENV/bin/python" -c 'from manrs_lab.runtime.host_limits import ensure_neighbour_room as e
for r in e(): print("raised the neighbour table limit:", r)'
export MANRS_HUB_STATE=$STATE MANRS_HUB_CHP=$CHP MANRS_HUB_IMAGE=$IMAGE
export PATH="$VENV/bin:$PATH"
cat <<MSG
manrs-lab workshop hub: http://${MANRS_HUB_IP:-0.0.0.0}:${MANRS_HUB_PORT:-8000}/ (image $IMAGE)
  instructors (${MANRS_HUB_INSTRUCTORS:-instructor}): sign up first at /hub/signup, then
  approve learners at /hub/authorize; the class view is at /services/class-view/.
  learners: sign up at /hub/signup, wait for approval, log in.
MSG
cd "$STATE"
exec "$VENV/bin/jupyterhub" -f "$HERE/jupyterhub_config.py"
