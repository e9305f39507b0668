"""The instructor's live class view: a JupyterHub service (`python -m manrs_lab.classroom.service`).

Runs beside the hub (a managed service, see deploy/jupyterhub/jupyterhub_config.py). Every few
seconds it lists the hub's users (its own API token: `list:users`, `read:users`,
`read:servers`) and, for each learner whose server is up, reads
`<proxy>/user/<name>/manrs-lab/api/labs` through the hub's proxy with the same token
(`access:servers`): the learner's server answers after JupyterHub's own authentication. It never
touches a container, a volume or the Docker socket.

Pages (under $JUPYTERHUB_SERVICE_PREFIX), all for instructors only: the hub's OAuth identifies
the user (the hub itself refuses users without `access:services!service=<this service>`), then
the user must be a hub admin or in the instructors' group (asked of the hub API, not taken
from the login):
    /            the class table (refreshes itself)      /api/class   the same, JSON
    /class.csv   one row per learner x lab x task         /api/grade   POST {user, instance}
Environment: JUPYTERHUB_* (set by the hub), MANRS_CLASS_PROXY_URL (the hub's public URL as
seen from here, default http://127.0.0.1:8000), MANRS_CLASS_GROUP (default instructors),
MANRS_CLASS_STUCK_MINUTES (default 10), MANRS_CLASS_REFRESH (seconds, default 5).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop

from manrs_lab.classroom.page import PAGE
from manrs_lab.instance import INSTANCE_RE

log = logging.getLogger("manrs-lab.class-view")
USER_RE = re.compile(r"^[^/\s?#]{1,255}$")
FETCH_TIMEOUT = 15.0
CHECK_TIMEOUT = 600.0
ROLE_CACHE_SECONDS = 20.0


@dataclass
class Settings:
    api_url: str
    api_token: str
    proxy_url: str
    group: str = "instructors"
    stuck_minutes: float = 10.0
    refresh: float = 5.0
    concurrency: int = 8

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        missing = [v for v in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN") if not env.get(v)]
        if missing:
            raise SystemExit(f"class-view: {', '.join(missing)} not set (run it as a hub service)")
        return cls(
            api_url=env["JUPYTERHUB_API_URL"].rstrip("/"),
            api_token=env["JUPYTERHUB_API_TOKEN"],
            proxy_url=env.get("MANRS_CLASS_PROXY_URL", "http://127.0.0.1:8000").rstrip("/"),
            group=env.get("MANRS_CLASS_GROUP", "instructors"),
            stuck_minutes=float(env.get("MANRS_CLASS_STUCK_MINUTES", "10")),
            refresh=float(env.get("MANRS_CLASS_REFRESH", "5")),
        )


@dataclass
class Learner:
    name: str
    server: str = "stopped"  # stopped | pending | ready
    server_url: str = ""
    last_activity: str | None = None
    labs: list[dict[str, Any]] = field(default_factory=list)
    fetched_at: float | None = None  # when `labs` was read from the learner's server
    error: str | None = None


class Roster:
    """The class as last read from the hub and the learners' servers."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.http = AsyncHTTPClient()
        self.learners: dict[str, Learner] = {}
        self.refreshed_at: float | None = None
        self._roles: dict[str, tuple[float, bool]] = {}
        self._lock = asyncio.Lock()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.s.api_token}", "Accept": "application/json"}

    async def _get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        req = HTTPRequest(
            url, headers={**self._headers(), **(headers or {})}, request_timeout=FETCH_TIMEOUT
        )
        resp = await self.http.fetch(req)
        return json.loads(resp.body)

    async def hub_users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self._get_json(
                f"{self.s.api_url}/users?offset={offset}&limit=200",
                {"Accept": "application/jupyterhub-pagination+json"},
            )
            if isinstance(page, list):  # a hub without pagination
                return page
            users += page["items"]
            nxt = page.get("_pagination", {}).get("next")
            if not nxt:
                return users
            offset = int(nxt["offset"])

    async def is_instructor(self, name: str) -> bool:
        cached = self._roles.get(name)
        if cached and time.monotonic() - cached[0] < ROLE_CACHE_SECONDS:
            return cached[1]
        try:
            model = await self._get_json(f"{self.s.api_url}/users/{quote(name, safe='')}")
        except HTTPClientError as exc:
            if exc.code == 404:
                return False
            raise
        allowed = bool(model.get("admin")) or self.s.group in (model.get("groups") or [])
        self._roles[name] = (time.monotonic(), allowed)
        return allowed

    def _learner_api(self, learner: Learner, *parts: str) -> str:
        path: str = url_path_join(learner.server_url, "manrs-lab/api", *parts)
        return self.s.proxy_url + path

    async def refresh(self) -> None:
        async with self._lock:
            users = await self.hub_users()
            seen: dict[str, Learner] = {}
            for u in users:
                if u.get("kind", "user") != "user":
                    continue
                if u.get("admin") or self.s.group in (u.get("groups") or []):
                    continue
                name = u["name"]
                learner = self.learners.get(name) or Learner(name)
                server = (u.get("servers") or {}).get("")
                if server and server.get("ready"):
                    learner.server, learner.server_url = "ready", server["url"]
                elif server and server.get("pending"):
                    learner.server, learner.server_url = "pending", server.get("url", "")
                else:
                    learner.server = "stopped"
                learner.last_activity = u.get("last_activity")
                seen[name] = learner
            self.learners = seen
            gate = asyncio.Semaphore(self.s.concurrency)

            async def read(learner: Learner) -> None:
                async with gate:
                    await self.read_learner(learner)

            await asyncio.gather(*(read(x) for x in seen.values() if x.server == "ready"))
            self.refreshed_at = time.time()

    async def read_learner(self, learner: Learner) -> None:
        try:
            doc = await self._get_json(self._learner_api(learner, "labs"))
        except (HTTPClientError, OSError, ValueError) as exc:
            learner.error = f"cannot read the learner's server: {exc}"
            return
        learner.labs = [lab for lab in doc.get("labs", []) if isinstance(lab, dict)]
        learner.fetched_at = time.time()
        learner.error = None

    async def grade(self, name: str, instance: str) -> dict[str, Any]:
        learner = self.learners.get(name)
        if learner is None or learner.server != "ready":
            raise web.HTTPError(409, f"{name} has no running server")
        req = HTTPRequest(
            self._learner_api(learner, "labs", instance, "check"),
            method="POST",
            body=b"{}",
            headers={**self._headers(), "Content-Type": "application/json"},
            request_timeout=CHECK_TIMEOUT,
        )
        try:
            resp = await self.http.fetch(req)
        except HTTPClientError as exc:
            detail = exc.response.body.decode(errors="replace")[:500] if exc.response else ""
            raise web.HTTPError(502 if exc.code >= 500 else exc.code, detail or str(exc)) from exc
        await self.read_learner(learner)
        result: dict[str, Any] = json.loads(resp.body)
        return result

    # -- what the page shows ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        stuck_after = self.s.stuck_minutes * 60
        rows = []
        for learner in sorted(self.learners.values(), key=lambda x: x.name):
            labs = []
            for lab in learner.labs:
                tasks = []
                for t in lab.get("tasks", []):
                    since = t.get("failing_since")
                    stuck = (
                        t.get("verdict") == "fail"
                        and isinstance(since, int | float)
                        and now - since >= stuck_after
                    )
                    tasks.append({**t, "stuck": stuck})
                stuck_ids = [t["id"] for t in tasks if t["stuck"]]
                labs.append({**lab, "tasks": tasks, "stuck": stuck_ids})
            rows.append(
                {
                    "user": learner.name,
                    "server": learner.server,
                    "server_url": learner.server_url or f"/user/{quote(learner.name)}/",
                    "last_activity": learner.last_activity,
                    "fetched_at": learner.fetched_at,
                    "error": learner.error,
                    "labs": labs,
                    "stuck": any(lab["stuck"] for lab in labs),
                }
            )
        return {
            "now": now,
            "refreshed_at": self.refreshed_at,
            "stuck_minutes": self.s.stuck_minutes,
            "learners": rows,
        }

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(
            [
                "learner",
                "server",
                "lab",
                "instance",
                "state",
                "task",
                "verdict",
                "points",
                "max_points",
                "checked_at",
                "failing_since",
                "stuck",
            ]
        )
        for row in self.snapshot()["learners"]:
            if not row["labs"]:
                w.writerow([row["user"], row["server"], "", "", "", "", "", "", "", "", "", ""])
            for lab in row["labs"]:
                for t in lab["tasks"] or [{}]:
                    w.writerow(
                        [
                            row["user"],
                            row["server"],
                            lab.get("lab"),
                            lab.get("instance"),
                            lab.get("state"),
                            t.get("id", ""),
                            t.get("verdict") or "",
                            "" if t.get("points") is None else t["points"],
                            t.get("max_points", ""),
                            _iso(t.get("at")),
                            _iso(t.get("failing_since")),
                            "yes" if t.get("stuck") else "",
                        ]
                    )
        return out.getvalue()


