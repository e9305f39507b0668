#!/usr/bin/env bash
# Run the whole test suite (as root: labs boot real FRR/BIRD daemons in network namespaces).
# Installs whatever is missing first, so it also works on a fresh machine.
#   sudo ./test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"
./install.sh --no-run --workshop   # --workshop: the proxy the hub tests start
echo "==> ruff, mypy"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
if ! command -v chromium >/dev/null; then
  echo "==> apt-get install chromium (the notebook browser test)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
if [[ -x docker/start-dockerd.sh ]]; then
  echo "==> docker engine (container tests)"
  docker/start-dockerd.sh || echo "docker unavailable: container tests will be skipped"
fi
echo "==> pytest"
exec .venv/bin/pytest tests --durations=25 "$@"
