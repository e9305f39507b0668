"""Regenerate the lab notebooks (and grader/source/) from labs/*/lab.yaml and README.md.

    .venv/bin/python notebooks/build.py          # write
    .venv/bin/python notebooks/build.py --check  # exit 1 if out of date

The generator lives in the package (manrs_lab.notebook.build); this file is a shortcut.
"""

import sys

from manrs_lab.notebook.build import main

if __name__ == "__main__":
    sys.exit(main())
