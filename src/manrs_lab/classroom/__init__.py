"""A class on one server or a cluster: the learner-side API and the instructor's class view.

- `record`: each check's verdicts per instance (what the class view shows).
- `extension`: a Jupyter server extension in each learner's server (enabled in the lab image):
  `GET <server>/manrs-lab/api/labs` (the learner's labs and last verdicts) and
  `POST <server>/manrs-lab/api/labs/<instance>/check` (grade now), behind the server's own
  authentication (JupyterHub's: the learner, or a token with `access:servers` on that server).
- `service`: the class view, a JupyterHub service for instructors that reads every learner's
  server through the hub's proxy with those endpoints.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "manrs_lab.classroom.extension"}]
