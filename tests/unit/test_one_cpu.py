"""A grading run's threads stay on the CPU the run started on, and the thread is free after."""

from __future__ import annotations

import os
import threading

import pytest

from manrs_lab.grader.one_cpu import current_cpu, one_cpu

pytestmark = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="needs a thread allowed on two CPUs or more"
)


def test_threads_started_within_run_on_one_cpu_and_the_caller_is_freed_after():
    allowed = os.sched_getaffinity(0)
    seen: list[set[int]] = []
    with one_cpu():
        inside = os.sched_getaffinity(0)
        worker = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        worker.start()
        worker.join()
    assert len(inside) == 1
    assert inside <= allowed
    assert seen == [inside]  # a thread started within inherits it
    assert os.sched_getaffinity(0) == allowed


def test_current_cpu_is_one_the_thread_may_run_on():
    assert current_cpu() in os.sched_getaffinity(0)


def test_grade_cpus_all_leaves_threads_free(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MANRS_LAB_GRADE_CPUS", "all")
    allowed = os.sched_getaffinity(0)
    with one_cpu():
        assert os.sched_getaffinity(0) == allowed


def test_affinity_comes_back_when_the_run_fails():
    allowed = os.sched_getaffinity(0)
    with pytest.raises(RuntimeError), one_cpu():
        raise RuntimeError("a check crashed")
    assert os.sched_getaffinity(0) == allowed
