#!/usr/bin/env bash
# Install everything manrs-lab needs on Debian 12, as root, then run the main job.
#   sudo ./install.sh            install (again: harmless), then serve the lab notebooks
#   sudo ./install.sh --no-run   install only (used by ./test.sh)
#   sudo ./install.sh --workshop [--no-run]
#                                a workshop: also configurable-http-proxy (npm), Docker and the lab
#                                image, then JupyterHub with one lab container per learner
#                                (deploy/jupyterhub/start.sh; docs/workshop.md)
set -euo pipefail
cd "$(dirname "$0")"

RUN_MAIN=1
WORKSHOP=0
for arg in "$@"; do
  case "$arg" in
    --no-run) RUN_MAIN=0 ;;
    --workshop) WORKSHOP=1 ;;
    *) echo "install.sh: unknown option $arg (--no-run, --workshop)" >&2; exit 2 ;;
  esac
done

if [[ $EUID -ne 0 ]]; then
  echo "install.sh: run as root (sudo ./install.sh): labs create network namespaces" >&2
  exit 1
fi

APT_PACKAGES=(
  frr frr-rpki-rtrlib bird2 stayrtr            # the routers and the RPKI (RTR) cache
  iproute2 nftables iputils-ping traceroute procps tcpdump
  python3 python3-venv python3-pip
  postgresql redis-server bgpq4                # the lab registry: IRRd's database and cache, bgpq4
  whois                                        # a learner's whois client (labs with a registry)
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A workshop's proxy (configurable-http-proxy) runs on Node.js: Debian's, unless one is there.
if ((WORKSHOP)) && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "==> system packages already installed"
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install.sh: $PYTHON is older than 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
EXTRAS=dev
grep -q '^notebook = \[' pyproject.toml && EXTRAS="dev,notebook"
grep -q '^workshop = \[' pyproject.toml && EXTRAS="$EXTRAS,workshop"
echo "==> pip install -e .[$EXTRAS]"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$EXTRAS]"

# The lab registry's IRRd in its own venv, made with Debian's Python: IRRd pins every
# dependency to an exact version (they would clash with ours), and it drops root to an
# unprivileged user, who must be able to read its interpreter (not one under /root).
IRRD_VERSION=4.5.4
IRRD_PYTHON=${IRRD_PYTHON:-/usr/bin/python3}
if [[ ! -x .venv-irrd/bin/irrd ]] \
  || ! compgen -G ".venv-irrd/lib/python3*/site-packages/irrd-$IRRD_VERSION.dist-info" >/dev/null; then
  echo "==> installing IRRd $IRRD_VERSION into .venv-irrd (the lab registry)"
  [[ -x .venv-irrd/bin/python ]] || "$IRRD_PYTHON" -m venv .venv-irrd
  .venv-irrd/bin/python -m pip install -q "irrd==$IRRD_VERSION"
else
  echo "==> IRRd $IRRD_VERSION already installed (.venv-irrd)"
fi
# The system's PostgreSQL and Redis services are not used (the registry runs its own, per
# learner): leave them as they were.

.venv/bin/manrs-lab lint
echo "==> installed: .venv/bin/manrs-lab ($(.venv/bin/manrs-lab --version))"
if ((WORKSHOP)); then
  CHP=.venv/hub-node/node_modules/.bin/configurable-http-proxy
  if [[ ! -x $CHP ]]; then
    echo "==> npm install configurable-http-proxy (into .venv/hub-node)"
    npm install --no-audit --no-fund --loglevel=error --prefix .venv/hub-node \
      "configurable-http-proxy@^4.6"
  fi
  echo "==> installed: configurable-http-proxy $("$CHP" --version)"
fi
((RUN_MAIN)) || exit 0

if ((WORKSHOP)); then
  # The main job of a workshop: the hub. Docker, then the lab image (once), then JupyterHub.
  docker/start-dockerd.sh
  image="manrs-lab/lab:${LAB_IMAGE_TAG:-latest}"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "==> building $image (once; a few minutes)"
    docker/build-images.sh --only lab
  fi
  exec deploy/jupyterhub/start.sh
fi

# The main job: JupyterLab serving the lab notebooks; each notebook starts its lab.
cat <<MSG

Open the URL below and start with notebooks/01-*.ipynb (Ctrl-C stops JupyterLab; a lab keeps
running until you stop it with its panel's Stop button, or by its name, which is the lab's:
.venv/bin/manrs-lab down customer-filtering). JupyterLab's terminals have manrs-lab on PATH,
and each router in a lab's panel has a console button.
Without a browser: .venv/bin/manrs-lab up customer-filtering, then read labs/customer-filtering/README.md.
MSG
exec scripts/serve-notebooks.sh
