"""JupyterHub for a manrs-lab workshop on one server: DockerSpawner, one lab container per learner.

Started by `deploy/jupyterhub/start.sh` (`./install.sh --workshop` installs, then runs it).
Everything is set from the environment (defaults in brackets):

  MANRS_HUB_INSTRUCTORS   instructors' user names, comma-separated [instructor]: hub admins and
                          the `instructors` group (the class view, approving sign-ups)
  MANRS_HUB_IP / _PORT    where learners connect [0.0.0.0 / 8000]
  MANRS_HUB_API_PORT      the hub's API, on the learners' Docker network gateway only [8081]
  MANRS_HUB_PROXY_API_PORT  configurable-http-proxy's API, on 127.0.0.1 [8001]
  MANRS_CLASS_PORT        the class view service, on 127.0.0.1 [10101]
  MANRS_HUB_STATE         the hub's database and cookie secret [/var/lib/manrs-lab-hub]
  MANRS_HUB_IMAGE         the learners' image [manrs-lab/lab:$LAB_IMAGE_TAG or :latest]
  MANRS_HUB_MEM / _CPUS / _PIDS   limits per learner container [2G / 1.0 / 2048]
  MANRS_HUB_CULL_TIMEOUT  stop a server idle for this many seconds [3600]
  MANRS_HUB_START_TIMEOUT give up on a learner's server that is not up after this [300]
  MANRS_HUB_NETWORK       the learners' Docker network (created; containers cannot reach each
                          other on it) [manrs-hub]
  MANRS_HUB_PREFIX        learner containers and volumes: <prefix>-<user> [manrs-learner]
  MANRS_HUB_CHP           configurable-http-proxy [.venv/hub-node/node_modules/.bin/...]
  MANRS_CLASS_STUCK_MINUTES  the class view's "stuck": same task failing this long [10]

Each learner: a container of the lab image with NET_ADMIN, NET_RAW, SYS_ADMIN (never
--privileged), no-new-privileges, memory/CPU/pid limits, their own volume on
/home/learner/work, no Docker socket, nothing of the hub's mounted; the container is removed
when the server stops (the volume stays).
"""

# ruff: noqa: F821  (`c` is JupyterHub's config object)
from __future__ import annotations

import os
import sys
from pathlib import Path

import docker.errors

import docker

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
env = os.environ.get


def _names(raw: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise SystemExit("jupyterhub_config: MANRS_HUB_INSTRUCTORS names no instructor")
    return names


INSTRUCTORS = _names(env("MANRS_HUB_INSTRUCTORS", "instructor"))
PUBLIC_IP = env("MANRS_HUB_IP", "0.0.0.0")
PUBLIC_PORT = int(env("MANRS_HUB_PORT", "8000"))
API_PORT = int(env("MANRS_HUB_API_PORT", "8081"))
PROXY_API_PORT = int(env("MANRS_HUB_PROXY_API_PORT", "8001"))
CLASS_PORT = int(env("MANRS_CLASS_PORT", "10101"))
STATE = Path(env("MANRS_HUB_STATE", "/var/lib/manrs-lab-hub"))
IMAGE = env("MANRS_HUB_IMAGE") or f"manrs-lab/lab:{env('LAB_IMAGE_TAG') or 'latest'}"
NETWORK = env("MANRS_HUB_NETWORK", "manrs-hub")
PREFIX = env("MANRS_HUB_PREFIX", "manrs-learner")
CULL_TIMEOUT = int(env("MANRS_HUB_CULL_TIMEOUT", "3600"))
CHP = env("MANRS_HUB_CHP") or str(REPO / ".venv/hub-node/node_modules/.bin/configurable-http-proxy")
WORK = "/home/learner/work"
CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]

STATE.mkdir(parents=True, exist_ok=True, mode=0o700)

# --- the learners' network: containers reach the hub's API on the gateway, not each other ----
_docker = docker.from_env()
try:
    _net = _docker.networks.get(NETWORK)
except docker.errors.NotFound:
    _net = _docker.networks.create(
        NETWORK,
        driver="bridge",
        options={"com.docker.network.bridge.enable_icc": "false"},
        labels={"org.manrs-lab.hub": str(STATE)},
    )
    _net.reload()
if _net.attrs.get("Options", {}).get("com.docker.network.bridge.enable_icc") != "false":
    raise SystemExit(
        f"jupyterhub_config: Docker network {NETWORK} lets containers reach each other "
        "(enable_icc is not false); remove it or set MANRS_HUB_NETWORK to another name"
    )
GATEWAY = _net.attrs["IPAM"]["Config"][0]["Gateway"]
try:
    _docker.images.get(IMAGE)
