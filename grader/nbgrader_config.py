"""nbgrader configuration of the manrs-lab course: this folder is the course root.

Run nbgrader from this folder with the project's virtualenv (see README.md here). The source
notebooks in source/<lab>/ are generated: `python -m manrs_lab.notebook.build`.
"""

from pathlib import Path

from manrs_lab.notebook.build import CODE_STUB

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "manrs-lab"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)

# The learner's work cells start `%%router_config NODE`: nbgrader keeps that line and replaces
# the reference solution between BEGIN/END SOLUTION with a comment that FRR, BIRD and Python all
# read as a comment.
c.ClearSolutions.code_stub = {"python": CODE_STUB}

# The first grade cell deploys the lab from the submission's saved router configurations and
# grades it live (probes included): allow for a slow machine, or a lab that never converges.
c.Execute.timeout = 300
c.Execute.startup_timeout = 120

# Each submission gets its own lab instance (g-<lab>-<random>), torn down after grading, so
# submissions are graded one after the other on a 2-core machine without sharing state.
