#!/usr/bin/env bash
# Serve the lab notebooks (notebooks/) with JupyterLab on 127.0.0.1 and print the URL to open.
#
#   scripts/serve-notebooks.sh                 foreground; Ctrl-C stops it
#   scripts/serve-notebooks.sh --background    detached; prints the URL once JupyterLab answers
#   scripts/serve-notebooks.sh --stop          stops the detached server
#   options: --port N (default 8888, another if busy), --dir DIR (default notebooks/)
#
# Needs the project's virtualenv with the notebook extra: .venv/bin/pip install -e '.[notebook]'
# (MANRS_LAB_VENV names another virtualenv). Labs need root, so run it as root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MANRS_LAB_VENV:-$repo/.venv}"
python="$venv/bin/python"

if [ ! -x "$python" ] || ! "$python" -c 'import jupyterlab, ipywidgets' 2>/dev/null; then
    echo "JupyterLab is not installed in $venv: run $venv/bin/pip install -e '$repo[notebook]'" >&2
    exit 1
fi
exec "$python" -m manrs_lab.notebook.serve "$@"