def url_path_join(*parts: str) -> str:
    """Join URL path pieces with single slashes, keeping the first's leading and the last's
    trailing slash (like jupyterhub.utils.url_path_join)."""
    inner = "/".join(p.strip("/") for p in parts if p.strip("/"))
    lead = "/" if parts and parts[0].startswith("/") else ""
    trail = "/" if parts and parts[-1].endswith("/") and inner else ""
    return f"{lead}{inner}{trail}"


def _iso(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class InstructorHandler(HubOAuthenticated, web.RequestHandler):
    """Hub OAuth, then: a hub admin or a member of the instructors' group, or 403."""

    api = False

    @property
    def roster(self) -> Roster:
        roster: Roster = self.settings["roster"]
        return roster

    async def prepare(self) -> None:
        user = self.current_user
        if user is None:
            if self.api:
                raise web.HTTPError(403, "not logged in to the hub (or no valid xsrf token)")
            self.redirect(self.get_login_url())
            return
        if user.get("kind", "user") != "user" or not await self.roster.is_instructor(user["name"]):
            log.warning("class view refused to %s", user.get("name"))
            raise web.HTTPError(403, "the class view is for instructors only")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))


class PageHandler(InstructorHandler):
    def get(self) -> None:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
        page = PAGE.replace("{{prefix}}", json.dumps(prefix))
        page = page.replace("{{xsrf}}", json.dumps(self.xsrf_token.decode()))
        page = page.replace("{{hub}}", json.dumps(os.environ.get("JUPYTERHUB_BASE_URL", "/")))
        self.set_header("Cache-Control", "no-store")
        self.finish(page)


