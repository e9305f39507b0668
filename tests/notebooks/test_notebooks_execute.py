"""Every lab's notebook runs headless in a real kernel against real routers.

With the reference solution applied (a cell injected after the setup cell calls `lab.solve()`),
every cell runs and every grade cell passes; without it, each task's grade cell fails with an
TaskFailed (an AssertionError) and nothing else fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nb_helpers import errors_of, grade_cells, nbformat, notebook_for, run_notebook, text_of

from manrs_lab.notebook.replay import SAVE_DIR, editable_nodes
from manrs_lab.spec.loader import lab_ids, load_lab

pytestmark = pytest.mark.daemons


def _with_solve(nb, lab_id: str):
    """The reference solution injected after the setup cell; in a staged lab, each task's model
    answer just before that task's grade cell (the tasks are successive states)."""
    lab = load_lab(lab_id)
    if not lab.staged:
        setup = next(i for i, c in enumerate(nb.cells) if c.get("id") == "setup")
        cell = nbformat.v4.new_code_cell("lab.solve()  # injected by the test: reference solution")
        cell["id"] = "test-solve"
        nb.cells.insert(setup + 1, cell)
        return nb
    for task in lab.spec.tasks:
        at = next(i for i, c in enumerate(nb.cells) if c.get("id") == task.id)
        cell = nbformat.v4.new_code_cell(f'lab.solve(task="{task.id}")  # injected by the test')
        cell["id"] = f"test-solve-{task.id}"
        nb.cells.insert(at, cell)
    return nb


@pytest.mark.parametrize("lab_id", lab_ids())
def test_notebook_with_the_reference_solution_passes_every_grade_cell(
    lab_id: str, tmp_path: Path, kernel_env: str
) -> None:
    nb = _with_solve(nbformat.read(notebook_for(lab_id), as_version=4), lab_id)
    run_notebook(nb, tmp_path, allow_errors=False)  # raises CellExecutionError on any error
    lab = load_lab(lab_id)
    cells = grade_cells(nb)
    assert [c.metadata["nbgrader"]["grade_id"] for c in cells] == [t.id for t in lab.spec.tasks]
    for cell in cells:
        assert "PASS" in text_of(cell), text_of(cell)
    saved = tmp_path / SAVE_DIR / lab_id
    assert sorted(p.name for p in saved.glob("*.conf")) == sorted(
        f"{n}.conf" for n in editable_nodes(lab)
    )


@pytest.mark.parametrize("lab_id", lab_ids())
def test_notebook_without_a_solution_fails_every_task_grade_cell(
    lab_id: str, tmp_path: Path, kernel_env: str
) -> None:
    nb = nbformat.read(notebook_for(lab_id), as_version=4)
    run_notebook(nb, tmp_path, allow_errors=True)
    grading = {id(c) for c in grade_cells(nb)}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if id(cell) in grading:
            assert errors_of(cell) == ["TaskFailed"], text_of(cell)
            assert "points" in text_of(cell)
        else:
            assert errors_of(cell) == [], f"cell {cell.get('id')}: {text_of(cell)}"


def test_a_new_kernel_finds_the_running_lab_instead_of_starting_another(
    tmp_path: Path, kernel_env: str
) -> None:
    lab = load_lab("customer-filtering")
    task = lab.spec.tasks[-1].id

    def notebook(*sources: str):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
        return nb

    setup = 'from manrs_lab.notebook import Lab\nlab = Lab("customer-filtering")'
    first = run_notebook(
        notebook(setup, "lab.solve()", "print(lab.running.instance.created)"),
        tmp_path,
        allow_errors=False,
    )
    second = run_notebook(
        notebook(setup, f'lab.assert_task("{task}")', "print(lab.running.instance.created)"),
        tmp_path,
        allow_errors=False,
    )
    assert text_of(first.cells[-1]) == text_of(second.cells[-1])  # the same instance
    assert "PASS" in text_of(second.cells[1])  # still solved: nothing was redeployed


def test_grade_cells_and_configuration_cells_say_what_happened(
    tmp_path: Path, kernel_env: str
) -> None:
    """A failing grade cell: an AssertionError with the task's lines wrapped for nbgrader's
    feedback, and no traceback into the package; a passing one prints PASS and returns
    nothing (nbgrader would try to read a returned value as a score). A configuration cell with
    a typo applies nothing, not the lines around the typo."""
    lab = load_lab("customer-filtering")
    task = lab.spec.tasks[0].id
    typo = "ip prefix-list TYPO-TEST seq 5 permit 198.18.1.0/24\nrouter bgp 64500\n neighbour 1"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    sources = [
        'from manrs_lab.notebook import Lab\nlab = Lab("customer-filtering")',
        f'lab.assert_task("{task}")',
        f"%%router_config edge\n{typo}",
        "%vtysh edge show running-config",
        "lab.solve()",
        f'lab.assert_task("{task}")',
    ]
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    run_notebook(nb, tmp_path, allow_errors=True)
    failed, config, running, _, passed = nb.cells[1:]
    assert errors_of(failed) == ["TaskFailed"]
    error = next(o for o in failed.outputs if o.output_type == "error")
    assert "manrs_lab" not in "".join(error.traceback), error.traceback
    assert all(len(line) <= 96 for line in error.evalue.splitlines()), error.evalue
    assert "Hint 1 of 3" in error.evalue
    assert "nothing applied to edge" in text_of(config)
    assert "line 3 of the cell" in text_of(config)
    assert "TYPO-TEST" not in text_of(running)  # the lines before the typo were not applied
    assert errors_of(passed) == []
    assert "PASS" in text_of(passed)
    assert not [o for o in passed.outputs if o.output_type == "execute_result"]
