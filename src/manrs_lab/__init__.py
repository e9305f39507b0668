"""manrs-lab: routing-security (MANRS) training labs on real FRR and BIRD routers."""

__version__ = "0.1.0"