class ClassApiHandler(InstructorHandler):
    api = True

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(self.roster.snapshot()))


class CsvHandler(InstructorHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime())
        self.set_header("Content-Disposition", f'attachment; filename="class-{stamp}.csv"')
        self.finish(self.roster.csv())


class GradeHandler(InstructorHandler):
    api = True

    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            user, instance = str(body["user"]), str(body["instance"])
        except (ValueError, KeyError, TypeError) as exc:
            raise web.HTTPError(400, "expected JSON {user, instance}") from exc
        if not USER_RE.fullmatch(user) or not INSTANCE_RE.fullmatch(instance):
            raise web.HTTPError(400, "bad user or instance name")
        assert self.current_user is not None
        log.info("grade %s/%s requested by %s", user, instance, self.current_user["name"])
        result = await self.roster.grade(user, instance)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result))


def make_app(settings: Settings) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    hub_auth = HubOAuth(api_token=settings.api_token, cache_max_age=60)
    roster = Roster(settings)
    return web.Application(
        [
            (prefix, PageHandler),
            (url_path_join(prefix, "api/class"), ClassApiHandler),
            (url_path_join(prefix, "api/grade"), GradeHandler),
            (url_path_join(prefix, "class.csv"), CsvHandler),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        hub_auth=hub_auth,
        roster=roster,
        cookie_secret=os.urandom(32),
        xsrf_cookies=False,  # HubOAuth checks xsrf itself on cookie-authenticated POSTs
    )


async def _refresh_forever(roster: Roster) -> None:
    while True:
        try:
            await roster.refresh()
        except Exception:
            log.exception("refresh failed; trying again")
        await asyncio.sleep(roster.s.refresh)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[class-view %(levelname)s] %(message)s")
    settings = Settings.from_env()
    app = make_app(settings)
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    app.listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("class view on %s, learners read through %s", url.geturl(), settings.proxy_url)
    loop = IOLoop.current()
    task: Awaitable[None] = _refresh_forever(app.settings["roster"])
    loop.add_callback(lambda: asyncio.ensure_future(task))
    loop.start()


if __name__ == "__main__":
    main()
