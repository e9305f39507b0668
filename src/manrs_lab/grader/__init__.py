"""Grading: named checks (data in lab.yaml, code here), probes that act on the lab, reports."""
