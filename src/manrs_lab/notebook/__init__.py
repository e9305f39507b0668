"""Notebook layer: the `Lab` session, its control panel, router magics and the notebooks' builder.

    from manrs_lab.notebook import Lab
    lab = Lab("customer-filtering")   # finds the running lab, or starts it
    lab.panel()                       # start / reset / stop, live topology, Check
    lab.assert_task("filter-cust1")   # grade cells (nbgrader)

ipywidgets is needed for the panel only, IPython for the magics only.
"""

from __future__ import annotations

from manrs_lab.notebook.session import Lab

__all__ = ["Lab", "load_ipython_extension"]


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext manrs_lab.notebook`: the router magics, before any Lab exists."""
    from manrs_lab.notebook.magics import register  # noqa: PLC0415 - needs IPython

    register(ipython)
