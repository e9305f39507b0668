"""Jupyter server extension: the learner's labs for the class view, behind the server's auth.

    GET  <base>/manrs-lab/api/labs                    labs, state, each task's last verdict
    POST <base>/manrs-lab/api/labs/<instance>/check   grade the live lab now (one check at a
                                                      time per instance, as everywhere)

Both go through Jupyter Server's authentication and authorization (`@web.authenticated`,
`@authorized`): under JupyterHub that is the hub's OAuth, i.e. the learner themself or a token
with `access:servers` on this server (the class view service, instructors). Nothing here takes
a command, a path or a file from the request: the instance name must match an instance record.
Enable: `jupyter server --ServerApp.jpserver_extensions='{"manrs_lab.classroom": True}'`
(the lab image enables it in /opt/venv/etc/jupyter).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from manrs_lab import operations
from manrs_lab.classroom.labs import lab_states
from manrs_lab.errors import LabError
from manrs_lab.instance import list_instances
from manrs_lab.progress import SilentProgress

API = "manrs-lab/api"
RESOURCE = "manrs_lab"


class LabsHandler(APIHandler):
    auth_resource = RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        states = await asyncio.to_thread(lab_states)
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(states))


class CheckHandler(APIHandler):
    auth_resource = RESOURCE

    @web.authenticated
    @authorized
    async def post(self, instance: str) -> None:
        if instance not in {i.name for i in list_instances()}:
            raise web.HTTPError(404, f"no lab instance {instance!r} in this server")
        self.log.info("manrs-lab: check of %s requested by %s", instance, self.current_user)
        try:
            report = await asyncio.to_thread(operations.check, instance, SilentProgress())
        except LabError as exc:
            raise web.HTTPError(409, str(exc)) from exc
        body: dict[str, Any] = {
            "instance": report.instance,
            "lab": report.lab,
            "points": report.points,
            "max_points": report.max_points,
            "passed": report.passed,
            "seconds": round(report.seconds, 2),
            "tasks": [
                {"id": t.id, "passed": t.passed, "points": t.points, "max_points": t.max_points}
                for t in report.tasks
            ],
        }
        self.finish(json.dumps(body))


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, API, "labs"), LabsHandler),
            (url_path_join(base, API, "labs", r"([a-z][a-z0-9-]{0,62})", "check"), CheckHandler),
        ],
    )
    serverapp.log.info("manrs-lab class API at %s", url_path_join(base, API))


load_jupyter_server_extension = _load_jupyter_server_extension