except docker.errors.ImageNotFound:
    raise SystemExit(
        f"jupyterhub_config: image {IMAGE} not found; build it: docker/build-images.sh --only lab"
    ) from None

# --- the hub and its proxy --------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{PUBLIC_IP}:{PUBLIC_PORT}"
c.JupyterHub.hub_bind_url = f"http://{GATEWAY}:{API_PORT}"
c.JupyterHub.hub_connect_url = f"http://{GATEWAY}:{API_PORT}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [CHP]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.debug = False
# A spawn request returns at once (the page then shows progress): a class logging in together
# does not hold the hub's request handlers for the 10 s default.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

# --- who logs in: NativeAuthenticator (sign up, an instructor approves) ------------------------
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.NativeAuthenticator.open_signup = False  # learners wait for an instructor's approval
c.NativeAuthenticator.minimum_password_length = 8
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 60
c.Authenticator.admin_users = set(INSTRUCTORS)  # their own sign-up needs no approval
c.Authenticator.allow_all = True  # whoever NativeAuthenticator authorized
c.JupyterHub.template_paths = [
    str(Path(__import__("nativeauthenticator").__file__).parent / "templates")
]
c.JupyterHub.load_groups = {"instructors": {"users": INSTRUCTORS}}

# --- each learner's server: a lab container -----------------------------------------------------
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = IMAGE
c.DockerSpawner.pull_policy = "never"  # built locally: docker/build-images.sh --only lab
c.DockerSpawner.network_name = NETWORK
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True  # the container goes when the server stops; the volume stays
c.DockerSpawner.prefix = PREFIX
c.DockerSpawner.name_template = "{prefix}-{username}"
c.DockerSpawner.volumes = {f"{PREFIX}-{{username}}": WORK}
c.DockerSpawner.notebook_dir = WORK
c.DockerSpawner.default_url = "/lab/tree/notebooks"
# The image's entrypoint makes /proc/sys/net writable, clears leftovers, copies the notebooks
# into the volume, then runs this. Labs need root inside the container (network namespaces).
c.DockerSpawner.cmd = ["jupyterhub-singleuser", "--allow-root"]
c.DockerSpawner.extra_host_config = {
    "cap_add": CAPS,
    "privileged": False,
    "security_opt": ["no-new-privileges:true"],
    "pids_limit": int(env("MANRS_HUB_PIDS", "2048")),
}
# The image's own PATH and VIRTUAL_ENV, not the hub's (JupyterHub passes its PATH by default).
c.DockerSpawner.env_keep = []
c.DockerSpawner.environment = {
    "SHELL": "/bin/bash",  # JupyterLab's terminals
    # The class view's verdict history lives in the learner's volume (outlives a culled server).
    "MANRS_LAB_VERDICTS": f"{WORK}/.manrs-lab/verdicts",
}
c.Spawner.mem_limit = env("MANRS_HUB_MEM", "2G")
c.Spawner.cpu_limit = float(env("MANRS_HUB_CPUS", "1.0"))
# A class logging in together starts many servers at once on few cores: be patient.
c.Spawner.start_timeout = int(env("MANRS_HUB_START_TIMEOUT", "300"))
c.Spawner.http_timeout = int(env("MANRS_HUB_START_TIMEOUT", "300"))

# --- services: the idle culler and the instructors' class view ----------------------------------
proxy_host = "127.0.0.1" if PUBLIC_IP in ("0.0.0.0", "", "::") else PUBLIC_IP
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={CULL_TIMEOUT}",
            "--cull-every=60",
        ],
    },
    {
        "name": "class-view",
        "url": f"http://127.0.0.1:{CLASS_PORT}",
        "command": [sys.executable, "-m", "manrs_lab.classroom.service"],
        "environment": {
            "MANRS_CLASS_PROXY_URL": f"http://{proxy_host}:{PUBLIC_PORT}",
            "MANRS_CLASS_GROUP": "instructors",
            "MANRS_CLASS_STUCK_MINUTES": env("MANRS_CLASS_STUCK_MINUTES", "10"),
            "MANRS_CLASS_REFRESH": env("MANRS_CLASS_REFRESH", "5"),
        },
        "oauth_no_confirm": True,
    },
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
    {
        # reads the class through the hub: user list, servers, and each learner's server API
        "name": "class-view",
        "scopes": ["list:users", "read:users", "read:servers", "access:servers"],
        "services": ["class-view"],
    },
    {
        "name": "instructor",
        "scopes": [
            "access:services!service=class-view",
            "admin-ui",
            "list:users",
            "admin:users",
            "admin:servers",
            "access:servers",
        ],
        "groups": ["instructors"],
    },
]
