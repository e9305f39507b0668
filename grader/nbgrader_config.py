"""nbgrader configuration of the manrs-lab course: this folder is the course root.

Run nbgrader from this folder with the project's virtualenv (see README.md here). The source
notebooks in source/<lab>/ are generated: `python -m manrs_lab.notebook.build`.
"""

from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from manrs_lab.notebook.autograde import GradeFromConfigs
from manrs_lab.notebook.build import CODE_STUB

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "manrs-lab"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)

# The learner's work cells start `%%router_config NODE`: nbgrader keeps that line and replaces
# the reference solution between BEGIN/END SOLUTION with a comment that FRR, BIRD and Python all
# read as a comment.
c.ClearSolutions.code_stub = {"python": CODE_STUB}

# Autograde runs no cell of the submitted notebook: nbgrader's Execute (a kernel running the
# learner's code as the grading user) is replaced by GradeFromConfigs, which grades in this
# process from the submission's saved router configurations (data only: see
# manrs_lab.submission), deploying the lab, grading it live and tearing it down. Everything else
# is nbgrader's own list, in its order: its sanitizing step (clear outputs, restore the locked
# grade cells from the gradebook) runs first, SaveAutoGrades scores the outputs as usual.
c.Autograde.autograde_preprocessors = [
    GradeFromConfigs,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Kept for `nbgrader validate` and any step that does execute a notebook (never autograde).
c.Execute.timeout = 300
c.Execute.startup_timeout = 120

# Each submission gets its own lab instance (g-<lab>-<random>), torn down after grading, so
# submissions are graded one after the other on a 2-core machine without sharing state.
