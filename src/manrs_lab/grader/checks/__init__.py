"""Every check module, imported so that its checks register. Add new modules here."""

from manrs_lab.grader.checks import bgp

__all__ = ["bgp"]
