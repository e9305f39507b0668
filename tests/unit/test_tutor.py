"""The tutor's bookkeeping: hints escalate per failed check of a task, a pass starts again, a
staged lab's current step moves on when it passes, full marks name the next lab."""

from __future__ import annotations

from pathlib import Path

from manrs_lab import tutor
from manrs_lab.grader.report import GradeReport, TaskResult
from manrs_lab.spec.loader import load_lab


def report_of(lab_id: str, passed: dict[str, bool]) -> GradeReport:
    lab = load_lab(lab_id)
    tasks = [
        TaskResult(
            t.id,
            t.title,
            passed[t.id],
            t.points if passed[t.id] else 0,
            t.points,
            None if passed[t.id] else t.hints[0],  # what the grader says: always hint 1
        )
        for t in lab.spec.tasks
        if t.id in passed
    ]
    return GradeReport(lab_id, "x", 1, 0.1, tasks, [])


def test_each_failed_check_reveals_the_next_hint_and_a_pass_starts_again(tmp_path: Path):
    lab = load_lab("customer-filtering")
    hints = {t.id: t.hints for t in lab.spec.tasks}
    seen = []
    for _ in range(4):
        report = tutor.record(tmp_path, lab, report_of(lab.id, {"filter-cust1": False}))
        seen.append(report.task("filter-cust1").next_hint)
    # hint 1, 2, 3, then the last one stays
    assert seen == [*hints["filter-cust1"], hints["filter-cust1"][-1]]
    # Another task's count is its own.
    other = tutor.record(tmp_path, lab, report_of(lab.id, {"filter-cust2": False}))
    assert other.task("filter-cust2").next_hint == hints["filter-cust2"][0]
    # A pass starts the task's count again.
    tutor.record(tmp_path, lab, report_of(lab.id, {"filter-cust1": True}))
    again = tutor.record(tmp_path, lab, report_of(lab.id, {"filter-cust1": False}))
    assert again.task("filter-cust1").next_hint == hints["filter-cust1"][0]
    numbered = tutor.hint_of(lab, "filter-cust1", hints["filter-cust1"][1])
    assert numbered is not None
    assert (numbered.number, numbered.total) == (2, len(hints["filter-cust1"]))


def test_state_is_per_instance_folder_and_survives_garbage(tmp_path: Path):
    lab = load_lab("customer-filtering")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    tutor.record(a, lab, report_of(lab.id, {"filter-cust1": False}))
    second_a = tutor.record(a, lab, report_of(lab.id, {"filter-cust1": False}))
    first_b = tutor.record(b, lab, report_of(lab.id, {"filter-cust1": False}))
    hints = lab.spec.tasks[0].hints
    assert second_a.task("filter-cust1").next_hint == hints[1]
    assert first_b.task("filter-cust1").next_hint == hints[0]
    (a / tutor.STATE_FILE).write_text("[not, what, we, wrote")
    third = tutor.record(a, lab, report_of(lab.id, {"filter-cust1": False}))
    assert third.task("filter-cust1").next_hint == hints[0]
    # An instance removed meanwhile: nothing written, no error.
    gone = tmp_path / "gone"
    tutor.record(gone, lab, report_of(lab.id, {"filter-cust1": False}))
    assert not gone.exists()


def test_staged_lab_moves_on_when_the_current_step_passes(tmp_path: Path):
    lab = load_lab("hijack-anatomy")
    steps = [t.id for t in lab.spec.tasks]
    assert tutor.current_step(tmp_path, lab) == steps[0]
    tutor.record(tmp_path, lab, report_of(lab.id, {steps[0]: False}))
    assert tutor.current_step(tmp_path, lab) == steps[0]
    tutor.record(tmp_path, lab, report_of(lab.id, {steps[0]: True}))
    assert tutor.current_step(tmp_path, lab) == steps[1]
    assert tutor.steps_passed(tmp_path) == [steps[0]]
    assert tutor.current_step(tmp_path, load_lab("customer-filtering")) is None


def test_full_marks_name_the_next_lab():
    text = tutor.full_marks_text("hijack-anatomy", notebook=False)
    assert "manrs-lab up customer-filtering" in text
    assert load_lab("customer-filtering").spec.title in text
    assert "-customer-filtering.ipynb" in tutor.full_marks_text("hijack-anatomy", notebook=True)
    assert "last lab" in tutor.full_marks_text(tutor.CURRICULUM[-1], notebook=True)
